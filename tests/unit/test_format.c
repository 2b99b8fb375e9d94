/*
 * test_format.c - byte counts and percentages as every component prints
 * them (format.h): the server log's compact form, the seed Python client's
 * format_bytes(), and integer percentages; and the command-line number
 * parsers the tools share.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <string.h>

#include "common/format.h"

#define KiB 1024ull
#define MiB (1024ull * KiB)
#define GiB (1024ull * MiB)
#define TiB (1024ull * GiB)

static void expect_compact(uint64_t bytes, int decimals, const char *want)
{
	char buf[FORMAT_BYTES_LEN];
	memset(buf, 'x', sizeof(buf));
	assert_ptr_equal(format_bytes_compact(buf, sizeof(buf), bytes, decimals), buf);
	assert_string_equal(buf, want);
}

static void expect_seed(uint64_t bytes, const char *want)
{
	char buf[FORMAT_BYTES_LEN];
	assert_ptr_equal(format_bytes_seed(buf, sizeof(buf), bytes), buf);
	assert_string_equal(buf, want);
}

static void test_compact(void **state)
{
	(void)state;
	expect_compact(0, 1, "0B");
	expect_compact(1, 1, "1B");
	expect_compact(1023, 1, "1023B"); /* bytes never get decimals */
	expect_compact(1024, 1, "1.0KB");
	expect_compact(1536, 1, "1.5KB");
	expect_compact(3 * MiB + MiB / 2, 1, "3.5MB");
	expect_compact(MiB - 1, 1, "1024.0KB"); /* rounds within its unit */
	expect_compact(12 * GiB, 0, "12GB");
	expect_compact(1440 * MiB, 0, "1GB");
	expect_compact(1440 * MiB, 1, "1.4GB");
	expect_compact(1440 * MiB, 2, "1.41GB");
	expect_compact(GiB, 1, "1.0GB");
	expect_compact(3 * TiB, 1, "3.0TB");
	expect_compact(5000 * TiB, 0, "5000TB"); /* TB is the largest unit */
	expect_compact(UINT64_MAX, 0, "16777216TB");
}

static void test_seed(void **state)
{
	(void)state;
	expect_seed(0, "0 B");
	expect_seed(512, "512 B");
	expect_seed(KiB, "1.00 KB");
	expect_seed(3 * GiB + GiB / 4, "3.25 GB");
	expect_seed(450 * MiB, "450.00 MB");
	expect_seed(12 * GiB, "12.00 GB");
	expect_seed(TiB, "1.00 TB");
	expect_seed(2048 * TiB, "2048.00 TB");
}

static void test_small_buffers_are_truncated_not_overrun(void **state)
{
	(void)state;
	char buf[8];
	memset(buf, 'x', sizeof(buf));
	format_bytes_compact(buf, 4, 3 * MiB + MiB / 2, 1);
	assert_string_equal(buf, "3.5");
	assert_int_equal(buf[4], 'x');
	format_bytes_seed(buf, 5, 450 * MiB);
	assert_string_equal(buf, "450.");
}

static void test_percent(void **state)
{
	(void)state;
	assert_int_equal(format_percent(0, 0), 0);
	assert_int_equal(format_percent(5, 0), 0);
	assert_int_equal(format_percent(0, 100), 0);
	assert_int_equal(format_percent(1, 3), 33);
	assert_int_equal(format_percent(2, 3), 66); /* rounded down */
	assert_int_equal(format_percent(99, 100), 99);
	assert_int_equal(format_percent(100, 100), 100);
	assert_int_equal(format_percent(3 * GiB, 12 * GiB), 25);
	assert_int_equal(format_percent(UINT64_MAX, UINT64_MAX), 100);
	assert_int_equal(format_percent(UINT64_MAX / 2, UINT64_MAX), 49);
	assert_int_equal(format_percent(3, 2), 150); /* over-commit is shown as is */
}

static void test_parse_unsigned(void **state)
{
	(void)state;
	uint64_t v = 7;
	assert_int_equal(format_parse_unsigned("0", 10, 10, &v), 0);
	assert_int_equal(v, 0);
	assert_int_equal(format_parse_unsigned("4096", 10, 4096, &v), 0);
	assert_int_equal(v, 4096);
	assert_int_equal(format_parse_unsigned("0660", 8, 0777, &v), 0); /* --socket-mode */
	assert_int_equal(v, 0660);
	assert_int_equal(format_parse_unsigned("18446744073709551615", 10, UINT64_MAX, &v), 0);
	assert_int_equal(v, UINT64_MAX);
	v = 7;
	const char *bad[] = {"", "4097", "-1", "+1", " 1", "1 ", "1x", "0x10", "18446744073709551616", "0800"};
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++)
		assert_int_equal(format_parse_unsigned(bad[i], i == 9 ? 8 : 10, 4096, &v), -1);
	assert_int_equal(v, 7); /* untouched on failure */
}

static void test_parse_bytes(void **state)
{
	(void)state;
	static const struct {
		const char *text;
		uint64_t bytes;
	} good[] = {
		{"0", 0},           {"4096", 4096},    {"64K", 64 * KiB},
		{"64kb", 64 * KiB}, {"2MiB", 2 * MiB}, {"1g", GiB},
		{"3T", 3 * TiB},    {"5b", 5},         {"16777215T", 16777215ull * TiB},
	};
	for (size_t i = 0; i < sizeof(good) / sizeof(good[0]); i++) {
		uint64_t b = 1;
		assert_int_equal(format_parse_bytes(good[i].text, &b), 0);
		assert_int_equal(b, good[i].bytes);
	}
	const char *bad[] = {"", "K", "-1", "1.5M", "1 M", "1KK", "1P", "16777216T", "99999999999999999999"};
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		uint64_t b = 1;
		assert_int_equal(format_parse_bytes(bad[i], &b), -1);
	}
}

static void test_an_allocation_failure_reads_as_one_verdict(void **state)
{
	(void)state;
	char buf[256];
	assert_string_equal(format_bytes_spaced(buf, sizeof(buf), 2 * GiB), "2.0 GB");
	assert_string_equal(format_bytes_spaced(buf, sizeof(buf), 100), "100 B");
	assert_int_equal(format_oom_cause(2 * GiB, 12 * GiB, 6 * GiB, GiB, 1), FORMAT_OOM_FRAGMENTATION);
	assert_int_equal(format_oom_cause(7 * GiB, 12 * GiB, 6 * GiB, GiB, 1), FORMAT_OOM_OUT_OF_MEMORY);
	assert_int_equal(format_oom_cause(13 * GiB, 12 * GiB, 12 * GiB, 12 * GiB, 1), FORMAT_OOM_TOO_LARGE);
	assert_int_equal(format_oom_cause(GiB, 12 * GiB, 6 * GiB, GiB, 1), FORMAT_OOM_FITS_NOW);
	assert_int_equal(format_oom_cause(GiB, 0, 6 * GiB, 0, 0), FORMAT_OOM_UNKNOWN);
	format_oom_verdict(buf, sizeof(buf), 2 * GiB, 6 * GiB, GiB, 1, FORMAT_OOM_FRAGMENTATION);
	assert_string_equal(buf, "needs 2.0 GB, 6.0 GB free, largest free block 1.0 GB: fragmentation");
	format_oom_verdict(buf, sizeof(buf), 7 * GiB, 6 * GiB, 0, 0, FORMAT_OOM_OUT_OF_MEMORY);
	assert_string_equal(buf, "needs 7.0 GB, 6.0 GB free: not enough free memory");
	for (int c = 0; c < FORMAT_OOM_CAUSE_COUNT; c++)
		assert_int_equal(format_oom_cause_parse(format_oom_cause_label((enum format_oom_cause)c)), c);
	assert_int_equal(format_oom_cause_parse("nonsense"), FORMAT_OOM_UNKNOWN);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_compact),
		cmocka_unit_test(test_seed),
		cmocka_unit_test(test_small_buffers_are_truncated_not_overrun),
		cmocka_unit_test(test_percent),
		cmocka_unit_test(test_parse_unsigned),
		cmocka_unit_test(test_parse_bytes),
		cmocka_unit_test(test_an_allocation_failure_reads_as_one_verdict),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
