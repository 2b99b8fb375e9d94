/*
 * diff.c - the changes between two marks (diff.h).
 */
#include "server/state/diff.h"

#include <string.h>

#include "common/array.h"
#include "common/errors.h"
#include "server/state/state.h"

struct item_list {
	struct diff_item *items;
	size_t n, cap;
};

static int append(struct item_list *l, const struct diff_item *it)
{
	if (ARRAY_RESERVE(l->items, l->cap, l->n + 1) < 0)
		return TTALLOC_ENOMEM;
	l->items[l->n++] = *it;
	return 0;
}

static struct diff_item item_of(pid_t pid, const char *comm, int device, int type, uint64_t address, uint64_t size,
				const char *stack, int freed)
{
	struct diff_item it = {.pid = pid,
			       .device = device,
			       .type = type,
			       .address = address,
			       .size = size,
			       .buffers = 1,
			       .stack = stack,
			       .freed = freed};
	memcpy(it.comm, comm, sizeof(it.comm));
	return it;
}

/* Live buffers allocated inside the span. */
static int collect_live(struct state *st, const struct diff_span *span, struct item_list *l)
{
	struct registry *r = &st->registry;
	REGISTRY_FOR_EACH_PROCESS (r, p) {
		struct process_record *rec = registry_process(r, p);
		if (span->pid && rec->pid != span->pid)
			continue;
		REGISTRY_FOR_EACH_BUFFER (r, p, b) {
			const struct live_buffer *buf = registry_buffer(r, b);
			if (buf->kind != REGISTRY_KIND_BUFFER || buf->alloc_ns <= span->from_ns ||
			    buf->alloc_ns > span->to_ns)
				continue;
			const char *stack = stack_pool_text(&st->stack_pool,
							    stacks_pool_id(rec->stacks, buf->stack, &st->stack_pool));
			struct diff_item it = item_of(rec->pid, rec->comm, buf->device, buf->type, buf->address,
						      buf->size, stack, 0);
			if (append(l, &it) < 0)
				return TTALLOC_ENOMEM;
		}
	}
	return 0;
}

/* Gone buffers: allocated inside the span and gone after it, or live at its start and gone inside it. */
static int collect_gone(struct state *st, const struct diff_span *span, struct item_list *l)
{
	const struct marks *m = &st->marks;
	for (uint32_t i = 0; i < m->jcount; i++) {
		const struct journal_entry *e = marks_journal_get(m, i);
		if (span->pid && e->pid != span->pid)
			continue;
		int appeared = e->alloc_ns > span->from_ns && e->alloc_ns <= span->to_ns && e->free_ns > span->to_ns;
		int went = e->alloc_ns <= span->from_ns && e->free_ns > span->from_ns && e->free_ns <= span->to_ns;
		if (!appeared && !went)
			continue;
		struct diff_item it = item_of(e->pid, e->comm, e->device, e->type, e->address, e->size,
					      stack_pool_text(&st->stack_pool, e->stack), went);
		if (append(l, &it) < 0)
			return TTALLOC_ENOMEM;
	}
	return 0;
}

int diff_collect(struct state *st, const struct diff_span *span, struct diff_item **items, size_t *n, int *exact)
{
	struct item_list l = {0};
	int rc = collect_live(st, span, &l);
	if (rc == 0)
		rc = collect_gone(st, span, &l);
	*items = l.items;
	*n = l.n;
	*exact = st->marks.horizon_ns <= span->from_ns;
	return rc;
}
