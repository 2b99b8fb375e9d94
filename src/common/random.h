/*
 * random.h - splitmix64, the pseudo-random generator of ttalloc-load's
 * churn and of the differential tests: fast, seedable, and the same
 * sequence everywhere for the same seed, so a failing run can be replayed.
 */
#ifndef TTALLOC_RANDOM_H
#define TTALLOC_RANDOM_H

#include <stdint.h>

/* The next number of the sequence whose state is *state (any seed). */
static inline uint64_t random_next(uint64_t *state)
{
	uint64_t z = (*state += 0x9e3779b97f4a7c15ull);
	z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ull;
	z = (z ^ (z >> 27)) * 0x94d049bb133111ebull;
	return z ^ (z >> 31);
}

#endif /* TTALLOC_RANDOM_H */
