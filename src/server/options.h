/*
 * options.h - ttalloc-server's options: defaults, the command line and the
 * environment variables that set defaults ($TT_ALLOC_SERVER_SOCKET,
 * $TTALLOC_HTTP, $TTALLOC_HW_ROOT, $TT_METAL_LOGGER_LEVEL). Parsing never
 * prints or exits (common/cli.h), so tests can call it.
 */
#ifndef TTALLOC_SERVER_OPTIONS_H
#define TTALLOC_SERVER_OPTIONS_H

#include <stdint.h>
#include <stdio.h>
#include <sys/types.h>

#include "common/log.h"

/* --metrics-processes: which processes get per-process series in /metrics. */
enum metrics_processes_mode {
	METRICS_PROCESSES_TOP = 0, /* top:N by device memory per device, the rest summed in pid="other" */
	METRICS_PROCESSES_ALL,     /* every process (series grow with the processes) */
	METRICS_PROCESSES_NONE,    /* none: device totals only */
};

/* --metrics-labels: extra labels of the per-process series (bits). */
enum metrics_label {
	METRICS_LABEL_POD = 1u << 0,
	METRICS_LABEL_NAMESPACE = 1u << 1,
	METRICS_LABEL_CONTAINER = 1u << 2,
};

#define METRICS_DEFAULT_TOP 50
#define METRICS_MAX_TOP 100000

struct server_options {
	const char *socket_path;
	const char *devices;      /* --devices selection */
	const char *hw_root;      /* --hw-root: prefix of /sys, /proc, /dev for device backends */
	mode_t socket_mode;       /* permissions of the socket file */
	const char *socket_group; /* group given the socket, or NULL */
	gid_t socket_gid;         /* --group's gid, set by server_options_check; (gid_t)-1: none */
	uint32_t leak_lines;      /* buffer lines printed per leak report */
	uint32_t leak_history;    /* reports kept */
	uint32_t max_connections;
	uint64_t max_buffers_per_process; /* live buffers one process may hold (--max-buffers-per-process) */
	uint32_t errors_logged_per_connection;
	uint64_t max_output_bytes;    /* answers queued for one peer before it is dropped */
	const char *http_listen;      /* --http ADDR:PORT (default 127.0.0.1:8080) */
	int http_enabled;             /* 0 with --no-http */
	int http_required;            /* --http-required: a taken port is a start-up error (else: retried) */
	uint32_t history_interval_ms; /* --history-interval: ms between samples */
	uint32_t history_samples;     /* --history-samples: samples kept */
	int ttmetal_shm;              /* read tt-metal's /dev/shm regions (0 with --no-tt-metal-shm) */
	int retain_leaks;             /* leaks stay in the totals: --retain-leaks, or $CI set (the default in CI) */
	const char *hostname; /* --hostname: the host's name in /metrics, the API and simulated ids (NULL: gethostname) */
	enum metrics_processes_mode metrics_processes; /* --metrics-processes all|top:N|none */
	uint32_t metrics_top;                          /* N of top:N */
	uint32_t metrics_labels;                       /* --metrics-labels: enum metrics_label bits */
	const char *web_config;        /* --web-config FILE: TLS and basic auth (exporter-toolkit's format), or NULL */
	uint32_t http_max_connections; /* --http-max-connections: HTTP connections at once */
	uint32_t http_max_per_client;  /* --http-max-per-client: connections from one address at once */
	uint32_t http_timeout_s;       /* --http-timeout: idle seconds before a connection is closed */
	int log_level_set;             /* --quiet, --log-level or $TT_METAL_LOGGER_LEVEL chose log_level */
	enum log_level log_level;
};

/* The defaults, without the environment. */
void server_options_defaults(struct server_options *opts);

/*
 * Reads the environment's defaults, then the command line. Returns CLI_RUN,
 * CLI_HELP or CLI_VERSION (common/cli.h), or a negative TTALLOC_E* code
 * with the reason in `err` (ERR_LEN). Strings point into argv and environ.
 */
int server_options_parse(struct server_options *opts, int argc, char **argv, char *err);

/*
 * Checks what the options name, before the server prints or opens
 * anything, so that a mistake is one line and exit 2: the --http address,
 * the --group (its gid goes into opts->socket_gid) and, unless systemd
 * passes the socket (`socket_from_systemd`), the socket path: its length
 * and its directory (unix_socket_check_path). The devices are checked by
 * opening them (server_start, still before the banner). Returns 0 or
 * TTALLOC_EINVAL with the reason in `err` (ERR_LEN).
 */
int server_options_check(struct server_options *opts, int socket_from_systemd, char *err);

/* The usage text. */
void server_options_usage(FILE *out);

#endif /* TTALLOC_SERVER_OPTIONS_H */
