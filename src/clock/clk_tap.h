/*
 * clk_tap.h - tap tempo.
 *
 * Each tap (a button, a MIDI note, an OSC message) is fed with its time; the
 * tempo is the mean of the last CLK_TAP_MAX_INTERVALS accepted intervals.
 * Rules, in the order they are applied to a tap at time t (clk_tap.c has the
 * reasons):
 *   1. t not after the previous tap: ignored, -EINVAL;
 *   2. less than CLK_TAP_MIN_NS after it (faster than 999 BPM: a bouncing
 *      switch or a double trigger): ignored, -ERANGE;
 *   3. a pause - more than CLK_TAP_MAX_NS (slower than 20 BPM), or more than
 *      CLK_TAP_PAUSE_FACTOR times the median interval - starts a new sequence
 *      with this tap as its first (no estimate until the next tap);
 *   4. an interval more than CLK_TAP_OUTLIER_PCT % away from the median of
 *      the kept ones is an outlier: not kept, unless the previous interval was
 *      an outlier too and the two agree within that tolerance - then the
 *      player changed tempo, and the sequence restarts from those two;
 *   5. otherwise the interval is kept (the oldest beyond
 *      CLK_TAP_MAX_INTERVALS is dropped).
 * An estimate exists from the second tap of a sequence (one interval).
 * Pure: no clock, no allocation; state in the struct; one owning thread.
 */
#ifndef PS_CLOCK_CLK_TAP_H
#define PS_CLOCK_CLK_TAP_H

#include <stdbool.h>
#include <stdint.h>

#include "rt/rt.h"

#define CLK_TAP_MAX_INTERVALS 8            /* intervals averaged */
#define CLK_TAP_MIN_NS INT64_C(60060061)   /* shortest interval: 999 BPM */
#define CLK_TAP_MAX_NS INT64_C(3000000000) /* longest interval: 20 BPM */
#define CLK_TAP_PAUSE_FACTOR 2             /* pause: interval > this x median */
#define CLK_TAP_OUTLIER_PCT 25             /* outlier: this far from the median */

struct clk_tap {
	bool have_last;                          /* a sequence is open (last_ns valid) */
	int64_t last_ns;                         /* time of the sequence's last tap */
	int64_t iv_ns[CLK_TAP_MAX_INTERVALS];    /* kept intervals, ring, oldest at iv_head */
	int iv_head;                             /* ring index of the oldest kept interval */
	int iv_len;                              /* kept intervals, 0..CLK_TAP_MAX_INTERVALS */
	int64_t rejected_ns;                     /* previous interval if it was an outlier, else 0 */
	int64_t bpm_micro;                       /* current estimate, micro-BPM; 0 if none */
	uint64_t taps;                           /* taps that counted (rules 3-5) */
	uint64_t ignored;                        /* taps ignored by rules 1-2 */
	uint64_t outliers;                       /* intervals rejected by rule 4 */
	uint64_t sequences;                      /* sequences started (first tap, pauses, changes) */
};

/*
 * clk_tap_init - empty state, counters zeroed.
 * Context: any thread, before use.
 */
void clk_tap_init(struct clk_tap *t);

/*
 * clk_tap_reset - forget the sequence and the estimate (counters kept).
 * Context: RT; owning thread.
 */
void clk_tap_reset(struct clk_tap *t) RT_SAFE;

/*
 * clk_tap_add - one tap at t_ns.  Returns 1 and stores the estimate in
 * *bpm_micro (millionths of a BPM; rules 2-3 keep it within 20..999 BPM:
 * 1 ns of interval is 16 micro-BPM at 999 BPM) when one is available
 * after this tap, 0 when not (first tap of a sequence), or -EINVAL / -ERANGE
 * for an ignored tap (rules 1-2: nothing changed, *bpm_micro untouched).
 * bpm_micro may be NULL.
 * Context: RT; owning thread.
 */
int clk_tap_add(struct clk_tap *t, int64_t t_ns, int64_t *bpm_micro) RT_SAFE;

#endif
