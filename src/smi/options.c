/*
 * options.c - tt_smi's command line (smi.h).
 */
#include <getopt.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "common/cli.h"
#include "common/format.h"
#include "smi/smi.h"

void smi_usage(FILE *out)
{
	fprintf(out,
		"Usage: tt_smi [OPTIONS]\n"
		"       tt_smi top|dmon|pmon [OPTIONS]   (each has its own --help)\n"
		"Shows device memory, readings and the processes using each device, as\n"
		"reported by the allocation server (ttalloc-server).\n"
		"  top    a live, nvitop-like view: bars, sparklines, processes, buffers\n"
		"  dmon   one line per device per sample, like nvidia-smi dmon\n"
		"  pmon   one line per process per sample, like nvidia-smi pmon\n\n"
		"  -w, --watch          redraw in place until q, Ctrl-C or SIGTERM\n"
		"  -r, --refresh MS     watch mode refresh period in milliseconds\n"
		"                       (default %d, %d..%d; implies --watch)\n"
		"  -s, --socket PATH    server socket (default $%s or\n"
		"                       %s)\n"
		"      --width COLS     box width in columns, borders included (%d..%d;\n"
		"                       default %d, or the terminal's width when smaller,\n"
		"                       and in watch mode the terminal's width)\n"
		"      --no-color       no ANSI colours (also when $NO_COLOR is set)\n"
		"      --color          colours even when stdout is not a terminal\n"
		"      --history [SECONDS]\n"
		"                       each device's DRAM and L1 over the last SECONDS\n"
		"                       (default %d) as sparklines, from the server's\n"
		"                       history; with -w, -r or -l it is redrawn\n"
		"      --hw-root DIR    when the server is down, read the devices under DIR\n"
		"                       (/sys, /proc, /dev; default $%s or /)\n"
		"      --devices SEL    backends for that hardware view: auto (default),\n"
		"                       tenstorrent or nvml\n"
		"      --clear-leaks    drop the exited processes whose leaks a server run\n"
		"                       with --retain-leaks (or $CI) keeps in its totals\n"
		"                       (yours; root: everyone's), print what went, exit\n"
		"  -i, --id LIST        only these devices, in every view: indices, serials,\n"
		"                       UUIDs or PCI bus ids, comma separated\n"
		"      --doctor         a health check for CI and on-call, one line each:\n"
		"                       the server and its version, whether you may report\n"
		"                       (the socket's permissions), its devices against this\n"
		"                       host's hardware, tt-metal's shared-memory regions and\n"
		"                       stale slots, the dashboard; with --json one JSON\n"
		"                       object. Exit 0 all ok, 1 an error, 3 warnings only\n"
		"      --prometheus URL the fleet instead of this host: every host's devices\n"
		"                       (memory, temperature, power) and the biggest\n"
		"                       processes, from the Prometheus at URL that scrapes\n"
		"                       the ttalloc-servers (http[s]://[USER:PASSWORD@]HOST:9090);\n"
		"                       -l SEC or -w redraws\n"
		"  -h, --help           this text\n"
		"      --version        version\n\n"
		"Scripting (like nvidia-smi):\n"
		"  -L, --list-gpus      one line per device: \"GPU 0: Wormhole_B0\"\n"
		"  -q, --query          a report per device: memory by type, readings,\n"
		"                       processes (nvidia-smi -q's layout)\n"
		"  -d, --display LIST   -q's sections: MEMORY, UTILIZATION, TEMPERATURE,\n"
		"                       POWER, PIDS (comma separated)\n"
		"  --help-query-gpu, --help-query-compute-apps\n"
		"                       the fields of each query, and exit\n"
		"  --query-gpu=FIELDS           one CSV row per device (fields below)\n"
		"  --query-compute-apps=FIELDS  one CSV row per process and device\n"
		"  --format=csv[,noheader][,nounits]\n"
		"                       CSV (the default): values separated by \", \", a\n"
		"                       header line naming each field and its unit\n"
		"                       (\"memory.dram.used [MiB]\"), values with their unit\n"
		"                       (\"300 MiB\"); noheader drops the header line, nounits\n"
		"                       the unit after each value. A reading the device does\n"
		"                       not give prints %s; text with a comma or quote is\n"
		"                       quoted (\"a, b\"). Memory is in whole MiB.\n"
		"  -l, --loop SEC       repeat every SEC seconds (1..%d) until Ctrl-C or\n"
		"                       SIGTERM; the header is printed once. Without a query\n"
		"                       or --json, redraws the table like -w.\n"
		"  -lms, --loop-ms MS   the same in milliseconds (%d..%d)\n"
		"  --json               devices and processes as one JSON object (bytes;\n"
		"                       null for missing readings); with -l, one line each time\n"
		"  --csv-log FILE       append the seed's periodic log to FILE until Ctrl-C or\n"
		"                       SIGTERM: the header \"timestamp,device,dram,l1\" when\n"
		"                       FILE is new or empty, then every interval one row per\n"
		"                       device (ISO local time, device id, dram_allocated and\n"
		"                       l1_allocated in bytes), flushed each time\n"
		"  --interval SEC       --csv-log's period in seconds (default %d; decimals\n"
		"                       allowed, %g at least)\n"
		"While looping, a server that cannot be reached is reported on stderr and\n"
		"tried again every period.\n\n"
		"When the server cannot be reached, the table shows the hardware itself\n"
		"(names, sizes, readings, the processes holding each device) with\n"
		"allocation data N/A, and says so under the box; with no hardware (only\n"
		"the simulation) tt_smi exits 1 instead. The scripting modes always need\n"
		"the server.\n\n",
		SMI_DEFAULT_REFRESH_MS, SMI_MIN_REFRESH_MS, SMI_MAX_REFRESH_MS, PROTO_SOCKET_ENV, PROTO_DEFAULT_SOCKET,
		SMI_MIN_COLUMNS, SMI_MAX_COLUMNS, SMI_DEFAULT_COLUMNS, SMI_DEFAULT_HISTORY_SEC, DEVICE_HW_ROOT_ENV,
		SMI_NA, SMI_MAX_LOOP_SEC, SMI_MIN_REFRESH_MS, SMI_MAX_REFRESH_MS, SMI_DEFAULT_INTERVAL_MS / 1000,
		SMI_MIN_REFRESH_MS / 1000.0);
	smi_diag_usage(out);
	fprintf(out, "--query-gpu fields (nvidia-smi's names in parentheses also work):\n");
	smi_query_help(out, SMI_QUERY_GPU);
	fprintf(out, "--query-compute-apps fields:\n");
	smi_query_help(out, SMI_QUERY_APPS);
	fprintf(out,
		"\nExit status: 0 on success (also after Ctrl-C or SIGTERM ends a loop, and when\n"
		"the table shows the hardware without the server), 1 when the server cannot be\n"
		"reached and there is no hardware to show (once) or output fails, 2 on a bad\n"
		"command line. --doctor: 0 all ok, 1 an error, 3 warnings only (2 stays the bad\n"
		"command line, so a typo is never read as warnings).\n");
}

/* Parses a whole decimal number in min..max (cli_uint into an int). Returns 0 or -1 with a message. */
static int parse_int(const char *name, const char *text, int min, int max, int *value, char *err, size_t err_size)
{
	(void)err_size; /* ERR_LEN */
	uint64_t v;
	if (min < 0 || cli_uint(name, text, 10, (uint64_t)min, (uint64_t)max, &v, err) < 0)
		return -1;
	*value = (int)v;
	return 0;
}

int smi_parse_seconds(const char *name, const char *text, int *ms, char *err, size_t err_size)
{
	char *end;
	double v = strtod(text, &end);
	if (!*text || *end || !isfinite(v) || v * 1000.0 < SMI_MIN_REFRESH_MS || v * 1000.0 > SMI_MAX_REFRESH_MS) {
		snprintf(err, err_size, "bad value '%s' for %s (seconds from %g to %d)", text, name,
			 SMI_MIN_REFRESH_MS / 1000.0, SMI_MAX_REFRESH_MS / 1000);
		return -1;
	}
	*ms = (int)lround(v * 1000.0);
	return 0;
}

/*
 * -l SEC, and nvidia-smi's -lms MS, which getopt sees as -l with the value
 * "ms" (the milliseconds follow in the next argument, or as "-lms=MS").
 */
static int parse_loop(const char *value, int argc, char **argv, int *loop_ms, char *err, size_t err_size)
{
	int v;
	if (strncmp(value, "ms", 2) != 0) {
		if (parse_int("-l/--loop", value, 1, SMI_MAX_LOOP_SEC, &v, err, err_size) < 0)
			return -1;
		*loop_ms = v * 1000;
		return 0;
	}
	value += 2;
	if (*value == '=')
		value++;
	if (!*value) {
		if (optind >= argc) {
			snprintf(err, err_size, "option '-lms' needs a value");
			return -1;
		}
		value = argv[optind++];
	}
	return parse_int("-lms/--loop-ms", value, SMI_MIN_REFRESH_MS, SMI_MAX_REFRESH_MS, loop_ms, err, err_size);
}

/*
 * --history[=SECONDS] or --history SECONDS: the value is optional, so a
 * following argument is taken only when it is a number.
 */
static int parse_history(const char *value, int argc, char **argv, int *seconds, char *err, size_t err_size)
{
	if (!value && optind < argc && argv[optind][0] >= '0' && argv[optind][0] <= '9')
		value = argv[optind++];
	if (!value) {
		*seconds = SMI_DEFAULT_HISTORY_SEC;
		return 0;
	}
	return parse_int("--history", value, 1, SMI_MAX_HISTORY_SEC, seconds, err, err_size);
}

/* Scripting outputs chosen, as bits; at most one may be set. */
enum { CHOSE_GPU = 1, CHOSE_APPS = 2, CHOSE_JSON = 4, CHOSE_CSV_LOG = 8, CHOSE_REPORT = 16, CHOSE_LIST = 32 };

/* --doctor runs once and prints its own report, as text or (--json) JSON: nothing else goes with it. */
static int settle_doctor(struct smi_options *opts, unsigned chosen, int format_given, int interval_given, char *err,
			 size_t err_size)
{
	if ((chosen & ~(unsigned)CHOSE_JSON) || format_given || interval_given || opts->watch || opts->loop_ms ||
	    opts->history_sec || opts->clear_leaks || opts->sections || opts->ids || opts->diag.mode != SMI_DIAG_NONE ||
	    opts->diag.type >= 0 || opts->diag.pid) {
		snprintf(
			err, err_size,
			"--doctor is a report of its own: it goes with --socket, --hw-root, --devices and --json only");
		return -1;
	}
	opts->doctor_json = chosen == CHOSE_JSON;
	return 0;
}

/* Checks that the options given make one coherent mode, and settles it. */
static int settle_mode(struct smi_options *opts, unsigned chosen, int format_given, int interval_given, char *err,
		       size_t err_size)
{
	if (chosen & (chosen - 1)) {
		snprintf(err, err_size,
			 "choose one of --query-gpu, --query-compute-apps, --json, --csv-log, -q and -L");
		return -1;
	}
	if (opts->sections && chosen != CHOSE_REPORT) {
		snprintf(err, err_size, "-d/--display chooses the sections of -q");
		return -1;
	}
	if (format_given && !(chosen & (CHOSE_GPU | CHOSE_APPS))) {
		snprintf(err, err_size, "--format goes with --query-gpu or --query-compute-apps");
		return -1;
	}
	if (interval_given && chosen != CHOSE_CSV_LOG) {
		snprintf(err, err_size, "--interval goes with --csv-log (repeat a query with -l or -lms)");
		return -1;
	}
	if (chosen == CHOSE_CSV_LOG && opts->loop_ms) {
		snprintf(err, err_size, "--csv-log repeats every --interval SEC, not -l or -lms");
		return -1;
	}
	if (chosen & (CHOSE_GPU | CHOSE_APPS))
		opts->output = SMI_OUTPUT_QUERY;
	else if (chosen == CHOSE_JSON)
		opts->output = SMI_OUTPUT_JSON;
	else if (chosen == CHOSE_CSV_LOG)
		opts->output = SMI_OUTPUT_CSV_LOG;
	else if (chosen == CHOSE_REPORT)
		opts->output = SMI_OUTPUT_REPORT;
	else if (chosen == CHOSE_LIST)
		opts->output = SMI_OUTPUT_LIST;
	if (opts->output != SMI_OUTPUT_TABLE && opts->watch) {
		snprintf(err, err_size, "-w and -r redraw the table; repeat a query, -q or --json with -l or -lms");
		return -1;
	}
	if (opts->prometheus_url && (opts->output != SMI_OUTPUT_TABLE || opts->history_sec)) {
		snprintf(err, err_size,
			 "--prometheus draws the fleet's table; it does not go with a query, --json, "
			 "--csv-log or --history");
		return -1;
	}
	if (opts->history_sec && opts->output != SMI_OUTPUT_TABLE) {
		snprintf(err, err_size,
			 "--history draws its own view; it does not go with a query, -q, -L, --json or "
			 "--csv-log");
		return -1;
	}
	if (opts->output == SMI_OUTPUT_TABLE && opts->loop_ms) {
		/* nvidia-smi -l without a query repeats the whole table */
		opts->watch = 1;
		opts->refresh_ms = opts->loop_ms;
		opts->loop_ms = 0;
	}
	return 0;
}

enum {
	OPT_WIDTH = 256,
	OPT_NO_COLOR,
	OPT_COLOR,
	OPT_VERSION,
	OPT_QUERY_GPU,
	OPT_QUERY_APPS,
	OPT_FORMAT,
	OPT_LOOP_MS,
	OPT_JSON,
	OPT_CSV_LOG,
	OPT_INTERVAL,
	OPT_HW_ROOT,
	OPT_DEVICES,
	OPT_HISTORY,
	OPT_CLEAR_LEAKS,
	OPT_HELP_QUERY_GPU,
	OPT_HELP_QUERY_APPS,
	OPT_DOCTOR,
	OPT_PROMETHEUS,
};
static const struct option longopts[] = {
	{"watch", no_argument, NULL, 'w'},
	{"refresh", required_argument, NULL, 'r'},
	{"socket", required_argument, NULL, 's'},
	{"width", required_argument, NULL, OPT_WIDTH},
	{"no-color", no_argument, NULL, OPT_NO_COLOR},
	{"color", no_argument, NULL, OPT_COLOR},
	{"help", no_argument, NULL, 'h'},
	{"version", no_argument, NULL, OPT_VERSION},
	{"query-gpu", required_argument, NULL, OPT_QUERY_GPU},
	{"query-compute-apps", required_argument, NULL, OPT_QUERY_APPS},
	{"format", required_argument, NULL, OPT_FORMAT},
	{"loop", required_argument, NULL, 'l'},
	{"loop-ms", required_argument, NULL, OPT_LOOP_MS},
	{"json", no_argument, NULL, OPT_JSON},
	{"csv-log", required_argument, NULL, OPT_CSV_LOG},
	{"interval", required_argument, NULL, OPT_INTERVAL},
	{"hw-root", required_argument, NULL, OPT_HW_ROOT},
	{"devices", required_argument, NULL, OPT_DEVICES},
	{"history", optional_argument, NULL, OPT_HISTORY},
	{"clear-leaks", no_argument, NULL, OPT_CLEAR_LEAKS},
	{"id", required_argument, NULL, 'i'},
	{"query", no_argument, NULL, 'q'},
	{"display", required_argument, NULL, 'd'},
	{"list-gpus", no_argument, NULL, 'L'},
	{"help-query-gpu", no_argument, NULL, OPT_HELP_QUERY_GPU},
	{"help-query-compute-apps", no_argument, NULL, OPT_HELP_QUERY_APPS},
	{"doctor", no_argument, NULL, OPT_DOCTOR},
	SMI_DIAG_LONGOPTS{"prometheus", required_argument, NULL, OPT_PROMETHEUS},
	{NULL, 0, NULL, 0},
};

/* What the parse gathers besides the options themselves (settle_mode checks it). */
struct parse_context {
	struct smi_options *opts;
	unsigned chosen; /* CHOSE_* bits */
	int format_given;
	int interval_given;
};

/* Applies one option (cli_apply_fn); the helpers' -1 becomes TTALLOC_EINVAL. */
static int apply_option(void *context, int opt, const char *arg, int argc, char **argv, char *err)
{
	const size_t err_size = ERR_LEN;
	struct parse_context *ctx = context;
	struct smi_options *o = ctx->opts;
	switch (opt) {
	case 'w':
		o->watch = 1;
		break;
	case 'r':
		if (parse_int("--refresh", arg, SMI_MIN_REFRESH_MS, SMI_MAX_REFRESH_MS, &o->refresh_ms, err, err_size) <
		    0)
			return -1;
		o->watch = 1;
		break;
	case 's':
		if (!*arg) {
			snprintf(err, err_size, "--socket needs a path");
			return -1;
		}
		o->socket_path = arg;
		break;
	case OPT_WIDTH:
		if (parse_int("--width", arg, SMI_MIN_COLUMNS, SMI_MAX_COLUMNS, &o->columns, err, err_size) < 0)
			return -1;
		break;
	case OPT_NO_COLOR:
		o->color = SMI_COLOR_NEVER;
		break;
	case OPT_COLOR:
		o->color = SMI_COLOR_ALWAYS;
		break;
	case OPT_QUERY_GPU:
	case OPT_QUERY_APPS: {
		enum smi_query_kind kind = opt == OPT_QUERY_GPU ? SMI_QUERY_GPU : SMI_QUERY_APPS;
		if (smi_query_parse_fields(&o->query, kind, arg, err, err_size) < 0)
			return -1;
		ctx->chosen |= kind == SMI_QUERY_GPU ? CHOSE_GPU : CHOSE_APPS;
		break;
	}
	case OPT_FORMAT:
		if (smi_query_parse_format(&o->query, arg, err, err_size) < 0)
			return -1;
		ctx->format_given = 1;
		break;
	case 'l':
		if (parse_loop(arg, argc, argv, &o->loop_ms, err, err_size) < 0)
			return -1;
		break;
	case OPT_LOOP_MS:
		if (parse_int("-lms/--loop-ms", arg, SMI_MIN_REFRESH_MS, SMI_MAX_REFRESH_MS, &o->loop_ms, err,
			      err_size) < 0)
			return -1;
		break;
	case OPT_JSON:
		ctx->chosen |= CHOSE_JSON;
		break;
	case OPT_CSV_LOG:
		if (!*arg) {
			snprintf(err, err_size, "--csv-log needs a file name");
			return -1;
		}
		o->csv_log = arg;
		ctx->chosen |= CHOSE_CSV_LOG;
		break;
	case OPT_INTERVAL:
		if (smi_parse_seconds("--interval", arg, &o->interval_ms, err, err_size) < 0)
			return -1;
		ctx->interval_given = 1;
		break;
	case OPT_HW_ROOT:
		if (!*arg) {
			snprintf(err, err_size, "--hw-root needs a directory");
			return -1;
		}
		o->hw_root = arg;
		break;
	case OPT_DEVICES:
		if (strcmp(arg, "auto") != 0 && strcmp(arg, "tenstorrent") != 0 && strcmp(arg, "nvml") != 0 &&
		    strncmp(arg, "sim", 3) != 0) {
			snprintf(err, err_size, "bad value '%s' for --devices (auto, tenstorrent, nvml or sim)", arg);
			return -1;
		}
		o->devices = arg;
		break;
	case OPT_HISTORY:
		if (parse_history(arg, argc, argv, &o->history_sec, err, err_size) < 0)
			return -1;
		break;
	case OPT_CLEAR_LEAKS:
		o->clear_leaks = 1;
		break;
	case OPT_DOCTOR:
		o->doctor = 1;
		break;
	case 'i':
		if (smi_select_check(arg, err, err_size) < 0)
			return -1;
		o->ids = arg;
		break;
	case 'q':
		ctx->chosen |= CHOSE_REPORT;
		break;
	case 'd':
		if (smi_report_parse_sections(arg, &o->sections, err, err_size) < 0)
			return -1;
		break;
	case 'L':
		ctx->chosen |= CHOSE_LIST;
		break;
	case OPT_HELP_QUERY_GPU:
	case OPT_HELP_QUERY_APPS:
		o->help_query = 1 + (opt == OPT_HELP_QUERY_GPU ? SMI_QUERY_GPU : SMI_QUERY_APPS);
		return CLI_HELP;
	case OPT_PROMETHEUS:
		if (strncmp(arg, "http://", 7) != 0 && strncmp(arg, "https://", 8) != 0) {
			snprintf(err, err_size,
				 "bad value '%s' for --prometheus (an http:// or https:// URL, e.g. "
				 "http://prometheus:9090)",
				 arg);
			return -1;
		}
		o->prometheus_url = arg;
		break;
	case 'h':
		return CLI_HELP;
	case OPT_VERSION:
		return CLI_VERSION;
	default:
		return smi_diag_option(&o->diag, opt, arg, argc, argv, err) ? -1 : 0;
	}
	return 0;
}

/* smi_options_parse with the helpers' convention: 0, CLI_HELP, CLI_VERSION or -1. */
static int parse_options(struct smi_options *opts, int argc, char **argv, char *err)
{
	*opts = (struct smi_options){
		.refresh_ms = SMI_DEFAULT_REFRESH_MS,
		.interval_ms = SMI_DEFAULT_INTERVAL_MS,
		.diag = SMI_DIAG_INIT,
	};
	struct parse_context ctx = {.opts = opts};
	int rc = cli_parse(argc, argv, "+:wr:s:hl:qd:Li:", longopts, apply_option, &ctx, NULL, err);
	if (rc != CLI_RUN)
		return rc;
	if (opts->doctor)
		return settle_doctor(opts, ctx.chosen, ctx.format_given, ctx.interval_given, err, ERR_LEN);
	if (smi_diag_settle(&opts->diag, opts->ids,
			    ctx.chosen || opts->watch || opts->loop_ms || opts->history_sec || opts->clear_leaks,
			    err) < 0)
		return -1;
	return settle_mode(opts, ctx.chosen, ctx.format_given, ctx.interval_given, err, ERR_LEN);
}

int smi_options_parse(struct smi_options *opts, int argc, char **argv, char *err)
{
	int rc = parse_options(opts, argc, argv, err);
	return rc < 0 ? TTALLOC_EINVAL : rc;
}

int smi_use_color(enum smi_color color, int is_tty)
{
	if (color == SMI_COLOR_NEVER)
		return 0;
	const char *no_color = getenv("NO_COLOR");
	if (no_color && *no_color && color != SMI_COLOR_ALWAYS)
		return 0;
	if (color == SMI_COLOR_ALWAYS)
		return 1;
	const char *term = getenv("TERM");
	return is_tty && !(term && strcmp(term, "dumb") == 0);
}
