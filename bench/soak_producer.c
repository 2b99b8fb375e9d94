/*
 * soak_producer.c - one producer of the soak test (bench/soak.py): reports a
 * deterministic random sequence of ALLOC/FREE events through libttalloc and
 * pauses between phases so the harness knows exactly what it holds.
 *
 *   soak_producer ID SEED EVENTS PHASES MAXLIVE LIVEFILE
 *
 * EVENTS events in PHASES phases. After each phase it flushes, writes its
 * live set to LIVEFILE (atomically: LIVEFILE.tmp, then rename), prints
 *
 *   phase K rc=R live=N events=E
 *
 * (R: the flush result, 0 when the server has applied everything) and waits
 * for a command on stdin:
 *
 *   go      run the next phase (after the last one: prints "done ...")
 *   flush   flush again and print "flushed rc=R" (the server may have
 *           restarted since the phase ended)
 *   quit    exit at once, holding the live set (the server reports a leak)
 *
 * LIVEFILE lines: "DEVICE TYPE 0xADDRESS SIZE", one per live buffer.
 * Events: with fewer than MAXLIVE live buffers and a coin weighted 55/45,
 * an ALLOC of a random type (DRAM, L1, L1_SMALL, TRACE, CB, SYSTEM_MEMORY)
 * and size on device 0 or 1 at a free slot's address (slots are reused, as
 * a device allocator reuses addresses); otherwise the FREE of a random live
 * buffer. Addresses: (ID + 1) << 36 | slot << 16, unique per producer.
 */
#define _GNU_SOURCE
#include <inttypes.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "ttalloc.h"

struct slot {
	uint64_t size; /* 0: free */
	int device;
	int type;
};

static uint64_t rng_state;

static uint64_t next_random(void)
{
	/* xorshift64*: deterministic for a seed, identical on every run */
	rng_state ^= rng_state >> 12;
	rng_state ^= rng_state << 25;
	rng_state ^= rng_state >> 27;
	return rng_state * 0x2545f4914f6cdd1dull;
}

static const int types[] = {TTALLOC_DRAM,  TTALLOC_L1, TTALLOC_L1_SMALL,
			    TTALLOC_TRACE, TTALLOC_CB, TTALLOC_SYSTEM_MEMORY};

static uint64_t random_size(int type)
{
	uint64_t pages = 1 + next_random() % 64; /* 4 KiB .. 256 KiB */
	if (type == TTALLOC_DRAM || type == TTALLOC_TRACE || type == TTALLOC_SYSTEM_MEMORY)
		pages *= 4; /* .. 1 MiB */
	return pages * 4096;
}

static int write_live(const char *path, const struct slot *slots, uint32_t count, uint64_t base)
{
	char tmp[4096];
	snprintf(tmp, sizeof(tmp), "%s.tmp", path);
	FILE *f = fopen(tmp, "w");
	if (!f)
		return -1;
	for (uint32_t i = 0; i < count; i++)
		if (slots[i].size)
			fprintf(f, "%d %d 0x%" PRIx64 " %" PRIu64 "\n", slots[i].device, slots[i].type,
				base | ((uint64_t)i << 16), slots[i].size);
	if (fclose(f) != 0)
		return -1;
	return rename(tmp, path);
}

/* Waits for "go" (returns 1) or "quit" (returns 0); answers "flush". */
static int wait_command(void)
{
	char line[64];
	while (fgets(line, sizeof(line), stdin)) {
		if (strncmp(line, "go", 2) == 0)
			return 1;
		if (strncmp(line, "quit", 4) == 0)
			return 0;
		if (strncmp(line, "flush", 5) == 0) {
			printf("flushed rc=%d\n", ttalloc_flush());
			fflush(stdout);
		}
	}
	return 0;
}

int main(int argc, char **argv)
{
	if (argc != 7) {
		fprintf(stderr, "usage: soak_producer ID SEED EVENTS PHASES MAXLIVE LIVEFILE\n");
		return 2;
	}
	uint64_t id = strtoull(argv[1], NULL, 0);
	rng_state = strtoull(argv[2], NULL, 0) * 0x9e3779b97f4a7c15ull + id + 1;
	uint64_t events = strtoull(argv[3], NULL, 0);
	uint64_t phases = strtoull(argv[4], NULL, 0);
	uint32_t maxlive = (uint32_t)strtoul(argv[5], NULL, 0);
	const char *livefile = argv[6];
	if (phases == 0 || maxlive == 0 || maxlive > 65536)
		return 2;
	uint64_t base = (id + 1) << 36;
	struct slot *slots = calloc(maxlive, sizeof(*slots));
	uint32_t *live = calloc(maxlive, sizeof(*live)); /* slot numbers of live buffers */
	uint32_t *idle = calloc(maxlive, sizeof(*idle)); /* slot numbers free for an ALLOC */
	if (!slots || !live || !idle)
		return 1;
	uint32_t live_count = 0, idle_count = maxlive;
	for (uint32_t i = 0; i < maxlive; i++)
		idle[i] = maxlive - 1 - i;
	uint64_t done = 0, failed = 0;
	printf("pid=%ld\n", (long)getpid());
	fflush(stdout);
	for (uint64_t phase = 0; phase < phases; phase++) {
		uint64_t end = events * (phase + 1) / phases;
		for (; done < end; done++) {
			int rc;
			if (idle_count && (live_count == 0 || next_random() % 100 < 55)) {
				uint32_t pick = (uint32_t)(next_random() % idle_count);
				uint32_t s = idle[pick];
				idle[pick] = idle[--idle_count];
				int type = types[next_random() % 6];
				slots[s] = (struct slot){.size = random_size(type),
							 .device = (int)(next_random() % 2),
							 .type = type};
				live[live_count++] = s;
				rc = ttalloc_report_alloc(slots[s].device, (enum ttalloc_buffer_type)type,
							  base | ((uint64_t)s << 16), slots[s].size);
			} else {
				uint32_t pick = (uint32_t)(next_random() % live_count);
				uint32_t s = live[pick];
				live[pick] = live[--live_count];
				rc = ttalloc_report_free(slots[s].device, base | ((uint64_t)s << 16));
				slots[s].size = 0;
				idle[idle_count++] = s;
			}
			if (rc < 0 && rc != TTALLOC_ENOSERVER)
				failed++;
		}
		int rc = ttalloc_flush();
		if (write_live(livefile, slots, maxlive, base) < 0) {
			perror(livefile);
			return 1;
		}
		printf("%s %" PRIu64 " rc=%d live=%u events=%" PRIu64 " failed=%" PRIu64 "\n",
		       phase + 1 == phases ? "done" : "phase", phase, rc, live_count, done, failed);
		fflush(stdout);
		if (!wait_command())
			return 0;
	}
	/* after "go" at the end: keep answering until quit */
	while (wait_command())
		;
	return 0;
}
