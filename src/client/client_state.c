/*
 * client_state.c - the library's one state (client_state.h), defined apart
 * from client.c (the public calls) and session.c (the connection), which
 * both use it, so neither file calls into the other for it.
 */
#include "client/client_state.h"

struct client client = {
	.session_lock = PTHREAD_MUTEX_INITIALIZER,
	.fd = -1,
	.ring = {.wake_fd = -1},
};

uint64_t client_events(void)
{
	uint64_t n = 0;
	for (unsigned i = 0; i < RING_SHARDS; i++) {
		futex_lock_acquire(&client.shards[i].lock);
		n += client.shards[i].events;
		futex_lock_release(&client.shards[i].lock);
	}
	return n;
}
