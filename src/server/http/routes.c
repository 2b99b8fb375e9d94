/*
 * routes.c - URL to endpoint (routes.h).
 */
#include "server/http/routes.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "server/http/api.h"
#include "server/http/api_diag.h"
#include "server/http/event_stream.h"
#include "server/http/http.h"
#include "server/http/response.h"
#include "server/server.h"

/* The device= and pid= filters most endpoints take: 1, or 0 with a 400 queued (result in *rc). */
static int device_and_pid(struct server *s, struct MHD_Connection *conn, int *device, pid_t *pid, enum MHD_Result *rc)
{
	uint64_t v;
	int got;
	if (!response_device_param(conn, s->state.devices.count, device, rc))
		return 0;
	if ((got = response_uint_param(conn, "pid", INT32_MAX, &v, rc)) < 0)
		return 0;
	*pid = got ? (pid_t)v : 0;
	return 1;
}

/* The limit= and offset= of a page of buffers: 1, or 0 with a 400 queued (result in *rc). */
static int page_params(struct MHD_Connection *conn, uint64_t *limit, uint64_t *offset, enum MHD_Result *rc)
{
	uint64_t v;
	int got;
	if ((got = response_uint_param(conn, "limit", API_BUFFERS_MAX_LIMIT, &v, rc)) < 0)
		return 0;
	*limit = got ? v : API_BUFFERS_DEFAULT_LIMIT;
	if ((got = response_uint_param(conn, "offset", UINT32_MAX, &v, rc)) < 0)
		return 0;
	*offset = got ? v : 0;
	return 1;
}

static enum MHD_Result serve_buffers(struct server *s, struct MHD_Connection *conn)
{
	enum MHD_Result rc = MHD_NO;
	struct api_buffer_query q = {.device = -1};
	if (!device_and_pid(s, conn, &q.device, &q.pid, &rc) || !page_params(conn, &q.limit, &q.offset, &rc))
		return rc;
	return response_json(conn, MHD_HTTP_OK, api_buffers(s, &q));
}

static enum MHD_Result serve_history(struct server *s, struct MHD_Connection *conn)
{
	enum MHD_Result rc = MHD_NO;
	struct api_history_query q = {.device = -1, .points = API_HISTORY_DEFAULT_POINTS};
	uint64_t v;
	int got;
	if (!device_and_pid(s, conn, &q.device, &q.pid, &rc))
		return rc;
	if ((got = response_uint_param(conn, "seconds", 366ull * 24 * 3600, &v, &rc)) < 0)
		return rc;
	q.seconds = got ? v : 0;
	if ((got = response_uint_param(conn, "points", API_HISTORY_MAX_POINTS, &v, &rc)) < 0)
		return rc;
	if (got) {
		if (v == 0)
			return response_error(conn, MHD_HTTP_BAD_REQUEST, "points must be 1..%u", API_HISTORY_MAX_POINTS);
		q.points = (uint32_t)v;
	}
	return response_json(conn, MHD_HTTP_OK, api_history(s, &q));
}

/* /api/leaks/<id>?limit=&offset=: one leak report and a page of its buffers */
static enum MHD_Result serve_leak(struct server *s, struct MHD_Connection *conn, const char *rest)
{
	enum MHD_Result rc = MHD_NO;
	struct api_leak_query q;
	char *end;
	errno = 0;
	unsigned long long id = strtoull(rest, &end, 10);
	if (end == rest || rest[0] == '-' || rest[0] == '+' || errno || *end)
		return response_error(conn, MHD_HTTP_NOT_FOUND, "no such endpoint; use /api/leaks/<id>");
	q.id = id;
	if (!page_params(conn, &q.limit, &q.offset, &rc))
		return rc;
	json_t *doc = api_leak(s, &q);
	if (!doc) {
		const struct leak_history *h = &s->state.leaks;
		if (!h->count)
			return response_error(conn, MHD_HTTP_NOT_FOUND, "leak report %llu is not kept: there is none",
					      id);
		return response_error(conn, MHD_HTTP_NOT_FOUND,
				      "leak report %llu is not kept: the kept ones are %llu..%llu", id,
				      (unsigned long long)(h->reports_total - h->count + 1),
				      (unsigned long long)h->reports_total);
	}
	return response_json(conn, MHD_HTTP_OK, doc);
}

/* /api/devices/<id> and /api/devices/<id>/stats */
static enum MHD_Result serve_device(struct server *s, struct MHD_Connection *conn, const char *rest)
{
	char *end;
	errno = 0;
	long id = strtol(rest, &end, 10);
	int stats = strcmp(end, "/stats") == 0;
	if (end == rest || rest[0] == '-' || rest[0] == '+' || errno || (*end && !stats))
		return response_error(conn, MHD_HTTP_NOT_FOUND, "no such endpoint; use /api/devices/<id>/stats");
	if (id < 0 || id >= s->state.devices.count)
		return response_error(conn, MHD_HTTP_NOT_FOUND, "device %ld does not exist: devices are 0..%d", id,
				  s->state.devices.count - 1);
	return response_json(conn, MHD_HTTP_OK, stats ? api_device_stats(s, (int)id) : api_device(s, (int)id));
}

/* libmicrohttpd's query parameters for the diagnosis documents. */
static const char *mhd_param(void *ctx, const char *key)
{
	return MHD_lookup_connection_value(ctx, MHD_GET_ARGUMENT_KIND, key);
}

/* The diagnosis documents (api_diag.h): JSON, text, or {"error": ...}. */
static enum MHD_Result serve_diag(struct server *s, struct MHD_Connection *conn, const char *url)
{
	struct api_params p = {mhd_param, conn};
	struct api_doc doc;
	api_diag_serve(s, url, &p, &doc);
	if (doc.status != 200)
		return response_error(conn, doc.status, "%s", doc.error);
	if (doc.json)
		return response_json(conn, MHD_HTTP_OK, doc.json);
	return response_body(conn, MHD_HTTP_OK, doc.content_type, doc.text, doc.len, MHD_RESPMEM_MUST_FREE);
}

enum MHD_Result routes_serve(struct server *s, struct event_streams *es, struct MHD_Connection *conn,
			     const char *url)
{
	if (strcmp(url, "/") == 0 || strcmp(url, "/dashboard.html") == 0)
		return response_body(conn, MHD_HTTP_OK, CT_HTML, (char *)http_dashboard_html, http_dashboard_html_len,
				 MHD_RESPMEM_PERSISTENT);
	ingest_drain(&s->ingest); /* answers reflect every event reported before the request */
	if (strcmp(url, "/metrics") == 0) {
		size_t len = 0;
		char *text = metrics_render(s, &len);
		if (!text)
			return response_error(conn, MHD_HTTP_INTERNAL_SERVER_ERROR, "out of memory");
		return response_body(conn, MHD_HTTP_OK, CT_METRICS, text, len, MHD_RESPMEM_MUST_FREE);
	}
	if (strcmp(url, "/healthz") == 0)
		return response_json(conn, MHD_HTTP_OK, api_health(s));
	if (api_diag_handles(url))
		return serve_diag(s, conn, url);
	if (strcmp(url, "/api/devices") == 0)
		return response_json(conn, MHD_HTTP_OK, api_devices(s));
	if (strncmp(url, "/api/devices/", 13) == 0)
		return serve_device(s, conn, url + 13);
	if (strcmp(url, "/api/processes") == 0)
		return response_json(conn, MHD_HTTP_OK, api_processes(s));
	if (strcmp(url, "/api/buffers") == 0)
		return serve_buffers(s, conn);
	if (strcmp(url, "/api/leaks") == 0)
		return response_json(conn, MHD_HTTP_OK, api_leaks(s));
	if (strncmp(url, "/api/leaks/", 11) == 0)
		return serve_leak(s, conn, url + 11);
	if (strcmp(url, "/api/history") == 0)
		return serve_history(s, conn);
	if (strcmp(url, "/api/events") == 0)
		return event_streams_serve(es, conn);
	if (strcmp(url, "/favicon.ico") == 0)
		return response_body(conn, MHD_HTTP_NO_CONTENT, "image/x-icon", (char *)"", 0, MHD_RESPMEM_PERSISTENT);
	return response_error(conn, MHD_HTTP_NOT_FOUND,
			  "no such endpoint: %.100s (try /api/devices, /api/processes, /api/buffers, /api/leaks, "
			  "/api/history, /api/events, /api/oom, /api/misuse, /api/marks, /api/diff, "
			  "/api/snapshot, /api/export/stacks, /api/export/trace, /metrics, /healthz, /)",
			  url);
}

