/*
 * diag.h - tt_smi's diagnosis modes (issue 13), each a command of its own:
 *
 *   --oom                 the latest allocation failure's post-mortem, readable
 *                         at a glance ("needs 2.0 GB, 6.0 GB free, largest free
 *                         block 1.0 GB: fragmentation")
 *   --map [-i N] [--type T] [--pid P]   (-i: tt_smi's device option)
 *                         a device memory's address map as a strip where the
 *                         holes are visible, with its figures
 *   --mark LABEL          a named point in the server's timeline
 *   --snapshot FILE       the whole picture (devices, processes, buffers with
 *                         stacks) as JSON
 *   --diff A.json [B.json]  what grew between two snapshots (B: the live
 *                         server), per process, type and stack
 *   --export-stacks FILE  live bytes by allocation stack, collapsed stacks
 *                         (flamegraph.pl, inferno, speedscope)
 *   --export-trace FILE   memory over time as Chrome Trace Event Format JSON
 *                         (Perfetto UI, chrome://tracing)
 *
 * They read the server's diagnosis documents over the socket (DOC_QUERY:
 * the same documents as GET /api/oom, /api/devices/N/map, ...). The
 * rendering functions take parsed documents and write text, so the unit
 * tests see exactly what a user sees.
 */
#ifndef TTALLOC_SMI_DIAG_H
#define TTALLOC_SMI_DIAG_H

#include <jansson.h>
#include <stdio.h>
#include <time.h>

#include "common/strbuf.h"

enum smi_diag_mode {
	SMI_DIAG_NONE = 0,
	SMI_DIAG_OOM,
	SMI_DIAG_MAP,
	SMI_DIAG_MARK,
	SMI_DIAG_SNAPSHOT,
	SMI_DIAG_DIFF,
	SMI_DIAG_EXPORT_STACKS,
	SMI_DIAG_EXPORT_TRACE,
};

struct smi_diag {
	enum smi_diag_mode mode;
	const char *arg;  /* the label or the file */
	const char *arg2; /* --diff's second file; NULL: the live server */
	const char *ids;  /* -i/--id: one device's index, serial, UUID or bus id; NULL: not given */
	int type;         /* --type T (enum ttalloc_buffer_type); -1: not given */
	int pid;          /* --pid P; 0: not given */
};

#define SMI_DIAG_INIT                             \
	{                                         \
		.mode = SMI_DIAG_NONE, .type = -1 \
	}

/* Option codes of the diagnosis options (getopt_long values). */
enum {
	SMI_OPT_OOM = 512,
	SMI_OPT_MAP,
	SMI_OPT_TYPE,
	SMI_OPT_PID,
	SMI_OPT_MARK,
	SMI_OPT_SNAPSHOT,
	SMI_OPT_DIFF,
	SMI_OPT_EXPORT_STACKS,
	SMI_OPT_EXPORT_TRACE,
};

/* The struct option entries of the diagnosis options, for tt_smi's table. */
#define SMI_DIAG_LONGOPTS                                                                                       \
	{"oom", no_argument, NULL, SMI_OPT_OOM}, {"map", no_argument, NULL, SMI_OPT_MAP},                       \
		{"type", required_argument, NULL, SMI_OPT_TYPE}, {"pid", required_argument, NULL, SMI_OPT_PID}, \
		{"mark", required_argument, NULL, SMI_OPT_MARK},                                                \
		{"snapshot", required_argument, NULL, SMI_OPT_SNAPSHOT},                                        \
		{"diff", required_argument, NULL, SMI_OPT_DIFF},                                                \
		{"export-stacks", required_argument, NULL, SMI_OPT_EXPORT_STACKS},                              \
		{"export-trace", required_argument, NULL, SMI_OPT_EXPORT_TRACE},

/*
 * Applies one diagnosis option (cli_apply_fn's arguments). Returns 0, 1
 * when `opt` is not one of them, or -1 with the problem in `err` (ERR_LEN).
 */
int smi_diag_option(struct smi_diag *d, int opt, const char *arg, int argc, char **argv, char *err);

/*
 * Checks the diagnosis options against the rest (`other_mode`: a query,
 * --json, --csv-log, watch, --history, ... was chosen) and keeps tt_smi's
 * -i/--id (`ids`, NULL when not given) for --map and --export-stacks: it
 * names one device as -i does everywhere, resolved when the mode runs. --map
 * takes the types that have an address map (dram, l1, l1_small, trace).
 * Returns 0 or -1 with `err`.
 */
int smi_diag_settle(struct smi_diag *d, const char *ids, int other_mode, char *err);

/* Writes the diagnosis options' part of --help. */
void smi_diag_usage(FILE *out);

/* Runs the chosen mode against the server at `path`; returns the exit status. */
int smi_diag_run(const struct smi_diag *d, const char *path);

/* ---- rendering (diag_render.c): parsed documents to text ---- */

/*
 * --oom: one post-mortem (an item of /api/oom's "reports"), or the
 * "nothing failed" line when `report` is NULL. `now`: for "N s ago".
 */
void smi_render_oom(struct strbuf *out, const json_t *report, time_t now);

/* --map: a /api/devices/N/map document drawn as a strip of `width` cells, and its figures. */
void smi_render_map(struct strbuf *out, const json_t *map, int width);

/*
 * --diff: two snapshot documents (/api/snapshot) compared: totals, then
 * per process, per type and per allocation stack, largest growth first.
 * `a_name` and `b_name` label them. Returns 0 or TTALLOC_ENOMEM.
 */
int smi_render_snapshot_diff(struct strbuf *out, const json_t *a, const json_t *b, const char *a_name,
			     const char *b_name);

#endif /* TTALLOC_SMI_DIAG_H */
