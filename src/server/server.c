/*
 * server.c - start-up, main loop and shutdown of the allocation server
 * (see server.h).
 */
#define _GNU_SOURCE
#include "clock.h"
#include "server.h"

#include <errno.h>
#include <grp.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/resource.h>
#include <sys/signalfd.h>
#include <unistd.h>

#include "format.h"
#include "http.h"
#include "log.h"
#include "systemd.h"
#include "unix_socket.h"

void server_options_defaults(struct server_options *opts)
{
	memset(opts, 0, sizeof(*opts));
	opts->socket_path = unix_socket_default_path();
	opts->devices = "auto";
	opts->socket_mode = 0660;
	opts->leak_lines = 100;
	opts->leak_history = 256;
	opts->max_connections = 4096;
	opts->max_buffers_per_process = 10000000;
	opts->errors_logged_per_connection = 20;
	opts->max_output_bytes = 16u << 20;
	opts->http_listen = HTTP_DEFAULT_LISTEN;
	opts->http_enabled = 1;
	opts->history_interval_ms = 1000;
	opts->history_samples = 3600;
	opts->ttmetal_shm = 1;
}

static void on_signal(struct event_loop *loop, struct event_handle *handle, uint32_t events)
{
	(void)events;
	struct signalfd_siginfo info;
	if (read(handle->fd, &info, sizeof(info)) == (ssize_t)sizeof(info))
		log_warn("\n🛑 Received %s, shutting down...", strsignal((int)info.ssi_signo));
	event_loop_stop(loop);
}

static void before_sleep(struct event_loop *loop, void *data)
{
	struct server *s = data;
	event_loop_set_timeout(loop, rings_poll(s));
	handle_print_totals(s);
	connection_log_refusals(s);
	http_before_sleep(s->http);
	connection_free_closed(s);
	log_flush();
}

static void on_history_timer(struct event_loop *loop, struct event_timer *timer)
{
	(void)loop;
	struct server *s = timer->data;
	history_sample(&s->history, &s->registry, clock_realtime_ns() / 1000000u);
	server_holders_tick(s);
}

/* Samples the registry now and every --history-interval ms. */
static int start_history(struct server *s)
{
	const struct server_options *o = &s->opts;
	if (history_init(&s->history, o->history_samples, o->history_interval_ms, s->devices.count,
			 HISTORY_DEFAULT_SERIES) < 0) {
		fprintf(stderr, "ttalloc-server: out of memory for %u history samples (--history-samples)\n",
			o->history_samples);
		return -1;
	}
	history_sample(&s->history, &s->registry, clock_realtime_ns() / 1000000u);
	uint64_t interval_ns = (uint64_t)o->history_interval_ms * 1000000u;
	if (event_timer_init(s->loop, &s->history_timer, on_history_timer, s) < 0 ||
	    event_timer_arm(&s->history_timer, interval_ns, interval_ns) < 0) {
		fprintf(stderr, "ttalloc-server: cannot start the history timer: %s\n", strerror(errno));
		return -1;
	}
	return 0;
}

/* Starts the HTTP endpoint unless --no-http; a taken port is fatal (see README). */
static int start_http(struct server *s)
{
	char err[HTTP_ERR_LEN];
	if (!s->opts.http_enabled)
		return 0;
	s->http = http_start(s, s->opts.http_listen, err);
	if (!s->http) {
		fprintf(stderr, "ttalloc-server: %s\n", err);
		return -1;
	}
	return 0;
}

static int watch_signals(struct server *s)
{
	sigset_t mask;
	sigemptyset(&mask);
	sigaddset(&mask, SIGINT);
	sigaddset(&mask, SIGTERM);
	if (sigprocmask(SIG_BLOCK, &mask, NULL) < 0)
		return -1;
	int fd = signalfd(-1, &mask, SFD_NONBLOCK | SFD_CLOEXEC);
	if (fd < 0)
		return -1;
	s->signals = (struct event_handle){.fd = fd, .fn = on_signal, .data = s};
	return event_loop_add(s->loop, &s->signals, EPOLLIN);
}

static void print_devices(const struct server *s)
{
	const struct device_set *set = &s->devices;
	char source[DEVICE_ERR_LEN];
	printf("🔍 Device detection (%s):\n", device_set_describe(set, source, sizeof(source)));
	for (int i = 0; i < set->count; i++) {
		const struct device *d = &set->devices[i];
		char dram[FORMAT_BYTES_LEN] = "N/A", l1[FORMAT_BYTES_LEN] = "N/A", label[128];
		if (DEVICE_INFO_VALID(&d->info, DEVICE_INFO_DRAM_TOTAL))
			format_bytes_compact(dram, sizeof(dram), d->info.dram_total, 0);
		if (DEVICE_INFO_VALID(&d->info, DEVICE_INFO_L1_TOTAL))
			format_bytes_compact(l1, sizeof(l1), d->info.l1_total, 0);
		/* the seed prints whole MB for L1: "1440MB" */
		if (DEVICE_INFO_VALID(&d->info, DEVICE_INFO_L1_TOTAL) && d->info.l1_total >= (1ull << 30))
			snprintf(l1, sizeof(l1), "%lluMB", (unsigned long long)(d->info.l1_total >> 20));
		printf("   Device %d: %s (%s DRAM, %s L1)\n", i, device_label(d, label, sizeof(label)), dram, l1);
		if (!d->info.simulated && d->info.chip > 0 && !d->info.bus_id[0])
			printf("      remote chip of the card at %s: no PCIe link of its own, readings N/A\n",
			       d->info.node);
		else if (d->info.bus_id[0] || d->info.serial[0] || d->info.firmware[0])
			printf("      PCI %s, serial %s, firmware %s\n", d->info.bus_id[0] ? d->info.bus_id : "N/A",
			       d->info.serial[0] ? d->info.serial : "N/A",
			       d->info.firmware[0] ? d->info.firmware : "N/A");
	}
}

/* Each client holds a descriptor: take the hard limit, not the soft 1024. */
static void raise_fd_limit(void)
{
	struct rlimit lim;
	if (getrlimit(RLIMIT_NOFILE, &lim) == 0 && lim.rlim_cur < lim.rlim_max) {
		lim.rlim_cur = lim.rlim_max;
		setrlimit(RLIMIT_NOFILE, &lim);
	}
}

/* Checks the directory, creates the socket and gives it --group. */
static int open_socket(const struct server_options *opts, char *err)
{
	gid_t gid = (gid_t)-1;
	if (opts->socket_group) {
		struct group *gr = getgrnam(opts->socket_group);
		if (!gr) {
			snprintf(err, UNIX_SOCKET_ERR_LEN, "unknown group '%s' (--group)", opts->socket_group);
			return -1;
		}
		gid = gr->gr_gid;
	}
	if (unix_socket_check_directory(opts->socket_path, err) < 0)
		return -1;
	int fd = unix_socket_listen(opts->socket_path, opts->socket_mode, 1024, err);
	if (fd >= 0 && gid != (gid_t)-1 && chown(opts->socket_path, (uid_t)-1, gid) < 0) {
		snprintf(err, UNIX_SOCKET_ERR_LEN, "cannot give %s to group %s: %s", opts->socket_path,
			 opts->socket_group, strerror(errno));
		close(fd);
		unlink(opts->socket_path);
		return -1;
	}
	return fd;
}

int server_start(struct server *s, const struct server_options *opts)
{
	char err[UNIX_SOCKET_ERR_LEN > DEVICE_ERR_LEN ? UNIX_SOCKET_ERR_LEN : DEVICE_ERR_LEN];
	memset(s, 0, sizeof(*s));
	s->opts = *opts;
	s->reserve_fd = -1;
	s->history_timer = (struct event_timer)EVENT_TIMER_INIT;
	s->systemd = (struct systemd_state)SYSTEMD_STATE_INIT;
	s->start_ns = clock_monotonic_ns();
	signal(SIGPIPE, SIG_IGN);
	raise_fd_limit();
	printf("🚀 Allocation Server starting...\n");
	struct device_options dev_opts;
	device_options_init(&dev_opts);
	dev_opts.selection = opts->devices;
	dev_opts.hw_root = opts->hw_root;
	if (device_set_open_opts(&s->devices, &dev_opts, err) < 0) {
		fprintf(stderr, "ttalloc-server: %s\n", err);
		return -1;
	}
	print_devices(s);
	if (registry_init(&s->registry, s->devices.count, 0) < 0 ||
	    leak_history_init(&s->leaks, opts->leak_history) < 0) {
		fprintf(stderr, "ttalloc-server: out of memory\n");
		return -1;
	}
	s->loop = event_loop_create();
	if (!s->loop || watch_signals(s) < 0) {
		fprintf(stderr, "ttalloc-server: cannot set up the event loop: %s\n", strerror(errno));
		return -1;
	}
	if (start_history(s) < 0 || ttmetal_start(s, opts->ttmetal_shm) < 0)
		return -1;
	/* socket activation: the listening socket systemd passed, else our own */
	int fd = -1;
	int activated = systemd_listen_fd(&s->systemd, &fd, err, sizeof(err));
	if (activated > 0)
		s->opts.socket_path = s->systemd.socket_path;
	else if (activated == 0)
		fd = open_socket(opts, err);
	if (fd < 0) {
		fprintf(stderr, "ttalloc-server: %s\n", err);
		return -1;
	}
	s->listener = (struct event_handle){.fd = fd, .fn = connection_accept, .data = s};
	if (connection_reserve_fd(s) < 0) {
		fprintf(stderr, "ttalloc-server: cannot open /dev/null: %s\n", strerror(errno));
		return -1;
	}
	if (event_loop_add(s->loop, &s->listener, EPOLLIN) < 0) {
		fprintf(stderr, "ttalloc-server: cannot watch the socket: %s\n", strerror(errno));
		return -1;
	}
	/* after the socket, so a second server on a live socket says so; a taken
	 * HTTP port then removes the socket again */
	if (start_http(s) < 0) {
		close(fd);
		if (!s->systemd.activated)
			unlink(opts->socket_path);
		s->listener.fd = -1;
		return -1;
	}
	event_loop_set_before_sleep(s->loop, before_sleep, s);
	if (s->systemd.activated)
		printf("📡 Server socket from systemd: %s\n", s->opts.socket_path);
	else
		printf("📡 Server socket created: %s\n", opts->socket_path);
	printf("📡 Listening for connections...\n");
	if (s->http)
		printf("🌐 Dashboard: %s\n", http_url(s->http));
	else
		printf("🌐 Dashboard: off (--no-http)\n");
	printf("✅ Server ready!\n\nWaiting for clients...\n");
	fflush(stdout);
	char status[256];
	snprintf(status, sizeof(status), "Listening on %s, %d device%s", s->opts.socket_path, s->devices.count,
		 s->devices.count == 1 ? "" : "s");
	systemd_notify_ready(&s->systemd, s->loop, status);
	return 0;
}

int server_run(struct server *s)
{
	return event_loop_run(s->loop);
}

void server_stop(struct server *s)
{
	s->stopping = 1;
	systemd_notify_stopping(&s->systemd, s->loop);
	http_stop(s->http);
	s->http = NULL;
	if (s->connection_count)
		log_warn("📴 Closing %u client connection%s (clients keep their tables and resync with the next server)",
			 s->connection_count, s->connection_count == 1 ? "" : "s");
	while (s->connections)
		connection_close(s->connections);
	connection_free_closed(s);
	rings_release(s);
	if (s->listener.fd > 0) {
		close(s->listener.fd);
		if (s->systemd.activated) {
			log_warn("👋 Socket %s left to systemd; server stopped.", s->opts.socket_path);
		} else {
			unlink(s->opts.socket_path);
			log_warn("👋 Socket %s removed; server stopped.", s->opts.socket_path);
		}
	}
	if (s->signals.fd > 0)
		close(s->signals.fd);
	if (s->reserve_fd > 0)
		close(s->reserve_fd);
	event_timer_release(s->loop, &s->history_timer);
	ttmetal_stop(s);
	history_release(&s->history);
	server_holders_release(s);
	event_loop_destroy(s->loop);
	leak_history_release(&s->leaks);
	registry_release(&s->registry);
	device_set_close(&s->devices);
	log_flush();
}
