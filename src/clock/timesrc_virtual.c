/*
 * timesrc_virtual.c - virtual clock (see timesrc_virtual.h).
 *
 * A wait consumes a pending wake() first (returning WOKEN without moving
 * time), exactly as a real wait would end early; otherwise it moves time to
 * the deadline.  max_wait_ns lets a test interleave its own actions with the
 * loop under test at a bounded virtual-time granularity.
 */
#include "clock/timesrc_virtual.h"

static int64_t tsv_now_ns(struct timesrc *base) RT_SAFE
{
	struct timesrc_virtual *t = (struct timesrc_virtual *)base;

	t->now_ns += t->read_step_ns;
	return t->now_ns;
}

static int tsv_wait_until_ns(struct timesrc *base, int64_t deadline_ns) RT_SAFE
{
	struct timesrc_virtual *t = (struct timesrc_virtual *)base;

	t->waits++;
	if (atomic_exchange_explicit(&t->wake_pending, 0, memory_order_acq_rel))
		return TIMESRC_WOKEN;
	if (deadline_ns <= t->now_ns)
		return TIMESRC_DEADLINE;
	if (t->max_wait_ns > 0 && deadline_ns - t->now_ns > t->max_wait_ns) {
		t->now_ns += t->max_wait_ns;
		return TIMESRC_WOKEN;
	}
	t->now_ns = deadline_ns;
	return TIMESRC_DEADLINE;
}

static void tsv_wake(struct timesrc *base) RT_SAFE
{
	atomic_store_explicit(&((struct timesrc_virtual *)base)->wake_pending, 1,
			      memory_order_release);
}

static const struct timesrc_ops timesrc_virtual_ops = {
	.now_ns = tsv_now_ns,
	.wait_until_ns = tsv_wait_until_ns,
	.wake = tsv_wake,
};

void timesrc_virtual_init(struct timesrc_virtual *t, int64_t start_ns)
{
	t->base.ops = &timesrc_virtual_ops;
	t->now_ns = start_ns;
	t->waits = 0;
	t->max_wait_ns = 0;
	t->read_step_ns = 0;
	atomic_init(&t->wake_pending, 0);
}

void timesrc_virtual_set(struct timesrc_virtual *t, int64_t t_ns)
{
	if (t_ns > t->now_ns)
		t->now_ns = t_ns;
}
