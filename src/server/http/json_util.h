/*
 * json_util.h - the building blocks of every JSON document the server
 * writes (api_json.c, ttmetal_json.c), so each key is written one way:
 * bytes as integers, addresses as "0x..." strings (they do not fit a
 * JavaScript number), the seed's *_allocated totals from a buffer-type
 * array, users by name.
 */
#ifndef TTALLOC_HTTP_JSON_UTIL_H
#define TTALLOC_HTTP_JSON_UTIL_H

#include <jansson.h>
#include <stdint.h>
#include <sys/types.h>

#include "ttalloc.h"

/* An unsigned count as a JSON integer (json_int_t is signed: capped at INT64_MAX). */
json_t *json_util_uint(uint64_t v);

/* obj[key] = v, for the types above. */
void json_util_set_uint(json_t *obj, const char *key, uint64_t v);
void json_util_set_str(json_t *obj, const char *key, const char *v);
void json_util_set_hex(json_t *obj, const char *key, uint64_t v);

/*
 * The seed's four totals and ttalloc's three more, from a buffer-type
 * array: dram_allocated, l1_allocated, l1_small_allocated,
 * trace_allocated, cb_allocated, kernel_allocated, system_memory_allocated.
 */
void json_util_set_usage(json_t *obj, const uint64_t used[TTALLOC_BUFFER_TYPES]);

/*
 * A call stack as a JSON array of "function (file:line)" strings, innermost
 * first, from the text stacks_format writes ("<indent>at ...\n" lines);
 * null for NULL or "".
 */
json_t *json_util_stack(const char *text);

/*
 * A buffer as the diagnosis documents list it: pid, name (its process's),
 * device_id, address, size and type; the caller adds what else it knows.
 */
json_t *json_util_buffer(pid_t pid, const char *name, int device, uint64_t address, uint64_t size, unsigned type);

/* User name of a uid (cached: getpwuid may ask NSS once per uid; loop thread only); the number when unknown. */
const char *json_util_user_name(uid_t uid);

#endif /* TTALLOC_HTTP_JSON_UTIL_H */
