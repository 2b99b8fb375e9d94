/*
 * test_ring.c - the shared-memory fast path (src/common/ring.h): the real
 * producer (src/client/ring_producer.c) against the real consumer
 * (src/server/ring_consumer.c) in one process, the region handed over with
 * SCM_RIGHTS on a socketpair as a client would. Some tests write lanes by
 * hand to play a client that reports from several threads, or a broken one.
 */
#define _GNU_SOURCE
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <fcntl.h>
#include <pthread.h>
#include <string.h>
#include <sys/mman.h>
#include <time.h>

#include "../support/registry_check.h"
#include "../support/server_fixture.h"
#include "client/ring_producer.h"
#include "common/clock.h"

#define KiB 1024ull

/* ---- helpers ---- */

static struct proto_msg attach_frame(void)
{
	struct proto_msg m;
	proto_msg_init(&m, PROTO_RING_ATTACH, -1);
	m.u.ring = ring_geometry();
	return m;
}

/* Sends RING_ATTACH with `fds`, lets the server read it; returns the answer's type. */
static unsigned send_attach(struct fixture *f, const struct proto_msg *m, const int *fds, int nfds)
{
	if (nfds)
		assert_int_equal(unix_socket_send_fds(f->client, m, sizeof(*m), fds, nfds), 0);
	else
		assert_int_equal(unix_socket_write_all(f->client, m, sizeof(*m)), 0);
	fixture_run_once(&f->s);
	struct proto_msg ans;
	fixture_read_frame(f->client, &ans);
	if (ans.type == PROTO_ERROR)
		assert_int_equal(ans.u.error.reason, PROTO_ERR_BAD_RING);
	return ans.type;
}

/* A real producer attached to the fixture's connection. */
static void attach(struct fixture *f, struct ring_producer *p)
{
	char err[128];
	int memfd;
	assert_int_equal(ring_producer_create(p, &memfd, err), 0);
	struct proto_msg m = attach_frame();
	int fds[2] = {memfd, p->wake_fd};
	assert_int_equal(send_attach(f, &m, fds, 2), PROTO_RING_ACK);
	close(memfd);
	assert_non_null(client_of(f->c)->ring);
}

static struct ring_event event(unsigned type, int device, uint64_t address, uint64_t size, uint32_t seq)
{
	return (struct ring_event){.address = address,
				   .size = size,
				   .seq = seq,
				   .type = (uint8_t)type,
				   .device = (uint8_t)device,
				   .buffer_type = TTALLOC_DRAM,
				   .shard = (uint8_t)ring_shard_of(device, address)};
}

/* Writes an event into a lane by hand (a thread of the client) and publishes it. */
static void put(struct ring_region *r, unsigned lane, struct ring_event ev)
{
	struct ring_lane *l = &r->lanes[lane];
	l->events[l->head & (RING_LANE_EVENTS - 1)] = ev;
	__atomic_store_n(&l->head, l->head + 1, __ATOMIC_RELEASE);
	if (r->header.lanes_used < lane + 1)
		r->header.lanes_used = lane + 1;
}

static void assert_consistent(const struct server *s)
{
	char why[256];
	if (registry_check(&s->state.registry, why, sizeof(why)) != 0)
		fail_msg("registry invariant broken: %s", why);
}

static uint64_t dram(const struct fixture *f, int device)
{
	return f->s.state.registry.devices[device].used[TTALLOC_DRAM];
}

static void finish(struct fixture *f, struct ring_producer *p)
{
	connection_close(f->c); /* unmaps the server's side */
	ring_producer_destroy(p);
}

/* ---- tests ---- */

static void test_pushed_events_reach_the_registry(void **state)
{
	struct fixture *f = *state;
	struct ring_producer p;
	attach(f, &p);
	uint64_t expect = 0;
	uint32_t seq[RING_SHARDS] = {0};
	for (uint64_t i = 0; i < 1000; i++) {
		struct ring_event ev = event(PROTO_ALLOC, (int)(i % 2), 0x100000 + i * 0x1000, KiB * (i + 1), 0);
		ev.seq = seq[ev.shard]++;
		assert_int_equal(ring_producer_push(&p, &ev), 0);
		expect += KiB * (i + 1);
	}
	rings_drain_all(&f->s.ingest.rings);
	assert_int_equal(dram(f, 0) + dram(f, 1), expect);
	assert_int_equal(f->s.state.registry.live_buffers, 1000);
	assert_int_equal(f->s.ingest.stats.frames[PROTO_ALLOC], 1000);
	assert_consistent(&f->s);
	finish(f, &p);
}

/*
 * Thread A's ALLOC (lane 0), thread B's FREE of it and a new ALLOC at the
 * same address (lane 1): whichever lane the server reads first, the
 * shard's order wins.
 */
static void test_lanes_are_merged_in_each_shards_order(void **state)
{
	struct fixture *f = *state;
	struct ring_producer p;
	attach(f, &p);
	struct ring_region *r = p.region;
	put(r, 1, event(PROTO_FREE, 0, 0x5000, 0, 1));
	put(r, 1, event(PROTO_ALLOC, 0, 0x5000, 8 * KiB, 2));
	put(r, 0, event(PROTO_ALLOC, 0, 0x5000, 4 * KiB, 0));
	rings_drain_all(&f->s.ingest.rings);
	assert_int_equal(dram(f, 0), 8 * KiB);
	assert_int_equal(f->s.state.registry.live_buffers, 1);
	assert_int_equal(f->s.ingest.stats.errors[PROTO_ERR_DUPLICATE_ALLOC], 0);
	assert_int_equal(f->s.ingest.stats.errors[PROTO_ERR_UNKNOWN_FREE], 0);
	assert_int_equal(f->s.ingest.stats.errors[PROTO_ERR_BAD_RING], 0);
	assert_consistent(&f->s);
	finish(f, &p);
}

static void test_a_closing_client_s_last_events_count_in_its_leak_report(void **state)
{
	struct fixture *f = *state;
	struct ring_producer p;
	attach(f, &p);
	uint32_t seq[RING_SHARDS] = {0};
	for (uint32_t i = 0; i < 3; i++) {
		struct ring_event ev = event(PROTO_ALLOC, 0, 0x9000 + 0x1000 * i, 64 * KiB, 0);
		ev.seq = seq[ev.shard]++;
		put(p.region, 0, ev);
	}
	pid_t pid = f->c->pid;
	connection_close(f->c); /* never drained before: the close does it */
	assert_int_equal(f->s.state.leaks.count, 1);
	const struct leak_report *rep = leak_history_get(&f->s.state.leaks, 0);
	assert_int_equal(rep->pid, pid);
	assert_int_equal(rep->buffers, 3);
	assert_int_equal(f->s.state.registry.live_buffers, 0);
	ring_producer_destroy(&p);
}

static void test_attach_refuses_what_it_cannot_trust(void **state)
{
	struct fixture *f = *state;
	struct proto_msg m = attach_frame();
	/* no descriptors */
	assert_int_equal(send_attach(f, &m, NULL, 0), PROTO_ERROR);
	/* a memfd that could shrink under the server */
	int loose = memfd_create("loose", MFD_CLOEXEC);
	assert_int_equal(ftruncate(loose, sizeof(struct ring_region)), 0);
	int ev = eventfd(0, EFD_CLOEXEC);
	int fds[2] = {loose, ev};
	assert_int_equal(send_attach(f, &m, fds, 2), PROTO_ERROR);
	/* a pipe where the eventfd should be: reading it could block the loop */
	struct ring_producer p;
	char err[128];
	int memfd, pipefd[2];
	assert_int_equal(ring_producer_create(&p, &memfd, err), 0);
	assert_int_equal(pipe(pipefd), 0);
	fds[0] = memfd;
	fds[1] = pipefd[0];
	assert_int_equal(send_attach(f, &m, fds, 2), PROTO_ERROR);
	/* another geometry */
	fds[1] = ev;
	m.u.ring.lane_events *= 2;
	assert_int_equal(send_attach(f, &m, fds, 2), PROTO_ERROR);
	assert_null(client_of(f->c)->ring);
	assert_int_equal(f->s.ingest.stats.errors[PROTO_ERR_BAD_RING], 4);
	/* the connection still works, and a good attach still succeeds */
	m = attach_frame();
	assert_int_equal(send_attach(f, &m, fds, 2), PROTO_RING_ACK);
	close(loose);
	close(ev);
	close(memfd);
	close(pipefd[0]);
	close(pipefd[1]);
	finish(f, &p);
}

static void test_a_corrupt_head_stops_only_that_ring(void **state)
{
	struct fixture *f = *state;
	struct ring_producer p;
	attach(f, &p);
	put(p.region, 0, event(PROTO_ALLOC, 0, 0x1000, KiB, 0));
	p.region->lanes[0].head += RING_LANE_EVENTS + 7; /* claims more than a lane holds */
	rings_drain_all(&f->s.ingest.rings);
	assert_true(client_of(f->c)->ring->failed);
	assert_int_equal(f->s.ingest.stats.errors[PROTO_ERR_BAD_RING], 1);
	assert_int_equal(f->s.state.registry.live_buffers, 0);
	/* its socket is still served */
	struct proto_msg q;
	proto_msg_init(&q, PROTO_QUERY, 0);
	connection_feed(f->c, (const uint8_t *)&q, sizeof(q));
	struct proto_msg ans;
	fixture_read_frame(f->client, &ans);
	assert_int_equal(ans.type, PROTO_RESPONSE);
	finish(f, &p);
}

/*
 * Polls and wake-ups depend on how much time passed: the server's clock is
 * a fake one here (common/clock.h), moved by hand, so the test neither
 * sleeps nor depends on how loaded the machine is.
 */
static void test_an_idle_server_sleeps_and_a_push_wakes_it(void **state)
{
	struct fixture *f = *state;
	struct clock_fake clock;
	clock_fake_install(&clock, 1700000000ull * CLOCK_NS_PER_S, 1000 * CLOCK_NS_PER_S);
	struct ring_producer p;
	attach(f, &p);
	uint32_t seq[RING_SHARDS] = {0};
	for (uint32_t i = 0; i < RING_BUSY_EVENTS; i++) {
		struct ring_event ev = event(PROTO_ALLOC, 0, 0x200000 + 0x1000 * i, KiB, 0);
		ev.seq = seq[ev.shard]++;
		assert_int_equal(ring_producer_push(&p, &ev), 0);
	}
	assert_int_equal(rings_poll(&f->s.ingest.rings), 0); /* a stream: poll again at once */
	struct ring_event one = event(PROTO_FREE, 0, 0x200000, 0, 0);
	one.seq = seq[one.shard]++;
	assert_int_equal(ring_producer_push(&p, &one), 0);
	assert_int_equal(rings_poll(&f->s.ingest.rings), RING_POLL_MS); /* a trickle: in a poll period */
	assert_int_equal(rings_poll(&f->s.ingest.rings), RING_POLL_MS); /* idle, not for long yet */
	clock_fake_advance(&clock, (RING_IDLE_MS - 1) * CLOCK_NS_PER_MS);
	assert_int_equal(rings_poll(&f->s.ingest.rings), RING_POLL_MS);
	assert_int_equal(p.region->header.server_sleeping, 0); /* not idle long enough */
	clock_fake_advance(&clock, 2 * CLOCK_NS_PER_MS);
	/* idle: the flag is set, and the ring still polled for one period */
	assert_int_equal(rings_poll(&f->s.ingest.rings), RING_POLL_MS);
	assert_int_equal(p.region->header.server_sleeping, 1);
	assert_int_equal(client_of(f->c)->ring->state, RING_DOZING);
	clock_fake_advance(&clock, RING_POLL_MS * CLOCK_NS_PER_MS);
	assert_int_equal(rings_poll(&f->s.ingest.rings), -1);
	assert_int_equal(client_of(f->c)->ring->state, RING_ASLEEP);
	struct ring_event ev = event(PROTO_FREE, 0, 0x201000, 0, 0);
	ev.seq = seq[ev.shard]++;
	assert_int_equal(ring_producer_push(&p, &ev), 0);
	struct pollfd pfd = {.fd = p.wake_fd, .events = POLLIN};
	assert_int_equal(poll(&pfd, 1, 1000), 1); /* the producer wrote the eventfd */
	fixture_run_once(&f->s);                  /* the eventfd's turn: awake again */
	assert_int_equal(p.region->header.server_sleeping, 0);
	assert_int_equal(client_of(f->c)->ring->state, RING_AWAKE);
	assert_int_equal(rings_poll(&f->s.ingest.rings), RING_POLL_MS);
	assert_int_equal(f->s.state.registry.live_buffers, RING_BUSY_EVENTS - 2);
	finish(f, &p);
	clock_set_source(NULL);
}

/*
 * A shard whose next event never comes (a broken client) holds its later
 * events back for RING_STUCK_MS, then they are applied in lane order and
 * counted: one bad shard cannot stop the ring.
 */
static void test_a_stuck_shard_is_forced_through_after_a_second(void **state)
{
	struct fixture *f = *state;
	struct clock_fake clock;
	clock_fake_install(&clock, 1700000000ull * CLOCK_NS_PER_S, 1000 * CLOCK_NS_PER_S);
	struct ring_producer p;
	attach(f, &p);
	put(p.region, 0, event(PROTO_ALLOC, 0, 0x7000, 4 * KiB, 1)); /* seq 0 of its shard never comes */
	rings_drain_all(&f->s.ingest.rings);
	assert_int_equal(f->s.state.registry.live_buffers, 0); /* waits for its predecessor */
	clock_fake_advance(&clock, RING_STUCK_MS * CLOCK_NS_PER_MS);
	rings_drain_all(&f->s.ingest.rings);
	assert_int_equal(f->s.state.registry.live_buffers, 0); /* exactly a second: still waiting */
	clock_fake_advance(&clock, CLOCK_NS_PER_MS);
	rings_drain_all(&f->s.ingest.rings);
	assert_int_equal(f->s.state.registry.live_buffers, 1);
	assert_int_equal(f->s.ingest.stats.errors[PROTO_ERR_BAD_RING], 1);
	assert_consistent(&f->s);
	finish(f, &p);
	clock_set_source(NULL);
}

/*
 * The socket's end and the eventfd in one batch of the loop, the socket
 * first: closing the connection must not free the eventfd's handle before
 * the loop is done with the batch (ASan, make asan-test, would see it).
 */
static void test_a_hang_up_and_a_wake_up_in_one_batch(void **state)
{
	struct fixture *f = *state;
	struct ring_producer p;
	attach(f, &p);
	struct ring_event ev = event(PROTO_ALLOC, 0, 0x3000, KiB, 0);
	assert_int_equal(ring_producer_push(&p, &ev), 0);
	assert_int_equal(shutdown(f->client, SHUT_RDWR), 0);
	uint64_t one = 1;
	assert_int_equal(write(p.wake_fd, &one, sizeof(one)), (ssize_t)sizeof(one));
	fixture_run_once(&f->s);
	assert_true(f->c->closed);
	assert_int_equal(f->s.state.leaks.count, 1); /* its last event counted, in the leak report */
	connection_set_before_sleep(&f->s.ingest.conns);
	ring_producer_destroy(&p);
}

struct flood {
	struct ring_producer *p;
	uint32_t events;
	int failed;
};

/* Three lanes' worth on one lane: the producer must wait for room, not drop. */
static void *flood_main(void *arg)
{
	struct flood *fl = arg;
	uint32_t seq[RING_SHARDS] = {0};
	for (uint32_t i = 0; i < fl->events; i++) {
		uint64_t address = 0x100000000ull + (uint64_t)(i % 512) * 0x1000;
		struct ring_event ev = event(i % 1024 < 512 ? PROTO_ALLOC : PROTO_FREE, 0, address, KiB, 0);
		ev.seq = seq[ev.shard]++;
		fl->failed |= ring_producer_push(fl->p, &ev) < 0;
	}
	return NULL;
}

static void test_a_full_lane_makes_the_producer_wait_and_nothing_is_lost(void **state)
{
	struct fixture *f = *state;
	struct ring_producer p;
	attach(f, &p);
	struct flood fl = {&p, 3 * RING_LANE_EVENTS, 0};
	pthread_t t;
	assert_int_equal(pthread_create(&t, NULL, flood_main, &fl), 0);
	while (client_of(f->c)->ring->events < fl.events) {
		rings_poll(&f->s.ingest.rings);
		struct timespec pause = {0, 200000};
		nanosleep(&pause, NULL);
	}
	pthread_join(t, NULL);
	assert_false(fl.failed);
	assert_int_equal(client_of(f->c)->ring->events, fl.events);
	assert_int_equal(f->s.state.registry.live_buffers, 0); /* every ALLOC met its FREE */
	assert_int_equal(f->s.ingest.stats.errors[PROTO_ERR_UNKNOWN_FREE], 0);
	assert_consistent(&f->s);
	finish(f, &p);
}

int main(void)
{
#define T(name) cmocka_unit_test_setup_teardown(name, fixture_setup, fixture_teardown)
	const struct CMUnitTest tests[] = {
		T(test_pushed_events_reach_the_registry),
		T(test_lanes_are_merged_in_each_shards_order),
		T(test_a_closing_client_s_last_events_count_in_its_leak_report),
		T(test_attach_refuses_what_it_cannot_trust),
		T(test_a_corrupt_head_stops_only_that_ring),
		T(test_an_idle_server_sleeps_and_a_push_wakes_it),
		T(test_a_stuck_shard_is_forced_through_after_a_second),
		T(test_a_hang_up_and_a_wake_up_in_one_batch),
		T(test_a_full_lane_makes_the_producer_wait_and_nothing_is_lost),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
