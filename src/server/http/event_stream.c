/*
 * event_stream.c - GET /api/events (event_stream.h).
 */
#define _GNU_SOURCE
#include "server/http/event_stream.h"

#include <inttypes.h>
#include <linux/sockios.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/socket.h>

#include "common/clock.h"
#include "model/model.h"
#include "server/http/api.h"
#include "server/http/http.h"
#include "server/http/limits.h"
#include "server/http/response.h"
#include "server/server.h"

struct event_client {
	struct event_streams *es;
	struct MHD_Connection *conn;
	uint64_t sent_seq; /* change number of the last event sent */
	int fresh;         /* nothing sent yet: the first event goes out at once */
	int suspended;
	int ping;      /* a keep-alive comment is due */
	char *pending; /* text being sent */
	size_t pending_len;
	size_t pending_off;
	int fd;                     /* the connection's socket (its unread bytes: SIOCOUTQ) */
	struct http_client_key key; /* the address its stream is counted for */
	struct event_client *prev, *next;
};

static void stream_free(void *cls)
{
	struct event_client *c = cls;
	struct event_streams *es = c->es;
	if (c->prev)
		c->prev->next = c->next;
	else
		es->streams = c->next;
	if (c->next)
		c->next->prev = c->prev;
	es->count--;
	if (es->limits)
		http_limits_stream_end(es->limits, &c->key);
	free(c->pending);
	free(c);
}

/* 1 when the reader has more than HTTP_SSE_MAX_QUEUED bytes it has not read yet. */
static int reader_behind(const struct event_client *c)
{
	int queued = 0;
	return c->fd >= 0 && ioctl(c->fd, SIOCOUTQ, &queued) == 0 && queued > HTTP_SSE_MAX_QUEUED;
}

static int stream_prepare(struct event_client *c)
{
	struct event_streams *es = c->es;
	if (!c->fresh && c->sent_seq != es->published_seq && reader_behind(c)) {
		/* the newest picture goes out once it has read what it has */
		if (es->limits)
			es->limits->stream_events_skipped++;
		return 0;
	}
	if (c->fresh || c->sent_seq != es->published_seq) {
		uint64_t seq = es->published_seq;
		json_t *doc = api_event(es->server, seq);
		char *data = doc ? json_dumps(doc, JSON_COMPACT | MODEL_REAL_PRECISION) : NULL;
		json_decref(doc);
		if (!data)
			return -1;
		char *text = NULL;
		int n = asprintf(&text, "id: %" PRIu64 "\nevent: update\ndata: %s\n\n", seq, data);
		free(data);
		if (n < 0)
			return -1;
		c->pending = text;
		c->pending_len = (size_t)n;
		c->pending_off = 0;
		c->sent_seq = seq;
		c->fresh = 0;
		return 1;
	}
	if (c->ping) {
		c->ping = 0;
		c->pending = strdup(": keep-alive\n\n");
		if (!c->pending)
			return -1;
		c->pending_len = strlen(c->pending);
		c->pending_off = 0;
		return 1;
	}
	return 0;
}

static ssize_t stream_read(void *cls, uint64_t pos, char *buf, size_t max)
{
	(void)pos;
	struct event_client *c = cls;
	if (!c->pending) {
		if (c->es->stopping)
			return MHD_CONTENT_READER_END_OF_STREAM;
		int rc = stream_prepare(c);
		if (rc < 0)
			return MHD_CONTENT_READER_END_WITH_ERROR;
		if (rc == 0) {
			/* Nothing new: park the connection until the registry changes. */
			c->suspended = 1;
			MHD_suspend_connection(c->conn);
			return 0;
		}
	}
	size_t n = c->pending_len - c->pending_off;
	if (n > max)
		n = max;
	memcpy(buf, c->pending + c->pending_off, n);
	c->pending_off += n;
	if (c->pending_off == c->pending_len) {
		free(c->pending);
		c->pending = NULL;
	}
	return (ssize_t)n;
}

static void wake_streams(struct event_streams *es)
{
	int woke = 0;
	for (struct event_client *c = es->streams; c; c = c->next) {
		if (c->suspended) {
			c->suspended = 0;
			MHD_resume_connection(c->conn);
			woke = 1;
		}
	}
	/* resumed connections need an MHD_run soon */
	if (woke)
		es->kick(es->kick_ctx);
}

static void publish(struct event_streams *es)
{
	es->published_seq = es->server->state.change_seq;
	es->last_publish_ns = clock_monotonic_ns();
	wake_streams(es);
}

static void on_publish_timer(struct event_loop *loop, struct event_timer *timer)
{
	(void)loop;
	struct event_streams *es = timer->data;
	es->publish_pending = 0;
	publish(es);
}

static void on_ping_timer(struct event_loop *loop, struct event_timer *timer)
{
	(void)loop;
	struct event_streams *es = timer->data;
	for (struct event_client *c = es->streams; c; c = c->next)
		c->ping = 1;
	wake_streams(es);
}

void event_streams_before_sleep(struct event_streams *es)
{
	if (es->publish_pending || es->server->state.change_seq == es->published_seq)
		return;
	uint64_t now = clock_monotonic_ns();
	uint64_t min_gap = HTTP_SSE_MIN_INTERVAL_MS * CLOCK_NS_PER_MS;
	if (now - es->last_publish_ns >= min_gap) {
		publish(es);
	} else {
		es->publish_pending = 1;
		event_timer_arm(&es->publish_timer, min_gap - (now - es->last_publish_ns), 0);
	}
}

/* The address a connection's stream counts for, and its socket (-1, zero key when unknown). */
static void identify(struct event_client *c, struct MHD_Connection *conn)
{
	const union MHD_ConnectionInfo *ci = MHD_get_connection_info(conn, MHD_CONNECTION_INFO_SOCKET_CONTEXT);
	const struct http_conn *hc = ci ? ci->socket_context : NULL;
	if (hc)
		c->key = hc->key;
	ci = MHD_get_connection_info(conn, MHD_CONNECTION_INFO_CONNECTION_FD);
	c->fd = ci ? ci->connect_fd : -1;
	int size = HTTP_SSE_SNDBUF;
	if (c->fd >= 0)
		setsockopt(c->fd, SOL_SOCKET, SO_SNDBUF, &size, sizeof(size));
}

enum MHD_Result event_streams_serve(struct event_streams *es, struct MHD_Connection *conn)
{
	struct event_client *c = calloc(1, sizeof(*c));
	if (!c)
		return response_error(conn, MHD_HTTP_INTERNAL_SERVER_ERROR, "out of memory");
	identify(c, conn);
	int full = es->count >= HTTP_MAX_SSE_CLIENTS;
	if (full && es->limits)
		http_limits_refuse(es->limits, HTTP_REFUSED_STREAMS);
	if (full || (es->limits && !http_limits_stream_begin(es->limits, &c->key))) {
		free(c);
		return response_error_close(
			conn, MHD_HTTP_SERVICE_UNAVAILABLE,
			"too many event streams open (at most %d, %d per client); poll /api/devices "
			"instead",
			HTTP_MAX_SSE_CLIENTS, HTTP_MAX_STREAMS_PER_CLIENT);
	}
	c->es = es;
	c->conn = conn;
	c->fresh = 1;
	struct MHD_Response *resp = MHD_create_response_from_callback(MHD_SIZE_UNKNOWN, 4096, stream_read, c,
								      stream_free);
	if (!resp) {
		if (es->limits)
			http_limits_stream_end(es->limits, &c->key);
		free(c);
		return MHD_NO;
	}
	c->next = es->streams;
	if (es->streams)
		es->streams->prev = c;
	es->streams = c;
	es->count++;
	MHD_add_response_header(resp, MHD_HTTP_HEADER_CONTENT_TYPE, CT_EVENTS);
	MHD_add_response_header(resp, MHD_HTTP_HEADER_CACHE_CONTROL, "no-store");
	MHD_add_response_header(resp, "X-Accel-Buffering", "no");
	enum MHD_Result rc = MHD_queue_response(conn, MHD_HTTP_OK, resp);
	MHD_destroy_response(resp); /* stream_free runs when the connection is done with it */
	return rc;
}

int event_streams_init(struct event_streams *es, struct server *s, struct event_loop *loop, void (*kick)(void *ctx),
		       void *kick_ctx)
{
	memset(es, 0, sizeof(*es));
	es->server = s;
	es->kick = kick;
	es->kick_ctx = kick_ctx;
	es->publish_timer = (struct event_timer)EVENT_TIMER_INIT;
	es->ping_timer = (struct event_timer)EVENT_TIMER_INIT;
	es->published_seq = s->state.change_seq;
	uint64_t ping_ns = HTTP_SSE_KEEPALIVE_S * 1000ull * CLOCK_NS_PER_MS;
	if (event_timer_init(loop, &es->publish_timer, on_publish_timer, es) < 0 ||
	    event_timer_init(loop, &es->ping_timer, on_ping_timer, es) < 0 ||
	    event_timer_arm(&es->ping_timer, ping_ns, ping_ns) < 0)
		return -1;
	return 0;
}

void event_streams_stop(struct event_streams *es)
{
	es->stopping = 1;
	for (struct event_client *c = es->streams; c; c = c->next) {
		if (c->suspended) {
			c->suspended = 0;
			MHD_resume_connection(c->conn);
		}
	}
}

void event_streams_release(struct event_streams *es, struct event_loop *loop)
{
	event_timer_release(loop, &es->publish_timer);
	event_timer_release(loop, &es->ping_timer);
}
