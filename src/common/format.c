/*
 * format.c - byte counts for people (see format.h).
 */
#include "common/format.h"

#include <ctype.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

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

char *format_bytes_spaced(char *buf, size_t size, uint64_t bytes)
{
	return format_in_unit(buf, size, bytes, 1, " ");
}

static const struct label causes[FORMAT_OOM_CAUSE_COUNT] = LABELS_TABLE(FORMAT_OOM_CAUSES, FORMAT_OOM_);

const char *format_oom_cause_label(enum format_oom_cause cause)
{
	return labels_label(causes, FORMAT_OOM_CAUSE_COUNT, cause, "unknown");
}

enum format_oom_cause format_oom_cause_parse(const char *label)
{
	int c = labels_find(causes, FORMAT_OOM_CAUSE_COUNT, label);
	return c < 0 ? FORMAT_OOM_UNKNOWN : (enum format_oom_cause)c;
}

enum format_oom_cause format_oom_cause(uint64_t requested, uint64_t capacity, uint64_t free, uint64_t largest,
				       int map_known)
{
	if (capacity && requested > capacity)
		return FORMAT_OOM_TOO_LARGE;
	if (requested > free)
		return FORMAT_OOM_OUT_OF_MEMORY;
	if (!map_known)
		return FORMAT_OOM_UNKNOWN;
	return requested > largest ? FORMAT_OOM_FRAGMENTATION : FORMAT_OOM_FITS_NOW;
}

char *format_oom_verdict(char *buf, size_t size, uint64_t requested, uint64_t free, uint64_t largest, int map_known,
			 enum format_oom_cause cause)
{
	char need[FORMAT_BYTES_LEN], avail[FORMAT_BYTES_LEN], block[FORMAT_BYTES_LEN];
	format_bytes_spaced(need, sizeof(need), requested);
	format_bytes_spaced(avail, sizeof(avail), free);
	format_bytes_spaced(block, sizeof(block), largest);
	const char *why = labels_words(causes, FORMAT_OOM_CAUSE_COUNT, cause, "unknown");
	if (map_known)
		snprintf(buf, size, "needs %s, %s free, largest free block %s: %s", need, avail, block, why);
	else
		snprintf(buf, size, "needs %s, %s free: %s", need, avail, why);
	return buf;
}

unsigned format_percent(uint64_t used, uint64_t total)
{
	if (total == 0)
		return 0;
	return (unsigned)((long double)used * 100.0L / (long double)total);
}

int format_parse_unsigned(const char *text, int base, uint64_t max, uint64_t *value)
{
	if (!*text || *text == '-' || *text == '+' || isspace((unsigned char)*text))
		return -1;
	char *end;
	errno = 0;
	unsigned long long v = strtoull(text, &end, base);
	if (errno || *end || v > max)
		return -1;
	*value = v;
	return 0;
}

int format_parse_bytes(const char *text, uint64_t *bytes)
{
	static const struct {
		const char *suffix[3];
		unsigned shift;
	} suffixes[] = {
		{{"", "b", NULL}, 0},     {{"k", "kb", "kib"}, 10}, {{"m", "mb", "mib"}, 20},
		{{"g", "gb", "gib"}, 30}, {{"t", "tb", "tib"}, 40},
	};
	if (!*text || *text == '-' || *text == '+' || isspace((unsigned char)*text))
		return -1;
	char *end;
	errno = 0;
	unsigned long long v = strtoull(text, &end, 10);
	if (errno || end == text)
		return -1;
	for (size_t u = 0; u < sizeof(suffixes) / sizeof(suffixes[0]); u++) {
		for (size_t i = 0; i < 3 && suffixes[u].suffix[i]; i++) {
			if (strcasecmp(end, suffixes[u].suffix[i]) != 0)
				continue;
			if (v > (UINT64_MAX >> suffixes[u].shift))
				return -1;
			*bytes = (uint64_t)v << suffixes[u].shift;
			return 0;
		}
	}
	return -1;
}
