/*
 * picture.h - a device as every view shows it (QUERY, DEVICE_STATUS, the
 * JSON API, /metrics, the history): the registry's totals plus the tt-metal
 * shared-memory rows that count (ttmetal.h: once per process, stale slots
 * left out), its capacities and its readings.
 */
#ifndef TTALLOC_STATE_PICTURE_H
#define TTALLOC_STATE_PICTURE_H

#include <stdint.h>

#include "server/state/state.h"

/* Bytes in use on `device` per buffer type. */
void picture_device_used(struct state *st, int device, uint64_t used[TTALLOC_BUFFER_TYPES]);

/* Processes using `device`: the registry's plus the counted shm rows'. */
uint32_t picture_device_processes(struct state *st, int device);

/*
 * Bytes of device memory in `used` (a buffer-type array): everything but
 * SYSTEM_MEMORY, which is host memory and in no device total.
 */
uint64_t picture_device_bytes(const uint64_t used[TTALLOC_BUFFER_TYPES]);

/*
 * Capacity that bounds a buffer of `type` on `dev`: DRAM (and TRACE, which
 * lives in DRAM) or L1 (L1_SMALL, CB, KERNEL); a capacity the backend could
 * not read, and SYSTEM_MEMORY, bound nothing but absurd sizes (256 TiB).
 */
uint64_t picture_capacity(const struct device *dev, unsigned type);

/*
 * The memory a buffer of `type` takes room in, for capacities: DRAM for
 * DRAM and TRACE, L1 for L1, L1_SMALL, CB and KERNEL, DEVICE_REGION_NONE
 * for SYSTEM_MEMORY (host memory).
 */
enum device_region picture_capacity_region(unsigned type);

/* Bytes every process holds in `region` of `device` (the types picture_capacity_region puts there). */
uint64_t picture_region_used(struct state *st, int device, enum device_region region);

/* 1 when the backend knows the device's DRAM (l1 = 0) or L1 (l1 = 1) capacity. */
int picture_capacity_known(const struct state *st, int device, int l1);

/*
 * A buffer of `proc` left the picture at CLOCK_MONOTONIC `free_ns` (FREE,
 * replaced by an ALLOC at its address, its process's exit): journaled
 * when a diff between marks may need it (marks.h), with its stack made to
 * outlive the process. O(1) unless journaled.
 */
void picture_buffer_gone(struct state *st, uint32_t proc, const struct live_buffer *gone, uint64_t free_ns);

/*
 * Refreshes a device's readings (temperature, power) through its backend
 * from the current totals, at most every 200 ms.
 */
void picture_refresh_readings(struct state *st, int device);

/*
 * One history sample (history.h) stamped `now_ms` (CLOCK_REALTIME): the
 * registry's totals and each device's temperature and power, refreshed
 * first; a reading the backend cannot take is recorded as missing.
 */
void picture_sample_history(struct state *st, uint64_t now_ms);

/* The identity labels a fleet tells a device apart by; "" where unknown. */
struct picture_identity {
	char serial[24];
	char asic_id[24];
	char pci_bus_id[24];
	char card_type[24];
	char uuid[48];
	char driver_version[24];
	int simulated;
};

/*
 * The identity of `device`: the backend's (device.h), and for a chip whose
 * driver gives no asic id (Wormhole) the chip_unique_id of the tt-metal
 * shared-memory region that describes it, in the same 16-hex-digit form.
 */
void picture_device_identity(struct state *st, int device, struct picture_identity *out);

#endif /* TTALLOC_STATE_PICTURE_H */
