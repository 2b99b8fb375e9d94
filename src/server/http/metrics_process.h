/*
 * metrics_process.h - the per-process series of /metrics, bounded
 * (--metrics-processes): ttalloc_process_memory_used_bytes for the top N
 * processes by device memory on each device (socket and tt-metal shm rows
 * ranked together), plus one pid="other" series per device and type that
 * sums the rest, so that summing the per-process series still gives the
 * device's total; ttalloc_metrics_processes_omitted counts who was summed.
 * A process's series disappear when it exits (it is no longer ranked).
 *
 * Why: 500 processes on a 32-device host are 32 000 series per scrape with
 * one series per process, and a thousand such hosts are tens of millions
 * for Prometheus; with top:50 a host stays under 3 300 whatever runs on it.
 */
#ifndef TTALLOC_HTTP_METRICS_PROCESS_H
#define TTALLOC_HTTP_METRICS_PROCESS_H

#include <stdint.h>
#include <sys/types.h>

#include "common/strbuf.h"

struct server;
struct metrics_selection;

/*
 * Ranks every process row of every device by device bytes (ties: lower pid
 * first) and keeps the first N (all, top:N, none: none). Returns NULL when
 * out of memory (then nothing is selected).
 */
struct metrics_selection *metrics_select(struct server *s);

/* 1 when `pid` has per-process series on `device` (NULL selection: 0). */
int metrics_selected(const struct metrics_selection *sel, int device, pid_t pid);

/*
 * Writes ttalloc_process_memory_used_bytes (selected rows, then "other"),
 * ttalloc_metrics_processes_omitted, with pod, namespace and container
 * labels when --metrics-labels asks.
 */
void metrics_process_memory(struct strbuf *t, struct server *s, const struct metrics_selection *sel);

/* Appends the --metrics-labels labels of `pid` (",pod=\"...\"..."); nothing when none asked. */
void metrics_container_labels(struct strbuf *t, struct server *s, pid_t pid);

/*
 * Whether the ttalloc_process_info series of (device, pid) is written: a
 * tracked process when it has memory series; a flagged one (untracked,
 * vanished: what alerts look for) while fewer than N were written for the
 * device (*flagged counts them); none with --metrics-processes none.
 */
int metrics_process_info_shown(struct server *s, const struct metrics_selection *sel, int device, pid_t pid,
			       int flagged_state, uint32_t *flagged);

/* Frees a selection (NULL is fine). */
void metrics_selection_free(struct metrics_selection *sel);

#endif /* TTALLOC_HTTP_METRICS_PROCESS_H */
