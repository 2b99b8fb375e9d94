/*
 * registry_check.h - the registry's invariants (registry.h), checked by
 * walking every live buffer: for the unit tests and the fuzzer, never for
 * the server itself (it is O(buffers)).
 *
 *  - each device's totals equal the sum of its live buffers, per type;
 *  - each process's per-device usage equals the sum of its own buffers;
 *  - the registry's and the processes' buffer counts equal those sums;
 *  - every live buffer is in the index under its own (device, address) and
 *    the index holds nothing else.
 */
#ifndef TTALLOC_TEST_REGISTRY_CHECK_H
#define TTALLOC_TEST_REGISTRY_CHECK_H

#include <stdio.h>
#include <string.h>

#include "server/state/registry.h"

struct registry_check_owner {
	const struct registry *r;
	uint32_t buffer;
};

static inline int registry_check_is_buffer(uint32_t value, const void *ctx)
{
	const struct registry_check_owner *m = ctx;
	return value == m->buffer;
}

/* Returns 0, or -1 with what is wrong in `why` (at least 160 bytes). */
static inline int registry_check(const struct registry *r, char *why, size_t why_len)
{
	static struct device_totals sums[PROTO_MAX_DEVICES];
	memset(sums, 0, sizeof(sums));
	uint64_t live = 0, processes = 0;
	for (uint32_t p = 0; p < r->process_cap; p++) {
		const struct process_record *rec = &r->processes[p];
		if (!rec->in_use)
			continue;
		processes++;
		struct device_totals mine[PROTO_MAX_DEVICES];
		memset(mine, 0, sizeof(mine));
		uint64_t count = 0;
		uint32_t prev = REGISTRY_NONE;
		for (uint32_t b = rec->first_buffer; b != REGISTRY_NONE; b = r->buffers[b].owner_next) {
			const struct live_buffer *buf = &r->buffers[b];
			if (b >= r->buffer_cap || !buf->live || buf->owner != p || buf->owner_prev != prev) {
				snprintf(why, why_len, "pid %d: buffer record %u is not a live buffer of its list",
					 (int)rec->pid, b);
				return -1;
			}
			if (buf->device >= r->num_devices || buf->type >= TTALLOC_BUFFER_TYPES) {
				snprintf(why, why_len, "buffer %u: device %u type %u out of range", b, buf->device,
					 buf->type);
				return -1;
			}
			struct registry_check_owner m = {r, b};
			if (addr_index_find(&r->index, buf->device, buf->address, registry_check_is_buffer, &m) ==
			    ADDR_INDEX_NOT_FOUND) {
				snprintf(why, why_len, "buffer %u (device %u, 0x%llx) is not in the index", b,
					 buf->device, (unsigned long long)buf->address);
				return -1;
			}
			mine[buf->device].used[buf->type] += buf->size;
			mine[buf->device].buffers++;
			sums[buf->device].used[buf->type] += buf->size;
			sums[buf->device].buffers++;
			count++;
			prev = b;
		}
		if (count != rec->live_buffers) {
			snprintf(why, why_len, "pid %d: %llu buffers in its list, live_buffers says %llu",
				 (int)rec->pid, (unsigned long long)count, (unsigned long long)rec->live_buffers);
			return -1;
		}
		for (int d = 0; d < r->num_devices; d++) {
			const struct device_usage *u = NULL;
			for (uint32_t i = 0; i < rec->usage_count; i++)
				if (rec->usage[i].device == d)
					u = &rec->usage[i];
			uint64_t ub = u ? u->buffers : 0;
			if (ub != mine[d].buffers) {
				snprintf(why, why_len, "pid %d device %d: usage says %llu buffers, list has %llu",
					 (int)rec->pid, d, (unsigned long long)ub, (unsigned long long)mine[d].buffers);
				return -1;
			}
			for (int t = 0; t < TTALLOC_BUFFER_TYPES; t++) {
				uint64_t used = u ? u->used[t] : 0;
				if (used != mine[d].used[t]) {
					snprintf(why, why_len, "pid %d device %d type %d: usage %llu, buffers sum %llu",
						 (int)rec->pid, d, t, (unsigned long long)used,
						 (unsigned long long)mine[d].used[t]);
					return -1;
				}
			}
		}
		live += count;
	}
	if (processes != r->process_count) {
		snprintf(why, why_len, "%llu process records in use, process_count says %u",
			 (unsigned long long)processes, r->process_count);
		return -1;
	}
	if (live != r->live_buffers || live != r->index.count) {
		snprintf(why, why_len, "%llu buffers listed; registry says %llu, index holds %u",
			 (unsigned long long)live, (unsigned long long)r->live_buffers, r->index.count);
		return -1;
	}
	for (int d = 0; d < PROTO_MAX_DEVICES; d++) {
		if (memcmp(&sums[d], &r->devices[d], sizeof(sums[d])) != 0) {
			snprintf(why, why_len, "device %d: totals differ from the sum of its live buffers", d);
			return -1;
		}
	}
	return 0;
}

#endif /* TTALLOC_TEST_REGISTRY_CHECK_H */
