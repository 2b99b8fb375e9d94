/*
 * test_smi_diag.c - tt_smi's diagnosis modes without a server (smi/diag.h):
 * their command line, a post-mortem and an address map drawn from
 * documents, the diff of two snapshots (buffer by buffer and by totals),
 * and common/diff.h's grouping, which the server's /api/diff shares.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <stdlib.h>
#include <string.h>

#include <jansson.h>

#include "../support/argv_builder.h"
#include "../support/text_assert.h"
#include "common/cli.h"
#include "common/diff.h"
#include "smi/smi.h"

static int parse(struct smi_options *o, char *err, ...)
{
	ARGV_PARSE(smi_options_parse, "tt_smi", o, err);
}

static void test_the_diagnosis_options_choose_one_mode(void **state)
{
	(void)state;
	struct smi_options o;
	char err[ERR_LEN];
	assert_int_equal(parse(&o, err, "--map", "-i", "1", "--type", "l1", "--pid", "42", NULL), CLI_RUN);
	assert_int_equal(o.diag.mode, SMI_DIAG_MAP);
	assert_string_equal(o.diag.ids, "1");
	assert_int_equal(o.diag.type, TTALLOC_L1);
	assert_int_equal(o.diag.pid, 42);
	assert_int_equal(parse(&o, err, "--diff", "a.json", "b.json", NULL), CLI_RUN);
	assert_string_equal(o.diag.arg, "a.json");
	assert_string_equal(o.diag.arg2, "b.json");
	assert_int_equal(parse(&o, err, "--diff", "a.json", NULL), CLI_RUN);
	assert_null(o.diag.arg2);
	assert_int_equal(parse(&o, err, "--mark", "step 10", NULL), CLI_RUN);
	assert_string_equal(o.diag.arg, "step 10");
	assert_int_equal(parse(&o, err, "--oom", "--map", NULL), TTALLOC_EINVAL);
	assert_contains(err, "choose one of --oom");
	assert_int_equal(parse(&o, err, "--oom", "--json", NULL), TTALLOC_EINVAL);
	assert_int_equal(parse(&o, err, "--type", "l1", NULL), TTALLOC_EINVAL);
	assert_contains(err, "go with --map or --export-stacks");
	assert_int_equal(parse(&o, err, "--map", "--type", "huge", NULL), TTALLOC_EINVAL);
	assert_int_equal(parse(&o, err, "--map", "-i", "0,1", NULL), TTALLOC_EINVAL); /* one memory */
	assert_contains(err, "one device");
	assert_int_equal(parse(&o, err, "--map", "--type", "cb", NULL), TTALLOC_EINVAL);
	assert_contains(err, "CB buffers have no address range");
	assert_int_equal(parse(&o, err, "--export-stacks", "-", "--type", "cb", NULL), CLI_RUN);
	char label[200];
	memset(label, 'x', sizeof(label) - 1);
	label[sizeof(label) - 1] = '\0';
	assert_int_equal(parse(&o, err, "--mark", label, NULL), TTALLOC_EINVAL);
	assert_contains(err, "1..71 bytes");
	assert_int_equal(parse(&o, err, "--mark", "bell\a", NULL), TTALLOC_EINVAL);
	assert_int_equal(parse(&o, err, NULL), CLI_RUN);
	assert_int_equal(o.diag.mode, SMI_DIAG_NONE);
}

static const char *const OOM_REPORT =
	"{\"id\": 3, \"time\": 1762179825000, \"pid\": 4242, \"name\": \"python\", \"device_id\": 0, \"type\": "
	"\"DRAM\","
	" \"requested_bytes\": 2147483648, \"capacity_bytes\": 12884901888, \"used_bytes\": 6442450944,"
	" \"process_used_bytes\": 6442450944, \"free_bytes\": 6442450944, \"largest_free_bytes\": 1073741824,"
	" \"fragmentation\": 0.8333, \"free_block_count\": 6, \"cause\": \"fragmentation\","
	" \"summary\": \"needs 2.0 GB, 6.0 GB free, largest free block 1.0 GB: fragmentation\","
	" \"stack\": [\"grow (model.py:7)\", \"main (model.py:30)\"],"
	" \"holders\": [{\"pid\": 4242, \"name\": \"python\", \"bytes\": 6442450944, \"buffer_count\": 6}],"
	" \"buffers\": [{\"pid\": 4242, \"address\": \"0x800000000\", \"size\": 1073741824, \"type\": \"DRAM\","
	" \"age_seconds\": 12.5, \"stack\": null}],"
	" \"recent_events\": [{\"kind\": \"alloc_failed\", \"type\": \"DRAM\", \"address\": null, \"size\": 2147483648,"
	" \"seconds_before\": 0.0, \"stack\": null}]}";

static void test_a_post_mortem_reads_at_a_glance(void **state)
{
	(void)state;
	json_t *r = json_loads(OOM_REPORT, 0, NULL);
	assert_non_null(r);
	struct strbuf out = STRBUF_INIT;
	smi_render_oom(&out, r, 1762179835);
	const char *text = strbuf_str(&out);
	assert_contains(text, "Allocation failure 3 at ");
	assert_contains(text, "(10 s ago): PID 4242 (python) on device 0\n");
	assert_contains(
		text, "  DRAM buffer of 2.0 GB: needs 2.0 GB, 6.0 GB free, largest free block 1.0 GB: fragmentation\n");
	assert_contains(text, "fragmentation 83% in 6 free blocks");
	assert_contains(text, "requested at: grow (model.py:7) <- main (model.py:30)");
	assert_contains(text, "PID 4242     python                 6.0 GB in 6 buffers");
	assert_contains(text, "(no stack: TT_ALLOC_STACK_TRACE=1 records them)");
	strbuf_reset(&out);
	smi_render_oom(&out, NULL, 0);
	assert_string_equal(strbuf_str(&out), "No allocation failure reported since the server started.\n");
	strbuf_release(&out);
	json_decref(r);
}

static void test_an_address_map_is_a_strip_with_visible_holes(void **state)
{
	(void)state;
	json_t *m =
		json_loads("{\"device_id\": 0, \"type\": \"DRAM\", \"pid\": null, \"base\": \"0x800000000\","
			   " \"bank_size\": 1073741824, \"bank_count\": 12, \"capacity_bytes\": 12884901888,"
			   " \"used_bytes\": 6442450944, \"free_bytes\": 6442450944, \"largest_free_bytes\": 805306368,"
			   " \"fragmentation\": 0.875, \"free_block_count\": 8, \"outside_buffer_count\": 0,"
			   " \"free_blocks\": [{\"address\": \"0x800000000\", \"size\": 805306368}],"
			   " \"cells\": [0.0, 1.0, 0.25, 0.75]}",
			   0, NULL);
	struct strbuf out = STRBUF_INIT;
	smi_render_map(&out, m, 64);
	const char *text = strbuf_str(&out);
	assert_contains(text, "Device 0 DRAM, every process: 12 banks of 1.0 GB from 0x800000000\n");
	assert_contains(text, "  [·█░▓]\n");
	assert_contains(text,
			"capacity 12.0 GB, used 6.0 GB, free 6.0 GB in 8 blocks, largest free block 768.0 MB: "
			"fragmentation 88%");
	assert_contains(text, "largest free blocks: 768.0 MB at 0x800000000");
	strbuf_release(&out);
	json_decref(m);
}

/* A snapshot document with the given buffers JSON and groups JSON. */
static json_t *snapshot(const char *buffers, int listed, int total, const char *groups)
{
	char text[2048];
	snprintf(text, sizeof(text),
		 "{\"format\": \"ttalloc-snapshot\", \"buffers_total\": %d, \"buffers_listed\": %d, \"buffers\": %s,"
		 " \"groups\": %s, \"stacks\": {\"1\": [\"load (m.py:3)\"], \"2\": [\"grow (m.py:9)\"]}}",
		 total, listed, buffers, groups);
	json_t *j = json_loads(text, 0, NULL);
	assert_non_null(j);
	return j;
}

/* tt_smi --diff's text from snapshot a to snapshot b, rendered into `out`; frees both documents. */
static const char *diff_text(struct strbuf *out, json_t *a, json_t *b)
{
	assert_int_equal(smi_render_snapshot_diff(out, a, b, "A", "B"), 0);
	json_decref(a);
	json_decref(b);
	return strbuf_str(out);
}

#define BUF(pid, addr, size, at, stack)                                                                       \
	"{\"pid\": " #pid ", \"name\": \"py\", \"device_id\": 0, \"address\": \"" addr "\", \"size\": " #size \
	", \"type\": \"DRAM\", \"allocated_at\": " #at ", \"stack_id\": " #stack "}"

static void test_two_complete_snapshots_are_compared_buffer_by_buffer(void **state)
{
	(void)state;
	json_t *a = snapshot("[" BUF(7, "0x800000000", 1048576, 10, 1) ", " BUF(7, "0x800100000", 2048, 11, 2) "]", 2,
			     2, "[]");
	json_t *b = snapshot("[" BUF(7, "0x800000000", 1048576, 10, 1) ", " BUF(7, "0x800200000", 3145728, 20,
										2) ", " BUF(7, "0x800100000", 2048, 21,
											    2) "]",
			     3, 3, "[]");
	struct strbuf out = STRBUF_INIT;
	const char *text = diff_text(&out, a, b);
	/* 0x800100000 was freed and allocated again (another time): both */
	assert_contains(text, "allocated +3.0 MB in 2 buffers, freed -2.0 KB in 1 buffers: growth +3.0 MB\n");
	assert_contains(text, "PID 7 (py)");
	assert_contains(text, "+3.0 MB  (+3.0 MB in 2, -2.0 KB in 1)  grow (m.py:9)");
	assert_lacks(text, "load (m.py:3)"); /* unchanged */
	strbuf_release(&out);
}

#define GROUP(pid, type, stack, bytes, count)                                                                   \
	"{\"pid\": " #pid ", \"name\": \"py\", \"device_id\": 0, \"type\": \"" type "\", \"stack_id\": " #stack \
	", \"bytes\": " #bytes ", \"buffer_count\": " #count "}"

static void test_truncated_snapshots_are_compared_by_their_totals(void **state)
{
	(void)state;
	json_t *a = snapshot("[]", 0, 5, "[" GROUP(7, "DRAM", 1, 5000, 5) ", " GROUP(8, "L1", null, 100, 1) "]");
	json_t *b = snapshot("[]", 0, 9, "[" GROUP(7, "DRAM", 1, 9000, 9) "]");
	struct strbuf out = STRBUF_INIT;
	const char *text = diff_text(&out, a, b);
	assert_contains(text, "compared by totals");
	assert_contains(text, "allocated +3.9 KB in 4 buffers, freed -100 B in 1 buffers");
	assert_contains(text, "PID 8 (py)");
	strbuf_release(&out);
}

static void test_changes_add_up_by_process_type_and_stack_largest_growth_first(void **state)
{
	(void)state;
	struct diff_item items[] = {
		{.pid = 1, .type = TTALLOC_DRAM, .size = 100, .buffers = 1, .stack = "at a"},
		{.pid = 2, .type = TTALLOC_L1, .size = 500, .buffers = 1, .stack = "at b"},
		{.pid = 1, .type = TTALLOC_DRAM, .size = 300, .buffers = 1, .stack = NULL, .freed = 1},
		{.pid = 2, .type = TTALLOC_DRAM, .size = 50, .buffers = 1, .stack = "at a"},
	};
	struct diff_total *t;
	size_t n;
	assert_int_equal(diff_totals(items, 4, DIFF_BY_PROCESS, &t, &n), 0);
	assert_int_equal(n, 2);
	assert_int_equal(t[0].pid, 2);
	assert_int_equal(t[0].growth, 550);
	assert_int_equal(t[1].growth, -200);
	assert_int_equal(t[1].freed_buffers, 1);
	free(t);
	assert_int_equal(diff_totals(items, 4, DIFF_BY_STACK, &t, &n), 0);
	assert_int_equal(n, 3);
	assert_string_equal(t[0].stack, "at b");
	assert_string_equal(t[1].stack, "at a");
	assert_int_equal(t[1].allocated_bytes, 150);
	assert_null(t[2].stack);
	free(t);
	assert_int_equal(diff_totals(items, 0, DIFF_BY_TYPE, &t, &n), 0);
	assert_int_equal(n, 0);
	diff_sort_items(items, 4);
	assert_int_equal(items[0].size, 500);
	assert_true(items[3].freed);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_the_diagnosis_options_choose_one_mode),
		cmocka_unit_test(test_a_post_mortem_reads_at_a_glance),
		cmocka_unit_test(test_an_address_map_is_a_strip_with_visible_holes),
		cmocka_unit_test(test_two_complete_snapshots_are_compared_buffer_by_buffer),
		cmocka_unit_test(test_truncated_snapshots_are_compared_by_their_totals),
		cmocka_unit_test(test_changes_add_up_by_process_type_and_stack_largest_growth_first),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
