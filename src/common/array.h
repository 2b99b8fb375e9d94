/*
 * array.h - growing an array by doubling: the one way ttalloc grows its
 * tables (registry records, rings, rows, lists), so the overflow checks and
 * the doubling rule are written once.
 *
 *     struct row *rows = NULL; uint32_t count = 0, cap = 0;
 *     if (ARRAY_RESERVE(rows, cap, count + 1) < 0)
 *             return TTALLOC_ENOMEM;
 *     rows[count++] = row;
 *
 * On failure nothing changes: the array and its capacity stay as they were.
 */
#ifndef TTALLOC_ARRAY_H
#define TTALLOC_ARRAY_H

#include <stddef.h>
#include <stdint.h>

/*
 * Makes *items hold at least `need` elements of `elem_size` bytes, doubling
 * *cap from `first` (or from *cap) until it does, without letting the
 * capacity pass `max_cap`. Returns 0, or -1 (nothing changed) when out of
 * memory or when `need` exceeds `max_cap`.
 */
int array_grow(void **items, size_t *cap, size_t need, size_t elem_size, size_t first);

/* array_grow with a limit on the capacity (for counters narrower than size_t). */
int array_grow_max(void **items, size_t *cap, size_t need, size_t elem_size, size_t first, size_t max_cap);

/* Largest value a capacity variable of this size can hold. */
#define ARRAY_CAP_MAX_(cap) (sizeof(cap) >= sizeof(size_t) ? SIZE_MAX / 2 : ((size_t)1 << (8 * sizeof(cap) - 1)) - 1)

/*
 * ARRAY_RESERVE(items, cap, need): grows the array `items` (any pointer
 * lvalue) whose capacity is the unsigned integer lvalue `cap` (any width)
 * to hold `need` elements, starting at 16. Evaluates to 0 or -1.
 */
#define ARRAY_RESERVE(items, cap, need)                                                                  \
	__extension__({                                                                                  \
		size_t array_cap_ = (cap);                                                               \
		void *array_items_ = (items);                                                            \
		int array_rc_ = array_grow_max(&array_items_, &array_cap_, (need), sizeof(*(items)), 16, \
					       ARRAY_CAP_MAX_(cap));                                     \
		(items) = array_items_;                                                                  \
		(cap) = array_cap_;                                                                      \
		array_rc_;                                                                               \
	})

#endif /* TTALLOC_ARRAY_H */
