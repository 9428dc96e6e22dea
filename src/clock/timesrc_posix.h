/*
 * timesrc_posix.h - CLOCK_MONOTONIC time source.
 *
 * The wait is poll() over an absolute-deadline timerfd, an eventfd used by
 * wake(), and any file descriptors registered with timesrc_posix_watch_fd()
 * (MIDI input), so one wait serves "until the next deadline, an input, or a
 * command" as the engine loop needs.
 */
#ifndef PS_CLOCK_TIMESRC_POSIX_H
#define PS_CLOCK_TIMESRC_POSIX_H

#include <poll.h>

#include "clock/timesrc.h"

#define TIMESRC_POSIX_MAX_FDS 16 /* watched fds besides the timer and wake fds */

struct timesrc_posix {
	struct timesrc base;                           /* must be first */
	int timer_fd;                                  /* CLOCK_MONOTONIC timerfd, abs deadlines */
	int wake_fd;                                   /* eventfd written by wake() */
	struct pollfd pfd[2 + TIMESRC_POSIX_MAX_FDS];  /* [0] timer, [1] wake, then watched */
	unsigned nfds;                                 /* entries of pfd in use */
};

/*
 * timesrc_posix_open - create the timer and wake fds.  Returns 0 or -errno.
 * Context: non-RT.
 */
int timesrc_posix_open(struct timesrc_posix *t);

/*
 * timesrc_posix_close - release the fds.  Context: non-RT, no wait running.
 */
void timesrc_posix_close(struct timesrc_posix *t);

/*
 * timesrc_posix_watch_fd - also end waits when `fd` is readable.  Returns
 * 0, or -ENOSPC when TIMESRC_POSIX_MAX_FDS are watched already.
 * Context: non-RT, before the waiting thread starts.
 */
int timesrc_posix_watch_fd(struct timesrc_posix *t, int fd);

/*
 * timesrc_mono_now_ns - CLOCK_MONOTONIC now, for code outside the seam
 * (control side, logging).  Context: any thread.
 */
int64_t timesrc_mono_now_ns(void) RT_SAFE;

#endif
