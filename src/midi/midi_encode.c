/*
 * midi_encode.c - MIDI 1.0 encoder (see midi_encode.h for the model).
 *
 * Every check happens before the first byte is written, so a refused
 * message leaves both the buffer and the stream state as they were: the
 * caller can flush and retry on -ENOSPC without corrupting running status.
 */
#include "midi/midi_encode.h"

#include <errno.h>
#include <string.h>

int midi_encode_init(struct midi_encode *e, bool running_status) RT_SAFE
{
	if (!e)
		return -EINVAL;
	e->running_status = running_status ? 1 : 0;
	e->last = 0;
	e->in_sysex = 0;
	return 0;
}

static int midi_encode_sysex(struct midi_encode *e, const struct midi_msg *m, uint8_t *buf,
			     size_t n) RT_SAFE
{
	const struct midi_sysex_chunk *c = m->sysex;
	int start = (m->flags & MIDI_F_SYSEX_START) != 0;
	int more = (m->flags & MIDI_F_SYSEX_CONT) != 0;
	size_t len, k = 0;

	if (!c || c->len > MIDI_SYSEX_CHUNK_MAX)
		return -EINVAL;
	for (size_t i = 0; i < c->len; i++)
		if (c->data[i] > 0x7F)
			return -EINVAL;
	if (start && e->in_sysex)
		return -EBUSY;
	if (!start && !e->in_sysex)
		return -EINVAL; /* a continuation of nothing */
	len = (size_t)start + c->len + (size_t)!more;
	if (len > n)
		return -ENOSPC;
	if (start)
		buf[k++] = 0xF0;
	memcpy(buf + k, c->data, c->len);
	k += c->len;
	if (!more)
		buf[k++] = 0xF7;
	e->in_sysex = (uint8_t)more;
	e->last = 0;
	return (int)k;
}

int midi_encode_msg(struct midi_encode *e, const struct midi_msg *m, uint8_t *buf,
		    size_t n) RT_SAFE
{
	uint8_t status;
	int dl;

	if (m->data[0] > 0x7F || m->data[1] > 0x7F)
		return -EINVAL;
	if (m->type == MIDI_SYSEX)
		return midi_encode_sysex(e, m, buf, n);
	if (midi_is_channel_type(m->type)) {
		if ((m->type & 0x0F) || m->channel > 15)
			return -EINVAL;
		status = m->type | m->channel;
	} else {
		status = m->type;
	}
	dl = midi_data_len(status);
	if (dl < 0 || status == 0xF7)
		return -EINVAL; /* undefined status, a data byte, or a bare EOX */
	if (midi_is_realtime_type(status)) {
		if (n < 1)
			return -ENOSPC;
		buf[0] = status;
		return 1;
	}
	if (e->in_sysex)
		return -EBUSY;
	if (e->running_status && status == e->last) {
		if ((size_t)dl > n)
			return -ENOSPC;
		memcpy(buf, m->data, (size_t)dl);
		return dl;
	}
	if ((size_t)dl + 1 > n)
		return -ENOSPC;
	buf[0] = status;
	memcpy(buf + 1, m->data, (size_t)dl);
	e->last = midi_is_channel_type(status) ? status : 0;
	return dl + 1;
}
