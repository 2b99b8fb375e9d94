/*
 * hwfs.c - strict readers for sysfs/procfs/hwmon text files (see hwfs.h).
 */
#include "devices/hwfs.h"

#include <ctype.h>
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

int hwfs_read_text(const char *path, char *buf, size_t size)
{
	if (size == 0)
		return -1;
	buf[0] = '\0';
	FILE *f = fopen(path, "r");
	if (!f)
		return -1;
	char line[256];
	char *got = fgets(line, sizeof(line), f);
	fclose(f);
	if (!got)
		return -1;
	char *start = line;
	while (*start && isspace((unsigned char)*start))
		start++;
	size_t len = strlen(start);
	while (len > 0 && isspace((unsigned char)start[len - 1]))
		start[--len] = '\0';
	if (len == 0)
		return -1;
	snprintf(buf, size, "%s", start);
	return 0;
}

int hwfs_read_i64(const char *path, int64_t *value)
{
	char text[64];
	if (hwfs_read_text(path, text, sizeof(text)) < 0)
		return -1;
	char *end;
	errno = 0;
	long long v = strtoll(text, &end, 10);
	if (errno || end == text || *end)
		return -1;
	*value = v;
	return 0;
}

int hwfs_read_hex(const char *path, uint64_t *value)
{
	char text[64];
	if (hwfs_read_text(path, text, sizeof(text)) < 0)
		return -1;
	const char *digits = text;
	if (digits[0] == '0' && (digits[1] == 'x' || digits[1] == 'X'))
		digits += 2;
	if (!isxdigit((unsigned char)*digits))
		return -1;
	char *end;
	errno = 0;
	unsigned long long v = strtoull(digits, &end, 16);
	if (errno || *end)
		return -1;
	*value = v;
	return 0;
}

char *hwfs_join(char *buf, size_t size, const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	int n = vsnprintf(buf, size, fmt, ap);
	va_end(ap);
	if (n < 0 || (size_t)n >= size)
		return NULL;
	return buf;
}

int hwfs_is_number(const char *name)
{
	if (!*name)
		return 0;
	for (; *name; name++)
		if (!isdigit((unsigned char)*name))
			return 0;
	return 1;
}
