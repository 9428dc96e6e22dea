/*
 * fuzz_smf.c - fuzz target: bytes as a Standard MIDI File, then as
 * patterns, then played through the note tracker.
 *
 * Beyond "no crash, no sanitizer report, no leak, no hang", every input
 * must satisfy (abort() otherwise, so libFuzzer keeps it as a crash):
 * - an error: no allocation was made, the code is one of the documented
 *   ones, the offset lies inside the input and the message starts with it,
 *   the message is one NUL-terminated line;
 * - a success: one allocation, bounded by the input's size (never by a
 *   length field), tracks with non-decreasing ticks and valid messages;
 * - each pattern built from it (three option sets): sorted events inside
 *   [0, length], no note-on at the end, note-ons and note-offs balanced,
 *   and two loops through the cursor and the tracker end with nothing
 *   sounding.
 */
#include <errno.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "engine/notetrack.h"
#include "engine/pattern.h"
#include "fuzz.h"
#include "midi/smf.h"
#include "smf_gen.h"

#define FZ_CHECK(cond) FUZZ_CHECK("fuzz_smf", cond)

struct fz_alloc {
	int calls;      /* alloc() calls */
	int live;       /* blocks not freed */
	size_t largest; /* biggest request */
};

static void *fz_alloc(void *ctx, size_t n)
{
	struct fz_alloc *c = ctx;

	c->calls++;
	c->live++;
	if (n > c->largest)
		c->largest = n;
	return malloc(n);
}

static void fz_free(void *ctx, void *p)
{
	struct fz_alloc *c = ctx;

	c->live--;
	free(p);
}

static struct notetrack nt;
static bool nt_ready;

static void check_error(const struct smf_error *err, int r, size_t size)
{
	char head[40];

	FZ_CHECK(r == err->code);
	FZ_CHECK(r == -EINVAL || r == -ENOTSUP || r == -E2BIG || r == -EFBIG);
	FZ_CHECK(memchr(err->msg, '\0', sizeof(err->msg)) != NULL);
	FZ_CHECK(err->msg[0] != '\0' && strchr(err->msg, '\n') == NULL);
	FZ_CHECK(strstr(err->msg, "(expected ") != NULL || r == -EFBIG);
	FZ_CHECK(err->track >= -1 && err->track < 65535);
	if (err->offset != SMF_NO_OFFSET) {
		FZ_CHECK(err->offset <= size);
		snprintf(head, sizeof(head), "offset 0x%zx: ", err->offset);
		FZ_CHECK(strncmp(err->msg, head, strlen(head)) == 0);
	}
}

static void check_smf(const struct smf *s, size_t size)
{
	uint32_t total = 0;

	FZ_CHECK(s->format <= 2 && s->division >= 1 && s->division <= 32767);
	FZ_CHECK(s->ntracks >= 1 && (s->format != 0 || s->ntracks == 1));
	for (unsigned t = 0; t < s->ntracks; t++) {
		const struct smf_track *tr = &s->tracks[t];
		int64_t prev = 0;

		FZ_CHECK(tr->offset + 8u <= size);
		FZ_CHECK(memchr(tr->name, '\0', sizeof(tr->name)) != NULL);
		for (uint32_t i = 0; i < tr->nevents; i++) {
			const struct smf_event *e = &tr->events[i];

			FZ_CHECK(e->tick >= prev);
			prev = e->tick;
			FZ_CHECK(e->offset < size);
			FZ_CHECK(e->kind >= SMF_EV_CHANNEL && e->kind <= SMF_EV_META);
			FZ_CHECK((e->len == 0) == (e->data == NULL));
			FZ_CHECK(e->len <= size);
			if (e->kind == SMF_EV_CHANNEL) {
				FZ_CHECK(midi_is_channel_type(e->msg.type) && e->msg.channel < 16);
				FZ_CHECK(e->msg.data[0] < 0x80 && e->msg.data[1] < 0x80);
				FZ_CHECK(e->msg.sysex == NULL);
			}
		}
		FZ_CHECK(tr->end_tick >= prev);
		total += tr->nevents;
	}
	FZ_CHECK(total == s->nevents && total <= SMF_EVENT_MAX);
}

static void check_pattern(const struct pattern *p)
{
	static int open[16][128];
	struct pattern_cursor c;
	int64_t prev = 0, pos;
	const struct pattern_event *e;

	FZ_CHECK(p->length > 0 && p->bar > 0 && p->length == p->bars * p->bar);
	memset(open, 0, sizeof(open));
	for (uint32_t i = 0; i < p->nevents; i++) {
		const struct midi_msg *m = &p->events[i].msg;

		FZ_CHECK(p->events[i].pos >= prev && p->events[i].pos <= p->length);
		prev = p->events[i].pos;
		FZ_CHECK(midi_is_channel_type(m->type) && m->channel < 16 && m->sysex == NULL);
		FZ_CHECK(!(m->type == MIDI_NOTE_ON && m->data[1] == 0));
		if (m->type == MIDI_NOTE_ON) {
			FZ_CHECK(p->events[i].pos < p->length);
			open[m->channel][m->data[0]]++;
		} else if (m->type == MIDI_NOTE_OFF) {
			FZ_CHECK(open[m->channel][m->data[0]] > 0);
			open[m->channel][m->data[0]]--;
		}
	}
	for (int ch = 0; ch < 16; ch++)
		for (int k = 0; k < 128; k++)
			FZ_CHECK(open[ch][k] == 0);
	for (uint32_t i = 0; i + 1 < p->ntempo; i++)
		FZ_CHECK(p->tempo[i].pos <= p->tempo[i + 1].pos && p->tempo[i].pos < p->length);

	/* two loops through the cursor and the tracker: silent at each end */
	if (p->nevents == 0 || p->nevents > 4096)
		return;
	if (!nt_ready) { /* once: every check below leaves it empty again */
		notetrack_init(&nt);
		nt_ready = true;
	}
	FZ_CHECK(nt.sounding == 0 && nt.nrec == 0);
	pattern_cursor_init(&c, p, p->bar, 0);
	for (uint32_t i = 0; i < 2 * p->nevents; i++) {
		FZ_CHECK(pattern_cursor_peek(&c, &pos, &e));
		FZ_CHECK(pos == p->bar + (int64_t)(i / p->nevents) * p->length + e->pos);
		FZ_CHECK(notetrack_msg(&nt, 0, 0, &e->msg) >= 0);
		pattern_cursor_next(&c);
		if ((i + 1) % p->nevents == 0)
			FZ_CHECK(nt.sounding == 0 && nt.nrec == 0);
	}
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static const struct pattern_opts opts[] = {
		{ .channel = -1 },
		{ .channel = 3, .keep_tempo = true },
		{ .channel = -1, .length_bars = 1 },
	};
	struct fz_alloc ca = { 0 };
	struct alloc a = { fz_alloc, fz_free, &ca };
	struct smf_error err;
	struct smf s;
	int r = smf_parse(&s, data, size, &a, &err);

	if (r < 0) {
		check_error(&err, r, size);
		FZ_CHECK(ca.calls == 0 && s.mem == NULL);
		return 0;
	}
	FZ_CHECK(err.code == 0);
	FZ_CHECK(ca.calls == 1);
	FZ_CHECK(ca.largest <= (size / 2) * sizeof(struct smf_event) +
				       (size / 8 + 1) * sizeof(struct smf_track) + size + 1);
	check_smf(&s, size);
	for (size_t i = 0; i < sizeof(opts) / sizeof(opts[0]); i++) {
		struct pattern *p;

		r = pattern_new(&s, "fuzz", &opts[i], &a, &p, &err);
		if (r < 0) {
			FZ_CHECK(r == -ENOTSUP || r == -EFBIG);
			FZ_CHECK(r != -ENOTSUP || s.format == 2);
			continue;
		}
		check_pattern(p);
		pattern_del(p);
	}
	smf_free(&s);
	FZ_CHECK(ca.live == 0);
	return 0;
}

/* Seeds: generated files of both kinds, then the odd cases by hand. */
size_t fuzz_seed(uint32_t i, uint8_t *buf, size_t cap)
{
	static const char *const special[] = {
		"'MThd' 00000006 0000 0001 e728 'MTrk' L{ 00 ff2f00 }",
		"'MThd' 00000006 0002 0002 0060 'MTrk' L{ 00 903c64 00 ff2f00 } 'MTrk' L{ 00 ff2f00 }",
		"'RIFF' 00000020 'RMID' 'data' 00000014 'MThd' 00000006 0000 0001 0060",
		"'MThd' 00000006 0000 0001 0060 'MTrk' L{ 00 f0 05 7e7f0901 f7 00 f7 02 f8fa 00 ff2f00 }",
		"'MThd' 00000006 0000 0001 0001 'MTrk' L{ ffffff7f 903c64 ffffff7f 3c00 00 ff2f00 }",
		("'MThd' 00000006 0001 0002 000b 'MTrk' L{ 00 ff5804 07031808 00 ff5103 0f4240 } "
		 "'MTrk' L{ 01 903c64 01 3c00 }"),
	};
	struct smf_gen_model *m;
	size_t n;

	if (i < 96) {
		m = malloc(sizeof(*m));
		if (!m)
			abort();
		n = smf_gen_random(i, i >= 48, buf, cap, m);
		free(m);
		return n;
	}
	i -= 96;
	if (i < sizeof(special) / sizeof(special[0]))
		return smf_hex(special[i], buf, cap);
	return 0;
}
