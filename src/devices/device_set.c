/*
 * device_set.c - what a backend calls while it opens devices and reads
 * their holders (device.h): adding a device to the set, paths under the
 * set's hardware root, adding a holder. Kept apart from device.c, which
 * picks and calls the backends, so the backends never call back into it.
 */
#include "devices/device.h"

#include <string.h>

#include "devices/hwfs.h"

struct device *device_set_add(struct device_set *set, const struct device_backend *backend)
{
	if (set->count >= PROTO_MAX_DEVICES)
		return NULL;
	struct device *dev = &set->devices[set->count];
	memset(dev, 0, sizeof(*dev));
	dev->backend = backend;
	dev->index = set->count++;
	dev->info.driver_index = -1;
	dev->info.chip = -1;
	set->backend_name = backend->name;
	return dev;
}

char *device_hw_path(const struct device_set *set, char *buf, size_t size, const char *path)
{
	return hwfs_join(buf, size, "%s%s", set->hw_root, path);
}

void device_holders_add(struct device_holders *h, int32_t pid, uint32_t flags, uint64_t memory)
{
	if (pid <= 0)
		return;
	for (int i = 0; i < h->count; i++) {
		struct device_process *p = &h->procs[i];
		if (p->pid != pid)
			continue;
		if (flags & DEVICE_PROC_MEMORY) {
			/* NVML lists a process once per context kind: add them up */
			p->memory = (p->flags & DEVICE_PROC_MEMORY) ? p->memory + memory : memory;
		}
		p->flags |= flags;
		return;
	}
	if (h->count >= DEVICE_MAX_PROCESSES) {
		h->truncated = 1;
		return;
	}
	struct device_process *p = &h->procs[h->count++];
	p->pid = pid;
	p->flags = flags;
	p->memory = (flags & DEVICE_PROC_MEMORY) ? memory : 0;
}
