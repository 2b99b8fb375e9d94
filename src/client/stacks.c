/*
 * stacks.c - capturing and remembering allocation call stacks (stacks.h).
 */
#define UNW_LOCAL_ONLY
#include "client/stacks.h"
#include "common/array.h"

#include <libunwind.h>
#include <stdlib.h>
#include <string.h>

#include "ttalloc.h"

#define NO_RECORD UINT32_MAX

__attribute__((noinline)) int stack_capture(uint64_t *ips, int max_depth, int skip)
{
	/* +2: this function and the public ttalloc_report_alloc above it */
	void *frames[PROTO_STACK_MAX_DEPTH + 8];
	int want = max_depth + skip + 2;
	if (want > (int)(sizeof(frames) / sizeof(frames[0])))
		want = (int)(sizeof(frames) / sizeof(frames[0]));
	int n = unw_backtrace(frames, want);
	int first = skip + 2;
	int depth = 0;
	for (int i = first; i < n && depth < max_depth; i++)
		ips[depth++] = (uint64_t)(uintptr_t)frames[i];
	return depth;
}

uint64_t stack_id_of(const uint64_t *ips, int depth)
{
	/* FNV-1a over the addresses, then a final mix */
	uint64_t h = 0xcbf29ce484222325ull;
	for (int i = 0; i < depth; i++) {
		h ^= ips[i];
		h *= 0x100000001b3ull;
	}
	h ^= h >> 33;
	h *= 0xff51afd7ed558ccdull;
	h ^= h >> 33;
	return h ? h : 1;
}

int stack_table_init(struct stack_table *t)
{
	memset(t, 0, sizeof(*t));
	t->generation = 1;
	return addr_index_init(&t->index, 64);
}

void stack_table_release(struct stack_table *t)
{
	addr_index_release(&t->index);
	free(t->records);
	memset(t, 0, sizeof(*t));
}

struct stack_record *stack_table_find(struct stack_table *t, uint64_t id)
{
	uint32_t slot = addr_index_find(&t->index, 0, id, NULL, NULL);
	return slot == ADDR_INDEX_NOT_FOUND ? NULL : &t->records[addr_index_value(&t->index, slot)];
}

struct stack_record *stack_table_intern(struct stack_table *t, uint64_t id, const uint64_t *ips, int depth)
{
	struct stack_record *rec = stack_table_find(t, id);
	if (rec)
		return rec;
	if (ARRAY_RESERVE(t->records, t->cap, (size_t)t->count + 1) < 0)
		return NULL;
	if (addr_index_insert(&t->index, 0, id, t->count) < 0)
		return NULL;
	rec = &t->records[t->count++];
	memset(rec, 0, sizeof(*rec));
	rec->id = id;
	rec->depth = (uint32_t)depth;
	memcpy(rec->ips, ips, (size_t)depth * sizeof(*ips));
	return rec;
}

void stack_table_new_connection(struct stack_table *t)
{
	t->generation++;
}

int stack_needs_definition(const struct stack_table *t, const struct stack_record *rec)
{
	return rec->sent_generation != t->generation;
}

int stack_definition_frames(struct stack_table *t, struct stack_record *rec, int32_t pid, struct proto_msg *frames)
{
	int count = 0;
	for (uint32_t first = 0; first < rec->depth; first += PROTO_STACK_IPS_PER_FRAME) {
		struct proto_msg *m = &frames[count++];
		proto_msg_init(m, PROTO_STACK_DEF, (int32_t)rec->depth);
		m->size = rec->id;
		m->buffer_type = (uint8_t)first;
		m->process_id = pid;
		uint32_t n = rec->depth - first < PROTO_STACK_IPS_PER_FRAME ? rec->depth - first
									    : PROTO_STACK_IPS_PER_FRAME;
		memcpy(m->u.stack.ips, &rec->ips[first], n * sizeof(uint64_t));
	}
	rec->sent_generation = t->generation;
	return count;
}
