/*
 * oom.c - building, logging and keeping post-mortems (oom.h).
 */
#include "server/state/oom.h"

#include <inttypes.h>
#include <stdlib.h>
#include <string.h>

#include "common/clock.h"
#include "common/log.h"
#include "server/state/addrmap.h"
#include "server/state/picture.h"
#include "server/state/state.h"

void oom_init(struct oom_history *h)
{
	memset(h, 0, sizeof(*h));
}

void oom_release(struct oom_history *h)
{
	free(h->ring);
	memset(h, 0, sizeof(*h));
}

const struct oom_report *oom_newest(const struct oom_history *h, uint32_t i)
{
	return &h->ring[(h->start + h->count - 1 - i) % OOM_KEEP];
}

const struct oom_report *oom_find(const struct oom_history *h, uint64_t id)
{
	for (uint32_t i = 0; i < h->count; i++)
		if (oom_newest(h, i)->id == id)
			return oom_newest(h, i);
	return NULL;
}

/* The slot the next report goes to (the oldest one when full), or NULL without memory. */
static struct oom_report *next_slot(struct oom_history *h)
{
	if (!h->ring && !(h->ring = calloc(OOM_KEEP, sizeof(*h->ring))))
		return NULL;
	if (h->count < OOM_KEEP)
		return &h->ring[(h->start + h->count++) % OOM_KEEP];
	struct oom_report *rep = &h->ring[h->start];
	h->start = (h->start + 1) % OOM_KEEP;
	return rep;
}

/* The memory's capacity and use on the device, and the failing process's view of it. */
static void fill_memory(struct oom_report *rep, struct state *st, uint32_t proc)
{
	const struct device *dev = &st->devices.devices[rep->device];
	enum device_region cap_region = picture_capacity_region(rep->type);
	rep->capacity_known = cap_region != DEVICE_REGION_NONE &&
		picture_capacity_known(st, rep->device, cap_region == DEVICE_REGION_L1);
	rep->capacity = rep->capacity_known ? picture_capacity(dev, rep->type) : 0;
	rep->used = picture_region_used(st, rep->device, cap_region);
	rep->device_free = rep->capacity > rep->used ? rep->capacity - rep->used : 0;
	const struct device_memory_map *geo = device_info_map(&dev->info, (enum device_region)rep->region);
	struct addrmap map;
	struct addrmap_query q = {.device = rep->device, .region = rep->region, .proc = proc};
	if (geo && addrmap_build(&map, &st->registry, geo, &q) == 0) {
		rep->map_known = 1;
		rep->process_used = map.used;
		rep->free = map.free;
		rep->largest_free = map.largest_free;
		rep->fragmentation = map.fragmentation;
		rep->free_blocks = map.blocks_total;
		if (!rep->capacity_known) {
			rep->capacity = map.capacity;
			rep->capacity_known = 1;
		}
		addrmap_release(&map);
	} else {
		const struct device_usage *u = registry_usage(&st->registry, proc, rep->device);
		for (unsigned t = 0; u && t < TTALLOC_BUFFER_TYPES; t++)
			rep->process_used += picture_capacity_region(t) == cap_region ? u->used[t] : 0;
		rep->free = rep->device_free;
	}
	rep->cause = format_oom_cause(rep->requested, rep->capacity_known ? rep->capacity : 0, rep->free,
				      rep->largest_free, rep->map_known);
}

/* Bytes `u` holds in the memory a buffer of `type` takes room in. */
static uint64_t usage_in(const struct device_usage *u, unsigned type)
{
	enum device_region region = picture_capacity_region(type);
	if (region == DEVICE_REGION_NONE)
		return u->used[type];
	uint64_t sum = 0;
	for (unsigned t = 0; t < TTALLOC_BUFFER_TYPES; t++)
		if (picture_capacity_region(t) == region)
			sum += u->used[t];
	return sum;
}

/* The processes holding most of that memory, most first. */
static void fill_holders(struct oom_report *rep, struct state *st)
{
	struct registry *r = &st->registry;
	REGISTRY_FOR_EACH_PROCESS (r, p) {
		const struct device_usage *u = registry_usage(r, p, rep->device);
		uint64_t bytes = u ? usage_in(u, rep->type) : 0;
		if (!bytes)
			continue;
		uint32_t at = rep->holder_count;
		while (at > 0 && rep->holders[at - 1].bytes < bytes)
			at--;
		if (at >= OOM_HOLDERS)
			continue;
		uint32_t last = rep->holder_count < OOM_HOLDERS ? rep->holder_count++ : OOM_HOLDERS - 1;
		memmove(&rep->holders[at + 1], &rep->holders[at], (last - at) * sizeof(rep->holders[0]));
		const struct process_record *rec = registry_process(r, p);
		rep->holders[at] = (struct oom_holder){.pid = rec->pid, .bytes = bytes, .buffers = u->buffers};
		memcpy(rep->holders[at].comm, rec->comm, sizeof(rec->comm));
	}
}

/* Inserts a buffer into the biggest-first list when it is among the OOM_BUFFERS biggest. */
static void consider_buffer(struct oom_report *rep, struct state *st, uint32_t proc, const struct live_buffer *b,
			    uint64_t now)
{
	uint32_t at = rep->buffer_count;
	while (at > 0 && rep->buffers[at - 1].size < b->size)
		at--;
	if (at >= OOM_BUFFERS)
		return;
	uint32_t last = rep->buffer_count < OOM_BUFFERS ? rep->buffer_count++ : OOM_BUFFERS - 1;
	memmove(&rep->buffers[at + 1], &rep->buffers[at], (last - at) * sizeof(rep->buffers[0]));
	struct process_record *rec = registry_process(&st->registry, proc);
	rep->buffers[at] = (struct oom_buffer){
		.pid = rec->pid,
		.address = b->address,
		.size = b->size,
		.age_ns = now > b->alloc_ns ? now - b->alloc_ns : 0,
		.stack = stacks_pool_id(rec->stacks, b->stack, &st->stack_pool),
		.type = b->type,
	};
	memcpy(rep->buffers[at].comm, rec->comm, sizeof(rec->comm));
}

/* The biggest live buffers in the same memory of the device, every process's. */
static void fill_buffers(struct oom_report *rep, struct state *st, uint64_t now)
{
	struct registry *r = &st->registry;
	enum device_region region = picture_capacity_region(rep->type);
	REGISTRY_FOR_EACH_PROCESS (r, p) {
		REGISTRY_FOR_EACH_BUFFER (r, p, b) {
			const struct live_buffer *buf = registry_buffer(r, b);
			int same = region == DEVICE_REGION_NONE ? buf->type == rep->type
								: picture_capacity_region(buf->type) == region;
			if (buf->device == rep->device && same)
				consider_buffer(rep, st, p, buf, now);
		}
	}
}

/* The process's last events, newest first, from its flight recorder. */
static void fill_events(struct oom_report *rep, struct state *st, uint32_t proc, uint64_t now)
{
	struct process_record *rec = registry_process(&st->registry, proc);
	uint32_t n = flight_count(rec->flight);
	for (uint32_t i = 0; i < n && rep->event_count < OOM_EVENTS; i++) {
		const struct flight_event *ev = flight_newest(rec->flight, i);
		rep->events[rep->event_count++] = (struct oom_event){
			.address = ev->address,
			.size = ev->size,
			.age_ns = now > ev->time_ns ? now - ev->time_ns : 0,
			.stack = stacks_pool_id(rec->stacks, ev->stack, &st->stack_pool),
			.call_stack = stacks_pool_id(rec->stacks, ev->call_stack, &st->stack_pool),
			.kind = ev->kind,
			.type = ev->type,
			.device = ev->device,
		};
	}
}

static void log_report(const struct oom_report *rep, int kept)
{
	char verdict[256], size[FORMAT_BYTES_LEN];
	format_oom_verdict(verdict, sizeof(verdict), rep->requested, rep->free, rep->largest_free, rep->map_known,
			   rep->cause);
	format_bytes_spaced(size, sizeof(size), rep->requested);
	if (kept)
		log_warn("❗ PID %d (%s): allocation of %s %s on device %d failed: %s (post-mortem %" PRIu64
			 ": GET /api/oom/%" PRIu64 ", tt_smi --oom)",
			 (int)rep->pid, rep->comm, size, proto_buffer_type_name(rep->type), rep->device, verdict,
			 rep->id, rep->id);
	else
		log_warn("❗ PID %d (%s): allocation of %s %s on device %d failed: %s (no memory to keep its "
			 "post-mortem)",
			 (int)rep->pid, rep->comm, size, proto_buffer_type_name(rep->type), rep->device, verdict);
}

const struct oom_report *oom_record(struct state *st, uint32_t proc, const struct oom_request *req)
{
	struct oom_history *h = &st->ooms;
	h->total++;
	if (req->device >= 0 && req->device < PROTO_MAX_DEVICES && req->type < TTALLOC_BUFFER_TYPES)
		h->failures[req->device][req->type]++;
	static struct oom_report scratch; /* for the log line when none can be kept (loop thread only) */
	struct oom_report *rep = next_slot(h);
	int kept = rep != NULL;
	if (!rep)
		rep = &scratch;
	const struct process_record *rec = registry_process(&st->registry, proc);
	uint64_t now = clock_monotonic_ns();
	memset(rep, 0, sizeof(*rep));
	rep->id = h->total;
	rep->time_ns = clock_realtime_ns();
	rep->pid = rec->pid;
	rep->uid = rec->uid;
	memcpy(rep->comm, rec->comm, sizeof(rep->comm));
	memcpy(rep->session, rec->session, sizeof(rep->session));
	rep->device = req->device;
	rep->type = (uint8_t)req->type;
	rep->region = device_region_of(req->type);
	rep->requested = req->size;
	rep->stack = stacks_pool_id(rec->stacks, req->stack, &st->stack_pool);
	fill_memory(rep, st, proc);
	fill_holders(rep, st);
	fill_buffers(rep, st, now);
	fill_events(rep, st, proc, now);
	log_report(rep, kept);
	return kept ? rep : NULL;
}
