/*
 * bench_util.h - what the issue-4 benchmark programs share (bench/README.md).
 *
 *  - a clock and sample statistics (median and p99 by nearest rank);
 *  - `result NAME VALUE` lines, the one output format bench/run.py parses;
 *  - the seed's transport, built here as the baseline: one blocking
 *    112-byte send() per event over the Unix socket, frames made with
 *    protocol.h's proto_msg_init (the wire format is defined only there);
 *  - the server's totals per device (seed QUERY and DEVICE_STATUS) and the
 *    totals a benchmark expects, so that every benchmark can check that the
 *    server saw exactly what was reported.
 *
 * Everything talks to $TT_ALLOC_SERVER_SOCKET (or the default path), the
 * server libttalloc reports to.
 */
#ifndef TTALLOC_BENCH_UTIL_H
#define TTALLOC_BENCH_UTIL_H

#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#include "common/protocol.h"
#include "common/query.h"

/* Devices the benchmarks report to (a default server simulates two). */
#define BENCH_DEVICES 2

/* Nanoseconds of CLOCK_MONOTONIC (vDSO: about 20 ns a call). */
uint64_t bench_now_ns(void);

/* Summary of a set of samples; percentiles by nearest rank. */
struct bench_summary {
	size_t count;
	double p50;
	double p99;
	double min;
	double max;
};

/* Sorts `v` in place and summarises it. */
void bench_summarize(double *v, size_t count, struct bench_summary *out);

/*
 * Prints `result NAME.p50 V`, `NAME.p99`, `NAME.min`, `NAME.max` (and a
 * human line on stderr), the lines bench/run.py reads.
 */
void bench_print_summary(const char *name, const char *unit, const struct bench_summary *s);

/* Prints one `result NAME VALUE` line. */
void bench_result(const char *name, double value);

/* Parses a whole unsigned number from argv or exits 2 naming the option. */
uint64_t bench_parse_count(const char *option, const char *text);

/*
 * The seed's transport: one connection, one blocking send() of a whole
 * 112-byte frame per event, nothing kept locally.
 */
struct bench_seed {
	int fd;
	pid_t pid;
};

/* Connects to the server. Returns 0 or -1 with the reason on stderr. */
int bench_seed_connect(struct bench_seed *seed);

/* Sends one ALLOC (one send()). Returns 0 or -1 (errno set). */
int bench_seed_alloc(struct bench_seed *seed, int device, enum ttalloc_buffer_type type, uint64_t address,
		     uint64_t size);

/* Sends one FREE (one send()). Returns 0 or -1 (errno set). */
int bench_seed_free(struct bench_seed *seed, int device, uint64_t address);

/*
 * Sends a seed QUERY on the same connection and reads its RESPONSE: the
 * server handles a connection's frames in order, so on return every event
 * sent before is applied (the seed's only way to wait). Returns 0 or -1.
 */
int bench_seed_sync(struct bench_seed *seed);

void bench_seed_close(struct bench_seed *seed);

/* What the server holds on one device, or what a benchmark expects it to. */
struct bench_totals {
	uint64_t used[4];      /* bytes, the seed's order: DRAM, L1, L1_SMALL, TRACE */
	uint64_t live_buffers; /* DEVICE_STATUS */
};

/* Totals of every device a benchmark reports to. */
struct bench_expect {
	struct bench_totals dev[BENCH_DEVICES];
	uint64_t allocs; /* ALLOC events reported */
	uint64_t frees;  /* FREE events reported */
};

/* Index of a seed total for a buffer type, or -1 for the types QUERY does not sum. */
int bench_total_index(enum ttalloc_buffer_type type);

/* Accounts one reported ALLOC / FREE of a buffer of `type` and `size`. */
void bench_expect_alloc(struct bench_expect *e, int device, enum ttalloc_buffer_type type, uint64_t size);
void bench_expect_free(struct bench_expect *e, int device, enum ttalloc_buffer_type type, uint64_t size);

/* Adds `part` (one thread's) into `sum`. */
void bench_expect_add(struct bench_expect *sum, const struct bench_expect *part);

/* Reads one device's totals with QUERY and DEVICE_STATUS on `qc`. Returns 0 or < 0. */
int bench_read_totals(struct query_client *qc, int device, struct bench_totals *out, char *err);

/*
 * Compares the server's totals of every device with `e`, on a connection of
 * its own. The benchmarks run against a server of their own, started empty
 * (bench/run.py), so `e` is the whole of what it should hold. Prints each
 * mismatch to stderr as `CORRECTNESS FAILURE (what): ...` and `result
 * check.WHAT 1` (equal) or 0. Returns 0 when equal, -1 otherwise.
 */
int bench_check_totals(const char *what, const struct bench_expect *e);

/* Prints `result sent.alloc N` and `result sent.free N` (bench/run.py checks them against /metrics). */
void bench_print_sent(const struct bench_expect *e);

#endif /* TTALLOC_BENCH_UTIL_H */
