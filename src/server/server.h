/*
 * server.h - the allocation server: one event loop that accepts clients,
 * turns their frames into registry changes and answers their queries.
 *
 * Threading: everything here runs on the loop's thread.
 */
#ifndef TTALLOC_SERVER_H
#define TTALLOC_SERVER_H

#include <stdint.h>
#include <sys/types.h>

#include "device.h"
#include "event_loop.h"
#include "history.h"
#include "holders_view.h"
#include "leaks.h"
#include "log.h"
#include "protocol.h"
#include "registry.h"
#include "ring_consumer.h"
#include "systemd.h"
#include "ttmetal.h"
#include "unix_socket.h"

struct server_options {
	const char *socket_path;
	const char *devices;      /* --devices selection */
	const char *hw_root;      /* --hw-root: prefix of /sys, /proc, /dev for device backends */
	mode_t socket_mode;       /* permissions of the socket file */
	const char *socket_group; /* group given the socket, or NULL */
	uint32_t leak_lines;      /* buffer lines printed per leak report */
	uint32_t leak_history;    /* reports kept */
	uint32_t max_connections;
	uint64_t max_buffers_per_process; /* live buffers one process may hold (--max-buffers-per-process) */
	uint32_t errors_logged_per_connection;
	uint64_t max_output_bytes; /* answers queued for one peer before it is dropped */
	const char *http_listen;   /* --http ADDR:PORT (default 127.0.0.1:8080) */
	int http_enabled;          /* 0 with --no-http */
	uint32_t history_interval_ms; /* --history-interval: ms between samples */
	uint32_t history_samples;  /* --history-samples: samples kept */
	int ttmetal_shm;           /* read tt-metal's /dev/shm regions (0 with --no-tt-metal-shm) */
};

/* Counters since start-up (later served by /metrics). */
struct server_stats {
	uint64_t frames[256];               /* frames received, by type */
	uint64_t errors[PROTO_ERR_COUNT];   /* refused or wrong events, by reason */
	uint64_t connections_accepted;
	uint64_t connections_refused;
};

/* One client connection. */
struct connection {
	struct event_handle handle;
	struct server *server;
	pid_t pid;       /* kernel identity (SO_PEERCRED) */
	uid_t uid;
	uint32_t proc;   /* registry process record */
	uint32_t hello_version; /* 0 until the client says HELLO */
	const struct proto_wire_format *wire; /* frame size it speaks; NULL until its first frame tells */
	int wire_tentative; /* 112 was chosen from exactly 112 bytes: 32 zero bytes next mean 144 */
	uint8_t partial[PROTO_MAX_FRAME_SIZE]; /* bytes of an incomplete frame */
	uint32_t partial_len;
	char *out;       /* answers not yet written */
	size_t out_len;
	size_t out_sent;
	size_t out_cap;
	uint32_t errors_logged;
	int limit_logged; /* the --max-buffers-per-process refusal was logged */
	struct ring_consumer *ring; /* the shared-memory fast path, when negotiated */
	struct ring_consumer *ring_retired; /* detached at close, freed with the connection */
	int fds[UNIX_SOCKET_MAX_FDS]; /* descriptors received (SCM_RIGHTS), for RING_ATTACH */
	int nfds;
	int closed;
	struct connection *prev, *next;
};

struct server {
	struct server_options opts;
	struct event_loop *loop;
	struct event_handle listener;
	struct event_handle signals;
	struct device_set devices;
	struct registry registry;
	struct leak_history leaks;
	struct server_stats stats;
	struct connection *connections;  /* open */
	struct connection *closed;       /* freed before the loop sleeps */
	uint32_t connection_count;
	int reserve_fd;                  /* spare descriptor given up to refuse a client when out of fds */
	int accept_paused;               /* listener out of the epoll set: out of fds, no reserve */
	struct log_budget refusals;      /* refused connections logged one by one per second (connection.c) */
	struct log_budget event_lines;   /* ALLOC/FREE lines printed per second (handlers.c) */
	uint64_t touched_devices;        /* bit per device changed in this batch */
	uint64_t change_seq;             /* batches that changed the registry (for /api/events) */
	struct http_server *http;        /* NULL with --no-http */
	struct history history;          /* sampled by history_timer */
	struct systemd_state systemd;    /* socket activation, sd_notify, watchdog (systemd.h) */
	struct holders_view holders;     /* the kernel's view of who holds each device (holders.c) */
	struct event_timer history_timer;
	struct ttmetal_view ttmetal;     /* tt-metal's shared-memory statistics (ttmetal.h) */
	struct ring_set rings;           /* clients' shared-memory rings (ring_consumer.h) */
	uint64_t readings_ns[PROTO_MAX_DEVICES]; /* CLOCK_MONOTONIC of each device's last refresh */
	uint64_t start_ns;               /* CLOCK_MONOTONIC at start-up */
	int stopping;                    /* shutting down: clients are alive, no leak reports */
};

/* Options with their defaults. */
void server_options_defaults(struct server_options *opts);

/*
 * Opens devices, the socket and signal handling, and prints the start-up
 * banner. Returns 0, or -1 after printing why to stderr.
 */
int server_start(struct server *s, const struct server_options *opts);

/* Runs until SIGINT/SIGTERM. Returns 0, or -1 on a fatal loop error. */
int server_run(struct server *s);

/* Closes every connection (reporting leaks), removes the socket, frees all. */
void server_stop(struct server *s);

/* ---- connection.c ---- */

/* Accepts pending connections (listener callback). */
void connection_accept(struct event_loop *loop, struct event_handle *handle, uint32_t events);

/*
 * Adopts an accepted (or socketpair) fd as a client connection: reads the
 * peer's kernel identity, attaches it to the registry and watches it in the
 * loop. Returns the connection, or NULL after closing fd and counting why
 * (limit, out of memory, no credentials). connection_accept calls it; unit
 * tests and the fuzzer call it on one end of a socketpair.
 */
struct connection *connection_open(struct server *s, int fd);

/*
 * Splits received bytes into frames and applies each (handle_frame),
 * carrying an incomplete tail to the next call. This is the whole input
 * path after read(); read_input calls it, and so do the tests and the
 * fuzzer, with any split of any bytes. Stops when the connection closes.
 */
void connection_feed(struct connection *c, const uint8_t *data, size_t len);

/* Queues a frame for the peer, writing at once when possible. */
void connection_send(struct connection *c, const struct proto_msg *msg);

/*
 * connection_send with what a 144-byte frame carries beyond proto_msg
 * (cb and kernel totals in RESPONSE); a 112-byte connection ignores it.
 */
void connection_send_extra(struct connection *c, const struct proto_msg *msg, const struct proto_answer_extra *extra);

/*
 * Opens the spare descriptor (/dev/null) that connection_accept gives up to
 * refuse a client when the server is out of descriptors. Returns it, or -1.
 */
int connection_reserve_fd(struct server *s);

/*
 * Prints the summary of refusals not logged one by one once their second is
 * over (from before_sleep, so a summary is never held back for long).
 */
void connection_log_refusals(struct server *s);

/* Closes descriptors the client passed that no frame claimed. */
void connection_close_fds(struct connection *c);

/* Closes a connection; when it was its process's last, reports leaks. */
void connection_close(struct connection *c);

/* Frees connections closed during the last batch. */
void connection_free_closed(struct server *s);

/*
 * Counts an error of `reason` against the connection and logs it (up to the
 * per-connection limit) with the peer's real PID.
 */
void connection_error(struct connection *c, enum proto_error_reason reason, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));

/* ---- handlers.c ---- */

/* Applies one complete frame from a connection. */
void handle_frame(struct connection *c, const struct proto_msg *msg);

/*
 * An ALLOC (from a frame or the ring): validates it, records the buffer as
 * allocated at `alloc_mono_ns` (CLOCK_MONOTONIC) and counts any mistake.
 */
void handle_alloc(struct connection *c, const struct proto_msg *msg, uint64_t alloc_mono_ns);

/* A FREE (from a frame or the ring): validates it, releases the buffer, counts any mistake. */
void handle_free(struct connection *c, const struct proto_msg *msg);

/* Prints the "└─ Device N total" line for each device changed since the last call. */
void handle_print_totals(struct server *s);

/* Builds, prints and stores the leak report of a process, then drops it. */
void handle_process_exit(struct server *s, uint32_t proc);

/* ---- holders.c: who holds each device, the kernel's view against ours ---- */

/* Scans the kernel's holders again when the last scan is a second old (history timer). */
void server_holders_tick(struct server *s);

/* The last scan, made now when there is none or it is over 2 s old. */
const struct holders_view *server_holders_view(struct server *s);

/* 1 when the kernel can tell who holds `device` (holders_view_available). */
int server_holders_available(const struct server *s, int device);

/*
 * The processes of `device`: those with live buffers there (TRACKED, or
 * VANISHED when an authoritative driver list that was read after they
 * reported no longer has them) and the kernel's holders that never reported
 * (UNTRACKED; a process that reports to us but holds nothing on `device` is
 * left out), with name and uid. Returns a malloc'd array and its length in
 * *count, or NULL with *count 0 (no rows, or out of memory).
 */
struct holder_entry *server_holder_rows(struct server *s, int device, int *count);

/* server_holder_rows of every device that has a kernel's view, in device order. */
struct holder_entry *server_holder_rows_all(struct server *s, int *count);

/* Frees the cached view. */
void server_holders_release(struct server *s);

/* ---- queries.c: HOLDER_QUERY and HISTORY_QUERY ---- */

void handle_holder_query(struct connection *c, const struct proto_msg *msg);
void handle_history_query(struct connection *c, const struct proto_msg *msg);

#endif /* TTALLOC_SERVER_H */
