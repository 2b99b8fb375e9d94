/*
 * protocol.h - the wire format between clients and ttalloc-server.
 *
 * This is the one definition of the format. Every message is a fixed
 * 112-byte little-endian packed frame on a Unix stream socket, byte-exact
 * with the seed's allocation_server_poc (its Python struct
 * "=BBBB i Q BBBB i Q Q QQQQ QQIIIIII" and C++ AllocMessage). The header
 * (offsets 0..39) is the same for every type; offsets 40..111 are a payload
 * whose meaning depends on the type (a union below).
 *
 * Seed types 1..7 keep their seed meaning. Types 8..12 are upstream
 * tt-metal's later messages (CB_ALLOC .. DUMP_KERNELS), sent by its
 * AllocationClient in a 144-byte frame (struct proto_upstream_msg below);
 * the server tells the two frame sizes apart per connection
 * (proto_wire_detect). ttalloc's own extensions start at 128 and are
 * versioned by HELLO; a client that never sends HELLO gets exactly the seed
 * behaviour and is never sent a frame it did not ask for.
 *
 * Request/answer pairs (client -> server):
 *   ALLOC, FREE, DUMP_REMAINING      no answer
 *   QUERY(device)                    RESPONSE: totals + device info
 *   DEVICE_INFO_QUERY(device)        DEVICE_INFO_RESPONSE: device info;
 *                                    device -1 answers num_devices only
 *   HELLO(version)                   HELLO_ACK(protocol version, num_devices
 *                                    (ids 0..num_devices-1), features,
 *                                    http state, server_release)
 *   SYNC                             SYNC_ACK: every earlier frame is done
 *   DEVICE_STATUS_QUERY(device)      DEVICE_STATUS
 *   PROCESS_QUERY(device or -1)      PROCESS_ROW..., ROWS_END(count)
 *   LEAK_QUERY(pid or 0)             LEAK_ROW..., ROWS_END(count)
 *   (both take an optional session filter in u.filter)
 *   RING_ATTACH(ring payload) with   RING_ACK (or ERROR): from now on this
 *     a memfd and an eventfd         connection's ALLOC/FREE come through the
 *     (SCM_RIGHTS)                   shared-memory ring (src/common/ring.h)
 *   STACK_DEF(stack id, ips)         none: defines a call stack that later
 *                                    ALLOCs name in u.alloc.stack_id
 *   CLEAR_LEAKS                      CLEARED: size = buffers, buffer_id =
 *                                    processes dropped: the exited processes
 *                                    --retain-leaks kept in the totals (the
 *                                    asker's user's; root: all)
 *   GOODBYE                          none: the client closes on purpose
 *                                    (ttalloc_shutdown, Reporter.close): when
 *                                    it was the process's last connection,
 *                                    what the process still holds is leaked
 * Diagnosis (PROTO_FEATURE_DIAG; docs/DESIGN.md, "Diagnosis"):
 *   ALLOC_FAILED(device, buffer_type, none: an allocation of `size` bytes
 *     size, u.alloc.stack_id)        failed in the client's allocator; the
 *                                    server keeps a post-mortem (/api/oom)
 *   MARK(u.text label, timestamp)    none: a named point in the server's
 *                                    timeline (/api/diff compares two)
 *   STACK_TEXT(stack id, depth,      none: one frame of a call stack given as
 *     index, u.text frame)           text ("function (file:line)"), for
 *                                    stacks no address can describe (Python)
 *   DOC_QUERY(u.text path)           DOC_CHUNK..., ROWS_END(length): one of
 *                                    the HTTP API's documents ("/api/oom"),
 *                                    72 bytes a chunk, for tt_smi; or ERROR,
 *                                    after DOC_CHUNKs holding the whole
 *                                    reason when it is longer than ERROR's
 * Sessions (PROTO_FEATURE_SESSIONS): a reporting library says HELLO with a
 * random instance id and an epoch (how many connections it opened before).
 * A newer epoch supersedes the instance's older connections (closed, their
 * unread events dropped) and the buffers the instance reported before: its
 * resync re-sends them all. A process whose connection ends without
 * GOODBYE (the library gave up on a hung server) is not taken as exited
 * while it runs: its leak report waits for its exit.
 *   LEAK_QUERY with buffer_type = PROTO_LEAK_WITH_STACKS: each LEAK_ROW of a
 *   buffer whose stack is known is followed by STACK_LINE frames, one per
 *   frame of the stack ("function (file:line)")
 *   HOLDER_QUERY(device or -1)       HOLDER_ROW..., ROWS_END(count): the
 *                                    kernel's holders of each device compared
 *                                    with what processes reported
 *   HISTORY_QUERY(device or -1,      HISTORY_ROW..., ROWS_END(count): each
 *     seconds, points)               device's memory over time, in buckets
 *   BUFFER_QUERY(device or -1,       BUFFER_ROW..., ROWS_END(count): the live
 *     process_id or 0, size = most   buffers of one process (0: every process
 *     rows, buffer_type = flags)     of the asker's user; root: all), newest
 *                                    first per process, at most `size` rows
 *                                    (0: PROTO_BUFFER_DEFAULT_ROWS; never more
 *                                    than PROTO_BUFFER_MAX_ROWS). With
 *                                    PROTO_BUFFER_WITH_STACKS a row whose
 *                                    call stack is known is followed by one
 *                                    STACK_LINE: its top (innermost) frame.
 *                                    Another user's process: ERROR.
 *   IDENTITY_QUERY                   IDENTITY_ROW..., ROWS_END(count): the
 *                                    host's name, each device's identity
 *                                    (serial, asic id, PCI bus id, card type,
 *                                    UUID) and each process's container and pod
 *   HELLO_ACK's `features` says which of these the server answers, so a
 *   monitor never waits for an answer an older server will not send.
 * Extension requests from a client that did not HELLO are answered too:
 * asking is the negotiation. A refused extension request (bad device id) is
 * answered with an ERROR frame instead of its answer. ALLOC, FREE and
 * DUMP_REMAINING are never answered, not even with an error: their mistakes
 * are logged with the sender's PID and counted, so a client that never
 * reads cannot have its socket fill up. Seed QUERY/DEVICE_INFO_QUERY always
 * get their seed answer (is_available = 0 for a bad device).
 */
#ifndef TTALLOC_PROTOCOL_H
#define TTALLOC_PROTOCOL_H

#include <stddef.h>
#include <stdint.h>

#include "common/labels.h"
#include "ttalloc.h"

#define PROTO_MSG_SIZE 112
#define PROTO_DEFAULT_SOCKET "/tmp/tt_allocation_server.sock"
#define PROTO_SOCKET_ENV "TT_ALLOC_SERVER_SOCKET"
#define PROTO_TRACKING_ENV "TT_ALLOC_TRACKING_ENABLED"

/* Version of the ttalloc extensions; bumped when an extension changes. */
#define PROTO_EXT_VERSION 1

/* Highest device count the server handles (Galaxy: 32 chips). */
#define PROTO_MAX_DEVICES 64

/*
 * Every message type, in one table: X(NAME, code, handler, direction, reads_registry).
 *  - NAME gives PROTO_<NAME> and the name in logs ("ALLOC");
 *  - handler names the server's function for a request, on_<handler>
 *    (src/server/ingest/dispatch.c expands the table into its dispatch
 *    array); answers name `answer`, whose handler refuses them;
 *  - direction: REQUEST (client to server) or ANSWER (server to client);
 *  - reads_registry: 1 when the server answers from the live picture, so
 *    the shared-memory rings are drained first: the answer then reflects
 *    every event reported before the request (ttalloc_flush's SYNC).
 * Seed types 1..7. Upstream tt-metal's 8..12 (AllocationClient, 144-byte
 * frames; accepted in 112-byte frames too) have a header only: device_id,
 * size, process_id, buffer_id = the circular buffer's address or the
 * kernel's id, and no answer. KERNEL_LOAD's buffer_type is the kernel's
 * kind (0 app, 1 fabric, 2 dispatch), not a buffer type. A CB or kernel is
 * recorded as a live buffer of type TTALLOC_CB / TTALLOC_KERNEL; several
 * may share an id; CB_FREE / KERNEL_UNLOAD release one of the sender's with
 * that id (the one of the same size first). DUMP_KERNELS makes the server
 * log the live kernels of the asker's user. ttalloc's extensions start at
 * 128 (version PROTO_EXT_VERSION).
 */
#define PROTO_MESSAGE_MAP(X)                                         \
	X(ALLOC, 1, alloc, REQUEST, 0)                               \
	X(FREE, 2, free, REQUEST, 0)                                 \
	X(QUERY, 3, query, REQUEST, 1)                               \
	X(RESPONSE, 4, answer, ANSWER, 0)                            \
	X(DUMP_REMAINING, 5, dump_remaining, REQUEST, 1)             \
	X(DEVICE_INFO_QUERY, 6, device_info_query, REQUEST, 0)       \
	X(DEVICE_INFO_RESPONSE, 7, answer, ANSWER, 0)                \
	X(CB_ALLOC, 8, cb_alloc, REQUEST, 0)                         \
	X(CB_FREE, 9, cb_free, REQUEST, 0)                           \
	X(KERNEL_LOAD, 10, kernel_load, REQUEST, 0)                  \
	X(KERNEL_UNLOAD, 11, kernel_unload, REQUEST, 0)              \
	X(DUMP_KERNELS, 12, dump_kernels, REQUEST, 1)                \
	X(HELLO, 128, hello, REQUEST, 0)                             \
	X(HELLO_ACK, 129, answer, ANSWER, 0)                         \
	X(SYNC, 130, sync, REQUEST, 1)                               \
	X(SYNC_ACK, 131, answer, ANSWER, 0)                          \
	X(DEVICE_STATUS_QUERY, 132, device_status_query, REQUEST, 1) \
	X(DEVICE_STATUS, 133, answer, ANSWER, 0)                     \
	X(PROCESS_QUERY, 134, process_query, REQUEST, 1)             \
	X(PROCESS_ROW, 135, answer, ANSWER, 0)                       \
	X(LEAK_QUERY, 136, leak_query, REQUEST, 1)                   \
	X(LEAK_ROW, 137, answer, ANSWER, 0)                          \
	X(ROWS_END, 138, answer, ANSWER, 0)                          \
	X(ERROR, 139, answer, ANSWER, 0)                             \
	X(STACK_DEF, 140, stack_def, REQUEST, 0)                     \
	X(RING_ATTACH, 141, ring_attach, REQUEST, 0)                 \
	X(RING_ACK, 142, answer, ANSWER, 0)                          \
	X(GOODBYE, 143, goodbye, REQUEST, 0)                         \
	X(ALLOC_FAILED, 144, alloc_failed, REQUEST, 1)               \
	X(MARK, 145, mark, REQUEST, 1)                               \
	X(STACK_TEXT, 146, stack_text, REQUEST, 0)                   \
	X(DOC_QUERY, 147, doc_query, REQUEST, 1)                     \
	X(DOC_CHUNK, 148, answer, ANSWER, 0)                         \
	X(HOLDER_QUERY, 150, holder_query, REQUEST, 1)               \
	X(HOLDER_ROW, 151, answer, ANSWER, 0)                        \
	X(HISTORY_QUERY, 152, history_query, REQUEST, 1)             \
	X(HISTORY_ROW, 153, answer, ANSWER, 0)                       \
	X(BUFFER_QUERY, 154, buffer_query, REQUEST, 1)               \
	X(BUFFER_ROW, 155, answer, ANSWER, 0)                        \
	X(CLEAR_LEAKS, 156, clear_leaks, REQUEST, 1)                 \
	X(CLEARED, 157, answer, ANSWER, 0)                           \
	X(IDENTITY_QUERY, 158, identity_query, REQUEST, 1)           \
	X(IDENTITY_ROW, 159, answer, ANSWER, 0)                      \
	X(STACK_LINE, 160, answer, ANSWER, 0)

enum proto_msg_type {
#define PROTO_DEFINE_TYPE_(name, code, handler, direction, reads) PROTO_##name = code,
	PROTO_MESSAGE_MAP(PROTO_DEFINE_TYPE_)
#undef PROTO_DEFINE_TYPE_
};

/* Architecture codes of the seed's arch_type field. */
enum proto_arch {
	PROTO_ARCH_INVALID = 0,
	PROTO_ARCH_GRAYSKULL = 1,
	PROTO_ARCH_WORMHOLE_B0 = 2,
	PROTO_ARCH_BLACKHOLE = 3,
	PROTO_ARCH_QUASAR = 4,
};

/*
 * The seed's answer fields, in two groups because upstream's 144-byte
 * frame (below) puts its cb and kernel totals between them: one list each,
 * so the two layouts cannot drift apart.
 */
#define PROTO_SEED_TOTALS_FIELDS     \
	uint64_t dram_allocated;     \
	uint64_t l1_allocated;       \
	uint64_t l1_small_allocated; \
	uint64_t trace_allocated;
#define PROTO_SEED_INFO_FIELDS          \
	uint64_t total_dram_size;       \
	uint64_t total_l1_size;         \
	uint32_t arch_type;             \
	uint32_t num_dram_channels;     \
	uint32_t dram_size_per_channel; \
	uint32_t l1_size_per_core;      \
	uint32_t is_available;          \
	uint32_t num_devices;

/* Payload of RESPONSE and DEVICE_INFO_RESPONSE (the seed's fields). */
struct __attribute__((packed)) proto_seed_payload {
	PROTO_SEED_TOTALS_FIELDS
	PROTO_SEED_INFO_FIELDS
};

/* Validity bits of proto_status_payload.valid: a clear bit prints N/A. */
enum proto_status_valid {
	PROTO_STATUS_TEMPERATURE = 1u << 0,
	PROTO_STATUS_POWER = 1u << 1,
	PROTO_STATUS_UTILIZATION = 1u << 2,
};

/*
 * Payload of DEVICE_STATUS: what tt_smi shows beyond the seed's fields.
 * Header buffer_id: bytes of kernel binaries (TTALLOC_KERNEL) on the device.
 * Totals here and in RESPONSE include the processes that only tt-metal's
 * shared memory reports (ttmetal.h), counted once.
 */
struct __attribute__((packed)) proto_status_payload {
	int32_t temperature_mc; /* milli-degrees Celsius */
	uint32_t power_mw;      /* milliwatts */
	uint32_t utilization;   /* percent */
	uint32_t valid;         /* enum proto_status_valid bits */
	uint64_t live_buffers;
	uint32_t processes;
	uint32_t backend_flags; /* 1: simulated device */
	uint64_t cb_allocated;  /* TTALLOC_CB bytes */
	uint64_t system_memory; /* TTALLOC_SYSTEM_MEMORY bytes (host) */
	char name[24];          /* NUL-terminated, e.g. "Wormhole_B0" */
};

/*
 * Payload of PROCESS_ROW (one per process and device) and LEAK_ROW (one per
 * leaked buffer, header: pid, device, size, buffer_type, buffer_id; used[0]
 * is the buffer's age in ns at exit, used[1] the exit time, ns since epoch)
 * and BUFFER_ROW (one per live buffer, header: pid, device, size,
 * buffer_type, buffer_id = address, timestamp = when it was allocated, ns
 * since the epoch; used[0] is its age in ns; uid and comm of its process).
 * used[] follows the seed's order: DRAM, L1, L1_SMALL, TRACE.
 * PROCESS_ROW header: size = live buffers (0 for a tt-metal shm row, which
 * has no buffer list), buffer_id = bytes of kernel binaries (TTALLOC_KERNEL),
 * timestamp = first seen (socket) or the slot's last update (shm), ns since
 * the epoch. flags say where the row comes from: no PROTO_PROCESS_SHM bit is
 * the socket (per buffer); PROTO_PROCESS_SHM is a slot of tt-metal's
 * /dev/shm/tt_device_*_memory region (totals per process only), sent only
 * for processes not reporting through the socket; PROTO_PROCESS_STALE (with
 * SHM) is a slot whose process is gone, counted as leaked, not as used.
 * uid 0xffffffff: unknown (a gone process).
 */
struct __attribute__((packed)) proto_process_payload {
	uint64_t used[4];
	uint64_t system_memory;
	uint64_t cb;
	uint32_t uid;
	uint32_t flags; /* PROTO_PROCESS_* */
	char comm[16];  /* NUL-terminated, from /proc/PID/comm */
};

enum proto_process_flags {
	PROTO_PROCESS_EXITED = 1u << 0, /* leak row: the process is gone */
	PROTO_PROCESS_SHM = 1u << 1,    /* process row from tt-metal's shared memory, not the socket */
	PROTO_PROCESS_STALE = 1u << 2,  /* shm row whose process is dead: what its slot still claims */
	/* PROTO_PROCESS_EXITED on a PROCESS_ROW: exited, its leaks kept in the totals (--retain-leaks) */
};

/* Payload of ERROR: a code and a message for the human. */
struct __attribute__((packed)) proto_error_payload {
	int32_t code;     /* negative TTALLOC_E* */
	uint32_t reason;  /* enum proto_error_reason */
	char message[64]; /* NUL-terminated */
};

/* Length of a session tag (ttalloc-run's grouping of processes), NUL included. */
#define PROTO_SESSION_LEN 32
/* Environment variable a client copies into HELLO's session. */
#define PROTO_SESSION_ENV "TTALLOC_SESSION"

/* Payload of HELLO and HELLO_ACK. */
struct __attribute__((packed)) proto_hello_payload {
	uint32_t version;                /* PROTO_EXT_VERSION of the sender */
	uint32_t features;               /* HELLO: 0; HELLO_ACK: enum proto_feature bits */
	uint32_t num_devices;            /* HELLO_ACK only */
	uint32_t server_pid;             /* HELLO_ACK only */
	char session[PROTO_SESSION_LEN]; /* HELLO: $TTALLOC_SESSION, or empty */
	uint64_t instance;               /* HELLO: the reporting library's random id (new in each process); 0: none */
	uint32_t epoch;                  /* HELLO: connections this instance opened before this one */
	uint8_t log_level;               /* HELLO: the client's $TT_METAL_LOGGER_LEVEL, PROTO_LOG_*; 0: not set */
	uint8_t http_state;              /* HELLO_ACK: enum proto_http_state of the server's dashboard */
	uint16_t http_port;              /* HELLO_ACK: its port (listened on, or waited for) */
	uint32_t server_release; /* HELLO_ACK: the server's ttalloc version, PROTO_RELEASE(); 0: an older server */
	uint8_t reserved[4];
};

/*
 * A ttalloc version "MAJOR.MINOR.PATCH" as one number (HELLO_ACK's
 * server_release): MAJOR << 16 | MINOR << 8 | PATCH, so releases compare as
 * numbers. proto_release_of("0.1.0") gives PROTO_RELEASE(0, 1, 0); 0 for
 * text that is not a version (or a part out of range).
 */
#define PROTO_RELEASE(major, minor, patch) (((uint32_t)(major) << 16) | ((uint32_t)(minor) << 8) | (uint32_t)(patch))
uint32_t proto_release_of(const char *version);

/* "MAJOR.MINOR.PATCH" of a release into buf (at least 16 bytes); "unknown" for 0. Returns buf. */
char *proto_release_text(uint32_t release, char *buf, size_t size);

/* Deepest call stack a client sends (frames beyond are dropped). */
#define PROTO_STACK_MAX_DEPTH 32
/* Instruction pointers per STACK_DEF frame. */
#define PROTO_STACK_IPS_PER_FRAME 9

/*
 * Payload of ALLOC, FREE and ALLOC_FAILED: the seed leaves it zero;
 * ttalloc's clients put the id of the call's stack there (0: none),
 * defined earlier on the same connection by STACK_DEF or STACK_TEXT, and
 * flags (enum proto_alloc_flags).
 */
struct __attribute__((packed)) proto_alloc_payload {
	uint64_t stack_id;
	uint32_t flags;
	uint8_t reserved[60];
};

/* Bits of proto_alloc_payload.flags. */
enum proto_alloc_flags {
	/* an ALLOC re-sent by a library's resync after a reconnect: its
	 * buffer is not new (marks and diffs keep its original time) */
	PROTO_ALLOC_RESYNC = 1u << 0,
};

/* Longest MARK label, DOC_QUERY path and STACK_TEXT frame: the text payload less its NUL. */
#define PROTO_TEXT_MAX 71

/*
 * Largest request an ALLOC_FAILED may name (1 PiB, beyond any device): a
 * request above the device's capacity is a real cause of failure and is
 * kept; a larger number is garbage (bad_size).
 */
#define PROTO_MAX_REQUEST (1ull << 50)

/* Longest document DOC_QUERY answers (larger ones: ERROR; read them over HTTP). */
#define PROTO_DOC_MAX_BYTES (8u << 20)

/*
 * Payload of STACK_DEF. Header: size = stack id (non-zero), device_id =
 * depth of the whole stack (1..PROTO_STACK_MAX_DEPTH), buffer_type = index
 * of ips[0] in the stack. A stack deeper than 9 takes several frames, sent
 * in order; return addresses of the sending process, innermost first.
 */
struct __attribute__((packed)) proto_stack_payload {
	uint64_t ips[PROTO_STACK_IPS_PER_FRAME];
};

/*
 * HELLO's log_level: how much the server should log about this client's
 * own events, from the client's $TT_METAL_LOGGER_LEVEL (the seed sets it in
 * the application's terminal). Debug: its ALLOC/FREE lines with the stack
 * trace line, even when the server itself logs less.
 */
enum proto_log_level {
	PROTO_LOG_UNSET = 0,
	PROTO_LOG_ERROR = 1,
	PROTO_LOG_WARN = 2,
	PROTO_LOG_INFO = 3,
	PROTO_LOG_DEBUG = 4,
};

/*
 * HELLO_ACK's http_state: tracking never waits for the dashboard, so a
 * server whose HTTP port was taken at start-up runs without it and tries
 * the port again every PROTO_HTTP_RETRY_MS (WAITING) until it gets it (UP).
 */
#define PROTO_HTTP_RETRY_MS 5000
enum proto_http_state {
	PROTO_HTTP_OFF = 0, /* --no-http (or an older server) */
	PROTO_HTTP_UP = 1,
	PROTO_HTTP_WAITING = 2, /* the port is in use: retried */
};

/* Bits of HELLO_ACK's features: extension requests this server answers. */
enum proto_feature {
	PROTO_FEATURE_HOLDERS = 1u << 0,  /* HOLDER_QUERY */
	PROTO_FEATURE_HISTORY = 1u << 1,  /* HISTORY_QUERY */
	PROTO_FEATURE_RING = 1u << 2,     /* RING_ATTACH: the shared-memory fast path */
	PROTO_FEATURE_SESSIONS = 1u << 3, /* HELLO's instance and epoch, and GOODBYE (below) */
	PROTO_FEATURE_BUFFERS = 1u << 4,  /* BUFFER_QUERY */
	PROTO_FEATURE_DIAG = 1u << 5,     /* ALLOC_FAILED, MARK, STACK_TEXT and DOC_QUERY */
	PROTO_FEATURE_IDENTITY = 1u << 6, /* IDENTITY_QUERY */
};

/*
 * What an IDENTITY_ROW names (its header's buffer_type). Host fields have
 * device_id -1 and process_id 0; device fields the device and process_id
 * 0; process fields device_id -1 and the pid. Only known values are sent.
 */
enum proto_identity_field {
	PROTO_IDENTITY_HOSTNAME = 0,
	PROTO_IDENTITY_SERIAL,
	PROTO_IDENTITY_ASIC_ID,
	PROTO_IDENTITY_PCI_BUS_ID,
	PROTO_IDENTITY_CARD_TYPE,
	PROTO_IDENTITY_UUID,
	PROTO_IDENTITY_CONTAINER_ID,
	PROTO_IDENTITY_CONTAINER_RUNTIME,
	PROTO_IDENTITY_POD,
	PROTO_IDENTITY_NAMESPACE,
	PROTO_IDENTITY_CONTAINER,
	PROTO_IDENTITY_DRIVER_VERSION, /* a device's driver: tt-kmd's or NVIDIA's version */
	PROTO_IDENTITY_FIELDS
};

/*
 * IDENTITY_ROW carries one field's text in u.text (NUL-terminated when
 * shorter than 72 bytes). A longer value (a pod name has up to 253 bytes)
 * takes several rows in order, each with the byte offset of its piece in
 * the header's size.
 */
#define PROTO_IDENTITY_PIECE 71

/* States of a HOLDER_ROW (device.h's enum device_holder_state). */
enum proto_holder_state {
	PROTO_HOLDER_TRACKED = 0,   /* reported buffers; the kernel lists it (or cannot tell) */
	PROTO_HOLDER_UNTRACKED = 1, /* holds the device (kernel's view) but never reported: memory N/A */
	PROTO_HOLDER_VANISHED = 2,  /* reported buffers, but the driver's list no longer has it */
};

/* Bits of proto_holder_payload.flags (the first three are device.h's DEVICE_PROC_*). */
enum proto_holder_flags {
	PROTO_HOLDER_DRIVER = 1u << 0, /* listed by the driver: tt-kmd's pids file, NVML */
	PROTO_HOLDER_FD = 1u << 1,     /* has the device node open (/proc/PID/fd) */
	PROTO_HOLDER_MEMORY = 1u << 2, /* `memory` is the driver's figure (NVML) */
	PROTO_HOLDER_UID = 1u << 3,    /* `uid` is known */
};

/*
 * Payload of HOLDER_ROW: one process that holds (or, VANISHED, held) one
 * device. Header: device_id, process_id, timestamp = when the kernel's view
 * was read (ns since the epoch; the server reads it at most once a second).
 */
struct __attribute__((packed)) proto_holder_payload {
	uint64_t memory; /* bytes the driver charges to it; valid with PROTO_HOLDER_MEMORY */
	uint32_t state;  /* enum proto_holder_state */
	uint32_t flags;  /* enum proto_holder_flags */
	uint32_t uid;    /* real uid; valid with PROTO_HOLDER_UID */
	char comm[16];   /* NUL-terminated /proc/PID/comm; empty when unreadable */
	uint8_t reserved[36];
};

/* Most buckets per device a HISTORY_QUERY gets, and what points = 0 asks for. */
#define PROTO_HISTORY_MAX_POINTS 600
#define PROTO_HISTORY_DEFAULT_POINTS 60

/* Bits of proto_history_payload.flags. */
enum proto_history_flags {
	PROTO_HISTORY_VALID = 1u << 0, /* the bucket holds samples (else it is older than the history) */
};

/*
 * Payload of HISTORY_QUERY and HISTORY_ROW. The query asks for the last
 * `seconds` (0: all the server keeps) in at most `points` buckets per
 * device. Each row is one bucket of one device (header device_id), oldest
 * first, holding the peak of the samples it covers, so a spike is never
 * averaged away; each device gets `points` buckets of `step_ms` each.
 */
struct __attribute__((packed)) proto_history_payload {
	uint64_t used[4];     /* row: peak bytes in the bucket, seed order: DRAM, L1, L1_SMALL, TRACE */
	uint64_t time_ms;     /* row: time of the bucket's newest sample, ms since the epoch; 0 without data */
	uint32_t seconds;     /* query: span wanted; row: span the buckets cover */
	uint32_t points;      /* query: buckets wanted (0: the default); row: buckets per device */
	uint32_t index;       /* row: bucket number, 0 = oldest */
	uint32_t step_ms;     /* row: milliseconds one bucket covers */
	uint32_t interval_ms; /* row: the server's sampling interval */
	uint32_t flags;       /* row: enum proto_history_flags */
	uint8_t reserved[8];
};

/*
 * Payload of RING_ATTACH and RING_ACK: the region's geometry as the client
 * built it (ring.h's constants), checked by the server against its own; the
 * ACK repeats what was accepted.
 */
struct __attribute__((packed)) proto_ring_payload {
	uint32_t version;     /* RING_VERSION */
	uint32_t lanes;       /* RING_LANES */
	uint32_t lane_events; /* RING_LANE_EVENTS */
	uint32_t shards;      /* RING_SHARDS */
	uint32_t event_size;  /* sizeof(struct ring_event) */
	uint32_t reserved0;
	uint64_t region_size; /* sizeof(struct ring_region) */
	uint8_t reserved[40];
};

/* LEAK_QUERY's buffer_type flag: follow leak rows with their STACK_LINEs. */
#define PROTO_LEAK_WITH_STACKS 1u

/* BUFFER_QUERY's buffer_type flag: follow each row with its top stack frame (a STACK_LINE). */
#define PROTO_BUFFER_WITH_STACKS 1u
/* Rows a BUFFER_QUERY gets when its size is 0, and the most it ever gets. */
#define PROTO_BUFFER_DEFAULT_ROWS 1000
#define PROTO_BUFFER_MAX_ROWS 10000

/*
 * Payload of STACK_LINE (one symbolized frame), MARK (the label), STACK_TEXT
 * (one frame), DOC_QUERY (the path) and DOC_CHUNK: NUL-terminated text of
 * at most PROTO_TEXT_MAX bytes, except DOC_CHUNK, whose header says how
 * many of its 72 bytes count (size: the whole document's length,
 * buffer_id: this chunk's offset in it).
 */
struct __attribute__((packed)) proto_text_payload {
	char text[72];
};

/* Payload of PROCESS_QUERY and LEAK_QUERY: only processes of one session. */
struct __attribute__((packed)) proto_filter_payload {
	char session[PROTO_SESSION_LEN]; /* empty: every process */
	uint8_t reserved[40];
};

/*
 * The 40-byte header every frame begins with, in both wire formats (the
 * seed's 112-byte and upstream's 144-byte message): one field list, so the
 * two cannot drift apart.
 */
#define PROTO_HEADER_FIELDS                      \
	uint8_t type;                            \
	uint8_t pad1[3];                         \
	int32_t device_id;                       \
	uint64_t size;                           \
	uint8_t buffer_type;                     \
	uint8_t pad2[3];                         \
	int32_t process_id;                      \
	uint64_t buffer_id; /* device address */ \
	uint64_t timestamp; /* ns */

struct __attribute__((packed)) proto_msg {
	PROTO_HEADER_FIELDS
	union __attribute__((packed)) {
		struct proto_seed_payload seed;
		struct proto_status_payload status;
		struct proto_process_payload process;
		struct proto_error_payload error;
		struct proto_hello_payload hello;
		struct proto_filter_payload filter;
		struct proto_alloc_payload alloc;
		struct proto_stack_payload stack;
		struct proto_text_payload text;
		struct proto_holder_payload holder;
		struct proto_history_payload history;
		struct proto_ring_payload ring;
		uint8_t raw[72];
	} u;
};

/* The layout table of ARCHITECTURE.md, checked by the compiler. */
_Static_assert(sizeof(struct proto_msg) == PROTO_MSG_SIZE, "message is 112 bytes");
_Static_assert(offsetof(struct proto_msg, type) == 0, "type");
_Static_assert(offsetof(struct proto_msg, device_id) == 4, "device_id");
_Static_assert(offsetof(struct proto_msg, size) == 8, "size");
_Static_assert(offsetof(struct proto_msg, buffer_type) == 16, "buffer_type");
_Static_assert(offsetof(struct proto_msg, process_id) == 20, "process_id");
_Static_assert(offsetof(struct proto_msg, buffer_id) == 24, "buffer_id");
_Static_assert(offsetof(struct proto_msg, timestamp) == 32, "timestamp");
_Static_assert(offsetof(struct proto_msg, u.seed.dram_allocated) == 40, "dram_allocated");
_Static_assert(offsetof(struct proto_msg, u.seed.l1_allocated) == 48, "l1_allocated");
_Static_assert(offsetof(struct proto_msg, u.seed.l1_small_allocated) == 56, "l1_small");
_Static_assert(offsetof(struct proto_msg, u.seed.trace_allocated) == 64, "trace");
_Static_assert(offsetof(struct proto_msg, u.seed.total_dram_size) == 72, "total_dram_size");
_Static_assert(offsetof(struct proto_msg, u.seed.total_l1_size) == 80, "total_l1_size");
_Static_assert(offsetof(struct proto_msg, u.seed.arch_type) == 88, "arch_type");
_Static_assert(offsetof(struct proto_msg, u.seed.num_dram_channels) == 92, "channels");
_Static_assert(offsetof(struct proto_msg, u.seed.dram_size_per_channel) == 96, "per channel");
_Static_assert(offsetof(struct proto_msg, u.seed.l1_size_per_core) == 100, "l1 per core");
_Static_assert(offsetof(struct proto_msg, u.seed.is_available) == 104, "is_available");
_Static_assert(offsetof(struct proto_msg, u.seed.num_devices) == 108, "num_devices");
_Static_assert(sizeof(struct proto_status_payload) == 72, "status payload fills the frame");
_Static_assert(sizeof(struct proto_process_payload) == 72, "process payload fills the frame");
_Static_assert(sizeof(struct proto_error_payload) == 72, "error payload fills the frame");
_Static_assert(sizeof(struct proto_hello_payload) == 72, "hello payload fills the frame");
_Static_assert(offsetof(struct proto_msg, u.hello.session) == 56, "hello session");
_Static_assert(offsetof(struct proto_msg, u.hello.instance) == 88, "hello instance");
_Static_assert(offsetof(struct proto_msg, u.hello.epoch) == 96, "hello epoch");
_Static_assert(offsetof(struct proto_msg, u.hello.log_level) == 100, "hello log level");
_Static_assert(offsetof(struct proto_msg, u.hello.http_state) == 101, "hello http state");
_Static_assert(offsetof(struct proto_msg, u.hello.http_port) == 102, "hello http port");
_Static_assert(offsetof(struct proto_msg, u.hello.server_release) == 104, "hello server release");
_Static_assert(sizeof(struct proto_filter_payload) == 72, "filter payload fills the frame");
_Static_assert(sizeof(struct proto_alloc_payload) == 72, "alloc payload fills the frame");
_Static_assert(sizeof(struct proto_stack_payload) == 72, "stack payload fills the frame");
_Static_assert(sizeof(struct proto_text_payload) == 72, "text payload fills the frame");
_Static_assert(offsetof(struct proto_msg, u.alloc.stack_id) == 40, "alloc stack id");
_Static_assert(offsetof(struct proto_msg, u.alloc.flags) == 48, "alloc flags");
_Static_assert(sizeof(struct proto_holder_payload) == 72, "holder payload fills the frame");
_Static_assert(offsetof(struct proto_msg, u.holder.memory) == 40, "holder memory");
_Static_assert(offsetof(struct proto_msg, u.holder.state) == 48, "holder state");
_Static_assert(offsetof(struct proto_msg, u.holder.flags) == 52, "holder flags");
_Static_assert(offsetof(struct proto_msg, u.holder.uid) == 56, "holder uid");
_Static_assert(offsetof(struct proto_msg, u.holder.comm) == 60, "holder comm");
_Static_assert(sizeof(struct proto_history_payload) == 72, "history payload fills the frame");
_Static_assert(sizeof(struct proto_ring_payload) == 72, "ring payload fills the frame");
_Static_assert(offsetof(struct proto_msg, u.ring.region_size) == 64, "ring region size");
_Static_assert(offsetof(struct proto_msg, u.history.used) == 40, "history used");
_Static_assert(offsetof(struct proto_msg, u.history.time_ms) == 72, "history time");
_Static_assert(offsetof(struct proto_msg, u.history.seconds) == 80, "history seconds");
_Static_assert(offsetof(struct proto_msg, u.history.points) == 84, "history points");
_Static_assert(offsetof(struct proto_msg, u.history.index) == 88, "history index");
_Static_assert(offsetof(struct proto_msg, u.history.step_ms) == 92, "history step");
_Static_assert(offsetof(struct proto_msg, u.history.interval_ms) == 96, "history interval");
_Static_assert(offsetof(struct proto_msg, u.history.flags) == 100, "history flags");
/* The format is little-endian and we copy structs as bytes. */
_Static_assert(__BYTE_ORDER__ == __ORDER_LITTLE_ENDIAN__, "little-endian host required");

/* uid of a process row whose process is gone and whose uid is unknown. */
#define PROTO_UID_UNKNOWN 0xffffffffu

/*
 * Upstream tt-metal's 144-byte frame: the AllocMessage of its later
 * AllocationClient (tt_metal/impl/allocator/allocation_client.cpp in
 * tenstorrent/tt-metal; docs/TTMETAL.md cites the versions). The same
 * header as proto_msg; the seed's totals followed by cb and kernel totals,
 * the seed's device info 16 bytes further on, and ring-buffer figures. A
 * client's requests leave everything after the header zero (memset); the
 * server fills RESPONSE / DEVICE_INFO_RESPONSE for such a connection in
 * this layout (ring-buffer fields 0: ttalloc does not track them).
 */
#define PROTO_UPSTREAM_MSG_SIZE 144
/* Longest frame of any wire format (what a connection buffers). */
#define PROTO_MAX_FRAME_SIZE PROTO_UPSTREAM_MSG_SIZE

struct __attribute__((packed)) proto_upstream_msg {
	PROTO_HEADER_FIELDS
	PROTO_SEED_TOTALS_FIELDS
	uint64_t cb_allocated;     /* circular buffers */
	uint64_t kernel_allocated; /* kernel binaries */
	PROTO_SEED_INFO_FIELDS
	uint32_t ringbuffer_total_size;
	uint32_t ringbuffer_used_bytes;
	uint32_t ringbuffer_num_programs;
	uint32_t pad3;
};

_Static_assert(sizeof(struct proto_upstream_msg) == PROTO_UPSTREAM_MSG_SIZE, "upstream message is 144 bytes");
_Static_assert(offsetof(struct proto_upstream_msg, device_id) == 4, "upstream device_id");
_Static_assert(offsetof(struct proto_upstream_msg, size) == 8, "upstream size");
_Static_assert(offsetof(struct proto_upstream_msg, buffer_type) == 16, "upstream buffer_type");
_Static_assert(offsetof(struct proto_upstream_msg, process_id) == 20, "upstream process_id");
_Static_assert(offsetof(struct proto_upstream_msg, buffer_id) == 24, "upstream buffer_id");
_Static_assert(offsetof(struct proto_upstream_msg, timestamp) == 32, "upstream timestamp");
_Static_assert(offsetof(struct proto_upstream_msg, dram_allocated) == 40, "upstream dram_allocated");
_Static_assert(offsetof(struct proto_upstream_msg, trace_allocated) == 64, "upstream trace_allocated");
_Static_assert(offsetof(struct proto_upstream_msg, cb_allocated) == 72, "upstream cb_allocated");
_Static_assert(offsetof(struct proto_upstream_msg, kernel_allocated) == 80, "upstream kernel_allocated");
_Static_assert(offsetof(struct proto_upstream_msg, total_dram_size) == 88, "upstream total_dram_size");
_Static_assert(offsetof(struct proto_upstream_msg, total_l1_size) == 96, "upstream total_l1_size");
_Static_assert(offsetof(struct proto_upstream_msg, arch_type) == 104, "upstream arch_type");
_Static_assert(offsetof(struct proto_upstream_msg, num_devices) == 124, "upstream num_devices");
_Static_assert(offsetof(struct proto_upstream_msg, ringbuffer_total_size) == 128, "upstream ring buffer");
_Static_assert(offsetof(struct proto_upstream_msg, pad3) == 140, "upstream pad3");

/* The frame sizes a connection may speak; each connection speaks one. */
enum proto_wire {
	PROTO_WIRE_SEED = 0,        /* 112-byte frames: the seed, ttalloc's clients */
	PROTO_WIRE_UPSTREAM144 = 1, /* 144-byte frames: tt-metal's later AllocationClient */
	PROTO_WIRES
};

/* What an answer may carry beyond struct proto_msg (the 144-byte frame has room for it). */
struct proto_answer_extra {
	uint64_t cb_allocated;
	uint64_t kernel_allocated;
};

/* One wire format: its frame size and the conversions to and from proto_msg. */
struct proto_wire_format {
	enum proto_wire wire;
	const char *name; /* "112-byte", "144-byte" */
	size_t frame_size;
	/* Reads one frame of frame_size bytes into the server's message. */
	void (*decode)(const uint8_t *frame, struct proto_msg *msg);
	/* Writes `msg` (and `extra`, may be NULL) as one frame of frame_size bytes. */
	void (*encode)(const struct proto_msg *msg, const struct proto_answer_extra *extra, uint8_t *frame);
};

/* The format of `wire` (a PROTO_WIRE_* value; anything else gives the seed's). */
const struct proto_wire_format *proto_wire_format(enum proto_wire wire);

/*
 * Which wire format a stream speaks, from the first `len` bytes a client
 * sent. Both formats share the header; the 144-byte client zeroes every
 * byte after it (memset, then header fields), so its first frame has an
 * upstream request type (1, 2, 3, 5, 6, 8..12), zero padding at 1..3 and
 * 17..19, and zero bytes at 112..143. A 112-byte stream has the next
 * frame's type - never 0 - at offset 112. Returns PROTO_WIRE_UPSTREAM144
 * when the first 144 bytes have that signature, PROTO_WIRE_SEED when they
 * cannot (first frame not upstream-shaped, or a non-zero byte at 112..143),
 * or -1 when more bytes are needed (fewer than 112, or 112..143 zero so
 * far). A caller holding exactly 112 bytes and nothing more takes the seed
 * format (a seed client may be waiting for its answer) and may still switch
 * when 32 zero bytes follow (connection.c).
 */
int proto_wire_detect(const uint8_t *data, size_t len);

/* 1 when `type` is one an upstream tt-metal client sends. */
int proto_upstream_request_type(unsigned type);

/*
 * Reasons a frame is refused or an event is counted as wrong. One table for
 * the server's counters, its log lines, ERROR frames and (later) /metrics.
 * X(NAME, metric_label, description)
 */
#define PROTO_ERROR_MAP(X, P)                                                                   \
	X(P, TRUNCATED, "truncated", "connection closed in the middle of a message")            \
	X(P, UNKNOWN_TYPE, "unknown_type", "unknown message type")                              \
	X(P, UNEXPECTED_TYPE, "unexpected_type", "message type only the server sends")          \
	X(P, BAD_DEVICE, "bad_device", "device id out of range")                                \
	X(P, BAD_BUFFER_TYPE, "bad_buffer_type", "buffer type is not 0..6")                     \
	X(P, BAD_SIZE, "bad_size", "size is zero or larger than the device memory")             \
	X(P, PID_MISMATCH, "pid_mismatch", "process_id differs from the connection's real PID") \
	X(P, FOREIGN_FREE, "foreign_free", "FREE of a buffer owned by another process")         \
	X(P, UNKNOWN_FREE, "unknown_free", "FREE of an address with no live buffer")            \
	X(P, DUPLICATE_ALLOC, "duplicate_alloc", "ALLOC at an address this process holds live") \
	X(P, OUTPUT_OVERFLOW, "output_overflow", "peer does not read its answers")              \
	X(P, LIMIT, "limit", "a server limit was reached")                                      \
	X(P, BAD_STACK, "bad_stack", "malformed STACK_DEF")                                     \
	X(P, FOREIGN_QUERY, "foreign_query", "request for another user's buffers (not shown)")  \
	X(P, BAD_RING, "bad_ring", "shared-memory ring refused or corrupt")                     \
	X(P, BAD_TEXT, "bad_text", "MARK label, STACK_TEXT frame or DOC_QUERY path empty, unterminated or not text")

LABELS_ENUM(proto_error_reason, PROTO_ERROR_MAP, PROTO_ERR_, PROTO_ERR_COUNT);

/* Short label of a reason ("bad_device"), for counters and metrics. */
const char *proto_error_label(enum proto_error_reason reason);

/* One-line description of a reason, for log lines. */
const char *proto_error_description(enum proto_error_reason reason);

/* Name of a message type ("ALLOC", "HELLO"), or NULL when unknown. */
const char *proto_type_name(unsigned type);

/*
 * Who may send a type: a request from a client, an answer from the server,
 * or neither (unknown). Used by both ends to refuse frames going the wrong
 * way.
 */
enum proto_direction { PROTO_DIR_UNKNOWN = 0, PROTO_DIR_REQUEST, PROTO_DIR_ANSWER };
enum proto_direction proto_type_direction(unsigned type);

/* 1 when the server answers `type` from the live picture (PROTO_MESSAGE_MAP's reads_registry). */
int proto_type_reads_registry(unsigned type);

/* Buffer type name as the seed prints it ("DRAM", "L1_SMALL"), or "TYPE?". */
const char *proto_buffer_type_name(unsigned type);

/* 1 when `type` is a valid enum ttalloc_buffer_type value. */
int proto_buffer_type_valid(unsigned type);

/* Architecture name ("Wormhole_B0"), or "Unknown". */
const char *proto_arch_name(unsigned arch);

/* enum proto_http_state's name as JSON documents give it ("off", "up", "waiting"), or "unknown". */
const char *proto_http_state_name(unsigned state);

/* Zeroes `msg` and sets its type and device. */
void proto_msg_init(struct proto_msg *msg, enum proto_msg_type type, int32_t device_id);

/*
 * 1 when `field` (of `size` bytes) holds a valid text payload: non-empty,
 * NUL-terminated within the field, and free of control characters (bytes
 * below 0x20 and 0x7f: labels end up in logs and on terminals). Clients
 * check labels with it before sending, the server again on receipt.
 */
int proto_text_valid(const char *field, size_t size);

/* Copies `text` into a fixed char field, always NUL-terminating it. */
void proto_set_string(char *field, size_t field_size, const char *text);

#endif /* TTALLOC_PROTOCOL_H */
