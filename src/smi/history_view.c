/*
 * history_view.c - tt_smi --history (smi.h): each device's DRAM and L1 over
 * the last minutes as sparklines, from the server's history ring
 * (HISTORY_QUERY), in the same box as the main table.
 *
 * │ GPU  Memory Now      Peak     History: 5m, 6s per column, █ = peak      │
 * │ 0    DRAM   300MB    1.2GB    ▁▁▁▂▂▃▅▇█▇▅▃▂▁▁▁▁▁▁▁▁▁▁▁▁▁▁▁▁▁▁▁▁▁▁▁▁▁▁▁▁ │
 * │      L1     0MB      0MB      ▁▁▁▁▁▁▁▁▁▁▁▁▁▁▁▁▁▁▁▁▁▁▁▁▁▁▁▁▁▁▁▁▁▁▁▁▁▁▁▁▁ │
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "smi/smi.h"

#define HISTORY_TITLE "tt-smi v1.0"
#define CLOCK_FORMAT "%a %b %e %H:%M:%S"
#define CLOCK_MARGIN 3

/* Columns inside the box: GPU, memory kind, now, peak, then the sparkline. */
enum { COL_GPU = 1, COL_KIND = 6, COL_NOW = 13, COL_PEAK = 22, COL_SPARK = 31 };

struct hrender {
	struct strbuf *out;
	const struct smi_history_view *view;
	int inner;
	struct smi_row row;
};

int smi_history_points(int columns)
{
	/* the sparkline cell runs to the border; its last column stays blank */
	return smi_layout_clamp(columns) - 2 - COL_SPARK - 1;
}

char *smi_format_span(char *buf, size_t size, uint64_t seconds)
{
	uint64_t h = seconds / 3600, m = seconds / 60 % 60, s = seconds % 60;
	int n = 0;
	buf[0] = '\0';
	if (h)
		n += snprintf(buf + n, size - (size_t)n, "%lluh", (unsigned long long)h);
	if (m && (size_t)n < size)
		n += snprintf(buf + n, size - (size_t)n, "%llum", (unsigned long long)m);
	if ((s || seconds == 0) && (size_t)n < size)
		snprintf(buf + n, size - (size_t)n, "%llus", (unsigned long long)s);
	return buf;
}

static void cell(struct hrender *r, int start, int width, enum smi_align align, enum smi_style style, const char *text)
{
	smi_row_cell(&r->row, start, width, align, style, text);
}

static void end_row(struct hrender *r)
{
	smi_box_row(r->out, &r->row, r->inner);
}

static void text_row(struct hrender *r, enum smi_style style, const char *text)
{
	smi_row_begin(&r->row, r->view->color);
	cell(r, 1, r->inner - 1, SMI_LEFT, style, text);
	end_row(r);
}

static void title_row(struct hrender *r)
{
	char clock[64] = "";
	struct tm tm;
	if (localtime_r(&r->view->now, &tm))
		strftime(clock, sizeof(clock), CLOCK_FORMAT, &tm);
	int width = smi_text_width(clock);
	int start = r->inner - CLOCK_MARGIN - width;
	smi_row_begin(&r->row, r->view->color);
	cell(r, 1, start - 2, SMI_LEFT, SMI_BOLD, HISTORY_TITLE " - memory history");
	cell(r, start, width, SMI_RIGHT, SMI_PLAIN, clock);
	end_row(r);
}

static void header_row(struct hrender *r, const struct history_snapshot *hist)
{
	char span[32], step[32], text[128];
	uint64_t step_s = (hist->step_ms + 999) / 1000;
	smi_format_span(span, sizeof(span), hist->seconds);
	if (hist->step_ms % 1000 == 0 || step_s >= 60)
		smi_format_span(step, sizeof(step), step_s);
	else
		snprintf(step, sizeof(step), "%.1fs", hist->step_ms / 1000.0);
	snprintf(text, sizeof(text), "History: last %s, %s per column, █ = peak", span, step);
	smi_row_begin(&r->row, r->view->color);
	cell(r, COL_GPU, COL_KIND - COL_GPU, SMI_LEFT, SMI_BOLD, "GPU");
	cell(r, COL_KIND, COL_NOW - COL_KIND, SMI_LEFT, SMI_BOLD, "Memory");
	cell(r, COL_NOW, COL_PEAK - COL_NOW, SMI_LEFT, SMI_BOLD, "Now");
	cell(r, COL_PEAK, COL_SPARK - COL_PEAK, SMI_LEFT, SMI_BOLD, "Peak");
	cell(r, COL_SPARK, r->inner - COL_SPARK, SMI_LEFT, SMI_BOLD, text);
	end_row(r);
}

/* One memory row: label, use now, peak of the span, the sparkline right-aligned at "now". */
static int memory_row(struct hrender *r, const char *gpu, const char *kind, uint64_t now_bytes,
		      const struct history_snapshot *hist, int device, int l1)
{
	int width = r->inner - COL_SPARK - 1;
	int points = (int)hist->points;
	int shown = points < width ? points : width;
	int skip = points - shown; /* more buckets than columns: keep the newest */
	uint64_t *values = calloc((size_t)(shown > 0 ? shown : 1), sizeof(*values));
	unsigned char *valid = calloc((size_t)(shown > 0 ? shown : 1), 1);
	if (!values || !valid) {
		free(values);
		free(valid);
		return TTALLOC_ENOMEM;
	}
	uint64_t peak = now_bytes;
	if (device >= 0 && (uint32_t)device < hist->num_devices) {
		for (int i = 0; i < shown; i++) {
			const struct history_snapshot_bucket *b =
				&hist->buckets[(size_t)device * hist->points + (size_t)(skip + i)];
			values[i] = l1 ? b->used[SMI_USED_L1] + b->used[SMI_USED_L1_SMALL]
				       : b->used[SMI_USED_DRAM] + b->used[SMI_USED_TRACE];
			valid[i] = (unsigned char)b->valid;
			if (b->valid && values[i] > peak)
				peak = values[i];
		}
	}
	struct strbuf spark = STRBUF_INIT;
	strbuf_repeat(&spark, " ", width - shown);
	smi_sparkline(&spark, values, valid, shown, peak);
	char now_text[SMI_UNIT_LEN], peak_text[SMI_UNIT_LEN];
	smi_row_begin(&r->row, r->view->color);
	cell(r, COL_GPU, COL_KIND - COL_GPU, SMI_LEFT, SMI_PLAIN, gpu);
	cell(r, COL_KIND, COL_NOW - COL_KIND, SMI_LEFT, SMI_PLAIN, kind);
	cell(r, COL_NOW, COL_PEAK - COL_NOW, SMI_LEFT, SMI_PLAIN,
	     smi_format_size(now_text, sizeof(now_text), now_bytes));
	cell(r, COL_PEAK, COL_SPARK - COL_PEAK, SMI_LEFT, SMI_PLAIN,
	     smi_format_size(peak_text, sizeof(peak_text), peak));
	cell(r, COL_SPARK, r->inner - COL_SPARK, SMI_LEFT, SMI_GREEN, strbuf_str(&spark));
	end_row(r);
	int rc = spark.failed ? TTALLOC_ENOMEM : 0;
	strbuf_release(&spark);
	free(values);
	free(valid);
	return rc;
}

static void status_line(struct hrender *r, int connected)
{
	int color = r->view->color;
	strbuf_addstr(r->out, "\nServer Status: ");
	if (connected)
		strbuf_addf(r->out, "✅ %sConnected%s", color ? smi_style_code(SMI_GREEN) : "",
			    color ? SMI_STYLE_RESET : "");
	else
		strbuf_addf(r->out, "❌ %sDisconnected%s", color ? smi_style_code(SMI_RED) : "",
			    color ? SMI_STYLE_RESET : "");
	strbuf_addf(r->out, " | Updates: %s\n", r->view->mode == SMI_MODE_WATCH ? "Real-time" : "One-shot");
}

static int render_body(struct hrender *r)
{
	const struct smi_history_view *v = r->view;
	int rc = 0;
	smi_box_rule(r->out, SMI_RULE_TOP, r->inner);
	title_row(r);
	smi_box_rule(r->out, SMI_RULE_MIDDLE, r->inner);
	if (!v->snap || !v->hist) {
		char reason[UNIX_SOCKET_ERR_LEN];
		smi_text_sanitize(reason, sizeof(reason), v->error ? v->error : "not connected");
		text_row(r, SMI_RED, reason);
		text_row(r, SMI_PLAIN, "The history is kept by ttalloc-server: start it, then run tt_smi --history.");
	} else {
		header_row(r, v->hist);
		smi_box_rule(r->out, SMI_RULE_MIDDLE, r->inner);
		for (uint32_t d = 0; d < v->snap->num_devices && rc == 0; d++) {
			const struct snapshot_device *dev = &v->snap->devices[d];
			char gpu[16];
			snprintf(gpu, sizeof(gpu), "%d", dev->index);
			rc = memory_row(r, gpu, "DRAM", smi_device_dram_used(dev), v->hist, dev->index, 0);
			if (rc == 0)
				rc = memory_row(r, "", "L1", smi_device_l1_used(dev), v->hist, dev->index, 1);
		}
		if (v->snap->num_devices == 0)
			text_row(r, SMI_PLAIN, "No devices reported by the server");
	}
	smi_box_rule(r->out, SMI_RULE_BOTTOM, r->inner);
	status_line(r, v->snap != NULL);
	return rc;
}

int smi_render_history(struct strbuf *out, const struct smi_history_view *view)
{
	struct hrender r = {.out = out,
			    .view = view,
			    .inner = smi_layout_clamp(view->columns) - 2,
			    .row = {.text = STRBUF_INIT}};
	int rc = render_body(&r);
	smi_row_release(&r.row);
	if (rc == 0 && out->failed)
		rc = TTALLOC_ENOMEM;
	return rc;
}
