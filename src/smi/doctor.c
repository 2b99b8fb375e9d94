/*
 * doctor.c - tt_smi --doctor's checks (doctor.h): the gathered facts in,
 * one line per check and the overall status out, as text or JSON. No I/O,
 * so the unit tests see every verdict.
 */
#include "smi/doctor.h"

#include <stdarg.h>
#include <stdio.h>
#include <string.h>

#include <jansson.h>

#include "common/format.h"
#include "common/protocol.h"
#include "model/model.h"
#include "smi/smi.h"

static const char *const check_names[DOCTOR_CHECKS] = {
	[DOCTOR_SERVER] = "server",   [DOCTOR_ACCESS] = "access",
	[DOCTOR_DEVICES] = "devices", [DOCTOR_TTMETAL_SHM] = "tt-metal shm",
	[DOCTOR_HTTP] = "http",
};

const char *doctor_check_name(enum doctor_check check)
{
	return (unsigned)check < DOCTOR_CHECKS ? check_names[check] : "?";
}

const char *doctor_status_name(enum doctor_status status)
{
	switch (status) {
	case DOCTOR_OK:
		return "ok";
	case DOCTOR_WARNING:
		return "warning";
	case DOCTOR_ERROR:
		return "error";
	case DOCTOR_SKIPPED:
		return "skipped";
	}
	return "?";
}

/* Sets a check's status and its text (printf-style). */
static void __attribute__((format(printf, 3, 4)))
say(struct doctor_line *line, enum doctor_status status, const char *fmt, ...)
{
	va_list ap;
	line->status = status;
	va_start(ap, fmt);
	vsnprintf(line->text, sizeof(line->text), fmt, ap);
	va_end(ap);
}

/* ---- server ---- */

static void check_server(const struct doctor_facts *f, struct doctor_line *line)
{
	char server[16], client[16];
	proto_release_text(f->server_release, server, sizeof(server));
	proto_release_text(f->client_release, client, sizeof(client));
	if (f->denied) {
		say(line, DOCTOR_SKIPPED, "not checked: the socket's permissions keep user %s out (see access)",
		    f->user);
	} else if (!f->reached) {
		say(line, DOCTOR_ERROR, "%s (socket path from %s)", f->reach_error, f->socket_source);
	} else if (!f->server_release) {
		say(line, DOCTOR_WARNING,
		    "an older ttalloc-server (pid %u), which does not say its version, answers at %s (from %s); "
		    "tt_smi is %s: upgrade the server",
		    f->server_pid, f->socket_path, f->socket_source, client);
	} else if (f->server_release != f->client_release) {
		say(line, DOCTOR_WARNING,
		    "ttalloc-server %s (pid %u) answers at %s (from %s), but tt_smi is %s: use one release for both",
		    server, f->server_pid, f->socket_path, f->socket_source, client);
	} else {
		say(line, DOCTOR_OK, "ttalloc-server %s (pid %u) answers at %s (from %s)", server, f->server_pid,
		    f->socket_path, f->socket_source);
	}
}

/* ---- access ---- */

static void check_access(const struct doctor_facts *f, struct doctor_line *line)
{
	if (f->denied)
		say(line, DOCTOR_ERROR, "%s", f->reach_error);
	else if (!f->reached)
		say(line, DOCTOR_SKIPPED, "not checked: no server at the socket");
	else if (f->socket_seen)
		say(line, DOCTOR_OK, "user %s may report and query (socket owned by %s, group %s, mode %04o)", f->user,
		    f->socket_owner, f->socket_group, (unsigned)f->socket_mode);
	else
		say(line, DOCTOR_OK, "user %s may report and query", f->user);
}

/* ---- devices ---- */

/* "0 Wormhole_B0, 1 Wormhole_B0" into `b`; 1 when every device is simulated. */
static int list_devices(struct strbuf *b, const struct snapshot *snap)
{
	int simulated = 1;
	for (uint32_t i = 0; i < snap->num_devices; i++) {
		const struct snapshot_device *d = &snap->devices[i];
		strbuf_addf(b, "%s%d %s", i ? ", " : "", d->index, d->status.name[0] ? d->status.name : "?");
		simulated &= (d->status.backend_flags & 1u) != 0;
	}
	return simulated;
}

/* What this host's backends found, for the devices line. */
static void describe_host(const struct doctor_facts *f, char *buf, size_t size)
{
	if (f->host_hardware > 0)
		snprintf(buf, size, "this host has %d %s device%s", f->host_devices, f->host_backend,
			 f->host_devices == 1 ? "" : "s");
	else if (f->host_hardware == 0)
		snprintf(buf, size, "no hardware found on this host");
	else
		snprintf(buf, size, "this host's device backends could not be read");
}

static void check_devices(const struct doctor_facts *f, struct doctor_line *line)
{
	char host[128];
	describe_host(f, host, sizeof(host));
	if (!f->reached || !f->snap) {
		say(line, DOCTOR_SKIPPED, "not checked on the server (%s)", host);
		return;
	}
	if (f->snap->num_devices == 0) {
		say(line, DOCTOR_ERROR, "the server has no devices (%s)", host);
		return;
	}
	struct strbuf names = STRBUF_INIT;
	int simulated = list_devices(&names, f->snap);
	unsigned n = f->snap->num_devices;
	if (simulated && f->host_hardware > 0)
		say(line, DOCTOR_WARNING,
		    "%u simulated device%s (%s), but %s: restart the server with --devices %s (or check the driver)", n,
		    n == 1 ? "" : "s", strbuf_str(&names), host, f->host_backend);
	else
		say(line, DOCTOR_OK, "%u device%s, %s: %s (%s)", n, n == 1 ? "" : "s",
		    simulated ? "simulated" : "hardware", strbuf_str(&names), host);
	strbuf_release(&names);
}

/* ---- tt-metal shared memory ---- */

/* "PID 4242 (python3) is gone but still counts 1.0GB on device 0 (tt_device_7_memory)", for each shown. */
static void describe_stale(struct strbuf *b, const struct doctor_facts *f)
{
	uint32_t shown = f->shm_stale < DOCTOR_STALE_SHOWN ? f->shm_stale : DOCTOR_STALE_SHOWN;
	for (uint32_t i = 0; i < shown; i++) {
		const struct doctor_stale_slot *s = &f->stale[i];
		char bytes[FORMAT_BYTES_LEN];
		format_bytes_compact(bytes, sizeof(bytes), s->bytes, 1);
		strbuf_addf(b, "%sPID %d (%s) is gone but still counts %s on device %u (%s)", i ? "; " : "",
			    (int)s->pid, s->name[0] ? s->name : "?", bytes, s->device, s->region);
	}
	if (f->shm_stale > shown)
		strbuf_addf(b, "; %u more", f->shm_stale - shown);
}

static void check_ttmetal_shm(const struct doctor_facts *f, struct doctor_line *line)
{
	if (!f->shm_listed) {
		say(line, DOCTOR_WARNING, "cannot list %s: %s", f->shm_dir, f->shm_error);
		return;
	}
	if (f->shm_regions == 0 && f->shm_refused == 0) {
		say(line, DOCTOR_OK, "no tt-metal regions in %s", f->shm_dir);
		return;
	}
	struct strbuf b = STRBUF_INIT;
	strbuf_addf(&b, "%u region%s in %s, %u process slot%s in use", f->shm_regions, f->shm_regions == 1 ? "" : "s",
		    f->shm_dir, f->shm_slots, f->shm_slots == 1 ? "" : "s");
	if (f->shm_stale) {
		strbuf_addf(&b,
			    ", %u stale (killed tt-metal processes; tt-metal frees a slot when a process attaches "
			    "again): ",
			    f->shm_stale);
		describe_stale(&b, f);
	} else {
		strbuf_addf(&b, ", none stale");
	}
	if (f->shm_refused)
		strbuf_addf(&b, "; %u region%s not read: %s", f->shm_refused, f->shm_refused == 1 ? "" : "s",
			    f->shm_refusal);
	say(line, f->shm_stale || f->shm_refused ? DOCTOR_WARNING : DOCTOR_OK, "%s", strbuf_str(&b));
	strbuf_release(&b);
}

/* ---- http ---- */

static void check_http(const struct doctor_facts *f, struct doctor_line *line)
{
	if (!f->reached)
		say(line, DOCTOR_SKIPPED, "not checked: no server");
	else if (f->http_state == PROTO_HTTP_UP)
		say(line, DOCTOR_OK, "the dashboard, JSON API and /metrics are served on port %u", f->http_port);
	else if (f->http_state == PROTO_HTTP_WAITING)
		say(line, DOCTOR_WARNING,
		    "port %u is in use: the server runs without the dashboard, JSON API and /metrics and tries "
		    "the port again every %u s (free it, or restart the server with another --http)",
		    f->http_port, PROTO_HTTP_RETRY_MS / 1000);
	else
		say(line, DOCTOR_OK, "off (the server runs with --no-http)");
}

void doctor_evaluate(const struct doctor_facts *f, struct doctor_report *r)
{
	memset(r, 0, sizeof(*r));
	check_server(f, &r->checks[DOCTOR_SERVER]);
	check_access(f, &r->checks[DOCTOR_ACCESS]);
	check_devices(f, &r->checks[DOCTOR_DEVICES]);
	check_ttmetal_shm(f, &r->checks[DOCTOR_TTMETAL_SHM]);
	check_http(f, &r->checks[DOCTOR_HTTP]);
	r->status = DOCTOR_OK;
	for (int i = 0; i < DOCTOR_CHECKS; i++) {
		if (r->checks[i].status == DOCTOR_ERROR)
			r->status = DOCTOR_ERROR;
		else if (r->checks[i].status == DOCTOR_WARNING && r->status != DOCTOR_ERROR)
			r->status = DOCTOR_WARNING;
	}
}

int doctor_exit_status(const struct doctor_report *r)
{
	return r->status == DOCTOR_ERROR ? 1 : r->status == DOCTOR_WARNING ? DOCTOR_EXIT_WARNINGS : 0;
}

/* ---- output ---- */

static const char *mark(enum doctor_status status)
{
	switch (status) {
	case DOCTOR_OK:
		return "✅";
	case DOCTOR_WARNING:
		return "⚠️ ";
	case DOCTOR_ERROR:
		return "❌";
	case DOCTOR_SKIPPED:
		return "➖";
	}
	return "?";
}

void doctor_render_text(struct strbuf *out, const struct doctor_report *r)
{
	for (int i = 0; i < DOCTOR_CHECKS; i++)
		strbuf_addf(out, "%s %s: %s\n", mark(r->checks[i].status), doctor_check_name((enum doctor_check)i),
			    r->checks[i].text);
}

/* The short names of smi.h's JSON helpers. */
static inline void set(json_t *obj, const char *key, json_t *value, int *failed)
{
	smi_json_set(obj, key, value, failed);
}

static inline void append(json_t *list, json_t *item, int *failed)
{
	smi_json_append(list, item, failed);
}

static json_t *checks_json(const struct doctor_report *r, int *failed)
{
	json_t *list = json_array();
	for (int i = 0; list && i < DOCTOR_CHECKS; i++) {
		json_t *c = json_object();
		append(list, c, failed);
		if (*failed) /* the array took c, even on failure */
			break;
		set(c, "check", json_string(doctor_check_name((enum doctor_check)i)), failed);
		set(c, "status", json_string(doctor_status_name(r->checks[i].status)), failed);
		set(c, "message", json_string(r->checks[i].text), failed);
	}
	return list;
}

static json_t *socket_json(const struct doctor_facts *f, int *failed)
{
	json_t *o = json_object();
	char mode[8];
	snprintf(mode, sizeof(mode), "%04o", (unsigned)f->socket_mode);
	if (!o)
		return NULL;
	set(o, "path", json_string(f->socket_path), failed);
	set(o, "source", json_string(f->socket_source), failed);
	set(o, "user", json_string(f->user), failed);
	set(o, "owner", f->socket_seen ? json_string(f->socket_owner) : json_null(), failed);
	set(o, "group", f->socket_seen ? json_string(f->socket_group) : json_null(), failed);
	set(o, "mode", f->socket_seen ? json_string(mode) : json_null(), failed);
	return o;
}

static json_t *server_json(const struct doctor_facts *f, int *failed)
{
	char release[16];
	if (!f->reached)
		return json_null();
	json_t *o = json_object();
	if (!o)
		return NULL;
	set(o, "version",
	    f->server_release ? json_string(proto_release_text(f->server_release, release, sizeof(release)))
			      : json_null(),
	    failed);
	set(o, "pid", json_integer(f->server_pid), failed);
	return o;
}

static json_t *devices_json(const struct doctor_facts *f, int *failed)
{
	json_t *list = json_array();
	for (uint32_t i = 0; list && f->reached && f->snap && i < f->snap->num_devices; i++) {
		const struct snapshot_device *d = &f->snap->devices[i];
		json_t *o = json_object();
		append(list, o, failed);
		if (*failed) /* the array took o, even on failure */
			break;
		set(o, "device_id", json_integer(d->index), failed);
		set(o, "name", json_string(d->status.name), failed);
		set(o, "simulated", json_boolean(d->status.backend_flags & 1u), failed);
	}
	return list;
}

static json_t *shm_json(const struct doctor_facts *f, int *failed)
{
	json_t *o = json_object();
	json_t *stale = json_array();
	if (!o || !stale) {
		json_decref(o);
		json_decref(stale);
		return NULL;
	}
	set(o, "dir", json_string(f->shm_dir), failed);
	set(o, "region_count", json_integer(f->shm_regions), failed);
	set(o, "process_slot_count", json_integer(f->shm_slots), failed);
	set(o, "refused_region_count", json_integer(f->shm_refused), failed);
	set(o, "stale_slot_count", json_integer(f->shm_stale), failed);
	for (uint32_t i = 0; i < f->shm_stale && i < DOCTOR_STALE_SHOWN; i++) {
		const struct doctor_stale_slot *s = &f->stale[i];
		append(stale,
		       json_pack("{s:i, s:o, s:i, s:I, s:s}", "pid", (int)s->pid, "name", model_text(s->name),
				 "device_id", (int)s->device, "bytes", (json_int_t)s->bytes, "region", s->region),
		       failed);
	}
	set(o, "stale_slots", stale, failed);
	return o;
}

static json_t *http_json(const struct doctor_facts *f, int *failed)
{
	if (!f->reached)
		return json_null();
	json_t *o = json_object();
	if (!o)
		return NULL;
	set(o, "state", json_string(proto_http_state_name(f->http_state)), failed);
	set(o, "port", f->http_state == PROTO_HTTP_OFF ? json_null() : json_integer(f->http_port), failed);
	return o;
}

int doctor_render_json(struct strbuf *out, const struct doctor_facts *f, const struct doctor_report *r)
{
	int failed = 0;
	json_t *root = json_object();
	if (!root)
		return TTALLOC_ENOMEM;
	set(root, "status", json_string(doctor_status_name(r->status)), &failed);
	set(root, "exit_status", json_integer(doctor_exit_status(r)), &failed);
	set(root, "checks", checks_json(r, &failed), &failed);
	set(root, "socket", socket_json(f, &failed), &failed);
	set(root, "server", server_json(f, &failed), &failed);
	set(root, "devices", devices_json(f, &failed), &failed);
	set(root, "ttmetal_shm", shm_json(f, &failed), &failed);
	set(root, "http", http_json(f, &failed), &failed);
	if (failed) {
		json_decref(root);
		return TTALLOC_ENOMEM;
	}
	return smi_json_print(out, root, JSON_COMPACT | JSON_PRESERVE_ORDER);
}
