/*
 * routes.h - which endpoint answers which URL: the dashboard, /metrics,
 * /healthz, the JSON API (api.h) and the event stream (event_stream.h).
 */
#ifndef TTALLOC_HTTP_ROUTES_H
#define TTALLOC_HTTP_ROUTES_H

#include <microhttpd.h>

struct server;
struct event_streams;

/*
 * Answers a GET (or HEAD) of `url`. Every endpoint that reads the picture
 * first applies the events still in the shared-memory rings, so an answer
 * reflects every event reported before the request.
 */
enum MHD_Result routes_serve(struct server *s, struct event_streams *es, struct MHD_Connection *conn, const char *url);

#endif /* TTALLOC_HTTP_ROUTES_H */
