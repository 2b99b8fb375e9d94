/*
 * registry.c - live buffers and incremental totals (see registry.h).
 */
#include "server/state/registry.h"
#include "common/array.h"
#include "common/clock.h"

#include <stdlib.h>
#include <string.h>

#include "common/proc_info.h"

#define MIN_BUFFERS 1024u
#define MIN_PROCESSES 16u

int registry_init(struct registry *r, int num_devices, uint32_t expected_buffers)
{
	memset(r, 0, sizeof(*r));
	r->num_devices = num_devices;
	r->free_buffer = REGISTRY_NONE;
	if (expected_buffers < MIN_BUFFERS)
		expected_buffers = MIN_BUFFERS;
	return addr_index_init(&r->index, expected_buffers);
}

void registry_release(struct registry *r)
{
	for (uint32_t i = 0; i < r->process_cap; i++) {
		free(r->processes[i].usage);
		stacks_destroy(r->processes[i].stacks);
		free(r->processes[i].flight);
	}
	free(r->processes);
	free(r->buffers);
	addr_index_release(&r->index);
	memset(r, 0, sizeof(*r));
}

/* ---- process records ---- */

uint32_t registry_find_pid(const struct registry *r, pid_t pid)
{
	for (uint32_t i = 0; i < r->process_cap; i++)
		if (r->processes[i].in_use && !r->processes[i].exited && r->processes[i].pid == pid)
			return i;
	return REGISTRY_NONE;
}

static uint32_t new_process_slot(struct registry *r)
{
	for (uint32_t i = 0; i < r->process_cap; i++)
		if (!r->processes[i].in_use)
			return i;
	uint32_t slot = r->process_cap;
	if (ARRAY_RESERVE(r->processes, r->process_cap, (size_t)slot + 1) < 0)
		return REGISTRY_NONE;
	memset(r->processes + slot, 0, (r->process_cap - slot) * sizeof(*r->processes));
	return slot;
}

uint32_t registry_attach(struct registry *r, pid_t pid, uid_t uid)
{
	uint32_t proc = registry_find_pid(r, pid);
	if (proc == REGISTRY_NONE) {
		proc = new_process_slot(r);
		if (proc == REGISTRY_NONE)
			return REGISTRY_NONE;
		struct process_record *p = &r->processes[proc];
		struct device_usage *usage = p->usage;
		uint32_t usage_cap = p->usage_cap;
		memset(p, 0, sizeof(*p));
		p->usage = usage; /* keep the array of a reused slot */
		p->usage_cap = usage_cap;
		p->pid = pid;
		p->uid = uid;
		p->first_buffer = REGISTRY_NONE;
		p->first_seen_ns = clock_realtime_ns();
		p->in_use = 1;
		proc_read_comm(pid, p->comm, sizeof(p->comm));
		r->process_count++;
		r->process_generation++;
	}
	r->processes[proc].connections++;
	return proc;
}

int registry_detach(struct registry *r, uint32_t proc)
{
	struct process_record *p = &r->processes[proc];
	if (p->connections > 0)
		p->connections--;
	return p->connections == 0;
}

static struct device_usage *usage_for(struct process_record *p, int device, int create)
{
	for (uint32_t i = 0; i < p->usage_count; i++)
		if (p->usage[i].device == device)
			return &p->usage[i];
	if (!create)
		return NULL;
	if (ARRAY_RESERVE(p->usage, p->usage_cap, (size_t)p->usage_count + 1) < 0)
		return NULL;
	struct device_usage *u = &p->usage[p->usage_count++];
	memset(u, 0, sizeof(*u));
	u->device = device;
	return u;
}

const struct device_usage *registry_usage(const struct registry *r, uint32_t proc, int device)
{
	return usage_for(&r->processes[proc], device, 0);
}

uint32_t registry_device_processes(const struct registry *r, int device)
{
	uint32_t n = 0;
	REGISTRY_FOR_EACH_PROCESS (r, p) {
		const struct device_usage *u = usage_for(&r->processes[p], device, 0);
		n += u && u->buffers > 0;
	}
	return n;
}

/* ---- buffer records ---- */

static uint32_t new_buffer_slot(struct registry *r)
{
	if (r->free_buffer == REGISTRY_NONE) {
		/* 1.5x growth, not ARRAY_RESERVE's doubling: with the index
		 * doubling too, a freshly grown registry still stays under 128
		 * bytes per live buffer */
		uint64_t want = r->buffer_cap ? (uint64_t)r->buffer_cap + r->buffer_cap / 2 : MIN_BUFFERS;
		uint32_t cap = want > REGISTRY_NONE - 1 ? REGISTRY_NONE - 1 : (uint32_t)want;
		if (cap <= r->buffer_cap)
			return REGISTRY_NONE;
		struct live_buffer *grown = realloc(r->buffers, (size_t)cap * sizeof(*grown));
		if (!grown)
			return REGISTRY_NONE;
		/* thread the new records onto the free list, lowest first */
		for (uint32_t i = r->buffer_cap; i < cap; i++) {
			grown[i].live = 0;
			grown[i].owner_next = i + 1 < cap ? i + 1 : REGISTRY_NONE;
		}
		r->free_buffer = r->buffer_cap;
		r->buffers = grown;
		r->buffer_cap = cap;
	}
	uint32_t slot = r->free_buffer;
	r->free_buffer = r->buffers[slot].owner_next;
	return slot;
}

/* Adds (sign = +1) or removes (sign = -1) a buffer from every total. */
static void account(struct registry *r, struct device_usage *u, const struct live_buffer *b, int sign)
{
	struct device_totals *t = &r->devices[b->device];
	struct process_record *p = &r->processes[b->owner];
	if (sign > 0) {
		t->used[b->type] += b->size;
		t->buffers++;
		u->used[b->type] += b->size;
		u->buffers++;
		p->live_buffers++;
		r->live_buffers++;
	} else {
		t->used[b->type] -= b->size;
		t->buffers--;
		u->used[b->type] -= b->size;
		u->buffers--;
		p->live_buffers--;
		r->live_buffers--;
	}
}

static void link_to_owner(struct registry *r, uint32_t slot)
{
	struct live_buffer *b = &r->buffers[slot];
	struct process_record *p = &r->processes[b->owner];
	b->owner_prev = REGISTRY_NONE;
	b->owner_next = p->first_buffer;
	if (p->first_buffer != REGISTRY_NONE)
		r->buffers[p->first_buffer].owner_prev = slot;
	p->first_buffer = slot;
}

static void unlink_from_owner(struct registry *r, uint32_t slot)
{
	struct live_buffer *b = &r->buffers[slot];
	if (b->owner_prev != REGISTRY_NONE)
		r->buffers[b->owner_prev].owner_next = b->owner_next;
	else
		r->processes[b->owner].first_buffer = b->owner_next;
	if (b->owner_next != REGISTRY_NONE)
		r->buffers[b->owner_next].owner_prev = b->owner_prev;
}

/* Returns a record to the free list. */
static void recycle(struct registry *r, uint32_t slot)
{
	r->buffers[slot].live = 0;
	r->buffers[slot].owner_next = r->free_buffer;
	r->free_buffer = slot;
}

struct owner_match {
	const struct registry *r;
	uint32_t proc;
};

/* An ALLOC record of the process (FREE and ALLOC never see counted records). */
static int owned_by(uint32_t buffer, const void *ctx)
{
	const struct owner_match *m = ctx;
	const struct live_buffer *b = &m->r->buffers[buffer];
	return b->owner == m->proc && b->kind == REGISTRY_KIND_BUFFER;
}

/* Any ALLOC record, whoever owns it. */
static int any_buffer(uint32_t buffer, const void *ctx)
{
	const struct owner_match *m = ctx;
	return m->r->buffers[buffer].kind == REGISTRY_KIND_BUFFER;
}

/* Exactly this record (an index entry names one record). */
static int is_slot(uint32_t buffer, const void *ctx)
{
	return buffer == *(const uint32_t *)ctx;
}

/* A counted record of the process, of one type, optionally of one size. */
struct counted_match {
	const struct registry *r;
	uint32_t proc;
	unsigned type;
	uint64_t size; /* 0: any */
};

static int counted_by(uint32_t buffer, const void *ctx)
{
	const struct counted_match *m = ctx;
	const struct live_buffer *b = &m->r->buffers[buffer];
	return b->owner == m->proc && b->kind == REGISTRY_KIND_COUNTED && b->type == m->type &&
		(m->size == 0 || b->size == m->size);
}

enum registry_result registry_alloc(struct registry *r, uint32_t proc, int device, unsigned type, uint64_t address,
				    uint64_t size, uint64_t now_ns)
{
	struct registry_origin origin = {.alloc_ns = now_ns, .stack = STACKS_NONE, .source = 0};
	return registry_alloc_from(r, proc, device, type, address, size, &origin);
}

/*
 * Adds a new record for `proc` (its usage `u`) and accounts it. `hole`:
 * where a lookup just found the key's place in the index, or
 * ADDR_INDEX_NOT_FOUND.
 */
static enum registry_result insert_record(struct registry *r, uint32_t proc, struct device_usage *u, int device,
					  unsigned type, uint64_t address, uint64_t size,
					  const struct registry_origin *origin, enum registry_kind kind, uint32_t hole)
{
	uint32_t slot = new_buffer_slot(r);
	if (slot == REGISTRY_NONE)
		return REGISTRY_NOMEM;
	int rc = hole == ADDR_INDEX_NOT_FOUND ? addr_index_insert(&r->index, device, address, slot)
					      : addr_index_insert_at(&r->index, hole, device, address, slot);
	if (rc < 0) {
		recycle(r, slot);
		return REGISTRY_NOMEM;
	}
	struct live_buffer *b = &r->buffers[slot];
	*b = (struct live_buffer){
		.address = address,
		.size = size,
		.alloc_ns = origin->alloc_ns,
		.owner = proc,
		.stack = origin->stack,
		.device = (uint16_t)device,
		.type = (uint8_t)type,
		.live = 1,
		.kind = (uint8_t)kind,
		.source = origin->source,
	};
	link_to_owner(r, slot);
	account(r, u, b, +1);
	return REGISTRY_OK;
}

enum registry_result registry_alloc_from(struct registry *r, uint32_t proc, int device, unsigned type, uint64_t address,
					 uint64_t size, const struct registry_origin *origin)
{
	struct process_record *p = &r->processes[proc];
	struct device_usage *u = usage_for(p, device, 1);
	if (!u)
		return REGISTRY_NOMEM;
	struct owner_match m = {r, proc};
	uint32_t hole = ADDR_INDEX_NOT_FOUND;
	uint32_t found = addr_index_find_or_hole(&r->index, device, address, owned_by, &m, &hole);
	if (found != ADDR_INDEX_NOT_FOUND) {
		/* Same process, same address: its FREE was lost. Keep one record. */
		struct live_buffer *old = &r->buffers[addr_index_value(&r->index, found)];
		if (origin->previous)
			*origin->previous = *old;
		account(r, usage_for(p, old->device, 0), old, -1);
		old->size = size;
		old->type = (uint8_t)type;
		old->alloc_ns = origin->alloc_ns;
		old->stack = origin->stack;
		old->source = origin->source;
		account(r, u, old, +1);
		return REGISTRY_REPLACED;
	}
	return insert_record(r, proc, u, device, type, address, size, origin, REGISTRY_KIND_BUFFER, hole);
}

enum registry_result registry_add_counted(struct registry *r, uint32_t proc, int device, unsigned type, uint64_t id,
					  uint64_t size, uint64_t now_ns)
{
	struct device_usage *u = usage_for(&r->processes[proc], device, 1);
	if (!u)
		return REGISTRY_NOMEM;
	struct registry_origin origin = {.alloc_ns = now_ns, .stack = STACKS_NONE, .source = 0};
	return insert_record(r, proc, u, device, type, id, size, &origin, REGISTRY_KIND_COUNTED, ADDR_INDEX_NOT_FOUND);
}

/* Takes a found record out of the totals, the index, its owner's list; copies it to *freed. */
static void remove_record(struct registry *r, uint32_t proc, uint32_t found, struct live_buffer *freed)
{
	uint32_t slot = addr_index_value(&r->index, found);
	struct live_buffer *b = &r->buffers[slot];
	*freed = *b;
	account(r, usage_for(&r->processes[proc], b->device, 0), b, -1);
	addr_index_remove(&r->index, found);
	unlink_from_owner(r, slot);
	recycle(r, slot);
}

enum registry_result registry_release_counted(struct registry *r, uint32_t proc, int device, unsigned type, uint64_t id,
					      uint64_t size, struct live_buffer *freed)
{
	struct counted_match m = {r, proc, type, size};
	uint32_t found = size ? addr_index_find(&r->index, device, id, counted_by, &m) : ADDR_INDEX_NOT_FOUND;
	if (found == ADDR_INDEX_NOT_FOUND) {
		m.size = 0;
		found = addr_index_find(&r->index, device, id, counted_by, &m);
	}
	if (found == ADDR_INDEX_NOT_FOUND)
		return REGISTRY_UNKNOWN;
	remove_record(r, proc, found, freed);
	return REGISTRY_OK;
}

int registry_holds(const struct registry *r, uint32_t proc, int device, uint64_t address)
{
	return registry_own_buffer(r, proc, device, address) != NULL;
}

const struct live_buffer *registry_own_buffer(const struct registry *r, uint32_t proc, int device, uint64_t address)
{
	struct owner_match m = {r, proc};
	uint32_t found = addr_index_find(&r->index, device, address, owned_by, &m);
	return found == ADDR_INDEX_NOT_FOUND ? NULL : &r->buffers[addr_index_value(&r->index, found)];
}

enum registry_result registry_free(struct registry *r, uint32_t proc, int device, uint64_t address,
				   struct live_buffer *freed, pid_t *owner_pid)
{
	struct owner_match m = {r, proc};
	uint32_t found = addr_index_find(&r->index, device, address, owned_by, &m);
	if (found == ADDR_INDEX_NOT_FOUND) {
		uint32_t other = addr_index_find(&r->index, device, address, any_buffer, &m);
		if (other == ADDR_INDEX_NOT_FOUND)
			return REGISTRY_UNKNOWN;
		*owner_pid = r->processes[r->buffers[addr_index_value(&r->index, other)].owner].pid;
		return REGISTRY_FOREIGN;
	}
	remove_record(r, proc, found, freed);
	return REGISTRY_OK;
}

uint8_t registry_instance(struct registry *r, uint32_t proc, uint64_t id)
{
	struct process_record *p = &r->processes[proc];
	int free_slot = -1;
	for (int i = 0; i < REGISTRY_INSTANCES; i++) {
		if (p->instances[i].id == id)
			return (uint8_t)(i + 1);
		if (!p->instances[i].id && free_slot < 0)
			free_slot = i;
	}
	if (!id || free_slot < 0)
		return 0;
	p->instances[free_slot] = (struct process_instance){.id = id, .epoch = 0};
	return (uint8_t)(free_slot + 1);
}

uint64_t registry_drop_source(struct registry *r, uint32_t proc, uint8_t source)
{
	uint64_t dropped = 0;
	uint32_t slot = r->processes[proc].first_buffer;
	while (slot != REGISTRY_NONE) {
		const struct live_buffer *b = &r->buffers[slot];
		uint32_t next = b->owner_next;
		if (b->source == source && source) {
			struct live_buffer freed;
			uint32_t found = addr_index_find(&r->index, b->device, b->address, is_slot, &slot);
			remove_record(r, proc, found, &freed);
			dropped++;
		}
		slot = next;
	}
	return dropped;
}

void registry_retain_exited(struct registry *r, uint32_t proc, uint64_t exit_realtime_ns)
{
	struct process_record *p = &r->processes[proc];
	p->exited = 1;
	p->exit_ns = exit_realtime_ns;
	p->connections = 0;
	r->process_generation++; /* views that match pids (tt-metal's rows) look again */
}

void registry_drop_process(struct registry *r, uint32_t proc)
{
	struct process_record *p = &r->processes[proc];
	uint32_t slot = p->first_buffer;
	while (slot != REGISTRY_NONE) {
		struct live_buffer *b = &r->buffers[slot];
		uint32_t next = b->owner_next;
		uint32_t found = addr_index_find(&r->index, b->device, b->address, is_slot, &slot);
		if (found != ADDR_INDEX_NOT_FOUND)
			addr_index_remove(&r->index, found);
		account(r, usage_for(p, b->device, 0), b, -1);
		recycle(r, slot);
		slot = next;
	}
	p->first_buffer = REGISTRY_NONE;
	p->usage_count = 0;
	stacks_destroy(p->stacks);
	p->stacks = NULL;
	free(p->flight);
	p->flight = NULL;
	p->in_use = 0;
	r->process_count--;
	r->process_generation++;
}
