/*
 * api_json.c - the JSON documents of the HTTP API, built with jansson from
 * the registry, the leak history and the history (see api.h).
 *
 * Names follow the seed: a device's totals are dram_allocated, l1_allocated,
 * l1_small_allocated and trace_allocated; capacities are total_dram_size and
 * total_l1_size. Bytes are integers; addresses are "0x..." strings (they do
 * not fit a JavaScript number); times are milliseconds since the epoch;
 * a reading the backend could not take is null.
 */
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/clock.h"
#include "server/http/api.h"
#include "server/http/json_util.h"
#include "server/http/ttmetal_json.h"
#include "server/server.h"
#include "server/state/holders.h"
#include "server/state/picture.h"
#include "server/state/stacks.h"


static const char *type_label(unsigned type)
{
	return proto_buffer_type_name(type);
}

/* ---- devices ---- */

static json_t *capacity_json(struct server *s, int device, int l1, uint64_t bytes)
{
	return picture_capacity_known(&s->state, device, l1) ? json_util_uint(bytes) : json_null();
}

json_t *api_device_stats(struct server *s, int device)
{
	uint64_t used[TTALLOC_BUFFER_TYPES];
	picture_device_used(&s->state, device, used);
	return json_pack("{s:i, s:I, s:I, s:I, s:I}", "device_id", device, "dram_allocated",
			 (json_int_t)used[TTALLOC_DRAM], "l1_allocated", (json_int_t)used[TTALLOC_L1],
			 "l1_small_allocated", (json_int_t)used[TTALLOC_L1_SMALL], "trace_allocated",
			 (json_int_t)used[TTALLOC_TRACE]);
}

json_t *api_device(struct server *s, int device)
{
	struct device *dev = device_set_get(&s->state.devices, device);
	const struct device_totals *t = &s->state.registry.devices[device];
	uint64_t used[TTALLOC_BUFFER_TYPES];
	picture_device_used(&s->state, device, used);
	picture_refresh_readings(&s->state, device);
	json_t *obj = json_object();
	json_object_set_new(obj, "device_id", json_integer(device));
	json_util_set_usage(obj, used);
	json_util_set_str(obj, "name", dev->info.name);
	json_util_set_str(obj, "arch", proto_arch_name(dev->info.arch));
	json_object_set_new(obj, "total_dram_size", capacity_json(s, device, 0, dev->info.dram_total));
	json_object_set_new(obj, "total_l1_size", capacity_json(s, device, 1, dev->info.l1_total));
	json_object_set_new(obj, "temperature",
			    DEVICE_READING_VALID(&dev->now, DEVICE_TEMPERATURE)
				    ? json_real(dev->now.temperature_mc / 1000.0)
				    : json_null());
	json_object_set_new(obj, "power",
			    DEVICE_READING_VALID(&dev->now, DEVICE_POWER) ? json_real(dev->now.power_mw / 1000.0)
									 : json_null());
	json_object_set_new(obj, "utilization",
			    DEVICE_READING_VALID(&dev->now, DEVICE_UTILIZATION)
				    ? json_integer(dev->now.utilization)
				    : json_null());
	json_util_set_uint(obj, "process_count", picture_device_processes(&s->state, device));
	json_util_set_uint(obj, "buffer_count", t->buffers);
	json_object_set_new(obj, "ttmetal_shm", ttmetal_device_json(s, device));
	json_object_set_new(obj, "simulated", json_boolean(dev->info.simulated));
	api_set_device_identity(obj, s, device);
	return obj;
}

json_t *api_devices(struct server *s)
{
	json_t *list = json_array();
	for (int d = 0; d < s->state.devices.count; d++)
		json_array_append_new(list, api_device(s, d));
	return list;
}

/* ---- processes ---- */

static json_t *process_json(struct server *s, const struct process_record *rec)
{
	json_t *obj = json_object();
	json_object_set_new(obj, "pid", json_integer(rec->pid));
	json_util_set_str(obj, "name", rec->comm);
	json_util_set_str(obj, "user", json_util_user_name(rec->uid));
	json_util_set_uint(obj, "uid", rec->uid);
	if (rec->session[0])
		json_util_set_str(obj, "session", rec->session);
	json_util_set_uint(obj, "connections", rec->connections);
	json_util_set_uint(obj, "buffer_count", rec->live_buffers);
	json_util_set_uint(obj, "first_seen", rec->first_seen_ns / 1000000u);
	/* exited: its leaks kept in the totals (--retain-leaks) until cleared */
	json_object_set_new(obj, "exited", json_boolean(rec->exited));
	json_object_set_new(obj, "exit_time", rec->exited ? json_util_uint(rec->exit_ns / 1000000u) : json_null());
	uint64_t sum[TTALLOC_BUFFER_TYPES] = {0};
	json_t *devices = json_array();
	for (uint32_t i = 0; i < rec->usage_count; i++) {
		const struct device_usage *u = &rec->usage[i];
		if (u->buffers == 0)
			continue;
		json_t *du = json_object();
		json_object_set_new(du, "device_id", json_integer(u->device));
		json_util_set_usage(du, u->used);
		json_util_set_uint(du, "buffer_count", u->buffers);
		json_array_append_new(devices, du);
		for (int t = 0; t < TTALLOC_BUFFER_TYPES; t++)
			sum[t] += u->used[t];
	}
	json_util_set_usage(obj, sum);
	json_object_set_new(obj, "devices", devices);
	json_util_set_str(obj, "source", ttmetal_source_name(TTMETAL_SOURCE_SOCKET));
	(void)s;
	return obj;
}

/* 1 when the kernel's view flags (pid, device) as vanished. */
static int holder_vanished(const struct holder_entry *rows, int n, pid_t pid, int device)
{
	for (int i = 0; i < n; i++)
		if (rows[i].pid == pid && rows[i].device == device && rows[i].state == DEVICE_HOLDER_VANISHED)
			return 1;
	return 0;
}

/*
 * A reporting process: "tracked": true, "source": "socket", and "vanished"
 * (per device and overall) when the driver no longer lists it.
 */
static void mark_tracked(json_t *obj, const struct holder_entry *rows, int n, pid_t pid)
{
	int any = 0;
	size_t i;
	json_t *du;
	json_array_foreach(json_object_get(obj, "devices"), i, du)
	{
		int gone = holder_vanished(rows, n, pid, (int)json_integer_value(json_object_get(du, "device_id")));
		json_object_set_new(du, "vanished", json_boolean(gone));
		any |= gone;
	}
	json_object_set_new(obj, "tracked", json_true());
	json_object_set_new(obj, "vanished", json_boolean(any));
	json_util_set_str(obj, "source", "socket");
}

/*
 * A process that holds devices without reporting (the kernel's view): its
 * name and user when /proc tells, memory null (NVML's figure when it gives
 * one), one "devices" item per device it holds.
 */
static json_t *untracked_json(const struct holder_entry *rows, int n, int first)
{
	const struct holder_entry *e = &rows[first];
	static const char *const usage_keys[] = {"dram_allocated",     "l1_allocated", "l1_small_allocated",
						 "trace_allocated",    "cb_allocated", "system_memory_allocated",
						 "buffer_count"};
	json_t *obj = json_object();
	json_object_set_new(obj, "pid", json_integer(e->pid));
	json_object_set_new(obj, "name", e->id.comm[0] ? json_string(e->id.comm) : json_null());
	json_object_set_new(obj, "user", e->id.uid_known ? json_string(json_util_user_name(e->id.uid)) : json_null());
	json_object_set_new(obj, "uid", e->id.uid_known ? json_util_uint(e->id.uid) : json_null());
	json_object_set_new(obj, "tracked", json_false());
	json_object_set_new(obj, "vanished", json_false());
	json_util_set_str(obj, "source", "kernel");
	json_util_set_uint(obj, "connections", 0);
	for (size_t k = 0; k < sizeof(usage_keys) / sizeof(usage_keys[0]); k++)
		json_object_set_new(obj, usage_keys[k], json_null());
	json_object_set_new(obj, "first_seen", json_null());
	json_t *devices = json_array();
	uint64_t memory = 0;
	int memory_known = 1;
	for (int i = first; i < n; i++) {
		const struct holder_entry *r = &rows[i];
		if (r->pid != e->pid || r->state != DEVICE_HOLDER_UNTRACKED)
			continue;
		int known = (r->flags & DEVICE_PROC_MEMORY) != 0;
		json_t *du = json_object();
		json_object_set_new(du, "device_id", json_integer(r->device));
		for (size_t k = 0; k < sizeof(usage_keys) / sizeof(usage_keys[0]); k++)
			json_object_set_new(du, usage_keys[k], json_null());
		json_object_set_new(du, "vanished", json_false());
		json_object_set_new(du, "memory", known ? json_util_uint(r->memory) : json_null());
		json_t *seen = json_array();
		if (r->flags & DEVICE_PROC_DRIVER)
			json_array_append_new(seen, json_string("driver"));
		if (r->flags & DEVICE_PROC_FD)
			json_array_append_new(seen, json_string("fd"));
		json_object_set_new(du, "seen_by", seen);
		json_array_append_new(devices, du);
		memory += r->memory;
		memory_known &= known;
	}
	json_object_set_new(obj, "memory", memory_known ? json_util_uint(memory) : json_null());
	json_object_set_new(obj, "devices", devices);
	return obj;
}

json_t *api_processes(struct server *s)
{
	struct registry *r = &s->state.registry;
	int n = 0;
	struct holder_entry *rows = holders_rows_all(&s->state, &n);
	json_t *list = json_array();
	REGISTRY_FOR_EACH_PROCESS(r, p)
	{
		const struct process_record *rec = registry_process(r, p);
		json_t *obj = process_json(s, rec);
		mark_tracked(obj, rows, n, rec->pid);
		json_array_append_new(list, obj);
	}
	/* untracked holders, once per pid (in the order the devices list them) */
	for (int i = 0; i < n; i++) {
		int first = rows[i].state == DEVICE_HOLDER_UNTRACKED;
		for (int j = 0; j < i && first; j++)
			first = !(rows[j].pid == rows[i].pid && rows[j].state == DEVICE_HOLDER_UNTRACKED);
		if (first)
			json_array_append_new(list, untracked_json(rows, n, i));
	}
	free(rows);
	/* processes that only tt-metal's shared memory reports */
	ttmetal_append_processes(s, list);
	size_t i;
	json_t *obj;
	json_array_foreach(list, i, obj)
		api_set_container(obj, s);
	return list;
}

/* ---- buffers ---- */

/* The stack of a live buffer, symbolized now (cached per process). */
static json_t *live_stack_json(const struct live_buffer *b, const struct process_record *rec)
{
	if (b->stack == STACKS_NONE || !rec->stacks)
		return json_null();
	char text[STACKS_SHOWN_FRAMES * 600];
	stacks_format(rec->stacks, b->stack, "", STACKS_SHOWN_FRAMES, text, sizeof(text));
	return json_util_stack(text);
}

static json_t *buffer_json(const struct live_buffer *b, const struct process_record *rec, uint64_t now)
{
	json_t *obj = json_object();
	json_object_set_new(obj, "device_id", json_integer(b->device));
	json_util_set_hex(obj, "address", b->address);
	json_util_set_uint(obj, "size", b->size);
	json_util_set_str(obj, "type", type_label(b->type));
	json_object_set_new(obj, "pid", json_integer(rec->pid));
	json_util_set_str(obj, "process", rec->comm);
	json_object_set_new(obj, "age_seconds", json_real(now > b->alloc_ns ? (double)(now - b->alloc_ns) / 1e9 : 0.0));
	json_object_set_new(obj, "stack", live_stack_json(b, rec));
	return obj;
}

/* Buffers matching the filters, counted from the running totals (no walk). */
static uint64_t matching_buffers(struct server *s, const struct api_buffer_query *q, uint32_t proc)
{
	struct registry *r = &s->state.registry;
	if (q->pid) {
		if (proc == REGISTRY_NONE)
			return 0;
		if (q->device < 0)
			return registry_process(r, proc)->live_buffers;
		const struct device_usage *u = registry_usage(r, proc, q->device);
		return u ? u->buffers : 0;
	}
	return q->device < 0 ? r->live_buffers : r->devices[q->device].buffers;
}

json_t *api_buffers(struct server *s, const struct api_buffer_query *q)
{
	struct registry *r = &s->state.registry;
	uint32_t proc = q->pid ? registry_find_pid(r, q->pid) : REGISTRY_NONE;
	uint64_t total = matching_buffers(s, q, proc);
	uint64_t now = clock_monotonic_ns();
	json_t *list = json_array();
	uint64_t skipped = 0, listed = 0;
	/* Walks owner lists (newest buffer first) only as far as the page reaches. */
	REGISTRY_FOR_EACH_PROCESS(r, p)
	{
		if (listed >= q->limit || skipped + listed >= total)
			break;
		if (q->pid && p != proc)
			continue;
		const struct process_record *rec = registry_process(r, p);
		REGISTRY_FOR_EACH_BUFFER(r, p, b)
		{
			if (listed >= q->limit)
				break;
			const struct live_buffer *buf = registry_buffer(r, b);
			if (q->device >= 0 && buf->device != q->device)
				continue;
			if (skipped < q->offset) {
				skipped++;
				continue;
			}
			json_array_append_new(list, buffer_json(buf, rec, now));
			listed++;
		}
	}
	json_t *obj = json_object();
	json_util_set_uint(obj, "total", total);
	json_util_set_uint(obj, "offset", q->offset);
	json_util_set_uint(obj, "limit", q->limit);
	json_object_set_new(obj, "buffers", list);
	return obj;
}

/* ---- leaks ---- */

/* A report with its kept buffers [offset, offset + limit), stacks included. */
static json_t *leak_json(const struct leak_report *rep, uint64_t offset, uint64_t limit)
{
	json_t *obj = json_object();
	json_util_set_uint(obj, "id", rep->id);
	json_object_set_new(obj, "pid", json_integer(rep->pid));
	json_util_set_str(obj, "name", rep->comm);
	if (rep->uid == PROTO_UID_UNKNOWN) { /* a stale tt-metal shm slot: whose it was is unknown */
		json_object_set_new(obj, "user", json_null());
		json_object_set_new(obj, "uid", json_null());
	} else {
		json_util_set_str(obj, "user", json_util_user_name(rep->uid));
		json_util_set_uint(obj, "uid", rep->uid);
	}
	if (rep->session[0])
		json_util_set_str(obj, "session", rep->session);
	json_util_set_uint(obj, "exit_time", rep->exit_ns / 1000000u);
	json_util_set_uint(obj, "buffer_count", rep->buffers);
	json_util_set_uint(obj, "bytes", rep->bytes);
	json_util_set_str(obj, "source", ttmetal_source_name(rep->source ? TTMETAL_SOURCE_SHM : TTMETAL_SOURCE_SOCKET));
	json_t *devices = json_array();
	for (int d = 0; d < PROTO_MAX_DEVICES; d++) {
		if (!rep->device_buffers[d])
			continue;
		json_array_append_new(devices, json_pack("{s:i, s:I, s:I}", "device_id", d, "bytes",
							 (json_int_t)rep->device_bytes[d], "buffer_count",
							 (json_int_t)rep->device_buffers[d]));
	}
	json_object_set_new(obj, "devices", devices);
	json_t *buffers = json_array();
	uint64_t from = offset < rep->kept ? offset : rep->kept;
	uint64_t listed = rep->kept - from < limit ? rep->kept - from : limit;
	for (uint64_t i = from; i < from + listed; i++) {
		const struct leak_buffer *e = &rep->entries[i];
		json_t *b = json_object();
		json_object_set_new(b, "device_id", json_integer(e->device));
		json_util_set_hex(b, "address", e->address);
		json_util_set_uint(b, "size", e->size);
		json_util_set_str(b, "type", type_label(e->type));
		json_object_set_new(b, "age_seconds", json_real((double)e->age_ns / 1e9));
		json_object_set_new(b, "stack", e->stack_text == LEAK_NO_STACK ? json_null()
										: json_util_stack(rep->stack_texts[e->stack_text]));
		json_array_append_new(buffers, b);
	}
	json_object_set_new(obj, "buffers", buffers);
	json_util_set_uint(obj, "buffers_kept", rep->kept);
	json_util_set_uint(obj, "buffers_omitted", rep->buffers - listed);
	return obj;
}

json_t *api_leak(struct server *s, const struct api_leak_query *q)
{
	const struct leak_report *rep = leak_history_find(&s->state.leaks, q->id);
	if (!rep)
		return NULL;
	json_t *obj = leak_json(rep, q->offset, q->limit);
	json_util_set_uint(obj, "offset", q->offset);
	json_util_set_uint(obj, "limit", q->limit);
	return obj;
}

json_t *api_leaks(struct server *s)
{
	const struct leak_history *h = &s->state.leaks;
	json_t *reports = json_array();
	for (uint32_t i = h->count; i-- > 0;)
		json_array_append_new(reports, leak_json(leak_history_get(h, i), 0, API_LEAK_BUFFERS_LISTED));
	json_t *devices = json_array();
	uint64_t bytes = 0, buffers = 0;
	for (int d = 0; d < s->state.devices.count; d++) {
		bytes += h->leaked_bytes[d];
		buffers += h->leaked_buffers[d];
		json_array_append_new(devices, json_pack("{s:i, s:I, s:I}", "device_id", d, "leaked_bytes",
							 (json_int_t)h->leaked_bytes[d], "leaked_buffers",
							 (json_int_t)h->leaked_buffers[d]));
	}
	json_t *obj = json_object();
	json_util_set_uint(obj, "reports_total", h->reports_total);
	json_util_set_uint(obj, "reports_kept", h->count);
	json_util_set_uint(obj, "leaked_bytes_total", bytes);
	json_util_set_uint(obj, "leaked_buffers_total", buffers);
	json_object_set_new(obj, "devices", devices);
	json_object_set_new(obj, "reports", reports);
	return obj;
}

/* ---- history ---- */

static const char *const kind_keys[HISTORY_KINDS] = {"dram", "l1", "l1_small", "trace"};

/*
 * Appends one value per bucket of `step` samples from [from, to) to each kind's
 * array: the largest value in the bucket (a peak is what memory graphs must not
 * lose), or null when the series has no value in it.
 */
static void append_series(json_t *arrays[HISTORY_KINDS], const struct history *h, uint64_t from, uint64_t to,
			  uint64_t step, int device, const struct history_series *series)
{
	for (uint64_t start = from; start < to; start += step) {
		uint64_t end = start + step < to ? start + step : to;
		struct history_point peak = {{0}};
		int any = 0;
		for (uint64_t n = start; n < end; n++) {
			const struct history_point *p =
				series ? history_series_point(h, series, n) : history_device_point(h, n, device);
			if (!p)
				continue;
			any = 1;
			for (int k = 0; k < HISTORY_KINDS; k++)
				if (p->used[k] > peak.used[k])
					peak.used[k] = p->used[k];
		}
		for (int k = 0; k < HISTORY_KINDS; k++)
			json_array_append_new(arrays[k], any ? json_util_uint(peak.used[k]) : json_null());
	}
}

/*
 * Appends each bucket's highest temperature (°C) and power (W) of `device`
 * to `temps` and `powers`, null when no sample of the bucket has the reading.
 */
static void append_readings(json_t *temps, json_t *powers, const struct history *h, uint64_t from, uint64_t to,
			    uint64_t step, int device)
{
	for (uint64_t start = from; start < to; start += step) {
		uint64_t end = start + step < to ? start + step : to;
		int32_t temp = HISTORY_NO_TEMPERATURE;
		uint32_t power = 0;
		int any_power = 0;
		for (uint64_t n = start; n < end; n++) {
			const struct history_reading *rd = history_device_reading(h, n, device);
			if (rd->temperature_mc != HISTORY_NO_TEMPERATURE && rd->temperature_mc > temp)
				temp = rd->temperature_mc;
			if (rd->power_mw != HISTORY_NO_POWER && (!any_power || rd->power_mw > power)) {
				power = rd->power_mw;
				any_power = 1;
			}
		}
		json_array_append_new(temps, temp != HISTORY_NO_TEMPERATURE ? json_real(temp / 1000.0) : json_null());
		json_array_append_new(powers, any_power ? json_real(power / 1000.0) : json_null());
	}
}

static void set_arrays(json_t *obj, json_t *arrays[HISTORY_KINDS])
{
	for (int k = 0; k < HISTORY_KINDS; k++)
		json_object_set_new(obj, kind_keys[k], arrays[k]);
}

static void new_arrays(json_t *arrays[HISTORY_KINDS])
{
	for (int k = 0; k < HISTORY_KINDS; k++)
		arrays[k] = json_array();
}

json_t *api_history(struct server *s, const struct api_history_query *q)
{
	const struct history *h = &s->state.history;
	uint64_t to = h->next, from = history_oldest(h);
	uint64_t interval = h->interval_ms ? h->interval_ms : 1;
	if (q->seconds) {
		uint64_t want = (q->seconds * 1000u + interval - 1) / interval;
		if (want < to - from)
			from = to - want;
	}
	uint64_t step = (to - from + q->points - 1) / (q->points ? q->points : 1);
	if (step == 0)
		step = 1;
	json_t *obj = json_object();
	json_util_set_uint(obj, "interval_ms", h->interval_ms);
	json_util_set_uint(obj, "step_ms", step * h->interval_ms);
	json_util_set_uint(obj, "capacity", h->cap);
	json_t *times = json_array();
	for (uint64_t n = from; n < to; n += step) {
		/* a bucket is stamped with its newest sample */
		uint64_t last = n + step - 1 < to ? n + step - 1 : to - 1;
		json_array_append_new(times, json_util_uint(history_time(h, last)));
	}
	json_object_set_new(obj, "timestamps", times);

	json_t *devices = json_array();
	for (int d = 0; d < h->num_devices; d++) {
		if (q->device >= 0 && d != q->device)
			continue;
		json_t *dev = json_object();
		json_object_set_new(dev, "device_id", json_integer(d));
		json_t *arrays[HISTORY_KINDS];
		new_arrays(arrays);
		append_series(arrays, h, from, to, step, d, NULL);
		set_arrays(dev, arrays);
		json_t *temps = json_array(), *powers = json_array();
		append_readings(temps, powers, h, from, to, step, d);
		json_object_set_new(dev, "temperature", temps);
		json_object_set_new(dev, "power", powers);
		json_array_append_new(devices, dev);
	}
	json_object_set_new(obj, "devices", devices);

	json_t *processes = json_array();
	for (uint32_t i = 0; i < h->max_series; i++) {
		const struct history_series *sr = &h->series[i];
		if (!sr->in_use || sr->last < from || (q->device >= 0 && sr->device != q->device) ||
		    (q->pid && sr->pid != q->pid))
			continue;
		json_t *proc = json_object();
		json_object_set_new(proc, "pid", json_integer(sr->pid));
		json_object_set_new(proc, "device_id", json_integer(sr->device));
		json_util_set_str(proc, "name", sr->comm);
		json_util_set_str(proc, "user", json_util_user_name(sr->uid));
		json_t *arrays[HISTORY_KINDS];
		new_arrays(arrays);
		append_series(arrays, h, from, to, step, sr->device, sr);
		set_arrays(proc, arrays);
		json_array_append_new(processes, proc);
	}
	json_object_set_new(obj, "processes", processes);
	json_util_set_uint(obj, "untracked_process_samples", h->untracked);
	return obj;
}

/* ---- health and events ---- */

json_t *api_health(struct server *s)
{
	json_t *obj = json_object();
	json_util_set_str(obj, "status", "ok");
	json_util_set_str(obj, "version", TTALLOC_VERSION);
	json_object_set_new(obj, "uptime_seconds",
			    json_real((double)(clock_monotonic_ns() - s->start_ns) / 1e9));
	json_object_set_new(obj, "devices", json_integer(s->state.devices.count));
	json_util_set_uint(obj, "connections", s->ingest.conns.count);
	json_util_set_uint(obj, "processes", s->state.registry.process_count);
	json_util_set_uint(obj, "live_buffers", s->state.registry.live_buffers);
	json_util_set_str(obj, "socket", s->opts.socket_path);
	json_util_set_str(obj, "hostname", s->state.hostname);
	json_object_set_new(obj, "ttmetal_shm", ttmetal_status_json(s));
	/* the dashboard itself: up; and how many tries found its port in use first */
	json_object_set_new(obj, "http", json_pack("{s:s, s:i, s:I}", "state", "up", "port", (int)s->ingest.http_port,
						   "port_in_use_tries", (json_int_t)s->http_failures));
	return obj;
}

json_t *api_event(struct server *s, uint64_t seq)
{
	json_t *obj = json_object();
	json_util_set_uint(obj, "seq", seq);
	json_util_set_uint(obj, "time", clock_realtime_ns() / 1000000u);
	json_object_set_new(obj, "devices", api_devices(s));
	json_util_set_uint(obj, "processes", s->state.registry.process_count);
	json_util_set_uint(obj, "leak_reports", s->state.leaks.reports_total);
	json_util_set_uint(obj, "alloc_failures", s->state.ooms.total);
	return obj;
}
