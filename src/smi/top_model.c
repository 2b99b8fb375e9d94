/*
 * top_model.c - the process table of `tt_smi top` without a terminal: rows
 * from a snapshot, sorting, the filter, the selection, scrolling and the
 * keys (top.h).
 */
#include <ctype.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "common/array.h"
#include "smi/top.h"

static const char *const sort_names[TOP_SORTS] = {
	[TOP_SORT_MEMORY] = "memory", [TOP_SORT_PID] = "pid",       [TOP_SORT_NAME] = "name",
	[TOP_SORT_AGE] = "age",       [TOP_SORT_DEVICE] = "device",
};

const char *top_sort_name(enum top_sort sort)
{
	return sort >= 0 && sort < TOP_SORTS ? sort_names[sort] : "?";
}

void top_model_init(struct top_model *m)
{
	memset(m, 0, sizeof(*m));
	m->sort = TOP_SORT_MEMORY;
	m->view = TOP_VIEW_PROCESSES;
	m->sel_pid = -1;
}

void top_model_release(struct top_model *m)
{
	free(m->rows);
	free(m->shown);
	buffer_snapshot_release(&m->bufs);
	top_model_init(m);
}

/* ---- rows ---- */

/* The command line without the program's directory: "ttalloc-load -n 5", not "/opt/x/bin/ttalloc-load -n 5". */
static const char *without_directory(const char *command)
{
	const char *program_end = command + strcspn(command, " ");
	const char *name = command;
	for (const char *c = command; c < program_end; c++)
		if (*c == '/' && c + 1 < program_end)
			name = c + 1;
	return name;
}

static void fill_row(struct top_row *r, const struct snapshot_process *p, top_cmdline_fn cmdline, void *ctx)
{
	char raw[TOP_COMMAND_LEN] = "";
	memset(r, 0, sizeof(*r));
	r->pid = p->pid;
	r->device = p->device;
	smi_text_sanitize(r->user, sizeof(r->user), p->user[0] ? p->user : "?");
	smi_text_sanitize(r->name, sizeof(r->name), p->usage.comm);
	if (cmdline)
		cmdline(p->pid, raw, sizeof(raw), ctx);
	smi_text_sanitize(r->command, sizeof(r->command), raw[0] ? without_directory(raw) : p->usage.comm);
	r->used[TOP_MEM_DRAM] = p->usage.used[SMI_USED_DRAM];
	r->used[TOP_MEM_L1] = p->usage.used[SMI_USED_L1];
	r->used[TOP_MEM_L1_SMALL] = p->usage.used[SMI_USED_L1_SMALL];
	r->used[TOP_MEM_TRACE] = p->usage.used[SMI_USED_TRACE];
	r->used[TOP_MEM_CB] = p->usage.cb;
	r->memory = p->kernel;
	for (int k = 0; k < TOP_MEMS; k++)
		r->memory += r->used[k];
	r->buffers = p->buffers;
	r->shm = (p->usage.flags & PROTO_PROCESS_SHM) != 0;
	r->since_ns = r->shm ? 0 : p->since_ns; /* a shared-memory row's time is its last update */
}

/* ---- sorting ---- */

/* Orders that all sorts end with, so equal keys keep a stable place. */
static int by_identity(const struct top_row *a, const struct top_row *b)
{
	if (a->pid != b->pid)
		return a->pid < b->pid ? -1 : 1;
	return (a->device > b->device) - (a->device < b->device);
}

static int by_memory(const void *x, const void *y)
{
	const struct top_row *a = x, *b = y;
	if (a->memory != b->memory)
		return a->memory > b->memory ? -1 : 1; /* most first */
	return by_identity(a, b);
}

static int by_pid(const void *x, const void *y)
{
	return by_identity(x, y);
}

static int by_name(const void *x, const void *y)
{
	const struct top_row *a = x, *b = y;
	int c = strcasecmp(a->command, b->command);
	return c ? c : by_identity(a, b);
}

static int by_age(const void *x, const void *y)
{
	const struct top_row *a = x, *b = y;
	/* oldest first; unknown (0) last */
	uint64_t ka = a->since_ns ? a->since_ns : UINT64_MAX, kb = b->since_ns ? b->since_ns : UINT64_MAX;
	if (ka != kb)
		return ka < kb ? -1 : 1;
	return by_identity(a, b);
}

static int by_device(const void *x, const void *y)
{
	const struct top_row *a = x, *b = y;
	if (a->device != b->device)
		return a->device < b->device ? -1 : 1;
	return by_memory(a, b);
}

static int (*const comparators[TOP_SORTS])(const void *, const void *) = {
	[TOP_SORT_MEMORY] = by_memory, [TOP_SORT_PID] = by_pid,       [TOP_SORT_NAME] = by_name,
	[TOP_SORT_AGE] = by_age,       [TOP_SORT_DEVICE] = by_device,
};

static void sort_rows(struct top_model *m)
{
	if (m->count > 1)
		qsort(m->rows, m->count, sizeof(*m->rows), comparators[m->sort]);
	for (size_t i = 0; m->reverse && i < m->count / 2; i++) {
		struct top_row t = m->rows[i];
		m->rows[i] = m->rows[m->count - 1 - i];
		m->rows[m->count - 1 - i] = t;
	}
}

/* ---- the filter ---- */

/* 1 when `text` contains `needle`, ignoring ASCII case. */
static int contains(const char *text, const char *needle)
{
	size_t n = strlen(needle);
	for (; *text; text++) {
		size_t i = 0;
		while (i < n && text[i] && tolower((unsigned char)text[i]) == tolower((unsigned char)needle[i]))
			i++;
		if (i == n)
			return 1;
	}
	return n == 0;
}

static int passes(const struct top_row *r, const char *filter)
{
	char pid[16];
	snprintf(pid, sizeof(pid), "%d", (int)r->pid);
	return !filter[0] || contains(r->command, filter) || contains(r->name, filter) || contains(r->user, filter) ||
		contains(pid, filter);
}

/* ---- the selection ---- */

static void remember_selection(struct top_model *m)
{
	const struct top_row *r = top_model_selected(m);
	m->sel_pid = r ? r->pid : -1;
	m->sel_device = r ? r->device : -1;
}

/*
 * Rebuilds shown[] from the sorted rows and the filter, then finds the
 * remembered selection again (or keeps the position, within the list).
 */
static void reshow(struct top_model *m)
{
	m->num_shown = 0;
	for (size_t i = 0; i < m->count; i++)
		if (passes(&m->rows[i], m->filter))
			m->shown[m->num_shown++] = i;
	for (size_t i = 0; i < m->num_shown; i++) {
		const struct top_row *r = &m->rows[m->shown[i]];
		if (r->pid == m->sel_pid && r->device == m->sel_device) {
			m->selected = i;
			return;
		}
	}
	if (m->selected >= m->num_shown)
		m->selected = m->num_shown ? m->num_shown - 1 : 0;
	remember_selection(m);
}

const struct top_row *top_model_selected(const struct top_model *m)
{
	return m->selected < m->num_shown ? &m->rows[m->shown[m->selected]] : NULL;
}

int top_model_update(struct top_model *m, const struct snapshot *snap, top_cmdline_fn cmdline, void *ctx)
{
	size_t n = snap ? snap->num_processes : 0;
	if (ARRAY_RESERVE(m->rows, m->cap, n ? n : 1) < 0 || ARRAY_RESERVE(m->shown, m->shown_cap, n ? n : 1) < 0)
		return TTALLOC_ENOMEM;
	for (size_t i = 0; i < n; i++)
		fill_row(&m->rows[i], &snap->processes[i], cmdline, ctx);
	m->count = n;
	sort_rows(m);
	reshow(m);
	return 0;
}

void top_model_set_sort(struct top_model *m, enum top_sort sort)
{
	m->reverse = sort == m->sort ? !m->reverse : 0;
	m->sort = sort;
	sort_rows(m);
	reshow(m);
}

void top_model_set_filter(struct top_model *m, const char *text)
{
	snprintf(m->filter, sizeof(m->filter), "%s", text);
	reshow(m);
}

/* ---- keys ---- */

/*
 * Moves `*pos` in a list of `count` for a movement key. Returns 1 when
 * `key` is one, 0 when it is not (nothing moved).
 */
static int move_key(int key, int page, size_t count, size_t *pos)
{
	size_t step = page > 1 ? (size_t)page - 1 : 1, last = count ? count - 1 : 0;
	switch (key) {
	case TOP_KEY_UP:
	case 'k':
		*pos = *pos ? *pos - 1 : 0;
		return 1;
	case TOP_KEY_DOWN:
	case 'j':
		*pos = *pos < last ? *pos + 1 : last;
		return 1;
	case TOP_KEY_PAGE_UP:
		*pos = *pos > step ? *pos - step : 0;
		return 1;
	case TOP_KEY_PAGE_DOWN:
		*pos = *pos + step < last ? *pos + step : last;
		return 1;
	case TOP_KEY_HOME:
	case 'g':
		*pos = 0;
		return 1;
	case TOP_KEY_END:
	case 'G':
		*pos = last;
		return 1;
	default:
		return 0;
	}
}

/* Typing a filter: it applies as it is typed; Enter keeps it, Esc drops it. */
static enum top_action filter_key(struct top_model *m, int key)
{
	size_t len = strlen(m->draft);
	if (key == TOP_KEY_ENTER) {
		m->editing = 0;
	} else if (key == TOP_KEY_ESCAPE) {
		m->editing = 0;
		m->draft[0] = '\0';
	} else if (key == TOP_KEY_BACKSPACE) {
		if (len)
			m->draft[len - 1] = '\0';
	} else if (key >= 0x20 && key < 0x7f && len + 1 < sizeof(m->draft)) {
		m->draft[len] = (char)key;
		m->draft[len + 1] = '\0';
	} else {
		return TOP_ACT_NONE;
	}
	top_model_set_filter(m, m->draft);
	return TOP_ACT_REDRAW;
}

/*
 * Sort keys: s or > the next key, < the previous, m p n a d one of them (the
 * same one again: the other way round), r the other way round.
 */
static int sort_key(struct top_model *m, int key)
{
	static const char direct[TOP_SORTS + 1] = "mpnad"; /* enum top_sort's order */
	const char *hit = key > 0 && key < 0x80 ? strchr(direct, key) : NULL;
	enum top_sort next = m->sort;
	if (key == 's' || key == '>')
		next = (enum top_sort)((m->sort + 1) % TOP_SORTS);
	else if (key == '<')
		next = (enum top_sort)((m->sort + TOP_SORTS - 1) % TOP_SORTS);
	else if (hit)
		next = (enum top_sort)(hit - direct);
	else if (key != 'r')
		return 0;
	top_model_set_sort(m, next);
	return 1;
}

/* Enter: the buffer view of the selected process. */
static enum top_action open_buffers(struct top_model *m)
{
	const struct top_row *r = top_model_selected(m);
	if (!r)
		return TOP_ACT_NONE;
	m->view = TOP_VIEW_BUFFERS;
	m->buf_pid = r->pid;
	m->buf_device = r->device;
	m->buf_total = r->buffers;
	m->buf_scroll = 0;
	snprintf(m->buf_command, sizeof(m->buf_command), "%s", r->command);
	buffer_snapshot_release(&m->bufs);
	m->buf_error[0] = '\0';
	if (r->shm) {
		snprintf(m->buf_error, sizeof(m->buf_error),
			 "only tt-metal's shared memory reports this process: totals, no buffer list");
		return TOP_ACT_REDRAW;
	}
	return TOP_ACT_BUFFERS;
}

static enum top_action process_key(struct top_model *m, int key, int page)
{
	if (move_key(key, page, m->num_shown, &m->selected)) {
		remember_selection(m);
		return TOP_ACT_REDRAW;
	}
	if (sort_key(m, key))
		return TOP_ACT_REDRAW;
	if (key == '/') {
		m->editing = 1;
		snprintf(m->draft, sizeof(m->draft), "%s", m->filter);
		return TOP_ACT_REDRAW;
	}
	if (key == TOP_KEY_ESCAPE && m->filter[0]) {
		top_model_set_filter(m, "");
		return TOP_ACT_REDRAW;
	}
	return key == TOP_KEY_ENTER ? open_buffers(m) : TOP_ACT_NONE;
}

static enum top_action buffer_key(struct top_model *m, int key, int page)
{
	if (key == TOP_KEY_ESCAPE || key == TOP_KEY_BACKSPACE || key == TOP_KEY_LEFT) {
		m->view = TOP_VIEW_PROCESSES;
		buffer_snapshot_release(&m->bufs);
		return TOP_ACT_REDRAW;
	}
	if (!move_key(key, page, m->bufs.count, &m->buf_scroll))
		return TOP_ACT_NONE;
	top_model_fit(m, page);
	return TOP_ACT_REDRAW;
}

enum top_action top_model_key(struct top_model *m, int key, int page)
{
	if (m->editing)
		return filter_key(m, key);
	if (key == 'q' || key == 'Q')
		return TOP_ACT_QUIT;
	if (m->view == TOP_VIEW_HELP) {
		m->view = m->before_help; /* any other key closes the help */
		return TOP_ACT_REDRAW;
	}
	if (key == '?' || key == 'h') {
		m->before_help = m->view;
		m->view = TOP_VIEW_HELP;
		return TOP_ACT_REDRAW;
	}
	return m->view == TOP_VIEW_BUFFERS ? buffer_key(m, key, page) : process_key(m, key, page);
}

/* ---- the buffer view ---- */

static int by_size(const void *x, const void *y)
{
	const struct buffer_snapshot_row *a = x, *b = y;
	if (a->size != b->size)
		return a->size > b->size ? -1 : 1; /* largest first */
	return (a->address > b->address) - (a->address < b->address);
}

void top_model_set_buffers(struct top_model *m, struct buffer_snapshot *bufs, const char *error)
{
	buffer_snapshot_release(&m->bufs);
	snprintf(m->buf_error, sizeof(m->buf_error), "%s", error ? error : "");
	if (!error) {
		m->bufs = *bufs;
		*bufs = (struct buffer_snapshot)BUFFER_SNAPSHOT_INIT;
		if (m->bufs.count > 1)
			qsort(m->bufs.rows, m->bufs.count, sizeof(*m->bufs.rows), by_size);
	}
	if (m->buf_scroll >= m->bufs.count)
		m->buf_scroll = m->bufs.count ? m->bufs.count - 1 : 0;
}

void top_model_fit(struct top_model *m, int page)
{
	size_t rows = page > 0 ? (size_t)page : 1;
	m->page = (int)rows;
	if (m->view == TOP_VIEW_BUFFERS) {
		size_t most = m->bufs.count > rows ? m->bufs.count - rows : 0;
		if (m->buf_scroll > most)
			m->buf_scroll = most;
		return;
	}
	if (m->selected < m->scroll)
		m->scroll = m->selected;
	if (m->selected >= m->scroll + rows)
		m->scroll = m->selected - rows + 1;
	if (m->scroll + rows > m->num_shown)
		m->scroll = m->num_shown > rows ? m->num_shown - rows : 0;
}
