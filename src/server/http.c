/*
 * http.c - libmicrohttpd on the server's epoll loop: listening, routing,
 * responses, Server-Sent Events and the ingest-first budget (see http.h).
 */
#define _GNU_SOURCE
#include "clock.h"
#include "http.h"

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

#include "api.h"
#include "log.h"
#include "server.h"

#define NS_PER_MS 1000000ull

#define CT_JSON "application/json; charset=utf-8"
#define CT_METRICS "text/plain; version=0.0.4; charset=utf-8"
#define CT_HTML "text/html; charset=utf-8"
#define CT_EVENTS "text/event-stream; charset=utf-8"

struct sse_client {
	struct http_server *h;
	struct MHD_Connection *conn;
	uint64_t sent_seq;  /* change number of the last event sent */
	int fresh;          /* nothing sent yet: the first event goes out at once */
	int suspended;
	int ping;           /* a keep-alive comment is due */
	char *pending;      /* text being sent */
	size_t pending_len;
	size_t pending_off;
	struct sse_client *prev, *next;
};

struct http_server {
	struct server *server;
	struct MHD_Daemon *daemon;
	struct event_handle handle;      /* libmicrohttpd's epoll fd */
	struct event_timer timer;        /* libmicrohttpd timeouts and the end of a pause */
	struct event_timer publish_timer; /* a coalesced event is due */
	struct event_timer ping_timer;   /* keep-alive comments */
	int paused;                      /* HTTP waits for ingest (budget) */
	uint64_t ingest_seen;            /* ALLOC+FREE count at the last HTTP turn */
	uint64_t published_seq;          /* change number streams catch up to */
	uint64_t last_publish_ns;
	int publish_pending;
	int stopping;                    /* streams end instead of waiting */
	struct sse_client *streams;
	unsigned stream_count;
	char url[96];
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

static int listen_socket(const struct sockaddr_storage *addr, socklen_t len, const char *text, char *err)
{
	int fd = socket(addr->ss_family, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
	if (fd < 0) {
		snprintf(err, HTTP_ERR_LEN, "cannot create the HTTP socket: %s", strerror(errno));
		return -1;
	}
	int one = 1;
	setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
	if (bind(fd, (const struct sockaddr *)addr, len) < 0 || listen(fd, 128) < 0) {
		snprintf(err, HTTP_ERR_LEN,
			 "cannot listen for HTTP on %s: %s; choose another address with --http ADDR:PORT "
			 "(port 0 picks a free one) or run without the dashboard with --no-http",
			 text, strerror(errno));
		close(fd);
		return -1;
	}
	return fd;
}

static void format_url(struct http_server *h, int fd)
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
	snprintf(h->url, sizeof(h->url), "http://%s:%u/", host, port);
}

/* ---- responses ---- */

static enum MHD_Result send_body(struct MHD_Connection *conn, unsigned status, const char *type, char *body,
				 size_t len, enum MHD_ResponseMemoryMode mode)
{
	struct MHD_Response *resp = MHD_create_response_from_buffer(len, body, mode);
	if (!resp) {
		if (mode == MHD_RESPMEM_MUST_FREE)
			free(body);
		return MHD_NO;
	}
	MHD_add_response_header(resp, MHD_HTTP_HEADER_CONTENT_TYPE, type);
	MHD_add_response_header(resp, MHD_HTTP_HEADER_CACHE_CONTROL, "no-store");
	MHD_add_response_header(resp, "X-Content-Type-Options", "nosniff");
	enum MHD_Result rc = MHD_queue_response(conn, status, resp);
	MHD_destroy_response(resp);
	return rc;
}

/* Sends a JSON document (taking the reference), or 500 when it could not be built. */
static enum MHD_Result send_json(struct MHD_Connection *conn, unsigned status, json_t *doc)
{
	char *text = doc ? json_dumps(doc, JSON_COMPACT) : NULL;
	json_decref(doc);
	if (!text) {
		static char oom[] = "{\"error\": \"out of memory\"}";
		return send_body(conn, MHD_HTTP_INTERNAL_SERVER_ERROR, CT_JSON, oom, strlen(oom),
				 MHD_RESPMEM_PERSISTENT);
	}
	return send_body(conn, status, CT_JSON, text, strlen(text), MHD_RESPMEM_MUST_FREE);
}

static enum MHD_Result send_error(struct MHD_Connection *conn, unsigned status, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));

static enum MHD_Result send_error(struct MHD_Connection *conn, unsigned status, const char *fmt, ...)
{
	char message[256];
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(message, sizeof(message), fmt, ap);
	va_end(ap);
	return send_json(conn, status, api_error(message));
}

/* ---- query parameters ---- */

/* Parses a decimal parameter; 1 when present and valid, 0 when absent, -1 (400 sent) when bad. */
static int uint_param(struct MHD_Connection *conn, const char *name, uint64_t max, uint64_t *out,
		      enum MHD_Result *rc)
{
	const char *text = MHD_lookup_connection_value(conn, MHD_GET_ARGUMENT_KIND, name);
	if (!text)
		return 0;
	char *end;
	errno = 0;
	unsigned long long v = strtoull(text, &end, 10);
	if (!*text || *end || text[0] == '-' || text[0] == '+' || errno || v > max) {
		*rc = send_error(conn, MHD_HTTP_BAD_REQUEST, "bad value '%.64s' for %s: expected an integer 0..%" PRIu64,
				 text, name, max);
		return -1;
	}
	*out = v;
	return 1;
}

/* device= parameter: -1 when absent; 0 (400 sent) when bad. */
static int device_param(struct server *s, struct MHD_Connection *conn, int *device, enum MHD_Result *rc)
{
	uint64_t v;
	int got = uint_param(conn, "device", INT32_MAX, &v, rc);
	*device = -1;
	if (got < 0)
		return 0;
	if (got && v >= (uint64_t)s->devices.count) {
		*rc = send_error(conn, MHD_HTTP_BAD_REQUEST, "device %" PRIu64 " does not exist: devices are 0..%d", v,
				 s->devices.count - 1);
		return 0;
	}
	if (got)
		*device = (int)v;
	return 1;
}

/* ---- Server-Sent Events ---- */

static void stream_free(void *cls)
{
	struct sse_client *c = cls;
	struct http_server *h = c->h;
	if (c->prev)
		c->prev->next = c->next;
	else
		h->streams = c->next;
	if (c->next)
		c->next->prev = c->prev;
	h->stream_count--;
	free(c->pending);
	free(c);
}

static int stream_prepare(struct sse_client *c)
{
	struct http_server *h = c->h;
	if (c->fresh || c->sent_seq != h->published_seq) {
		uint64_t seq = h->published_seq;
		json_t *doc = api_event(h->server, seq);
		char *data = doc ? json_dumps(doc, JSON_COMPACT) : NULL;
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
	struct sse_client *c = cls;
	if (!c->pending) {
		if (c->h->stopping)
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

static void wake_streams(struct http_server *h)
{
	int woke = 0;
	for (struct sse_client *c = h->streams; c; c = c->next) {
		if (c->suspended) {
			c->suspended = 0;
			MHD_resume_connection(c->conn);
			woke = 1;
		}
	}
	/* resumed connections need an MHD_run soon: the timer asks for one */
	if (woke && !h->paused)
		event_timer_arm(&h->timer, 0, 0);
}

static void publish(struct http_server *h)
{
	h->published_seq = h->server->change_seq;
	h->last_publish_ns = clock_monotonic_ns();
	wake_streams(h);
}

static void on_publish_timer(struct event_loop *loop, struct event_timer *timer)
{
	(void)loop;
	struct http_server *h = timer->data;
	h->publish_pending = 0;
	publish(h);
}

static void on_ping_timer(struct event_loop *loop, struct event_timer *timer)
{
	(void)loop;
	struct http_server *h = timer->data;
	for (struct sse_client *c = h->streams; c; c = c->next)
		c->ping = 1;
	wake_streams(h);
}

void http_before_sleep(struct http_server *h)
{
	if (!h || h->publish_pending || h->server->change_seq == h->published_seq)
		return;
	uint64_t now = clock_monotonic_ns();
	uint64_t min_gap = HTTP_SSE_MIN_INTERVAL_MS * NS_PER_MS;
	if (now - h->last_publish_ns >= min_gap) {
		publish(h);
	} else {
		h->publish_pending = 1;
		event_timer_arm(&h->publish_timer, min_gap - (now - h->last_publish_ns), 0);
	}
}

static enum MHD_Result serve_events(struct http_server *h, struct MHD_Connection *conn)
{
	if (h->stream_count >= HTTP_MAX_SSE_CLIENTS)
		return send_error(conn, MHD_HTTP_SERVICE_UNAVAILABLE,
				  "too many event streams open (%d); poll /api/devices instead", HTTP_MAX_SSE_CLIENTS);
	struct sse_client *c = calloc(1, sizeof(*c));
	if (!c)
		return send_error(conn, MHD_HTTP_INTERNAL_SERVER_ERROR, "out of memory");
	c->h = h;
	c->conn = conn;
	c->fresh = 1;
	struct MHD_Response *resp = MHD_create_response_from_callback(MHD_SIZE_UNKNOWN, 4096, stream_read, c,
								      stream_free);
	if (!resp) {
		free(c);
		return MHD_NO;
	}
	c->next = h->streams;
	if (h->streams)
		h->streams->prev = c;
	h->streams = c;
	h->stream_count++;
	MHD_add_response_header(resp, MHD_HTTP_HEADER_CONTENT_TYPE, CT_EVENTS);
	MHD_add_response_header(resp, MHD_HTTP_HEADER_CACHE_CONTROL, "no-store");
	MHD_add_response_header(resp, "X-Accel-Buffering", "no");
	enum MHD_Result rc = MHD_queue_response(conn, MHD_HTTP_OK, resp);
	MHD_destroy_response(resp); /* stream_free runs when the connection is done with it */
	return rc;
}

/* ---- routes ---- */

static enum MHD_Result serve_buffers(struct server *s, struct MHD_Connection *conn)
{
	enum MHD_Result rc = MHD_NO;
	struct api_buffer_query q = {.device = -1, .limit = API_BUFFERS_DEFAULT_LIMIT};
	uint64_t v;
	int got;
	if (!device_param(s, conn, &q.device, &rc))
		return rc;
	if ((got = uint_param(conn, "pid", INT32_MAX, &v, &rc)) < 0)
		return rc;
	q.pid = got ? (pid_t)v : 0;
	if ((got = uint_param(conn, "limit", API_BUFFERS_MAX_LIMIT, &v, &rc)) < 0)
		return rc;
	if (got)
		q.limit = v;
	if ((got = uint_param(conn, "offset", UINT32_MAX, &v, &rc)) < 0)
		return rc;
	q.offset = got ? v : 0;
	return send_json(conn, MHD_HTTP_OK, api_buffers(s, &q));
}

static enum MHD_Result serve_history(struct server *s, struct MHD_Connection *conn)
{
	enum MHD_Result rc = MHD_NO;
	struct api_history_query q = {.device = -1, .points = API_HISTORY_DEFAULT_POINTS};
	uint64_t v;
	int got;
	if (!device_param(s, conn, &q.device, &rc))
		return rc;
	if ((got = uint_param(conn, "pid", INT32_MAX, &v, &rc)) < 0)
		return rc;
	q.pid = got ? (pid_t)v : 0;
	if ((got = uint_param(conn, "seconds", 366ull * 24 * 3600, &v, &rc)) < 0)
		return rc;
	q.seconds = got ? v : 0;
	if ((got = uint_param(conn, "points", API_HISTORY_MAX_POINTS, &v, &rc)) < 0)
		return rc;
	if (got) {
		if (v == 0)
			return send_error(conn, MHD_HTTP_BAD_REQUEST, "points must be 1..%u", API_HISTORY_MAX_POINTS);
		q.points = (uint32_t)v;
	}
	return send_json(conn, MHD_HTTP_OK, api_history(s, &q));
}

/* /api/devices/<id> and /api/devices/<id>/stats */
static enum MHD_Result serve_device(struct server *s, struct MHD_Connection *conn, const char *rest)
{
	char *end;
	errno = 0;
	long id = strtol(rest, &end, 10);
	int stats = strcmp(end, "/stats") == 0;
	if (end == rest || rest[0] == '-' || rest[0] == '+' || errno || (*end && !stats))
		return send_error(conn, MHD_HTTP_NOT_FOUND, "no such endpoint; use /api/devices/<id>/stats");
	if (id < 0 || id >= s->devices.count)
		return send_error(conn, MHD_HTTP_NOT_FOUND, "device %ld does not exist: devices are 0..%d", id,
				  s->devices.count - 1);
	return send_json(conn, MHD_HTTP_OK, stats ? api_device_stats(s, (int)id) : api_device(s, (int)id));
}

static enum MHD_Result route(struct http_server *h, struct MHD_Connection *conn, const char *url)
{
	struct server *s = h->server;
	if (strcmp(url, "/") == 0 || strcmp(url, "/dashboard.html") == 0)
		return send_body(conn, MHD_HTTP_OK, CT_HTML, (char *)http_dashboard_html, http_dashboard_html_len,
				 MHD_RESPMEM_PERSISTENT);
	rings_drain_all(s); /* answers reflect every event reported before the request */
	if (strcmp(url, "/metrics") == 0) {
		size_t len = 0;
		char *text = metrics_render(s, &len);
		if (!text)
			return send_error(conn, MHD_HTTP_INTERNAL_SERVER_ERROR, "out of memory");
		return send_body(conn, MHD_HTTP_OK, CT_METRICS, text, len, MHD_RESPMEM_MUST_FREE);
	}
	if (strcmp(url, "/healthz") == 0)
		return send_json(conn, MHD_HTTP_OK, api_health(s));
	if (strcmp(url, "/api/devices") == 0)
		return send_json(conn, MHD_HTTP_OK, api_devices(s));
	if (strncmp(url, "/api/devices/", 13) == 0)
		return serve_device(s, conn, url + 13);
	if (strcmp(url, "/api/processes") == 0)
		return send_json(conn, MHD_HTTP_OK, api_processes(s));
	if (strcmp(url, "/api/buffers") == 0)
		return serve_buffers(s, conn);
	if (strcmp(url, "/api/leaks") == 0)
		return send_json(conn, MHD_HTTP_OK, api_leaks(s));
	if (strcmp(url, "/api/history") == 0)
		return serve_history(s, conn);
	if (strcmp(url, "/api/events") == 0)
		return serve_events(h, conn);
	if (strcmp(url, "/favicon.ico") == 0)
		return send_body(conn, MHD_HTTP_NO_CONTENT, "image/x-icon", (char *)"", 0, MHD_RESPMEM_PERSISTENT);
	return send_error(conn, MHD_HTTP_NOT_FOUND,
			  "no such endpoint: %.100s (try /api/devices, /api/processes, /api/buffers, /api/leaks, "
			  "/api/history, /api/events, /metrics, /healthz, /)",
			  url);
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
		return MHD_YES;
	}
	if (strcmp(method, MHD_HTTP_METHOD_GET) != 0 && strcmp(method, MHD_HTTP_METHOD_HEAD) != 0) {
		if (*upload_data_size) {
			*upload_data_size = 0; /* a body is read and dropped; answered once it is all in */
			return MHD_YES;
		}
		return send_error(conn, MHD_HTTP_METHOD_NOT_ALLOWED, "method %.16s not allowed: the API is read-only (GET)",
				  method);
	}
	return route(h, conn, url);
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

/* ---- loop integration ---- */

static uint64_t ingest_events(const struct server *s)
{
	return s->stats.frames[PROTO_ALLOC] + s->stats.frames[PROTO_FREE];
}

/* Arms the timer for libmicrohttpd's next timeout, if it has one. */
static void schedule(struct http_server *h)
{
	MHD_UNSIGNED_LONG_LONG ms = 0;
	if (h->paused)
		return;
	if (MHD_get_timeout(h->daemon, &ms) == MHD_YES)
		event_timer_arm(&h->timer, ms * NS_PER_MS, 0);
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
		if (pause > HTTP_MAX_PAUSE_MS * NS_PER_MS)
			pause = HTTP_MAX_PAUSE_MS * NS_PER_MS;
		h->paused = 1;
		event_loop_modify(h->server->loop, &h->handle, 0);
		event_timer_arm(&h->timer, pause, 0);
		return;
	}
	schedule(h);
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

struct http_server *http_start(struct server *s, const char *listen, char *err)
{
	struct sockaddr_storage addr;
	socklen_t addr_len = 0;
	if (http_parse_listen(listen, &addr, &addr_len, err) < 0)
		return NULL;
	int fd = listen_socket(&addr, addr_len, listen, err);
	if (fd < 0)
		return NULL;
	struct http_server *h = calloc(1, sizeof(*h));
	if (!h) {
		close(fd);
		snprintf(err, HTTP_ERR_LEN, "out of memory");
		return NULL;
	}
	h->server = s;
	h->handle.fd = h->timer.handle.fd = h->publish_timer.handle.fd = h->ping_timer.handle.fd = -1;
	format_url(h, fd);
	unsigned flags = MHD_USE_EPOLL | MHD_ALLOW_SUSPEND_RESUME | MHD_USE_ERROR_LOG;
	if (addr.ss_family == AF_INET6)
		flags |= MHD_USE_IPv6;
	h->daemon = MHD_start_daemon(flags, 0, NULL, NULL, on_request, h, MHD_OPTION_LISTEN_SOCKET, fd,
				     MHD_OPTION_CONNECTION_LIMIT, (unsigned)HTTP_MAX_CONNECTIONS,
				     MHD_OPTION_CONNECTION_TIMEOUT, (unsigned)HTTP_CONNECTION_TIMEOUT_S,
				     MHD_OPTION_EXTERNAL_LOGGER, on_mhd_log, NULL, MHD_OPTION_END);
	if (!h->daemon) {
		snprintf(err, HTTP_ERR_LEN, "cannot start the HTTP server on %s (libmicrohttpd)", listen);
		close(fd);
		free(h);
		return NULL;
	}
	const union MHD_DaemonInfo *info = MHD_get_daemon_info(h->daemon, MHD_DAEMON_INFO_EPOLL_FD);
	h->handle = (struct event_handle){.fd = info ? info->epoll_fd : -1, .fn = on_ready, .data = h};
	if (h->handle.fd < 0 || event_loop_add(s->loop, &h->handle, EPOLLIN) < 0 ||
	    event_timer_init(s->loop, &h->timer, on_timer, h) < 0 ||
	    event_timer_init(s->loop, &h->publish_timer, on_publish_timer, h) < 0 ||
	    event_timer_init(s->loop, &h->ping_timer, on_ping_timer, h) < 0 ||
	    event_timer_arm(&h->ping_timer, HTTP_SSE_KEEPALIVE_S * 1000 * NS_PER_MS,
			    HTTP_SSE_KEEPALIVE_S * 1000 * NS_PER_MS) < 0) {
		snprintf(err, HTTP_ERR_LEN, "cannot add the HTTP server to the event loop: %s", strerror(errno));
		http_stop(h);
		return NULL;
	}
	h->ingest_seen = ingest_events(s);
	h->published_seq = s->change_seq;
	schedule(h);
	return h;
}

const char *http_url(const struct http_server *h)
{
	return h->url;
}

void http_stop(struct http_server *h)
{
	if (!h)
		return;
	struct event_loop *loop = h->server->loop;
	event_timer_release(loop, &h->timer);
	event_timer_release(loop, &h->publish_timer);
	event_timer_release(loop, &h->ping_timer);
	if (h->handle.fd >= 0)
		event_loop_remove(loop, &h->handle);
	if (h->daemon) {
		/* libmicrohttpd must not be stopped with suspended connections;
		 * MHD_stop_daemon completes the resumes itself */
		h->stopping = 1;
		for (struct sse_client *c = h->streams; c; c = c->next) {
			if (c->suspended) {
				c->suspended = 0;
				MHD_resume_connection(c->conn);
			}
		}
		MHD_stop_daemon(h->daemon); /* closes the listening socket and every connection */
	}
	free(h);
}
