/*
 * audio_render.h - click and sync pulses rendered from the musical timeline.
 *
 * A pure function of (settings, snapshot, frame range): audio_render()
 * writes every sample of a buffer from a struct clk_snapshot (timeline, song
 * origin, play interval) and the exact time of each frame, so the audio is
 * on the same timeline as the MIDI clock and nothing is carried from one
 * buffer to the next (a pulse or click that began in an earlier buffer is
 * recomputed, not remembered).
 *
 * Sources, each on its own output channel (one source per channel):
 *  - click: a synthesized sound on every beat of the song grid, accented
 *    (own level and pitch) on bar downbeats (beat k with k mod quantum = 0);
 *  - sync pulses: a rectangular pulse on pulse k of a ppqn grid anchored at
 *    the song origin (as the MIDI clock outputs, clock/clkout.h), with
 *    width, level, polarity, offset and swing;
 *  - run/stop: high while the transport plays (DIN sync's start/stop line),
 *    usually next to a 24 PPQN pulse channel.
 * Every onset lands on the first frame whose exact time is >= its timeline
 * time plus the source's offset (audio_frame_at()).  Sources are silent
 * outside the play interval unless `while_stopped` is set.  The levels are
 * fractions of full scale; the resting level is 0.
 */
#ifndef PS_AUDIO_AUDIO_RENDER_H
#define PS_AUDIO_AUDIO_RENDER_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "clock/clksnap.h"
#include "rt/rt.h"

#define AUDIO_MAX_PULSES 8                 /* sync pulse channels */
#define AUDIO_CLICK_LEN_MAX_MS 100         /* longest click sound */
#define AUDIO_RATE_MAX 96000               /* highest supported rate */
#define AUDIO_CLICK_MAX_FRAMES (AUDIO_RATE_MAX / 1000 * AUDIO_CLICK_LEN_MAX_MS)
#define AUDIO_OFFSET_MAX_US 100000         /* +-100 ms */
#define AUDIO_WIDTH_MIN_US 100             /* shortest pulse */
#define AUDIO_WIDTH_MAX_US 100000          /* longest pulse */

enum audio_click_sound {
	AUDIO_CLICK_BEEP = 0,  /* decaying sine (starts at its peak) */
	AUDIO_CLICK_WOOD = 1,  /* two inharmonic partials, short decay: woodblock-like */
	AUDIO_CLICK_NOISE = 2, /* decaying white noise: hi-hat / rim-like */
};

struct audio_click_cfg {
	int channel;         /* output channel (0-based); -1 = no click */
	int sound;           /* enum audio_click_sound */
	int level_pct;       /* beats: 0..100 % of full scale */
	int accent_pct;      /* bar downbeats: 0..100 % */
	int freq_hz;         /* beat pitch (beep, wood), 100 Hz .. rate/4 */
	int accent_freq_hz;  /* downbeat pitch */
	int length_ms;       /* sound length, 1..AUDIO_CLICK_LEN_MAX_MS */
	int32_t offset_us;   /* latency compensation, +-AUDIO_OFFSET_MAX_US */
	bool while_stopped;  /* keep clicking while the transport is stopped */
};

struct audio_pulse_cfg {
	int channel;         /* output channel (0-based) */
	int ppqn;            /* 1, 2, 4, 8, 12, 16, 24, 48 or 96 pulses per quarter note */
	int width_us;        /* high time; cut to half the pulse spacing when longer */
	int level_pct;       /* 1..100 % of full scale */
	bool invert;         /* pulse goes negative instead of positive */
	int32_t offset_us;   /* latency compensation, +-AUDIO_OFFSET_MAX_US */
	int swing_permille;  /* 500 (straight) .. 750, as clock/clkout.h */
	int swing_unit;      /* 8 or 16 */
	bool while_stopped;  /* keep pulsing while the transport is stopped */
};

struct audio_run_cfg {
	int channel;         /* output channel (0-based); -1 = no run/stop line */
	int level_pct;       /* 1..100 % of full scale */
	bool invert;         /* run is negative instead of positive */
	int32_t offset_us;   /* moves both edges, +-AUDIO_OFFSET_MAX_US */
};

struct audio_render_cfg {
	struct audio_click_cfg click;                  /* the click */
	int npulse;                                    /* sync pulse channels in use */
	struct audio_pulse_cfg pulse[AUDIO_MAX_PULSES]; /* their settings */
	struct audio_run_cfg run;                      /* the run/stop line */
};

struct audio_render {
	struct audio_render_cfg cfg;  /* validated copy */
	uint32_t rate;                /* frames per second */
	uint32_t channels;            /* interleaved channels of the buffer */
	uint32_t click_frames;        /* length of each click table */
	float click_tab[2][AUDIO_CLICK_MAX_FRAMES]; /* [0] beat, [1] downbeat; peak 1.0 */
};

/*
 * audio_render_cfg_defaults - click on channel 0 (beep, 1000/1500 Hz, 20 ms,
 * 70 %/100 %) and one 2 PPQN pulse (Volca / Pocket Operator sync, 5 ms,
 * 100 %) on channel 1; no run/stop line.  Context: any thread.
 */
void audio_render_cfg_defaults(struct audio_render_cfg *c);

/* audio_pulse_cfg_defaults - `channel`, 24 PPQN, 5 ms, 100 %, positive,
 * no offset, straight, only while playing.  Context: any thread. */
void audio_pulse_cfg_defaults(struct audio_pulse_cfg *p, int channel);

/*
 * audio_render_cfg_check - validate against the stream's channel count and
 * rate.  On error writes a message naming the setting, its value and what
 * is allowed (e.g. "audio pulse 2 ppqn = 5: must be one of 1, 2, 4, 8, 12,
 * 16, 24, 48, 96") and returns -EINVAL.  Context: non-RT.
 */
int audio_render_cfg_check(const struct audio_render_cfg *c, uint32_t channels, uint32_t rate,
			   char *err, size_t errlen);

/*
 * audio_render_init - validate `cfg` (as audio_render_cfg_check) and
 * synthesize the click sounds into r->click_tab.  Returns 0 or -EINVAL.
 * Context: non-RT (uses libm).
 */
int audio_render_init(struct audio_render *r, const struct audio_render_cfg *cfg,
		      uint32_t rate, uint32_t channels, char *err, size_t errlen);

/*
 * audio_render - write `frames` interleaved float frames to `buf`.  Frame i
 * of the buffer is frame frame0 + i counted from an anchor at `anchor_ns`
 * (CLOCK_MONOTONIC or virtual ns), i.e. heard at
 * anchor_ns + (frame0 + i) * 1e9 / rate.  `s` NULL renders silence.
 * Context: RT.
 */
void audio_render(const struct audio_render *r, const struct clk_snapshot *s, float *buf,
		  uint32_t frames, int64_t anchor_ns, int64_t frame0) RT_SAFE;

#endif
