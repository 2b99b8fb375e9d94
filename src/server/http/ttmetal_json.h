/*
 * ttmetal_json.h - tt-metal's shared-memory regions in the JSON API
 * (server/state/ttmetal.h explains the view): per-device region and chip
 * rows, process objects for the processes only the regions report, and
 * the reader's state for /healthz.
 */
#ifndef TTALLOC_HTTP_TTMETAL_JSON_H
#define TTALLOC_HTTP_TTMETAL_JSON_H

#include <jansson.h>

struct server;

/*
 * The regions describing `device` (file, version, processes, totals and
 * per-chip rows), and chip rows of other regions that name it: an object,
 * or null when tt-metal's shared memory says nothing about the device.
 */
json_t *ttmetal_device_json(struct server *s, int device);

/*
 * Appends one /api/processes object per pid that only tt-metal's shared
 * memory reports: "source": "tt-metal shm", "stale", totals per type,
 * "buffer_count": null (no buffer list), and "devices".
 */
void ttmetal_append_processes(struct server *s, json_t *list);

/* The reader's state for /healthz: directory, last scan, every region file and its status. */
json_t *ttmetal_status_json(struct server *s);

#endif /* TTALLOC_HTTP_TTMETAL_JSON_H */
