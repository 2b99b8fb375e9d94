/*
 * connection.c - accepting clients, reading whole frames, queueing answers
 * and closing connections (see connection.h).
 *
 * Reads are non-blocking: a peer that sends half a frame and stalls only
 * keeps its own partial buffer. Answers go out at once when the socket has
 * room, else they queue (bounded by max_output_bytes) until EPOLLOUT.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/socket.h>
#include <unistd.h>

#include "common/array.h"
#include "common/errors.h"
#include "common/log.h"
#include "common/unix_socket.h"
#include "server/ingest/connection.h"

#define READ_CHUNK (64 * 1024)
/* Refused connections logged one by one per second; the rest are summed up. */
#define REFUSALS_LOGGED_PER_SECOND 20

static void connection_io(struct event_loop *loop, struct event_handle *handle, uint32_t events);

/* Prints the summary of refusals not logged one by one once their second is over. */
static void log_refusals(struct connection_set *set)
{
	uint64_t n = log_budget_expire(&set->refusals);
	if (n)
		log_error("❌ %" PRIu64 " more connection%s refused in the last second (only %d a second are "
			  "logged one by one; ttalloc_connections_refused_total counts all)",
			  n, n == 1 ? "" : "s", REFUSALS_LOGGED_PER_SECOND);
}

/* Counts a refused connection, logs why (within the budget) and closes it. */
static void refuse(struct connection_set *set, int fd, const char *why)
{
	set->refused++;
	set->error_counts[PROTO_ERR_LIMIT]++;
	log_refusals(set);
	if (log_budget_take(&set->refusals, REFUSALS_LOGGED_PER_SECOND))
		log_error("❌ Connection refused: %s", why);
	close(fd);
}

void connection_set_init(struct connection_set *set, struct event_loop *loop, const struct connection_callbacks *cb,
			 void *owner, const struct connection_limits *limits, uint64_t *error_counts)
{
	memset(set, 0, sizeof(*set));
	set->loop = loop;
	set->cb = cb;
	set->owner = owner;
	set->limits = *limits;
	set->error_counts = error_counts;
	set->listener.fd = -1;
	set->reserve_fd = -1;
}

struct connection *connection_open(struct connection_set *set, int fd)
{
	pid_t pid;
	uid_t uid;
	char why[ERR_LEN];
	if (unix_socket_peer(fd, &pid, &uid) < 0) {
		refuse(set, fd, "cannot read peer credentials");
		return NULL;
	}
	if (set->count >= set->limits.max_connections) {
		snprintf(why, sizeof(why), "PID %d: %u connections open, the limit (--max-connections)", (int)pid,
			 set->count);
		refuse(set, fd, why);
		return NULL;
	}
	snprintf(why, sizeof(why), "out of memory");
	struct connection *c = set->cb->create(set, pid, uid, why);
	if (!c) {
		refuse(set, fd, why);
		return NULL;
	}
	c->set = set;
	c->pid = pid;
	c->uid = uid;
	c->handle = (struct event_handle){.fd = fd, .fn = connection_io, .data = c};
	if (event_loop_add(set->loop, &c->handle, EPOLLIN) < 0) {
		snprintf(why, sizeof(why), "%s", strerror(errno));
		set->cb->destroy(c);
		refuse(set, fd, why);
		return NULL;
	}
	c->next = set->open;
	if (set->open)
		set->open->prev = c;
	set->open = c;
	set->count++;
	set->accepted++;
	return c;
}

/* Opens the spare descriptor (/dev/null). Returns it, or -1. */
static int reserve_fd(struct connection_set *set)
{
	if (set->reserve_fd <= 0)
		set->reserve_fd = open("/dev/null", O_RDONLY | O_CLOEXEC);
	return set->reserve_fd;
}

/*
 * Out of descriptors (EMFILE/ENFILE) with a client waiting: the listener
 * stays readable, and a level-triggered loop would spin on it. Give up the
 * spare descriptor, accept the client, refuse it (it sees end of stream at
 * once) and take the spare again. Without a spare (someone else took it),
 * stop watching the listener until a connection closes.
 * Returns 0 to keep accepting, -1 to stop.
 */
static int refuse_without_fds(struct connection_set *set, int accept_errno)
{
	char why[160];
	snprintf(why, sizeof(why),
		 "out of file descriptors (%s) with %u clients connected; raise the server's limit "
		 "(ulimit -n, LimitNOFILE=)",
		 accept_errno == EMFILE ? "EMFILE" : "ENFILE", set->count);
	if (set->reserve_fd > 0) {
		close(set->reserve_fd);
		set->reserve_fd = -1;
		int fd = accept4(set->listener.fd, NULL, NULL, SOCK_CLOEXEC);
		if (fd >= 0)
			refuse(set, fd, why);
		if (reserve_fd(set) > 0)
			return fd >= 0 ? 0 : -1;
	}
	/* no spare: pause accepting until connection_close frees a descriptor */
	if (!set->accept_paused && event_loop_modify(set->loop, &set->listener, 0) == 0) {
		set->accept_paused = 1;
		log_error("❌ Not accepting connections: %s", why);
	}
	return -1;
}

/* The listener is readable: accepts every client waiting. */
static void accept_clients(struct event_loop *loop, struct event_handle *handle, uint32_t events)
{
	(void)loop;
	(void)events;
	struct connection_set *set = handle->data;
	for (;;) {
		int fd = accept4(handle->fd, NULL, NULL, SOCK_NONBLOCK | SOCK_CLOEXEC);
		if (fd < 0) {
			if (errno == EINTR || errno == ECONNABORTED)
				continue;
			if (errno == EMFILE || errno == ENFILE) {
				if (refuse_without_fds(set, errno) == 0)
					continue;
				return;
			}
			if (errno != EAGAIN && errno != EWOULDBLOCK)
				log_error("❌ accept failed: %s", strerror(errno));
			return;
		}
		connection_open(set, fd);
	}
}

int connection_set_listen(struct connection_set *set, int fd, char *err)
{
	set->listener = (struct event_handle){.fd = fd, .fn = accept_clients, .data = set};
	if (reserve_fd(set) < 0)
		return error_set(err, TTALLOC_EIO, "cannot open /dev/null: %s", strerror(errno));
	if (event_loop_add(set->loop, &set->listener, EPOLLIN) < 0)
		return error_set(err, TTALLOC_EIO, "cannot watch the socket: %s", strerror(errno));
	return 0;
}

/* A descriptor was freed: take the spare back and accept again if paused. */
static void resume_accepting(struct connection_set *set)
{
	if (!set->accept_paused || reserve_fd(set) <= 0)
		return;
	if (event_loop_modify(set->loop, &set->listener, EPOLLIN) == 0) {
		set->accept_paused = 0;
		log_warn("📡 Accepting connections again (%u clients connected)", set->count);
	}
}

void connection_error(struct connection *c, enum proto_error_reason reason, const char *fmt, ...)
{
	struct connection_set *set = c->set;
	uint32_t logged_max = set->limits.errors_logged_per_connection;
	set->error_counts[reason]++;
	if (c->errors_logged > logged_max)
		return;
	if (c->errors_logged++ == logged_max) {
		log_error("❌ PID %d: further errors from this connection are counted, not logged", (int)c->pid);
		return;
	}
	char detail[256];
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(detail, sizeof(detail), fmt, ap);
	va_end(ap);
	log_error("❌ PID %d: %s: %s", (int)c->pid, proto_error_description(reason), detail);
}

/* Writes queued answers; returns -1 when the peer is gone. */
static int flush_output(struct connection *c)
{
	while (c->out_sent < c->out_len) {
		ssize_t n = send(c->handle.fd, c->out + c->out_sent, c->out_len - c->out_sent,
				 MSG_NOSIGNAL | MSG_DONTWAIT);
		if (n < 0) {
			if (errno == EINTR)
				continue;
			if (errno == EAGAIN || errno == EWOULDBLOCK)
				break;
			return -1;
		}
		c->out_sent += (size_t)n;
	}
	if (c->out_sent == c->out_len)
		c->out_sent = c->out_len = 0;
	uint32_t want = EPOLLIN | (c->out_len ? EPOLLOUT : 0);
	event_loop_modify(c->set->loop, &c->handle, want);
	return 0;
}

static int queue_output(struct connection *c, const void *data, size_t len)
{
	if (c->out_sent > 0 && c->out_len + len > c->out_cap) {
		/* Reclaim what was already written before growing, so the queue
		 * is bounded by the unsent bytes (max_output_bytes), even for a
		 * peer that reads steadily but never lets it drain to zero. */
		memmove(c->out, c->out + c->out_sent, c->out_len - c->out_sent);
		c->out_len -= c->out_sent;
		c->out_sent = 0;
	}
	if (ARRAY_RESERVE(c->out, c->out_cap, c->out_len + len) < 0)
		return -1;
	memcpy(c->out + c->out_len, data, len);
	c->out_len += len;
	return 0;
}

void connection_send_extra(struct connection *c, const struct proto_msg *msg, const struct proto_answer_extra *extra)
{
	if (c->closed || c->closing)
		return;
	const struct proto_wire_format *wire = c->wire ? c->wire : proto_wire_format(PROTO_WIRE_SEED);
	if (c->out_len - c->out_sent + wire->frame_size > c->set->limits.max_output_bytes) {
		connection_error(c, PROTO_ERR_OUTPUT_OVERFLOW, "%zu bytes of answers unread; closing the connection",
				 c->out_len - c->out_sent);
		connection_close(c);
		return;
	}
	uint8_t frame[PROTO_MAX_FRAME_SIZE];
	wire->encode(msg, extra, frame);
	if (queue_output(c, frame, wire->frame_size) < 0 || flush_output(c) < 0)
		connection_close(c);
}

void connection_send(struct connection *c, const struct proto_msg *msg)
{
	connection_send_extra(c, msg, NULL);
}

/* Frame size of the connection (the seed's until its first frame tells). */
static size_t frame_size(const struct connection *c)
{
	return c->wire ? c->wire->frame_size : PROTO_MSG_SIZE;
}

static void choose_wire(struct connection *c, enum proto_wire wire, int tentative)
{
	c->wire = proto_wire_format(wire);
	c->wire_tentative = tentative;
	if (wire != PROTO_WIRE_SEED)
		log_info("🔌 PID %d speaks tt-metal's %s frames", (int)c->pid, c->wire->name);
}

/*
 * Before the first frame: gathers up to 144 bytes and asks proto_wire_detect
 * which frame size the client speaks. Exactly 112 bytes and nothing more
 * (`len` 0 after them) is a whole seed frame whose sender may be waiting for
 * an answer: take 112, tentatively. Returns the bytes consumed.
 */
static size_t detect_wire(struct connection *c, const uint8_t *data, size_t len)
{
	size_t take = PROTO_MAX_FRAME_SIZE - c->partial_len;
	if (take > len)
		take = len;
	memcpy(c->partial + c->partial_len, data, take);
	c->partial_len += (uint32_t)take;
	int wire = proto_wire_detect(c->partial, c->partial_len);
	if (wire >= 0)
		choose_wire(c, (enum proto_wire)wire, 0);
	else if (c->partial_len == PROTO_MSG_SIZE && take == len)
		choose_wire(c, PROTO_WIRE_SEED, proto_upstream_request_type(c->partial[0]));
	return take;
}

/*
 * After a tentative 112: zero bytes right after the first frame are the
 * rest of a 144-byte frame (a 112-byte frame never starts with type 0), so
 * 32 of them switch the connection to 144 and are dropped; any other byte
 * confirms 112. The zeros seen so far wait in `partial`. Returns the bytes
 * consumed.
 */
static size_t confirm_wire(struct connection *c, const uint8_t *data, size_t len)
{
	const size_t tail = PROTO_UPSTREAM_MSG_SIZE - PROTO_MSG_SIZE;
	size_t z = 0;
	while (z < len && c->partial_len + z < tail && data[z] == 0)
		z++;
	memcpy(c->partial + c->partial_len, data, z);
	c->partial_len += (uint32_t)z;
	if (c->partial_len == tail) {
		c->partial_len = 0;
		choose_wire(c, PROTO_WIRE_UPSTREAM144, 0);
	} else if (z < len) {
		c->wire_tentative = 0; /* a non-zero byte: 112-byte frames after all */
	}
	return z;
}

/*
 * Hands the frame at `bytes` (one frame of the connection's size) to the
 * owner. A close asked for meanwhile only marks the connection (closing).
 */
static void apply_frame(struct connection *c, const uint8_t *bytes)
{
	struct proto_msg msg;
	c->wire->decode(bytes, &msg);
	c->handling = 1;
	c->set->cb->on_frame(c, &msg);
	c->handling = 0;
}

/* 1 when no further frame of the connection is to be handled. */
static int stopped(const struct connection *c)
{
	return c->closed || c->closing;
}

/* connection_feed without performing a close asked for meanwhile. */
static void feed(struct connection *c, const uint8_t *data, size_t len)
{
	if (!c->wire) {
		size_t used = detect_wire(c, data, len);
		data += used;
		len -= used;
		if (!c->wire)
			return;
		/* the bytes gathered so far are the start of the stream: frame them again */
		uint8_t head[PROTO_MAX_FRAME_SIZE];
		size_t head_len = c->partial_len;
		memcpy(head, c->partial, head_len);
		c->partial_len = 0;
		int tentative = c->wire_tentative;
		c->wire_tentative = 0;
		feed(c, head, head_len);
		c->wire_tentative = tentative;
	}
	while (len && !stopped(c)) {
		if (c->wire_tentative) {
			size_t used = confirm_wire(c, data, len);
			data += used;
			len -= used;
			if (c->wire_tentative)
				return; /* all zeros so far: wait for more */
			continue;
		}
		size_t size = frame_size(c);
		if (c->partial_len) {
			size_t take = size - c->partial_len;
			if (take > len)
				take = len;
			memcpy(c->partial + c->partial_len, data, take);
			c->partial_len += (uint32_t)take;
			data += take;
			len -= take;
			if (c->partial_len < size)
				return;
			c->partial_len = 0;
			apply_frame(c, c->partial);
			continue;
		}
		while (len >= size && !stopped(c) && !c->wire_tentative) {
			apply_frame(c, data);
			data += size;
			len -= size;
		}
		if (len && !stopped(c) && !c->wire_tentative) {
			memcpy(c->partial, data, len);
			c->partial_len = (uint32_t)len;
			len = 0;
		}
	}
}

static void close_now(struct connection *c);

void connection_feed(struct connection *c, const uint8_t *data, size_t len)
{
	feed(c, data, len);
	if (c->closing && !c->closed)
		close_now(c);
}

void connection_close_fds(struct connection *c)
{
	for (int i = 0; i < c->nfds; i++)
		close(c->fds[i]);
	c->nfds = 0;
}

/*
 * Keeps descriptors a client passed (SCM_RIGHTS) for the frame they came
 * with (RING_ATTACH); any left from before were never claimed and go.
 */
static void keep_fds(struct connection *c, struct msghdr *mh)
{
	for (struct cmsghdr *cm = CMSG_FIRSTHDR(mh); cm; cm = CMSG_NXTHDR(mh, cm)) {
		if (cm->cmsg_level != SOL_SOCKET || cm->cmsg_type != SCM_RIGHTS)
			continue;
		connection_close_fds(c);
		size_t n = (cm->cmsg_len - CMSG_LEN(0)) / sizeof(int);
		for (size_t i = 0; i < n; i++) {
			int fd;
			memcpy(&fd, CMSG_DATA(cm) + i * sizeof(int), sizeof(int));
			if (c->nfds < UNIX_SOCKET_MAX_FDS)
				c->fds[c->nfds++] = fd;
			else
				close(fd);
		}
	}
}

/* read(), plus the descriptors a client may pass along its bytes. */
static ssize_t receive(struct connection *c, uint8_t *buf, size_t len)
{
	union {
		char buf[CMSG_SPACE(UNIX_SOCKET_MAX_FDS * sizeof(int))];
		struct cmsghdr align;
	} control;
	struct iovec iov = {.iov_base = buf, .iov_len = len};
	struct msghdr mh = {.msg_iov = &iov,
			    .msg_iovlen = 1,
			    .msg_control = control.buf,
			    .msg_controllen = sizeof(control.buf)};
	ssize_t n = recvmsg(c->handle.fd, &mh, MSG_CMSG_CLOEXEC | MSG_DONTWAIT);
	if (n >= 0 && mh.msg_controllen)
		keep_fds(c, &mh);
	return n;
}

static void read_input(struct connection *c)
{
	static uint8_t chunk[READ_CHUNK];
	ssize_t n = receive(c, chunk, sizeof(chunk));
	if (n < 0) {
		if (errno != EAGAIN && errno != EWOULDBLOCK && errno != EINTR)
			connection_close(c);
		return;
	}
	if (n == 0) {
		if (!c->wire && c->partial_len >= PROTO_MSG_SIZE) {
			/* a whole seed frame and a few zero bytes: no 144-byte frame is coming */
			uint8_t head[PROTO_MAX_FRAME_SIZE];
			size_t head_len = c->partial_len;
			memcpy(head, c->partial, head_len);
			c->partial_len = 0;
			choose_wire(c, PROTO_WIRE_SEED, 0);
			connection_feed(c, head, head_len);
		}
		if (c->partial_len && !c->wire_tentative && !c->closed)
			connection_error(c, PROTO_ERR_TRUNCATED, "%u of %zu bytes of a message, then end of stream",
					 c->partial_len, frame_size(c));
		connection_close(c);
		return;
	}
	connection_feed(c, chunk, (size_t)n);
}

static void connection_io(struct event_loop *loop, struct event_handle *handle, uint32_t events)
{
	(void)loop;
	struct connection *c = handle->data;
	if (events & EPOLLOUT) {
		if (flush_output(c) < 0) {
			connection_close(c);
			return;
		}
	}
	if (events & (EPOLLIN | EPOLLHUP | EPOLLERR))
		read_input(c);
	c->set->cb->after_input(c);
}

/* Closes at once: out of the loop and the open list, the owner told. */
static void close_now(struct connection *c)
{
	struct connection_set *set = c->set;
	c->closed = 1;
	set->cb->on_close(c); /* its last events count, before any leak report */
	connection_close_fds(c);
	event_loop_remove(set->loop, &c->handle);
	close(c->handle.fd);
	if (c->prev)
		c->prev->next = c->next;
	else
		set->open = c->next;
	if (c->next)
		c->next->prev = c->prev;
	c->prev = NULL;
	c->next = set->closed;
	set->closed = c;
	set->count--;
	resume_accepting(set);
}

void connection_close(struct connection *c)
{
	if (c->closed)
		return;
	if (c->handling) {
		c->closing = 1; /* connection_feed closes it once the frame is handled */
		return;
	}
	close_now(c);
}

void connection_set_close_all(struct connection_set *set)
{
	while (set->open)
		connection_close(set->open);
}

void connection_set_before_sleep(struct connection_set *set)
{
	log_refusals(set);
	while (set->closed) {
		struct connection *c = set->closed;
		set->closed = c->next;
		free(c->out);
		set->cb->destroy(c);
	}
}

void connection_set_release(struct connection_set *set)
{
	connection_set_before_sleep(set);
	if (set->listener.fd >= 0) {
		event_loop_remove(set->loop, &set->listener);
		close(set->listener.fd);
		set->listener.fd = -1;
	}
	if (set->reserve_fd > 0)
		close(set->reserve_fd);
	set->reserve_fd = -1;
}
