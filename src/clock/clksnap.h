/*
 * clksnap.h - a snapshot of the musical state: timeline plus transport.
 *
 * The engine owns the state and publishes a copy through a seqbuf after
 * every change; other threads (control, audio) read the copy without
 * locks and compute whatever they need for any instant from it: song
 * position, beat, bar phase, whether the transport is playing, the exact
 * time of any position.  The audio engine renders its pulses from it.
 */
#ifndef PS_CLOCK_CLKSNAP_H
#define PS_CLOCK_CLKSNAP_H

#include <stdbool.h>
#include <stdint.h>

#include "clock/timeline.h"
#include "rt/rt.h"

enum clk_transport {
	CLK_STOPPED = 0,
	CLK_PLAYING = 1,
};

struct clk_snapshot {
	struct timeline tl;         /* the timeline (with a pending tempo change, if any) */
	int64_t song_origin;        /* timeline position of song position 0 */
	int64_t play_from;          /* timeline position where playback (re)starts */
	int64_t play_until;         /* where it stops; INT64_MAX while playing */
	int64_t stopped_song_pos;   /* song position while stopped (units) */
	int32_t transport;          /* enum clk_transport, as last commanded */
	int32_t quantum;            /* beats per bar */
	int64_t lookahead_ns;       /* the engine's scheduling lookahead */
};

/*
 * clk_snapshot_playing_at - whether timeline position `pos` is played
 * (inside [play_from, play_until)).
 * Context: any thread.
 */
static inline bool clk_snapshot_playing_at(const struct clk_snapshot *s, int64_t pos) RT_SAFE
{
	return pos >= s->play_from && pos < s->play_until;
}

/*
 * clk_snapshot_song_pos - song position (units) at time t_ns: while playing,
 * timeline position minus song origin (negative before the start point);
 * while stopped, the stopped position.
 * Context: any thread.
 */
static inline int64_t clk_snapshot_song_pos(const struct clk_snapshot *s, int64_t t_ns) RT_SAFE
{
	int64_t pos = tl_pos_at(&s->tl, t_ns);

	if (clk_snapshot_playing_at(s, pos))
		return pos - s->song_origin;
	if (s->transport == CLK_STOPPED)
		return s->stopped_song_pos;
	return pos - s->song_origin; /* playing, before the start point: counting in */
}

#endif
