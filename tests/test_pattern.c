/*
 * Patterns from SMFs: a table of hand-built files and options with the
 * exact events, length and counters expected; option and file errors;
 * generated files against an independently written reference conversion;
 * every pattern played three loops through the note tracker ends silent;
 * seek and cursor (loop wrap, from before the origin, at a boundary, the
 * end-of-loop note-offs first); every event's nanosecond on the timeline
 * from the file's ticks, at two tempos and across a tempo change; the
 * directory loader (order, names, per-file errors, limits); allocation
 * failure at every allocation.  Accessors are RT_SAFE: the whole file also
 * runs in the RTSan build.
 *
 * Rendering: "L=<length> bar=<bar> ts=n/d | pos:token ..." with positions
 * in timeline units (1,612,800 per quarter note: at 96 PPQN a tick is 16,800).
 */
#include <errno.h>
#include <fcntl.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cmocka.h>

#include "clock/timeline.h"
#include "engine/notetrack.h"
#include "engine/pattern.h"
#include "smf_gen.h"
#include "test_alloc.h"

#define U TL_UNITS_PER_BEAT
#define HDR0 "'MThd' 00000006 0000 0001 0060 "   /* format 0, 96 PPQN */
#define HDR1(n) "'MThd' 00000006 0001 000" #n " 0060 "
#define TRK(body) "'MTrk' L{ " body " }"

static uint8_t buf[65536];
static struct notetrack nt;

struct sbuf {
	char s[16384]; /* text */
	size_t n;      /* used */
};

static void sb(struct sbuf *b, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

static void sb(struct sbuf *b, const char *fmt, ...)
{
	va_list ap;
	int k;

	va_start(ap, fmt);
	k = vsnprintf(b->s + b->n, sizeof(b->s) - b->n, fmt, ap);
	va_end(ap);
	assert_true(k >= 0 && (size_t)k < sizeof(b->s) - b->n);
	b->n += (size_t)k;
}

static void render_msg(struct sbuf *b, const struct midi_msg *m)
{
	if ((m->type & 0xE0) == 0xC0)
		sb(b, "%02x%02x", m->type | m->channel, m->data[0]);
	else
		sb(b, "%02x%02x%02x", m->type | m->channel, m->data[0], m->data[1]);
}

static void render(const struct pattern *p, struct sbuf *b)
{
	b->n = 0;
	sb(b, "L=%lld bar=%lld ts=%u/%u |", (long long)p->length, (long long)p->bar, p->ts_num,
	   p->ts_den);
	for (uint32_t i = 0; i < p->nevents; i++) {
		sb(b, " %lld:", (long long)p->events[i].pos);
		render_msg(b, &p->events[i].msg);
	}
	for (uint32_t i = 0; i < p->ntempo; i++)
		sb(b, " T%lld:%lld", (long long)p->tempo[i].pos, (long long)p->tempo[i].bpm_micro);
}

/* Builds a pattern from notation; asserts success. */
static struct pattern *make(const char *spec, const struct pattern_opts *o,
			    const struct alloc *a)
{
	struct smf s;
	struct smf_error err;
	struct pattern *p = NULL;
	size_t len = smf_hex(spec, buf, sizeof(buf));
	int r = smf_parse(&s, buf, len, a, &err);

	if (r)
		print_message("# smf: %s\n", err.msg);
	assert_int_equal(r, 0);
	r = pattern_new(&s, "p", o, a, &p, &err);
	if (r)
		print_message("# pattern: %s\n", err.msg);
	assert_int_equal(r, 0);
	smf_free(&s);
	return p;
}

/* ---- table --------------------------------------------------------- */

struct row {
	const char *name;
	const char *in;              /* notation */
	struct pattern_opts o;       /* options */
	const char *out;             /* rendering */
	struct pattern_stats st;     /* counters */
};

#define DEF { .channel = -1 }

static const struct row rows[] = {
	{ "one note; the file's end rounds up to one bar of 4/4",
	  HDR0 TRK("00 903c64 60 803c40 00 ff2f00"), DEF,
	  "L=6451200 bar=6451200 ts=4/4 | 0:903c64 1612800:803c40", { 0 } },
	{ "velocity-0 note-on becomes note-off velocity 64",
	  HDR0 TRK("00 903c64 60 3c00 00 ff2f00"), DEF,
	  "L=6451200 bar=6451200 ts=4/4 | 0:903c64 1612800:803c40", { 0 } },
	{ "tracks merge by position, then track; meter from track 0",
	  HDR1(3) TRK("00 ff5804 03021808 60 b00740 00 ff2f00")
	  TRK("00 903c64 60 803c40 00 ff2f00") TRK("60 913e64 00 ff2f00"), DEF,
	  "L=4838400 bar=4838400 ts=3/4 | 0:903c64 1612800:b00740 1612800:803c40 "
	  "1612800:913e64 4838400:813e40",
	  { .closed_at_end = 1, .meta_dropped = 1 } },
	{ "channel remap happens before note pairing",
	  HDR0 TRK("00 903c64 00 913c64 60 803c40 00 813c40 00 c107 00 ff2f00"), { .channel = 5 },
	  "L=6451200 bar=6451200 ts=4/4 | 0:953c64 0:953c64 1612800:853c40 1612800:853c40 "
	  "1612800:c507", { 0 } },
	{ "without remap the channels stay",
	  HDR0 TRK("00 903c64 00 913c64 60 803c40 00 813c40 00 ff2f00"), DEF,
	  "L=6451200 bar=6451200 ts=4/4 | 0:903c64 0:913c64 1612800:803c40 1612800:813c40",
	  { 0 } },
	{ "a note-off with no note-on is dropped",
	  HDR0 TRK("00 803c40 00 903e64 60 803e40 00 3e00 00 ff2f00"), DEF,
	  "L=6451200 bar=6451200 ts=4/4 | 0:903e64 1612800:803e40", { .stray_offs = 2 } },
	{ "open note-ons are closed at the end, in channel then note order",
	  HDR0 TRK("00 923064 00 903c64 00 903c64 00 902464 V(400) ff2f00"), DEF,
	  "L=12902400 bar=6451200 ts=4/4 | 0:923064 0:903c64 0:903c64 0:902464 "
	  "12902400:802440 12902400:803c40 12902400:803c40 12902400:823040",
	  { .closed_at_end = 4 } },
	{ "a double strike of one key pairs with two note-offs",
	  HDR0 TRK("00 903c64 10 903c50 10 803c40 10 803c41 00 ff2f00"), DEF,
	  "L=6451200 bar=6451200 ts=4/4 | 0:903c64 268800:903c50 537600:803c40 806400:803c41",
	  { 0 } },
	{ "explicit length: after the end dropped, at the end no note-on, crossing notes closed",
	  HDR0 TRK("00 903c64 64 903e64 V(284) 803e40 00 b04000 00 904064 10 b00101 V(50) 804040 "
		   "V(50) 803c40 00 ff2f00"), { .channel = -1, .length_bars = 1 },
	  "L=6451200 bar=6451200 ts=4/4 | 0:903c64 1680000:903e64 6451200:803e40 6451200:b04000 "
	  "6451200:803c40", { .closed_at_end = 1, .beyond_end = 4 } },
	{ "explicit length longer than the file",
	  HDR0 TRK("00 903c64 60 803c40 00 ff2f00"), { .channel = -1, .length_bars = 3 },
	  "L=19353600 bar=6451200 ts=4/4 | 0:903c64 1612800:803c40", { 0 } },
	{ "at the file's end: a note-off is kept, a note-on dropped",
	  HDR0 TRK("00 903c64 V(384) 803c40 00 903e64 00 ff2f00"), DEF,
	  "L=6451200 bar=6451200 ts=4/4 | 0:903c64 6451200:803c40", { .beyond_end = 1 } },
	{ "3/4: four beats make two bars",
	  HDR0 TRK("00 ff5804 03021808 V(384) ff2f00"), DEF,
	  "L=9676800 bar=4838400 ts=3/4 |", { .meta_dropped = 1 } },
	{ "6/8 bar is three quarter notes",
	  HDR0 TRK("00 ff5804 06031808 00 ff2f00"), DEF,
	  "L=4838400 bar=4838400 ts=6/8 |", { .meta_dropped = 1 } },
	{ "7/8 bar",
	  HDR0 TRK("00 ff5804 07031808 00 ff2f00"), DEF,
	  "L=5644800 bar=5644800 ts=7/8 |", { .meta_dropped = 1 } },
	{ "5/4, end exactly on the bar line: one bar",
	  HDR0 TRK("00 ff5804 05021808 V(480) ff2f00"), DEF,
	  "L=8064000 bar=8064000 ts=5/4 |", { .meta_dropped = 1 } },
	{ "4/2 and 1/64 bars",
	  HDR0 TRK("00 ff5804 04011808 00 ff2f00"), DEF,
	  "L=12902400 bar=12902400 ts=4/2 |", { .meta_dropped = 1 } },
	{ "1/64",
	  HDR0 TRK("00 ff5804 01061808 V(3) ff2f00"), DEF,
	  "L=100800 bar=100800 ts=1/64 |", { .meta_dropped = 1 } },
	{ "a meter that starts after tick 0 does not set the bar (4/4 default)",
	  HDR0 TRK("0a ff5804 03021808 00 ff2f00"), DEF,
	  "L=6451200 bar=6451200 ts=4/4 |", { .meta_dropped = 1 } },
	{ "the first meter at tick 0 in track order, even in track 1",
	  HDR1(2) TRK("00 ff0300 00 ff2f00") TRK("00 ff5804 02021808 00 ff5804 05021808 00 ff2f00"),
	  DEF, "L=3225600 bar=3225600 ts=2/4 |", { .meta_dropped = 3 } },
	{ "empty file: one bar, no events",
	  HDR0 TRK("00 ff2f00"), DEF, "L=6451200 bar=6451200 ts=4/4 |", { 0 } },
	{ "division 11: inexact ticks round to the nearest unit",
	  "'MThd' 00000006 0000 0001 000b " TRK("01 903c64 01 3c00 01 903c64 00 ff2f00"), DEF,
	  "L=6451200 bar=6451200 ts=4/4 | 146618:903c64 293236:803c40 439855:903c64 "
	  "6451200:803c40", { .rounded = 3, .closed_at_end = 1 } },
	{ "division 2048: a tie rounds up",
	  "'MThd' 00000006 0000 0001 0800 " TRK("01 903c64 01 803c40 00 ff2f00"), DEF,
	  "L=6451200 bar=6451200 ts=4/4 | 788:903c64 1575:803c40", { .rounded = 1 } },
	{ "division 960 and 1 are exact",
	  "'MThd' 00000006 0000 0001 03c0 " TRK("01 903c64 V(959) 803c40 00 ff2f00"), DEF,
	  "L=6451200 bar=6451200 ts=4/4 | 1680:903c64 1612800:803c40", { 0 } },
	{ "SysEx and escapes dropped, other metas dropped",
	  HDR0 TRK("00 f0027e7f 00 f701f8 00 ff0101'x' 00 903c64 00 803c40 00 ff2f00"), DEF,
	  "L=6451200 bar=6451200 ts=4/4 | 0:903c64 0:803c40",
	  { .sysex_dropped = 2, .meta_dropped = 1 } },
	{ "tempo changes kept aside when asked (not at or after the end)",
	  HDR1(2) TRK("00 ff5103 07a120 60 ff5103 051615 V(288) ff5103 0f4240 00 ff2f00")
	  TRK("00 903c64 60 803c40 00 ff2f00"), { .channel = -1, .keep_tempo = true },
	  "L=6451200 bar=6451200 ts=4/4 | 0:903c64 1612800:803c40 T0:120000000 "
	  "T1612800:180000180", { .beyond_end = 1 } },
	{ "tempo changes dropped by default",
	  HDR0 TRK("00 ff5103 07a120 00 ff2f00"), DEF,
	  "L=6451200 bar=6451200 ts=4/4 |", { .meta_dropped = 1 } },
	{ "every channel message type is kept",
	  HDR0 TRK("00 a03c10 00 b00102 00 c003 00 d004 00 e00040 00 ff2f00"), DEF,
	  "L=6451200 bar=6451200 ts=4/4 | 0:a03c10 0:b00102 0:c003 0:d004 0:e00040", { 0 } },
	{ "65536 quarter notes is the longest file",
	  "'MThd' 00000006 0000 0001 0001 " TRK("V(65536) ff2f00"), DEF,
	  "L=105696460800 bar=6451200 ts=4/4 |", { 0 } },
	{ "a longer file is fine with an explicit length",
	  "'MThd' 00000006 0000 0001 0001 " TRK("00 903c64 V(65537) 803c40 00 ff2f00"),
	  { .channel = -1, .length_bars = 2 },
	  "L=12902400 bar=6451200 ts=4/4 | 0:903c64 12902400:803c40",
	  { .closed_at_end = 1, .beyond_end = 1 } },
};

static void test_rows(void **state)
{
	(void)state;
	for (size_t i = 0; i < sizeof(rows) / sizeof(rows[0]); i++) {
		const struct row *r = &rows[i];
		struct count_alloc ca = { 0 };
		struct alloc a = COUNT_ALLOC(&ca);
		struct pattern *p;
		struct sbuf out;

		print_message("# row: %s\n", r->name);
		p = make(r->in, &r->o, &a);
		render(p, &out);
		if (strcmp(out.s, r->out))
			print_message("#   got:  %s\n#   want: %s\n", out.s, r->out);
		assert_string_equal(out.s, r->out);
		assert_int_equal(p->stats.rounded, r->st.rounded);
		assert_int_equal(p->stats.stray_offs, r->st.stray_offs);
		assert_int_equal(p->stats.closed_at_end, r->st.closed_at_end);
		assert_int_equal(p->stats.sysex_dropped, r->st.sysex_dropped);
		assert_int_equal(p->stats.meta_dropped, r->st.meta_dropped);
		assert_int_equal(p->stats.beyond_end, r->st.beyond_end);
		assert_int_equal(p->bars * p->bar, p->length);
		assert_string_equal(p->name, "p");
		assert_int_equal(p->division > 0, 1);
		pattern_del(p);
		assert_int_equal(ca.live, 0);
	}
}

/* ---- errors -------------------------------------------------------- */

static void expect_err(const char *spec, const char *name, const struct pattern_opts *o,
		       int code, const char *msg)
{
	struct count_alloc ca = { 0 };
	struct alloc a = COUNT_ALLOC(&ca);
	struct smf s;
	struct smf_error err;
	struct pattern *p = (struct pattern *)1;
	size_t len = smf_hex(spec, buf, sizeof(buf));

	assert_int_equal(smf_parse(&s, buf, len, &a, NULL), 0);
	ca.calls = 0;
	assert_int_equal(pattern_new(&s, name, o, &a, &p, &err), code);
	assert_null(p);
	assert_int_equal(err.code, code);
	assert_string_equal(err.msg, msg);
	assert_int_equal(ca.calls, 0); /* rejected before allocating */
	smf_free(&s);
}

static void test_errors(void **state)
{
	char name[PATTERN_NAME_MAX + 1];
	struct pattern *p;

	(void)state;
	expect_err("'MThd' 00000006 0002 0001 0060 " TRK("00 ff2f00"), "x", NULL, -ENOTSUP,
		   "format 2 file (independent sequences) cannot be played as one pattern "
		   "(expected format 0 or 1)");
	expect_err(HDR0 TRK("00 ff2f00"), "x", &(struct pattern_opts){ .channel = 16 }, -EINVAL,
		   "channel 16 (expected -1 for the file's, or 0..15)");
	expect_err(HDR0 TRK("00 ff2f00"), "x", &(struct pattern_opts){ .channel = -2 }, -EINVAL,
		   "channel -2 (expected -1 for the file's, or 0..15)");
	expect_err(HDR0 TRK("00 ff2f00"), "x",
		   &(struct pattern_opts){ .channel = -1, .length_bars = -1 }, -EINVAL,
		   "length of -1 bars (expected 0 for the file's, or 1..4096)");
	expect_err(HDR0 TRK("00 ff2f00"), "x",
		   &(struct pattern_opts){ .channel = -1, .length_bars = 4097 }, -EINVAL,
		   "length of 4097 bars (expected 0 for the file's, or 1..4096)");
	expect_err("'MThd' 00000006 0000 0001 0001 " TRK("V(65537) ff2f00"), "x", NULL, -EFBIG,
		   "file is 65537 quarter notes long (expected at most 65536; or set a length "
		   "in bars)");
	memset(name, 'n', sizeof(name));
	name[PATTERN_NAME_MAX] = '\0';
	expect_err(HDR0 TRK("00 ff2f00"), name, NULL, -ENAMETOOLONG,
		   "pattern name of 64 bytes is too long (expected at most 63)");
	name[PATTERN_NAME_MAX - 1] = '\0';
	p = make(HDR0 TRK("00 ff2f00"), NULL, NULL);
	pattern_del(p);
	{
		struct smf s;
		size_t len = smf_hex(HDR0 TRK("00 ff2f00"), buf, sizeof(buf));
		assert_int_equal(smf_parse(&s, buf, len, NULL, NULL), 0);
		assert_int_equal(pattern_new(&s, name, NULL, NULL, &p, NULL), 0);
		assert_string_equal(p->name, name);
		pattern_del(p);
		assert_int_equal(pattern_new(&s, NULL, NULL, NULL, &p, NULL), 0);
		assert_string_equal(p->name, "");
		pattern_del(p);
		assert_int_equal(pattern_new(&s, "x", NULL, NULL, NULL, NULL), -EINVAL);
		smf_free(&s);
		assert_int_equal(pattern_new(&s, "x", NULL, NULL, &p, NULL), -EINVAL); /* freed smf */
	}
	pattern_del(NULL);
}

static void test_alloc_failures(void **state)
{
	const char *spec = HDR1(2) TRK("00 ff5103 07a120 00 ff2f00") TRK("00 903c64 60 803c40 00 ff2f00");
	struct pattern_opts o = { .channel = -1, .keep_tempo = true };
	struct smf s;
	size_t len = smf_hex(spec, buf, sizeof(buf));

	(void)state;
	assert_int_equal(smf_parse(&s, buf, len, NULL, NULL), 0);
	for (int fail = 1;; fail++) {
		struct count_alloc ca = { .fail_at = fail };
		struct alloc a = COUNT_ALLOC(&ca);
		struct smf_error err;
		struct pattern *p;
		int r = pattern_new(&s, "x", &o, &a, &p, &err);

		if (r == 0) {
			assert_int_equal(fail, 4); /* items, tempo items, the pattern */
			pattern_del(p);
			assert_int_equal(ca.live, 0);
			break;
		}
		assert_int_equal(r, -ENOMEM);
		assert_null(p);
		assert_string_equal(err.msg, "out of memory for 2 events");
		assert_int_equal(ca.live, 0);
	}
	smf_free(&s);
}

/* ---- generated files vs a reference conversion --------------------- */

struct ref_ev {
	int64_t pos;
	uint8_t status, d0, d1;
};

/* The rules of pattern.h written again, plainly: positions with 128-bit
 * arithmetic, a stable insertion sort, then pairing. */
static uint32_t reference(const struct smf_gen_model *m, const struct pattern_opts *o,
			  struct ref_ev *out, int64_t *length_out, struct pattern_stats *st)
{
	static struct ref_ev all[SMF_GEN_TRACKS_MAX * SMF_GEN_EVENTS_MAX];
	uint32_t n = 0, k = 0;
	int num = 4, den = 4, open[16][128];
	int64_t end = 0, bar, length;

	memset(st, 0, sizeof(*st));
	bool found = false;

	for (int t = 0; t < m->ntracks && !found; t++)
		for (uint32_t i = 0; i < m->tr[t].n && m->tr[t].ev[i].tick == 0 && !found; i++)
			if (m->tr[t].ev[i].kind == SMF_EV_META &&
			    m->tr[t].ev[i].meta == SMF_META_TIME_SIG) {
				num = m->tr[t].ev[i].data[0];
				den = 1 << m->tr[t].ev[i].data[1];
				found = true;
			}
	bar = (int64_t)num * 4 * U / den;
	for (int t = 0; t < m->ntracks; t++) {
		if (m->tr[t].end_tick > end)
			end = m->tr[t].end_tick;
		for (uint32_t i = 0; i < m->tr[t].n; i++) {
			const struct smf_gen_event *e = &m->tr[t].ev[i];
			struct ref_ev r;
			__int128 num128 = (__int128)e->tick * U;
			uint32_t j;

			if (e->kind == SMF_EV_META) {
				st->meta_dropped++;
				continue;
			}
			if (e->kind != SMF_EV_CHANNEL) {
				st->sysex_dropped++;
				continue;
			}
			r.pos = (int64_t)((2 * num128 + m->division) / (2 * m->division));
			if (num128 % m->division)
				st->rounded++;
			r.status = (uint8_t)(o->channel >= 0 ? (e->status & 0xF0) | o->channel : e->status);
			r.d0 = e->d[0];
			r.d1 = e->d[1];
			if ((r.status & 0xF0) == 0x90 && r.d1 == 0) {
				r.status = (uint8_t)(0x80 | (r.status & 0x0F));
				r.d1 = 64;
			}
			for (j = n; j > 0 && all[j - 1].pos > r.pos; j--)
				all[j] = all[j - 1];
			all[j] = r;
			n++;
		}
	}
	length = o->length_bars ? o->length_bars * bar
				: ((int64_t)(((__int128)end * U + m->division / 2) / m->division) + bar - 1) /
					  bar * bar;
	if (length == 0)
		length = bar;
	memset(open, 0, sizeof(open));
	for (uint32_t i = 0; i < n; i++) {
		struct ref_ev r = all[i];
		int type = r.status & 0xF0, ch = r.status & 0x0F;

		if (r.pos > length || (r.pos == length && type == 0x90)) {
			st->beyond_end++;
			continue;
		}
		if (type == 0x90) {
			open[ch][r.d0]++;
		} else if (type == 0x80) {
			if (!open[ch][r.d0]) {
				st->stray_offs++;
				continue;
			}
			open[ch][r.d0]--;
		}
		out[k++] = r;
	}
	for (int c = 0; c < 16; c++)
		for (int key = 0; key < 128; key++)
			for (; open[c][key]; open[c][key]--, st->closed_at_end++)
				out[k++] = (struct ref_ev){ length, (uint8_t)(0x80 | c), (uint8_t)key, 64 };
	*length_out = length;
	return k;
}

/* Plays `loops` loops through the tracker: nothing may stay sounding at
 * any loop end, and the cursor must give every event in order. */
static void play_loops(const struct pattern *p, int64_t origin, int loops)
{
	struct pattern_cursor c;
	int64_t prev = INT64_MIN, pos;
	const struct pattern_event *e;
	uint32_t seen = 0;

	notetrack_init(&nt);
	pattern_cursor_init(&c, p, origin, origin);
	while (seen < (uint32_t)loops * p->nevents) {
		assert_true(pattern_cursor_peek(&c, &pos, &e));
		assert_true(pos >= prev);
		assert_ptr_equal(e, &p->events[seen % p->nevents]);
		assert_int_equal(pos, origin + (int64_t)(seen / p->nevents) * p->length + e->pos);
		prev = pos;
		assert_true(notetrack_msg(&nt, 0, 1, &e->msg) >= 0);
		pattern_cursor_next(&c);
		seen++;
		if (seen % p->nevents == 0)
			assert_int_equal(notetrack_count(&nt, &(struct notetrack_filter){
						 NOTETRACK_ANY, NOTETRACK_ANY, NOTETRACK_ANY }), 0);
	}
	assert_int_equal(seen, (uint32_t)loops * p->nevents);
	assert_int_equal(nt.stats.stray_offs, 0);
}

static void check_generated(uint32_t seed, bool notes_only, const struct pattern_opts *o)
{
	static struct smf_gen_model m;
	static struct ref_ev want[2 * SMF_GEN_TRACKS_MAX * SMF_GEN_EVENTS_MAX];
	struct pattern_stats st;
	struct smf s;
	struct smf_error err;
	struct pattern *p;
	int64_t length;
	uint32_t n;
	size_t len = smf_gen_random(seed, notes_only, buf, sizeof(buf), &m);
	int r;

	assert_int_equal(smf_parse(&s, buf, len, NULL, NULL), 0);
	r = pattern_new(&s, "g", o, NULL, &p, &err);
	smf_free(&s);
	if (m.format == 2) {
		assert_int_equal(r, -ENOTSUP);
		return;
	}
	if (r == -EFBIG) { /* huge deltas of the general generator */
		int64_t end = 0;
		for (int t = 0; t < m.ntracks; t++)
			end = m.tr[t].end_tick > end ? m.tr[t].end_tick : end;
		assert_true(end > (int64_t)m.division * PATTERN_BEATS_MAX);
		assert_int_equal(o->length_bars, 0);
		return;
	}
	assert_int_equal(r, 0);
	n = reference(&m, o, want, &length, &st);
	assert_int_equal(p->length, length);
	assert_int_equal(p->nevents, n);
	for (uint32_t i = 0; i < n; i++) {
		const struct pattern_event *e = &p->events[i];
		assert_int_equal(e->pos, want[i].pos);
		assert_int_equal(e->msg.type | e->msg.channel, want[i].status);
		assert_int_equal(e->msg.data[0], want[i].d0);
		if ((want[i].status & 0xE0) != 0xC0)
			assert_int_equal(e->msg.data[1], want[i].d1);
		assert_null(e->msg.sysex);
	}
	assert_int_equal(p->stats.rounded, st.rounded);
	assert_int_equal(p->stats.stray_offs, st.stray_offs);
	assert_int_equal(p->stats.closed_at_end, st.closed_at_end);
	assert_int_equal(p->stats.sysex_dropped, st.sysex_dropped);
	assert_int_equal(p->stats.meta_dropped, st.meta_dropped);
	assert_int_equal(p->stats.beyond_end, st.beyond_end);
	if (p->nevents)
		play_loops(p, 3 * p->bar, 3);
	pattern_del(p);
}

static void test_generated(void **state)
{
	(void)state;
	for (uint32_t seed = 0; seed < 1500; seed++) {
		check_generated(seed, true, &(struct pattern_opts){ .channel = -1 });
		check_generated(seed, true, &(struct pattern_opts){ .channel = (int)(seed % 16) });
		check_generated(seed, true,
				&(struct pattern_opts){ .channel = -1, .length_bars = 1 + (int)seed % 3 });
		check_generated(seed, false, &(struct pattern_opts){ .channel = -1 });
	}
}

/* ---- accessors ----------------------------------------------------- */

static void test_seek_and_cursor(void **state)
{
	/* 1 bar of 4/4 at 96 PPQN: events at 0, 0, 1 beat, 2 beats, and the
	 * closing note-off at the end (4 beats) */
	struct pattern *p = make(HDR0 TRK("00 903c64 00 b00101 60 803c40 60 903e64 00 ff2f00"),
				 NULL, NULL);
	struct pattern_cursor c;
	const struct pattern_event *e;
	int64_t pos, L = 4 * U, O = 10 * L; /* origin: bar 10 */

	(void)state;
	assert_int_equal(p->nevents, 5);
	assert_int_equal(pattern_seek(p, -1), 0);
	assert_int_equal(pattern_seek(p, 0), 0);
	assert_int_equal(pattern_seek(p, 1), 2);
	assert_int_equal(pattern_seek(p, U), 2);
	assert_int_equal(pattern_seek(p, U + 1), 3);
	assert_int_equal(pattern_seek(p, 2 * U), 3);
	assert_int_equal(pattern_seek(p, L - 1), 4);
	assert_int_equal(pattern_seek(p, L), 4);
	assert_int_equal(pattern_seek(p, L + 1), 5);
	assert_ptr_equal(pattern_event_at(p, 4), &p->events[4]);
	assert_null(pattern_event_at(p, 5));
	assert_int_equal(p->events[4].msg.type, MIDI_NOTE_OFF);
	assert_int_equal(p->events[4].pos, L);

	/* from before the origin: starts at the origin */
	pattern_cursor_init(&c, p, O, 0);
	assert_true(pattern_cursor_peek(&c, &pos, &e));
	assert_int_equal(pos, O);
	assert_ptr_equal(e, &p->events[0]);

	/* from inside loop 2 (between events) */
	pattern_cursor_init(&c, p, O, O + 2 * L + U + 5);
	assert_true(pattern_cursor_peek(&c, &pos, &e));
	assert_int_equal(pos, O + 2 * L + 2 * U);
	pattern_cursor_next(&c);
	assert_true(pattern_cursor_peek(&c, &pos, &e));
	assert_int_equal(pos, O + 3 * L); /* loop 2's end note-off ... */
	assert_ptr_equal(e, &p->events[4]);
	pattern_cursor_next(&c);
	assert_true(pattern_cursor_peek(&c, &pos, &e));
	assert_int_equal(pos, O + 3 * L); /* ... before loop 3's first event, same instant */
	assert_ptr_equal(e, &p->events[0]);

	/* from exactly a loop boundary: that loop's events, not the previous end */
	pattern_cursor_init(&c, p, O, O + L);
	assert_true(pattern_cursor_peek(&c, &pos, &e));
	assert_int_equal(pos, O + L);
	assert_ptr_equal(e, &p->events[0]);
	assert_int_equal(c.loop_start, O + L);

	/* from just before a boundary: the previous loop's end events */
	pattern_cursor_init(&c, p, O, O + L - 1);
	assert_true(pattern_cursor_peek(&c, &pos, &e));
	assert_int_equal(pos, O + L);
	assert_ptr_equal(e, &p->events[4]);

	/* peek with NULL outputs does not move */
	assert_true(pattern_cursor_peek(&c, NULL, NULL));
	assert_int_equal(c.next, 4);
	play_loops(p, O, 5);
	pattern_del(p);

	/* no events: nothing to peek, next is harmless */
	p = make(HDR0 TRK("00 ff2f00"), NULL, NULL);
	pattern_cursor_init(&c, p, 0, 12345);
	assert_false(pattern_cursor_peek(&c, &pos, &e));
	pattern_cursor_next(&c);
	assert_false(pattern_cursor_peek(&c, &pos, &e));
	assert_int_equal(pattern_seek(p, 0), 0);
	pattern_del(p);

	/* events only after the cursor's point in the last loop: wraps */
	p = make(HDR0 TRK("00 903c64 60 803c40 00 ff2f00"), NULL, NULL);
	pattern_cursor_init(&c, p, 0, U + 1);
	assert_true(pattern_cursor_peek(&c, &pos, &e));
	assert_int_equal(pos, L);
	assert_int_equal(e->msg.type, MIDI_NOTE_ON);
	pattern_del(p);
}

/* ---- nanoseconds on the timeline ----------------------------------- */

#define T0 INT64_C(1000000000)
#define NS_MIN_MICRO ((__int128)60000000000 * 1000000) /* ns per minute * 1e6 */

/* Time of `tick` at `div` computed from ticks: one tempo up to tick_c,
 * another after it, the change's time rounded like any event time. */
static int64_t tick_ns(int64_t tick, int div, int64_t bpm1, int64_t tick_c, int64_t bpm2)
{
	__int128 d1 = (__int128)div * bpm1, d2 = (__int128)div * bpm2;
	int64_t tc;

	if (tick <= tick_c)
		return T0 + (int64_t)((2 * tick * NS_MIN_MICRO + d1) / (2 * d1));
	tc = T0 + (int64_t)((2 * tick_c * NS_MIN_MICRO + d1) / (2 * d1));
	return tc + (int64_t)((2 * (tick - tick_c) * NS_MIN_MICRO + d2) / (2 * d2));
}

/* A two-track file at `div` PPQN, two loops, each event's time from the
 * timeline against the time computed from its tick. */
static void check_ns(int div, int64_t bpm1, int64_t change_beat, int64_t bpm2)
{
	char spec[512];
	struct pattern *p;
	struct pattern_cursor c;
	struct timeline tl;
	const struct pattern_event *e;
	int64_t pos, ticks_per_loop, tick_c = change_beat * div;
	uint32_t i = 0;
	/* ticks of the file's events, in pattern order (checked below) */
	int64_t ticks[16];
	int nt_ = 0;

	snprintf(spec, sizeof(spec),
		 "'MThd' 00000006 0001 0002 %04x "
		 "'MTrk' L{ 00 903c64 V(%d) 803c40 V(%d) 903e64 V(%d) 803e40 00 ff2f00 } "
		 "'MTrk' L{ V(%d) 993864 V(%d) 893840 V(%d) 99386f V(%d) 893840 00 ff2f00 }",
		 div, div / 2, div * 3 / 2 + 1, div * 2 - 1,
		 div / 3, div, div * 7 / 3, div / 5);
	p = make(spec, NULL, NULL);
	ticks[nt_++] = 0;                              /* 903c64 */
	ticks[nt_++] = div / 3;                        /* 993864 */
	ticks[nt_++] = div / 2;                        /* 803c40 */
	ticks[nt_++] = div / 3 + div;                  /* 893840 */
	ticks[nt_++] = div / 2 + div * 3 / 2 + 1;      /* 903e64 */
	ticks[nt_++] = div / 3 + div + div * 7 / 3;    /* 99386f */
	ticks[nt_++] = ticks[5] + div / 5;             /* 893840 */
	ticks[nt_++] = ticks[4] + div * 2 - 1;         /* 803e40 */
	assert_int_equal(p->nevents, (uint32_t)nt_);
	ticks_per_loop = p->length * div / U;
	assert_int_equal(ticks_per_loop * U, p->length * div);

	assert_int_equal(tl_init(&tl, T0, 0, bpm1), 0);
	if (change_beat >= 0)
		assert_int_equal(tl_set_tempo_at(&tl, change_beat * U, bpm2), 0);
	else
		tick_c = INT64_MAX;
	pattern_cursor_init(&c, p, 0, 0);
	while (pattern_cursor_peek(&c, &pos, &e) && i < 2 * p->nevents) {
		int64_t tick = ticks[i % p->nevents] + (int64_t)(i / p->nevents) * ticks_per_loop;

		assert_int_equal(pos * div, tick * U);
		assert_int_equal(tl_time_at(&tl, pos), tick_ns(tick, div, bpm1, tick_c, bpm2));
		pattern_cursor_next(&c);
		i++;
	}
	assert_int_equal(i, 2 * p->nevents);
	pattern_del(p);
}

static void test_nanoseconds(void **state)
{
	(void)state;
	check_ns(96, 120000000, -1, 0);
	check_ns(96, 133333333, -1, 0);         /* 133.333 BPM: not a round period */
	check_ns(480, 97500000, -1, 0);
	check_ns(960, 120000000, 3, 90000000);   /* tempo change on beat 3, inside a note */
	check_ns(384, 174125000, 5, 61000000);   /* change in the second loop */
	check_ns(120, 60000000, 2, 240000000);
}

/* ---- directory ----------------------------------------------------- */

static char dir[64];

static int dir_setup(void **state)
{
	(void)state;
	strcpy(dir, "/tmp/test_pattern.XXXXXX");
	return mkdtemp(dir) ? 0 : -1;
}

static int dir_teardown(void **state)
{
	char cmd[128];

	(void)state;
	snprintf(cmd, sizeof(cmd), "rm -rf '%s'", dir);
	return system(cmd) == 0 ? 0 : -1;
}

static void put(const char *name, const char *spec)
{
	char path[256];
	size_t len = spec ? smf_hex(spec, buf, sizeof(buf)) : 0;
	FILE *f;

	snprintf(path, sizeof(path), "%s/%s", dir, name);
	f = fopen(path, "wb");
	assert_non_null(f);
	assert_int_equal(fwrite(buf, 1, len, f), len);
	assert_int_equal(fclose(f), 0);
}

struct reports {
	int n;            /* reports */
	char text[8][256]; /* "file: code: message" */
};

static void report_cb(void *ctx, const char *file, const struct smf_error *err)
{
	struct reports *r = ctx;

	if (r->n < 8)
		snprintf(r->text[r->n], sizeof(r->text[0]), "%s: %d: %s", file, err->code, err->msg);
	r->n++;
}

#define GOOD HDR0 TRK("00 903c64 60 803c40 00 ff2f00")

static void test_dir(void **state)
{
	struct count_alloc ca = { 0 };
	struct alloc a = COUNT_ALLOC(&ca);
	struct pattern_set set;
	struct reports rep = { 0 };
	char path[256], longname[80];
	int r;

	(void)state;
	put("b.MID", GOOD);
	put("a.mid", GOOD);
	put("a-b.mid", HDR0 TRK("00 913064 00 ff2f00"));
	put("c.mid", HDR0 TRK("00 3c40"));   /* broken */
	put("A.mid", "");                      /* empty */
	put("d.txt", GOOD);                  /* not a .mid */
	put(".hidden.mid", GOOD);            /* hidden */
	put("._a.mid", GOOD);                /* macOS metadata */
	put("e.mid", GOOD);
	put("e.Mid", GOOD);                  /* duplicate name e */
	put("mid", GOOD);
	memset(longname, 'x', 64);
	strcpy(longname + 64, ".mid");
	put(longname, GOOD);                 /* 64 bytes before .mid */
	snprintf(path, sizeof(path), "%s/sub.mid", dir);
	assert_int_equal(mkdir(path, 0755), 0);

	r = pattern_dir_load(dir, NULL, &a, &set, report_cb, &rep);
	for (int i = 0; i < rep.n && i < 8; i++)
		print_message("# report: %s\n", rep.text[i]);
	assert_int_equal(r, 5);
	assert_int_equal(rep.n, 5);
	assert_int_equal(set.count, 4);
	assert_string_equal(set.items[0]->name, "a");
	assert_string_equal(set.items[1]->name, "a-b");
	assert_string_equal(set.items[2]->name, "b");
	assert_string_equal(set.items[3]->name, "e");
	assert_int_equal(set.items[1]->events[0].msg.channel, 1);
	/* reports in name order: A (empty), c (broken), e.mid (duplicate), xxx (long), sub */
	assert_string_equal(rep.text[0], "A.mid: -22: offset 0x0: empty file (expected \"MThd\")");
	assert_string_equal(rep.text[1], "c.mid: -22: offset 0x17: running status with no previous "
					 "status byte (data byte 0x3c) in track 0 "
					 "(expected a status byte)");
	assert_string_equal(rep.text[2], "e.mid: -17: pattern \"e\" already loaded from another "
					 "file (expected one file per name)");
	assert_string_equal(rep.text[3], "sub.mid: -21: not a regular file (expected a regular file)");
	assert_int_equal(strncmp(rep.text[4], "xxxxxxxx", 8), 0);
	assert_non_null(strstr(rep.text[4], ".mid: -36: name of 64 bytes before .mid is too long "
					    "(expected at most 63)"));
	assert_ptr_equal(pattern_set_find(&set, "b"), set.items[2]);
	assert_ptr_equal(pattern_set_find(&set, "a"), set.items[0]);
	assert_ptr_equal(pattern_set_find(&set, "e"), set.items[3]);
	assert_null(pattern_set_find(&set, "c"));
	assert_null(pattern_set_find(&set, "a-"));
	assert_null(pattern_set_find(&set, ""));
	pattern_set_free(&set);
	assert_int_equal(ca.live, 0);
	pattern_set_free(&set); /* twice: harmless */

	/* options apply to every file */
	r = pattern_dir_load(dir, &(struct pattern_opts){ .channel = 9, .length_bars = 2 }, &a,
			     &set, NULL, NULL);
	assert_int_equal(r, 5);
	assert_int_equal(set.items[0]->events[0].msg.channel, 9);
	assert_int_equal(set.items[0]->length, 8 * U);
	pattern_set_free(&set);

	/* every allocation failing in turn: -ENOMEM, nothing leaked, set empty */
	for (int fail = 1;; fail++) {
		ca = (struct count_alloc){ .fail_at = fail };
		r = pattern_dir_load(dir, NULL, &a, &set, NULL, NULL);
		assert_int_equal(ca.live, r < 0 ? 0 : ca.live);
		if (r >= 0) {
			assert_int_equal(r, 5);
			assert_true(fail > 10);
			pattern_set_free(&set);
			break;
		}
		assert_int_equal(r, -ENOMEM);
		assert_int_equal(set.count, 0);
		assert_null(set.items);
	}
	assert_int_equal(ca.live, 0);

	snprintf(path, sizeof(path), "%s/nonexistent", dir);
	assert_int_equal(pattern_dir_load(path, NULL, NULL, &set, NULL, NULL), -ENOENT);
	assert_int_equal(set.count, 0);
	assert_int_equal(pattern_dir_load(NULL, NULL, NULL, &set, NULL, NULL), -EINVAL);
	assert_int_equal(pattern_dir_load(dir, NULL, NULL, NULL, NULL, NULL), -EINVAL);
}

static void test_dir_limit_and_empty(void **state)
{
	struct pattern_set set;
	struct reports rep = { 0 };
	char name[32];

	(void)state;
	assert_int_equal(pattern_dir_load(dir, NULL, NULL, &set, report_cb, &rep), 0);
	assert_int_equal(set.count, 0);
	assert_null(pattern_set_find(&set, "x"));
	pattern_set_free(&set);
	for (int i = 0; i < PATTERN_DIR_MAX + 2; i++) {
		snprintf(name, sizeof(name), "p%03d.mid", i);
		put(name, GOOD);
	}
	assert_int_equal(pattern_dir_load(dir, NULL, NULL, &set, report_cb, &rep), 2);
	assert_int_equal(set.count, PATTERN_DIR_MAX);
	assert_string_equal(set.items[PATTERN_DIR_MAX - 1]->name, "p255");
	assert_string_equal(rep.text[0], "p256.mid: -7: more than 256 patterns in the directory "
					 "(expected at most 256)");
	assert_non_null(pattern_set_find(&set, "p100"));
	pattern_set_free(&set);
}

static void test_load_file(void **state)
{
	struct pattern *p;
	struct smf_error err;
	char path[256];

	(void)state;
	put("one.mid", GOOD);
	snprintf(path, sizeof(path), "%s/one.mid", dir);
	assert_int_equal(pattern_load_file(path, "one", NULL, NULL, &p, &err), 0);
	assert_int_equal(p->nevents, 2);
	pattern_del(p);
	snprintf(path, sizeof(path), "%s/none.mid", dir);
	assert_int_equal(pattern_load_file(path, "none", NULL, NULL, &p, &err), -ENOENT);
	assert_null(p);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_rows),
		cmocka_unit_test(test_errors),
		cmocka_unit_test(test_alloc_failures),
		cmocka_unit_test(test_generated),
		cmocka_unit_test(test_seek_and_cursor),
		cmocka_unit_test(test_nanoseconds),
		cmocka_unit_test_setup_teardown(test_dir, dir_setup, dir_teardown),
		cmocka_unit_test_setup_teardown(test_dir_limit_and_empty, dir_setup, dir_teardown),
		cmocka_unit_test_setup_teardown(test_load_file, dir_setup, dir_teardown),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
