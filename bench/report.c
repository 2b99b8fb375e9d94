/*
 * report.c - bench_report: what one ttalloc_report_alloc / _free call costs
 * the application (issue 4, rows 1 and 7; bench/README.md).
 *
 *   bench_report cost [--runs R] [--batches B]
 *       Tracking on. The library as an application links it (libttalloc.so,
 *       public API only), next to two baselines in the same process: the
 *       seed's transport (one blocking 112-byte send() per event to the same
 *       server) and a no-op floor (an empty noinline function called the
 *       same way). Alloc/free pairs; afterwards the server's totals must be
 *       exactly what was reported (exit 1 otherwise).
 *   bench_report disabled [--runs R] [--batches B]
 *       TT_ALLOC_TRACKING_ENABLED unset: ttalloc_report_alloc next to an
 *       empty function of a shared library (libbench_empty.so), both called
 *       through the PLT.
 *   bench_report icount WHAT N
 *       Only N calls of WHAT (fast, seed, noop, disabled, plt) after set-up:
 *       run under callgrind twice with different N, the difference is the
 *       instruction count of N calls without the set-up.
 *
 * Each batch times BATCH calls between two clock reads, so the ~20 ns of
 * the clock weighs under 1 ns per call; the per-call figure of a batch is
 * its time / BATCH. One run is `batches` batches of each method, methods
 * interleaved run by run so that a noisy moment of the shared machine
 * lands on all of them. Prints per run: result METHOD.rN.{p50,p99,min,max}
 * in ns per call.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "bench_util.h"
#include "empty_lib.h"
#include "ttalloc.h"

/* Calls per clock pair; even, since cost mode calls alloc and free in pairs. */
#define BATCH 32
/* Addresses are reused in a window of this many slots, like a device allocator's. */
#define ADDRESS_SLOTS 4096
#define BUFFER_SIZE 4096

/* One way of reporting; each batch function makes BATCH calls. */
struct method {
	const char *name;
	uint64_t (*batch)(void);
};

static struct bench_seed seed = {.fd = -1};
static struct bench_expect sent;
static uint64_t next_slot;
static unsigned long failures;

static uint64_t address(uint64_t base)
{
	return base + (next_slot++ % ADDRESS_SLOTS) * BUFFER_SIZE;
}

/* The floor: an empty call the compiler cannot drop, with the same arguments. */
__attribute__((noinline)) static int noop_alloc(int device, enum ttalloc_buffer_type type, uint64_t addr, uint64_t size)
{
	(void)device, (void)type, (void)addr, (void)size;
	__asm__ volatile("" ::: "memory");
	return 0;
}

__attribute__((noinline)) static int noop_free(int device, uint64_t addr)
{
	(void)device, (void)addr;
	__asm__ volatile("" ::: "memory");
	return 0;
}

/* The seed's client: a frame per event, sent before the call returns. */
static int seed_alloc(int device, enum ttalloc_buffer_type type, uint64_t addr, uint64_t size)
{
	return bench_seed_alloc(&seed, device, type, addr, size);
}

static int seed_free(int device, uint64_t addr)
{
	return bench_seed_free(&seed, device, addr);
}

/*
 * BATCH/2 alloc/free pairs of ALLOC and FREE at fresh slots above BASE,
 * timed; a macro so that each method calls its functions directly (no
 * function pointer the real application would not have).
 */
#define PAIRS_BATCH(fn_name, ALLOC, FREE, BASE)                             \
	static uint64_t fn_name(void)                                       \
	{                                                                   \
		unsigned long bad = 0;                                      \
		uint64_t start = bench_now_ns();                            \
		for (int i = 0; i < BATCH / 2; i++) {                       \
			uint64_t a = address(BASE);                         \
			bad += ALLOC(0, TTALLOC_DRAM, a, BUFFER_SIZE) != 0; \
			bad += FREE(0, a) != 0;                             \
		}                                                           \
		uint64_t elapsed = bench_now_ns() - start;                  \
		failures += bad;                                            \
		return elapsed;                                             \
	}

PAIRS_BATCH(batch_fast, ttalloc_report_alloc, ttalloc_report_free, 1ull << 40)
PAIRS_BATCH(batch_seed, seed_alloc, seed_free, 2ull << 40)
PAIRS_BATCH(batch_noop, noop_alloc, noop_free, 3ull << 40)

/* BATCH calls of ALLOC alone (tracking disabled: nothing is live). */
#define ALLOCS_BATCH(fn_name, ALLOC)                                                          \
	static uint64_t fn_name(void)                                                         \
	{                                                                                     \
		unsigned long bad = 0;                                                        \
		uint64_t start = bench_now_ns();                                              \
		for (int i = 0; i < BATCH; i++)                                               \
			bad += ALLOC(0, TTALLOC_DRAM, address(4ull << 40), BUFFER_SIZE) != 0; \
		uint64_t elapsed = bench_now_ns() - start;                                    \
		failures += bad;                                                              \
		return elapsed;                                                               \
	}

ALLOCS_BATCH(batch_disabled, ttalloc_report_alloc)
ALLOCS_BATCH(batch_plt, bench_empty_report_alloc)

/* Runs `batches` batches of `m` and prints the per-call distribution of run `run`. */
static void measure(const struct method *m, unsigned run, size_t batches, double *per_call)
{
	for (size_t b = 0; b < batches; b++)
		per_call[b] = (double)m->batch() / BATCH;
	struct bench_summary s;
	char name[64];
	snprintf(name, sizeof(name), "%s.r%u", m->name, run);
	bench_summarize(per_call, batches, &s);
	bench_print_summary(name, "ns/call", &s);
}

static void run_methods(const struct method *methods, size_t count, unsigned runs, size_t batches)
{
	double *per_call = malloc(batches * sizeof(*per_call));
	if (!per_call) {
		fprintf(stderr, "bench_report: out of memory\n");
		exit(2);
	}
	/* warm-up: caches, branch predictors, the library's connection and table */
	for (size_t i = 0; i < count; i++)
		for (size_t b = 0; b < batches / 4 + 100; b++)
			methods[i].batch();
	for (unsigned r = 0; r < runs; r++)
		for (size_t i = 0; i < count; i++)
			measure(&methods[(i + r) % count], r, batches, per_call);
	free(per_call);
}

/* Every event the pairs reported, for the correctness check (each batch frees what it allocates). */
static void count_pairs(uint64_t pairs)
{
	sent.allocs += pairs;
	sent.frees += pairs;
}

static int check_failures(const char *what)
{
	if (!failures)
		return 0;
	fprintf(stderr, "CORRECTNESS FAILURE (%s): %lu report calls returned an error\n", what, failures);
	return -1;
}

static int cost(unsigned runs, size_t batches)
{
	if (!ttalloc_enabled()) {
		fprintf(stderr, "bench_report cost: needs TT_ALLOC_TRACKING_ENABLED=1\n");
		return 2;
	}
	int rc = ttalloc_init();
	if (rc < 0) {
		fprintf(stderr, "bench_report: ttalloc_init: %s\n", ttalloc_strerror(rc));
		return 1;
	}
	if (bench_seed_connect(&seed) < 0)
		return 1;
	const struct method methods[] = {{"noop", batch_noop}, {"fast", batch_fast}, {"seed", batch_seed}};
	run_methods(methods, 3, runs, batches);
	/* fast and seed each sent (warm-up + runs) * batches pairs */
	uint64_t batches_each = (uint64_t)(batches / 4 + 100) + (uint64_t)runs * batches;
	count_pairs(2 * batches_each * (BATCH / 2));
	rc = check_failures("report");
	if (ttalloc_flush() < 0 || bench_seed_sync(&seed) < 0) {
		fprintf(stderr, "CORRECTNESS FAILURE (report): lost the server before the final check\n");
		rc = -1;
	}
	bench_print_sent(&sent);
	if (bench_check_totals("report", &sent) < 0)
		rc = -1;
	bench_seed_close(&seed);
	ttalloc_shutdown();
	return rc < 0;
}

static int disabled(unsigned runs, size_t batches)
{
	if (ttalloc_enabled()) {
		fprintf(stderr, "bench_report disabled: run it with TT_ALLOC_TRACKING_ENABLED unset\n");
		return 2;
	}
	const struct method methods[] = {{"plt_empty", batch_plt}, {"disabled", batch_disabled}};
	run_methods(methods, 2, runs, batches);
	return check_failures("disabled") < 0;
}

/* N calls of one method and nothing else worth counting. */
static int icount(const char *what, uint64_t calls)
{
	static const struct method methods[] = {{"fast", batch_fast},
						{"seed", batch_seed},
						{"noop", batch_noop},
						{"disabled", batch_disabled},
						{"plt", batch_plt}};
	const struct method *m = NULL;
	for (size_t i = 0; i < sizeof(methods) / sizeof(methods[0]); i++)
		if (strcmp(what, methods[i].name) == 0)
			m = &methods[i];
	if (!m) {
		fprintf(stderr, "bench_report icount: unknown method '%s' (fast, seed, noop, disabled, plt)\n", what);
		return 2;
	}
	if (m->batch == batch_fast && ttalloc_init() < 0)
		return 1;
	if (m->batch == batch_seed && bench_seed_connect(&seed) < 0)
		return 1;
	for (uint64_t i = 0; i < calls / BATCH; i++)
		m->batch();
	if (m->batch == batch_fast)
		ttalloc_flush();
	if (m->batch == batch_seed)
		bench_seed_sync(&seed);
	if (m->batch == batch_fast || m->batch == batch_seed) {
		count_pairs(calls / BATCH * (BATCH / 2));
		bench_print_sent(&sent);
	}
	return check_failures(what) < 0;
}

static void usage(void)
{
	fprintf(stderr,
		"Usage: bench_report cost|disabled [--runs R] [--batches B]\n"
		"       bench_report icount fast|seed|noop|disabled|plt CALLS\n");
	exit(2);
}

int main(int argc, char **argv)
{
	if (argc < 2)
		usage();
	if (strcmp(argv[1], "icount") == 0) {
		if (argc != 4)
			usage();
		return icount(argv[2], bench_parse_count("CALLS", argv[3]));
	}
	unsigned runs = 5;
	size_t batches = 20000;
	for (int i = 2; i < argc; i++) {
		if (strcmp(argv[i], "--runs") == 0 && i + 1 < argc)
			runs = (unsigned)bench_parse_count("--runs", argv[++i]);
		else if (strcmp(argv[i], "--batches") == 0 && i + 1 < argc)
			batches = bench_parse_count("--batches", argv[++i]);
		else
			usage();
	}
	if (!runs || !batches)
		usage();
	if (strcmp(argv[1], "cost") == 0)
		return cost(runs, batches);
	if (strcmp(argv[1], "disabled") == 0)
		return disabled(runs, batches);
	usage();
	return 2;
}
