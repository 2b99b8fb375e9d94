/*
 * test_server_options.c - ttalloc-server's command line (server/options.h)
 * and the helpers every program shares (common/cli.h): parsing never
 * prints or exits, errors come back as codes with a reason.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <stdlib.h>
#include <string.h>

#include "../support/argv_builder.h"
#include "common/cli.h"
#include "server/options.h"

/* The defaults, then server_options_parse (the argument order of the shared helper). */
static int defaults_then_parse(struct server_options *o, int argc, char **argv, char *err)
{
	server_options_defaults(o);
	return server_options_parse(o, argc, argv, err);
}

/* Parses a NULL-terminated argument list after "ttalloc-server". */
static int parse(struct server_options *o, char *err, ...)
{
	ARGV_PARSE(defaults_then_parse, "ttalloc-server", o, err);
}

static int setup(void **state)
{
	(void)state;
	unsetenv("TTALLOC_HTTP");
	unsetenv("TT_METAL_LOGGER_LEVEL");
	unsetenv("TTALLOC_HW_ROOT");
	return 0;
}

static void test_defaults_and_values(void **state)
{
	(void)state;
	struct server_options o;
	char err[ERR_LEN];
	assert_int_equal(parse(&o, err, NULL), CLI_RUN);
	assert_string_equal(o.devices, "auto");
	assert_int_equal(o.socket_mode, 0660);
	assert_int_equal(o.http_enabled, 1);
	assert_int_equal(o.log_level_set, 0);
	assert_int_equal(parse(&o, err, "-s", "/tmp/x.sock", "--devices", "sim:4", "--socket-mode", "0600", "--no-http",
			       "--history-interval", "250", "--max-buffers-per-process", "5", "-q", NULL),
			 CLI_RUN);
	assert_string_equal(o.socket_path, "/tmp/x.sock");
	assert_string_equal(o.devices, "sim:4");
	assert_int_equal(o.socket_mode, 0600);
	assert_int_equal(o.http_enabled, 0);
	assert_int_equal(o.history_interval_ms, 250);
	assert_int_equal(o.max_buffers_per_process, 5);
	assert_int_equal(o.log_level, LOG_WARN);
	assert_int_equal(o.log_level_set, 1);
}

static void test_environment_sets_defaults_the_command_line_overrides(void **state)
{
	(void)state;
	struct server_options o;
	char err[ERR_LEN];
	setenv("TTALLOC_HTTP", "127.0.0.1:0", 1);
	setenv("TT_METAL_LOGGER_LEVEL", "Debug", 1);
	assert_int_equal(parse(&o, err, NULL), CLI_RUN);
	assert_string_equal(o.http_listen, "127.0.0.1:0");
	assert_int_equal(o.log_level, LOG_DEBUG);
	assert_int_equal(parse(&o, err, "--http", "127.0.0.1:9999", "--log-level", "error", NULL), CLI_RUN);
	assert_string_equal(o.http_listen, "127.0.0.1:9999");
	assert_int_equal(o.log_level, LOG_ERROR);
	setup(NULL);
}

static void test_help_and_version_are_outcomes_not_exits(void **state)
{
	(void)state;
	struct server_options o;
	char err[ERR_LEN];
	assert_int_equal(parse(&o, err, "--help", NULL), CLI_HELP);
	assert_int_equal(parse(&o, err, "-V", NULL), CLI_VERSION);
}

static void test_errors_are_explained(void **state)
{
	(void)state;
	struct server_options o;
	char err[ERR_LEN];
	assert_int_equal(parse(&o, err, "--socket-mode", "999", NULL), TTALLOC_EINVAL);
	assert_non_null(strstr(err, "bad value '999' for --socket-mode"));
	assert_int_equal(parse(&o, err, "--history-interval", "5", NULL), TTALLOC_EINVAL);
	assert_non_null(strstr(err, "--history-interval"));
	assert_int_equal(parse(&o, err, "--log-level", "loud", NULL), TTALLOC_EINVAL);
	assert_non_null(strstr(err, "unknown log level 'loud'"));
	assert_int_equal(parse(&o, err, "--bogus", NULL), TTALLOC_EINVAL);
	assert_string_equal(err, "unknown option '--bogus'");
	assert_int_equal(parse(&o, err, "--sokcet", "/tmp/x", NULL), TTALLOC_EINVAL);
	assert_string_equal(err, "unknown option '--sokcet'; did you mean '--socket'?");
	assert_int_equal(parse(&o, err, "--sockt", "/tmp/x", NULL), TTALLOC_EINVAL);
	assert_string_equal(err, "unknown option '--sockt'; did you mean '--socket'?");
	assert_int_equal(parse(&o, err, "--histroy-interval=5", NULL), TTALLOC_EINVAL);
	assert_string_equal(err, "unknown option '--histroy-interval=5'; did you mean '--history-interval'?");
	assert_int_equal(parse(&o, err, "--socket", NULL), TTALLOC_EINVAL);
	assert_string_equal(err, "option '--socket' needs a value");
	assert_int_equal(parse(&o, err, "--no-http=1", NULL), TTALLOC_EINVAL);
	assert_string_equal(err, "option '--no-http=1' takes no value");
	assert_int_equal(parse(&o, err, "extra", NULL), TTALLOC_EINVAL);
	assert_string_equal(err, "unexpected argument 'extra'");
	assert_int_equal(parse(&o, err, "--hw-root", "/nonexistent-ttalloc-root", NULL), TTALLOC_EINVAL);
	assert_non_null(strstr(err, "is not a directory"));
}

static void test_check_refuses_what_the_options_name_before_anything_starts(void **state)
{
	(void)state;
	struct server_options o;
	char err[ERR_LEN];
	assert_int_equal(parse(&o, err, "--socket", "/tmp/x.sock", "--group", "root", NULL), CLI_RUN);
	assert_int_equal(o.socket_gid, (gid_t)-1);
	assert_int_equal(server_options_check(&o, 0, err), 0);
	assert_int_equal(o.socket_gid, 0);
	assert_int_equal(parse(&o, err, "--socket", "/tmp/x.sock", "--group", "no_such_group_tt", NULL), CLI_RUN);
	assert_int_equal(server_options_check(&o, 0, err), TTALLOC_EINVAL);
	assert_non_null(strstr(err, "unknown group 'no_such_group_tt' (--group)"));
	assert_int_equal(parse(&o, err, "--socket", "/tmp/x.sock", "--http", "127.0.0.1:70000", NULL), CLI_RUN);
	assert_int_equal(server_options_check(&o, 0, err), TTALLOC_EINVAL);
	assert_non_null(strstr(err, "bad port '70000'"));
	/* --no-http: the address is not used, so not checked */
	assert_int_equal(parse(&o, err, "--socket", "/tmp/x.sock", "--http", "127.0.0.1:70000", "--no-http", NULL),
			 CLI_RUN);
	assert_int_equal(server_options_check(&o, 0, err), 0);
	assert_int_equal(parse(&o, err, "--socket", "/nonexistent-ttalloc-dir/x.sock", NULL), CLI_RUN);
	assert_int_equal(server_options_check(&o, 0, err), TTALLOC_EINVAL);
	assert_string_equal(err,
			    "socket directory /nonexistent-ttalloc-dir: No such file or directory; create it or "
			    "choose another --socket");
	/* systemd passes the socket: --socket names nothing to create */
	assert_int_equal(server_options_check(&o, 1, err), 0);
	char longest[200];
	memset(longest, 'x', sizeof(longest) - 1);
	longest[0] = '/';
	longest[sizeof(longest) - 1] = '\0';
	assert_int_equal(parse(&o, err, "--socket", longest, NULL), CLI_RUN);
	assert_int_equal(server_options_check(&o, 0, err), TTALLOC_EINVAL);
	assert_non_null(strstr(err, "socket path too long (199 bytes, at most 107)"));
}

static void test_fleet_options(void **state)
{
	(void)state;
	struct server_options o;
	char err[ERR_LEN];
	assert_int_equal(parse(&o, err, NULL), CLI_RUN);
	assert_null(o.hostname);
	assert_int_equal(o.metrics_processes, METRICS_PROCESSES_TOP);
	assert_int_equal(o.metrics_top, 50);
	assert_int_equal(o.metrics_labels, 0);
	assert_null(o.web_config);
	assert_int_equal(o.http_max_connections, 256);
	assert_int_equal(o.http_max_per_client, 32);
	assert_int_equal(o.http_timeout_s, 10);
	assert_int_equal(parse(&o, err, "--hostname", "h1", "--metrics-processes", "top:3", "--metrics-labels",
			       "pod,container", "--web-config", "/etc/ttalloc/web.yml", "--http-max-connections", "10",
			       "--http-max-per-client", "2", "--http-timeout", "5", NULL),
			 CLI_RUN);
	assert_string_equal(o.hostname, "h1");
	assert_int_equal(o.metrics_processes, METRICS_PROCESSES_TOP);
	assert_int_equal(o.metrics_top, 3);
	assert_int_equal(o.metrics_labels, METRICS_LABEL_POD | METRICS_LABEL_CONTAINER);
	assert_string_equal(o.web_config, "/etc/ttalloc/web.yml");
	assert_int_equal(o.http_max_connections, 10);
	assert_int_equal(o.http_max_per_client, 2);
	assert_int_equal(o.http_timeout_s, 5);
	assert_int_equal(parse(&o, err, "--metrics-processes", "all", "--metrics-labels", "namespace", NULL), CLI_RUN);
	assert_int_equal(o.metrics_processes, METRICS_PROCESSES_ALL);
	assert_int_equal(o.metrics_labels, METRICS_LABEL_NAMESPACE);
	assert_int_equal(parse(&o, err, "--metrics-processes", "none", "--metrics-labels", "none", NULL), CLI_RUN);
	assert_int_equal(o.metrics_processes, METRICS_PROCESSES_NONE);
	assert_int_equal(o.metrics_labels, 0);
	static const char *const bad_processes[] = {"top", "top:", "top:0", "top:x", "top:-1", "some", "top:100001"};
	for (size_t i = 0; i < sizeof(bad_processes) / sizeof(bad_processes[0]); i++) {
		assert_int_equal(parse(&o, err, "--metrics-processes", bad_processes[i], NULL), TTALLOC_EINVAL);
		assert_non_null(strstr(err, "--metrics-processes"));
	}
	assert_int_equal(parse(&o, err, "--metrics-labels", "pod,user", NULL), TTALLOC_EINVAL);
	assert_string_equal(err, "unknown label 'user' in --metrics-labels (pod, namespace, container)");
	assert_int_equal(parse(&o, err, "--hostname", "", NULL), TTALLOC_EINVAL);
	assert_int_equal(parse(&o, err, "--http-timeout", "0", NULL), TTALLOC_EINVAL);
	assert_int_equal(parse(&o, err, "--http-max-per-client", "0", NULL), TTALLOC_EINVAL);
}

static void test_cli_numbers(void **state)
{
	(void)state;
	char err[ERR_LEN];
	uint64_t v = 0;
	assert_int_equal(cli_uint("--n", "42", 10, 1, 100, &v, err), 0);
	assert_int_equal(v, 42);
	assert_int_equal(cli_uint("--n", "0", 10, 1, 100, &v, err), TTALLOC_EINVAL);
	assert_string_equal(err, "bad value '0' for --n (a whole number from 1 to 100)");
	assert_int_equal(cli_uint("--n", "-3", 10, 0, 100, &v, err), TTALLOC_EINVAL);
	assert_int_equal(cli_bytes("--max-leak", "16M", &v, err), 0);
	assert_int_equal(v, 16u << 20);
	assert_int_equal(cli_bytes("--max-leak", "12X", &v, err), TTALLOC_EINVAL);
	assert_non_null(strstr(err, "bad byte count '12X'"));
}

static void test_closest_names_a_typo_and_nothing_else(void **state)
{
	(void)state;
	const char *const fields[] = {"memory.used", "memory.total", "memory.free", "index", "name", NULL};
	assert_string_equal(cli_closest("memory.usd", 10, fields), "memory.used");
	assert_string_equal(cli_closest("indx", 4, fields), "index");
	assert_string_equal(cli_closest("memory.totalXYZ", 12, fields), "memory.total");
	assert_null(cli_closest("temperature", 11, fields));
	assert_null(cli_closest("", 0, fields));
	const char *const none[] = {NULL};
	assert_null(cli_closest("name", 4, none));
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup(test_defaults_and_values, setup),
		cmocka_unit_test_setup(test_environment_sets_defaults_the_command_line_overrides, setup),
		cmocka_unit_test_setup(test_help_and_version_are_outcomes_not_exits, setup),
		cmocka_unit_test_setup(test_errors_are_explained, setup),
		cmocka_unit_test_setup(test_check_refuses_what_the_options_name_before_anything_starts, setup),
		cmocka_unit_test(test_cli_numbers),
		cmocka_unit_test(test_closest_names_a_typo_and_nothing_else),
		cmocka_unit_test_setup(test_fleet_options, setup),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
