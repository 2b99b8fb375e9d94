/*
 * addrmap.c - address maps and fragmentation (addrmap.h). Built on
 * request: the view's buffers are collected, sorted by address and swept
 * once; nothing is kept between requests.
 */
#include "server/state/addrmap.h"

#include <stdlib.h>
#include <string.h>

#include "common/array.h"
#include "common/errors.h"

struct range {
	uint64_t start, end; /* bank-local, end exclusive */
};

uint64_t addrmap_share(const struct device_memory_map *geo, uint64_t size)
{
	uint64_t per_bank = size / geo->banks + (size % geo->banks != 0);
	uint64_t align = geo->alignment;
	return (per_bank + align - 1) / align * align;
}

static int by_start(const void *a, const void *b)
{
	const struct range *x = a, *y = b;
	return x->start < y->start ? -1 : x->start > y->start;
}

static int by_size_desc(const void *a, const void *b)
{
	const struct addrmap_block *x = a, *y = b;
	if (x->size != y->size)
		return x->size > y->size ? -1 : 1;
	return x->address < y->address ? -1 : x->address > y->address;
}

/* 1 when buffer `b` belongs to the query's view. */
static int in_view(const struct live_buffer *b, const struct addrmap_query *q)
{
	return b->kind == REGISTRY_KIND_BUFFER && b->device == q->device && device_region_of(b->type) == q->region;
}

/* Adds one buffer's bank-local range, clamped to the region; counts it. */
static int add_range(struct addrmap *m, struct range **ranges, size_t *count, size_t *cap, const struct live_buffer *b)
{
	uint64_t lo = m->geo.base, hi = m->geo.base + m->geo.bank_size;
	uint64_t share = addrmap_share(&m->geo, b->size);
	uint64_t start = b->address, end = b->address + share < b->address ? UINT64_MAX : b->address + share;
	m->used += b->size;
	m->buffers++;
	if (start < lo || end > hi)
		m->outside++;
	if (start < lo)
		start = lo;
	if (end > hi)
		end = hi;
	if (start >= end)
		return 0;
	if (ARRAY_RESERVE(*ranges, *cap, *count + 1) < 0)
		return TTALLOC_ENOMEM;
	(*ranges)[(*count)++] = (struct range){start, end};
	return 0;
}

/* The view's ranges, unsorted. */
static int collect(struct addrmap *m, const struct registry *r, const struct addrmap_query *q, struct range **ranges,
		   size_t *count)
{
	size_t cap = 0;
	REGISTRY_FOR_EACH_PROCESS (r, p) {
		if (q->proc != REGISTRY_NONE && p != q->proc)
			continue;
		REGISTRY_FOR_EACH_BUFFER (r, p, b) {
			const struct live_buffer *buf = registry_buffer(r, b);
			if (in_view(buf, q) && add_range(m, ranges, count, &cap, buf) < 0)
				return TTALLOC_ENOMEM;
		}
	}
	return 0;
}

/* Merges overlapping sorted ranges in place; returns how many remain. */
static size_t merge(struct range *ranges, size_t count)
{
	size_t out = 0;
	for (size_t i = 0; i < count; i++) {
		if (out && ranges[i].start <= ranges[out - 1].end) {
			if (ranges[i].end > ranges[out - 1].end)
				ranges[out - 1].end = ranges[i].end;
		} else {
			ranges[out++] = ranges[i];
		}
	}
	return out;
}

/* The holes between merged ranges, as device bytes. */
static int holes(struct addrmap *m, const struct range *used, size_t count, struct addrmap_block **blocks, size_t *n)
{
	size_t cap = 0;
	uint64_t at = m->geo.base, end = m->geo.base + m->geo.bank_size;
	for (size_t i = 0; i <= count; i++) {
		uint64_t next = i < count ? used[i].start : end;
		if (next > at) {
			if (ARRAY_RESERVE(*blocks, cap, *n + 1) < 0)
				return TTALLOC_ENOMEM;
			(*blocks)[(*n)++] = (struct addrmap_block){at, (next - at) * m->geo.banks};
		}
		if (i < count && used[i].end > at)
			at = used[i].end;
	}
	return 0;
}

/* Occupancy of each cell: the share of its address range that merged ranges cover. */
static int fill_cells(struct addrmap *m, const struct range *used, size_t count, uint32_t cells)
{
	if (!cells)
		return 0;
	m->cells = calloc(cells, sizeof(*m->cells));
	if (!m->cells)
		return TTALLOC_ENOMEM;
	m->cell_count = cells;
	double width = (double)m->geo.bank_size / cells;
	for (size_t i = 0; i < count; i++) {
		double s = (double)(used[i].start - m->geo.base), e = (double)(used[i].end - m->geo.base);
		for (uint32_t c = (uint32_t)(s / width); c < cells && c * width < e; c++) {
			double lo = c * width > s ? c * width : s, hi = (c + 1) * width < e ? (c + 1) * width : e;
			m->cells[c] += (hi - lo) / width;
		}
	}
	for (uint32_t c = 0; c < cells; c++)
		if (m->cells[c] > 1.0)
			m->cells[c] = 1.0;
	return 0;
}

/* Sums the holes, finds the largest, keeps the largest max_blocks. */
static void summarize(struct addrmap *m, struct addrmap_block *blocks, size_t n, uint32_t max_blocks)
{
	for (size_t i = 0; i < n; i++) {
		m->free += blocks[i].size;
		if (blocks[i].size > m->largest_free)
			m->largest_free = blocks[i].size;
	}
	m->fragmentation = m->free ? 1.0 - (double)m->largest_free / (double)m->free : 0.0;
	if (n)
		qsort(blocks, n, sizeof(*blocks), by_size_desc);
	m->blocks = blocks;
	m->blocks_total = n;
	m->block_count = (uint32_t)(n < max_blocks ? n : max_blocks);
}

int addrmap_build(struct addrmap *m, const struct registry *r, const struct device_memory_map *geo,
		  const struct addrmap_query *q)
{
	memset(m, 0, sizeof(*m));
	m->geo = *geo;
	m->capacity = geo->bank_size * geo->banks;
	struct range *ranges = NULL;
	struct addrmap_block *blocks = NULL;
	size_t count = 0, n = 0;
	int rc = collect(m, r, q, &ranges, &count);
	if (rc == 0) {
		if (count)
			qsort(ranges, count, sizeof(*ranges), by_start);
		count = merge(ranges, count);
		rc = holes(m, ranges, count, &blocks, &n);
	}
	if (rc == 0)
		rc = fill_cells(m, ranges, count, q->cells < ADDRMAP_MAX_CELLS ? q->cells : ADDRMAP_MAX_CELLS);
	free(ranges);
	if (rc < 0) {
		free(blocks);
		return rc;
	}
	summarize(m, blocks, n, q->max_blocks < ADDRMAP_MAX_BLOCKS ? q->max_blocks : ADDRMAP_MAX_BLOCKS);
	return 0;
}

void addrmap_release(struct addrmap *m)
{
	free(m->blocks);
	free(m->cells);
	m->blocks = NULL;
	m->cells = NULL;
	m->block_count = 0;
	m->cell_count = 0;
}
