/*
 * Pattern playback in the engine, in virtual time through the capture
 * backend: a multi-track SMF where every note lands on its nanosecond at
 * two tempos and across a tempo change in the middle of a note; quantized
 * launches on the bar, beat and tick; polymeter; mute and solo; swing; and
 * no stuck note after transport stop, pattern stop, relaunch, mute, solo,
 * panic, shutdown and port loss.  Expected times are computed here from
 * the tempo alone (ticks to ns), never through the timeline under test;
 * "no stuck note" is computed from the captured stream (note-on +1,
 * note-off -1 per key).
 */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "capture_midi.h"
#include "clock/timesrc_virtual.h"
#include "engine/engine.h"
#include "engine/pattern.h"
#include "midi/smf.h"
#include "smf_gen.h"

#define T0 INT64_C(1000000000) /* virtual time at engine_init */
#define MS INT64_C(1000000)
#define SEC INT64_C(1000000000)
#define BPM(x) ((int64_t)((x) * 1000000.0 + 0.5))
#define PPQ 96

/* Format 1, 96 PPQN, three tracks, one bar of 4/4:
 *   track 0: meter and a tempo (ignored: the box is the master)
 *   track 1, ch 1: C4 at 0-96, E4 at 192-288
 *   track 2, ch 2: C2 at 48-144, D2 at 240-384 (ends on the loop end) */
#define SMF_A                                                                      \
	"'MThd' 00000006 0001 0003 0060 "                                          \
	"'MTrk' L{ 00 ff5804 04021808 00 ff5103 07a120 V(384) ff2f00 } "           \
	"'MTrk' L{ 00 903c64 V(96) 803c40 V(96) 904064 V(96) 804040 V(96) ff2f00 } " \
	"'MTrk' L{ V(48) 912464 V(96) 812440 V(96) 912664 V(144) 812640 00 ff2f00 }"

/* Format 0, one bar of 3/4: G4 (ch 3) at 0-48, 96-144 */
#define SMF_B                                                                      \
	"'MThd' 00000006 0000 0001 0060 "                                          \
	"'MTrk' L{ 00 ff5804 03021808 00 924364 V(48) 824340 V(48) 924364 V(48) 824340 " \
	"V(144) ff2f00 }"

/* SMF_A an octave up (C5 at 0-96, E5 at 192-288; C3 at 48-144, D3 at 240-384):
 * a new version of A, as a reload brings it */
#define SMF_A2                                                                     \
	"'MThd' 00000006 0001 0003 0060 "                                          \
	"'MTrk' L{ 00 ff5804 04021808 00 ff5103 07a120 V(384) ff2f00 } "           \
	"'MTrk' L{ 00 904864 V(96) 804840 V(96) 904c64 V(96) 804c40 V(96) ff2f00 } " \
	"'MTrk' L{ V(48) 913064 V(96) 813040 V(96) 913264 V(144) 813240 00 ff2f00 }"

/* One bar of 4/4 with a tempo map: 100 BPM at 0, 150 BPM at 192;
 * ch 1: C4 at 0-96, E4 at 192-288, G4 at 288-384 */
#define SMF_T                                                                      \
	"'MThd' 00000006 0000 0001 0060 "                                          \
	"'MTrk' L{ 00 ff5804 04021808 00 ff5103 0927c0 00 903c64 V(96) 803c40 V(96) " \
	"ff5103 061a80 00 904064 V(96) 804040 00 904364 V(96) 804340 00 ff2f00 }"

struct exp_note {
	int64_t tick; /* in the loop */
	uint8_t type; /* MIDI_NOTE_ON / OFF */
	uint8_t ch;   /* channel */
	uint8_t note; /* key */
};

/* SMF_A's events in playing order (position, then track) */
static const struct exp_note exp_a[] = {
	{ 0, MIDI_NOTE_ON, 0, 60 },    { 48, MIDI_NOTE_ON, 1, 36 },  { 96, MIDI_NOTE_OFF, 0, 60 },
	{ 144, MIDI_NOTE_OFF, 1, 36 }, { 192, MIDI_NOTE_ON, 0, 64 }, { 240, MIDI_NOTE_ON, 1, 38 },
	{ 288, MIDI_NOTE_OFF, 0, 64 }, { 384, MIDI_NOTE_OFF, 1, 38 },
};
#define NEXP_A (sizeof(exp_a) / sizeof(exp_a[0]))

static struct engine eng;
static struct capture_midi cap;
static struct timesrc_virtual vt;
static struct pattern *pa, *pb;

/* round(num / den), independent of the code under test (num >= 0) */
static int64_t rdiv(__int128 num, __int128 den)
{
	return (int64_t)((2 * num + den) / (2 * den));
}

/* ns from position 0 (at T0) to `tick` (96 PPQN) at one tempo */
static int64_t ticks_ns(int64_t tick, int64_t bpm_micro)
{
	return rdiv((__int128)tick * 60 * SEC * 1000000, (__int128)PPQ * bpm_micro);
}

static struct pattern *make_as(const char *spec, const char *name, int channel, bool tempo)
{
	static uint8_t buf[4096];
	struct pattern_opts o;
	struct smf s;
	struct smf_error err;
	struct pattern *p = NULL;
	size_t len = smf_hex(spec, buf, sizeof(buf));

	pattern_opts_defaults(&o);
	o.channel = channel;
	o.keep_tempo = tempo;
	assert_int_equal(smf_parse(&s, buf, len, NULL, &err), 0);
	assert_int_equal(pattern_new(&s, name, &o, NULL, &p, &err), 0);
	smf_free(&s);
	return p;
}

static struct pattern *make(const char *spec)
{
	return make_as(spec, "p", -1, false);
}

static int setup(void **state)
{
	(void)state;
	pa = make(SMF_A);
	pb = make(SMF_B);
	return 0;
}

static int teardown(void **state)
{
	(void)state;
	pattern_del(pa);
	pattern_del(pb);
	return 0;
}

/* One output (clock on, as a real one), slots: 0 = A, 1 = B, 2 = A again. */
static void start_engine(double bpm, int swing, int64_t offset_us)
{
	struct engine_cfg cfg;

	engine_cfg_defaults(&cfg);
	cfg.lookahead_ns = 5 * MS;
	cfg.bpm_micro = BPM(bpm);
	cfg.nout = 1;
	clk_output_cfg_defaults(&cfg.out[0]);
	cfg.out[0].swing_permille = swing;
	cfg.out[0].swing_unit = 8;
	cfg.out[0].offset_us = (int32_t)offset_us;
	cfg.out_port[0] = 0;
	cfg.pats.n = 3;
	cfg.pats.slot[0].pat = pa;
	cfg.pats.slot[1].pat = pb;
	cfg.pats.slot[2].pat = pa;
	timesrc_virtual_init(&vt, T0);
	capture_midi_init(&cap);
	assert_int_equal(engine_init(&eng, &vt.base, &cap.base, &cfg), 0);
}

static void post(uint32_t type, uint32_t u32, int64_t i64)
{
	struct engine_cmd c = { .type = type, .u32 = u32, .i64 = i64 };

	assert_int_equal(engine_post(&eng, &c), 0);
}

/* Run until t, handing out only events due before t (a render's end). */
static void run_to(int64_t t)
{
	eng.emit_limit = t;
	assert_int_equal(engine_run_until(&eng, t), 0);
}

static bool is_note(const struct capture_event *e)
{
	return e->msg.type == MIDI_NOTE_ON || e->msg.type == MIDI_NOTE_OFF;
}

/* Note messages captured from index `from` on, in send order. */
static int notes(int from, struct capture_event *out, int max)
{
	int n = 0;

	for (int i = from; i < cap.n && n < max; i++)
		if (is_note(&cap.ev[i]))
			out[n++] = cap.ev[i];
	return n;
}

/* Keys sounding at the end of the captured stream (never below zero). */
static int sounding_in_stream(void)
{
	static int count[16][128];
	int total = 0;

	memset(count, 0, sizeof(count));
	for (int i = 0; i < cap.n; i++) {
		const struct midi_msg *m = &cap.ev[i].msg;
		if (m->type == MIDI_NOTE_ON && m->data[1] > 0)
			count[m->channel][m->data[0]]++;
		else if (m->type == MIDI_NOTE_OFF || m->type == MIDI_NOTE_ON)
			count[m->channel][m->data[0]]--;
	}
	for (int c = 0; c < 16; c++)
		for (int k = 0; k < 128; k++) {
			assert_true(count[c][k] >= 0); /* no note-off without its note-on */
			total += count[c][k];
		}
	return total;
}

static void assert_due_sorted(void)
{
	for (int i = 1; i < cap.n; i++)
		assert_true(cap.ev[i].due_ns >= cap.ev[i - 1].due_ns);
}

static void assert_exp(const struct capture_event *e, const struct exp_note *x, int64_t due)
{
	assert_int_equal(e->msg.type, x->type);
	assert_int_equal(e->msg.channel, x->ch);
	assert_int_equal(e->msg.data[0], x->note);
	assert_int_equal(e->due_ns, due);
}

/* Launched while stopped, started on the bar: three loops, every note on
 * its nanosecond, at 120 and at 97 BPM. */
static void test_multitrack_exact_two_tempos(void **state)
{
	static const double tempos[] = { 120, 97 };
	struct capture_event ev[64] = { 0 };

	(void)state;
	for (unsigned k = 0; k < 2; k++) {
		int64_t b = BPM(tempos[k]);
		int n;

		start_engine(tempos[k], 500, 0);
		post(ENGINE_CMD_PATTERN_LAUNCH, 0, ENGINE_WHEN_BAR);
		post(ENGINE_CMD_START, ENGINE_WHEN_BAR, 0);
		/* song origin at bar 1 (tick 384); three loops end at tick 4 * 384 */
		run_to(T0 + ticks_ns(4 * 384, b) + 1);
		n = notes(0, ev, 64);
		assert_int_equal(n, 3 * (int)NEXP_A + 1);
		/* the last loop's final note-off, then the next loop's first note-on */
		assert_exp(&ev[n - 1], &exp_a[0], T0 + ticks_ns(4 * 384, b));
		for (int l = 0; l < 3; l++)
			for (unsigned i = 0; i < NEXP_A; i++)
				assert_exp(&ev[l * (int)NEXP_A + (int)i], &exp_a[i],
					   T0 + ticks_ns((1 + l) * 384 + exp_a[i].tick, b));
		assert_int_equal(atomic_load(&eng.pat_status[0].loops), 4); /* the 4th has begun */
		assert_int_equal(atomic_load(&eng.stats.late), 0);
		assert_due_sorted();
	}
}

/* A tempo change on beat 3 of the second loop: D2 (240-384) is sounding
 * then, and its note-off moves with the new tempo. */
static void test_tempo_change_mid_note(void **state)
{
	struct capture_event ev[64] = { 0 };
	int64_t b1 = BPM(120), b2 = BPM(77);
	int64_t tp = 2 * 384 + 288; /* the change: loop 2, beat 3 */
	int n;

	(void)state;
	start_engine(120, 500, 0);
	post(ENGINE_CMD_PATTERN_LAUNCH, 0, ENGINE_WHEN_BAR);
	post(ENGINE_CMD_START, ENGINE_WHEN_BAR, 0);
	run_to(T0 + ticks_ns(tp, b1) - 200 * MS); /* D2 of loop 2 is on */
	post(ENGINE_CMD_TEMPO, ENGINE_WHEN_BEAT, b2);
	run_to(T0 + ticks_ns(tp, b1) + ticks_ns(4 * 384 - tp, b2) + 1);
	n = notes(0, ev, 64);
	assert_int_equal(n, 3 * (int)NEXP_A + 1);
	for (int l = 0; l < 3; l++)
		for (unsigned i = 0; i < NEXP_A; i++) {
			int64_t tick = (1 + l) * 384 + exp_a[i].tick;
			int64_t due = tick < tp ? T0 + ticks_ns(tick, b1)
						: T0 + ticks_ns(tp, b1) + ticks_ns(tick - tp, b2);
			assert_exp(&ev[l * (int)NEXP_A + (int)i], &exp_a[i], due);
		}
	/* D2's note-off (loop 2 end) sits 96 ticks after the change, at 77 BPM */
	assert_int_equal(ev[NEXP_A + 7].due_ns - T0 - ticks_ns(tp, b1), ticks_ns(96, b2));
	post(ENGINE_CMD_STOP, 0, 0);
	run_to(vt.now_ns + 100 * MS);
	assert_int_equal(sounding_in_stream(), 0);
	assert_int_equal(atomic_load(&eng.stats.sounding), 0);
}

/* Launches while playing: on the next bar, beat, or 24 PPQN tick. */
static void test_launch_quantized(void **state)
{
	struct capture_event ev[64] = { 0 };
	int64_t b = BPM(120);
	int n, base;

	(void)state;
	start_engine(120, 500, 0);
	post(ENGINE_CMD_START, ENGINE_WHEN_BAR, 0); /* song origin at 2 s */
	run_to(T0 + 2 * SEC + 700 * MS);
	base = cap.n;
	post(ENGINE_CMD_PATTERN_LAUNCH, 0, ENGINE_WHEN_BAR);
	post(ENGINE_CMD_PATTERN_LAUNCH, 1, ENGINE_WHEN_BEAT);
	run_to(T0 + 4 * SEC + 10 * MS);
	n = notes(base, ev, 64);
	assert_true(n >= 2);
	/* B (slot 1): the next beat after 2.7 s is 3 s */
	assert_int_equal(ev[0].msg.channel, 2);
	assert_int_equal(ev[0].msg.type, MIDI_NOTE_ON);
	assert_int_equal(ev[0].due_ns, T0 + 3 * SEC);
	/* A (slot 0): the next bar, 4 s */
	for (int i = 0; i < n; i++)
		if (ev[i].msg.channel == 0) {
			assert_int_equal(ev[i].due_ns, T0 + ticks_ns(2 * 384, b));
			assert_int_equal(ev[i].due_ns, T0 + 4 * SEC);
			break;
		}
	/* now: the next 24 PPQN tick after the lookahead */
	start_engine(120, 500, 0);
	post(ENGINE_CMD_START, ENGINE_WHEN_BAR, 0);
	run_to(T0 + 2 * SEC + 701 * MS);
	base = cap.n;
	post(ENGINE_CMD_PATTERN_LAUNCH, 0, ENGINE_WHEN_NOW);
	run_to(T0 + 2 * SEC + 800 * MS);
	n = notes(base, ev, 64);
	assert_true(n >= 1);
	/* ticks are 20.833 ms: after 2.706 s comes 2.7083 s (tick 130 of the song) */
	assert_int_equal(ev[0].due_ns, T0 + rdiv((__int128)130 * 2500000000, 120));
	assert_int_equal(atomic_load(&eng.stats.late), 0);
	/* bad launches change nothing */
	post(ENGINE_CMD_PATTERN_LAUNCH, 7, ENGINE_WHEN_BAR);   /* no such slot */
	post(ENGINE_CMD_PATTERN_LAUNCH, 1, 9);                  /* bad when */
	post(ENGINE_CMD_PATTERN_STOP, 1, ENGINE_WHEN_BAR);      /* not launched */
	run_to(vt.now_ns + 10 * MS);
	assert_int_equal(atomic_load(&eng.stats.rejected), 3);
	assert_int_equal(atomic_load(&eng.pat_status[1].state), ENGINE_PAT_STOPPED);
}

/* A (4 beats) and B (3 beats) loop independently from the same start. */
static void test_polymeter(void **state)
{
	int64_t b = BPM(120);
	int na = 0, nb = 0;

	(void)state;
	start_engine(120, 500, 0);
	post(ENGINE_CMD_PATTERN_LAUNCH, 0, ENGINE_WHEN_BAR);
	post(ENGINE_CMD_PATTERN_LAUNCH, 1, ENGINE_WHEN_BAR);
	post(ENGINE_CMD_START, ENGINE_WHEN_BAR, 0);
	run_to(T0 + ticks_ns(384 + 12 * PPQ, b) - MS); /* 12 beats: 3 loops of A, 4 of B */
	for (int i = 0; i < cap.n; i++) {
		const struct capture_event *e = &cap.ev[i];
		if (e->msg.type != MIDI_NOTE_ON)
			continue;
		if (e->msg.channel == 0 && e->msg.data[0] == 60)
			assert_int_equal(e->due_ns, T0 + ticks_ns(384 + 384 * na++, b));
		if (e->msg.channel == 2) { /* B: G4 on beats 0 and 1 of every 3 */
			int64_t t = 384 + 288 * (nb / 2) + PPQ * (nb % 2);
			assert_int_equal(e->due_ns, T0 + ticks_ns(t, b));
			nb++;
		}
	}
	assert_int_equal(na, 3);
	assert_int_equal(nb, 8);
	assert_int_equal(atomic_load(&eng.pat_status[0].loops), 3);
	assert_int_equal(atomic_load(&eng.pat_status[1].loops), 4);
}

/* Swing 60 % on 8ths: the off-beat 8th (C2 at tick 48) comes at 0.6 beat. */
static void test_swing_and_offset(void **state)
{
	struct capture_event ev[64] = { 0 };
	int64_t b = BPM(120);
	int n;

	(void)state;
	start_engine(120, 600, 3000);
	post(ENGINE_CMD_PATTERN_LAUNCH, 0, ENGINE_WHEN_BAR);
	post(ENGINE_CMD_START, ENGINE_WHEN_BAR, 0);
	run_to(T0 + ticks_ns(2 * 384, b) + 3 * MS);
	n = notes(0, ev, 64);
	assert_int_equal(n, (int)NEXP_A - 1);
	/* straight positions stay; 8th off-beats move to 60 % of the beat;
	 * everything 3 ms late (the output's offset) */
	static const int64_t swung[] = { 0, 300, 500, 800, 1000, 1300, 1500, 2000 };
	for (unsigned i = 0; i < NEXP_A - 1; i++)
		assert_exp(&ev[i], &exp_a[i], T0 + 2 * SEC + swung[i] * MS + 3 * MS);
}

/* Mute ends A's sounding notes at once and keeps it silent; unmute resumes
 * at its next note; solo of B silences A the same way. */
static void test_mute_and_solo(void **state)
{
	int64_t b = BPM(120), t_mute, t_unmute;
	int idx;

	(void)state;
	start_engine(120, 500, 0);
	post(ENGINE_CMD_PATTERN_LAUNCH, 0, ENGINE_WHEN_BAR);
	post(ENGINE_CMD_PATTERN_LAUNCH, 1, ENGINE_WHEN_BAR);
	post(ENGINE_CMD_START, ENGINE_WHEN_BAR, 0);
	/* C4 (0-96) and C2 (48-144) are on at 2.3 s */
	run_to(T0 + 2 * SEC + 300 * MS);
	t_mute = vt.now_ns;
	idx = cap.n;
	post(ENGINE_CMD_PATTERN_MUTE, 0, 1);
	run_to(T0 + 4 * SEC + 300 * MS);
	/* two note-offs for A right after the lookahead, nothing else from A */
	{
		int offs = 0;
		for (int i = idx; i < cap.n; i++) {
			const struct capture_event *e = &cap.ev[i];
			if (!is_note(e) || e->msg.channel == 2)
				continue;
			assert_int_equal(e->msg.type, MIDI_NOTE_OFF);
			assert_true(e->due_ns > t_mute && e->due_ns < t_mute + 10 * MS);
			offs++;
		}
		assert_int_equal(offs, 2);
	}
	assert_true(atomic_load(&eng.pat_status[0].mute));
	/* unmute: A sounds again from its next note-on (E4 at 2 + 2 + 1 s) */
	post(ENGINE_CMD_PATTERN_MUTE, 0, 0);
	t_unmute = vt.now_ns;
	idx = cap.n;
	run_to(T0 + 5 * SEC + 10 * MS);
	{
		int first = -1;
		for (int i = idx; i < cap.n && first < 0; i++)
			if (is_note(&cap.ev[i]) && cap.ev[i].msg.channel != 2)
				first = i;
		assert_true(first >= 0);
		assert_int_equal(cap.ev[first].msg.type, MIDI_NOTE_ON);
		assert_int_equal(cap.ev[first].msg.data[0], 64);
		assert_int_equal(cap.ev[first].due_ns, T0 + ticks_ns(2 * 384 + 192, b));
		assert_true(cap.ev[first].due_ns > t_unmute);
	}
	/* solo B: A (D2 sounding now) is released and silent */
	idx = cap.n;
	post(ENGINE_CMD_PATTERN_SOLO, 1, 1);
	run_to(T0 + 7 * SEC);
	{
		int a_on = 0, a_off = 0, b_on = 0;
		for (int i = idx; i < cap.n; i++) {
			const struct capture_event *e = &cap.ev[i];
			if (!is_note(e))
				continue;
			if (e->msg.channel == 2)
				b_on += e->msg.type == MIDI_NOTE_ON;
			else if (e->msg.type == MIDI_NOTE_ON)
				a_on++;
			else
				a_off++;
		}
		assert_int_equal(a_on, 0);
		assert_int_equal(a_off, 1); /* D2 */
		assert_true(b_on > 0);
	}
	post(ENGINE_CMD_STOP, 0, 0);
	run_to(vt.now_ns + 100 * MS);
	assert_int_equal(sounding_in_stream(), 0);
}

/* ---- stuck notes ------------------------------------------------------- */

/* Play A (slot 0) and B (slot 1) until 2.3 s into the first loop, where
 * notes of both are sounding. */
static void play_to_sounding(void)
{
	start_engine(120, 500, 0);
	post(ENGINE_CMD_PATTERN_LAUNCH, 0, ENGINE_WHEN_BAR);
	post(ENGINE_CMD_PATTERN_LAUNCH, 1, ENGINE_WHEN_BAR);
	post(ENGINE_CMD_START, ENGINE_WHEN_BAR, 0);
	run_to(T0 + 2 * SEC + 320 * MS);
	assert_true(sounding_in_stream() >= 2); /* the scenario has notes to end */
	assert_true(atomic_load(&eng.stats.sounding) >= 2);
}

static void finish_silent(void)
{
	run_to(vt.now_ns + 3 * SEC);
	assert_int_equal(sounding_in_stream(), 0);
	assert_int_equal(eng.nt.sounding, 0);
	assert_due_sorted();
}

static void test_no_stuck_transport_stop(void **state)
{
	(void)state;
	play_to_sounding();
	post(ENGINE_CMD_STOP, 0, 0);
	finish_silent();
	assert_int_equal(atomic_load(&eng.pat_status[0].state), ENGINE_PAT_ARMED);
	/* and a new start plays them again from the top, ending silent */
	post(ENGINE_CMD_START, ENGINE_WHEN_NOW, 0);
	run_to(vt.now_ns + 1300 * MS);
	assert_true(sounding_in_stream() > 0);
	post(ENGINE_CMD_STOP, 0, 0);
	finish_silent();
}

static void test_no_stuck_pattern_stop(void **state)
{
	int idx;

	(void)state;
	play_to_sounding();
	idx = cap.n;
	post(ENGINE_CMD_PATTERN_STOP, 0, ENGINE_WHEN_NOW);
	post(ENGINE_CMD_PATTERN_STOP, 1, ENGINE_WHEN_BAR);
	run_to(vt.now_ns + 3 * SEC);
	/* B ran to the bar (4 s) and sent nothing after it */
	for (int i = idx; i < cap.n; i++)
		if (is_note(&cap.ev[i]))
			assert_true(cap.ev[i].due_ns <= T0 + 4 * SEC);
	assert_int_equal(atomic_load(&eng.pat_status[0].state), ENGINE_PAT_STOPPED);
	assert_int_equal(atomic_load(&eng.pat_status[1].state), ENGINE_PAT_STOPPED);
	finish_silent();
}

static void test_no_stuck_relaunch(void **state)
{
	(void)state;
	play_to_sounding();
	/* a switch on the slot: relaunch at the next beat (2.5 s), mid-C2 */
	post(ENGINE_CMD_PATTERN_LAUNCH, 0, ENGINE_WHEN_BEAT);
	run_to(T0 + 2 * SEC + 600 * MS);
	{
		/* C2 (ch 2, on at 48) is ended at 2.5 s, then C4 re-struck there */
		int off = -1, on = -1;
		for (int i = 0; i < cap.n; i++) {
			const struct capture_event *e = &cap.ev[i];
			if (e->due_ns != T0 + 2500 * MS || !is_note(e))
				continue;
			if (e->msg.type == MIDI_NOTE_OFF && e->msg.channel == 1 && off < 0)
				off = i;
			if (e->msg.type == MIDI_NOTE_ON && e->msg.channel == 0 && on < 0)
				on = i;
		}
		assert_true(off >= 0 && on > off);
	}
	post(ENGINE_CMD_STOP, 0, 0);
	finish_silent();
}

static void test_no_stuck_mute_solo(void **state)
{
	(void)state;
	play_to_sounding();
	post(ENGINE_CMD_PATTERN_MUTE, 0, 1);
	post(ENGINE_CMD_PATTERN_SOLO, 0, 1); /* solo of a muted one: B is silenced, A stays muted */
	run_to(vt.now_ns + 50 * MS);
	assert_int_equal(sounding_in_stream(), 0);
	post(ENGINE_CMD_STOP, 0, 0);
	finish_silent();
}

static void test_no_stuck_panic(void **state)
{
	int first_cc = -1, last_off = -1;

	(void)state;
	play_to_sounding();
	/* as in the daemon: audio renders ahead of the MIDI lookahead, and
	 * time moves between two reads of the clock */
	eng.commit_ahead_ns = 30 * MS;
	vt.read_step_ns = 700;
	post(ENGINE_CMD_PANIC, 0, 0);
	run_to(vt.now_ns + 50 * MS);
	vt.read_step_ns = 0;
	assert_int_equal(sounding_in_stream(), 0);
	for (int i = 0; i < cap.n; i++) {
		if (cap.ev[i].msg.type == MIDI_CONTROL_CHANGE && first_cc < 0)
			first_cc = i;
		if (cap.ev[i].msg.type == MIDI_NOTE_OFF)
			last_off = i;
	}
	/* explicit note-offs first, CC 123 as the extra */
	assert_true(first_cc > last_off);
	assert_true(cap.ev[first_cc].due_ns >= cap.ev[last_off].due_ns);
	post(ENGINE_CMD_STOP, 0, 0);
	finish_silent();
}

/* Shutdown as the daemon does it: Stop, run until nothing sounds, QUIT. */
static void test_no_stuck_shutdown(void **state)
{
	struct engine_cmd q = { .type = ENGINE_CMD_QUIT };
	int guard = 0;

	(void)state;
	play_to_sounding();
	post(ENGINE_CMD_STOP, 0, 0);
	while (atomic_load(&eng.stats.sounding) > 0 && guard++ < 100)
		run_to(vt.now_ns + 5 * MS);
	assert_int_equal(engine_post(&eng, &q), 0);
	assert_int_equal(engine_run_until(&eng, vt.now_ns + SEC), 1);
	assert_int_equal(sounding_in_stream(), 0);
}

/* Sounding notes per channel and note in the stream from event index
 * `from`, counting note-ons minus note-offs (a note-off for a silent note
 * counts -1, so an unbalanced stream shows). */
static void stream_balance(int from, int count[16][128])
{
	memset(count, 0, sizeof(int[16][128]));
	for (int i = from; i < cap.n; i++) {
		const struct midi_msg *m = &cap.ev[i].msg;
		if (m->type == MIDI_NOTE_ON)
			count[m->channel][m->data[0]]++;
		else if (m->type == MIDI_NOTE_OFF)
			count[m->channel][m->data[0]]--;
	}
}

/*
 * Port loss: a peer of the output went away (other peers may still
 * listen), so the notes sounding then end at once with explicit note-offs,
 * exactly those; the pattern plays on.  When a peer is connected again, the
 * notes that were sounding at the loss get their note-offs once more (the
 * device may have been replugged still holding them) - except any struck
 * again since, which keep sounding.
 */
static void test_port_loss_ends_notes(void **state)
{
	int before_loss[16][128], remembered[16][128], after[16][128], idx, back, offs = 0, want = 0;
	uint32_t sounding;

	(void)state;
	play_to_sounding();
	stream_balance(0, before_loss);
	memcpy(remembered, before_loss, sizeof remembered);
	sounding = atomic_load(&eng.stats.sounding);
	idx = cap.n;
	post(ENGINE_CMD_OUTPUT_LOST, 0, 0);
	post(ENGINE_CMD_OUTPUT_LOST, 5, 0); /* no such output: rejected */
	run_to(vt.now_ns + MS);
	assert_int_equal(atomic_load(&eng.stats.rejected), 1);
	assert_int_equal(atomic_load(&eng.stats.notes_at_loss), sounding);
	assert_int_equal(atomic_load(&eng.stats.sounding), 0);
	/* exactly the sounding notes got a note-off, nothing else was sent */
	for (int i = idx; i < cap.n; i++) {
		const struct midi_msg *m = &cap.ev[i].msg;
		if (m->type == MIDI_NOTE_OFF) {
			assert_true(before_loss[m->channel][m->data[0]] > 0);
			before_loss[m->channel][m->data[0]]--;
			offs++;
		} else {
			assert_true(m->type == MIDI_CLOCK);
		}
	}
	assert_int_equal((uint32_t)offs, sounding);
	for (int c = 0; c < 16; c++)
		for (int k = 0; k < 128; k++)
			assert_int_equal(before_loss[c][k], 0);
	stream_balance(0, after);
	for (int c = 0; c < 16; c++)
		for (int k = 0; k < 128; k++)
			assert_int_equal(after[c][k], 0); /* the stream balances at once */
	/* the pattern plays on; a peer comes back later */
	run_to(T0 + 6 * SEC + 800 * MS);
	for (int c = 0; c < 16; c++)
		for (int k = 0; k < 128; k++)
			want += remembered[c][k] > 0 && notetrack_sounding(&eng.nt, 0, c, k) == 0;
	back = cap.n;
	post(ENGINE_CMD_OUTPUT_BACK, 0, 0);
	run_to(vt.now_ns + MS);
	offs = 0;
	for (int i = back; i < cap.n; i++) {
		const struct midi_msg *m = &cap.ev[i].msg;
		if (m->type != MIDI_NOTE_OFF)
			continue;
		/* a note-off for a note remembered at the loss, not sounding now */
		assert_int_equal(notetrack_sounding(&eng.nt, 0, m->channel, m->data[0]), 0);
		offs++;
	}
	assert_true(want >= 1); /* the scenario has such a note */
	assert_int_equal(offs, want);
	/* remembered once only: a second connection sends nothing */
	back = cap.n;
	post(ENGINE_CMD_OUTPUT_BACK, 0, 0);
	run_to(vt.now_ns + MS);
	for (int i = back; i < cap.n; i++)
		assert_int_not_equal(cap.ev[i].msg.type, MIDI_NOTE_OFF);
	post(ENGINE_CMD_STOP, 0, 0);
	run_to(vt.now_ns + SEC);
	assert_int_equal(eng.nt.sounding, 0);
}

/* ---- quantized stop, groups, hand-over, tempo maps ----------------------- */

/* Note messages of channel `ch` (-1: any) from index `from`, due in [t0, t1]. */
static int count_notes(int from, int ch, int type, int64_t t0, int64_t t1)
{
	int n = 0;

	for (int i = from; i < cap.n; i++) {
		const struct capture_event *e = &cap.ev[i];
		if (e->msg.type == type && (ch < 0 || e->msg.channel == ch) && e->due_ns >= t0 &&
		    e->due_ns <= t1)
			n++;
	}
	return n;
}

/* A stop on the beat: the notes sounding then end exactly on it, and the
 * pattern sends nothing after it. */
static void test_quantized_stop_exact(void **state)
{
	int idx;

	(void)state;
	start_engine(120, 500, 0);
	post(ENGINE_CMD_PATTERN_LAUNCH, 0, ENGINE_WHEN_BAR);
	post(ENGINE_CMD_START, ENGINE_WHEN_BAR, 0);
	run_to(T0 + 2 * SEC + 300 * MS); /* C4 (2.0-2.5 s) and C2 (2.25-2.75 s) sound */
	idx = cap.n;
	post(ENGINE_CMD_PATTERN_STOP, 0, ENGINE_WHEN_BEAT);
	run_to(T0 + 4 * SEC);
	/* the next beat is 2.5 s: C4's own note-off and C2's release, both there */
	assert_int_equal(count_notes(idx, 0, MIDI_NOTE_OFF, T0 + 2500 * MS, T0 + 2500 * MS), 1);
	assert_int_equal(count_notes(idx, 1, MIDI_NOTE_OFF, T0 + 2500 * MS, T0 + 2500 * MS), 1);
	for (int i = idx; i < cap.n; i++)
		if (is_note(&cap.ev[i]))
			assert_int_equal(cap.ev[i].due_ns, T0 + 2500 * MS);
	assert_int_equal(count_notes(idx, -1, MIDI_NOTE_ON, 0, INT64_MAX), 0);
	assert_int_equal(atomic_load(&eng.pat_status[0].state), ENGINE_PAT_STOPPED);
	assert_int_equal(sounding_in_stream(), 0);
}

/* Engine with the given slots, one output (clock on), 120 BPM, offset
 * `offset_us`, lookahead 5 ms. */
static void start_slots(const struct engine_pat_slot *slots, int n, int64_t offset_us)
{
	struct engine_cfg cfg;

	engine_cfg_defaults(&cfg);
	cfg.lookahead_ns = 5 * MS;
	cfg.bpm_micro = BPM(120);
	cfg.nout = 1;
	clk_output_cfg_defaults(&cfg.out[0]);
	cfg.out[0].offset_us = (int32_t)offset_us;
	cfg.pats.n = n;
	for (int i = 0; i < n; i++)
		cfg.pats.slot[i] = slots[i];
	timesrc_virtual_init(&vt, T0);
	capture_midi_init(&cap);
	assert_int_equal(engine_init(&eng, &vt.base, &cap.base, &cfg), 0);
}

/* A and B in one group: launching B while A plays is a switch on the bar -
 * A's notes end exactly there and B's first note starts there; while
 * stopped, launching one disarms the other. */
static void test_group_switch(void **state)
{
	const struct engine_pat_slot slots[] = {
		{ .pat = pa, .group = 1 }, { .pat = pb, .group = 1 }, { .pat = pa, .group = 0 },
	};
	int idx, first_b = -1, last_a_off = -1;

	(void)state;
	start_slots(slots, 3, 0);
	post(ENGINE_CMD_PATTERN_LAUNCH, 0, ENGINE_WHEN_BAR);
	post(ENGINE_CMD_START, ENGINE_WHEN_BAR, 0);
	run_to(T0 + 3 * SEC + 300 * MS); /* E4 (3.0-3.5) and D2 (3.25-4.0) sound */
	idx = cap.n;
	post(ENGINE_CMD_PATTERN_LAUNCH, 1, ENGINE_WHEN_BAR);
	run_to(T0 + 5 * SEC);
	for (int i = idx; i < cap.n; i++) {
		const struct capture_event *e = &cap.ev[i];
		if (!is_note(e))
			continue;
		if (e->msg.channel == 2 && first_b < 0)
			first_b = i;
		if (e->msg.channel != 2) {
			assert_true(e->due_ns <= T0 + 4 * SEC); /* A sends nothing after the bar */
			if (e->msg.type == MIDI_NOTE_OFF)
				last_a_off = i;
			else
				assert_true(e->due_ns < T0 + 4 * SEC);
		}
	}
	assert_true(first_b > last_a_off && last_a_off >= 0);
	assert_int_equal(cap.ev[first_b].due_ns, T0 + 4 * SEC);
	assert_int_equal(cap.ev[first_b].msg.type, MIDI_NOTE_ON);
	assert_int_equal(cap.ev[last_a_off].due_ns, T0 + 4 * SEC);
	assert_int_equal(atomic_load(&eng.pat_status[0].state), ENGINE_PAT_STOPPED);
	assert_int_equal(atomic_load(&eng.pat_status[1].state), ENGINE_PAT_PLAYING);
	/* the slot outside the group is not touched: launch it, switch back to A */
	post(ENGINE_CMD_PATTERN_LAUNCH, 2, ENGINE_WHEN_BAR);
	post(ENGINE_CMD_PATTERN_LAUNCH, 0, ENGINE_WHEN_BAR);
	run_to(T0 + 6 * SEC + 100 * MS);
	assert_int_equal(atomic_load(&eng.pat_status[0].state), ENGINE_PAT_PLAYING);
	assert_int_equal(atomic_load(&eng.pat_status[1].state), ENGINE_PAT_STOPPED);
	assert_int_equal(atomic_load(&eng.pat_status[2].state), ENGINE_PAT_PLAYING);
	post(ENGINE_CMD_STOP, 0, 0);
	finish_silent();
	/* stopped: launching B disarms A (and only A) */
	assert_int_equal(atomic_load(&eng.pat_status[0].state), ENGINE_PAT_ARMED);
	post(ENGINE_CMD_PATTERN_LAUNCH, 1, ENGINE_WHEN_BAR);
	run_to(vt.now_ns + 10 * MS);
	assert_int_equal(atomic_load(&eng.pat_status[0].state), ENGINE_PAT_STOPPED);
	assert_int_equal(atomic_load(&eng.pat_status[1].state), ENGINE_PAT_ARMED);
	assert_int_equal(atomic_load(&eng.pat_status[2].state), ENGINE_PAT_ARMED);
}

/*
 * A reload's hand-over: slot 0 gets a new version of its pattern (same
 * name) and plays it on in phase; slot 1 is emptied; slot 2 keeps its
 * pattern and is not touched.  Notes of the replaced and removed ones end
 * at once, the kept one's do not; afterwards the engine holds no old
 * pointer (generation published) and a slot given another name restarts
 * stopped.
 */
static void test_table_handover(void **state)
{
	struct pattern *a = make_as(SMF_A, "a", -1, false), *a2 = make_as(SMF_A2, "a", -1, false);
	struct pattern *b = make_as(SMF_B, "b", -1, false), *a5 = make_as(SMF_A, "a5", 5, false);
	const struct engine_pat_slot slots[] = { { .pat = a }, { .pat = b }, { .pat = a5 } };
	struct engine_pat_table t = { .n = 3, .slot = { { .pat = a2 }, { 0 }, { .pat = a5 } } };
	struct engine_pat_table bad = t;
	struct engine_cmd c = { .type = ENGINE_CMD_PATTERN_TABLE, .u32 = 7, .i64 = (int64_t)(intptr_t)&t };
	int before[16][128], idx, first = -1;
	int64_t t_swap;

	(void)state;
	start_slots(slots, 3, 0);
	for (uint32_t i = 0; i < 3; i++)
		post(ENGINE_CMD_PATTERN_LAUNCH, i, ENGINE_WHEN_BAR);
	post(ENGINE_CMD_START, ENGINE_WHEN_BAR, 0);
	/* 2.6 s: A's C2 (ch 1), B's G4 (ch 2) and A5's C2 (ch 5) sound */
	run_to(T0 + 2 * SEC + 600 * MS);
	stream_balance(0, before);
	assert_int_equal(before[1][36], 1);
	assert_int_equal(before[2][67], 1);
	assert_int_equal(before[5][36], 1);
	/* a table naming an output that does not exist changes nothing */
	bad.slot[0].out = 3;
	post(ENGINE_CMD_PATTERN_TABLE, 9, (int64_t)(intptr_t)&bad);
	run_to(vt.now_ns + MS);
	assert_int_equal(atomic_load(&eng.stats.rejected), 1);
	assert_int_equal(atomic_load(&eng.stats.pat_table_gen), 0);
	idx = cap.n;
	t_swap = vt.now_ns;
	assert_int_equal(engine_post(&eng, &c), 0);
	run_to(vt.now_ns + MS);
	assert_int_equal(atomic_load(&eng.stats.pat_table_gen), 7);
	/* the replaced and the removed slot's notes end at once; A5's does not */
	assert_int_equal(count_notes(idx, 1, MIDI_NOTE_OFF, t_swap, t_swap + 10 * MS), 1);
	assert_int_equal(count_notes(idx, 2, MIDI_NOTE_OFF, t_swap, t_swap + 10 * MS), 1);
	assert_int_equal(count_notes(idx, 5, MIDI_NOTE_OFF, 0, INT64_MAX), 0);
	assert_int_equal(atomic_load(&eng.pat_status[1].state), ENGINE_PAT_STOPPED);
	assert_int_equal(atomic_load(&eng.pat_status[0].state), ENGINE_PAT_PLAYING);
	run_to(T0 + 4 * SEC + 10 * MS);
	/* slot 0 plays A2 on in phase: E5 at 3 s, D3 at 3.25 s, C5 at 4 s (the
	 * next loop); C3's note-off (2.75 s) was never struck, so not sent */
	for (int i = idx; i < cap.n; i++)
		if (is_note(&cap.ev[i]) && cap.ev[i].msg.channel <= 1 && first < 0)
			first = i;
	assert_true(first >= 0);
	for (int i = first; i < cap.n; i++) {
		const struct capture_event *e = &cap.ev[i];
		if (!is_note(e) || e->msg.channel > 1 || e->msg.type != MIDI_NOTE_ON)
			continue;
		assert_true(e->msg.data[0] == 76 || e->msg.data[0] == 50 || e->msg.data[0] == 72);
		if (e->msg.data[0] == 76)
			assert_int_equal(e->due_ns, T0 + 3 * SEC);
		if (e->msg.data[0] == 50)
			assert_int_equal(e->due_ns, T0 + 3250 * MS);
		if (e->msg.data[0] == 72)
			assert_int_equal(e->due_ns, T0 + 4 * SEC);
	}
	assert_int_equal(count_notes(idx, 1, MIDI_NOTE_OFF, T0 + 2750 * MS, T0 + 2750 * MS), 0);
	assert_int_equal(count_notes(idx, 2, MIDI_NOTE_ON, 0, INT64_MAX), 0); /* B is gone */
	assert_int_equal(count_notes(idx, 5, MIDI_NOTE_ON, T0 + 3 * SEC, T0 + 3 * SEC), 1); /* A5 on */
	/* the emptied slot is gone for commands */
	post(ENGINE_CMD_PATTERN_LAUNCH, 1, ENGINE_WHEN_BAR);
	run_to(vt.now_ns + MS);
	assert_int_equal(atomic_load(&eng.stats.rejected), 2);
	/* another name in slot 2: its notes end, it starts afresh (stopped) */
	t.slot[2].pat = b;
	c.u32 = 8;
	run_to(T0 + 4 * SEC + 300 * MS); /* A5's C4 (4.0-4.5) and C2 (4.25-4.75) sound */
	stream_balance(0, before);
	assert_int_equal(before[5][60] + before[5][36], 2);
	idx = cap.n;
	assert_int_equal(engine_post(&eng, &c), 0);
	run_to(vt.now_ns + 10 * MS);
	assert_int_equal(atomic_load(&eng.stats.pat_table_gen), 8);
	assert_int_equal(count_notes(idx, 5, MIDI_NOTE_OFF, 0, INT64_MAX), 2);
	assert_int_equal(atomic_load(&eng.pat_status[2].state), ENGINE_PAT_STOPPED);
	post(ENGINE_CMD_STOP, 0, 0);
	finish_silent();
	pattern_del(a);
	pattern_del(a2);
	pattern_del(b);
	pattern_del(a5);
}

/* ns from the song origin to `tick` of SMF_T's loop `l`, with its tempo
 * map (100 BPM until tick 192, 150 after, each loop). */
static int64_t t_tick_ns(int l, int64_t tick)
{
	int64_t loop = ticks_ns(192, BPM(100)) + ticks_ns(192, BPM(150));

	return l * loop + (tick <= 192 ? ticks_ns(tick, BPM(100))
				       : ticks_ns(192, BPM(100)) + ticks_ns(tick - 192, BPM(150)));
}

/*
 * tempo = file: the pattern's tempo map sets the tempo while it plays, on
 * the exact position, in every loop - notes and clocks follow it; audio
 * rendering ahead (commit_ahead) and a negative output offset do not move
 * it.  The same file without tempo plays at the box's tempo.
 */
static void test_pattern_tempo_map(void **state)
{
	static const int64_t ticks[] = { 0, 96, 192, 288, 288, 384 };
	static const uint8_t types[] = { MIDI_NOTE_ON, MIDI_NOTE_OFF, MIDI_NOTE_ON, MIDI_NOTE_OFF,
					 MIDI_NOTE_ON, MIDI_NOTE_OFF };
	struct pattern *pt = make_as(SMF_T, "t", -1, true);
	struct capture_event ev[64];
	int64_t origin = T0 + 2 * SEC, off;

	(void)state;
	assert_int_equal(pt->ntempo, 2);
	for (int k = 0; k < 3; k++) {
		const struct engine_pat_slot slots[] = { { .pat = pt, .tempo = k < 2 } };
		int n, clocks = 0;

		off = k == 1 ? -5000 : 0;
		start_slots(slots, 1, off);
		if (k == 1)
			eng.commit_ahead_ns = 30 * MS;
		post(ENGINE_CMD_PATTERN_LAUNCH, 0, ENGINE_WHEN_BAR);
		post(ENGINE_CMD_START, ENGINE_WHEN_BAR, 0); /* song origin at 2 s (120 BPM) */
		run_to(origin + t_tick_ns(2, 0) + 1 + off * 1000);
		n = notes(0, ev, 64);
		if (k == 2) { /* ignored: one bar at 120 BPM */
			assert_int_equal(ev[2].due_ns, origin + ticks_ns(192, BPM(120)));
			assert_int_equal(atomic_load(&eng.stats.pat_tempos), 0);
			continue;
		}
		assert_int_equal(n, 13);
		for (int l = 0; l < 2; l++)
			for (int i = 0; i < 6; i++) {
				assert_int_equal(ev[l * 6 + i].msg.type, types[i]);
				assert_int_equal(ev[l * 6 + i].due_ns,
						 origin + t_tick_ns(l, ticks[i]) + off * 1000);
			}
		/* the clock follows: every 24 PPQN pulse on the map's grid */
		for (int i = 0; i < cap.n; i++) {
			int64_t tick4, want;
			if (cap.ev[i].msg.type != MIDI_CLOCK || cap.ev[i].due_ns < origin + off * 1000)
				continue;
			tick4 = clocks++ * 4; /* a pulse is 4 ticks of 96 PPQN */
			want = origin + t_tick_ns((int)(tick4 / 384), tick4 % 384) + off * 1000;
			assert_int_equal(cap.ev[i].due_ns, want);
		}
		assert_int_equal(clocks, 2 * 96 + 1);
		/* 100 at the start, 150, again 100, 150 in loop 2, and 100 on the
		 * last position run (loop 3's start) */
		assert_int_equal(atomic_load(&eng.stats.pat_tempos), 5);
		assert_int_equal(atomic_load(&eng.stats.late), 0);
		post(ENGINE_CMD_STOP, 0, 0);
		finish_silent();
	}
	pattern_del(pt);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_multitrack_exact_two_tempos),
		cmocka_unit_test(test_tempo_change_mid_note),
		cmocka_unit_test(test_launch_quantized),
		cmocka_unit_test(test_polymeter),
		cmocka_unit_test(test_swing_and_offset),
		cmocka_unit_test(test_mute_and_solo),
		cmocka_unit_test(test_no_stuck_transport_stop),
		cmocka_unit_test(test_no_stuck_pattern_stop),
		cmocka_unit_test(test_no_stuck_relaunch),
		cmocka_unit_test(test_no_stuck_mute_solo),
		cmocka_unit_test(test_no_stuck_panic),
		cmocka_unit_test(test_no_stuck_shutdown),
		cmocka_unit_test(test_port_loss_ends_notes),
		cmocka_unit_test(test_quantized_stop_exact),
		cmocka_unit_test(test_group_switch),
		cmocka_unit_test(test_table_handover),
		cmocka_unit_test(test_pattern_tempo_map),
	};

	return cmocka_run_group_tests(tests, setup, teardown);
}
