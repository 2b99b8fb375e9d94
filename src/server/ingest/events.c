/*
 * events.c - what a client reports: ALLOC and FREE (from a frame or the
 * shared-memory ring), upstream tt-metal's CB and kernel records, and the
 * call stacks later ALLOCs name (STACK_DEF). Each is validated, applied to
 * the registry and counted; mistakes are logged with the sender's real PID
 * and counted, never answered (protocol.h).
 */
#include <inttypes.h>
#include <stdio.h>
#include <string.h>

#include "common/clock.h"
#include "common/log.h"
#include "server/ingest/client.h"
#include "server/ingest/handlers.h"
#include "server/state/picture.h"

/* ---- validation ---- */

static int valid_alloc(struct client *cl, const struct proto_msg *msg, const struct device *dev)
{
	if (!proto_buffer_type_valid(msg->buffer_type)) {
		client_error(cl, PROTO_ERR_BAD_BUFFER_TYPE, "ALLOC with buffer type %u at 0x%" PRIx64, msg->buffer_type,
			     msg->buffer_id);
		return 0;
	}
	uint64_t cap = picture_capacity(dev, msg->buffer_type);
	if (msg->size == 0 || msg->size > cap) {
		client_error(cl, PROTO_ERR_BAD_SIZE,
			     "ALLOC of %" PRIu64 " bytes %s on device %d (capacity %" PRIu64 ")", msg->size,
			     proto_buffer_type_name(msg->buffer_type), msg->device_id, cap);
		return 0;
	}
	return 1;
}

/* 1 when this event's line should be printed. */
static int event_line(struct client *cl)
{
	return client_logs(cl, LOG_INFO) && log_budget_take(&cl->ingest->event_lines, EVENT_LINES_PER_SECOND);
}

/* ---- ALLOC / FREE ---- */

/* When a socket frame's buffer was allocated (clock_alloc_mono_ns: the same rule as the ring's). */
static uint64_t alloc_time(const struct proto_msg *msg)
{
	return clock_alloc_mono_ns(msg->timestamp, clock_monotonic_ns(), clock_realtime_ns());
}

/*
 * --max-buffers-per-process: a new buffer beyond the limit is refused and
 * counted (`limit`); the first refusal of a connection is logged, later ones
 * only counted. An ALLOC at an address the process already holds replaces
 * a record and stays allowed.
 */
static int within_buffer_limit(struct client *cl, const struct proto_msg *msg)
{
	struct state *st = client_state(cl);
	const struct process_record *rec = registry_process(&st->registry, cl->proc);
	if (rec->live_buffers < cl->ingest->config.max_buffers_per_process ||
	    registry_holds(&st->registry, cl->proc, msg->device_id, msg->buffer_id))
		return 1;
	cl->ingest->stats.errors[PROTO_ERR_LIMIT]++;
	if (!cl->limit_logged) {
		cl->limit_logged = 1;
		log_error("❌ PID %d: %s: ALLOC of buffer 0x%" PRIx64 " refused: the process holds %" PRIu64
			  " live buffers, the limit (--max-buffers-per-process); further ALLOCs over it "
			  "from this connection are counted, not logged",
			  (int)cl->conn.pid, proto_error_description(PROTO_ERR_LIMIT), msg->buffer_id,
			  rec->live_buffers);
	}
	return 0;
}

/*
 * The time a new buffer is recorded with: the client's, but never before
 * the newest mark it was applied after (marks.h), unless a resync re-sends
 * an old buffer.
 */
static uint64_t ordered_alloc_time(struct state *st, const struct proto_msg *msg, uint64_t alloc_mono_ns)
{
	return msg->u.alloc.flags & PROTO_ALLOC_RESYNC ? alloc_mono_ns : marks_order(&st->marks, alloc_mono_ns);
}

/* Logs an ALLOC line (within the per-second budget) and, at debug level, its stack. */
static void alloc_line(struct client *cl, const struct proto_msg *msg, struct process_record *rec, uint32_t stack)
{
	if (!event_line(cl))
		return;
	log_write(LOG_INFO, "[Device %d] ALLOC: %" PRIu64 " bytes %s by PID %d (buffer 0x%" PRIx64 ")", msg->device_id,
		  msg->size, proto_buffer_type_name(msg->buffer_type), (int)cl->conn.pid, msg->buffer_id);
	if (client_logs(cl, LOG_DEBUG)) {
		if (stack == STACKS_NONE) {
			log_write(LOG_DEBUG, "  └─ Stack trace: [enabled with TT_ALLOC_STACK_TRACE=1]");
		} else {
			log_write(LOG_DEBUG, "  └─ Stack trace:");
			stacks_log(rec->stacks, stack, LOG_DEBUG, "       ", STACKS_SHOWN_FRAMES);
		}
	}
}

void events_alloc(struct client *cl, const struct proto_msg *msg, uint64_t alloc_mono_ns)
{
	client_announce(cl);
	struct state *st = client_state(cl);
	struct device *dev = client_valid_device(cl, msg);
	if (!dev || !client_valid_pid_field(cl, msg) || !valid_alloc(cl, msg, dev) || !within_buffer_limit(cl, msg))
		return;
	struct process_record *rec = registry_process(&st->registry, cl->proc);
	uint32_t stack = msg->u.alloc.stack_id ? stacks_find(rec->stacks, msg->u.alloc.stack_id) : STACKS_NONE;
	uint64_t when = ordered_alloc_time(st, msg, alloc_mono_ns);
	struct live_buffer previous;
	struct registry_origin origin = {.alloc_ns = when, .stack = stack, .source = cl->source, .previous = &previous};
	enum registry_result rc = registry_alloc_from(&st->registry, cl->proc, msg->device_id, msg->buffer_type,
						      msg->buffer_id, msg->size, &origin);
	if (rc == REGISTRY_NOMEM) {
		client_error(cl, PROTO_ERR_LIMIT, "out of memory recording buffer 0x%" PRIx64, msg->buffer_id);
		return;
	}
	if (rc == REGISTRY_REPLACED) {
		client_error(cl, PROTO_ERR_DUPLICATE_ALLOC,
			     "buffer 0x%" PRIx64 " on device %d was already live; its FREE was never "
			     "reported (record replaced)",
			     msg->buffer_id, msg->device_id);
		picture_buffer_gone(st, cl->proc, &previous, when);
		diag_overlapping_alloc(cl, msg, &previous, stack, when);
	}
	struct flight_event ev = {.address = msg->buffer_id,
				  .size = msg->size,
				  .time_ns = when,
				  .stack = stack,
				  .call_stack = stack,
				  .kind = FLIGHT_ALLOC,
				  .type = msg->buffer_type,
				  .device = (uint16_t)msg->device_id};
	flight_note(&rec->flight, &ev);
	state_touch(st, msg->device_id);
	alloc_line(cl, msg, rec, stack);
}

void on_alloc(struct client *cl, const struct proto_msg *msg)
{
	events_alloc(cl, msg, alloc_time(msg));
}

void on_free(struct client *cl, const struct proto_msg *msg)
{
	events_free(cl, msg, 0);
}

/* STACK_DEF: part of a call stack that later ALLOCs of this process name. */
void on_stack_def(struct client *cl, const struct proto_msg *msg)
{
	client_announce(cl);
	if (client_valid_pid_field(cl, msg))
		client_define_stack(cl, msg, stacks_define);
}

/* A FREE that released `freed`: the flight recorder, the journal and the event line. */
static void freed_buffer(struct client *cl, const struct proto_msg *msg, const struct live_buffer *freed,
			 uint32_t call_stack, uint64_t now)
{
	struct state *st = client_state(cl);
	struct process_record *rec = registry_process(&st->registry, cl->proc);
	struct flight_event ev = {.address = freed->address,
				  .size = freed->size,
				  .time_ns = now,
				  .stack = freed->stack,
				  .call_stack = call_stack,
				  .kind = FLIGHT_FREE,
				  .type = freed->type,
				  .device = freed->device};
	flight_note(&rec->flight, &ev);
	picture_buffer_gone(st, cl->proc, freed, now);
	state_touch(st, msg->device_id);
	if (event_line(cl))
		log_write(LOG_INFO, "[Device %d] FREE: buffer 0x%" PRIx64 " by PID %d", msg->device_id, msg->buffer_id,
			  (int)cl->conn.pid);
}

void events_free(struct client *cl, const struct proto_msg *msg, uint64_t now_ns)
{
	client_announce(cl);
	struct state *st = client_state(cl);
	if (!client_valid_device(cl, msg) || !client_valid_pid_field(cl, msg))
		return;
	struct process_record *rec = registry_process(&st->registry, cl->proc);
	uint32_t call_stack = msg->u.alloc.stack_id ? stacks_find(rec->stacks, msg->u.alloc.stack_id) : STACKS_NONE;
	uint64_t now = now_ns ? now_ns : clock_monotonic_ns();
	struct live_buffer freed;
	pid_t owner = 0;
	switch (registry_free(&st->registry, cl->proc, msg->device_id, msg->buffer_id, &freed, &owner)) {
	case REGISTRY_OK:
		freed_buffer(cl, msg, &freed, call_stack, now);
		return;
	case REGISTRY_FOREIGN:
		client_error(cl, PROTO_ERR_FOREIGN_FREE,
			     "FREE of buffer 0x%" PRIx64 " on device %d, which PID %d owns; rejected", msg->buffer_id,
			     msg->device_id, (int)owner);
		break;
	default:
		client_error(cl, PROTO_ERR_UNKNOWN_FREE,
			     "FREE of buffer 0x%" PRIx64 " on device %d: no live buffer there "
			     "(double free, or never reported)",
			     msg->buffer_id, msg->device_id);
		break;
	}
	diag_bad_free(cl, msg, call_stack, now);
}

/* ---- upstream tt-metal: circular buffers and kernel binaries ---- */

/*
 * CB_ALLOC / KERNEL_LOAD: a circular buffer or kernel binary of `size`
 * bytes in L1, named by buffer_id (a CB's address, a kernel's id); ids may
 * repeat, so each message is a record of its own (registry_add_counted).
 * KERNEL_LOAD's buffer_type is the kernel's kind, not a buffer type.
 */
static void add_counted(struct client *cl, const struct proto_msg *msg, unsigned type)
{
	client_announce(cl);
	struct state *st = client_state(cl);
	struct device *dev = client_valid_device(cl, msg);
	if (!dev || !client_valid_pid_field(cl, msg))
		return;
	uint64_t cap = picture_capacity(dev, type);
	if (msg->size == 0 || msg->size > cap) {
		client_error(cl, PROTO_ERR_BAD_SIZE, "%s of %" PRIu64 " bytes on device %d (L1 capacity %" PRIu64 ")",
			     proto_type_name(msg->type), msg->size, msg->device_id, cap);
		return;
	}
	if (!within_buffer_limit(cl, msg))
		return;
	if (registry_add_counted(&st->registry, cl->proc, msg->device_id, type, msg->buffer_id, msg->size,
				 alloc_time(msg)) != REGISTRY_OK) {
		client_error(cl, PROTO_ERR_LIMIT, "out of memory recording %s 0x%" PRIx64, proto_type_name(msg->type),
			     msg->buffer_id);
		return;
	}
	state_touch(st, msg->device_id);
	if (event_line(cl))
		log_write(LOG_INFO, "[Device %d] %s: %" PRIu64 " bytes %s by PID %d (id 0x%" PRIx64 ")", msg->device_id,
			  proto_type_name(msg->type), msg->size, proto_buffer_type_name(type), (int)cl->conn.pid,
			  msg->buffer_id);
}

/* CB_FREE / KERNEL_UNLOAD: releases one of the sender's records with that id (same size first). */
static void release_counted(struct client *cl, const struct proto_msg *msg, unsigned type)
{
	client_announce(cl);
	struct state *st = client_state(cl);
	if (!client_valid_device(cl, msg) || !client_valid_pid_field(cl, msg))
		return;
	struct live_buffer freed;
	if (registry_release_counted(&st->registry, cl->proc, msg->device_id, type, msg->buffer_id, msg->size,
				     &freed) != REGISTRY_OK) {
		client_error(cl, PROTO_ERR_UNKNOWN_FREE,
			     "%s of %s 0x%" PRIx64 " (%" PRIu64 " bytes) on device %d: none live with that id",
			     proto_type_name(msg->type), proto_buffer_type_name(type), msg->buffer_id, msg->size,
			     msg->device_id);
		return;
	}
	state_touch(st, msg->device_id);
	if (event_line(cl))
		log_write(LOG_INFO, "[Device %d] %s: %" PRIu64 " bytes %s by PID %d (id 0x%" PRIx64 ")", msg->device_id,
			  proto_type_name(msg->type), freed.size, proto_buffer_type_name(type), (int)cl->conn.pid,
			  msg->buffer_id);
}

void on_cb_alloc(struct client *cl, const struct proto_msg *msg)
{
	add_counted(cl, msg, TTALLOC_CB);
}

void on_cb_free(struct client *cl, const struct proto_msg *msg)
{
	release_counted(cl, msg, TTALLOC_CB);
}

void on_kernel_load(struct client *cl, const struct proto_msg *msg)
{
	add_counted(cl, msg, TTALLOC_KERNEL);
}

void on_kernel_unload(struct client *cl, const struct proto_msg *msg)
{
	release_counted(cl, msg, TTALLOC_KERNEL);
}
