/*
 * response.h - answering an HTTP request (libmicrohttpd): bodies, JSON
 * documents, errors as {"error": ...}, and the query parameters every
 * endpoint parses the same way.
 */
#ifndef TTALLOC_HTTP_RESPONSE_H
#define TTALLOC_HTTP_RESPONSE_H

#include <jansson.h>
#include <microhttpd.h>
#include <stddef.h>
#include <stdint.h>

#define CT_JSON "application/json; charset=utf-8"
#define CT_METRICS "text/plain; version=0.0.4; charset=utf-8"
#define CT_HTML "text/html; charset=utf-8"
#define CT_EVENTS "text/event-stream; charset=utf-8"

/*
 * Queues `len` bytes of `body` with status and content type (no caching,
 * nosniff). `mode` says who frees the body (MHD_RESPMEM_MUST_FREE: freed
 * here, also on failure).
 */
enum MHD_Result response_body(struct MHD_Connection *conn, unsigned status, const char *type, char *body, size_t len,
			      enum MHD_ResponseMemoryMode mode);

/* Queues a JSON document (taking the reference), or 500 when it could not be built. */
enum MHD_Result response_json(struct MHD_Connection *conn, unsigned status, json_t *doc);

/* Queues {"error": message} with `status`. */
enum MHD_Result response_error(struct MHD_Connection *conn, unsigned status, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));

/* response_error with "Connection: close": the client is refused, its connection is not kept. */
enum MHD_Result response_error_close(struct MHD_Connection *conn, unsigned status, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));

#endif /* TTALLOC_HTTP_RESPONSE_H */
