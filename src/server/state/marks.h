/*
 * marks.h - named points in the server's timeline (MARK: ttalloc_mark,
 * ttalloc.mark, tt_smi --mark) and what a diff between two of them needs.
 *
 * A diff between marks A and B (or B = now) lists the buffers allocated
 * after A and live at B, and those live at A and gone at B. The live ones
 * are in the registry with their allocation time; the gone ones are kept
 * here, in a journal of frees: every FREE (or exit) of a buffer allocated
 * before the newest mark is journaled with both times. A buffer allocated
 * and freed between two marks is in no diff and costs nothing.
 *
 * Order: a mark is stamped with the server's CLOCK_MONOTONIC when it is
 * applied (after the rings are drained), later than every event applied
 * before it; an ALLOC applied after a mark is stamped no earlier than
 * just after it (marks_order), even when its client stamped it before the
 * mark arrived, so "before" and "after" follow the server's order of
 * events. A library's resync keeps its original times (PROTO_ALLOC_RESYNC).
 *
 * Bounds: the newest MARKS_KEEP marks (older ones are forgotten: a diff
 * naming them is refused), and a journal of at most JOURNAL_MAX entries
 * (64 bytes each, grown as needed: 8 MiB at most), oldest dropped first.
 * A diff from a mark older than the newest dropped entry's free is not
 * exact, and says so.
 */
#ifndef TTALLOC_STATE_MARKS_H
#define TTALLOC_STATE_MARKS_H

#include <stdint.h>
#include <sys/types.h>

#include "common/protocol.h"

#define MARKS_KEEP 4096u
#define JOURNAL_MAX 131072u

struct mark {
	uint64_t id;      /* 1, 2, ... since start-up */
	uint64_t mono_ns; /* CLOCK_MONOTONIC: its place in the order of events */
	uint64_t real_ns; /* CLOCK_REALTIME, for people */
	pid_t pid;        /* who made it */
	char label[PROTO_TEXT_MAX + 1];
};

/* A buffer that was live across at least one mark and is gone now. */
struct journal_entry {
	uint64_t address;
	uint64_t size;
	uint64_t alloc_ns; /* CLOCK_MONOTONIC, as in the registry */
	uint64_t free_ns;  /* CLOCK_MONOTONIC of its FREE (or its process's exit) */
	pid_t pid;
	uint32_t stack; /* stack_pool id of its allocation stack, or STACK_POOL_NONE */
	uint16_t device;
	uint8_t type;
	uint8_t reserved;
	char comm[16]; /* its process's name */
};

_Static_assert(sizeof(struct journal_entry) == 64, "a journal entry is 64 bytes");

struct marks {
	struct mark *ring; /* MARKS_KEEP slots, allocated with the first mark */
	uint32_t start, count;
	uint64_t total;                /* marks made since start-up */
	uint64_t last_ns;              /* mono_ns of the newest mark; 0: none yet */
	struct journal_entry *journal; /* a ring of jcap entries */
	uint32_t jcap, jstart, jcount;
	uint64_t horizon_ns; /* free_ns of the newest entry dropped; 0: none dropped */
	uint64_t journaled;  /* entries written since start-up */
	uint64_t dropped;    /* entries dropped for room */
};

/* An empty set (no memory until the first mark). */
void marks_init(struct marks *m);

/* Frees everything. */
void marks_release(struct marks *m);

/*
 * Records a mark made by `pid` at CLOCK_MONOTONIC `now_mono` (kept after
 * the newest mark) and CLOCK_REALTIME `now_real`. Returns it, or NULL when
 * out of memory. `label` is at most PROTO_TEXT_MAX bytes (longer is cut).
 */
const struct mark *marks_add(struct marks *m, const char *label, pid_t pid, uint64_t now_mono, uint64_t now_real);

/* The newest kept mark labelled `label`, or NULL. */
const struct mark *marks_find(const struct marks *m, const char *label);

/* The i-th kept mark, oldest first (i < m->count). */
const struct mark *marks_get(const struct marks *m, uint32_t i);

/*
 * The time an ALLOC applied now is recorded with: `alloc_ns`, or just
 * after the newest mark when that is later (see the order above). O(1).
 */
static inline uint64_t marks_order(const struct marks *m, uint64_t alloc_ns)
{
	return m->last_ns && alloc_ns <= m->last_ns ? m->last_ns + 1 : alloc_ns;
}

/* 1 when a buffer allocated at `alloc_ns` that goes now must be journaled. O(1). */
static inline int marks_wants(const struct marks *m, uint64_t alloc_ns)
{
	return m->last_ns && alloc_ns <= m->last_ns;
}

/* Journals a gone buffer (dropping the oldest entry when full). */
void marks_journal(struct marks *m, const struct journal_entry *e);

/* The i-th journal entry, oldest first (i < m->jcount). */
const struct journal_entry *marks_journal_get(const struct marks *m, uint32_t i);

#endif /* TTALLOC_STATE_MARKS_H */
