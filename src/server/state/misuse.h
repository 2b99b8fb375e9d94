/*
 * misuse.h - allocator misuse a process reported: a FREE of a buffer it
 * already freed (double_free), of an address it never allocated
 * (unknown_free), an ALLOC of an address it holds live
 * (overlapping_alloc), a FREE naming another device than the buffer's
 * (wrong_device). Each is counted by kind, logged as a warning (at most
 * MISUSE_LINES_PER_SECOND a second; the rest are summed up) and kept, the
 * newest MISUSE_KEEP, with the stack that allocated the buffer and the
 * stack of the offending call when the client sends stacks.
 *
 * The server's protocol counters (unknown_free, foreign_free,
 * duplicate_alloc) count the same frames as before; this is the layer that
 * tells which mistake it was and where it was made.
 */
#ifndef TTALLOC_STATE_MISUSE_H
#define TTALLOC_STATE_MISUSE_H

#include <stdint.h>
#include <sys/types.h>

#include "common/labels.h"
#include "common/log.h"
#include "server/state/stack_pool.h"

#define MISUSE_KEEP 256u
#define MISUSE_LINES_PER_SECOND 10u

#define MISUSE_KIND_MAP(X, P)                                                                      \
	X(P, DOUBLE_FREE, "double_free", "double free")                                            \
	X(P, UNKNOWN_FREE, "unknown_free", "free of an address never allocated")                   \
	X(P, OVERLAPPING_ALLOC, "overlapping_alloc", "allocation at the address of a live buffer") \
	X(P, WRONG_DEVICE, "wrong_device", "free naming the wrong device")

LABELS_ENUM(misuse_kind, MISUSE_KIND_MAP, MISUSE_, MISUSE_KINDS);

struct misuse_entry {
	uint64_t id;      /* 1, 2, ... since start-up (set by misuse_record) */
	uint64_t time_ns; /* CLOCK_REALTIME (set by misuse_record) */
	enum misuse_kind kind;
	pid_t pid;
	char comm[16];
	int device; /* the device the offending call named */
	uint64_t address;
	uint64_t size;             /* the buffer's size, when known; 0: unknown */
	int type;                  /* its enum ttalloc_buffer_type, when size is known */
	int other_device;          /* wrong_device: the device that holds the buffer; else -1 */
	uint64_t since_ns;         /* double_free: time since the first FREE; overlapping_alloc: the old buffer's age */
	uint32_t alloc_stack;      /* stack_pool ids, STACK_POOL_NONE when unknown */
	uint32_t call_stack;       /* the offending call's */
	uint32_t first_free_stack; /* double_free: the first FREE's */
};

struct misuse_log {
	struct misuse_entry *ring; /* MISUSE_KEEP slots, allocated with the first entry */
	uint32_t start, count;
	uint64_t total[MISUSE_KINDS]; /* since start-up */
	uint64_t next_id;
	struct log_budget lines;
};

/* Label of a kind ("double_free"), for metrics and JSON. */
const char *misuse_kind_label(enum misuse_kind kind);

/* An empty log (no memory until the first entry). */
void misuse_init(struct misuse_log *log);

/* Frees the entries. */
void misuse_release(struct misuse_log *log);

/*
 * Counts, logs (within the budget, stacks from `pool`) and keeps `e`
 * (its id and time are set here).
 */
void misuse_record(struct misuse_log *log, const struct stack_pool *pool, struct misuse_entry *e);

/* The i-th kept entry, oldest first (i < log->count). */
const struct misuse_entry *misuse_get(const struct misuse_log *log, uint32_t i);

/* Warnings not printed in the last second, once that second is over (for a summary line); else 0. */
uint64_t misuse_unprinted(struct misuse_log *log);

#endif /* TTALLOC_STATE_MISUSE_H */
