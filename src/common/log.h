/*
 * log.h - levelled logging for the server and tools.
 *
 * Lines go to stdout (the seed's server prints its event lines there), fully
 * buffered for speed; the server calls log_flush() before it sleeps so that
 * nothing sits in the buffer while it waits. Errors also go to stdout so the
 * log keeps its order; tools print user-facing errors to stderr themselves.
 */
#ifndef TTALLOC_LOG_H
#define TTALLOC_LOG_H

#include <stdint.h>

enum log_level { LOG_ERROR = 0, LOG_WARN, LOG_INFO, LOG_DEBUG };

/* Sets the most verbose level that is printed (default LOG_INFO). */
void log_set_level(enum log_level level);

/* Current level. */
enum log_level log_get_level(void);

/* The level set by log_set_level (read through log_enabled). */
extern enum log_level log_current_level;

/* 1 when a line at `level` would be printed; test it before costly formatting. */
static inline int log_enabled(enum log_level level)
{
	return level <= log_current_level;
}

/*
 * Parses "error", "warn"/"warning", "info", "debug" (any case; tt-metal's
 * "Debug", "Info" too). Returns 0 and sets *level, or -1 when unknown.
 */
int log_level_parse(const char *text, enum log_level *level);

/* printf-style line at `level`; a newline is added. */
void log_line(enum log_level level, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

/*
 * A line at `level` whatever the current level: for a caller that decided
 * already (a client asked for detail with its TT_METAL_LOGGER_LEVEL, an
 * explicit dump).
 */
void log_write(enum log_level level, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

/*
 * 1 when stdout is systemd's journal ($JOURNAL_STREAM names its device and
 * inode). Then log_use_journal(1) makes every line start with its syslog
 * priority ("<4>" for warnings: leaks, allocation failures; "<3>" errors),
 * which journald reads and strips.
 */
int log_journal_detect(void);
void log_use_journal(int on);

/* Writes out buffered lines. */
void log_flush(void);

/*
 * A budget of lines per second for a kind of line that can flood (refused
 * connections, per-event lines at millions of events a second): lines over
 * the budget are counted, and the caller prints one summary line per
 * second instead.
 */
struct log_budget {
	uint64_t window_ns;  /* CLOCK_MONOTONIC start of the current second */
	uint32_t used;       /* lines printed in it */
	uint64_t suppressed; /* lines over the budget in it */
};

/*
 * 1 when a line may be printed (and counts it), 0 when the budget of
 * `per_second` is spent (counts it as suppressed). Reads the clock only
 * when the budget is spent.
 */
int log_budget_take(struct log_budget *b, uint32_t per_second);

/*
 * When lines were suppressed and their second is over, starts a new window
 * and returns how many (for the summary line); else 0.
 */
uint64_t log_budget_expire(struct log_budget *b);

#define log_error(...) log_line(LOG_ERROR, __VA_ARGS__)
#define log_warn(...) log_line(LOG_WARN, __VA_ARGS__)
#define log_info(...) log_line(LOG_INFO, __VA_ARGS__)
#define log_debug(...) log_line(LOG_DEBUG, __VA_ARGS__)

#endif /* TTALLOC_LOG_H */
