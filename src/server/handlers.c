/*
 * handlers.c - what each message type does (see protocol.h for the pairs).
 *
 * One table maps a frame type to its handler; a type without a row is
 * refused with a counted error and the connection stays open (the frame
 * length is fixed, so the stream stays in step).
 */
#include <inttypes.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "clock.h"
#include "format.h"
#include "log.h"
#include "server.h"

/* Largest SYSTEM_MEMORY buffer accepted: 256 TiB, more than any host has. */
#define MAX_SYSTEM_MEMORY_SIZE (1ull << 48)

typedef void (*frame_handler)(struct connection *c, const struct proto_msg *msg);

/* ---- validation shared by the handlers ---- */

static struct device *valid_device(struct connection *c, const struct proto_msg *msg)
{
	struct device *dev = device_set_get(&c->server->devices, msg->device_id);
	if (!dev)
		connection_error(c, PROTO_ERR_BAD_DEVICE, "%s for device %d; devices are 0..%d",
				 proto_type_name(msg->type), msg->device_id, c->server->devices.count - 1);
	return dev;
}

/* The pid field may be 0 (unknown) or the sender's own pid, nothing else. */
static int valid_pid_field(struct connection *c, const struct proto_msg *msg)
{
	if (msg->process_id == 0 || msg->process_id == c->pid)
		return 1;
	connection_error(c, PROTO_ERR_PID_MISMATCH,
			 "%s claims PID %d but the connection belongs to PID %d (SO_PEERCRED); rejected",
			 proto_type_name(msg->type), msg->process_id, (int)c->pid);
	return 0;
}

/* A capacity the backend could not read (N/A) bounds nothing but absurd sizes. */
static uint64_t capacity_of(const struct device *dev, unsigned type)
{
	switch (type) {
	case TTALLOC_DRAM:
	case TTALLOC_TRACE:
		return DEVICE_INFO_VALID(&dev->info, DEVICE_INFO_DRAM_TOTAL) ? dev->info.dram_total
									      : MAX_SYSTEM_MEMORY_SIZE;
	case TTALLOC_SYSTEM_MEMORY:
		return MAX_SYSTEM_MEMORY_SIZE;
	default:
		return DEVICE_INFO_VALID(&dev->info, DEVICE_INFO_L1_TOTAL) ? dev->info.l1_total
									    : MAX_SYSTEM_MEMORY_SIZE;
	}
}

static int valid_alloc(struct connection *c, const struct proto_msg *msg, const struct device *dev)
{
	if (!proto_buffer_type_valid(msg->buffer_type)) {
		connection_error(c, PROTO_ERR_BAD_BUFFER_TYPE, "ALLOC with buffer type %u at 0x%" PRIx64,
				 msg->buffer_type, msg->buffer_id);
		return 0;
	}
	uint64_t cap = capacity_of(dev, msg->buffer_type);
	if (msg->size == 0 || msg->size > cap) {
		connection_error(c, PROTO_ERR_BAD_SIZE,
				 "ALLOC of %" PRIu64 " bytes %s on device %d (capacity %" PRIu64 ")",
				 msg->size, proto_buffer_type_name(msg->buffer_type), msg->device_id, cap);
		return 0;
	}
	return 1;
}

static void mark_touched(struct server *s, int device)
{
	s->touched_devices |= 1ull << device;
}

/*
 * Per-event lines ("[Device 0] ALLOC: ...") printed per second. The seed's
 * server prints every event; at the ring's millions of events a second that
 * would make printing the bottleneck, so beyond this budget lines are
 * counted and summed up once a second (handle_print_totals).
 */
#define EVENT_LINES_PER_SECOND 10000

/* 1 when this event's line should be printed. */
static int event_line(struct server *s)
{
	return log_enabled(LOG_INFO) && log_budget_take(&s->event_lines, EVENT_LINES_PER_SECOND);
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
static int within_buffer_limit(struct connection *c, const struct proto_msg *msg)
{
	struct server *s = c->server;
	const struct process_record *rec = registry_process(&s->registry, c->proc);
	if (rec->live_buffers < s->opts.max_buffers_per_process ||
	    registry_holds(&s->registry, c->proc, msg->device_id, msg->buffer_id))
		return 1;
	s->stats.errors[PROTO_ERR_LIMIT]++;
	if (!c->limit_logged) {
		c->limit_logged = 1;
		log_error("❌ PID %d: %s: ALLOC of buffer 0x%" PRIx64 " refused: the process holds %" PRIu64
			  " live buffers, the limit (--max-buffers-per-process); further ALLOCs over it "
			  "from this connection are counted, not logged",
			  (int)c->pid, proto_error_description(PROTO_ERR_LIMIT), msg->buffer_id, rec->live_buffers);
	}
	return 0;
}

void handle_alloc(struct connection *c, const struct proto_msg *msg, uint64_t alloc_mono_ns)
{
	struct server *s = c->server;
	struct device *dev = valid_device(c, msg);
	if (!dev || !valid_pid_field(c, msg) || !valid_alloc(c, msg, dev) || !within_buffer_limit(c, msg))
		return;
	struct process_record *rec = registry_process(&s->registry, c->proc);
	uint32_t stack = msg->u.alloc.stack_id ? stacks_find(rec->stacks, msg->u.alloc.stack_id) : STACKS_NONE;
	enum registry_result rc = registry_alloc_with_stack(&s->registry, c->proc, msg->device_id, msg->buffer_type,
							    msg->buffer_id, msg->size, alloc_mono_ns, stack);
	if (rc == REGISTRY_NOMEM) {
		connection_error(c, PROTO_ERR_LIMIT, "out of memory recording buffer 0x%" PRIx64,
				 msg->buffer_id);
		return;
	}
	if (rc == REGISTRY_REPLACED)
		connection_error(c, PROTO_ERR_DUPLICATE_ALLOC,
				 "buffer 0x%" PRIx64 " on device %d was already live; its FREE was never "
				 "reported (record replaced)",
				 msg->buffer_id, msg->device_id);
	mark_touched(s, msg->device_id);
	if (!event_line(s))
		return;
	log_info("[Device %d] ALLOC: %" PRIu64 " bytes %s by PID %d (buffer 0x%" PRIx64 ")",
		 msg->device_id, msg->size, proto_buffer_type_name(msg->buffer_type), (int)c->pid,
		 msg->buffer_id);
	if (log_enabled(LOG_DEBUG)) {
		if (stack == STACKS_NONE) {
			log_debug("  └─ Stack trace: [enabled with TT_ALLOC_STACK_TRACE=1]");
		} else {
			log_debug("  └─ Stack trace:");
			stacks_log(rec->stacks, stack, LOG_DEBUG, "       ", STACKS_SHOWN_FRAMES);
		}
	}
}

static void on_alloc(struct connection *c, const struct proto_msg *msg)
{
	handle_alloc(c, msg, alloc_time(msg));
}

/* STACK_DEF: part of a call stack that later ALLOCs of this process name. */
static void on_stack_def(struct connection *c, const struct proto_msg *msg)
{
	if (!valid_pid_field(c, msg))
		return;
	struct process_record *rec = registry_process(&c->server->registry, c->proc);
	if (!rec->stacks && !(rec->stacks = stacks_create(rec->pid))) {
		connection_error(c, PROTO_ERR_LIMIT, "out of memory recording a call stack");
		return;
	}
	const char *why = NULL;
	if (stacks_define(rec->stacks, msg, &why) < 0)
		connection_error(c, PROTO_ERR_BAD_STACK, "stack 0x%" PRIx64 ": %s", msg->size, why);
}

void handle_free(struct connection *c, const struct proto_msg *msg)
{
	struct server *s = c->server;
	if (!valid_device(c, msg) || !valid_pid_field(c, msg))
		return;
	struct live_buffer freed;
	pid_t owner = 0;
	switch (registry_free(&s->registry, c->proc, msg->device_id, msg->buffer_id, &freed, &owner)) {
	case REGISTRY_OK:
		mark_touched(s, msg->device_id);
		if (event_line(s))
			log_info("[Device %d] FREE: buffer 0x%" PRIx64 " by PID %d", msg->device_id,
				 msg->buffer_id, (int)c->pid);
		break;
	case REGISTRY_FOREIGN:
		connection_error(c, PROTO_ERR_FOREIGN_FREE,
				 "FREE of buffer 0x%" PRIx64 " on device %d, which PID %d owns; rejected",
				 msg->buffer_id, msg->device_id, (int)owner);
		break;
	default:
		connection_error(c, PROTO_ERR_UNKNOWN_FREE,
				 "FREE of buffer 0x%" PRIx64 " on device %d: no live buffer there "
				 "(double free, or never reported)",
				 msg->buffer_id, msg->device_id);
		break;
	}
}

/* ---- upstream tt-metal: circular buffers and kernel binaries ---- */

/*
 * CB_ALLOC / KERNEL_LOAD: a circular buffer or kernel binary of `size`
 * bytes in L1, named by buffer_id (a CB's address, a kernel's id); ids may
 * repeat, so each message is a record of its own (registry_add_counted).
 * KERNEL_LOAD's buffer_type is the kernel's kind, not a buffer type.
 */
static void add_counted(struct connection *c, const struct proto_msg *msg, unsigned type)
{
	struct server *s = c->server;
	struct device *dev = valid_device(c, msg);
	if (!dev || !valid_pid_field(c, msg))
		return;
	uint64_t cap = capacity_of(dev, type);
	if (msg->size == 0 || msg->size > cap) {
		connection_error(c, PROTO_ERR_BAD_SIZE, "%s of %" PRIu64 " bytes on device %d (L1 capacity %" PRIu64 ")",
				 proto_type_name(msg->type), msg->size, msg->device_id, cap);
		return;
	}
	if (!within_buffer_limit(c, msg))
		return;
	if (registry_add_counted(&s->registry, c->proc, msg->device_id, type, msg->buffer_id, msg->size,
				 alloc_time(msg)) != REGISTRY_OK) {
		connection_error(c, PROTO_ERR_LIMIT, "out of memory recording %s 0x%" PRIx64,
				 proto_type_name(msg->type), msg->buffer_id);
		return;
	}
	mark_touched(s, msg->device_id);
	if (event_line(s))
		log_info("[Device %d] %s: %" PRIu64 " bytes %s by PID %d (id 0x%" PRIx64 ")", msg->device_id,
			 proto_type_name(msg->type), msg->size, proto_buffer_type_name(type), (int)c->pid,
			 msg->buffer_id);
}

/* CB_FREE / KERNEL_UNLOAD: releases one of the sender's records with that id (same size first). */
static void release_counted(struct connection *c, const struct proto_msg *msg, unsigned type)
{
	struct server *s = c->server;
	if (!valid_device(c, msg) || !valid_pid_field(c, msg))
		return;
	struct live_buffer freed;
	if (registry_release_counted(&s->registry, c->proc, msg->device_id, type, msg->buffer_id, msg->size,
				     &freed) != REGISTRY_OK) {
		connection_error(c, PROTO_ERR_UNKNOWN_FREE,
				 "%s of %s 0x%" PRIx64 " (%" PRIu64 " bytes) on device %d: none live with that id",
				 proto_type_name(msg->type), proto_buffer_type_name(type), msg->buffer_id, msg->size,
				 msg->device_id);
		return;
	}
	mark_touched(s, msg->device_id);
	if (event_line(s))
		log_info("[Device %d] %s: %" PRIu64 " bytes %s by PID %d (id 0x%" PRIx64 ")", msg->device_id,
			 proto_type_name(msg->type), freed.size, proto_buffer_type_name(type), (int)c->pid,
			 msg->buffer_id);
}

static void on_cb_alloc(struct connection *c, const struct proto_msg *msg)
{
	add_counted(c, msg, TTALLOC_CB);
}

static void on_cb_free(struct connection *c, const struct proto_msg *msg)
{
	release_counted(c, msg, TTALLOC_CB);
}

static void on_kernel_load(struct connection *c, const struct proto_msg *msg)
{
	add_counted(c, msg, TTALLOC_KERNEL);
}

static void on_kernel_unload(struct connection *c, const struct proto_msg *msg)
{
	release_counted(c, msg, TTALLOC_KERNEL);
}

/* DUMP_KERNELS: logs the live kernel binaries of the asker's user (root: all); no answer. */
static void on_dump_kernels(struct connection *c, const struct proto_msg *msg)
{
	(void)msg;
	struct registry *r = &c->server->registry;
	uint64_t now = clock_monotonic_ns(), shown = 0, bytes = 0;
	log_warn("📋 Loaded kernels (requested by PID %d):", (int)c->pid);
	for (uint32_t p = 0; p < r->process_cap; p++) {
		const struct process_record *rec = registry_process(r, p);
		if (!rec->in_use || rec->live_buffers == 0 || (c->uid != 0 && rec->uid != c->uid))
			continue;
		for (uint32_t b = registry_first_buffer(r, p); b != REGISTRY_NONE; b = registry_next_buffer(r, b)) {
			const struct live_buffer *buf = &r->buffers[b];
			if (buf->type != TTALLOC_KERNEL)
				continue;
			log_warn("    [Device %u] Kernel 0x%" PRIx64 ": %" PRIu64 " bytes by PID %d (age: %" PRIu64 "s)",
				 buf->device, buf->address, buf->size, (int)rec->pid,
				 (uint64_t)((now - buf->alloc_ns) / 1000000000ull));
			shown++;
			bytes += buf->size;
		}
	}
	log_warn("    %" PRIu64 " kernel%s listed, %" PRIu64 " bytes", shown, shown == 1 ? "" : "s", bytes);
}

/* ---- seed queries ---- */

/* Fills the seed's device-info fields; is_available 0 for a bad device. */
static void fill_device_info(struct server *s, struct proto_msg *ans, const struct device *dev)
{
	ans->u.seed.num_devices = (uint32_t)s->devices.count;
	if (!dev)
		return;
	ans->u.seed.total_dram_size = dev->info.dram_total;
	ans->u.seed.total_l1_size = dev->info.l1_total;
	ans->u.seed.arch_type = dev->info.arch;
	ans->u.seed.num_dram_channels = dev->info.num_dram_channels;
	/* a u32 on the wire: 4 GiB channels (Blackhole) do not fit and read as 0 */
	ans->u.seed.dram_size_per_channel =
		dev->info.dram_size_per_channel <= UINT32_MAX ? (uint32_t)dev->info.dram_size_per_channel : 0;
	ans->u.seed.l1_size_per_core = dev->info.l1_size_per_core;
	ans->u.seed.is_available = 1;
}

/* The device's totals (registry and tt-metal shm, ttmetal.h); cb and kernel for a 144-byte answer. */
static void fill_totals(struct server *s, struct proto_msg *ans, const struct device *dev,
			struct proto_answer_extra *extra)
{
	if (!dev)
		return;
	uint64_t used[TTALLOC_BUFFER_TYPES];
	server_device_used(s, dev->index, used);
	ans->u.seed.dram_allocated = used[TTALLOC_DRAM];
	ans->u.seed.l1_allocated = used[TTALLOC_L1];
	ans->u.seed.l1_small_allocated = used[TTALLOC_L1_SMALL];
	ans->u.seed.trace_allocated = used[TTALLOC_TRACE];
	extra->cb_allocated = used[TTALLOC_CB];
	extra->kernel_allocated = used[TTALLOC_KERNEL];
}

/*
 * QUERY and DEVICE_INFO_QUERY always get their seed answer, so seed clients
 * never wait on a frame that does not come: a bad device id is answered with
 * zero totals and is_available = 0 (and logged and counted here).
 */
static void answer_seed_query(struct connection *c, const struct proto_msg *msg, enum proto_msg_type type)
{
	struct server *s = c->server;
	struct device *dev = NULL;
	if (!(type == PROTO_DEVICE_INFO_RESPONSE && msg->device_id == -1))
		dev = valid_device(c, msg);
	struct proto_msg ans;
	proto_msg_init(&ans, type, msg->device_id);
	ans.timestamp = clock_realtime_ns();
	struct proto_answer_extra extra = {0};
	fill_device_info(s, &ans, dev);
	fill_totals(s, &ans, dev, &extra);
	connection_send_extra(c, &ans, &extra);
}

static void on_query(struct connection *c, const struct proto_msg *msg)
{
	answer_seed_query(c, msg, PROTO_RESPONSE);
}

static void on_device_info_query(struct connection *c, const struct proto_msg *msg)
{
	answer_seed_query(c, msg, PROTO_DEVICE_INFO_RESPONSE);
}

/* DUMP_REMAINING prints buffers of the requester's own user (root: all). */
static void on_dump_remaining(struct connection *c, const struct proto_msg *msg)
{
	(void)msg;
	struct registry *r = &c->server->registry;
	uint64_t now = clock_monotonic_ns();
	log_warn("📋 Remaining buffers (requested by PID %d):", (int)c->pid);
	uint64_t shown = 0, hidden = 0;
	for (uint32_t p = 0; p < r->process_cap; p++) {
		const struct process_record *rec = registry_process(r, p);
		if (!rec->in_use || rec->live_buffers == 0)
			continue;
		if (c->uid != 0 && rec->uid != c->uid) {
			hidden += rec->live_buffers;
			continue;
		}
		for (uint32_t b = registry_first_buffer(r, p); b != REGISTRY_NONE; b = registry_next_buffer(r, b)) {
			const struct live_buffer *buf = &r->buffers[b];
			log_warn("    [Device %u] Buffer 0x%" PRIx64 ": %" PRIu64 " bytes %s by PID %d (age: %" PRIu64
				 "s)",
				 buf->device, buf->address, buf->size, proto_buffer_type_name(buf->type),
				 (int)rec->pid, (uint64_t)((now - buf->alloc_ns) / 1000000000ull));
			stacks_log(rec->stacks, buf->stack, LOG_WARN, "        ", STACKS_SHOWN_FRAMES);
			shown++;
		}
	}
	log_warn("    %" PRIu64 " buffer%s listed", shown, shown == 1 ? "" : "s");
	if (hidden)
		connection_error(c, PROTO_ERR_FOREIGN_QUERY,
				 "DUMP_REMAINING from uid %u: %" PRIu64 " buffers of other users not listed",
				 (unsigned)c->uid, hidden);
}

/* ---- ttalloc extensions ---- */

static void send_error(struct connection *c, const struct proto_msg *msg, enum proto_error_reason reason,
		       int code)
{
	struct proto_msg ans;
	proto_msg_init(&ans, PROTO_ERROR, msg->device_id);
	ans.u.error.code = code;
	ans.u.error.reason = reason;
	snprintf(ans.u.error.message, sizeof(ans.u.error.message), "%s (%s %d)",
		 proto_error_description(reason), proto_type_name(msg->type), msg->device_id);
	connection_send(c, &ans);
}

/* 1 when a process's session matches a query's filter (empty: all). */
static int session_matches(const char *session, const struct proto_msg *query)
{
	const char *want = query->u.filter.session;
	return want[0] == '\0' || strncmp(session, want, PROTO_SESSION_LEN) == 0;
}

static void on_hello(struct connection *c, const struct proto_msg *msg)
{
	c->hello_version = msg->u.hello.version ? msg->u.hello.version : 1;
	struct process_record *rec = registry_process(&c->server->registry, c->proc);
	if (msg->u.hello.session[0])
		proto_set_string(rec->session, sizeof(rec->session), msg->u.hello.session);
	struct proto_msg ans;
	proto_msg_init(&ans, PROTO_HELLO_ACK, -1);
	ans.u.hello.version = PROTO_EXT_VERSION;
	ans.u.hello.num_devices = (uint32_t)c->server->devices.count;
	ans.u.hello.server_pid = (uint32_t)getpid();
	ans.u.hello.features = PROTO_FEATURE_HOLDERS | PROTO_FEATURE_HISTORY | PROTO_FEATURE_RING;
	connection_send(c, &ans);
}

/* RING_ATTACH: the descriptors came with the frame (connection.c keeps them). */
static void on_ring_attach(struct connection *c, const struct proto_msg *msg)
{
	int memfd = c->nfds == 2 ? c->fds[0] : -1, wake_fd = c->nfds == 2 ? c->fds[1] : -1;
	if (c->nfds != 2)
		connection_close_fds(c);
	c->nfds = 0;
	const char *why;
	if (ring_attach(c, &msg->u.ring, memfd, wake_fd, &why) < 0) {
		connection_error(c, PROTO_ERR_BAD_RING, "RING_ATTACH refused: %s", why);
		send_error(c, msg, PROTO_ERR_BAD_RING, TTALLOC_EPROTOCOL);
		return;
	}
	log_info("⚡ PID %d reports through a shared-memory ring", (int)c->pid);
	struct proto_msg ans;
	proto_msg_init(&ans, PROTO_RING_ACK, -1);
	ans.u.ring = msg->u.ring;
	connection_send(c, &ans);
}

static void on_sync(struct connection *c, const struct proto_msg *msg)
{
	struct proto_msg ans;
	proto_msg_init(&ans, PROTO_SYNC_ACK, msg->device_id);
	ans.size = msg->size; /* echoed so a client can match its request */
	connection_send(c, &ans);
}

static void device_load_of(struct server *s, int device, struct device_load *load)
{
	server_device_used(s, device, load->used);
}

static void on_device_status_query(struct connection *c, const struct proto_msg *msg)
{
	struct server *s = c->server;
	struct device *dev = valid_device(c, msg);
	if (!dev) {
		send_error(c, msg, PROTO_ERR_BAD_DEVICE, TTALLOC_EINVAL);
		return;
	}
	struct device_load load;
	device_load_of(s, dev->index, &load);
	device_refresh(dev, &load);
	struct proto_msg ans;
	proto_msg_init(&ans, PROTO_DEVICE_STATUS, dev->index);
	struct proto_status_payload *st = &ans.u.status;
	st->temperature_mc = dev->now.temperature_mc;
	st->power_mw = dev->now.power_mw;
	st->utilization = dev->now.utilization;
	st->valid = (DEVICE_READING_VALID(&dev->now, DEVICE_TEMPERATURE) ? PROTO_STATUS_TEMPERATURE : 0) |
		    (DEVICE_READING_VALID(&dev->now, DEVICE_POWER) ? PROTO_STATUS_POWER : 0) |
		    (DEVICE_READING_VALID(&dev->now, DEVICE_UTILIZATION) ? PROTO_STATUS_UTILIZATION : 0);
	st->live_buffers = s->registry.devices[dev->index].buffers;
	st->processes = server_device_processes(s, dev->index);
	ans.buffer_id = load.used[TTALLOC_KERNEL]; /* DEVICE_STATUS: kernel bytes in the header */
	st->backend_flags = dev->info.simulated ? 1u : 0u;
	st->cb_allocated = load.used[TTALLOC_CB];
	st->system_memory = load.used[TTALLOC_SYSTEM_MEMORY];
	proto_set_string(st->name, sizeof(st->name), dev->info.name);
	connection_send(c, &ans);
}

static void send_rows_end(struct connection *c, uint64_t count)
{
	struct proto_msg end;
	proto_msg_init(&end, PROTO_ROWS_END, -1);
	end.size = count;
	connection_send(c, &end);
}

static void on_process_query(struct connection *c, const struct proto_msg *msg)
{
	struct server *s = c->server;
	struct registry *r = &s->registry;
	if (msg->device_id != -1 && !valid_device(c, msg)) {
		send_error(c, msg, PROTO_ERR_BAD_DEVICE, TTALLOC_EINVAL);
		return;
	}
	uint64_t rows = 0;
	for (uint32_t p = 0; p < r->process_cap && !c->closed; p++) {
		const struct process_record *rec = registry_process(r, p);
		if (!rec->in_use || !session_matches(rec->session, msg))
			continue;
		for (uint32_t i = 0; i < rec->usage_count; i++) {
			const struct device_usage *u = &rec->usage[i];
			if (u->buffers == 0 || (msg->device_id != -1 && u->device != msg->device_id))
				continue;
			struct proto_msg row;
			proto_msg_init(&row, PROTO_PROCESS_ROW, u->device);
			row.process_id = rec->pid;
			row.size = u->buffers;
			row.timestamp = rec->first_seen_ns;
			row.u.process.used[0] = u->used[TTALLOC_DRAM];
			row.u.process.used[1] = u->used[TTALLOC_L1];
			row.u.process.used[2] = u->used[TTALLOC_L1_SMALL];
			row.u.process.used[3] = u->used[TTALLOC_TRACE];
			row.u.process.system_memory = u->used[TTALLOC_SYSTEM_MEMORY];
			row.u.process.cb = u->used[TTALLOC_CB];
			row.buffer_id = u->used[TTALLOC_KERNEL];
			row.u.process.uid = rec->uid;
			memcpy(row.u.process.comm, rec->comm, sizeof(row.u.process.comm));
			connection_send(c, &row);
			rows++;
		}
	}
	/* processes only tt-metal's shared memory reports (no session: left out of a filtered query) */
	uint32_t shm_count = 0;
	const struct ttmetal_row *shm = ttmetal_rows(s, &shm_count);
	for (uint32_t i = 0; i < shm_count && !c->closed && !msg->u.filter.session[0]; i++) {
		const struct ttmetal_row *t = &shm[i];
		if (t->covered || (msg->device_id != -1 && t->device != msg->device_id))
			continue;
		struct proto_msg row;
		proto_msg_init(&row, PROTO_PROCESS_ROW, t->device);
		row.process_id = t->pid;
		row.timestamp = t->updated_ns;
		row.u.process.used[0] = t->used[TTALLOC_DRAM];
		row.u.process.used[1] = t->used[TTALLOC_L1];
		row.u.process.used[2] = t->used[TTALLOC_L1_SMALL];
		row.u.process.used[3] = t->used[TTALLOC_TRACE];
		row.u.process.cb = t->used[TTALLOC_CB];
		row.u.process.uid = t->uid;
		row.u.process.flags = PROTO_PROCESS_SHM | (t->stale ? PROTO_PROCESS_STALE : 0);
		proto_set_string(row.u.process.comm, sizeof(row.u.process.comm), t->name);
		connection_send(c, &row);
		rows++;
	}
	send_rows_end(c, rows);
}

struct stack_line_sink {
	struct connection *c;
	int32_t pid;
};

static void send_stack_line(const char *frame, size_t len, void *ctx)
{
	struct stack_line_sink *sink = ctx;
	struct proto_msg line;
	if (sink->c->closed)
		return;
	proto_msg_init(&line, PROTO_STACK_LINE, -1);
	line.process_id = sink->pid;
	if (len > sizeof(line.u.text.text) - 1)
		len = sizeof(line.u.text.text) - 1;
	memcpy(line.u.text.text, frame, len);
	connection_send(sink->c, &line);
}

/* Sends a symbolized stack as STACK_LINE frames, one per frame. */
static void send_stack_lines(struct connection *c, const char *text, int32_t pid)
{
	struct stack_line_sink sink = {c, pid};
	stacks_each_frame(text, send_stack_line, &sink);
}

/* LEAK_QUERY(process_id or 0): kept leaked buffers of the asker's user (root: all). */
static void on_leak_query(struct connection *c, const struct proto_msg *msg)
{
	const struct leak_history *h = &c->server->leaks;
	uint64_t rows = 0, hidden = 0;
	for (uint32_t i = 0; i < h->count && !c->closed; i++) {
		const struct leak_report *rep = leak_history_get(h, i);
		if ((msg->process_id && rep->pid != msg->process_id) || !session_matches(rep->session, msg))
			continue;
		if (c->uid != 0 && rep->uid != c->uid) {
			hidden += rep->kept;
			continue;
		}
		for (uint32_t e = 0; e < rep->kept && !c->closed; e++) {
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
			connection_send(c, &row);
			if ((msg->buffer_type & PROTO_LEAK_WITH_STACKS) && lb->stack_text != LEAK_NO_STACK)
				send_stack_lines(c, rep->stack_texts[lb->stack_text], rep->pid);
			rows++;
		}
	}
	/* only a query for one pid asks for someone else's data; "all" means "all of mine" */
	if (hidden && msg->process_id && !c->closed)
		connection_error(c, PROTO_ERR_FOREIGN_QUERY,
				 "LEAK_QUERY from uid %u for PID %d: %" PRIu64 " leaked buffers of another user "
				 "not shown",
				 (unsigned)c->uid, msg->process_id, hidden);
	send_rows_end(c, rows);
}

static void on_answer_type(struct connection *c, const struct proto_msg *msg)
{
	connection_error(c, PROTO_ERR_UNEXPECTED_TYPE, "%s (type %u) is sent by the server, not to it",
			 proto_type_name(msg->type), msg->type);
}

static const frame_handler handlers[256] = {
	[PROTO_ALLOC] = on_alloc,
	[PROTO_FREE] = handle_free,
	[PROTO_QUERY] = on_query,
	[PROTO_RESPONSE] = on_answer_type,
	[PROTO_DUMP_REMAINING] = on_dump_remaining,
	[PROTO_DEVICE_INFO_QUERY] = on_device_info_query,
	[PROTO_DEVICE_INFO_RESPONSE] = on_answer_type,
	[PROTO_CB_ALLOC] = on_cb_alloc,
	[PROTO_CB_FREE] = on_cb_free,
	[PROTO_KERNEL_LOAD] = on_kernel_load,
	[PROTO_KERNEL_UNLOAD] = on_kernel_unload,
	[PROTO_DUMP_KERNELS] = on_dump_kernels,
	[PROTO_HELLO] = on_hello,
	[PROTO_HELLO_ACK] = on_answer_type,
	[PROTO_SYNC] = on_sync,
	[PROTO_SYNC_ACK] = on_answer_type,
	[PROTO_DEVICE_STATUS_QUERY] = on_device_status_query,
	[PROTO_DEVICE_STATUS] = on_answer_type,
	[PROTO_PROCESS_QUERY] = on_process_query,
	[PROTO_PROCESS_ROW] = on_answer_type,
	[PROTO_LEAK_QUERY] = on_leak_query,
	[PROTO_LEAK_ROW] = on_answer_type,
	[PROTO_ROWS_END] = on_answer_type,
	[PROTO_ERROR] = on_answer_type,
	[PROTO_STACK_DEF] = on_stack_def,
	[PROTO_RING_ATTACH] = on_ring_attach,
	[PROTO_RING_ACK] = on_answer_type,
	[PROTO_HOLDER_QUERY] = handle_holder_query,
	[PROTO_HOLDER_ROW] = on_answer_type,
	[PROTO_HISTORY_QUERY] = handle_history_query,
	[PROTO_HISTORY_ROW] = on_answer_type,
};

/*
 * Requests answered from the live picture: the rings are drained first, so
 * an answer reflects every event reported before the request was sent
 * (ttalloc_flush's SYNC relies on it).
 */
static int reads_registry(unsigned type)
{
	switch (type) {
	case PROTO_QUERY: case PROTO_DUMP_REMAINING: case PROTO_DUMP_KERNELS: case PROTO_SYNC:
	case PROTO_DEVICE_STATUS_QUERY: case PROTO_PROCESS_QUERY: case PROTO_LEAK_QUERY:
	case PROTO_HOLDER_QUERY: case PROTO_HISTORY_QUERY:
		return 1;
	default:
		return 0;
	}
}

void handle_frame(struct connection *c, const struct proto_msg *msg)
{
	c->server->stats.frames[msg->type]++;
	if (reads_registry(msg->type))
		rings_drain_all(c->server);
	frame_handler fn = handlers[msg->type];
	if (!fn) {
		connection_error(c, PROTO_ERR_UNKNOWN_TYPE, "type %u (first bytes %02x %02x %02x %02x)", msg->type,
				 ((const uint8_t *)msg)[0], ((const uint8_t *)msg)[1],
				 ((const uint8_t *)msg)[2], ((const uint8_t *)msg)[3]);
		return;
	}
	fn(c, msg);
}

void handle_print_totals(struct server *s)
{
	uint64_t unprinted = log_budget_expire(&s->event_lines);
	if (unprinted)
		log_info("  … %" PRIu64 " more event lines not printed in the last second (%d a second are; "
			 "every event is counted in the totals)",
			 unprinted, EVENT_LINES_PER_SECOND);
	if (s->touched_devices)
		s->change_seq++; /* one change batch: one /api/events event */
	while (s->touched_devices) {
		int d = __builtin_ctzll(s->touched_devices);
		s->touched_devices &= s->touched_devices - 1;
		if (!log_enabled(LOG_INFO))
			continue;
		const struct device_totals *t = &s->registry.devices[d];
		char dram[FORMAT_BYTES_LEN], l1[FORMAT_BYTES_LEN];
		format_bytes_compact(dram, sizeof(dram), t->used[TTALLOC_DRAM], 1);
		format_bytes_compact(l1, sizeof(l1), t->used[TTALLOC_L1], 1);
		log_info("  └─ Device %d total: DRAM=%s, L1=%s, %" PRIu64 " buffer%s", d, dram, l1, t->buffers,
			 t->buffers == 1 ? "" : "s");
	}
}

void handle_process_exit(struct server *s, uint32_t proc)
{
	struct registry *r = &s->registry;
	struct process_record *rec = registry_process(r, proc);
	if (rec->live_buffers == 0) {
		log_info("📤 Process %d (%s) disconnected, no buffers left", (int)rec->pid, rec->comm);
	} else {
		struct leak_report rep;
		leak_report_build(&rep, r, proc, clock_monotonic_ns());
		leak_report_print(&rep, s->opts.leak_lines);
		for (uint32_t i = 0; i < rec->usage_count; i++)
			if (rec->usage[i].buffers)
				mark_touched(s, rec->usage[i].device);
		leak_history_add(&s->leaks, &rep);
	}
	registry_drop_process(r, proc);
}
