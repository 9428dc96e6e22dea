/* Time sources: the virtual one (jumps to deadlines, wake consumed) and the
 * POSIX one's non-waiting paths (past deadline, pending wake, watched fd). */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <unistd.h>

#include <cmocka.h>

#include "clock/timesrc_posix.h"
#include "clock/timesrc_virtual.h"

static void test_virtual_jumps_to_deadline(void **state)
{
	struct timesrc_virtual v;

	(void)state;
	timesrc_virtual_init(&v, 1000);
	assert_int_equal(timesrc_now_ns(&v.base), 1000);
	assert_int_equal(timesrc_wait_until_ns(&v.base, 5000), TIMESRC_DEADLINE);
	assert_int_equal(timesrc_now_ns(&v.base), 5000);
	assert_int_equal(timesrc_wait_until_ns(&v.base, 10), TIMESRC_DEADLINE); /* past */
	assert_int_equal(timesrc_now_ns(&v.base), 5000);                      /* never back */
	timesrc_wake(&v.base);
	assert_int_equal(timesrc_wait_until_ns(&v.base, 9000), TIMESRC_WOKEN);
	assert_int_equal(timesrc_now_ns(&v.base), 5000);
	assert_int_equal(timesrc_wait_until_ns(&v.base, 9000), TIMESRC_DEADLINE);
	v.max_wait_ns = 100;
	assert_int_equal(timesrc_wait_until_ns(&v.base, 10000), TIMESRC_WOKEN);
	assert_int_equal(timesrc_now_ns(&v.base), 9100);
	timesrc_virtual_set(&v, 20000);
	assert_int_equal(timesrc_now_ns(&v.base), 20000);
}

static void test_posix_past_deadline_and_wake(void **state)
{
	struct timesrc_posix p;
	int64_t t0, t1;

	(void)state;
	assert_int_equal(timesrc_posix_open(&p), 0);
	t0 = timesrc_now_ns(&p.base);
	assert_true(t0 > 0);
	assert_int_equal(timesrc_wait_until_ns(&p.base, t0 - 1), TIMESRC_DEADLINE);
	timesrc_wake(&p.base);
	timesrc_wake(&p.base); /* coalesces */
	/* a deadline an hour away: only the pending wake can end this */
	assert_int_equal(timesrc_wait_until_ns(&p.base, t0 + 3600 * TIMESRC_NS_PER_SEC),
			 TIMESRC_WOKEN);
	t1 = timesrc_now_ns(&p.base);
	assert_true(t1 >= t0);
	timesrc_posix_close(&p);
}

static void test_posix_watched_fd_wakes(void **state)
{
	struct timesrc_posix p;
	int fds[2];

	(void)state;
	assert_int_equal(pipe(fds), 0);
	assert_int_equal(timesrc_posix_open(&p), 0);
	assert_int_equal(timesrc_posix_watch_fd(&p, fds[0]), 0);
	assert_int_equal(write(fds[1], "x", 1), 1);
	assert_int_equal(timesrc_wait_until_ns(&p.base, timesrc_now_ns(&p.base) +
							    3600 * TIMESRC_NS_PER_SEC),
			 TIMESRC_WOKEN);
	for (int i = 0; i < TIMESRC_POSIX_MAX_FDS - 1; i++)
		assert_int_equal(timesrc_posix_watch_fd(&p, fds[0]), 0);
	assert_int_equal(timesrc_posix_watch_fd(&p, fds[0]), -ENOSPC);
	timesrc_posix_close(&p);
	close(fds[0]);
	close(fds[1]);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_virtual_jumps_to_deadline),
		cmocka_unit_test(test_posix_past_deadline_and_wake),
		cmocka_unit_test(test_posix_watched_fd_wakes),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
