/*
 * ring_producer.c - publishing events into the shared-memory ring
 * (ring_producer.h; the layout and the protocol are in src/common/ring.h).
 */
#define _GNU_SOURCE
#include "client/ring_producer.h"
#include "common/clock.h"

#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <stdio.h>
#include <string.h>
#include <sys/eventfd.h>
#include <sys/mman.h>
#include <unistd.h>

#include "common/protocol.h"

/* Spins on a full lane before sleeping on it. */
#define FULL_LANE_SPINS 2000
/* One sleep on a full lane; then the give-up clock and the server are checked. */
#define FULL_LANE_SLEEP_NS (10ull * 1000 * 1000)
#define SHARED_LANE (RING_LANES - 1)
/* Slots made ours ahead of writing them (16 events: eight cache lines). */
#define PREFETCH_AHEAD 16u

/*
 * The calling thread's lane. initial-exec: the fast path reads it with one
 * instruction; 12 bytes fit the static TLS glibc keeps for dlopen'ed
 * libraries.
 */
struct lane_ref {
	uint32_t generation; /* producer it belongs to; 0: none */
	uint32_t lane;
	uint32_t tail_seen; /* last tail read (exclusive lanes): saves a shared read per event */
};
static __thread struct lane_ref my_lane __attribute__((tls_model("initial-exec")));

/*
 * The producer whose lanes threads hold, for the thread-exit destructor.
 * lifecycle_lock orders a thread's exit (release_lane) against a reconnect
 * making or tearing down a producer in the same storage: without it an
 * exiting thread read the generation, and took claim_lock, while
 * ring_producer_create was resetting both (found by ThreadSanitizer).
 */
static struct ring_producer *current;
static uint32_t last_generation;
static struct futex_lock lifecycle_lock;
static pthread_key_t lane_key;
static pthread_once_t lane_key_once = PTHREAD_ONCE_INIT;

/* Thread exit: give the lane back so a later thread gets its own. */
static void release_lane(void *value)
{
	(void)value;
	if (!my_lane.generation || my_lane.lane == SHARED_LANE)
		return;
	futex_lock_acquire(&lifecycle_lock);
	struct ring_producer *p = current;
	if (p && my_lane.generation == p->generation) {
		futex_lock_acquire(&p->claim_lock);
		p->lane_taken[my_lane.lane] = 0;
		futex_lock_release(&p->claim_lock);
	}
	futex_lock_release(&lifecycle_lock);
	my_lane.generation = 0;
}

static void create_lane_key(void)
{
	pthread_key_create(&lane_key, release_lane);
}

/* A memfd of the region's size, sealed so that the server can trust its size. */
static int make_memfd(char *err)
{
	int fd = memfd_create("ttalloc-ring", MFD_CLOEXEC | MFD_ALLOW_SEALING);
	if (fd < 0) {
		snprintf(err, 128, "memfd_create: %s", strerror(errno));
		return -1;
	}
	if (ftruncate(fd, sizeof(struct ring_region)) < 0 ||
	    fcntl(fd, F_ADD_SEALS, F_SEAL_SHRINK | F_SEAL_GROW | F_SEAL_SEAL) < 0) {
		snprintf(err, 128, "sizing the ring: %s", strerror(errno));
		close(fd);
		return -1;
	}
	return fd;
}

/* Resets the producer to hold `region` and `wake_fd` (none: NULL, -1) under a new generation. */
static void reset_producer(struct ring_producer *p, struct ring_region *region, int wake_fd)
{
	futex_lock_acquire(&lifecycle_lock);
	memset(p, 0, sizeof(*p));
	p->region = region;
	p->wake_fd = wake_fd;
	if (region) {
		if (++last_generation == 0)
			++last_generation;
		p->generation = last_generation;
		current = p;
	}
	futex_lock_release(&lifecycle_lock);
}

int ring_producer_create(struct ring_producer *p, int *memfd, char *err)
{
	pthread_once(&lane_key_once, create_lane_key);
	int fd = make_memfd(err);
	if (fd < 0) {
		reset_producer(p, NULL, -1);
		return -1;
	}
	void *map = mmap(NULL, sizeof(struct ring_region), PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
	int wake = map == MAP_FAILED ? -1 : eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
	if (wake < 0) {
		snprintf(err, 128, "%s: %s", map == MAP_FAILED ? "mmap" : "eventfd", strerror(errno));
		if (map != MAP_FAILED)
			munmap(map, sizeof(struct ring_region));
		close(fd);
		reset_producer(p, NULL, -1);
		return -1;
	}
	ring_header_init(&((struct ring_region *)map)->header);
	reset_producer(p, map, wake);
	*memfd = fd;
	return 0;
}

static void wake_waiters(struct ring_producer *p)
{
	for (int i = 0; i < RING_LANES; i++)
		futex_wake(&p->region->lanes[i].tail, 1 << 30);
}

void ring_producer_kill(struct ring_producer *p)
{
	if (!p->region)
		return;
	__atomic_store_n(&p->dead, 1, __ATOMIC_SEQ_CST);
	wake_waiters(p);
}

void ring_producer_destroy(struct ring_producer *p)
{
	if (p->region)
		munmap(p->region, sizeof(struct ring_region));
	if (p->wake_fd >= 0)
		close(p->wake_fd);
	futex_lock_acquire(&lifecycle_lock);
	p->region = NULL;
	p->wake_fd = -1;
	p->generation = 0;
	if (current == p)
		current = NULL;
	futex_lock_release(&lifecycle_lock);
}

void ring_producer_forget(struct ring_producer *p)
{
	/* the only thread left: a lock another thread held at fork is free */
	lifecycle_lock.word = 0;
	ring_producer_destroy(p);
	p->claim_lock.word = 0;
	p->shared_lane_lock.word = 0;
	p->dead = 0;
}

/* Gives the calling thread a lane of its own, or the shared one when all are taken. */
static void claim_lane(struct ring_producer *p)
{
	uint32_t lane = SHARED_LANE;
	futex_lock_acquire(&p->claim_lock);
	for (uint32_t i = 0; i < SHARED_LANE; i++) {
		if (!p->lane_taken[i]) {
			p->lane_taken[i] = 1;
			lane = i;
			break;
		}
	}
	uint32_t *used = &p->region->header.lanes_used;
	if (lane + 1 > __atomic_load_n(used, __ATOMIC_RELAXED))
		__atomic_store_n(used, lane + 1, __ATOMIC_RELEASE);
	futex_lock_release(&p->claim_lock);
	my_lane.generation = p->generation;
	my_lane.lane = lane;
	my_lane.tail_seen = __atomic_load_n(&p->region->lanes[lane].tail, __ATOMIC_ACQUIRE);
	pthread_setspecific(lane_key, p); /* any non-NULL value: the destructor runs at exit */
}

static void wake_server(struct ring_producer *p)
{
	uint64_t one = 1;
	ssize_t n = write(p->wake_fd, &one, sizeof(one));
	(void)n; /* EAGAIN: the counter is already non-zero, the server will wake */
}

/*
 * Waits until the lane has room for the event at `head`. Returns the tail
 * seen, with room, or sets the producer dead and returns `head` + 1 when
 * the server gives no room for RING_GIVE_UP_MS (the caller checks dead).
 */
static uint32_t wait_for_room(struct ring_producer *p, struct ring_lane *lane, uint32_t head)
{
	uint64_t started = 0;
	for (int spins = 0;; spins++) {
		uint32_t tail = __atomic_load_n(&lane->tail, __ATOMIC_ACQUIRE);
		if (ring_pending(head, tail) < RING_LANE_EVENTS)
			return tail;
		if (__atomic_load_n(&p->dead, __ATOMIC_ACQUIRE))
			return head + 1;
		if (spins < FULL_LANE_SPINS) {
			futex_cpu_relax();
			continue;
		}
		uint64_t now = clock_monotonic_ns();
		if (!started)
			started = now;
		else if (now - started > RING_GIVE_UP_MS * 1000000ull) {
			__atomic_store_n(&p->dead, 1, __ATOMIC_SEQ_CST);
			return head + 1;
		}
		/* announce the sleep, then look again: the server either sees
		 * the flag after moving tail, or we see the moved tail */
		__atomic_store_n(&lane->producer_waiting, 1, __ATOMIC_SEQ_CST);
		tail = __atomic_load_n(&lane->tail, __ATOMIC_SEQ_CST);
		if (ring_pending(head, tail) < RING_LANE_EVENTS)
			return tail;
		wake_server(p);
		futex_wait(&lane->tail, tail, FULL_LANE_SLEEP_NS);
	}
}

/* Writes the event at head and publishes it; returns -1 when the producer is dead. */
static int publish(struct ring_producer *p, struct ring_lane *lane, uint32_t *tail_seen, const struct ring_event *ev)
{
	uint32_t head = lane->head; /* only producers of this lane write it, one at a time */
	if (ring_pending(head, *tail_seen) >= RING_LANE_EVENTS) {
		*tail_seen = wait_for_room(p, lane, head);
		if (__atomic_load_n(&p->dead, __ATOMIC_ACQUIRE))
			return -1;
	}
	lane->events[head & (RING_LANE_EVENTS - 1)] = *ev;
	/* Ask for the slots a few events ahead now: the server read them last,
	 * and a store to a line another core holds stalls the next locked
	 * instruction (the shard lock) until the line arrives. */
	ring_prefetch_for_write(&lane->events[(head + PREFETCH_AHEAD) & (RING_LANE_EVENTS - 1)]);
	/*
	 * A plain release store, no barrier: a server going to sleep sets the
	 * flag, then looks at the heads once more a poll period later
	 * (ring.h), by when this store is visible even if our read of the flag
	 * below came before its store.
	 */
	__atomic_store_n(&lane->head, head + 1, __ATOMIC_RELEASE);
	if (__builtin_expect(__atomic_load_n(&p->region->header.server_sleeping, __ATOMIC_RELAXED), 0))
		wake_server(p);
	return 0;
}

int ring_producer_push(struct ring_producer *p, const struct ring_event *ev)
{
	if (__builtin_expect(my_lane.generation != p->generation, 0))
		claim_lane(p);
	struct ring_lane *lane = &p->region->lanes[my_lane.lane];
	if (__builtin_expect(my_lane.lane != SHARED_LANE, 1))
		return publish(p, lane, &my_lane.tail_seen, ev);
	futex_lock_acquire(&p->shared_lane_lock);
	uint32_t tail = __atomic_load_n(&lane->tail, __ATOMIC_ACQUIRE);
	int rc = publish(p, lane, &tail, ev);
	futex_lock_release(&p->shared_lane_lock);
	return rc;
}
