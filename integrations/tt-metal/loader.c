/*
 * loader.c - libttalloc_ttmetal.so, the library a user loads
 * (ttalloc_ttmetal.h). It is C and links nothing but libc, because
 * LD_PRELOAD puts it into every process of the tree (shells, compilers,
 * tt-metal's own JIT builds): where tt-metal never appears it costs a
 * getenv and, per dlopen(), one lookup among the loaded libraries.
 *
 * The processor itself is C++ and needs tt-metal's symbols, so it lives in
 * libttalloc_ttmetal_graph.so beside this file (processor.cpp), which links
 * libtt_metal.so: loading that into a process without tt-metal would fail
 * or, worse, pull tt-metal in. This file loads it only once tt-metal is
 * there, found by its soname with RTLD_NOLOAD: Python loads extension
 * modules RTLD_LOCAL, so tt-metal's symbols are not global and a global
 * lookup would miss it. The graph library's own DT_NEEDED libtt_metal.so
 * then resolves to the copy already loaded; nothing is promoted to global
 * scope, so the symbols later libraries bind to do not change.
 *
 * When is tt-metal looked for: at load (a program linked with tt-metal, or
 * `import ttalloc.ttmetal` calling ttalloc_ttmetal_init()), and, when
 * preloaded, after every successful dlopen() until it is found (`import
 * ttnn` dlopens the module that brings libtt_metal.so in). The dlopen()
 * defined here interposes libc's only when this library is preloaded
 * (earlier in the global lookup order than libc); loaded later it is never
 * used by anyone.
 */
#define _GNU_SOURCE
#include <dlfcn.h>
#include <errno.h>
#include <limits.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "ttalloc_ttmetal.h"

#define EXPORT __attribute__((visibility("default")))

#define GRAPH_LIBRARY "libttalloc_ttmetal_graph.so"
#define TTMETAL_LIBRARY "libtt_metal.so"
#define THIS_LIBRARY "libttalloc_ttmetal.so"
/* Set by the first process of a preloaded tree: that one says it at exit when tt-metal never came. */
#define MAIN_PID_ENV "TTALLOC_TTMETAL_MAIN_PID"

/* libttalloc_ttmetal_graph.so's entry point (processor.cpp). */
typedef int (*graph_register_fn)(char *message, size_t size);

static pthread_mutex_t init_lock = PTHREAD_MUTEX_INITIALIZER;
/* Set while this thread registers: a dlopen() made meanwhile must not re-enter. */
static __thread int busy;
static int result = TTALLOC_TTMETAL_ENOTTMETAL;
static int settled; /* result is final: registered, or failed for good */
static char status_text[512] = "tt-metal (" TTMETAL_LIBRARY ") is not loaded in this process";
static int preloaded;
static int main_process;
static void *(*real_dlopen)(const char *, int);

EXPORT void *dlopen(const char *file, int mode);

static void *next_dlopen(const char *file, int mode)
{
	if (!real_dlopen)
		*(void **)&real_dlopen = dlsym(RTLD_NEXT, "dlopen");
	if (!real_dlopen) {
		errno = ENOSYS;
		return NULL;
	}
	return real_dlopen(file, mode);
}

static const char *ttmetal_library(void)
{
	const char *name = getenv("TTALLOC_TTMETAL_LIBRARY");
	return name && *name ? name : TTMETAL_LIBRARY;
}

/* 1 when tt-metal is loaded in this process (in any scope). */
static int ttmetal_loaded(void)
{
	void *h = next_dlopen(ttmetal_library(), RTLD_LAZY | RTLD_NOLOAD);
	if (!h)
		return 0;
	dlclose(h); /* RTLD_NOLOAD took a reference */
	return 1;
}

/* The graph library's path: beside this one. */
static int graph_library_path(char *buf, size_t size)
{
	Dl_info info;
	if (!dladdr((void *)ttalloc_ttmetal_init, &info) || !info.dli_fname)
		return -1;
	const char *slash = strrchr(info.dli_fname, '/');
	int dir_len = slash ? (int)(slash - info.dli_fname) : 1;
	const char *dir = slash ? info.dli_fname : ".";
	int n = snprintf(buf, size, "%.*s/%s", dir_len, dir, GRAPH_LIBRARY);
	return n > 0 && (size_t)n < size ? 0 : -1;
}

static int load_and_register(void)
{
	char path[PATH_MAX];
	if (graph_library_path(path, sizeof(path)) < 0) {
		snprintf(status_text, sizeof(status_text),
			 "cannot tell where " THIS_LIBRARY " is, to load " GRAPH_LIBRARY " beside it");
		return TTALLOC_TTMETAL_ELOAD;
	}
	/* NODELETE: tt-metal keeps the processor (our code) until its own exit */
	void *graph = next_dlopen(path, RTLD_NOW | RTLD_LOCAL | RTLD_NODELETE);
	graph_register_fn reg = graph ? (graph_register_fn)dlsym(graph, "ttalloc_ttmetal_graph_register") : NULL;
	if (!reg) {
		const char *why = dlerror();
		snprintf(status_text, sizeof(status_text), "cannot load %s: %s", path, why ? why : "no entry point");
		return TTALLOC_TTMETAL_ELOAD;
	}
	return reg(status_text, sizeof(status_text));
}

/* With init_lock held: one attempt, unless the result is final. */
static void attempt(void)
{
	if (settled)
		return;
	if (!ttmetal_loaded()) {
		result = TTALLOC_TTMETAL_ENOTTMETAL;
		snprintf(status_text, sizeof(status_text), "tt-metal (%s) is not loaded in this process",
			 ttmetal_library());
		return;
	}
	const char *tracking = getenv("TT_ALLOC_TRACKING_ENABLED");
	if (!tracking || strcmp(tracking, "1") != 0) {
		result = TTALLOC_TTMETAL_EDISABLED;
		snprintf(status_text, sizeof(status_text),
			 "tt-metal is loaded, but TT_ALLOC_TRACKING_ENABLED is "
			 "not 1: not tracking (ttalloc-run sets it)");
	} else {
		result = load_and_register();
	}
	__atomic_store_n(&settled, 1, __ATOMIC_RELEASE);
}

static const char *process_name(char *buf, size_t size)
{
	FILE *f = fopen("/proc/self/comm", "r");
	if (!f || !fgets(buf, (int)size, f))
		snprintf(buf, size, "?");
	if (f)
		fclose(f);
	buf[strcspn(buf, "\n")] = '\0';
	return buf;
}

/*
 * Preloaded: tells what happened when it matters. Registered on this thread
 * only, or found tt-metal but could not track: always. Registered for
 * every thread: only with TTALLOC_TTMETAL_VERBOSE=1.
 */
static void announce(void)
{
	const char *verbose = getenv("TTALLOC_TTMETAL_VERBOSE");
	if (result == TTALLOC_TTMETAL_ENOTTMETAL ||
	    (result == TTALLOC_TTMETAL_ALL_THREADS && !(verbose && strcmp(verbose, "1") == 0)))
		return;
	char name[32];
	fprintf(stderr, "ttalloc: %s in %s (pid %d): %s\n", THIS_LIBRARY, process_name(name, sizeof(name)),
		(int)getpid(), status_text);
}

/*
 * Preloaded and tt-metal not found yet: looks again (called on load and
 * after each dlopen). Never waits for init_lock: another thread holding it
 * is looking already, and it may need the loader's lock that a dlopen made
 * from a library constructor on this thread holds.
 */
static void look_again(void)
{
	if (busy || __atomic_load_n(&settled, __ATOMIC_ACQUIRE) || pthread_mutex_trylock(&init_lock) != 0)
		return;
	busy = 1;
	int was_settled = settled;
	attempt();
	busy = 0;
	if (!was_settled && settled)
		announce();
	pthread_mutex_unlock(&init_lock);
}

EXPORT int ttalloc_ttmetal_init(void)
{
	if (busy)
		return result;
	pthread_mutex_lock(&init_lock);
	busy = 1;
	attempt();
	int rc = result;
	busy = 0;
	pthread_mutex_unlock(&init_lock);
	return rc;
}

EXPORT const char *ttalloc_ttmetal_status(void)
{
	return status_text;
}

EXPORT void *dlopen(const char *file, int mode)
{
	void *h = next_dlopen(file, mode);
	if (h && file && preloaded)
		look_again();
	return h;
}

static void say_if_never_loaded(void)
{
	if (!main_process || __atomic_load_n(&settled, __ATOMIC_ACQUIRE))
		return;
	char name[32];
	fprintf(stderr,
		"ttalloc: %s was preloaded into %s (pid %d), but tt-metal (%s) was never loaded "
		"there: nothing was tracked in it\n",
		THIS_LIBRARY, process_name(name, sizeof(name)), (int)getpid(), ttmetal_library());
}

__attribute__((constructor)) static void on_load(void)
{
	const char *preload = getenv("LD_PRELOAD");
	preloaded = preload && strstr(preload, THIS_LIBRARY) != NULL;
	if (!preloaded)
		return; /* loaded by ttalloc.ttmetal (or a program): it calls ttalloc_ttmetal_init() */
	/* constructors of preloaded libraries run before main: one thread, so setenv is safe */
	char pid[16];
	snprintf(pid, sizeof(pid), "%d", (int)getpid());
	const char *first = getenv(MAIN_PID_ENV);
	if (!first || !*first) {
		setenv(MAIN_PID_ENV, pid, 1);
		main_process = 1;
	} else {
		main_process = strcmp(first, pid) == 0;
	}
	look_again(); /* a program linked with tt-metal has it already */
	atexit(say_if_never_loaded);
}
