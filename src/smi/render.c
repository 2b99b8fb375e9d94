/*
 * render.c - the tt_smi screen as text (smi.h): the seed's box, laid out for
 * the view's width, from a snapshot the caller took. No terminal and no
 * server here, so the unit tests check exactly what users see.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "common/format.h"
#include "smi/smi.h"

#define SMI_TITLE "tt-smi v1.0"
#define CLOCK_FORMAT "%a %b %e %H:%M:%S" /* "Mon Nov  3 14:23:45" */
#define CLOCK_MARGIN 3                   /* blank columns right of the clock */
#define NAME_LEN 96                      /* sanitised names: up to 4 bytes per char */
#define MEMORY_LEN 96

/* What every part of one rendering needs. */
struct render {
	struct strbuf *out;
	const struct smi_view *view;
	struct smi_layout layout;
	struct smi_row row;
	int containers; /* the process table has a container column */
};

static void row_begin(struct render *r)
{
	smi_row_begin(&r->row, r->view->color);
}

static void row_end(struct render *r)
{
	smi_box_row(r->out, &r->row, r->layout.inner);
}

/* A cell of the device table. */
static void dev_cell(struct render *r, enum smi_dev_col col, enum smi_align align, enum smi_style style,
		     const char *text)
{
	smi_row_cell(&r->row, r->layout.dev.start[col], r->layout.dev.width[col], align, style, text);
}

/* A cell of the process table. */
static void proc_cell(struct render *r, enum smi_proc_col col, enum smi_style style, const char *text)
{
	smi_row_cell(&r->row, r->layout.proc.start[col], r->layout.proc.width[col], SMI_LEFT, style, text);
}

/* A row with one text from column 1 to the border. */
static void text_row(struct render *r, enum smi_style style, const char *text)
{
	row_begin(r);
	smi_row_cell(&r->row, 1, r->layout.inner - 1, SMI_LEFT, style, text);
	row_end(r);
}

/* "│ tt-smi v1.0                          Mon Nov  3 14:23:45   │" */
static void render_title(struct render *r)
{
	char clock[64] = "";
	struct tm tm;
	if (localtime_r(&r->view->now, &tm))
		strftime(clock, sizeof(clock), CLOCK_FORMAT, &tm);
	int clock_width = smi_text_width(clock);
	int clock_start = r->layout.inner - CLOCK_MARGIN - clock_width;
	row_begin(r);
	smi_row_cell(&r->row, 1, clock_start - 2, SMI_LEFT, SMI_BOLD, SMI_TITLE);
	smi_row_cell(&r->row, clock_start, clock_width, SMI_RIGHT, SMI_PLAIN, clock);
	row_end(r);
}

static void render_device_header(struct render *r)
{
	const struct smi_table_layout *t = &r->layout.dev;
	row_begin(r);
	dev_cell(r, SMI_DEV_GPU, SMI_LEFT, SMI_BOLD, "GPU");
	dev_cell(r, SMI_DEV_NAME, SMI_LEFT, SMI_BOLD, "Name");
	dev_cell(r, SMI_DEV_TEMP, SMI_LEFT, SMI_BOLD, "Temp");
	dev_cell(r, SMI_DEV_POWER, SMI_LEFT, SMI_BOLD, "Power");
	/* the seed's header spans the memory and utilization columns */
	smi_row_cell(&r->row, t->start[SMI_DEV_MEMORY], t->width[SMI_DEV_MEMORY] + t->width[SMI_DEV_UTIL], SMI_LEFT,
		     SMI_BOLD, "Memory-Usage        Utilization");
	row_end(r);
}

/* Yellow from 75% full, red from 90%. */
static enum smi_style usage_style(uint64_t used, uint64_t total)
{
	unsigned percent = format_percent(used, total);
	return percent >= 90 ? SMI_RED : percent >= 75 ? SMI_YELLOW : SMI_PLAIN;
}

/* Without the server: "DRAM:    N/A / 12.0GB" (a capacity the backend cannot read: N/A too). */
static void unknown_use_text(char *buf, size_t size, const char *label, const char *total, uint64_t total_bytes)
{
	snprintf(buf, size, "%-7s%5s / %s", label, "N/A", total_bytes ? total : "N/A");
}

/* A formatter of byte counts: smi_format_size or smi_format_mb. */
typedef char *(*size_format_fn)(char *buf, size_t size, uint64_t bytes);

/* "LABEL used / total (pct)" in `fmt`'s units, or the total alone when use is unknown (hardware only). */
static void memory_text(char *buf, size_t size, const char *label, uint64_t used_bytes, uint64_t total_bytes,
			size_format_fn fmt, int hardware_only)
{
	char used[SMI_UNIT_LEN], total[SMI_UNIT_LEN];
	if (hardware_only) {
		unknown_use_text(buf, size, label, fmt(total, sizeof(total), total_bytes), total_bytes);
		return;
	}
	smi_format_memory(buf, size, label, fmt(used, sizeof(used), used_bytes), fmt(total, sizeof(total), total_bytes),
			  used_bytes, total_bytes);
}

/* "DRAM:  300MB / 12.0GB  ( 2%)" */
static void dram_text(char *buf, size_t size, const struct snapshot_device *dev, int hardware_only)
{
	memory_text(buf, size, "DRAM:", smi_device_dram_used(dev), dev->seed.total_dram_size, smi_format_size,
		    hardware_only);
}

/* "L1:    150MB / 1440MB  (10%)": L1 in whole MB, as the seed prints it */
static void l1_text(char *buf, size_t size, const struct snapshot_device *dev, int hardware_only)
{
	memory_text(buf, size, "L1:", smi_device_l1_used(dev), dev->seed.total_l1_size, smi_format_mb, hardware_only);
}

/*
 * Under a real device's name, on its L1 row: its serial and PCI bus id, the
 * identity a fleet knows it by (simulated devices keep the seed's blank
 * cells; --json has their made-up identity).
 */
static void render_identity(struct render *r, const struct snapshot_device *dev)
{
	const struct smi_table_layout *t = &r->layout.dev;
	char serial[NAME_LEN], bus[NAME_LEN];
	if (dev->status.backend_flags & 1u)
		return;
	smi_text_sanitize(serial, sizeof(serial), dev->ident.serial);
	smi_text_sanitize(bus, sizeof(bus), dev->ident.pci_bus_id);
	dev_cell(r, SMI_DEV_NAME, SMI_LEFT, SMI_DIM, serial);
	smi_row_cell(&r->row, t->start[SMI_DEV_TEMP], t->width[SMI_DEV_TEMP] + t->width[SMI_DEV_POWER], SMI_LEFT,
		     SMI_DIM, bus);
}

/* The two rows of one device: readings and DRAM, then L1 (and the identity). */
static void render_device(struct render *r, const struct snapshot_device *dev)
{
	const struct proto_status_payload *st = &dev->status;
	char index[16], name[NAME_LEN], temp[SMI_UNIT_LEN], power[SMI_UNIT_LEN], util[SMI_UNIT_LEN];
	char memory[MEMORY_LEN];
	snprintf(index, sizeof(index), "%d", dev->index);
	smi_text_sanitize(name, sizeof(name), st->name[0] ? st->name : "Unknown");
	smi_format_temperature(temp, sizeof(temp), st->temperature_mc, !!(st->valid & PROTO_STATUS_TEMPERATURE));
	smi_format_power(power, sizeof(power), st->power_mw, !!(st->valid & PROTO_STATUS_POWER));
	smi_format_utilization(util, sizeof(util), st->utilization, !!(st->valid & PROTO_STATUS_UTILIZATION));

	row_begin(r);
	dev_cell(r, SMI_DEV_GPU, SMI_LEFT, SMI_PLAIN, index);
	dev_cell(r, SMI_DEV_NAME, SMI_LEFT, SMI_PLAIN, name);
	dev_cell(r, SMI_DEV_TEMP, SMI_LEFT, SMI_PLAIN, temp);
	dev_cell(r, SMI_DEV_POWER, SMI_LEFT, SMI_PLAIN, power);
	int hardware_only = r->view->snap->hardware_only;
	dram_text(memory, sizeof(memory), dev, hardware_only);
	dev_cell(r, SMI_DEV_MEMORY, SMI_LEFT, usage_style(smi_device_dram_used(dev), dev->seed.total_dram_size),
		 memory);
	dev_cell(r, SMI_DEV_UTIL, SMI_RIGHT, SMI_PLAIN, util);
	row_end(r);

	row_begin(r);
	render_identity(r, dev);
	l1_text(memory, sizeof(memory), dev, hardware_only);
	dev_cell(r, SMI_DEV_MEMORY, SMI_LEFT, usage_style(smi_device_l1_used(dev), dev->seed.total_l1_size), memory);
	row_end(r);
}

static void render_devices(struct render *r, const struct snapshot *snap)
{
	for (uint32_t i = 0; i < snap->num_devices; i++)
		render_device(r, &snap->devices[i]);
	if (snap->num_devices == 0)
		text_row(r, SMI_PLAIN, "No devices reported by the server");
}

static void render_process_header(struct render *r)
{
	text_row(r, SMI_BOLD, "Processes:");
	row_begin(r);
	proc_cell(r, SMI_PROC_GPU, SMI_BOLD, "GPU");
	proc_cell(r, SMI_PROC_PID, SMI_BOLD, "PID");
	proc_cell(r, SMI_PROC_USER, SMI_BOLD, "User");
	proc_cell(r, SMI_PROC_NAME, SMI_BOLD, "Process name");
	if (r->containers)
		proc_cell(r, SMI_PROC_CONTAINER, SMI_BOLD, "Container");
	proc_cell(r, SMI_PROC_DRAM, SMI_BOLD, "DRAM");
	proc_cell(r, SMI_PROC_L1, SMI_BOLD, "L1");
	row_end(r);
}

char *smi_container_text(char *buf, size_t size, const struct container_info *c)
{
	if (!c || !c->id[0])
		snprintf(buf, size, "-");
	else if (c->pod[0] && c->container[0])
		snprintf(buf, size, "%s/%s", c->pod, c->container);
	else if (c->pod[0])
		snprintf(buf, size, "%s", c->pod);
	else
		snprintf(buf, size, "%s %.12s", c->runtime, c->id);
	return buf;
}

/* One row of the process table, all cells given as text, the name in `style`; `pid` > 0 names its container. */
static void process_row_styled(struct render *r, const char *gpu, pid_t pid_value, const char *pid, const char *user,
			       const char *name, enum smi_style style, const char *dram, const char *l1)
{
	row_begin(r);
	proc_cell(r, SMI_PROC_GPU, SMI_PLAIN, gpu);
	proc_cell(r, SMI_PROC_PID, SMI_PLAIN, pid);
	proc_cell(r, SMI_PROC_USER, SMI_PLAIN, user);
	proc_cell(r, SMI_PROC_NAME, style, name);
	if (r->containers) {
		char text[600], clean[600];
		smi_container_text(text, sizeof(text),
				   pid_value > 0 ? snapshot_container(r->view->snap, pid_value) : NULL);
		smi_text_sanitize(clean, sizeof(clean), text);
		proc_cell(r, SMI_PROC_CONTAINER, SMI_PLAIN, clean);
	}
	proc_cell(r, SMI_PROC_DRAM, SMI_PLAIN, dram);
	proc_cell(r, SMI_PROC_L1, SMI_PLAIN, l1);
	row_end(r);
}

static void process_row(struct render *r, const char *gpu, const char *pid, const char *user, const char *name,
			const char *dram, const char *l1)
{
	process_row_styled(r, gpu, 0, pid, user, name, SMI_PLAIN, dram, l1);
}

const char *smi_holder_marker(const struct snapshot *snap, int device, pid_t pid)
{
	for (size_t i = 0; i < snap->num_holders; i++) {
		const struct snapshot_holder *h = &snap->holders[i];
		if (h->device != device || h->pid != pid)
			continue;
		if (h->row.state == PROTO_HOLDER_VANISHED)
			return "vanished";
		if (h->row.state == PROTO_HOLDER_UNTRACKED && !snap->hardware_only)
			return "untracked";
	}
	return NULL;
}

/* "python (untracked)": the name and the marker, sanitised. */
static void marked_name(char *buf, size_t size, const char *comm, const char *marker)
{
	char clean[NAME_LEN];
	smi_text_sanitize(clean, sizeof(clean), comm[0] ? comm : "?");
	if (marker)
		snprintf(buf, size, "%s (%s)", clean, marker);
	else
		snprintf(buf, size, "%s", clean);
}

static void render_process(struct render *r, const struct snapshot_process *p)
{
	char gpu[16], pid[16], user[NAME_LEN], name[NAME_LEN + 16], dram[SMI_UNIT_LEN], l1[SMI_UNIT_LEN];
	const char *marker = smi_holder_marker(r->view->snap, p->device, p->pid);
	enum smi_style style = marker ? SMI_RED : SMI_PLAIN;
	if (p->usage.flags & PROTO_PROCESS_SHM) {
		/* from tt-metal's shared memory: totals, no buffers; stale: the process is gone */
		int stale = (p->usage.flags & PROTO_PROCESS_STALE) != 0;
		marker = stale ? "shm, stale" : "shm";
		style = stale ? SMI_YELLOW : SMI_PLAIN;
	} else if (p->usage.flags & PROTO_PROCESS_EXITED) {
		marker = "exited (leaked)"; /* kept by --retain-leaks */
		style = SMI_YELLOW;
	}
	snprintf(gpu, sizeof(gpu), "%d", p->device);
	snprintf(pid, sizeof(pid), "%d", (int)p->pid);
	smi_text_sanitize(user, sizeof(user), p->user[0] ? p->user : "?");
	marked_name(name, sizeof(name), p->usage.comm, marker);
	process_row_styled(r, gpu, p->pid, pid, user, name, style,
			   smi_format_size(dram, sizeof(dram), smi_process_dram_used(p)),
			   smi_format_size(l1, sizeof(l1), smi_process_l1_used(p)));
}

/*
 * A process that holds the device without reporting (the kernel's view):
 * memory N/A, or in the DRAM column the driver's figure (NVML) when known.
 */
static void render_holder(struct render *r, const struct snapshot_holder *h)
{
	char gpu[16], pid[16], user[NAME_LEN], name[NAME_LEN + 16], dram[SMI_UNIT_LEN] = "N/A";
	const char *marker = smi_holder_marker(r->view->snap, h->device, h->pid);
	snprintf(gpu, sizeof(gpu), "%d", h->device);
	snprintf(pid, sizeof(pid), "%d", (int)h->pid);
	smi_text_sanitize(user, sizeof(user), h->user[0] ? h->user : "?");
	marked_name(name, sizeof(name), h->row.comm, marker);
	if (h->row.flags & PROTO_HOLDER_MEMORY)
		smi_format_size(dram, sizeof(dram), h->row.memory);
	process_row_styled(r, gpu, h->pid, pid, user, name, marker ? SMI_YELLOW : SMI_PLAIN, dram, "N/A");
}

/* Orders holder rows by device, then pid. */
static int compare_holders(const void *a, const void *b)
{
	const struct snapshot_holder *x = *(const struct snapshot_holder *const *)a;
	const struct snapshot_holder *y = *(const struct snapshot_holder *const *)b;
	if (x->device != y->device)
		return x->device < y->device ? -1 : 1;
	return (x->pid > y->pid) - (x->pid < y->pid);
}

/* The holders that never reported, by device then pid (all of them without the server). */
static const struct snapshot_holder **untracked_sorted(const struct snapshot *snap, size_t *count)
{
	const struct snapshot_holder **sorted = calloc(snap->num_holders + 1, sizeof(*sorted));
	*count = 0;
	if (!sorted)
		return NULL;
	for (size_t i = 0; i < snap->num_holders; i++)
		if (snap->holders[i].row.state == PROTO_HOLDER_UNTRACKED)
			sorted[(*count)++] = &snap->holders[i];
	qsort(sorted, *count, sizeof(*sorted), compare_holders);
	return sorted;
}

/* "   1     -        -         No processes using this device  -       -" */
static void render_idle_device(struct render *r, int device)
{
	char gpu[16];
	snprintf(gpu, sizeof(gpu), "%d", device);
	process_row(r, gpu, "-", "-", "No processes using this device", "-", "-");
}

/* Orders process rows by device, then pid. */
static int compare_processes(const void *a, const void *b)
{
	const struct snapshot_process *x = *(const struct snapshot_process *const *)a;
	const struct snapshot_process *y = *(const struct snapshot_process *const *)b;
	if (x->device != y->device)
		return x->device < y->device ? -1 : 1;
	return (x->pid > y->pid) - (x->pid < y->pid);
}

const struct snapshot_process **smi_processes_sorted(const struct snapshot *snap)
{
	const struct snapshot_process **sorted = calloc(snap->num_processes + 1, sizeof(*sorted));
	if (!sorted)
		return NULL;
	for (size_t i = 0; i < snap->num_processes; i++)
		sorted[i] = &snap->processes[i];
	qsort(sorted, snap->num_processes, sizeof(*sorted), compare_processes);
	return sorted;
}

/*
 * Process rows in device order, each idle device with its placeholder row;
 * rows for a device the server did not list (should not happen) come last.
 */
static int render_processes(struct render *r, const struct snapshot *snap)
{
	size_t holders = 0;
	const struct snapshot_process **sorted = smi_processes_sorted(snap);
	const struct snapshot_holder **untracked = untracked_sorted(snap, &holders);
	if (!sorted || !untracked) {
		free(sorted);
		free(untracked);
		return TTALLOC_ENOMEM;
	}
	for (uint32_t d = 0; d < snap->num_devices; d++) {
		int shown = 0;
		for (size_t i = 0; i < snap->num_processes; i++)
			if (sorted[i]->device == (int)d) {
				render_process(r, sorted[i]);
				shown = 1;
			}
		for (size_t i = 0; i < holders; i++)
			if (untracked[i]->device == (int)d) {
				render_holder(r, untracked[i]);
				shown = 1;
			}
		if (!shown)
			render_idle_device(r, (int)d);
	}
	for (size_t i = 0; i < snap->num_processes; i++)
		if (sorted[i]->device < 0 || sorted[i]->device >= (int)snap->num_devices)
			render_process(r, sorted[i]);
	free(sorted);
	free(untracked);
	return 0;
}

/* A line under the process table for each marker it shows. */
static void render_legend(struct render *r, const struct snapshot *snap)
{
	int untracked = 0, vanished = 0, shm = 0, stale = 0, exited = 0;
	for (size_t i = 0; i < snap->num_processes; i++) {
		uint32_t flags = snap->processes[i].usage.flags;
		shm |= (flags & PROTO_PROCESS_SHM) != 0;
		stale |= (flags & PROTO_PROCESS_STALE) != 0;
		exited |= !(flags & PROTO_PROCESS_SHM) && (flags & PROTO_PROCESS_EXITED);
	}
	if (exited)
		text_row(r, SMI_DIM, "(exited (leaked)): its leaks stay counted until tt_smi --clear-leaks");
	if (shm)
		text_row(r, SMI_DIM, "(shm): from tt-metal's /dev/shm statistics: totals, no buffer list");
	if (stale)
		text_row(r, SMI_DIM, "(shm, stale): the process is gone; what its slot still claims (a leak)");
	for (size_t i = 0; i < snap->num_holders; i++) {
		const struct snapshot_holder *h = &snap->holders[i];
		if (h->device < 0 || h->device >= (int)snap->num_devices)
			continue;
		untracked |= h->row.state == PROTO_HOLDER_UNTRACKED;
		vanished |= h->row.state == PROTO_HOLDER_VANISHED;
	}
	if (snap->hardware_only) {
		if (untracked)
			text_row(r, SMI_DIM, "Processes holding each device, as the kernel sees them; memory N/A.");
		return;
	}
	if (untracked)
		text_row(r, SMI_DIM, "(untracked): holds the device but never reported to ttalloc; memory N/A");
	if (vanished)
		text_row(r, SMI_DIM, "(vanished): reported buffers, but the driver no longer lists it");
}

/*
 * Writes `text` (no escape sequences) in rows from column 1, breaking lines
 * between words, and inside a word that is wider than a whole row.
 */
static void wrapped_rows(struct render *r, enum smi_style style, const char *text)
{
	int room = r->layout.inner - 2;
	struct strbuf line = STRBUF_INIT;
	while (*text) {
		char word[UNIX_SOCKET_ERR_LEN];
		size_t len = strcspn(text, " ");
		snprintf(word, sizeof(word), "%.*s", (int)len, text);
		int width = smi_text_width(strbuf_str(&line));
		if (line.len && width + 1 + smi_text_width(word) > room) {
			text_row(r, style, strbuf_str(&line));
			strbuf_reset(&line);
		}
		if (line.len)
			strbuf_addstr(&line, " ");
		const char *rest = word;
		while (smi_text_width(rest) > room) {
			struct strbuf piece = STRBUF_INIT;
			smi_text_clip(&piece, rest, room);
			text_row(r, style, strbuf_str(&piece));
			rest += piece.len ? piece.len : strlen(rest);
			strbuf_release(&piece);
		}
		strbuf_addstr(&line, rest);
		text += len;
		text += strspn(text, " ");
	}
	if (line.len)
		text_row(r, style, strbuf_str(&line));
	strbuf_release(&line);
}

/* Inside the box when there is no snapshot: why, and what to do. */
static void render_disconnected(struct render *r)
{
	char reason[UNIX_SOCKET_ERR_LEN];
	smi_text_sanitize(reason, sizeof(reason), r->view->error ? r->view->error : "not connected");
	wrapped_rows(r, SMI_RED, reason);
	text_row(r, SMI_PLAIN,
		 r->view->mode == SMI_MODE_WATCH ? "Start ttalloc-server; tt_smi reconnects by itself."
						 : "Start ttalloc-server and run tt_smi again.");
}

/* "Server Status: ✅ Connected | Updates: Real-time" under the box. */
static void render_status(struct render *r)
{
	int color = r->view->color;
	const char *updates = r->view->mode == SMI_MODE_WATCH ? "Real-time" : "One-shot";
	strbuf_addstr(r->out, "\nServer Status: ");
	if (r->view->snap && r->view->snap->hardware_only) {
		strbuf_addstr(r->out, "❌ ");
		strbuf_addf(r->out, "%sNot running%s — hardware view only (no allocation data) | Updates: %s\n",
			    color ? smi_style_code(SMI_RED) : "", color ? SMI_STYLE_RESET : "",
			    r->view->mode == SMI_MODE_WATCH ? "Real-time (reconnecting...)" : updates);
	} else if (r->view->snap) {
		strbuf_addstr(r->out, "✅ ");
		strbuf_addf(r->out, "%sConnected%s", color ? smi_style_code(SMI_GREEN) : "",
			    color ? SMI_STYLE_RESET : "");
		if (r->view->snap->http_state == PROTO_HTTP_WAITING) /* tracking runs; the dashboard waits */
			strbuf_addf(r->out, " | Dashboard: %s⚠️  port %u in use, retrying%s",
				    color ? smi_style_code(SMI_YELLOW) : "", r->view->snap->http_port,
				    color ? SMI_STYLE_RESET : "");
		strbuf_addf(r->out, " | Updates: %s\n", updates);
	} else {
		strbuf_addstr(r->out, "❌ ");
		strbuf_addf(r->out, "%sDisconnected%s%s\n", color ? smi_style_code(SMI_RED) : "",
			    color ? SMI_STYLE_RESET : "", r->view->mode == SMI_MODE_WATCH ? " (reconnecting...)" : "");
	}
}

static int render_body(struct render *r)
{
	smi_box_rule(r->out, SMI_RULE_TOP, r->layout.inner);
	render_title(r);
	smi_box_rule(r->out, SMI_RULE_MIDDLE, r->layout.inner);
	render_device_header(r);
	smi_box_rule(r->out, SMI_RULE_MIDDLE, r->layout.inner);
	const struct snapshot *snap = r->view->snap;
	int rc = 0;
	if (snap) {
		render_devices(r, snap);
		smi_box_rule(r->out, SMI_RULE_MIDDLE, r->layout.inner);
		render_process_header(r);
		smi_box_rule(r->out, SMI_RULE_MIDDLE, r->layout.inner);
		rc = render_processes(r, snap);
		render_legend(r, snap);
	} else {
		render_disconnected(r);
	}
	smi_box_rule(r->out, SMI_RULE_BOTTOM, r->layout.inner);
	render_status(r);
	return rc;
}

int smi_render(struct strbuf *out, const struct smi_view *view)
{
	struct render r = {.out = out, .view = view, .row = {.text = STRBUF_INIT}};
	smi_layout_compute(&r.layout, view->columns);
	r.containers = view->snap && view->snap->num_containers > 0;
	if (r.containers)
		smi_layout_add_container(&r.layout);
	int rc = render_body(&r);
	smi_row_release(&r.row);
	if (rc == 0 && out->failed)
		rc = TTALLOC_ENOMEM;
	return rc;
}
