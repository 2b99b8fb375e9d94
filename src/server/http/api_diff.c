/*
 * api_diff.c - what changed between two marks (/api/diff) and the whole
 * picture as one document for tt_smi --snapshot and --diff
 * (/api/snapshot). See api_diag.h.
 */
#include <inttypes.h>
#include <stdlib.h>
#include <string.h>

#include "common/clock.h"
#include "common/diff.h"
#include "model/model.h"
#include "server/http/api.h"
#include "server/http/api_diag.h"
#include "server/http/json_util.h"
#include "server/server.h"
#include "server/state/diff.h"

/* ---- /api/diff?from=A&to=B&pid=&limit= ---- */

/*
 * A mark parameter: its mark, or *now for "now" (allowed when
 * `now_allowed`). Returns 0, or -1 with a 400/404 in doc.
 */
static int mark_param(struct server *s, const struct api_params *p, const char *name, int now_allowed,
		      const struct mark **mk, struct api_doc *doc)
{
	const char *label = p->get(p->ctx, name);
	*mk = NULL;
	if (!label || !*label) {
		if (now_allowed)
			return 0;
		return api_doc_fail(doc, 400, "%s= is required: the label of a mark (see /api/marks)", name);
	}
	if (strcmp(label, "now") == 0) {
		if (now_allowed)
			return 0;
		return api_doc_fail(doc, 400, "%s=now: the diff must start at a mark", name);
	}
	*mk = marks_find(&s->state.marks, label);
	if (!*mk)
		return api_doc_fail(doc, 404, "no mark '%.80s' (the server keeps the last %u; see /api/marks)", label,
				    MARKS_KEEP);
	return 0;
}

static json_t *end_json(const struct mark *mk)
{
	if (!mk)
		return json_string("now");
	return json_pack("{s:I, s:s, s:I}", "id", (json_int_t)mk->id, "label", mk->label, "time",
			 (json_int_t)(mk->real_ns / 1000000u));
}

static json_t *item_json(const struct diff_item *it)
{
	json_t *o = model_buffer_json(it->device, it->address, it->size, (unsigned)it->type, it->pid, it->comm);
	json_object_set_new(o, "stack", json_util_stack(it->stack));
	return o;
}

/* {"buffer_count", "bytes", "buffers"} of the allocated (freed = 0) or freed side, biggest buffers first. */
static json_t *side_json(const struct diff_item *items, size_t n, int freed, uint64_t limit)
{
	uint64_t buffers = 0, bytes = 0;
	json_t *list = json_array();
	for (size_t i = 0; i < n; i++) {
		if (items[i].freed != freed)
			continue;
		buffers += items[i].buffers;
		bytes += items[i].size;
		if (json_array_size(list) < limit)
			json_array_append_new(list, item_json(&items[i]));
	}
	json_t *o = json_object();
	json_util_set_uint(o, "buffer_count", buffers);
	json_util_set_uint(o, "bytes", bytes);
	json_object_set_new(o, "buffers", list);
	return o;
}

static json_t *total_json(const struct diff_total *t, enum diff_by by)
{
	json_t *o = json_object();
	if (by == DIFF_BY_PROCESS) {
		json_object_set_new(o, "pid", json_integer(t->pid));
		json_object_set_new(o, "name", model_text(t->comm));
	} else if (by == DIFF_BY_TYPE) {
		json_util_set_str(o, "type", proto_buffer_type_name((unsigned)t->type));
	} else {
		json_object_set_new(o, "stack", json_util_stack(t->stack));
	}
	json_util_set_uint(o, "allocated_bytes", t->allocated_bytes);
	json_util_set_uint(o, "allocated_buffer_count", t->allocated_buffers);
	json_util_set_uint(o, "freed_bytes", t->freed_bytes);
	json_util_set_uint(o, "freed_buffer_count", t->freed_buffers);
	json_object_set_new(o, "growth_bytes", json_integer(t->growth));
	return o;
}

/* The items added up by `by`, largest growth first; NULL when out of memory. */
static json_t *totals_json(const struct diff_item *items, size_t n, enum diff_by by)
{
	struct diff_total *totals;
	size_t count;
	if (diff_totals(items, n, by, &totals, &count) < 0)
		return NULL;
	json_t *list = json_array();
	for (size_t i = 0; i < count; i++)
		json_array_append_new(list, total_json(&totals[i], by));
	free(totals);
	return list;
}

/* The diff document of a span's items. */
static json_t *diff_json(const struct diff_item *items, size_t n, uint64_t limit)
{
	json_t *o = json_object();
	json_t *allocated = side_json(items, n, 0, limit), *freed = side_json(items, n, 1, limit);
	int64_t growth = (int64_t)json_integer_value(json_object_get(allocated, "bytes")) -
		(int64_t)json_integer_value(json_object_get(freed, "bytes"));
	json_object_set_new(o, "allocated", allocated);
	json_object_set_new(o, "freed", freed);
	json_object_set_new(o, "growth_bytes", json_integer(growth));
	json_t *by_process = totals_json(items, n, DIFF_BY_PROCESS), *by_type = totals_json(items, n, DIFF_BY_TYPE),
	       *by_stack = totals_json(items, n, DIFF_BY_STACK);
	if (!by_process || !by_type || !by_stack) {
		json_decref(by_process);
		json_decref(by_type);
		json_decref(by_stack);
		json_decref(o);
		return NULL;
	}
	json_object_set_new(o, "by_process", by_process);
	json_object_set_new(o, "by_type", by_type);
	json_object_set_new(o, "by_stack", by_stack);
	return o;
}

void api_diff(struct server *s, const char *rest, const struct api_params *p, struct api_doc *doc)
{
	(void)rest;
	const struct mark *from, *to;
	pid_t pid;
	uint64_t limit = API_DIFF_DEFAULT_ITEMS;
	if (mark_param(s, p, "from", 0, &from, doc) < 0 || mark_param(s, p, "to", 1, &to, doc) < 0 ||
	    api_param_pid(p, &pid, doc) < 0 || api_param_uint(p, "limit", API_DIFF_MAX_ITEMS, &limit, doc) < 0)
		return;
	if (to && to->mono_ns < from->mono_ns) {
		api_doc_fail(doc, 400, "mark '%.60s' (to) was made before '%.60s' (from)", to->label, from->label);
		return;
	}
	struct diff_span span = {.from_ns = from->mono_ns, .to_ns = to ? to->mono_ns : UINT64_MAX, .pid = pid};
	struct diff_item *items = NULL;
	size_t n = 0;
	int exact = 0;
	if (diff_collect(&s->state, &span, &items, &n, &exact) == 0) {
		diff_sort_items(items, n);
		doc->json = diff_json(items, n, limit);
	}
	free(items);
	if (!doc->json)
		return;
	json_object_set_new(doc->json, "from", end_json(from));
	json_object_set_new(doc->json, "to", end_json(to));
	json_object_set_new(doc->json, "pid", pid ? json_integer(pid) : json_null());
	json_object_set_new(doc->json, "exact", json_boolean(exact));
	if (!exact)
		json_util_set_str(doc->json, "inexact_reason",
				  "the journal of frees overflowed after the first mark: older frees are missing");
}

/* ---- /api/snapshot?limit= ---- */

/* One live buffer of the picture, with its owner and pooled stack. */
struct snap_entry {
	const struct process_record *rec;
	const struct live_buffer *buf;
	uint32_t stack; /* stack_pool id */
};

static int by_group(const void *x, const void *y)
{
	const struct snap_entry *a = x, *b = y;
	if (a->rec->pid != b->rec->pid)
		return a->rec->pid < b->rec->pid ? -1 : 1;
	if (a->buf->device != b->buf->device)
		return a->buf->device < b->buf->device ? -1 : 1;
	if (a->buf->type != b->buf->type)
		return a->buf->type < b->buf->type ? -1 : 1;
	return a->stack < b->stack ? -1 : a->stack > b->stack;
}

static int by_size_desc(const void *x, const void *y)
{
	const struct snap_entry *a = x, *b = y;
	if (a->buf->size != b->buf->size)
		return a->buf->size > b->buf->size ? -1 : 1;
	return by_group(x, y);
}

/* What collect_entries fills. */
struct entry_list {
	struct server *s;
	struct snap_entry *entries;
	size_t n;
};

static void add_entry(struct process_record *rec, const struct live_buffer *b, void *ctx)
{
	struct entry_list *l = ctx;
	l->entries[l->n++] = (struct snap_entry){rec, b,
						 stacks_pool_id(rec->stacks, b->stack, &l->s->state.stack_pool)};
}

/* Every live buffer (not CB or kernel records). NULL when out of memory (n = 0 is not). */
static struct snap_entry *collect_entries(struct server *s, size_t *n)
{
	struct entry_list l = {s, malloc((s->state.registry.live_buffers + 1) * sizeof(struct snap_entry)), 0};
	if (l.entries)
		api_each_buffer(s, add_entry, &l);
	*n = l.n;
	return l.entries;
}

/* "groups": bytes and buffers per (pid, device, type, stack), every buffer counted. */
static json_t *groups_json(struct snap_entry *e, size_t n)
{
	qsort(e, n, sizeof(*e), by_group);
	json_t *list = json_array();
	for (size_t i = 0; i < n;) {
		size_t j = i;
		uint64_t bytes = 0;
		for (; j < n && by_group(&e[i], &e[j]) == 0; j++)
			bytes += e[j].buf->size;
		json_t *g = json_object();
		json_object_set_new(g, "pid", json_integer(e[i].rec->pid));
		json_object_set_new(g, "name", model_text(e[i].rec->comm));
		json_object_set_new(g, "device_id", json_integer(e[i].buf->device));
		json_util_set_str(g, "type", proto_buffer_type_name(e[i].buf->type));
		json_object_set_new(g, "stack_id",
				    e[i].stack == STACK_POOL_NONE ? json_null() : json_integer(e[i].stack));
		json_util_set_uint(g, "bytes", bytes);
		json_util_set_uint(g, "buffer_count", j - i);
		json_array_append_new(list, g);
		i = j;
	}
	return list;
}

/* "buffers": the biggest `limit` buffers; their stacks go into `stacks`. */
static json_t *buffers_json(struct server *s, struct snap_entry *e, size_t n, uint64_t limit, json_t *stacks)
{
	qsort(e, n, sizeof(*e), by_size_desc);
	uint64_t now_mono = clock_monotonic_ns(), now_real = clock_realtime_ns();
	json_t *list = json_array();
	for (size_t i = 0; i < n && i < limit; i++) {
		const struct live_buffer *b = e[i].buf;
		uint64_t age = now_mono > b->alloc_ns ? now_mono - b->alloc_ns : 0;
		json_t *o = model_buffer_json(b->device, b->address, b->size, b->type, e[i].rec->pid, e[i].rec->comm);
		json_util_set_uint(o, "allocated_at", (now_real > age ? now_real - age : 0) / 1000000u);
		json_object_set_new(o, "stack_id",
				    e[i].stack == STACK_POOL_NONE ? json_null() : json_integer(e[i].stack));
		json_array_append_new(list, o);
		char key[16];
		snprintf(key, sizeof(key), "%u", e[i].stack);
		if (e[i].stack != STACK_POOL_NONE && !json_object_get(stacks, key))
			json_object_set_new(stacks, key, api_stack_json(s, e[i].stack));
	}
	return list;
}

/* Every group's stack in `stacks` too, so a diff of two snapshots can name them. */
static void add_group_stacks(struct server *s, json_t *groups, json_t *stacks)
{
	size_t i;
	json_t *g;
	json_array_foreach(groups, i, g)
	{
		json_t *id = json_object_get(g, "stack_id");
		char key[24];
		snprintf(key, sizeof(key), "%" JSON_INTEGER_FORMAT, json_integer_value(id));
		if (json_is_integer(id) && !json_object_get(stacks, key))
			json_object_set_new(stacks, key, api_stack_json(s, (uint32_t)json_integer_value(id)));
	}
}

void api_snapshot(struct server *s, const char *rest, const struct api_params *p, struct api_doc *doc)
{
	(void)rest;
	uint64_t limit = API_SNAPSHOT_DEFAULT_BUFFERS;
	if (api_param_uint(p, "limit", API_SNAPSHOT_MAX_BUFFERS, &limit, doc) < 0)
		return;
	size_t n;
	struct snap_entry *entries = collect_entries(s, &n);
	if (!entries)
		return;
	json_t *o = json_object(), *stacks = json_object();
	json_util_set_str(o, "format", "ttalloc-snapshot");
	json_object_set_new(o, "version", json_integer(API_SNAPSHOT_VERSION));
	json_util_set_uint(o, "time", clock_realtime_ns() / 1000000u);
	json_object_set_new(o, "devices", api_devices(s));
	json_object_set_new(o, "processes", api_processes(s));
	json_util_set_uint(o, "buffer_count", n);
	json_util_set_uint(o, "buffers_omitted", n < limit ? 0 : n - limit);
	json_object_set_new(o, "buffers", buffers_json(s, entries, n, limit, stacks));
	json_t *groups = groups_json(entries, n);
	add_group_stacks(s, groups, stacks);
	json_object_set_new(o, "groups", groups);
	json_object_set_new(o, "stacks", stacks);
	free(entries);
	doc->json = o;
}
