/*
 * empty_lib.h - libbench_empty.so: the floor of row 7 (bench/README.md).
 *
 * A function with ttalloc_report_alloc's signature that does nothing, in a
 * shared library of its own, so that the benchmark calls it through the PLT
 * exactly as an application calls libttalloc with tracking disabled.
 */
#ifndef TTALLOC_BENCH_EMPTY_LIB_H
#define TTALLOC_BENCH_EMPTY_LIB_H

#include <stdint.h>

#include "ttalloc.h"

/* Returns 0 and does nothing else. */
int bench_empty_report_alloc(int device_id, enum ttalloc_buffer_type type, uint64_t address, uint64_t size);

#endif /* TTALLOC_BENCH_EMPTY_LIB_H */
