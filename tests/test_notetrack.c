/*
 * Note tracker: recording, counts and owners, every release the issue
 * names (stop, mute, pattern stop/switch, output loss, panic, shutdown)
 * checked against two model receivers - one that stacks a voice per
 * note-on, one that keys voices by note - which must both end silent;
 * capacity and refusal; split releases; and a randomized comparison with a
 * plain reference model.  RT path: also run in the RTSan build.
 */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <cmocka.h>

#include "engine/notetrack.h"

static struct notetrack nt; /* large: static */

#define ANY NOTETRACK_ANY
#define F(o, c, w) (&(struct notetrack_filter){ .out = (o), .channel = (c), .owner = (w) })

/* ---- model receivers ----------------------------------------------- */

struct synth {
	uint16_t stacked[NOTETRACK_OUT_MAX][16][128]; /* voices of a receiver that stacks note-ons */
	uint8_t keyed[NOTETRACK_OUT_MAX][16][128];   /* 1 while a per-key receiver sounds the note */
};

static struct synth syn;

static void syn_send(struct synth *s, int out, const struct midi_msg *m)
{
	uint8_t c = m->channel, k = m->data[0];

	if (m->type == MIDI_NOTE_ON && m->data[1] > 0) {
		s->stacked[out][c][k]++;
		s->keyed[out][c][k] = 1;
	} else if (m->type == MIDI_NOTE_ON || m->type == MIDI_NOTE_OFF) {
		if (s->stacked[out][c][k])
			s->stacked[out][c][k]--;
		s->keyed[out][c][k] = 0;
	}
}

static unsigned syn_sounding(const struct synth *s, int out)
{
	unsigned n = 0;

	for (int c = 0; c < 16; c++)
		for (int k = 0; k < 128; k++)
			n += s->stacked[out][c][k] + s->keyed[out][c][k];
	return n;
}

/* What the engine does: track, and send only what the tracker accepted. */
static void play(int out, int owner, uint8_t type, int ch, int key, int vel)
{
	struct midi_msg m = { .type = type, .channel = (uint8_t)ch,
			      .data = { (uint8_t)key, (uint8_t)vel } };
	int r = notetrack_msg(&nt, out, owner, &m);

	if (r == 0 || r == -ENOENT)
		syn_send(&syn, out, &m);
}

/* Release what matches: one note-off per outstanding note-on. */
static uint32_t release(const struct notetrack_filter *f)
{
	struct notetrack_note notes[8];
	uint32_t n, total = 0;

	do {
		n = notetrack_take(&nt, f, notes, 8);
		for (uint32_t i = 0; i < n; i++) {
			struct midi_msg off = { .type = MIDI_NOTE_OFF, .channel = notes[i].channel,
						.data = { notes[i].note, 64 } };
			for (uint16_t j = 0; j < notes[i].count; j++)
				syn_send(&syn, notes[i].out, &off);
			total += notes[i].count;
		}
	} while (n == 8);
	return total;
}

static int setup(void **state)
{
	(void)state;
	notetrack_init(&nt);
	memset(&syn, 0, sizeof(syn));
	return 0;
}

/* ---- basics -------------------------------------------------------- */

static void test_on_off(void **state)
{
	(void)state;
	assert_int_equal(notetrack_on(&nt, 0, 0, 60, 1), 0);
	assert_int_equal(notetrack_sounding(&nt, 0, 0, 60), 1);
	assert_int_equal(notetrack_count(&nt, F(ANY, ANY, ANY)), 1);
	assert_int_equal(notetrack_off(&nt, 0, 0, 60, 1), 0);
	assert_int_equal(notetrack_sounding(&nt, 0, 0, 60), 0);
	assert_int_equal(nt.nrec, 0);
	assert_int_equal(nt.sounding, 0);
	assert_int_equal(nt.stats.ons, 1);
	assert_int_equal(nt.stats.offs, 1);
	/* a second off is stray */
	assert_int_equal(notetrack_off(&nt, 0, 0, 60, 1), -ENOENT);
	assert_int_equal(nt.stats.stray_offs, 1);
}

static void test_messages(void **state)
{
	struct midi_msg on = { .type = MIDI_NOTE_ON, .channel = 3, .data = { 64, 100 } };
	struct midi_msg on0 = { .type = MIDI_NOTE_ON, .channel = 3, .data = { 64, 0 } };
	struct midi_msg off = { .type = MIDI_NOTE_OFF, .channel = 3, .data = { 64, 0 } };
	struct midi_msg cc = { .type = MIDI_CONTROL_CHANGE, .channel = 3, .data = { 64, 127 } };
	struct midi_msg pat = { .type = MIDI_POLY_PRESSURE, .channel = 3, .data = { 64, 1 } };

	(void)state;
	assert_int_equal(notetrack_msg(&nt, 2, 7, &on), 0);
	assert_int_equal(notetrack_msg(&nt, 2, 7, &cc), 0);
	assert_int_equal(notetrack_msg(&nt, 2, 7, &pat), 0);
	assert_int_equal(notetrack_sounding(&nt, 2, 3, 64), 1);
	assert_int_equal(notetrack_msg(&nt, 2, 7, &on0), 0); /* velocity 0 = note-off */
	assert_int_equal(notetrack_sounding(&nt, 2, 3, 64), 0);
	assert_int_equal(notetrack_msg(&nt, 2, 7, &on), 0);
	assert_int_equal(notetrack_msg(&nt, 2, 7, &off), 0);
	assert_int_equal(notetrack_sounding(&nt, 2, 3, 64), 0);
	assert_int_equal(notetrack_msg(&nt, 2, 7, &off), -ENOENT);
}

/* Two note-ons of one key and owner: sounding until the second note-off;
 * released with a count of what is outstanding. */
static void test_double_note_on(void **state)
{
	struct notetrack_note n[4];

	(void)state;
	assert_int_equal(notetrack_on(&nt, 0, 9, 36, 0), 0);
	assert_int_equal(notetrack_on(&nt, 0, 9, 36, 0), 0);
	assert_int_equal(notetrack_sounding(&nt, 0, 9, 36), 2);
	assert_int_equal(nt.nrec, 1);
	assert_int_equal(notetrack_off(&nt, 0, 9, 36, 0), 1);
	assert_int_equal(notetrack_sounding(&nt, 0, 9, 36), 1);
	assert_int_equal(notetrack_on(&nt, 0, 9, 36, 0), 0);
	assert_int_equal(notetrack_take(&nt, F(ANY, ANY, ANY), n, 4), 1);
	assert_int_equal(n[0].count, 2);
	assert_int_equal(n[0].others, 0);
	assert_int_equal(nt.stats.released, 2);
	assert_int_equal(notetrack_sounding(&nt, 0, 9, 36), 0);
}

static void test_owners_are_separate(void **state)
{
	struct notetrack_note n[4];

	(void)state;
	assert_int_equal(notetrack_on(&nt, 1, 0, 60, 5), 0);  /* pattern 5 */
	assert_int_equal(notetrack_on(&nt, 1, 0, 60, 2), 0);  /* pattern 2, same key */
	assert_int_equal(notetrack_on(&nt, 1, 0, 60, 2), 0);
	assert_int_equal(notetrack_on(&nt, 1, 0, 62, 5), 0);
	assert_int_equal(notetrack_sounding(&nt, 1, 0, 60), 3);
	/* pattern 9 never played it: stray, nothing changes */
	assert_int_equal(notetrack_off(&nt, 1, 0, 60, 9), -ENOENT);
	assert_int_equal(notetrack_sounding(&nt, 1, 0, 60), 3);
	/* pattern 5's note-off closes its own only */
	assert_int_equal(notetrack_off(&nt, 1, 0, 60, 5), 0);
	assert_int_equal(notetrack_sounding(&nt, 1, 0, 60), 2);
	assert_int_equal(notetrack_on(&nt, 1, 0, 60, 5), 0);
	/* mute pattern 5: its two notes, with the other owner's count shown */
	assert_int_equal(notetrack_take(&nt, F(ANY, ANY, 5), n, 4), 2);
	assert_int_equal(n[0].note, 60);
	assert_int_equal(n[0].owner, 5);
	assert_int_equal(n[0].count, 1);
	assert_int_equal(n[0].others, 2);
	assert_int_equal(n[1].note, 62);
	assert_int_equal(n[1].others, 0);
	assert_int_equal(notetrack_count(&nt, F(ANY, ANY, 5)), 0);
	assert_int_equal(notetrack_count(&nt, F(ANY, ANY, 2)), 2);
	assert_int_equal(notetrack_off(&nt, 1, 0, 60, 2), 1);
}

static void test_invalid(void **state)
{
	struct notetrack_note n[1];

	(void)state;
	assert_int_equal(notetrack_on(&nt, -1, 0, 0, 0), -EINVAL);
	assert_int_equal(notetrack_on(&nt, NOTETRACK_OUT_MAX, 0, 0, 0), -EINVAL);
	assert_int_equal(notetrack_on(&nt, 0, 16, 0, 0), -EINVAL);
	assert_int_equal(notetrack_on(&nt, 0, 0, 128, 0), -EINVAL);
	assert_int_equal(notetrack_on(&nt, 0, 0, 0, -1), -EINVAL);
	assert_int_equal(notetrack_on(&nt, 0, 0, 0, NOTETRACK_OWNER_NONE + 1), -EINVAL);
	assert_int_equal(notetrack_off(&nt, 0, -3, 0, 0), -EINVAL);
	assert_int_equal(notetrack_on(&nt, NOTETRACK_OUT_MAX - 1, 15, 127, NOTETRACK_OWNER_NONE), 0);
	assert_int_equal(notetrack_sounding(&nt, NOTETRACK_OUT_MAX - 1, 15, 127), 1);
	assert_int_equal(notetrack_sounding(&nt, NOTETRACK_OUT_MAX, 15, 127), 0);
	/* filters out of range match nothing and take nothing */
	assert_int_equal(notetrack_count(&nt, F(NOTETRACK_OUT_MAX, ANY, ANY)), 0);
	assert_int_equal(notetrack_count(&nt, F(ANY, 16, ANY)), 0);
	assert_int_equal(notetrack_count(&nt, F(ANY, ANY, -2)), 0);
	assert_int_equal(notetrack_take(&nt, F(ANY, -5, ANY), n, 1), 0);
	assert_int_equal(notetrack_take(&nt, F(ANY, ANY, ANY), n, 0), 0);
	assert_int_equal(notetrack_take(&nt, F(ANY, ANY, ANY), NULL, 1), 0);
	assert_int_equal(notetrack_count(&nt, F(ANY, ANY, ANY)), 1);
	assert_int_equal(nt.stats.ons, 1);
}

/* Full: refuse (and count) rather than lose track; a freed record is reused. */
static void test_capacity(void **state)
{
	struct notetrack_note n[1];
	int i;

	(void)state;
	for (i = 0; i < NOTETRACK_CAP; i++)
		assert_int_equal(notetrack_on(&nt, i / 2048, (i / 128) % 16, i % 128, 0), 0);
	assert_int_equal(nt.high_water, NOTETRACK_CAP);
	assert_int_equal(notetrack_on(&nt, 31, 0, 0, 0), -ENOSPC);
	assert_int_equal(notetrack_on(&nt, 0, 0, 0, 1), -ENOSPC); /* new owner: new record */
	assert_int_equal(notetrack_on(&nt, 0, 0, 0, 0), 0);      /* same record: count */
	assert_int_equal(nt.stats.refused, 2);
	assert_int_equal(notetrack_off(&nt, 0, 5, 5, 0), 0);
	assert_int_equal(notetrack_on(&nt, 31, 0, 0, 0), 0);
	assert_int_equal(notetrack_count(&nt, F(ANY, ANY, ANY)), NOTETRACK_CAP + 1);
	assert_int_equal(notetrack_take(&nt, F(31, ANY, ANY), n, 1), 1);
	assert_int_equal(n[0].out, 31);
	/* count saturation */
	for (i = 0; i < NOTETRACK_COUNT_MAX - 1; i++)
		assert_int_equal(notetrack_on(&nt, 0, 1, 1, 0), 0);
	assert_int_equal(notetrack_sounding(&nt, 0, 1, 1), NOTETRACK_COUNT_MAX);
	assert_int_equal(notetrack_on(&nt, 0, 1, 1, 0), -EOVERFLOW);
	assert_int_equal(nt.stats.refused, 3);
	/* all released: the whole capacity is free again */
	assert_int_equal(release(F(ANY, ANY, ANY)), NOTETRACK_CAP + NOTETRACK_COUNT_MAX - 1);
	assert_int_equal(nt.nrec, 0);
	for (i = 0; i < NOTETRACK_CAP; i++)
		assert_int_equal(notetrack_on(&nt, 3, i % 16, i % 128, i / 128), 0);
	assert_int_equal(notetrack_on(&nt, 3, 0, 0, 999), -ENOSPC);
}

/* Releases come out in (output, channel, note, owner) order whatever the
 * order of play, and a release split over several calls loses nothing. */
static void test_take_order_and_split(void **state)
{
	static const int keys[][4] = { /* out, ch, note, owner */
		{ 3, 2, 10, 1 }, { 0, 0, 127, 0 }, { 3, 2, 10, 0 }, { 0, 15, 0, 4 },
		{ 1, 0, 64, 2 }, { 0, 0, 0, 9 }, { 3, 2, 10, 7 }, { 0, 0, 63, 0 },
		{ 0, 0, 64, 0 }, { 31, 15, 127, 3 },
	};
	static const int want[][4] = {
		{ 0, 0, 0, 9 }, { 0, 0, 63, 0 }, { 0, 0, 64, 0 }, { 0, 0, 127, 0 },
		{ 0, 15, 0, 4 }, { 1, 0, 64, 2 }, { 3, 2, 10, 0 }, { 3, 2, 10, 1 },
		{ 3, 2, 10, 7 }, { 31, 15, 127, 3 },
	};
	struct notetrack_note n[3];
	uint32_t got = 0, k;

	(void)state;
	for (size_t i = 0; i < sizeof(keys) / sizeof(keys[0]); i++)
		assert_int_equal(notetrack_on(&nt, keys[i][0], keys[i][1], keys[i][2], keys[i][3]), 0);
	assert_int_equal(notetrack_count(&nt, F(0, ANY, ANY)), 5);
	assert_int_equal(notetrack_count(&nt, F(ANY, 2, ANY)), 3);
	assert_int_equal(notetrack_count(&nt, F(ANY, 0, 0)), 3);
	while ((k = notetrack_take(&nt, F(ANY, ANY, ANY), n, 3)) > 0) {
		for (uint32_t i = 0; i < k; i++, got++) {
			assert_int_equal(n[i].out, want[got][0]);
			assert_int_equal(n[i].channel, want[got][1]);
			assert_int_equal(n[i].note, want[got][2]);
			assert_int_equal(n[i].owner, want[got][3]);
			assert_int_equal(n[i].count, 1);
		}
	}
	assert_int_equal(got, 10);
	assert_int_equal(nt.nrec, 0);
	assert_int_equal(nt.sounding, 0);
}

/* A key shared by three owners, released owner by owner with max 1. */
static void test_others_across_split(void **state)
{
	struct notetrack_note n[1];

	(void)state;
	notetrack_on(&nt, 0, 0, 60, 1);
	notetrack_on(&nt, 0, 0, 60, 2);
	notetrack_on(&nt, 0, 0, 60, 2);
	notetrack_on(&nt, 0, 0, 60, 3);
	assert_int_equal(notetrack_take(&nt, F(ANY, ANY, ANY), n, 1), 1);
	assert_int_equal(n[0].owner, 1);
	assert_int_equal(n[0].others, 3);
	assert_int_equal(notetrack_take(&nt, F(ANY, ANY, ANY), n, 1), 1);
	assert_int_equal(n[0].owner, 2);
	assert_int_equal(n[0].count, 2);
	assert_int_equal(n[0].others, 1);
	assert_int_equal(notetrack_take(&nt, F(ANY, ANY, ANY), n, 1), 1);
	assert_int_equal(n[0].owner, 3);
	assert_int_equal(n[0].others, 0);
	assert_int_equal(notetrack_take(&nt, F(ANY, ANY, ANY), n, 1), 0);
}

/* ---- the releases the issue names, at this level ------------------- */

/* Two patterns (owners 0, 1) on outputs 0 and 1, plus a direct note
 * (OWNER_NONE), some notes overlapping, some ended, some double-struck. */
static void scene(void)
{
	play(0, 0, MIDI_NOTE_ON, 0, 60, 100);
	play(0, 0, MIDI_NOTE_ON, 0, 64, 100);
	play(0, 0, MIDI_NOTE_OFF, 0, 60, 0);
	play(0, 0, MIDI_NOTE_ON, 0, 67, 90);
	play(0, 0, MIDI_NOTE_ON, 0, 67, 90);   /* double strike */
	play(0, 1, MIDI_NOTE_ON, 9, 36, 127);
	play(0, 1, MIDI_NOTE_ON, 9, 42, 80);
	play(0, 1, MIDI_NOTE_ON, 9, 42, 0);    /* velocity-0 off */
	play(0, 1, MIDI_NOTE_ON, 0, 64, 70);   /* same key as pattern 0 */
	play(1, 1, MIDI_NOTE_ON, 2, 48, 100);
	play(1, 0, MIDI_NOTE_ON, 2, 50, 100);
	play(1, NOTETRACK_OWNER_NONE, MIDI_NOTE_ON, 5, 70, 1);
	play(1, 0, MIDI_NOTE_OFF, 2, 51, 0);   /* stray */
}

static void test_release_stop_all(void **state)
{
	(void)state;
	scene();
	assert_true(syn_sounding(&syn, 0) > 0);
	assert_int_equal(release(F(ANY, ANY, ANY)), 8); /* stop, SIGTERM, /panic */
	assert_int_equal(syn_sounding(&syn, 0), 0);
	assert_int_equal(syn_sounding(&syn, 1), 0);
	assert_int_equal(nt.nrec, 0);
	assert_int_equal(nt.sounding, 0);
	assert_int_equal(nt.stats.stray_offs, 1);
}

static void test_release_mute_pattern(void **state)
{
	(void)state;
	scene();
	/* mute pattern 0: its notes on every output, nothing of pattern 1's */
	assert_int_equal(release(F(ANY, ANY, 0)), 4); /* 64, 67 x2 on out 0; 50 on out 1 */
	assert_int_equal(notetrack_count(&nt, F(ANY, ANY, 0)), 0);
	assert_int_equal(notetrack_count(&nt, F(ANY, ANY, 1)), 3);
	assert_int_equal(syn.stacked[0][0][67], 0);
	assert_int_equal(syn.stacked[0][9][36], 1);
	assert_int_equal(syn.stacked[1][2][48], 1);
	/* pattern 1 still owns key 64: its own note-off later ends it */
	assert_int_equal(notetrack_sounding(&nt, 0, 0, 64), 1);
	play(0, 1, MIDI_NOTE_OFF, 0, 64, 0);
	assert_int_equal(notetrack_sounding(&nt, 0, 0, 64), 0);
	/* pattern switch: stop pattern 1, start pattern 2 */
	assert_int_equal(release(F(ANY, ANY, 1)), 2);
	play(0, 2, MIDI_NOTE_ON, 9, 36, 100);
	assert_int_equal(notetrack_count(&nt, F(ANY, ANY, ANY)), 2); /* direct + pattern 2 */
	assert_int_equal(release(F(ANY, ANY, 2)), 1);
	assert_int_equal(release(F(ANY, ANY, NOTETRACK_OWNER_NONE)), 1);
	assert_int_equal(syn_sounding(&syn, 0) + syn_sounding(&syn, 1), 0);
}

static void test_release_output_lost(void **state)
{
	(void)state;
	scene();
	/* output 1 vanished: its notes are forgotten (and sent, should it come
	 * back); output 0 is untouched */
	assert_int_equal(release(F(1, ANY, ANY)), 3);
	assert_int_equal(syn_sounding(&syn, 1), 0);
	assert_int_equal(notetrack_count(&nt, F(0, ANY, ANY)), 5);
	assert_int_equal(notetrack_count(&nt, F(1, ANY, ANY)), 0);
	/* per channel (e.g. a pattern's channel on one output) */
	assert_int_equal(release(F(0, 9, ANY)), 1);
	assert_int_equal(notetrack_count(&nt, F(0, ANY, ANY)), 4);
	assert_int_equal(release(F(0, 0, ANY)), 4);
	assert_int_equal(syn_sounding(&syn, 0), 0);
}

/* ---- randomized against a plain model ------------------------------ */

#define RM_OUT 3
#define RM_OWN 4

static uint32_t rm_next(uint64_t *s)
{
	*s ^= *s << 13;
	*s ^= *s >> 7;
	*s ^= *s << 17;
	return (uint32_t)*s;
}

static void test_random_vs_model(void **state)
{
	static uint32_t model[RM_OUT][16][8][RM_OWN];
	uint64_t seed = 0x1234567;
	struct notetrack_note n[5];

	(void)state;
	memset(model, 0, sizeof(model));
	for (int step = 0; step < 200000; step++) {
		uint32_t r = rm_next(&seed);
		int o = (int)(r % RM_OUT), c = (int)((r >> 4) % 16), k = (int)((r >> 8) % 8);
		int w = (int)((r >> 12) % RM_OWN), op = (int)((r >> 16) % 100);

		if (op < 50) {
			assert_int_equal(notetrack_on(&nt, o, c, k, w), 0);
			model[o][c][k][w]++;
		} else if (op < 95) {
			int got = notetrack_off(&nt, o, c, k, w);
			if (model[o][c][k][w]) {
				model[o][c][k][w]--;
				assert_int_equal(got, (int)model[o][c][k][w]);
			} else {
				assert_int_equal(got, -ENOENT);
			}
		} else {
			struct notetrack_filter f = {
				.out = (r >> 20) % 2 ? ANY : o,
				.channel = (r >> 21) % 2 ? ANY : c,
				.owner = (r >> 22) % 2 ? ANY : w,
			};
			uint32_t want = 0, cnt = notetrack_count(&nt, &f), got;

			for (int oo = 0; oo < RM_OUT; oo++)
				for (int cc = 0; cc < 16; cc++)
					for (int kk = 0; kk < 8; kk++)
						for (int ww = 0; ww < RM_OWN; ww++)
							if ((f.out == ANY || f.out == oo) &&
							    (f.channel == ANY || f.channel == cc) &&
							    (f.owner == ANY || f.owner == ww))
								want += model[oo][cc][kk][ww];
			assert_int_equal(cnt, want);
			if ((r >> 23) % 4)
				continue; /* count only */
			while ((got = notetrack_take(&nt, &f, n, 5)) > 0) {
				for (uint32_t i = 0; i < got; i++) {
					uint32_t *m = &model[n[i].out][n[i].channel][n[i].note][n[i].owner];
					uint32_t others = 0;
					assert_int_equal(n[i].count, *m);
					want -= *m;
					*m = 0;
					for (int ww = 0; ww < RM_OWN; ww++)
						others += model[n[i].out][n[i].channel][n[i].note][ww];
					/* others: what stays once the key's matches are all gone */
					if (f.owner != ANY)
						assert_int_equal(n[i].others, others);
				}
			}
			assert_int_equal(want, 0);
			assert_int_equal(notetrack_count(&nt, &f), 0);
		}
	}
	assert_true(nt.stats.released > 0);
	assert_true(nt.stats.stray_offs > 0);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup(test_on_off, setup),
		cmocka_unit_test_setup(test_messages, setup),
		cmocka_unit_test_setup(test_double_note_on, setup),
		cmocka_unit_test_setup(test_owners_are_separate, setup),
		cmocka_unit_test_setup(test_invalid, setup),
		cmocka_unit_test_setup(test_capacity, setup),
		cmocka_unit_test_setup(test_take_order_and_split, setup),
		cmocka_unit_test_setup(test_others_across_split, setup),
		cmocka_unit_test_setup(test_release_stop_all, setup),
		cmocka_unit_test_setup(test_release_mute_pattern, setup),
		cmocka_unit_test_setup(test_release_output_lost, setup),
		cmocka_unit_test_setup(test_random_vs_model, setup),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
