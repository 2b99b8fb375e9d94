/*
 * api_json.c - the JSON documents of the HTTP API, built with jansson from
 * the registry, the leak history and the history (see api.h).
 *
 * Names are the data model's (docs/DATA_MODEL.md, schemas/): the device,
 * process and buffer objects come from src/model (the same writers as
 * tt_smi --json); the seed's device totals stay dram_allocated,
 * l1_allocated, l1_small_allocated and trace_allocated. Bytes are
 * integers; addresses are "0x..." strings; times are milliseconds since
 * the epoch; a reading the backend could not take is null.
 */
#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/clock.h"
#include "model/model.h"
#include "server/http/api.h"
#include "server/http/api_diag.h"
#include "server/http/json_util.h"
#include "server/http/ttmetal_json.h"
#include "server/server.h"
#include "server/state/holders.h"
#include "server/state/picture.h"
#include "server/state/stacks.h"

/* ---- devices ---- */

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
	struct picture_identity id;
	struct model_device m = {
		.device_id = device,
		.name = dev->info.name,
		.arch = proto_arch_name(dev->info.arch),
		.dram_capacity = {picture_capacity_known(&s->state, device, 0), dev->info.dram_total},
		.l1_capacity = {picture_capacity_known(&s->state, device, 1), dev->info.l1_total},
		.process_count = picture_device_processes(&s->state, device),
		.buffer_count = s->state.registry.devices[device].buffers,
		.simulated = dev->info.simulated,
	};
	picture_device_used(&s->state, device, m.used);
	picture_refresh_readings(&s->state, device);
	m.temperature_known = DEVICE_READING_VALID(&dev->now, DEVICE_TEMPERATURE);
	m.temperature_mc = dev->now.temperature_mc;
	m.power_known = DEVICE_READING_VALID(&dev->now, DEVICE_POWER);
	m.power_mw = dev->now.power_mw;
	m.utilization_known = DEVICE_READING_VALID(&dev->now, DEVICE_UTILIZATION);
	m.utilization_pct = dev->now.utilization;
	picture_device_identity(&s->state, device, &id);
	m.identity = (struct model_identity){id.serial,    id.asic_id, id.pci_bus_id,
					     id.card_type, id.uuid,    id.driver_version};
	json_t *obj = model_device_json(&m);
	if (obj)
		json_object_set_new(obj, "ttmetal_shm", ttmetal_device_json(s, device));
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

/* 1 when the kernel's view flags (pid, device) as vanished. */
static int holder_vanished(const struct holder_entry *rows, int n, pid_t pid, int device)
{
	for (int i = 0; i < n; i++)
		if (rows[i].pid == pid && rows[i].device == device && rows[i].state == DEVICE_HOLDER_VANISHED)
			return 1;
	return 0;
}

/* The container of `pid` (NULL: none). */
static const struct container_info *container_of_pid(struct server *s, pid_t pid)
{
	return containers_get(&s->state.containers, pid);
}

/*
 * A reporting process: "tracked": true, "source": "socket", and "vanished"
 * (per device and overall) when the driver no longer lists it.
 */
static json_t *process_json(struct server *s, const struct process_record *rec, const struct holder_entry *rows, int n)
{
	uint64_t sum[TTALLOC_BUFFER_TYPES] = {0};
	int any_vanished = 0;
	json_t *devices = json_array();
	for (uint32_t i = 0; i < rec->usage_count; i++) {
		const struct device_usage *u = &rec->usage[i];
		if (u->buffers == 0)
			continue;
		struct model_process_device d = {u->device, u->used, MODEL_KNOWN(u->buffers),
						 holder_vanished(rows, n, rec->pid, u->device)};
		json_array_append_new(devices, model_process_device_json(&d));
		any_vanished |= d.vanished;
		for (int t = 0; t < TTALLOC_BUFFER_TYPES; t++)
			sum[t] += u->used[t];
	}
	struct model_process m = {
		.pid = rec->pid,
		.name = rec->comm,
		.user = json_util_user_name(rec->uid),
		.uid = MODEL_KNOWN(rec->uid),
		.session = rec->session,
		.source = ttmetal_source_name(TTMETAL_SOURCE_SOCKET),
		.tracked = 1,
		.vanished = any_vanished,
		/* exited: its leaks kept in the totals (--retain-leaks) until cleared */
		.exited = rec->exited,
		.connection_count = MODEL_KNOWN(rec->connections),
		.buffer_count = MODEL_KNOWN(rec->live_buffers),
		.first_seen = MODEL_KNOWN(rec->first_seen_ns / 1000000u),
		.exit_time = rec->exited ? MODEL_KNOWN(rec->exit_ns / 1000000u) : MODEL_UNKNOWN,
		.used = sum,
		.container = container_of_pid(s, rec->pid),
	};
	return model_process_json(&m, devices);
}

/*
 * A process that holds devices without reporting (the kernel's view): its
 * name and user when /proc tells, its buffer totals null, the device memory
 * it uses (used_bytes) when the driver gives it (NVML), one "devices" item
 * per device it holds.
 */
static json_t *untracked_json(struct server *s, const struct holder_entry *rows, int n, int first)
{
	const struct holder_entry *e = &rows[first];
	json_t *devices = json_array();
	uint64_t memory = 0;
	int memory_known = 1;
	for (int i = first; i < n; i++) {
		const struct holder_entry *r = &rows[i];
		if (r->pid != e->pid || r->state != DEVICE_HOLDER_UNTRACKED)
			continue;
		int known = (r->flags & DEVICE_PROC_MEMORY) != 0;
		struct model_process_device d = {r->device, NULL, MODEL_UNKNOWN, 0};
		json_t *du = model_process_device_json(&d);
		json_object_set_new(du, "used_bytes", known ? model_uint(r->memory) : json_null());
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
	struct model_process m = {
		.pid = e->pid,
		.name = e->id.comm,
		.user = e->id.uid_known ? json_util_user_name(e->id.uid) : NULL,
		.uid = e->id.uid_known ? MODEL_KNOWN(e->id.uid) : MODEL_UNKNOWN,
		.source = "kernel",
		.connection_count = MODEL_KNOWN(0),
		.container = container_of_pid(s, e->pid),
	};
	json_t *obj = model_process_json(&m, devices);
	json_object_set_new(obj, "used_bytes", memory_known ? model_uint(memory) : json_null());
	return obj;
}

json_t *api_processes(struct server *s)
{
	struct registry *r = &s->state.registry;
	int n = 0;
	struct holder_entry *rows = holders_rows_all(&s->state, &n);
	json_t *list = json_array();
	REGISTRY_FOR_EACH_PROCESS (r, p) {
		/* a connection that only asks (tt_smi, a monitor, this very query over the socket) is no user */
		const struct process_record *rec = registry_process(r, p);
		if (rec->reported || rec->live_buffers || rec->exited)
			json_array_append_new(list, process_json(s, rec, rows, n));
	}
	/* untracked holders, once per pid (in the order the devices list them) */
	for (int i = 0; i < n; i++) {
		int first = rows[i].state == DEVICE_HOLDER_UNTRACKED;
		for (int j = 0; j < i && first; j++)
			first = !(rows[j].pid == rows[i].pid && rows[j].state == DEVICE_HOLDER_UNTRACKED);
		if (first)
			json_array_append_new(list, untracked_json(s, rows, n, i));
	}
	free(rows);
	/* processes that only tt-metal's shared memory reports */
	ttmetal_append_processes(s, list);
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
	json_t *obj = model_buffer_json(b->device, b->address, b->size, b->type, rec->pid, rec->comm);
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
	REGISTRY_FOR_EACH_PROCESS (r, p) {
		if (listed >= q->limit || skipped + listed >= total)
			break;
		if (q->pid && p != proc)
			continue;
		const struct process_record *rec = registry_process(r, p);
		REGISTRY_FOR_EACH_BUFFER (r, p, b) {
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
	json_util_set_uint(obj, "buffer_count", total);
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
	json_object_set_new(obj, "name", model_text(rep->comm));
	int known = rep->uid != PROTO_UID_UNKNOWN; /* a stale tt-metal shm slot: whose it was is unknown */
	json_object_set_new(obj, "user", known ? json_string(json_util_user_name(rep->uid)) : json_null());
	json_object_set_new(obj, "uid", known ? model_uint(rep->uid) : json_null());
	json_object_set_new(obj, "session", model_text(rep->session));
	json_util_set_uint(obj, "exit_time", rep->exit_ns / 1000000u);
	json_util_set_uint(obj, "buffer_count", rep->buffers);
	json_util_set_uint(obj, "bytes", rep->bytes);
	json_util_set_str(obj, "source", ttmetal_source_name(rep->source ? TTMETAL_SOURCE_SHM : TTMETAL_SOURCE_SOCKET));
	json_t *devices = json_array();
	for (int d = 0; d < PROTO_MAX_DEVICES; d++) {
		if (!rep->device_buffers[d])
			continue;
		json_array_append_new(devices,
				      json_pack("{s:i, s:I, s:I}", "device_id", d, "bytes",
						(json_int_t)rep->device_bytes[d], "buffer_count",
						(json_int_t)rep->device_buffers[d]));
	}
	json_object_set_new(obj, "devices", devices);
	json_t *buffers = json_array();
	uint64_t from = offset < rep->kept ? offset : rep->kept;
	uint64_t listed = rep->kept - from < limit ? rep->kept - from : limit;
	for (uint64_t i = from; i < from + listed; i++) {
		const struct leak_buffer *e = &rep->entries[i];
		json_t *b = model_buffer_json(e->device, e->address, e->size, e->type, rep->pid, rep->comm);
		json_object_set_new(b, "age_seconds", json_real((double)e->age_ns / 1e9));
		json_object_set_new(b, "stack",
				    e->stack_text == LEAK_NO_STACK ? json_null()
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
		json_array_append_new(devices,
				      json_pack("{s:i, s:I, s:I}", "device_id", d, "leaked_bytes_total",
						(json_int_t)h->leaked_bytes[d], "leaked_buffers_total",
						(json_int_t)h->leaked_buffers[d]));
	}
	json_t *obj = json_object();
	json_util_set_uint(obj, "leak_reports_total", h->reports_total);
	json_util_set_uint(obj, "reports_kept", h->count);
	json_util_set_uint(obj, "leaked_bytes_total", bytes);
	json_util_set_uint(obj, "leaked_buffers_total", buffers);
	json_object_set_new(obj, "devices", devices);
	json_object_set_new(obj, "reports", reports);
	return obj;
}

/* ---- history ---- */

/* A series is named after the total it samples. */
static const char *const kind_keys[HISTORY_KINDS] = {"dram_allocated", "l1_allocated", "l1_small_allocated",
						     "trace_allocated"};

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
			const struct history_point *p = series ? history_series_point(h, series, n)
							       : history_device_point(h, n, device);
			if (!p)
				continue;
			any = 1;
			for (int k = 0; k < HISTORY_KINDS; k++)
				if (p->used[k] > peak.used[k])
					peak.used[k] = p->used[k];
		}
		for (int k = 0; k < HISTORY_KINDS; k++)
			json_array_append_new(arrays[k], any ? model_uint(peak.used[k]) : json_null());
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
	json_util_set_uint(obj, "capacity_samples", h->cap);
	json_t *times = json_array();
	for (uint64_t n = from; n < to; n += step) {
		/* a bucket is stamped with its newest sample */
		uint64_t last = n + step - 1 < to ? n + step - 1 : to - 1;
		json_array_append_new(times, model_uint(history_time(h, last)));
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
		json_object_set_new(dev, "temperature_c", temps);
		json_object_set_new(dev, "power_w", powers);
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
		json_object_set_new(proc, "name", model_text(sr->comm));
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
	json_object_set_new(obj, "uptime_seconds", json_real((double)(clock_monotonic_ns() - s->start_ns) / 1e9));
	json_object_set_new(obj, "device_count", json_integer(s->state.devices.count));
	json_util_set_uint(obj, "connection_count", s->ingest.conns.count);
	json_util_set_uint(obj, "process_count", s->state.registry.process_count);
	json_util_set_uint(obj, "buffer_count", s->state.registry.live_buffers);
	json_util_set_str(obj, "socket_path", s->opts.socket_path);
	json_util_set_str(obj, "hostname", s->state.hostname);
	json_object_set_new(obj, "ttmetal_shm", ttmetal_status_json(s));
	/* the dashboard: up (the answer came over it), or, for /healthz read over
	 * the socket (DOC_QUERY), waiting for its port or off; and how many
	 * tries found its port in use */
	json_object_set_new(obj, "http",
			    json_pack("{s:s, s:i, s:I}", "state", proto_http_state_name(s->ingest.http_state), "port",
				      (int)s->ingest.http_port, "port_in_use_tries", (json_int_t)s->http_failures));
	return obj;
}

json_t *api_event(struct server *s, uint64_t seq)
{
	json_t *obj = json_object();
	json_util_set_uint(obj, "seq", seq);
	json_util_set_uint(obj, "time", clock_realtime_ns() / 1000000u);
	json_object_set_new(obj, "devices", api_devices(s));
	json_util_set_uint(obj, "process_count", s->state.registry.process_count);
	json_util_set_uint(obj, "leak_reports_total", s->state.leaks.reports_total);
	json_util_set_uint(obj, "alloc_failures_total", s->state.ooms.total);
	return obj;
}

/* ---- the documents as routes (api_diag.h): HTTP and DOC_QUERY alike ---- */

void api_devices_doc(struct server *s, const char *rest, const struct api_params *p, struct api_doc *doc)
{
	(void)p;
	if (!*rest) {
		doc->json = api_devices(s);
		return;
	}
	char *end;
	errno = 0;
	long id = strtol(rest + 1, &end, 10);
	int stats = strcmp(end, "/stats") == 0;
	if (end == rest + 1 || rest[1] == '-' || rest[1] == '+' || errno || (*end && !stats)) {
		api_doc_fail(doc, 404, "no such endpoint; use /api/devices/<id>/stats");
		return;
	}
	if (id < 0 || id >= s->state.devices.count) {
		api_doc_fail(doc, 404, "device %ld does not exist: devices are 0..%d", id, s->state.devices.count - 1);
		return;
	}
	doc->json = stats ? api_device_stats(s, (int)id) : api_device(s, (int)id);
}

void api_processes_doc(struct server *s, const char *rest, const struct api_params *p, struct api_doc *doc)
{
	(void)rest;
	(void)p;
	doc->json = api_processes(s);
}

/* The limit= and offset= of a page of buffers: 0, or -1 with a 400 in doc. */
static int page_params(const struct api_params *p, uint64_t *limit, uint64_t *offset, struct api_doc *doc)
{
	*limit = API_BUFFERS_DEFAULT_LIMIT;
	*offset = 0;
	if (api_param_uint(p, "limit", API_BUFFERS_MAX_LIMIT, limit, doc) < 0 ||
	    api_param_uint(p, "offset", UINT32_MAX, offset, doc) < 0)
		return -1;
	return 0;
}

void api_buffers_doc(struct server *s, const char *rest, const struct api_params *p, struct api_doc *doc)
{
	(void)rest;
	struct api_buffer_query q;
	if (api_param_device(s, p, &q.device, doc) < 0 || api_param_pid(p, &q.pid, doc) < 0 ||
	    page_params(p, &q.limit, &q.offset, doc) < 0)
		return;
	doc->json = api_buffers(s, &q);
}

/* /api/leaks, and /api/leaks/<id>?limit=&offset=: one leak report and a page of its buffers. */
void api_leaks_doc(struct server *s, const char *rest, const struct api_params *p, struct api_doc *doc)
{
	if (!*rest) {
		doc->json = api_leaks(s);
		return;
	}
	struct api_leak_query q;
	char *end;
	errno = 0;
	unsigned long long id = strtoull(rest + 1, &end, 10);
	if (end == rest + 1 || rest[1] == '-' || rest[1] == '+' || errno || *end) {
		api_doc_fail(doc, 404, "no such endpoint; use /api/leaks/<id>");
		return;
	}
	q.id = id;
	if (page_params(p, &q.limit, &q.offset, doc) < 0)
		return;
	doc->json = api_leak(s, &q);
	if (doc->json)
		return;
	const struct leak_history *h = &s->state.leaks;
	if (!h->count)
		api_doc_fail(doc, 404, "leak report %llu is not kept: there is none", id);
	else
		api_doc_fail(doc, 404, "leak report %llu is not kept: the kept ones are %llu..%llu", id,
			     (unsigned long long)(h->reports_total - h->count + 1),
			     (unsigned long long)h->reports_total);
}

void api_history_doc(struct server *s, const char *rest, const struct api_params *p, struct api_doc *doc)
{
	(void)rest;
	struct api_history_query q = {.points = API_HISTORY_DEFAULT_POINTS};
	uint64_t points = API_HISTORY_DEFAULT_POINTS;
	if (api_param_device(s, p, &q.device, doc) < 0 || api_param_pid(p, &q.pid, doc) < 0 ||
	    api_param_uint(p, "seconds", 366ull * 24 * 3600, &q.seconds, doc) < 0 ||
	    api_param_uint(p, "points", API_HISTORY_MAX_POINTS, &points, doc) < 0)
		return;
	if (points == 0) {
		api_doc_fail(doc, 400, "points must be 1..%u", API_HISTORY_MAX_POINTS);
		return;
	}
	q.points = (uint32_t)points;
	doc->json = api_history(s, &q);
}

void api_health_doc(struct server *s, const char *rest, const struct api_params *p, struct api_doc *doc)
{
	(void)rest;
	(void)p;
	doc->json = api_health(s);
}
