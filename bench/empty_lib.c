/*
 * empty_lib.c - libbench_empty.so (empty_lib.h): an empty call across a
 * shared-library boundary.
 */
#include "empty_lib.h"

int bench_empty_report_alloc(int device_id, enum ttalloc_buffer_type type, uint64_t address, uint64_t size)
{
	(void)device_id, (void)type, (void)address, (void)size;
	return 0;
}
