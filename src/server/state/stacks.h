/*
 * stacks.h - the call stacks a process defined with STACK_DEF
 * (TT_ALLOC_STACK_TRACE=1 on the client), kept per process, with the
 * process's executable mappings so addresses can be turned into function,
 * file and line after the process is gone; and stacks a client gave as
 * text, frame by frame (STACK_TEXT: Python's, which no address describes).
 *
 * Invariants:
 *  - A stack is usable (stacks_find) only once all its frames arrived.
 *  - The module map is read from /proc/PID/maps while the process is alive
 *    (when one of its stacks names an address no known mapping covers), so
 *    leak reports can be symbolized after it exits.
 *  - At most STACKS_MAX_PER_PROCESS distinct stacks per process.
 */
#ifndef TTALLOC_SERVER_STACKS_H
#define TTALLOC_SERVER_STACKS_H

#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#include "common/addr_index.h"
#include "common/protocol.h"

#define STACKS_NONE UINT32_MAX
#define STACKS_MAX_PER_PROCESS 65536u

/* An executable file mapping of the process. */
struct module_span {
	uint64_t start;
	uint64_t end;
	uint64_t base; /* address where the file's offset 0 is mapped */
	char *path;
};

struct known_stack {
	uint64_t id;
	uint32_t depth;
	uint32_t received; /* ips (or text frames) filled so far */
	uint64_t ips[PROTO_STACK_MAX_DEPTH];
	char *text; /* STACK_TEXT: the frames so far, one line each ("function (file:line)\n"); NULL: ips */
};

struct symbolizer;

struct process_stacks {
	pid_t pid;
	struct addr_index index; /* id -> stacks[] */
	struct known_stack *stacks;
	uint32_t count;
	uint32_t cap;
	struct module_span *modules;
	uint32_t module_count;
	struct symbolizer *symbolizer; /* built on first use, dropped when modules change */
	uint32_t *pooled;              /* stacks[i]'s id in a stack_pool (stacks_pool_id), cap entries */
};

struct stack_pool;

/* A new, empty set for `pid`, or NULL when out of memory. */
struct process_stacks *stacks_create(pid_t pid);

/* Frees the set (NULL is fine). */
void stacks_destroy(struct process_stacks *ps);

/*
 * Applies one STACK_DEF frame. Returns 0, or -1 when the frame is malformed
 * (bad depth or index, id 0, frames out of order) or a limit is reached;
 * `why` then names the problem.
 */
int stacks_define(struct process_stacks *ps, const struct proto_msg *msg, const char **why);

/*
 * Applies one STACK_TEXT frame (header: size = stack id, device_id = depth,
 * buffer_type = index of the frame; u.text = "function (file:line)").
 * Frames come in order, innermost first. Returns 0, or -1 with `why`.
 */
int stacks_define_text(struct process_stacks *ps, const struct proto_msg *msg, const char **why);

/* Index of the complete stack `id`, or STACKS_NONE. */
uint32_t stacks_find(const struct process_stacks *ps, uint64_t id);

/*
 * Appends the stack at `index` to `out` as lines "<indent>at FUNCTION
 * (FILE:LINE)" (or "<indent>at 0xADDR (MODULE+0xOFFSET)" without debug
 * info), at most `max_frames` lines. Returns the length written (always
 * NUL-terminated, truncated to `size`).
 */
size_t stacks_format(struct process_stacks *ps, uint32_t index, const char *indent, int max_frames, char *out,
		     size_t size);

/*
 * Logs the stack at `index` line by line at `level` (see stacks_format),
 * whatever the log level: the caller decided (log_enabled, or a client's
 * own level). Does nothing for STACKS_NONE or a NULL set.
 */
void stacks_log(struct process_stacks *ps, uint32_t index, int level, const char *indent, int max_frames);

/*
 * Calls fn for each frame of a text written by stacks_format, with the
 * indent and "at " removed: "function (file:line)", `len` bytes, not
 * NUL-terminated.
 */
void stacks_each_frame(const char *text, void (*fn)(const char *frame, size_t len, void *ctx), void *ctx);

/* Frames shown per stack in logs and leak reports. */
#define STACKS_SHOWN_FRAMES 8

/*
 * The id in `pool` of the stack at `index`, symbolized with every frame
 * (once per stack: the id is cached), or STACK_POOL_NONE for STACKS_NONE,
 * a NULL set or a full pool. The id outlives the process.
 */
uint32_t stacks_pool_id(struct process_stacks *ps, uint32_t index, struct stack_pool *pool);

#endif /* TTALLOC_SERVER_STACKS_H */
