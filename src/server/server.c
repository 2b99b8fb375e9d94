/*
 * server.c - the allocation server wired together (server.h): start-up,
 * the loop's before-sleep work and timers, and shutdown. The layers know
 * only those below them; this file connects them.
 */
#define _GNU_SOURCE
#include "server/server.h"

#include <arpa/inet.h>
#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/resource.h>
#include <sys/signalfd.h>
#include <unistd.h>

#include "common/clock.h"
#include "common/errors.h"
#include "common/format.h"
#include "common/log.h"
#include "common/unix_socket.h"
#include "server/http/api_diag.h"
#include "server/http/http.h"
#include "server/ingest/ttmetal_scan.h"
#include "server/state/holders.h"
#include "server/state/picture.h"

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
	event_loop_set_timeout(loop, ingest_before_sleep(&s->ingest));
	http_before_sleep(s->http);
	log_flush();
}

static void on_history_timer(struct event_loop *loop, struct event_timer *timer)
{
	(void)loop;
	struct server *s = timer->data;
	picture_sample_history(&s->state, clock_realtime_ns() / CLOCK_NS_PER_MS);
	holders_tick(&s->state);
	containers_prune(&s->state.containers);
}

static void on_ttmetal_timer(struct event_loop *loop, struct event_timer *timer)
{
	(void)loop;
	struct server *s = timer->data;
	ttmetal_scan(&s->state);
}

/* Arms `timer` to call `fn` every `interval_ms`. */
static int start_timer(struct server *s, struct event_timer *timer, event_timer_fn fn, uint64_t interval_ms,
		       const char *what, char *err)
{
	uint64_t interval_ns = interval_ms * CLOCK_NS_PER_MS;
	if (event_timer_init(s->loop, timer, fn, s) < 0 || event_timer_arm(timer, interval_ns, interval_ns) < 0)
		return error_set(err, TTALLOC_EIO, "cannot start the %s timer: %s", what, strerror(errno));
	return 0;
}

/* What HELLO_ACK tells monitors about the dashboard (ingest keeps it for them). */
static void set_http_state(struct server *s, enum proto_http_state state, uint16_t port)
{
	s->ingest.http_state = (uint8_t)state;
	s->ingest.http_port = port;
}

/* The port of an --http address (for the state of a port we wait for). */
static uint16_t listen_port(const char *listen)
{
	struct sockaddr_storage addr;
	socklen_t len = 0;
	char err[ERR_LEN];
	if (http_parse_listen(listen, &addr, &len, err) < 0)
		return 0;
	return ntohs(addr.ss_family == AF_INET6 ? ((struct sockaddr_in6 *)&addr)->sin6_port
						: ((struct sockaddr_in *)&addr)->sin_port);
}

/* The port was free again: the dashboard is up. */
static void http_now_up(struct server *s)
{
	event_timer_disarm(&s->http_retry);
	set_http_state(s, PROTO_HTTP_UP, http_port(s->http));
}

static void on_http_retry(struct event_loop *loop, struct event_timer *timer)
{
	(void)loop;
	struct server *s = timer->data;
	int taken = 0;
	s->http = http_start(s, s->opts.http_listen, s->http_error, &taken);
	if (!s->http) {
		s->http_failures++;
		return;
	}
	http_now_up(s);
	log_warn("🌐 Dashboard: %s (the port was free again after %u tr%s)", http_url(s->http), s->http_failures,
		 s->http_failures == 1 ? "y" : "ies");
}

/*
 * Starts the HTTP endpoint unless --no-http. Tracking never waits for the
 * dashboard: a port in use (another program, the seed's own Flask
 * dashboard) is said loudly and tried again every HTTP_RETRY_MS, unless
 * --http-required. A bad address stays a start-up error.
 */
static int start_http(struct server *s, char *err)
{
	if (!s->opts.http_enabled)
		return 0;
	int taken = 0;
	s->http = http_start(s, s->opts.http_listen, err, &taken);
	if (s->http) {
		http_now_up(s);
		return 0;
	}
	if (!taken || s->opts.http_required)
		return TTALLOC_EIO;
	s->http_failures = 1;
	snprintf(s->http_error, sizeof(s->http_error), "%s", err);
	set_http_state(s, PROTO_HTTP_WAITING, listen_port(s->opts.http_listen));
	log_warn("⚠️  HTTP: %s.\n⚠️  Tracking runs anyway, without the dashboard, JSON API and /metrics "
		 "for now; the port is tried again every %d s. Free it, or restart with another --http "
		 "ADDR:PORT, or with --http-required to refuse to start instead.",
		 err, HTTP_RETRY_MS / 1000);
	uint64_t retry_ns = (uint64_t)HTTP_RETRY_MS * CLOCK_NS_PER_MS;
	if (event_timer_init(s->loop, &s->http_retry, on_http_retry, s) < 0 ||
	    event_timer_arm(&s->http_retry, retry_ns, retry_ns) < 0)
		return error_set(err, TTALLOC_EIO, "cannot start the HTTP retry timer: %s", strerror(errno));
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
	const struct device_set *set = &s->state.devices;
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
		else if (!d->info.simulated && (d->info.bus_id[0] || d->info.serial[0] || d->info.firmware[0]))
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

/* Creates the socket and gives it --group (server_options_check checked the path and the group). */
static int open_socket(const struct server_options *opts, char *err)
{
	int fd = unix_socket_listen(opts->socket_path, opts->socket_mode, 1024, err);
	if (fd >= 0 && opts->socket_gid != (gid_t)-1 && chown(opts->socket_path, (uid_t)-1, opts->socket_gid) < 0) {
		snprintf(err, UNIX_SOCKET_ERR_LEN, "cannot give %s to group %s: %s", opts->socket_path,
			 opts->socket_group, strerror(errno));
		close(fd);
		unlink(opts->socket_path);
		return -1;
	}
	return fd;
}

int server_core_open(struct server *s, const struct server_options *opts, char *err)
{
	memset(s, 0, sizeof(*s));
	s->opts = *opts;
	s->history_timer = (struct event_timer)EVENT_TIMER_INIT;
	s->ttmetal_timer = (struct event_timer)EVENT_TIMER_INIT;
	s->http_retry = (struct event_timer)EVENT_TIMER_INIT;
	s->systemd = (struct systemd_state)SYSTEMD_STATE_INIT;
	s->signals.fd = -1;
	s->start_ns = clock_monotonic_ns();
	s->start_real_ns = clock_realtime_ns();
	struct state_config cfg = {
		.devices = opts->devices,
		.hw_root = opts->hw_root,
		.leak_history = opts->leak_history,
		.leak_lines = opts->leak_lines,
		.history_interval_ms = opts->history_interval_ms,
		.history_samples = opts->history_samples,
		.ttmetal_shm = opts->ttmetal_shm,
		.retain_leaks = opts->retain_leaks,
		.hostname = opts->hostname,
	};
	int rc = state_open(&s->state, &cfg, err);
	if (rc < 0)
		return rc;
	if (opts->http_enabled && opts->web_config) {
		char why[ERR_LEN];
		if (web_config_load(opts->web_config, &s->web, why) < 0)
			return error_set(err, TTALLOC_EINVAL, "--web-config: %s", why);
	}
	s->loop = event_loop_create();
	if (!s->loop)
		return error_set(err, TTALLOC_EIO, "cannot set up the event loop: %s", strerror(errno));
	struct ingest_config icfg = {
		.limits = {.max_connections = opts->max_connections,
			   .max_output_bytes = opts->max_output_bytes,
			   .errors_logged_per_connection = opts->errors_logged_per_connection},
		.max_buffers_per_process = opts->max_buffers_per_process,
	};
	ingest_init(&s->ingest, &s->state, s->loop, &icfg);
	/* DOC_QUERY answers with the HTTP API's diagnosis documents, with or without --no-http */
	s->ingest.document = api_doc_document;
	s->ingest.document_owner = s;
	return 0;
}

void server_core_close(struct server *s)
{
	if (s->loop)
		ingest_release(&s->ingest);
	event_loop_destroy(s->loop);
	s->loop = NULL;
	state_release(&s->state);
	web_config_release(&s->web);
}

/* The Unix socket: the one systemd passed, else our own. Returns its fd or an error. */
static int listen_socket(struct server *s, char *err)
{
	int fd = -1;
	int activated = systemd_listen_fd(&s->systemd, &fd, err, ERR_LEN);
	if (activated > 0) {
		s->opts.socket_path = s->systemd.socket_path;
		return fd;
	}
	if (activated < 0)
		return TTALLOC_EIO;
	fd = open_socket(&s->opts, err);
	return fd >= 0 ? fd : TTALLOC_EIO;
}

/* Removes the socket file we created (never systemd's: it keeps listening across restarts). */
static void remove_socket(struct server *s)
{
	if (!s->systemd.activated)
		unlink(s->opts.socket_path);
}

static void print_banner(struct server *s)
{
	if (s->systemd.activated)
		printf("📡 Server socket from systemd: %s\n", s->opts.socket_path);
	else
		printf("📡 Server socket created: %s\n", s->opts.socket_path);
	printf("📡 Listening for connections...\n");
	if (s->opts.retain_leaks)
		printf("🧾 Leaked buffers stay in the totals until tt_smi --clear-leaks (--retain-leaks%s)\n",
		       getenv("CI") ? ", the default with $CI set" : "");
	if (s->http)
		printf("🌐 Dashboard: %s\n", http_url(s->http));
	else if (s->opts.http_enabled)
		printf("🌐 Dashboard: waiting for %s (in use), tried every %d s\n", s->opts.http_listen,
		       HTTP_RETRY_MS / 1000);
	else
		printf("🌐 Dashboard: off (--no-http)\n");
	printf("✅ Server ready!\n\nWaiting for clients...\n");
	fflush(stdout);
}

int server_start(struct server *s, const struct server_options *opts, char *err)
{
	signal(SIGPIPE, SIG_IGN);
	raise_fd_limit();
	/* the devices are the last of the configuration: refused before the banner */
	int rc = server_core_open(s, opts, err);
	if (rc < 0)
		return rc;
	printf("🚀 Allocation Server starting...\n");
	print_devices(s);
	if (watch_signals(s) < 0)
		return error_set(err, TTALLOC_EIO, "cannot set up the event loop: %s", strerror(errno));
	/* the history starts with a sample, then one every --history-interval */
	picture_sample_history(&s->state, clock_realtime_ns() / CLOCK_NS_PER_MS);
	if ((rc = start_timer(s, &s->history_timer, on_history_timer, opts->history_interval_ms, "history", err)) < 0)
		return rc;
	if (s->state.shm.enabled) {
		ttmetal_scan(&s->state);
		if ((rc = start_timer(s, &s->ttmetal_timer, on_ttmetal_timer, TTMETAL_REFRESH_MS, "tt-metal shm",
				      err)) < 0)
			return rc;
	}
	int fd = listen_socket(s, err);
	if (fd < 0)
		return fd;
	if ((rc = ingest_listen(&s->ingest, fd, err)) < 0)
		return rc;
	/* after the socket, so a second server on a live socket says so; a taken
	 * HTTP port then removes the socket again (server_stop) */
	if ((rc = start_http(s, err)) < 0)
		return rc;
	event_loop_set_before_sleep(s->loop, before_sleep, s);
	print_banner(s);
	s->running = 1;
	char status[256];
	snprintf(status, sizeof(status), "Listening on %s, %d device%s", s->opts.socket_path, s->state.devices.count,
		 s->state.devices.count == 1 ? "" : "s");
	systemd_notify_ready(&s->systemd, s->loop, status);
	return 0;
}

int server_run(struct server *s)
{
	return event_loop_run(s->loop);
}

void server_stop(struct server *s)
{
	if (s->running)
		systemd_notify_stopping(&s->systemd, s->loop);
	http_stop(s->http);
	s->http = NULL;
	int listening = s->loop && s->ingest.conns.listener.fd >= 0;
	if (s->loop)
		ingest_release(&s->ingest);
	if (listening)
		remove_socket(s);
	if (listening && s->running)
		log_warn(s->systemd.activated ? "👋 Socket %s left to systemd; server stopped."
					      : "👋 Socket %s removed; server stopped.",
			 s->opts.socket_path);
	if (s->signals.fd >= 0)
		close(s->signals.fd);
	if (s->loop) {
		event_timer_release(s->loop, &s->history_timer);
		event_timer_release(s->loop, &s->ttmetal_timer);
		event_timer_release(s->loop, &s->http_retry);
	}
	event_loop_destroy(s->loop);
	s->loop = NULL;
	state_release(&s->state);
	web_config_release(&s->web);
	log_flush();
}
