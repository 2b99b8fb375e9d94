/*
 * stack_pool.c - stack texts kept once each (stack_pool.h).
 */
#include "server/state/stack_pool.h"

#include <stdlib.h>
#include <string.h>

#include "common/array.h"
#include "common/errors.h"

int stack_pool_init(struct stack_pool *p)
{
	memset(p, 0, sizeof(*p));
	return addr_index_init(&p->index, 64) < 0 ? TTALLOC_ENOMEM : 0;
}

void stack_pool_release(struct stack_pool *p)
{
	for (uint32_t i = 0; i < p->count; i++)
		free(p->texts[i]);
	free(p->texts);
	addr_index_release(&p->index);
	memset(p, 0, sizeof(*p));
}

/* FNV-1a over the text: the index key (collisions are told apart by comparing). */
static uint64_t text_hash(const char *text)
{
	uint64_t h = 1469598103934665603ull;
	for (const unsigned char *c = (const unsigned char *)text; *c; c++)
		h = (h ^ *c) * 1099511628211ull;
	return h;
}

struct text_match {
	const struct stack_pool *pool;
	const char *text;
};

static int same_text(uint32_t id, const void *ctx)
{
	const struct text_match *m = ctx;
	return strcmp(m->pool->texts[id], m->text) == 0;
}

uint32_t stack_pool_intern(struct stack_pool *p, const char *text)
{
	if (!text || !*text)
		return STACK_POOL_NONE;
	uint64_t key = text_hash(text);
	struct text_match m = {p, text};
	uint32_t slot = addr_index_find(&p->index, 0, key, same_text, &m);
	if (slot != ADDR_INDEX_NOT_FOUND)
		return addr_index_value(&p->index, slot);
	size_t len = strlen(text);
	if (p->count >= STACK_POOL_MAX_TEXTS || p->bytes + len > STACK_POOL_MAX_BYTES ||
	    ARRAY_RESERVE(p->texts, p->cap, (size_t)p->count + 1) < 0) {
		p->refused++;
		return STACK_POOL_NONE;
	}
	char *copy = strdup(text);
	if (!copy || addr_index_insert(&p->index, 0, key, p->count) < 0) {
		free(copy);
		p->refused++;
		return STACK_POOL_NONE;
	}
	p->texts[p->count] = copy;
	p->bytes += len;
	return p->count++;
}

const char *stack_pool_text(const struct stack_pool *p, uint32_t id)
{
	return id < p->count ? p->texts[id] : NULL;
}
