/*
 * dispatch.c - the frame dispatcher (dispatch.h): PROTO_MESSAGE_MAP
 * expanded into a table of 256 rows, one per type byte.
 */
#include "server/ingest/dispatch.h"

#include "server/ingest/handlers.h"

struct dispatch_row {
	void (*handler)(struct client *cl, const struct proto_msg *msg);
	int reads_registry;
};

static const struct dispatch_row rows[256] = {
#define DISPATCH_ROW_(name, code, handler, direction, reads) [code] = {on_##handler, reads},
	PROTO_MESSAGE_MAP(DISPATCH_ROW_)
#undef DISPATCH_ROW_
};

void dispatch_frame(struct client *cl, const struct proto_msg *msg)
{
	struct ingest *in = cl->ingest;
	const struct dispatch_row *row = &rows[msg->type];
	in->stats.frames[msg->type]++;
	if (!row->handler) {
		client_error(cl, PROTO_ERR_UNKNOWN_TYPE, "type %u (first bytes %02x %02x %02x %02x)", msg->type,
			     ((const uint8_t *)msg)[0], ((const uint8_t *)msg)[1], ((const uint8_t *)msg)[2],
			     ((const uint8_t *)msg)[3]);
		return;
	}
	if (row->reads_registry)
		rings_drain_all(&in->rings);
	row->handler(cl, msg);
}
