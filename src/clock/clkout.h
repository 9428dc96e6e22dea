/*
 * clkout.h - per-output clock settings and the pure math behind them.
 *
 * A clock output emits pulses on its own grid of `ppqn` pulses per quarter
 * note (24 = MIDI clock; 12 = half rate; 48 = double; 2 = Volca/Pocket
 * Operator sync), anchored at the song origin so that pulse 0 is the
 * downbeat.  Swing moves the second half of every pair of 8ths or 16ths
 * later: the pair is split permille:(1000-permille) instead of 500:500, and
 * positions inside each half are stretched linearly (a piecewise-linear
 * time warp of the position within the pair), so pulses stay in order and
 * the downbeat of every pair never moves.  The offset shifts the output's
 * events in time to compensate a device's latency; negative offsets send
 * early, at most by the engine's lookahead.
 */
#ifndef PS_CLOCK_CLKOUT_H
#define PS_CLOCK_CLKOUT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "rt/rt.h"

#define CLK_PPQN_MIN 1
#define CLK_PPQN_MAX 960
#define CLK_SWING_MIN 500        /* permille: straight */
#define CLK_SWING_MAX 750        /* permille: heavy (3:1) */
#define CLK_OFFSET_MAX_US 100000 /* +100 ms */

struct clk_output_cfg {
	bool enabled;             /* clock pulses on/off */
	int ppqn;                 /* pulses per quarter note, 1..960 */
	int32_t offset_us;        /* latency compensation, -lookahead..+100 ms */
	int swing_permille;       /* 500 (straight) .. 750 */
	int swing_unit;           /* 8 or 16: swing pairs of 8ths or of 16ths */
	bool clock_while_stopped; /* keep pulsing while the transport is stopped */
	bool transport;           /* send Start / Stop / Continue */
	bool spp;                 /* send Song Position Pointer on continue / locate */
};

/* clk_output_cfg_defaults - 24 PPQN, no offset, straight, clock only while
 * playing, transport and SPP on.  Context: any thread. */
void clk_output_cfg_defaults(struct clk_output_cfg *c);

/*
 * clk_output_cfg_check - validate against the engine's lookahead; on error
 * writes a message naming the field, the value and what is allowed and
 * returns -EINVAL.  Context: non-RT.
 */
int clk_output_cfg_check(const struct clk_output_cfg *c, int64_t lookahead_ns, char *err,
			 size_t errlen);

/* clk_pulse_pos - position (units from the grid origin) of pulse k at ppqn. */
int64_t clk_pulse_pos(int64_t k, int ppqn) RT_SAFE;

/* clk_pulse_index_ceil - smallest k with clk_pulse_pos(k) >= rel_pos. */
int64_t clk_pulse_index_ceil(int64_t rel_pos, int ppqn) RT_SAFE;

/*
 * clk_swing - warp a position relative to the grid origin (units) by the
 * swing setting.  Identity for 500 permille.  Monotone non-decreasing;
 * pair boundaries are fixed points.
 */
int64_t clk_swing(int64_t rel_pos, int swing_permille, int swing_unit) RT_SAFE;

#endif
