/*
 * clock.c - the time, from the system or from a test's source (clock.h).
 */
#include "common/clock.h"

#include <stddef.h>
#include <time.h>

static const struct clock_source *installed;

static uint64_t system_ns(clockid_t id)
{
	struct timespec ts;
	clock_gettime(id, &ts);
	return (uint64_t)ts.tv_sec * CLOCK_NS_PER_S + (uint64_t)ts.tv_nsec;
}

uint64_t clock_realtime_ns(void)
{
	if (__builtin_expect(installed != NULL, 0))
		return installed->realtime_ns(installed->ctx);
	return system_ns(CLOCK_REALTIME);
}

uint64_t clock_monotonic_ns(void)
{
	if (__builtin_expect(installed != NULL, 0))
		return installed->monotonic_ns(installed->ctx);
	return system_ns(CLOCK_MONOTONIC);
}

void clock_set_source(const struct clock_source *source)
{
	installed = source;
}

static uint64_t fake_realtime(void *ctx)
{
	return ((struct clock_fake *)ctx)->realtime_ns;
}

static uint64_t fake_monotonic(void *ctx)
{
	return ((struct clock_fake *)ctx)->monotonic_ns;
}

void clock_fake_install(struct clock_fake *fake, uint64_t realtime_ns, uint64_t monotonic_ns)
{
	fake->source = (struct clock_source){.realtime_ns = fake_realtime, .monotonic_ns = fake_monotonic, .ctx = fake};
	fake->realtime_ns = realtime_ns;
	fake->monotonic_ns = monotonic_ns;
	clock_set_source(&fake->source);
}

void clock_fake_advance(struct clock_fake *fake, uint64_t ns)
{
	fake->realtime_ns += ns;
	fake->monotonic_ns += ns;
}

uint64_t clock_alloc_mono_ns(uint64_t client_real_ns, uint64_t now_mono_ns, uint64_t now_real_ns)
{
	if (client_real_ns == 0 || client_real_ns > now_real_ns)
		return now_mono_ns;
	uint64_t age = now_real_ns - client_real_ns;
	if (age > CLOCK_MAX_TRUSTED_AGE_NS || age > now_mono_ns)
		return now_mono_ns;
	return now_mono_ns - age;
}
