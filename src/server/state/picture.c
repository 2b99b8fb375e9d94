/*
 * picture.c - a device's totals, capacities and readings (picture.h).
 */
#include "server/state/picture.h"

#include <stdio.h>
#include <string.h>

#include "common/clock.h"

/* Largest SYSTEM_MEMORY buffer accepted: 256 TiB, more than any host has. */
#define MAX_SYSTEM_MEMORY_SIZE (1ull << 48)
#define READINGS_MAX_AGE_NS (200ull * CLOCK_NS_PER_MS)

void picture_device_used(struct state *st, int device, uint64_t used[TTALLOC_BUFFER_TYPES])
{
	uint64_t shm[TTALLOC_BUFFER_TYPES];
	ttmetal_device_used(&st->shm, &st->registry, device, shm);
	for (unsigned t = 0; t < TTALLOC_BUFFER_TYPES; t++)
		used[t] = st->registry.devices[device].used[t] + shm[t];
}

uint32_t picture_device_processes(struct state *st, int device)
{
	return registry_device_processes(&st->registry, device) +
		ttmetal_device_processes(&st->shm, &st->registry, device);
}

uint64_t picture_device_bytes(const uint64_t used[TTALLOC_BUFFER_TYPES])
{
	uint64_t sum = 0;
	for (unsigned t = 0; t < TTALLOC_BUFFER_TYPES; t++)
		if (t != TTALLOC_SYSTEM_MEMORY)
			sum += used[t];
	return sum;
}

uint64_t picture_capacity(const struct device *dev, unsigned type)
{
	switch (type) {
	case TTALLOC_DRAM:
	case TTALLOC_TRACE:
		return DEVICE_INFO_VALID(&dev->info, DEVICE_INFO_DRAM_TOTAL) ? dev->info.dram_total
									     : MAX_SYSTEM_MEMORY_SIZE;
	case TTALLOC_SYSTEM_MEMORY:
		return MAX_SYSTEM_MEMORY_SIZE;
	default:
		return DEVICE_INFO_VALID(&dev->info, DEVICE_INFO_L1_TOTAL) ? dev->info.l1_total
									   : MAX_SYSTEM_MEMORY_SIZE;
	}
}

enum device_region picture_capacity_region(unsigned type)
{
	if (type == TTALLOC_SYSTEM_MEMORY || type >= TTALLOC_BUFFER_TYPES)
		return DEVICE_REGION_NONE;
	return type == TTALLOC_DRAM || type == TTALLOC_TRACE ? DEVICE_REGION_DRAM : DEVICE_REGION_L1;
}

uint64_t picture_region_used(struct state *st, int device, enum device_region region)
{
	uint64_t used[TTALLOC_BUFFER_TYPES], sum = 0;
	picture_device_used(st, device, used);
	for (unsigned t = 0; t < TTALLOC_BUFFER_TYPES; t++)
		if (region != DEVICE_REGION_NONE && picture_capacity_region(t) == region)
			sum += used[t];
	return sum;
}

int picture_capacity_known(const struct state *st, int device, int l1)
{
	const struct device *dev = &st->devices.devices[device];
	return DEVICE_INFO_VALID(&dev->info, l1 ? DEVICE_INFO_L1_TOTAL : DEVICE_INFO_DRAM_TOTAL);
}

void picture_buffer_gone(struct state *st, uint32_t proc, const struct live_buffer *gone, uint64_t free_ns)
{
	if (gone->kind != REGISTRY_KIND_BUFFER || !marks_wants(&st->marks, gone->alloc_ns))
		return;
	struct process_record *rec = registry_process(&st->registry, proc);
	struct journal_entry e = {
		.address = gone->address,
		.size = gone->size,
		.alloc_ns = gone->alloc_ns,
		.free_ns = marks_order(&st->marks, free_ns),
		.pid = rec->pid,
		.stack = stacks_pool_id(rec->stacks, gone->stack, &st->stack_pool),
		.device = gone->device,
		.type = gone->type,
	};
	memcpy(e.comm, rec->comm, sizeof(e.comm));
	marks_journal(&st->marks, &e);
}

void picture_refresh_readings(struct state *st, int device)
{
	struct device *dev = device_set_get(&st->devices, device);
	uint64_t now = clock_monotonic_ns();
	if (!dev || (st->readings_ns[device] && now - st->readings_ns[device] < READINGS_MAX_AGE_NS))
		return;
	struct device_load load;
	picture_device_used(st, device, load.used);
	device_refresh(dev, &load);
	st->readings_ns[device] = now;
}

void picture_sample_history(struct state *st, uint64_t now_ms)
{
	struct history_reading readings[PROTO_MAX_DEVICES];
	for (int d = 0; d < st->devices.count && d < PROTO_MAX_DEVICES; d++) {
		struct device *dev = device_set_get(&st->devices, d);
		readings[d] = (struct history_reading){HISTORY_NO_TEMPERATURE, HISTORY_NO_POWER};
		if (!dev)
			continue;
		picture_refresh_readings(st, d);
		if (DEVICE_READING_VALID(&dev->now, DEVICE_TEMPERATURE))
			readings[d].temperature_mc = dev->now.temperature_mc;
		if (DEVICE_READING_VALID(&dev->now, DEVICE_POWER) && dev->now.power_mw != HISTORY_NO_POWER)
			readings[d].power_mw = dev->now.power_mw;
	}
	history_sample(&st->history, &st->registry, readings, now_ms);
}

void picture_device_identity(struct state *st, int device, struct picture_identity *out)
{
	const struct device *dev = &st->devices.devices[device];
	memset(out, 0, sizeof(*out));
	snprintf(out->serial, sizeof(out->serial), "%s", dev->info.serial);
	snprintf(out->asic_id, sizeof(out->asic_id), "%s", dev->info.asic_id);
	snprintf(out->pci_bus_id, sizeof(out->pci_bus_id), "%s", dev->info.bus_id);
	snprintf(out->card_type, sizeof(out->card_type), "%s", device_card_type(dev));
	snprintf(out->uuid, sizeof(out->uuid), "%s", dev->info.uuid);
	snprintf(out->driver_version, sizeof(out->driver_version), "%s", dev->info.driver);
	out->simulated = dev->info.simulated;
	for (uint32_t i = 0; !out->asic_id[0] && i < st->shm.region_count; i++) {
		const struct ttmetal_region *reg = &st->shm.regions[i];
		if (reg->status == TTMETAL_SHM_OK && reg->device == device && reg->chip_unique_id)
			snprintf(out->asic_id, sizeof(out->asic_id), "%016llX",
				 (unsigned long long)reg->chip_unique_id);
	}
}
