/*
 * metrics_text.h - writing the Prometheus text exposition (format 0.0.4):
 * the helpers every part of /metrics shares (metrics.c, metrics_process.c,
 * metrics_http.c): family headers, escaped label values, buffer type labels.
 */
#ifndef TTALLOC_HTTP_METRICS_TEXT_H
#define TTALLOC_HTTP_METRICS_TEXT_H

#include "common/strbuf.h"

/* An escaped label value in a small buffer (process names are 15 bytes, users 31, pods 253). */
struct metrics_value {
	char v[600];
};

/* `value` escaped for a label (metrics_escape_label), cut to fit. */
struct metrics_value metrics_esc(const char *value);

/* The # HELP and # TYPE lines of a family. */
void metrics_family(struct strbuf *t, const char *name, const char *type, const char *help);

/* Label value of a buffer type in ttalloc_*_memory_*{type=...} ("dram", "l1", ...). */
const char *metrics_type_label(unsigned type);

#endif /* TTALLOC_HTTP_METRICS_TEXT_H */
