/*
 * test_marks.c - marks and the journal of frees (state/marks.h): bounded
 * rings, the newest mark of a label, the order rule for ALLOCs applied
 * after a mark, and what the journal keeps and drops.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <stdio.h>
#include <string.h>

#include "server/state/marks.h"

static void test_a_hundred_thousand_marks_keep_the_newest_and_stay_bounded(void **state)
{
	(void)state;
	struct marks m;
	marks_init(&m);
	char label[32];
	for (int i = 0; i < 100000; i++) {
		snprintf(label, sizeof(label), "step-%d", i);
		assert_non_null(marks_add(&m, label, 1, 1000 + (uint64_t)i, 5));
	}
	assert_int_equal(m.total, 100000);
	assert_int_equal(m.count, MARKS_KEEP);
	assert_string_equal(marks_get(&m, 0)->label, "step-95904");
	assert_null(marks_find(&m, "step-1"));
	assert_int_equal(marks_find(&m, "step-99999")->id, 100000);
	marks_release(&m);
}

static void test_the_newest_mark_of_a_label_is_found_and_times_only_move_forward(void **state)
{
	(void)state;
	struct marks m;
	marks_init(&m);
	assert_int_equal(marks_order(&m, 7), 7); /* no mark: times as they come */
	assert_false(marks_wants(&m, 7));
	const struct mark *a = marks_add(&m, "a", 1, 100, 0);
	const struct mark *b = marks_add(&m, "a", 1, 50, 0); /* a clock that went back: still after */
	assert_int_equal(a->mono_ns, 100);
	assert_int_equal(b->mono_ns, 101);
	assert_ptr_equal(marks_find(&m, "a"), b);
	/* an ALLOC applied now but stamped before the mark counts as after it */
	assert_int_equal(marks_order(&m, 90), 102);
	assert_int_equal(marks_order(&m, 500), 500);
	assert_true(marks_wants(&m, 101));
	assert_false(marks_wants(&m, 102));
	char long_label[200];
	memset(long_label, 'x', sizeof(long_label) - 1);
	long_label[sizeof(long_label) - 1] = '\0';
	assert_int_equal(strlen(marks_add(&m, long_label, 1, 200, 0)->label), PROTO_TEXT_MAX);
	marks_release(&m);
}

static void test_the_journal_grows_then_drops_its_oldest_and_says_from_when_it_is_exact(void **state)
{
	(void)state;
	struct marks m;
	marks_init(&m);
	marks_add(&m, "a", 1, 10, 0);
	struct journal_entry e = {.size = 1, .alloc_ns = 5};
	for (uint64_t i = 0; i < JOURNAL_MAX + 10; i++) {
		e.address = i;
		e.free_ns = 20 + i;
		marks_journal(&m, &e);
	}
	assert_int_equal(m.jcount, JOURNAL_MAX);
	assert_int_equal(m.dropped, 10);
	assert_int_equal(m.horizon_ns, 29); /* the newest dropped free */
	assert_int_equal(marks_journal_get(&m, 0)->address, 10);
	assert_int_equal(marks_journal_get(&m, JOURNAL_MAX - 1)->address, JOURNAL_MAX + 9);
	marks_release(&m);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_a_hundred_thousand_marks_keep_the_newest_and_stay_bounded),
		cmocka_unit_test(test_the_newest_mark_of_a_label_is_found_and_times_only_move_forward),
		cmocka_unit_test(test_the_journal_grows_then_drops_its_oldest_and_says_from_when_it_is_exact),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
