/*
 * addr_index.c - linear-probing (device, address) multimap (addr_index.h).
 */
#include "common/addr_index.h"

#include <stdlib.h>
#include <string.h>

#include "ttalloc.h"

#define MIN_CAPACITY 64u

static uint32_t home_slot(uint32_t mask, uint32_t device_plus1, uint64_t address)
{
	return addr_index_home(mask, device_plus1, address);
}

static uint32_t capacity_for(uint32_t expected)
{
	uint64_t want = (uint64_t)expected * 4 / 3 + 1;
	uint32_t cap = MIN_CAPACITY;
	while (cap < want && cap < (1u << 31))
		cap <<= 1;
	return cap;
}

int addr_index_init(struct addr_index *ix, uint32_t expected)
{
	uint32_t cap = capacity_for(expected);
	ix->slots = calloc(cap, sizeof(*ix->slots));
	if (!ix->slots)
		return TTALLOC_ENOMEM;
	ix->mask = cap - 1;
	ix->count = 0;
	return 0;
}

void addr_index_release(struct addr_index *ix)
{
	free(ix->slots);
	memset(ix, 0, sizeof(*ix));
}

static void place(struct addr_slot *slots, uint32_t mask, const struct addr_slot *entry)
{
	uint32_t i = home_slot(mask, entry->device_plus1, entry->address);
	while (slots[i].device_plus1)
		i = (i + 1) & mask;
	slots[i] = *entry;
}

/* Doubles the table and re-places every entry. */
static int grow(struct addr_index *ix)
{
	uint32_t old_cap = ix->mask + 1;
	if (old_cap >= (1u << 31))
		return TTALLOC_ENOMEM;
	uint32_t new_cap = old_cap * 2;
	struct addr_slot *slots = calloc(new_cap, sizeof(*slots));
	if (!slots)
		return TTALLOC_ENOMEM;
	for (uint32_t i = 0; i < old_cap; i++)
		if (ix->slots[i].device_plus1)
			place(slots, new_cap - 1, &ix->slots[i]);
	free(ix->slots);
	ix->slots = slots;
	ix->mask = new_cap - 1;
	return 0;
}

/* 1 when one more entry would fill the table beyond 3/4. */
static int needs_growth(const struct addr_index *ix)
{
	return (uint64_t)(ix->count + 1) * 4 > (uint64_t)(ix->mask + 1) * 3;
}

int addr_index_insert(struct addr_index *ix, int device, uint64_t address, uint32_t value)
{
	if (needs_growth(ix)) {
		int rc = grow(ix);
		if (rc < 0)
			return rc;
	}
	struct addr_slot entry = {address, (uint32_t)device + 1u, value};
	place(ix->slots, ix->mask, &entry);
	ix->count++;
	return 0;
}

int addr_index_insert_at(struct addr_index *ix, uint32_t hole, int device, uint64_t address, uint32_t value)
{
	if (needs_growth(ix) || ix->slots[hole].device_plus1)
		return addr_index_insert(ix, device, address, value); /* the hole moves when the table grows */
	ix->slots[hole] = (struct addr_slot){address, (uint32_t)device + 1u, value};
	ix->count++;
	return 0;
}

void addr_index_remove(struct addr_index *ix, uint32_t hole)
{
	uint32_t mask = ix->mask;
	uint32_t next = (hole + 1) & mask;
	/* Backward-shift: move up each later entry of the cluster whose home
	 * slot lies at or before the hole (cyclically), so no probe sequence
	 * crosses an empty slot. */
	while (ix->slots[next].device_plus1) {
		uint32_t home = home_slot(mask, ix->slots[next].device_plus1, ix->slots[next].address);
		if (((next - home) & mask) >= ((next - hole) & mask)) {
			ix->slots[hole] = ix->slots[next];
			hole = next;
		}
		next = (next + 1) & mask;
	}
	memset(&ix->slots[hole], 0, sizeof(ix->slots[hole]));
	ix->count--;
}

void addr_index_clear(struct addr_index *ix)
{
	memset(ix->slots, 0, (size_t)(ix->mask + 1) * sizeof(*ix->slots));
	ix->count = 0;
}
