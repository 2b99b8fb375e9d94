/*
 * leaks.h - leak reports: what a process still held when its last
 * connection closed (normal exit, crash, kill -9), printed at once in the
 * seed's format and kept in a bounded history for later queries.
 */
#ifndef TTALLOC_LEAKS_H
#define TTALLOC_LEAKS_H

#include <stdint.h>
#include <sys/types.h>

#include "common/protocol.h"
#include "server/state/registry.h"

/* Buffers kept per report; the totals always count them all. */
#define LEAK_KEEP_BUFFERS 100000u

struct leak_buffer {
	uint64_t address;
	uint64_t size;   /* bytes */
	uint64_t age_ns; /* how long it had been live when the process exited */
	int32_t device;
	uint8_t type;
	uint32_t stack_text; /* index in leak_report.stack_texts, or LEAK_NO_STACK */
};

#define LEAK_NO_STACK UINT32_MAX

struct leak_report {
	uint64_t id; /* 1, 2, ... in the order reports were kept (leak_history_add) */
	pid_t pid;
	uid_t uid;
	char comm[16];
	char session[PROTO_SESSION_LEN];
	uint64_t exit_ns; /* CLOCK_REALTIME when the exit was seen */
	uint64_t buffers; /* every leaked buffer */
	uint64_t bytes;   /* their total size */
	uint32_t kept;    /* entries stored, oldest first */
	struct leak_buffer *entries;
	char **stack_texts; /* symbolized stacks of the kept entries, one per distinct stack */
	uint32_t stack_text_count;
	uint8_t source; /* 0: the socket (buffers listed); 1: a stale tt-metal shm slot (totals only) */
	uint64_t device_bytes[PROTO_MAX_DEVICES];   /* every leaked byte, per device */
	uint64_t device_buffers[PROTO_MAX_DEVICES]; /* every leaked buffer, per device */
};

struct leak_history {
	struct leak_report *reports; /* ring of the newest `cap` reports */
	uint32_t cap;
	uint32_t start;
	uint32_t count;
	uint64_t reports_total;                     /* since start-up */
	uint64_t leaked_bytes[PROTO_MAX_DEVICES];   /* since start-up */
	uint64_t leaked_buffers[PROTO_MAX_DEVICES]; /* since start-up */
};

/*
 * Fills `rep` from the buffers `proc` still holds. Returns 0, or
 * TTALLOC_ENOMEM (the report then has totals but fewer entries).
 */
int leak_report_build(struct leak_report *rep, const struct registry *r, uint32_t proc, uint64_t now_mono_ns);

/* Prints the report in the seed's format, at most `max_lines` buffer lines. */
void leak_report_print(const struct leak_report *rep, uint32_t max_lines);

/* Frees a report's entries. */
void leak_report_release(struct leak_report *rep);

/* Prepares a history of at most `cap` reports. Returns 0 or TTALLOC_ENOMEM. */
int leak_history_init(struct leak_history *h, uint32_t cap);

/* Takes ownership of `rep`, numbers it (id) and drops the oldest report when full. */
void leak_history_add(struct leak_history *h, struct leak_report *rep);

/* The i-th kept report, oldest first (i < h->count). */
const struct leak_report *leak_history_get(const struct leak_history *h, uint32_t i);

/* The kept report numbered `id`, or NULL when it is unknown or no longer kept. */
const struct leak_report *leak_history_find(const struct leak_history *h, uint64_t id);

/* Frees every report. */
void leak_history_release(struct leak_history *h);

struct state;

/*
 * A process's last connection closed (normal exit, crash, kill -9): when it
 * still held buffers, builds its report, prints it in the seed's format (at
 * most st->leak_lines buffer lines), marks its devices changed and keeps
 * the report in st->leaks; else logs that it left nothing. The process
 * leaves the registry, unless st->retain_leaks: then a process that leaked
 * stays, exited, with its leaked buffers in every total (the seed's CI
 * script reads the totals after the tests exited) until leaks_clear.
 */
void leak_process_exit(struct state *st, uint32_t proc);

/*
 * Drops the exited processes kept by retain_leaks whose uid is `uid`
 * (PROTO_UID_UNKNOWN: every one), with their buffers. Returns how many
 * buffers left the totals; *processes gets how many processes.
 */
uint64_t leaks_clear(struct state *st, uid_t uid, uint32_t *processes);

#endif /* TTALLOC_LEAKS_H */
