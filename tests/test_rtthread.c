/*
 * RT thread start-up with the privileged calls wrapped (-Wl,--wrap):
 * granted, refused SCHED_FIFO, refused mlockall - the thread always runs,
 * and the one warning names what is missing and how to grant it.
 */
#include <errno.h>
#include <pthread.h>
#include <sched.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>
#include <sys/resource.h>

#include <cmocka.h>

#include "rt/rt.h"
#include "rt/rtthread.h"

int __wrap_pthread_setschedparam(pthread_t t, int policy, const struct sched_param *sp);
int __wrap_mlockall(int flags);

static int sched_result;   /* what the wrapped pthread_setschedparam returns */
static int sched_policy;   /* last policy asked for */
static int sched_prio;     /* last priority asked for */
static int mlock_errno;    /* 0: mlockall succeeds */

int __wrap_pthread_setschedparam(pthread_t t, int policy, const struct sched_param *sp)
{
	(void)t;
	sched_policy = policy;
	sched_prio = sp->sched_priority;
	return sched_result;
}

int __wrap_mlockall(int flags)
{
	(void)flags;
	if (mlock_errno) {
		errno = mlock_errno;
		return -1;
	}
	return 0;
}

static void *body(void *arg)
{
	*(int *)arg = rt_in_rt_thread() ? 42 : 1;
	return arg;
}

static void test_granted(void **state)
{
	struct rt_thread t;
	struct rt_thread_cfg cfg = { .name = "t", .priority = 70, .cpu = -1 };
	struct rt_status st = { 0 };
	int out = 0;
	void *ret;
	char warn[1024];

	(void)state;
	sched_result = 0;
	mlock_errno = 0;
	assert_int_equal(rt_memory_lock(&st), 0);
	assert_int_equal(rt_thread_start(&t, &cfg, body, &out), 0);
	assert_int_equal(rt_thread_join(&t, &ret), 0);
	assert_ptr_equal(ret, &out);
	assert_int_equal(out, 42); /* marked RT inside */
	assert_false(rt_in_rt_thread()); /* not here */
	assert_int_equal(sched_policy, SCHED_FIFO);
	assert_int_equal(sched_prio, 70);
	rt_status_merge(&st, &t.status);
	assert_true(st.rt);
	assert_int_equal(st.priority, 70);
	assert_int_equal(rt_status_warning(&st, 70, warn, sizeof(warn)), 0);
	assert_string_equal(warn, "");
}

static void test_refused_sched_runs_anyway_with_one_warning(void **state)
{
	struct rt_thread t;
	struct rt_thread_cfg cfg = { .name = "t", .priority = 80, .cpu = -1 };
	struct rt_status st = { 0 };
	struct rlimit zero = { 0, 0 };
	int out = 0;
	char warn[1024];

	(void)state;
	sched_result = EPERM;
	mlock_errno = 0;
	rt_memory_lock(&st);
	assert_int_equal(rt_thread_start(&t, &cfg, body, &out), 0);
	assert_int_equal(rt_thread_join(&t, NULL), 0);
	assert_int_equal(out, 42);
	rt_status_merge(&st, &t.status);
	assert_false(st.rt);
	assert_int_equal(st.sched_err, EPERM);
	/* lowering the soft and hard limit is always allowed */
	setrlimit(RLIMIT_RTPRIO, &zero);
	assert_true(rt_status_warning(&st, 80, warn, sizeof(warn)) > 0);
	assert_non_null(strstr(warn, "SCHED_FIFO priority 80 refused"));
	assert_non_null(strstr(warn, "RLIMIT_RTPRIO is 0"));
	assert_non_null(strstr(warn, "LimitRTPRIO=80"));
	assert_non_null(strstr(warn, "limits.d"));
	assert_null(strstr(warn, "mlockall")); /* only what is missing */
	assert_null(strchr(warn, '\n'));       /* one line */
}

static void test_refused_mlock(void **state)
{
	struct rt_status st = { 0 };
	char warn[1024];

	(void)state;
	mlock_errno = ENOMEM;
	assert_int_equal(rt_memory_lock(&st), -ENOMEM);
	assert_false(st.mlocked);
	st.rt = true;
	st.priority = 70;
	assert_true(rt_status_warning(&st, 70, warn, sizeof(warn)) > 0);
	assert_non_null(strstr(warn, "mlockall refused"));
	assert_non_null(strstr(warn, "RLIMIT_MEMLOCK"));
	assert_non_null(strstr(warn, "LimitMEMLOCK=infinity"));
	assert_null(strstr(warn, "SCHED_FIFO"));
}

static void test_priority_zero_asks_nothing(void **state)
{
	struct rt_thread t;
	struct rt_thread_cfg cfg = { .priority = 0, .cpu = -1 };
	struct rt_status st = { .mlocked = true };
	int out = 0;
	char warn[64];

	(void)state;
	sched_policy = -1;
	assert_int_equal(rt_thread_start(&t, &cfg, body, &out), 0);
	rt_thread_join(&t, NULL);
	assert_int_equal(sched_policy, -1);
	rt_status_merge(&st, &t.status);
	assert_int_equal(rt_status_warning(&st, 0, warn, sizeof(warn)), 0);
}

static void test_bad_priority_rejected(void **state)
{
	struct rt_thread t;
	struct rt_thread_cfg cfg = { .priority = 100, .cpu = -1 };
	int out;

	(void)state;
	assert_int_equal(rt_thread_start(&t, &cfg, body, &out), -EINVAL);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_granted),
		cmocka_unit_test(test_refused_sched_runs_anyway_with_one_warning),
		cmocka_unit_test(test_refused_mlock),
		cmocka_unit_test(test_priority_zero_asks_nothing),
		cmocka_unit_test(test_bad_priority_rejected),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
