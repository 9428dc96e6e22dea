/*
 * timesrc.h - the time source interface.
 *
 * All times are int64_t nanoseconds.  Clock and engine code never call
 * clock_gettime/clock_nanosleep directly: they get a struct timesrc, so the
 * same code runs against CLOCK_MONOTONIC (timesrc_posix) or against a
 * virtual clock that jumps straight to each deadline (timesrc_virtual), which
 * is how every timing test runs instantly and deterministically, and how
 * `phasorsyncd --render` runs faster than real time.
 */
#ifndef PS_CLOCK_TIMESRC_H
#define PS_CLOCK_TIMESRC_H

#include <stdint.h>

#include "rt/rt.h"

struct timesrc;

/* Result of wait_until_ns(). */
#define TIMESRC_DEADLINE 0 /* the deadline was reached */
#define TIMESRC_WOKEN 1    /* woken early: wake() was called or a watched fd is readable */

struct timesrc_ops {
	/* Current time in ns.  Monotonic, never fails.
	 * Context: any thread (RT). */
	int64_t (*now_ns)(struct timesrc *ts) RT_SAFE;

	/* The deliberate wait: block until now_ns() >= deadline_ns, or until
	 * woken.  Returns TIMESRC_DEADLINE, TIMESRC_WOKEN, or -errno on a
	 * failed wait (the caller treats it as an early wake-up).  A deadline
	 * in the past returns TIMESRC_DEADLINE at once.
	 * Context: RT; only the one thread that owns the waits. */
	int (*wait_until_ns)(struct timesrc *ts, int64_t deadline_ns) RT_SAFE;

	/* Make the current (or next) wait return TIMESRC_WOKEN promptly.
	 * Context: any thread; never blocks. */
	void (*wake)(struct timesrc *ts) RT_SAFE;
};

struct timesrc {
	const struct timesrc_ops *ops; /* implementation */
};

static inline int64_t timesrc_now_ns(struct timesrc *ts) RT_SAFE
{
	return ts->ops->now_ns(ts);
}

static inline int timesrc_wait_until_ns(struct timesrc *ts, int64_t deadline_ns) RT_SAFE
{
	return ts->ops->wait_until_ns(ts, deadline_ns);
}

static inline void timesrc_wake(struct timesrc *ts) RT_SAFE
{
	ts->ops->wake(ts);
}

#define TIMESRC_NS_PER_SEC INT64_C(1000000000)

#endif
