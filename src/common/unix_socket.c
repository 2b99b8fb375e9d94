/*
 * unix_socket.c - Unix stream socket helpers (see unix_socket.h).
 */
#define _GNU_SOURCE
#include "common/unix_socket.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

#include "common/protocol.h"

const char *unix_socket_default_path(void)
{
	const char *path = getenv(PROTO_SOCKET_ENV);
	return (path && *path) ? path : PROTO_DEFAULT_SOCKET;
}

const char *unix_socket_path_source(const char *option_path)
{
	const char *env = getenv(PROTO_SOCKET_ENV);
	if (option_path)
		return "--socket";
	return env && *env ? "$" PROTO_SOCKET_ENV : "the default path";
}

/* Fills `addr` for `path`; fails when the path does not fit sun_path. */
static int fill_address(struct sockaddr_un *addr, const char *path, char *err)
{
	memset(addr, 0, sizeof(*addr));
	addr->sun_family = AF_UNIX;
	if (strlen(path) >= sizeof(addr->sun_path)) {
		snprintf(err, UNIX_SOCKET_ERR_LEN, "socket path too long (%zu bytes, at most %zu): %s", strlen(path),
			 sizeof(addr->sun_path) - 1, path);
		errno = ENAMETOOLONG;
		return -1;
	}
	memcpy(addr->sun_path, path, strlen(path));
	return 0;
}

int unix_socket_connect(const char *path, char *err)
{
	struct sockaddr_un addr;
	if (fill_address(&addr, path, err) < 0)
		return -1;
	int fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
	if (fd < 0) {
		snprintf(err, UNIX_SOCKET_ERR_LEN, "socket(): %s", strerror(errno));
		return -1;
	}
	int rc;
	do
		rc = connect(fd, (struct sockaddr *)&addr, sizeof(addr));
	while (rc < 0 && errno == EINTR);
	if (rc < 0) {
		snprintf(err, UNIX_SOCKET_ERR_LEN, "%s", strerror(errno));
		int saved = errno;
		close(fd);
		errno = saved;
		return -1;
	}
	return fd;
}

/*
 * Decides what to do with something already at `path`: 0 when the path is
 * free (or held a stale socket, now removed), -1 with a reason otherwise.
 */
static int clear_stale_socket(const char *path, char *err)
{
	struct stat st;
	if (lstat(path, &st) < 0)
		return 0; /* nothing there */
	if (!S_ISSOCK(st.st_mode)) {
		snprintf(err, UNIX_SOCKET_ERR_LEN,
			 "%s exists and is not a socket; remove it or choose another --socket", path);
		return -1;
	}
	char probe_err[UNIX_SOCKET_ERR_LEN];
	int fd = unix_socket_connect(path, probe_err);
	if (fd >= 0) {
		close(fd);
		snprintf(err, UNIX_SOCKET_ERR_LEN,
			 "another allocation server is already listening on %s; stop it first or use --socket PATH",
			 path);
		return -1;
	}
	if (unlink(path) < 0 && errno != ENOENT) {
		snprintf(err, UNIX_SOCKET_ERR_LEN, "cannot remove stale socket %s: %s", path, strerror(errno));
		return -1;
	}
	return 0;
}

int unix_socket_listen(const char *path, mode_t mode, int backlog, char *err)
{
	struct sockaddr_un addr;
	if (fill_address(&addr, path, err) < 0 || clear_stale_socket(path, err) < 0)
		return -1;
	int fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
	if (fd < 0) {
		snprintf(err, UNIX_SOCKET_ERR_LEN, "socket(): %s", strerror(errno));
		return -1;
	}
	/* Create the file with no access, then open it up: no window in which
	 * the socket exists with looser permissions than asked for. */
	mode_t old_mask = umask(0777);
	int rc = bind(fd, (struct sockaddr *)&addr, sizeof(addr));
	int bind_errno = errno;
	umask(old_mask);
	if (rc < 0) {
		snprintf(err, UNIX_SOCKET_ERR_LEN, "cannot bind %s: %s", path, strerror(bind_errno));
		close(fd);
		return -1;
	}
	if (chmod(path, mode) < 0 || listen(fd, backlog) < 0) {
		snprintf(err, UNIX_SOCKET_ERR_LEN, "cannot listen on %s: %s", path, strerror(errno));
		close(fd);
		unlink(path);
		return -1;
	}
	return fd;
}

void unix_socket_directory(const char *path, char *dir, size_t size)
{
	snprintf(dir, size, "%s", path);
	char *slash = strrchr(dir, '/');
	if (!slash)
		snprintf(dir, size, ".");
	else if (slash == dir)
		dir[1] = '\0';
	else
		*slash = '\0';
}

int unix_socket_check_path(const char *path, char *err)
{
	struct sockaddr_un addr;
	if (fill_address(&addr, path, err) < 0)
		return -1;
	char dir[sizeof(addr.sun_path) + 1];
	unix_socket_directory(path, dir, sizeof(dir));
	struct stat st;
	if (stat(dir, &st) < 0) {
		snprintf(err, UNIX_SOCKET_ERR_LEN, "socket directory %s: %s; create it or choose another --socket", dir,
			 strerror(errno));
		return -1;
	}
	if (!S_ISDIR(st.st_mode)) {
		snprintf(err, UNIX_SOCKET_ERR_LEN, "socket directory %s is not a directory; choose another --socket",
			 dir);
		return -1;
	}
	if (access(dir, W_OK | X_OK) < 0) {
		snprintf(err, UNIX_SOCKET_ERR_LEN,
			 "cannot create the socket in %s (%s): run the server as a user who may write there, or "
			 "choose another --socket",
			 dir, strerror(errno));
		return -1;
	}
	if ((st.st_mode & S_IWOTH) && !(st.st_mode & S_ISVTX)) {
		snprintf(err, UNIX_SOCKET_ERR_LEN,
			 "refusing socket directory %s: writable by everyone without the sticky bit, so "
			 "anyone could replace the socket (chmod o-w or +t it, or choose another --socket)",
			 dir);
		return -1;
	}
	if (st.st_uid != 0 && st.st_uid != geteuid()) {
		snprintf(err, UNIX_SOCKET_ERR_LEN,
			 "refusing socket directory %s: owned by uid %u, neither root nor us (uid %u)", dir,
			 (unsigned)st.st_uid, (unsigned)geteuid());
		return -1;
	}
	return 0;
}

int unix_socket_set_nonblocking(int fd)
{
	int flags = fcntl(fd, F_GETFL);
	if (flags < 0)
		return -1;
	return fcntl(fd, F_SETFL, flags | O_NONBLOCK);
}

int unix_socket_peer(int fd, pid_t *pid, uid_t *uid)
{
	struct ucred cred;
	socklen_t len = sizeof(cred);
	if (getsockopt(fd, SOL_SOCKET, SO_PEERCRED, &cred, &len) < 0)
		return -1;
	*pid = cred.pid;
	*uid = cred.uid;
	return 0;
}

int unix_socket_write_all(int fd, const void *buf, size_t len)
{
	const char *p = buf;
	while (len > 0) {
		ssize_t n = send(fd, p, len, MSG_NOSIGNAL);
		if (n < 0) {
			if (errno == EINTR)
				continue;
			return -1;
		}
		p += n;
		len -= (size_t)n;
	}
	return 0;
}

int unix_socket_send_fds(int fd, const void *buf, size_t len, const int *fds, int nfds)
{
	if (nfds < 1 || nfds > UNIX_SOCKET_MAX_FDS) {
		errno = EINVAL;
		return -1;
	}
	union {
		char buf[CMSG_SPACE(UNIX_SOCKET_MAX_FDS * sizeof(int))];
		struct cmsghdr align;
	} control;
	memset(&control, 0, sizeof(control));
	struct iovec iov = {.iov_base = (void *)buf, .iov_len = len};
	struct msghdr msg = {.msg_iov = &iov,
			     .msg_iovlen = 1,
			     .msg_control = control.buf,
			     .msg_controllen = CMSG_SPACE((size_t)nfds * sizeof(int))};
	struct cmsghdr *cmsg = CMSG_FIRSTHDR(&msg);
	cmsg->cmsg_level = SOL_SOCKET;
	cmsg->cmsg_type = SCM_RIGHTS;
	cmsg->cmsg_len = CMSG_LEN((size_t)nfds * sizeof(int));
	memcpy(CMSG_DATA(cmsg), fds, (size_t)nfds * sizeof(int));
	ssize_t n;
	do
		n = sendmsg(fd, &msg, MSG_NOSIGNAL);
	while (n < 0 && errno == EINTR);
	if (n < 0)
		return -1;
	/* the descriptors went with the first byte; the rest is plain data */
	return (size_t)n == len ? 0 : unix_socket_write_all(fd, (const char *)buf + n, len - (size_t)n);
}

int unix_socket_read_all(int fd, void *buf, size_t len)
{
	char *p = buf;
	while (len > 0) {
		ssize_t n = read(fd, p, len);
		if (n < 0) {
			if (errno == EINTR)
				continue;
			return -1;
		}
		if (n == 0) {
			errno = ECONNRESET;
			return -1;
		}
		p += n;
		len -= (size_t)n;
	}
	return 0;
}
