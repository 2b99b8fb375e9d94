/*
 * limits.h - what one HTTP client may take, so that a few misbehaving
 * clients cannot take the dashboard and /metrics away from everyone:
 * connections at once (all clients, and per client address), event
 * streams at once (all, and per address), and a budget of password checks
 * (bcrypt costs tens of milliseconds of the loop thread each). Every
 * refusal is counted by reason (ttalloc_http_refused_total).
 *
 * The checks run in libmicrohttpd's callbacks on the loop thread: the
 * accept policy (http_limits_admit) refuses a connection before it costs
 * anything but the accept; the connection notifications
 * (http_limits_opened / _closed) keep the counts. A connection's
 * bookkeeping is a struct http_conn, libmicrohttpd's socket context.
 */
#ifndef TTALLOC_HTTP_LIMITS_H
#define TTALLOC_HTTP_LIMITS_H

#include <stdint.h>
#include <sys/socket.h>

#include "common/labels.h"
#include "common/strbuf.h"

/* Why a connection or request was refused: labels of ttalloc_http_refused_total. */
#define HTTP_REFUSAL_MAP(X, P)                                                                            \
	X(P, CONNECTIONS, "connections", "--http-max-connections connections were open")                  \
	X(P, PER_CLIENT, "per_client", "the client's address had --http-max-per-client connections open") \
	X(P, STREAMS, "streams", "too many /api/events streams, in all or from the client's address")     \
	X(P, UNAUTHORIZED, "unauthorized", "no or wrong credentials (--web-config basic_auth_users)")     \
	X(P, AUTH_THROTTLED, "auth_throttled", "more password checks a second than the budget")           \
	X(P, NO_REQUEST, "no_request", "closed before a whole request: idle, too slow, or too large")     \
	X(P, TIMEOUT, "timeout", "closed because it stopped reading or sending mid-request or -response")

LABELS_ENUM(http_refusal, HTTP_REFUSAL_MAP, HTTP_REFUSED_, HTTP_REFUSALS);

/* Event streams at once per client address, and password checks a second (successes are cached). */
#define HTTP_MAX_STREAMS_PER_CLIENT 8
#define HTTP_AUTH_CHECKS_PER_S 20

/* A client address: IPv4 or IPv6 (an IPv4-mapped IPv6 address counts as its IPv4 address). */
struct http_client_key {
	uint8_t addr[16];
	uint8_t len; /* 4 or 16; 0: unknown (never limited per client) */
};

/* One open connection (libmicrohttpd's socket context). */
struct http_conn {
	struct http_client_key key;
	uint32_t requests; /* requests that reached the handler */
};

struct http_client_count {
	struct http_client_key key;
	uint32_t connections;
	uint32_t streams;
};

struct http_limits {
	uint32_t max_connections; /* --http-max-connections */
	uint32_t max_per_client;  /* --http-max-per-client */
	uint32_t max_streams;     /* HTTP_MAX_SSE_CLIENTS */
	uint32_t max_streams_per_client;
	uint32_t open;                     /* connections open now */
	uint32_t streams;                  /* event streams open now */
	struct http_client_count *clients; /* addresses with a connection open; max_connections slots */
	uint32_t client_count;
	uint64_t accepted; /* connections admitted since start-up */
	uint64_t refused[HTTP_REFUSALS];
	uint64_t stream_events_skipped; /* events a slow stream did not get (it gets the newest later) */
	uint64_t auth_window_ns;        /* start of the current second of password checks */
	uint32_t auth_checks;           /* checks in it */
};

/* Sets the limits up. Returns 0 or -1 (out of memory). */
int http_limits_init(struct http_limits *l, uint32_t max_connections, uint32_t max_per_client, uint32_t max_streams,
		     uint32_t max_streams_per_client);

/* Frees the table. */
void http_limits_release(struct http_limits *l);

/* The key of a socket address (AF_INET, AF_INET6; else an unknown key). */
struct http_client_key http_client_key_of(const struct sockaddr *addr, socklen_t len);

/* Accept policy: 1 when a connection from `key` may open; else counts the refusal and returns 0. */
int http_limits_admit(struct http_limits *l, const struct http_client_key *key);

/* Counts an open connection of `key` (admitted). */
void http_limits_opened(struct http_limits *l, const struct http_client_key *key);

/* Counts it closed; one that never got a whole request is counted as refused (no_request). */
void http_limits_closed(struct http_limits *l, const struct http_conn *conn);

/* An event stream from `key`: 1 when it may open (then counted), else counts the refusal and returns 0. */
int http_limits_stream_begin(struct http_limits *l, const struct http_client_key *key);

/* A stream http_limits_stream_begin admitted for `key` ended. */
void http_limits_stream_end(struct http_limits *l, const struct http_client_key *key);

/* Counts one refusal. */
void http_limits_refuse(struct http_limits *l, enum http_refusal why);

/*
 * 1 when one more password check may run at `now_ns` (at most
 * HTTP_AUTH_CHECKS_PER_S in a second), else counts auth_throttled and
 * returns 0.
 */
int http_limits_auth_budget(struct http_limits *l, uint64_t now_ns);

/* The label of a refusal reason ("per_client"). */
const char *http_refusal_label(enum http_refusal why);

/*
 * The /metrics families of the HTTP side: ttalloc_http_connections (open),
 * ttalloc_http_connections_total, ttalloc_http_streams,
 * ttalloc_http_refused_total{reason}, ttalloc_http_stream_events_skipped_total.
 */
void http_limits_metrics(struct strbuf *t, const struct http_limits *l);

#endif /* TTALLOC_HTTP_LIMITS_H */
