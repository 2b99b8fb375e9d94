/*
 * test_device_select.c - --devices and --hw-root: parsing the selection,
 * the hardware root, how the start-up banner names the source, and the
 * simulated devices' static info (whose sizes are always known).
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <string.h>

#include "devices/device.h"
#include "hw_tree.h"

#define MiB (1024ull * 1024ull)
#define GiB (1024ull * MiB)

static void test_unknown_backend_names_the_choices(void **state)
{
	(void)state;
	struct device_set set;
	char err[DEVICE_ERR_LEN];
	assert_int_equal(device_set_open(&set, "cuda:2", err), -1);
	assert_string_equal(err, "unknown device backend 'cuda' (choose auto, sim[:N[:ARCH]], tenstorrent, nvml)");
	assert_int_equal(device_set_open(&set, "sim:0", err), -1);
	assert_non_null(strstr(err, "bad simulated device count"));
	assert_int_equal(device_set_open(&set, "sim:2:quasar9", err), -1);
	assert_non_null(strstr(err, "unknown simulated architecture"));
}

static void test_explicit_sim_is_described_as_chosen(void **state)
{
	(void)state;
	struct device_set set;
	char err[DEVICE_ERR_LEN], text[DEVICE_ERR_LEN], label[64];
	assert_int_equal(device_set_open(&set, "sim:3:blackhole", err), 0);
	assert_int_equal(set.count, 3);
	assert_int_equal(set.selection, DEVICE_SELECTED_EXPLICIT);
	assert_string_equal(device_set_describe(&set, text, sizeof(text)), "simulated devices, --devices sim");
	const struct device_static_info *info = &set.devices[2].info;
	assert_true(DEVICE_INFO_VALID(info, DEVICE_INFO_DRAM_TOTAL));
	assert_true(DEVICE_INFO_VALID(info, DEVICE_INFO_L1_TOTAL));
	assert_int_equal(info->dram_total, 32 * GiB);
	assert_int_equal(info->dram_size_per_channel, 4 * GiB); /* no longer truncated to 32 bits */
	assert_int_equal(info->simulated, 1);
	assert_string_equal(info->node, "");
	assert_int_equal(info->driver_index, -1);
	assert_string_equal(device_label(&set.devices[0], label, sizeof(label)), "Blackhole");
	device_set_close(&set);
}

/* Opens `count` simulated devices as if on `host`. */
static void open_sim_on(struct device_set *set, const char *host)
{
	struct device_options opts;
	char err[DEVICE_ERR_LEN];
	device_options_init(&opts);
	opts.selection = "sim:3";
	opts.host = host;
	assert_int_equal(device_set_open_opts(set, &opts, err), 0);
}

static void test_simulated_identity_is_stable_per_host_and_index(void **state)
{
	(void)state;
	static struct device_set a, b, c;
	open_sim_on(&a, "h1");
	open_sim_on(&b, "h1");
	open_sim_on(&c, "h2");
	for (int i = 0; i < 3; i++) {
		const struct device_static_info *x = &a.devices[i].info, *y = &b.devices[i].info,
						*z = &c.devices[i].info;
		assert_int_equal(strlen(x->serial), 16);
		assert_int_equal(strlen(x->asic_id), 16);
		assert_non_null(strstr(x->uuid, "TT-SIM-"));
		assert_string_equal(device_card_type(&a.devices[i]), "sim");
		/* the same host and index: the same identity at every start */
		assert_string_equal(x->serial, y->serial);
		assert_string_equal(x->asic_id, y->asic_id);
		assert_string_equal(x->uuid, y->uuid);
		assert_string_equal(x->bus_id, y->bus_id);
		/* another host: other serials, ids and UUIDs; another index too */
		assert_string_not_equal(x->serial, z->serial);
		assert_string_not_equal(x->asic_id, z->asic_id);
		assert_string_not_equal(x->uuid, z->uuid);
		if (i > 0) {
			assert_string_not_equal(x->serial, a.devices[i - 1].info.serial);
			assert_string_not_equal(x->bus_id, a.devices[i - 1].info.bus_id);
		}
		/* the board stays empty: the label is the seed's "Wormhole_B0" */
		assert_string_equal(x->board, "");
	}
	assert_string_equal(a.devices[1].info.bus_id, "ffff:01:00.0");
	device_set_close(&a);
	device_set_close(&b);
	device_set_close(&c);
}

static void test_hw_root_prefixes_every_path(void **state)
{
	(void)state;
	struct device_set set;
	char err[DEVICE_ERR_LEN], path[DEVICE_PATH_MAX];
	struct device_options opts;
	device_options_init(&opts);
	assert_string_equal(opts.selection, "auto");
	assert_null(opts.hw_root);
	opts.selection = "sim";
	opts.hw_root = "/srv/fixture///";
	assert_int_equal(device_set_open_opts(&set, &opts, err), 0);
	assert_string_equal(set.hw_root, "/srv/fixture");
	assert_string_equal(device_hw_path(&set, path, sizeof(path), "/sys/class/tenstorrent"),
			    "/srv/fixture/sys/class/tenstorrent");
	assert_string_equal(set.nvml_library, DEVICE_NVML_LIBRARY);
	device_set_close(&set);
	opts.hw_root = "/";
	assert_int_equal(device_set_open_opts(&set, &opts, err), 0);
	assert_string_equal(set.hw_root, "");
	assert_string_equal(device_hw_path(&set, path, sizeof(path), "/proc"), "/proc");
	assert_null(device_hw_path(&set, path, 4, "/proc")); /* does not fit */
	device_set_close(&set);
	char long_root[DEVICE_PATH_MAX + 8];
	memset(long_root, 'a', sizeof(long_root) - 1);
	long_root[0] = '/';
	long_root[sizeof(long_root) - 1] = '\0';
	opts.hw_root = long_root;
	assert_int_equal(device_set_open_opts(&set, &opts, err), -1);
	assert_non_null(strstr(err, "too long"));
}

static void test_reading_names(void **state)
{
	(void)state;
	assert_string_equal(device_reading_name(DEVICE_TEMPERATURE), "temperature");
	assert_string_equal(device_reading_name(DEVICE_POWER), "power");
	assert_string_equal(device_reading_name(DEVICE_UTILIZATION), "utilization");
	assert_string_equal(device_reading_name(DEVICE_VOLTAGE), "voltage");
	assert_string_equal(device_reading_name(DEVICE_CURRENT), "current");
	assert_string_equal(device_reading_name(DEVICE_FAN), "fan");
	assert_string_equal(device_reading_name(DEVICE_CLOCK), "clock");
	assert_string_equal(device_reading_name(DEVICE_MEMORY_USED), "memory_used");
	assert_string_equal(device_reading_name(DEVICE_READINGS), "?");
}

static void test_sim_readings_leave_hardware_only_ones_na(void **state)
{
	(void)state;
	struct device_set set;
	char err[DEVICE_ERR_LEN];
	assert_int_equal(device_set_open(&set, "sim", err), 0);
	struct device_load load;
	memset(&load, 0, sizeof(load));
	device_refresh(&set.devices[0], &load);
	const struct device_dynamic_info *now = &set.devices[0].now;
	assert_true(DEVICE_READING_VALID(now, DEVICE_TEMPERATURE));
	assert_true(DEVICE_READING_VALID(now, DEVICE_POWER));
	for (int r = DEVICE_UTILIZATION; r < DEVICE_READINGS; r++)
		assert_false(DEVICE_READING_VALID(now, r));
	device_set_close(&set);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_unknown_backend_names_the_choices),
		cmocka_unit_test(test_explicit_sim_is_described_as_chosen),
		cmocka_unit_test(test_simulated_identity_is_stable_per_host_and_index),
		cmocka_unit_test(test_hw_root_prefixes_every_path),
		cmocka_unit_test(test_reading_names),
		cmocka_unit_test(test_sim_readings_leave_hardware_only_ones_na),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
