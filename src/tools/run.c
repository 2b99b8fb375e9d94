/*
 * run.c - ttalloc-run: run a command with tracking on and fail on leaks.
 *
 *   ttalloc-run [--private] [--tt-metal] [--max-leak BYTES] [--json FILE] -- CMD ARGS...
 *
 * The command and everything it forks or execs inherit
 * TT_ALLOC_TRACKING_ENABLED=1, the server's socket and a session tag
 * (TTALLOC_SESSION) that the client libraries send in HELLO. When the
 * command ends, ttalloc-run asks the server for the leak reports of that
 * session only, so other processes on the host never count. Buffers still
 * held by processes of the session that outlive the command count as leaked.
 *
 * Uses the running server, or starts a private one on a temporary socket
 * when none answers (--private forces that).
 *
 * --tt-metal preloads libttalloc_ttmetal.so into the command (LD_PRELOAD,
 * after whatever it held), so that a stock tt-metal's buffers are reported
 * (docs/TTMETAL.md). The library is looked for beside ttalloc-run's lib
 * directory ($TTALLOC_TTMETAL_PLUGIN overrides).
 */
#define _GNU_SOURCE
#include <errno.h>
#include <getopt.h>
#include <inttypes.h>
#include <jansson.h>
#include <limits.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "common/array.h"
#include "common/cli.h"
#include "common/format.h"
#include "common/proc_info.h"
#include "common/protocol.h"
#include "common/query.h"
#include "common/reach.h"
#include "common/version.h"
#include "model/model.h"

/* Exit status when leaks exceed --max-leak (distinct from pytest's 1..5). */
#define EXIT_LEAKED 86
/* How long to wait for the server to notice the command's processes exit. */
#define SETTLE_MS 3000
/* Biggest buffers listed in the summary. */
#define TOP_BUFFERS 10
/* Frames of a leaked buffer's allocation stack kept and shown. */
#define STACK_LINES_KEPT 8
/* How long orphaned descendants may run on after the command (ms). */
#define DESCENDANTS_MS 10000
/* --tt-metal: what is preloaded, and the install's library directory (CMake sets it). */
#define TTMETAL_PLUGIN "libttalloc_ttmetal.so"
#ifndef TTALLOC_LIBDIR
#define TTALLOC_LIBDIR "lib"
#endif

struct run_options {
	int private_server;
	uint64_t max_leak;
	const char *json_path;
	const char *socket_path; /* --socket, else $TT_ALLOC_SERVER_SOCKET or the default */
	int quiet;
	char ttmetal_plugin[PATH_MAX]; /* --tt-metal: the library to preload, else "" */
	char **command;
};

/* One leaked (or still held) buffer of the session. */
struct leaked {
	struct buffer_snapshot_row buf; /* pid, device, type, address, size, age (no frame) */
	char comm[16];
	int still_running;    /* held by a process that outlived the command */
	uint32_t stack_lines; /* frames of its allocation stack (TT_ALLOC_STACK_TRACE=1) */
	char stack[STACK_LINES_KEPT][sizeof(((struct proto_msg *)0)->u.text.text)];
};

struct leak_list {
	struct leaked *items;
	size_t count;
	size_t cap;
};

struct private_server {
	pid_t pid;
	char dir[64];
	char socket_path[108];
	char log_path[128];
};

static void usage(FILE *out)
{
	fprintf(out,
		"Usage: ttalloc-run [OPTIONS] -- CMD [ARGS...]\n"
		"Runs CMD with device-memory tracking on; reports what its processes leaked.\n\n"
		"  --private          always start a private server on a temporary socket\n"
		"  --socket PATH      server to use (default $TT_ALLOC_SERVER_SOCKET or\n"
		"                     /tmp/tt_allocation_server.sock)\n"
		"  --max-leak BYTES   leaked bytes tolerated (default 0); more exits %d\n"
		"  --json FILE        write the report as JSON\n"
		"  --quiet            print the summary only when something leaked\n"
		"  --tt-metal         preload libttalloc_ttmetal.so: report a stock tt-metal's buffers\n"
		"  -h, --help         this text\n"
		"  --version          prints the version\n\n"
		"Exit status: CMD's own status, or %d when leaks exceed --max-leak.\n",
		EXIT_LEAKED, EXIT_LEAKED);
}

/* The directory of this binary, or "" when /proc/self/exe cannot be read. */
static void self_dir(char *buf, size_t size)
{
	ssize_t n = readlink("/proc/self/exe", buf, size - 1);
	buf[n > 0 ? n : 0] = '\0';
	char *slash = strrchr(buf, '/');
	if (slash)
		*slash = '\0';
	else
		buf[0] = '\0';
}

/*
 * --tt-metal: finds libttalloc_ttmetal.so ($TTALLOC_TTMETAL_PLUGIN, else
 * BINDIR/../lib, BINDIR/../LIBDIR, or LIBDIR when absolute). Returns 0, or
 * TTALLOC_EINVAL saying in `err` where it looked and how to get it.
 */
static int find_ttmetal_plugin(char *buf, size_t size, char *err)
{
	char dir[PATH_MAX], places[3][PATH_MAX + 64], tried[3 * (PATH_MAX + 66)] = "";
	int n = 0;
	const char *forced = getenv("TTALLOC_TTMETAL_PLUGIN");
	self_dir(dir, sizeof(dir));
	if (forced && *forced) {
		snprintf(places[n++], sizeof(places[0]), "%s", forced);
	} else {
		if (dir[0])
			snprintf(places[n++], sizeof(places[0]), "%s/../lib/%s", dir, TTMETAL_PLUGIN);
		if (dir[0] && TTALLOC_LIBDIR[0] != '/' && strcmp(TTALLOC_LIBDIR, "lib") != 0)
			snprintf(places[n++], sizeof(places[0]), "%s/../%s/%s", dir, TTALLOC_LIBDIR, TTMETAL_PLUGIN);
		if (TTALLOC_LIBDIR[0] == '/')
			snprintf(places[n++], sizeof(places[0]), "%s/%s", TTALLOC_LIBDIR, TTMETAL_PLUGIN);
	}
	for (int i = 0; i < n; i++) {
		if (access(places[i], R_OK) == 0) {
			snprintf(buf, size, "%s", places[i]);
			return 0;
		}
		size_t len = strlen(tried);
		snprintf(tried + len, sizeof(tried) - len, "%s%s", i ? ", " : "", places[i]);
	}
	return error_set(err, TTALLOC_EINVAL,
			 "--tt-metal: %s not found (looked for %.400s). It is built and installed with ttalloc when "
			 "CMake is given -DTTALLOC_TT_METAL_DIR=<your tt-metal> (docs/TTMETAL.md); "
			 "TTALLOC_TTMETAL_PLUGIN=PATH names it elsewhere.",
			 TTMETAL_PLUGIN, n ? tried : "nothing");
}

enum { OPT_PRIVATE = 256, OPT_MAX_LEAK, OPT_JSON, OPT_QUIET, OPT_SOCKET, OPT_TT_METAL, OPT_VERSION };
static const struct option longopts[] = {
	{"private", no_argument, NULL, OPT_PRIVATE},
	{"max-leak", required_argument, NULL, OPT_MAX_LEAK},
	{"json", required_argument, NULL, OPT_JSON},
	{"quiet", no_argument, NULL, OPT_QUIET},
	{"socket", required_argument, NULL, OPT_SOCKET},
	{"tt-metal", no_argument, NULL, OPT_TT_METAL},
	{"help", no_argument, NULL, 'h'},
	{"version", no_argument, NULL, OPT_VERSION},
	{NULL, 0, NULL, 0},
};

/* Applies one option (cli_apply_fn). */
static int apply_option(void *ctx, int opt, const char *arg, int argc, char **argv, char *err)
{
	(void)argc;
	(void)argv;
	struct run_options *o = ctx;
	switch (opt) {
	case OPT_PRIVATE:
		o->private_server = 1;
		return 0;
	case OPT_MAX_LEAK:
		return cli_bytes("--max-leak", arg, &o->max_leak, err);
	case OPT_JSON:
		o->json_path = arg;
		return 0;
	case OPT_QUIET:
		o->quiet = 1;
		return 0;
	case OPT_SOCKET:
		o->socket_path = arg;
		return 0;
	case OPT_TT_METAL:
		return find_ttmetal_plugin(o->ttmetal_plugin, sizeof(o->ttmetal_plugin), err);
	case 'h':
		return CLI_HELP;
	case OPT_VERSION:
		return CLI_VERSION;
	default:
		return TTALLOC_EINVAL;
	}
}

/*
 * Parses the command line into `o` (the command is what follows the
 * options). Returns CLI_RUN, CLI_HELP or CLI_VERSION, or TTALLOC_EINVAL with the reason
 * in `err` (common/cli.h).
 */
static int parse_options(int argc, char **argv, struct run_options *o, char *err)
{
	int first = argc;
	int rc = cli_parse(argc, argv, "+:h", longopts, apply_option, o, &first, err);
	if (rc != CLI_RUN)
		return rc;
	if (first >= argc)
		return error_set(err, TTALLOC_EINVAL, "no command given (ttalloc-run [OPTIONS] -- CMD [ARGS...])");
	o->command = &argv[first];
	return CLI_RUN;
}

/* ---- the server ---- */

/* 1 when a server answers at `path`; else 0 with why in `err` and errno set (common/reach.h). */
static int server_answers(const char *path, char *err)
{
	struct query_client qc = QUERY_CLIENT_INIT;
	if (query_connect(&qc, path, err) < 0)
		return 0;
	query_close(&qc);
	return 1;
}

/* Path of ttalloc-server: beside this binary, else from PATH. */
static void server_binary(char *buf, size_t size)
{
	char self[PATH_MAX];
	self_dir(self, sizeof(self));
	if (self[0]) {
		snprintf(buf, size, "%s/ttalloc-server", self);
		if (access(buf, X_OK) == 0)
			return;
	}
	snprintf(buf, size, "ttalloc-server");
}

static int start_private_server(struct private_server *ps)
{
	snprintf(ps->dir, sizeof(ps->dir), "/tmp/ttalloc-run.XXXXXX");
	if (!mkdtemp(ps->dir)) {
		fprintf(stderr, "ttalloc-run: cannot create a temporary directory: %s\n", strerror(errno));
		return -1;
	}
	snprintf(ps->socket_path, sizeof(ps->socket_path), "%s/server.sock", ps->dir);
	snprintf(ps->log_path, sizeof(ps->log_path), "%s/server.log", ps->dir);
	char binary[PATH_MAX];
	server_binary(binary, sizeof(binary));
	ps->pid = fork();
	if (ps->pid < 0)
		return -1;
	if (ps->pid == 0) {
		FILE *log = freopen(ps->log_path, "w", stdout);
		if (log)
			dup2(fileno(stdout), 2);
		/* --no-http: a private server must not compete for the dashboard port */
		execlp(binary, binary, "--socket", ps->socket_path, "--quiet", "--no-http", "--no-retain-leaks",
		       (char *)NULL);
		_exit(127);
	}
	char err[ERR_LEN];
	for (int i = 0; i < 500; i++) {
		if (server_answers(ps->socket_path, err))
			return 0;
		if (waitpid(ps->pid, NULL, WNOHANG) == ps->pid)
			break;
		usleep(10000);
	}
	fprintf(stderr, "ttalloc-run: the private server (%s) did not start; see %s\n", binary, ps->log_path);
	return -1;
}

static void stop_private_server(struct private_server *ps)
{
	if (ps->pid > 0) {
		kill(ps->pid, SIGTERM);
		waitpid(ps->pid, NULL, 0);
	}
	unlink(ps->socket_path);
	unlink(ps->log_path);
	rmdir(ps->dir);
}

/* ---- the command ---- */

static void make_session(char *buf, size_t size)
{
	struct timespec ts;
	clock_gettime(CLOCK_REALTIME, &ts);
	snprintf(buf, size, "run-%d-%lx%lx", (int)getpid(), (long)ts.tv_sec, (long)ts.tv_nsec);
}

/*
 * As child subreaper, ttalloc-run inherits the command's orphaned
 * descendants; reap them (for at most DESCENDANTS_MS) so that their buffers
 * are settled before the leaks are read.
 */
static void wait_descendants(void)
{
	for (int waited = 0; waited < DESCENDANTS_MS; waited += 10) {
		pid_t pid;
		while ((pid = waitpid(-1, NULL, WNOHANG)) > 0)
			;
		if (pid < 0 && errno == ECHILD)
			return;
		usleep(10000);
	}
	fprintf(stderr,
		"ttalloc-run: descendants of the command still running after %d ms; their buffers "
		"count as held\n",
		DESCENDANTS_MS);
}

/* Waits for a child; returns its exit status, or 128 + signal. */
static int wait_status(pid_t child)
{
	int status;
	while (waitpid(child, &status, 0) < 0)
		if (errno != EINTR)
			return 127;
	return WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
}

/*
 * The command runs under a small monitor process that is a child subreaper:
 * it inherits the command's orphans and waits for them too, so buffers of a
 * command's background children are settled before leaks are read. (The
 * monitor is separate so the private server, our own child, is not waited
 * for.)
 */
/*
 * --tt-metal: the plugin added to LD_PRELOAD after what the caller had there
 * (a sanitizer's runtime must stay first); any place in it comes before libc.
 */
static void preload(const char *library)
{
	const char *had = getenv("LD_PRELOAD");
	size_t size = strlen(library) + (had ? strlen(had) : 0) + 2;
	char *value = malloc(size);
	if (!value)
		return;
	snprintf(value, size, "%s%s%s", had && *had ? had : "", had && *had ? " " : "", library);
	setenv("LD_PRELOAD", value, 1);
	free(value);
}

static int run_command(char **command, const char *socket_path, const char *session, const char *plugin)
{
	pid_t monitor = fork();
	if (monitor < 0) {
		fprintf(stderr, "ttalloc-run: fork: %s\n", strerror(errno));
		return 127;
	}
	if (monitor == 0) {
		prctl(PR_SET_CHILD_SUBREAPER, 1);
		pid_t child = fork();
		if (child == 0) {
			setenv(PROTO_TRACKING_ENV, "1", 1);
			setenv(PROTO_SOCKET_ENV, socket_path, 1);
			setenv(PROTO_SESSION_ENV, session, 1);
			if (plugin[0])
				preload(plugin);
			execvp(command[0], command);
			fprintf(stderr, "ttalloc-run: cannot run %s: %s\n", command[0], strerror(errno));
			_exit(127);
		}
		/* the terminal's signals are for the command */
		signal(SIGINT, SIG_IGN);
		signal(SIGQUIT, SIG_IGN);
		int status = child < 0 ? 127 : wait_status(child);
		wait_descendants();
		_exit(status);
	}
	signal(SIGINT, SIG_IGN);
	signal(SIGQUIT, SIG_IGN);
	int status = wait_status(monitor);
	signal(SIGINT, SIG_DFL);
	signal(SIGQUIT, SIG_DFL);
	return status;
}

/* ---- collecting the session's leaks ---- */

static int add_leaked(struct leak_list *list, const struct leaked *item)
{
	if (ARRAY_RESERVE(list->items, list->cap, list->count + 1) < 0)
		return TTALLOC_ENOMEM;
	list->items[list->count++] = *item;
	return 0;
}

/* LEAK_ROW starts an item; the STACK_LINEs that follow belong to it. */
static int on_leak_row(const struct proto_msg *row, void *ctx)
{
	struct leak_list *list = ctx;
	if (row->type == PROTO_STACK_LINE) {
		struct leaked *last = list->count ? &list->items[list->count - 1] : NULL;
		if (last && last->stack_lines < STACK_LINES_KEPT) {
			memcpy(last->stack[last->stack_lines], row->u.text.text, sizeof(last->stack[0]));
			last->stack[last->stack_lines++][sizeof(last->stack[0]) - 1] = '\0';
		}
		return 0;
	}
	struct leaked item = {0};
	buffer_row_decode(row, &item.buf);
	memcpy(item.comm, row->u.process.comm, sizeof(item.comm));
	item.comm[sizeof(item.comm) - 1] = '\0';
	return add_leaked(ctx, &item);
}

struct live_rows {
	int dead;  /* rows of processes that have exited (server not yet told) */
	int alive; /* rows of processes that outlived the command */
	struct leak_list *held;
};

static int on_process_row(const struct proto_msg *row, void *ctx)
{
	struct live_rows *rows = ctx;
	/* exited: a --retain-leaks server keeps its leaks counted (its leak report says what) */
	if ((row->u.process.flags & PROTO_PROCESS_EXITED) || !proc_alive(row->process_id)) {
		rows->dead++;
		return 0;
	}
	rows->alive++;
	static const unsigned types[] = {TTALLOC_DRAM, TTALLOC_L1, TTALLOC_L1_SMALL, TTALLOC_TRACE};
	for (int i = 0; i < 4; i++) {
		if (!row->u.process.used[i])
			continue;
		struct leaked item = {
			.buf = {.pid = row->process_id,
				.device = row->device_id,
				.type = types[i],
				.size = row->u.process.used[i]},
			.still_running = 1,
		};
		memcpy(item.comm, row->u.process.comm, sizeof(item.comm));
		item.comm[sizeof(item.comm) - 1] = '\0';
		if (add_leaked(rows->held, &item) < 0)
			return TTALLOC_ENOMEM;
	}
	return 0;
}

static void session_request(struct proto_msg *req, enum proto_msg_type type, const char *session)
{
	proto_msg_init(req, type, -1);
	proto_set_string(req->u.filter.session, sizeof(req->u.filter.session), session);
}

/*
 * Waits until the server has seen every exited process of the session,
 * then reads the leak reports and what live processes still hold.
 */
static int collect(const char *socket_path, const char *session, struct leak_list *leaks, char *err)
{
	struct query_client qc = QUERY_CLIENT_INIT;
	int rc = query_connect(&qc, socket_path, err);
	if (rc < 0)
		return rc;
	struct proto_msg req;
	struct live_rows rows;
	for (int waited = 0;; waited += 10) {
		leaks->count = 0;
		rows = (struct live_rows){0, 0, leaks};
		session_request(&req, PROTO_PROCESS_QUERY, session);
		rc = query_rows(&qc, &req, PROTO_PROCESS_ROW, on_process_row, &rows, err);
		if (rc < 0 || rows.dead == 0 || waited >= SETTLE_MS)
			break;
		usleep(10000);
	}
	if (rc == 0) {
		session_request(&req, PROTO_LEAK_QUERY, session);
		req.buffer_type = PROTO_LEAK_WITH_STACKS;
		rc = query_rows2(&qc, &req, PROTO_LEAK_ROW, PROTO_STACK_LINE, on_leak_row, leaks, err);
	}
	query_close(&qc);
	return rc;
}

/* ---- the report ---- */

static int by_size_desc(const void *a, const void *b)
{
	const struct leaked *x = a, *y = b;
	return x->buf.size < y->buf.size ? 1 : x->buf.size > y->buf.size ? -1 : 0;
}

static uint64_t total_bytes(const struct leak_list *list)
{
	uint64_t sum = 0;
	for (size_t i = 0; i < list->count; i++)
		sum += list->items[i].buf.size;
	return sum;
}

static void print_summary(const struct leak_list *list, uint64_t max_leak)
{
	char text[FORMAT_BYTES_LEN];
	uint64_t total = total_bytes(list);
	if (list->count == 0) {
		fprintf(stderr, "ttalloc-run: ✅ no device memory leaked\n");
		return;
	}
	fprintf(stderr, "ttalloc-run: %s %s of device memory leaked (%zu record%s; limit %" PRIu64 " bytes)\n",
		total > max_leak ? "❌" : "⚠️ ", format_bytes_compact(text, sizeof(text), total, 1), list->count,
		list->count == 1 ? "" : "s", max_leak);
	/* per device and type */
	for (int d = 0; d < PROTO_MAX_DEVICES; d++) {
		for (unsigned t = 0; t < TTALLOC_BUFFER_TYPES; t++) {
			uint64_t bytes = 0, n = 0;
			for (size_t i = 0; i < list->count; i++)
				if (list->items[i].buf.device == d && list->items[i].buf.type == t) {
					bytes += list->items[i].buf.size;
					n++;
				}
			if (n)
				fprintf(stderr, "    Device %d %-8s %10s in %" PRIu64 " buffer%s\n", d,
					proto_buffer_type_name(t), format_bytes_compact(text, sizeof(text), bytes, 1),
					n, n == 1 ? "" : "s");
		}
	}
	fprintf(stderr, "  Biggest:\n");
	for (size_t i = 0; i < list->count && i < TOP_BUFFERS; i++) {
		const struct leaked *l = &list->items[i];
		const struct buffer_snapshot_row *b = &l->buf;
		if (l->still_running)
			fprintf(stderr, "    [Device %d] %" PRIu64 " bytes %s still held by running PID %d (%s)\n",
				b->device, b->size, proto_buffer_type_name(b->type), (int)b->pid, l->comm);
		else
			fprintf(stderr,
				"    [Device %d] Buffer 0x%" PRIx64 ": %" PRIu64
				" bytes %s by PID %d (%s, age: %" PRIu64 "s)\n",
				b->device, b->address, b->size, proto_buffer_type_name(b->type), (int)b->pid, l->comm,
				(uint64_t)(b->age_ns / 1000000000ull));
		for (uint32_t f = 0; f < l->stack_lines; f++)
			fprintf(stderr, "        at %s\n", l->stack[f]);
	}
}

/* The --json report: the session's leaked buffers as the data model's buffer objects. */
static int write_json(const char *path, const struct leak_list *list, int command_status, uint64_t max_leak,
		      const char *session)
{
	json_t *buffers = json_array();
	for (size_t i = 0; i < list->count; i++) {
		const struct leaked *l = &list->items[i];
		json_t *stack = l->stack_lines ? json_array()
					       : json_null(); /* null: none captured, as in /api/buffers */
		for (uint32_t f = 0; f < l->stack_lines; f++)
			json_array_append_new(stack, json_string(l->stack[f]));
		json_t *b = model_buffer_json(l->buf.device, l->buf.address, l->buf.size, l->buf.type, l->buf.pid,
					      l->comm);
		json_object_set_new(b, "age_seconds", json_real((double)l->buf.age_ns / 1e9));
		json_object_set_new(b, "still_running", json_boolean(l->still_running));
		json_object_set_new(b, "stack", stack);
		json_array_append_new(buffers, b);
	}
	uint64_t total = total_bytes(list);
	json_t *root = json_pack("{s:s, s:i, s:I, s:I, s:I, s:b, s:o}", "session", session, "command_status",
				 command_status, "leaked_bytes", (json_int_t)total, "max_leak_bytes",
				 (json_int_t)max_leak, "buffer_count", (json_int_t)list->count, "failed",
				 total > max_leak, "buffers", buffers);
	int rc = json_dump_file(root, path, JSON_INDENT(2));
	json_decref(root);
	if (rc < 0)
		fprintf(stderr, "ttalloc-run: cannot write %s\n", path);
	return rc;
}

int main(int argc, char **argv)
{
	struct run_options o = {0};
	char parse_err[ERR_LEN];
	int parsed = parse_options(argc, argv, &o, parse_err);
	if (parsed < 0)
		return cli_fail("ttalloc-run", parse_err);
	if (parsed == CLI_HELP) {
		usage(stdout);
		return 0;
	}
	if (parsed == CLI_VERSION) {
		printf("ttalloc-run %s\n", TTALLOC_VERSION);
		return 0;
	}
	const char *socket_path = o.socket_path ? o.socket_path : unix_socket_default_path();

	struct private_server ps = {.pid = -1};
	char err[UNIX_SOCKET_ERR_LEN];
	int use_private = o.private_server || !server_answers(socket_path, err);
	if (!o.private_server && use_private && reach_denied(errno))
		fprintf(stderr, "ttalloc-run: %s; running the command with a private server instead\n", err);
	if (use_private) {
		if (start_private_server(&ps) < 0)
			return 127;
		socket_path = ps.socket_path;
	}
	char session[PROTO_SESSION_LEN];
	make_session(session, sizeof(session));
	int status = run_command(o.command, socket_path, session, o.ttmetal_plugin);

	struct leak_list leaks = {0};
	int rc = collect(socket_path, session, &leaks, err);
	if (ps.pid > 0)
		stop_private_server(&ps);
	if (rc < 0) {
		fprintf(stderr, "ttalloc-run: %s\n", err);
		free(leaks.items);
		return status ? status : 127;
	}
	if (leaks.count) /* qsort(NULL, 0, ...) is undefined behaviour */
		qsort(leaks.items, leaks.count, sizeof(*leaks.items), by_size_desc);
	uint64_t total = total_bytes(&leaks);
	if (!o.quiet || leaks.count)
		print_summary(&leaks, o.max_leak);
	if (o.json_path)
		write_json(o.json_path, &leaks, status, o.max_leak, session);
	free(leaks.items);
	if (total > o.max_leak) {
		fprintf(stderr, "ttalloc-run: failing: %" PRIu64 " bytes leaked, more than --max-leak %" PRIu64 "\n",
			total, o.max_leak);
		return EXIT_LEAKED;
	}
	return status;
}
