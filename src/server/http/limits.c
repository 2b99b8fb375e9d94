/*
 * limits.c - connection, stream and password-check budgets of the HTTP
 * side (limits.h).
 */
#include "server/http/limits.h"

#include <inttypes.h>
#include <netinet/in.h>
#include <stdlib.h>
#include <string.h>

#include "common/clock.h"
#include "server/http/metrics_text.h"

static const struct label refusals[HTTP_REFUSALS] = LABELS_TABLE(HTTP_REFUSAL_MAP, HTTP_REFUSED_);

int http_limits_init(struct http_limits *l, uint32_t max_connections, uint32_t max_per_client, uint32_t max_streams,
		     uint32_t max_streams_per_client)
{
	memset(l, 0, sizeof(*l));
	l->max_connections = max_connections;
	l->max_per_client = max_per_client;
	l->max_streams = max_streams;
	l->max_streams_per_client = max_streams_per_client;
	l->clients = calloc(max_connections ? max_connections : 1, sizeof(*l->clients));
	return l->clients ? 0 : -1;
}

void http_limits_release(struct http_limits *l)
{
	free(l->clients);
	l->clients = NULL;
	l->client_count = 0;
}

struct http_client_key http_client_key_of(const struct sockaddr *addr, socklen_t len)
{
	static const uint8_t v4_mapped[12] = {0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xff, 0xff};
	struct http_client_key key = {{0}, 0};
	if (addr && addr->sa_family == AF_INET && len >= (socklen_t)sizeof(struct sockaddr_in)) {
		memcpy(key.addr, &((const struct sockaddr_in *)addr)->sin_addr, 4);
		key.len = 4;
	} else if (addr && addr->sa_family == AF_INET6 && len >= (socklen_t)sizeof(struct sockaddr_in6)) {
		const uint8_t *a = ((const struct sockaddr_in6 *)addr)->sin6_addr.s6_addr;
		int mapped = memcmp(a, v4_mapped, sizeof(v4_mapped)) == 0;
		key.len = mapped ? 4 : 16;
		memcpy(key.addr, mapped ? a + 12 : a, key.len);
	}
	return key;
}

/* The entry of `key`, or NULL. */
static struct http_client_count *find(struct http_limits *l, const struct http_client_key *key)
{
	if (!key->len)
		return NULL;
	for (uint32_t i = 0; i < l->client_count; i++)
		if (l->clients[i].key.len == key->len && memcmp(l->clients[i].key.addr, key->addr, key->len) == 0)
			return &l->clients[i];
	return NULL;
}

int http_limits_admit(struct http_limits *l, const struct http_client_key *key)
{
	if (l->open >= l->max_connections) {
		l->refused[HTTP_REFUSED_CONNECTIONS]++;
		return 0;
	}
	const struct http_client_count *c = find(l, key);
	if (c && c->connections >= l->max_per_client) {
		l->refused[HTTP_REFUSED_PER_CLIENT]++;
		return 0;
	}
	return 1;
}

void http_limits_opened(struct http_limits *l, const struct http_client_key *key)
{
	l->open++;
	l->accepted++;
	struct http_client_count *c = find(l, key);
	if (!c && key->len && l->client_count < l->max_connections) {
		c = &l->clients[l->client_count++];
		memset(c, 0, sizeof(*c));
		c->key = *key;
	}
	if (c)
		c->connections++;
}

void http_limits_closed(struct http_limits *l, const struct http_conn *conn)
{
	if (l->open)
		l->open--;
	if (conn->requests == 0)
		l->refused[HTTP_REFUSED_NO_REQUEST]++;
	struct http_client_count *c = find(l, &conn->key);
	if (c && c->connections && --c->connections == 0)
		*c = l->clients[--l->client_count]; /* the last entry takes its place */
}

int http_limits_stream_begin(struct http_limits *l, const struct http_client_key *key)
{
	struct http_client_count *c = find(l, key);
	if (l->streams >= l->max_streams || (c && c->streams >= l->max_streams_per_client)) {
		l->refused[HTTP_REFUSED_STREAMS]++;
		return 0;
	}
	l->streams++;
	if (c)
		c->streams++;
	return 1;
}

void http_limits_stream_end(struct http_limits *l, const struct http_client_key *key)
{
	if (l->streams)
		l->streams--;
	struct http_client_count *c = find(l, key);
	if (c && c->streams)
		c->streams--;
}

void http_limits_refuse(struct http_limits *l, enum http_refusal why)
{
	if ((unsigned)why < HTTP_REFUSALS)
		l->refused[why]++;
}

int http_limits_auth_budget(struct http_limits *l, uint64_t now_ns)
{
	if (now_ns - l->auth_window_ns >= CLOCK_NS_PER_S) {
		l->auth_window_ns = now_ns;
		l->auth_checks = 0;
	}
	if (l->auth_checks >= HTTP_AUTH_CHECKS_PER_S) {
		l->refused[HTTP_REFUSED_AUTH_THROTTLED]++;
		return 0;
	}
	l->auth_checks++;
	return 1;
}

const char *http_refusal_label(enum http_refusal why)
{
	return labels_label(refusals, HTTP_REFUSALS, why, "?");
}

void http_limits_metrics(struct strbuf *t, const struct http_limits *l)
{
	metrics_family(t, "ttalloc_http_connections", "gauge", "HTTP connections open now.");
	strbuf_addf(t, "ttalloc_http_connections %" PRIu32 "\n", l->open);
	metrics_family(t, "ttalloc_http_connections_total", "counter", "HTTP connections admitted, since start-up.");
	strbuf_addf(t, "ttalloc_http_connections_total %" PRIu64 "\n", l->accepted);
	metrics_family(t, "ttalloc_http_streams", "gauge", "/api/events streams open now.");
	strbuf_addf(t, "ttalloc_http_streams %" PRIu32 "\n", l->streams);
	metrics_family(t, "ttalloc_http_refused_total", "counter",
		       "HTTP connections and requests refused or cut, by reason: connections, per_client (limits "
		       "reached), streams (too many /api/events), unauthorized (no or wrong credentials), "
		       "auth_throttled (password checks over budget), no_request (closed before a whole request), "
		       "timeout (stopped reading or sending).");
	for (int why = 0; why < HTTP_REFUSALS; why++)
		strbuf_addf(t, "ttalloc_http_refused_total{reason=\"%s\"} %" PRIu64 "\n", refusals[why].label,
			    l->refused[why]);
	metrics_family(t, "ttalloc_http_stream_events_skipped_total", "counter",
		       "Events an /api/events stream did not get because it had not read the earlier ones; it "
		       "gets the newest picture once it has.");
	strbuf_addf(t, "ttalloc_http_stream_events_skipped_total %" PRIu64 "\n", l->stream_events_skipped);
}
