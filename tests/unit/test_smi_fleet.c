/*
 * test_smi_fleet.c - tt_smi --prometheus (smi/prometheus.c): Prometheus's
 * answers parsed, and the fleet drawn in tt_smi's box, without a network.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "../support/text_assert.h"
#include "smi/smi.h"

#define GiB (1024.0 * 1024.0 * 1024.0)

struct seen {
	char labels[8][64];
	double values[8];
	int count;
};

static void on_sample(json_t *metric, double value, void *ctx)
{
	struct seen *s = ctx;
	const char *inst = json_string_value(json_object_get(metric, "instance"));
	snprintf(s->labels[s->count], sizeof(s->labels[0]), "%s", inst ? inst : "");
	s->values[s->count++] = value;
}

static void test_vector_answers_are_parsed(void **state)
{
	(void)state;
	struct seen s = {0};
	char err[SMI_ERR_LEN];
	const char *ok = "{\"status\":\"success\",\"data\":{\"resultType\":\"vector\",\"result\":["
			 "{\"metric\":{\"instance\":\"h1:8080\"},\"value\":[1700000000.1,\"12884901888\"]},"
			 "{\"metric\":{\"instance\":\"h2:8080\"},\"value\":[1700000000.1,\"0.5\"]},"
			 "{\"metric\":{},\"value\":[1700000000.1]}]}}";
	assert_int_equal(smi_fleet_parse_vector(ok, on_sample, &s, err, sizeof(err)), 0);
	assert_int_equal(s.count, 2); /* the sample without a value is skipped */
	assert_string_equal(s.labels[0], "h1:8080");
	assert_true(s.values[0] == 12 * GiB);
	assert_true(s.values[1] == 0.5);
	static const struct {
		const char *answer, *reason;
	} bad[] = {
		{"<html>502 Bad Gateway</html>", "not a Prometheus API answer"},
		{"{\"status\":\"error\",\"errorType\":\"bad_data\",\"error\":\"parse error at char 3\"}",
		 "Prometheus refused the query: parse error at char 3"},
		{"{\"status\":\"success\",\"data\":{\"resultType\":\"matrix\",\"result\":[]}}",
		 "a matrix, not a vector"},
		{"{\"status\":\"success\",\"data\":{\"resultType\":\"vector\",\"result\":{}}}", "not a vector"},
	};
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		s.count = 0;
		assert_int_equal(smi_fleet_parse_vector(bad[i].answer, on_sample, &s, err, sizeof(err)), -1);
		if (!strstr(err, bad[i].reason))
			fail_msg("answer %zu: '%s', wanted '%s'", i, err, bad[i].reason);
		assert_int_equal(s.count, 0);
	}
}

static struct smi_fleet_device devices[3];
static struct smi_fleet_process processes[2];

static void fleet(struct smi_fleet *f)
{
	memset(f, 0, sizeof(*f));
	memset(devices, 0, sizeof(devices));
	memset(processes, 0, sizeof(processes));
	static const struct {
		const char *host;
		int device;
		double used;
	} rows[3] = {{"h1", 0, 11.5 * GiB}, {"h1", 1, 0}, {"h2-with-a-rather-long-name.example.com", 0, 3 * GiB}};
	for (int i = 0; i < 3; i++) {
		snprintf(devices[i].host, sizeof(devices[i].host), "%s", rows[i].host);
		snprintf(devices[i].name, sizeof(devices[i].name), "Wormhole_B0");
		devices[i].device = rows[i].device;
		devices[i].dram_used = rows[i].used;
		devices[i].dram_total = 12 * GiB;
		devices[i].temperature = 48.25;
		devices[i].has_temperature = i != 1;
	}
	snprintf(processes[0].host, sizeof(processes[0].host), "h1");
	snprintf(processes[0].pid, sizeof(processes[0].pid), "4242");
	snprintf(processes[0].user, sizeof(processes[0].user), "ml");
	snprintf(processes[0].process, sizeof(processes[0].process), "trainer");
	snprintf(processes[0].pod, sizeof(processes[0].pod), "trainer-0");
	processes[0].dram = 11.5 * GiB;
	snprintf(processes[1].host, sizeof(processes[1].host), "h2");
	snprintf(processes[1].pid, sizeof(processes[1].pid), "77");
	snprintf(processes[1].process, sizeof(processes[1].process), "evil\033[2J");
	processes[1].dram = 3 * GiB;
	f->devices = devices;
	f->num_devices = 3;
	f->processes = processes;
	f->num_processes = 2;
}

/* Width in columns of a line (UTF-8 box characters count one). */
static int line_width(const char *line, size_t len)
{
	int w = 0;
	for (size_t i = 0; i < len; i++)
		w += ((unsigned char)line[i] & 0xc0) != 0x80;
	return w;
}

static void test_the_fleet_in_the_box(void **state)
{
	(void)state;
	struct smi_fleet f;
	fleet(&f);
	struct smi_fleet_down down = {"10.0.0.9:8080"};
	f.down = &down;
	f.num_down = 1;
	for (int columns = SMI_MIN_COLUMNS; columns <= SMI_MAX_COLUMNS; columns += 9) {
		struct strbuf out = STRBUF_INIT;
		struct smi_fleet_view v = {.fleet = &f, .url = "http://prom:9090", .now = 0, .columns = columns};
		assert_int_equal(smi_render_fleet(&out, &v), 0);
		const char *text = strbuf_str(&out);
		for (const char *line = text; *line && strncmp(line, "\nPrometheus", 11) != 0;) {
			size_t len = strcspn(line, "\n");
			if (line_width(line, len) != columns)
				fail_msg("at %d columns a line is %d wide: %.*s", columns, line_width(line, len),
					 (int)len, line);
			line += len + 1;
		}
		strbuf_release(&out);
	}
	struct strbuf out = STRBUF_INIT;
	struct smi_fleet_view v = {.fleet = &f, .url = "http://prom:9090", .columns = 100};
	assert_int_equal(smi_render_fleet(&out, &v), 0);
	const char *text = strbuf_str(&out);
	assert_contains(text, "tt-smi v1.0 - fleet from http://prom:9090");
	assert_contains(text, "│ h1 ");
	assert_contains(text, "DRAM:  11.5GB / 12.0GB  (95%)");
	assert_contains(text, "DRAM:  3.0GB / 12.0GB  (25%)");
	assert_contains(text, "48°C");
	assert_contains(text, "trainer (trainer-0)");
	assert_contains(text, "evil?[2J"); /* names cannot carry escape codes */
	assert_lacks(text, "\033");        /* no colour asked */
	assert_contains(text, "Prometheus: ✅ 2 hosts, 3 devices | ❌ down: 10.0.0.9:8080 | Updates: One-shot");
	strbuf_release(&out);
	/* in colour the full device is red */
	v.color = 1;
	assert_int_equal(smi_render_fleet(&out, &v), 0);
	assert_contains(strbuf_str(&out), "\033[31mDRAM:  11.5GB / 12.0GB  (95%)");
	strbuf_release(&out);
}

static void test_an_unreachable_prometheus_says_why(void **state)
{
	(void)state;
	struct strbuf out = STRBUF_INIT;
	struct smi_fleet_view v = {.error = "cannot reach Prometheus at http://prom:9090: Connection refused",
				   .url = "http://prom:9090",
				   .columns = 82,
				   .mode = SMI_MODE_WATCH};
	assert_int_equal(smi_render_fleet(&out, &v), 0);
	assert_contains(strbuf_str(&out), "cannot reach Prometheus at http://prom:9090: Connection refused");
	assert_contains(strbuf_str(&out), "Prometheus: ❌ Unreachable or no ttalloc series | Updates: Real-time");
	strbuf_release(&out);
	/* nothing listens here (a port of this host that is not open): the fetch says so */
	struct smi_fleet f = {0};
	char err[SMI_ERR_LEN];
	assert_int_equal(smi_fleet_fetch(&f, "http://127.0.0.1:1", err, sizeof(err)), -1);
	assert_contains(err, "cannot reach Prometheus at http://127.0.0.1:1");
	smi_fleet_release(&f);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_vector_answers_are_parsed),
		cmocka_unit_test(test_the_fleet_in_the_box),
		cmocka_unit_test(test_an_unreachable_prometheus_says_why),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
