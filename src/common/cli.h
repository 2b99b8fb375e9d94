/*
 * cli.h - the one way ttalloc's programs read their command lines.
 *
 * Each program has a parse function in the getopt_long style that fills
 * its options and returns CLI_RUN, CLI_HELP or CLI_VERSION, or a negative
 * TTALLOC_E* code with a one-line reason in `err` (errors.h). It never
 * prints and never exits, so it can be unit-tested; only main() prints the
 * usage, the version or "program: reason" with cli_fail, and chooses the
 * exit status (2 for a bad command line, in every program).
 */
#ifndef TTALLOC_CLI_H
#define TTALLOC_CLI_H

#include <stddef.h>
#include <stdint.h>

#include "common/errors.h"

/* What a successful parse asks main() to do. */
enum cli_outcome {
	CLI_RUN = 0,     /* go on with the options */
	CLI_HELP = 1,    /* print the usage on stdout, exit 0 */
	CLI_VERSION = 2, /* print the version on stdout, exit 0 */
};

/* Exit status of every program for a bad command line. */
#define CLI_EXIT_USAGE 2

struct option;

/*
 * Applies one option getopt_long returned (never '?' or ':') to a
 * program's options `ctx`. Returns 0, CLI_HELP, CLI_VERSION, or a
 * negative TTALLOC_E* code with the reason in `err`.
 */
typedef int (*cli_apply_fn)(void *ctx, int opt, const char *arg, int argc, char **argv, char *err);

/*
 * The getopt_long loop of every program: restarts getopt, hands each
 * option to `apply` (which may consume the next argument through argv
 * and optind, as tt_smi's -lms does), explains what getopt refused. With
 * `first_operand` NULL an operand is an error; else it gets the index of
 * the first one (argc when none). Returns what `apply` asked for (CLI_*)
 * or a negative code with the reason in `err`. `shortopts` starts with ':'
 * ("+:" to stop at the first operand).
 */
int cli_parse(int argc, char **argv, const char *shortopts, const struct option *longopts, cli_apply_fn apply,
	      void *ctx, int *first_operand, char *err);

/*
 * Explains what getopt_long refused (it returned `c`, '?' or ':', after
 * `optind` moved past the argument) in `err`, with "did you mean '--x'?"
 * when an option of `longopts` (may be NULL) is close. Returns
 * TTALLOC_EINVAL. Call with opterr = 0, so getopt itself prints nothing.
 */
int cli_refused(int c, int argc, char **argv, const struct option *longopts, char *err);

/*
 * The candidate closest to `word` (`len` bytes) when it is close enough to
 * be a typo (an edit distance of at most a quarter of its length, 1 to 3,
 * or a prefix of one candidate alone), else NULL. `candidates` ends with
 * NULL. For "did you mean" in every program.
 */
const char *cli_closest(const char *word, size_t len, const char *const *candidates);

/*
 * Parses the value of option `name` as a whole number in `base` (8, 10,
 * 16; 0: C's prefixes), min..max. Returns 0, or TTALLOC_EINVAL with
 * "bad value 'TEXT' for NAME (a whole number from MIN to MAX)" in `err`.
 */
int cli_uint(const char *name, const char *text, int base, uint64_t min, uint64_t max, uint64_t *value, char *err);

/*
 * Parses the value of option `name` as a byte count ("4096", "16M",
 * "2GiB"; format_parse_bytes). Returns 0, or TTALLOC_EINVAL with a reason.
 */
int cli_bytes(const char *name, const char *text, uint64_t *value, char *err);

/*
 * main()'s answer to a refused command line: prints "PROG: ERR" and
 * "Try 'PROG --help'." on stderr. Returns CLI_EXIT_USAGE.
 */
int cli_fail(const char *prog, const char *err);

#endif /* TTALLOC_CLI_H */
