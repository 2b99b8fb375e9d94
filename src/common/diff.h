/*
 * diff.h - what changed between two moments of the memory picture, grouped
 * the way heaptrack --diff and PyTorch's snapshot tools group it: by
 * process, by buffer type and by allocation stack, largest growth first.
 *
 * Both sides use it: the server for GET /api/diff between two marks, and
 * tt_smi --diff between two snapshot files. Each lists the buffers that
 * appeared (allocated) and those that went (freed) as diff_items; the
 * grouping here is the one definition of how they add up.
 */
#ifndef TTALLOC_COMMON_DIFF_H
#define TTALLOC_COMMON_DIFF_H

#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

/* One buffer that appeared or went (or, from totals-only snapshots, a group's change). */
struct diff_item {
	pid_t pid;
	char comm[16];
	int device;
	int type; /* enum ttalloc_buffer_type */
	uint64_t address;
	uint64_t size;     /* bytes */
	uint64_t buffers;  /* buffers it stands for (1 for a buffer) */
	const char *stack; /* allocation stack text ("at f (file:line)" lines), borrowed; NULL: unknown */
	int freed;         /* 0: allocated (appeared), 1: freed (went) */
};

enum diff_by { DIFF_BY_PROCESS, DIFF_BY_TYPE, DIFF_BY_STACK };

/* The items of one group added up. */
struct diff_total {
	pid_t pid;         /* DIFF_BY_PROCESS */
	const char *comm;  /* DIFF_BY_PROCESS (borrowed from an item) */
	int type;          /* DIFF_BY_TYPE */
	const char *stack; /* DIFF_BY_STACK (borrowed; NULL: unknown) */
	uint64_t allocated_bytes, allocated_buffers;
	uint64_t freed_bytes, freed_buffers;
	int64_t growth; /* allocated_bytes - freed_bytes */
};

/*
 * Adds `items` up by `by` into *totals (malloc'd, *count of them), largest
 * growth first (then largest allocation, then key). Returns 0 or
 * TTALLOC_ENOMEM.
 */
int diff_totals(const struct diff_item *items, size_t n, enum diff_by by, struct diff_total **totals, size_t *count);

/* Sorts items: allocated before freed, biggest first, then by pid and address. */
void diff_sort_items(struct diff_item *items, size_t n);

#endif /* TTALLOC_COMMON_DIFF_H */
