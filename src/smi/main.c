/*
 * main.c - tt_smi: the allocation server's picture of every device, once
 * (default) or redrawn in place (-w). Everything that can be tested without
 * a terminal or a server lives in the ttalloc_smi_core library (smi.h);
 * this file holds the loops (watch, and the scripting modes' -l/-lms and
 * --csv-log) and the signals.
 */
#include <errno.h>
#include <inttypes.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "common/cli.h"
#include "common/clock.h"
#include "smi/doctor.h"
#include "smi/smi.h"
#include "smi/top.h"

#ifndef TTALLOC_VERSION
#define TTALLOC_VERSION "0.1.0"
#endif

/* How long one answer from the server may take before we call it lost. */
#define ANSWER_TIMEOUT_MS 3000

/* Set by signal handlers, read by the watch loop. */
static volatile sig_atomic_t quit_signal; /* the signal that asked us to stop, or 0 */
static volatile sig_atomic_t resized;
static volatile sig_atomic_t suspend_requested;

/* ---- the connection ---- */

/*
 * A connection that is opened again whenever it is needed, its last
 * snapshot (and history, with --history), and the devices read directly
 * while the server is down.
 */
struct monitor {
	const char *path;
	const struct smi_options *opts;
	struct query_client qc;
	struct snapshot snap;
	struct history_snapshot hist;
	struct smi_hardware hw;
	char err[UNIX_SOCKET_ERR_LEN];
};

/* Connects, bounding every later read and write so a stuck server cannot hang us. */
static int monitor_connect(struct monitor *m)
{
	int rc = query_connect(&m->qc, m->path, m->err);
	if (rc < 0)
		return rc;
	struct timeval tv = {.tv_sec = ANSWER_TIMEOUT_MS / 1000, .tv_usec = (ANSWER_TIMEOUT_MS % 1000) * 1000};
	setsockopt(m->qc.fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv));
	setsockopt(m->qc.fd, SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof(tv));
	return 0;
}

/*
 * Takes a snapshot, connecting first when needed. A connection that broke
 * since the last refresh (server restarted) is replaced at once, so one
 * restart does not show as a disconnection. Returns 0 or a TTALLOC_E* code
 * with the reason in m->err.
 */
static int monitor_refresh(struct monitor *m)
{
	for (;;) {
		int fresh = m->qc.fd < 0;
		int rc = fresh ? monitor_connect(m) : 0;
		if (rc == 0)
			rc = snapshot_take(&m->qc, &m->snap, m->err);
		if (rc == 0)
			return 0;
		query_close(&m->qc);
		if (fresh)
			return rc;
	}
}

static void monitor_release(struct monitor *m)
{
	query_close(&m->qc);
	snapshot_release(&m->snap);
	history_snapshot_release(&m->hist);
	smi_hardware_close(&m->hw);
}

/*
 * Narrows m->snap to the devices of -i. Returns 0, or -1 with the reason
 * in m->err (an item that names no device).
 */
static int monitor_select(struct monitor *m)
{
	return smi_select_devices(&m->snap, m->opts->ids, m->err, sizeof(m->err));
}

/*
 * After a failed refresh: the devices read directly into m->snap
 * (hardware_only). Returns 1 when there is hardware to show, 0 when there is
 * none (only the simulation), -1 when the backends failed (reason in `why`,
 * DEVICE_ERR_LEN bytes).
 */
static int monitor_hardware(struct monitor *m, char *why)
{
	int found = smi_hardware_open(&m->hw, m->opts->devices, smi_hardware_root(m->opts), why);
	if (found <= 0)
		return found;
	if (smi_hardware_snapshot(&m->hw, &m->snap) < 0) {
		snprintf(why, DEVICE_ERR_LEN, "out of memory reading the devices");
		return -1;
	}
	return 1;
}

/* --history: the snapshot (names, totals, use now) and the history that goes with it. */
static int monitor_refresh_history(struct monitor *m, int columns)
{
	int rc = monitor_refresh(m);
	if (rc == 0)
		rc = history_snapshot_take(&m->qc, (uint32_t)m->opts->history_sec,
					   (uint32_t)smi_history_points(columns), &m->hist, m->err);
	if (rc < 0 && rc != TTALLOC_EPROTOCOL)
		query_close(&m->qc);
	return rc;
}

/* ---- one-shot ---- */

/* The seed's 82 columns, narrower when the terminal is. */
static int once_columns(const struct smi_options *opts, int tty)
{
	int rows, cols;
	if (opts->columns)
		return opts->columns;
	if (tty && smi_term_size(STDOUT_FILENO, &rows, &cols) == 0 && cols < SMI_DEFAULT_COLUMNS)
		return cols;
	return SMI_DEFAULT_COLUMNS;
}

/* Explains a failed refresh on stderr (what to do is in `err`), followed by `then` (what happens next, or ""). */
static void report_failure(const char *err, const char *then)
{
	fprintf(stderr, "tt_smi: %s%s\n", err, then);
}

/*
 * One-shot without the server: the hardware view when there is hardware
 * (exit 0, the reason on stderr), else the reason alone (exit 1).
 * Returns 0 with m->snap filled, or 1 after printing why.
 */
static int once_without_server(struct monitor *m)
{
	char why[DEVICE_ERR_LEN];
	int found = monitor_hardware(m, why);
	if (found <= 0) {
		report_failure(m->err, "");
		if (found < 0)
			fprintf(stderr, "tt_smi: cannot read the devices either: %s\n", why);
		return 1;
	}
	fprintf(stderr, "tt_smi: %s; showing the hardware only (no allocation data)\n", m->err);
	return 0;
}

static int run_once(const struct smi_options *opts, const char *path)
{
	struct monitor m = {.path = path, .opts = opts, .qc = QUERY_CLIENT_INIT};
	int tty = isatty(STDOUT_FILENO);
	int columns = once_columns(opts, tty);
	int rc = opts->history_sec ? monitor_refresh_history(&m, columns) : monitor_refresh(&m);
	if (rc < 0 && (opts->history_sec || once_without_server(&m))) {
		if (opts->history_sec)
			report_failure(m.err, "");
		monitor_release(&m);
		return 1;
	}
	if (monitor_select(&m) < 0) {
		fprintf(stderr, "tt_smi: %s\n", m.err);
		monitor_release(&m);
		return CLI_EXIT_USAGE;
	}
	struct smi_view view = {
		.snap = &m.snap,
		.now = time(NULL),
		.columns = columns,
		.mode = SMI_MODE_ONE_SHOT,
		.color = smi_use_color(opts->color, tty),
	};
	struct smi_history_view hview = {
		.snap = &m.snap,
		.hist = &m.hist,
		.now = view.now,
		.columns = columns,
		.mode = SMI_MODE_ONE_SHOT,
		.color = view.color,
	};
	struct strbuf screen = STRBUF_INIT;
	rc = opts->history_sec ? smi_render_history(&screen, &hview) : smi_render(&screen, &view);
	if (rc == 0 && (fputs(strbuf_str(&screen), stdout) == EOF || fflush(stdout) == EOF))
		rc = -1;
	if (rc < 0)
		fprintf(stderr, "tt_smi: cannot print the table: %s\n",
			rc == TTALLOC_ENOMEM ? "out of memory" : strerror(errno));
	strbuf_release(&screen);
	monitor_release(&m);
	return rc < 0 ? 1 : 0;
}

/* ---- watch mode ---- */

static void on_quit(int sig)
{
	if (quit_signal) {
		/* asked twice: the loop is stuck somewhere, leave now */
		smi_term_emergency_restore();
		_exit(128 + sig);
	}
	quit_signal = sig;
}

static void on_resize(int sig)
{
	(void)sig;
	resized = 1;
}

static void on_suspend(int sig)
{
	(void)sig;
	suspend_requested = 1;
}

/* Installs `handler` without SA_RESTART, so poll() wakes up with EINTR. */
static void handle_signal(int sig, void (*handler)(int))
{
	struct sigaction sa;
	memset(&sa, 0, sizeof(sa));
	sa.sa_handler = handler;
	sigemptyset(&sa.sa_mask);
	sigaction(sig, &sa, NULL);
}

static void install_quit_signals(void)
{
	handle_signal(SIGINT, on_quit);
	handle_signal(SIGTERM, on_quit);
	handle_signal(SIGHUP, on_quit);
	handle_signal(SIGQUIT, on_quit);
}

static void install_signals(int tty)
{
	install_quit_signals();
	handle_signal(SIGWINCH, on_resize);
	if (tty)
		handle_signal(SIGTSTP, on_suspend);
}

/* Ctrl-Z: give the terminal back, stop, and take it again on fg. */
static int suspend_self(void)
{
	suspend_requested = 0;
	smi_term_leave();
	handle_signal(SIGTSTP, SIG_DFL);
	raise(SIGTSTP);
	/* continued */
	handle_signal(SIGTSTP, on_suspend);
	return smi_term_enter(STDIN_FILENO, STDOUT_FILENO);
}

static long long monotonic_ms(void)
{
	return (long long)(clock_monotonic_ns() / 1000000u);
}

/* What the wait before the next refresh ended with. */
enum wake { WAKE_REFRESH, WAKE_QUIT };

/* Reads pending keys; q quits. Stops listening (*keys = 0) at end of input. */
static enum wake read_keys(int *keys)
{
	char buf[64];
	ssize_t n = read(STDIN_FILENO, buf, sizeof(buf));
	if (n == 0 || (n < 0 && errno != EINTR && errno != EAGAIN)) {
		*keys = 0;
		return WAKE_REFRESH;
	}
	for (ssize_t i = 0; i < n; i++)
		if (buf[i] == 'q' || buf[i] == 'Q')
			return WAKE_QUIT;
	return WAKE_REFRESH;
}

/*
 * Waits `period_ms`, watching stdin for q when `*keys`. A signal ends the
 * wait early: a quit signal with WAKE_QUIT, a resize or suspend with
 * WAKE_REFRESH so the screen is redrawn at once.
 */
static enum wake wait_next(int period_ms, int *keys)
{
	long long deadline = monotonic_ms() + period_ms;
	for (;;) {
		long long left = deadline - monotonic_ms();
		if (quit_signal)
			return WAKE_QUIT;
		if (left <= 0)
			return WAKE_REFRESH;
		struct pollfd pfd = {.fd = *keys ? STDIN_FILENO : -1, .events = POLLIN};
		int rc = poll(&pfd, 1, (int)left);
		if (rc < 0 && errno == EINTR) {
			if (quit_signal)
				return WAKE_QUIT;
			if (resized || suspend_requested)
				return WAKE_REFRESH;
			continue;
		}
		if (rc > 0 && (pfd.revents & (POLLIN | POLLHUP | POLLERR)) && read_keys(keys) == WAKE_QUIT)
			return WAKE_QUIT;
	}
}

/* Rows and columns of the terminal (0 and the seed's width when not one). */
static void screen_size(int tty, int *rows, int *cols)
{
	*rows = 0;
	*cols = SMI_DEFAULT_COLUMNS;
	if (tty)
		smi_term_size(STDOUT_FILENO, rows, cols);
}

/* Box width in watch mode: --width, else the terminal's. */
static int watch_columns(const struct smi_options *opts, int tty)
{
	int rows, cols;
	screen_size(tty, &rows, &cols);
	return opts->columns ? opts->columns : cols;
}

/* Puts a rendered screen on the terminal in place (or appends it to a pipe). Returns 0 or an error. */
static int show_screen(const struct strbuf *screen, int tty, int rows, int cols)
{
	struct strbuf frame = STRBUF_INIT;
	if (tty)
		smi_frame_compose(&frame, strbuf_str(screen), rows, cols);
	else
		strbuf_addf(&frame, "%s\n", strbuf_str(screen));
	int rc = frame.failed ? TTALLOC_ENOMEM : smi_write_all(STDOUT_FILENO, frame.buf, frame.len);
	strbuf_release(&frame);
	return rc;
}

/*
 * Renders the current state and puts it on the screen (or appends it to a
 * pipe). `shown`: m->snap holds something to show (from the server, or the
 * hardware view).
 */
static int draw(const struct smi_options *opts, struct monitor *m, int shown, int tty, int color)
{
	int rows, cols;
	screen_size(tty, &rows, &cols);
	resized = 0;
	struct smi_view view = {
		.snap = shown ? &m->snap : NULL,
		.error = shown ? NULL : m->err,
		.now = time(NULL),
		.columns = opts->columns ? opts->columns : cols,
		.mode = SMI_MODE_WATCH,
		.color = color,
	};
	struct smi_history_view hview = {
		.snap = view.snap,
		.hist = shown ? &m->hist : NULL,
		.error = view.error,
		.now = view.now,
		.columns = view.columns,
		.mode = SMI_MODE_WATCH,
		.color = color,
	};
	struct strbuf screen = STRBUF_INIT;
	int rc = opts->history_sec ? smi_render_history(&screen, &hview) : smi_render(&screen, &view);
	if (rc == 0)
		rc = show_screen(&screen, tty, rows, cols);
	strbuf_release(&screen);
	return rc;
}

static int run_watch(const struct smi_options *opts, const char *path)
{
	int tty = isatty(STDOUT_FILENO);
	int color = smi_use_color(opts->color, tty);
	int keys = tty && isatty(STDIN_FILENO);
	install_signals(tty);
	if (tty && smi_term_enter(STDIN_FILENO, STDOUT_FILENO) < 0) {
		fprintf(stderr, "tt_smi: cannot set up the terminal: %s\n", strerror(errno));
		return 1;
	}
	struct monitor m = {.path = path, .opts = opts, .qc = QUERY_CLIENT_INIT};
	int rc = 0, selection_failed = 0;
	while (!quit_signal && rc == 0) {
		if (suspend_requested && suspend_self() < 0) {
			rc = -1;
			break;
		}
		int shown;
		char why[DEVICE_ERR_LEN];
		if (opts->history_sec)
			shown = monitor_refresh_history(&m, watch_columns(opts, tty)) == 0;
		else
			shown = monitor_refresh(&m) == 0 || monitor_hardware(&m, why) > 0;
		if (shown && monitor_select(&m) < 0) {
			selection_failed = 1;
			break;
		}
		rc = draw(opts, &m, shown, tty, color);
		if (rc == 0 && wait_next(opts->refresh_ms, &keys) == WAKE_QUIT)
			break;
	}
	int saved = errno;
	smi_term_leave();
	if (selection_failed)
		fprintf(stderr, "tt_smi: %s\n", m.err);
	monitor_release(&m);
	if (rc < 0)
		fprintf(stderr, "tt_smi: cannot draw the screen: %s\n",
			rc == TTALLOC_ENOMEM ? "out of memory" : strerror(saved));
	return selection_failed ? CLI_EXIT_USAGE : rc < 0 ? 1 : 0;
}

/* ---- --prometheus: the fleet ---- */

/*
 * Asks Prometheus and draws the fleet once, or (-w, -r, -l) every period
 * until q or a signal. Once: exit 1 when Prometheus cannot be reached or has
 * no ttalloc series (the reason on stderr); watching, the reason is shown
 * in the box and the next period tries again.
 */
static int run_fleet(const struct smi_options *opts)
{
	int tty = isatty(STDOUT_FILENO), watch = opts->watch;
	int keys = watch && tty && isatty(STDIN_FILENO);
	if (watch)
		install_signals(tty);
	if (watch && tty && smi_term_enter(STDIN_FILENO, STDOUT_FILENO) < 0) {
		fprintf(stderr, "tt_smi: cannot set up the terminal: %s\n", strerror(errno));
		return 1;
	}
	struct smi_fleet fleet = {0};
	struct strbuf screen = STRBUF_INIT;
	int rc = 0, status = 0;
	do {
		char why[SMI_ERR_LEN];
		int fetched = smi_fleet_fetch(&fleet, opts->prometheus_url, why, sizeof(why)) == 0;
		int rows, cols;
		screen_size(tty, &rows, &cols);
		struct smi_fleet_view view = {
			.fleet = fetched ? &fleet : NULL,
			.error = fetched ? NULL : why,
			.url = opts->prometheus_url,
			.now = time(NULL),
			.columns = opts->columns ? opts->columns
				: watch          ? cols
						 : once_columns(opts, tty),
			.mode = watch ? SMI_MODE_WATCH : SMI_MODE_ONE_SHOT,
			.color = smi_use_color(opts->color, tty),
		};
		if (!fetched && !watch) {
			fprintf(stderr, "tt_smi: %s\n", why);
			status = 1;
			break;
		}
		strbuf_reset(&screen);
		rc = smi_render_fleet(&screen, &view);
		if (rc == 0)
			rc = watch ? show_screen(&screen, tty, rows, cols)
				   : smi_write_all(STDOUT_FILENO, screen.buf, screen.len);
	} while (watch && rc == 0 && wait_next(opts->refresh_ms, &keys) != WAKE_QUIT);
	if (watch)
		smi_term_leave();
	if (rc < 0)
		fprintf(stderr, "tt_smi: cannot draw the screen: %s\n",
			rc == TTALLOC_ENOMEM ? "out of memory" : strerror(errno));
	strbuf_release(&screen);
	smi_fleet_release(&fleet);
	return rc < 0 ? 1 : status;
}

/* ---- scripting: --query-*, --json, --csv-log, once or every period ---- */

/* Appends what one snapshot prints; `first`: the first output of this run (the CSV header goes with it). */
static int script_text(const struct smi_options *opts, const struct snapshot *snap, int first, struct strbuf *out)
{
	switch (opts->output) {
	case SMI_OUTPUT_QUERY:
		if (first)
			smi_query_header(out, &opts->query);
		return smi_query_rows(out, &opts->query, snap);
	case SMI_OUTPUT_JSON:
		return smi_json_snapshot(out, snap, opts->loop_ms > 0);
	case SMI_OUTPUT_CSV_LOG:
		smi_csv_log_rows(out, snap);
		return out->failed ? TTALLOC_ENOMEM : 0;
	case SMI_OUTPUT_REPORT:
		return smi_report(out, snap, opts->sections);
	case SMI_OUTPUT_LIST:
		return smi_list_devices(out, snap);
	case SMI_OUTPUT_TABLE:
		break;
	}
	return 0;
}

/* Writes and flushes `text`; returns 0 or -1 (errno set). */
static int put_text(FILE *out, const struct strbuf *text)
{
	if (text->len && fwrite(text->buf, 1, text->len, out) != text->len)
		return -1;
	return fflush(out) == EOF ? -1 : 0;
}

/* Prints one snapshot's text to `out` (reusing `text`); on failure says why. Returns 0 or -1. */
static int print_snapshot(const struct smi_options *opts, const struct snapshot *snap, int first, FILE *out,
			  struct strbuf *text)
{
	strbuf_reset(text);
	int rc = script_text(opts, snap, first, text);
	if (rc == 0 && put_text(out, text) == 0)
		return 0;
	fprintf(stderr, "tt_smi: cannot write %s: %s\n", opts->csv_log ? opts->csv_log : "the output",
		rc == TTALLOC_ENOMEM ? "out of memory" : strerror(errno));
	return -1;
}

/*
 * Opens the CSV log for appending, with the seed's header when the file is
 * new or empty, so that a restarted logger continues the same file.
 */
static FILE *open_csv_log(const char *path)
{
	FILE *f = fopen(path, "a");
	struct stat st;
	if (!f)
		return NULL;
	if (fstat(fileno(f), &st) == 0 && st.st_size == 0 &&
	    (fputs(SMI_CSV_LOG_HEADER, f) == EOF || fflush(f) == EOF)) {
		int saved = errno;
		fclose(f);
		errno = saved;
		return NULL;
	}
	return f;
}

/* -q and -L describe the hardware even without the server, as the table does. */
static int shows_hardware(enum smi_output output)
{
	return output == SMI_OUTPUT_REPORT || output == SMI_OUTPUT_LIST;
}

/*
 * Once, or every `period` ms until a quit signal: take a snapshot and print
 * it. While looping, a refresh that fails is reported on stderr once per
 * outage (again if the reason changes) and tried again next period.
 */
static int script_loop(const struct smi_options *opts, struct monitor *m, FILE *out, int period)
{
	struct strbuf text = STRBUF_INIT;
	char last_err[UNIX_SOCKET_ERR_LEN] = "";
	char then[64];
	int first = 1, keys = 0, rc = 0;
	long long next = monotonic_ms();
	snprintf(then, sizeof(then), " (trying again every %d ms)", period);
	for (;;) {
		int refreshed = monitor_refresh(m);
		if (refreshed == 0 && opts->output == SMI_OUTPUT_JSON) /* --json holds the latest post-mortem */
			refreshed = snapshot_take_oom(&m->qc, &m->snap, m->err);
		if (quit_signal)
			break; /* the signal may have cut the refresh short: no error line for that */
		if (refreshed < 0 && !period) {
			/* once: -q and -L show the hardware without the server, as the table does */
			if (!shows_hardware(opts->output))
				report_failure(m->err, "");
			if (!shows_hardware(opts->output) || once_without_server(m) != 0) {
				rc = 1;
				break;
			}
			refreshed = 0;
		}
		if (refreshed < 0 && strcmp(last_err, m->err) != 0) {
			report_failure(m->err, then);
			snprintf(last_err, sizeof(last_err), "%s", m->err);
		}
		if (refreshed == 0 && monitor_select(m) < 0) {
			fprintf(stderr, "tt_smi: %s\n", m->err);
			rc = CLI_EXIT_USAGE;
			break;
		}
		if (refreshed == 0) {
			if (last_err[0])
				fprintf(stderr, "tt_smi: connected to %s again\n", m->path);
			last_err[0] = '\0';
			if (print_snapshot(opts, &m->snap, first, out, &text) < 0) {
				rc = 1;
				break;
			}
			first = 0;
		}
		if (!period)
			break;
		long long now = monotonic_ms();
		next += period;
		if (next <= now)
			next = now + period; /* fell behind: skip a beat rather than burst */
		if (wait_next((int)(next - now), &keys) == WAKE_QUIT)
			break;
	}
	strbuf_release(&text);
	return rc;
}

static int run_script(const struct smi_options *opts, const char *path)
{
	int period = opts->output == SMI_OUTPUT_CSV_LOG ? opts->interval_ms : opts->loop_ms;
	FILE *out = stdout;
	if (opts->output == SMI_OUTPUT_CSV_LOG) {
		out = open_csv_log(opts->csv_log);
		if (!out) {
			fprintf(stderr, "tt_smi: cannot open the CSV log %s: %s\n", opts->csv_log, strerror(errno));
			return 1;
		}
	}
	if (period)
		install_quit_signals();
	struct monitor m = {.path = path, .opts = opts, .qc = QUERY_CLIENT_INIT};
	int rc = script_loop(opts, &m, out, period);
	monitor_release(&m);
	if (out != stdout && fclose(out) == EOF && rc == 0) {
		fprintf(stderr, "tt_smi: cannot write %s: %s\n", opts->csv_log, strerror(errno));
		rc = 1;
	}
	return rc;
}

/* --clear-leaks: one request, one line. */
static int run_clear_leaks(const char *path)
{
	struct query_client qc;
	char err[ERR_LEN];
	uint64_t buffers = 0;
	uint32_t processes = 0;
	if (query_connect(&qc, path, err) < 0) {
		fprintf(stderr, "tt_smi: %s\n", err);
		return 1;
	}
	int rc = query_clear_leaks(&qc, &buffers, &processes, err);
	query_close(&qc);
	if (rc < 0) {
		fprintf(stderr, "tt_smi: %s\n", err);
		return 1;
	}
	printf("Cleared %" PRIu64 " leaked buffer%s of %u exited process%s\n", buffers, buffers == 1 ? "" : "s",
	       processes, processes == 1 ? "" : "es");
	return 0;
}

int main(int argc, char **argv)
{
	smi_subcommand_fn subcommand = argc > 1 ? smi_subcommand(argv[1]) : NULL;
	if (subcommand)
		return subcommand(argc - 1, argv + 1);
	struct smi_options opts;
	char err[ERR_LEN];
	int parsed = smi_options_parse(&opts, argc, argv, err);
	if (parsed < 0)
		return cli_fail("tt_smi", err);
	if (parsed == CLI_HELP && opts.help_query) {
		enum smi_query_kind kind = (enum smi_query_kind)(opts.help_query - 1);
		printf("Fields of tt_smi %s=FIELD,FIELD,... (nvidia-smi's names in parentheses also work;\n"
		       "the CSV header echoes the names asked, with the unit in brackets):\n\n",
		       smi_query_option(kind));
		smi_query_help(stdout, kind);
		return 0;
	}
	if (parsed == CLI_HELP) {
		smi_usage(stdout);
		return 0;
	}
	if (parsed == CLI_VERSION) {
		printf("tt_smi (ttalloc) %s\n", TTALLOC_VERSION);
		return 0;
	}
	if (opts.prometheus_url)
		return run_fleet(&opts);
	const char *root = smi_hardware_root(&opts);
	struct stat root_st;
	if (root && (stat(root, &root_st) < 0 || !S_ISDIR(root_st.st_mode))) {
		fprintf(stderr, "tt_smi: hardware root '%s' is not a directory (--hw-root, $%s)\n", root,
			DEVICE_HW_ROOT_ENV);
		return 2;
	}
	const char *path = opts.socket_path ? opts.socket_path : unix_socket_default_path();
	if (opts.doctor)
		return smi_doctor(&opts, path);
	if (opts.clear_leaks)
		return run_clear_leaks(path);
	if (opts.diag.mode != SMI_DIAG_NONE)
		return smi_diag_run(&opts.diag, path);
	if (opts.output != SMI_OUTPUT_TABLE)
		return run_script(&opts, path);
	return opts.watch ? run_watch(&opts, path) : run_once(&opts, path);
}
