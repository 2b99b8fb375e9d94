/*
 * test_history.c - the bounded memory history: ring wrap-around, process
 * series that start, stop and come back, eviction when every series is
 * taken, and the metrics label escaping that /metrics relies on.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <string.h>

#include "server/http/api.h"
#include "server/state/history.h"
#include "server/state/registry.h"

#define MiB (1024ull * 1024ull)

static void test_device_samples_wrap_around_the_ring(void **state)
{
	(void)state;
	struct registry r;
	struct history h;
	assert_int_equal(registry_init(&r, 2, 0), 0);
	assert_int_equal(history_init(&h, 4, 1000, 2, 8), 0);
	uint32_t p = registry_attach(&r, 4242, 1000);
	for (uint64_t n = 0; n < 10; n++) {
		assert_int_equal(registry_alloc(&r, p, 1, TTALLOC_DRAM, 0x1000 * (n + 1), MiB, n), REGISTRY_OK);
		history_sample(&h, &r, NULL, 1000 * n);
	}
	assert_int_equal(history_count(&h), 4);
	assert_int_equal(history_oldest(&h), 6);
	for (uint64_t n = 6; n < 10; n++) {
		assert_int_equal(history_time(&h, n), 1000 * n);
		assert_int_equal(history_device_point(&h, n, 1)->used[HISTORY_DRAM], (n + 1) * MiB);
		assert_int_equal(history_device_point(&h, n, 0)->used[HISTORY_DRAM], 0);
	}
	history_release(&h);
	registry_release(&r);
}

static const struct history_series *series_of(const struct history *h, pid_t pid, int device)
{
	for (uint32_t i = 0; i < h->max_series; i++)
		if (h->series[i].in_use && h->series[i].pid == pid && h->series[i].device == device)
			return &h->series[i];
	return NULL;
}

static void test_a_process_series_ends_with_a_zero_and_has_no_values_outside_its_life(void **state)
{
	(void)state;
	struct registry r;
	struct history h;
	assert_int_equal(registry_init(&r, 1, 0), 0);
	assert_int_equal(history_init(&h, 16, 1000, 1, 4), 0);
	uint32_t p = registry_attach(&r, 77, 0);
	history_sample(&h, &r, NULL, 0); /* 0: nothing yet */
	registry_alloc(&r, p, 0, TTALLOC_L1, 0x10, 3 * MiB, 0);
	history_sample(&h, &r, NULL, 1); /* 1: 3 MiB */
	history_sample(&h, &r, NULL, 2); /* 2: 3 MiB */
	struct live_buffer freed;
	pid_t owner;
	assert_int_equal(registry_free(&r, p, 0, 0x10, &freed, &owner), REGISTRY_OK);
	history_sample(&h, &r, NULL, 3); /* 3: the trailing zero */
	history_sample(&h, &r, NULL, 4); /* 4: no value */
	const struct history_series *s = series_of(&h, 77, 0);
	assert_non_null(s);
	assert_null(history_series_point(&h, s, 0));
	assert_int_equal(history_series_point(&h, s, 1)->used[HISTORY_L1], 3 * MiB);
	assert_int_equal(history_series_point(&h, s, 2)->used[HISTORY_L1], 3 * MiB);
	assert_int_equal(history_series_point(&h, s, 3)->used[HISTORY_L1], 0);
	assert_null(history_series_point(&h, s, 4));
	/* back again: the gap reads as zero, not as stale ring contents */
	registry_alloc(&r, p, 0, TTALLOC_L1, 0x20, MiB, 0);
	history_sample(&h, &r, NULL, 5);
	assert_int_equal(history_series_point(&h, s, 4)->used[HISTORY_L1], 0);
	assert_int_equal(history_series_point(&h, s, 5)->used[HISTORY_L1], MiB);
	history_release(&h);
	registry_release(&r);
}

static void test_series_are_bounded_and_gone_processes_are_evicted_first(void **state)
{
	(void)state;
	struct registry r;
	struct history h;
	assert_int_equal(registry_init(&r, 1, 0), 0);
	assert_int_equal(history_init(&h, 8, 1000, 1, 2), 0);
	uint32_t a = registry_attach(&r, 1, 0), b = registry_attach(&r, 2, 0), c = registry_attach(&r, 3, 0);
	registry_alloc(&r, a, 0, TTALLOC_DRAM, 0x1, MiB, 0);
	registry_alloc(&r, b, 0, TTALLOC_DRAM, 0x1, MiB, 0);
	registry_alloc(&r, c, 0, TTALLOC_DRAM, 0x1, MiB, 0);
	history_sample(&h, &r, NULL, 0);
	assert_int_equal(h.untracked, 1); /* two series, three processes */
	registry_drop_process(&r, a);
	history_sample(&h, &r, NULL, 1); /* a's series ends */
	history_sample(&h, &r, NULL, 2); /* c takes a's series */
	assert_null(series_of(&h, 1, 0));
	assert_non_null(series_of(&h, 2, 0));
	assert_non_null(series_of(&h, 3, 0));
	history_release(&h);
	registry_release(&r);
}

static void test_readings_are_kept_per_device_and_missing_ones_stay_missing(void **state)
{
	(void)state;
	struct registry r;
	struct history h;
	assert_int_equal(registry_init(&r, 2, 0), 0);
	assert_int_equal(history_init(&h, 3, 1000, 2, 1), 0);
	/* device 0 reads both; device 1 only its power */
	for (uint64_t n = 0; n < 5; n++) {
		struct history_reading rd[2] = {{(int32_t)(40000 + n), (uint32_t)(90000 + n)},
						{HISTORY_NO_TEMPERATURE, (uint32_t)n}};
		history_sample(&h, &r, n == 3 ? NULL : rd, 1000 * n);
	}
	/* samples 2..4 are readable; sample 3 was taken without readings */
	assert_int_equal(history_oldest(&h), 2);
	assert_int_equal(history_device_reading(&h, 2, 0)->temperature_mc, 40002);
	assert_int_equal(history_device_reading(&h, 2, 0)->power_mw, 90002);
	assert_int_equal(history_device_reading(&h, 2, 1)->temperature_mc, HISTORY_NO_TEMPERATURE);
	assert_int_equal(history_device_reading(&h, 2, 1)->power_mw, 2);
	for (int d = 0; d < 2; d++) {
		/* the slot held sample 0's readings: a sample without readings overwrites them */
		assert_int_equal(history_device_reading(&h, 3, d)->temperature_mc, HISTORY_NO_TEMPERATURE);
		assert_int_equal(history_device_reading(&h, 3, d)->power_mw, HISTORY_NO_POWER);
	}
	assert_int_equal(history_device_reading(&h, 4, 0)->temperature_mc, 40004);
	assert_int_equal(history_device_reading(&h, 4, 1)->power_mw, 4);
	history_release(&h);
	registry_release(&r);
}

static void test_metrics_label_values_are_escaped(void **state)
{
	(void)state;
	char out[64];
	assert_int_equal(metrics_escape_label(out, sizeof(out), "plain"), 5);
	assert_string_equal(out, "plain");
	metrics_escape_label(out, sizeof(out), "a\"b\\c\nd");
	assert_string_equal(out, "a\\\"b\\\\c\\nd");
	/* cut, but always terminated */
	char small[4];
	assert_int_equal(metrics_escape_label(small, sizeof(small), "\"\"\""), 6);
	assert_int_equal(strlen(small), 3);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_device_samples_wrap_around_the_ring),
		cmocka_unit_test(test_a_process_series_ends_with_a_zero_and_has_no_values_outside_its_life),
		cmocka_unit_test(test_series_are_bounded_and_gone_processes_are_evicted_first),
		cmocka_unit_test(test_readings_are_kept_per_device_and_missing_ones_stay_missing),
		cmocka_unit_test(test_metrics_label_values_are_escaped),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
