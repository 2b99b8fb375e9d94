/*
 * queries.c - requests answered from the picture: the seed's QUERY and
 * DEVICE_INFO_QUERY, ttalloc's DEVICE_STATUS, PROCESS, LEAK, HOLDER and
 * HISTORY queries (rows ended by ROWS_END), and the DUMP requests, which
 * the server answers in its log. dispatch.c drains the rings before each
 * (PROTO_MESSAGE_MAP's reads_registry), so an answer includes every event
 * reported before the request.
 */
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/clock.h"
#include "common/log.h"
#include "server/ingest/client.h"
#include "server/ingest/handlers.h"
#include "server/state/holders.h"
#include "server/state/picture.h"
#include "server/state/stacks.h"

_Static_assert(HISTORY_KINDS == 4, "HISTORY_ROW carries the seed's four kinds");

/* ---- seed queries ---- */

/* Fills the seed's device-info fields; is_available 0 for a bad device. */
static void fill_device_info(struct state *st, struct proto_msg *ans, const struct device *dev)
{
	ans->u.seed.num_devices = (uint32_t)st->devices.count;
	if (!dev)
		return;
	ans->u.seed.total_dram_size = dev->info.dram_total;
	ans->u.seed.total_l1_size = dev->info.l1_total;
	ans->u.seed.arch_type = dev->info.arch;
	ans->u.seed.num_dram_channels = dev->info.num_dram_channels;
	/* a u32 on the wire: 4 GiB channels (Blackhole) do not fit and read as 0 */
	ans->u.seed.dram_size_per_channel = dev->info.dram_size_per_channel <= UINT32_MAX
		? (uint32_t)dev->info.dram_size_per_channel
		: 0;
	ans->u.seed.l1_size_per_core = dev->info.l1_size_per_core;
	ans->u.seed.is_available = 1;
}

/* The device's totals (registry and tt-metal shm, ttmetal.h); cb and kernel for a 144-byte answer. */
static void fill_totals(struct state *st, struct proto_msg *ans, const struct device *dev,
			struct proto_answer_extra *extra)
{
	if (!dev)
		return;
	uint64_t used[TTALLOC_BUFFER_TYPES];
	picture_device_used(st, dev->index, used);
	ans->u.seed.dram_allocated = used[TTALLOC_DRAM];
	ans->u.seed.l1_allocated = used[TTALLOC_L1];
	ans->u.seed.l1_small_allocated = used[TTALLOC_L1_SMALL];
	ans->u.seed.trace_allocated = used[TTALLOC_TRACE];
	extra->cb_allocated = used[TTALLOC_CB];
	extra->kernel_allocated = used[TTALLOC_KERNEL];
}

/*
 * QUERY and DEVICE_INFO_QUERY (DEVICE_INFO_QUERY(-1) asks for the count).
 * A device that does not exist is what the seed's server did not answer
 * either: a seed client (no HELLO) sees its connection close, so its
 * recv() fails at once instead of waiting, and the seed's dashboard loop
 * (`for i in range(8): try ... except: break`) stops at the last device;
 * ttalloc's own clients (they said HELLO) get an ERROR frame, bad_device.
 */
static void answer_seed_query(struct client *cl, const struct proto_msg *msg, enum proto_msg_type type)
{
	struct state *st = client_state(cl);
	struct device *dev = NULL;
	if (!(type == PROTO_DEVICE_INFO_RESPONSE && msg->device_id == -1)) {
		dev = client_valid_device(cl, msg);
		if (!dev) {
			if (cl->hello_version)
				client_send_error(cl, msg, PROTO_ERR_BAD_DEVICE, TTALLOC_EINVAL);
			else
				connection_close(&cl->conn);
			return;
		}
	}
	struct proto_msg ans;
	proto_msg_init(&ans, type, msg->device_id);
	ans.timestamp = clock_realtime_ns();
	struct proto_answer_extra extra = {0};
	fill_device_info(st, &ans, dev);
	fill_totals(st, &ans, dev, &extra);
	connection_send_extra(&cl->conn, &ans, &extra);
}

void on_query(struct client *cl, const struct proto_msg *msg)
{
	answer_seed_query(cl, msg, PROTO_RESPONSE);
}

void on_device_info_query(struct client *cl, const struct proto_msg *msg)
{
	answer_seed_query(cl, msg, PROTO_DEVICE_INFO_RESPONSE);
}

/*
 * Calls `fn` for each live buffer of the asker's user's processes (root:
 * everyone's), newest first per process. Returns the live buffers of other
 * users' processes left out.
 */
static uint64_t each_visible_buffer(struct client *cl,
				    void (*fn)(const struct process_record *rec, const struct live_buffer *buf,
					       void *ctx),
				    void *ctx)
{
	struct registry *r = &client_state(cl)->registry;
	uint64_t hidden = 0;
	REGISTRY_FOR_EACH_PROCESS (r, p) {
		const struct process_record *rec = registry_process(r, p);
		if (cl->conn.uid != 0 && rec->uid != cl->conn.uid) {
			hidden += rec->live_buffers;
			continue;
		}
		REGISTRY_FOR_EACH_BUFFER (r, p, b) {
			fn(rec, registry_buffer(r, b), ctx);
		}
	}
	return hidden;
}

/* What a dump listed. */
struct dump_count {
	uint64_t now_ns;
	uint64_t shown;
	uint64_t bytes;
};

static void log_remaining(const struct process_record *rec, const struct live_buffer *buf, void *ctx)
{
	struct dump_count *n = ctx;
	log_warn("    [Device %u] Buffer 0x%" PRIx64 ": %" PRIu64 " bytes %s by PID %d (age: %" PRIu64 "s)",
		 buf->device, buf->address, buf->size, proto_buffer_type_name(buf->type), (int)rec->pid,
		 (uint64_t)((n->now_ns - buf->alloc_ns) / CLOCK_NS_PER_S));
	stacks_log(rec->stacks, buf->stack, LOG_WARN, "        ", STACKS_SHOWN_FRAMES);
	n->shown++;
}

/* DUMP_REMAINING prints buffers of the requester's own user (root: all). */
void on_dump_remaining(struct client *cl, const struct proto_msg *msg)
{
	(void)msg;
	struct dump_count n = {.now_ns = clock_monotonic_ns()};
	log_warn("📋 Remaining buffers (requested by PID %d):", (int)cl->conn.pid);
	uint64_t hidden = each_visible_buffer(cl, log_remaining, &n);
	log_warn("    %" PRIu64 " buffer%s listed", n.shown, n.shown == 1 ? "" : "s");
	if (hidden)
		client_error(cl, PROTO_ERR_FOREIGN_QUERY,
			     "DUMP_REMAINING from uid %u: %" PRIu64 " buffers of other users not listed",
			     (unsigned)cl->conn.uid, hidden);
}

static void log_kernel(const struct process_record *rec, const struct live_buffer *buf, void *ctx)
{
	struct dump_count *n = ctx;
	if (buf->type != TTALLOC_KERNEL)
		return;
	log_warn("    [Device %u] Kernel 0x%" PRIx64 ": %" PRIu64 " bytes by PID %d (age: %" PRIu64 "s)", buf->device,
		 buf->address, buf->size, (int)rec->pid, (uint64_t)((n->now_ns - buf->alloc_ns) / CLOCK_NS_PER_S));
	n->shown++;
	n->bytes += buf->size;
}

/* DUMP_KERNELS: logs the live kernel binaries of the asker's user (root: all); no answer. */
void on_dump_kernels(struct client *cl, const struct proto_msg *msg)
{
	(void)msg;
	struct dump_count n = {.now_ns = clock_monotonic_ns()};
	log_warn("📋 Loaded kernels (requested by PID %d):", (int)cl->conn.pid);
	each_visible_buffer(cl, log_kernel, &n);
	log_warn("    %" PRIu64 " kernel%s listed, %" PRIu64 " bytes", n.shown, n.shown == 1 ? "" : "s", n.bytes);
}

/* ---- ttalloc extensions ---- */

int handlers_session_matches(const char *session, const struct proto_msg *query)
{
	const char *want = query->u.filter.session;
	return want[0] == '\0' || strncmp(session, want, PROTO_SESSION_LEN) == 0;
}

void on_device_status_query(struct client *cl, const struct proto_msg *msg)
{
	struct state *st = client_state(cl);
	struct device *dev = client_valid_device(cl, msg);
	if (!dev) {
		client_send_error(cl, msg, PROTO_ERR_BAD_DEVICE, TTALLOC_EINVAL);
		return;
	}
	struct device_load load;
	picture_device_used(st, dev->index, load.used);
	device_refresh(dev, &load);
	struct proto_msg ans;
	proto_msg_init(&ans, PROTO_DEVICE_STATUS, dev->index);
	struct proto_status_payload *status = &ans.u.status;
	status->temperature_mc = dev->now.temperature_mc;
	status->power_mw = dev->now.power_mw;
	status->utilization = dev->now.utilization;
	status->valid = (DEVICE_READING_VALID(&dev->now, DEVICE_TEMPERATURE) ? PROTO_STATUS_TEMPERATURE : 0) |
		(DEVICE_READING_VALID(&dev->now, DEVICE_POWER) ? PROTO_STATUS_POWER : 0) |
		(DEVICE_READING_VALID(&dev->now, DEVICE_UTILIZATION) ? PROTO_STATUS_UTILIZATION : 0);
	status->live_buffers = st->registry.devices[dev->index].buffers;
	status->processes = picture_device_processes(st, dev->index);
	ans.buffer_id = load.used[TTALLOC_KERNEL]; /* DEVICE_STATUS: kernel bytes in the header */
	status->backend_flags = dev->info.simulated ? 1u : 0u;
	status->cb_allocated = load.used[TTALLOC_CB];
	status->system_memory = load.used[TTALLOC_SYSTEM_MEMORY];
	proto_set_string(status->name, sizeof(status->name), dev->info.name);
	client_send(cl, &ans);
}

/* A PROCESS_ROW of `pid` on `device` with its bytes per buffer type (protocol.h's layout). */
static void process_row(struct proto_msg *row, int device, pid_t pid, uint64_t timestamp,
			const uint64_t used[TTALLOC_BUFFER_TYPES])
{
	proto_msg_init(row, PROTO_PROCESS_ROW, device);
	row->process_id = pid;
	row->timestamp = timestamp;
	row->u.process.used[0] = used[TTALLOC_DRAM];
	row->u.process.used[1] = used[TTALLOC_L1];
	row->u.process.used[2] = used[TTALLOC_L1_SMALL];
	row->u.process.used[3] = used[TTALLOC_TRACE];
	row->u.process.system_memory = used[TTALLOC_SYSTEM_MEMORY];
	row->u.process.cb = used[TTALLOC_CB];
	row->buffer_id = used[TTALLOC_KERNEL]; /* PROCESS_ROW: kernel bytes in the header */
}

void on_process_query(struct client *cl, const struct proto_msg *msg)
{
	struct state *st = client_state(cl);
	struct registry *r = &st->registry;
	if (!client_device_or_all(cl, msg))
		return;
	uint64_t rows = 0;
	REGISTRY_FOR_EACH_PROCESS (r, p) {
		const struct process_record *rec = registry_process(r, p);
		if (!handlers_session_matches(rec->session, msg))
			continue;
		REGISTRY_FOR_EACH_USAGE (r, p, u) {
			if (msg->device_id != -1 && u->device != msg->device_id)
				continue;
			struct proto_msg row;
			process_row(&row, u->device, rec->pid, rec->first_seen_ns, u->used);
			row.size = u->buffers;
			row.u.process.uid = rec->uid;
			row.u.process.flags = rec->exited ? PROTO_PROCESS_EXITED : 0;
			memcpy(row.u.process.comm, rec->comm, sizeof(row.u.process.comm));
			client_send(cl, &row);
			rows++;
		}
	}
	/* processes only tt-metal's shared memory reports (no session: left out of a filtered query) */
	uint32_t shm_count = 0;
	const struct ttmetal_row *shm = ttmetal_rows(&st->shm, &st->registry, &shm_count);
	for (uint32_t i = 0; i < shm_count && !msg->u.filter.session[0]; i++) {
		const struct ttmetal_row *t = &shm[i];
		if (t->covered || (msg->device_id != -1 && t->device != msg->device_id))
			continue;
		struct proto_msg row;
		process_row(&row, t->device, t->pid, t->updated_ns, t->used);
		row.u.process.uid = t->uid;
		row.u.process.flags = PROTO_PROCESS_SHM | (t->stale ? PROTO_PROCESS_STALE : 0);
		proto_set_string(row.u.process.comm, sizeof(row.u.process.comm), t->name);
		client_send(cl, &row);
		rows++;
	}
	client_send_rows_end(cl, rows);
}

struct stack_line_sink {
	struct client *cl;
	int32_t pid;
};

static void send_stack_line(const char *frame, size_t len, void *ctx)
{
	struct stack_line_sink *sink = ctx;
	struct proto_msg line;
	proto_msg_init(&line, PROTO_STACK_LINE, -1);
	line.process_id = sink->pid;
	if (len > sizeof(line.u.text.text) - 1)
		len = sizeof(line.u.text.text) - 1;
	memcpy(line.u.text.text, frame, len);
	client_send(sink->cl, &line);
}

void handlers_send_stack_lines(struct client *cl, const char *text, int32_t pid)
{
	struct stack_line_sink sink = {cl, pid};
	stacks_each_frame(text, send_stack_line, &sink);
}

/* CLEAR_LEAKS: drops the exited processes --retain-leaks kept (the asker's user's; root: everyone's). */
void on_clear_leaks(struct client *cl, const struct proto_msg *msg)
{
	uint32_t processes = 0;
	uint64_t buffers = leaks_clear(client_state(cl), cl->conn.uid ? cl->conn.uid : PROTO_UID_UNKNOWN, &processes);
	if (processes)
		log_info("🧹 PID %d cleared the leaks of %u exited process%s (%" PRIu64 " buffer%s)",
			 (int)cl->conn.pid, processes, processes == 1 ? "" : "es", buffers, buffers == 1 ? "" : "s");
	struct proto_msg ans;
	proto_msg_init(&ans, PROTO_CLEARED, msg->device_id);
	ans.size = buffers;
	ans.buffer_id = processes;
	client_send(cl, &ans);
}

/* LEAK_QUERY(process_id or 0): kept leaked buffers of the asker's user (root: all). */
void on_leak_query(struct client *cl, const struct proto_msg *msg)
{
	const struct leak_history *h = &client_state(cl)->leaks;
	uint64_t rows = 0, hidden = 0;
	for (uint32_t i = 0; i < h->count; i++) {
		const struct leak_report *rep = leak_history_get(h, i);
		if ((msg->process_id && rep->pid != msg->process_id) || !handlers_session_matches(rep->session, msg))
			continue;
		if (cl->conn.uid != 0 && rep->uid != cl->conn.uid) {
			hidden += rep->kept;
			continue;
		}
		for (uint32_t e = 0; e < rep->kept; e++) {
			const struct leak_buffer *lb = &rep->entries[e];
			struct proto_msg row;
			proto_msg_init(&row, PROTO_LEAK_ROW, lb->device);
			row.process_id = rep->pid;
			row.size = lb->size;
			row.buffer_type = lb->type;
			row.buffer_id = lb->address;
			row.timestamp = rep->exit_ns;
			row.u.process.used[0] = lb->age_ns;
			row.u.process.used[1] = rep->exit_ns;
			row.u.process.uid = rep->uid;
			row.u.process.flags = PROTO_PROCESS_EXITED;
			memcpy(row.u.process.comm, rep->comm, sizeof(row.u.process.comm));
			client_send(cl, &row);
			if ((msg->buffer_type & PROTO_LEAK_WITH_STACKS) && lb->stack_text != LEAK_NO_STACK)
				handlers_send_stack_lines(cl, rep->stack_texts[lb->stack_text], rep->pid);
			rows++;
		}
	}
	/* only a query for one pid asks for someone else's data; "all" means "all of mine" */
	if (hidden && msg->process_id)
		client_error(cl, PROTO_ERR_FOREIGN_QUERY,
			     "LEAK_QUERY from uid %u for PID %d: %" PRIu64 " leaked buffers of another user "
			     "not shown",
			     (unsigned)cl->conn.uid, msg->process_id, hidden);
	client_send_rows_end(cl, rows);
}

/* HOLDER_QUERY(device or -1): one row per process of each device that has a kernel's view. */
void on_holder_query(struct client *cl, const struct proto_msg *msg)
{
	struct state *st = client_state(cl);
	if (!client_device_or_all(cl, msg))
		return;
	uint64_t sent = 0;
	for (int d = 0; d < st->devices.count; d++) {
		if ((msg->device_id != -1 && d != msg->device_id) || !holders_available(st, d))
			continue;
		int n = 0;
		struct holder_entry *rows = holders_rows(st, d, &n);
		for (int i = 0; i < n; i++) {
			const struct holder_entry *e = &rows[i];
			struct proto_msg row;
			proto_msg_init(&row, PROTO_HOLDER_ROW, d);
			row.process_id = e->pid;
			row.timestamp = st->holders.scanned_ns;
			row.u.holder.state = (uint32_t)e->state;
			row.u.holder.flags = e->flags & (PROTO_HOLDER_DRIVER | PROTO_HOLDER_FD | PROTO_HOLDER_MEMORY);
			row.u.holder.memory = (e->flags & DEVICE_PROC_MEMORY) ? e->memory : 0;
			if (e->id.uid_known) {
				row.u.holder.flags |= PROTO_HOLDER_UID;
				row.u.holder.uid = e->id.uid;
			}
			proto_set_string(row.u.holder.comm, sizeof(row.u.holder.comm), e->id.comm);
			client_send(cl, &row);
			sent++;
		}
		free(rows);
	}
	client_send_rows_end(cl, sent);
}

/*
 * HISTORY_QUERY(device or -1; seconds, points): each device's buckets,
 * oldest first; buckets before the history began carry no VALID flag.
 */
void on_history_query(struct client *cl, const struct proto_msg *msg)
{
	struct state *st = client_state(cl);
	const struct history *h = &st->history;
	if (!client_device_or_all(cl, msg))
		return;
	uint32_t points = msg->u.history.points ? msg->u.history.points : PROTO_HISTORY_DEFAULT_POINTS;
	if (points > PROTO_HISTORY_MAX_POINTS)
		points = PROTO_HISTORY_MAX_POINTS;
	struct history_window w;
	history_window(h, msg->u.history.seconds, points, &w);
	uint64_t span_ms = (uint64_t)w.buckets * w.step * h->interval_ms;
	uint64_t step_ms = w.step * h->interval_ms;
	uint64_t sent = 0;
	for (int d = 0; d < h->num_devices; d++) {
		if (msg->device_id != -1 && d != msg->device_id)
			continue;
		for (uint32_t b = 0; b < w.buckets; b++) {
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
			client_send(cl, &row);
			sent++;
		}
	}
	client_send_rows_end(cl, sent);
}
