/*
 * ring_consumer.h - the server's side of the shared-memory ring
 * (src/common/ring.h): taking a client's region, applying its events in
 * each shard's order, and sleeping when every ring is idle.
 *
 * Scheduling: the loop calls rings_poll() before each wait. While events
 * stream in it drains every ring and asks for an immediate next turn; a
 * trickle is polled every RING_POLL_MS; after RING_IDLE_MS without events
 * it sets each ring's server_sleeping flag, polls one more period (see
 * ring.h: producers publish without a barrier) and then blocks until a
 * producer writes a ring's eventfd. Requests that read the live picture (QUERY, SYNC, HTTP) drain
 * first (rings_drain_all), so they never see a state older than their own
 * arrival.
 *
 * This layer knows the ring's layout and merge order, not what an event
 * means: each event, as a frame, goes to the set's `apply` callback with
 * the ring's owner (the client it belongs to), and each broken rule to its
 * `error` callback.
 *
 * Threading: the loop's thread only, like the rest of the server.
 */
#ifndef TTALLOC_RING_CONSUMER_H
#define TTALLOC_RING_CONSUMER_H

#include <stdint.h>

#include "common/protocol.h"
#include "common/ring.h"
#include "server/event_loop.h"

struct server;
struct connection;

/* Poll period while rings are active, and idle time before they sleep. */
#define RING_POLL_MS 1
#define RING_IDLE_MS 20
/* Events one poll must apply for the loop to poll again without waiting. */
#define RING_BUSY_EVENTS 256

/* A ring's sleep: polled; flag set but still polled for a period; not polled. */
enum ring_state { RING_AWAKE = 0, RING_DOZING, RING_ASLEEP };
/* A shard waiting this long for an event that never comes is given up on. */
#define RING_STUCK_MS 1000

/* What the owner of the rings does with their events. */
struct ring_callbacks {
	/*
	 * One ALLOC or FREE as a frame (no stack, process_id 0; an ALLOC re-sent
	 * by a resync has PROTO_ALLOC_RESYNC), with its time on the monotonic
	 * clock: the drain's, or an ALLOC's re-sent time through
	 * clock_alloc_mono_ns.
	 */
	void (*apply)(void *owner, const struct proto_msg *msg, uint64_t alloc_mono_ns);
	/* A rule the producer broke (PROTO_ERR_BAD_RING), to count and log against the owner. */
	void (*error)(void *owner, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
};

struct ring_consumer {
	struct ring_set *set;
	struct ring_region *region;     /* the client's memfd, mapped */
	struct event_handle wake;       /* the client's eventfd */
	void *owner;                    /* whose events these are (the callbacks' first argument) */
	uint32_t tails[RING_LANES];     /* our own tails: the shared copies are only written */
	uint32_t published[RING_LANES]; /* the tails the producers were last given */
	uint32_t heads[RING_LANES];     /* the heads last read (checked against tails) */
	uint32_t expected[RING_SHARDS]; /* next seq of each shard */
	uint64_t stuck_since_ns;        /* CLOCK_MONOTONIC when lanes started to wait without progress */
	uint64_t events;                /* applied since attach */
	enum ring_state state;          /* DOZING, ASLEEP: server_sleeping is set, its eventfd wakes us */
	uint64_t dozing_since_ns;       /* CLOCK_MONOTONIC when server_sleeping was set */
	int failed;                     /* refused (corrupt): no longer read */
	uint32_t slot;                  /* index in the server's ring_set */
};

/* Every attached ring of the server. */
struct ring_set {
	struct event_loop *loop;
	const struct ring_callbacks *cb;
	const struct registry *registry; /* whose index slots the drain prefetches */
	struct ring_consumer **items;
	uint32_t count;
	uint32_t cap;
	uint64_t idle_since_ns; /* CLOCK_MONOTONIC of the first poll without events; 0 while busy */
	uint64_t attached;      /* rings attached since start-up */
};

/* Prepares an empty set; `registry` is only read (prefetching index slots ahead of events). */
void rings_init(struct ring_set *set, struct event_loop *loop, const struct ring_callbacks *cb,
		const struct registry *registry);

/*
 * Maps the client's memfd and watches its eventfd (the RING_ATTACH
 * handler's work), after checking the geometry the client announced, the
 * memfd's size and seals, and the eventfd's kind. Takes ownership of both
 * descriptors (closes them on failure). Returns the ring, or NULL with a
 * reason for the ERROR frame and the log in *why.
 */
struct ring_consumer *ring_attach(struct ring_set *set, void *owner, const struct proto_ring_payload *geometry,
				  int memfd, int wake_fd, const char **why);

/*
 * Applies every event of the ring still unread (a closing client's last
 * events count) and takes it out of the set. The struct itself must live
 * until the loop's current batch is over (its eventfd handle may sit in
 * it): the caller frees it with the connection.
 */
void ring_detach(struct ring_consumer *rc);

/*
 * Takes the ring out of the set without applying what it still holds: its
 * client opened a newer connection, whose resync supersedes these events.
 * Freed by the caller like a detached ring.
 */
void ring_discard(struct ring_consumer *rc);

/*
 * Drains every ring; returns the epoll timeout the loop should use next
 * (0: events are flowing, RING_POLL_MS while recently active, -1: all
 * rings sleep or there are none).
 */
int rings_poll(struct ring_set *set);

/* Drains every ring now (before answering a request that reads the registry). */
void rings_drain_all(struct ring_set *set);

/* Frees the set (every ring must be detached). */
void rings_release(struct ring_set *set);

#endif /* TTALLOC_RING_CONSUMER_H */
