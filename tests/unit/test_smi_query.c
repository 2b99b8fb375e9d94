/*
 * test_smi_query.c - tt_smi's scriptable outputs from hand-made snapshots:
 * --query-gpu and --query-compute-apps CSV (headers, units, nounits,
 * noheader, [N/A], quoting, nvidia-smi aliases, unknown fields), --json
 * (parsed back with jansson: keys, nulls, compact lines), the seed's
 * periodic CSV log rows, and the command line of these modes.
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

#include <jansson.h>

#include "../support/argv_builder.h"
#include "../support/snapshot_fixture.h"
#include "../support/text_assert.h"
#include "common/query.h"
#include "smi/smi.h"

/* Mon Nov  3 14:23:45.123456789 2025 UTC, the seed's first screenshot. */
#define SEED_TIME_NS (1762179825ull * 1000000000ull + 123456789ull)

/* ---- fixtures ---- */

/* A process of ttuser holding `dram` and `l1` bytes on `device`; the device's totals and counts follow. */
static struct snapshot_process *add_process(int device, pid_t pid, const char *comm, uint64_t dram, uint64_t l1)
{
	devices[device].status.live_buffers++;
	return snapshot_add_process(device, pid, "ttuser", comm, dram, l1);
}

/* The seed's multi-process example: 100MB + 200MB DRAM on 0, 150MB L1 on 1. */
static void seed_demo(void)
{
	snapshot_add_device(43000, 90000);
	snapshot_add_device(39000, 75000);
	add_process(0, 12346, "python", 200 * MiB, 0);
	add_process(1, 12347, "python", 0, 150 * MiB);
	add_process(0, 12345, "python", 100 * MiB, 0);
}

/* The snapshot taken at the seed's time. */
static int setup(void **state)
{
	snapshot_fixture_setup(state);
	snap.taken_ns = SEED_TIME_NS;
	return 0;
}

/* Header and rows of a query given as its option value and --format value (NULL: plain csv). */
static const char *query(enum smi_query_kind kind, const char *fields, const char *format)
{
	struct smi_query q;
	char err[SMI_ERR_LEN];
	memset(&q, 0, sizeof(q));
	if (format && smi_query_parse_format(&q, format, err, sizeof(err)) < 0) {
		fprintf(stderr, "format: %s\n", err);
		fail();
	}
	if (smi_query_parse_fields(&q, kind, fields, err, sizeof(err)) < 0) {
		fprintf(stderr, "fields: %s\n", err);
		fail();
	}
	strbuf_reset(&rendered);
	smi_query_header(&rendered, &q);
	assert_int_equal(smi_query_rows(&rendered, &q, &snap), 0);
	return strbuf_str(&rendered);
}

static const char *gpu(const char *fields, const char *format)
{
	return query(SMI_QUERY_GPU, fields, format);
}

static const char *apps(const char *fields, const char *format)
{
	return query(SMI_QUERY_APPS, fields, format);
}

/* ---- --query-gpu ---- */

static void test_header_names_fields_with_units_like_nvidia_smi(void **state)
{
	(void)state;
	seed_demo();
	assert_string_equal(gpu("index,name,memory.dram.used", NULL),
			    "index, name, memory.dram.used [MiB]\n"
			    "0, Wormhole_B0, 300 MiB\n"
			    "1, Wormhole_B0, 0 MiB\n");
}

static void test_readings_carry_their_units(void **state)
{
	(void)state;
	snapshot_add_device(38499, 72012);
	devices[0].status.utilization = 37;
	devices[0].status.valid |= PROTO_STATUS_UTILIZATION;
	assert_string_equal(gpu("temperature,power,utilization,arch", NULL),
			    "temperature, power [W], utilization [%], arch\n"
			    "38, 72.01 W, 37 %, Wormhole_B0\n");
	devices[0].status.temperature_mc = 38500;
	devices[0].status.power_mw = 5;
	assert_string_equal(gpu("temperature,power", "csv,noheader"), "39, 0.01 W\n");
}

static void test_nounits_drops_value_units_but_not_header_units(void **state)
{
	(void)state;
	seed_demo();
	assert_string_equal(gpu("index,memory.dram.used,power", "csv,nounits"),
			    "index, memory.dram.used [MiB], power [W]\n"
			    "0, 300, 90.00\n"
			    "1, 0, 75.00\n");
}

static void test_noheader_prints_rows_only(void **state)
{
	(void)state;
	seed_demo();
	assert_string_equal(gpu("index,memory.dram.used", "csv,noheader,nounits"), "0, 300\n1, 0\n");
	/* the flags come in any order */
	assert_string_equal(gpu("index", "nounits,noheader,csv"), "0\n1\n");
}

static void test_missing_readings_print_na(void **state)
{
	(void)state;
	struct snapshot_device *d = snapshot_add_device(0, 0);
	d->status.valid = 0;
	d->status.name[0] = '\0';
	d->seed.arch_type = PROTO_ARCH_INVALID;
	assert_string_equal(gpu("index,name,arch,temperature,power,utilization", "csv,noheader"),
			    "0, [N/A], [N/A], [N/A], [N/A], [N/A]\n");
	/* [N/A] never gets a unit, even without nounits */
	assert_string_equal(gpu("power", NULL), "power [W]\n[N/A]\n");
}

static void test_memory_regions_totals_and_free(void **state)
{
	(void)state;
	struct snapshot_device *d = snapshot_add_device(40000, 80000);
	d->seed.dram_allocated = 100 * MiB;
	d->seed.trace_allocated = 28 * MiB;
	d->seed.l1_allocated = 10 * MiB;
	d->seed.l1_small_allocated = 2 * MiB;
	d->status.cb_allocated = 3 * MiB;
	d->status.system_memory = 7 * MiB;
	d->status.live_buffers = 9;
	d->status.processes = 2;
	assert_string_equal(gpu("memory.dram.used,memory.dram.total,memory.dram.free,memory.l1.used,memory.l1.total,"
				"memory.l1.free,memory.l1_small.used,memory.trace.used,memory.cb.used,"
				"memory.system.used,buffers,processes",
				"csv,noheader,nounits"),
			    "128, 12288, 12160, 15, 1440, 1425, 2, 28, 3, 7, 9, 2\n");
	/* more in use than the device has (a stale total) is 0 free, not a huge number */
	d->seed.total_dram_size = 100 * MiB;
	assert_string_equal(gpu("memory.dram.free", "csv,noheader,nounits"), "0\n");
}

static void test_memory_rounds_to_whole_mib_like_the_table(void **state)
{
	(void)state;
	struct snapshot_device *d = snapshot_add_device(40000, 80000);
	d->seed.dram_allocated = MiB / 2 - 1;
	assert_string_equal(gpu("memory.dram.used", "csv,noheader,nounits"), "0\n");
	d->seed.dram_allocated = MiB / 2;
	assert_string_equal(gpu("memory.dram.used", "csv,noheader,nounits"), "1\n");
}

static void test_timestamp_is_nvidia_smi_style_local_time(void **state)
{
	(void)state;
	snapshot_add_device(40000, 80000);
	assert_string_equal(gpu("timestamp,index", NULL), "timestamp, index\n2025/11/03 14:23:45.123, 0\n");
}

static void test_nvidia_smi_names_are_aliases(void **state)
{
	(void)state;
	seed_demo();
	assert_string_equal(gpu(" memory.used , temperature.gpu,power.draw,utilization.gpu", "csv,noheader"),
			    "300 MiB, 43, 90.00 W, [N/A]\n"
			    "0 MiB, 39, 75.00 W, [N/A]\n");
	/* the header echoes the names asked, with nvidia-smi's unit suffix */
	assert_string_equal(gpu("memory.total", "csv"), "memory.total [MiB]\n12288 MiB\n12288 MiB\n");
	assert_string_equal(gpu("memory.dram.total,power.draw,utilization.gpu", "csv,noheader"),
			    "12288 MiB, 90.00 W, [N/A]\n12288 MiB, 75.00 W, [N/A]\n");
	const char *header = "memory.dram.total [MiB], power.draw [W], utilization.gpu [%], memory.used [MiB]\n";
	const char *text = gpu("memory.dram.total,power.draw,utilization.gpu,memory.used", "csv");
	assert_int_equal(strncmp(text, header, strlen(header)), 0);
}

static void test_names_with_commas_and_quotes_are_quoted(void **state)
{
	(void)state;
	struct snapshot_device *d = snapshot_add_device(40000, 80000);
	snprintf(d->status.name, sizeof(d->status.name), "Worm,\"hole\"");
	assert_string_equal(gpu("name,index", "csv,noheader"), "\"Worm,\"\"hole\"\"\", 0\n");
	snprintf(d->status.name, sizeof(d->status.name), " edge");
	assert_string_equal(gpu("name", "csv,noheader"), "\" edge\"\n");
	snprintf(d->status.name, sizeof(d->status.name), "plain name");
	assert_string_equal(gpu("name", "csv,noheader"), "plain name\n");
}

static void test_identity_and_container_fields(void **state)
{
	(void)state;
	struct snapshot_device *d = snapshot_add_device(40000, 80000);
	snapshot_add_device(40000, 80000);
	snprintf(d->ident.serial, sizeof(d->ident.serial), "010001851170804D");
	snprintf(d->ident.pci_bus_id, sizeof(d->ident.pci_bus_id), "0000:01:00.0");
	snprintf(d->ident.card_type, sizeof(d->ident.card_type), "n150");
	assert_string_equal(gpu("index,serial,pci.bus_id,card_type,uuid,asic_id", "csv,noheader"),
			    "0, 010001851170804D, 0000:01:00.0, n150, [N/A], [N/A]\n"
			    "1, [N/A], [N/A], [N/A], [N/A], [N/A]\n");
	add_process(0, 41, "trainer", MiB, 0);
	add_process(0, 42, "python", MiB, 0);
	struct snapshot_container c = {.pid = 41};
	snprintf(c.info.id, sizeof(c.info.id), "%064d", 1);
	snprintf(c.info.pod, sizeof(c.info.pod), "trainer-0");
	snprintf(c.info.namespace, sizeof(c.info.namespace), "ml");
	snap.containers = &c;
	snap.num_containers = 1;
	assert_string_equal(apps("pid,pod,namespace,container", "csv,noheader"),
			    "41, trainer-0, ml, [N/A]\n42, [N/A], [N/A], [N/A]\n");
	snap.containers = NULL;
	snap.num_containers = 0;
}

static void test_text_cannot_carry_control_characters(void **state)
{
	(void)state;
	snapshot_add_device(40000, 80000);
	add_process(0, 7, "a\033[2Jb\nc", MiB, 0);
	const char *text = apps("process_name", "csv,noheader");
	assert_string_equal(text, "a?[2Jb?c\n");
}

/* ---- --query-compute-apps ---- */

static void test_compute_apps_one_row_per_process_and_device_in_order(void **state)
{
	(void)state;
	seed_demo();
	assert_string_equal(apps("pid,process_name,user,device,dram,l1,buffers", NULL),
			    "pid, process_name, user, device, dram [MiB], l1 [MiB], buffers\n"
			    "12345, python, ttuser, 0, 100 MiB, 0 MiB, 1\n"
			    "12346, python, ttuser, 0, 200 MiB, 0 MiB, 1\n"
			    "12347, python, ttuser, 1, 0 MiB, 150 MiB, 1\n");
}

static void test_compute_apps_regions_and_buffer_types(void **state)
{
	(void)state;
	snapshot_add_device(40000, 80000);
	struct snapshot_process *p = add_process(0, 42, "train", 10 * MiB, 20 * MiB);
	p->usage.used[SMI_USED_L1_SMALL] = 1 * MiB;
	p->usage.used[SMI_USED_TRACE] = 2 * MiB;
	p->usage.cb = 3 * MiB;
	p->usage.system_memory = 4 * MiB;
	assert_string_equal(apps("gpu,dram,l1,l1_small,trace,cb,system,used_memory,name", "csv,noheader,nounits"),
			    "0, 12, 24, 1, 2, 3, 4, 36, train\n");
	/* used_memory is every device region, used_gpu_memory its other nvidia-smi name; an L1-only process counts */
	p->usage.used[SMI_USED_DRAM] = 0;
	p->usage.used[SMI_USED_TRACE] = 0;
	assert_string_equal(apps("used_memory,used_gpu_memory", "csv"),
			    "used_memory [MiB], used_gpu_memory [MiB]\n"
			    "24 MiB, 24 MiB\n");
}

static void test_compute_apps_without_processes_prints_the_header_only(void **state)
{
	(void)state;
	snapshot_add_device(40000, 80000);
	assert_string_equal(apps("pid,dram", NULL), "pid, dram [MiB]\n");
	assert_string_equal(apps("pid,dram", "csv,noheader"), "");
}

/* ---- errors ---- */

static void test_unknown_field_lists_the_valid_ones(void **state)
{
	(void)state;
	struct smi_query q;
	char err[SMI_ERR_LEN];
	memset(&q, 0, sizeof(q));
	assert_int_equal(smi_query_parse_fields(&q, SMI_QUERY_GPU, "index,memory.bogus", err, sizeof(err)), -1);
	assert_string_equal(
		err,
		"unknown field 'memory.bogus' for --query-gpu; valid fields: timestamp, index, name, "
		"arch, temperature, power, utilization, memory.dram.used, memory.dram.total, "
		"memory.dram.free, memory.l1.used, memory.l1.total, memory.l1.free, "
		"memory.l1_small.used, memory.trace.used, memory.cb.used, memory.kernel.used, "
		"memory.system.used, buffers, processes, serial, uuid, pci.bus_id, driver_version, asic_id, "
		"card_type");
	assert_int_equal(smi_query_parse_fields(&q, SMI_QUERY_APPS, "pid, nope", err, sizeof(err)), -1);
	assert_string_equal(
		err,
		"unknown field 'nope' for --query-compute-apps; valid fields: pid, process_name, "
		"user, device, gpu_uuid, gpu_bus_id, gpu_serial, used_memory, dram, l1, l1_small, trace, cb, "
		"kernel, system, buffers, source, stale, container_id, pod, namespace, container");
	/* a typo gets a suggestion instead of the list */
	assert_int_equal(smi_query_parse_fields(&q, SMI_QUERY_GPU, "index,memory.usd", err, sizeof(err)), -1);
	assert_string_equal(err,
			    "unknown field 'memory.usd' for --query-gpu; did you mean 'memory.used'? "
			    "(tt_smi --help-query-gpu lists them)");
	assert_int_equal(smi_query_parse_fields(&q, SMI_QUERY_APPS, "pid,used_memry", err, sizeof(err)), -1);
	assert_contains(err, "did you mean 'used_memory'?");
	/* a field of the other kind is unknown here */
	assert_int_equal(smi_query_parse_fields(&q, SMI_QUERY_APPS, "memory.dram.used", err, sizeof(err)), -1);
}

static void test_field_list_and_format_errors_are_explained(void **state)
{
	(void)state;
	struct smi_query q;
	char err[SMI_ERR_LEN];
	memset(&q, 0, sizeof(q));
	assert_int_equal(smi_query_parse_fields(&q, SMI_QUERY_GPU, "", err, sizeof(err)), -1);
	assert_contains(err, "needs field names");
	assert_int_equal(smi_query_parse_fields(&q, SMI_QUERY_GPU, "index,,name", err, sizeof(err)), -1);
	assert_int_equal(smi_query_parse_fields(&q, SMI_QUERY_GPU, "index,", err, sizeof(err)), -1);
	assert_int_equal(smi_query_parse_format(&q, "csv,bogus", err, sizeof(err)), -1);
	assert_string_equal(err, "unknown --format item 'bogus' (use csv[,noheader][,nounits])");
	assert_int_equal(smi_query_parse_format(&q, "noheader", err, sizeof(err)), -1);
	assert_string_equal(err, "--format must name csv: csv[,noheader][,nounits]");
	/* a short buffer gets a cut, terminated message */
	char small[16];
	assert_int_equal(smi_query_parse_fields(&q, SMI_QUERY_GPU, "x", small, sizeof(small)), -1);
	assert_int_equal(strlen(small), sizeof(small) - 1);
}

/* ---- --json ---- */

static json_t *json_of(int compact)
{
	strbuf_reset(&rendered);
	assert_int_equal(smi_json_snapshot(&rendered, &snap, compact), 0);
	json_error_t error;
	json_t *root = json_loads(strbuf_str(&rendered), 0, &error);
	if (!root) {
		fprintf(stderr, "bad JSON (%s):\n%s\n", error.text, strbuf_str(&rendered));
		fail();
	}
	return root;
}

static void assert_keys(json_t *obj, const char *const *keys, size_t count)
{
	assert_true(json_is_object(obj));
	for (size_t i = 0; i < count; i++)
		if (!json_object_get(obj, keys[i])) {
			fprintf(stderr, "key '%s' missing\n", keys[i]);
			fail();
		}
}

static void test_json_devices_have_the_seed_keys_and_more(void **state)
{
	(void)state;
	seed_demo();
	devices[0].seed.trace_allocated = 5;
	json_t *root = json_of(0);
	static const char *const keys[] = {
		"device_id",       "dram_allocated", "l1_allocated", "l1_small_allocated",
		"trace_allocated", "name",           "arch",         "dram_capacity",
		"l1_capacity",     "temperature_c",  "power_w",      "utilization_pct",
		"buffer_count",    "process_count",
	};
	json_t *list = json_object_get(root, "devices");
	assert_int_equal(json_array_size(list), 2);
	json_t *d0 = json_array_get(list, 0);
	assert_keys(d0, keys, sizeof(keys) / sizeof(keys[0]));
	assert_int_equal(json_integer_value(json_object_get(d0, "device_id")), 0);
	assert_int_equal(json_integer_value(json_object_get(d0, "dram_allocated")), 300 * MiB);
	assert_int_equal(json_integer_value(json_object_get(d0, "trace_allocated")), 5);
	assert_int_equal(json_integer_value(json_object_get(d0, "dram_capacity")), 12 * GiB);
	assert_string_equal(json_string_value(json_object_get(d0, "name")), "Wormhole_B0");
	assert_string_equal(json_string_value(json_object_get(d0, "arch")), "Wormhole_B0");
	assert_true(json_real_value(json_object_get(d0, "temperature_c")) == 43.0);
	assert_true(json_real_value(json_object_get(d0, "power_w")) == 90.0);
	assert_int_equal(json_integer_value(json_object_get(d0, "process_count")), 2);
	assert_int_equal(json_integer_value(json_object_get(d0, "buffer_count")), 2);
	/* times are milliseconds since the epoch, as in the HTTP API */
	assert_int_equal(json_integer_value(json_object_get(root, "time")), SEED_TIME_NS / 1000000u);
	json_decref(root);
}

static void test_json_missing_readings_are_null(void **state)
{
	(void)state;
	struct snapshot_device *d = snapshot_add_device(0, 0);
	d->status.valid = PROTO_STATUS_UTILIZATION;
	d->status.utilization = 0;
	d->status.name[0] = '\0';
	json_t *root = json_of(0);
	json_t *d0 = json_array_get(json_object_get(root, "devices"), 0);
	assert_true(json_is_null(json_object_get(d0, "temperature_c")));
	assert_true(json_is_null(json_object_get(d0, "power_w")));
	assert_true(json_is_null(json_object_get(d0, "name")));
	/* a valid zero is a zero, not a null */
	assert_true(json_is_integer(json_object_get(d0, "utilization_pct")));
	assert_int_equal(json_integer_value(json_object_get(d0, "utilization_pct")), 0);
	json_decref(root);

	d->status.valid = 0;
	root = json_of(0);
	d0 = json_array_get(json_object_get(root, "devices"), 0);
	assert_true(json_is_null(json_object_get(d0, "utilization_pct")));
	json_decref(root);
}

static void test_json_processes_list_bytes_per_buffer_type(void **state)
{
	(void)state;
	seed_demo();
	processes[1].usage.used[SMI_USED_TRACE] = 3;
	processes[1].usage.cb = 4;
	add_process(1, 12345, "python", 0, 1 * MiB); /* 12345 holds device 1 too */
	json_t *root = json_of(0);
	json_t *list = json_object_get(root, "processes");
	/* one object per process (as /api/processes), in pid order, its devices inside */
	assert_int_equal(json_array_size(list), 3);
	static const char *const keys[] = {"pid",
					   "name",
					   "user",
					   "dram_allocated",
					   "l1_allocated",
					   "l1_small_allocated",
					   "trace_allocated",
					   "cb_allocated",
					   "buffer_count",
					   "devices"};
	json_t *p = json_array_get(list, 2);
	assert_keys(p, keys, sizeof(keys) / sizeof(keys[0]));
	assert_int_equal(json_integer_value(json_object_get(p, "pid")), 12347);
	json_t *d = json_array_get(json_object_get(p, "devices"), 0);
	assert_int_equal(json_integer_value(json_object_get(d, "device_id")), 1);
	assert_int_equal(json_integer_value(json_object_get(d, "l1_allocated")), 150 * MiB);
	assert_int_equal(json_integer_value(json_object_get(d, "trace_allocated")), 3);
	assert_int_equal(json_integer_value(json_object_get(d, "cb_allocated")), 4);
	assert_int_equal(json_integer_value(json_object_get(p, "trace_allocated")), 3);
	assert_string_equal(json_string_value(json_object_get(p, "name")), "python");
	assert_string_equal(json_string_value(json_object_get(p, "user")), "ttuser");
	json_t *first = json_array_get(list, 0);
	assert_int_equal(json_integer_value(json_object_get(first, "pid")), 12345);
	assert_int_equal(json_array_size(json_object_get(first, "devices")), 2);
	assert_int_equal(json_integer_value(json_object_get(first, "dram_allocated")), 100 * MiB);
	assert_int_equal(json_integer_value(json_object_get(first, "l1_allocated")), 1 * MiB);
	assert_int_equal(json_integer_value(json_object_get(first, "buffer_count")), 2);
	/* what the socket does not tell is null */
	assert_true(json_is_null(json_object_get(first, "connection_count")));
	json_decref(root);
}

static void test_json_compact_is_one_line_and_names_are_valid_utf8(void **state)
{
	(void)state;
	seed_demo();
	snprintf(processes[0].usage.comm, sizeof(processes[0].usage.comm), "bad\xff\033x");
	json_t *root = json_of(1);
	const char *text = strbuf_str(&rendered);
	assert_non_null(strchr(text, '\n'));
	assert_int_equal(strchr(text, '\n')[1], '\0');
	json_t *p = json_array_get(json_object_get(root, "processes"), 1); /* pid 12346 */
	assert_string_equal(json_string_value(json_object_get(p, "name")), "bad??x");
	json_decref(root);
}

static void test_json_without_devices_has_empty_lists(void **state)
{
	(void)state;
	json_t *root = json_of(0);
	assert_int_equal(json_array_size(json_object_get(root, "devices")), 0);
	assert_true(json_is_array(json_object_get(root, "processes")));
	json_decref(root);
}

/* ---- the seed's CSV log ---- */

static void test_csv_log_rows_follow_the_seed(void **state)
{
	(void)state;
	seed_demo();
	devices[0].seed.trace_allocated = 7; /* not a column of the seed's log */
	smi_csv_log_rows(&rendered, &snap);
	assert_string_equal(SMI_CSV_LOG_HEADER, "timestamp,device,dram,l1\n");
	assert_string_equal(strbuf_str(&rendered),
			    "2025-11-03T14:23:45.123456,0,314572800,0\n"
			    "2025-11-03T14:23:45.123456,1,0,157286400\n");
}

static void test_csv_value_quotes_only_when_needed(void **state)
{
	(void)state;
	smi_csv_value(&rendered, "python3");
	strbuf_addstr(&rendered, "|");
	smi_csv_value(&rendered, "a, b");
	strbuf_addstr(&rendered, "|");
	smi_csv_value(&rendered, "say \"hi\"");
	strbuf_addstr(&rendered, "|");
	smi_csv_value(&rendered, "");
	assert_string_equal(strbuf_str(&rendered), "python3|\"a, b\"|\"say \"\"hi\"\"\"|");
}

/* ---- the command line ---- */

static int parse(struct smi_options *o, char *err, ...)
{
	ARGV_PARSE(smi_options_parse, "tt_smi", o, err);
}

static void test_options_choose_the_scripting_modes(void **state)
{
	(void)state;
	struct smi_options o;
	char err[SMI_ERR_LEN];
	assert_int_equal(parse(&o, err, NULL), 0);
	assert_int_equal(o.output, SMI_OUTPUT_TABLE);
	assert_int_equal(o.loop_ms, 0);

	assert_int_equal(parse(&o, err, "--format=csv,noheader", "--query-gpu=index,name", NULL), 0);
	assert_int_equal(o.output, SMI_OUTPUT_QUERY);
	assert_int_equal(o.query.kind, SMI_QUERY_GPU);
	assert_int_equal(o.query.count, 2);
	assert_int_equal(o.query.noheader, 1);
	assert_int_equal(o.query.nounits, 0);

	assert_int_equal(parse(&o, err, "--query-compute-apps", "pid", "-lms", "200", NULL), 0);
	assert_int_equal(o.query.kind, SMI_QUERY_APPS);
	assert_int_equal(o.loop_ms, 200);
	assert_int_equal(parse(&o, err, "--query-gpu=index", "-lms=300", NULL), 0);
	assert_int_equal(o.loop_ms, 300);
	assert_int_equal(parse(&o, err, "--query-gpu=index", "--loop-ms", "400", NULL), 0);
	assert_int_equal(o.loop_ms, 400);
	assert_int_equal(parse(&o, err, "--json", "-l", "2", NULL), 0);
	assert_int_equal(o.output, SMI_OUTPUT_JSON);
	assert_int_equal(o.loop_ms, 2000);

	assert_int_equal(parse(&o, err, "--csv-log", "/tmp/log.csv", NULL), 0);
	assert_int_equal(o.output, SMI_OUTPUT_CSV_LOG);
	assert_string_equal(o.csv_log, "/tmp/log.csv");
	assert_int_equal(o.interval_ms, 5000);
	assert_int_equal(parse(&o, err, "--csv-log=x.csv", "--interval", "0.25", NULL), 0);
	assert_int_equal(o.interval_ms, 250);

	/* nvidia-smi -l without a query repeats the table */
	assert_int_equal(parse(&o, err, "-l", "3", NULL), 0);
	assert_int_equal(o.output, SMI_OUTPUT_TABLE);
	assert_int_equal(o.watch, 1);
	assert_int_equal(o.refresh_ms, 3000);
	assert_int_equal(o.loop_ms, 0);
}

static void test_options_refuse_mixed_or_incomplete_modes(void **state)
{
	(void)state;
	struct smi_options o;
	char err[SMI_ERR_LEN];
	assert_int_equal(parse(&o, err, "--query-gpu=index", "--json", NULL), TTALLOC_EINVAL);
	assert_string_equal(err, "choose one of --query-gpu, --query-compute-apps, --json, --csv-log, -q and -L");
	assert_int_equal(parse(&o, err, "--query-gpu=index", "--query-compute-apps=pid", NULL), TTALLOC_EINVAL);
	assert_int_equal(parse(&o, err, "--format=csv", NULL), TTALLOC_EINVAL);
	assert_string_equal(err, "--format goes with --query-gpu or --query-compute-apps");
	assert_int_equal(parse(&o, err, "--json", "--interval", "1", NULL), TTALLOC_EINVAL);
	assert_contains(err, "--interval goes with --csv-log");
	assert_int_equal(parse(&o, err, "--csv-log", "f", "-l", "1", NULL), TTALLOC_EINVAL);
	assert_int_equal(parse(&o, err, "--json", "-w", NULL), TTALLOC_EINVAL);
	assert_int_equal(parse(&o, err, "--query-gpu=index", "-lms", NULL), TTALLOC_EINVAL);
	assert_string_equal(err, "option '-lms' needs a value");
	assert_int_equal(parse(&o, err, "--query-gpu=index", "-lms", "10", NULL), TTALLOC_EINVAL);
	assert_contains(err, "-lms/--loop-ms");
	assert_int_equal(parse(&o, err, "--query-gpu=index", "-l", "0", NULL), TTALLOC_EINVAL);
	assert_int_equal(parse(&o, err, "--csv-log", "f", "--interval", "nan", NULL), TTALLOC_EINVAL);
	assert_int_equal(parse(&o, err, "--csv-log", "f", "--interval", "0.01", NULL), TTALLOC_EINVAL);
	assert_int_equal(parse(&o, err, "--query-gpu=nope", NULL), TTALLOC_EINVAL);
	assert_contains(err, "valid fields: timestamp, index");
}

/* ---- -i, -q, -L ---- */

static void test_select_keeps_the_named_devices_and_their_rows(void **state)
{
	(void)state;
	seed_demo();
	char err[ERR_LEN];
	assert_int_equal(smi_select_devices(&snap, " 1 ", err, sizeof(err)), 0);
	assert_int_equal(snap.num_devices, 1);
	assert_int_equal(snap.devices[0].index, 1);
	assert_int_equal(snap.num_processes, 1);
	assert_int_equal(snap.processes[0].pid, 12347);
	/* an index that is no longer there: an error, the snapshot untouched */
	assert_int_equal(smi_select_devices(&snap, "1,0", err, sizeof(err)), -1);
	assert_string_equal(err, "no device matches -i '0' (devices: 1)");
	assert_int_equal(snap.num_devices, 1);
	assert_int_equal(smi_select_devices(&snap, NULL, err, sizeof(err)), 0);
	assert_int_equal(smi_select_check("0,,1", err, sizeof(err)), -1);
	assert_int_equal(smi_select_check("", err, sizeof(err)), -1);
	assert_int_equal(smi_select_check("0, 1", err, sizeof(err)), 0);
}

static void test_select_by_serial_uuid_and_bus_id(void **state)
{
	(void)state;
	struct snapshot_device *a = snapshot_add_device(40000, 80000);
	struct snapshot_device *b = snapshot_add_device(40000, 80000);
	snprintf(a->ident.serial, sizeof(a->ident.serial), "010001851170804D");
	snprintf(a->ident.pci_bus_id, sizeof(a->ident.pci_bus_id), "0000:01:00.0");
	snprintf(b->ident.uuid, sizeof(b->ident.uuid), "GPU-6f1e9b2c-0d3a-4b5c-8e7f-a1b2c3d4e5f6");
	snprintf(b->ident.pci_bus_id, sizeof(b->ident.pci_bus_id), "00000000:65:00.0");
	char err[ERR_LEN];
	struct snapshot saved = snap;
	struct snapshot_device saved_devices[2];
	memcpy(saved_devices, devices, sizeof(saved_devices)); /* a selection compacts the array in place */
#define RESTORE() (snap = saved, memcpy(devices, saved_devices, sizeof(saved_devices)))
	assert_int_equal(smi_select_devices(&snap, "010001851170804d", err, sizeof(err)), 0);
	assert_int_equal(snap.num_devices, 1);
	assert_int_equal(snap.devices[0].index, 0);
	RESTORE();
	assert_int_equal(smi_select_devices(&snap, "gpu-6F1E9B2C-0d3a-4b5c-8e7f-a1b2c3d4e5f6", err, sizeof(err)), 0);
	assert_int_equal(snap.devices[0].index, 1);
	RESTORE();
	/* nvidia-smi's 8-digit domain, the 4-digit one, or none */
	assert_int_equal(smi_select_devices(&snap, "00000000:01:00.0", err, sizeof(err)), 0);
	assert_int_equal(snap.devices[0].index, 0);
	RESTORE();
	assert_int_equal(smi_select_devices(&snap, "65:00.0", err, sizeof(err)), 0);
	assert_int_equal(snap.devices[0].index, 1);
	RESTORE();
	assert_int_equal(smi_select_devices(&snap, "0001:01:00.0", err, sizeof(err)), -1);
	assert_int_equal(smi_select_devices(&snap, "01:00.1", err, sizeof(err)), -1);
#undef RESTORE
	strbuf_reset(&rendered);
	assert_int_equal(smi_list_devices(&rendered, &snap), 0);
	assert_string_equal(strbuf_str(&rendered),
			    "GPU 0: Wormhole_B0 (Serial: 010001851170804D)\n"
			    "GPU 1: Wormhole_B0 (UUID: GPU-6f1e9b2c-0d3a-4b5c-8e7f-a1b2c3d4e5f6)\n");
}

static void test_report_lines_up_and_counts_every_region(void **state)
{
	(void)state;
	seed_demo();
	processes[1].usage.cb = 2 * MiB;
	devices[1].status.cb_allocated = 2 * MiB;
	assert_int_equal(smi_report(&rendered, &snap, SMI_REPORT_MEMORY | SMI_REPORT_PIDS), 0);
	const char *text = strbuf_str(&rendered);
	assert_contains(text, "Timestamp                                 : Mon Nov  3 14:23:45 2025\n");
	assert_contains(text, "Attached GPUs                             : 2\n");
	assert_contains(text, "GPU 1\n    Product Name                          : Wormhole_B0\n");
	assert_contains(text, "        Used                              : 300 MiB\n");
	assert_contains(text, "        Circular Buffers                  : 2 MiB\n");
	/* process 12347 holds 150 MiB L1 and 2 MiB of circular buffers */
	assert_contains(text,
			"        Process ID                        : 12347\n"
			"            Type                          : C\n"
			"            Name                          : python\n"
			"            User                          : ttuser\n"
			"            Used Memory                   : 152 MiB\n");
	assert_lacks(text, "Temperature");
	unsigned sections;
	char err[ERR_LEN];
	assert_int_equal(smi_report_parse_sections("memory,Pids", &sections, err, sizeof(err)), 0);
	assert_int_equal(sections, SMI_REPORT_MEMORY | SMI_REPORT_PIDS);
	assert_int_equal(smi_report_parse_sections("MEMORY,", &sections, err, sizeof(err)), -1);
}

static void test_list_and_hardware_only_report(void **state)
{
	(void)state;
	snapshot_add_device(40000, 80000);
	snap.hardware_only = 1;
	assert_int_equal(smi_list_devices(&rendered, &snap), 0);
	assert_string_equal(strbuf_str(&rendered), "GPU 0: Wormhole_B0\n");
	strbuf_reset(&rendered);
	assert_int_equal(smi_report(&rendered, &snap, 0), 0);
	const char *text = strbuf_str(&rendered);
	assert_contains(text,
			"        Total                             : 12288 MiB\n"
			"        Used                              : N/A\n");
	assert_contains(text, "        Current Temp                      : 40 C\n");
	assert_contains(text, "        Power Draw                        : 80.00 W\n");
	assert_contains(text, "        Device                            : N/A\n");
	assert_contains(text, "    Processes                             : None\n");
}

#define T(name) cmocka_unit_test_setup_teardown(name, setup, snapshot_fixture_teardown)

int main(void)
{
	const struct CMUnitTest tests[] = {
		T(test_select_keeps_the_named_devices_and_their_rows),
		T(test_select_by_serial_uuid_and_bus_id),
		T(test_report_lines_up_and_counts_every_region),
		T(test_list_and_hardware_only_report),
		T(test_header_names_fields_with_units_like_nvidia_smi),
		T(test_readings_carry_their_units),
		T(test_nounits_drops_value_units_but_not_header_units),
		T(test_noheader_prints_rows_only),
		T(test_missing_readings_print_na),
		T(test_memory_regions_totals_and_free),
		T(test_memory_rounds_to_whole_mib_like_the_table),
		T(test_timestamp_is_nvidia_smi_style_local_time),
		T(test_nvidia_smi_names_are_aliases),
		T(test_names_with_commas_and_quotes_are_quoted),
		T(test_text_cannot_carry_control_characters),
		T(test_compute_apps_one_row_per_process_and_device_in_order),
		T(test_compute_apps_regions_and_buffer_types),
		T(test_compute_apps_without_processes_prints_the_header_only),
		T(test_identity_and_container_fields),
		T(test_unknown_field_lists_the_valid_ones),
		T(test_field_list_and_format_errors_are_explained),
		T(test_json_devices_have_the_seed_keys_and_more),
		T(test_json_missing_readings_are_null),
		T(test_json_processes_list_bytes_per_buffer_type),
		T(test_json_compact_is_one_line_and_names_are_valid_utf8),
		T(test_json_without_devices_has_empty_lists),
		T(test_csv_log_rows_follow_the_seed),
		T(test_csv_value_quotes_only_when_needed),
		T(test_options_choose_the_scripting_modes),
		T(test_options_refuse_mixed_or_incomplete_modes),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
