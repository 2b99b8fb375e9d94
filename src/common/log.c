/*
 * log.c - levelled, buffered logging to stdout (see log.h).
 */
#include "log.h"

#include <stdarg.h>
#include <stdio.h>
#include <strings.h>

static enum log_level current_level = LOG_INFO;

void log_set_level(enum log_level level)
{
	current_level = level;
}

enum log_level log_get_level(void)
{
	return current_level;
}

int log_enabled(enum log_level level)
{
	return level <= current_level;
}

int log_level_parse(const char *text, enum log_level *level)
{
	static const struct {
		const char *name;
		enum log_level level;
	} names[] = {
		{"error", LOG_ERROR}, {"fatal", LOG_ERROR}, {"warn", LOG_WARN},   {"warning", LOG_WARN},
		{"info", LOG_INFO},   {"debug", LOG_DEBUG}, {"trace", LOG_DEBUG},
	};
	if (!text)
		return -1;
	for (size_t i = 0; i < sizeof(names) / sizeof(names[0]); i++) {
		if (strcasecmp(text, names[i].name) == 0) {
			*level = names[i].level;
			return 0;
		}
	}
	return -1;
}

void log_line(enum log_level level, const char *fmt, ...)
{
	if (!log_enabled(level))
		return;
	va_list ap;
	va_start(ap, fmt);
	vfprintf(stdout, fmt, ap);
	va_end(ap);
	fputc('\n', stdout);
}

void log_flush(void)
{
	fflush(stdout);
}
