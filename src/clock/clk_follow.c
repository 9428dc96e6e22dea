/*
 * clk_follow.c - external MIDI clock follower (see clk_follow.h).
 *
 * Model.  The sender's clock is a grid t(n) = t0 + n * P; what we receive is
 * that grid plus jitter (sender scheduling, USB frames, our wake-up latency),
 * taken as zero-mean and independent from tick to tick.  The follower fits
 * the line t = a + P * n by least squares to the last N accepted ticks
 * (x = tick index, y = receive time) and extrapolates it.  For independent
 * jitter of standard deviation s, the one-step-ahead extrapolation error of
 * such a fit is about 2 s / sqrt(N), and the period's standard error is
 * s * sqrt(12 / (N^3 - N)): the default window_max of 1024 ticks (43 beats)
 * gives an output jitter near 6 % of the input's, hence the long window.
 * The fit is recomputed from the window on every tick - O(N), two passes in
 * coordinates relative to the newest point - because running sums over a
 * sliding window either drift (doubles) or need 128-bit integers.
 *
 * Rejected alternative: a DLL (2nd-order loop filter) is O(1) per tick, but a
 * loop narrow enough for a 1/10 jitter ratio takes many beats to acquire and
 * to follow a tempo change unless its bandwidth is adapted; a window that
 * grows from 2 ticks and restarts on a step is that adaptation, and it is
 * the minimum-variance estimator for white jitter.  See ADR 0004.
 *
 * States (per clk_follow_tick()):
 *   empty     -> the first tick gets index 0; one fit point, no estimate yet;
 *   acquiring -> the window grows by one per accepted tick up to window_max;
 *   locked    -> see clk_follow_locked(); the window slides;
 *   step      -> step_ticks consecutive outliers on the same side of the line:
 *                the input no longer follows it (tempo or phase changed), so
 *                the fit restarts from those outliers alone (`relocks`);
 *   lost      -> no tick for loss_periods periods: unlocked, fit frozen for
 *                free-running; the next tick resets and gets index 0.
 *
 * Outliers.  A new tick's residual r against the current line has variance
 * s^2 g, where g = 1 + 1/N + (x - xbar)^2 / Sxx adds the fit's own
 * extrapolation error (exact for least squares, large while N is small).  A
 * tick with r^2 > step_sigmas^2 s^2 g and |r| > step_min_ns is an outlier and
 * stays out of the fit, so one late MIDI byte does not bend the line.
 * Outlier detection starts once the jitter estimate has JIT_MIN_SAMPLES.
 *
 * Jitter estimate.  From second differences of consecutive receive times,
 * d2 = t[n] - 2 t[n-1] + t[n-2], whose variance is 6 s^2 for white jitter and
 * which a tempo change touches only once: the fit's own residuals would not
 * do, because a slow tempo ramp makes them grow together with the threshold
 * and would never be detected.  The mean of |d2| rather than of d2^2, so that
 * one late tick (three large d2) counts linearly, not squared: for Gaussian
 * jitter s = sqrt(pi / 12) * mean|d2| (uniform jitter reads 7 % high, which only
 * makes the thresholds conservative).  Plain mean for the first JIT_EWMA
 * samples, then exponential with weight 1 / JIT_EWMA; once armed, samples are
 * clipped at JIT_CLIP times the mean (a glitch or a step barely moves it, a
 * real rise in jitter is still learnt within a few dozen ticks).
 *
 * Units: times and residuals in ns (int64_t, or double for relative values
 * below 2^53), indices in ticks (24 per quarter note), period in ns per tick;
 * tempo in micro-BPM only at the interface.
 */
#include "clock/clk_follow.h"

#include <errno.h>
#include <stddef.h>

#define JIT_MIN_SAMPLES 8  /* second differences before outliers are detected */
#define JIT_EWMA 64        /* averaging length of the jitter estimate, ticks */
#define JIT_CLIP 3.0       /* clip armed |d2| samples at this many times their mean */
#define SQRT_PI_12 0.5116633539732443 /* s = sqrt(pi / 12) * mean|d2| */
#define RANGE_TOL 0.005    /* lock accepts periods this far outside 20..999 BPM */
#define SLOW_FIRST_NS (CLK_FOLLOW_PERIOD_MAX_NS + CLK_FOLLOW_PERIOD_MAX_NS / 4) /* see tick() */
#define BPM_MICRO_NS 2.5e15 /* micro-BPM = BPM_MICRO_NS / period_ns (60e9 * 1e6 / 24) */

void clk_follow_cfg_defaults(struct clk_follow_cfg *c)
{
	c->window_max = 1024;
	c->loss_periods = 2;
	c->lock_min_ticks = 12;
	c->lock_tol_ppm = 1500;
	c->step_ticks = 3;
	c->step_sigmas = 4.0;
	c->step_min_ns = 250000;
}

int clk_follow_init(struct clk_follow *f, const struct clk_follow_cfg *c)
{
	struct clk_follow_cfg d;

	if (!f)
		return -EINVAL;
	if (!c) {
		clk_follow_cfg_defaults(&d);
		c = &d;
	}
	if (c->window_max < 16 || c->window_max > CLK_FOLLOW_WINDOW_CAP ||
	    c->loss_periods < 1 || c->loss_periods > 48 ||
	    c->lock_min_ticks < 3 || c->lock_min_ticks > c->window_max ||
	    c->lock_tol_ppm < 1 || c->lock_tol_ppm > 100000 ||
	    c->step_ticks < 2 || c->step_ticks > CLK_FOLLOW_STEP_CAP ||
	    !(c->step_sigmas >= 2.0 && c->step_sigmas <= 20.0) ||
	    c->step_min_ns < 0 || c->step_min_ns > CLK_FOLLOW_PERIOD_MAX_NS)
		return -EINVAL;
	f->cfg = *c;
	f->ticks = 0;
	f->rejected = 0;
	f->outliers = 0;
	f->relocks = 0;
	f->losses = 0;
	clk_follow_reset(f);
	return 0;
}

void clk_follow_reset(struct clk_follow *f) RT_SAFE
{
	f->win_head = 0;
	f->win_len = 0;
	f->pend_len = 0;
	f->pend_sign = 0;
	f->n_last = -1;
	f->t_last_ns = 0;
	f->t_last2_ns = 0;
	f->lost = false;
	f->locked = false;
	f->fit_n_ref = 0;
	f->fit_t_ref_ns = 0;
	f->fit_xbar = 0.0;
	f->fit_ybar_ns = 0.0;
	f->fit_sxx = 0.0;
	f->fit_period_ns = 0.0;
	f->jit_d2_abs_ns = 0.0;
	f->jit_samples = 0;
}

/* base + round(d), saturating; INT64_MIN stays reserved for "unknown". */
static int64_t cf_add_round(int64_t base, double d) RT_SAFE
{
	int64_t k;

	if (!(d < 9.2e18))
		return INT64_MAX;
	if (!(d > -9.2e18))
		return INT64_MIN + 1;
	k = (int64_t)(d >= 0.0 ? d + 0.5 : d - 0.5);
	if (k > 0 && base > INT64_MAX - k)
		return INT64_MAX;
	if (k < 0 && base < INT64_MIN + 1 - k)
		return INT64_MIN + 1;
	return base + k;
}

static void cf_push(struct clk_follow *f, int64_t n, int64_t t_ns) RT_SAFE
{
	int i;

	if (f->win_len == f->cfg.window_max) {
		f->win_head = (f->win_head + 1) % CLK_FOLLOW_WINDOW_CAP;
		f->win_len--;
	}
	i = (f->win_head + f->win_len) % CLK_FOLLOW_WINDOW_CAP;
	f->win[i].n = n;
	f->win[i].t_ns = t_ns;
	f->win_len++;
}

/* Least-squares line through the window, relative to its newest point. */
static void cf_refit(struct clk_follow *f) RT_SAFE
{
	const struct clk_follow_pt *ref;
	double sx = 0.0, sy = 0.0, sxx = 0.0, sxy = 0.0, xbar, ybar;
	int i, k;

	ref = &f->win[(f->win_head + f->win_len - 1) % CLK_FOLLOW_WINDOW_CAP];
	f->fit_n_ref = ref->n;
	f->fit_t_ref_ns = ref->t_ns;
	for (k = 0, i = f->win_head; k < f->win_len; k++, i = (i + 1) % CLK_FOLLOW_WINDOW_CAP) {
		sx += (double)(f->win[i].n - ref->n);
		sy += (double)(f->win[i].t_ns - ref->t_ns);
	}
	xbar = sx / f->win_len;
	ybar = sy / f->win_len;
	for (k = 0, i = f->win_head; k < f->win_len; k++, i = (i + 1) % CLK_FOLLOW_WINDOW_CAP) {
		double dx = (double)(f->win[i].n - ref->n) - xbar;

		sxx += dx * dx;
		sxy += dx * ((double)(f->win[i].t_ns - ref->t_ns) - ybar);
	}
	f->fit_xbar = xbar;
	f->fit_ybar_ns = ybar;
	f->fit_sxx = sxx;
	f->fit_period_ns = f->win_len >= 2 ? sxy / sxx : 0.0;
}

/* Fold the second difference ending at the new tick into the estimate. */
static void cf_jitter(struct clk_follow *f, int64_t t_ns) RT_SAFE
{
	double d2 = (double)((t_ns - f->t_last_ns) - (f->t_last_ns - f->t_last2_ns));
	double v = d2 < 0.0 ? -d2 : d2;
	double clip = JIT_CLIP * f->jit_d2_abs_ns;

	if (f->jit_samples >= JIT_MIN_SAMPLES && v > clip)
		v = clip;
	f->jit_samples++;
	f->jit_d2_abs_ns += (v - f->jit_d2_abs_ns) /
			    (double)(f->jit_samples < JIT_EWMA ? f->jit_samples : JIT_EWMA);
}

/* estimated jitter variance, ns^2 */
static double cf_jit_var(const struct clk_follow *f) RT_SAFE
{
	double sd = clk_follow_jitter_ns(f);

	return sd * sd;
}

/*
 * Decide whether tick (n, t_ns) joins the fit.  Returns 1 when it does, 0
 * when it is held out as a (pending) outlier; a step confirmed by it
 * replaces the window with the pending outliers and returns 0 too.
 */
static int cf_classify(struct clk_follow *f, int64_t n, int64_t t_ns) RT_SAFE
{
	double x, r, g, lim;
	int sign;

	if (f->win_len < 2 || f->jit_samples < JIT_MIN_SAMPLES)
		return 1;
	x = (double)(n - f->fit_n_ref) - f->fit_xbar;
	r = (double)(t_ns - f->fit_t_ref_ns) - (f->fit_ybar_ns + f->fit_period_ns * x);
	g = 1.0 + 1.0 / f->win_len + x * x / f->fit_sxx;
	lim = f->cfg.step_sigmas * f->cfg.step_sigmas * cf_jit_var(f) * g;
	if (r * r <= lim || (r < 0.0 ? -r : r) <= (double)f->cfg.step_min_ns) {
		f->pend_len = 0;
		return 1;
	}
	f->outliers++;
	sign = r > 0.0 ? 1 : -1;
	if (f->pend_len > 0 && sign != f->pend_sign)
		f->pend_len = 0;
	f->pend_sign = sign;
	f->pend[f->pend_len].n = n;
	f->pend[f->pend_len].t_ns = t_ns;
	if (++f->pend_len < f->cfg.step_ticks)
		return 0;
	f->win_head = 0;
	f->win_len = 0;
	for (int i = 0; i < f->pend_len; i++)
		cf_push(f, f->pend[i].n, f->pend[i].t_ns);
	f->pend_len = 0;
	f->locked = false;
	f->relocks++;
	return 0;
}

static void cf_update_lock(struct clk_follow *f) RT_SAFE
{
	double p = f->fit_period_ns;
	double tol = (double)f->cfg.lock_tol_ppm * 1e-6 * p;
	double se2, lo = CLK_FOLLOW_PERIOD_MIN_NS * (1.0 - RANGE_TOL);
	double hi = CLK_FOLLOW_PERIOD_MAX_NS * (1.0 + RANGE_TOL);

	if (f->win_len < 2 || p < lo || p > hi) {
		f->locked = false;
		return;
	}
	se2 = cf_jit_var(f) / f->fit_sxx;
	if (f->locked)
		f->locked = se2 <= 4.0 * tol * tol;
	else
		f->locked = f->win_len >= f->cfg.lock_min_ticks && f->pend_len == 0 &&
			    se2 <= tol * tol;
}

int64_t clk_follow_loss_deadline_ns(const struct clk_follow *f) RT_SAFE
{
	double p = f->win_len >= 2 ? f->fit_period_ns : (double)CLK_FOLLOW_PERIOD_MAX_NS;

	if (f->n_last < 0 || f->lost)
		return INT64_MAX;
	return cf_add_round(f->t_last_ns, f->cfg.loss_periods * p);
}

int clk_follow_tick(struct clk_follow *f, int64_t t_ns) RT_SAFE
{
	int64_t n;

	if (f->n_last >= 0) {
		if (t_ns <= f->t_last_ns) {
			f->rejected++;
			return -EINVAL;
		}
		/* unsigned: exact even when the signed difference would overflow */
		if ((uint64_t)t_ns - (uint64_t)f->t_last_ns < (uint64_t)CLK_FOLLOW_DT_MIN_NS) {
			f->rejected++;
			return -ERANGE;
		}
		if (f->lost || t_ns >= clk_follow_loss_deadline_ns(f)) {
			if (!f->lost)
				f->losses++;
			clk_follow_reset(f);
		} else if (f->win_len == 1 && t_ns - f->t_last_ns > SLOW_FIRST_NS) {
			/* Slower than 20 BPM (with a margin for jitter): the
			 * earlier tick was isolated; start again from this one. */
			f->rejected++;
			clk_follow_reset(f);
		}
	}
	if (f->n_last < 0) {
		f->n_last = 0;
		f->t_last_ns = t_ns;
		f->ticks++;
		cf_push(f, 0, t_ns);
		cf_refit(f);
		return 0;
	}
	n = f->n_last + 1;
	if (n >= 2)
		cf_jitter(f, t_ns);
	if (cf_classify(f, n, t_ns))
		cf_push(f, n, t_ns);
	cf_refit(f);
	cf_update_lock(f);
	f->t_last2_ns = f->t_last_ns;
	f->t_last_ns = t_ns;
	f->n_last = n;
	f->ticks++;
	return (int)(n & INT32_MAX);
}

bool clk_follow_locked(const struct clk_follow *f) RT_SAFE
{
	return f->locked;
}

int64_t clk_follow_predict_ns(const struct clk_follow *f, int64_t n) RT_SAFE
{
	/* (double)n - (double)ref: no overflow for any n, exact below 2^53 */
	double x = (double)n - (double)f->fit_n_ref - f->fit_xbar;

	if (f->win_len < 2)
		return INT64_MIN;
	return cf_add_round(f->fit_t_ref_ns, f->fit_ybar_ns + f->fit_period_ns * x);
}

double clk_follow_period_ns(const struct clk_follow *f) RT_SAFE
{
	return f->win_len >= 2 ? f->fit_period_ns : 0.0;
}

int64_t clk_follow_bpm_micro(const struct clk_follow *f) RT_SAFE
{
	double p = clk_follow_period_ns(f);

	if (p <= 0.0)
		return 0;
	return cf_add_round(0, BPM_MICRO_NS / p);
}

double clk_follow_jitter_ns(const struct clk_follow *f) RT_SAFE
{
	return SQRT_PI_12 * f->jit_d2_abs_ns;
}

int clk_follow_check_loss(struct clk_follow *f, int64_t now_ns) RT_SAFE
{
	int64_t deadline = clk_follow_loss_deadline_ns(f);

	if (deadline == INT64_MAX || now_ns < deadline)
		return 0;
	f->lost = true;
	f->locked = false;
	f->pend_len = 0;
	f->losses++;
	return 1;
}
