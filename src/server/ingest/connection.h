/*
 * connection.h - clients on the Unix socket: accepting them, cutting their
 * bytes into frames, queueing answers and closing them.
 *
 * This layer knows the wire (frame sizes, the 112/144-byte detection,
 * descriptors passed with SCM_RIGHTS) and nothing of what a frame means:
 * it hands each decoded frame to the owner's callbacks
 * (struct connection_callbacks, wired up in ingest.c) and the owner answers
 * with connection_send.
 *
 * Closing is never done under a callback's feet: connection_close called
 * while a frame is being handled (an answer that overflowed, a handler that
 * gives up on its peer) only marks the connection; the frame's handler
 * runs to its end (sends become no-ops), no further frame is handled, and
 * the close happens when the input callback returns. So handlers never
 * check whether their connection is still open. The memory is freed later
 * still, from connection_set_free_closed before the loop sleeps (a
 * descriptor of it may be in the loop's current batch).
 *
 * The owner embeds struct connection in its own client struct (first
 * member or not: container_of) and allocates it in `create`.
 *
 * Threading: the loop's thread only.
 */
#ifndef TTALLOC_INGEST_CONNECTION_H
#define TTALLOC_INGEST_CONNECTION_H

#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#include "common/log.h"
#include "common/protocol.h"
#include "common/unix_socket.h"
#include "server/event_loop.h"

struct connection;
struct connection_set;

/* What the owner of the connections does with them. */
struct connection_callbacks {
	/*
	 * A peer was accepted: allocates the owner's client struct with its
	 * embedded connection (zeroed) for `pid` and `uid` (SO_PEERCRED), or
	 * returns NULL with a reason in `why` (ERR_LEN) to refuse it.
	 */
	struct connection *(*create)(struct connection_set *set, pid_t pid, uid_t uid, char *why);
	/* One whole frame, decoded from the connection's wire format. */
	void (*on_frame)(struct connection *c, const struct proto_msg *msg);
	/* A batch of input was handled (the bytes of one read): e.g. print totals. */
	void (*after_input)(struct connection *c);
	/* The connection is closing: its last moment to be read. Not called again. */
	void (*on_close)(struct connection *c);
	/* Frees the owner's struct (from connection_set_free_closed). */
	void (*destroy)(struct connection *c);
};

/* One client connection. */
struct connection {
	struct event_handle handle;
	struct connection_set *set;
	pid_t pid; /* kernel identity (SO_PEERCRED) */
	uid_t uid;
	const struct proto_wire_format *wire;  /* frame size it speaks; NULL until its first frame tells */
	int wire_tentative;                    /* 112 was chosen from exactly 112 bytes: 32 zero bytes next mean 144 */
	uint8_t partial[PROTO_MAX_FRAME_SIZE]; /* bytes of an incomplete frame */
	uint32_t partial_len;
	char *out; /* answers not yet written */
	size_t out_len;
	size_t out_sent;
	size_t out_cap;
	uint32_t errors_logged;
	int fds[UNIX_SOCKET_MAX_FDS]; /* descriptors received (SCM_RIGHTS), for RING_ATTACH */
	int nfds;
	int handling; /* a frame is being handled: connection_close only marks */
	int closing;  /* connection_close was asked for during a frame */
	int closed;
	struct connection *prev, *next;
};

/* Limits of the connection layer (the server's options). */
struct connection_limits {
	uint32_t max_connections;
	uint64_t max_output_bytes; /* answers queued for one peer before it is dropped */
	uint32_t errors_logged_per_connection;
};

/* Every connection of a server, and the listener they come from. */
struct connection_set {
	struct event_loop *loop;
	const struct connection_callbacks *cb;
	void *owner; /* what the callbacks serve (the ingest layer) */
	struct connection_limits limits;
	uint64_t *error_counts; /* the owner's counters by enum proto_error_reason */
	struct event_handle listener;
	struct connection *open;
	struct connection *closed; /* freed before the loop sleeps */
	uint32_t count;
	int reserve_fd;             /* spare descriptor given up to refuse a client when out of fds */
	int accept_paused;          /* listener out of the epoll set: out of fds, no reserve */
	struct log_budget refusals; /* refused connections logged one by one per second */
	uint64_t accepted;
	uint64_t refused;
};

/*
 * Prepares an empty set (no listener yet). `error_counts` has
 * PROTO_ERR_COUNT counters, counted by connection_error.
 */
void connection_set_init(struct connection_set *set, struct event_loop *loop, const struct connection_callbacks *cb,
			 void *owner, const struct connection_limits *limits, uint64_t *error_counts);

/*
 * Accepts clients from the listening socket `fd` (non-blocking), which the
 * set then owns. Also opens the spare descriptor (/dev/null) given up to
 * refuse a client when the server is out of descriptors. Returns 0, or a
 * negative TTALLOC_E* code with the reason in `err` (ERR_LEN).
 */
int connection_set_listen(struct connection_set *set, int fd, char *err);

/*
 * Adopts an accepted (or socketpair) descriptor as a client connection:
 * reads the peer's kernel identity, asks the owner (create) and watches it
 * in the loop. Returns the connection, or NULL after closing fd and
 * counting why. Unit tests and fuzzers call it on a socketpair's end.
 */
struct connection *connection_open(struct connection_set *set, int fd);

/*
 * Splits received bytes into frames and hands each to on_frame, carrying
 * an incomplete tail to the next call. This is the whole input path after
 * read(); tests and fuzzers call it with any split of any bytes. Stops at
 * a close asked for during a frame, and performs it.
 */
void connection_feed(struct connection *c, const uint8_t *data, size_t len);

/* Queues a frame for the peer, writing at once when possible; a no-op once closing. */
void connection_send(struct connection *c, const struct proto_msg *msg);

/*
 * connection_send with what a 144-byte frame carries beyond proto_msg
 * (cb and kernel totals in RESPONSE); a 112-byte connection ignores it.
 */
void connection_send_extra(struct connection *c, const struct proto_msg *msg, const struct proto_answer_extra *extra);

/*
 * Counts an error of `reason` and logs it (up to the per-connection limit)
 * with the peer's real PID.
 */
void connection_error(struct connection *c, enum proto_error_reason reason, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));

/* Closes descriptors the client passed that no frame claimed. */
void connection_close_fds(struct connection *c);

/*
 * Closes a connection (on_close is called once), or, during a frame of its
 * own, marks it to be closed when the frame's handler returns.
 */
void connection_close(struct connection *c);

/* Closes every connection (server shutdown). */
void connection_set_close_all(struct connection_set *set);

/*
 * Before the loop sleeps: prints the summary of refusals not logged one by
 * one once their second is over, and frees the connections closed since.
 */
void connection_set_before_sleep(struct connection_set *set);

/* Closes the listener and the spare descriptor (every connection must be closed). */
void connection_set_release(struct connection_set *set);

#endif /* TTALLOC_INGEST_CONNECTION_H */
