/*
 * timeline.c - position <-> time mapping (see timeline.h for the model).
 *
 * Units: a beat lasts 60e9 * 1e6 / bpm_micro ns = 6e16 / bpm_micro ns, so
 *   time(pos) = t0 + (pos - pos0) * 6e16 / (TL_UNITS_PER_BEAT * bpm_micro)
 *   pos(t)    = pos0 + (t - t0) * TL_UNITS_PER_BEAT * bpm_micro / 6e16
 * Over 24 h at 999 BPM the products stay below 2e29, well inside __int128
 * (gcc and clang on x86-64 and aarch64).
 */
#include "clock/timeline.h"

#include <errno.h>

#define TL_NS_BEAT_NUM ((__int128)60000000000 * 1000000) /* ns per beat * bpm_micro */

int64_t tl_floor_div(int64_t a, int64_t b) RT_SAFE
{
	int64_t q = a / b;

	if ((a % b != 0) && ((a < 0) != (b < 0)))
		q--;
	return q;
}

static __int128 tl_floor_div128(__int128 a, __int128 b) RT_SAFE
{
	__int128 q = a / b;

	if ((a % b != 0) && ((a < 0) != (b < 0)))
		q--;
	return q;
}

/* Round-half-up division of a signed numerator by a positive denominator. */
static int64_t tl_round_div128(__int128 num, __int128 den) RT_SAFE
{
	return (int64_t)tl_floor_div128(2 * num + den, 2 * den);
}

bool tl_bpm_valid(int64_t bpm_micro) RT_SAFE
{
	return bpm_micro >= TL_BPM_MICRO_MIN && bpm_micro <= TL_BPM_MICRO_MAX;
}

int tl_init(struct timeline *tl, int64_t t0_ns, int64_t pos0, int64_t bpm_micro) RT_SAFE
{
	if (!tl_bpm_valid(bpm_micro))
		return -ERANGE;
	tl->t0_ns = t0_ns;
	tl->pos0 = pos0;
	tl->bpm_micro = bpm_micro;
	tl->pending = false;
	tl->pend_pos = 0;
	tl->pend_bpm = 0;
	return 0;
}

/* Time of pos on a single segment (anchor t0/p0, tempo bpm). */
static int64_t tl_seg_time(int64_t t0, int64_t p0, int64_t bpm, int64_t pos) RT_SAFE
{
	return t0 + tl_round_div128((__int128)(pos - p0) * TL_NS_BEAT_NUM,
				    (__int128)TL_UNITS_PER_BEAT * bpm);
}

/*
 * The exact inverse of the rounded tl_seg_time(): the largest pos whose
 * rounded time is <= t.  With den = UNITS * bpm and A = TL_NS_BEAT_NUM,
 * time(p) <= t  <=>  2 (p - p0) A + den < 2 den (t - t0 + 1)
 *              <=>  p - p0 < den (2 (t - t0) + 1) / (2 A),
 * so p - p0 = ceil(den (2 dt + 1) / (2 A)) - 1.  Hence
 * tl_pos_at(tl_time_at(p)) >= p, and a pulse is "at or before" the very
 * nanosecond it is sent on.
 */
static int64_t tl_seg_pos(int64_t t0, int64_t p0, int64_t bpm, int64_t t) RT_SAFE
{
	__int128 num = (__int128)TL_UNITS_PER_BEAT * bpm * (2 * (__int128)(t - t0) + 1);

	return p0 - (int64_t)tl_floor_div128(-num, 2 * TL_NS_BEAT_NUM) - 1;
}

int64_t tl_time_at(const struct timeline *tl, int64_t pos) RT_SAFE
{
	if (tl->pending && pos > tl->pend_pos) {
		int64_t tc = tl_seg_time(tl->t0_ns, tl->pos0, tl->bpm_micro, tl->pend_pos);
		return tl_seg_time(tc, tl->pend_pos, tl->pend_bpm, pos);
	}
	return tl_seg_time(tl->t0_ns, tl->pos0, tl->bpm_micro, pos);
}

int64_t tl_pos_at(const struct timeline *tl, int64_t t_ns) RT_SAFE
{
	if (tl->pending) {
		int64_t tc = tl_seg_time(tl->t0_ns, tl->pos0, tl->bpm_micro, tl->pend_pos);
		if (t_ns >= tc)
			return tl_seg_pos(tc, tl->pend_pos, tl->pend_bpm, t_ns);
	}
	return tl_seg_pos(tl->t0_ns, tl->pos0, tl->bpm_micro, t_ns);
}

int64_t tl_bpm_at(const struct timeline *tl, int64_t pos) RT_SAFE
{
	return tl->pending && pos >= tl->pend_pos ? tl->pend_bpm : tl->bpm_micro;
}

void tl_commit(struct timeline *tl, int64_t pos) RT_SAFE
{
	if (tl->pending && tl->pend_pos <= pos) {
		tl->t0_ns = tl_seg_time(tl->t0_ns, tl->pos0, tl->bpm_micro, tl->pend_pos);
		tl->pos0 = tl->pend_pos;
		tl->bpm_micro = tl->pend_bpm;
		tl->pending = false;
	}
}

void tl_reanchor(struct timeline *tl, int64_t pos) RT_SAFE
{
	tl_commit(tl, pos);
	if (tl->pending && pos >= tl->pend_pos)
		return;
	tl->t0_ns = tl_seg_time(tl->t0_ns, tl->pos0, tl->bpm_micro, pos);
	tl->pos0 = pos;
}

int tl_set_tempo_at(struct timeline *tl, int64_t pos, int64_t bpm_micro) RT_SAFE
{
	if (!tl_bpm_valid(bpm_micro))
		return -ERANGE;
	if (pos <= tl->pos0) {
		tl->bpm_micro = bpm_micro;
		tl->pending = false;
		return 0;
	}
	if (tl->pending && pos > tl->pend_pos)
		tl_commit(tl, tl->pend_pos); /* the earlier pending change happens first */
	tl->pending = true;
	tl->pend_pos = pos;
	tl->pend_bpm = bpm_micro;
	return 0;
}

int64_t tl_bpm_for(int64_t dpos, int64_t dt_ns) RT_SAFE
{
	if (dpos <= 0 || dt_ns <= 0)
		return 0;
	return tl_round_div128((__int128)dpos * TL_NS_BEAT_NUM, (__int128)TL_UNITS_PER_BEAT * dt_ns);
}

int64_t tl_grid_ceil(int64_t pos, int64_t origin, int64_t step) RT_SAFE
{
	return origin - tl_floor_div(origin - pos, step) * step;
}

int64_t tl_grid_floor(int64_t pos, int64_t origin, int64_t step) RT_SAFE
{
	return origin + tl_floor_div(pos - origin, step) * step;
}

int tl_parse_bpm(const char *s, int64_t *bpm_micro)
{
	int64_t whole = 0, frac = 0, scale = 1000000;
	int digits = 0;

	if (!s || !*s)
		return -EINVAL;
	while (*s >= '0' && *s <= '9') {
		whole = whole * 10 + (*s++ - '0');
		if (++digits > 4)
			return -ERANGE;
	}
	if (digits == 0)
		return -EINVAL;
	if (*s == '.') {
		s++;
		if (!(*s >= '0' && *s <= '9'))
			return -EINVAL;
		while (*s >= '0' && *s <= '9') {
			if (scale == 1)
				return -EINVAL; /* more than 6 decimals */
			scale /= 10;
			frac += (*s++ - '0') * scale;
		}
	}
	if (*s)
		return -EINVAL;
	whole = whole * 1000000 + frac;
	if (!tl_bpm_valid(whole))
		return -ERANGE;
	*bpm_micro = whole;
	return 0;
}
