/*
 * http.h - the server's embedded HTTP endpoint (libmicrohttpd): the JSON
 * API, Server-Sent Events, /metrics, /healthz and the dashboard.
 *
 * Threading: libmicrohttpd runs in "external polling" mode on the server's
 * own epoll loop: its epoll fd is one more handle in the loop, and
 * MHD_run() is called from that handle's callback and from a timer
 * (libmicrohttpd's timeouts). Every request handler therefore runs on the
 * loop thread and reads the registry directly, with no locks and no copy.
 *
 * Ingest comes first: when protocol clients reported events since the last
 * HTTP turn, HTTP is paused for HTTP_PAUSE_FACTOR times as long as that turn
 * took, so HTTP gets at most 1 / (1 + HTTP_PAUSE_FACTOR) of the loop while
 * clients are busy, and all of it when they are idle.
 *
 * /api/events: one event per batch of registry changes, coalesced to at most
 * one every HTTP_SSE_MIN_INTERVAL_MS; an idle stream is a suspended
 * connection (no polling, no buffer), resumed when the registry changes and
 * every HTTP_SSE_KEEPALIVE_S for a comment line. At most HTTP_MAX_SSE_CLIENTS
 * streams at once (more get 503).
 *
 * Limits (limits.h): connections at once in all and per client address
 * (refused at accept, counted), an idle timeout (--http-timeout: a client
 * that stops sending its request or reading its answer is closed), request
 * headers up to HTTP_MEMORY_LIMIT, event streams per address. With
 * --web-config (web_config.h): TLS through libmicrohttpd's GnuTLS, and
 * basic authentication (auth.h) before any endpoint answers.
 */
#ifndef TTALLOC_HTTP_H
#define TTALLOC_HTTP_H

#include <stddef.h>
#include <stdint.h>
#include <sys/socket.h>

#include "common/errors.h"
#include "common/protocol.h"

struct server;
struct http_server;

#define HTTP_DEFAULT_LISTEN "127.0.0.1:8080"
#define HTTP_PAUSE_FACTOR 4
#define HTTP_MAX_PAUSE_MS 100
#define HTTP_SSE_MIN_INTERVAL_MS 100
#define HTTP_SSE_KEEPALIVE_S 15
#define HTTP_SSE_SNDBUF (64 * 1024)     /* send buffer of an event stream's socket */
#define HTTP_SSE_MAX_QUEUED (32 * 1024) /* unread bytes beyond which a stream's events are skipped */
#define HTTP_MAX_SSE_CLIENTS 64
#define HTTP_MAX_CONNECTIONS 256
#define HTTP_MAX_PER_CLIENT 32
#define HTTP_CONNECTION_TIMEOUT_S 10
#define HTTP_LISTEN_BACKLOG 1024
#define HTTP_MEMORY_LIMIT (32u * 1024u) /* request headers and buffers per connection: more is refused (431) */
#define HTTP_ERR_LEN ERR_LEN
/* A port in use at start-up is tried again this often (unless --http-required). */
#define HTTP_RETRY_MS PROTO_HTTP_RETRY_MS

/*
 * Parses a listen address: "ADDR:PORT", "[IPV6]:PORT", or "PORT" alone
 * (loopback). ADDR may be a host name ("localhost"). Port 0 asks the kernel
 * for a free port. Returns 0, or -1 with a reason in `err`.
 */
int http_parse_listen(const char *text, struct sockaddr_storage *addr, socklen_t *addr_len, char *err);

/*
 * Listens on `listen` and serves on the server's loop, with s->opts'
 * limits and s->web (--web-config, read by server_core_open: TLS, users). Returns the HTTP server, or NULL
 * with a reason in `err`; *taken is 1 when the address is in use by another
 * program (a later try may succeed), 0 for any other failure (a bad
 * address or web config will not get better).
 */
struct http_server *http_start(struct server *s, const char *listen, char *err, int *taken);

/* "http://127.0.0.1:8080/", with the real port when 0 was asked for. */
const char *http_url(const struct http_server *h);

/* The port it listens on (the real one when 0 was asked for). */
uint16_t http_port(const struct http_server *h);

/* Called before the loop sleeps: publishes registry changes to event streams. */
void http_before_sleep(struct http_server *h);

/* Ends every stream, closes every HTTP connection and frees `h` (NULL is fine). */
void http_stop(struct http_server *h);

/* The dashboard page, embedded at build time from web/dashboard.html. */
extern const unsigned char http_dashboard_html[];
extern const size_t http_dashboard_html_len;

#endif /* TTALLOC_HTTP_H */
