/*
 * test_smi_render.c - tt_smi's screen from hand-made snapshots: the seed's
 * lines, N/A readings, idle devices, widths, colours, hostile names; and the
 * helpers under it (display width, units, layout, options, frames).
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "../support/argv_builder.h"
#include "../support/snapshot_fixture.h"
#include "../support/text_assert.h"
#include "common/cli.h"
#include "common/query.h"
#include "smi/smi.h"

/* Mon Nov  3 14:23:45 2025 UTC, the seed's first screenshot. */
#define SEED_TIME ((time_t)1762179825)

/* ---- fixtures ---- */

/* A Wormhole_B0 as the simulator reports it, with temperature (degrees) and power (watts). */
static void add_device(int temp_c, int power_w)
{
	snapshot_add_device(temp_c * 1000, (uint32_t)power_w * 1000);
}

/* The seed's multi-process example: 100MB + 200MB DRAM on 0, 150MB L1 on 1. */
static void seed_demo(void)
{
	add_device(43, 90);
	add_device(39, 75);
	snapshot_add_process(0, 12345, "ttuser", "python", 100 * MiB, 0);
	snapshot_add_process(0, 12346, "ttuser", "python", 200 * MiB, 0);
	snapshot_add_process(1, 12347, "ttuser", "python", 0, 150 * MiB);
}

static const char *render_view(const struct snapshot *s, const char *error, int columns, enum smi_mode mode, int color)
{
	struct smi_view view = {
		.snap = s,
		.error = error,
		.now = SEED_TIME,
		.columns = columns,
		.mode = mode,
		.color = color,
	};
	strbuf_reset(&rendered);
	assert_int_equal(smi_render(&rendered, &view), 0);
	return strbuf_str(&rendered);
}

static const char *render(int columns)
{
	return render_view(&snap, NULL, columns, SMI_MODE_WATCH, 0);
}

/* Fails the test, showing the screen, when `line` is not a whole line of `text`. */
static void assert_line(const char *text, const char *line)
{
	size_t n = strlen(line);
	for (const char *p = strstr(text, line); p; p = strstr(p + 1, line))
		if ((p == text || p[-1] == '\n') && (p[n] == '\n' || p[n] == '\0'))
			return;
	fprintf(stderr, "line not found:\n%s\nin:\n%s\n", line, text);
	fail();
}

/* Display width counted independently of smi_text_width: escapes skipped,
 * every code point one column (valid for box lines: ASCII, °, box, …). */
static int naive_width(const char *s, size_t len)
{
	int width = 0;
	for (size_t i = 0; i < len; i++) {
		unsigned char c = (unsigned char)s[i];
		if (c == 0x1b) {
			while (i < len && !(s[i] >= 0x40 && s[i] <= 0x7e && s[i] != '['))
				i++;
			continue;
		}
		if ((c & 0xC0) != 0x80)
			width++;
	}
	return width;
}

/* Every line of the box is `columns` wide; returns how many box lines there were. */
static int assert_box_width(const char *text, int columns)
{
	int lines = 0;
	while (*text) {
		size_t len = strcspn(text, "\n");
		if (len >= 3 &&
		    (!strncmp(text, "│", 3) || !strncmp(text, "┌", 3) || !strncmp(text, "├", 3) ||
		     !strncmp(text, "└", 3))) {
			if (naive_width(text, len) != columns) {
				fprintf(stderr, "line is %d wide, not %d: %.*s\n", naive_width(text, len), columns,
					(int)len, text);
				fail();
			}
			lines++;
		}
		text += len + (text[len] == '\n');
	}
	return lines;
}

/* ---- the screen ---- */

static void test_seed_demo_shows_the_seed_memory_lines(void **state)
{
	(void)state;
	seed_demo();
	const char *t = render(SMI_DEFAULT_COLUMNS);
	assert_line(t, "│ 0      Wormhole_B0      43°C    90W       DRAM:  300MB / 12.0GB  ( 2%)     N/A │");
	assert_line(t, "│                                           L1:      0MB / 1440MB  ( 0%)         │");
	assert_line(t, "│ 1      Wormhole_B0      39°C    75W       DRAM:    0MB / 12.0GB  ( 0%)     N/A │");
	assert_line(t, "│                                           L1:    150MB / 1440MB  (10%)         │");
}

static void test_seed_demo_lists_one_row_per_process(void **state)
{
	(void)state;
	seed_demo();
	const char *t = render(SMI_DEFAULT_COLUMNS);
	assert_line(t, "│   0     12345    ttuser    python                          100MB   0MB         │");
	assert_line(t, "│   0     12346    ttuser    python                          200MB   0MB         │");
	assert_line(t, "│   1     12347    ttuser    python                          0MB     150MB       │");
	assert_lacks(t, "No processes");
}

static void test_headers_match_the_seed(void **state)
{
	(void)state;
	seed_demo();
	const char *t = render(SMI_DEFAULT_COLUMNS);
	char rule[512] = "┌";
	for (int i = 0; i < 80; i++)
		strcat(rule, "─");
	strcat(rule, "┐");
	assert_line(t, rule);
	assert_line(t, "│ tt-smi v1.0                                              Mon Nov  3 14:23:45   │");
	assert_line(t, "│ GPU    Name             Temp    Power     Memory-Usage        Utilization      │");
	assert_line(t, "│ Processes:                                                                     │");
	assert_line(t, "│   GPU   PID      User      Process name                    DRAM    L1          │");
	assert_int_equal(assert_box_width(t, 82), 17);
}

static void test_gigabytes_print_with_one_decimal(void **state)
{
	(void)state;
	add_device(42, 85);
	snapshot_add_process(0, 12345, "ttuser", "python", 3 * GiB, 450 * MiB);
	const char *t = render(SMI_DEFAULT_COLUMNS);
	assert_contains(t, "│ 0      Wormhole_B0      42°C    85W       DRAM:  3.0GB / 12.0GB  (25%)     N/A │");
	assert_contains(t, "L1:    450MB / 1440MB  (31%)");
	assert_line(t, "│   0     12345    ttuser    python                          3.0GB   450MB       │");
}

static void test_invalid_readings_print_na(void **state)
{
	(void)state;
	add_device(42, 85);
	devices[0].status.valid = 0;
	const char *t = render(SMI_DEFAULT_COLUMNS);
	assert_line(t, "│ 0      Wormhole_B0      N/A     N/A       DRAM:    0MB / 12.0GB  ( 0%)     N/A │");
}

static void test_valid_utilization_is_shown(void **state)
{
	(void)state;
	add_device(42, 85);
	devices[0].status.valid |= PROTO_STATUS_UTILIZATION;
	devices[0].status.utilization = 100;
	const char *t = render(SMI_DEFAULT_COLUMNS);
	assert_contains(t, "DRAM:    0MB / 12.0GB  ( 0%)    100% │");
}

static void test_idle_device_gets_a_no_processes_row(void **state)
{
	(void)state;
	add_device(42, 85);
	add_device(38, 72);
	snapshot_add_process(0, 12345, "ttuser", "python", 3 * GiB, 450 * MiB);
	const char *t = render(SMI_DEFAULT_COLUMNS);
	assert_line(t, "│   1     -        -         No processes using this device  -       -           │");
	assert_lacks(t, "│   0     -");
}

static void test_processes_are_ordered_by_device_then_pid(void **state)
{
	(void)state;
	add_device(42, 85);
	add_device(38, 72);
	snapshot_add_process(1, 30, "b", "third", MiB, 0);
	snapshot_add_process(0, 20, "a", "second", MiB, 0);
	snapshot_add_process(0, 10, "a", "first", MiB, 0);
	snapshot_add_process(7, 40, "c", "stray", MiB, 0); /* a device the server did not list */
	const char *t = render(SMI_DEFAULT_COLUMNS);
	const char *first = strstr(t, "first"), *second = strstr(t, "second"), *third = strstr(t, "third"),
		   *stray = strstr(t, "stray");
	assert_non_null(first);
	assert_true(first < second && second < third && third < stray);
	assert_contains(t, "│   7     40       c         stray");
}

static void test_no_devices_says_so(void **state)
{
	(void)state;
	const char *t = render(SMI_DEFAULT_COLUMNS);
	assert_contains(t, "│ No devices reported by the server");
	assert_box_width(t, 82);
}

static void test_status_line_names_the_update_mode(void **state)
{
	(void)state;
	seed_demo();
	assert_contains(render_view(&snap, NULL, 82, SMI_MODE_WATCH, 0),
			"┘\n\nServer Status: ✅ Connected | Updates: Real-time\n");
	assert_contains(render_view(&snap, NULL, 82, SMI_MODE_ONE_SHOT, 0),
			"\nServer Status: ✅ Connected | Updates: One-shot\n");
}

static void test_disconnected_watch_shows_the_reason_and_reconnects(void **state)
{
	(void)state;
	const char *t = render_view(NULL, "cannot reach the allocation server at /tmp/x.sock (Connection refused)", 82,
				    SMI_MODE_WATCH, 0);
	assert_line(t, "│ tt-smi v1.0                                              Mon Nov  3 14:23:45   │");
	assert_contains(t, "│ cannot reach the allocation server at /tmp/x.sock (Connection refused)");
	assert_contains(t, "reconnects by itself");
	assert_contains(t, "\nServer Status: ❌ Disconnected (reconnecting...)\n");
	assert_lacks(t, "Processes:");
	assert_box_width(t, 82);
}

static void test_long_disconnect_reason_wraps_inside_the_box(void **state)
{
	(void)state;
	char reason[256];
	snprintf(reason, sizeof(reason), "cannot reach the allocation server at /%s/%s (No such file or directory)",
		 "a_rather_long_directory_name_for_the_socket_of_the_server", "allocation_server.sock");
	const char *t = render_view(NULL, reason, SMI_MIN_COLUMNS, SMI_MODE_WATCH, 1);
	assert_contains(t, "/a_rather_long_directory_name_for_the_socket_of_the_server/alloc");
	assert_contains(t, "\033[31mation_server.sock (No such file or directory)\033[0m");
	assert_box_width(t, SMI_MIN_COLUMNS);
}

/* ---- widths ---- */

static void test_every_box_line_has_the_same_width_at_any_width(void **state)
{
	(void)state;
	seed_demo();
	snapshot_add_process(1, 4194304, "a_user_with_a_very_long_name", "fifteen_chars__", 11 * GiB + 512 * MiB,
			     1439 * MiB);
	static const int widths[] = {1, 40, 67, 68, 69, 70, 79, 81, 82, 83, 100, 200, 300, 1000};
	for (size_t i = 0; i < sizeof(widths) / sizeof(widths[0]); i++) {
		int expected = smi_layout_clamp(widths[i]);
		assert_int_equal(assert_box_width(render_view(&snap, NULL, widths[i], SMI_MODE_WATCH, 0), expected),
				 18);
		assert_int_equal(assert_box_width(render_view(&snap, NULL, widths[i], SMI_MODE_WATCH, 1), expected),
				 18);
	}
}

static void test_narrow_box_truncates_names_with_an_ellipsis(void **state)
{
	(void)state;
	add_device(42, 85);
	add_device(38, 72);
	snapshot_add_process(0, 12345, "a_user_with_a_long_name", "python", 0, 0);
	const char *t = render(SMI_MIN_COLUMNS);
	assert_line(t, "│   0     12345    a_user_w… python               0MB     0MB      │");
	assert_line(t, "│   1     -        -         No processes using…  -       -        │");
	/* the memory text is never cut */
	assert_contains(t, "DRAM:    0MB / 12.0GB  ( 0%)");
}

static void test_wide_box_gives_the_room_to_the_process_name(void **state)
{
	(void)state;
	seed_demo();
	const char *t = render(122);
	assert_line(t,
		    "│   0     12345    ttuser    python                                                               "
		    "   100MB   0MB         │");
	assert_contains(t, "Mon Nov  3 14:23:45   │");
}

static void test_layout_at_the_default_width_is_the_seed_layout(void **state)
{
	(void)state;
	struct smi_layout l;
	smi_layout_compute(&l, SMI_DEFAULT_COLUMNS);
	assert_int_equal(l.inner, 80);
	static const int dev_starts[SMI_DEV_COLS] = {0, 1, 8, 25, 33, 43, 74, 79};
	/* the container column (60) has no width until a process runs in a container */
	static const int proc_starts[SMI_PROC_COLS] = {0, 3, 9, 18, 28, 60, 60, 68, 76};
	for (int i = 0; i < SMI_DEV_COLS; i++)
		assert_int_equal(l.dev.start[i], dev_starts[i]);
	for (int i = 0; i < SMI_PROC_COLS; i++)
		assert_int_equal(l.proc.start[i], proc_starts[i]);
}

static void test_layout_columns_always_fill_the_box(void **state)
{
	(void)state;
	for (int columns = 0; columns <= 400; columns++) {
		struct smi_layout l;
		smi_layout_compute(&l, columns);
		int dev = 0, proc = 0;
		for (int i = 0; i < SMI_DEV_COLS; i++) {
			assert_true(l.dev.width[i] > 0);
			dev += l.dev.width[i];
		}
		for (int i = 0; i < SMI_PROC_COLS; i++) {
			assert_true(i == SMI_PROC_CONTAINER ? l.proc.width[i] == 0 : l.proc.width[i] > 0);
			proc += l.proc.width[i];
		}
		assert_int_equal(dev, l.inner);
		assert_int_equal(proc, l.inner);
		smi_layout_add_container(&l);
		proc = 0;
		for (int i = 0; i < SMI_PROC_COLS; i++) {
			assert_true(l.proc.width[i] > 0);
			proc += l.proc.width[i];
		}
		assert_int_equal(proc, l.inner);
		assert_true(l.proc.width[SMI_PROC_CONTAINER] >= SMI_CONTAINER_MIN_COLUMNS);
		assert_true(l.dev.width[SMI_DEV_MEMORY] >= 31); /* "DRAM: 12.0GB / 12.0GB  (100%)" + gap */
	}
}

/* ---- colours and hostile text ---- */

static void test_plain_output_has_no_escape_codes(void **state)
{
	(void)state;
	seed_demo();
	assert_null(strchr(render_view(&snap, NULL, 82, SMI_MODE_ONE_SHOT, 0), '\033'));
	assert_null(strchr(render_view(NULL, "down", 82, SMI_MODE_WATCH, 0), '\033'));
}

static void test_color_output_styles_text_not_layout(void **state)
{
	(void)state;
	seed_demo();
	devices[1].seed.l1_allocated = 1400 * MiB; /* 97%: red */
	const char *t = render_view(&snap, NULL, 82, SMI_MODE_WATCH, 1);
	assert_contains(t, "\033[1mtt-smi v1.0\033[0m ");
	assert_contains(t, "\033[31mL1:    1400MB / 1440MB  (97%)\033[0m");
	assert_contains(t, "✅ \033[32mConnected\033[0m");
	assert_box_width(t, 82);
}

static void test_process_names_cannot_send_escape_codes(void **state)
{
	(void)state;
	add_device(42, 85);
	snapshot_add_process(0, 666, "\033]0;owned\007", "\033[2Jevil\n", MiB, 0);
	snprintf(devices[0].status.name, sizeof(devices[0].status.name), "bad\xff\033name");
	const char *t = render(SMI_DEFAULT_COLUMNS);
	assert_null(strchr(t, '\033'));
	assert_null(strchr(t, '\007'));
	assert_contains(t, "?[2Jevil?");
	assert_contains(t, "bad??name");
	assert_box_width(t, 82);
}

/* ---- text ---- */

static void test_display_width_counts_columns_not_bytes(void **state)
{
	(void)state;
	assert_int_equal(smi_text_width(""), 0);
	assert_int_equal(smi_text_width("abc"), 3);
	assert_int_equal(smi_text_width("42°C"), 4);
	assert_int_equal(smi_text_width("┌─┐│├┤└┘"), 8);
	assert_int_equal(smi_text_width("…"), 1);
	assert_int_equal(smi_text_width("✅"), 2);
	assert_int_equal(smi_text_width("❌ Disconnected"), 15);
	assert_int_equal(smi_text_width("\033[1mbold\033[0m"), 4);
	assert_int_equal(smi_text_width("e\xcc\x81"), 1);                /* e + combining acute */
	assert_int_equal(smi_text_width("\xe6\x97\xa5\xe6\x9c\xac"), 4); /* 日本 */
	assert_int_equal(smi_text_width("\xf0\x9f\x9a\x80"), 2);         /* rocket */
	assert_int_equal(smi_text_width("a\xff"
					"b"),
			 3);                             /* invalid byte */
	assert_int_equal(smi_text_width("\xc0\xaf"), 2); /* overlong '/' */
}

static void test_cells_pad_and_cut_by_display_width(void **state)
{
	(void)state;
	struct strbuf b = STRBUF_INIT;
	smi_text_cell(&b, "42°C", 8, SMI_LEFT);
	assert_string_equal(strbuf_str(&b), "42°C    ");
	strbuf_reset(&b);
	smi_text_cell(&b, "N/A", 6, SMI_RIGHT);
	assert_string_equal(strbuf_str(&b), "   N/A");
	strbuf_reset(&b);
	smi_text_cell(&b, "No processes using this device", 10, SMI_LEFT);
	assert_string_equal(strbuf_str(&b), "No proces…");
	strbuf_reset(&b);
	smi_text_cell(&b, "\xe6\x97\xa5\xe6\x9c\xac\xe8\xaa\x9e", 4, SMI_LEFT); /* 日本語 */
	assert_string_equal(strbuf_str(&b), "\xe6\x97\xa5… ");
	assert_int_equal(smi_text_width(strbuf_str(&b)), 4);
	strbuf_reset(&b);
	assert_int_equal(smi_text_clip(&b, "\033[1mabcdef\033[0m", 3), 3);
	assert_string_equal(strbuf_str(&b), "\033[1mabc\033[0m");
	strbuf_release(&b);
}

static void test_sanitize_keeps_utf8_and_replaces_controls(void **state)
{
	(void)state;
	char out[16];
	smi_text_sanitize(out, sizeof(out), "caf\xc3\xa9\t\x7f");
	assert_string_equal(out, "caf\xc3\xa9??");
	smi_text_sanitize(out, 6, "abcdefgh");
	assert_string_equal(out, "abcde");
	smi_text_sanitize(out, 5, "ab\xe2\x9c\x85"); /* ✅ does not fit: dropped whole */
	assert_string_equal(out, "ab");
}

/* ---- units ---- */

static void test_sizes_follow_the_seed(void **state)
{
	(void)state;
	char b[SMI_UNIT_LEN];
	assert_string_equal(smi_format_size(b, sizeof(b), 0), "0MB");
	assert_string_equal(smi_format_size(b, sizeof(b), 100 * MiB), "100MB");
	assert_string_equal(smi_format_size(b, sizeof(b), 300 * MiB), "300MB");
	assert_string_equal(smi_format_size(b, sizeof(b), 1023 * MiB), "1023MB");
	assert_string_equal(smi_format_size(b, sizeof(b), GiB - 1), "1.0GB");
	assert_string_equal(smi_format_size(b, sizeof(b), 3 * GiB), "3.0GB");
	assert_string_equal(smi_format_size(b, sizeof(b), 12 * GiB), "12.0GB");
	assert_string_equal(smi_format_size(b, sizeof(b), 512 * 1024), "1MB");
	assert_string_equal(smi_format_size(b, sizeof(b), 512 * 1024 - 1), "0MB");
	assert_string_equal(smi_format_mb(b, sizeof(b), 1440 * MiB), "1440MB");
	assert_string_equal(smi_format_mb(b, sizeof(b), 0), "0MB");
}

static void test_percent_temperature_power_utilization(void **state)
{
	(void)state;
	char b[SMI_UNIT_LEN];
	assert_string_equal(smi_format_percent(b, sizeof(b), 300 * MiB, 12 * GiB), "( 2%)");
	assert_string_equal(smi_format_percent(b, sizeof(b), 150 * MiB, 1440 * MiB), "(10%)");
	assert_string_equal(smi_format_percent(b, sizeof(b), 1, 0), "( 0%)");
	assert_string_equal(smi_format_percent(b, sizeof(b), 12 * GiB, 12 * GiB), "(100%)");
	assert_string_equal(smi_format_temperature(b, sizeof(b), 42000, 1), "42°C");
	assert_string_equal(smi_format_temperature(b, sizeof(b), 42500, 1), "43°C");
	assert_string_equal(smi_format_temperature(b, sizeof(b), -1500, 1), "-2°C");
	assert_string_equal(smi_format_temperature(b, sizeof(b), 42000, 0), "N/A");
	assert_string_equal(smi_format_power(b, sizeof(b), 85499, 1), "85W");
	assert_string_equal(smi_format_power(b, sizeof(b), 85000, 0), "N/A");
	assert_string_equal(smi_format_utilization(b, sizeof(b), 37, 1), "37%");
	assert_string_equal(smi_format_utilization(b, sizeof(b), 37, 0), "N/A");
	char line[96];
	assert_string_equal(smi_format_memory(line, sizeof(line), "DRAM:", "300MB", "12.0GB", 300 * MiB, 12 * GiB),
			    "DRAM:  300MB / 12.0GB  ( 2%)");
	assert_string_equal(smi_format_memory(line, sizeof(line), "L1:", "0MB", "1440MB", 0, 1440 * MiB),
			    "L1:      0MB / 1440MB  ( 0%)");
}

static void test_regions_count_every_buffer_type_they_hold(void **state)
{
	(void)state;
	struct snapshot_device d;
	memset(&d, 0, sizeof(d));
	d.seed.dram_allocated = 1, d.seed.trace_allocated = 2;
	d.seed.l1_allocated = 10, d.seed.l1_small_allocated = 20, d.status.cb_allocated = 40;
	assert_int_equal(smi_device_dram_used(&d), 3);
	assert_int_equal(smi_device_l1_used(&d), 70);
	struct snapshot_process p;
	memset(&p, 0, sizeof(p));
	p.usage.used[0] = 1, p.usage.used[1] = 10, p.usage.used[2] = 20, p.usage.used[3] = 2, p.usage.cb = 40;
	p.usage.system_memory = 1000;
	assert_int_equal(smi_process_dram_used(&p), 3);
	assert_int_equal(smi_process_l1_used(&p), 70);
}

/* ---- options ---- */

static int parse(struct smi_options *o, char *err, ...)
{
	ARGV_PARSE(smi_options_parse, "tt_smi", o, err);
}

static void test_options_defaults_and_values(void **state)
{
	(void)state;
	struct smi_options o;
	char err[ERR_LEN];
	assert_int_equal(parse(&o, err, NULL), CLI_RUN);
	assert_int_equal(o.watch, 0);
	assert_int_equal(o.refresh_ms, 1000);
	assert_null(o.socket_path);
	assert_int_equal(o.color, SMI_COLOR_AUTO);
	assert_int_equal(o.columns, 0);

	assert_int_equal(parse(&o, err, "-w", "-r", "500", "--socket", "/tmp/x.sock", "--no-color", "--width=100",
			       NULL),
			 0);
	assert_int_equal(o.watch, 1);
	assert_int_equal(o.refresh_ms, 500);
	assert_string_equal(o.socket_path, "/tmp/x.sock");
	assert_int_equal(o.color, SMI_COLOR_NEVER);
	assert_int_equal(o.columns, 100);

	assert_int_equal(parse(&o, err, "-r250", NULL), 0);
	assert_int_equal(o.watch, 1); /* -r implies -w */
	assert_int_equal(parse(&o, err, "--color", NULL), 0);
	assert_int_equal(o.color, SMI_COLOR_ALWAYS);
	assert_int_equal(parse(&o, err, "-h", NULL), CLI_HELP);
	assert_int_equal(parse(&o, err, "--version", NULL), CLI_VERSION);
}

static void test_options_errors_are_explained(void **state)
{
	(void)state;
	struct smi_options o;
	char err[ERR_LEN];
	assert_int_equal(parse(&o, err, "-r", "10", NULL), TTALLOC_EINVAL);
	assert_contains(err, "--refresh");
	assert_int_equal(parse(&o, err, "-r", "fast", NULL), TTALLOC_EINVAL);
	assert_int_equal(parse(&o, err, "--width", "20", NULL), TTALLOC_EINVAL);
	assert_int_equal(parse(&o, err, "--bogus", NULL), TTALLOC_EINVAL);
	assert_string_equal(err, "unknown option '--bogus'");
	assert_int_equal(parse(&o, err, "-r", NULL), TTALLOC_EINVAL);
	assert_string_equal(err, "option '-r' needs a value");
	assert_int_equal(parse(&o, err, "extra", NULL), TTALLOC_EINVAL);
	assert_string_equal(err, "unexpected argument 'extra'");
}

static void test_color_follows_tty_and_no_color(void **state)
{
	(void)state;
	unsetenv("NO_COLOR");
	setenv("TERM", "xterm-256color", 1);
	assert_int_equal(smi_use_color(SMI_COLOR_AUTO, 1), 1);
	assert_int_equal(smi_use_color(SMI_COLOR_AUTO, 0), 0);
	assert_int_equal(smi_use_color(SMI_COLOR_NEVER, 1), 0);
	assert_int_equal(smi_use_color(SMI_COLOR_ALWAYS, 0), 1);
	setenv("TERM", "dumb", 1);
	assert_int_equal(smi_use_color(SMI_COLOR_AUTO, 1), 0);
	setenv("TERM", "xterm", 1);
	setenv("NO_COLOR", "1", 1);
	assert_int_equal(smi_use_color(SMI_COLOR_AUTO, 1), 0);
	unsetenv("NO_COLOR");
}

/* ---- frames ---- */

static void test_frame_repaints_in_place_without_clearing(void **state)
{
	(void)state;
	struct strbuf f = STRBUF_INIT;
	smi_frame_compose(&f, "a\n\nb\n", 0, 0);
	assert_string_equal(strbuf_str(&f), "\033[Ha\033[K\r\n\033[K\r\nb\033[K\033[J");
	strbuf_reset(&f);
	smi_frame_compose(&f, "a\nb\nc\n", 2, 80);
	assert_string_equal(strbuf_str(&f), "\033[Ha\033[K\r\nb\033[K\033[J");
	assert_lacks(strbuf_str(&f), "\033[2J");
	/* a line as wide as the screen is not followed by an erase, which
	 * would wipe its last character */
	strbuf_reset(&f);
	smi_frame_compose(&f, "│ab│\n│a│\n", 0, 4);
	assert_string_equal(strbuf_str(&f), "\033[H│ab│\r\n│a│\033[K\033[J");
	strbuf_release(&f);
}

static void test_buf_grows_and_formats(void **state)
{
	(void)state;
	struct strbuf b = STRBUF_INIT;
	assert_string_equal(strbuf_str(&b), "");
	for (int i = 0; i < 1000; i++)
		strbuf_addf(&b, "%d,", i % 10);
	assert_int_equal(b.len, 2000);
	assert_int_equal(strlen(strbuf_str(&b)), 2000);
	strbuf_repeat(&b, "─", 3);
	assert_int_equal(b.len, 2009);
	strbuf_release(&b);
	assert_null(b.buf);
}

static void test_real_devices_show_serial_and_bus_id_simulated_ones_stay_blank(void **state)
{
	(void)state;
	seed_demo();
	snprintf(devices[0].ident.serial, sizeof(devices[0].ident.serial), "010001851172E02A");
	snprintf(devices[0].ident.pci_bus_id, sizeof(devices[0].ident.pci_bus_id), "0000:02:00.0");
	snprintf(devices[1].ident.serial, sizeof(devices[1].ident.serial), "CD140F72FDCEC8F9");
	devices[1].status.backend_flags = 1; /* simulated: its made-up serial is not drawn */
	const char *t = render(SMI_DEFAULT_COLUMNS);
	assert_line(t, "│        010001851172E02A 0000:02:00.0      L1:      0MB / 1440MB  ( 0%)         │");
	assert_line(t, "│                                           L1:    150MB / 1440MB  (10%)         │");
	assert_lacks(t, "CD140F72FDCEC8F9");
}

static void test_a_container_column_appears_when_a_process_runs_in_one(void **state)
{
	(void)state;
	seed_demo();
	const char *t = render(SMI_DEFAULT_COLUMNS);
	assert_lacks(t, "Container");
	struct snapshot_container c[2];
	memset(c, 0, sizeof(c));
	c[0].pid = 12346;
	snprintf(c[0].info.id, sizeof(c[0].info.id), "%064d", 7);
	snprintf(c[0].info.runtime, sizeof(c[0].info.runtime), "containerd");
	snprintf(c[0].info.pod, sizeof(c[0].info.pod), "trainer-0");
	snprintf(c[0].info.container, sizeof(c[0].info.container), "main");
	c[1].pid = 12347;
	snprintf(c[1].info.id, sizeof(c[1].info.id), "3f4e8a9b2c1d%052d", 0);
	snprintf(c[1].info.runtime, sizeof(c[1].info.runtime), "docker");
	snap.containers = c;
	snap.num_containers = 2;
	t = render(SMI_DEFAULT_COLUMNS);
	assert_line(t, "│   GPU   PID      User      Process name    Container       DRAM    L1          │");
	assert_line(t, "│   0     12345    ttuser    python          -               100MB   0MB         │");
	assert_line(t, "│   0     12346    ttuser    python          trainer-0/main  200MB   0MB         │");
	assert_line(t, "│   1     12347    ttuser    python          docker 3f4e8a9… 0MB     150MB       │");
	for (int columns = SMI_MIN_COLUMNS; columns <= SMI_MAX_COLUMNS; columns += 7)
		assert_box_width(render(columns), columns);
	snap.containers = NULL;
	snap.num_containers = 0;
}

#define T(name) cmocka_unit_test_setup_teardown(name, snapshot_fixture_setup, snapshot_fixture_teardown)

int main(void)
{
	const struct CMUnitTest tests[] = {
		T(test_seed_demo_shows_the_seed_memory_lines),
		T(test_seed_demo_lists_one_row_per_process),
		T(test_headers_match_the_seed),
		T(test_gigabytes_print_with_one_decimal),
		T(test_invalid_readings_print_na),
		T(test_valid_utilization_is_shown),
		T(test_idle_device_gets_a_no_processes_row),
		T(test_processes_are_ordered_by_device_then_pid),
		T(test_no_devices_says_so),
		T(test_status_line_names_the_update_mode),
		T(test_disconnected_watch_shows_the_reason_and_reconnects),
		T(test_long_disconnect_reason_wraps_inside_the_box),
		T(test_every_box_line_has_the_same_width_at_any_width),
		T(test_narrow_box_truncates_names_with_an_ellipsis),
		T(test_wide_box_gives_the_room_to_the_process_name),
		T(test_layout_at_the_default_width_is_the_seed_layout),
		T(test_layout_columns_always_fill_the_box),
		T(test_plain_output_has_no_escape_codes),
		T(test_color_output_styles_text_not_layout),
		T(test_process_names_cannot_send_escape_codes),
		T(test_display_width_counts_columns_not_bytes),
		T(test_cells_pad_and_cut_by_display_width),
		T(test_sanitize_keeps_utf8_and_replaces_controls),
		T(test_sizes_follow_the_seed),
		T(test_percent_temperature_power_utilization),
		T(test_regions_count_every_buffer_type_they_hold),
		T(test_options_defaults_and_values),
		T(test_options_errors_are_explained),
		T(test_color_follows_tty_and_no_color),
		T(test_frame_repaints_in_place_without_clearing),
		T(test_buf_grows_and_formats),
		T(test_real_devices_show_serial_and_bus_id_simulated_ones_stay_blank),
		T(test_a_container_column_appears_when_a_process_runs_in_one),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
