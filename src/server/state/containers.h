/*
 * containers.h - the server's cache of which container and Kubernetes pod
 * each process runs in (common/container.h reads it from
 * /proc/PID/cgroup and the kubelet's /var/log/pods, under --hw-root).
 *
 * Every view that shows a process's container (/api/processes, the
 * IDENTITY rows tt_smi reads, /metrics with --metrics-labels) asks here;
 * a process's files are read when it is first asked about and again when
 * the answer is CONTAINERS_TTL_NS old (a pid reused by a process in another
 * container is seen within that time). containers_prune, on the history
 * timer, drops what nobody asked about for CONTAINERS_IDLE_NS.
 * Threading: the loop thread only.
 */
#ifndef TTALLOC_STATE_CONTAINERS_H
#define TTALLOC_STATE_CONTAINERS_H

#include <stdint.h>
#include <sys/types.h>

#include "common/container.h"
#include "devices/device.h"

#define CONTAINERS_TTL_NS (30ull * 1000000000ull)
#define CONTAINERS_IDLE_NS (60ull * 1000000000ull)

struct container_entry;

struct container_cache {
	char root[DEVICE_PATH_MAX];     /* hardware root ("" for /) */
	struct container_entry **slots; /* open addressing by pid; NULL: empty */
	uint32_t cap;                   /* power of two, or 0 */
	uint32_t count;
	uint64_t reads; /* cgroup files read since start-up */
};

/* An empty cache reading under `root` ("" or NULL: /). */
void containers_init(struct container_cache *c, const char *root);

/* Frees every entry. */
void containers_release(struct container_cache *c);

/*
 * The container `pid` runs in, or NULL when it runs in none (or its cgroup
 * file cannot be read, or out of memory). The pointer is valid until the
 * next containers_get or containers_prune.
 */
const struct container_info *containers_get(struct container_cache *c, pid_t pid);

/* Drops the entries nobody asked about for CONTAINERS_IDLE_NS. */
void containers_prune(struct container_cache *c);

#endif /* TTALLOC_STATE_CONTAINERS_H */
