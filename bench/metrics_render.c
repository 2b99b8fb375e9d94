/*
 * metrics_render.c - bench_metrics_render: the time metrics_render (GET
 * /metrics without the HTTP around it) takes on a simulated 32-device host
 * whose registry holds PROCS processes of BUFFERS buffers each, spread over
 * the devices (issue 14's host: 500 processes, 1 M buffers), with
 * --metrics-processes MODE (top:50 by default, all, none).
 *
 *   bench_metrics_render [PROCS [BUFFERS [MODE [RUNS]]]]
 *
 * Prints `result NAME VALUE` lines (bench/fleet.py reads them): the median
 * and best of RUNS renders in ms, the text's size in bytes.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/clock.h"
#include "common/log.h"
#include "server/http/api.h"
#include "server/server.h"

static struct server s; /* large: not on the stack */

static int compare_double(const void *a, const void *b)
{
	double x = *(const double *)a, y = *(const double *)b;
	return (x > y) - (x < y);
}

/* Fills the registry: process p holds `buffers` buffers round-robin over the devices, sizes differing per process. */
static void fill(int procs, int buffers)
{
	for (int p = 0; p < procs; p++) {
		uint32_t proc = registry_attach(&s.state.registry, 100000 + p, 0);
		for (int b = 0; b < buffers; b++)
			registry_alloc(&s.state.registry, proc, b % s.state.devices.count,
				       b % 2 ? TTALLOC_L1 : TTALLOC_DRAM, ((uint64_t)p << 32) | ((uint64_t)b << 12),
				       4096 + (uint64_t)p, 0);
	}
}

int main(int argc, char **argv)
{
	int procs = argc > 1 ? atoi(argv[1]) : 500, buffers = argc > 2 ? atoi(argv[2]) : 2000;
	const char *mode = argc > 3 ? argv[3] : "top:50";
	int runs = argc > 4 ? atoi(argv[4]) : 30;
	char err[ERR_LEN];
	struct server_options o;
	server_options_defaults(&o);
	o.devices = "sim:32";
	o.ttmetal_shm = 0;
	o.metrics_processes = strcmp(mode, "all") == 0 ? METRICS_PROCESSES_ALL
		: strcmp(mode, "none") == 0            ? METRICS_PROCESSES_NONE
						       : METRICS_PROCESSES_TOP;
	if (strncmp(mode, "top:", 4) == 0)
		o.metrics_top = (uint32_t)atoi(mode + 4);
	log_set_level(LOG_ERROR);
	if (procs < 1 || buffers < 1 || runs < 1 || server_core_open(&s, &o, err) < 0) {
		fprintf(stderr, "bench_metrics_render: %s\n",
			procs < 1 || buffers < 1 || runs < 1 ? "bad arguments" : err);
		return 2;
	}
	fill(procs, buffers);
	double *ms = calloc((size_t)runs, sizeof(*ms));
	size_t len = 0;
	for (int i = 0; i < runs && ms; i++) {
		uint64_t t0 = clock_monotonic_ns();
		free(metrics_render(&s, &len));
		ms[i] = (double)(clock_monotonic_ns() - t0) / 1e6;
	}
	if (!ms)
		return 2;
	qsort(ms, (size_t)runs, sizeof(*ms), compare_double);
	printf("result render_p50_ms %.3f\nresult render_best_ms %.3f\nresult bytes %zu\n", ms[runs / 2], ms[0], len);
	free(ms);
	server_core_close(&s);
	return 0;
}
