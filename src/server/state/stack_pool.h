/*
 * stack_pool.h - call stacks as text that outlive their process: the
 * symbolized stacks that post-mortems, misuse entries, diffs and flame
 * graphs name, each distinct text kept once under a small id.
 *
 * Invariants:
 *  - An id, once given, names the same text until the pool is released
 *    (texts are never dropped: the pool only grows, up to its limits).
 *  - At most STACK_POOL_MAX_TEXTS texts and STACK_POOL_MAX_BYTES bytes of
 *    text; beyond them stacks_pool_intern answers STACK_POOL_NONE (the
 *    stack is then shown as unknown) and counts the refusal.
 *  - Text is what stacks_format writes with an empty indent: one
 *    "at function (file:line)" line per frame, innermost first.
 */
#ifndef TTALLOC_STATE_STACK_POOL_H
#define TTALLOC_STATE_STACK_POOL_H

#include <stddef.h>
#include <stdint.h>

#include "common/addr_index.h"

#define STACK_POOL_NONE UINT32_MAX
#define STACK_POOL_MAX_TEXTS 65536u
#define STACK_POOL_MAX_BYTES (32u << 20)

struct stack_pool {
	struct addr_index index; /* hash of the text -> id */
	char **texts;
	uint32_t count;
	uint32_t cap;
	uint64_t bytes;   /* text kept */
	uint64_t refused; /* texts not kept: a limit was reached */
};

/* Prepares an empty pool. Returns 0 or TTALLOC_ENOMEM. */
int stack_pool_init(struct stack_pool *p);

/* Frees every text. */
void stack_pool_release(struct stack_pool *p);

/* The id of `text` (added when new), or STACK_POOL_NONE for NULL, "" or a full pool. */
uint32_t stack_pool_intern(struct stack_pool *p, const char *text);

/* The text of `id`, or NULL for STACK_POOL_NONE (or an id never given). */
const char *stack_pool_text(const struct stack_pool *p, uint32_t id);

#endif /* TTALLOC_STATE_STACK_POOL_H */
