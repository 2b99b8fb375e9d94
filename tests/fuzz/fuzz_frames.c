/*
 * fuzz_frames.c - libFuzzer target: arbitrary byte streams through the
 * server's real per-connection input path (ingest_adopt,
 * connection_feed -> dispatch_frame -> registry/leaks/answers ->
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
 * Oracles besides ASan/UBSan (fuzz_server.h, shared with fuzz_ring.c):
 * after each phase the registry's invariants are checked by walking every
 * buffer (tests/support/registry_check.h), the bystander keeps its
 * buffers, no connection outlives its close, and every frame the peer
 * receives is an answer type; a violation aborts.
 */
#define _GNU_SOURCE
#include <stdint.h>
#include <sys/socket.h>
#include <unistd.h>

#include "fuzz_server.h"

static struct server srv;

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
	(void)argc;
	(void)argv;
	fuzz_server_init(&srv);
	return 0;
}

/* One connection: feeds `len` bytes in `chunk`-sized calls, then closes. */
static void run_connection(const uint8_t *data, size_t len, size_t chunk, unsigned reader)
{
	int sv[2];
	fuzz_socketpair(sv);
	struct fuzz_peer peer = {.fd = sv[1], .size = PROTO_MSG_SIZE};
	struct connection *c = ingest_adopt(&srv.ingest, sv[0]);
	if (!c)
		fuzz_die("ingest_adopt refused a socketpair");
	if (chunk == 0)
		chunk = len ? len : 1;
	for (size_t off = 0; off < len && !c->closed; off += chunk) {
		size_t n = len - off < chunk ? len - off : chunk;
		connection_feed(c, data + off, n);
		if (c->wire) /* answers only ever follow the first frame, which fixes the size */
			peer.size = c->wire->frame_size;
		fuzz_peer_read_as(&peer, reader);
		ingest_end_batch(&srv.ingest);
	}
	if (!c->closed) {
		if (c->partial_len)
			connection_error(c, PROTO_ERR_TRUNCATED, "%u bytes of a message, then end of stream",
					 c->partial_len);
		connection_close(c);
	}
	ingest_before_sleep(&srv.ingest);
	fuzz_peer_read(&peer, SIZE_MAX); /* what was sent before the close */
	close(sv[1]);
	fuzz_check_registry(&srv);
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
	/* No state but the bystander carries over to the next input. */
	fuzz_end_input(&srv);
	return 0;
}
