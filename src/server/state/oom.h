/*
 * oom.h - post-mortems of allocation failures (ALLOC_FAILED), the flight
 * recorder's read-out: when a client reports that an allocation failed,
 * the server logs one warning line and keeps, for the newest OOM_KEEP
 * failures, what explains it: the request; the memory's capacity, use and
 * free bytes; the failing process's allocator view (its live buffers laid
 * out by addrmap.h: the largest request that would fit now and the
 * fragmentation); the processes holding most of that memory; the biggest
 * live buffers with their ages and stacks; and the process's last events
 * (flight.h).
 *
 * Memory: each report is a fixed-size struct (about 3 KiB); OOM_KEEP of
 * them at most, allocated with the first failure.
 */
#ifndef TTALLOC_STATE_OOM_H
#define TTALLOC_STATE_OOM_H

#include <stdint.h>
#include <sys/types.h>

#include "common/format.h"
#include "common/protocol.h"

#define OOM_KEEP 100u
#define OOM_HOLDERS 5u
#define OOM_BUFFERS 10u
#define OOM_EVENTS 32u

struct oom_holder {
	pid_t pid;
	char comm[16];
	uint64_t bytes; /* of the failing memory (region) on the device */
	uint64_t buffers;
};

struct oom_buffer {
	pid_t pid;
	char comm[16];
	uint64_t address;
	uint64_t size;
	uint64_t age_ns;
	uint32_t stack; /* stack_pool id, or STACK_POOL_NONE */
	uint8_t type;
};

struct oom_event {
	uint64_t address;
	uint64_t size;
	uint64_t age_ns;     /* how long before the failure */
	uint32_t stack;      /* stack_pool id of the buffer's allocation stack */
	uint32_t call_stack; /* stack_pool id of the reporting call's own stack (a FREE's: where it was freed) */
	uint8_t kind;        /* enum flight_kind */
	uint8_t type;
	uint16_t device;
};

struct oom_report {
	uint64_t id;
	uint64_t time_ns; /* CLOCK_REALTIME of the failure */
	pid_t pid;
	uid_t uid;
	char comm[16];
	char session[PROTO_SESSION_LEN];
	int device;
	uint8_t type;       /* enum ttalloc_buffer_type requested */
	int region;         /* enum device_region of the type, or DEVICE_REGION_NONE */
	uint64_t requested; /* bytes */
	uint32_t stack;     /* stack_pool id of the failing call, or STACK_POOL_NONE */
	int capacity_known;
	int map_known;        /* the backend gave the address ranges: the fields below the line are set */
	uint64_t capacity;    /* bytes of the memory (region) */
	uint64_t used;        /* bytes every process holds in it */
	uint64_t device_free; /* capacity - used */
	/* ---- the failing process's allocator view ---- */
	uint64_t process_used;
	uint64_t free;         /* free in its view (what its allocator had) */
	uint64_t largest_free; /* the largest request that would fit now */
	double fragmentation;  /* 1 - largest_free / free */
	uint64_t free_blocks;  /* holes in its view */
	enum format_oom_cause cause;
	uint32_t holder_count, buffer_count, event_count;
	struct oom_holder holders[OOM_HOLDERS]; /* most bytes first */
	struct oom_buffer buffers[OOM_BUFFERS]; /* biggest first */
	struct oom_event events[OOM_EVENTS];    /* newest first */
};

struct oom_history {
	struct oom_report *ring; /* OOM_KEEP slots */
	uint32_t start, count;
	uint64_t total;                                             /* failures since start-up */
	uint64_t failures[PROTO_MAX_DEVICES][TTALLOC_BUFFER_TYPES]; /* by device and type, since start-up */
};

/* An empty history (no memory until the first failure). */
void oom_init(struct oom_history *h);

/* Frees the reports. */
void oom_release(struct oom_history *h);

/* The i-th kept report, newest first (i < h->count). */
const struct oom_report *oom_newest(const struct oom_history *h, uint32_t i);

/* The kept report with this id, or NULL. */
const struct oom_report *oom_find(const struct oom_history *h, uint64_t id);

struct state;

/* The failure a client reported. */
struct oom_request {
	int device;
	unsigned type;
	uint64_t size;
	uint32_t stack; /* index in the process's stacks, or STACKS_NONE */
};

/*
 * Builds the post-mortem of `proc`'s failed request (at the current
 * picture), logs it at warning level, counts it and keeps it. Returns the
 * report (valid until the next failure), or NULL when it could not be kept
 * (counted and logged all the same).
 */
const struct oom_report *oom_record(struct state *st, uint32_t proc, const struct oom_request *req);

#endif /* TTALLOC_STATE_OOM_H */
