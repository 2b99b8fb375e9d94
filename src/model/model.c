/*
 * model.c - the data model's JSON objects (model.h): device, process,
 * process-on-a-device and buffer, written once for every document.
 */
#include "model/model.h"

#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/protocol.h"

json_t *model_text(const char *text)
{
	if (!text || !text[0])
		return json_null();
	json_t *s = json_string(text);
	if (s)
		return s;
	/* not UTF-8 (a process name, a sysfs file): ASCII, the rest as '?' */
	size_t len = strlen(text);
	char *copy = malloc(len + 1);
	if (!copy)
		return NULL;
	for (size_t i = 0; i <= len; i++)
		copy[i] = (unsigned char)text[i] < 0x80 ? text[i] : '?';
	s = json_string(copy);
	free(copy);
	return s;
}

json_t *model_uint(uint64_t v)
{
	return json_integer((json_int_t)(v > INT64_MAX ? INT64_MAX : v));
}

json_t *model_address(uint64_t address)
{
	char text[24];
	snprintf(text, sizeof(text), "0x%" PRIx64, address);
	return json_string(text);
}

static json_t *count_json(struct model_count c)
{
	return c.known ? model_uint(c.value) : json_null();
}

void model_set_usage(json_t *obj, const uint64_t used[TTALLOC_BUFFER_TYPES])
{
	static const struct {
		const char *key;
		enum ttalloc_buffer_type type;
	} keys[] = {
		{"dram_allocated", TTALLOC_DRAM},
		{"l1_allocated", TTALLOC_L1},
		{"l1_small_allocated", TTALLOC_L1_SMALL},
		{"trace_allocated", TTALLOC_TRACE},
		{"cb_allocated", TTALLOC_CB},
		{"kernel_allocated", TTALLOC_KERNEL},
		{"system_memory_allocated", TTALLOC_SYSTEM_MEMORY},
	};
	for (size_t i = 0; i < sizeof(keys) / sizeof(keys[0]); i++)
		json_object_set_new(obj, keys[i].key, used ? model_uint(used[keys[i].type]) : json_null());
}

json_t *model_device_json(const struct model_device *d)
{
	json_t *o = json_object();
	if (!o)
		return NULL;
	json_object_set_new(o, "device_id", json_integer(d->device_id));
	model_set_usage(o, d->used);
	json_object_set_new(o, "name", model_text(d->name));
	json_object_set_new(o, "arch", model_text(d->arch));
	json_object_set_new(o, "dram_capacity", count_json(d->dram_capacity));
	json_object_set_new(o, "l1_capacity", count_json(d->l1_capacity));
	json_object_set_new(o, "temperature_c",
			    d->temperature_known ? json_real(d->temperature_mc / 1000.0) : json_null());
	json_object_set_new(o, "power_w", d->power_known ? json_real(d->power_mw / 1000.0) : json_null());
	json_object_set_new(o, "utilization_pct",
			    d->utilization_known ? json_integer(d->utilization_pct) : json_null());
	json_object_set_new(o, "process_count", model_uint(d->process_count));
	json_object_set_new(o, "buffer_count", model_uint(d->buffer_count));
	json_object_set_new(o, "simulated", json_boolean(d->simulated));
	json_object_set_new(o, "serial", model_text(d->identity.serial));
	json_object_set_new(o, "asic_id", model_text(d->identity.asic_id));
	json_object_set_new(o, "pci_bus_id", model_text(d->identity.pci_bus_id));
	json_object_set_new(o, "card_type", model_text(d->identity.card_type));
	json_object_set_new(o, "uuid", model_text(d->identity.uuid));
	json_object_set_new(o, "driver_version", model_text(d->identity.driver_version));
	return o;
}

void model_set_container(json_t *obj, const struct container_info *c)
{
	json_object_set_new(obj, "container_id", model_text(c ? c->id : NULL));
	json_object_set_new(obj, "container_runtime", model_text(c ? c->runtime : NULL));
	json_object_set_new(obj, "pod", model_text(c ? c->pod : NULL));
	json_object_set_new(obj, "namespace", model_text(c ? c->namespace : NULL));
	json_object_set_new(obj, "container", model_text(c ? c->container : NULL));
}

json_t *model_process_json(const struct model_process *p, json_t *devices)
{
	json_t *o = json_object();
	if (!o) {
		json_decref(devices);
		return NULL;
	}
	json_object_set_new(o, "pid", json_integer(p->pid));
	json_object_set_new(o, "name", model_text(p->name));
	json_object_set_new(o, "user", model_text(p->user));
	json_object_set_new(o, "uid", count_json(p->uid));
	json_object_set_new(o, "session", model_text(p->session));
	json_object_set_new(o, "source", json_string(p->source));
	json_object_set_new(o, "tracked", json_boolean(p->tracked));
	json_object_set_new(o, "vanished", json_boolean(p->vanished));
	json_object_set_new(o, "exited", json_boolean(p->exited));
	json_object_set_new(o, "stale", json_boolean(p->stale));
	json_object_set_new(o, "connection_count", count_json(p->connection_count));
	json_object_set_new(o, "buffer_count", count_json(p->buffer_count));
	json_object_set_new(o, "first_seen", count_json(p->first_seen));
	json_object_set_new(o, "exit_time", count_json(p->exit_time));
	model_set_usage(o, p->used);
	json_object_set_new(o, "devices", devices ? devices : json_array());
	model_set_container(o, p->container);
	return o;
}

json_t *model_process_device_json(const struct model_process_device *d)
{
	json_t *o = json_object();
	if (!o)
		return NULL;
	json_object_set_new(o, "device_id", json_integer(d->device_id));
	model_set_usage(o, d->used);
	json_object_set_new(o, "buffer_count", count_json(d->buffer_count));
	json_object_set_new(o, "vanished", json_boolean(d->vanished));
	return o;
}

json_t *model_buffer_json(int device, uint64_t address, uint64_t size, unsigned type, pid_t pid, const char *name)
{
	json_t *o = json_object();
	if (!o)
		return NULL;
	json_object_set_new(o, "device_id", json_integer(device));
	json_object_set_new(o, "address", model_address(address));
	json_object_set_new(o, "size", model_uint(size));
	json_object_set_new(o, "type", json_string(proto_buffer_type_name(type)));
	json_object_set_new(o, "pid", json_integer(pid));
	json_object_set_new(o, "name", model_text(name));
	return o;
}
