/*
 * systemd.h - the server's side of systemd (libsystemd's sd-daemon):
 * socket activation, readiness and stopping notifications, the watchdog.
 *
 * Socket activation: when systemd starts the server from
 * tt-allocation-server.socket it passes the listening socket as fd 3 with
 * LISTEN_FDS=1 and LISTEN_PID=<our pid>. The server then accepts on that
 * socket instead of creating its own, and leaves the socket file alone at
 * exit (systemd owns it and keeps listening, so clients that connect while
 * the server restarts wait in the backlog instead of failing).
 *
 * Notifications go to $NOTIFY_SOCKET (Type=notify): READY=1 once the server
 * accepts clients, STOPPING=1 when it shuts down, WATCHDOG=1 every half
 * $WATCHDOG_USEC from the event loop (WatchdogSec=), so a stuck loop gets the
 * service restarted. Without those variables every function here does
 * nothing: the server runs the same by hand, from a script or from systemd.
 */
#ifndef TTALLOC_SYSTEMD_H
#define TTALLOC_SYSTEMD_H

#include <stddef.h>

#include "server/event_loop.h"

/* State of the server's dealings with systemd; initialise with SYSTEMD_STATE_INIT. */
struct systemd_state {
	int activated;               /* the listening socket came from systemd */
	char socket_path[110];       /* its address: a path, or @name for an abstract socket */
	struct event_timer watchdog; /* WATCHDOG=1 every half WATCHDOG_USEC; fd < 0 when off */
};

#define SYSTEMD_STATE_INIT                   \
	{                                    \
		.watchdog = EVENT_TIMER_INIT \
	}

/*
 * Takes the listening socket systemd passed (LISTEN_FDS/LISTEN_PID, which are
 * then removed from the environment). Returns 1 with the socket in *fd (made
 * non-blocking and close-on-exec) and its address in sd->socket_path; 0 when
 * systemd passed nothing (the caller creates its own socket); -1 with the
 * reason in `err` (`err_len` bytes) when what was passed is not exactly one
 * listening Unix stream socket.
 */
int systemd_listen_fd(struct systemd_state *sd, int *fd, char *err, size_t err_len);

/*
 * 1 when systemd passes this process a socket (LISTEN_FDS/LISTEN_PID name
 * it), without taking it: the options check then leaves --socket alone.
 */
int systemd_passes_socket(void);

/*
 * Tells systemd the server is ready (READY=1, STATUS=`status`) and, when
 * WATCHDOG_USEC asks for it, starts the WATCHDOG=1 timer on `loop`.
 * Returns 0, or -1 when the watchdog timer cannot be created (after a
 * warning; the server goes on without it).
 */
int systemd_notify_ready(struct systemd_state *sd, struct event_loop *loop, const char *status);

/* Tells systemd the server is stopping (STOPPING=1) and stops the watchdog timer. */
void systemd_notify_stopping(struct systemd_state *sd, struct event_loop *loop);

#endif /* TTALLOC_SYSTEMD_H */
