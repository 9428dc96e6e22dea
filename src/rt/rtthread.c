/*
 * rtthread.c - RT thread start-up and memory locking (see rtthread.h).
 *
 * The SCHED_FIFO switch is made by the new thread on itself
 * (pthread_setschedparam(pthread_self())) instead of through
 * PTHREAD_EXPLICIT_SCHED attributes: a refused attribute makes
 * pthread_create() fail as a whole, whereas a refused switch leaves a
 * running thread that can simply go on with normal scheduling.
 */
#include "rt/rtthread.h"
#include "rt/rt.h"

#include <errno.h>
#include <sched.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/resource.h>

int rt_memory_lock(struct rt_status *st)
{
	rt_assert_not_rt();
	if (mlockall(MCL_CURRENT | MCL_FUTURE) == 0) {
		st->mlocked = true;
		st->mlock_err = 0;
		return 0;
	}
	st->mlocked = false;
	st->mlock_err = errno;
	return -st->mlock_err;
}

/* Touch the stack now so that the first deep call on the RT path does not
 * page-fault (the pages are then locked by MCL_FUTURE). */
static void rt_prefault_stack(size_t bytes)
{
	volatile unsigned char *p = __builtin_alloca(bytes);

	for (size_t i = 0; i < bytes; i += 4096)
		p[i] = 0;
}

static void *rt_thread_entry(void *arg)
{
	struct rt_thread *t = arg;
	struct rt_status *st = &t->status;

	if (t->cfg.cpu >= 0) {
		cpu_set_t set;
		CPU_ZERO(&set);
		CPU_SET(t->cfg.cpu, &set);
		st->affinity_err = pthread_setaffinity_np(pthread_self(), sizeof(set), &set);
	}
	if (t->cfg.priority > 0) {
		struct sched_param sp = { .sched_priority = t->cfg.priority };
		st->sched_err = pthread_setschedparam(pthread_self(), SCHED_FIFO, &sp);
		st->rt = st->sched_err == 0;
		st->priority = st->rt ? t->cfg.priority : 0;
	}
	rt_prefault_stack(t->cfg.prefault);
	rt_thread_mark(true);
	sem_post(&t->ready);
	return t->fn(t->arg);
}

int rt_thread_start(struct rt_thread *t, const struct rt_thread_cfg *cfg,
		    void *(*fn)(void *), void *arg)
{
	pthread_attr_t attr;
	int r;

	rt_assert_not_rt();
	memset(t, 0, sizeof(*t));
	t->cfg = *cfg;
	if (t->cfg.stack_size == 0)
		t->cfg.stack_size = RT_THREAD_STACK_DEFAULT;
	if (t->cfg.prefault == 0)
		t->cfg.prefault = RT_THREAD_PREFAULT_DEFAULT;
	if (t->cfg.prefault > t->cfg.stack_size / 2)
		t->cfg.prefault = t->cfg.stack_size / 2;
	if (t->cfg.priority < 0 || t->cfg.priority > 99)
		return -EINVAL;
	t->fn = fn;
	t->arg = arg;
	if (sem_init(&t->ready, 0, 0) < 0)
		return -errno;
	r = pthread_attr_init(&attr);
	if (r)
		goto out_sem;
	r = pthread_attr_setstacksize(&attr, t->cfg.stack_size);
	if (r)
		goto out_attr;
	r = pthread_create(&t->tid, &attr, rt_thread_entry, t);
	if (r)
		goto out_attr;
	t->started = true;
	if (t->cfg.name)
		pthread_setname_np(t->tid, t->cfg.name); /* cosmetic; failure ignored */
	while (sem_wait(&t->ready) < 0 && errno == EINTR)
		;
	pthread_attr_destroy(&attr);
	return 0;
out_attr:
	pthread_attr_destroy(&attr);
out_sem:
	sem_destroy(&t->ready);
	return -r;
}

int rt_thread_join(struct rt_thread *t, void **ret)
{
	int r;

	rt_assert_not_rt();
	if (!t->started)
		return -EINVAL;
	r = pthread_join(t->tid, ret);
	if (r)
		return -r;
	t->started = false;
	sem_destroy(&t->ready);
	return 0;
}

void rt_status_merge(struct rt_status *into, const struct rt_status *th)
{
	into->rt = th->rt;
	into->priority = th->priority;
	into->sched_err = th->sched_err;
	into->affinity_err = th->affinity_err;
}

static void rt_fmt_limit(char *buf, size_t n, rlim_t v)
{
	if (v == RLIM_INFINITY)
		snprintf(buf, n, "unlimited");
	else
		snprintf(buf, n, "%llu", (unsigned long long)v);
}

/* Append to buf (length *len, capacity n), truncating safely. */
__attribute__((format(printf, 4, 5)))
static void rt_append(char *buf, size_t n, size_t *len, const char *fmt, ...)
{
	va_list ap;
	int r;

	if (*len >= n - 1)
		return;
	va_start(ap, fmt);
	r = vsnprintf(buf + *len, n - *len, fmt, ap);
	va_end(ap);
	if (r > 0)
		*len = *len + (size_t)r < n - 1 ? *len + (size_t)r : n - 1;
}

size_t rt_status_warning(const struct rt_status *st, int want_priority, char *buf, size_t n)
{
	struct rlimit rl = { 0, 0 };
	char lim[32];
	bool no_sched = want_priority > 0 && !st->rt;
	size_t len = 0;
	int prio = want_priority > 0 ? want_priority : 70;

	if (n == 0)
		return 0;
	buf[0] = '\0';
	if (!no_sched && st->mlocked && st->affinity_err == 0)
		return 0;
	rt_append(buf, n, &len, "running without real-time guarantees:");
	if (no_sched) {
		getrlimit(RLIMIT_RTPRIO, &rl);
		rt_fmt_limit(lim, sizeof(lim), rl.rlim_cur);
		rt_append(buf, n, &len,
			  " SCHED_FIFO priority %d refused (%s; RLIMIT_RTPRIO is %s, needs >= %d or CAP_SYS_NICE);",
			  want_priority, strerror(st->sched_err), lim, want_priority);
	}
	if (!st->mlocked) {
		getrlimit(RLIMIT_MEMLOCK, &rl);
		rt_fmt_limit(lim, sizeof(lim), rl.rlim_cur);
		rt_append(buf, n, &len,
			  " mlockall refused (%s; RLIMIT_MEMLOCK is %s bytes, needs unlimited or CAP_IPC_LOCK);",
			  strerror(st->mlock_err), lim);
	}
	if (st->affinity_err)
		rt_append(buf, n, &len, " CPU pinning refused (%s);", strerror(st->affinity_err));
	rt_append(buf, n, &len,
		  " timing may suffer under load. To grant: systemd unit LimitRTPRIO=%d and "
		  "LimitMEMLOCK=infinity, or /etc/security/limits.d/phasorsync.conf with "
		  "'@audio - rtprio %d' and '@audio - memlock unlimited' (user in group audio, "
		  "log in again)",
		  prio, prio);
	return len;
}
