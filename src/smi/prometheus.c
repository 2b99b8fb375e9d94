/*
 * prometheus.c - tt_smi --prometheus URL: the fleet at a glance from
 * Prometheus's HTTP API (smi.h). tt_smi is a client of Prometheus here, not
 * an aggregator: a handful of instant queries over the series every
 * ttalloc-server exports (no recording rules needed), laid out in tt_smi's
 * box: one row per device of every host, then the biggest processes of the
 * fleet.
 */
#include <curl/curl.h>
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "common/array.h"
#include "common/clock.h"
#include "smi/smi.h"

/* DRAM counts DRAM and TRACE buffers, L1 the L1 kinds: as the table does (smi_device_dram_used). */
#define Q_DRAM_USED "sum without (type) (ttalloc_device_memory_used_bytes{type=~\"dram|trace\"})"
#define Q_L1_USED "sum without (type) (ttalloc_device_memory_used_bytes{type=~\"l1|l1_small|cb|kernel\"})"
#define Q_TOP_PROCESSES                        \
	"topk(%d, sum without (type, source) " \
	"(ttalloc_process_memory_used_bytes{type=~\"dram|trace\",pid!=\"other\"}))"

/* What one device series fills in its row. */
enum fleet_field { F_DRAM_USED, F_DRAM_TOTAL, F_L1_USED, F_L1_TOTAL, F_TEMPERATURE, F_POWER, F_NAME };

/* ---- HTTP ---- */

struct http_body {
	struct strbuf text;
};

static size_t on_body(char *data, size_t size, size_t n, void *ctx)
{
	struct http_body *b = ctx;
	if (b->text.len + size * n > SMI_FLEET_MAX_ANSWER)
		return 0; /* a runaway answer: the transfer fails */
	strbuf_add(&b->text, data, size * n);
	return b->text.failed ? 0 : size * n;
}

/* GET url; the body in *body (caller frees) or NULL with `err`. */
static char *http_get(const char *url, int timeout_ms, char *err, size_t err_size)
{
	CURL *curl = curl_easy_init();
	if (!curl) {
		snprintf(err, err_size, "cannot start libcurl");
		return NULL;
	}
	struct http_body body = {STRBUF_INIT};
	char curl_err[CURL_ERROR_SIZE] = "";
	long status = 0;
	curl_easy_setopt(curl, CURLOPT_URL, url);
	curl_easy_setopt(curl, CURLOPT_WRITEFUNCTION, on_body);
	curl_easy_setopt(curl, CURLOPT_WRITEDATA, &body);
	curl_easy_setopt(curl, CURLOPT_TIMEOUT_MS, (long)timeout_ms);
	curl_easy_setopt(curl, CURLOPT_NOSIGNAL, 1L);
	curl_easy_setopt(curl, CURLOPT_ERRORBUFFER, curl_err);
	curl_easy_setopt(curl, CURLOPT_USERAGENT, "tt_smi (ttalloc)");
	CURLcode rc = curl_easy_perform(curl);
	curl_easy_getinfo(curl, CURLINFO_RESPONSE_CODE, &status);
	curl_easy_cleanup(curl);
	if (rc != CURLE_OK) {
		snprintf(err, err_size, "%s", curl_err[0] ? curl_err : curl_easy_strerror(rc));
		strbuf_release(&body.text);
		return NULL;
	}
	if (status == 401 || status == 403) {
		snprintf(err, err_size,
			 "HTTP %ld: Prometheus wants credentials (put them in the URL: "
			 "https://USER:PASSWORD@HOST:9090)",
			 status);
		strbuf_release(&body.text);
		return NULL;
	}
	char *text = strbuf_detach(&body.text, NULL);
	if (!text)
		snprintf(err, err_size, "empty answer (HTTP %ld)", status);
	return text;
}

/* ---- parsing Prometheus's answers ---- */

int smi_fleet_parse_vector(const char *answer, smi_fleet_sample_fn fn, void *ctx, char *err, size_t err_size)
{
	json_error_t jerr;
	json_t *doc = json_loads(answer, 0, &jerr);
	if (!doc) {
		snprintf(err, err_size, "not a Prometheus API answer (%s)", jerr.text);
		return -1;
	}
	const char *status = json_string_value(json_object_get(doc, "status"));
	json_t *data = json_object_get(doc, "data");
	const char *type = json_string_value(json_object_get(data, "resultType"));
	json_t *result = json_object_get(data, "result");
	int rc = 0;
	if (!status || strcmp(status, "success") != 0) {
		const char *why = json_string_value(json_object_get(doc, "error"));
		snprintf(err, err_size, "Prometheus refused the query: %s", why ? why : "no reason given");
		rc = -1;
	} else if (!type || strcmp(type, "vector") != 0 || !json_is_array(result)) {
		snprintf(err, err_size, "Prometheus answered a %s, not a vector", type ? type : "?");
		rc = -1;
	}
	size_t i;
	json_t *sample;
	json_array_foreach(rc == 0 ? result : NULL, i, sample)
	{
		json_t *metric = json_object_get(sample, "metric");
		const char *value = json_string_value(json_array_get(json_object_get(sample, "value"), 1));
		if (json_is_object(metric) && value)
			fn(metric, strtod(value, NULL), ctx);
	}
	json_decref(doc);
	return rc;
}

/* A label of a sample's metric, or "". */
static const char *label(json_t *metric, const char *name)
{
	const char *v = json_string_value(json_object_get(metric, name));
	return v ? v : "";
}

/* The row of (instance, device), added when new; NULL when out of memory. */
static struct smi_fleet_device *device_row(struct smi_fleet *f, const char *instance, int device)
{
	for (size_t i = 0; i < f->num_devices; i++)
		if (f->devices[i].device == device && strcmp(f->devices[i].instance, instance) == 0)
			return &f->devices[i];
	if (ARRAY_RESERVE(f->devices, f->devices_cap, f->num_devices + 1) < 0)
		return NULL;
	struct smi_fleet_device *d = &f->devices[f->num_devices++];
	memset(d, 0, sizeof(*d));
	snprintf(d->instance, sizeof(d->instance), "%s", instance);
	d->device = device;
	return d;
}

struct field_ctx {
	struct smi_fleet *f;
	enum fleet_field field;
};

static void on_device_sample(json_t *metric, double value, void *ctx)
{
	struct field_ctx *c = ctx;
	const char *device = label(metric, "device");
	if (!device[0])
		return;
	struct smi_fleet_device *d = device_row(c->f, label(metric, "instance"), atoi(device));
	if (!d)
		return;
	switch (c->field) {
	case F_DRAM_USED:
		d->dram_used = value;
		break;
	case F_DRAM_TOTAL:
		d->dram_total = value;
		break;
	case F_L1_USED:
		d->l1_used = value;
		break;
	case F_L1_TOTAL:
		d->l1_total = value;
		break;
	case F_TEMPERATURE:
		d->temperature = value;
		d->has_temperature = 1;
		break;
	case F_POWER:
		d->power = value;
		d->has_power = 1;
		break;
	case F_NAME:
		snprintf(d->name, sizeof(d->name), "%s", label(metric, "name"));
		break;
	}
}

static void on_host(json_t *metric, double value, void *ctx)
{
	(void)value;
	struct smi_fleet *f = ctx;
	if (ARRAY_RESERVE(f->hosts, f->hosts_cap, f->num_hosts + 1) < 0)
		return;
	struct smi_fleet_host *h = &f->hosts[f->num_hosts++];
	snprintf(h->instance, sizeof(h->instance), "%s", label(metric, "instance"));
	snprintf(h->hostname, sizeof(h->hostname), "%s", label(metric, "hostname"));
}

static void on_process(json_t *metric, double value, void *ctx)
{
	struct smi_fleet *f = ctx;
	if (ARRAY_RESERVE(f->processes, f->processes_cap, f->num_processes + 1) < 0)
		return;
	struct smi_fleet_process *p = &f->processes[f->num_processes++];
	memset(p, 0, sizeof(*p));
	snprintf(p->instance, sizeof(p->instance), "%s", label(metric, "instance"));
	p->device = atoi(label(metric, "device"));
	snprintf(p->pid, sizeof(p->pid), "%s", label(metric, "pid"));
	snprintf(p->process, sizeof(p->process), "%s", label(metric, "process"));
	snprintf(p->user, sizeof(p->user), "%s", label(metric, "user"));
	snprintf(p->pod, sizeof(p->pod), "%s", label(metric, "pod"));
	p->dram = value;
}

static void on_down(json_t *metric, double value, void *ctx)
{
	(void)value;
	struct smi_fleet *f = ctx;
	if (ARRAY_RESERVE(f->down, f->down_cap, f->num_down + 1) < 0)
		return;
	snprintf(f->down[f->num_down++].instance, sizeof(f->down[0].instance), "%s", label(metric, "instance"));
}

/* ---- fetching ---- */

/* Runs one instant query and hands its samples to fn. Returns 0 or -1 with `err`. */
static int query(const char *base, const char *promql, smi_fleet_sample_fn fn, void *ctx, char *err, size_t err_size)
{
	CURL *enc = curl_easy_init();
	char *escaped = enc ? curl_easy_escape(enc, promql, 0) : NULL;
	struct strbuf url = STRBUF_INIT;
	strbuf_addf(&url, "%s%sapi/v1/query?query=%s", base, base[strlen(base) - 1] == '/' ? "" : "/",
		    escaped ? escaped : "");
	char why[SMI_ERR_LEN] = "out of memory";
	char *answer = escaped ? http_get(strbuf_str(&url), SMI_FLEET_TIMEOUT_MS, why, sizeof(why)) : NULL;
	curl_free(escaped);
	curl_easy_cleanup(enc);
	strbuf_release(&url);
	if (!answer) {
		snprintf(err, err_size, "cannot reach Prometheus at %s: %s", base, why);
		return -1;
	}
	int rc = smi_fleet_parse_vector(answer, fn, ctx, why, sizeof(why));
	free(answer);
	if (rc < 0)
		snprintf(err, err_size, "%s: %s", base, why);
	return rc;
}

static int compare_devices(const void *a, const void *b)
{
	const struct smi_fleet_device *x = a, *y = b;
	int c = strcmp(x->host, y->host);
	if (c == 0)
		c = strcmp(x->instance, y->instance);
	return c ? c : (x->device > y->device) - (x->device < y->device);
}

/* The host name of a scrape target (ttalloc_host_info), or the target itself when it has none. */
static const char *host_of(const struct smi_fleet *f, const char *instance)
{
	for (size_t h = 0; h < f->num_hosts; h++)
		if (strcmp(f->hosts[h].instance, instance) == 0)
			return f->hosts[h].hostname;
	return instance;
}

/* Names each row's host, then sorts the devices by host, target and device. */
static void name_hosts(struct smi_fleet *f)
{
	for (size_t i = 0; i < f->num_devices; i++)
		snprintf(f->devices[i].host, sizeof(f->devices[i].host), "%s", host_of(f, f->devices[i].instance));
	for (size_t i = 0; i < f->num_processes; i++)
		snprintf(f->processes[i].host, sizeof(f->processes[i].host), "%s",
			 host_of(f, f->processes[i].instance));
	if (f->num_devices)
		qsort(f->devices, f->num_devices, sizeof(*f->devices), compare_devices);
}

int smi_fleet_fetch(struct smi_fleet *f, const char *base, char *err, size_t err_size)
{
	smi_fleet_release(f);
	f->taken_ns = clock_realtime_ns();
	static const struct {
		enum fleet_field field;
		const char *promql;
	} device_queries[] = {
		{F_NAME, "ttalloc_device_info"},
		{F_DRAM_USED, Q_DRAM_USED},
		{F_DRAM_TOTAL, "ttalloc_device_memory_total_bytes{type=\"dram\"}"},
		{F_L1_USED, Q_L1_USED},
		{F_L1_TOTAL, "ttalloc_device_memory_total_bytes{type=\"l1\"}"},
		{F_TEMPERATURE, "ttalloc_device_temperature_celsius"},
		{F_POWER, "ttalloc_device_power_watts"},
	};
	if (query(base, "ttalloc_host_info", on_host, f, err, err_size) < 0)
		return -1;
	for (size_t i = 0; i < sizeof(device_queries) / sizeof(device_queries[0]); i++) {
		struct field_ctx ctx = {f, device_queries[i].field};
		if (query(base, device_queries[i].promql, on_device_sample, &ctx, err, err_size) < 0)
			return -1;
	}
	char top[256];
	snprintf(top, sizeof(top), Q_TOP_PROCESSES, SMI_FLEET_TOP_PROCESSES);
	if (query(base, top, on_process, f, err, err_size) < 0 ||
	    query(base, "up{job=~\".*ttalloc.*\"} == 0", on_down, f, err, err_size) < 0)
		return -1;
	if (f->num_devices == 0 && f->num_hosts == 0) {
		snprintf(err, err_size,
			 "Prometheus at %s has no ttalloc series: is it scraping ttalloc-server (job ttalloc, "
			 "deploy/prometheus/prometheus.yml)?%s",
			 base, f->num_down ? " Its ttalloc targets are down." : "");
		return -1;
	}
	name_hosts(f);
	return 0;
}

void smi_fleet_release(struct smi_fleet *f)
{
	free(f->devices);
	free(f->processes);
	free(f->hosts);
	free(f->down);
	memset(f, 0, sizeof(*f));
}

/* ---- the box ---- */

/* Columns of both tables; the host takes what the others leave (at least HOST_MIN). */
enum { C_HOST, C_GPU, C_NAME, C_TEMP, C_POWER, C_MEMORY, C_COLS };
#define HOST_MIN 8

/*
 * Lays `fixed` widths (C_HOST's ignored) out in a box `inner` wide: the host
 * column gets the rest; when that is under HOST_MIN, column `squeeze` gives
 * up to all but 6 of its columns.
 */
static void lay_out(int inner, const int fixed[C_COLS], int squeeze, int start[C_COLS], int width[C_COLS])
{
	int rest = inner - 1;
	for (int c = C_GPU; c < C_COLS; c++) {
		width[c] = fixed[c];
		rest -= fixed[c];
	}
	if (rest < HOST_MIN) {
		int take = HOST_MIN - rest < width[squeeze] - 6 ? HOST_MIN - rest : width[squeeze] - 6;
		width[squeeze] -= take;
		rest += take;
	}
	width[C_HOST] = rest > 1 ? rest : 1;
	start[C_HOST] = 1;
	for (int c = C_GPU; c < C_COLS; c++)
		start[c] = start[c - 1] + width[c - 1];
}

/* The device table: host, GPU, name, temperature, power, DRAM use. */
static void device_columns(int inner, int start[C_COLS], int width[C_COLS])
{
	static const int fixed[C_COLS] = {0, 5, 14, 7, 7, 31};
	lay_out(inner, fixed, C_NAME, start, width);
}

/* The process table, in the same columns' places: host, GPU, PID, user, process, DRAM. */
static void process_columns(int inner, int start[C_COLS], int width[C_COLS])
{
	static const int fixed[C_COLS] = {0, 5, 9, 12, 24, 10};
	lay_out(inner, fixed, C_POWER, start, width);
}

static void box_text_row(struct strbuf *out, struct smi_row *row, int inner, enum smi_style style, const char *text)
{
	smi_row_begin(row, row->color);
	smi_row_cell(row, 1, inner - 1, SMI_LEFT, style, text);
	smi_box_row(out, row, inner);
}

static void render_devices(struct strbuf *out, struct smi_row *row, const struct smi_fleet *f, int inner)
{
	int start[C_COLS], width[C_COLS];
	device_columns(inner, start, width);
	static const char *const heads[C_COLS] = {"Host", "GPU", "Name", "Temp", "Power", "Memory-Usage (DRAM)"};
	smi_row_begin(row, row->color);
	for (int c = 0; c < C_COLS; c++)
		smi_row_cell(row, start[c], width[c], SMI_LEFT, SMI_BOLD, heads[c]);
	smi_box_row(out, row, inner);
	smi_box_rule(out, SMI_RULE_MIDDLE, inner);
	for (size_t i = 0; i < f->num_devices; i++) {
		const struct smi_fleet_device *d = &f->devices[i];
		char host[128], gpu[16], name[96], temp[SMI_UNIT_LEN], power[SMI_UNIT_LEN], used[SMI_UNIT_LEN],
			total[SMI_UNIT_LEN], memory[96];
		smi_text_sanitize(host, sizeof(host), d->host);
		snprintf(gpu, sizeof(gpu), "%d", d->device);
		smi_text_sanitize(name, sizeof(name), d->name[0] ? d->name : "?");
		smi_format_temperature(temp, sizeof(temp), (int32_t)(d->temperature * 1000.0), d->has_temperature);
		smi_format_power(power, sizeof(power), (uint32_t)(d->power * 1000.0), d->has_power);
		uint64_t u = (uint64_t)d->dram_used, t = (uint64_t)d->dram_total;
		smi_format_memory(memory, sizeof(memory), "DRAM:", smi_format_size(used, sizeof(used), u),
				  t ? smi_format_size(total, sizeof(total), t) : "N/A", u, t);
		unsigned pct = t ? (unsigned)(100.0 * (double)u / (double)t) : 0;
		smi_row_begin(row, row->color);
		smi_row_cell(row, start[C_HOST], width[C_HOST], SMI_LEFT, SMI_PLAIN, host);
		smi_row_cell(row, start[C_GPU], width[C_GPU], SMI_LEFT, SMI_PLAIN, gpu);
		smi_row_cell(row, start[C_NAME], width[C_NAME], SMI_LEFT, SMI_PLAIN, name);
		smi_row_cell(row, start[C_TEMP], width[C_TEMP], SMI_LEFT, SMI_PLAIN, temp);
		smi_row_cell(row, start[C_POWER], width[C_POWER], SMI_LEFT, SMI_PLAIN, power);
		smi_row_cell(row, start[C_MEMORY], width[C_MEMORY], SMI_LEFT,
			     pct >= 90           ? SMI_RED
				     : pct >= 75 ? SMI_YELLOW
						 : SMI_PLAIN,
			     memory);
		smi_box_row(out, row, inner);
	}
}

static void render_processes(struct strbuf *out, struct smi_row *row, const struct smi_fleet *f, int inner)
{
	int start[C_COLS], width[C_COLS];
	process_columns(inner, start, width);
	box_text_row(out, row, inner, SMI_BOLD, "Top processes of the fleet (DRAM):");
	static const char *const heads[] = {"Host", "GPU", "PID", "User", "Process", "DRAM"};
	smi_row_begin(row, row->color);
	for (int c = 0; c < C_COLS; c++)
		smi_row_cell(row, start[c], width[c], SMI_LEFT, SMI_BOLD, heads[c]);
	smi_box_row(out, row, inner);
	if (f->num_processes == 0)
		box_text_row(out, row, inner, SMI_PLAIN, "No processes hold device memory");
	for (size_t i = 0; i < f->num_processes; i++) {
		const struct smi_fleet_process *p = &f->processes[i];
		char host[128], gpu[16], pid[24], user[96], name[600], dram[SMI_UNIT_LEN];
		smi_text_sanitize(host, sizeof(host), p->host);
		snprintf(gpu, sizeof(gpu), "%d", p->device);
		smi_text_sanitize(pid, sizeof(pid), p->pid);
		smi_text_sanitize(user, sizeof(user), p->user[0] ? p->user : "?");
		char proc[sizeof(p->process) + sizeof(p->pod) + 4];
		snprintf(proc, sizeof(proc), p->pod[0] ? "%s (%s)" : "%s", p->process, p->pod);
		smi_text_sanitize(name, sizeof(name), proc);
		smi_row_begin(row, row->color);
		const char *cells[C_COLS] = {host, gpu,  pid,
					     user, name, smi_format_size(dram, sizeof(dram), (uint64_t)p->dram)};
		for (int c = 0; c < C_COLS; c++)
			smi_row_cell(row, start[c], width[c], SMI_LEFT, SMI_PLAIN, cells[c]);
		smi_box_row(out, row, inner);
	}
}

static void render_title(struct strbuf *out, struct smi_row *row, const struct smi_fleet_view *v, int inner)
{
	char clock[64] = "", title[512];
	struct tm tm;
	if (localtime_r(&v->now, &tm))
		strftime(clock, sizeof(clock), "%a %b %e %H:%M:%S", &tm);
	snprintf(title, sizeof(title), "tt-smi v1.0 - fleet from %s", v->url);
	char clean[512];
	smi_text_sanitize(clean, sizeof(clean), title);
	int clock_width = smi_text_width(clock);
	smi_row_begin(row, row->color);
	smi_row_cell(row, 1, inner - clock_width - 5, SMI_LEFT, SMI_BOLD, clean);
	smi_row_cell(row, inner - 3 - clock_width, clock_width, SMI_RIGHT, SMI_PLAIN, clock);
	smi_box_row(out, row, inner);
}

/* "Prometheus: ✅ 3 hosts, 6 devices | down: ... | Updates: One-shot" */
static void render_status(struct strbuf *out, const struct smi_fleet_view *v)
{
	const char *updates = v->mode == SMI_MODE_WATCH ? "Real-time" : "One-shot";
	if (!v->fleet) {
		strbuf_addf(out, "\nPrometheus: ❌ %sUnreachable or no ttalloc series%s | Updates: %s\n",
			    v->color ? smi_style_code(SMI_RED) : "", v->color ? SMI_STYLE_RESET : "", updates);
		return;
	}
	size_t hosts = 0;
	for (size_t i = 0; i < v->fleet->num_devices; i++)
		hosts += i == 0 || strcmp(v->fleet->devices[i].host, v->fleet->devices[i - 1].host) != 0;
	strbuf_addf(out, "\nPrometheus: ✅ %zu host%s, %zu device%s", hosts, hosts == 1 ? "" : "s",
		    v->fleet->num_devices, v->fleet->num_devices == 1 ? "" : "s");
	for (size_t i = 0; i < v->fleet->num_down; i++)
		strbuf_addf(out, "%s%s%s%s", i ? ", " : " | ❌ down: ", v->color ? smi_style_code(SMI_RED) : "",
			    v->fleet->down[i].instance, v->color ? SMI_STYLE_RESET : "");
	strbuf_addf(out, " | Updates: %s\n", updates);
}

int smi_render_fleet(struct strbuf *out, const struct smi_fleet_view *v)
{
	int columns = smi_layout_clamp(v->columns);
	int inner = columns - 2;
	struct smi_row row = {.text = STRBUF_INIT, .color = v->color};
	smi_box_rule(out, SMI_RULE_TOP, inner);
	render_title(out, &row, v, inner);
	smi_box_rule(out, SMI_RULE_MIDDLE, inner);
	if (v->fleet) {
		render_devices(out, &row, v->fleet, inner);
		smi_box_rule(out, SMI_RULE_MIDDLE, inner);
		render_processes(out, &row, v->fleet, inner);
	} else {
		char why[SMI_ERR_LEN];
		smi_text_sanitize(why, sizeof(why), v->error ? v->error : "no answer");
		box_text_row(out, &row, inner, SMI_RED, why);
	}
	smi_box_rule(out, SMI_RULE_BOTTOM, inner);
	render_status(out, v);
	smi_row_release(&row);
	return out->failed ? TTALLOC_ENOMEM : 0;
}
