/*
 * diag_render.c - tt_smi's diagnosis documents as text (diag.h): a
 * post-mortem, an address map as a strip, the diff of two snapshots.
 */
#define _GNU_SOURCE
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

/* ---- small readers of the documents ---- */

static uint64_t get_uint(const json_t *obj, const char *key)
{
	json_int_t v = json_integer_value(json_object_get(obj, key));
	return v > 0 ? (uint64_t)v : 0;
}

static const char *get_str(const json_t *obj, const char *key)
{
	const char *s = json_string_value(json_object_get(obj, key));
	return s ? s : "";
}

static char *bytes(char *buf, size_t size, uint64_t v)
{
	return format_bytes_spaced(buf, size, v);
}

/* Appends the frames of a stack array joined by " <- " (innermost first), at most `max` of them. */
static void add_stack_line(struct strbuf *out, const json_t *frames, size_t max)
{
	size_t i;
	json_t *f;
	if (!json_is_array(frames) || json_array_size(frames) == 0) {
		strbuf_addstr(out, "(no stack: TT_ALLOC_STACK_TRACE=1 records them)");
		return;
	}
	json_array_foreach(frames, i, f)
	{
		if (i == max) {
			strbuf_addstr(out, " <- ...");
			break;
		}
		strbuf_addf(out, "%s%s", i ? " <- " : "", json_string_value(f));
	}
}

/* ---- --oom ---- */

static void oom_head(struct strbuf *out, const json_t *r, time_t now)
{
	char when[64], size[FORMAT_BYTES_LEN];
	time_t t = (time_t)(get_uint(r, "time") / 1000);
	struct tm tm;
	strftime(when, sizeof(when), "%Y-%m-%d %H:%M:%S", localtime_r(&t, &tm));
	strbuf_addf(out, "Allocation failure %" PRIu64 " at %s (%lld s ago): PID %d (%s) on device %d\n",
		    get_uint(r, "id"), when, (long long)(now > t ? now - t : 0), (int)get_uint(r, "pid"),
		    get_str(r, "name"), (int)get_uint(r, "device_id"));
	bytes(size, sizeof(size), get_uint(r, "requested_bytes"));
	strbuf_addf(out, "  %s buffer of %s: %s\n", get_str(r, "type"), size, get_str(r, "summary"));
}

static void oom_memory(struct strbuf *out, const json_t *r)
{
	char cap[FORMAT_BYTES_LEN] = "N/A", used[FORMAT_BYTES_LEN], mine[FORMAT_BYTES_LEN];
	if (json_is_integer(json_object_get(r, "capacity_bytes")))
		bytes(cap, sizeof(cap), get_uint(r, "capacity_bytes"));
	strbuf_addf(out, "  memory: capacity %s, in use %s (every process), %s by this process", cap,
		    bytes(used, sizeof(used), get_uint(r, "used_bytes")),
		    bytes(mine, sizeof(mine), get_uint(r, "process_used_bytes")));
	if (json_is_real(json_object_get(r, "fragmentation")))
		strbuf_addf(out, "; fragmentation %.0f%% in %" PRIu64 " free blocks",
			    100.0 * json_real_value(json_object_get(r, "fragmentation")),
			    get_uint(r, "free_block_count"));
	strbuf_addstr(out, "\n  requested at: ");
	add_stack_line(out, json_object_get(r, "stack"), 6);
	strbuf_addstr(out, "\n");
}

static void oom_holders(struct strbuf *out, const json_t *r)
{
	size_t i;
	json_t *h;
	strbuf_addstr(out, "  top holders:\n");
	json_array_foreach(json_object_get(r, "holders"), i, h)
	{
		char b[FORMAT_BYTES_LEN];
		strbuf_addf(out, "    PID %-8d %-16s %12s in %" PRIu64 " buffers\n", (int)get_uint(h, "pid"),
			    get_str(h, "name"), bytes(b, sizeof(b), get_uint(h, "bytes")), get_uint(h, "buffer_count"));
	}
}

static void oom_buffers(struct strbuf *out, const json_t *r)
{
	size_t i;
	json_t *b;
	strbuf_addstr(out, "  biggest live buffers:\n");
	json_array_foreach(json_object_get(r, "buffers"), i, b)
	{
		char size[FORMAT_BYTES_LEN];
		strbuf_addf(out, "    %-14s %12s %-8s PID %-8d age %8.1f s  ", get_str(b, "address"),
			    bytes(size, sizeof(size), get_uint(b, "size")), get_str(b, "type"), (int)get_uint(b, "pid"),
			    json_real_value(json_object_get(b, "age_seconds")));
		add_stack_line(out, json_object_get(b, "stack"), 3);
		strbuf_addstr(out, "\n");
	}
}

static void oom_events(struct strbuf *out, const json_t *r, size_t max)
{
	size_t i;
	json_t *e;
	strbuf_addf(out, "  last events of PID %d (newest first):\n", (int)get_uint(r, "pid"));
	json_array_foreach(json_object_get(r, "recent_events"), i, e)
	{
		if (i == max)
			break;
		char size[FORMAT_BYTES_LEN];
		const char *addr = json_string_value(json_object_get(e, "address"));
		strbuf_addf(out, "    %-12s %12s %-8s %-14s %10.6f s before  ", get_str(e, "kind"),
			    bytes(size, sizeof(size), get_uint(e, "size")), get_str(e, "type"), addr ? addr : "",
			    json_real_value(json_object_get(e, "seconds_before")));
		/* a free: where it was freed (the call's own stack), else where the buffer was allocated */
		const json_t *call = json_object_get(e, "call_stack");
		add_stack_line(out, json_is_array(call) ? call : json_object_get(e, "stack"), 2);
		strbuf_addstr(out, "\n");
	}
}

void smi_render_oom(struct strbuf *out, const json_t *report, time_t now)
{
	if (!report) {
		strbuf_addstr(out, "No allocation failure reported since the server started.\n");
		return;
	}
	oom_head(out, report, now);
	oom_memory(out, report);
	oom_holders(out, report);
	oom_buffers(out, report);
	oom_events(out, report, 10);
}

/* ---- --map ---- */

/* The strip's character for a cell's occupancy: holes are dots. */
static const char *cell_char(double used)
{
	if (used <= 0.0)
		return "·";
	if (used >= 0.999)
		return "█";
	return used >= 0.5 ? "▓" : "░";
}

void smi_render_map(struct strbuf *out, const json_t *map, int width)
{
	char cap[FORMAT_BYTES_LEN], used[FORMAT_BYTES_LEN], fr[FORMAT_BYTES_LEN], big[FORMAT_BYTES_LEN],
		bank[FORMAT_BYTES_LEN];
	json_t *pid = json_object_get(map, "pid");
	strbuf_addf(out, "Device %d %s, %s: %" PRIu64 " banks of %s from %s\n", (int)get_uint(map, "device_id"),
		    get_str(map, "type"), json_is_integer(pid) ? "one process's view" : "every process",
		    get_uint(map, "bank_count"), bytes(bank, sizeof(bank), get_uint(map, "bank_size")),
		    get_str(map, "base"));
	if (json_is_integer(pid))
		strbuf_addf(out, "  (PID %d)\n", (int)json_integer_value(pid));
	strbuf_addstr(out, "  [");
	size_t i;
	json_t *c;
	json_array_foreach(json_object_get(map, "cells"), i, c)
	{
		if ((int)i < width)
			strbuf_addstr(out, cell_char(json_real_value(c)));
	}
	strbuf_addstr(out, "]\n");
	strbuf_addf(out,
		    "  capacity %s, used %s, free %s in %" PRIu64 " blocks, largest free block %s: fragmentation "
		    "%.0f%%\n",
		    bytes(cap, sizeof(cap), get_uint(map, "capacity_bytes")),
		    bytes(used, sizeof(used), get_uint(map, "used_bytes")),
		    bytes(fr, sizeof(fr), get_uint(map, "free_bytes")), get_uint(map, "free_block_count"),
		    bytes(big, sizeof(big), get_uint(map, "largest_free_bytes")),
		    100.0 * json_real_value(json_object_get(map, "fragmentation")));
	json_array_foreach(json_object_get(map, "free_blocks"), i, c)
	{
		if (i == 5)
			break;
		char b[FORMAT_BYTES_LEN];
		strbuf_addf(out, "%s%s at %s",
			    i ? ", " : "  largest free blocks: ", bytes(b, sizeof(b), get_uint(c, "size")),
			    get_str(c, "address"));
	}
	if (json_array_size(json_object_get(map, "free_blocks")))
		strbuf_addstr(out, "\n");
	if (get_uint(map, "outside_buffer_count"))
		strbuf_addf(out, "  %" PRIu64 " buffers lie outside the range (another allocator's addresses?)\n",
			    get_uint(map, "outside_buffer_count"));
}
