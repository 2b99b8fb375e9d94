/*
 * json_util.h - the server's building blocks of its JSON documents, on top
 * of the data model's writers (model/model.h: usage totals, addresses,
 * devices, processes, buffers): unsigned numbers, stacks, users by name.
 */
#ifndef TTALLOC_HTTP_JSON_UTIL_H
#define TTALLOC_HTTP_JSON_UTIL_H

#include <jansson.h>
#include <stdint.h>
#include <sys/types.h>

#include "ttalloc.h"

/* obj[key] = v: an unsigned number (model_uint) or a string. */
void json_util_set_uint(json_t *obj, const char *key, uint64_t v);
void json_util_set_str(json_t *obj, const char *key, const char *v);

/*
 * A call stack as a JSON array of "function (file:line)" strings, innermost
 * first, from the text stacks_format writes ("<indent>at ...\n" lines);
 * null for NULL or "".
 */
json_t *json_util_stack(const char *text);

/* User name of a uid (cached: getpwuid may ask NSS once per uid; loop thread only); the number when unknown. */
const char *json_util_user_name(uid_t uid);

#endif /* TTALLOC_HTTP_JSON_UTIL_H */
