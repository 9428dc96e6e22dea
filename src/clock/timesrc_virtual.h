/*
 * timesrc_virtual.h - virtual time source: now_ns() is a counter that a wait
 * advances straight to its deadline, so virtual-time runs never sleep.
 * Used by tests (through mocks/) and by `phasorsyncd --render`.
 * Single-threaded by design: the waiting thread is the only one moving time.
 */
#ifndef PS_CLOCK_TIMESRC_VIRTUAL_H
#define PS_CLOCK_TIMESRC_VIRTUAL_H

#include <stdatomic.h>
#include <stdint.h>

#include "clock/timesrc.h"

struct timesrc_virtual {
	struct timesrc base;      /* must be first */
	int64_t now_ns;           /* virtual now */
	int64_t waits;            /* number of wait_until_ns() calls */
	int64_t max_wait_ns;      /* if > 0, a wait advances at most this far and reports WOKEN */
	int64_t read_step_ns;     /* if > 0, every now_ns() read advances time this far (tests:
				   * code that reads the clock twice sees it move, as in real time) */
	_Atomic int wake_pending; /* a wake() not yet consumed */
};

/* timesrc_virtual_init - start at `start_ns`.  Context: any thread. */
void timesrc_virtual_init(struct timesrc_virtual *t, int64_t start_ns);

/* timesrc_virtual_set - jump to `t_ns` (never backwards: earlier values are
 * ignored).  Context: the thread driving the virtual clock. */
void timesrc_virtual_set(struct timesrc_virtual *t, int64_t t_ns);

#endif
