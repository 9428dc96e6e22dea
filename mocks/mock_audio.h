/*
 * mock_audio.h - a simulated sound card behind the struct audio_pcm seam,
 * running in virtual time.
 *
 * The card plays its buffer at `rate` * (1 + ppm / 1e6) frames per second
 * of the time source (a crystal that runs fast or slow), starting when the
 * buffer is first full; frame j of a run is heard at
 *   start_ns + (j + hw_delay) * 1e15 / (rate * (1e6 + ppm)).
 * wait() moves the virtual clock to the moment a period becomes free, so a
 * device loop driven by it runs as fast as the CPU allows and exactly as
 * it would against hardware.  status() reports avail, delay and "now" as
 * the time stamp, like a driver's hardware pointer update.
 *
 * Scripting (set the fields before or between steps):
 *   late_at_wait / late_ns    wait number N returns late_ns later than it
 *                             should (a preempted thread): an underrun if
 *                             that is longer than the buffered audio;
 *   vanish_at_write           write number N finds the device gone
 *                             (-ENODEV); it stays gone until return_at_ns
 *                             (0 = forever), then open() succeeds again;
 *   present = false           the device is absent from the start;
 *   open_err                  open() fails with this (e.g. -EINVAL).
 *
 * Capture: every onset (a sample of channel capture_ch becoming non-zero
 * after a zero) is recorded with the time it is heard, so a test can check
 * the output timing end to end.  No allocation, no cmocka: the ops are
 * RT_SAFE and the mock serves in the RTSan suite.
 */
#ifndef PS_MOCKS_MOCK_AUDIO_H
#define PS_MOCKS_MOCK_AUDIO_H

#include <stdbool.h>
#include <stdint.h>

#include "audio/audio_format.h"
#include "audio/audio_pcm.h"
#include "clock/timesrc.h"

#define MOCK_AUDIO_ONSETS 8192

struct mock_audio {
	struct audio_pcm base;        /* must be first */
	struct timesrc *ts;           /* virtual time source, moved by wait() */
	int64_t hw_delay;             /* frames between the buffer and the output */
	int64_t ppm;                  /* crystal error: > 0 plays fast */
	int64_t tstamp_lag_ns;        /* status() reports the state as of this long before
				       * now, with that time as its timestamp (a driver's
				       * snapshot taken at the last period interrupt) */
	int64_t wake_jitter_ns;       /* each wait oversleeps by a pseudo-random 0..this */
	uint64_t jitter_seed;         /* its generator state (0: a fixed seed) */
	int64_t ptr_granularity;      /* the play pointer moves in steps of this many
				       * frames (DMA bursts): delay reads high by up to that */

	/* scripting */
	bool present;                 /* the device exists */
	int64_t late_at_wait;         /* wait number that oversleeps (0 = none) */
	int64_t late_ns;              /* by how much */
	int64_t vanish_at_write;      /* write number that finds the device gone (0 = none) */
	int64_t return_at_ns;         /* when a vanished device is back (0 = never) */
	int open_err;                 /* open() fails with this when nonzero */

	/* state */
	struct audio_format fmt;      /* as opened */
	int64_t buffer;               /* buffer frames */
	bool is_open;                 /* opened and not closed */
	bool running;                 /* consuming frames */
	bool xrun;                    /* underrun detected; needs recover() */
	int64_t start_ns;             /* when the current run started */
	int64_t written;              /* frames written since prepare */

	/* counters */
	int64_t opens;                /* open() calls */
	int64_t closes;               /* close() calls */
	int64_t waits;                /* wait() calls */
	int64_t writes;               /* write() calls */
	int64_t recovers;             /* recover() calls */
	int64_t underruns;            /* underruns detected */

	/* capture */
	int capture_ch;               /* channel watched for onsets */
	bool prev_nonzero;            /* last sample of capture_ch seen */
	int n_onsets;                 /* entries in onset_ns (stops at the max) */
	int64_t onset_ns[MOCK_AUDIO_ONSETS]; /* heard time of each onset */
};

/* mock_audio_init - a present card on `ts`, no delay, exact crystal,
 * capturing channel 0.  Context: any thread. */
void mock_audio_init(struct mock_audio *m, struct timesrc *ts);

#endif
