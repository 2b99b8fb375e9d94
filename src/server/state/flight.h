/*
 * flight.h - the flight recorder: each reporting process's last events
 * (ALLOC, FREE, ALLOC_FAILED), kept by the server in a small ring per
 * process, always on, so that a post-mortem (oom.h) can show what the
 * process did just before an allocation failed, and a FREE of an address
 * it already freed can be told from one it never allocated (misuse.h).
 *
 * Cost and memory: recording is a 40-byte store into the process's ring
 * and an increment: O(1), no allocation except the ring itself, made on
 * the process's first event. A ring holds FLIGHT_EVENTS events: 10 KiB per
 * reporting process, freed when the process leaves the registry.
 */
#ifndef TTALLOC_STATE_FLIGHT_H
#define TTALLOC_STATE_FLIGHT_H

#include <stdint.h>

#define FLIGHT_EVENTS 256u /* per process; a power of two */

enum flight_kind {
	FLIGHT_ALLOC = 1,
	FLIGHT_FREE,
	FLIGHT_ALLOC_FAILED,
};

/* One event as the process reported it. */
struct flight_event {
	uint64_t address;    /* 0 for ALLOC_FAILED */
	uint64_t size;       /* bytes: allocated, freed, or requested */
	uint64_t time_ns;    /* CLOCK_MONOTONIC when applied */
	uint32_t stack;      /* the buffer's allocation stack (index in the process's stacks), or STACKS_NONE */
	uint32_t call_stack; /* the reporting call's own stack (a FREE's), or STACKS_NONE */
	uint8_t kind;        /* enum flight_kind */
	uint8_t type;        /* enum ttalloc_buffer_type */
	uint16_t device;
	uint32_t reserved;
};

_Static_assert(sizeof(struct flight_event) == 40, "a flight event is 40 bytes");

struct flight_ring {
	uint64_t next; /* events recorded so far; event n is in slot n % FLIGHT_EVENTS */
	struct flight_event events[FLIGHT_EVENTS];
};

/* Allocates an empty ring (NULL when out of memory: nothing is recorded then). */
struct flight_ring *flight_ring_new(void);

/*
 * Records `ev` in *ring, creating the ring on first use. A process whose
 * ring cannot be allocated simply has no flight record.
 */
static inline void flight_note(struct flight_ring **ring, const struct flight_event *ev)
{
	if (__builtin_expect(!*ring, 0) && !(*ring = flight_ring_new()))
		return;
	struct flight_ring *r = *ring;
	struct flight_event *slot = &r->events[r->next++ & (FLIGHT_EVENTS - 1)];
	/* field by field, not `*slot = *ev`: a whole-struct copy reads the
	 * caller's just-written narrow fields with wide loads, which stalls on
	 * store forwarding (12 ns a note instead of 2) */
	slot->address = ev->address;
	slot->size = ev->size;
	slot->time_ns = ev->time_ns;
	slot->stack = ev->stack;
	slot->call_stack = ev->call_stack;
	slot->kind = ev->kind;
	slot->type = ev->type;
	slot->device = ev->device;
}

/* Events kept (at most FLIGHT_EVENTS); 0 for a NULL ring. */
uint32_t flight_count(const struct flight_ring *ring);

/* The i-th newest kept event (0: the newest); i < flight_count. */
const struct flight_event *flight_newest(const struct flight_ring *ring, uint32_t i);

/*
 * The newest kept event that names (device, address) as an ALLOC or FREE,
 * or NULL. A FREE found here, for an address no longer live, means the
 * process already freed it: a second FREE is a double free.
 */
const struct flight_event *flight_last_touch(const struct flight_ring *ring, int device, uint64_t address);

#endif /* TTALLOC_STATE_FLIGHT_H */
