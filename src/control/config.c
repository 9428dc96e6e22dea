/*
 * config.c - key table, validators, INI loading (see config.h).
 *
 * libinih does the INI syntax; this file does the meaning.  Debian's inih is
 * built without the line-number handler, so the file is fed through a
 * reader that counts lines: a rejected key knows its line, and a syntax
 * error (reported by inih's return value) earlier in the file wins.
 */
#include "control/config.h"

#include <errno.h>
#include <ini.h>
#include <limits.h>
#include <math.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <syslog.h>

#include "rt/rt.h"

enum cfg_type { CFG_INT, CFG_BOOL, CFG_ENUM };

struct cfg_choice {
	const char *name; /* accepted spelling */
	int value;        /* stored value */
};

struct cfg_key {
	const char *section;             /* [section] */
	const char *name;                /* key */
	enum cfg_type type;              /* how to parse */
	size_t off;                      /* offset of the field in struct config */
	long min, max;                   /* CFG_INT range, inclusive */
	const struct cfg_choice *choices; /* CFG_ENUM spellings, NULL-terminated */
	const char *def;                 /* default, as it would be written in the file */
};

static const struct cfg_choice cfg_log_levels[] = {
	{ "error", LOG_ERR }, { "warning", LOG_WARNING }, { "notice", LOG_NOTICE },
	{ "info", LOG_INFO }, { "debug", LOG_DEBUG },     { NULL, 0 },
};

#define CFG_OFF(f) offsetof(struct config, f)
static const struct cfg_key cfg_keys[] = {
	{ "rt", "priority", CFG_INT, CFG_OFF(rt.priority), 0, 99, NULL, "70" },
	{ "rt", "cpu", CFG_INT, CFG_OFF(rt.cpu), -1, 1023, NULL, "-1" },
	{ "rt", "mlock", CFG_BOOL, CFG_OFF(rt.mlock), 0, 1, NULL, "true" },
	{ "log", "level", CFG_ENUM, CFG_OFF(log.level), 0, 0, cfg_log_levels, "info" },
};
#define CFG_NKEYS (sizeof(cfg_keys) / sizeof(cfg_keys[0]))

static const struct cfg_key *cfg_find(const char *section, const char *name)
{
	for (size_t i = 0; i < CFG_NKEYS; i++)
		if (!strcmp(cfg_keys[i].section, section) && !strcmp(cfg_keys[i].name, name))
			return &cfg_keys[i];
	return NULL;
}

static bool cfg_section_known(const char *section)
{
	for (size_t i = 0; i < CFG_NKEYS; i++)
		if (!strcmp(cfg_keys[i].section, section))
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
		len += (size_t)snprintf(buf + len, n - len, "%s%s", len ? ", " : "", item);
	}
}

static int cfg_parse_value(const struct cfg_key *k, const char *value, struct config *c,
			   char *err, size_t errlen)
{
	void *field = (char *)c + k->off;

	switch (k->type) {
	case CFG_INT: {
		char *end;
		long v;
		errno = 0;
		v = strtol(value, &end, 10);
		if (errno || end == value || *end || v < k->min || v > k->max) {
			snprintf(err, errlen, "%s.%s = '%s': must be a whole number from %ld to %ld",
				 k->section, k->name, value, k->min, k->max);
			return -EINVAL;
		}
		*(int *)field = (int)v;
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
			 k->section, k->name, value);
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
		snprintf(err, errlen, "%s.%s = '%s': must be one of %s", k->section, k->name,
			 value, allowed);
		return -EINVAL;
	}
	}
	return -EINVAL;
}

static int cfg_set_kv(struct config *c, const char *section, const char *name,
		      const char *value, char *err, size_t errlen)
{
	const struct cfg_key *k = cfg_find(section, name);
	char known[512];

	if (!k) {
		if (!cfg_section_known(section)) {
			cfg_list(known, sizeof(known), NULL);
			snprintf(err, errlen, "unknown section [%s]; sections are: %s", section, known);
		} else {
			cfg_list(known, sizeof(known), section);
			snprintf(err, errlen, "unknown key '%s' in [%s]; keys there are: %s", name,
				 section, known);
		}
		return -EINVAL;
	}
	return cfg_parse_value(k, value, c, err, errlen);
}

void config_defaults(struct config *c)
{
	char err[CONFIG_ERR_MAX];

	memset(c, 0, sizeof(*c));
	for (size_t i = 0; i < CFG_NKEYS; i++)
		if (cfg_parse_value(&cfg_keys[i], cfg_keys[i].def, c, err, sizeof(err)) < 0)
			abort(); /* a bad built-in default is a programming error */
}

struct cfg_load_ctx {
	struct config *c;          /* being filled */
	FILE *f;                   /* the file being read */
	int line;                  /* line number of the text inih is handling */
	int newlines;              /* newlines read so far */
	char err[CONFIG_ERR_MAX];  /* first error */
	int err_line;              /* its line */
	bool failed;               /* an error was recorded */
};

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
		snprintf(err, sizeof(err), "key '%s' outside any [section]", name);
	} else if (cfg_set_kv(ctx->c, section, name, value, err, sizeof(err)) == 0) {
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
	struct config tmp;
	struct cfg_load_ctx ctx = { .c = &tmp, .failed = false };
	int line;

	rt_assert_not_rt();
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
	*c = tmp;
	return 0;
}

int config_set(struct config *c, const char *assignment, char *err, size_t errlen)
{
	char section[64], name[64];
	const char *dot = strchr(assignment, '.');
	const char *eq = strchr(assignment, '=');
	struct config tmp = *c;
	int r;

	if (!dot || !eq || dot > eq || dot == assignment || eq == dot + 1 ||
	    (size_t)(dot - assignment) >= sizeof(section) || (size_t)(eq - dot - 1) >= sizeof(name)) {
		snprintf(err, errlen, "'%s': expected section.key=value (e.g. rt.priority=70)",
			 assignment);
		return -EINVAL;
	}
	memcpy(section, assignment, (size_t)(dot - assignment));
	section[dot - assignment] = '\0';
	memcpy(name, dot + 1, (size_t)(eq - dot - 1));
	name[eq - dot - 1] = '\0';
	r = cfg_set_kv(&tmp, section, name, eq + 1, err, errlen);
	if (r == 0)
		*c = tmp;
	return r;
}

void config_print(const struct config *c, FILE *f)
{
	const char *section = "";

	for (size_t i = 0; i < CFG_NKEYS; i++) {
		const struct cfg_key *k = &cfg_keys[i];
		const void *field = (const char *)c + k->off;
		if (strcmp(section, k->section)) {
			fprintf(f, "%s[%s]\n", i ? "\n" : "", k->section);
			section = k->section;
		}
		switch (k->type) {
		case CFG_INT:
			fprintf(f, "%s = %d\n", k->name, *(const int *)field);
			break;
		case CFG_BOOL:
			fprintf(f, "%s = %s\n", k->name, *(const bool *)field ? "true" : "false");
			break;
		case CFG_ENUM:
			for (const struct cfg_choice *ch = k->choices; ch->name; ch++)
				if (ch->value == *(const int *)field)
					fprintf(f, "%s = %s\n", k->name, ch->name);
			break;
		}
	}
}
