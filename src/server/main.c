/*
 * main.c - ttalloc-server: the command line, then the server.
 * Also installed as build/programming_examples/allocation_server_poc.
 */
#include <stdio.h>

#include "common/cli.h"
#include "common/log.h"
#include "server/options.h"
#include "server/server.h"
#include "server/systemd.h"

#ifndef TTALLOC_VERSION
#define TTALLOC_VERSION "0.1.0"
#endif

int main(int argc, char **argv)
{
	struct server_options opts;
	char err[ERR_LEN];
	server_options_defaults(&opts);
	int rc = server_options_parse(&opts, argc, argv, err);
	if (rc < 0)
		return cli_fail("ttalloc-server", err);
	if (rc == CLI_HELP) {
		server_options_usage(stdout);
		return 0;
	}
	if (rc == CLI_VERSION) {
		printf("ttalloc-server %s\n", TTALLOC_VERSION);
		return 0;
	}
	/* the configuration is checked before anything is printed: one line, exit 2 */
	if (server_options_check(&opts, systemd_passes_socket(), err) < 0) {
		fprintf(stderr, "ttalloc-server: %s\n", err);
		return CLI_EXIT_USAGE;
	}
	if (opts.log_level_set)
		log_set_level(opts.log_level);
	log_use_journal(log_journal_detect()); /* under systemd: "<4>" on warnings (leaks, failures) */
	/* Line-sized writes as events happen; flushed before every wait. */
	static char stdout_buffer[1 << 16];
	setvbuf(stdout, stdout_buffer, _IOFBF, sizeof(stdout_buffer));
	static struct server s; /* large (the ingest counters): not on the stack */
	rc = server_start(&s, &opts, err);
	if (rc < 0) {
		log_flush();
		fprintf(stderr, "ttalloc-server: %s\n", err);
		server_stop(&s);
		return rc == TTALLOC_EINVAL ? CLI_EXIT_USAGE : 1;
	}
	rc = server_run(&s);
	server_stop(&s);
	return rc < 0 ? 1 : 0;
}
