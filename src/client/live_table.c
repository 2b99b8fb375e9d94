/*
 * live_table.c - the client's table of its live buffers (live_table.h).
 */
#include "client/live_table.h"
#include "common/array.h"

#include <stdlib.h>
#include <string.h>

#include "ttalloc.h"

#define NO_ENTRY UINT32_MAX

int live_table_init(struct live_table *t)
{
	memset(t, 0, sizeof(*t));
	t->free_head = NO_ENTRY;
	return addr_index_init(&t->index, 256);
}

void live_table_release(struct live_table *t)
{
	addr_index_release(&t->index);
	free(t->entries);
	memset(t, 0, sizeof(*t));
}

static uint32_t take_entry(struct live_table *t)
{
	if (t->free_head == NO_ENTRY) {
		uint32_t old = t->cap;
		if (ARRAY_RESERVE(t->entries, t->cap, (size_t)old + 1) < 0)
			return NO_ENTRY;
		/* thread the new entries onto the free list, lowest first */
		for (uint32_t i = old; i < t->cap; i++) {
			t->entries[i].used = 0;
			t->entries[i].size = i + 1 < t->cap ? i + 1 : NO_ENTRY;
		}
		t->free_head = old;
	}
	uint32_t i = t->free_head;
	t->free_head = (uint32_t)t->entries[i].size;
	return i;
}

static void give_entry(struct live_table *t, uint32_t i)
{
	t->entries[i].used = 0;
	t->entries[i].size = t->free_head;
	t->free_head = i;
}

int live_table_add(struct live_table *t, int device, unsigned type, uint64_t address, uint64_t size, uint64_t alloc_ns,
		   uint64_t stack_id)
{
	uint32_t slot = addr_index_find(&t->index, device, address, NULL, NULL);
	if (slot != ADDR_INDEX_NOT_FOUND) {
		struct live_entry *e = &t->entries[addr_index_value(&t->index, slot)];
		e->size = size;
		e->type = (uint8_t)type;
		e->alloc_ns = alloc_ns;
		e->stack_id = stack_id;
		return TTALLOC_EDUPLICATE;
	}
	uint32_t i = take_entry(t);
	if (i == NO_ENTRY)
		return TTALLOC_ENOMEM;
	if (addr_index_insert(&t->index, device, address, i) < 0) {
		give_entry(t, i);
		return TTALLOC_ENOMEM;
	}
	t->entries[i] = (struct live_entry){.address = address,
					    .size = size,
					    .alloc_ns = alloc_ns,
					    .device = device,
					    .type = (uint8_t)type,
					    .used = 1,
					    .stack_id = stack_id};
	t->count++;
	return 0;
}

int live_table_remove(struct live_table *t, int device, uint64_t address)
{
	uint32_t slot = addr_index_find(&t->index, device, address, NULL, NULL);
	if (slot == ADDR_INDEX_NOT_FOUND)
		return TTALLOC_EUNKNOWN_BUFFER;
	give_entry(t, addr_index_value(&t->index, slot));
	addr_index_remove(&t->index, slot);
	t->count--;
	return 0;
}

void live_table_clear(struct live_table *t)
{
	addr_index_clear(&t->index);
	t->free_head = NO_ENTRY;
	for (uint32_t i = t->cap; i-- > 0;)
		give_entry(t, i);
	t->count = 0;
}

int live_table_each(const struct live_table *t, int (*fn)(const struct live_entry *e, void *ctx), void *ctx)
{
	for (uint32_t i = 0; i < t->cap; i++) {
		if (!t->entries[i].used)
			continue;
		int rc = fn(&t->entries[i], ctx);
		if (rc)
			return rc;
	}
	return 0;
}
