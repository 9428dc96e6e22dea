/*
 * audio_render.c - click and sync pulse rendering (see audio_render.h).
 *
 * Model.  For each source the renderer walks its grid (beats for the click,
 * k / ppqn beats for a pulse channel, both counted from the song origin)
 * from the earliest event that can still sound in the buffer to the first
 * one past its end.  An event's onset frame is audio_frame_at(time of its
 * position + offset), computed from the buffer's anchor in one step, so the
 * same event gets the same frame whichever buffer computes it; a pulse that
 * started in the previous buffer continues exactly where it left off.
 *
 * How far back to look: a pulse is high for at most `width` frames and a
 * click sounds for click_frames, so the first event considered is the one
 * at or after the timeline position of (buffer start - that length -
 * offset), minus one swing pair because swing delays an event by less than
 * a pair.  Events are ordered in time (positions strictly increase, and
 * the timeline maps them monotonically), so the walk stops at the first
 * onset at or past the buffer's end.
 *
 * A pulse is cut to half the distance to the next pulse when its width is
 * longer, so a sync input always sees a low phase between two edges; a
 * click is cut at the next click's onset (a fast tempo with a long sound
 * restarts the sound rather than summing two of them).
 *
 * The click sounds are synthesized once at init (libm, non-RT) into
 * tables; the RT path only scales and copies table samples, so it makes no
 * libm call and never touches errno.
 */
#include "audio/audio_render.h"

#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <string.h>

#include "audio/audio_format.h"
#include "clock/clkout.h"
#include "clock/timeline.h"

#define AR_NS_PER_US INT64_C(1000)
#define AR_PI 3.14159265358979323846

static const int ar_ppqns[] = { 1, 2, 4, 8, 12, 16, 24, 48, 96 };

void audio_pulse_cfg_defaults(struct audio_pulse_cfg *p, int channel)
{
	*p = (struct audio_pulse_cfg){
		.channel = channel,
		.ppqn = 24,
		.width_us = 5000,
		.level_pct = 100,
		.invert = false,
		.offset_us = 0,
		.swing_permille = CLK_SWING_MIN,
		.swing_unit = 16,
		.while_stopped = false,
	};
}

void audio_render_cfg_defaults(struct audio_render_cfg *c)
{
	memset(c, 0, sizeof(*c));
	c->click = (struct audio_click_cfg){
		.channel = 0,
		.sound = AUDIO_CLICK_BEEP,
		.level_pct = 70,
		.accent_pct = 100,
		.freq_hz = 1000,
		.accent_freq_hz = 1500,
		.length_ms = 20,
		.offset_us = 0,
		.while_stopped = false,
	};
	c->npulse = 1;
	audio_pulse_cfg_defaults(&c->pulse[0], 1);
	c->pulse[0].ppqn = 2;
	c->run = (struct audio_run_cfg){ .channel = -1, .level_pct = 100 };
}

/* Claim `ch` for source `who`; fails when another source has it. */
static int ar_claim(const char *owner[AUDIO_CHANNELS_MAX], int ch, uint32_t channels,
		    const char *who, char *err, size_t errlen)
{
	if (ch < 0 || (uint32_t)ch >= channels) {
		snprintf(err, errlen, "audio %s channel = %d: must be from 0 to %u (the stream has %u "
			 "channels)", who, ch, channels - 1, channels);
		return -EINVAL;
	}
	if (owner[ch]) {
		snprintf(err, errlen, "audio %s channel = %d: channel %d already carries %s "
			 "(one source per channel)", who, ch, ch, owner[ch]);
		return -EINVAL;
	}
	owner[ch] = who;
	return 0;
}

static int ar_range(const char *what, long v, long lo, long hi, const char *unit, char *err,
		    size_t errlen)
{
	if (v >= lo && v <= hi)
		return 0;
	snprintf(err, errlen, "audio %s = %ld%s: must be from %ld to %ld%s", what, v, unit, lo, hi,
		 unit);
	return -EINVAL;
}

static int ar_check_pulse(const struct audio_pulse_cfg *p, int i, char *err, size_t errlen)
{
	char what[48];
	bool ppqn_ok = false;
	int r;

	for (size_t j = 0; j < sizeof(ar_ppqns) / sizeof(ar_ppqns[0]); j++)
		ppqn_ok |= p->ppqn == ar_ppqns[j];
	if (!ppqn_ok) {
		snprintf(err, errlen, "audio pulse %d ppqn = %d: must be one of 1, 2, 4, 8, 12, 16, "
			 "24, 48, 96", i + 1, p->ppqn);
		return -EINVAL;
	}
	snprintf(what, sizeof(what), "pulse %d width", i + 1);
	if ((r = ar_range(what, p->width_us, AUDIO_WIDTH_MIN_US, AUDIO_WIDTH_MAX_US, " us", err,
			  errlen)))
		return r;
	snprintf(what, sizeof(what), "pulse %d level", i + 1);
	if ((r = ar_range(what, p->level_pct, 1, 100, " %", err, errlen)))
		return r;
	snprintf(what, sizeof(what), "pulse %d offset", i + 1);
	if ((r = ar_range(what, p->offset_us, -AUDIO_OFFSET_MAX_US, AUDIO_OFFSET_MAX_US, " us",
			  err, errlen)))
		return r;
	if (p->swing_permille < CLK_SWING_MIN || p->swing_permille > CLK_SWING_MAX) {
		snprintf(err, errlen, "audio pulse %d swing = %.1f %%: must be from 50 to 75 %%",
			 i + 1, p->swing_permille / 10.0);
		return -EINVAL;
	}
	if (p->swing_unit != 8 && p->swing_unit != 16) {
		snprintf(err, errlen, "audio pulse %d swing unit = %d: must be 8 or 16", i + 1,
			 p->swing_unit);
		return -EINVAL;
	}
	return 0;
}

int audio_render_cfg_check(const struct audio_render_cfg *c, uint32_t channels, uint32_t rate,
			   char *err, size_t errlen)
{
	const char *owner[AUDIO_CHANNELS_MAX] = { 0 };
	static const char *pulse_names[AUDIO_MAX_PULSES] = {
		"pulse 1", "pulse 2", "pulse 3", "pulse 4",
		"pulse 5", "pulse 6", "pulse 7", "pulse 8",
	};
	const struct audio_click_cfg *k = &c->click;
	int r;

	if (channels < 1 || channels > AUDIO_CHANNELS_MAX || rate < 1 || rate > AUDIO_RATE_MAX) {
		snprintf(err, errlen, "audio stream of %u channels at %u Hz: unsupported", channels,
			 rate);
		return -EINVAL;
	}
	if (k->channel != -1) {
		if ((r = ar_claim(owner, k->channel, channels, "click", err, errlen)))
			return r;
		if (k->sound < AUDIO_CLICK_BEEP || k->sound > AUDIO_CLICK_NOISE) {
			snprintf(err, errlen, "audio click sound = %d: must be beep, wood or noise",
				 k->sound);
			return -EINVAL;
		}
		if ((r = ar_range("click level", k->level_pct, 0, 100, " %", err, errlen)) ||
		    (r = ar_range("click accent level", k->accent_pct, 0, 100, " %", err, errlen)) ||
		    (r = ar_range("click pitch", k->freq_hz, 100, (long)rate / 4, " Hz", err,
				  errlen)) ||
		    (r = ar_range("click accent pitch", k->accent_freq_hz, 100, (long)rate / 4,
				  " Hz", err, errlen)) ||
		    (r = ar_range("click length", k->length_ms, 1, AUDIO_CLICK_LEN_MAX_MS, " ms",
				  err, errlen)) ||
		    (r = ar_range("click offset", k->offset_us, -AUDIO_OFFSET_MAX_US,
				  AUDIO_OFFSET_MAX_US, " us", err, errlen)))
			return r;
	}
	if (c->npulse < 0 || c->npulse > AUDIO_MAX_PULSES) {
		snprintf(err, errlen, "audio pulse channels = %d: at most %d", c->npulse,
			 AUDIO_MAX_PULSES);
		return -EINVAL;
	}
	for (int i = 0; i < c->npulse; i++) {
		if ((r = ar_claim(owner, c->pulse[i].channel, channels, pulse_names[i], err, errlen)))
			return r;
		if ((r = ar_check_pulse(&c->pulse[i], i, err, errlen)))
			return r;
	}
	if (c->run.channel != -1) {
		if ((r = ar_claim(owner, c->run.channel, channels, "run/stop", err, errlen)) ||
		    (r = ar_range("run/stop level", c->run.level_pct, 1, 100, " %", err, errlen)) ||
		    (r = ar_range("run/stop offset", c->run.offset_us, -AUDIO_OFFSET_MAX_US,
				  AUDIO_OFFSET_MAX_US, " us", err, errlen)))
			return r;
	}
	return 0;
}

/* xorshift32: deterministic noise, so renders are reproducible. */
static uint32_t ar_xorshift(uint32_t *s)
{
	*s ^= *s << 13;
	*s ^= *s >> 17;
	*s ^= *s << 5;
	return *s;
}

/* One click sound, peak 1.0 at frame 0 (a sharp attack: the onset frame is
 * the first non-zero sample, which is also what a listener hears). */
static void ar_synth(float *tab, uint32_t n, int sound, int freq_hz, uint32_t rate)
{
	double tau = n / 6.0; /* envelope time constant, frames */
	uint32_t fade = n / 10 + 1;
	uint32_t seed = 0x9e3779b9u;

	for (uint32_t i = 0; i < n; i++) {
		double env = exp(-(double)i / tau), v;
		double ph = 2.0 * AR_PI * freq_hz * i / rate;

		if (i >= n - fade)
			env *= (double)(n - i) / (fade + 1); /* reach 0 without a step */
		switch (sound) {
		case AUDIO_CLICK_WOOD:
			v = 0.65 * cos(ph) + 0.35 * cos(2.76 * ph);
			env *= exp(-(double)i / tau); /* faster decay */
			break;
		case AUDIO_CLICK_NOISE:
			v = i == 0 ? 1.0 : (double)ar_xorshift(&seed) / 2147483648.0 - 1.0;
			break;
		default:
			v = cos(ph);
			break;
		}
		tab[i] = (float)(v * env);
	}
}

int audio_render_init(struct audio_render *r, const struct audio_render_cfg *cfg,
		      uint32_t rate, uint32_t channels, char *err, size_t errlen)
{
	int e;

	rt_assert_not_rt();
	e = audio_render_cfg_check(cfg, channels, rate, err, errlen);
	if (e)
		return e;
	memset(r, 0, sizeof(*r));
	r->cfg = *cfg;
	r->rate = rate;
	r->channels = channels;
	if (cfg->click.channel >= 0) {
		r->click_frames = (uint32_t)((uint64_t)rate * cfg->click.length_ms / 1000);
		if (r->click_frames < 1)
			r->click_frames = 1;
		ar_synth(r->click_tab[0], r->click_frames, cfg->click.sound, cfg->click.freq_hz,
			 rate);
		ar_synth(r->click_tab[1], r->click_frames, cfg->click.sound,
			 cfg->click.accent_freq_hz, rate);
	}
	return 0;
}

/* The buffer being rendered: global frames [g0, g1) from the anchor. */
struct ar_span {
	float *buf;         /* frame g is buf[(g - g0) * channels + channel] */
	uint32_t channels;  /* interleaved channels */
	uint32_t rate;      /* frames per second */
	int64_t anchor_ns;  /* time of frame 0 */
	int64_t g0;         /* first frame of the buffer */
	int64_t g1;         /* one past the last */
};

static int64_t ar_max(int64_t a, int64_t b) RT_SAFE
{
	return a > b ? a : b;
}

static int64_t ar_min(int64_t a, int64_t b) RT_SAFE
{
	return a < b ? a : b;
}

/* Onset frame of timeline position `pos` shifted by `off_ns`. */
static int64_t ar_onset(const struct clk_snapshot *s, const struct ar_span *sp, int64_t pos,
			int64_t off_ns) RT_SAFE
{
	return audio_frame_at(sp->anchor_ns, tl_time_at(&s->tl, pos) + off_ns, sp->rate);
}

/* Add `v` to channel `ch` over global frames [from, to) within the span. */
static void ar_fill(const struct ar_span *sp, int ch, int64_t from, int64_t to, float v) RT_SAFE
{
	int64_t a = ar_max(from, sp->g0), b = ar_min(to, sp->g1);

	for (int64_t g = a; g < b; g++)
		sp->buf[(g - sp->g0) * sp->channels + (uint32_t)ch] += v;
}

/* The first timeline position worth considering for events that may sound
 * for `len` frames after their onset, shifted by `off_ns`. */
static int64_t ar_lookback_pos(const struct clk_snapshot *s, const struct ar_span *sp,
			       int64_t len, int64_t off_ns) RT_SAFE
{
	int64_t t = audio_frame_time(sp->anchor_ns, sp->g0 - len - 1, sp->rate) - off_ns;

	return tl_pos_at(&s->tl, t) - TL_UNITS_PER_BEAT; /* a swing pair is at most a beat */
}

static int64_t ar_pulse_onset(const struct clk_snapshot *s, const struct ar_span *sp,
			      const struct audio_pulse_cfg *p, int64_t k) RT_SAFE
{
	int64_t rel = clk_swing(clk_pulse_pos(k, p->ppqn), p->swing_permille, p->swing_unit);

	return ar_onset(s, sp, s->song_origin + rel, (int64_t)p->offset_us * AR_NS_PER_US);
}

static void ar_pulse(const struct audio_pulse_cfg *p, const struct clk_snapshot *s,
		     const struct ar_span *sp) RT_SAFE
{
	int64_t off = (int64_t)p->offset_us * AR_NS_PER_US;
	int64_t width = ((int64_t)p->width_us * sp->rate + 999999) / 1000000;
	float v = (p->invert ? -1.0f : 1.0f) * (float)p->level_pct / 100.0f;
	int64_t k = clk_pulse_index_ceil(ar_lookback_pos(s, sp, width, off) - s->song_origin,
					 p->ppqn);
	int64_t on = ar_pulse_onset(s, sp, p, k);
	int64_t guard = (sp->g1 - sp->g0) + 4096; /* > events in any span */

	while (guard-- > 0 && on < sp->g1) {
		int64_t pos = s->song_origin + clk_pulse_pos(k, p->ppqn);
		int64_t next, len;

		if (!p->while_stopped && !clk_snapshot_playing_at(s, pos)) {
			if (pos >= s->play_from || s->play_until <= s->play_from)
				break; /* past the play interval, or none */
			k = clk_pulse_index_ceil(s->play_from - s->song_origin, p->ppqn);
			on = ar_pulse_onset(s, sp, p, k);
			continue;
		}
		next = ar_pulse_onset(s, sp, p, k + 1);
		len = ar_max(ar_min(width, (next - on) / 2), 1);
		ar_fill(sp, p->channel, on, on + len, v);
		k++;
		on = next;
	}
}

static void ar_click(const struct audio_render *r, const struct clk_snapshot *s,
		     const struct ar_span *sp) RT_SAFE
{
	const struct audio_click_cfg *c = &r->cfg.click;
	int64_t off = (int64_t)c->offset_us * AR_NS_PER_US;
	int64_t len = r->click_frames;
	int64_t q = s->quantum > 0 ? s->quantum : 4;
	float gain[2] = { (float)c->level_pct / 100.0f, (float)c->accent_pct / 100.0f };
	int64_t k = -tl_floor_div(s->song_origin - ar_lookback_pos(s, sp, len, off),
				  TL_UNITS_PER_BEAT); /* ceil: first beat at or after */
	int64_t on = ar_onset(s, sp, s->song_origin + k * TL_UNITS_PER_BEAT, off);
	int64_t guard = (sp->g1 - sp->g0) + 4096;

	while (guard-- > 0 && on < sp->g1) {
		int64_t pos = s->song_origin + k * TL_UNITS_PER_BEAT;
		int64_t next, a, b;
		int acc;

		if (!c->while_stopped && !clk_snapshot_playing_at(s, pos)) {
			if (pos >= s->play_from || s->play_until <= s->play_from)
				break;
			k = -tl_floor_div(s->song_origin - s->play_from, TL_UNITS_PER_BEAT);
			on = ar_onset(s, sp, s->song_origin + k * TL_UNITS_PER_BEAT, off);
			continue;
		}
		next = ar_onset(s, sp, pos + TL_UNITS_PER_BEAT, off);
		acc = (k % q + q) % q == 0;
		a = ar_max(on, sp->g0);
		b = ar_min(ar_min(on + len, next), sp->g1);
		for (int64_t g = a; g < b; g++)
			sp->buf[(g - sp->g0) * sp->channels + (uint32_t)c->channel] +=
				gain[acc] * r->click_tab[acc][g - on];
		k++;
		on = next;
	}
}

static void ar_run(const struct audio_run_cfg *c, const struct clk_snapshot *s,
		   const struct ar_span *sp) RT_SAFE
{
	int64_t off = (int64_t)c->offset_us * AR_NS_PER_US;
	float v = (c->invert ? -1.0f : 1.0f) * (float)c->level_pct / 100.0f;
	int64_t from, until;

	if (s->play_until <= s->play_from)
		return;
	from = ar_onset(s, sp, s->play_from, off);
	until = s->play_until == INT64_MAX ? INT64_MAX : ar_onset(s, sp, s->play_until, off);
	ar_fill(sp, c->channel, from, until, v);
}

void audio_render(const struct audio_render *r, const struct clk_snapshot *s, float *buf,
		  uint32_t frames, int64_t anchor_ns, int64_t frame0) RT_SAFE
{
	struct ar_span sp = {
		.buf = buf,
		.channels = r->channels,
		.rate = r->rate,
		.anchor_ns = anchor_ns,
		.g0 = frame0,
		.g1 = frame0 + frames,
	};

	for (size_t i = 0; i < (size_t)frames * r->channels; i++)
		buf[i] = 0.0f;
	if (!s)
		return;
	if (r->cfg.click.channel >= 0)
		ar_click(r, s, &sp);
	for (int i = 0; i < r->cfg.npulse; i++)
		ar_pulse(&r->cfg.pulse[i], s, &sp);
	if (r->cfg.run.channel >= 0)
		ar_run(&r->cfg.run, s, &sp);
}
