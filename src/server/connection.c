/*
 * connection.c - accepting clients, reading whole frames, queueing answers
 * and closing connections (see server.h).
 *
 * Reads are non-blocking: a peer that sends half a frame and stalls only
 * keeps its own partial buffer. Answers go out at once when the socket has
 * room, else they queue (bounded by max_output_bytes) until EPOLLOUT.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/socket.h>
#include <unistd.h>

#include "log.h"
#include "server.h"
#include "unix_socket.h"

#define READ_CHUNK (64 * 1024)

static void connection_io(struct event_loop *loop, struct event_handle *handle, uint32_t events);

static void refuse(struct server *s, int fd, const char *why)
{
	s->stats.connections_refused++;
	s->stats.errors[PROTO_ERR_LIMIT]++;
	log_error("❌ Connection refused: %s", why);
	close(fd);
}

struct connection *connection_open(struct server *s, int fd)
{
	pid_t pid;
	uid_t uid;
	if (unix_socket_peer(fd, &pid, &uid) < 0) {
		refuse(s, fd, "cannot read peer credentials");
		return NULL;
	}
	if (s->connection_count >= s->opts.max_connections) {
		char why[128];
		snprintf(why, sizeof(why), "PID %d: %u connections open, the limit (--max-connections)",
			 (int)pid, s->connection_count);
		refuse(s, fd, why);
		return NULL;
	}
	struct connection *c = calloc(1, sizeof(*c));
	uint32_t proc = c ? registry_attach(&s->registry, pid, uid) : REGISTRY_NONE;
	if (proc == REGISTRY_NONE) {
		free(c);
		refuse(s, fd, "out of memory");
		return NULL;
	}
	c->server = s;
	c->pid = pid;
	c->uid = uid;
	c->proc = proc;
	c->handle = (struct event_handle){.fd = fd, .fn = connection_io, .data = c};
	if (event_loop_add(s->loop, &c->handle, EPOLLIN) < 0) {
		registry_detach(&s->registry, proc);
		free(c);
		refuse(s, fd, strerror(errno));
		return NULL;
	}
	c->next = s->connections;
	if (s->connections)
		s->connections->prev = c;
	s->connections = c;
	s->connection_count++;
	s->stats.connections_accepted++;
	log_info("📥 New connection from client (PID %d, %s)", (int)pid,
		 registry_process(&s->registry, proc)->comm);
	return c;
}

void connection_accept(struct event_loop *loop, struct event_handle *handle, uint32_t events)
{
	(void)loop;
	(void)events;
	struct server *s = handle->data;
	for (;;) {
		int fd = accept4(handle->fd, NULL, NULL, SOCK_NONBLOCK | SOCK_CLOEXEC);
		if (fd < 0) {
			if (errno == EINTR || errno == ECONNABORTED)
				continue;
			if (errno != EAGAIN && errno != EWOULDBLOCK)
				log_error("❌ accept failed: %s", strerror(errno));
			return;
		}
		connection_open(s, fd);
	}
}

void connection_error(struct connection *c, enum proto_error_reason reason, const char *fmt, ...)
{
	struct server *s = c->server;
	s->stats.errors[reason]++;
	if (c->errors_logged > s->opts.errors_logged_per_connection)
		return;
	if (c->errors_logged++ == s->opts.errors_logged_per_connection) {
		log_error("❌ PID %d: further errors from this connection are counted, not logged",
			  (int)c->pid);
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
	event_loop_modify(c->server->loop, &c->handle, want);
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
	if (c->out_len + len > c->out_cap) {
		size_t cap = c->out_cap ? c->out_cap : 4096;
		while (cap < c->out_len + len)
			cap *= 2;
		char *grown = realloc(c->out, cap);
		if (!grown)
			return -1;
		c->out = grown;
		c->out_cap = cap;
	}
	memcpy(c->out + c->out_len, data, len);
	c->out_len += len;
	return 0;
}

void connection_send(struct connection *c, const struct proto_msg *msg)
{
	if (c->closed)
		return;
	if (c->out_len - c->out_sent + sizeof(*msg) > c->server->opts.max_output_bytes) {
		connection_error(c, PROTO_ERR_OUTPUT_OVERFLOW,
				 "%zu bytes of answers unread; closing the connection",
				 c->out_len - c->out_sent);
		connection_close(c);
		return;
	}
	if (queue_output(c, msg, sizeof(*msg)) < 0 || flush_output(c) < 0)
		connection_close(c);
}

void connection_feed(struct connection *c, const uint8_t *data, size_t len)
{
	struct proto_msg msg;
	if (c->partial_len) {
		size_t take = PROTO_MSG_SIZE - c->partial_len;
		if (take > len)
			take = len;
		memcpy(c->partial + c->partial_len, data, take);
		c->partial_len += (uint32_t)take;
		data += take;
		len -= take;
		if (c->partial_len < PROTO_MSG_SIZE)
			return;
		memcpy(&msg, c->partial, sizeof(msg));
		c->partial_len = 0;
		handle_frame(c, &msg);
	}
	while (len >= PROTO_MSG_SIZE && !c->closed) {
		memcpy(&msg, data, sizeof(msg));
		handle_frame(c, &msg);
		data += PROTO_MSG_SIZE;
		len -= PROTO_MSG_SIZE;
	}
	if (len && !c->closed) {
		memcpy(c->partial, data, len);
		c->partial_len = (uint32_t)len;
	}
}

static void read_input(struct connection *c)
{
	static uint8_t chunk[READ_CHUNK];
	ssize_t n = read(c->handle.fd, chunk, sizeof(chunk));
	if (n < 0) {
		if (errno != EAGAIN && errno != EWOULDBLOCK && errno != EINTR)
			connection_close(c);
		return;
	}
	if (n == 0) {
		if (c->partial_len)
			connection_error(c, PROTO_ERR_TRUNCATED, "%u of %d bytes of a message, then end of stream",
					 c->partial_len, PROTO_MSG_SIZE);
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
	handle_print_totals(c->server);
}

void connection_close(struct connection *c)
{
	if (c->closed)
		return;
	struct server *s = c->server;
	c->closed = 1;
	event_loop_remove(s->loop, &c->handle);
	close(c->handle.fd);
	if (c->prev)
		c->prev->next = c->next;
	else
		s->connections = c->next;
	if (c->next)
		c->next->prev = c->prev;
	c->prev = NULL;
	c->next = s->closed;
	s->closed = c;
	s->connection_count--;
	if (registry_detach(&s->registry, c->proc)) {
		if (s->stopping)
			registry_drop_process(&s->registry, c->proc);
		else
			handle_process_exit(s, c->proc);
	}
}

void connection_free_closed(struct server *s)
{
	while (s->closed) {
		struct connection *c = s->closed;
		s->closed = c->next;
		free(c->out);
		free(c);
	}
}
