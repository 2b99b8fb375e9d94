/*
 * query.h - the monitoring side of the protocol: ask the server questions
 * and read its answers. Used by tt_smi and the tools; the reporting side
 * lives in the client library.
 *
 * A query_client is one blocking connection. Every call returns 0 or a
 * negative TTALLOC_E* code; on failure `err` (UNIX_SOCKET_ERR_LEN bytes)
 * says what happened in words.
 */
#ifndef TTALLOC_QUERY_H
#define TTALLOC_QUERY_H

#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#include "common/container.h"
#include "common/protocol.h"
#include "common/unix_socket.h"

struct query_client {
	int fd;
	char path[108];
	int greeted;        /* HELLO answered on this connection */
	uint32_t features;  /* HELLO_ACK's enum proto_feature bits */
	uint8_t http_state; /* HELLO_ACK's enum proto_http_state */
	uint16_t http_port;
	uint32_t server_release; /* HELLO_ACK's server_release (PROTO_RELEASE; 0: an older server) */
	uint32_t server_pid;     /* HELLO_ACK's server_pid */
};

#define QUERY_CLIENT_INIT            \
	{                            \
		.fd = -1, .path = "" \
	}

/*
 * Connects to the server at `path` (NULL: the default path). On failure,
 * TTALLOC_ENOSERVER with reach_explain's words in `err` (what to do
 * included: start the server, or the socket's permissions and their fix).
 */
int query_connect(struct query_client *qc, const char *path, char *err);

/* Closes the connection; the struct can be connected again. */
void query_close(struct query_client *qc);

/*
 * Sends `request` and reads one answer frame into `answer`. An ERROR frame
 * becomes TTALLOC_EPROTOCOL with the server's message in `err`.
 */
int query_exchange(struct query_client *qc, const struct proto_msg *request, struct proto_msg *answer, char *err);

/* Called for each row of a multi-row answer; non-zero stops (and is returned). */
typedef int (*query_row_fn)(const struct proto_msg *row, void *ctx);

/*
 * Sends `request`, then calls `fn` for every frame of type `row_type` until
 * ROWS_END. Returns 0, fn's non-zero value, or a TTALLOC_E* code.
 */
int query_rows(struct query_client *qc, const struct proto_msg *request, unsigned row_type, query_row_fn fn, void *ctx,
	       char *err);

/*
 * Like query_rows, for answers that mix two row types (e.g. LEAK_ROW
 * followed by its STACK_LINEs): fn sees every frame of either type, in order.
 */
int query_rows2(struct query_client *qc, const struct proto_msg *request, unsigned row_type, unsigned other_type,
		query_row_fn fn, void *ctx, char *err);

/* A device's identity (IDENTITY_ROWs); "" where the server does not know it. */
struct snapshot_identity {
	char serial[32];
	char asic_id[32];
	char pci_bus_id[32];
	char card_type[32];
	char uuid[64];
	char driver_version[32];
};

/* The container and pod of one process (IDENTITY_ROWs). */
struct snapshot_container {
	pid_t pid;
	struct container_info info;
};

/* One device as the server sees it. */
struct snapshot_device {
	int index;
	struct proto_seed_payload seed;     /* totals and sizes (QUERY) */
	struct proto_status_payload status; /* name, telemetry, counts */
	uint64_t kernel_allocated;          /* kernel binaries (DEVICE_STATUS header buffer_id) */
	struct snapshot_identity ident;     /* from a server that offers IDENTITY_QUERY */
};

/* One process's use of one device. */
struct snapshot_process {
	pid_t pid;
	int device;
	uint64_t buffers;
	uint64_t kernel;                    /* kernel binaries (PROCESS_ROW header buffer_id) */
	struct proto_process_payload usage; /* usage.flags: PROTO_PROCESS_SHM, PROTO_PROCESS_STALE */
	char user[32];
	uint64_t since_ns; /* PROCESS_ROW timestamp: first seen (socket) or the slot's last update (shm) */
};

/* One process holding one device as the kernel sees it (HOLDER_ROW). */
struct snapshot_holder {
	pid_t pid;
	int device;
	struct proto_holder_payload row; /* state, flags, memory, uid, comm */
	char user[32];                   /* user name of row.uid; "" when unknown */
};

/* Everything tt_smi shows, read in one go. */
struct snapshot {
	uint32_t num_devices;
	struct snapshot_device *devices;
	size_t num_processes;
	struct snapshot_process *processes;
	size_t processes_cap;
	uint64_t taken_ns; /* CLOCK_REALTIME when read */
	size_t num_holders;
	struct snapshot_holder *holders; /* the kernel's view, where the server has one */
	size_t holders_cap;
	int hardware_only;  /* read from the device backends, not the server: no allocation data */
	uint8_t http_state; /* the server's dashboard (enum proto_http_state) */
	uint16_t http_port;
	char *oom_document; /* /api/oom?limit=1 (the latest post-mortem), by snapshot_take_oom; NULL: not read */
	char hostname[256]; /* the server's host (--hostname); "" from an older server */
	size_t num_containers;
	struct snapshot_container *containers; /* processes in a container, by pid */
	size_t containers_cap;
};

/* The container of `pid` in the snapshot, or NULL when it runs in none. */
const struct container_info *snapshot_container(const struct snapshot *snap, pid_t pid);

#define SNAPSHOT_INIT \
	{             \
		0     \
	}

/*
 * Reads devices, their totals and status, the process table and, from a
 * server whose HELLO_ACK offers them, the kernel's holders of each device
 * and the identities (host, devices, containers).
 */
int snapshot_take(struct query_client *qc, struct snapshot *snap, char *err);

/*
 * Adds the latest post-mortem document (/api/oom?limit=1) to a snapshot,
 * for --json; nothing when the server predates the diagnosis documents.
 * Returns 0 or a TTALLOC_E* code.
 */
int snapshot_take_oom(struct query_client *qc, struct snapshot *snap, char *err);

/*
 * Reads one of the server's diagnosis documents (DOC_QUERY: "/api/oom",
 * "/api/devices/0/map?type=dram", ...; at most PROTO_TEXT_MAX bytes) into
 * *text (malloc'd, NUL-terminated) and *len. TTALLOC_EPROTOCOL with the
 * server's reason when it refuses the path or does not serve documents
 * (an older server). Returns 0 or a TTALLOC_E* code.
 */
int query_document(struct query_client *qc, const char *path, char **text, size_t *len, char *err);

/* Records a mark named `label` (MARK, then SYNC: it is there on return). Returns 0 or a TTALLOC_E* code. */
int query_mark(struct query_client *qc, const char *label, char *err);

/* Frees what snapshot_take allocated; the struct can be reused. */
void snapshot_release(struct snapshot *snap);

/*
 * Says HELLO once per connection and keeps the server's feature bits in
 * qc->features. Returns 0 or a TTALLOC_E* code.
 */
int query_greet(struct query_client *qc, char *err);

/*
 * CLEAR_LEAKS: drops the exited processes a --retain-leaks server keeps in
 * its totals (the caller's user's; root: all). Returns 0 with the buffers
 * and processes dropped, or a TTALLOC_E* code.
 */
int query_clear_leaks(struct query_client *qc, uint64_t *buffers, uint32_t *processes, char *err);

/* One bucket of a device's memory history (HISTORY_ROW). */
struct history_snapshot_bucket {
	uint64_t used[4]; /* peak bytes, the seed's order: DRAM, L1, L1_SMALL, TRACE */
	uint64_t time_ms; /* newest sample in the bucket, ms since the epoch */
	int valid;        /* 0: the bucket is older than the server's history */
};

/* Each device's memory over time, as HISTORY_QUERY answers it. */
struct history_snapshot {
	uint32_t num_devices;                    /* devices with buckets: ids 0..num_devices-1 */
	uint32_t points;                         /* buckets per device, oldest first */
	uint32_t seconds;                        /* span the buckets cover */
	uint32_t step_ms;                        /* span of one bucket */
	uint32_t interval_ms;                    /* the server's sampling interval */
	struct history_snapshot_bucket *buckets; /* [device * points + index] */
};

#define HISTORY_SNAPSHOT_INIT \
	{                     \
		0             \
	}

/*
 * Asks for the last `seconds` of every device's history in at most `points`
 * buckets. TTALLOC_EPROTOCOL with a message when the server does not offer
 * history (HELLO_ACK features). Returns 0 or a TTALLOC_E* code.
 */
int history_snapshot_take(struct query_client *qc, uint32_t seconds, uint32_t points, struct history_snapshot *hist,
			  char *err);

/* Frees what history_snapshot_take allocated; the struct can be reused. */
void history_snapshot_release(struct history_snapshot *hist);

/* One live buffer as BUFFER_QUERY answers it. */
struct buffer_snapshot_row {
	pid_t pid;
	int device;
	unsigned type; /* enum ttalloc_buffer_type */
	uint64_t address;
	uint64_t size;   /* bytes */
	uint64_t age_ns; /* how long it has been live */
	char frame[72];  /* top frame of its call stack, "function (file:line)"; "" when unknown */
};

/*
 * The buffer a BUFFER_ROW or LEAK_ROW header names: pid, device, type,
 * address, size and age (u.process.used[0]); `frame` left empty.
 */
void buffer_row_decode(const struct proto_msg *row, struct buffer_snapshot_row *out);

/* Live buffers, in the server's order (newest first per process). */
struct buffer_snapshot {
	struct buffer_snapshot_row *rows;
	size_t count;
	size_t cap;
};

#define BUFFER_SNAPSHOT_INIT \
	{                    \
		0            \
	}

/*
 * Asks for the live buffers of `pid` (0: every process of ours; root:
 * all) on `device` (-1: every device), at most `max_rows` (0: the server's
 * PROTO_BUFFER_DEFAULT_ROWS), each with its top stack frame when
 * `with_stacks`. TTALLOC_EPROTOCOL with a message when the server does not
 * offer BUFFER_QUERY (HELLO_ACK features) or refuses it (a bad device,
 * another user's process). Returns 0 or a TTALLOC_E* code.
 */
int buffer_snapshot_take(struct query_client *qc, pid_t pid, int device, uint32_t max_rows, int with_stacks,
			 struct buffer_snapshot *bufs, char *err);

/* Frees what buffer_snapshot_take allocated; the struct can be reused. */
void buffer_snapshot_release(struct buffer_snapshot *bufs);

#endif /* TTALLOC_QUERY_H */
