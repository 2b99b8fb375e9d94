/*
 * report.c - tt_smi -q (a per-device report, nvidia-smi -q's layout,
 * sections chosen with -d) and tt_smi -L (one line per device) (smi.h).
 * Both read the same snapshot as the table; a hardware-only snapshot (no
 * server) prints its allocation figures as N/A.
 */
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "smi/smi.h"

/* nvidia-smi -q's layout: names padded so that the colons line up at column 43. */
#define REPORT_NAME_COLS 42

static const char *const section_names[] = {"MEMORY", "UTILIZATION", "TEMPERATURE", "POWER", "PIDS"};

int smi_report_parse_sections(const char *list, unsigned *sections, char *err, size_t err_size)
{
	*sections = 0;
	for (const char *p = list;; p++) {
		size_t len = strcspn(p, ",");
		unsigned bit = 0;
		for (size_t i = 0; i < sizeof(section_names) / sizeof(section_names[0]); i++)
			if (strlen(section_names[i]) == len && strncasecmp(section_names[i], p, len) == 0)
				bit = 1u << i;
		if (!bit) {
			snprintf(err, err_size,
				 "unknown -d/--display section '%.*s' (MEMORY, UTILIZATION, TEMPERATURE, POWER, PIDS)",
				 (int)len, p);
			return -1;
		}
		*sections |= bit;
		p += len;
		if (!*p)
			return 0;
	}
}

/* One "    Name ... : value" line, indented `depth` levels of four spaces. */
static void line(struct strbuf *out, int depth, const char *name, const char *value)
{
	int indent = 4 * depth;
	strbuf_addf(out, "%*s%-*s: %s\n", indent, "", REPORT_NAME_COLS - indent, name, value);
}

/* A section title, indented `depth` levels. */
static void title(struct strbuf *out, int depth, const char *name)
{
	strbuf_addf(out, "%*s%s\n", 4 * depth, "", name);
}

/* `bytes` as "300 MiB", or N/A when the snapshot has no allocation data. */
static void mib_line(struct strbuf *out, int depth, const char *name, uint64_t bytes, int known)
{
	char value[32];
	if (known)
		snprintf(value, sizeof(value), "%llu MiB", (unsigned long long)smi_whole_mib(bytes));
	else
		snprintf(value, sizeof(value), "N/A");
	line(out, depth, name, value);
}

static uint64_t free_of(uint64_t total, uint64_t used)
{
	return total > used ? total - used : 0;
}

/* One buffer type's share of a region. */
struct region_part {
	const char *name;
	uint64_t bytes;
};

/* A region's section: total, used and free, then what holds it by buffer type. */
static void region_section(struct strbuf *out, const char *name, uint64_t total, uint64_t used,
			   const struct region_part *parts, size_t count, int known)
{
	title(out, 1, name);
	mib_line(out, 2, "Total", total, 1);
	mib_line(out, 2, "Used", used, known);
	mib_line(out, 2, "Free", free_of(total, used), known);
	for (size_t i = 0; i < count; i++)
		mib_line(out, 2, parts[i].name, parts[i].bytes, known);
}

static void memory_section(struct strbuf *out, const struct snapshot_device *dev, int known)
{
	const struct proto_seed_payload *seed = &dev->seed;
	const struct region_part dram[] = {
		{"DRAM Buffers", seed->dram_allocated},
		{"Trace Buffers", seed->trace_allocated},
	};
	const struct region_part l1[] = {
		{"L1 Buffers", seed->l1_allocated},
		{"L1_SMALL Buffers", seed->l1_small_allocated},
		{"Circular Buffers", dev->status.cb_allocated},
		{"Kernel Binaries", dev->kernel_allocated},
	};
	region_section(out, "DRAM Memory Usage", seed->total_dram_size, smi_device_dram_used(dev), dram,
		       sizeof(dram) / sizeof(dram[0]), known);
	region_section(out, "L1 Memory Usage", seed->total_l1_size, smi_device_l1_used(dev), l1,
		       sizeof(l1) / sizeof(l1[0]), known);
	title(out, 1, "Host Memory Usage");
	mib_line(out, 2, "System Memory Buffers", dev->status.system_memory, known);
	char count[32];
	snprintf(count, sizeof(count), "%llu", (unsigned long long)dev->status.live_buffers);
	line(out, 1, "Live Buffers", known ? count : "N/A");
}

static void readings_sections(struct strbuf *out, const struct snapshot_device *dev, unsigned sections)
{
	const struct proto_status_payload *st = &dev->status;
	char value[32];
	if (sections & SMI_REPORT_UTILIZATION) {
		title(out, 1, "Utilization");
		if (st->valid & PROTO_STATUS_UTILIZATION)
			snprintf(value, sizeof(value), "%u %%", st->utilization);
		line(out, 2, "Device", st->valid & PROTO_STATUS_UTILIZATION ? value : "N/A");
	}
	if (sections & SMI_REPORT_TEMPERATURE) {
		title(out, 1, "Temperature");
		if (st->valid & PROTO_STATUS_TEMPERATURE)
			snprintf(value, sizeof(value), "%lld C", smi_round_milli(st->temperature_mc));
		line(out, 2, "Current Temp", st->valid & PROTO_STATUS_TEMPERATURE ? value : "N/A");
	}
	if (sections & SMI_REPORT_POWER) {
		title(out, 1, "Power Readings");
		unsigned long long centiwatts = (st->power_mw + 5ull) / 10u;
		if (st->valid & PROTO_STATUS_POWER)
			snprintf(value, sizeof(value), "%llu.%02llu W", centiwatts / 100u, centiwatts % 100u);
		line(out, 2, "Power Draw", st->valid & PROTO_STATUS_POWER ? value : "N/A");
	}
}

/* "C", or what sets the row apart from a live process holding its buffers. */
static const char *process_type(const struct snapshot_process *p)
{
	if (p->usage.flags & PROTO_PROCESS_SHM)
		return p->usage.flags & PROTO_PROCESS_STALE ? "C (tt-metal shm, stale)" : "C (tt-metal shm)";
	if (p->usage.flags & PROTO_PROCESS_EXITED)
		return "C (exited, leaked)";
	return "C";
}

static void process_entry(struct strbuf *out, pid_t pid, const char *type, const char *comm, const char *user,
			  uint64_t used, int known)
{
	char text[64];
	snprintf(text, sizeof(text), "%d", (int)pid);
	line(out, 2, "Process ID", text);
	line(out, 3, "Type", type);
	smi_text_sanitize(text, sizeof(text), comm[0] ? comm : "?");
	line(out, 3, "Name", text);
	smi_text_sanitize(text, sizeof(text), user[0] ? user : "?");
	line(out, 3, "User", text);
	mib_line(out, 3, "Used Memory", used, known);
}

/* The device's processes: the server's rows, or the kernel's holders when the server is down. */
static int processes_section(struct strbuf *out, const struct snapshot *snap, const struct snapshot_device *dev)
{
	int any = 0;
	if (snap->hardware_only) {
		for (size_t i = 0; i < snap->num_holders; i++) {
			const struct snapshot_holder *h = &snap->holders[i];
			if (h->device != dev->index)
				continue;
			if (!any++)
				title(out, 1, "Processes");
			process_entry(out, h->pid, "C", h->row.comm, h->user, 0, 0);
		}
	} else {
		const struct snapshot_process **sorted = smi_processes_sorted(snap);
		if (!sorted)
			return TTALLOC_ENOMEM;
		for (size_t i = 0; i < snap->num_processes; i++) {
			const struct snapshot_process *p = sorted[i];
			if (p->device != dev->index)
				continue;
			if (!any++)
				title(out, 1, "Processes");
			process_entry(out, p->pid, process_type(p), p->usage.comm, p->user, smi_process_memory_used(p),
				      1);
		}
		free(sorted);
	}
	if (!any)
		line(out, 1, "Processes", "None");
	return 0;
}

/* A line of text from another program (sysfs, NVML), sanitised; N/A when empty. */
static void text_line(struct strbuf *out, int depth, const char *name, const char *value)
{
	char text[96];
	smi_text_sanitize(text, sizeof(text), value[0] ? value : "N/A");
	line(out, depth, name, text);
}

static void identity_lines(struct strbuf *out, const struct snapshot_device *dev)
{
	const struct snapshot_identity *id = &dev->ident;
	text_line(out, 1, "Product Name", dev->status.name);
	line(out, 1, "Product Architecture",
	     dev->seed.arch_type != PROTO_ARCH_INVALID ? proto_arch_name(dev->seed.arch_type) : "N/A");
	text_line(out, 1, "Board Type", id->card_type);
	text_line(out, 1, "Serial Number", id->serial);
	text_line(out, 1, "GPU UUID", id->uuid);
	text_line(out, 1, "ASIC ID", id->asic_id);
	text_line(out, 1, "Driver Version", id->driver_version);
	title(out, 1, "PCI");
	text_line(out, 2, "Bus Id", id->pci_bus_id);
}

static int device_report(struct strbuf *out, const struct snapshot *snap, const struct snapshot_device *dev,
			 unsigned sections)
{
	strbuf_addf(out, "\nGPU %d\n", dev->index);
	identity_lines(out, dev);
	if (sections & SMI_REPORT_MEMORY)
		memory_section(out, dev, !snap->hardware_only);
	readings_sections(out, dev, sections);
	if (sections & SMI_REPORT_PIDS)
		return processes_section(out, snap, dev);
	return 0;
}

int smi_report(struct strbuf *out, const struct snapshot *snap, unsigned sections)
{
	char clock[64], count[16];
	if (!sections)
		sections = SMI_REPORT_ALL;
	strbuf_addstr(out, "\n==============TT-SMI LOG==============\n\n");
	line(out, 0, "Timestamp", smi_format_clock(clock, sizeof(clock), snap->taken_ns, "%a %b %e %H:%M:%S %Y", 0));
	line(out, 0, "Allocation Data",
	     snap->hardware_only ? "N/A (ttalloc-server not reachable: hardware only)" : "ttalloc-server");
	snprintf(count, sizeof(count), "%u", snap->num_devices);
	strbuf_addstr(out, "\n");
	line(out, 0, "Attached GPUs", count);
	for (uint32_t i = 0; i < snap->num_devices; i++) {
		int rc = device_report(out, snap, &snap->devices[i], sections);
		if (rc < 0)
			return rc;
	}
	strbuf_addstr(out, "\n");
	return out->failed ? TTALLOC_ENOMEM : 0;
}

int smi_list_devices(struct strbuf *out, const struct snapshot *snap)
{
	for (uint32_t i = 0; i < snap->num_devices; i++) {
		const struct snapshot_device *dev = &snap->devices[i];
		const struct snapshot_identity *id = &dev->ident;
		char name[64], key[96];
		smi_text_sanitize(name, sizeof(name), dev->status.name[0] ? dev->status.name : "N/A");
		/* nvidia-smi's "(UUID: GPU-...)"; a Tenstorrent board has a serial instead */
		smi_text_sanitize(key, sizeof(key), id->uuid[0] ? id->uuid : id->serial);
		strbuf_addf(out, "GPU %d: %s", dev->index, name);
		if (key[0])
			strbuf_addf(out, " (%s: %s)", id->uuid[0] ? "UUID" : "Serial", key);
		strbuf_addstr(out, "\n");
	}
	return out->failed ? TTALLOC_ENOMEM : 0;
}
