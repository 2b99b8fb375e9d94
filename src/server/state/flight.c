/*
 * flight.c - the per-process flight recorder (flight.h).
 */
#include "server/state/flight.h"

#include <stdlib.h>

struct flight_ring *flight_ring_new(void)
{
	return calloc(1, sizeof(struct flight_ring));
}

uint32_t flight_count(const struct flight_ring *ring)
{
	if (!ring)
		return 0;
	return ring->next < FLIGHT_EVENTS ? (uint32_t)ring->next : FLIGHT_EVENTS;
}

const struct flight_event *flight_newest(const struct flight_ring *ring, uint32_t i)
{
	return &ring->events[(ring->next - 1 - i) & (FLIGHT_EVENTS - 1)];
}

const struct flight_event *flight_last_touch(const struct flight_ring *ring, int device, uint64_t address)
{
	uint32_t n = flight_count(ring);
	for (uint32_t i = 0; i < n; i++) {
		const struct flight_event *ev = flight_newest(ring, i);
		if ((ev->kind == FLIGHT_ALLOC || ev->kind == FLIGHT_FREE) && ev->device == device &&
		    ev->address == address)
			return ev;
	}
	return NULL;
}
