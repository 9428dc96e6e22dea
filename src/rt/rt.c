/*
 * rt.c - the per-thread "this is an RT thread" flag behind
 * rt_assert_not_rt().  A thread marks itself once at entry; functions that
 * may block or allocate assert in debug builds that they are not on such a
 * thread (neither function is RT_SAFE: a thread-local access may allocate
 * the TLS block on first use, so the mark happens before the RT loop), the way the kernel's might_sleep() catches sleeping in atomic
 * context at run time rather than at the next missed deadline.
 */
#include "rt/rt.h"

#include <stdio.h>
#include <stdlib.h>

static _Thread_local bool rt_thread_flag; /* set by rt_thread_mark() */

void rt_thread_mark(bool is_rt)
{
	rt_thread_flag = is_rt;
}

bool rt_in_rt_thread(void)
{
	return rt_thread_flag;
}

#ifndef NDEBUG
void rt_assert_not_rt_(const char *func)
{
	if (rt_thread_flag) {
		fprintf(stderr, "phasorsync: BUG: %s() called on an RT thread\n", func);
		abort();
	}
}
#endif
