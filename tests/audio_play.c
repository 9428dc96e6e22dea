/*
 * audio_play - play sync pulses and a click through the ALSA device backend
 * for a while, then print its statistics.  Used by the VM loopback test
 * (tests/vm/audio_loopback_guest.sh): it plays into snd-aloop while arecord
 * captures the other side, and audio_pulsecheck analyses the capture.
 *
 *   audio_play DEVICE SECONDS BPM [PERIOD PERIODS]
 *
 * Channels (3, s16, 48 kHz): 0 = 2 PPQN pulses (5 ms), 1 = 24 PPQN pulses
 * (2 ms), 2 = click (accent every 4 beats).  The song starts 300 ms after
 * launch; the transport plays from there on.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "audio/audio_alsa.h"
#include "audio/audio_device.h"
#include "audio/audio_engine.h"
#include "clock/timeline.h"
#include "clock/timesrc_posix.h"

static struct clk_snapshot snap;
static struct audio_engine ae;
static struct audio_device dev;

static bool snap_cb(void *ctx, struct clk_snapshot *out) RT_SAFE
{
	(void)ctx;
	*out = snap;
	return true;
}

int main(int argc, char **argv)
{
	struct timesrc_posix ts;
	struct audio_pcm *pcm;
	struct audio_cfg cfg;
	struct audio_device_cfg dc;
	struct timespec nap;
	char err[256] = "";
	double secs, bpm;
	int64_t bpm_micro;
	int r;

	if (argc != 4 && argc != 6) {
		fprintf(stderr, "usage: audio_play DEVICE SECONDS BPM [PERIOD PERIODS]\n");
		return 2;
	}
	secs = atof(argv[2]);
	bpm = atof(argv[3]);
	bpm_micro = (int64_t)(bpm * 1e6 + 0.5);
	audio_cfg_defaults(&cfg);
	snprintf(cfg.device, sizeof(cfg.device), "%s", argv[1]);
	cfg.fmt.channels = 3;
	if (argc == 6) {
		cfg.fmt.period = (uint32_t)atoi(argv[4]);
		cfg.fmt.periods = (uint32_t)atoi(argv[5]);
	}
	cfg.out.pulse[0].channel = 0;
	cfg.out.pulse[0].ppqn = 2;
	cfg.out.npulse = 2;
	audio_pulse_cfg_defaults(&cfg.out.pulse[1], 1);
	cfg.out.pulse[1].width_us = 2000;
	cfg.out.click.channel = 2;

	if (timesrc_posix_open(&ts) < 0) {
		perror("timesrc_posix_open");
		return 1;
	}
	memset(&snap, 0, sizeof(snap));
	if (tl_init(&snap.tl, timesrc_mono_now_ns() + 300000000, 0, bpm_micro) < 0) {
		fprintf(stderr, "audio_play: tempo %s out of range\n", argv[3]);
		return 2;
	}
	snap.play_until = INT64_MAX;
	snap.transport = CLK_PLAYING;
	snap.quantum = 4;
	if (audio_engine_init(&ae, &cfg, snap_cb, NULL, err, sizeof(err)) < 0) {
		fprintf(stderr, "audio_play: %s\n", err);
		return 2;
	}
	if ((r = audio_alsa_pcm_new(&pcm, cfg.device)) < 0) {
		fprintf(stderr, "audio_play: %s\n", strerror(-r));
		return 1;
	}
	audio_device_cfg_defaults(&dc);
	if (audio_device_init(&dev, pcm, &ts.base, &cfg.fmt, &dc, audio_engine_render_cb, &ae, err,
			      sizeof(err)) < 0) {
		fprintf(stderr, "audio_play: %s\n", err);
		return 1;
	}
	r = dev.base.ops->start(&dev.base);
	if (r < 0) {
		fprintf(stderr, "audio_play: start: %s (%s)\n", strerror(-r), dev.err);
		return 1;
	}
	if (atomic_load(&dev.base.stats.state) != AUDIO_STATE_RUNNING)
		fprintf(stderr, "audio_play: device not open yet (%s); retrying\n", dev.err);
	/* AUDIO_PLAY_TRACE=1: every 100 ms, the loop's last measurement error
	 * and the render-to-output delay (stderr) */
	for (double t = 0; t < secs; t += 0.1) {
		nap.tv_sec = 0;
		nap.tv_nsec = 100000000;
		while (nanosleep(&nap, &nap) < 0 && errno == EINTR)
			;
		if (getenv("AUDIO_PLAY_TRACE"))
			fprintf(stderr, "t %.1f state %d periods %llu meas_err %+.3f ms delay %.3f ms\n",
				t + 0.1, atomic_load(&dev.base.stats.state),
				(unsigned long long)atomic_load(&dev.base.stats.periods),
				atomic_load(&dev.base.stats.meas_err_ns) / 1e6,
				atomic_load(&dev.base.stats.delay_ns) / 1e6);
	}
	dev.base.ops->stop(&dev.base);
	printf("audio_play: %s %u Hz %u ch period %u x %u: periods %llu xruns %llu resyncs %llu "
	       "losses %llu reopens %llu (tries %llu) output delay %.3f ms, time measurement error: last %+.3f ms, max %.3f ms; "
	       "rt %s (prio %d)\n",
	       cfg.device, cfg.fmt.rate, cfg.fmt.channels, cfg.fmt.period, cfg.fmt.periods,
	       (unsigned long long)atomic_load(&dev.base.stats.periods),
	       (unsigned long long)atomic_load(&dev.base.stats.xruns),
	       (unsigned long long)atomic_load(&dev.base.stats.resyncs),
	       (unsigned long long)atomic_load(&dev.base.stats.losses),
	       (unsigned long long)atomic_load(&dev.base.stats.reopens),
	       (unsigned long long)atomic_load(&dev.base.stats.reopen_tries),
	       atomic_load(&dev.base.stats.delay_ns) / 1e6,
	       atomic_load(&dev.base.stats.meas_err_ns) / 1e6,
	       atomic_load(&dev.base.stats.meas_err_max_ns) / 1e6, dev.thread.status.rt ? "yes" : "no",
	       dev.thread.status.priority);
	r = atomic_load(&dev.base.stats.periods) > 0 ? 0 : 1;
	dev.base.ops->close(&dev.base);
	audio_alsa_pcm_del(pcm);
	timesrc_posix_close(&ts);
	return r;
}
