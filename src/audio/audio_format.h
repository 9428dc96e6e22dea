/*
 * audio_format.h - stream format, exact frame <-> time arithmetic, and
 * sample conversion.
 *
 * The renderer always produces interleaved 32-bit float samples in
 * [-1, 1] (frame-major: buf[frame * channels + channel]).  Backends convert
 * once per period into what the device or file takes: signed 16-bit,
 * signed 32-bit (both little-endian host order, clamped, rounded to
 * nearest) or 32-bit float.  Float is the one format every device and WAV
 * reader accepts without loss, and the conversion is a single pass.
 *
 * Frame times are exact: a period is described by an anchor time and the
 * index of its first frame counted from that anchor, and frame g is heard at
 * anchor_ns + g * 1e9 / rate ns - a rational number, never rounded and
 * never accumulated period after period.  "The frame of an instant T" is
 * the first frame whose exact time is >= T (audio_frame_at()).
 */
#ifndef PS_AUDIO_AUDIO_FORMAT_H
#define PS_AUDIO_AUDIO_FORMAT_H

#include <stddef.h>
#include <stdint.h>

#include "rt/rt.h"

#define AUDIO_CHANNELS_MAX 32
#define AUDIO_PERIOD_MIN 16      /* frames */
#define AUDIO_PERIOD_MAX 8192    /* frames */
#define AUDIO_PERIODS_MIN 2      /* device buffer, in periods */
#define AUDIO_PERIODS_MAX 16

enum audio_sample_fmt {
	AUDIO_FMT_S16 = 1, /* signed 16-bit */
	AUDIO_FMT_S32 = 2, /* signed 32-bit */
	AUDIO_FMT_F32 = 3, /* 32-bit IEEE float */
};

struct audio_format {
	uint32_t rate;     /* frames per second: 44100, 48000, 88200 or 96000 */
	uint32_t channels; /* interleaved channels, 1..AUDIO_CHANNELS_MAX */
	uint32_t period;   /* frames per render call, power of two 16..8192 */
	uint32_t periods;  /* device buffer length in periods, 2..16 (ALSA only) */
	int sample_fmt;    /* enum audio_sample_fmt delivered to the device / file */
};

/*
 * audio_format_defaults - 48 kHz, 2 channels, 512-frame periods, 3 periods,
 * signed 16-bit.  Context: any thread.
 */
void audio_format_defaults(struct audio_format *f);

/*
 * audio_format_check - validate every field; on error writes e.g.
 * "audio rate = 12345: must be one of 44100, 48000, 88200, 96000" into
 * `err` and returns -EINVAL.  Context: non-RT.
 */
int audio_format_check(const struct audio_format *f, char *err, size_t errlen);

/* audio_sample_bytes - bytes per sample of `sample_fmt` (0 if unknown).
 * Context: any thread. */
size_t audio_sample_bytes(int sample_fmt) RT_SAFE;

/* audio_sample_fmt_name - "s16", "s32", "float" ("?" if unknown); static
 * string.  Context: any thread. */
const char *audio_sample_fmt_name(int sample_fmt);

/*
 * audio_frame_time - time (ns, rounded down) of frame `g` counted from an
 * anchor at `anchor_ns`.  Exact for any g representable in int64_t.
 * Context: any thread.
 */
int64_t audio_frame_time(int64_t anchor_ns, int64_t g, uint32_t rate) RT_SAFE;

/*
 * audio_frame_at - the first frame g (counted from the anchor, may be
 * negative) whose exact time anchor_ns + g * 1e9 / rate is >= t_ns.
 * Context: any thread.
 */
int64_t audio_frame_at(int64_t anchor_ns, int64_t t_ns, uint32_t rate) RT_SAFE;

/*
 * audio_convert - `n` float samples to `sample_fmt` at `out` (clamped to
 * [-1, 1], rounded to nearest for the integer formats; 1.0 maps to the
 * largest positive value).  Context: RT.
 */
void audio_convert(const float *in, void *out, size_t n, int sample_fmt) RT_SAFE;

#endif
