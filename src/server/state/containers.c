/*
 * containers.c - the cache of each process's container (containers.h).
 */
#include "server/state/containers.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/clock.h"

struct container_entry {
	pid_t pid;
	int known;        /* the process runs in a container */
	uint64_t read_ns; /* CLOCK_MONOTONIC of the last read */
	uint64_t used_ns; /* of the last question */
	struct container_info info;
};

void containers_init(struct container_cache *c, const char *root)
{
	memset(c, 0, sizeof(*c));
	snprintf(c->root, sizeof(c->root), "%s", root ? root : "");
}

void containers_release(struct container_cache *c)
{
	for (uint32_t i = 0; i < c->cap; i++)
		free(c->slots[i]);
	free(c->slots);
	c->slots = NULL;
	c->cap = c->count = 0;
}

static uint32_t home(const struct container_cache *c, pid_t pid)
{
	return ((uint32_t)pid * 2654435761u) & (c->cap - 1);
}

/* Puts `e` in the first empty slot of its probe sequence (the table has room). */
static void place(struct container_cache *c, struct container_entry *e)
{
	uint32_t i = home(c, e->pid);
	while (c->slots[i])
		i = (i + 1) & (c->cap - 1);
	c->slots[i] = e;
}

/* Rebuilds the table with `cap` slots, keeping the entries `keep` accepts. Returns 0 or -1. */
static int rebuild(struct container_cache *c, uint32_t cap, int (*keep)(const struct container_entry *, uint64_t),
		   uint64_t now)
{
	struct container_entry **old = c->slots;
	uint32_t old_cap = c->cap;
	struct container_entry **slots = calloc(cap, sizeof(*slots));
	if (!slots)
		return -1;
	c->slots = slots;
	c->cap = cap;
	c->count = 0;
	for (uint32_t i = 0; i < old_cap; i++) {
		if (!old[i])
			continue;
		if (keep && !keep(old[i], now)) {
			free(old[i]);
			continue;
		}
		place(c, old[i]);
		c->count++;
	}
	free(old);
	return 0;
}

static struct container_entry *find(const struct container_cache *c, pid_t pid)
{
	if (!c->cap)
		return NULL;
	for (uint32_t i = home(c, pid); c->slots[i]; i = (i + 1) & (c->cap - 1))
		if (c->slots[i]->pid == pid)
			return c->slots[i];
	return NULL;
}

/* A new entry for `pid`, or NULL when out of memory. */
static struct container_entry *add(struct container_cache *c, pid_t pid)
{
	if ((c->count + 1) * 2 > c->cap && rebuild(c, c->cap ? c->cap * 2 : 64, NULL, 0) < 0)
		return NULL;
	struct container_entry *e = calloc(1, sizeof(*e));
	if (!e)
		return NULL;
	e->pid = pid;
	place(c, e);
	c->count++;
	return e;
}

const struct container_info *containers_get(struct container_cache *c, pid_t pid)
{
	if (pid <= 0)
		return NULL;
	uint64_t now = clock_monotonic_ns();
	struct container_entry *e = find(c, pid);
	if (!e && !(e = add(c, pid)))
		return NULL;
	if (!e->read_ns || now - e->read_ns >= CONTAINERS_TTL_NS) {
		e->known = container_read(c->root, pid, &e->info);
		e->read_ns = now ? now : 1;
		c->reads++;
	}
	e->used_ns = now;
	return e->known ? &e->info : NULL;
}

static int recently_used(const struct container_entry *e, uint64_t now)
{
	return now - e->used_ns < CONTAINERS_IDLE_NS;
}

void containers_prune(struct container_cache *c)
{
	if (c->cap)
		rebuild(c, c->cap, recently_used, clock_monotonic_ns());
}
