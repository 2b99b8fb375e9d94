/*
 * queries.c - the monitoring extensions HOLDER_QUERY and HISTORY_QUERY
 * (protocol.h): the kernel's holders of each device compared with the
 * registry (holders.c), and each device's memory over time (history.h),
 * answered as rows ended by ROWS_END. handlers.c's table routes them here.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "server.h"

_Static_assert(HISTORY_KINDS == 4, "HISTORY_ROW carries the seed's four kinds");

static void send_rows_end(struct connection *c, uint64_t count)
{
	struct proto_msg end;
	proto_msg_init(&end, PROTO_ROWS_END, -1);
	end.size = count;
	connection_send(c, &end);
}

/* Refuses a request for a device that does not exist, with an ERROR frame. */
static int device_ok(struct connection *c, const struct proto_msg *msg)
{
	struct server *s = c->server;
	if (msg->device_id == -1 || (msg->device_id >= 0 && msg->device_id < s->devices.count))
		return 1;
	connection_error(c, PROTO_ERR_BAD_DEVICE, "%s for device %d; devices are 0..%d", proto_type_name(msg->type),
			 msg->device_id, s->devices.count - 1);
	struct proto_msg ans;
	proto_msg_init(&ans, PROTO_ERROR, msg->device_id);
	ans.u.error.code = TTALLOC_EINVAL;
	ans.u.error.reason = PROTO_ERR_BAD_DEVICE;
	snprintf(ans.u.error.message, sizeof(ans.u.error.message), "%s (%s %d)",
		 proto_error_description(PROTO_ERR_BAD_DEVICE), proto_type_name(msg->type), msg->device_id);
	connection_send(c, &ans);
	return 0;
}

/* HOLDER_QUERY(device or -1): one row per process of each device that has a kernel's view. */
void handle_holder_query(struct connection *c, const struct proto_msg *msg)
{
	struct server *s = c->server;
	if (!device_ok(c, msg))
		return;
	uint64_t sent = 0;
	for (int d = 0; d < s->devices.count && !c->closed; d++) {
		if ((msg->device_id != -1 && d != msg->device_id) || !server_holders_available(s, d))
			continue;
		int n = 0;
		struct holder_entry *rows = server_holder_rows(s, d, &n);
		for (int i = 0; i < n && !c->closed; i++) {
			const struct holder_entry *e = &rows[i];
			struct proto_msg row;
			proto_msg_init(&row, PROTO_HOLDER_ROW, d);
			row.process_id = e->pid;
			row.timestamp = s->holders.scanned_ns;
			row.u.holder.state = (uint32_t)e->state;
			row.u.holder.flags = e->flags & (PROTO_HOLDER_DRIVER | PROTO_HOLDER_FD | PROTO_HOLDER_MEMORY);
			row.u.holder.memory = (e->flags & DEVICE_PROC_MEMORY) ? e->memory : 0;
			if (e->id.uid_known) {
				row.u.holder.flags |= PROTO_HOLDER_UID;
				row.u.holder.uid = e->id.uid;
			}
			proto_set_string(row.u.holder.comm, sizeof(row.u.holder.comm), e->id.comm);
			connection_send(c, &row);
			sent++;
		}
		free(rows);
	}
	if (!c->closed)
		send_rows_end(c, sent);
}

/*
 * HISTORY_QUERY(device or -1; seconds, points): each device's buckets,
 * oldest first; buckets before the history began carry no VALID flag.
 */
void handle_history_query(struct connection *c, const struct proto_msg *msg)
{
	struct server *s = c->server;
	const struct history *h = &s->history;
	if (!device_ok(c, msg))
		return;
	uint32_t points = msg->u.history.points ? msg->u.history.points : PROTO_HISTORY_DEFAULT_POINTS;
	if (points > PROTO_HISTORY_MAX_POINTS)
		points = PROTO_HISTORY_MAX_POINTS;
	struct history_window w;
	history_window(h, msg->u.history.seconds, points, &w);
	uint64_t span_ms = (uint64_t)w.buckets * w.step * h->interval_ms;
	uint64_t step_ms = w.step * h->interval_ms;
	uint64_t sent = 0;
	for (int d = 0; d < h->num_devices && !c->closed; d++) {
		if (msg->device_id != -1 && d != msg->device_id)
			continue;
		for (uint32_t b = 0; b < w.buckets && !c->closed; b++) {
			struct proto_msg row;
			struct history_point peak;
			uint64_t time_ms;
			proto_msg_init(&row, PROTO_HISTORY_ROW, d);
			struct proto_history_payload *p = &row.u.history;
			if (history_device_bucket(h, &w, b, d, &peak, &time_ms))
				p->flags = PROTO_HISTORY_VALID;
			for (int k = 0; k < HISTORY_KINDS; k++)
				p->used[k] = peak.used[k];
			p->time_ms = time_ms;
			p->seconds = (uint32_t)(span_ms / 1000u < UINT32_MAX ? span_ms / 1000u : UINT32_MAX);
			p->points = w.buckets;
			p->index = b;
			p->step_ms = (uint32_t)(step_ms < UINT32_MAX ? step_ms : UINT32_MAX);
			p->interval_ms = h->interval_ms;
			connection_send(c, &row);
			sent++;
		}
	}
	if (!c->closed)
		send_rows_end(c, sent);
}
