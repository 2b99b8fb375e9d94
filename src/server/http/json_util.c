/*
 * json_util.c - JSON building blocks (json_util.h).
 */
#include "server/http/json_util.h"

#include <inttypes.h>
#include <stdio.h>

#include "common/proc_info.h"
#include "common/protocol.h"
#include "server/state/stacks.h"

json_t *json_util_uint(uint64_t v)
{
	return json_integer((json_int_t)(v > INT64_MAX ? INT64_MAX : v));
}

void json_util_set_uint(json_t *obj, const char *key, uint64_t v)
{
	json_object_set_new(obj, key, json_util_uint(v));
}

void json_util_set_str(json_t *obj, const char *key, const char *v)
{
	json_object_set_new(obj, key, json_string(v));
}

void json_util_set_hex(json_t *obj, const char *key, uint64_t v)
{
	char text[24];
	snprintf(text, sizeof(text), "0x%" PRIx64, v);
	json_util_set_str(obj, key, text);
}

void json_util_set_usage(json_t *obj, const uint64_t used[TTALLOC_BUFFER_TYPES])
{
	json_util_set_uint(obj, "dram_allocated", used[TTALLOC_DRAM]);
	json_util_set_uint(obj, "l1_allocated", used[TTALLOC_L1]);
	json_util_set_uint(obj, "l1_small_allocated", used[TTALLOC_L1_SMALL]);
	json_util_set_uint(obj, "trace_allocated", used[TTALLOC_TRACE]);
	json_util_set_uint(obj, "cb_allocated", used[TTALLOC_CB]);
	json_util_set_uint(obj, "kernel_allocated", used[TTALLOC_KERNEL]);
	json_util_set_uint(obj, "system_memory_allocated", used[TTALLOC_SYSTEM_MEMORY]);
}

const char *json_util_user_name(uid_t uid)
{
	static struct {
		uid_t uid;
		int used;
		char name[32];
	} cache[32];
	static unsigned next;
	for (unsigned i = 0; i < sizeof(cache) / sizeof(cache[0]); i++)
		if (cache[i].used && cache[i].uid == uid)
			return cache[i].name;
	unsigned i = next++ % (sizeof(cache) / sizeof(cache[0]));
	cache[i].uid = uid;
	cache[i].used = 1;
	proc_user_name(uid, cache[i].name, sizeof(cache[i].name));
	return cache[i].name;
}

json_t *json_util_buffer(pid_t pid, const char *name, int device, uint64_t address, uint64_t size, unsigned type)
{
	json_t *o = json_object();
	json_object_set_new(o, "pid", json_integer(pid));
	json_util_set_str(o, "name", name);
	json_object_set_new(o, "device_id", json_integer(device));
	json_util_set_hex(o, "address", address);
	json_util_set_uint(o, "size", size);
	json_util_set_str(o, "type", proto_buffer_type_name(type));
	return o;
}

static void append_frame(const char *frame, size_t len, void *ctx)
{
	json_array_append_new(ctx, json_stringn(frame, len));
}

json_t *json_util_stack(const char *text)
{
	if (!text || !*text)
		return json_null();
	json_t *frames = json_array();
	stacks_each_frame(text, append_frame, frames);
	return frames;
}
