/*
 * test_live_table.c - the client library's own table of live buffers
 * (src/client/live_table.h): what it re-sends to a server it (re)connects to.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <stdlib.h>
#include <string.h>

#include "client/live_table.h"
#include "ttalloc.h"

static int setup(void **state)
{
	struct live_table *t = malloc(sizeof(*t));
	if (!t || live_table_init(t) != 0)
		return -1;
	*state = t;
	return 0;
}

static int teardown(void **state)
{
	live_table_release(*state);
	free(*state);
	return 0;
}

struct seen {
	uint64_t count;
	uint64_t bytes;
	uint64_t address_sum;
	struct live_entry last;
	uint64_t stop_after; /* 0: never stop */
};

static int visit(const struct live_entry *e, void *ctx)
{
	struct seen *s = ctx;
	assert_true(e->used);
	s->count++;
	s->bytes += e->size;
	s->address_sum += e->address;
	s->last = *e;
	return s->stop_after && s->count == s->stop_after ? 99 : 0;
}

static void test_add_and_remove(void **state)
{
	struct live_table *t = *state;
	assert_int_equal(t->count, 0);
	assert_int_equal(live_table_add(t, 0, TTALLOC_DRAM, 0x1000, 4096, 111, 0), 0);
	assert_int_equal(live_table_add(t, 1, TTALLOC_L1, 0x1000, 512, 222, 0), 0); /* other device */
	assert_int_equal(t->count, 2);
	struct seen s = {0};
	assert_int_equal(live_table_each(t, visit, &s), 0);
	assert_int_equal(s.count, 2);
	assert_int_equal(s.bytes, 4096 + 512);

	assert_int_equal(live_table_remove(t, 0, 0x1000), 0);
	assert_int_equal(t->count, 1);
	memset(&s, 0, sizeof(s));
	live_table_each(t, visit, &s);
	assert_int_equal(s.count, 1);
	assert_int_equal(s.last.device, 1);
	assert_int_equal(s.last.type, TTALLOC_L1);
	assert_int_equal(s.last.size, 512);
	assert_int_equal(s.last.alloc_ns, 222);

	assert_int_equal(live_table_remove(t, 0, 0x1000), TTALLOC_EUNKNOWN_BUFFER);
	assert_int_equal(live_table_remove(t, 1, 0x2000), TTALLOC_EUNKNOWN_BUFFER);
	assert_int_equal(live_table_remove(t, 1, 0x1000), 0);
	assert_int_equal(t->count, 0);
}

static void test_duplicate_add_replaces_the_entry(void **state)
{
	struct live_table *t = *state;
	assert_int_equal(live_table_add(t, 2, TTALLOC_DRAM, 0x5000, 100, 1, 0), 0);
	assert_int_equal(live_table_add(t, 2, TTALLOC_TRACE, 0x5000, 300, 2, 0), TTALLOC_EDUPLICATE);
	assert_int_equal(t->count, 1);
	struct seen s = {0};
	live_table_each(t, visit, &s);
	assert_int_equal(s.count, 1);
	assert_int_equal(s.last.size, 300);
	assert_int_equal(s.last.type, TTALLOC_TRACE);
	assert_int_equal(s.last.alloc_ns, 2);
	assert_int_equal(live_table_remove(t, 2, 0x5000), 0);
	assert_int_equal(live_table_remove(t, 2, 0x5000), TTALLOC_EUNKNOWN_BUFFER);
}

static void test_growth_and_reuse_of_entries(void **state)
{
	struct live_table *t = *state;
	const uint64_t n = 5000; /* past several doublings of the entry array */
	uint64_t expect_bytes = 0, expect_sum = 0;
	for (uint64_t i = 0; i < n; i++) {
		assert_int_equal(live_table_add(t, (int)(i % 3), TTALLOC_DRAM, i << 12, i + 1, i, 0), 0);
		expect_bytes += i + 1;
		expect_sum += i << 12;
	}
	assert_int_equal(t->count, n);
	struct seen s = {0};
	live_table_each(t, visit, &s);
	assert_int_equal(s.count, n);
	assert_int_equal(s.bytes, expect_bytes);
	assert_int_equal(s.address_sum, expect_sum);
	uint32_t cap = t->cap;
	/* free half, add as many again: the freed entries are reused */
	for (uint64_t i = 0; i < n; i += 2)
		assert_int_equal(live_table_remove(t, (int)(i % 3), i << 12), 0);
	for (uint64_t i = 0; i < n / 2; i++)
		assert_int_equal(live_table_add(t, 7, TTALLOC_L1, i, 1, 0, 0), 0);
	assert_int_equal(t->count, n);
	assert_int_equal(t->cap, cap);
	for (uint64_t i = 1; i < n; i += 2) {
		assert_int_equal(live_table_remove(t, (int)(i % 3), i << 12), 0);
	}
	for (uint64_t i = 0; i < n / 2; i++)
		assert_int_equal(live_table_remove(t, 7, i), 0);
	assert_int_equal(t->count, 0);
	memset(&s, 0, sizeof(s));
	live_table_each(t, visit, &s);
	assert_int_equal(s.count, 0);
}

static void test_clear_forgets_everything_and_the_table_stays_usable(void **state)
{
	struct live_table *t = *state;
	for (uint64_t i = 0; i < 600; i++)
		assert_int_equal(live_table_add(t, 0, TTALLOC_DRAM, i * 64, 64, 0, 0), 0);
	live_table_clear(t);
	assert_int_equal(t->count, 0);
	struct seen s = {0};
	live_table_each(t, visit, &s);
	assert_int_equal(s.count, 0);
	assert_int_equal(live_table_remove(t, 0, 0), TTALLOC_EUNKNOWN_BUFFER);
	/* every entry went back to the free list: refilling does not grow */
	uint32_t cap = t->cap;
	for (uint64_t i = 0; i < cap; i++)
		assert_int_equal(live_table_add(t, 1, TTALLOC_L1, i * 64, 8, 0, 0), 0);
	assert_int_equal(t->cap, cap);
	assert_int_equal(t->count, cap);
	memset(&s, 0, sizeof(s));
	live_table_each(t, visit, &s);
	assert_int_equal(s.count, cap);
	assert_int_equal(s.bytes, 8ull * cap);
}

static void test_clear_of_an_empty_table(void **state)
{
	struct live_table *t = *state;
	live_table_clear(t);
	assert_int_equal(t->count, 0);
	assert_int_equal(live_table_add(t, 0, TTALLOC_CB, 0x10, 16, 0, 0), 0);
	assert_int_equal(t->count, 1);
}

static void test_each_stops_at_the_first_non_zero_return(void **state)
{
	struct live_table *t = *state;
	for (uint64_t i = 0; i < 10; i++)
		assert_int_equal(live_table_add(t, 0, TTALLOC_DRAM, i, 1, 0, 0), 0);
	struct seen s = {.stop_after = 3};
	assert_int_equal(live_table_each(t, visit, &s), 99);
	assert_int_equal(s.count, 3);
}

#define T(test) cmocka_unit_test_setup_teardown(test, setup, teardown)

int main(void)
{
	const struct CMUnitTest tests[] = {
		T(test_add_and_remove),
		T(test_duplicate_add_replaces_the_entry),
		T(test_growth_and_reuse_of_entries),
		T(test_clear_forgets_everything_and_the_table_stays_usable),
		T(test_clear_of_an_empty_table),
		T(test_each_stops_at_the_first_non_zero_return),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
