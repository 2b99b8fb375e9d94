/*
 * futex.h - Linux futex calls and a small lock built on them.
 *
 * The fast reporting path needs a lock that costs one atomic instruction
 * each way when nobody else wants it (a pthread mutex costs about the same,
 * but cannot live in the shared ring, and this one shows exactly what the
 * hot path pays). The waits are shared (not FUTEX_PRIVATE) on purpose: the
 * ring's tail word lives in memory shared with the server, which wakes
 * producers through it.
 */
#ifndef TTALLOC_FUTEX_H
#define TTALLOC_FUTEX_H

#include <linux/futex.h>
#include <stdint.h>
#include <sys/syscall.h>
#include <time.h>
#include <unistd.h>

/*
 * Sleeps while *word == expected, at most timeout_ns (0: no limit). Returns
 * on a wake-up, a timeout, a signal or a changed word: callers re-check.
 */
static inline void futex_wait(uint32_t *word, uint32_t expected, uint64_t timeout_ns)
{
	struct timespec ts = {.tv_sec = (time_t)(timeout_ns / 1000000000u),
			      .tv_nsec = (long)(timeout_ns % 1000000000u)};
	syscall(SYS_futex, word, FUTEX_WAIT, expected, timeout_ns ? &ts : NULL, NULL, 0);
}

/* Wakes up to `count` waiters on word. */
static inline void futex_wake(uint32_t *word, int count)
{
	syscall(SYS_futex, word, FUTEX_WAKE, count, NULL, NULL, 0);
}

/*
 * A mutex in one 32-bit word (Drepper, "Futexes Are Tricky", mutex 2):
 * 0 unlocked, 1 locked, 2 locked with sleepers. Zero-initialised is
 * unlocked.
 */
struct futex_lock {
	uint32_t word;
};

/* A hint to the CPU that this is a spin-wait loop. */
static inline void futex_cpu_relax(void)
{
#if defined(__x86_64__) || defined(__i386__)
	__builtin_ia32_pause();
#elif defined(__aarch64__)
	__asm__ __volatile__("yield");
#endif
}

/* Spins this many times before sleeping: critical sections are ~20 ns. */
#define FUTEX_LOCK_SPINS 100

static inline void futex_lock_slow(struct futex_lock *l)
{
	for (int i = 0; i < FUTEX_LOCK_SPINS; i++) {
		uint32_t expected = 0;
		if (__atomic_load_n(&l->word, __ATOMIC_RELAXED) == 0 &&
		    __atomic_compare_exchange_n(&l->word, &expected, 1, 0, __ATOMIC_ACQUIRE, __ATOMIC_RELAXED))
			return;
		futex_cpu_relax();
	}
	while (__atomic_exchange_n(&l->word, 2, __ATOMIC_ACQUIRE) != 0)
		futex_wait(&l->word, 2, 0);
}

static inline void futex_lock_acquire(struct futex_lock *l)
{
	uint32_t expected = 0;
	if (__builtin_expect(__atomic_compare_exchange_n(&l->word, &expected, 1, 0, __ATOMIC_ACQUIRE, __ATOMIC_RELAXED),
			     1))
		return;
	futex_lock_slow(l);
}

/*
 * Releases the lock. The exchange is a full barrier (seq_cst): the ring
 * producer relies on it to order its publication before it reads the
 * server's sleeping flag.
 */
static inline void futex_lock_release(struct futex_lock *l)
{
	if (__atomic_exchange_n(&l->word, 0, __ATOMIC_SEQ_CST) == 2)
		futex_wake(&l->word, 1);
}

#endif /* TTALLOC_FUTEX_H */
