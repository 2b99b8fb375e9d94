/*
 * client.c - libttalloc's public API (include/ttalloc.h): the reporting
 * fast path. The transports, the locks and their order are described in
 * client_state.h; connecting and resync are in session.c.
 *
 * Every report first updates the library's own live table (the shard of
 * its buffer), so a later connection can be brought up to date whatever
 * happened to the server, then goes out on the current transport under the
 * same shard lock.
 */
#define _GNU_SOURCE
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "client/client_state.h"
#include "common/clock.h"
#include "common/unix_socket.h"
#include "ttalloc.h"

/* Result of emit() when the ring failed (the server stopped consuming). */
#define RING_FAILED 1

/* ---- initialisation ---- */

static int env_is(const char *name, const char *value)
{
	const char *v = getenv(name);
	return v && strcmp(v, value) == 0;
}

/* Allocates the shards' tables. Returns 0 or TTALLOC_ENOMEM (all freed). */
static int init_shards(void)
{
	for (unsigned i = 0; i < RING_SHARDS; i++) {
		if (live_table_init(&client.shards[i].table) < 0) {
			while (i-- > 0)
				live_table_release(&client.shards[i].table);
			return TTALLOC_ENOMEM;
		}
	}
	return 0;
}

/* Counts start again with tracking (ttalloc_get_stats: "since tracking started"). */
static void reset_stats(void)
{
	for (unsigned i = 0; i < RING_SHARDS; i++)
		client.shards[i].events = 0;
	client.confirmed_events = 0;
	client.connections = 0;
	client.last_error[0] = '\0';
	__atomic_store_n(&client.refused_device, 0, __ATOMIC_RELAXED);
}

/* Called with session_lock. */
static void initialise_locked(void)
{
	if (client.state != STATE_UNINITIALISED)
		return;
	if (!env_is(PROTO_TRACKING_ENV, "1") || init_shards() < 0) {
		__atomic_store_n(&client.state, STATE_DISABLED, __ATOMIC_RELEASE);
		return;
	}
	client.stack_traces = env_is("TT_ALLOC_STACK_TRACE", "1") && stack_table_init(&client.stacks) == 0;
	/* stacks travel as STACK_DEF frames, which only the socket carries in order */
	client.ring_allowed = !client.stack_traces && !env_is("TTALLOC_RING", "0");
	const char *path = unix_socket_default_path();
	strncpy(client.socket_path, path, sizeof(client.socket_path) - 1);
	client.pid = getpid();
	client.next_connect_ns = 0;
	reset_stats();
	client.connection_generation = 1; /* a shard's socket_synced of 0 names no connection */
	if (!client.atfork_registered &&
	    pthread_atfork(session_atfork_prepare, session_atfork_parent, session_atfork_child) == 0)
		client.atfork_registered = 1;
	__atomic_store_n(&client.state, STATE_ENABLED, __ATOMIC_RELEASE);
}

/* 1 when reporting is on; initialises on first use. */
static inline int tracking_on(void)
{
	int state = __atomic_load_n(&client.state, __ATOMIC_ACQUIRE);
	if (__builtin_expect(state == STATE_UNINITIALISED, 0)) {
		pthread_mutex_lock(&client.session_lock);
		initialise_locked();
		pthread_mutex_unlock(&client.session_lock);
		state = __atomic_load_n(&client.state, __ATOMIC_ACQUIRE);
	}
	return state == STATE_ENABLED;
}

/* ---- one event ---- */

/* CLOCK_REALTIME to a few ms, for the table only (ages after a resync): ~3 ns, no syscall. */
static inline uint64_t coarse_now_ns(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_REALTIME_COARSE, &ts);
	return (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec;
}

/* Applies the event to the shard's table (and counts it). Returns what the API returns for it. */
static int update_table(struct shard *sh, const struct event *ev)
{
	int rc = ev->type == PROTO_FREE ? live_table_remove(&sh->table, ev->device, ev->address)
					: live_table_add(&sh->table, ev->device, ev->buffer_type, ev->address, ev->size,
							 ev->when_ns, ev->stack_id);
	if (rc != TTALLOC_ENOMEM)
		sh->events++;
	return rc;
}

/*
 * Sends the event on `transport`. Called with the shard lock (and, for the
 * socket, session_lock). Returns 0, RING_FAILED, or TTALLOC_ENOSERVER.
 */
static int emit(struct shard *sh, const struct event *ev, int transport)
{
	if (transport == TRANSPORT_SOCKET)
		return session_send_event(ev);
	if (transport != TRANSPORT_RING || !sh->ring_generation)
		return 0; /* not (yet) connected: the resync will carry the table */
	struct ring_event rev = {
		.address = ev->address,
		.size = ev->size,
		.seq = sh->seq++,
		.type = (uint8_t)ev->type,
		.device = (uint8_t)ev->device,
		.buffer_type = (uint8_t)ev->buffer_type,
		.shard = (uint8_t)(sh - client.shards),
	};
	return ring_producer_push(&client.ring, &rev) < 0 ? RING_FAILED : 0;
}

/* The ring of `generation` stopped taking events: drop that connection. */
static void ring_failed(uint32_t generation)
{
	pthread_mutex_lock(&client.session_lock);
	if (client.ring.generation == generation && client.ring.region)
		session_disconnect();
	pthread_mutex_unlock(&client.session_lock);
}

/*
 * With the shard lock held: updates the table and publishes the event when
 * the shard is on a ring. Returns the API's result; *failed is the ring's
 * generation when it stopped taking events, else 0 (see finish_on_ring).
 */
static int update_and_publish(struct shard *sh, const struct event *ev, uint32_t *failed)
{
	int rc = update_table(sh, ev);
	*failed = rc != TTALLOC_ENOMEM && emit(sh, ev, TRANSPORT_RING) == RING_FAILED ? sh->ring_generation : 0;
	return rc;
}

/* After the shard lock: drops a ring that failed (it takes session_lock). */
static int finish_on_ring(int rc, uint32_t failed)
{
	if (__builtin_expect(failed != 0, 0)) {
		ring_failed(failed);
		return TTALLOC_ENOSERVER;
	}
	return rc;
}

/* The fast path: the shard lock only. */
static int report_on_ring(const struct event *ev)
{
	struct shard *sh = shard_of(ev->device, ev->address);
	uint32_t failed;
	futex_lock_acquire(&sh->lock);
	int rc = update_and_publish(sh, ev, &failed);
	futex_lock_release(&sh->lock);
	return finish_on_ring(rc, failed);
}

/*
 * No connection, and another thread holds session_lock while a server that
 * accepted its connection answers (client.handshaking; maybe slowly): the
 * table is updated without waiting. The connection being made re-sends
 * the table shard by shard, so the event reaches the server by that
 * resync, or on the ring when its shard is already there. Only a shard
 * already re-sent as 112-byte frames needs its events sent: returns 1
 * then, having done nothing, and the caller waits for the lock after all.
 */
static int report_while_connecting(const struct event *ev, int *rc)
{
	struct shard *sh = shard_of(ev->device, ev->address);
	futex_lock_acquire(&sh->lock);
	uint32_t connection = __atomic_load_n(&client.connection_generation, __ATOMIC_ACQUIRE);
	if (sh->socket_synced == connection) {
		futex_lock_release(&sh->lock);
		return 1;
	}
	uint32_t failed;
	int result = update_and_publish(sh, ev, &failed);
	futex_lock_release(&sh->lock);
	*rc = finish_on_ring(result, failed);
	return 0;
}

/*
 * The socket, or no connection: under session_lock, so frames leave in the
 * order the table changed. Without a connection, connects (when the backoff
 * allows); the resync then carries the table, which already holds an ALLOC
 * or a known FREE; only a FREE the table did not know is sent after it.
 */
static int report_on_socket(const struct event *ev)
{
	int rc;
	if (__atomic_load_n(&client.transport, __ATOMIC_ACQUIRE) != TRANSPORT_NONE) {
		pthread_mutex_lock(&client.session_lock);
	} else if (pthread_mutex_trylock(&client.session_lock) != 0) {
		/* only a server that accepted us can keep the lock long (HELLO,
		 * resync); the watcher finding no server again is quick, and the
		 * report then says TTALLOC_ENOSERVER as it should */
		if (__atomic_load_n(&client.handshaking, __ATOMIC_ACQUIRE) && report_while_connecting(ev, &rc) == 0)
			return rc;
		pthread_mutex_lock(&client.session_lock);
	}
	int transport = __atomic_load_n(&client.transport, __ATOMIC_ACQUIRE);
	if (transport == TRANSPORT_RING) { /* connected meanwhile */
		pthread_mutex_unlock(&client.session_lock);
		return report_on_ring(ev);
	}
	struct shard *sh = shard_of(ev->device, ev->address);
	futex_lock_acquire(&sh->lock);
	rc = update_table(sh, ev);
	int sent = rc == TTALLOC_ENOMEM ? 0 : emit(sh, ev, transport);
	futex_lock_release(&sh->lock);
	if (transport == TRANSPORT_NONE && rc != TTALLOC_ENOMEM) {
		sent = session_connect(0);
		if (sent == 0 && rc == TTALLOC_EUNKNOWN_BUFFER) {
			transport = __atomic_load_n(&client.transport, __ATOMIC_ACQUIRE);
			futex_lock_acquire(&sh->lock);
			sent = emit(sh, ev, transport);
			futex_lock_release(&sh->lock);
		}
	}
	uint32_t generation = client.ring.generation;
	pthread_mutex_unlock(&client.session_lock);
	if (sent == RING_FAILED) {
		ring_failed(generation);
		sent = TTALLOC_ENOSERVER;
	}
	return sent < 0 ? sent : rc;
}

static inline int report(const struct event *ev)
{
	if (__builtin_expect(__atomic_load_n(&client.transport, __ATOMIC_ACQUIRE) == TRANSPORT_RING, 1))
		return report_on_ring(ev);
	return report_on_socket(ev);
}

/*
 * Captures the application's stack; returns its id (0: none). Always
 * inlined into ttalloc_report_alloc so the frames to skip are exactly
 * stack_capture's and ttalloc_report_alloc's.
 */
static inline __attribute__((always_inline)) uint64_t capture_stack(void)
{
	uint64_t ips[PROTO_STACK_MAX_DEPTH];
	int depth = stack_capture(ips, PROTO_STACK_MAX_DEPTH, 0);
	uint64_t id = depth > 0 ? stack_id_of(ips, depth) : 0;
	if (!id)
		return 0;
	pthread_mutex_lock(&client.session_lock);
	if (!stack_table_intern(&client.stacks, id, ips, depth))
		id = 0;
	pthread_mutex_unlock(&client.session_lock);
	return id;
}

/*
 * 0 when `device_id` may be reported: within the protocol's range and, once
 * a server was reached, one of its devices (HELLO_ACK's count, read without
 * a lock). Else TTALLOC_EINVAL, or TTALLOC_ENODEV counted.
 */
static inline int check_device(int device_id)
{
	if (device_id < 0 || device_id >= PROTO_MAX_DEVICES)
		return TTALLOC_EINVAL;
	uint32_t devices = __atomic_load_n(&client.server_devices, __ATOMIC_RELAXED);
	if (__builtin_expect(devices != 0 && (uint32_t)device_id >= devices, 0)) {
		__atomic_add_fetch(&client.refused_device, 1, __ATOMIC_RELAXED);
		return TTALLOC_ENODEV;
	}
	return 0;
}

/* ---- public API ---- */

int ttalloc_init(void)
{
	if (!tracking_on())
		return 0;
	pthread_mutex_lock(&client.session_lock);
	int rc = session_connect(1);
	pthread_mutex_unlock(&client.session_lock);
	return rc;
}

int ttalloc_enabled(void)
{
	return tracking_on();
}

int ttalloc_report_alloc(int device_id, enum ttalloc_buffer_type type, uint64_t address, uint64_t size)
{
	if (!tracking_on())
		return 0;
	if (!proto_buffer_type_valid((unsigned)type) || size == 0)
		return TTALLOC_EINVAL;
	int refused = check_device(device_id);
	if (refused)
		return refused;
	struct event ev = {PROTO_ALLOC, device_id, (unsigned)type, address, size, coarse_now_ns(), 0};
	if (__builtin_expect(client.stack_traces, 0)) {
		ev.when_ns = clock_realtime_ns(); /* the socket carries it: keep it exact */
		ev.stack_id = capture_stack();
	}
	return report(&ev);
}

int ttalloc_report_free(int device_id, uint64_t address)
{
	if (!tracking_on())
		return 0;
	int refused = check_device(device_id);
	if (refused)
		return refused;
	struct event ev = {PROTO_FREE, device_id, 0, address, 0, 0, 0};
	if (__builtin_expect(client.stack_traces, 0)) {
		ev.when_ns = clock_realtime_ns();
		ev.stack_id = capture_stack(); /* a double free shows where it happened */
	}
	/* the server is told even about an unknown buffer: its counters show it */
	return report(&ev);
}

/* Sends one request frame on the socket (ring events before it are drained first by the server), then SYNC. */
static int send_and_sync(const struct event *ev, const char *text)
{
	pthread_mutex_lock(&client.session_lock);
	int rc = session_connect(1);
	if (rc == 0)
		rc = session_send_request(ev, text);
	if (rc == 0)
		rc = session_sync();
	pthread_mutex_unlock(&client.session_lock);
	return rc;
}

int ttalloc_report_alloc_failed(int device, enum ttalloc_buffer_type type, uint64_t size)
{
	if (device < 0 || device >= PROTO_MAX_DEVICES || !proto_buffer_type_valid((unsigned)type) || size == 0 ||
	    size > PROTO_MAX_REQUEST)
		return TTALLOC_EINVAL;
	if (!tracking_on())
		return 0;
	int refused = check_device(device);
	if (refused)
		return refused;
	struct event ev = {PROTO_ALLOC_FAILED, device, (unsigned)type, 0, size, clock_realtime_ns(), 0};
	if (__builtin_expect(client.stack_traces, 0))
		ev.stack_id = capture_stack();
	return send_and_sync(&ev, NULL);
}

int ttalloc_mark(const char *label)
{
	char field[PROTO_TEXT_MAX + 1];
	if (!label || strnlen(label, PROTO_TEXT_MAX + 1) > PROTO_TEXT_MAX)
		return TTALLOC_EINVAL;
	proto_set_string(field, sizeof(field), label);
	if (!proto_text_valid(field, sizeof(field)))
		return TTALLOC_EINVAL;
	if (!tracking_on())
		return 0;
	struct event ev = {PROTO_MARK, -1, 0, 0, 0, clock_realtime_ns(), 0};
	return send_and_sync(&ev, label);
}

int ttalloc_flush(void)
{
	if (!tracking_on())
		return 0;
	pthread_mutex_lock(&client.session_lock);
	/* counted before the SYNC goes out: each of these is in the table the
	 * connect re-sends, or already sent, so the SYNC_ACK confirms them */
	uint64_t events = client_events();
	int rc = session_connect(1);
	if (rc == 0)
		rc = session_sync();
	if (rc == 0)
		client.confirmed_events = events;
	pthread_mutex_unlock(&client.session_lock);
	return rc;
}

int ttalloc_get_stats(struct ttalloc_stats *stats, size_t size)
{
	if (!stats)
		return TTALLOC_EINVAL;
	struct ttalloc_stats now;
	memset(&now, 0, sizeof(now));
	if (tracking_on()) {
		pthread_mutex_lock(&client.session_lock);
		now.events = client_events();
		now.unconfirmed = now.events - client.confirmed_events;
		now.connections = client.connections;
		now.connected = client.fd >= 0;
		snprintf(now.socket_path, sizeof(now.socket_path), "%s", client.socket_path);
		pthread_mutex_unlock(&client.session_lock);
		now.refused_device = __atomic_load_n(&client.refused_device, __ATOMIC_RELAXED);
		now.server_devices = __atomic_load_n(&client.server_devices, __ATOMIC_RELAXED);
	} else {
		snprintf(now.socket_path, sizeof(now.socket_path), "%s", unix_socket_default_path());
	}
	memcpy(stats, &now, size < sizeof(now) ? size : sizeof(now));
	return 0;
}

int ttalloc_last_error(char *buf, size_t size)
{
	if (!buf || !size)
		return 0;
	buf[0] = '\0';
	if (!tracking_on())
		return 0;
	pthread_mutex_lock(&client.session_lock);
	int failing = client.fd < 0 && client.last_error[0];
	if (failing)
		snprintf(buf, size, "%s", client.last_error);
	pthread_mutex_unlock(&client.session_lock);
	return failing;
}

uint64_t ttalloc_live_buffers(void)
{
	if (!tracking_on())
		return 0;
	uint64_t n = 0;
	for (unsigned i = 0; i < RING_SHARDS; i++) {
		futex_lock_acquire(&client.shards[i].lock);
		n += client.shards[i].table.count;
		futex_lock_release(&client.shards[i].lock);
	}
	return n;
}

void ttalloc_shutdown(void)
{
	if (__atomic_load_n(&client.state, __ATOMIC_ACQUIRE) != STATE_ENABLED) {
		__atomic_store_n(&client.state, STATE_UNINITIALISED, __ATOMIC_RELEASE);
		return;
	}
	ttalloc_flush();
	pthread_mutex_lock(&client.session_lock);
	session_stop_watcher();
	session_goodbye();
	for (unsigned i = 0; i < RING_SHARDS; i++)
		live_table_release(&client.shards[i].table);
	if (client.stack_traces)
		stack_table_release(&client.stacks);
	client.stack_traces = 0;
	__atomic_store_n(&client.state, STATE_UNINITIALISED, __ATOMIC_RELEASE);
	pthread_mutex_unlock(&client.session_lock);
}
