/*
 * json_util.c - JSON building blocks (json_util.h).
 */
#include "server/http/json_util.h"

#include <inttypes.h>
#include <stdio.h>

#include "common/proc_info.h"
#include "model/model.h"
#include "server/state/stacks.h"

void json_util_set_uint(json_t *obj, const char *key, uint64_t v)
{
	json_object_set_new(obj, key, model_uint(v));
}

void json_util_set_str(json_t *obj, const char *key, const char *v)
{
	json_object_set_new(obj, key, json_string(v));
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
