/*
 * client.c - the checks and answers every handler shares (client.h).
 */
#include "server/ingest/client.h"

#include <inttypes.h>
#include <stdio.h>

#include "common/log.h"

void client_announce(struct client *cl)
{
	if (cl->announced)
		return;
	cl->announced = 1;
	struct process_record *rec = registry_process(&client_state(cl)->registry, cl->proc);
	rec->reported = 1;
	if (client_logs(cl, LOG_INFO))
		log_write(LOG_INFO, "📥 New connection from client (PID %d, %s)", (int)cl->conn.pid, rec->comm);
}

struct device *client_valid_device(struct client *cl, const struct proto_msg *msg)
{
	const struct device_set *devices = &client_state(cl)->devices;
	struct device *dev = device_set_get(&client_state(cl)->devices, msg->device_id);
	if (!dev)
		client_error(cl, PROTO_ERR_BAD_DEVICE, "%s for device %d; devices are 0..%d",
			     proto_type_name(msg->type), msg->device_id, devices->count - 1);
	return dev;
}

int client_valid_pid_field(struct client *cl, const struct proto_msg *msg)
{
	if (msg->process_id == 0 || msg->process_id == cl->conn.pid)
		return 1;
	client_error(cl, PROTO_ERR_PID_MISMATCH,
		     "%s claims PID %d but the connection belongs to PID %d (SO_PEERCRED); rejected",
		     proto_type_name(msg->type), msg->process_id, (int)cl->conn.pid);
	return 0;
}

void client_send_error(struct client *cl, const struct proto_msg *msg, enum proto_error_reason reason, int code)
{
	struct proto_msg ans;
	proto_msg_init(&ans, PROTO_ERROR, msg->device_id);
	ans.u.error.code = code;
	ans.u.error.reason = reason;
	snprintf(ans.u.error.message, sizeof(ans.u.error.message), "%s (%s %d)", proto_error_description(reason),
		 proto_type_name(msg->type), msg->device_id);
	client_send(cl, &ans);
}

void client_send_error_text(struct client *cl, const struct proto_msg *msg, enum proto_error_reason reason, int code,
			    const char *text)
{
	struct proto_msg ans;
	proto_msg_init(&ans, PROTO_ERROR, msg->device_id);
	ans.u.error.code = code;
	ans.u.error.reason = reason;
	proto_set_string(ans.u.error.message, sizeof(ans.u.error.message), text);
	client_send(cl, &ans);
}

const char *client_valid_text(struct client *cl, const struct proto_msg *msg, const char *what)
{
	if (proto_text_valid(msg->u.text.text, sizeof(msg->u.text.text)))
		return msg->u.text.text;
	client_error(cl, PROTO_ERR_BAD_TEXT, "%s %s is empty, unterminated or holds control characters",
		     proto_type_name(msg->type), what);
	return NULL;
}

int client_device_or_all(struct client *cl, const struct proto_msg *msg)
{
	if (msg->device_id == -1 || client_valid_device(cl, msg))
		return 1;
	client_send_error(cl, msg, PROTO_ERR_BAD_DEVICE, TTALLOC_EINVAL);
	return 0;
}

void client_send_rows_end(struct client *cl, uint64_t count)
{
	struct proto_msg end;
	proto_msg_init(&end, PROTO_ROWS_END, -1);
	end.size = count;
	client_send(cl, &end);
}

void client_define_stack(struct client *cl, const struct proto_msg *msg,
			 int (*define)(struct process_stacks *ps, const struct proto_msg *msg, const char **why))
{
	struct process_record *rec = registry_process(&client_state(cl)->registry, cl->proc);
	if (!rec->stacks && !(rec->stacks = stacks_create(rec->pid))) {
		client_error(cl, PROTO_ERR_LIMIT, "out of memory recording a call stack");
		return;
	}
	const char *why = NULL;
	if (define(rec->stacks, msg, &why) < 0)
		client_error(cl, PROTO_ERR_BAD_STACK, "stack 0x%" PRIx64 ": %s", msg->size, why);
}
