/*
 * event_loop.c - epoll-based event loop (see event_loop.h).
 */
#include "event_loop.h"

#include <errno.h>
#include <stdlib.h>
#include <sys/epoll.h>
#include <unistd.h>

#define EVENTS_PER_WAIT 256

struct event_loop {
	int epfd;
	int stopped;
	event_idle_fn before_sleep;
	void *before_sleep_data;
	struct epoll_event events[EVENTS_PER_WAIT];
};

struct event_loop *event_loop_create(void)
{
	struct event_loop *loop = calloc(1, sizeof(*loop));
	if (!loop)
		return NULL;
	loop->epfd = epoll_create1(EPOLL_CLOEXEC);
	if (loop->epfd < 0) {
		free(loop);
		return NULL;
	}
	return loop;
}

void event_loop_destroy(struct event_loop *loop)
{
	if (!loop)
		return;
	close(loop->epfd);
	free(loop);
}

static int control(struct event_loop *loop, int op, struct event_handle *handle, uint32_t events)
{
	struct epoll_event ev = {.events = events, .data.ptr = handle};
	return epoll_ctl(loop->epfd, op, handle->fd, &ev);
}

int event_loop_add(struct event_loop *loop, struct event_handle *handle, uint32_t events)
{
	handle->disabled = 0;
	return control(loop, EPOLL_CTL_ADD, handle, events);
}

int event_loop_modify(struct event_loop *loop, struct event_handle *handle, uint32_t events)
{
	return control(loop, EPOLL_CTL_MOD, handle, events);
}

void event_loop_remove(struct event_loop *loop, struct event_handle *handle)
{
	handle->disabled = 1;
	epoll_ctl(loop->epfd, EPOLL_CTL_DEL, handle->fd, NULL);
}

void event_loop_set_before_sleep(struct event_loop *loop, event_idle_fn fn, void *data)
{
	loop->before_sleep = fn;
	loop->before_sleep_data = data;
}

int event_loop_run(struct event_loop *loop)
{
	loop->stopped = 0;
	while (!loop->stopped) {
		if (loop->before_sleep)
			loop->before_sleep(loop, loop->before_sleep_data);
		int n = epoll_wait(loop->epfd, loop->events, EVENTS_PER_WAIT, -1);
		if (n < 0) {
			if (errno == EINTR)
				continue;
			return -1;
		}
		for (int i = 0; i < n; i++) {
			struct event_handle *handle = loop->events[i].data.ptr;
			if (!handle->disabled)
				handle->fn(loop, handle, loop->events[i].events);
		}
	}
	if (loop->before_sleep)
		loop->before_sleep(loop, loop->before_sleep_data);
	return 0;
}

void event_loop_stop(struct event_loop *loop)
{
	loop->stopped = 1;
}
