/*
 * format.c - byte counts for people (see format.h).
 */
#include "format.h"

#include <stdio.h>

static const char *const units[] = {"B", "KB", "MB", "GB", "TB"};
enum { UNIT_COUNT = sizeof(units) / sizeof(units[0]) };

/* Index of the largest unit in which `bytes` is at least 1. */
static int unit_for(uint64_t bytes)
{
	int unit = 0;
	while (unit + 1 < UNIT_COUNT && bytes >= (1ull << (10 * (unit + 1))))
		unit++;
	return unit;
}

static char *format_in_unit(char *buf, size_t size, uint64_t bytes, int decimals, const char *sep)
{
	int unit = unit_for(bytes);
	if (unit == 0)
		snprintf(buf, size, "%llu%s%s", (unsigned long long)bytes, sep, units[0]);
	else
		snprintf(buf, size, "%.*f%s%s", decimals, (double)bytes / (double)(1ull << (10 * unit)), sep,
			 units[unit]);
	return buf;
}

char *format_bytes_compact(char *buf, size_t size, uint64_t bytes, int decimals)
{
	return format_in_unit(buf, size, bytes, decimals, "");
}

char *format_bytes_seed(char *buf, size_t size, uint64_t bytes)
{
	return format_in_unit(buf, size, bytes, 2, " ");
}

unsigned format_percent(uint64_t used, uint64_t total)
{
	if (total == 0)
		return 0;
	return (unsigned)((long double)used * 100.0L / (long double)total);
}
