/*
 * snapshot_fixture.h - hand-made snapshots for tt_smi's unit tests: one
 * snapshot `snap` over room for SNAPSHOT_FIXTURE_DEVICES devices and
 * SNAPSHOT_FIXTURE_PROCESSES processes, emptied before each test, devices
 * and processes added as the simulator and the server would report them,
 * and `rendered`, the text a test makes from the snapshot. Include after
 * <cmocka.h>, once per test program.
 */
#ifndef TTALLOC_TEST_SNAPSHOT_FIXTURE_H
#define TTALLOC_TEST_SNAPSHOT_FIXTURE_H

#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/types.h>
#include <time.h>

#include "common/query.h"
#include "smi/smi.h"

#define SNAPSHOT_FIXTURE_DEVICES 4
#define SNAPSHOT_FIXTURE_PROCESSES 8

#ifndef MiB
#define MiB (1024ull * 1024ull)
#endif
#ifndef GiB
#define GiB (1024ull * MiB)
#endif

static struct snapshot_device devices[SNAPSHOT_FIXTURE_DEVICES];
static struct snapshot_process processes[SNAPSHOT_FIXTURE_PROCESSES];
static struct snapshot snap;
static struct strbuf rendered = STRBUF_INIT;

/* cmocka setup: times in UTC, an empty snapshot over the arrays above, nothing rendered. */
static inline int snapshot_fixture_setup(void **state)
{
	(void)state;
	setenv("TZ", "UTC", 1);
	tzset();
	memset(&snap, 0, sizeof(snap));
	snap.devices = devices;
	snap.processes = processes;
	strbuf_reset(&rendered);
	return 0;
}

/* cmocka teardown: frees what was rendered. */
static inline int snapshot_fixture_teardown(void **state)
{
	(void)state;
	strbuf_release(&rendered);
	return 0;
}

/*
 * The next device: a Wormhole_B0 with 12 GiB DRAM and 1440 MiB L1 that
 * reports temperature (millidegrees) and power (milliwatts), no utilization.
 */
static inline struct snapshot_device *snapshot_add_device(int temperature_mc, uint32_t power_mw)
{
	assert_true(snap.num_devices < SNAPSHOT_FIXTURE_DEVICES);
	struct snapshot_device *d = &devices[snap.num_devices];
	memset(d, 0, sizeof(*d));
	d->index = (int)snap.num_devices++;
	d->seed.total_dram_size = 12 * GiB;
	d->seed.total_l1_size = 1440 * MiB;
	d->seed.arch_type = PROTO_ARCH_WORMHOLE_B0;
	d->status.temperature_mc = temperature_mc;
	d->status.power_mw = power_mw;
	d->status.valid = PROTO_STATUS_TEMPERATURE | PROTO_STATUS_POWER;
	snprintf(d->status.name, sizeof(d->status.name), "Wormhole_B0");
	return d;
}

/*
 * The next process row: `user`'s `comm` holding `dram` and `l1` bytes in one
 * buffer on `device`. A device of the snapshot counts the process and its
 * bytes in its totals; a device it does not list is left as the server's
 * stray row would be.
 */
static inline struct snapshot_process *snapshot_add_process(int device, pid_t pid, const char *user, const char *comm,
							    uint64_t dram, uint64_t l1)
{
	assert_true(snap.num_processes < SNAPSHOT_FIXTURE_PROCESSES);
	struct snapshot_process *p = &processes[snap.num_processes++];
	memset(p, 0, sizeof(*p));
	p->pid = pid;
	p->device = device;
	p->buffers = 1;
	p->usage.used[SMI_USED_DRAM] = dram;
	p->usage.used[SMI_USED_L1] = l1;
	snprintf(p->usage.comm, sizeof(p->usage.comm), "%s", comm);
	snprintf(p->user, sizeof(p->user), "%s", user);
	if (device >= 0 && device < (int)snap.num_devices && device < SNAPSHOT_FIXTURE_DEVICES) {
		devices[device].seed.dram_allocated += dram;
		devices[device].seed.l1_allocated += l1;
		devices[device].status.processes++;
	}
	return p;
}

#endif /* TTALLOC_TEST_SNAPSHOT_FIXTURE_H */
