/*
 * array.c - array_grow (array.h).
 */
#include "common/array.h"

#include <stdlib.h>

int array_grow_max(void **items, size_t *cap, size_t need, size_t elem_size, size_t first, size_t max_cap)
{
	if (need <= *cap)
		return 0;
	if (need > max_cap || elem_size == 0 || need > SIZE_MAX / elem_size)
		return -1;
	size_t grown_cap = *cap ? *cap : (first ? first : 1);
	while (grown_cap < need)
		grown_cap = grown_cap > max_cap / 2 ? max_cap : grown_cap * 2;
	if (grown_cap > SIZE_MAX / elem_size)
		grown_cap = need;
	void *grown = realloc(*items, grown_cap * elem_size);
	if (!grown)
		return -1;
	*items = grown;
	*cap = grown_cap;
	return 0;
}

int array_grow(void **items, size_t *cap, size_t need, size_t elem_size, size_t first)
{
	return array_grow_max(items, cap, need, elem_size, first, SIZE_MAX);
}
