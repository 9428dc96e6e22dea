/*
 * midi_parse.c - MIDI 1.0 byte-stream parser (see midi_parse.h for the
 * rules and the ownership of SysEx chunks).
 *
 * Model: one status byte decides what the following data bytes mean.
 * `status`/`need`/`have` describe the message being collected; for channel
 * messages `status` survives a completed message (running status), for
 * System Common it is cleared once the message is complete, because the
 * specification gives System Common no running status.  A SysEx is a
 * separate mode (`sysex`): data bytes go into the current chunk, which is
 * handed out the moment it is full (with CONT: the next chunk may turn out
 * empty) or the message ends.  Both moments are fixed by the byte sequence
 * alone, so the output never depends on where the input was split, and a
 * re-encoded stream parses back into the same order of chunks and
 * real-time messages.
 *
 * Real-time bytes are decided by the byte value alone (>= F8) and never touch
 * the message state, which is what makes them legal anywhere.
 *
 * Speed: the hot state lives in locals for the whole loop (the output
 * messages are uint8_t-typed and would otherwise alias it, forcing a reload
 * per byte); data bytes, channel status and real-time bytes, nearly all of
 * a real stream, never leave the loop; a message is one 16-byte store.
 * SysEx payload is scanned eight bytes at a time for the next status byte
 * and copied with memcpy, so bulk dumps cost little more than their copy.
 * Rejected: a branch-free "whole message per pass" fast path (status or
 * running status plus data bytes, selected with masks): it removes the
 * mispredicted "status or data?" branch but costs about 50 instructions per
 * message and measured slower than this loop on every stream tried, random
 * or regular (tests/bench_midi_parse.c).
 */
#include "midi/midi_parse.h"

#include <errno.h>
#include <string.h>

int midi_parse_init(struct midi_parse *p, struct pool *pool)
{
	if (!p || (pool && pool->obj_size < sizeof(struct midi_sysex_chunk)))
		return -EINVAL;
	memset(p, 0, sizeof(*p));
	p->pool = pool;
	return 0;
}

static inline void midi_parse_put(struct midi_msg *o, uint8_t type, uint8_t channel,
				  uint8_t d0, uint8_t d1, uint8_t flags,
				  struct midi_sysex_chunk *chunk) RT_SAFE
{
	o->type = type;
	o->channel = channel;
	o->data[0] = d0;
	o->data[1] = d1;
	o->flags = flags;
	o->sysex = chunk;
}

/* Ends the SysEx under way: its last chunk (if any) goes to `o`.  Returns
 * the number of messages written (0 or 1). */
static int midi_parse_sysex_end(struct midi_parse *p, struct midi_msg *o) RT_SAFE
{
	int n = 0;

	if (p->sysex == MIDI_PARSE_SX_FILL) {
		midi_parse_put(o, MIDI_SYSEX, 0, 0, 0, p->sysex_first ? MIDI_F_SYSEX_START : 0,
			       p->chunk);
		n = 1;
	}
	p->chunk = NULL;
	p->sysex = MIDI_PARSE_SX_NONE;
	return n;
}

/* F0: a new SysEx takes a chunk now, so that even F0 F7 is delivered. */
static void midi_parse_sysex_begin(struct midi_parse *p) RT_SAFE
{
	p->chunk = p->pool ? pool_get(p->pool) : NULL;
	if (p->chunk) {
		p->chunk->len = 0;
		p->sysex = MIDI_PARSE_SX_FILL;
		p->sysex_first = 1;
	} else {
		p->sysex = MIDI_PARSE_SX_DROP;
		p->stats.sysex_dropped++;
	}
}

/* The current chunk is full.  `retry` 0: it just filled up; 1: a payload
 * byte arrived and it is still here because the pool was empty when it
 * filled.  With a fresh chunk from the pool the full one goes out with CONT
 * (a full chunk always has a successor, possibly empty, so it can leave at
 * once and keeps its place among real-time messages).  Without one it stays
 * until the end of the message (then it is the complete last chunk) or the
 * retry (then it ends the sequence as TRUNC and the rest is dropped).
 * Returns the number of messages written (0 or 1). */
static int midi_parse_sysex_full(struct midi_parse *p, struct midi_msg *o, int retry) RT_SAFE
{
	struct midi_sysex_chunk *next = p->pool ? pool_get(p->pool) : NULL;
	uint8_t first = p->sysex_first ? MIDI_F_SYSEX_START : 0;

	if (next) {
		midi_parse_put(o, MIDI_SYSEX, 0, 0, 0, first | MIDI_F_SYSEX_CONT, p->chunk);
		next->len = 0;
		p->chunk = next;
		p->sysex_first = 0;
		return 1;
	}
	if (!retry)
		return 0;
	midi_parse_put(o, MIDI_SYSEX, 0, 0, 0, first | MIDI_F_SYSEX_TRUNC, p->chunk);
	p->chunk = NULL;
	p->sysex = MIDI_PARSE_SX_DROP;
	p->stats.sysex_dropped++;
	return 1;
}

/* A status byte in F0..F7 or 80..EF.  Returns the messages written (0..2). */
static int midi_parse_status(struct midi_parse *p, uint8_t b, struct midi_msg *o) RT_SAFE
{
	int n = 0;

	if (p->sysex != MIDI_PARSE_SX_NONE) {
		if (b != 0xF7)
			p->stats.sysex_unterminated++;
		n = midi_parse_sysex_end(p, o);
		if (b == 0xF7)
			return n; /* running status was already cleared by the F0 */
	}
	if (p->pending) {
		p->stats.incomplete++;
		p->pending = 0;
	}
	p->have = 0;
	if (b < 0xF0) {
		p->status = b;
		p->need = (b & 0xE0) == 0xC0 ? 1 : 2;
		p->pending = 1;
		return n;
	}
	/* System Common and SysEx: running status ends here */
	p->status = 0;
	p->need = 0;
	switch (b) {
	case 0xF0:
		midi_parse_sysex_begin(p);
		break;
	case 0xF1: /* MTC quarter frame */
	case 0xF2: /* song position */
	case 0xF3: /* song select */
		p->status = b;
		p->need = b == 0xF2 ? 2 : 1;
		p->pending = 1;
		break;
	case 0xF6:
		midi_parse_put(o + n, MIDI_TUNE_REQUEST, 0, 0, 0, 0, NULL);
		n++;
		break;
	case 0xF7:
		p->stats.stray_eox++;
		break;
	default: /* F4, F5 */
		p->stats.undefined++;
		break;
	}
	return n;
}

/* Length of the run of data bytes (< 0x80) at the start of s[0..n). */
static size_t midi_parse_data_run(const uint8_t *s, size_t n) RT_SAFE
{
	size_t k = 0;

	for (; k + 8 <= n; k += 8) { /* eight at a time: bulk dumps are long */
		uint64_t w;

		memcpy(&w, s + k, sizeof(w));
		if (w & 0x8080808080808080u)
			break;
	}
	while (k < n && s[k] < 0x80)
		k++;
	return k;
}

/* SysEx payload at s[0..n) (n > 0, s[0] a data byte): copies the run of
 * data bytes that fits the current chunk.  Writes at most one message to
 * `o`; returns bytes consumed and sets *emitted. */
static size_t midi_parse_sysex_data(struct midi_parse *p, const uint8_t *s, size_t n,
				    struct midi_msg *o, size_t *emitted) RT_SAFE
{
	struct midi_sysex_chunk *c = p->chunk;
	size_t k;

	*emitted = 0;
	if (p->sysex == MIDI_PARSE_SX_DROP) {
		k = midi_parse_data_run(s, n);
		p->stats.sysex_dropped_bytes += k;
		return k;
	}
	if (c->len == MIDI_SYSEX_CHUNK_MAX) { /* full, and the pool was empty then */
		*emitted = (size_t)midi_parse_sysex_full(p, o, 1);
		return 0; /* p->sysex may now be SX_DROP */
	}
	if (n > (size_t)(MIDI_SYSEX_CHUNK_MAX - c->len))
		n = (size_t)(MIDI_SYSEX_CHUNK_MAX - c->len);
	k = midi_parse_data_run(s, n);
	memcpy(c->data + c->len, s, k);
	c->len = (uint16_t)(c->len + k);
	if (c->len == MIDI_SYSEX_CHUNK_MAX)
		*emitted = (size_t)midi_parse_sysex_full(p, o, 0);
	return k;
}

int midi_parse_feed(struct midi_parse *p, const uint8_t *buf, size_t len, size_t *used,
		    struct midi_msg *out, size_t max) RT_SAFE
{
	const uint8_t *s = buf, *end = buf + len;
	struct midi_msg *o = out, *olim;
	uint8_t status = p->status, need = p->need, have = p->have;
	uint8_t pending = p->pending, d0 = p->d0, sx = p->sysex;
	uint64_t incomplete = 0;

	if (max < MIDI_PARSE_OUT_MIN) {
		*used = 0;
		return -EINVAL;
	}
	if (max > 0x7FFFFFFF)
		max = 0x7FFFFFFF; /* the count is returned as int */
	olim = out + max - (MIDI_PARSE_OUT_MIN - 1); /* room for the worst byte */
	while (s < end && o < olim) {
		uint8_t b = *s;

		if (b < 0x80 && sx == MIDI_PARSE_SX_NONE) {
			s++;
			if (have == 0) {
				if (need == 0) {
					p->stats.stray_data++;
					continue;
				}
				d0 = b;
				if (need == 2) {
					have = 1;
					pending = 1;
					continue;
				}
				b = 0; /* one data byte: d1 is 0 */
			}
			if (status < 0xF0) {
				*o++ = (struct midi_msg){ .type = status & 0xF0, .channel = status & 0x0F,
							  .data = { d0, b } };
			} else {
				*o++ = (struct midi_msg){ .type = status, .data = { d0, b } };
				status = 0; /* no running status for System Common */
				need = 0;
			}
			have = 0;
			pending = 0;
		} else if (b < 0x80) {
			size_t e;

			p->sysex = sx;
			s += midi_parse_sysex_data(p, s, (size_t)(end - s), o, &e);
			o += e;
			sx = p->sysex;
		} else if (b >= 0xF8) {
			s++;
			if (b == 0xF9 || b == 0xFD) {
				p->stats.undefined++;
				continue;
			}
			*o++ = (struct midi_msg){ .type = b };
		} else if (b < 0xF0 && sx == MIDI_PARSE_SX_NONE) {
			s++;
			incomplete += pending;
			status = b;
			need = (b & 0xE0) == 0xC0 ? 1 : 2;
			have = 0;
			pending = 1;
		} else {
			s++;
			p->status = status;
			p->need = need;
			p->have = have;
			p->pending = pending;
			p->sysex = sx;
			o += midi_parse_status(p, b, o);
			status = p->status;
			need = p->need;
			have = p->have;
			pending = p->pending;
			sx = p->sysex;
		}
	}
	p->status = status;
	p->need = need;
	p->have = have;
	p->pending = pending;
	p->d0 = d0;
	p->sysex = sx;
	p->stats.incomplete += incomplete;
	p->stats.bytes += (uint64_t)(s - buf);
	p->stats.messages += (uint64_t)(o - out);
	*used = (size_t)(s - buf);
	return (int)(o - out);
}

int midi_parse_end(struct midi_parse *p, struct midi_msg *out, size_t max) RT_SAFE
{
	int n = 0;

	if (max < 1)
		return -EINVAL;
	if (p->sysex != MIDI_PARSE_SX_NONE) {
		p->stats.sysex_unterminated++;
		n = midi_parse_sysex_end(p, out);
	}
	if (p->pending)
		p->stats.incomplete++;
	p->pending = 0;
	p->status = 0;
	p->need = 0;
	p->have = 0;
	p->stats.messages += (uint64_t)n;
	return n;
}
