/*
 * ingest.c - bench_ingest: events per second one server takes from one
 * process with several reporting threads (issue 4, row 2; bench/README.md).
 *
 *   bench_ingest [--threads T] [--events E] [--live K] [--runs R]
 *
 * Each run starts T producer threads together; each reports E events of
 * its own addresses: alloc/free pairs, then K allocations left live, over
 * two devices and two buffer types. The time runs from the start signal to
 * the moment the server has applied everything: ttalloc_flush() returning
 * after the threads joined (libttalloc), or each thread's seed QUERY
 * answered on its own connection (the seed's transport, the baseline: the
 * same T threads, one connection each, one blocking send() per event).
 * Runs alternate between the two. After every run the server's totals must
 * equal what the producers computed (exit 1 otherwise).
 *
 * Prints per run: result fast.rN.rate and seed.rN.rate (events/s).
 */
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "bench_util.h"
#include "ttalloc.h"

#define MAX_THREADS 64

enum transport { TRANSPORT_FAST, TRANSPORT_SEED, TRANSPORTS };

static const char *const transport_names[TRANSPORTS] = {"fast", "seed"};

/* One cache line at least each: the counters below change with every
 * event, and neighbours sharing a line would time false sharing, not the
 * transport. */
struct producer {
	_Alignas(64) enum transport transport;
	uint64_t base;   /* first address; every event of this run is above it */
	uint64_t events; /* to report */
	uint64_t live;   /* of them, allocations left live */
	struct bench_seed *seed;
	pthread_barrier_t *start;
	struct bench_expect expect; /* what this thread reported */
	unsigned long failures;
};

/* The buffer of event pair `i`: spread over devices, types and sizes. */
static void buffer_of(uint64_t i, int *device, enum ttalloc_buffer_type *type, uint64_t *size)
{
	*device = (int)(i & 1);
	*type = (i >> 1) & 1 ? TTALLOC_L1 : TTALLOC_DRAM;
	*size = 4096ull << (i % 4);
}

static int report_alloc(struct producer *p, int device, enum ttalloc_buffer_type type, uint64_t addr, uint64_t size)
{
	if (p->transport == TRANSPORT_FAST)
		return ttalloc_report_alloc(device, type, addr, size);
	return bench_seed_alloc(p->seed, device, type, addr, size);
}

static int report_free(struct producer *p, int device, uint64_t addr)
{
	if (p->transport == TRANSPORT_FAST)
		return ttalloc_report_free(device, addr);
	return bench_seed_free(p->seed, device, addr);
}

static void *produce(void *arg)
{
	struct producer *p = arg;
	uint64_t pairs = (p->events - p->live) / 2;
	int device;
	enum ttalloc_buffer_type type;
	uint64_t size;
	pthread_barrier_wait(p->start);
	for (uint64_t i = 0; i < pairs + p->live; i++) {
		uint64_t addr = p->base + i * 64;
		buffer_of(i, &device, &type, &size);
		p->failures += report_alloc(p, device, type, addr, size) != 0;
		bench_expect_alloc(&p->expect, device, type, size);
		if (i >= pairs)
			continue; /* left live */
		p->failures += report_free(p, device, addr) != 0;
		bench_expect_free(&p->expect, device, type, size);
	}
	/* the seed's only barrier: its QUERY is answered after its frames */
	if (p->transport == TRANSPORT_SEED)
		p->failures += bench_seed_sync(p->seed) != 0;
	return NULL;
}

struct options {
	unsigned threads;
	uint64_t events;
	uint64_t live;
	unsigned runs;
};

/* One run of one transport; adds what was reported to `total`. Returns 0 or -1. */
static int run_once(const struct options *o, enum transport t, unsigned run, struct bench_seed *seeds,
		    struct bench_expect *total)
{
	struct producer producers[MAX_THREADS];
	pthread_t threads[MAX_THREADS];
	pthread_barrier_t start;
	pthread_barrier_init(&start, NULL, o->threads + 1);
	for (unsigned i = 0; i < o->threads; i++) {
		producers[i] = (struct producer){
			.transport = t,
			.base = ((uint64_t)(run * TRANSPORTS + t + 1) << 44) | ((uint64_t)i << 40),
			.events = o->events,
			.live = o->live,
			.seed = &seeds[i],
			.start = &start,
		};
		if (pthread_create(&threads[i], NULL, produce, &producers[i]) != 0) {
			fprintf(stderr, "bench_ingest: cannot start producer %u\n", i);
			exit(2);
		}
	}
	pthread_barrier_wait(&start);
	uint64_t t0 = bench_now_ns();
	for (unsigned i = 0; i < o->threads; i++)
		pthread_join(threads[i], NULL);
	int flushed = t == TRANSPORT_FAST ? ttalloc_flush() : 0;
	uint64_t t1 = bench_now_ns();
	pthread_barrier_destroy(&start);

	unsigned long failures = 0;
	uint64_t events = 0;
	for (unsigned i = 0; i < o->threads; i++) {
		bench_expect_add(total, &producers[i].expect);
		failures += producers[i].failures;
		events += producers[i].expect.allocs + producers[i].expect.frees;
	}
	char key[64];
	snprintf(key, sizeof(key), "%s.r%u.rate", transport_names[t], run);
	bench_result(key, (double)events / ((double)(t1 - t0) / 1e9));
	fprintf(stderr, "  %s run %u: %llu events in %.3f s\n", transport_names[t], run, (unsigned long long)events,
		(double)(t1 - t0) / 1e9);
	if (failures || flushed < 0) {
		fprintf(stderr, "CORRECTNESS FAILURE (ingest): %lu report calls failed%s\n", failures,
			flushed < 0 ? ", ttalloc_flush failed" : "");
		return -1;
	}
	return bench_check_totals("ingest", total);
}

static void usage(void)
{
	fprintf(stderr, "Usage: bench_ingest [--threads T] [--events E per thread] [--live K per thread] [--runs R]\n");
	exit(2);
}

int main(int argc, char **argv)
{
	struct options o = {.threads = 4, .events = 250000, .live = 1000, .runs = 5};
	for (int i = 1; i < argc; i += 2) {
		if (i + 1 >= argc)
			usage();
		if (strcmp(argv[i], "--threads") == 0)
			o.threads = (unsigned)bench_parse_count(argv[i], argv[i + 1]);
		else if (strcmp(argv[i], "--events") == 0)
			o.events = bench_parse_count(argv[i], argv[i + 1]);
		else if (strcmp(argv[i], "--live") == 0)
			o.live = bench_parse_count(argv[i], argv[i + 1]);
		else if (strcmp(argv[i], "--runs") == 0)
			o.runs = (unsigned)bench_parse_count(argv[i], argv[i + 1]);
		else
			usage();
	}
	if (!o.threads || o.threads > MAX_THREADS || !o.runs || o.live > o.events || o.events >= 1ull << 34)
		usage();
	if (!ttalloc_enabled() || ttalloc_init() < 0) {
		fprintf(stderr,
			"bench_ingest: needs TT_ALLOC_TRACKING_ENABLED=1 and a server at $TT_ALLOC_SERVER_SOCKET\n");
		return 2;
	}
	/* one seed connection per thread, for the whole program: the buffers it leaves live stay */
	struct bench_seed seeds[MAX_THREADS];
	for (unsigned i = 0; i < o.threads; i++)
		if (bench_seed_connect(&seeds[i]) < 0)
			return 2;
	struct bench_expect total;
	memset(&total, 0, sizeof(total));
	/* every run even after a failure, so that the table still has both rates */
	int rc = 0;
	for (unsigned r = 0; r < o.runs; r++)
		for (int k = 0; k < TRANSPORTS; k++)
			rc |= run_once(&o, (enum transport)((k + r) % TRANSPORTS), r, seeds, &total);
	bench_print_sent(&total);
	for (unsigned i = 0; i < o.threads; i++)
		bench_seed_close(&seeds[i]);
	ttalloc_shutdown();
	return rc < 0;
}
