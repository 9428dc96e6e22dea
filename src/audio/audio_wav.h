/*
 * audio_wav.h - WAV file backend: renders in virtual time, faster than real
 * time.
 *
 * Period n covers frames [n * period, (n + 1) * period) and frame g is
 * "heard" at start_ns + g * 1e9 / rate: the file is a recording of what a
 * device started at start_ns would have played.  No clock is read and
 * nothing sleeps.  Used by tests (every onset can be checked to the frame)
 * and for click-track files (`phasorsyncd --render SECONDS --audio-device
 * out.wav`): the daemon alternates engine_run_until(t) and
 * audio_wav_render_until(t), so the snapshot each period sees is the
 * engine's state at that virtual time.
 *
 * File: RIFF/WAVE, PCM 16 or 32 bit or IEEE float 32 bit, little-endian.
 * WAVE_FORMAT_EXTENSIBLE is written when there are more than 2 channels or
 * more than 16 bits (as the format's specification asks); float files carry
 * the 'fact' chunk.  The size fields are written at close; a file larger
 * than 4 GiB is refused (-EFBIG) rather than written with wrapped sizes.
 */
#ifndef PS_AUDIO_AUDIO_WAV_H
#define PS_AUDIO_AUDIO_WAV_H

#include <stdint.h>
#include <stdio.h>

#include "audio/audio_backend.h"
#include "audio/audio_priv.h"

struct audio_wav {
	struct audio_backend base;  /* must be first */
	FILE *f;                    /* the file being written */
	struct audio_pbuf pb;       /* period buffers */
	int64_t start_ns;           /* virtual time of frame 0 */
	int64_t length_frames;      /* what start() renders; INT64_MAX = until told */
	int64_t frames;             /* frames written so far */
	int64_t max_frames;         /* frames that fit in a 4 GiB RIFF file */
	uint32_t header_bytes;      /* bytes before the sample data */
	int err;                    /* first write error (-errno), sticky */
};

/*
 * audio_wav_open - create (truncate) the file at `path` for format `f`
 * (periods is ignored), frame 0 at virtual time `start_ns`; start() will
 * render `length_frames` frames (INT64_MAX: only audio_wav_render_until()
 * decides).  Returns 0, -EINVAL (bad format, message in err) or -errno
 * (cannot create; message in err).
 * Context: non-RT.
 */
int audio_wav_open(struct audio_wav *w, const char *path, const struct audio_format *f,
		   int64_t start_ns, int64_t length_frames, audio_render_cb cb, void *ctx,
		   char *err, size_t errlen);

/*
 * audio_wav_render_until - render and write every period whose first frame
 * is heard before `t_end_ns` (the last one cut at length_frames).  Returns
 * 0 or -errno (write error, -EFBIG).
 * Context: non-RT (file I/O); the render callback runs on this thread.
 */
int audio_wav_render_until(struct audio_wav *w, int64_t t_end_ns);

#endif
