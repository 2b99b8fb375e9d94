/*
 * test_tenstorrent.c - the Tenstorrent backend on fixture trees: every value
 * read from an n150, an n300 (two chips behind one PCIe device) and two
 * p150a cards, the card table, and the N/A paths (missing, empty or
 * malformed files stay invalid; nothing is guessed).
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <string.h>

#include "devices/device.h"
#include "devices/tenstorrent.h"
#include "hw_tree.h"

#define MiB (1024ull * 1024ull)
#define GiB (1024ull * MiB)

static void open_fixture(struct device_set *set, const char *name)
{
	char root[512];
	snprintf(root, sizeof(root), "%s/%s", TTALLOC_FIXTURES, name);
	hw_open_set(set, root, "tenstorrent");
}

static void refresh(struct device *dev)
{
	struct device_load load;
	memset(&load, 0, sizeof(load));
	device_refresh(dev, &load);
}

static void assert_invalid(const struct device *dev, enum device_reading r)
{
	if (DEVICE_READING_VALID(&dev->now, r))
		fail_msg("device %d reading %s should be N/A", dev->index, device_reading_name(r));
}

static void test_n150_static_info_is_read_from_sysfs_and_the_card_table(void **state)
{
	(void)state;
	struct device_set set;
	open_fixture(&set, "n150");
	assert_int_equal(set.count, 1);
	assert_string_equal(set.backend_name, "tenstorrent");
	const struct device_static_info *info = &set.devices[0].info;
	assert_string_equal(info->name, "Wormhole_B0");
	assert_int_equal(info->arch, PROTO_ARCH_WORMHOLE_B0);
	assert_string_equal(info->board, "n150");
	assert_true(DEVICE_INFO_VALID(info, DEVICE_INFO_DRAM_TOTAL));
	assert_true(DEVICE_INFO_VALID(info, DEVICE_INFO_L1_TOTAL));
	assert_int_equal(info->dram_total, 12 * GiB);
	assert_int_equal(info->num_dram_channels, 12);
	assert_int_equal(info->dram_size_per_channel, 1 * GiB);
	assert_int_equal(info->l1_total, 108 * MiB); /* 72 Tensix x 1.5 MiB */
	assert_int_equal(info->l1_size_per_core, 1536 * 1024);
	assert_string_equal(info->serial, "010001851170804D");
	assert_string_equal(info->firmware, "80.15.0.0");
	assert_string_equal(info->bus_id, "0000:01:00.0");
	assert_string_equal(info->node, "/dev/tenstorrent/0");
	assert_int_equal(info->driver_index, 0);
	assert_int_equal(info->chips_on_board, 1);
	assert_int_equal(info->chip, -1);
	assert_int_equal(info->simulated, 0);
	char label[128];
	assert_string_equal(device_label(&set.devices[0], label, sizeof(label)), "Wormhole_B0 n150");
	device_set_close(&set);
}

static void test_n150_readings_have_hwmon_units(void **state)
{
	(void)state;
	struct device_set set;
	open_fixture(&set, "n150");
	struct device *dev = &set.devices[0];
	refresh(dev);
	assert_true(DEVICE_READING_VALID(&dev->now, DEVICE_TEMPERATURE));
	assert_int_equal(dev->now.temperature_mc, 48250); /* temp1_input, m°C */
	assert_true(DEVICE_READING_VALID(&dev->now, DEVICE_POWER));
	assert_int_equal(dev->now.power_mw, 25000); /* power1_input 25000000 µW */
	assert_true(DEVICE_READING_VALID(&dev->now, DEVICE_VOLTAGE));
	assert_int_equal(dev->now.voltage_mv, 820); /* in0_input, mV */
	assert_true(DEVICE_READING_VALID(&dev->now, DEVICE_CURRENT));
	assert_int_equal(dev->now.current_ma, 31000); /* curr1_input, mA */
	assert_true(DEVICE_READING_VALID(&dev->now, DEVICE_CLOCK));
	assert_int_equal(dev->now.clock_mhz, 1000); /* tt_aiclk, MHz */
	/* Wormhole's hwmon has no fan; tt-kmd gives no utilization or memory use */
	assert_invalid(dev, DEVICE_FAN);
	assert_invalid(dev, DEVICE_UTILIZATION);
	assert_invalid(dev, DEVICE_MEMORY_USED);
	device_set_close(&set);
}

static void test_n300_is_two_chips_the_remote_one_reads_nothing(void **state)
{
	(void)state;
	struct device_set set;
	open_fixture(&set, "n300");
	assert_int_equal(set.count, 2);
	const struct device_static_info *l = &set.devices[0].info, *r = &set.devices[1].info;
	char label[128];
	assert_string_equal(device_label(&set.devices[0], label, sizeof(label)), "Wormhole_B0 n300 L");
	assert_string_equal(device_label(&set.devices[1], label, sizeof(label)), "Wormhole_B0 n300 R");
	for (int i = 0; i < 2; i++) {
		const struct device_static_info *info = &set.devices[i].info;
		assert_int_equal(info->arch, PROTO_ARCH_WORMHOLE_B0);
		assert_int_equal(info->chips_on_board, 2);
		assert_int_equal(info->chip, i);
		assert_int_equal(info->dram_total, 12 * GiB);
		assert_int_equal(info->l1_total, 96 * MiB); /* 64 Tensix x 1.5 MiB per ASIC */
		assert_string_equal(info->serial, "010001851172E02A");
		assert_string_equal(info->driver, "1.31"); /* tt-kmd's module version, the remote chip's too */
		assert_string_equal(info->node, "/dev/tenstorrent/0");
		assert_int_equal(info->driver_index, 0);
	}
	assert_string_equal(l->bus_id, "0000:02:00.0");
	assert_string_equal(r->bus_id, ""); /* no PCIe link of its own */
	refresh(&set.devices[0]);
	assert_int_equal(set.devices[0].now.temperature_mc, 52937);
	assert_int_equal(set.devices[0].now.power_mw, 61000);
	assert_int_equal(set.devices[0].now.voltage_mv, 830);
	assert_int_equal(set.devices[0].now.current_ma, 46000);
	refresh(&set.devices[1]);
	assert_int_equal(set.devices[1].now.valid, 0); /* every reading N/A */
	device_set_close(&set);
}

static void test_p150_cards_read_blackhole_hwmon_with_fan(void **state)
{
	(void)state;
	struct device_set set;
	open_fixture(&set, "p150");
	assert_int_equal(set.count, 2);
	static const struct {
		const char *serial, *bus, *asic;
		int32_t temp;
		uint32_t power, volt, curr, fan, clock;
	} want[2] = {
		{"0000046131924042", "0000:03:00.0", "6B2C3A4D5E6F7081", 45312, 38000, 715, 42000, 1850, 1350},
		{"0000046131924057", "0000:04:00.0", "6B2C3A4D5E6F7092", 39875, 19000, 700, 12000, 1200, 800},
	};
	for (int i = 0; i < 2; i++) {
		struct device *dev = &set.devices[i];
		const struct device_static_info *info = &dev->info;
		assert_string_equal(info->name, "Blackhole");
		assert_int_equal(info->arch, PROTO_ARCH_BLACKHOLE);
		assert_string_equal(info->board, "p150a");
		assert_int_equal(info->dram_total, 32 * GiB);
		assert_int_equal(info->num_dram_channels, 8);
		assert_int_equal(info->dram_size_per_channel, 4 * GiB);
		assert_int_equal(info->l1_total, 210 * MiB); /* 140 Tensix x 1.5 MiB */
		assert_int_equal(info->chips_on_board, 1);
		assert_string_equal(info->serial, want[i].serial);
		assert_string_equal(info->bus_id, want[i].bus);
		assert_string_equal(info->asic_id, want[i].asic); /* tt_asic_id: Blackhole only */
		assert_string_equal(device_card_type(dev), "p150a");
		assert_string_equal(info->firmware, "18.3.0.0");
		refresh(dev);
		assert_int_equal(dev->now.temperature_mc, want[i].temp);
		assert_int_equal(dev->now.power_mw, want[i].power);
		assert_int_equal(dev->now.voltage_mv, want[i].volt);
		assert_int_equal(dev->now.current_ma, want[i].curr);
		assert_true(DEVICE_READING_VALID(&dev->now, DEVICE_FAN));
		assert_int_equal(dev->now.fan_rpm, want[i].fan);
		assert_int_equal(dev->now.clock_mhz, want[i].clock);
	}
	device_set_close(&set);
}

static void test_auto_prefers_tenstorrent_and_says_so(void **state)
{
	(void)state;
	char root[512], text[DEVICE_ERR_LEN], want[DEVICE_ERR_LEN];
	snprintf(root, sizeof(root), "%s/n300/", TTALLOC_FIXTURES); /* trailing slash is dropped */
	struct device_set set;
	hw_open_set(&set, root, "auto");
	assert_int_equal(set.selection, DEVICE_SELECTED_AUTO_HARDWARE);
	assert_string_equal(set.backend_name, "tenstorrent");
	snprintf(want, sizeof(want), "tenstorrent: 2 devices from tt-kmd under %s/n300", TTALLOC_FIXTURES);
	assert_string_equal(device_set_describe(&set, text, sizeof(text)), want);
	device_set_close(&set);
}

static void test_card_table_covers_tt_kmd_card_types(void **state)
{
	(void)state;
	static const struct {
		const char *type;
		enum proto_arch arch;
		uint32_t chips, pcie;
		uint64_t dram, l1;
	} rows[] = {
		{"e75", PROTO_ARCH_GRAYSKULL, 1, 1, 0, 0},
		{"e150", PROTO_ARCH_GRAYSKULL, 1, 1, 8 * GiB, 120 * MiB},
		{"n150", PROTO_ARCH_WORMHOLE_B0, 1, 1, 12 * GiB, 108 * MiB},
		{"n300", PROTO_ARCH_WORMHOLE_B0, 2, 1, 12 * GiB, 96 * MiB},
		{"galaxy-wormhole", PROTO_ARCH_WORMHOLE_B0, 1, 1, 12 * GiB, 0},
		{"p100", PROTO_ARCH_BLACKHOLE, 1, 1, 0, 0},
		{"p100a", PROTO_ARCH_BLACKHOLE, 1, 1, 28 * GiB, 180 * MiB},
		{"p150a", PROTO_ARCH_BLACKHOLE, 1, 1, 32 * GiB, 210 * MiB},
		{"p150b", PROTO_ARCH_BLACKHOLE, 1, 1, 32 * GiB, 210 * MiB},
		{"p150c", PROTO_ARCH_BLACKHOLE, 1, 1, 32 * GiB, 0},
		{"p300a", PROTO_ARCH_BLACKHOLE, 2, 2, 32 * GiB, 0},
		{"p300b", PROTO_ARCH_BLACKHOLE, 2, 2, 32 * GiB, 0},
		{"p300c", PROTO_ARCH_BLACKHOLE, 2, 2, 32 * GiB, 0},
		{"galaxy-blackhole", PROTO_ARCH_BLACKHOLE, 1, 1, 32 * GiB, 0},
	};
	for (size_t i = 0; i < sizeof(rows) / sizeof(rows[0]); i++) {
		const struct tt_card *c = tt_card_lookup(rows[i].type);
		assert_non_null(c);
		assert_int_equal(c->arch, rows[i].arch);
		assert_int_equal(c->chips, rows[i].chips);
		assert_int_equal(c->pcie_chips, rows[i].pcie);
		assert_int_equal((uint64_t)c->dram_channels * c->dram_per_channel, rows[i].dram);
		assert_int_equal((uint64_t)c->tensix_cores * c->l1_per_core, rows[i].l1);
	}
	assert_null(tt_card_lookup("unknown")); /* what tt-kmd prints for an unlisted board id */
	assert_null(tt_card_lookup("n301"));
	assert_null(tt_card_lookup(NULL));
	assert_int_equal(tt_arch_from_pci_id(0x401e), PROTO_ARCH_WORMHOLE_B0);
	assert_int_equal(tt_arch_from_pci_id(0xb140), PROTO_ARCH_BLACKHOLE);
	assert_int_equal(tt_arch_from_pci_id(0xfaca), PROTO_ARCH_GRAYSKULL);
	assert_int_equal(tt_arch_from_pci_id(0x1234), PROTO_ARCH_INVALID);
}

static void test_unlisted_card_type_keeps_pci_arch_and_sizes_stay_na(void **state)
{
	(void)state;
	char root[128];
	assert_non_null(hw_tempdir(root, sizeof(root)));
	assert_int_equal(hw_write(root, "dev/tenstorrent/0", ""), 0);
	assert_int_equal(hw_write(root, "sys/devices/pci/0000:05:00.0/device", "0xb140\n"), 0);
	assert_int_equal(hw_write(root, "sys/devices/pci/0000:05:00.0/tenstorrent/tenstorrent!0/tt_card_type",
				  "p999x\n"),
			 0);
	assert_int_equal(hw_link(root, "sys/devices/pci/0000:05:00.0/tenstorrent/tenstorrent!0/device",
				 "../../../0000:05:00.0"),
			 0);
	assert_int_equal(hw_link(root, "sys/class/tenstorrent/tenstorrent!0",
				 "../../devices/pci/0000:05:00.0/tenstorrent/tenstorrent!0"),
			 0);
	struct device_set set;
	hw_open_set(&set, root, "tenstorrent");
	const struct device_static_info *info = &set.devices[0].info;
	assert_int_equal(info->arch, PROTO_ARCH_BLACKHOLE);
	assert_string_equal(info->name, "Blackhole");
	assert_string_equal(info->board, "p999x");
	assert_false(DEVICE_INFO_VALID(info, DEVICE_INFO_DRAM_TOTAL));
	assert_false(DEVICE_INFO_VALID(info, DEVICE_INFO_L1_TOTAL));
	assert_int_equal(info->dram_total, 0);
	assert_int_equal(info->l1_total, 0);
	assert_string_equal(info->bus_id, "0000:05:00.0");
	assert_string_equal(info->serial, ""); /* tt_serial absent: N/A */
	assert_string_equal(info->firmware, "");
	refresh(&set.devices[0]);
	assert_int_equal(set.devices[0].now.valid, 0); /* no hwmon, no tt_aiclk */
	device_set_close(&set);
	hw_remove(root);
}

static void test_dev_node_without_sysfs_is_a_device_with_nothing_known(void **state)
{
	(void)state;
	char root[128];
	assert_non_null(hw_tempdir(root, sizeof(root)));
	assert_int_equal(hw_write(root, "dev/tenstorrent/0", ""), 0);
	struct device_set set;
	hw_open_set(&set, root, "tenstorrent");
	assert_int_equal(set.count, 1);
	const struct device_static_info *info = &set.devices[0].info;
	assert_int_equal(info->arch, PROTO_ARCH_INVALID);
	assert_string_equal(info->name, "Tenstorrent");
	assert_string_equal(info->board, "");
	assert_int_equal(info->valid, 0);
	assert_string_equal(info->node, "/dev/tenstorrent/0");
	refresh(&set.devices[0]);
	assert_int_equal(set.devices[0].now.valid, 0);
	device_set_close(&set);
	hw_remove(root);
}

static void test_malformed_hwmon_values_stay_na(void **state)
{
	(void)state;
	char root[128];
	assert_non_null(hw_tempdir(root, sizeof(root)));
	const char *pci = "sys/devices/pci/0000:01:00.0";
	char rel[256];
	assert_int_equal(hw_write(root, "dev/tenstorrent/0", ""), 0);
	snprintf(rel, sizeof(rel), "%s/device", pci);
	assert_int_equal(hw_write(root, rel, "0x401e\n"), 0);
	static const char *const files[][2] = {
		{"tenstorrent/tenstorrent!0/tt_card_type", "n150\n"},
		{"tenstorrent/tenstorrent!0/tt_aiclk", "1e3\n"}, /* not a decimal integer */
		{"hwmon/hwmon7/temp1_input", "abc\n"},           /* garbage */
		{"hwmon/hwmon7/power1_input", "\n"},             /* empty */
		{"hwmon/hwmon7/in0_input", "800\n"},             /* the one good value */
		{"hwmon/hwmon7/curr1_input", "-5\n"},            /* impossible */
		{"hwmon/hwmon7/fan1_input", "12 rpm\n"},         /* trailing text */
	};
	for (size_t i = 0; i < sizeof(files) / sizeof(files[0]); i++) {
		snprintf(rel, sizeof(rel), "%s/%s", pci, files[i][0]);
		assert_int_equal(hw_write(root, rel, files[i][1]), 0);
	}
	snprintf(rel, sizeof(rel), "%s/tenstorrent/tenstorrent!0/device", pci);
	assert_int_equal(hw_link(root, rel, "../../../0000:01:00.0"), 0);
	assert_int_equal(hw_link(root, "sys/class/tenstorrent/tenstorrent!0",
				 "../../devices/pci/0000:01:00.0/tenstorrent/tenstorrent!0"),
			 0);
	struct device_set set;
	hw_open_set(&set, root, "tenstorrent");
	struct device *dev = &set.devices[0];
	refresh(dev);
	assert_true(DEVICE_READING_VALID(&dev->now, DEVICE_VOLTAGE));
	assert_int_equal(dev->now.voltage_mv, 800);
	assert_invalid(dev, DEVICE_TEMPERATURE);
	assert_invalid(dev, DEVICE_POWER);
	assert_invalid(dev, DEVICE_CURRENT);
	assert_invalid(dev, DEVICE_FAN);
	assert_invalid(dev, DEVICE_CLOCK);
	/* a reading that disappears between refreshes goes back to N/A */
	snprintf(rel, sizeof(rel), "%s/%s/hwmon/hwmon7/in0_input", root, pci);
	assert_int_equal(unlink(rel), 0);
	refresh(dev);
	assert_invalid(dev, DEVICE_VOLTAGE);
	device_set_close(&set);
	hw_remove(root);
}

static void test_devices_are_numbered_by_minor_not_by_name(void **state)
{
	(void)state;
	char root[128];
	assert_non_null(hw_tempdir(root, sizeof(root)));
	assert_int_equal(hw_write(root, "dev/tenstorrent/10", ""), 0);
	assert_int_equal(hw_write(root, "dev/tenstorrent/2", ""), 0);
	assert_int_equal(hw_write(root, "dev/tenstorrent/not-a-device", ""), 0);
	struct device_set set;
	hw_open_set(&set, root, "tenstorrent");
	assert_int_equal(set.count, 2);
	assert_string_equal(set.devices[0].info.node, "/dev/tenstorrent/2");
	assert_int_equal(set.devices[0].info.driver_index, 2);
	assert_string_equal(set.devices[1].info.node, "/dev/tenstorrent/10");
	device_set_close(&set);
	hw_remove(root);
}

static void test_no_tenstorrent_device_is_an_error_only_when_asked_for(void **state)
{
	(void)state;
	char root[128], err[DEVICE_ERR_LEN], text[DEVICE_ERR_LEN];
	assert_non_null(hw_tempdir(root, sizeof(root)));
	struct device_options opts;
	device_options_init(&opts);
	opts.hw_root = root;
	opts.nvml_library = "libttalloc-test-absent-nvml.so.1";
	opts.selection = "tenstorrent";
	struct device_set set;
	assert_int_equal(device_set_open_opts(&set, &opts, err), -1);
	assert_non_null(strstr(err, "backend 'tenstorrent' found no devices"));
	assert_int_equal(set.count, 0);
	opts.selection = "tenstorrent:3";
	assert_int_equal(device_set_open_opts(&set, &opts, err), -1);
	assert_non_null(strstr(err, "takes no options"));
	opts.selection = "auto";
	assert_int_equal(device_set_open_opts(&set, &opts, err), 0);
	assert_int_equal(set.selection, DEVICE_SELECTED_AUTO_SIM);
	assert_string_equal(set.backend_name, "sim");
	assert_int_equal(set.count, 2);
	assert_string_equal(device_set_describe(&set, text, sizeof(text)), "simulated devices, no hardware found");
	device_set_close(&set);
	hw_remove(root);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_n150_static_info_is_read_from_sysfs_and_the_card_table),
		cmocka_unit_test(test_n150_readings_have_hwmon_units),
		cmocka_unit_test(test_n300_is_two_chips_the_remote_one_reads_nothing),
		cmocka_unit_test(test_p150_cards_read_blackhole_hwmon_with_fan),
		cmocka_unit_test(test_auto_prefers_tenstorrent_and_says_so),
		cmocka_unit_test(test_card_table_covers_tt_kmd_card_types),
		cmocka_unit_test(test_unlisted_card_type_keeps_pci_arch_and_sizes_stay_na),
		cmocka_unit_test(test_dev_node_without_sysfs_is_a_device_with_nothing_known),
		cmocka_unit_test(test_malformed_hwmon_values_stay_na),
		cmocka_unit_test(test_devices_are_numbered_by_minor_not_by_name),
		cmocka_unit_test(test_no_tenstorrent_device_is_an_error_only_when_asked_for),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
