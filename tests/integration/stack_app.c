/*
 * stack_app.c - allocations from known call sites, for the stack-trace
 * tests. Usage: stack_app N [hold-ms]
 *   load_weights() allocates one DRAM buffer; make_cache() N L1 buffers
 *   (all from one call site, so one distinct stack); then it flushes,
 *   prints "ready" and sleeps hold-ms (default 0) before exiting without
 *   freeing anything: every buffer is a leak.
 */
#include <stdio.h>
#include <stdlib.h>
#include <time.h>

#include "ttalloc.h"

__attribute__((noinline)) static void load_weights(void)
{
	ttalloc_report_alloc(0, TTALLOC_DRAM, 0x800000000ull, 1u << 20);
}

__attribute__((noinline)) static void make_cache(unsigned i)
{
	ttalloc_report_alloc(0, TTALLOC_L1, 0x10000ull + i * 0x1000ull, 4096);
}

int main(int argc, char **argv)
{
	unsigned n = argc > 1 ? (unsigned)atoi(argv[1]) : 1;
	long hold_ms = argc > 2 ? atol(argv[2]) : 0;
	load_weights();
	for (unsigned i = 0; i < n; i++)
		make_cache(i);
	int rc = ttalloc_flush();
	printf("ready %d\n", rc);
	fflush(stdout);
	struct timespec ts = {hold_ms / 1000, (hold_ms % 1000) * 1000000L};
	nanosleep(&ts, NULL);
	return 0;
}
