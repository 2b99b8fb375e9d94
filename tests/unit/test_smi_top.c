/*
 * test_smi_top.c - `tt_smi top` without a terminal (top_model.c,
 * top_render.c): rows from a hand-made snapshot, sorting, the filter, keys,
 * the layout at 80 columns and narrower, capacity-scaled sparklines,
 * threshold colours, the buffer view and the help; and top's options.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "../support/argv_builder.h"
#include "../support/snapshot_fixture.h"
#include "../support/text_assert.h"
#include "common/cli.h"
#include "smi/top.h"

#define NOW_NS (1762179825ull * 1000000000ull)

static struct top_model model;

/* A process on `device` holding `dram` DRAM and `l1` L1 bytes in two buffers, first seen `age` seconds ago (0: unknown). */
static struct snapshot_process *add_process(int device, pid_t pid, const char *user, const char *comm, uint64_t dram,
					    uint64_t l1, uint64_t age)
{
	struct snapshot_process *p = snapshot_add_process(device, pid, user, comm, dram, l1);
	p->buffers = 2;
	p->since_ns = age ? NOW_NS - age * 1000000000ull : 0;
	return p;
}

/* The command lines /proc would give: only pid 200 has one here. */
static void fake_cmdline(pid_t pid, char *buf, size_t size, void *ctx)
{
	(void)ctx;
	snprintf(buf, size, "%s", pid == 200 ? "/usr/bin/python train.py --epochs 3" : "");
}

/* Three processes over two devices. */
static void three_processes(void)
{
	snapshot_add_device(43000, 90000);
	snapshot_add_device(43000, 90000);
	add_process(0, 300, "alice", "bench", 100 * MiB, 0, 30);
	add_process(0, 200, "bob", "python3", 2 * GiB, 4 * MiB, 4000);
	add_process(1, 100, "carol", "burner", 0, 600 * MiB, 0);
	assert_int_equal(top_model_update(&model, &snap, fake_cmdline, NULL), 0);
}

static int setup(void **state)
{
	top_model_init(&model);
	return snapshot_fixture_setup(state);
}

static int teardown(void **state)
{
	top_model_release(&model);
	return snapshot_fixture_teardown(state);
}

/* The pids of the shown rows, in order: "200 300 100". */
static const char *order(void)
{
	static char text[128];
	size_t n = 0;
	text[0] = '\0';
	for (size_t i = 0; i < model.num_shown; i++)
		n += (size_t)snprintf(text + n, sizeof(text) - n, "%s%d", i ? " " : "",
				      (int)model.rows[model.shown[i]].pid);
	return text;
}

static const char *render_at(int rows, int columns, const struct history_snapshot *hist, int color)
{
	struct top_screen s = {.snap = &snap,
			       .hist = hist,
			       .now = 1762179825,
			       .now_ns = NOW_NS,
			       .rows = rows,
			       .columns = columns,
			       .color = color,
			       .refresh_ms = 1000};
	strbuf_reset(&rendered);
	assert_int_equal(top_render(&rendered, &model, &s), 0);
	return strbuf_str(&rendered);
}

/* The line of `text` that contains `needle` (copied), or fails. */
static const char *line_with(const char *text, const char *needle)
{
	static char line[1024];
	const char *hit = strstr(text, needle);
	if (!hit) {
		fprintf(stderr, "'%s' not found in:\n%s\n", needle, text);
		fail();
	}
	const char *start = hit;
	while (start > text && start[-1] != '\n')
		start--;
	size_t len = strcspn(start, "\n");
	snprintf(line, sizeof(line), "%.*s", (int)len, start);
	return line;
}

/* Every line is at most `columns` wide and there are exactly `rows`. */
static void assert_screen_fits(const char *text, int rows, int columns)
{
	int lines = 0;
	for (const char *p = text; *p; lines++) {
		size_t len = strcspn(p, "\n");
		char line[2048];
		snprintf(line, sizeof(line), "%.*s", (int)len, p);
		if (smi_text_width(line) > columns) {
			fprintf(stderr, "line %d is %d wide:\n%s\n", lines, smi_text_width(line), line);
			fail();
		}
		p += len + (p[len] == '\n');
	}
	assert_int_equal(lines, rows);
}

/* ---- rows and sorting ---- */

static void test_rows_come_from_the_snapshot_sorted_by_memory(void **state)
{
	(void)state;
	three_processes();
	assert_int_equal(model.count, 3);
	assert_string_equal(order(), "200 100 300");
	const struct top_row *r = top_model_selected(&model);
	assert_non_null(r);
	assert_int_equal(r->pid, 200);
	/* the command line, not the name, and its program without the directory */
	assert_string_equal(r->command, "python train.py --epochs 3");
	assert_string_equal(model.rows[model.shown[1]].command, "burner"); /* no command line: the name */
	assert_int_equal(r->memory, 2 * GiB + 4 * MiB);
	assert_int_equal(r->used[TOP_MEM_L1], 4 * MiB);
}

static void test_sort_keys_and_the_selection_follows_its_process(void **state)
{
	(void)state;
	three_processes();
	top_model_key(&model, TOP_KEY_DOWN, 10); /* select pid 100 */
	assert_int_equal(top_model_selected(&model)->pid, 100);
	assert_int_equal(top_model_key(&model, 'p', 10), TOP_ACT_REDRAW);
	assert_string_equal(order(), "100 200 300");
	assert_int_equal(model.selected, 0); /* still pid 100 */
	top_model_key(&model, 'p', 10);      /* the same key again: the other way round */
	assert_string_equal(order(), "300 200 100");
	assert_true(model.reverse);
	top_model_key(&model, 'n', 10);
	assert_string_equal(order(), "300 100 200"); /* bench, burner, python train.py */
	assert_false(model.reverse);
	top_model_key(&model, 'a', 10);
	assert_string_equal(order(), "200 300 100"); /* oldest first, unknown last */
	top_model_key(&model, 'd', 10);
	assert_string_equal(order(), "200 300 100"); /* device 0 by memory, then device 1 */
	top_model_key(&model, 's', 10);              /* device -> memory */
	assert_int_equal(model.sort, TOP_SORT_MEMORY);
	top_model_key(&model, '<', 10);
	assert_int_equal(model.sort, TOP_SORT_DEVICE);
	top_model_key(&model, 'r', 10);
	assert_string_equal(order(), "100 300 200");
	assert_int_equal(top_model_selected(&model)->pid, 100);
	assert_string_equal(top_sort_name(model.sort), "device");
}

static void test_the_filter_applies_as_it_is_typed(void **state)
{
	(void)state;
	three_processes();
	assert_int_equal(top_model_key(&model, '/', 10), TOP_ACT_REDRAW);
	assert_true(model.editing);
	assert_int_equal(top_model_key(&model, 'q', 10), TOP_ACT_REDRAW); /* typed, not quit */
	top_model_key(&model, TOP_KEY_BACKSPACE, 10);
	top_model_key(&model, 'T', 10);
	top_model_key(&model, 'R', 10);
	assert_string_equal(order(), "200"); /* "train.py", any case */
	assert_contains(render_at(24, 80, NULL, 0), "Filter: TR_");
	top_model_key(&model, TOP_KEY_ENTER, 10);
	assert_false(model.editing);
	assert_string_equal(model.filter, "TR");
	assert_contains(line_with(render_at(24, 80, NULL, 0), "tt_smi top"), "filter: TR");
	top_model_set_filter(&model, "carol"); /* the user */
	assert_string_equal(order(), "100");
	top_model_set_filter(&model, "30"); /* the pid */
	assert_string_equal(order(), "300");
	top_model_set_filter(&model, "nothing");
	assert_int_equal(model.num_shown, 0);
	assert_null(top_model_selected(&model));
	assert_contains(render_at(24, 80, NULL, 0), "No process matches the filter");
	top_model_key(&model, TOP_KEY_ESCAPE, 10); /* Esc clears it */
	assert_int_equal(model.num_shown, 3);
}

static void test_moving_and_scrolling(void **state)
{
	(void)state;
	snapshot_add_device(43000, 90000);
	for (int i = 0; i < 8; i++)
		add_process(0, 1000 + i, "u", "p", (uint64_t)(8 - i) * MiB, 0, 0);
	top_model_update(&model, &snap, NULL, NULL);
	top_model_key(&model, TOP_KEY_END, 3);
	assert_int_equal(model.selected, 7);
	top_model_fit(&model, 3);
	assert_int_equal(model.scroll, 5);
	top_model_key(&model, TOP_KEY_PAGE_UP, 3);
	assert_int_equal(model.selected, 5);
	top_model_key(&model, TOP_KEY_HOME, 3);
	top_model_fit(&model, 3);
	assert_int_equal(model.scroll, 0);
	top_model_key(&model, TOP_KEY_PAGE_DOWN, 3);
	top_model_key(&model, 'j', 3);
	assert_int_equal(model.selected, 3);
	top_model_key(&model, TOP_KEY_UP, 3);
	top_model_key(&model, TOP_KEY_UP, 3);
	top_model_key(&model, TOP_KEY_UP, 3);
	top_model_key(&model, TOP_KEY_UP, 3);
	assert_int_equal(model.selected, 0);
	/* the selection stays on the screen */
	const char *out = render_at(12, 80, NULL, 0);
	assert_contains(line_with(out, "1000"), ">");
	/* a refresh where the selected process is gone keeps the position */
	top_model_key(&model, TOP_KEY_END, 3);
	snap.num_processes = 4;
	top_model_update(&model, &snap, NULL, NULL);
	assert_int_equal(top_model_selected(&model)->pid, 1003);
}

static void test_enter_opens_the_buffers_and_esc_goes_back(void **state)
{
	(void)state;
	three_processes();
	struct snapshot_process *shm = add_process(1, 400, "dave", "tt_metal", 0, 0, 0);
	shm->usage.flags = PROTO_PROCESS_SHM;
	shm->usage.used[SMI_USED_L1] = 1;
	top_model_update(&model, &snap, fake_cmdline, NULL);
	assert_int_equal(top_model_key(&model, TOP_KEY_ENTER, 10), TOP_ACT_BUFFERS);
	assert_int_equal(model.view, TOP_VIEW_BUFFERS);
	assert_int_equal(model.buf_pid, 200);
	assert_int_equal(model.buf_device, 0);
	assert_int_equal(top_model_key(&model, 'p', 10), TOP_ACT_NONE); /* not a sort key here */
	assert_int_equal(top_model_key(&model, TOP_KEY_ESCAPE, 10), TOP_ACT_REDRAW);
	assert_int_equal(model.view, TOP_VIEW_PROCESSES);
	/* a process known only from tt-metal's shared memory has no buffer list */
	top_model_key(&model, TOP_KEY_END, 10);
	assert_int_equal(top_model_selected(&model)->pid, 400);
	assert_int_equal(top_model_key(&model, TOP_KEY_ENTER, 10), TOP_ACT_REDRAW);
	assert_contains(render_at(24, 80, NULL, 0), "shared memory");
	assert_int_equal(top_model_key(&model, 'q', 10), TOP_ACT_QUIT);
}

/* ---- layout and rendering ---- */

static void test_layout_keeps_the_memory_columns_when_narrow(void **state)
{
	(void)state;
	struct top_layout l;
	top_layout_compute(&l, 80);
	for (int c = 0; c < TOP_COLS; c++)
		assert_int_equal(l.shown[c], c != TOP_COL_BAR); /* everything but the bar at 80 */
	assert_true(l.width[TOP_COL_COMMAND] >= TOP_MIN_COMMAND);
	assert_int_equal(l.start[TOP_COL_COMMAND] + l.width[TOP_COL_COMMAND], 80);
	top_layout_compute(&l, 60);
	assert_false(l.shown[TOP_COL_USER]);
	assert_false(l.shown[TOP_COL_AGE]);
	for (int c = TOP_COL_DRAM; c <= TOP_COL_CB; c++)
		assert_true(l.shown[c]);
	assert_true(l.start[TOP_COL_CB] + l.width[TOP_COL_CB] <= 60);
	top_layout_compute(&l, 40);
	for (int c = TOP_COL_DRAM; c <= TOP_COL_CB; c++)
		assert_true(l.shown[c]);
	assert_false(l.shown[TOP_COL_COMMAND]);
	top_layout_compute(&l, 140);
	assert_true(l.shown[TOP_COL_BAR]);
	assert_int_equal(l.start[TOP_COL_COMMAND] + l.width[TOP_COL_COMMAND], 140);
}

static void test_screen_at_80x24(void **state)
{
	(void)state;
	three_processes();
	const char *out = render_at(24, 80, NULL, 0);
	assert_screen_fits(out, 24, 80);
	assert_contains(line_with(out, "tt_smi top"), "sort: memory");
	assert_contains(out, " GPU 0 ");
	assert_contains(out, " GPU 1 ");
	assert_contains(line_with(out, "   DRAM  "), "2.1GB/12.0GB");
	assert_contains(out, "L1_SMALL");
	const char *header = line_with(out, "COMMAND");
	assert_contains(header, "GPU");
	assert_contains(header, "USER");
	assert_contains(header, "AGE");
	assert_contains(header, "DRAM");
	assert_contains(header, "L1_SMALL");
	assert_contains(header, "TRACE");
	assert_contains(header, "CB");
	const char *row = line_with(out, "python trai…"); /* the command takes the rest of 80 columns */
	assert_int_equal(row[0], '>');
	assert_contains(row, "bob");
	assert_contains(row, "1h06m");
	assert_contains(row, "2.0GB");
	assert_contains(row, "4.0MB");
	assert_contains(line_with(out, "burner"), "600MB");
	assert_contains(line_with(out, "bench"), "30s");
	assert_contains(out, "Enter buffers");
}

static void test_narrow_screen_drops_user_and_age_not_memory(void **state)
{
	(void)state;
	three_processes();
	const char *out = render_at(24, 60, NULL, 0);
	assert_screen_fits(out, 24, 60);
	const char *header = line_with(out, "PID");
	assert_lacks(header, "USER");
	assert_lacks(header, "AGE");
	assert_contains(header, "DRAM");
	assert_contains(header, "TRACE");
	assert_contains(header, "CB");
	assert_contains(line_with(out, "  300 "), "100MB");
}

static void test_many_devices_fold_into_compact_lines(void **state)
{
	(void)state;
	three_processes();
	const char *out = render_at(12, 80, NULL, 0);
	assert_screen_fits(out, 12, 80);
	assert_lacks(out, " GPU 0 "); /* no room for the full device block */
	assert_contains(out, "  0 DRAM ");
	assert_contains(out, "  1 DRAM ");
}

static void test_sparklines_are_scaled_to_capacity(void **state)
{
	(void)state;
	three_processes();
	struct history_snapshot_bucket buckets[2 * 4];
	memset(buckets, 0, sizeof(buckets));
	struct history_snapshot hist = {.num_devices = 2, .points = 4, .buckets = buckets};
	/* device 0: half its DRAM (DRAM + TRACE), then 10 %, then all of it */
	buckets[1].used[SMI_USED_DRAM] = 5 * GiB;
	buckets[1].used[SMI_USED_TRACE] = 1 * GiB;
	buckets[2].used[SMI_USED_DRAM] = 12 * GiB / 10;
	buckets[3].used[SMI_USED_DRAM] = 12 * GiB;
	for (int i = 1; i < 4; i++)
		buckets[i].valid = 1;
	/* device 1: the same small L1 use throughout: low, not full height */
	for (int i = 4; i < 8; i++) {
		buckets[i].used[SMI_USED_L1] = 100 * MiB;
		buckets[i].used[SMI_USED_L1_SMALL] = 44 * MiB;
		buckets[i].valid = 1;
	}
	uint64_t values[6];
	unsigned char valid[6];
	top_history_series(&hist, 0, 1, values, valid, 6);
	assert_int_equal(valid[0] + valid[1] + valid[2], 0); /* before the history, and the first bucket */
	assert_int_equal(values[3], 6 * GiB);
	assert_int_equal(valid[5], 1);
	top_history_series(&hist, 1, 0, values, valid, 2);
	assert_int_equal(values[0], 144 * MiB);
	assert_int_equal(values[1], 144 * MiB);

	const char *out = render_at(24, 80, &hist, 0);
	assert_contains(line_with(out, "2.1GB/12.0GB"), " ▅▂█"); /* 50 %, 10 %, 100 % of 12 GB */
	const char *l1 = strstr(out, " GPU 1 ");
	assert_non_null(l1);
	assert_contains(line_with(l1, "   L1    "), "▂▂▂▂"); /* 10 % of 1440 MB: not its own peak */
	assert_int_equal(top_spark_width(80), 25);
}

static void test_threshold_colours(void **state)
{
	(void)state;
	assert_int_equal(top_threshold_style(95, 100), SMI_RED);
	assert_int_equal(top_threshold_style(90, 100), SMI_RED);
	assert_int_equal(top_threshold_style(80, 100), SMI_YELLOW);
	assert_int_equal(top_threshold_style(10, 100), SMI_GREEN);
	assert_int_equal(top_threshold_style(1, 0), SMI_PLAIN);
	snapshot_add_device(43000, 90000);
	add_process(0, 10, "u", "big", 11 * GiB, 1100 * MiB, 0); /* 91 % DRAM, 76 % L1 */
	top_model_update(&model, &snap, NULL, NULL);
	const char *out = render_at(24, 80, NULL, 1);
	assert_contains(line_with(out, "11.0GB/12.0GB"), smi_style_code(SMI_RED));
	assert_contains(line_with(out, "1100MB/1440MB"), smi_style_code(SMI_YELLOW));
	assert_contains(line_with(out, "big"), "\033[7m"); /* the selection in reverse video */
	const char *plain = render_at(24, 80, NULL, 0);
	assert_null(strchr(plain, '\033'));
}

static void test_memory_cells(void **state)
{
	(void)state;
	char buf[32];
	assert_string_equal(top_format_memory(buf, sizeof(buf), 0), "-");
	assert_string_equal(top_format_memory(buf, sizeof(buf), 512), "512B");
	assert_string_equal(top_format_memory(buf, sizeof(buf), 4096), "4.0KB");
	assert_string_equal(top_format_memory(buf, sizeof(buf), 300 * MiB), "300MB");
	assert_string_equal(top_format_memory(buf, sizeof(buf), 1023 * MiB), "1023MB");
	assert_string_equal(top_format_memory(buf, sizeof(buf), 3 * GiB / 2), "1.5GB");
	assert_string_equal(top_format_memory(buf, sizeof(buf), 12 * GiB), "12GB");
}

static void test_buffer_view_lists_the_largest_first_with_the_frame(void **state)
{
	(void)state;
	three_processes();
	top_model_key(&model, TOP_KEY_ENTER, 10);
	struct buffer_snapshot bufs = BUFFER_SNAPSHOT_INIT;
	bufs.rows = calloc(2, sizeof(*bufs.rows));
	bufs.count = bufs.cap = 2;
	bufs.rows[0] = (struct buffer_snapshot_row){.pid = 200,
						    .type = TTALLOC_L1,
						    .address = 0x2000,
						    .size = 4 * MiB,
						    .age_ns = 5000000000ull};
	bufs.rows[1] = (struct buffer_snapshot_row){.pid = 200,
						    .type = TTALLOC_DRAM,
						    .address = 0x1000,
						    .size = 2 * GiB,
						    .age_ns = 61000000000ull};
	snprintf(bufs.rows[1].frame, sizeof(bufs.rows[1].frame), "allocate_weights (model.c:42)");
	top_model_set_buffers(&model, &bufs, NULL);
	assert_null(bufs.rows);
	const char *out = render_at(24, 80, NULL, 0);
	assert_screen_fits(out, 24, 80);
	assert_contains(out, "Buffers of PID 200 on GPU 0: python train.py --epochs 3");
	assert_contains(out, "2 live buffers (2.0GB), largest first");
	const char *first = line_with(out, "0x0000000000001000");
	assert_contains(first, "DRAM");
	assert_contains(first, "2.0GB");
	assert_contains(first, "1m01s");
	assert_contains(first, "allocate_weights (model.c:42)");
	assert_true(strstr(out, "0x0000000000001000") < strstr(out, "0x0000000000002000"));
	assert_contains(line_with(out, "0x0000000000002000"), "?"); /* no stack known */
	/* a process with more buffers than the list holds says so */
	model.buf_total = 5000;
	assert_contains(render_at(24, 80, NULL, 0), "5000 live buffers; the newest 2 listed");
	/* an answer that is an error shows the error */
	top_model_set_buffers(&model, &bufs, "server refused the request");
	assert_contains(render_at(24, 80, NULL, 0), "server refused the request");
}

static void test_help_and_back(void **state)
{
	(void)state;
	three_processes();
	assert_int_equal(top_model_key(&model, '?', 10), TOP_ACT_REDRAW);
	const char *out = render_at(24, 80, NULL, 0);
	assert_screen_fits(out, 24, 80);
	assert_contains(out, "Keys");
	assert_contains(out, "sort by memory, pid, name");
	assert_contains(out, "Refreshed every 1000 ms");
	top_model_key(&model, ' ', 10);
	assert_int_equal(model.view, TOP_VIEW_PROCESSES);
}

static void test_disconnected_screen_says_why(void **state)
{
	(void)state;
	struct top_screen s = {.error = "cannot reach the allocation server at /x", .rows = 10, .columns = 80};
	strbuf_reset(&rendered);
	assert_int_equal(top_render(&rendered, &model, &s), 0);
	assert_screen_fits(strbuf_str(&rendered), 10, 80);
	assert_contains(strbuf_str(&rendered), "cannot reach the allocation server");
	/* tiny screens still get exactly their lines */
	const char *out = render_at(3, 20, NULL, 0);
	assert_screen_fits(out, 3, 20);
	out = render_at(1, 20, NULL, 0);
	assert_screen_fits(out, 1, 20);
}

/* ---- options ---- */

static int parse(struct top_options *o, char *err, ...)
{
	ARGV_PARSE(top_options_parse, "top", o, err);
}

static void test_top_options(void **state)
{
	(void)state;
	struct top_options o;
	char err[ERR_LEN];
	assert_int_equal(parse(&o, err, NULL), CLI_RUN);
	assert_int_equal(o.refresh_ms, SMI_DEFAULT_REFRESH_MS);
	assert_null(o.socket_path);
	assert_int_equal(parse(&o, err, "-r", "200", "-s", "/tmp/x.sock", "--no-color", NULL), CLI_RUN);
	assert_int_equal(o.refresh_ms, 200);
	assert_string_equal(o.socket_path, "/tmp/x.sock");
	assert_int_equal(o.color, SMI_COLOR_NEVER);
	assert_true(parse(&o, err, "-r", "10", NULL) < 0);
	assert_contains(err, "--refresh");
	assert_true(parse(&o, err, "--bogus", NULL) < 0);
	assert_true(parse(&o, err, "extra", NULL) < 0);
	assert_int_equal(parse(&o, err, "--help", NULL), CLI_HELP);
}

#define T(name) cmocka_unit_test_setup_teardown(name, setup, teardown)

int main(void)
{
	const struct CMUnitTest tests[] = {
		T(test_rows_come_from_the_snapshot_sorted_by_memory),
		T(test_sort_keys_and_the_selection_follows_its_process),
		T(test_the_filter_applies_as_it_is_typed),
		T(test_moving_and_scrolling),
		T(test_enter_opens_the_buffers_and_esc_goes_back),
		T(test_layout_keeps_the_memory_columns_when_narrow),
		T(test_screen_at_80x24),
		T(test_narrow_screen_drops_user_and_age_not_memory),
		T(test_many_devices_fold_into_compact_lines),
		T(test_sparklines_are_scaled_to_capacity),
		T(test_threshold_colours),
		T(test_memory_cells),
		T(test_buffer_view_lists_the_largest_first_with_the_frame),
		T(test_help_and_back),
		T(test_disconnected_screen_says_why),
		T(test_top_options),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
