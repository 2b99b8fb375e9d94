/*
 * state.c - opening and releasing the server's picture (state.h).
 */
#include "server/state/state.h"

#include <string.h>
#include <unistd.h>

#include <stdio.h>

#include "common/errors.h"

int state_open(struct state *st, const struct state_config *cfg, char *err)
{
	memset(st, 0, sizeof(*st));
	st->leak_lines = cfg->leak_lines;
	st->retain_leaks = cfg->retain_leaks;
	struct device_options dev_opts;
	device_options_init(&dev_opts);
	dev_opts.selection = cfg->devices;
	dev_opts.hw_root = cfg->hw_root;
	if (cfg->hostname && *cfg->hostname)
		snprintf(st->hostname, sizeof(st->hostname), "%s", cfg->hostname);
	else if (gethostname(st->hostname, sizeof(st->hostname) - 1) < 0 || !st->hostname[0])
		snprintf(st->hostname, sizeof(st->hostname), "localhost");
	dev_opts.host = st->hostname;
	if (device_set_open_opts(&st->devices, &dev_opts, err) < 0)
		return TTALLOC_EINVAL;
	oom_init(&st->ooms);
	misuse_init(&st->misuse);
	marks_init(&st->marks);
	if (registry_init(&st->registry, st->devices.count, 0) < 0 ||
	    leak_history_init(&st->leaks, cfg->leak_history) < 0 || stack_pool_init(&st->stack_pool) < 0)
		return error_set(err, TTALLOC_ENOMEM, "out of memory");
	if (history_init(&st->history, cfg->history_samples, cfg->history_interval_ms, st->devices.count,
			 HISTORY_DEFAULT_SERIES) < 0)
		return error_set(err, TTALLOC_ENOMEM, "out of memory for %u history samples (--history-samples)",
				 cfg->history_samples);
	char dir[DEVICE_PATH_MAX];
	if (!device_hw_path(&st->devices, dir, sizeof(dir), TTMETAL_SHM_DIR))
		return error_set(err, TTALLOC_EINVAL, "hardware root too long for %s", TTMETAL_SHM_DIR);
	ttmetal_view_init(&st->shm, cfg->ttmetal_shm, dir);
	containers_init(&st->containers, st->devices.hw_root);
	return 0;
}

void state_release(struct state *st)
{
	containers_release(&st->containers);
	ttmetal_view_release(&st->shm);
	history_release(&st->history);
	holders_view_release(&st->holders);
	leak_history_release(&st->leaks);
	marks_release(&st->marks);
	misuse_release(&st->misuse);
	oom_release(&st->ooms);
	stack_pool_release(&st->stack_pool);
	registry_release(&st->registry);
	device_set_close(&st->devices);
}

uint64_t state_end_batch(struct state *st)
{
	uint64_t touched = st->touched_devices;
	if (touched || st->changed)
		st->change_seq++;
	st->touched_devices = 0;
	st->changed = 0;
	return touched;
}
