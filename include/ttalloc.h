/*
 * ttalloc.h - report device buffer allocations to the ttalloc server.
 *
 * An application (or the framework inside it, such as tt-metal) calls
 * ttalloc_report_alloc() when it places a buffer in device memory and
 * ttalloc_report_free() when it releases it. The library forwards each event
 * to the per-host allocation server (ttalloc-server), which keeps the live
 * picture per device, per process and per buffer.
 *
 * Contract:
 *  - Reporting is active only when the environment variable
 *    TT_ALLOC_TRACKING_ENABLED is "1" when the library is first used. When it
 *    is not, every call returns 0 after one predictable branch.
 *  - The server socket is TT_ALLOC_SERVER_SOCKET, or
 *    /tmp/tt_allocation_server.sock when that is unset.
 *  - The library never aborts and never blocks the application waiting for a
 *    server that is not there. It keeps its own table of live buffers, so
 *    that a connection made later (server started late, or restarted) can be
 *    brought up to date by re-sending that table.
 *  - All functions are thread-safe.
 *  - Errors are negative TTALLOC_E* codes; ttalloc_strerror() names them.
 */
#ifndef TTALLOC_H
#define TTALLOC_H

#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

/*
 * Kinds of device memory. The values are tt-metal's BufferType codes, which
 * the real tt-metal client casts straight onto the wire; do not renumber.
 */
enum ttalloc_buffer_type {
	TTALLOC_DRAM = 0,
	TTALLOC_L1 = 1,
	TTALLOC_SYSTEM_MEMORY = 2, /* host memory: counted, not a device total */
	TTALLOC_L1_SMALL = 3,
	TTALLOC_TRACE = 4,
	TTALLOC_CB = 5,     /* circular buffers, where a separate count is wanted */
	TTALLOC_KERNEL = 6, /* kernel binaries in L1 (tt-metal's KERNEL_LOAD/KERNEL_UNLOAD) */
};

/* Number of buffer types above; valid types are 0 .. TTALLOC_BUFFER_TYPES-1. */
#define TTALLOC_BUFFER_TYPES 7

/*
 * One table of error codes shared by the library, the server and the tools.
 * X(NAME, message): TTALLOC_E<NAME> is the (negative) code.
 */
#define TTALLOC_ERRNO_MAP(X)                                                \
	X(NOSERVER, "the allocation server is not reachable")               \
	X(INVAL, "invalid argument")                                        \
	X(NOMEM, "out of memory")                                           \
	X(UNKNOWN_BUFFER, "no live buffer at that device and address")      \
	X(DUPLICATE, "a buffer is already live at that device and address") \
	X(PROTOCOL, "the server answered with an unexpected message")       \
	X(IO, "socket error while talking to the server")                   \
	X(NODEV, "the server has no device with that id")

enum ttalloc_error {
	TTALLOC_OK = 0,
	TTALLOC_ERRNO_FIRST_ = -100,
#define TTALLOC_DEFINE_ERRNO_(name, msg) TTALLOC_E##name,
	TTALLOC_ERRNO_MAP(TTALLOC_DEFINE_ERRNO_)
#undef TTALLOC_DEFINE_ERRNO_
		TTALLOC_ERRNO_LAST_
};

/* A static, human-readable description of a TTALLOC_E* code (or "success"). */
const char *ttalloc_strerror(int code);

/*
 * Reads the environment and, when tracking is enabled, connects to the
 * server. Optional: the first report calls it. Calling it again is harmless.
 * Returns 0 when tracking is disabled or connected, TTALLOC_ENOSERVER when
 * enabled but the server cannot be reached (reports are still recorded and
 * sent once a connection is made).
 */
int ttalloc_init(void);

/* 1 when TT_ALLOC_TRACKING_ENABLED=1 was seen at initialisation, else 0. */
int ttalloc_enabled(void);

/*
 * Records that `size` bytes of memory of `type` were allocated at `address`
 * on device `device_id` by this process, and tells the server.
 * Returns 0, TTALLOC_EINVAL (bad type, zero size, or a device id outside
 * 0..63), TTALLOC_ENODEV (the server the library last connected to has no
 * such device: nothing is recorded or sent, and ttalloc_stats counts it),
 * TTALLOC_EDUPLICATE (already live here: the old record is replaced), or
 * TTALLOC_ENOSERVER (the event is kept locally and re-sent when the server
 * is reached). Device ids are checked against the device count in the
 * server's answer to the library's HELLO, without a round trip per event;
 * before the library has reached a server it cannot know, and the server
 * refuses such a buffer itself (its bad_device counter).
 */
int ttalloc_report_alloc(int device_id, enum ttalloc_buffer_type type, uint64_t address, uint64_t size);

/*
 * Records that the buffer at `address` on `device_id` was freed.
 * Returns 0, TTALLOC_EUNKNOWN_BUFFER (this process never reported it; the
 * server is still told, so its counters see the mistake: a double free, a
 * wrong device, with both stacks when TT_ALLOC_STACK_TRACE=1),
 * TTALLOC_EINVAL or TTALLOC_ENODEV (a device id as for
 * ttalloc_report_alloc: nothing is sent), or TTALLOC_ENOSERVER.
 */
int ttalloc_report_free(int device_id, uint64_t address);

/*
 * Records that this process failed to allocate `size` bytes of memory of
 * `type` on device `device` (its allocator found no room), and tells the
 * server, which keeps a post-mortem of the moment: the memory's use and
 * fragmentation in this process's view, who holds it, the biggest
 * buffers, this process's last events (GET /api/oom, tt_smi --oom). With
 * TT_ALLOC_STACK_TRACE=1 the call's stack goes with it. Returns once the
 * server has the report: 0, TTALLOC_EINVAL (bad device, type or a zero
 * size), TTALLOC_ENODEV (a device the server does not have, as for
 * ttalloc_report_alloc), or TTALLOC_ENOSERVER (nothing is kept for later: a
 * failure is a moment, not state).
 */
int ttalloc_report_alloc_failed(int device, enum ttalloc_buffer_type type, uint64_t size);

/* Longest mark label, in bytes. */
#define TTALLOC_MARK_LABEL_MAX 71

/*
 * Records a named point in the server's timeline (a training step, "after
 * warm-up"): GET /api/diff?from=A&to=B then says what was allocated and
 * freed between two marks, by process, type and stack. `label` is 1 to
 * TTALLOC_MARK_LABEL_MAX bytes of text without control characters; the
 * newest mark of a label is the one a diff names. Every event this library
 * reported before the call comes before the mark. Returns once the server
 * has it: 0 (also when tracking is disabled: nothing to mark), TTALLOC_EINVAL
 * (bad label), or TTALLOC_ENOSERVER.
 */
int ttalloc_mark(const char *label);

/*
 * Returns once the server has processed every event reported before the
 * call, so that a QUERY made afterwards sees them. TTALLOC_ENOSERVER when
 * there is no connection.
 */
int ttalloc_flush(void);

/*
 * Number of buffers this process has reported live and not freed, from the
 * library's own table (0 when tracking is disabled).
 */
uint64_t ttalloc_live_buffers(void);

/*
 * What the library did since tracking started (ttalloc_init or the first
 * report), for a program that wants to know whether its events reached a
 * server: call ttalloc_flush() first; when it returns 0, `unconfirmed` is
 * 0 (everything reported before the flush was applied by the server,
 * including after a server restart: the library re-sends its live table on
 * every new connection).
 */
struct ttalloc_stats {
	uint64_t events;         /* ALLOC and FREE reports recorded (a refused report is not one) */
	uint64_t unconfirmed;    /* of those, reported after the last successful ttalloc_flush():
				  * not known to have reached a server */
	uint64_t refused_device; /* reports refused with TTALLOC_ENODEV */
	uint64_t connections;    /* connections made to a server (1 + reconnections) */
	uint32_t server_devices; /* devices the last server reached has (ids 0..n-1); 0: none reached yet */
	int connected;           /* 1 while connected */
	char socket_path[108];   /* the socket the library reports to */
};

/*
 * Fills `stats` (`size` bytes: pass sizeof(struct ttalloc_stats); a
 * program built with an older, shorter struct gets its part). Returns 0, or
 * TTALLOC_EINVAL for a NULL `stats`. With tracking disabled every count is 0.
 */
int ttalloc_get_stats(struct ttalloc_stats *stats, size_t size);

/*
 * Why the library's last attempt to reach the server failed, as one line
 * for a person, copied into `buf` (`size` bytes, always NUL-terminated):
 * "cannot reach the allocation server at PATH (No such file or directory):
 * start ttalloc-server", or, when the socket's permissions refuse this
 * user, the socket's owner, group and mode and the fix ("join group X
 * (sudo usermod -aG X $USER, then log in again) or start the server with
 * --group/--socket-mode"). Returns 1 when there is such a reason (the
 * library is not connected), 0 when connected or when no attempt failed
 * (`buf` is then "").
 */
int ttalloc_last_error(char *buf, size_t size);

/*
 * Flushes, then closes the connection and frees the library's memory.
 * Buffers still live are reported by the server as leaked by this process
 * when its last connection closes. A later report re-initialises.
 */
void ttalloc_shutdown(void);

#ifdef __cplusplus
}
#endif

#endif /* TTALLOC_H */
