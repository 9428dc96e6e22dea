/*
 * mock_timesrc.c - cmocka-scripted time source (see mock_timesrc.h).
 * Test code only: the ops are not RT_SAFE (cmocka allocates), which is why
 * the RTSan suite uses timesrc_virtual instead of this mock.
 */
#include "mock_timesrc.h"

#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>

#include <cmocka.h>

static int64_t mock_now(struct timesrc *ts)
{
	return ((struct mock_timesrc *)ts)->now_ns;
}

int mock_timesrc_wait(struct timesrc *ts, int64_t deadline_ns)
{
	struct mock_timesrc *m = (struct mock_timesrc *)ts;
	int64_t end;

	check_expected(deadline_ns);
	end = mock_type(int64_t);
	if (end > m->now_ns)
		m->now_ns = end;
	return m->now_ns >= deadline_ns ? TIMESRC_DEADLINE : TIMESRC_WOKEN;
}

static void mock_wake(struct timesrc *ts)
{
	((struct mock_timesrc *)ts)->wakes++;
}

#pragma GCC diagnostic push
#pragma GCC diagnostic ignored "-Wpragmas"
#pragma GCC diagnostic ignored "-Wunknown-warning-option"
#pragma GCC diagnostic ignored "-Wfunction-effects"
static const struct timesrc_ops mock_timesrc_ops = {
	.now_ns = mock_now,
	.wait_until_ns = mock_timesrc_wait,
	.wake = mock_wake,
};
#pragma GCC diagnostic pop

void mock_timesrc_init(struct mock_timesrc *m, int64_t start_ns)
{
	m->base.ops = &mock_timesrc_ops;
	m->now_ns = start_ns;
	m->wakes = 0;
}
