/*
 * dispatch.h - a frame to its handler, by PROTO_MESSAGE_MAP (one table for
 * names, directions, handlers and the drain rule).
 */
#ifndef TTALLOC_INGEST_DISPATCH_H
#define TTALLOC_INGEST_DISPATCH_H

#include "common/protocol.h"
#include "server/ingest/client.h"

/*
 * Counts the frame, drains every ring first when the type reads the
 * registry (so the answer includes every event reported before it) and
 * calls the type's handler; an unknown type is counted and logged, and the
 * connection stays (frames have a fixed length: the stream stays in step).
 */
void dispatch_frame(struct client *cl, const struct proto_msg *msg);

#endif /* TTALLOC_INGEST_DISPATCH_H */
