/*
 * format.h - human-readable byte counts, shared by the server log, tt_smi
 * and the tools so the same number always reads the same way.
 * Units are binary (1 KB = 1024 B), as in the seed.
 */
#ifndef TTALLOC_FORMAT_H
#define TTALLOC_FORMAT_H

#include <stddef.h>
#include <stdint.h>

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

/* Integer percentage of used/total, rounded down, 0 when total is 0. */
unsigned format_percent(uint64_t used, uint64_t total);

#endif /* TTALLOC_FORMAT_H */
