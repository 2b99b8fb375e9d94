/*
 * csv.c - CSV for scripts (smi.h): one value quoted the RFC 4180 way, and
 * the rows of the seed's "Log Periodic Snapshots" loop
 * (timestamp,device,dram,l1).
 */
#include <string.h>

#include "smi/smi.h"

/* Sanitised text may be 4 bytes per character of a process or device name. */
#define CLEAN_LEN 256

void smi_csv_value(struct strbuf *out, const char *text)
{
	char clean[CLEAN_LEN];
	smi_text_sanitize(clean, sizeof(clean), text);
	size_t len = strlen(clean);
	int quote = clean[strcspn(clean, ",\"")] != '\0' || (len && (clean[0] == ' ' || clean[len - 1] == ' '));
	if (!quote) {
		strbuf_add(out, clean, len);
		return;
	}
	strbuf_addstr(out, "\"");
	for (const char *p = clean; *p;) {
		size_t run = strcspn(p, "\"");
		strbuf_add(out, p, run);
		p += run;
		if (*p == '"') {
			strbuf_addstr(out, "\"\"");
			p++;
		}
	}
	strbuf_addstr(out, "\"");
}

void smi_csv_log_rows(struct strbuf *out, const struct snapshot *snap)
{
	char when[64];
	smi_format_clock(when, sizeof(when), snap->taken_ns, SMI_CLOCK_ISO, 6);
	for (uint32_t i = 0; i < snap->num_devices; i++) {
		const struct snapshot_device *dev = &snap->devices[i];
		strbuf_addf(out, "%s,%d,%llu,%llu\n", when, dev->index, (unsigned long long)dev->seed.dram_allocated,
			    (unsigned long long)dev->seed.l1_allocated);
	}
}
