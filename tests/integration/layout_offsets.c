/*
 * layout_offsets.c - prints the C layout of struct proto_msg, one
 * "group field offset size" line per field, for test_protocol_layout.py.
 */
#include <stdio.h>

#include "common/protocol.h"

#define FIELD(group, member, name)                                                 \
	printf("%s %s %zu %zu\n", group, name, offsetof(struct proto_msg, member), \
	       sizeof(((struct proto_msg *)0)->member))

int main(void)
{
	printf("frame size %zu %zu\n", sizeof(struct proto_msg), sizeof(struct proto_msg));
	FIELD("header", type, "type");
	FIELD("header", device_id, "device_id");
	FIELD("header", size, "size");
	FIELD("header", buffer_type, "buffer_type");
	FIELD("header", process_id, "process_id");
	FIELD("header", buffer_id, "buffer_id");
	FIELD("header", timestamp, "timestamp");

	FIELD("seed", u.seed.dram_allocated, "dram_allocated");
	FIELD("seed", u.seed.l1_allocated, "l1_allocated");
	FIELD("seed", u.seed.l1_small_allocated, "l1_small_allocated");
	FIELD("seed", u.seed.trace_allocated, "trace_allocated");
	FIELD("seed", u.seed.total_dram_size, "total_dram_size");
	FIELD("seed", u.seed.total_l1_size, "total_l1_size");
	FIELD("seed", u.seed.arch_type, "arch_type");
	FIELD("seed", u.seed.num_dram_channels, "num_dram_channels");
	FIELD("seed", u.seed.dram_size_per_channel, "dram_size_per_channel");
	FIELD("seed", u.seed.l1_size_per_core, "l1_size_per_core");
	FIELD("seed", u.seed.is_available, "is_available");
	FIELD("seed", u.seed.num_devices, "num_devices");

	FIELD("status", u.status.temperature_mc, "temperature_mc");
	FIELD("status", u.status.power_mw, "power_mw");
	FIELD("status", u.status.utilization, "utilization");
	FIELD("status", u.status.valid, "valid");
	FIELD("status", u.status.live_buffers, "live_buffers");
	FIELD("status", u.status.processes, "processes");
	FIELD("status", u.status.backend_flags, "backend_flags");
	FIELD("status", u.status.cb_allocated, "cb_allocated");
	FIELD("status", u.status.system_memory, "system_memory");
	FIELD("status", u.status.name, "name");

	FIELD("process", u.process.used, "used");
	FIELD("process", u.process.system_memory, "system_memory");
	FIELD("process", u.process.cb, "cb");
	FIELD("process", u.process.uid, "uid");
	FIELD("process", u.process.flags, "flags");
	FIELD("process", u.process.comm, "comm");

	FIELD("error", u.error.code, "code");
	FIELD("error", u.error.reason, "reason");
	FIELD("error", u.error.message, "message");

	FIELD("hello", u.hello.version, "version");
	FIELD("hello", u.hello.features, "features");
	FIELD("hello", u.hello.num_devices, "num_devices");
	FIELD("hello", u.hello.server_pid, "server_pid");
	FIELD("hello", u.hello.session, "session");
	FIELD("hello", u.hello.instance, "instance");
	FIELD("hello", u.hello.epoch, "epoch");
	FIELD("hello", u.hello.log_level, "log_level");
	FIELD("hello", u.hello.http_state, "http_state");
	FIELD("hello", u.hello.http_port, "http_port");
	FIELD("hello", u.hello.server_release, "server_release");
	FIELD("hello", u.hello.reserved, "reserved");

	FIELD("filter", u.filter.session, "session");
	FIELD("filter", u.filter.reserved, "reserved");
	FIELD("alloc", u.alloc.stack_id, "stack_id");
	FIELD("alloc", u.alloc.flags, "flags");
	FIELD("alloc", u.alloc.reserved, "reserved");
	FIELD("stack", u.stack.ips, "ips");
	FIELD("text", u.text.text, "text");
	FIELD("holder", u.holder.memory, "memory");
	FIELD("holder", u.holder.state, "state");
	FIELD("holder", u.holder.flags, "flags");
	FIELD("holder", u.holder.uid, "uid");
	FIELD("holder", u.holder.comm, "comm");
	FIELD("holder", u.holder.reserved, "reserved");
	FIELD("ring", u.ring.version, "version");
	FIELD("ring", u.ring.lanes, "lanes");
	FIELD("ring", u.ring.lane_events, "lane_events");
	FIELD("ring", u.ring.shards, "shards");
	FIELD("ring", u.ring.event_size, "event_size");
	FIELD("ring", u.ring.reserved0, "reserved0");
	FIELD("ring", u.ring.region_size, "region_size");
	FIELD("ring", u.ring.reserved, "reserved");
	FIELD("history", u.history.used, "used");
	FIELD("history", u.history.time_ms, "time_ms");
	FIELD("history", u.history.seconds, "seconds");
	FIELD("history", u.history.points, "points");
	FIELD("history", u.history.index, "index");
	FIELD("history", u.history.step_ms, "step_ms");
	FIELD("history", u.history.interval_ms, "interval_ms");
	FIELD("history", u.history.flags, "flags");
	FIELD("history", u.history.reserved, "reserved");

	/* upstream tt-metal's 144-byte frame (struct proto_upstream_msg) */
#define UFIELD(member)                                                                        \
	printf("upstream %s %zu %zu\n", #member, offsetof(struct proto_upstream_msg, member), \
	       sizeof(((struct proto_upstream_msg *)0)->member))
	UFIELD(type);
	UFIELD(device_id);
	UFIELD(size);
	UFIELD(buffer_type);
	UFIELD(process_id);
	UFIELD(buffer_id);
	UFIELD(timestamp);
	UFIELD(dram_allocated);
	UFIELD(l1_allocated);
	UFIELD(l1_small_allocated);
	UFIELD(trace_allocated);
	UFIELD(cb_allocated);
	UFIELD(kernel_allocated);
	UFIELD(total_dram_size);
	UFIELD(total_l1_size);
	UFIELD(arch_type);
	UFIELD(num_dram_channels);
	UFIELD(dram_size_per_channel);
	UFIELD(l1_size_per_core);
	UFIELD(is_available);
	UFIELD(num_devices);
	UFIELD(ringbuffer_total_size);
	UFIELD(ringbuffer_used_bytes);
	UFIELD(ringbuffer_num_programs);
	UFIELD(pad3);

	/* enum values the Python module mirrors */
#define CONST(name) printf("const %s %d 0\n", #name, (int)(name))
	CONST(PROTO_ALLOC);
	CONST(PROTO_FREE);
	CONST(PROTO_QUERY);
	CONST(PROTO_RESPONSE);
	CONST(PROTO_DUMP_REMAINING);
	CONST(PROTO_DEVICE_INFO_QUERY);
	CONST(PROTO_DEVICE_INFO_RESPONSE);
	CONST(PROTO_HELLO);
	CONST(PROTO_HELLO_ACK);
	CONST(PROTO_SYNC);
	CONST(PROTO_SYNC_ACK);
	CONST(PROTO_DEVICE_STATUS_QUERY);
	CONST(PROTO_DEVICE_STATUS);
	CONST(PROTO_PROCESS_QUERY);
	CONST(PROTO_PROCESS_ROW);
	CONST(PROTO_LEAK_QUERY);
	CONST(PROTO_LEAK_ROW);
	CONST(PROTO_ROWS_END);
	CONST(PROTO_ERROR);
	CONST(TTALLOC_DRAM);
	CONST(TTALLOC_L1);
	CONST(TTALLOC_SYSTEM_MEMORY);
	CONST(TTALLOC_L1_SMALL);
	CONST(TTALLOC_TRACE);
	CONST(TTALLOC_CB);
	CONST(TTALLOC_KERNEL);
	CONST(PROTO_CB_ALLOC);
	CONST(PROTO_CB_FREE);
	CONST(PROTO_KERNEL_LOAD);
	CONST(PROTO_KERNEL_UNLOAD);
	CONST(PROTO_DUMP_KERNELS);
	CONST(PROTO_UPSTREAM_MSG_SIZE);
	CONST(PROTO_MAX_FRAME_SIZE);
	CONST(PROTO_PROCESS_SHM);
	CONST(PROTO_PROCESS_STALE);
	printf("const PROTO_UID_UNKNOWN %u 0\n", PROTO_UID_UNKNOWN);
	CONST(TTALLOC_BUFFER_TYPES);
	CONST(PROTO_MSG_SIZE);
	CONST(PROTO_EXT_VERSION);
	CONST(PROTO_MAX_DEVICES);
	CONST(PROTO_ARCH_WORMHOLE_B0);
	CONST(PROTO_STATUS_TEMPERATURE);
	CONST(PROTO_STATUS_POWER);
	CONST(PROTO_STATUS_UTILIZATION);
	CONST(PROTO_PROCESS_EXITED);
	CONST(PROTO_ERR_COUNT);
	CONST(PROTO_ERR_BAD_DEVICE);
	CONST(PROTO_ERR_LIMIT);
	CONST(PROTO_ERR_BAD_RING);
	CONST(PROTO_FEATURE_RING);
	CONST(PROTO_RING_ATTACH);
	CONST(PROTO_RING_ACK);
	CONST(PROTO_SESSION_LEN);
	CONST(PROTO_HOLDER_QUERY);
	CONST(PROTO_HOLDER_ROW);
	CONST(PROTO_HISTORY_QUERY);
	CONST(PROTO_HISTORY_ROW);
	CONST(PROTO_FEATURE_HOLDERS);
	CONST(PROTO_FEATURE_HISTORY);
	CONST(PROTO_HOLDER_TRACKED);
	CONST(PROTO_HOLDER_UNTRACKED);
	CONST(PROTO_HOLDER_VANISHED);
	CONST(PROTO_HOLDER_DRIVER);
	CONST(PROTO_HOLDER_FD);
	CONST(PROTO_HOLDER_MEMORY);
	CONST(PROTO_HOLDER_UID);
	CONST(PROTO_HISTORY_MAX_POINTS);
	CONST(PROTO_HISTORY_DEFAULT_POINTS);
	CONST(PROTO_HISTORY_VALID);
	CONST(PROTO_BUFFER_QUERY);
	CONST(PROTO_BUFFER_ROW);
	CONST(PROTO_FEATURE_BUFFERS);
	CONST(PROTO_BUFFER_WITH_STACKS);
	CONST(PROTO_BUFFER_DEFAULT_ROWS);
	CONST(PROTO_BUFFER_MAX_ROWS);
	CONST(PROTO_ALLOC_FAILED);
	CONST(PROTO_MARK);
	CONST(PROTO_STACK_TEXT);
	CONST(PROTO_DOC_QUERY);
	CONST(PROTO_DOC_CHUNK);
	CONST(PROTO_ALLOC_RESYNC);
	CONST(PROTO_TEXT_MAX);
	CONST(PROTO_FEATURE_DIAG);
	CONST(PROTO_ERR_BAD_TEXT);
	printf("const PROTO_MAX_REQUEST %llu 0\n", (unsigned long long)PROTO_MAX_REQUEST);
	CONST(PROTO_IDENTITY_QUERY);
	CONST(PROTO_IDENTITY_ROW);
	CONST(PROTO_FEATURE_IDENTITY);
	CONST(PROTO_IDENTITY_FIELDS);
	CONST(PROTO_IDENTITY_POD);
	CONST(PROTO_IDENTITY_PIECE);
	return 0;
}
