/*
 * ring_producer.h - the client's side of the shared-memory ring
 * (src/common/ring.h): creating the region, giving each thread a lane,
 * publishing events, waiting for room and waking an idle server.
 *
 * One producer exists per connection; the library makes a new one (a new
 * generation) for each connection that negotiates the ring.
 */
#ifndef TTALLOC_RING_PRODUCER_H
#define TTALLOC_RING_PRODUCER_H

#include <stdint.h>

#include "common/futex.h"
#include "common/ring.h"

struct ring_producer {
	struct ring_region *region;   /* NULL when there is none */
	int wake_fd;                  /* eventfd the server watches; -1 when none */
	uint32_t generation;          /* non-zero, different for every region of this process */
	uint32_t dead;                /* the server stopped consuming: push nothing more */
	struct futex_lock claim_lock; /* guards lane_taken */
	uint8_t lane_taken[RING_LANES - 1];
	struct futex_lock shared_lane_lock; /* the last lane, for threads beyond the others */
};

/*
 * Creates a region and its eventfd. *memfd gets the region's sealed memfd,
 * to pass to the server (the caller closes it afterwards). Returns 0, or -1
 * with the reason in err (at least 128 bytes).
 */
int ring_producer_create(struct ring_producer *p, int *memfd, char *err);

/*
 * Unmaps the region and closes the eventfd. Every shard must already have
 * stopped sending to it (no thread can be inside ring_producer_push).
 */
void ring_producer_destroy(struct ring_producer *p);

/*
 * Marks the producer dead and wakes threads waiting for room, so they give
 * up at once (the server went away).
 */
void ring_producer_kill(struct ring_producer *p);

/*
 * In a forked child: forgets the parent's region without touching it (the
 * child must not write to it; it is the parent's), closes the child's copy
 * of the eventfd.
 */
void ring_producer_forget(struct ring_producer *p);

/*
 * Publishes one event on the calling thread's lane, waiting for room when
 * the lane is full (spinning, then sleeping until the server consumes), and
 * wakes the server when it sleeps. The caller holds the lock of the event's
 * shard, which orders this against the shard's other events. Returns 0, or
 * -1 when the server gave no room for RING_GIVE_UP_MS or the producer is
 * dead (the producer is then dead).
 */
int ring_producer_push(struct ring_producer *p, const struct ring_event *ev);

#endif /* TTALLOC_RING_PRODUCER_H */
