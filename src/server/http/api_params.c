/*
 * api_params.c - what every diagnosis document shares (api_diag.h): its
 * result, its query parameters whatever the transport, pooled stacks.
 */
#include <errno.h>
#include <inttypes.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "server/http/api_diag.h"
#include "server/http/json_util.h"
#include "server/server.h"

int api_doc_fail(struct api_doc *doc, unsigned status, const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(doc->error, sizeof(doc->error), fmt, ap);
	va_end(ap);
	doc->status = status;
	return -1;
}

void api_doc_release(struct api_doc *doc)
{
	json_decref(doc->json);
	free(doc->text);
	doc->json = NULL;
	doc->text = NULL;
}

int api_param_uint(const struct api_params *p, const char *name, uint64_t max, uint64_t *out, struct api_doc *doc)
{
	const char *text = p->get(p->ctx, name);
	if (!text)
		return 0;
	char *end;
	errno = 0;
	unsigned long long v = strtoull(text, &end, 10);
	if (!*text || *end || text[0] == '-' || text[0] == '+' || errno || v > max)
		return api_doc_fail(doc, 400, "bad value '%.64s' for %s: expected an integer 0..%" PRIu64, text, name,
				    max);
	*out = v;
	return 1;
}

int api_param_device(struct server *s, const struct api_params *p, int *device, struct api_doc *doc)
{
	uint64_t v;
	int got = api_param_uint(p, "device", INT32_MAX, &v, doc);
	*device = -1;
	if (got < 0)
		return -1;
	if (got && v >= (uint64_t)s->state.devices.count)
		return api_doc_fail(doc, 400, "device %" PRIu64 " does not exist: devices are 0..%d", v,
				    s->state.devices.count - 1);
	if (got)
		*device = (int)v;
	return 0;
}

int api_param_pid(const struct api_params *p, pid_t *pid, struct api_doc *doc)
{
	uint64_t v;
	int got = api_param_uint(p, "pid", INT32_MAX, &v, doc);
	*pid = got > 0 ? (pid_t)v : 0;
	return got < 0 ? -1 : 0;
}

int api_param_type(const struct api_params *p, int *type, struct api_doc *doc)
{
	const char *text = p->get(p->ctx, "type");
	*type = -1;
	if (!text)
		return 0;
	for (unsigned t = 0; t < TTALLOC_BUFFER_TYPES; t++)
		if (strcasecmp(text, proto_buffer_type_name(t)) == 0)
			*type = (int)t;
	if (*type < 0)
		return api_doc_fail(
			doc, 400, "bad value '%.32s' for type: dram, l1, l1_small, trace, system_memory, cb or kernel",
			text);
	return 0;
}

void api_each_buffer(struct server *s, void (*fn)(struct process_record *rec, const struct live_buffer *b, void *ctx),
		     void *ctx)
{
	struct registry *r = &s->state.registry;
	REGISTRY_FOR_EACH_PROCESS (r, p) {
		struct process_record *rec = registry_process(r, p);
		REGISTRY_FOR_EACH_BUFFER (r, p, b) {
			const struct live_buffer *buf = registry_buffer(r, b);
			if (buf->kind == REGISTRY_KIND_BUFFER)
				fn(rec, buf, ctx);
		}
	}
}

json_t *api_stack_json(struct server *s, uint32_t pool_id)
{
	return json_util_stack(stack_pool_text(&s->state.stack_pool, pool_id));
}
