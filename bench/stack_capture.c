/*
 * stack_capture.c - what TT_ALLOC_STACK_TRACE=1 costs per allocation.
 *
 * Measures, in one process and one run: the client's stack capture and
 * hashing (stack_capture + stack_id_of, as ttalloc_report_alloc does them)
 * at a realistic depth, against a no-op baseline (an empty noinline call).
 * Prints median and p99 over ROUNDS rounds of BATCH calls each.
 * Usage: bench_stack_capture [depth]   (extra frames above the capture)
 */
#define _POSIX_C_SOURCE 200809L
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <time.h>

#include "client/stacks.h"

#define ROUNDS 200
#define BATCH 2000

static uint64_t now_ns(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000000ull + (uint64_t)ts.tv_nsec;
}

static volatile uint64_t sink;

__attribute__((noinline)) static void noop(void)
{
	__asm__ volatile("" ::: "memory");
}

__attribute__((noinline)) static void capture(void)
{
	uint64_t ips[PROTO_STACK_MAX_DEPTH];
	int depth = stack_capture(ips, PROTO_STACK_MAX_DEPTH, 0);
	sink += stack_id_of(ips, depth);
}

/* Recurse `levels` frames, then run `fn` BATCH times: a stack of that depth. */
__attribute__((noinline)) static uint64_t at_depth(int levels, void (*fn)(void))
{
	if (levels > 0) {
		uint64_t t = at_depth(levels - 1, fn);
		__asm__ volatile("" ::: "memory");
		return t;
	}
	uint64_t start = now_ns();
	for (int i = 0; i < BATCH; i++)
		fn();
	return now_ns() - start;
}

static int cmp(const void *a, const void *b)
{
	double x = *(const double *)a, y = *(const double *)b;
	return x < y ? -1 : x > y;
}

static void measure(const char *name, int levels, void (*fn)(void), double *median, double *p99)
{
	double per_call[ROUNDS];
	for (int r = 0; r < ROUNDS; r++)
		per_call[r] = (double)at_depth(levels, fn) / BATCH;
	qsort(per_call, ROUNDS, sizeof(double), cmp);
	*median = per_call[ROUNDS / 2];
	*p99 = per_call[ROUNDS * 99 / 100];
	printf("%-28s median %8.1f ns   p99 %8.1f ns\n", name, *median, *p99);
}

int main(int argc, char **argv)
{
	int levels = argc > 1 ? atoi(argv[1]) : 10;
	double base_med, base_p99, cap_med, cap_p99;
	printf("stack depth: about %d frames (plus main and libc)\n", levels + 3);
	measure("baseline (empty call)", levels, noop, &base_med, &base_p99);
	measure("capture + hash (libunwind)", levels, capture, &cap_med, &cap_p99);
	printf("cost per captured allocation: %.0f ns median (target <= 2000 ns): %s\n", cap_med - base_med,
	       cap_med - base_med <= 2000 ? "met" : "NOT met");
	return 0;
}
