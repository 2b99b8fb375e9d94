/*
 * stacks.c - per-process call stacks and module maps (see stacks.h).
 */
#define _GNU_SOURCE
#include "server/state/stacks.h"
#include "common/array.h"

#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/log.h"
#include "server/state/stack_pool.h"
#include "server/state/symbolize.h"

struct process_stacks *stacks_create(pid_t pid)
{
	struct process_stacks *ps = calloc(1, sizeof(*ps));
	if (!ps)
		return NULL;
	ps->pid = pid;
	if (addr_index_init(&ps->index, 64) < 0) {
		free(ps);
		return NULL;
	}
	return ps;
}

static void free_modules(struct process_stacks *ps)
{
	for (uint32_t i = 0; i < ps->module_count; i++)
		free(ps->modules[i].path);
	free(ps->modules);
	ps->modules = NULL;
	ps->module_count = 0;
	symbolizer_destroy(ps->symbolizer);
	ps->symbolizer = NULL;
}

void stacks_destroy(struct process_stacks *ps)
{
	if (!ps)
		return;
	free_modules(ps);
	addr_index_release(&ps->index);
	for (uint32_t i = 0; i < ps->count; i++)
		free(ps->stacks[i].text);
	free(ps->stacks);
	free(ps->pooled);
	free(ps);
}

/* ---- module map from /proc/PID/maps ---- */

struct mapping {
	uint64_t start, end, offset;
	int executable;
	char path[256];
};

static int parse_mapping(const char *line, struct mapping *m)
{
	char perms[8];
	int path_at = 0;
	unsigned long long start, end, offset;
	if (sscanf(line, "%llx-%llx %7s %llx %*s %*s %n", &start, &end, perms, &offset, &path_at) < 4)
		return -1;
	m->start = start;
	m->end = end;
	m->offset = offset;
	m->executable = strchr(perms, 'x') != NULL;
	snprintf(m->path, sizeof(m->path), "%s", path_at ? line + path_at : "");
	m->path[strcspn(m->path, "\n")] = '\0';
	return m->path[0] == '/' ? 0 : -1; /* files only */
}

/* Where offset 0 of `path` is mapped: the load base of that module. */
static uint64_t base_of(const struct mapping *maps, size_t count, const char *path, uint64_t fallback)
{
	for (size_t i = 0; i < count; i++)
		if (maps[i].offset == 0 && strcmp(maps[i].path, path) == 0)
			return maps[i].start;
	return fallback;
}

static void read_modules(struct process_stacks *ps)
{
	char file[64], line[512];
	snprintf(file, sizeof(file), "/proc/%d/maps", (int)ps->pid);
	FILE *f = fopen(file, "re");
	if (!f)
		return;
	struct mapping *maps = NULL;
	size_t count = 0, cap = 0;
	while (fgets(line, sizeof(line), f)) {
		if (ARRAY_RESERVE(maps, cap, count + 1) < 0)
			break;
		if (parse_mapping(line, &maps[count]) == 0)
			count++;
	}
	fclose(f);
	free_modules(ps);
	size_t exec = 0;
	for (size_t i = 0; i < count; i++)
		exec += maps[i].executable;
	ps->modules = exec ? calloc(exec, sizeof(*ps->modules)) : NULL;
	for (size_t i = 0; ps->modules && i < count; i++) {
		if (!maps[i].executable)
			continue;
		struct module_span *span = &ps->modules[ps->module_count];
		span->path = strdup(maps[i].path);
		if (!span->path)
			continue;
		span->start = maps[i].start;
		span->end = maps[i].end;
		span->base = base_of(maps, count, maps[i].path, maps[i].start - maps[i].offset);
		ps->module_count++;
	}
	free(maps);
}

static int covered(const struct process_stacks *ps, uint64_t ip)
{
	for (uint32_t i = 0; i < ps->module_count; i++)
		if (ip >= ps->modules[i].start && ip < ps->modules[i].end)
			return 1;
	return 0;
}

/* Re-reads the maps when a completed stack names an unknown address. */
static void learn_modules(struct process_stacks *ps, const struct known_stack *st)
{
	for (uint32_t i = 0; i < st->depth; i++) {
		if (!covered(ps, st->ips[i])) {
			read_modules(ps);
			return;
		}
	}
}

/* ---- STACK_DEF ---- */

static struct known_stack *find_any(const struct process_stacks *ps, uint64_t id)
{
	uint32_t slot = addr_index_find(&ps->index, 0, id, NULL, NULL);
	return slot == ADDR_INDEX_NOT_FOUND ? NULL : &ps->stacks[addr_index_value(&ps->index, slot)];
}

static struct known_stack *add_stack(struct process_stacks *ps, uint64_t id, uint32_t depth)
{
	if (ps->count >= STACKS_MAX_PER_PROCESS)
		return NULL;
	uint32_t cap = ps->cap;
	if (ARRAY_RESERVE(ps->stacks, ps->cap, (size_t)ps->count + 1) < 0)
		return NULL;
	if (ps->cap != cap) { /* the pool-id cache follows the stacks' capacity */
		uint32_t *pooled = realloc(ps->pooled, ps->cap * sizeof(*pooled));
		if (!pooled)
			return NULL;
		for (uint32_t i = cap; i < ps->cap; i++)
			pooled[i] = STACK_POOL_NONE;
		ps->pooled = pooled;
	}
	if (addr_index_insert(&ps->index, 0, id, ps->count) < 0)
		return NULL;
	struct known_stack *st = &ps->stacks[ps->count++];
	memset(st, 0, sizeof(*st));
	st->id = id;
	st->depth = depth;
	return st;
}

/*
 * The stack a STACK_DEF or STACK_TEXT frame continues (created by its first
 * frame), or NULL with `why`. *done: the stack was complete already (a
 * harmless repeat of the same id: nothing to add).
 */
static struct known_stack *stack_for_frame(struct process_stacks *ps, const struct proto_msg *msg, int text, int *done,
					   const char **why)
{
	uint64_t id = msg->size;
	uint32_t depth = (uint32_t)msg->device_id, first = msg->buffer_type;
	*done = 0;
	if (id == 0 || msg->device_id < 1 || depth > PROTO_STACK_MAX_DEPTH || first >= depth) {
		*why = "stack id 0, or depth or index out of range";
		return NULL;
	}
	struct known_stack *st = find_any(ps, id);
	if (!st) {
		if (first != 0) {
			*why = "continuation of a stack that was never started";
			return NULL;
		}
		st = add_stack(ps, id, depth);
		if (!st) {
			*why = "too many distinct stacks for this process";
			return NULL;
		}
		if (text && !(st->text = calloc(1, 1))) {
			*why = "out of memory";
			return NULL;
		}
	}
	if ((st->text != NULL) != text) {
		*why = "stack id used both for addresses (STACK_DEF) and text (STACK_TEXT)";
		return NULL;
	}
	if (st->depth != depth || first != st->received) {
		/* A complete stack defined again (same id) is harmless. */
		*done = st->received == st->depth && st->depth == depth;
		*why = "stack frames out of order";
		return *done ? st : NULL;
	}
	return st;
}

int stacks_define(struct process_stacks *ps, const struct proto_msg *msg, const char **why)
{
	int done;
	struct known_stack *st = stack_for_frame(ps, msg, 0, &done, why);
	if (!st || done)
		return st ? 0 : -1;
	uint32_t depth = st->depth, first = st->received;
	uint32_t n = depth - first < PROTO_STACK_IPS_PER_FRAME ? depth - first : PROTO_STACK_IPS_PER_FRAME;
	memcpy(&st->ips[first], msg->u.stack.ips, n * sizeof(uint64_t));
	st->received += n;
	if (st->received == st->depth)
		learn_modules(ps, st);
	return 0;
}

int stacks_define_text(struct process_stacks *ps, const struct proto_msg *msg, const char **why)
{
	if (!proto_text_valid(msg->u.text.text, sizeof(msg->u.text.text))) {
		*why = "frame text empty, unterminated or holding control characters";
		return -1;
	}
	size_t len = strlen(msg->u.text.text);
	int done;
	struct known_stack *st = stack_for_frame(ps, msg, 1, &done, why);
	if (!st || done)
		return st ? 0 : -1;
	size_t have = strlen(st->text);
	char *grown = realloc(st->text, have + len + 2);
	if (!grown) {
		*why = "out of memory";
		return -1;
	}
	memcpy(grown + have, msg->u.text.text, len);
	grown[have + len] = '\n';
	grown[have + len + 1] = '\0';
	st->text = grown;
	st->received++;
	return 0;
}

uint32_t stacks_find(const struct process_stacks *ps, uint64_t id)
{
	if (!ps || id == 0)
		return STACKS_NONE;
	uint32_t slot = addr_index_find(&ps->index, 0, id, NULL, NULL);
	if (slot == ADDR_INDEX_NOT_FOUND)
		return STACKS_NONE;
	uint32_t index = addr_index_value(&ps->index, slot);
	return ps->stacks[index].received == ps->stacks[index].depth ? index : STACKS_NONE;
}

/* stacks_format for a text stack: its lines, each as "<indent>at <line>". */
static size_t format_text_frames(const char *text, const char *indent, int max_frames, char *out, size_t size)
{
	size_t len = 0;
	for (int i = 0; *text && i < max_frames && len + 1 < size; i++) {
		size_t line = strcspn(text, "\n");
		int n = snprintf(out + len, size - len, "%sat %.*s\n", indent, (int)line, text);
		if (n < 0)
			break;
		len += (size_t)n < size - len ? (size_t)n : size - len - 1;
		text += line + (text[line] == '\n');
	}
	return len;
}

size_t stacks_format(struct process_stacks *ps, uint32_t index, const char *indent, int max_frames, char *out,
		     size_t size)
{
	size_t len = 0;
	if (size)
		out[0] = '\0';
	if (!ps || index >= ps->count || size == 0)
		return 0;
	if (!ps->symbolizer && ps->module_count)
		ps->symbolizer = symbolizer_create(ps->modules, ps->module_count);
	const struct known_stack *st = &ps->stacks[index];
	if (st->text)
		return format_text_frames(st->text, indent, max_frames, out, size);
	for (uint32_t i = 0; i < st->depth && (int)i < max_frames && len + 1 < size; i++) {
		char where[512];
		symbolizer_describe(ps->symbolizer, ps->modules, ps->module_count, st->ips[i], 1, where, sizeof(where));
		int n = snprintf(out + len, size - len, "%sat %s\n", indent, where);
		if (n < 0)
			break;
		len += (size_t)n < size - len ? (size_t)n : size - len - 1;
	}
	return len;
}

void stacks_log(struct process_stacks *ps, uint32_t index, int level, const char *indent, int max_frames)
{
	if (!ps || index == STACKS_NONE)
		return;
	char text[STACKS_SHOWN_FRAMES * 600];
	size_t len = stacks_format(ps, index, indent, max_frames, text, sizeof(text));
	if (len && text[len - 1] == '\n')
		text[len - 1] = '\0';
	if (len)
		log_write((enum log_level)level, "%s", text);
}

void stacks_each_frame(const char *text, void (*fn)(const char *frame, size_t len, void *ctx), void *ctx)
{
	while (text && *text) {
		const char *end = strchr(text, '\n');
		size_t len = end ? (size_t)(end - text) : strlen(text);
		const char *at = text;
		while (at < text + len && *at == ' ')
			at++;
		if ((size_t)(text + len - at) > 3 && strncmp(at, "at ", 3) == 0)
			at += 3;
		fn(at, (size_t)(text + len - at), ctx);
		text += len + (end ? 1 : 0);
	}
}

uint32_t stacks_pool_id(struct process_stacks *ps, uint32_t index, struct stack_pool *pool)
{
	if (!ps || index >= ps->count)
		return STACK_POOL_NONE;
	if (ps->pooled[index] != STACK_POOL_NONE)
		return ps->pooled[index];
	char text[PROTO_STACK_MAX_DEPTH * 600];
	size_t len = stacks_format(ps, index, "", PROTO_STACK_MAX_DEPTH, text, sizeof(text));
	if (len && text[len - 1] == '\n')
		text[len - 1] = '\0';
	ps->pooled[index] = stack_pool_intern(pool, text);
	return ps->pooled[index];
}
