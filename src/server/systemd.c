/*
 * systemd.c - socket activation, sd_notify readiness and the watchdog
 * (see systemd.h).
 */
#define _GNU_SOURCE
#include "server/systemd.h"

#include <errno.h>
#include <fcntl.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <systemd/sd-daemon.h>
#include <unistd.h>

#include "common/log.h"

/* Writes the address of the Unix socket fd ("/path" or "@abstract") into sd->socket_path. */
static void socket_address(struct systemd_state *sd, int fd)
{
	struct sockaddr_un addr;
	socklen_t len = sizeof(addr);
	memset(&addr, 0, sizeof(addr));
	snprintf(sd->socket_path, sizeof(sd->socket_path), "(fd %d from systemd)", fd);
	if (getsockname(fd, (struct sockaddr *)&addr, &len) < 0 || len <= offsetof(struct sockaddr_un, sun_path))
		return;
	size_t n = len - offsetof(struct sockaddr_un, sun_path);
	if (addr.sun_path[0] == '\0' && n > 1) /* abstract: systemd's ListenStream=@name */
		snprintf(sd->socket_path, sizeof(sd->socket_path), "@%.*s", (int)(n - 1), addr.sun_path + 1);
	else if (addr.sun_path[0])
		snprintf(sd->socket_path, sizeof(sd->socket_path), "%.*s", (int)strnlen(addr.sun_path, n),
			 addr.sun_path);
}

int systemd_passes_socket(void)
{
	return sd_listen_fds(0) > 0;
}

int systemd_listen_fd(struct systemd_state *sd, int *fd, char *err, size_t err_len)
{
	int n = sd_listen_fds(1);
	if (n == 0)
		return 0;
	if (n < 0) {
		snprintf(err, err_len, "bad socket activation variables (LISTEN_FDS, LISTEN_PID): %s", strerror(-n));
		return -1;
	}
	if (n != 1) {
		snprintf(err, err_len,
			 "systemd passed %d sockets (LISTEN_FDS=%d); expected one listening Unix stream socket "
			 "(a single ListenStream=/path in tt-allocation-server.socket)",
			 n, n);
		return -1;
	}
	int sfd = SD_LISTEN_FDS_START;
	if (sd_is_socket_unix(sfd, SOCK_STREAM, 1, NULL, 0) <= 0) {
		snprintf(err, err_len,
			 "the socket systemd passed (fd %d) is not a listening Unix stream socket; use "
			 "ListenStream=/path in tt-allocation-server.socket",
			 sfd);
		return -1;
	}
	int flags = fcntl(sfd, F_GETFL);
	if (flags < 0 || fcntl(sfd, F_SETFL, flags | O_NONBLOCK) < 0 || fcntl(sfd, F_SETFD, FD_CLOEXEC) < 0) {
		snprintf(err, err_len, "cannot set up the socket systemd passed (fd %d): %s", sfd, strerror(errno));
		return -1;
	}
	socket_address(sd, sfd);
	sd->activated = 1;
	*fd = sfd;
	return 1;
}

static void on_watchdog(struct event_loop *loop, struct event_timer *timer)
{
	(void)loop;
	(void)timer;
	sd_notify(0, "WATCHDOG=1");
}

int systemd_notify_ready(struct systemd_state *sd, struct event_loop *loop, const char *status)
{
	sd_notifyf(0, "READY=1\nSTATUS=%s", status);
	uint64_t usec = 0;
	if (sd_watchdog_enabled(0, &usec) <= 0 || usec == 0)
		return 0;
	/* ping at half the period, as sd_watchdog_enabled(3) recommends */
	uint64_t interval_ns = usec * 1000u / 2;
	if (event_timer_init(loop, &sd->watchdog, on_watchdog, sd) < 0 ||
	    event_timer_arm(&sd->watchdog, interval_ns, interval_ns) < 0) {
		log_warn("⚠️  cannot start the systemd watchdog timer: %s; systemd may restart the server",
			 strerror(errno));
		return -1;
	}
	sd_notify(0, "WATCHDOG=1");
	return 0;
}

void systemd_notify_stopping(struct systemd_state *sd, struct event_loop *loop)
{
	sd_notify(0, "STOPPING=1");
	event_timer_release(loop, &sd->watchdog);
}
