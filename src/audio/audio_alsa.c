/*
 * audio_alsa.c - ALSA PCM playback for the device backend (see
 * audio_alsa.h).
 *
 * Everything that decides lives in audio_device.c; this file only speaks
 * alsa-lib and translates its codes into the seam's -errno contract
 * (audio_pcm.h): ALSA's own error codes (above the errno range) become
 * -EIO, a stream found in the XRUN / SUSPENDED / DISCONNECTED state becomes
 * -EPIPE / -ESTRPIPE / -ENODEV, and a wait that times out becomes
 * -ETIMEDOUT.
 *
 * Recovery does not use snd_pcm_recover(): for a suspended stream it
 * retries snd_pcm_resume() with sleep(1) in a loop, which must never run on
 * the audio thread.  Here a suspended stream gets one resume attempt, then
 * a prepare, and the backend refills and re-anchors either way.
 *
 * The RT ops (wait, status, write, recover) are the named exception
 * "audio-io" in docs/rt-safety.md: each alsa-lib call is an ioctl or a
 * poll() on the PCM's descriptors for a hw: device.
 */
#include "audio/audio_alsa.h"

#include <alsa/asoundlib.h>
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "rt/rt.h"

struct audio_alsa {
	struct audio_pcm base;       /* must be first */
	char *device;                /* PCM name (owned) */
	snd_pcm_t *pcm;              /* open PCM, or NULL */
	snd_pcm_status_t *status;    /* preallocated for aa_status() */
	snd_pcm_uframes_t buffer;    /* buffer size obtained, frames */
	snd_pcm_uframes_t period;    /* device period obtained, frames */
};

/* ALSA result -> 0/positive or -errno. */
static int64_t aa_err(int64_t r) RT_SAFE
{
	if (r >= 0)
		return r;
	return -r < 4096 ? r : -EIO;
}

static snd_pcm_format_t aa_format(int sample_fmt)
{
	switch (sample_fmt) {
	case AUDIO_FMT_S16:
		return SND_PCM_FORMAT_S16;
	case AUDIO_FMT_S32:
		return SND_PCM_FORMAT_S32;
	case AUDIO_FMT_F32:
		return SND_PCM_FORMAT_FLOAT;
	default:
		return SND_PCM_FORMAT_UNKNOWN;
	}
}

static void aa_close(struct audio_pcm *p)
{
	struct audio_alsa *a = (struct audio_alsa *)p;

	rt_assert_not_rt();
	if (a->pcm)
		snd_pcm_close(a->pcm);
	a->pcm = NULL;
}

/* Apply the hardware and software parameters; on error writes the message. */
static int aa_configure(struct audio_alsa *a, const struct audio_format *f, char *err,
			size_t errlen)
{
	snd_pcm_hw_params_t *hw;
	snd_pcm_sw_params_t *sw;
	snd_pcm_uframes_t period = f->period, buffer = (snd_pcm_uframes_t)f->period * f->periods;
	int dir = 0, r;
	const char *what;

	snd_pcm_hw_params_alloca(&hw);
	snd_pcm_sw_params_alloca(&sw);
	what = "hardware parameters";
	if ((r = snd_pcm_hw_params_any(a->pcm, hw)) < 0)
		goto fail;
	what = "interleaved access";
	if ((r = snd_pcm_hw_params_set_access(a->pcm, hw, SND_PCM_ACCESS_RW_INTERLEAVED)) < 0)
		goto fail;
	if ((r = snd_pcm_hw_params_set_format(a->pcm, hw, aa_format(f->sample_fmt))) < 0) {
		snprintf(err, errlen, "audio device %s: does not take sample format %s", a->device,
			 audio_sample_fmt_name(f->sample_fmt));
		return -EINVAL;
	}
	if ((r = snd_pcm_hw_params_set_channels(a->pcm, hw, f->channels)) < 0) {
		snprintf(err, errlen, "audio device %s: does not take %u channels", a->device,
			 f->channels);
		return -EINVAL;
	}
	if ((r = snd_pcm_hw_params_set_rate_resample(a->pcm, hw, 0)) < 0 ||
	    (r = snd_pcm_hw_params_set_rate(a->pcm, hw, f->rate, 0)) < 0) {
		snprintf(err, errlen, "audio device %s: does not run at %u Hz", a->device, f->rate);
		return -EINVAL;
	}
	what = "period size";
	if ((r = snd_pcm_hw_params_set_period_size_near(a->pcm, hw, &period, &dir)) < 0)
		goto fail;
	what = "buffer size";
	if ((r = snd_pcm_hw_params_set_buffer_size_near(a->pcm, hw, &buffer)) < 0)
		goto fail;
	what = "hardware parameters";
	if ((r = snd_pcm_hw_params(a->pcm, hw)) < 0)
		goto fail;
	snd_pcm_hw_params_get_buffer_size(hw, &a->buffer);
	snd_pcm_hw_params_get_period_size(hw, &a->period, &dir);
	if (a->buffer < 2 * (snd_pcm_uframes_t)f->period) {
		snprintf(err, errlen, "audio device %s: buffer of %lu frames is too small for "
			 "%u-frame periods", a->device, (unsigned long)a->buffer, f->period);
		return -EINVAL;
	}
	what = "software parameters";
	if ((r = snd_pcm_sw_params_current(a->pcm, sw)) < 0 ||
	    (r = snd_pcm_sw_params_set_start_threshold(a->pcm, sw, a->buffer)) < 0 ||
	    (r = snd_pcm_sw_params_set_stop_threshold(a->pcm, sw, a->buffer)) < 0 ||
	    (r = snd_pcm_sw_params_set_avail_min(a->pcm, sw, f->period)) < 0 ||
	    (r = snd_pcm_sw_params_set_tstamp_mode(a->pcm, sw, SND_PCM_TSTAMP_ENABLE)) < 0 ||
	    (r = snd_pcm_sw_params_set_tstamp_type(a->pcm, sw, SND_PCM_TSTAMP_TYPE_MONOTONIC)) < 0 ||
	    (r = snd_pcm_sw_params(a->pcm, sw)) < 0)
		goto fail;
	what = "prepare";
	if ((r = snd_pcm_prepare(a->pcm)) < 0)
		goto fail;
	return 0;
fail:
	snprintf(err, errlen, "audio device %s: %s: %s", a->device, what, snd_strerror(r));
	return (int)aa_err(r);
}

static int aa_open(struct audio_pcm *p, const struct audio_format *f, char *err, size_t errlen)
{
	struct audio_alsa *a = (struct audio_alsa *)p;
	int r;

	rt_assert_not_rt();
	aa_close(p);
	r = snd_pcm_open(&a->pcm, a->device, SND_PCM_STREAM_PLAYBACK, SND_PCM_NONBLOCK);
	if (r < 0) {
		a->pcm = NULL;
		snprintf(err, errlen, "audio device %s: cannot open: %s", a->device, snd_strerror(r));
		return (int)aa_err(r);
	}
	r = aa_configure(a, f, err, errlen);
	if (r < 0)
		aa_close(p);
	return r;
}

static int aa_wait(struct audio_pcm *p, int timeout_ms) RT_SAFE
{
	struct audio_alsa *a = (struct audio_alsa *)p;
	int r;

	RT_SYSCALL_BEGIN("audio-io")
	r = snd_pcm_wait(a->pcm, timeout_ms);
	RT_SYSCALL_END
	if (r == 0)
		return -ETIMEDOUT;
	return r < 0 ? (int)aa_err(r) : 0;
}

static int aa_status(struct audio_pcm *p, struct audio_pcm_status *st) RT_SAFE
{
	struct audio_alsa *a = (struct audio_alsa *)p;
	snd_pcm_state_t state = SND_PCM_STATE_OPEN;
	snd_htimestamp_t ts = { 0, 0 };
	int r;

	RT_SYSCALL_BEGIN("audio-io")
	r = snd_pcm_status(a->pcm, a->status);
	if (r == 0) {
		state = snd_pcm_status_get_state(a->status);
		st->avail = (int64_t)snd_pcm_status_get_avail(a->status);
		st->delay = (int64_t)snd_pcm_status_get_delay(a->status);
		snd_pcm_status_get_htstamp(a->status, &ts);
	}
	RT_SYSCALL_END
	if (r < 0)
		return (int)aa_err(r);
	switch (state) {
	case SND_PCM_STATE_XRUN:
		return -EPIPE;
	case SND_PCM_STATE_SUSPENDED:
		return -ESTRPIPE;
	case SND_PCM_STATE_DISCONNECTED:
		return -ENODEV;
	default:
		break;
	}
	st->tstamp_ns = (int64_t)ts.tv_sec * 1000000000 + ts.tv_nsec;
	return 0;
}

static int64_t aa_write(struct audio_pcm *p, const void *buf, uint32_t frames) RT_SAFE
{
	struct audio_alsa *a = (struct audio_alsa *)p;
	snd_pcm_sframes_t n;

	RT_SYSCALL_BEGIN("audio-io")
	n = snd_pcm_writei(a->pcm, buf, frames);
	RT_SYSCALL_END
	return aa_err(n);
}

static int aa_recover(struct audio_pcm *p, int err) RT_SAFE
{
	struct audio_alsa *a = (struct audio_alsa *)p;
	int r = -1;

	RT_SYSCALL_BEGIN("audio-io")
	if (err == -ESTRPIPE)
		r = snd_pcm_resume(a->pcm);
	if (r < 0)
		r = snd_pcm_prepare(a->pcm);
	RT_SYSCALL_END
	return (int)aa_err(r);
}

static const struct audio_pcm_ops audio_alsa_ops = {
	/* "alsa" */
	.name = "alsa",
	/* snd_pcm_open (non-blocking) + exact hw params, monotonic time
	 * stamps, start at full buffer; -EINVAL: format refused */
	.open = aa_open,
	/* snd_pcm_close */
	.close = aa_close,
	/* snd_pcm_wait; 0 -> -ETIMEDOUT (stalled device) */
	.wait = aa_wait,
	/* snd_pcm_status: avail, delay, htstamp; XRUN/SUSPENDED/DISCONNECTED
	 * state -> -EPIPE/-ESTRPIPE/-ENODEV */
	.status = aa_status,
	/* snd_pcm_writei, never blocks (-EAGAIN when full) */
	.write = aa_write,
	/* resume once (suspend), else prepare; never sleeps */
	.recover = aa_recover,
};

/*
 * alsa-lib prints its own diagnostics to stderr.  A device retried every
 * second (unplugged) would repeat the same line forever, so each distinct
 * source line of alsa-lib is printed once; our own log says what failed
 * each time it matters.  Non-RT: alsa-lib calls it from open/close paths.
 */
static void aa_lib_error(const char *file, int line, const char *function, int err,
			 const char *fmt, ...) __attribute__((format(printf, 5, 6)));
static void aa_lib_error(const char *file, int line, const char *function, int err,
			 const char *fmt, ...)
{
	static struct {
		const char *file;
		int line;
	} seen[32];
	static int nseen;
	va_list ap;

	(void)err;
	for (int i = 0; i < nseen; i++)
		if (seen[i].line == line && seen[i].file == file)
			return;
	if (nseen < (int)(sizeof(seen) / sizeof(seen[0]))) {
		seen[nseen].file = file;
		seen[nseen].line = line;
		nseen++;
	}
	fprintf(stderr, "ALSA lib %s:%d:(%s) ", file, line, function);
	va_start(ap, fmt);
	vfprintf(stderr, fmt, ap);
	va_end(ap);
	fputs(" (repeats not shown)\n", stderr);
}

int audio_alsa_pcm_new(struct audio_pcm **out, const char *device)
{
	struct audio_alsa *a;

	rt_assert_not_rt();
	snd_lib_error_set_handler(aa_lib_error);
	if (!device || !*device)
		return -EINVAL;
	a = calloc(1, sizeof(*a));
	if (!a)
		return -ENOMEM;
	a->base.ops = &audio_alsa_ops;
	a->device = strdup(device);
	if (!a->device || snd_pcm_status_malloc(&a->status) < 0) {
		free(a->device);
		free(a);
		return -ENOMEM;
	}
	*out = &a->base;
	return 0;
}

void audio_alsa_pcm_del(struct audio_pcm *p)
{
	struct audio_alsa *a = (struct audio_alsa *)p;

	if (!p)
		return;
	aa_close(p);
	snd_pcm_status_free(a->status);
	free(a->device);
	free(a);
}
