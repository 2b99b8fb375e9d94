/*
 * departures.h - processes whose last connection ended without GOODBYE
 * while they still run (their library gave up on a server that hung, and
 * reconnects): they have not exited, so they get no leak report yet.
 * Their records and buffers stay counted; a pidfd (pidfd_open, Linux 5.3)
 * in the loop says when the process really exits, and then, unless it has
 * connected again meanwhile, its leak report is made as at any exit.
 *
 * Threading: the loop's thread only.
 */
#ifndef TTALLOC_INGEST_DEPARTURES_H
#define TTALLOC_INGEST_DEPARTURES_H

#include <sys/types.h>

#include "server/event_loop.h"
#include "server/state/state.h"

struct departure;

struct departures {
	struct event_loop *loop;
	struct state *state;
	struct departure *watched;
	unsigned count;
};

/* Prepares an empty set. */
void departures_init(struct departures *d, struct event_loop *loop, struct state *st);

/*
 * Process `pid` lost its last connection without GOODBYE. Returns 1 when
 * it is still running (its exit is now watched; nothing else to do), or 0
 * when it has exited or its exit cannot be watched (no pidfd): the caller
 * reports it as exited now.
 */
int departures_watch(struct departures *d, pid_t pid);

/* Stops watching every process (server shutdown). */
void departures_release(struct departures *d);

#endif /* TTALLOC_INGEST_DEPARTURES_H */
