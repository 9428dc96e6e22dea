/*
 * audio_engine.h - the audio engine: settings, validation, and the render
 * callback that backends call once per period.
 *
 * The engine holds the channel settings (click, sync pulse channels,
 * run/stop line) as a struct audio_render, and reads the musical state
 * through a callback given at init - the daemon passes the MIDI engine's
 * engine_snapshot() (a seqlock read that never blocks), tests pass a fixed
 * snapshot.  Each period it takes a fresh snapshot and renders from it; if
 * a read fails (a writer kept it busy) it renders from the last consistent
 * one and counts it, so a period is never skipped.  Before any snapshot was
 * read it renders silence.
 *
 * The audio engine knows nothing of the MIDI engine or the daemon: the
 * dependency runs one way, through the snapshot callback.
 */
#ifndef PS_AUDIO_AUDIO_ENGINE_H
#define PS_AUDIO_AUDIO_ENGINE_H

#include <stdatomic.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "audio/audio_format.h"
#include "audio/audio_render.h"
#include "clock/clksnap.h"
#include "rt/rt.h"

#define AUDIO_DEVICE_MAX 128        /* device string, with NUL */
#define AUDIO_RETRY_MS_MIN 100      /* device re-open interval bounds */
#define AUDIO_RETRY_MS_MAX 60000

/* Which backend a device string selects (audio_cfg_backend()). */
enum audio_backend_kind {
	AUDIO_BACKEND_ALSA = 1, /* anything else: an ALSA PCM name ("default", "hw:1,0") */
	AUDIO_BACKEND_NULL = 2, /* "null": timer-paced, output discarded */
	AUDIO_BACKEND_WAV = 3,  /* a path ending in ".wav" */
};

struct audio_cfg {
	char device[AUDIO_DEVICE_MAX]; /* ALSA PCM name, "null", or FILE.wav */
	struct audio_format fmt;       /* rate, channels, period, periods, sample format */
	struct audio_render_cfg out;   /* click, pulse channels, run/stop */
	int priority;                  /* SCHED_FIFO priority of the audio thread, 0 = none */
	int retry_ms;                  /* re-open interval after the device vanished */
};

/*
 * Snapshot callback: copy the current musical state into *out; false when
 * no consistent copy could be made (the previous one is then reused).
 * Context: RT (the audio thread); must never block.
 */
typedef bool (*audio_snapshot_cb)(void *ctx, struct clk_snapshot *out) RT_SAFE;

struct audio_engine_stats {
	_Atomic uint64_t renders;  /* periods rendered */
	_Atomic uint64_t stale;    /* periods rendered from a previous snapshot */
	_Atomic uint64_t silent;   /* periods rendered silent: no snapshot yet */
};

struct audio_engine {
	struct audio_render r;            /* settings and click tables */
	audio_snapshot_cb read_snapshot;  /* where the musical state comes from */
	void *snap_ctx;                   /* its first argument */
	struct clk_snapshot snap;         /* the last consistent snapshot (audio thread) */
	bool have_snap;                   /* snap is valid */
	struct audio_engine_stats stats;  /* read by anyone, without locks */
};

/* audio_cfg_defaults - device "default", audio_format_defaults(),
 * audio_render_cfg_defaults(), priority 70, retry every 1000 ms.
 * Context: any thread. */
void audio_cfg_defaults(struct audio_cfg *c);

/*
 * audio_cfg_check - validate everything (format, channel assignments,
 * every source's settings, retry interval).  On error writes one message
 * naming the setting, its value and what is allowed, and returns -EINVAL.
 * Context: non-RT.
 */
int audio_cfg_check(const struct audio_cfg *c, char *err, size_t errlen);

/* audio_cfg_backend - the backend `device` selects (enum
 * audio_backend_kind).  Context: any thread. */
int audio_cfg_backend(const char *device);

/*
 * audio_engine_init - validate `cfg`, synthesize the click sounds, remember
 * the snapshot callback.  Returns 0 or -EINVAL (message in err).
 * Context: non-RT.
 */
int audio_engine_init(struct audio_engine *ae, const struct audio_cfg *cfg,
		      audio_snapshot_cb read_snapshot, void *snap_ctx, char *err, size_t errlen);

/*
 * audio_engine_render_cb - the render callback for backends (ctx is the
 * struct audio_engine): reads a snapshot, renders the period.
 * Context: RT (the backend's thread).
 */
void audio_engine_render_cb(void *ctx, float *buf, uint32_t frames, int64_t anchor_ns,
			    int64_t frame0) RT_SAFE;

#endif
