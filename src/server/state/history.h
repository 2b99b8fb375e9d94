/*
 * history.h - a bounded time series of memory use per device and per
 * (process, device), and of each device's temperature and power, sampled
 * at a fixed interval (default 1 s for 1 h) and served by /api/history.
 *
 * Invariants:
 *  - All memory is allocated by history_init: `cap` sample slots per device
 *    and per process series; sampling never allocates. A sample costs
 *    8 bytes (its time) + 40 per device (32 of memory, 8 of readings) +
 *    32 per process series (touched only as the series fill).
 *  - A reading the backend could not take is stored as HISTORY_NO_READING
 *    (it is read back as "no value", never as 0).
 *  - Samples are numbered from 0 (`next` is the number the next sample gets);
 *    sample n lives in slot n % cap and is readable while n >= next - cap.
 *  - A process series covers the samples [first, last] it was seen in; a
 *    sample outside that range, or older than the ring, has no value.
 *  - At most `max_series` process series exist at once. A new process takes
 *    a free series, else the one whose newest sample is oldest among
 *    processes that no longer hold memory; when every series belongs to a
 *    process still holding memory, the newcomer is not recorded and
 *    `untracked` counts it.
 */
#ifndef TTALLOC_HISTORY_H
#define TTALLOC_HISTORY_H

#include <stdint.h>
#include <sys/types.h>

#include "common/protocol.h"
#include "server/state/registry.h"

/* The seed's four buffer types, in its order. */
enum history_kind { HISTORY_DRAM = 0, HISTORY_L1, HISTORY_L1_SMALL, HISTORY_TRACE, HISTORY_KINDS };

/* Bytes of each kind at one sample. */
struct history_point {
	uint64_t used[HISTORY_KINDS];
};

/* A reading not taken (the backend cannot read it, or no readings were given). */
#define HISTORY_NO_TEMPERATURE INT32_MIN
#define HISTORY_NO_POWER UINT32_MAX

/* A device's readings at one sample. */
struct history_reading {
	int32_t temperature_mc; /* milli-degrees Celsius, or HISTORY_NO_TEMPERATURE */
	uint32_t power_mw;      /* milliwatts, or HISTORY_NO_POWER */
};

/* One (process, device) series. */
struct history_series {
	pid_t pid;
	uid_t uid;
	int device;
	char comm[16];
	uint64_t first; /* first sample number it has */
	uint64_t last;  /* newest sample number it has */
	int holding;    /* the process held memory at `last` */
	int in_use;
	struct history_point *points; /* cap points, slot n % cap */
};

struct history {
	uint32_t cap;         /* samples kept */
	uint32_t interval_ms; /* distance between samples */
	int num_devices;
	uint64_t next;                    /* number of the next sample */
	uint64_t *time_ms;                /* cap timestamps, CLOCK_REALTIME ms */
	struct history_point *devices;    /* cap * num_devices points, [slot * num_devices + device] */
	struct history_reading *readings; /* cap * num_devices readings, indexed as `devices` */
	struct history_series *series;
	uint32_t max_series;
	uint64_t untracked; /* process samples that found no free series */
};

/* Default number of process series kept at once. */
#define HISTORY_DEFAULT_SERIES 64u

/*
 * Prepares an empty history of `cap` samples `interval_ms` apart for
 * `num_devices` devices and at most `max_series` (process, device) series.
 * Returns 0 or TTALLOC_ENOMEM.
 */
int history_init(struct history *h, uint32_t cap, uint32_t interval_ms, int num_devices, uint32_t max_series);

/* Frees everything; the struct can be initialised again. */
void history_release(struct history *h);

/*
 * Records one sample of the registry's totals and of each device's readings
 * (`readings`: num_devices entries, or NULL when none was taken), stamped
 * `now_ms` (CLOCK_REALTIME).
 */
void history_sample(struct history *h, const struct registry *r, const struct history_reading *readings,
		    uint64_t now_ms);

/* Number of samples readable now (at most cap). */
uint64_t history_count(const struct history *h);

/* First sample number readable now (next - count). */
uint64_t history_oldest(const struct history *h);

/* Timestamp of sample `n` (must be readable). */
uint64_t history_time(const struct history *h, uint64_t n);

/* Device `device`'s point at sample `n` (must be readable). */
const struct history_point *history_device_point(const struct history *h, uint64_t n, int device);

/* Device `device`'s readings at sample `n` (must be readable). */
const struct history_reading *history_device_reading(const struct history *h, uint64_t n, int device);

/* A series' point at sample `n`, or NULL when it has none there. */
const struct history_point *history_series_point(const struct history *h, const struct history_series *s, uint64_t n);

/*
 * A span of the history cut into equal buckets of whole samples, the last
 * bucket ending with the newest sample. Buckets reaching back before the
 * oldest readable sample (or before the first) have no data.
 */
struct history_window {
	int64_t first;    /* sample number where bucket 0 starts (may be < 0) */
	uint64_t step;    /* samples per bucket, at least 1 */
	uint32_t buckets; /* number of buckets */
};

/*
 * The last `seconds` of samples (0: as many as the ring keeps; never more)
 * in at most `points` buckets (at least 1).
 */
void history_window(const struct history *h, uint64_t seconds, uint32_t points, struct history_window *w);

/*
 * The peak of each kind on `device` over bucket `b` of `w` into *peak, and the
 * time of the bucket's newest sample into *time_ms. Returns 1, or 0 (both
 * zeroed) when the bucket holds no readable sample.
 */
int history_device_bucket(const struct history *h, const struct history_window *w, uint32_t b, int device,
			  struct history_point *peak, uint64_t *time_ms);

#endif /* TTALLOC_HISTORY_H */
