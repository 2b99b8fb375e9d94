/*
 * stacks.h - call stacks of allocations, for TT_ALLOC_STACK_TRACE=1.
 *
 * Each ALLOC's stack is captured with libunwind, named by a hash of its
 * return addresses, and defined to the server once per connection with
 * STACK_DEF frames; ALLOCs then carry only the 8-byte id. The table keeps
 * every distinct stack so a new connection (server restart) can be told
 * them again before the live buffers are re-sent. Not thread-safe: the
 * library serialises access, except stack_capture(), which is reentrant.
 */
#ifndef TTALLOC_CLIENT_STACKS_H
#define TTALLOC_CLIENT_STACKS_H

#include <stdint.h>

#include "common/addr_index.h"
#include "common/protocol.h"

struct stack_record {
	uint64_t id;
	uint32_t depth;
	uint32_t sent_generation; /* connection it was last defined on */
	uint64_t ips[PROTO_STACK_MAX_DEPTH];
};

struct stack_table {
	struct addr_index index; /* id -> record */
	struct stack_record *records;
	uint32_t count;
	uint32_t cap;
	uint32_t generation; /* bumped for every new connection */
};

/* Most STACK_DEF frames one stack needs. */
#define STACK_MAX_FRAMES ((PROTO_STACK_MAX_DEPTH + PROTO_STACK_IPS_PER_FRAME - 1) / PROTO_STACK_IPS_PER_FRAME)

/*
 * Captures the caller's caller's stack (skipping `skip` more frames) into
 * ips. Returns the depth (0 when unwinding fails).
 */
int stack_capture(uint64_t *ips, int max_depth, int skip);

/* The id of a stack: a hash of its addresses, never 0. */
uint64_t stack_id_of(const uint64_t *ips, int depth);

/* Prepares an empty table. Returns 0 or TTALLOC_ENOMEM. */
int stack_table_init(struct stack_table *t);

/* Frees the table. */
void stack_table_release(struct stack_table *t);

/* Finds the stack `id` or adds it. Returns NULL when out of memory. */
struct stack_record *stack_table_intern(struct stack_table *t, uint64_t id, const uint64_t *ips, int depth);

/* Finds a stack by id, or NULL. */
struct stack_record *stack_table_find(struct stack_table *t, uint64_t id);

/* Forgets which stacks the server knows: a new connection begins. */
void stack_table_new_connection(struct stack_table *t);

/* 1 when `rec` has not been defined on the current connection yet. */
int stack_needs_definition(const struct stack_table *t, const struct stack_record *rec);

/*
 * Fills STACK_DEF frames for `rec` (depth >= 1; at most STACK_MAX_FRAMES)
 * and marks it defined on the current connection. Returns the number of
 * frames.
 */
int stack_definition_frames(struct stack_table *t, struct stack_record *rec, int32_t pid, struct proto_msg *frames);

#endif /* TTALLOC_CLIENT_STACKS_H */
