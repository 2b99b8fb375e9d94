/*
 * routes.c - URL to endpoint (routes.h).
 */
#include "server/http/routes.h"

#include <string.h>

#include "server/http/api.h"
#include "server/http/api_diag.h"
#include "server/http/event_stream.h"
#include "server/http/http.h"
#include "server/http/response.h"
#include "server/server.h"

/* libmicrohttpd's query parameters for the documents. */
static const char *mhd_param(void *ctx, const char *key)
{
	return MHD_lookup_connection_value(ctx, MHD_GET_ARGUMENT_KIND, key);
}

struct each_param {
	int (*fn)(void *arg, const char *key);
	void *arg;
	int stopped;
};

static enum MHD_Result each_param_visit(void *cls, enum MHD_ValueKind kind, const char *key, const char *value)
{
	(void)kind;
	(void)value;
	struct each_param *e = cls;
	e->stopped = e->fn(e->arg, key);
	return e->stopped ? MHD_NO : MHD_YES;
}

/* Every query parameter of the request (api_params.each). */
static int mhd_each_param(void *ctx, int (*fn)(void *arg, const char *key), void *arg)
{
	struct each_param e = {fn, arg, 0};
	MHD_get_connection_values(ctx, MHD_GET_ARGUMENT_KIND, each_param_visit, &e);
	return e.stopped;
}

/* The API's documents (api_diag.h): JSON, text, or {"error": ...}. */
static enum MHD_Result serve_doc(struct server *s, struct MHD_Connection *conn, const char *url)
{
	struct api_params p = {mhd_param, conn, mhd_each_param};
	struct api_doc doc;
	api_doc_serve(s, url, &p, &doc);
	if (doc.status != 200)
		return response_error(conn, doc.status, "%s", doc.error);
	if (doc.json)
		return response_json(conn, MHD_HTTP_OK, doc.json);
	return response_body(conn, MHD_HTTP_OK, doc.content_type, doc.text, doc.len, MHD_RESPMEM_MUST_FREE);
}

enum MHD_Result routes_serve(struct server *s, struct event_streams *es, struct MHD_Connection *conn, const char *url)
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
	if (api_doc_handles(url))
		return serve_doc(s, conn, url);
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
