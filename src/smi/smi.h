/*
 * smi.h - tt_smi, the nvidia-smi-like view of the allocation server.
 *
 * tt_smi is built from small mechanisms, one file each, all of them usable
 * without a terminal so that the unit tests see exactly what a user sees:
 *
 *   text.c     display width of UTF-8 text, clipping, padding, sanitising
 *   units.c    the seed's numbers: "3.0GB", "450MB", "42°C", "85W", "( 2%)"
 *   layout.c   column positions for a box of a given width
 *   box.c      box-drawing rows and rules (┌─┐│├┤└┘) with styled cells
 *   render.c   the whole screen from a snapshot, a width and a time
 *   sparkline.c  ▁▂▃▄▅▆▇█ from a series of numbers
 *   history_view.c  --history: each device's memory over time
 *   hardware.c the devices read directly when the server is down
 *   query_fields.c  --query-gpu / --query-compute-apps fields and CSV rows
 *   csv.c      CSV quoting and the seed's periodic CSV log
 *   json_out.c --json (jansson), and the helpers other JSON output shares
 *   doctor.c   --doctor's checks (doctor.h; gathered by doctor_facts.c)
 *   report.c   -q's per-device report and -L's list
 *   select.c   -i/--id: the devices a command is about
 *   options.c  the command line
 *   terminal.c raw input, alternate screen, flicker-free frames
 *   main.c     one-shot, watch and query loops (not in the library)
 *
 * Widths are display columns, not bytes: "°" and the box characters take one
 * column, "✅" and "❌" two, ANSI escape sequences none.
 */
#ifndef TTALLOC_SMI_H
#define TTALLOC_SMI_H

#include <jansson.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <time.h>

#include "common/query.h"
#include "common/strbuf.h"
#include "devices/device.h"
#include "devices/holders_view.h"
#include "smi/diag.h"

/* ---- text.c: display width of UTF-8 text ---- */

/*
 * Display columns of `s`: one per code point, two for wide characters
 * (emoji such as ✅ ❌, CJK), none for combining marks, variation
 * selectors and ANSI escape sequences (ESC [ ... final byte). A byte that is
 * not valid UTF-8 counts as one column.
 */
int smi_text_width(const char *s);

/*
 * Appends `s` to `b`, keeping only as many characters as fit in `cols`
 * columns (a wide character that would straddle the limit is dropped).
 * Escape sequences are always kept, so a style reset after the cut still
 * reaches the terminal. Returns the columns appended.
 */
int smi_text_clip(struct strbuf *b, const char *s, int cols);

enum smi_align { SMI_LEFT, SMI_RIGHT };

/*
 * Appends `s` as a cell exactly `cols` columns wide: padded with spaces on
 * the right (SMI_LEFT) or left (SMI_RIGHT), or, when too wide, cut and
 * ended with "…" (spaces before the cut are dropped: "using…").
 */
void smi_text_cell(struct strbuf *b, const char *s, int cols, enum smi_align align);

/* smi_text_cell() with the text, not its padding, between `on` and `off` (escape sequences). */
void smi_text_cell_styled(struct strbuf *b, const char *s, int cols, enum smi_align align, const char *on,
			  const char *off);

/*
 * Copies `src` into `dst` (always NUL-terminated) as text safe to print on a
 * terminal: control characters, DEL and bytes that are not valid UTF-8
 * become '?'. Process names and user names come from other programs and
 * must never carry escape sequences to the screen.
 */
void smi_text_sanitize(char *dst, size_t size, const char *src);

/* ---- units.c: numbers as the seed prints them ---- */

#define SMI_UNIT_LEN 32

/* Whole MiB, rounded to nearest: the number every MB and MiB figure shows. */
uint64_t smi_whole_mib(uint64_t bytes);

/* `milli` / 1000 rounded to nearest, halves away from zero (°C, W). */
long long smi_round_milli(long long milli);

/*
 * Memory for the DRAM column and the process table: GB with one decimal
 * from 1 GiB up ("3.0GB", "12.0GB"), whole MB below ("300MB", "0MB").
 * Binary units, rounded to nearest. Returns buf.
 */
char *smi_format_size(char *buf, size_t size, uint64_t bytes);

/* Whole MB, whatever the size, for the L1 line ("450MB / 1440MB"). Returns buf. */
char *smi_format_mb(char *buf, size_t size, uint64_t bytes);

/* The percentage cell "( 2%)", "(25%)", "(100%)" (rounded down). Returns buf. */
char *smi_format_percent(char *buf, size_t size, uint64_t used, uint64_t total);

/* "42°C" from milli-degrees (rounded to nearest), or "N/A" when !valid. Returns buf. */
char *smi_format_temperature(char *buf, size_t size, int32_t milli_c, int valid);

/* "85W" from milliwatts (rounded to nearest), or "N/A" when !valid. Returns buf. */
char *smi_format_power(char *buf, size_t size, uint32_t milli_w, int valid);

/* "37%", or "N/A" when !valid. Returns buf. */
char *smi_format_utilization(char *buf, size_t size, uint32_t percent, int valid);

/*
 * A wall-clock time (ns since the epoch) in local time: strftime `format`
 * followed by a point and `decimals` (1..9, 0: none) truncated digits of the
 * second. SMI_CLOCK_ISO is Python's datetime.isoformat() ("2025-11-03T
 * 14:23:45.123456" with 6), SMI_CLOCK_NVIDIA nvidia-smi's timestamp field
 * ("2025/11/03 14:23:45.123" with 3). Returns buf.
 */
#define SMI_CLOCK_ISO "%Y-%m-%dT%H:%M:%S"
#define SMI_CLOCK_NVIDIA "%Y/%m/%d %H:%M:%S"
char *smi_format_clock(char *buf, size_t size, uint64_t realtime_ns, const char *format, int decimals);

/*
 * The device memory line "DRAM:  300MB / 12.0GB  ( 2%)": `label` padded to
 * seven columns, `used` right-aligned in five, " / ", `total`, two spaces and
 * the percentage of used in total. Returns buf.
 */
char *smi_format_memory(char *buf, size_t size, const char *label, const char *used, const char *total,
			uint64_t used_bytes, uint64_t total_bytes);

/* Indices of proto_process_payload.used[]: the seed's order, not enum ttalloc_buffer_type. */
enum smi_used { SMI_USED_DRAM, SMI_USED_L1, SMI_USED_L1_SMALL, SMI_USED_TRACE };

/*
 * Memory a device or process holds in each region. DRAM counts DRAM and
 * TRACE buffers (traces live in DRAM); L1 counts L1, L1_SMALL and circular
 * buffers. Host (SYSTEM_MEMORY) buffers are in neither.
 */
uint64_t smi_device_dram_used(const struct snapshot_device *dev);
uint64_t smi_device_l1_used(const struct snapshot_device *dev);
uint64_t smi_process_dram_used(const struct snapshot_process *proc);
uint64_t smi_process_l1_used(const struct snapshot_process *proc);

/*
 * All device memory a process holds on its device: DRAM and L1 as above
 * (DRAM, TRACE, L1, L1_SMALL, circular buffers, kernels), not SYSTEM_MEMORY
 * (host memory). nvidia-smi's used_memory.
 */
uint64_t smi_process_memory_used(const struct snapshot_process *proc);

/* ---- layout.c: where the columns go ---- */

/* Box width in columns, borders included: the seed's 80 inside, 82 in all. */
#define SMI_DEFAULT_COLUMNS 82
/* Narrowest box in which every column keeps a readable width. */
#define SMI_MIN_COLUMNS 68
/* Widest box; beyond it extra columns only add blank space. */
#define SMI_MAX_COLUMNS 300

enum smi_dev_col {
	SMI_DEV_LEAD,
	SMI_DEV_GPU,
	SMI_DEV_NAME,
	SMI_DEV_TEMP,
	SMI_DEV_POWER,
	SMI_DEV_MEMORY,
	SMI_DEV_UTIL,
	SMI_DEV_TAIL,
	SMI_DEV_COLS
};

enum smi_proc_col {
	SMI_PROC_LEAD,
	SMI_PROC_GPU,
	SMI_PROC_PID,
	SMI_PROC_USER,
	SMI_PROC_NAME,
	SMI_PROC_CONTAINER, /* no width unless a process runs in a container (smi_layout_add_container) */
	SMI_PROC_DRAM,
	SMI_PROC_L1,
	SMI_PROC_TAIL,
	SMI_PROC_COLS
};

#define SMI_TABLE_MAX_COLS 9
_Static_assert((int)SMI_DEV_COLS <= SMI_TABLE_MAX_COLS, "device columns fit a table layout");
_Static_assert((int)SMI_PROC_COLS <= SMI_TABLE_MAX_COLS, "process columns fit a table layout");

/* Start column (inside the left border) and width of each table column. */
struct smi_table_layout {
	int start[SMI_TABLE_MAX_COLS];
	int width[SMI_TABLE_MAX_COLS];
};

struct smi_layout {
	int columns; /* whole box, borders included */
	int inner;   /* between the borders */
	struct smi_table_layout dev;
	struct smi_table_layout proc;
};

/* Clamps a requested box width to SMI_MIN_COLUMNS .. SMI_MAX_COLUMNS. */
int smi_layout_clamp(int columns);

/*
 * Lays out both tables for a box `columns` wide (clamped). At 82 columns
 * this is the seed's layout; narrower boxes take columns from the name
 * columns and the blank tails first; wider boxes give the extra to the
 * process name.
 */
void smi_layout_compute(struct smi_layout *layout, int columns);

/*
 * Gives the process table a container column: half of the process name's
 * width (at least SMI_CONTAINER_MIN_COLUMNS), for when a process runs in a
 * container.
 */
#define SMI_CONTAINER_MIN_COLUMNS 10
void smi_layout_add_container(struct smi_layout *layout);

/*
 * What the container column shows for a process: "pod/container" (or the
 * pod) in Kubernetes, else the runtime and the first 12 digits of the id
 * ("docker 3f4e8a9b2c1d"). Returns buf.
 */
char *smi_container_text(char *buf, size_t size, const struct container_info *c);

/* ---- box.c: rows of the box ---- */

enum smi_style { SMI_PLAIN, SMI_BOLD, SMI_DIM, SMI_GREEN, SMI_YELLOW, SMI_RED };

/* The SGR escape sequence that starts `style` ("" for SMI_PLAIN). */
const char *smi_style_code(enum smi_style style);

/* The SGR sequence that ends any style. */
#define SMI_STYLE_RESET "\033[0m"

/*
 * A row's content, built cell by cell left to right; the cursor is its
 * display column. With `color` clear, styles are ignored.
 */
struct smi_row {
	struct strbuf text;
	int col;
	int color;
};

/* Starts an empty row (re-using the row's memory). */
void smi_row_begin(struct smi_row *row, int color);

/*
 * Moves to column `start` (padding with spaces; a cursor already past it
 * stays where it is) and appends `text` as a cell `width` columns wide. A
 * left-aligned cell's text gets at most width - 1 columns, so that cut text
 * ("a_long_us…") never touches the next cell.
 */
void smi_row_cell(struct smi_row *row, int start, int width, enum smi_align align, enum smi_style style,
		  const char *text);

/* Frees the row's memory. */
void smi_row_release(struct smi_row *row);

/* Appends "│" + the row padded or clipped to `inner` columns + "│\n". */
void smi_box_row(struct strbuf *out, const struct smi_row *row, int inner);

enum smi_rule { SMI_RULE_TOP, SMI_RULE_MIDDLE, SMI_RULE_BOTTOM };

/* Appends a horizontal rule: ┌──┐, ├──┤ or └──┘ with `inner` dashes. */
void smi_box_rule(struct strbuf *out, enum smi_rule rule, int inner);

/* ---- render.c: the screen ---- */

enum smi_mode { SMI_MODE_ONE_SHOT, SMI_MODE_WATCH };

/* Everything one screen shows. */
struct smi_view {
	const struct snapshot *snap; /* NULL: not connected to the server; snap->hardware_only: read
	                              * from the backends because the server is down */
	const char *error;           /* why not connected (shown in the box), or NULL */
	time_t now;                  /* the clock in the title, local time */
	int columns;                 /* box width, borders included (clamped) */
	enum smi_mode mode;          /* "Updates: One-shot" or "Real-time" */
	int color;                   /* 1: ANSI styles; 0: plain text */
};

/*
 * Renders the box and the status line under it into `out` (appending):
 * title and clock, one two-line row per device, the process table with a
 * "No processes using this device" row for idle devices, and "Server
 * Status: ✅ Connected | Updates: ..." - or, without a snapshot, the title,
 * the reason and "Server Status: ❌ Disconnected (reconnecting...)".
 * Every line of the box has the same display width. Returns 0, or
 * TTALLOC_ENOMEM.
 */
int smi_render(struct strbuf *out, const struct smi_view *view);

/*
 * Under the process table, a hardware-only snapshot (snap->hardware_only)
 * lists the kernel's holders of each device with memory N/A and says
 * "Server Status: ❌ Not running — hardware view only (no allocation
 * data)". A server snapshot with the kernel's view (snap->holders) adds the
 * holders that never reported as rows marked "(untracked)", memory N/A (or
 * the driver's figure), and marks "(vanished)" a reporting process the
 * driver no longer lists, with a legend line for each marker shown.
 */

/* The marker of a process row: "untracked", "vanished", or NULL for none. */
const char *smi_holder_marker(const struct snapshot *snap, int device, pid_t pid);

/*
 * The snapshot's process rows ordered by device, then pid: an array of
 * snap->num_processes pointers for the caller to free(), or NULL when out
 * of memory. The table, the CSV queries and the JSON all list this order.
 */
const struct snapshot_process **smi_processes_sorted(const struct snapshot *snap);

/* ---- sparkline.c: a series as block characters ---- */

/* Levels of a sparkline, lowest first: "▁" (zero) to "█" (the maximum). */
#define SMI_SPARK_LEVELS 8

/*
 * The level (0..SMI_SPARK_LEVELS-1) of `value` on a scale whose top is `max`:
 * 0 only for 0, the top level for max (and beyond), any other value at least
 * level 1 (rounded up), so a small non-zero value never looks like nothing.
 */
int smi_spark_level(uint64_t value, uint64_t max);

/*
 * Appends one character per value: a space where valid[i] is 0 (no data;
 * valid may be NULL: all valid), else the block of smi_spark_level(value,
 * max). `max` 0 scales to the largest valid value. Returns the columns
 * appended (count).
 */
int smi_sparkline(struct strbuf *out, const uint64_t *values, const unsigned char *valid, int count, uint64_t max);

/* ---- history_view.c: --history ---- */

/* Seconds of history shown when --history gives none. */
#define SMI_DEFAULT_HISTORY_SEC 300
#define SMI_MAX_HISTORY_SEC (7 * 24 * 3600)

/* One screen of --history. */
struct smi_history_view {
	const struct snapshot *snap;         /* devices now: names, totals, current use; NULL: disconnected */
	const struct history_snapshot *hist; /* their history; NULL with snap */
	const char *error;                   /* why there is nothing to show, or NULL */
	time_t now;
	int columns; /* box width, borders included (clamped) */
	enum smi_mode mode;
	int color;
};

/*
 * Columns of the sparkline in a history box `columns` wide: how many buckets
 * to ask the server for.
 */
int smi_history_points(int columns);

/*
 * Renders --history: per device a DRAM row (DRAM + TRACE) and an L1 row
 * (L1 + L1_SMALL) with the use now, the peak of the span and a sparkline of
 * the span, oldest left, now right, scaled to the row's peak; buckets from
 * before the server's history are blank. Returns 0 or TTALLOC_ENOMEM.
 */
int smi_render_history(struct strbuf *out, const struct smi_history_view *view);

/* "5m", "1h30m", "45s": a span in the history title. Returns buf. */
char *smi_format_span(char *buf, size_t size, uint64_t seconds);

/* ---- hardware.c: the devices themselves, without the server ---- */

/*
 * The device backends tt_smi opens itself when the allocation server cannot
 * be reached (--hw-root, $TTALLOC_HW_ROOT, --devices), as nvidia-smi shows
 * what the driver knows: names, sizes, readings, and who holds each device.
 */
struct smi_hardware {
	struct device_set set;
	struct holders_view holders;
	int opened; /* set holds hardware devices */
	int tried;  /* smi_hardware_open ran */
};

struct smi_options;

/* The hardware view's root: --hw-root, else $TTALLOC_HW_ROOT, else NULL (/). */
const char *smi_hardware_root(const struct smi_options *opts);

/*
 * Opens the backends for `selection` (NULL: auto) under `hw_root` (NULL or
 * "": /). Returns 1 when they found hardware, 0 when there is only the
 * simulation (nothing real to show; nothing stays open), or -1 with the
 * reason in `err` (DEVICE_ERR_LEN bytes). Opens once: later calls return
 * the first answer.
 */
int smi_hardware_open(struct smi_hardware *hw, const char *selection, const char *hw_root, char *err);

/*
 * A snapshot of the opened devices: static facts, a fresh reading, and the
 * kernel's holders of each device (all of them with memory unknown), with
 * hardware_only set. Returns 0 or TTALLOC_ENOMEM.
 */
int smi_hardware_snapshot(struct smi_hardware *hw, struct snapshot *snap);

/* Closes the devices; the struct can be opened again. */
void smi_hardware_close(struct smi_hardware *hw);

/* ---- query_fields.c: --query-gpu, --query-compute-apps, --format ---- */

/*
 * nvidia-smi's scriptable output: one CSV row per device (--query-gpu) or
 * per process and device (--query-compute-apps), values separated by ", ",
 * a header naming each field with its unit in brackets
 * ("memory.dram.used [MiB]"), values with their unit ("300 MiB", "85.00 W",
 * "2 %") unless nounits, "[N/A]" for a reading the device does not give.
 * One table per kind (query_fields.c) names the fields and reads them.
 */
enum smi_query_kind { SMI_QUERY_GPU, SMI_QUERY_APPS };

#define SMI_QUERY_MAX_FIELDS 64
#define SMI_NA "[N/A]"
/* Room for an error that lists every valid field name. */
#define SMI_ERR_LEN ERR_LEN

struct smi_query {
	enum smi_query_kind kind;
	int count;                                    /* fields chosen, 1..SMI_QUERY_MAX_FIELDS */
	unsigned char fields[SMI_QUERY_MAX_FIELDS];   /* indices into the kind's table */
	unsigned char by_alias[SMI_QUERY_MAX_FIELDS]; /* asked by nvidia-smi's name: the header echoes it */
	int noheader;                                 /* --format=csv,noheader */
	int nounits;                                  /* --format=csv,nounits */
};

/*
 * Parses a comma-separated field list ("index, name,memory.dram.used";
 * spaces around names are ignored, nvidia-smi's names such as memory.used
 * are accepted too) into q->kind, q->count and q->fields; the format flags
 * are left alone. Returns 0, or -1 with the problem in `err`: an unknown
 * name gives "unknown field 'x' for --query-gpu; did you mean 'y'?" when
 * one is close, else "...; valid fields: index, ...".
 */
int smi_query_parse_fields(struct smi_query *q, enum smi_query_kind kind, const char *list, char *err, size_t err_size);

/* Parses --format's value: "csv" plus optional "noheader", "nounits". Returns 0 or -1 with `err`. */
int smi_query_parse_format(struct smi_query *q, const char *spec, char *err, size_t err_size);

/* The option that chooses `kind` ("--query-gpu"). */
const char *smi_query_option(enum smi_query_kind kind);

/* Writes the fields of `kind` for --help: name, unit, meaning, nvidia-smi alias. */
void smi_query_help(FILE *out, enum smi_query_kind kind);

/*
 * Appends the header line, unless noheader: each field as it was asked
 * (nvidia-smi's "memory.used" or ttalloc's "memory.dram.used") with its
 * unit in brackets, as nvidia-smi echoes them ("index, memory.used [MiB]\n").
 */
void smi_query_header(struct strbuf *out, const struct smi_query *q);

/* Appends one line per device or per process row of `snap`. Returns 0 or TTALLOC_ENOMEM. */
int smi_query_rows(struct strbuf *out, const struct smi_query *q, const struct snapshot *snap);

/* ---- csv.c: CSV values and the seed's periodic log ---- */

/*
 * Appends `text` as one CSV value: made safe for a terminal first
 * (smi_text_sanitize), then quoted RFC 4180 style - in double quotes, inner
 * quotes doubled - when it holds a comma or a quote or starts or ends with
 * a space, so that "a, b" stays one value.
 */
void smi_csv_value(struct strbuf *out, const char *text);

/* The seed's "Log Periodic Snapshots" columns, written once at the top of a new log. */
#define SMI_CSV_LOG_HEADER "timestamp,device,dram,l1\n"

/*
 * Appends the seed's log rows for `snap`, one per device:
 * "2025-11-03T14:23:45.123456,0,104857600,0" - the snapshot's local time in
 * datetime.isoformat() form, the device id, and its dram_allocated and
 * l1_allocated in bytes (the seed's query_device_stats() keys).
 */
void smi_csv_log_rows(struct strbuf *out, const struct snapshot *snap);

/* ---- json_out.c: --json ---- */

/*
 * Appends `snap` as one JSON object (jansson): "timestamp", "devices" (the
 * seed's keys device_id, dram_allocated, l1_allocated, l1_small_allocated,
 * trace_allocated, then cb_allocated, system_memory_allocated, name, arch,
 * dram_total, l1_total, temperature_c, power_w, utilization - null when the
 * device gives no reading - buffers, processes) and "processes" (pid, name,
 * user, device, dram, l1, l1_small, trace, cb, system_memory, buffers; bytes
 * of each buffer type, not regions; "tracked": true, "vanished" when the
 * driver no longer lists it, "source": "socket"), then the processes that
 * hold a device without reporting ("tracked": false, "source": "kernel",
 * memory null). Indented, or on one line when `compact`; ends with a
 * newline. Returns 0 or TTALLOC_ENOMEM.
 */
int smi_json_snapshot(struct strbuf *out, const struct snapshot *snap, int compact);

struct json_t; /* jansson's json_t */

/* Adds `value` under `key` of `obj`; a NULL value (out of memory) or a failed add sets *failed. */
void smi_json_set(struct json_t *obj, const char *key, struct json_t *value, int *failed);

/* Appends `item` to the array `list`; a NULL item or a failed append sets *failed. */
void smi_json_append(struct json_t *list, struct json_t *item, int *failed);

/*
 * Appends `root` as text (json_dumps `flags`) and a newline to `out`, and
 * frees `root` (NULL: out of memory). Returns 0 or TTALLOC_ENOMEM.
 */
int smi_json_print(struct strbuf *out, struct json_t *root, size_t flags);

/* ---- report.c: -q and -L ---- */

/* -d/--display sections of the -q report, nvidia-smi's names. */
enum {
	SMI_REPORT_MEMORY = 1u << 0,
	SMI_REPORT_UTILIZATION = 1u << 1,
	SMI_REPORT_TEMPERATURE = 1u << 2,
	SMI_REPORT_POWER = 1u << 3,
	SMI_REPORT_PIDS = 1u << 4,
	SMI_REPORT_ALL = (1u << 5) - 1,
};

/*
 * Parses -d's comma list ("MEMORY,PIDS", any case) into SMI_REPORT_* bits.
 * Returns 0, or -1 with the unknown name and the valid ones in `err`.
 */
int smi_report_parse_sections(const char *list, unsigned *sections, char *err, size_t err_size);

/*
 * Appends nvidia-smi -q's layout for `snap`: a timestamp, the number of
 * devices, then per device "GPU N" and aligned "Name : value" lines -
 * product name, architecture, board type, serial, UUID, ASIC id, driver
 * version and PCI bus id, then the `sections` (0: all): DRAM and L1
 * use (total, used, free, each buffer type), utilization, temperature,
 * power, and processes (pid, type, name, user, used memory = every device
 * region; "exited, leaked" and tt-metal shm rows marked). Readings a device
 * does not give, and allocation figures of a hardware-only snapshot, are
 * N/A. Returns 0 or TTALLOC_ENOMEM.
 */
int smi_report(struct strbuf *out, const struct snapshot *snap, unsigned sections);

/*
 * Appends "GPU 0: Wormhole_B0 (UUID: ...)" per device (-L): the UUID where
 * the device has one, else "(Serial: ...)", else the name alone. Returns 0
 * or TTALLOC_ENOMEM.
 */
int smi_list_devices(struct strbuf *out, const struct snapshot *snap);

/* ---- select.c: -i/--id ---- */

/* Checks -i's comma list before any snapshot: no empty item. Returns 0, or -1 with `err`. */
int smi_select_check(const char *ids, char *err, size_t err_size);

/*
 * Keeps in `snap` only the devices `ids` names (NULL: all) - a comma list
 * of device indices, board serials, UUIDs or PCI bus ids (any case; a bus
 * id with or without its domain) - with their process rows and holders.
 * Every item must
 * name a device of the snapshot: else returns -1 with "no device matches
 * -i 'x' (devices: 0, 1)" in `err` and leaves `snap` alone.
 */
int smi_select_devices(struct snapshot *snap, const char *ids, char *err, size_t err_size);
/* ---- prometheus.c: --prometheus URL, the fleet from Prometheus ---- */

/* Processes listed, answer size accepted, and how long one query may take. */
#define SMI_FLEET_TOP_PROCESSES 10
#define SMI_FLEET_MAX_ANSWER (16u << 20)
#define SMI_FLEET_TIMEOUT_MS 5000

/* One device of one host (a scrape target), from ttalloc's series. */
struct smi_fleet_device {
	char host[128];     /* ttalloc_host_info's hostname, else the target */
	char instance[128]; /* the scrape target */
	int device;
	char name[64];
	double dram_used, dram_total, l1_used, l1_total; /* bytes; totals 0 when unknown */
	double temperature, power;                       /* °C, W, valid with the has_ flags */
	int has_temperature, has_power;
};

struct smi_fleet_process {
	char host[128];
	char instance[128];
	int device;
	char pid[16];
	char process[64];
	char user[64];
	char pod[256]; /* with --metrics-labels pod on the server, else "" */
	double dram;   /* bytes of DRAM and TRACE */
};

struct smi_fleet_host {
	char instance[128];
	char hostname[128];
};

struct smi_fleet_down {
	char instance[128];
};

/* The fleet as one round of queries saw it. */
struct smi_fleet {
	struct smi_fleet_device *devices; /* sorted by host, target, device */
	size_t num_devices, devices_cap;
	struct smi_fleet_process *processes; /* biggest first */
	size_t num_processes, processes_cap;
	struct smi_fleet_host *hosts;
	size_t num_hosts, hosts_cap;
	struct smi_fleet_down *down; /* ttalloc targets Prometheus cannot scrape */
	size_t num_down, down_cap;
	uint64_t taken_ns;
};

/* Called for each sample of an instant query's answer. */
typedef void (*smi_fleet_sample_fn)(json_t *metric, double value, void *ctx);

/*
 * Parses an answer of Prometheus's /api/v1/query holding a vector and calls
 * fn per sample. Returns 0, or -1 with the reason in `err` (not JSON, an
 * error status with Prometheus's message, not a vector).
 */
int smi_fleet_parse_vector(const char *answer, smi_fleet_sample_fn fn, void *ctx, char *err, size_t err_size);

/*
 * Asks the Prometheus at `url` (http[s]://[USER:PASSWORD@]HOST:PORT[/PATH])
 * for every ttalloc host's devices (memory, temperature, power) and the
 * fleet's biggest processes. Returns 0, or -1 with a reason in `err`: it
 * cannot be reached ("cannot reach Prometheus at URL: ..."), refuses a
 * query, or has no ttalloc series at all.
 */
int smi_fleet_fetch(struct smi_fleet *f, const char *url, char *err, size_t err_size);

/* Frees what smi_fleet_fetch allocated; the struct can be fetched into again. */
void smi_fleet_release(struct smi_fleet *f);

/* One screen of --prometheus. */
struct smi_fleet_view {
	const struct smi_fleet *fleet; /* NULL: the fetch failed (error says why) */
	const char *error;
	const char *url;
	time_t now;
	int columns;
	enum smi_mode mode;
	int color;
};

/*
 * Renders the fleet in tt_smi's box: a row per device of every host (host,
 * device, name, temperature, power, DRAM used / total with the percentage,
 * red from 90 %), then the top processes of the fleet, and a status line
 * naming the hosts and devices seen and any ttalloc target that is down.
 * Returns 0 or TTALLOC_ENOMEM.
 */
int smi_render_fleet(struct strbuf *out, const struct smi_fleet_view *view);

/* ---- options.c: the command line ---- */

enum smi_color { SMI_COLOR_AUTO, SMI_COLOR_NEVER, SMI_COLOR_ALWAYS };

#define SMI_DEFAULT_REFRESH_MS 1000
#define SMI_MIN_REFRESH_MS 50
#define SMI_MAX_REFRESH_MS 3600000

/* What tt_smi prints. */
enum smi_output {
	SMI_OUTPUT_TABLE,   /* the seed's box (default) */
	SMI_OUTPUT_QUERY,   /* --query-gpu / --query-compute-apps: CSV rows */
	SMI_OUTPUT_JSON,    /* --json */
	SMI_OUTPUT_CSV_LOG, /* --csv-log FILE: the seed's periodic log */
	SMI_OUTPUT_REPORT,  /* -q: the per-device report */
	SMI_OUTPUT_LIST,    /* -L: one line per device */
};

#define SMI_MAX_LOOP_SEC 3600
#define SMI_DEFAULT_INTERVAL_MS 5000 /* the seed's time.sleep(5) */

struct smi_options {
	int watch;               /* -w: redraw every refresh_ms */
	int refresh_ms;          /* -r MS (implies -w) */
	const char *socket_path; /* --socket PATH, or NULL for the default */
	enum smi_color color;    /* --color / --no-color / auto */
	int columns;             /* --width COLS, or 0: automatic */
	enum smi_output output;
	int clear_leaks;            /* --clear-leaks: drop what a --retain-leaks server keeps, then exit */
	struct smi_query query;     /* --query-*, --format (SMI_OUTPUT_QUERY) */
	int loop_ms;                /* -l SEC / -lms MS: repeat the query or JSON; 0: once */
	const char *csv_log;        /* --csv-log FILE */
	int interval_ms;            /* --interval SEC of --csv-log */
	const char *hw_root;        /* --hw-root DIR (else $TTALLOC_HW_ROOT): the hardware view's root */
	const char *devices;        /* --devices SEL for the hardware view (NULL: auto) */
	int history_sec;            /* --history [SECONDS]: show memory over time; 0: the table */
	const char *ids;            /* -i/--id LIST: the devices shown; NULL: all */
	unsigned sections;          /* -d/--display: SMI_REPORT_* bits of -q; 0: all */
	int help_query;             /* --help-query-*: 1 + the enum smi_query_kind whose fields to list */
	int doctor;                 /* --doctor: the health check (doctor.h), then exit */
	int doctor_json;            /* --doctor --json: the same as one JSON object */
	struct smi_diag diag;       /* --oom, --map, --mark, --snapshot, --diff, --export-* (diag.h) */
	const char *prometheus_url; /* --prometheus URL: the fleet from Prometheus instead of the server */
};

/*
 * Parses argv into `opts` (defaults first). Returns CLI_RUN, CLI_HELP or
 * CLI_VERSION (common/cli.h), or a negative code with the problem in `err`
 * (ERR_LEN bytes). Never prints or exits. Uses getopt_long; may be called
 * again (it resets getopt). -l/-lms without a query or --json repeat the
 * table: they set watch and refresh_ms.
 */
int smi_options_parse(struct smi_options *opts, int argc, char **argv, char *err);

/* Prints the --help text. */
void smi_usage(FILE *out);

/*
 * Parses the seconds of option `name`, decimals allowed ("0.5"), into
 * milliseconds in SMI_MIN_REFRESH_MS..SMI_MAX_REFRESH_MS. Returns 0, or -1
 * with a message in `err`.
 */
int smi_parse_seconds(const char *name, const char *text, int *ms, char *err, size_t err_size);

/*
 * Whether to print ANSI styles: never with --no-color or $NO_COLOR set,
 * always with --color, else only on a terminal (`is_tty`) whose $TERM is
 * not "dumb".
 */
int smi_use_color(enum smi_color color, int is_tty);

/* ---- terminal.c: the watch screen ---- */

/*
 * Appends a frame that repaints the screen in place without clearing it
 * first (no flicker): cursor home, each line of `text` followed by
 * erase-to-end-of-line unless it already fills the `cols` columns of the
 * screen (0: unknown), at most `rows` lines (0: no limit; the last line gets
 * no newline so the screen never scrolls), then erase-to-end-of-screen.
 */
void smi_frame_compose(struct strbuf *out, const char *text, int rows, int cols);

/* Rows and columns of the terminal on `fd`. Returns 0, or -1 when not a terminal. */
int smi_term_size(int fd, int *rows, int *cols);

/*
 * Takes over the terminal for watch mode: non-canonical, no-echo input on
 * `in_fd` (when it is a terminal; signals keys such as Ctrl-C still raise
 * signals), and on `out_fd` the alternate screen, hidden cursor and no line
 * wrap. Returns 0 or -1 (errno set). smi_term_leave() undoes everything;
 * only one terminal can be held at a time.
 */
int smi_term_enter(int in_fd, int out_fd);

/* Restores what smi_term_enter changed. Idempotent; safe when not entered. */
void smi_term_leave(void);

/*
 * Like smi_term_leave() but async-signal-safe (tcsetattr and write only),
 * for a signal handler that must exit at once.
 */
void smi_term_emergency_restore(void);

/* Writes all of `len` bytes to `fd`, retrying on EINTR. Returns 0 or -1. */
int smi_write_all(int fd, const char *data, size_t len);

#endif /* TTALLOC_SMI_H */
