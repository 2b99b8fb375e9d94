/*
 * ttmetal_scan.h - reading tt-metal's /dev/shm/tt_device_*_memory regions
 * into the state's view (state/ttmetal.h explains what they add to the
 * picture). The server's timer calls ttmetal_scan every
 * TTMETAL_REFRESH_MS, never per event. Threading: the loop thread only.
 */
#ifndef TTALLOC_INGEST_TTMETAL_SCAN_H
#define TTALLOC_INGEST_TTMETAL_SCAN_H

#include "server/state/state.h"

/* Milliseconds between two scans of the regions. */
#define TTMETAL_REFRESH_MS 1000u

/*
 * Reads every region file again into st->shm (no-op when disabled): new
 * rows, stale slots counted as leaks once (into st->leaks), a change batch
 * (st->change_seq) when what it found differs from the last scan.
 */
void ttmetal_scan(struct state *st);

#endif /* TTALLOC_INGEST_TTMETAL_SCAN_H */
