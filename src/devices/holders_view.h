/*
 * holders_view.h - the kernel's view of who holds each device, kept between
 * refreshes and compared with what processes reported to ttalloc.
 *
 * One scan (device_set_holders, plus each holder's name and user from
 * /proc/PID/comm and /proc/PID/status under the hardware root) serves every
 * question until the next scan: the server scans at most once a second
 * (server_holders_tick), tt_smi's hardware view once per redraw. Comparing
 * with the reported processes is cheap and done per question, so a process
 * that starts reporting is never listed as untracked for longer than it
 * takes to ask again.
 *
 * Invariants: `kernel` and `ids` are NULL before the first scan, else hold
 * `num_devices` entries; ids[d][i] describes kernel[d].procs[i].
 */
#ifndef TTALLOC_HOLDERS_VIEW_H
#define TTALLOC_HOLDERS_VIEW_H

#include <stdint.h>

#include "devices/device.h"

/* Who a process is, from /proc under the hardware root. */
struct holder_identity {
	char comm[16]; /* /proc/PID/comm without the newline; "" when unreadable */
	uint32_t uid;  /* real uid (the Uid: line of /proc/PID/status); valid with uid_known */
	int uid_known;
};

struct holders_view {
	int num_devices;               /* devices of the last scan */
	int scanned;                   /* 1 once a scan has run */
	uint64_t scanned_ns;           /* CLOCK_REALTIME of the last scan */
	uint64_t scanned_mono_ns;      /* CLOCK_MONOTONIC of the last scan */
	uint64_t available;            /* bit per device that has a kernel's view (holders_view_available) */
	struct device_holders *kernel; /* per device: the holders the kernel and driver list */
	struct holder_identity (*ids)[DEVICE_MAX_PROCESSES]; /* per device, parallel to kernel[d].procs */
};

#define HOLDERS_VIEW_INIT \
	{                 \
		0         \
	}

/* One process of one device: the kernel's view compared with ttalloc's. */
struct holder_entry {
	int32_t pid;
	int device;
	enum device_holder_state state;
	uint32_t flags;            /* the kernel's enum device_process_flag bits (0: not listed) */
	uint64_t memory;           /* bytes the driver charges to it; valid with DEVICE_PROC_MEMORY */
	struct holder_identity id; /* from the scan when the kernel listed it, else empty */
};

/*
 * 1 when the kernel can tell who holds `dev`: it has a device node to find
 * in /proc/PID/fd or a backend with a driver list (tt-kmd, NVML). Simulated
 * devices have neither: who holds them is unknown, not "nobody".
 */
int holders_view_available(const struct device *dev);

/*
 * Scans the kernel's holders of every device of `set` and reads each
 * holder's identity. Allocates on the first call (only when some device has
 * a view; otherwise nothing is allocated and every device has no view).
 * Returns 0 or TTALLOC_ENOMEM (the previous scan is then kept).
 */
int holders_view_scan(struct holders_view *v, const struct device_set *set);

/* Frees what the scans allocated; the view is HOLDERS_VIEW_INIT again. */
void holders_view_release(struct holders_view *v);

/*
 * The rows of one device (device_holders_compare on the last scan): every
 * pid of `tracked` (processes with live buffers on it, in order), then the
 * holders not in `tracked`, each with its identity. `own_pid` (> 0) is left
 * out. A device without a view, or with no scan yet, gives only tracked rows.
 * Writes up to `max` rows; returns the number written.
 */
int holders_view_rows(const struct holders_view *v, int device, const int32_t *tracked, int tracked_count,
		      int32_t own_pid, struct holder_entry *rows, int max);

/*
 * Reads the identity of `pid` from ROOT/proc/PID/comm and ROOT/proc/PID/status,
 * ROOT being the set's hardware root. Fields it cannot read stay empty.
 */
void holders_read_identity(const struct device_set *set, int32_t pid, struct holder_identity *id);

#endif /* TTALLOC_HOLDERS_VIEW_H */
