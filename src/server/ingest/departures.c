/*
 * departures.c - waiting for the exit of processes that lost their
 * connection while running (departures.h).
 */
#define _GNU_SOURCE
#include "server/ingest/departures.h"

#include <errno.h>
#include <poll.h>
#include <stdlib.h>
#include <sys/epoll.h>
#include <sys/syscall.h>
#include <unistd.h>

#include "common/log.h"
#include "server/state/leaks.h"

struct departure {
	struct event_handle handle; /* the process's pidfd: readable once it exited */
	struct departures *set;
	pid_t pid;
	struct departure *prev, *next;
};

void departures_init(struct departures *d, struct event_loop *loop, struct state *st)
{
	d->loop = loop;
	d->state = st;
	d->watched = NULL;
	d->count = 0;
}

/* A pidfd of `pid`, or -1 (no such process, or no pidfd_open: kernels before 5.3, some sandboxes). */
static int open_pidfd(pid_t pid)
{
#ifdef SYS_pidfd_open
	return (int)syscall(SYS_pidfd_open, pid, 0);
#else
	(void)pid;
	errno = ENOSYS;
	return -1;
#endif
}

static void forget(struct departure *dep)
{
	struct departures *d = dep->set;
	event_loop_remove(d->loop, &dep->handle);
	close(dep->handle.fd);
	if (dep->prev)
		dep->prev->next = dep->next;
	else
		d->watched = dep->next;
	if (dep->next)
		dep->next->prev = dep->prev;
	d->count--;
	free(dep); /* from its own callback: the loop does not look at it again */
}

/* The process exited: its leak report, unless it connected again meanwhile. */
static void on_exit_seen(struct event_loop *loop, struct event_handle *handle, uint32_t events)
{
	(void)loop;
	(void)events;
	struct departure *dep = handle->data;
	struct state *st = dep->set->state;
	uint32_t proc = registry_find_pid(&st->registry, dep->pid);
	pid_t pid = dep->pid;
	forget(dep);
	if (proc != REGISTRY_NONE && registry_process(&st->registry, proc)->connections == 0) {
		log_info("📤 Process %d exited after losing its connection", (int)pid);
		leak_process_exit(st, proc);
	}
}

int departures_watch(struct departures *d, pid_t pid)
{
	for (struct departure *dep = d->watched; dep; dep = dep->next)
		if (dep->pid == pid)
			return 1; /* watched since an earlier connection ended */
	int fd = open_pidfd(pid);
	if (fd < 0)
		return 0;
	struct pollfd p = {.fd = fd, .events = POLLIN};
	struct departure *dep = NULL;
	if (poll(&p, 1, 0) != 0 || !(dep = calloc(1, sizeof(*dep)))) {
		close(fd); /* exited already (or no memory to wait for it) */
		return 0;
	}
	dep->handle = (struct event_handle){.fd = fd, .fn = on_exit_seen, .data = dep};
	dep->set = d;
	dep->pid = pid;
	if (event_loop_add(d->loop, &dep->handle, EPOLLIN) < 0) {
		close(fd);
		free(dep);
		return 0;
	}
	dep->next = d->watched;
	if (d->watched)
		d->watched->prev = dep;
	d->watched = dep;
	d->count++;
	return 1;
}

void departures_release(struct departures *d)
{
	while (d->watched)
		forget(d->watched);
}
