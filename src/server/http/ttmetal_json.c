/*
 * ttmetal_json.c - tt-metal's shared-memory regions in the JSON API (see
 * ttmetal.h): per-device region and chip rows, process objects for the
 * processes only the regions report, and the reader's state for /healthz.
 * Names are the data model's (docs/DATA_MODEL.md): the seed's *_allocated
 * totals, <thing>_count for counts, times in milliseconds since the epoch.
 */
#include <stdio.h>
#include <string.h>

#include "model/model.h"
#include "server/http/json_util.h"
#include "server/http/ttmetal_json.h"
#include "server/ingest/ttmetal_scan.h"
#include "server/server.h"

/* A chip slot's bytes (the region's kinds) under the same keys. */
static void set_chip_usage(json_t *obj, const struct ttmetal_shm_chip *c)
{
	json_object_set_new(obj, "dram_allocated", model_uint(c->used[TTMETAL_SHM_DRAM]));
	json_object_set_new(obj, "l1_allocated", model_uint(c->used[TTMETAL_SHM_L1]));
	json_object_set_new(obj, "l1_small_allocated", model_uint(c->used[TTMETAL_SHM_L1_SMALL]));
	json_object_set_new(obj, "trace_allocated", model_uint(c->used[TTMETAL_SHM_TRACE]));
	json_object_set_new(obj, "cb_allocated", model_uint(c->used[TTMETAL_SHM_CB]));
}

static json_t *chip_json(const struct ttmetal_shm_chip *c, int through)
{
	json_t *obj = json_object();
	json_object_set_new(obj, "chip_id", json_integer(c->chip_id));
	json_object_set_new(obj, "remote", json_boolean(c->remote));
	json_object_set_new(obj, "through_device_id", json_integer(through));
	set_chip_usage(obj, c);
	return obj;
}

json_t *ttmetal_device_json(struct server *s, int device)
{
	struct ttmetal_view *v = &s->state.shm;
	json_t *regions = json_array(), *remote = json_array();
	for (uint32_t i = 0; i < v->region_count; i++) {
		const struct ttmetal_region *reg = &v->regions[i];
		if (reg->status != TTMETAL_SHM_OK || reg->device < 0)
			continue;
		for (uint32_t c = 0; c < reg->chip_count; c++)
			if (reg->device != device && (int64_t)reg->chips[c].chip_id == device)
				json_array_append_new(remote, chip_json(&reg->chips[c], reg->device));
		if (reg->device != device)
			continue;
		json_t *obj = json_object();
		json_object_set_new(obj, "file", json_string(reg->name));
		json_object_set_new(obj, "chip_unique_id", json_integer((json_int_t)reg->chip_unique_id));
		json_object_set_new(obj, "version", json_integer(reg->version));
		json_object_set_new(obj, "process_slot_count", json_integer(reg->processes));
		json_t *totals = json_object();
		model_set_usage(totals, reg->totals);
		json_object_set_new(obj, "totals", totals);
		json_t *unattributed = json_object();
		model_set_usage(unattributed, reg->unattributed);
		json_object_set_new(obj, "unattributed", unattributed);
		json_t *chips = json_array();
		for (uint32_t c = 0; c < reg->chip_count; c++)
			json_array_append_new(chips, chip_json(&reg->chips[c], reg->device));
		json_object_set_new(obj, "chips", chips);
		json_array_append_new(regions, obj);
	}
	if (json_array_size(regions) == 0 && json_array_size(remote) == 0) {
		json_decref(regions);
		json_decref(remote);
		return json_null();
	}
	json_t *obj = json_object();
	json_object_set_new(obj, "regions", regions);
	json_object_set_new(obj, "remote_chips", remote);
	return obj;
}

/* One process (all its shm rows that are not covered by the socket) as an /api/processes object. */
static json_t *process_json(struct server *s, const struct ttmetal_row *rows, uint32_t n, uint32_t first)
{
	const struct ttmetal_row *r0 = &rows[first];
	int stale = 1;
	uint64_t sum[TTALLOC_BUFFER_TYPES] = {0}, updated = 0;
	json_t *devices = json_array();
	for (uint32_t i = first; i < n; i++) {
		const struct ttmetal_row *r = &rows[i];
		if (r->pid != r0->pid || r->covered)
			continue;
		struct model_process_device d = {r->device, r->used, MODEL_UNKNOWN, 0}; /* slots count no buffers */
		json_t *du = model_process_device_json(&d);
		json_object_set_new(du, "stale", json_boolean(r->stale));
		json_object_set_new(du, "region", json_string(s->state.shm.regions[r->region].name));
		json_array_append_new(devices, du);
		stale &= r->stale;
		if (!r->stale)
			for (unsigned t = 0; t < TTALLOC_BUFFER_TYPES; t++)
				sum[t] += r->used[t];
		if (r->updated_ns > updated)
			updated = r->updated_ns;
	}
	int known = r0->uid != PROTO_UID_UNKNOWN;
	struct model_process m = {
		.pid = r0->pid,
		.name = r0->name,
		.user = known ? json_util_user_name(r0->uid) : NULL,
		.uid = known ? MODEL_KNOWN(r0->uid) : MODEL_UNKNOWN,
		.source = ttmetal_source_name(TTMETAL_SOURCE_SHM),
		.tracked = 1,
		.stale = stale,
		.connection_count = MODEL_KNOWN(0),
		.used = sum, /* a stale process holds nothing: its slots say what it left */
		.container = containers_get(&s->state.containers, r0->pid),
	};
	json_t *obj = model_process_json(&m, devices);
	json_object_set_new(obj, "updated", model_uint(updated / 1000000u));
	return obj;
}

void ttmetal_append_processes(struct server *s, json_t *list)
{
	uint32_t n = 0;
	const struct ttmetal_row *rows = ttmetal_rows(&s->state.shm, &s->state.registry, &n);
	for (uint32_t i = 0; i < n; i++) {
		if (rows[i].covered)
			continue;
		int first = 1;
		for (uint32_t j = 0; j < i && first; j++)
			first = !(rows[j].pid == rows[i].pid && !rows[j].covered);
		if (first)
			json_array_append_new(list, process_json(s, rows, n, i));
	}
}

json_t *ttmetal_status_json(struct server *s)
{
	struct ttmetal_view *v = &s->state.shm;
	json_t *obj = json_object();
	json_object_set_new(obj, "enabled", json_boolean(v->enabled));
	if (!v->enabled)
		return obj;
	json_object_set_new(obj, "dir", json_string(v->dir));
	json_object_set_new(obj, "scanned", model_uint(v->scanned_ns / 1000000u));
	json_object_set_new(obj, "refresh_ms", json_integer(TTMETAL_REFRESH_MS));
	json_object_set_new(obj, "stale_slot_leaks_total", model_uint(v->stale_leaks));
	json_t *regions = json_array();
	for (uint32_t i = 0; i < v->region_count; i++) {
		const struct ttmetal_region *reg = &v->regions[i];
		json_t *r = json_object();
		json_object_set_new(r, "file", json_string(reg->name));
		int no_device = reg->status == TTMETAL_SHM_OK && reg->device < 0;
		json_object_set_new(r, "status",
				    json_string(no_device ? "no_device" : ttmetal_shm_status_name(reg->status)));
		json_object_set_new(r, "version",
				    reg->status == TTMETAL_SHM_OK ? json_integer(reg->version) : json_null());
		json_object_set_new(r, "device_id", reg->device >= 0 ? json_integer(reg->device) : json_null());
		if (reg->status != TTMETAL_SHM_OK || no_device) {
			char why[200];
			snprintf(why, sizeof(why), no_device ? "for device %s, which this server does not have" : "%s",
				 reg->why);
			json_object_set_new(r, "why", json_string(why));
		}
		json_array_append_new(regions, r);
	}
	json_object_set_new(obj, "regions", regions);
	return obj;
}
