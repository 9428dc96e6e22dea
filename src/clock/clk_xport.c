/*
 * clk_xport.c - transport of a followed MIDI input (model in clk_xport.h).
 *
 * Why playback waits for the clock after Start/Continue: MIDI 1.0 defines
 * the first clock after Start as the first played tick, so a receiver that
 * started on the Start byte itself would run a whole tick early (up to
 * 125 ms at 20 BPM).  Senders may put up to a tick between the two.
 *
 * Why SPP is honoured while playing too: the specification asks senders to
 * send it only while stopped, but some DAWs send it when they jump (loop
 * end); taking it as "the next clock is at this position" is what such a
 * sender means, and harmless for one that follows the rule.
 *
 * Why Continue while playing and Stop while stopped do nothing: both are
 * repeats of the current state (a sender re-sending after a reconnect).
 */
#include "clock/clk_xport.h"

#include <errno.h>
#include <stddef.h>

void clk_xport_init(struct clk_xport *x) RT_SAFE
{
	x->state = CLK_XPORT_STOPPED;
	x->pos_ticks = 0;
	x->ignored = 0;
}

int clk_xport_msg(struct clk_xport *x, const struct midi_msg *m, int64_t *pos_ticks) RT_SAFE
{
	int action = CLK_XPORT_NONE;
	int64_t pos = x->pos_ticks;

	switch (m->type) {
	case MIDI_CLOCK:
		if (x->state == CLK_XPORT_STOPPED)
			break;
		action = x->state == CLK_XPORT_ARMED ? CLK_XPORT_PLAY : CLK_XPORT_TICK;
		x->state = CLK_XPORT_PLAYING;
		x->pos_ticks++;
		break;
	case MIDI_START:
		x->pos_ticks = 0;
		pos = 0;
		x->state = CLK_XPORT_ARMED;
		action = CLK_XPORT_ARM;
		break;
	case MIDI_CONTINUE:
		if (x->state == CLK_XPORT_STOPPED) {
			x->state = CLK_XPORT_ARMED;
			action = CLK_XPORT_ARM;
		}
		break;
	case MIDI_STOP:
		if (x->state != CLK_XPORT_STOPPED) {
			x->state = CLK_XPORT_STOPPED;
			action = CLK_XPORT_STOP;
		}
		break;
	case MIDI_SONG_POSITION:
		x->pos_ticks = (int64_t)((m->data[0] & 0x7F) | (m->data[1] & 0x7F) << 7) *
			       CLK_XPORT_TICKS_PER_SPP;
		pos = x->pos_ticks;
		action = CLK_XPORT_LOCATE;
		break;
	default:
		x->ignored++;
		return -EINVAL;
	}
	if (action != CLK_XPORT_NONE && pos_ticks)
		*pos_ticks = pos;
	return action;
}
