/*
 * holders.c - the server's cache of the kernel's view of who holds each
 * device (holders_view.h), and its comparison with the registry: processes
 * that hold a device without reporting (untracked) and reporting processes
 * the driver no longer lists (vanished), for HOLDER_QUERY, /api/processes
 * and /metrics.
 *
 * The scan reads /proc (every process's fd directory), so it never runs per
 * event: the history timer refreshes it at most once a second
 * (holders_tick), and a question finding it older than
 * HOLDERS_MAX_AGE_NS (a long --history-interval) refreshes it first.
 */
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "common/array.h"
#include "common/clock.h"
#include "common/log.h"
#include "server/state/holders.h"
#include "server/state/ttmetal.h"

#define HOLDERS_REFRESH_NS 1000000000ull /* at most one scan a second */
#define HOLDERS_MAX_AGE_NS 2000000000ull /* older than this when asked: scan first */

_Static_assert((unsigned)DEVICE_PROC_DRIVER == (unsigned)PROTO_HOLDER_DRIVER, "driver flag on the wire");
_Static_assert((unsigned)DEVICE_PROC_FD == (unsigned)PROTO_HOLDER_FD, "fd flag on the wire");
_Static_assert((unsigned)DEVICE_PROC_MEMORY == (unsigned)PROTO_HOLDER_MEMORY, "memory flag on the wire");
_Static_assert((int)DEVICE_HOLDER_TRACKED == (int)PROTO_HOLDER_TRACKED &&
		       (int)DEVICE_HOLDER_UNTRACKED == (int)PROTO_HOLDER_UNTRACKED &&
		       (int)DEVICE_HOLDER_VANISHED == (int)PROTO_HOLDER_VANISHED,
	       "holder states on the wire");

static void scan(struct state *st)
{
	if (holders_view_scan(&st->holders, &st->devices) < 0)
		log_warn("⚠️  out of memory reading which processes hold the devices; keeping the last view");
}

void holders_tick(struct state *st)
{
	uint64_t now = clock_monotonic_ns();
	if (!st->holders.scanned || now - st->holders.scanned_mono_ns >= HOLDERS_REFRESH_NS)
		scan(st);
}

const struct holders_view *holders_current(struct state *st)
{
	uint64_t now = clock_monotonic_ns();
	if (!st->holders.scanned || now - st->holders.scanned_mono_ns >= HOLDERS_MAX_AGE_NS)
		scan(st);
	return &st->holders;
}

int holders_available(const struct state *st, int device)
{
	return device >= 0 && device < st->devices.count && holders_view_available(&st->devices.devices[device]);
}

/* A tracked process of a device: its pid and registry record. */
struct pid_proc {
	int32_t pid;
	uint32_t proc;
};

struct holder_entry *holders_rows(struct state *st, int device, int *count)
{
	const struct registry *r = &st->registry;
	const struct holders_view *v = holders_current(st);
	*count = 0;
	int max = DEVICE_MAX_PROCESSES + 1;
	REGISTRY_FOR_EACH_PROCESS (r, p) {
		const struct device_usage *u = registry_usage(r, p, device);
		if (u && u->buffers)
			max++;
	}
	int32_t *tracked = calloc((size_t)max, sizeof(*tracked));
	struct pid_proc *procs = calloc((size_t)max, sizeof(*procs));
	struct holder_entry *rows = calloc((size_t)max, sizeof(*rows));
	if (!tracked || !procs || !rows) {
		free(tracked);
		free(procs);
		free(rows);
		return NULL;
	}
	int n = 0;
	REGISTRY_FOR_EACH_PROCESS (r, p) {
		const struct device_usage *u = registry_usage(r, p, device);
		if (u && u->buffers && n < max) {
			procs[n] = (struct pid_proc){r->processes[p].pid, p};
			tracked[n++] = r->processes[p].pid;
		}
	}
	int got = holders_view_rows(v, device, tracked, n, (int32_t)getpid(), rows, max);
	int kept = 0;
	for (int i = 0, next = 0; i < got; i++) {
		struct holder_entry *row = &rows[i];
		/* tracked rows come first, in `tracked`'s order: their records without a walk of the registry */
		uint32_t proc = next < n && procs[next].pid == row->pid ? procs[next++].proc
									: registry_find_pid(r, row->pid);
		const struct process_record *rec = proc != REGISTRY_NONE ? &r->processes[proc] : NULL;
		/* a process that reports to us but holds nothing here is not "untracked", nor is one
		 * that tt-metal's shared memory counts on this device (its row comes from there) */
		if (row->state == DEVICE_HOLDER_UNTRACKED &&
		    (rec || ttmetal_pid_counted(&st->shm, r, row->pid, device)))
			continue;
		/* reported after the scan: the scan cannot have seen it open the device */
		if (row->state == DEVICE_HOLDER_VANISHED && rec && rec->first_seen_ns >= v->scanned_ns)
			row->state = DEVICE_HOLDER_TRACKED;
		if (rec) {
			/* what the process told us when it connected */
			memcpy(row->id.comm, rec->comm, sizeof(row->id.comm));
			row->id.uid = rec->uid;
			row->id.uid_known = 1;
		}
		rows[kept++] = *row;
	}
	free(tracked);
	free(procs);
	if (kept == 0) {
		free(rows);
		return NULL;
	}
	*count = kept;
	return rows;
}

struct holder_entry *holders_rows_all(struct state *st, int *count)
{
	struct holder_entry *all = NULL;
	size_t cap = 0;
	*count = 0;
	for (int d = 0; d < st->devices.count; d++) {
		if (!holders_available(st, d))
			continue;
		int n = 0;
		struct holder_entry *rows = holders_rows(st, d, &n);
		if (!rows)
			continue;
		if (ARRAY_RESERVE(all, cap, (size_t)*count + (size_t)n) < 0) {
			free(rows);
			continue;
		}
		memcpy(all + *count, rows, (size_t)n * sizeof(*rows));
		*count += n;
		free(rows);
	}
	return all;
}
