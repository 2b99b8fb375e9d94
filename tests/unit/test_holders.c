/*
 * test_holders.c - who holds each device, the kernel's view against
 * ttalloc's, through every layer: the cached scan (holders_view.c) with
 * names and users from /proc under --hw-root; the server's rows
 * (holders.c: untracked, vanished, reporting processes left out) and its
 * HOLDER_QUERY and HISTORY_QUERY answers (queries.c); tt_smi's table and
 * --json with those rows, and its hardware view without the server
 * (hardware.c).
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <poll.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "../support/socket_read.h"
#include "../support/text_assert.h"
#include "common/clock.h"
#include "common/log.h"
#include "common/unix_socket.h"
#include "hw_tree.h"
#include "server/server.h"
#include "server/state/holders.h"
#include "smi/smi.h"

#define MiB (1024ull * 1024ull)
#define GiB (1024ull * MiB)

/* ---- a hardware tree: the n150 fixture with our own holders ---- */

static char root[256];

/*
 * The n150 card, its pids file listing 77 (twice: two fds), 88 and 4242;
 * 77 is "burner" of uid 1234, 88 has no readable /proc entry.
 */
static int make_tree(void **state)
{
	(void)state;
	char cmd[1024];
	if (!hw_tempdir(root, sizeof(root)))
		return -1;
	snprintf(cmd, sizeof(cmd), "cp -a '%s/n150/.' '%s/'", TTALLOC_FIXTURES, root);
	if (system(cmd) != 0)
		return -1;
	if (hw_write(root, "proc/driver/tenstorrent/0/pids", "77\n77\n88\n4242\n") < 0 ||
	    hw_write(root, "proc/77/comm", "burner\n") < 0 ||
	    hw_write(root, "proc/77/status", "Name:\tburner\nUmask:\t0022\nState:\tS\nUid:\t1234\t1234\t1234\t1234\n") <
		    0 ||
	    hw_write(root, "proc/4242/comm", "tt-metal\n") < 0)
		return -1;
	log_set_level(LOG_ERROR);
	return 0;
}

static int remove_tree(void **state)
{
	(void)state;
	hw_remove(root);
	return 0;
}

static const struct holder_entry *row_of(const struct holder_entry *rows, int n, int32_t pid)
{
	for (int i = 0; i < n; i++)
		if (rows[i].pid == pid)
			return &rows[i];
	return NULL;
}

/* ---- holders_view.c ---- */

static void test_scan_reads_each_holders_name_and_user_under_the_root(void **state)
{
	(void)state;
	struct device_set set;
	struct holders_view v = HOLDERS_VIEW_INIT;
	hw_open_set(&set, root, "tenstorrent");
	assert_int_equal(holders_view_scan(&v, &set), 0);
	assert_int_equal(v.available, 1);
	assert_int_equal(v.kernel[0].count, 4); /* 77, 88, 4242 from the pids file; 4243 by its fd link */
	struct holder_entry rows[8];
	int n = holders_view_rows(&v, 0, NULL, 0, 0, rows, 8);
	assert_int_equal(n, 4);
	const struct holder_entry *burner = row_of(rows, n, 77);
	assert_non_null(burner);
	assert_int_equal(burner->state, DEVICE_HOLDER_UNTRACKED);
	assert_int_equal(burner->flags, DEVICE_PROC_DRIVER);
	assert_string_equal(burner->id.comm, "burner");
	assert_int_equal(burner->id.uid_known, 1);
	assert_int_equal(burner->id.uid, 1234);
	const struct holder_entry *unknown = row_of(rows, n, 88);
	assert_non_null(unknown);
	assert_string_equal(unknown->id.comm, "");
	assert_int_equal(unknown->id.uid_known, 0);
	const struct holder_entry *fd_only = row_of(rows, n, 4243);
	assert_non_null(fd_only);
	assert_int_equal(fd_only->flags, DEVICE_PROC_FD); /* in /proc/4243/fd, not in the pids file */
	assert_string_equal(row_of(rows, n, 4242)->id.comm, "tt-metal");
	holders_view_release(&v);
	device_set_close(&set);
}

static void test_tracked_vanished_and_own_pid(void **state)
{
	(void)state;
	struct device_set set;
	struct holders_view v = HOLDERS_VIEW_INIT;
	hw_open_set(&set, root, "tenstorrent");
	assert_int_equal(holders_view_scan(&v, &set), 0);
	int32_t tracked[] = {4242, 99};
	struct holder_entry rows[8];
	int n = holders_view_rows(&v, 0, tracked, 2, 88, rows, 8);
	assert_int_equal(n, 4); /* 4242, 99, then 77 and 4243; 88 is "us" */
	assert_int_equal(rows[0].pid, 4242);
	assert_int_equal(rows[0].state, DEVICE_HOLDER_TRACKED);
	assert_int_equal(rows[1].pid, 99);
	assert_int_equal(rows[1].state, DEVICE_HOLDER_VANISHED); /* the pids file is authoritative */
	assert_int_equal(rows[2].pid, 77);
	assert_int_equal(rows[2].state, DEVICE_HOLDER_UNTRACKED);
	assert_null(row_of(rows, n, 88));
	holders_view_release(&v);
	device_set_close(&set);
}

static void test_simulated_devices_have_no_view_and_allocate_nothing(void **state)
{
	(void)state;
	struct device_set set;
	struct holders_view v = HOLDERS_VIEW_INIT;
	hw_open_set(&set, NULL, "sim");
	assert_int_equal(holders_view_available(&set.devices[0]), 0);
	assert_int_equal(holders_view_scan(&v, &set), 0);
	assert_int_equal(v.available, 0);
	assert_null(v.kernel);
	int32_t tracked[] = {12345};
	struct holder_entry rows[4];
	assert_int_equal(holders_view_rows(&v, 0, tracked, 1, 0, rows, 4), 1);
	assert_int_equal(rows[0].state, DEVICE_HOLDER_TRACKED); /* who holds it is unknown: never "vanished" */
	holders_view_release(&v);
	device_set_close(&set);
}

/* ---- the server: holders.c and queries.c ---- */

struct fixture {
	struct server s;
	struct connection *c;
	int client;
};

static int server_setup(void **state)
{
	struct fixture *f = calloc(1, sizeof(*f));
	if (!f)
		return -1;
	char err[ERR_LEN];
	log_set_level(LOG_ERROR);
	struct server_options opts;
	server_options_defaults(&opts);
	opts.devices = "tenstorrent";
	opts.hw_root = root;
	opts.leak_history = 16;
	opts.history_samples = 8;
	opts.ttmetal_shm = 0;
	if (server_core_open(&f->s, &opts, err) < 0)
		return -1;
	int sv[2];
	if (socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sv) < 0 || unix_socket_set_nonblocking(sv[0]) < 0)
		return -1;
	f->c = ingest_adopt(&f->s.ingest, sv[0]);
	f->client = sv[1];
	*state = f;
	return f->c ? 0 : -1;
}

static int server_teardown(void **state)
{
	struct fixture *f = *state;
	server_core_close(&f->s);
	close(f->client);
	free(f);
	return 0;
}

/* A process that reported a buffer on device 0 (registry_attach as a connection would). */
static void reporter(struct server *s, pid_t pid, uint64_t bytes)
{
	uint32_t p = registry_attach(&s->state.registry, pid, 1000);
	assert_true(p != REGISTRY_NONE);
	assert_int_equal(registry_alloc(&s->state.registry, p, 0, TTALLOC_DRAM, 0x1000, bytes, clock_monotonic_ns()),
			 REGISTRY_OK);
}

static void read_frame(int fd, struct proto_msg *m)
{
	read_exact(fd, m, sizeof(*m));
}

/* Sends `req` and reads rows until ROWS_END; returns the row count. */
static int ask_rows(struct fixture *f, const struct proto_msg *req, struct proto_msg *rows, int max)
{
	connection_feed(f->c, (const uint8_t *)req, sizeof(*req));
	int n = 0;
	for (;;) {
		struct proto_msg m;
		read_frame(f->client, &m);
		if (m.type == PROTO_ROWS_END) {
			assert_int_equal(m.size, (uint64_t)n);
			return n;
		}
		assert_true(n < max);
		rows[n++] = m;
	}
}

static void test_server_rows_untracked_vanished_and_reporters_left_out(void **state)
{
	struct fixture *f = *state;
	struct server *s = &f->s;
	reporter(s, 4242, 3 * MiB); /* listed by the driver: tracked */
	reporter(s, 99, 1 * MiB);   /* not listed: vanished */
	s->state.registry.processes[registry_find_pid(&s->state.registry, 99)].first_seen_ns =
		1;                                     /* long before the scan */
	registry_attach(&s->state.registry, 88, 1000); /* connected, no buffers: not "untracked" */
	int n = 0;
	struct holder_entry *rows = holders_rows(&s->state, 0, &n);
	assert_non_null(rows);
	assert_int_equal(n, 4); /* 4242, 99, 77, 4243 */
	assert_int_equal(row_of(rows, n, 4242)->state, DEVICE_HOLDER_TRACKED);
	assert_int_equal(row_of(rows, n, 99)->state, DEVICE_HOLDER_VANISHED);
	assert_int_equal(row_of(rows, n, 77)->state, DEVICE_HOLDER_UNTRACKED);
	assert_string_equal(row_of(rows, n, 77)->id.comm, "burner");
	assert_int_equal(row_of(rows, n, 4243)->state, DEVICE_HOLDER_UNTRACKED);
	assert_null(row_of(rows, n, 88));
	free(rows);
}

static void test_a_process_that_reports_after_the_scan_is_not_vanished_yet(void **state)
{
	struct fixture *f = *state;
	struct server *s = &f->s;
	holders_tick(&s->state); /* scanned before 99 ever reported */
	reporter(s, 99, 1 * MiB);
	int n = 0;
	struct holder_entry *rows = holders_rows(&s->state, 0, &n);
	assert_non_null(rows);
	assert_int_equal(row_of(rows, n, 99)->state, DEVICE_HOLDER_TRACKED);
	free(rows);
	/* the tick within the second does not scan again */
	uint64_t scanned = s->state.holders.scanned_mono_ns;
	holders_tick(&s->state);
	assert_int_equal(s->state.holders.scanned_mono_ns, scanned);
}

static void test_holder_query_answers_rows_with_identity(void **state)
{
	struct fixture *f = *state;
	reporter(&f->s, 99, 1 * MiB);
	f->s.state.registry.processes[registry_find_pid(&f->s.state.registry, 99)].first_seen_ns = 1; /* long ago */
	struct proto_msg req, rows[16];
	proto_msg_init(&req, PROTO_HOLDER_QUERY, -1);
	int n = ask_rows(f, &req, rows, 16);
	assert_int_equal(n, 5); /* 99 (vanished), 77, 88, 4242, 4243 */
	int seen = 0;
	for (int i = 0; i < n; i++) {
		assert_int_equal(rows[i].type, PROTO_HOLDER_ROW);
		assert_int_equal(rows[i].device_id, 0);
		assert_true(rows[i].timestamp > 0);
		const struct proto_holder_payload *h = &rows[i].u.holder;
		if (rows[i].process_id == 99) {
			assert_int_equal(h->state, PROTO_HOLDER_VANISHED);
			seen |= 1;
		} else if (rows[i].process_id == 77) {
			assert_int_equal(h->state, PROTO_HOLDER_UNTRACKED);
			assert_int_equal(h->flags, PROTO_HOLDER_DRIVER | PROTO_HOLDER_UID);
			assert_int_equal(h->uid, 1234);
			assert_string_equal(h->comm, "burner");
			seen |= 2;
		} else if (rows[i].process_id == 88) {
			assert_int_equal(h->flags, PROTO_HOLDER_DRIVER); /* no uid known */
			assert_string_equal(h->comm, "");
			seen |= 4;
		}
	}
	assert_int_equal(seen, 7);
	/* a device that does not exist is refused with an ERROR frame */
	proto_msg_init(&req, PROTO_HOLDER_QUERY, 5);
	connection_feed(f->c, (const uint8_t *)&req, sizeof(req));
	struct proto_msg ans;
	read_frame(f->client, &ans);
	assert_int_equal(ans.type, PROTO_ERROR);
	assert_int_equal(ans.u.error.reason, PROTO_ERR_BAD_DEVICE);
}

static void test_hello_ack_offers_holders_history_ring_sessions_and_diagnosis(void **state)
{
	struct fixture *f = *state;
	struct proto_msg req, ans;
	proto_msg_init(&req, PROTO_HELLO, -1);
	req.u.hello.version = PROTO_EXT_VERSION;
	connection_feed(f->c, (const uint8_t *)&req, sizeof(req));
	read_frame(f->client, &ans);
	assert_int_equal(ans.type, PROTO_HELLO_ACK);
	assert_int_equal(ans.u.hello.features,
			 PROTO_FEATURE_HOLDERS | PROTO_FEATURE_HISTORY | PROTO_FEATURE_RING | PROTO_FEATURE_SESSIONS |
				 PROTO_FEATURE_BUFFERS | PROTO_FEATURE_DIAG | PROTO_FEATURE_IDENTITY);
}

/* ---- history: the window and HISTORY_QUERY ---- */

static void test_history_window_cuts_the_span_into_whole_buckets(void **state)
{
	(void)state;
	struct history h;
	struct history_window w;
	assert_int_equal(history_init(&h, 3600, 1000, 1, 1), 0);
	h.next = 10;
	history_window(&h, 300, 60, &w); /* 300 samples in 60 buckets of 5 */
	assert_int_equal(w.step, 5);
	assert_int_equal(w.buckets, 60);
	assert_int_equal(w.first, 10 - 300);
	history_window(&h, 300, 47, &w); /* 7 samples a bucket: 43 buckets, 301 samples */
	assert_int_equal(w.step, 7);
	assert_int_equal(w.buckets, 43);
	history_window(&h, 0, 600, &w); /* everything the ring keeps */
	assert_int_equal(w.step * w.buckets, 3600);
	history_window(&h, 1000000, 10, &w); /* never more than the ring */
	assert_int_equal(w.step * w.buckets, 3600);
	h.interval_ms = 100;
	history_window(&h, 2, 100, &w); /* 20 samples of 100 ms, one a bucket */
	assert_int_equal(w.step, 1);
	assert_int_equal(w.buckets, 20);
	history_release(&h);
}

static void test_history_query_answers_peaks_oldest_first(void **state)
{
	struct fixture *f = *state;
	struct server *s = &f->s;
	uint32_t p = registry_attach(&s->state.registry, 4242, 1000);
	/* samples 0..5: 0, 1, 4, 2, 0, 3 MiB of DRAM on device 0 */
	static const uint64_t mib[] = {0, 1, 4, 2, 0, 3};
	for (int n = 0; n < 6; n++) {
		if (n > 0 && mib[n - 1])
			registry_free(&s->state.registry, p, 0, 0x1000, &(struct live_buffer){0}, &(pid_t){0});
		if (mib[n])
			registry_alloc(&s->state.registry, p, 0, TTALLOC_DRAM, 0x1000, mib[n] * MiB, 0);
		history_sample(&s->state.history, &s->state.registry, NULL, 1000000 + 1000 * (uint64_t)n);
	}
	struct proto_msg req, rows[16];
	proto_msg_init(&req, PROTO_HISTORY_QUERY, 0);
	req.u.history.seconds = 8; /* 8 samples, 2 per bucket: the first bucket is before the start */
	req.u.history.points = 4;
	int n = ask_rows(f, &req, rows, 16);
	assert_int_equal(n, 4);
	static const uint64_t peak[] = {0, 1, 4, 3};
	for (int b = 0; b < 4; b++) {
		const struct proto_history_payload *h = &rows[b].u.history;
		assert_int_equal(rows[b].type, PROTO_HISTORY_ROW);
		assert_int_equal(rows[b].device_id, 0);
		assert_int_equal(h->index, b);
		assert_int_equal(h->points, 4);
		assert_int_equal(h->step_ms, 2000);
		assert_int_equal(h->interval_ms, 1000);
		assert_int_equal(h->seconds, 8);
		assert_int_equal(h->flags, b == 0 ? 0 : PROTO_HISTORY_VALID);
		assert_int_equal(h->used[0], peak[b] * MiB);
		assert_int_equal(h->time_ms, b == 0 ? 0 : 1000000 + 1000 * (uint64_t)(2 * b - 1));
	}
	/* every device, points capped */
	proto_msg_init(&req, PROTO_HISTORY_QUERY, -1);
	req.u.history.points = 100000;
	struct proto_msg many[32];
	n = ask_rows(f, &req, many, 32);
	assert_int_equal(n, 8); /* one device, the ring's 8 samples, one a bucket */
}

/* ---- tt_smi: the table, --json and the hardware view ---- */

static struct strbuf screen = STRBUF_INIT;

static const char *render(const struct snapshot *snap, int columns)
{
	struct smi_view view = {.snap = snap, .now = 1762179825, .columns = columns, .mode = SMI_MODE_ONE_SHOT};
	strbuf_reset(&screen);
	assert_int_equal(smi_render(&screen, &view), 0);
	return strbuf_str(&screen);
}

static void assert_box_width(const char *text, int columns)
{
	for (const char *line = text, *end; (end = strchr(line, '\n')) != NULL; line = end + 1) {
		char buf[4096];
		snprintf(buf, sizeof(buf), "%.*s", (int)(end - line), line);
		if (strncmp(buf, "┌", 3) && strncmp(buf, "│", 3) && strncmp(buf, "├", 3) && strncmp(buf, "└", 3))
			break;
		assert_int_equal(smi_text_width(buf), columns);
	}
}

static void test_table_lists_untracked_holders_and_flags_vanished_ones(void **state)
{
	(void)state;
	struct snapshot_device dev = {.index = 0};
	dev.seed.total_dram_size = 12 * GiB;
	dev.seed.total_l1_size = 108 * MiB;
	dev.seed.dram_allocated = 5 * MiB;
	snprintf(dev.status.name, sizeof(dev.status.name), "Wormhole_B0");
	struct snapshot_process procs[2] = {{.pid = 4242, .device = 0, .buffers = 1},
					    {.pid = 99, .device = 0, .buffers = 1}};
	procs[0].usage.used[0] = 4 * MiB;
	procs[1].usage.used[0] = 1 * MiB;
	snprintf(procs[0].usage.comm, sizeof(procs[0].usage.comm), "python");
	snprintf(procs[1].usage.comm, sizeof(procs[1].usage.comm), "worker");
	snprintf(procs[0].user, sizeof(procs[0].user), "ttuser");
	snprintf(procs[1].user, sizeof(procs[1].user), "ttuser");
	struct snapshot_holder holders[3];
	memset(holders, 0, sizeof(holders));
	holders[0] = (struct snapshot_holder){.pid = 77, .device = 0};
	holders[0].row.state = PROTO_HOLDER_UNTRACKED;
	holders[0].row.flags = PROTO_HOLDER_DRIVER | PROTO_HOLDER_UID;
	snprintf(holders[0].row.comm, sizeof(holders[0].row.comm), "burner");
	snprintf(holders[0].user, sizeof(holders[0].user), "alice");
	holders[1] = (struct snapshot_holder){.pid = 99, .device = 0};
	holders[1].row.state = PROTO_HOLDER_VANISHED;
	holders[2] = (struct snapshot_holder){.pid = 55, .device = 0};
	holders[2].row.state = PROTO_HOLDER_UNTRACKED;
	holders[2].row.flags = PROTO_HOLDER_DRIVER | PROTO_HOLDER_MEMORY;
	holders[2].row.memory = 2 * GiB; /* NVML knows this one's memory */
	snprintf(holders[2].row.comm, sizeof(holders[2].row.comm), "cuda_app");
	struct snapshot snap = {.num_devices = 1,
				.devices = &dev,
				.num_processes = 2,
				.processes = procs,
				.num_holders = 3,
				.holders = holders};
	const char *out = render(&snap, SMI_DEFAULT_COLUMNS);
	assert_box_width(out, SMI_DEFAULT_COLUMNS);
	assert_contains(out, "│   0     99       ttuser    worker (vanished)               1MB     0MB         │");
	assert_contains(out, "│   0     4242     ttuser    python                          4MB     0MB         │");
	assert_contains(out, "│   0     55       ?         cuda_app (untracked)            2.0GB   N/A         │");
	assert_contains(out, "│   0     77       alice     burner (untracked)              N/A     N/A         │");
	assert_contains(out, "(untracked): holds the device but never reported to ttalloc; memory N/A");
	assert_contains(out, "(vanished): reported buffers, but the driver no longer lists it");
	assert_lacks(out, "No processes using this device");
	assert_contains(out, "Server Status: ✅ Connected");
	/* tracked rows first (by pid), then the untracked ones (by pid) */
	assert_true(strstr(out, "4242") < strstr(out, " 55 "));
	assert_box_width(render(&snap, SMI_MIN_COLUMNS), SMI_MIN_COLUMNS);

	/* --json: tracked rows say so; untracked ones have null memory (or NVML's) */
	struct strbuf json = STRBUF_INIT;
	assert_int_equal(smi_json_snapshot(&json, &snap, 1), 0);
	const char *j = strbuf_str(&json);
	assert_contains(j, "\"pid\":99,");
	assert_contains(j, "\"vanished\":true");
	assert_contains(j, "\"pid\":77,\"name\":\"burner\",\"user\":\"alice\",");
	assert_contains(j, "\"source\":\"kernel\",\"tracked\":false,\"vanished\":false,");
	assert_contains(j,
			"\"devices\":[{\"device_id\":0,\"dram_allocated\":null,\"l1_allocated\":null,"
			"\"l1_small_allocated\":null,\"trace_allocated\":null,\"cb_allocated\":null,"
			"\"kernel_allocated\":null,\"system_memory_allocated\":null,\"buffer_count\":null,"
			"\"vanished\":false,\"used_bytes\":null,\"seen_by\":[\"driver\"]}]");
	assert_contains(j, "\"pid\":55,\"name\":\"cuda_app\",\"user\":null,");
	assert_contains(j, "\"used_bytes\":2147483648");
	strbuf_release(&json);
}

static void test_hardware_view_shows_the_devices_without_the_server(void **state)
{
	(void)state;
	char n300[512], err[DEVICE_ERR_LEN];
	snprintf(n300, sizeof(n300), "%s/n300", TTALLOC_FIXTURES);
	struct smi_hardware hw;
	memset(&hw, 0, sizeof(hw));
	assert_int_equal(smi_hardware_open(&hw, NULL, n300, err), 1);
	struct snapshot snap = SNAPSHOT_INIT;
	assert_int_equal(smi_hardware_snapshot(&hw, &snap), 0);
	assert_int_equal(snap.hardware_only, 1);
	assert_int_equal(snap.num_devices, 2);
	assert_int_equal(snap.devices[0].seed.total_dram_size, 12 * GiB);
	assert_int_equal(snap.devices[1].seed.total_l1_size, 96 * MiB);
	assert_int_equal(snap.devices[0].status.temperature_mc, 52937);
	assert_int_equal(snap.devices[0].status.valid, PROTO_STATUS_TEMPERATURE | PROTO_STATUS_POWER);
	assert_int_equal(snap.devices[1].status.valid, 0); /* the remote chip: readings N/A */
	assert_int_equal(snap.num_holders, 4);             /* 5000 and 5001 on each chip */
	for (size_t i = 0; i < snap.num_holders; i++)
		assert_int_equal(snap.holders[i].row.state, PROTO_HOLDER_UNTRACKED);
	const char *out = render(&snap, SMI_DEFAULT_COLUMNS);
	assert_box_width(out, SMI_DEFAULT_COLUMNS);
	assert_contains(out, "│ 0      Wormhole_B0      53°C    61W       DRAM:    N/A / 12.0GB            N/A │");
	/* the card's serial and the chip's PCI address under its name; the remote chip has no address */
	assert_contains(out, "│        010001851172E02A 0000:02:00.0      L1:      N/A / 96MB                  │");
	assert_contains(out, "│        010001851172E02A                   L1:      N/A / 96MB                  │");
	assert_contains(out, "│ 1      Wormhole_B0      N/A     N/A       DRAM:    N/A / 12.0GB            N/A │");
	assert_contains(out, "│   1     5001     ?         ?                               N/A     N/A         │");
	assert_lacks(out, "(untracked)"); /* without the server every holder is unknown, not "untracked" */
	assert_contains(out,
			"Server Status: ❌ Not running — hardware view only (no allocation data) | "
			"Updates: One-shot");
	snapshot_release(&snap);
	smi_hardware_close(&hw);
}

static void test_no_hardware_means_no_hardware_view(void **state)
{
	(void)state;
	char empty[256], err[DEVICE_ERR_LEN];
	struct smi_hardware hw;
	assert_non_null(hw_tempdir(empty, sizeof(empty)));
	memset(&hw, 0, sizeof(hw));
	assert_int_equal(smi_hardware_open(&hw, NULL, empty, err), 0); /* auto: only the simulation */
	smi_hardware_close(&hw);
	assert_int_equal(smi_hardware_open(&hw, "sim", NULL, err), 0);
	smi_hardware_close(&hw);
	assert_int_equal(smi_hardware_open(&hw, "tenstorrent", empty, err), -1);
	assert_contains(err, "found no devices");
	smi_hardware_close(&hw);
	hw_remove(empty);
}

static int smi_teardown(void **state)
{
	(void)state;
	strbuf_release(&screen);
	return 0;
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_scan_reads_each_holders_name_and_user_under_the_root),
		cmocka_unit_test(test_tracked_vanished_and_own_pid),
		cmocka_unit_test(test_simulated_devices_have_no_view_and_allocate_nothing),
		cmocka_unit_test_setup_teardown(test_server_rows_untracked_vanished_and_reporters_left_out,
						server_setup, server_teardown),
		cmocka_unit_test_setup_teardown(test_a_process_that_reports_after_the_scan_is_not_vanished_yet,
						server_setup, server_teardown),
		cmocka_unit_test_setup_teardown(test_holder_query_answers_rows_with_identity, server_setup,
						server_teardown),
		cmocka_unit_test_setup_teardown(test_hello_ack_offers_holders_history_ring_sessions_and_diagnosis,
						server_setup, server_teardown),
		cmocka_unit_test(test_history_window_cuts_the_span_into_whole_buckets),
		cmocka_unit_test_setup_teardown(test_history_query_answers_peaks_oldest_first, server_setup,
						server_teardown),
		cmocka_unit_test(test_table_lists_untracked_holders_and_flags_vanished_ones),
		cmocka_unit_test(test_hardware_view_shows_the_devices_without_the_server),
		cmocka_unit_test(test_no_hardware_means_no_hardware_view),
	};
	int rc = cmocka_run_group_tests(tests, make_tree, remove_tree);
	smi_teardown(NULL);
	return rc;
}
