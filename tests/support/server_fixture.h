/*
 * server_fixture.h - a server core in-process for the unit tests
 * (server_core_open: simulated devices, the picture, the protocol layer and
 * an event loop, without a socket file), and one client on a socketpair
 * adopted with ingest_adopt. Include after <cmocka.h>.
 */
#ifndef TTALLOC_TEST_SERVER_FIXTURE_H
#define TTALLOC_TEST_SERVER_FIXTURE_H

#include <poll.h>
#include <stdlib.h>
#include <sys/epoll.h>
#include <sys/eventfd.h>
#include <sys/socket.h>
#include <unistd.h>

#include "common/log.h"
#include "common/unix_socket.h"
#include "server/ingest/client.h"
#include "server/server.h"
#include "socket_read.h"

struct fixture {
	struct server s;
	struct connection *c; /* the client under test */
	int client;           /* its end of the socketpair */
};

/* A new connection on a socketpair; *client_fd is the client's end. */
static inline struct connection *fixture_open_client(struct server *s, int *client_fd)
{
	int sv[2];
	assert_int_equal(socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sv), 0);
	assert_int_equal(unix_socket_set_nonblocking(sv[0]), 0);
	struct connection *c = ingest_adopt(&s->ingest, sv[0]);
	assert_non_null(c);
	*client_fd = sv[1];
	return c;
}

/* cmocka setup: the server on the simulated devices, one client. */
static inline int fixture_setup(void **state)
{
	struct fixture *f = calloc(1, sizeof(*f));
	if (!f)
		return -1;
	char err[ERR_LEN];
	log_set_level(LOG_ERROR); /* keep the test output to failures */
	struct server_options opts;
	server_options_defaults(&opts);
	opts.devices = "sim";
	opts.leak_history = 16;
	opts.ttmetal_shm = 0;
	if (server_core_open(&f->s, &opts, err) < 0)
		return -1;
	f->c = fixture_open_client(&f->s, &f->client);
	*state = f;
	return 0;
}

/* cmocka teardown. */
static inline int fixture_teardown(void **state)
{
	struct fixture *f = *state;
	server_core_close(&f->s);
	close(f->client);
	free(f);
	return 0;
}

/* Hands one whole frame to the client's connection, as if it had arrived on the socket. */
static inline void fixture_feed(struct fixture *f, const struct proto_msg *m)
{
	connection_feed(f->c, (const uint8_t *)m, sizeof(*m));
}

/* An ALLOC, FREE or ALLOC_FAILED frame of the client (header fields and the call's stack id), fed. */
static inline void fixture_event(struct fixture *f, enum proto_msg_type type, int device, unsigned btype, uint64_t addr,
				 uint64_t size, uint64_t stack)
{
	struct proto_msg m;
	proto_msg_init(&m, type, device);
	m.buffer_type = (uint8_t)btype;
	m.buffer_id = addr;
	m.size = size;
	m.u.alloc.stack_id = stack;
	fixture_feed(f, &m);
}

/* Reads one answer frame; fails the test if none comes within a second. */
static inline void fixture_read_frame(int fd, struct proto_msg *m)
{
	read_exact(fd, m, sizeof(*m));
}

/* An eventfd that is always readable: its callback stops the loop, so
 * event_loop_run returns after exactly one batch of events. */
static inline void fixture_stop_loop(struct event_loop *loop, struct event_handle *h, uint32_t events)
{
	(void)h;
	(void)events;
	event_loop_stop(loop);
}

/* One real iteration of the server's event loop. */
static inline void fixture_run_once(struct server *s)
{
	struct event_handle tick = {.fd = eventfd(1, EFD_CLOEXEC), .fn = fixture_stop_loop};
	assert_true(tick.fd >= 0);
	assert_int_equal(event_loop_add(s->loop, &tick, EPOLLIN), 0);
	assert_int_equal(event_loop_run(s->loop), 0);
	event_loop_remove(s->loop, &tick);
	close(tick.fd);
}

#endif /* TTALLOC_TEST_SERVER_FIXTURE_H */
