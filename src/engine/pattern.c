/*
 * pattern.c - SMF to immutable pattern, and the RT accessors (see
 * pattern.h for the conversion rules).
 *
 * Conversion (control side): gather every channel event of every track
 * with its position in timeline units, sort them by (position, track, file
 * order), then one pass pairs notes and drops what the rules drop, and a
 * final pass closes the notes still open.  The temporary arrays come from
 * the injected allocator and are freed before returning; the result is
 * one block (struct pattern, then the events, then the tempo changes), so
 * the engine reads a single contiguous, never-changing object and freeing
 * it is one call.
 *
 * Units: ticks in (the file's division per quarter note), timeline units
 * out (TL_UNITS_PER_BEAT per quarter note).  Ticks are bounded before the
 * multiplication (PATTERN_BEATS_MAX * 32767 ticks * 1,612,800 < 2^53), so
 * int64_t suffices.
 *
 * Playback (RT side): binary search for the first event at or after a
 * position, then a cursor that walks the events and wraps to the next loop.
 */
#include "engine/pattern.h"

#include <dirent.h>
#include <errno.h>
#include <limits.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "clock/timeline.h"

#define PAT_BEYOND INT64_MAX /* a tick past PATTERN_BEATS_MAX quarter notes */

struct pat_item {
	int64_t pos;         /* units */
	uint32_t track;      /* track index, for the order at equal positions */
	uint32_t idx;        /* event index in its track */
	struct midi_msg msg; /* the message (channel remapped, note-on 0 normalised) */
};

struct pat_tempo_item {
	int64_t pos;       /* units */
	uint32_t track;    /* order at equal positions */
	uint32_t idx;      /* order within the track */
	int64_t bpm_micro; /* tempo */
};

static int pat_fail(struct smf_error *err, int code, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));

static int pat_fail(struct smf_error *err, int code, const char *fmt, ...)
{
	va_list ap;

	if (!err)
		return code;
	err->code = code;
	err->offset = SMF_NO_OFFSET;
	err->track = -1;
	va_start(ap, fmt);
	vsnprintf(err->msg, sizeof(err->msg), fmt, ap);
	va_end(ap);
	return code;
}

void pattern_opts_defaults(struct pattern_opts *o)
{
	*o = (struct pattern_opts){ .channel = -1, .length_bars = 0, .keep_tempo = false };
}

/* Position of a tick, rounded to the nearest unit (ties up). */
static int64_t pat_pos(int64_t tick, uint16_t division, uint32_t *rounded)
{
	int64_t num;

	if (tick > (int64_t)division * PATTERN_BEATS_MAX)
		return PAT_BEYOND;
	num = tick * TL_UNITS_PER_BEAT;
	if (num % division)
		(*rounded)++;
	return (num + division / 2) / division;
}

static int pat_item_cmp(const void *a, const void *b)
{
	const struct pat_item *x = a, *y = b;

	if (x->pos != y->pos)
		return x->pos < y->pos ? -1 : 1;
	if (x->track != y->track)
		return x->track < y->track ? -1 : 1;
	return x->idx < y->idx ? -1 : x->idx > y->idx;
}

static int pat_tempo_cmp(const void *a, const void *b)
{
	const struct pat_tempo_item *x = a, *y = b;

	if (x->pos != y->pos)
		return x->pos < y->pos ? -1 : 1;
	if (x->track != y->track)
		return x->track < y->track ? -1 : 1;
	return x->idx < y->idx ? -1 : x->idx > y->idx;
}

static bool pat_is_note_off(const struct midi_msg *m)
{
	return m->type == MIDI_NOTE_OFF || (m->type == MIDI_NOTE_ON && m->data[1] == 0);
}

/* The time signature at tick 0: first FF 58 at tick 0 in track order. */
static void pat_time_sig(const struct smf *s, uint8_t *num, uint8_t *den_log2)
{
	*num = 4;
	*den_log2 = 2;
	for (unsigned t = 0; t < s->ntracks; t++) {
		const struct smf_track *tr = &s->tracks[t];
		for (uint32_t i = 0; i < tr->nevents && tr->events[i].tick == 0; i++) {
			const struct smf_event *e = &tr->events[i];
			if (e->kind == SMF_EV_META && e->meta == SMF_META_TIME_SIG) {
				*num = e->data[0];
				*den_log2 = e->data[1];
				return;
			}
		}
	}
}

int pattern_new(const struct smf *s, const char *name, const struct pattern_opts *o,
		const struct alloc *a, struct pattern **out, struct smf_error *err)
{
	struct pattern_opts defaults;
	struct pattern_stats st = { 0 };
	struct pat_item *items = NULL;
	struct pat_tempo_item *tempi = NULL;
	uint32_t nitems = 0, ntempo = 0, nkept = 0, nclose = 0;
	uint16_t open[16][128];
	uint8_t ts_num, ts_log2;
	int64_t bar, length, end_tick = 0;
	struct pattern *p;
	struct pattern_event *ev;
	struct pattern_tempo *tp;
	size_t bytes;
	int r;

	rt_assert_not_rt();
	if (err)
		*err = (struct smf_error){ .offset = SMF_NO_OFFSET, .track = -1 };
	if (!s || !out || !s->tracks)
		return pat_fail(err, -EINVAL, "no parsed file or no output");
	*out = NULL;
	if (!o) {
		pattern_opts_defaults(&defaults);
		o = &defaults;
	}
	if (!name)
		name = "";
	if (strlen(name) >= PATTERN_NAME_MAX)
		return pat_fail(err, -ENAMETOOLONG, "pattern name of %zu bytes is too long "
				"(expected at most %d)", strlen(name), PATTERN_NAME_MAX - 1);
	if (o->channel < -1 || o->channel > 15)
		return pat_fail(err, -EINVAL, "channel %d (expected -1 for the file's, or 0..15)",
				o->channel);
	if (o->length_bars < 0 || o->length_bars > PATTERN_BARS_MAX)
		return pat_fail(err, -EINVAL, "length of %d bars (expected 0 for the file's, "
				"or 1..%d)", o->length_bars, PATTERN_BARS_MAX);
	if (s->format == 2)
		return pat_fail(err, -ENOTSUP, "format 2 file (independent sequences) cannot be "
				"played as one pattern (expected format 0 or 1)");

	pat_time_sig(s, &ts_num, &ts_log2);
	bar = ts_num * ((TL_UNITS_PER_BEAT * 4) >> ts_log2);
	for (unsigned t = 0; t < s->ntracks; t++) {
		if (s->tracks[t].end_tick > end_tick)
			end_tick = s->tracks[t].end_tick;
		for (uint32_t i = 0; i < s->tracks[t].nevents; i++) {
			const struct smf_event *e = &s->tracks[t].events[i];
			if (e->kind == SMF_EV_CHANNEL)
				nitems++;
			else if (e->kind == SMF_EV_META && e->meta == SMF_META_TEMPO && o->keep_tempo)
				ntempo++;
			else if (e->kind == SMF_EV_META)
				st.meta_dropped++;
			else
				st.sysex_dropped++;
		}
	}
	if (o->length_bars > 0) {
		length = o->length_bars * bar;
	} else {
		uint32_t dummy = 0;
		int64_t end = pat_pos(end_tick, s->division, &dummy);
		if (end == PAT_BEYOND)
			return pat_fail(err, -EFBIG, "file is %lld quarter notes long (expected at "
					"most %d; or set a length in bars)",
					(long long)(end_tick / s->division), PATTERN_BEATS_MAX);
		length = (end + bar - 1) / bar * bar;
		if (length == 0)
			length = bar;
	}

	items = alloc_array(a, nitems, sizeof(*items));
	if (!items)
		goto out_nomem;
	tempi = alloc_array(a, ntempo, sizeof(*tempi));
	if (!tempi)
		goto out_nomem;
	nitems = 0;
	ntempo = 0;
	for (unsigned t = 0; t < s->ntracks; t++) {
		for (uint32_t i = 0; i < s->tracks[t].nevents; i++) {
			const struct smf_event *e = &s->tracks[t].events[i];

			if (e->kind == SMF_EV_CHANNEL) {
				struct pat_item *it = &items[nitems++];
				it->pos = pat_pos(e->tick, s->division, &st.rounded);
				it->track = t;
				it->idx = i;
				it->msg = e->msg;
				if (o->channel >= 0)
					it->msg.channel = (uint8_t)o->channel;
				if (it->msg.type == MIDI_NOTE_ON && it->msg.data[1] == 0) {
					it->msg.type = MIDI_NOTE_OFF;
					it->msg.data[1] = PATTERN_OFF_VELOCITY;
				}
			} else if (e->kind == SMF_EV_META && e->meta == SMF_META_TEMPO &&
				   o->keep_tempo) {
				struct pat_tempo_item *ti = &tempi[ntempo];
				int64_t us = (int64_t)e->data[0] << 16 | e->data[1] << 8 | e->data[2];
				uint32_t dummy = 0;

				ti->pos = pat_pos(e->tick, s->division, &dummy);
				if (ti->pos >= length) {
					st.beyond_end++;
					continue;
				}
				ti->track = t;
				ti->idx = i;
				ti->bpm_micro = (INT64_C(60000000000000) + us / 2) / us;
				ntempo++;
			}
		}
	}
	qsort(items, nitems, sizeof(*items), pat_item_cmp);
	qsort(tempi, ntempo, sizeof(*tempi), pat_tempo_cmp);

	/* pair notes, drop what is past the end, compact in place */
	memset(open, 0, sizeof(open));
	for (uint32_t i = 0; i < nitems; i++) {
		struct pat_item it = items[i];
		uint16_t *n = &open[it.msg.channel][it.msg.data[0] & 0x7F];

		if (it.pos > length || (it.pos == length && it.msg.type == MIDI_NOTE_ON)) {
			st.beyond_end++;
			continue;
		}
		if (it.msg.type == MIDI_NOTE_ON) {
			if (*n == UINT16_MAX) { /* XXX 65535 open note-ons of one key: cannot be a real file */
				st.beyond_end++;
				continue;
			}
			(*n)++;
		} else if (pat_is_note_off(&it.msg)) {
			if (*n == 0) {
				st.stray_offs++;
				continue;
			}
			(*n)--;
		}
		items[nkept++] = it;
	}
	for (int c = 0; c < 16; c++)
		for (int k = 0; k < 128; k++)
			nclose += open[c][k];
	st.closed_at_end = nclose;

	bytes = sizeof(*p) + (size_t)(nkept + nclose) * sizeof(*ev) + (size_t)ntempo * sizeof(*tp);
	p = alloc_mem(a, bytes);
	if (!p)
		goto out_nomem;
	memset(p, 0, sizeof(*p));
	ev = (struct pattern_event *)(void *)(p + 1);
	tp = (struct pattern_tempo *)(void *)(ev + nkept + nclose);
	for (uint32_t i = 0; i < nkept; i++)
		ev[i] = (struct pattern_event){ .pos = items[i].pos, .msg = items[i].msg };
	for (int c = 0; c < 16; c++)
		for (int k = 0; k < 128; k++)
			for (uint16_t j = 0; j < open[c][k]; j++)
				ev[nkept++] = (struct pattern_event){
					.pos = length,
					.msg = { .type = MIDI_NOTE_OFF, .channel = (uint8_t)c,
						 .data = { (uint8_t)k, PATTERN_OFF_VELOCITY } },
				};
	for (uint32_t i = 0; i < ntempo; i++)
		tp[i] = (struct pattern_tempo){ .pos = tempi[i].pos, .bpm_micro = tempi[i].bpm_micro };

	snprintf(p->name, sizeof(p->name), "%s", name);
	p->length = length;
	p->bar = bar;
	p->bars = (int32_t)(length / bar);
	p->ts_num = ts_num;
	p->ts_den = (uint8_t)(1u << ts_log2);
	p->division = s->division;
	p->nevents = nkept;
	p->events = ev;
	p->ntempo = ntempo;
	p->tempo = ntempo ? tp : NULL;
	p->stats = st;
	p->alloc = a;
	alloc_free(a, tempi);
	alloc_free(a, items);
	*out = p;
	return 0;

out_nomem:
	r = pat_fail(err, -ENOMEM, "out of memory for %u events", nitems);
	alloc_free(a, tempi);
	alloc_free(a, items);
	return r;
}

void pattern_del(struct pattern *p)
{
	if (p)
		alloc_free(p->alloc, p);
}

int pattern_load_file(const char *path, const char *name, const struct pattern_opts *o,
		      const struct alloc *a, struct pattern **out, struct smf_error *err)
{
	struct smf s;
	int r;

	if (out)
		*out = NULL;
	r = smf_load_file(&s, path, a, err);
	if (r < 0)
		return r;
	r = pattern_new(&s, name, o, a, out, err);
	smf_free(&s);
	return r;
}

uint32_t pattern_seek(const struct pattern *p, int64_t pos) RT_SAFE
{
	uint32_t lo = 0, hi = p->nevents;

	while (lo < hi) {
		uint32_t mid = lo + (hi - lo) / 2;
		if (p->events[mid].pos < pos)
			lo = mid + 1;
		else
			hi = mid;
	}
	return lo;
}

const struct pattern_event *pattern_event_at(const struct pattern *p, uint32_t i) RT_SAFE
{
	return i < p->nevents ? &p->events[i] : NULL;
}

void pattern_cursor_init(struct pattern_cursor *c, const struct pattern *p, int64_t origin,
			 int64_t from) RT_SAFE
{
	if (from < origin)
		from = origin;
	c->pat = p;
	c->origin = origin;
	c->loop_start = origin + (from - origin) / p->length * p->length;
	c->next = pattern_seek(p, from - c->loop_start);
	if (c->next >= p->nevents) {
		c->loop_start += p->length;
		c->next = 0;
	}
}

bool pattern_cursor_peek(const struct pattern_cursor *c, int64_t *pos,
			 const struct pattern_event **ev) RT_SAFE
{
	const struct pattern_event *e = pattern_event_at(c->pat, c->next);

	if (!e)
		return false;
	if (pos)
		*pos = c->loop_start + e->pos;
	if (ev)
		*ev = e;
	return true;
}

void pattern_cursor_next(struct pattern_cursor *c) RT_SAFE
{
	if (c->pat->nevents == 0)
		return;
	if (++c->next >= c->pat->nevents) {
		c->next = 0;
		c->loop_start += c->pat->length;
	}
}

/* ---- directory ----------------------------------------------------- */

struct pat_file {
	char *file;     /* directory entry name (allocated) */
	size_t baselen; /* length without ".mid" */
};

static int pat_file_cmp(const void *a, const void *b)
{
	const struct pat_file *x = a, *y = b;
	size_t n = x->baselen < y->baselen ? x->baselen : y->baselen;
	int c = memcmp(x->file, y->file, n);

	if (c)
		return c;
	if (x->baselen != y->baselen)
		return x->baselen < y->baselen ? -1 : 1;
	return strcmp(x->file, y->file);
}

static void pat_report(pattern_dir_err_cb cb, void *ctx, const char *file, int code,
		       const char *fmt, ...) __attribute__((format(printf, 5, 6)));

static void pat_report(pattern_dir_err_cb cb, void *ctx, const char *file, int code,
		       const char *fmt, ...)
{
	struct smf_error e = { .code = code, .offset = SMF_NO_OFFSET, .track = -1 };
	va_list ap;

	if (!cb)
		return;
	va_start(ap, fmt);
	vsnprintf(e.msg, sizeof(e.msg), fmt, ap);
	va_end(ap);
	cb(ctx, file, &e);
}

static bool pat_is_mid(const char *name, size_t *baselen)
{
	size_t n = strlen(name);

	if (name[0] == '.' || n < 5 || strcasecmp(name + n - 4, ".mid") != 0)
		return false;
	*baselen = n - 4;
	return true;
}

void pattern_set_free(struct pattern_set *set)
{
	if (!set)
		return;
	for (uint32_t i = 0; i < set->count; i++)
		pattern_del(set->items[i]);
	alloc_free(set->alloc, set->items);
	*set = (struct pattern_set){ 0 };
}

static void pat_files_free(const struct alloc *a, struct pat_file *f, size_t n)
{
	for (size_t i = 0; i < n; i++)
		alloc_free(a, f[i].file);
	alloc_free(a, f);
}

static void pat_fixed_opts(void *octx, const char *name, struct pattern_opts *o)
{
	(void)name;
	if (octx)
		*o = *(const struct pattern_opts *)octx;
	else
		pattern_opts_defaults(o);
}

int pattern_dir_load(const char *dir, const struct pattern_opts *o, const struct alloc *a,
		     struct pattern_set *set, pattern_dir_err_cb cb, void *ctx)
{
	return pattern_dir_load_each(dir, pat_fixed_opts, (void *)(uintptr_t)o, a, set, cb, ctx);
}

int pattern_dir_load_each(const char *dir, pattern_dir_opts_cb ocb, void *octx,
			  const struct alloc *a, struct pattern_set *set, pattern_dir_err_cb cb,
			  void *ctx)
{
	struct pat_file *files = NULL;
	size_t nfiles = 0, cap = 0;
	int reported = 0, r;
	struct dirent *de;
	DIR *d;

	rt_assert_not_rt();
	if (!set)
		return -EINVAL;
	*set = (struct pattern_set){ .alloc = a };
	if (!dir)
		return -EINVAL;
	d = opendir(dir);
	if (!d)
		return -errno;
	while ((errno = 0, de = readdir(d))) {
		size_t baselen, n;

		if (!pat_is_mid(de->d_name, &baselen))
			continue;
		if (nfiles == cap) {
			size_t ncap = cap ? cap * 2 : 16;
			struct pat_file *nf = alloc_array(a, ncap, sizeof(*nf));
			if (!nf)
				goto out_nomem;
			if (nfiles)
				memcpy(nf, files, nfiles * sizeof(*nf));
			alloc_free(a, files);
			files = nf;
			cap = ncap;
		}
		n = strlen(de->d_name) + 1;
		files[nfiles].file = alloc_mem(a, n);
		if (!files[nfiles].file)
			goto out_nomem;
		memcpy(files[nfiles].file, de->d_name, n);
		files[nfiles].baselen = baselen;
		nfiles++;
	}
	if (errno) {
		r = -errno;
		goto out_err;
	}
	closedir(d);
	d = NULL;
	if (nfiles)
		qsort(files, nfiles, sizeof(*files), pat_file_cmp);

	set->items = alloc_array(a, nfiles < PATTERN_DIR_MAX ? nfiles : PATTERN_DIR_MAX,
				 sizeof(*set->items));
	if (!set->items)
		goto out_nomem;
	for (size_t i = 0; i < nfiles; i++) {
		const struct pat_file *f = &files[i];
		char path[PATH_MAX], name[PATTERN_NAME_MAX];
		struct smf_error err;
		struct pattern_opts po;
		struct pattern *p;

		if (f->baselen >= PATTERN_NAME_MAX) {
			pat_report(cb, ctx, f->file, -ENAMETOOLONG, "name of %zu bytes before "
				   ".mid is too long (expected at most %d)", f->baselen,
				   PATTERN_NAME_MAX - 1);
			reported++;
			continue;
		}
		memcpy(name, f->file, f->baselen);
		name[f->baselen] = '\0';
		if (set->count && strcmp(set->items[set->count - 1]->name, name) == 0) {
			pat_report(cb, ctx, f->file, -EEXIST, "pattern \"%s\" already loaded "
				   "from another file (expected one file per name)", name);
			reported++;
			continue;
		}
		if (set->count == PATTERN_DIR_MAX) {
			pat_report(cb, ctx, f->file, -E2BIG, "more than %d patterns in the "
				   "directory (expected at most %d)", PATTERN_DIR_MAX,
				   PATTERN_DIR_MAX);
			reported++;
			continue;
		}
		if ((size_t)snprintf(path, sizeof(path), "%s/%s", dir, f->file) >= sizeof(path)) {
			pat_report(cb, ctx, f->file, -ENAMETOOLONG, "path too long");
			reported++;
			continue;
		}
		ocb(octx, name, &po);
		r = pattern_load_file(path, name, &po, a, &p, &err);
		if (r == -ENOMEM)
			goto out_nomem;
		if (r < 0) {
			if (cb)
				cb(ctx, f->file, &err);
			reported++;
			continue;
		}
		set->items[set->count++] = p;
	}
	pat_files_free(a, files, nfiles);
	return reported;

out_nomem:
	r = -ENOMEM;
out_err:
	if (d)
		closedir(d);
	pat_files_free(a, files, nfiles);
	pattern_set_free(set);
	return r;
}

bool pattern_equal(const struct pattern *a, const struct pattern *b)
{
	if (a == b)
		return true;
	if (!a || !b || a->length != b->length || a->bar != b->bar || a->ts_num != b->ts_num ||
	    a->ts_den != b->ts_den || a->nevents != b->nevents || a->ntempo != b->ntempo)
		return false;
	for (uint32_t i = 0; i < a->nevents; i++) {
		const struct pattern_event *x = &a->events[i], *y = &b->events[i];
		if (x->pos != y->pos || x->msg.type != y->msg.type || x->msg.channel != y->msg.channel ||
		    x->msg.data[0] != y->msg.data[0] || x->msg.data[1] != y->msg.data[1] ||
		    x->msg.flags != y->msg.flags)
			return false;
	}
	for (uint32_t i = 0; i < a->ntempo; i++)
		if (a->tempo[i].pos != b->tempo[i].pos || a->tempo[i].bpm_micro != b->tempo[i].bpm_micro)
			return false;
	return true;
}

const struct pattern *pattern_set_find(const struct pattern_set *set, const char *name)
{
	uint32_t lo = 0, hi = set->count;

	while (lo < hi) {
		uint32_t mid = lo + (hi - lo) / 2;
		int c = strcmp(set->items[mid]->name, name);

		if (c == 0)
			return set->items[mid];
		if (c < 0)
			lo = mid + 1;
		else
			hi = mid;
	}
	return NULL;
}
