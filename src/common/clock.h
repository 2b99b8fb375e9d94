/*
 * clock.h - the one place ttalloc reads the time, so tests can set it.
 *
 * Every component reads CLOCK_REALTIME (the timestamps frames carry, times
 * shown to people) and CLOCK_MONOTONIC (ages, timeouts, rates) through
 * these functions. A test installs a fake source with clock_set_source()
 * and moves time by hand, so ages, leak reports, budgets and expiries are
 * checked without sleeping and without depending on how loaded the machine
 * is. Production code never installs one: the cost is one predictable
 * branch over clock_gettime's vDSO call.
 */
#ifndef TTALLOC_CLOCK_H
#define TTALLOC_CLOCK_H

#include <stdint.h>

#define CLOCK_NS_PER_MS 1000000ull
#define CLOCK_NS_PER_S 1000000000ull

/* Nanoseconds of CLOCK_REALTIME (since the epoch): what frames carry. */
uint64_t clock_realtime_ns(void);

/* Nanoseconds of CLOCK_MONOTONIC: for ages, timeouts and rates. */
uint64_t clock_monotonic_ns(void);

/* A source of time other than the system's (tests). */
struct clock_source {
	uint64_t (*realtime_ns)(void *ctx);
	uint64_t (*monotonic_ns)(void *ctx);
	void *ctx;
};

/*
 * Makes every later clock_*_ns() call read `source` (kept by pointer: it
 * must outlive its use); NULL goes back to the system's clocks. Not
 * thread-safe: set it before the threads that read the time start.
 */
void clock_set_source(const struct clock_source *source);

/*
 * A settable source for tests: clock_fake_install() starts both clocks at
 * the given values; clock_fake_advance() moves both forward together.
 */
struct clock_fake {
	struct clock_source source;
	uint64_t realtime_ns;
	uint64_t monotonic_ns;
};
void clock_fake_install(struct clock_fake *fake, uint64_t realtime_ns, uint64_t monotonic_ns);
void clock_fake_advance(struct clock_fake *fake, uint64_t ns);

/* Oldest client timestamp trusted for a buffer's age: 7 days (older: clock skew). */
#define CLOCK_MAX_TRUSTED_AGE_NS (7ull * 24 * 3600 * CLOCK_NS_PER_S)

/*
 * When a buffer was allocated, on the server's monotonic clock. A client
 * that re-sends its table after a reconnect carries each buffer's original
 * CLOCK_REALTIME time (`client_real_ns`, 0 when it has none); it is trusted
 * when plausible (not in the future, at most CLOCK_MAX_TRUSTED_AGE_NS old,
 * not before the monotonic clock's start), else the buffer is as old as
 * `now_mono_ns`. The one rule for frames and ring events alike.
 */
uint64_t clock_alloc_mono_ns(uint64_t client_real_ns, uint64_t now_mono_ns, uint64_t now_real_ns);

#endif /* TTALLOC_CLOCK_H */
