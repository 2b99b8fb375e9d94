/*
 * c_client.c - drives libttalloc from the integration tests, one command per
 * stdin line, one answer line each ("rc=N text"):
 *
 *   init | enabled | live | flush | shutdown
 *   stats                               rc=0 events=E unconfirmed=U refused_device=R
 *                                       connections=C server_devices=D connected=0|1
 *                                       socket=PATH
 *   lasterror                           rc=<ttalloc_last_error> text=<the line>
 *   alloc DEVICE TYPE ADDRESS SIZE      (numbers in any strtoull base)
 *   free DEVICE ADDRESS
 *   alloc_failed DEVICE TYPE SIZE
 *   burst N DEVICE TYPE BASE SIZE       N allocs at BASE, BASE+SIZE, ...;
 *                                       answers the last rc and the
 *                                       elapsed milliseconds
 *   churn N DEVICE ADDRESS              N alloc/free pairs of one 4 KiB DRAM
 *                                       buffer; answers the last rc and
 *                                       how many reports returned each of
 *                                       0 and TTALLOC_ENOSERVER
 *   quit
 * "enabled" and "live" answer rc=<value>.
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "ttalloc.h"

static void answer(int rc, const char *extra)
{
	printf("rc=%d %s%s\n", rc, ttalloc_strerror(rc), extra ? extra : "");
	fflush(stdout);
}

static double now_ms(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec * 1e3 + (double)ts.tv_nsec / 1e6;
}

static uint64_t num(const char *text)
{
	return text ? strtoull(text, NULL, 0) : 0;
}

int main(void)
{
	char line[512];
	printf("pid=%ld\n", (long)getpid());
	fflush(stdout);
	while (fgets(line, sizeof(line), stdin)) {
		char *words[8] = {0};
		int n = 0;
		for (char *save = NULL, *w = strtok_r(line, " \t\n", &save); w && n < 8;
		     w = strtok_r(NULL, " \t\n", &save))
			words[n++] = w;
		if (n == 0)
			continue;
		const char *cmd = words[0];
		if (!strcmp(cmd, "init")) {
			answer(ttalloc_init(), NULL);
		} else if (!strcmp(cmd, "enabled")) {
			printf("rc=%d\n", ttalloc_enabled());
			fflush(stdout);
		} else if (!strcmp(cmd, "live")) {
			printf("rc=%llu\n", (unsigned long long)ttalloc_live_buffers());
			fflush(stdout);
		} else if (!strcmp(cmd, "flush")) {
			answer(ttalloc_flush(), NULL);
		} else if (!strcmp(cmd, "shutdown")) {
			ttalloc_shutdown();
			answer(0, NULL);
		} else if (!strcmp(cmd, "alloc") && n == 5) {
			answer(ttalloc_report_alloc((int)num(words[1]), (enum ttalloc_buffer_type)num(words[2]),
						    num(words[3]), num(words[4])),
			       NULL);
		} else if (!strcmp(cmd, "alloc_failed") && n == 4) {
			answer(ttalloc_report_alloc_failed((int)num(words[1]), (enum ttalloc_buffer_type)num(words[2]),
							   num(words[3])),
			       NULL);
		} else if (!strcmp(cmd, "free") && n == 3) {
			answer(ttalloc_report_free((int)num(words[1]), num(words[2])), NULL);
		} else if (!strcmp(cmd, "burst") && n == 6) {
			uint64_t count = num(words[1]), base = num(words[4]), size = num(words[5]);
			int rc = 0;
			double start = now_ms();
			for (uint64_t i = 0; i < count; i++)
				rc = ttalloc_report_alloc((int)num(words[2]), (enum ttalloc_buffer_type)num(words[3]),
							  base + i * size, size);
			char extra[64];
			snprintf(extra, sizeof(extra), " ms=%.1f", now_ms() - start);
			answer(rc, extra);
		} else if (!strcmp(cmd, "churn") && n == 4) {
			uint64_t count = num(words[1]), address = num(words[3]);
			int device = (int)num(words[2]), rc = 0;
			uint64_t ok = 0, enoserver = 0;
			for (uint64_t i = 0; i < 2 * count; i++) {
				rc = i & 1 ? ttalloc_report_free(device, address)
					   : ttalloc_report_alloc(device, TTALLOC_DRAM, address, 4096);
				ok += rc == 0;
				enoserver += rc == TTALLOC_ENOSERVER;
			}
			char extra[64];
			snprintf(extra, sizeof(extra), " ok=%llu enoserver=%llu", (unsigned long long)ok,
				 (unsigned long long)enoserver);
			answer(rc, extra);
		} else if (!strcmp(cmd, "stats")) {
			struct ttalloc_stats st;
			int rc = ttalloc_get_stats(&st, sizeof(st));
			printf("rc=%d events=%llu unconfirmed=%llu refused_device=%llu connections=%llu "
			       "server_devices=%u connected=%d socket=%s\n",
			       rc, (unsigned long long)st.events, (unsigned long long)st.unconfirmed,
			       (unsigned long long)st.refused_device, (unsigned long long)st.connections,
			       st.server_devices, st.connected, st.socket_path);
			fflush(stdout);
		} else if (!strcmp(cmd, "lasterror")) {
			char text[1024];
			int rc = ttalloc_last_error(text, sizeof(text));
			printf("rc=%d text=%s\n", rc, text);
			fflush(stdout);
		} else if (!strcmp(cmd, "quit")) {
			break;
		} else {
			printf("rc=-1 unknown command %s\n", cmd);
			fflush(stdout);
		}
	}
	return 0;
}
