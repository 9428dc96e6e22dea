/*
 * clk_xport.h - transport of a followed MIDI input (xport = transport).
 *
 * A pure state machine that turns the real-time messages of the input we
 * follow - Start, Continue, Stop, Song Position Pointer and the clocks
 * themselves - into what the engine's transport has to do, and keeps the
 * song position in MIDI clocks (24 per quarter note; one SPP unit, a MIDI
 * beat, is a 16th note = 6 clocks).  Per MIDI 1.0: Start and Continue do not
 * start anything by themselves - playback begins at the next clock, which is
 * played at position 0 (Start) or at the current position (Continue); clocks
 * advance the position only while playing; Stop keeps the position reached;
 * SPP sets the position of the next played clock.  Timing stays with
 * clk_follow: the engine plays the clock that answers CLK_XPORT_PLAY at that
 * clock's predicted time.
 *
 * States: STOPPED --Start/Continue--> ARMED --clock--> PLAYING --Stop--> STOPPED
 * (Stop also disarms; Start while playing re-arms at 0).
 */
#ifndef PS_CLOCK_CLK_XPORT_H
#define PS_CLOCK_CLK_XPORT_H

#include <stdint.h>

#include "midi/midi_msg.h"
#include "rt/rt.h"

#define CLK_XPORT_TICKS_PER_SPP 6 /* MIDI clocks per Song Position unit (a 16th) */

enum clk_xport_state {
	CLK_XPORT_STOPPED = 0, /* clocks do not move the position */
	CLK_XPORT_ARMED = 1,   /* Start/Continue seen: the next clock starts playback */
	CLK_XPORT_PLAYING = 2, /* each clock is played and advances the position */
};

/* What the engine does after clk_xport_msg(); *pos_ticks says where. */
enum clk_xport_action {
	CLK_XPORT_NONE = 0,   /* nothing (message without effect in this state) */
	CLK_XPORT_ARM = 1,    /* Start/Continue: playback will begin at the next clock, at *pos */
	CLK_XPORT_PLAY = 2,   /* this clock begins playback; it is at *pos */
	CLK_XPORT_TICK = 3,   /* this clock, while playing, is at *pos */
	CLK_XPORT_STOP = 4,   /* stop now; *pos = position the next clock would have had */
	CLK_XPORT_LOCATE = 5, /* SPP: the next played clock will be at *pos */
};

struct clk_xport {
	int state;          /* enum clk_xport_state */
	int64_t pos_ticks;  /* song position of the next played clock, MIDI clocks */
	uint64_t ignored;   /* messages that are not transport (returned -EINVAL) */
};

/*
 * clk_xport_init - STOPPED at position 0, counter zeroed.
 * Context: any thread, before use.
 */
void clk_xport_init(struct clk_xport *x) RT_SAFE;

/*
 * clk_xport_msg - feed one message from the followed input (MIDI_CLOCK,
 * MIDI_START, MIDI_CONTINUE, MIDI_STOP, MIDI_SONG_POSITION).  Returns the
 * enum clk_xport_action and stores the position it refers to in *pos_ticks
 * (may be NULL; untouched for CLK_XPORT_NONE), or -EINVAL for any other
 * message type (ignored, counted).
 * Context: RT; owning thread.
 */
int clk_xport_msg(struct clk_xport *x, const struct midi_msg *m, int64_t *pos_ticks) RT_SAFE;

#endif
