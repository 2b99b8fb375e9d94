/*
 * control.c - the session itself: HELLO (version, features, session tag),
 * SYNC (a barrier: every earlier frame and ring event is applied) and
 * RING_ATTACH (the shared-memory fast path); and the refusal of answer
 * types sent the wrong way.
 */
#include <inttypes.h>
#include <stdio.h>
#include <unistd.h>

#include "common/log.h"
#include "server/ingest/client.h"
#include "server/ingest/handlers.h"

/* Marks an older connection of the same reporting instance superseded and closes it. */
static void supersede(struct client *old, const char *why)
{
	old->superseded = 1;
	old->ingest->stats.superseded++;
	log_info("🔁 PID %d: connection %u of its reporting instance %s; its unread events are dropped "
		 "(the newer connection re-sends its table)",
		 (int)old->conn.pid, old->epoch, why);
	connection_close(&old->conn); /* deferred when it is the connection being handled */
}

/*
 * HELLO's instance and epoch (protocol.h, sessions): the newest connection
 * of an instance supersedes its older ones and the buffers the instance
 * reported before, which its resync re-sends. Returns 0 when the
 * connection itself turns out to be an older one (no answer then).
 */
static int join_session(struct client *cl, const struct proto_msg *msg)
{
	struct registry *r = &client_state(cl)->registry;
	uint8_t source = msg->u.hello.instance ? registry_instance(r, cl->proc, msg->u.hello.instance) : 0;
	if (!source)
		return 1; /* no instance (or too many in this process): as a client of old */
	struct process_instance *inst = &registry_process(r, cl->proc)->instances[source - 1];
	cl->source = source;
	cl->epoch = msg->u.hello.epoch;
	if (cl->epoch < inst->epoch) {
		supersede(cl, "spoke after a newer one");
		return 0;
	}
	inst->epoch = cl->epoch;
	for (struct connection *c = cl->ingest->conns.open, *next; c; c = next) {
		next = c->next;
		struct client *other = client_of(c);
		if (other != cl && other->proc == cl->proc && other->source == source)
			supersede(other, "is replaced by a newer one");
	}
	REGISTRY_FOR_EACH_USAGE (r, cl->proc, u) {
		state_touch(client_state(cl), u->device);
	}
	uint64_t dropped = registry_drop_source(r, cl->proc, source);
	if (dropped)
		log_info("🔁 PID %d reconnected (connection %u): its %" PRIu64 " buffers come again with its resync",
			 (int)cl->conn.pid, cl->epoch, dropped);
	return 1;
}

void on_hello(struct client *cl, const struct proto_msg *msg)
{
	struct state *st = client_state(cl);
	cl->hello_version = msg->u.hello.version ? msg->u.hello.version : 1;
	if (msg->u.hello.log_level >= PROTO_LOG_ERROR && msg->u.hello.log_level <= PROTO_LOG_DEBUG)
		cl->log_level = msg->u.hello.log_level - PROTO_LOG_ERROR + LOG_ERROR;
	struct process_record *rec = registry_process(&st->registry, cl->proc);
	if (msg->u.hello.session[0])
		proto_set_string(rec->session, sizeof(rec->session), msg->u.hello.session);
	if (!join_session(cl, msg))
		return;
	struct proto_msg ans;
	proto_msg_init(&ans, PROTO_HELLO_ACK, -1);
	ans.u.hello.version = PROTO_EXT_VERSION;
	ans.u.hello.num_devices = (uint32_t)st->devices.count;
	ans.u.hello.server_pid = (uint32_t)getpid();
	ans.u.hello.http_state = cl->ingest->http_state;
	ans.u.hello.http_port = cl->ingest->http_port;
	ans.u.hello.server_release = proto_release_of(TTALLOC_VERSION);
	ans.u.hello.features = PROTO_FEATURE_HOLDERS | PROTO_FEATURE_HISTORY | PROTO_FEATURE_RING |
		PROTO_FEATURE_SESSIONS | PROTO_FEATURE_BUFFERS | PROTO_FEATURE_DIAG | PROTO_FEATURE_IDENTITY;
	client_send(cl, &ans);
}

/* RING_ATTACH: the descriptors came with the frame (connection.c keeps them). */
void on_ring_attach(struct client *cl, const struct proto_msg *msg)
{
	struct connection *c = &cl->conn;
	int memfd = c->nfds == 2 ? c->fds[0] : -1, wake_fd = c->nfds == 2 ? c->fds[1] : -1;
	if (c->nfds != 2)
		connection_close_fds(c);
	c->nfds = 0;
	const char *why = NULL;
	struct ring_consumer *ring = NULL;
	if (cl->ring) {
		why = "a ring is already attached to this connection";
		if (memfd >= 0)
			close(memfd);
		if (wake_fd >= 0)
			close(wake_fd);
	} else {
		ring = ring_attach(&cl->ingest->rings, cl, &msg->u.ring, memfd, wake_fd, &why);
	}
	if (!ring) {
		client_error(cl, PROTO_ERR_BAD_RING, "RING_ATTACH refused: %s", why);
		client_send_error(cl, msg, PROTO_ERR_BAD_RING, TTALLOC_EPROTOCOL);
		return;
	}
	cl->ring = ring;
	client_announce(cl);
	log_info("⚡ PID %d reports through a shared-memory ring", (int)c->pid);
	struct proto_msg ans;
	proto_msg_init(&ans, PROTO_RING_ACK, -1);
	ans.u.ring = msg->u.ring;
	client_send(cl, &ans);
}

/* GOODBYE: the client closes on purpose; what its process still holds at its last close is leaked. */
void on_goodbye(struct client *cl, const struct proto_msg *msg)
{
	(void)msg;
	cl->said_goodbye = 1;
}

void on_sync(struct client *cl, const struct proto_msg *msg)
{
	struct proto_msg ans;
	proto_msg_init(&ans, PROTO_SYNC_ACK, msg->device_id);
	ans.size = msg->size; /* echoed so a client can match its request */
	client_send(cl, &ans);
}

/* Every answer type: only the server sends those. */
void on_answer(struct client *cl, const struct proto_msg *msg)
{
	client_error(cl, PROTO_ERR_UNEXPECTED_TYPE, "%s (type %u) is sent by the server, not to it",
		     proto_type_name(msg->type), msg->type);
}
