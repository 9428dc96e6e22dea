/*
 * audio_backend.h - the audio backend interface (callback model).
 *
 * A backend owns the thread that paces the audio (the device's RT thread,
 * a timer thread, or - for the WAV file - the caller's thread running in
 * virtual time) and calls the render callback once per period with a
 * buffer of interleaved float frames and the time its frames will be heard
 * (see audio_format.h: anchor + frame index, exact).  The callback is
 * usually audio_engine_render_cb() (audio/audio_engine.h).
 *
 * Backends: audio_device.c drives a PCM device through the struct
 * audio_pcm seam (audio_pcm.h) - ALSA (audio_alsa.c) in production, the
 * simulated device of mocks/mock_audio.c in tests; audio_null.c renders on
 * an absolute-deadline timer for machines without audio; audio_wav.c writes
 * a RIFF/WAVE file faster than real time.  Each implementation embeds
 * struct audio_backend as its FIRST member.
 *
 * Statistics are relaxed atomics written by the backend's thread and read
 * by anyone (control thread, tests) without locks.
 */
#ifndef PS_AUDIO_AUDIO_BACKEND_H
#define PS_AUDIO_AUDIO_BACKEND_H

#include <stdatomic.h>
#include <stdint.h>

#include "audio/audio_format.h"
#include "rt/rt.h"

/*
 * Render callback: fill `buf` with `frames` interleaved float frames; frame
 * i is heard at anchor_ns + (frame0 + i) * 1e9 / rate.  Must not fail.
 * Context: RT (the backend's thread).
 */
typedef void (*audio_render_cb)(void *ctx, float *buf, uint32_t frames, int64_t anchor_ns,
				int64_t frame0) RT_SAFE;

enum audio_state {
	AUDIO_STATE_STOPPED = 0, /* not started, or stopped */
	AUDIO_STATE_RUNNING = 1, /* periods are being delivered */
	AUDIO_STATE_LOST = 2,    /* the device vanished; re-opening periodically */
};

struct audio_stats {
	_Atomic uint64_t periods;      /* periods rendered and delivered */
	_Atomic uint64_t xruns;        /* underruns / suspends recovered */
	_Atomic uint64_t resyncs;      /* output-time jumps too large to smooth (re-anchored) */
	_Atomic uint64_t losses;       /* times the device vanished or stalled */
	_Atomic uint64_t reopen_tries; /* attempts to open it again after a loss */
	_Atomic uint64_t reopens;      /* successful re-opens after a loss */
	_Atomic int64_t last_err;      /* last -errno from the device (0 = none) */
	_Atomic int64_t delay_ns;      /* last measured time from render to output */
	_Atomic int64_t meas_err_ns;   /* last measurement minus the loop's prediction */
	_Atomic int64_t meas_err_max_ns; /* largest |meas_err_ns| since the loop locked */
	_Atomic int state;             /* enum audio_state */
};

struct audio_backend;

struct audio_backend_ops {
	/* Backend name: "alsa", "null", "wav", "mock". */
	const char *name;

	/* Begin delivering periods.  Threaded backends (device, null) start
	 * their RT thread and return; the WAV backend renders its whole length
	 * in virtual time on the calling thread before returning.  Returns 0,
	 * -EALREADY when running, or -errno (nothing started).
	 * Context: non-RT, may block. */
	int (*start)(struct audio_backend *b);

	/* Stop delivering periods and join the thread; the device stays open
	 * (the WAV file stays open).  Returns 0 or -errno.  Idempotent.
	 * Context: non-RT, blocks for up to one period (or one retry wait). */
	int (*stop)(struct audio_backend *b);

	/* Stop if running, then release everything (close the device,
	 * finalize the WAV header, free buffers).  Returns 0 or -errno (a WAV
	 * file that could not be completed).  Context: non-RT. */
	int (*close)(struct audio_backend *b);
};

struct audio_backend {
	const struct audio_backend_ops *ops; /* implementation */
	struct audio_format fmt;             /* validated stream format */
	audio_render_cb render;              /* called once per period */
	void *render_ctx;                    /* its first argument */
	struct audio_stats stats;            /* counters, read without locks */
};

#endif
