/*
 * ttmetal.c - tt-metal's shared-memory rows in the picture (ttmetal.h):
 * which rows count (not covered by the socket, not stale) and what they add
 * to each device, derived lazily when the scan or the registry's processes
 * changed.
 */
#include "server/state/ttmetal.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "server/state/registry.h"

const char *ttmetal_source_name(enum ttmetal_source source)
{
	return source == TTMETAL_SOURCE_SHM ? "tt-metal shm" : "socket";
}

void ttmetal_view_init(struct ttmetal_view *v, int enabled, const char *dir)
{
	memset(v, 0, sizeof(*v));
	v->enabled = enabled;
	snprintf(v->dir, sizeof(v->dir), "%s", dir ? dir : "");
}

void ttmetal_view_release(struct ttmetal_view *v)
{
	free(v->regions);
	free(v->rows);
	free(v->memos);
	free(v->region_memos);
	memset(v, 0, sizeof(*v));
}

/* Recomputes `covered` and the per-device sums when the scan or the registry's processes changed. */
static void derive(struct ttmetal_view *v, const struct registry *r)
{
	if (v->derived && v->derived_scan == v->scans && v->derived_generation == r->process_generation)
		return;
	memset(v->device_used, 0, sizeof(v->device_used));
	memset(v->device_processes, 0, sizeof(v->device_processes));
	for (uint32_t i = 0; i < v->row_count; i++) {
		struct ttmetal_row *row = &v->rows[i];
		row->covered = registry_find_pid(r, row->pid) != REGISTRY_NONE;
		if (row->covered || row->stale)
			continue;
		for (unsigned t = 0; t < TTALLOC_BUFFER_TYPES; t++)
			v->device_used[row->device][t] += row->used[t];
		v->device_processes[row->device]++;
	}
	for (uint32_t i = 0; i < v->region_count; i++) {
		const struct ttmetal_region *reg = &v->regions[i];
		if (reg->status != TTMETAL_SHM_OK || reg->device < 0)
			continue;
		for (unsigned t = 0; t < TTALLOC_BUFFER_TYPES; t++)
			v->device_used[reg->device][t] += reg->unattributed[t];
	}
	v->derived_scan = v->scans;
	v->derived_generation = r->process_generation;
	v->derived = 1;
}

const struct ttmetal_row *ttmetal_rows(struct ttmetal_view *v, const struct registry *r, uint32_t *count)
{
	derive(v, r);
	*count = v->row_count;
	return v->rows;
}

void ttmetal_device_used(struct ttmetal_view *v, const struct registry *r, int device,
			 uint64_t used[TTALLOC_BUFFER_TYPES])
{
	memset(used, 0, sizeof(uint64_t) * TTALLOC_BUFFER_TYPES);
	if (!v->enabled)
		return;
	derive(v, r);
	memcpy(used, v->device_used[device], sizeof(uint64_t) * TTALLOC_BUFFER_TYPES);
}

uint32_t ttmetal_device_processes(struct ttmetal_view *v, const struct registry *r, int device)
{
	if (!v->enabled)
		return 0;
	derive(v, r);
	return v->device_processes[device];
}

int ttmetal_pid_counted(struct ttmetal_view *v, const struct registry *r, pid_t pid, int device)
{
	uint32_t n = 0;
	const struct ttmetal_row *rows = ttmetal_rows(v, r, &n);
	for (uint32_t i = 0; i < n; i++)
		if (rows[i].pid == pid && !rows[i].covered && !rows[i].stale &&
		    (device < 0 || rows[i].device == device))
			return 1;
	return 0;
}
