/*
 * test_registry.c - the server's live picture (registry.h): totals per
 * device and per (process, device) follow every event exactly, identity
 * rules (replaced, foreign, unknown), process drop, the multimap case, a
 * randomized differential test against a model, and the memory per buffer.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <stdlib.h>
#include <string.h>

#include "../support/registry_check.h"
#include "../support/registry_fixture.h"
#include "common/random.h"
#include "server/state/registry.h"

/* Pids no process has (above the kernel's pid_max), so /proc reads fail cleanly. */
#define PID_A 5000001
#define PID_B 5000002
#define PID_C 5000003

#define MiB (1024ull * 1024ull)

static void assert_consistent(const struct registry *r)
{
	char why[256];
	int rc = registry_check(r, why, sizeof(why));
	if (rc != 0)
		fail_msg("registry invariant broken: %s", why);
}

static uint64_t usage_of(const struct registry *r, uint32_t proc, int device, unsigned type)
{
	const struct device_usage *u = registry_usage(r, proc, device);
	return u ? u->used[type] : 0;
}

static uint64_t usage_buffers(const struct registry *r, uint32_t proc, int device)
{
	const struct device_usage *u = registry_usage(r, proc, device);
	return u ? u->buffers : 0;
}

static void test_attach_and_detach_count_connections(void **state)
{
	struct registry *r = *state;
	uint32_t a = registry_attach(r, PID_A, 1000);
	assert_int_not_equal(a, REGISTRY_NONE);
	assert_int_equal(registry_attach(r, PID_A, 1000), a); /* same pid, same record */
	uint32_t b = registry_attach(r, PID_B, 1001);
	assert_int_not_equal(b, a);
	assert_int_equal(r->process_count, 2);
	assert_int_equal(registry_find_pid(r, PID_A), a);
	assert_int_equal(registry_find_pid(r, PID_B), b);
	assert_int_equal(registry_find_pid(r, PID_C), REGISTRY_NONE);
	assert_int_equal(registry_process(r, a)->pid, PID_A);
	assert_int_equal(registry_process(r, a)->uid, 1000);
	assert_int_equal(registry_process(r, a)->connections, 2);
	assert_string_equal(registry_process(r, a)->comm, "?"); /* no such process */
	assert_int_equal(registry_detach(r, a), 0);
	assert_int_equal(registry_detach(r, a), 1); /* the last one */
	assert_int_equal(registry_first_buffer(r, a), REGISTRY_NONE);
}

static void test_alloc_and_free_update_every_total_exactly(void **state)
{
	struct registry *r = *state;
	uint32_t a = registry_attach(r, PID_A, 0);
	ALLOC_OK(r, a, 0, TTALLOC_DRAM, 0x1000, 3 * MiB, 10);
	ALLOC_OK(r, a, 0, TTALLOC_L1, 0x2000, 4096, 11);
	ALLOC_OK(r, a, 1, TTALLOC_DRAM, 0x1000, 5 * MiB, 12);
	ALLOC_OK(r, a, 1, TTALLOC_SYSTEM_MEMORY, 0x9000, 7, 13);
	ALLOC_OK(r, a, 3, TTALLOC_CB, 0x9000, 64, 14);

	assert_int_equal(r->devices[0].used[TTALLOC_DRAM], 3 * MiB);
	assert_int_equal(r->devices[0].used[TTALLOC_L1], 4096);
	assert_int_equal(r->devices[0].buffers, 2);
	assert_int_equal(r->devices[1].used[TTALLOC_DRAM], 5 * MiB);
	assert_int_equal(r->devices[1].used[TTALLOC_SYSTEM_MEMORY], 7);
	assert_int_equal(r->devices[1].buffers, 2);
	assert_int_equal(r->devices[2].buffers, 0);
	assert_int_equal(r->devices[3].used[TTALLOC_CB], 64);
	assert_int_equal(usage_of(r, a, 0, TTALLOC_DRAM), 3 * MiB);
	assert_int_equal(usage_of(r, a, 1, TTALLOC_DRAM), 5 * MiB);
	assert_int_equal(usage_buffers(r, a, 1), 2);
	assert_null(registry_usage(r, a, 2));
	assert_int_equal(registry_process(r, a)->live_buffers, 5);
	assert_int_equal(r->live_buffers, 5);
	assert_int_equal(registry_device_processes(r, 0), 1);
	assert_int_equal(registry_device_processes(r, 2), 0);
	assert_consistent(r);

	struct live_buffer freed;
	pid_t owner = -1;
	assert_int_equal(registry_free(r, a, 0, 0x1000, &freed, &owner), REGISTRY_OK);
	assert_int_equal(freed.size, 3 * MiB);
	assert_int_equal(freed.type, TTALLOC_DRAM);
	assert_int_equal(freed.device, 0);
	assert_int_equal(freed.address, 0x1000);
	assert_int_equal(freed.alloc_ns, 10);
	assert_int_equal(r->devices[0].used[TTALLOC_DRAM], 0);
	assert_int_equal(r->devices[0].buffers, 1);
	/* the same address on device 1 is another buffer, untouched */
	assert_int_equal(r->devices[1].used[TTALLOC_DRAM], 5 * MiB);
	assert_int_equal(usage_of(r, a, 0, TTALLOC_DRAM), 0);
	assert_int_equal(r->live_buffers, 4);
	assert_consistent(r);

	assert_int_equal(registry_free(r, a, 0, 0x2000, &freed, &owner), REGISTRY_OK);
	assert_int_equal(registry_free(r, a, 1, 0x1000, &freed, &owner), REGISTRY_OK);
	assert_int_equal(registry_free(r, a, 1, 0x9000, &freed, &owner), REGISTRY_OK);
	assert_int_equal(registry_free(r, a, 3, 0x9000, &freed, &owner), REGISTRY_OK);
	for (int d = 0; d < 4; d++) {
		assert_int_equal(r->devices[d].buffers, 0);
		for (int t = 0; t < TTALLOC_BUFFER_TYPES; t++)
			assert_int_equal(r->devices[d].used[t], 0);
	}
	assert_int_equal(registry_process(r, a)->live_buffers, 0);
	assert_int_equal(r->index.count, 0);
	assert_consistent(r);
}

static void test_duplicate_alloc_replaces_and_keeps_totals_right(void **state)
{
	struct registry *r = *state;
	uint32_t a = registry_attach(r, PID_A, 0);
	ALLOC_OK(r, a, 0, TTALLOC_DRAM, 0x4000, 1000, 1);
	/* its FREE was lost: same process, same address, new size and type */
	assert_int_equal(registry_alloc(r, a, 0, TTALLOC_L1, 0x4000, 300, 2), REGISTRY_REPLACED);
	assert_int_equal(r->devices[0].used[TTALLOC_DRAM], 0);
	assert_int_equal(r->devices[0].used[TTALLOC_L1], 300);
	assert_int_equal(r->devices[0].buffers, 1);
	assert_int_equal(usage_of(r, a, 0, TTALLOC_DRAM), 0);
	assert_int_equal(usage_of(r, a, 0, TTALLOC_L1), 300);
	assert_int_equal(usage_buffers(r, a, 0), 1);
	assert_int_equal(registry_process(r, a)->live_buffers, 1);
	assert_int_equal(r->index.count, 1);
	assert_consistent(r);
	struct live_buffer freed;
	pid_t owner;
	assert_int_equal(registry_free(r, a, 0, 0x4000, &freed, &owner), REGISTRY_OK);
	assert_int_equal(freed.size, 300);
	assert_int_equal(freed.alloc_ns, 2);
	assert_int_equal(registry_free(r, a, 0, 0x4000, &freed, &owner), REGISTRY_UNKNOWN);
	assert_int_equal(r->devices[0].used[TTALLOC_L1], 0);
	assert_consistent(r);
}

static void test_foreign_free_names_the_owner_and_changes_nothing(void **state)
{
	struct registry *r = *state;
	uint32_t a = registry_attach(r, PID_A, 0);
	uint32_t b = registry_attach(r, PID_B, 0);
	ALLOC_OK(r, a, 2, TTALLOC_TRACE, 0x8000, 512, 1);
	struct device_totals before = r->devices[2];
	struct live_buffer freed;
	memset(&freed, 0x5a, sizeof(freed));
	pid_t owner = 0;
	assert_int_equal(registry_free(r, b, 2, 0x8000, &freed, &owner), REGISTRY_FOREIGN);
	assert_int_equal(owner, PID_A);
	assert_memory_equal(&before, &r->devices[2], sizeof(before));
	assert_int_equal(registry_process(r, a)->live_buffers, 1);
	assert_int_equal(registry_process(r, b)->live_buffers, 0);
	assert_int_equal(usage_of(r, a, 2, TTALLOC_TRACE), 512);
	assert_null(registry_usage(r, b, 2));
	assert_consistent(r);
	/* the owner can still free it */
	assert_int_equal(registry_free(r, a, 2, 0x8000, &freed, &owner), REGISTRY_OK);
	assert_consistent(r);
}

static void test_free_of_unknown_address(void **state)
{
	struct registry *r = *state;
	uint32_t a = registry_attach(r, PID_A, 0);
	struct live_buffer freed;
	pid_t owner = 0;
	assert_int_equal(registry_free(r, a, 0, 0x1234, &freed, &owner), REGISTRY_UNKNOWN);
	ALLOC_OK(r, a, 0, TTALLOC_DRAM, 0x1234, 8, 1);
	assert_int_equal(registry_free(r, a, 1, 0x1234, &freed, &owner), REGISTRY_UNKNOWN); /* other device */
	assert_int_equal(registry_free(r, a, 0, 0x1235, &freed, &owner), REGISTRY_UNKNOWN);
	assert_int_equal(owner, 0);
	assert_int_equal(r->devices[0].buffers, 1);
	assert_consistent(r);
}

static void test_drop_process_releases_everything(void **state)
{
	struct registry *r = *state;
	uint32_t a = registry_attach(r, PID_A, 0);
	uint32_t b = registry_attach(r, PID_B, 0);
	for (uint64_t i = 0; i < 3000; i++)
		ALLOC_OK(r, a, (int)(i % 4), (unsigned)(i % TTALLOC_BUFFER_TYPES), 0x100000 + i * 64, 100 + i, i);
	ALLOC_OK(r, b, 1, TTALLOC_DRAM, 0x100000 + 1 * 64, 77, 0);
	assert_consistent(r);
	registry_drop_process(r, a);
	assert_int_equal(r->process_count, 1);
	assert_int_equal(registry_find_pid(r, PID_A), REGISTRY_NONE);
	assert_int_equal(r->live_buffers, 1);
	assert_int_equal(r->index.count, 1);
	assert_int_equal(r->devices[1].used[TTALLOC_DRAM], 77);
	assert_int_equal(r->devices[1].buffers, 1);
	for (int d = 0; d < 4; d++)
		for (int t = 0; t < TTALLOC_BUFFER_TYPES; t++)
			if (!(d == 1 && t == TTALLOC_DRAM))
				assert_int_equal(r->devices[d].used[t], 0);
	assert_int_equal(registry_device_processes(r, 0), 0);
	assert_int_equal(registry_device_processes(r, 1), 1);
	assert_consistent(r);
	/* the record is reused and starts empty */
	uint32_t c = registry_attach(r, PID_C, 0);
	assert_int_equal(c, a);
	assert_int_equal(registry_process(r, c)->live_buffers, 0);
	assert_null(registry_usage(r, c, 0));
	ALLOC_OK(r, c, 0, TTALLOC_DRAM, 0x100000, 5, 0);
	assert_int_equal(r->devices[0].used[TTALLOC_DRAM], 5);
	assert_consistent(r);
}

static void test_two_processes_may_hold_the_same_address(void **state)
{
	struct registry *r = *state;
	uint32_t a = registry_attach(r, PID_A, 0);
	uint32_t b = registry_attach(r, PID_B, 0);
	ALLOC_OK(r, a, 0, TTALLOC_DRAM, 0xabc000, 100, 1);
	ALLOC_OK(r, b, 0, TTALLOC_DRAM, 0xabc000, 200, 2);
	assert_int_equal(r->devices[0].used[TTALLOC_DRAM], 300);
	assert_int_equal(r->devices[0].buffers, 2);
	assert_int_equal(registry_device_processes(r, 0), 2);
	assert_consistent(r);
	struct live_buffer freed;
	pid_t owner;
	assert_int_equal(registry_free(r, b, 0, 0xabc000, &freed, &owner), REGISTRY_OK);
	assert_int_equal(freed.size, 200); /* b's own, not a's */
	assert_int_equal(r->devices[0].used[TTALLOC_DRAM], 100);
	assert_int_equal(usage_of(r, a, 0, TTALLOC_DRAM), 100);
	assert_int_equal(usage_of(r, b, 0, TTALLOC_DRAM), 0);
	assert_consistent(r);
	/* now only a holds it: b's second free is foreign */
	assert_int_equal(registry_free(r, b, 0, 0xabc000, &freed, &owner), REGISTRY_FOREIGN);
	assert_int_equal(owner, PID_A);
	assert_int_equal(registry_free(r, a, 0, 0xabc000, &freed, &owner), REGISTRY_OK);
	assert_int_equal(freed.size, 100);
	assert_int_equal(r->devices[0].buffers, 0);
	/* and dropping one holder keeps the other's */
	ALLOC_OK(r, a, 3, TTALLOC_L1, 0x10, 1, 1);
	ALLOC_OK(r, b, 3, TTALLOC_L1, 0x10, 2, 1);
	registry_drop_process(r, a);
	assert_int_equal(r->devices[3].used[TTALLOC_L1], 2);
	assert_int_equal(registry_free(r, b, 3, 0x10, &freed, &owner), REGISTRY_OK);
	assert_int_equal(freed.size, 2);
	assert_consistent(r);
}

static void test_owner_list_walks_every_buffer_of_a_process(void **state)
{
	struct registry *r = *state;
	uint32_t a = registry_attach(r, PID_A, 0);
	uint64_t sum = 0;
	for (uint64_t i = 1; i <= 50; i++)
		ALLOC_OK(r, a, 0, TTALLOC_DRAM, i << 12, i, i);
	struct live_buffer freed;
	pid_t owner;
	for (uint64_t i = 1; i <= 50; i += 3) /* frees from the middle of the list */
		assert_int_equal(registry_free(r, a, 0, i << 12, &freed, &owner), REGISTRY_OK);
	uint64_t n = 0;
	for (uint32_t b = registry_first_buffer(r, a); b != REGISTRY_NONE; b = registry_next_buffer(r, b)) {
		sum += r->buffers[b].size;
		n++;
	}
	uint64_t expect = 0, expect_n = 0;
	for (uint64_t i = 1; i <= 50; i++)
		if ((i - 1) % 3 != 0) {
			expect += i;
			expect_n++;
		}
	assert_int_equal(n, expect_n);
	assert_int_equal(sum, expect);
	assert_consistent(r);
}

/* ---- randomized differential test ---- */

struct model_buffer {
	uint32_t proc;
	int device;
	uint64_t address;
	unsigned type;
	uint64_t size;
};

static long model_find(const struct model_buffer *m, size_t n, int proc, int device, uint64_t address)
{
	for (size_t i = 0; i < n; i++)
		if ((proc < 0 || m[i].proc == (uint32_t)proc) && m[i].device == device && m[i].address == address)
			return (long)i;
	return -1;
}

static void compare_with_model(const struct registry *r, const struct model_buffer *m, size_t n, const uint32_t *procs,
			       int nprocs)
{
	struct device_totals want[4];
	memset(want, 0, sizeof(want));
	for (size_t i = 0; i < n; i++) {
		want[m[i].device].used[m[i].type] += m[i].size;
		want[m[i].device].buffers++;
	}
	for (int d = 0; d < 4; d++)
		assert_memory_equal(&want[d], &r->devices[d], sizeof(want[d]));
	assert_int_equal(r->live_buffers, n);
	for (int p = 0; p < nprocs; p++) {
		for (int d = 0; d < 4; d++) {
			uint64_t used[TTALLOC_BUFFER_TYPES] = {0}, count = 0;
			for (size_t i = 0; i < n; i++)
				if (m[i].proc == procs[p] && m[i].device == d) {
					used[m[i].type] += m[i].size;
					count++;
				}
			assert_int_equal(usage_buffers(r, procs[p], d), count);
			for (int t = 0; t < TTALLOC_BUFFER_TYPES; t++)
				assert_int_equal(usage_of(r, procs[p], d, (unsigned)t), used[t]);
		}
	}
}

static void test_random_operations_match_a_model(void **state)
{
	struct registry *r = *state;
	enum { OPS = 100000, PROCS = 5, MAX_LIVE = 4000 };
	const pid_t pids[PROCS] = {PID_A, PID_B, PID_C, 5000004, 5000005};
	uint32_t procs[PROCS];
	for (int p = 0; p < PROCS; p++)
		procs[p] = registry_attach(r, pids[p], 0);
	struct model_buffer *m = calloc(MAX_LIVE, sizeof(*m));
	assert_non_null(m);
	size_t n = 0;
	uint64_t rng = 42;
	uint64_t replaced = 0, foreign = 0, unknown = 0, dropped = 0;
	for (int op = 0; op < OPS; op++) {
		uint64_t x = random_next(&rng);
		int p = (int)(x % PROCS);
		int device = (int)((x >> 4) % 4);
		uint64_t address = ((x >> 8) % 500) << 12; /* small space: collisions across pids */
		unsigned kind = (unsigned)((x >> 20) % 1000);
		if (kind < 520 && n < MAX_LIVE) {
			unsigned type = (unsigned)((x >> 32) % TTALLOC_BUFFER_TYPES);
			uint64_t size = 1 + ((x >> 40) % (1u << 20));
			long at = model_find(m, n, (int)procs[p], device, address);
			enum registry_result rc = registry_alloc(r, procs[p], device, type, address, size,
								 (uint64_t)op);
			if (at >= 0) {
				assert_int_equal(rc, REGISTRY_REPLACED);
				m[at].type = type;
				m[at].size = size;
				replaced++;
			} else {
				assert_int_equal(rc, REGISTRY_OK);
				m[n++] = (struct model_buffer){procs[p], device, address, type, size};
			}
		} else if (kind < 998) {
			/* free: mostly something live (of anyone), sometimes a random address */
			if (n > 0 && kind < 900) {
				size_t i = (size_t)((x >> 32) % n);
				device = m[i].device;
				address = m[i].address;
			}
			long mine = model_find(m, n, (int)procs[p], device, address);
			long any = model_find(m, n, -1, device, address);
			struct live_buffer freed;
			pid_t owner = 0;
			enum registry_result rc = registry_free(r, procs[p], device, address, &freed, &owner);
			if (mine >= 0) {
				assert_int_equal(rc, REGISTRY_OK);
				assert_int_equal(freed.size, m[mine].size);
				assert_int_equal(freed.type, m[mine].type);
				m[mine] = m[--n];
			} else if (any >= 0) {
				assert_int_equal(rc, REGISTRY_FOREIGN);
				int holder = 0;
				for (size_t i = 0; i < n; i++)
					holder |= m[i].device == device && m[i].address == address &&
						registry_process(r, m[i].proc)->pid == owner;
				assert_true(holder);
				foreign++;
			} else {
				assert_int_equal(rc, REGISTRY_UNKNOWN);
				unknown++;
			}
		} else {
			/* the process exits: everything it held goes */
			registry_drop_process(r, procs[p]);
			for (size_t i = 0; i < n;)
				if (m[i].proc == procs[p])
					m[i] = m[--n];
				else
					i++;
			procs[p] = registry_attach(r, pids[p], 0);
			dropped++;
		}
		if (op % 5000 == 0) {
			compare_with_model(r, m, n, procs, PROCS);
			assert_consistent(r);
		}
	}
	compare_with_model(r, m, n, procs, PROCS);
	assert_consistent(r);
	/* the run did exercise every outcome */
	assert_true(replaced > 0 && foreign > 0 && unknown > 0 && dropped > 0);
	free(m);
}

/* ---- memory ---- */

static void test_counted_records_repeat_ids_and_stay_apart_from_buffers(void **state)
{
	struct registry *r = *state;
	uint32_t a = registry_attach(r, 100, 0), b = registry_attach(r, 200, 0);
	struct live_buffer freed;
	pid_t owner = 0;
	uint64_t gen = r->process_generation;
	/* a buffer and two CBs at one address, a kernel by id; another process's CB there too */
	ALLOC_OK(r, a, 0, TTALLOC_L1, 0x8000, 4096, 1);
	assert_int_equal(registry_add_counted(r, a, 0, TTALLOC_CB, 0x8000, 1000, 2), REGISTRY_OK);
	assert_int_equal(registry_add_counted(r, a, 0, TTALLOC_CB, 0x8000, 3000, 3), REGISTRY_OK);
	assert_int_equal(registry_add_counted(r, a, 0, TTALLOC_KERNEL, 0x8000, 500, 4), REGISTRY_OK);
	assert_int_equal(registry_add_counted(r, b, 0, TTALLOC_CB, 0x8000, 7, 5), REGISTRY_OK);
	assert_int_equal(r->devices[0].used[TTALLOC_CB], 4007);
	assert_int_equal(r->devices[0].buffers, 5);
	assert_int_equal(usage_of(r, a, 0, TTALLOC_KERNEL), 500);
	assert_consistent(r);
	/* ALLOC at that address sees only the buffer (replaced), never a CB */
	assert_int_equal(registry_alloc(r, a, 0, TTALLOC_L1, 0x8000, 8192, 6), REGISTRY_REPLACED);
	assert_int_equal(r->devices[0].used[TTALLOC_CB], 4007);
	assert_true(registry_holds(r, a, 0, 0x8000));
	assert_false(registry_holds(r, b, 0, 0x8000)); /* b has only a CB there */
	/* the release prefers the same size, else any of the sender's with that id */
	assert_int_equal(registry_release_counted(r, a, 0, TTALLOC_CB, 0x8000, 3000, &freed), REGISTRY_OK);
	assert_int_equal(freed.size, 3000);
	assert_int_equal(registry_release_counted(r, a, 0, TTALLOC_CB, 0x8000, 99, &freed), REGISTRY_OK);
	assert_int_equal(freed.size, 1000);
	assert_int_equal(registry_release_counted(r, a, 0, TTALLOC_CB, 0x8000, 0, &freed), REGISTRY_UNKNOWN);
	assert_int_equal(registry_release_counted(r, a, 0, TTALLOC_KERNEL, 0x9000, 500, &freed), REGISTRY_UNKNOWN);
	assert_int_equal(r->devices[0].used[TTALLOC_CB], 7); /* b's */
	/* FREE takes the buffer; a second FREE finds no buffer: b's CB is not "foreign" */
	assert_int_equal(registry_free(r, a, 0, 0x8000, &freed, &owner), REGISTRY_OK);
	assert_int_equal(freed.type, TTALLOC_L1);
	assert_int_equal(registry_free(r, a, 0, 0x8000, &freed, &owner), REGISTRY_UNKNOWN);
	assert_consistent(r);
	/* dropping a process removes its counted records and their index entries */
	registry_drop_process(r, a);
	assert_int_equal(r->devices[0].used[TTALLOC_KERNEL], 0);
	assert_int_equal(r->devices[0].buffers, 1);
	assert_true(r->process_generation > gen);
	assert_consistent(r);
}

static void test_memory_per_live_buffer_is_bounded(void **state)
{
	struct registry *r = *state;
	/* structural: one 48-byte record (its stack index included) plus a
	 * 16-byte index slot at <= 3/4 load */
	assert_int_equal(sizeof(struct live_buffer), 48);
	assert_int_equal(sizeof(struct addr_slot), 16);
	assert_true(sizeof(struct live_buffer) + sizeof(struct addr_slot) * 4 / 3 <= 72);
	/* what the arrays really hold, at every size past the initial allocation
	 * (worst just after a doubling) */
	uint32_t a = registry_attach(r, PID_A, 0);
	double worst = 0;
	for (uint64_t i = 0; i < 200000; i++) {
		ALLOC_OK(r, a, (int)(i & 3), TTALLOC_DRAM, i << 8, 1, 0);
		uint64_t live = i + 1;
		if (live < 1024)
			continue;
		uint64_t bytes = (uint64_t)r->buffer_cap * sizeof(struct live_buffer) +
			(uint64_t)(r->index.mask + 1) * sizeof(struct addr_slot);
		double per = (double)bytes / (double)live;
		if (per > worst)
			worst = per;
		assert_true(bytes <= 128 * live);
	}
	assert_true(worst > 64); /* the measurement did see a doubling */
	assert_consistent(r);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		REGISTRY_TEST(test_attach_and_detach_count_connections),
		REGISTRY_TEST(test_alloc_and_free_update_every_total_exactly),
		REGISTRY_TEST(test_duplicate_alloc_replaces_and_keeps_totals_right),
		REGISTRY_TEST(test_foreign_free_names_the_owner_and_changes_nothing),
		REGISTRY_TEST(test_free_of_unknown_address),
		REGISTRY_TEST(test_drop_process_releases_everything),
		REGISTRY_TEST(test_two_processes_may_hold_the_same_address),
		REGISTRY_TEST(test_owner_list_walks_every_buffer_of_a_process),
		REGISTRY_TEST(test_random_operations_match_a_model),
		REGISTRY_TEST(test_memory_per_live_buffer_is_bounded),
		REGISTRY_TEST(test_counted_records_repeat_ids_and_stay_apart_from_buffers),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
