/*
 * json_out.c - tt_smi --json (smi.h): a snapshot as one JSON object, built
 * with jansson. Device objects carry the seed's query_device_stats() keys
 * first, so scripts written for the seed's Python client read them as they
 * are; readings a device does not give are null, never a made-up zero.
 */
#include <stdlib.h>
#include <string.h>

#include <jansson.h>

#include "smi/smi.h"

#define TEXT_LEN 256

/* Text from another program, sanitised (valid UTF-8, no control characters); null when empty. */
static json_t *text_json(const char *text)
{
	char clean[TEXT_LEN];
	if (!text[0])
		return json_null();
	smi_text_sanitize(clean, sizeof(clean), text);
	return json_string(clean);
}

static json_t *bytes_json(uint64_t bytes)
{
	return json_integer((json_int_t)bytes);
}

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

static json_t *device_json(const struct snapshot_device *dev, int *failed)
{
	const struct proto_seed_payload *seed = &dev->seed;
	const struct proto_status_payload *st = &dev->status;
	json_t *obj = json_object();
	if (!obj) {
		*failed = 1;
		return NULL;
	}
	set(obj, "device_id", json_integer(dev->index), failed);
	set(obj, "dram_allocated", bytes_json(seed->dram_allocated), failed);
	set(obj, "l1_allocated", bytes_json(seed->l1_allocated), failed);
	set(obj, "l1_small_allocated", bytes_json(seed->l1_small_allocated), failed);
	set(obj, "trace_allocated", bytes_json(seed->trace_allocated), failed);
	set(obj, "cb_allocated", bytes_json(st->cb_allocated), failed);
	set(obj, "kernel_allocated", bytes_json(dev->kernel_allocated), failed);
	set(obj, "system_memory_allocated", bytes_json(st->system_memory), failed);
	set(obj, "name", text_json(st->name), failed);
	set(obj, "arch", seed->arch_type ? json_string(proto_arch_name(seed->arch_type)) : json_null(), failed);
	set(obj, "dram_total", bytes_json(seed->total_dram_size), failed);
	set(obj, "l1_total", bytes_json(seed->total_l1_size), failed);
	set(obj, "temperature_c",
	    st->valid & PROTO_STATUS_TEMPERATURE ? json_real(st->temperature_mc / 1000.0) : json_null(), failed);
	set(obj, "power_w", st->valid & PROTO_STATUS_POWER ? json_real(st->power_mw / 1000.0) : json_null(), failed);
	set(obj, "utilization", st->valid & PROTO_STATUS_UTILIZATION ? json_integer(st->utilization) : json_null(),
	    failed);
	set(obj, "buffers", bytes_json(st->live_buffers), failed);
	set(obj, "processes", json_integer(st->processes), failed);
	set(obj, "simulated", json_boolean(st->backend_flags & 1u), failed);
	set(obj, "serial", text_json(dev->ident.serial), failed);
	set(obj, "asic_id", text_json(dev->ident.asic_id), failed);
	set(obj, "pci_bus_id", text_json(dev->ident.pci_bus_id), failed);
	set(obj, "card_type", text_json(dev->ident.card_type), failed);
	set(obj, "uuid", text_json(dev->ident.uuid), failed);
	set(obj, "driver_version", text_json(dev->ident.driver_version), failed);
	return obj;
}

/* A process's container keys: container_id, container_runtime, pod, namespace, container (null when none). */
static void set_container(json_t *obj, const struct snapshot *snap, pid_t pid, int *failed)
{
	const struct container_info *c = snapshot_container(snap, pid);
	set(obj, "container_id", text_json(c ? c->id : ""), failed);
	set(obj, "container_runtime", text_json(c ? c->runtime : ""), failed);
	set(obj, "pod", text_json(c ? c->pod : ""), failed);
	set(obj, "namespace", text_json(c ? c->namespace : ""), failed);
	set(obj, "container", text_json(c ? c->container : ""), failed);
}

static json_t *process_json(const struct snapshot *snap, const struct snapshot_process *p, int *failed)
{
	const char *marker = smi_holder_marker(snap, p->device, p->pid);
	json_t *obj = json_object();
	if (!obj) {
		*failed = 1;
		return NULL;
	}
	set(obj, "pid", json_integer(p->pid), failed);
	set(obj, "name", text_json(p->usage.comm), failed);
	set(obj, "user", text_json(p->user), failed);
	set(obj, "device", json_integer(p->device), failed);
	set(obj, "dram", bytes_json(p->usage.used[SMI_USED_DRAM]), failed);
	set(obj, "l1", bytes_json(p->usage.used[SMI_USED_L1]), failed);
	set(obj, "l1_small", bytes_json(p->usage.used[SMI_USED_L1_SMALL]), failed);
	set(obj, "trace", bytes_json(p->usage.used[SMI_USED_TRACE]), failed);
	set(obj, "cb", bytes_json(p->usage.cb), failed);
	set(obj, "kernel", bytes_json(p->kernel), failed);
	set(obj, "system_memory", bytes_json(p->usage.system_memory), failed);
	int shm = (p->usage.flags & PROTO_PROCESS_SHM) != 0;
	/* a tt-metal shm row has totals only: no buffer count */
	set(obj, "buffers", shm ? json_null() : bytes_json(p->buffers), failed);
	set(obj, "tracked", json_true(), failed);
	set(obj, "vanished", json_boolean(!shm && marker && strcmp(marker, "vanished") == 0), failed);
	set(obj, "source", json_string(shm ? "tt-metal shm" : "socket"), failed);
	set(obj, "stale", json_boolean((p->usage.flags & PROTO_PROCESS_STALE) != 0), failed);
	set(obj, "exited", json_boolean(!shm && (p->usage.flags & PROTO_PROCESS_EXITED)), failed);
	set_container(obj, snap, p->pid, failed);
	return obj;
}

/*
 * A process that holds a device without reporting (the kernel's view): who
 * it is when /proc tells, memory null (dram: the driver's figure when NVML
 * gives one).
 */
static json_t *holder_json(const struct snapshot *snap, const struct snapshot_holder *h, int *failed)
{
	static const char *const unknown[] = {"l1", "l1_small", "trace", "cb", "system_memory", "buffers"};
	json_t *obj = json_object();
	if (!obj) {
		*failed = 1;
		return NULL;
	}
	set(obj, "pid", json_integer(h->pid), failed);
	set(obj, "name", text_json(h->row.comm), failed);
	set(obj, "user", text_json(h->user), failed);
	set(obj, "device", json_integer(h->device), failed);
	set(obj, "dram", h->row.flags & PROTO_HOLDER_MEMORY ? bytes_json(h->row.memory) : json_null(), failed);
	for (size_t i = 0; i < sizeof(unknown) / sizeof(unknown[0]); i++)
		set(obj, unknown[i], json_null(), failed);
	set(obj, "tracked", json_false(), failed);
	set(obj, "vanished", json_false(), failed);
	set(obj, "source", json_string("kernel"), failed);
	set_container(obj, snap, h->pid, failed);
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

/* The whole snapshot as a JSON object, or NULL when out of memory. */
static json_t *snapshot_json(const struct snapshot *snap)
{
	int failed = 0;
	char when[64];
	const struct snapshot_process **sorted = smi_processes_sorted(snap);
	json_t *root = json_object(), *devices = json_array(), *processes = json_array();
	if (!sorted || !root || !devices || !processes) {
		free(sorted);
		json_decref(root);
		json_decref(devices);
		json_decref(processes);
		return NULL;
	}
	smi_format_clock(when, sizeof(when), snap->taken_ns, SMI_CLOCK_ISO, 6);
	for (uint32_t i = 0; i < snap->num_devices; i++)
		append(devices, device_json(&snap->devices[i], &failed), &failed);
	for (size_t i = 0; i < snap->num_processes; i++)
		append(processes, process_json(snap, sorted[i], &failed), &failed);
	free(sorted);
	for (size_t i = 0; i < snap->num_holders; i++)
		if (snap->holders[i].row.state == PROTO_HOLDER_UNTRACKED)
			append(processes, holder_json(snap, &snap->holders[i], &failed), &failed);
	set(root, "timestamp", json_string(when), &failed);
	set(root, "hostname", text_json(snap->hostname), &failed);
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
	char *text = root ? json_dumps(root, flags) : NULL;
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
