/*
 * test_addr_index.c - the (device, address) multimap of addr_index.h:
 * basic operations, duplicate keys picked by a predicate, growth, removal
 * inside clusters that wrap around the end of the table, and a randomized
 * differential test against a plain array.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <stdlib.h>
#include <string.h>

#include "common/addr_index.h"
#include "common/random.h"
#include "ttalloc.h"

static int value_is(uint32_t value, const void *ctx)
{
	return value == *(const uint32_t *)ctx;
}

static uint32_t find_value(const struct addr_index *ix, int device, uint64_t address, uint32_t value)
{
	return addr_index_find(ix, device, address, value_is, &value);
}

/* Every stored entry is reachable from its home slot, and count is right. */
static void check_reachable(const struct addr_index *ix)
{
	uint32_t used = 0;
	for (uint32_t i = 0; i <= ix->mask; i++) {
		const struct addr_slot *s = &ix->slots[i];
		if (!s->device_plus1)
			continue;
		used++;
		/* values are unique in these tests, so the entry is found in its own slot */
		assert_int_equal(find_value(ix, (int)s->device_plus1 - 1, s->address, s->value), i);
	}
	assert_int_equal(used, ix->count);
	assert_true((uint64_t)ix->count * 4 <= (uint64_t)(ix->mask + 1) * 3);
}

static void test_insert_find_remove(void **state)
{
	(void)state;
	struct addr_index ix;
	assert_int_equal(addr_index_init(&ix, 10), 0);
	assert_int_equal(ix.count, 0);
	assert_int_equal(addr_index_find(&ix, 0, 0x1000, NULL, NULL), ADDR_INDEX_NOT_FOUND);
	assert_int_equal(addr_index_insert(&ix, 0, 0x1000, 7), 0);
	assert_int_equal(addr_index_insert(&ix, 1, 0x1000, 8), 0); /* same address, other device */
	assert_int_equal(addr_index_insert(&ix, 0, 0, 9), 0);      /* address 0 is a valid key */
	assert_int_equal(ix.count, 3);
	uint32_t s = addr_index_find(&ix, 0, 0x1000, NULL, NULL);
	assert_int_not_equal(s, ADDR_INDEX_NOT_FOUND);
	assert_int_equal(addr_index_value(&ix, s), 7);
	s = addr_index_find(&ix, 1, 0x1000, NULL, NULL);
	assert_int_equal(addr_index_value(&ix, s), 8);
	assert_int_equal(addr_index_value(&ix, addr_index_find(&ix, 0, 0, NULL, NULL)), 9);
	assert_int_equal(addr_index_find(&ix, 2, 0x1000, NULL, NULL), ADDR_INDEX_NOT_FOUND);
	assert_int_equal(addr_index_find(&ix, 0, 0x1001, NULL, NULL), ADDR_INDEX_NOT_FOUND);

	addr_index_set_value(&ix, s, 80);
	assert_int_equal(addr_index_value(&ix, addr_index_find(&ix, 1, 0x1000, NULL, NULL)), 80);

	addr_index_remove(&ix, addr_index_find(&ix, 0, 0x1000, NULL, NULL));
	assert_int_equal(ix.count, 2);
	assert_int_equal(addr_index_find(&ix, 0, 0x1000, NULL, NULL), ADDR_INDEX_NOT_FOUND);
	assert_int_not_equal(addr_index_find(&ix, 1, 0x1000, NULL, NULL), ADDR_INDEX_NOT_FOUND);
	check_reachable(&ix);

	addr_index_clear(&ix);
	assert_int_equal(ix.count, 0);
	assert_int_equal(addr_index_find(&ix, 1, 0x1000, NULL, NULL), ADDR_INDEX_NOT_FOUND);
	assert_int_equal(addr_index_insert(&ix, 3, 0x40, 1), 0);
	assert_int_equal(addr_index_value(&ix, addr_index_find(&ix, 3, 0x40, NULL, NULL)), 1);
	addr_index_release(&ix);
	assert_null(ix.slots);
	/* a released index can be initialised again */
	assert_int_equal(addr_index_init(&ix, 0), 0);
	addr_index_release(&ix);
}

static void test_duplicate_keys_are_picked_by_the_predicate(void **state)
{
	(void)state;
	struct addr_index ix;
	assert_int_equal(addr_index_init(&ix, 0), 0);
	for (uint32_t v = 100; v < 105; v++)
		assert_int_equal(addr_index_insert(&ix, 2, 0xdead000, v), 0);
	assert_int_equal(ix.count, 5);
	for (uint32_t v = 100; v < 105; v++) {
		uint32_t s = find_value(&ix, 2, 0xdead000, v);
		assert_int_not_equal(s, ADDR_INDEX_NOT_FOUND);
		assert_int_equal(addr_index_value(&ix, s), v);
	}
	assert_int_equal(find_value(&ix, 2, 0xdead000, 99), ADDR_INDEX_NOT_FOUND);
	assert_int_equal(find_value(&ix, 3, 0xdead000, 100), ADDR_INDEX_NOT_FOUND);
	/* remove the middle one: the others stay reachable */
	addr_index_remove(&ix, find_value(&ix, 2, 0xdead000, 102));
	assert_int_equal(find_value(&ix, 2, 0xdead000, 102), ADDR_INDEX_NOT_FOUND);
	for (uint32_t v = 100; v < 105; v++)
		if (v != 102)
			assert_int_not_equal(find_value(&ix, 2, 0xdead000, v), ADDR_INDEX_NOT_FOUND);
	check_reachable(&ix);
	/* with no predicate, any of them */
	uint32_t any = addr_index_find(&ix, 2, 0xdead000, NULL, NULL);
	assert_int_not_equal(any, ADDR_INDEX_NOT_FOUND);
	assert_true(addr_index_value(&ix, any) >= 100 && addr_index_value(&ix, any) < 105);
	addr_index_release(&ix);
}

static void test_growth_through_many_doublings(void **state)
{
	(void)state;
	struct addr_index ix;
	assert_int_equal(addr_index_init(&ix, 0), 0);
	uint32_t first_cap = ix.mask + 1;
	const uint32_t n = 1u << 18;
	uint32_t doublings = 0, cap = first_cap;
	for (uint32_t i = 0; i < n; i++) {
		/* aligned, clustered addresses, as a device allocator hands out */
		assert_int_equal(addr_index_insert(&ix, (int)(i % 8), 0x80000000ull + (uint64_t)(i / 8) * 4096, i), 0);
		if (ix.mask + 1 != cap) {
			assert_int_equal(ix.mask + 1, cap * 2);
			cap *= 2;
			doublings++;
		}
	}
	assert_int_equal(ix.count, n);
	assert_true(doublings >= 12);
	assert_true((uint64_t)ix.count * 4 <= (uint64_t)(ix.mask + 1) * 3);
	for (uint32_t i = 0; i < n; i++) {
		uint32_t s = addr_index_find(&ix, (int)(i % 8), 0x80000000ull + (uint64_t)(i / 8) * 4096, NULL, NULL);
		assert_int_not_equal(s, ADDR_INDEX_NOT_FOUND);
		assert_int_equal(addr_index_value(&ix, s), i);
	}
	check_reachable(&ix);
	/* remove every other entry, then all: nothing is lost in between */
	for (uint32_t i = 0; i < n; i += 2)
		addr_index_remove(&ix, find_value(&ix, (int)(i % 8), 0x80000000ull + (uint64_t)(i / 8) * 4096, i));
	assert_int_equal(ix.count, n / 2);
	for (uint32_t i = 1; i < n; i += 2)
		assert_int_not_equal(find_value(&ix, (int)(i % 8), 0x80000000ull + (uint64_t)(i / 8) * 4096, i),
				     ADDR_INDEX_NOT_FOUND);
	for (uint32_t i = 1; i < n; i += 2)
		addr_index_remove(&ix, find_value(&ix, (int)(i % 8), 0x80000000ull + (uint64_t)(i / 8) * 4096, i));
	assert_int_equal(ix.count, 0);
	for (uint32_t i = 0; i <= ix.mask; i++)
		assert_int_equal(ix.slots[i].device_plus1, 0);
	addr_index_release(&ix);
}

static void test_init_sizes_for_expected_entries(void **state)
{
	(void)state;
	struct addr_index ix;
	assert_int_equal(addr_index_init(&ix, 100000), 0);
	uint32_t cap = ix.mask + 1;
	assert_true((cap & (cap - 1)) == 0);
	for (uint32_t i = 0; i < 100000; i++)
		assert_int_equal(addr_index_insert(&ix, 0, i, i), 0);
	assert_int_equal(ix.mask + 1, cap); /* no doubling needed */
	addr_index_release(&ix);
}

/* The home slot of a key in a table of `cap` slots, read off an empty table. */
static uint32_t home_of(uint32_t cap, int device, uint64_t address)
{
	struct addr_index ix;
	assert_int_equal(addr_index_init(&ix, 0), 0);
	assert_int_equal(ix.mask + 1, cap);
	assert_int_equal(addr_index_insert(&ix, device, address, 0), 0);
	uint32_t home = addr_index_find(&ix, device, address, NULL, NULL);
	addr_index_release(&ix);
	return home;
}

/*
 * Entries whose home slots are the last two and the first two slots of the
 * table form one cluster that wraps around; removing any of them in any order
 * must keep the rest reachable (backward-shift deletion across the wrap).
 */
static void test_removal_in_clusters_that_wrap_around(void **state)
{
	(void)state;
	struct addr_index probe;
	assert_int_equal(addr_index_init(&probe, 0), 0);
	const uint32_t cap = probe.mask + 1; /* the minimum table */
	addr_index_release(&probe);

	/* keys homed at cap-2, cap-1, 0 and 1 */
	enum { PER_HOME = 5, HOMES = 4 };
	const uint32_t homes[HOMES] = {cap - 2, cap - 1, 0, 1};
	uint64_t keys[HOMES][PER_HOME];
	int found[HOMES] = {0};
	for (uint64_t a = 0;
	     a < 1000000 && (found[0] < PER_HOME || found[1] < PER_HOME || found[2] < PER_HOME || found[3] < PER_HOME);
	     a++) {
		uint32_t h = home_of(cap, 0, a * 64);
		for (int k = 0; k < HOMES; k++)
			if (h == homes[k] && found[k] < PER_HOME)
				keys[k][found[k]++] = a * 64;
	}
	for (int k = 0; k < HOMES; k++)
		assert_int_equal(found[k], PER_HOME);

	for (int round = 0; round < 50; round++) {
		struct addr_index ix;
		assert_int_equal(addr_index_init(&ix, 0), 0);
		uint32_t order[HOMES * PER_HOME];
		/* insert interleaved so that homes and positions differ */
		uint32_t n = 0;
		for (int j = 0; j < PER_HOME; j++)
			for (int k = HOMES; k-- > 0;)
				order[n++] = (uint32_t)(k * PER_HOME + j);
		for (uint32_t i = 0; i < n; i++) {
			uint32_t v = order[i];
			assert_int_equal(addr_index_insert(&ix, 0, keys[v / PER_HOME][v % PER_HOME], v), 0);
		}
		/* the cluster spans the wrap: both the last and the first slot are used */
		assert_int_not_equal(ix.slots[cap - 1].device_plus1, 0);
		assert_int_not_equal(ix.slots[0].device_plus1, 0);
		check_reachable(&ix);
		/* remove in a shuffled order (deterministic per round) */
		uint64_t rng = 0x1234567u + (uint64_t)round * 7919u;
		for (uint32_t i = n; i > 1; i--) {
			rng = rng * 6364136223846793005ull + 1442695040888963407ull;
			uint32_t j = (uint32_t)(rng >> 33) % i;
			uint32_t t = order[i - 1];
			order[i - 1] = order[j];
			order[j] = t;
		}
		for (uint32_t i = 0; i < n; i++) {
			uint32_t v = order[i];
			uint64_t key = keys[v / PER_HOME][v % PER_HOME];
			uint32_t s = find_value(&ix, 0, key, v);
			assert_int_not_equal(s, ADDR_INDEX_NOT_FOUND);
			addr_index_remove(&ix, s);
			assert_int_equal(find_value(&ix, 0, key, v), ADDR_INDEX_NOT_FOUND);
			for (uint32_t j = i + 1; j < n; j++)
				assert_int_not_equal(find_value(&ix, 0, keys[order[j] / PER_HOME][order[j] % PER_HOME],
								order[j]),
						     ADDR_INDEX_NOT_FOUND);
			check_reachable(&ix);
		}
		assert_int_equal(ix.count, 0);
		addr_index_release(&ix);
	}
}

/* ---- differential test ---- */

struct model_entry {
	int device;
	uint64_t address;
	uint32_t value;
};

static size_t model_count_key(const struct model_entry *m, size_t n, int device, uint64_t address)
{
	size_t c = 0;
	for (size_t i = 0; i < n; i++)
		c += m[i].device == device && m[i].address == address;
	return c;
}

static void test_differential_against_an_array(void **state)
{
	(void)state;
	enum { OPS = 200000, MAX_LIVE = 3000, DEVICES = 4, ADDRESSES = 700 };
	struct model_entry *model = calloc(MAX_LIVE, sizeof(*model));
	assert_non_null(model);
	size_t n = 0;
	uint32_t next_value = 0;
	uint64_t rng = 20240601;
	struct addr_index ix;
	assert_int_equal(addr_index_init(&ix, 0), 0);
	for (int op = 0; op < OPS; op++) {
		uint64_t r = random_next(&rng);
		int device = (int)(r % DEVICES);
		/* a small address space: duplicate keys happen often */
		uint64_t address = ((r >> 8) % ADDRESSES) * 0x1000;
		unsigned kind = (unsigned)((r >> 40) % 100);
		if (kind < 45 && n < MAX_LIVE) {
			uint32_t v = next_value++;
			assert_int_equal(addr_index_insert(&ix, device, address, v), 0);
			model[n++] = (struct model_entry){device, address, v};
		} else if (kind < 85 && n > 0) {
			size_t i = (size_t)((r >> 16) % n);
			uint32_t s = find_value(&ix, model[i].device, model[i].address, model[i].value);
			assert_int_not_equal(s, ADDR_INDEX_NOT_FOUND);
			assert_int_equal(addr_index_value(&ix, s), model[i].value);
			addr_index_remove(&ix, s);
			model[i] = model[--n];
		} else if (kind < 99) {
			uint32_t s = addr_index_find(&ix, device, address, NULL, NULL);
			size_t expected = model_count_key(model, n, device, address);
			if (expected == 0) {
				assert_int_equal(s, ADDR_INDEX_NOT_FOUND);
			} else {
				assert_int_not_equal(s, ADDR_INDEX_NOT_FOUND);
				/* the value found belongs to a model entry with this key */
				uint32_t v = addr_index_value(&ix, s);
				int ok = 0;
				for (size_t i = 0; i < n && !ok; i++)
					ok = model[i].value == v && model[i].device == device &&
						model[i].address == address;
				assert_true(ok);
			}
		} else if (r % 1000 == 0) {
			addr_index_clear(&ix);
			n = 0;
		}
		assert_int_equal(ix.count, n);
		if (op % 10000 == 0) {
			for (size_t i = 0; i < n; i++)
				assert_int_not_equal(find_value(&ix, model[i].device, model[i].address, model[i].value),
						     ADDR_INDEX_NOT_FOUND);
			check_reachable(&ix);
		}
	}
	for (size_t i = 0; i < n; i++)
		assert_int_not_equal(find_value(&ix, model[i].device, model[i].address, model[i].value),
				     ADDR_INDEX_NOT_FOUND);
	check_reachable(&ix);
	addr_index_release(&ix);
	free(model);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_insert_find_remove),
		cmocka_unit_test(test_duplicate_keys_are_picked_by_the_predicate),
		cmocka_unit_test(test_growth_through_many_doublings),
		cmocka_unit_test(test_init_sizes_for_expected_entries),
		cmocka_unit_test(test_removal_in_clusters_that_wrap_around),
		cmocka_unit_test(test_differential_against_an_array),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
