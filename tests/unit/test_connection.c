/*
 * test_connection.c - the server's per-connection state machine, driven
 * in-process: a server core (sim devices, registry, leak history, event
 * loop) without a socket file, and clients on socketpairs adopted with
 * connection_open. Frames go in through connection_feed (the input path
 * after read()) or, for the read/EOF paths, through one real iteration of
 * the event loop at a time.
 */
#define _GNU_SOURCE
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <errno.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/eventfd.h>
#include <sys/socket.h>
#include <unistd.h>

#include "../support/registry_check.h"
#include "../support/server_fixture.h"
#include "common/log.h"
#include "common/unix_socket.h"
#include "server/server.h"

#define GiB (1024ull * 1024ull * 1024ull)

static struct proto_msg frame(unsigned type, int device, uint64_t size, unsigned buffer_type, int pid, uint64_t address)
{
	struct proto_msg m;
	proto_msg_init(&m, (enum proto_msg_type)type, device);
	m.size = size;
	m.buffer_type = (uint8_t)buffer_type;
	m.process_id = pid;
	m.buffer_id = address;
	return m;
}

static void feed(struct connection *c, const struct proto_msg *m)
{
	connection_feed(c, (const uint8_t *)m, sizeof(*m));
}

/* Feeds `c` one frame made by frame(). */
static void feed_frame(struct connection *c, unsigned type, int device, uint64_t size, unsigned buffer_type, int pid,
		       uint64_t address)
{
	struct proto_msg m = frame(type, device, size, buffer_type, pid, address);
	feed(c, &m);
}

/* 1 when an answer is waiting on the client's end. */
static int answer_waiting(int fd)
{
	struct pollfd p = {.fd = fd, .events = POLLIN};
	return poll(&p, 1, 0) == 1;
}

static void assert_consistent(const struct server *s)
{
	char why[256];
	if (registry_check(&s->state.registry, why, sizeof(why)) != 0)
		fail_msg("registry invariant broken: %s", why);
}

static uint64_t errors(const struct fixture *f, enum proto_error_reason reason)
{
	return f->s.ingest.stats.errors[reason];
}

/* ---- tests ---- */

static void test_alloc_then_query_answers_the_totals(void **state)
{
	struct fixture *f = *state;
	feed_frame(f->c, PROTO_ALLOC, 0, 3 * GiB, TTALLOC_DRAM, 0, 0x1000);
	feed_frame(f->c, PROTO_ALLOC, 0, 4096, TTALLOC_L1, (int)getpid(), 0x2000); /* own pid: accepted */
	feed_frame(f->c, PROTO_ALLOC, 0, 100, TTALLOC_L1_SMALL, 0, 0x3000);
	feed_frame(f->c, PROTO_ALLOC, 0, 7, TTALLOC_TRACE, 0, 0x4000);
	assert_false(answer_waiting(f->client)); /* ALLOC is never answered */
	feed_frame(f->c, PROTO_QUERY, 0, 0, 0, 0, 0);
	struct proto_msg ans;
	fixture_read_frame(f->client, &ans);
	assert_int_equal(ans.type, PROTO_RESPONSE);
	assert_int_equal(ans.device_id, 0);
	assert_int_equal(ans.u.seed.dram_allocated, 3 * GiB);
	assert_int_equal(ans.u.seed.l1_allocated, 4096);
	assert_int_equal(ans.u.seed.l1_small_allocated, 100);
	assert_int_equal(ans.u.seed.trace_allocated, 7);
	assert_int_equal(ans.u.seed.total_dram_size, 12 * GiB);
	assert_int_equal(ans.u.seed.total_l1_size, 1440ull << 20);
	assert_int_equal(ans.u.seed.arch_type, PROTO_ARCH_WORMHOLE_B0);
	assert_int_equal(ans.u.seed.num_dram_channels, 12);
	assert_int_equal(ans.u.seed.is_available, 1);
	assert_int_equal(ans.u.seed.num_devices, 2);
	assert_true(ans.timestamp > 0);
	/* device 1 is untouched */
	feed_frame(f->c, PROTO_QUERY, 1, 0, 0, 0, 0);
	fixture_read_frame(f->client, &ans);
	assert_int_equal(ans.device_id, 1);
	assert_int_equal(ans.u.seed.dram_allocated, 0);
	assert_int_equal(f->s.ingest.stats.frames[PROTO_ALLOC], 4);
	assert_int_equal(f->s.ingest.stats.frames[PROTO_QUERY], 2);
	for (int r = 0; r < PROTO_ERR_COUNT; r++)
		assert_int_equal(f->s.ingest.stats.errors[r], 0);
	/* FREE brings the total back */
	feed_frame(f->c, PROTO_FREE, 0, 0, 0, 0, 0x1000);
	feed_frame(f->c, PROTO_QUERY, 0, 0, 0, 0, 0);
	fixture_read_frame(f->client, &ans);
	assert_int_equal(ans.u.seed.dram_allocated, 0);
	assert_int_equal(ans.u.seed.l1_allocated, 4096);
	assert_consistent(&f->s);
}

static void test_frames_split_at_every_offset_are_reassembled(void **state)
{
	struct fixture *f = *state;
	struct proto_msg frames[3];
	frames[0] = frame(PROTO_ALLOC, 1, 1000, TTALLOC_DRAM, 0, 0xa000);
	frames[1] = frame(PROTO_ALLOC, 1, 24, TTALLOC_L1, 0, 0xb000);
	frames[2] = frame(PROTO_QUERY, 1, 0, 0, 0, 0);
	const uint8_t *bytes = (const uint8_t *)frames;
	for (size_t cut = 1; cut < sizeof(frames); cut++) {
		connection_feed(f->c, bytes, cut);
		assert_int_equal(f->c->partial_len, cut % PROTO_MSG_SIZE);
		connection_feed(f->c, bytes + cut, sizeof(frames) - cut);
		assert_int_equal(f->c->partial_len, 0);
		struct proto_msg ans;
		fixture_read_frame(f->client, &ans);
		assert_int_equal(ans.type, PROTO_RESPONSE);
		assert_int_equal(ans.u.seed.dram_allocated, 1000);
		assert_int_equal(ans.u.seed.l1_allocated, 24);
		/* free them for the next round */
		struct proto_msg fr = frame(PROTO_FREE, 1, 0, 0, 0, 0xa000);
		feed(f->c, &fr);
		fr = frame(PROTO_FREE, 1, 0, 0, 0, 0xb000);
		feed(f->c, &fr);
	}
	/* byte by byte */
	for (size_t i = 0; i < sizeof(frames); i++)
		connection_feed(f->c, bytes + i, 1);
	struct proto_msg ans;
	fixture_read_frame(f->client, &ans);
	assert_int_equal(ans.u.seed.dram_allocated, 1000);
	for (int r = 0; r < PROTO_ERR_COUNT; r++)
		assert_int_equal(f->s.ingest.stats.errors[r], 0);
	assert_consistent(&f->s);
}

static void test_partial_frame_across_two_reads_through_the_loop(void **state)
{
	struct fixture *f = *state;
	struct proto_msg m[2] = {frame(PROTO_ALLOC, 0, 512, TTALLOC_DRAM, 0, 0xc000),
				 frame(PROTO_QUERY, 0, 0, 0, 0, 0)};
	const uint8_t *bytes = (const uint8_t *)m;
	assert_int_equal(write(f->client, bytes, 50), 50);
	fixture_run_once(&f->s);
	assert_int_equal(f->c->partial_len, 50);
	assert_int_equal(f->s.state.registry.devices[0].buffers, 0);
	assert_int_equal(write(f->client, bytes + 50, sizeof(m) - 50), (ssize_t)(sizeof(m) - 50));
	fixture_run_once(&f->s);
	assert_int_equal(f->c->partial_len, 0);
	assert_int_equal(f->s.state.registry.devices[0].used[TTALLOC_DRAM], 512);
	struct proto_msg ans;
	fixture_read_frame(f->client, &ans);
	assert_int_equal(ans.u.seed.dram_allocated, 512);
}

static void test_pid_field_of_another_process_is_rejected_and_counted(void **state)
{
	struct fixture *f = *state;
	feed_frame(f->c, PROTO_ALLOC, 0, 4096, TTALLOC_DRAM, (int)getpid() + 1, 0x1000);
	assert_int_equal(errors(f, PROTO_ERR_PID_MISMATCH), 1);
	assert_int_equal(f->s.state.registry.devices[0].buffers, 0);
	/* a FREE posing as another process is refused the same way */
	feed_frame(f->c, PROTO_ALLOC, 0, 4096, TTALLOC_DRAM, 0, 0x1000);
	feed_frame(f->c, PROTO_FREE, 0, 0, 0, 1, 0x1000);
	assert_int_equal(errors(f, PROTO_ERR_PID_MISMATCH), 2);
	assert_int_equal(f->s.state.registry.devices[0].buffers, 1);
	assert_false(f->c->closed); /* the peer stays connected */
}

static void test_free_of_a_foreign_buffer_is_rejected_and_counted(void **state)
{
	struct fixture *f = *state;
	struct registry *r = &f->s.state.registry;
	uint32_t other = registry_attach(r, 5000021, 0);
	assert_int_equal(registry_alloc(r, other, 1, TTALLOC_DRAM, 0x7000, 999, 0), REGISTRY_OK);
	feed_frame(f->c, PROTO_FREE, 1, 0, 0, 0, 0x7000);
	assert_int_equal(errors(f, PROTO_ERR_FOREIGN_FREE), 1);
	assert_int_equal(r->devices[1].used[TTALLOC_DRAM], 999);
	assert_int_equal(registry_process(r, other)->live_buffers, 1);
	/* a free of nothing at all is a different error */
	feed_frame(f->c, PROTO_FREE, 1, 0, 0, 0, 0x7001);
	assert_int_equal(errors(f, PROTO_ERR_UNKNOWN_FREE), 1);
	assert_int_equal(errors(f, PROTO_ERR_FOREIGN_FREE), 1);
	assert_consistent(&f->s);
}

static void test_unknown_and_server_only_types_are_counted_and_the_stream_stays_in_step(void **state)
{
	struct fixture *f = *state;
	feed_frame(f->c, 200, 0, 0, 0, 0, 0);
	feed_frame(f->c, 13, 0, 0, 0, 0, 0); /* after upstream's DUMP_KERNELS (12): unknown */
	feed_frame(f->c, 0, 0, 0, 0, 0, 0);
	assert_int_equal(errors(f, PROTO_ERR_UNKNOWN_TYPE), 3);
	assert_int_equal(f->s.ingest.stats.frames[200], 1);
	feed_frame(f->c, PROTO_RESPONSE, 0, 0, 0, 0, 0);
	feed_frame(f->c, PROTO_ERROR, 0, 0, 0, 0, 0);
	assert_int_equal(errors(f, PROTO_ERR_UNEXPECTED_TYPE), 2);
	assert_false(f->c->closed);
	feed_frame(f->c, PROTO_QUERY, 0, 0, 0, 0, 0);
	struct proto_msg ans;
	fixture_read_frame(f->client, &ans);
	assert_int_equal(ans.type, PROTO_RESPONSE);
	assert_int_equal(ans.u.seed.is_available, 1);
}

static void test_bad_device_buffer_type_and_size_are_counted(void **state)
{
	struct fixture *f = *state;
	feed_frame(f->c, PROTO_ALLOC, 2, 4096, TTALLOC_DRAM, 0, 0x1000); /* devices are 0..1 */
	feed_frame(f->c, PROTO_ALLOC, -1, 4096, TTALLOC_DRAM, 0, 0x1000);
	feed_frame(f->c, PROTO_FREE, 64, 0, 0, 0, 0x1000);
	assert_int_equal(errors(f, PROTO_ERR_BAD_DEVICE), 3);
	feed_frame(f->c, PROTO_ALLOC, 0, 4096, TTALLOC_BUFFER_TYPES, 0, 0x1000);
	assert_int_equal(errors(f, PROTO_ERR_BAD_BUFFER_TYPE), 1);
	feed_frame(f->c, PROTO_ALLOC, 0, 0, TTALLOC_DRAM, 0, 0x1000);
	feed_frame(f->c, PROTO_ALLOC, 0, 12 * GiB + 1, TTALLOC_DRAM, 0, 0x1000);
	assert_int_equal(errors(f, PROTO_ERR_BAD_SIZE), 2);
	for (int d = 0; d < PROTO_MAX_DEVICES; d++)
		assert_int_equal(f->s.state.registry.devices[d].buffers, 0);
	assert_false(answer_waiting(f->client));
}

/* A seed client (no HELLO) asking for a device that does not exist sees its connection close. */
static void test_seed_query_of_a_bad_device_closes_the_connection(void **state)
{
	struct fixture *f = *state;
	feed_frame(f->c, PROTO_ALLOC, 0, 4096, TTALLOC_DRAM, 0, 0x1000);
	feed_frame(f->c, PROTO_QUERY, 2, 0, 0, 0, 0);
	assert_true(f->c->closed);
	char byte;
	assert_int_equal(recv(f->client, &byte, 1, MSG_DONTWAIT), 0); /* no answer, end of stream */
	assert_int_equal(errors(f, PROTO_ERR_BAD_DEVICE), 1);
	assert_int_equal(f->s.state.leaks.count, 1); /* its buffer: the process had one connection */
}

/*
 * HELLO of reporting instance `instance`, connection number `epoch`; reads
 * the answer (into `answer` when not NULL), or sees the close.
 */
static void say_hello(struct connection *c, int peer, uint64_t instance, uint32_t epoch, int answered,
		      struct proto_msg *answer)
{
	struct proto_msg m = frame(PROTO_HELLO, -1, 0, 0, 0, 0);
	m.u.hello.version = PROTO_EXT_VERSION;
	m.u.hello.instance = instance;
	m.u.hello.epoch = epoch;
	feed(c, &m);
	if (answered) {
		struct proto_msg ans;
		fixture_read_frame(peer, &ans);
		assert_int_equal(ans.type, PROTO_HELLO_ACK);
		assert_true(ans.u.hello.features & PROTO_FEATURE_SESSIONS);
		if (answer)
			*answer = ans;
	} else {
		char byte;
		assert_int_equal(recv(peer, &byte, 1, MSG_DONTWAIT), 0); /* closed, unanswered */
	}
}

/* ttalloc's clients (HELLO) get ERROR(bad_device) for each bad device, and keep their connection. */
static void test_query_of_a_bad_device_is_a_typed_error_after_hello(void **state)
{
	struct fixture *f = *state;
	struct proto_msg m, ans;
	say_hello(f->c, f->client, 0, 0, 1, NULL);
	static const int bad[] = {2, 63, 64, -1, -5, 1 << 30};
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		m = frame(i % 2 ? PROTO_DEVICE_INFO_QUERY : PROTO_QUERY, bad[i], 0, 0, 0, 0);
		if (m.type == PROTO_DEVICE_INFO_QUERY && bad[i] == -1)
			m.type = PROTO_QUERY; /* DEVICE_INFO_QUERY(-1) is the count question */
		feed(f->c, &m);
		fixture_read_frame(f->client, &ans);
		assert_int_equal(ans.type, PROTO_ERROR);
		assert_int_equal(ans.device_id, bad[i]);
		assert_int_equal(ans.u.error.reason, PROTO_ERR_BAD_DEVICE);
		assert_int_equal(ans.u.error.code, TTALLOC_EINVAL);
	}
	assert_false(f->c->closed);
	assert_int_equal(errors(f, PROTO_ERR_BAD_DEVICE), sizeof(bad) / sizeof(bad[0]));
	/* DEVICE_INFO_QUERY(-1) is the device count question, not an error */
	feed_frame(f->c, PROTO_DEVICE_INFO_QUERY, -1, 0, 0, 0, 0);
	fixture_read_frame(f->client, &ans);
	assert_int_equal(ans.type, PROTO_DEVICE_INFO_RESPONSE);
	assert_int_equal(ans.u.seed.num_devices, 2);
	assert_int_equal(errors(f, PROTO_ERR_BAD_DEVICE), sizeof(bad) / sizeof(bad[0]));
	feed_frame(f->c, PROTO_DEVICE_INFO_QUERY, 1, 0, 0, 0, 0);
	fixture_read_frame(f->client, &ans);
	assert_int_equal(ans.u.seed.is_available, 1);
	assert_int_equal(ans.u.seed.total_dram_size, 12 * GiB);
}

static void test_extension_queries(void **state)
{
	struct fixture *f = *state;
	struct proto_msg ans;
	say_hello(f->c, f->client, 0, 0, 1, &ans);
	assert_int_equal(ans.u.hello.version, PROTO_EXT_VERSION);
	assert_int_equal(ans.u.hello.num_devices, 2);
	assert_int_equal(ans.u.hello.server_pid, (uint32_t)getpid());
	assert_int_equal(client_of(f->c)->hello_version, PROTO_EXT_VERSION);

	feed_frame(f->c, PROTO_ALLOC, 1, 1 << 20, TTALLOC_DRAM, 0, 0x1000);
	feed_frame(f->c, PROTO_ALLOC, 1, 64, TTALLOC_CB, 0, 0x2000);
	feed_frame(f->c, PROTO_SYNC, -1, 77, 0, 0, 0);
	fixture_read_frame(f->client, &ans);
	assert_int_equal(ans.type, PROTO_SYNC_ACK);
	assert_int_equal(ans.size, 77);

	feed_frame(f->c, PROTO_PROCESS_QUERY, -1, 0, 0, 0, 0);
	fixture_read_frame(f->client, &ans);
	assert_int_equal(ans.type, PROTO_PROCESS_ROW);
	assert_int_equal(ans.process_id, getpid());
	assert_int_equal(ans.device_id, 1);
	assert_int_equal(ans.size, 2); /* buffers */
	assert_int_equal(ans.u.process.used[0], 1 << 20);
	assert_int_equal(ans.u.process.cb, 64);
	fixture_read_frame(f->client, &ans);
	assert_int_equal(ans.type, PROTO_ROWS_END);
	assert_int_equal(ans.size, 1);

	feed_frame(f->c, PROTO_DEVICE_STATUS_QUERY, 1, 0, 0, 0, 0);
	fixture_read_frame(f->client, &ans);
	assert_int_equal(ans.type, PROTO_DEVICE_STATUS);
	assert_int_equal(ans.u.status.live_buffers, 2);
	assert_int_equal(ans.u.status.processes, 1);
	assert_int_equal(ans.u.status.cb_allocated, 64);
	assert_int_equal(ans.u.status.backend_flags & 1, 1);

	feed_frame(f->c, PROTO_DEVICE_STATUS_QUERY, 5, 0, 0, 0, 0);
	fixture_read_frame(f->client, &ans);
	assert_int_equal(ans.type, PROTO_ERROR);
	assert_int_equal(ans.u.error.code, TTALLOC_EINVAL);
	assert_int_equal(ans.u.error.reason, PROTO_ERR_BAD_DEVICE);
	assert_true(ans.u.error.message[0] != '\0');
}

static void test_close_reports_the_leak_and_releases_the_totals(void **state)
{
	struct fixture *f = *state;
	feed_frame(f->c, PROTO_ALLOC, 0, 1000, TTALLOC_DRAM, 0, 0x1000);
	feed_frame(f->c, PROTO_ALLOC, 1, 24, TTALLOC_L1, 0, 0x2000);
	connection_close(f->c);
	assert_true(f->c->closed);
	assert_int_equal(f->s.ingest.conns.count, 0);
	assert_int_equal(f->s.state.leaks.count, 1);
	const struct leak_report *rep = leak_history_get(&f->s.state.leaks, 0);
	assert_int_equal(rep->pid, getpid());
	assert_int_equal(rep->buffers, 2);
	assert_int_equal(rep->bytes, 1024);
	assert_int_equal(rep->device_bytes[0], 1000);
	assert_int_equal(rep->device_bytes[1], 24);
	assert_int_equal(rep->kept, 2);
	assert_int_equal(rep->entries[0].address, 0x1000);
	assert_int_equal(f->s.state.registry.devices[0].buffers, 0);
	assert_int_equal(f->s.state.registry.devices[1].used[TTALLOC_L1], 0);
	assert_int_equal(registry_find_pid(&f->s.state.registry, getpid()), REGISTRY_NONE);
	assert_consistent(&f->s);
	connection_close(f->c); /* twice is harmless */
	assert_int_equal(f->s.state.leaks.count, 1);
	connection_set_before_sleep(&f->s.ingest.conns);

	/* another connection of this process sees the leak in LEAK_QUERY */
	int fd;
	f->c = fixture_open_client(&f->s, &fd);
	close(f->client);
	f->client = fd;
	feed_frame(f->c, PROTO_LEAK_QUERY, -1, 0, 0, 0, 0);
	struct proto_msg ans;
	fixture_read_frame(f->client, &ans);
	assert_int_equal(ans.type, PROTO_LEAK_ROW);
	assert_int_equal(ans.process_id, getpid());
	assert_int_equal(ans.buffer_id, 0x1000);
	assert_int_equal(ans.size, 1000);
	assert_int_equal(ans.u.process.flags & PROTO_PROCESS_EXITED, PROTO_PROCESS_EXITED);
	fixture_read_frame(f->client, &ans);
	assert_int_equal(ans.type, PROTO_LEAK_ROW);
	assert_int_equal(ans.buffer_id, 0x2000);
	fixture_read_frame(f->client, &ans);
	assert_int_equal(ans.type, PROTO_ROWS_END);
	assert_int_equal(ans.size, 2);
}

static void test_leak_waits_for_the_last_connection_of_a_process(void **state)
{
	struct fixture *f = *state;
	int fd2;
	struct connection *c2 = fixture_open_client(&f->s, &fd2);
	assert_int_equal(client_of(c2)->proc, client_of(f->c)->proc); /* same pid, one record */
	feed_frame(f->c, PROTO_ALLOC, 0, 1000, TTALLOC_DRAM, 0, 0x1000);
	connection_close(f->c);
	assert_int_equal(f->s.state.leaks.count, 0);
	assert_int_equal(f->s.state.registry.devices[0].buffers, 1);
	/* the buffer belongs to the process, so its other connection frees it */
	feed_frame(c2, PROTO_FREE, 0, 0, 0, 0, 0x1000);
	assert_int_equal(f->s.state.registry.devices[0].buffers, 0);
	connection_close(c2);
	assert_int_equal(f->s.state.leaks.count, 0); /* nothing left: no report */
	close(fd2);
}

/*
 * A library that gave up on a hung server reconnects: its newer connection
 * supersedes the older one (closed, its unread events dropped) and the
 * buffers it reported before (its resync re-sends them), not the process's
 * other instances' buffers; the process is not taken as exited.
 */
static void test_a_newer_connection_of_an_instance_supersedes_the_older(void **state)
{
	struct fixture *f = *state;
	say_hello(f->c, f->client, 0xabc, 0, 1, NULL);
	feed_frame(f->c, PROTO_ALLOC, 0, 1000, TTALLOC_DRAM, 0, 0x1000);
	feed_frame(f->c, PROTO_ALLOC, 0, 2000, TTALLOC_DRAM, 0, 0x2000); /* freed while the server hung */
	int fd_other, fd_new;
	struct connection *other = fixture_open_client(&f->s, &fd_other); /* another library, same process */
	say_hello(other, fd_other, 0xdef, 0, 1, NULL);
	feed_frame(other, PROTO_ALLOC, 1, 4096, TTALLOC_L1, 0, 0x3000);
	struct connection *newer = fixture_open_client(&f->s, &fd_new);
	say_hello(newer, fd_new, 0xabc, 1, 1, NULL);
	assert_true(f->c->closed); /* superseded */
	assert_true(client_of(f->c)->superseded);
	assert_false(other->closed);
	assert_int_equal(f->s.ingest.stats.superseded, 1);
	assert_int_equal(f->s.state.registry.devices[0].buffers, 0);      /* instance 0xabc's buffers went */
	assert_int_equal(f->s.state.registry.devices[1].buffers, 1);      /* instance 0xdef's stayed */
	feed_frame(newer, PROTO_ALLOC, 0, 1000, TTALLOC_DRAM, 0, 0x1000); /* the resync: only what is live */
	assert_int_equal(f->s.state.registry.devices[0].used[TTALLOC_DRAM], 1000);
	assert_int_equal(f->s.state.leaks.count, 0);
	/* a connection of the instance older than the newest speaks late: closed, unanswered */
	int fd_late;
	struct connection *late = fixture_open_client(&f->s, &fd_late);
	say_hello(late, fd_late, 0xabc, 0, 0, NULL);
	assert_true(late->closed);
	assert_false(newer->closed);
	assert_int_equal(f->s.ingest.stats.superseded, 2);
	assert_consistent(&f->s);
	close(fd_other);
	close(fd_new);
	close(fd_late);
}

/*
 * The last connection of a process ends: with GOODBYE (ttalloc_shutdown)
 * what it holds is leaked at once; without it, a process that still runs
 * (this test) keeps its buffers counted until it reconnects or exits.
 */
static void test_goodbye_decides_whether_a_running_process_leaked(void **state)
{
	struct fixture *f = *state;
	say_hello(f->c, f->client, 0x123, 0, 1, NULL);
	feed_frame(f->c, PROTO_ALLOC, 0, 1000, TTALLOC_DRAM, 0, 0x1000);
	connection_close(f->c); /* lost, no GOODBYE: the library will reconnect */
	assert_int_equal(f->s.state.leaks.count, 0);
	assert_int_equal(f->s.state.registry.devices[0].buffers, 1);
	assert_int_equal(f->s.ingest.departures.count, 1);
	int fd2;
	struct connection *c2 = fixture_open_client(&f->s, &fd2);
	say_hello(c2, fd2, 0x123, 1, 1, NULL);
	assert_int_equal(f->s.state.registry.devices[0].buffers, 0); /* its resync would follow */
	feed_frame(c2, PROTO_ALLOC, 0, 500, TTALLOC_DRAM, 0, 0x4000);
	feed_frame(c2, PROTO_GOODBYE, -1, 0, 0, 0, 0);
	connection_close(c2);
	assert_int_equal(f->s.state.leaks.count, 1);
	assert_int_equal(leak_history_get(&f->s.state.leaks, 0)->bytes, 500);
	assert_int_equal(f->s.state.registry.devices[0].buffers, 0);
	close(fd2);
}

static void test_end_of_stream_mid_frame_is_truncated_and_closes(void **state)
{
	struct fixture *f = *state;
	struct proto_msg m[2] = {frame(PROTO_ALLOC, 0, 512, TTALLOC_DRAM, 0, 0xc000),
				 frame(PROTO_ALLOC, 0, 512, TTALLOC_DRAM, 0, 0xd000)};
	assert_int_equal(write(f->client, m, sizeof(m) - 10), (ssize_t)(sizeof(m) - 10));
	shutdown(f->client, SHUT_WR);
	fixture_run_once(&f->s);
	if (!f->c->closed)
		fixture_run_once(&f->s); /* data and EOF may come in two reads */
	assert_true(f->c->closed);
	assert_int_equal(errors(f, PROTO_ERR_TRUNCATED), 1);
	assert_int_equal(f->s.state.leaks.count, 1); /* the whole frame before it counted */
	assert_int_equal(leak_history_get(&f->s.state.leaks, 0)->buffers, 1);
	assert_int_equal(f->s.state.registry.devices[0].buffers, 0);
}

static void test_accept_through_a_listening_socket(void **state)
{
	struct fixture *f = *state;
	char path[64], err[UNIX_SOCKET_ERR_LEN];
	snprintf(path, sizeof(path), "/tmp/ttalloc-test-%d.sock", (int)getpid());
	int lfd = unix_socket_listen(path, 0600, 16, err);
	assert_true(lfd >= 0);
	assert_int_equal(ingest_listen(&f->s.ingest, lfd, err), 0); /* the set owns lfd now */
	int cfd = unix_socket_connect(path, err);
	assert_true(cfd >= 0);
	fixture_run_once(&f->s);
	assert_int_equal(f->s.ingest.conns.count, 2);
	assert_int_equal(f->s.ingest.conns.accepted, 2);
	struct proto_msg m = frame(PROTO_QUERY, 0, 0, 0, 0, 0);
	assert_int_equal(unix_socket_write_all(cfd, &m, sizeof(m)), 0);
	fixture_run_once(&f->s);
	struct proto_msg ans;
	fixture_read_frame(cfd, &ans);
	assert_int_equal(ans.type, PROTO_RESPONSE);
	close(cfd);
	fixture_run_once(&f->s);
	assert_int_equal(f->s.ingest.conns.count, 1);
	unlink(path);
	connection_set_before_sleep(&f->s.ingest.conns);
}

/*
 * A peer that reads its answers slowly but steadily keeps a backlog that
 * never drains to zero. The queue must stay bounded by the backlog, not grow
 * with every answer ever sent; and the bytes must come out in order.
 */
static void test_output_queue_of_a_slow_reader_stays_bounded(void **state)
{
	struct fixture *f = *state;
	f->s.ingest.conns.limits.max_output_bytes = 256 * 1024;
	int small = 4096;
	setsockopt(f->c->handle.fd, SOL_SOCKET, SO_SNDBUF, &small, sizeof(small));
	setsockopt(f->client, SOL_SOCKET, SO_RCVBUF, &small, sizeof(small));
	uint64_t sent = 0, received = 0;
	struct proto_msg m = frame(PROTO_SYNC, -1, 0, 0, 0, 0);
	/* a backlog well past what the socket holds */
	while (f->c->out_len - f->c->out_sent < 32 * 1024) {
		m.size = ++sent;
		feed(f->c, &m);
		assert_false(f->c->closed);
	}
	for (int i = 0; i < 20000; i++) {
		m.size = ++sent;
		feed(f->c, &m);
		assert_false(f->c->closed);
		struct proto_msg ans;
		fixture_read_frame(f->client, &ans);
		assert_int_equal(ans.type, PROTO_SYNC_ACK);
		assert_int_equal(ans.size, ++received);
	}
	assert_true(f->c->out_len - f->c->out_sent > 0); /* it never drained */
	assert_true(f->c->out_cap <= 128 * 1024);
	/* the rest arrives intact */
	while (received < sent) {
		struct proto_msg ans;
		if (!answer_waiting(f->client)) {
			struct proto_msg q = frame(PROTO_SYNC, -1, ++sent, 0, 0, 0);
			feed(f->c, &q); /* each send flushes what fits */
		}
		fixture_read_frame(f->client, &ans);
		assert_int_equal(ans.size, ++received);
	}
}

static void test_a_peer_that_never_reads_is_dropped_at_the_limit(void **state)
{
	struct fixture *f = *state;
	f->s.ingest.conns.limits.max_output_bytes = 16 * 1024;
	feed_frame(f->c, PROTO_ALLOC, 0, 4096, TTALLOC_DRAM, 0, 0x1000);
	struct proto_msg m = frame(PROTO_QUERY, 0, 0, 0, 0, 0);
	int n = 0;
	while (!f->c->closed && n < 100000) {
		feed(f->c, &m);
		n++;
	}
	assert_true(f->c->closed);
	assert_int_equal(errors(f, PROTO_ERR_OUTPUT_OVERFLOW), 1);
	assert_int_equal(f->s.state.leaks.count, 1); /* it left a buffer behind */
	assert_consistent(&f->s);
}

/* ---- upstream tt-metal: 144-byte frames and types 8..12 ---- */

static struct proto_upstream_msg up_frame(unsigned type, int device, uint64_t size, unsigned buffer_type, uint64_t id)
{
	struct proto_upstream_msg m;
	memset(&m, 0, sizeof(m));
	m.type = (uint8_t)type;
	m.device_id = device;
	m.size = size;
	m.buffer_type = (uint8_t)buffer_type;
	m.process_id = (int32_t)getpid();
	m.buffer_id = id;
	return m;
}

static void read_upstream(int fd, struct proto_upstream_msg *m)
{
	read_exact(fd, m, sizeof(*m));
}

static void test_upstream_144_byte_stream_is_detected_and_answered_in_kind(void **state)
{
	struct fixture *f = *state;
	struct proto_upstream_msg stream[] = {
		up_frame(PROTO_ALLOC, 0, 4096, TTALLOC_DRAM, 0x1000),
		up_frame(PROTO_ALLOC, 0, 8 << 20, TTALLOC_SYSTEM_MEMORY, 0x7f0000000000),
		up_frame(PROTO_CB_ALLOC, 0, 2048, 0, 0x20000),
		up_frame(PROTO_CB_ALLOC, 0, 1024, 0, 0x20000), /* same address, another program */
		up_frame(PROTO_KERNEL_LOAD, 0, 512, 2, 0xabc), /* buffer_type: kernel kind (dispatch) */
		up_frame(PROTO_CB_FREE, 0, 1024, 0, 0x20000),
		up_frame(PROTO_QUERY, 0, 0, 0, 0),
	};
	connection_feed(f->c, (const uint8_t *)stream, sizeof(stream));
	assert_non_null(f->c->wire);
	assert_int_equal(f->c->wire->frame_size, PROTO_UPSTREAM_MSG_SIZE);
	struct proto_upstream_msg ans;
	read_upstream(f->client, &ans);
	assert_int_equal(ans.type, PROTO_RESPONSE);
	assert_int_equal(ans.dram_allocated, 4096);
	assert_int_equal(ans.cb_allocated, 2048);
	assert_int_equal(ans.kernel_allocated, 512);
	assert_int_equal(ans.is_available, 1);
	assert_int_equal(ans.num_devices, 2);
	assert_int_equal(ans.total_l1_size, f->s.state.devices.devices[0].info.l1_total);
	assert_false(answer_waiting(f->client)); /* exactly 144 bytes */
	/* host memory is counted, in no device total */
	assert_int_equal(f->s.state.registry.devices[0].used[TTALLOC_SYSTEM_MEMORY], 8 << 20);
	assert_int_equal(f->s.state.registry.devices[0].used[TTALLOC_CB], 2048);
	assert_int_equal(f->s.state.registry.devices[0].used[TTALLOC_KERNEL], 512);
	assert_int_equal(f->s.ingest.stats.errors[PROTO_ERR_UNKNOWN_TYPE], 0);
	assert_consistent(&f->s);
}

static void test_upstream_frame_split_after_112_bytes_switches_to_144(void **state)
{
	struct fixture *f = *state;
	struct proto_upstream_msg a = up_frame(PROTO_ALLOC, 1, 4096, TTALLOC_L1, 0x1000);
	struct proto_upstream_msg b = up_frame(PROTO_KERNEL_LOAD, 1, 300, 0, 0x77);
	/* the first 112 bytes alone look like a whole seed frame */
	connection_feed(f->c, (const uint8_t *)&a, PROTO_MSG_SIZE);
	assert_int_equal(f->c->wire->frame_size, PROTO_MSG_SIZE);
	assert_true(f->c->wire_tentative);
	assert_int_equal(f->s.state.registry.devices[1].used[TTALLOC_L1], 4096);
	/* its 32 zero bytes arrive one by one, then the next frame */
	for (size_t i = PROTO_MSG_SIZE; i < sizeof(a); i++)
		connection_feed(f->c, (const uint8_t *)&a + i, 1);
	assert_int_equal(f->c->wire->frame_size, PROTO_UPSTREAM_MSG_SIZE);
	connection_feed(f->c, (const uint8_t *)&b, sizeof(b));
	assert_int_equal(f->s.state.registry.devices[1].used[TTALLOC_KERNEL], 300);
	assert_int_equal(f->s.ingest.stats.errors[PROTO_ERR_UNKNOWN_TYPE], 0);
	assert_consistent(&f->s);
}

static void test_a_seed_query_of_exactly_112_bytes_is_answered_at_once(void **state)
{
	struct fixture *f = *state;
	feed_frame(f->c, PROTO_QUERY, 0, 0, 0, 0, 0);
	struct proto_msg ans;
	fixture_read_frame(f->client, &ans); /* not held back waiting for 32 more bytes */
	assert_int_equal(ans.type, PROTO_RESPONSE);
	/* the next seed frame confirms 112 */
	feed_frame(f->c, PROTO_ALLOC, 0, 4096, TTALLOC_DRAM, 0, 0x1000);
	assert_false(f->c->wire_tentative);
	assert_int_equal(f->c->wire->frame_size, PROTO_MSG_SIZE);
	assert_int_equal(f->s.state.registry.devices[0].used[TTALLOC_DRAM], 4096);
}

static void test_cb_and_kernel_records_are_their_own_kind(void **state)
{
	struct fixture *f = *state;
	struct registry *r = &f->s.state.registry;
	feed_frame(f->c, PROTO_ALLOC, 0, 4096, TTALLOC_L1, 0, 0x5000);
	feed_frame(f->c, PROTO_CB_ALLOC, 0, 1000, 0, 0, 0x5000); /* a CB at a buffer's address */
	feed_frame(f->c, PROTO_CB_ALLOC, 0, 1000, 0, 0, 0x5000); /* and again: two records */
	assert_int_equal(r->devices[0].used[TTALLOC_CB], 2000);
	assert_int_equal(f->s.ingest.stats.errors[PROTO_ERR_DUPLICATE_ALLOC], 0);
	/* FREE releases the ALLOC's buffer, never a CB */
	feed_frame(f->c, PROTO_FREE, 0, 0, 0, 0, 0x5000);
	assert_int_equal(r->devices[0].used[TTALLOC_L1], 0);
	assert_int_equal(r->devices[0].used[TTALLOC_CB], 2000);
	feed_frame(f->c, PROTO_FREE, 0, 0, 0, 0, 0x5000);
	assert_int_equal(f->s.ingest.stats.errors[PROTO_ERR_UNKNOWN_FREE], 1);
	/* CB_FREE: one record each; KERNEL_UNLOAD of nothing is an unknown free */
	feed_frame(f->c, PROTO_CB_FREE, 0, 1000, 0, 0, 0x5000);
	assert_int_equal(r->devices[0].used[TTALLOC_CB], 1000);
	feed_frame(f->c, PROTO_KERNEL_UNLOAD, 0, 1000, 0, 0, 0x5000);
	assert_int_equal(f->s.ingest.stats.errors[PROTO_ERR_UNKNOWN_FREE], 2);
	feed_frame(f->c, PROTO_KERNEL_LOAD, 0, 0, 0, 0, 0x9);
	assert_int_equal(f->s.ingest.stats.errors[PROTO_ERR_BAD_SIZE], 1);
	feed_frame(f->c, PROTO_DUMP_KERNELS, 0, 0, 0, 0, 0);
	assert_false(answer_waiting(f->client)); /* DUMP_KERNELS is logged, not answered */
	assert_consistent(&f->s);
	/* what is left at exit is a leak, CB included */
	connection_close(f->c);
	assert_int_equal(f->s.state.leaks.count, 1);
	assert_int_equal(leak_history_get(&f->s.state.leaks, 0)->entries[0].type, TTALLOC_CB);
	assert_int_equal(r->devices[0].used[TTALLOC_CB], 0);
}

#define T(name) cmocka_unit_test_setup_teardown(name, fixture_setup, fixture_teardown)

int main(void)
{
	const struct CMUnitTest tests[] = {
		T(test_alloc_then_query_answers_the_totals),
		T(test_frames_split_at_every_offset_are_reassembled),
		T(test_partial_frame_across_two_reads_through_the_loop),
		T(test_pid_field_of_another_process_is_rejected_and_counted),
		T(test_free_of_a_foreign_buffer_is_rejected_and_counted),
		T(test_unknown_and_server_only_types_are_counted_and_the_stream_stays_in_step),
		T(test_bad_device_buffer_type_and_size_are_counted),
		T(test_seed_query_of_a_bad_device_closes_the_connection),
		T(test_query_of_a_bad_device_is_a_typed_error_after_hello),
		T(test_extension_queries),
		T(test_close_reports_the_leak_and_releases_the_totals),
		T(test_leak_waits_for_the_last_connection_of_a_process),
		T(test_a_newer_connection_of_an_instance_supersedes_the_older),
		T(test_goodbye_decides_whether_a_running_process_leaked),
		T(test_end_of_stream_mid_frame_is_truncated_and_closes),
		T(test_accept_through_a_listening_socket),
		T(test_output_queue_of_a_slow_reader_stays_bounded),
		T(test_a_peer_that_never_reads_is_dropped_at_the_limit),
		T(test_upstream_144_byte_stream_is_detected_and_answered_in_kind),
		T(test_upstream_frame_split_after_112_bytes_switches_to_144),
		T(test_a_seed_query_of_exactly_112_bytes_is_answered_at_once),
		T(test_cb_and_kernel_records_are_their_own_kind),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
