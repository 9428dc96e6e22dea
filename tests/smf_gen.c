/*
 * smf_gen.c - hand-built and generated Standard MIDI Files for tests (see
 * smf_gen.h).  Written from the SMF 1.0 specification, not from the
 * reader: it writes bytes forward and records what they mean, the reader
 * reads them back, and the tests compare.
 */
#include "smf_gen.h"

#include <ctype.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "midi/smf.h"

static void gen_die(const char *what, const char *where)
{
	fprintf(stderr, "smf_gen: %s at \"%.40s\"\n", what, where ? where : "");
	abort();
}

struct gbuf {
	uint8_t *b;  /* output */
	size_t n;    /* bytes written */
	size_t cap;  /* room */
};

static void gb_put(struct gbuf *g, uint8_t v)
{
	if (g->n >= g->cap)
		gen_die("out of room", NULL);
	g->b[g->n++] = v;
}

static void gb_mem(struct gbuf *g, const void *p, size_t n)
{
	for (size_t i = 0; i < n; i++)
		gb_put(g, ((const uint8_t *)p)[i]);
}

static void gb_be(struct gbuf *g, uint32_t v, int bytes)
{
	for (int i = bytes - 1; i >= 0; i--)
		gb_put(g, (uint8_t)(v >> (8 * i)));
}

size_t smf_vlq_put(uint8_t *out, uint32_t v)
{
	uint8_t tmp[5];
	size_t n = 0;

	do {
		tmp[n++] = v & 0x7F;
		v >>= 7;
	} while (v);
	for (size_t i = 0; i < n; i++)
		out[i] = tmp[n - 1 - i] | (i + 1 < n ? 0x80 : 0);
	return n;
}

static void gb_vlq(struct gbuf *g, uint32_t v)
{
	uint8_t t[5];
	size_t n = smf_vlq_put(t, v);

	gb_mem(g, t, n);
}

/* ---- notation ------------------------------------------------------ */

static const char *hex_body(const char *s, struct gbuf *g, int depth)
{
	for (;;) {
		while (*s && isspace((unsigned char)*s))
			s++;
		if (!*s)
			return s;
		if (*s == '}') {
			if (!depth)
				gen_die("unbalanced }", s);
			return s + 1;
		}
		if (*s == '\'') {
			const char *e = strchr(s + 1, '\'');
			if (!e)
				gen_die("unterminated quote", s);
			gb_mem(g, s + 1, (size_t)(e - s - 1));
			s = e + 1;
		} else if (s[0] == 'L' && s[1] == '{') {
			size_t at = g->n;
			uint8_t *inner;
			size_t len;

			gb_be(g, 0, 4);
			s = hex_body(s + 2, g, depth + 1);
			len = g->n - at - 4;
			inner = g->b + at;
			inner[0] = (uint8_t)(len >> 24);
			inner[1] = (uint8_t)(len >> 16);
			inner[2] = (uint8_t)(len >> 8);
			inner[3] = (uint8_t)len;
		} else if (s[0] == 'V' && s[1] == '(') {
			char *e;
			unsigned long v = strtoul(s + 2, &e, 10);
			if (*e != ')')
				gen_die("bad V(n)", s);
			gb_vlq(g, (uint32_t)v);
			s = e + 1;
		} else if (isxdigit((unsigned char)s[0]) && isxdigit((unsigned char)s[1])) {
			unsigned v;
			unsigned long rep = 1;

			if (sscanf(s, "%2x", &v) != 1)
				gen_die("bad hex", s);
			s += 2;
			if (*s == '*') {
				char *e;
				rep = strtoul(s + 1, &e, 10);
				s = e;
			}
			while (rep--)
				gb_put(g, (uint8_t)v);
		} else {
			gen_die("bad notation", s);
		}
	}
}

size_t smf_hex(const char *spec, uint8_t *out, size_t cap)
{
	struct gbuf g = { .b = out, .cap = cap };
	const char *rest = hex_body(spec, &g, 0);

	if (*rest)
		gen_die("trailing notation", rest);
	return g.n;
}

/* ---- random valid files ------------------------------------------- */

static uint32_t rnd_next(uint64_t *st)
{
	/* splitmix64 */
	uint64_t z = (*st += 0x9E3779B97F4A7C15ull);
	z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ull;
	z = (z ^ (z >> 27)) * 0x94D049BB133111EBull;
	return (uint32_t)((z ^ (z >> 31)) >> 32);
}

static uint32_t rnd(uint64_t *st, uint32_t n)
{
	return n ? rnd_next(st) % n : 0;
}

/* A VLQ, sometimes padded with 0x80 bytes (legal: the value is the same). */
static void gb_vlq_any(struct gbuf *g, uint64_t *st, uint32_t v, bool weird)
{
	uint8_t t[5];
	size_t n = smf_vlq_put(t, v);

	if (weird && n < 4 && rnd(st, 4) == 0)
		for (size_t pad = rnd(st, 4 - (uint32_t)n) + 1; pad; pad--)
			gb_put(g, 0x80);
	gb_mem(g, t, n);
}

static void gen_event_meta(struct smf_gen_event *e, uint64_t *st, uint8_t type)
{
	e->kind = SMF_EV_META;
	e->meta = type;
	switch (type) {
	case SMF_META_TEMPO: {
		uint32_t us = 200000 + rnd(st, 1000000);
		e->len = 3;
		e->data[0] = (uint8_t)(us >> 16);
		e->data[1] = (uint8_t)(us >> 8);
		e->data[2] = (uint8_t)us;
		break;
	}
	case SMF_META_TIME_SIG:
		e->len = 4;
		e->data[0] = (uint8_t)(1 + rnd(st, 12));
		e->data[1] = (uint8_t)rnd(st, 7);
		e->data[2] = 24;
		e->data[3] = 8;
		break;
	default:
		e->len = rnd(st, SMF_GEN_DATA_MAX + 1);
		for (uint32_t i = 0; i < e->len; i++)
			e->data[i] = (uint8_t)(type == SMF_META_TRACK_NAME ? 'a' + rnd(st, 26)
								  : rnd(st, 256));
		break;
	}
}

static void gen_track(struct gbuf *g, uint64_t *st, bool notes_only, int division,
		      struct smf_gen_track *t, struct smf_gen_model *m)
{
	size_t at;
	uint32_t n = rnd(st, SMF_GEN_EVENTS_MAX - 6);
	uint8_t rs = 0;
	int64_t tick = 0;
	uint8_t held[4][128] = { { 0 } };
	bool named = false;
	uint32_t lead = 0; /* leading events that sit at tick 0 */

	gb_mem(g, "MTrk", 4);
	at = g->n;
	gb_be(g, 0, 4);
	memset(t, 0, sizeof(*t));
	if (notes_only || rnd(st, 2)) {
		/* meter and tempo at tick 0, as DAWs write them */
		struct smf_gen_event *e = &t->ev[t->n++];
		memset(e, 0, sizeof(*e));
		gen_event_meta(e, st, SMF_META_TIME_SIG);
		if (notes_only)
			e->data[1] = (uint8_t)(2 + rnd(st, 2)); /* x/4 or x/8 */
		e = &t->ev[t->n++];
		memset(e, 0, sizeof(*e));
		gen_event_meta(e, st, SMF_META_TEMPO);
		lead = 2;
	}
	for (uint32_t i = 0; i < n; i++) {
		struct smf_gen_event *e = &t->ev[t->n++];
		uint32_t pick = notes_only ? 0 : rnd(st, 10);

		memset(e, 0, sizeof(*e));
		if (pick < 6) {
			e->kind = SMF_EV_CHANNEL;
			if (notes_only) {
				uint8_t ch = (uint8_t)rnd(st, 4), key = (uint8_t)(36 + rnd(st, 24));
				uint32_t k = rnd(st, 10);
				if (k < 4 || (k < 7 && !held[ch][key])) {
					e->status = 0x90 | ch;
					e->d[0] = key;
					e->d[1] = (uint8_t)(1 + rnd(st, 127));
					held[ch][key]++;
				} else if (k < 7) {
					e->status = rnd(st, 2) ? 0x80 | ch : 0x90 | ch;
					e->d[0] = key;
					e->d[1] = (e->status & 0xF0) == 0x80 ? (uint8_t)rnd(st, 128) : 0;
					held[ch][key]--;
				} else if (k < 8) {
					e->status = 0xB0 | ch;
					e->d[0] = (uint8_t)rnd(st, 120);
					e->d[1] = (uint8_t)rnd(st, 128);
				} else if (k < 9) {
					e->status = 0xC0 | ch;
					e->d[0] = (uint8_t)rnd(st, 128);
				} else {
					e->status = 0xE0 | ch;
					e->d[0] = (uint8_t)rnd(st, 128);
					e->d[1] = (uint8_t)rnd(st, 128);
				}
			} else {
				e->status = (uint8_t)(0x80 + rnd(st, 0x70));
				e->d[0] = (uint8_t)rnd(st, 128);
				e->d[1] = ((e->status & 0xE0) == 0xC0) ? 0 : (uint8_t)rnd(st, 128);
			}
		} else if (pick < 7) {
			e->kind = SMF_EV_SYSEX;
			e->len = rnd(st, SMF_GEN_DATA_MAX + 1);
			for (uint32_t j = 0; j < e->len; j++)
				e->data[j] = (uint8_t)rnd(st, 128);
			if (e->len)
				e->data[e->len - 1] = 0xF7;
		} else if (pick < 8) {
			e->kind = SMF_EV_ESCAPE;
			e->len = rnd(st, 6);
			for (uint32_t j = 0; j < e->len; j++)
				e->data[j] = (uint8_t)rnd(st, 256);
		} else {
			static const uint8_t types[] = { 0x01, 0x02, SMF_META_TRACK_NAME, 0x21,
							 SMF_META_TEMPO, SMF_META_TIME_SIG, 0x7F };
			gen_event_meta(e, st, types[rnd(st, sizeof(types))]);
		}
	}
	/* write them */
	for (uint32_t i = 0; i < t->n; i++) {
		struct smf_gen_event *e = &t->ev[i];
		uint32_t delta;

		if (i < lead)
			delta = 0;
		else if (notes_only)
			delta = rnd(st, 3) ? rnd(st, (uint32_t)division + 1) : 0;
		else
			delta = rnd(st, 20) == 0 ? rnd(st, 0x0FFFFFFF) : rnd(st, 3) ? rnd(st, 500) : 0;
		tick += delta;
		e->tick = tick;
		gb_vlq_any(g, st, delta, !notes_only);
		switch (e->kind) {
		case SMF_EV_CHANNEL: {
			int nd = (e->status & 0xE0) == 0xC0 ? 1 : 2;
			if (e->status != rs || rnd(st, 3) == 0)
				gb_put(g, e->status);
			rs = e->status;
			gb_mem(g, e->d, (size_t)nd);
			break;
		}
		case SMF_EV_SYSEX:
		case SMF_EV_ESCAPE:
			gb_put(g, e->kind == SMF_EV_SYSEX ? 0xF0 : 0xF7);
			gb_vlq_any(g, st, e->len, !notes_only);
			gb_mem(g, e->data, e->len);
			break;
		default:
			gb_put(g, 0xFF);
			gb_put(g, e->meta);
			gb_vlq_any(g, st, e->len, !notes_only);
			gb_mem(g, e->data, e->len);
			if (e->meta == SMF_META_TRACK_NAME && !named) {
				named = true;
				memcpy(t->name, e->data, e->len);
				t->name[e->len] = '\0';
			}
			break;
		}
	}
	t->has_eot = notes_only || rnd(st, 5) != 0;
	if (t->has_eot) {
		uint32_t delta = notes_only ? rnd(st, 4 * (uint32_t)division) : rnd(st, 100);
		gb_vlq(g, delta);
		gb_mem(g, "\xff\x2f\x00", 3);
		t->end_tick = tick + delta;
		if (!notes_only && rnd(st, 4) == 0) {
			uint32_t junk = 1 + rnd(st, 8);
			for (uint32_t j = 0; j < junk; j++)
				gb_put(g, (uint8_t)rnd(st, 256));
			m->after_eot_bytes += junk;
		}
	} else {
		t->end_tick = tick;
		m->missing_eot++;
	}
	{
		size_t len = g->n - at - 4;
		g->b[at] = (uint8_t)(len >> 24);
		g->b[at + 1] = (uint8_t)(len >> 16);
		g->b[at + 2] = (uint8_t)(len >> 8);
		g->b[at + 3] = (uint8_t)len;
	}
}

static void gen_unknown_chunk(struct gbuf *g, uint64_t *st, struct smf_gen_model *m)
{
	uint32_t len = rnd(st, 20);

	gb_mem(g, rnd(st, 2) ? "XFIH" : "\x00\xffZz", 4);
	gb_be(g, len, 4);
	for (uint32_t i = 0; i < len; i++)
		gb_put(g, (uint8_t)rnd(st, 256));
	m->skipped_chunks++;
}

size_t smf_gen_random(uint32_t seed, bool notes_only, uint8_t *buf, size_t cap,
		      struct smf_gen_model *m)
{
	static const int divs[] = { 1, 24, 96, 120, 192, 384, 480, 960, 1000, 7, 15360, 32767 };
	static const int note_divs[] = { 96, 120, 192, 384, 480, 960, 1000, 7 };
	uint64_t st = seed * 0x2545F4914F6CDD1Dull + 1;
	struct gbuf g = { .b = buf, .cap = cap };
	bool extra_hdr;

	memset(m, 0, sizeof(*m));
	m->format = notes_only ? (int)rnd(&st, 2) : (int)rnd(&st, 3);
	m->ntracks = m->format == 0 ? 1 : 1 + (int)rnd(&st, SMF_GEN_TRACKS_MAX);
	m->division = notes_only ? note_divs[rnd(&st, sizeof(note_divs) / sizeof(int))]
				 : divs[rnd(&st, sizeof(divs) / sizeof(int))];
	extra_hdr = !notes_only && rnd(&st, 4) == 0;
	gb_mem(&g, "MThd", 4);
	gb_be(&g, extra_hdr ? 8 : 6, 4);
	gb_be(&g, (uint32_t)m->format, 2);
	gb_be(&g, (uint32_t)m->ntracks, 2);
	gb_be(&g, (uint32_t)m->division, 2);
	if (extra_hdr)
		gb_be(&g, 0xABCD, 2);
	for (int i = 0; i < m->ntracks; i++) {
		if (!notes_only && rnd(&st, 5) == 0)
			gen_unknown_chunk(&g, &st, m);
		gen_track(&g, &st, notes_only, m->division, &m->tr[i], m);
	}
	m->tracks_end = g.n;
	if (!notes_only && rnd(&st, 4) == 0) {
		uint32_t junk = rnd(&st, 30);
		if (rnd(&st, 2))
			gb_mem(&g, "MTrk\x00\x00\x00\x04\x00\xff\x2f\x00", 12); /* an extra track */
		for (uint32_t j = 0; j < junk; j++)
			gb_put(&g, (uint8_t)rnd(&st, 256));
		m->trailing_bytes = (uint32_t)(g.n - m->tracks_end);
	}
	return g.n;
}
