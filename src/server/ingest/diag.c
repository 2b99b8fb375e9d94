/*
 * diag.c - diagnosis on the protocol side: ALLOC_FAILED (a post-mortem,
 * oom.h), MARK (marks.h), STACK_TEXT (a stack given as text), DOC_QUERY
 * (the HTTP API's documents for tt_smi, through the hook server.c
 * installs), and the misuse events.c finds (misuse.h).
 */
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/clock.h"
#include "common/errors.h"
#include "common/log.h"
#include "server/ingest/client.h"
#include "server/ingest/handlers.h"
#include "server/state/picture.h"

/* ---- misuse ---- */

/* An entry for the sender's mistake at (device, address), with the offending call's stack. */
static struct misuse_entry misuse_base(struct client *cl, enum misuse_kind kind, int device, uint64_t address,
				       uint32_t call_stack)
{
	struct state *st = client_state(cl);
	struct process_record *rec = registry_process(&st->registry, cl->proc);
	struct misuse_entry e = {
		.kind = kind,
		.pid = cl->conn.pid,
		.device = device,
		.address = address,
		.type = -1,
		.other_device = -1,
		.alloc_stack = STACK_POOL_NONE,
		.call_stack = stacks_pool_id(rec->stacks, call_stack, &st->stack_pool),
		.first_free_stack = STACK_POOL_NONE,
	};
	memcpy(e.comm, rec->comm, sizeof(e.comm));
	return e;
}

/* The device other than `device` where the sender holds a buffer at `address`, or -1. */
static int other_device_holding(struct client *cl, int device, uint64_t address)
{
	struct state *st = client_state(cl);
	for (int d = 0; d < st->devices.count; d++)
		if (d != device && registry_holds(&st->registry, cl->proc, d, address))
			return d;
	return -1;
}

void diag_bad_free(struct client *cl, const struct proto_msg *msg, uint32_t call_stack, uint64_t now_ns)
{
	struct state *st = client_state(cl);
	struct process_record *rec = registry_process(&st->registry, cl->proc);
	struct misuse_entry e = misuse_base(cl, MISUSE_UNKNOWN_FREE, msg->device_id, msg->buffer_id, call_stack);
	int other = other_device_holding(cl, msg->device_id, msg->buffer_id);
	const struct flight_event *last = flight_last_touch(rec->flight, msg->device_id, msg->buffer_id);
	if (other >= 0) {
		const struct live_buffer *b = registry_own_buffer(&st->registry, cl->proc, other, msg->buffer_id);
		e.kind = MISUSE_WRONG_DEVICE;
		e.other_device = other;
		e.size = b->size;
		e.type = b->type;
		e.alloc_stack = stacks_pool_id(rec->stacks, b->stack, &st->stack_pool);
	} else if (last && last->kind == FLIGHT_FREE) {
		e.kind = MISUSE_DOUBLE_FREE;
		e.size = last->size;
		e.type = last->type;
		e.since_ns = now_ns > last->time_ns ? now_ns - last->time_ns : 0;
		e.alloc_stack = stacks_pool_id(rec->stacks, last->stack, &st->stack_pool);
		e.first_free_stack = stacks_pool_id(rec->stacks, last->call_stack, &st->stack_pool);
	}
	misuse_record(&st->misuse, &st->stack_pool, &e);
}

void diag_overlapping_alloc(struct client *cl, const struct proto_msg *msg, const struct live_buffer *previous,
			    uint32_t call_stack, uint64_t now_ns)
{
	struct state *st = client_state(cl);
	struct process_record *rec = registry_process(&st->registry, cl->proc);
	struct misuse_entry e = misuse_base(cl, MISUSE_OVERLAPPING_ALLOC, msg->device_id, msg->buffer_id, call_stack);
	e.size = previous->size;
	e.type = previous->type;
	e.since_ns = now_ns > previous->alloc_ns ? now_ns - previous->alloc_ns : 0;
	e.alloc_stack = stacks_pool_id(rec->stacks, previous->stack, &st->stack_pool);
	misuse_record(&st->misuse, &st->stack_pool, &e);
}

/* ---- ALLOC_FAILED ---- */

/* 1 when an ALLOC_FAILED's type and size are plausible; else counts and logs the error. */
static int valid_failure(struct client *cl, const struct proto_msg *msg)
{
	if (!proto_buffer_type_valid(msg->buffer_type)) {
		client_error(cl, PROTO_ERR_BAD_BUFFER_TYPE, "ALLOC_FAILED with buffer type %u", msg->buffer_type);
		return 0;
	}
	if (msg->size == 0 || msg->size > PROTO_MAX_REQUEST) {
		client_error(cl, PROTO_ERR_BAD_SIZE, "ALLOC_FAILED of %" PRIu64 " bytes (1..%llu)", msg->size,
			     (unsigned long long)PROTO_MAX_REQUEST);
		return 0;
	}
	return 1;
}

void on_alloc_failed(struct client *cl, const struct proto_msg *msg)
{
	client_announce(cl);
	if (!client_valid_device(cl, msg) || !client_valid_pid_field(cl, msg) || !valid_failure(cl, msg))
		return;
	struct state *st = client_state(cl);
	struct process_record *rec = registry_process(&st->registry, cl->proc);
	uint32_t stack = msg->u.alloc.stack_id ? stacks_find(rec->stacks, msg->u.alloc.stack_id) : STACKS_NONE;
	struct flight_event ev = {.size = msg->size,
				  .time_ns = clock_monotonic_ns(),
				  .stack = stack,
				  .call_stack = stack,
				  .kind = FLIGHT_ALLOC_FAILED,
				  .type = msg->buffer_type,
				  .device = (uint16_t)msg->device_id};
	flight_note(&rec->flight, &ev);
	struct oom_request req = {.device = msg->device_id, .type = msg->buffer_type, .size = msg->size, .stack = stack};
	oom_record(st, cl->proc, &req);
	state_note_change(st);
}

/* ---- MARK ---- */

void on_mark(struct client *cl, const struct proto_msg *msg)
{
	client_announce(cl);
	const char *label = client_valid_pid_field(cl, msg) ? client_valid_text(cl, msg, "label") : NULL;
	if (!label)
		return;
	struct state *st = client_state(cl);
	const struct mark *mk = marks_add(&st->marks, label, cl->conn.pid, clock_monotonic_ns(), clock_realtime_ns());
	if (!mk) {
		client_error(cl, PROTO_ERR_LIMIT, "out of memory recording mark '%s'", label);
		return;
	}
	log_info("🔖 Mark %" PRIu64 " '%s' by PID %d", mk->id, mk->label, (int)cl->conn.pid);
	state_note_change(st);
}

/* ---- STACK_TEXT ---- */

void on_stack_text(struct client *cl, const struct proto_msg *msg)
{
	client_announce(cl);
	if (client_valid_pid_field(cl, msg) && client_valid_text(cl, msg, "frame"))
		client_define_stack(cl, msg, stacks_define_text);
}

/* ---- DOC_QUERY ---- */

/* Sends `len` bytes of `doc` as DOC_CHUNK frames. */
static void send_chunks(struct client *cl, const char *doc, size_t len)
{
	struct proto_msg chunk;
	for (size_t off = 0; off < len; off += sizeof(chunk.u.text.text)) {
		size_t n = len - off < sizeof(chunk.u.text.text) ? len - off : sizeof(chunk.u.text.text);
		proto_msg_init(&chunk, PROTO_DOC_CHUNK, -1);
		chunk.size = len;
		chunk.buffer_id = off;
		memcpy(chunk.u.text.text, doc + off, n);
		client_send(cl, &chunk);
	}
}

/*
 * Refuses a DOC_QUERY. An ERROR frame holds 63 bytes of text; a longer
 * reason goes first as DOC_CHUNK frames (the whole of it), which the
 * project's clients show instead of the ERROR's cut copy.
 */
static void refuse_document(struct client *cl, const struct proto_msg *msg, const char *why)
{
	size_t len = strlen(why);
	if (len >= sizeof(((struct proto_msg *)0)->u.error.message))
		send_chunks(cl, why, len);
	client_send_error_text(cl, msg, PROTO_ERR_BAD_TEXT, TTALLOC_EINVAL, why);
}

void on_doc_query(struct client *cl, const struct proto_msg *msg)
{
	const char *path = client_valid_text(cl, msg, "path");
	if (!path) {
		client_send_error(cl, msg, PROTO_ERR_BAD_TEXT, TTALLOC_EINVAL);
		return;
	}
	struct ingest *in = cl->ingest;
	char err[ERR_LEN] = "documents are not served here";
	size_t len = 0;
	char *doc = in->document ? in->document(in->document_owner, path, &len, err) : NULL;
	if (doc && len > PROTO_DOC_MAX_BYTES)
		snprintf(err, sizeof(err), "%zu bytes: too large; read it over HTTP", len);
	if (!doc || len > PROTO_DOC_MAX_BYTES) {
		refuse_document(cl, msg, err);
	} else {
		send_chunks(cl, doc, len);
		client_send_rows_end(cl, len);
	}
	free(doc);
}
