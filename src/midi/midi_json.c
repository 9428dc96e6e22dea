/*
 * midi_json.c - JSON records for MIDI messages (see midi_json.h).
 *
 * Output goes through a bounded cursor that remembers overflow, so every
 * record is built in one pass without snprintf's per-call cost and a short
 * buffer is reported once, at the end.  Numbers are decimal integers only;
 * the only strings are fixed type names and lowercase hex, so no JSON
 * escaping is ever needed in what this file writes.
 */
#include "midi/midi_json.h"

#include <errno.h>
#include <stdbool.h>
#include <string.h>

struct midi_json_cur {
	char *p;       /* next byte to write */
	char *end;     /* one past the last byte usable for text (NUL goes here at most) */
	bool overflow; /* something did not fit */
};

static const char *const midi_json_sys_names[16] = {
	[0x0] = "sysex",
	[0x1] = "mtc-quarter-frame",
	[0x2] = "song-position",
	[0x3] = "song-select",
	[0x6] = "tune-request",
	[0x8] = "clock",
	[0xA] = "start",
	[0xB] = "continue",
	[0xC] = "stop",
	[0xE] = "active-sensing",
	[0xF] = "reset",
};

static const char *const midi_json_chan_names[7] = {
	"note-off", "note-on", "poly-pressure", "control-change",
	"program-change", "channel-pressure", "pitch-bend",
};

const char *midi_json_type_name(uint8_t type)
{
	if (type >= 0xF0)
		return midi_json_sys_names[type & 0x0F];
	if (type >= 0x80 && (type & 0x0F) == 0)
		return midi_json_chan_names[(type >> 4) - 8];
	return NULL;
}

static void midi_json_put(struct midi_json_cur *c, const char *s, size_t len)
{
	if (c->overflow || (size_t)(c->end - c->p) < len) {
		c->overflow = true;
		return;
	}
	memcpy(c->p, s, len);
	c->p += len;
}

static void midi_json_puts(struct midi_json_cur *c, const char *s)
{
	midi_json_put(c, s, strlen(s));
}

static void midi_json_put_int(struct midi_json_cur *c, long v)
{
	char tmp[24];
	char *q = tmp + sizeof(tmp);
	unsigned long u = v < 0 ? 0UL - (unsigned long)v : (unsigned long)v;

	do {
		*--q = (char)('0' + u % 10);
		u /= 10;
	} while (u);
	if (v < 0)
		*--q = '-';
	midi_json_put(c, q, (size_t)(tmp + sizeof(tmp) - q));
}

/* ,"name":value */
static void midi_json_member(struct midi_json_cur *c, const char *name, long v)
{
	midi_json_puts(c, ",\"");
	midi_json_puts(c, name);
	midi_json_puts(c, "\":");
	midi_json_put_int(c, v);
}

static void midi_json_hex(struct midi_json_cur *c, const uint8_t *d, size_t len)
{
	static const char digits[] = "0123456789abcdef";

	if (c->overflow || (size_t)(c->end - c->p) < 2 * len) {
		c->overflow = true;
		return;
	}
	for (size_t i = 0; i < len; i++) {
		*c->p++ = digits[d[i] >> 4];
		*c->p++ = digits[d[i] & 0x0F];
	}
}

static bool midi_json_valid(const struct midi_msg *m)
{
	int dl;

	if (!midi_json_type_name(m->type) || m->data[0] > 0x7F || m->data[1] > 0x7F)
		return false;
	if (midi_is_channel_type(m->type))
		return m->channel <= 15;
	if (m->type != MIDI_SYSEX)
		return true;
	dl = m->sysex ? m->sysex->len : -1;
	if (dl < 0 || dl > MIDI_SYSEX_CHUNK_MAX)
		return false;
	for (int i = 0; i < dl; i++)
		if (m->sysex->data[i] > 0x7F)
			return false;
	return true;
}

static void midi_json_body(struct midi_json_cur *c, const struct midi_msg *m)
{
	midi_json_puts(c, "\"type\":\"");
	midi_json_puts(c, midi_json_type_name(m->type));
	midi_json_puts(c, "\"");
	if (midi_is_channel_type(m->type))
		midi_json_member(c, "channel", m->channel + 1);
	switch (m->type) {
	case MIDI_NOTE_OFF:
	case MIDI_NOTE_ON:
		midi_json_member(c, "note", m->data[0]);
		midi_json_member(c, "velocity", m->data[1]);
		break;
	case MIDI_POLY_PRESSURE:
		midi_json_member(c, "note", m->data[0]);
		midi_json_member(c, "pressure", m->data[1]);
		break;
	case MIDI_CONTROL_CHANGE:
		midi_json_member(c, "controller", m->data[0]);
		midi_json_member(c, "value", m->data[1]);
		break;
	case MIDI_PROGRAM_CHANGE:
		midi_json_member(c, "program", m->data[0]);
		break;
	case MIDI_CHANNEL_PRESSURE:
		midi_json_member(c, "pressure", m->data[0]);
		break;
	case MIDI_PITCH_BEND:
		/* 14 bits LSB first on the wire; 0x2000 is the centre */
		midi_json_member(c, "value", (long)(m->data[0] | m->data[1] << 7) - 0x2000);
		break;
	case MIDI_SYSEX:
		midi_json_puts(c, ",\"data\":\"");
		midi_json_hex(c, m->sysex->data, m->sysex->len);
		midi_json_puts(c, "\"");
		if (m->flags & MIDI_F_SYSEX_CONT)
			midi_json_puts(c, ",\"continued\":true");
		else if (m->flags & MIDI_F_SYSEX_TRUNC)
			midi_json_puts(c, ",\"truncated\":true");
		break;
	case MIDI_MTC_QUARTER_FRAME:
		midi_json_member(c, "value", m->data[0]);
		break;
	case MIDI_SONG_POSITION:
		midi_json_member(c, "position", m->data[0] | m->data[1] << 7);
		break;
	case MIDI_SONG_SELECT:
		midi_json_member(c, "song", m->data[0]);
		break;
	default: /* tune request and real-time: the type says it all */
		break;
	}
}

int midi_json_format_ex(const struct midi_msg *m, const char *pre, const char *post,
			char *buf, size_t n)
{
	struct midi_json_cur c;

	if (!m || (!buf && n > 0))
		return -EINVAL;
	if (n > 0)
		buf[0] = '\0';
	if (!midi_json_valid(m))
		return -EINVAL;
	if (n == 0)
		return -ENOSPC;
	c.p = buf;
	c.end = buf + n - 1;
	c.overflow = false;
	midi_json_puts(&c, "{");
	if (pre && *pre) {
		midi_json_puts(&c, pre);
		midi_json_puts(&c, ",");
	}
	midi_json_body(&c, m);
	if (post && *post) {
		midi_json_puts(&c, ",");
		midi_json_puts(&c, post);
	}
	midi_json_puts(&c, "}");
	if (c.overflow) {
		buf[0] = '\0';
		return -ENOSPC;
	}
	*c.p = '\0';
	return (int)(c.p - buf);
}

int midi_json_format(const struct midi_msg *m, char *buf, size_t n)
{
	return midi_json_format_ex(m, NULL, NULL, buf, n);
}
