/*
 * options.c - tt_smi's command line (smi.h).
 */
#include <getopt.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "smi.h"

void smi_usage(FILE *out)
{
	fprintf(out,
		"Usage: tt_smi [OPTIONS]\n"
		"Shows device memory, readings and the processes using each device, as\n"
		"reported by the allocation server (ttalloc-server).\n\n"
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
		"  -h, --help           this text\n"
		"      --version        version\n\n"
		"Exit status: 0 on success, 1 when the server cannot be reached, 2 on a\n"
		"bad command line.\n",
		SMI_DEFAULT_REFRESH_MS, SMI_MIN_REFRESH_MS, SMI_MAX_REFRESH_MS, PROTO_SOCKET_ENV,
		PROTO_DEFAULT_SOCKET, SMI_MIN_COLUMNS, SMI_MAX_COLUMNS, SMI_DEFAULT_COLUMNS);
}

/* Parses a whole decimal number in min..max. Returns 0 or -1 with a message. */
static int parse_int(const char *name, const char *text, int min, int max, int *value, char *err,
		     size_t err_size)
{
	char *end;
	long v = strtol(text, &end, 10);
	if (!*text || *end || v < min || v > max) {
		snprintf(err, err_size, "bad value '%s' for %s (a whole number from %d to %d)", text, name, min,
			 max);
		return -1;
	}
	*value = (int)v;
	return 0;
}

/* Explains what getopt refused: `c` is ':' (value missing) or '?'. */
static void refused_option(int c, int argc, char **argv, char *err, size_t err_size)
{
	const char *arg = optind > 0 && optind <= argc ? argv[optind - 1] : "?";
	if (c == ':')
		snprintf(err, err_size, "option '%s' needs a value", arg);
	else if (optopt == 0)
		snprintf(err, err_size, "unknown option '%s'", arg);
	else if (strncmp(arg, "--", 2) == 0)
		snprintf(err, err_size, "option '%s' takes no value", arg);
	else
		snprintf(err, err_size, "unknown option '-%c'", optopt);
}

int smi_options_parse(struct smi_options *opts, int argc, char **argv, char *err, size_t err_size)
{
	enum { OPT_WIDTH = 256, OPT_NO_COLOR, OPT_COLOR, OPT_VERSION };
	static const struct option longopts[] = {
		{"watch", no_argument, NULL, 'w'},
		{"refresh", required_argument, NULL, 'r'},
		{"socket", required_argument, NULL, 's'},
		{"width", required_argument, NULL, OPT_WIDTH},
		{"no-color", no_argument, NULL, OPT_NO_COLOR},
		{"color", no_argument, NULL, OPT_COLOR},
		{"help", no_argument, NULL, 'h'},
		{"version", no_argument, NULL, OPT_VERSION},
		{NULL, 0, NULL, 0},
	};
	*opts = (struct smi_options){.action = SMI_RUN, .refresh_ms = SMI_DEFAULT_REFRESH_MS};
	optind = 0; /* glibc: full reset, so the parser can run again */
	opterr = 0;
	int c;
	while ((c = getopt_long(argc, argv, "+:wr:s:h", longopts, NULL)) != -1) {
		switch (c) {
		case 'w':
			opts->watch = 1;
			break;
		case 'r':
			if (parse_int("--refresh", optarg, SMI_MIN_REFRESH_MS, SMI_MAX_REFRESH_MS, &opts->refresh_ms,
				      err, err_size) < 0)
				return -1;
			opts->watch = 1;
			break;
		case 's':
			if (!*optarg) {
				snprintf(err, err_size, "--socket needs a path");
				return -1;
			}
			opts->socket_path = optarg;
			break;
		case OPT_WIDTH:
			if (parse_int("--width", optarg, SMI_MIN_COLUMNS, SMI_MAX_COLUMNS, &opts->columns, err,
				      err_size) < 0)
				return -1;
			break;
		case OPT_NO_COLOR:
			opts->color = SMI_COLOR_NEVER;
			break;
		case OPT_COLOR:
			opts->color = SMI_COLOR_ALWAYS;
			break;
		case 'h':
			opts->action = SMI_HELP;
			return 0;
		case OPT_VERSION:
			opts->action = SMI_VERSION;
			return 0;
		default:
			refused_option(c, argc, argv, err, err_size);
			return -1;
		}
	}
	if (optind < argc) {
		snprintf(err, err_size, "unexpected argument '%s'", argv[optind]);
		return -1;
	}
	return 0;
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
