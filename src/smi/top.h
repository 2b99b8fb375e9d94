/*
 * top.h - tt_smi's live views beside the seed's box: `tt_smi top` (an
 * nvitop-like screen) and nvidia-smi's streams `tt_smi dmon` and `tt_smi
 * pmon`. As in smi.h, everything but the terminal and the loops is
 * usable without a terminal, so the unit tests see what a user sees:
 *
 *   top_model.c   the process table of top: rows from a snapshot, the
 *                 command line of each process, sorting, the filter, the
 *                 selection, scrolling, the keys, the buffer list
 *   top_render.c  one screen of top at a size: per device bars and
 *                 capacity-scaled sparklines, the process table laid out
 *                 for the width, the buffer view, the help
 *   top.c         ncurses: the terminal, the server, the loop (top's main)
 *   dmon.c        dmon and pmon: options, header and sample lines, loop
 *   subcommands.c which first argument runs which of them
 */
#ifndef TTALLOC_SMI_TOP_H
#define TTALLOC_SMI_TOP_H

#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <sys/types.h>
#include <time.h>

#include "common/query.h"
#include "common/strbuf.h"
#include "smi/smi.h"

/* ---- top_model.c: the process table ---- */

/* Sort keys of the process table, in the order `s` cycles through them. */
enum top_sort { TOP_SORT_MEMORY, TOP_SORT_PID, TOP_SORT_NAME, TOP_SORT_AGE, TOP_SORT_DEVICE, TOP_SORTS };

/* The sort key's name as the title shows it ("memory"). */
const char *top_sort_name(enum top_sort sort);

/* Memory of a process row by buffer type, in the order of the columns. */
enum top_mem { TOP_MEM_DRAM, TOP_MEM_L1, TOP_MEM_L1_SMALL, TOP_MEM_TRACE, TOP_MEM_CB, TOP_MEMS };

#define TOP_COMMAND_LEN 256
#define TOP_FILTER_LEN 64

/* One process on one device. */
struct top_row {
	pid_t pid;
	int device;
	char user[32];
	char name[16];                 /* /proc/PID/comm as the server read it */
	char command[TOP_COMMAND_LEN]; /* the command line (its program without the directory), or the name; safe to print */
	uint64_t used[TOP_MEMS];       /* bytes per column */
	uint64_t memory;               /* all its memory on the device (kernels too): the memory key */
	uint64_t buffers;              /* live buffers; 0 for a shared-memory row */
	uint64_t since_ns;             /* first seen, ns since the epoch; 0: unknown */
	int shm;                       /* only tt-metal's shared memory reports it: no buffer list */
};

/* What the screen shows. */
enum top_view { TOP_VIEW_PROCESSES, TOP_VIEW_BUFFERS, TOP_VIEW_HELP };

/*
 * Writes the command line of `pid` into `buf` (size bytes), "" when it
 * cannot be read. top.c reads /proc (proc_read_cmdline); tests pass their own.
 */
typedef void (*top_cmdline_fn)(pid_t pid, char *buf, size_t size, void *ctx);

/* Keys the model understands besides printable characters. */
enum top_key {
	TOP_KEY_UP = 0x110000, /* beyond Unicode: never a character */
	TOP_KEY_DOWN,
	TOP_KEY_PAGE_UP,
	TOP_KEY_PAGE_DOWN,
	TOP_KEY_HOME,
	TOP_KEY_END,
	TOP_KEY_ENTER,
	TOP_KEY_ESCAPE,
	TOP_KEY_BACKSPACE,
	TOP_KEY_LEFT,
};

/* What a key asks of the loop. */
enum top_action {
	TOP_ACT_NONE,   /* nothing changed */
	TOP_ACT_REDRAW, /* the screen changed */
	TOP_ACT_QUIT,
	TOP_ACT_BUFFERS, /* the buffer view opened: fetch m->buf_pid's buffers on m->buf_device */
};

struct top_model {
	struct top_row *rows; /* every row of the last snapshot, sorted */
	size_t count;
	size_t cap;
	size_t *shown; /* indices of the rows that pass the filter, in order */
	size_t num_shown;
	size_t shown_cap;
	enum top_sort sort;
	int reverse;                 /* the sort's order turned around */
	char filter[TOP_FILTER_LEN]; /* case-insensitive text a row must contain; "" none */
	int editing;                 /* typing a filter after '/' */
	char draft[TOP_FILTER_LEN];  /* what has been typed */
	size_t selected;             /* position of the selection in shown[] */
	pid_t sel_pid;               /* the selected row, kept across refreshes */
	int sel_device;
	size_t scroll; /* first position of shown[] on the screen */
	int page;      /* rows of the list on the last screen (PgUp/PgDn) */
	enum top_view view;
	enum top_view before_help; /* the view '?' came from */
	/* the buffer view */
	pid_t buf_pid;
	int buf_device;
	char buf_command[TOP_COMMAND_LEN];
	uint64_t buf_total;                  /* live buffers the process row counts (the list may be capped) */
	struct buffer_snapshot bufs;         /* largest first */
	char buf_error[UNIX_SOCKET_ERR_LEN]; /* why there is no list, or "" */
	size_t buf_scroll;
};

/* An empty model: sorted by memory, no filter, the process view. */
void top_model_init(struct top_model *m);

/* Frees the model's memory. */
void top_model_release(struct top_model *m);

/*
 * Replaces the rows with those of `snap` (one per process and device; the
 * command line from `cmdline`, else the name), sorts and filters them, and
 * keeps the selection on the same process and device when it is still
 * there. Returns 0 or TTALLOC_ENOMEM.
 */
int top_model_update(struct top_model *m, const struct snapshot *snap, top_cmdline_fn cmdline, void *ctx);

/* Sorts by `sort` (again: the other way round) and keeps the selection. */
void top_model_set_sort(struct top_model *m, enum top_sort sort);

/* Shows only rows whose command, name, user or pid contains `text` (any case); "" shows all. */
void top_model_set_filter(struct top_model *m, const char *text);

/* The selected row, or NULL when none is shown. */
const struct top_row *top_model_selected(const struct top_model *m);

/*
 * Applies one key (a character, or a TOP_KEY_*): q quits; ? help; arrows,
 * j/k, PgUp/PgDn, Home/End (g/G) move; s and > next sort key, < previous,
 * m p n a d choose one, r reverses; / starts a filter (Enter applies, Esc
 * clears); Enter opens the selected process's buffers; Esc, Backspace or
 * Left go back. `page`: rows of the list on the screen (PgUp/PgDn).
 */
enum top_action top_model_key(struct top_model *m, int key, int page);

/*
 * Takes over `bufs` (or, with `error`, shows why there is none) as the
 * buffer view's list, largest first; `bufs` is left empty.
 */
void top_model_set_buffers(struct top_model *m, struct buffer_snapshot *bufs, const char *error);

/* Keeps the selection on the screen: adjusts scroll for a list of `page` rows (and remembers `page`). */
void top_model_fit(struct top_model *m, int page);

/* ---- top_render.c: one screen ---- */

/* Columns of the process table, left to right. */
enum top_col {
	TOP_COL_GPU,
	TOP_COL_PID,
	TOP_COL_USER,
	TOP_COL_AGE,
	TOP_COL_DRAM,
	TOP_COL_L1,
	TOP_COL_L1_SMALL,
	TOP_COL_TRACE,
	TOP_COL_CB,
	TOP_COL_BAR, /* the process's share of the device's DRAM as a bar */
	TOP_COL_COMMAND,
	TOP_COLS
};

/* Where each column of the process table goes at some width. */
struct top_layout {
	int shown[TOP_COLS]; /* 1: on the screen */
	int start[TOP_COLS]; /* first column */
	int width[TOP_COLS];
};

/*
 * Lays out the process table for `columns`: the GPU, PID and memory
 * columns always; the bar, then the user, the age and the command are
 * dropped, in that order, when they do not fit (the command needs at least
 * TOP_MIN_COMMAND columns); the command takes what is left. At 80 columns
 * every column but the bar is shown.
 */
#define TOP_MIN_COMMAND 10
void top_layout_compute(struct top_layout *l, int columns);

/* The style of a use of `used` out of `total`: red from 90 %, yellow from 75 %, else green. */
enum smi_style top_threshold_style(uint64_t used, uint64_t total);

/* The memory cell of the tables: "-" for none, "512B", "4.0KB", "300MB", "12GB". Returns buf. */
char *top_format_memory(char *buf, size_t size, uint64_t bytes);

/* How many history buckets the sparkline of a device line holds at `columns` (what to ask the server). */
int top_spark_width(int columns);

/*
 * The history of one device for a sparkline: DRAM (DRAM + TRACE) when
 * `dram`, else L1 (L1 + L1_SMALL), the newest `count` buckets (oldest
 * first; valid[i] 0 where there is none). Scaled by the caller to the
 * device's capacity, never to the series' own peak.
 */
void top_history_series(const struct history_snapshot *hist, int device, int dram, uint64_t *values,
			unsigned char *valid, int count);

/* What one screen shows besides the model. */
struct top_screen {
	const struct snapshot *snap;         /* devices and their totals; NULL: not connected */
	const struct history_snapshot *hist; /* NULL or empty: blank sparklines */
	const char *error;                   /* shown on the last line (red), or NULL */
	time_t now;                          /* the clock in the title, local time */
	uint64_t now_ns;                     /* ns since the epoch, for ages */
	int rows;                            /* screen size */
	int columns;
	int color;      /* ANSI styles (top.c turns them into curses attributes) */
	int refresh_ms; /* shown in the help */
};

/*
 * Renders the screen into `out` (appending): exactly s->rows lines, each
 * ending in '\n' and at most s->columns wide - the title, per device a
 * line of readings and bars for DRAM and L1 with sparklines (and, with room,
 * a line for L1_SMALL, TRACE and CB), the process table with the selection
 * marked '>', and the key line; or the buffer view, or the help. Adjusts
 * m->scroll so the selection is on the screen. Returns 0 or TTALLOC_ENOMEM.
 */
int top_render(struct strbuf *out, struct top_model *m, const struct top_screen *s);

/* ---- top.c: the terminal ---- */

/* `tt_smi top [OPTIONS]` (argv[0] is "top"). Returns the exit status. */
int smi_top_main(int argc, char **argv);

/* What `tt_smi top` was asked for. */
struct top_options {
	int refresh_ms;          /* -r MS */
	const char *socket_path; /* -s PATH; NULL: the default */
	enum smi_color color;
	const char *ids; /* -i LIST: only those devices (smi_select_devices); NULL: all */
};

/* Parses top's options (cli.h's conventions). Returns CLI_RUN, CLI_HELP or a negative code with `err`. */
int top_options_parse(struct top_options *o, int argc, char **argv, char *err);

/* ---- dmon.c: nvidia-smi's dmon and pmon ---- */

enum smi_stream_kind { SMI_DMON, SMI_PMON };

/* dmon's metric groups (-s): p power and temperature, u utilization, m memory. */
#define SMI_DMON_GROUPS "pum"
#define SMI_STREAM_MAX_COUNT 1000000

struct smi_stream_options {
	enum smi_stream_kind kind;
	int count;                            /* -c: samples, then exit; 0: until a signal */
	int delay_ms;                         /* -d SECONDS between samples */
	char groups[sizeof(SMI_DMON_GROUPS)]; /* -s (dmon): the groups shown, in SMI_DMON_GROUPS order */
	const char *ids;                      /* -i: the devices shown (smi_select_devices); NULL: all */
	const char *socket_path;              /* --socket */
};

/* Parses `tt_smi dmon|pmon [OPTIONS]` (argv[0] the subcommand). CLI_RUN, CLI_HELP or a negative code with `err`. */
int smi_stream_parse(struct smi_stream_options *o, enum smi_stream_kind kind, int argc, char **argv, char *err);

/* Prints dmon's or pmon's --help. */
void smi_stream_usage(FILE *out, enum smi_stream_kind kind);

/*
 * The two header lines, nvidia-smi's way: "# gpu   pwr  temp ..." and
 * "# Idx     W     C ...", every column right-aligned in 5 (pmon's pid in
 * 10, its command left after three spaces).
 */
void smi_stream_header(struct strbuf *out, const struct smi_stream_options *o);

/*
 * The lines of one sample: dmon one per device of `snap`; pmon one per
 * process and device, and "-" in every column of a device without one.
 * -i is applied to the snapshot beforehand (smi_select_devices).
 * Memory in whole MiB, a reading the device does not give "-".
 */
void smi_stream_lines(struct strbuf *out, const struct smi_stream_options *o, const struct snapshot *snap);

/* `tt_smi dmon|pmon [OPTIONS]`: samples until -c or a signal. Returns the exit status. */
int smi_stream_main(enum smi_stream_kind kind, int argc, char **argv);

/* ---- live.c: the connection of the live views ---- */

/*
 * Takes a snapshot on `qc`, connecting to `path` (NULL: the default) first
 * when it is closed; a connection that broke since the last one (a
 * restarted server) is replaced at once. Every answer is awaited at most
 * SMI_LIVE_TIMEOUT_MS. On failure the connection is closed and `err`
 * (UNIX_SOCKET_ERR_LEN bytes) says why. Returns 0 or a TTALLOC_E* code.
 */
#define SMI_LIVE_TIMEOUT_MS 3000
int smi_live_snapshot(struct query_client *qc, const char *path, struct snapshot *snap, char *err);

/*
 * Makes Ctrl-C, SIGTERM and SIGHUP end a live view cleanly: the signal is
 * noted (smi_live_stopped) and a wait in poll() ends at once. Install it
 * before curses, which then leaves these signals alone.
 */
void smi_live_catch_signals(void);

/* The signal that asked the live view to stop, or 0. */
int smi_live_stopped(void);

/* ---- subcommands.c ---- */

/* Runs a subcommand with its arguments (argv[0] its name); returns the exit status. */
typedef int (*smi_subcommand_fn)(int argc, char **argv);

/* The subcommand named `name` ("top", "dmon", "pmon"), or NULL: not one. */
smi_subcommand_fn smi_subcommand(const char *name);

#endif /* TTALLOC_SMI_TOP_H */
