/*
 * test_device_holders.c - which processes hold a device, as the kernel sees
 * it (device_set_holders): tt-kmd's pids file (one line per open fd,
 * deduplicated here) and /proc/PID/fd links, under --hw-root; and the
 * comparison with what processes reported (device_holders_compare), which
 * is how tt_smi, JSON and /metrics list untracked and vanished processes.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <string.h>

#include "devices/device.h"
#include "hw_tree.h"

static void open_fixture(struct device_set *set, const char *name)
{
	char root[512];
	snprintf(root, sizeof(root), "%s/%s", TTALLOC_FIXTURES, name);
	hw_open_set(set, root, "tenstorrent");
}

static struct device_holders holders[PROTO_MAX_DEVICES];

static void test_pids_file_is_deduplicated_and_matches_fd_links(void **state)
{
	(void)state;
	struct device_set set;
	open_fixture(&set, "n150");
	assert_int_equal(device_set_holders(&set, holders), 0);
	const struct device_holders *h = &holders[0];
	assert_int_equal(h->authoritative, 1);
	assert_int_equal(h->truncated, 0);
	assert_int_equal(h->count, 2); /* pids file: 4242 4242 4243 */
	assert_int_equal(h->procs[0].pid, 4242);
	assert_int_equal(h->procs[0].flags, DEVICE_PROC_DRIVER | DEVICE_PROC_FD);
	assert_int_equal(h->procs[1].pid, 4243);
	assert_int_equal(h->procs[1].flags, DEVICE_PROC_DRIVER | DEVICE_PROC_FD);
	assert_null(device_holders_find(h, 4250)); /* has only /dev/null open */
	device_set_close(&set);
}

static void test_remote_chip_shares_the_cards_holders(void **state)
{
	(void)state;
	struct device_set set;
	open_fixture(&set, "n300");
	assert_int_equal(device_set_holders(&set, holders), 0);
	for (int d = 0; d < 2; d++) {
		const struct device_holders *h = &holders[d];
		assert_int_equal(h->authoritative, 1);
		assert_int_equal(h->count, 2); /* 5000 x3 and 5001 in the pids file */
		assert_non_null(device_holders_find(h, 5000));
		assert_non_null(device_holders_find(h, 5001));
		assert_null(device_holders_find(h, 5002)); /* /dev/nvidiactl is not ours */
	}
	device_set_close(&set);
}

static void test_each_card_has_its_own_holders(void **state)
{
	(void)state;
	struct device_set set;
	open_fixture(&set, "p150");
	assert_int_equal(device_set_holders(&set, holders), 0);
	assert_int_equal(holders[0].count, 1);
	assert_int_equal(holders[0].procs[0].pid, 6100);
	assert_int_equal(holders[1].count, 0);
	assert_int_equal(holders[1].authoritative, 1); /* an empty pids file: nobody */
	device_set_close(&set);
}

static void test_fd_links_alone_are_not_authoritative(void **state)
{
	(void)state;
	char root[128];
	assert_non_null(hw_tempdir(root, sizeof(root)));
	assert_int_equal(hw_write(root, "dev/tenstorrent/0", ""), 0);
	assert_int_equal(hw_write(root, "dev/tenstorrent/1", ""), 0);
	assert_int_equal(hw_link(root, "proc/700/fd/3", "/dev/tenstorrent/1"), 0);
	assert_int_equal(hw_link(root, "proc/700/fd/4", "/dev/tenstorrent/1"), 0);
	assert_int_equal(hw_link(root, "proc/701/fd/3", "/dev/tenstorrent/10"), 0); /* not N=1 */
	assert_int_equal(hw_write(root, "proc/702/comm", "no fd dir\n"), 0);
	assert_int_equal(hw_write(root, "proc/self/fd/3", ""), 0); /* not a pid */
	assert_int_equal(hw_write(root, "proc/driver/tenstorrent/0/pids", "12\nnot-a-pid\n12 13\n-4\n\n"), 0);
	struct device_set set;
	hw_open_set(&set, root, "tenstorrent");
	assert_int_equal(device_set_holders(&set, holders), 0);
	/* device 0: pids file with one valid line (malformed ones are skipped) */
	assert_int_equal(holders[0].authoritative, 1);
	assert_int_equal(holders[0].count, 1);
	assert_int_equal(holders[0].procs[0].pid, 12);
	assert_int_equal(holders[0].procs[0].flags, DEVICE_PROC_DRIVER);
	/* device 1: no pids file, one process with two fds */
	assert_int_equal(holders[1].authoritative, 0);
	assert_int_equal(holders[1].count, 1);
	assert_int_equal(holders[1].procs[0].pid, 700);
	assert_int_equal(holders[1].procs[0].flags, DEVICE_PROC_FD);
	device_set_close(&set);
	hw_remove(root);
}

static void test_simulated_devices_have_no_kernel_view(void **state)
{
	(void)state;
	struct device_set set;
	char err[DEVICE_ERR_LEN];
	assert_int_equal(device_set_open(&set, "sim:2", err), 0);
	memset(holders, 0xff, sizeof(holders));
	assert_int_equal(device_set_holders(&set, holders), 0);
	assert_int_equal(holders[0].count, 0);
	assert_int_equal(holders[0].authoritative, 0);
	assert_int_equal(holders[1].count, 0);
	assert_int_equal(device_set_holders(&set, NULL), -1);
	device_set_close(&set);
}

static void test_holders_add_merges_and_caps(void **state)
{
	(void)state;
	struct device_holders h;
	memset(&h, 0, sizeof(h));
	device_holders_add(&h, 10, DEVICE_PROC_DRIVER | DEVICE_PROC_MEMORY, 100);
	device_holders_add(&h, 10, DEVICE_PROC_FD, 0);
	device_holders_add(&h, 10, DEVICE_PROC_MEMORY, 50); /* a second NVML list adds up */
	device_holders_add(&h, 0, DEVICE_PROC_FD, 0);       /* not a pid */
	device_holders_add(&h, -3, DEVICE_PROC_FD, 0);
	assert_int_equal(h.count, 1);
	assert_int_equal(h.procs[0].flags, DEVICE_PROC_DRIVER | DEVICE_PROC_MEMORY | DEVICE_PROC_FD);
	assert_int_equal(h.procs[0].memory, 150);
	for (int pid = 100; pid < 100 + DEVICE_MAX_PROCESSES + 5; pid++)
		device_holders_add(&h, pid, DEVICE_PROC_FD, 0);
	assert_int_equal(h.count, DEVICE_MAX_PROCESSES);
	assert_int_equal(h.truncated, 1);
}

static void test_compare_lists_untracked_and_vanished(void **state)
{
	(void)state;
	struct device_set set;
	open_fixture(&set, "n300");
	assert_int_equal(device_set_holders(&set, holders), 0);
	const int32_t tracked[] = {5000, 7777};
	struct device_holder_row rows[8];
	int n = device_holders_compare(&holders[0], tracked, 2, 0, rows, 8);
	assert_int_equal(n, 3);
	assert_int_equal(rows[0].pid, 5000);
	assert_int_equal(rows[0].state, DEVICE_HOLDER_TRACKED);
	assert_int_equal(rows[0].flags, DEVICE_PROC_DRIVER | DEVICE_PROC_FD);
	assert_int_equal(rows[1].pid, 7777);
	assert_int_equal(rows[1].state, DEVICE_HOLDER_VANISHED); /* reported, not in the pids file */
	assert_int_equal(rows[1].flags, 0);
	assert_int_equal(rows[2].pid, 5001);
	assert_int_equal(rows[2].state, DEVICE_HOLDER_UNTRACKED); /* holds it, never reported */
	assert_string_equal(device_holder_state_name(rows[2].state), "untracked");
	assert_string_equal(device_holder_state_name(rows[1].state), "vanished");
	assert_string_equal(device_holder_state_name(rows[0].state), "tracked");

	/* the monitor's own pid is left out; max bounds the rows */
	assert_int_equal(device_holders_compare(&holders[0], tracked, 2, 5001, rows, 8), 2);
	assert_int_equal(device_holders_compare(&holders[0], tracked, 2, 0, rows, 1), 1);

	/* without an authoritative list a missing pid may just be unreadable */
	holders[0].authoritative = 0;
	n = device_holders_compare(&holders[0], tracked, 2, 0, rows, 8);
	assert_int_equal(rows[1].pid, 7777);
	assert_int_equal(rows[1].state, DEVICE_HOLDER_TRACKED);
	/* nor with a truncated one */
	holders[0].authoritative = 1;
	holders[0].truncated = 1;
	n = device_holders_compare(&holders[0], tracked, 2, 0, rows, 8);
	assert_int_equal(rows[1].state, DEVICE_HOLDER_TRACKED);
	/* no kernel view at all: tracked rows only */
	assert_int_equal(device_holders_compare(NULL, tracked, 2, 0, rows, 8), 2);
	assert_int_equal(rows[1].state, DEVICE_HOLDER_TRACKED);
	(void)n;
	device_set_close(&set);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_pids_file_is_deduplicated_and_matches_fd_links),
		cmocka_unit_test(test_remote_chip_shares_the_cards_holders),
		cmocka_unit_test(test_each_card_has_its_own_holders),
		cmocka_unit_test(test_fd_links_alone_are_not_authoritative),
		cmocka_unit_test(test_simulated_devices_have_no_kernel_view),
		cmocka_unit_test(test_holders_add_merges_and_caps),
		cmocka_unit_test(test_compare_lists_untracked_and_vanished),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
