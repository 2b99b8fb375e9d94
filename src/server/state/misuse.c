/*
 * misuse.c - counting, logging and keeping allocator misuse (misuse.h).
 */
#include "server/state/misuse.h"

#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/clock.h"
#include "ttalloc.h"

static const struct label kinds[MISUSE_KINDS] = LABELS_TABLE(MISUSE_KIND_MAP, MISUSE_);

const char *misuse_kind_label(enum misuse_kind kind)
{
	return labels_label(kinds, MISUSE_KINDS, kind, "unknown");
}

void misuse_init(struct misuse_log *log)
{
	memset(log, 0, sizeof(*log));
}

void misuse_release(struct misuse_log *log)
{
	free(log->ring);
	memset(log, 0, sizeof(*log));
}

const struct misuse_entry *misuse_get(const struct misuse_log *log, uint32_t i)
{
	return &log->ring[(log->start + i) % MISUSE_KEEP];
}

/* Logs a stack from the pool under a heading, one line per frame (8 at most). */
static void log_stack(const struct stack_pool *pool, uint32_t id, const char *heading)
{
	const char *text = stack_pool_text(pool, id);
	if (!text)
		return;
	log_warn("    %s", heading);
	for (int i = 0; *text && i < 8; i++) {
		size_t len = strcspn(text, "\n");
		log_warn("      %.*s", (int)len, text);
		text += len + (text[len] == '\n');
	}
}

/* The warning line (and stacks) of one entry. */
static void log_entry(const struct stack_pool *pool, const struct misuse_entry *e)
{
	char detail[160] = "";
	if (e->kind == MISUSE_DOUBLE_FREE)
		snprintf(detail, sizeof(detail), " (first freed %.3f s before)", (double)e->since_ns / 1e9);
	else if (e->kind == MISUSE_WRONG_DEVICE)
		snprintf(detail, sizeof(detail), " (the buffer is on device %d)", e->other_device);
	else if (e->kind == MISUSE_OVERLAPPING_ALLOC)
		snprintf(detail, sizeof(detail), " (the live one, %" PRIu64 " bytes, was %.3f s old)", e->size,
			 (double)e->since_ns / 1e9);
	log_warn("⚠️  Misuse by PID %d (%s): %s: buffer 0x%" PRIx64 " on device %d%s", (int)e->pid, e->comm,
		 kinds[e->kind].words, e->address, e->device, detail);
	log_stack(pool, e->alloc_stack, "allocated at:");
	log_stack(pool, e->first_free_stack, "first freed at:");
	log_stack(pool, e->call_stack, e->kind == MISUSE_OVERLAPPING_ALLOC ? "allocated again at:" : "freed at:");
}

void misuse_record(struct misuse_log *log, const struct stack_pool *pool, struct misuse_entry *e)
{
	if ((unsigned)e->kind >= MISUSE_KINDS)
		return;
	log->total[e->kind]++;
	e->id = ++log->next_id;
	e->time_ns = clock_realtime_ns();
	if (log_enabled(LOG_WARN) && log_budget_take(&log->lines, MISUSE_LINES_PER_SECOND))
		log_entry(pool, e);
	if (!log->ring && !(log->ring = calloc(MISUSE_KEEP, sizeof(*log->ring))))
		return;
	if (log->count == MISUSE_KEEP) {
		log->ring[log->start] = *e;
		log->start = (log->start + 1) % MISUSE_KEEP;
	} else {
		log->ring[(log->start + log->count++) % MISUSE_KEEP] = *e;
	}
}

uint64_t misuse_unprinted(struct misuse_log *log)
{
	return log_budget_expire(&log->lines);
}
