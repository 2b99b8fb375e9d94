/*
 * test_format.c - byte counts and percentages as every component prints
 * them (format.h): the server log's compact form, the seed Python client's
 * format_bytes(), and integer percentages.
 */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <string.h>

#include "format.h"

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

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_compact),
		cmocka_unit_test(test_seed),
		cmocka_unit_test(test_small_buffers_are_truncated_not_overrun),
		cmocka_unit_test(test_percent),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
