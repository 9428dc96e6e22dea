/*
 * clk_tap.c - tap tempo (rules in clk_tap.h).
 *
 * Model: a sequence of taps; each interval (ns) between consecutive taps of
 * a sequence is judged against the median of the kept intervals, and the
 * tempo is 60e15 / mean(kept intervals) micro-BPM.
 *
 * Why the median: with at most 8 intervals one mistimed tap drags a mean by
 * up to 1/8 of its error, but cannot move the median; judging against the
 * median keeps it out.  Why the mean for the result: once outliers are out,
 * the mean of k intervals is (t_k - t_0) / k, which uses the whole span and
 * so shrinks the players' timing error by k - better than the median.
 *
 * Why the pause rule uses both an absolute and a relative limit: 3 s is the
 * 20 BPM interval, the slowest tempo we accept, so any longer gap cannot be
 * an interval; relative to the current interval, a gap of more than twice it
 * is someone who stopped tapping and starts over, not a tempo change.
 *
 * Why two agreeing outliers restart the sequence: a player who moves from 120
 * to 90 BPM produces intervals that are all "outliers" against the old
 * median; waiting for them to become the majority of 8 would take 5 taps.
 * Two in a row that agree with each other are a new tempo, not a slip (a
 * late tap gives one long and one short interval, which do not agree).
 */
#include "clock/clk_tap.h"

#include <errno.h>
#include <stddef.h>

#define TAP_BPM_MICRO_NS 60e15 /* micro-BPM = TAP_BPM_MICRO_NS / interval_ns */

void clk_tap_init(struct clk_tap *t)
{
	t->taps = 0;
	t->ignored = 0;
	t->outliers = 0;
	t->sequences = 0;
	clk_tap_reset(t);
}

void clk_tap_reset(struct clk_tap *t) RT_SAFE
{
	t->have_last = false;
	t->last_ns = 0;
	t->iv_head = 0;
	t->iv_len = 0;
	t->rejected_ns = 0;
	t->bpm_micro = 0;
}

static int64_t tap_iv(const struct clk_tap *t, int k) RT_SAFE
{
	return t->iv_ns[(t->iv_head + k) % CLK_TAP_MAX_INTERVALS];
}

/* Median of the kept intervals (mean of the middle two for an even count). */
static int64_t tap_median(const struct clk_tap *t) RT_SAFE
{
	int64_t v[CLK_TAP_MAX_INTERVALS];
	int n = t->iv_len;

	for (int k = 0; k < n; k++) {
		int64_t x = tap_iv(t, k);
		int j = k;

		for (; j > 0 && v[j - 1] > x; j--)
			v[j] = v[j - 1];
		v[j] = x;
	}
	return n % 2 ? v[n / 2] : v[n / 2 - 1] + (v[n / 2] - v[n / 2 - 1]) / 2;
}

/* |a - b| <= CLK_TAP_OUTLIER_PCT % of ref; all three are positive intervals
 * below CLK_TAP_MAX_NS, so nothing overflows. */
static bool tap_close(int64_t a, int64_t b, int64_t ref) RT_SAFE
{
	int64_t d = a > b ? a - b : b - a;

	return d * 100 <= ref * CLK_TAP_OUTLIER_PCT;
}

static void tap_keep(struct clk_tap *t, int64_t iv_ns) RT_SAFE
{
	if (t->iv_len == CLK_TAP_MAX_INTERVALS) {
		t->iv_head = (t->iv_head + 1) % CLK_TAP_MAX_INTERVALS;
		t->iv_len--;
	}
	t->iv_ns[(t->iv_head + t->iv_len) % CLK_TAP_MAX_INTERVALS] = iv_ns;
	t->iv_len++;
}

/* Kept intervals lie within [CLK_TAP_MIN_NS, CLK_TAP_MAX_NS] (rules 2 and 3),
 * so their mean gives 20..999 BPM without clamping. */
static void tap_estimate(struct clk_tap *t) RT_SAFE
{
	int64_t sum = 0;

	for (int k = 0; k < t->iv_len; k++)
		sum += tap_iv(t, k);
	t->bpm_micro = (int64_t)(TAP_BPM_MICRO_NS * t->iv_len / (double)sum + 0.5);
}

int clk_tap_add(struct clk_tap *t, int64_t t_ns, int64_t *bpm_micro) RT_SAFE
{
	int64_t iv, med;

	if (t->have_last) {
		if (t_ns <= t->last_ns) {
			t->ignored++;
			return -EINVAL;
		}
		/* unsigned: exact even when the signed difference would overflow */
		if ((uint64_t)t_ns - (uint64_t)t->last_ns < (uint64_t)CLK_TAP_MIN_NS) {
			t->ignored++;
			return -ERANGE;
		}
	}
	t->taps++;
	iv = t->have_last && (uint64_t)t_ns - (uint64_t)t->last_ns <= (uint64_t)CLK_TAP_MAX_NS
		     ? t_ns - t->last_ns : 0;
	med = t->iv_len > 0 ? tap_median(t) : 0;
	if (iv == 0 || (med > 0 && iv > CLK_TAP_PAUSE_FACTOR * med)) {
		clk_tap_reset(t); /* first tap, or a pause: a new sequence */
		t->sequences++;
	} else if (med > 0 && !tap_close(iv, med, med)) {
		t->outliers++;
		if (t->rejected_ns > 0 && tap_close(iv, t->rejected_ns, iv)) {
			/* two agreeing outliers: the player changed tempo */
			t->iv_head = 0;
			t->iv_len = 0;
			tap_keep(t, t->rejected_ns);
			tap_keep(t, iv);
			t->rejected_ns = 0;
			t->sequences++;
			tap_estimate(t);
		} else {
			t->rejected_ns = iv;
		}
	} else {
		t->rejected_ns = 0;
		tap_keep(t, iv);
		tap_estimate(t);
	}
	t->have_last = true;
	t->last_ns = t_ns;
	if (t->bpm_micro == 0)
		return 0;
	if (bpm_micro)
		*bpm_micro = t->bpm_micro;
	return 1;
}
