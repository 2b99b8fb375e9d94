/*
 * test_smi_doctor.c - tt_smi --doctor's verdicts from hand-made facts
 * (smi/doctor.h): one line per check, the overall status and exit status,
 * the JSON object (parsed back with jansson), and the command line.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <jansson.h>

#include "../support/argv_builder.h"
#include "../support/text_assert.h"
#include "common/cli.h"
#include "smi/doctor.h"
#include "smi/smi.h"

static struct snapshot_device devices[2];
static struct snapshot snap;
static struct doctor_facts facts;
static struct doctor_report report;

/* A healthy picture: server 0.1.0 reached, two simulated devices, no hardware, no regions, HTTP up. */
static int setup(void **state)
{
	(void)state;
	memset(&facts, 0, sizeof(facts));
	memset(devices, 0, sizeof(devices));
	for (int i = 0; i < 2; i++) {
		devices[i].index = i;
		devices[i].status.backend_flags = 1;
		snprintf(devices[i].status.name, sizeof(devices[i].status.name), "Wormhole_B0");
	}
	snap = (struct snapshot){.num_devices = 2, .devices = devices};
	snprintf(facts.socket_path, sizeof(facts.socket_path), "/tmp/tt.sock");
	facts.socket_source = "--socket";
	snprintf(facts.user, sizeof(facts.user), "alice");
	facts.socket_seen = 1;
	snprintf(facts.socket_owner, sizeof(facts.socket_owner), "root");
	snprintf(facts.socket_group, sizeof(facts.socket_group), "ttalloc");
	facts.socket_mode = 0660;
	facts.reached = 1;
	facts.server_release = facts.client_release = PROTO_RELEASE(0, 1, 0);
	facts.server_pid = 42;
	facts.http_state = PROTO_HTTP_UP;
	facts.http_port = 8080;
	facts.snap = &snap;
	snprintf(facts.shm_dir, sizeof(facts.shm_dir), "/dev/shm");
	facts.shm_listed = 1;
	return 0;
}

static const char *line(enum doctor_check check)
{
	return report.checks[check].text;
}

static enum doctor_status status_of(enum doctor_check check)
{
	return report.checks[check].status;
}

static void verdict_is(enum doctor_check check, enum doctor_status status, const char *text, const char *file,
		       int line_no)
{
	doctor_evaluate(&facts, &report);
	_assert_int_equal(status_of(check), status, file, line_no);
	if (text)
		_assert_string_equal(line(check), text, file, line_no);
}

/* Evaluates the facts: `check` must come out `status`, with the line `text` (NULL: any line). */
#define assert_verdict(check, status, text) verdict_is((check), (status), (text), __FILE__, __LINE__)

static void test_a_healthy_server_is_all_ok_and_exits_0(void **state)
{
	(void)state;
	doctor_evaluate(&facts, &report);
	assert_int_equal(report.status, DOCTOR_OK);
	assert_int_equal(doctor_exit_status(&report), 0);
	struct strbuf out = STRBUF_INIT;
	doctor_render_text(&out, &report);
	assert_string_equal(
		strbuf_str(&out),
		"✅ server: ttalloc-server 0.1.0 (pid 42) answers at /tmp/tt.sock (from --socket)\n"
		"✅ access: user alice may report and query (socket owned by root, group ttalloc, mode 0660)\n"
		"✅ devices: 2 devices, simulated: 0 Wormhole_B0, 1 Wormhole_B0 (no hardware found on this "
		"host)\n"
		"✅ tt-metal shm: no tt-metal regions in /dev/shm\n"
		"✅ http: the dashboard, JSON API and /metrics are served on port 8080\n");
	strbuf_release(&out);
}

static void test_no_server_is_an_error_and_the_checks_that_need_it_are_skipped(void **state)
{
	(void)state;
	facts.reached = 0;
	facts.snap = NULL;
	snprintf(
		facts.reach_error, sizeof(facts.reach_error),
		"cannot reach the allocation server at /tmp/tt.sock (No such file or directory): start ttalloc-server");
	assert_verdict(DOCTOR_SERVER, DOCTOR_ERROR,
		       "cannot reach the allocation server at /tmp/tt.sock (No such file or "
		       "directory): start ttalloc-server (socket path from --socket)");
	assert_int_equal(status_of(DOCTOR_ACCESS), DOCTOR_SKIPPED);
	assert_int_equal(status_of(DOCTOR_DEVICES), DOCTOR_SKIPPED);
	assert_int_equal(status_of(DOCTOR_HTTP), DOCTOR_SKIPPED);
	assert_int_equal(status_of(DOCTOR_TTMETAL_SHM), DOCTOR_OK); /* read from this host */
	assert_int_equal(doctor_exit_status(&report), 1);
}

static void test_a_refusal_by_the_sockets_permissions_is_the_access_error(void **state)
{
	(void)state;
	facts.reached = 0;
	facts.denied = 1;
	facts.snap = NULL;
	snprintf(facts.reach_error, sizeof(facts.reach_error), "permission denied: user alice may not connect ...");
	assert_verdict(DOCTOR_ACCESS, DOCTOR_ERROR, "permission denied: user alice may not connect ...");
	assert_int_equal(status_of(DOCTOR_SERVER), DOCTOR_SKIPPED);
	assert_string_equal(line(DOCTOR_SERVER),
			    "not checked: the socket's permissions keep user alice out (see access)");
	assert_int_equal(doctor_exit_status(&report), 1);
}

static void test_a_server_of_another_release_is_a_warning_and_exits_3(void **state)
{
	(void)state;
	facts.server_release = PROTO_RELEASE(0, 2, 0);
	assert_verdict(DOCTOR_SERVER, DOCTOR_WARNING,
		       "ttalloc-server 0.2.0 (pid 42) answers at /tmp/tt.sock (from --socket), "
		       "but tt_smi is 0.1.0: use one release for both");
	assert_int_equal(report.status, DOCTOR_WARNING);
	assert_int_equal(doctor_exit_status(&report), DOCTOR_EXIT_WARNINGS);
	facts.server_release = 0;
	assert_verdict(DOCTOR_SERVER, DOCTOR_WARNING, NULL);
	assert_contains(line(DOCTOR_SERVER), "an older ttalloc-server (pid 42), which does not say its version");
}

static void test_simulated_devices_on_a_host_with_hardware_are_a_warning(void **state)
{
	(void)state;
	facts.host_hardware = 1;
	facts.host_devices = 2;
	snprintf(facts.host_backend, sizeof(facts.host_backend), "tenstorrent");
	assert_verdict(DOCTOR_DEVICES, DOCTOR_WARNING,
		       "2 simulated devices (0 Wormhole_B0, 1 Wormhole_B0), but this host has 2 tenstorrent devices: "
		       "restart the server with --devices tenstorrent (or check the driver)");
	devices[0].status.backend_flags = devices[1].status.backend_flags = 0;
	assert_verdict(DOCTOR_DEVICES, DOCTOR_OK,
		       "2 devices, hardware: 0 Wormhole_B0, 1 Wormhole_B0 (this host has 2 tenstorrent devices)");
	snap.num_devices = 0;
	assert_verdict(DOCTOR_DEVICES, DOCTOR_ERROR, NULL);
}

static void test_stale_slots_and_refused_regions_are_warnings_that_name_them(void **state)
{
	(void)state;
	facts.shm_regions = 1;
	facts.shm_slots = 5;
	assert_verdict(DOCTOR_TTMETAL_SHM, DOCTOR_OK, "1 region in /dev/shm, 5 process slots in use, none stale");
	facts.shm_stale = 4;
	for (int i = 0; i < DOCTOR_STALE_SHOWN; i++) {
		facts.stale[i] = (struct doctor_stale_slot){.pid = 4242 + i, .device = 0, .bytes = 64ull << 20};
		snprintf(facts.stale[i].name, sizeof(facts.stale[i].name), "killed_job");
		snprintf(facts.stale[i].region, sizeof(facts.stale[i].region), "tt_device_7_memory");
	}
	facts.shm_refused = 1;
	snprintf(facts.shm_refusal, sizeof(facts.shm_refusal), "tt_device_9_memory: bad_version: version 7");
	assert_verdict(DOCTOR_TTMETAL_SHM, DOCTOR_WARNING,
		       "1 region in /dev/shm, 5 process slots in use, 4 stale (killed tt-metal processes; tt-metal "
		       "frees a slot when a process attaches again): PID 4242 (killed_job) is gone but still counts "
		       "64.0MB on device 0 (tt_device_7_memory); PID 4243 (killed_job) is gone but still counts 64.0MB "
		       "on device 0 (tt_device_7_memory); PID 4244 (killed_job) is gone but still counts 64.0MB on "
		       "device 0 (tt_device_7_memory); 1 more; 1 region not read: tt_device_9_memory: bad_version: "
		       "version 7");
	assert_int_equal(doctor_exit_status(&report), DOCTOR_EXIT_WARNINGS);
	facts.shm_listed = 0;
	snprintf(facts.shm_error, sizeof(facts.shm_error), "Permission denied");
	doctor_evaluate(&facts, &report);
	assert_string_equal(line(DOCTOR_TTMETAL_SHM), "cannot list /dev/shm: Permission denied");
}

static void test_a_dashboard_waiting_for_its_port_is_a_warning_and_off_is_fine(void **state)
{
	(void)state;
	facts.http_state = PROTO_HTTP_WAITING;
	assert_verdict(DOCTOR_HTTP, DOCTOR_WARNING, NULL);
	assert_contains(line(DOCTOR_HTTP), "port 8080 is in use");
	facts.http_state = PROTO_HTTP_OFF;
	assert_verdict(DOCTOR_HTTP, DOCTOR_OK, "off (the server runs with --no-http)");
}

static void test_an_error_outranks_warnings(void **state)
{
	(void)state;
	facts.http_state = PROTO_HTTP_WAITING;
	snap.num_devices = 0;
	doctor_evaluate(&facts, &report);
	assert_int_equal(report.status, DOCTOR_ERROR);
	assert_int_equal(doctor_exit_status(&report), 1);
}

static void test_the_json_object_has_every_check_and_the_facts(void **state)
{
	(void)state;
	facts.http_state = PROTO_HTTP_WAITING;
	doctor_evaluate(&facts, &report);
	struct strbuf out = STRBUF_INIT;
	assert_int_equal(doctor_render_json(&out, &facts, &report), 0);
	assert_non_null(strchr(strbuf_str(&out), '\n'));
	assert_int_equal(strchr(strbuf_str(&out), '\n')[1], '\0'); /* one line */
	json_error_t jerr;
	json_t *root = json_loads(strbuf_str(&out), 0, &jerr);
	assert_non_null(root);
	assert_string_equal(json_string_value(json_object_get(root, "status")), "warning");
	assert_int_equal(json_integer_value(json_object_get(root, "exit_status")), DOCTOR_EXIT_WARNINGS);
	json_t *checks = json_object_get(root, "checks");
	assert_int_equal(json_array_size(checks), DOCTOR_CHECKS);
	for (size_t i = 0; i < DOCTOR_CHECKS; i++) {
		json_t *c = json_array_get(checks, i);
		assert_string_equal(json_string_value(json_object_get(c, "check")),
				    doctor_check_name((enum doctor_check)i));
		assert_string_equal(json_string_value(json_object_get(c, "message")), report.checks[i].text);
	}
	assert_string_equal(json_string_value(json_object_get(json_array_get(checks, DOCTOR_HTTP), "status")),
			    "warning");
	assert_string_equal(json_string_value(json_object_get(json_object_get(root, "server"), "version")), "0.1.0");
	assert_string_equal(json_string_value(json_object_get(json_object_get(root, "socket"), "mode")), "0660");
	assert_int_equal(json_array_size(json_object_get(root, "devices")), 2);
	assert_true(json_is_true(json_object_get(json_array_get(json_object_get(root, "devices"), 1), "simulated")));
	assert_string_equal(json_string_value(json_object_get(json_object_get(root, "http"), "state")), "waiting");
	json_decref(root);
	strbuf_release(&out);
}

static int parse(struct smi_options *o, char *err, ...)
{
	ARGV_PARSE(smi_options_parse, "tt_smi", o, err);
}

static void test_doctor_goes_with_json_and_the_connection_options_only(void **state)
{
	(void)state;
	struct smi_options o;
	char err[ERR_LEN];
	assert_int_equal(parse(&o, err, "--doctor", NULL), CLI_RUN);
	assert_true(o.doctor && !o.doctor_json);
	assert_int_equal(parse(&o, err, "--doctor", "--json", "--socket", "/tmp/x", "--hw-root", "/", NULL), CLI_RUN);
	assert_true(o.doctor && o.doctor_json);
	const char *refused[][2] = {{"-w", NULL},        {"-q", NULL}, {"--query-gpu=index", NULL}, {"-l", "1"},
				    {"--history", NULL}, {"-i", "0"},  {"--clear-leaks", NULL}};
	for (size_t i = 0; i < sizeof(refused) / sizeof(refused[0]); i++) {
		assert_int_equal(parse(&o, err, "--doctor", refused[i][0], refused[i][1], NULL), TTALLOC_EINVAL);
		assert_string_equal(err,
				    "--doctor is a report of its own: it goes with --socket, --hw-root, --devices and "
				    "--json only");
	}
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup(test_a_healthy_server_is_all_ok_and_exits_0, setup),
		cmocka_unit_test_setup(test_no_server_is_an_error_and_the_checks_that_need_it_are_skipped, setup),
		cmocka_unit_test_setup(test_a_refusal_by_the_sockets_permissions_is_the_access_error, setup),
		cmocka_unit_test_setup(test_a_server_of_another_release_is_a_warning_and_exits_3, setup),
		cmocka_unit_test_setup(test_simulated_devices_on_a_host_with_hardware_are_a_warning, setup),
		cmocka_unit_test_setup(test_stale_slots_and_refused_regions_are_warnings_that_name_them, setup),
		cmocka_unit_test_setup(test_a_dashboard_waiting_for_its_port_is_a_warning_and_off_is_fine, setup),
		cmocka_unit_test_setup(test_an_error_outranks_warnings, setup),
		cmocka_unit_test_setup(test_the_json_object_has_every_check_and_the_facts, setup),
		cmocka_unit_test(test_doctor_goes_with_json_and_the_connection_options_only),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
