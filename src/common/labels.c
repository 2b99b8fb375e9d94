/*
 * labels.c - parsing a label back to its value (labels.h).
 */
#include <string.h>

#include "common/labels.h"

int labels_find(const struct label *table, size_t count, const char *label)
{
	for (size_t i = 0; label && i < count; i++)
		if (table[i].label && strcmp(table[i].label, label) == 0)
			return (int)i;
	return -1;
}
