/*
 * fuzz_server.h - what the libFuzzer targets share: one server core in the
 * fuzzing process (simulated devices, registry, leak history, event loop,
 * no socket file), a bystander process holding a few buffers, the peer
 * that reads a connection's answers, and the oracles that abort on a
 * broken invariant.
 *
 * The core lives for the whole fuzzing session; each target closes what an
 * input opened, so nothing but the bystander (and counters) carries over.
 */
#ifndef TTALLOC_FUZZ_SERVER_H
#define TTALLOC_FUZZ_SERVER_H

#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/eventfd.h>
#include <sys/socket.h>
#include <unistd.h>

#include "../support/registry_check.h"
#include "common/log.h"
#include "server/ingest/client.h"
#include "server/server.h"

/* Bystander buffers: (device, address) pairs that inputs FREE (foreign-free path). */
static const struct {
	int device;
	unsigned type;
	uint64_t address;
	uint64_t size;
} fuzz_bystander_buffers[] = {
	{0, TTALLOC_DRAM, 0x1000, 4096},
	{0, TTALLOC_L1, 0x2000, 1024},
	{1, TTALLOC_TRACE, 0x1000, 65536},
};
#define FUZZ_BYSTANDER_BUFFERS (sizeof(fuzz_bystander_buffers) / sizeof(fuzz_bystander_buffers[0]))

/* The bystander's registry record (pid 1). */
static uint32_t fuzz_bystander;

/* A broken invariant or a harness that cannot run: abort, so libFuzzer saves the input. */
static inline void fuzz_die(const char *what)
{
	fprintf(stderr, "fuzz: %s\n", what);
	abort();
}

/*
 * A connected pair with small socket buffers, so that a peer that does not
 * read fills them quickly (output overflow is reachable); sv[0] is the
 * server's end.
 */
static inline void fuzz_socketpair(int sv[2])
{
	if (socketpair(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0, sv) < 0)
		fuzz_die("socketpair failed");
	int small = 4096;
	setsockopt(sv[0], SOL_SOCKET, SO_SNDBUF, &small, sizeof(small));
	setsockopt(sv[1], SOL_SOCKET, SO_RCVBUF, &small, sizeof(small));
}

/*
 * The server core on the simulated devices, with limits small enough that
 * output overflow is reachable from a small input. Logs at DEBUG go to
 * /dev/null: their formatting runs, their text is dropped.
 */
static inline void fuzz_server_init(struct server *s)
{
	if (!freopen("/dev/null", "w", stdout))
		fuzz_die("cannot redirect stdout");
	log_set_level(LOG_DEBUG);
	char err[ERR_LEN];
	struct server_options opts;
	server_options_defaults(&opts);
	opts.devices = "sim";
	opts.max_output_bytes = 8192; /* reachable output overflow */
	opts.errors_logged_per_connection = 4;
	opts.leak_lines = 8;
	opts.leak_history = 4;
	opts.ttmetal_shm = 0;
	opts.history_samples = 2;
	if (server_core_open(s, &opts, err) < 0)
		fuzz_die(err);
	fuzz_bystander = registry_attach(&s->state.registry, 1, 0);
	for (size_t i = 0; i < FUZZ_BYSTANDER_BUFFERS; i++)
		registry_alloc(&s->state.registry, fuzz_bystander, fuzz_bystander_buffers[i].device,
			       fuzz_bystander_buffers[i].type, fuzz_bystander_buffers[i].address,
			       fuzz_bystander_buffers[i].size, 0);
}

/* Registry invariants, and the bystander still holds every buffer it had. */
static inline void fuzz_check_registry(struct server *s)
{
	char why[256];
	if (registry_check(&s->state.registry, why, sizeof(why)) < 0)
		fuzz_die(why);
	if (registry_process(&s->state.registry, fuzz_bystander)->live_buffers != FUZZ_BYSTANDER_BUFFERS)
		fuzz_die("the bystander process lost buffers to another process");
}

/* End of an input: no connection may outlive its close, and no leak report carries over. */
static inline void fuzz_end_input(struct server *s)
{
	if (s->ingest.conns.open || s->ingest.conns.count)
		fuzz_die("a connection outlived its close");
	leak_history_release(&s->state.leaks);
	if (leak_history_init(&s->state.leaks, 4) < 0)
		fuzz_die("out of memory");
}

/* The peer's view of the answers: whole frames (of the connection's wire size), reassembled across reads. */
struct fuzz_peer {
	int fd;
	size_t size; /* 112, or 144 once the connection speaks tt-metal's 144-byte frames */
	uint8_t frame[PROTO_MAX_FRAME_SIZE];
	size_t have;
};

/* Every frame the server sends must be an answer type (never a request or
 * garbage): the stream stays in step whatever the input. */
static inline void fuzz_check_answers(struct fuzz_peer *p, const uint8_t *data, size_t len)
{
	while (len > 0) {
		size_t take = p->size - p->have < len ? p->size - p->have : len;
		memcpy(p->frame + p->have, data, take);
		p->have += take;
		data += take;
		len -= take;
		if (p->have < p->size)
			continue;
		p->have = 0;
		if (proto_type_direction(p->frame[0]) != PROTO_DIR_ANSWER)
			fuzz_die("the server sent a frame that is not an answer type");
	}
}

/* Reads up to `limit` bytes of answers (SIZE_MAX: all there are) from a non-blocking socket. */
static inline void fuzz_peer_read(struct fuzz_peer *p, size_t limit)
{
	uint8_t buf[4096];
	while (limit > 0) {
		ssize_t n = read(p->fd, buf, limit < sizeof(buf) ? limit : sizeof(buf));
		if (n <= 0)
			break;
		fuzz_check_answers(p, buf, (size_t)n);
		limit -= (size_t)n;
	}
}

/*
 * How a peer reads after each step, from one input byte: 0 reads every
 * answer; 1 none (the queue fills and output overflow closes the
 * connection); N >= 2 at most (N - 1) * 16 bytes (a slow reader).
 */
static inline void fuzz_peer_read_as(struct fuzz_peer *p, unsigned reader)
{
	if (reader != 1)
		fuzz_peer_read(p, reader == 0 ? SIZE_MAX : (size_t)(reader - 1) * 16);
}

static inline void fuzz_stop_loop(struct event_loop *loop, struct event_handle *h, uint32_t events)
{
	(void)h;
	(void)events;
	event_loop_stop(loop);
}

/*
 * One real iteration of the server's event loop: whatever is ready now
 * (sockets, eventfds) is handled, then it returns. An always-readable
 * eventfd stops the loop, so it never waits.
 */
static inline void fuzz_run_loop_once(struct server *s)
{
	struct event_handle tick = {.fd = eventfd(1, EFD_CLOEXEC), .fn = fuzz_stop_loop};
	if (tick.fd < 0 || event_loop_add(s->loop, &tick, EPOLLIN) < 0)
		fuzz_die("cannot add the loop's stop eventfd");
	event_loop_set_timeout(s->loop, 0);
	if (event_loop_run(s->loop) < 0)
		fuzz_die("the event loop failed");
	event_loop_remove(s->loop, &tick);
	close(tick.fd);
}

#endif /* TTALLOC_FUZZ_SERVER_H */
