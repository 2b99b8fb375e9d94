/*
 * query_rtt.c - bench_query: the monitoring side of the benchmarks
 * (issue 4, rows 4 to 6; bench/README.md).
 *
 *   bench_query rtt [--queries N] [--name NAME]
 *       N seed QUERY -> RESPONSE round trips on one connection, each timed
 *       alone, after a warm-up; prints result NAME.{p50,p99,min,max} in
 *       microseconds. bench/run.py runs it against a server holding 1 M
 *       buffers and against an empty one, alternately.
 *   bench_query expect --buffers N --bytes B [--timeout-ms T]
 *       Waits until the server's live buffers and bytes (DRAM + L1 +
 *       L1_SMALL + TRACE), summed over the devices, are exactly N and B;
 *       exit 1 with a CORRECTNESS FAILURE line when they are not by the
 *       timeout (default 60 s) or stop changing for 10 s. How the driver
 *       knows a filler is done.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "bench_util.h"

static struct query_client qc = QUERY_CLIENT_INIT;

static void connect_or_exit(void)
{
	char err[UNIX_SOCKET_ERR_LEN];
	if (query_connect(&qc, NULL, err) < 0) {
		fprintf(stderr, "bench_query: %s\n", err);
		exit(2);
	}
}

static double one_query_us(void)
{
	struct proto_msg req, ans;
	char err[UNIX_SOCKET_ERR_LEN];
	proto_msg_init(&req, PROTO_QUERY, 0);
	uint64_t t0 = bench_now_ns();
	int rc = query_exchange(&qc, &req, &ans, err);
	uint64_t t1 = bench_now_ns();
	if (rc < 0 || ans.type != PROTO_RESPONSE) {
		fprintf(stderr, "bench_query: QUERY failed: %s\n", rc < 0 ? err : "not a RESPONSE");
		exit(2);
	}
	return (double)(t1 - t0) / 1e3;
}

static int rtt(size_t queries, const char *name)
{
	double *us = malloc(queries * sizeof(*us));
	if (!us)
		return 2;
	connect_or_exit();
	for (size_t i = 0; i < queries / 10 + 10; i++)
		one_query_us();
	for (size_t i = 0; i < queries; i++)
		us[i] = one_query_us();
	struct bench_summary s;
	bench_summarize(us, queries, &s);
	bench_print_summary(name, "us", &s);
	free(us);
	query_close(&qc);
	return 0;
}

/* Live buffers and bytes on every device. */
static void server_sum(uint64_t *buffers, uint64_t *bytes)
{
	char err[UNIX_SOCKET_ERR_LEN];
	*buffers = *bytes = 0;
	for (int d = 0; d < BENCH_DEVICES; d++) {
		struct bench_totals t;
		if (bench_read_totals(&qc, d, &t, err) < 0) {
			fprintf(stderr, "bench_query: %s\n", err);
			exit(2);
		}
		*buffers += t.live_buffers;
		for (int i = 0; i < 4; i++)
			*bytes += t.used[i];
	}
}

/*
 * Polls until the server holds exactly `buffers` and `bytes`. Gives up at
 * the timeout, or earlier when nothing changed for STALL_MS: a filler that
 * stopped making progress will not reach the figure.
 */
#define STALL_MS 10000

static int expect(uint64_t buffers, uint64_t bytes, uint64_t timeout_ms)
{
	connect_or_exit();
	uint64_t start = bench_now_ns(), changed = start;
	uint64_t got_buffers = 0, got_bytes = 0, last_buffers = UINT64_MAX, last_bytes = UINT64_MAX;
	for (;;) {
		server_sum(&got_buffers, &got_bytes);
		if (got_buffers == buffers && got_bytes == bytes)
			break;
		uint64_t now = bench_now_ns();
		if (got_buffers != last_buffers || got_bytes != last_bytes)
			changed = now;
		last_buffers = got_buffers;
		last_bytes = got_bytes;
		if (now - start > timeout_ms * 1000000ull || now - changed > STALL_MS * 1000000ull) {
			fprintf(stderr,
				"CORRECTNESS FAILURE (server totals): after %.1f s the server holds %llu buffers, "
				"%llu bytes (unchanged for %.1f s); expected %llu buffers, %llu bytes\n",
				(double)(now - start) / 1e9, (unsigned long long)got_buffers,
				(unsigned long long)got_bytes, (double)(now - changed) / 1e9,
				(unsigned long long)buffers, (unsigned long long)bytes);
			return 1;
		}
		nanosleep(&(struct timespec){.tv_nsec = 20 * 1000 * 1000}, NULL);
	}
	query_close(&qc);
	return 0;
}

static void usage(void)
{
	fprintf(stderr,
		"Usage: bench_query rtt [--queries N] [--name NAME]\n"
		"       bench_query expect --buffers N --bytes B [--timeout-ms T]\n");
	exit(2);
}

int main(int argc, char **argv)
{
	if (argc < 2 || (argc % 2) != 0)
		usage();
	uint64_t queries = 2000, buffers = UINT64_MAX, bytes = UINT64_MAX, timeout_ms = 60000;
	const char *name = "query";
	for (int i = 2; i + 1 < argc; i += 2) {
		if (strcmp(argv[i], "--queries") == 0)
			queries = bench_parse_count(argv[i], argv[i + 1]);
		else if (strcmp(argv[i], "--name") == 0)
			name = argv[i + 1];
		else if (strcmp(argv[i], "--buffers") == 0)
			buffers = bench_parse_count(argv[i], argv[i + 1]);
		else if (strcmp(argv[i], "--bytes") == 0)
			bytes = bench_parse_count(argv[i], argv[i + 1]);
		else if (strcmp(argv[i], "--timeout-ms") == 0)
			timeout_ms = bench_parse_count(argv[i], argv[i + 1]);
		else
			usage();
	}
	if (strcmp(argv[1], "rtt") == 0 && queries)
		return rtt(queries, name);
	if (strcmp(argv[1], "expect") == 0 && buffers != UINT64_MAX && bytes != UINT64_MAX)
		return expect(buffers, bytes, timeout_ms);
	usage();
	return 2;
}
