/*
 * spawn.c - bench_spawn: wall time of a whole command, start to exit
 * (issue 4, row 6: tt_smi one-shot; bench/README.md).
 *
 *   bench_spawn [--runs N] [--name NAME] -- COMMAND [ARGS...]
 *
 * Runs COMMAND N times (after 2 untimed runs) with posix_spawn, its output
 * to /dev/null, and times each from the spawn to waitpid's return, so the
 * figure has no interpreter of our own in it. /bin/true through the same
 * call is the floor of starting a process. Prints result NAME.{p50,p99,
 * min,max} in milliseconds; exits 1 when COMMAND fails.
 */
#include <fcntl.h>
#include <spawn.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>

#include "bench_util.h"

extern char **environ;

#define WARMUP_RUNS 2

/* Runs argv once; returns milliseconds, or -1 when it could not run or failed. */
static double run_once(char **argv)
{
	posix_spawn_file_actions_t actions;
	posix_spawn_file_actions_init(&actions);
	posix_spawn_file_actions_addopen(&actions, 1, "/dev/null", O_WRONLY, 0);
	posix_spawn_file_actions_addopen(&actions, 2, "/dev/null", O_WRONLY, 0);
	pid_t pid;
	int status;
	uint64_t t0 = bench_now_ns();
	int err = posix_spawn(&pid, argv[0], &actions, NULL, argv, environ);
	if (err == 0 && waitpid(pid, &status, 0) < 0)
		err = -1;
	uint64_t t1 = bench_now_ns();
	posix_spawn_file_actions_destroy(&actions);
	if (err) {
		fprintf(stderr, "bench_spawn: cannot run %s: %s\n", argv[0],
			err > 0 ? strerror(err) : "waitpid failed");
		return -1;
	}
	if (!WIFEXITED(status) || WEXITSTATUS(status) != 0) {
		fprintf(stderr, "bench_spawn: %s failed (status 0x%x)\n", argv[0], (unsigned)status);
		return -1;
	}
	return (double)(t1 - t0) / 1e6;
}

int main(int argc, char **argv)
{
	size_t runs = 20;
	const char *name = "spawn";
	int i = 1;
	for (; i + 1 < argc && strcmp(argv[i], "--") != 0; i += 2) {
		if (strcmp(argv[i], "--runs") == 0)
			runs = bench_parse_count(argv[i], argv[i + 1]);
		else if (strcmp(argv[i], "--name") == 0)
			name = argv[i + 1];
		else
			break;
	}
	if (i >= argc || strcmp(argv[i], "--") != 0 || i + 1 >= argc || !runs) {
		fprintf(stderr, "Usage: bench_spawn [--runs N] [--name NAME] -- COMMAND [ARGS...]\n");
		return 2;
	}
	char **command = &argv[i + 1];
	double *ms = malloc(runs * sizeof(*ms));
	if (!ms)
		return 2;
	for (size_t r = 0; r < WARMUP_RUNS + runs; r++) {
		double t = run_once(command);
		if (t < 0)
			return 1;
		if (r >= WARMUP_RUNS)
			ms[r - WARMUP_RUNS] = t;
	}
	struct bench_summary s;
	bench_summarize(ms, runs, &s);
	bench_print_summary(name, "ms", &s);
	free(ms);
	return 0;
}
