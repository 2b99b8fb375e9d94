/*
 * control.c - the session itself: HELLO (version, features, session tag),
 * SYNC (a barrier: every earlier frame and ring event is applied) and
 * RING_ATTACH (the shared-memory fast path); and the refusal of answer
 * types sent the wrong way.
 */
#include <stdio.h>
#include <unistd.h>

#include "common/log.h"
#include "server/ingest/client.h"
#include "server/ingest/handlers.h"

void on_hello(struct client *cl, const struct proto_msg *msg)
{
	struct state *st = client_state(cl);
	cl->hello_version = msg->u.hello.version ? msg->u.hello.version : 1;
	struct process_record *rec = registry_process(&st->registry, cl->proc);
	if (msg->u.hello.session[0])
		proto_set_string(rec->session, sizeof(rec->session), msg->u.hello.session);
	struct proto_msg ans;
	proto_msg_init(&ans, PROTO_HELLO_ACK, -1);
	ans.u.hello.version = PROTO_EXT_VERSION;
	ans.u.hello.num_devices = (uint32_t)st->devices.count;
	ans.u.hello.server_pid = (uint32_t)getpid();
	ans.u.hello.features = PROTO_FEATURE_HOLDERS | PROTO_FEATURE_HISTORY | PROTO_FEATURE_RING;
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
	log_info("⚡ PID %d reports through a shared-memory ring", (int)c->pid);
	struct proto_msg ans;
	proto_msg_init(&ans, PROTO_RING_ACK, -1);
	ans.u.ring = msg->u.ring;
	client_send(cl, &ans);
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
