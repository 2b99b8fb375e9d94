/*
 * ttmetal_scan.c - reading tt-metal's shared-memory regions into the
 * state's view (state/ttmetal.h): a scan per second from the server's
 * timer, rows per process slot, stale slots counted as leaks once, one log
 * line per change of a region's state.
 */
#define _GNU_SOURCE
#include "server/ingest/ttmetal_scan.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/array.h"
#include "common/clock.h"
#include "common/format.h"
#include "common/log.h"
#include "common/proc_info.h"
#include "server/state/picture.h"

/* The region's kinds, as buffer types. */
static const unsigned kind_type[TTMETAL_SHM_KINDS] = {
	[TTMETAL_SHM_DRAM] = TTALLOC_DRAM,   [TTMETAL_SHM_L1] = TTALLOC_L1, [TTMETAL_SHM_L1_SMALL] = TTALLOC_L1_SMALL,
	[TTMETAL_SHM_TRACE] = TTALLOC_TRACE, [TTMETAL_SHM_CB] = TTALLOC_CB,
};

static void to_types(const uint64_t kinds[TTMETAL_SHM_KINDS], uint64_t used[TTALLOC_BUFFER_TYPES])
{
	memset(used, 0, sizeof(uint64_t) * TTALLOC_BUFFER_TYPES);
	for (int k = 0; k < TTMETAL_SHM_KINDS; k++)
		used[kind_type[k]] = kinds[k];
}

/* ---- memory across scans ---- */

static struct ttmetal_memo *memo_for(struct ttmetal_view *v, const char *region, pid_t pid)
{
	for (uint32_t i = 0; i < v->memo_count; i++)
		if (v->memos[i].pid == pid && strcmp(v->memos[i].region, region) == 0)
			return &v->memos[i];
	if (ARRAY_RESERVE(v->memos, v->memo_cap, (size_t)v->memo_count + 1) < 0)
		return NULL;
	struct ttmetal_memo *m = &v->memos[v->memo_count++];
	memset(m, 0, sizeof(*m));
	snprintf(m->region, sizeof(m->region), "%s", region);
	m->pid = pid;
	return m;
}

/* Keeps only the memos the last scan saw (slots reaped by tt-metal are forgotten). */
static void prune_memos(struct ttmetal_view *v)
{
	uint32_t kept = 0;
	for (uint32_t i = 0; i < v->memo_count; i++)
		if (v->memos[i].scan == v->scans)
			v->memos[kept++] = v->memos[i];
	v->memo_count = kept;
	kept = 0;
	for (uint32_t i = 0; i < v->region_memo_count; i++)
		if (v->region_memos[i].scan == v->scans)
			v->region_memos[kept++] = v->region_memos[i];
		else
			log_info("📎 tt-metal shm: %s is gone", v->region_memos[i].name);
	v->region_memo_count = kept;
}

/* Logs a region's state when it differs from the last scan's: refusals as warnings. */
static void note_region_state(struct state *st, const struct ttmetal_region *reg, int state)
{
	struct ttmetal_view *v = &st->shm;
	struct ttmetal_region_memo *m = NULL;
	for (uint32_t i = 0; i < v->region_memo_count; i++)
		if (strcmp(v->region_memos[i].name, reg->name) == 0)
			m = &v->region_memos[i];
	int changed = !m || m->state != state;
	if (!m && ARRAY_RESERVE(v->region_memos, v->region_memo_cap, (size_t)v->region_memo_count + 1) == 0) {
		m = &v->region_memos[v->region_memo_count++];
		memset(m, 0, sizeof(*m));
		snprintf(m->name, sizeof(m->name), "%s", reg->name);
	}
	if (m) {
		m->state = state;
		m->scan = v->scans;
	}
	if (!changed)
		return;
	if (state == TTMETAL_SHM_OK)
		log_info("📎 tt-metal shm: %s/%s: version %u, device %d, %u process slot%s in use", v->dir, reg->name,
			 reg->version, reg->device, reg->processes, reg->processes == 1 ? "" : "s");
	else if (state < 0)
		log_warn("⚠️  tt-metal shm: %s/%s is for device %s; this server has devices 0..%d: ignored", v->dir,
			 reg->name, reg->why, st->devices.count - 1);
	else
		log_warn("⚠️  tt-metal shm: %s/%s: %s: %s; no numbers taken from it", v->dir, reg->name,
			 ttmetal_shm_status_name((enum ttmetal_shm_status)state), reg->why);
}

/* ---- leaks: a stale slot is counted once ---- */

static void count_stale_leak(struct state *st, const struct ttmetal_row *row, const struct ttmetal_region *reg)
{
	struct leak_report rep;
	memset(&rep, 0, sizeof(rep));
	rep.pid = row->pid;
	rep.uid = PROTO_UID_UNKNOWN;
	snprintf(rep.comm, sizeof(rep.comm), "%.15s", row->name);
	rep.exit_ns = clock_realtime_ns();
	rep.source = TTMETAL_SOURCE_SHM;
	rep.bytes = picture_device_bytes(row->used);
	rep.device_bytes[row->device] = rep.bytes;
	char dram[FORMAT_BYTES_LEN], l1[FORMAT_BYTES_LEN];
	format_bytes_compact(dram, sizeof(dram), row->used[TTALLOC_DRAM] + row->used[TTALLOC_TRACE], 1);
	format_bytes_compact(l1, sizeof(l1),
			     row->used[TTALLOC_L1] + row->used[TTALLOC_L1_SMALL] + row->used[TTALLOC_CB], 1);
	log_warn("⚠️  Process %d (%s) is gone, but tt-metal's shared memory still counts DRAM=%s, L1=%s for it "
		 "on device %d (slot %u of %s/%s, not released: killed?); counted as leaked",
		 (int)row->pid, row->name[0] ? row->name : "?", dram, l1, row->device, row->slot, st->shm.dir,
		 reg->name);
	leak_history_add(&st->leaks, &rep);
	st->shm.stale_leaks++;
}

/* ---- one scan ---- */

static struct ttmetal_region *add_region(struct ttmetal_view *v)
{
	if (ARRAY_RESERVE(v->regions, v->region_cap, (size_t)v->region_count + 1) < 0)
		return NULL;
	struct ttmetal_region *reg = &v->regions[v->region_count++];
	memset(reg, 0, sizeof(*reg));
	reg->device = -1;
	return reg;
}

/* Rows of one readable region whose device is ours. */
static void add_rows(struct state *st, uint32_t region, const struct ttmetal_shm_snapshot *snap)
{
	struct ttmetal_view *v = &st->shm;
	struct ttmetal_region *reg = &v->regions[region];
	uint64_t slots[TTMETAL_SHM_KINDS] = {0};
	for (uint32_t i = 0; i < snap->process_count; i++) {
		const struct ttmetal_shm_process *p = &snap->processes[i];
		for (int k = 0; k < TTMETAL_SHM_KINDS; k++)
			slots[k] += p->used[k];
		if (ARRAY_RESERVE(v->rows, v->row_cap, (size_t)v->row_count + 1) < 0)
			break;
		struct ttmetal_row *row = &v->rows[v->row_count++];
		memset(row, 0, sizeof(*row));
		row->pid = p->pid;
		row->device = reg->device;
		row->region = region;
		row->slot = p->slot;
		to_types(p->used, row->used);
		row->updated_ns = p->updated_ns;
		row->stale = !proc_alive(p->pid);
		row->uid = PROTO_UID_UNKNOWN;
		if (!row->stale && proc_read_uid(p->pid, &row->uid) < 0)
			row->uid = PROTO_UID_UNKNOWN;
		snprintf(row->name, sizeof(row->name), "%s", p->name);
		if (!row->name[0] && !row->stale)
			proc_read_comm(p->pid, row->name, sizeof(row->name));
	}
	reg->processes = snap->process_count;
	if (snap->process_count == 0) {
		/* per-process tracking off in every writer: the totals are all there is */
		uint64_t rest[TTMETAL_SHM_KINDS];
		for (int k = 0; k < TTMETAL_SHM_KINDS; k++)
			rest[k] = snap->totals[k] > slots[k] ? snap->totals[k] - slots[k] : 0;
		to_types(rest, reg->unattributed);
	}
}

/* Reads one region file into a new region (and its rows). */
static void scan_region(struct state *st, const char *name, uint64_t chip_unique_id)
{
	struct ttmetal_view *v = &st->shm;
	uint32_t index = v->region_count;
	struct ttmetal_region *reg = add_region(v);
	if (!reg)
		return;
	snprintf(reg->name, sizeof(reg->name), "%s", name);
	reg->chip_unique_id = chip_unique_id;
	char path[DEVICE_PATH_MAX + 80];
	snprintf(path, sizeof(path), "%s/%s", v->dir, name);
	static struct ttmetal_shm_snapshot snap; /* 9 KiB: loop thread only */
	reg->status = ttmetal_shm_read_file(path, &snap, reg->why, sizeof(reg->why));
	if (reg->status != TTMETAL_SHM_OK) {
		note_region_state(st, reg, (int)reg->status);
		return;
	}
	reg->version = snap.version;
	to_types(snap.totals, reg->totals);
	reg->chip_count = snap.chip_count;
	memcpy(reg->chips, snap.chips, sizeof(reg->chips));
	if (snap.device_id >= (uint32_t)st->devices.count) {
		snprintf(reg->why, sizeof(reg->why), "%u", snap.device_id);
		reg->processes = snap.process_count;
		note_region_state(st, reg, -1);
		return;
	}
	reg->device = (int)snap.device_id;
	add_rows(st, index, &snap);
	note_region_state(st, reg, TTMETAL_SHM_OK);
}

/* Stale rows not counted yet are leaks; covered pids are remembered (their leak came from the socket). */
static void account_rows(struct state *st)
{
	struct ttmetal_view *v = &st->shm;
	for (uint32_t i = 0; i < v->row_count; i++) {
		struct ttmetal_row *row = &v->rows[i];
		const struct ttmetal_region *reg = &v->regions[row->region];
		struct ttmetal_memo *m = memo_for(v, reg->name, row->pid);
		if (!m)
			continue;
		m->scan = v->scans;
		if (registry_find_pid(&st->registry, row->pid) != REGISTRY_NONE)
			m->covered_ever = 1;
		if (row->stale && !m->leak_counted) {
			m->leak_counted = 1;
			if (!m->covered_ever && picture_device_bytes(row->used))
				count_stale_leak(st, row, reg);
		}
	}
}

/* A digest of what the scan found, to tell /api/events only about changes. */
static uint64_t digest(const struct ttmetal_view *v)
{
	uint64_t h = 1469598103934665603ull;
#define MIX(x) (h = (h ^ (uint64_t)(x)) * 1099511628211ull)
	for (uint32_t i = 0; i < v->region_count; i++) {
		MIX(v->regions[i].status);
		MIX(v->regions[i].device);
		for (unsigned t = 0; t < TTALLOC_BUFFER_TYPES; t++)
			MIX(v->regions[i].unattributed[t]);
	}
	for (uint32_t i = 0; i < v->row_count; i++) {
		MIX(v->rows[i].pid);
		MIX(v->rows[i].device);
		MIX(v->rows[i].stale);
		for (unsigned t = 0; t < TTALLOC_BUFFER_TYPES; t++)
			MIX(v->rows[i].used[t]);
	}
#undef MIX
	return h;
}

void ttmetal_scan(struct state *st)
{
	struct ttmetal_view *v = &st->shm;
	if (!v->enabled)
		return;
	uint64_t before = digest(v);
	v->scans++;
	v->scanned_ns = clock_realtime_ns();
	v->region_count = 0;
	v->row_count = 0;
	char **names = ttmetal_shm_region_names(v->dir);
	for (size_t i = 0; names && names[i]; i++) {
		uint64_t id = 0;
		ttmetal_shm_parse_name(names[i], &id);
		scan_region(st, names[i], id);
	}
	ttmetal_shm_free_names(names);
	account_rows(st);
	prune_memos(v);
	v->derived = 0;
	if (digest(v) != before)
		st->change_seq++; /* /api/events sends the new picture */
}
