/*
 * daemon.c - start-up, control loop, shutdown (see daemon.h).
 *
 * Threads: the main thread is the control thread; it starts the engine
 * thread (RT) and then polls a signalfd and a periodic timerfd.  SIGINT,
 * SIGTERM and SIGHUP are blocked in every thread (the mask is set before any
 * thread starts and inherited), so they arrive only through the signalfd:
 * no async-signal-safety puzzles and no EINTR on the RT thread.  Stop is a
 * QUIT command through the ring plus a wake of the engine's wait, so it takes
 * effect at once rather than at the next deadline.
 */
#include "control/daemon.h"

#include <errno.h>
#include <inttypes.h>
#include <poll.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <sys/signalfd.h>
#include <sys/timerfd.h>
#include <unistd.h>

#include "clock/timesrc_posix.h"
#include "control/config.h"
#include "control/log.h"
#include "engine/engine.h"
#include "rt/rtthread.h"

#define DAEMON_TICK_NS INT64_C(100000000) /* control housekeeping period: 100 ms */

static struct engine daemon_engine;     /* large (rings); static, not on the stack */
static struct timesrc_posix daemon_ts;  /* the engine's clock */

int daemon_load_config(const struct daemon_opts *o, struct config *c, bool quiet)
{
	struct config tmp;
	char err[CONFIG_ERR_MAX];
	const char *path = o->config_path;
	int r;

	config_defaults(&tmp);
	if (!path && access(CONFIG_DEFAULT_PATH, F_OK) == 0)
		path = CONFIG_DEFAULT_PATH;
	if (path) {
		r = config_load_file(&tmp, path, err, sizeof(err));
		if (r < 0) {
			logx(LOG_ERR, "%s", err);
			return r;
		}
		if (!quiet)
			logx(LOG_INFO, "configuration: %s", path);
	} else if (!quiet) {
		logx(LOG_INFO, "no configuration file (%s absent): using built-in defaults",
		     CONFIG_DEFAULT_PATH);
	}
	for (int i = 0; i < o->nsets; i++) {
		r = config_set(&tmp, o->sets[i], err, sizeof(err));
		if (r < 0) {
			logx(LOG_ERR, "--set %s", err);
			return r;
		}
	}
	*c = tmp;
	return 0;
}

static void daemon_rtlog_sink(void *ctx, int level, int64_t t_ns, const char *text)
{
	(void)ctx;
	(void)t_ns;
	logx(level, "%s", text);
}

static void daemon_apply_log_level(const struct daemon_opts *o, const struct config *c)
{
	log_set_level(o->log_level >= 0 ? o->log_level : c->log.level);
}

static void daemon_reload(const struct daemon_opts *o, struct config *running)
{
	struct config next;

	logx(LOG_NOTICE, "SIGHUP: reloading configuration");
	if (daemon_load_config(o, &next, true) < 0) {
		logx(LOG_ERR, "reload rejected; the running configuration is kept");
		return;
	}
	if (next.rt.priority != running->rt.priority || next.rt.cpu != running->rt.cpu ||
	    next.rt.mlock != running->rt.mlock)
		logx(LOG_WARNING, "reload: [rt] settings take effect at the next restart");
	next.rt = running->rt;
	*running = next;
	daemon_apply_log_level(o, running);
	logx(LOG_NOTICE, "configuration reloaded");
}

static int daemon_signal_fd(sigset_t *set)
{
	sigemptyset(set);
	sigaddset(set, SIGINT);
	sigaddset(set, SIGTERM);
	sigaddset(set, SIGHUP);
	if (pthread_sigmask(SIG_BLOCK, set, NULL) != 0)
		return -1;
	return signalfd(-1, set, SFD_CLOEXEC | SFD_NONBLOCK);
}

static int daemon_tick_fd(void)
{
	struct itimerspec its = {
		.it_interval = { .tv_sec = 0, .tv_nsec = DAEMON_TICK_NS },
		.it_value = { .tv_sec = 0, .tv_nsec = DAEMON_TICK_NS },
	};
	int fd = timerfd_create(CLOCK_MONOTONIC, TFD_CLOEXEC | TFD_NONBLOCK);

	if (fd >= 0 && timerfd_settime(fd, 0, &its, NULL) < 0) {
		close(fd);
		return -1;
	}
	return fd;
}

/* The control loop: returns the exit status once a stop signal arrives. */
static int daemon_loop(const struct daemon_opts *o, struct config *cfg, int sfd, int tfd)
{
	struct pollfd pfd[2] = { { .fd = sfd, .events = POLLIN }, { .fd = tfd, .events = POLLIN } };
	struct signalfd_siginfo si;
	uint64_t ticks;

	for (;;) {
		if (poll(pfd, 2, -1) < 0) {
			if (errno == EINTR)
				continue;
			logx(LOG_ERR, "control loop: poll: %s", strerror(errno));
			return 1;
		}
		if (pfd[1].revents & POLLIN) {
			(void)!read(tfd, &ticks, sizeof(ticks));
			rtlog_drain(&daemon_engine.log, daemon_rtlog_sink, NULL);
		}
		while (read(sfd, &si, sizeof(si)) == (ssize_t)sizeof(si)) {
			if (si.ssi_signo == SIGHUP) {
				daemon_reload(o, cfg);
				continue;
			}
			logx(LOG_NOTICE, "%s: stopping", si.ssi_signo == SIGINT ? "SIGINT" : "SIGTERM");
			return 0;
		}
	}
}

int daemon_run(const struct daemon_opts *o)
{
	struct config cfg;
	struct rt_status st = { 0 };
	struct rt_thread engine_thread;
	struct rt_thread_cfg tcfg;
	struct engine_cmd quit = { .type = ENGINE_CMD_QUIT };
	char warn[1024];
	sigset_t set;
	int sfd, tfd, r, status = 1;

	if (daemon_load_config(o, &cfg, false) < 0)
		return 1;
	daemon_apply_log_level(o, &cfg);

	sfd = daemon_signal_fd(&set);
	if (sfd < 0) {
		logx(LOG_ERR, "signalfd: %s", strerror(errno));
		return 1;
	}
	tfd = daemon_tick_fd();
	if (tfd < 0) {
		logx(LOG_ERR, "timerfd: %s", strerror(errno));
		goto out_sfd;
	}
	if (cfg.rt.mlock)
		rt_memory_lock(&st);
	else
		st.mlocked = true; /* not asked for: nothing to warn about */
	r = timesrc_posix_open(&daemon_ts);
	if (r < 0) {
		logx(LOG_ERR, "time source: %s", strerror(-r));
		goto out_tfd;
	}
	r = engine_init(&daemon_engine, &daemon_ts.base, NULL, NULL);
	if (r < 0) {
		logx(LOG_ERR, "engine: %s", strerror(-r));
		goto out_ts;
	}
	tcfg = (struct rt_thread_cfg){ .name = "ps-engine", .priority = cfg.rt.priority,
				       .cpu = cfg.rt.cpu };
	r = rt_thread_start(&engine_thread, &tcfg, engine_run, &daemon_engine);
	if (r < 0) {
		logx(LOG_ERR, "cannot start the engine thread: %s", strerror(-r));
		goto out_ts;
	}
	rt_status_merge(&st, &engine_thread.status);
	if (rt_status_warning(&st, cfg.rt.priority, warn, sizeof(warn)) > 0)
		logx(LOG_WARNING, "%s", warn);
	logx(LOG_NOTICE, "running: rt: %s (SCHED_FIFO priority %d), memory locked: %s",
	     st.rt ? "true" : "false", st.priority, cfg.rt.mlock && st.mlocked ? "yes" : "no");

	status = daemon_loop(o, &cfg, sfd, tfd);

	while (engine_post(&daemon_engine, &quit) < 0)
		usleep(1000); /* ring full: the engine is draining it */
	rt_thread_join(&engine_thread, NULL);
	rtlog_drain(&daemon_engine.log, daemon_rtlog_sink, NULL);
	logx(LOG_NOTICE, "stopped");
out_ts:
	timesrc_posix_close(&daemon_ts);
out_tfd:
	close(tfd);
out_sfd:
	close(sfd);
	return status;
}
