/*
 * registry_fixture.h - cmocka setup/teardown giving each test a fresh,
 * empty registry of 4 devices in *state (shared by the unit tests that
 * drive the registry directly).
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

#endif /* TTALLOC_TEST_REGISTRY_FIXTURE_H */
