/*
 * api_identity.c - the fleet identity keys of the JSON API (api.h): each
 * device's serial, asic_id, pci_bus_id, card_type and uuid, each process's
 * container and pod; null where unknown.
 */
#include "server/http/api.h"
#include "server/http/json_util.h"
#include "server/server.h"
#include "server/state/picture.h"

/* obj[key] = value, or null when value is "". */
static void set_or_null(json_t *obj, const char *key, const char *value)
{
	json_object_set_new(obj, key, value && value[0] ? json_string(value) : json_null());
}

void api_set_device_identity(json_t *obj, struct server *s, int device)
{
	struct picture_identity id;
	picture_device_identity(&s->state, device, &id);
	set_or_null(obj, "serial", id.serial);
	set_or_null(obj, "asic_id", id.asic_id);
	set_or_null(obj, "pci_bus_id", id.pci_bus_id);
	set_or_null(obj, "card_type", id.card_type);
	set_or_null(obj, "uuid", id.uuid);
	set_or_null(obj, "driver_version", id.driver_version);
}

void api_set_container(json_t *obj, struct server *s)
{
	json_t *pid = json_object_get(obj, "pid");
	const struct container_info *c = json_is_integer(pid)
		? containers_get(&s->state.containers, (pid_t)json_integer_value(pid))
		: NULL;
	set_or_null(obj, "container_id", c ? c->id : NULL);
	set_or_null(obj, "container_runtime", c ? c->runtime : NULL);
	set_or_null(obj, "pod", c ? c->pod : NULL);
	set_or_null(obj, "namespace", c ? c->namespace : NULL);
	set_or_null(obj, "container", c ? c->container : NULL);
}
