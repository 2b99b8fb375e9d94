/*
 * test_addrmap.c - address maps and fragmentation (state/addrmap.h): a
 * buffer's share of each bank, holes between buffers as device bytes,
 * the largest free block, fragmentation, one process's view and every
 * process's, the occupancy strip, buffers outside the range.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include "registry_fixture.h"
#include "server/state/addrmap.h"

#define MiB (1024ull * 1024ull)
#define GiB (1024ull * MiB)
#define BASE 0x800000000ull

/* The simulated Wormhole's DRAM: 12 banks of 1 GiB from 0x800000000, 32-byte alignment. */
static const struct device_memory_map dram = {BASE, GiB, 12, 32};

static void test_a_buffers_share_is_its_size_spread_over_the_banks_rounded_to_the_alignment(void **state)
{
	(void)state;
	assert_int_equal(addrmap_share(&dram, 768 * MiB), 64 * MiB);
	assert_int_equal(addrmap_share(&dram, 1000), 96); /* 84 B a bank, 96 aligned */
	assert_int_equal(addrmap_share(&dram, 1), 32);
	const struct device_memory_map flat = {0, 1024, 1, 1};
	assert_int_equal(addrmap_share(&flat, 7), 7);
}

static struct addrmap build(struct registry *r, uint32_t proc, uint32_t cells)
{
	struct addrmap m;
	struct addrmap_query q = {.device = 0,
				  .region = DEVICE_REGION_DRAM,
				  .proc = proc,
				  .max_blocks = 3,
				  .cells = cells};
	assert_int_equal(addrmap_build(&m, r, &dram, &q), 0);
	return m;
}

static void test_every_other_buffer_freed_leaves_equal_holes(void **state)
{
	struct registry *r = *state;
	uint32_t p = registry_attach(r, 100, 0);
	for (int i = 0; i < 16; i++)
		ALLOC_OK(r, p, 0, TTALLOC_DRAM, BASE + (uint64_t)i * 64 * MiB, 768 * MiB, 1);
	struct live_buffer freed;
	pid_t owner;
	for (int i = 0; i < 16; i += 2)
		assert_int_equal(registry_free(r, p, 0, BASE + (uint64_t)i * 64 * MiB, &freed, &owner), REGISTRY_OK);
	struct addrmap m = build(r, p, 16);
	assert_int_equal(m.capacity, 12 * GiB);
	assert_int_equal(m.used, 6 * GiB);
	assert_int_equal(m.free, 6 * GiB);
	assert_int_equal(m.largest_free, 768 * MiB);
	assert_true(m.fragmentation > 0.8749 && m.fragmentation < 0.8751);
	assert_int_equal(m.blocks_total, 8);
	assert_int_equal(m.block_count, 3);
	assert_int_equal(m.blocks[0].address, BASE);
	assert_int_equal(m.blocks[1].address, BASE + 128 * MiB);
	for (uint32_t c = 0; c < 16; c++)
		assert_true(m.cells[c] == (c % 2 ? 1.0 : 0.0));
	addrmap_release(&m);
}

static void test_an_empty_memory_is_one_block_without_fragmentation(void **state)
{
	struct registry *r = *state;
	struct addrmap m = build(r, REGISTRY_NONE, 4);
	assert_int_equal(m.free, 12 * GiB);
	assert_int_equal(m.largest_free, 12 * GiB);
	assert_int_equal(m.blocks_total, 1);
	assert_true(m.fragmentation == 0.0);
	addrmap_release(&m);
}

static void test_views_of_one_process_and_of_every_process(void **state)
{
	struct registry *r = *state;
	uint32_t a = registry_attach(r, 100, 0), b = registry_attach(r, 200, 0);
	/* each process's allocator starts at the base: their ranges overlap */
	ALLOC_OK(r, a, 0, TTALLOC_DRAM, BASE, 12 * MiB * 32, 1);
	ALLOC_OK(r, b, 0, TTALLOC_TRACE, BASE, 24 * MiB * 32, 1);
	ALLOC_OK(r, b, 0, TTALLOC_L1, 0x10000, 4096, 1);              /* another region */
	ALLOC_OK(r, b, 1, TTALLOC_DRAM, BASE + GiB / 2, 12 * MiB, 1); /* device */
	struct addrmap one = build(r, a, 0), all = build(r, REGISTRY_NONE, 0);
	assert_int_equal(one.buffers, 1);
	assert_int_equal(one.free, 12 * GiB - 12 * MiB * 32);
	assert_int_equal(all.buffers, 2);
	assert_int_equal(all.used, 36 * MiB * 32);
	assert_int_equal(all.free, 12 * GiB - 24 * MiB * 32); /* merged: the larger range covers the smaller */
	assert_int_equal(all.blocks_total, 1);
	addrmap_release(&one);
	addrmap_release(&all);
}

static void test_buffers_outside_the_range_are_counted_and_clamped(void **state)
{
	struct registry *r = *state;
	uint32_t p = registry_attach(r, 100, 0);
	ALLOC_OK(r, p, 0, TTALLOC_DRAM, 0x1000, 4096, 1);
	ALLOC_OK(r, p, 0, TTALLOC_DRAM, BASE + GiB - 32, 12 * 64, 1);
	struct addrmap m = build(r, p, 0);
	assert_int_equal(m.buffers, 2);
	assert_int_equal(m.outside, 1 + 1);
	assert_int_equal(m.free, 12 * GiB - 12 * 32);
	addrmap_release(&m);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_a_buffers_share_is_its_size_spread_over_the_banks_rounded_to_the_alignment),
		REGISTRY_TEST(test_every_other_buffer_freed_leaves_equal_holes),
		REGISTRY_TEST(test_an_empty_memory_is_one_block_without_fragmentation),
		REGISTRY_TEST(test_views_of_one_process_and_of_every_process),
		REGISTRY_TEST(test_buffers_outside_the_range_are_counted_and_clamped),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
