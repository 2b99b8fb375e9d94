/*
 * diff.h - what changed in the picture between two marks (marks.h), as the
 * diff_items of common/diff.h: buffers allocated after `from` and live at
 * `to` (from the registry, and from the journal for those gone since), and
 * buffers live at `from` and gone at `to` (the journal).
 */
#ifndef TTALLOC_STATE_DIFF_H
#define TTALLOC_STATE_DIFF_H

#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#include "common/diff.h"

struct state;

/* The span and filter of a diff. */
struct diff_span {
	uint64_t from_ns; /* CLOCK_MONOTONIC of the first mark */
	uint64_t to_ns;   /* of the second, or UINT64_MAX: now */
	pid_t pid;        /* 0: every process */
};

/*
 * Lists the changes of `span` into *items (malloc'd, *n of them); stack
 * texts point into st->stack_pool. *exact is 0 when the journal no longer
 * holds every buffer gone since from_ns. Returns 0 or TTALLOC_ENOMEM.
 */
int diff_collect(struct state *st, const struct diff_span *span, struct diff_item **items, size_t *n, int *exact);

#endif /* TTALLOC_STATE_DIFF_H */
