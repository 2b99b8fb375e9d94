/*
 * event_stream.h - GET /api/events: Server-Sent Events, one event per batch
 * of changes to the picture (state.change_seq), coalesced to at most one
 * every HTTP_SSE_MIN_INTERVAL_MS.
 *
 * A stream with nothing new is a suspended libmicrohttpd connection (no
 * polling, no buffer), resumed when the picture changes and every
 * HTTP_SSE_KEEPALIVE_S for a comment line that finds readers that went
 * away. A slow reader therefore never queues more than one event in the
 * server: its socket's send buffer is HTTP_SSE_SNDBUF, and while more than
 * HTTP_SSE_MAX_QUEUED bytes of it wait for the reader, new events are
 * skipped (counted; it gets the newest picture when it has read); a reader
 * that stops altogether is closed by the idle timeout. At most
 * HTTP_MAX_SSE_CLIENTS streams, HTTP_MAX_STREAMS_PER_CLIENT per address
 * (more get 503, counted).
 */
#ifndef TTALLOC_HTTP_EVENT_STREAM_H
#define TTALLOC_HTTP_EVENT_STREAM_H

#include <microhttpd.h>
#include <stdint.h>

#include "server/event_loop.h"

struct server;
struct event_client;
struct http_limits;

struct event_streams {
	struct server *server;            /* whose picture the events describe */
	struct event_timer publish_timer; /* a coalesced event is due */
	struct event_timer ping_timer;    /* keep-alive comments */
	void (*kick)(void *ctx);          /* asks the daemon for a turn (resumed streams need one) */
	void *kick_ctx;
	uint64_t published_seq; /* change number streams catch up to */
	uint64_t last_publish_ns;
	int publish_pending;
	int stopping; /* streams end instead of waiting */
	struct event_client *streams;
	unsigned count;
	struct http_limits *limits; /* streams per client, refusals, skipped events (limits.h); set by http.c */
};

/*
 * Prepares the streams of `s` with their timers on `loop`; `kick` asks the
 * HTTP daemon to run soon. Returns 0 or -1 (errno).
 */
int event_streams_init(struct event_streams *es, struct server *s, struct event_loop *loop, void (*kick)(void *ctx),
		       void *kick_ctx);

/* Answers GET /api/events on `conn`. */
enum MHD_Result event_streams_serve(struct event_streams *es, struct MHD_Connection *conn);

/* Before the loop sleeps: sends the new picture when it changed (or arms the coalescing timer). */
void event_streams_before_sleep(struct event_streams *es);

/*
 * Ends every stream: each is resumed and ends at its next read (the daemon
 * must not be stopped with suspended connections). Call before stopping it.
 */
void event_streams_stop(struct event_streams *es);

/* Releases the timers. */
void event_streams_release(struct event_streams *es, struct event_loop *loop);

#endif /* TTALLOC_HTTP_EVENT_STREAM_H */
