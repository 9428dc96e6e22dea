/*
 * timeline.h - the one musical timeline: position <-> time at a tempo.
 *
 * Positions are int64_t units of 1/TL_UNITS_PER_BEAT beat.  TL_UNITS_PER_BEAT
 * = 1,612,800 = 2^10 * 3^2 * 5^2 * 7 is divisible by every common grid
 * (24 PPQN clock, 2/4/48 PPQN sync pulses, SMF divisions 96..15360, triplets),
 * so every tick, pulse and note sits on an exact integer position.
 * Tempo is int64_t micro-BPM (120 BPM = 120,000,000): finer than the 0.001
 * BPM the user can set, so a followed clock's tempo is not quantised.
 *
 * The timeline is an anchor (t0_ns, pos0) plus a tempo; times of positions
 * are computed from the anchor in one step with 128-bit intermediates and
 * rounded to the nearest ns - never by adding intervals, so nothing drifts:
 * tick 4,147,199 at 120 BPM lands on round(k * 62.5e6 / 3) ns like tick 1.
 *
 * A tempo change is a new anchor at a position P whose time is computed with
 * the old tempo: the beat at P is at the same ns before and after, i.e.
 * phase is continuous.  One change may be pending (at a future position, e.g.
 * the next bar); time_at/pos_at account for it, and tl_commit() folds it in.
 */
#ifndef PS_CLOCK_TIMELINE_H
#define PS_CLOCK_TIMELINE_H

#include <stdbool.h>
#include <stdint.h>

#include "rt/rt.h"

#define TL_UNITS_PER_BEAT INT64_C(1612800)
#define TL_UNITS_PER_TICK (TL_UNITS_PER_BEAT / 24)   /* one MIDI clock at 24 PPQN */
#define TL_BPM_MICRO_MIN INT64_C(20000000)           /* 20 BPM */
#define TL_BPM_MICRO_MAX INT64_C(999000000)          /* 999 BPM */
#define TL_QUANTUM_MAX 64                           /* beats per bar, at most */

struct timeline {
	int64_t t0_ns;        /* anchor time */
	int64_t pos0;         /* anchor position, units */
	int64_t bpm_micro;    /* tempo from the anchor on */
	bool pending;         /* a tempo change waits at pend_pos */
	int64_t pend_pos;     /* position of the pending change (> pos0) */
	int64_t pend_bpm;     /* tempo after it */
};

/*
 * tl_init - anchor position `pos0` at `t0_ns`, at `bpm_micro`.  Returns 0, or
 * -ERANGE when the tempo is outside 20..999 BPM.
 * Context: any thread.
 */
int tl_init(struct timeline *tl, int64_t t0_ns, int64_t pos0, int64_t bpm_micro) RT_SAFE;

/* tl_bpm_valid - whether bpm_micro is within 20..999 BPM.  Context: any. */
bool tl_bpm_valid(int64_t bpm_micro) RT_SAFE;

/*
 * tl_time_at - time (ns, rounded to nearest) of position `pos`; positions
 * before the anchor extrapolate at the anchor's tempo.
 * Context: any thread.
 */
int64_t tl_time_at(const struct timeline *tl, int64_t pos) RT_SAFE;

/*
 * tl_pos_at - the last position whose tl_time_at() is at or before `t_ns`
 * (the exact inverse of the rounding, so tl_pos_at(tl_time_at(p)) >= p).
 * Context: any thread.
 */
int64_t tl_pos_at(const struct timeline *tl, int64_t t_ns) RT_SAFE;

/*
 * tl_bpm_at - tempo in force at position `pos`.  Context: any thread.
 */
int64_t tl_bpm_at(const struct timeline *tl, int64_t pos) RT_SAFE;

/*
 * tl_set_tempo_at - change tempo at position `pos` (phase-continuous).
 * If pos is at or before the anchor it re-anchors at pos0 instead (a change
 * can never rewrite the past).  A later call replaces a pending change.
 * Returns 0, or -ERANGE for a tempo outside 20..999 BPM (nothing changes).
 * Context: the timeline's owner (engine thread).
 */
int tl_set_tempo_at(struct timeline *tl, int64_t pos, int64_t bpm_micro) RT_SAFE;

/*
 * tl_commit - if the pending change's position is at or before `pos`, make
 * it the anchor.  Call as playback passes positions, so a stale anchor never
 * needs a pending segment.  Context: the owner.
 */
void tl_commit(struct timeline *tl, int64_t pos) RT_SAFE;

/*
 * tl_reanchor - move the anchor to `pos` without changing any time (a
 * no-op mathematically, but it keeps extrapolation distances short).
 * Context: the owner.
 */
void tl_reanchor(struct timeline *tl, int64_t pos) RT_SAFE;

/*
 * tl_bpm_for - the tempo (micro-BPM, rounded) at which `dpos` units last
 * `dt_ns`; 0 if dpos or dt_ns is not positive.  Used to slew the phase:
 * reach a target position at a target time without a jump.
 * Context: any thread.
 */
int64_t tl_bpm_for(int64_t dpos, int64_t dt_ns) RT_SAFE;

/* Ceiling of `pos` onto the grid origin + k * step (step > 0). */
int64_t tl_grid_ceil(int64_t pos, int64_t origin, int64_t step) RT_SAFE;

/* Floor of `pos` onto the grid origin + k * step (step > 0). */
int64_t tl_grid_floor(int64_t pos, int64_t origin, int64_t step) RT_SAFE;

/* Floor division for signed operands (C's '/' truncates toward zero). */
int64_t tl_floor_div(int64_t a, int64_t b) RT_SAFE;

/* Parse "120", "120.5", "174.125" (up to 6 decimals) into micro-BPM without
 * floating point; returns 0 or -EINVAL (syntax) / -ERANGE (outside 20..999).
 * Context: any thread. */
int tl_parse_bpm(const char *s, int64_t *bpm_micro);

#endif
