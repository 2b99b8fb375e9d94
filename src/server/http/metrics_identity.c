/*
 * metrics_identity.c - who is answering /metrics: the build, the start
 * time, the host, and each device's identity labels (metrics_identity.h).
 */
#include "server/http/metrics_identity.h"

#include <inttypes.h>

#include "common/clock.h"
#include "common/version.h"
#include "server/http/metrics_text.h"
#include "server/server.h"
#include "server/state/picture.h"

void metrics_identity(struct strbuf *t, struct server *s)
{
	metrics_family(t, "ttalloc_build_info", "gauge",
		       "The server's version and the git commit it was built from: always 1.");
	strbuf_addf(t, "ttalloc_build_info{version=\"%s\",revision=\"%s\"} 1\n", metrics_esc(TTALLOC_VERSION).v,
		    metrics_esc(ttalloc_revision).v);
	metrics_family(t, "ttalloc_server_start_time_seconds", "gauge",
		       "When the server started, in seconds since the epoch.");
	strbuf_addf(t, "ttalloc_server_start_time_seconds %.3f\n", (double)s->start_real_ns / 1e9);
	metrics_family(t, "ttalloc_host_info", "gauge",
		       "The host this server reports on (--hostname, else the system's host name): always 1.");
	strbuf_addf(t, "ttalloc_host_info{hostname=\"%s\"} 1\n", metrics_esc(s->state.hostname).v);
}

/* Appends ,name="value" when the value is known. */
static void optional_label(struct strbuf *t, const char *name, const char *value)
{
	if (value[0])
		strbuf_addf(t, ",%s=\"%s\"", name, metrics_esc(value).v);
}

void metrics_device_info(struct strbuf *t, struct server *s, int device)
{
	const struct device *dev = &s->state.devices.devices[device];
	struct picture_identity id;
	picture_device_identity(&s->state, device, &id);
	strbuf_addf(t, "ttalloc_device_info{device=\"%d\",name=\"%s\",arch=\"%s\",simulated=\"%s\"", device,
		    metrics_esc(dev->info.name).v, metrics_esc(proto_arch_name(dev->info.arch)).v,
		    id.simulated ? "true" : "false");
	optional_label(t, "serial", id.serial);
	optional_label(t, "asic_id", id.asic_id);
	optional_label(t, "pci_bus_id", id.pci_bus_id);
	optional_label(t, "card_type", id.card_type);
	optional_label(t, "uuid", id.uuid);
	optional_label(t, "driver_version", id.driver_version);
	strbuf_addstr(t, "} 1\n");
}
