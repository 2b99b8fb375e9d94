/*
 * options.c - ttalloc-server's command line (options.h).
 */
#include "server/options.h"

#include <getopt.h>
#include <grp.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "common/cli.h"
#include "common/unix_socket.h"
#include "devices/device.h"
#include "server/http/http.h"

void server_options_defaults(struct server_options *opts)
{
	memset(opts, 0, sizeof(*opts));
	opts->socket_path = unix_socket_default_path();
	opts->devices = "auto";
	opts->socket_mode = 0660;
	opts->socket_gid = (gid_t)-1;
	opts->leak_lines = 100;
	opts->leak_history = 256;
	opts->max_connections = 4096;
	opts->max_buffers_per_process = 10000000;
	opts->errors_logged_per_connection = 20;
	opts->max_output_bytes = 16u << 20;
	opts->http_listen = HTTP_DEFAULT_LISTEN;
	opts->http_enabled = 1;
	opts->history_interval_ms = 1000;
	opts->history_samples = 3600;
	opts->ttmetal_shm = 1;
	opts->log_level = LOG_INFO;
	opts->metrics_processes = METRICS_PROCESSES_TOP;
	opts->metrics_top = METRICS_DEFAULT_TOP;
	opts->http_max_connections = HTTP_MAX_CONNECTIONS;
	opts->http_max_per_client = HTTP_MAX_PER_CLIENT;
	opts->http_timeout_s = HTTP_CONNECTION_TIMEOUT_S;
}

void server_options_usage(FILE *out)
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
		"                           picks a free one). A port in use does not stop\n"
		"                           tracking: the server runs without the dashboard\n"
		"                           and takes the port as soon as it is free\n"
		"      --http-required      a port in use is a start-up error instead\n"
		"      --no-http            no HTTP endpoint\n"
		"      --no-tt-metal-shm    do not read tt-metal's memory statistics in\n"
		"                           <hw-root>/dev/shm/tt_device_*_memory\n"
		"      --history-interval MS  memory history: ms between samples (default 1000)\n"
		"      --history-samples N  memory history: samples kept (default 3600: 1 h)\n"
		"      --retain-leaks       an exited process's leaked buffers stay in every\n"
		"                           total (QUERY, tt_smi, the API) as \"exited (leaked)\"\n"
		"                           until tt_smi --clear-leaks: what a CI script that\n"
		"                           reads the totals after its tests needs; the default\n"
		"                           when $CI is set (every CI system sets it)\n"
		"      --no-retain-leaks    totals are the live picture only (the default\n"
		"                           without $CI)\n"
		"      --hostname NAME      the host's name in /metrics (ttalloc_host_info), the\n"
		"                           API and simulated device ids (default: gethostname)\n"
		"      --metrics-processes all|top:N|none  per-process series in /metrics:\n"
		"                           the N biggest per device plus pid=\"other\" (default\n"
		"                           top:50), every process, or none\n"
		"      --metrics-labels LIST  add pod, namespace, container (comma-separated)\n"
		"                           to the per-process series\n"
		"      --web-config FILE    TLS and basic auth for HTTP, in the format of\n"
		"                           Prometheus exporters (tls_server_config,\n"
		"                           basic_auth_users with bcrypt hashes)\n"
		"      --http-max-connections N  HTTP connections at once (default 256)\n"
		"      --http-max-per-client N   HTTP connections from one address (default 32)\n"
		"      --http-timeout SEC   close HTTP connections idle that long (default 10)\n"
		"  -h, --help               this text\n"
		"  -V, --version            version\n\n"
		"Exit status: 0 after SIGINT or SIGTERM; 2 when the configuration is refused\n"
		"(a bad option, or a socket directory, group, hardware root, device backend or\n"
		"HTTP address that cannot be used), with one line on stderr and nothing\n"
		"else printed; 1 when starting fails after that (another server on the\n"
		"socket, the HTTP port taken with --http-required).\n");
}

/* The defaults the environment sets (the command line overrides them). */
static void read_environment(struct server_options *opts)
{
	const char *env_root = getenv(DEVICE_HW_ROOT_ENV);
	if (env_root && *env_root)
		opts->hw_root = env_root;
	const char *env_http = getenv("TTALLOC_HTTP");
	if (env_http && *env_http)
		opts->http_listen = env_http; /* default of --http (tests: 127.0.0.1:0) */
	const char *ci = getenv("CI");
	opts->retain_leaks = ci && *ci && strcmp(ci, "false") != 0 && strcmp(ci, "0") != 0;
	const char *env_level = getenv("TT_METAL_LOGGER_LEVEL");
	if (env_level && log_level_parse(env_level, &opts->log_level) == 0)
		opts->log_level_set = 1;
}

/* A number option into a uint32_t. */
static int set_u32(uint32_t *field, const char *name, const char *text, uint64_t min, uint64_t max, char *err)
{
	uint64_t v;
	int rc = cli_uint(name, text, 10, min, max, &v, err);
	if (rc == 0)
		*field = (uint32_t)v;
	return rc;
}

enum {
	OPT_SOCKET_MODE = 256,
	OPT_LEAK_LINES,
	OPT_MAX_CONNECTIONS,
	OPT_GROUP,
	OPT_HW_ROOT,
	OPT_HTTP,
	OPT_NO_HTTP,
	OPT_HISTORY_INTERVAL,
	OPT_HISTORY_SAMPLES,
	OPT_MAX_BUFFERS,
	OPT_NO_TTMETAL_SHM,
	OPT_RETAIN_LEAKS,
	OPT_HTTP_REQUIRED,
	OPT_NO_RETAIN_LEAKS,
	OPT_HOSTNAME,
	OPT_METRICS_PROCESSES,
	OPT_METRICS_LABELS,
	OPT_WEB_CONFIG,
	OPT_HTTP_MAX_CONNECTIONS,
	OPT_HTTP_MAX_PER_CLIENT,
	OPT_HTTP_TIMEOUT,
};

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
	{"http-required", no_argument, NULL, OPT_HTTP_REQUIRED},
	{"no-tt-metal-shm", no_argument, NULL, OPT_NO_TTMETAL_SHM},
	{"history-interval", required_argument, NULL, OPT_HISTORY_INTERVAL},
	{"history-samples", required_argument, NULL, OPT_HISTORY_SAMPLES},
	{"retain-leaks", no_argument, NULL, OPT_RETAIN_LEAKS},
	{"no-retain-leaks", no_argument, NULL, OPT_NO_RETAIN_LEAKS},
	{"hostname", required_argument, NULL, OPT_HOSTNAME},
	{"metrics-processes", required_argument, NULL, OPT_METRICS_PROCESSES},
	{"metrics-labels", required_argument, NULL, OPT_METRICS_LABELS},
	{"web-config", required_argument, NULL, OPT_WEB_CONFIG},
	{"http-max-connections", required_argument, NULL, OPT_HTTP_MAX_CONNECTIONS},
	{"http-max-per-client", required_argument, NULL, OPT_HTTP_MAX_PER_CLIENT},
	{"http-timeout", required_argument, NULL, OPT_HTTP_TIMEOUT},
	{"help", no_argument, NULL, 'h'},
	{"version", no_argument, NULL, 'V'},
	{NULL, 0, NULL, 0},
};

/* --metrics-processes all|top:N|none */
static int parse_metrics_processes(struct server_options *opts, const char *arg, char *err)
{
	if (strcmp(arg, "all") == 0) {
		opts->metrics_processes = METRICS_PROCESSES_ALL;
		return 0;
	}
	if (strcmp(arg, "none") == 0) {
		opts->metrics_processes = METRICS_PROCESSES_NONE;
		return 0;
	}
	uint64_t n;
	if (strncmp(arg, "top:", 4) != 0 ||
	    cli_uint("--metrics-processes top:N", arg + 4, 10, 1, METRICS_MAX_TOP, &n, err) < 0)
		return error_set(err, TTALLOC_EINVAL,
				 "bad value '%s' for --metrics-processes (all, none, or top:N with N from 1 to %u)",
				 arg, METRICS_MAX_TOP);
	opts->metrics_processes = METRICS_PROCESSES_TOP;
	opts->metrics_top = (uint32_t)n;
	return 0;
}

/* --metrics-labels pod,namespace,container (any of them; "" or none: no extra label) */
static int parse_metrics_labels(struct server_options *opts, const char *arg, char *err)
{
	static const struct {
		const char *name;
		uint32_t bit;
	} labels[] = {{"pod", METRICS_LABEL_POD},
		      {"namespace", METRICS_LABEL_NAMESPACE},
		      {"container", METRICS_LABEL_CONTAINER}};
	uint32_t bits = 0;
	for (const char *p = arg; *p;) {
		size_t n = strcspn(p, ",");
		int known = n == 0 || (n == 4 && strncmp(p, "none", 4) == 0);
		for (size_t i = 0; i < sizeof(labels) / sizeof(labels[0]) && !known; i++)
			if (strlen(labels[i].name) == n && strncmp(p, labels[i].name, n) == 0) {
				bits |= labels[i].bit;
				known = 1;
			}
		if (!known)
			return error_set(err, TTALLOC_EINVAL,
					 "unknown label '%.*s' in --metrics-labels (pod, namespace, container)", (int)n,
					 p);
		p += n + (p[n] == ',');
	}
	opts->metrics_labels = bits;
	return 0;
}

/* Applies one option getopt_long returned (cli_apply_fn). */
static int apply_option(void *ctx, int opt, const char *arg, int argc, char **argv, char *err)
{
	(void)argc;
	(void)argv;
	struct server_options *opts = ctx;
	uint64_t v;
	switch (opt) {
	case 's':
		opts->socket_path = arg;
		return 0;
	case 'd':
		opts->devices = arg;
		return 0;
	case 'q':
		opts->log_level = LOG_WARN;
		opts->log_level_set = 1;
		return 0;
	case 'l':
		if (log_level_parse(arg, &opts->log_level) < 0)
			return error_set(err, TTALLOC_EINVAL, "unknown log level '%s' (error, warn, info, debug)", arg);
		opts->log_level_set = 1;
		return 0;
	case OPT_SOCKET_MODE:
		if (cli_uint("--socket-mode", arg, 8, 0, 0777, &v, err) < 0)
			return error_set(err, TTALLOC_EINVAL, "bad value '%s' for --socket-mode (octal, 0 to 0777)",
					 arg);
		opts->socket_mode = (mode_t)v;
		return 0;
	case OPT_GROUP:
		opts->socket_group = arg;
		return 0;
	case OPT_HW_ROOT:
		opts->hw_root = arg;
		return 0;
	case OPT_LEAK_LINES:
		return set_u32(&opts->leak_lines, "--leak-lines", arg, 0, UINT32_MAX, err);
	case OPT_MAX_CONNECTIONS:
		return set_u32(&opts->max_connections, "--max-connections", arg, 0, 1000000, err);
	case OPT_MAX_BUFFERS:
		return cli_uint("--max-buffers-per-process", arg, 10, 0, UINT32_MAX, &opts->max_buffers_per_process,
				err);
	case OPT_HTTP:
		opts->http_listen = arg;
		opts->http_enabled = 1;
		return 0;
	case OPT_NO_HTTP:
		opts->http_enabled = 0;
		return 0;
	case OPT_HTTP_REQUIRED:
		opts->http_required = 1;
		return 0;
	case OPT_NO_TTMETAL_SHM:
		opts->ttmetal_shm = 0;
		return 0;
	case OPT_HISTORY_INTERVAL:
		return set_u32(&opts->history_interval_ms, "--history-interval (ms)", arg, 10, 3600000, err);
	case OPT_HISTORY_SAMPLES:
		return set_u32(&opts->history_samples, "--history-samples", arg, 1, 10000000, err);
	case OPT_RETAIN_LEAKS:
	case OPT_NO_RETAIN_LEAKS:
		opts->retain_leaks = opt == OPT_RETAIN_LEAKS;
		return 0;
	case OPT_HOSTNAME:
		if (!*arg || strlen(arg) > 253)
			return error_set(err, TTALLOC_EINVAL, "bad --hostname '%s' (1 to 253 characters)", arg);
		opts->hostname = arg;
		return 0;
	case OPT_METRICS_PROCESSES:
		return parse_metrics_processes(opts, arg, err);
	case OPT_METRICS_LABELS:
		return parse_metrics_labels(opts, arg, err);
	case OPT_WEB_CONFIG:
		opts->web_config = arg;
		return 0;
	case OPT_HTTP_MAX_CONNECTIONS:
		return set_u32(&opts->http_max_connections, "--http-max-connections", arg, 1, 100000, err);
	case OPT_HTTP_MAX_PER_CLIENT:
		return set_u32(&opts->http_max_per_client, "--http-max-per-client", arg, 1, 100000, err);
	case OPT_HTTP_TIMEOUT:
		return set_u32(&opts->http_timeout_s, "--http-timeout (seconds)", arg, 1, 3600, err);
	case 'h':
		return CLI_HELP;
	case 'V':
		return CLI_VERSION;
	default:
		return error_set(err, TTALLOC_EINVAL, "unexpected option");
	}
}

int server_options_parse(struct server_options *opts, int argc, char **argv, char *err)
{
	read_environment(opts);
	int rc = cli_parse(argc, argv, ":s:d:ql:hV", longopts, apply_option, opts, NULL, err);
	if (rc != CLI_RUN)
		return rc;
	struct stat root_st;
	if (opts->hw_root && *opts->hw_root && (stat(opts->hw_root, &root_st) < 0 || !S_ISDIR(root_st.st_mode)))
		return error_set(err, TTALLOC_EINVAL, "hardware root '%s' is not a directory (--hw-root, $%s)",
				 opts->hw_root, DEVICE_HW_ROOT_ENV);
	return CLI_RUN;
}

/* --group NAME: the group must exist; its gid is what the socket is given. */
static int check_group(struct server_options *opts, char *err)
{
	opts->socket_gid = (gid_t)-1;
	if (!opts->socket_group)
		return 0;
	struct group *gr = getgrnam(opts->socket_group);
	if (!gr)
		return error_set(err, TTALLOC_EINVAL,
				 "unknown group '%s' (--group); create it (groupadd %s) or name another",
				 opts->socket_group, opts->socket_group);
	opts->socket_gid = gr->gr_gid;
	return 0;
}

int server_options_check(struct server_options *opts, int socket_from_systemd, char *err)
{
	if (opts->http_enabled) {
		struct sockaddr_storage addr;
		socklen_t len;
		if (http_parse_listen(opts->http_listen, &addr, &len, err) < 0)
			return TTALLOC_EINVAL;
	}
	if (check_group(opts, err) < 0)
		return TTALLOC_EINVAL;
	if (!socket_from_systemd && unix_socket_check_path(opts->socket_path, err) < 0)
		return TTALLOC_EINVAL;
	return 0;
}
