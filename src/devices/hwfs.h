/*
 * hwfs.h - reading the small text files of sysfs, procfs and hwmon for the
 * hardware backends. Every reader is strict: a missing file, an empty one,
 * or text that is not exactly the expected number is an error (-1), so the
 * caller leaves the reading invalid (N/A) instead of guessing.
 */
#ifndef TTALLOC_HWFS_H
#define TTALLOC_HWFS_H

#include <stddef.h>
#include <stdint.h>

/*
 * The first line of `path` without surrounding white space, into buf.
 * Returns 0, or -1 (unreadable or empty; buf is then "").
 */
int hwfs_read_text(const char *path, char *buf, size_t size);

/* A decimal integer, alone on the first line ("48250\n"). Returns 0 or -1. */
int hwfs_read_i64(const char *path, int64_t *value);

/* A hexadecimal integer with or without 0x ("0x401e\n"). Returns 0 or -1. */
int hwfs_read_hex(const char *path, uint64_t *value);

/* snprintf into buf; returns buf, or NULL when the result did not fit. */
char *hwfs_join(char *buf, size_t size, const char *fmt, ...) __attribute__((format(printf, 3, 4)));

/* 1 when `name` is a non-empty string of decimal digits. */
int hwfs_is_number(const char *name);

#endif /* TTALLOC_HWFS_H */
