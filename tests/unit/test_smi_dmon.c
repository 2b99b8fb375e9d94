/*
 * test_smi_dmon.c - `tt_smi dmon` and `tt_smi pmon` lines (dmon.c) from a
 * hand-made snapshot: nvidia-smi's two header lines and column widths,
 * ttalloc's columns, "-" for what is not reported, device selection, and
 * their options.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <stdio.h>
#include <string.h>

#include "../support/argv_builder.h"
#include "common/cli.h"
#include "smi/top.h"

#define MiB (1024ull * 1024ull)
#define GiB (1024ull * MiB)

static struct snapshot_device devices[3];
static struct snapshot_process processes[4];
static struct snapshot snap;
static struct strbuf out = STRBUF_INIT;

static int setup(void **state)
{
	(void)state;
	memset(devices, 0, sizeof(devices));
	memset(processes, 0, sizeof(processes));
	snap = (struct snapshot){.num_devices = 2, .devices = devices, .processes = processes};
	for (int i = 0; i < 3; i++)
		devices[i].index = i;
	/* device 0 reports power and temperature, not utilization; device 1 nothing */
	devices[0].status.valid = PROTO_STATUS_POWER | PROTO_STATUS_TEMPERATURE;
	devices[0].status.power_mw = 85400;
	devices[0].status.temperature_mc = 41600;
	devices[0].seed.dram_allocated = 1536 * MiB;
	devices[0].seed.l1_allocated = 4 * MiB;
	devices[0].seed.l1_small_allocated = 2 * MiB;
	devices[0].seed.trace_allocated = 1 * GiB;
	devices[0].status.cb_allocated = 3 * MiB;
	strbuf_reset(&out);
	return 0;
}

static int teardown(void **state)
{
	(void)state;
	strbuf_release(&out);
	return 0;
}

static struct smi_stream_options options(enum smi_stream_kind kind)
{
	return (struct smi_stream_options){.kind = kind, .delay_ms = 1000, .groups = SMI_DMON_GROUPS};
}

/* The header and one sample's lines of `o`. */
static const char *sample(const struct smi_stream_options *o)
{
	strbuf_reset(&out);
	smi_stream_header(&out, o);
	smi_stream_lines(&out, o, &snap);
	return strbuf_str(&out);
}

static void add_process(int device, pid_t pid, const char *comm, uint32_t flags)
{
	struct snapshot_process *p = &processes[snap.num_processes++];
	p->device = device;
	p->pid = pid;
	p->usage.flags = flags;
	p->usage.used[SMI_USED_DRAM] = 300 * MiB;
	p->usage.used[SMI_USED_L1_SMALL] = 1 * MiB;
	p->usage.cb = 2 * MiB;
	snprintf(p->usage.comm, sizeof(p->usage.comm), "%s", comm);
}

static void test_dmon_header_and_lines(void **state)
{
	(void)state;
	struct smi_stream_options o = options(SMI_DMON);
	assert_string_equal(sample(&o),
			    "# gpu   pwr  temp  util  dram    l1  l1sm trace    cb\n"
			    "# Idx     W     C     %    MB    MB    MB    MB    MB\n"
			    "    0    85    42     -  1536     4     2  1024     3\n"
			    "    1     -     -     -     0     0     0     0     0\n");
}

static void test_dmon_groups_and_devices(void **state)
{
	(void)state;
	struct smi_stream_options o = options(SMI_DMON);
	snprintf(o.groups, sizeof(o.groups), "m");
	char err[ERR_LEN];
	assert_int_equal(smi_select_devices(&snap, "1", err, sizeof(err)), 0);
	assert_string_equal(sample(&o),
			    "# gpu  dram    l1  l1sm trace    cb\n"
			    "# Idx    MB    MB    MB    MB    MB\n"
			    "    1     0     0     0     0     0\n");
}

static void test_pmon_lines_per_process_and_idle_devices(void **state)
{
	(void)state;
	snap.num_devices = 3;
	add_process(1, 4321, "python3", 0);
	add_process(0, 77, "tt_metal\033[31m", PROTO_PROCESS_SHM);
	add_process(1, 12, "gone", PROTO_PROCESS_SHM | PROTO_PROCESS_STALE);
	struct smi_stream_options o = options(SMI_PMON);
	assert_string_equal(sample(&o),
			    "# gpu        pid  type  dram    l1  l1sm trace    cb   command\n"
			    "# Idx          #   C/S    MB    MB    MB    MB    MB   name\n"
			    "    0         77     S   300     0     1     0     2   tt_metal?[31m\n"
			    "    1         12     X   300     0     1     0     2   gone\n"
			    "    1       4321     C   300     0     1     0     2   python3\n"
			    "    2          -     -     -     -     -     -     -   -\n");
}

static int parse_dmon(struct smi_stream_options *o, int argc, char **argv, char *err)
{
	return smi_stream_parse(o, SMI_DMON, argc, argv, err);
}

static int parse_pmon(struct smi_stream_options *o, int argc, char **argv, char *err)
{
	return smi_stream_parse(o, SMI_PMON, argc, argv, err);
}

static int dmon(struct smi_stream_options *o, char *err, ...)
{
	ARGV_PARSE(parse_dmon, "dmon", o, err);
}

static int pmon(struct smi_stream_options *o, char *err, ...)
{
	ARGV_PARSE(parse_pmon, "pmon", o, err);
}

static void test_options(void **state)
{
	(void)state;
	struct smi_stream_options o;
	char err[ERR_LEN];
	assert_int_equal(dmon(&o, err, NULL), CLI_RUN);
	assert_int_equal(o.kind, SMI_DMON);
	assert_int_equal(o.count, 0);
	assert_int_equal(o.delay_ms, 1000);
	assert_string_equal(o.groups, "pum");
	assert_null(o.ids);
	assert_int_equal(dmon(&o, err, "-c", "2", "-d", "0.5", "-s", "mu", "-i", "0,2", "--socket", "/x", NULL),
			 CLI_RUN);
	assert_int_equal(o.count, 2);
	assert_int_equal(o.delay_ms, 500);
	assert_string_equal(o.groups, "um"); /* the header's order, whatever the order asked */
	assert_string_equal(o.ids, "0,2");
	assert_string_equal(o.socket_path, "/x");
	assert_true(dmon(&o, err, "-c", "0", NULL) < 0);
	assert_true(dmon(&o, err, "-s", "px", NULL) < 0);
	assert_non_null(strstr(err, "-s/--select"));
	assert_true(dmon(&o, err, "-i", "0,,1", NULL) < 0);
	assert_true(dmon(&o, err, "-i", "", NULL) < 0);
	assert_true(dmon(&o, err, "-d", "0", NULL) < 0);
	assert_true(dmon(&o, err, "now", NULL) < 0);
	assert_int_equal(dmon(&o, err, "-h", NULL), CLI_HELP);
	assert_int_equal(pmon(&o, err, "--count", "1", NULL), CLI_RUN);
	assert_int_equal(o.kind, SMI_PMON);
	assert_true(pmon(&o, err, "-s", "m", NULL) < 0);
	assert_non_null(strstr(err, "dmon"));
}

static void test_subcommands(void **state)
{
	(void)state;
	assert_non_null(smi_subcommand("top"));
	assert_non_null(smi_subcommand("dmon"));
	assert_non_null(smi_subcommand("pmon"));
	assert_null(smi_subcommand("-w"));
	assert_null(smi_subcommand("tops"));
	assert_null(smi_subcommand(NULL));
}

#define T(name) cmocka_unit_test_setup_teardown(name, setup, teardown)

int main(void)
{
	const struct CMUnitTest tests[] = {
		T(test_dmon_header_and_lines),
		T(test_dmon_groups_and_devices),
		T(test_pmon_lines_per_process_and_idle_devices),
		T(test_options),
		T(test_subcommands),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
