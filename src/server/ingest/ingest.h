/*
 * ingest.h - the binary protocol's side of the server: clients on the Unix
 * socket (connection.h), their shared-memory rings (ring_consumer.h) and
 * what each message does to the state or answers from it (dispatch.c,
 * events.c, queries.c, control.c).
 *
 * Layers, each knowing only the one below:
 *
 *     connection.c, ring_consumer.c   bytes and ring slots -> frames/events
 *              | callbacks (on_frame, on_close, apply), wired in ingest.c
 *     dispatch.c                      PROTO_MESSAGE_MAP -> on_<name>; drains
 *                                     the rings before a request that reads
 *                                     the registry
 *     events.c queries.c control.c    the handlers
 *              |
 *     server/state/                   the picture they change and read
 *
 * Threading: the loop's thread only.
 */
#ifndef TTALLOC_INGEST_H
#define TTALLOC_INGEST_H

#include <stdint.h>

#include "common/log.h"
#include "common/protocol.h"
#include "server/event_loop.h"
#include "server/ingest/connection.h"
#include "server/ingest/departures.h"
#include "server/ingest/ring_consumer.h"
#include "server/state/state.h"

/* Counters since start-up (served by /metrics). */
struct ingest_stats {
	uint64_t frames[256];             /* frames and ring events received, by type */
	uint64_t errors[PROTO_ERR_COUNT]; /* refused or wrong events, by reason */
	uint64_t superseded;              /* connections a newer one of the same client replaced */
};

/* The options of the server that concern the protocol. */
struct ingest_config {
	struct connection_limits limits;
	uint64_t max_buffers_per_process; /* live buffers one process may hold (--max-buffers-per-process) */
};

/*
 * Builds one of the HTTP API's documents for DOC_QUERY ("/api/oom?limit=1"):
 * returns its malloc'd text and length, or NULL with the reason in `err`
 * (ERR_LEN bytes). The layer above (server.c) installs it: the documents
 * are http/'s, which this layer does not call directly.
 */
typedef char *(*ingest_document_fn)(void *owner, const char *path, size_t *len, char *err);

struct ingest {
	struct state *state;         /* what events change and queries read */
	ingest_document_fn document; /* DOC_QUERY's documents, or NULL (then refused) */
	void *document_owner;
	struct ingest_config config;
	struct connection_set conns;  /* clients on the socket */
	struct ring_set rings;        /* their shared-memory rings */
	struct departures departures; /* processes that lost their connection while running */
	struct ingest_stats stats;
	struct log_budget event_lines; /* ALLOC/FREE lines printed per second */
	uint8_t http_state;            /* enum proto_http_state, for HELLO_ACK (server.c keeps it current) */
	uint16_t http_port;
	int stopping; /* shutting down: clients are alive, no leak reports */
};

/* Prepares the protocol side over `st` on `loop`; nothing is listening yet. */
void ingest_init(struct ingest *in, struct state *st, struct event_loop *loop, const struct ingest_config *cfg);

/*
 * Accepts clients from the listening Unix socket `fd` (which it then owns).
 * Returns 0, or a negative TTALLOC_E* code with the reason in `err`.
 */
int ingest_listen(struct ingest *in, int fd, char *err);

/*
 * Adopts one end of a socketpair (or an accepted descriptor) as a client:
 * for unit tests and fuzzers. Returns its connection, or NULL (counted).
 */
struct connection *ingest_adopt(struct ingest *in, int fd);

/* Applies every event still in a ring (before anything reads the registry). */
void ingest_drain(struct ingest *in);

/*
 * Ends a batch of changes (after each read of a client's input, and
 * before the loop sleeps): prints the "└─ Device N total" line of each
 * device changed since the last call and the summary of event lines over
 * the per-second budget, and counts one change batch for /api/events.
 */
void ingest_end_batch(struct ingest *in);

/*
 * Before the loop sleeps: polls the rings, prints the totals of devices
 * changed since the last call and the refusal summary, frees closed
 * connections. Returns the timeout the loop should wait at most (ms; -1:
 * until an event).
 */
int ingest_before_sleep(struct ingest *in);

/*
 * Closes every client without leak reports (the server stops; clients keep
 * their tables and resync with the next server), then frees the set and
 * the rings.
 */
void ingest_release(struct ingest *in);

#endif /* TTALLOC_INGEST_H */
