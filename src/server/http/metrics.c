/*
 * metrics.c - GET /metrics in the Prometheus text exposition format 0.0.4
 * (see api.h): HELP and TYPE once per family, then one line per series.
 *
 * Gauges follow the live registry; counters count since start-up. Device and
 * process label values come from the registry (the process name is the
 * client's /proc comm, which the client chooses, so every label value is
 * escaped).
 */
#include <inttypes.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/strbuf.h"
#include "server/http/api.h"
#include "server/http/json_util.h"
#include "server/http/limits.h"
#include "server/http/metrics_identity.h"
#include "server/http/metrics_process.h"
#include "server/http/metrics_text.h"
#include "server/server.h"
#include "server/state/holders.h"
#include "server/state/picture.h"

static void device_metrics(struct strbuf *t, struct server *s)
{
	int n = s->state.devices.count;
	metrics_family(t, "ttalloc_device_info", "gauge",
		       "Device identity: always 1, labelled with name, architecture and, where known, serial, "
		       "asic_id, pci_bus_id, card_type, uuid and driver_version (made up from host and index when "
		       "simulated).");
	for (int d = 0; d < n; d++)
		metrics_device_info(t, s, d);
	metrics_family(t, "ttalloc_device_memory_used_bytes", "gauge",
		       "Bytes in use on the device, by buffer type: live buffers reported through the socket plus "
		       "processes only tt-metal's shared memory reports (system_memory is host memory).");
	for (int d = 0; d < n; d++) {
		uint64_t used[TTALLOC_BUFFER_TYPES];
		picture_device_used(&s->state, d, used);
		for (unsigned type = 0; type < TTALLOC_BUFFER_TYPES; type++)
			strbuf_addf(t, "ttalloc_device_memory_used_bytes{device=\"%d\",type=\"%s\"} %" PRIu64 "\n", d,
				    metrics_type_label(type), used[type]);
	}
	metrics_family(
		t, "ttalloc_device_memory_total_bytes", "gauge",
		"Capacity of the device memory (dram: DRAM and trace buffers; l1: L1, L1_SMALL, CB and kernels).");
	for (int d = 0; d < n; d++) {
		const struct device *dev = &s->state.devices.devices[d];
		/* an unknown capacity has no sample (not 0) */
		if (picture_capacity_known(&s->state, d, 0))
			strbuf_addf(t, "ttalloc_device_memory_total_bytes{device=\"%d\",type=\"dram\"} %" PRIu64 "\n",
				    d, dev->info.dram_total);
		if (picture_capacity_known(&s->state, d, 1))
			strbuf_addf(t, "ttalloc_device_memory_total_bytes{device=\"%d\",type=\"l1\"} %" PRIu64 "\n", d,
				    dev->info.l1_total);
	}
	metrics_family(t, "ttalloc_live_buffers", "gauge", "Live buffers on the device.");
	for (int d = 0; d < n; d++)
		strbuf_addf(t, "ttalloc_live_buffers{device=\"%d\"} %" PRIu64 "\n", d,
			    s->state.registry.devices[d].buffers);
	metrics_family(t, "ttalloc_device_processes", "gauge", "Processes holding at least one buffer on the device.");
	for (int d = 0; d < n; d++)
		strbuf_addf(t, "ttalloc_device_processes{device=\"%d\"} %u\n", d,
			    picture_device_processes(&s->state, d));

	/* Readings: a series only where the backend could read it (absent, not 0, when unknown). */
	for (int d = 0; d < n; d++)
		picture_refresh_readings(&s->state, d);
	metrics_family(t, "ttalloc_device_temperature_celsius", "gauge",
		       "Device temperature, when the backend can read it.");
	for (int d = 0; d < n; d++) {
		const struct device *dev = &s->state.devices.devices[d];
		if (DEVICE_READING_VALID(&dev->now, DEVICE_TEMPERATURE))
			strbuf_addf(t, "ttalloc_device_temperature_celsius{device=\"%d\"} %.3f\n", d,
				    dev->now.temperature_mc / 1000.0);
	}
	metrics_family(t, "ttalloc_device_power_watts", "gauge", "Device power draw, when the backend can read it.");
	for (int d = 0; d < n; d++) {
		const struct device *dev = &s->state.devices.devices[d];
		if (DEVICE_READING_VALID(&dev->now, DEVICE_POWER))
			strbuf_addf(t, "ttalloc_device_power_watts{device=\"%d\"} %.3f\n", d,
				    dev->now.power_mw / 1000.0);
	}
}

/*
 * tt-metal's shared memory (the use of processes only it reports is ranked
 * with the socket's in metrics_process.c): slots of dead processes as
 * ttalloc_process_stale_memory_bytes (what the slot still claims, not in
 * use); the state of each region file; per-chip rows of each region.
 */
static void ttmetal_process_metrics(struct strbuf *t, struct server *s)
{
	uint32_t n = 0;
	const struct ttmetal_row *rows = ttmetal_rows(&s->state.shm, &s->state.registry, &n);
	metrics_family(t, "ttalloc_process_stale_memory_bytes", "gauge",
		       "Bytes a tt-metal shared-memory slot still claims for a process that is gone (killed before it "
		       "released them); counted once in ttalloc_leaked_bytes_total, not in use.");
	for (uint32_t i = 0; i < n; i++) {
		const struct ttmetal_row *r = &rows[i];
		if (r->covered || !r->stale)
			continue;
		struct metrics_value name = metrics_esc(r->name);
		for (unsigned type = 0; type < TTALLOC_BUFFER_TYPES; type++)
			if (r->used[type] || type == TTALLOC_DRAM || type == TTALLOC_L1)
				strbuf_addf(
					t,
					"ttalloc_process_stale_memory_bytes{device=\"%d\",pid=\"%d\",process=\"%s\","
					"type=\"%s\",source=\"tt-metal shm\"} %" PRIu64 "\n",
					r->device, (int)r->pid, name.v, metrics_type_label(type), r->used[type]);
	}
	const struct ttmetal_view *v = &s->state.shm;
	metrics_family(t, "ttalloc_ttmetal_shm_regions", "gauge",
		       "tt-metal shared-memory region files (/dev/shm/tt_device_*_memory) by state: ok, or why they "
		       "give no numbers (bad_version, not_ready, truncated, unstable, unreadable, no_device).");
	if (v->enabled) {
		static const char *const states[] = {"ok",       "truncated",  "bad_version", "not_ready",
						     "unstable", "unreadable", "no_device"};
		for (size_t k = 0; k < sizeof(states) / sizeof(states[0]); k++) {
			unsigned count = 0;
			for (uint32_t i = 0; i < v->region_count; i++) {
				const struct ttmetal_region *reg = &v->regions[i];
				int no_device = reg->status == TTMETAL_SHM_OK && reg->device < 0;
				const char *state = no_device ? "no_device" : ttmetal_shm_status_name(reg->status);
				count += strcmp(state, states[k]) == 0;
			}
			strbuf_addf(t, "ttalloc_ttmetal_shm_regions{state=\"%s\"} %u\n", states[k], count);
		}
	}
	metrics_family(t, "ttalloc_ttmetal_chip_memory_used_bytes", "gauge",
		       "Per-chip rows of tt-metal's shared-memory regions: bytes on each chip reached through the "
		       "region's device (remote=\"true\" for a remote chip, n300 R, Galaxy).");
	for (uint32_t i = 0; i < v->region_count; i++) {
		const struct ttmetal_region *reg = &v->regions[i];
		if (reg->status != TTMETAL_SHM_OK || reg->device < 0)
			continue;
		static const char *const kinds[TTMETAL_SHM_KINDS] = {"dram", "l1", "l1_small", "trace", "cb"};
		for (uint32_t c = 0; c < reg->chip_count; c++)
			for (int k = 0; k < TTMETAL_SHM_KINDS; k++)
				strbuf_addf(t,
					    "ttalloc_ttmetal_chip_memory_used_bytes{device=\"%d\",chip=\"%u\",remote="
					    "\"%s\","
					    "type=\"%s\"} %" PRIu64 "\n",
					    reg->device, reg->chips[c].chip_id, reg->chips[c].remote ? "true" : "false",
					    kinds[k], reg->chips[c].used[k]);
	}
}

static void process_metrics(struct strbuf *t, struct server *s, const struct metrics_selection *sel)
{
	struct registry *r = &s->state.registry;
	metrics_process_memory(t, s, sel);
	ttmetal_process_metrics(t, s);
	metrics_family(t, "ttalloc_processes", "gauge", "Processes connected to the server or holding buffers.");
	strbuf_addf(t, "ttalloc_processes %u\n", r->process_count);
	metrics_family(t, "ttalloc_client_connections", "gauge", "Open client connections.");
	strbuf_addf(t, "ttalloc_client_connections %u\n", s->ingest.conns.count);
}

/*
 * The kernel's view of who holds each device against ttalloc's: counts of
 * untracked and vanished processes (only for devices the kernel can tell
 * about: none for simulated ones, not 0), and one info series per process
 * and device. Untracked processes have no memory sample: it is unknown.
 */
static void holder_metrics(struct strbuf *t, struct server *s, const struct metrics_selection *sel)
{
	static const char *const state_label[] = {
		[DEVICE_HOLDER_TRACKED] = "tracked",
		[DEVICE_HOLDER_UNTRACKED] = "untracked",
		[DEVICE_HOLDER_VANISHED] = "vanished",
	};
	int n = s->state.devices.count;
	struct holder_entry *rows[PROTO_MAX_DEVICES] = {NULL};
	int counts[PROTO_MAX_DEVICES] = {0};
	for (int d = 0; d < n; d++)
		rows[d] = holders_rows(&s->state, d, &counts[d]);
	metrics_family(t, "ttalloc_untracked_processes", "gauge",
		       "Processes holding the device (the kernel's view) that never reported to ttalloc.");
	for (int d = 0; d < n; d++) {
		int untracked = 0;
		for (int i = 0; i < counts[d]; i++)
			untracked += rows[d][i].state == DEVICE_HOLDER_UNTRACKED;
		if (holders_available(&s->state, d))
			strbuf_addf(t, "ttalloc_untracked_processes{device=\"%d\"} %d\n", d, untracked);
	}
	metrics_family(t, "ttalloc_vanished_processes", "gauge",
		       "Processes with buffers on the device that the driver no longer lists.");
	for (int d = 0; d < n; d++) {
		int vanished = 0;
		for (int i = 0; i < counts[d]; i++)
			vanished += rows[d][i].state == DEVICE_HOLDER_VANISHED;
		if (holders_available(&s->state, d))
			strbuf_addf(t, "ttalloc_vanished_processes{device=\"%d\"} %d\n", d, vanished);
	}
	metrics_family(t, "ttalloc_process_info", "gauge",
		       "A process using a device, always 1: tracked=\"false\" for one that holds it without reporting "
		       "(state untracked), state vanished for one the driver no longer lists.");
	for (int d = 0; d < n; d++) {
		uint32_t flagged = 0;
		for (int i = 0; i < counts[d]; i++) {
			const struct holder_entry *e = &rows[d][i];
			if (!metrics_process_info_shown(s, sel, d, e->pid, e->state != DEVICE_HOLDER_TRACKED, &flagged))
				continue;
			struct metrics_value name = metrics_esc(e->id.comm),
					     user = metrics_esc(e->id.uid_known ? json_util_user_name(e->id.uid) : "");
			strbuf_addf(t, "ttalloc_process_info{device=\"%d\",pid=\"%d\",process=\"%s\",user=\"%s\"", d,
				    (int)e->pid, name.v, user.v);
			metrics_container_labels(t, s, e->pid);
			strbuf_addf(t, ",tracked=\"%s\",state=\"%s\"} 1\n",
				    e->state == DEVICE_HOLDER_UNTRACKED ? "false" : "true", state_label[e->state]);
		}
		free(rows[d]);
	}
}

static void lowercase(char *dst, size_t cap, const char *src)
{
	size_t i = 0;
	for (; src[i] && i + 1 < cap; i++)
		dst[i] = (char)(src[i] >= 'A' && src[i] <= 'Z' ? src[i] - 'A' + 'a' : src[i]);
	dst[i] = '\0';
}

static void counter_metrics(struct strbuf *t, struct server *s)
{
	metrics_family(t, "ttalloc_events_total", "counter", "Messages received from clients, by kind.");
	for (unsigned type = 0; type < 256; type++) {
		const char *name = proto_type_name(type);
		if (!name || proto_type_direction(type) != PROTO_DIR_REQUEST)
			continue;
		char kind[32];
		lowercase(kind, sizeof(kind), name);
		strbuf_addf(t, "ttalloc_events_total{kind=\"%s\"} %" PRIu64 "\n", kind, s->ingest.stats.frames[type]);
	}
	metrics_family(t, "ttalloc_leaked_bytes_total", "counter",
		       "Bytes still allocated by processes when they exited, since start-up.");
	for (int d = 0; d < s->state.devices.count; d++)
		strbuf_addf(t, "ttalloc_leaked_bytes_total{device=\"%d\"} %" PRIu64 "\n", d,
			    s->state.leaks.leaked_bytes[d]);
	metrics_family(t, "ttalloc_leaked_buffers_total", "counter",
		       "Buffers still allocated by processes when they exited, since start-up.");
	for (int d = 0; d < s->state.devices.count; d++)
		strbuf_addf(t, "ttalloc_leaked_buffers_total{device=\"%d\"} %" PRIu64 "\n", d,
			    s->state.leaks.leaked_buffers[d]);
	metrics_family(t, "ttalloc_leak_reports_total", "counter",
		       "Processes that exited holding buffers, since start-up.");
	strbuf_addf(t, "ttalloc_leak_reports_total %" PRIu64 "\n", s->state.leaks.reports_total);
	metrics_family(t, "ttalloc_protocol_errors_total", "counter", "Refused or wrong client messages, by reason.");
	for (int reason = 0; reason < PROTO_ERR_COUNT; reason++)
		strbuf_addf(t, "ttalloc_protocol_errors_total{reason=\"%s\"} %" PRIu64 "\n",
			    proto_error_label((enum proto_error_reason)reason), s->ingest.stats.errors[reason]);
	metrics_family(t, "ttalloc_connections_total", "counter", "Client connections accepted, since start-up.");
	strbuf_addf(t, "ttalloc_connections_total %" PRIu64 "\n", s->ingest.conns.accepted);
	metrics_family(t, "ttalloc_connections_refused_total", "counter",
		       "Client connections refused, since start-up.");
	strbuf_addf(t, "ttalloc_connections_refused_total %" PRIu64 "\n", s->ingest.conns.refused);
	metrics_family(t, "ttalloc_ring_clients", "gauge",
		       "Connections reporting through the shared-memory ring (the fast path) now.");
	strbuf_addf(t, "ttalloc_ring_clients %" PRIu32 "\n", s->ingest.rings.count);
	metrics_family(t, "ttalloc_rings_attached_total", "counter", "Shared-memory rings attached, since start-up.");
	strbuf_addf(t, "ttalloc_rings_attached_total %" PRIu64 "\n", s->ingest.rings.attached);
	metrics_family(t, "ttalloc_connections_superseded_total", "counter",
		       "Client connections replaced by a newer connection of the same library (it reconnected), "
		       "since start-up.");
	strbuf_addf(t, "ttalloc_connections_superseded_total %" PRIu64 "\n", s->ingest.stats.superseded);
	metrics_family(t, "ttalloc_processes_disconnected", "gauge",
		       "Processes that lost their connection without GOODBYE and still run: their buffers stay "
		       "counted until they reconnect or exit.");
	strbuf_addf(t, "ttalloc_processes_disconnected %u\n", s->ingest.departures.count);
}

/* Allocation failures, misuse and marks (issue 13's diagnosis). */
static void diagnosis_metrics(struct strbuf *t, struct server *s)
{
	metrics_family(t, "ttalloc_alloc_failures_total", "counter",
		       "Allocations clients reported as failed (ALLOC_FAILED), by device and buffer type; "
		       "post-mortems in /api/oom.");
	for (int d = 0; d < s->state.devices.count; d++)
		for (unsigned type = 0; type < TTALLOC_BUFFER_TYPES; type++)
			strbuf_addf(t, "ttalloc_alloc_failures_total{device=\"%d\",type=\"%s\"} %" PRIu64 "\n", d,
				    metrics_type_label(type), s->state.ooms.failures[d][type]);
	metrics_family(t, "ttalloc_misuse_total", "counter",
		       "Allocator misuse by kind (double frees, frees of unknown addresses, allocations over a live "
		       "buffer, frees naming the wrong device); entries in /api/misuse.");
	for (int k = 0; k < MISUSE_KINDS; k++)
		strbuf_addf(t, "ttalloc_misuse_total{kind=\"%s\"} %" PRIu64 "\n",
			    misuse_kind_label((enum misuse_kind)k), s->state.misuse.total[k]);
	metrics_family(t, "ttalloc_marks_total", "counter",
		       "Marks recorded (ttalloc_mark, tt_smi --mark), since start-up.");
	strbuf_addf(t, "ttalloc_marks_total %" PRIu64 "\n", s->state.marks.total);
}

char *metrics_render(struct server *s, size_t *len)
{
	struct strbuf t = STRBUF_INIT;
	struct metrics_selection *sel = metrics_select(s);
	metrics_identity(&t, s);
	device_metrics(&t, s);
	process_metrics(&t, s, sel);
	holder_metrics(&t, s, sel);
	counter_metrics(&t, s);
	diagnosis_metrics(&t, s);
	if (s->http)
		http_limits_metrics(&t, &s->http_limits);
	metrics_selection_free(sel);
	return strbuf_detach(&t, len);
}
