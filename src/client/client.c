/*
 * client.c - libttalloc: report buffer allocations to the server
 * (the contract is in include/ttalloc.h).
 *
 * Transport: the seed's 112-byte frames, one blocking send per event, over a
 * connection opened lazily. Every event first updates the library's own live
 * table; when there is no connection, a connect is tried at most once per
 * backoff period and, when it succeeds, the whole table is re-sent, so the
 * server's picture is exact whatever the start order.
 *
 * A watcher thread notices a server that went away (or appears late) even
 * when the application reports nothing: every WATCH_INTERVAL_MS it peeks at
 * the socket and, when disconnected, retries with the same backoff, so an
 * idle client is back in sync within about a second of a server restart.
 *
 * Locking: one mutex serialises the table and the socket. A forked child
 * gets a fresh state (no connection, empty table, no watcher until it next
 * reports) through pthread_atfork.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/time.h>
#include <time.h>
#include <unistd.h>

#include "live_table.h"
#include "stacks.h"
#include "protocol.h"
#include "ttalloc.h"
#include "unix_socket.h"

enum client_state { STATE_UNINITIALISED = 0, STATE_DISABLED, STATE_ENABLED };

/* Wait before the first reconnect attempt, doubled up to the maximum. */
#define BACKOFF_MIN_NS (50ull * 1000 * 1000)
#define BACKOFF_MAX_NS (1000ull * 1000 * 1000)
/* A server that does not take a frame for this long is treated as gone. */
#define SEND_TIMEOUT_MS 2000
/* How long HELLO and flush wait for their answers. */
#define ANSWER_TIMEOUT_MS 5000
/* Frames per write when re-sending the live table. */
#define RESYNC_BATCH 64
/* How often the watcher thread checks the connection. */
#define WATCH_INTERVAL_MS 200

static struct client {
	pthread_mutex_t lock;
	int state; /* enum client_state, read without the lock on the fast path */
	int fd;
	pid_t pid;
	uint64_t next_connect_ns;
	uint64_t backoff_ns;
	uint64_t sync_sequence;
	struct live_table table;
	int stack_traces; /* TT_ALLOC_STACK_TRACE=1 */
	struct stack_table stacks;
	char socket_path[108];
	int atfork_registered;
	pthread_t watcher;
	pthread_cond_t watcher_wake;
	int watcher_running;
	int watcher_stop;
} client = {
	.lock = PTHREAD_MUTEX_INITIALIZER,
	.fd = -1,
};

/* ---- connection ---- */

static void set_timeout(int fd, int option, int ms)
{
	struct timeval tv = {.tv_sec = ms / 1000, .tv_usec = (ms % 1000) * 1000};
	setsockopt(fd, SOL_SOCKET, option, &tv, sizeof(tv));
}

static void disconnect(void)
{
	if (client.fd >= 0)
		close(client.fd);
	client.fd = -1;
	client.next_connect_ns = proto_monotonic_ns() + client.backoff_ns;
}

/* Sends whole frames; drops the connection on failure. */
static int send_frames(const struct proto_msg *msgs, size_t count)
{
	if (unix_socket_write_all(client.fd, msgs, count * sizeof(*msgs)) < 0) {
		disconnect();
		return TTALLOC_ENOSERVER;
	}
	return 0;
}

/* Reads frames until one of `type` (others are skipped). */
static int await_answer(unsigned type, struct proto_msg *answer)
{
	for (;;) {
		if (unix_socket_read_all(client.fd, answer, sizeof(*answer)) < 0) {
			disconnect();
			return TTALLOC_ENOSERVER;
		}
		if (answer->type == type)
			return 0;
	}
}

/* One ALLOC or FREE as the application reported it. */
struct event {
	enum proto_msg_type type;
	int device;
	unsigned buffer_type;
	uint64_t address;
	uint64_t size;
	uint64_t when_ns;  /* CLOCK_REALTIME */
	uint64_t stack_id; /* ALLOC only; 0: none */
};

static void fill_event(struct proto_msg *msg, const struct event *ev)
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

struct resync {
	struct proto_msg batch[RESYNC_BATCH];
	size_t count;
};

static int resync_one(const struct live_entry *e, void *ctx)
{
	struct resync *rs = ctx;
	/* the original time, so ages in leak reports survive a server restart */
	struct event ev = {PROTO_ALLOC, e->device, e->type, e->address, e->size, e->alloc_ns, e->stack_id};
	int rc = define_stack(e->stack_id);
	if (rc < 0)
		return rc;
	fill_event(&rs->batch[rs->count++], &ev);
	if (rs->count < RESYNC_BATCH)
		return 0;
	rs->count = 0;
	return send_frames(rs->batch, RESYNC_BATCH);
}

/* Re-sends every live buffer (and the stacks they name) on a new connection. */
static int resync(void)
{
	struct resync rs;
	rs.count = 0;
	if (client.stack_traces)
		stack_table_new_connection(&client.stacks);
	int rc = live_table_each(&client.table, resync_one, &rs);
	if (rc == 0 && rs.count)
		rc = send_frames(rs.batch, rs.count);
	return rc;
}

static int hello(void)
{
	struct proto_msg msg, answer;
	proto_msg_init(&msg, PROTO_HELLO, -1);
	msg.process_id = client.pid;
	msg.u.hello.version = PROTO_EXT_VERSION;
	proto_set_string(msg.u.hello.session, sizeof(msg.u.hello.session), getenv(PROTO_SESSION_ENV));
	int rc = send_frames(&msg, 1);
	return rc ? rc : await_answer(PROTO_HELLO_ACK, &answer);
}

/*
 * Connects when allowed by the backoff (or `force`), says HELLO and re-sends
 * the live table. Returns 0 when connected.
 */
static void start_watcher(void);

static int ensure_connected(int force)
{
	start_watcher();
	if (client.fd >= 0)
		return 0;
	uint64_t now = proto_monotonic_ns();
	if (!force && now < client.next_connect_ns)
		return TTALLOC_ENOSERVER;
	char err[UNIX_SOCKET_ERR_LEN];
	client.fd = unix_socket_connect(client.socket_path, err);
	if (client.fd < 0) {
		client.next_connect_ns = now + client.backoff_ns;
		client.backoff_ns = client.backoff_ns * 2 > BACKOFF_MAX_NS ? BACKOFF_MAX_NS : client.backoff_ns * 2;
		return TTALLOC_ENOSERVER;
	}
	set_timeout(client.fd, SO_SNDTIMEO, SEND_TIMEOUT_MS);
	set_timeout(client.fd, SO_RCVTIMEO, ANSWER_TIMEOUT_MS);
	client.backoff_ns = BACKOFF_MIN_NS;
	int rc = hello();
	return rc ? rc : resync();
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
		disconnect();
}

static void *watcher_main(void *arg)
{
	(void)arg;
	pthread_mutex_lock(&client.lock);
	while (!client.watcher_stop) {
		check_connection();
		if (client.fd < 0)
			ensure_connected(0);
		struct timespec deadline;
		clock_gettime(CLOCK_MONOTONIC, &deadline);
		deadline.tv_nsec += WATCH_INTERVAL_MS * 1000000L;
		deadline.tv_sec += deadline.tv_nsec / 1000000000L;
		deadline.tv_nsec %= 1000000000L;
		pthread_cond_timedwait(&client.watcher_wake, &client.lock, &deadline);
	}
	pthread_mutex_unlock(&client.lock);
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

/* Stops and joins the watcher. Called with the lock held; drops it meanwhile. */
static void stop_watcher(void)
{
	if (!client.watcher_running)
		return;
	client.watcher_stop = 1;
	pthread_cond_signal(&client.watcher_wake);
	pthread_mutex_unlock(&client.lock);
	pthread_join(client.watcher, NULL);
	pthread_mutex_lock(&client.lock);
	client.watcher_running = 0;
}

/* ---- initialisation and fork ---- */

static void atfork_prepare(void)
{
	pthread_mutex_lock(&client.lock);
}

static void atfork_parent(void)
{
	pthread_mutex_unlock(&client.lock);
}

/* The child is a new process: its own identity, connection and buffers. */
static void atfork_child(void)
{
	pthread_mutex_init(&client.lock, NULL);
	client.pid = getpid();
	if (client.fd >= 0)
		close(client.fd); /* the child's copy; the parent keeps its own */
	client.fd = -1;
	client.next_connect_ns = 0;
	client.watcher_running = 0; /* threads do not survive fork */
	if (client.state == STATE_ENABLED)
		live_table_clear(&client.table);
}

/* Called with the lock held. */
static void initialise_locked(void)
{
	if (client.state != STATE_UNINITIALISED)
		return;
	const char *enabled = getenv(PROTO_TRACKING_ENV);
	if (!enabled || strcmp(enabled, "1") != 0 || live_table_init(&client.table) < 0) {
		__atomic_store_n(&client.state, STATE_DISABLED, __ATOMIC_RELEASE);
		return;
	}
	const char *stacks = getenv("TT_ALLOC_STACK_TRACE");
	client.stack_traces = stacks && strcmp(stacks, "1") == 0 && stack_table_init(&client.stacks) == 0;
	const char *path = unix_socket_default_path();
	strncpy(client.socket_path, path, sizeof(client.socket_path) - 1);
	client.pid = getpid();
	client.backoff_ns = BACKOFF_MIN_NS;
	client.next_connect_ns = 0;
	if (!client.atfork_registered && pthread_atfork(atfork_prepare, atfork_parent, atfork_child) == 0)
		client.atfork_registered = 1;
	__atomic_store_n(&client.state, STATE_ENABLED, __ATOMIC_RELEASE);
}

/* 1 when reporting is on; initialises on first use. */
static int tracking_on(void)
{
	int state = __atomic_load_n(&client.state, __ATOMIC_ACQUIRE);
	if (__builtin_expect(state == STATE_UNINITIALISED, 0)) {
		pthread_mutex_lock(&client.lock);
		initialise_locked();
		pthread_mutex_unlock(&client.lock);
		state = __atomic_load_n(&client.state, __ATOMIC_ACQUIRE);
	}
	return state == STATE_ENABLED;
}

/* ---- public API ---- */

int ttalloc_init(void)
{
	if (!tracking_on())
		return 0;
	pthread_mutex_lock(&client.lock);
	int rc = ensure_connected(1);
	pthread_mutex_unlock(&client.lock);
	return rc;
}

int ttalloc_enabled(void)
{
	return tracking_on();
}

/*
 * Sends one event. Without a connection, connects first: the resync then
 * re-sends the live table, which already reflects an ALLOC or the FREE of a
 * known buffer (`in_table`); any other event is sent after it.
 */
static int deliver(const struct event *ev, int in_table)
{
	if (client.fd < 0) {
		int rc = ensure_connected(0);
		if (rc < 0 || in_table)
			return rc;
	}
	int rc = define_stack(ev->stack_id);
	if (rc < 0)
		return rc;
	struct proto_msg msg;
	fill_event(&msg, ev);
	return send_frames(&msg, 1);
}

/*
 * Captures the application's stack; returns its id (0: none). Always
 * inlined into ttalloc_report_alloc so the frames to skip are exactly
 * stack_capture's and ttalloc_report_alloc's.
 */
static inline __attribute__((always_inline)) uint64_t capture_stack_unlocked(uint64_t *ips, int *depth)
{
	*depth = stack_capture(ips, PROTO_STACK_MAX_DEPTH, 0);
	return *depth > 0 ? stack_id_of(ips, *depth) : 0;
}

int ttalloc_report_alloc(int device_id, enum ttalloc_buffer_type type, uint64_t address, uint64_t size)
{
	if (!tracking_on())
		return 0;
	if (device_id < 0 || device_id >= PROTO_MAX_DEVICES || !proto_buffer_type_valid((unsigned)type) ||
	    size == 0)
		return TTALLOC_EINVAL;
	struct event ev = {PROTO_ALLOC, device_id, (unsigned)type, address, size, proto_now_ns(), 0};
	uint64_t ips[PROTO_STACK_MAX_DEPTH];
	int depth = 0;
	if (client.stack_traces) /* unwinding is the slow part: outside the lock */
		ev.stack_id = capture_stack_unlocked(ips, &depth);
	pthread_mutex_lock(&client.lock);
	if (ev.stack_id && !stack_table_intern(&client.stacks, ev.stack_id, ips, depth))
		ev.stack_id = 0;
	int table_rc = live_table_add(&client.table, device_id, (unsigned)type, address, size, ev.when_ns,
				      ev.stack_id);
	int rc = table_rc == TTALLOC_ENOMEM ? table_rc : deliver(&ev, 1);
	pthread_mutex_unlock(&client.lock);
	return rc ? rc : table_rc;
}

int ttalloc_report_free(int device_id, uint64_t address)
{
	if (!tracking_on())
		return 0;
	if (device_id < 0 || device_id >= PROTO_MAX_DEVICES)
		return TTALLOC_EINVAL;
	pthread_mutex_lock(&client.lock);
	int table_rc = live_table_remove(&client.table, device_id, address);
	/* Tell the server even about an unknown buffer: its counters show it. */
	struct event ev = {PROTO_FREE, device_id, 0, address, 0, proto_now_ns(), 0};
	int rc = deliver(&ev, table_rc == 0);
	pthread_mutex_unlock(&client.lock);
	return rc ? rc : table_rc;
}

int ttalloc_flush(void)
{
	if (!tracking_on())
		return 0;
	pthread_mutex_lock(&client.lock);
	int rc = ensure_connected(1);
	if (rc == 0) {
		struct proto_msg msg, answer;
		proto_msg_init(&msg, PROTO_SYNC, -1);
		msg.size = ++client.sync_sequence;
		rc = send_frames(&msg, 1);
		while (rc == 0 && (rc = await_answer(PROTO_SYNC_ACK, &answer)) == 0 &&
		       answer.size != client.sync_sequence)
			;
	}
	pthread_mutex_unlock(&client.lock);
	return rc;
}

uint64_t ttalloc_live_buffers(void)
{
	if (!tracking_on())
		return 0;
	pthread_mutex_lock(&client.lock);
	uint64_t n = client.table.count;
	pthread_mutex_unlock(&client.lock);
	return n;
}

void ttalloc_shutdown(void)
{
	if (__atomic_load_n(&client.state, __ATOMIC_ACQUIRE) != STATE_ENABLED) {
		__atomic_store_n(&client.state, STATE_UNINITIALISED, __ATOMIC_RELEASE);
		return;
	}
	ttalloc_flush();
	pthread_mutex_lock(&client.lock);
	stop_watcher();
	if (client.fd >= 0)
		close(client.fd);
	client.fd = -1;
	live_table_release(&client.table);
	if (client.stack_traces)
		stack_table_release(&client.stacks);
	client.stack_traces = 0;
	__atomic_store_n(&client.state, STATE_UNINITIALISED, __ATOMIC_RELEASE);
	pthread_mutex_unlock(&client.lock);
}
