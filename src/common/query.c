/*
 * query.c - blocking request/answer helpers for monitoring tools (query.h).
 */
#include "query.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "proc_info.h"

int query_connect(struct query_client *qc, const char *path, char *err)
{
	char reason[UNIX_SOCKET_ERR_LEN];
	if (!path)
		path = unix_socket_default_path();
	snprintf(qc->path, sizeof(qc->path), "%s", path);
	qc->fd = unix_socket_connect(path, reason);
	if (qc->fd < 0) {
		snprintf(err, UNIX_SOCKET_ERR_LEN, "cannot reach the allocation server at %s (%s)", path,
			 reason);
		return TTALLOC_ENOSERVER;
	}
	return 0;
}

void query_close(struct query_client *qc)
{
	if (qc->fd >= 0)
		close(qc->fd);
	qc->fd = -1;
}

static int io_failure(struct query_client *qc, const char *what, char *err)
{
	snprintf(err, UNIX_SOCKET_ERR_LEN, "lost the allocation server at %s while %s (%s)", qc->path,
		 what, strerror(errno));
	return TTALLOC_EIO;
}

/* Reads one frame; turns an ERROR frame into TTALLOC_EPROTOCOL. */
static int read_answer(struct query_client *qc, struct proto_msg *answer, char *err)
{
	if (unix_socket_read_all(qc->fd, answer, sizeof(*answer)) < 0)
		return io_failure(qc, "reading an answer", err);
	if (answer->type == PROTO_ERROR) {
		snprintf(err, UNIX_SOCKET_ERR_LEN, "server refused the request: %.*s",
			 (int)sizeof(answer->u.error.message), answer->u.error.message);
		return TTALLOC_EPROTOCOL;
	}
	return 0;
}

int query_exchange(struct query_client *qc, const struct proto_msg *request,
		   struct proto_msg *answer, char *err)
{
	if (unix_socket_write_all(qc->fd, request, sizeof(*request)) < 0)
		return io_failure(qc, "sending a request", err);
	return read_answer(qc, answer, err);
}

int query_rows2(struct query_client *qc, const struct proto_msg *request, unsigned row_type,
		unsigned other_type, query_row_fn fn, void *ctx, char *err)
{
	if (unix_socket_write_all(qc->fd, request, sizeof(*request)) < 0)
		return io_failure(qc, "sending a request", err);
	for (;;) {
		struct proto_msg row;
		int rc = read_answer(qc, &row, err);
		if (rc < 0)
			return rc;
		if (row.type == PROTO_ROWS_END)
			return 0;
		if (row.type != row_type && row.type != other_type) {
			snprintf(err, UNIX_SOCKET_ERR_LEN, "unexpected answer type %u while reading rows",
				 row.type);
			return TTALLOC_EPROTOCOL;
		}
		rc = fn(&row, ctx);
		if (rc)
			return rc;
	}
}

int query_rows(struct query_client *qc, const struct proto_msg *request, unsigned row_type,
	       query_row_fn fn, void *ctx, char *err)
{
	return query_rows2(qc, request, row_type, row_type, fn, ctx, err);
}

static int read_device(struct query_client *qc, int index, struct snapshot_device *dev, char *err)
{
	struct proto_msg req, ans;
	dev->index = index;
	proto_msg_init(&req, PROTO_QUERY, index);
	int rc = query_exchange(qc, &req, &ans, err);
	if (rc < 0)
		return rc;
	dev->seed = ans.u.seed;
	proto_msg_init(&req, PROTO_DEVICE_STATUS_QUERY, index);
	rc = query_exchange(qc, &req, &ans, err);
	if (rc < 0)
		return rc;
	dev->status = ans.u.status;
	dev->status.name[sizeof(dev->status.name) - 1] = '\0';
	return 0;
}

static int add_process_row(const struct proto_msg *row, void *ctx)
{
	struct snapshot *snap = ctx;
	struct snapshot_process *grown =
		realloc(snap->processes, (snap->num_processes + 1) * sizeof(*snap->processes));
	if (!grown)
		return TTALLOC_ENOMEM;
	snap->processes = grown;
	struct snapshot_process *p = &snap->processes[snap->num_processes++];
	memset(p, 0, sizeof(*p));
	p->pid = row->process_id;
	p->device = row->device_id;
	p->buffers = row->size;
	p->usage = row->u.process;
	p->usage.comm[sizeof(p->usage.comm) - 1] = '\0';
	proc_user_name(p->usage.uid, p->user, sizeof(p->user));
	return 0;
}

int snapshot_take(struct query_client *qc, struct snapshot *snap, char *err)
{
	struct proto_msg req, ans;
	snapshot_release(snap);
	snap->taken_ns = proto_now_ns();
	proto_msg_init(&req, PROTO_DEVICE_INFO_QUERY, -1);
	int rc = query_exchange(qc, &req, &ans, err);
	if (rc < 0)
		return rc;
	uint32_t count = ans.u.seed.num_devices;
	if (count > PROTO_MAX_DEVICES)
		count = PROTO_MAX_DEVICES;
	snap->devices = calloc(count ? count : 1, sizeof(*snap->devices));
	if (!snap->devices)
		return TTALLOC_ENOMEM;
	snap->num_devices = count;
	for (uint32_t i = 0; i < count; i++) {
		rc = read_device(qc, (int)i, &snap->devices[i], err);
		if (rc < 0)
			return rc;
	}
	proto_msg_init(&req, PROTO_PROCESS_QUERY, -1);
	rc = query_rows(qc, &req, PROTO_PROCESS_ROW, add_process_row, snap, err);
	if (rc == TTALLOC_ENOMEM)
		snprintf(err, UNIX_SOCKET_ERR_LEN, "out of memory reading the process table");
	return rc;
}

void snapshot_release(struct snapshot *snap)
{
	free(snap->devices);
	free(snap->processes);
	memset(snap, 0, sizeof(*snap));
}
