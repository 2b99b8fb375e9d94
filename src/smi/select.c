/*
 * select.c - -i/--id (smi.h): the devices a command is about, as
 * nvidia-smi chooses them: a comma list of indices, board serials, UUIDs
 * or PCI bus ids, applied to a snapshot so that every view - table,
 * queries, JSON, the report - shows the same subset.
 */
#include <stdio.h>
#include <string.h>
#include <strings.h>

#include "smi/smi.h"

/* Whether `item` (`len` bytes) is `dev`'s index in decimal. */
static int is_index_of(const struct snapshot_device *dev, const char *item, size_t len)
{
	char index[16];
	int n = snprintf(index, sizeof(index), "%d", dev->index);
	return n > 0 && (size_t)n == len && strncmp(index, item, len) == 0;
}

/* Whether `item` (`len` bytes) is `text`, any case; never for an empty `text`. */
static int is_text(const char *text, const char *item, size_t len)
{
	return text[0] && strlen(text) == len && strncasecmp(text, item, len) == 0;
}

/* A PCI address "[domain:]bus:device.function"; 0 when `text` is not one. */
struct bus_address {
	unsigned domain, bus, device, function;
	int has_domain;
};

static int parse_bus_id(const char *text, size_t len, struct bus_address *out)
{
	char copy[64], tail;
	if (len == 0 || len >= sizeof(copy))
		return 0;
	memcpy(copy, text, len);
	copy[len] = '\0';
	*out = (struct bus_address){0};
	if (sscanf(copy, "%x:%x:%x.%x%c", &out->domain, &out->bus, &out->device, &out->function, &tail) == 4) {
		out->has_domain = 1;
		return 1;
	}
	return sscanf(copy, "%x:%x.%x%c", &out->bus, &out->device, &out->function, &tail) == 3;
}

/* nvidia-smi's bus ids: "00000000:01:00.0" names the device at 0000:01:00.0, and so does "01:00.0". */
static int is_bus_id(const char *bus_id, const char *item, size_t len)
{
	struct bus_address want, have;
	if (!bus_id[0] || !parse_bus_id(item, len, &want) || !parse_bus_id(bus_id, strlen(bus_id), &have))
		return 0;
	return want.bus == have.bus && want.device == have.device && want.function == have.function &&
		(!want.has_domain || want.domain == have.domain);
}

/* Whether the -i item `item` (`len` bytes) names `dev`: its index, serial, UUID or PCI bus id. */
static int names_device(const struct snapshot_device *dev, const char *item, size_t len)
{
	const struct snapshot_identity *id = &dev->ident;
	return is_index_of(dev, item, len) || is_text(id->serial, item, len) || is_text(id->uuid, item, len) ||
		is_bus_id(id->pci_bus_id, item, len);
}

/* Calls back for each item of a comma list with spaces trimmed; stops at (and returns) a non-zero answer. */
static int for_each_item(const char *list, int (*fn)(const char *item, size_t len, void *ctx), void *ctx)
{
	for (const char *p = list;; p++) {
		size_t len = strcspn(p, ",");
		const char *item = p;
		size_t n = len;
		while (n && *item == ' ') {
			item++;
			n--;
		}
		while (n && item[n - 1] == ' ')
			n--;
		int rc = fn(item, n, ctx);
		if (rc)
			return rc;
		p += len;
		if (!*p)
			return 0;
	}
}

static int refuse_empty(const char *item, size_t len, void *ctx)
{
	(void)item;
	(void)ctx;
	return len == 0;
}

int smi_select_check(const char *ids, char *err, size_t err_size)
{
	if (!*ids || for_each_item(ids, refuse_empty, NULL)) {
		snprintf(err, err_size, "-i/--id needs device indices separated by commas (got '%s')", ids);
		return -1;
	}
	return 0;
}

/* What one pass over the -i items looks at. */
struct selection_pass {
	const struct snapshot_device *dev; /* is it named? */
	int named;
	const struct snapshot *snap; /* or: does every item name a device? */
	const char *unmatched;
	size_t unmatched_len;
};

static int check_names_dev(const char *item, size_t len, void *ctx)
{
	struct selection_pass *pass = ctx;
	pass->named |= names_device(pass->dev, item, len);
	return pass->named;
}

static int check_item_matches(const char *item, size_t len, void *ctx)
{
	struct selection_pass *pass = ctx;
	for (uint32_t i = 0; i < pass->snap->num_devices; i++)
		if (names_device(&pass->snap->devices[i], item, len))
			return 0;
	pass->unmatched = item;
	pass->unmatched_len = len;
	return 1;
}

/* Whether device `index` survived the selection. */
static int device_kept(const struct snapshot *snap, int index)
{
	for (uint32_t i = 0; i < snap->num_devices; i++)
		if (snap->devices[i].index == index)
			return 1;
	return 0;
}

/* Drops the process rows and holders of devices no longer in snap->devices. */
static void drop_rows_of_others(struct snapshot *snap)
{
	size_t kept = 0;
	for (size_t i = 0; i < snap->num_processes; i++)
		if (device_kept(snap, snap->processes[i].device))
			snap->processes[kept++] = snap->processes[i];
	snap->num_processes = kept;
	kept = 0;
	for (size_t i = 0; i < snap->num_holders; i++)
		if (device_kept(snap, snap->holders[i].device))
			snap->holders[kept++] = snap->holders[i];
	snap->num_holders = kept;
}

int smi_select_devices(struct snapshot *snap, const char *ids, char *err, size_t err_size)
{
	if (!ids)
		return 0;
	struct selection_pass pass = {.snap = snap};
	if (for_each_item(ids, check_item_matches, &pass)) {
		struct strbuf known = STRBUF_INIT;
		for (uint32_t i = 0; i < snap->num_devices; i++)
			strbuf_addf(&known, "%s%d", i ? ", " : "", snap->devices[i].index);
		snprintf(err, err_size, "no device matches -i '%.*s' (devices: %s)", (int)pass.unmatched_len,
			 pass.unmatched, snap->num_devices ? strbuf_str(&known) : "none");
		strbuf_release(&known);
		return -1;
	}
	uint32_t kept = 0;
	for (uint32_t i = 0; i < snap->num_devices; i++) {
		pass = (struct selection_pass){.dev = &snap->devices[i]};
		for_each_item(ids, check_names_dev, &pass);
		if (pass.named)
			snap->devices[kept++] = snap->devices[i];
	}
	snap->num_devices = kept;
	drop_rows_of_others(snap);
	return 0;
}
