/*
 * api_diag.c - the diagnosis documents' routing and parameters, for HTTP
 * and DOC_QUERY alike (api_diag.h), and the documents of post-mortems,
 * misuse and marks.
 */
#include "server/http/api_diag.h"

#include <errno.h>
#include <inttypes.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "common/cli.h"
#include "common/clock.h"
#include "common/errors.h"
#include "model/model.h"
#include "server/http/json_util.h"
#include "server/server.h"
#include "server/state/flight.h"

/* ---- post-mortems: /api/oom, /api/oom/<id> ---- */

static const char *flight_kind_name(unsigned kind)
{
	return kind == FLIGHT_ALLOC           ? "alloc"
		: kind == FLIGHT_FREE         ? "free"
		: kind == FLIGHT_ALLOC_FAILED ? "alloc_failed"
					      : "?";
}

static json_t *holders_json(const struct oom_report *rep)
{
	json_t *list = json_array();
	for (uint32_t i = 0; i < rep->holder_count; i++) {
		const struct oom_holder *h = &rep->holders[i];
		json_t *o = json_object();
		json_object_set_new(o, "pid", json_integer(h->pid));
		json_object_set_new(o, "name", model_text(h->comm));
		json_util_set_uint(o, "bytes", h->bytes);
		json_util_set_uint(o, "buffer_count", h->buffers);
		json_array_append_new(list, o);
	}
	return list;
}

static json_t *buffers_json(struct server *s, const struct oom_report *rep)
{
	json_t *list = json_array();
	for (uint32_t i = 0; i < rep->buffer_count; i++) {
		const struct oom_buffer *b = &rep->buffers[i];
		json_t *o = model_buffer_json(rep->device, b->address, b->size, b->type, b->pid, b->comm);
		json_object_set_new(o, "age_seconds", json_real((double)b->age_ns / 1e9));
		json_object_set_new(o, "stack", api_stack_json(s, b->stack));
		json_array_append_new(list, o);
	}
	return list;
}

static json_t *events_json(struct server *s, const struct oom_report *rep)
{
	json_t *list = json_array();
	for (uint32_t i = 0; i < rep->event_count; i++) {
		const struct oom_event *e = &rep->events[i];
		json_t *o = json_object();
		json_util_set_str(o, "kind", flight_kind_name(e->kind));
		json_object_set_new(o, "device_id", json_integer(e->device));
		json_util_set_str(o, "type", proto_buffer_type_name(e->type));
		if (e->kind == FLIGHT_ALLOC_FAILED)
			json_object_set_new(o, "address", json_null());
		else
			json_object_set_new(o, "address", model_address(e->address));
		json_util_set_uint(o, "size", e->size);
		json_object_set_new(o, "seconds_before", json_real((double)e->age_ns / 1e9));
		json_object_set_new(o, "stack", api_stack_json(s, e->stack));
		json_object_set_new(o, "call_stack", api_stack_json(s, e->call_stack));
		json_array_append_new(list, o);
	}
	return list;
}

/* A figure known only with the address map (else null). */
static json_t *map_figure(const struct oom_report *rep, uint64_t v)
{
	return rep->map_known ? model_uint(v) : json_null();
}

static json_t *oom_json(struct server *s, const struct oom_report *rep)
{
	char summary[256];
	format_oom_verdict(summary, sizeof(summary), rep->requested, rep->free, rep->largest_free, rep->map_known,
			   rep->cause);
	json_t *o = json_object();
	json_util_set_uint(o, "id", rep->id);
	json_util_set_uint(o, "time", rep->time_ns / 1000000u);
	json_object_set_new(o, "pid", json_integer(rep->pid));
	json_object_set_new(o, "name", model_text(rep->comm));
	json_util_set_str(o, "user", json_util_user_name(rep->uid));
	json_object_set_new(o, "session", model_text(rep->session));
	json_object_set_new(o, "device_id", json_integer(rep->device));
	json_util_set_str(o, "type", proto_buffer_type_name(rep->type));
	json_util_set_uint(o, "requested_bytes", rep->requested);
	json_object_set_new(o, "capacity_bytes", rep->capacity_known ? model_uint(rep->capacity) : json_null());
	json_util_set_uint(o, "used_bytes", rep->used);
	json_object_set_new(o, "device_free_bytes", rep->capacity_known ? model_uint(rep->device_free) : json_null());
	json_util_set_uint(o, "process_used_bytes", rep->process_used);
	json_util_set_uint(o, "free_bytes", rep->free);
	json_object_set_new(o, "largest_free_bytes", map_figure(rep, rep->largest_free));
	json_object_set_new(o, "fragmentation", rep->map_known ? json_real(rep->fragmentation) : json_null());
	json_object_set_new(o, "free_block_count", map_figure(rep, rep->free_blocks));
	json_util_set_str(o, "cause", format_oom_cause_label(rep->cause));
	json_util_set_str(o, "summary", summary);
	json_object_set_new(o, "stack", api_stack_json(s, rep->stack));
	json_object_set_new(o, "holders", holders_json(rep));
	json_object_set_new(o, "buffers", buffers_json(s, rep));
	json_object_set_new(o, "recent_events", events_json(s, rep));
	return o;
}

/* Failures since start-up by device and type, where there were any. */
static json_t *failure_counts_json(struct server *s)
{
	json_t *list = json_array();
	for (int d = 0; d < s->state.devices.count; d++)
		for (unsigned t = 0; t < TTALLOC_BUFFER_TYPES; t++)
			if (s->state.ooms.failures[d][t])
				json_array_append_new(list,
						      json_pack("{s:i, s:s, s:I}", "device_id", d, "type",
								proto_buffer_type_name(t), "alloc_failures_total",
								(json_int_t)s->state.ooms.failures[d][t]));
	return list;
}

void api_oom(struct server *s, const char *rest, const struct api_params *p, struct api_doc *doc)
{
	const struct oom_history *h = &s->state.ooms;
	if (*rest) { /* /api/oom/<id> */
		char *end;
		errno = 0;
		unsigned long long id = strtoull(rest + 1, &end, 10);
		const struct oom_report *rep = rest[0] == '/' && rest[1] >= '0' && rest[1] <= '9' && !*end && !errno
			? oom_find(h, id)
			: NULL;
		if (!rep) {
			api_doc_fail(doc, 404, "no post-mortem %.32s: the server keeps the last %u (see /api/oom)",
				     rest + 1, OOM_KEEP);
			return;
		}
		doc->json = oom_json(s, rep);
		return;
	}
	uint64_t limit = OOM_KEEP;
	if (api_param_uint(p, "limit", OOM_KEEP, &limit, doc) < 0)
		return;
	json_t *reports = json_array();
	for (uint32_t i = 0; i < h->count && i < limit; i++)
		json_array_append_new(reports, oom_json(s, oom_newest(h, i)));
	json_t *o = json_object();
	json_util_set_uint(o, "alloc_failures_total", h->total);
	json_util_set_uint(o, "reports_kept", h->count);
	json_object_set_new(o, "alloc_failures", failure_counts_json(s));
	json_object_set_new(o, "reports", reports);
	doc->json = o;
}

/* ---- /api/misuse ---- */

static json_t *misuse_json(struct server *s, const struct misuse_entry *e)
{
	json_t *o = json_object();
	json_util_set_uint(o, "id", e->id);
	json_util_set_uint(o, "time", e->time_ns / 1000000u);
	json_util_set_str(o, "kind", misuse_kind_label(e->kind));
	json_object_set_new(o, "pid", json_integer(e->pid));
	json_object_set_new(o, "name", model_text(e->comm));
	json_object_set_new(o, "device_id", json_integer(e->device));
	json_object_set_new(o, "address", model_address(e->address));
	json_object_set_new(o, "size", e->size ? model_uint(e->size) : json_null());
	json_object_set_new(o, "type",
			    e->type >= 0 ? json_string(proto_buffer_type_name((unsigned)e->type)) : json_null());
	json_object_set_new(o, "other_device_id", e->other_device >= 0 ? json_integer(e->other_device) : json_null());
	json_object_set_new(o, "seconds_since",
			    e->kind == MISUSE_DOUBLE_FREE || e->kind == MISUSE_OVERLAPPING_ALLOC
				    ? json_real((double)e->since_ns / 1e9)
				    : json_null());
	json_object_set_new(o, "alloc_stack", api_stack_json(s, e->alloc_stack));
	json_object_set_new(o, "first_free_stack", api_stack_json(s, e->first_free_stack));
	json_object_set_new(o, "offending_stack", api_stack_json(s, e->call_stack));
	return o;
}

void api_misuse(struct server *s, const char *rest, const struct api_params *p, struct api_doc *doc)
{
	(void)rest;
	const struct misuse_log *log = &s->state.misuse;
	pid_t pid;
	if (api_param_pid(p, &pid, doc) < 0)
		return;
	json_t *totals = json_object();
	for (int k = 0; k < MISUSE_KINDS; k++)
		json_util_set_uint(totals, misuse_kind_label((enum misuse_kind)k), log->total[k]);
	json_t *entries = json_array();
	for (uint32_t i = log->count; i-- > 0;) {
		const struct misuse_entry *e = misuse_get(log, i);
		if (!pid || e->pid == pid)
			json_array_append_new(entries, misuse_json(s, e));
	}
	json_t *o = json_object();
	json_object_set_new(o, "totals", totals);
	json_util_set_uint(o, "entries_kept", log->count);
	json_object_set_new(o, "entries", entries);
	doc->json = o;
}

/* ---- /api/marks ---- */

void api_marks(struct server *s, const char *rest, const struct api_params *p, struct api_doc *doc)
{
	(void)rest;
	(void)p;
	const struct marks *m = &s->state.marks;
	json_t *list = json_array();
	for (uint32_t i = 0; i < m->count; i++) {
		const struct mark *mk = marks_get(m, i);
		json_array_append_new(list,
				      json_pack("{s:I, s:s, s:I, s:i}", "id", (json_int_t)mk->id, "label", mk->label,
						"time", (json_int_t)(mk->real_ns / 1000000u), "pid", (int)mk->pid));
	}
	json_t *o = json_object();
	json_util_set_uint(o, "marks_total", m->total);
	json_util_set_uint(o, "marks_kept", m->count);
	json_util_set_uint(o, "marks_keep_max", MARKS_KEEP);
	json_util_set_uint(o, "journal_entry_count", m->jcount);
	json_util_set_uint(o, "journal_entries_dropped_total", m->dropped);
	json_object_set_new(o, "marks", list);
	doc->json = o;
}

/* ---- routing ---- */

typedef void (*api_doc_fn)(struct server *s, const char *rest, const struct api_params *p, struct api_doc *doc);

static const struct {
	const char *path;
	int subpaths; /* 1: also path/<something> */
	api_doc_fn fn;
} doc_routes[] = {
	{"/api/devices", 1, api_devices_doc},
	{"/api/processes", 0, api_processes_doc},
	{"/api/buffers", 0, api_buffers_doc},
	{"/api/leaks", 1, api_leaks_doc},
	{"/api/history", 0, api_history_doc},
	{"/healthz", 0, api_health_doc},
	{"/api/oom", 1, api_oom},
	{"/api/misuse", 0, api_misuse},
	{"/api/marks", 0, api_marks},
	{"/api/diff", 0, api_diff},
	{"/api/snapshot", 0, api_snapshot},
	{"/api/export/stacks", 0, api_export_stacks},
	{"/api/export/trace", 0, api_export_trace},
};

/* The route of `url` and what follows its path (""), or NULL. /api/devices/<id>/map is api_map's. */
static api_doc_fn route_of(const char *url, const char **rest)
{
	size_t len = strlen(url);
	if (strncmp(url, "/api/devices/", 13) == 0 && len > 17 && strcmp(url + len - 4, "/map") == 0) {
		*rest = url + 13;
		return api_map;
	}
	for (size_t i = 0; i < sizeof(doc_routes) / sizeof(doc_routes[0]); i++) {
		size_t n = strlen(doc_routes[i].path);
		if (strncmp(url, doc_routes[i].path, n) == 0 &&
		    (url[n] == '\0' || (doc_routes[i].subpaths && url[n] == '/'))) {
			*rest = url + n;
			return doc_routes[i].fn;
		}
	}
	return NULL;
}

int api_doc_handles(const char *url)
{
	const char *rest;
	return route_of(url, &rest) != NULL;
}

/* The parameters a document asked for while it was built (asked_get wraps the request's). */
#define ASKED_MAX 16
struct asked {
	const struct api_params *request;
	const char *names[ASKED_MAX + 1]; /* NULL-terminated, for cli_closest */
	int count;
	const char *unknown; /* the first parameter given that was never asked for */
};

static int asked_for(const struct asked *a, const char *key)
{
	for (int i = 0; i < a->count; i++)
		if (strcmp(a->names[i], key) == 0)
			return 1;
	return 0;
}

static const char *asked_get(void *ctx, const char *key)
{
	struct asked *a = ctx;
	if (!asked_for(a, key) && a->count < ASKED_MAX)
		a->names[a->count++] = key;
	return a->request->get(a->request->ctx, key);
}

static int note_unknown(void *arg, const char *key)
{
	struct asked *a = arg;
	if (asked_for(a, key))
		return 0;
	a->unknown = key;
	return 1;
}

/* A 400 for a parameter the document does not take, with the ones it does. */
static void refuse_unknown(struct api_doc *doc, const char *url, const struct asked *a)
{
	char takes[160] = "";
	for (int i = 0; i < a->count; i++)
		snprintf(takes + strlen(takes), sizeof(takes) - strlen(takes), "%s%s", i ? ", " : "", a->names[i]);
	const char *near = cli_closest(a->unknown, strlen(a->unknown), a->names);
	char hint[80] = "";
	if (near)
		snprintf(hint, sizeof(hint), "; did you mean '%s'?", near);
	api_doc_release(doc);
	api_doc_fail(doc, 400, "unknown parameter '%.40s' for %.60s (%s%s)%s", a->unknown, url,
		     a->count ? "it takes " : "it takes none", takes, hint);
}

void api_doc_serve(struct server *s, const char *url, const struct api_params *p, struct api_doc *doc)
{
	memset(doc, 0, sizeof(*doc));
	doc->status = 200;
	const char *rest;
	api_doc_fn fn = route_of(url, &rest);
	if (!fn) {
		api_doc_fail(doc, 404, "no such document: %.100s", url);
		return;
	}
	struct asked asked = {.request = p};
	struct api_params tracked = {asked_get, &asked, NULL};
	fn(s, rest, &tracked, doc);
	if (doc->status == 200 && p->each && p->each(p->ctx, note_unknown, &asked))
		refuse_unknown(doc, url, &asked);
	if (doc->status == 200 && !doc->json && !doc->text)
		api_doc_fail(doc, 500, "out of memory");
	if (doc->status != 200)
		api_doc_release(doc);
}

/* ---- DOC_QUERY: "path?query" ---- */

#define QUERY_MAX_PARAMS 16

struct query_string {
	char buf[2 * PROTO_TEXT_MAX + 2];
	const char *keys[QUERY_MAX_PARAMS];
	const char *values[QUERY_MAX_PARAMS];
	int count;
};

static int hex_digit(char c)
{
	return c >= '0' && c <= '9'    ? c - '0'
		: c >= 'a' && c <= 'f' ? c - 'a' + 10
		: c >= 'A' && c <= 'F' ? c - 'A' + 10
				       : -1;
}

/* URL-decodes `s` in place ("%2F" and "+"). */
static void url_decode(char *s)
{
	char *out = s;
	for (; *s; s++) {
		if (*s == '%' && hex_digit(s[1]) >= 0 && hex_digit(s[2]) >= 0) {
			*out++ = (char)(hex_digit(s[1]) * 16 + hex_digit(s[2]));
			s += 2;
		} else {
			*out++ = *s == '+' ? ' ' : *s;
		}
	}
	*out = '\0';
}

/* Splits "a=1&b=2" (copied into q->buf) into decoded keys and values. */
static void parse_query(struct query_string *q, const char *query)
{
	snprintf(q->buf, sizeof(q->buf), "%s", query);
	q->count = 0;
	for (char *save = NULL, *pair = strtok_r(q->buf, "&", &save); pair && q->count < QUERY_MAX_PARAMS;
	     pair = strtok_r(NULL, "&", &save)) {
		char *eq = strchr(pair, '=');
		if (eq)
			*eq = '\0';
		url_decode(pair);
		if (eq)
			url_decode(eq + 1);
		q->keys[q->count] = pair;
		q->values[q->count++] = eq ? eq + 1 : "";
	}
}

static const char *query_get(void *ctx, const char *key)
{
	const struct query_string *q = ctx;
	for (int i = 0; i < q->count; i++)
		if (strcmp(q->keys[i], key) == 0)
			return q->values[i];
	return NULL;
}

static int query_each(void *ctx, int (*fn)(void *arg, const char *key), void *arg)
{
	const struct query_string *q = ctx;
	for (int i = 0; i < q->count; i++)
		if (fn(arg, q->keys[i]))
			return 1;
	return 0;
}

char *api_doc_document(void *owner, const char *path, size_t *len, char *err)
{
	struct server *s = owner;
	char url[PROTO_TEXT_MAX + 1];
	size_t n = strcspn(path, "?");
	snprintf(url, sizeof(url), "%.*s", (int)n, path);
	struct query_string q;
	parse_query(&q, path[n] ? path + n + 1 : "");
	struct api_params p = {query_get, &q, query_each};
	struct api_doc doc;
	api_doc_serve(s, url, &p, &doc);
	if (doc.status != 200) {
		snprintf(err, ERR_LEN, "%s", doc.error);
		return NULL;
	}
	char *text = doc.text;
	*len = doc.len;
	if (doc.json) {
		text = json_dumps(doc.json, JSON_COMPACT | MODEL_REAL_PRECISION);
		*len = text ? strlen(text) : 0;
		json_decref(doc.json);
	}
	if (!text)
		snprintf(err, ERR_LEN, "out of memory");
	return text;
}
