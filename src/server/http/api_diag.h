/*
 * api_diag.h - the API's documents by path: the picture (/api/devices,
 * /api/devices/<id>[/stats], /api/processes, /api/buffers, /api/leaks[/<id>],
 * /api/history, /healthz; api_json.c) and the diagnosis documents (issue
 * 13): post-mortems of allocation failures (/api/oom), misuse
 * (/api/misuse), marks and diffs (/api/marks, /api/diff), address maps
 * (/api/devices/<id>/map), snapshots (/api/snapshot) and exports
 * (/api/export/stacks, /api/export/trace).
 *
 * One implementation serves two transports: HTTP (routes.c reads the query
 * parameters from libmicrohttpd) and the socket's DOC_QUERY, for tt_smi and
 * the Python package (api_doc_document, installed by server.c as the ingest
 * layer's hook), so both read the same names (docs/DATA_MODEL.md). The
 * parameters come through struct api_params either way.
 *
 * Threading: the loop thread (they read the state directly).
 */
#ifndef TTALLOC_HTTP_API_DIAG_H
#define TTALLOC_HTTP_API_DIAG_H

#include <jansson.h>
#include <stddef.h>
#include <stdint.h>

struct server;

/*
 * Where a document's query parameters come from. api_doc_serve refuses
 * (400) a parameter the document never asked for: a misspelt one would
 * otherwise be ignored silently.
 */
struct api_params {
	const char *(*get)(void *ctx, const char *key); /* the value of `key`, or NULL when absent */
	void *ctx;
	/* calls fn(arg, key) for every parameter given, stopping when it returns non-zero; NULL: none */
	int (*each)(void *ctx, int (*fn)(void *arg, const char *key), void *arg);
};

/* A built document: JSON or text when status is 200, else an error message. */
struct api_doc {
	unsigned status; /* 200, 400, 404 or 500 */
	json_t *json;    /* the document, or NULL for a text one */
	char *text;      /* a text document (malloc'd), when json is NULL */
	size_t len;
	const char *content_type; /* of a text document */
	char error[256];          /* status != 200: why */
};

#define API_DIFF_DEFAULT_ITEMS 100u
#define API_DIFF_MAX_ITEMS 10000u
#define API_MAP_DEFAULT_BLOCKS 100u
#define API_SNAPSHOT_DEFAULT_BUFFERS 20000u
#define API_SNAPSHOT_MAX_BUFFERS 1000000u
/* /api/snapshot's "version": 2 has the data model's names (docs/DATA_MODEL.md); tt_smi --diff reads 1 too. */
#define API_SNAPSHOT_VERSION 2

/* 1 when `url` (a path, no query) is one of these documents. */
int api_doc_handles(const char *url);

/* Builds the document at `url` with parameters `p` into *doc (api_doc_release frees it). */
void api_doc_serve(struct server *s, const char *url, const struct api_params *p, struct api_doc *doc);

/* Frees a document's JSON or text. */
void api_doc_release(struct api_doc *doc);

/*
 * DOC_QUERY's hook (ingest.h's ingest_document_fn; `owner` is the server):
 * "path?a=1&b=2" (values URL-encoded) to the document's text (JSON
 * compact), or NULL with the reason in `err`.
 */
char *api_doc_document(void *owner, const char *path, size_t *len, char *err);

/* ---- shared by the files that build the documents ---- */

/* Sets doc's error status and message; returns -1. */
int api_doc_fail(struct api_doc *doc, unsigned status, const char *fmt, ...) __attribute__((format(printf, 3, 4)));

/*
 * Reads the decimal parameter `name` into *out: 1 when present and valid
 * (0..max), 0 when absent, -1 when bad (400 set in doc).
 */
int api_param_uint(const struct api_params *p, const char *name, uint64_t max, uint64_t *out, struct api_doc *doc);

/* device= (one of the server's devices; *device -1 when absent): 0, or -1 with a 400. */
int api_param_device(struct server *s, const struct api_params *p, int *device, struct api_doc *doc);

/* pid= (*pid 0 when absent): 0, or -1 with a 400. */
int api_param_pid(const struct api_params *p, pid_t *pid, struct api_doc *doc);

/*
 * type= as a buffer type ("dram", "l1", "l1_small", "trace", ... any case;
 * *type -1 when absent): 0, or -1 with a 400.
 */
int api_param_type(const struct api_params *p, int *type, struct api_doc *doc);

struct process_record;
struct live_buffer;

/* Calls fn for every live buffer (not CB or kernel records) of every process, with its process. */
void api_each_buffer(struct server *s, void (*fn)(struct process_record *rec, const struct live_buffer *b, void *ctx),
		     void *ctx);

/* A pooled stack (stack_pool.h) as JSON frames, or null. */
json_t *api_stack_json(struct server *s, uint32_t pool_id);

/* The documents, one per endpoint (api_diag.c, api_diff.c, api_export.c). */
/* api_json.c: the picture (api.h's builders, with their parameters) */
void api_devices_doc(struct server *s, const char *rest, const struct api_params *p, struct api_doc *doc);
void api_processes_doc(struct server *s, const char *rest, const struct api_params *p, struct api_doc *doc);
void api_buffers_doc(struct server *s, const char *rest, const struct api_params *p, struct api_doc *doc);
void api_leaks_doc(struct server *s, const char *rest, const struct api_params *p, struct api_doc *doc);
void api_history_doc(struct server *s, const char *rest, const struct api_params *p, struct api_doc *doc);
void api_health_doc(struct server *s, const char *rest, const struct api_params *p, struct api_doc *doc);
void api_oom(struct server *s, const char *rest, const struct api_params *p, struct api_doc *doc);
void api_misuse(struct server *s, const char *rest, const struct api_params *p, struct api_doc *doc);
void api_marks(struct server *s, const char *rest, const struct api_params *p, struct api_doc *doc);
void api_diff(struct server *s, const char *rest, const struct api_params *p, struct api_doc *doc);
void api_snapshot(struct server *s, const char *rest, const struct api_params *p, struct api_doc *doc);
void api_map(struct server *s, const char *rest, const struct api_params *p, struct api_doc *doc);
void api_export_stacks(struct server *s, const char *rest, const struct api_params *p, struct api_doc *doc);
void api_export_trace(struct server *s, const char *rest, const struct api_params *p, struct api_doc *doc);

#endif /* TTALLOC_HTTP_API_DIAG_H */
