/*
 * registry.h - the server's live picture: every live buffer, and running
 * totals per device and per (process, device).
 *
 * Invariants:
 *  - Each device's totals equal the sum of its live buffers, and equal the
 *    sum of the per-process usage on that device: every change goes through
 *    account(), which updates both.
 *  - A buffer belongs to exactly one process record (its owner, the kernel
 *    identity of the reporting connection) and sits in that owner's list, so
 *    a process's buffers are found without scanning the table.
 *  - Queries never walk buffers: totals are kept incrementally.
 *  - Storage: buffers live in one array of 48-byte records reused through a
 *    free list, indexed by an addr_index; no allocation per event except
 *    when an array doubles.
 */
#ifndef TTALLOC_REGISTRY_H
#define TTALLOC_REGISTRY_H

#include <stdint.h>
#include <sys/types.h>

#include "common/addr_index.h"
#include "common/protocol.h"
#include "server/state/flight.h"
#include "server/state/stacks.h"

#define REGISTRY_NONE UINT32_MAX

struct live_buffer {
	uint64_t address;
	uint64_t size;       /* bytes */
	uint64_t alloc_ns;   /* CLOCK_MONOTONIC at ALLOC, for ages */
	uint32_t owner;      /* process record index */
	uint32_t owner_prev; /* neighbours in the owner's list, or REGISTRY_NONE */
	uint32_t owner_next; /* also links the free list */
	uint32_t stack;      /* index in the owner's process_stacks, or STACKS_NONE */
	uint16_t device;
	uint8_t type; /* enum ttalloc_buffer_type */
	uint8_t live;
	uint8_t kind;   /* enum registry_kind */
	uint8_t source; /* the owner's reporting instance (1..REGISTRY_INSTANCES), 0: none said */
};

/*
 * How a record came: an ALLOC (one live buffer per process and address:
 * a second ALLOC replaces it), or tt-metal's CB_ALLOC / KERNEL_LOAD, which
 * count circular buffers and kernel binaries by id and may repeat an id
 * (a CB at one L1 address in two programs). FREE sees only ALLOC records;
 * CB_FREE and KERNEL_UNLOAD only their own kind.
 */
enum registry_kind {
	REGISTRY_KIND_BUFFER = 0,
	REGISTRY_KIND_COUNTED = 1,
};

/* What one process holds on one device. */
struct device_usage {
	int device;
	uint64_t used[TTALLOC_BUFFER_TYPES]; /* bytes per buffer type */
	uint64_t buffers;
};

/*
 * Reporting instances: a process may report through more than one library
 * (libttalloc and the Python Reporter, say), each with its own connection
 * and its own table. Each says HELLO with a random instance id and an epoch
 * (its connection count): a newer epoch of the same instance re-sends the
 * instance's whole table, so the buffers that instance reported before are
 * dropped first (registry_drop_source). Buffers remember their instance
 * (live_buffer.source); clients that never say HELLO are source 0.
 */
#define REGISTRY_INSTANCES 8

struct process_instance {
	uint64_t id;    /* the library's random id; 0: slot free */
	uint32_t epoch; /* the newest connection of it seen */
};

struct process_record {
	pid_t pid;
	uid_t uid;
	char comm[16];                   /* from /proc/PID/comm at first connection */
	char session[PROTO_SESSION_LEN]; /* from HELLO ($TTALLOC_SESSION), or empty */
	uint32_t connections;            /* open connections of this pid */
	uint32_t first_buffer;           /* head of the owner list */
	uint64_t live_buffers;
	uint64_t first_seen_ns; /* CLOCK_REALTIME */
	struct device_usage *usage;
	uint32_t usage_count;
	uint32_t usage_cap;
	struct process_stacks *stacks;                         /* created by its first STACK_DEF */
	struct flight_ring *flight;                            /* its last events (flight.h), created by its first */
	struct process_instance instances[REGISTRY_INSTANCES]; /* source n is instances[n - 1] */
	int reported;     /* a connection of it reported (not only queried): its lines are at info level */
	int exited;       /* gone, its leaked buffers kept counted (--retain-leaks); never matched by pid */
	uint64_t exit_ns; /* CLOCK_REALTIME of its exit, when exited */
	int in_use;
};

struct device_totals {
	uint64_t used[TTALLOC_BUFFER_TYPES]; /* bytes per buffer type */
	uint64_t buffers;
};

struct registry {
	struct live_buffer *buffers;
	uint32_t buffer_cap;
	uint32_t free_buffer; /* head of the free list */
	uint64_t live_buffers;
	struct addr_index index;
	struct process_record *processes;
	uint32_t process_cap;
	uint32_t process_count; /* records in use */
	int num_devices;
	struct device_totals devices[PROTO_MAX_DEVICES];
	uint64_t process_generation; /* bumped when a process record is created or dropped */
};

/* Outcome of registry_alloc and registry_free. */
enum registry_result {
	REGISTRY_OK = 0,
	REGISTRY_REPLACED, /* ALLOC at an address this process already held */
	REGISTRY_FOREIGN,  /* FREE of an address only other processes hold */
	REGISTRY_UNKNOWN,  /* FREE of an address nobody holds */
	REGISTRY_NOMEM,
};

/* Prepares an empty registry for `num_devices` devices. Returns 0 or TTALLOC_ENOMEM. */
int registry_init(struct registry *r, int num_devices, uint32_t expected_buffers);

/* Frees everything. */
void registry_release(struct registry *r);

/*
 * Returns the record of `pid`, creating it (reading its name from /proc)
 * when new, and counts one more connection. REGISTRY_NONE when out of memory.
 */
uint32_t registry_attach(struct registry *r, pid_t pid, uid_t uid);

/* Counts one connection fewer. Returns 1 when it was the last one. */
int registry_detach(struct registry *r, uint32_t proc);

/* Removes a process record and all its buffers from the totals. */
void registry_drop_process(struct registry *r, uint32_t proc);

/*
 * Keeps an exited process's record and its (leaked) buffers counted, marked
 * exited: what --retain-leaks does instead of registry_drop_process. The
 * pid may then be reused by a new process, which gets a record of its own.
 */
void registry_retain_exited(struct registry *r, uint32_t proc, uint64_t exit_realtime_ns);

/* The record at `proc`. */
static inline struct process_record *registry_process(struct registry *r, uint32_t proc)
{
	return &r->processes[proc];
}

/* Finds the record of a running pid (an exited record never matches), or REGISTRY_NONE. */
uint32_t registry_find_pid(const struct registry *r, pid_t pid);

/*
 * Records a buffer. `device` and `type` must already be validated.
 * REGISTRY_REPLACED: this process held the address; the old size was
 * replaced (totals stay right).
 */
enum registry_result registry_alloc(struct registry *r, uint32_t proc, int device, unsigned type, uint64_t address,
				    uint64_t size, uint64_t now_ns);

/* What a buffer carries besides its place and size. */
struct registry_origin {
	uint64_t alloc_ns;            /* CLOCK_MONOTONIC when allocated */
	uint32_t stack;               /* index in the owner's process_stacks, or STACKS_NONE */
	uint8_t source;               /* the reporting instance (registry_instance), or 0 */
	struct live_buffer *previous; /* optional: REGISTRY_REPLACED copies the replaced record here */
};

/* registry_alloc with the buffer's call stack and reporting instance. */
enum registry_result registry_alloc_from(struct registry *r, uint32_t proc, int device, unsigned type, uint64_t address,
					 uint64_t size, const struct registry_origin *origin);

/*
 * The source number (1..REGISTRY_INSTANCES) of reporting instance `id` in
 * `proc`, claiming a free slot for a new one; 0 when every slot is taken
 * (its buffers are then source 0: never dropped by a resync).
 */
uint8_t registry_instance(struct registry *r, uint32_t proc, uint64_t id);

/*
 * Releases every buffer of `proc` that reporting instance `source` (> 0)
 * recorded; returns how many. The instance re-sends its whole table next.
 */
uint64_t registry_drop_source(struct registry *r, uint32_t proc, uint8_t source);

/*
 * Starts loading the index slot where (device, address) would be looked up:
 * a batch of events (the shared-memory ring) calls it a few events ahead,
 * so that the lookup finds the line in cache.
 */
static inline void registry_prefetch(const struct registry *r, int device, uint64_t address)
{
	__builtin_prefetch(&r->index.slots[addr_index_home(r->index.mask, (uint32_t)device + 1u, address)]);
}

/* 1 when `proc` holds a live buffer at (device, address), else 0. */
int registry_holds(const struct registry *r, uint32_t proc, int device, uint64_t address);

/* The live buffer `proc` holds at (device, address) (not a CB or kernel record), or NULL. */
const struct live_buffer *registry_own_buffer(const struct registry *r, uint32_t proc, int device, uint64_t address);

/*
 * Releases the buffer that `proc` holds at (device, address) and copies it
 * into *freed. REGISTRY_FOREIGN sets *owner_pid to a process that does hold
 * it; nothing changes then.
 */
enum registry_result registry_free(struct registry *r, uint32_t proc, int device, uint64_t address,
				   struct live_buffer *freed, pid_t *owner_pid);

/*
 * Records a circular buffer or kernel binary (type TTALLOC_CB or
 * TTALLOC_KERNEL) reported by CB_ALLOC / KERNEL_LOAD: always a new record,
 * even when this process already has one with the same id.
 */
enum registry_result registry_add_counted(struct registry *r, uint32_t proc, int device, unsigned type, uint64_t id,
					  uint64_t size, uint64_t now_ns);

/*
 * Releases one counted record of `proc` with this device, type and id (the
 * one of `size` bytes when there is one, else any) and copies it into
 * *freed. REGISTRY_UNKNOWN when there is none; nothing changes then.
 */
enum registry_result registry_release_counted(struct registry *r, uint32_t proc, int device, unsigned type, uint64_t id,
					      uint64_t size, struct live_buffer *freed);

/* ---- iterating: every view walks the registry through these ---- */

/*
 * The process record in use after `proc` (REGISTRY_NONE: from the start),
 * or REGISTRY_NONE when there is none.
 */
static inline uint32_t registry_next_process(const struct registry *r, uint32_t proc)
{
	for (uint32_t p = proc == REGISTRY_NONE ? 0 : proc + 1; p < r->process_cap; p++)
		if (r->processes[p].in_use)
			return p;
	return REGISTRY_NONE;
}

/* First buffer of a process's list (REGISTRY_NONE when empty), and the next: newest first. */
static inline uint32_t registry_first_buffer(const struct registry *r, uint32_t proc)
{
	return r->processes[proc].first_buffer;
}
static inline uint32_t registry_next_buffer(const struct registry *r, uint32_t buffer)
{
	return r->buffers[buffer].owner_next;
}

/* The live buffer record at index `b` (from the iteration above). */
static inline const struct live_buffer *registry_buffer(const struct registry *r, uint32_t b)
{
	return &r->buffers[b];
}

/* for (each process record in use) with `p` its index. */
#define REGISTRY_FOR_EACH_PROCESS(r, p)                                                  \
	for (uint32_t p = registry_next_process((r), REGISTRY_NONE); p != REGISTRY_NONE; \
	     p = registry_next_process((r), p))

/* for (each live buffer of process `proc`, newest first) with `b` its index. */
#define REGISTRY_FOR_EACH_BUFFER(r, proc, b) \
	for (uint32_t b = registry_first_buffer((r), (proc)); b != REGISTRY_NONE; b = registry_next_buffer((r), b))

/*
 * for (each device `proc` holds something on) with `u` its const struct
 * device_usage *; devices it no longer holds anything on are skipped. A
 * process that never held anything has no usage array (NULL: no
 * arithmetic on it, which UBSan rightly refuses).
 */
#define REGISTRY_FOR_EACH_USAGE(r, proc, u)                                                        \
	for (const struct device_usage *u = (r)->processes[(proc)].usage,                          \
				       *u##_end_ = u ? u + (r)->processes[(proc)].usage_count : u; \
	     u < u##_end_; u++)                                                                    \
		if (u->buffers == 0) {                                                             \
		} else

/* What `proc` holds on `device`, or NULL when nothing. */
const struct device_usage *registry_usage(const struct registry *r, uint32_t proc, int device);

/* Number of processes holding at least one buffer on `device`. */
uint32_t registry_device_processes(const struct registry *r, int device);

#endif /* TTALLOC_REGISTRY_H */
