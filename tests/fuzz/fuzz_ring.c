/*
 * fuzz_ring.c - libFuzzer target: a hostile client's shared-memory ring
 * (src/common/ring.h) against the server's consumer (ring_consumer.c).
 *
 * The region is written by the client at any time, so the consumer is a
 * decoder of hostile input like the frame decoder (fuzz_frames.c). Here
 * the fuzzer plays up to two clients of one process, each on a socketpair
 * with a real RING_ATTACH (sealed memfd and eventfd passed with
 * SCM_RIGHTS, read by one iteration of the server's event loop), and each
 * input is a script of what such a client can do: publish events, move
 * heads anywhere, change lanes_used, poke any word of the region, send
 * frames, wake the server, hang up; and what the server does meanwhile:
 * poll, drain, close.
 *
 * Input layout:
 *   byte 0   bits 0-2: how client 0 attaches (enum attach_kind; 7: good);
 *            bits 3-5: the same for client 1; bit 7: client 1 exists
 *   byte 1   how each peer reads its answers after each step (as in
 *            fuzz_frames.c: 0 all, 1 never, N at most (N - 1) * 16 bytes)
 *   byte 2.. operations: an opcode byte (bits 0-3: enum op, modulo
 *            OP_COUNT; bit 7: which client), then its arguments (missing
 *            bytes read as 0).
 *
 * Time: the consumer's idle (RING_IDLE_MS), doze (RING_POLL_MS) and stuck
 * (RING_STUCK_MS) clocks are real time. So that an input does the same on
 * every run, the harness pins them before each operation (no time passes)
 * and OP_POLL's flags say which have run out; no sleeps.
 *
 * Oracles besides ASan/UBSan, after each input: the registry's invariants
 * and the bystander (fuzz_server.h), no connection or ring outlives its
 * close, every frame a peer receives is an answer type, a good RING_ATTACH
 * is accepted and a bad one refused. An input that behaves like a real
 * producer ("conforming": every attach good, seqs in each shard's order,
 * valid events, lanes_used covering the lanes written, no stray writes)
 * must also have every published event applied exactly once and in its
 * shard's order: the registry and the error counters must match a model
 * that applies the events in the order they were published, with no
 * BAD_RING error.
 */
#define _GNU_SOURCE
#include <fcntl.h>
#include <signal.h>
#include <stdint.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/socket.h>
#include <unistd.h>

#include "common/clock.h"
#include "common/ring.h"
#include "common/unix_socket.h"
#include "fuzz_server.h"

/* Two connections of one process: two rings in the server's set (a detach
 * moves the last one into the freed slot), one registry record. */
#define CLIENTS 2
#define NS_PER_S 1000000000ull

/* How a client's RING_ATTACH is made: a good one, or one the server must refuse. */
enum attach_kind {
	ATTACH_GOOD,
	ATTACH_UNSEALED,     /* a memfd that could shrink under the server */
	ATTACH_BAD_GEOMETRY, /* twice the lanes announced */
	ATTACH_BAD_SIZE,     /* the region_size of another layout */
	ATTACH_NO_FDS,       /* the frame without its descriptors */
	ATTACH_PIPE,         /* a pipe where the eventfd should be */
	ATTACH_BIG_FILE,     /* a memfd larger than the region it announces */
	ATTACH_KINDS,
};

enum op {
	OP_PUT,     /* lane, kind, key, seq delta: one event as a producer writes it */
	OP_RAW,     /* lane, 32 bytes: any event, published */
	OP_HEAD,    /* lane, u32: head += value (absurd heads, stale slots) */
	OP_LANES,   /* u8: lanes_used = value */
	OP_POKE,    /* u32 offset, u32 value: any aligned word of the region */
	OP_WAITING, /* lane: producer_waiting = 1 (the server wakes a futex) */
	OP_POLL,    /* flags (PASSED_*): how much time passed, then rings_poll */
	OP_DRAIN,   /* rings_drain_all */
	OP_FRAME,   /* type, device, key: one frame through connection_feed */
	OP_LOOP,    /* flags: write the eventfd, hang up, then one event-loop iteration */
	OP_CLOSE,   /* the server closes the connection (ring_detach drains it) */
	OP_OPEN,    /* attach kind: a new connection and ring for a client that has none */
	OP_COUNT,
};

/* OP_PUT's kind byte. */
#define KIND_FREE 0x01
#define KIND_TYPE(k) (((k) >> 1) & 7)
#define KIND_SIZE_SHIFT(k) (((k) >> 4) & 3)
#define KIND_RESENT 0x40  /* an ALLOC re-sent after a reconnect: carries its time */
#define KIND_CORRUPT 0x80 /* break one field, chosen by the key byte's bits 5-7 */

/* OP_PUT's and OP_FRAME's key byte: bits 0-2 an address, bit 3 the device,
 * bit 4 (client 0 only) a bystander's address instead. */
#define KEY_DEVICE 0x08
#define KEY_BYSTANDER 0x10

/* OP_POLL's flags: the consumer's timers that ran out since the last operation. */
#define PASSED_IDLE 0x01  /* RING_IDLE_MS since the rings went idle: they doze */
#define PASSED_STUCK 0x02 /* RING_STUCK_MS since a shard started waiting: it is forced */
#define PASSED_DOZE 0x04  /* RING_POLL_MS since a ring began to doze: it falls asleep */

/* OP_LOOP's flags. */
#define LOOP_WAKE 0x01
#define LOOP_HANG_UP 0x02
#define LOOP_HANG_UP_FIRST 0x04

static const unsigned valid_buffer_types[] = {TTALLOC_DRAM, TTALLOC_L1, TTALLOC_L1_SMALL, TTALLOC_TRACE,
					      TTALLOC_SYSTEM_MEMORY};

/* Frames a client may send besides its events; the last three change the registry or the ring. */
static const uint8_t frame_types[] = {
	PROTO_QUERY,      PROTO_SYNC,  PROTO_DEVICE_STATUS_QUERY, PROTO_PROCESS_QUERY,
	PROTO_LEAK_QUERY, PROTO_HELLO, PROTO_DEVICE_INFO_QUERY,   PROTO_DUMP_REMAINING,
	PROTO_ALLOC,      PROTO_FREE,  PROTO_RING_ATTACH,
};
#define FRAME_TYPES (sizeof(frame_types) / sizeof(frame_types[0]))

struct producer {
	struct connection *c;       /* NULL: not connected */
	struct fuzz_peer peer;      /* our end of its socket */
	struct ring_region *region; /* the producer's mapping of the memfd */
	int wake_fd;                /* the eventfd (or pipe) passed to the server */
	uint32_t seq[RING_SHARDS];  /* next seq of each shard, as a producer takes them */
	uint32_t lanes_written;     /* 1 + the highest lane an event was written into */
};

/*
 * What a conforming input must leave behind: one bit per buffer key the
 * fuzzed process holds (client 0's own addresses: bits 0-15, client 1's:
 * 16-31, the bystander's addresses: 32-34), and the error counts a
 * sequential replay of the published events predicts.
 */
struct model {
	int conforming;
	uint64_t live;
	uint64_t published;
	uint64_t duplicate_allocs, unknown_frees, foreign_frees;
};

static struct server srv;
static struct producer clients[CLIENTS];
static struct model model;
static unsigned peer_reader; /* input byte 1 */

/* Counters at the start of the input (they are server-wide and never reset). */
static struct {
	uint64_t events, bad_ring, duplicate_allocs, unknown_frees, foreign_frees;
} before;

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
	(void)argc;
	(void)argv;
	fuzz_server_init(&srv);
	/* a wake-up written to a pipe the server closed (ATTACH_PIPE) must fail, not kill the fuzzer */
	signal(SIGPIPE, SIG_IGN);
	if (srv.state.devices.count < 2)
		fuzz_die("the model needs two simulated devices");
	for (int i = 0; i < CLIENTS; i++)
		clients[i].wake_fd = -1;
	return 0;
}

/* ---- the input as a stream of bytes ---- */

struct script {
	const uint8_t *p;
	size_t left;
};

/* The next byte; 0 past the end, so a truncated operation still runs. */
static uint8_t next_u8(struct script *s)
{
	if (!s->left)
		return 0;
	s->left--;
	return *s->p++;
}

static uint32_t next_u32(struct script *s)
{
	uint32_t v = 0;
	for (int i = 0; i < 4; i++)
		v |= (uint32_t)next_u8(s) << (8 * i);
	return v;
}

/* ---- buffer keys: the addresses events name ---- */

struct key {
	int device;
	uint64_t address;
	unsigned bit; /* in model.live */
	int bystander;
};

/* Each client has its own addresses, so the two rings never race on a buffer. */
static struct key key_of(int client, uint8_t sel)
{
	struct key k;
	if (client == 0 && (sel & KEY_BYSTANDER)) {
		unsigned j = (sel & 7) % FUZZ_BYSTANDER_BUFFERS;
		k.device = fuzz_bystander_buffers[j].device;
		k.address = fuzz_bystander_buffers[j].address;
		k.bit = 32 + j;
		k.bystander = 1;
		return k;
	}
	unsigned index = sel & 7;
	k.device = sel & KEY_DEVICE ? 1 : 0;
	k.address = 0x10000000ull * (uint64_t)(client + 1) + 0x10000ull * (index + 1);
	k.bit = (unsigned)client * 16 + (unsigned)k.device * 8 + index;
	k.bystander = 0;
	return k;
}

/* ---- clients ---- */

/* Three bits of input: an attach kind, good when beyond the bad ones. */
static enum attach_kind attach_kind_of(unsigned bits)
{
	return bits < ATTACH_KINDS ? (enum attach_kind)bits : ATTACH_GOOD;
}

static struct proto_msg attach_frame(enum attach_kind kind)
{
	struct proto_msg m;
	proto_msg_init(&m, PROTO_RING_ATTACH, -1);
	m.u.ring = ring_geometry();
	if (kind == ATTACH_BAD_GEOMETRY)
		m.u.ring.lanes *= 2;
	else if (kind == ATTACH_BAD_SIZE)
		m.u.ring.region_size += RING_CACHE_LINE;
	return m;
}

/*
 * The region a producer makes: a memfd of one struct ring_region, sealed
 * against shrinking (ATTACH_UNSEALED, ATTACH_BIG_FILE: what the server must
 * refuse). We map it as the producer does; returns the memfd to pass.
 */
static int make_region(struct producer *cl, enum attach_kind kind)
{
	int memfd = memfd_create("fuzz-ring", MFD_CLOEXEC | (kind == ATTACH_UNSEALED ? 0 : MFD_ALLOW_SEALING));
	size_t file_size = sizeof(struct ring_region) + (kind == ATTACH_BIG_FILE ? 4096 : 0);
	if (memfd < 0 || ftruncate(memfd, (off_t)file_size) < 0 ||
	    (kind != ATTACH_UNSEALED && fcntl(memfd, F_ADD_SEALS, F_SEAL_SHRINK) < 0))
		fuzz_die("cannot make the ring's memfd");
	void *map = mmap(NULL, sizeof(struct ring_region), PROT_READ | PROT_WRITE, MAP_SHARED, memfd, 0);
	if (map == MAP_FAILED)
		fuzz_die("cannot map the ring");
	cl->region = map;
	ring_header_init(&cl->region->header);
	return memfd;
}

/* Sends RING_ATTACH as `kind` says and lets the server read it. */
static void attach(struct producer *cl, enum attach_kind kind)
{
	int memfd = make_region(cl, kind);
	int pipefd[2] = {-1, -1};
	if (kind == ATTACH_PIPE) {
		if (pipe2(pipefd, O_CLOEXEC | O_NONBLOCK) < 0)
			fuzz_die("cannot make a pipe");
		cl->wake_fd = pipefd[1];
	} else {
		cl->wake_fd = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
	}
	if (cl->wake_fd < 0)
		fuzz_die("cannot make the ring's eventfd");
	struct proto_msg m = attach_frame(kind);
	int fds[2] = {memfd, kind == ATTACH_PIPE ? pipefd[0] : cl->wake_fd};
	int rc = kind == ATTACH_NO_FDS ? unix_socket_write_all(cl->peer.fd, &m, sizeof(m))
				       : unix_socket_send_fds(cl->peer.fd, &m, sizeof(m), fds, 2);
	if (rc < 0)
		fuzz_die("cannot send RING_ATTACH");
	close(memfd); /* the server holds its own; the mapping keeps the memory */
	if (pipefd[0] >= 0)
		close(pipefd[0]);
	fuzz_run_loop_once(&srv);
	if ((client_of(cl->c)->ring != NULL) != (kind == ATTACH_GOOD))
		fuzz_die(kind == ATTACH_GOOD ? "a good RING_ATTACH was refused"
					     : "the server accepted a ring it cannot trust");
}

/* A new connection on a socketpair with small buffers (output overflow is reachable), and its ring. */
static void client_open(int index, enum attach_kind kind)
{
	struct producer *cl = &clients[index];
	int sv[2];
	fuzz_socketpair(sv);
	cl->peer = (struct fuzz_peer){.fd = sv[1], .size = PROTO_MSG_SIZE};
	cl->c = ingest_adopt(&srv.ingest, sv[0]);
	if (!cl->c)
		fuzz_die("ingest_adopt refused a socketpair");
	memset(cl->seq, 0, sizeof(cl->seq)); /* a fresh region: seqs start at 0 */
	cl->lanes_written = 0;
	if (kind != ATTACH_GOOD)
		model.conforming = 0; /* its events are never read */
	attach(cl, kind);
}

/* Our side of a client the server has closed: the peer reads what was sent, the region goes. */
static void client_release(struct producer *cl)
{
	fuzz_peer_read(&cl->peer, SIZE_MAX);
	close(cl->peer.fd);
	munmap(cl->region, sizeof(struct ring_region));
	close(cl->wake_fd);
	cl->wake_fd = -1;
	cl->region = NULL;
	cl->c = NULL;
}

/* A connected client whose connection the server has not closed. */
static struct producer *live_client(int index)
{
	struct producer *cl = &clients[index];
	return cl->c && !cl->c->closed ? cl : NULL;
}

/* ---- the model of a conforming input ---- */

/* One published event, replayed as the registry would see it in publication order. */
static void model_apply(const struct key *k, int is_free)
{
	uint64_t bit = 1ull << k->bit;
	model.published++;
	if (!is_free) {
		if (model.live & bit)
			model.duplicate_allocs++;
		model.live |= bit;
	} else if (model.live & bit) {
		model.live &= ~bit;
	} else if (k->bystander) {
		model.foreign_frees++;
	} else {
		model.unknown_frees++;
	}
}

/* Every client gone: the process exited and its leak report dropped its buffers. */
static void model_process_exit(void)
{
	if (!srv.ingest.conns.count)
		model.live = 0;
}

/* ---- operations on the region ---- */

/* Writes an event at the lane's head and publishes it, as a producer does. */
static void publish(struct producer *cl, uint32_t lane, const struct ring_event *ev)
{
	struct ring_lane *l = &cl->region->lanes[lane];
	uint32_t head = __atomic_load_n(&l->head, __ATOMIC_RELAXED);
	memcpy(&l->events[head & (RING_LANE_EVENTS - 1)], ev, sizeof(*ev));
	__atomic_store_n(&l->head, head + 1, __ATOMIC_RELEASE);
	if (cl->lanes_written < lane + 1)
		cl->lanes_written = lane + 1;
	if (cl->region->header.lanes_used < lane + 1)
		__atomic_store_n(&cl->region->header.lanes_used, lane + 1, __ATOMIC_RELEASE);
}

/* Breaks one field of an event; `how` picks which. */
static void corrupt(struct ring_event *ev, unsigned how)
{
	switch (how) {
	case 0:
		ev->device = (uint8_t)srv.state.devices.count;
		break;
	case 1:
		ev->type = 0;
		break;
	case 2:
		ev->type = PROTO_RING_ATTACH;
		break;
	case 3:
		ev->size = 0;
		break;
	case 4:
		ev->buffer_type = 99;
		break;
	case 5:
		ev->shard++;
		break; /* the buffer's events now race in two shards */
	case 6:
		ev->size = UINT64_MAX;
		break;
	default:
		ev->type = PROTO_CB_ALLOC;
		break;
	}
}

static void op_put(int index, struct script *s)
{
	uint32_t lane = next_u8(s) % RING_LANES;
	uint8_t kind = next_u8(s), sel = next_u8(s);
	int8_t delta = (int8_t)next_u8(s);
	struct producer *cl = live_client(index);
	if (!cl)
		return;
	struct ring_lane *l = &cl->region->lanes[lane];
	if (ring_pending(l->head, __atomic_load_n(&l->tail, __ATOMIC_ACQUIRE)) >= RING_LANE_EVENTS)
		return; /* full: a producer would wait for room */
	struct key k = key_of(index, sel);
	struct ring_event ev = {
		.address = k.address,
		.size = kind & KIND_FREE ? 0 : 4096ull << KIND_SIZE_SHIFT(kind),
		.type = kind & KIND_FREE ? PROTO_FREE : PROTO_ALLOC,
		.device = (uint8_t)k.device,
		.buffer_type = (uint8_t)valid_buffer_types[KIND_TYPE(kind) % 5],
		.shard = (uint8_t)ring_shard_of(k.device, k.address),
	};
	if ((kind & KIND_RESENT) && !(kind & KIND_FREE))
		ev.alloc_ns = clock_realtime_ns() - (uint64_t)((sel & 7) + 1) * NS_PER_S;
	/* seq: the shard's next, or `delta` away from it (a gap to fill later, or a stale one) */
	uint32_t *next = &cl->seq[ev.shard];
	ev.seq = *next + (uint32_t)(int32_t)delta;
	if (ring_seq_after(ev.seq + 1, *next))
		*next = ev.seq + 1;
	if (kind & KIND_CORRUPT)
		corrupt(&ev, sel >> 5);
	if (delta || (kind & KIND_CORRUPT))
		model.conforming = 0;
	else
		model_apply(&k, kind & KIND_FREE);
	publish(cl, lane, &ev);
}

static void op_raw(int index, struct script *s)
{
	uint32_t lane = next_u8(s) % RING_LANES;
	struct ring_event ev;
	uint8_t *bytes = (uint8_t *)&ev;
	for (size_t i = 0; i < sizeof(ev); i++)
		bytes[i] = next_u8(s);
	model.conforming = 0;
	if (clients[index].region)
		publish(&clients[index], lane, &ev);
}

static void op_head(int index, struct script *s)
{
	uint32_t lane = next_u8(s) % RING_LANES;
	uint32_t delta = next_u32(s);
	struct producer *cl = &clients[index];
	if (!cl->region || !delta)
		return;
	model.conforming = 0;
	__atomic_fetch_add(&cl->region->lanes[lane].head, delta, __ATOMIC_RELEASE);
}

static void op_lanes(int index, struct script *s)
{
	uint32_t value = next_u8(s);
	struct producer *cl = &clients[index];
	if (!cl->region)
		return;
	if (value < cl->lanes_written)
		model.conforming = 0; /* lanes with events the server is told not to read */
	__atomic_store_n(&cl->region->header.lanes_used, value, __ATOMIC_RELEASE);
}

static void op_poke(int index, struct script *s)
{
	uint32_t offset = next_u32(s), value = next_u32(s);
	struct producer *cl = &clients[index];
	if (!cl->region)
		return;
	model.conforming = 0;
	offset = (uint32_t)(offset % sizeof(struct ring_region)) & ~3u;
	__atomic_store_n((uint32_t *)((char *)cl->region + offset), value, __ATOMIC_RELEASE);
}

static void op_waiting(int index, struct script *s)
{
	uint32_t lane = next_u8(s) % RING_LANES;
	if (clients[index].region)
		__atomic_store_n(&clients[index].region->lanes[lane].producer_waiting, 1, __ATOMIC_RELEASE);
}

/* ---- the consumer's clocks ---- */

/*
 * No time passes between operations unless `passed` (PASSED_*) says a
 * timer ran out: a shard found waiting stays "just started waiting", a
 * dozing ring "just began to doze". A timer that ran out started at 1 ns
 * (long ago); CLOCK_MONOTONIC is never that early.
 */
static void pin_clocks(uint8_t passed)
{
	uint64_t now = clock_monotonic_ns();
	for (int i = 0; i < CLIENTS; i++) {
		struct producer *cl = live_client(i);
		struct ring_consumer *rc = cl ? client_of(cl->c)->ring : NULL;
		if (!rc)
			continue;
		if (rc->stuck_since_ns)
			rc->stuck_since_ns = passed & PASSED_STUCK ? 1 : now;
		if (rc->state == RING_DOZING)
			rc->dozing_since_ns = passed & PASSED_DOZE ? 1 : now;
	}
}

static void op_poll(struct script *s)
{
	uint8_t passed = next_u8(s);
	pin_clocks(passed);
	/* 0: the set's idle time starts now, so nothing dozes yet */
	srv.ingest.rings.idle_since_ns = passed & PASSED_IDLE;
	rings_poll(&srv.ingest.rings);
}

/* ---- the socket ---- */

static void op_frame(int index, struct script *s)
{
	uint8_t type = frame_types[next_u8(s) % FRAME_TYPES];
	int8_t device = (int8_t)next_u8(s);
	uint8_t sel = next_u8(s);
	struct producer *cl = live_client(index);
	if (!cl)
		return;
	struct key k = key_of(index, sel);
	struct proto_msg m;
	proto_msg_init(&m, type, device);
	if (type == PROTO_ALLOC || type == PROTO_FREE) {
		m.device_id = k.device;
		m.buffer_id = k.address;
		m.size = type == PROTO_ALLOC ? 4096 : 0;
	} else if (type == PROTO_RING_ATTACH) {
		m = attach_frame(ATTACH_GOOD); /* a second attach, without descriptors */
	}
	/* socket ALLOC/FREE race the ring's events, and a second attach is an error */
	if (type == PROTO_ALLOC || type == PROTO_FREE || type == PROTO_RING_ATTACH)
		model.conforming = 0;
	connection_feed(cl->c, (const uint8_t *)&m, sizeof(m));
	if (cl->c->wire)
		cl->peer.size = cl->c->wire->frame_size;
}

/* What a producer does when it sees server_sleeping. A failed write (an
 * eventfd at its maximum, a pipe nobody reads) is a wake-up that is there
 * already, or one nobody listens to. */
static void wake(int fd)
{
	uint64_t one = 1;
	ssize_t n = write(fd, &one, sizeof(one));
	(void)n;
}

/*
 * Wakes the server through the eventfd and/or hangs up, in the order the
 * flags say, then lets the loop handle both in one batch (a hang-up and a
 * wake-up of the same client, either way round).
 */
static void op_loop(int index, struct script *s)
{
	uint8_t flags = next_u8(s);
	struct producer *cl = live_client(index);
	if (!cl)
		return;
	if ((flags & LOOP_HANG_UP) && (flags & LOOP_HANG_UP_FIRST))
		shutdown(cl->peer.fd, SHUT_WR);
	if (flags & LOOP_WAKE)
		wake(cl->wake_fd);
	if ((flags & LOOP_HANG_UP) && !(flags & LOOP_HANG_UP_FIRST))
		shutdown(cl->peer.fd, SHUT_WR);
	fuzz_run_loop_once(&srv);
}

static void op_close(int index)
{
	struct producer *cl = live_client(index);
	if (cl)
		connection_close(cl->c);
}

static void op_open(int index, struct script *s)
{
	enum attach_kind kind = attach_kind_of(next_u8(s) & 7);
	if (!clients[index].c)
		client_open(index, kind);
}

/* ---- after each operation ---- */

/* Peers read their answers; clients the server closed are released. */
static void settle_clients(void)
{
	for (int i = 0; i < CLIENTS; i++) {
		struct producer *cl = &clients[i];
		if (!cl->c)
			continue;
		if (!cl->c->closed) {
			fuzz_peer_read_as(&cl->peer, peer_reader);
			continue;
		}
		client_release(cl);
		model_process_exit();
	}
	ingest_before_sleep(&srv.ingest);
}

static void run_op(struct script *s)
{
	uint8_t code = next_u8(s);
	int index = code >> 7;
	pin_clocks(0);
	switch ((enum op)((code & 0x0f) % OP_COUNT)) {
	case OP_PUT:
		op_put(index, s);
		break;
	case OP_RAW:
		op_raw(index, s);
		break;
	case OP_HEAD:
		op_head(index, s);
		break;
	case OP_LANES:
		op_lanes(index, s);
		break;
	case OP_POKE:
		op_poke(index, s);
		break;
	case OP_WAITING:
		op_waiting(index, s);
		break;
	case OP_POLL:
		op_poll(s);
		break;
	case OP_DRAIN:
		rings_drain_all(&srv.ingest.rings);
		break;
	case OP_FRAME:
		op_frame(index, s);
		break;
	case OP_LOOP:
		op_loop(index, s);
		break;
	case OP_CLOSE:
		op_close(index);
		break;
	case OP_OPEN:
		op_open(index, s);
		break;
	case OP_COUNT:
		break;
	}
	settle_clients();
}

/* ---- the input ---- */

static void snapshot_counters(void)
{
	before.events = srv.ingest.stats.frames[PROTO_ALLOC] + srv.ingest.stats.frames[PROTO_FREE];
	before.bad_ring = srv.ingest.stats.errors[PROTO_ERR_BAD_RING];
	before.duplicate_allocs = srv.ingest.stats.errors[PROTO_ERR_DUPLICATE_ALLOC];
	before.unknown_frees = srv.ingest.stats.errors[PROTO_ERR_UNKNOWN_FREE];
	before.foreign_frees = srv.ingest.stats.errors[PROTO_ERR_FOREIGN_FREE];
}

/* A conforming input, still connected: everything drains, and the process holds what the model says. */
static void check_live_model(void)
{
	rings_drain_all(&srv.ingest.rings);
	struct connection *c = NULL;
	for (int i = 0; i < CLIENTS; i++) {
		struct producer *cl = live_client(i);
		if (!cl)
			continue;
		c = cl->c;
		for (uint32_t lane = 0; lane < RING_LANES; lane++)
			if (cl->region->lanes[lane].tail != cl->region->lanes[lane].head)
				fuzz_die("a conforming ring still holds events after a full drain");
	}
	if (!c)
		return;
	if (registry_process(&srv.state.registry, client_of(c)->proc)->live_buffers !=
	    (uint64_t)__builtin_popcountll(model.live))
		fuzz_die("the process holds a number of buffers the published events do not explain");
	for (int client = 0; client < CLIENTS; client++)
		for (unsigned sel = 0; sel < 32; sel++) {
			struct key k = key_of(client, (uint8_t)sel);
			if (registry_holds(&srv.state.registry, client_of(c)->proc, k.device, k.address) !=
			    !!(model.live & (1ull << k.bit)))
				fuzz_die("a buffer's state differs from the published events in their order");
		}
}

/* After the last close: every conforming event was applied once, with the errors a replay predicts. */
static void check_counters(void)
{
	if (srv.ingest.stats.frames[PROTO_ALLOC] + srv.ingest.stats.frames[PROTO_FREE] - before.events !=
	    model.published)
		fuzz_die("a published event was lost or applied twice");
	if (srv.ingest.stats.errors[PROTO_ERR_BAD_RING] != before.bad_ring)
		fuzz_die("a conforming ring was reported as broken");
	if (srv.ingest.stats.errors[PROTO_ERR_DUPLICATE_ALLOC] - before.duplicate_allocs != model.duplicate_allocs ||
	    srv.ingest.stats.errors[PROTO_ERR_UNKNOWN_FREE] - before.unknown_frees != model.unknown_frees ||
	    srv.ingest.stats.errors[PROTO_ERR_FOREIGN_FREE] - before.foreign_frees != model.foreign_frees)
		fuzz_die("events were applied out of their shard's order");
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	if (size < 2)
		return 0;
	memset(&model, 0, sizeof(model));
	model.conforming = 1;
	peer_reader = data[1];
	srv.ingest.rings.idle_since_ns = 0;
	snapshot_counters();
	client_open(0, attach_kind_of(data[0] & 7));
	if (data[0] & 0x80)
		client_open(1, attach_kind_of((data[0] >> 3) & 7));
	settle_clients();
	struct script s = {data + 2, size - 2};
	while (s.left)
		run_op(&s);
	if (model.conforming)
		check_live_model();
	for (int i = 0; i < CLIENTS; i++)
		op_close(i);
	settle_clients();
	fuzz_check_registry(&srv);
	if (srv.ingest.rings.count)
		fuzz_die("a ring outlived its connection");
	if (model.conforming)
		check_counters();
	fuzz_end_input(&srv);
	return 0;
}
