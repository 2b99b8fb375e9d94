/*
 * buffer_query.c - the answer to BUFFER_QUERY, the live buffers of one
 * process (or of every process the asker may see) on one device or all.
 * Newest first per process, as BUFFER_ROWs ended by ROWS_END; with
 * PROTO_BUFFER_WITH_STACKS each row whose call stack is known is followed
 * by its top frame (tt_smi top's buffer view). dispatch.c drains the rings
 * first.
 */
#include <string.h>

#include "common/clock.h"
#include "server/ingest/client.h"
#include "server/ingest/handlers.h"
#include "server/state/stacks.h"

/* What one BUFFER_QUERY is sending. */
struct buffer_answer {
	struct client *cl;
	const struct proto_msg *query;
	uint64_t limit;    /* rows it may still get */
	uint64_t sent;     /* rows sent */
	uint64_t now_mono; /* CLOCK_MONOTONIC, for ages */
	uint64_t now_real; /* CLOCK_REALTIME, for allocation times */
};

/* The rows a query asks for: its size, 0 for the default, never above the cap. */
static uint64_t row_limit(uint64_t asked)
{
	if (asked == 0)
		return PROTO_BUFFER_DEFAULT_ROWS;
	return asked < PROTO_BUFFER_MAX_ROWS ? asked : PROTO_BUFFER_MAX_ROWS;
}

/* 1 when the asker may see the buffers of `rec`: its own user's, or root asking. */
static int visible(const struct client *cl, const struct process_record *rec)
{
	return cl->conn.uid == 0 || rec->uid == cl->conn.uid;
}

/* Sends the innermost frame of the buffer's call stack as one STACK_LINE, when known. */
static void send_top_frame(struct buffer_answer *a, const struct process_record *rec, const struct live_buffer *buf)
{
	if (!(a->query->buffer_type & PROTO_BUFFER_WITH_STACKS) || !rec->stacks || buf->stack == STACKS_NONE)
		return;
	char text[512];
	if (stacks_format(rec->stacks, buf->stack, "", 1, text, sizeof(text)) > 0)
		handlers_send_stack_lines(a->cl, text, rec->pid);
}

static void send_row(struct buffer_answer *a, const struct process_record *rec, const struct live_buffer *buf)
{
	uint64_t age = a->now_mono > buf->alloc_ns ? a->now_mono - buf->alloc_ns : 0;
	struct proto_msg row = {
		.type = PROTO_BUFFER_ROW,
		.device_id = buf->device,
		.process_id = rec->pid,
		.size = buf->size,
		.buffer_type = buf->type,
		.buffer_id = buf->address,
		.timestamp = a->now_real > age ? a->now_real - age : 0, /* when it was allocated */
		.u.process.used = {age},
	};
	row.u.process.uid = rec->uid;
	memcpy(row.u.process.comm, rec->comm, sizeof(row.u.process.comm));
	client_send(a->cl, &row);
	send_top_frame(a, rec, buf);
	a->sent++;
}

/* Sends the buffers of process record `p` on the queried device, until the limit. */
static void send_process(struct buffer_answer *a, uint32_t p)
{
	struct registry *r = &client_state(a->cl)->registry;
	const struct process_record *rec = registry_process(r, p);
	REGISTRY_FOR_EACH_BUFFER (r, p, b) {
		const struct live_buffer *buf = registry_buffer(r, b);
		if (a->sent >= a->limit)
			return;
		if (a->query->device_id == -1 || buf->device == a->query->device_id)
			send_row(a, rec, buf);
	}
}

void on_buffer_query(struct client *cl, const struct proto_msg *msg)
{
	struct registry *r = &client_state(cl)->registry;
	if (!client_device_or_all(cl, msg))
		return;
	struct buffer_answer a = {
		.cl = cl,
		.query = msg,
		.limit = row_limit(msg->size),
		.now_mono = clock_monotonic_ns(),
		.now_real = clock_realtime_ns(),
	};
	if (msg->process_id) {
		uint32_t p = registry_find_pid(r, msg->process_id);
		if (p != REGISTRY_NONE && !visible(cl, registry_process(r, p))) {
			client_error(cl, PROTO_ERR_FOREIGN_QUERY, "BUFFER_QUERY from uid %u for PID %d of another user",
				     (unsigned)cl->conn.uid, msg->process_id);
			client_send_error(cl, msg, PROTO_ERR_FOREIGN_QUERY, TTALLOC_EINVAL);
			return;
		}
		if (p != REGISTRY_NONE)
			send_process(&a, p);
	} else {
		REGISTRY_FOR_EACH_PROCESS (r, p) {
			if (visible(cl, registry_process(r, p)))
				send_process(&a, p);
		}
	}
	client_send_rows_end(cl, a.sent);
}
