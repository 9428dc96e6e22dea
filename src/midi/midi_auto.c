/*
 * midi_auto.c - backend choice (see midi_auto.h).
 *
 * `auto` decides on the presence of the sequencer device, not on whether
 * opening it works: a machine that has ALSA but cannot open the sequencer
 * (permissions, a busy or broken driver) has a problem the user must see,
 * and silently dumping to stdout instead would hide it.
 */
#include "midi/midi_auto.h"

#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

static const char *const midi_auto_names[] = {
	[MIDI_AUTO_AUTO] = "auto",
	[MIDI_AUTO_ALSA] = "alsa",
	[MIDI_AUTO_RAWMIDI] = "rawmidi",
	[MIDI_AUTO_DUMP] = "dump",
};

int midi_auto_kind_parse(const char *s)
{
	for (int i = 0; i < (int)(sizeof(midi_auto_names) / sizeof(midi_auto_names[0])); i++)
		if (s && strcmp(s, midi_auto_names[i]) == 0)
			return i;
	return -EINVAL;
}

const char *midi_auto_kind_name(int kind)
{
	if (kind < 0 || kind >= (int)(sizeof(midi_auto_names) / sizeof(midi_auto_names[0])))
		return "?";
	return midi_auto_names[kind];
}

static const char *dump_target(const struct midi_dump_cfg *c)
{
	return !c->path || strcmp(c->path, "-") == 0 ? "stdout" : c->path;
}

int midi_auto_open(struct midi_auto *m, const struct midi_auto_cfg *cfg, char *msg, size_t len)
{
	const char *seq = cfg->seq_device ? cfg->seq_device : MIDI_AUTO_SEQ_DEVICE;
	int kind = cfg->kind, e;

	rt_assert_not_rt();
	if (len)
		msg[0] = 0;
	if (kind == MIDI_AUTO_AUTO) {
		if (access(seq, F_OK) == 0) {
			kind = MIDI_AUTO_ALSA;
		} else {
			snprintf(msg, len, "no ALSA sequencer (%s: %s): MIDI goes to the dump backend (%s)",
				 seq, strerror(errno), dump_target(&cfg->dump));
			kind = MIDI_AUTO_DUMP;
		}
	}
	m->kind = kind;
	switch (kind) {
	case MIDI_AUTO_ALSA:
		if (access(seq, F_OK) != 0) {
			e = -errno;
			snprintf(msg, len, "midi.backend = alsa: no ALSA sequencer (%s: %s)", seq,
				 strerror(-e));
			return e;
		}
		e = midi_alsa_open(&m->u.alsa, &cfg->alsa);
		if (e < 0)
			snprintf(msg, len, "cannot open the ALSA sequencer (%s): %s", seq, strerror(-e));
		return e;
	case MIDI_AUTO_RAWMIDI:
		e = midi_rawmidi_open(&m->u.rawmidi, &cfg->rawmidi);
		if (e < 0)
			snprintf(msg, len, "cannot set up the rawmidi backend: %s", strerror(-e));
		return e;
	case MIDI_AUTO_DUMP:
		e = midi_dump_open(&m->u.dump, &cfg->dump);
		if (e < 0)
			snprintf(msg, len, "cannot open the MIDI dump file %s: %s",
				 dump_target(&cfg->dump), strerror(-e));
		return e;
	default:
		snprintf(msg, len, "unknown MIDI backend %d", kind);
		return -EINVAL;
	}
}
