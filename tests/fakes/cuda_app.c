/*
 * cuda_app.c - a CUDA "application" for the interposer test, linked with the
 * fake runtime (libfake_cudart.so) and run with
 * LD_PRELOAD=libttalloc_cuda.so TT_ALLOC_TRACKING_ENABLED=1.
 *
 * Steps, each ended by a line on stdout and a wait for a line on stdin (so
 * the test can query the server in between):
 *   1 "ALLOCATED": device 0: cudaMalloc 1 MiB, cudaMallocManaged 3 MiB;
 *                  device 1: cudaMallocAsync 2 MiB, cuMemAlloc_v2 4 MiB;
 *                  plus failing calls whose error codes must come back unchanged
 *   2 "FREED":     cudaFree(1 MiB), cudaFreeAsync(2 MiB)
 *   then exits 0, leaving 3 MiB (device 0) and 4 MiB (device 1) to the leak report.
 * Any result that differs from the fake runtime's exits 3 with a message.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "fake_cuda.h"

#define MiB (1024u * 1024u)

static void expect(const char *what, int got, int want)
{
	if (got != want) {
		printf("MISMATCH %s: got %d, want %d\n", what, got, want);
		fflush(stdout);
		exit(3);
	}
}

static void step(const char *name)
{
	char line[64];
	printf("%s\n", name);
	fflush(stdout);
	if (!fgets(line, sizeof(line), stdin))
		exit(4);
}

int main(void)
{
	void *a = NULL, *m = NULL, *b = NULL, *x = (void *)0x1;
	unsigned long long d = 0, y = 0;
	expect("cudaSetDevice(0)", cudaSetDevice(0), 0);
	expect("cudaMalloc", cudaMalloc(&a, 1 * MiB), 0);
	expect("cudaMallocManaged", cudaMallocManaged(&m, 3 * MiB, 1), 0);
	expect("cudaMalloc(fail)", cudaMalloc(&x, FAKE_CUDA_FAIL_SIZE), 2);
	expect("cudaMalloc(fail) leaves the pointer", x == (void *)0x1, 1);
	expect("cudaSetDevice(1)", cudaSetDevice(1), 0);
	expect("cudaMallocAsync", cudaMallocAsync(&b, 2 * MiB, NULL), 0);
	expect("cuMemAlloc_v2", cuMemAlloc_v2(&d, 4 * MiB), 0);
	expect("cuMemAlloc_v2(fail)", cuMemAlloc_v2(&y, FAKE_CUDA_FAIL_SIZE), 2);
	expect("cudaFree(unknown)", cudaFree((void *)0x1000), 1);
	expect("cuMemFree_v2(unknown)", cuMemFree_v2(0x2000), 1);
	expect("cudaFree(NULL)", cudaFree(NULL), 0);
	step("ALLOCATED");
	expect("cudaFree", cudaFree(a), 0);
	expect("cudaFreeAsync", cudaFreeAsync(b, NULL), 0);
	expect("cudaFree twice", cudaFree(a), 1);
	step("FREED");
	return 0;
}
