/*
 * audio_pcm.h - the PCM device seam under the device backend.
 *
 * audio_device.c holds everything that decides (period loop, output-time
 * derivation, xrun recovery, device-loss retry); a struct audio_pcm only
 * moves frames and reports the device's state, so the deciding code runs
 * unchanged against ALSA (audio_alsa.c) and against the simulated sound
 * card of mocks/mock_audio.c, which a test can make underrun or vanish at
 * will in virtual time.  Each implementation embeds struct audio_pcm as its
 * FIRST member.
 *
 * Errors are -errno, already translated from the library's dialect:
 *   -EPIPE     underrun (xrun): recover() makes the device usable again;
 *   -ESTRPIPE  suspended: likewise;
 *   -ENODEV    the device is gone (unplugged, driver removed): close it and
 *              open it again later (-ENOENT, -ENXIO, -EBADFD, -EIO and
 *              -ESHUTDOWN mean the same to the caller);
 *   -EAGAIN    nothing to do yet (not an error).
 */
#ifndef PS_AUDIO_AUDIO_PCM_H
#define PS_AUDIO_AUDIO_PCM_H

#include <stddef.h>
#include <stdint.h>

#include "audio/audio_format.h"
#include "rt/rt.h"

struct audio_pcm_status {
	int64_t avail;      /* frames that can be written now without blocking */
	int64_t delay;      /* frames between the next written frame and the output */
	int64_t tstamp_ns;  /* CLOCK_MONOTONIC time avail/delay refer to; 0 = unknown */
};

struct audio_pcm;

struct audio_pcm_ops {
	/* Implementation name ("alsa", "mock"). */
	const char *name;

	/* Open the device for playback of `fmt` (rate, channels and sample
	 * format exactly; buffer near periods * period frames), monotonic
	 * time stamps, playback starting once the buffer is full.  Returns
	 * 0; -ENOENT/-ENODEV when the device does not exist (yet); -EINVAL
	 * when it refuses the format; other -errno.  On error writes a
	 * message to err.  Context: non-RT, may block. */
	int (*open)(struct audio_pcm *p, const struct audio_format *fmt, char *err, size_t errlen);

	/* Close the device (no-op when not open).  Context: non-RT. */
	void (*close)(struct audio_pcm *p);

	/* The one deliberate wait: block until at least one period can be
	 * written, or `timeout_ms` passed.  Returns 0, -ETIMEDOUT, or an
	 * error from the list above.  Context: RT (the audio thread). */
	int (*wait)(struct audio_pcm *p, int timeout_ms) RT_SAFE;

	/* Current avail/delay and the time they refer to.  Returns 0 or an
	 * error from the list above (-EPIPE when the stream has underrun).
	 * Never blocks.  Context: RT. */
	int (*status)(struct audio_pcm *p, struct audio_pcm_status *st) RT_SAFE;

	/* Queue `frames` frames of the opened format.  Returns the number of
	 * frames taken (may be fewer), or an error from the list above.
	 * Never blocks (the wait is wait()).  Context: RT. */
	int64_t (*write)(struct audio_pcm *p, const void *buf, uint32_t frames) RT_SAFE;

	/* Make the device usable after -EPIPE / -ESTRPIPE (`err`): prepared,
	 * empty, not running.  Returns 0, or -errno (then treat the device
	 * as gone).  Context: RT. */
	int (*recover)(struct audio_pcm *p, int err) RT_SAFE;
};

struct audio_pcm {
	const struct audio_pcm_ops *ops; /* implementation */
};

#endif
