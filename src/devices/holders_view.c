/*
 * holders_view.c - the kernel's holders of each device, scanned once and
 * compared with the reporting processes on demand (see holders_view.h).
 */
#include "devices/holders_view.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "devices/hwfs.h"

int holders_view_available(const struct device *dev)
{
	return dev->info.node[0] != '\0' || dev->backend->holders != NULL;
}

void holders_read_identity(const struct device_set *set, int32_t pid, struct holder_identity *id)
{
	char path[DEVICE_PATH_MAX], line[256];
	memset(id, 0, sizeof(*id));
	if (hwfs_join(path, sizeof(path), "%s/proc/%d/comm", set->hw_root, (int)pid)) {
		FILE *f = fopen(path, "re");
		if (f) {
			if (fgets(line, sizeof(line), f)) {
				line[strcspn(line, "\n")] = '\0';
				snprintf(id->comm, sizeof(id->comm), "%s", line);
			}
			fclose(f);
		}
	}
	if (hwfs_join(path, sizeof(path), "%s/proc/%d/status", set->hw_root, (int)pid)) {
		FILE *f = fopen(path, "re");
		if (!f)
			return;
		while (fgets(line, sizeof(line), f)) {
			unsigned long uid;
			if (sscanf(line, "Uid: %lu", &uid) == 1) {
				id->uid = (uint32_t)uid;
				id->uid_known = 1;
				break;
			}
		}
		fclose(f);
	}
}

static uint64_t clock_now(clockid_t clock)
{
	struct timespec ts;
	clock_gettime(clock, &ts);
	return (uint64_t)ts.tv_sec * 1000000000ull + (uint64_t)ts.tv_nsec;
}

int holders_view_scan(struct holders_view *v, const struct device_set *set)
{
	uint64_t available = 0;
	for (int d = 0; d < set->count; d++)
		if (holders_view_available(&set->devices[d]))
			available |= 1ull << d;
	if (available && (!v->kernel || v->num_devices != set->count)) {
		struct device_holders *kernel = calloc((size_t)set->count, sizeof(*kernel));
		struct holder_identity(*ids)[DEVICE_MAX_PROCESSES] = calloc((size_t)set->count, sizeof(*ids));
		if (!kernel || !ids) {
			free(kernel);
			free(ids);
			return TTALLOC_ENOMEM;
		}
		holders_view_release(v);
		v->kernel = kernel;
		v->ids = ids;
	}
	v->num_devices = set->count;
	v->available = available;
	v->scanned = 1;
	v->scanned_ns = clock_now(CLOCK_REALTIME);
	v->scanned_mono_ns = clock_now(CLOCK_MONOTONIC);
	if (!available)
		return 0;
	device_set_holders(set, v->kernel);
	for (int d = 0; d < set->count; d++) {
		const struct device_holders *h = &v->kernel[d];
		for (int i = 0; i < h->count; i++) {
			/* a pid holding several devices is read once */
			const struct holder_identity *seen = NULL;
			for (int e = 0; e < d && !seen; e++) {
				const struct device_process *p = device_holders_find(&v->kernel[e], h->procs[i].pid);
				if (p)
					seen = &v->ids[e][p - v->kernel[e].procs];
			}
			if (seen)
				v->ids[d][i] = *seen;
			else
				holders_read_identity(set, h->procs[i].pid, &v->ids[d][i]);
		}
	}
	return 0;
}

void holders_view_release(struct holders_view *v)
{
	free(v->kernel);
	free(v->ids);
	memset(v, 0, sizeof(*v));
}

int holders_view_rows(const struct holders_view *v, int device, const int32_t *tracked, int tracked_count,
		      int32_t own_pid, struct holder_entry *rows, int max)
{
	if (max <= 0)
		return 0;
	int view = v->kernel && device >= 0 && device < v->num_devices && ((v->available >> device) & 1u);
	const struct device_holders *kernel = view ? &v->kernel[device] : NULL;
	struct device_holder_row *compared = calloc((size_t)max, sizeof(*compared));
	if (!compared)
		return 0;
	int n = device_holders_compare(kernel, tracked, tracked_count, own_pid, compared, max);
	for (int i = 0; i < n; i++) {
		struct holder_entry *row = &rows[i];
		memset(row, 0, sizeof(*row));
		row->pid = compared[i].pid;
		row->device = device;
		row->state = compared[i].state;
		row->flags = compared[i].flags;
		row->memory = compared[i].memory;
		const struct device_process *k = kernel ? device_holders_find(kernel, row->pid) : NULL;
		if (k)
			row->id = v->ids[device][k - kernel->procs];
	}
	free(compared);
	return n;
}
