/*
 * holders.h - the server's cache of the kernel's view of who holds each
 * device (devices/holders_view.h) compared with the registry: processes
 * that hold a device without reporting (untracked) and reporting processes
 * the driver no longer lists (vanished), for HOLDER_QUERY, /api/processes
 * and /metrics.
 *
 * The scan reads /proc (every process's fd directory), so it never runs per
 * event: the history timer calls holders_tick, which scans at most once a
 * second, and a question finding the scan older than 2 s (a long
 * --history-interval) scans first. The comparison with the registry is made
 * per question, so a process that starts reporting stops being "untracked"
 * at once.
 */
#ifndef TTALLOC_STATE_HOLDERS_H
#define TTALLOC_STATE_HOLDERS_H

#include "server/state/state.h"

/* Scans the kernel's holders again when the last scan is a second old (history timer). */
void holders_tick(struct state *st);

/* The last scan, made now when there is none or it is over 2 s old. */
const struct holders_view *holders_current(struct state *st);

/* 1 when the kernel can tell who holds `device` (holders_view_available). */
int holders_available(const struct state *st, int device);

/*
 * The processes of `device`: those with live buffers there (TRACKED, or
 * VANISHED when an authoritative driver list that was read after they
 * reported no longer has them) and the kernel's holders that never reported
 * (UNTRACKED; a process that reports to us but holds nothing on `device`,
 * or that tt-metal's shared memory counts there, is left out), with name
 * and uid. Returns a malloc'd array and its length in *count, or NULL with
 * *count 0 (no rows, or out of memory).
 */
struct holder_entry *holders_rows(struct state *st, int device, int *count);

/* holders_rows of every device that has a kernel's view, in device order. */
struct holder_entry *holders_rows_all(struct state *st, int *count);

#endif /* TTALLOC_STATE_HOLDERS_H */
