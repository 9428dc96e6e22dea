/*
 * MIDI 1.0 byte-stream parser: a table of hex inputs and expected messages,
 * one row per rule, every row run under many splittings of its input (all
 * at once, byte by byte, every two-way split, random splits, minimum output
 * room) which must all give the same messages and counters.
 *
 * Expected messages are written as tokens:
 *   903c64     channel message: status (type|channel) and data bytes
 *   c005       one-data-byte channel message
 *   f125 f21002 f305 f6 f8 ... ff     system common / real-time
 *   x{7e7f}    a whole SysEx in one chunk (START, last)
 *   x{..+  +..+  +..}   first / middle / last chunk of a longer one
 *   ...!       last chunk, truncated (pool empty)
 * and "HH*N" stands for N bytes HH, in inputs and in expected tokens.
 */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "midi/midi_parse.h"

#define TP_POOL_CAP 80 /* > out array + the chunk being filled */
#define TP_OUT_MAX 64

struct counts {
	uint64_t stray;        /* stats.stray_data */
	uint64_t eox;          /* stats.stray_eox */
	uint64_t undef;        /* stats.undefined */
	uint64_t incomplete;   /* stats.incomplete */
	uint64_t unterminated; /* stats.sysex_unterminated */
};

struct row {
	const char *name; /* the rule */
	const char *in;   /* hex input, or NULL: gen() makes it */
	const char *out;  /* expected tokens, or NULL: check() judges */
	struct counts c;  /* expected counters after the end of stream */
	size_t (*gen)(uint8_t *buf, size_t cap);                  /* input generator */
	void (*check)(const struct row *r, const char *rendered); /* output judge */
};

/* ---- helpers ------------------------------------------------------- */

static size_t hex_in(const char *s, uint8_t *out, size_t cap)
{
	size_t n = 0;

	while (*s) {
		unsigned v, rep = 1;
		int used = 0;

		if (*s == ' ') {
			s++;
			continue;
		}
		assert_int_equal(sscanf(s, "%2x%n", &v, &used), 1);
		assert_int_equal(used, 2);
		s += 2;
		if (*s == '*')
			rep = (unsigned)strtoul(s + 1, (char **)&s, 10);
		assert_true(n + rep <= cap);
		memset(out + n, (int)v, rep);
		n += rep;
	}
	return n;
}

/* Expands every "HH*N" in an expected string. */
static char *expand(const char *s)
{
	size_t cap = strlen(s) + 1, n = 0;
	char *out = malloc(cap);

	assert_non_null(out);
	while (*s) {
		size_t rep = 1, len = 1;

		if (s[0] && s[1] && s[2] == '*') {
			char *e;

			rep = strtoul(s + 3, &e, 10);
			len = 2;
			while (n + 2 * rep + 1 > cap)
				out = realloc(out, cap *= 2);
			for (size_t i = 0; i < rep; i++, n += 2)
				memcpy(out + n, s, 2);
			s = e;
			continue;
		}
		if (n + len + 1 > cap)
			out = realloc(out, cap *= 2);
		out[n++] = *s++;
	}
	out[n] = '\0';
	return out;
}

struct strbuf {
	char *s;    /* NUL-terminated text (heap) */
	size_t n;   /* length */
	size_t cap; /* allocated */
};

static void sb_add(struct strbuf *b, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

static void sb_add(struct strbuf *b, const char *fmt, ...)
{
	va_list ap;
	int k;

	for (;;) {
		va_start(ap, fmt);
		k = vsnprintf(b->s + b->n, b->cap - b->n, fmt, ap);
		va_end(ap);
		if ((size_t)k < b->cap - b->n)
			break;
		b->cap = b->cap * 2 + (size_t)k + 64;
		b->s = realloc(b->s, b->cap);
		assert_non_null(b->s);
	}
	b->n += (size_t)k;
}

/* One delivered message as a token; also checks the struct's invariants. */
static void render(struct strbuf *b, const struct midi_msg *m)
{
	if (b->n)
		sb_add(b, " ");
	if (m->type != MIDI_SYSEX) {
		int dl = midi_data_len(m->type | m->channel);

		assert_null(m->sysex);
		assert_int_equal(m->flags, 0);
		assert_true(dl >= 0);
		if (!midi_is_channel_type(m->type))
			assert_int_equal(m->channel, 0);
		assert_true(m->channel < 16 && (m->type & (midi_is_channel_type(m->type) ? 0x0F : 0)) == 0);
		assert_true(m->data[0] < 0x80 && m->data[1] < 0x80);
		if (dl < 2)
			assert_int_equal(m->data[1], 0);
		if (dl < 1)
			assert_int_equal(m->data[0], 0);
		sb_add(b, "%02x", m->type | m->channel);
		for (int i = 0; i < dl; i++)
			sb_add(b, "%02x", m->data[i]);
		return;
	}
	assert_non_null(m->sysex);
	assert_true(m->sysex->len <= MIDI_SYSEX_CHUNK_MAX);
	assert_false((m->flags & MIDI_F_SYSEX_CONT) && (m->flags & MIDI_F_SYSEX_TRUNC));
	sb_add(b, "%s", m->flags & MIDI_F_SYSEX_START ? "x{" : "+");
	for (unsigned i = 0; i < m->sysex->len; i++) {
		assert_true(m->sysex->data[i] < 0x80);
		sb_add(b, "%02x", m->sysex->data[i]);
	}
	sb_add(b, "%s", m->flags & MIDI_F_SYSEX_CONT ? "+" :
			m->flags & MIDI_F_SYSEX_TRUNC ? "!" : "}");
}

static void *pool_mem;
static struct pool tp_pool;

static int setup(void **state)
{
	(void)state;
	pool_mem = malloc(POOL_STORAGE_SIZE(TP_POOL_CAP, sizeof(struct midi_sysex_chunk)));
	return pool_mem ? 0 : -1;
}

static int teardown(void **state)
{
	(void)state;
	free(pool_mem);
	return 0;
}

/* Feeds `in` in the pieces given by `cuts` (ascending offsets, ending with
 * len), with `omax` output slots, then ends the stream.  Chunks go back to
 * the pool as soon as they are rendered.  Returns the rendering. */
static char *run(const uint8_t *in, size_t len, const size_t *cuts, size_t ncuts, size_t omax,
		 struct midi_parse_stats *st)
{
	struct midi_msg out[TP_OUT_MAX];
	struct strbuf b = { 0 };
	struct midi_parse p;
	size_t from = 0;
	int n;

	b.s = calloc(1, 1);
	b.cap = 1;
	assert_non_null(b.s);
	assert_int_equal(pool_init(&tp_pool, pool_mem, sizeof(struct midi_sysex_chunk),
				   TP_POOL_CAP), 0);
	assert_int_equal(midi_parse_init(&p, &tp_pool), 0);
	for (size_t c = 0; c < ncuts; c++) {
		size_t to = cuts[c];

		while (from < to) {
			size_t used = 99999;

			n = midi_parse_feed(&p, in + from, to - from, &used, out, omax);
			assert_true(n >= 0 && (size_t)n <= omax);
			assert_true(used <= to - from);
			assert_true(used > 0 || n > 0);
			from += used;
			for (int i = 0; i < n; i++) {
				render(&b, &out[i]);
				pool_put(&tp_pool, out[i].sysex);
			}
		}
	}
	n = midi_parse_end(&p, out, 1);
	assert_true(n == 0 || n == 1);
	for (int i = 0; i < n; i++) {
		render(&b, &out[i]);
		pool_put(&tp_pool, out[i].sysex);
	}
	assert_int_equal(tp_pool.in_use, 0);
	assert_int_equal(tp_pool.failures, 0);
	assert_int_equal(p.stats.bytes, len);
	assert_int_equal(p.stats.sysex_dropped, 0);
	*st = p.stats;
	return b.s;
}

static uint64_t rng_state = 0x243F6A8885A308D3u;

static uint64_t rng(void)
{
	rng_state ^= rng_state << 13;
	rng_state ^= rng_state >> 7;
	rng_state ^= rng_state << 17;
	return rng_state;
}

static const char *tp_row = "(none)"; /* table row under test, for failure messages */

static void same_stats(const struct midi_parse_stats *a, const struct midi_parse_stats *b)
{
	if (memcmp(a, b, sizeof(*a)))
		print_error("row '%s': counters depend on the splitting\n", tp_row);
	assert_memory_equal(a, b, sizeof(*a));
}

static void same_output(const char *got, const char *ref)
{
	if (strcmp(got, ref))
		print_error("row '%s': output depends on the splitting\n", tp_row);
	assert_string_equal(got, ref);
}

/* Call by call against byte by byte: each call, with a random number of
 * output slots, must deliver and consume exactly what feeding the same
 * bytes one at a time (the byte loop alone) delivers and consumes while at
 * least MIDI_PARSE_OUT_MIN slots are left, and leave the same state: the
 * whole-message paths stop where the byte loop would, not only deliver
 * the same messages in the end. */
static void run_lockstep(const uint8_t *in, size_t len)
{
	struct midi_msg out[TP_OUT_MAX];
	struct midi_parse pa, pb;
	size_t from = 0;
	int n;

	assert_int_equal(pool_init(&tp_pool, pool_mem, sizeof(struct midi_sysex_chunk),
				   TP_POOL_CAP), 0);
	assert_int_equal(midi_parse_init(&pa, &tp_pool), 0);
	assert_int_equal(midi_parse_init(&pb, &tp_pool), 0);
	while (from < len) {
		size_t omax = MIDI_PARSE_OUT_MIN + rng() % (TP_OUT_MAX - 1), used, ub = 0, nb = 0;
		struct strbuf ra = { 0 }, rb = { 0 };

		ra.s = calloc(1, 1);
		rb.s = calloc(1, 1);
		ra.cap = rb.cap = 1;
		assert_true(ra.s && rb.s);
		n = midi_parse_feed(&pa, in + from, len - from, &used, out, omax);
		assert_true(n >= 0 && (size_t)n <= omax);
		for (int i = 0; i < n; i++) {
			render(&ra, &out[i]);
			pool_put(&tp_pool, out[i].sysex);
		}
		while (from + ub < len && omax - nb >= MIDI_PARSE_OUT_MIN) {
			size_t u;
			int k = midi_parse_feed(&pb, in + from + ub, 1, &u, out, omax - nb);

			assert_true(k >= 0 && (u == 1 || k > 0)); /* 0: a full SysEx chunk left */
			for (int i = 0; i < k; i++) {
				render(&rb, &out[i]);
				pool_put(&tp_pool, out[i].sysex);
			}
			nb += (size_t)k;
			ub += u;
		}
		if ((size_t)n != nb || used != ub || strcmp(ra.s, rb.s))
			print_error("row '%s': at %zu with %zu slots: %d messages, %zu bytes; "
				    "byte by byte %zu, %zu\n  got  %s\n  want %s\n", tp_row, from, omax,
				    n, used, nb, ub, ra.s, rb.s);
		assert_int_equal(n, nb);
		assert_int_equal(used, ub);
		assert_string_equal(ra.s, rb.s);
		assert_int_equal(pa.status, pb.status);
		assert_int_equal(pa.have, pb.have);
		assert_int_equal(pa.pending, pb.pending);
		assert_int_equal(pa.sysex, pb.sysex);
		free(ra.s);
		free(rb.s);
		from += used;
	}
	same_stats(&pa.stats, &pb.stats);
	n = midi_parse_end(&pa, out, 1);
	for (int i = 0; i < n; i++)
		pool_put(&tp_pool, out[i].sysex);
	n = midi_parse_end(&pb, out, 1);
	for (int i = 0; i < n; i++)
		pool_put(&tp_pool, out[i].sysex);
	assert_int_equal(tp_pool.in_use, 0);
}

/* Runs `in` under every splitting strategy; all must agree with the first.
 * Returns the rendering (caller frees) and the stats. */
static char *run_all_splits(const uint8_t *in, size_t len, struct midi_parse_stats *st)
{
	size_t *cuts = malloc((len + 1) * sizeof(*cuts));
	struct midi_parse_stats s2;
	char *ref, *r;

	assert_non_null(cuts);
	cuts[0] = len;
	ref = run(in, len, cuts, 1, TP_OUT_MAX, st); /* all at once */
	r = run(in, len, cuts, 1, MIDI_PARSE_OUT_MIN, &s2); /* least output room */
	same_output(r, ref);
	same_stats(&s2, st);
	free(r);
	for (size_t i = 0; i < len; i++) /* byte by byte */
		cuts[i] = i + 1;
	r = run(in, len, cuts, len, TP_OUT_MAX, &s2);
	same_output(r, ref);
	same_stats(&s2, st);
	free(r);
	if (len <= 1024) { /* every two-way split */
		for (size_t k = 0; k <= len; k++) {
			size_t two[2] = { k, len };

			r = run(in, len, two, 2, TP_OUT_MAX, &s2);
			same_output(r, ref);
			same_stats(&s2, st);
			free(r);
		}
	}
	for (int t = 0; t < 20; t++) { /* random splits, random output room */
		size_t nc = 0, at = 0;

		while (at < len) {
			at += 1 + rng() % (t < 10 ? 8 : 700);
			cuts[nc++] = at < len ? at : len;
		}
		r = run(in, len, cuts, nc, MIDI_PARSE_OUT_MIN + rng() % (TP_OUT_MAX - 1), &s2);
		same_output(r, ref);
		same_stats(&s2, st);
		free(r);
	}
	for (int t = 0; t < 3; t++)
		run_lockstep(in, len);
	free(cuts);
	return ref;
}

/* ---- generated rows -------------------------------------------------- */

#define BIG_SYSEX 102477 /* 100 kB of payload, and a partial last chunk */

static uint8_t big_payload(size_t i)
{
	return (uint8_t)((i * 31 + i / 127) & 0x7F);
}

/* F0, 100 kB of payload with a clock after every 1000th byte, F7, then a
 * note-on proving the parser is back in normal mode. */
static size_t gen_big_sysex(uint8_t *buf, size_t cap)
{
	size_t n = 0;

	buf[n++] = 0xF0;
	for (size_t i = 0; i < BIG_SYSEX; i++) {
		buf[n++] = big_payload(i);
		if ((i + 1) % 1000 == 0)
			buf[n++] = 0xF8;
	}
	buf[n++] = 0xF7;
	buf[n++] = 0x90;
	buf[n++] = 0x3C;
	buf[n++] = 0x64;
	assert_true(n <= cap);
	return n;
}

static void check_big_sysex(const struct row *r, const char *s)
{
	size_t payload = 0, chunks = 0, clocks = 0;
	const char *t = s;

	(void)r;
	while (*t) {
		const char *e = strchr(t, ' ');
		size_t tl = e ? (size_t)(e - t) : strlen(t);

		if (tl == 2 && !strncmp(t, "f8", 2)) {
			/* a clock comes after every full chunk before it, and
			 * before the chunk holding the bytes that follow it */
			clocks++;
			assert_true(clocks * 1000 >= payload);
			assert_true(clocks * 1000 < payload + MIDI_SYSEX_CHUNK_MAX);
		} else if (tl == 6 && !strncmp(t, "903c64", 6)) {
			assert_null(e); /* last */
			assert_int_equal(payload, BIG_SYSEX);
		} else {
			int first = t[0] == 'x', last = t[tl - 1] == '}';
			const char *h = t + (first ? 2 : 1);
			size_t hl = tl - (first ? 2 : 1) - 1;

			assert_int_equal(first, chunks == 0);
			assert_int_equal(hl % 2, 0);
			assert_int_equal(last, payload + hl / 2 == BIG_SYSEX);
			if (!last) {
				assert_int_equal(t[tl - 1], '+');
				assert_int_equal(hl / 2, MIDI_SYSEX_CHUNK_MAX);
			} else {
				assert_true(hl / 2 < MIDI_SYSEX_CHUNK_MAX);
			}
			for (size_t i = 0; i < hl / 2; i++) { /* in order, nothing lost */
				unsigned v;

				assert_int_equal(sscanf(h + 2 * i, "%2x", &v), 1);
				assert_int_equal(v, big_payload(payload + i));
			}
			payload += hl / 2;
			chunks++;
		}
		t = e ? e + 1 : t + tl;
	}
	assert_int_equal(clocks, BIG_SYSEX / 1000);
	assert_int_equal(chunks, (BIG_SYSEX + MIDI_SYSEX_CHUNK_MAX - 1) / MIDI_SYSEX_CHUNK_MAX);
}

/* Every status byte heading a message, with running status and real-time
 * bytes between and inside messages: long enough for the parser's
 * whole-message fast path, whose per-status table this checks against the
 * byte loop (byte-by-byte feeding) and against the expected tokens. */
static char every_status_want[8192]; /* expected tokens, made by gen_every_status() */

static size_t gen_every_status(uint8_t *buf, size_t cap)
{
	static const uint8_t common[] = { 0xF1, 0xF3, 0xF2, 0xF6 };
	static const uint8_t rt[] = { 0xF8, 0xFA, 0xFB, 0xFC, 0xFE, 0xFF };
	size_t n = 0, w = 0;

#define ES_TOK(...) (w += (size_t)snprintf(every_status_want + w, sizeof(every_status_want) - w, \
					   __VA_ARGS__))
	for (unsigned st = 0x80; st < 0xF0; st++) {
		int two = midi_data_len((uint8_t)st) == 2;
		unsigned inside = st % 3; /* real-time byte: none, after the status, after data 1 */
		uint8_t v = (uint8_t)(st & 0x7F), r1 = rt[st % sizeof(rt)];
		uint8_t r2 = rt[(st + 1) % sizeof(rt)];

		if (inside == 2 && !two)
			inside = 0;
		/* status + data (a real-time byte inside or not), running status
		 * twice, a clock between them, a real-time byte inside the last */
		buf[n++] = (uint8_t)st;
		if (inside == 1)
			buf[n++] = r1;
		buf[n++] = v;
		if (inside == 2)
			buf[n++] = r1;
		if (two)
			buf[n++] = v ^ 0x11;
		buf[n++] = v ^ 0x22;
		if (two)
			buf[n++] = v ^ 0x33;
		buf[n++] = 0xF8;
		buf[n++] = v ^ 0x44;
		if (two) {
			buf[n++] = r2;
			buf[n++] = v ^ 0x55;
		}
		if (w)
			ES_TOK(" ");
		if (inside)
			ES_TOK("%02x ", r1);
		if (two)
			ES_TOK("%02x%02x%02x %02x%02x%02x f8 %02x %02x%02x%02x", st, v, v ^ 0x11, st,
			       v ^ 0x22, v ^ 0x33, r2, st, v ^ 0x44, v ^ 0x55);
		else
			ES_TOK("%02x%02x %02x%02x f8 %02x%02x", st, v, st, v ^ 0x22, st, v ^ 0x44);
	}
	for (size_t i = 0; i < sizeof(common); i++) {
		int dl = midi_data_len(common[i]);

		buf[n++] = common[i];
		ES_TOK(" %02x", common[i]);
		for (int k = 0; k < dl; k++) {
			buf[n++] = (uint8_t)(0x10 * (i + 1) + (unsigned)k);
			ES_TOK("%02x", (unsigned)(0x10 * (i + 1) + (unsigned)k));
		}
	}
	for (size_t i = 0; i < sizeof(rt); i++) {
		buf[n++] = rt[i];
		ES_TOK(" %02x", rt[i]);
	}
#undef ES_TOK
	assert_true(n <= cap && w < sizeof(every_status_want));
	return n;
}

static void check_every_status(const struct row *r, const char *s)
{
	(void)r;
	if (strcmp(s, every_status_want))
		print_error("row 'every status byte':\n  got  %s\n  want %s\n", s, every_status_want);
	assert_string_equal(s, every_status_want);
}

/* ---- the table ------------------------------------------------------- */

static const struct row rows[] = {
	{ "note-on", "90 3c 64", "903c64", { 0 }, NULL, NULL },
	{ "every channel message type, channels 1 and 16",
	  "80 3c 40 a0 3c 1e b0 07 64 c0 05 d0 1e e0 00 40 9f 7f 7f",
	  "803c40 a03c1e b00764 c005 d01e e00040 9f7f7f", { 0 }, NULL, NULL },
	{ "note-on with velocity 0 stays note-on", "90 3c 00", "903c00", { 0 }, NULL, NULL },
	{ "running status, two data bytes", "90 3c 64 3e 64 40 00",
	  "903c64 903e64 904000", { 0 }, NULL, NULL },
	{ "running status, one data byte", "c0 05 06 d3 10 11 12",
	  "c005 c006 d310 d311 d312", { 0 }, NULL, NULL },
	{ "a new channel status replaces running status", "90 3c 64 b1 07 64 08 65",
	  "903c64 b10764 b10865", { 0 }, NULL, NULL },
	{ "real-time between status and data bytes", "90 f8 3c f8 64",
	  "f8 f8 903c64", { 0 }, NULL, NULL },
	{ "real-time keeps running status", "90 3c 64 f8 3e fa 64 fc 40 00",
	  "903c64 f8 fa 903e64 fc 904000", { 0 }, NULL, NULL },
	{ "real-time inside the last message of the input", "f8 f8 f8 e9 f8 08 14",
	  "f8 f8 f8 f8 e90814", { 0 }, NULL, NULL },
	{ "real-time inside messages at the end of the parser's fast path",
	  "e9 f8 08 14 90 3c 64 80 fe 3c 40 f8 c1 f8 05 b2 07 fa 64",
	  "f8 e90814 903c64 fe 803c40 f8 f8 c105 fa b20764", { 0 }, NULL, NULL },
	{ "two real-time bytes inside one message", "90 f8 fe 3c 64 b0 07 fa fc 64",
	  "f8 fe 903c64 fa fc b00764", { 0 }, NULL, NULL },
	{ "every real-time message", "f8 fa fb fc fe ff", "f8 fa fb fc fe ff", { 0 }, NULL, NULL },
	{ "real-time inside SysEx", "f0 7e f8 7f fe 06 01 f7",
	  "f8 fe x{7e7f0601}", { 0 }, NULL, NULL },
	{ "real-time inside system common", "f2 10 f8 02", "f8 f21002", { 0 }, NULL, NULL },
	{ "system common messages", "f1 25 f2 10 02 f3 05 f6",
	  "f125 f21002 f305 f6", { 0 }, NULL, NULL },
	{ "system common cancels running status", "90 3c 64 f1 25 3e 64",
	  "903c64 f125", { .stray = 2 }, NULL, NULL },
	{ "tune request cancels running status", "b0 07 64 f6 07 65",
	  "b00764 f6", { .stray = 2 }, NULL, NULL },
	{ "system common has no running status", "f3 05 06 f2 00 01 02",
	  "f305 f20001", { .stray = 2 }, NULL, NULL },
	{ "SysEx cancels running status", "90 3c 64 f0 01 f7 3e 64",
	  "903c64 x{01}", { .stray = 2 }, NULL, NULL },
	{ "empty SysEx", "f0 f7", "x{}", { 0 }, NULL, NULL },
	{ "channel status ends unterminated SysEx", "f0 01 02 90 3c 64",
	  "x{0102} 903c64", { .unterminated = 1 }, NULL, NULL },
	{ "F0 ends unterminated SysEx", "f0 01 f0 02 f7", "x{01} x{02}",
	  { .unterminated = 1 }, NULL, NULL },
	{ "system common ends unterminated SysEx", "f0 01 f1 25 f0 02 f6",
	  "x{01} f125 x{02} f6", { .unterminated = 2 }, NULL, NULL },
	{ "end of stream ends unterminated SysEx", "f0 01 02", "x{0102}",
	  { .unterminated = 1 }, NULL, NULL },
	{ "undefined system common F4 F5: nothing, cancel running status",
	  "f4 90 3c 64 f5 3e 64", "903c64", { .undef = 2, .stray = 2 }, NULL, NULL },
	{ "undefined system common with data bytes", "f4 01 02 f5 03",
	  "", { .undef = 2, .stray = 3 }, NULL, NULL },
	{ "undefined F4 ends SysEx", "f0 01 f4 02 f7", "x{01}",
	  { .undef = 1, .unterminated = 1, .stray = 1, .eox = 1 }, NULL, NULL },
	{ "undefined real-time F9 FD: nothing, running status kept",
	  "90 3c f9 64 fd 3e 64", "903c64 903e64", { .undef = 2 }, NULL, NULL },
	{ "undefined real-time inside SysEx", "f0 01 f9 02 fd f7", "x{0102}",
	  { .undef = 2 }, NULL, NULL },
	/* the same two rules in rows of 9 bytes and more, which the parser's
	 * fast path (whole messages while 9 bytes remain) takes */
	{ "fast path: system common cancels running status",
	  "90 3c 64 f1 25 3e 64 90 3c 64 3e 64 90 3c 64", "903c64 f125 903c64 903e64 903c64",
	  { .stray = 2 }, NULL, NULL },
	{ "fast path: F9 FD inside a message are nothing, running status kept",
	  "90 3c f9 64 fd 3e 64 90 3c 64 90 3c 64 90 3c 64", "903c64 903e64 903c64 903c64 903c64",
	  { .undef = 2 }, NULL, NULL },
	{ "stray data bytes are dropped and counted", "3c 64 90 3c 64",
	  "903c64", { .stray = 2 }, NULL, NULL },
	{ "stray F7 is dropped, counted, cancels running status", "f7 90 3c 64 f7 3e 64",
	  "903c64", { .eox = 2, .stray = 2 }, NULL, NULL },
	{ "incomplete message dropped at next status byte", "90 3c 80 3c 40",
	  "803c40", { .incomplete = 1 }, NULL, NULL },
	{ "status byte without data dropped at next status byte", "90 b0 07 64",
	  "b00764", { .incomplete = 1 }, NULL, NULL },
	{ "incomplete running-status message dropped", "90 3c 64 3e c0 05",
	  "903c64 c005", { .incomplete = 1 }, NULL, NULL },
	{ "incomplete system common dropped", "f2 10 f8 f3 05",
	  "f8 f305", { .incomplete = 1 }, NULL, NULL },
	{ "incomplete message dropped by F0 and by stray F7", "e0 00 f0 f7 b0 f7",
	  "x{}", { .incomplete = 2, .eox = 1 }, NULL, NULL },
	{ "incomplete message dropped at end of stream", "90 3c 64 3e",
	  "903c64", { .incomplete = 1 }, NULL, NULL },
	{ "SysEx of exactly one chunk: one record, no empty chunk after it",
	  "f0 55*256 f7", "x{55*256}", { 0 }, NULL, NULL },
	{ "SysEx of exactly two chunks", "f0 55*256 66*256 f7", "x{55*256+ +66*256}", { 0 },
	  NULL, NULL },
	{ "SysEx one byte over a chunk", "f0 55*256 01 f7", "x{55*256+ +01}", { 0 }, NULL, NULL },
	{ "SysEx of three chunks", "f0 11*256 22*256 33*3 f7",
	  "x{11*256+ +22*256+ +333333}", { 0 }, NULL, NULL },
	{ "real-time at a SysEx chunk boundary: the full chunk leaves before it",
	  "f0 55*256 f8 01 f7", "x{55*256+ f8 +01}", { 0 }, NULL, NULL },
	{ "real-time between a full chunk and F7: the only empty chunk, it ends the message",
	  "f0 55*256 f8 f7", "x{55*256+ f8 +}", { 0 }, NULL, NULL },
	{ "undefined real-time at a chunk boundary changes nothing", "f0 55*256 f9 f7",
	  "x{55*256}", { .undef = 1 }, NULL, NULL },
	{ "status byte at a SysEx chunk boundary", "f0 55*256 f6",
	  "x{55*256} f6", { .unterminated = 1 }, NULL, NULL },
	{ "end of stream at a SysEx chunk boundary", "f0 55*256",
	  "x{55*256}", { .unterminated = 1 }, NULL, NULL },
	{ "SysEx of 100 kB with clocks inside, in order, in chunks", NULL, NULL, { 0 },
	  gen_big_sysex, check_big_sysex },
	{ "every status byte, running status, real-time between and inside messages", NULL, NULL,
	  { 0 }, gen_every_status, check_every_status },
	{ "mixed stream (chunking invariance of everything together)",
	  "3c 90 3c 64 3e f8 64 f0 7e 7f f8 06 01 f7 b0 07 64 08 65 f1 25 f4 22 "
	  "f2 10 02 fd c0 05 06 90 3c f0 55*300 c0 07",
	  "903c64 f8 903e64 f8 x{7e7f0601} b00764 b00865 f125 f21002 c005 c006 x{55*256+ "
	  "+55*44} c007",
	  { .stray = 2, .undef = 2, .incomplete = 1, .unterminated = 1 }, NULL, NULL },
};

static void test_rows(void **state)
{
	size_t cap = BIG_SYSEX + BIG_SYSEX / 1000 + 64;
	uint8_t *in = malloc(cap);

	(void)state;
	assert_non_null(in);
	for (size_t i = 0; i < sizeof(rows) / sizeof(rows[0]); i++) {
		const struct row *r = &rows[i];
		struct midi_parse_stats st;
		size_t len = r->gen ? r->gen(in, cap) : hex_in(r->in, in, cap);
		char *got;

		tp_row = r->name;
		got = run_all_splits(in, len, &st);
		if (r->check) {
			r->check(r, got);
		} else {
			char *want = expand(r->out);

			if (strcmp(got, want))
				print_error("row '%s':\n  got  %s\n  want %s\n", r->name, got, want);
			assert_string_equal(got, want);
			free(want);
		}
		if (st.stray_data != r->c.stray || st.stray_eox != r->c.eox ||
		    st.undefined != r->c.undef || st.incomplete != r->c.incomplete ||
		    st.sysex_unterminated != r->c.unterminated)
			print_error("row '%s': counters stray %llu eox %llu undefined %llu "
				    "incomplete %llu unterminated %llu\n", r->name,
				    (unsigned long long)st.stray_data, (unsigned long long)st.stray_eox,
				    (unsigned long long)st.undefined, (unsigned long long)st.incomplete,
				    (unsigned long long)st.sysex_unterminated);
		assert_int_equal(st.stray_data, r->c.stray);
		assert_int_equal(st.stray_eox, r->c.eox);
		assert_int_equal(st.undefined, r->c.undef);
		assert_int_equal(st.incomplete, r->c.incomplete);
		assert_int_equal(st.sysex_unterminated, r->c.unterminated);
		free(got);
	}
	free(in);
}

/* Random bytes, biased toward status bytes so that every path is taken:
 * the output must not depend on the splitting. */
static void test_garbage_chunking_invariance(void **state)
{
	uint8_t in[3000];

	(void)state;
	for (int t = 0; t < 15; t++) {
		struct midi_parse_stats st;

		for (size_t i = 0; i < sizeof(in); i++) {
			uint64_t v = rng();

			in[i] = (v & 0x300) ? (uint8_t)(v & 0x7F) : (uint8_t)(0x80 | (v & 0x7F));
			if (t >= 10 && in[i] >= 0x80 && in[i] < 0xF0 && (v & 0x400))
				in[i] = 0xF0 | (uint8_t)((v >> 16) & 0x0F);
		}
		tp_row = "random garbage";
		free(run_all_splits(in, t % 2 ? sizeof(in) : 600, &st));
		assert_int_equal(st.bytes, t % 2 ? sizeof(in) : 600);
	}
}

/* Streams for the block path: channel traffic in and out of running status,
 * real-time bytes between messages and inside them (one or two), System
 * Common (F1, F2, F3, F6), SysEx short and over several chunks (with
 * clocks inside);
 * `faults` adds stray and extra data bytes, incomplete messages, undefined
 * bytes and stray F7.  Long enough for many 64-byte windows. */
static size_t gen_block_stream(uint8_t *b, size_t n, int faults)
{
	static const uint8_t rtb[] = { 0xF8, 0xFA, 0xFB, 0xFC, 0xFE, 0xFF, 0xF9, 0xFD };
	static const uint8_t sc[] = { 0xF1, 0xF2, 0xF3, 0xF6, 0xF1, 0xF3 };
	size_t k = 0;
	uint8_t last = 0;

	while (k + 1200 < n) {
		uint64_t r = rng() % 1000;

		if (faults && rng() % 40 == 0) {
			b[k++] = (uint8_t)rng(); /* anything: a stray byte, F7, F4 ... */
			continue;
		}
		if (rng() % (faults ? 5 : 12) == 0) {
			b[k++] = rtb[rng() % (faults ? 8 : 6)];
			continue;
		}
		if (r < 700) {
			uint8_t st = (uint8_t)(0x80 | rng() % 0x70);
			int two = (st & 0xE0) != 0xC0, nd = two ? 2 : 1;

			if (last && rng() % 3 == 0)
				st = last; /* running status */
			else
				b[k++] = st;
			last = st;
			if (faults && rng() % 10 == 0)
				nd -= 1 + (int)(rng() % 2); /* cut short */
			for (int i = 0; i < nd; i++) {
				b[k++] = (uint8_t)(rng() % 128);
				if (rng() % 8 == 0)
					b[k++] = 0xF8;
				if (rng() % 40 == 0)
					b[k++] = 0xFE;
			}
		} else if (r < 880) {
			uint8_t st = sc[rng() % 6];
			int nd = st == 0xF2 ? 2 : st == 0xF6 ? 0 : 1;

			b[k++] = st;
			last = 0;
			if (faults && rng() % 6 == 0)
				nd += (int)(rng() % 3) - 1;
			for (int i = 0; i < nd; i++) {
				b[k++] = (uint8_t)(rng() % 128);
				if (rng() % 8 == 0)
					b[k++] = 0xF8;
			}
		} else if (r < 920) {
			/* short, now and then a dump over chunks, clocks inside */
			size_t len = rng() % 12 ? rng() % 40 : 200 + rng() % 900;

			b[k++] = 0xF0;
			last = 0;
			for (size_t i = 0; i < len; i++)
				b[k++] = rng() % 25 ? (uint8_t)(rng() % 128) : rtb[rng() % (faults ? 8 : 6)];
			if (!faults || rng() % 5)
				b[k++] = 0xF7;
		} else {
			b[k++] = 0xF8;
		}
	}
	return k;
}

/* The block path (64 bytes at a time, where the CPU has it) call by call
 * against the byte loop, with random room, on long streams: every window
 * must stop where the byte loop would and leave the same state. */
static void test_block_path_lockstep(void **state)
{
	static uint8_t in[8192];
	struct midi_parse p;

	(void)state;
	assert_int_equal(midi_parse_init(&p, NULL), 0);
#if defined(__x86_64__) && defined(__GNUC__)
	__builtin_cpu_init();
	/* where the CPU has AVX2 the block path is on: this test must run it */
	assert_int_equal(p.simd, __builtin_cpu_supports("avx2") ? 1 : 0);
	print_message("block path %s\n", p.simd ? "on (AVX2)" : "off (no AVX2 here)");
#endif
	for (int t = 0; t < 60; t++) {
		size_t len = gen_block_stream(in, 1400 + rng() % (sizeof(in) - 1400), t % 3 == 2);

		tp_row = t % 3 == 2 ? "block path, stream with faults" : "block path, stream";
		run_lockstep(in, len);
	}
}

/* ---- pool exhaustion, API errors, counters ---------------------------- */

static char *feed_keep(struct midi_parse *p, const char *hex, struct midi_msg *keep,
		       size_t *nkeep)
{
	uint8_t in[1024];
	size_t len = hex_in(hex, in, sizeof(in)), used;
	struct midi_msg out[TP_OUT_MAX];
	struct strbuf b = { 0 };
	int n;

	b.s = calloc(1, 1);
	b.cap = 1;
	assert_non_null(b.s);
	n = midi_parse_feed(p, in, len, &used, out, TP_OUT_MAX);
	assert_int_equal(used, len);
	for (int i = 0; i < n; i++) {
		render(&b, &out[i]);
		keep[(*nkeep)++] = out[i]; /* the caller holds every chunk */
	}
	return b.s;
}

static void test_pool_null_drops_sysex(void **state)
{
	struct midi_msg keep[8];
	size_t nk = 0;
	struct midi_parse p;
	char *s;

	(void)state;
	assert_int_equal(midi_parse_init(&p, NULL), 0);
	s = feed_keep(&p, "f0 01 02 f7 90 3c 64 f0 03 f8 90", keep, &nk);
	assert_string_equal(s, "903c64 f8");
	free(s);
	assert_int_equal(p.stats.sysex_dropped, 2);
	assert_int_equal(p.stats.sysex_dropped_bytes, 3);
	assert_int_equal(p.stats.sysex_unterminated, 1);
}

static void test_pool_exhausted_mid_sysex(void **state)
{
	struct midi_msg keep[16];
	size_t nk = 0;
	struct midi_parse p;
	char *s, *want;

	(void)state;
	assert_int_equal(pool_init(&tp_pool, pool_mem, sizeof(struct midi_sysex_chunk), 2), 0);
	assert_int_equal(midi_parse_init(&p, &tp_pool), 0);
	/* 600 bytes: two chunks fit, the rest is dropped; the sequence ends
	 * with a TRUNC chunk; clocks and what follows F7 are unaffected.  The
	 * full second chunk has no successor when the clock arrives, so it
	 * waits and the clock overtakes it */
	s = feed_keep(&p, "f0 11*256 22*256 f8 33*88 f7 90 3c 64", keep, &nk);
	want = expand("x{11*256+ f8 +22*256! 903c64");
	assert_string_equal(s, want);
	free(s);
	free(want);
	assert_int_equal(p.stats.sysex_dropped, 1);
	assert_int_equal(p.stats.sysex_dropped_bytes, 88);
	assert_int_equal(tp_pool.failures, 2); /* at the clock after B filled up, and at 33 */
	/* pool empty at F0: the whole message is dropped */
	s = feed_keep(&p, "f0 01 02 03 f7 f6", keep, &nk);
	assert_string_equal(s, "f6");
	free(s);
	assert_int_equal(p.stats.sysex_dropped, 2);
	assert_int_equal(p.stats.sysex_dropped_bytes, 91);
	/* chunks given back: SysEx works again */
	for (size_t i = 0; i < nk; i++)
		pool_put(&tp_pool, keep[i].sysex);
	nk = 0;
	s = feed_keep(&p, "f0 7e 7f f7", keep, &nk);
	assert_string_equal(s, "x{7e7f}");
	free(s);
	pool_put(&tp_pool, keep[0].sysex);
	assert_int_equal(tp_pool.in_use, 0);
	assert_int_equal(p.stats.stray_data + p.stats.stray_eox + p.stats.incomplete, 0);
}

/* A full chunk waits for the next payload byte; the pool is asked for its
 * successor only then.  If the message ends there it is complete and the
 * pool is not asked at all; if chunks come back before the next payload
 * byte, the SysEx goes on. */
static void test_pool_empty_at_chunk_boundary(void **state)
{
	struct midi_msg keep[8];
	size_t nk = 0;
	struct midi_parse p;
	void *x;
	char *s, *want;

	(void)state;
	assert_int_equal(pool_init(&tp_pool, pool_mem, sizeof(struct midi_sysex_chunk), 2), 0);
	assert_int_equal(midi_parse_init(&p, &tp_pool), 0);
	x = pool_get(&tp_pool); /* the caller holds one of the two */
	s = feed_keep(&p, "f0 11*256 f7", keep, &nk);
	want = expand("x{11*256}");
	assert_string_equal(s, want);
	free(s);
	free(want);
	assert_int_equal(p.stats.sysex_dropped, 0);
	assert_int_equal(tp_pool.failures, 0);
	pool_put(&tp_pool, keep[--nk].sysex);

	s = feed_keep(&p, "f0 11*256", keep, &nk);
	assert_string_equal(s, "");
	free(s);
	pool_put(&tp_pool, x); /* a chunk comes back in time */
	s = feed_keep(&p, "22 f7", keep, &nk);
	want = expand("x{11*256+ +22}");
	assert_string_equal(s, want);
	free(s);
	free(want);
	assert_int_equal(p.stats.sysex_dropped, 0);
	assert_int_equal(p.stats.sysex_dropped_bytes, 0);
	while (nk)
		pool_put(&tp_pool, keep[--nk].sysex);
	assert_int_equal(tp_pool.in_use, 0);
}

static void test_api_errors(void **state)
{
	struct midi_msg out[2];
	struct midi_parse p;
	struct pool small;
	void *mem[8];
	size_t used = 7;
	const uint8_t b[3] = { 0x90, 0x3C, 0x64 };

	(void)state;
	assert_int_equal(pool_init(&small, mem, sizeof(void *), 8), 0);
	assert_int_equal(midi_parse_init(&p, &small), -EINVAL); /* objects too small */
	assert_int_equal(midi_parse_init(NULL, NULL), -EINVAL);
	assert_int_equal(midi_parse_init(&p, NULL), 0);
	assert_int_equal(midi_parse_feed(&p, b, 3, &used, out, 1), -EINVAL);
	assert_int_equal(used, 0);
	assert_int_equal(midi_parse_end(&p, out, 0), -EINVAL);
	assert_int_equal(midi_parse_feed(&p, b, 3, &used, out, 2), 1);
	assert_int_equal(used, 3);
	assert_int_equal(midi_parse_feed(&p, b, 0, &used, out, 2), 0);
	assert_int_equal(used, 0);
}

static void test_counters_and_restart(void **state)
{
	struct midi_msg out[8];
	struct midi_parse p;
	size_t used;
	const uint8_t b[] = { 0x90, 0x3C, 0x64, 0x3E, 0xF8, 0x7F };
	const uint8_t b2[] = { 0x3C, 0x64, 0x90, 0x3C };

	(void)state;
	assert_int_equal(midi_parse_init(&p, NULL), 0);
	assert_int_equal(midi_parse_feed(&p, b, sizeof(b), &used, out, 8), 3);
	assert_int_equal(p.stats.bytes, 6);
	assert_int_equal(p.stats.messages, 3);
	/* end of stream clears running status: 3c 64 is stray afterwards */
	assert_int_equal(midi_parse_end(&p, out, 8), 0);
	assert_int_equal(midi_parse_feed(&p, b2, sizeof(b2), &used, out, 8), 0);
	assert_int_equal(p.stats.stray_data, 2);
	assert_int_equal(midi_parse_end(&p, out, 8), 0);
	assert_int_equal(p.stats.incomplete, 1);
	assert_int_equal(p.stats.bytes, 10);
	assert_int_equal(p.stats.messages, 3);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_rows),
		cmocka_unit_test(test_garbage_chunking_invariance),
		cmocka_unit_test(test_block_path_lockstep),
		cmocka_unit_test(test_pool_null_drops_sysex),
		cmocka_unit_test(test_pool_exhausted_mid_sysex),
		cmocka_unit_test(test_pool_empty_at_chunk_boundary),
		cmocka_unit_test(test_api_errors),
		cmocka_unit_test(test_counters_and_restart),
	};

	return cmocka_run_group_tests(tests, setup, teardown);
}
