/*
 * ttmetal_shm_writer.c - lays down a tt-metal shared-memory statistics
 * region (/dev/shm/tt_device_<chip_unique_id>_memory) for the tests, the
 * way tt-metal's SharedMemoryStatsProvider does, and optionally keeps
 * updating it from a writer thread while the server reads it.
 *
 * The layout is transcribed here on its own from struct DeviceMemoryRegion
 * in tenstorrent/tt-metal tt_metal/impl/memory_tracking/memory_stats_shm.hpp
 * (plain fields with the C++ types; the writer uses __atomic builtins where
 * tt-metal uses std::atomic), so the server's reader (src/devices/
 * ttmetal_shm.h) is checked against an independent copy, not against itself.
 *
 * Usage: ttmetal_shm_writer PATH [--version N] [--device D] [--asic ID]
 *            [--init-state X] [--truncate BYTES]
 *            [--process PID:NAME:DRAM:L1:L1_SMALL:TRACE:CB]...
 *            [--chip ID:REMOTE:DRAM:L1:L1_SMALL:TRACE:CB]... [--churn]
 * --process fills the next process slot and adds to the totals and to the
 * gateway chip's slot; --chip fills the next chip slot (slot 0 is the
 * region's own chip). --churn: prints "ready", then a thread flips process
 * slot 0's DRAM between two values whose 32-bit halves differ (a torn read
 * would show a mixture) and moves 1 MiB between its L1 and L1_SMALL, until
 * a line arrives on stdin; then prints "final dram=... l1=... l1_small=...
 * rounds=...".
 */
#define _GNU_SOURCE
#include <fcntl.h>
#include <pthread.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

#define MAX_PROCESSES 64
#define MAX_CHIPS_PER_DEVICE 16
#define CHIP_STATS_UNUSED UINT32_MAX
#define SHM_INIT_READY 0x52454459u
#define CHURN_DRAM_A 0x0000000100000000ull
#define CHURN_DRAM_B 0x00000000ffffffffull
#define MiB (1024ull * 1024ull)

struct ChipStats {
	uint32_t chip_id;
	uint32_t is_remote;
	uint64_t dram_allocated;
	uint64_t l1_allocated;
	uint64_t l1_small_allocated;
	uint64_t trace_allocated;
	uint64_t cb_allocated;
};

struct ProcessStats {
	int32_t pid;
	uint64_t dram_allocated;
	uint64_t l1_allocated;
	uint64_t l1_small_allocated;
	uint64_t trace_allocated;
	uint64_t cb_allocated;
	uint64_t last_update_timestamp;
	char process_name[64];
};

struct DeviceMemoryRegion {
	uint32_t version;
	uint32_t num_active_processes;
	uint64_t last_update_timestamp;
	uint32_t reference_count;
	uint64_t board_serial;
	uint64_t asic_id;
	uint32_t device_id;
	uint64_t total_dram_allocated;
	uint64_t total_l1_allocated;
	uint64_t total_l1_small_allocated;
	uint64_t total_trace_allocated;
	uint64_t total_cb_allocated;
	struct ChipStats chip_stats[MAX_CHIPS_PER_DEVICE];
	struct ProcessStats processes[MAX_PROCESSES];
	uint32_t init_state; /* v4 */
} __attribute__((aligned(64)));

_Static_assert(sizeof(struct DeviceMemoryRegion) == 8576, "sizeof(DeviceMemoryRegion)");
_Static_assert(offsetof(struct DeviceMemoryRegion, processes) == 856, "processes");
_Static_assert(offsetof(struct DeviceMemoryRegion, init_state) == 8536, "init_state");

#define STORE(field, value) __atomic_store_n(&(field), (value), __ATOMIC_RELAXED)
#define ADD(field, value) __atomic_fetch_add(&(field), (value), __ATOMIC_RELAXED)
#define SUB(field, value) __atomic_fetch_sub(&(field), (value), __ATOMIC_RELAXED)

static uint64_t parse_u64(const char *text)
{
	char *end;
	uint64_t v = strtoull(text, &end, 0);
	if (*end) {
		fprintf(stderr, "ttmetal_shm_writer: bad number '%s'\n", text);
		exit(2);
	}
	return v;
}

/* Splits "a:b:c" into at most `max` fields (in place). Returns the count. */
static int split(char *text, char **fields, int max)
{
	int n = 0;
	for (char *p = strtok(text, ":"); p && n < max; p = strtok(NULL, ":"))
		fields[n++] = p;
	return n;
}

static struct DeviceMemoryRegion *region;
static int stop_churn;
static uint64_t rounds;

static void *churn(void *arg)
{
	(void)arg;
	struct ProcessStats *p = &region->processes[0];
	while (!__atomic_load_n(&stop_churn, __ATOMIC_RELAXED)) {
		uint64_t n = ++rounds;
		uint64_t dram = n & 1 ? CHURN_DRAM_A : CHURN_DRAM_B;
		/* record_allocation's order: totals, chip, then the process slot */
		STORE(region->total_dram_allocated, dram);
		STORE(region->chip_stats[0].dram_allocated, dram);
		STORE(p->dram_allocated, dram);
		if (n & 2) {
			SUB(p->l1_allocated, MiB);
			ADD(p->l1_small_allocated, MiB);
		} else {
			SUB(p->l1_small_allocated, MiB);
			ADD(p->l1_allocated, MiB);
		}
		STORE(p->last_update_timestamp, n);
		STORE(region->last_update_timestamp, n);
		if ((n & 1023) == 0)
			usleep(100);
	}
	return NULL;
}

int main(int argc, char **argv)
{
	if (argc < 2) {
		fprintf(stderr, "usage: ttmetal_shm_writer PATH [options]\n");
		return 2;
	}
	const char *path = argv[1];
	uint32_t version = 4, device = 0, init_state = SHM_INIT_READY;
	uint64_t asic = 0, truncate_to = 0;
	int do_churn = 0, processes = 0, chips = 1;
	static struct DeviceMemoryRegion r; /* built here, then written out */
	memset(&r, 0, sizeof(r));
	for (int i = 0; i < MAX_CHIPS_PER_DEVICE; i++)
		r.chip_stats[i].chip_id = CHIP_STATS_UNUSED;
	for (int i = 2; i < argc; i++) {
		const char *opt = argv[i];
		const char *val = i + 1 < argc ? argv[i + 1] : "";
		if (!strcmp(opt, "--version"))
			version = (uint32_t)parse_u64(val), i++;
		else if (!strcmp(opt, "--device"))
			device = (uint32_t)parse_u64(val), i++;
		else if (!strcmp(opt, "--asic"))
			asic = parse_u64(val), i++;
		else if (!strcmp(opt, "--init-state"))
			init_state = (uint32_t)parse_u64(val), i++;
		else if (!strcmp(opt, "--truncate"))
			truncate_to = parse_u64(val), i++;
		else if (!strcmp(opt, "--churn"))
			do_churn = 1;
		else if (!strcmp(opt, "--process") && processes < MAX_PROCESSES) {
			char copy[256], *f[7];
			snprintf(copy, sizeof(copy), "%s", val);
			if (split(copy, f, 7) != 7) {
				fprintf(stderr, "ttmetal_shm_writer: --process PID:NAME:DRAM:L1:L1_SMALL:TRACE:CB\n");
				return 2;
			}
			struct ProcessStats *p = &r.processes[processes++];
			p->pid = (int32_t)strtol(f[0], NULL, 10);
			snprintf(p->process_name, sizeof(p->process_name), "%s", f[1]);
			p->dram_allocated = parse_u64(f[2]);
			p->l1_allocated = parse_u64(f[3]);
			p->l1_small_allocated = parse_u64(f[4]);
			p->trace_allocated = parse_u64(f[5]);
			p->cb_allocated = parse_u64(f[6]);
			p->last_update_timestamp = 1700000000000000000ull;
			r.total_dram_allocated += p->dram_allocated;
			r.total_l1_allocated += p->l1_allocated;
			r.total_l1_small_allocated += p->l1_small_allocated;
			r.total_trace_allocated += p->trace_allocated;
			r.total_cb_allocated += p->cb_allocated;
			r.chip_stats[0].dram_allocated += p->dram_allocated;
			r.chip_stats[0].l1_allocated += p->l1_allocated;
			r.chip_stats[0].l1_small_allocated += p->l1_small_allocated;
			r.chip_stats[0].trace_allocated += p->trace_allocated;
			r.chip_stats[0].cb_allocated += p->cb_allocated;
			r.num_active_processes++;
			r.reference_count++;
			i++;
		} else if (!strcmp(opt, "--chip") && chips < MAX_CHIPS_PER_DEVICE) {
			char copy[256], *f[7];
			snprintf(copy, sizeof(copy), "%s", val);
			if (split(copy, f, 7) != 7) {
				fprintf(stderr, "ttmetal_shm_writer: --chip ID:REMOTE:DRAM:L1:L1_SMALL:TRACE:CB\n");
				return 2;
			}
			struct ChipStats *c = &r.chip_stats[chips++];
			c->chip_id = (uint32_t)parse_u64(f[0]);
			c->is_remote = (uint32_t)parse_u64(f[1]);
			c->dram_allocated = parse_u64(f[2]);
			c->l1_allocated = parse_u64(f[3]);
			c->l1_small_allocated = parse_u64(f[4]);
			c->trace_allocated = parse_u64(f[5]);
			c->cb_allocated = parse_u64(f[6]);
			i++;
		} else {
			fprintf(stderr, "ttmetal_shm_writer: unknown option '%s'\n", opt);
			return 2;
		}
	}
	r.version = version;
	r.asic_id = asic;
	r.device_id = device;
	r.chip_stats[0].chip_id = device;
	r.last_update_timestamp = 1700000000000000000ull;

	int fd = open(path, O_RDWR | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
	if (fd < 0) {
		perror(path);
		return 1;
	}
	size_t size = truncate_to ? (size_t)truncate_to : sizeof(r);
	if (ftruncate(fd, (off_t)size) < 0) {
		perror("ftruncate");
		return 1;
	}
	if (truncate_to) {
		/* a file cut short: what the layout needs is not all there */
		if (write(fd, &r, size < sizeof(r) ? size : sizeof(r)) < 0) {
			perror("write");
			return 1;
		}
		close(fd);
		return 0;
	}
	region = mmap(NULL, sizeof(r), PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
	close(fd);
	if (region == MAP_FAILED) {
		perror("mmap");
		return 1;
	}
	/* initialize_region, then publish READY last (v4) */
	uint32_t state = init_state;
	r.init_state = 0;
	memcpy(region, &r, sizeof(r));
	if (version >= 4)
		__atomic_store_n(&region->init_state, state, __ATOMIC_RELEASE);
	if (!do_churn)
		return 0;

	pthread_t t;
	if (pthread_create(&t, NULL, churn, NULL) != 0)
		return 1;
	printf("ready\n");
	fflush(stdout);
	char line[64];
	if (!fgets(line, sizeof(line), stdin)) {
		/* stdin closed: stop too */
	}
	__atomic_store_n(&stop_churn, 1, __ATOMIC_RELAXED);
	pthread_join(t, NULL);
	printf("final dram=%llu l1=%llu l1_small=%llu rounds=%llu\n",
	       (unsigned long long)region->processes[0].dram_allocated,
	       (unsigned long long)region->processes[0].l1_allocated,
	       (unsigned long long)region->processes[0].l1_small_allocated, (unsigned long long)rounds);
	fflush(stdout);
	munmap(region, sizeof(r));
	return 0;
}
