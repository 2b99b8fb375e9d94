/*
 * test_smi_sparkline.c - tt_smi --history: the block characters of a
 * sparkline (levels, blanks for missing data, scale), the span text, and
 * the history box drawn from hand-made snapshots.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "smi/smi.h"

#define MiB (1024ull * 1024ull)
#define GiB (1024ull * MiB)
#define SEED_TIME ((time_t)1762179825)

static const char *const blocks[] = {"▁", "▂", "▃", "▄", "▅", "▆", "▇", "█"};

/* The sparkline of `count` values as a string (static buffer). */
static const char *spark(const uint64_t *values, const unsigned char *valid, int count, uint64_t max)
{
	static char text[1024];
	struct strbuf b = STRBUF_INIT;
	assert_int_equal(smi_sparkline(&b, values, valid, count, max), count);
	assert_false(b.failed);
	snprintf(text, sizeof(text), "%s", strbuf_str(&b));
	strbuf_release(&b);
	return text;
}

static void test_zero_is_the_lowest_block_and_the_maximum_the_full_one(void **state)
{
	(void)state;
	uint64_t v[] = {0, 100};
	assert_string_equal(spark(v, NULL, 2, 0), "▁█");
	assert_int_equal(smi_spark_level(0, 100), 0);
	assert_int_equal(smi_spark_level(100, 100), SMI_SPARK_LEVELS - 1);
	assert_int_equal(smi_spark_level(250, 100), SMI_SPARK_LEVELS - 1); /* above the scale: full */
}

static void test_levels_rise_evenly_with_the_value(void **state)
{
	(void)state;
	/* 7 non-zero levels share (0, 700]: k*100 is level k */
	uint64_t v[8];
	for (int i = 0; i < 8; i++)
		v[i] = (uint64_t)i * 100;
	assert_string_equal(spark(v, NULL, 8, 700), "▁▂▃▄▅▆▇█");
	for (int i = 1; i < 8; i++) {
		assert_int_equal(smi_spark_level(v[i], 700), i);
		assert_int_equal(smi_spark_level(v[i] - 1, 700), i); /* rounded up into the level */
	}
}

static void test_any_non_zero_use_shows_above_zero(void **state)
{
	(void)state;
	/* one byte against 12 GiB is still not "nothing" */
	assert_int_equal(smi_spark_level(1, 12 * GiB), 1);
	uint64_t v[] = {0, 1, 12 * GiB};
	assert_string_equal(spark(v, NULL, 3, 0), "▁▂█");
}

static void test_missing_buckets_are_blank(void **state)
{
	(void)state;
	uint64_t v[] = {0, 0, 50, 100};
	unsigned char valid[] = {0, 1, 1, 1};
	assert_string_equal(spark(v, valid, 4, 0), " ▁▅█"); /* half: 3.5 of 7 levels, rounded up */
	/* a bucket without data does not set the scale */
	uint64_t w[] = {1000, 10, 20};
	unsigned char some[] = {0, 1, 1};
	assert_string_equal(spark(w, some, 3, 0), " ▅█");
}

static void test_all_zero_or_empty_series(void **state)
{
	(void)state;
	uint64_t v[] = {0, 0, 0};
	assert_string_equal(spark(v, NULL, 3, 0), "▁▁▁");
	assert_string_equal(spark(v, NULL, 0, 0), "");
	unsigned char none[] = {0, 0, 0};
	assert_string_equal(spark(v, none, 3, 0), "   ");
}

static void test_huge_values_do_not_overflow(void **state)
{
	(void)state;
	uint64_t v[] = {UINT64_MAX / 2, UINT64_MAX};
	assert_string_equal(spark(v, NULL, 2, 0), "▅█");
}

static void test_each_block_is_one_column(void **state)
{
	(void)state;
	uint64_t v[40];
	for (int i = 0; i < 40; i++)
		v[i] = (uint64_t)i;
	assert_int_equal(smi_text_width(spark(v, NULL, 40, 0)), 40);
	for (int i = 0; i < SMI_SPARK_LEVELS; i++)
		assert_int_equal(smi_text_width(blocks[i]), 1);
}

static void test_span_text(void **state)
{
	(void)state;
	char buf[32];
	assert_string_equal(smi_format_span(buf, sizeof(buf), 300), "5m");
	assert_string_equal(smi_format_span(buf, sizeof(buf), 45), "45s");
	assert_string_equal(smi_format_span(buf, sizeof(buf), 3600), "1h");
	assert_string_equal(smi_format_span(buf, sizeof(buf), 5430), "1h30m30s");
	assert_string_equal(smi_format_span(buf, sizeof(buf), 0), "0s");
}

/* ---- the history box ---- */

static struct snapshot_device devices[2];
static struct snapshot snap;
static struct history_snapshot hist;
static struct strbuf screen = STRBUF_INIT;

/* Two Wormhole_B0; device 0 climbs to 6 GiB DRAM and falls back to 1 GiB. */
static void make_history(int points)
{
	memset(devices, 0, sizeof(devices));
	memset(&snap, 0, sizeof(snap));
	for (int d = 0; d < 2; d++) {
		devices[d].index = d;
		devices[d].seed.total_dram_size = 12 * GiB;
		devices[d].seed.total_l1_size = 1440 * MiB;
		snprintf(devices[d].status.name, sizeof(devices[d].status.name), "Wormhole_B0");
	}
	devices[0].seed.dram_allocated = 1 * GiB;
	devices[1].seed.l1_allocated = 150 * MiB;
	snap.devices = devices;
	snap.num_devices = 2;
	history_snapshot_release(&hist);
	hist.num_devices = 2;
	hist.points = (uint32_t)points;
	hist.seconds = 7 * (uint32_t)points;
	hist.step_ms = 7000;
	hist.interval_ms = 1000;
	hist.buckets = calloc((size_t)points * 2, sizeof(*hist.buckets));
	assert_non_null(hist.buckets);
	for (int i = 0; i < points; i++) {
		struct history_snapshot_bucket *b0 = &hist.buckets[i], *b1 = &hist.buckets[points + i];
		b0->valid = b1->valid = i >= 2; /* the server started two buckets in */
		uint64_t climb = i < points / 2 ? (uint64_t)i : (uint64_t)(points - i);
		b0->used[SMI_USED_DRAM] = climb * 6 * GiB / (uint64_t)(points / 2);
		b0->used[SMI_USED_TRACE] = 0;
		b1->used[SMI_USED_L1] = 150 * MiB;
	}
	hist.buckets[points - 1].used[SMI_USED_DRAM] = 1 * GiB;
}

static const char *render(int columns)
{
	struct smi_history_view view = {
		.snap = &snap,
		.hist = &hist,
		.now = SEED_TIME,
		.columns = columns,
		.mode = SMI_MODE_ONE_SHOT,
	};
	strbuf_reset(&screen);
	assert_int_equal(smi_render_history(&screen, &view), 0);
	return strbuf_str(&screen);
}

/* Every line of the box has the box's display width. */
static void assert_box_width(const char *text, int columns)
{
	int lines = 0;
	for (const char *line = text, *end; (end = strchr(line, '\n')) != NULL; line = end + 1) {
		char buf[4096];
		snprintf(buf, sizeof(buf), "%.*s", (int)(end - line), line);
		if (strncmp(buf, "┌", 3) && strncmp(buf, "│", 3) && strncmp(buf, "├", 3) && strncmp(buf, "└", 3))
			break; /* the box ends; the status line follows */
		assert_int_equal(smi_text_width(buf), columns);
		lines++;
	}
	assert_true(lines >= 8);
}

static int teardown(void **state)
{
	(void)state;
	strbuf_release(&screen);
	history_snapshot_release(&hist);
	return 0;
}

static int setup(void **state)
{
	(void)state;
	setenv("TZ", "UTC", 1);
	tzset();
	return 0;
}

static void test_history_box_has_a_row_per_device_and_memory(void **state)
{
	(void)state;
	make_history(smi_history_points(SMI_DEFAULT_COLUMNS));
	const char *out = render(SMI_DEFAULT_COLUMNS);
	assert_box_width(out, SMI_DEFAULT_COLUMNS);
	assert_non_null(strstr(out, "tt-smi v1.0 - memory history"));
	assert_non_null(strstr(out, "Mon Nov  3 14:23:45"));
	assert_non_null(strstr(out, "History: last 5m36s, 7s per column, █ = peak")); /* 48 columns of 7 s */
	assert_non_null(strstr(out, "│ 0    DRAM   1.0GB    6.0GB    "));
	assert_non_null(strstr(out, "│      L1     0MB      0MB      "));
	assert_non_null(strstr(out, "│ 1    DRAM   0MB      0MB      "));
	assert_non_null(strstr(out, "│      L1     150MB    150MB    "));
	assert_non_null(strstr(out, "Server Status: ✅ Connected | Updates: One-shot"));
}

static void test_history_sparkline_is_right_aligned_and_blank_before_the_start(void **state)
{
	(void)state;
	int points = smi_history_points(SMI_DEFAULT_COLUMNS);
	make_history(points);
	const char *out = render(SMI_DEFAULT_COLUMNS);
	/* device 1's L1 is flat at its peak: full blocks after two blank buckets */
	struct strbuf want = STRBUF_INIT;
	strbuf_addstr(&want, "150MB    ");
	strbuf_repeat(&want, " ", 2);
	strbuf_repeat(&want, "█", points - 2);
	strbuf_addstr(&want, " │\n");
	assert_non_null(strstr(out, strbuf_str(&want)));
	strbuf_release(&want);
	/* device 0's DRAM climbs to the top and ends low ("now" is the right edge) */
	const char *row = strstr(out, "│ 0    DRAM");
	assert_non_null(row);
	const char *end = strchr(row, '\n');
	char line[1024];
	snprintf(line, sizeof(line), "%.*s", (int)(end - row), row);
	assert_non_null(strstr(line, "6.0GB      ▂")); /* two blank buckets, then 0.5 GiB of 6 */
	assert_non_null(strstr(line, "██"));
	assert_non_null(strstr(line, "▃ │")); /* now: 1 GiB of 6 */
}

static void test_fewer_buckets_than_columns_leave_the_old_side_blank(void **state)
{
	(void)state;
	make_history(10);
	const char *out = render(SMI_DEFAULT_COLUMNS);
	assert_box_width(out, SMI_DEFAULT_COLUMNS);
	struct strbuf want = STRBUF_INIT;
	strbuf_addstr(&want, "150MB    ");
	strbuf_repeat(&want, " ", smi_history_points(SMI_DEFAULT_COLUMNS) - 10 + 2);
	strbuf_repeat(&want, "█", 8);
	strbuf_addstr(&want, " │");
	assert_non_null(strstr(out, strbuf_str(&want)));
	strbuf_release(&want);
}

static void test_more_buckets_than_columns_keep_the_newest(void **state)
{
	(void)state;
	make_history(200);
	const char *out = render(SMI_MIN_COLUMNS);
	assert_box_width(out, SMI_MIN_COLUMNS);
	/* the newest 34 buckets: their peak is bucket 166's 34 * 6 GiB / 100 */
	uint64_t peak = 34 * 6 * GiB / 100;
	assert_non_null(strstr(out, "│ 0    DRAM   1.0GB    2.0GB    "));
	char tail[64];
	snprintf(tail, sizeof(tail), "%s │\n│      L1", blocks[smi_spark_level(1 * GiB, peak)]);
	assert_non_null(strstr(out, tail));
}

static void test_history_box_at_every_width(void **state)
{
	(void)state;
	for (int columns = SMI_MIN_COLUMNS; columns <= 200; columns += 11) {
		make_history(smi_history_points(columns));
		assert_box_width(render(columns), columns);
	}
}

static void test_history_without_a_server_says_why(void **state)
{
	(void)state;
	struct smi_history_view view = {
		.error = "cannot reach the allocation server at /tmp/x.sock (connection refused)",
		.now = SEED_TIME,
		.columns = SMI_DEFAULT_COLUMNS,
		.mode = SMI_MODE_WATCH,
	};
	strbuf_reset(&screen);
	assert_int_equal(smi_render_history(&screen, &view), 0);
	const char *out = strbuf_str(&screen);
	assert_non_null(strstr(out, "connection refused"));
	assert_non_null(strstr(out, "Server Status: ❌ Disconnected | Updates: Real-time"));
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_zero_is_the_lowest_block_and_the_maximum_the_full_one),
		cmocka_unit_test(test_levels_rise_evenly_with_the_value),
		cmocka_unit_test(test_any_non_zero_use_shows_above_zero),
		cmocka_unit_test(test_missing_buckets_are_blank),
		cmocka_unit_test(test_all_zero_or_empty_series),
		cmocka_unit_test(test_huge_values_do_not_overflow),
		cmocka_unit_test(test_each_block_is_one_column),
		cmocka_unit_test(test_span_text),
		cmocka_unit_test(test_history_box_has_a_row_per_device_and_memory),
		cmocka_unit_test(test_history_sparkline_is_right_aligned_and_blank_before_the_start),
		cmocka_unit_test(test_fewer_buckets_than_columns_leave_the_old_side_blank),
		cmocka_unit_test(test_more_buckets_than_columns_keep_the_newest),
		cmocka_unit_test(test_history_box_at_every_width),
		cmocka_unit_test(test_history_without_a_server_says_why),
	};
	return cmocka_run_group_tests(tests, setup, teardown);
}
