/*
 * tenstorrent.c - Tenstorrent devices through tt-kmd's files: /dev, sysfs,
 * hwmon and procfs (after nvtop's extract_gpuinfo_tenstorrent.c).
 *
 * Files read, all under the set's hardware root (docs/HARDWARE.md):
 *   /dev/tenstorrent/N                          one per PCIe-attached chip
 *   /sys/class/tenstorrent/tenstorrent!N/       tt_card_type, tt_serial, tt_asic_id,
 *                                               tt_fw_bundle_ver, tt_aiclk (MHz)
 *   .../tenstorrent!N/device                    link to the PCI device: its
 *                                               name is the bus id, device is
 *                                               the PCI device id
 *   .../device/hwmon/hwmonK/                    temp1_input (m°C), power1_input
 *                                               (µW), in0_input (mV),
 *                                               curr1_input (mA), fan1_input (RPM)
 *   /proc/driver/tenstorrent/N/pids             one pid per open fd
 *   /sys/module/tenstorrent/version             tt-kmd's version
 *
 * Device ids follow tt-metal's order: the PCIe-attached chips by N, then
 * the chips reached only through another chip (the right chip of an n300),
 * which have no files of their own: their readings stay N/A and their users
 * are those of the card's /dev node.
 */
#include <dirent.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "devices/device.h"
#include "devices/hwfs.h"
#include "devices/tenstorrent.h"

#define GiB (1024ull * 1024ull * 1024ull)
#define L1_1_5_MiB (1536u * 1024u)
#define L1_1_MiB (1024u * 1024u)

/*
 * tt_card_type values of tt-kmd (wormhole.c, blackhole.c, hwmon.c) with
 * the board's published figures; docs/HARDWARE.md gives the source of each.
 * Wormhole DRAM is given as tt-metal's 12 views of 1 GiB (6 GDDR6 channels
 * of 2 GiB), as the seed shows it; Blackhole as 8 channels of 4 GiB.
 */
static const struct tt_card cards[] = {
	/* type            arch                   chips pcie  ch  per-channel  tensix  l1/core */
	{"e75", PROTO_ARCH_GRAYSKULL, 1, 1, 0, 0, 0, 0},
	{"e150", PROTO_ARCH_GRAYSKULL, 1, 1, 8, 1 * GiB, 120, L1_1_MiB},
	{"n150", PROTO_ARCH_WORMHOLE_B0, 1, 1, 12, 1 * GiB, 72, L1_1_5_MiB},
	{"n300", PROTO_ARCH_WORMHOLE_B0, 2, 1, 12, 1 * GiB, 64, L1_1_5_MiB},
	{"galaxy-wormhole", PROTO_ARCH_WORMHOLE_B0, 1, 1, 12, 1 * GiB, 0, 0},
	{"p100", PROTO_ARCH_BLACKHOLE, 1, 1, 0, 0, 0, 0},
	{"p100a", PROTO_ARCH_BLACKHOLE, 1, 1, 7, 4 * GiB, 120, L1_1_5_MiB},
	{"p150a", PROTO_ARCH_BLACKHOLE, 1, 1, 8, 4 * GiB, 140, L1_1_5_MiB},
	{"p150b", PROTO_ARCH_BLACKHOLE, 1, 1, 8, 4 * GiB, 140, L1_1_5_MiB},
	{"p150c", PROTO_ARCH_BLACKHOLE, 1, 1, 8, 4 * GiB, 0, 0},
	{"p300a", PROTO_ARCH_BLACKHOLE, 2, 2, 8, 4 * GiB, 0, 0},
	{"p300b", PROTO_ARCH_BLACKHOLE, 2, 2, 8, 4 * GiB, 0, 0},
	{"p300c", PROTO_ARCH_BLACKHOLE, 2, 2, 8, 4 * GiB, 0, 0},
	{"galaxy-blackhole", PROTO_ARCH_BLACKHOLE, 1, 1, 8, 4 * GiB, 0, 0},
};
enum { CARD_COUNT = sizeof(cards) / sizeof(cards[0]) };

const struct tt_card *tt_card_lookup(const char *type)
{
	if (!type)
		return NULL;
	for (int i = 0; i < CARD_COUNT; i++)
		if (strcmp(cards[i].type, type) == 0)
			return &cards[i];
	return NULL;
}

enum proto_arch tt_arch_from_pci_id(uint64_t device_id)
{
	switch (device_id) {
	case 0x401e:
		return PROTO_ARCH_WORMHOLE_B0;
	case 0xb140:
		return PROTO_ARCH_BLACKHOLE;
	case 0xfaca:
		return PROTO_ARCH_GRAYSKULL;
	default:
		return PROTO_ARCH_INVALID;
	}
}

/* What refresh needs; "" paths mean "not present". */
struct tt_device {
	char class_dir[DEVICE_PATH_MAX]; /* ROOT/sys/class/tenstorrent/tenstorrent!N */
	char hwmon_dir[DEVICE_PATH_MAX]; /* ROOT/.../device/hwmon/hwmonK */
};

#define MAX_INDEXES PROTO_MAX_DEVICES

static int compare_int(const void *a, const void *b)
{
	int x = *(const int *)a, y = *(const int *)b;
	return (x > y) - (x < y);
}

/* Adds the numbers found in `dir` (entries "N" or "PREFIXN") to idx. */
static void collect_indexes(const char *dir_path, const char *prefix, int *idx, int *count)
{
	DIR *dir = opendir(dir_path);
	if (!dir)
		return;
	size_t plen = strlen(prefix);
	struct dirent *ent;
	while ((ent = readdir(dir)) != NULL) {
		if (strncmp(ent->d_name, prefix, plen) != 0 || !hwfs_is_number(ent->d_name + plen))
			continue;
		int n = atoi(ent->d_name + plen);
		int seen = 0;
		for (int i = 0; i < *count && !seen; i++)
			seen = idx[i] == n;
		if (!seen && *count < MAX_INDEXES)
			idx[(*count)++] = n;
	}
	closedir(dir);
}

/* The first hwmonK directory of the PCI device, into out ("" when none). */
static void find_hwmon(const char *class_dir, char *out, size_t size)
{
	char dir_path[DEVICE_PATH_MAX];
	out[0] = '\0';
	if (!hwfs_join(dir_path, sizeof(dir_path), "%s/device/hwmon", class_dir))
		return;
	DIR *dir = opendir(dir_path);
	if (!dir)
		return;
	char best[256] = "";
	struct dirent *ent;
	while ((ent = readdir(dir)) != NULL)
		if (strncmp(ent->d_name, "hwmon", 5) == 0 && hwfs_is_number(ent->d_name + 5) &&
		    (!best[0] || strcmp(ent->d_name, best) < 0))
			snprintf(best, sizeof(best), "%s", ent->d_name);
	closedir(dir);
	if (best[0] && !hwfs_join(out, size, "%s/%s", dir_path, best))
		out[0] = '\0';
}

/* The PCI bus id: the name the class device's "device" link points at. */
static void read_bus_id(const char *class_dir, char *out, size_t size)
{
	char link[DEVICE_PATH_MAX], target[DEVICE_PATH_MAX];
	out[0] = '\0';
	if (!hwfs_join(link, sizeof(link), "%s/device", class_dir))
		return;
	ssize_t n = readlink(link, target, sizeof(target) - 1);
	if (n <= 0)
		return;
	target[n] = '\0';
	const char *base = strrchr(target, '/');
	snprintf(out, size, "%s", base ? base + 1 : target);
}

/* Reads one sysfs attribute of the class device into a static-info string. */
static void read_attr(const char *class_dir, const char *attr, char *out, size_t size)
{
	char path[DEVICE_PATH_MAX];
	out[0] = '\0';
	if (hwfs_join(path, sizeof(path), "%s/%s", class_dir, attr))
		hwfs_read_text(path, out, size);
}

/*
 * DRAM and L1 alignment of tt-metal's allocator per architecture (its HAL:
 * Wormhole 32 and 16 bytes, Blackhole 64 and 16).
 */
static uint32_t dram_alignment(enum proto_arch arch)
{
	return arch == PROTO_ARCH_BLACKHOLE ? 64u : 32u;
}

/*
 * The card's banks as memory maps from bank-local address 0: tt-metal
 * reserves the first KiBs of each bank (firmware, dispatch), which the map
 * then shows as free; its exact reservation depends on the tt-metal build.
 */
static void set_maps(struct device_static_info *info, const struct tt_card *card)
{
	struct device_memory_map dram = {0, card->dram_per_channel, card->dram_channels, dram_alignment(card->arch)};
	struct device_memory_map l1 = {0, card->l1_per_core, card->tensix_cores, 16u};
	device_info_set_map(info, DEVICE_REGION_DRAM, &dram);
	device_info_set_map(info, DEVICE_REGION_L1, &l1);
}

static void set_sizes(struct device_static_info *info, const struct tt_card *card)
{
	if (!card)
		return;
	set_maps(info, card);
	info->chips_on_board = card->chips;
	if (card->dram_channels && card->dram_per_channel) {
		info->num_dram_channels = card->dram_channels;
		info->dram_size_per_channel = card->dram_per_channel;
		info->dram_total = card->dram_per_channel * card->dram_channels;
		info->valid |= 1u << DEVICE_INFO_DRAM_TOTAL;
	}
	if (card->tensix_cores && card->l1_per_core) {
		info->l1_size_per_core = card->l1_per_core;
		info->l1_total = (uint64_t)card->l1_per_core * card->tensix_cores;
		info->valid |= 1u << DEVICE_INFO_L1_TOTAL;
	}
}

/* Fills a PCIe-attached chip's static info from its sysfs directory. */
static void read_static(struct device *dev, struct tt_device *tt, int n)
{
	struct device_static_info *info = &dev->info;
	char path[DEVICE_PATH_MAX];
	char type[64];
	read_attr(tt->class_dir, "tt_card_type", type, sizeof(type));
	if (type[0] && strcmp(type, "unknown") != 0)
		snprintf(info->board, sizeof(info->board), "%s", type);
	const struct tt_card *card = tt_card_lookup(info->board);
	uint64_t pci_id = 0;
	enum proto_arch arch = PROTO_ARCH_INVALID;
	if (hwfs_join(path, sizeof(path), "%s/device/device", tt->class_dir) && hwfs_read_hex(path, &pci_id) == 0)
		arch = tt_arch_from_pci_id(pci_id);
	if (arch == PROTO_ARCH_INVALID && card)
		arch = card->arch;
	info->arch = arch;
	snprintf(info->name, sizeof(info->name), "%s",
		 arch == PROTO_ARCH_INVALID ? "Tenstorrent" : proto_arch_name(arch));
	set_sizes(info, card);
	if (card && card->chips > card->pcie_chips)
		info->chip = 0;
	read_attr(tt->class_dir, "tt_serial", info->serial, sizeof(info->serial));
	read_attr(tt->class_dir, "tt_fw_bundle_ver", info->firmware, sizeof(info->firmware));
	read_attr(tt->class_dir, "tt_asic_id", info->asic_id, sizeof(info->asic_id));
	read_bus_id(tt->class_dir, info->bus_id, sizeof(info->bus_id));
	snprintf(info->node, sizeof(info->node), "/dev/tenstorrent/%d", n);
	info->driver_index = n;
	find_hwmon(tt->class_dir, tt->hwmon_dir, sizeof(tt->hwmon_dir));
}

/* Appends the chips of multi-chip cards that have no PCIe link of their own. */
static int add_remote_chips(struct device_set *set, int first, int last)
{
	int added = 0;
	for (int i = first; i < last; i++) {
		const struct device_static_info *local = &set->devices[i].info;
		const struct tt_card *card = tt_card_lookup(local->board);
		if (!card || card->chips <= card->pcie_chips)
			continue;
		for (uint32_t c = card->pcie_chips; c < card->chips; c++) {
			struct device *dev = device_set_add(set, &device_backend_tenstorrent);
			if (!dev)
				return added;
			struct device_static_info *info = &dev->info;
			const struct device_static_info *parent = &set->devices[i].info;
			snprintf(info->name, sizeof(info->name), "%s", parent->name);
			info->arch = parent->arch;
			snprintf(info->board, sizeof(info->board), "%s", parent->board);
			set_sizes(info, card);
			info->chip = (int)c;
			/* the board id and firmware bundle are the card's */
			snprintf(info->serial, sizeof(info->serial), "%s", parent->serial);
			snprintf(info->firmware, sizeof(info->firmware), "%s", parent->firmware);
			snprintf(info->driver, sizeof(info->driver), "%s", parent->driver);
			snprintf(info->node, sizeof(info->node), "%s", parent->node);
			info->driver_index = parent->driver_index;
			dev->priv = NULL; /* no sysfs of its own: every reading N/A */
			added++;
		}
	}
	return added;
}

static int tt_probe(struct device_set *set, const char *spec, char *err)
{
	if (spec && *spec) {
		snprintf(err, DEVICE_ERR_LEN, "the tenstorrent backend takes no options ('%s')", spec);
		return -1;
	}
	char dev_dir[DEVICE_PATH_MAX], class_dir[DEVICE_PATH_MAX];
	if (!device_hw_path(set, dev_dir, sizeof(dev_dir), "/dev/tenstorrent") ||
	    !device_hw_path(set, class_dir, sizeof(class_dir), "/sys/class/tenstorrent")) {
		snprintf(err, DEVICE_ERR_LEN, "hardware root path too long");
		return -1;
	}
	char driver[sizeof(((struct device_static_info *)0)->driver)] = "", version[DEVICE_PATH_MAX];
	if (device_hw_path(set, version, sizeof(version), "/sys/module/tenstorrent/version"))
		hwfs_read_text(version, driver, sizeof(driver));
	int idx[MAX_INDEXES], count = 0;
	collect_indexes(dev_dir, "", idx, &count);
	collect_indexes(class_dir, "tenstorrent!", idx, &count);
	if (count == 0) {
		snprintf(err, DEVICE_ERR_LEN, "no %s/N and no %s/tenstorrent!N (is tt-kmd loaded?)", dev_dir,
			 class_dir);
		return 0;
	}
	qsort(idx, (size_t)count, sizeof(idx[0]), compare_int);
	int first = set->count, added = 0;
	for (int i = 0; i < count; i++) {
		struct tt_device *tt = calloc(1, sizeof(*tt));
		if (!tt) {
			snprintf(err, DEVICE_ERR_LEN, "out of memory");
			return -1;
		}
		struct device *dev = device_set_add(set, &device_backend_tenstorrent);
		if (!dev) {
			free(tt);
			break;
		}
		dev->priv = tt;
		if (!hwfs_join(tt->class_dir, sizeof(tt->class_dir), "%s/tenstorrent!%d", class_dir, idx[i]))
			tt->class_dir[0] = '\0';
		read_static(dev, tt, idx[i]);
		snprintf(dev->info.driver, sizeof(dev->info.driver), "%s", driver);
		added++;
	}
	return added + add_remote_chips(set, first, set->count);
}

/* Reads a hwmon input into an integer; -1 when absent or malformed. */
static int read_hwmon(const struct tt_device *tt, const char *name, int64_t *value)
{
	char path[DEVICE_PATH_MAX];
	if (!tt->hwmon_dir[0] || !hwfs_join(path, sizeof(path), "%s/%s", tt->hwmon_dir, name))
		return -1;
	return hwfs_read_i64(path, value);
}

static void tt_refresh(struct device *dev, const struct device_load *load)
{
	(void)load;
	const struct tt_device *tt = dev->priv;
	if (!tt)
		return; /* a remote chip: nothing of its own to read */
	struct device_dynamic_info *now = &dev->now;
	int64_t v;
	if (read_hwmon(tt, "temp1_input", &v) == 0 && v > -273150 && v < 1000000)
		DEVICE_SET_READING(now, DEVICE_TEMPERATURE, temperature_mc, (int32_t)v);
	if (read_hwmon(tt, "power1_input", &v) == 0 && v >= 0 && v / 1000 <= UINT32_MAX)
		DEVICE_SET_READING(now, DEVICE_POWER, power_mw, (uint32_t)(v / 1000)); /* µW -> mW */
	if (read_hwmon(tt, "in0_input", &v) == 0 && v >= 0 && v <= UINT32_MAX)
		DEVICE_SET_READING(now, DEVICE_VOLTAGE, voltage_mv, (uint32_t)v);
	if (read_hwmon(tt, "curr1_input", &v) == 0 && v >= 0 && v <= UINT32_MAX)
		DEVICE_SET_READING(now, DEVICE_CURRENT, current_ma, (uint32_t)v);
	if (read_hwmon(tt, "fan1_input", &v) == 0 && v >= 0 && v <= UINT32_MAX)
		DEVICE_SET_READING(now, DEVICE_FAN, fan_rpm, (uint32_t)v);
	char path[DEVICE_PATH_MAX];
	if (tt->class_dir[0] && hwfs_join(path, sizeof(path), "%s/tt_aiclk", tt->class_dir) &&
	    hwfs_read_i64(path, &v) == 0 && v >= 0 && v <= UINT32_MAX)
		DEVICE_SET_READING(now, DEVICE_CLOCK, clock_mhz, (uint32_t)v);
}

/* tt-kmd writes one line per open file descriptor: the same pid repeats. */
static void tt_holders(const struct device_set *set, const struct device *dev, struct device_holders *out)
{
	if (dev->info.driver_index < 0)
		return;
	char path[DEVICE_PATH_MAX];
	if (!hwfs_join(path, sizeof(path), "%s/proc/driver/tenstorrent/%d/pids", set->hw_root, dev->info.driver_index))
		return;
	FILE *f = fopen(path, "r");
	if (!f)
		return;
	out->authoritative = 1;
	char line[64];
	while (fgets(line, sizeof(line), f)) {
		char *end;
		long pid = strtol(line, &end, 10);
		if (end == line || pid <= 0 || pid > INT32_MAX)
			continue;
		while (*end == ' ' || *end == '\t' || *end == '\n' || *end == '\r')
			end++;
		if (*end)
			continue;
		device_holders_add(out, (int32_t)pid, DEVICE_PROC_DRIVER, 0);
	}
	fclose(f);
}

static void tt_release(struct device *dev)
{
	free(dev->priv);
	dev->priv = NULL;
}

const struct device_backend device_backend_tenstorrent = {
	.name = "tenstorrent",
	.probe = tt_probe,
	.refresh = tt_refresh,
	.holders = tt_holders,
	.release = tt_release,
};
