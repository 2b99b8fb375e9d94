/*
 * top_render.c - one screen of `tt_smi top` (top.h) as lines of text with
 * ANSI styles: the devices with bars and sparklines scaled to capacity, the
 * process table laid out for the width, the buffer view and the help.
 */
#include <stdio.h>
#include <string.h>

#include "common/format.h"
#include "smi/top.h"

/* ---- columns of the process table ---- */

/* A column: its title, width, alignment, and when it is dropped (0 never; 1 first). */
struct col_spec {
	const char *title;
	int width;
	enum smi_align align;
	int drop;
};

static const struct col_spec col_specs[TOP_COLS] = {
	[TOP_COL_GPU] = {"GPU", 3, SMI_RIGHT, 0},
	[TOP_COL_PID] = {"PID", 7, SMI_RIGHT, 0},
	[TOP_COL_USER] = {"USER", 8, SMI_LEFT, 2},
	[TOP_COL_AGE] = {"AGE", 6, SMI_RIGHT, 3},
	[TOP_COL_DRAM] = {"DRAM", 6, SMI_RIGHT, 0},
	[TOP_COL_L1] = {"L1", 6, SMI_RIGHT, 0},
	[TOP_COL_L1_SMALL] = {"L1_SMALL", 8, SMI_RIGHT, 0},
	[TOP_COL_TRACE] = {"TRACE", 6, SMI_RIGHT, 0},
	[TOP_COL_CB] = {"CB", 6, SMI_RIGHT, 0},
	[TOP_COL_BAR] = {"DRAM USE", 13, SMI_LEFT, 1},
	[TOP_COL_COMMAND] = {"COMMAND", TOP_MIN_COMMAND, SMI_LEFT, 4},
};
#define LAST_DROP 4
/* Columns before the table: the selection marker and a space. */
#define TABLE_LEAD 2

/* Columns the shown columns need, the command at its least. */
static int layout_need(const struct top_layout *l)
{
	int need = TABLE_LEAD - 1;
	for (int c = 0; c < TOP_COLS; c++)
		if (l->shown[c])
			need += col_specs[c].width + 1;
	return need;
}

void top_layout_compute(struct top_layout *l, int columns)
{
	memset(l, 0, sizeof(*l));
	for (int c = 0; c < TOP_COLS; c++)
		l->shown[c] = 1;
	for (int rank = 1; rank <= LAST_DROP && layout_need(l) > columns; rank++)
		for (int c = 0; c < TOP_COLS; c++)
			if (col_specs[c].drop == rank)
				l->shown[c] = 0;
	int start = TABLE_LEAD;
	for (int c = 0; c < TOP_COLS; c++) {
		if (!l->shown[c])
			continue;
		l->start[c] = start;
		l->width[c] = col_specs[c].width;
		start += col_specs[c].width + 1;
	}
	if (l->shown[TOP_COL_COMMAND] && columns > l->start[TOP_COL_COMMAND] + TOP_MIN_COMMAND)
		l->width[TOP_COL_COMMAND] = columns - l->start[TOP_COL_COMMAND];
}

/* ---- cells ---- */

enum smi_style top_threshold_style(uint64_t used, uint64_t total)
{
	if (!total)
		return SMI_PLAIN;
	unsigned pct = format_percent(used, total);
	return pct >= 90 ? SMI_RED : pct >= 75 ? SMI_YELLOW : SMI_GREEN;
}

char *top_format_memory(char *buf, size_t size, uint64_t bytes)
{
	if (!bytes)
		snprintf(buf, size, "-");
	else if (strlen(format_bytes_compact(buf, size, bytes, 1)) > 5)
		format_bytes_compact(buf, size, bytes, 0); /* "1023MB", not "1023.0MB" */
	return buf;
}

/* An age in at most six columns: "42s", "59m59s", "23h59m", "12d05h". Returns buf. */
static char *format_age(char *buf, size_t size, uint64_t seconds)
{
	if (seconds < 60)
		snprintf(buf, size, "%us", (unsigned)seconds);
	else if (seconds < 3600)
		snprintf(buf, size, "%um%02us", (unsigned)(seconds / 60), (unsigned)(seconds % 60));
	else if (seconds < 86400)
		snprintf(buf, size, "%uh%02um", (unsigned)(seconds / 3600), (unsigned)(seconds / 60 % 60));
	else
		snprintf(buf, size, "%ud%02uh", (unsigned)(seconds / 86400), (unsigned)(seconds / 3600 % 24));
	return buf;
}

/* ---- the painter: lines, clipped to the width ---- */

struct painter {
	struct strbuf *out;
	struct smi_row row; /* the line being built */
	int columns;
	int rows_left;
	int color;
};

static void line_begin(struct painter *p)
{
	smi_row_begin(&p->row, p->color);
}

/* Ends the line: clipped to the width (padded to it when `fill`), then '\n'. */
static void line_end(struct painter *p, int fill)
{
	if (p->rows_left <= 0)
		return;
	int used = smi_text_clip(p->out, strbuf_str(&p->row.text), p->columns);
	if (fill)
		strbuf_repeat(p->out, " ", p->columns - used);
	if (p->color)
		strbuf_addstr(p->out, SMI_STYLE_RESET);
	strbuf_addstr(p->out, "\n");
	if (p->row.text.failed)
		p->out->failed = 1;
	p->rows_left--;
}

/* Appends text at the cursor, styled when the line has colours. */
static void put(struct painter *p, enum smi_style style, const char *text)
{
	int styled = p->row.color && style != SMI_PLAIN;
	if (styled)
		strbuf_addstr(&p->row.text, smi_style_code(style));
	strbuf_addstr(&p->row.text, text);
	if (styled)
		strbuf_addstr(&p->row.text, SMI_STYLE_RESET);
	p->row.col += smi_text_width(text);
}

/* A whole line of text. */
static void text_line(struct painter *p, enum smi_style style, const char *text)
{
	line_begin(p);
	put(p, style, text);
	line_end(p, 0);
}

/* ---- bars and sparklines ---- */

/* Eighths of a cell, for bars finer than a character. */
static const char *const eighths[8] = {"", "▏", "▎", "▍", "▌", "▋", "▊", "▉"};

/* A bar `width` cells wide, filled in proportion used/total (any use shows), in its threshold colour. */
static void bar(struct painter *p, uint64_t used, uint64_t total, int width)
{
	struct strbuf text = STRBUF_INIT;
	uint64_t cells = total ? (uint64_t)((double)used / (double)total * width * 8.0) : 0;
	if (used && !cells)
		cells = 1;
	if (cells > (uint64_t)width * 8)
		cells = (uint64_t)width * 8;
	int full = (int)(cells / 8), part = (int)(cells % 8);
	strbuf_repeat(&text, "█", full);
	strbuf_addstr(&text, eighths[part]);
	strbuf_repeat(&text, "░", width - full - (part ? 1 : 0));
	put(p, top_threshold_style(used, total), strbuf_str(&text));
	strbuf_release(&text);
}

/* "  2%" in the threshold colour. */
static void percent(struct painter *p, uint64_t used, uint64_t total)
{
	char text[16];
	snprintf(text, sizeof(text), "%3u%%", format_percent(used, total));
	put(p, top_threshold_style(used, total), text);
}

/* Columns of a meter line around its bar and sparkline: "   DRAM  " bar " 300MB/12.0GB 100%  " spark. */
#define METER_FIXED 30
#define METER_MIN_BAR 5

int top_spark_width(int columns)
{
	int rest = columns - METER_FIXED;
	int bar_width = rest / 2 > METER_MIN_BAR ? rest / 2 : METER_MIN_BAR;
	return rest - bar_width > 0 ? rest - bar_width : 0;
}

void top_history_series(const struct history_snapshot *hist, int device, int dram, uint64_t *values,
			unsigned char *valid, int count)
{
	memset(values, 0, (size_t)count * sizeof(*values));
	memset(valid, 0, (size_t)count);
	if (!hist || !hist->buckets || device < 0 || (uint32_t)device >= hist->num_devices)
		return;
	int points = (int)hist->points;
	for (int i = 0; i < count; i++) {
		int b = points - count + i; /* the newest `count` buckets, right-aligned */
		if (b < 0)
			continue;
		const struct history_snapshot_bucket *k = &hist->buckets[(size_t)device * hist->points + (size_t)b];
		values[i] = dram ? k->used[SMI_USED_DRAM] + k->used[SMI_USED_TRACE]
				 : k->used[SMI_USED_L1] + k->used[SMI_USED_L1_SMALL];
		valid[i] = (unsigned char)k->valid;
	}
}

/* A sparkline of the device's history, scaled to its capacity. */
static void spark(struct painter *p, const struct top_screen *s, int device, int dram, uint64_t capacity, int width)
{
	if (width <= 0)
		return;
	uint64_t values[PROTO_HISTORY_MAX_POINTS];
	unsigned char valid[PROTO_HISTORY_MAX_POINTS];
	if (width > PROTO_HISTORY_MAX_POINTS)
		width = PROTO_HISTORY_MAX_POINTS;
	top_history_series(s->hist, device, dram, values, valid, width);
	struct strbuf text = STRBUF_INIT;
	smi_sparkline(&text, values, valid, width, capacity ? capacity : 1);
	put(p, SMI_DIM, strbuf_str(&text));
	strbuf_release(&text);
}

/* "   DRAM  ████░░░░  300MB/12.0GB   2%  ▁▂▃▅", L1 in MB: "450MB/1440MB" */
static void meter_line(struct painter *p, const struct top_screen *s, int device, int dram, uint64_t used,
		       uint64_t total)
{
	char u[SMI_UNIT_LEN], t[SMI_UNIT_LEN], amounts[2 * SMI_UNIT_LEN + 2];
	int spark_width = top_spark_width(p->columns);
	int bar_width = p->columns - METER_FIXED - spark_width;
	char *(*format)(char *, size_t, uint64_t) = dram ? smi_format_size : smi_format_mb; /* as the seed's box */
	snprintf(amounts, sizeof(amounts), "%s/%s", format(u, sizeof(u), used), format(t, sizeof(t), total));
	line_begin(p);
	put(p, SMI_BOLD, dram ? "   DRAM  " : "   L1    ");
	bar(p, used, total, bar_width > METER_MIN_BAR ? bar_width : METER_MIN_BAR);
	smi_row_cell(&p->row, p->row.col, 14, SMI_RIGHT, SMI_PLAIN, amounts);
	put(p, SMI_PLAIN, " ");
	percent(p, used, total);
	put(p, SMI_PLAIN, "  ");
	spark(p, s, device, dram, total, spark_width);
	line_end(p, 0);
}

/* "   L1_SMALL ██░░ 1%   TRACE ░░░░ 0%   CB █░░░ 2%": the other types against their region. */
static void detail_line(struct painter *p, const struct snapshot_device *d)
{
	const char *labels[] = {"L1_SMALL", "TRACE", "CB"};
	uint64_t used[] = {d->seed.l1_small_allocated, d->seed.trace_allocated, d->status.cb_allocated};
	uint64_t totals[] = {d->seed.total_l1_size, d->seed.total_dram_size, d->seed.total_l1_size};
	int part = (p->columns - 3) / 3;
	line_begin(p);
	put(p, SMI_PLAIN, "   ");
	for (int i = 0; i < 3; i++) {
		int width = part - (int)strlen(labels[i]) - 8;
		put(p, SMI_BOLD, labels[i]);
		put(p, SMI_PLAIN, " ");
		bar(p, used[i], totals[i], width > 1 ? width : 1);
		put(p, SMI_PLAIN, " ");
		percent(p, used[i], totals[i]);
		put(p, SMI_PLAIN, "  ");
	}
	line_end(p, 0);
}

/* " GPU 0  Wormhole_B0   43°C   90W  util 37%   3 processes   120 buffers" */
static void device_line(struct painter *p, const struct snapshot_device *d)
{
	char name[32], temp[SMI_UNIT_LEN], power[SMI_UNIT_LEN], util[SMI_UNIT_LEN], text[160];
	smi_text_sanitize(name, sizeof(name), d->status.name);
	smi_format_temperature(temp, sizeof(temp), d->status.temperature_mc,
			       (d->status.valid & PROTO_STATUS_TEMPERATURE) != 0);
	smi_format_power(power, sizeof(power), d->status.power_mw, (d->status.valid & PROTO_STATUS_POWER) != 0);
	smi_format_utilization(util, sizeof(util), d->status.utilization,
			       (d->status.valid & PROTO_STATUS_UTILIZATION) != 0);
	line_begin(p);
	snprintf(text, sizeof(text), " GPU %d ", d->index);
	put(p, SMI_BOLD, text);
	snprintf(text, sizeof(text), " %-14s %5s %5s  util %4s   %u process%s   %llu buffer%s", name, temp, power, util,
		 d->status.processes, d->status.processes == 1 ? "" : "es", (unsigned long long)d->status.live_buffers,
		 d->status.live_buffers == 1 ? "" : "s");
	put(p, SMI_PLAIN, text);
	line_end(p, 0);
}

/* One line per device when there is little room: " 0 DRAM ███░ 2%  L1 ██░░ 31%  43°C" */
static void compact_line(struct painter *p, const struct snapshot_device *d)
{
	char text[64], temp[SMI_UNIT_LEN];
	int width = (p->columns - 32) / 2;
	line_begin(p);
	snprintf(text, sizeof(text), "%3d ", d->index);
	put(p, SMI_BOLD, text);
	put(p, SMI_PLAIN, "DRAM ");
	bar(p, smi_device_dram_used(d), d->seed.total_dram_size, width > 1 ? width : 1);
	put(p, SMI_PLAIN, " ");
	percent(p, smi_device_dram_used(d), d->seed.total_dram_size);
	put(p, SMI_PLAIN, "  L1 ");
	bar(p, smi_device_l1_used(d), d->seed.total_l1_size, width > 1 ? width : 1);
	put(p, SMI_PLAIN, " ");
	percent(p, smi_device_l1_used(d), d->seed.total_l1_size);
	snprintf(text, sizeof(text), "  %s",
		 smi_format_temperature(temp, sizeof(temp), d->status.temperature_mc,
					(d->status.valid & PROTO_STATUS_TEMPERATURE) != 0));
	put(p, SMI_PLAIN, text);
	line_end(p, 0);
}

/* Lines per device that fit in `room`: 4 (with the detail line), 3, 1 (compact), or 0: not all fit. */
static int device_lines_each(int devices, int room)
{
	if (devices * 4 <= room)
		return 4;
	if (devices * 3 <= room)
		return 3;
	return devices <= room ? 1 : 0;
}

/* The devices, in at most `room` lines. */
static void devices_section(struct painter *p, const struct top_screen *s, int room)
{
	if (room <= 0)
		return;
	int n = (int)s->snap->num_devices, each = device_lines_each(n, room);
	int fit = each ? n : room - 1; /* compact lines and a "+N more" line */
	for (int i = 0; i < n && i < fit; i++) {
		const struct snapshot_device *d = &s->snap->devices[i];
		if (each <= 1) {
			compact_line(p, d);
			continue;
		}
		device_line(p, d);
		meter_line(p, s, d->index, 1, smi_device_dram_used(d), d->seed.total_dram_size);
		meter_line(p, s, d->index, 0, smi_device_l1_used(d), d->seed.total_l1_size);
		if (each == 4)
			detail_line(p, d);
	}
	if (fit < n) {
		char text[64];
		snprintf(text, sizeof(text), "   ... and %d more device%s", n - fit, n - fit == 1 ? "" : "s");
		text_line(p, SMI_DIM, text);
	}
}

/* Lines the device section takes in `room`. */
static int devices_height(const struct top_screen *s, int room)
{
	int n = s->snap ? (int)s->snap->num_devices : 0, each = device_lines_each(n, room);
	return each ? n * each : (room > 0 ? room : 0);
}

/* ---- the process table ---- */

static void table_header(struct painter *p, const struct top_layout *l)
{
	line_begin(p);
	for (int c = 0; c < TOP_COLS; c++)
		if (l->shown[c])
			smi_row_cell(&p->row, l->start[c], l->width[c], col_specs[c].align, SMI_BOLD,
				     col_specs[c].title);
	line_end(p, 0);
}

/* The DRAM bar cell of a row: the process's DRAM and TRACE against the device's DRAM. */
static void share_cell(struct painter *p, const struct top_layout *l, const struct top_row *r,
		       const struct snapshot *snap)
{
	uint64_t total = r->device >= 0 && (uint32_t)r->device < snap->num_devices
		? snap->devices[r->device].seed.total_dram_size
		: 0;
	uint64_t used = r->used[TOP_MEM_DRAM] + r->used[TOP_MEM_TRACE];
	smi_row_cell(&p->row, l->start[TOP_COL_BAR], 0, SMI_LEFT, SMI_PLAIN, "");
	bar(p, used, total, l->width[TOP_COL_BAR] - 6);
	put(p, SMI_PLAIN, " ");
	percent(p, used, total);
}

static void process_line(struct painter *p, const struct top_layout *l, const struct top_row *r, int selected,
			 const struct top_screen *s)
{
	char text[TOP_COLS][TOP_COMMAND_LEN];
	snprintf(text[TOP_COL_GPU], sizeof(text[0]), "%d", r->device);
	snprintf(text[TOP_COL_PID], sizeof(text[0]), "%d", (int)r->pid);
	snprintf(text[TOP_COL_USER], sizeof(text[0]), "%s", r->user);
	if (r->since_ns && s->now_ns > r->since_ns)
		format_age(text[TOP_COL_AGE], sizeof(text[0]), (s->now_ns - r->since_ns) / 1000000000u);
	else
		snprintf(text[TOP_COL_AGE], sizeof(text[0]), "-");
	for (int k = 0; k < TOP_MEMS; k++)
		top_format_memory(text[TOP_COL_DRAM + k], sizeof(text[0]), r->used[k]);
	snprintf(text[TOP_COL_COMMAND], sizeof(text[0]), "%s", r->command);
	smi_row_begin(&p->row, p->color && !selected); /* a selected row is one reverse-video bar */
	if (selected && p->color)
		strbuf_addstr(&p->row.text, "\033[7m");
	put(p, SMI_PLAIN, selected ? ">" : " ");
	for (int c = 0; c < TOP_COLS; c++) {
		if (!l->shown[c])
			continue;
		if (c == TOP_COL_BAR)
			share_cell(p, l, r, s->snap);
		else
			smi_row_cell(&p->row, l->start[c], l->width[c], col_specs[c].align, SMI_PLAIN, text[c]);
	}
	line_end(p, selected);
}

static void process_table(struct painter *p, struct top_model *m, const struct top_screen *s, int room)
{
	struct top_layout l;
	top_layout_compute(&l, s->columns);
	table_header(p, &l);
	int page = room - 1;
	top_model_fit(m, page);
	for (size_t i = m->scroll; i < m->num_shown && (int)(i - m->scroll) < page; i++)
		process_line(p, &l, &m->rows[m->shown[i]], i == m->selected, s);
	if (m->num_shown == 0)
		text_line(p, SMI_DIM, m->filter[0] ? "  No process matches the filter" : "  No process uses a device");
}

/* ---- the title and the key line ---- */

static void title_line(struct painter *p, const struct top_model *m, const struct top_screen *s)
{
	char clock[16], text[256];
	strftime(clock, sizeof(clock), "%H:%M:%S", localtime(&s->now));
	line_begin(p);
	put(p, SMI_BOLD, "tt_smi top");
	snprintf(text, sizeof(text), "  %s  %u device%s  %zu process row%s  sort: %s%s", clock,
		 s->snap ? s->snap->num_devices : 0, s->snap && s->snap->num_devices == 1 ? "" : "s", m->num_shown,
		 m->num_shown == 1 ? "" : "s", top_sort_name(m->sort), m->reverse ? " (reversed)" : "");
	put(p, SMI_PLAIN, text);
	if (m->filter[0]) {
		snprintf(text, sizeof(text), "  filter: %s", m->filter);
		put(p, SMI_YELLOW, text);
	}
	line_end(p, 0);
}

static void key_line(struct painter *p, const struct top_model *m, const struct top_screen *s)
{
	char text[128];
	if (m->editing) {
		snprintf(text, sizeof(text), "Filter: %s_   (Enter keep, Esc clear)", m->draft);
		text_line(p, SMI_YELLOW, text);
	} else if (s->error) {
		text_line(p, SMI_RED, s->error);
	} else if (m->view == TOP_VIEW_BUFFERS) {
		text_line(p, SMI_DIM, "Up/Down scroll  Esc back  ? help  q quit");
	} else if (m->view == TOP_VIEW_HELP) {
		text_line(p, SMI_DIM, "any key: back  q quit");
	} else {
		text_line(p, SMI_DIM, "Up/Down select  Enter buffers  s sort  r reverse  / filter  ? help  q quit");
	}
}

/* ---- the buffer view ---- */

enum { BUF_ADDRESS, BUF_TYPE, BUF_SIZE, BUF_AGE, BUF_FRAME, BUF_COLS };

static const struct col_spec buf_specs[BUF_COLS] = {
	[BUF_ADDRESS] = {"ADDRESS", 19, SMI_LEFT, 0},   [BUF_TYPE] = {"TYPE", 9, SMI_LEFT, 0},
	[BUF_SIZE] = {"SIZE", 7, SMI_RIGHT, 0},         [BUF_AGE] = {"AGE", 6, SMI_RIGHT, 0},
	[BUF_FRAME] = {"ALLOCATED AT", 0, SMI_LEFT, 0},
};

/* Start column of each buffer column; the frame takes the rest of the line. */
static void buffer_cells(struct painter *p, const char *const text[BUF_COLS], enum smi_style style)
{
	int start = 2;
	line_begin(p);
	for (int c = 0; c < BUF_COLS; c++) {
		int width = c == BUF_FRAME ? p->columns - start : buf_specs[c].width;
		if (width > 0)
			smi_row_cell(&p->row, start, width, buf_specs[c].align, style, text[c]);
		start += buf_specs[c].width + 1;
	}
	line_end(p, 0);
}

static void buffer_line(struct painter *p, const struct buffer_snapshot_row *b)
{
	char address[24], size[SMI_UNIT_LEN], age[16], frame[sizeof(b->frame)];
	snprintf(address, sizeof(address), "0x%016llx", (unsigned long long)b->address);
	top_format_memory(size, sizeof(size), b->size);
	format_age(age, sizeof(age), b->age_ns / 1000000000u);
	smi_text_sanitize(frame, sizeof(frame), b->frame[0] ? b->frame : "?");
	const char *text[BUF_COLS] = {address, proto_buffer_type_name(b->type), size, age, frame};
	buffer_cells(p, text, SMI_PLAIN);
}

static void buffer_summary(struct painter *p, const struct top_model *m)
{
	char text[256], total[FORMAT_BYTES_LEN];
	uint64_t bytes = 0;
	for (size_t i = 0; i < m->bufs.count; i++)
		bytes += m->bufs.rows[i].size;
	format_bytes_compact(total, sizeof(total), bytes, 1);
	if (m->buf_total > m->bufs.count)
		snprintf(text, sizeof(text), "  %llu live buffers; the newest %zu listed (%s), largest first",
			 (unsigned long long)m->buf_total, m->bufs.count, total);
	else
		snprintf(text, sizeof(text), "  %zu live buffer%s (%s), largest first", m->bufs.count,
			 m->bufs.count == 1 ? "" : "s", total);
	text_line(p, SMI_PLAIN, text);
}

static void buffer_view(struct painter *p, struct top_model *m, int room)
{
	char text[TOP_COMMAND_LEN + 64];
	snprintf(text, sizeof(text), "Buffers of PID %d on GPU %d: %s", (int)m->buf_pid, m->buf_device, m->buf_command);
	text_line(p, SMI_BOLD, text);
	if (m->buf_error[0]) {
		text_line(p, SMI_RED, m->buf_error);
		return;
	}
	buffer_summary(p, m);
	const char *titles[BUF_COLS];
	for (int c = 0; c < BUF_COLS; c++)
		titles[c] = buf_specs[c].title;
	buffer_cells(p, titles, SMI_BOLD);
	int page = room - 3;
	top_model_fit(m, page);
	for (size_t i = m->buf_scroll; i < m->bufs.count && (int)(i - m->buf_scroll) < page; i++)
		buffer_line(p, &m->bufs.rows[i]);
	if (m->bufs.count == 0)
		text_line(p, SMI_DIM, "  No live buffers on this device");
}

/* ---- the help ---- */

static void help_view(struct painter *p, const struct top_screen *s)
{
	static const char *const lines[] = {
		"Keys",
		"  Up/Down, j/k        select a process (PgUp/PgDn, Home/End or g/G: further)",
		"  Enter               its buffers: address, type, size, age, where allocated",
		"  Esc, Left           back from the buffers; clears the filter",
		"  s or >, <           next / previous sort key: memory, pid, name, age, device",
		"  m p n a d           sort by memory, pid, name (command), age, device",
		"  r                   reverse the order (the same sort key again does too)",
		"  /                   filter: command, name, user or pid containing the text",
		"  ?                   this help",
		"  q, Ctrl-C           quit",
		"",
		"Bars and percentages: green, yellow from 75 %, red from 90 % of the capacity.",
		"Sparklines: the device's memory over time, scaled to its capacity.",
	};
	char text[96];
	for (size_t i = 0; i < sizeof(lines) / sizeof(lines[0]); i++)
		text_line(p, i == 0 ? SMI_BOLD : SMI_PLAIN, lines[i]);
	snprintf(text, sizeof(text), "Refreshed every %d ms (-r MS).", s->refresh_ms);
	text_line(p, SMI_PLAIN, text);
}

/* ---- the screen ---- */

int top_render(struct strbuf *out, struct top_model *m, const struct top_screen *s)
{
	if (s->rows <= 0)
		return 0;
	/* every line but the last, which is the key line's */
	struct painter p = {.out = out,
			    .row = {.text = STRBUF_INIT},
			    .columns = s->columns,
			    .rows_left = s->rows - 1,
			    .color = s->color};
	int body = s->rows - 2; /* all but the title and the key line */
	title_line(&p, m, s);
	if (m->view == TOP_VIEW_HELP) {
		help_view(&p, s);
	} else if (m->view == TOP_VIEW_BUFFERS) {
		buffer_view(&p, m, body);
	} else {
		int room = (body - 1) / 2; /* the devices take at most half, the table the rest */
		if (s->snap)
			devices_section(&p, s, room);
		process_table(&p, m, s, body - devices_height(s, room));
	}
	while (p.rows_left > 0)
		text_line(&p, SMI_PLAIN, "");
	p.rows_left = 1;
	key_line(&p, m, s);
	smi_row_release(&p.row);
	return out->failed ? TTALLOC_ENOMEM : 0;
}
