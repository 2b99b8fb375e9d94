/*
 * ttmetal.c - bench_ttmetal: what a buffer tracked through
 * libttalloc_ttmetal costs tt-metal (the tests' fake tt-metal), next to a
 * bare libttalloc call measured in the same process (bench/README.md, row 8).
 *
 *   bench_ttmetal --plugin PATH/libttalloc_ttmetal.so [--runs R] [--batches B]
 *
 * Three ways of reporting alloc/free pairs of one 4 KiB DRAM buffer, each
 * timed in batches of BATCH calls (BATCH/2 pairs) between two clock reads:
 *   floor   the fake's GraphTracker::track_allocate + track_deallocate with
 *           no processor registered: what tt-metal pays anyway. Measured
 *           first, because a background processor is never removed.
 *   plugin  the same once libttalloc_ttmetal is registered (dlopen PATH,
 *           ttalloc_ttmetal_init): GraphTracker's dispatch, the processor,
 *           libttalloc.
 *   bare    ttalloc_report_alloc + ttalloc_report_free called directly.
 * plugin and bare alternate run by run. The plugin's own cost per call is
 * plugin - floor - bare. Prints result METHOD.rN.{p50,p99,min,max} in ns
 * per call, then checks that the server holds nothing and prints the
 * events sent (bench/run.py compares them with the server's count).
 */
#include <dlfcn.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "bench_util.h"
#include "fake_tt_metal.h"
#include "ttalloc.h"

#define BATCH 32
#define SLOTS 4096
#define SIZE 4096

static void *buffer; /* the fake's Buffer, re-addressed for every pair */
static uint64_t slot;
static unsigned long bad_calls;

/* Addresses below 4 GiB (tt-metal's Buffer::address() is 32 bits), a window per method. */
static uint64_t next_address(uint64_t base)
{
	return base + (slot++ % SLOTS) * SIZE;
}

static uint64_t batch_tracked(void)
{
	uint64_t start = bench_now_ns();
	for (int i = 0; i < BATCH / 2; i++)
		fake_ttmetal_bench_track(buffer, next_address(0x40000000));
	return bench_now_ns() - start;
}

static uint64_t batch_bare(void)
{
	unsigned long bad = 0;
	uint64_t start = bench_now_ns();
	for (int i = 0; i < BATCH / 2; i++) {
		uint64_t a = next_address(0x80000000);
		bad += ttalloc_report_alloc(0, TTALLOC_DRAM, a, SIZE) != 0;
		bad += ttalloc_report_free(0, a) != 0;
	}
	uint64_t elapsed = bench_now_ns() - start;
	bad_calls += bad;
	return elapsed;
}

/* Times `batches` batches; prints the per-call summary as NAME.rRUN. */
static void timed_run(const char *name, uint64_t (*batch)(void), unsigned run, size_t batches, double *samples)
{
	for (size_t b = 0; b < batches; b++)
		samples[b] = (double)batch() / BATCH;
	struct bench_summary s;
	char label[48];
	snprintf(label, sizeof(label), "%s.r%u", name, run);
	bench_summarize(samples, batches, &s);
	bench_print_summary(label, "ns/call", &s);
}

static void warm_up(uint64_t (*batch)(void), size_t batches)
{
	for (size_t b = 0; b < batches / 4 + 100; b++)
		batch();
}

static int register_plugin(const char *path)
{
	void *h = dlopen(path, RTLD_NOW | RTLD_LOCAL);
	int (*init)(void) = h ? (int (*)(void))dlsym(h, "ttalloc_ttmetal_init") : NULL;
	const char *(*status)(void) = h ? (const char *(*)(void))dlsym(h, "ttalloc_ttmetal_status") : NULL;
	if (!init || !status) {
		fprintf(stderr, "bench_ttmetal: cannot load %s: %s\n", path, dlerror());
		return -1;
	}
	int rc = init();
	fprintf(stderr, "bench_ttmetal: libttalloc_ttmetal: %s\n", status());
	return rc == 0 ? 0 : -1;
}

static int run(const char *plugin, unsigned runs, size_t batches)
{
	double *samples = malloc(batches * sizeof(*samples));
	if (!samples || fake_ttmetal_open_device(0) < 0)
		return 2;
	buffer = fake_ttmetal_bench_buffer(0, 0 /* DRAM */, SIZE);
	if (ttalloc_init() < 0) {
		fprintf(stderr, "bench_ttmetal: no server (TT_ALLOC_SERVER_SOCKET)\n");
		return 2;
	}
	warm_up(batch_tracked, batches);
	for (unsigned r = 0; r < runs; r++)
		timed_run("floor", batch_tracked, r, batches, samples);
	if (register_plugin(plugin) < 0)
		return 2;
	warm_up(batch_tracked, batches);
	warm_up(batch_bare, batches);
	for (unsigned r = 0; r < runs; r++) {
		timed_run(r % 2 ? "bare" : "plugin", r % 2 ? batch_bare : batch_tracked, r, batches, samples);
		timed_run(r % 2 ? "plugin" : "bare", r % 2 ? batch_tracked : batch_bare, r, batches, samples);
	}
	free(samples);
	/* both tracked and bare sent (warm-up + runs) * batches pairs */
	uint64_t pairs = 2 * ((uint64_t)(batches / 4 + 100) + (uint64_t)runs * batches) * (BATCH / 2);
	struct bench_expect sent = {.allocs = pairs, .frees = pairs};
	int rc = 0;
	if (bad_calls) {
		fprintf(stderr, "CORRECTNESS FAILURE (ttmetal): %lu report calls returned an error\n", bad_calls);
		rc = -1;
	}
	if (ttalloc_flush() < 0) {
		fprintf(stderr, "CORRECTNESS FAILURE (ttmetal): lost the server before the final check\n");
		rc = -1;
	}
	bench_print_sent(&sent);
	if (bench_check_totals("ttmetal", &sent) < 0)
		rc = -1;
	return rc < 0;
}

int main(int argc, char **argv)
{
	const char *plugin = NULL;
	unsigned runs = 5;
	size_t batches = 20000;
	for (int i = 1; i + 1 < argc; i += 2) {
		if (strcmp(argv[i], "--plugin") == 0)
			plugin = argv[i + 1];
		else if (strcmp(argv[i], "--runs") == 0)
			runs = (unsigned)bench_parse_count("--runs", argv[i + 1]);
		else if (strcmp(argv[i], "--batches") == 0)
			batches = (size_t)bench_parse_count("--batches", argv[i + 1]);
		else
			plugin = NULL, i = argc;
	}
	if (!plugin || !runs || !batches || !ttalloc_enabled()) {
		fprintf(stderr,
			"Usage: TT_ALLOC_TRACKING_ENABLED=1 bench_ttmetal --plugin PATH [--runs R] [--batches B]\n");
		return 2;
	}
	return run(plugin, runs, batches);
}
