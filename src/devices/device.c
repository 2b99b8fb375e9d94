/*
 * device.c - backend table, device set, and the kernel's view of who holds
 * each device (see device.h).
 */
#include "devices/device.h"

#include <dirent.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "devices/hwfs.h"

/*
 * Every backend, in the order "auto" tries them. Hardware backends go before
 * the simulation, which is the fallback when none finds a device.
 */
static const struct device_backend *const backends[] = {
	&device_backend_tenstorrent,
	&device_backend_nvml,
	&device_backend_sim,
};
enum { BACKEND_COUNT = sizeof(backends) / sizeof(backends[0]) };

static const char *const reading_names[DEVICE_READINGS] = {
	[DEVICE_TEMPERATURE] = "temperature",
	[DEVICE_POWER] = "power",
	[DEVICE_UTILIZATION] = "utilization",
	[DEVICE_VOLTAGE] = "voltage",
	[DEVICE_CURRENT] = "current",
	[DEVICE_FAN] = "fan",
	[DEVICE_CLOCK] = "clock",
	[DEVICE_MEMORY_USED] = "memory_used",
};

const char *device_reading_name(enum device_reading reading)
{
	if ((unsigned)reading >= DEVICE_READINGS)
		return "?";
	return reading_names[reading];
}

void device_refresh(struct device *dev, const struct device_load *load)
{
	dev->now.valid = 0;
	dev->backend->refresh(dev, load);
}

static const struct device_backend *backend_named(const char *name, size_t len)
{
	for (int i = 0; i < BACKEND_COUNT; i++)
		if (strlen(backends[i]->name) == len && strncmp(backends[i]->name, name, len) == 0)
			return backends[i];
	return NULL;
}

/* Drops what a backend that found nothing may have left. */
static void reset_devices(struct device_set *set)
{
	device_set_close(set);
	set->backend_name = NULL;
}

static int open_auto(struct device_set *set, char *err)
{
	for (int i = 0; i < BACKEND_COUNT; i++) {
		if (backends[i] == &device_backend_sim)
			continue;
		err[0] = '\0';
		int found = backends[i]->probe(set, NULL, err);
		if (found > 0) {
			set->selection = DEVICE_SELECTED_AUTO_HARDWARE;
			return 0;
		}
		/* a backend that fails or finds nothing is skipped silently */
		reset_devices(set);
	}
	err[0] = '\0';
	set->selection = DEVICE_SELECTED_AUTO_SIM;
	return device_backend_sim.probe(set, NULL, err) > 0 ? 0 : -1;
}

void device_options_init(struct device_options *opts)
{
	memset(opts, 0, sizeof(*opts));
	opts->selection = "auto";
}

/* Stores the root without trailing slashes; "/" and "" both mean the real root. */
static int set_hw_root(struct device_set *set, const char *root, char *err)
{
	set->hw_root[0] = '\0';
	if (!root)
		return 0;
	size_t len = strlen(root);
	while (len > 0 && root[len - 1] == '/')
		len--;
	if (len >= sizeof(set->hw_root) - 64) {
		snprintf(err, DEVICE_ERR_LEN, "hardware root '%.64s...' is too long", root);
		return -1;
	}
	memcpy(set->hw_root, root, len);
	set->hw_root[len] = '\0';
	return 0;
}

int device_set_open_opts(struct device_set *set, const struct device_options *opts, char *err)
{
	memset(set, 0, sizeof(*set));
	err[0] = '\0';
	if (set_hw_root(set, opts->hw_root, err) < 0)
		return -1;
	snprintf(set->nvml_library, sizeof(set->nvml_library), "%s",
		 opts->nvml_library && *opts->nvml_library ? opts->nvml_library : DEVICE_NVML_LIBRARY);
	if (opts->host && *opts->host)
		snprintf(set->host, sizeof(set->host), "%s", opts->host);
	else if (gethostname(set->host, sizeof(set->host) - 1) < 0)
		snprintf(set->host, sizeof(set->host), "localhost");
	const char *selection = opts->selection;
	if (!selection || !*selection || strcmp(selection, "auto") == 0)
		return open_auto(set, err);
	const char *colon = strchr(selection, ':');
	size_t name_len = colon ? (size_t)(colon - selection) : strlen(selection);
	const struct device_backend *backend = backend_named(selection, name_len);
	if (!backend) {
		snprintf(err, DEVICE_ERR_LEN,
			 "unknown device backend '%.*s' (choose auto, sim[:N[:ARCH]], tenstorrent, nvml)",
			 (int)name_len, selection);
		return -1;
	}
	set->selection = DEVICE_SELECTED_EXPLICIT;
	int found = backend->probe(set, colon ? colon + 1 : NULL, err);
	if (found < 0) {
		reset_devices(set);
		return -1;
	}
	if (found == 0) {
		char why[DEVICE_ERR_LEN];
		snprintf(why, sizeof(why), "%s", err);
		reset_devices(set);
		if (why[0])
			snprintf(err, DEVICE_ERR_LEN, "backend '%s' found no devices: %s", backend->name, why);
		else
			snprintf(err, DEVICE_ERR_LEN, "backend '%s' found no devices", backend->name);
		return -1;
	}
	return 0;
}

int device_set_open(struct device_set *set, const char *selection, char *err)
{
	struct device_options opts;
	device_options_init(&opts);
	opts.selection = selection;
	return device_set_open_opts(set, &opts, err);
}

char *device_set_describe(const struct device_set *set, char *buf, size_t size)
{
	const char *name = set->backend_name ? set->backend_name : "none";
	int n;
	if (set->count > 0 && set->devices[0].info.simulated)
		n = snprintf(buf, size, "%s",
			     set->selection == DEVICE_SELECTED_AUTO_SIM ? "simulated devices, no hardware found"
									: "simulated devices, --devices sim");
	else if (strcmp(name, "tenstorrent") == 0)
		n = snprintf(buf, size, "tenstorrent: %d device%s from tt-kmd", set->count, set->count == 1 ? "" : "s");
	else if (strcmp(name, "nvml") == 0)
		n = snprintf(buf, size, "nvml: %d device%s from %s", set->count, set->count == 1 ? "" : "s",
			     set->nvml_library);
	else
		n = snprintf(buf, size, "%s: %d device%s", name, set->count, set->count == 1 ? "" : "s");
	if (set->hw_root[0] && n >= 0 && (size_t)n < size && !(set->count > 0 && set->devices[0].info.simulated))
		snprintf(buf + n, size - (size_t)n, " under %s", set->hw_root);
	return buf;
}

char *device_label(const struct device *dev, char *buf, size_t size)
{
	const struct device_static_info *info = &dev->info;
	const char *chip = "";
	if (info->chips_on_board == 2 && info->chip == 0)
		chip = " L";
	else if (info->chips_on_board == 2 && info->chip == 1)
		chip = " R";
	if (info->board[0])
		snprintf(buf, size, "%s %s%s", info->name, info->board, chip);
	else
		snprintf(buf, size, "%s", info->name);
	return buf;
}

const char *device_card_type(const struct device *dev)
{
	if (dev->info.board[0])
		return dev->info.board;
	if (dev->info.simulated)
		return "sim";
	return dev->backend == &device_backend_nvml ? "nvidia" : "";
}

void device_set_close(struct device_set *set)
{
	for (int i = 0; i < set->count; i++)
		if (set->devices[i].backend->release)
			set->devices[i].backend->release(&set->devices[i]);
	set->count = 0;
}

/* ---- holders ---- */

const struct device_process *device_holders_find(const struct device_holders *h, int32_t pid)
{
	for (int i = 0; i < h->count; i++)
		if (h->procs[i].pid == pid)
			return &h->procs[i];
	return NULL;
}

/* 1 when a readlink target may be a device node of ours. */
static int looks_like_node(const char *target)
{
	return strncmp(target, "/dev/tenstorrent/", 17) == 0 || strncmp(target, "/dev/nvidia", 11) == 0;
}

/* Attributes each fd of one process that points at a device node. */
static void scan_fds(const struct device_set *set, const char *pid_name, struct device_holders *out)
{
	char dir_path[DEVICE_PATH_MAX];
	if (!hwfs_join(dir_path, sizeof(dir_path), "%s/proc/%s/fd", set->hw_root, pid_name))
		return;
	DIR *dir = opendir(dir_path);
	if (!dir)
		return; /* gone, or another user's process */
	int32_t pid = (int32_t)strtol(pid_name, NULL, 10);
	struct dirent *ent;
	while ((ent = readdir(dir)) != NULL) {
		if (!hwfs_is_number(ent->d_name))
			continue;
		char link[DEVICE_PATH_MAX], target[DEVICE_PATH_MAX];
		if (!hwfs_join(link, sizeof(link), "%s/%s", dir_path, ent->d_name))
			continue;
		ssize_t n = readlink(link, target, sizeof(target) - 1);
		if (n <= 0)
			continue;
		target[n] = '\0';
		if (!looks_like_node(target))
			continue;
		for (int d = 0; d < set->count; d++)
			if (set->devices[d].info.node[0] && strcmp(set->devices[d].info.node, target) == 0)
				device_holders_add(&out[d], pid, DEVICE_PROC_FD, 0);
	}
	closedir(dir);
}

int device_set_holders(const struct device_set *set, struct device_holders *out)
{
	if (!out)
		return -1;
	int any_node = 0;
	for (int d = 0; d < set->count; d++) {
		memset(&out[d], 0, sizeof(out[d]));
		const struct device *dev = &set->devices[d];
		if (dev->backend->holders)
			dev->backend->holders(set, dev, &out[d]);
		if (dev->info.node[0])
			any_node = 1;
	}
	if (!any_node)
		return 0;
	char proc_path[DEVICE_PATH_MAX];
	if (!device_hw_path(set, proc_path, sizeof(proc_path), "/proc"))
		return 0;
	DIR *proc = opendir(proc_path);
	if (!proc)
		return 0;
	struct dirent *ent;
	while ((ent = readdir(proc)) != NULL)
		if (hwfs_is_number(ent->d_name))
			scan_fds(set, ent->d_name, out);
	closedir(proc);
	return 0;
}

int device_holders_compare(const struct device_holders *kernel, const int32_t *tracked, int tracked_count,
			   int32_t own_pid, struct device_holder_row *rows, int max)
{
	int n = 0;
	for (int i = 0; i < tracked_count && n < max; i++) {
		if (tracked[i] <= 0 || (own_pid > 0 && tracked[i] == own_pid))
			continue;
		const struct device_process *k = kernel ? device_holders_find(kernel, tracked[i]) : NULL;
		struct device_holder_row *row = &rows[n++];
		row->pid = tracked[i];
		row->flags = k ? k->flags : 0;
		row->memory = k ? k->memory : 0;
		row->state = (!k && kernel && kernel->authoritative && !kernel->truncated) ? DEVICE_HOLDER_VANISHED
											   : DEVICE_HOLDER_TRACKED;
	}
	if (!kernel)
		return n;
	for (int i = 0; i < kernel->count && n < max; i++) {
		const struct device_process *k = &kernel->procs[i];
		if (own_pid > 0 && k->pid == own_pid)
			continue;
		int known = 0;
		for (int t = 0; t < tracked_count && !known; t++)
			known = tracked[t] == k->pid;
		if (known)
			continue;
		struct device_holder_row *row = &rows[n++];
		row->pid = k->pid;
		row->state = DEVICE_HOLDER_UNTRACKED;
		row->flags = k->flags;
		row->memory = k->memory;
	}
	return n;
}

const char *device_holder_state_name(enum device_holder_state state)
{
	switch (state) {
	case DEVICE_HOLDER_TRACKED:
		return "tracked";
	case DEVICE_HOLDER_UNTRACKED:
		return "untracked";
	case DEVICE_HOLDER_VANISHED:
		return "vanished";
	}
	return "?";
}
