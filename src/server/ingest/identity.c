/*
 * identity.c - IDENTITY_QUERY (protocol.h): who and where, for monitors
 * such as tt_smi: the host's name, each device's identity and each
 * process's container and pod, as IDENTITY_ROWs then ROWS_END.
 */
#include <stdlib.h>
#include <string.h>

#include "server/ingest/handlers.h"
#include "server/state/holders.h"
#include "server/state/picture.h"

/* Sends one field as as many rows as its text takes; returns the rows sent. */
static uint64_t send_field(struct client *cl, int device, pid_t pid, enum proto_identity_field field, const char *value)
{
	size_t len = strlen(value), off = 0;
	uint64_t sent = 0;
	do {
		struct proto_msg row;
		proto_msg_init(&row, PROTO_IDENTITY_ROW, device);
		row.process_id = pid;
		row.buffer_type = (uint8_t)field;
		row.size = off;
		size_t piece = len - off < PROTO_IDENTITY_PIECE ? len - off : PROTO_IDENTITY_PIECE;
		memcpy(row.u.text.text, value + off, piece);
		client_send(cl, &row);
		off += piece;
		sent++;
	} while (off < len);
	return sent;
}

static uint64_t send_device(struct client *cl, struct state *st, int device)
{
	struct picture_identity id;
	picture_device_identity(st, device, &id);
	const struct {
		enum proto_identity_field field;
		const char *value;
	} fields[] = {
		{PROTO_IDENTITY_SERIAL, id.serial},
		{PROTO_IDENTITY_ASIC_ID, id.asic_id},
		{PROTO_IDENTITY_PCI_BUS_ID, id.pci_bus_id},
		{PROTO_IDENTITY_CARD_TYPE, id.card_type},
		{PROTO_IDENTITY_UUID, id.uuid},
		{PROTO_IDENTITY_DRIVER_VERSION, id.driver_version},
	};
	uint64_t sent = 0;
	for (size_t i = 0; i < sizeof(fields) / sizeof(fields[0]); i++)
		if (fields[i].value[0])
			sent += send_field(cl, device, 0, fields[i].field, fields[i].value);
	return sent;
}

static uint64_t send_container(struct client *cl, struct state *st, pid_t pid)
{
	const struct container_info *c = containers_get(&st->containers, pid);
	if (!c)
		return 0;
	const struct {
		enum proto_identity_field field;
		const char *value;
	} fields[] = {
		{PROTO_IDENTITY_CONTAINER_ID, c->id},
		{PROTO_IDENTITY_CONTAINER_RUNTIME, c->runtime},
		{PROTO_IDENTITY_POD, c->pod},
		{PROTO_IDENTITY_NAMESPACE, c->namespace},
		{PROTO_IDENTITY_CONTAINER, c->container},
	};
	uint64_t sent = 0;
	for (size_t i = 0; i < sizeof(fields) / sizeof(fields[0]); i++)
		if (fields[i].value[0])
			sent += send_field(cl, -1, pid, fields[i].field, fields[i].value);
	return sent;
}

static int compare_pid(const void *a, const void *b)
{
	pid_t x = *(const pid_t *)a, y = *(const pid_t *)b;
	return (x > y) - (x < y);
}

/*
 * Every pid a monitor lists (reporting processes, tt-metal shm rows, the
 * kernel's untracked holders), sorted, each once. NULL when out of memory.
 */
static pid_t *listed_pids(struct state *st, size_t *count)
{
	uint32_t shm_count = 0;
	const struct ttmetal_row *shm = ttmetal_rows(&st->shm, &st->registry, &shm_count);
	int holder_count = 0;
	struct holder_entry *holders = holders_rows_all(st, &holder_count);
	pid_t *pids = calloc((size_t)st->registry.process_count + shm_count + (size_t)holder_count + 1, sizeof(*pids));
	size_t n = 0;
	if (pids) {
		REGISTRY_FOR_EACH_PROCESS (&st->registry, p)
			pids[n++] = registry_process(&st->registry, p)->pid;
		for (uint32_t i = 0; i < shm_count; i++)
			if (!shm[i].covered)
				pids[n++] = shm[i].pid;
		for (int i = 0; i < holder_count; i++)
			if (holders[i].state == DEVICE_HOLDER_UNTRACKED)
				pids[n++] = holders[i].pid;
		qsort(pids, n, sizeof(*pids), compare_pid);
	}
	free(holders);
	size_t unique = 0;
	for (size_t i = 0; i < n; i++)
		if (unique == 0 || pids[unique - 1] != pids[i])
			pids[unique++] = pids[i];
	*count = unique;
	return pids;
}

/* IDENTITY_QUERY: the host, every device, then every listed process in a container. */
void on_identity_query(struct client *cl, const struct proto_msg *msg)
{
	(void)msg;
	struct state *st = client_state(cl);
	uint64_t sent = send_field(cl, -1, 0, PROTO_IDENTITY_HOSTNAME, st->hostname);
	for (int d = 0; d < st->devices.count; d++)
		sent += send_device(cl, st, d);
	size_t n = 0;
	pid_t *pids = listed_pids(st, &n);
	for (size_t i = 0; i < n; i++)
		sent += send_container(cl, st, pids[i]);
	free(pids);
	client_send_rows_end(cl, sent);
}
