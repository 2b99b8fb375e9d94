/*
 * ttmetal.h - what mainline tt-metal's shared-memory statistics add to the
 * server's picture (src/devices/ttmetal_shm.h reads the regions).
 *
 * A stock tt-metal process reports nothing to the socket unless it was
 * built with the allocation client and runs with TT_ALLOC_TRACKING_ENABLED=1,
 * but every one keeps /dev/shm/tt_device_<chip_unique_id>_memory up to date.
 * The server reads those regions (under --hw-root's dev/shm) from a timer,
 * at most once a second and never per event, and merges them:
 *
 *  - a region's `device_id` is the logical Metal device id, which is the
 *    server's device id (tt-metal's chip order, docs/HARDWARE.md); a region
 *    of a device the server does not have is ignored, with a warning;
 *  - each process slot becomes a process row of that device, source
 *    "tt-metal shm": totals per type (DRAM, L1, L1_SMALL, TRACE, CB) and a
 *    name, no buffers;
 *  - a pid that also reports through the socket is counted once: from the
 *    socket (per buffer), its shm rows are left out ("covered");
 *  - a slot whose pid is dead is "stale" (what a SIGKILLed tt-metal process
 *    leaves behind): shown, not counted as used, counted once as a leak;
 *  - device totals = the registry's + the shm rows that are neither covered
 *    nor stale (+ a region's totals when it has no process slot at all:
 *    per-process tracking was disabled in its writers);
 *  - per-chip slots (chip_stats) are kept per region and shown by the JSON
 *    API and /metrics; their bytes are already in the process slots.
 *
 * Refused regions (unknown version, half-initialised, truncated,
 * unreadable, no such device) give one warning each time their state
 * changes, and no numbers. Threading: the loop thread only.
 *
 * This file keeps the view and what is derived from it (which rows count);
 * reading the region files is ingest/ttmetal_scan.c's work.
 */
#ifndef TTALLOC_STATE_TTMETAL_H
#define TTALLOC_STATE_TTMETAL_H

#include <stdint.h>
#include <sys/types.h>

#include "common/protocol.h"
#include "devices/device.h"
#include "devices/ttmetal_shm.h"

struct registry;

/* Where a process row comes from (JSON "source", the metrics' source label). */
enum ttmetal_source { TTMETAL_SOURCE_SOCKET = 0, TTMETAL_SOURCE_SHM = 1 };

/* "socket" or "tt-metal shm". */
const char *ttmetal_source_name(enum ttmetal_source source);

/* One process slot of one region. */
struct ttmetal_row {
	pid_t pid;
	int device;                      /* the region's device */
	uint32_t region;                 /* index in the view's regions */
	uint32_t slot;                   /* index in the region's process table */
	uid_t uid;                       /* PROTO_UID_UNKNOWN when the process is gone */
	char name[TTMETAL_SHM_NAME_LEN]; /* from the slot (else /proc/PID/comm) */
	uint64_t used[TTALLOC_BUFFER_TYPES];
	uint64_t updated_ns; /* the slot's last update, ns since the epoch */
	int stale;           /* the process is gone */
	int covered;         /* the pid reports through the socket: not counted from here */
};

/* One region file as last read. */
struct ttmetal_region {
	char name[64];           /* file name, tt_device_<id>_memory */
	uint64_t chip_unique_id; /* from the name */
	enum ttmetal_shm_status status;
	int device; /* the server's device it describes; -1: none (or not read) */
	uint32_t version;
	uint32_t processes; /* process slots in use */
	uint64_t totals[TTALLOC_BUFFER_TYPES];
	uint64_t unattributed[TTALLOC_BUFFER_TYPES]; /* totals of a region without process slots */
	uint32_t chip_count;
	struct ttmetal_shm_chip chips[TTMETAL_SHM_MAX_CHIPS];
	char why[160]; /* why it was refused; "" when read */
};

/* A (region, pid) across scans: stale slots are counted as leaked once. */
struct ttmetal_memo {
	char region[64];
	pid_t pid;
	int covered_ever; /* it reported through the socket too: its leak report came from there */
	int leak_counted;
	uint64_t scan; /* last scan that saw it */
};

/* A region file's state across scans, to warn once per change. */
struct ttmetal_region_memo {
	char name[64];
	int state; /* enum ttmetal_shm_status, or -1 for "no such device" */
	uint64_t scan;
};

struct ttmetal_view {
	int enabled;
	char dir[DEVICE_PATH_MAX]; /* <hw-root>/dev/shm */
	struct ttmetal_region *regions;
	uint32_t region_count, region_cap;
	struct ttmetal_row *rows;
	uint32_t row_count, row_cap;
	struct ttmetal_memo *memos;
	uint32_t memo_count, memo_cap;
	struct ttmetal_region_memo *region_memos;
	uint32_t region_memo_count, region_memo_cap;
	uint64_t scans;       /* scans done */
	uint64_t scanned_ns;  /* CLOCK_REALTIME of the last scan */
	uint64_t stale_leaks; /* stale slots counted as leaks since start-up */
	/* derived from the rows and the registry's processes (recomputed when either changes) */
	uint64_t derived_scan;
	uint64_t derived_generation;
	int derived;
	uint64_t device_used[PROTO_MAX_DEVICES][TTALLOC_BUFFER_TYPES];
	uint32_t device_processes[PROTO_MAX_DEVICES];
};

/*
 * Prepares an empty view of the regions in `dir` (<hw-root>/dev/shm);
 * `enabled` 0 (--no-tt-metal-shm) makes it stay empty.
 */
void ttmetal_view_init(struct ttmetal_view *v, int enabled, const char *dir);

/* Frees the view. */
void ttmetal_view_release(struct ttmetal_view *v);

/* The rows of the last scan, with `covered` up to date against the registry. */
const struct ttmetal_row *ttmetal_rows(struct ttmetal_view *v, const struct registry *r, uint32_t *count);

/*
 * Bytes per buffer type and processes that the counted rows add to
 * `device` (neither covered by the socket nor stale): picture.h adds them
 * to the registry's totals.
 */
void ttmetal_device_used(struct ttmetal_view *v, const struct registry *r, int device,
			 uint64_t used[TTALLOC_BUFFER_TYPES]);
uint32_t ttmetal_device_processes(struct ttmetal_view *v, const struct registry *r, int device);

/*
 * 1 when a live shm row of `pid` on `device` (-1: any) is counted in the
 * picture (the process reports only through tt-metal's shared memory): for
 * the kernel's-view comparison, such a process is known, not untracked.
 */
int ttmetal_pid_counted(struct ttmetal_view *v, const struct registry *r, pid_t pid, int device);

#endif /* TTALLOC_STATE_TTMETAL_H */
