/*
 * patlib.c - which slot plays which pattern, and reloading them (see
 * patlib.h).
 *
 * A load reads the whole directory afresh (pattern_dir_load_each, each
 * file with its own settings), then places the patterns: first every name
 * the running library has, in its slot; then the new names, in the lowest
 * slots left.  A placed pattern that plays the same as the running one of
 * that slot (pattern_equal) is dropped in favour of the running object, so
 * an unchanged file costs the engine nothing on a reload.
 */
#include "control/patlib.h"

#include <errno.h>
#include <stdbool.h>
#include <stdio.h>
#include <string.h>
#include <syslog.h>

#include "control/log.h"

/* Conversion options of pattern `name`: [patterns] with its overrides. */
static void patlib_opts_cb(void *octx, const char *name, struct pattern_opts *o)
{
	const struct config *c = octx;
	struct config_pattern_opts co;

	config_pattern_opts(c, name, &co);
	pattern_opts_defaults(o);
	o->channel = co.channel > 0 ? co.channel - 1 : -1;
	o->length_bars = co.length_bars;
	o->keep_tempo = co.tempo != 0;
}

static void patlib_err_cb(void *ctx, const char *file, const struct smf_error *err)
{
	(void)ctx;
	logx(LOG_WARNING, "patterns: %s skipped: %s", file,
	     err && err->msg[0] ? err->msg : "cannot load");
}

int patlib_slot(const struct patlib *l, const char *name)
{
	for (int i = 0; i < l->table.n; i++)
		if (l->name[i][0] && !strcmp(l->name[i], name))
			return i;
	return -1;
}

/* Index of output `name` ("" = the first) for pattern `pat`.  A name the
 * running outputs lack (a reload that adds an output, which waits for a
 * restart) plays to the first, and says so. */
static int patlib_out_index(const struct config *c, const char *name, const char *pat)
{
	for (int i = 0; name[0] && i < c->nout; i++)
		if (!strcmp(c->out[i].name, name))
			return i;
	if (name[0])
		logx(LOG_WARNING, "pattern %s: output %s is not running (until a restart); "
		     "playing to %s", pat, name, c->out[0].name);
	return 0;
}

/* Put pattern p (owned by the caller until now) into slot k of `next`. */
static void patlib_place(struct patlib *next, const struct patlib *cur, int k, struct pattern *p,
			 const struct config *c, char (*groups)[CONFIG_NAME_MAX], int *ngroups)
{
	struct config_pattern_opts *o = &next->opts[k];
	int group = 0;

	config_pattern_opts(c, p->name, o);
	if (cur && cur->pat[k] && !strcmp(cur->name[k], p->name) && pattern_equal(cur->pat[k], p)) {
		pattern_del(p); /* unchanged: the engine keeps playing the running object */
		p = cur->pat[k];
	}
	for (int g = 0; o->group[0] && g < *ngroups && !group; g++)
		if (!strcmp(groups[g], o->group))
			group = g + 1;
	if (o->group[0] && !group) {
		memcpy(groups[*ngroups], o->group, sizeof(groups[0]));
		group = ++*ngroups;
	}
	memcpy(next->name[k], p->name, sizeof(next->name[k]));
	next->pat[k] = p;
	next->table.slot[k] = (struct engine_pat_slot){
		.pat = p,
		.out = patlib_out_index(c, o->output, p->name),
		.group = group,
		.tempo = o->tempo != 0,
	};
	next->count++;
	if (k >= next->table.n)
		next->table.n = k + 1;
}

int patlib_load(struct patlib *next, const struct patlib *cur, const struct config *c)
{
	char groups[ENGINE_MAX_PATTERNS][CONFIG_NAME_MAX]; /* group names seen, id = index + 1 */
	struct pattern_set set;
	int ngroups = 0, r, skipped = 0;

	memset(next, 0, sizeof(*next));
	next->gen = cur ? cur->gen + 1 : 0;
	if (!c->patterns.dir[0])
		return 0;
	r = pattern_dir_load_each(c->patterns.dir, patlib_opts_cb, (void *)c, NULL, &set,
				  patlib_err_cb, NULL);
	if (r == -ENOMEM) {
		logx(LOG_ERR, "patterns: out of memory loading %s", c->patterns.dir);
		return -ENOMEM;
	}
	if (r < 0) {
		/* the default directory may simply not exist yet: not worth a warning */
		bool dflt = r == -ENOENT && !strcmp(c->patterns.dir, CONFIG_PATTERNS_DIR_DEFAULT);
		logx(dflt ? LOG_INFO : LOG_WARNING, "patterns: cannot read %s: %s; no patterns",
		     c->patterns.dir, strerror(-r));
		return 0;
	}
	if (set.count > 0 && c->nout == 0) {
		logx(LOG_WARNING, "patterns: no output defined to play them; no patterns");
		pattern_set_free(&set);
		return 0;
	}
	/* names already playing keep their slots ... */
	for (uint32_t i = 0; cur && i < set.count; i++) {
		int k = patlib_slot(cur, set.items[i]->name);
		if (k >= 0) {
			patlib_place(next, cur, k, set.items[i], c, groups, &ngroups);
			set.items[i] = NULL;
		}
	}
	/* ... new ones take the lowest free slots */
	for (uint32_t i = 0, k = 0; i < set.count; i++) {
		if (!set.items[i])
			continue;
		while (k < ENGINE_MAX_PATTERNS && next->name[k][0])
			k++;
		if (k == ENGINE_MAX_PATTERNS) {
			if (!skipped++)
				logx(LOG_WARNING, "patterns: more than %d in %s; '%s' and the ones after "
				     "it (by name) are not playable", ENGINE_MAX_PATTERNS,
				     c->patterns.dir, set.items[i]->name);
			continue; /* freed with the set */
		}
		patlib_place(next, cur, (int)k, set.items[i], c, groups, &ngroups);
		set.items[i] = NULL;
	}
	pattern_set_free(&set); /* what was not placed */
	logx(LOG_INFO, "patterns: %d loaded from %s", next->count, c->patterns.dir);
	for (int k = 0; k < next->table.n; k++) {
		const struct config_pattern_opts *o = &next->opts[k];
		char ch[16] = "the file's";
		if (!next->pat[k])
			continue;
		if (o->channel > 0)
			snprintf(ch, sizeof(ch), "%d", o->channel);
		logx(LOG_DEBUG, "pattern %s: slot %d, %d bars, output %s, channel %s, tempo %s, "
		     "group %s", next->name[k], k, next->pat[k]->bars,
		     c->out[next->table.slot[k].out].name, ch, o->tempo ? "from the file" : "ignored",
		     o->group[0] ? o->group : "none");
	}
	return next->count;
}

void patlib_release(struct patlib *old, const struct patlib *keep)
{
	for (int k = 0; k < ENGINE_MAX_PATTERNS; k++) {
		bool shared = false;
		if (!old->pat[k])
			continue;
		for (int j = 0; keep && j < ENGINE_MAX_PATTERNS && !shared; j++)
			shared = keep->pat[j] == old->pat[k];
		if (!shared)
			pattern_del(old->pat[k]);
	}
	memset(old, 0, sizeof(*old));
}

int patlib_sorted(const struct patlib *l, int *slots)
{
	int n = 0;

	for (int k = 0; k < l->table.n; k++) {
		int j = n;
		if (!l->pat[k])
			continue;
		while (j > 0 && strcmp(l->name[slots[j - 1]], l->name[k]) > 0) {
			slots[j] = slots[j - 1];
			j--;
		}
		slots[j] = k;
		n++;
	}
	return n;
}

bool patlib_same_table(const struct engine_pat_table *a, const struct engine_pat_table *b)
{
	if (a->n != b->n)
		return false;
	for (int k = 0; k < a->n; k++) {
		const struct engine_pat_slot *x = &a->slot[k], *y = &b->slot[k];
		if (x->pat != y->pat || (x->pat && (x->out != y->out || x->group != y->group ||
						    x->tempo != y->tempo)))
			return false;
	}
	return true;
}
