/*
 * ring_consumer.c - draining clients' shared-memory rings (ring_consumer.h;
 * the layout and the protocol are in src/common/ring.h).
 *
 * The region is the client's memory: it may change under us at any time.
 * Every head is checked against our own copy of the tail, every event is
 * copied out before it is looked at, and the events themselves go through
 * the same validation as socket frames (the owner's apply callback).
 */
#define _GNU_SOURCE
#include "server/ingest/ring_consumer.h"
#include "common/array.h"
#include "common/clock.h"

#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include "common/futex.h"
#include "common/log.h"
#include "server/state/registry.h"

#define NS_PER_MS 1000000ull
/* Events taken from one lane before looking at the others (fairness, and
 * the producer gets room back sooner). */
#define LANE_BATCH 4096u
/* Events applied from a lane before its tail is published during a drain
 * (all are at its end): each publication is a full barrier. */
#define PUBLISH_EVERY 2048u
/* Events ahead whose index slot is fetched before they are applied. */
#define LOOKUP_AHEAD 4u
/* Events read ahead of the one applied (16: eight cache lines). */
#define PREFETCH_AHEAD 16u
/* Events one drain applies before the loop gets a turn (a producer that
 * never stops must not starve the other clients). */
#define DRAIN_BUDGET 65536u
/* A full drain (a closing client, a request that reads the registry):
 * everything a ring can hold, and more. */
#define FULL_DRAIN_BUDGET (2u * RING_LANES * RING_LANE_EVENTS)

/* ---- attaching ---- */

/* The memfd must be exactly one region and sealed against shrinking. */
static const char *check_memfd(int fd)
{
	struct stat st;
	if (fstat(fd, &st) < 0 || !S_ISREG(st.st_mode) || (uint64_t)st.st_size != sizeof(struct ring_region))
		return "the ring is not a memfd of the announced size";
	int seals = fcntl(fd, F_GET_SEALS);
	if (seals < 0 || !(seals & F_SEAL_SHRINK))
		return "the ring's memfd is not sealed against shrinking";
	return NULL;
}

/* An eventfd, made non-blocking here (reading a blocking one could stall the loop). */
static const char *check_eventfd(int fd)
{
	char link[64], path[64];
	snprintf(path, sizeof(path), "/proc/self/fd/%d", fd);
	ssize_t n = readlink(path, link, sizeof(link) - 1);
	if (n < 0)
		return "cannot inspect the wake-up descriptor";
	link[n] = '\0';
	if (strcmp(link, "anon_inode:[eventfd]") != 0)
		return "the wake-up descriptor is not an eventfd";
	int flags = fcntl(fd, F_GETFL);
	if (flags < 0 || fcntl(fd, F_SETFL, flags | O_NONBLOCK) < 0)
		return "cannot make the eventfd non-blocking";
	return NULL;
}

static void on_wake(struct event_loop *loop, struct event_handle *handle, uint32_t events);

static int add_to_set(struct ring_set *set, struct ring_consumer *rc)
{
	if (ARRAY_RESERVE(set->items, set->cap, (size_t)set->count + 1) < 0)
		return -1;
	rc->slot = set->count;
	set->items[set->count++] = rc;
	set->idle_since_ns = 0; /* a new ring: poll at once */
	set->attached++;
	return 0;
}

void rings_init(struct ring_set *set, struct event_loop *loop, const struct ring_callbacks *cb,
		const struct registry *registry)
{
	memset(set, 0, sizeof(*set));
	set->loop = loop;
	set->cb = cb;
	set->registry = registry;
}

struct ring_consumer *ring_attach(struct ring_set *set, void *owner, const struct proto_ring_payload *geometry,
				  int memfd, int wake_fd, const char **why)
{
	struct ring_consumer *rc = NULL;
	void *map = MAP_FAILED;
	*why = NULL;
	if (memfd < 0 || wake_fd < 0)
		*why = "RING_ATTACH came without its two descriptors (memfd, eventfd)";
	else if (!ring_geometry_matches(geometry))
		*why = "the ring's version or geometry differs from the server's";
	if (!*why && !(*why = check_memfd(memfd)))
		*why = check_eventfd(wake_fd);
	if (!*why) {
		map = mmap(NULL, sizeof(struct ring_region), PROT_READ | PROT_WRITE, MAP_SHARED, memfd, 0);
		rc = map == MAP_FAILED ? NULL : calloc(1, sizeof(*rc));
		if (!rc)
			*why = "out of memory mapping the ring";
	}
	if (!*why) {
		rc->set = set;
		rc->region = map;
		rc->owner = owner;
		rc->wake = (struct event_handle){.fd = wake_fd, .fn = on_wake, .data = rc};
		/* a fresh region: our tails start where the client's heads do (0) */
		if (event_loop_add(set->loop, &rc->wake, EPOLLIN) < 0 || add_to_set(set, rc) < 0) {
			event_loop_remove(set->loop, &rc->wake);
			*why = "out of memory watching the ring";
		}
	}
	if (memfd >= 0)
		close(memfd); /* the mapping keeps the memory */
	if (*why) {
		if (map != MAP_FAILED)
			munmap(map, sizeof(struct ring_region));
		if (wake_fd >= 0)
			close(wake_fd);
		free(rc);
		return NULL;
	}
	return rc;
}

/* ---- draining ---- */

/* Times taken once per drain, not per event. */
struct drain_clock {
	uint64_t mono;
	uint64_t real;
};

/* Reads the clocks on a drain's first event: most polls of most rings find none. */
static void clock_start(struct drain_clock *clk)
{
	if (!clk->mono) {
		clk->mono = clock_monotonic_ns();
		clk->real = clock_realtime_ns();
	}
}

/* CLOCK_MONOTONIC time of a re-sent ALLOC's CLOCK_REALTIME time (ages survive a restart). */
static uint64_t alloc_mono(struct drain_clock *clk, uint64_t alloc_ns)
{
	clock_start(clk);
	return clock_alloc_mono_ns(alloc_ns, clk->mono, clk->real);
}

/* One event, through the owner's checks and counters, as a socket frame. */
static void apply_event(struct ring_consumer *rc, const struct ring_event *ev, struct drain_clock *clk)
{
	struct proto_msg msg;
	msg.type = ev->type;
	msg.device_id = ev->device;
	msg.size = ev->size;
	msg.buffer_type = ev->buffer_type;
	msg.process_id = 0;
	msg.buffer_id = ev->address;
	msg.timestamp = ev->alloc_ns;
	msg.u.alloc.stack_id = 0;
	msg.u.alloc.flags = ev->alloc_ns ? PROTO_ALLOC_RESYNC : 0; /* only a resync sends a time */
	if (ev->type == PROTO_ALLOC || ev->type == PROTO_FREE)
		rc->set->cb->apply(rc->owner, &msg, alloc_mono(clk, ev->alloc_ns));
	else
		rc->set->cb->error(rc->owner, "ring event of type %u (only ALLOC and FREE travel there)", ev->type);
}

/* Stops reading a ring whose client broke the rules; its socket stays. */
static void fail_ring(struct ring_consumer *rc, const char *why)
{
	rc->failed = 1;
	rc->set->cb->error(rc->owner, "%s; the ring is no longer read", why);
}

/* Gives the producer its room back, and wakes it when it sleeps on a full lane. */
static void publish_tail(struct ring_consumer *rc, uint32_t index)
{
	struct ring_lane *lane = &rc->region->lanes[index];
	uint32_t tail = rc->tails[index];
	rc->published[index] = tail;
	__atomic_store_n(&lane->tail, tail, __ATOMIC_SEQ_CST);
	if (__atomic_load_n(&lane->producer_waiting, __ATOMIC_SEQ_CST)) {
		__atomic_store_n(&lane->producer_waiting, 0, __ATOMIC_RELAXED);
		futex_wake(&lane->tail, 1 << 30);
	}
}

/*
 * Applies what one lane holds, in order, while each event is the next of
 * its shard (or always, with `force`). Returns the events applied.
 */
static uint32_t drain_lane(struct ring_consumer *rc, uint32_t index, int force, struct drain_clock *clk)
{
	struct ring_lane *lane = &rc->region->lanes[index];
	uint32_t tail = rc->tails[index];
	/* the head's line is written by the producer all the time: read it
	 * only when what it said last time is used up */
	uint32_t head = rc->heads[index];
	if (head == tail) {
		head = __atomic_load_n(&lane->head, __ATOMIC_ACQUIRE);
		if (ring_pending(head, tail) > RING_LANE_EVENTS) {
			fail_ring(rc, "a lane claims more events than it holds");
			return 0;
		}
		rc->heads[index] = head;
	}
	/* coming back to a lane (the merge switches lanes whenever a shard's
	 * next event is elsewhere): fetch its next lines at once, not one
	 * miss at a time */
	for (uint32_t i = 0; i < PREFETCH_AHEAD && i < ring_pending(head, tail); i += 2)
		__builtin_prefetch(&lane->events[(tail + i) & (RING_LANE_EVENTS - 1)]);
	uint32_t applied = 0;
	while (tail != head && applied < LANE_BATCH) {
		struct ring_event ev;
		/* the lines ahead were written on the producer's core: ask for
		 * them early, or each costs a full cross-core miss */
		if (ring_pending(head, tail) > PREFETCH_AHEAD)
			__builtin_prefetch(&lane->events[(tail + PREFETCH_AHEAD) & (RING_LANE_EVENTS - 1)]);
		/* and the registry's index slot of an event a few ahead */
		if (ring_pending(head, tail) > LOOKUP_AHEAD) {
			const struct ring_event *next = &lane->events[(tail + LOOKUP_AHEAD) & (RING_LANE_EVENTS - 1)];
			registry_prefetch(rc->set->registry, next->device, next->address);
		}
		memcpy(&ev, &lane->events[tail & (RING_LANE_EVENTS - 1)], sizeof(ev));
		uint32_t *expected = &rc->expected[ev.shard];
		if (ev.seq != *expected && !force) {
			if (ring_seq_after(ev.seq, *expected))
				break; /* an earlier event of this shard is in another lane */
			rc->set->cb->error(rc->owner,
					   "event %" PRIu32 " of shard %u came after %" PRIu32 "; applied anyway",
					   ev.seq, ev.shard, *expected);
		}
		*expected = ev.seq + 1;
		apply_event(rc, &ev, clk);
		tail++;
		applied++;
	}
	rc->tails[index] = tail;
	if (tail - rc->published[index] >= PUBLISH_EVERY)
		publish_tail(rc, index);
	return applied;
}

/* 1 when some lane still holds events (after a drain: they wait for another lane). */
static int lanes_pending(const struct ring_consumer *rc, uint32_t lanes)
{
	for (uint32_t i = 0; i < lanes; i++)
		if (__atomic_load_n(&rc->region->lanes[i].head, __ATOMIC_ACQUIRE) != rc->tails[i])
			return 1;
	return 0;
}

/*
 * Merges the lanes: passes over all of them until a pass applies nothing
 * or `budget` events are applied. A shard whose next event has not come for
 * RING_STUCK_MS (only a broken client can do that) is forced, so one bad
 * shard cannot hold the rest. Returns the events applied.
 */
static uint64_t drain(struct ring_consumer *rc, int force, uint64_t budget)
{
	if (rc->failed)
		return 0;
	struct drain_clock clk = {0, 0}; /* read on first use */
	uint32_t lanes = __atomic_load_n(&rc->region->header.lanes_used, __ATOMIC_ACQUIRE);
	if (lanes > RING_LANES)
		lanes = RING_LANES;
	uint64_t total = 0;
	for (;;) {
		uint32_t pass = 0;
		for (uint32_t i = 0; i < lanes && !rc->failed; i++)
			pass += drain_lane(rc, i, force, &clk);
		total += pass;
		if (!pass || rc->failed || total >= budget)
			break;
	}
	for (uint32_t i = 0; i < lanes && !rc->failed; i++)
		if (rc->tails[i] != rc->published[i])
			publish_tail(rc, i);
	rc->events += total;
	if (total || force || !lanes_pending(rc, lanes)) {
		rc->stuck_since_ns = 0;
		return total;
	}
	clock_start(&clk);
	if (!rc->stuck_since_ns)
		rc->stuck_since_ns = clk.mono;
	if (clk.mono - rc->stuck_since_ns <= RING_STUCK_MS * NS_PER_MS)
		return total;
	rc->set->cb->error(rc->owner, "events waited %d ms for an earlier one; applied in lane order", RING_STUCK_MS);
	return total + drain(rc, 1, budget); /* which counts its own */
}

static void wake_up(struct ring_consumer *rc)
{
	__atomic_store_n(&rc->region->header.server_sleeping, 0, __ATOMIC_RELAXED);
	rc->state = RING_AWAKE;
}

/* The producer saw server_sleeping (or waits for room): poll again. */
static void on_wake(struct event_loop *loop, struct event_handle *handle, uint32_t events)
{
	(void)loop;
	(void)events;
	struct ring_consumer *rc = handle->data;
	uint64_t count;
	if (read(handle->fd, &count, sizeof(count)) < 0 && errno != EAGAIN)
		return;
	if (rc->state != RING_AWAKE)
		wake_up(rc);
	rc->set->idle_since_ns = 0;
}

/* Sets server_sleeping: producers that publish from now on wake us. */
static void doze(struct ring_consumer *rc, uint64_t now)
{
	__atomic_store_n(&rc->region->header.server_sleeping, 1, __ATOMIC_SEQ_CST);
	rc->state = RING_DOZING;
	rc->dozing_since_ns = now;
}

/*
 * A dozing ring, just drained: asleep when nothing came for a poll period
 * since the flag was set (a producer that read the flag before it was set
 * had published before, and its store is visible by now), awake again when
 * something came.
 */
static void settle(struct ring_consumer *rc, uint64_t applied, uint64_t now)
{
	if (applied)
		wake_up(rc);
	else if (now - rc->dozing_since_ns >= RING_POLL_MS * NS_PER_MS)
		rc->state = RING_ASLEEP;
}

int rings_poll(struct ring_set *set)
{
	uint64_t applied = 0, now = clock_monotonic_ns();
	int waiting = 0, dozing = 0;
	for (uint32_t i = 0; i < set->count; i++) {
		struct ring_consumer *rc = set->items[i];
		if (rc->state == RING_ASLEEP || rc->failed)
			continue;
		uint64_t n = drain(rc, 0, DRAIN_BUDGET);
		applied += n;
		if (rc->state == RING_DOZING)
			settle(rc, n, now);
		waiting |= rc->stuck_since_ns != 0;
		dozing |= rc->state == RING_DOZING;
	}
	if (applied) {
		set->idle_since_ns = 0;
		/* a stream: read again at once; a trickle: in a poll period, so a
		 * caught-up server does not keep pulling the heads' cache lines
		 * away from the producers */
		return applied >= RING_BUSY_EVENTS ? 0 : RING_POLL_MS;
	}
	if (!set->idle_since_ns)
		set->idle_since_ns = now;
	if (waiting || now - set->idle_since_ns < RING_IDLE_MS * NS_PER_MS)
		return set->count ? RING_POLL_MS : -1;
	for (uint32_t i = 0; i < set->count; i++) {
		struct ring_consumer *rc = set->items[i];
		if (rc->state == RING_AWAKE && !rc->failed) {
			doze(rc, now);
			dozing = 1;
		}
	}
	return dozing ? RING_POLL_MS : -1;
}

void rings_drain_all(struct ring_set *set)
{
	for (uint32_t i = 0; i < set->count; i++)
		drain(set->items[i], 0, FULL_DRAIN_BUDGET);
}

void ring_detach(struct ring_consumer *rc)
{
	drain(rc, 0, FULL_DRAIN_BUDGET);
	drain(rc, 1, FULL_DRAIN_BUDGET); /* what still waits for an event that will never come */
	ring_discard(rc);
}

void ring_discard(struct ring_consumer *rc)
{
	struct ring_set *set = rc->set;
	set->items[rc->slot] = set->items[--set->count];
	set->items[rc->slot]->slot = rc->slot;
	event_loop_remove(set->loop, &rc->wake);
	close(rc->wake.fd);
	munmap(rc->region, sizeof(struct ring_region));
	rc->region = NULL;
}

void rings_release(struct ring_set *set)
{
	free(set->items);
	set->items = NULL;
	set->count = set->cap = 0;
}
