/*
 * test_toolkit.c - the small toolkit in src/common every component uses:
 * the string builder (strbuf.h), array growth (array.h) and the clock with
 * its one allocation-time rule (clock.h).
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <stdlib.h>
#include <string.h>

#include "common/array.h"
#include "common/clock.h"
#include "common/labels.h"
#include "common/strbuf.h"

static void test_strbuf_builds_text_and_hands_it_over(void **state)
{
	(void)state;
	struct strbuf sb = STRBUF_INIT;
	assert_string_equal(strbuf_str(&sb), "");
	strbuf_addstr(&sb, "DRAM");
	strbuf_addf(&sb, "=%d%s", 3, "MB");
	strbuf_repeat(&sb, "-", 3);
	strbuf_add(&sb, "xyz", 2);
	assert_string_equal(strbuf_str(&sb), "DRAM=3MB---xy");
	assert_int_equal(sb.len, strlen("DRAM=3MB---xy"));
	size_t len = 0;
	char *text = strbuf_detach(&sb, &len);
	assert_string_equal(text, "DRAM=3MB---xy");
	assert_int_equal(len, 13);
	assert_null(sb.buf);
	free(text);
}

static void test_strbuf_grows_past_its_first_allocation(void **state)
{
	(void)state;
	struct strbuf sb = STRBUF_INIT;
	for (int i = 0; i < 10000; i++)
		strbuf_addf(&sb, "%04d", i % 10000);
	assert_int_equal(sb.len, 40000);
	assert_memory_equal(sb.buf + 39996, "9999", 4);
	assert_int_equal(sb.buf[sb.len], '\0');
	/* one text longer than all the room left: formatted again once the room is made */
	size_t room = sb.alloc - sb.len, big_len = room + 1000;
	char *big = malloc(big_len + 1);
	assert_non_null(big);
	memset(big, 'q', big_len);
	big[big_len] = '\0';
	strbuf_addf(&sb, "<%s>%d", big, 7);
	free(big);
	assert_int_equal(sb.len, 40000 + 1 + big_len + 2);
	assert_memory_equal(sb.buf + 40000, "<qqq", 4);
	assert_string_equal(sb.buf + sb.len - 3, "q>7");
	strbuf_reset(&sb);
	assert_string_equal(strbuf_str(&sb), "");
	assert_non_null(sb.buf); /* the allocation is kept */
	strbuf_release(&sb);
	assert_null(sb.buf);
}

static void test_strbuf_failed_builder_ignores_additions_and_detaches_null(void **state)
{
	(void)state;
	struct strbuf sb = STRBUF_INIT;
	strbuf_addstr(&sb, "kept");
	sb.failed = 1; /* as after an allocation failure */
	strbuf_addstr(&sb, " dropped");
	assert_string_equal(strbuf_str(&sb), "kept");
	size_t len = 99;
	assert_null(strbuf_detach(&sb, &len));
	assert_int_equal(len, 0);
	assert_null(sb.buf);
}

static void test_array_reserve_doubles_and_keeps_elements(void **state)
{
	(void)state;
	uint64_t *items = NULL;
	uint32_t cap = 0;
	for (uint32_t i = 0; i < 1000; i++) {
		assert_int_equal(ARRAY_RESERVE(items, cap, (size_t)i + 1), 0);
		items[i] = i * 3u;
	}
	assert_int_equal(cap, 1024); /* 16, 32, ... 1024 */
	for (uint32_t i = 0; i < 1000; i++)
		assert_int_equal(items[i], i * 3u);
	free(items);
}

static void test_array_reserve_refuses_what_the_capacity_cannot_count(void **state)
{
	(void)state;
	char *items = NULL;
	uint8_t cap = 0; /* a capacity that counts to 127 at most */
	assert_int_equal(ARRAY_RESERVE(items, cap, 100), 0);
	assert_int_equal(cap, 127);
	assert_int_equal(ARRAY_RESERVE(items, cap, 200), -1);
	assert_int_equal(cap, 127); /* nothing changed */
	free(items);
	size_t big_cap = 0;
	void *none = NULL;
	assert_int_equal(array_grow(&none, &big_cap, SIZE_MAX / 2, 16, 16), -1);
	assert_null(none);
}

static void test_fake_clock_moves_only_when_told(void **state)
{
	(void)state;
	struct clock_fake fake;
	clock_fake_install(&fake, 1000 * CLOCK_NS_PER_S, 50 * CLOCK_NS_PER_S);
	assert_int_equal(clock_realtime_ns(), 1000 * CLOCK_NS_PER_S);
	assert_int_equal(clock_monotonic_ns(), 50 * CLOCK_NS_PER_S);
	clock_fake_advance(&fake, 3 * CLOCK_NS_PER_MS);
	assert_int_equal(clock_monotonic_ns(), 50 * CLOCK_NS_PER_S + 3 * CLOCK_NS_PER_MS);
	clock_set_source(NULL);
	assert_true(clock_realtime_ns() > 1600000000ull * CLOCK_NS_PER_S); /* the system's again */
}

static void test_alloc_time_trusts_plausible_client_times_only(void **state)
{
	(void)state;
	const uint64_t mono = 100000 * CLOCK_NS_PER_S, real = 1700000000ull * CLOCK_NS_PER_S;
	/* an hour ago: its age survives the reconnect */
	assert_int_equal(clock_alloc_mono_ns(real - 3600 * CLOCK_NS_PER_S, mono, real), mono - 3600 * CLOCK_NS_PER_S);
	/* none, from the future, older than 7 days, older than the monotonic clock: now */
	assert_int_equal(clock_alloc_mono_ns(0, mono, real), mono);
	assert_int_equal(clock_alloc_mono_ns(real + 1, mono, real), mono);
	assert_int_equal(clock_alloc_mono_ns(real - CLOCK_MAX_TRUSTED_AGE_NS - 1, mono, real), mono);
	assert_int_equal(clock_alloc_mono_ns(real - mono - 1, mono, real), mono);
	/* exactly 7 days is still trusted */
	assert_int_equal(clock_alloc_mono_ns(real - CLOCK_MAX_TRUSTED_AGE_NS, 8 * 24 * 3600 * CLOCK_NS_PER_S, real),
			 24 * 3600 * CLOCK_NS_PER_S);
}

#define FRUIT_MAP(X, P) X(P, APPLE, "apple", "an apple") X(P, PEAR, "pear", "a pear")
LABELS_ENUM(fruit, FRUIT_MAP, FRUIT_, FRUITS);
static const struct label fruits[FRUITS] = LABELS_TABLE(FRUIT_MAP, FRUIT_);

static void test_labels_one_list_makes_the_enum_its_strings_and_parser(void **state)
{
	(void)state;
	assert_int_equal(FRUIT_APPLE, 0);
	assert_int_equal(FRUIT_PEAR, 1);
	assert_int_equal(FRUITS, 2);
	assert_string_equal(labels_label(fruits, FRUITS, FRUIT_PEAR, "?"), "pear");
	assert_string_equal(labels_words(fruits, FRUITS, FRUIT_APPLE, "?"), "an apple");
	assert_string_equal(labels_label(fruits, FRUITS, 7, "?"), "?");
	assert_int_equal(labels_find(fruits, FRUITS, "pear"), FRUIT_PEAR);
	assert_int_equal(labels_find(fruits, FRUITS, "plum"), -1);
	assert_int_equal(labels_find(fruits, FRUITS, NULL), -1);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_strbuf_builds_text_and_hands_it_over),
		cmocka_unit_test(test_strbuf_grows_past_its_first_allocation),
		cmocka_unit_test(test_strbuf_failed_builder_ignores_additions_and_detaches_null),
		cmocka_unit_test(test_array_reserve_doubles_and_keeps_elements),
		cmocka_unit_test(test_array_reserve_refuses_what_the_capacity_cannot_count),
		cmocka_unit_test(test_fake_clock_moves_only_when_told),
		cmocka_unit_test(test_alloc_time_trusts_plausible_client_times_only),
		cmocka_unit_test(test_labels_one_list_makes_the_enum_its_strings_and_parser),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
