/*
 * device.c - backend table and device set (see device.h).
 */
#include "device.h"

#include <stdio.h>
#include <string.h>

/*
 * Every backend, in the order "auto" tries them. Hardware backends go before
 * the simulation, which is the fallback when none finds a device.
 */
static const struct device_backend *const backends[] = {
	&device_backend_sim,
};
enum { BACKEND_COUNT = sizeof(backends) / sizeof(backends[0]) };

struct device *device_set_add(struct device_set *set, const struct device_backend *backend)
{
	if (set->count >= PROTO_MAX_DEVICES)
		return NULL;
	struct device *dev = &set->devices[set->count];
	memset(dev, 0, sizeof(*dev));
	dev->backend = backend;
	dev->index = set->count++;
	set->backend_name = backend->name;
	return dev;
}

struct device *device_set_get(struct device_set *set, int index)
{
	if (index < 0 || index >= set->count)
		return NULL;
	return &set->devices[index];
}

void device_refresh(struct device *dev, const struct device_load *load)
{
	dev->now.valid = 0;
	dev->backend->refresh(dev, load);
}

static const struct device_backend *backend_named(const char *name, size_t len)
{
	for (int i = 0; i < BACKEND_COUNT; i++)
		if (strlen(backends[i]->name) == len && strncmp(backends[i]->name, name, len) == 0)
			return backends[i];
	return NULL;
}

static int open_auto(struct device_set *set, char *err)
{
	for (int i = 0; i < BACKEND_COUNT; i++) {
		if (backends[i] == &device_backend_sim)
			continue;
		int found = backends[i]->probe(set, NULL, err);
		if (found > 0)
			return 0;
	}
	return device_backend_sim.probe(set, NULL, err) > 0 ? 0 : -1;
}

int device_set_open(struct device_set *set, const char *selection, char *err)
{
	memset(set, 0, sizeof(*set));
	if (!selection || strcmp(selection, "auto") == 0)
		return open_auto(set, err);
	const char *colon = strchr(selection, ':');
	size_t name_len = colon ? (size_t)(colon - selection) : strlen(selection);
	const struct device_backend *backend = backend_named(selection, name_len);
	if (!backend) {
		snprintf(err, DEVICE_ERR_LEN, "unknown device backend '%.*s' (choose auto, sim[:N[:ARCH]])",
			 (int)name_len, selection);
		return -1;
	}
	int found = backend->probe(set, colon ? colon + 1 : NULL, err);
	if (found < 0)
		return -1;
	if (found == 0) {
		snprintf(err, DEVICE_ERR_LEN, "backend '%s' found no devices", backend->name);
		return -1;
	}
	return 0;
}

void device_set_close(struct device_set *set)
{
	for (int i = 0; i < set->count; i++)
		if (set->devices[i].backend->release)
			set->devices[i].backend->release(&set->devices[i]);
	set->count = 0;
}
