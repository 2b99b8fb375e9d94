/*
 * addrmap.h - a device memory's address map as an allocator sees it: which
 * bank-local ranges the live buffers of one region (DRAM or L1) take, the
 * holes between them, and what those say about fragmentation.
 *
 * Geometry comes from the device backend (device.h's device_memory_map):
 * a buffer of `size` bytes takes the same range [address, address + share)
 * in each bank, share = its size spread over the banks, rounded up to the
 * alignment. A hole of h bank-local bytes is h x banks bytes of the
 * device: that is how free_bytes, the largest free block (the largest
 * request that would fit now) and every block size are given.
 *
 * The view is one process's (tt-metal runs one allocator per process: its
 * view is what decides whether its next allocation fits) or every
 * process's buffers at once (overlapping ranges merged).
 *
 * fragmentation = 1 - largest_free / free: 0 when the free memory is one
 * block, close to 1 when it is scattered in small holes.
 */
#ifndef TTALLOC_STATE_ADDRMAP_H
#define TTALLOC_STATE_ADDRMAP_H

#include <stdint.h>

#include "devices/device.h"
#include "server/state/registry.h"

/* Free blocks listed at most (the total count is always given). */
#define ADDRMAP_MAX_BLOCKS 1000u
/* Cells of the occupancy strip at most. */
#define ADDRMAP_MAX_CELLS 400u

struct addrmap_block {
	uint64_t address; /* bank-local start of the hole */
	uint64_t size;    /* bytes of the device: bank-local length x banks */
};

struct addrmap {
	struct device_memory_map geo;
	uint64_t capacity;            /* bank_size x banks */
	uint64_t used;                /* bytes of the buffers in the view (their sizes as reported) */
	uint64_t buffers;             /* buffers in the view */
	uint64_t outside;             /* of which lie (partly) outside [base, base + bank_size) */
	uint64_t free;                /* bytes in holes */
	uint64_t largest_free;        /* bytes of the largest hole */
	double fragmentation;         /* 1 - largest_free / free; 0 when nothing is free */
	struct addrmap_block *blocks; /* largest first, at most max_blocks */
	uint32_t block_count;         /* listed */
	uint64_t blocks_total;        /* holes in all */
	double *cells;                /* occupancy of each of cell_count equal address ranges, 0..1 */
	uint32_t cell_count;
};

/* What to map. */
struct addrmap_query {
	int device;
	enum device_region region;
	uint32_t proc;       /* one process's view, or REGISTRY_NONE: every process */
	uint32_t max_blocks; /* free blocks to list (at most ADDRMAP_MAX_BLOCKS) */
	uint32_t cells;      /* cells of the strip (0: none; at most ADDRMAP_MAX_CELLS) */
};

/* A buffer's share of each bank: its size spread over the banks, rounded up to the alignment. */
uint64_t addrmap_share(const struct device_memory_map *geo, uint64_t size);

/*
 * Builds the map of q's view with geometry `geo`. Returns 0 or
 * TTALLOC_ENOMEM; addrmap_release frees it either way.
 */
int addrmap_build(struct addrmap *m, const struct registry *r, const struct device_memory_map *geo,
		  const struct addrmap_query *q);

/* Frees the lists. */
void addrmap_release(struct addrmap *m);

#endif /* TTALLOC_STATE_ADDRMAP_H */
