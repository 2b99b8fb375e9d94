/*
 * api_export.c - address maps (/api/devices/<id>/map) and the exports for
 * the tools people already use: live bytes by allocation stack as
 * collapsed stacks (/api/export/stacks: flamegraph.pl, inferno,
 * speedscope) and memory over time as Chrome Trace Event Format JSON
 * (/api/export/trace: Perfetto UI, chrome://tracing). See api_diag.h.
 */
#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/clock.h"
#include "common/strbuf.h"
#include "model/model.h"
#include "server/http/api.h"
#include "server/http/api_diag.h"
#include "server/http/json_util.h"
#include "server/server.h"
#include "server/state/addrmap.h"

/* ---- /api/devices/<id>/map?type=&pid=&blocks=&cells= ---- */

/* The device of "<id>/map". Returns 0, or -1 with a 404. */
static int map_device(struct server *s, const char *rest, int *device, struct api_doc *doc)
{
	char *end;
	errno = 0;
	long id = strtol(rest, &end, 10);
	if (end == rest || rest[0] == '-' || rest[0] == '+' || errno || strcmp(end, "/map") != 0)
		return api_doc_fail(doc, 404, "no such endpoint; use /api/devices/<id>/map");
	if (id < 0 || id >= s->state.devices.count)
		return api_doc_fail(doc, 404, "device %ld does not exist: devices are 0..%d", id,
				    s->state.devices.count - 1);
	*device = (int)id;
	return 0;
}

/* The process record of pid= (REGISTRY_NONE when absent). Returns 0, or -1 with a 404. */
static int map_process(struct server *s, pid_t pid, uint32_t *proc, struct api_doc *doc)
{
	*proc = pid ? registry_find_pid(&s->state.registry, pid) : REGISTRY_NONE;
	if (pid && *proc == REGISTRY_NONE)
		return api_doc_fail(doc, 404, "PID %d reports no buffers to the server", (int)pid);
	return 0;
}

static json_t *map_json(const struct addrmap *m, int device, int region, pid_t pid)
{
	json_t *o = json_object();
	json_object_set_new(o, "device_id", json_integer(device));
	json_util_set_str(o, "type", device_region_name((enum device_region)region));
	json_object_set_new(o, "pid", pid ? json_integer(pid) : json_null());
	json_object_set_new(o, "base", model_address(m->geo.base));
	json_util_set_uint(o, "bank_size", m->geo.bank_size);
	json_util_set_uint(o, "bank_count", m->geo.banks);
	json_util_set_uint(o, "alignment", m->geo.alignment);
	json_util_set_uint(o, "capacity_bytes", m->capacity);
	json_util_set_uint(o, "used_bytes", m->used);
	json_util_set_uint(o, "free_bytes", m->free);
	json_util_set_uint(o, "largest_free_bytes", m->largest_free);
	json_object_set_new(o, "fragmentation", json_real(m->fragmentation));
	json_util_set_uint(o, "buffer_count", m->buffers);
	json_util_set_uint(o, "outside_buffer_count", m->outside);
	json_t *blocks = json_array();
	for (uint32_t i = 0; i < m->block_count; i++) {
		json_t *b = json_object();
		json_object_set_new(b, "address", model_address(m->blocks[i].address));
		json_util_set_uint(b, "size", m->blocks[i].size);
		json_array_append_new(blocks, b);
	}
	json_object_set_new(o, "free_blocks", blocks);
	json_util_set_uint(o, "free_block_count", m->blocks_total);
	json_t *cells = json_array();
	for (uint32_t i = 0; i < m->cell_count; i++)
		json_array_append_new(cells, json_real(m->cells[i]));
	json_object_set_new(o, "cells", cells);
	return o;
}

void api_map(struct server *s, const char *rest, const struct api_params *p, struct api_doc *doc)
{
	int device = 0, type = -1;
	pid_t pid = 0;
	uint32_t proc = REGISTRY_NONE;
	uint64_t blocks = API_MAP_DEFAULT_BLOCKS, cells = 0;
	if (map_device(s, rest, &device, doc) < 0 || api_param_type(p, &type, doc) < 0 ||
	    api_param_pid(p, &pid, doc) < 0 || api_param_uint(p, "blocks", ADDRMAP_MAX_BLOCKS, &blocks, doc) < 0 ||
	    api_param_uint(p, "cells", ADDRMAP_MAX_CELLS, &cells, doc) < 0 || map_process(s, pid, &proc, doc) < 0)
		return;
	enum device_region region = device_region_of(type < 0 ? TTALLOC_DRAM : (unsigned)type);
	if (region == DEVICE_REGION_NONE) {
		api_doc_fail(doc, 400, "no address map for %s buffers: type is dram, l1, l1_small or trace",
			     proto_buffer_type_name((unsigned)type));
		return;
	}
	const struct device_memory_map *geo = device_info_map(&s->state.devices.devices[device].info, region);
	if (!geo) {
		api_doc_fail(doc, 404, "device %d's backend does not give the address ranges of its %s", device,
			     device_region_name(region));
		return;
	}
	struct addrmap m;
	struct addrmap_query q = {.device = device,
				  .region = region,
				  .proc = proc,
				  .max_blocks = (uint32_t)blocks,
				  .cells = (uint32_t)cells};
	if (addrmap_build(&m, &s->state.registry, geo, &q) == 0)
		doc->json = map_json(&m, device, region, pid);
	addrmap_release(&m);
}

/* ---- /api/export/stacks?device=&type=&pid= ---- */

/* Live bytes of one (process name, stack). */
struct stack_bytes {
	const char *comm;
	uint32_t stack; /* stack_pool id */
	uint64_t bytes;
};

static int by_comm_stack(const void *x, const void *y)
{
	const struct stack_bytes *a = x, *b = y;
	int c = strcmp(a->comm, b->comm);
	return c ? c : a->stack < b->stack ? -1 : a->stack > b->stack;
}

static int by_bytes_desc(const void *x, const void *y)
{
	const struct stack_bytes *a = x, *b = y;
	return a->bytes > b->bytes ? -1 : a->bytes < b->bytes ? 1 : by_comm_stack(x, y);
}

/* The filters of the export, and the entries it gathers. */
struct stack_filter {
	int device, type;
	pid_t pid;
	struct server *s;
	struct stack_bytes *e;
	size_t count;
};

static void add_stack_bytes(struct process_record *rec, const struct live_buffer *b, void *ctx)
{
	struct stack_filter *f = ctx;
	if ((f->device < 0 || b->device == f->device) && (f->type < 0 || b->type == f->type) &&
	    (!f->pid || rec->pid == f->pid))
		f->e[f->count++] = (struct stack_bytes){rec->comm,
							stacks_pool_id(rec->stacks, b->stack, &f->s->state.stack_pool),
							b->size};
}

/* One entry per matching buffer, then merged per (name, stack) and sorted by bytes. */
static struct stack_bytes *stack_totals(struct server *s, struct stack_filter *f, size_t *n)
{
	f->s = s;
	f->count = 0;
	f->e = malloc((s->state.registry.live_buffers + 1) * sizeof(*f->e));
	if (!f->e)
		return NULL;
	api_each_buffer(s, add_stack_bytes, f);
	struct stack_bytes *e = f->e;
	qsort(e, f->count, sizeof(*e), by_comm_stack);
	size_t out = 0;
	for (size_t i = 0; i < f->count; i++) {
		if (out && by_comm_stack(&e[out - 1], &e[i]) == 0)
			e[out - 1].bytes += e[i].bytes;
		else
			e[out++] = e[i];
	}
	qsort(e, out, sizeof(*e), by_bytes_desc);
	*n = out;
	return e;
}

/* A frame name for the collapsed format: no ';' (the separator) and no line breaks. */
static void add_frame(struct strbuf *out, const char *frame, size_t len)
{
	for (size_t i = 0; i < len; i++)
		strbuf_add(out, frame[i] == ';' ? ":" : &frame[i], 1);
}

/* Appends "name;outer;...;leaf" of a pooled stack (stored innermost first). */
static void add_collapsed(struct strbuf *out, const char *comm, const char *text)
{
	add_frame(out, comm[0] ? comm : "?", strlen(comm[0] ? comm : "?"));
	if (!text) {
		strbuf_addstr(out, ";[no stack]");
		return;
	}
	const char *lines[PROTO_STACK_MAX_DEPTH];
	size_t lens[PROTO_STACK_MAX_DEPTH];
	int n = 0;
	for (const char *t = text; *t && n < PROTO_STACK_MAX_DEPTH;) {
		size_t len = strcspn(t, "\n"), skip = strncmp(t, "at ", 3) == 0 ? 3 : 0;
		lines[n] = t + skip;
		lens[n++] = len - skip;
		t += len + (t[len] == '\n');
	}
	while (n-- > 0) {
		strbuf_addstr(out, ";");
		add_frame(out, lines[n], lens[n]);
	}
}

void api_export_stacks(struct server *s, const char *rest, const struct api_params *p, struct api_doc *doc)
{
	(void)rest;
	struct stack_filter f = {0};
	if (api_param_device(s, p, &f.device, doc) < 0 || api_param_type(p, &f.type, doc) < 0 ||
	    api_param_pid(p, &f.pid, doc) < 0)
		return;
	size_t n = 0;
	struct stack_bytes *totals = stack_totals(s, &f, &n);
	if (!totals)
		return;
	struct strbuf out = STRBUF_INIT;
	for (size_t i = 0; i < n; i++) {
		add_collapsed(&out, totals[i].comm, stack_pool_text(&s->state.stack_pool, totals[i].stack));
		strbuf_addf(&out, " %" PRIu64 "\n", totals[i].bytes);
	}
	free(totals);
	strbuf_addstr(&out, ""); /* an empty export is an empty text, not NULL */
	doc->text = strbuf_detach(&out, &doc->len);
	doc->content_type = "text/plain; charset=utf-8";
}

/* ---- /api/export/trace?seconds=&points= ---- */

/* Counter tracks of device N are the trace's process TRACE_DEVICE_PID + N: above any Linux pid (2^22). */
#define TRACE_DEVICE_PID 4194304
#define TRACE_DEFAULT_POINTS 600u

/* The series of /api/history (api_history) and their track names. */
static const char *const kind_keys[] = {"dram_allocated", "l1_allocated", "l1_small_allocated", "trace_allocated"};
static const char *const kind_names[] = {"DRAM", "L1", "L1_SMALL", "TRACE"};
enum { TRACE_KINDS = sizeof(kind_keys) / sizeof(kind_keys[0]) };

/* {"name":"process_name","ph":"M",...}: names the trace process `pid`. */
static void trace_name(json_t *events, int pid, const char *name)
{
	json_array_append_new(events,
			      json_pack("{s:s, s:s, s:i, s:i, s:{s:s}}", "name", "process_name", "ph", "M", "pid", pid,
					"tid", 0, "args", "name", name));
}

/* A counter event ("C"): the args are the series' values at ts. */
static void trace_counter(json_t *events, const char *name, uint64_t ts_us, int pid, json_t *args)
{
	json_array_append_new(events,
			      json_pack("{s:s, s:s, s:I, s:i, s:i, s:o}", "name", name, "ph", "C", "ts",
					(json_int_t)ts_us, "pid", pid, "tid", 0, "args", args));
}

/* An instant event ("i") of scope "g" (global) or "p" (process). */
static void trace_instant(json_t *events, const char *name, uint64_t ts_us, int pid, const char *scope, json_t *args)
{
	json_array_append_new(events,
			      json_pack("{s:s, s:s, s:I, s:i, s:i, s:s, s:o}", "name", name, "ph", "i", "ts",
					(json_int_t)ts_us, "pid", pid, "tid", 0, "s", scope, "args", args));
}

/* Counter tracks per device and type from the history document (api_history). */
static void device_tracks(struct server *s, json_t *events, json_t *hist)
{
	json_t *times = json_object_get(hist, "timestamps"), *dev;
	size_t d;
	json_array_foreach(json_object_get(hist, "devices"), d, dev)
	{
		int id = (int)json_integer_value(json_object_get(dev, "device_id"));
		char name[96];
		snprintf(name, sizeof(name), "Device %d (%s)", id, s->state.devices.devices[id].info.name);
		trace_name(events, TRACE_DEVICE_PID + id, name);
		for (int k = 0; k < TRACE_KINDS; k++) {
			json_t *values = json_object_get(dev, kind_keys[k]);
			for (size_t i = 0; i < json_array_size(values); i++)
				if (json_is_integer(json_array_get(values, i)))
					trace_counter(events, kind_names[k],
						      (uint64_t)json_integer_value(json_array_get(times, i)) * 1000u,
						      TRACE_DEVICE_PID + id,
						      json_pack("{s:O}", "bytes", json_array_get(values, i)));
		}
	}
}

/* The values of one process series at sample i, {"DRAM": ..., ...}, or NULL when it has none then. */
static json_t *process_values(json_t *proc, size_t i)
{
	json_t *args = NULL;
	for (int k = 0; k < TRACE_KINDS; k++) {
		json_t *v = json_array_get(json_object_get(proc, kind_keys[k]), i);
		if (!json_is_integer(v))
			continue;
		if (!args)
			args = json_object();
		json_object_set(args, kind_names[k], v);
	}
	return args;
}

/* A counter track per process and device, from the history document. */
static void process_tracks(json_t *events, json_t *hist)
{
	json_t *times = json_object_get(hist, "timestamps"), *proc;
	size_t n;
	json_array_foreach(json_object_get(hist, "processes"), n, proc)
	{
		int pid = (int)json_integer_value(json_object_get(proc, "pid"));
		char name[64], track[32];
		snprintf(name, sizeof(name), "%s (pid %d)", json_string_value(json_object_get(proc, "name")), pid);
		snprintf(track, sizeof(track), "device %d",
			 (int)json_integer_value(json_object_get(proc, "device_id")));
		trace_name(events, pid, name);
		for (size_t i = 0; i < json_array_size(times); i++) {
			json_t *args = process_values(proc, i);
			if (args)
				trace_counter(events, track,
					      (uint64_t)json_integer_value(json_array_get(times, i)) * 1000u, pid,
					      args);
		}
	}
}

/* Instant events: leaks, post-mortems, marks and misuse since `since_ns` (CLOCK_REALTIME). */
static void instants(struct server *s, json_t *events, uint64_t since_ns)
{
	char name[192];
	const struct leak_history *lh = &s->state.leaks;
	for (uint32_t i = 0; i < lh->count; i++) {
		const struct leak_report *r = leak_history_get(lh, i);
		snprintf(name, sizeof(name), "leak: PID %d (%s) left %" PRIu64 " buffers", (int)r->pid, r->comm,
			 r->buffers);
		if (r->exit_ns >= since_ns)
			trace_instant(events, name, r->exit_ns / 1000u, r->pid, "p",
				      json_pack("{s:I, s:I}", "bytes", (json_int_t)r->bytes, "buffer_count",
						(json_int_t)r->buffers));
	}
	for (uint32_t i = 0; i < s->state.ooms.count; i++) {
		const struct oom_report *r = oom_newest(&s->state.ooms, i);
		snprintf(name, sizeof(name), "OOM: PID %d (%s), %" PRIu64 " bytes %s on device %d", (int)r->pid,
			 r->comm, r->requested, proto_buffer_type_name(r->type), r->device);
		if (r->time_ns >= since_ns)
			trace_instant(events, name, r->time_ns / 1000u, TRACE_DEVICE_PID + r->device, "g",
				      json_pack("{s:I, s:s}", "id", (json_int_t)r->id, "cause",
						format_oom_cause_label(r->cause)));
	}
	for (uint32_t i = 0; i < s->state.marks.count; i++) {
		const struct mark *m = marks_get(&s->state.marks, i);
		snprintf(name, sizeof(name), "mark: %s", m->label);
		if (m->real_ns >= since_ns)
			trace_instant(events, name, m->real_ns / 1000u, m->pid, "g",
				      json_pack("{s:I, s:s}", "id", (json_int_t)m->id, "label", m->label));
	}
	for (uint32_t i = 0; i < s->state.misuse.count; i++) {
		const struct misuse_entry *e = misuse_get(&s->state.misuse, i);
		snprintf(name, sizeof(name), "misuse: %s", misuse_kind_label(e->kind));
		if (e->time_ns >= since_ns)
			trace_instant(events, name, e->time_ns / 1000u, e->pid, "p",
				      json_pack("{s:i, s:o}", "device_id", e->device, "address",
						model_address(e->address)));
	}
}

void api_export_trace(struct server *s, const char *rest, const struct api_params *p, struct api_doc *doc)
{
	(void)rest;
	uint64_t seconds = 0, points = TRACE_DEFAULT_POINTS;
	if (api_param_uint(p, "seconds", 366ull * 24 * 3600, &seconds, doc) < 0 ||
	    api_param_uint(p, "points", API_HISTORY_MAX_POINTS, &points, doc) < 0)
		return;
	struct api_history_query q = {.device = -1, .seconds = seconds, .points = points ? (uint32_t)points : 1};
	json_t *hist = api_history(s, &q);
	json_t *events = json_array();
	device_tracks(s, events, hist);
	process_tracks(events, hist);
	uint64_t now = clock_realtime_ns();
	instants(s, events, seconds && now > seconds * 1000000000ull ? now - seconds * 1000000000ull : 0);
	json_decref(hist);
	doc->json = json_pack("{s:o, s:s, s:{s:s, s:s}}", "traceEvents", events, "displayTimeUnit", "ms", "otherData",
			      "generator", "ttalloc " TTALLOC_VERSION, "clock", "microseconds since the Unix epoch");
}
