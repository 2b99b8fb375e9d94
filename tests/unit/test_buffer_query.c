/*
 * test_buffer_query.c - BUFFER_QUERY in the server (buffer_query.c), driven
 * in-process through server_fixture.h: rows per process and device, newest
 * first, the row cap, the top stack frame, and the refusals (bad device,
 * another user's process) answered with ERROR.
 */
#define _GNU_SOURCE
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <string.h>
#include <unistd.h>

#include "../support/server_fixture.h"
#include "common/clock.h"

static void alloc(struct fixture *f, int device, unsigned type, uint64_t address, uint64_t size, uint64_t stack)
{
	fixture_event(f, PROTO_ALLOC, device, type, address, size, stack);
}

static void ask(struct fixture *f, int device, pid_t pid, uint64_t rows, unsigned flags)
{
	struct proto_msg m;
	proto_msg_init(&m, PROTO_BUFFER_QUERY, device);
	m.process_id = pid;
	m.size = rows;
	m.buffer_type = (uint8_t)flags;
	fixture_feed(f, &m);
}

/* Reads the answer's rows (and STACK_LINEs) into `rows` up to ROWS_END; returns how many frames came. */
static int read_answer(struct fixture *f, struct proto_msg *rows, int max, struct proto_msg *end)
{
	int n = 0;
	for (;;) {
		fixture_read_frame(f->client, end);
		if (end->type == PROTO_ROWS_END || end->type == PROTO_ERROR)
			return n;
		assert_true(n < max);
		rows[n++] = *end;
	}
}

static void test_rows_of_one_process_newest_first_with_ages(void **state)
{
	struct fixture *f = *state;
	alloc(f, 0, TTALLOC_DRAM, 0x1000, 4096, 0);
	alloc(f, 1, TTALLOC_L1, 0x2000, 64, 0);
	alloc(f, 0, TTALLOC_CB, 0x3000, 128, 0);
	uint64_t before = clock_realtime_ns();
	ask(f, 0, getpid(), 0, 0);
	struct proto_msg rows[8], end;
	assert_int_equal(read_answer(f, rows, 8, &end), 2);
	assert_int_equal(end.type, PROTO_ROWS_END);
	assert_int_equal(end.size, 2);
	/* newest first: the CB, then the DRAM buffer; device 1's L1 is not asked for */
	assert_int_equal(rows[0].type, PROTO_BUFFER_ROW);
	assert_int_equal(rows[0].buffer_id, 0x3000);
	assert_int_equal(rows[0].buffer_type, TTALLOC_CB);
	assert_int_equal(rows[0].size, 128);
	assert_int_equal(rows[1].buffer_id, 0x1000);
	assert_int_equal(rows[1].size, 4096);
	assert_int_equal(rows[1].device_id, 0);
	assert_int_equal(rows[1].process_id, getpid());
	assert_int_equal(rows[1].u.process.uid, getuid());
	assert_true(rows[1].timestamp <= before && rows[1].timestamp + 10 * CLOCK_NS_PER_S > before);
	assert_true(rows[1].u.process.used[0] < 10 * CLOCK_NS_PER_S); /* age */
	assert_true(rows[1].u.process.comm[0] != '\0');

	/* every device, every process of this user */
	ask(f, -1, 0, 0, 0);
	assert_int_equal(read_answer(f, rows, 8, &end), 3);
	assert_int_equal(end.size, 3);
	assert_int_equal(rows[1].device_id, 1);
}

static void test_the_row_count_is_capped(void **state)
{
	struct fixture *f = *state;
	for (uint64_t i = 0; i < 5; i++)
		alloc(f, 0, TTALLOC_DRAM, 0x1000 * (i + 1), 100, 0);
	ask(f, -1, getpid(), 2, 0);
	struct proto_msg rows[8], end;
	assert_int_equal(read_answer(f, rows, 8, &end), 2);
	assert_int_equal(end.size, 2);
	assert_int_equal(rows[0].buffer_id, 0x5000);
	assert_int_equal(rows[1].buffer_id, 0x4000);
	/* far beyond the cap is the cap */
	ask(f, -1, getpid(), UINT64_MAX, 0);
	assert_int_equal(read_answer(f, rows, 8, &end), 5);
}

static void test_unknown_pid_gets_no_rows(void **state)
{
	struct fixture *f = *state;
	alloc(f, 0, TTALLOC_DRAM, 0x1000, 100, 0);
	ask(f, -1, 999999999, 0, 0);
	struct proto_msg rows[2], end;
	assert_int_equal(read_answer(f, rows, 2, &end), 0);
	assert_int_equal(end.type, PROTO_ROWS_END);
	assert_int_equal(end.size, 0);
}

static void test_bad_device_is_answered_with_error_and_the_stream_stays_in_step(void **state)
{
	struct fixture *f = *state;
	ask(f, 7, getpid(), 0, 0);
	struct proto_msg ans;
	fixture_read_frame(f->client, &ans);
	assert_int_equal(ans.type, PROTO_ERROR);
	assert_int_equal(ans.u.error.reason, PROTO_ERR_BAD_DEVICE);
	assert_int_equal(ans.u.error.code, TTALLOC_EINVAL);
	assert_non_null(strstr(ans.u.error.message, "BUFFER_QUERY"));
	assert_int_equal(f->s.ingest.stats.errors[PROTO_ERR_BAD_DEVICE], 1);
	struct proto_msg sync;
	proto_msg_init(&sync, PROTO_SYNC, -1);
	sync.size = 5;
	fixture_feed(f, &sync);
	fixture_read_frame(f->client, &ans);
	assert_int_equal(ans.type, PROTO_SYNC_ACK);
	assert_int_equal(ans.size, 5);
}

static void test_another_users_process_is_refused(void **state)
{
	struct fixture *f = *state;
	alloc(f, 0, TTALLOC_DRAM, 0x1000, 100, 0);
	struct registry *r = &f->s.state.registry;
	registry_process(r, registry_find_pid(r, getpid()))->uid = 4242; /* as if another user's */
	f->c->uid = 1000;                                                /* asked by a plain user */
	ask(f, -1, getpid(), 0, 0);
	struct proto_msg ans;
	fixture_read_frame(f->client, &ans);
	assert_int_equal(ans.type, PROTO_ERROR);
	assert_int_equal(ans.u.error.reason, PROTO_ERR_FOREIGN_QUERY);
	assert_int_equal(f->s.ingest.stats.errors[PROTO_ERR_FOREIGN_QUERY], 1);
	/* "every process" means every process of mine: none here */
	ask(f, -1, 0, 0, 0);
	struct proto_msg rows[2];
	assert_int_equal(read_answer(f, rows, 2, &ans), 0);
	assert_int_equal(ans.type, PROTO_ROWS_END);
	/* root sees it */
	f->c->uid = 0;
	ask(f, -1, getpid(), 0, 0);
	assert_int_equal(read_answer(f, rows, 2, &ans), 1);
}

/* A return address inside this test program, for a stack the server can symbolize. */
static __attribute__((noinline)) uint64_t here(void)
{
	return (uint64_t)(uintptr_t)__builtin_return_address(0);
}

static void test_a_known_stack_follows_its_row_as_one_line(void **state)
{
	struct fixture *f = *state;
	struct proto_msg def;
	proto_msg_init(&def, PROTO_STACK_DEF, 2); /* depth 2 */
	def.size = 77;                            /* stack id */
	def.u.stack.ips[0] = here();
	def.u.stack.ips[1] = here();
	fixture_feed(f, &def);
	alloc(f, 0, TTALLOC_DRAM, 0x1000, 100, 77);
	alloc(f, 0, TTALLOC_L1, 0x2000, 100, 0); /* no stack: no line */
	ask(f, 0, getpid(), 0, PROTO_BUFFER_WITH_STACKS);
	struct proto_msg rows[8], end;
	assert_int_equal(read_answer(f, rows, 8, &end), 3);
	assert_int_equal(end.size, 2); /* rows, not lines */
	assert_int_equal(rows[0].type, PROTO_BUFFER_ROW);
	assert_int_equal(rows[0].buffer_id, 0x2000);
	assert_int_equal(rows[1].type, PROTO_BUFFER_ROW);
	assert_int_equal(rows[1].buffer_id, 0x1000);
	assert_int_equal(rows[2].type, PROTO_STACK_LINE);
	assert_int_equal(rows[2].process_id, getpid());
	assert_true(rows[2].u.text.text[0] != '\0');
	assert_null(strstr(rows[2].u.text.text, "at "));
	/* without the flag, rows only */
	ask(f, 0, getpid(), 0, 0);
	assert_int_equal(read_answer(f, rows, 8, &end), 2);
}

#define T(name) cmocka_unit_test_setup_teardown(name, fixture_setup, fixture_teardown)

int main(void)
{
	const struct CMUnitTest tests[] = {
		T(test_rows_of_one_process_newest_first_with_ages),
		T(test_the_row_count_is_capped),
		T(test_unknown_pid_gets_no_rows),
		T(test_bad_device_is_answered_with_error_and_the_stream_stays_in_step),
		T(test_another_users_process_is_refused),
		T(test_a_known_stack_follows_its_row_as_one_line),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
