/*
 * handlers.h - what each message type does on the server: one function
 * per request type, named by PROTO_MESSAGE_MAP's handler column
 * (on_<handler>), which dispatch.c turns into its table.
 *
 *   events.c    ALLOC, FREE, CB_*, KERNEL_*, STACK_DEF: reports that
 *               change the registry, never answered
 *   queries.c   QUERY, DEVICE_INFO_QUERY, DEVICE_STATUS_QUERY,
 *               PROCESS_QUERY, LEAK_QUERY, HOLDER_QUERY, HISTORY_QUERY,
 *               DUMP_REMAINING, DUMP_KERNELS: answers from the picture
 *   buffer_query.c  BUFFER_QUERY: one process's live buffers
 *   control.c   HELLO, SYNC, RING_ATTACH: the session itself
 *   diag.c      ALLOC_FAILED, MARK, STACK_TEXT, DOC_QUERY, and the
 *               misuse events.c finds: diagnosis (docs/DESIGN.md)
 *   identity.c  IDENTITY_QUERY: the host, device identities, containers
 *
 * Handlers run on the loop thread, may send answers (client_send) and
 * never need to check whether their connection is still open
 * (connection.h: closing waits until the handler returns).
 */
#ifndef TTALLOC_INGEST_HANDLERS_H
#define TTALLOC_INGEST_HANDLERS_H

#include <stdint.h>

#include "common/protocol.h"
#include "server/ingest/client.h"

/*
 * Per-event lines ("[Device 0] ALLOC: ...") printed per second. The seed's
 * server prints every event; at the ring's millions of events a second that
 * would make printing the bottleneck, so beyond this budget lines are
 * counted and summed up once a second (dispatch.c).
 */
#define EVENT_LINES_PER_SECOND 10000

/* on_<handler> of every row of PROTO_MESSAGE_MAP (answers share on_answer). */
#define HANDLERS_DECLARE_(name, code, handler, direction, reads) \
	void on_##handler(struct client *cl, const struct proto_msg *msg);
PROTO_MESSAGE_MAP(HANDLERS_DECLARE_)
#undef HANDLERS_DECLARE_

/*
 * An ALLOC from a frame or the ring: validates it, records the buffer as
 * allocated at `alloc_mono_ns` (CLOCK_MONOTONIC) and counts any mistake.
 */
void events_alloc(struct client *cl, const struct proto_msg *msg, uint64_t alloc_mono_ns);

/*
 * A FREE from a frame or the ring, applied at CLOCK_MONOTONIC `now_ns` (0:
 * read the clock): validates it, releases the buffer, counts any mistake.
 */
void events_free(struct client *cl, const struct proto_msg *msg, uint64_t now_ns);

/*
 * A FREE that matched none of the sender's buffers (after its protocol
 * error was counted): tells a double free, a wrong device and an unknown
 * address apart, with stacks (misuse.h). `call_stack`: the FREE's own
 * stack (index in the process's stacks, or STACKS_NONE).
 */
void diag_bad_free(struct client *cl, const struct proto_msg *msg, uint32_t call_stack, uint64_t now_ns);

/*
 * An ALLOC that replaced the sender's live buffer `previous` at the same
 * address: an overlapping_alloc misuse, with both stacks.
 */
void diag_overlapping_alloc(struct client *cl, const struct proto_msg *msg, const struct live_buffer *previous,
			    uint32_t call_stack, uint64_t now_ns);

/*
 * Sends a symbolized stack (stacks_format's text) as STACK_LINE frames, one
 * per frame, each naming `pid`.
 */
void handlers_send_stack_lines(struct client *cl, const char *text, int32_t pid);

/* 1 when a process's session matches a query's session filter (empty: all). */
int handlers_session_matches(const char *session, const struct proto_msg *query);

#endif /* TTALLOC_INGEST_HANDLERS_H */
