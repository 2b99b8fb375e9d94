/*
 * query.c - blocking request/answer helpers for monitoring tools (query.h).
 */
#include "common/query.h"
#include "common/array.h"
#include "common/clock.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "common/proc_info.h"
#include "common/reach.h"

int query_connect(struct query_client *qc, const char *path, char *err)
{
	char reason[UNIX_SOCKET_ERR_LEN];
	if (!path)
		path = unix_socket_default_path();
	snprintf(qc->path, sizeof(qc->path), "%s", path);
	qc->fd = unix_socket_connect(path, reason);
	return qc->fd < 0 ? reach_explain(err, path, errno) : 0;
}

void query_close(struct query_client *qc)
{
	if (qc->fd >= 0)
		close(qc->fd);
	qc->fd = -1;
	qc->greeted = 0;
	qc->features = 0;
}

static int io_failure(struct query_client *qc, const char *what, char *err)
{
	snprintf(err, UNIX_SOCKET_ERR_LEN, "lost the allocation server at %s while %s (%s)", qc->path, what,
		 strerror(errno));
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

int query_exchange(struct query_client *qc, const struct proto_msg *request, struct proto_msg *answer, char *err)
{
	if (unix_socket_write_all(qc->fd, request, sizeof(*request)) < 0)
		return io_failure(qc, "sending a request", err);
	return read_answer(qc, answer, err);
}

int query_rows2(struct query_client *qc, const struct proto_msg *request, unsigned row_type, unsigned other_type,
		query_row_fn fn, void *ctx, char *err)
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
			snprintf(err, UNIX_SOCKET_ERR_LEN, "unexpected answer type %u while reading rows", row.type);
			return TTALLOC_EPROTOCOL;
		}
		rc = fn(&row, ctx);
		if (rc)
			return rc;
	}
}

int query_rows(struct query_client *qc, const struct proto_msg *request, unsigned row_type, query_row_fn fn, void *ctx,
	       char *err)
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
	dev->kernel_allocated = ans.buffer_id;
	return 0;
}

static int add_process_row(const struct proto_msg *row, void *ctx)
{
	struct snapshot *snap = ctx;
	if (ARRAY_RESERVE(snap->processes, snap->processes_cap, snap->num_processes + 1) < 0)
		return TTALLOC_ENOMEM;
	struct snapshot_process *p = &snap->processes[snap->num_processes++];
	memset(p, 0, sizeof(*p));
	p->pid = row->process_id;
	p->device = row->device_id;
	p->buffers = row->size;
	p->kernel = row->buffer_id;
	p->since_ns = row->timestamp;
	p->usage = row->u.process;
	p->usage.comm[sizeof(p->usage.comm) - 1] = '\0';
	if (p->usage.uid != PROTO_UID_UNKNOWN)
		proc_user_name(p->usage.uid, p->user, sizeof(p->user));
	return 0;
}

static int add_holder_row(const struct proto_msg *row, void *ctx)
{
	struct snapshot *snap = ctx;
	if (ARRAY_RESERVE(snap->holders, snap->holders_cap, snap->num_holders + 1) < 0)
		return TTALLOC_ENOMEM;
	struct snapshot_holder *h = &snap->holders[snap->num_holders++];
	memset(h, 0, sizeof(*h));
	h->pid = row->process_id;
	h->device = row->device_id;
	h->row = row->u.holder;
	h->row.comm[sizeof(h->row.comm) - 1] = '\0';
	if (h->row.flags & PROTO_HOLDER_UID)
		proc_user_name(h->row.uid, h->user, sizeof(h->user));
	return 0;
}

/* The snapshot's entry for `pid`, created when new; NULL when out of memory. */
static struct snapshot_container *container_entry(struct snapshot *snap, pid_t pid)
{
	for (size_t i = 0; i < snap->num_containers; i++)
		if (snap->containers[i].pid == pid)
			return &snap->containers[i];
	if (ARRAY_RESERVE(snap->containers, snap->containers_cap, snap->num_containers + 1) < 0)
		return NULL;
	struct snapshot_container *c = &snap->containers[snap->num_containers++];
	memset(c, 0, sizeof(*c));
	c->pid = pid;
	return c;
}

/* Where an IDENTITY_ROW's text goes, and its size; NULL for a field or target it does not know. */
static char *identity_slot(struct snapshot *snap, const struct proto_msg *row, size_t *size)
{
#define SLOT(field) (*size = sizeof(field), (field))
	if (row->process_id > 0) {
		struct snapshot_container *c = container_entry(snap, row->process_id);
		switch (c ? row->buffer_type : PROTO_IDENTITY_FIELDS) {
		case PROTO_IDENTITY_CONTAINER_ID:
			return SLOT(c->info.id);
		case PROTO_IDENTITY_CONTAINER_RUNTIME:
			return SLOT(c->info.runtime);
		case PROTO_IDENTITY_POD:
			return SLOT(c->info.pod);
		case PROTO_IDENTITY_NAMESPACE:
			return SLOT(c->info.namespace);
		case PROTO_IDENTITY_CONTAINER:
			return SLOT(c->info.container);
		default:
			return NULL;
		}
	}
	if (row->device_id < 0)
		return row->buffer_type == PROTO_IDENTITY_HOSTNAME ? SLOT(snap->hostname) : NULL;
	if ((uint32_t)row->device_id >= snap->num_devices)
		return NULL;
	struct snapshot_identity *id = &snap->devices[row->device_id].ident;
	switch (row->buffer_type) {
	case PROTO_IDENTITY_SERIAL:
		return SLOT(id->serial);
	case PROTO_IDENTITY_ASIC_ID:
		return SLOT(id->asic_id);
	case PROTO_IDENTITY_PCI_BUS_ID:
		return SLOT(id->pci_bus_id);
	case PROTO_IDENTITY_CARD_TYPE:
		return SLOT(id->card_type);
	case PROTO_IDENTITY_UUID:
		return SLOT(id->uuid);
	case PROTO_IDENTITY_DRIVER_VERSION:
		return SLOT(id->driver_version);
	default:
		return NULL;
	}
#undef SLOT
}

/* Copies one IDENTITY_ROW's piece of text to its offset (a longer value comes in pieces). */
static int add_identity_row(const struct proto_msg *row, void *ctx)
{
	size_t size = 0;
	char *slot = identity_slot(ctx, row, &size);
	if (!slot || row->size >= size)
		return 0;
	size_t off = (size_t)row->size;
	size_t piece = strnlen(row->u.text.text, sizeof(row->u.text.text));
	if (piece > size - 1 - off)
		piece = size - 1 - off;
	memcpy(slot + off, row->u.text.text, piece);
	slot[off + piece] = '\0';
	return 0;
}

const struct container_info *snapshot_container(const struct snapshot *snap, pid_t pid)
{
	for (size_t i = 0; i < snap->num_containers; i++)
		if (snap->containers[i].pid == pid && snap->containers[i].info.id[0])
			return &snap->containers[i].info;
	return NULL;
}

int query_greet(struct query_client *qc, char *err)
{
	if (qc->greeted)
		return 0;
	struct proto_msg req, ans;
	proto_msg_init(&req, PROTO_HELLO, -1);
	req.u.hello.version = PROTO_EXT_VERSION;
	int rc = query_exchange(qc, &req, &ans, err);
	if (rc < 0)
		return rc;
	if (ans.type != PROTO_HELLO_ACK) {
		snprintf(err, UNIX_SOCKET_ERR_LEN, "unexpected answer type %u to HELLO", ans.type);
		return TTALLOC_EPROTOCOL;
	}
	qc->features = ans.u.hello.features;
	qc->http_state = ans.u.hello.http_state;
	qc->http_port = ans.u.hello.http_port;
	qc->server_release = ans.u.hello.server_release;
	qc->server_pid = ans.u.hello.server_pid;
	qc->greeted = 1;
	return 0;
}

int query_clear_leaks(struct query_client *qc, uint64_t *buffers, uint32_t *processes, char *err)
{
	struct proto_msg req, ans;
	proto_msg_init(&req, PROTO_CLEAR_LEAKS, -1);
	int rc = query_greet(qc, err);
	if (rc == 0)
		rc = query_exchange(qc, &req, &ans, err);
	if (rc < 0)
		return rc;
	if (ans.type != PROTO_CLEARED)
		return error_set(err, TTALLOC_EPROTOCOL,
				 "unexpected answer type %u to CLEAR_LEAKS (a server older than "
				 "tt_smi?)",
				 ans.type);
	*buffers = ans.size;
	*processes = (uint32_t)ans.buffer_id;
	return 0;
}

int snapshot_take(struct query_client *qc, struct snapshot *snap, char *err)
{
	struct proto_msg req, ans;
	snapshot_release(snap);
	snap->taken_ns = clock_realtime_ns();
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
	if (rc < 0)
		return rc;
	qc->greeted = 0; /* a HELLO each time: the server's state (its dashboard) may have changed */
	rc = query_greet(qc, err);
	if (rc < 0)
		return rc;
	snap->http_state = qc->http_state;
	snap->http_port = qc->http_port;
	if (!(qc->features & PROTO_FEATURE_HOLDERS))
		return rc;
	proto_msg_init(&req, PROTO_HOLDER_QUERY, -1);
	rc = query_rows(qc, &req, PROTO_HOLDER_ROW, add_holder_row, snap, err);
	if (rc == TTALLOC_ENOMEM)
		snprintf(err, UNIX_SOCKET_ERR_LEN, "out of memory reading the kernel's view of the devices");
	if (rc < 0 || !(qc->features & PROTO_FEATURE_IDENTITY))
		return rc;
	proto_msg_init(&req, PROTO_IDENTITY_QUERY, -1);
	return query_rows(qc, &req, PROTO_IDENTITY_ROW, add_identity_row, snap, err);
}

/* A document as its DOC_CHUNKs arrive: each says the total length and its offset. */
struct document {
	char *text;
	size_t len;
	char *err;
};

static int add_chunk(const struct proto_msg *row, void *ctx)
{
	struct document *d = ctx;
	size_t room = sizeof(row->u.text.text);
	if (!d->text) {
		if (row->size > PROTO_DOC_MAX_BYTES || !(d->text = calloc(1, row->size + 1)))
			return TTALLOC_ENOMEM;
		d->len = row->size;
	}
	if (row->size != d->len || row->buffer_id >= d->len) {
		snprintf(d->err, UNIX_SOCKET_ERR_LEN, "inconsistent document chunk (offset %llu of %zu)",
			 (unsigned long long)row->buffer_id, d->len);
		return TTALLOC_EPROTOCOL;
	}
	size_t n = d->len - row->buffer_id < room ? d->len - row->buffer_id : room;
	memcpy(d->text + row->buffer_id, row->u.text.text, n);
	return 0;
}

int query_document(struct query_client *qc, const char *path, char **text, size_t *len, char *err)
{
	*text = NULL;
	*len = 0;
	int rc = query_greet(qc, err);
	if (rc < 0)
		return rc;
	if (!(qc->features & PROTO_FEATURE_DIAG)) {
		snprintf(err, UNIX_SOCKET_ERR_LEN,
			 "the server at %s predates the diagnosis documents: upgrade ttalloc-server", qc->path);
		return TTALLOC_EPROTOCOL;
	}
	struct proto_msg req;
	proto_msg_init(&req, PROTO_DOC_QUERY, -1);
	proto_set_string(req.u.text.text, sizeof(req.u.text.text), path);
	struct document d = {.err = err};
	rc = query_rows(qc, &req, PROTO_DOC_CHUNK, add_chunk, &d, err);
	if (rc == TTALLOC_EPROTOCOL && d.text) /* a refusal whose whole reason came as chunks */
		snprintf(err, UNIX_SOCKET_ERR_LEN, "server refused the request: %s", d.text);
	if (rc == TTALLOC_ENOMEM)
		snprintf(err, UNIX_SOCKET_ERR_LEN, "out of memory reading %s", path);
	if (rc == 0 && !d.text)
		d.text = calloc(1, 1); /* an empty document */
	if (rc < 0 || !d.text) {
		free(d.text);
		return rc < 0 ? rc : TTALLOC_ENOMEM;
	}
	*text = d.text;
	*len = d.len;
	return 0;
}

int snapshot_take_oom(struct query_client *qc, struct snapshot *snap, char *err)
{
	size_t len;
	free(snap->oom_document);
	snap->oom_document = NULL;
	int rc = query_greet(qc, err);
	if (rc < 0 || !(qc->features & PROTO_FEATURE_DIAG))
		return rc;
	return query_document(qc, "/api/oom?limit=1", &snap->oom_document, &len, err);
}

int query_mark(struct query_client *qc, const char *label, char *err)
{
	int rc = query_greet(qc, err);
	if (rc == 0 && !(qc->features & PROTO_FEATURE_DIAG)) {
		snprintf(err, UNIX_SOCKET_ERR_LEN, "the server at %s predates marks: upgrade ttalloc-server", qc->path);
		rc = TTALLOC_EPROTOCOL;
	}
	if (rc < 0)
		return rc;
	struct proto_msg req, ans;
	proto_msg_init(&req, PROTO_MARK, -1);
	req.process_id = getpid();
	req.timestamp = clock_realtime_ns();
	proto_set_string(req.u.text.text, sizeof(req.u.text.text), label);
	if (unix_socket_write_all(qc->fd, &req, sizeof(req)) < 0)
		return io_failure(qc, "sending a mark", err);
	proto_msg_init(&req, PROTO_SYNC, -1);
	req.size = 1;
	return query_exchange(qc, &req, &ans, err);
}

void snapshot_release(struct snapshot *snap)
{
	free(snap->oom_document);
	free(snap->devices);
	free(snap->processes);
	free(snap->holders);
	free(snap->containers);
	memset(snap, 0, sizeof(*snap));
}

/*
 * Greets the server and checks that it answers the request of `feature`
 * (HELLO_ACK); else TTALLOC_EPROTOCOL with "the allocation server at PATH
 * <lacks> (an older ttalloc-server)".
 */
static int require_feature(struct query_client *qc, uint32_t feature, const char *lacks, char *err)
{
	int rc = query_greet(qc, err);
	if (rc < 0 || (qc->features & feature))
		return rc;
	snprintf(err, UNIX_SOCKET_ERR_LEN, "the allocation server at %s %s (an older ttalloc-server)", qc->path, lacks);
	return TTALLOC_EPROTOCOL;
}

/* Rows of a HISTORY_QUERY answer as they come, before they are laid out per device. */
struct history_rows {
	struct proto_msg *rows;
	size_t count;
	size_t cap;
};

static int add_history_row(const struct proto_msg *row, void *ctx)
{
	struct history_rows *acc = ctx;
	if (row->device_id < 0 || row->device_id >= PROTO_MAX_DEVICES || row->u.history.points == 0 ||
	    row->u.history.points > PROTO_HISTORY_MAX_POINTS || row->u.history.index >= row->u.history.points)
		return 0; /* not a bucket we can place: skip it */
	if (ARRAY_RESERVE(acc->rows, acc->cap, acc->count + 1) < 0)
		return TTALLOC_ENOMEM;
	acc->rows[acc->count++] = *row;
	return 0;
}

int history_snapshot_take(struct query_client *qc, uint32_t seconds, uint32_t points, struct history_snapshot *hist,
			  char *err)
{
	history_snapshot_release(hist);
	int rc = require_feature(qc, PROTO_FEATURE_HISTORY, "keeps no history", err);
	if (rc < 0)
		return rc;
	struct proto_msg req;
	proto_msg_init(&req, PROTO_HISTORY_QUERY, -1);
	req.u.history.seconds = seconds;
	req.u.history.points = points;
	struct history_rows acc = {NULL, 0, 0};
	rc = query_rows(qc, &req, PROTO_HISTORY_ROW, add_history_row, &acc, err);
	if (rc == 0 && acc.count) {
		const struct proto_history_payload *first = &acc.rows[0].u.history;
		uint32_t devices = 0;
		for (size_t i = 0; i < acc.count; i++)
			if ((uint32_t)acc.rows[i].device_id + 1 > devices)
				devices = (uint32_t)acc.rows[i].device_id + 1;
		hist->buckets = calloc((size_t)devices * first->points, sizeof(*hist->buckets));
		if (!hist->buckets) {
			rc = TTALLOC_ENOMEM;
		} else {
			hist->num_devices = devices;
			hist->points = first->points;
			hist->seconds = first->seconds;
			hist->step_ms = first->step_ms;
			hist->interval_ms = first->interval_ms;
			for (size_t i = 0; i < acc.count; i++) {
				const struct proto_history_payload *p = &acc.rows[i].u.history;
				if (p->points != hist->points)
					continue; /* rows of one answer agree; ignore any that do not */
				struct history_snapshot_bucket *b =
					&hist->buckets[(size_t)acc.rows[i].device_id * hist->points + p->index];
				memcpy(b->used, p->used, sizeof(b->used));
				b->time_ms = p->time_ms;
				b->valid = (p->flags & PROTO_HISTORY_VALID) != 0;
			}
		}
	}
	if (rc == TTALLOC_ENOMEM)
		snprintf(err, UNIX_SOCKET_ERR_LEN, "out of memory reading the memory history");
	free(acc.rows);
	return rc;
}

void history_snapshot_release(struct history_snapshot *hist)
{
	free(hist->buckets);
	memset(hist, 0, sizeof(*hist));
}

/* A BUFFER_ROW becomes a row; a STACK_LINE after it is that row's top frame. */
static int add_buffer_row(const struct proto_msg *row, void *ctx)
{
	struct buffer_snapshot *bufs = ctx;
	if (row->type == PROTO_STACK_LINE) {
		if (bufs->count)
			snprintf(bufs->rows[bufs->count - 1].frame, sizeof(bufs->rows[0].frame), "%.*s",
				 (int)sizeof(row->u.text.text), row->u.text.text);
		return 0;
	}
	if (ARRAY_RESERVE(bufs->rows, bufs->cap, bufs->count + 1) < 0)
		return TTALLOC_ENOMEM;
	buffer_row_decode(row, &bufs->rows[bufs->count++]);
	return 0;
}

void buffer_row_decode(const struct proto_msg *row, struct buffer_snapshot_row *out)
{
	*out = (struct buffer_snapshot_row){
		.pid = row->process_id,
		.device = row->device_id,
		.type = row->buffer_type,
		.address = row->buffer_id,
		.size = row->size,
		.age_ns = row->u.process.used[0],
	};
}

int buffer_snapshot_take(struct query_client *qc, pid_t pid, int device, uint32_t max_rows, int with_stacks,
			 struct buffer_snapshot *bufs, char *err)
{
	buffer_snapshot_release(bufs);
	int rc = require_feature(qc, PROTO_FEATURE_BUFFERS, "lists no buffers", err);
	if (rc < 0)
		return rc;
	struct proto_msg req;
	proto_msg_init(&req, PROTO_BUFFER_QUERY, device);
	req.process_id = pid;
	req.size = max_rows;
	req.buffer_type = with_stacks ? PROTO_BUFFER_WITH_STACKS : 0;
	rc = query_rows2(qc, &req, PROTO_BUFFER_ROW, PROTO_STACK_LINE, add_buffer_row, bufs, err);
	if (rc == TTALLOC_ENOMEM)
		snprintf(err, UNIX_SOCKET_ERR_LEN, "out of memory reading the buffer list");
	return rc;
}

void buffer_snapshot_release(struct buffer_snapshot *bufs)
{
	free(bufs->rows);
	memset(bufs, 0, sizeof(*bufs));
}
