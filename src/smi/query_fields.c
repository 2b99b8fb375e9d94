/*
 * query_fields.c - the fields of --query-gpu and --query-compute-apps
 * (smi.h). One table per kind names each field, its unit, its nvidia-smi
 * alias, its help line and how to read it from a snapshot: parsing, the
 * header, --help and the values all come from these two tables.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/cli.h"
#include "smi/smi.h"

/* The row a field reads: a device (--query-gpu) or a process row (--query-compute-apps). */
struct field_row {
	const struct snapshot *snap;
	const struct snapshot_device *dev;
	const struct snapshot_process *proc;
};

#define VALUE_LEN 128

/* Writes a value without its unit into buf (VALUE_LEN bytes). Returns 0, or -1 for N/A. */
typedef int (*field_get)(const struct field_row *row, char *buf);

struct field {
	const char *name;  /* canonical, nvidia-smi style: "memory.dram.used" */
	const char *alias; /* nvidia-smi's own name for the same thing, or NULL */
	const char *unit;  /* "MiB", "W", "%", or NULL */
	field_get get;
	const char *help;
};

/* ---- value writers ---- */

static int put_uint(char *buf, uint64_t value)
{
	snprintf(buf, VALUE_LEN, "%llu", (unsigned long long)value);
	return 0;
}

/* Bytes as whole MiB, rounded as the table rounds them. */
static int put_mib(char *buf, uint64_t bytes)
{
	return put_uint(buf, smi_whole_mib(bytes));
}

/* Text from another program, or N/A when empty (sanitised and quoted by smi_csv_value). */
static int put_text(char *buf, const char *text)
{
	if (!text[0])
		return -1;
	snprintf(buf, VALUE_LEN, "%s", text);
	return 0;
}

static uint64_t free_bytes(uint64_t total, uint64_t used)
{
	return total > used ? total - used : 0;
}

/* ---- --query-gpu ---- */

static int gpu_timestamp(const struct field_row *r, char *buf)
{
	smi_format_clock(buf, VALUE_LEN, r->snap->taken_ns, SMI_CLOCK_NVIDIA, 3);
	return 0;
}

static int gpu_index(const struct field_row *r, char *buf)
{
	snprintf(buf, VALUE_LEN, "%d", r->dev->index);
	return 0;
}

static int gpu_arch(const struct field_row *r, char *buf)
{
	if (r->dev->seed.arch_type == PROTO_ARCH_INVALID)
		return -1;
	return put_text(buf, proto_arch_name(r->dev->seed.arch_type));
}

static int gpu_temperature(const struct field_row *r, char *buf)
{
	const struct proto_status_payload *st = &r->dev->status;
	if (!(st->valid & PROTO_STATUS_TEMPERATURE))
		return -1;
	snprintf(buf, VALUE_LEN, "%lld", smi_round_milli(st->temperature_mc));
	return 0;
}

/* Watts with two decimals, as nvidia-smi's power.draw. */
static int gpu_power(const struct field_row *r, char *buf)
{
	const struct proto_status_payload *st = &r->dev->status;
	if (!(st->valid & PROTO_STATUS_POWER))
		return -1;
	unsigned long long centiwatts = (st->power_mw + 5ull) / 10u;
	snprintf(buf, VALUE_LEN, "%llu.%02llu", centiwatts / 100u, centiwatts % 100u);
	return 0;
}

static int gpu_utilization(const struct field_row *r, char *buf)
{
	const struct proto_status_payload *st = &r->dev->status;
	if (!(st->valid & PROTO_STATUS_UTILIZATION))
		return -1;
	return put_uint(buf, st->utilization);
}

/* A field that is text from another program (sysfs, NVML, /proc): N/A when empty. */
#define TEXT_FIELD(fn, text)                                \
	static int fn(const struct field_row *r, char *buf) \
	{                                                   \
		return put_text(buf, (text));               \
	}

TEXT_FIELD(gpu_name, r->dev->status.name)
TEXT_FIELD(gpu_serial, r->dev->ident.serial)
TEXT_FIELD(gpu_uuid, r->dev->ident.uuid)
TEXT_FIELD(gpu_bus_id, r->dev->ident.pci_bus_id)
TEXT_FIELD(gpu_driver_version, r->dev->ident.driver_version)
TEXT_FIELD(gpu_asic_id, r->dev->ident.asic_id)
TEXT_FIELD(gpu_card_type, r->dev->ident.card_type)

/* A field that is a number of bytes, shown in whole MiB: `bytes` is read from the row `r`. */
#define MIB_FIELD(fn, bytes)                                \
	static int fn(const struct field_row *r, char *buf) \
	{                                                   \
		return put_mib(buf, (bytes));               \
	}

MIB_FIELD(gpu_dram_used, smi_device_dram_used(r->dev))
MIB_FIELD(gpu_dram_total, r->dev->seed.total_dram_size)
MIB_FIELD(gpu_dram_free, free_bytes(r->dev->seed.total_dram_size, smi_device_dram_used(r->dev)))
MIB_FIELD(gpu_l1_used, smi_device_l1_used(r->dev))
MIB_FIELD(gpu_l1_total, r->dev->seed.total_l1_size)
MIB_FIELD(gpu_l1_free, free_bytes(r->dev->seed.total_l1_size, smi_device_l1_used(r->dev)))
MIB_FIELD(gpu_l1_small_used, r->dev->seed.l1_small_allocated)
MIB_FIELD(gpu_trace_used, r->dev->seed.trace_allocated)
MIB_FIELD(gpu_cb_used, r->dev->status.cb_allocated)
MIB_FIELD(gpu_kernel_used, r->dev->kernel_allocated)
MIB_FIELD(gpu_system_used, r->dev->status.system_memory)

static int gpu_buffers(const struct field_row *r, char *buf)
{
	return put_uint(buf, r->dev->status.live_buffers);
}

static int gpu_processes(const struct field_row *r, char *buf)
{
	return put_uint(buf, r->dev->status.processes);
}

static const struct field gpu_fields[] = {
	{"timestamp", NULL, NULL, gpu_timestamp, "local time of the reading, YYYY/MM/DD HH:MM:SS.mmm"},
	{"index", NULL, NULL, gpu_index, "device id"},
	{"name", NULL, NULL, gpu_name, "device name, e.g. Wormhole_B0"},
	{"arch", NULL, NULL, gpu_arch, "architecture"},
	{"temperature", "temperature.gpu", NULL, gpu_temperature, "temperature in whole degrees C"},
	{"power", "power.draw", "W", gpu_power, "power draw"},
	{"utilization", "utilization.gpu", "%", gpu_utilization, "utilization"},
	{"memory.dram.used", "memory.used", "MiB", gpu_dram_used, "DRAM in use: DRAM and TRACE buffers"},
	{"memory.dram.total", "memory.total", "MiB", gpu_dram_total, "DRAM size"},
	{"memory.dram.free", "memory.free", "MiB", gpu_dram_free, "DRAM size minus DRAM in use"},
	{"memory.l1.used", NULL, "MiB", gpu_l1_used, "L1 in use: L1, L1_SMALL, circular buffers and kernels"},
	{"memory.l1.total", NULL, "MiB", gpu_l1_total, "L1 size, all cores"},
	{"memory.l1.free", NULL, "MiB", gpu_l1_free, "L1 size minus L1 in use"},
	{"memory.l1_small.used", NULL, "MiB", gpu_l1_small_used, "L1_SMALL buffers"},
	{"memory.trace.used", NULL, "MiB", gpu_trace_used, "TRACE buffers"},
	{"memory.cb.used", NULL, "MiB", gpu_cb_used, "circular buffers"},
	{"memory.kernel.used", NULL, "MiB", gpu_kernel_used, "kernel binaries (tt-metal KERNEL_LOAD)"},
	{"memory.system.used", NULL, "MiB", gpu_system_used, "SYSTEM_MEMORY buffers, in host memory"},
	{"buffers", NULL, NULL, gpu_buffers, "live buffers"},
	{"processes", NULL, NULL, gpu_processes, "processes holding buffers"},
	{"serial", NULL, NULL, gpu_serial, "board serial (tt-kmd's tt_serial, NVML's serial; made up when simulated)"},
	{"uuid", NULL, NULL, gpu_uuid, "UUID (NVML; made up when simulated)"},
	{"pci.bus_id", NULL, NULL, gpu_bus_id, "PCI address, e.g. 0000:01:00.0"},
	{"driver_version", NULL, NULL, gpu_driver_version,
	 "driver version: tt-kmd's, or NVIDIA's (N/A when simulated)"},
	{"asic_id", NULL, NULL, gpu_asic_id, "the chip's unique id (tt-kmd's tt_asic_id, tt-metal's chip_unique_id)"},
	{"card_type", NULL, NULL, gpu_card_type, "card type (tt-kmd's tt_card_type: n150, n300, p150a, ...)"},
};

/* ---- --query-compute-apps ---- */

static int app_pid(const struct field_row *r, char *buf)
{
	snprintf(buf, VALUE_LEN, "%d", (int)r->proc->pid);
	return 0;
}

static int app_device(const struct field_row *r, char *buf)
{
	snprintf(buf, VALUE_LEN, "%d", r->proc->device);
	return 0;
}

TEXT_FIELD(app_name, r->proc->usage.comm)
TEXT_FIELD(app_user, r->proc->user)
MIB_FIELD(app_dram, smi_process_dram_used(r->proc))
MIB_FIELD(app_memory, smi_process_memory_used(r->proc))
MIB_FIELD(app_l1, smi_process_l1_used(r->proc))
MIB_FIELD(app_l1_small, r->proc->usage.used[SMI_USED_L1_SMALL])
MIB_FIELD(app_trace, r->proc->usage.used[SMI_USED_TRACE])
MIB_FIELD(app_cb, r->proc->usage.cb)
MIB_FIELD(app_kernel, r->proc->kernel)
MIB_FIELD(app_system, r->proc->usage.system_memory)

/* "socket" (per buffer) or "tt-metal shm" (totals from tt-metal's shared memory). */
static int app_source(const struct field_row *r, char *buf)
{
	snprintf(buf, VALUE_LEN, "%s", r->proc->usage.flags & PROTO_PROCESS_SHM ? "tt-metal shm" : "socket");
	return 0;
}

/* "yes" for a shm slot whose process is gone (what it left, not in use). */
static int app_stale(const struct field_row *r, char *buf)
{
	snprintf(buf, VALUE_LEN, "%s", r->proc->usage.flags & PROTO_PROCESS_STALE ? "yes" : "no");
	return 0;
}

static int app_buffers(const struct field_row *r, char *buf)
{
	if (r->proc->usage.flags & PROTO_PROCESS_SHM)
		return -1; /* tt-metal's shared memory has totals, no buffer list */
	return put_uint(buf, r->proc->buffers);
}

/* A field of the process's container, N/A when it runs in none. */
#define APP_CONTAINER_FIELD(fn, member)                                                     \
	static int fn(const struct field_row *r, char *buf)                                 \
	{                                                                                   \
		const struct container_info *c = snapshot_container(r->snap, r->proc->pid); \
		return put_text(buf, c ? c->member : "");                                   \
	}
APP_CONTAINER_FIELD(app_container_id, id)
APP_CONTAINER_FIELD(app_pod, pod)
APP_CONTAINER_FIELD(app_namespace, namespace)
APP_CONTAINER_FIELD(app_container, container)

/* The identity of the device of a process row; NULL when the snapshot has no such device. */
static const struct snapshot_identity *app_device_identity(const struct field_row *r)
{
	for (uint32_t i = 0; i < r->snap->num_devices; i++)
		if (r->snap->devices[i].index == r->proc->device)
			return &r->snap->devices[i].ident;
	return NULL;
}

/* A field of the identity of the process row's device, N/A when unknown. */
#define APP_DEVICE_FIELD(fn, member)                                         \
	static int fn(const struct field_row *r, char *buf)                  \
	{                                                                    \
		const struct snapshot_identity *id = app_device_identity(r); \
		return put_text(buf, id ? id->member : "");                  \
	}
APP_DEVICE_FIELD(app_gpu_uuid, uuid)
APP_DEVICE_FIELD(app_gpu_bus_id, pci_bus_id)
APP_DEVICE_FIELD(app_gpu_serial, serial)

static const struct field app_fields[] = {
	{"pid", NULL, NULL, app_pid, "process id"},
	{"process_name", "name", NULL, app_name, "process name, from /proc/PID/comm"},
	{"user", NULL, NULL, app_user, "user name"},
	{"device", "gpu", NULL, app_device, "device id"},
	{"gpu_uuid", NULL, NULL, app_gpu_uuid, "UUID of the device (as --query-gpu's uuid)"},
	{"gpu_bus_id", NULL, NULL, app_gpu_bus_id, "PCI address of the device (as pci.bus_id)"},
	{"gpu_serial", NULL, NULL, app_gpu_serial, "board serial of the device (as serial)"},
	{"used_memory", "used_gpu_memory", "MiB", app_memory,
	 "all device memory held here: DRAM, TRACE, L1, L1_SMALL, CB, kernels"},
	{"dram", NULL, "MiB", app_dram, "DRAM held: DRAM and TRACE buffers"},
	{"l1", NULL, "MiB", app_l1, "L1 held: L1, L1_SMALL, circular buffers and kernels"},
	{"l1_small", NULL, "MiB", app_l1_small, "L1_SMALL buffers"},
	{"trace", NULL, "MiB", app_trace, "TRACE buffers"},
	{"cb", NULL, "MiB", app_cb, "circular buffers"},
	{"kernel", NULL, "MiB", app_kernel, "kernel binaries (tt-metal KERNEL_LOAD)"},
	{"system", NULL, "MiB", app_system, "SYSTEM_MEMORY buffers, in host memory"},
	{"buffers", NULL, NULL, app_buffers, "live buffers on this device (N/A for tt-metal shm rows)"},
	{"source", NULL, NULL, app_source, "socket, or tt-metal shm (tt-metal's /dev/shm statistics)"},
	{"stale", NULL, NULL, app_stale, "yes: a tt-metal shm slot of a process that is gone"},
	{"container_id", NULL, NULL, app_container_id, "id of the container the process runs in"},
	{"pod", NULL, NULL, app_pod, "Kubernetes pod"},
	{"namespace", NULL, NULL, app_namespace, "Kubernetes namespace of the pod"},
	{"container", NULL, NULL, app_container, "container name in the pod"},
};

#define COUNT(a) (sizeof(a) / sizeof((a)[0]))
_Static_assert(COUNT(gpu_fields) <= 256 && COUNT(app_fields) <= 256, "field indices fit unsigned char");

/* The table of `kind` and its length. */
static const struct field *fields_of(enum smi_query_kind kind, size_t *count)
{
	if (kind == SMI_QUERY_APPS) {
		*count = COUNT(app_fields);
		return app_fields;
	}
	*count = COUNT(gpu_fields);
	return gpu_fields;
}

const char *smi_query_option(enum smi_query_kind kind)
{
	return kind == SMI_QUERY_APPS ? "--query-compute-apps" : "--query-gpu";
}

/* ---- parsing ---- */

/* Whether `name` (`len` bytes) is `word`. */
static int same_name(const char *word, const char *name, size_t len)
{
	return word && strlen(word) == len && !strncmp(word, name, len);
}

/*
 * Index of the field called `name` (`len` bytes; canonical or alias), or
 * -1; *by_alias says which of its names it was.
 */
static int find_field(const struct field *table, size_t count, const char *name, size_t len, int *by_alias)
{
	for (size_t i = 0; i < count; i++) {
		*by_alias = same_name(table[i].alias, name, len);
		if (*by_alias || same_name(table[i].name, name, len))
			return (int)i;
	}
	return -1;
}

/* The name or alias of `kind` closest to a mistyped `name`, or NULL (cli_closest). */
static const char *closest_field(enum smi_query_kind kind, const char *name, size_t len)
{
	size_t count, n = 0;
	const struct field *table = fields_of(kind, &count);
	const char *names[2 * 256 + 1];
	for (size_t i = 0; i < count; i++) {
		names[n++] = table[i].name;
		if (table[i].alias)
			names[n++] = table[i].alias;
	}
	names[n] = NULL;
	return cli_closest(name, len, names);
}

/*
 * "unknown field 'x' for --query-gpu; did you mean 'y'?" when a name is
 * close, else the list of valid fields.
 */
static void unknown_field(enum smi_query_kind kind, const char *name, size_t len, char *err, size_t err_size)
{
	size_t count;
	const struct field *table = fields_of(kind, &count);
	const char *near = closest_field(kind, name, len);
	if (near) {
		snprintf(err, err_size, "unknown field '%.*s' for %s; did you mean '%s'? (tt_smi --help-%s lists them)",
			 (int)len, name, smi_query_option(kind), near, smi_query_option(kind) + 2);
		return;
	}
	struct strbuf msg = STRBUF_INIT;
	strbuf_addf(&msg, "unknown field '%.*s' for %s; valid fields: ", (int)len, name, smi_query_option(kind));
	for (size_t i = 0; i < count; i++)
		strbuf_addf(&msg, "%s%s", i ? ", " : "", table[i].name);
	snprintf(err, err_size, "%s", msg.failed ? "unknown field" : strbuf_str(&msg));
	strbuf_release(&msg);
}

int smi_query_parse_fields(struct smi_query *q, enum smi_query_kind kind, const char *list, char *err, size_t err_size)
{
	size_t count;
	const struct field *table = fields_of(kind, &count);
	q->kind = kind;
	q->count = 0;
	for (const char *p = list;; p++) {
		size_t len = strcspn(p, ",");
		const char *name = p;
		size_t n = len;
		while (n && (*name == ' ' || *name == '\t')) {
			name++;
			n--;
		}
		while (n && (name[n - 1] == ' ' || name[n - 1] == '\t'))
			n--;
		if (n == 0) {
			snprintf(err, err_size, "%s needs field names separated by commas (an empty one in '%s')",
				 smi_query_option(kind), list);
			return -1;
		}
		int by_alias;
		int index = find_field(table, count, name, n, &by_alias);
		if (index < 0) {
			unknown_field(kind, name, n, err, err_size);
			return -1;
		}
		if (q->count == SMI_QUERY_MAX_FIELDS) {
			snprintf(err, err_size, "%s takes at most %d fields", smi_query_option(kind),
				 SMI_QUERY_MAX_FIELDS);
			return -1;
		}
		q->by_alias[q->count] = (unsigned char)by_alias;
		q->fields[q->count++] = (unsigned char)index;
		p += len;
		if (!*p)
			return 0;
	}
}

int smi_query_parse_format(struct smi_query *q, const char *spec, char *err, size_t err_size)
{
	int csv = 0, noheader = 0, nounits = 0;
	for (const char *p = spec;; p++) {
		size_t len = strcspn(p, ",");
		if (len == 3 && !strncmp(p, "csv", len))
			csv = 1;
		else if (len == 8 && !strncmp(p, "noheader", len))
			noheader = 1;
		else if (len == 7 && !strncmp(p, "nounits", len))
			nounits = 1;
		else {
			snprintf(err, err_size, "unknown --format item '%.*s' (use csv[,noheader][,nounits])", (int)len,
				 p);
			return -1;
		}
		p += len;
		if (!*p)
			break;
	}
	if (!csv) {
		snprintf(err, err_size, "--format must name csv: csv[,noheader][,nounits]");
		return -1;
	}
	q->noheader = noheader;
	q->nounits = nounits;
	return 0;
}

void smi_query_help(FILE *out, enum smi_query_kind kind)
{
	size_t count;
	const struct field *table = fields_of(kind, &count);
	for (size_t i = 0; i < count; i++) {
		char name[64];
		snprintf(name, sizeof(name), "%s%s%s%s", table[i].name, table[i].unit ? " [" : "",
			 table[i].unit ? table[i].unit : "", table[i].unit ? "]" : "");
		fprintf(out, "    %-27s %s", name, table[i].help);
		if (table[i].alias)
			fprintf(out, " (or %s)", table[i].alias);
		fputc('\n', out);
	}
}

/* ---- output ---- */

void smi_query_header(struct strbuf *out, const struct smi_query *q)
{
	size_t count;
	const struct field *table = fields_of(q->kind, &count);
	if (q->noheader)
		return;
	for (int i = 0; i < q->count; i++) {
		const struct field *f = &table[q->fields[i]];
		strbuf_addf(out, "%s%s", i ? ", " : "", q->by_alias[i] ? f->alias : f->name);
		if (f->unit)
			strbuf_addf(out, " [%s]", f->unit);
	}
	strbuf_addstr(out, "\n");
}

/* One line: every chosen field of `row`, with units unless nounits. */
static void query_row(struct strbuf *out, const struct smi_query *q, const struct field_row *row)
{
	size_t count;
	const struct field *table = fields_of(q->kind, &count);
	for (int i = 0; i < q->count; i++) {
		const struct field *f = &table[q->fields[i]];
		char value[VALUE_LEN];
		if (i)
			strbuf_addstr(out, ", ");
		if (f->get(row, value) < 0) {
			strbuf_addstr(out, SMI_NA);
			continue;
		}
		smi_csv_value(out, value);
		if (f->unit && !q->nounits)
			strbuf_addf(out, " %s", f->unit);
	}
	strbuf_addstr(out, "\n");
}

int smi_query_rows(struct strbuf *out, const struct smi_query *q, const struct snapshot *snap)
{
	struct field_row row = {.snap = snap};
	if (q->kind == SMI_QUERY_GPU) {
		for (uint32_t i = 0; i < snap->num_devices; i++) {
			row.dev = &snap->devices[i];
			query_row(out, q, &row);
		}
	} else {
		const struct snapshot_process **sorted = smi_processes_sorted(snap);
		if (!sorted)
			return TTALLOC_ENOMEM;
		for (size_t i = 0; i < snap->num_processes; i++) {
			row.proc = sorted[i];
			query_row(out, q, &row);
		}
		free(sorted);
	}
	return out->failed ? TTALLOC_ENOMEM : 0;
}
