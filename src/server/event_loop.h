/*
 * event_loop.h - a small epoll event loop (in the manner of redis's ae.c).
 *
 * Callers embed a struct event_handle in their own objects (a connection, the
 * listener) and register it with a callback. The loop never owns memory: a
 * caller that frees an object while events for it may still be pending in
 * the current batch must defer the free (see event_loop_set_before_sleep).
 *
 * Timers (struct event_timer) are timerfds watched like any other handle, so
 * they fire from the same epoll_wait, on the same thread, between batches of
 * socket events: a timer callback may touch everything the loop's other
 * callbacks touch, without locks.
 */
#ifndef TTALLOC_EVENT_LOOP_H
#define TTALLOC_EVENT_LOOP_H

#include <stdint.h>

struct event_loop;
struct event_handle;

/* Called with the epoll event bits (EPOLLIN, EPOLLOUT, EPOLLHUP...). */
typedef void (*event_fn)(struct event_loop *loop, struct event_handle *handle, uint32_t events);

struct event_handle {
	int fd;
	event_fn fn;
	void *data;   /* the owner of the handle */
	int disabled; /* set when removed: pending events are skipped */
};

/* Called once per iteration before the loop waits. */
typedef void (*event_idle_fn)(struct event_loop *loop, void *data);

/* Creates a loop. Returns NULL (errno set) on failure. */
struct event_loop *event_loop_create(void);

/* Frees the loop (not the handles). */
void event_loop_destroy(struct event_loop *loop);

/* Watches handle->fd for `events` (EPOLLIN, EPOLLOUT...). Returns 0 or -1 (errno). */
int event_loop_add(struct event_loop *loop, struct event_handle *handle, uint32_t events);

/* Changes the watched events. Returns 0 or -1 (errno). */
int event_loop_modify(struct event_loop *loop, struct event_handle *handle, uint32_t events);

/* Stops watching; pending events in this iteration are skipped. */
void event_loop_remove(struct event_loop *loop, struct event_handle *handle);

/* Sets the function called before each wait (flush logs, free closed objects). */
void event_loop_set_before_sleep(struct event_loop *loop, event_idle_fn fn, void *data);

/*
 * Bounds the next wait to `ms` milliseconds (0: do not block; -1: until an
 * event). Applies to the next wait only; the before-sleep function calls it
 * to poll something that has no descriptor (the shared-memory rings).
 */
void event_loop_set_timeout(struct event_loop *loop, int ms);

/* Runs until event_loop_stop. Returns 0, or -1 when epoll fails. */
int event_loop_run(struct event_loop *loop);

/* Makes event_loop_run return after the current iteration. */
void event_loop_stop(struct event_loop *loop);

/* ---- timers ---- */

struct event_timer;

/* Called on the loop's thread when the timer expires (once per wake-up, however many expiries). */
typedef void (*event_timer_fn)(struct event_loop *loop, struct event_timer *timer);

/* A timer; embed it in its owner and find the owner through `data`. */
struct event_timer {
	struct event_handle handle; /* the timerfd; handle.fd < 0 before init */
	event_timer_fn fn;
	void *data;
};

#define EVENT_TIMER_INIT              \
	{                             \
		.handle = {.fd = -1 } \
	}

/*
 * Creates the timer's timerfd (CLOCK_MONOTONIC) and watches it, disarmed.
 * Returns 0 or -1 (errno).
 */
int event_timer_init(struct event_loop *loop, struct event_timer *timer, event_timer_fn fn, void *data);

/*
 * Arms the timer: first expiry after `delay_ns` (0 means as soon as the loop
 * next waits), then every `interval_ns` (0: once). Re-arming replaces the
 * previous setting. Returns 0 or -1 (errno).
 */
int event_timer_arm(struct event_timer *timer, uint64_t delay_ns, uint64_t interval_ns);

/* Disarms the timer; it stays watched and can be armed again. */
void event_timer_disarm(struct event_timer *timer);

/* Stops watching the timer and closes its fd; safe on a timer never initialised. */
void event_timer_release(struct event_loop *loop, struct event_timer *timer);

#endif /* TTALLOC_EVENT_LOOP_H */
