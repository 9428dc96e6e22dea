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
 * Speed: the common data-byte path is a few compares and two stores; SysEx
 * payload runs are copied in a tight loop until the next status byte or the
 * end of the chunk.  The hot state is kept in locals across the loop (the
 * output messages are uint8_t-typed and would otherwise alias it).
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
	case 0xF3: /* song select */
	case 0xF2: /* song position */
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

int midi_parse_feed(struct midi_parse *p, const uint8_t *buf, size_t len, size_t *used,
		    struct midi_msg *out, size_t max) RT_SAFE
{
	size_t i = 0, n = 0;
	uint8_t status = p->status, need = p->need, have = p->have;

	if (max < MIDI_PARSE_OUT_MIN) {
		*used = 0;
		return -EINVAL;
	}
	if (max > 0x7FFFFFFF)
		max = 0x7FFFFFFF; /* the count is returned as int */
	while (i < len && n + MIDI_PARSE_OUT_MIN <= max) {
		uint8_t b = buf[i];

		if (b < 0x80 && p->sysex == MIDI_PARSE_SX_NONE) {
			if (need == 0) {
				p->stats.stray_data++;
				i++;
				continue;
			}
			p->data[have++] = b;
			i++;
			if (have < need) {
				p->pending = 1;
				continue;
			}
			if (status < 0xF0) {
				midi_parse_put(&out[n++], status & 0xF0, status & 0x0F, p->data[0],
					       need == 2 ? b : 0, 0, NULL);
			} else {
				midi_parse_put(&out[n++], status, 0, p->data[0], need == 2 ? b : 0,
					       0, NULL);
				status = 0; /* no running status for System Common */
				need = 0;
			}
			have = 0;
			p->pending = 0;
		} else if (b < 0x80) {
			/* SysEx payload: copy the whole run of data bytes that fits */
			if (p->sysex == MIDI_PARSE_SX_DROP) {
				size_t j = i;

				while (j < len && buf[j] < 0x80)
					j++;
				p->stats.sysex_dropped_bytes += j - i;
				i = j;
				continue;
			}
			if (p->chunk->len == MIDI_SYSEX_CHUNK_MAX) {
				n += (size_t)midi_parse_sysex_full(p, &out[n], 1);
				continue; /* p->sysex may now be SX_DROP */
			}
			{
				struct midi_sysex_chunk *c = p->chunk;
				size_t room = MIDI_SYSEX_CHUNK_MAX - c->len;
				size_t end = len - i < room ? len : i + room;
				uint16_t k = c->len;

				while (i < end && buf[i] < 0x80)
					c->data[k++] = buf[i++];
				c->len = k;
				if (k == MIDI_SYSEX_CHUNK_MAX)
					n += (size_t)midi_parse_sysex_full(p, &out[n], 0);
			}
		} else if (b >= 0xF8) {
			i++;
			if (b == 0xF9 || b == 0xFD) {
				p->stats.undefined++;
				continue;
			}
			midi_parse_put(&out[n++], b, 0, 0, 0, 0, NULL);
		} else {
			i++;
			p->status = status;
			p->need = need;
			p->have = have;
			n += (size_t)midi_parse_status(p, b, &out[n]);
			status = p->status;
			need = p->need;
			have = p->have;
		}
	}
	p->status = status;
	p->need = need;
	p->have = have;
	p->stats.bytes += i;
	p->stats.messages += n;
	*used = i;
	return (int)n;
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
