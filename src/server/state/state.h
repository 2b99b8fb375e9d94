/*
 * state.h - the server's picture of the host, in one struct: the devices,
 * the registry of live buffers, tt-metal's shared-memory rows, the leak
 * reports, the history and the kernel's view of who holds each device.
 *
 * The state layer (this folder) keeps and computes; it never talks to a
 * client or an HTTP peer and never sees struct server. ingest/ feeds it
 * (frames, ring events, tt-metal's regions); ingest's query handlers and
 * http/ read it. Functions that need more than one part of the picture
 * (picture.h, holders.h, leaks_process_exit) take struct state; the rest
 * take their own part. Threading: the loop thread only.
 */
#ifndef TTALLOC_STATE_H
#define TTALLOC_STATE_H

#include <stdint.h>

#include "common/protocol.h"
#include "devices/device.h"
#include "devices/holders_view.h"
#include "server/state/containers.h"
#include "server/state/history.h"
#include "server/state/leaks.h"
#include "server/state/marks.h"
#include "server/state/misuse.h"
#include "server/state/oom.h"
#include "server/state/registry.h"
#include "server/state/stack_pool.h"
#include "server/state/ttmetal.h"

/* What the state is built from (the server's options that concern it). */
struct state_config {
	const char *devices;   /* --devices selection */
	const char *hw_root;   /* --hw-root, or NULL */
	uint32_t leak_history; /* leak reports kept */
	uint32_t leak_lines;   /* buffer lines printed per leak report */
	uint32_t history_interval_ms;
	uint32_t history_samples;
	int ttmetal_shm;      /* read tt-metal's regions (0: --no-tt-metal-shm) */
	int retain_leaks;     /* an exited process's leaks stay counted (--retain-leaks, $CI) */
	const char *hostname; /* --hostname, or NULL: gethostname() */
};

struct state {
	struct device_set devices;
	struct registry registry;
	struct ttmetal_view shm; /* tt-metal's shared-memory statistics (ttmetal.h) */
	struct leak_history leaks;
	struct history history;
	struct holders_view holders;             /* the kernel's view of who holds each device (holders.h) */
	struct stack_pool stack_pool;            /* stack texts that outlive their process (stack_pool.h) */
	struct oom_history ooms;                 /* allocation failures' post-mortems (oom.h) */
	struct misuse_log misuse;                /* double frees and the like (misuse.h) */
	struct marks marks;                      /* named points in time and the journal of frees (marks.h) */
	uint64_t readings_ns[PROTO_MAX_DEVICES]; /* CLOCK_MONOTONIC of each device's last refresh (picture.h) */
	uint64_t touched_devices;                /* bit per device changed in the current change batch */
	int changed;                             /* state_note_change in the current batch */
	uint64_t change_seq;                     /* change batches so far (/api/events sends one event each) */
	uint32_t leak_lines;                     /* buffer lines printed per leak report */
	int retain_leaks;                        /* leaked buffers stay in the totals until cleared (leaks.h) */
	char hostname[256];                      /* the host this is the picture of (--hostname) */
	struct container_cache containers;       /* each process's container and pod (containers.h) */
};

/*
 * Opens the devices and prepares an empty picture of them. Returns 0, or a
 * negative TTALLOC_E* code with the reason in `err` (ERR_LEN bytes).
 * state_release undoes whatever was done, also after a failure.
 */
int state_open(struct state *st, const struct state_config *cfg, char *err);

/* Frees everything; the devices are closed. */
void state_release(struct state *st);

/* Marks `device` changed: its total is printed and a change batch counted (state_end_batch). */
static inline void state_touch(struct state *st, int device)
{
	st->touched_devices |= 1ull << device;
}

/*
 * Something the event stream should show changed without any device's
 * totals changing (a post-mortem, a mark): the current batch counts as a
 * change all the same.
 */
static inline void state_note_change(struct state *st)
{
	st->changed = 1;
}

/*
 * Ends a batch of changes: when any device was touched (or
 * state_note_change was called), counts one change batch. Returns the
 * touched devices' bits and clears them.
 */
uint64_t state_end_batch(struct state *st);

#endif /* TTALLOC_STATE_H */
