/*
 * c_stress.c - libttalloc under threads, fork and exec, for the reliability
 * tests (test_reliability.py) and the ThreadSanitizer run (make tsan-test).
 *
 *   c_stress threads N EVENTS KEEP
 *       N threads report EVENTS alloc/free events each on their own address
 *       range (device = thread % 2), reading ttalloc_live_buffers() and
 *       flushing now and then, while one more thread flushes in a loop and
 *       the library's watcher thread runs; each thread ends holding KEEP
 *       buffers of 4 KiB. Prints "live=L dev0=B0 dev1=B1" (what the library
 *       holds), then waits for "quit" on stdin.
 *   c_stress fork N
 *       Holds a 1 MiB DRAM buffer, then forks N children while a thread keeps
 *       reporting; each child reports one L1 buffer (0x10000 + 0x1000 * i),
 *       flushes and exits without freeing it. Prints "child=PID live=L rc=R"
 *       per child (L: what the child's library held before its own report),
 *       then "parent live=L" and waits for "quit".
 *   c_stress handoff N ROUNDS
 *       N threads share a pool of 64 DRAM addresses on device 0: each round
 *       a thread either allocates a free address or frees a live one that
 *       another thread may have allocated, so one buffer's ALLOC, FREE and
 *       the next ALLOC of its address come from different threads (and on
 *       the fast path, different lanes). Prints "live=L bytes=B
 *       table=T flush=R" at the end, then waits for "quit".
 *   c_stress exec
 *       Holds a 1 MiB DRAM buffer, then fork+execs itself as "exec-child",
 *       which reports a 64 KiB L1_SMALL buffer at 0x30000, flushes and exits
 *       without freeing it. Prints "exec-child=PID rc=R" and "parent live=L",
 *       then waits for "quit".
 *
 * Addresses: thread t uses 0x100000000 * (t + 1) + 0x1000 * slot.
 */
#define _GNU_SOURCE
#include <pthread.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include "ttalloc.h"

#define SLOTS 64
#define BUF_SIZE 4096
#define MiB (1024 * 1024)

struct worker {
	pthread_t thread;
	int index;
	long events;
	int keep;
	uint64_t held[SLOTS];
	int failed;
};

static int flusher_stop; /* guarded by flusher_lock */
static pthread_mutex_t flusher_lock = PTHREAD_MUTEX_INITIALIZER;

static uint64_t address_of(int thread, int slot)
{
	return 0x100000000ull * (uint64_t)(thread + 1) + 0x1000ull * (uint64_t)slot;
}

static void *worker_main(void *arg)
{
	struct worker *w = arg;
	int device = w->index % 2;
	uint64_t rng = 0x9e3779b97f4a7c15ull * (uint64_t)(w->index + 1);
	for (long e = 0; e < w->events; e++) {
		rng ^= rng << 13;
		rng ^= rng >> 7;
		rng ^= rng << 17;
		int slot = (int)(rng % SLOTS);
		uint64_t addr = address_of(w->index, slot);
		if (w->held[slot]) {
			int rc = ttalloc_report_free(device, addr);
			if (rc < 0 && rc != TTALLOC_ENOSERVER)
				w->failed++;
			w->held[slot] = 0;
		} else {
			int rc = ttalloc_report_alloc(device, TTALLOC_DRAM, addr, BUF_SIZE);
			if (rc < 0 && rc != TTALLOC_ENOSERVER)
				w->failed++;
			w->held[slot] = BUF_SIZE;
		}
		if (e % 97 == 0)
			(void)ttalloc_live_buffers();
		if (e % 1000 == 999)
			(void)ttalloc_flush();
	}
	/* end holding exactly `keep` buffers: slots 0..keep-1 */
	for (int slot = 0; slot < SLOTS; slot++) {
		uint64_t addr = address_of(w->index, slot);
		int want = slot < w->keep;
		if (w->held[slot] && !want) {
			ttalloc_report_free(device, addr);
			w->held[slot] = 0;
		} else if (!w->held[slot] && want) {
			ttalloc_report_alloc(device, TTALLOC_DRAM, addr, BUF_SIZE);
			w->held[slot] = BUF_SIZE;
		}
	}
	return NULL;
}

static void *flusher_main(void *arg)
{
	(void)arg;
	for (;;) {
		pthread_mutex_lock(&flusher_lock);
		int stop = flusher_stop;
		pthread_mutex_unlock(&flusher_lock);
		if (stop)
			return NULL;
		(void)ttalloc_flush();
		usleep(2000);
	}
}

/* Flushes until the server has everything (it may be restarting). */
static int flush_settled(void)
{
	int rc = -1;
	for (int i = 0; i < 100 && (rc = ttalloc_flush()) != 0; i++)
		usleep(100 * 1000);
	return rc;
}

static void wait_for_quit(void)
{
	char line[64];
	while (fgets(line, sizeof(line), stdin))
		if (strncmp(line, "quit", 4) == 0)
			break;
}

static int run_threads(int n, long events, int keep)
{
	struct worker *workers = calloc((size_t)n, sizeof(*workers));
	pthread_t flusher;
	if (!workers || keep > SLOTS)
		return 2;
	pthread_create(&flusher, NULL, flusher_main, NULL);
	for (int i = 0; i < n; i++) {
		workers[i] = (struct worker){.index = i, .events = events, .keep = keep};
		pthread_create(&workers[i].thread, NULL, worker_main, &workers[i]);
	}
	int failed = 0;
	for (int i = 0; i < n; i++) {
		pthread_join(workers[i].thread, NULL);
		failed += workers[i].failed;
	}
	pthread_mutex_lock(&flusher_lock);
	flusher_stop = 1;
	pthread_mutex_unlock(&flusher_lock);
	pthread_join(flusher, NULL);
	uint64_t bytes[2] = {0, 0};
	for (int i = 0; i < n; i++)
		for (int slot = 0; slot < SLOTS; slot++)
			bytes[i % 2] += workers[i].held[slot];
	int rc = flush_settled();
	printf("live=%llu dev0=%llu dev1=%llu failed=%d flush=%d\n", (unsigned long long)ttalloc_live_buffers(),
	       (unsigned long long)bytes[0], (unsigned long long)bytes[1], failed, rc);
	fflush(stdout);
	free(workers);
	wait_for_quit();
	ttalloc_shutdown();
	return 0;
}

static void *background_main(void *arg)
{
	(void)arg;
	for (int i = 0;; i++) {
		pthread_mutex_lock(&flusher_lock);
		int stop = flusher_stop;
		pthread_mutex_unlock(&flusher_lock);
		if (stop)
			return NULL;
		uint64_t addr = 0x700000000ull + 0x1000ull * (uint64_t)(i % 8);
		ttalloc_report_alloc(1, TTALLOC_DRAM, addr, BUF_SIZE);
		ttalloc_report_free(1, addr);
	}
}

static int run_fork(int n)
{
	int rc = ttalloc_report_alloc(0, TTALLOC_DRAM, 0x800000000ull, MiB);
	rc = rc ? rc : ttalloc_flush();
	if (rc) {
		printf("setup rc=%d\n", rc);
		return 1;
	}
	pthread_t background;
	pthread_create(&background, NULL, background_main, NULL);
	for (int i = 0; i < n; i++) {
		fflush(stdout);
		pid_t pid = fork();
		if (pid == 0) {
			unsigned long long live = ttalloc_live_buffers();
			int crc = ttalloc_report_alloc(0, TTALLOC_L1, 0x10000ull + 0x1000ull * (unsigned)i, BUF_SIZE);
			crc = crc ? crc : ttalloc_flush();
			printf("child=%ld live=%llu rc=%d\n", (long)getpid(), live, crc);
			fflush(stdout);
			_exit(0); /* without freeing: a leak of exactly that buffer */
		}
		int status;
		waitpid(pid, &status, 0);
	}
	pthread_mutex_lock(&flusher_lock);
	flusher_stop = 1;
	pthread_mutex_unlock(&flusher_lock);
	pthread_join(background, NULL);
	rc = flush_settled();
	printf("parent live=%llu rc=%d\n", (unsigned long long)ttalloc_live_buffers(), rc);
	fflush(stdout);
	wait_for_quit();
	ttalloc_shutdown();
	return 0;
}

/* ---- handoff: addresses move between threads ---- */

#define POOL 64

static struct {
	pthread_mutex_t lock;
	uint64_t free_list[POOL];
	int free_count;
	uint64_t live[POOL];
	int live_count;
	int failed;
} pool = {.lock = PTHREAD_MUTEX_INITIALIZER};

/* Takes an address to allocate (1) or to free (0), or returns -1 when none. */
static int pool_take(unsigned *seed, uint64_t *address)
{
	pthread_mutex_lock(&pool.lock);
	int alloc = pool.free_count && (!pool.live_count || rand_r(seed) % 2);
	int rc = -1;
	if (alloc) {
		*address = pool.free_list[--pool.free_count];
		rc = 1;
	} else if (pool.live_count) {
		int i = rand_r(seed) % pool.live_count;
		*address = pool.live[i];
		pool.live[i] = pool.live[--pool.live_count];
		rc = 0;
	}
	pthread_mutex_unlock(&pool.lock);
	return rc;
}

/* Hands the address on, after its report returned: the next taker reports after us. */
static void pool_give(int allocated, uint64_t address, int report_rc)
{
	pthread_mutex_lock(&pool.lock);
	if (allocated)
		pool.live[pool.live_count++] = address;
	else
		pool.free_list[pool.free_count++] = address;
	pool.failed |= report_rc != 0;
	pthread_mutex_unlock(&pool.lock);
}

static void *handoff_main(void *arg)
{
	long rounds = (long)arg;
	unsigned seed = (unsigned)(uintptr_t)&seed;
	for (long r = 0; r < rounds; r++) {
		uint64_t address;
		int allocate = pool_take(&seed, &address);
		if (allocate < 0)
			continue;
		int rc = allocate ? ttalloc_report_alloc(0, TTALLOC_DRAM, address, BUF_SIZE)
				  : ttalloc_report_free(0, address);
		pool_give(allocate, address, rc);
	}
	return NULL;
}

static int run_handoff(int n, long rounds)
{
	for (int i = 0; i < POOL; i++)
		pool.free_list[pool.free_count++] = 0x900000000ull + 0x1000ull * (uint64_t)i;
	pthread_t *threads = calloc((size_t)n, sizeof(*threads));
	for (int i = 0; i < n; i++)
		pthread_create(&threads[i], NULL, handoff_main, (void *)rounds);
	for (int i = 0; i < n; i++)
		pthread_join(threads[i], NULL);
	free(threads);
	int rc = ttalloc_flush();
	printf("live=%d bytes=%llu table=%llu failed=%d flush=%d\n", pool.live_count,
	       (unsigned long long)pool.live_count * BUF_SIZE, (unsigned long long)ttalloc_live_buffers(), pool.failed,
	       rc);
	fflush(stdout);
	wait_for_quit();
	ttalloc_shutdown();
	return 0;
}

static int run_exec(void)
{
	int rc = ttalloc_report_alloc(0, TTALLOC_DRAM, 0x800000000ull, MiB);
	rc = rc ? rc : ttalloc_flush();
	if (rc) {
		printf("setup rc=%d\n", rc);
		return 1;
	}
	fflush(stdout);
	pid_t pid = fork();
	if (pid == 0) {
		char *args[] = {"c_stress", "exec-child", NULL};
		execv("/proc/self/exe", args);
		_exit(127);
	}
	int status;
	waitpid(pid, &status, 0);
	printf("parent live=%llu rc=%d status=%d\n", (unsigned long long)ttalloc_live_buffers(), ttalloc_flush(),
	       WIFEXITED(status) ? WEXITSTATUS(status) : -1);
	fflush(stdout);
	wait_for_quit();
	ttalloc_shutdown();
	return 0;
}

static int run_exec_child(void)
{
	int rc = ttalloc_report_alloc(0, TTALLOC_L1_SMALL, 0x30000ull, 64 * 1024);
	rc = rc ? rc : ttalloc_flush();
	printf("exec-child=%ld live=%llu rc=%d\n", (long)getpid(), (unsigned long long)ttalloc_live_buffers(), rc);
	fflush(stdout);
	return 0; /* exits holding the buffer: a leak report for this pid */
}

int main(int argc, char **argv)
{
	printf("pid=%ld\n", (long)getpid());
	fflush(stdout);
	if (argc == 5 && strcmp(argv[1], "threads") == 0)
		return run_threads(atoi(argv[2]), atol(argv[3]), atoi(argv[4]));
	if (argc == 4 && strcmp(argv[1], "handoff") == 0)
		return run_handoff(atoi(argv[2]), atol(argv[3]));
	if (argc == 3 && strcmp(argv[1], "fork") == 0)
		return run_fork(atoi(argv[2]));
	if (argc == 2 && strcmp(argv[1], "exec") == 0)
		return run_exec();
	if (argc == 2 && strcmp(argv[1], "exec-child") == 0)
		return run_exec_child();
	fprintf(stderr, "usage: c_stress threads N EVENTS KEEP | handoff N ROUNDS | fork N | exec\n");
	return 2;
}
