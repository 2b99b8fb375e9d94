/*
 * http.c - libmicrohttpd on the server's epoll loop: listening, routing,
 * responses, Server-Sent Events and the ingest-first budget (see http.h).
 */
#define _GNU_SOURCE
#include "server/http/http.h"

#include <errno.h>
#include <inttypes.h>
#include <microhttpd.h>
#include <netdb.h>
#include <netinet/in.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <unistd.h>

#include "common/clock.h"
#include "common/log.h"
#include "server/http/auth.h"
#include "server/http/event_stream.h"
#include "server/http/limits.h"
#include "server/http/response.h"
#include "server/http/routes.h"
#include "server/http/web_config.h"
#include "server/server.h"

struct http_server {
	struct server *server;
	struct MHD_Daemon *daemon;
	struct event_handle handle;   /* libmicrohttpd's epoll fd */
	struct event_timer timer;     /* libmicrohttpd timeouts and the end of a pause */
	int paused;                   /* HTTP waits for ingest (budget) */
	uint64_t ingest_seen;         /* ALLOC+FREE count at the last HTTP turn */
	struct event_streams streams; /* /api/events */
	struct http_limits *limits;   /* the server's (server.h), set up here */
	const struct web_config *web; /* the server's --web-config: TLS and users */
	struct http_auth auth;
	char url[96];
	uint16_t port; /* the port listened on (the kernel's choice for port 0) */
};

/* ---- listen address ---- */

int http_parse_listen(const char *text, struct sockaddr_storage *addr, socklen_t *addr_len, char *err)
{
	char host[256];
	const char *port;
	if (!text || !*text) {
		snprintf(err, HTTP_ERR_LEN, "empty --http address (want ADDR:PORT, e.g. %s)", HTTP_DEFAULT_LISTEN);
		return -1;
	}
	if (text[0] == '[') {
		const char *close = strchr(text, ']');
		if (!close || close[1] != ':' || (size_t)(close - text - 1) >= sizeof(host)) {
			snprintf(err, HTTP_ERR_LEN, "bad --http address '%s' (want [IPV6]:PORT)", text);
			return -1;
		}
		memcpy(host, text + 1, (size_t)(close - text - 1));
		host[close - text - 1] = '\0';
		port = close + 2;
	} else {
		const char *colon = strrchr(text, ':');
		if (!colon) {
			snprintf(host, sizeof(host), "127.0.0.1");
			port = text;
		} else {
			if ((size_t)(colon - text) >= sizeof(host) || strchr(text, ':') != colon) {
				snprintf(err, HTTP_ERR_LEN, "bad --http address '%s' (want ADDR:PORT or [IPV6]:PORT)",
					 text);
				return -1;
			}
			memcpy(host, text, (size_t)(colon - text));
			host[colon - text] = '\0';
			port = colon + 1;
		}
	}
	char *end;
	unsigned long p = strtoul(port, &end, 10);
	if (!*port || *end || p > 65535) {
		snprintf(err, HTTP_ERR_LEN, "bad port '%s' in --http %s (0..65535; 0 picks a free one)", port, text);
		return -1;
	}
	struct addrinfo hints = {.ai_family = AF_UNSPEC, .ai_socktype = SOCK_STREAM, .ai_flags = AI_NUMERICSERV};
	struct addrinfo *res = NULL;
	int rc = getaddrinfo(host[0] ? host : "0.0.0.0", port, &hints, &res);
	if (rc != 0 || !res) {
		snprintf(err, HTTP_ERR_LEN, "cannot resolve '%s' in --http %s: %s", host, text, gai_strerror(rc));
		return -1;
	}
	memcpy(addr, res->ai_addr, res->ai_addrlen);
	*addr_len = res->ai_addrlen;
	freeaddrinfo(res);
	return 0;
}

/* The listening socket, or -1 with the reason; *taken is 1 when the address is in use (worth a retry). */
static int listen_socket(const struct sockaddr_storage *addr, socklen_t len, const char *text, char *err, int *taken)
{
	int fd = socket(addr->ss_family, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
	if (fd < 0) {
		snprintf(err, HTTP_ERR_LEN, "cannot create the HTTP socket: %s", strerror(errno));
		return -1;
	}
	int one = 1;
	setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
	if (bind(fd, (const struct sockaddr *)addr, len) < 0 || listen(fd, HTTP_LISTEN_BACKLOG) < 0) {
		*taken = errno == EADDRINUSE;
		snprintf(err, HTTP_ERR_LEN,
			 "cannot listen for HTTP on %s: %s; choose another address with --http ADDR:PORT "
			 "(port 0 picks a free one) or run without the dashboard with --no-http",
			 text, strerror(errno));
		close(fd);
		return -1;
	}
	return fd;
}

static void format_url(struct http_server *h, int fd, int tls)
{
	struct sockaddr_storage bound;
	socklen_t len = sizeof(bound);
	char host[INET6_ADDRSTRLEN + 2] = "?";
	unsigned port = 0;
	if (getsockname(fd, (struct sockaddr *)&bound, &len) == 0) {
		char num[INET6_ADDRSTRLEN], serv[8];
		if (getnameinfo((struct sockaddr *)&bound, len, num, sizeof(num), serv, sizeof(serv),
				NI_NUMERICHOST | NI_NUMERICSERV) == 0) {
			snprintf(host, sizeof(host), bound.ss_family == AF_INET6 ? "[%s]" : "%s", num);
			port = (unsigned)strtoul(serv, NULL, 10);
		}
	}
	snprintf(h->url, sizeof(h->url), "%s://%s:%u/", tls ? "https" : "http", host, port);
	h->port = (uint16_t)port;
}

static enum MHD_Result on_request(void *cls, struct MHD_Connection *conn, const char *url, const char *method,
				  const char *version, const char *upload_data, size_t *upload_data_size,
				  void **con_cls)
{
	(void)version;
	(void)upload_data;
	struct http_server *h = cls;
	static int headers_seen;
	if (!*con_cls) {
		/* First call: headers only. Answering now would make libmicrohttpd
		 * close the connection (no keep-alive); answer on the next call. */
		*con_cls = &headers_seen;
		const union MHD_ConnectionInfo *ci = MHD_get_connection_info(conn, MHD_CONNECTION_INFO_SOCKET_CONTEXT);
		struct http_conn *hc = ci ? ci->socket_context : NULL;
		if (hc)
			hc->requests++;
		return MHD_YES;
	}
	if (http_auth_required(&h->auth) && !http_auth_check(&h->auth, conn, h->limits))
		return http_auth_refuse(conn);
	if (strcmp(method, MHD_HTTP_METHOD_GET) != 0 && strcmp(method, MHD_HTTP_METHOD_HEAD) != 0) {
		if (*upload_data_size) {
			*upload_data_size = 0; /* a body is read and dropped; answered once it is all in */
			return MHD_YES;
		}
		return response_error(conn, MHD_HTTP_METHOD_NOT_ALLOWED,
				      "method %.16s not allowed: the API is read-only (GET)", method);
	}
	return routes_serve(h->server, &h->streams, conn, url);
}

static void on_mhd_log(void *cls, const char *fmt, va_list ap)
{
	(void)cls;
	char line[256];
	vsnprintf(line, sizeof(line), fmt, ap);
	size_t n = strlen(line);
	while (n && line[n - 1] == '\n')
		line[--n] = '\0';
	log_debug("🌐 http: %s", line);
}

/* ---- limits (limits.h) ---- */

/* Accept policy: refuses a connection over the total or per-address limit before it costs anything. */
static enum MHD_Result on_accept(void *cls, const struct sockaddr *addr, socklen_t len)
{
	struct http_server *h = cls;
	struct http_client_key key = http_client_key_of(addr, len);
	return http_limits_admit(h->limits, &key) ? MHD_YES : MHD_NO;
}

/* A connection opened or closed: its bookkeeping is libmicrohttpd's socket context. */
static void on_connection(void *cls, struct MHD_Connection *conn, void **socket_context,
			  enum MHD_ConnectionNotificationCode code)
{
	struct http_server *h = cls;
	if (code == MHD_CONNECTION_NOTIFY_STARTED) {
		struct http_conn *hc = calloc(1, sizeof(*hc));
		const union MHD_ConnectionInfo *ci = MHD_get_connection_info(conn, MHD_CONNECTION_INFO_CLIENT_ADDRESS);
		if (hc && ci && ci->client_addr)
			hc->key = http_client_key_of(ci->client_addr, sizeof(struct sockaddr_in6));
		if (hc)
			http_limits_opened(h->limits, &hc->key);
		*socket_context = hc;
		return;
	}
	struct http_conn *hc = *socket_context;
	if (hc)
		http_limits_closed(h->limits, hc);
	free(hc);
	*socket_context = NULL;
}

/* A request ended: one cut by the idle timeout is counted. */
static void on_completed(void *cls, struct MHD_Connection *conn, void **con_cls, enum MHD_RequestTerminationCode toe)
{
	(void)conn;
	(void)con_cls;
	struct http_server *h = cls;
	if (toe == MHD_REQUEST_TERMINATED_TIMEOUT_REACHED)
		http_limits_refuse(h->limits, HTTP_REFUSED_TIMEOUT);
}

/* ---- loop integration ---- */

static uint64_t ingest_events(const struct server *s)
{
	return s->ingest.stats.frames[PROTO_ALLOC] + s->ingest.stats.frames[PROTO_FREE];
}

/* Arms the timer for libmicrohttpd's next timeout, if it has one. */
static void schedule(struct http_server *h)
{
	MHD_UNSIGNED_LONG_LONG ms = 0;
	if (h->paused)
		return;
	if (MHD_get_timeout(h->daemon, &ms) == MHD_YES)
		event_timer_arm(&h->timer, ms * CLOCK_NS_PER_MS, 0);
	else
		event_timer_disarm(&h->timer);
}

static void run_daemon(struct http_server *h)
{
	uint64_t start = clock_monotonic_ns();
	MHD_run(h->daemon);
	uint64_t took = clock_monotonic_ns() - start;
	uint64_t ingest = ingest_events(h->server);
	if (ingest != h->ingest_seen) {
		/* Clients are reporting: give them HTTP_PAUSE_FACTOR times what HTTP just took. */
		h->ingest_seen = ingest;
		uint64_t pause = took * HTTP_PAUSE_FACTOR;
		if (pause > HTTP_MAX_PAUSE_MS * CLOCK_NS_PER_MS)
			pause = HTTP_MAX_PAUSE_MS * CLOCK_NS_PER_MS;
		h->paused = 1;
		event_loop_modify(h->server->loop, &h->handle, 0);
		event_timer_arm(&h->timer, pause, 0);
		return;
	}
	schedule(h);
}

/* The event streams need a turn of the daemon (resumed connections). */
static void kick(void *ctx)
{
	struct http_server *h = ctx;
	if (!h->paused)
		event_timer_arm(&h->timer, 0, 0);
}

void http_before_sleep(struct http_server *h)
{
	if (h)
		event_streams_before_sleep(&h->streams);
}

static void on_ready(struct event_loop *loop, struct event_handle *handle, uint32_t events)
{
	(void)loop;
	(void)events;
	run_daemon(handle->data);
}

static void on_timer(struct event_loop *loop, struct event_timer *timer)
{
	struct http_server *h = timer->data;
	if (h->paused) {
		h->paused = 0;
		event_loop_modify(loop, &h->handle, EPOLLIN);
	}
	run_daemon(h);
}

/* ---- start and stop ---- */

/* Starts libmicrohttpd on the listening socket `fd`, with TLS when the web config has a certificate. */
static struct MHD_Daemon *start_daemon(struct http_server *h, int fd, int ipv6)
{
	const struct server_options *o = &h->server->opts;
	unsigned flags = MHD_USE_EPOLL | MHD_ALLOW_SUSPEND_RESUME | MHD_USE_ERROR_LOG;
	if (ipv6)
		flags |= MHD_USE_IPv6;
	/* libmicrohttpd's own limit stays above ours: at its limit it stops accepting (clients wait in the
	 * backlog); ours refuses at once and counts */
	unsigned mhd_limit = o->http_max_connections + 64;
	struct MHD_OptionItem options[] = {
		{MHD_OPTION_EXTERNAL_LOGGER, (intptr_t)on_mhd_log, NULL}, /* first: libmicrohttpd asks */
		{MHD_OPTION_LISTEN_SOCKET, fd, NULL},
		{MHD_OPTION_CONNECTION_LIMIT, (intptr_t)mhd_limit, NULL},
		{MHD_OPTION_CONNECTION_TIMEOUT, (intptr_t)o->http_timeout_s, NULL},
		{MHD_OPTION_CONNECTION_MEMORY_LIMIT, (intptr_t)HTTP_MEMORY_LIMIT, NULL},
		{MHD_OPTION_NOTIFY_CONNECTION, (intptr_t)on_connection, h},
		{MHD_OPTION_NOTIFY_COMPLETED, (intptr_t)on_completed, h},
		{h->web->cert_pem ? MHD_OPTION_HTTPS_MEM_CERT : MHD_OPTION_END, 0, h->web->cert_pem},
		{MHD_OPTION_HTTPS_MEM_KEY, 0, h->web->key_pem},
		{MHD_OPTION_HTTPS_PRIORITIES, 0, (void *)h->web->priorities},
		{MHD_OPTION_END, 0, NULL},
	};
	if (h->web->cert_pem)
		flags |= MHD_USE_TLS;
	return MHD_start_daemon(flags, 0, on_accept, h, on_request, h, MHD_OPTION_ARRAY, options, MHD_OPTION_END);
}

struct http_server *http_start(struct server *s, const char *listen, char *err, int *taken)
{
	struct sockaddr_storage addr;
	socklen_t addr_len = 0;
	*taken = 0;
	if (http_parse_listen(listen, &addr, &addr_len, err) < 0)
		return NULL;
	struct http_server *h = calloc(1, sizeof(*h));
	if (!h ||
	    http_limits_init(&s->http_limits, s->opts.http_max_connections, s->opts.http_max_per_client,
			     HTTP_MAX_SSE_CLIENTS, HTTP_MAX_STREAMS_PER_CLIENT) < 0) {
		free(h);
		snprintf(err, HTTP_ERR_LEN, "out of memory");
		return NULL;
	}
	h->server = s;
	h->limits = &s->http_limits;
	h->handle.fd = h->timer.handle.fd = -1;
	h->web = &s->web;
	if (s->opts.web_config)
		http_auth_init(&h->auth, h->web);
	int fd = listen_socket(&addr, addr_len, listen, err, taken);
	if (fd >= 0) {
		format_url(h, fd, h->web->cert_pem != NULL);
		h->daemon = start_daemon(h, fd, addr.ss_family == AF_INET6);
		if (!h->daemon) {
			snprintf(err, HTTP_ERR_LEN, "cannot start the HTTP server on %s (libmicrohttpd%s)", listen,
				 h->web->cert_pem ? ", TLS" : "");
			close(fd);
		}
	}
	if (!h->daemon) {
		http_limits_release(h->limits);
		free(h);
		return NULL;
	}
	const union MHD_DaemonInfo *info = MHD_get_daemon_info(h->daemon, MHD_DAEMON_INFO_EPOLL_FD);
	h->handle = (struct event_handle){.fd = info ? info->epoll_fd : -1, .fn = on_ready, .data = h};
	if (h->handle.fd < 0 || event_loop_add(s->loop, &h->handle, EPOLLIN) < 0 ||
	    event_timer_init(s->loop, &h->timer, on_timer, h) < 0 ||
	    event_streams_init(&h->streams, s, s->loop, kick, h) < 0) {
		snprintf(err, HTTP_ERR_LEN, "cannot add the HTTP server to the event loop: %s", strerror(errno));
		http_stop(h);
		return NULL;
	}
	h->streams.limits = h->limits;
	h->ingest_seen = ingest_events(s);
	schedule(h);
	return h;
}

const char *http_url(const struct http_server *h)
{
	return h->url;
}

uint16_t http_port(const struct http_server *h)
{
	return h->port;
}

void http_stop(struct http_server *h)
{
	if (!h)
		return;
	struct event_loop *loop = h->server->loop;
	event_timer_release(loop, &h->timer);
	event_streams_release(&h->streams, loop);
	if (h->handle.fd >= 0)
		event_loop_remove(loop, &h->handle);
	if (h->daemon) {
		/* libmicrohttpd must not be stopped with suspended connections;
		 * MHD_stop_daemon completes the resumes itself */
		event_streams_stop(&h->streams);
		MHD_stop_daemon(h->daemon); /* closes the listening socket and every connection */
	}
	http_limits_release(h->limits);
	free(h);
}
