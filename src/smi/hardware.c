/*
 * hardware.c - what tt_smi shows when the allocation server is down
 * (smi.h): the device backends read directly, as nvidia-smi reads the
 * driver. Names, sizes and readings are real; allocation data exists only
 * in the server, so the snapshot says hardware_only and every allocation
 * figure prints N/A. Who holds each device is the kernel's view.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "common/array.h"
#include "common/clock.h"
#include "common/proc_info.h"
#include "smi/smi.h"

const char *smi_hardware_root(const struct smi_options *opts)
{
	if (opts->hw_root)
		return opts->hw_root;
	const char *env = getenv(DEVICE_HW_ROOT_ENV);
	return env && *env ? env : NULL;
}

int smi_hardware_open(struct smi_hardware *hw, const char *selection, const char *hw_root, char *err)
{
	if (hw->tried)
		return hw->opened;
	hw->tried = 1;
	struct device_options opts;
	device_options_init(&opts);
	opts.selection = selection;
	opts.hw_root = hw_root;
	if (device_set_open_opts(&hw->set, &opts, err) < 0) {
		hw->tried = 0; /* say why again next time */
		return -1;
	}
	int simulated = hw->set.count == 0;
	for (int d = 0; d < hw->set.count; d++)
		simulated |= hw->set.devices[d].info.simulated;
	if (simulated) {
		device_set_close(&hw->set);
		return 0;
	}
	hw->opened = 1;
	return 1;
}

void smi_hardware_close(struct smi_hardware *hw)
{
	if (hw->opened)
		device_set_close(&hw->set);
	holders_view_release(&hw->holders);
	memset(hw, 0, sizeof(*hw));
}

static void fill_device(struct device *dev, int count, struct snapshot_device *out)
{
	static const struct device_load no_load = {{0}};
	const struct device_static_info *info = &dev->info;
	memset(out, 0, sizeof(*out));
	device_refresh(dev, &no_load);
	out->index = dev->index;
	out->seed.total_dram_size = DEVICE_INFO_VALID(info, DEVICE_INFO_DRAM_TOTAL) ? info->dram_total : 0;
	out->seed.total_l1_size = DEVICE_INFO_VALID(info, DEVICE_INFO_L1_TOTAL) ? info->l1_total : 0;
	out->seed.arch_type = info->arch;
	out->seed.num_dram_channels = info->num_dram_channels;
	out->seed.dram_size_per_channel = info->dram_size_per_channel <= UINT32_MAX
		? (uint32_t)info->dram_size_per_channel
		: 0;
	out->seed.l1_size_per_core = info->l1_size_per_core;
	out->seed.is_available = 1;
	out->seed.num_devices = (uint32_t)count;
	struct proto_status_payload *st = &out->status;
	st->temperature_mc = dev->now.temperature_mc;
	st->power_mw = dev->now.power_mw;
	st->utilization = dev->now.utilization;
	st->valid = (DEVICE_READING_VALID(&dev->now, DEVICE_TEMPERATURE) ? PROTO_STATUS_TEMPERATURE : 0) |
		(DEVICE_READING_VALID(&dev->now, DEVICE_POWER) ? PROTO_STATUS_POWER : 0) |
		(DEVICE_READING_VALID(&dev->now, DEVICE_UTILIZATION) ? PROTO_STATUS_UTILIZATION : 0);
	proto_set_string(st->name, sizeof(st->name), info->name);
	st->backend_flags = info->simulated ? 1u : 0u;
	struct snapshot_identity *id = &out->ident;
	snprintf(id->serial, sizeof(id->serial), "%s", info->serial);
	snprintf(id->asic_id, sizeof(id->asic_id), "%s", info->asic_id);
	snprintf(id->pci_bus_id, sizeof(id->pci_bus_id), "%s", info->bus_id);
	snprintf(id->card_type, sizeof(id->card_type), "%s", device_card_type(dev));
	snprintf(id->uuid, sizeof(id->uuid), "%s", info->uuid);
	snprintf(id->driver_version, sizeof(id->driver_version), "%s", info->driver);
}

static int add_holders(struct smi_hardware *hw, int device, struct snapshot *snap)
{
	struct holder_entry rows[DEVICE_MAX_PROCESSES];
	int n = holders_view_rows(&hw->holders, device, NULL, 0, (int32_t)getpid(), rows, DEVICE_MAX_PROCESSES);
	if (n == 0)
		return 0;
	if (ARRAY_RESERVE(snap->holders, snap->holders_cap, snap->num_holders + (size_t)n) < 0)
		return TTALLOC_ENOMEM;
	for (int i = 0; i < n; i++) {
		struct snapshot_holder *h = &snap->holders[snap->num_holders++];
		memset(h, 0, sizeof(*h));
		h->pid = rows[i].pid;
		h->device = device;
		h->row.state = (uint32_t)rows[i].state;
		h->row.flags = rows[i].flags & (PROTO_HOLDER_DRIVER | PROTO_HOLDER_FD | PROTO_HOLDER_MEMORY);
		h->row.memory = (rows[i].flags & DEVICE_PROC_MEMORY) ? rows[i].memory : 0;
		proto_set_string(h->row.comm, sizeof(h->row.comm), rows[i].id.comm);
		if (rows[i].id.uid_known) {
			h->row.flags |= PROTO_HOLDER_UID;
			h->row.uid = rows[i].id.uid;
			proc_user_name(h->row.uid, h->user, sizeof(h->user));
		}
	}
	return 0;
}

int smi_hardware_snapshot(struct smi_hardware *hw, struct snapshot *snap)
{
	snapshot_release(snap);
	snap->taken_ns = clock_realtime_ns();
	snap->hardware_only = 1;
	if (gethostname(snap->hostname, sizeof(snap->hostname) - 1) < 0)
		snap->hostname[0] = '\0';
	if (!hw->opened)
		return 0;
	snap->devices = calloc((size_t)hw->set.count, sizeof(*snap->devices));
	if (!snap->devices)
		return TTALLOC_ENOMEM;
	snap->num_devices = (uint32_t)hw->set.count;
	for (int d = 0; d < hw->set.count; d++)
		fill_device(&hw->set.devices[d], hw->set.count, &snap->devices[d]);
	if (holders_view_scan(&hw->holders, &hw->set) < 0)
		return TTALLOC_ENOMEM;
	for (int d = 0; d < hw->set.count; d++)
		if (add_holders(hw, d, snap) < 0)
			return TTALLOC_ENOMEM;
	return 0;
}
