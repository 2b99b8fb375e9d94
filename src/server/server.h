/*
 * server.h - the allocation server, wired together: the event loop, the
 * picture (state/), the binary protocol (ingest/), HTTP (http/), systemd
 * and the timers. server.c is the only file that knows all of them; each
 * layer below knows only the layers under it (docs/DESIGN.md has the
 * picture).
 *
 * Threading: everything runs on the loop's thread.
 */
#ifndef TTALLOC_SERVER_H
#define TTALLOC_SERVER_H

#include <stdint.h>

#include "server/event_loop.h"
#include "server/http/limits.h"
#include "server/http/web_config.h"
#include "server/ingest/ingest.h"
#include "server/options.h"
#include "server/state/state.h"
#include "server/systemd.h"

struct http_server;

struct server {
	struct server_options opts;
	struct event_loop *loop;
	struct state state;               /* the picture (state/state.h) */
	struct ingest ingest;             /* clients and their rings (ingest/ingest.h) */
	struct http_server *http;         /* NULL with --no-http */
	struct http_limits http_limits;   /* HTTP connection budgets and refusals (http/limits.h) */
	struct web_config web;            /* --web-config (TLS, users), read once before the banner */
	struct systemd_state systemd;     /* socket activation, sd_notify, watchdog (systemd.h) */
	struct event_handle signals;      /* SIGINT, SIGTERM */
	struct event_timer history_timer; /* samples the history, refreshes the kernel's holders */
	struct event_timer ttmetal_timer; /* scans tt-metal's shared-memory regions */
	struct event_timer http_retry;    /* the HTTP port was in use at start-up: tries it again */
	uint32_t http_failures;           /* tries that found the port in use */
	char http_error[ERR_LEN];         /* why the last try failed */
	uint64_t start_ns;                /* CLOCK_MONOTONIC at start-up */
	uint64_t start_real_ns;           /* CLOCK_REALTIME at start-up (ttalloc_server_start_time_seconds) */
	int running;                      /* server_start succeeded */
};

/*
 * The picture and the protocol on a new event loop, without a socket,
 * timers, signals or HTTP: what server_start builds first, and all that
 * unit tests and fuzzers need (they adopt socketpairs with ingest_adopt).
 * Reads --web-config too (TTALLOC_EINVAL when it cannot work), so that it
 * is refused before anything is printed. Returns 0, or a negative
 * TTALLOC_E* code with the reason in `err`; server_core_close undoes it
 * either way.
 */
int server_core_open(struct server *s, const struct server_options *opts, char *err);

/* Closes every client (no leak reports: the server stops) and frees the core. */
void server_core_close(struct server *s);

/*
 * Opens devices, the socket, HTTP and signal handling, and prints the
 * start-up banner. `opts` passed server_options_check. Returns 0, or a
 * negative TTALLOC_E* code with the reason in `err` (ERR_LEN):
 * TTALLOC_EINVAL when the devices cannot be opened as the options say,
 * before anything was printed (the configuration is wrong); any other code
 * is a failure of another kind (out of memory, or after the banner). server_stop cleans up either way.
 */
int server_start(struct server *s, const struct server_options *opts, char *err);

/* Runs until SIGINT/SIGTERM. Returns 0, or -1 on a fatal loop error. */
int server_run(struct server *s);

/* Closes every connection (no leak reports), removes the socket, frees all. */
void server_stop(struct server *s);

#endif /* TTALLOC_SERVER_H */
