/*
 * diag.c - tt_smi's diagnosis modes (diag.h): their options, and running
 * them against the server's documents.
 */
#include <errno.h>
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>

#include "common/cli.h"
#include "common/protocol.h"
#include "common/query.h"
#include "devices/device.h"
#include "smi/diag.h"
#include "smi/smi.h"

/* ---- options ---- */

static int set_mode(struct smi_diag *d, enum smi_diag_mode mode, const char *arg, char *err)
{
	if (d->mode != SMI_DIAG_NONE)
		return error_set(err, -1,
				 "choose one of --oom, --map, --mark, --snapshot, --diff, --export-stacks "
				 "and --export-trace");
	if (arg && !*arg)
		return error_set(err, -1, "an empty argument is not a file name or label");
	d->mode = mode;
	d->arg = arg;
	return 0;
}

/* --type: a buffer type by name, any case. */
static int parse_type(const char *arg, int *type, char *err)
{
	for (unsigned t = 0; t < TTALLOC_BUFFER_TYPES; t++)
		if (strcasecmp(arg, proto_buffer_type_name(t)) == 0) {
			*type = (int)t;
			return 0;
		}
	return error_set(err, -1, "bad value '%s' for --type (dram, l1, l1_small, trace, system_memory, cb, kernel)",
			 arg);
}

/* --diff A [B]: B is the next argument when it is not an option. */
static int parse_diff(struct smi_diag *d, const char *arg, int argc, char **argv, char *err)
{
	if (set_mode(d, SMI_DIAG_DIFF, arg, err) < 0)
		return -1;
	if (optind < argc && argv[optind][0] != '-')
		d->arg2 = argv[optind++];
	return 0;
}

int smi_diag_option(struct smi_diag *d, int opt, const char *arg, int argc, char **argv, char *err)
{
	uint64_t v;
	switch (opt) {
	case SMI_OPT_OOM:
		return set_mode(d, SMI_DIAG_OOM, NULL, err);
	case SMI_OPT_MAP:
		return set_mode(d, SMI_DIAG_MAP, NULL, err);
	case SMI_OPT_MARK:
		if (!proto_text_valid(arg, PROTO_TEXT_MAX + 1)) /* stops at the NUL; 72 bytes and up are refused */
			return error_set(err, -1, "a mark label is 1..%d bytes of text without control characters",
					 PROTO_TEXT_MAX);
		return set_mode(d, SMI_DIAG_MARK, arg, err);
	case SMI_OPT_SNAPSHOT:
		return set_mode(d, SMI_DIAG_SNAPSHOT, arg, err);
	case SMI_OPT_DIFF:
		return parse_diff(d, arg, argc, argv, err);
	case SMI_OPT_EXPORT_STACKS:
		return set_mode(d, SMI_DIAG_EXPORT_STACKS, arg, err);
	case SMI_OPT_EXPORT_TRACE:
		return set_mode(d, SMI_DIAG_EXPORT_TRACE, arg, err);
	case SMI_OPT_TYPE:
		return parse_type(arg, &d->type, err);
	case SMI_OPT_PID:
		if (cli_uint("--pid", arg, 10, 1, INT32_MAX, &v, err) < 0)
			return -1;
		d->pid = (int)v;
		return 0;
	default:
		return 1;
	}
}

int smi_diag_settle(struct smi_diag *d, const char *ids, int other_mode, char *err)
{
	if (d->mode != SMI_DIAG_NONE && other_mode)
		return error_set(err, -1,
				 "--oom, --map, --mark, --snapshot, --diff and the exports are modes of their "
				 "own: not with a query, --json, --csv-log, -w, -l or --history");
	int takes_filters = d->mode == SMI_DIAG_MAP || d->mode == SMI_DIAG_EXPORT_STACKS;
	if ((d->type >= 0 || d->pid) && !takes_filters)
		return error_set(err, -1, "--type and --pid go with --map or --export-stacks");
	if (d->mode == SMI_DIAG_MAP && d->type >= 0 && device_region_of((unsigned)d->type) == DEVICE_REGION_NONE)
		return error_set(err, -1,
				 "--map draws dram, l1, l1_small or trace memory: %s buffers have no address range "
				 "of their own on the device",
				 proto_buffer_type_name((unsigned)d->type));
	if (ids && d->mode != SMI_DIAG_NONE) {
		if (!takes_filters)
			return error_set(err, -1, "-i goes with --map or --export-stacks among the diagnosis modes");
		if (strchr(ids, ','))
			return error_set(err, -1, "-i names one device with --map and --export-stacks, not a list");
		d->ids = ids;
	}
	return 0;
}

void smi_diag_usage(FILE *out)
{
	fprintf(out,
		"Diagnosis (each a mode of its own):\n"
		"  --oom                the latest allocation failure's post-mortem: what was asked,\n"
		"                       what was free, the largest free block, who holds the memory,\n"
		"                       the biggest buffers and the process's last events\n"
		"  --map                a device memory's address map as a strip (holes are dots),\n"
		"                       free bytes, largest free block and fragmentation\n"
		"  -i, --id ID          --map: the device (index, serial, UUID or bus id; default\n"
		"                       0); --export-stacks: only that device\n"
		"  --type T             --map: dram (default), l1, l1_small or trace;\n"
		"                       --export-stacks: only buffers of type T\n"
		"  --pid P              --map: process P's allocator view; --export-stacks: only P\n"
		"  --mark LABEL         record a named point in the server's timeline (1..%d bytes);\n"
		"                       GET /api/diff?from=A&to=B compares two\n"
		"  --snapshot FILE      write the whole picture (devices, processes, buffers with\n"
		"                       stacks) as JSON\n"
		"  --diff A.json [B.json]\n"
		"                       what grew between two snapshots (B: the live server), per\n"
		"                       process, buffer type and allocation stack\n"
		"  --export-stacks FILE live bytes per allocation stack, collapsed stacks for\n"
		"                       flamegraph.pl, inferno or speedscope (\"-\": stdout)\n"
		"  --export-trace FILE  memory over time, leaks, failures, marks and misuse as Chrome\n"
		"                       Trace Event Format JSON (Perfetto UI, chrome://tracing)\n\n",
		PROTO_TEXT_MAX);
}

/* ---- running ---- */

/* Reads a document from the server at `path`; prints why not. Returns its text (free it) or NULL. */
static char *fetch(const char *sock, const char *doc, size_t *len)
{
	struct query_client qc = QUERY_CLIENT_INIT;
	char err[ERR_LEN];
	char *text = NULL;
	int rc = query_connect(&qc, sock, err);
	if (rc == 0)
		rc = query_document(&qc, doc, &text, len, err);
	query_close(&qc);
	if (rc < 0) {
		fprintf(stderr, "tt_smi: %s\n", err);
		return NULL;
	}
	return text;
}

/* fetch(), parsed. */
static json_t *fetch_json(const char *sock, const char *doc)
{
	size_t len;
	char *text = fetch(sock, doc, &len);
	json_error_t jerr;
	json_t *j = text ? json_loadb(text, len, 0, &jerr) : NULL;
	if (text && !j)
		fprintf(stderr, "tt_smi: the server's %s is not JSON: %s\n", doc, jerr.text);
	free(text);
	return j;
}

/* Writes `len` bytes to `file` ("-": stdout). Returns the exit status. */
static int write_file(const char *file, const char *text, size_t len)
{
	int to_stdout = strcmp(file, "-") == 0;
	FILE *f = to_stdout ? stdout : fopen(file, "w");
	if (!f || fwrite(text, 1, len, f) != len || (to_stdout ? fflush(f) : fclose(f)) == EOF) {
		fprintf(stderr, "tt_smi: cannot write %s: %s\n", file, strerror(errno));
		return 1;
	}
	return 0;
}

/* Prints an appended text and releases it. Returns the exit status. */
static int print_text(struct strbuf *out)
{
	int rc = out->failed || write_file("-", out->buf ? out->buf : "", out->len);
	strbuf_release(out);
	return rc;
}

static int run_oom(const char *sock)
{
	json_t *doc = fetch_json(sock, "/api/oom?limit=1");
	if (!doc)
		return 1;
	struct strbuf out = STRBUF_INIT;
	smi_render_oom(&out, json_array_get(json_object_get(doc, "reports"), 0), time(NULL));
	json_decref(doc);
	return print_text(&out);
}

/*
 * The device -i names, as -i does everywhere (index, serial, UUID or bus
 * id), among the server's devices; -1 when -i was not given. Returns 0, 1
 * (the server could not be asked) or 2 (no such device), having printed why.
 */
static int resolve_device(const struct smi_diag *d, const char *sock, int *device)
{
	*device = -1;
	if (!d->ids)
		return 0;
	struct query_client qc = QUERY_CLIENT_INIT;
	struct snapshot snap = {0};
	char err[ERR_LEN];
	int rc = query_connect(&qc, sock, err);
	if (rc == 0)
		rc = snapshot_take(&qc, &snap, err);
	query_close(&qc);
	int status = rc < 0 ? 1 : smi_select_devices(&snap, d->ids, err, sizeof(err)) < 0 ? 2 : 0;
	if (status)
		fprintf(stderr, "tt_smi: %s\n", err);
	else
		*device = snap.devices[0].index;
	snapshot_release(&snap);
	return status;
}

static int run_map(const struct smi_diag *d, const char *sock)
{
	char path[PROTO_TEXT_MAX + 1];
	enum { STRIP = 64 };
	int device, status = resolve_device(d, sock, &device);
	if (status)
		return status;
	snprintf(path, sizeof(path), "/api/devices/%d/map?type=%s&cells=%d&blocks=5", device < 0 ? 0 : device,
		 proto_buffer_type_name(d->type < 0 ? TTALLOC_DRAM : (unsigned)d->type), STRIP);
	if (d->pid)
		snprintf(path + strlen(path), sizeof(path) - strlen(path), "&pid=%d", d->pid);
	json_t *doc = fetch_json(sock, path);
	if (!doc)
		return 1;
	struct strbuf out = STRBUF_INIT;
	smi_render_map(&out, doc, STRIP);
	json_decref(doc);
	return print_text(&out);
}

static int run_mark(const char *label, const char *sock)
{
	struct query_client qc = QUERY_CLIENT_INIT;
	char err[ERR_LEN];
	int rc = query_connect(&qc, sock, err);
	if (rc == 0)
		rc = query_mark(&qc, label, err);
	query_close(&qc);
	if (rc < 0) {
		fprintf(stderr, "tt_smi: %s\n", err);
		return 1;
	}
	printf("Mark '%s' recorded.\n", label);
	return 0;
}

/* --snapshot, --export-stacks, --export-trace: a document into a file. */
static int run_export(const char *doc, const char *file, const char *sock)
{
	size_t len;
	char *text = fetch(sock, doc, &len);
	if (!text)
		return 1;
	int rc = write_file(file, text, len);
	free(text);
	return rc;
}

/* Reads a snapshot file; prints why not. */
static json_t *load_snapshot(const char *file)
{
	json_error_t jerr;
	json_t *j = json_load_file(file, 0, &jerr);
	if (!j)
		fprintf(stderr, "tt_smi: cannot read the snapshot %s: %s\n", file, jerr.text);
	else if (!json_is_string(json_object_get(j, "format")) ||
		 strcmp(json_string_value(json_object_get(j, "format")), "ttalloc-snapshot") != 0) {
		fprintf(stderr, "tt_smi: %s is not a ttalloc snapshot (tt_smi --snapshot FILE writes one)\n", file);
		json_decref(j);
		j = NULL;
	}
	return j;
}

static int run_diff(const struct smi_diag *d, const char *sock)
{
	json_t *a = load_snapshot(d->arg);
	json_t *b = !a ? NULL : d->arg2 ? load_snapshot(d->arg2) : fetch_json(sock, "/api/snapshot");
	int rc = 1;
	if (a && b) {
		struct strbuf out = STRBUF_INIT;
		rc = smi_render_snapshot_diff(&out, a, b, d->arg, d->arg2 ? d->arg2 : "the live server") < 0;
		rc = rc ? 1 : print_text(&out);
		if (rc)
			strbuf_release(&out);
	}
	json_decref(a);
	json_decref(b);
	return rc;
}

int smi_diag_run(const struct smi_diag *d, const char *path)
{
	char doc[PROTO_TEXT_MAX + 1];
	int device, status;
	switch (d->mode) {
	case SMI_DIAG_OOM:
		return run_oom(path);
	case SMI_DIAG_MAP:
		return run_map(d, path);
	case SMI_DIAG_MARK:
		return run_mark(d->arg, path);
	case SMI_DIAG_SNAPSHOT:
		return run_export("/api/snapshot", d->arg, path);
	case SMI_DIAG_DIFF:
		return run_diff(d, path);
	case SMI_DIAG_EXPORT_STACKS:
		if ((status = resolve_device(d, path, &device)) != 0)
			return status;
		snprintf(doc, sizeof(doc), "/api/export/stacks?%s%s", d->type >= 0 ? "type=" : "",
			 d->type >= 0 ? proto_buffer_type_name((unsigned)d->type) : "");
		if (device >= 0)
			snprintf(doc + strlen(doc), sizeof(doc) - strlen(doc), "&device=%d", device);
		if (d->pid)
			snprintf(doc + strlen(doc), sizeof(doc) - strlen(doc), "&pid=%d", d->pid);
		return run_export(doc, d->arg, path);
	case SMI_DIAG_EXPORT_TRACE:
		return run_export("/api/export/trace", d->arg, path);
	default:
		return 2;
	}
}
