/*
 * rtthread.h - starting real-time threads and locking memory.
 *
 * An RT thread is created with a small fixed stack, then - from inside the
 * thread - pinned to a CPU if asked, switched to SCHED_FIFO at the
 * configured priority, and its stack prefaulted, before the caller's
 * function runs.  Every privilege step may be refused (no RLIMIT_RTPRIO, no
 * CAP_SYS_NICE, low RLIMIT_MEMLOCK): the thread then runs anyway with normal
 * scheduling, and the outcome is recorded in a struct rt_status so that the
 * daemon can print ONE warning naming what is missing and how to grant it.
 */
#ifndef PS_RT_RTTHREAD_H
#define PS_RT_RTTHREAD_H

#include <pthread.h>
#include <semaphore.h>
#include <stdbool.h>
#include <stddef.h>

#define RT_THREAD_STACK_DEFAULT (256 * 1024)  /* bytes; locked when mlockall'd */
#define RT_THREAD_PREFAULT_DEFAULT (64 * 1024) /* bytes of stack touched at entry */

struct rt_thread_cfg {
	const char *name; /* thread name (<= 15 chars shown), e.g. "ps-engine" */
	int priority;     /* SCHED_FIFO priority 1..99; 0 = do not ask for RT */
	int cpu;          /* CPU to pin to, or -1 for any */
	size_t stack_size; /* bytes; 0 = RT_THREAD_STACK_DEFAULT */
	size_t prefault;   /* stack bytes to touch; 0 = RT_THREAD_PREFAULT_DEFAULT */
};

struct rt_status {
	bool rt;           /* the thread runs SCHED_FIFO */
	int priority;      /* the priority obtained (0 when not RT) */
	int sched_err;     /* errno from the refused SCHED_FIFO switch, 0 if none */
	int affinity_err;  /* errno from the refused CPU pinning, 0 if none */
	bool mlocked;      /* memory locked (set by rt_memory_lock) */
	int mlock_err;     /* errno from the refused mlockall, 0 if none */
};

struct rt_thread {
	pthread_t tid;                /* the thread */
	void *(*fn)(void *);          /* the caller's body */
	void *arg;                    /* its argument */
	struct rt_thread_cfg cfg;     /* copy of the configuration */
	struct rt_status status;      /* outcome of the privilege steps */
	sem_t ready;                  /* posted once the thread has set itself up */
	bool started;                 /* pthread_create succeeded */
};

/*
 * rt_memory_lock - mlockall(MCL_CURRENT | MCL_FUTURE) so that no page fault
 * ever stalls an RT thread.  Records the outcome in st->mlocked /
 * st->mlock_err.  Returns 0 or -errno; failure is not fatal.
 * Context: non-RT, at start-up, before RT threads start.
 */
int rt_memory_lock(struct rt_status *st);

/*
 * rt_thread_start - create the thread and wait until it has applied
 * cfg (affinity, SCHED_FIFO, prefault) and recorded the outcome in
 * t->status; then fn(arg) runs in it.  Returns 0, or -errno when the thread
 * could not be created at all (refused RT is not an error).
 * Context: non-RT, may block briefly.
 */
int rt_thread_start(struct rt_thread *t, const struct rt_thread_cfg *cfg,
		    void *(*fn)(void *), void *arg);

/*
 * rt_thread_join - wait for the thread to return.  Returns 0 or -errno.
 * Context: non-RT, blocks.
 */
int rt_thread_join(struct rt_thread *t, void **ret);

/*
 * rt_status_merge - fold a thread's scheduling outcome into a process
 * status that already holds the mlock outcome.
 * Context: any thread.
 */
void rt_status_merge(struct rt_status *into, const struct rt_status *thread_st);

/*
 * rt_status_warning - one human-readable warning describing every refused
 * privilege, the limits in force, and how to grant them (systemd unit or
 * limits.d).  Writes "" and returns 0 when nothing was refused; otherwise
 * returns the length written (truncated to n - 1).
 * Context: non-RT.
 */
size_t rt_status_warning(const struct rt_status *st, int want_priority, char *buf, size_t n);

#endif
