/*
 * live_table.h - the client library's own record of this process's live
 * buffers, so that a connection made later (server started after the
 * application, or restarted) can be brought up to date by re-sending it.
 * Not thread-safe: the library serialises access.
 */
#ifndef TTALLOC_LIVE_TABLE_H
#define TTALLOC_LIVE_TABLE_H

#include <stdint.h>

#include "common/addr_index.h"

struct live_entry {
	uint64_t address;
	uint64_t size;
	uint64_t alloc_ns; /* CLOCK_REALTIME of the ALLOC, re-sent on resync */
	uint64_t stack_id; /* its call stack (stacks.h), 0 when not captured */
	int32_t device;
	uint8_t type;
	uint8_t used;
};

struct live_table {
	struct addr_index index;
	struct live_entry *entries;
	uint32_t cap;
	uint32_t free_head; /* free list threaded through entries[].size */
	uint64_t count;
};

/* Prepares an empty table. Returns 0 or TTALLOC_ENOMEM. */
int live_table_init(struct live_table *t);

/* Frees the table. */
void live_table_release(struct live_table *t);

/* Records a buffer. Returns 0, TTALLOC_EDUPLICATE (replaced) or TTALLOC_ENOMEM. */
int live_table_add(struct live_table *t, int device, unsigned type, uint64_t address, uint64_t size, uint64_t alloc_ns,
		   uint64_t stack_id);

/* Forgets a buffer. Returns 0 or TTALLOC_EUNKNOWN_BUFFER. */
int live_table_remove(struct live_table *t, int device, uint64_t address);

/* Forgets every buffer (a forked child starts with none). */
void live_table_clear(struct live_table *t);

/* Calls fn for each live buffer; stops at the first non-zero return. */
int live_table_each(const struct live_table *t, int (*fn)(const struct live_entry *e, void *ctx), void *ctx);

#endif /* TTALLOC_LIVE_TABLE_H */
