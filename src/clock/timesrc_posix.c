/*
 * timesrc_posix.c - CLOCK_MONOTONIC time source (see timesrc_posix.h).
 *
 * Why timerfd + poll and not clock_nanosleep: the engine must also wake for
 * commands and MIDI input, and a single poll() with the absolute timerfd
 * gives all three without a second thread or signals.  The timer is armed
 * with TFD_TIMER_ABSTIME, so the deadline is the same hrtimer expiry
 * clock_nanosleep(TIMER_ABSTIME) would use; lateness does not accumulate.
 */
#include "clock/timesrc_posix.h"

#include <errno.h>
#include <stdint.h>
#include <sys/eventfd.h>
#include <sys/timerfd.h>
#include <time.h>
#include <unistd.h>

int64_t timesrc_mono_now_ns(void) RT_SAFE
{
	struct timespec ts;

	RT_SYSCALL_BEGIN("clock-read")
	clock_gettime(CLOCK_MONOTONIC, &ts);
	RT_SYSCALL_END
	return (int64_t)ts.tv_sec * TIMESRC_NS_PER_SEC + ts.tv_nsec;
}

static int64_t tsp_now_ns(struct timesrc *ts) RT_SAFE
{
	(void)ts;
	return timesrc_mono_now_ns();
}

static int tsp_wait_until_ns(struct timesrc *base, int64_t deadline_ns) RT_SAFE
{
	struct timesrc_posix *t = (struct timesrc_posix *)base;
	struct itimerspec its = { 0 };
	uint64_t v;
	int r, woke = 0, err = 0;

	if (deadline_ns <= tsp_now_ns(base))
		return TIMESRC_DEADLINE;
	its.it_value.tv_sec = deadline_ns / TIMESRC_NS_PER_SEC;
	its.it_value.tv_nsec = deadline_ns % TIMESRC_NS_PER_SEC;
	RT_SYSCALL_BEGIN("deliberate-wait")
	if (timerfd_settime(t->timer_fd, TFD_TIMER_ABSTIME, &its, NULL) < 0) {
		err = -errno;
	} else {
		do {
			r = poll(t->pfd, t->nfds, -1);
		} while (r < 0 && errno == EINTR);
		if (r < 0)
			err = -errno;
		if (r > 0 && (t->pfd[1].revents & POLLIN)) {
			woke = 1;
			(void)!read(t->wake_fd, &v, sizeof(v)); /* non-blocking: clears the eventfd */
		}
		if (r > 0 && (t->pfd[0].revents & POLLIN))
			(void)!read(t->timer_fd, &v, sizeof(v));
		for (unsigned i = 2; r > 0 && i < t->nfds; i++)
			if (t->pfd[i].revents)
				woke = 1;
	}
	RT_SYSCALL_END
	if (err)
		return err;
	return woke ? TIMESRC_WOKEN : TIMESRC_DEADLINE;
}

static void tsp_wake(struct timesrc *base) RT_SAFE
{
	struct timesrc_posix *t = (struct timesrc_posix *)base;
	uint64_t one = 1;

	RT_SYSCALL_BEGIN("wake-signal")
	(void)!write(t->wake_fd, &one, sizeof(one)); /* non-blocking eventfd; EAGAIN = already pending */
	RT_SYSCALL_END
}

static const struct timesrc_ops timesrc_posix_ops = {
	.now_ns = tsp_now_ns,
	.wait_until_ns = tsp_wait_until_ns,
	.wake = tsp_wake,
};

int timesrc_posix_open(struct timesrc_posix *t)
{
	rt_assert_not_rt();
	t->base.ops = &timesrc_posix_ops;
	t->timer_fd = timerfd_create(CLOCK_MONOTONIC, TFD_NONBLOCK | TFD_CLOEXEC);
	if (t->timer_fd < 0)
		return -errno;
	t->wake_fd = eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC);
	if (t->wake_fd < 0) {
		int e = -errno;
		close(t->timer_fd);
		return e;
	}
	t->pfd[0] = (struct pollfd){ .fd = t->timer_fd, .events = POLLIN };
	t->pfd[1] = (struct pollfd){ .fd = t->wake_fd, .events = POLLIN };
	t->nfds = 2;
	return 0;
}

void timesrc_posix_close(struct timesrc_posix *t)
{
	rt_assert_not_rt();
	if (t->timer_fd >= 0)
		close(t->timer_fd);
	if (t->wake_fd >= 0)
		close(t->wake_fd);
	t->timer_fd = t->wake_fd = -1;
	t->nfds = 0;
}

int timesrc_posix_watch_fd(struct timesrc_posix *t, int fd)
{
	if (t->nfds >= 2 + TIMESRC_POSIX_MAX_FDS)
		return -ENOSPC;
	t->pfd[t->nfds++] = (struct pollfd){ .fd = fd, .events = POLLIN };
	return 0;
}
