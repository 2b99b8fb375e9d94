/*
 * ring.h - the fast reporting path: the layout of the shared-memory region
 * through which libttalloc hands ALLOC and FREE events to the server.
 *
 * This is the one definition of that layout; the client (producer side,
 * src/client/ring_producer.c) and the server (consumer side,
 * src/server/ring_consumer.c) both include it.
 *
 * How it is used:
 *  - After HELLO, a client whose server advertises PROTO_FEATURE_RING
 *    creates a sealed memfd holding one struct ring_region and an eventfd,
 *    and passes both with SCM_RIGHTS along a RING_ATTACH frame on its
 *    socket. The server maps the region and answers RING_ACK (or ERROR:
 *    the client then keeps the seed's 112-byte frames). From then on the
 *    connection's ALLOC/FREE events travel through the region; the socket
 *    keeps carrying requests (SYNC, queries).
 *  - The region holds RING_LANES lanes, each a single-producer,
 *    single-consumer ring of 32-byte events. A reporting thread owns one
 *    lane (threads beyond RING_LANES - 1 share the last one under a lock),
 *    so threads never contend on a lane.
 *  - Order: events of one buffer may come from different threads (ALLOC in
 *    one, FREE in another), hence different lanes. Every event carries its
 *    shard (a hash of device and address) and its position in that shard's
 *    order (seq), taken under the shard's lock in the client. The server
 *    applies each shard's events in seq order, merging the lanes; since a
 *    seq is taken and the event published under the same lock, the lanes
 *    always hold a consistent order and the merge never deadlocks.
 *  - Wake-up: the server polls the lanes while events flow and for a short
 *    while after; when it goes idle it sets server_sleeping, keeps polling
 *    for one more period, and only then blocks; a producer that sees the
 *    flag after publishing writes the eventfd. The extra period replaces a
 *    full barrier on every publication: a producer that read the flag
 *    before it was set published its head earlier, and a store leaves the
 *    store buffer long before a millisecond has passed. A busy server costs
 *    producers no system call and no barrier.
 *  - Full lane: the producer spins briefly, then sets producer_waiting and
 *    sleeps on a futex on the lane's tail, which the server wakes after
 *    consuming. Nothing is dropped. A server that makes no room for
 *    RING_GIVE_UP_MS is treated as gone: the client disconnects and re-sends
 *    its own table of live buffers to the next connection.
 *
 * Trust: the server treats the region as hostile input. It keeps its own
 * copy of every tail, checks each head against it, copies each event out
 * before validating it, and requires the memfd to be sealed against
 * shrinking (a shrunk file would fault the server).
 */
#ifndef TTALLOC_RING_H
#define TTALLOC_RING_H

#include <stddef.h>
#include <stdint.h>

#include "common/protocol.h"

#define RING_MAGIC 0x676e6972u /* "ring" */
#define RING_VERSION 1

/* Lanes per region; lane RING_LANES - 1 is shared by threads beyond the rest. */
#define RING_LANES 32
/* Events per lane (a power of two): 512 KiB per lane, touched only when used. */
#define RING_LANE_EVENTS 16384u
/* Shards of the (device, address) space, each with its own order. */
#define RING_SHARDS 256

/* A producer that sees no room for this long gives the server up. */
#define RING_GIVE_UP_MS 2000

#define RING_CACHE_LINE 64

/* One ALLOC or FREE. */
struct ring_event {
	uint64_t address;
	uint64_t size;     /* ALLOC: bytes; FREE: 0 */
	uint64_t alloc_ns; /* ALLOC re-sent after a reconnect: its CLOCK_REALTIME time; else 0 (now) */
	uint32_t seq;      /* position in the shard's order, from 0 for each region */
	uint8_t type;      /* PROTO_ALLOC or PROTO_FREE */
	uint8_t device;
	uint8_t buffer_type;
	uint8_t shard; /* ring_shard_of(device, address) */
};

_Static_assert(sizeof(struct ring_event) == 32, "ring events are 32 bytes");
_Static_assert(RING_SHARDS <= 256, "shard fits its byte");
_Static_assert((RING_LANE_EVENTS & (RING_LANE_EVENTS - 1)) == 0, "lane size is a power of two");

/*
 * One lane. head and tail count events since the region was made (wrapping
 * 32-bit counters); an event sits at index count % RING_LANE_EVENTS. Each
 * sits on its own cache line so producer and consumer do not false-share.
 */
struct ring_lane {
	_Alignas(RING_CACHE_LINE) uint32_t head; /* producer: events published */
	_Alignas(RING_CACHE_LINE) uint32_t tail; /* consumer: events consumed; the futex word */
	uint32_t producer_waiting;               /* producer sleeps on tail: wake it */
	_Alignas(RING_CACHE_LINE) struct ring_event events[RING_LANE_EVENTS];
};

struct ring_header {
	uint32_t magic;                                     /* RING_MAGIC */
	uint32_t version;                                   /* RING_VERSION */
	uint32_t lanes;                                     /* RING_LANES */
	uint32_t lane_events;                               /* RING_LANE_EVENTS */
	uint32_t shards;                                    /* RING_SHARDS */
	uint32_t event_size;                                /* sizeof(struct ring_event) */
	_Alignas(RING_CACHE_LINE) uint32_t server_sleeping; /* server: 1 while not polling */
	_Alignas(RING_CACHE_LINE) uint32_t lanes_used;      /* client: lanes 0..lanes_used-1 were handed out */
};

struct ring_region {
	struct ring_header header;
	struct ring_lane lanes[RING_LANES];
};

/* Fills a new region's header with this build's geometry (ring.h's constants). */
static inline void ring_header_init(struct ring_header *h)
{
	h->magic = RING_MAGIC;
	h->version = RING_VERSION;
	h->lanes = RING_LANES;
	h->lane_events = RING_LANE_EVENTS;
	h->shards = RING_SHARDS;
	h->event_size = sizeof(struct ring_event);
}

/* Addresses within one region of this many bytes share a shard. */
#define RING_SHARD_REGION_SHIFT 16

/*
 * Shard of a buffer (the server takes the shard an event names, so only
 * clients need this; one definition keeps them alike). By 64 KiB region,
 * not by address: allocators hand out neighbouring addresses, and a thread
 * that allocates in its own region then keeps to a few shards, whose locks
 * and table lines stay in its core's cache instead of bouncing between the
 * reporting threads (and the server's merge waits less on other lanes).
 */
static inline unsigned ring_shard_of(int device, uint64_t address)
{
	uint64_t region = address >> RING_SHARD_REGION_SHIFT;
	uint64_t h = (region ^ ((uint64_t)(unsigned)device << 56)) * 0x9e3779b97f4a7c15ull;
	return (unsigned)(h >> 56) & (RING_SHARDS - 1);
}

/*
 * Asks for a cache line in the state a store needs (exclusive), ahead of
 * the store. The producer's slots were last read by the server's core, so
 * without it each store waits for ownership, and so does the next locked
 * instruction. GCC turns __builtin_prefetch(p, 1) into a read prefetch
 * unless built for a CPU with PREFETCHW, hence the instruction itself on
 * x86-64 (every x86-64 CPU decodes it; those without it run it as a no-op).
 */
static inline void ring_prefetch_for_write(const void *p)
{
#if defined(__x86_64__)
	__asm__ __volatile__("prefetchw %0" : : "m"(*(const char *)p));
#else
	__builtin_prefetch(p, 1, 3);
#endif
}

/* Events waiting in a lane, from a head and a tail (wrapping arithmetic). */
static inline uint32_t ring_pending(uint32_t head, uint32_t tail)
{
	return head - tail;
}

/* 1 when seq `a` comes after `b` in a shard's (wrapping) order. */
static inline int ring_seq_after(uint32_t a, uint32_t b)
{
	return (int32_t)(a - b) > 0;
}

/* This build's ring geometry, as a client offers it in RING_ATTACH. */
static inline struct proto_ring_payload ring_geometry(void)
{
	return (struct proto_ring_payload){
		.version = RING_VERSION,
		.lanes = RING_LANES,
		.lane_events = RING_LANE_EVENTS,
		.shards = RING_SHARDS,
		.event_size = sizeof(struct ring_event),
		.region_size = sizeof(struct ring_region),
	};
}

/* 1 when a client's geometry `g` is this build's (the reserved fields do not count). */
static inline int ring_geometry_matches(const struct proto_ring_payload *g)
{
	struct proto_ring_payload ours = ring_geometry();
	return g->version == ours.version && g->lanes == ours.lanes && g->lane_events == ours.lane_events &&
		g->shards == ours.shards && g->event_size == ours.event_size && g->region_size == ours.region_size;
}

#endif /* TTALLOC_RING_H */
