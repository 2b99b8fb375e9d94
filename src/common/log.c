/*
 * log.c - levelled, buffered logging to stdout (see log.h).
 */
#include "common/log.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <strings.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

enum log_level log_current_level = LOG_INFO;

void log_set_level(enum log_level level)
{
	log_current_level = level;
}

enum log_level log_get_level(void)
{
	return log_current_level;
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

/* Lines start with "<N>" (syslog priority) when stdout is the journal. */
static int journal_prefix;

void log_use_journal(int on)
{
	journal_prefix = on;
}

int log_journal_detect(void)
{
	/* systemd sets JOURNAL_STREAM to the device and inode of the stream it
	 * connected: stdout is the journal only when they match (a child that
	 * inherited the variable but writes elsewhere must not prefix) */
	const char *env = getenv("JOURNAL_STREAM");
	unsigned long long dev, ino;
	struct stat st;
	if (!env || sscanf(env, "%llu:%llu", &dev, &ino) != 2 || fstat(STDOUT_FILENO, &st) < 0)
		return 0;
	return (unsigned long long)st.st_dev == dev && (unsigned long long)st.st_ino == ino;
}

/* syslog priorities: err 3, warning 4, info 6, debug 7 */
static const int journal_priority[] = {[LOG_ERROR] = 3, [LOG_WARN] = 4, [LOG_INFO] = 6, [LOG_DEBUG] = 7};

static void write_line(enum log_level level, const char *fmt, va_list ap)
{
	if (journal_prefix)
		fprintf(stdout, "<%d>", journal_priority[level]);
	vfprintf(stdout, fmt, ap);
	fputc('\n', stdout);
}

void log_line(enum log_level level, const char *fmt, ...)
{
	if (!log_enabled(level))
		return;
	va_list ap;
	va_start(ap, fmt);
	write_line(level, fmt, ap);
	va_end(ap);
}

void log_write(enum log_level level, const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	write_line(level, fmt, ap);
	va_end(ap);
}

void log_flush(void)
{
	fflush(stdout);
}

#define NS_PER_SECOND 1000000000ull

static uint64_t monotonic_ns(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * NS_PER_SECOND + (uint64_t)ts.tv_nsec;
}

int log_budget_take(struct log_budget *b, uint32_t per_second)
{
	if (b->used < per_second) {
		if (!b->used)
			b->window_ns = monotonic_ns();
		b->used++;
		return 1;
	}
	uint64_t now = monotonic_ns();
	if (now - b->window_ns >= NS_PER_SECOND && !b->suppressed) {
		b->window_ns = now;
		b->used = 1;
		return 1;
	}
	b->suppressed++;
	return 0;
}

uint64_t log_budget_expire(struct log_budget *b)
{
	if (!b->suppressed || monotonic_ns() - b->window_ns < NS_PER_SECOND)
		return 0;
	uint64_t n = b->suppressed;
	b->suppressed = 0;
	b->used = 0;
	return n;
}
