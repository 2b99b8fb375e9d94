/*
 * test_diag.c - diagnosis on the protocol side (ingest/diag.c and what
 * events.c records for it), through a server core and a socketpair client:
 * ALLOC_FAILED's post-mortem and its refusals, misuse told apart, marks
 * and the order of events around them, STACK_TEXT stacks, DOC_QUERY's
 * chunks and errors.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "common/clock.h"
#include "server/state/diff.h"
#include "server_fixture.h"

#define MiB (1024ull * 1024ull)
#define BASE 0x800000000ull

static void mark(struct fixture *f, const char *label)
{
	struct proto_msg m;
	proto_msg_init(&m, PROTO_MARK, -1);
	proto_set_string(m.u.text.text, sizeof(m.u.text.text), label);
	fixture_feed(f, &m);
}

/* Defines stack `id` as text frames, innermost first. */
static void stack_text(struct fixture *f, uint64_t id, const char *const *frames, int n)
{
	for (int i = 0; i < n; i++) {
		struct proto_msg m;
		proto_msg_init(&m, PROTO_STACK_TEXT, n);
		m.size = id;
		m.buffer_type = (uint8_t)i;
		proto_set_string(m.u.text.text, sizeof(m.u.text.text), frames[i]);
		fixture_feed(f, &m);
	}
}

static uint64_t errors(struct fixture *f, enum proto_error_reason reason)
{
	return f->s.ingest.stats.errors[reason];
}

static void test_alloc_failed_keeps_a_post_mortem_of_the_senders_view(void **state)
{
	struct fixture *f = *state;
	static const char *const frames[] = {"grow (model.py:7)", "<module> (model.py:20)"};
	stack_text(f, 5, frames, 2);
	for (int i = 0; i < 16; i++)
		fixture_event(f, PROTO_ALLOC, 0, TTALLOC_DRAM, BASE + (uint64_t)i * 64 * MiB, 768 * MiB, 0);
	for (int i = 0; i < 16; i += 2)
		fixture_event(f, PROTO_FREE, 0, 0, BASE + (uint64_t)i * 64 * MiB, 0, 0);
	fixture_event(f, PROTO_ALLOC_FAILED, 0, TTALLOC_DRAM, 0, 1536 * MiB, 5);
	const struct oom_history *h = &f->s.state.ooms;
	assert_int_equal(h->count, 1);
	const struct oom_report *r = oom_newest(h, 0);
	assert_int_equal(r->requested, 1536 * MiB);
	assert_int_equal(r->free, 6144 * MiB);
	assert_int_equal(r->largest_free, 768 * MiB);
	assert_true(r->largest_free < r->requested && r->requested <= r->free);
	assert_int_equal(r->cause, FORMAT_OOM_FRAGMENTATION);
	assert_int_equal(r->holder_count, 1);
	assert_int_equal(r->buffer_count, 8);
	assert_int_equal(r->events[0].kind, FLIGHT_ALLOC_FAILED);
	assert_int_equal(r->events[1].kind, FLIGHT_FREE);
	assert_string_equal(stack_pool_text(&f->s.state.stack_pool, r->stack),
			    "at grow (model.py:7)\nat <module> (model.py:20)");
	assert_int_equal(h->failures[0][TTALLOC_DRAM], 1);
}

static void test_bad_alloc_failed_frames_are_counted_and_keep_nothing(void **state)
{
	struct fixture *f = *state;
	fixture_event(f, PROTO_ALLOC_FAILED, 9, TTALLOC_DRAM, 0, 4096, 0);
	fixture_event(f, PROTO_ALLOC_FAILED, 0, 7, 0, 4096, 0);
	fixture_event(f, PROTO_ALLOC_FAILED, 0, TTALLOC_DRAM, 0, 0, 0);
	fixture_event(f, PROTO_ALLOC_FAILED, 0, TTALLOC_DRAM, 0, PROTO_MAX_REQUEST + 1, 0);
	assert_int_equal(errors(f, PROTO_ERR_BAD_DEVICE), 1);
	assert_int_equal(errors(f, PROTO_ERR_BAD_BUFFER_TYPE), 1);
	assert_int_equal(errors(f, PROTO_ERR_BAD_SIZE), 2);
	assert_int_equal(f->s.state.ooms.total, 0);
}

static enum misuse_kind last_misuse(struct fixture *f)
{
	const struct misuse_log *log = &f->s.state.misuse;
	assert_true(log->count > 0);
	return misuse_get(log, log->count - 1)->kind;
}

static void test_misuse_is_told_apart_and_carries_both_stacks(void **state)
{
	struct fixture *f = *state;
	static const char *const alloc_at[] = {"make (a.py:1)"}, *const free_at[] = {"drop (a.py:2)"};
	stack_text(f, 1, alloc_at, 1);
	stack_text(f, 2, free_at, 1);
	fixture_event(f, PROTO_ALLOC, 0, TTALLOC_L1, 0x10000, 4096, 1);
	fixture_event(f, PROTO_FREE, 0, 0, 0x10000, 0, 2);
	fixture_event(f, PROTO_FREE, 0, 0, 0x10000, 0, 2);
	assert_int_equal(last_misuse(f), MISUSE_DOUBLE_FREE);
	const struct misuse_entry *e = misuse_get(&f->s.state.misuse, 0);
	const struct stack_pool *pool = &f->s.state.stack_pool;
	assert_string_equal(stack_pool_text(pool, e->alloc_stack), "at make (a.py:1)");
	assert_string_equal(stack_pool_text(pool, e->first_free_stack), "at drop (a.py:2)");
	assert_string_equal(stack_pool_text(pool, e->call_stack), "at drop (a.py:2)");
	assert_int_equal(e->size, 4096);
	fixture_event(f, PROTO_FREE, 0, 0, 0x99000, 0, 0);
	assert_int_equal(last_misuse(f), MISUSE_UNKNOWN_FREE);
	fixture_event(f, PROTO_ALLOC, 1, TTALLOC_DRAM, BASE, 4096, 1);
	fixture_event(f, PROTO_FREE, 0, 0, BASE, 0, 2);
	assert_int_equal(last_misuse(f), MISUSE_WRONG_DEVICE);
	assert_int_equal(misuse_get(&f->s.state.misuse, 2)->other_device, 1);
	fixture_event(f, PROTO_ALLOC, 1, TTALLOC_DRAM, BASE, 8192, 2);
	assert_int_equal(last_misuse(f), MISUSE_OVERLAPPING_ALLOC);
	assert_int_equal(misuse_get(&f->s.state.misuse, 3)->size, 4096);
	/* the protocol counters count what they counted before */
	assert_int_equal(errors(f, PROTO_ERR_UNKNOWN_FREE), 3);
	assert_int_equal(errors(f, PROTO_ERR_DUPLICATE_ALLOC), 1);
	for (int k = 0; k < MISUSE_KINDS; k++)
		assert_int_equal(f->s.state.misuse.total[k], 1);
}

/* The items of a diff from mark `a` to mark `b` (NULL: now). */
static size_t diff_items(struct fixture *f, const char *a, const char *b, struct diff_item **items)
{
	const struct mark *from = marks_find(&f->s.state.marks, a), *to = b ? marks_find(&f->s.state.marks, b) : NULL;
	assert_non_null(from);
	struct diff_span span = {from->mono_ns, to ? to->mono_ns : UINT64_MAX, 0};
	size_t n;
	int exact;
	assert_int_equal(diff_collect(&f->s.state, &span, items, &n, &exact), 0);
	assert_true(exact);
	return n;
}

static void test_events_after_a_mark_count_after_it_even_stamped_before(void **state)
{
	struct fixture *f = *state;
	struct clock_fake fake;
	clock_fake_install(&fake, 1000000000000ull, 5000000000ull);
	fixture_event(f, PROTO_ALLOC, 0, TTALLOC_DRAM, BASE, 100, 0);
	mark(f, "a");
	/* stamped by its client a second before the mark was applied */
	struct proto_msg m;
	proto_msg_init(&m, PROTO_ALLOC, 0);
	m.buffer_id = BASE + 0x1000;
	m.size = 200;
	m.timestamp = 1000000000000ull - 1000000000ull;
	fixture_feed(f, &m);
	/* a resync of an old buffer keeps its time: not new */
	m.buffer_id = BASE + 0x2000;
	m.size = 300;
	m.u.alloc.flags = PROTO_ALLOC_RESYNC;
	fixture_feed(f, &m);
	fixture_event(f, PROTO_FREE, 0, 0, BASE, 0, 0);
	clock_fake_advance(&fake, 1000);
	mark(f, "b");
	struct diff_item *items;
	size_t n = diff_items(f, "a", "b", &items);
	assert_int_equal(n, 2);
	diff_sort_items(items, n);
	assert_int_equal(items[0].size, 200);
	assert_false(items[0].freed);
	assert_int_equal(items[1].size, 100);
	assert_true(items[1].freed);
	free(items);
	clock_set_source(NULL);
	assert_string_equal(marks_get(&f->s.state.marks, 0)->label, "a");
}

static void test_bad_marks_are_counted(void **state)
{
	struct fixture *f = *state;
	struct proto_msg m;
	proto_msg_init(&m, PROTO_MARK, -1);
	fixture_feed(f, &m); /* empty */
	memset(m.u.text.text, 'x', sizeof(m.u.text.text));
	fixture_feed(f, &m); /* unterminated */
	mark(f, "esc\033[2J");
	assert_int_equal(errors(f, PROTO_ERR_BAD_TEXT), 3);
	assert_int_equal(f->s.state.marks.total, 0);
}

/* A DOC_QUERY's answer: the document's text (free it), or NULL after an ERROR. */
static char *document(struct fixture *f, const char *path)
{
	struct proto_msg m;
	proto_msg_init(&m, PROTO_DOC_QUERY, -1);
	proto_set_string(m.u.text.text, sizeof(m.u.text.text), path);
	fixture_feed(f, &m);
	char *text = NULL;
	for (;;) {
		struct proto_msg a;
		fixture_read_frame(f->client, &a);
		if (a.type == PROTO_ERROR || a.type == PROTO_ROWS_END)
			return text;
		assert_int_equal(a.type, PROTO_DOC_CHUNK);
		if (!text)
			text = calloc(1, a.size + 1);
		size_t n = a.size - a.buffer_id < 72 ? a.size - a.buffer_id : 72;
		memcpy(text + a.buffer_id, a.u.text.text, n);
	}
}

static void test_doc_query_answers_in_chunks_and_refuses_unknown_paths(void **state)
{
	struct fixture *f = *state;
	mark(f, "first");
	char *text = document(f, "/api/marks");
	assert_non_null(text);
	assert_non_null(strstr(text, "\"label\":\"first\""));
	assert_true(strlen(text) > 72); /* more than one chunk */
	free(text);
	assert_null(document(f, "/api/nothing"));
	assert_null(document(f, "/api/diff?from=nope"));
	text = document(f, "/api/devices/0/map?type=l1&cells=2");
	assert_non_null(strstr(text, "\"cells\":[0.0,0.0]"));
	free(text);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(test_alloc_failed_keeps_a_post_mortem_of_the_senders_view,
						fixture_setup, fixture_teardown),
		cmocka_unit_test_setup_teardown(test_bad_alloc_failed_frames_are_counted_and_keep_nothing,
						fixture_setup, fixture_teardown),
		cmocka_unit_test_setup_teardown(test_misuse_is_told_apart_and_carries_both_stacks, fixture_setup,
						fixture_teardown),
		cmocka_unit_test_setup_teardown(test_events_after_a_mark_count_after_it_even_stamped_before,
						fixture_setup, fixture_teardown),
		cmocka_unit_test_setup_teardown(test_bad_marks_are_counted, fixture_setup, fixture_teardown),
		cmocka_unit_test_setup_teardown(test_doc_query_answers_in_chunks_and_refuses_unknown_paths,
						fixture_setup, fixture_teardown),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
