/*
 * diag_diff.c - tt_smi --diff: two snapshot documents (/api/snapshot)
 * compared buffer by buffer when both list every buffer, else by their
 * complete per-(process, device, type, stack) groups; then added up with
 * common/diff.h, as the server's /api/diff is.
 */
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/array.h"
#include "common/diff.h"
#include "common/errors.h"
#include "common/format.h"
#include "common/protocol.h"
#include "smi/diag.h"

/* What one comparison builds: the items and the stack texts they point to. */
struct diff_build {
	struct diff_item *items;
	size_t n, cap;
	char **texts;
	size_t ntexts, texts_cap;
};

static void build_release(struct diff_build *b)
{
	for (size_t i = 0; i < b->ntexts; i++)
		free(b->texts[i]);
	free(b->texts);
	free(b->items);
}

static json_int_t get_int(const json_t *obj, const char *key)
{
	return json_integer_value(json_object_get(obj, key));
}

static int type_code(const char *name)
{
	for (unsigned t = 0; name && t < TTALLOC_BUFFER_TYPES; t++)
		if (strcmp(proto_buffer_type_name(t), name) == 0)
			return (int)t;
	return TTALLOC_DRAM;
}

/* The stack text ("at f (file:line)" lines) of a stack_id in a snapshot's "stacks", kept in b; NULL if none. */
static const char *stack_text(struct diff_build *b, const json_t *snap, const json_t *id)
{
	char key[24];
	if (!json_is_integer(id))
		return NULL;
	snprintf(key, sizeof(key), "%" JSON_INTEGER_FORMAT, json_integer_value(id));
	const json_t *frames = json_object_get(json_object_get(snap, "stacks"), key);
	size_t i;
	json_t *f;
	struct strbuf text = STRBUF_INIT;
	json_array_foreach(frames, i, f)
	{
		strbuf_addf(&text, "%sat %s", i ? "\n" : "", json_string_value(f));
	}
	if (!text.len || ARRAY_RESERVE(b->texts, b->texts_cap, b->ntexts + 1) < 0) {
		strbuf_release(&text);
		return NULL;
	}
	b->texts[b->ntexts] = strbuf_detach(&text, NULL);
	return b->texts[b->ntexts++];
}

static int add_item(struct diff_build *b, const json_t *obj, const json_t *snap, uint64_t size, uint64_t buffers,
		    int freed)
{
	if (ARRAY_RESERVE(b->items, b->cap, b->n + 1) < 0)
		return TTALLOC_ENOMEM;
	struct diff_item *it = &b->items[b->n++];
	memset(it, 0, sizeof(*it));
	it->pid = (pid_t)get_int(obj, "pid");
	proto_set_string(it->comm, sizeof(it->comm), json_string_value(json_object_get(obj, "name")));
	it->device = (int)get_int(obj, "device_id");
	it->type = type_code(json_string_value(json_object_get(obj, "type")));
	const char *addr = json_string_value(json_object_get(obj, "address"));
	it->address = addr ? strtoull(addr, NULL, 16) : 0;
	it->size = size;
	it->buffers = buffers;
	it->stack = stack_text(b, snap, json_object_get(obj, "stack_id"));
	it->freed = freed;
	return 0;
}

/* "pid/device/address/allocated_at/size": what makes a buffer the same one in two snapshots. */
static void buffer_key(const json_t *buf, char *key, size_t size)
{
	snprintf(key, size,
		 "%" JSON_INTEGER_FORMAT "/%" JSON_INTEGER_FORMAT "/%s/%" JSON_INTEGER_FORMAT "/%" JSON_INTEGER_FORMAT,
		 get_int(buf, "pid"), get_int(buf, "device_id"), json_string_value(json_object_get(buf, "address")),
		 get_int(buf, "allocated_at"), get_int(buf, "size"));
}

/* Items for the buffers of `from` that `to` does not have (freed: they went; else they appeared). */
static int missing_buffers(struct diff_build *b, const json_t *from, const json_t *to, int freed)
{
	json_t *keys = json_object();
	size_t i;
	json_t *buf;
	char key[160];
	json_array_foreach(json_object_get(to, "buffers"), i, buf)
	{
		buffer_key(buf, key, sizeof(key));
		json_object_set_new(keys, key, json_true());
	}
	int rc = 0;
	json_array_foreach(json_object_get(from, "buffers"), i, buf)
	{
		buffer_key(buf, key, sizeof(key));
		if (!json_object_get(keys, key) &&
		    (rc = add_item(b, buf, from, (uint64_t)get_int(buf, "size"), 1, freed)) < 0)
			break;
	}
	json_decref(keys);
	return rc;
}

/* A group's key: process, device, type and the text of its stack (ids differ between servers). */
static void group_key(struct diff_build *b, const json_t *g, const json_t *snap, char *key, size_t size)
{
	size_t mark = b->ntexts;
	const char *stack = stack_text(b, snap, json_object_get(g, "stack_id"));
	snprintf(key, size, "%" JSON_INTEGER_FORMAT "/%" JSON_INTEGER_FORMAT "/%s/%s", get_int(g, "pid"),
		 get_int(g, "device_id"), json_string_value(json_object_get(g, "type")), stack ? stack : "");
	while (b->ntexts > mark) /* only the key needed it */
		free(b->texts[--b->ntexts]);
}

/* Totals only: each group's change of bytes, as one item (allocated when it grew, freed when it shrank). */
static int group_changes(struct diff_build *b, const json_t *a, const json_t *bsnap)
{
	json_t *before = json_object();
	size_t i;
	json_t *g;
	char key[4096];
	json_array_foreach(json_object_get(a, "groups"), i, g)
	{
		group_key(b, g, a, key, sizeof(key));
		json_object_set(before, key, g);
	}
	int rc = 0;
	json_array_foreach(json_object_get(bsnap, "groups"), i, g)
	{
		group_key(b, g, bsnap, key, sizeof(key));
		json_t *old = json_object_get(before, key);
		json_int_t delta = get_int(g, "bytes") - (old ? get_int(old, "bytes") : 0);
		json_int_t dbuf = get_int(g, "buffer_count") - (old ? get_int(old, "buffer_count") : 0);
		json_object_del(before, key);
		if (delta &&
		    (rc = add_item(b, g, bsnap, (uint64_t)(delta < 0 ? -delta : delta),
				   (uint64_t)(dbuf < 0 ? -dbuf : dbuf), delta < 0)) < 0)
			break;
	}
	const char *k;
	json_object_foreach(before, k, g) /* groups gone entirely */
	{
		if (rc == 0)
			rc = add_item(b, g, a, (uint64_t)get_int(g, "bytes"), (uint64_t)get_int(g, "buffer_count"), 1);
	}
	json_decref(before);
	return rc;
}

/* 1 when a snapshot lists every buffer it counted (version 1 wrote buffers_listed and buffers_total). */
static int complete(const json_t *snap)
{
	if (json_object_get(snap, "buffers_omitted"))
		return get_int(snap, "buffers_omitted") == 0;
	return get_int(snap, "buffers_listed") == get_int(snap, "buffers_total");
}

/* "+1.0 GB" / "-512.0 MB" / "0 B" for a signed growth. */
static char *signed_bytes(char *buf, size_t size, int64_t v)
{
	char mag[FORMAT_BYTES_LEN];
	format_bytes_spaced(mag, sizeof(mag), v < 0 ? (uint64_t)-v : (uint64_t)v);
	snprintf(buf, size, "%s%s", v > 0 ? "+" : v < 0 ? "-" : "", mag);
	return buf;
}

static void section(struct strbuf *out, const struct diff_total *t, size_t n, enum diff_by by, size_t max)
{
	static const char *const titles[] = {"Per process", "Per buffer type", "Per allocation stack"};
	strbuf_addf(out, "%s (largest growth first):\n", titles[by]);
	for (size_t i = 0; i < n && i < max; i++) {
		char g[FORMAT_BYTES_LEN + 1], a[FORMAT_BYTES_LEN], f[FORMAT_BYTES_LEN];
		signed_bytes(g, sizeof(g), t[i].growth);
		format_bytes_spaced(a, sizeof(a), t[i].allocated_bytes);
		format_bytes_spaced(f, sizeof(f), t[i].freed_bytes);
		strbuf_addf(out, "  %12s  (+%s in %" PRIu64 ", -%s in %" PRIu64 ")  ", g, a, t[i].allocated_buffers, f,
			    t[i].freed_buffers);
		if (by == DIFF_BY_PROCESS)
			strbuf_addf(out, "PID %d (%s)", (int)t[i].pid, t[i].comm);
		else if (by == DIFF_BY_TYPE)
			strbuf_addstr(out, proto_buffer_type_name((unsigned)t[i].type));
		else if (!t[i].stack)
			strbuf_addstr(out, "(no stack: TT_ALLOC_STACK_TRACE=1 records them)");
		else
			for (const char *s = t[i].stack, *end; *s; s = *end ? end + 1 : end) {
				end = strchr(s, '\n');
				if (!end)
					end = s + strlen(s);
				strbuf_addf(out, "%s%.*s", s == t[i].stack ? "" : " <- ", (int)(end - s - 3), s + 3);
			}
		strbuf_addstr(out, "\n");
	}
	if (n > max)
		strbuf_addf(out, "  ... and %zu more\n", n - max);
}

static int add_section(struct strbuf *out, const struct diff_build *b, enum diff_by by, size_t max)
{
	struct diff_total *t;
	size_t n;
	if (diff_totals(b->items, b->n, by, &t, &n) < 0)
		return TTALLOC_ENOMEM;
	section(out, t, n, by, max);
	free(t);
	return 0;
}

int smi_render_snapshot_diff(struct strbuf *out, const json_t *a, const json_t *b, const char *a_name,
			     const char *b_name)
{
	struct diff_build build = {0};
	int exact = complete(a) && complete(b);
	int rc = exact ? missing_buffers(&build, b, a, 0) : group_changes(&build, a, b);
	if (rc == 0 && exact)
		rc = missing_buffers(&build, a, b, 1);
	uint64_t sums[2] = {0, 0}, counts[2] = {0, 0};
	for (size_t i = 0; i < build.n; i++) {
		sums[build.items[i].freed] += build.items[i].size;
		counts[build.items[i].freed] += build.items[i].buffers;
	}
	char al[FORMAT_BYTES_LEN], fr[FORMAT_BYTES_LEN], gr[FORMAT_BYTES_LEN + 1];
	format_bytes_spaced(al, sizeof(al), sums[0]);
	format_bytes_spaced(fr, sizeof(fr), sums[1]);
	signed_bytes(gr, sizeof(gr), (int64_t)sums[0] - (int64_t)sums[1]);
	strbuf_addf(out,
		    "Diff of %s and %s\n  allocated +%s in %" PRIu64 " buffers, freed -%s in %" PRIu64
		    " buffers: growth %s\n",
		    a_name, b_name, al, counts[0], fr, counts[1], gr);
	if (!exact)
		strbuf_addstr(out,
			      "  (a snapshot lists only its biggest buffers: compared by totals per process, "
			      "type and stack)\n");
	for (int by = DIFF_BY_PROCESS; rc == 0 && by <= DIFF_BY_STACK; by++)
		rc = add_section(out, &build, (enum diff_by)by, by == DIFF_BY_STACK ? 20 : 50);
	build_release(&build);
	return rc;
}
