/*
 * client.h - a client of the binary protocol as the handlers see it: its
 * connection (connection.h), its process record in the registry and what
 * it negotiated (HELLO, the ring), plus the checks and answers every
 * handler shares.
 */
#ifndef TTALLOC_INGEST_CLIENT_H
#define TTALLOC_INGEST_CLIENT_H

#include <stddef.h>
#include <stdint.h>

#include "server/ingest/connection.h"
#include "server/ingest/ingest.h"

struct client {
	struct connection conn; /* embedded: connection.c knows only this */
	struct ingest *ingest;
	uint32_t proc;                      /* registry process record */
	uint32_t hello_version;             /* 0 until the client says HELLO */
	int limit_logged;                   /* the --max-buffers-per-process refusal was logged */
	uint8_t source;                     /* its reporting instance in the process (registry.h), 0: none said */
	uint32_t epoch;                     /* HELLO's epoch of that instance */
	int superseded;                     /* a newer connection of the same instance replaced it */
	int said_goodbye;                   /* GOODBYE: it closes on purpose */
	int announced;                      /* its "📥 New connection" line was printed (it reports) */
	int log_level;                      /* enum log_level its HELLO asked for (TT_METAL_LOGGER_LEVEL), -1: none */
	struct ring_consumer *ring;         /* the shared-memory fast path, when negotiated */
	struct ring_consumer *ring_retired; /* detached at close, freed with the client */
};

/* The client a connection belongs to. */
static inline struct client *client_of(struct connection *c)
{
	return (struct client *)((char *)c - offsetof(struct client, conn));
}

/* The state the client's messages change and read. */
static inline struct state *client_state(struct client *cl)
{
	return cl->ingest->state;
}

/* connection_error for the client's connection. */
#define client_error(cl, reason, ...) connection_error(&(cl)->conn, (reason), __VA_ARGS__)

/* Queues an answer frame. */
static inline void client_send(struct client *cl, const struct proto_msg *msg)
{
	connection_send(&cl->conn, msg);
}

/*
 * The client reports (ALLOC, FREE, CB, kernels, stacks, a ring): prints the
 * seed's "📥 New connection" line once and marks its process as one that
 * reports. Connections that only query are logged at debug level.
 */
void client_announce(struct client *cl);

/*
 * 1 when lines about this client's own events are logged at `level`: the
 * server's level allows it, or the client asked for it in HELLO (its
 * TT_METAL_LOGGER_LEVEL, as the seed's "Enable Detailed Logging" does).
 */
static inline int client_logs(const struct client *cl, enum log_level level)
{
	return log_enabled(level) || (int)level <= cl->log_level;
}

/* The device a message names, or NULL after counting and logging a bad_device error. */
struct device *client_valid_device(struct client *cl, const struct proto_msg *msg);

/*
 * 1 when a message's process_id is 0 (unknown) or the sender's own pid;
 * else counts and logs a pid_mismatch and returns 0.
 */
int client_valid_pid_field(struct client *cl, const struct proto_msg *msg);

/*
 * 1 when a request names an existing device or -1 (all); else counts the
 * bad_device error and answers ERROR instead.
 */
int client_device_or_all(struct client *cl, const struct proto_msg *msg);

/* Answers a refused request with ERROR(reason, code) naming the request. */
void client_send_error(struct client *cl, const struct proto_msg *msg, enum proto_error_reason reason, int code);

/* Answers a refused request with ERROR(reason, code) and `text` as its message (cut to 63 bytes). */
void client_send_error_text(struct client *cl, const struct proto_msg *msg, enum proto_error_reason reason, int code,
			    const char *text);

/*
 * The text payload of a MARK, STACK_TEXT or DOC_QUERY (u.text) when it is
 * a valid one (proto_text_valid); else counts and logs a bad_text error
 * naming `what` and returns NULL.
 */
const char *client_valid_text(struct client *cl, const struct proto_msg *msg, const char *what);

/*
 * One STACK_DEF or STACK_TEXT frame (`define` is stacks_define or
 * stacks_define_text), into the sender's stacks, created on first use; a
 * malformed frame is counted (bad_stack).
 */
void client_define_stack(struct client *cl, const struct proto_msg *msg,
			 int (*define)(struct process_stacks *ps, const struct proto_msg *msg, const char **why));

/* Ends a series of rows with ROWS_END(count). */
void client_send_rows_end(struct client *cl, uint64_t count);

#endif /* TTALLOC_INGEST_CLIENT_H */
