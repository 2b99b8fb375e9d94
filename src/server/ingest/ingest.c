/*
 * ingest.c - the protocol side wired together (ingest.h): the callbacks
 * the connection and ring layers call, a client's life from accept to its
 * leak report, and what runs before the loop sleeps.
 */
#include "server/ingest/ingest.h"

#include <inttypes.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/errors.h"
#include "common/format.h"
#include "common/log.h"
#include "server/ingest/client.h"
#include "server/ingest/dispatch.h"
#include "server/ingest/handlers.h"
#include "server/state/leaks.h"

/* ---- connection callbacks ---- */

static struct ingest *ingest_of(struct connection_set *set)
{
	return set->owner;
}

static struct connection *create_client(struct connection_set *set, pid_t pid, uid_t uid, char *why)
{
	struct ingest *in = ingest_of(set);
	struct client *cl = calloc(1, sizeof(*cl));
	uint32_t proc = cl ? registry_attach(&in->state->registry, pid, uid) : REGISTRY_NONE;
	if (proc == REGISTRY_NONE) {
		free(cl);
		snprintf(why, ERR_LEN, "out of memory");
		return NULL;
	}
	cl->ingest = in;
	cl->proc = proc;
	cl->log_level = -1;
	log_debug("📥 New connection from client (PID %d, %s)", (int)pid,
		  registry_process(&in->state->registry, proc)->comm);
	return &cl->conn;
}

static void on_frame(struct connection *c, const struct proto_msg *msg)
{
	dispatch_frame(client_of(c), msg);
}

void ingest_end_batch(struct ingest *in)
{
	uint64_t unprinted = log_budget_expire(&in->event_lines);
	if (unprinted)
		log_info("  … %" PRIu64 " more event lines not printed in the last second (%d a second are; "
			 "every event is counted in the totals)",
			 unprinted, EVENT_LINES_PER_SECOND);
	uint64_t misuse = misuse_unprinted(&in->state->misuse);
	if (misuse)
		log_warn("  … %" PRIu64 " more misuse warnings not printed in the last second (%u a second are; "
			 "GET /api/misuse lists them)",
			 misuse, MISUSE_LINES_PER_SECOND);
	uint64_t touched = state_end_batch(in->state);
	while (touched) {
		int d = __builtin_ctzll(touched);
		touched &= touched - 1;
		if (!log_enabled(LOG_INFO))
			continue;
		const struct device_totals *t = &in->state->registry.devices[d];
		char dram[FORMAT_BYTES_LEN], l1[FORMAT_BYTES_LEN];
		format_bytes_compact(dram, sizeof(dram), t->used[TTALLOC_DRAM], 1);
		format_bytes_compact(l1, sizeof(l1), t->used[TTALLOC_L1], 1);
		log_info("  └─ Device %d total: DRAM=%s, L1=%s, %" PRIu64 " buffer%s", d, dram, l1, t->buffers,
			 t->buffers == 1 ? "" : "s");
	}
}

static void after_input(struct connection *c)
{
	ingest_end_batch(ingest_of(c->set));
}

/* The client is gone: its ring's last events, then its process's exit. */
static void on_close(struct connection *c)
{
	struct client *cl = client_of(c);
	struct ingest *in = cl->ingest;
	if (cl->ring) {
		/* its last events count, before any leak report; a superseded
		 * connection's do not: the newer one re-sent its table */
		if (cl->superseded)
			ring_discard(cl->ring);
		else
			ring_detach(cl->ring);
		cl->ring_retired = cl->ring;
		cl->ring = NULL;
	}
	if (!registry_detach(&in->state->registry, cl->proc))
		return;
	if (in->stopping) {
		registry_drop_process(&in->state->registry, cl->proc);
		return;
	}
	/*
	 * A library that lost its server without GOODBYE reconnects: no exit
	 * while the process runs. Debug level: most such closes are a process
	 * on its way out (a C program that never called ttalloc_shutdown), whose
	 * exit follows at once; a reconnect is logged when it comes.
	 */
	if (cl->source && !cl->said_goodbye && departures_watch(&in->departures, c->pid)) {
		log_debug("📴 PID %d lost its connection without GOODBYE but still runs: its buffers stay counted "
			  "until it reconnects or exits",
			  (int)c->pid);
		return;
	}
	leak_process_exit(in->state, cl->proc);
}

static void destroy_client(struct connection *c)
{
	struct client *cl = client_of(c);
	free(cl->ring_retired);
	free(cl);
}

static const struct connection_callbacks connection_callbacks = {
	.create = create_client,
	.on_frame = on_frame,
	.after_input = after_input,
	.on_close = on_close,
	.destroy = destroy_client,
};

/* ---- ring callbacks ---- */

/* One ring event, through the same validation and counters as a frame. */
static void apply_ring_event(void *owner, const struct proto_msg *msg, uint64_t alloc_mono_ns)
{
	struct client *cl = owner;
	cl->ingest->stats.frames[msg->type]++;
	if (msg->type == PROTO_ALLOC)
		events_alloc(cl, msg, alloc_mono_ns);
	else
		events_free(cl, msg, alloc_mono_ns);
}

static void ring_error(void *owner, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

static void ring_error(void *owner, const char *fmt, ...)
{
	char text[256];
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(text, sizeof(text), fmt, ap);
	va_end(ap);
	client_error((struct client *)owner, PROTO_ERR_BAD_RING, "%s", text);
}

static const struct ring_callbacks ring_callbacks = {
	.apply = apply_ring_event,
	.error = ring_error,
};

/* ---- the layer ---- */

void ingest_init(struct ingest *in, struct state *st, struct event_loop *loop, const struct ingest_config *cfg)
{
	memset(in, 0, sizeof(*in));
	in->state = st;
	in->config = *cfg;
	connection_set_init(&in->conns, loop, &connection_callbacks, in, &cfg->limits, in->stats.errors);
	rings_init(&in->rings, loop, &ring_callbacks, &st->registry);
	departures_init(&in->departures, loop, st);
}

int ingest_listen(struct ingest *in, int fd, char *err)
{
	return connection_set_listen(&in->conns, fd, err);
}

struct connection *ingest_adopt(struct ingest *in, int fd)
{
	return connection_open(&in->conns, fd);
}

void ingest_drain(struct ingest *in)
{
	rings_drain_all(&in->rings);
}

int ingest_before_sleep(struct ingest *in)
{
	int timeout = rings_poll(&in->rings);
	ingest_end_batch(in);
	connection_set_before_sleep(&in->conns);
	return timeout;
}

void ingest_release(struct ingest *in)
{
	in->stopping = 1;
	if (in->conns.count)
		log_warn("📴 Closing %u client connection%s (clients keep their tables and resync with the next server)",
			 in->conns.count, in->conns.count == 1 ? "" : "s");
	connection_set_close_all(&in->conns);
	connection_set_release(&in->conns);
	rings_release(&in->rings);
	departures_release(&in->departures);
}
