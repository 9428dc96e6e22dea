/*
 * audio_device.h - the device backend: an RT thread driving a PCM device
 * (struct audio_pcm: ALSA in production, mocks/mock_audio.c in tests).
 *
 * Each period: wait until a period can be written (the one deliberate
 * wait), read the device's avail/delay and the CLOCK_MONOTONIC time they
 * refer to, derive the time the next written frame will be heard
 * (t = tstamp + delay / rate), render the period for that time, write it.
 *
 * Output time.  Frames are timed from an anchor: frame g of the current
 * anchor is heard at anchor_ns + g * 1e9 / rate, exactly.  Each period the
 * measured time of the next frame is compared with the anchor's
 * prediction; the anchor moves by 1/AUDIO_DEVICE_PHASE_DIV of the
 * difference (a first-order phase-locked loop).  Time-stamp jitter is
 * divided down, a constant drift between the sound card's crystal and
 * CLOCK_MONOTONIC leaves an error of PHASE_DIV times the drift per period
 * (1.3 us per 100 ppm at 512 frames / 48 kHz, far below one frame), and an
 * error above AUDIO_DEVICE_RESYNC_NS (a discontinuity) re-anchors at once
 * and is counted.
 *
 * Faults.  An underrun or a suspend (-EPIPE, -ESTRPIPE) is recovered on the
 * spot (prepare, refill with silence, re-anchor) and counted.  A device
 * that is gone (-ENODEV and friends) or silent for longer than the wait
 * limit is closed; the thread then tries to open it again every retry
 * interval until it returns.  While it is gone the thread does non-RT work
 * (it marks itself non-RT for rt_assert_not_rt()) but touches nothing any
 * other thread uses: MIDI goes on undisturbed.
 *
 * Starting.  start() opens the device once on the caller's thread so that
 * a refused format (-EINVAL) is reported at start-up with a clear message;
 * a device that is absent (or busy) at start-up is not an error: the
 * thread starts in the LOST state and keeps retrying.
 */
#ifndef PS_AUDIO_AUDIO_DEVICE_H
#define PS_AUDIO_AUDIO_DEVICE_H

#include <stdatomic.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "audio/audio_backend.h"
#include "audio/audio_pcm.h"
#include "audio/audio_priv.h"
#include "clock/timesrc.h"
#include "rt/rt.h"
#include "rt/rtthread.h"

#define AUDIO_DEVICE_PHASE_DIV 8                      /* loop gain 1/8 per period */
#define AUDIO_DEVICE_RESYNC_NS INT64_C(2000000)       /* 2 ms: re-anchor instead */
#define AUDIO_DEVICE_WAIT_MIN_MS 500                  /* wait limit: stalled device */
#define AUDIO_DEVICE_ERR_MAX 160                      /* bytes of the last open error */

/* What one audio_device_step() did. */
enum audio_device_event {
	AUDIO_DEVICE_IDLE = 0,        /* nothing to write yet, or waited for a retry */
	AUDIO_DEVICE_PERIOD = 1,      /* a period was rendered and written */
	AUDIO_DEVICE_XRUN = 2,        /* an underrun/suspend was recovered */
	AUDIO_DEVICE_LOST = 3,        /* the device vanished or stalled; it was closed */
	AUDIO_DEVICE_OPENED = 4,      /* the device was (re)opened and primed */
	AUDIO_DEVICE_OPEN_FAILED = 5, /* an open attempt failed; retry later */
};

struct audio_device_cfg {
	int priority;      /* SCHED_FIFO priority of the thread, 0 = no RT */
	int cpu;           /* CPU to pin it to, -1 = any */
	int64_t retry_ns;  /* re-open interval after a loss */
};

struct audio_device {
	struct audio_backend base;     /* must be first */
	struct audio_pcm *pcm;         /* the device (not owned) */
	struct timesrc *ts;            /* now and the retry waits; no other thread waits on it */
	struct audio_pbuf pb;          /* period buffers */
	struct audio_device_cfg cfg;   /* thread and retry settings */
	int wait_ms;                   /* PCM wait limit: longer = stalled */
	struct rt_thread thread;       /* the audio thread */
	bool started;                  /* thread running */
	_Atomic bool quit;             /* asks the thread to leave */

	/* audio thread only (or the caller, while no thread runs): */
	bool is_open;                  /* PCM open and primed */
	bool ever_lost;                /* a loss happened: opens now count as re-opens */
	bool anchored;                 /* anchor_ns is valid */
	int64_t anchor_ns;             /* output time of frame 0 of the anchor */
	int64_t frames;                /* frames written since the anchor */
	int64_t next_retry_ns;         /* earliest next open attempt */
	char err[AUDIO_DEVICE_ERR_MAX]; /* last open error message */
};

/*
 * audio_device_init - set up (no device access yet): buffers for `f`, the
 * render callback, `pcm` and `ts` (required: -EINVAL without them).
 * Returns 0, -EINVAL (message in err) or -ENOMEM.
 * Context: non-RT.
 */
int audio_device_init(struct audio_device *d, struct audio_pcm *pcm, struct timesrc *ts,
		      const struct audio_format *f, const struct audio_device_cfg *cfg,
		      audio_render_cb cb, void *ctx, char *err, size_t errlen);

/* audio_device_cfg_defaults - priority 70, any CPU, retry every second.
 * Context: any thread. */
void audio_device_cfg_defaults(struct audio_device_cfg *c);

/*
 * audio_device_step - one iteration of the audio thread's loop: when the
 * device is open, wait for and deliver one period (or recover a fault);
 * when it is not, wait until the next retry time and try to open it.
 * Returns an enum audio_device_event.  The thread runs this until stop();
 * tests call it directly in virtual time.
 * Context: the audio thread (RT while the device is open), or the caller
 * while no thread runs.
 */
int audio_device_step(struct audio_device *d);

#endif
