/*
 * registry_fixture.h - cmocka setup/teardown giving each test a fresh,
 * empty registry of 4 devices in *state (shared by the unit tests that
 * drive the registry directly), and the checks those tests repeat.
 * Include after <cmocka.h>.
 */
#ifndef TTALLOC_TEST_REGISTRY_FIXTURE_H
#define TTALLOC_TEST_REGISTRY_FIXTURE_H

#include <stdlib.h>

#include "server/state/registry.h"

#define REGISTRY_FIXTURE_DEVICES 4

static inline int setup(void **state)
{
	struct registry *r = malloc(sizeof(*r));
	if (!r || registry_init(r, REGISTRY_FIXTURE_DEVICES, 0) != 0) {
		free(r);
		return -1;
	}
	*state = r;
	return 0;
}

static inline int teardown(void **state)
{
	registry_release(*state);
	free(*state);
	return 0;
}

/* A test run with the fresh registry in *state. */
#define REGISTRY_TEST(test) cmocka_unit_test_setup_teardown(test, setup, teardown)

/* registry_alloc that must record a new buffer (REGISTRY_OK); a failure names the test's line. */
#define ALLOC_OK(r, proc, device, type, address, size, at_ns) \
	assert_int_equal(registry_alloc((r), (proc), (device), (type), (address), (size), (at_ns)), REGISTRY_OK)

#endif /* TTALLOC_TEST_REGISTRY_FIXTURE_H */
