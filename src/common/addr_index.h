/*
 * addr_index.h - an open-addressing hash index from (device, address) to a
 * 32-bit value, used by the server's registry and the client's live table.
 *
 * Invariants:
 *  - Linear probing in a power-of-two table kept at most 3/4 full; removal
 *    shifts later entries back (no tombstones), so lookups stay short and a
 *    table never degrades under churn.
 *  - It is a multimap: several entries may share a key (two processes can
 *    each believe they own the same address on a device). Lookups take an
 *    optional predicate that picks among them.
 *  - Memory: 16 bytes per slot; no allocation per insert except when the
 *    table doubles.
 */
#ifndef TTALLOC_ADDR_INDEX_H
#define TTALLOC_ADDR_INDEX_H

#include <stddef.h>
#include <stdint.h>

struct addr_slot {
	uint64_t address;
	uint32_t device_plus1; /* 0: empty slot */
	uint32_t value;
};

struct addr_index {
	struct addr_slot *slots;
	uint32_t mask;  /* capacity - 1 */
	uint32_t count; /* entries stored */
};

#define ADDR_INDEX_NOT_FOUND UINT32_MAX

/* Picks among entries with the same key; returns 1 to accept `value`. */
typedef int (*addr_index_match_fn)(uint32_t value, const void *ctx);

/* Allocates room for about `expected` entries. Returns 0 or TTALLOC_ENOMEM. */
int addr_index_init(struct addr_index *ix, uint32_t expected);

/* Frees the table; the struct may be initialised again. */
void addr_index_release(struct addr_index *ix);

/* Adds an entry (duplicates allowed). Returns 0 or TTALLOC_ENOMEM. */
int addr_index_insert(struct addr_index *ix, int device, uint64_t address, uint32_t value);

/* A 64-bit mixer (splitmix64 finaliser): device addresses are aligned and
 * clustered, so their low bits alone would pile into a few slots. */
static inline uint64_t addr_index_mix(uint64_t x)
{
	x ^= x >> 30;
	x *= 0xbf58476d1ce4e5b9ull;
	x ^= x >> 27;
	x *= 0x94d049bb133111ebull;
	x ^= x >> 31;
	return x;
}

/* Where a key's probe sequence starts. */
static inline uint32_t addr_index_home(uint32_t mask, uint32_t device_plus1, uint64_t address)
{
	return (uint32_t)addr_index_mix(address ^ ((uint64_t)device_plus1 << 56) ^ device_plus1) & mask;
}

/*
 * Slot number of the first entry with this key that `match` accepts (any
 * entry when match is NULL), or ADDR_INDEX_NOT_FOUND. When not found and
 * `hole` is not NULL, *hole is the empty slot that ends the key's probe
 * sequence: where addr_index_insert_at puts the key (valid until the index
 * next changes). Inline, so that a `match` known at the call site is
 * inlined into the probe loop (the server's hottest path).
 */
static inline uint32_t addr_index_find_or_hole(const struct addr_index *ix, int device, uint64_t address,
					       addr_index_match_fn match, const void *ctx, uint32_t *hole)
{
	uint32_t device_plus1 = (uint32_t)device + 1u;
	uint32_t i = addr_index_home(ix->mask, device_plus1, address);
	while (ix->slots[i].device_plus1) {
		const struct addr_slot *s = &ix->slots[i];
		if (s->address == address && s->device_plus1 == device_plus1 && (!match || match(s->value, ctx)))
			return i;
		i = (i + 1) & ix->mask;
	}
	if (hole)
		*hole = i;
	return ADDR_INDEX_NOT_FOUND;
}

/* addr_index_find_or_hole without the hole. */
static inline uint32_t addr_index_find(const struct addr_index *ix, int device, uint64_t address,
				       addr_index_match_fn match, const void *ctx)
{
	return addr_index_find_or_hole(ix, device, address, match, ctx, NULL);
}

/*
 * Adds an entry at the hole addr_index_find_or_hole just gave for this key
 * (or wherever it belongs when the table must grow first). Returns 0 or
 * TTALLOC_ENOMEM.
 */
int addr_index_insert_at(struct addr_index *ix, uint32_t hole, int device, uint64_t address, uint32_t value);

/* Value stored in a slot returned by addr_index_find. */
static inline uint32_t addr_index_value(const struct addr_index *ix, uint32_t slot)
{
	return ix->slots[slot].value;
}

/* Replaces the value of a found slot. */
static inline void addr_index_set_value(struct addr_index *ix, uint32_t slot, uint32_t value)
{
	ix->slots[slot].value = value;
}

/* Removes the entry in a slot returned by addr_index_find. */
void addr_index_remove(struct addr_index *ix, uint32_t slot);

/* Removes every entry, keeping the allocation. */
void addr_index_clear(struct addr_index *ix);

#endif /* TTALLOC_ADDR_INDEX_H */
