/*
 * json_out.c - tt_smi --json (smi.h): a snapshot as one JSON object, built
 * with jansson. Its device and process objects are the data model's
 * (src/model, docs/DATA_MODEL.md): the same writers and names as the HTTP
 * API's /api/devices and /api/processes, the seed's query_device_stats()
 * keys first; what the socket does not tell (a process's connections, its
 * session) is null, never a made-up zero.
 */
#include <stdlib.h>
#include <string.h>

#include <jansson.h>

#include "model/model.h"
#include "smi/smi.h"

#define TEXT_LEN 256

/* Adds `value` under `key`; a NULL value (out of memory) marks the object as failed. */
void smi_json_set(json_t *obj, const char *key, json_t *value, int *failed)
{
	if (!value || json_object_set_new(obj, key, value) < 0)
		*failed = 1;
}

/* This file's short name for smi_json_set. */
static inline void set(json_t *obj, const char *key, json_t *value, int *failed)
{
	smi_json_set(obj, key, value, failed);
}

/* Text from another program, sanitised (valid UTF-8, no control characters), into `clean`. */
static const char *clean_text(char clean[TEXT_LEN], const char *text)
{
	smi_text_sanitize(clean, TEXT_LEN, text);
	return clean;
}

static json_t *device_json(const struct snapshot_device *dev)
{
	const struct proto_seed_payload *seed = &dev->seed;
	const struct proto_status_payload *st = &dev->status;
	char name[TEXT_LEN], ident[6][TEXT_LEN];
	struct model_device m = {
		.device_id = dev->index,
		.name = clean_text(name, st->name),
		.arch = seed->arch_type ? proto_arch_name(seed->arch_type) : NULL,
		.dram_capacity = {seed->total_dram_size != 0, seed->total_dram_size},
		.l1_capacity = {seed->total_l1_size != 0, seed->total_l1_size},
		.temperature_known = (st->valid & PROTO_STATUS_TEMPERATURE) != 0,
		.temperature_mc = st->temperature_mc,
		.power_known = (st->valid & PROTO_STATUS_POWER) != 0,
		.power_mw = st->power_mw,
		.utilization_known = (st->valid & PROTO_STATUS_UTILIZATION) != 0,
		.utilization_pct = st->utilization,
		.process_count = st->processes,
		.buffer_count = st->live_buffers,
		.simulated = st->backend_flags & 1u,
		.identity = {clean_text(ident[0], dev->ident.serial), clean_text(ident[1], dev->ident.asic_id),
			     clean_text(ident[2], dev->ident.pci_bus_id), clean_text(ident[3], dev->ident.card_type),
			     clean_text(ident[4], dev->ident.uuid), clean_text(ident[5], dev->ident.driver_version)},
	};
	m.used[TTALLOC_DRAM] = seed->dram_allocated;
	m.used[TTALLOC_L1] = seed->l1_allocated;
	m.used[TTALLOC_L1_SMALL] = seed->l1_small_allocated;
	m.used[TTALLOC_TRACE] = seed->trace_allocated;
	m.used[TTALLOC_CB] = st->cb_allocated;
	m.used[TTALLOC_KERNEL] = dev->kernel_allocated;
	m.used[TTALLOC_SYSTEM_MEMORY] = st->system_memory;
	return model_device_json(&m);
}

/* A process row's bytes per buffer type. */
static void row_usage(const struct snapshot_process *p, uint64_t used[TTALLOC_BUFFER_TYPES])
{
	used[TTALLOC_DRAM] = p->usage.used[SMI_USED_DRAM];
	used[TTALLOC_L1] = p->usage.used[SMI_USED_L1];
	used[TTALLOC_L1_SMALL] = p->usage.used[SMI_USED_L1_SMALL];
	used[TTALLOC_TRACE] = p->usage.used[SMI_USED_TRACE];
	used[TTALLOC_CB] = p->usage.cb;
	used[TTALLOC_KERNEL] = p->kernel;
	used[TTALLOC_SYSTEM_MEMORY] = p->usage.system_memory;
}

static int by_pid_device(const void *x, const void *y)
{
	const struct snapshot_process *a = *(const struct snapshot_process *const *)x;
	const struct snapshot_process *b = *(const struct snapshot_process *const *)y;
	if (a->pid != b->pid)
		return a->pid < b->pid ? -1 : 1;
	return (a->device > b->device) - (a->device < b->device);
}

/*
 * One reporting process from its rows rows[0..n) (one per device, same
 * pid): the process object of /api/processes.
 */
static json_t *process_json(const struct snapshot *snap, const struct snapshot_process *const *rows, size_t n)
{
	const struct snapshot_process *p = rows[0];
	int shm = (p->usage.flags & PROTO_PROCESS_SHM) != 0;
	uint64_t sum[TTALLOC_BUFFER_TYPES] = {0}, buffers = 0;
	int vanished = 0, stale = 1, exited = 1;
	json_t *devices = json_array();
	for (size_t i = 0; i < n; i++) {
		const struct snapshot_process *r = rows[i];
		uint64_t used[TTALLOC_BUFFER_TYPES];
		row_usage(r, used);
		const char *marker = smi_holder_marker(snap, r->device, r->pid);
		int row_stale = (r->usage.flags & PROTO_PROCESS_STALE) != 0;
		/* a tt-metal shm row has totals only: no buffer count */
		struct model_process_device d = {r->device, used, shm ? MODEL_UNKNOWN : MODEL_KNOWN(r->buffers),
						 !shm && marker && strcmp(marker, "vanished") == 0};
		json_t *du = model_process_device_json(&d);
		if (du && shm)
			json_object_set_new(du, "stale", json_boolean(row_stale));
		json_array_append_new(devices, du);
		vanished |= d.vanished;
		stale &= row_stale;
		exited &= (r->usage.flags & PROTO_PROCESS_EXITED) != 0;
		buffers += r->buffers;
		if (!row_stale)
			for (int t = 0; t < TTALLOC_BUFFER_TYPES; t++)
				sum[t] += used[t];
	}
	char name[TEXT_LEN], user[TEXT_LEN];
	struct model_process m = {
		.pid = p->pid,
		.name = clean_text(name, p->usage.comm),
		.user = clean_text(user, p->user),
		.uid = p->usage.uid != PROTO_UID_UNKNOWN ? MODEL_KNOWN(p->usage.uid) : MODEL_UNKNOWN,
		.source = shm ? "tt-metal shm" : "socket",
		.tracked = 1,
		.vanished = vanished,
		.exited = !shm && exited,
		.stale = shm && stale,
		.connection_count = MODEL_UNKNOWN,
		.buffer_count = shm ? MODEL_UNKNOWN : MODEL_KNOWN(buffers),
		.first_seen = shm ? MODEL_UNKNOWN : MODEL_KNOWN(p->since_ns / 1000000u),
		.exit_time = MODEL_UNKNOWN,
		.used = sum,
		.container = snapshot_container(snap, p->pid),
	};
	json_t *obj = model_process_json(&m, devices);
	if (obj && shm)
		json_object_set_new(obj, "updated", model_uint(p->since_ns / 1000000u));
	return obj;
}

/*
 * A process that holds devices without reporting (the kernel's view), from
 * its HOLDER_ROWs holders[first..]: who it is when /proc tells, its totals
 * null, used_bytes the driver's figure when NVML gives one.
 */
static json_t *holder_json(const struct snapshot *snap, size_t first)
{
	const struct snapshot_holder *h = &snap->holders[first];
	json_t *devices = json_array();
	uint64_t memory = 0;
	int memory_known = 1;
	for (size_t i = first; i < snap->num_holders; i++) {
		const struct snapshot_holder *r = &snap->holders[i];
		if (r->pid != h->pid || r->row.state != PROTO_HOLDER_UNTRACKED)
			continue;
		int known = (r->row.flags & PROTO_HOLDER_MEMORY) != 0;
		struct model_process_device d = {r->device, NULL, MODEL_UNKNOWN, 0};
		json_t *du = model_process_device_json(&d);
		if (du) {
			json_object_set_new(du, "used_bytes", known ? model_uint(r->row.memory) : json_null());
			json_t *seen = json_array();
			if (r->row.flags & PROTO_HOLDER_DRIVER)
				json_array_append_new(seen, json_string("driver"));
			if (r->row.flags & PROTO_HOLDER_FD)
				json_array_append_new(seen, json_string("fd"));
			json_object_set_new(du, "seen_by", seen);
		}
		json_array_append_new(devices, du);
		memory += r->row.memory;
		memory_known &= known;
	}
	char name[TEXT_LEN], user[TEXT_LEN];
	struct model_process m = {
		.pid = h->pid,
		.name = clean_text(name, h->row.comm),
		.user = clean_text(user, h->user),
		.uid = h->row.flags & PROTO_HOLDER_UID ? MODEL_KNOWN(h->row.uid) : MODEL_UNKNOWN,
		.source = "kernel",
		.connection_count = MODEL_KNOWN(0),
		.container = snapshot_container(snap, h->pid),
	};
	json_t *obj = model_process_json(&m, devices);
	if (obj)
		json_object_set_new(obj, "used_bytes", memory_known ? model_uint(memory) : json_null());
	return obj;
}

/* Appends `item` to `list`; a NULL item marks the list as failed. */
void smi_json_append(json_t *list, json_t *item, int *failed)
{
	if (!item || json_array_append_new(list, item) < 0)
		*failed = 1;
}

/* This file's short name for smi_json_append. */
static inline void append(json_t *list, json_t *item, int *failed)
{
	smi_json_append(list, item, failed);
}

/* The latest post-mortem of the snapshot's /api/oom?limit=1 document (issue 13), or null. */
static json_t *latest_oom(const struct snapshot *snap)
{
	json_t *doc = snap->oom_document ? json_loads(snap->oom_document, 0, NULL) : NULL;
	json_t *report = json_array_get(json_object_get(doc, "reports"), 0);
	json_t *out = report ? json_incref(report) : json_null();
	json_decref(doc);
	return out;
}

/* The reporting processes, one object per pid, in pid order. */
static void append_processes(json_t *list, const struct snapshot *snap, int *failed)
{
	const struct snapshot_process **rows = malloc((snap->num_processes + 1) * sizeof(*rows));
	if (!rows) {
		*failed = 1;
		return;
	}
	for (size_t i = 0; i < snap->num_processes; i++)
		rows[i] = &snap->processes[i];
	qsort(rows, snap->num_processes, sizeof(*rows), by_pid_device);
	for (size_t i = 0, j; i < snap->num_processes; i = j) {
		for (j = i + 1; j < snap->num_processes && rows[j]->pid == rows[i]->pid; j++)
			;
		append(list, process_json(snap, rows + i, j - i), failed);
	}
	free(rows);
}

/* 1 when holders[i] is the first untracked row of its pid. */
static int first_untracked(const struct snapshot *snap, size_t i)
{
	if (snap->holders[i].row.state != PROTO_HOLDER_UNTRACKED)
		return 0;
	for (size_t j = 0; j < i; j++)
		if (snap->holders[j].pid == snap->holders[i].pid &&
		    snap->holders[j].row.state == PROTO_HOLDER_UNTRACKED)
			return 0;
	return 1;
}

/* The whole snapshot as a JSON object, or NULL when out of memory. */
static json_t *snapshot_json(const struct snapshot *snap)
{
	int failed = 0;
	char host[TEXT_LEN];
	json_t *root = json_object(), *devices = json_array(), *processes = json_array();
	if (!root || !devices || !processes) {
		json_decref(root);
		json_decref(devices);
		json_decref(processes);
		return NULL;
	}
	for (uint32_t i = 0; i < snap->num_devices; i++)
		append(devices, device_json(&snap->devices[i]), &failed);
	append_processes(processes, snap, &failed);
	for (size_t i = 0; i < snap->num_holders; i++)
		if (first_untracked(snap, i))
			append(processes, holder_json(snap, i), &failed);
	set(root, "time", model_uint(snap->taken_ns / 1000000u), &failed);
	set(root, "hostname", model_text(clean_text(host, snap->hostname)), &failed);
	set(root, "devices", devices, &failed);
	set(root, "processes", processes, &failed);
	set(root, "oom", latest_oom(snap), &failed);
	if (failed) {
		json_decref(root);
		return NULL;
	}
	return root;
}

int smi_json_print(struct strbuf *out, json_t *root, size_t flags)
{
	char *text = root ? json_dumps(root, flags | MODEL_REAL_PRECISION) : NULL;
	json_decref(root);
	if (!text)
		return TTALLOC_ENOMEM;
	strbuf_addf(out, "%s\n", text);
	free(text);
	return out->failed ? TTALLOC_ENOMEM : 0;
}

int smi_json_snapshot(struct strbuf *out, const struct snapshot *snap, int compact)
{
	/* 10 digits: milli-units print as 38.027, not 38.027000000000001 */
	return smi_json_print(out, snapshot_json(snap),
			      JSON_REAL_PRECISION(10) | (compact ? JSON_COMPACT : JSON_INDENT(2)));
}
