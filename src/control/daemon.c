/*
 * daemon.c - start-up, control loop, reload, shutdown (see daemon.h).
 *
 * Threads: the main thread is the control thread; it starts the engine
 * thread (RT) and then polls: a signalfd, a 100 ms housekeeping timerfd
 * (RT log, notifications), a beat timerfd armed at the next beat for
 * subscribers, and the OSC sockets.  SIGINT, SIGTERM and SIGHUP are blocked
 * in every thread (the mask is set before any thread starts and inherited),
 * so they arrive only through the signalfd: no async-signal-safety puzzles
 * and no EINTR on the RT thread.
 *
 * Stop: the transport is stopped first (Stop message; the sequencer adds
 * note-offs for sounding notes), the control loop waits - bounded - until
 * the engine has handed those out, then QUIT goes through the ring with a
 * wake of the engine's wait, so it takes effect at once.
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
#include "control/ctl.h"
#include "control/log.h"
#include "control/patlib.h"
#include "control/sdnotify.h"
#include "engine/engine.h"
#include "engine/pattern.h"
#include "midi/midi_auto.h"
#include "clock/timesrc_virtual.h"
#include "audio/audio_engine.h"
#include "audio/audio_wav.h"
#include "audio/audio_alsa.h"
#include "audio/audio_device.h"
#include "audio/audio_null.h"
#include "rt/rtthread.h"

#define DAEMON_TICK_NS INT64_C(100000000)      /* control housekeeping period: 100 ms */
#define DAEMON_STOP_WAIT_NS INT64_C(500000000) /* at most this for the final Stop to go out */
#define DAEMON_HANDOVER_NS INT64_C(1000000000) /* at most this for the engine to take a pattern table */
#define DAEMON_RENDER_TAIL_NS INT64_C(2000000000) /* --render: at most this past the end for the Stop */
#define DAEMON_POLL_MAX (4 + 8 + 2 + OSC_MAX_TCP_CLIENTS)

static int64_t daemon_max64(int64_t a, int64_t b)
{
	return a > b ? a : b;
}

struct daemon {
	const struct daemon_opts *opts;  /* command line */
	struct config cfg;               /* running configuration */
	struct config file_cfg;          /* as last loaded (to see what a reload changes) */
	struct timesrc_posix ts;         /* the engine's clock */
	struct engine eng;               /* the engine */
	struct patlib lib;               /* the patterns the engine plays (outlive its table) */
	struct ctl ctl;                  /* OSC API */
	int sfd;                         /* signalfd */
	int tick_fd;                     /* housekeeping timer */
	int beat_fd;                     /* beat push timer */
	bool ctl_open;                   /* the OSC server is up */
	struct midi_auto midi;           /* the MIDI backend (ALSA, rawmidi or dump) */
	struct audio_engine ae;          /* audio renderer (click, sync pulses) */
	struct timesrc_posix ats;        /* the audio thread's own clock (its waits) */
	struct audio_pcm *pcm;           /* ALSA PCM, when the device is one */
	struct audio_device adev;        /* device backend (ALSA) */
	struct audio_null anull;         /* null backend */
	struct audio_backend *ab;        /* the running audio backend, or NULL */
	bool midi_open;                  /* it is open */
	struct midi_backend *mb;         /* its ops handle */
	int svc_fds[8];                  /* backend fds the control loop polls for service() */
	int nsvc;                        /* entries of svc_fds */
	struct sdnotify sd;              /* systemd notifications */
	int64_t wd_last_ns;              /* last WATCHDOG=1 sent */
	uint64_t wd_iterations;          /* engine iterations at the last watchdog check */
	int audio_state;                 /* enum audio_state last logged (0 until it starts) */
	char sd_status[160];             /* last STATUS= sent */
};

static struct daemon daemon_state; /* large (rings, pools): static, not on the stack */

/* Defaults, the file, the --set overrides, the cross-key check, into *c;
 * the error text in err[]. */
static int daemon_load_config_into(const struct daemon_opts *o, struct config *c, bool quiet,
				   char *err, size_t errlen)
{
	const char *path = o->config_path;
	char why[CONFIG_ERR_MAX / 2];
	int r;

	config_defaults(c);
	if (!path && access(CONFIG_DEFAULT_PATH, F_OK) == 0)
		path = CONFIG_DEFAULT_PATH;
	if (path) {
		r = config_load_file(c, path, err, errlen);
		if (r < 0)
			return r;
		if (!quiet)
			logx(LOG_INFO, "configuration: %s", path);
	} else if (!quiet) {
		logx(LOG_INFO, "no configuration file (%s absent): using built-in defaults",
		     CONFIG_DEFAULT_PATH);
	}
	for (int i = 0; i < o->nsets; i++) {
		r = config_set(c, o->sets[i], why, sizeof(why));
		if (r < 0) {
			snprintf(err, errlen, "%.40s: %s", o->set_origin[i] ? o->set_origin[i] : "--set",
				 why);
			return r;
		}
	}
	return config_check(c, err, errlen) < 0 ? -EINVAL : 0;
}

/* daemon_load_config(), also leaving the error text in why[] (if given). */
static int daemon_load_config_why(const struct daemon_opts *o, struct config *c, bool quiet,
				  char *why, size_t whylen)
{
	static struct config tmp;
	char err[CONFIG_ERR_MAX];
	int r = daemon_load_config_into(o, &tmp, quiet, err, sizeof(err));

	if (r < 0) {
		logx(LOG_ERR, "%s", err);
		if (why)
			snprintf(why, whylen, "%s", err);
		return r;
	}
	*c = tmp;
	return 0;
}

int daemon_load_config(const struct daemon_opts *o, struct config *c, bool quiet)
{
	return daemon_load_config_why(o, c, quiet, NULL, 0);
}

static void daemon_midi_service(struct daemon *d);

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

static void daemon_post(struct daemon *d, uint32_t type, uint32_t u32, int64_t i64)
{
	struct engine_cmd c = { .type = type, .u32 = u32, .i64 = i64 };

	if (engine_post(&d->eng, &c) < 0)
		logx(LOG_ERR, "engine command queue full: command %u dropped", (unsigned)type);
}

/* Apply what changed in one output's settings through engine commands. */
static void daemon_apply_output(struct daemon *d, int idx, const struct clk_output_cfg *a,
				const struct clk_output_cfg *b)
{
	const struct {
		int field;
		int64_t from, to;
	} f[] = {
		{ ENGINE_OUT_ENABLED, a->enabled, b->enabled },
		{ ENGINE_OUT_PPQN, a->ppqn, b->ppqn },
		{ ENGINE_OUT_OFFSET_US, a->offset_us, b->offset_us },
		{ ENGINE_OUT_SWING, a->swing_permille, b->swing_permille },
		{ ENGINE_OUT_SWING_UNIT, a->swing_unit, b->swing_unit },
		{ ENGINE_OUT_CLOCK_WHILE_STOPPED, a->clock_while_stopped, b->clock_while_stopped },
		{ ENGINE_OUT_TRANSPORT, a->transport, b->transport },
		{ ENGINE_OUT_SPP, a->spp, b->spp },
	};

	for (size_t i = 0; i < sizeof(f) / sizeof(f[0]); i++)
		if (f[i].from != f[i].to)
			daemon_post(d, ENGINE_CMD_OUTPUT, (uint32_t)idx | (uint32_t)f[i].field << 8,
				    f[i].to);
}

/*
 * Patterns on a reload: patterns.dir is read again with the (new) settings
 * and the result handed to the running engine (patlib.h, engine.h
 * ENGINE_CMD_PATTERN_TABLE): unchanged patterns play on untouched, changed
 * ones are taken over in phase, removed ones end their notes and stop, new
 * ones wait to be launched.  The old patterns are freed once the engine
 * says it has let go of them; it does so within one iteration, but should
 * it be stalled, they are kept (and further pattern reloads refused) rather
 * than freed under it.
 */
static void daemon_reload_patterns(struct daemon *d)
{
	static struct patlib next; /* read by the engine until it acknowledges */
	struct engine_cmd cmd = { .type = ENGINE_CMD_PATTERN_TABLE };
	int64_t deadline = timesrc_mono_now_ns() + DAEMON_HANDOVER_NS;

	if (atomic_load(&d->eng.stats.pat_table_gen) != d->lib.gen) {
		logx(LOG_ERR, "reload: the engine has not taken the previous patterns yet; "
			      "patterns unchanged");
		return;
	}
	if (patlib_load(&next, &d->lib, &d->cfg) < 0) {
		logx(LOG_ERR, "reload: patterns unchanged");
		return;
	}
	if (patlib_same_table(&next.table, &d->lib.table)) {
		next.gen = d->lib.gen; /* the same objects: nothing to hand over or free */
		d->lib = next;
		return;
	}
	cmd.u32 = next.gen;
	cmd.i64 = (int64_t)(intptr_t)&next.table;
	while (engine_post(&d->eng, &cmd) < 0 && timesrc_mono_now_ns() < deadline)
		usleep(1000); /* ring full: the engine is draining it */
	while (atomic_load_explicit(&d->eng.stats.pat_table_gen, memory_order_acquire) != next.gen &&
	       timesrc_mono_now_ns() < deadline)
		usleep(1000);
	if (atomic_load_explicit(&d->eng.stats.pat_table_gen, memory_order_acquire) != next.gen) {
		/* the engine may still read the old patterns: they are not freed */
		logx(LOG_ERR, "reload: the engine did not take the new patterns within %d ms; "
			      "the old ones are kept in memory", (int)(DAEMON_HANDOVER_NS / 1000000));
		d->lib = next;
		return;
	}
	patlib_release(&d->lib, &next);
	d->lib = next;
	logx(LOG_INFO, "reload: patterns handed over (%d)", d->lib.count);
}

/*
 * Reload: a valid file is applied without stopping the clock - log level,
 * the tempo and quantum if the file's values changed, and every output's
 * settings, and the patterns (the directory is read again); what cannot
 * change live (RT, MIDI backend, OSC sockets, the set of outputs and their
 * ports) is named and waits for a restart.  An invalid file changes
 * nothing.
 */
static int daemon_reload(void *ctx, char *err, size_t errlen)
{
	struct daemon *d = ctx;
	static struct config next;
	int restart = 0;

	logx(LOG_NOTICE, "reloading configuration");
	if (daemon_load_config_why(d->opts, &next, true, err, errlen) < 0) {
		logx(LOG_ERR, "reload rejected; the running configuration is kept");
		return -EINVAL;
	}
	if (memcmp(&next.rt, &d->file_cfg.rt, sizeof(next.rt)) ||
	    memcmp(&next.midi, &d->file_cfg.midi, sizeof(next.midi)) ||
	    memcmp(&next.osc, &d->file_cfg.osc, sizeof(next.osc)) || next.nout != d->cfg.nout)
		restart = 1;
	for (int i = 0; i < next.nout && !restart; i++)
		if (strcmp(next.out[i].name, d->cfg.out[i].name) ||
		    strcmp(next.out[i].port, d->cfg.out[i].port) ||
		    strcmp(next.out[i].connect, d->cfg.out[i].connect))
			restart = 1;
	if (next.clock.bpm_micro != d->file_cfg.clock.bpm_micro)
		daemon_post(d, ENGINE_CMD_TEMPO, ENGINE_WHEN_NOW, next.clock.bpm_micro);
	if (next.clock.quantum != d->file_cfg.clock.quantum)
		daemon_post(d, ENGINE_CMD_QUANTUM, (uint32_t)next.clock.quantum, 0);
	if (!restart)
		for (int i = 0; i < next.nout; i++)
			daemon_apply_output(d, i, &d->cfg.out[i].clk, &next.out[i].clk);
	d->file_cfg = next;
	/* keep what needs a restart as it runs; take the rest */
	next.rt = d->cfg.rt;
	next.midi = d->cfg.midi;
	next.osc = d->cfg.osc;
	if (restart) {
		next.nout = d->cfg.nout;
		memcpy(next.out, d->cfg.out, sizeof(next.out));
		logx(LOG_WARNING, "reload: [rt], [midi], [osc] and the set of outputs or their ports "
				  "changed; those take effect at the next restart");
	}
	d->cfg = next;
	daemon_apply_log_level(d->opts, &d->cfg);
	daemon_reload_patterns(d);
	logx(LOG_NOTICE, "configuration reloaded");
	return 0;
}

static int daemon_signal_fd(void)
{
	sigset_t set;

	sigemptyset(&set);
	sigaddset(&set, SIGINT);
	sigaddset(&set, SIGTERM);
	sigaddset(&set, SIGHUP);
	if (pthread_sigmask(SIG_BLOCK, &set, NULL) != 0)
		return -1;
	signal(SIGPIPE, SIG_IGN); /* a vanished TCP client must not kill us */
	return signalfd(-1, &set, SFD_CLOEXEC | SFD_NONBLOCK);
}

static int daemon_timer_fd(int64_t period_ns)
{
	struct itimerspec its = {
		.it_interval = { .tv_sec = period_ns / 1000000000, .tv_nsec = period_ns % 1000000000 },
		.it_value = { .tv_sec = period_ns / 1000000000, .tv_nsec = period_ns % 1000000000 },
	};
	int fd = timerfd_create(CLOCK_MONOTONIC, TFD_CLOEXEC | TFD_NONBLOCK);

	if (fd >= 0 && period_ns > 0 && timerfd_settime(fd, 0, &its, NULL) < 0) {
		close(fd);
		return -1;
	}
	return fd;
}

static void daemon_arm_beat(struct daemon *d)
{
	int64_t t = ctl_next_beat_ns(&d->ctl, timesrc_mono_now_ns());
	struct itimerspec its = { 0 };

	if (t != INT64_MAX) {
		its.it_value.tv_sec = t / 1000000000;
		its.it_value.tv_nsec = t % 1000000000;
	}
	timerfd_settime(d->beat_fd, TFD_TIMER_ABSTIME, &its, NULL); /* zero disarms */
}

static void daemon_drain_engine(struct daemon *d)
{
	struct engine_note n;

	rtlog_drain(&d->eng.log, daemon_rtlog_sink, NULL);
	while (engine_poll_note(&d->eng, &n) == 0) {
		if (n.type == ENGINE_NOTE_TRANSPORT)
			logx(LOG_INFO, "transport: %s at beat %.2f",
			     n.u32 == CLK_PLAYING ? "playing" : "stopped",
			     (double)n.a / TL_UNITS_PER_BEAT);
		else if (n.type == ENGINE_NOTE_TEMPO)
			logx(LOG_INFO, "tempo: %.3f BPM", n.a / 1e6);
		else if (n.type == ENGINE_NOTE_REJECTED)
			logx(LOG_WARNING, "engine refused command %u: %s", n.u32, strerror((int)-n.a));
		if (d->ctl_open)
			ctl_on_note(&d->ctl, &n);
	}
}

/*
 * systemd: STATUS= whenever the one-line summary changes, and WATCHDOG=1 at
 * half the watchdog interval - but only while the engine thread's loop
 * keeps iterating (it wakes at least every 10 ms), so a hung engine is
 * restarted by systemd even though this thread is fine.
 */
/* Say when the audio device goes away, is not there, or is back: the
 * audio thread retries on its own; MIDI is not touched by any of it. */
static void daemon_audio_watch(struct daemon *d)
{
	int st;
	int64_t e;

	if (!d->ab || d->ab != &d->adev.base)
		return;
	st = atomic_load(&d->adev.base.stats.state);
	if (st == d->audio_state)
		return;
	e = atomic_load(&d->adev.base.stats.last_err);
	if (st == AUDIO_STATE_LOST)
		logx(LOG_WARNING, "audio: %s %s (%s); retrying every %.0f s, MIDI runs on",
		     d->cfg.audio.device, d->audio_state == AUDIO_STATE_RUNNING ? "lost" : "not available",
		     e ? strerror((int)-e) : "no reason given", d->adev.cfg.retry_ns / 1e9);
	else if (st == AUDIO_STATE_RUNNING && d->audio_state == AUDIO_STATE_LOST)
		logx(LOG_NOTICE, "audio: %s is back", d->cfg.audio.device);
	d->audio_state = st;
}

static void daemon_housekeeping(struct daemon *d)
{
	struct clk_snapshot s;
	char status[160];
	int64_t now = timesrc_mono_now_ns();
	uint64_t it = atomic_load(&d->eng.stats.iterations);

	daemon_audio_watch(d);
	if (d->sd.fd < 0)
		return;
	if (engine_snapshot(&d->eng, &s)) {
		snprintf(status, sizeof(status), "STATUS=%s at %.3f BPM, rt %s, OSC port %d",
			 s.transport == CLK_PLAYING ? "playing" : "stopped",
			 tl_bpm_at(&s.tl, tl_pos_at(&s.tl, now)) / 1e6, d->ctl.rt ? "yes" : "no",
			 d->ctl_open ? d->ctl.osc.port : 0);
		if (strcmp(status, d->sd_status)) {
			sdnotify_send(&d->sd, status);
			memcpy(d->sd_status, status, sizeof(status));
		}
	}
	switch (sdnotify_watchdog(&d->sd, now, &d->wd_last_ns, it, &d->wd_iterations)) {
	case 1:
		sdnotify_send(&d->sd, "WATCHDOG=1");
		break;
	case -1:
		logx(LOG_ERR, "watchdog: the engine thread made no progress for %.1f s",
		     (now - d->wd_last_ns) / 1e9);
		break;
	default:
		break;
	}
}

/* The control loop: returns the exit status once a stop signal arrives. */
static int daemon_loop(struct daemon *d)
{
	struct pollfd pfd[DAEMON_POLL_MAX];
	struct signalfd_siginfo si;
	uint64_t ticks;
	char err[CONFIG_ERR_MAX];

	for (;;) {
		int n = 0;
		pfd[n++] = (struct pollfd){ .fd = d->sfd, .events = POLLIN };
		pfd[n++] = (struct pollfd){ .fd = d->tick_fd, .events = POLLIN };
		pfd[n++] = (struct pollfd){ .fd = d->beat_fd, .events = POLLIN };
		for (int i = 0; i < d->nsvc; i++)
			pfd[n++] = (struct pollfd){ .fd = d->svc_fds[i], .events = POLLIN };
		if (d->ctl_open)
			n += osc_server_pollfds(&d->ctl.osc, pfd + n, DAEMON_POLL_MAX - n);
		if (poll(pfd, (nfds_t)n, -1) < 0) {
			if (errno == EINTR)
				continue;
			logx(LOG_ERR, "control loop: poll: %s", strerror(errno));
			return 1;
		}
		if (pfd[1].revents & POLLIN) {
			(void)!read(d->tick_fd, &ticks, sizeof(ticks));
			daemon_housekeeping(d);
		}
		if (d->ctl_open)
			osc_server_service(&d->ctl.osc);
		daemon_midi_service(d);
		daemon_drain_engine(d);
		if (d->ctl_open) {
			if (pfd[2].revents & POLLIN) {
				(void)!read(d->beat_fd, &ticks, sizeof(ticks));
				ctl_push_beats(&d->ctl, timesrc_mono_now_ns());
			}
			daemon_arm_beat(d);
		}
		while (read(d->sfd, &si, sizeof(si)) == (ssize_t)sizeof(si)) {
			if (si.ssi_signo == SIGHUP) {
				sdnotify_send(&d->sd, "RELOADING=1");
				daemon_reload(d, err, sizeof(err));
				sdnotify_send(&d->sd, "READY=1");
				continue;
			}
			logx(LOG_NOTICE, "%s: stopping", si.ssi_signo == SIGINT ? "SIGINT" : "SIGTERM");
			return 0;
		}
	}
}

/* Stop the transport and give the engine a bounded moment to hand out the
 * Stop (and note-offs) before it quits. */
static void daemon_stop_transport(struct daemon *d)
{
	struct clk_snapshot s;
	int64_t deadline = timesrc_mono_now_ns() + DAEMON_STOP_WAIT_NS;

	if (!engine_snapshot(&d->eng, &s) ||
	    (s.transport != CLK_PLAYING && atomic_load(&d->eng.stats.sounding) == 0))
		return;
	if (s.transport == CLK_PLAYING)
		daemon_post(d, ENGINE_CMD_STOP, 0, 0);
	/* Everything due before the stop point has been handed out once that
	 * instant has passed (the engine hands events out before they are due)
	 * and the one-shot queue is empty. */
	while (timesrc_mono_now_ns() < deadline) {
		usleep(2000);
		if (engine_snapshot(&d->eng, &s) && s.transport == CLK_STOPPED &&
		    atomic_load(&d->eng.stats.queued) == 0 &&
		    atomic_load(&d->eng.stats.sounding) == 0 && /* pattern note-offs are out */
		    timesrc_mono_now_ns() > tl_time_at(&s.tl, s.play_until))
			return;
	}
	logx(LOG_WARNING, "the final Stop may not have gone out in time");
}

static void daemon_engine_cfg(const struct config *c, struct engine_cfg *e)
{
	engine_cfg_defaults(e);
	e->lookahead_ns = c->clock.lookahead_us * 1000;
	e->bpm_micro = c->clock.bpm_micro;
	e->quantum = c->clock.quantum;
	e->nout = c->nout;
	for (int i = 0; i < c->nout; i++)
		e->out[i] = c->out[i].clk;
	e->follow = c->follow.enabled;
	e->follow_stop_on_loss = c->follow.stop_on_loss != 0;
}

/* Launch patterns.autostart's patterns (they start with the transport). */
static void daemon_autostart(struct engine *eng, const struct config *c, const struct patlib *lib)
{
	char list[sizeof(c->patterns.autostart)], *save = NULL;

	snprintf(list, sizeof(list), "%s", c->patterns.autostart);
	for (char *tok = strtok_r(list, ",", &save); tok; tok = strtok_r(NULL, ",", &save)) {
		struct engine_cmd cmd = { .type = ENGINE_CMD_PATTERN_LAUNCH, .i64 = c->patterns.quantize };
		int slot;
		while (*tok == ' ' || *tok == '\t')
			tok++;
		for (char *end = tok + strlen(tok); end > tok && (end[-1] == ' ' || end[-1] == '\t');)
			*--end = 0;
		if (!*tok)
			continue;
		slot = patlib_slot(lib, tok);
		if (slot < 0) {
			logx(LOG_WARNING, "patterns.autostart: no pattern '%s' in %s", tok,
			     c->patterns.dir[0] ? c->patterns.dir : "(patterns.dir is empty)");
			continue;
		}
		cmd.u32 = (uint32_t)slot;
		engine_post(eng, &cmd);
	}
}

/*
 * Open the configured MIDI backend, add a port per output and the clock
 * input for follow mode; fill the port indices into `ecfg`.  With
 * `clock` set (render), the dump backend is forced and stamps t_ns from it.
 */
int daemon_open_midi(struct midi_auto *ma, const struct config *c, struct engine_cfg *ecfg,
		     midi_dump_clock_fn clock, void *clock_ctx)
{
	static const int kinds[] = {
		[CONFIG_MIDI_AUTO] = MIDI_AUTO_AUTO, [CONFIG_MIDI_ALSA] = MIDI_AUTO_ALSA,
		[CONFIG_MIDI_DUMP] = MIDI_AUTO_DUMP, [CONFIG_MIDI_RAWMIDI] = MIDI_AUTO_RAWMIDI,
	};
	struct midi_auto_cfg mc = { 0 };
	struct midi_backend *b;
	char msg[512] = "";
	int r;

	mc.kind = clock ? MIDI_AUTO_DUMP : kinds[c->midi.backend];
	mc.alsa.client_name = c->midi.client_name;
	mc.alsa.lookahead_ns = c->clock.lookahead_us * 1000;
	mc.rawmidi.device = c->midi.rawmidi_device[0] ? c->midi.rawmidi_device : NULL;
	mc.dump.path = c->midi.dump_file;
	mc.dump.clock = clock;
	mc.dump.clock_ctx = clock_ctx;
	r = midi_auto_open(ma, &mc, msg, sizeof(msg));
	if (msg[0])
		logx(r < 0 ? LOG_ERR : LOG_WARNING, "%s", msg);
	if (r < 0) {
		if (!msg[0])
			logx(LOG_ERR, "MIDI backend %s: %s", config_backend_name(c->midi.backend),
			     strerror(-r));
		return r;
	}
	b = midi_auto_backend(ma);
	for (int i = 0; i < c->nout; i++) {
		struct midi_port_cfg pc = { .dir = MIDI_PORT_OUT };
		snprintf(pc.name, sizeof(pc.name), "%.63s", c->out[i].port[0] ? c->out[i].port : c->out[i].name);
		snprintf(pc.connect, sizeof(pc.connect), "%.63s", c->out[i].connect);
		r = b->ops->port_add(b, &pc);
		if (r < 0) {
			logx(LOG_ERR, "output %s: cannot create MIDI port '%s' (%s backend): %s",
			     c->out[i].name, pc.name, b->ops->name, strerror(-r));
			b->ops->close(b);
			return r;
		}
		ecfg->out_port[i] = r;
	}
	ecfg->follow_port = -1;
	if (!clock) {
		struct midi_port_cfg pc = { .dir = MIDI_PORT_IN };
		snprintf(pc.name, sizeof(pc.name), "%.63s", c->follow.input);
		snprintf(pc.connect, sizeof(pc.connect), "%.63s", c->follow.connect);
		r = b->ops->port_add(b, &pc);
		if (r >= 0) {
			ecfg->follow_port = r;
		} else if (c->follow.enabled) {
			logx(LOG_ERR, "follow: cannot create the clock input '%s' (%s backend): %s",
			     pc.name, b->ops->name, strerror(-r));
			b->ops->close(b);
			return r;
		}
	}
	if (ecfg->follow_port < 0)
		ecfg->follow = false;
	logx(LOG_INFO, "MIDI: %s backend, %d output%s%s", b->ops->name, c->nout, c->nout == 1 ? "" : "s",
	     ecfg->follow_port >= 0 ? ", clock input for follow mode" : "");
	return 0;
}

static bool daemon_audio_snapshot(void *ctx, struct clk_snapshot *out) RT_SAFE
{
	return engine_snapshot(ctx, out);
}

/*
 * Start the audio engine on its own RT thread when [audio] is enabled:
 * an ALSA PCM (retried in the background while absent, without disturbing
 * MIDI) or the null backend.  Failure to set up is logged and MIDI runs on.
 */
static void daemon_audio_start(struct daemon *d)
{
	struct audio_cfg a;
	struct audio_device_cfg dc;
	char err[256];
	int kind, r;

	if (!d->cfg.audio.enabled)
		return;
	config_audio(&d->cfg, &a);
	kind = audio_cfg_backend(a.device);
	if (kind == AUDIO_BACKEND_WAV) {
		logx(LOG_ERR, "audio: %s: a WAV file is for --render; live audio needs an ALSA "
			      "device or null", a.device);
		return;
	}
	if (audio_engine_init(&d->ae, &a, daemon_audio_snapshot, &d->eng, err, sizeof(err)) < 0 ||
	    timesrc_posix_open(&d->ats) < 0) {
		logx(LOG_ERR, "audio: %s", err);
		return;
	}
	if (kind == AUDIO_BACKEND_NULL) {
		r = audio_null_open(&d->anull, &d->ats.base, &a.fmt, a.priority, audio_engine_render_cb,
				    &d->ae, err, sizeof(err));
		if (r == 0)
			d->ab = &d->anull.base;
	} else {
		r = audio_alsa_pcm_new(&d->pcm, a.device);
		if (r == 0) {
			audio_device_cfg_defaults(&dc);
			dc.priority = a.priority;
			r = audio_device_init(&d->adev, d->pcm, &d->ats.base, &a.fmt, &dc,
					      audio_engine_render_cb, &d->ae, err, sizeof(err));
			if (r == 0)
				d->ab = &d->adev.base;
		} else {
			snprintf(err, sizeof(err), "%s", strerror(-r));
		}
	}
	if (!d->ab || d->ab->ops->start(d->ab) < 0) {
		logx(LOG_ERR, "audio: %s: %s (MIDI runs on without audio)", a.device,
		     d->ab == &d->adev.base && d->adev.err[0] ? d->adev.err : err[0] ? err : "cannot start");
		d->ab = NULL;
		return;
	}
	/* The audio thread renders up to a whole device buffer (plus the period
	 * being rendered) ahead of now: changes must not land inside it. */
	d->eng.commit_ahead_ns = (int64_t)a.fmt.period * (a.fmt.periods + 1) * 1000000000 /
				 (int64_t)a.fmt.rate;
	logx(LOG_INFO, "audio: %s, %u Hz, %u channels, period %u x %u", a.device, a.fmt.rate,
	     a.fmt.channels, a.fmt.period, a.fmt.periods);
}

static void daemon_audio_stop(struct daemon *d)
{
	if (!d->ab)
		return;
	d->ab->ops->close(d->ab);
	d->ab = NULL;
	if (d->pcm)
		audio_alsa_pcm_del(d->pcm);
	d->pcm = NULL;
	timesrc_posix_close(&d->ats);
}

static void daemon_midi_service(struct daemon *d)
{
	struct midi_notify n[16];
	int k;

	if (!d->midi_open)
		return;
	while ((k = d->mb->ops->service(d->mb, n, 16)) > 0) {
		for (int i = 0; i < k; i++) {
			logx(LOG_INFO, "MIDI: port %u %s %s", n[i].port,
			     n[i].type == MIDI_NOTIFY_CONNECTED ? "connected to" : "lost", n[i].peer);
			/* the engine ends that output's notes (other peers hear
			 * it) and, when a peer comes back, ends them there too */
			for (int o = 0; o < d->eng.nout; o++)
				if (d->eng.out[o].port == (int)n[i].port)
					daemon_post(d, n[i].type == MIDI_NOTIFY_DISCONNECTED
							       ? ENGINE_CMD_OUTPUT_LOST
							       : ENGINE_CMD_OUTPUT_BACK,
						    (uint32_t)o, 0);
		}
		if (k < 16)
			break;
	}
}

int daemon_run(const struct daemon_opts *o)
{
	struct daemon *d = &daemon_state;
	struct rt_status st = { 0 };
	struct rt_thread engine_thread;
	struct rt_thread_cfg tcfg;
	struct engine_cfg ecfg;
	struct osc_server_cfg scfg = { .udp = true, .tcp = true };
	struct engine_cmd quit = { .type = ENGINE_CMD_QUIT };
	char warn[1024], err[CONFIG_ERR_MAX];
	int r, status = 1;

	memset(d, 0, sizeof(*d));
	d->opts = o;
	if (daemon_load_config(o, &d->cfg, false) < 0)
		return 1;
	d->file_cfg = d->cfg;
	daemon_apply_log_level(o, &d->cfg);

	d->sfd = daemon_signal_fd();
	if (d->sfd < 0) {
		logx(LOG_ERR, "signalfd: %s", strerror(errno));
		return 1;
	}
	d->tick_fd = daemon_timer_fd(DAEMON_TICK_NS);
	d->beat_fd = daemon_timer_fd(0);
	if (d->tick_fd < 0 || d->beat_fd < 0) {
		logx(LOG_ERR, "timerfd: %s", strerror(errno));
		goto out_fds;
	}
	if (d->cfg.rt.mlock)
		rt_memory_lock(&st);
	else
		st.mlocked = true; /* not asked for: nothing to warn about */
	r = timesrc_posix_open(&d->ts);
	if (r < 0) {
		logx(LOG_ERR, "time source: %s", strerror(-r));
		goto out_fds;
	}
	daemon_engine_cfg(&d->cfg, &ecfg);
	if (daemon_open_midi(&d->midi, &d->cfg, &ecfg, NULL, NULL) < 0)
		goto out_ts;
	d->midi_open = true;
	d->mb = midi_auto_backend(&d->midi);
	{
		int fds[TIMESRC_POSIX_MAX_FDS];
		int k = d->mb->ops->input_fds(d->mb, fds, TIMESRC_POSIX_MAX_FDS);
		for (int i = 0; i < k; i++)
			timesrc_posix_watch_fd(&d->ts, fds[i]); /* the engine wakes for input */
		d->nsvc = d->mb->ops->service_fds(d->mb, d->svc_fds, 8);
		if (d->nsvc < 0)
			d->nsvc = 0;
	}
	if (patlib_load(&d->lib, NULL, &d->cfg) < 0)
		goto out_midi;
	ecfg.pats = d->lib.table;
	r = engine_init(&d->eng, &d->ts.base, d->mb, &ecfg);
	if (r < 0) {
		logx(LOG_ERR, "engine: %s", strerror(-r));
		goto out_midi;
	}
	d->ctl.lib = &d->lib;
	_Static_assert(sizeof(scfg.bind) == sizeof(d->cfg.osc.bind), "bind buffers differ");
	memcpy(scfg.bind, d->cfg.osc.bind, sizeof(scfg.bind));
	scfg.port = d->cfg.osc.port;
	scfg.udp = d->cfg.osc.udp;
	scfg.tcp = d->cfg.osc.tcp;
	if (osc_parse_allow(&scfg, d->cfg.osc.allow, err, sizeof(err)) < 0 ||
	    ((scfg.udp || scfg.tcp) &&
	     ctl_open(&d->ctl, &d->eng, &d->ts.base, &d->cfg, &scfg, err, sizeof(err)) < 0)) {
		logx(LOG_ERR, "%s", err);
		goto out_midi;
	}
	d->ctl_open = scfg.udp || scfg.tcp;
	d->ctl.reload = daemon_reload;
	d->ctl.reload_ctx = d;

	daemon_audio_start(d); /* before the engine thread: it sets eng.commit_ahead_ns */
	tcfg = (struct rt_thread_cfg){ .name = "ps-engine", .priority = d->cfg.rt.priority,
				       .cpu = d->cfg.rt.cpu };
	r = rt_thread_start(&engine_thread, &tcfg, engine_run, &d->eng);
	if (r < 0) {
		logx(LOG_ERR, "cannot start the engine thread: %s", strerror(-r));
		goto out_ctl;
	}
	rt_status_merge(&st, &engine_thread.status);
	d->ctl.rt = st.rt;
	d->ctl.mlocked = d->cfg.rt.mlock && st.mlocked;
	if (rt_status_warning(&st, d->cfg.rt.priority, warn, sizeof(warn)) > 0)
		logx(LOG_WARNING, "%s", warn);
	daemon_autostart(&d->eng, &d->cfg, &d->lib);
	if (d->cfg.clock.start)
		daemon_post(d, ENGINE_CMD_START, ENGINE_WHEN_NOW, 0);
	logx(LOG_NOTICE, "running: rt: %s (SCHED_FIFO priority %d), memory locked: %s, "
			 "tempo %.3f BPM, OSC %s port %d",
	     st.rt ? "true" : "false", st.priority, d->ctl.mlocked ? "yes" : "no",
	     d->cfg.clock.bpm_micro / 1e6, d->ctl_open ? d->cfg.osc.bind : "off",
	     d->ctl_open ? d->ctl.osc.port : 0);

	sdnotify_open(&d->sd);
	d->wd_last_ns = timesrc_mono_now_ns();
	sdnotify_send(&d->sd, "READY=1");
	daemon_housekeeping(d);

	status = daemon_loop(d);

	sdnotify_send(&d->sd, "STOPPING=1");

	daemon_stop_transport(d);
	daemon_audio_stop(d);
	while (engine_post(&d->eng, &quit) < 0)
		usleep(1000); /* ring full: the engine is draining it */
	rt_thread_join(&engine_thread, NULL);
	daemon_drain_engine(d);
	logx(LOG_NOTICE, "stopped");
	sdnotify_close(&d->sd);
out_ctl:
	daemon_audio_stop(d); /* idempotent */
	if (d->ctl_open)
		ctl_close(&d->ctl);
out_midi:
	if (d->midi_open) {
		daemon_midi_service(d); /* the dump backend writes what is left */
		d->mb->ops->close(d->mb);
	}
out_ts:
	patlib_release(&d->lib, NULL); /* the engine thread has ended */
	timesrc_posix_close(&d->ts);
out_fds:
	if (d->tick_fd >= 0)
		close(d->tick_fd);
	if (d->beat_fd >= 0)
		close(d->beat_fd);
	close(d->sfd);
	return status;
}

/* ---- --render: the whole engine in virtual time ------------------------- */

static int64_t daemon_render_clock(void *ctx) RT_SAFE
{
	return timesrc_now_ns((struct timesrc *)ctx);
}

static bool daemon_render_snapshot(void *ctx, struct clk_snapshot *out) RT_SAFE
{
	return engine_snapshot(ctx, out);
}

/*
 * Render `seconds` of output as fast as possible: the engine on a virtual
 * clock starting at 0, the dump backend writing exactly what real time
 * would send (due_ns and t_ns in virtual ns), and with an audio file the
 * click and sync pulses rendered in lock-step from the same timeline.
 * Output is deterministic: the same configuration gives the same bytes.
 */
int daemon_render(const struct daemon_opts *o, int64_t duration_ns, const char *audio_path)
{
	static struct config cfg;
	static struct engine eng;
	static struct timesrc_virtual vt;
	static struct midi_auto ma;
	static struct audio_engine ae;
	static struct audio_wav wav;
	static struct patlib lib;
	struct engine_cfg ecfg;
	struct audio_cfg acfg;
	struct midi_backend *mb;
	char err[CONFIG_ERR_MAX];
	const int64_t step = INT64_C(10000000); /* drain the dump every 10 ms of virtual time */
	bool audio = audio_path != NULL, failed = false, stopping = false;
	int64_t stop_at, end;
	int r;

	if (daemon_load_config(o, &cfg, true) < 0)
		return 1;
	daemon_apply_log_level(o, &cfg);
	timesrc_virtual_init(&vt, 0);
	daemon_engine_cfg(&cfg, &ecfg);
	ecfg.follow = false;
	if (daemon_open_midi(&ma, &cfg, &ecfg, daemon_render_clock, &vt.base) < 0)
		return 1;
	mb = midi_auto_backend(&ma);
	if (patlib_load(&lib, NULL, &cfg) < 0) {
		mb->ops->close(mb);
		return 1;
	}
	ecfg.pats = lib.table;
	r = engine_init(&eng, &vt.base, mb, &ecfg);
	if (r < 0) {
		logx(LOG_ERR, "engine: %s", strerror(-r));
		mb->ops->close(mb);
		patlib_release(&lib, NULL);
		return 1;
	}
	if (audio) {
		config_audio(&cfg, &acfg);
		snprintf(acfg.device, sizeof(acfg.device), "%.63s", audio_path);
		if (audio_engine_init(&ae, &acfg, daemon_render_snapshot, &eng, err, sizeof(err)) < 0 ||
		    audio_wav_open(&wav, audio_path, &acfg.fmt, 0,
				   duration_ns * (int64_t)acfg.fmt.rate / 1000000000, audio_engine_render_cb,
				   &ae, err, sizeof(err)) < 0) {
			logx(LOG_ERR, "audio: %s", err);
			mb->ops->close(mb);
			patlib_release(&lib, NULL);
			return 1;
		}
	}
	daemon_autostart(&eng, &cfg, &lib);
	if (cfg.clock.start) {
		struct engine_cmd c = { .type = ENGINE_CMD_START, .u32 = ENGINE_WHEN_NOW };
		engine_post(&eng, &c);
	}
	/* The render ends as real time ends at SIGTERM: a Stop posted a
	 * lookahead before the end stops the transport on the first tick at or
	 * after it, with explicit note-offs for the notes sounding there, so no
	 * note is left hanging; those go out past the end (bounded).  Without
	 * a transport playing, nothing due at or after the end goes out. */
	stop_at = daemon_max64(duration_ns - cfg.clock.lookahead_us * 1000, 1);
	end = duration_ns;
	eng.emit_limit = duration_ns;
	for (int64_t t = 0; !failed;) {
		int64_t until = t + step;
		struct clk_snapshot snap;
		if (!stopping && until > stop_at)
			until = stop_at;
		if (until > end)
			until = end;
		engine_run_until(&eng, until);
		if (audio && until <= duration_ns && audio_wav_render_until(&wav, until) < 0) {
			logx(LOG_ERR, "audio: cannot write %s: %s", audio_path, strerror(errno));
			failed = true;
		}
		if (ma.kind == MIDI_AUTO_DUMP)
			midi_dump_drain(&ma.u.dump);
		rtlog_drain(&eng.log, daemon_rtlog_sink, NULL);
		t = until;
		if (!engine_snapshot(&eng, &snap))
			continue; /* cannot happen on the engine's own thread */
		if (!stopping && t >= stop_at) {
			stopping = true;
			if (snap.transport == CLK_PLAYING || atomic_load(&eng.stats.sounding) > 0) {
				struct engine_cmd c = { .type = ENGINE_CMD_STOP };
				engine_post(&eng, &c);
				eng.emit_limit = INT64_MAX;
				end = duration_ns + DAEMON_RENDER_TAIL_NS;
			}
		}
		if (t >= end || (stopping && t >= duration_ns && snap.transport == CLK_STOPPED &&
				 atomic_load(&eng.stats.queued) == 0 &&
				 atomic_load(&eng.stats.sounding) == 0 && t > tl_time_at(&snap.tl, snap.play_until)))
			break;
	}
	if (audio && wav.base.ops->close(&wav.base) < 0 && !failed) { /* finishes the header */
		logx(LOG_ERR, "audio: cannot finish %s: %s", audio_path, strerror(errno));
		failed = true;
	}
	mb->ops->close(mb);
	patlib_release(&lib, NULL);
	if (failed) {
		logx(LOG_ERR, "render failed after %.3f of %.3f s", timesrc_now_ns(&vt.base) / 1e9,
		     duration_ns / 1e9);
		return 1;
	}
	logx(LOG_INFO, "rendered %.3f s: %llu MIDI events%s%s", duration_ns / 1e9,
	     (unsigned long long)atomic_load(&eng.stats.sent), audio ? ", audio to " : "",
	     audio ? audio_path : "");
	return 0;
}
