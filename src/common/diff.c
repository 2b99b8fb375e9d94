/*
 * diff.c - grouping what changed (diff.h): the items are sorted by the
 * group's key, runs are added up, the groups sorted by growth.
 */
#define _GNU_SOURCE
#include "common/diff.h"

#include <stdlib.h>
#include <string.h>

#include "ttalloc.h"

static int compare_stack(const char *a, const char *b)
{
	if (a == b)
		return 0;
	if (!a || !b)
		return a ? 1 : -1;
	return strcmp(a, b);
}

/* Orders items by the group key of `by` (qsort_r's context). */
static int compare_key(const struct diff_item *a, const struct diff_item *b, enum diff_by by)
{
	switch (by) {
	case DIFF_BY_PROCESS:
		return a->pid < b->pid ? -1 : a->pid > b->pid;
	case DIFF_BY_TYPE:
		return a->type < b->type ? -1 : a->type > b->type;
	default:
		return compare_stack(a->stack, b->stack);
	}
}

static int by_key(const void *x, const void *y, void *ctx)
{
	return compare_key(*(const struct diff_item *const *)x, *(const struct diff_item *const *)y,
			   *(const enum diff_by *)ctx);
}

static int by_growth(const void *x, const void *y)
{
	const struct diff_total *a = x, *b = y;
	if (a->growth != b->growth)
		return a->growth > b->growth ? -1 : 1;
	if (a->allocated_bytes != b->allocated_bytes)
		return a->allocated_bytes > b->allocated_bytes ? -1 : 1;
	if (a->pid != b->pid)
		return a->pid < b->pid ? -1 : 1;
	return a->type < b->type ? -1 : a->type > b->type;
}

static void add_item(struct diff_total *t, const struct diff_item *it)
{
	if (it->freed) {
		t->freed_bytes += it->size;
		t->freed_buffers += it->buffers;
	} else {
		t->allocated_bytes += it->size;
		t->allocated_buffers += it->buffers;
	}
	t->growth = (int64_t)t->allocated_bytes - (int64_t)t->freed_bytes;
}

int diff_totals(const struct diff_item *items, size_t n, enum diff_by by, struct diff_total **totals, size_t *count)
{
	*totals = NULL;
	*count = 0;
	if (!n)
		return 0;
	const struct diff_item **order = malloc(n * sizeof(*order));
	struct diff_total *out = calloc(n, sizeof(*out));
	if (!order || !out) {
		free(order);
		free(out);
		return TTALLOC_ENOMEM;
	}
	for (size_t i = 0; i < n; i++)
		order[i] = &items[i];
	qsort_r(order, n, sizeof(*order), by_key, &by);
	size_t groups = 0;
	for (size_t i = 0; i < n; i++) {
		if (i == 0 || compare_key(order[i - 1], order[i], by) != 0) {
			struct diff_total *t = &out[groups++];
			t->pid = order[i]->pid;
			t->comm = order[i]->comm;
			t->type = order[i]->type;
			t->stack = order[i]->stack;
		}
		add_item(&out[groups - 1], order[i]);
	}
	free(order);
	qsort(out, groups, sizeof(*out), by_growth);
	*totals = out;
	*count = groups;
	return 0;
}

static int by_size(const void *x, const void *y)
{
	const struct diff_item *a = x, *b = y;
	if (a->freed != b->freed)
		return a->freed - b->freed;
	if (a->size != b->size)
		return a->size > b->size ? -1 : 1;
	if (a->pid != b->pid)
		return a->pid < b->pid ? -1 : 1;
	return a->address < b->address ? -1 : a->address > b->address;
}

void diff_sort_items(struct diff_item *items, size_t n)
{
	if (n)
		qsort(items, n, sizeof(*items), by_size);
}
