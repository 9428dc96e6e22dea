/*
 * config.c - key table, validators, INI loading (see config.h).
 *
 * libinih does the INI syntax; this file does the meaning.  Debian's inih is
 * built without the line-number handler, so the file is fed through a
 * reader that counts lines: a rejected key knows its line, and a syntax
 * error (reported by inih's return value) earlier in the file wins.
 *
 * Keys of sections named "output.*" live in struct config_output; their
 * table entries use section "output.*" and offsets into that struct.  The
 * built-in output "clock" exists until the first [output.NAME] appears.
 * Keys of "pattern.*" sections live in struct config_pattern_opts, as do
 * the same keys of [patterns]; a pattern section remembers which keys it
 * set (the others fall back to [patterns]) and prints only those.
 */
#include "control/config.h"
#include "engine/pattern.h"

#include <errno.h>
#include <ini.h>
#include <limits.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <syslog.h>

#include <arpa/inet.h>

#include "clock/timeline.h"
#include "control/osc.h"
#include "audio/audio_engine.h"
#include "rt/rt.h"

#define CFG_OUTPUT_SECTION "output.*"
#define CFG_PATTERN_SECTION "pattern.*"
#define CFG_DEFAULT_OUTPUT "clock"

enum cfg_type {
	CFG_INT,      /* int, range min..max */
	CFG_INT32,    /* int32_t, range min..max */
	CFG_BOOL,     /* bool: true/false, yes/no, on/off, 1/0 */
	CFG_ENUM,     /* int from a list of names */
	CFG_BPM,      /* int64_t micro-BPM from "120" or "121.5" */
	CFG_MS,       /* int64_t microseconds from milliseconds "5" or "2.5"; range in us */
	CFG_PERCENT,  /* int permille from a percentage "54.5"; range in permille */
	CFG_STR,      /* char[CONFIG_STR_MAX], printable, no leading/trailing blanks */
};

struct cfg_choice {
	const char *name; /* accepted spelling */
	int value;        /* stored value */
};

/* Extra validation of a string value: 0, or -EINVAL with `err` set
 * (without the key name; the caller prefixes it). */
typedef int (*cfg_check_fn)(const char *value, char *err, size_t errlen);

struct cfg_key {
	const char *section;              /* [section], or "output.*", "pattern.*" */
	const char *name;                 /* key */
	enum cfg_type type;               /* how to parse */
	size_t off;                       /* offset in struct config / struct config_output */
	long min, max;                    /* numeric range, inclusive (see type) */
	const struct cfg_choice *choices; /* CFG_ENUM spellings, NULL-terminated */
	const char *def;                  /* default, as it would be written in the file */
	cfg_check_fn check;               /* CFG_STR: extra validation, or NULL */
};

static int cfg_check_allow(const char *value, char *err, size_t errlen)
{
	struct osc_server_cfg tmp;

	return osc_parse_allow(&tmp, value, err, errlen);
}

static int cfg_check_bind(const char *value, char *err, size_t errlen)
{
	unsigned char buf[16];

	if (inet_pton(AF_INET, value, buf) == 1 || inet_pton(AF_INET6, value, buf) == 1)
		return 0;
	snprintf(err, errlen, "not a numeric IPv4 or IPv6 address (e.g. 0.0.0.0 for all IPv4 "
		 "interfaces, :: for all, 127.0.0.1 for this machine only)");
	return -EINVAL;
}

/* Group names: as output names, or empty. */
static int cfg_check_group(const char *value, char *err, size_t errlen)
{
	for (const char *p = value; *p; p++)
		if (!((*p >= 'a' && *p <= 'z') || (*p >= 'A' && *p <= 'Z') || (*p >= '0' && *p <= '9') ||
		      *p == '-' || *p == '_')) {
			snprintf(err, errlen, "group names are letters, digits, '-' or '_' (\"\" = no group)");
			return -EINVAL;
		}
	return 0;
}

static const struct cfg_choice cfg_tempo_src[] = {
	{ "ignore", 0 }, { "file", 1 }, { NULL, 0 },
};

static const struct cfg_choice cfg_quantize[] = {
	{ "now", 0 }, { "beat", 1 }, { "bar", 2 }, { NULL, 0 }, /* enum engine_when */
};

static const struct cfg_choice cfg_log_levels[] = {
	{ "error", LOG_ERR }, { "warning", LOG_WARNING }, { "notice", LOG_NOTICE },
	{ "info", LOG_INFO }, { "debug", LOG_DEBUG },     { NULL, 0 },
};

static const struct cfg_choice cfg_backends[] = {
	{ "auto", CONFIG_MIDI_AUTO }, { "alsa", CONFIG_MIDI_ALSA },
	{ "dump", CONFIG_MIDI_DUMP }, { "rawmidi", CONFIG_MIDI_RAWMIDI }, { NULL, 0 },
};

static const struct cfg_choice cfg_on_loss[] = {
	{ "stop", 1 }, { "freerun", 0 }, { NULL, 0 },
};

static const struct cfg_choice cfg_sample_fmts[] = {
	{ "s16", 1 }, { "s32", 2 }, { "float", 3 }, { NULL, 0 },
};

static const struct cfg_choice cfg_click_sounds[] = {
	{ "beep", 0 }, { "wood", 1 }, { "noise", 2 }, { NULL, 0 },
};

static const struct cfg_choice cfg_polarity[] = {
	{ "positive", 0 }, { "negative", 1 }, { NULL, 0 },
};

static const struct cfg_choice cfg_swing_units[] = {
	{ "16", 16 }, { "8", 8 }, { NULL, 0 },
};

#define CFG_OFF(f) offsetof(struct config, f)
#define CFG_OOFF(f) offsetof(struct config_output, f)
#define CFG_POFF(f) offsetof(struct config_pattern_opts, f)

/* The keys a pattern may set for itself: in [patterns] at `off` (offset in
 * struct config), in [pattern.NAME] at CFG_POFF() (struct config_pattern_opts). */
#define CFG_PATTERN_KEYS(sec, off)                                                                  \
	{ sec, "output", CFG_STR, off(output), 0, CONFIG_NAME_MAX - 1, NULL, "", NULL },                \
	{ sec, "channel", CFG_INT, off(channel), -1, 16, NULL, "-1", NULL },                            \
	{ sec, "length_bars", CFG_INT, off(length_bars), 0, PATTERN_BARS_MAX, NULL, "0", NULL },        \
	{ sec, "tempo", CFG_ENUM, off(tempo), 0, 0, cfg_tempo_src, "ignore", NULL },                    \
	{ sec, "group", CFG_STR, off(group), 0, CONFIG_NAME_MAX - 1, NULL, "", cfg_check_group }
#define CFG_PATTERNS_OFF(f) CFG_OFF(patterns.o.f)

/* The seven keys of sync pulse channel i (prefix pulse_, pulse2_, ...). */
#define CFG_PULSE_KEYS(pre, i, chdef, ppqndef)                                                        \
	{ "audio", pre "channel", CFG_INT, CFG_OFF(audio.pulse[i].channel), 0, 32, NULL, chdef, NULL },   \
	{ "audio", pre "ppqn", CFG_INT, CFG_OFF(audio.pulse[i].ppqn), 1, 96, NULL, ppqndef, NULL },        \
	{ "audio", pre "width_us", CFG_INT, CFG_OFF(audio.pulse[i].width_us), 100, 50000, NULL, "5000",   \
	  NULL },                                                                                         \
	{ "audio", pre "level", CFG_INT, CFG_OFF(audio.pulse[i].level), 1, 100, NULL, "100", NULL },       \
	{ "audio", pre "polarity", CFG_ENUM, CFG_OFF(audio.pulse[i].polarity), 0, 0, cfg_polarity,        \
	  "positive", NULL },                                                                             \
	{ "audio", pre "offset_us", CFG_INT32, CFG_OFF(audio.pulse[i].offset_us), -100000, 100000, NULL,  \
	  "0", NULL },                                                                                    \
	{ "audio", pre "swing", CFG_PERCENT, CFG_OFF(audio.pulse[i].swing), CLK_SWING_MIN, CLK_SWING_MAX, \
	  NULL, "50", NULL }

static const struct cfg_key cfg_keys[] = {
	{ "rt", "priority", CFG_INT, CFG_OFF(rt.priority), 0, 99, NULL, "70", NULL },
	{ "rt", "cpu", CFG_INT, CFG_OFF(rt.cpu), -1, 1023, NULL, "-1", NULL },
	{ "rt", "mlock", CFG_BOOL, CFG_OFF(rt.mlock), 0, 1, NULL, "true", NULL },
	{ "log", "level", CFG_ENUM, CFG_OFF(log.level), 0, 0, cfg_log_levels, "info", NULL },
	{ "clock", "tempo", CFG_BPM, CFG_OFF(clock.bpm_micro), 0, 0, NULL, "120", NULL },
	{ "clock", "quantum", CFG_INT, CFG_OFF(clock.quantum), 1, TL_QUANTUM_MAX, NULL, "4", NULL },
	{ "clock", "lookahead_ms", CFG_MS, CFG_OFF(clock.lookahead_us), 0, 100000, NULL, "10", NULL },
	{ "clock", "start", CFG_BOOL, CFG_OFF(clock.start), 0, 1, NULL, "false", NULL },
	{ "midi", "backend", CFG_ENUM, CFG_OFF(midi.backend), 0, 0, cfg_backends, "auto", NULL },
	{ "midi", "client_name", CFG_STR, CFG_OFF(midi.client_name), 1, CONFIG_STR_MAX - 1, NULL,
	  "PhasorSync", NULL },
	{ "midi", "dump_file", CFG_STR, CFG_OFF(midi.dump_file), 1, CONFIG_STR_MAX - 1, NULL, "-", NULL },
	{ "midi", "rawmidi_device", CFG_STR, CFG_OFF(midi.rawmidi_device), 0, CONFIG_STR_MAX - 1,
	  NULL, "", NULL },
	{ "follow", "enabled", CFG_BOOL, CFG_OFF(follow.enabled), 0, 1, NULL, "false", NULL },
	{ "follow", "input", CFG_STR, CFG_OFF(follow.input), 1, 63, NULL, "clock-in", NULL },
	{ "follow", "connect", CFG_STR, CFG_OFF(follow.connect), 0, 63, NULL, "", NULL },
	{ "follow", "on_loss", CFG_ENUM, CFG_OFF(follow.stop_on_loss), 0, 0, cfg_on_loss, "stop", NULL },
	{ "audio", "enabled", CFG_BOOL, CFG_OFF(audio.enabled), 0, 1, NULL, "false", NULL },
	{ "audio", "device", CFG_STR, CFG_OFF(audio.device), 1, 63, NULL, "default", NULL },
	{ "audio", "rate", CFG_INT, CFG_OFF(audio.rate), 8000, 192000, NULL, "48000", NULL },
	{ "audio", "channels", CFG_INT, CFG_OFF(audio.channels), 1, 32, NULL, "2", NULL },
	{ "audio", "period", CFG_INT, CFG_OFF(audio.period), 16, 8192, NULL, "512", NULL },
	{ "audio", "periods", CFG_INT, CFG_OFF(audio.periods), 2, 16, NULL, "3", NULL },
	{ "audio", "format", CFG_ENUM, CFG_OFF(audio.format), 0, 0, cfg_sample_fmts, "s16", NULL },
	{ "audio", "priority", CFG_INT, CFG_OFF(audio.priority), 0, 99, NULL, "70", NULL },
	{ "audio", "click_channel", CFG_INT, CFG_OFF(audio.click_channel), 0, 32, NULL, "1", NULL },
	{ "audio", "click_sound", CFG_ENUM, CFG_OFF(audio.click_sound), 0, 0, cfg_click_sounds, "beep", NULL },
	{ "audio", "click_level", CFG_INT, CFG_OFF(audio.click_level), 0, 100, NULL, "70", NULL },
	{ "audio", "accent_level", CFG_INT, CFG_OFF(audio.accent_level), 0, 100, NULL, "100", NULL },
	{ "audio", "click_offset_us", CFG_INT32, CFG_OFF(audio.click_offset_us), -100000, 100000, NULL, "0", NULL },
	CFG_PULSE_KEYS("pulse_", 0, "2", "2"),
	CFG_PULSE_KEYS("pulse2_", 1, "0", "24"),
	CFG_PULSE_KEYS("pulse3_", 2, "0", "4"),
	{ "audio", "run_channel", CFG_INT, CFG_OFF(audio.run_channel), 0, 32, NULL, "0", NULL },
	{ "patterns", "dir", CFG_STR, CFG_OFF(patterns.dir), 0, CONFIG_STR_MAX - 1, NULL,
	  CONFIG_PATTERNS_DIR_DEFAULT, NULL },
	{ "patterns", "autostart", CFG_STR, CFG_OFF(patterns.autostart), 0, 511, NULL, "", NULL },
	{ "patterns", "quantize", CFG_ENUM, CFG_OFF(patterns.quantize), 0, 0, cfg_quantize, "bar", NULL },
	CFG_PATTERN_KEYS("patterns", CFG_PATTERNS_OFF),
	{ "osc", "port", CFG_INT, CFG_OFF(osc.port), 1, 65535, NULL, "9000", NULL },
	{ "osc", "bind", CFG_STR, CFG_OFF(osc.bind), 1, 63, NULL, "0.0.0.0", cfg_check_bind },
	{ "osc", "allow", CFG_STR, CFG_OFF(osc.allow), 1, 511, NULL,
	  "127.0.0.0/8, 10.0.0.0/8, 172.16.0.0/12, 192.168.0.0/16, 169.254.0.0/16, ::1/128, fe80::/10, fc00::/7",
	  cfg_check_allow },
	{ "osc", "udp", CFG_BOOL, CFG_OFF(osc.udp), 0, 1, NULL, "true", NULL },
	{ "osc", "tcp", CFG_BOOL, CFG_OFF(osc.tcp), 0, 1, NULL, "true", NULL },
	{ CFG_OUTPUT_SECTION, "port", CFG_STR, CFG_OOFF(port), 0, 63, NULL, "", NULL },
	{ CFG_OUTPUT_SECTION, "connect", CFG_STR, CFG_OOFF(connect), 0, 63, NULL, "", NULL },
	{ CFG_OUTPUT_SECTION, "enabled", CFG_BOOL, CFG_OOFF(clk.enabled), 0, 1, NULL, "true", NULL },
	{ CFG_OUTPUT_SECTION, "ppqn", CFG_INT, CFG_OOFF(clk.ppqn), CLK_PPQN_MIN, CLK_PPQN_MAX, NULL,
	  "24", NULL },
	{ CFG_OUTPUT_SECTION, "offset_us", CFG_INT32, CFG_OOFF(clk.offset_us), -100000,
	  CLK_OFFSET_MAX_US, NULL, "0", NULL },
	{ CFG_OUTPUT_SECTION, "swing", CFG_PERCENT, CFG_OOFF(clk.swing_permille), CLK_SWING_MIN,
	  CLK_SWING_MAX, NULL, "50", NULL },
	{ CFG_OUTPUT_SECTION, "swing_unit", CFG_ENUM, CFG_OOFF(clk.swing_unit), 0, 0,
	  cfg_swing_units, "16", NULL },
	{ CFG_OUTPUT_SECTION, "clock_while_stopped", CFG_BOOL, CFG_OOFF(clk.clock_while_stopped), 0,
	  1, NULL, "false", NULL },
	{ CFG_OUTPUT_SECTION, "transport", CFG_BOOL, CFG_OOFF(clk.transport), 0, 1, NULL, "true", NULL },
	{ CFG_OUTPUT_SECTION, "spp", CFG_BOOL, CFG_OOFF(clk.spp), 0, 1, NULL, "true", NULL },
	CFG_PATTERN_KEYS(CFG_PATTERN_SECTION, CFG_POFF),
};
#define CFG_NKEYS (sizeof(cfg_keys) / sizeof(cfg_keys[0]))

const char *config_backend_name(int backend)
{
	for (const struct cfg_choice *ch = cfg_backends; ch->name; ch++)
		if (ch->value == backend)
			return ch->name;
	return "?";
}

static bool cfg_is_output_section(const char *section)
{
	return !strncmp(section, "output.", 7);
}

static bool cfg_is_pattern_section(const char *section)
{
	return !strncmp(section, "pattern.", 8);
}

/* The table's name for a section: "output.*" for any output section,
 * "pattern.*" for any pattern section. */
static const char *cfg_table_section(const char *section)
{
	return cfg_is_output_section(section)	 ? CFG_OUTPUT_SECTION
	       : cfg_is_pattern_section(section) ? CFG_PATTERN_SECTION
						 : section;
}

/* CONFIG_PAT_* bit of a pattern key. */
static unsigned cfg_pattern_bit(const char *name)
{
	static const char *const names[] = { "output", "channel", "length_bars", "tempo", "group" };

	for (unsigned i = 0; i < sizeof(names) / sizeof(names[0]); i++)
		if (!strcmp(name, names[i]))
			return 1u << i;
	return 0;
}

static const struct cfg_key *cfg_find(const char *section, const char *name)
{
	const char *ts = cfg_table_section(section);

	for (size_t i = 0; i < CFG_NKEYS; i++)
		if (!strcmp(cfg_keys[i].section, ts) && !strcmp(cfg_keys[i].name, name))
			return &cfg_keys[i];
	return NULL;
}

static bool cfg_section_known(const char *section)
{
	const char *ts = cfg_table_section(section);

	for (size_t i = 0; i < CFG_NKEYS; i++)
		if (!strcmp(cfg_keys[i].section, ts))
			return true;
	return false;
}

/* "a, b, c" list of the keys of `section`, or of the sections. */
static void cfg_list(char *buf, size_t n, const char *section)
{
	size_t len = 0;

	buf[0] = '\0';
	for (size_t i = 0; i < CFG_NKEYS && len < n; i++) {
		const char *item = section ? cfg_keys[i].name : cfg_keys[i].section;
		if (section && strcmp(cfg_keys[i].section, section))
			continue;
		if (!section && i > 0 && !strcmp(cfg_keys[i - 1].section, item))
			continue;
		if (!section && !strcmp(item, CFG_OUTPUT_SECTION))
			item = "output.NAME";
		if (!section && !strcmp(item, CFG_PATTERN_SECTION))
			item = "pattern.NAME";
		len += (size_t)snprintf(buf + len, n - len, "%s%s", len ? ", " : "", item);
	}
}

/* Decimal "I[.F]" with at most `decimals` fraction digits, scaled by
 * 10^decimals, optional leading '-'.  No floating point: exact. */
static int cfg_parse_fixed(const char *s, int decimals, int64_t *out)
{
	int64_t v = 0, scale = 1;
	bool neg = false;
	int digits = 0, frac = 0;

	for (int i = 0; i < decimals; i++)
		scale *= 10;
	if (*s == '-') {
		neg = true;
		s++;
	}
	while (*s >= '0' && *s <= '9') {
		if (++digits > 12)
			return -ERANGE;
		v = v * 10 + (*s++ - '0');
	}
	if (!digits)
		return -EINVAL;
	v *= scale;
	if (*s == '.') {
		s++;
		if (!(*s >= '0' && *s <= '9'))
			return -EINVAL;
		while (*s >= '0' && *s <= '9') {
			if (++frac > decimals)
				return -EINVAL;
			scale /= 10;
			v += (*s++ - '0') * scale;
		}
	}
	if (*s)
		return -EINVAL;
	*out = neg ? -v : v;
	return 0;
}

static int cfg_parse_value(const struct cfg_key *k, const char *section, const char *value,
			   void *base, char *err, size_t errlen)
{
	void *field = (char *)base + k->off;
	int64_t v;

	switch (k->type) {
	case CFG_INT:
	case CFG_INT32: {
		char *end;
		long l;
		errno = 0;
		l = strtol(value, &end, 10);
		if (errno || end == value || *end || l < k->min || l > k->max) {
			snprintf(err, errlen, "%s.%s = '%s': must be a whole number from %ld to %ld",
				 section, k->name, value, k->min, k->max);
			return -EINVAL;
		}
		if (k->type == CFG_INT)
			*(int *)field = (int)l;
		else
			*(int32_t *)field = (int32_t)l;
		return 0;
	}
	case CFG_BOOL: {
		static const char *const yes[] = { "true", "yes", "on", "1" };
		static const char *const no[] = { "false", "no", "off", "0" };
		for (size_t i = 0; i < 4; i++) {
			if (!strcasecmp(value, yes[i])) {
				*(bool *)field = true;
				return 0;
			}
			if (!strcasecmp(value, no[i])) {
				*(bool *)field = false;
				return 0;
			}
		}
		snprintf(err, errlen, "%s.%s = '%s': must be true or false (also yes/no, on/off, 1/0)",
			 section, k->name, value);
		return -EINVAL;
	}
	case CFG_ENUM: {
		char allowed[256];
		size_t len = 0;
		for (const struct cfg_choice *ch = k->choices; ch->name; ch++) {
			if (!strcasecmp(value, ch->name)) {
				*(int *)field = ch->value;
				return 0;
			}
			len += (size_t)snprintf(allowed + len, sizeof(allowed) - len, "%s%s",
						len ? ", " : "", ch->name);
		}
		snprintf(err, errlen, "%s.%s = '%s': must be one of %s", section, k->name, value,
			 allowed);
		return -EINVAL;
	}
	case CFG_BPM:
		if (tl_parse_bpm(value, &v) < 0) {
			snprintf(err, errlen,
				 "%s.%s = '%s': must be a tempo from 20 to 999 BPM (up to 6 decimals, "
				 "e.g. 121.5)", section, k->name, value);
			return -EINVAL;
		}
		*(int64_t *)field = v;
		return 0;
	case CFG_MS:
		if (cfg_parse_fixed(value, 3, &v) < 0 || v < k->min || v > k->max) {
			snprintf(err, errlen,
				 "%s.%s = '%s': must be from %g to %g ms (up to 3 decimals)", section,
				 k->name, value, k->min / 1000.0, k->max / 1000.0);
			return -EINVAL;
		}
		*(int64_t *)field = v;
		return 0;
	case CFG_PERCENT:
		if (cfg_parse_fixed(value, 1, &v) < 0 || v < k->min || v > k->max) {
			snprintf(err, errlen, "%s.%s = '%s': must be a percentage from %g to %g "
				 "(one decimal at most, 50 = straight)", section, k->name, value,
				 k->min / 10.0, k->max / 10.0);
			return -EINVAL;
		}
		*(int *)field = (int)v;
		return 0;
	case CFG_STR: {
		size_t n = strlen(value);
		bool ok = n >= (size_t)k->min && n <= (size_t)k->max;
		for (size_t i = 0; ok && i < n; i++)
			ok = (unsigned char)value[i] >= 0x20 && value[i] != 0x7f;
		if (!ok) {
			snprintf(err, errlen, "%s.%s = '%.*s': must be %ld to %ld printable characters",
				 section, k->name, 64, value, k->min, k->max);
			return -EINVAL;
		}
		/* what the file cannot say back: ';' and '#' start comments, and
		 * the reader strips spaces at either end */
		if (strpbrk(value, ";#") || (n && (value[0] == ' ' || value[n - 1] == ' '))) {
			snprintf(err, errlen, "%s.%s = '%.*s': must not contain ';' or '#' (they start "
				 "comments) nor begin or end with a space", section, k->name, 64, value);
			return -EINVAL;
		}
		if (k->check) {
			char why[CONFIG_ERR_MAX / 2];
			if (k->check(value, why, sizeof(why)) < 0) {
				snprintf(err, errlen, "%s.%s = '%.*s': %s", section, k->name, 64, value, why);
				return -EINVAL;
			}
		}
		memcpy(field, value, n + 1);
		return 0;
	}
	}
	return -EINVAL;
}

static void cfg_output_defaults(struct config_output *o, const char *name)
{
	char err[CONFIG_ERR_MAX];

	memset(o, 0, sizeof(*o));
	snprintf(o->name, sizeof(o->name), "%s", name);
	for (size_t i = 0; i < CFG_NKEYS; i++)
		if (!strcmp(cfg_keys[i].section, CFG_OUTPUT_SECTION) &&
		    cfg_parse_value(&cfg_keys[i], CFG_OUTPUT_SECTION, cfg_keys[i].def, o, err,
				    sizeof(err)) < 0)
			abort(); /* a bad built-in default is a programming error */
}

/* The output for section "output.NAME": found, or created. */
static struct config_output *cfg_output(struct config *c, const char *section, char *err,
					size_t errlen)
{
	const char *name = section + 7;
	size_t n = strlen(name);
	bool ok = n > 0 && n < CONFIG_NAME_MAX;

	for (size_t i = 0; ok && i < n; i++)
		ok = (name[i] >= 'a' && name[i] <= 'z') || (name[i] >= 'A' && name[i] <= 'Z') ||
		     (name[i] >= '0' && name[i] <= '9') || name[i] == '-' || name[i] == '_';
	if (!ok) {
		snprintf(err, errlen, "[%.64s]: output names are 1 to %d letters, digits, '-' or '_'",
			 section, CONFIG_NAME_MAX - 1);
		return NULL;
	}
	if (!c->nout_explicit) {
		c->nout = 0; /* the first explicit output replaces the built-in one */
		c->nout_explicit = 1;
	}
	for (int i = 0; i < c->nout; i++)
		if (!strcmp(c->out[i].name, name))
			return &c->out[i];
	if (c->nout == CONFIG_MAX_OUTPUTS) {
		snprintf(err, errlen, "[%s]: too many outputs (at most %d)", section,
			 CONFIG_MAX_OUTPUTS);
		return NULL;
	}
	cfg_output_defaults(&c->out[c->nout], name);
	return &c->out[c->nout++];
}

/* The pattern section "pattern.NAME": found, or created.  NAME is a
 * pattern's name (its file name without .mid), as the file and --set can
 * write it. */
static struct config_pattern *cfg_pattern(struct config *c, const char *section, char *err,
					  size_t errlen)
{
	const char *name = section + 8;
	size_t n = strlen(name);
	bool ok = n > 0 && n < CONFIG_PATTERN_NAME_MAX && name[0] != ' ' && name[n - 1] != ' ';

	for (size_t i = 0; ok && i < n; i++)
		ok = (unsigned char)name[i] >= 0x20 && name[i] != 0x7f && !strchr("[];#=", name[i]);
	if (!ok) {
		snprintf(err, errlen, "[%.80s]: pattern names are 1 to %d printable characters without "
			 "'[', ']', ';', '#', '=' or spaces at either end (the file name without .mid)",
			 section, CONFIG_PATTERN_NAME_MAX - 1);
		return NULL;
	}
	for (int i = 0; i < c->npat; i++)
		if (!strcmp(c->pat[i].name, name))
			return &c->pat[i];
	if (c->npat == CONFIG_MAX_PATTERNS) {
		snprintf(err, errlen, "[%.80s]: too many pattern sections (at most %d)", section,
			 CONFIG_MAX_PATTERNS);
		return NULL;
	}
	memset(&c->pat[c->npat], 0, sizeof(c->pat[0]));
	memcpy(c->pat[c->npat].name, name, n + 1); /* keys it does not set stay 0 (unused) */
	return &c->pat[c->npat++];
}

static int cfg_set_kv(struct config *c, const char *section, const char *name,
		      const char *value, char *err, size_t errlen)
{
	const struct cfg_key *k = cfg_find(section, name);
	char known[512];
	void *base = c;

	if (!k) {
		if (!cfg_section_known(section)) {
			cfg_list(known, sizeof(known), NULL);
			snprintf(err, errlen, "unknown section [%.64s]; sections are: %s", section,
				 known);
		} else {
			cfg_list(known, sizeof(known), cfg_table_section(section));
			snprintf(err, errlen, "unknown key '%.64s' in [%.64s]; keys there are: %s", name,
				 section, known);
		}
		return -EINVAL;
	}
	if (cfg_is_output_section(section)) {
		base = cfg_output(c, section, err, errlen);
		if (!base)
			return -EINVAL;
	}
	if (cfg_is_pattern_section(section)) {
		struct config_pattern *cp = cfg_pattern(c, section, err, errlen);
		if (!cp)
			return -EINVAL;
		if (cfg_parse_value(k, section, value, &cp->o, err, errlen) < 0) {
			if (!cp->set)
				c->npat--; /* it was just made for this key */
			return -EINVAL;
		}
		cp->set |= cfg_pattern_bit(name);
		return 0;
	}
	return cfg_parse_value(k, section, value, base, err, errlen);
}

void config_defaults(struct config *c)
{
	char err[CONFIG_ERR_MAX];

	memset(c, 0, sizeof(*c));
	for (size_t i = 0; i < CFG_NKEYS; i++)
		if (strcmp(cfg_keys[i].section, CFG_OUTPUT_SECTION) &&
		    strcmp(cfg_keys[i].section, CFG_PATTERN_SECTION) &&
		    cfg_parse_value(&cfg_keys[i], cfg_keys[i].section, cfg_keys[i].def, c, err,
				    sizeof(err)) < 0)
			abort(); /* a bad built-in default is a programming error */
	c->nout = 1;
	cfg_output_defaults(&c->out[0], CFG_DEFAULT_OUTPUT);
}

int config_check(const struct config *c, char *err, size_t errlen)
{
	for (int i = 0; i < c->nout; i++) {
		const struct config_output *o = &c->out[i];
		if (o->clk.offset_us < -c->clock.lookahead_us) {
			snprintf(err, errlen,
				 "output.%s.offset_us = %d: a negative offset may not exceed the "
				 "lookahead (clock.lookahead_ms = %g, so at least %lld us)",
				 o->name, (int)o->clk.offset_us, c->clock.lookahead_us / 1000.0,
				 (long long)-c->clock.lookahead_us);
			return -EINVAL;
		}
		for (int j = 0; j < i; j++) {
			const char *a = o->port[0] ? o->port : o->name;
			const char *b = c->out[j].port[0] ? c->out[j].port : c->out[j].name;
			if (!strcmp(a, b)) {
				snprintf(err, errlen, "outputs '%s' and '%s' both use port name '%s'",
					 c->out[j].name, o->name, a);
				return -EINVAL;
			}
		}
	}
	if (c->audio.enabled) {
		static const char *const key[] = { "click_channel", "pulse_channel", "pulse2_channel",
						   "pulse3_channel", "run_channel" };
		const int ch[] = { c->audio.click_channel, c->audio.pulse[0].channel,
				   c->audio.pulse[1].channel, c->audio.pulse[2].channel,
				   c->audio.run_channel };
		struct audio_cfg a;
		char why[CONFIG_ERR_MAX / 2];

		/* channels by their 1-based keys, before the renderer's own check */
		for (int i = 0; i < 5; i++) {
			if (ch[i] > c->audio.channels) {
				snprintf(err, errlen, "audio.%s = %d: must be from 0 (off) to %d "
					 "(audio.channels)", key[i], ch[i], c->audio.channels);
				return -EINVAL;
			}
			for (int j = 0; j < i; j++)
				if (ch[i] > 0 && ch[i] == ch[j]) {
					snprintf(err, errlen, "audio.%s and audio.%s both use channel %d: "
						 "each signal needs its own channel", key[j], key[i], ch[i]);
					return -EINVAL;
				}
		}
		config_audio(c, &a);
		if (audio_cfg_check(&a, why, sizeof(why)) < 0) {
			snprintf(err, errlen, "[audio]: %s", why);
			return -EINVAL;
		}
	}
	for (int p = -1; p < c->npat; p++) {
		/* [patterns], then each [pattern.NAME] for the keys it sets */
		const struct config_pattern_opts *o = p < 0 ? &c->patterns.o : &c->pat[p].o;
		unsigned set = p < 0 ? ~0u : c->pat[p].set;
		char sec[CONFIG_PATTERN_NAME_MAX + 16];

		if (p < 0)
			snprintf(sec, sizeof(sec), "patterns");
		else
			snprintf(sec, sizeof(sec), "pattern.%s", c->pat[p].name);
		if ((set & CONFIG_PAT_CHANNEL) && o->channel == 0) {
			snprintf(err, errlen, "%s.channel = 0: channels are 1..16, or -1 for the file's own",
				 sec);
			return -EINVAL;
		}
		if ((set & CONFIG_PAT_OUTPUT) && o->output[0]) {
			int found = 0;
			for (int i = 0; i < c->nout; i++)
				found |= !strcmp(c->out[i].name, o->output);
			if (!found) {
				snprintf(err, errlen, "%s.output = %s: no [output.%s] is defined", sec,
					 o->output, o->output);
				return -EINVAL;
			}
		}
	}
	if (c->midi.backend == CONFIG_MIDI_RAWMIDI && !c->midi.rawmidi_device[0]) {
		snprintf(err, errlen, "midi.backend = rawmidi needs midi.rawmidi_device (e.g. hw:1,0,0)");
		return -EINVAL;
	}
	return 0;
}

#define CFG_LINES_MAX 512 /* keys remembered with their line (more: no line in errors) */

struct cfg_load_ctx {
	struct config *c;          /* being filled */
	FILE *f;                   /* the file being read */
	int line;                  /* line number of the text inih is handling */
	int newlines;              /* newlines read so far */
	char err[CONFIG_ERR_MAX];  /* first error */
	int err_line;              /* its line */
	bool failed;               /* an error was recorded */
	int nkeys;                 /* entries in keys */
	struct {
		char dotted[CONFIG_PATTERN_NAME_MAX + 80]; /* "section.key", as errors name it */
		char bracket[CONFIG_PATTERN_NAME_MAX + 80]; /* "[section] key" */
		int line;                          /* where the file set it */
	} keys[CFG_LINES_MAX];     /* the keys the file set, for cross-key errors */
};

/* A cross-key error (config_check) names keys, not lines: the line of the
 * last key it names that the file set, or 0. */
static int cfg_error_line(const struct cfg_load_ctx *ctx, const char *err)
{
	int line = 0;

	for (int i = 0; i < ctx->nkeys; i++)
		if ((strstr(err, ctx->keys[i].dotted) || strstr(err, ctx->keys[i].bracket)) &&
		    ctx->keys[i].line > line)
			line = ctx->keys[i].line;
	return line;
}

/* inih reader: fgets that counts lines, so handler errors know their line. */
static char *cfg_reader(char *str, int num, void *stream)
{
	struct cfg_load_ctx *ctx = stream;
	char *r = fgets(str, num, ctx->f);

	if (r) {
		ctx->line = ctx->newlines + 1;
		if (strchr(r, '\n'))
			ctx->newlines++;
	}
	return r;
}

static int cfg_ini_handler(void *user, const char *section, const char *name, const char *value)
{
	struct cfg_load_ctx *ctx = user;
	char err[CONFIG_ERR_MAX];

	if (!name) /* a section header alone (inih with INI_CALL_HANDLER_ON_NEW_SECTION) */
		return 1;
	if (!*section) {
		snprintf(err, sizeof(err), "key '%.64s' outside any [section]", name);
	} else if (cfg_set_kv(ctx->c, section, name, value, err, sizeof(err)) == 0) {
		if (ctx->nkeys < CFG_LINES_MAX) {
			snprintf(ctx->keys[ctx->nkeys].dotted, sizeof(ctx->keys[0].dotted), "%s.%s",
				 section, name);
			snprintf(ctx->keys[ctx->nkeys].bracket, sizeof(ctx->keys[0].bracket), "[%s] %s",
				 section, name);
			ctx->keys[ctx->nkeys++].line = ctx->line;
		}
		return 1;
	}
	if (!ctx->failed) {
		ctx->failed = true;
		ctx->err_line = ctx->line;
		memcpy(ctx->err, err, sizeof(err));
	}
	return 0;
}

int config_load_file(struct config *c, const char *path, char *err, size_t errlen)
{
	static struct config tmp; /* large; config is loaded on one thread only */
	static struct cfg_load_ctx ctx;
	char cerr[CONFIG_ERR_MAX];
	int line;

	rt_assert_not_rt();
	memset(&ctx, 0, sizeof(ctx));
	ctx.c = &tmp;
	config_defaults(&tmp);
	ctx.f = fopen(path, "r");
	if (!ctx.f) {
		int e = errno;
		snprintf(err, errlen, "%s: cannot read: %s", path, strerror(e));
		return -e;
	}
	line = ini_parse_stream(cfg_reader, &ctx, cfg_ini_handler, &ctx);
	fclose(ctx.f);
	if (line != 0) {
		if (ctx.failed && ctx.err_line <= line)
			snprintf(err, errlen, "%s:%d: %s", path, ctx.err_line, ctx.err);
		else if (line > 0)
			snprintf(err, errlen,
				 "%s:%d: not INI syntax (expected '[section]', 'key = value', or a "
				 "comment starting with ';' or '#')", path, line);
		else
			snprintf(err, errlen, "%s: cannot parse (out of memory)", path);
		return -EINVAL;
	}
	if (config_check(&tmp, cerr, sizeof(cerr)) < 0) {
		line = cfg_error_line(&ctx, cerr);
		if (line > 0)
			snprintf(err, errlen, "%s:%d: %s", path, line, cerr);
		else
			snprintf(err, errlen, "%s: %s", path, cerr);
		return -EINVAL;
	}
	*c = tmp;
	return 0;
}

int config_set(struct config *c, const char *assignment, char *err, size_t errlen)
{
	static struct config tmp; /* large; config is changed on one thread only */
	char section[CONFIG_PATTERN_NAME_MAX + 8], name[64];
	const char *eq = strchr(assignment, '=');
	const char *dot = NULL;
	int r;

	for (const char *p = assignment; eq && p < eq; p++)
		if (*p == '.')
			dot = p;
	if (!dot || !eq || dot == assignment || eq == dot + 1 ||
	    (size_t)(dot - assignment) >= sizeof(section) || (size_t)(eq - dot - 1) >= sizeof(name)) {
		snprintf(err, errlen,
			 "'%.64s': expected section.key=value (e.g. clock.tempo=120, "
			 "output.NAME.offset_us=-2000 or pattern.NAME.channel=10)", assignment);
		return -EINVAL;
	}
	memcpy(section, assignment, (size_t)(dot - assignment));
	section[dot - assignment] = '\0';
	memcpy(name, dot + 1, (size_t)(eq - dot - 1));
	name[eq - dot - 1] = '\0';
	tmp = *c;
	r = cfg_set_kv(&tmp, section, name, eq + 1, err, errlen);
	if (r == 0)
		*c = tmp;
	return r;
}

static void cfg_print_key(const struct cfg_key *k, const void *base, FILE *f)
{
	const void *field = (const char *)base + k->off;

	switch (k->type) {
	case CFG_INT:
		fprintf(f, "%s = %d\n", k->name, *(const int *)field);
		break;
	case CFG_INT32:
		fprintf(f, "%s = %d\n", k->name, (int)*(const int32_t *)field);
		break;
	case CFG_BOOL:
		fprintf(f, "%s = %s\n", k->name, *(const bool *)field ? "true" : "false");
		break;
	case CFG_ENUM:
		for (const struct cfg_choice *ch = k->choices; ch->name; ch++)
			if (ch->value == *(const int *)field)
				fprintf(f, "%s = %s\n", k->name, ch->name);
		break;
	case CFG_BPM: {
		int64_t v = *(const int64_t *)field;
		fprintf(f, "%s = %lld.%06lld\n", k->name, (long long)(v / 1000000),
			(long long)(v % 1000000));
		break;
	}
	case CFG_MS: {
		int64_t v = *(const int64_t *)field;
		fprintf(f, "%s = %lld.%03lld\n", k->name, (long long)(v / 1000), (long long)(v % 1000));
		break;
	}
	case CFG_PERCENT: {
		int v = *(const int *)field;
		fprintf(f, "%s = %d.%d\n", k->name, v / 10, v % 10);
		break;
	}
	case CFG_STR:
		fprintf(f, "%s = %s\n", k->name, (const char *)field);
		break;
	}
}

void config_print(const struct config *c, FILE *f)
{
	const char *section = "";

	for (size_t i = 0; i < CFG_NKEYS; i++) {
		const struct cfg_key *k = &cfg_keys[i];
		if (!strcmp(k->section, CFG_OUTPUT_SECTION) || !strcmp(k->section, CFG_PATTERN_SECTION))
			continue;
		if (strcmp(section, k->section)) {
			fprintf(f, "%s[%s]\n", i ? "\n" : "", k->section);
			section = k->section;
		}
		cfg_print_key(k, c, f);
	}
	for (int o = 0; o < c->nout; o++) {
		fprintf(f, "\n[output.%s]\n", c->out[o].name);
		for (size_t i = 0; i < CFG_NKEYS; i++)
			if (!strcmp(cfg_keys[i].section, CFG_OUTPUT_SECTION))
				cfg_print_key(&cfg_keys[i], &c->out[o], f);
	}
	for (int p = 0; p < c->npat; p++) {
		fprintf(f, "\n[pattern.%s]\n", c->pat[p].name);
		for (size_t i = 0; i < CFG_NKEYS; i++)
			if (!strcmp(cfg_keys[i].section, CFG_PATTERN_SECTION) &&
			    (c->pat[p].set & cfg_pattern_bit(cfg_keys[i].name)))
				cfg_print_key(&cfg_keys[i], &c->pat[p].o, f);
	}
}

void config_pattern_opts(const struct config *c, const char *name, struct config_pattern_opts *o)
{
	*o = c->patterns.o;
	for (int i = 0; i < c->npat; i++) {
		const struct config_pattern *p = &c->pat[i];
		if (strcmp(p->name, name))
			continue;
		if (p->set & CONFIG_PAT_OUTPUT)
			memcpy(o->output, p->o.output, sizeof(o->output));
		if (p->set & CONFIG_PAT_CHANNEL)
			o->channel = p->o.channel;
		if (p->set & CONFIG_PAT_LENGTH)
			o->length_bars = p->o.length_bars;
		if (p->set & CONFIG_PAT_TEMPO)
			o->tempo = p->o.tempo;
		if (p->set & CONFIG_PAT_GROUP)
			memcpy(o->group, p->o.group, sizeof(o->group));
	}
}

void config_audio(const struct config *c, struct audio_cfg *a)
{
	audio_cfg_defaults(a);
	snprintf(a->device, sizeof(a->device), "%.63s", c->audio.device);
	a->fmt.rate = (uint32_t)c->audio.rate;
	a->fmt.channels = (uint32_t)c->audio.channels;
	a->fmt.period = (uint32_t)c->audio.period;
	a->fmt.periods = (uint32_t)c->audio.periods;
	a->fmt.sample_fmt = c->audio.format;
	a->priority = c->audio.priority;
	a->out.click.channel = c->audio.click_channel - 1;
	a->out.click.sound = c->audio.click_sound;
	a->out.click.level_pct = c->audio.click_level;
	a->out.click.accent_pct = c->audio.accent_level;
	a->out.click.offset_us = c->audio.click_offset_us;
	const struct audio_pulse_cfg def = a->out.pulse[0]; /* audio_cfg_defaults' pulse */

	a->out.npulse = 0;
	for (int i = 0; i < CONFIG_AUDIO_PULSES; i++) {
		struct audio_pulse_cfg *p = &a->out.pulse[a->out.npulse];
		if (c->audio.pulse[i].channel <= 0)
			continue;
		*p = def;
		p->channel = c->audio.pulse[i].channel - 1;
		p->ppqn = c->audio.pulse[i].ppqn;
		p->width_us = c->audio.pulse[i].width_us;
		p->level_pct = c->audio.pulse[i].level;
		p->invert = c->audio.pulse[i].polarity == 1;
		p->offset_us = c->audio.pulse[i].offset_us;
		p->swing_permille = c->audio.pulse[i].swing;
		a->out.npulse++;
	}
	a->out.run.channel = c->audio.run_channel - 1;
}
