/*
 * fuzz_frames.c - libFuzzer target: arbitrary byte streams through the
 * server's real per-connection input path (connection_open,
 * connection_feed -> handle_frame -> registry/leaks/answers ->
 * connection_send -> connection_close), over a socketpair.
 *
 * Input layout:
 *   byte 0   chunking: 0 feeds each phase in one call, N feeds N bytes per
 *            call (so frames are split across "reads" at every offset)
 *   byte 1   how the peer reads its answers after each call: 0 all of them;
 *            1 none (the queue fills and the output-overflow path closes the
 *            connection mid-handler); N >= 2: at most (N - 1) * 16 bytes (a
 *            slow reader: partial sends, a queue that never drains)
 *   byte 2   frames given to the first connection; the rest goes to a second
 *            connection of the same process opened after the first one
 *            closed (so its LEAK_QUERY sees the first one's leak)
 *   byte 3.. the byte stream.
 *
 * Between inputs the only state kept is a bystander process (pid 1) holding
 * a few buffers, so FREEs of its addresses take the foreign-free path.
 * Oracles besides ASan/UBSan: after each phase the registry's invariants
 * are checked by walking every buffer (tests/support/registry_check.h), the
 * bystander keeps its buffers, no connection outlives its close, and every
 * frame the peer receives is an answer type; a violation aborts.
 */
#define _GNU_SOURCE
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "../support/registry_check.h"
#include "log.h"
#include "server.h"

static struct server srv;
static uint32_t bystander;

/* Bystander buffers: (device, address) pairs the seed corpus FREEs. */
static const struct {
	int device;
	unsigned type;
	uint64_t address;
	uint64_t size;
} bystander_buffers[] = {
	{0, TTALLOC_DRAM, 0x1000, 4096},
	{0, TTALLOC_L1, 0x2000, 1024},
	{1, TTALLOC_TRACE, 0x1000, 65536},
};

static void die(const char *what)
{
	fprintf(stderr, "fuzz_frames: %s\n", what);
	abort();
}

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
	(void)argc;
	(void)argv;
	/* The server logs every event to stdout: keep the formatting, drop the text. */
	if (!freopen("/dev/null", "w", stdout))
		die("cannot redirect stdout");
	log_set_level(LOG_DEBUG);
	char err[DEVICE_ERR_LEN];
	server_options_defaults(&srv.opts);
	srv.opts.max_output_bytes = 8192; /* reachable output overflow */
	srv.opts.errors_logged_per_connection = 4;
	srv.opts.leak_lines = 8;
	if (device_set_open(&srv.devices, "sim", err) < 0)
		die(err);
	if (registry_init(&srv.registry, srv.devices.count, 0) < 0 || leak_history_init(&srv.leaks, 4) < 0)
		die("out of memory");
	srv.loop = event_loop_create();
	if (!srv.loop)
		die("cannot create the event loop");
	bystander = registry_attach(&srv.registry, 1, 0);
	for (size_t i = 0; i < sizeof(bystander_buffers) / sizeof(bystander_buffers[0]); i++)
		registry_alloc(&srv.registry, bystander, bystander_buffers[i].device, bystander_buffers[i].type,
			       bystander_buffers[i].address, bystander_buffers[i].size, 0);
	return 0;
}

static void check_invariants(void)
{
	char why[256];
	if (registry_check(&srv.registry, why, sizeof(why)) < 0)
		die(why);
	if (registry_process(&srv.registry, bystander)->live_buffers !=
	    sizeof(bystander_buffers) / sizeof(bystander_buffers[0]))
		die("the bystander process lost buffers to another process");
}

/* The peer's view of the answers: whole frames (of the connection's wire size), reassembled across reads. */
struct peer {
	int fd;
	size_t size; /* 112, or 144 once the connection speaks tt-metal's 144-byte frames */
	uint8_t frame[PROTO_MAX_FRAME_SIZE];
	size_t have;
};

/* Every frame the server sends must be an answer type (never a request or
 * garbage): the stream stays in step whatever the input. */
static void check_answers(struct peer *p, const uint8_t *data, size_t len)
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
			die("the server sent a frame that is not an answer type");
	}
}

/* Reads up to `limit` bytes of answers (SIZE_MAX: all there are). */
static void drain(struct peer *p, size_t limit)
{
	uint8_t buf[4096];
	while (limit > 0) {
		ssize_t n = read(p->fd, buf, limit < sizeof(buf) ? limit : sizeof(buf));
		if (n <= 0)
			break;
		check_answers(p, buf, (size_t)n);
		limit -= (size_t)n;
	}
}

/* One connection: feeds `len` bytes in `chunk`-sized calls, then closes. */
static void run_connection(const uint8_t *data, size_t len, size_t chunk, unsigned reader)
{
	int sv[2];
	if (socketpair(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0, sv) < 0)
		die("socketpair failed");
	int small = 4096;
	setsockopt(sv[0], SOL_SOCKET, SO_SNDBUF, &small, sizeof(small));
	setsockopt(sv[1], SOL_SOCKET, SO_RCVBUF, &small, sizeof(small));
	struct peer peer = {.fd = sv[1], .size = PROTO_MSG_SIZE};
	struct connection *c = connection_open(&srv, sv[0]);
	if (!c)
		die("connection_open refused a socketpair");
	if (chunk == 0)
		chunk = len ? len : 1;
	for (size_t off = 0; off < len && !c->closed; off += chunk) {
		size_t n = len - off < chunk ? len - off : chunk;
		connection_feed(c, data + off, n);
		if (c->wire) /* answers only ever follow the first frame, which fixes the size */
			peer.size = c->wire->frame_size;
		if (reader != 1)
			drain(&peer, reader == 0 ? SIZE_MAX : (size_t)(reader - 1) * 16);
		handle_print_totals(&srv);
	}
	if (!c->closed) {
		if (c->partial_len)
			connection_error(c, PROTO_ERR_TRUNCATED, "%u bytes of a message, then end of stream",
					 c->partial_len);
		connection_close(c);
	}
	connection_free_closed(&srv);
	drain(&peer, SIZE_MAX); /* what was sent before the close */
	close(sv[1]);
	check_invariants();
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	if (size < 3)
		return 0;
	size_t chunk = data[0];
	unsigned reader = data[1];
	size_t first = (size_t)data[2] * PROTO_MSG_SIZE;
	data += 3;
	size -= 3;
	if (first > size)
		first = size;
	run_connection(data, first, chunk, reader);
	if (size > first)
		run_connection(data + first, size - first, chunk, reader);
	if (srv.connections || srv.connection_count)
		die("a connection outlived its close");
	/* No state but the bystander carries over to the next input. */
	leak_history_release(&srv.leaks);
	if (leak_history_init(&srv.leaks, 4) < 0)
		die("out of memory");
	return 0;
}
