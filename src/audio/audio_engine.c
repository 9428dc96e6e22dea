/*
 * audio_engine.c - settings, validation and the per-period render callback
 * (see audio_engine.h).
 *
 * The snapshot is copied into the engine (not read in place) because the
 * callback's source may change under us; the copy is a few hundred bytes
 * per period.  Stale and silent periods are counted rather than logged:
 * the audio thread has no log ring of its own, and the counters tell the
 * control side everything it needs.
 */
#include "audio/audio_engine.h"

#include <errno.h>
#include <stdio.h>
#include <string.h>

void audio_cfg_defaults(struct audio_cfg *c)
{
	memset(c, 0, sizeof(*c));
	snprintf(c->device, sizeof(c->device), "default");
	audio_format_defaults(&c->fmt);
	audio_render_cfg_defaults(&c->out);
	c->priority = 70;
	c->retry_ms = 1000;
}

int audio_cfg_backend(const char *device)
{
	size_t n = strlen(device);

	if (strcmp(device, "null") == 0)
		return AUDIO_BACKEND_NULL;
	if (n > 4 && strcmp(device + n - 4, ".wav") == 0)
		return AUDIO_BACKEND_WAV;
	return AUDIO_BACKEND_ALSA;
}

int audio_cfg_check(const struct audio_cfg *c, char *err, size_t errlen)
{
	int r;

	if (c->device[0] == '\0' || memchr(c->device, '\0', sizeof(c->device)) == NULL) {
		snprintf(err, errlen, "audio device: must be an ALSA PCM name (e.g. default, "
			 "hw:1,0), null, or a file name ending in .wav");
		return -EINVAL;
	}
	r = audio_format_check(&c->fmt, err, errlen);
	if (r)
		return r;
	r = audio_render_cfg_check(&c->out, c->fmt.channels, c->fmt.rate, err, errlen);
	if (r)
		return r;
	if (c->priority < 0 || c->priority > 99) {
		snprintf(err, errlen, "audio priority = %d: must be from 0 (no RT) to 99",
			 c->priority);
		return -EINVAL;
	}
	if (c->retry_ms < AUDIO_RETRY_MS_MIN || c->retry_ms > AUDIO_RETRY_MS_MAX) {
		snprintf(err, errlen, "audio retry = %d ms: must be from %d to %d ms", c->retry_ms,
			 AUDIO_RETRY_MS_MIN, AUDIO_RETRY_MS_MAX);
		return -EINVAL;
	}
	return 0;
}

int audio_engine_init(struct audio_engine *ae, const struct audio_cfg *cfg,
		      audio_snapshot_cb read_snapshot, void *snap_ctx, char *err, size_t errlen)
{
	int r;

	rt_assert_not_rt();
	r = audio_cfg_check(cfg, err, errlen);
	if (r)
		return r;
	if (!read_snapshot) {
		snprintf(err, errlen, "audio engine: no snapshot source");
		return -EINVAL;
	}
	r = audio_render_init(&ae->r, &cfg->out, cfg->fmt.rate, cfg->fmt.channels, err, errlen);
	if (r)
		return r;
	ae->read_snapshot = read_snapshot;
	ae->snap_ctx = snap_ctx;
	memset(&ae->snap, 0, sizeof(ae->snap));
	ae->have_snap = false;
	atomic_init(&ae->stats.renders, 0);
	atomic_init(&ae->stats.stale, 0);
	atomic_init(&ae->stats.silent, 0);
	return 0;
}

void audio_engine_render_cb(void *ctx, float *buf, uint32_t frames, int64_t anchor_ns,
			    int64_t frame0) RT_SAFE
{
	struct audio_engine *ae = ctx;
	struct clk_snapshot s;

	if (ae->read_snapshot(ae->snap_ctx, &s)) {
		ae->snap = s;
		ae->have_snap = true;
	} else if (ae->have_snap) {
		atomic_fetch_add_explicit(&ae->stats.stale, 1, memory_order_relaxed);
	}
	if (!ae->have_snap)
		atomic_fetch_add_explicit(&ae->stats.silent, 1, memory_order_relaxed);
	audio_render(&ae->r, ae->have_snap ? &ae->snap : NULL, buf, frames, anchor_ns, frame0);
	atomic_fetch_add_explicit(&ae->stats.renders, 1, memory_order_relaxed);
}
