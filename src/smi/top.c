/*
 * top.c - the terminal of `tt_smi top` through ncurses, the server through
 * query.h, and the loop between them (top.h). What is shown and how keys
 * change it is top_model.c and top_render.c; this file only moves their
 * lines onto the screen (ANSI styles become curses attributes) and keys
 * into the model.
 */
#include <curses.h>
#include <errno.h>
#include <getopt.h>
#include <langinfo.h>
#include <locale.h>
#include <poll.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "common/cli.h"
#include "common/clock.h"
#include "common/proc_info.h"
#include "smi/top.h"

/* Seconds of history behind the sparklines. */
#define TOP_HISTORY_SEC 120

/* ---- options ---- */

static void top_usage(FILE *out)
{
	fprintf(out,
		"Usage: tt_smi top [OPTIONS]\n"
		"A live view of every device and the processes using them: bars and\n"
		"sparklines of each device's memory (scaled to its capacity), then the\n"
		"processes with their command line, user, age and memory per type. Select\n"
		"one and press Enter to list its buffers.\n\n"
		"  -r, --refresh MS     refresh period in milliseconds (default %d, %d..%d)\n"
		"  -s, --socket PATH    server socket (default $%s or\n"
		"                       %s)\n"
		"  -i, --id LIST        only these devices (indices, serials, UUIDs or bus ids)\n"
		"      --no-color       no colours (also when $NO_COLOR is set)\n"
		"  -h, --help           this text\n\n"
		"Keys: Up/Down (j/k), PgUp/PgDn, Home/End move; Enter lists the selected\n"
		"process's buffers (Esc back); s, < and > change the sort key, m p n a d\n"
		"sort by memory, pid, name, age, device, r reverses; / filters by command,\n"
		"name, user or pid; ? help; q or Ctrl-C quit.\n",
		SMI_DEFAULT_REFRESH_MS, SMI_MIN_REFRESH_MS, SMI_MAX_REFRESH_MS, PROTO_SOCKET_ENV, PROTO_DEFAULT_SOCKET);
}

enum { OPT_NO_COLOR = 256 };

static const struct option top_longopts[] = {
	{"refresh", required_argument, NULL, 'r'},
	{"socket", required_argument, NULL, 's'},
	{"no-color", no_argument, NULL, OPT_NO_COLOR},
	{"id", required_argument, NULL, 'i'},
	{"help", no_argument, NULL, 'h'},
	{NULL, 0, NULL, 0},
};

static int apply_top_option(void *ctx, int opt, const char *arg, int argc, char **argv, char *err)
{
	(void)argc;
	(void)argv;
	struct top_options *o = ctx;
	uint64_t v;
	switch (opt) {
	case 'r':
		if (cli_uint("--refresh", arg, 10, SMI_MIN_REFRESH_MS, SMI_MAX_REFRESH_MS, &v, err) < 0)
			return TTALLOC_EINVAL;
		o->refresh_ms = (int)v;
		return 0;
	case 's':
		o->socket_path = arg;
		return 0;
	case OPT_NO_COLOR:
		o->color = SMI_COLOR_NEVER;
		return 0;
	case 'i':
		if (smi_select_check(arg, err, ERR_LEN) < 0)
			return TTALLOC_EINVAL;
		o->ids = arg;
		return 0;
	case 'h':
		return CLI_HELP;
	default:
		return TTALLOC_EINVAL;
	}
}

int top_options_parse(struct top_options *o, int argc, char **argv, char *err)
{
	*o = (struct top_options){.refresh_ms = SMI_DEFAULT_REFRESH_MS, .color = SMI_COLOR_AUTO};
	return cli_parse(argc, argv, ":r:s:hi:", top_longopts, apply_top_option, o, NULL, err);
}

/* ---- the server ---- */

struct top_session {
	const struct top_options *opts;
	struct query_client qc;
	struct snapshot snap;
	struct history_snapshot hist;
	int connected; /* snap holds the last refresh */
	char err[UNIX_SOCKET_ERR_LEN];
};

static void read_cmdline(pid_t pid, char *buf, size_t size, void *ctx)
{
	(void)ctx;
	proc_read_cmdline(pid, buf, size);
}

/* Lists the buffers of the buffer view's process (unless the last try was refused). */
static void fetch_buffers(struct top_session *t, struct top_model *m)
{
	struct buffer_snapshot bufs = BUFFER_SNAPSHOT_INIT;
	char err[UNIX_SOCKET_ERR_LEN];
	if (m->view != TOP_VIEW_BUFFERS || m->buf_error[0] || !t->connected)
		return;
	int rc = buffer_snapshot_take(&t->qc, m->buf_pid, m->buf_device, 0, 1, &bufs, err);
	if (rc < 0 && rc != TTALLOC_EPROTOCOL)
		query_close(&t->qc); /* broken: the next refresh connects again */
	top_model_set_buffers(m, &bufs, rc < 0 ? err : NULL);
	buffer_snapshot_release(&bufs);
}

/* The process row of the buffer view, for its buffer count. */
static void follow_buffer_row(struct top_model *m)
{
	m->buf_total = 0;
	for (size_t i = 0; i < m->count; i++)
		if (m->rows[i].pid == m->buf_pid && m->rows[i].device == m->buf_device)
			m->buf_total = m->rows[i].buffers;
}

/* Reads the devices, processes, history and (in the buffer view) buffers into the model. */
static void reload(struct top_session *t, struct top_model *m)
{
	t->connected = smi_live_snapshot(&t->qc, t->opts->socket_path, &t->snap, t->err) == 0 &&
		smi_select_devices(&t->snap, t->opts->ids, t->err, sizeof(t->err)) == 0;
	if (t->connected) {
		char ignored[UNIX_SOCKET_ERR_LEN];
		int points = top_spark_width(COLS);
		if (points < 1 ||
		    history_snapshot_take(&t->qc, TOP_HISTORY_SEC, (uint32_t)points, &t->hist, ignored) < 0)
			history_snapshot_release(&t->hist); /* blank sparklines (an older server) */
	} else {
		snapshot_release(&t->snap);
		history_snapshot_release(&t->hist);
	}
	top_model_update(m, t->connected ? &t->snap : NULL, read_cmdline, NULL);
	follow_buffer_row(m);
	fetch_buffers(t, m);
}

/* ---- the screen ---- */

enum { PAIR_RED = 1, PAIR_GREEN, PAIR_YELLOW };

/* The curses attributes after an SGR sequence's parameters ("1", "0", "31"). */
static attr_t apply_sgr(attr_t attrs, const char *params, size_t len)
{
	const char *p = params, *end = params + len;
	while (p < end) {
		int n = atoi(p);
		if (n == 0)
			attrs = A_NORMAL;
		else if (n == 1)
			attrs |= A_BOLD;
		else if (n == 2)
			attrs |= A_DIM;
		else if (n == 7)
			attrs |= A_REVERSE;
		else if (n >= 31 && n <= 33)
			attrs = (attrs & ~A_COLOR) |
				COLOR_PAIR(n == 31           ? PAIR_RED
						   : n == 32 ? PAIR_GREEN
							     : PAIR_YELLOW);
		while (p < end && *p != ';')
			p++;
		p += p < end;
	}
	return attrs;
}

/* Draws one rendered line at row `y`: its text runs with the attributes its escape sequences set. */
static void draw_line(int y, const char *s, size_t len)
{
	attr_t attrs = A_NORMAL;
	move(y, 0);
	for (size_t i = 0; i < len;) {
		if (s[i] == '\033' && i + 1 < len && s[i + 1] == '[') {
			size_t end = i + 2;
			while (end < len && s[end] != 'm')
				end++;
			attrs = apply_sgr(attrs, s + i + 2, end - i - 2);
			i = end + 1;
			continue;
		}
		size_t run = i;
		while (run < len && s[run] != '\033')
			run++;
		attrset(attrs);
		addnstr(s + i, (int)(run - i));
		i = run;
	}
	attrset(A_NORMAL);
}

static int draw(struct top_model *m, const struct top_session *t, int color)
{
	struct strbuf text = STRBUF_INIT;
	struct top_screen s = {
		.snap = t->connected ? &t->snap : NULL,
		.hist = t->connected ? &t->hist : NULL,
		.error = t->connected ? NULL : t->err,
		.now = time(NULL),
		.now_ns = clock_realtime_ns(),
		.rows = LINES,
		.columns = COLS,
		.color = color,
		.refresh_ms = t->opts->refresh_ms,
	};
	int rc = top_render(&text, m, &s);
	erase();
	const char *line = strbuf_str(&text);
	for (int y = 0; rc == 0 && *line && y < LINES; y++) {
		size_t len = strcspn(line, "\n");
		draw_line(y, line, len);
		line += len + (line[len] == '\n');
	}
	refresh();
	strbuf_release(&text);
	return rc;
}

/* Curses' keys as the model's. */
static int model_key(int ch)
{
	switch (ch) {
	case KEY_UP:
		return TOP_KEY_UP;
	case KEY_DOWN:
		return TOP_KEY_DOWN;
	case KEY_PPAGE:
		return TOP_KEY_PAGE_UP;
	case KEY_NPAGE:
		return TOP_KEY_PAGE_DOWN;
	case KEY_HOME:
		return TOP_KEY_HOME;
	case KEY_END:
		return TOP_KEY_END;
	case KEY_LEFT:
		return TOP_KEY_LEFT;
	case KEY_ENTER:
	case '\n':
	case '\r':
		return TOP_KEY_ENTER;
	case 27:
		return TOP_KEY_ESCAPE;
	case KEY_BACKSPACE:
	case 127:
	case 8:
		return TOP_KEY_BACKSPACE;
	default:
		return ch;
	}
}

/* Applies the keys waiting; returns 1 when one asked to quit. */
static int take_keys(struct top_session *t, struct top_model *m)
{
	int ch;
	while ((ch = getch()) != ERR) {
		if (ch == KEY_RESIZE)
			continue; /* the next draw takes the new size */
		enum top_action act = top_model_key(m, model_key(ch), m->page);
		if (act == TOP_ACT_QUIT)
			return 1;
		if (act == TOP_ACT_BUFFERS)
			fetch_buffers(t, m);
	}
	return 0;
}

static long long now_ms(void)
{
	return (long long)(clock_monotonic_ns() / 1000000u);
}

/* Sets up curses on the terminal; NULL when it cannot. */
static SCREEN *open_screen(int color)
{
	SCREEN *scr = newterm(NULL, stdout, stdin);
	if (!scr)
		return NULL;
	cbreak(); /* keys at once; Ctrl-C still raises SIGINT */
	noecho();
	keypad(stdscr, TRUE);
	nodelay(stdscr, TRUE);
	curs_set(0);
	set_escdelay(25);
	if (color && has_colors()) {
		start_color();
		use_default_colors();
		init_pair(PAIR_RED, COLOR_RED, -1);
		init_pair(PAIR_GREEN, COLOR_GREEN, -1);
		init_pair(PAIR_YELLOW, COLOR_YELLOW, -1);
	}
	return scr;
}

/*
 * UTF-8 for the bars and sparklines even where the locale is plain C. Only
 * the character set: numbers keep their decimal point ("1.5GB").
 */
static void choose_locale(void)
{
	setlocale(LC_CTYPE, "");
	const char *codeset = nl_langinfo(CODESET);
	if (!codeset || strcmp(codeset, "UTF-8") != 0)
		setlocale(LC_CTYPE, "C.UTF-8");
}

/* The loop: refresh every period, draw, and between draws apply keys at once. */
static int run(struct top_session *t, struct top_model *m, int color)
{
	long long next = 0;
	int rc = 0;
	while (!smi_live_stopped() && rc == 0) {
		if (now_ms() >= next) {
			reload(t, m);
			next = now_ms() + t->opts->refresh_ms;
		}
		rc = draw(m, t, color);
		long long wait = next - now_ms();
		struct pollfd pfd = {.fd = STDIN_FILENO, .events = POLLIN};
		poll(&pfd, 1, wait > 0 ? (int)wait : 0);
		if (take_keys(t, m)) /* keys, or a resize (SIGWINCH ended the wait): curses reads it in getch */
			break;
	}
	return rc;
}

int smi_top_main(int argc, char **argv)
{
	struct top_options opts;
	char err[ERR_LEN];
	int parsed = top_options_parse(&opts, argc, argv, err);
	if (parsed < 0)
		return cli_fail("tt_smi top", err);
	if (parsed == CLI_HELP) {
		top_usage(stdout);
		return 0;
	}
	if (!isatty(STDIN_FILENO) || !isatty(STDOUT_FILENO)) {
		fprintf(stderr, "tt_smi top: needs a terminal (for lines to a pipe: tt_smi dmon or tt_smi pmon)\n");
		return 1;
	}
	choose_locale();
	smi_live_catch_signals();
	int color = smi_use_color(opts.color, 1);
	SCREEN *scr = open_screen(color);
	if (!scr) {
		fprintf(stderr, "tt_smi top: cannot set up the terminal (TERM=%s)\n",
			getenv("TERM") ? getenv("TERM") : "");
		return 1;
	}
	struct top_session t = {.opts = &opts, .qc = QUERY_CLIENT_INIT};
	struct top_model m;
	top_model_init(&m);
	int rc = run(&t, &m, color);
	endwin();
	delscreen(scr);
	query_close(&t.qc);
	snapshot_release(&t.snap);
	history_snapshot_release(&t.hist);
	top_model_release(&m);
	if (rc < 0)
		fprintf(stderr, "tt_smi top: out of memory\n");
	return rc < 0 ? 1 : 0;
}
