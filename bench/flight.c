/*
 * flight.c - bench_flight: what the flight recorder (state/flight.h) and
 * the marks' per-event checks (state/marks.h) cost the server per event,
 * next to what the server does per event without them, in the same run:
 *
 *   registry   registry_alloc_from + registry_free (the state layer's work
 *              for an ALLOC/FREE pair), per event
 *   recorder   the same plus what events.c adds for diagnosis: marks_order
 *              for the ALLOC's time, a flight_note per event, marks_wants
 *              for the FREE (no mark made: the common case)
 *   path       the whole server path of an event in-process: frames fed
 *              to a connection of a server core (decode, dispatch,
 *              validation, registry, recorder), no socket
 *
 * Usage: bench_flight [--runs N] [--events N]. Prints `result` lines:
 * NAME.rK.ns (ns per event of run K) for registry, recorder and path.
 * Runs alternate registry and recorder so drift hits both alike; each
 * run's figure is the best of REPEATS passes, so a pass a neighbour's
 * process preempted does not hide a difference of a few ns.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "bench_util.h"
#include "common/log.h"
#include "server/ingest/connection.h"
#include "server/server.h"
#include "server/state/marks.h"

#define REPEATS 3
#define LIVE 4096u /* buffers live at once: the registry's tables stay in cache, as under load */
#define BASE 0x800000000ull

/* One ALLOC/FREE pair per address, `events` events; `recorder`: with the diagnosis additions. */
static double state_run(uint64_t events, int recorder)
{
	struct registry r;
	struct marks m;
	if (registry_init(&r, 2, LIVE) < 0)
		exit(2);
	marks_init(&m);
	uint32_t p = registry_attach(&r, getpid(), 0);
	struct process_record *rec = registry_process(&r, p);
	uint64_t t0 = bench_now_ns();
	for (uint64_t i = 0; i < events / 2; i++) {
		uint64_t addr = BASE + (i % LIVE) * 4096, when = i;
		if (recorder)
			when = marks_order(&m, when);
		struct registry_origin origin = {.alloc_ns = when, .stack = STACKS_NONE};
		registry_alloc_from(&r, p, 0, TTALLOC_DRAM, addr, 4096, &origin);
		struct flight_event ev = {.address = addr,
					  .size = 4096,
					  .time_ns = when,
					  .stack = STACKS_NONE,
					  .call_stack = STACKS_NONE,
					  .kind = FLIGHT_ALLOC};
		if (recorder)
			flight_note(&rec->flight, &ev);
		struct live_buffer freed;
		pid_t owner;
		registry_free(&r, p, 0, addr, &freed, &owner);
		if (recorder) {
			ev.kind = FLIGHT_FREE;
			flight_note(&rec->flight, &ev);
			if (marks_wants(&m, freed.alloc_ns))
				abort(); /* no mark was made */
		}
	}
	double ns = (double)(bench_now_ns() - t0) / (double)events;
	registry_release(&r);
	marks_release(&m);
	return ns;
}

/* The whole server path: ALLOC/FREE frames fed to a connection of a server core. */
static double path_run(uint64_t events)
{
	struct server s;
	struct server_options opts;
	char err[ERR_LEN];
	server_options_defaults(&opts);
	opts.devices = "sim";
	opts.ttmetal_shm = 0;
	if (server_core_open(&s, &opts, err) < 0) {
		fprintf(stderr, "bench_flight: %s\n", err);
		exit(2);
	}
	int sv[2];
	if (socketpair(AF_UNIX, SOCK_STREAM, 0, sv) < 0)
		exit(2);
	struct connection *c = ingest_adopt(&s.ingest, sv[0]);
	enum { BATCH = 256 };
	struct proto_msg frames[BATCH];
	uint64_t t0 = bench_now_ns();
	for (uint64_t i = 0; i < events; i += BATCH) {
		for (unsigned k = 0; k < BATCH; k += 2) {
			uint64_t addr = BASE + ((i + k) / 2 % LIVE) * 4096;
			proto_msg_init(&frames[k], PROTO_ALLOC, 0);
			frames[k].size = 4096;
			frames[k].buffer_id = addr;
			proto_msg_init(&frames[k + 1], PROTO_FREE, 0);
			frames[k + 1].buffer_id = addr;
		}
		connection_feed(c, (const uint8_t *)frames, sizeof(frames));
	}
	double ns = (double)(bench_now_ns() - t0) / (double)events;
	server_core_close(&s);
	close(sv[1]);
	return ns;
}

int main(int argc, char **argv)
{
	uint64_t runs = 5, events = 4000000;
	for (int i = 1; i + 1 < argc; i += 2) {
		if (strcmp(argv[i], "--runs") == 0)
			runs = bench_parse_count("--runs", argv[i + 1]);
		else if (strcmp(argv[i], "--events") == 0)
			events = bench_parse_count("--events", argv[i + 1]);
	}
	log_set_level(LOG_WARN);  /* the server at --log-level warn: no per-event lines */
	state_run(events / 4, 1); /* warm-up */
	for (uint64_t k = 0; k < runs; k++) {
		double best[3] = {1e30, 1e30, 1e30};
		for (int rep = 0; rep < REPEATS; rep++) {
			double v[3] = {state_run(events, 0), state_run(events, 1), path_run(events / 4)};
			for (int i = 0; i < 3; i++)
				best[i] = v[i] < best[i] ? v[i] : best[i];
		}
		static const char *const names[3] = {"registry", "recorder", "path"};
		for (int i = 0; i < 3; i++) {
			char name[64];
			snprintf(name, sizeof(name), "%s.r%llu.ns", names[i], (unsigned long long)k);
			bench_result(name, best[i]);
		}
	}
	return 0;
}
