/*
 * leaks.c - building, printing and keeping leak reports (see leaks.h).
 */
#include "server/state/leaks.h"
#include "common/clock.h"
#include "server/state/state.h"

#include <inttypes.h>
#include <stdlib.h>
#include <string.h>

#include "common/log.h"
#include "server/state/picture.h"
#include "server/state/stacks.h"

/*
 * Symbolizes the stacks of the kept entries now, while the process's module
 * map is at hand: one text per distinct stack, shared by its buffers.
 * `stack_of` holds each entry's stack index in the process's set.
 */
static void attach_stack_texts(struct leak_report *rep, struct process_stacks *ps, const uint32_t *stack_of)
{
	uint32_t *text_of = ps ? malloc(ps->count * sizeof(*text_of)) : NULL;
	char **texts = text_of ? calloc(ps->count, sizeof(*texts)) : NULL;
	for (uint32_t i = 0; i < rep->kept; i++)
		rep->entries[i].stack_text = LEAK_NO_STACK;
	if (!texts) {
		free(text_of);
		return;
	}
	for (uint32_t i = 0; i < ps->count; i++)
		text_of[i] = LEAK_NO_STACK;
	for (uint32_t i = 0; i < rep->kept; i++) {
		uint32_t st = stack_of[i];
		if (st == STACKS_NONE || st >= ps->count)
			continue;
		if (text_of[st] == LEAK_NO_STACK) {
			char text[STACKS_SHOWN_FRAMES * 600];
			size_t len = stacks_format(ps, st, "        ", STACKS_SHOWN_FRAMES, text, sizeof(text));
			if (len && text[len - 1] == '\n')
				text[len - 1] = '\0';
			char *copy = strdup(text);
			if (!copy)
				continue;
			texts[rep->stack_text_count] = copy;
			text_of[st] = rep->stack_text_count++;
		}
		rep->entries[i].stack_text = text_of[st];
	}
	rep->stack_texts = texts;
	free(text_of);
}

int leak_report_build(struct leak_report *rep, const struct registry *r, uint32_t proc, uint64_t now_mono_ns)
{
	const struct process_record *p = &r->processes[proc];
	memset(rep, 0, sizeof(*rep));
	rep->pid = p->pid;
	rep->uid = p->uid;
	memcpy(rep->comm, p->comm, sizeof(rep->comm));
	memcpy(rep->session, p->session, sizeof(rep->session));
	rep->exit_ns = clock_realtime_ns();
	rep->buffers = p->live_buffers;
	uint64_t keep = p->live_buffers < LEAK_KEEP_BUFFERS ? p->live_buffers : LEAK_KEEP_BUFFERS;
	rep->entries = keep ? calloc(keep, sizeof(*rep->entries)) : NULL;
	int rc = (keep && !rep->entries) ? TTALLOC_ENOMEM : 0;
	/* The owner list is newest first; keep the newest `keep` and store them
	 * oldest first, as the seed prints them. */
	uint32_t *stack_of = rep->entries ? malloc(keep * sizeof(*stack_of)) : NULL;
	uint32_t i = 0;
	REGISTRY_FOR_EACH_BUFFER (r, proc, b) {
		const struct live_buffer *buf = registry_buffer(r, b);
		rep->bytes += buf->size;
		rep->device_bytes[buf->device] += buf->size;
		rep->device_buffers[buf->device]++;
		if (rep->entries && i < keep) {
			struct leak_buffer *e = &rep->entries[keep - 1 - i];
			e->address = buf->address;
			e->size = buf->size;
			e->age_ns = now_mono_ns > buf->alloc_ns ? now_mono_ns - buf->alloc_ns : 0;
			e->device = buf->device;
			e->type = buf->type;
			if (stack_of)
				stack_of[keep - 1 - i] = buf->stack;
			i++;
		}
	}
	rep->kept = rep->entries ? (uint32_t)keep : 0;
	if (stack_of && p->stacks)
		attach_stack_texts(rep, p->stacks, stack_of);
	else
		for (uint32_t k = 0; k < rep->kept; k++)
			rep->entries[k].stack_text = LEAK_NO_STACK;
	free(stack_of);
	return rc;
}

void leak_report_print(const struct leak_report *rep, uint32_t max_lines)
{
	log_warn("⚠️  Process %d exited but left %" PRIu64 " buffer%s allocated:", (int)rep->pid, rep->buffers,
		 rep->buffers == 1 ? "" : "s");
	uint32_t shown = rep->kept < max_lines ? rep->kept : max_lines;
	uint64_t shown_bytes = 0;
	for (uint32_t i = 0; i < shown; i++) {
		const struct leak_buffer *e = &rep->entries[i];
		shown_bytes += e->size;
		log_warn("    [Device %d] Buffer 0x%" PRIx64 ": %" PRIu64 " bytes %s (age: %" PRIu64 "s)", e->device,
			 e->address, e->size, proto_buffer_type_name(e->type), (uint64_t)(e->age_ns / 1000000000ull));
		if (e->stack_text != LEAK_NO_STACK)
			log_warn("%s", rep->stack_texts[e->stack_text]);
	}
	if (shown < rep->buffers)
		log_warn("    ... and %" PRIu64 " more buffers (%" PRIu64 " bytes)", rep->buffers - shown,
			 rep->bytes - shown_bytes);
}

void leak_report_release(struct leak_report *rep)
{
	for (uint32_t i = 0; i < rep->stack_text_count; i++)
		free(rep->stack_texts[i]);
	free(rep->stack_texts);
	rep->stack_texts = NULL;
	rep->stack_text_count = 0;
	free(rep->entries);
	rep->entries = NULL;
	rep->kept = 0;
}

int leak_history_init(struct leak_history *h, uint32_t cap)
{
	memset(h, 0, sizeof(*h));
	h->cap = cap ? cap : 1;
	h->reports = calloc(h->cap, sizeof(*h->reports));
	return h->reports ? 0 : TTALLOC_ENOMEM;
}

void leak_history_add(struct leak_history *h, struct leak_report *rep)
{
	for (int d = 0; d < PROTO_MAX_DEVICES; d++) {
		h->leaked_bytes[d] += rep->device_bytes[d];
		h->leaked_buffers[d] += rep->device_buffers[d];
	}
	h->reports_total++;
	rep->id = h->reports_total;
	if (h->count == h->cap) {
		leak_report_release(&h->reports[h->start]);
		h->reports[h->start] = *rep;
		h->start = (h->start + 1) % h->cap;
	} else {
		h->reports[(h->start + h->count) % h->cap] = *rep;
		h->count++;
	}
	memset(rep, 0, sizeof(*rep));
}

const struct leak_report *leak_history_get(const struct leak_history *h, uint32_t i)
{
	return &h->reports[(h->start + i) % h->cap];
}

const struct leak_report *leak_history_find(const struct leak_history *h, uint64_t id)
{
	/* ids are consecutive: the kept ones are the newest `count` */
	uint64_t first = h->reports_total - h->count + 1;
	if (id < first || id > h->reports_total)
		return NULL;
	return leak_history_get(h, (uint32_t)(id - first));
}

void leak_history_release(struct leak_history *h)
{
	for (uint32_t i = 0; i < h->count; i++)
		leak_report_release(&h->reports[(h->start + i) % h->cap]);
	free(h->reports);
	memset(h, 0, sizeof(*h));
}

/* Journals the process's buffers for diffs between marks (picture_buffer_gone): they go with it. */
static void journal_exit(struct state *st, uint32_t proc)
{
	if (!st->marks.last_ns)
		return;
	uint64_t now = clock_monotonic_ns();
	REGISTRY_FOR_EACH_BUFFER (&st->registry, proc, b) {
		picture_buffer_gone(st, proc, registry_buffer(&st->registry, b), now);
	}
}

void leak_process_exit(struct state *st, uint32_t proc)
{
	struct registry *r = &st->registry;
	const struct process_record *rec = registry_process(r, proc);
	journal_exit(st, proc);
	if (rec->live_buffers == 0) {
		/* a monitor that only asked questions is not news (debug level) */
		log_line(rec->reported ? LOG_INFO : LOG_DEBUG, "📤 Process %d (%s) disconnected, no buffers left",
			 (int)rec->pid, rec->comm);
	} else {
		struct leak_report rep;
		leak_report_build(&rep, r, proc, clock_monotonic_ns());
		leak_report_print(&rep, st->leak_lines);
		REGISTRY_FOR_EACH_USAGE (r, proc, u) {
			state_touch(st, u->device);
		}
		uint64_t exit_ns = rep.exit_ns;
		leak_history_add(&st->leaks, &rep);
		if (st->retain_leaks) {
			log_warn("    (kept in the totals as \"exited (leaked)\" until tt_smi --clear-leaks: "
				 "--retain-leaks)");
			registry_retain_exited(r, proc, exit_ns);
			return;
		}
	}
	registry_drop_process(r, proc);
}

uint64_t leaks_clear(struct state *st, uid_t uid, uint32_t *processes)
{
	struct registry *r = &st->registry;
	uint64_t buffers = 0;
	*processes = 0;
	REGISTRY_FOR_EACH_PROCESS (r, p) {
		const struct process_record *rec = registry_process(r, p);
		if (!rec->exited || (uid != PROTO_UID_UNKNOWN && rec->uid != uid))
			continue;
		buffers += rec->live_buffers;
		(*processes)++;
		REGISTRY_FOR_EACH_USAGE (r, p, u) {
			state_touch(st, u->device);
		}
		registry_drop_process(r, p);
	}
	return buffers;
}
