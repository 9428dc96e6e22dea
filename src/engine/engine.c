/*
 * engine.c - the RT loop (see engine.h for the model).
 *
 * Each iteration: wait until the deadline (or a wake), execute commands,
 * then repeatedly take the earliest pending event - the next pulse of any
 * clock output, or the head of the one-shot queue - and hand it to the
 * backend while its due time is within now + lookahead.  The next deadline
 * is the earliest remaining event's due time minus the lookahead, or the
 * idle heartbeat grid.  Every time is computed from the timeline anchor, so
 * a late wake-up never shifts later events, and a very late one
 * resynchronises instead of bursting on the heartbeat grid.
 *
 * Order: one-shot events (Start, Stop, Continue, SPP) precede a pulse due at
 * the same instant; Start and Continue are sent `lead` before the pulse
 * that is the downbeat (the MIDI rule: the first Clock after Start is beat
 * 1), Stop `lead` before the first pulse that is not played; lead is 1 ms,
 * or a quarter of the pulse period at very fast tempos, so it always falls
 * between two pulses.
 *
 * Patterns (docs/adr/0010-pattern-playback.md): each slot is a third kind
 * of generator next to the pulses and the one-shot queue.  Its next item
 * is either its cursor's next event or a marker - a pending change
 * (launch, stop, transport start/stop/locate) or release (mute, solo,
 * panic) - whichever comes first in *position*; its due time is the
 * position warped by the output's swing (relative to the song origin)
 * plus the output's offset.  A marker first ends every note the tracker
 * holds for the slot with explicit note-offs, so a release is always
 * handed out after everything the slot sent before it, on the same grid,
 * and never before what is committed.  At equal due times markers come
 * first (note-offs before Panic's CC 123 and before re-struck notes),
 * then one-shot events, pulses, pattern events.
 */
#include "engine/engine.h"

#include <errno.h>
#include <string.h>
#include <syslog.h>

#define ENG_SIXTEENTH (TL_UNITS_PER_BEAT / 4)
#define ENG_NONE (-2)     /* eng_next_event: nothing pending */
#define ENG_TQ (-1)       /* eng_next_event: the one-shot queue head */
#define ENG_PAT(i) (-3 - (i)) /* eng_next_event: pattern slot i (and back) */
#define ENG_TEMPO(i) (-40 - (i)) /* eng_next_event: slot i's next tempo event (and back) */
#define ENG_SPP_MAX 16383

static int64_t eng_max64(int64_t a, int64_t b) RT_SAFE
{
	return a > b ? a : b;
}

static int64_t eng_min64(int64_t a, int64_t b) RT_SAFE
{
	return a < b ? a : b;
}

static int64_t eng_abs64(int64_t a) RT_SAFE
{
	return a < 0 ? -a : a;
}

void engine_cfg_defaults(struct engine_cfg *cfg)
{
	*cfg = (struct engine_cfg){
		.lookahead_ns = 5000000,
		.bpm_micro = 120000000,
		.quantum = 4,
		.nout = 0,
		.follow_port = -1,
		.follow = false,
		.follow_stop_on_loss = true,
	};
}

/* A pattern table is valid when every slot in use that has a pattern plays
 * to an existing output and names a group >= 0. */
static int eng_pat_table_check(const struct engine_pat_table *t, int nout) RT_SAFE
{
	if (t->n < 0 || t->n > ENGINE_MAX_PATTERNS)
		return -EINVAL;
	for (int i = 0; i < t->n; i++)
		if (t->slot[i].pat && (t->slot[i].out < 0 || t->slot[i].out >= nout ||
				       t->slot[i].group < 0))
			return -EINVAL;
	return 0;
}

static int engine_cfg_check(const struct engine_cfg *c, const struct midi_backend *midi)
{
	char err[160];

	if (c->lookahead_ns < 0 || c->lookahead_ns > ENGINE_LOOKAHEAD_MAX_NS ||
	    !tl_bpm_valid(c->bpm_micro) || c->quantum < 1 || c->quantum > TL_QUANTUM_MAX ||
	    c->nout < 0 || c->nout > ENGINE_MAX_OUTPUTS || (c->nout > 0 && !midi) ||
	    (c->follow_port >= 0 && !midi) || (c->follow && c->follow_port < 0))
		return -EINVAL;
	for (int i = 0; i < c->nout; i++)
		if (clk_output_cfg_check(&c->out[i], c->lookahead_ns, err, sizeof(err)) < 0)
			return -EINVAL;
	return eng_pat_table_check(&c->pats, c->nout);
}

static void eng_publish(struct engine *e) RT_SAFE
{
	struct clk_snapshot s = {
		.tl = e->tl,
		.song_origin = e->song_origin,
		.play_from = e->play_from,
		.play_until = e->play_until,
		.stopped_song_pos = e->stopped_song_pos,
		.transport = e->transport,
		.quantum = e->quantum,
		.lookahead_ns = e->lookahead_ns,
	};

	seqbuf_write(&e->snap, &s);
}

int engine_init(struct engine *e, struct timesrc *ts, struct midi_backend *midi,
		const struct engine_cfg *cfg)
{
	struct engine_cfg defaults;
	int64_t now;
	int r;

	if (!e || !ts)
		return -EINVAL;
	rt_assert_not_rt();
	if (!cfg) {
		engine_cfg_defaults(&defaults);
		defaults.lookahead_ns = 0;
		cfg = &defaults;
	}
	r = engine_cfg_check(cfg, midi);
	if (r < 0)
		return r;
	e->ts = ts;
	e->midi = midi;
	if ((r = ring_init(&e->cmd, e->cmd_buf, ENGINE_CMD_RING_CAP, sizeof(struct engine_cmd))) < 0 ||
	    (r = ring_init(&e->notes, e->note_buf, ENGINE_NOTE_RING_CAP, sizeof(struct engine_note))) < 0 ||
	    (r = rtlog_init(&e->log, e->log_buf, ENGINE_LOG_RING_CAP)) < 0 ||
	    (r = seqbuf_init(&e->snap, sizeof(struct clk_snapshot))) < 0 ||
	    (r = tqueue_init(&e->tq, e->tq_buf, ENGINE_EVENT_CAP)) < 0 ||
	    (r = pool_init(&e->ev_pool, e->ev_buf, sizeof(struct engine_event), ENGINE_EVENT_CAP)) < 0)
		return r;
	atomic_init(&e->stats.iterations, 0);
	atomic_init(&e->stats.deadlines, 0);
	atomic_init(&e->stats.commands, 0);
	atomic_init(&e->stats.rejected, 0);
	atomic_init(&e->stats.lateness_max_ns, 0);
	atomic_init(&e->stats.sent, 0);
	atomic_init(&e->stats.late, 0);
	atomic_init(&e->stats.send_errors, 0);
	atomic_init(&e->stats.event_drops, 0);
	atomic_init(&e->stats.queue_high_water, 0);
	atomic_init(&e->stats.queued, 0);
	atomic_init(&e->stats.committed_t, 0);
	atomic_init(&e->stats.follow_state, ENGINE_FOLLOW_OFF);
	atomic_init(&e->stats.follow_bpm, 0);
	atomic_init(&e->stats.follow_ticks, 0);
	atomic_init(&e->stats.follow_losses, 0);
	atomic_init(&e->stats.pool_high_water, 0);
	for (unsigned i = 0; i < ENGINE_LAT_BUCKETS; i++)
		atomic_init(&e->stats.lateness_hist[i], 0);

	now = timesrc_now_ns(ts);
	tl_init(&e->tl, now, 0, cfg->bpm_micro);
	e->quantum = cfg->quantum;
	e->lookahead_ns = cfg->lookahead_ns;
	e->transport = ENGINE_STOPPED;
	e->song_origin = 0;
	e->play_from = 0;
	e->play_until = 0;
	e->stopped_song_pos = 0;
	e->committed_t = now - 1;
	e->nout = cfg->nout;
	for (int i = 0; i < cfg->nout; i++) {
		e->out[i] = (struct engine_output){
			.cfg = cfg->out[i],
			.port = cfg->out_port[i],
			.grid_origin = 0,
			.k = 0,
			.regrid = false,
		};
	}
	e->hb_anchor_ns = now;
	e->hb_period_ns = ENGINE_IDLE_PERIOD_NS;
	e->next_deadline = now + ENGINE_IDLE_PERIOD_NS;
	e->emit_limit = INT64_MAX;
	e->lat_samples = NULL;
	e->commit_ahead_ns = 0;
	e->follow_port = cfg->follow_port;
	e->follow_stop_on_loss = cfg->follow_stop_on_loss;
	e->follow = false;
	e->follow_state = ENGINE_FOLLOW_OFF;
	e->fol_pos0 = 0;
	e->fol_last_n = -1;
	e->fol_aligned = false;
	if ((r = clk_follow_init(&e->fol, NULL)) < 0)
		return r;
	clk_xport_init(&e->xp);
	if (cfg->follow) {
		e->follow = true;
		e->follow_state = ENGINE_FOLLOW_WAITING;
		atomic_store(&e->stats.follow_state, ENGINE_FOLLOW_WAITING);
	}
	atomic_init(&e->stats.sounding, 0);
	atomic_init(&e->stats.notes_refused, 0);
	atomic_init(&e->stats.notes_at_loss, 0);
	atomic_init(&e->stats.pat_table_gen, 0);
	atomic_init(&e->stats.pat_tempos, 0);
	memset(e->lost_notes, 0, sizeof e->lost_notes);
	notetrack_init(&e->nt);
	e->emitted_to = INT64_MIN;
	e->npat = cfg->pats.n;
	for (int i = 0; i < ENGINE_MAX_PATTERNS; i++) {
		const struct engine_pat_slot *ps = &cfg->pats.slot[i];
		bool used = i < cfg->pats.n && ps->pat;
		e->pat[i] = (struct engine_pattern){
			.pat = used ? ps->pat : NULL,
			.out = used ? ps->out : 0,
			.group = used ? ps->group : 0,
			.tempo = used && ps->tempo,
			.state = ENGINE_PAT_STOPPED,
			.chg_pos = INT64_MAX,
			.rel_pos = INT64_MAX,
			.last_loop = INT64_MIN,
			.tpos = INT64_MAX,
		};
		atomic_init(&e->pat_status[i].state, ENGINE_PAT_STOPPED);
		atomic_init(&e->pat_status[i].mute, false);
		atomic_init(&e->pat_status[i].solo, false);
		atomic_init(&e->pat_status[i].queued, false);
		atomic_init(&e->pat_status[i].loops, 0);
	}
	e->tl_dirty = false;
	e->quit = false;
	eng_publish(e);
	return 0;
}

int engine_post(struct engine *e, const struct engine_cmd *c) RT_SAFE
{
	int r = ring_push(&e->cmd, c);

	if (r == 0)
		timesrc_wake(e->ts);
	return r;
}

int engine_poll_note(struct engine *e, struct engine_note *n) RT_SAFE
{
	return ring_pop(&e->notes, n);
}

bool engine_snapshot(struct engine *e, struct clk_snapshot *s) RT_SAFE
{
	return seqbuf_read(&e->snap, s, 1000);
}

unsigned engine_lateness_bucket(int64_t late_ns) RT_SAFE
{
	uint64_t us = late_ns > 0 ? (uint64_t)late_ns / 1000 : 0;
	unsigned b = 0;

	while (us > 0 && b < ENGINE_LAT_BUCKETS - 1) {
		us >>= 1;
		b++;
	}
	return b;
}

static void eng_record_lateness(struct engine *e, int64_t late_ns) RT_SAFE
{
	int64_t max = atomic_load_explicit(&e->stats.lateness_max_ns, memory_order_relaxed);

	atomic_fetch_add_explicit(&e->stats.lateness_hist[engine_lateness_bucket(late_ns)], 1,
				  memory_order_relaxed);
	if (late_ns > max)
		atomic_store_explicit(&e->stats.lateness_max_ns, late_ns, memory_order_relaxed);
}

static void eng_note(struct engine *e, uint32_t type, uint32_t u32, int64_t t_ns, int64_t a) RT_SAFE
{
	struct engine_note n = { .type = type, .u32 = u32, .t_ns = t_ns, .a = a };

	ring_push(&e->notes, &n); /* full: dropped, counted by the ring */
}

static int64_t eng_offset_ns(const struct engine *e, int out) RT_SAFE
{
	return (int64_t)e->out[out].cfg.offset_us * 1000;
}

/* Most negative output offset (0 if none is negative). */
static int64_t eng_min_offset_ns(const struct engine *e) RT_SAFE
{
	int64_t m = 0;

	for (int i = 0; i < e->nout; i++)
		m = eng_min64(m, eng_offset_ns(e, i));
	return m;
}

/* Most positive output offset (0 if none is positive). */
static int64_t eng_max_offset_ns(const struct engine *e) RT_SAFE
{
	int64_t m = 0;

	for (int i = 0; i < e->nout; i++)
		m = eng_max64(m, eng_offset_ns(e, i));
	return m;
}

/* Start/Stop lead before the pulse at `pos`: 1 ms, or a quarter of the
 * 24 PPQN pulse period ending there if that is shorter. */
static int64_t eng_lead_ns(const struct engine *e, int64_t pos) RT_SAFE
{
	int64_t tick = tl_time_at(&e->tl, pos) - tl_time_at(&e->tl, pos - TL_UNITS_PER_TICK);

	return eng_min64(ENGINE_LEAD_MAX_NS, tick / 4);
}

/* The first position after everything already handed out, after `t`, and
 * after what the audio thread may already have rendered (commit_ahead_ns):
 * a change there is heard at the same instant in MIDI and audio. */
static int64_t eng_first_free_pos(const struct engine *e, int64_t t) RT_SAFE
{
	int64_t rendered = timesrc_now_ns(e->ts) + e->commit_ahead_ns;

	return tl_pos_at(&e->tl, eng_max64(eng_max64(e->committed_t, t), rendered)) + 1;
}

/* Queue a one-shot message for output `out`, `base` being its timeline time
 * before the output's offset. */
static void eng_enqueue(struct engine *e, int out, uint8_t type, uint8_t d0, uint8_t d1,
			int64_t base) RT_SAFE
{
	struct engine_event *ev = pool_get(&e->ev_pool);

	if (!ev) {
		atomic_fetch_add_explicit(&e->stats.event_drops, 1, memory_order_relaxed);
		RTLOG(&e->log, LOG_ERR, base, "engine: event pool exhausted (%" PRId64 " events)",
		      (int64_t)ENGINE_EVENT_CAP);
		return;
	}
	ev->out = (uint16_t)out;
	ev->msg = (struct midi_msg){ .type = type, .data = { d0, d1 } };
	ev->base = base;
	if (tqueue_push(&e->tq, base + eng_offset_ns(e, out), ev) < 0) {
		pool_put(&e->ev_pool, ev);
		atomic_fetch_add_explicit(&e->stats.event_drops, 1, memory_order_relaxed);
		return;
	}
	if (e->tq.high_water > atomic_load_explicit(&e->stats.queue_high_water, memory_order_relaxed))
		atomic_store_explicit(&e->stats.queue_high_water, e->tq.high_water,
				      memory_order_relaxed);
	if (e->ev_pool.high_water > atomic_load_explicit(&e->stats.pool_high_water, memory_order_relaxed))
		atomic_store_explicit(&e->stats.pool_high_water, e->ev_pool.high_water,
				      memory_order_relaxed);
}

/* Re-aim an output's next pulse at the first free position (after a change
 * of grid-relevant settings), so that no past pulse is ever emitted. */
static void eng_out_resync(struct engine *e, struct engine_output *o, int64_t now) RT_SAFE
{
	int64_t p = eng_first_free_pos(e, now);

	o->k = clk_pulse_index_ceil(p - o->grid_origin, o->cfg.ppqn);
}

/* Switch an output to a new grid (pulse 0 at `origin`) from position `at`. */
static void eng_out_regrid(struct engine_output *o, int64_t at, int64_t origin) RT_SAFE
{
	o->regrid = true;
	o->regrid_pos = at;
	o->regrid_origin = origin;
}

/*
 * The next pulse of an output: its due time (with offset) and base time.
 * Applies a pending grid switch when reached; returns false when the
 * output has nothing to send (disabled, or stopped without
 * clock-while-stopped).
 */
static bool eng_out_peek(struct engine *e, struct engine_output *o, int64_t *due, int64_t *base) RT_SAFE
{
	if (!o->cfg.enabled)
		return false;
	for (int guard = 0; guard < 4; guard++) {
		int64_t p = o->grid_origin + clk_pulse_pos(o->k, o->cfg.ppqn);
		bool playing = p >= e->play_from && p < e->play_until;

		if (o->regrid && (p >= o->regrid_pos || (!playing && !o->cfg.clock_while_stopped))) {
			o->grid_origin = o->regrid_origin;
			o->k = clk_pulse_index_ceil(o->regrid_pos - o->regrid_origin, o->cfg.ppqn);
			o->regrid = false;
			continue;
		}
		if (!playing && !o->cfg.clock_while_stopped) {
			if (p < e->play_from && e->play_until > e->play_from) {
				o->k = clk_pulse_index_ceil(e->play_from - o->grid_origin, o->cfg.ppqn);
				continue;
			}
			return false;
		}
		*base = tl_time_at(&e->tl, o->grid_origin + clk_swing(p - o->grid_origin,
								    o->cfg.swing_permille,
								    o->cfg.swing_unit));
		*due = *base + (int64_t)o->cfg.offset_us * 1000;
		return true;
	}
	return false;
}

static void eng_send(struct engine *e, int out, const struct midi_msg *m, int64_t due,
		     int64_t now) RT_SAFE
{
	int r = e->midi->ops->send(e->midi, e->out[out].port, m, due);

	if (r == 0) {
		atomic_fetch_add_explicit(&e->stats.sent, 1, memory_order_relaxed);
		if (now - due > ENGINE_LATE_NS)
			atomic_fetch_add_explicit(&e->stats.late, 1, memory_order_relaxed);
	} else if (r != -ENOTCONN) {
		atomic_fetch_add_explicit(&e->stats.send_errors, 1, memory_order_relaxed);
	}
}

/* ---- pattern slots ----------------------------------------------------- */

/* Base time of a pattern position on output `out`: swung like its clock,
 * relative to the song origin. */
static int64_t eng_pat_time(const struct engine *e, int out, int64_t pos) RT_SAFE
{
	const struct clk_output_cfg *c = &e->out[out].cfg;

	return tl_time_at(&e->tl, e->song_origin + clk_swing(pos - e->song_origin, c->swing_permille,
							       c->swing_unit));
}

static bool eng_pat_muted(const struct engine *e, int i) RT_SAFE
{
	bool any_solo = false;

	if (e->pat[i].mute)
		return true;
	for (int k = 0; k < e->npat; k++)
		any_solo = any_solo || e->pat[k].solo;
	return any_solo && !e->pat[i].solo;
}

/* Launched: playing, armed, or about to be (the pending change decides). */
static bool eng_pat_launched(const struct engine_pattern *s) RT_SAFE
{
	return (s->chg_pos != INT64_MAX ? s->chg_next : s->state) != ENGINE_PAT_STOPPED;
}

static void eng_pat_publish(struct engine *e, int i) RT_SAFE
{
	struct engine_pattern *s = &e->pat[i];
	struct engine_pat_status *st = &e->pat_status[i];

	atomic_store_explicit(&st->state, s->state, memory_order_relaxed);
	atomic_store_explicit(&st->mute, s->mute, memory_order_relaxed);
	atomic_store_explicit(&st->solo, s->solo, memory_order_relaxed);
	atomic_store_explicit(&st->queued, s->chg_pos != INT64_MAX, memory_order_relaxed);
}

/*
 * Pend a change of slot i at position `pos`: from there it is in state
 * `next` (PLAYING: loops from `origin`, playing from `from`).  A pending
 * stop earlier than `pos` keeps its position (its notes end there; a later
 * restart plays from `from`).  A slot with nothing playing or sounding
 * that does not start changes at once.
 */
static void eng_pat_change(struct engine *e, int i, int64_t pos, int next, int64_t origin,
			   int64_t from) RT_SAFE
{
	struct engine_pattern *s = &e->pat[i];
	struct notetrack_filter f = { .out = s->out, .channel = NOTETRACK_ANY, .owner = i };

	if (next != ENGINE_PAT_PLAYING && s->state != ENGINE_PAT_PLAYING &&
	    s->chg_pos == INT64_MAX && notetrack_count(&e->nt, &f) == 0) {
		s->state = next;
		eng_pat_publish(e, i);
		return;
	}
	if (s->chg_pos != INT64_MAX && s->chg_next != ENGINE_PAT_PLAYING && s->chg_pos < pos)
		pos = s->chg_pos;
	s->chg_pos = pos;
	s->chg_next = next;
	s->chg_origin = origin;
	s->chg_from = eng_max64(from, pos);
	s->tchg_done = false;
	eng_pat_publish(e, i);
}

/* Release slot i's notes at position pos, or earlier if already asked. */
static void eng_pat_release_from(struct engine *e, int i, int64_t pos) RT_SAFE
{
	e->pat[i].rel_pos = eng_min64(e->pat[i].rel_pos, pos);
}

/* Release slot i's notes at the first free position (mute, solo). */
static void eng_pat_release_soon(struct engine *e, int i, int64_t now) RT_SAFE
{
	eng_pat_release_from(e, i, eng_first_free_pos(e, now));
}

/*
 * Slot i's next item: its position and whether it is a marker (true) or
 * the cursor's event `*ev`.  Returns false when it has nothing pending.
 */
static bool eng_pat_peek(const struct engine *e, int i, int64_t *pos,
			 const struct pattern_event **ev) RT_SAFE
{
	const struct engine_pattern *s = &e->pat[i];
	int64_t marker = eng_min64(s->chg_pos, s->rel_pos), p;

	*ev = NULL;
	if (s->state == ENGINE_PAT_PLAYING && pattern_cursor_peek(&s->cur, &p, ev) && p < marker) {
		*pos = p;
		return true;
	}
	*ev = NULL;
	*pos = marker;
	return marker != INT64_MAX;
}

/* Take every note matching f (f->out is one output) from the tracker and
 * send `count` note-offs for each, due at `due`; with `remember`, set each
 * note's bit there (channel x note bits).  Returns the note-offs sent. */
static uint32_t eng_end_notes(struct engine *e, const struct notetrack_filter *f, int64_t due,
			      int64_t now, uint8_t (*remember)[16]) RT_SAFE
{
	uint32_t n, total = 0;

	do {
		n = notetrack_take(&e->nt, f, e->rel_buf, ENGINE_RELEASE_BATCH);
		for (uint32_t k = 0; k < n; k++) {
			const struct notetrack_note *nn = &e->rel_buf[k];
			struct midi_msg m = { .type = MIDI_NOTE_OFF, .channel = nn->channel,
					      .data = { nn->note, PATTERN_OFF_VELOCITY } };
			if (remember)
				remember[nn->channel][nn->note >> 3] |= (uint8_t)(1u << (nn->note & 7));
			for (uint16_t c = 0; c < nn->count; c++)
				eng_send(e, f->out, &m, due, now);
			total += nn->count;
		}
	} while (n == ENGINE_RELEASE_BATCH);
	return total;
}

/* ---- a pattern's tempo map (engine_pattern.tempo) -----------------------
 *
 * Tempo events play on the timeline like notes, at loop start + pos, but
 * are set on the timeline *ahead* of their position: `lead` before it, as
 * far ahead as the audio thread renders and the most negative output
 * offset reaches, so that nothing at or after the position has been
 * computed with the old tempo.  A change set ahead is a pending change at
 * its exact position (earlier positions keep their times).  The timeline
 * holds one pending change; when another is still pending before the
 * position, the event waits until everything before it is handed out
 * (time + the most positive offset), which commits the earlier one safely.
 * A launch first sets the tempo in force at its starting point.
 */

/* First index of p->tempo whose position is after `rel`. */
static uint32_t eng_tempo_upper(const struct pattern *p, int64_t rel) RT_SAFE
{
	uint32_t lo = 0, hi = p->ntempo;

	while (lo < hi) {
		uint32_t mid = lo + (hi - lo) / 2;
		if (p->tempo[mid].pos <= rel)
			lo = mid + 1;
		else
			hi = mid;
	}
	return lo;
}

/* The tempo in force at `from` in a play looping from `origin`: the last
 * tempo event at or before it in its loop; before the loop's first, the
 * loop's last (what the previous loop leaves in force).  ntempo > 0. */
static int64_t eng_tempo_at(const struct pattern *p, int64_t origin, int64_t from) RT_SAFE
{
	int64_t l = tl_grid_floor(eng_max64(from, origin), origin, p->length);
	uint32_t k = eng_tempo_upper(p, eng_max64(from, origin) - l);

	return p->tempo[k ? k - 1 : p->ntempo - 1].bpm_micro;
}

/* Step slot s's tempo cursor to its next event (tnext, tloop). */
static void eng_tempo_advance(struct engine_pattern *s) RT_SAFE
{
	const struct pattern *p = s->pat;

	s->tpos = s->tloop + p->tempo[s->tnext].pos;
	s->tbpm = p->tempo[s->tnext].bpm_micro;
	if (++s->tnext == p->ntempo) {
		s->tnext = 0;
		s->tloop += p->length;
	}
}

/* Point slot s's tempo cursor at the first tempo event after `from` in a
 * play looping from `origin` (the one in force at `from` is the launch's). */
static void eng_tempo_seek(struct engine_pattern *s, int64_t origin, int64_t from) RT_SAFE
{
	const struct pattern *p = s->pat;
	int64_t l;

	s->tpos = INT64_MAX;
	if (!p || p->ntempo == 0)
		return;
	from = eng_max64(from, origin);
	l = tl_grid_floor(from, origin, p->length);
	s->tnext = eng_tempo_upper(p, from - l);
	s->tloop = l;
	if (s->tnext == p->ntempo) {
		s->tnext = 0;
		s->tloop += p->length;
	}
	eng_tempo_advance(s);
}

/* Slot i's next tempo item: the current play's next event before any
 * pending change, else the starting tempo of a pending launch.  *launch
 * tells which.  False when none (tempo off, following, no tempo map). */
static bool eng_tempo_peek(const struct engine *e, int i, int64_t *pos, int64_t *bpm,
			   bool *launch) RT_SAFE
{
	const struct engine_pattern *s = &e->pat[i];

	if (!s->tempo || e->follow || !s->pat || s->pat->ntempo == 0)
		return false;
	*launch = false;
	if (s->state == ENGINE_PAT_PLAYING && s->tpos < s->chg_pos) {
		*pos = s->tpos;
		*bpm = s->tbpm;
		return true;
	}
	if (s->chg_pos != INT64_MAX && s->chg_next == ENGINE_PAT_PLAYING && !s->tchg_done) {
		*launch = true;
		*pos = s->chg_from;
		*bpm = eng_tempo_at(s->pat, s->chg_origin, s->chg_from);
		return true;
	}
	return false;
}

/* When a tempo item at `pos` is handed out (see the model above). */
static int64_t eng_tempo_due(const struct engine *e, int64_t pos) RT_SAFE
{
	if (e->tl.pending && e->tl.pend_pos < pos)
		return tl_time_at(&e->tl, pos) + eng_max_offset_ns(e);
	return tl_time_at(&e->tl, pos) - eng_max64(e->commit_ahead_ns, -eng_min_offset_ns(e));
}

/* Set slot i's next tempo item on the timeline: at its position, or at the
 * first free one when the engine is late.  A change pending after it (an
 * explicit tempo command for the next bar, say) is kept and this one
 * dropped; the same tempo changes nothing. */
static void eng_tempo_emit(struct engine *e, int i, int64_t now) RT_SAFE
{
	struct engine_pattern *s = &e->pat[i];
	int64_t pos, bpm, p;
	bool launch;

	if (!eng_tempo_peek(e, i, &pos, &bpm, &launch))
		return;
	if (launch)
		s->tchg_done = true;
	else
		eng_tempo_advance(s);
	bpm = eng_min64(eng_max64(bpm, TL_BPM_MICRO_MIN), TL_BPM_MICRO_MAX); /* files may say anything */
	p = eng_max64(pos, eng_first_free_pos(e, now));
	if ((e->tl.pending && e->tl.pend_pos > p) || tl_bpm_at(&e->tl, p) == bpm)
		return;
	if (tl_set_tempo_at(&e->tl, p, bpm) == 0) {
		e->tl_dirty = true;
		atomic_fetch_add_explicit(&e->stats.pat_tempos, 1, memory_order_relaxed);
		eng_note(e, ENGINE_NOTE_TEMPO, 0, tl_time_at(&e->tl, p), bpm);
	}
}

/* Send `count` note-offs for every note of slot i the tracker holds. */
static void eng_pat_release(struct engine *e, int i, int64_t due, int64_t now) RT_SAFE
{
	struct notetrack_filter f = { .out = e->pat[i].out, .channel = NOTETRACK_ANY, .owner = i };

	eng_end_notes(e, &f, due, now, NULL);
}

/* Hand out slot i's next item (the one eng_next_event() found due). */
static void eng_pat_emit(struct engine *e, int i, int64_t now) RT_SAFE
{
	struct engine_pattern *s = &e->pat[i];
	const struct pattern_event *ev;
	int64_t pos, base, due;

	if (!eng_pat_peek(e, i, &pos, &ev))
		return;
	base = eng_pat_time(e, s->out, pos);
	due = base + eng_offset_ns(e, s->out);
	e->committed_t = eng_max64(e->committed_t, base);
	if (!ev) {
		eng_pat_release(e, i, due, now);
		if (s->rel_pos <= pos)
			s->rel_pos = INT64_MAX;
		if (s->chg_pos <= pos) {
			s->state = s->chg_next;
			s->chg_pos = INT64_MAX;
			if (s->state == ENGINE_PAT_PLAYING) {
				pattern_cursor_init(&s->cur, s->pat, s->chg_origin, s->chg_from);
				s->last_loop = INT64_MIN;
				/* the starting tempo went out ahead (tchg_done); if it
				 * did not (tempo off then), it is not due any more */
				eng_tempo_seek(s, s->chg_origin, s->chg_from);
			}
		}
		eng_pat_publish(e, i);
		return;
	}
	if (s->cur.loop_start != s->last_loop) {
		s->last_loop = s->cur.loop_start;
		atomic_fetch_add_explicit(&e->pat_status[i].loops, 1, memory_order_relaxed);
	}
	pattern_cursor_next(&s->cur);
	if (ev->msg.type == MIDI_NOTE_ON) {
		int r;
		if (eng_pat_muted(e, i))
			return;
		r = notetrack_on(&e->nt, s->out, ev->msg.channel, ev->msg.data[0], i);
		if (r < 0) {
			/* an untracked note could stick; a missing one cannot */
			atomic_fetch_add_explicit(&e->stats.notes_refused, 1, memory_order_relaxed);
			return;
		}
	} else if (ev->msg.type == MIDI_NOTE_OFF) {
		/* only what this slot has sounding (not what a mute released) */
		if (notetrack_off(&e->nt, s->out, ev->msg.channel, ev->msg.data[0], i) < 0)
			return;
	} else if (eng_pat_muted(e, i)) {
		return;
	}
	eng_send(e, s->out, &ev->msg, due, now);
}

/* Earliest pending event: returns its due time (INT64_MAX if none); *out
 * is the output index for a pulse, ENG_TQ for the one-shot queue head,
 * ENG_PAT(slot) for a pattern slot's next item, ENG_NONE for nothing. */
static int64_t eng_next_event(struct engine *e, int *out, int64_t *base) RT_SAFE
{
	int64_t best = INT64_MAX, due, b, tq_due, pos;
	const struct pattern_event *ev;

	*out = ENG_NONE;
	for (int i = 0; i < e->nout; i++) {
		if (eng_out_peek(e, &e->out[i], &due, &b) && due < best) {
			best = due;
			*base = b;
			*out = i;
		}
	}
	if (tqueue_peek(&e->tq, &tq_due, NULL) == 0 && tq_due <= best) {
		best = tq_due;
		*out = ENG_TQ;
	}
	for (int i = 0; i < e->npat; i++) {
		int64_t bpm;
		bool launch;
		if (eng_pat_peek(e, i, &pos, &ev)) {
			b = eng_pat_time(e, e->pat[i].out, pos);
			due = b + eng_offset_ns(e, e->pat[i].out);
			if (due < best || (due == best && !ev && *out > ENG_PAT(0))) {
				best = due;
				*base = b;
				*out = ENG_PAT(i);
			}
		}
		/* a tempo item wins ties: it changes times after it, not at it */
		if (eng_tempo_peek(e, i, &pos, &bpm, &launch) && (due = eng_tempo_due(e, pos)) <= best) {
			best = due;
			*out = ENG_TEMPO(i);
		}
	}
	return best;
}

static void eng_emit(struct engine *e, int64_t now) RT_SAFE
{
	int64_t horizon = eng_min64(now + e->lookahead_ns, e->emit_limit - 1);
	bool any = false;

	for (;;) {
		int out;
		int64_t base = 0, due = eng_next_event(e, &out, &base);

		if (due > horizon || out == ENG_NONE)
			break;
		if (out <= ENG_TEMPO(0)) {
			eng_tempo_emit(e, ENG_TEMPO(out), now);
		} else if (out <= ENG_PAT(0)) {
			eng_pat_emit(e, ENG_PAT(out), now);
		} else if (out == ENG_TQ) {
			void *item;
			struct engine_event *ev;
			tqueue_pop(&e->tq, &due, &item);
			ev = item;
			eng_send(e, ev->out, &ev->msg, due, now);
			e->committed_t = eng_max64(e->committed_t, ev->base);
			pool_put(&e->ev_pool, ev);
		} else {
			struct midi_msg m = { .type = MIDI_CLOCK };
			eng_send(e, out, &m, due, now);
			e->out[out].k++;
			e->committed_t = eng_max64(e->committed_t, base);
		}
		any = true;
	}
	if (any && e->midi)
		e->midi->ops->flush(e->midi);
	e->emitted_to = eng_max64(e->emitted_to, horizon);
	atomic_store_explicit(&e->stats.sounding, e->nt.sounding, memory_order_relaxed);
}

/* Move the start point P forward on its grid until the earliest message
 * (lead_mult leads before P, with the most negative offset) is not late. */
static int64_t eng_not_late(const struct engine *e, int64_t p, int64_t step, int lead_mult,
			    int64_t now) RT_SAFE
{
	int64_t min_off = eng_min_offset_ns(e);

	while (tl_time_at(&e->tl, p) - lead_mult * eng_lead_ns(e, p) + min_off < now)
		p += step;
	return p;
}

/* The transport plays from position p (start, continue, locate): every
 * launched pattern (re)starts there, looping from song position 0, so that
 * its phase follows the song position. */
static void eng_pat_transport_play(struct engine *e, int64_t p) RT_SAFE
{
	for (int i = 0; i < e->npat; i++)
		if (eng_pat_launched(&e->pat[i]))
			eng_pat_change(e, i, p, ENGINE_PAT_PLAYING, e->song_origin, p);
}

/* Playback (re)starts at position p, which becomes song position 0: every
 * output's pulse grid restarts there and Start goes out `lead` before that
 * downbeat pulse (the first Clock after Start is beat 1).  Shared by the
 * Start command and a followed input's Start. */
static void eng_play_at(struct engine *e, int64_t p, int64_t lead) RT_SAFE
{
	int64_t t = tl_time_at(&e->tl, p);

	e->play_from = e->transport == ENGINE_PLAYING ? eng_min64(e->play_from, p) : p;
	e->play_until = INT64_MAX;
	e->song_origin = p;
	e->transport = ENGINE_PLAYING;
	for (int i = 0; i < e->nout; i++) {
		eng_out_regrid(&e->out[i], p, p);
		if (e->out[i].cfg.transport)
			eng_enqueue(e, i, MIDI_START, 0, 0, t - lead);
	}
	eng_pat_transport_play(e, p);
	eng_note(e, ENGINE_NOTE_TRANSPORT, ENGINE_PLAYING, t, 0);
}

static int eng_cmd_start(struct engine *e, uint32_t when, int64_t now) RT_SAFE
{
	int64_t step = when == ENGINE_WHEN_BAR ? e->quantum * TL_UNITS_PER_BEAT
		       : when == ENGINE_WHEN_BEAT ? TL_UNITS_PER_BEAT
						  : TL_UNITS_PER_TICK;
	int64_t p;

	if (when > ENGINE_WHEN_BAR)
		return -EINVAL;
	p = tl_grid_ceil(eng_first_free_pos(e, now + e->lookahead_ns), e->song_origin, step);
	p = eng_not_late(e, p, step, 1, now);
	eng_play_at(e, p, eng_lead_ns(e, p));
	return 0;
}

static int eng_cmd_stop(struct engine *e, int64_t now) RT_SAFE
{
	int64_t p = tl_grid_ceil(eng_first_free_pos(e, now + e->lookahead_ns), e->song_origin,
				 TL_UNITS_PER_TICK);
	int64_t t, lead;

	if (e->transport == ENGINE_PLAYING && p < e->play_from)
		p = e->play_from; /* a start still pending: stop right there */
	p = eng_not_late(e, p, TL_UNITS_PER_TICK, 1, now);
	t = tl_time_at(&e->tl, p);
	lead = eng_lead_ns(e, p);
	if (e->transport == ENGINE_PLAYING) {
		e->play_until = p;
		e->stopped_song_pos = p - e->song_origin;
		e->transport = ENGINE_STOPPED;
		/* launched patterns end their notes at the stop point and wait */
		for (int i = 0; i < e->npat; i++)
			if (eng_pat_launched(&e->pat[i]))
				eng_pat_change(e, i, p, ENGINE_PAT_ARMED, 0, p);
	}
	/* Stop while stopped repeats the Stop message: harmless, and it puts
	 * back in line a device that missed the first one. */
	for (int i = 0; i < e->nout; i++)
		if (e->out[i].cfg.transport)
			eng_enqueue(e, i, MIDI_STOP, 0, 0, t - lead);
	eng_note(e, ENGINE_NOTE_TRANSPORT, ENGINE_STOPPED, t, e->stopped_song_pos);
	return 0;
}

/* Stop/SPP/Continue at position p resuming song position `song` there,
 * `lead` apart. */
static void eng_resume_at(struct engine *e, int64_t p, int64_t song, bool with_stop,
			  int64_t lead) RT_SAFE
{
	int64_t t = tl_time_at(&e->tl, p);
	int64_t spp = song / ENG_SIXTEENTH;

	e->song_origin = p - song;
	eng_pat_transport_play(e, p);
	for (int i = 0; i < e->nout; i++) {
		struct engine_output *o = &e->out[i];
		eng_out_regrid(o, p, e->song_origin);
		if (with_stop && o->cfg.transport)
			eng_enqueue(e, i, MIDI_STOP, 0, 0, t - 3 * lead);
		if (o->cfg.spp)
			eng_enqueue(e, i, MIDI_SONG_POSITION, (uint8_t)(spp & 0x7f),
				    (uint8_t)((spp >> 7) & 0x7f), t - 2 * lead);
		if (o->cfg.transport)
			eng_enqueue(e, i, MIDI_CONTINUE, 0, 0, t - lead);
	}
}

static int eng_cmd_continue(struct engine *e, int64_t now) RT_SAFE
{
	int64_t song, p;

	if (e->transport == ENGINE_PLAYING)
		return -EALREADY;
	/* Receivers resume at the SPP, which counts 16ths: resume there too. */
	song = tl_grid_floor(e->stopped_song_pos, 0, ENG_SIXTEENTH);
	if (song / ENG_SIXTEENTH > ENG_SPP_MAX)
		song = (int64_t)ENG_SPP_MAX * ENG_SIXTEENTH;
	p = tl_grid_ceil(eng_first_free_pos(e, now + e->lookahead_ns), e->song_origin,
			 TL_UNITS_PER_TICK);
	p = eng_not_late(e, p, TL_UNITS_PER_TICK, 2, now);
	e->play_from = p;
	e->play_until = INT64_MAX;
	e->transport = ENGINE_PLAYING;
	eng_resume_at(e, p, song, false, eng_lead_ns(e, p));
	eng_note(e, ENGINE_NOTE_TRANSPORT, ENGINE_PLAYING, tl_time_at(&e->tl, p), song);
	return 0;
}

static int eng_cmd_locate(struct engine *e, int64_t sixteenths, int64_t now) RT_SAFE
{
	int64_t song = sixteenths * ENG_SIXTEENTH, p;

	if (sixteenths < 0 || sixteenths > ENG_SPP_MAX)
		return -ERANGE;
	if (e->transport == ENGINE_STOPPED) {
		int64_t t = tl_time_at(&e->tl, eng_first_free_pos(e, now + e->lookahead_ns));
		e->stopped_song_pos = song;
		for (int i = 0; i < e->nout; i++)
			if (e->out[i].cfg.spp)
				eng_enqueue(e, i, MIDI_SONG_POSITION, (uint8_t)(sixteenths & 0x7f),
					    (uint8_t)((sixteenths >> 7) & 0x7f),
					    t - eng_min_offset_ns(e));
		eng_note(e, ENGINE_NOTE_LOCATE, 0, t, song);
		return 0;
	}
	/* Playing: devices only take SPP while stopped, so jump with
	 * Stop, SPP, Continue on the next 16th. */
	p = tl_grid_ceil(eng_first_free_pos(e, now + e->lookahead_ns), e->song_origin,
			 ENG_SIXTEENTH);
	p = eng_not_late(e, p, ENG_SIXTEENTH, 3, now);
	eng_resume_at(e, p, song, true, eng_lead_ns(e, p));
	eng_note(e, ENGINE_NOTE_LOCATE, 0, tl_time_at(&e->tl, p), song);
	return 0;
}

static int eng_cmd_tempo(struct engine *e, int64_t bpm, uint32_t when, int64_t now) RT_SAFE
{
	int64_t p = eng_first_free_pos(e, now);
	int r;

	if (when > ENGINE_WHEN_BAR)
		return -EINVAL;
	if (!tl_bpm_valid(bpm))
		return -ERANGE;
	if (when == ENGINE_WHEN_BEAT)
		p = tl_grid_ceil(p, e->song_origin, TL_UNITS_PER_BEAT);
	else if (when == ENGINE_WHEN_BAR)
		p = tl_grid_ceil(p, e->song_origin, e->quantum * TL_UNITS_PER_BEAT);
	tl_reanchor(&e->tl, eng_first_free_pos(e, now) - 1);
	r = tl_set_tempo_at(&e->tl, p, bpm);
	if (r == 0)
		eng_note(e, ENGINE_NOTE_TEMPO, 0, tl_time_at(&e->tl, p), bpm);
	return r;
}

static int eng_cmd_output(struct engine *e, uint32_t u32, int64_t v, int64_t now) RT_SAFE
{
	unsigned idx = u32 & 0xff, field = u32 >> 8;
	struct clk_output_cfg c;
	struct engine_output *o;

	if (idx >= (unsigned)e->nout)
		return -ENOENT;
	o = &e->out[idx];
	c = o->cfg;
	switch (field) {
	case ENGINE_OUT_ENABLED: c.enabled = v != 0; break;
	case ENGINE_OUT_PPQN:
		if (v < CLK_PPQN_MIN || v > CLK_PPQN_MAX)
			return -ERANGE;
		c.ppqn = (int)v;
		break;
	case ENGINE_OUT_OFFSET_US:
		if (v < -(e->lookahead_ns / 1000) || v > CLK_OFFSET_MAX_US)
			return -ERANGE;
		c.offset_us = (int32_t)v;
		break;
	case ENGINE_OUT_SWING:
		if (v < CLK_SWING_MIN || v > CLK_SWING_MAX)
			return -ERANGE;
		c.swing_permille = (int)v;
		break;
	case ENGINE_OUT_SWING_UNIT:
		if (v != 8 && v != 16)
			return -ERANGE;
		c.swing_unit = (int)v;
		break;
	case ENGINE_OUT_CLOCK_WHILE_STOPPED: c.clock_while_stopped = v != 0; break;
	case ENGINE_OUT_TRANSPORT: c.transport = v != 0; break;
	case ENGINE_OUT_SPP: c.spp = v != 0; break;
	default:
		return -EINVAL;
	}
	o->cfg = c;
	if (field == ENGINE_OUT_ENABLED || field == ENGINE_OUT_PPQN ||
	    field == ENGINE_OUT_CLOCK_WHILE_STOPPED) {
		o->regrid = false;
		eng_out_resync(e, o, now);
	}
	return 0;
}

/* ---- following an external clock --------------------------------------- */

static void eng_follow_set_state(struct engine *e, int st, int64_t now) RT_SAFE
{
	if (st == e->follow_state)
		return;
	e->follow_state = st;
	atomic_store_explicit(&e->stats.follow_state, st, memory_order_relaxed);
	eng_note(e, ENGINE_NOTE_FOLLOW, (uint32_t)st, now, clk_follow_bpm_micro(&e->fol));
}

static int eng_cmd_follow(struct engine *e, bool on, int64_t now) RT_SAFE
{
	if (on && e->follow_port < 0)
		return -ENODEV; /* no input port to follow was configured */
	e->follow = on;
	clk_follow_reset(&e->fol);
	clk_xport_init(&e->xp);
	e->fol_last_n = -1;
	e->fol_aligned = false;
	eng_follow_set_state(e, on ? ENGINE_FOLLOW_WAITING : ENGINE_FOLLOW_OFF, now);
	return 0;
}

/*
 * Lock the timeline to the follower: input clock n sits at position
 * fol_pos0 + n * TICK.  Aim at a future input clock P whose predicted time
 * T is a period beyond everything already handed out, and slew, as a PLL
 * does: the timeline stays continuous at the first position neither sent
 * nor past, runs at the tempo that reaches P exactly at T, and from P on at
 * the estimated tempo.  P is the first such clock for which that slew tempo
 * is within +-25 % of the estimate, so a phase error of D ticks is spread
 * over about 4 D clocks and never moves an event already sent or into the
 * past.  ENG_FOL_REBASE (the first lock of an acquisition) re-bases the
 * mapping instead, by whole 24 PPQN ticks, so that P is our next unsent
 * tick: the grid stays aligned.  ENG_FOL_SLEW keeps the mapping - after a
 * tempo step the master's clock n is still song clock n - and re-bases only
 * when no slew within ENG_SLEW_MAX_TICKS can absorb the error; ENG_FOL_TRACK
 * (the follower re-acquiring after a step, not yet locked) only slews.
 */
#define ENG_SLEW_MAX_PERMILLE 250
#define ENG_SLEW_MAX_TICKS 96 /* 4 beats */

enum { ENG_FOL_REBASE, ENG_FOL_SLEW, ENG_FOL_TRACK };

static void eng_follow_anchor(struct engine *e, int64_t n, int64_t now, int mode) RT_SAFE
{
	int64_t bpm = clk_follow_bpm_micro(&e->fol), t, p, first, t_first, slew;
	int64_t period = (int64_t)clk_follow_period_ns(&e->fol);
	int64_t limit = eng_max64(e->committed_t, now); /* sent, or in the past */
	int64_t horizon = eng_max64(e->committed_t, now + e->lookahead_ns) + period;
	struct timeline cand;
	int k = 1;

	if (!tl_bpm_valid(bpm))
		return;
	while ((t = clk_follow_predict_ns(&e->fol, n + k)) <= horizon && k < 256)
		k++;
	if (t <= horizon)
		return;
	first = tl_pos_at(&e->tl, limit) + 1; /* the first position neither sent nor past */
	t_first = tl_time_at(&e->tl, first);
	for (int j = k; mode != ENG_FOL_REBASE && j < k + ENG_SLEW_MAX_TICKS; j++) {
		int64_t tj = clk_follow_predict_ns(&e->fol, n + j);
		int64_t pj = e->fol_pos0 + (n + j) * TL_UNITS_PER_TICK;
		if (pj <= first || tj <= t_first)
			continue; /* ahead of the master: aim further out, so that we wait */
		slew = tl_bpm_for(pj - first, tj - t_first);
		if (tl_bpm_valid(slew) && eng_abs64(slew - bpm) * 1000 <= bpm * ENG_SLEW_MAX_PERMILLE &&
		    tl_init(&cand, t_first, first, slew) == 0 && tl_set_tempo_at(&cand, pj, bpm) == 0) {
			e->tl = cand;
			e->tl_dirty = true;
			return;
		}
	}
	if (mode == ENG_FOL_TRACK)
		return;
	/* re-base: P, the first clock beyond the horizon (at time t), becomes
	 * our next unsent tick - not one of the clocks the slew search tried
	 * further out, which would leave a gap in the clock */
	p = e->fol_pos0 + (n + k) * TL_UNITS_PER_TICK;
	first = tl_grid_ceil(first, e->song_origin, TL_UNITS_PER_TICK);
	e->fol_pos0 += first - p;
	if (tl_init(&cand, t, first, bpm) < 0)
		return;
	e->tl = cand;
	e->tl_dirty = true;
}

/*
 * The lead between the `leads` messages that precede the pulse at p and
 * it: eng_lead_ns(), shortened so that none of them is in the past (a
 * master often sends its clock right after its Start), or 0 when not even
 * ENG_LEAD_MIN_NS fits.
 */
#define ENG_LEAD_MIN_NS INT64_C(50000)

static int64_t eng_fit_lead(const struct engine *e, int64_t p, int leads, int64_t now) RT_SAFE
{
	int64_t room = (tl_time_at(&e->tl, p) + eng_min_offset_ns(e) - now) / leads;
	int64_t lead = eng_min64(eng_lead_ns(e, p), room);

	return lead >= ENG_LEAD_MIN_NS ? lead : 0;
}

/*
 * The followed input (re)starts playback - Start, Continue, or a Song
 * Position Pointer while playing (a jump) - at its next clock, at song
 * clock `pos`.  That clock is ours at fol_pos0 + (n + 1) ticks.  When that
 * position is already handed out, or too close for the messages that must
 * precede it, we join the master on the first 16th after it where they fit,
 * at the song position the master has there, so that our song position
 * stays the master's: a Start then goes out as SPP + Continue.  A jump while
 * playing goes out as Stop, SPP, Continue (devices take SPP only stopped).
 */
static void eng_follow_play(struct engine *e, int type, int64_t pos, int64_t now) RT_SAFE
{
	int64_t p = e->fol_pos0 + (e->fol_last_n + 1) * TL_UNITS_PER_TICK, song = pos * TL_UNITS_PER_TICK;
	int64_t ff = eng_first_free_pos(e, now), lead = 0;
	bool playing = e->transport == ENGINE_PLAYING, jump = type == MIDI_SONG_POSITION;

	if (p >= ff)
		lead = eng_fit_lead(e, p, jump ? 3 : type == MIDI_CONTINUE ? 2 : 1, now);
	if (!lead) {
		int64_t q = tl_grid_ceil(eng_max64(p, ff), p, ENG_SIXTEENTH);

		while (!(lead = eng_fit_lead(e, q, jump ? 3 : 2, now)))
			q += ENG_SIXTEENTH;
		song += q - p;
		p = q;
		type = jump ? type : MIDI_CONTINUE;
	}
	if (type == MIDI_START) {
		eng_play_at(e, p, lead);
		return;
	}
	e->play_from = playing ? eng_min64(e->play_from, p) : p;
	e->play_until = INT64_MAX;
	e->transport = ENGINE_PLAYING;
	eng_resume_at(e, p, song, jump && playing, lead);
	eng_note(e, jump ? ENGINE_NOTE_LOCATE : ENGINE_NOTE_TRANSPORT, jump ? 0 : ENGINE_PLAYING,
		 tl_time_at(&e->tl, p), song);
}

/* Transport of the followed input (clk_xport), acted on our outputs. */
static void eng_follow_xport(struct engine *e, const struct midi_msg *m, int64_t now) RT_SAFE
{
	int64_t pos = 0;
	int a = clk_xport_msg(&e->xp, m, &pos);

	switch (a) {
	case CLK_XPORT_ARM:
		/* the next input clock is the (re)start point at song clock `pos` */
		eng_follow_play(e, m->type, pos, now);
		e->tl_dirty = true;
		break;
	case CLK_XPORT_STOP:
		if (e->transport == ENGINE_PLAYING)
			eng_cmd_stop(e, now);
		e->tl_dirty = true;
		break;
	case CLK_XPORT_LOCATE:
		/* stopped: pass the position on; playing: the master jumped, and
		 * its next clock is at `pos` */
		if (e->transport == ENGINE_STOPPED)
			eng_cmd_locate(e, pos / CLK_XPORT_TICKS_PER_SPP, now);
		else if (e->xp.state == CLK_XPORT_PLAYING)
			eng_follow_play(e, MIDI_SONG_POSITION, pos, now);
		e->tl_dirty = true;
		break;
	default:
		break;
	}
}

static void eng_follow_clock(struct engine *e, int64_t t_ns, int64_t now) RT_SAFE
{
	int r = clk_follow_tick(&e->fol, t_ns);
	int64_t n;

	if (r < 0)
		return; /* rejected (too soon, backwards): counted by the follower */
	n = e->fol.n_last;
	atomic_fetch_add_explicit(&e->stats.follow_ticks, 1, memory_order_relaxed);
	if (n == 0 || e->fol_last_n < 0) {
		/* a new acquisition: input clock 0 goes on our 24 PPQN grid, at the
		 * grid position nearest to when it arrived */
		int64_t pos = tl_pos_at(&e->tl, t_ns);
		e->fol_pos0 = tl_grid_ceil(pos - TL_UNITS_PER_TICK / 2, e->song_origin, TL_UNITS_PER_TICK) -
			      n * TL_UNITS_PER_TICK;
		e->fol_aligned = false;
	}
	e->fol_last_n = n;
	if (clk_follow_locked(&e->fol)) {
		eng_follow_anchor(e, n, now, e->fol_aligned ? ENG_FOL_SLEW : ENG_FOL_REBASE);
		e->fol_aligned = true;
		eng_follow_set_state(e, ENGINE_FOLLOW_LOCKED, now);
	} else {
		/* re-acquiring after a tempo step: the fit restarted from the
		 * ticks that showed the step; follow it already, by slewing */
		if (e->fol_aligned && clk_follow_period_ns(&e->fol) > 0.0)
			eng_follow_anchor(e, n, now, ENG_FOL_TRACK);
		eng_follow_set_state(e, ENGINE_FOLLOW_ACQUIRING, now);
	}
	atomic_store_explicit(&e->stats.follow_bpm, clk_follow_bpm_micro(&e->fol),
			      memory_order_relaxed);
}

/* Read every pending input event; the followed port's clock and transport
 * drive the follower, everything else is not used by the engine yet. */
static void eng_input(struct engine *e, int64_t now) RT_SAFE
{
	struct midi_event_in ev;

	if (!e->midi)
		return;
	while (e->midi->ops->recv(e->midi, &ev) == 0) {
		if (!e->follow || (int)ev.port != e->follow_port)
			continue;
		if (ev.msg.type == MIDI_CLOCK)
			eng_follow_clock(e, ev.t_ns, now);
		if (ev.msg.type == MIDI_CLOCK || ev.msg.type == MIDI_START ||
		    ev.msg.type == MIDI_CONTINUE || ev.msg.type == MIDI_STOP ||
		    ev.msg.type == MIDI_SONG_POSITION)
			eng_follow_xport(e, &ev.msg, now);
	}
	if (e->follow && clk_follow_check_loss(&e->fol, now)) {
		atomic_fetch_add_explicit(&e->stats.follow_losses, 1, memory_order_relaxed);
		e->fol_last_n = -1;
		clk_xport_init(&e->xp);
		eng_follow_set_state(e, ENGINE_FOLLOW_LOST, now);
		if (e->follow_stop_on_loss)
			RTLOG(&e->log, LOG_WARNING, now, "follow: external clock lost; stopping");
		else
			RTLOG(&e->log, LOG_WARNING, now, "follow: external clock lost; free-running");
		if (e->follow_stop_on_loss && e->transport == ENGINE_PLAYING)
			eng_cmd_stop(e, now);
		e->tl_dirty = true;
	}
}

/* Panic: CC 123 (All Notes Off) on all 16 channels of every output, at
 * the first free instant.  The sequencer adds explicit note-offs for the
 * notes it knows are sounding; CC 123 is the extra for everything else. */
static int eng_cmd_panic(struct engine *e, int64_t now) RT_SAFE
{
	int64_t ff = eng_first_free_pos(e, now);
	int64_t t0 = tl_time_at(&e->tl, ff) - eng_min_offset_ns(e);

	/* explicit note-offs first: every slot's notes at the first free
	 * position - the one computed once, above: the clock moves between
	 * two reads - and CC 123 no earlier than them (markers win ties) */
	for (int i = 0; i < e->npat; i++)
		if (e->pat[i].pat)
			eng_pat_release_from(e, i, ff);
	for (int i = 0; i < e->nout; i++) {
		int64_t t = eng_max64(t0, eng_pat_time(e, i, ff));
		for (uint8_t ch = 0; ch < 16; ch++) {
			struct engine_event *ev = pool_get(&e->ev_pool);
			if (!ev) {
				atomic_fetch_add_explicit(&e->stats.event_drops, 1, memory_order_relaxed);
				return -ENOSPC;
			}
			ev->out = (uint16_t)i;
			ev->msg = (struct midi_msg){ .type = MIDI_CONTROL_CHANGE, .channel = ch,
						     .data = { 123, 0 } };
			ev->base = t;
			if (tqueue_push(&e->tq, t + eng_offset_ns(e, i), ev) < 0) {
				pool_put(&e->ev_pool, ev);
				return -ENOSPC;
			}
		}
	}
	return 0;
}

/* The quantized point of a pattern launch or stop: the next bar, beat or
 * 24 PPQN tick of the song grid after everything committed (and after
 * the lookahead, so nothing is late), never before the transport plays. */
static int64_t eng_pat_point(struct engine *e, int64_t when, int64_t now) RT_SAFE
{
	int64_t step = when == ENGINE_WHEN_BAR ? e->quantum * TL_UNITS_PER_BEAT
		       : when == ENGINE_WHEN_BEAT ? TL_UNITS_PER_BEAT
						  : TL_UNITS_PER_TICK;
	int64_t p = tl_grid_ceil(eng_first_free_pos(e, now + e->lookahead_ns), e->song_origin, step);

	if (p < e->play_from)
		p = tl_grid_ceil(e->play_from, e->song_origin, step);
	return p;
}

/* Slot i was launched: every other launched slot of its group stops at
 * position p (their notes end there, where i starts). */
static void eng_pat_group_stop(struct engine *e, int i, int64_t p) RT_SAFE
{
	if (e->pat[i].group == 0)
		return;
	for (int k = 0; k < e->npat; k++)
		if (k != i && e->pat[k].pat && e->pat[k].group == e->pat[i].group &&
		    eng_pat_launched(&e->pat[k]))
			eng_pat_change(e, k, p, ENGINE_PAT_STOPPED, 0, p);
}

static int eng_cmd_pattern(struct engine *e, uint32_t type, uint32_t slot, int64_t arg,
			   int64_t now) RT_SAFE
{
	struct engine_pattern *s;
	bool was_muted[ENGINE_MAX_PATTERNS];
	int64_t p;

	if (slot >= (uint32_t)e->npat || !e->pat[slot].pat)
		return -ENOENT;
	s = &e->pat[slot];
	switch (type) {
	case ENGINE_CMD_PATTERN_LAUNCH:
		if (arg < ENGINE_WHEN_NOW || arg > ENGINE_WHEN_BAR)
			return -EINVAL;
		if (e->transport != ENGINE_PLAYING) {
			/* waits for the transport: starts with it */
			if (s->chg_pos != INT64_MAX)
				s->chg_next = s->chg_next == ENGINE_PAT_STOPPED ? ENGINE_PAT_ARMED : s->chg_next;
			else if (s->state == ENGINE_PAT_STOPPED)
				s->state = ENGINE_PAT_ARMED;
			eng_pat_publish(e, (int)slot);
			eng_pat_group_stop(e, (int)slot, eng_first_free_pos(e, now));
			return 0;
		}
		/* playing already: a relaunch restarts it - its notes end there -
		 * and the others of its group stop at the same point (a switch) */
		p = eng_pat_point(e, arg, now);
		eng_pat_change(e, (int)slot, p, ENGINE_PAT_PLAYING, p, p);
		eng_pat_group_stop(e, (int)slot, p);
		return 0;
	case ENGINE_CMD_PATTERN_STOP:
		if (arg < ENGINE_WHEN_NOW || arg > ENGINE_WHEN_BAR)
			return -EINVAL;
		if (!eng_pat_launched(s))
			return -EALREADY;
		p = e->transport == ENGINE_PLAYING ? eng_pat_point(e, arg, now)
						   : eng_first_free_pos(e, now);
		eng_pat_change(e, (int)slot, p, ENGINE_PAT_STOPPED, 0, p);
		return 0;
	case ENGINE_CMD_PATTERN_MUTE:
	case ENGINE_CMD_PATTERN_SOLO:
		for (int i = 0; i < e->npat; i++)
			was_muted[i] = eng_pat_muted(e, i);
		if (type == ENGINE_CMD_PATTERN_MUTE)
			s->mute = arg != 0;
		else
			s->solo = arg != 0;
		for (int i = 0; i < e->npat; i++) {
			if (!was_muted[i] && eng_pat_muted(e, i))
				eng_pat_release_soon(e, i, now);
			eng_pat_publish(e, i);
		}
		return 0;
	default:
		return -EINVAL;
	}
}

/* The first free instant of output `out` (as its patterns would play
 * there) as a due time; it becomes committed. */
static int64_t eng_out_free_due(struct engine *e, int out, int64_t now) RT_SAFE
{
	int64_t base = eng_pat_time(e, out, eng_first_free_pos(e, now));

	e->committed_t = eng_max64(e->committed_t, base);
	return base + eng_offset_ns(e, out);
}

/*
 * An output's port lost a peer (a device unplugged, a client gone).  The
 * port may have other peers still listening, so its sounding notes end now
 * with explicit note-offs (which the lost peer does not get) - and they are
 * remembered: the device may come back still holding them (a DIN interface
 * replugged while its synth stayed on), and then ENGINE_CMD_OUTPUT_BACK
 * ends them there too.
 */
static int eng_cmd_output_lost(struct engine *e, uint32_t out, int64_t now) RT_SAFE
{
	struct notetrack_filter f = { .out = (int)out, .channel = NOTETRACK_ANY, .owner = NOTETRACK_ANY };
	uint32_t total;

	if (out >= (uint32_t)e->nout)
		return -ENOENT;
	if (notetrack_count(&e->nt, &f) == 0)
		return 0; /* nothing sounds: nothing to send, nothing committed */
	total = eng_end_notes(e, &f, eng_out_free_due(e, (int)out, now), now, e->lost_notes[out]);
	if (e->midi)
		e->midi->ops->flush(e->midi);
	atomic_fetch_add_explicit(&e->stats.notes_at_loss, total, memory_order_relaxed);
	atomic_store_explicit(&e->stats.sounding, e->nt.sounding, memory_order_relaxed);
	return 0;
}

/* The output's port has a peer again: end the notes remembered at a loss
 * that nothing sounds now (a note struck again since keeps sounding). */
static int eng_cmd_output_back(struct engine *e, uint32_t out, int64_t now) RT_SAFE
{
	int64_t due = 0;
	bool any = false;

	if (out >= (uint32_t)e->nout)
		return -ENOENT;
	for (int ch = 0; ch < 16; ch++)
		for (int note = 0; note < 128; note++) {
			struct midi_msg m = { .type = MIDI_NOTE_OFF, .channel = (uint8_t)ch,
					      .data = { (uint8_t)note, PATTERN_OFF_VELOCITY } };
			if (!(e->lost_notes[out][ch][note >> 3] & (1u << (note & 7))))
				continue;
			if (!any)
				due = eng_out_free_due(e, (int)out, now);
			any = true;
			if (notetrack_sounding(&e->nt, (int)out, ch, note) == 0)
				eng_send(e, (int)out, &m, due, now);
		}
	for (int ch = 0; ch < 16; ch++)
		for (int b = 0; b < 16; b++)
			e->lost_notes[out][ch][b] = 0;
	if (any && e->midi)
		e->midi->ops->flush(e->midi);
	return 0;
}

/* Whether two pattern names are the same (no libc on the RT path). */
static bool eng_same_name(const char *a, const char *b) RT_SAFE
{
	size_t i = 0;

	while (a[i] && a[i] == b[i])
		i++;
	return a[i] == b[i];
}

/*
 * A new pattern table (a reload).  Slots whose pattern and output stay keep
 * playing untouched (a changed group or tempo flag applies at once).  A
 * slot given a new version of its pattern (the same name) ends its notes at
 * the first free instant and plays the new one on from there, in the same
 * phase (same loop origin); its state, pending change, mute and solo stay.
 * A slot emptied, or given a pattern of another name, ends its notes and
 * starts afresh (stopped).  Afterwards the engine holds no pointer to a
 * pattern the table does not name, which stats.pat_table_gen tells the
 * caller.
 */
static int eng_cmd_pat_table(struct engine *e, const struct engine_pat_table *t, uint32_t gen,
			     int64_t now) RT_SAFE
{
	const struct engine_pat_slot none = { 0 };
	int n;
	bool sent = false;

	if (!t || eng_pat_table_check(t, e->nout) < 0)
		return -EINVAL;
	n = t->n > e->npat ? t->n : e->npat;
	for (int i = 0; i < n; i++) {
		const struct engine_pat_slot *ns = i < t->n ? &t->slot[i] : &none;
		struct engine_pattern *s = &e->pat[i];
		struct notetrack_filter f = { .out = s->out, .channel = NOTETRACK_ANY, .owner = i };
		int64_t ff;

		if (ns->pat == s->pat && (!ns->pat || ns->out == s->out)) {
			s->group = ns->group;
			s->tempo = ns->tempo;
			continue;
		}
		if (s->pat && notetrack_count(&e->nt, &f) > 0) {
			eng_end_notes(e, &f, eng_out_free_due(e, s->out, now), now, NULL);
			sent = true;
		}
		if (!ns->pat || !s->pat || !eng_same_name(s->pat->name, ns->pat->name)) {
			*s = (struct engine_pattern){
				.state = ENGINE_PAT_STOPPED,
				.chg_pos = INT64_MAX,
				.rel_pos = INT64_MAX,
				.last_loop = INT64_MIN,
				.tpos = INT64_MAX,
			};
			atomic_store_explicit(&e->pat_status[i].loops, 0, memory_order_relaxed);
		}
		if (ns->pat) {
			s->pat = ns->pat;
			s->out = ns->out;
			s->group = ns->group;
			s->tempo = ns->tempo;
			/* playing: on from the first free position in the same
			 * phase; else the cursor is set again when it starts, but
			 * keeps no pointer to the old pattern meanwhile */
			ff = eng_first_free_pos(e, now);
			pattern_cursor_init(&s->cur, s->pat, s->cur.origin, ff);
			eng_tempo_seek(s, s->cur.origin, ff);
		}
		eng_pat_publish(e, i);
	}
	e->npat = t->n;
	if (sent && e->midi)
		e->midi->ops->flush(e->midi);
	atomic_store_explicit(&e->stats.sounding, e->nt.sounding, memory_order_relaxed);
	atomic_store_explicit(&e->stats.pat_table_gen, gen, memory_order_release);
	return 0;
}

static void eng_exec(struct engine *e, const struct engine_cmd *c, int64_t now) RT_SAFE
{
	int r = 0;

	switch (c->type) {
	case ENGINE_CMD_NOP: break;
	case ENGINE_CMD_QUIT: e->quit = true; break;
	case ENGINE_CMD_START: r = eng_cmd_start(e, c->u32, now); break;
	case ENGINE_CMD_STOP: r = eng_cmd_stop(e, now); break;
	case ENGINE_CMD_CONTINUE: r = eng_cmd_continue(e, now); break;
	case ENGINE_CMD_LOCATE: r = eng_cmd_locate(e, c->i64, now); break;
	case ENGINE_CMD_TEMPO:
		r = e->follow ? -EBUSY : eng_cmd_tempo(e, c->i64, c->u32, now); /* the input sets it */
		break;
	case ENGINE_CMD_QUANTUM:
		if (c->u32 < 1 || c->u32 > TL_QUANTUM_MAX)
			r = -ERANGE;
		else
			e->quantum = (int)c->u32;
		break;
	case ENGINE_CMD_OUTPUT: r = eng_cmd_output(e, c->u32, c->i64, now); break;
	case ENGINE_CMD_PANIC: r = eng_cmd_panic(e, now); break;
	case ENGINE_CMD_FOLLOW: r = eng_cmd_follow(e, c->u32 != 0, now); break;
	case ENGINE_CMD_PATTERN_LAUNCH:
	case ENGINE_CMD_PATTERN_STOP:
	case ENGINE_CMD_PATTERN_MUTE:
	case ENGINE_CMD_PATTERN_SOLO:
		r = eng_cmd_pattern(e, c->type, c->u32, c->i64, now);
		break;
	case ENGINE_CMD_OUTPUT_LOST: r = eng_cmd_output_lost(e, c->u32, now); break;
	case ENGINE_CMD_OUTPUT_BACK: r = eng_cmd_output_back(e, c->u32, now); break;
	case ENGINE_CMD_PATTERN_TABLE:
		r = eng_cmd_pat_table(e, (const struct engine_pat_table *)(intptr_t)c->i64, c->u32, now);
		break;
	default:
		r = -ENOSYS;
		RTLOG(&e->log, LOG_ERR, now, "engine: unknown command %" PRId64, (int64_t)c->type);
		break;
	}
	atomic_fetch_add_explicit(&e->stats.commands, 1, memory_order_relaxed);
	if (r < 0) {
		atomic_fetch_add_explicit(&e->stats.rejected, 1, memory_order_relaxed);
		eng_note(e, ENGINE_NOTE_REJECTED, c->type, now, r);
	}
}

int engine_step(struct engine *e) RT_SAFE
{
	struct engine_cmd c;
	int64_t due = e->next_deadline, now, next, hb, base;
	int w = timesrc_wait_until_ns(e->ts, due), out;
	bool cmds = false;

	now = timesrc_now_ns(e->ts);
	atomic_fetch_add_explicit(&e->stats.iterations, 1, memory_order_relaxed);
	if (w == TIMESRC_DEADLINE && now >= due) {
		int64_t late = now - due;
		atomic_fetch_add_explicit(&e->stats.deadlines, 1, memory_order_relaxed);
		eng_record_lateness(e, late);
		if (e->lat_samples)
			ring_push(e->lat_samples, &late);
	}
	while (ring_pop(&e->cmd, &c) == 0) {
		eng_exec(e, &c, now);
		cmds = true;
	}
	eng_input(e, now);
	eng_emit(e, now);
	/* a pending change becomes the anchor once an event at or after it is
	 * handed out and every output has handed out everything before it:
	 * positions before an anchor are extrapolated at its (new) tempo, so an
	 * output with a positive offset must be past it too */
	if (e->tl.pending && tl_time_at(&e->tl, e->tl.pend_pos) + eng_max_offset_ns(e) <=
				     eng_min64(e->committed_t, e->emitted_to)) {
		tl_commit(&e->tl, e->tl.pend_pos);
		cmds = true;
	}
	if (cmds || e->tl_dirty) {
		eng_publish(e);
		e->tl_dirty = false;
	}
	atomic_store_explicit(&e->stats.queued, e->tq.n, memory_order_relaxed);
	atomic_store_explicit(&e->stats.committed_t, e->committed_t, memory_order_relaxed);

	/* next heartbeat strictly after now, on the anchor's grid */
	hb = e->hb_anchor_ns + ((now - e->hb_anchor_ns) / e->hb_period_ns + 1) * e->hb_period_ns;
	next = eng_next_event(e, &out, &base);
	if (next != INT64_MAX && next < e->emit_limit)
		hb = eng_min64(hb, next - e->lookahead_ns);
	if (e->follow)
		hb = eng_min64(hb, clk_follow_loss_deadline_ns(&e->fol));
	e->next_deadline = eng_max64(hb, now);
	return e->quit ? 1 : 0;
}

void *engine_run(void *arg) RT_SAFE
{
	struct engine *e = arg;

	while (!engine_step(e))
		;
	return NULL;
}

int engine_run_until(struct engine *e, int64_t t_end_ns) RT_SAFE
{
	while (timesrc_now_ns(e->ts) < t_end_ns) {
		if (e->next_deadline > t_end_ns)
			e->next_deadline = t_end_ns;
		if (engine_step(e))
			return 1;
	}
	return 0;
}
