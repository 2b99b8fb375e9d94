/*
 * event_loop.h - a small epoll event loop (in the manner of redis's ae.c).
 *
 * Callers embed a struct event_handle in their own objects (a connection, the
 * listener) and register it with a callback. The loop never owns memory: a
 * caller that frees an object while events for it may still be pending in
 * the current batch must defer the free (see event_loop_set_before_sleep).
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
	void *data;    /* the owner of the handle */
	int disabled;  /* set when removed: pending events are skipped */
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

/* Runs until event_loop_stop. Returns 0, or -1 when epoll fails. */
int event_loop_run(struct event_loop *loop);

/* Makes event_loop_run return after the current iteration. */
void event_loop_stop(struct event_loop *loop);

#endif /* TTALLOC_EVENT_LOOP_H */
