/*
 * unix_socket.h - Unix stream socket helpers shared by the server, the
 * client library and the tools (in the manner of redis's anet.c).
 *
 * Functions that can fail write a readable reason into a caller buffer
 * (`err`, at least UNIX_SOCKET_ERR_LEN bytes) and return -1.
 */
#ifndef TTALLOC_UNIX_SOCKET_H
#define TTALLOC_UNIX_SOCKET_H

#include <stddef.h>
#include <sys/types.h>

#include "common/errors.h"

#define UNIX_SOCKET_ERR_LEN ERR_LEN

/* The socket path clients and server use: $TT_ALLOC_SERVER_SOCKET or the default. */
const char *unix_socket_default_path(void);

/*
 * Where a program's socket path came from, for a person: "--socket" when
 * `option_path` (its --socket) is set, else "$TT_ALLOC_SERVER_SOCKET" when
 * that is set, else "the default path".
 */
const char *unix_socket_path_source(const char *option_path);

/*
 * Connects to `path`. Returns a blocking, close-on-exec fd, or -1 with
 * errno set and the reason in `err` (e.g. "connection refused"); clients
 * of the allocation server explain it with reach_explain (common/reach.h).
 */
int unix_socket_connect(const char *path, char *err);

/*
 * Creates a listening socket at `path` with permissions `mode`.
 * A stale socket file (nobody accepting) is replaced; a socket with a live
 * server behind it, or a path that is not a socket, is refused. Returns a
 * non-blocking, close-on-exec fd or -1 with the reason in `err`.
 */
int unix_socket_listen(const char *path, mode_t mode, int backlog, char *err);

/*
 * Checks that a socket can be created at `path`, before trying: the path
 * fits sun_path, its directory exists, is a directory we may create files
 * in, and is safe for a socket: not writable by others unless sticky (like
 * /tmp), and owned by root or by us. Returns 0, or -1 with the reason (and
 * what to do) in `err`.
 */
int unix_socket_check_path(const char *path, char *err);

/* The directory part of `path` ("." for a bare name, "/" for "/name") into `dir` (`size` bytes). */
void unix_socket_directory(const char *path, char *dir, size_t size);

/* Sets O_NONBLOCK on fd. Returns 0 or -1 (errno set). */
int unix_socket_set_nonblocking(int fd);

/* Kernel credentials of the peer (SO_PEERCRED). Returns 0 or -1 (errno set). */
int unix_socket_peer(int fd, pid_t *pid, uid_t *uid);

/*
 * Writes all `len` bytes (retrying on EINTR and short writes, never raising
 * SIGPIPE). Returns 0 or -1 (errno set; EPIPE when the peer is gone).
 */
int unix_socket_write_all(int fd, const void *buf, size_t len);

/*
 * Sends `len` bytes (one frame) with `nfds` descriptors attached
 * (SCM_RIGHTS), all at once. Returns 0 or -1 (errno set).
 */
int unix_socket_send_fds(int fd, const void *buf, size_t len, const int *fds, int nfds);

/* Most descriptors one message may carry (unix_socket_send_fds, the server's reads). */
#define UNIX_SOCKET_MAX_FDS 4

/*
 * Reads exactly `len` bytes. Returns 0, or -1 with errno set; a peer that
 * closes first gives errno ECONNRESET.
 */
int unix_socket_read_all(int fd, void *buf, size_t len);

#endif /* TTALLOC_UNIX_SOCKET_H */
