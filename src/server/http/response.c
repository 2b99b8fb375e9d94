/*
 * response.c - answering an HTTP request (response.h).
 */
#include "server/http/response.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "model/model.h"

/* response_body, closing the connection after it when `close_after`. */
static enum MHD_Result queue_body(struct MHD_Connection *conn, unsigned status, const char *type, char *body,
				  size_t len, enum MHD_ResponseMemoryMode mode, int close_after)
{
	struct MHD_Response *resp = MHD_create_response_from_buffer(len, body, mode);
	if (!resp) {
		if (mode == MHD_RESPMEM_MUST_FREE)
			free(body);
		return MHD_NO;
	}
	if (close_after)
		MHD_add_response_header(resp, MHD_HTTP_HEADER_CONNECTION, "close");
	MHD_add_response_header(resp, MHD_HTTP_HEADER_CONTENT_TYPE, type);
	MHD_add_response_header(resp, MHD_HTTP_HEADER_CACHE_CONTROL, "no-store");
	MHD_add_response_header(resp, "X-Content-Type-Options", "nosniff");
	enum MHD_Result rc = MHD_queue_response(conn, status, resp);
	MHD_destroy_response(resp);
	return rc;
}

enum MHD_Result response_body(struct MHD_Connection *conn, unsigned status, const char *type, char *body, size_t len,
			      enum MHD_ResponseMemoryMode mode)
{
	return queue_body(conn, status, type, body, len, mode, 0);
}

enum MHD_Result response_json(struct MHD_Connection *conn, unsigned status, json_t *doc)
{
	char *text = doc ? json_dumps(doc, JSON_COMPACT | MODEL_REAL_PRECISION) : NULL;
	json_decref(doc);
	if (!text) {
		static char oom[] = "{\"error\": \"out of memory\"}";
		return response_body(conn, MHD_HTTP_INTERNAL_SERVER_ERROR, CT_JSON, oom, strlen(oom),
				     MHD_RESPMEM_PERSISTENT);
	}
	return response_body(conn, status, CT_JSON, text, strlen(text), MHD_RESPMEM_MUST_FREE);
}

/* {"error": message} with `status`, closing the connection after it when `close_after`. */
static enum MHD_Result queue_error(struct MHD_Connection *conn, unsigned status, int close_after, const char *fmt,
				   va_list ap)
{
	char message[256];
	vsnprintf(message, sizeof(message), fmt, ap);
	json_t *doc = json_pack("{s:s}", "error", message);
	char *text = doc ? json_dumps(doc, JSON_COMPACT | MODEL_REAL_PRECISION) : NULL;
	json_decref(doc);
	if (!text)
		return MHD_NO;
	return queue_body(conn, status, CT_JSON, text, strlen(text), MHD_RESPMEM_MUST_FREE, close_after);
}

enum MHD_Result response_error(struct MHD_Connection *conn, unsigned status, const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	enum MHD_Result rc = queue_error(conn, status, 0, fmt, ap);
	va_end(ap);
	return rc;
}

enum MHD_Result response_error_close(struct MHD_Connection *conn, unsigned status, const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	enum MHD_Result rc = queue_error(conn, status, 1, fmt, ap);
	va_end(ap);
	return rc;
}
