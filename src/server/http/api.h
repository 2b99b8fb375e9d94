/*
 * api.h - what the HTTP endpoints serve, built from the server's live state:
 * JSON documents (api_json.c, with jansson) and the Prometheus text
 * exposition (metrics.c).
 *
 * Threading: every function here reads the registry, the leak history and
 * the history directly, so it must run on the server's loop thread (http.c
 * calls them from libmicrohttpd callbacks that run there). They allocate
 * their result and never change the registry.
 */
#ifndef TTALLOC_API_H
#define TTALLOC_API_H

#include <jansson.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

struct server;

/* Largest page of /api/buffers, and the page given when `limit` is absent. */
#define API_BUFFERS_MAX_LIMIT 1000u
#define API_BUFFERS_DEFAULT_LIMIT 100u
/* Leaked buffers listed per report in /api/leaks (the totals count all). */
#define API_LEAK_BUFFERS_LISTED 20u
/* Most points per series in /api/history: longer spans are downsampled (max per bucket). */
#define API_HISTORY_MAX_POINTS 3600u
#define API_HISTORY_DEFAULT_POINTS 600u

/* Filters of /api/buffers. */
struct api_buffer_query {
	int device;     /* -1: every device */
	pid_t pid;      /* 0: every process */
	uint64_t limit; /* 1..API_BUFFERS_MAX_LIMIT */
	uint64_t offset;
};

/* /api/leaks/<id>: one kept report and a page of its kept buffers. */
struct api_leak_query {
	uint64_t id;
	uint64_t limit;  /* 0..API_BUFFERS_MAX_LIMIT */
	uint64_t offset; /* into the report's kept buffers, oldest first */
};

/* Filters of /api/history. */
struct api_history_query {
	int device;       /* -1: every device */
	pid_t pid;        /* 0: every process */
	uint64_t seconds; /* span back from the newest sample; 0: everything kept */
	uint32_t points;  /* most points per series, 1..API_HISTORY_MAX_POINTS */
};

/* GET /api/devices: array of device objects (model_device_json, and ttmetal_shm). */
json_t *api_devices(struct server *s);

/* One device object of /api/devices; `device` must exist. */
json_t *api_device(struct server *s, int device);

/* GET /api/devices/<id>/stats: the seed's object; `device` must exist. */
json_t *api_device_stats(struct server *s, int device);

/* GET /api/processes: every process the server knows, with its use per device. */
json_t *api_processes(struct server *s);

/* GET /api/buffers: a page of live buffers. */
json_t *api_buffers(struct server *s, const struct api_buffer_query *q);

/* GET /api/leaks: leak reports kept since start-up, newest first, and the totals. */
json_t *api_leaks(struct server *s);

/*
 * GET /api/leaks/<id>: the report numbered `id` with a page of its kept
 * buffers, or NULL when no such report is kept (never made, or aged out).
 */
json_t *api_leak(struct server *s, const struct api_leak_query *q);

/* GET /api/history: time series per device and per (process, device). */
json_t *api_history(struct server *s, const struct api_history_query *q);

/* GET /healthz. */
json_t *api_health(struct server *s);

/* Data of one /api/events event: the change number, devices and counts. */
json_t *api_event(struct server *s, uint64_t seq);

/*
 * GET /metrics: the Prometheus text exposition (format 0.0.4). Returns a
 * malloc'd NUL-terminated text and its length in *len, or NULL when out of
 * memory.
 */
char *metrics_render(struct server *s, size_t *len);

/*
 * Escapes a label value for the exposition format (\ to \\, " to \", newline
 * to \n) into dst (always NUL-terminated). Returns the length the escaped
 * value has, which may exceed cap - 1 (then it was cut).
 */
size_t metrics_escape_label(char *dst, size_t cap, const char *value);

#endif /* TTALLOC_API_H */
