/*
 * test_nvml.c - the nvml backend against the fake libnvidia-ml.so.1
 * (tests/fakes/fake_nvml.c), found through LD_LIBRARY_PATH as the real one
 * would be: every value it reports, the N/A paths (NVML errors), and the
 * backend's silence when the library is absent or nvmlInit fails.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <stdlib.h>
#include <string.h>

#include "devices/device.h"
#include "hw_tree.h"

#define MiB (1024ull * 1024ull)
#define GiB (1024ull * MiB)

static char empty_root[128]; /* no Tenstorrent device, no /proc entries */

static int setup(void **state)
{
	(void)state;
	unsetenv("FAKE_NVML_DEVICES");
	unsetenv("FAKE_NVML_INIT_ERROR");
	return hw_tempdir(empty_root, sizeof(empty_root)) ? 0 : -1;
}

static int teardown(void **state)
{
	(void)state;
	hw_remove(empty_root);
	return 0;
}

static int open_with(struct device_set *set, const char *selection, const char *library, char *err)
{
	struct device_options opts;
	device_options_init(&opts);
	opts.selection = selection;
	opts.hw_root = empty_root;
	opts.nvml_library = library;
	return device_set_open_opts(set, &opts, err);
}

static void refresh(struct device *dev)
{
	struct device_load load;
	memset(&load, 0, sizeof(load));
	device_refresh(dev, &load);
}

static void test_fake_nvml_devices_and_static_info(void **state)
{
	(void)state;
	struct device_set set;
	char err[DEVICE_ERR_LEN], text[DEVICE_ERR_LEN];
	assert_int_equal(open_with(&set, "nvml", NULL, err), 0);
	assert_int_equal(set.count, 2);
	assert_string_equal(set.backend_name, "nvml");
	assert_int_equal(set.selection, DEVICE_SELECTED_EXPLICIT);
	const struct device_static_info *a = &set.devices[0].info, *b = &set.devices[1].info;
	assert_string_equal(a->name, "Fake GPU 0");
	assert_int_equal(a->arch, PROTO_ARCH_INVALID);
	assert_true(DEVICE_INFO_VALID(a, DEVICE_INFO_DRAM_TOTAL));
	assert_int_equal(a->dram_total, 80 * GiB);
	assert_false(DEVICE_INFO_VALID(a, DEVICE_INFO_L1_TOTAL)); /* a GPU has no L1 total to report */
	assert_string_equal(a->node, "/dev/nvidia0");
	assert_string_equal(a->bus_id, "00000000:17:00.0");
	assert_string_equal(a->serial, "1650924060001");
	assert_string_equal(a->uuid, "GPU-6f1e9b2c-0d3a-4b5c-8e7f-a1b2c3d4e5f6");
	assert_string_equal(a->driver, "550.54.15"); /* nvmlSystemGetDriverVersion */
	assert_string_equal(b->name, "Fake GPU 1");
	assert_int_equal(b->dram_total, 16 * GiB);
	assert_string_equal(b->node, "/dev/nvidia1");
	assert_int_equal(a->simulated, 0);
	char label[128];
	assert_string_equal(device_label(&set.devices[0], label, sizeof(label)), "Fake GPU 0");
	char want[DEVICE_ERR_LEN];
	snprintf(want, sizeof(want), "nvml: 2 devices from %s under %s", DEVICE_NVML_LIBRARY, empty_root);
	assert_string_equal(device_set_describe(&set, text, sizeof(text)), want);
	device_set_close(&set);
}

static void test_readings_and_their_na_paths(void **state)
{
	(void)state;
	struct device_set set;
	char err[DEVICE_ERR_LEN];
	assert_int_equal(open_with(&set, "nvml", NULL, err), 0);
	struct device *a = &set.devices[0], *b = &set.devices[1];
	refresh(a);
	assert_true(DEVICE_READING_VALID(&a->now, DEVICE_TEMPERATURE));
	assert_int_equal(a->now.temperature_mc, 45000); /* NVML: degrees C */
	assert_true(DEVICE_READING_VALID(&a->now, DEVICE_POWER));
	assert_int_equal(a->now.power_mw, 123456); /* NVML: milliwatts */
	assert_true(DEVICE_READING_VALID(&a->now, DEVICE_UTILIZATION));
	assert_int_equal(a->now.utilization, 37);
	assert_true(DEVICE_READING_VALID(&a->now, DEVICE_CLOCK));
	assert_int_equal(a->now.clock_mhz, 1410);
	assert_true(DEVICE_READING_VALID(&a->now, DEVICE_MEMORY_USED));
	assert_int_equal(a->now.memory_used, 5 * GiB);
	assert_false(DEVICE_READING_VALID(&a->now, DEVICE_VOLTAGE));
	assert_false(DEVICE_READING_VALID(&a->now, DEVICE_FAN));
	refresh(b); /* NVML_ERROR_NOT_SUPPORTED everywhere but memory */
	assert_false(DEVICE_READING_VALID(&b->now, DEVICE_TEMPERATURE));
	assert_false(DEVICE_READING_VALID(&b->now, DEVICE_POWER));
	assert_false(DEVICE_READING_VALID(&b->now, DEVICE_UTILIZATION));
	assert_false(DEVICE_READING_VALID(&b->now, DEVICE_CLOCK));
	assert_true(DEVICE_READING_VALID(&b->now, DEVICE_MEMORY_USED));
	assert_int_equal(b->now.memory_used, 0);
	device_set_close(&set);
}

static void test_running_processes_with_their_memory(void **state)
{
	(void)state;
	static struct device_holders holders[PROTO_MAX_DEVICES];
	struct device_set set;
	char err[DEVICE_ERR_LEN];
	assert_int_equal(open_with(&set, "nvml", NULL, err), 0);
	assert_int_equal(device_set_holders(&set, holders), 0);
	const struct device_holders *a = &holders[0], *b = &holders[1];
	assert_int_equal(a->authoritative, 1);
	assert_int_equal(a->count, 2);
	const struct device_process *p = device_holders_find(a, 4242);
	assert_non_null(p);
	assert_int_equal(p->flags, DEVICE_PROC_DRIVER | DEVICE_PROC_MEMORY);
	assert_int_equal(p->memory, 513 * MiB); /* compute 512 MiB + graphics 1 MiB */
	p = device_holders_find(a, 4343);
	assert_non_null(p);
	assert_int_equal(p->flags, DEVICE_PROC_DRIVER); /* NVML_VALUE_NOT_AVAILABLE: memory N/A */
	assert_int_equal(b->count, 0);
	assert_int_equal(b->authoritative, 0); /* NVML_ERROR_NO_PERMISSION: cannot tell */
	device_set_close(&set);
}

static void test_absent_library_means_absent_backend(void **state)
{
	(void)state;
	struct device_set set;
	char err[DEVICE_ERR_LEN];
	assert_int_equal(open_with(&set, "auto", "libttalloc-test-absent-nvml.so.1", err), 0);
	assert_string_equal(set.backend_name, "sim");
	assert_int_equal(set.selection, DEVICE_SELECTED_AUTO_SIM);
	device_set_close(&set);
	assert_int_equal(open_with(&set, "nvml", "libttalloc-test-absent-nvml.so.1", err), -1);
	assert_non_null(strstr(err, "backend 'nvml' found no devices: cannot load libttalloc-test-absent-nvml.so.1"));
	assert_int_equal(set.count, 0);
}

static void test_auto_uses_nvml_when_it_finds_gpus(void **state)
{
	(void)state;
	struct device_set set;
	char err[DEVICE_ERR_LEN];
	assert_int_equal(open_with(&set, "auto", NULL, err), 0);
	assert_string_equal(set.backend_name, "nvml");
	assert_int_equal(set.selection, DEVICE_SELECTED_AUTO_HARDWARE);
	assert_int_equal(set.count, 2);
	device_set_close(&set);
	/* the library is unloaded with its last device and loads again */
	assert_int_equal(open_with(&set, "nvml", NULL, err), 0);
	assert_int_equal(set.count, 2);
	device_set_close(&set);
}

static void test_init_failure_or_no_gpu_means_no_devices(void **state)
{
	(void)state;
	struct device_set set;
	char err[DEVICE_ERR_LEN];
	setenv("FAKE_NVML_INIT_ERROR", "9", 1); /* NVML_ERROR_DRIVER_NOT_LOADED */
	assert_int_equal(open_with(&set, "nvml", NULL, err), -1);
	assert_non_null(strstr(err, "nvmlInit failed (NVML error 9)"));
	assert_int_equal(open_with(&set, "auto", NULL, err), 0);
	assert_string_equal(set.backend_name, "sim");
	device_set_close(&set);
	unsetenv("FAKE_NVML_INIT_ERROR");
	setenv("FAKE_NVML_DEVICES", "0", 1);
	assert_int_equal(open_with(&set, "nvml", NULL, err), -1);
	assert_non_null(strstr(err, "NVML reports no device"));
	assert_int_equal(open_with(&set, "auto", NULL, err), 0);
	assert_string_equal(set.backend_name, "sim");
	device_set_close(&set);
	setenv("FAKE_NVML_DEVICES", "1", 1);
	assert_int_equal(open_with(&set, "nvml", NULL, err), 0);
	assert_int_equal(set.count, 1);
	device_set_close(&set);
	unsetenv("FAKE_NVML_DEVICES");
	assert_int_equal(open_with(&set, "nvml:2", NULL, err), -1);
	assert_non_null(strstr(err, "takes no options"));
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_fake_nvml_devices_and_static_info),
		cmocka_unit_test(test_readings_and_their_na_paths),
		cmocka_unit_test(test_running_processes_with_their_memory),
		cmocka_unit_test(test_absent_library_means_absent_backend),
		cmocka_unit_test(test_auto_uses_nvml_when_it_finds_gpus),
		cmocka_unit_test(test_init_failure_or_no_gpu_means_no_devices),
	};
	return cmocka_run_group_tests(tests, setup, teardown);
}
