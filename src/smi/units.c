/*
 * units.c - the numbers of the tt_smi table, written the way the seed's
 * screen writes them (smi.h): "3.0GB / 12.0GB", "450MB / 1440MB", "( 2%)",
 * "42°C", "85W". Binary units, as everywhere in ttalloc (format.h). Also
 * the whole-MiB and clock forms the scripting outputs print.
 */
#include <stdio.h>
#include <time.h>

#include "common/format.h"
#include "smi/smi.h"

#define MiB (1024ull * 1024ull)
#define GiB (1024ull * MiB)

uint64_t smi_whole_mib(uint64_t bytes)
{
	return bytes / MiB + (bytes % MiB >= MiB / 2 ? 1 : 0);
}

char *smi_format_size(char *buf, size_t size, uint64_t bytes)
{
	uint64_t mb = smi_whole_mib(bytes);
	if (mb >= 1024)
		snprintf(buf, size, "%.1fGB", (double)bytes / (double)GiB);
	else
		snprintf(buf, size, "%lluMB", (unsigned long long)mb);
	return buf;
}

char *smi_format_mb(char *buf, size_t size, uint64_t bytes)
{
	snprintf(buf, size, "%lluMB", (unsigned long long)smi_whole_mib(bytes));
	return buf;
}

char *smi_format_percent(char *buf, size_t size, uint64_t used, uint64_t total)
{
	snprintf(buf, size, "(%2u%%)", format_percent(used, total));
	return buf;
}

long long smi_round_milli(long long milli)
{
	return (milli + (milli < 0 ? -500 : 500)) / 1000;
}

/* A reading in thousandths, rounded to whole units and followed by `unit`, or N/A. */
static char *format_milli(char *buf, size_t size, long long milli, int valid, const char *unit)
{
	if (valid)
		snprintf(buf, size, "%lld%s", smi_round_milli(milli), unit);
	else
		snprintf(buf, size, "N/A");
	return buf;
}

char *smi_format_temperature(char *buf, size_t size, int32_t milli_c, int valid)
{
	return format_milli(buf, size, milli_c, valid, "°C");
}

char *smi_format_power(char *buf, size_t size, uint32_t milli_w, int valid)
{
	return format_milli(buf, size, milli_w, valid, "W");
}

char *smi_format_utilization(char *buf, size_t size, uint32_t percent, int valid)
{
	if (valid)
		snprintf(buf, size, "%u%%", percent);
	else
		snprintf(buf, size, "N/A");
	return buf;
}

char *smi_format_clock(char *buf, size_t size, uint64_t realtime_ns, const char *format, int decimals)
{
	time_t sec = (time_t)(realtime_ns / 1000000000u);
	unsigned long frac = (unsigned long)(realtime_ns % 1000000000u);
	struct tm tm;
	size_t n = 0;
	if (size == 0)
		return buf;
	buf[0] = '\0';
	if (localtime_r(&sec, &tm))
		n = strftime(buf, size, format, &tm);
	if (decimals > 0 && decimals <= 9 && n > 0) {
		for (int i = decimals; i < 9; i++)
			frac /= 10;
		snprintf(buf + n, size - n, ".%0*lu", decimals, frac);
	}
	return buf;
}

char *smi_format_memory(char *buf, size_t size, const char *label, const char *used, const char *total,
			uint64_t used_bytes, uint64_t total_bytes)
{
	char percent[SMI_UNIT_LEN];
	snprintf(buf, size, "%-7s%5s / %s  %s", label, used, total,
		 smi_format_percent(percent, sizeof(percent), used_bytes, total_bytes));
	return buf;
}

uint64_t smi_device_dram_used(const struct snapshot_device *dev)
{
	return dev->seed.dram_allocated + dev->seed.trace_allocated;
}

uint64_t smi_device_l1_used(const struct snapshot_device *dev)
{
	return dev->seed.l1_allocated + dev->seed.l1_small_allocated + dev->status.cb_allocated + dev->kernel_allocated;
}

uint64_t smi_process_dram_used(const struct snapshot_process *proc)
{
	return proc->usage.used[SMI_USED_DRAM] + proc->usage.used[SMI_USED_TRACE];
}

uint64_t smi_process_l1_used(const struct snapshot_process *proc)
{
	return proc->usage.used[SMI_USED_L1] + proc->usage.used[SMI_USED_L1_SMALL] + proc->usage.cb + proc->kernel;
}

uint64_t smi_process_memory_used(const struct snapshot_process *proc)
{
	return smi_process_dram_used(proc) + smi_process_l1_used(proc);
}
