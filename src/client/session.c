/*
 * session.c - libttalloc's connection to the server (client_state.h):
 * connecting with backoff, HELLO, negotiating the ring, re-sending the live
 * table (resync), the watcher thread, and fork.
 *
 * A connection is opened lazily, at most once per backoff period; when it
 * succeeds, the whole live table is re-sent, so the server's picture is
 * exact whatever the start order. A watcher thread notices a server that
 * went away (or appears late) even when the application reports nothing:
 * every WATCH_INTERVAL_MS it peeks at the socket and, when disconnected,
 * retries with the same backoff, so an idle client is back in sync within
 * about a second of a server restart.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>
#include <sys/socket.h>
#include <sys/time.h>
#include <time.h>
#include <unistd.h>

#include "client/client_state.h"
#include "common/clock.h"
#include "common/log.h"
#include "common/reach.h"
#include "common/unix_socket.h"
#include "ttalloc.h"

/* Wait before the first reconnect attempt, doubled up to the maximum. */
#define BACKOFF_MIN_NS (50ull * 1000 * 1000)
#define BACKOFF_MAX_NS (1000ull * 1000 * 1000)
/* A server that does not take a frame for this long is treated as gone. */
#define SEND_TIMEOUT_MS 2000
/* How long flush waits for its answer. */
#define ANSWER_TIMEOUT_MS 5000
/* How long HELLO and RING_ATTACH wait for theirs: a server on this host
 * answers in microseconds, and the session lock is held meanwhile. */
#define HANDSHAKE_TIMEOUT_MS 1000
/* Frames per write when re-sending the live table. */
#define RESYNC_BATCH 64
/* How often the watcher thread checks the connection. */
#define WATCH_INTERVAL_MS 200

/* ---- frames on the socket ---- */

static void set_timeout(int fd, int option, int ms)
{
	struct timeval tv = {.tv_sec = ms / 1000, .tv_usec = (ms % 1000) * 1000};
	setsockopt(fd, SOL_SOCKET, option, &tv, sizeof(tv));
}

/* Sends whole frames; drops the connection on failure. */
static int send_frames(const struct proto_msg *msgs, size_t count)
{
	if (unix_socket_write_all(client.fd, msgs, count * sizeof(*msgs)) < 0) {
		session_disconnect();
		return TTALLOC_ENOSERVER;
	}
	return 0;
}

/* Reads frames until one of type `want` or ERROR (others are skipped). */
static int await_answer(unsigned want, struct proto_msg *answer)
{
	for (;;) {
		if (unix_socket_read_all(client.fd, answer, sizeof(*answer)) < 0) {
			session_disconnect();
			return TTALLOC_ENOSERVER;
		}
		if (answer->type == want || answer->type == PROTO_ERROR)
			return answer->type == want ? 0 : TTALLOC_EPROTOCOL;
	}
}

static void fill_frame(struct proto_msg *msg, const struct event *ev)
{
	proto_msg_init(msg, ev->type, ev->device);
	msg->size = ev->size;
	msg->buffer_type = (uint8_t)ev->buffer_type;
	msg->process_id = client.pid;
	msg->buffer_id = ev->address;
	msg->timestamp = ev->when_ns;
	msg->u.alloc.stack_id = ev->stack_id;
}

/* Sends STACK_DEF frames for a stack the current connection has not seen. */
static int define_stack(uint64_t stack_id)
{
	struct stack_record *rec = stack_id ? stack_table_find(&client.stacks, stack_id) : NULL;
	if (!rec || !stack_needs_definition(&client.stacks, rec))
		return 0;
	struct proto_msg frames[STACK_MAX_FRAMES];
	int n = stack_definition_frames(&client.stacks, rec, client.pid, frames);
	return send_frames(frames, (size_t)n);
}

int session_send_event(const struct event *ev)
{
	return session_send_request(ev, NULL);
}

int session_send_request(const struct event *ev, const char *text)
{
	int rc = define_stack(ev->stack_id);
	if (rc < 0)
		return rc;
	struct proto_msg msg;
	fill_frame(&msg, ev);
	if (text)
		proto_set_string(msg.u.text.text, sizeof(msg.u.text.text), text);
	return send_frames(&msg, 1);
}

int session_sync(void)
{
	struct proto_msg msg, answer;
	proto_msg_init(&msg, PROTO_SYNC, -1);
	msg.size = ++client.sync_sequence;
	int rc = send_frames(&msg, 1);
	while (rc == 0 && (rc = await_answer(PROTO_SYNC_ACK, &answer)) == 0 && answer.size != client.sync_sequence)
		;
	return rc;
}

/* ---- resync: the live table to a new connection ---- */

struct resync {
	struct proto_msg batch[RESYNC_BATCH]; /* socket */
	size_t count;
	struct shard *shard; /* ring */
	uint8_t shard_index;
};

static int resync_frame(const struct live_entry *e, void *ctx)
{
	struct resync *rs = ctx;
	/* the original time, so ages in leak reports survive a server restart */
	struct event ev = {PROTO_ALLOC, e->device, e->type, e->address, e->size, e->alloc_ns, e->stack_id};
	int rc = define_stack(e->stack_id);
	if (rc < 0)
		return rc;
	fill_frame(&rs->batch[rs->count], &ev);
	rs->batch[rs->count++].u.alloc.flags = PROTO_ALLOC_RESYNC; /* not a new buffer: marks keep its time */
	if (rs->count < RESYNC_BATCH)
		return 0;
	rs->count = 0;
	return send_frames(rs->batch, RESYNC_BATCH);
}

static int resync_ring_event(const struct live_entry *e, void *ctx)
{
	struct resync *rs = ctx;
	struct ring_event ev = {
		.address = e->address,
		.size = e->size,
		.alloc_ns = e->alloc_ns,
		.seq = rs->shard->seq++,
		.type = PROTO_ALLOC,
		.device = (uint8_t)e->device,
		.buffer_type = e->type,
		.shard = rs->shard_index,
	};
	return ring_producer_push(&client.ring, &ev) < 0 ? TTALLOC_ENOSERVER : 0;
}

/*
 * Re-sends every live buffer (and the stacks they name), shard by shard,
 * each under its lock. On the ring, the shard starts sending its own events
 * as soon as its table is out, so nothing is sent twice or missed.
 */
static int resync(void)
{
	static struct resync rs; /* under session_lock; 7 KiB off the stack */
	int ring = client.transport == TRANSPORT_RING;
	if (client.stack_traces)
		stack_table_new_connection(&client.stacks);
	int rc = 0;
	for (unsigned i = 0; i < RING_SHARDS && rc == 0; i++) {
		struct shard *sh = &client.shards[i];
		rs.count = 0;
		rs.shard = sh;
		rs.shard_index = (uint8_t)i;
		futex_lock_acquire(&sh->lock);
		if (ring) {
			sh->seq = 0;
			rc = live_table_each(&sh->table, resync_ring_event, &rs);
			if (rc == 0)
				sh->ring_generation = client.ring.generation;
		} else {
			rc = live_table_each(&sh->table, resync_frame, &rs);
			if (rc == 0 && rs.count)
				rc = send_frames(rs.batch, rs.count);
			sh->socket_synced = rc == 0 ? client.connection_generation : 0;
		}
		futex_lock_release(&sh->lock);
	}
	if (rc < 0 && client.fd >= 0)
		session_disconnect();
	return rc;
}

/* ---- connecting ---- */

/* This library's id in HELLO: random, and new in a forked child (session_atfork_child). */
static uint64_t instance_id(void)
{
	while (!client.instance) {
		if (getrandom(&client.instance, sizeof(client.instance), 0) != (ssize_t)sizeof(client.instance))
			client.instance = clock_monotonic_ns() ^ ((uint64_t)client.pid << 32) ^
				(uint64_t)(uintptr_t)&client;
	}
	return client.instance;
}

/*
 * The application's $TT_METAL_LOGGER_LEVEL for HELLO: the server logs this
 * process's events in that detail (protocol.h, enum proto_log_level).
 */
static uint8_t hello_log_level(void)
{
	enum log_level level;
	if (log_level_parse(getenv("TT_METAL_LOGGER_LEVEL"), &level) < 0)
		return PROTO_LOG_UNSET;
	return (uint8_t)(PROTO_LOG_ERROR + (level - LOG_ERROR));
}

/*
 * HELLO with this library's instance and epoch: the server drops what an
 * older connection of ours left unread, and what we reported before, which
 * the resync that follows re-sends (protocol.h, sessions).
 */
static int hello(uint32_t *features)
{
	struct proto_msg msg, answer;
	proto_msg_init(&msg, PROTO_HELLO, -1);
	msg.process_id = client.pid;
	msg.u.hello.version = PROTO_EXT_VERSION;
	msg.u.hello.instance = instance_id();
	msg.u.hello.epoch = client.epoch++;
	msg.u.hello.log_level = hello_log_level();
	proto_set_string(msg.u.hello.session, sizeof(msg.u.hello.session), getenv(PROTO_SESSION_ENV));
	int rc = send_frames(&msg, 1);
	if (rc == 0)
		rc = await_answer(PROTO_HELLO_ACK, &answer);
	*features = rc == 0 ? answer.u.hello.features : 0;
	client.server_features = *features;
	uint32_t devices = rc == 0 ? answer.u.hello.num_devices : 0;
	if (devices > 0 && devices <= PROTO_MAX_DEVICES) /* reports check device ids against it */
		__atomic_store_n(&client.server_devices, devices, __ATOMIC_RELAXED);
	return rc;
}

/*
 * Offers the server a new ring. Returns 0 when it took it (transport is
 * then the ring), or -1: the connection stays on 112-byte frames (or was
 * lost: client.fd < 0).
 */
static int attach_ring(void)
{
	char err[128];
	int memfd;
	if (ring_producer_create(&client.ring, &memfd, err) < 0)
		return -1;
	struct proto_msg msg, answer;
	proto_msg_init(&msg, PROTO_RING_ATTACH, -1);
	msg.process_id = client.pid;
	msg.u.ring = ring_geometry();
	int fds[2] = {memfd, client.ring.wake_fd};
	int rc = unix_socket_send_fds(client.fd, &msg, sizeof(msg), fds, 2);
	close(memfd);
	if (rc < 0) {
		session_disconnect();
	} else if (await_answer(PROTO_RING_ACK, &answer) == 0) {
		__atomic_store_n(&client.transport, TRANSPORT_RING, __ATOMIC_RELEASE);
		return 0;
	}
	ring_producer_destroy(&client.ring);
	return -1;
}

static void start_watcher(void);

/*
 * With a connected client.fd: HELLO, the ring when both sides want it, and
 * the resync of the live table. Returns 0 or TTALLOC_ENOSERVER.
 */
static int handshake(void)
{
	set_timeout(client.fd, SO_SNDTIMEO, SEND_TIMEOUT_MS);
	set_timeout(client.fd, SO_RCVTIMEO, HANDSHAKE_TIMEOUT_MS);
	uint32_t features;
	int rc = hello(&features);
	if (rc < 0) {
		error_set(client.last_error, rc,
			  "connected to %s, but nothing answered HELLO there within %d ms: is it an allocation server?",
			  client.socket_path, HANDSHAKE_TIMEOUT_MS);
		return rc;
	}
	client.connections++;
	client.last_error[0] = '\0';
	if (!client.ring_allowed || !(features & PROTO_FEATURE_RING) || attach_ring() < 0) {
		if (client.fd < 0)
			return TTALLOC_ENOSERVER;
		__atomic_store_n(&client.transport, TRANSPORT_SOCKET, __ATOMIC_RELEASE);
	}
	set_timeout(client.fd, SO_RCVTIMEO, ANSWER_TIMEOUT_MS);
	return resync();
}

int session_connect(int force)
{
	start_watcher();
	if (client.fd >= 0)
		return 0;
	if (!client.backoff_ns)
		client.backoff_ns = BACKOFF_MIN_NS;
	uint64_t now = clock_monotonic_ns();
	if (!force && now < client.next_connect_ns)
		return TTALLOC_ENOSERVER;
	char err[UNIX_SOCKET_ERR_LEN];
	client.fd = unix_socket_connect(client.socket_path, err);
	if (client.fd < 0) {
		reach_explain(client.last_error, client.socket_path, errno);
		client.next_connect_ns = now + client.backoff_ns;
		client.backoff_ns = client.backoff_ns * 2 > BACKOFF_MAX_NS ? BACKOFF_MAX_NS : client.backoff_ns * 2;
		return TTALLOC_ENOSERVER;
	}
	client.backoff_ns = BACKOFF_MIN_NS;
	__atomic_store_n(&client.handshaking, 1, __ATOMIC_RELEASE);
	int rc = handshake();
	__atomic_store_n(&client.handshaking, 0, __ATOMIC_RELEASE);
	return rc;
}

void session_disconnect(void)
{
	__atomic_store_n(&client.transport, TRANSPORT_NONE, __ATOMIC_RELEASE);
	/* a shard's socket_synced names this connection no more (no shard
	 * lock here: a failed send under one brings us here) */
	__atomic_add_fetch(&client.connection_generation, 1, __ATOMIC_RELEASE);
	if (client.ring.region) {
		/* threads waiting for room give up; then no shard sends to it */
		ring_producer_kill(&client.ring);
		for (unsigned i = 0; i < RING_SHARDS; i++) {
			futex_lock_acquire(&client.shards[i].lock);
			client.shards[i].ring_generation = 0;
			futex_lock_release(&client.shards[i].lock);
		}
		ring_producer_destroy(&client.ring);
	}
	if (client.fd >= 0)
		close(client.fd);
	client.fd = -1;
	client.next_connect_ns = clock_monotonic_ns() + client.backoff_ns;
}

void session_goodbye(void)
{
	if (client.fd >= 0 && (client.server_features & PROTO_FEATURE_SESSIONS)) {
		struct proto_msg msg;
		proto_msg_init(&msg, PROTO_GOODBYE, -1);
		msg.process_id = client.pid;
		send_frames(&msg, 1);
	}
	session_disconnect();
}

/* ---- the watcher thread ---- */

/* Drops a connection whose server has closed it. Called with the lock held. */
static void check_connection(void)
{
	if (client.fd < 0)
		return;
	char byte;
	ssize_t n = recv(client.fd, &byte, 1, MSG_PEEK | MSG_DONTWAIT);
	if (n == 0 || (n < 0 && errno != EAGAIN && errno != EWOULDBLOCK && errno != EINTR))
		session_disconnect();
}

static void *watcher_main(void *arg)
{
	(void)arg;
	pthread_mutex_lock(&client.session_lock);
	while (!client.watcher_stop) {
		check_connection();
		if (client.fd < 0)
			session_connect(0);
		struct timespec deadline;
		clock_gettime(CLOCK_MONOTONIC, &deadline);
		deadline.tv_nsec += WATCH_INTERVAL_MS * 1000000L;
		deadline.tv_sec += deadline.tv_nsec / 1000000000L;
		deadline.tv_nsec %= 1000000000L;
		pthread_cond_timedwait(&client.watcher_wake, &client.session_lock, &deadline);
	}
	pthread_mutex_unlock(&client.session_lock);
	return NULL;
}

/* Starts the watcher unless it runs. Called with the lock held. */
static void start_watcher(void)
{
	if (client.watcher_running)
		return;
	pthread_condattr_t attr;
	pthread_condattr_init(&attr);
	pthread_condattr_setclock(&attr, CLOCK_MONOTONIC);
	pthread_cond_init(&client.watcher_wake, &attr);
	pthread_condattr_destroy(&attr);
	client.watcher_stop = 0;
	/* Without the thread, reporting still works; only idle resync waits
	 * for the next report. */
	client.watcher_running = pthread_create(&client.watcher, NULL, watcher_main, NULL) == 0;
}

void session_stop_watcher(void)
{
	if (!client.watcher_running)
		return;
	client.watcher_stop = 1;
	pthread_cond_signal(&client.watcher_wake);
	pthread_mutex_unlock(&client.session_lock);
	pthread_join(client.watcher, NULL);
	pthread_mutex_lock(&client.session_lock);
	client.watcher_running = 0;
}

/* ---- fork ---- */

/* Every lock, in the documented order, so the child inherits none held. */
void session_atfork_prepare(void)
{
	pthread_mutex_lock(&client.session_lock);
	for (unsigned i = 0; i < RING_SHARDS; i++)
		futex_lock_acquire(&client.shards[i].lock);
}

void session_atfork_parent(void)
{
	for (unsigned i = RING_SHARDS; i-- > 0;)
		futex_lock_release(&client.shards[i].lock);
	pthread_mutex_unlock(&client.session_lock);
}

/* The child is a new process: its own identity, connection and buffers. */
void session_atfork_child(void)
{
	pthread_mutex_init(&client.session_lock, NULL);
	client.pid = getpid();
	client.instance = 0; /* a new process: a new instance, its own epochs */
	client.epoch = 0;
	client.transport = TRANSPORT_NONE;
	ring_producer_forget(&client.ring); /* the parent's ring: not ours to write */
	if (client.fd >= 0)
		close(client.fd); /* the child's copy; the parent keeps its own */
	client.fd = -1;
	client.next_connect_ns = 0;
	client.watcher_running = 0; /* threads do not survive fork */
	client.connections = 0;     /* a new process: its own counts (ttalloc_get_stats) */
	client.confirmed_events = 0;
	client.last_error[0] = '\0';
	__atomic_store_n(&client.refused_device, 0, __ATOMIC_RELAXED);
	for (unsigned i = 0; i < RING_SHARDS; i++) {
		struct shard *sh = &client.shards[i];
		sh->lock.word = 0;
		sh->ring_generation = 0;
		sh->events = 0;
		if (client.state == STATE_ENABLED)
			live_table_clear(&sh->table);
	}
}
