/*
 * memory_map.c - which memory a buffer type lives in, and the backends'
 * memory maps of it (device.h: struct device_memory_map).
 */
#include "devices/device.h"

enum device_region device_region_of(unsigned type)
{
	switch (type) {
	case TTALLOC_DRAM:
	case TTALLOC_TRACE:
		return DEVICE_REGION_DRAM;
	case TTALLOC_L1:
	case TTALLOC_L1_SMALL:
		return DEVICE_REGION_L1;
	default:
		return DEVICE_REGION_NONE;
	}
}

const char *device_region_name(enum device_region region)
{
	return region == DEVICE_REGION_DRAM ? "DRAM" : region == DEVICE_REGION_L1 ? "L1" : "?";
}

/* The validity bit of a region's map. */
static enum device_info_field map_field(enum device_region region)
{
	return region == DEVICE_REGION_DRAM ? DEVICE_INFO_DRAM_MAP : DEVICE_INFO_L1_MAP;
}

void device_info_set_map(struct device_static_info *info, enum device_region region,
			 const struct device_memory_map *map)
{
	if (region < 0 || region >= DEVICE_REGIONS || !map->banks || !map->bank_size || !map->alignment)
		return;
	info->maps[region] = *map;
	info->valid |= 1u << map_field(region);
}

const struct device_memory_map *device_info_map(const struct device_static_info *info, enum device_region region)
{
	if (region < 0 || region >= DEVICE_REGIONS || !DEVICE_INFO_VALID(info, map_field(region)))
		return NULL;
	return &info->maps[region];
}
