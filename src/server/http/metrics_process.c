/*
 * metrics_process.c - bounded per-process series of /metrics
 * (metrics_process.h).
 */
#include "server/http/metrics_process.h"

#include <inttypes.h>
#include <stdlib.h>
#include <string.h>

#include "server/http/json_util.h"
#include "server/http/metrics_text.h"
#include "server/server.h"
#include "server/state/picture.h"

/* One process's use of one device, from the socket or a tt-metal shm slot. */
struct proc_row {
	uint64_t bytes;       /* device bytes: the ranking key */
	const uint64_t *used; /* per buffer type */
	const char *comm;
	pid_t pid;
	uid_t uid; /* PROTO_UID_UNKNOWN: unknown */
	int device;
	int shm; /* source "tt-metal shm" */
};

struct metrics_selection {
	struct proc_row *rows;                 /* grouped by device, each group ranked, selected first */
	uint32_t start[PROTO_MAX_DEVICES + 1]; /* group of device d: rows[start[d] .. start[d + 1]) */
	uint32_t selected[PROTO_MAX_DEVICES];  /* rows kept at the head of each group */
	pid_t *pids;                           /* the selected rows' pids, each group's sorted (same starts) */
	int devices;
};

/* Greater first: more bytes, then lower pid (a stable order between scrapes). */
static int ranks_before(const struct proc_row *a, const struct proc_row *b)
{
	return a->bytes != b->bytes ? a->bytes > b->bytes : a->pid < b->pid;
}

static int compare_rank(const void *x, const void *y)
{
	const struct proc_row *a = x, *b = y;
	return ranks_before(a, b) ? -1 : ranks_before(b, a);
}

static int compare_pid(const void *x, const void *y)
{
	pid_t a = *(const pid_t *)x, b = *(const pid_t *)y;
	return (a > b) - (a < b);
}

static void swap(struct proc_row *a, struct proc_row *b)
{
	struct proc_row t = *a;
	*a = *b;
	*b = t;
}

/* Moves the `k` best of rows[0..n) to the front, in rank order (quickselect, then a sort of k). */
static void select_top(struct proc_row *rows, uint32_t n, uint32_t k)
{
	if (k >= n) {
		qsort(rows, n, sizeof(*rows), compare_rank);
		return;
	}
	uint32_t lo = 0, hi = n - 1;
	while (lo < hi) {
		swap(&rows[lo + (hi - lo) / 2], &rows[hi]); /* pivot to the end */
		uint32_t store = lo;
		for (uint32_t i = lo; i < hi; i++)
			if (ranks_before(&rows[i], &rows[hi]))
				swap(&rows[i], &rows[store++]);
		swap(&rows[store], &rows[hi]);
		if (store == k)
			break;
		if (store < k)
			lo = store + 1;
		else
			hi = store - 1;
	}
	qsort(rows, k, sizeof(*rows), compare_rank);
}

/* Counts a row in its device's group (fill NULL), or puts it at the group's next place. */
static void put_row(struct metrics_selection *sel, uint32_t *fill, const struct proc_row *row)
{
	if (!fill)
		sel->start[row->device + 1]++;
	else
		sel->rows[fill[row->device]++] = *row;
}

/* Counts (fill NULL) or fills the rows of every device, grouped by device. */
static void collect(struct server *s, struct metrics_selection *sel, uint32_t *fill)
{
	struct registry *r = &s->state.registry;
	REGISTRY_FOR_EACH_PROCESS (r, p) {
		const struct process_record *rec = registry_process(r, p);
		REGISTRY_FOR_EACH_USAGE (r, p, u) {
			struct proc_row row = {.bytes = picture_device_bytes(u->used),
					       .used = u->used,
					       .comm = rec->comm,
					       .pid = rec->pid,
					       .uid = rec->uid,
					       .device = u->device};
			put_row(sel, fill, &row);
		}
	}
	uint32_t n = 0;
	const struct ttmetal_row *rows = ttmetal_rows(&s->state.shm, r, &n);
	for (uint32_t i = 0; i < n; i++) {
		const struct ttmetal_row *t = &rows[i];
		if (t->covered || t->stale || t->device < 0 || t->device >= sel->devices)
			continue;
		struct proc_row row = {.bytes = picture_device_bytes(t->used),
				       .used = t->used,
				       .comm = t->name,
				       .pid = t->pid,
				       .uid = t->uid,
				       .device = t->device,
				       .shm = 1};
		put_row(sel, fill, &row);
	}
}

void metrics_selection_free(struct metrics_selection *sel);

struct metrics_selection *metrics_select(struct server *s)
{
	struct metrics_selection *sel = calloc(1, sizeof(*sel));
	if (!sel)
		return NULL;
	sel->devices = s->state.devices.count;
	collect(s, sel, NULL);
	for (int d = 0; d < sel->devices; d++)
		sel->start[d + 1] += sel->start[d];
	uint32_t total = sel->start[sel->devices], fill[PROTO_MAX_DEVICES];
	memcpy(fill, sel->start, sizeof(fill));
	sel->rows = calloc(total ? total : 1, sizeof(*sel->rows));
	sel->pids = calloc(total ? total : 1, sizeof(*sel->pids));
	if (!sel->rows || !sel->pids) {
		metrics_selection_free(sel);
		return NULL;
	}
	collect(s, sel, fill);
	uint32_t keep = s->opts.metrics_processes == METRICS_PROCESSES_ALL ? UINT32_MAX
		: s->opts.metrics_processes == METRICS_PROCESSES_NONE      ? 0
									   : s->opts.metrics_top;
	for (int d = 0; d < sel->devices; d++) {
		uint32_t n = sel->start[d + 1] - sel->start[d];
		sel->selected[d] = n < keep ? n : keep;
		if (sel->selected[d])
			select_top(sel->rows + sel->start[d], n, sel->selected[d]);
		pid_t *pids = sel->pids + sel->start[d];
		for (uint32_t i = 0; i < sel->selected[d]; i++)
			pids[i] = sel->rows[sel->start[d] + i].pid;
		qsort(pids, sel->selected[d], sizeof(*pids), compare_pid);
	}
	return sel;
}

int metrics_selected(const struct metrics_selection *sel, int device, pid_t pid)
{
	if (!sel || device < 0 || device >= sel->devices)
		return 0;
	return bsearch(&pid, sel->pids + sel->start[device], sel->selected[device], sizeof(pid), compare_pid) != NULL;
}

int metrics_process_info_shown(struct server *s, const struct metrics_selection *sel, int device, pid_t pid,
			       int flagged_state, uint32_t *flagged)
{
	if (!flagged_state)
		return metrics_selected(sel, device, pid);
	switch (s->opts.metrics_processes) {
	case METRICS_PROCESSES_NONE:
		return 0;
	case METRICS_PROCESSES_ALL:
		return 1;
	default:
		return (*flagged)++ < s->opts.metrics_top;
	}
}

void metrics_container_labels(struct strbuf *t, struct server *s, pid_t pid)
{
	uint32_t want = s->opts.metrics_labels;
	if (!want)
		return;
	const struct container_info *c = containers_get(&s->state.containers, pid);
	if (want & METRICS_LABEL_POD)
		strbuf_addf(t, ",pod=\"%s\"", c ? metrics_esc(c->pod).v : "");
	if (want & METRICS_LABEL_NAMESPACE)
		strbuf_addf(t, ",namespace=\"%s\"", c ? metrics_esc(c->namespace).v : "");
	if (want & METRICS_LABEL_CONTAINER)
		strbuf_addf(t, ",container=\"%s\"", c ? metrics_esc(c->container).v : "");
}

/* DRAM and L1 always; the other types where the row uses them. */
static int shown_type(const uint64_t *used, unsigned type)
{
	return used[type] || type == TTALLOC_DRAM || type == TTALLOC_L1;
}

static void row_series(struct strbuf *t, struct server *s, const struct proc_row *row)
{
	struct metrics_value name = metrics_esc(row->comm),
			     user = metrics_esc(row->uid == PROTO_UID_UNKNOWN ? "" : json_util_user_name(row->uid));
	for (unsigned type = 0; type < TTALLOC_BUFFER_TYPES; type++) {
		if (!shown_type(row->used, type))
			continue;
		strbuf_addf(t, "ttalloc_process_memory_used_bytes{device=\"%d\",pid=\"%d\",process=\"%s\",user=\"%s\"",
			    row->device, (int)row->pid, name.v, user.v);
		metrics_container_labels(t, s, row->pid);
		strbuf_addf(t, ",type=\"%s\",source=\"%s\"} %" PRIu64 "\n", metrics_type_label(type),
			    row->shm ? "tt-metal shm" : "socket", row->used[type]);
	}
}

void metrics_process_memory(struct strbuf *t, struct server *s, const struct metrics_selection *sel)
{
	int top = s->opts.metrics_processes == METRICS_PROCESSES_TOP;
	metrics_family(t, "ttalloc_process_memory_used_bytes", "gauge",
		       "Bytes one process uses on one device, by buffer type (types it uses); source: socket (live "
		       "buffers) or tt-metal shm (totals from tt-metal's shared memory, processes not on the "
		       "socket). With --metrics-processes top:N (the default) only the N biggest processes per "
		       "device have series; pid=\"other\" sums the rest, so sums per device stay exact.");
	for (int d = 0; sel && d < sel->devices; d++) {
		const struct proc_row *rows = sel->rows + sel->start[d];
		uint32_t n = sel->start[d + 1] - sel->start[d];
		uint64_t other[TTALLOC_BUFFER_TYPES] = {0};
		for (uint32_t i = 0; i < n; i++) {
			if (i < sel->selected[d]) {
				row_series(t, s, &rows[i]);
				continue;
			}
			for (unsigned type = 0; type < TTALLOC_BUFFER_TYPES; type++)
				other[type] += rows[i].used[type];
		}
		for (unsigned type = 0; top && type < TTALLOC_BUFFER_TYPES; type++)
			if (shown_type(other, type))
				strbuf_addf(t,
					    "ttalloc_process_memory_used_bytes{device=\"%d\",pid=\"other\",process="
					    "\"other\","
					    "type=\"%s\"} %" PRIu64 "\n",
					    d, metrics_type_label(type), other[type]);
	}
	metrics_family(t, "ttalloc_metrics_processes_omitted", "gauge",
		       "Processes using the device whose memory is summed in pid=\"other\" instead of series of "
		       "their own (--metrics-processes).");
	for (int d = 0; sel && d < sel->devices; d++)
		strbuf_addf(t, "ttalloc_metrics_processes_omitted{device=\"%d\"} %u\n", d,
			    sel->start[d + 1] - sel->start[d] - sel->selected[d]);
}

void metrics_selection_free(struct metrics_selection *sel)
{
	if (sel) {
		free(sel->rows);
		free(sel->pids);
	}
	free(sel);
}
