/*
 * test_leaks.c - leak reports built from the registry (leaks.h): counts,
 * bytes, per-device sums, entries oldest first, the cap on kept entries,
 * the printed report, and the bounded history ring.
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

#include "../support/registry_fixture.h"
#include "../support/text_assert.h"
#include "common/log.h"
#include "server/state/leaks.h"
#include "server/state/registry.h"

#define PID_A 5000011
#define PID_B 5000012

static void test_report_counts_bytes_and_device_sums(void **state)
{
	struct registry *r = *state;
	uint32_t a = registry_attach(r, PID_A, 1234);
	uint32_t b = registry_attach(r, PID_B, 0);
	/* allocated at t = 100, 200, ... ns; the report is built at t = 10000 */
	ALLOC_OK(r, a, 0, TTALLOC_DRAM, 0x1000, 1000, 100);
	ALLOC_OK(r, a, 1, TTALLOC_L1, 0x2000, 20, 200);
	ALLOC_OK(r, a, 0, TTALLOC_TRACE, 0x3000, 300, 300);
	ALLOC_OK(r, a, 3, TTALLOC_CB, 0x4000, 4, 400);
	ALLOC_OK(r, a, 1, TTALLOC_DRAM, 0x5000, 50000, 500);
	ALLOC_OK(r, b, 0, TTALLOC_DRAM, 0x1000, 7, 50); /* not a's */
	struct live_buffer freed;
	pid_t owner;
	assert_int_equal(registry_free(r, a, 3, 0x4000, &freed, &owner), REGISTRY_OK);

	struct leak_report rep;
	assert_int_equal(leak_report_build(&rep, r, a, 10000), 0);
	assert_int_equal(rep.pid, PID_A);
	assert_int_equal(rep.uid, 1234);
	assert_string_equal(rep.comm, "?");
	assert_int_equal(rep.buffers, 4);
	assert_int_equal(rep.bytes, 1000 + 20 + 300 + 50000);
	assert_int_equal(rep.device_bytes[0], 1300);
	assert_int_equal(rep.device_buffers[0], 2);
	assert_int_equal(rep.device_bytes[1], 50020);
	assert_int_equal(rep.device_buffers[1], 2);
	assert_int_equal(rep.device_bytes[2], 0);
	assert_int_equal(rep.device_bytes[3], 0);
	assert_int_equal(rep.device_buffers[3], 0);
	assert_true(rep.exit_ns > 0);
	/* entries oldest first, with ages at the time of the report */
	assert_int_equal(rep.kept, 4);
	static const struct {
		uint64_t address, size, age;
		int device;
		unsigned type;
	} want[] = {
		{0x1000, 1000, 9900, 0, TTALLOC_DRAM},
		{0x2000, 20, 9800, 1, TTALLOC_L1},
		{0x3000, 300, 9700, 0, TTALLOC_TRACE},
		{0x5000, 50000, 9500, 1, TTALLOC_DRAM},
	};
	for (int i = 0; i < 4; i++) {
		assert_int_equal(rep.entries[i].address, want[i].address);
		assert_int_equal(rep.entries[i].size, want[i].size);
		assert_int_equal(rep.entries[i].age_ns, want[i].age);
		assert_int_equal(rep.entries[i].device, want[i].device);
		assert_int_equal(rep.entries[i].type, want[i].type);
	}
	/* building a report changes nothing in the registry */
	assert_int_equal(registry_process(r, a)->live_buffers, 4);
	assert_int_equal(r->devices[0].used[TTALLOC_DRAM], 1007);
	leak_report_release(&rep);
	assert_null(rep.entries);
	assert_int_equal(rep.kept, 0);
}

static void test_report_of_a_clean_process_is_empty(void **state)
{
	struct registry *r = *state;
	uint32_t a = registry_attach(r, PID_A, 0);
	struct leak_report rep;
	assert_int_equal(leak_report_build(&rep, r, a, 1), 0);
	assert_int_equal(rep.buffers, 0);
	assert_int_equal(rep.bytes, 0);
	assert_int_equal(rep.kept, 0);
	assert_null(rep.entries);
	leak_report_release(&rep);
}

static void test_age_never_goes_negative(void **state)
{
	struct registry *r = *state;
	uint32_t a = registry_attach(r, PID_A, 0);
	ALLOC_OK(r, a, 0, TTALLOC_DRAM, 0x1000, 1, 5000);
	struct leak_report rep;
	assert_int_equal(leak_report_build(&rep, r, a, 4000), 0); /* clock before the alloc */
	assert_int_equal(rep.entries[0].age_ns, 0);
	leak_report_release(&rep);
}

static void test_report_keeps_the_newest_entries_and_counts_them_all(void **state)
{
	struct registry *r = *state;
	uint32_t a = registry_attach(r, PID_A, 0);
	const uint64_t extra = 5, n = LEAK_KEEP_BUFFERS + extra;
	for (uint64_t i = 0; i < n; i++)
		ALLOC_OK(r, a, (int)(i % 2), TTALLOC_DRAM, i << 8, 2, i);
	struct leak_report rep;
	assert_int_equal(leak_report_build(&rep, r, a, n), 0);
	assert_int_equal(rep.buffers, n);
	assert_int_equal(rep.bytes, 2 * n);
	assert_int_equal(rep.device_buffers[0] + rep.device_buffers[1], n);
	assert_int_equal(rep.device_bytes[0] + rep.device_bytes[1], 2 * n);
	assert_int_equal(rep.kept, LEAK_KEEP_BUFFERS);
	/* the oldest `extra` are counted but not kept; the rest oldest first */
	assert_int_equal(rep.entries[0].address, extra << 8);
	assert_int_equal(rep.entries[rep.kept - 1].address, (n - 1) << 8);
	for (uint32_t i = 1; i < rep.kept; i++)
		assert_true(rep.entries[i].age_ns < rep.entries[i - 1].age_ns);
	leak_report_release(&rep);
}

/* Runs leak_report_print with stdout captured into `out`. */
static void print_captured(const struct leak_report *rep, uint32_t max_lines, char *out, size_t out_len)
{
	fflush(stdout);
	FILE *tmp = tmpfile();
	assert_non_null(tmp);
	int saved = dup(STDOUT_FILENO);
	assert_true(saved >= 0);
	assert_true(dup2(fileno(tmp), STDOUT_FILENO) >= 0);
	leak_report_print(rep, max_lines);
	log_flush();
	assert_true(dup2(saved, STDOUT_FILENO) >= 0);
	close(saved);
	rewind(tmp);
	size_t n = fread(out, 1, out_len - 1, tmp);
	out[n] = '\0';
	fclose(tmp);
}

static void test_printed_report_follows_the_seed_format(void **state)
{
	struct registry *r = *state;
	uint32_t a = registry_attach(r, PID_A, 0);
	ALLOC_OK(r, a, 0, TTALLOC_DRAM, 0xa000, 4096, 0);
	ALLOC_OK(r, a, 1, TTALLOC_L1_SMALL, 0xb000, 100, 0);
	ALLOC_OK(r, a, 1, TTALLOC_L1, 0xc000, 28, 0);
	struct leak_report rep;
	assert_int_equal(leak_report_build(&rep, r, a, 3000000000ull), 0);
	enum log_level level = log_get_level();
	log_set_level(LOG_INFO);
	char out[4096];
	print_captured(&rep, 2, out, sizeof(out));
	log_set_level(level);
	char line[128];
	snprintf(line, sizeof(line), "Process %d exited but left 3 buffers allocated:", PID_A);
	assert_contains(out, line);
	assert_contains(out, "[Device 0] Buffer 0xa000: 4096 bytes DRAM (age: 3s)");
	assert_contains(out, "[Device 1] Buffer 0xb000: 100 bytes L1_SMALL (age: 3s)");
	assert_lacks(out, "0xc000"); /* past max_lines */
	assert_contains(out, "... and 1 more buffers (28 bytes)");
	leak_report_release(&rep);
}

/* A report with one buffer of `bytes` on `device`, as if built for `pid`. */
static struct leak_report fake_report(pid_t pid, int device, uint64_t bytes)
{
	struct leak_report rep;
	memset(&rep, 0, sizeof(rep));
	rep.pid = pid;
	rep.buffers = 1;
	rep.bytes = bytes;
	rep.device_bytes[device] = bytes;
	rep.device_buffers[device] = 1;
	rep.entries = calloc(1, sizeof(*rep.entries));
	assert_non_null(rep.entries);
	rep.entries[0].size = bytes;
	rep.entries[0].device = device;
	rep.kept = 1;
	return rep;
}

static void test_history_ring_keeps_the_newest_and_every_total(void **state)
{
	(void)state;
	struct leak_history h;
	assert_int_equal(leak_history_init(&h, 3), 0);
	assert_int_equal(h.count, 0);
	for (int i = 0; i < 7; i++) {
		struct leak_report rep = fake_report(100 + i, i % 2, (uint64_t)(i + 1) * 10);
		leak_history_add(&h, &rep);
		assert_null(rep.entries); /* ownership moved to the history */
		assert_int_equal(h.count, i + 1 < 3 ? i + 1 : 3);
		/* oldest first: the newest min(i+1, 3) reports */
		uint32_t first = i + 1 <= 3 ? 0 : (uint32_t)(i + 1 - 3);
		for (uint32_t k = 0; k < h.count; k++)
			assert_int_equal(leak_history_get(&h, k)->pid, 100 + (int)(first + k));
	}
	assert_int_equal(h.reports_total, 7);
	/* device 0 got reports 0, 2, 4, 6 (10+30+50+70); device 1 got 20+40+60 */
	assert_int_equal(h.leaked_bytes[0], 160);
	assert_int_equal(h.leaked_buffers[0], 4);
	assert_int_equal(h.leaked_bytes[1], 120);
	assert_int_equal(h.leaked_buffers[1], 3);
	assert_int_equal(leak_history_get(&h, 2)->entries[0].size, 70);
	leak_history_release(&h);
	assert_null(h.reports);
	/* a zero capacity still keeps the last report */
	assert_int_equal(leak_history_init(&h, 0), 0);
	struct leak_report rep = fake_report(1, 0, 1);
	leak_history_add(&h, &rep);
	rep = fake_report(2, 0, 1);
	leak_history_add(&h, &rep);
	assert_int_equal(h.count, 1);
	assert_int_equal(leak_history_get(&h, 0)->pid, 2);
	leak_history_release(&h);
}

static void test_kept_reports_are_found_by_id_until_they_age_out(void **state)
{
	(void)state;
	struct leak_history h;
	assert_int_equal(leak_history_init(&h, 3), 0);
	assert_null(leak_history_find(&h, 0));
	assert_null(leak_history_find(&h, 1));
	for (int i = 0; i < 5; i++) {
		struct leak_report rep = fake_report(100 + i, 0, 10);
		leak_history_add(&h, &rep);
	}
	/* ids 1..5 were given; 3..5 are kept */
	for (uint64_t id = 0; id <= 6; id++) {
		const struct leak_report *rep = leak_history_find(&h, id);
		if (id < 3 || id > 5) {
			assert_null(rep);
			continue;
		}
		assert_non_null(rep);
		assert_int_equal(rep->id, id);
		assert_int_equal(rep->pid, 100 + (int)id - 1);
	}
	leak_history_release(&h);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		REGISTRY_TEST(test_report_counts_bytes_and_device_sums),
		REGISTRY_TEST(test_report_of_a_clean_process_is_empty),
		REGISTRY_TEST(test_age_never_goes_negative),
		REGISTRY_TEST(test_report_keeps_the_newest_entries_and_counts_them_all),
		REGISTRY_TEST(test_printed_report_follows_the_seed_format),
		cmocka_unit_test(test_history_ring_keeps_the_newest_and_every_total),
		cmocka_unit_test(test_kept_reports_are_found_by_id_until_they_age_out),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
