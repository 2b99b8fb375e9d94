/*
 * client_state.h - the state libttalloc shares between its public API
 * (client.c) and its connection management (session.c).
 *
 * Two transports:
 *  - the ring (src/common/ring.h), negotiated after HELLO: a report takes
 *    only the lock of its shard, updates the shard's part of the live
 *    table and publishes a 32-byte event on the thread's lane. No system
 *    call, no global lock.
 *  - the seed's 112-byte frames on the socket, for a server without the
 *    ring, for TT_ALLOC_STACK_TRACE=1 (stacks travel as STACK_DEF frames)
 *    and with TTALLOC_RING=0: a report takes the session lock, then the
 *    shard's, and sends one frame, as the seed's client does.
 *
 * Locks, always taken in this order: session_lock, then shard locks in
 * increasing index. The live table is split into RING_SHARDS shards by
 * (device, address); every change of a shard happens under its lock, and a
 * shard's events go out under the same lock, so the server sees each
 * buffer's ALLOC and FREE in the order they happened whatever threads made
 * them.
 *
 * A shard sends to the ring only when its ring_generation is the current
 * ring's: a new connection re-sends the shard's table (resync) and then
 * sets it, one shard at a time, so every buffer reaches the server exactly
 * once, by resync or by its own event.
 */
#ifndef TTALLOC_CLIENT_STATE_H
#define TTALLOC_CLIENT_STATE_H

#include <pthread.h>
#include <stdint.h>
#include <sys/types.h>

#include "client/live_table.h"
#include "client/ring_producer.h"
#include "client/stacks.h"
#include "common/errors.h"
#include "common/futex.h"
#include "common/protocol.h"
#include "common/ring.h"

enum client_state { STATE_UNINITIALISED = 0, STATE_DISABLED, STATE_ENABLED };

/* How reports reach the server now. */
enum client_transport {
	TRANSPORT_NONE = 0,   /* not connected: reports only update the live table */
	TRANSPORT_SOCKET = 1, /* 112-byte frames, under session_lock */
	TRANSPORT_RING = 2,   /* the shared-memory ring */
};

struct shard {
	_Alignas(RING_CACHE_LINE) struct futex_lock lock;
	uint32_t ring_generation; /* ring this shard's events go to; 0: none */
	uint32_t seq;             /* next event's place in the shard's order */
	uint32_t socket_synced;   /* connection_generation whose resync (112-byte frames) covered it */
	uint64_t events;          /* reports recorded in this shard (ttalloc_get_stats), under its lock */
	struct live_table table;
};

struct client {
	int state;                      /* enum client_state; read without a lock on the fast path */
	int transport;                  /* enum client_transport; read without a lock on the fast path */
	uint32_t connection_generation; /* bumped by every disconnect (read without session_lock) */
	uint32_t handshaking;    /* a server accepted the connection being made; HELLO, ring and resync under way */
	uint32_t server_devices; /* HELLO_ACK's num_devices of the last server (0: none yet); read lock-free */
	uint64_t refused_device; /* reports refused with TTALLOC_ENODEV (atomic) */
	struct ring_producer ring;
	struct shard shards[RING_SHARDS];

	/* ---- under session_lock ---- */
	pthread_mutex_t session_lock;
	int fd;
	pid_t pid;
	uint64_t next_connect_ns; /* CLOCK_MONOTONIC of the next connect attempt */
	uint64_t backoff_ns;
	uint64_t sync_sequence;
	uint64_t instance;         /* this library's random id in HELLO (0: not chosen yet; new after fork) */
	uint32_t epoch;            /* connections opened so far: HELLO's epoch */
	uint32_t server_features;  /* HELLO_ACK's features of the current connection */
	uint64_t connections;      /* connections made (ttalloc_get_stats) */
	uint64_t confirmed_events; /* the shards' events counted before the last successful flush's SYNC */
	char last_error[ERR_LEN];  /* why the last connect failed (reach_explain); "" when connected */
	int ring_allowed;          /* 0 with TTALLOC_RING=0 or stack traces */
	int stack_traces;          /* TT_ALLOC_STACK_TRACE=1 */
	struct stack_table stacks;
	char socket_path[108];
	int atfork_registered;
	pthread_t watcher;
	pthread_cond_t watcher_wake;
	int watcher_running;
	int watcher_stop;
};

extern struct client client;

/* Reports recorded by every shard so far (each shard's count under its lock). Called with session_lock. */
uint64_t client_events(void);

/* The shard of a buffer. */
static inline struct shard *shard_of(int device, uint64_t address)
{
	return &client.shards[ring_shard_of(device, address)];
}

/* One ALLOC or FREE as the application reported it. */
struct event {
	enum proto_msg_type type;
	int device;
	unsigned buffer_type;
	uint64_t address;
	uint64_t size;
	uint64_t when_ns;  /* CLOCK_REALTIME */
	uint64_t stack_id; /* the call's stack (ALLOC, FREE, ALLOC_FAILED); 0: none */
};

/* ---- session.c: the connection, under session_lock ---- */

/*
 * Connects when the backoff allows (or `force`), says HELLO, negotiates the
 * ring and re-sends the live table. Starts the watcher thread. Returns 0
 * when connected, TTALLOC_ENOSERVER otherwise. Called with session_lock.
 */
int session_connect(int force);

/* Drops the connection (and the ring); the next connect resyncs. Called with session_lock. */
void session_disconnect(void);

/*
 * Ends the connection on purpose (ttalloc_shutdown): says GOODBYE when the
 * server knows it (PROTO_FEATURE_SESSIONS), so the buffers still live are
 * the process's leaks at once, then disconnects. With session_lock held.
 */
void session_goodbye(void);

/*
 * Sends one event as a 112-byte frame (with its STACK_DEF first when the
 * connection has not seen the stack). Called with session_lock and the
 * event's shard lock, in TRANSPORT_SOCKET. Returns 0 or TTALLOC_ENOSERVER.
 */
int session_send_event(const struct event *ev);

/*
 * Sends a request that is not a table event (ALLOC_FAILED, MARK) on the
 * socket, whatever the transport, with its stack's STACK_DEF first when
 * needed and `text` (may be NULL) as its text payload. Called with
 * session_lock, connected. Returns 0 or TTALLOC_ENOSERVER.
 */
int session_send_request(const struct event *ev, const char *text);

/* SYNC round trip: every earlier event is applied. Called with session_lock. */
int session_sync(void);

/* Stops and joins the watcher thread. Called with session_lock (dropped meanwhile). */
void session_stop_watcher(void);

/* pthread_atfork handlers: a child starts with no connection and no buffers. */
void session_atfork_prepare(void);
void session_atfork_parent(void);
void session_atfork_child(void);

#endif /* TTALLOC_CLIENT_STATE_H */
