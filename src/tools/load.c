/*
 * load.c - ttalloc-load: a workload generator that reports buffer
 * allocations through the public libttalloc API, as an application would.
 *
 * Patterns:
 *   hold   allocate --count buffers, keep them for --hold-ms (or until
 *          SIGINT/SIGTERM), then free them all;
 *   churn  --events alloc/free events, at most --count buffers live at once,
 *          then free what is left;
 *   leak   allocate --count buffers and exit without freeing them, so the
 *          server prints a leak report for this process.
 *
 * Addresses are (pid << 40) | (thread << 32) | offset: unique per process and
 * per thread, and reused after a free, as a device allocator would.
 * Nothing is forced on: the library reports only when the environment has
 * TT_ALLOC_TRACKING_ENABLED=1, exactly as for any application.
 */
#include <errno.h>
#include <getopt.h>
#include <inttypes.h>
#include <pthread.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>
#include <unistd.h>

#include "common/cli.h"
#include "common/clock.h"
#include "common/format.h"
#include "common/protocol.h"
#include "common/random.h"
#include "common/unix_socket.h"
#include "common/version.h"
#include "ttalloc.h"

#define MAX_THREADS 256 /* thread number fits bits 32..39 of an address */
#define THREAD_SPAN (1ull << 32)

enum pattern { PATTERN_HOLD, PATTERN_CHURN, PATTERN_LEAK };

struct options {
	int devices[PROTO_MAX_DEVICES];
	int num_devices;
	enum ttalloc_buffer_type type;
	uint64_t size;   /* bytes per buffer */
	uint64_t count;  /* buffers (hold, leak) or most live at once (churn) */
	uint64_t events; /* churn only */
	enum pattern pattern;
	unsigned threads;
	long long hold_ms; /* -1: until a signal */
	uint64_t seed;
	int flush;
	int quiet;
	const char *socket_path; /* --socket, else NULL: the library's $TT_ALLOC_SERVER_SOCKET or default */
};

/* Totals of one thread, summed at the end. */
struct tally {
	uint64_t allocated;
	uint64_t bytes;
	uint64_t freed;
	uint64_t no_server; /* events the library kept because the server was gone */
	uint64_t failed;    /* other errors from the library */
	int first_error;
};

struct worker {
	const struct options *opts;
	unsigned index;
	uint64_t base;   /* first address of this thread's range */
	uint64_t stride; /* distance between two buffer addresses */
	uint64_t slots;  /* buffers this thread may have live */
	uint64_t events; /* churn events for this thread */
	uint64_t rng;
	uint32_t *live; /* slots holding a live buffer (churn) */
	uint32_t *idle; /* slots free for an allocation (churn) */
	uint64_t live_count;
	uint64_t idle_count;
	struct tally tally;
};

static atomic_int stop_requested;

static void on_signal(int sig)
{
	(void)sig;
	atomic_store(&stop_requested, 1);
}

static int stopping(void)
{
	return atomic_load_explicit(&stop_requested, memory_order_relaxed);
}

static void usage(FILE *out)
{
	fprintf(out,
		"Usage: ttalloc-load [OPTIONS]\n"
		"Reports device buffer allocations to the ttalloc server through libttalloc,\n"
		"like an application would. Reporting happens only with\n"
		"TT_ALLOC_TRACKING_ENABLED=1 in the environment; the server socket is\n"
		"--socket, else $TT_ALLOC_SERVER_SOCKET, else /tmp/tt_allocation_server.sock.\n\n"
		"  -d, --device N[,N...]  device id(s), repeatable (default 0); buffers go\n"
		"                         round-robin over the devices\n"
		"  -t, --type TYPE        dram (default), l1, l1_small, trace, cb, system\n"
		"  -s, --size BYTES       bytes per buffer, suffix K, M, G or T (1024-based;\n"
		"                         default 1M)\n"
		"  -n, --count N          buffers to allocate (hold, leak) or the most live\n"
		"                         at once (churn); default 16\n"
		"  -p, --pattern P        hold (default): allocate, keep for --hold-ms, free;\n"
		"                         churn: --events random allocs/frees, then free all;\n"
		"                         leak: allocate and exit without freeing\n"
		"  -e, --events N         alloc+free events for churn (default 10000)\n"
		"  -j, --threads T        reporting threads, each with its own address range\n"
		"                         (1..%d, default 1); --count and --events are shared\n"
		"      --hold-ms MS       how long hold keeps its buffers; -1 until SIGINT or\n"
		"                         SIGTERM (default 1000). A signal ends any pattern\n"
		"                         early, freeing what is live (leak: not freed)\n"
		"      --seed S           random seed for churn (default 1)\n"
		"      --flush            wait until the server has processed the allocations\n"
		"                         before holding or exiting (default)\n"
		"      --no-flush         do not wait (delivery is then checked only as far as\n"
		"                         reaching a server at all)\n"
		"      --socket PATH      the server's socket (sets $TT_ALLOC_SERVER_SOCKET for\n"
		"                         libttalloc)\n"
		"  -q, --quiet            only the summary line (warnings still go to stderr)\n"
		"  -h, --help             this text\n"
		"      --version          prints the version\n\n"
		"The last line on stdout is the summary:\n"
		"  ttalloc-load: pid P allocated A buffers (B bytes), freed F, live L\n"
		"Exit status: 0 every event reached the server (the last flush confirmed it,\n"
		"also across a server restart: the library re-sends its live buffers), 1 the\n"
		"library refused events (a device the server does not have, ...) or events\n"
		"did not reach a server (stderr says how many, the socket, where its path came\n"
		"from and why: no server there, or its permissions), or tracking was not\n"
		"enabled; 2 bad options.\n",
		MAX_THREADS);
}

static int parse_type(const char *text, enum ttalloc_buffer_type *type)
{
	static const struct {
		const char *name;
		enum ttalloc_buffer_type type;
	} names[] = {
		{"dram", TTALLOC_DRAM},
		{"l1", TTALLOC_L1},
		{"l1_small", TTALLOC_L1_SMALL},
		{"l1-small", TTALLOC_L1_SMALL},
		{"trace", TTALLOC_TRACE},
		{"cb", TTALLOC_CB},
		{"system", TTALLOC_SYSTEM_MEMORY},
		{"system_memory", TTALLOC_SYSTEM_MEMORY},
	};
	for (size_t i = 0; i < sizeof(names) / sizeof(names[0]); i++) {
		if (strcasecmp(text, names[i].name) == 0) {
			*type = names[i].type;
			return 0;
		}
	}
	return -1;
}

/* Adds the ids of "0", "0,1", "2,3,"... to the device list. */
static int add_devices(struct options *o, const char *list, char *err)
{
	char copy[256];
	if (strlen(list) >= sizeof(copy))
		return error_set(err, TTALLOC_EINVAL, "device list too long: '%s'", list);
	strcpy(copy, list);
	char *save = NULL;
	int any = 0;
	for (char *tok = strtok_r(copy, ",", &save); tok; tok = strtok_r(NULL, ",", &save)) {
		uint64_t id;
		if (format_parse_unsigned(tok, 10, PROTO_MAX_DEVICES - 1, &id) < 0)
			return error_set(err, TTALLOC_EINVAL, "bad device id in '%s' (0..63, comma-separated)", list);
		if (o->num_devices == PROTO_MAX_DEVICES)
			return error_set(err, TTALLOC_EINVAL, "too many devices in '%s'", list);
		o->devices[o->num_devices++] = (int)id;
		any = 1;
	}
	if (!any)
		return error_set(err, TTALLOC_EINVAL, "bad device list '%s'", list);
	return 0;
}

enum { OPT_HOLD_MS = 256, OPT_SEED, OPT_FLUSH, OPT_NO_FLUSH, OPT_SOCKET, OPT_VERSION };
static const struct option longopts[] = {
	{"device", required_argument, NULL, 'd'},
	{"type", required_argument, NULL, 't'},
	{"size", required_argument, NULL, 's'},
	{"count", required_argument, NULL, 'n'},
	{"pattern", required_argument, NULL, 'p'},
	{"events", required_argument, NULL, 'e'},
	{"threads", required_argument, NULL, 'j'},
	{"hold-ms", required_argument, NULL, OPT_HOLD_MS},
	{"seed", required_argument, NULL, OPT_SEED},
	{"flush", no_argument, NULL, OPT_FLUSH},
	{"no-flush", no_argument, NULL, OPT_NO_FLUSH},
	{"socket", required_argument, NULL, OPT_SOCKET},
	{"quiet", no_argument, NULL, 'q'},
	{"help", no_argument, NULL, 'h'},
	{"version", no_argument, NULL, OPT_VERSION},
	{NULL, 0, NULL, 0},
};

/* Applies one option (cli_apply_fn). */
static int apply_option(void *ctx, int opt, const char *arg, int argc, char **argv, char *err)
{
	(void)argc;
	(void)argv;
	struct options *o = ctx;
	uint64_t v;
	switch (opt) {
	case 'd':
		if (add_devices(o, arg, err) < 0)
			return TTALLOC_EINVAL;
		break;
	case 't':
		if (parse_type(arg, &o->type) < 0)
			return error_set(err, TTALLOC_EINVAL,
					 "unknown buffer type '%s' (dram, l1, l1_small, trace, cb, system)", arg);
		break;
	case 's':
		if (format_parse_bytes(arg, &o->size) < 0 || o->size == 0)
			return error_set(err, TTALLOC_EINVAL, "bad size '%s' (bytes > 0, optional suffix K, M, G, T)",
					 arg);
		break;
	case 'n':
		if (format_parse_unsigned(arg, 10, UINT32_MAX, &o->count) < 0 || o->count == 0)
			return error_set(err, TTALLOC_EINVAL, "bad count '%s' (1..4294967295)", arg);
		break;
	case 'p':
		if (strcmp(arg, "hold") == 0)
			o->pattern = PATTERN_HOLD;
		else if (strcmp(arg, "churn") == 0)
			o->pattern = PATTERN_CHURN;
		else if (strcmp(arg, "leak") == 0)
			o->pattern = PATTERN_LEAK;
		else
			return error_set(err, TTALLOC_EINVAL, "unknown pattern '%s' (hold, churn, leak)", arg);
		break;
	case 'e':
		if (format_parse_unsigned(arg, 10, UINT64_MAX, &o->events) < 0)
			return error_set(err, TTALLOC_EINVAL, "bad event count '%s'", arg);
		break;
	case 'j':
		if (format_parse_unsigned(arg, 10, MAX_THREADS, &v) < 0 || v == 0)
			return error_set(err, TTALLOC_EINVAL, "bad thread count '%s' (1..256)", arg);
		o->threads = (unsigned)v;
		break;
	case OPT_HOLD_MS:
		if (strcmp(arg, "-1") == 0)
			o->hold_ms = -1;
		else if (format_parse_unsigned(arg, 10, (uint64_t)1 << 40, &v) < 0)
			return error_set(err, TTALLOC_EINVAL, "bad --hold-ms '%s' (milliseconds, or -1 until a signal)",
					 arg);
		else
			o->hold_ms = (long long)v;
		break;
	case OPT_SEED:
		if (format_parse_unsigned(arg, 10, UINT64_MAX, &o->seed) < 0)
			return error_set(err, TTALLOC_EINVAL, "bad seed '%s'", arg);
		break;
	case OPT_FLUSH:
		o->flush = 1;
		break;
	case OPT_NO_FLUSH:
		o->flush = 0;
		break;
	case OPT_SOCKET:
		if (!*arg)
			return error_set(err, TTALLOC_EINVAL, "--socket needs a path");
		o->socket_path = arg;
		break;
	case 'q':
		o->quiet = 1;
		break;
	case 'h':
		return CLI_HELP;
	case OPT_VERSION:
		return CLI_VERSION;
	default:
		return TTALLOC_EINVAL;
	}
	return 0;
}

/*
 * Parses the command line into `o`. Returns CLI_RUN, CLI_HELP or CLI_VERSION, or
 * TTALLOC_EINVAL with the reason in `err` (common/cli.h).
 */
static int parse_options(int argc, char **argv, struct options *o, char *err)
{
	*o = (struct options){
		.type = TTALLOC_DRAM,
		.size = 1u << 20,
		.count = 16,
		.events = 10000,
		.pattern = PATTERN_HOLD,
		.threads = 1,
		.hold_ms = 1000,
		.seed = 1,
		.flush = 1,
	};
	int rc = cli_parse(argc, argv, ":d:t:s:n:p:e:j:qh", longopts, apply_option, o, NULL, err);
	if (rc != CLI_RUN)
		return rc;
	if (o->num_devices == 0)
		o->devices[o->num_devices++] = 0;
	if (o->threads > o->count)
		o->threads = (unsigned)o->count; /* no thread without a buffer */
	return CLI_RUN;
}

/* ---- one thread's work ---- */

static uint64_t slot_address(const struct worker *w, uint32_t slot)
{
	return w->base + (uint64_t)slot * w->stride;
}

static int slot_device(const struct worker *w, uint32_t slot)
{
	const struct options *o = w->opts;
	return o->devices[(w->index + slot) % (unsigned)o->num_devices];
}

/* Counts a report's result; returns 1 when the library recorded it (sent, or kept for the server). */
static int note(struct tally *t, int rc)
{
	if (rc == 0 || rc == TTALLOC_EDUPLICATE)
		return 1;
	if (rc == TTALLOC_ENOSERVER) {
		t->no_server++;
		return 1;
	}
	if (!t->first_error)
		t->first_error = rc;
	t->failed++;
	return 0;
}

/* The summary counts what was recorded: a refused report (say, for a device the server lacks) is not a buffer. */
static void alloc_slot(struct worker *w, uint32_t slot)
{
	int rc = ttalloc_report_alloc(slot_device(w, slot), w->opts->type, slot_address(w, slot), w->opts->size);
	if (note(&w->tally, rc)) {
		w->tally.allocated++;
		w->tally.bytes += w->opts->size;
	}
}

static void free_slot(struct worker *w, uint32_t slot)
{
	if (note(&w->tally, ttalloc_report_free(slot_device(w, slot), slot_address(w, slot))))
		w->tally.freed++;
}

/* hold and leak, first half: every slot gets a buffer. */
static void *allocate_all(void *arg)
{
	struct worker *w = arg;
	for (uint64_t s = 0; s < w->slots && !stopping(); s++) {
		alloc_slot(w, (uint32_t)s);
		w->live_count++;
	}
	return NULL;
}

/* hold, second half (and churn's end): free every live buffer. */
static void *free_all(void *arg)
{
	struct worker *w = arg;
	if (w->live) {
		while (w->live_count)
			free_slot(w, w->live[--w->live_count]);
	} else {
		for (; w->live_count; w->live_count--)
			free_slot(w, (uint32_t)(w->live_count - 1));
	}
	return NULL;
}

/* churn: random allocs and frees, between 0 and `slots` live. */
static void *churn(void *arg)
{
	struct worker *w = arg;
	for (uint64_t e = 0; e < w->events && !stopping(); e++) {
		uint64_t r = random_next(&w->rng);
		int do_alloc = w->live_count == 0 || (w->idle_count > 0 && (r & 1));
		if (do_alloc) {
			uint32_t slot = w->idle[--w->idle_count];
			alloc_slot(w, slot);
			w->live[w->live_count++] = slot;
		} else {
			uint64_t pick = (r >> 1) % w->live_count;
			uint32_t slot = w->live[pick];
			w->live[pick] = w->live[--w->live_count];
			free_slot(w, slot);
			w->idle[w->idle_count++] = slot;
		}
	}
	return NULL;
}

/* Runs fn on every worker, one thread each (the first on this thread). */
static int run_workers(struct worker *workers, unsigned n, void *(*fn)(void *))
{
	pthread_t *tids = calloc(n, sizeof(*tids));
	if (!tids) {
		fprintf(stderr, "ttalloc-load: out of memory\n");
		return -1;
	}
	unsigned started = 1;
	int rc = 0;
	for (; started < n; started++) {
		int err = pthread_create(&tids[started], NULL, fn, &workers[started]);
		if (err) {
			fprintf(stderr, "ttalloc-load: cannot start thread %u: %s\n", started, strerror(err));
			rc = -1;
			break;
		}
	}
	fn(&workers[0]);
	for (unsigned i = 1; i < started; i++)
		pthread_join(tids[i], NULL);
	free(tids);
	return rc;
}

/* ---- main ---- */

static uint64_t now_ms(void)
{
	return clock_monotonic_ns() / CLOCK_NS_PER_MS;
}

/* Waits hold_ms (or forever when -1) unless a signal comes first. */
static void hold(long long hold_ms)
{
	uint64_t deadline = hold_ms < 0 ? UINT64_MAX : now_ms() + (uint64_t)hold_ms;
	while (!stopping() && now_ms() < deadline) {
		uint64_t left = deadline - now_ms();
		struct timespec step = {0, (long)(left < 20 ? left : 20) * 1000000L};
		nanosleep(&step, NULL);
	}
}

static void catch_signals(void)
{
	struct sigaction sa;
	memset(&sa, 0, sizeof(sa));
	sa.sa_handler = on_signal;
	sa.sa_flags = (int)SA_RESETHAND; /* a second signal kills as usual */
	sigemptyset(&sa.sa_mask);
	sigaction(SIGINT, &sa, NULL);
	sigaction(SIGTERM, &sa, NULL);
}

static int setup_workers(const struct options *o, struct worker *workers)
{
	uint64_t pid_base = (uint64_t)getpid() << 40;
	for (unsigned i = 0; i < o->threads; i++) {
		struct worker *w = &workers[i];
		w->opts = o;
		w->index = i;
		w->base = pid_base | ((uint64_t)i * THREAD_SPAN);
		w->slots = o->count / o->threads + (i < o->count % o->threads);
		w->events = o->events / o->threads + (i < o->events % o->threads);
		w->rng = o->seed ^ ((uint64_t)(i + 1) * 0xd1b54a32d192ed03ull);
		/* buffers one after another, aligned to 4 KiB when the range allows */
		uint64_t stride = (o->size + 4095) & ~4095ull;
		if (stride == 0 || stride > THREAD_SPAN / w->slots)
			stride = THREAD_SPAN / w->slots;
		w->stride = stride ? stride : 1;
		if (o->pattern == PATTERN_CHURN) {
			w->live = malloc(w->slots * sizeof(*w->live));
			w->idle = malloc(w->slots * sizeof(*w->idle));
			if (!w->live || !w->idle) {
				fprintf(stderr, "ttalloc-load: out of memory for %" PRIu64 " buffers\n", w->slots);
				return -1;
			}
			for (uint64_t s = 0; s < w->slots; s++)
				w->idle[s] = (uint32_t)(w->slots - 1 - s); /* lowest address first */
			w->idle_count = w->slots;
		}
	}
	return 0;
}

static void flush_reports(const struct options *o, const char *when)
{
	if (!o->flush || !ttalloc_enabled())
		return;
	int rc = ttalloc_flush();
	if (rc < 0 && !o->quiet)
		fprintf(stderr,
			"ttalloc-load: warning: flush %s: %s; the library keeps the events and sends them "
			"when the server is reached\n",
			when, ttalloc_strerror(rc));
}

/*
 * Did every event reach a server? With --flush (the default) the library's
 * count of events not confirmed by its last flush says it (0 also after a
 * server restart: the library re-sends its live table); with --no-flush,
 * only whether any server was reached at all is known. Says on stderr how
 * many did not, to which socket, where its path came from and why.
 * Returns 0 when all were delivered, -1 otherwise.
 */
static int check_delivery(const struct options *o, uint64_t reported)
{
	if (!ttalloc_enabled()) {
		fprintf(stderr,
			"ttalloc-load: none of the %" PRIu64 " events reached a server: %s is not 1, so "
			"libttalloc reported nothing\n",
			reported, PROTO_TRACKING_ENV);
		return -1;
	}
	struct ttalloc_stats st;
	ttalloc_get_stats(&st, sizeof(st));
	uint64_t lost = o->flush ? st.unconfirmed : st.connections == 0 ? st.events : 0;
	if (lost == 0)
		return 0;
	char why[1024];
	fprintf(stderr,
		"ttalloc-load: %" PRIu64 " of %" PRIu64 " events were not delivered to an allocation "
		"server (socket %s, from %s)\n",
		lost, st.events, st.socket_path, unix_socket_path_source(o->socket_path));
	if (ttalloc_last_error(why, sizeof(why)))
		fprintf(stderr, "ttalloc-load: %s\n", why);
	return -1;
}

static const char *pattern_name(enum pattern p)
{
	return p == PATTERN_HOLD ? "hold" : p == PATTERN_CHURN ? "churn" : "leak";
}

int main(int argc, char **argv)
{
	struct options o;
	char err[ERR_LEN];
	int parsed = parse_options(argc, argv, &o, err);
	if (parsed < 0)
		return cli_fail("ttalloc-load", err);
	if (parsed == CLI_HELP) {
		usage(stdout);
		return 0;
	}
	if (parsed == CLI_VERSION) {
		printf("ttalloc-load %s\n", TTALLOC_VERSION);
		return 0;
	}
	if (o.socket_path)
		setenv(PROTO_SOCKET_ENV, o.socket_path, 1); /* read by libttalloc when it starts, below */
	const char *enabled = getenv(PROTO_TRACKING_ENV);
	if (!enabled || strcmp(enabled, "1") != 0)
		fprintf(stderr,
			"ttalloc-load: warning: %s is not 1, so libttalloc reports nothing to the server; "
			"run with %s=1\n",
			PROTO_TRACKING_ENV, PROTO_TRACKING_ENV);
	catch_signals();
	ttalloc_init(); /* connects now when it can; failure is reported by the flush */

	struct worker *workers = calloc(o.threads, sizeof(*workers));
	if (!workers || setup_workers(&o, workers) < 0) {
		fprintf(stderr, "ttalloc-load: out of memory\n");
		return 1;
	}
	if (!o.quiet)
		fprintf(stderr,
			"ttalloc-load: pid %d, pattern %s, %" PRIu64 " x %" PRIu64
			" bytes %s, %d device%s, %u thread%s\n",
			(int)getpid(), pattern_name(o.pattern), o.count, o.size, proto_buffer_type_name(o.type),
			o.num_devices, o.num_devices == 1 ? "" : "s", o.threads, o.threads == 1 ? "" : "s");

	uint64_t start = clock_monotonic_ns();
	int rc = 0;
	switch (o.pattern) {
	case PATTERN_HOLD:
		rc = run_workers(workers, o.threads, allocate_all);
		flush_reports(&o, "after allocating");
		if (!o.quiet && !stopping()) {
			if (o.hold_ms < 0)
				fprintf(stderr, "ttalloc-load: holding %" PRIu64 " buffers until SIGINT/SIGTERM\n",
					o.count);
			else
				fprintf(stderr, "ttalloc-load: holding %" PRIu64 " buffers for %lld ms\n", o.count,
					o.hold_ms);
		}
		hold(o.hold_ms);
		if (run_workers(workers, o.threads, free_all) < 0)
			rc = -1;
		flush_reports(&o, "after freeing");
		break;
	case PATTERN_CHURN:
		rc = run_workers(workers, o.threads, churn);
		if (run_workers(workers, o.threads, free_all) < 0)
			rc = -1;
		flush_reports(&o, "after churning");
		break;
	case PATTERN_LEAK:
		rc = run_workers(workers, o.threads, allocate_all);
		flush_reports(&o, "before exiting");
		break;
	}
	double elapsed_s = (double)(clock_monotonic_ns() - start) / 1e9;

	struct tally sum = {0};
	for (unsigned i = 0; i < o.threads; i++) {
		const struct tally *t = &workers[i].tally;
		sum.allocated += t->allocated;
		sum.bytes += t->bytes;
		sum.freed += t->freed;
		sum.no_server += t->no_server;
		sum.failed += t->failed;
		if (!sum.first_error)
			sum.first_error = t->first_error;
	}
	if (stopping() && !o.quiet)
		fprintf(stderr, "ttalloc-load: stopped by a signal\n");
	if (!o.quiet && o.pattern != PATTERN_HOLD) {
		uint64_t events = sum.allocated + sum.freed;
		fprintf(stderr, "ttalloc-load: %" PRIu64 " events in %.3f ms (%.0f events/s)\n", events,
			elapsed_s * 1e3, elapsed_s > 0 ? (double)events / elapsed_s : 0.0);
	}
	if (sum.failed) {
		fprintf(stderr, "ttalloc-load: %" PRIu64 " events refused by the library (first: %s)\n", sum.failed,
			ttalloc_strerror(sum.first_error));
		rc = -1;
	}
	if (check_delivery(&o, sum.allocated + sum.freed) < 0)
		rc = -1;
	else if (sum.no_server && o.flush && !o.quiet)
		fprintf(stderr,
			"ttalloc-load: %" PRIu64 " events found no server when reported; the library kept "
			"them and the server has them now\n",
			sum.no_server);
	printf("ttalloc-load: pid %d allocated %" PRIu64 " buffers (%" PRIu64 " bytes), freed %" PRIu64
	       ", live %" PRIu64 "\n",
	       (int)getpid(), sum.allocated, sum.bytes, sum.freed, sum.allocated - sum.freed);
	fflush(stdout);
	for (unsigned i = 0; i < o.threads; i++) {
		free(workers[i].live);
		free(workers[i].idle);
	}
	free(workers);
	/* leak: exit with the buffers still reported live; the server sees the
	 * connection close and reports them. Otherwise flush and disconnect. */
	if (o.pattern != PATTERN_LEAK)
		ttalloc_shutdown();
	return rc < 0 ? 1 : 0;
}
