/*
 * format.h - human-readable byte counts, shared by the server log, tt_smi
 * and the tools so the same number always reads the same way, and the
 * parsing of numbers given on their command lines.
 * Units are binary (1 KB = 1024 B), as in the seed.
 */
#ifndef TTALLOC_FORMAT_H
#define TTALLOC_FORMAT_H

#include <stddef.h>
#include <stdint.h>

#include "common/labels.h"

#define FORMAT_BYTES_LEN 32

/*
 * The largest unit that keeps the value >= 1 (B, KB, MB, GB, TB), with
 * `decimals` digits after the point and no space: "3.5MB", "0B", "1.0GB".
 * Bytes are always printed without decimals. Returns buf.
 */
char *format_bytes_compact(char *buf, size_t size, uint64_t bytes, int decimals);

/*
 * The seed Python client's format_bytes(): two decimals and a space,
 * "3.25 GB", "450.00 MB", "0 B". Returns buf.
 */
char *format_bytes_seed(char *buf, size_t size, uint64_t bytes);

/* One decimal and a space: "2.0 GB", "512.0 MB", "100 B" (post-mortems, maps, diffs). Returns buf. */
char *format_bytes_spaced(char *buf, size_t size, uint64_t bytes);

/* Causes of an allocation failure, as post-mortems name them. */
#define FORMAT_OOM_CAUSES(X, P)                                                 \
	X(P, FRAGMENTATION, "fragmentation", "fragmentation")                   \
	X(P, OUT_OF_MEMORY, "out_of_memory", "not enough free memory")          \
	X(P, TOO_LARGE, "too_large", "larger than the whole memory")            \
	X(P, FITS_NOW, "fits_now", "it would fit now (memory was freed since)") \
	X(P, UNKNOWN, "unknown", "no address map for this memory")

LABELS_ENUM(format_oom_cause, FORMAT_OOM_CAUSES, FORMAT_OOM_, FORMAT_OOM_CAUSE_COUNT);

/* The cause's label ("fragmentation", "out_of_memory"), or "unknown". */
const char *format_oom_cause_label(enum format_oom_cause cause);

/* The cause of a label, or FORMAT_OOM_UNKNOWN. */
enum format_oom_cause format_oom_cause_parse(const char *label);

/*
 * Why a request of `requested` bytes did not fit a memory of `capacity`
 * with `free` bytes free, the largest hole `largest` (map_known 0: no
 * address map, so no largest hole).
 */
enum format_oom_cause format_oom_cause(uint64_t requested, uint64_t capacity, uint64_t free, uint64_t largest,
				       int map_known);

/*
 * The one-line verdict every front end prints: "needs 2.0 GB, 6.0 GB free,
 * largest free block 1.0 GB: fragmentation" (without the largest block
 * when !map_known). Returns buf.
 */
char *format_oom_verdict(char *buf, size_t size, uint64_t requested, uint64_t free, uint64_t largest, int map_known,
			 enum format_oom_cause cause);

/* Integer percentage of used/total, rounded down, 0 when total is 0. */
unsigned format_percent(uint64_t used, uint64_t total);

/*
 * Parses a whole unsigned number in `base` (8, 10, 16; 0: C's prefixes)
 * with nothing around it: no sign, no spaces, no suffix. Returns 0 and
 * sets *value, or -1 when malformed or above max.
 */
int format_parse_unsigned(const char *text, int base, uint64_t max, uint64_t *value);

/*
 * Parses a byte count with an optional 1024-based suffix, any case:
 * "4096", "64K", "2MiB", "1gb", "3T". Returns 0 and sets *bytes, or -1
 * when malformed or beyond 64 bits.
 */
int format_parse_bytes(const char *text, uint64_t *bytes);

#endif /* TTALLOC_FORMAT_H */
