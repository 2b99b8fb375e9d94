/*
 * event_loop.c - epoll-based event loop (see event_loop.h).
 */
#include "server/event_loop.h"

#include <errno.h>
#include <stdlib.h>
#include <sys/epoll.h>
#include <sys/timerfd.h>
#include <unistd.h>

#define EVENTS_PER_WAIT 256

struct event_loop {
	int epfd;
	int stopped;
	int next_timeout_ms; /* the next wait's bound (event_loop_set_timeout), -1: none */
	event_idle_fn before_sleep;
	void *before_sleep_data;
	struct epoll_event events[EVENTS_PER_WAIT];
};

struct event_loop *event_loop_create(void)
{
	struct event_loop *loop = calloc(1, sizeof(*loop));
	if (!loop)
		return NULL;
	loop->next_timeout_ms = -1;
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
		int timeout = loop->next_timeout_ms;
		loop->next_timeout_ms = -1;
		int n = epoll_wait(loop->epfd, loop->events, EVENTS_PER_WAIT, timeout);
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

void event_loop_set_timeout(struct event_loop *loop, int ms)
{
	loop->next_timeout_ms = ms;
}

void event_loop_stop(struct event_loop *loop)
{
	loop->stopped = 1;
}

/* ---- timers ---- */

static void on_timer(struct event_loop *loop, struct event_handle *handle, uint32_t events)
{
	(void)events;
	struct event_timer *timer = handle->data;
	uint64_t expiries;
	/* Reading resets the readiness; EAGAIN means a re-arm raced the expiry. */
	if (read(handle->fd, &expiries, sizeof(expiries)) != (ssize_t)sizeof(expiries))
		return;
	timer->fn(loop, timer);
}

int event_timer_init(struct event_loop *loop, struct event_timer *timer, event_timer_fn fn, void *data)
{
	int fd = timerfd_create(CLOCK_MONOTONIC, TFD_NONBLOCK | TFD_CLOEXEC);
	if (fd < 0)
		return -1;
	timer->fn = fn;
	timer->data = data;
	timer->handle = (struct event_handle){.fd = fd, .fn = on_timer, .data = timer};
	if (event_loop_add(loop, &timer->handle, EPOLLIN) < 0) {
		int saved = errno;
		close(fd);
		timer->handle.fd = -1;
		errno = saved;
		return -1;
	}
	return 0;
}

static struct timespec to_timespec(uint64_t ns)
{
	return (struct timespec){.tv_sec = (time_t)(ns / 1000000000u), .tv_nsec = (long)(ns % 1000000000u)};
}

int event_timer_arm(struct event_timer *timer, uint64_t delay_ns, uint64_t interval_ns)
{
	/* An all-zero it_value would disarm: "now" is the smallest non-zero delay. */
	struct itimerspec spec = {.it_value = to_timespec(delay_ns ? delay_ns : 1),
				  .it_interval = to_timespec(interval_ns)};
	return timerfd_settime(timer->handle.fd, 0, &spec, NULL);
}

void event_timer_disarm(struct event_timer *timer)
{
	struct itimerspec spec = {{0, 0}, {0, 0}};
	if (timer->handle.fd >= 0)
		timerfd_settime(timer->handle.fd, 0, &spec, NULL);
}

void event_timer_release(struct event_loop *loop, struct event_timer *timer)
{
	if (timer->handle.fd < 0)
		return;
	event_loop_remove(loop, &timer->handle);
	close(timer->handle.fd);
	timer->handle.fd = -1;
}
