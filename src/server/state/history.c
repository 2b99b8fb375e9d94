/*
 * history.c - bounded per-device and per-process memory time series
 * (see history.h).
 */
#include "server/state/history.h"

#include <stdlib.h>
#include <string.h>

/* The registry's buffer type behind each history kind. */
static const unsigned kind_type[HISTORY_KINDS] = {TTALLOC_DRAM, TTALLOC_L1, TTALLOC_L1_SMALL, TTALLOC_TRACE};

int history_init(struct history *h, uint32_t cap, uint32_t interval_ms, int num_devices, uint32_t max_series)
{
	memset(h, 0, sizeof(*h));
	h->cap = cap ? cap : 1;
	h->interval_ms = interval_ms;
	h->num_devices = num_devices;
	h->max_series = max_series;
	h->time_ms = calloc(h->cap, sizeof(*h->time_ms));
	size_t slots = (size_t)h->cap * (size_t)(num_devices > 0 ? num_devices : 1);
	h->devices = calloc(slots, sizeof(*h->devices));
	h->readings = calloc(slots, sizeof(*h->readings));
	h->series = calloc(max_series ? max_series : 1, sizeof(*h->series));
	if (!h->time_ms || !h->devices || !h->readings || !h->series)
		goto nomem;
	for (uint32_t i = 0; i < max_series; i++) {
		/* calloc'd pages are only touched when a series first uses them */
		h->series[i].points = calloc(h->cap, sizeof(struct history_point));
		if (!h->series[i].points)
			goto nomem;
	}
	return 0;
nomem:
	history_release(h);
	return TTALLOC_ENOMEM;
}

void history_release(struct history *h)
{
	if (h->series)
		for (uint32_t i = 0; i < h->max_series; i++)
			free(h->series[i].points);
	free(h->series);
	free(h->devices);
	free(h->readings);
	free(h->time_ms);
	memset(h, 0, sizeof(*h));
}

uint64_t history_count(const struct history *h)
{
	return h->next < h->cap ? h->next : h->cap;
}

uint64_t history_oldest(const struct history *h)
{
	return h->next - history_count(h);
}

uint64_t history_time(const struct history *h, uint64_t n)
{
	return h->time_ms[n % h->cap];
}

const struct history_point *history_device_point(const struct history *h, uint64_t n, int device)
{
	return &h->devices[(n % h->cap) * (uint64_t)h->num_devices + (uint64_t)device];
}

const struct history_reading *history_device_reading(const struct history *h, uint64_t n, int device)
{
	return &h->readings[(n % h->cap) * (uint64_t)h->num_devices + (uint64_t)device];
}

const struct history_point *history_series_point(const struct history *h, const struct history_series *s, uint64_t n)
{
	if (!s->in_use || n < s->first || n > s->last || n < history_oldest(h) || n >= h->next)
		return NULL;
	return &s->points[n % h->cap];
}

static void point_from_usage(struct history_point *p, const uint64_t *used)
{
	for (int k = 0; k < HISTORY_KINDS; k++)
		p->used[k] = used[kind_type[k]];
}

static struct history_series *find_series(struct history *h, pid_t pid, int device)
{
	for (uint32_t i = 0; i < h->max_series; i++) {
		struct history_series *s = &h->series[i];
		if (s->in_use && s->pid == pid && s->device == device)
			return s;
	}
	return NULL;
}

/* A free series, else the one of a process gone longest; NULL when all are busy now. */
static struct history_series *take_series(struct history *h)
{
	struct history_series *best = NULL;
	for (uint32_t i = 0; i < h->max_series; i++) {
		struct history_series *s = &h->series[i];
		if (!s->in_use)
			return s;
		if (s->last < h->next && (!best || s->last < best->last))
			best = s;
	}
	return best;
}

/* Writes `n`'s point of a series that was last seen at s->last < n, zeroing the gap. */
static void extend_series(struct history *h, struct history_series *s, uint64_t n)
{
	uint64_t from = s->last + 1;
	if (n >= h->cap && from < n - h->cap + 1)
		from = n - h->cap + 1;
	for (uint64_t m = from; m < n; m++)
		memset(&s->points[m % h->cap], 0, sizeof(struct history_point));
	s->last = n;
}

void history_sample(struct history *h, const struct registry *r, const struct history_reading *readings,
		    uint64_t now_ms)
{
	static const struct history_reading none = {HISTORY_NO_TEMPERATURE, HISTORY_NO_POWER};
	uint64_t n = h->next;
	uint64_t slot = n % h->cap;
	h->time_ms[slot] = now_ms;
	for (int d = 0; d < h->num_devices; d++) {
		uint64_t i = slot * (uint64_t)h->num_devices + (uint64_t)d;
		h->readings[i] = readings ? readings[d] : none;
		if (d < r->num_devices)
			point_from_usage(&h->devices[i], r->devices[d].used);
	}

	/* Pass 1: processes that already have a series. */
	REGISTRY_FOR_EACH_PROCESS (r, p) {
		const struct process_record *rec = &r->processes[p];
		REGISTRY_FOR_EACH_USAGE (r, p, u) {
			struct history_series *s = find_series(h, rec->pid, u->device);
			if (!s)
				continue;
			if (s->last < n)
				extend_series(h, s, n);
			s->holding = 1;
			point_from_usage(&s->points[slot], u->used);
		}
	}
	/* Pass 2: newcomers take a free series or the one of a process gone longest. */
	REGISTRY_FOR_EACH_PROCESS (r, p) {
		const struct process_record *rec = &r->processes[p];
		REGISTRY_FOR_EACH_USAGE (r, p, u) {
			if (find_series(h, rec->pid, u->device))
				continue;
			struct history_series *s = take_series(h);
			if (!s) {
				h->untracked++;
				continue;
			}
			s->pid = rec->pid;
			s->uid = rec->uid;
			s->device = u->device;
			memcpy(s->comm, rec->comm, sizeof(s->comm));
			s->first = s->last = n;
			s->holding = 1;
			s->in_use = 1;
			point_from_usage(&s->points[slot], u->used);
		}
	}
	/* Pass 3: a series that just lost its memory ends with one zero point; old ones expire. */
	for (uint32_t i = 0; i < h->max_series; i++) {
		struct history_series *s = &h->series[i];
		if (!s->in_use)
			continue;
		if (s->holding && s->last + 1 == n) {
			memset(&s->points[slot], 0, sizeof(struct history_point));
			s->last = n;
			s->holding = 0;
		} else if (s->last + h->cap <= n) {
			s->in_use = 0;
		}
	}
	h->next = n + 1;
}

void history_window(const struct history *h, uint64_t seconds, uint32_t points, struct history_window *w)
{
	uint64_t interval = h->interval_ms ? h->interval_ms : 1;
	uint64_t want = seconds ? (seconds * 1000u + interval - 1) / interval : h->cap;
	if (want > h->cap)
		want = h->cap;
	if (want == 0)
		want = 1;
	if (points == 0)
		points = 1;
	w->step = (want + points - 1) / points;
	w->buckets = (uint32_t)((want + w->step - 1) / w->step);
	w->first = (int64_t)h->next - (int64_t)(w->buckets * w->step);
}

int history_device_bucket(const struct history *h, const struct history_window *w, uint32_t b, int device,
			  struct history_point *peak, uint64_t *time_ms)
{
	memset(peak, 0, sizeof(*peak));
	*time_ms = 0;
	if (b >= w->buckets || device < 0 || device >= h->num_devices)
		return 0;
	int64_t start = w->first + (int64_t)(b * w->step), end = start + (int64_t)w->step;
	int64_t oldest = (int64_t)history_oldest(h), next = (int64_t)h->next;
	if (start < oldest)
		start = oldest;
	if (end > next)
		end = next;
	if (start >= end)
		return 0;
	for (int64_t n = start; n < end; n++) {
		const struct history_point *p = history_device_point(h, (uint64_t)n, device);
		for (int k = 0; k < HISTORY_KINDS; k++)
			if (p->used[k] > peak->used[k])
				peak->used[k] = p->used[k];
	}
	*time_ms = history_time(h, (uint64_t)(end - 1));
	return 1;
}
