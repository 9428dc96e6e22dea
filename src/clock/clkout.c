/*
 * clkout.c - clock output settings and grid math (see clkout.h).
 */
#include "clock/clkout.h"

#include <errno.h>
#include <stdio.h>

#include "clock/timeline.h"

void clk_output_cfg_defaults(struct clk_output_cfg *c)
{
	*c = (struct clk_output_cfg){
		.enabled = true,
		.ppqn = 24,
		.offset_us = 0,
		.swing_permille = CLK_SWING_MIN,
		.swing_unit = 16,
		.clock_while_stopped = false,
		.transport = true,
		.spp = true,
	};
}

int clk_output_cfg_check(const struct clk_output_cfg *c, int64_t lookahead_ns, char *err,
			 size_t errlen)
{
	int64_t min_us = -(lookahead_ns / 1000);

	if (c->ppqn < CLK_PPQN_MIN || c->ppqn > CLK_PPQN_MAX) {
		snprintf(err, errlen, "ppqn = %d: must be a whole number from %d to %d", c->ppqn,
			 CLK_PPQN_MIN, CLK_PPQN_MAX);
		return -EINVAL;
	}
	if (c->offset_us < min_us || c->offset_us > CLK_OFFSET_MAX_US) {
		snprintf(err, errlen,
			 "offset = %d us: must be from %lld to %d us (negative offsets are limited "
			 "by the lookahead, %lld us)",
			 (int)c->offset_us, (long long)min_us, CLK_OFFSET_MAX_US,
			 (long long)(lookahead_ns / 1000));
		return -EINVAL;
	}
	if (c->swing_permille < CLK_SWING_MIN || c->swing_permille > CLK_SWING_MAX) {
		snprintf(err, errlen, "swing = %.1f %%: must be from 50 to 75 %%",
			 c->swing_permille / 10.0);
		return -EINVAL;
	}
	if (c->swing_unit != 8 && c->swing_unit != 16) {
		snprintf(err, errlen, "swing unit = %d: must be 8 or 16", c->swing_unit);
		return -EINVAL;
	}
	return 0;
}

int64_t clk_pulse_pos(int64_t k, int ppqn) RT_SAFE
{
	return tl_floor_div(k * TL_UNITS_PER_BEAT, ppqn);
}

int64_t clk_pulse_index_ceil(int64_t rel_pos, int ppqn) RT_SAFE
{
	/* ceil(rel_pos * ppqn / UNITS), then step past rounding of pulse_pos */
	int64_t k = -tl_floor_div(-rel_pos * ppqn, TL_UNITS_PER_BEAT);

	while (clk_pulse_pos(k - 1, ppqn) >= rel_pos)
		k--;
	while (clk_pulse_pos(k, ppqn) < rel_pos)
		k++;
	return k;
}

int64_t clk_swing(int64_t rel_pos, int swing_permille, int swing_unit) RT_SAFE
{
	int64_t pair = swing_unit == 8 ? TL_UNITS_PER_BEAT : TL_UNITS_PER_BEAT / 2;
	int64_t half = pair / 2;
	int64_t start, x;

	if (swing_permille == CLK_SWING_MIN)
		return rel_pos;
	start = tl_grid_floor(rel_pos, 0, pair);
	x = rel_pos - start;
	if (x < half)
		return start + x * swing_permille / 500;
	return start + pair * swing_permille / 1000 + (x - half) * (1000 - swing_permille) / 500;
}
