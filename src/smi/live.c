/*
 * live.c - the connection of tt_smi's live views, top, dmon and pmon
 * (top.h): opened when needed, replaced when it broke.
 */
#include <signal.h>
#include <sys/socket.h>
#include <sys/time.h>

#include "smi/top.h"

/* Bounds every later read and write, so a stuck server cannot hang the view. */
static void bound_waits(int fd)
{
	const struct timeval limit = {SMI_LIVE_TIMEOUT_MS / 1000, (SMI_LIVE_TIMEOUT_MS % 1000) * 1000};
	setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &limit, sizeof(limit));
	setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &limit, sizeof(limit));
}

int smi_live_snapshot(struct query_client *qc, const char *path, struct snapshot *snap, char *err)
{
	if (qc->fd >= 0 && snapshot_take(qc, snap, err) == 0)
		return 0;
	query_close(qc); /* never opened, or broken since: one fresh try */
	int rc = query_connect(qc, path, err);
	if (rc == 0) {
		bound_waits(qc->fd);
		rc = snapshot_take(qc, snap, err);
	}
	if (rc < 0)
		query_close(qc);
	return rc;
}

static volatile sig_atomic_t stop_signal;

static void on_stop(int sig)
{
	stop_signal = sig;
}

void smi_live_catch_signals(void)
{
	struct sigaction sa = {.sa_handler = on_stop}; /* no SA_RESTART: poll() returns EINTR */
	sigemptyset(&sa.sa_mask);
	sigaction(SIGINT, &sa, NULL);
	sigaction(SIGTERM, &sa, NULL);
	sigaction(SIGHUP, &sa, NULL);
}

int smi_live_stopped(void)
{
	return stop_signal;
}
