/*
 * cli.c - command-line helpers shared by every program (cli.h).
 */
#include "common/cli.h"

#include <getopt.h>
#include <inttypes.h>
#include <stdio.h>
#include <string.h>

#include "common/format.h"

/*
 * Edit distance of a (la bytes) and b (lb bytes), a swap of two neighbours
 * counting as one edit ("sokcet" is one from "socket"): the optimal string
 * alignment distance (at most 63 bytes each). Anything over `cap` returns
 * cap + 1.
 */
static size_t distance(const char *a, size_t la, const char *b, size_t lb, size_t cap)
{
	enum { MAX = 64 };
	size_t store[3][MAX];
	size_t *older = store[0], *prev = store[1], *cur = store[2]; /* rows i - 2, i - 1, i */
	if (la >= MAX || lb >= MAX)
		return cap + 1;
	for (size_t j = 0; j <= lb; j++)
		prev[j] = j;
	for (size_t i = 1; i <= la; i++) {
		cur[0] = i;
		for (size_t j = 1; j <= lb; j++) {
			size_t v = prev[j - 1] + (a[i - 1] != b[j - 1]);
			if (prev[j] + 1 < v)
				v = prev[j] + 1;
			if (cur[j - 1] + 1 < v)
				v = cur[j - 1] + 1;
			if (i > 1 && j > 1 && a[i - 1] == b[j - 2] && a[i - 2] == b[j - 1] && older[j - 2] + 1 < v)
				v = older[j - 2] + 1;
			cur[j] = v;
		}
		size_t *spare = older;
		older = prev;
		prev = cur;
		cur = spare;
	}
	return prev[lb] > cap ? cap + 1 : prev[lb];
}

const char *cli_closest(const char *word, size_t len, const char *const *candidates)
{
	size_t cap = len / 4 < 1 ? 1 : len / 4 > 3 ? 3 : len / 4, best_distance = cap + 1;
	const char *best = NULL, *prefix_of = NULL;
	int prefixes = 0;
	for (const char *const *c = candidates; *c; c++) {
		size_t d = distance(word, len, *c, strlen(*c), cap);
		if (d < best_distance) {
			best_distance = d;
			best = *c;
		}
		if (len && strncmp(*c, word, len) == 0) {
			prefixes++;
			prefix_of = *c;
		}
	}
	if (best)
		return best;
	return prefixes == 1 ? prefix_of : NULL;
}

/* The long option closest to "--name" (without its "=value"), or NULL. */
static const char *closest_option(const char *arg, const struct option *longopts)
{
	if (!longopts || strncmp(arg, "--", 2) != 0)
		return NULL;
	const char *names[256];
	size_t n = 0;
	for (const struct option *o = longopts; o->name && n + 1 < sizeof(names) / sizeof(names[0]); o++)
		names[n++] = o->name;
	names[n] = NULL;
	const char *name = arg + 2;
	return cli_closest(name, strcspn(name, "="), names);
}

int cli_refused(int c, int argc, char **argv, const struct option *longopts, char *err)
{
	const char *arg = optind > 0 && optind <= argc ? argv[optind - 1] : "?";
	if (c == ':')
		return error_set(err, TTALLOC_EINVAL, "option '%s' needs a value", arg);
	if (optopt == 0) {
		const char *near = closest_option(arg, longopts);
		if (near)
			return error_set(err, TTALLOC_EINVAL, "unknown option '%s'; did you mean '--%s'?", arg, near);
		return error_set(err, TTALLOC_EINVAL, "unknown option '%s'", arg);
	}
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
		int rc = opt == '?' || opt == ':' ? cli_refused(opt, argc, argv, longopts, err)
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
		return error_set(err, TTALLOC_EINVAL,
				 "bad value '%s' for %s (a whole number from %" PRIu64 " to %" PRIu64 ")", text, name,
				 min, max);
	*value = v;
	return 0;
}

int cli_bytes(const char *name, const char *text, uint64_t *value, char *err)
{
	if (format_parse_bytes(text, value) < 0)
		return error_set(err, TTALLOC_EINVAL, "bad byte count '%s' for %s (e.g. 0, 4096, 16M, 2GiB)", text,
				 name);
	return 0;
}

int cli_fail(const char *prog, const char *err)
{
	fprintf(stderr, "%s: %s\nTry '%s --help'.\n", prog, err, prog);
	return CLI_EXIT_USAGE;
}
