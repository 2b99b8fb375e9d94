/*
 * ttalloc_ttmetal.h - libttalloc_ttmetal.so: per-buffer tracking of a stock
 * tt-metal, without rebuilding it (docs/TTMETAL.md).
 *
 * The library registers an IGraphProcessor with tt-metal's GraphTracker
 * that reports every buffer (address, size, BufferType, chip) and every
 * circular buffer to the ttalloc server through libttalloc. It is loaded in
 * one of three ways:
 *
 *   LD_PRELOAD=libttalloc_ttmetal.so python my_model.py
 *   ttalloc-run --tt-metal -- python my_model.py
 *   import ttnn; import ttalloc.ttmetal        (calls ttalloc_ttmetal_init)
 *
 * Preloaded, it registers as soon as tt-metal (libtt_metal.so) is in the
 * process: at start for a program linked with it, or when a dlopen() brings
 * it in (Python's `import ttnn`). In a process that never loads tt-metal it
 * does nothing (and says so at exit in the first process of the tree).
 *
 * Contract: tracking is on only with TT_ALLOC_TRACKING_ENABLED=1, as for
 * libttalloc; registering happens at most once per process; nothing here
 * ever aborts or blocks the application (libttalloc's rules hold for every
 * event). All functions are thread-safe.
 */
#ifndef TTALLOC_TTMETAL_H
#define TTALLOC_TTMETAL_H

#ifdef __cplusplus
extern "C" {
#endif

/* What ttalloc_ttmetal_init() achieved; negative: nothing is tracked. */
enum ttalloc_ttmetal_result {
	/* Registered as a background processor: buffers of every thread. */
	TTALLOC_TTMETAL_ALL_THREADS = 0,
	/* This tt-metal has no background processors: pushed on the thread
	 * that registered, whose events alone it sees (docs/TTMETAL.md). */
	TTALLOC_TTMETAL_THIS_THREAD = 1,
	/* tt-metal (libtt_metal.so, or $TTALLOC_TTMETAL_LIBRARY) is not loaded
	 * in this process (yet). */
	TTALLOC_TTMETAL_ENOTTMETAL = -1,
	/* TT_ALLOC_TRACKING_ENABLED is not "1". */
	TTALLOC_TTMETAL_EDISABLED = -2,
	/* libttalloc_ttmetal_graph.so (beside this library) could not be loaded. */
	TTALLOC_TTMETAL_ELOAD = -3,
	/* Built against another tt-metal than the one loaded (the tests' fake
	 * one and a real one): registering would call through a wrong vtable. */
	TTALLOC_TTMETAL_EMISMATCH = -4,
};

/*
 * Registers the processor with the tt-metal loaded in this process, once.
 * Returns an enum ttalloc_ttmetal_result; calling again returns the same
 * result without registering twice (or tries again while tt-metal is not
 * loaded yet). ttalloc_ttmetal_status() says what happened, in words.
 */
int ttalloc_ttmetal_init(void);

/*
 * A static sentence describing the state: how the processor is registered
 * and what it sees, or why nothing is tracked. Valid until the next call
 * of ttalloc_ttmetal_init().
 */
const char *ttalloc_ttmetal_status(void);

#ifdef __cplusplus
}
#endif

#endif /* TTALLOC_TTMETAL_H */
