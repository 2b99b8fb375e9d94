/*
 * cli.c - command-line helpers shared by every program (cli.h).
 */
#include "common/cli.h"

#include <getopt.h>
#include <inttypes.h>
#include <stdio.h>
#include <string.h>

#include "common/format.h"

int cli_refused(int c, int argc, char **argv, char *err)
{
	const char *arg = optind > 0 && optind <= argc ? argv[optind - 1] : "?";
	if (c == ':')
		return error_set(err, TTALLOC_EINVAL, "option '%s' needs a value", arg);
	if (optopt == 0)
		return error_set(err, TTALLOC_EINVAL, "unknown option '%s'", arg);
	if (strncmp(arg, "--", 2) == 0)
		return error_set(err, TTALLOC_EINVAL, "option '%s' takes no value", arg);
	return error_set(err, TTALLOC_EINVAL, "unknown option '-%c'", optopt);
}

int cli_parse(int argc, char **argv, const char *shortopts, const struct option *longopts, cli_apply_fn apply,
	      void *ctx, int *first_operand, char *err)
{
	optind = 0; /* glibc: a full restart, so a program (or a test) may parse again */
	opterr = 0;
	int opt;
	while ((opt = getopt_long(argc, argv, shortopts, longopts, NULL)) != -1) {
		int rc = opt == '?' || opt == ':' ? cli_refused(opt, argc, argv, err)
						  : apply(ctx, opt, optarg, argc, argv, err);
		if (rc != 0)
			return rc;
	}
	if (first_operand)
		*first_operand = optind;
	else if (optind < argc)
		return error_set(err, TTALLOC_EINVAL, "unexpected argument '%s'", argv[optind]);
	return CLI_RUN;
}

int cli_uint(const char *name, const char *text, int base, uint64_t min, uint64_t max, uint64_t *value, char *err)
{
	uint64_t v;
	if (format_parse_unsigned(text, base, max, &v) < 0 || v < min)
		return error_set(err, TTALLOC_EINVAL, "bad value '%s' for %s (a whole number from %" PRIu64 " to %" PRIu64 ")",
				 text, name, min, max);
	*value = v;
	return 0;
}

int cli_bytes(const char *name, const char *text, uint64_t *value, char *err)
{
	if (format_parse_bytes(text, value) < 0)
		return error_set(err, TTALLOC_EINVAL, "bad byte count '%s' for %s (e.g. 0, 4096, 16M, 2GiB)", text, name);
	return 0;
}

int cli_fail(const char *prog, const char *err)
{
	fprintf(stderr, "%s: %s\nTry '%s --help'.\n", prog, err, prog);
	return CLI_EXIT_USAGE;
}
