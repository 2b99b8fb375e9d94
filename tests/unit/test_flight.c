/*
 * test_flight.c - the per-process flight recorder (state/flight.h) and the
 * stack pool (state/stack_pool.h): a ring that keeps the newest events and
 * tells a freed address from one never allocated; stack texts kept once.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <stdlib.h>

#include "server/state/flight.h"
#include "server/state/stack_pool.h"

static void test_the_ring_keeps_the_newest_events(void **state)
{
	(void)state;
	struct flight_ring *ring = NULL;
	assert_int_equal(flight_count(ring), 0);
	for (uint64_t i = 0; i < FLIGHT_EVENTS + 5; i++) {
		struct flight_event ev = {.address = i, .size = i, .kind = FLIGHT_ALLOC};
		flight_note(&ring, &ev);
	}
	assert_non_null(ring);
	assert_int_equal(flight_count(ring), FLIGHT_EVENTS);
	assert_int_equal(flight_newest(ring, 0)->address, FLIGHT_EVENTS + 4);
	assert_int_equal(flight_newest(ring, FLIGHT_EVENTS - 1)->address, 5);
	free(ring);
}

static void test_the_last_touch_of_an_address_tells_a_double_free(void **state)
{
	(void)state;
	struct flight_ring *ring = NULL;
	struct flight_event alloc = {.address = 0x1000, .device = 1, .kind = FLIGHT_ALLOC};
	struct flight_event free_ev = {.address = 0x1000, .device = 1, .kind = FLIGHT_FREE};
	struct flight_event failed = {.address = 0x1000, .device = 1, .kind = FLIGHT_ALLOC_FAILED};
	flight_note(&ring, &alloc);
	assert_int_equal(flight_last_touch(ring, 1, 0x1000)->kind, FLIGHT_ALLOC);
	flight_note(&ring, &free_ev);
	flight_note(&ring, &failed); /* not a touch of the address */
	assert_int_equal(flight_last_touch(ring, 1, 0x1000)->kind, FLIGHT_FREE);
	assert_null(flight_last_touch(ring, 0, 0x1000)); /* another device */
	assert_null(flight_last_touch(ring, 1, 0x2000));
	free(ring);
}

static void test_the_stack_pool_keeps_each_text_once(void **state)
{
	(void)state;
	struct stack_pool p;
	assert_int_equal(stack_pool_init(&p), 0);
	uint32_t a = stack_pool_intern(&p, "at f (a.c:1)\nat main (a.c:9)");
	uint32_t b = stack_pool_intern(&p, "at g (a.c:2)");
	assert_int_not_equal(a, STACK_POOL_NONE);
	assert_int_not_equal(a, b);
	assert_int_equal(stack_pool_intern(&p, "at f (a.c:1)\nat main (a.c:9)"), a);
	assert_string_equal(stack_pool_text(&p, b), "at g (a.c:2)");
	assert_int_equal(stack_pool_intern(&p, ""), STACK_POOL_NONE);
	assert_int_equal(stack_pool_intern(&p, NULL), STACK_POOL_NONE);
	assert_null(stack_pool_text(&p, STACK_POOL_NONE));
	assert_int_equal(p.count, 2);
	stack_pool_release(&p);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_the_ring_keeps_the_newest_events),
		cmocka_unit_test(test_the_last_touch_of_an_address_tells_a_double_free),
		cmocka_unit_test(test_the_stack_pool_keeps_each_text_once),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
