/*
 * sim.c - simulated devices, the default when no hardware is found, so that
 * every example runs on any Linux machine.
 *
 * Spec: "N" devices (default 2) of "ARCH" (default wormhole_b0). Memory sizes
 * follow the seed's Wormhole_B0 (12 GiB DRAM in 12 channels, 1440 MiB L1).
 * Memory maps (what tt-metal's allocator would place where, see
 * python/sim/tt_metal.py and docs/TTMETAL.md): DRAM buffers interleaved
 * over the channels, bank-local addresses from 0x800000000, 32-byte
 * alignment; L1 buffers interleaved over the cores from the first
 * unreserved address 0x10000, 16-byte alignment.
 * Temperature and power are a deterministic function of the memory in use,
 * calibrated on the seed's screenshots (idle 38 C / 72 W; a quarter of DRAM
 * in use gives 42 C / 85 W). Utilization is not simulated: it stays N/A.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "common/random.h"
#include "devices/device.h"

#define MiB (1024ull * 1024ull)
#define GiB (1024ull * MiB)

/* The simulated allocator's ranges (python/sim/tt_metal.py uses the same). */
#define SIM_DRAM_BASE 0x800000000ull
#define SIM_DRAM_ALIGNMENT 32u
#define SIM_L1_BASE 0x10000ull
#define SIM_L1_ALIGNMENT 16u

struct sim_arch {
	const char *key;
	enum proto_arch arch;
	uint32_t dram_channels;
	uint64_t dram_per_channel;
	uint32_t l1_per_core;
	uint32_t l1_cores;
};

static const struct sim_arch sim_archs[] = {
	/* 12 x 1 GiB DRAM; 960 x 1.5 MiB = 1440 MiB L1, as the seed shows */
	{"wormhole_b0", PROTO_ARCH_WORMHOLE_B0, 12, 1 * GiB, 1536 * 1024, 960},
	/* 8 x 4 GiB DRAM; 140 x 1.5 MiB L1 */
	{"blackhole", PROTO_ARCH_BLACKHOLE, 8, 4 * GiB, 1536 * 1024, 140},
	/* 8 x 1 GiB DRAM; 120 x 1 MiB L1 */
	{"grayskull", PROTO_ARCH_GRAYSKULL, 8, 1 * GiB, 1024 * 1024, 120},
};

static const struct sim_arch *sim_arch_named(const char *name)
{
	for (size_t i = 0; i < sizeof(sim_archs) / sizeof(sim_archs[0]); i++)
		if (strcasecmp(sim_archs[i].key, name) == 0 ||
		    strcasecmp(proto_arch_name(sim_archs[i].arch), name) == 0)
			return &sim_archs[i];
	return NULL;
}

/* Parses "N[:ARCH]". Returns 0 or -1 with a reason. */
static int parse_spec(const char *spec, long *count, const struct sim_arch **arch, char *err)
{
	*count = 2;
	*arch = &sim_archs[0];
	if (!spec || !*spec)
		return 0;
	char *end;
	*count = strtol(spec, &end, 10);
	if (end == spec || *count < 1 || *count > PROTO_MAX_DEVICES || (*end && *end != ':')) {
		snprintf(err, DEVICE_ERR_LEN, "bad simulated device count '%s' (1..%d)", spec, PROTO_MAX_DEVICES);
		return -1;
	}
	if (*end == ':' && !(*arch = sim_arch_named(end + 1))) {
		snprintf(err, DEVICE_ERR_LEN, "unknown simulated architecture '%s' (wormhole_b0, blackhole, grayskull)",
			 end + 1);
		return -1;
	}
	return 0;
}

/* A number derived from the host name, the device index and a purpose (FNV-1a, then splitmix64). */
static uint64_t made_up(const char *host, int index, uint64_t purpose)
{
	uint64_t h = 1469598103934665603ull;
	for (const char *p = host; *p; p++)
		h = (h ^ (unsigned char)*p) * 1099511628211ull;
	uint64_t state = h ^ ((uint64_t)index << 8) ^ purpose;
	return random_next(&state);
}

/*
 * Stable made-up identity of simulated device `index` of `host`: the same
 * host and index give the same values at every start, and two hosts of a
 * fleet never share them (the labels a fleet tells devices apart by).
 */
static void sim_identity(struct device_static_info *info, const char *host, int index)
{
	uint64_t serial = made_up(host, index, 1), asic = made_up(host, index, 2), u = made_up(host, index, 3),
		 v = made_up(host, index, 4);
	snprintf(info->serial, sizeof(info->serial), "%016llX", (unsigned long long)serial);
	snprintf(info->asic_id, sizeof(info->asic_id), "%016llX", (unsigned long long)asic);
	/* PCI domain ffff: no real host has it, so a made-up bus id is never mistaken for one */
	snprintf(info->bus_id, sizeof(info->bus_id), "ffff:%02x:00.0", index & 0xff);
	snprintf(info->uuid, sizeof(info->uuid), "TT-SIM-%08x-%04x-%04x-%04x-%012llx", (unsigned)(u >> 32),
		 (unsigned)(u >> 16) & 0xffffu, (unsigned)u & 0xffffu, (unsigned)(v >> 48),
		 (unsigned long long)(v & 0xffffffffffffull));
}

static int sim_probe(struct device_set *set, const char *spec, char *err)
{
	long count;
	const struct sim_arch *arch;
	if (parse_spec(spec, &count, &arch, err) < 0)
		return -1;
	int added = 0;
	for (long i = 0; i < count; i++) {
		struct device *dev = device_set_add(set, &device_backend_sim);
		if (!dev)
			break;
		struct device_static_info *info = &dev->info;
		snprintf(info->name, sizeof(info->name), "%s", proto_arch_name(arch->arch));
		info->arch = arch->arch;
		info->num_dram_channels = arch->dram_channels;
		info->dram_size_per_channel = arch->dram_per_channel;
		info->dram_total = arch->dram_per_channel * arch->dram_channels;
		info->l1_size_per_core = arch->l1_per_core;
		info->l1_total = (uint64_t)arch->l1_per_core * arch->l1_cores;
		info->valid = (1u << DEVICE_INFO_DRAM_TOTAL) | (1u << DEVICE_INFO_L1_TOTAL);
		struct device_memory_map dram = {SIM_DRAM_BASE, arch->dram_per_channel, arch->dram_channels,
						 SIM_DRAM_ALIGNMENT};
		struct device_memory_map l1 = {SIM_L1_BASE, arch->l1_per_core, arch->l1_cores, SIM_L1_ALIGNMENT};
		device_info_set_map(info, DEVICE_REGION_DRAM, &dram);
		device_info_set_map(info, DEVICE_REGION_L1, &l1);
		info->simulated = 1;
		sim_identity(info, set->host, dev->index);
		added++;
	}
	return added;
}

static double fraction(uint64_t used, uint64_t total)
{
	if (total == 0)
		return 0.0;
	double f = (double)used / (double)total;
	return f > 1.0 ? 1.0 : f;
}

static void sim_refresh(struct device *dev, const struct device_load *load)
{
	uint64_t l1 = load->used[TTALLOC_L1] + load->used[TTALLOC_L1_SMALL] + load->used[TTALLOC_CB] +
		load->used[TTALLOC_KERNEL];
	double dram = fraction(load->used[TTALLOC_DRAM] + load->used[TTALLOC_TRACE], dev->info.dram_total);
	double sram = fraction(l1, dev->info.l1_total);
	/* 38 C idle, +16 C at full DRAM, +8 C at full L1 */
	double temp_c = 38.0 + 16.0 * dram + 8.0 * sram;
	/* 72 W idle, +52 W at full DRAM, +26 W at full L1 */
	double power_w = 72.0 + 52.0 * dram + 26.0 * sram;
	DEVICE_SET_READING(&dev->now, DEVICE_TEMPERATURE, temperature_mc, (int32_t)(temp_c * 1000.0));
	DEVICE_SET_READING(&dev->now, DEVICE_POWER, power_mw, (uint32_t)(power_w * 1000.0));
}

const struct device_backend device_backend_sim = {
	.name = "sim",
	.probe = sim_probe,
	.refresh = sim_refresh,
	.release = NULL,
};
