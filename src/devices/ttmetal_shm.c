/*
 * ttmetal_shm.c - reading tt-metal's shared-memory statistics (see
 * ttmetal_shm.h): checks first, then atomic loads of every field, twice.
 */
#include "devices/ttmetal_shm.h"

#include "common/array.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

static const char *const status_names[TTMETAL_SHM_STATUSES] = {
	[TTMETAL_SHM_OK] = "ok",
	[TTMETAL_SHM_TRUNCATED] = "truncated",
	[TTMETAL_SHM_BAD_VERSION] = "bad_version",
	[TTMETAL_SHM_NOT_READY] = "not_ready",
	[TTMETAL_SHM_UNSTABLE] = "unstable",
	[TTMETAL_SHM_UNREADABLE] = "unreadable",
};

const char *ttmetal_shm_status_name(enum ttmetal_shm_status status)
{
	return (unsigned)status < TTMETAL_SHM_STATUSES ? status_names[status] : "unknown";
}

/* Relaxed loads: each value is whole; the double read makes a snapshot coherent. */
#define LOAD(field) atomic_load_explicit(&(field), memory_order_relaxed)

static uint32_t load_version(const struct ttmetal_shm_region *r)
{
	return atomic_load_explicit(&r->version, memory_order_acquire);
}

/* init_state with acquire: READY publishes every field written before it (v4). */
static uint32_t load_init_state(const struct ttmetal_shm_region *r)
{
	return atomic_load_explicit(&r->init_state, memory_order_acquire);
}

static void load_chip_usage(const struct ttmetal_shm_chip_stats *c, uint64_t used[TTMETAL_SHM_KINDS])
{
	used[TTMETAL_SHM_DRAM] = LOAD(c->dram_allocated);
	used[TTMETAL_SHM_L1] = LOAD(c->l1_allocated);
	used[TTMETAL_SHM_L1_SMALL] = LOAD(c->l1_small_allocated);
	used[TTMETAL_SHM_TRACE] = LOAD(c->trace_allocated);
	used[TTMETAL_SHM_CB] = LOAD(c->cb_allocated);
}

static int usage_empty(const uint64_t used[TTMETAL_SHM_KINDS])
{
	for (int k = 0; k < TTMETAL_SHM_KINDS; k++)
		if (used[k])
			return 0;
	return 1;
}

/*
 * Whether a chip slot is in use. CHIP_STATS_UNUSED (UINT32_MAX) marks an
 * empty slot from v2 on; writers of the first v2 layout still zeroed empty
 * slots, so in a v2 region a later slot with chip 0, not remote and no
 * bytes is taken as empty too (it would add nothing anyway).
 */
static int chip_slot_used(uint32_t version, uint32_t slot, uint32_t chip_id, uint32_t remote,
			  const uint64_t used[TTMETAL_SHM_KINDS])
{
	if (chip_id == TTMETAL_SHM_CHIP_UNUSED)
		return 0;
	if (version == 2 && slot > 0 && chip_id == 0 && !remote && usage_empty(used))
		return 0;
	return 1;
}

/* Printable ASCII or '?': names go to terminals, JSON and Prometheus labels. */
static void copy_name(char *dst, const struct ttmetal_shm_process_stats *p)
{
	uint64_t words[TTMETAL_SHM_NAME_LEN / 8];
	for (size_t i = 0; i < TTMETAL_SHM_NAME_LEN / 8; i++)
		words[i] = LOAD(p->process_name[i]);
	memcpy(dst, words, TTMETAL_SHM_NAME_LEN);
	dst[TTMETAL_SHM_NAME_LEN - 1] = '\0';
	size_t len = strnlen(dst, TTMETAL_SHM_NAME_LEN);
	for (size_t i = 0; i < len; i++)
		if ((unsigned char)dst[i] < 0x20 || (unsigned char)dst[i] > 0x7e)
			dst[i] = '?';
	memset(dst + len, 0, TTMETAL_SHM_NAME_LEN - len);
}

/* One pass over the region into *snap (zeroed first, so two passes compare with memcmp). */
static void take(const struct ttmetal_shm_region *r, uint32_t version, struct ttmetal_shm_snapshot *snap)
{
	memset(snap, 0, sizeof(*snap));
	snap->version = version;
	snap->device_id = LOAD(r->device_id);
	snap->asic_id = LOAD(r->asic_id);
	snap->updated_ns = LOAD(r->last_update_timestamp);
	snap->reference_count = LOAD(r->reference_count);
	snap->totals[TTMETAL_SHM_DRAM] = LOAD(r->total_dram_allocated);
	snap->totals[TTMETAL_SHM_L1] = LOAD(r->total_l1_allocated);
	snap->totals[TTMETAL_SHM_L1_SMALL] = LOAD(r->total_l1_small_allocated);
	snap->totals[TTMETAL_SHM_TRACE] = LOAD(r->total_trace_allocated);
	snap->totals[TTMETAL_SHM_CB] = LOAD(r->total_cb_allocated);
	for (uint32_t i = 0; i < TTMETAL_SHM_MAX_CHIPS; i++) {
		const struct ttmetal_shm_chip_stats *c = &r->chip_stats[i];
		struct ttmetal_shm_chip *out = &snap->chips[snap->chip_count];
		uint32_t chip_id = LOAD(c->chip_id), remote = LOAD(c->is_remote);
		load_chip_usage(c, out->used);
		if (!chip_slot_used(version, i, chip_id, remote, out->used)) {
			memset(out, 0, sizeof(*out));
			continue;
		}
		out->chip_id = chip_id;
		out->slot = i;
		out->remote = remote != 0;
		snap->chip_count++;
	}
	for (uint32_t i = 0; i < TTMETAL_SHM_MAX_PROCESSES; i++) {
		const struct ttmetal_shm_process_stats *p = &r->processes[i];
		int32_t pid = LOAD(p->pid);
		if (pid <= 0)
			continue;
		struct ttmetal_shm_process *out = &snap->processes[snap->process_count++];
		out->pid = pid;
		out->slot = i;
		out->used[TTMETAL_SHM_DRAM] = LOAD(p->dram_allocated);
		out->used[TTMETAL_SHM_L1] = LOAD(p->l1_allocated);
		out->used[TTMETAL_SHM_L1_SMALL] = LOAD(p->l1_small_allocated);
		out->used[TTMETAL_SHM_TRACE] = LOAD(p->trace_allocated);
		out->used[TTMETAL_SHM_CB] = LOAD(p->cb_allocated);
		out->updated_ns = LOAD(p->last_update_timestamp);
		copy_name(out->name, p);
		/* a slot released and claimed by another pid while we read: read again */
		if (LOAD(p->pid) != pid)
			out->pid = -1;
	}
}

/* The version's checks: enough bytes, a known version, READY (v4). */
static enum ttmetal_shm_status check(const struct ttmetal_shm_region *r, size_t len, uint32_t *version)
{
	if (len < sizeof(uint32_t))
		return TTMETAL_SHM_TRUNCATED;
	*version = load_version(r);
	if (*version < TTMETAL_SHM_VERSION_MIN || *version > TTMETAL_SHM_VERSION_MAX)
		return TTMETAL_SHM_BAD_VERSION;
	if (len < (*version >= 4 ? TTMETAL_SHM_SIZE_V4 : TTMETAL_SHM_SIZE_V3))
		return TTMETAL_SHM_TRUNCATED;
	if (*version >= 4 && load_init_state(r) != TTMETAL_SHM_INIT_READY)
		return TTMETAL_SHM_NOT_READY;
	return TTMETAL_SHM_OK;
}

enum ttmetal_shm_status ttmetal_shm_read(const void *base, size_t len, struct ttmetal_shm_snapshot *snap)
{
	const struct ttmetal_shm_region *r = base;
	struct ttmetal_shm_snapshot other;
	uint32_t version = 0;
	enum ttmetal_shm_status status = check(r, len, &version);
	if (status != TTMETAL_SHM_OK)
		return status;
	take(r, version, snap);
	for (int attempt = 1; attempt < TTMETAL_SHM_READ_ATTEMPTS; attempt++) {
		uint32_t again = 0;
		status = check(r, len, &again);
		if (status != TTMETAL_SHM_OK || again != version)
			return TTMETAL_SHM_UNSTABLE;
		take(r, version, &other);
		int same = memcmp(snap, &other, sizeof(other)) == 0;
		*snap = other;
		snap->attempts = attempt + 1;
		if (same) {
			snap->settled = 1;
			break;
		}
	}
	/* a slot that changed hands during the last pass is left out */
	uint32_t kept = 0;
	for (uint32_t i = 0; i < snap->process_count; i++)
		if (snap->processes[i].pid > 0)
			snap->processes[kept++] = snap->processes[i];
	snap->process_count = kept;
	return TTMETAL_SHM_OK;
}

enum ttmetal_shm_status ttmetal_shm_read_file(const char *path, struct ttmetal_shm_snapshot *snap, char *why,
					      size_t why_size)
{
	int fd = open(path, O_RDONLY | O_CLOEXEC | O_NOCTTY | O_NONBLOCK);
	if (fd < 0) {
		snprintf(why, why_size, "cannot open it: %s", strerror(errno));
		return TTMETAL_SHM_UNREADABLE;
	}
	struct stat st;
	if (fstat(fd, &st) < 0 || !S_ISREG(st.st_mode)) {
		snprintf(why, why_size, "not a regular file");
		close(fd);
		return TTMETAL_SHM_UNREADABLE;
	}
	size_t len = (size_t)st.st_size;
	if (len > sizeof(struct ttmetal_shm_region))
		len = sizeof(struct ttmetal_shm_region);
	if (len < sizeof(uint32_t)) {
		snprintf(why, why_size, "%zu bytes; a region is %zu", len, sizeof(struct ttmetal_shm_region));
		close(fd);
		return TTMETAL_SHM_TRUNCATED;
	}
	void *map = mmap(NULL, len, PROT_READ, MAP_SHARED, fd, 0);
	int map_errno = errno;
	close(fd);
	if (map == MAP_FAILED) {
		snprintf(why, why_size, "cannot map it: %s", strerror(map_errno));
		return TTMETAL_SHM_UNREADABLE;
	}
	enum ttmetal_shm_status status = ttmetal_shm_read(map, len, snap);
	uint32_t version = atomic_load_explicit(&((const struct ttmetal_shm_region *)map)->version,
						memory_order_relaxed);
	switch (status) {
	case TTMETAL_SHM_OK:
		why[0] = '\0';
		break;
	case TTMETAL_SHM_TRUNCATED:
		snprintf(why, why_size, "%zu bytes; a version %u region needs %zu", len, version,
			 version >= 4 ? TTMETAL_SHM_SIZE_V4 : TTMETAL_SHM_SIZE_V3);
		break;
	case TTMETAL_SHM_BAD_VERSION:
		snprintf(why, why_size, "version %u; this ttalloc reads versions %d..%d%s", version,
			 TTMETAL_SHM_VERSION_MIN, TTMETAL_SHM_VERSION_MAX, version == 0 ? " (never initialised)" : "");
		break;
	case TTMETAL_SHM_NOT_READY:
		snprintf(why, why_size, "version %u, not initialised yet (init_state 0x%08x, not 'REDY')", version,
			 version >= 4 && len >= TTMETAL_SHM_SIZE_V4
				 ? atomic_load_explicit(&((const struct ttmetal_shm_region *)map)->init_state,
							memory_order_relaxed)
				 : 0u);
		break;
	default:
		snprintf(why, why_size, "re-initialised while being read");
		break;
	}
	munmap(map, len);
	return status;
}

int ttmetal_shm_parse_name(const char *name, uint64_t *chip_unique_id)
{
	size_t prefix = strlen(TTMETAL_SHM_PREFIX), suffix = strlen(TTMETAL_SHM_SUFFIX);
	size_t len = strlen(name);
	if (len <= prefix + suffix || strncmp(name, TTMETAL_SHM_PREFIX, prefix) != 0 ||
	    strcmp(name + len - suffix, TTMETAL_SHM_SUFFIX) != 0)
		return 0;
	uint64_t id = 0;
	for (size_t i = prefix; i < len - suffix; i++) {
		if (name[i] < '0' || name[i] > '9')
			return 0;
		unsigned digit = (unsigned)(name[i] - '0');
		if (id > (UINT64_MAX - digit) / 10)
			return 0;
		id = id * 10 + digit;
	}
	*chip_unique_id = id;
	return 1;
}

static int compare_names(const void *a, const void *b)
{
	return strcmp(*(const char *const *)a, *(const char *const *)b);
}

char **ttmetal_shm_region_names(const char *path)
{
	DIR *dir = opendir(path);
	if (!dir)
		return NULL;
	size_t count = 0, cap = 0;
	char **names = NULL;
	struct dirent *e;
	uint64_t id;
	while ((e = readdir(dir)) != NULL) {
		if (!ttmetal_shm_parse_name(e->d_name, &id))
			continue;
		if (ARRAY_RESERVE(names, cap, count + 2) < 0) /* and the NULL */
			break;
		if ((names[count] = strdup(e->d_name)) != NULL)
			count++;
	}
	int saved = errno;
	closedir(dir);
	if (!names && !(names = calloc(1, sizeof(*names)))) /* none: an empty list, not a failure */
		return NULL;
	names[count] = NULL;
	qsort(names, count, sizeof(*names), compare_names);
	errno = saved;
	return names;
}

void ttmetal_shm_free_names(char **names)
{
	for (size_t i = 0; names && names[i]; i++)
		free(names[i]);
	free(names);
}
