/*
 * bench_util.c - clock, statistics, the seed's transport and the server's
 * totals for the issue-4 benchmarks (bench_util.h).
 */
#include "bench_util.h"

#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "common/clock.h"
#include "common/unix_socket.h"

uint64_t bench_now_ns(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000000ull + (uint64_t)ts.tv_nsec;
}

/* ---- statistics ---- */

static int compare_doubles(const void *a, const void *b)
{
	double x = *(const double *)a, y = *(const double *)b;
	return x < y ? -1 : x > y;
}

/* Nearest rank: the smallest sample with at least p of them at or below it. */
static double percentile(const double *sorted, size_t count, double p)
{
	size_t rank = (size_t)ceil(p * (double)count);
	return sorted[rank ? rank - 1 : 0];
}

void bench_summarize(double *v, size_t count, struct bench_summary *out)
{
	memset(out, 0, sizeof(*out));
	if (!count)
		return;
	qsort(v, count, sizeof(*v), compare_doubles);
	out->count = count;
	out->p50 = percentile(v, count, 0.50);
	out->p99 = percentile(v, count, 0.99);
	out->min = v[0];
	out->max = v[count - 1];
}

void bench_result(const char *name, double value)
{
	printf("result %s %.15g\n", name, value);
	fflush(stdout);
}

void bench_print_summary(const char *name, const char *unit, const struct bench_summary *s)
{
	char key[128];
	static const char *const fields[] = {"p50", "p99", "min", "max"};
	const double values[] = {s->p50, s->p99, s->min, s->max};
	for (size_t i = 0; i < 4; i++) {
		snprintf(key, sizeof(key), "%s.%s", name, fields[i]);
		bench_result(key, values[i]);
	}
	fprintf(stderr, "  %-34s p50 %10.1f %s   p99 %10.1f %s   (%zu samples)\n", name, s->p50, unit, s->p99, unit,
		s->count);
}

uint64_t bench_parse_count(const char *option, const char *text)
{
	char *end;
	errno = 0;
	unsigned long long v = text ? strtoull(text, &end, 10) : 0;
	if (!text || errno || end == text || *end || *text == '-') {
		fprintf(stderr, "bench: %s needs a whole number, not '%s'\n", option, text ? text : "");
		exit(2);
	}
	return v;
}

/* ---- the seed's transport ---- */

int bench_seed_connect(struct bench_seed *seed)
{
	char err[UNIX_SOCKET_ERR_LEN];
	const char *path = unix_socket_default_path();
	seed->pid = getpid();
	seed->fd = unix_socket_connect(path, err);
	if (seed->fd < 0) {
		fprintf(stderr, "bench: cannot reach the allocation server at %s (%s): start ttalloc-server\n", path,
			err);
		return -1;
	}
	return 0;
}

/* One frame, one send(): exactly what the seed's client does per event. */
static int seed_send(struct bench_seed *seed, const struct proto_msg *msg)
{
	return unix_socket_write_all(seed->fd, msg, sizeof(*msg));
}

int bench_seed_alloc(struct bench_seed *seed, int device, enum ttalloc_buffer_type type, uint64_t address,
		     uint64_t size)
{
	struct proto_msg msg;
	proto_msg_init(&msg, PROTO_ALLOC, device);
	msg.size = size;
	msg.buffer_type = (uint8_t)type;
	msg.process_id = seed->pid;
	msg.buffer_id = address;
	msg.timestamp = clock_realtime_ns();
	return seed_send(seed, &msg);
}

int bench_seed_free(struct bench_seed *seed, int device, uint64_t address)
{
	struct proto_msg msg;
	proto_msg_init(&msg, PROTO_FREE, device);
	msg.process_id = seed->pid;
	msg.buffer_id = address;
	msg.timestamp = clock_realtime_ns();
	return seed_send(seed, &msg);
}

int bench_seed_sync(struct bench_seed *seed)
{
	struct proto_msg msg;
	proto_msg_init(&msg, PROTO_QUERY, 0);
	msg.process_id = seed->pid;
	if (seed_send(seed, &msg) < 0)
		return -1;
	do {
		if (unix_socket_read_all(seed->fd, &msg, sizeof(msg)) < 0)
			return -1;
	} while (msg.type != PROTO_RESPONSE);
	return 0;
}

void bench_seed_close(struct bench_seed *seed)
{
	if (seed->fd >= 0)
		close(seed->fd);
	seed->fd = -1;
}

/* ---- totals ---- */

int bench_total_index(enum ttalloc_buffer_type type)
{
	switch (type) {
	case TTALLOC_DRAM:
		return 0;
	case TTALLOC_L1:
		return 1;
	case TTALLOC_L1_SMALL:
		return 2;
	case TTALLOC_TRACE:
		return 3;
	default:
		return -1;
	}
}

void bench_expect_alloc(struct bench_expect *e, int device, enum ttalloc_buffer_type type, uint64_t size)
{
	int i = bench_total_index(type);
	if (i >= 0)
		e->dev[device].used[i] += size;
	e->dev[device].live_buffers++;
	e->allocs++;
}

void bench_expect_free(struct bench_expect *e, int device, enum ttalloc_buffer_type type, uint64_t size)
{
	int i = bench_total_index(type);
	if (i >= 0)
		e->dev[device].used[i] -= size;
	e->dev[device].live_buffers--;
	e->frees++;
}

void bench_expect_add(struct bench_expect *sum, const struct bench_expect *part)
{
	for (int d = 0; d < BENCH_DEVICES; d++) {
		for (int i = 0; i < 4; i++)
			sum->dev[d].used[i] += part->dev[d].used[i];
		sum->dev[d].live_buffers += part->dev[d].live_buffers;
	}
	sum->allocs += part->allocs;
	sum->frees += part->frees;
}

int bench_read_totals(struct query_client *qc, int device, struct bench_totals *out, char *err)
{
	struct proto_msg req, ans;
	proto_msg_init(&req, PROTO_QUERY, device);
	int rc = query_exchange(qc, &req, &ans, err);
	if (rc < 0)
		return rc;
	out->used[0] = ans.u.seed.dram_allocated;
	out->used[1] = ans.u.seed.l1_allocated;
	out->used[2] = ans.u.seed.l1_small_allocated;
	out->used[3] = ans.u.seed.trace_allocated;
	proto_msg_init(&req, PROTO_DEVICE_STATUS_QUERY, device);
	rc = query_exchange(qc, &req, &ans, err);
	if (rc < 0)
		return rc;
	out->live_buffers = ans.u.status.live_buffers;
	return 0;
}

static int compare_field(const char *what, int device, const char *field, uint64_t server, uint64_t expected)
{
	if (server == expected)
		return 0;
	fprintf(stderr,
		"CORRECTNESS FAILURE (%s): device %d %s: the server has %llu, the benchmark reported %llu "
		"(difference %lld)\n",
		what, device, field, (unsigned long long)server, (unsigned long long)expected,
		(long long)(server - expected));
	return -1;
}

int bench_check_totals(const char *what, const struct bench_expect *e)
{
	static const char *const names[4] = {"dram_allocated", "l1_allocated", "l1_small_allocated", "trace_allocated"};
	struct query_client qc = QUERY_CLIENT_INIT;
	char err[UNIX_SOCKET_ERR_LEN];
	int equal = 1;
	int rc = query_connect(&qc, NULL, err);
	for (int d = 0; rc == 0 && d < BENCH_DEVICES; d++) {
		struct bench_totals got;
		rc = bench_read_totals(&qc, d, &got, err);
		if (rc < 0)
			break;
		for (int i = 0; i < 4; i++)
			equal &= compare_field(what, d, names[i], got.used[i], e->dev[d].used[i]) == 0;
		equal &= compare_field(what, d, "live buffers", got.live_buffers, e->dev[d].live_buffers) == 0;
	}
	if (rc < 0) {
		fprintf(stderr, "CORRECTNESS FAILURE (%s): cannot read the server's totals: %s\n", what, err);
		equal = 0;
	}
	query_close(&qc);
	char key[128];
	snprintf(key, sizeof(key), "check.%s", what);
	bench_result(key, equal);
	return equal ? 0 : -1;
}

void bench_print_sent(const struct bench_expect *e)
{
	bench_result("sent.alloc", (double)e->allocs);
	bench_result("sent.free", (double)e->frees);
}
