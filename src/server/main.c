/*
 * main.c - ttalloc-server: command line of the allocation server.
 * Also installed as build/programming_examples/allocation_server_poc.
 */
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "format.h"
#include "log.h"
#include "server.h"

#ifndef TTALLOC_VERSION
#define TTALLOC_VERSION "0.1.0"
#endif

static void usage(FILE *out)
{
	fprintf(out,
		"Usage: ttalloc-server [OPTIONS]\n"
		"Keeps the live picture of device memory per device, process and buffer.\n\n"
		"  -s, --socket PATH        listen on PATH (default $TT_ALLOC_SERVER_SOCKET or\n"
		"                           /tmp/tt_allocation_server.sock)\n"
		"  -d, --devices SEL        auto (default: hardware when found, else sim),\n"
		"                           sim, sim:N, sim:N:ARCH (ARCH: wormhole_b0,\n"
		"                           blackhole, grayskull), tenstorrent, nvml\n"
		"      --hw-root DIR        read /sys, /proc and /dev under DIR (default\n"
		"                           $TTALLOC_HW_ROOT or /): fixture trees for tests\n"
		"  -q, --quiet              no per-event lines; leaks and errors only\n"
		"  -l, --log-level LEVEL    error, warn, info (default), debug;\n"
		"                           default from $TT_METAL_LOGGER_LEVEL when set\n"
		"      --socket-mode MODE   permissions of the socket file (octal, default 0660)\n"
		"      --group NAME         group owning the socket file (with 0660: who may connect)\n"
		"      --leak-lines N       buffer lines printed per leak report (default 100)\n"
		"      --max-connections N  connections accepted at once (default 4096)\n"
		"      --max-buffers-per-process N  live buffers one process may hold; ALLOCs\n"
		"                           beyond are refused and counted (default 10000000)\n"
		"      --http ADDR:PORT     serve the dashboard, JSON API and /metrics there\n"
		"                           (default $TTALLOC_HTTP or 127.0.0.1:8080; port 0\n"
		"                           picks a free one;\n"
		"                           a port in use is a start-up error)\n"
		"      --no-http            no HTTP endpoint\n"
		"      --no-tt-metal-shm    do not read tt-metal's memory statistics in\n"
		"                           <hw-root>/dev/shm/tt_device_*_memory\n"
		"      --history-interval MS  memory history: ms between samples (default 1000)\n"
		"      --history-samples N  memory history: samples kept (default 3600: 1 h)\n"
		"  -h, --help               this text\n"
		"  -V, --version            version\n");
}

/* Parses a positive integer option; exits with a message when malformed. */
static unsigned long parse_number(const char *name, const char *text, int base, unsigned long max)
{
	uint64_t v;
	if (format_parse_unsigned(text, base, max, &v) < 0) {
		fprintf(stderr, "ttalloc-server: bad value '%s' for %s\n", text, name);
		exit(2);
	}
	return (unsigned long)v;
}

static void parse_options(int argc, char **argv, struct server_options *opts)
{
	enum { OPT_SOCKET_MODE = 256, OPT_LEAK_LINES, OPT_MAX_CONNECTIONS, OPT_GROUP, OPT_HW_ROOT,
	       OPT_HTTP, OPT_NO_HTTP, OPT_HISTORY_INTERVAL, OPT_HISTORY_SAMPLES,
	       OPT_MAX_BUFFERS, OPT_NO_TTMETAL_SHM };
	static const struct option longopts[] = {
		{"socket", required_argument, NULL, 's'},
		{"devices", required_argument, NULL, 'd'},
		{"hw-root", required_argument, NULL, OPT_HW_ROOT},
		{"quiet", no_argument, NULL, 'q'},
		{"log-level", required_argument, NULL, 'l'},
		{"socket-mode", required_argument, NULL, OPT_SOCKET_MODE},
		{"group", required_argument, NULL, OPT_GROUP},
		{"leak-lines", required_argument, NULL, OPT_LEAK_LINES},
		{"max-connections", required_argument, NULL, OPT_MAX_CONNECTIONS},
		{"max-buffers-per-process", required_argument, NULL, OPT_MAX_BUFFERS},
		{"http", required_argument, NULL, OPT_HTTP},
		{"no-http", no_argument, NULL, OPT_NO_HTTP},
		{"no-tt-metal-shm", no_argument, NULL, OPT_NO_TTMETAL_SHM},
		{"history-interval", required_argument, NULL, OPT_HISTORY_INTERVAL},
		{"history-samples", required_argument, NULL, OPT_HISTORY_SAMPLES},
		{"help", no_argument, NULL, 'h'},
		{"version", no_argument, NULL, 'V'},
		{NULL, 0, NULL, 0},
	};
	enum log_level level;
	const char *env_root = getenv(DEVICE_HW_ROOT_ENV);
	if (env_root && *env_root)
		opts->hw_root = env_root;
	const char *env_http = getenv("TTALLOC_HTTP");
	if (env_http && *env_http)
		opts->http_listen = env_http; /* default of --http (tests: 127.0.0.1:0) */
	const char *env_level = getenv("TT_METAL_LOGGER_LEVEL");
	if (env_level && log_level_parse(env_level, &level) == 0)
		log_set_level(level);
	int opt;
	while ((opt = getopt_long(argc, argv, "s:d:ql:hV", longopts, NULL)) != -1) {
		switch (opt) {
		case 's':
			opts->socket_path = optarg;
			break;
		case 'd':
			opts->devices = optarg;
			break;
		case 'q':
			log_set_level(LOG_WARN);
			break;
		case 'l':
			if (log_level_parse(optarg, &level) < 0) {
				fprintf(stderr, "ttalloc-server: unknown log level '%s' (error, warn, info, debug)\n",
					optarg);
				exit(2);
			}
			log_set_level(level);
			break;
		case OPT_SOCKET_MODE:
			opts->socket_mode = (mode_t)parse_number("--socket-mode", optarg, 8, 0777);
			break;
		case OPT_GROUP:
			opts->socket_group = optarg;
			break;
		case OPT_HW_ROOT:
			opts->hw_root = optarg;
			break;
		case OPT_LEAK_LINES:
			opts->leak_lines = (uint32_t)parse_number("--leak-lines", optarg, 10, UINT32_MAX);
			break;
		case OPT_MAX_CONNECTIONS:
			opts->max_connections = (uint32_t)parse_number("--max-connections", optarg, 10, 1000000);
			break;
		case OPT_MAX_BUFFERS:
			opts->max_buffers_per_process =
				parse_number("--max-buffers-per-process", optarg, 10, UINT32_MAX);
			break;
		case OPT_HTTP:
			opts->http_listen = optarg;
			opts->http_enabled = 1;
			break;
		case OPT_NO_HTTP:
			opts->http_enabled = 0;
			break;
		case OPT_NO_TTMETAL_SHM:
			opts->ttmetal_shm = 0;
			break;
		case OPT_HISTORY_INTERVAL:
			opts->history_interval_ms =
				(uint32_t)parse_number("--history-interval (10..3600000 ms)", optarg, 10, 3600000);
			if (opts->history_interval_ms < 10) {
				fprintf(stderr, "ttalloc-server: --history-interval must be at least 10 ms\n");
				exit(2);
			}
			break;
		case OPT_HISTORY_SAMPLES:
			opts->history_samples =
				(uint32_t)parse_number("--history-samples (1..10000000)", optarg, 10, 10000000);
			if (opts->history_samples < 1) {
				fprintf(stderr, "ttalloc-server: --history-samples must be at least 1\n");
				exit(2);
			}
			break;
		case 'h':
			usage(stdout);
			exit(0);
		case 'V':
			printf("ttalloc-server %s\n", TTALLOC_VERSION);
			exit(0);
		default:
			usage(stderr);
			exit(2);
		}
	}
	struct stat root_st;
	if (opts->hw_root && *opts->hw_root && (stat(opts->hw_root, &root_st) < 0 || !S_ISDIR(root_st.st_mode))) {
		fprintf(stderr, "ttalloc-server: hardware root '%s' is not a directory (--hw-root, $%s)\n",
			opts->hw_root, DEVICE_HW_ROOT_ENV);
		exit(2);
	}
	if (optind < argc) {
		fprintf(stderr, "ttalloc-server: unexpected argument '%s'\n", argv[optind]);
		usage(stderr);
		exit(2);
	}
}

int main(int argc, char **argv)
{
	struct server_options opts;
	server_options_defaults(&opts);
	parse_options(argc, argv, &opts);
	/* Line-sized writes as events happen; flushed before every wait. */
	static char stdout_buffer[1 << 16];
	setvbuf(stdout, stdout_buffer, _IOFBF, sizeof(stdout_buffer));
	struct server s;
	if (server_start(&s, &opts) < 0) {
		log_flush();
		return 1;
	}
	int rc = server_run(&s);
	server_stop(&s);
	return rc < 0 ? 1 : 0;
}
