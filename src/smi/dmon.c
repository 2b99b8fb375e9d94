/*
 * dmon.c - nvidia-smi's streaming monitors `tt_smi dmon` and `tt_smi pmon`
 * with ttalloc's columns (top.h). Like nvidia-smi's, two header lines
 * ("# gpu ..." and "# Idx ..." with the units), then every sample one line
 * per device (dmon) or per process and device (pmon), columns right-aligned
 * in five, "-" for what a device does not report.
 */
#include <getopt.h>
#include <poll.h>
#include <stdlib.h>
#include <string.h>

#include "common/cli.h"
#include "smi/top.h"

/* The memory columns of both, by buffer type: name, and where a device and a process row keep it. */
enum { MEM_DRAM, MEM_L1, MEM_L1_SMALL, MEM_TRACE, MEM_CB, MEMS };
static const char *const mem_names[MEMS] = {"dram", "l1", "l1sm", "trace", "cb"};

static void device_memory(const struct snapshot_device *d, uint64_t bytes[MEMS])
{
	bytes[MEM_DRAM] = d->seed.dram_allocated;
	bytes[MEM_L1] = d->seed.l1_allocated;
	bytes[MEM_L1_SMALL] = d->seed.l1_small_allocated;
	bytes[MEM_TRACE] = d->seed.trace_allocated;
	bytes[MEM_CB] = d->status.cb_allocated;
}

static void process_memory(const struct snapshot_process *p, uint64_t bytes[MEMS])
{
	for (int k = 0; k < MEM_CB; k++)
		bytes[k] = p->usage.used[k]; /* the seed's order: DRAM, L1, L1_SMALL, TRACE */
	bytes[MEM_CB] = p->usage.cb;
}

/* Appends " %5s" for each memory column: whole MiB, or `none` for every one when bytes is NULL. */
static void memory_cells(struct strbuf *out, const uint64_t *bytes, const char *none)
{
	for (int k = 0; k < MEMS; k++) {
		if (bytes)
			strbuf_addf(out, " %5llu", (unsigned long long)smi_whole_mib(bytes[k]));
		else
			strbuf_addf(out, " %5s", none);
	}
}

/* ---- dmon ---- */

/* A reading of dmon: "85", or "-" when the device does not give it. */
static void reading_cell(struct strbuf *out, long long value, int valid)
{
	if (valid)
		strbuf_addf(out, " %5lld", value);
	else
		strbuf_addf(out, " %5s", "-");
}

static int shown_group(const struct smi_stream_options *o, char group)
{
	return strchr(o->groups, group) != NULL;
}

static void dmon_header(struct strbuf *out, const struct smi_stream_options *o)
{
	static const char *const rows[2][3] = {{"pwr", "temp", "util"}, {"W", "C", "%"}};
	for (int r = 0; r < 2; r++) {
		strbuf_addstr(out, r ? "# Idx" : "# gpu");
		if (shown_group(o, 'p'))
			strbuf_addf(out, " %5s %5s", rows[r][0], rows[r][1]);
		if (shown_group(o, 'u'))
			strbuf_addf(out, " %5s", rows[r][2]);
		for (int k = 0; shown_group(o, 'm') && k < MEMS; k++)
			strbuf_addf(out, " %5s", r ? "MB" : mem_names[k]);
		strbuf_addstr(out, "\n");
	}
}

static void dmon_line(struct strbuf *out, const struct smi_stream_options *o, const struct snapshot_device *d)
{
	const struct proto_status_payload *st = &d->status;
	strbuf_addf(out, "%5d", d->index);
	if (shown_group(o, 'p')) {
		reading_cell(out, smi_round_milli((long long)st->power_mw), (st->valid & PROTO_STATUS_POWER) != 0);
		reading_cell(out, smi_round_milli(st->temperature_mc), (st->valid & PROTO_STATUS_TEMPERATURE) != 0);
	}
	if (shown_group(o, 'u'))
		reading_cell(out, st->utilization, (st->valid & PROTO_STATUS_UTILIZATION) != 0);
	if (shown_group(o, 'm')) {
		uint64_t bytes[MEMS];
		device_memory(d, bytes);
		memory_cells(out, bytes, NULL);
	}
	strbuf_addstr(out, "\n");
}

/* ---- pmon ---- */

static void pmon_header(struct strbuf *out)
{
	strbuf_addf(out, "# gpu %10s %5s", "pid", "type");
	for (int k = 0; k < MEMS; k++)
		strbuf_addf(out, " %5s", mem_names[k]);
	strbuf_addf(out, "   command\n# Idx %10s %5s", "#", "C/S");
	memory_cells(out, NULL, "MB");
	strbuf_addstr(out, "   name\n");
}

/* C: reports through ttalloc; S: only tt-metal's shared memory; X: a shared-memory slot whose process is gone. */
static const char *process_type(const struct snapshot_process *p)
{
	if (!(p->usage.flags & PROTO_PROCESS_SHM))
		return "C";
	return (p->usage.flags & PROTO_PROCESS_STALE) ? "X" : "S";
}

static void pmon_line(struct strbuf *out, const struct snapshot_process *p)
{
	char name[sizeof(p->usage.comm)];
	uint64_t bytes[MEMS];
	process_memory(p, bytes);
	smi_text_sanitize(name, sizeof(name), p->usage.comm[0] ? p->usage.comm : "-");
	strbuf_addf(out, "%5d %10d %5s", p->device, (int)p->pid, process_type(p));
	memory_cells(out, bytes, NULL);
	strbuf_addf(out, "   %s\n", name);
}

/* A device without processes: "-" in every column, as nvidia-smi prints it. */
static void pmon_idle_line(struct strbuf *out, int device)
{
	strbuf_addf(out, "%5d %10s %5s", device, "-", "-");
	memory_cells(out, NULL, "-");
	strbuf_addstr(out, "   -\n");
}

static void pmon_device(struct strbuf *out, const struct snapshot_process **sorted, size_t count, int device)
{
	int any = 0;
	for (size_t i = 0; i < count; i++) {
		if (sorted[i]->device != device)
			continue;
		pmon_line(out, sorted[i]);
		any = 1;
	}
	if (!any)
		pmon_idle_line(out, device);
}

/* ---- both ---- */

void smi_stream_header(struct strbuf *out, const struct smi_stream_options *o)
{
	if (o->kind == SMI_DMON)
		dmon_header(out, o);
	else
		pmon_header(out);
}

void smi_stream_lines(struct strbuf *out, const struct smi_stream_options *o, const struct snapshot *snap)
{
	const struct snapshot_process **sorted = o->kind == SMI_PMON ? smi_processes_sorted(snap) : NULL;
	if (o->kind == SMI_PMON && !sorted && snap->num_processes) {
		out->failed = 1;
		return;
	}
	for (uint32_t i = 0; i < snap->num_devices; i++) {
		const struct snapshot_device *d = &snap->devices[i];
		if (o->kind == SMI_DMON)
			dmon_line(out, o, d);
		else
			pmon_device(out, sorted, snap->num_processes, d->index);
	}
	free(sorted);
}

/* ---- options ---- */

static const char *stream_name(enum smi_stream_kind kind)
{
	return kind == SMI_DMON ? "dmon" : "pmon";
}

void smi_stream_usage(FILE *out, enum smi_stream_kind kind)
{
	if (kind == SMI_DMON)
		fprintf(out,
			"Usage: tt_smi dmon [OPTIONS]\n"
			"Like nvidia-smi dmon: every sample one line per device - power (W),\n"
			"temperature (C), utilization (%%) and the memory of each buffer type in\n"
			"MB (dram, l1, l1sm = L1_SMALL, trace, cb) - under a two-line header.\n"
			"A reading the device does not give prints \"-\".\n\n"
			"  -s, --select GROUPS  metric groups to show, any of p (power and\n"
			"                       temperature), u (utilization), m (memory);\n"
			"                       default pum\n");
	else
		fprintf(out,
			"Usage: tt_smi pmon [OPTIONS]\n"
			"Like nvidia-smi pmon: every sample one line per process and device\n"
			"- device, pid, type (C: reports through ttalloc, S: only through\n"
			"tt-metal's shared memory, X: a shared-memory slot whose process is\n"
			"gone), memory of each buffer type in MB, command name - and a line of\n"
			"\"-\" for a device no process uses.\n\n");
	fprintf(out,
		"  -c, --count N        take N samples, then exit (default: until Ctrl-C)\n"
		"  -d, --delay SECONDS  between samples (default 1; decimals allowed, %g..%d)\n"
		"  -i, --id LIST        only these devices: indices, serials, UUIDs or PCI\n"
		"                       bus ids, comma-separated (0,2)\n"
		"      --socket PATH    server socket (default $%s or\n"
		"                       %s)\n"
		"  -h, --help           this text\n\n"
		"Ctrl-C or SIGTERM ends it (exit 0). Exit 1 when the server cannot be\n"
		"reached at the first sample (later it is tried again every sample), 2 on a\n"
		"bad command line or a device that does not exist.\n",
		SMI_MIN_REFRESH_MS / 1000.0, SMI_MAX_REFRESH_MS / 1000, PROTO_SOCKET_ENV, PROTO_DEFAULT_SOCKET);
}

/* Keeps -i's list for smi_select_devices, checked for empty items now. */
static int parse_ids(struct smi_stream_options *o, const char *list, char *err)
{
	if (smi_select_check(list, err, ERR_LEN) < 0)
		return TTALLOC_EINVAL;
	o->ids = list;
	return 0;
}

/* Keeps the groups of -s in SMI_DMON_GROUPS order; refuses any other letter. */
static int parse_groups(struct smi_stream_options *o, const char *text, char *err)
{
	size_t n = 0;
	if (!*text || text[strspn(text, SMI_DMON_GROUPS)]) {
		snprintf(err, ERR_LEN, "bad value '%s' for -s/--select (any of p, u, m)", text);
		return TTALLOC_EINVAL;
	}
	for (const char *g = SMI_DMON_GROUPS; *g; g++)
		if (strchr(text, *g))
			o->groups[n++] = *g;
	o->groups[n] = '\0';
	return 0;
}

enum { OPT_SOCKET = 256 };

static const struct option stream_longopts[] = {
	{"count", required_argument, NULL, 'c'},
	{"delay", required_argument, NULL, 'd'},
	{"id", required_argument, NULL, 'i'},
	{"select", required_argument, NULL, 's'},
	{"socket", required_argument, NULL, OPT_SOCKET},
	{"help", no_argument, NULL, 'h'},
	{NULL, 0, NULL, 0},
};

static int apply_stream_option(void *ctx, int opt, const char *arg, int argc, char **argv, char *err)
{
	(void)argc;
	(void)argv;
	struct smi_stream_options *o = ctx;
	uint64_t v;
	switch (opt) {
	case 'h':
		return CLI_HELP;
	case OPT_SOCKET:
		o->socket_path = arg;
		return 0;
	case 'c':
		if (cli_uint("-c/--count", arg, 10, 1, SMI_STREAM_MAX_COUNT, &v, err) < 0)
			return TTALLOC_EINVAL;
		o->count = (int)v;
		return 0;
	case 'd':
		return smi_parse_seconds("-d/--delay", arg, &o->delay_ms, err, ERR_LEN) < 0 ? TTALLOC_EINVAL : 0;
	case 'i':
		return parse_ids(o, arg, err);
	case 's':
		if (o->kind == SMI_PMON) {
			snprintf(err, ERR_LEN, "pmon shows memory only: -s/--select is dmon's");
			return TTALLOC_EINVAL;
		}
		return parse_groups(o, arg, err);
	default:
		return TTALLOC_EINVAL;
	}
}

int smi_stream_parse(struct smi_stream_options *o, enum smi_stream_kind kind, int argc, char **argv, char *err)
{
	*o = (struct smi_stream_options){.kind = kind, .delay_ms = 1000, .groups = SMI_DMON_GROUPS};
	return cli_parse(argc, argv, ":c:d:i:s:h", stream_longopts, apply_stream_option, o, NULL, err);
}

/* ---- the loop ---- */

/* Prints one sample (the header first when `first`). Returns 0, or -1 when it cannot be written. */
static int print_sample(const struct smi_stream_options *o, const struct snapshot *snap, int first)
{
	struct strbuf text = STRBUF_INIT;
	if (first)
		smi_stream_header(&text, o);
	smi_stream_lines(&text, o, snap);
	int rc = text.failed || fwrite(text.buf, 1, text.len, stdout) != text.len || fflush(stdout) == EOF ? -1 : 0;
	strbuf_release(&text);
	return rc;
}

/* Samples until -c or a signal. Returns the exit status. */
static int stream(const struct smi_stream_options *o, const char *prog)
{
	struct query_client qc = QUERY_CLIENT_INIT;
	struct snapshot snap = SNAPSHOT_INIT;
	char err[UNIX_SOCKET_ERR_LEN];
	int taken = 0, failing = 0, status = 0;
	while (!smi_live_stopped() && (!o->count || taken < o->count)) {
		if (taken)
			poll(NULL, 0, o->delay_ms); /* a signal ends the wait */
		if (smi_live_stopped())
			break;
		int rc = smi_live_snapshot(&qc, o->socket_path, &snap, err);
		if (rc < 0 && !taken) {
			fprintf(stderr, "%s: %s\n", prog, err);
			status = 1;
			break;
		}
		if (rc < 0 && !failing) /* an outage: said when it starts and when it ends */
			fprintf(stderr, "%s: %s (trying again every sample)\n", prog, err);
		else if (rc == 0 && failing)
			fprintf(stderr, "%s: connected again\n", prog);
		failing = rc < 0;
		if (rc < 0)
			continue;
		if (smi_select_devices(&snap, o->ids, err, sizeof(err)) < 0) {
			fprintf(stderr, "%s: %s\n", prog, err);
			status = CLI_EXIT_USAGE;
			break;
		}
		if (print_sample(o, &snap, taken++ == 0) < 0) {
			status = 1;
			break;
		}
	}
	query_close(&qc);
	snapshot_release(&snap);
	return status;
}

int smi_stream_main(enum smi_stream_kind kind, int argc, char **argv)
{
	struct smi_stream_options o;
	char err[ERR_LEN], prog[32];
	snprintf(prog, sizeof(prog), "tt_smi %s", stream_name(kind));
	int parsed = smi_stream_parse(&o, kind, argc, argv, err);
	if (parsed < 0)
		return cli_fail(prog, err);
	if (parsed == CLI_HELP) {
		smi_stream_usage(stdout, kind);
		return 0;
	}
	smi_live_catch_signals();
	return stream(&o, prog);
}
