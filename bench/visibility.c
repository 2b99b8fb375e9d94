/*
 * visibility.c - bench_visibility: how long after ttalloc_report_alloc()
 * returns a separate monitoring client sees the buffer (issue 4, row 3;
 * bench/README.md).
 *
 *   bench_visibility [--trials N]
 *
 * A trial reports one DRAM buffer on device 0, then polls seed QUERY on a
 * connection of its own (as tt_smi or a dashboard would) until the device
 * total includes it; the time runs from the report's return to the answer
 * that shows it. Trials alternate between two kinds:
 *   nowait  the QUERYs start at once;
 *   flush   ttalloc_flush() is called first (its time counts), after which
 *           the very first QUERY must see the buffer: ttalloc.h promises it,
 *           so a miss is a correctness failure (exit 1).
 * After each trial the buffer is freed and flushed, and the total must be
 * back where it was. A buffer not visible after 5 s is a lost event (exit 1).
 *
 * Prints: result nowait.{p50,p99,...} and flush.* in microseconds,
 * nowait.queries.max and flush.first_query_hits.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "bench_util.h"
#include "ttalloc.h"

#define GIVE_UP_NS (5ull * 1000 * 1000 * 1000)
#define BUFFER_SIZE (1ull << 20)

enum kind { KIND_NOWAIT, KIND_FLUSH, KINDS };

static const char *const kind_names[KINDS] = {"nowait", "flush"};

static struct query_client monitor = QUERY_CLIENT_INIT;

/* Device 0's DRAM total in one seed QUERY of the monitor; exits on a lost server. */
static uint64_t dram_now(void)
{
	struct proto_msg req, ans;
	char err[UNIX_SOCKET_ERR_LEN];
	proto_msg_init(&req, PROTO_QUERY, 0);
	if (query_exchange(&monitor, &req, &ans, err) < 0) {
		fprintf(stderr, "bench_visibility: %s\n", err);
		exit(2);
	}
	return ans.u.seed.dram_allocated;
}

/*
 * One trial: reports a buffer, returns microseconds until the monitor saw
 * it (or -1 when it never did) and the number of QUERYs that took.
 */
static double trial(enum kind kind, uint64_t addr, uint64_t before, unsigned *queries)
{
	if (ttalloc_report_alloc(0, TTALLOC_DRAM, addr, BUFFER_SIZE) != 0)
		return -1;
	uint64_t returned = bench_now_ns();
	if (kind == KIND_FLUSH && ttalloc_flush() != 0)
		return -1;
	*queries = 0;
	for (;;) {
		uint64_t dram = dram_now();
		uint64_t now = bench_now_ns();
		++*queries;
		if (dram == before + BUFFER_SIZE)
			return (double)(now - returned) / 1e3;
		if (now - returned > GIVE_UP_NS)
			return -1;
	}
}

int main(int argc, char **argv)
{
	size_t trials = 200;
	if (argc == 3 && strcmp(argv[1], "--trials") == 0)
		trials = bench_parse_count("--trials", argv[2]);
	else if (argc != 1 || !trials) {
		fprintf(stderr, "Usage: bench_visibility [--trials N]\n");
		return 2;
	}
	char err[UNIX_SOCKET_ERR_LEN];
	if (!ttalloc_enabled() || ttalloc_init() < 0 || query_connect(&monitor, NULL, err) < 0) {
		fprintf(stderr,
			"bench_visibility: needs TT_ALLOC_TRACKING_ENABLED=1 and a server at "
			"$TT_ALLOC_SERVER_SOCKET\n");
		return 2;
	}
	double *us[KINDS];
	size_t n[KINDS] = {0, 0};
	unsigned max_queries[KINDS] = {0, 0}, first_hits[KINDS] = {0, 0};
	us[KIND_NOWAIT] = calloc(trials, sizeof(double));
	us[KIND_FLUSH] = calloc(trials, sizeof(double));
	struct bench_expect sent;
	memset(&sent, 0, sizeof(sent));
	int rc = 0;
	uint64_t before = dram_now();
	for (size_t i = 0; i < 2 * trials && rc == 0; i++) {
		enum kind kind = (enum kind)(i % KINDS);
		uint64_t addr = (5ull << 40) + i * BUFFER_SIZE;
		unsigned queries = 0;
		double t = trial(kind, addr, before, &queries);
		bench_expect_alloc(&sent, 0, TTALLOC_DRAM, BUFFER_SIZE);
		if (t < 0) {
			fprintf(stderr,
				"CORRECTNESS FAILURE (visibility): the buffer of trial %zu (%s) never showed in "
				"QUERY within 5 s\n",
				i, kind_names[kind]);
			rc = -1;
			break;
		}
		us[kind][n[kind]++] = t;
		first_hits[kind] += queries == 1;
		if (queries > max_queries[kind])
			max_queries[kind] = queries;
		if (kind == KIND_FLUSH && queries != 1) {
			fprintf(stderr,
				"CORRECTNESS FAILURE (visibility): after ttalloc_flush() the first QUERY did not "
				"show the buffer (trial %zu took %u QUERYs)\n",
				i, queries);
			rc = -1;
		}
		rc |= ttalloc_report_free(0, addr) != 0 || ttalloc_flush() != 0 ? -1 : 0;
		bench_expect_free(&sent, 0, TTALLOC_DRAM, BUFFER_SIZE);
		if (rc == 0 && dram_now() != before) {
			fprintf(stderr,
				"CORRECTNESS FAILURE (visibility): DRAM total not back to %llu after a free and a "
				"flush\n",
				(unsigned long long)before);
			rc = -1;
		}
	}
	for (int k = 0; k < KINDS; k++) {
		struct bench_summary s;
		char key[64];
		bench_summarize(us[k], n[k], &s);
		bench_print_summary(kind_names[k], "us", &s);
		snprintf(key, sizeof(key), "%s.queries.max", kind_names[k]);
		bench_result(key, max_queries[k]);
		snprintf(key, sizeof(key), "%s.first_query_hits", kind_names[k]);
		bench_result(key, first_hits[k]);
		snprintf(key, sizeof(key), "%s.trials", kind_names[k]);
		bench_result(key, (double)n[k]);
		free(us[k]);
	}
	bench_print_sent(&sent);
	if (bench_check_totals("visibility", &sent) < 0)
		rc = -1;
	query_close(&monitor);
	ttalloc_shutdown();
	return rc < 0;
}
