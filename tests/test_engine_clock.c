/*
 * Engine clock outputs and transport in virtual time: quantized and
 * immediate starts, 24 hours of exact ticks, tempo changes (now, beat, bar)
 * without a phase jump, swing, offsets, division/multiplication, stop,
 * clock while stopped, continue with SPP, locate, bad commands, and direct
 * versus scheduled delivery producing the same stream.
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

#define T0 INT64_C(1000000000) /* virtual time at engine_init */
#define MS INT64_C(1000000)
#define SEC INT64_C(1000000000)
#define BPM(x) ((int64_t)((x) * 1000000.0 + 0.5))

static struct engine eng;
static struct capture_midi cap;
static struct timesrc_virtual vt;

/* round(num / den), independent of the code under test (num >= 0) */
static int64_t rdiv(__int128 num, __int128 den)
{
	return (int64_t)((2 * num + den) / (2 * den));
}

/* time of a tick index (24 PPQN) counted from position 0 at T0, at one tempo */
static int64_t tick_time(int64_t k, double bpm)
{
	/* tick period = 60e9 / (bpm * 24) = 2.5e9 / bpm ns; bpm given exactly in micro */
	return T0 + rdiv((__int128)k * 2500000000 * 1000000, BPM(bpm));
}

static void setup_engine(int64_t lookahead_ns, double bpm, int nout,
			 const struct clk_output_cfg *outs)
{
	struct engine_cfg cfg;

	engine_cfg_defaults(&cfg);
	cfg.lookahead_ns = lookahead_ns;
	cfg.bpm_micro = BPM(bpm);
	cfg.nout = nout;
	for (int i = 0; i < nout; i++) {
		cfg.out[i] = outs[i];
		cfg.out_port[i] = i;
	}
	timesrc_virtual_init(&vt, T0);
	capture_midi_init(&cap);
	assert_int_equal(engine_init(&eng, &vt.base, &cap.base, &cfg), 0);
}

static void one_default_output(int64_t lookahead_ns, double bpm)
{
	struct clk_output_cfg o;

	clk_output_cfg_defaults(&o);
	setup_engine(lookahead_ns, bpm, 1, &o);
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

/* Events of one type on one port, in send order. */
static int pick(int port, uint8_t type, struct capture_event *out, int max)
{
	int n = 0;

	for (int i = 0; i < cap.n && n < max; i++)
		if (cap.ev[i].port == port && cap.ev[i].msg.type == type)
			out[n++] = cap.ev[i];
	return n;
}

static int find(int port, uint8_t type)
{
	for (int i = 0; i < cap.n; i++)
		if (cap.ev[i].port == port && cap.ev[i].msg.type == type)
			return i;
	return -1;
}

static void assert_due_sorted(void)
{
	for (int i = 1; i < cap.n; i++)
		if (cap.ev[i].port == cap.ev[i - 1].port)
			assert_true(cap.ev[i].due_ns >= cap.ev[i - 1].due_ns);
}

static void test_start_on_next_bar(void **state)
{
	struct capture_event clk[128];
	int n, s;

	(void)state;
	one_default_output(5 * MS, 120);
	post(ENGINE_CMD_START, ENGINE_WHEN_BAR, 0);
	run_to(T0 + 3 * SEC);
	s = find(0, MIDI_START);
	assert_true(s >= 0);
	/* bar 1 of 4/4 at 120 BPM is at 2 s; Start 1 ms before it */
	assert_int_equal(cap.ev[s].due_ns, T0 + 2 * SEC - MS);
	n = pick(0, MIDI_CLOCK, clk, 128);
	assert_int_equal(n, 48); /* pulses in [2 s, 3 s) */
	assert_true(find(0, MIDI_CLOCK) > s); /* Start before the first clock */
	for (int k = 0; k < n; k++)
		assert_int_equal(clk[k].due_ns, tick_time(96 + k, 120));
	assert_int_equal(clk[0].due_ns, T0 + 2 * SEC); /* first Clock exactly on the downbeat */
	assert_int_equal(atomic_load(&eng.stats.late), 0);
	assert_due_sorted();
}

static void test_start_now_on_next_tick(void **state)
{
	struct capture_event clk[8];
	struct clk_snapshot snap;

	(void)state;
	one_default_output(5 * MS, 120);
	post(ENGINE_CMD_START, ENGINE_WHEN_NOW, 0);
	run_to(T0 + 100 * MS);
	/* the command runs at the first heartbeat (T0 + 10 ms); lookahead 5 ms:
	 * the first tick after 15 ms is tick 1 at 20.833 ms */
	assert_int_equal(cap.ev[find(0, MIDI_START)].due_ns, tick_time(1, 120) - MS);
	assert_true(pick(0, MIDI_CLOCK, clk, 8) >= 4);
	assert_int_equal(clk[0].due_ns, tick_time(1, 120));
	assert_true(engine_snapshot(&eng, &snap));
	assert_int_equal(snap.transport, ENGINE_PLAYING);
	assert_int_equal(clk_snapshot_song_pos(&snap, tick_time(1, 120)), 0);
	assert_int_equal(clk_snapshot_song_pos(&snap, tick_time(25, 120)), TL_UNITS_PER_BEAT);
}

struct day_check {
	int64_t k;        /* ticks seen */
	int64_t first;    /* tick index of the downbeat on the T0 grid */
	int64_t errors;   /* ticks off their exact ns */
};

static void day_cb(void *ctx, const struct capture_event *ev) RT_SAFE
{
	struct day_check *d = ctx;
	int64_t k;
	__int128 num;

	if (ev->msg.type != MIDI_CLOCK)
		return;
	k = d->first + d->k++;
	num = (__int128)k * 62500000; /* tick = 62.5e6 / 3 ns at 120 BPM */
	if (ev->due_ns != T0 + (int64_t)((2 * num + 3) / 6))
		d->errors++;
}

static void test_24_hours_exact(void **state)
{
	struct day_check d = { .first = 1 };

	(void)state;
	one_default_output(5 * MS, 120);
	cap.check = day_cb;
	cap.check_ctx = &d;
	post(ENGINE_CMD_START, ENGINE_WHEN_NOW, 0);
	/* downbeat at tick 1 (20.833 ms); 24 h later, exclusive */
	run_to(tick_time(1, 120) + 86400 * SEC);
	assert_int_equal(d.k, 4147200);
	assert_int_equal(d.errors, 0);
	assert_int_equal(atomic_load(&eng.stats.late), 0);
}

/* Every interval between consecutive clocks is one of the two tempos'
 * periods (+-1 ns rounding), or a blend of both when the change falls
 * between two pulses: never outside the range - no hiccup. */
static void assert_no_jump(const struct capture_event *clk, int n, double a, double b)
{
	double pa = 2.5e9 / a, pb = 2.5e9 / b;
	double lo = (pa < pb ? pa : pb) - 1, hi = (pa > pb ? pa : pb) + 1;

	for (int i = 1; i < n; i++) {
		double d = (double)(clk[i].due_ns - clk[i - 1].due_ns);
		if (d < lo || d > hi)
			fail_msg("interval %d = %.0f ns outside [%.0f, %.0f]", i, d, lo, hi);
	}
}

static void test_tempo_change_now_is_seamless(void **state)
{
	static struct capture_event clk[512];
	struct engine_note note;
	int n, changed = 0;

	(void)state;
	one_default_output(5 * MS, 120);
	post(ENGINE_CMD_START, ENGINE_WHEN_BAR, 0);
	run_to(T0 + 2500 * MS + 123457);
	post(ENGINE_CMD_TEMPO, ENGINE_WHEN_NOW, BPM(140.5));
	run_to(T0 + 5 * SEC);
	n = pick(0, MIDI_CLOCK, clk, 512);
	assert_no_jump(clk, n, 120, 140.5);
	while (engine_poll_note(&eng, &note) == 0)
		if (note.type == ENGINE_NOTE_TEMPO) {
			changed = 1;
			assert_int_equal(note.a, BPM(140.5));
			/* takes effect after what was already handed out, not later
			 * than the lookahead */
			assert_true(note.t_ns > T0 + 2500 * MS && note.t_ns < T0 + 2530 * MS);
		}
	assert_true(changed);
	/* the tail runs at the new tempo exactly */
	assert_int_equal(clk[n - 1].due_ns - clk[n - 2].due_ns, 17793594); /* 2.5e9/140.5, +-1 */
}

/* With audio rendering 50 ms ahead, a "now" change waits until after it. */
static void test_commit_ahead_for_audio(void **state)
{
	struct engine_note note;
	int64_t t_cmd;

	(void)state;
	one_default_output(5 * MS, 120);
	eng.commit_ahead_ns = 50 * MS;
	post(ENGINE_CMD_START, ENGINE_WHEN_BAR, 0);
	run_to(T0 + 2300 * MS);
	t_cmd = vt.now_ns;
	post(ENGINE_CMD_TEMPO, ENGINE_WHEN_NOW, BPM(90));
	run_to(T0 + 3 * SEC);
	while (engine_poll_note(&eng, &note) == 0)
		if (note.type == ENGINE_NOTE_TEMPO)
			break;
	assert_int_equal(note.type, ENGINE_NOTE_TEMPO);
	assert_true(note.t_ns >= t_cmd + 50 * MS);
	assert_true(note.t_ns < t_cmd + 60 * MS);
}

static void test_tempo_change_on_bar_and_beat(void **state)
{
	static struct capture_event clk[512];
	int n, at_bar = -1;

	(void)state;
	one_default_output(5 * MS, 120);
	post(ENGINE_CMD_START, ENGINE_WHEN_BAR, 0); /* song origin at 2 s */
	run_to(T0 + 2500 * MS);
	post(ENGINE_CMD_TEMPO, ENGINE_WHEN_BAR, BPM(90));
	run_to(T0 + 6 * SEC);
	n = pick(0, MIDI_CLOCK, clk, 512);
	for (int i = 0; i < n; i++)
		if (clk[i].due_ns == T0 + 4 * SEC)
			at_bar = i;
	assert_true(at_bar == 96); /* bar 2 of the song starts at 4 s, 96 pulses in */
	for (int i = 0; i < at_bar; i++)
		assert_int_equal(clk[i].due_ns, tick_time(96 + i, 120));
	for (int i = at_bar; i < n; i++) /* 90 BPM: pulse = 250e6 / 9 ns */
		assert_int_equal(clk[i].due_ns, T0 + 4 * SEC + rdiv((__int128)(i - at_bar) * 250000000, 9));

	/* next beat */
	one_default_output(5 * MS, 120);
	post(ENGINE_CMD_START, ENGINE_WHEN_BAR, 0);
	run_to(T0 + 2100 * MS);
	post(ENGINE_CMD_TEMPO, ENGINE_WHEN_BEAT, BPM(60));
	run_to(T0 + 4 * SEC);
	n = pick(0, MIDI_CLOCK, clk, 512);
	/* beat 1 of the song at 2.5 s; 60 BPM pulses are 41.667 ms */
	assert_int_equal(clk[24].due_ns, T0 + 2500 * MS);
	assert_int_equal(clk[23].due_ns, tick_time(96 + 23, 120));
	assert_int_equal(clk[25].due_ns, T0 + 2500 * MS + 41666667);
}

/* Two outputs, the second 30 ms late (a positive offset): a tempo change on
 * the beat changes both on the beat.  The first output hands out pulses
 * past the change point while the second still has some before it to send;
 * those keep the old tempo (the change becomes the anchor only once every
 * output is past it). */
static void test_tempo_change_with_positive_offset(void **state)
{
	static struct capture_event clk[512];
	struct clk_output_cfg o[2];
	int n;

	(void)state;
	clk_output_cfg_defaults(&o[0]);
	clk_output_cfg_defaults(&o[1]);
	o[1].offset_us = 30000;
	setup_engine(5 * MS, 120, 2, o);
	post(ENGINE_CMD_START, ENGINE_WHEN_BAR, 0); /* song origin at 2 s */
	run_to(T0 + 2100 * MS);
	post(ENGINE_CMD_TEMPO, ENGINE_WHEN_BEAT, BPM(60));
	run_to(T0 + 4 * SEC);
	for (int port = 0; port < 2; port++) {
		int64_t off = port ? 30 * MS : 0;
		n = pick(port, MIDI_CLOCK, clk, 512);
		assert_true(n >= 60);
		/* beat 1 of the song at 2.5 s; 60 BPM pulses are 41.667 ms */
		for (int i = 0; i < 24; i++)
			assert_int_equal(clk[i].due_ns, tick_time(96 + i, 120) + off);
		for (int i = 24; i < n; i++)
			assert_int_equal(clk[i].due_ns,
					 T0 + 2500 * MS + rdiv((__int128)(i - 24) * 250000000, 6) + off);
	}
	assert_due_sorted();
}

/* Swing on `unit` (8 or 16) pairs at `permille`: within each pair the
 * pulses before the off-beat note are stretched linearly so that it lands
 * at the swing fraction of the pair, those after it compressed; the pair
 * boundaries do not move.  Checks the first 48 pulses after a Start on the
 * bar (T0 + 2 s, 120 BPM: a beat = 1612800 units = 0.5 s). */
static void check_swing(int permille, int unit)
{
	struct clk_output_cfg o;
	struct capture_event clk[64];
	const int64_t pair_units = 16 / unit * 806400, half = pair_units / 2;
	const int64_t knee = half * permille / 500;

	clk_output_cfg_defaults(&o);
	o.swing_permille = permille;
	o.swing_unit = unit;
	setup_engine(5 * MS, 120, 1, &o);
	post(ENGINE_CMD_START, ENGINE_WHEN_BAR, 0);
	run_to(T0 + 3100 * MS);
	assert_true(pick(0, MIDI_CLOCK, clk, 64) >= 48);
	for (int k = 0; k < 48; k++) {
		int64_t pair = k * 67200 / pair_units * pair_units, x = k * 67200 % pair_units, w;
		w = x < half ? x * permille / 500 : knee + (x - half) * (1000 - permille) / 500;
		assert_int_equal(clk[k].due_ns, T0 + 2 * SEC + rdiv((__int128)(pair + w) * 500000000, 1612800));
	}
}

static void test_swing_16ths(void **state)
{
	(void)state;
	check_swing(600, 16);
	/* the off-beat 16th lands at 60 % of the pair: 0.6 * 250 ms = 150 ms */
	assert_int_equal(cap.ev[find(0, MIDI_CLOCK) + 6].due_ns, T0 + 2 * SEC + 150 * MS);
	assert_int_equal(cap.ev[find(0, MIDI_CLOCK) + 12].due_ns, T0 + 2 * SEC + 250 * MS);
}

static void test_swing_8ths(void **state)
{
	struct capture_event clk[64];

	(void)state;
	check_swing(660, 8);
	pick(0, MIDI_CLOCK, clk, 64);
	assert_int_equal(clk[12].due_ns, T0 + 2 * SEC + 330 * MS); /* 66 % of 500 ms */
	assert_int_equal(clk[24].due_ns, T0 + 2 * SEC + 500 * MS); /* the beat unmoved */
	assert_int_equal(clk[6].due_ns, T0 + 2 * SEC + 165 * MS);  /* a quarter beat, swung */
}

/* The per-output switches: a clock-disabled output sends no pulses (its
 * Start/Stop/Continue/SPP have their own switches and still go out); one
 * without transport sends clock but no Start/Stop/Continue; one without SPP
 * sends Continue but no Song Position; switching an output off and on while
 * playing resumes it on the same grid. */
static void test_output_switches(void **state)
{
	struct clk_output_cfg o[4];
	struct capture_event a[256], d[256];
	int na, nd;

	(void)state;
	for (int i = 0; i < 4; i++)
		clk_output_cfg_defaults(&o[i]);
	o[1].enabled = false;
	o[2].transport = false;
	o[3].spp = false;
	setup_engine(5 * MS, 120, 4, o);
	post(ENGINE_CMD_START, ENGINE_WHEN_BAR, 0);
	run_to(T0 + 2300 * MS);
	post(ENGINE_CMD_STOP, 0, 0);
	run_to(T0 + 2700 * MS);
	post(ENGINE_CMD_LOCATE, 0, 8);
	run_to(T0 + 2800 * MS);
	post(ENGINE_CMD_CONTINUE, 0, 0);
	run_to(T0 + 3200 * MS);
	assert_int_equal(pick(1, MIDI_CLOCK, d, 256), 0); /* clock off: no pulse */
	assert_true(find(1, MIDI_START) >= 0 && find(1, MIDI_CONTINUE) >= 0);
	/* no transport: clock only, the same pulses as output 0 */
	assert_int_equal(find(2, MIDI_START), -1);
	assert_int_equal(find(2, MIDI_STOP), -1);
	assert_int_equal(find(2, MIDI_CONTINUE), -1);
	assert_true(find(2, MIDI_SONG_POSITION) >= 0); /* SPP is its own switch */
	na = pick(0, MIDI_CLOCK, a, 256);
	nd = pick(2, MIDI_CLOCK, d, 256);
	assert_true(na > 20);
	assert_int_equal(na, nd);
	for (int i = 0; i < na; i++)
		assert_int_equal(a[i].due_ns, d[i].due_ns);
	/* no SPP: Start, Stop, Continue but never a Song Position */
	assert_true(find(3, MIDI_START) >= 0 && find(3, MIDI_STOP) >= 0 &&
		    find(3, MIDI_CONTINUE) >= 0);
	assert_int_equal(find(3, MIDI_SONG_POSITION), -1);
	assert_true(find(0, MIDI_SONG_POSITION) >= 0);
	/* switch output 1 on while playing: it joins output 0's grid */
	post(ENGINE_CMD_OUTPUT, 1 | ENGINE_OUT_ENABLED << 8, 1);
	run_to(T0 + 3600 * MS);
	na = pick(0, MIDI_CLOCK, a, 256);
	nd = pick(1, MIDI_CLOCK, d, 256);
	assert_true(nd > 10);
	for (int i = 0; i < nd; i++)
		assert_int_equal(d[i].due_ns, a[na - nd + i].due_ns);
	/* the one-shot event pool's high-water mark, published for status:
	 * SPP + Continue on three outputs each were queued at once */
	assert_int_equal(atomic_load(&eng.stats.pool_high_water), 6);
	/* notifications nobody drains are dropped and counted, never blocking */
	for (int i = 0; i < ENGINE_NOTE_RING_CAP + 10; i++) {
		post(ENGINE_CMD_TEMPO, ENGINE_WHEN_NOW, BPM(100 + i % 50));
		if (i % 64 == 63)
			run_to(T0 + 3610 * MS + i * 10000);
	}
	run_to(T0 + 3650 * MS);
	assert_true(ring_drops(&eng.notes) >= 10);
	/* and off again: nothing more on it */
	post(ENGINE_CMD_OUTPUT, 1 | ENGINE_OUT_ENABLED << 8, 0);
	run_to(T0 + 3700 * MS);
	nd = pick(1, MIDI_CLOCK, d, 256);
	cap.n = 0;
	run_to(T0 + 4000 * MS);
	assert_int_equal(pick(1, MIDI_CLOCK, d, 256), 0);
	assert_true(pick(0, MIDI_CLOCK, a, 256) > 10);
}

static void test_offsets_shift_exactly(void **state)
{
	struct clk_output_cfg o[3];
	struct capture_event a[64], b[64], c[64];
	int na, nb, nc;

	(void)state;
	for (int i = 0; i < 3; i++)
		clk_output_cfg_defaults(&o[i]);
	o[1].offset_us = 2500;
	o[2].offset_us = -5000; /* down to exactly -lookahead (5 ms) */
	setup_engine(5 * MS, 120, 3, o);
	post(ENGINE_CMD_START, ENGINE_WHEN_BAR, 0);
	run_to(T0 + 2600 * MS);
	na = pick(0, MIDI_CLOCK, a, 64);
	nb = pick(1, MIDI_CLOCK, b, 64);
	nc = pick(2, MIDI_CLOCK, c, 64);
	assert_true(na > 20 && nb > 20 && nc > 20);
	for (int i = 0; i < 20; i++) {
		assert_int_equal(b[i].due_ns, a[i].due_ns + 2500000);
		assert_int_equal(c[i].due_ns, a[i].due_ns - 5000000);
	}
	assert_int_equal(cap.ev[find(2, MIDI_START)].due_ns, T0 + 2 * SEC - MS - 5 * MS);
	assert_int_equal(atomic_load(&eng.stats.late), 0); /* early output never late */
	/* an offset below -lookahead is refused */
	post(ENGINE_CMD_OUTPUT, 2 | ENGINE_OUT_OFFSET_US << 8, -5001);
	run_to(T0 + 2700 * MS);
	assert_int_equal(eng.out[2].cfg.offset_us, -5000);
	assert_int_equal(atomic_load(&eng.stats.rejected), 1);
}

static void test_division_and_multiplication(void **state)
{
	struct clk_output_cfg o[3];
	struct capture_event e12[16], e48[64], e2[4];

	(void)state;
	for (int i = 0; i < 3; i++)
		clk_output_cfg_defaults(&o[i]);
	o[0].ppqn = 12;
	o[1].ppqn = 48;
	o[2].ppqn = 2; /* Volca / Pocket Operator sync rate */
	setup_engine(5 * MS, 120, 3, o);
	post(ENGINE_CMD_START, ENGINE_WHEN_BAR, 0);
	run_to(T0 + 3 * SEC);
	assert_int_equal(pick(0, MIDI_CLOCK, e12, 16), 16);
	assert_int_equal(pick(1, MIDI_CLOCK, e48, 64), 64);
	assert_int_equal(pick(2, MIDI_CLOCK, e2, 4), 4);
	for (int k = 0; k < 16; k++)
		assert_int_equal(e12[k].due_ns, tick_time(96 + 2 * k, 120));
	for (int k = 0; k < 64; k++)
		assert_int_equal(e48[k].due_ns, T0 + 2 * SEC + rdiv((__int128)k * 62500000, 6));
	for (int k = 0; k < 4; k++)
		assert_int_equal(e2[k].due_ns, T0 + 2 * SEC + k * 250 * MS);
}

static void test_stop_and_clock_while_stopped(void **state)
{
	struct clk_output_cfg o[2];
	static struct capture_event a[256], b[256];
	struct clk_snapshot snap;
	int na, nb, stop;

	(void)state;
	clk_output_cfg_defaults(&o[0]);
	clk_output_cfg_defaults(&o[1]);
	o[1].clock_while_stopped = true;
	setup_engine(5 * MS, 120, 2, o);
	post(ENGINE_CMD_START, ENGINE_WHEN_BAR, 0);
	run_to(T0 + 2300 * MS);
	post(ENGINE_CMD_STOP, 0, 0);
	run_to(T0 + 3 * SEC);
	/* first pulse after 2.3 s + 5 ms lookahead: pulse 15 of the song (2.3125 s) */
	stop = find(0, MIDI_STOP);
	assert_true(stop >= 0);
	assert_int_equal(cap.ev[stop].due_ns, tick_time(96 + 15, 120) - MS);
	na = pick(0, MIDI_CLOCK, a, 256);
	assert_int_equal(na, 15); /* pulses 0..14 only */
	assert_int_equal(a[na - 1].due_ns, tick_time(96 + 14, 120));
	nb = pick(1, MIDI_CLOCK, b, 256);
	assert_true(nb > 90); /* keeps pulsing from T0 on, before and after */
	for (int i = 1; i < nb; i++)
		assert_int_equal(b[i].due_ns - b[i - 1].due_ns >= 20833333 &&
				 b[i].due_ns - b[i - 1].due_ns <= 20833334, 1);
	assert_true(engine_snapshot(&eng, &snap));
	assert_int_equal(snap.transport, ENGINE_STOPPED);
	assert_int_equal(snap.stopped_song_pos, 15 * TL_UNITS_PER_TICK);
	assert_int_equal(clk_snapshot_song_pos(&snap, T0 + 2900 * MS), 15 * TL_UNITS_PER_TICK);
}

static void test_continue_with_spp(void **state)
{
	struct capture_event clk[256];
	int spp, cont, n, first_after;
	int64_t p;

	(void)state;
	one_default_output(5 * MS, 120);
	post(ENGINE_CMD_START, ENGINE_WHEN_BAR, 0);
	run_to(T0 + 2300 * MS);
	post(ENGINE_CMD_STOP, 0, 0); /* stops at song pulse 15 = 16th 2 + 3 pulses */
	run_to(T0 + 2700 * MS);
	cap.n = 0;
	post(ENGINE_CMD_CONTINUE, 0, 0);
	run_to(T0 + 3 * SEC);
	spp = find(0, MIDI_SONG_POSITION);
	cont = find(0, MIDI_CONTINUE);
	assert_true(spp >= 0 && cont > spp);
	assert_int_equal(cap.ev[spp].msg.data[0], 2); /* resumes at 16th #2 */
	assert_int_equal(cap.ev[spp].msg.data[1], 0);
	n = pick(0, MIDI_CLOCK, clk, 256);
	first_after = find(0, MIDI_CLOCK);
	assert_true(first_after > cont);
	p = clk[0].due_ns;
	assert_int_equal(cap.ev[cont].due_ns, p - MS);
	assert_int_equal(cap.ev[spp].due_ns, p - 2 * MS);
	/* the resumed pulses stay on the 120 BPM pulse grid */
	for (int i = 1; i < n; i++)
		assert_true(clk[i].due_ns - clk[i - 1].due_ns >= 20833333 &&
			    clk[i].due_ns - clk[i - 1].due_ns <= 20833334);
	/* continue while playing is refused */
	post(ENGINE_CMD_CONTINUE, 0, 0);
	run_to(T0 + 3100 * MS);
	assert_int_equal(atomic_load(&eng.stats.rejected), 1);
}

static void test_locate(void **state)
{
	struct capture_event clk[256];
	struct clk_snapshot snap;
	int spp, stop, cont, n;

	(void)state;
	one_default_output(5 * MS, 120);
	run_to(T0 + 100 * MS);
	post(ENGINE_CMD_LOCATE, 0, 300); /* stopped: just SPP */
	run_to(T0 + 200 * MS);
	spp = find(0, MIDI_SONG_POSITION);
	assert_true(spp >= 0);
	assert_int_equal(cap.ev[spp].msg.data[0], 300 & 0x7f);
	assert_int_equal(cap.ev[spp].msg.data[1], 300 >> 7);
	assert_true(engine_snapshot(&eng, &snap));
	assert_int_equal(snap.stopped_song_pos, 300 * TL_UNITS_PER_BEAT / 4);

	post(ENGINE_CMD_START, ENGINE_WHEN_BAR, 0);
	run_to(T0 + 2210 * MS);
	cap.n = 0;
	post(ENGINE_CMD_LOCATE, 0, 64); /* playing: Stop, SPP, Continue on the next 16th */
	run_to(T0 + 3 * SEC);
	stop = find(0, MIDI_STOP);
	spp = find(0, MIDI_SONG_POSITION);
	cont = find(0, MIDI_CONTINUE);
	assert_true(stop >= 0 && spp > stop && cont > spp);
	assert_int_equal(cap.ev[spp].msg.data[0], 64);
	/* next 16th after 2.215 s: 16th #2 of the song at 2.25 s */
	assert_int_equal(cap.ev[cont].due_ns, T0 + 2250 * MS - MS);
	n = pick(0, MIDI_CLOCK, clk, 256);
	for (int i = 1; i < n; i++) /* the clock never stumbles */
		assert_true(clk[i].due_ns - clk[i - 1].due_ns >= 20833333 &&
			    clk[i].due_ns - clk[i - 1].due_ns <= 20833334);
	assert_true(engine_snapshot(&eng, &snap));
	assert_int_equal(clk_snapshot_song_pos(&snap, T0 + 2250 * MS), 64 * TL_UNITS_PER_BEAT / 4);
}

static void test_bad_commands_change_nothing(void **state)
{
	struct clk_snapshot before, after;
	struct engine_note note;
	static const struct {
		uint32_t type, u32;
		int64_t i64;
		int err;
	} bad[] = {
		{ ENGINE_CMD_TEMPO, ENGINE_WHEN_NOW, BPM(19.999), -ERANGE },
		{ ENGINE_CMD_TEMPO, ENGINE_WHEN_NOW, BPM(1000), -ERANGE },
		{ ENGINE_CMD_TEMPO, 9, BPM(100), -EINVAL },
		{ ENGINE_CMD_START, 7, 0, -EINVAL },
		{ ENGINE_CMD_LOCATE, 0, 16384, -ERANGE },
		{ ENGINE_CMD_LOCATE, 0, -1, -ERANGE },
		{ ENGINE_CMD_QUANTUM, 0, 0, -ERANGE },
		{ ENGINE_CMD_QUANTUM, 65, 0, -ERANGE },
		{ ENGINE_CMD_OUTPUT, 5, 1, -ENOENT },
		{ ENGINE_CMD_OUTPUT, 0 | ENGINE_OUT_SWING << 8, 751, -ERANGE },
		{ ENGINE_CMD_OUTPUT, 0 | ENGINE_OUT_PPQN << 8, 0, -ERANGE },
		{ ENGINE_CMD_OUTPUT, 0 | ENGINE_OUT_SWING_UNIT << 8, 4, -ERANGE },
		{ ENGINE_CMD_OUTPUT, 0 | 99 << 8, 4, -EINVAL },
		{ 77, 0, 0, -ENOSYS },
	};
	struct clk_output_cfg cfg_before;
	unsigned i = 0;

	(void)state;
	one_default_output(5 * MS, 120);
	run_to(T0 + 50 * MS);
	assert_true(engine_snapshot(&eng, &before));
	cfg_before = eng.out[0].cfg;
	for (i = 0; i < sizeof(bad) / sizeof(bad[0]); i++)
		post(bad[i].type, bad[i].u32, bad[i].i64);
	run_to(T0 + 100 * MS);
	i = 0;
	while (engine_poll_note(&eng, &note) == 0) {
		assert_int_equal(note.type, ENGINE_NOTE_REJECTED);
		assert_int_equal(note.u32, bad[i].type);
		assert_int_equal(note.a, bad[i].err);
		i++;
	}
	assert_int_equal(i, sizeof(bad) / sizeof(bad[0]));
	assert_true(engine_snapshot(&eng, &after));
	assert_memory_equal(&before.tl, &after.tl, sizeof(before.tl));
	assert_int_equal(after.quantum, 4);
	assert_memory_equal(&cfg_before, &eng.out[0].cfg, sizeof(cfg_before));
	assert_int_equal(cap.total, 0);
}

/* Direct (lookahead 0) and scheduled delivery hand out the same events at
 * the same due times; only when they are handed out differs. */
static void test_direct_equals_scheduled(void **state)
{
	static struct capture_event sched[CAPTURE_MIDI_MAX];
	int n;

	(void)state;
	one_default_output(5 * MS, 133);
	post(ENGINE_CMD_START, ENGINE_WHEN_BAR, 0);
	run_to(T0 + 3 * SEC);
	post(ENGINE_CMD_TEMPO, ENGINE_WHEN_BAR, BPM(97));
	run_to(T0 + 6 * SEC);
	n = cap.n;
	memcpy(sched, cap.ev, sizeof(sched));

	one_default_output(0, 133);
	post(ENGINE_CMD_START, ENGINE_WHEN_BAR, 0);
	run_to(T0 + 3 * SEC);
	post(ENGINE_CMD_TEMPO, ENGINE_WHEN_BAR, BPM(97));
	run_to(T0 + 6 * SEC);
	assert_int_equal(cap.n, n);
	for (int i = 0; i < n; i++) {
		assert_int_equal(cap.ev[i].msg.type, sched[i].msg.type);
		assert_int_equal(cap.ev[i].due_ns, sched[i].due_ns);
	}
	assert_int_equal(atomic_load(&eng.stats.late), 0);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_start_on_next_bar),
		cmocka_unit_test(test_start_now_on_next_tick),
		cmocka_unit_test(test_24_hours_exact),
		cmocka_unit_test(test_tempo_change_now_is_seamless),
		cmocka_unit_test(test_tempo_change_on_bar_and_beat),
		cmocka_unit_test(test_tempo_change_with_positive_offset),
		cmocka_unit_test(test_commit_ahead_for_audio),
		cmocka_unit_test(test_swing_16ths),
		cmocka_unit_test(test_swing_8ths),
		cmocka_unit_test(test_output_switches),
		cmocka_unit_test(test_offsets_shift_exactly),
		cmocka_unit_test(test_division_and_multiplication),
		cmocka_unit_test(test_stop_and_clock_while_stopped),
		cmocka_unit_test(test_continue_with_spp),
		cmocka_unit_test(test_locate),
		cmocka_unit_test(test_bad_commands_change_nothing),
		cmocka_unit_test(test_direct_equals_scheduled),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
