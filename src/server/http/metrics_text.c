/*
 * metrics_text.c - the exposition format's pieces every part of /metrics
 * writes (metrics_text.h).
 */
#include "server/http/metrics_text.h"

#include <stdio.h>

#include "common/protocol.h"
#include "server/http/api.h"

size_t metrics_escape_label(char *dst, size_t cap, const char *value)
{
	size_t n = 0;
	for (const char *p = value; *p; p++) {
		const char *rep = NULL;
		char one[2] = {*p, 0};
		switch (*p) {
		case '\\':
			rep = "\\\\";
			break;
		case '"':
			rep = "\\\"";
			break;
		case '\n':
			rep = "\\n";
			break;
		default:
			rep = one;
			break;
		}
		for (const char *r = rep; *r; r++, n++)
			if (n + 1 < cap)
				dst[n] = *r;
	}
	if (cap)
		dst[n < cap ? n : cap - 1] = '\0';
	return n;
}

struct metrics_value metrics_esc(const char *value)
{
	struct metrics_value l;
	metrics_escape_label(l.v, sizeof(l.v), value);
	return l;
}

void metrics_family(struct strbuf *t, const char *name, const char *type, const char *help)
{
	strbuf_addf(t, "# HELP %s %s\n# TYPE %s %s\n", name, help, name, type);
}

const char *metrics_type_label(unsigned type)
{
	static const char *const labels[TTALLOC_BUFFER_TYPES] = {
		[TTALLOC_DRAM] = "dram",         [TTALLOC_L1] = "l1",       [TTALLOC_SYSTEM_MEMORY] = "system_memory",
		[TTALLOC_L1_SMALL] = "l1_small", [TTALLOC_TRACE] = "trace", [TTALLOC_CB] = "cb",
		[TTALLOC_KERNEL] = "kernel",
	};
	return type < TTALLOC_BUFFER_TYPES && labels[type] ? labels[type] : "unknown";
}
