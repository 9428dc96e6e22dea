/*
 * clk_follow.h - external MIDI clock follower.
 *
 * Fed with the receive timestamp of every MIDI clock (0xF8, 24 per quarter
 * note) from one input, it estimates the input's tick grid - period and
 * phase - with a least-squares line fit over a sliding window of recent
 * ticks, so that the clock we re-transmit, scheduled at the follower's
 * one-step-ahead prediction, has far less jitter than the clock we receive.
 * It detects tempo steps (and re-acquires), clock loss, and reports lock
 * state and tempo.  The model, the thresholds and the measured figures are in
 * clk_follow.c and docs/adr/0004-clock-follower.md.
 *
 * Pure computation on caller-supplied timestamps (int64_t ns): no time
 * source, no I/O, no allocation; storage is inside the struct.  One owning
 * thread (the engine's).
 */
#ifndef PS_CLOCK_CLK_FOLLOW_H
#define PS_CLOCK_CLK_FOLLOW_H

#include <stdbool.h>
#include <stdint.h>

#include "rt/rt.h"

#define CLK_FOLLOW_PPQN 24                               /* MIDI clocks per quarter note */
#define CLK_FOLLOW_PERIOD_MIN_NS INT64_C(2502503)        /* tick period at 999 BPM */
#define CLK_FOLLOW_PERIOD_MAX_NS INT64_C(125000000)      /* tick period at 20 BPM */
#define CLK_FOLLOW_DT_MIN_NS (CLK_FOLLOW_PERIOD_MIN_NS / 2) /* closer ticks are rejected */
#define CLK_FOLLOW_WINDOW_CAP 2048                       /* largest window_max */
#define CLK_FOLLOW_STEP_CAP 8                            /* largest step_ticks */

struct clk_follow_cfg {
	int window_max;      /* ticks kept for the fit, 16..CLK_FOLLOW_WINDOW_CAP (1024) */
	int loss_periods;    /* loss after this many estimated periods without a tick, 1..48 (2) */
	int lock_min_ticks;  /* fewest ticks in the fit for lock, 3..window_max (12) */
	int lock_tol_ppm;    /* lock when the period's standard error is below this, 1..100000 (1500) */
	int step_ticks;      /* consecutive same-sign outliers that make a step, 2..CLK_FOLLOW_STEP_CAP (3) */
	double step_sigmas;  /* outlier: residual beyond this many std devs, 2..20 (4.0) */
	int64_t step_min_ns; /* ...and beyond this absolute floor, 0..PERIOD_MAX (250 us) */
};

struct clk_follow_pt {
	int64_t n;    /* tick index since the last restart */
	int64_t t_ns; /* its receive time */
};

struct clk_follow {
	struct clk_follow_cfg cfg;                       /* validated configuration */
	struct clk_follow_pt win[CLK_FOLLOW_WINDOW_CAP]; /* fit points, ring (oldest at win_head) */
	int win_head;                                    /* ring index of the oldest fit point */
	int win_len;                                     /* fit points held, 0..window_max */
	struct clk_follow_pt pend[CLK_FOLLOW_STEP_CAP];  /* consecutive outliers, oldest first */
	int pend_len;                                    /* outliers pending, 0..step_ticks-1 */
	int pend_sign;                                   /* their residual sign, +1 late / -1 early */
	int64_t n_last;                                  /* index of the last tick, -1 if none */
	int64_t t_last_ns;                               /* receive time of tick n_last */
	int64_t t_last2_ns;                              /* receive time of tick n_last - 1 */
	bool lost;                                       /* loss reported; fit frozen until next tick */
	bool locked;                                     /* see clk_follow_locked() */
	int64_t fit_n_ref;                               /* index of the newest fit point */
	int64_t fit_t_ref_ns;                            /* its time; fit coordinates are relative */
	double fit_xbar;                                 /* mean of (n - fit_n_ref) over the fit */
	double fit_ybar_ns;                              /* mean of (t - fit_t_ref_ns) over the fit */
	double fit_sxx;                                  /* sum of (x - fit_xbar)^2, ticks^2 */
	double fit_period_ns;                            /* fitted slope, ns per tick; 0 if < 2 points */
	double jit_d2_abs_ns;                            /* mean |second difference| of receive times */
	int64_t jit_samples;                             /* second differences folded into it */
	uint64_t ticks;                                  /* ticks given an index */
	uint64_t rejected;                               /* ticks refused, or dropped by a too-slow interval */
	uint64_t outliers;                               /* ticks held out of the fit (unless a step) */
	uint64_t relocks;                                /* tempo/phase steps: fit restarted */
	uint64_t losses;                                 /* clock losses (timeout or huge gap) */
};

/*
 * clk_follow_cfg_defaults - fill `c` with the defaults given above.
 * Context: any thread.
 */
void clk_follow_cfg_defaults(struct clk_follow_cfg *c);

/*
 * clk_follow_init - validate `c` (NULL: defaults), copy it, zero the
 * counters and reset.  Returns 0, or -EINVAL for a NULL follower or a field
 * out of its range (nothing changed then).
 * Context: non-RT.
 */
int clk_follow_init(struct clk_follow *f, const struct clk_follow_cfg *c);

/*
 * clk_follow_reset - forget the clock: no fit, unlocked, the next tick is
 * index 0, loss disarmed.  Counters and configuration are kept.
 * Context: RT; owning thread.
 */
void clk_follow_reset(struct clk_follow *f) RT_SAFE;

/*
 * clk_follow_tick - feed one received MIDI clock, receive time `t_ns`.
 * Returns the tick's index n (0 for the first tick since a reset, a loss or
 * a too-slow first interval; +1 per accepted tick after that), or:
 * -EINVAL when t_ns is not after the previous tick's time (backwards or
 * duplicate), -ERANGE when it is less than CLK_FOLLOW_DT_MIN_NS after it
 * (faster than any supported tempo); rejected ticks change nothing but
 * `rejected`.  A tick arriving after the loss deadline restarts at index 0
 * (a loss is counted unless clk_follow_check_loss() reported it already).
 * XXX: the return value is the index modulo 2^31 (wraps after 62 days at
 * 999 BPM); the full index is f->n_last.
 * Context: RT; owning thread.  Feed ticks before checking loss at the same
 * moment (see clk_follow_check_loss()).
 */
int clk_follow_tick(struct clk_follow *f, int64_t t_ns) RT_SAFE;

/*
 * clk_follow_locked - lock is gained when the fit holds at least
 * lock_min_ticks ticks, no outlier is pending, the period is within
 * 20..999 BPM (+-0.5 %) and its estimated standard error (jitter / sqrt(Sxx))
 * is within lock_tol_ppm of it.  It is kept until a tempo step, a loss, a
 * reset, a period out of range, or a standard error beyond twice
 * lock_tol_ppm (hysteresis, so it does not flicker at the threshold).
 * Context: RT; owning thread.
 */
bool clk_follow_locked(const struct clk_follow *f) RT_SAFE;

/*
 * clk_follow_predict_ns - estimated receive time of input tick n (any index,
 * past or future, same numbering as clk_follow_tick()), from the current fit.
 * INT64_MIN when there is no estimate (fewer than 2 ticks since the last
 * restart).  After a loss the frozen fit still answers, for free-running.
 * Context: RT; owning thread.
 */
int64_t clk_follow_predict_ns(const struct clk_follow *f, int64_t n) RT_SAFE;

/*
 * clk_follow_period_ns - estimated tick period in ns, 0.0 if unknown.
 * Context: RT; owning thread.
 */
double clk_follow_period_ns(const struct clk_follow *f) RT_SAFE;

/*
 * clk_follow_bpm_micro - estimated tempo in millionths of a BPM (120 BPM =
 * 120000000), rounded; 0 if unknown.  Reported even outside 20..999 BPM
 * (then never locked).
 * Context: RT; owning thread.
 */
int64_t clk_follow_bpm_micro(const struct clk_follow *f) RT_SAFE;

/*
 * clk_follow_jitter_ns - estimated standard deviation of the input jitter
 * (receive time minus the sender's grid), ns; 0.0 before 3 ticks.
 * Context: RT; owning thread.
 */
double clk_follow_jitter_ns(const struct clk_follow *f) RT_SAFE;

/*
 * clk_follow_check_loss - returns 1, exactly once, when now_ns has reached
 * clk_follow_loss_deadline_ns(): the follower is then unlocked and its fit
 * frozen (estimates still answer, for free-running) until the next tick,
 * which restarts acquisition at index 0.  Else returns 0.
 * Context: RT; owning thread.  Call it after feeding every tick received
 * before now_ns, or a tick that arrived in time can be taken for a loss.
 */
int clk_follow_check_loss(struct clk_follow *f, int64_t now_ns) RT_SAFE;

/*
 * clk_follow_loss_deadline_ns - last tick time + loss_periods estimated
 * periods (the 20 BPM period while there is no estimate); INT64_MAX when not
 * armed (no tick since reset, or loss already reported).  The engine waits
 * on it.
 * Context: RT; owning thread.
 */
int64_t clk_follow_loss_deadline_ns(const struct clk_follow *f) RT_SAFE;

#endif
