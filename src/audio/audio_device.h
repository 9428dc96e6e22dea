/*
 * audio_device.h - the device backend: an RT thread driving a PCM device
 * (struct audio_pcm: ALSA in production, mocks/mock_audio.c in tests).
 *
 * Each period: wait until a period can be written (the one deliberate
 * wait), read the device's avail/delay and the CLOCK_MONOTONIC time they
 * refer to, derive the time the next written frame will be heard
 * (t = tstamp + delay / rate), render the period for that time, write it.
 *
 * Output time.  The measured time of the next frame has two kinds of
 * error: jitter of the time stamp, and a pointer that lags - many drivers
 * (and snd-aloop) update the hardware position only every period or every
 * timer tick, so the device looks fuller than it is and the measurement is
 * LATE by up to that granularity, never early.  The backend therefore
 * takes the minimum of the last AUDIO_DEVICE_MINWIN measurement errors (a
 * lower envelope: the freshest pointer reading wins) and feeds it to a
 * second-order delay-locked loop (as JACK and PipeWire do), which tracks
 * both the phase and the rate of the sound card's crystal against
 * CLOCK_MONOTONIC: a constant drift leaves no steady-state error.  After
 * (re)anchoring, the first AUDIO_DEVICE_MINWIN periods are written silent
 * while the loop only measures (its phase is then the lower envelope of
 * those measurements, not one possibly stale reading); then the loop runs
 * with AUDIO_DEVICE_BW_LOCK_HZ of bandwidth for AUDIO_DEVICE_LOCK_NS and
 * narrows to AUDIO_DEVICE_BW_HZ.  Each period is rendered with the loop's
 * time for its first frame as the anchor (frame0 = 0); within a period
 * frames are spaced at the nominal rate (100 ppm is 1 us over a 10 ms
 * period).  An error larger than the resync limit (a discontinuity)
 * re-anchors and is counted.
 *
 * Faults.  An underrun or a suspend (-EPIPE, -ESTRPIPE) is recovered on the
 * spot (prepare, refill with silence, re-acquire) and counted.  A device
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

#define AUDIO_DEVICE_MINWIN 16                        /* periods in the lower envelope */
#define AUDIO_DEVICE_BW_LOCK_HZ 1.0                   /* loop bandwidth while locking */
#define AUDIO_DEVICE_BW_HZ 0.1                        /* loop bandwidth once locked */
#define AUDIO_DEVICE_LOCK_NS INT64_C(2000000000)      /* locking phase after (re)anchoring */
#define AUDIO_DEVICE_RESYNC_MIN_NS INT64_C(10000000)  /* re-anchor above max(10 ms, 2 periods) */
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
	bool must_close;               /* lost on the RT path; close it outside */
	bool ever_lost;                /* a loss happened: opens now count as re-opens */
	double b_lock, c_lock;         /* loop gains while locking (per period) */
	double b, c;                   /* loop gains once locked */
	int64_t lock_periods;          /* length of the locking phase */
	int64_t resync_ns;             /* re-anchor above this error */
	bool anchored;                 /* the loop has a time */
	int64_t base_ns;               /* origin of t_next (keeps the double small) */
	double t_next;                 /* predicted output time of the next frame, ns from base */
	double per_frame;              /* estimated ns per frame */
	int64_t since_anchor;          /* periods since the loop was (re)anchored */
	double errs[AUDIO_DEVICE_MINWIN]; /* last measurement errors, ns (ring) */
	int64_t anchor_ns;             /* output time of the period being rendered */
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
