/*
 * Parser throughput: midi_parse against alsa-lib's byte parser
 * (snd_midi_event_encode_byte) on the same deterministic, realistic stream:
 * channel traffic on a few channels with running status (notes, note-offs
 * as velocity 0, controller sweeps, pitch bend, program changes), MTC
 * quarter frames, active sensing, transport, short SysEx and bulk dumps,
 * and MIDI clock bytes dropped in at random positions, inside messages and
 * inside SysEx.  A second stream has the same traffic without SysEx, a
 * third is a librarian's bulk dump (SysEx back to back, clock running).
 *
 * Composition of the realistic stream (gen_stream(); per 1000 messages
 * drawn): note-on 380 (half of them velocity 0, as note-offs that keep
 * running status), control change 220 (three controllers, sweeping
 * values), pitch bend 120, channel pressure 40, program change 15, note-off
 * 25, all on four channels with a change of channel 1 in 20 (so running
 * status on ~28% of channel messages); MTC quarter frame 100, active
 * sensing 40, song position 5, start/continue/stop 5, clock 45 between
 * messages; SysEx 5 (4.75 of 6..45 payload bytes, 0.25 bulk dumps of
 * 256..4351).  One multi-byte message in 12 has a clock byte inside.  By
 * bytes: SysEx ~22%, clock ~4%; ~3 bytes a message (figures printed per
 * run).
 *
 * Both parsers do the same work per result: a tally of every event by
 * type, and for ours the return of SysEx chunks to their pool, which its
 * API requires.  Ours is called per buffer; alsa-lib both ways a user can
 * call it, one snd_midi_event_encode_byte() per byte and
 * snd_midi_event_encode() over the buffer (one call per event), and the
 * ratio is against the faster of the two (per byte on the mixed streams,
 * the buffer call on bulk SysEx).  All three are timed on this thread's
 * CPU time, alternating, best of N passes each.  The tallies are
 * cross-checked (events other than SysEx must agree exactly) so the
 * comparison is between parsers that see the same messages; a mismatch
 * fails.  Time never does: the figures are printed only.
 *
 * Usage: bench_midi_parse [--mb N] [--passes N]   (defaults 16 MB, 9 passes)
 */
#include <alsa/asoundlib.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "midi/midi_parse.h"
#include "rt/pool.h"

#define BENCH_OUT_MAX 256

/* streams */
#define BENCH_MIXED 1   /* channel traffic, clocks, some SysEx */
#define BENCH_NO_SYSEX 2 /* the same without SysEx */
#define BENCH_DUMP 3    /* a librarian's bulk dump: SysEx back to back, clock running */

struct gen {
	uint64_t rng;    /* xorshift64 state */
	uint8_t *buf;    /* stream */
	size_t n, cap;   /* used, allocated */
	uint8_t last;    /* running status on the wire, 0 = none */
	uint8_t chan;    /* current channel */
	uint8_t cc_val;  /* controller sweep position */
	uint16_t bend;   /* pitch bend sweep position */
	int mode;        /* BENCH_* */
	size_t n_sysex, n_clock, n_running, n_chan, n_msgs; /* composition */
};

static uint32_t gen_rand(struct gen *g, uint32_t n)
{
	g->rng ^= g->rng << 13;
	g->rng ^= g->rng >> 7;
	g->rng ^= g->rng << 17;
	return (uint32_t)(g->rng >> 32) % n;
}

/* Appends one message's bytes, maybe with a clock byte inside. */
static void gen_put(struct gen *g, const uint8_t *m, size_t len)
{
	size_t at = len + 1;

	if (len > 1 && gen_rand(g, 12) == 0)
		at = 1 + gen_rand(g, (uint32_t)len - 1); /* between status and data, or in SysEx */
	for (size_t i = 0; i < len; i++) {
		if (i == at) {
			g->buf[g->n++] = 0xF8;
			g->n_clock++;
		}
		g->buf[g->n++] = m[i];
	}
	g->n_msgs++;
}

static void gen_channel(struct gen *g, uint8_t type, uint8_t d0, uint8_t d1, int two)
{
	uint8_t m[3];
	uint8_t status = type | g->chan;
	size_t k = 0;

	if (status != g->last)
		m[k++] = status;
	else
		g->n_running++;
	g->n_chan++;
	m[k++] = d0;
	if (two)
		m[k++] = d1;
	g->last = status;
	gen_put(g, m, k);
}

static void gen_sysex(struct gen *g, size_t len)
{
	static uint8_t m[8192];

	m[0] = 0xF0;
	for (size_t i = 1; i <= len; i++)
		m[i] = (uint8_t)gen_rand(g, 128);
	m[len + 1] = 0xF7;
	g->last = 0;
	g->n_sysex += len + 2;
	gen_put(g, m, len + 2);
}

static void gen_stream(struct gen *g, size_t bytes)
{
	g->cap = bytes + 16384;
	g->buf = malloc(g->cap);
	if (!g->buf)
		abort();
	while (g->n < bytes) {
		uint32_t r = gen_rand(g, 1000);
		uint8_t m[3];

		if (g->mode == BENCH_DUMP) {
			/* one dump: at 120 BPM on a DIN port a clock falls every
			 * ~65 bytes, so they sit inside the SysEx */
			size_t len = 256 + gen_rand(g, 4096);

			g->buf[g->n++] = 0xF0;
			for (size_t i = 0; i < len; i++) {
				if (gen_rand(g, 65) == 0) {
					g->buf[g->n++] = 0xF8;
					g->n_clock++;
				}
				g->buf[g->n++] = (uint8_t)gen_rand(g, 128);
			}
			g->buf[g->n++] = 0xF7;
			g->n_sysex += len + 2;
			g->n_msgs++;
			continue;
		}

		if (gen_rand(g, 20) == 0)
			g->chan = (uint8_t)gen_rand(g, 4);
		if (r < 380) {
			/* note on, or note off as velocity 0 (keeps running status) */
			gen_channel(g, 0x90, (uint8_t)(36 + gen_rand(g, 48)),
				    gen_rand(g, 2) ? (uint8_t)(1 + gen_rand(g, 127)) : 0, 1);
		} else if (r < 600) {
			g->cc_val = (uint8_t)((g->cc_val + 1) & 0x7F);
			gen_channel(g, 0xB0, (uint8_t)(1 + gen_rand(g, 3) * 6), g->cc_val, 1);
		} else if (r < 720) {
			g->bend = (uint16_t)((g->bend + 97) & 0x3FFF);
			gen_channel(g, 0xE0, g->bend & 0x7F, (uint8_t)(g->bend >> 7), 1);
		} else if (r < 760) {
			gen_channel(g, 0xD0, (uint8_t)gen_rand(g, 128), 0, 0);
		} else if (r < 775) {
			gen_channel(g, 0xC0, (uint8_t)gen_rand(g, 128), 0, 0);
		} else if (r < 800) {
			gen_channel(g, 0x80, (uint8_t)(36 + gen_rand(g, 48)), 64, 1);
		} else if (r < 900) {
			m[0] = 0xF1;
			m[1] = (uint8_t)gen_rand(g, 128);
			g->last = 0;
			gen_put(g, m, 2);
		} else if (r < 940) {
			m[0] = 0xFE;
			gen_put(g, m, 1);
		} else if (r < 945) {
			m[0] = 0xF2;
			m[1] = (uint8_t)gen_rand(g, 128);
			m[2] = (uint8_t)gen_rand(g, 128);
			g->last = 0;
			gen_put(g, m, 3);
		} else if (r < 950) {
			m[0] = (uint8_t)(0xFA + gen_rand(g, 3)); /* start, continue, stop */
			gen_put(g, m, 1);
		} else if (r < 995 || g->mode == BENCH_NO_SYSEX) {
			m[0] = 0xF8; /* clock between messages */
			g->n_clock++;
			gen_put(g, m, 1);
		} else if (r < 999 || gen_rand(g, 4)) {
			gen_sysex(g, 6 + gen_rand(g, 40)); /* identity, parameter change */
		} else {
			gen_sysex(g, 256 + gen_rand(g, 4096)); /* bulk dump */
		}
	}
}

/* CPU time of this thread: other load on the machine (parallel builds)
 * then slows neither parser down in the figures. */
static double now_s(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_THREAD_CPUTIME_ID, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec * 1e-9;
}

struct tally {
	uint64_t by_type[256]; /* events per type (ours: MIDI type; alsa: SND_SEQ_EVENT_*) */
	uint64_t other;        /* events other than SysEx */
	uint64_t sysex;        /* SysEx events / chunks */
};

static void *bench_pool_mem[POOL_STORAGE_SIZE(BENCH_OUT_MAX + 2, sizeof(struct midi_sysex_chunk)) /
			    sizeof(void *)];

static double run_ours(const uint8_t *s, size_t len, struct tally *t)
{
	static struct midi_msg out[BENCH_OUT_MAX];
	struct midi_parse p;
	struct pool pool;
	size_t off = 0, used;
	double t0;
	int n;

	memset(t, 0, sizeof(*t));
	if (pool_init(&pool, bench_pool_mem, sizeof(struct midi_sysex_chunk), BENCH_OUT_MAX + 2) ||
	    midi_parse_init(&p, &pool))
		abort();
	t0 = now_s();
	while (off < len) {
		n = midi_parse_feed(&p, s + off, len - off, &used, out, BENCH_OUT_MAX);
		for (int i = 0; i < n; i++) {
			t->by_type[out[i].type]++;
			if (out[i].sysex)
				pool_put(&pool, out[i].sysex);
		}
		off += used;
	}
	n = midi_parse_end(&p, out, BENCH_OUT_MAX);
	for (int i = 0; i < n; i++) {
		t->by_type[out[i].type]++;
		pool_put(&pool, out[i].sysex);
	}
	t0 = now_s() - t0;
	t->sysex = t->by_type[MIDI_SYSEX];
	for (int i = 0; i < 256; i++)
		t->other += i == MIDI_SYSEX ? 0 : t->by_type[i];
	return t0;
}

/* `buffered` 0: one snd_midi_event_encode_byte() per byte; 1:
 * snd_midi_event_encode() over the rest of the buffer, which returns after
 * each event with the bytes it consumed. */
static double run_alsa(const uint8_t *s, size_t len, struct tally *t, int buffered)
{
	snd_midi_event_t *dev;
	snd_seq_event_t ev;
	double t0;

	memset(t, 0, sizeof(*t));
	if (snd_midi_event_new(MIDI_SYSEX_CHUNK_MAX, &dev) < 0)
		abort();
	memset(&ev, 0, sizeof(ev));
	t0 = now_s();
	if (buffered) {
		for (size_t i = 0; i < len;) {
			long r = snd_midi_event_encode(dev, s + i, (long)(len - i), &ev);

			if (r <= 0)
				abort();
			i += (size_t)r;
			if (ev.type != SND_SEQ_EVENT_NONE)
				t->by_type[ev.type]++;
		}
	} else {
		for (size_t i = 0; i < len; i++)
			if (snd_midi_event_encode_byte(dev, s[i], &ev) == 1)
				t->by_type[ev.type]++;
	}
	t0 = now_s() - t0;
	snd_midi_event_free(dev);
	t->sysex = t->by_type[SND_SEQ_EVENT_SYSEX];
	for (int i = 0; i < 256; i++)
		t->other += i == SND_SEQ_EVENT_SYSEX ? 0 : t->by_type[i];
	return t0;
}

/* Ours and alsa's saw the same messages (SysEx aside: chunked differently). */
static int same_events(const struct tally *ours, const struct tally *alsa)
{
	return ours->other == alsa->other &&
	       ours->by_type[MIDI_CLOCK] == alsa->by_type[SND_SEQ_EVENT_CLOCK] &&
	       ours->by_type[MIDI_MTC_QUARTER_FRAME] == alsa->by_type[SND_SEQ_EVENT_QFRAME] &&
	       ours->by_type[MIDI_PITCH_BEND] == alsa->by_type[SND_SEQ_EVENT_PITCHBEND] &&
	       ours->by_type[MIDI_CONTROL_CHANGE] == alsa->by_type[SND_SEQ_EVENT_CONTROLLER];
}

static int bench(const char *name, int mode, size_t bytes, int passes)
{
	struct gen g = { .rng = 0x9E3779B97F4A7C15u, .mode = mode };
	struct tally ours = { 0 }, alsa = { 0 }, alsa_buf = { 0 };
	double best_ours = 1e9, best_alsa = 1e9, best_buf = 1e9, best, mb;

	gen_stream(&g, bytes);
	mb = (double)g.n / 1e6;
	printf("%s: %.2f MB, %zu messages; SysEx %.1f%% of bytes, clock bytes %.1f%%, "
	       "running status %.1f%% of channel messages\n",
	       name, mb, g.n_msgs, 100.0 * (double)g.n_sysex / (double)g.n,
	       100.0 * (double)g.n_clock / (double)g.n,
	       g.n_chan ? 100.0 * (double)g.n_running / (double)g.n_chan : 0.0);
	for (int i = 0; i < passes; i++) { /* alternate, keep the best of each */
		double a = run_ours(g.buf, g.n, &ours);
		double b = run_alsa(g.buf, g.n, &alsa, 0);
		double c = run_alsa(g.buf, g.n, &alsa_buf, 1);

		best_ours = a < best_ours ? a : best_ours;
		best_alsa = b < best_alsa ? b : best_alsa;
		best_buf = c < best_buf ? c : best_buf;
	}
	best = best_alsa < best_buf ? best_alsa : best_buf;
	printf("  phasorsync midi_parse_feed      %8.1f MB/s  (%llu events, %llu SysEx chunks)\n",
	       mb / best_ours, (unsigned long long)ours.other, (unsigned long long)ours.sysex);
	printf("  alsa-lib snd_midi_event_encode_byte %6.1f MB/s  (%llu events, %llu SysEx events)\n",
	       mb / best_alsa, (unsigned long long)alsa.other, (unsigned long long)alsa.sysex);
	printf("  alsa-lib snd_midi_event_encode  %8.1f MB/s  (%llu events, %llu SysEx events)\n",
	       mb / best_buf, (unsigned long long)alsa_buf.other, (unsigned long long)alsa_buf.sysex);
	printf("  ratio %.2fx  (against alsa-lib's faster call, best of %d passes each)\n",
	       best / best_ours, passes);
	free(g.buf);
	if (!same_events(&ours, &alsa) || !same_events(&ours, &alsa_buf)) {
		printf("  MISMATCH: the parsers disagree on the non-SysEx events\n");
		return 1;
	}
	if (mode == BENCH_NO_SYSEX && (ours.sysex || alsa.sysex || alsa_buf.sysex)) {
		printf("  MISMATCH: SysEx in a stream without SysEx\n");
		return 1;
	}
	return 0;
}

int main(int argc, char **argv)
{
	size_t mb = 16;
	int passes = 9, r = 0;

	for (int i = 1; i + 1 < argc; i += 2) {
		if (!strcmp(argv[i], "--mb"))
			mb = strtoul(argv[i + 1], NULL, 10);
		else if (!strcmp(argv[i], "--passes"))
			passes = atoi(argv[i + 1]);
	}
	if (mb == 0 || passes < 1) {
		fprintf(stderr, "usage: bench_midi_parse [--mb N] [--passes N]\n");
		return 2;
	}
	{
		struct midi_parse p;

		if (midi_parse_init(&p, NULL))
			abort();
		printf("midi_parse: %s\n", p.simd ? "block path (x86-64 AVX2), fast path, byte loop"
						 : "fast path, byte loop (no AVX2 here)");
	}
	r |= bench("realistic stream", BENCH_MIXED, mb * 1000000, passes);
	r |= bench("same without SysEx", BENCH_NO_SYSEX, mb * 1000000, passes);
	r |= bench("bulk SysEx dump, clock running", BENCH_DUMP, mb * 1000000, passes);
	return r;
}
