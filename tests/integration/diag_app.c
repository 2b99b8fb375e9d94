/*
 * diag_app.c - a C client of the diagnosis features, with known call
 * sites, for test_diagnosis.py. Usage: diag_app MODE; it prints "ready RC"
 * once its reports are flushed, then waits for a line on stdin before
 * exiting (its buffers stay live meanwhile):
 *   flame       load_weights() allocates 8 MiB of DRAM, make_cache() 1 MiB of L1
 *   doublefree  make_buffer() allocates, release_buffer() frees it twice
 *   oom         grow_model() reports a failed 2 GiB DRAM allocation
 *   marks       ttalloc_mark with a 1 MiB label (prints its result), then
 *               marks "c-start", allocates in load_weights(), marks "c-end"
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "ttalloc.h"

#define MiB (1024ull * 1024ull)

__attribute__((noinline)) static int load_weights(void)
{
	return ttalloc_report_alloc(0, TTALLOC_DRAM, 0x800000000ull, 8 * MiB);
}

__attribute__((noinline)) static int make_cache(void)
{
	return ttalloc_report_alloc(0, TTALLOC_L1, 0x10000ull, 1 * MiB);
}

__attribute__((noinline)) static int make_buffer(void)
{
	return ttalloc_report_alloc(0, TTALLOC_DRAM, 0x800100000ull, 4096);
}

__attribute__((noinline)) static int release_buffer(void)
{
	return ttalloc_report_free(0, 0x800100000ull);
}

__attribute__((noinline)) static int grow_model(void)
{
	return ttalloc_report_alloc_failed(0, TTALLOC_DRAM, 2048 * MiB);
}

/* ttalloc_mark's answer to a label of 1 MiB (TTALLOC_EINVAL expected). */
static int huge_label(void)
{
	char *label = malloc(MiB + 1);
	if (!label)
		return -1;
	memset(label, 'x', MiB);
	label[MiB] = '\0';
	int rc = ttalloc_mark(label);
	free(label);
	return rc;
}

static int run(const char *mode)
{
	if (strcmp(mode, "flame") == 0)
		return load_weights() | make_cache();
	if (strcmp(mode, "doublefree") == 0)
		return make_buffer() | release_buffer() | (release_buffer() == TTALLOC_EUNKNOWN_BUFFER ? 0 : 1);
	if (strcmp(mode, "oom") == 0)
		return grow_model();
	if (strcmp(mode, "marks") == 0) {
		printf("huge %d\n", huge_label());
		return ttalloc_mark("c-start") | load_weights() | ttalloc_mark("c-end");
	}
	return 2;
}

int main(int argc, char **argv)
{
	if (argc != 2)
		return 2;
	int rc = run(argv[1]);
	int flushed = ttalloc_flush();
	printf("ready %d\n", rc ? rc : flushed);
	fflush(stdout);
	char line[16];
	if (!fgets(line, sizeof(line), stdin))
		return 0;
	return 0;
}
