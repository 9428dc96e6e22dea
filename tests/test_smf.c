/*
 * SMF reader: tables of hand-built files (notation of tests/smf_gen.h), one
 * row per rule and one per error, each error row with its exact message
 * (offset, what, track, expected); generated files compared with the
 * generator's model; every prefix of valid files rejected with an offset
 * inside the prefix; allocation bounded and exactly once (never for a bad
 * file); the allocator's failure; files on disk.
 *
 * Rendering of a parsed file, compared as a string:
 *   "f1 d96 | T0'name': 0:903c64 96:803c40 end96 | T1: ... end0?"
 * events as tick:token with tokens 903c64 (channel), F0{7e7f f7} (SysEx,
 * payload hex), F7{f8} (escape), FF03{4142} (meta type and bytes); "end"
 * then the end tick, and "?" when the track had no End of Track.
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

#include "midi/smf.h"
#include "smf_gen.h"
#include "test_alloc.h"

#define BUF_MAX 65536
#define HDR0 "'MThd' 00000006 0000 0001 0060 "  /* format 0, 1 track, 96 PPQN: 14 bytes */
#define HDR1(n) "'MThd' 00000006 0001 000" #n " 0060 "

static uint8_t buf[BUF_MAX];

/* ---- rendering ----------------------------------------------------- */

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

static void render_bytes(struct sbuf *b, const uint8_t *d, uint32_t len)
{
	sb(b, "{");
	for (uint32_t i = 0; i < len; i++)
		sb(b, "%02x", d[i]);
	sb(b, "}");
}

static void render_event(struct sbuf *b, int64_t tick, uint8_t kind, uint8_t meta,
			 uint8_t status, const uint8_t d[2], const uint8_t *data, uint32_t len)
{
	sb(b, " %lld:", (long long)tick);
	switch (kind) {
	case SMF_EV_CHANNEL:
		if ((status & 0xE0) == 0xC0)
			sb(b, "%02x%02x", status, d[0]);
		else
			sb(b, "%02x%02x%02x", status, d[0], d[1]);
		break;
	case SMF_EV_SYSEX: sb(b, "F0"); render_bytes(b, data, len); break;
	case SMF_EV_ESCAPE: sb(b, "F7"); render_bytes(b, data, len); break;
	case SMF_EV_META: sb(b, "FF%02x", meta); render_bytes(b, data, len); break;
	default: sb(b, "?kind%d", kind); break;
	}
}

static void render_smf(const struct smf *s, struct sbuf *b)
{
	uint32_t total = 0;

	b->n = 0;
	sb(b, "f%u d%u", s->format, s->division);
	for (unsigned i = 0; i < s->ntracks; i++) {
		const struct smf_track *t = &s->tracks[i];
		int64_t prev = 0;

		sb(b, " | T%u", i);
		if (t->name[0])
			sb(b, "'%s'", t->name);
		sb(b, ":");
		for (uint32_t j = 0; j < t->nevents; j++) {
			const struct smf_event *e = &t->events[j];
			uint8_t status = 0;

			assert_true(e->tick >= prev);
			prev = e->tick;
			if (e->kind == SMF_EV_CHANNEL) {
				status = e->msg.type | e->msg.channel;
				assert_true(midi_is_channel_type(e->msg.type));
				assert_true(e->msg.channel < 16);
				assert_null(e->msg.sysex);
				assert_int_equal(e->len, 0);
			} else {
				assert_int_equal(e->msg.type, 0);
			}
			assert_true((e->len == 0) == (e->data == NULL));
			render_event(b, e->tick, e->kind, e->meta, status, e->msg.data, e->data,
				     e->len);
		}
		total += t->nevents;
		sb(b, " end%lld%s", (long long)t->end_tick, t->has_eot ? "" : "?");
	}
	assert_int_equal(total, s->nevents);
}

static void render_model(const struct smf_gen_model *m, struct sbuf *b)
{
	b->n = 0;
	sb(b, "f%d d%d", m->format, m->division);
	for (int i = 0; i < m->ntracks; i++) {
		const struct smf_gen_track *t = &m->tr[i];

		sb(b, " | T%d", i);
		if (t->name[0])
			sb(b, "'%s'", t->name);
		sb(b, ":");
		for (uint32_t j = 0; j < t->n; j++) {
			const struct smf_gen_event *e = &t->ev[j];
			render_event(b, e->tick, e->kind, e->meta, e->status, e->d, e->data, e->len);
		}
		sb(b, " end%lld%s", (long long)t->end_tick, t->has_eot ? "" : "?");
	}
}

/* ---- valid files --------------------------------------------------- */

struct ok_row {
	const char *name;
	const char *in;            /* notation */
	const char *out;           /* rendering */
	struct {
		uint32_t skipped, trailing, after_eot, missing_eot;
	} c;                       /* expected counters */
};

static const struct ok_row ok_rows[] = {
	{ "one note, format 0",
	  HDR0 "'MTrk' L{ 00 903c64 60 803c40 00 ff2f00 }",
	  "f0 d96 | T0: 0:903c64 96:803c40 end96", { 0 } },
	{ "running status: data bytes reuse the last channel status",
	  HDR0 "'MTrk' L{ 00 903c64 10 3e64 10 3c00 10 3e00 00 ff2f00 }",
	  "f0 d96 | T0: 0:903c64 16:903e64 32:903c00 48:903e00 end48", { 0 } },
	{ "running status with one-data-byte messages",
	  HDR0 "'MTrk' L{ 00 c105 00 07 00 d27f 01 00 00 ff2f00 }",
	  "f0 d96 | T0: 0:c105 0:c107 0:d27f 1:d200 end1", { 0 } },
	{ "every channel message type and channel",
	  HDR0 "'MTrk' L{ 00 8f0102 00 9e0304 00 a00506 00 b17f7f 00 c27f 00 d300 00 e40040 "
	  "00 ff2f00 }",
	  "f0 d96 | T0: 0:8f0102 0:9e0304 0:a00506 0:b17f7f 0:c27f 0:d300 0:e40040 end0", { 0 } },
	{ "running status survives meta and SysEx events (lenient)",
	  HDR0 "'MTrk' L{ 00 903c64 00 ff0100 00 3d64 00 f00107 00 3e64 00 ff2f00 }",
	  "f0 d96 | T0: 0:903c64 0:FF01{} 0:903d64 0:F0{07} 0:903e64 end0", { 0 } },
	{ "VLQ of 4 bytes (largest delta) and a padded VLQ (80 00 = 0)",
	  HDR0 "'MTrk' L{ ffffff7f 903c64 8080 00 803c00 00 ff2f00 }",
	  "f0 d96 | T0: 268435455:903c64 268435455:803c00 end268435455", { 0 } },
	{ "VLQ boundaries 127/128/16383/16384",
	  HDR0 "'MTrk' L{ 7f b00100 8100 b00101 ff7f b00102 818000 b00103 00 ff2f00 }",
	  "f0 d96 | T0: 127:b00100 255:b00101 16638:b00102 33022:b00103 end33022", { 0 } },
	{ "SysEx, empty SysEx, escapes",
	  HDR0 "'MTrk' L{ 00 f0037e7ff7 00 f000 00 f702f0 7e 00 f701 f8 00 ff2f00 }",
	  "f0 d96 | T0: 0:F0{7e7ff7} 0:F0{} 0:F7{f07e} 0:F7{f8} end0", { 0 } },
	{ "tempo, time signature, names, other metas kept raw",
	  HDR0 "'MTrk' L{ 00 ff0302'ab' 00 ff030178 00 ff5103 07a120 00 ff5804 06031808 "
	  "00 ff7f03 000041 00 ff21 01 00 05 ff2f00 }",
	  "f0 d96 | T0'ab': 0:FF03{6162} 0:FF03{78} 0:FF51{07a120} 0:FF58{06031808} "
	  "0:FF7f{000041} 0:FF21{00} end5", { 0 } },
	{ "time signature limits: 1/1 and 255/64",
	  HDR0 "'MTrk' L{ 00 ff5804 01001808 00 ff5804 ff061808 00 ff2f00 }",
	  "f0 d96 | T0: 0:FF58{01001808} 0:FF58{ff061808} end0", { 0 } },
	{ "track name: control bytes shown as ?, long names truncated to 63",
	  HDR0 "'MTrk' L{ 00 ff03 V(70) 41 0a 42 ff 43*66 00 ff2f00 }",
	  "f0 d96 | T0'A?B?CCCCCCCCCCCCCCCCCCCCCCCCCCCCCCCCCCCCCCCCCCCCCCCCCCCCCCCCCCC': "
	  "0:FF03{410a42ff434343434343434343434343434343434343434343434343434343434343"
	  "434343434343434343434343434343434343434343434343434343434343434343434343} end0", { 0 } },
	{ "missing End of Track: track ends at its last event",
	  HDR0 "'MTrk' L{ 00 903c64 60 803c40 }",
	  "f0 d96 | T0: 0:903c64 96:803c40 end96?", { 0, 0, 0, 1 } },
	{ "empty track chunk: no events, ends at 0, no End of Track",
	  HDR0 "'MTrk' L{ }",
	  "f0 d96 | T0: end0?", { 0, 0, 0, 1 } },
	{ "bytes after End of Track are ignored",
	  HDR0 "'MTrk' L{ 00 903c64 10 ff2f00 3c 00 ff }",
	  "f0 d96 | T0: 0:903c64 end16", { 0, 0, 3, 0 } },
	{ "unknown chunks before and between tracks are skipped",
	  HDR1(2) "'XFIH' L{ 0102 } 'MTrk' L{ 00 903c64 00 ff2f00 } 'abcd' L{ } "
	  "'MTrk' L{ 05 ff2f00 }",
	  "f1 d96 | T0: 0:903c64 end0 | T1: end5", { 2, 0, 0, 0 } },
	{ "trailing bytes and an extra undeclared track are ignored",
	  HDR0 "'MTrk' L{ 00 ff2f00 } 'MTrk' L{ 00 903c64 00 ff2f00 } 00 00",
	  "f0 d96 | T0: end0", { 0, 18, 0, 0 } },
	{ "MThd longer than 6: the extra bytes are skipped",
	  "'MThd' 00000009 0000 0001 0060 'MTr' 'MTrk' L{ 00 ff2f00 }",
	  "f0 d96 | T0: end0", { 0 } },
	{ "format 1 with three tracks, each its own running status and ticks",
	  HDR1(3) "'MTrk' L{ 00 ff5103 07a120 00 ff2f00 } 'MTrk' L{ 10 903c64 10 3c00 00 ff2f00 } "
	  "'MTrk' L{ 20 913064 00 ff2f00 }",
	  "f1 d96 | T0: 0:FF51{07a120} end0 | T1: 16:903c64 32:903c00 end32 | T2: 32:913064 end32", { 0 } },
	{ "format 2 is read like format 1",
	  "'MThd' 00000006 0002 0002 0180 'MTrk' L{ 00 ff2f00 } 'MTrk' L{ 00 c000 00 ff2f00 }",
	  "f2 d384 | T0: end0 | T1: 0:c000 end0", { 0 } },
	{ "division 1 and 32767",
	  "'MThd' 00000006 0000 0001 7fff 'MTrk' L{ 00 ff2f00 }",
	  "f0 d32767 | T0: end0", { 0 } },
};

static void test_ok_rows(void **state)
{
	(void)state;
	for (size_t i = 0; i < sizeof(ok_rows) / sizeof(ok_rows[0]); i++) {
		const struct ok_row *r = &ok_rows[i];
		struct count_alloc ca = { 0 };
		struct alloc a = { ca_alloc, ca_free, &ca };
		struct smf_error err;
		struct smf s;
		struct sbuf out;
		size_t len = smf_hex(r->in, buf, sizeof(buf));
		int rc = smf_parse(&s, buf, len, &a, &err);

		print_message("# row: %s\n", r->name);
		if (rc != 0)
			print_message("#   error: %s\n", err.msg);
		assert_int_equal(rc, 0);
		assert_int_equal(err.code, 0);
		render_smf(&s, &out);
		if (strcmp(out.s, r->out) != 0)
			print_message("#   got:  %s\n#   want: %s\n", out.s, r->out);
		assert_string_equal(out.s, r->out);
		assert_int_equal(s.skipped_chunks, r->c.skipped);
		assert_int_equal(s.trailing_bytes, r->c.trailing);
		assert_int_equal(s.after_eot_bytes, r->c.after_eot);
		assert_int_equal(s.missing_eot, r->c.missing_eot);
		assert_int_equal(ca.calls, 1);
		smf_free(&s);
		assert_int_equal(ca.live, 0);
		smf_free(&s); /* twice is harmless */
	}
}

/* ---- errors -------------------------------------------------------- */

struct err_row {
	const char *name;
	const char *in;   /* notation */
	int code;         /* -errno */
	size_t offset;    /* err.offset */
	int track;        /* err.track */
	const char *msg;  /* err.msg, exactly */
};

#define T0 HDR0 "'MTrk' "  /* a format 0 file up to its track chunk; data at 0x16 */

static const struct err_row err_rows[] = {
	{ "empty file", "", -EINVAL, 0, -1,
	  "offset 0x0: empty file (expected \"MThd\")" },
	{ "not an SMF", "'RIFX' 00", -EINVAL, 0, -1,
	  "offset 0x0: not a Standard MIDI File: it starts with 52 49 46 58 (expected \"MThd\")" },
	{ "short garbage", "4d", -EINVAL, 0, -1,
	  "offset 0x0: not a Standard MIDI File: it starts with 4d 00 00 00 (expected \"MThd\")" },
	{ "RIFF RMID wrapper", "'RIFF' 00000010 'RMID' 'data'", -ENOTSUP, 0, -1,
	  "offset 0x0: RIFF MIDI (RMID) wrapper is not supported "
	  "(expected a plain Standard MIDI File)" },
	{ "file ends inside MThd", "'MThd' 00000006 0000 00", -EINVAL, 11, -1,
	  "offset 0xb: file ends inside the MThd header (11 bytes) "
	  "(expected 14 bytes of MThd header)" },
	{ "MThd length below 6", "'MThd' 00000005 0000 0001 0060", -EINVAL, 4, -1,
	  "offset 0x4: MThd length 5 (expected at least 6)" },
	{ "MThd length beyond the file", "'MThd' 00000064 0000 0001 0060", -EINVAL, 4, -1,
	  "offset 0x4: MThd length 100 exceeds the 6 bytes left in the file "
	  "(expected a length within the file)" },
	{ "MThd length 0xffffffff", "'MThd' ffffffff 0000 0001 0060", -EINVAL, 4, -1,
	  "offset 0x4: MThd length 4294967295 exceeds the 6 bytes left in the file "
	  "(expected a length within the file)" },
	{ "format 3", "'MThd' 00000006 0003 0001 0060", -EINVAL, 8, -1,
	  "offset 0x8: format 3 (expected 0, 1 or 2)" },
	{ "no tracks", "'MThd' 00000006 0001 0000 0060", -EINVAL, 10, -1,
	  "offset 0xa: track count 0 (expected at least 1)" },
	{ "format 0 with two tracks", "'MThd' 00000006 0000 0002 0060", -EINVAL, 10, -1,
	  "offset 0xa: track count 2 (expected 1 in a format 0 file)" },
	{ "SMPTE division", "'MThd' 00000006 0000 0001 e728", -ENOTSUP, 12, -1,
	  "offset 0xc: SMPTE division (25 frames/s, 40 ticks per frame) is not supported "
	  "(expected ticks per quarter note (bit 15 clear))" },
	{ "division 0", "'MThd' 00000006 0000 0001 0000", -EINVAL, 12, -1,
	  "offset 0xc: division 0 (expected 1..32767 ticks per quarter note)" },
	{ "no track chunk", HDR0, -EINVAL, 14, -1,
	  "offset 0xe: file ends after 0 of 1 tracks (expected the remaining tracks)" },
	{ "second track missing", HDR1(2) "'MTrk' L{ 00 ff2f00 } 'XFIH' L{ }", -EINVAL, 0x22, -1,
	  "offset 0x22: file ends after 1 of 2 tracks (expected the remaining tracks)" },
	{ "chunk header cut", HDR0 "'MTr'", -EINVAL, 14, -1,
	  "offset 0xe: file ends inside a chunk header (3 bytes left) "
	  "(expected 8 bytes of chunk header)" },
	{ "MTrk length beyond the file", T0 "00000010 00ff2f00", -EINVAL, 0x12, 0,
	  "offset 0x12: MTrk chunk length 16 of track 0 exceeds the 4 bytes left in the file "
	  "(expected a length within the file)" },
	{ "MTrk length 0xffffffff", T0 "ffffffff 00ff2f00", -EINVAL, 0x12, 0,
	  "offset 0x12: MTrk chunk length 4294967295 of track 0 exceeds the 4 bytes left in "
	  "the file (expected a length within the file)" },
	{ "unknown chunk length beyond the file", HDR0 "'XFIH' 00000010 00", -EINVAL, 0x12, -1,
	  "offset 0x12: chunk length 16 exceeds the 1 bytes left in the file "
	  "(expected a length within the file)" },
	{ "delta-time VLQ of 5 bytes", T0 "L{ 8fffffff7f 903c64 }", -EINVAL, 0x16, 0,
	  "offset 0x16: delta-time is a variable-length quantity longer than 4 bytes in track 0 "
	  "(expected at most 4 bytes, the last below 0x80)" },
	{ "delta-time cut by the chunk end", T0 "L{ 00 903c40 81 }", -EINVAL, 0x1a, 0,
	  "offset 0x1a: track ends inside the delta-time in track 0 "
	  "(expected the rest of the variable-length quantity)" },
	{ "delta-time without an event", T0 "L{ 00 }", -EINVAL, 0x17, 0,
	  "offset 0x17: track ends after a delta-time in track 0 "
	  "(expected an event after the delta-time)" },
	{ "running status with no previous status byte", T0 "L{ 00 3c40 }", -EINVAL, 0x17, 0,
	  "offset 0x17: running status with no previous status byte (data byte 0x3c) "
	  "in track 0 (expected a status byte)" },
	{ "running status does not cross tracks",
	  HDR1(2) "'MTrk' L{ 00 903c40 00 ff2f00 } 'MTrk' L{ 00 3c00 }", -EINVAL, 0x27, 1,
	  "offset 0x27: running status with no previous status byte (data byte 0x3c) "
	  "in track 1 (expected a status byte)" },
	{ "status byte where a data byte belongs", T0 "L{ 00 903c 90 }", -EINVAL, 0x19, 0,
	  "offset 0x19: byte 0x90 inside a Note On message in track 0 "
	  "(expected a data byte 0x00..0x7f)" },
	{ "Note On cut by the chunk end", T0 "L{ 00 903c }", -EINVAL, 0x17, 0,
	  "offset 0x17: track ends inside a Note On message in track 0 (expected 2 data bytes)" },
	{ "Program Change cut by the chunk end", T0 "L{ 00 c0 }", -EINVAL, 0x17, 0,
	  "offset 0x17: track ends inside a Program Change message in track 0 "
	  "(expected 1 data byte)" },
	{ "running-status message cut", T0 "L{ 00 e00040 00 01 }", -EINVAL, 0x1b, 0,
	  "offset 0x1b: track ends inside a Pitch Bend message in track 0 "
	  "(expected 2 data bytes)" },
	{ "SysEx length beyond the track", T0 "L{ 00 f005 7e7f }", -EINVAL, 0x17, 0,
	  "offset 0x17: SysEx (F0) length 5 exceeds the 2 bytes left in track 0 "
	  "(expected a length within the track chunk)" },
	{ "SysEx length beyond the track but not the file",
	  T0 "L{ 00 f005 7e7f } 'XFIH' L{ 00 }", -EINVAL, 0x17, 0,
	  "offset 0x17: SysEx (F0) length 5 exceeds the 2 bytes left in track 0 "
	  "(expected a length within the track chunk)" },
	{ "escape length beyond the track", T0 "L{ 00 f7 ffffff7f 00 }", -EINVAL, 0x17, 0,
	  "offset 0x17: escape (F7) length 268435455 exceeds the 1 bytes left in track 0 "
	  "(expected a length within the track chunk)" },
	{ "SysEx length VLQ of 5 bytes", T0 "L{ 00 f0 ffffffff00 }", -EINVAL, 0x18, 0,
	  "offset 0x18: SysEx length is a variable-length quantity longer than 4 bytes "
	  "in track 0 (expected at most 4 bytes, the last below 0x80)" },
	{ "SysEx length VLQ cut", T0 "L{ 00 f0 ff }", -EINVAL, 0x18, 0,
	  "offset 0x18: track ends inside the SysEx length in track 0 "
	  "(expected the rest of the variable-length quantity)" },
	{ "meta with no type byte", T0 "L{ 00 ff }", -EINVAL, 0x17, 0,
	  "offset 0x17: track ends inside a meta event in track 0 (expected a meta type byte)" },
	{ "meta type 0x80", T0 "L{ 00 ff80 00 }", -EINVAL, 0x18, 0,
	  "offset 0x18: meta type 0x80 in track 0 (expected 0x00..0x7f)" },
	{ "meta with no length", T0 "L{ 00 ff01 }", -EINVAL, 0x19, 0,
	  "offset 0x19: track ends inside the meta length in track 0 "
	  "(expected the rest of the variable-length quantity)" },
	{ "meta length beyond the track", T0 "L{ 00 ff01 05 41 }", -EINVAL, 0x17, 0,
	  "offset 0x17: meta event FF 01 length 5 exceeds the 1 bytes left in track 0 "
	  "(expected a length within the track chunk)" },
	{ "End of Track with data", T0 "L{ 00 ff2f01 00 }", -EINVAL, 0x17, 0,
	  "offset 0x17: End of Track (FF 2F) length 1 in track 0 (expected 0)" },
	{ "Set Tempo of 2 bytes", T0 "L{ 00 ff5102 0000 00 ff2f00 }", -EINVAL, 0x17, 0,
	  "offset 0x17: Set Tempo (FF 51) length 2 in track 0 (expected 3)" },
	{ "Set Tempo 0", T0 "L{ 00 ff5103 000000 00 ff2f00 }", -EINVAL, 0x1a, 0,
	  "offset 0x1a: Set Tempo of 0 microseconds per quarter note in track 0 "
	  "(expected 1..16777215 microseconds per quarter note)" },
	{ "Time Signature of 3 bytes", T0 "L{ 00 ff5803 040218 }", -EINVAL, 0x17, 0,
	  "offset 0x17: Time Signature (FF 58) length 3 in track 0 (expected 4)" },
	{ "Time Signature 0/4", T0 "L{ 00 ff5804 00021808 }", -EINVAL, 0x1a, 0,
	  "offset 0x1a: Time Signature numerator 0 in track 0 (expected 1..255)" },
	{ "Time Signature 4/128", T0 "L{ 00 ff5804 04071808 }", -EINVAL, 0x1b, 0,
	  "offset 0x1b: Time Signature denominator exponent 7 in track 0 "
	  "(expected 0..6 (whole note .. 64th))" },
	{ "real-time status byte in a track", T0 "L{ 00 f8 00 ff2f00 }", -EINVAL, 0x17, 0,
	  "offset 0x17: status byte 0xf8 is not an SMF event in track 0 "
	  "(expected a channel message, F0 (SysEx), F7 (escape) or FF (meta))" },
	{ "system common status byte in a track", T0 "L{ 00 903c40 00 f2 0000 }", -EINVAL, 0x1b, 0,
	  "offset 0x1b: status byte 0xf2 is not an SMF event in track 0 "
	  "(expected a channel message, F0 (SysEx), F7 (escape) or FF (meta))" },
	{ "error in the second track names it",
	  HDR1(2) "'MTrk' L{ 00 ff2f00 } 'MTrk' L{ 00 ff58 04 00 }", -EINVAL, 0x23, 1,
	  "offset 0x23: meta event FF 58 length 4 exceeds the 1 bytes left in track 1 "
	  "(expected a length within the track chunk)" },
};

static void test_err_rows(void **state)
{
	(void)state;
	for (size_t i = 0; i < sizeof(err_rows) / sizeof(err_rows[0]); i++) {
		const struct err_row *r = &err_rows[i];
		struct count_alloc ca = { 0 };
		struct alloc a = { ca_alloc, ca_free, &ca };
		struct smf_error err;
		struct smf s;
		size_t len = smf_hex(r->in, buf, sizeof(buf));
		int rc = smf_parse(&s, buf, len, &a, &err);

		print_message("# row: %s\n", r->name);
		if (strcmp(err.msg, r->msg) != 0)
			print_message("#   got:  %s\n#   want: %s\n", err.msg, r->msg);
		assert_int_equal(rc, r->code);
		assert_int_equal(err.code, r->code);
		assert_int_equal(err.offset, r->offset);
		assert_int_equal(err.track, r->track);
		assert_string_equal(err.msg, r->msg);
		assert_true(err.offset <= len);
		assert_int_equal(ca.calls, 0); /* a bad file never costs an allocation */
		assert_null(s.mem);
		assert_int_equal(s.ntracks, 0);
		smf_free(&s);
	}
}

static void test_null_err_and_args(void **state)
{
	struct smf s;
	size_t len = smf_hex(T0 "L{ 00 3c40 }", buf, sizeof(buf));

	(void)state;
	assert_int_equal(smf_parse(&s, buf, len, NULL, NULL), -EINVAL);
	assert_int_equal(smf_parse(NULL, buf, len, NULL, NULL), -EINVAL);
	len = smf_hex(T0 "L{ 00 ff2f00 }", buf, sizeof(buf));
	assert_int_equal(smf_parse(&s, buf, len, NULL, NULL), 0); /* default allocator */
	assert_int_equal(s.ntracks, 1);
	smf_free(&s);
	smf_free(NULL);
}

/* 2^18 events parse; one more is -E2BIG, named at that event's offset. */
static void test_event_limit(void **state)
{
	size_t cap = 3 * (SMF_EVENT_MAX + 1) + 64, n;
	uint8_t *big = malloc(cap);
	struct smf_error err;
	struct smf s;

	(void)state;
	assert_non_null(big);
	for (uint32_t extra = 0; extra < 2; extra++) {
		uint32_t nev = SMF_EVENT_MAX + extra, tlen = 3 * nev + 1 + 4;
		n = smf_hex(HDR0 "'MTrk'", big, cap);
		big[n++] = (uint8_t)(tlen >> 24);
		big[n++] = (uint8_t)(tlen >> 16);
		big[n++] = (uint8_t)(tlen >> 8);
		big[n++] = (uint8_t)tlen;
		big[n++] = 0x00; /* first event with its status byte: 00 90 3c 40 */
		big[n++] = 0x90;
		big[n++] = 0x3c;
		big[n++] = 0x40;
		for (uint32_t i = 1; i < nev; i++) { /* running status: 00 3c 40 */
			big[n++] = 0x00;
			big[n++] = 0x3c;
			big[n++] = 0x40;
		}
		n += smf_hex("00 ff2f00", big + n, cap - n);
		if (extra == 0) {
			assert_int_equal(smf_parse(&s, big, n, NULL, &err), 0);
			assert_int_equal(s.nevents, SMF_EVENT_MAX);
			assert_int_equal(s.tracks[0].events[SMF_EVENT_MAX - 1].offset,
					 0x16 + 1 + 3 * (SMF_EVENT_MAX - 1));
			smf_free(&s);
		} else {
			assert_int_equal(smf_parse(&s, big, n, NULL, &err), -E2BIG);
			assert_int_equal(err.offset, 0x16 + 1 + 3 * SMF_EVENT_MAX);
			assert_int_equal(err.track, 0);
			assert_string_equal(err.msg, "offset 0xc0017: more than 262144 events in the "
						     "file in track 0 (expected a smaller file)");
		}
	}
	free(big);
}

static void test_file_size_limit(void **state)
{
	uint8_t *big = calloc(1, SMF_FILE_MAX + 1);
	struct smf_error err;
	struct smf s;

	(void)state;
	assert_non_null(big);
	assert_int_equal(smf_parse(&s, big, SMF_FILE_MAX + 1, NULL, &err), -EFBIG);
	assert_int_equal(err.offset, SMF_NO_OFFSET);
	assert_string_equal(err.msg, "file of 16777217 bytes is too large (expected at most 16 MiB)");
	/* exactly the limit is parsed (and rejected for its content, at offset 0) */
	assert_int_equal(smf_parse(&s, big, SMF_FILE_MAX, NULL, &err), -EINVAL);
	assert_int_equal(err.offset, 0);
	free(big);
}

/* Event offsets point at the delta-time; payloads are copies. */
static void test_offsets_and_copies(void **state)
{
	struct smf s;
	size_t len = smf_hex(T0 "L{ 00 903c64 8100 3c00 00 ff0102'hi' 00 f0027ef7 00 ff2f00 }",
			     buf, sizeof(buf));

	(void)state;
	assert_int_equal(smf_parse(&s, buf, len, NULL, NULL), 0);
	assert_int_equal(s.tracks[0].offset, 0x0e);
	assert_int_equal(s.tracks[0].nevents, 4);
	assert_int_equal(s.tracks[0].events[0].offset, 0x16);
	assert_int_equal(s.tracks[0].events[1].offset, 0x1a);
	assert_int_equal(s.tracks[0].events[2].offset, 0x1e);
	assert_int_equal(s.tracks[0].events[3].offset, 0x24);
	memset(buf, 0xEE, len);
	assert_memory_equal(s.tracks[0].events[2].data, "hi", 2);
	assert_memory_equal(s.tracks[0].events[3].data, "\x7e\xf7", 2);
	assert_int_equal(s.tracks[0].events[1].tick, 128);
	smf_free(&s);
}

/* ---- generated files ----------------------------------------------- */

static void check_generated(uint32_t seed, bool notes_only)
{
	static struct smf_gen_model m;
	static struct sbuf got, want;
	struct count_alloc ca = { 0 };
	struct alloc a = { ca_alloc, ca_free, &ca };
	struct smf_error err;
	struct smf s;
	size_t len = smf_gen_random(seed, notes_only, buf, sizeof(buf), &m);
	int rc = smf_parse(&s, buf, len, &a, &err);

	if (rc != 0)
		print_message("# seed %u: %s\n", seed, err.msg);
	assert_int_equal(rc, 0);
	render_smf(&s, &got);
	render_model(&m, &want);
	if (strcmp(got.s, want.s) != 0)
		print_message("# seed %u\n#   got:  %s\n#   want: %s\n", seed, got.s, want.s);
	assert_string_equal(got.s, want.s);
	assert_int_equal(s.skipped_chunks, m.skipped_chunks);
	assert_int_equal(s.trailing_bytes, m.trailing_bytes);
	assert_int_equal(s.after_eot_bytes, m.after_eot_bytes);
	assert_int_equal(s.missing_eot, m.missing_eot);
	/* one allocation, no bigger than the file's real content needs */
	assert_int_equal(ca.calls, 1);
	assert_true(ca.largest <= s.ntracks * sizeof(struct smf_track) +
				  s.nevents * sizeof(struct smf_event) + len + 1);
	smf_free(&s);
	assert_int_equal(ca.live, 0);
}

static void test_generated(void **state)
{
	(void)state;
	for (uint32_t seed = 0; seed < 3000; seed++) {
		check_generated(seed, false);
		check_generated(seed, true);
	}
}

/* Every cut of a valid file before the end of its last track is an error
 * whose offset lies inside what was given, and whose message says so. */
static void test_every_prefix(void **state)
{
	static struct smf_gen_model m;
	struct count_alloc ca = { 0 };
	struct alloc a = { ca_alloc, ca_free, &ca };

	(void)state;
	for (uint32_t seed = 0; seed < 60; seed++) {
		size_t len = smf_gen_random(seed, seed & 1, buf, sizeof(buf), &m);

		for (size_t cut = 0; cut < m.tracks_end; cut++) {
			struct smf_error err;
			struct smf s;
			char head[32];
			int rc = smf_parse(&s, buf, cut, &a, &err);

			assert_int_equal(rc, -EINVAL);
			assert_int_equal(err.code, -EINVAL);
			assert_true(err.offset <= cut);
			snprintf(head, sizeof(head), "offset 0x%zx: ", err.offset);
			assert_int_equal(strncmp(err.msg, head, strlen(head)), 0);
			assert_true(strstr(err.msg, "(expected ") != NULL);
		}
		for (size_t cut = m.tracks_end; cut <= len; cut++) {
			struct smf s;
			assert_int_equal(smf_parse(&s, buf, cut, &a, NULL), 0);
			smf_free(&s);
		}
	}
	assert_int_equal(ca.live, 0);
}

static void test_alloc_failure(void **state)
{
	struct count_alloc ca = { .fail_at = 1 };
	struct alloc a = { ca_alloc, ca_free, &ca };
	struct smf_error err;
	struct smf s;
	size_t len = smf_hex(T0 "L{ 00 903c64 00 ff2f00 }", buf, sizeof(buf));

	(void)state;
	assert_int_equal(smf_parse(&s, buf, len, &a, &err), -ENOMEM);
	assert_int_equal(err.code, -ENOMEM);
	assert_string_equal(err.msg, "out of memory for 1 events");
	assert_null(s.mem);
	assert_int_equal(ca.live, 0);
}

/* ---- files --------------------------------------------------------- */

static char tmpdir[64];

static int files_setup(void **state)
{
	(void)state;
	strcpy(tmpdir, "/tmp/test_smf.XXXXXX");
	return mkdtemp(tmpdir) ? 0 : -1;
}

static int files_teardown(void **state)
{
	char cmd[128];

	(void)state;
	snprintf(cmd, sizeof(cmd), "rm -rf '%s'", tmpdir);
	return system(cmd) == 0 ? 0 : -1;
}

static void write_file(const char *path, const uint8_t *d, size_t n)
{
	FILE *f = fopen(path, "wb");

	assert_non_null(f);
	assert_int_equal(fwrite(d, 1, n, f), n);
	assert_int_equal(fclose(f), 0);
}

static void test_files(void **state)
{
	struct count_alloc ca = { 0 };
	struct alloc a = { ca_alloc, ca_free, &ca };
	struct smf_error err;
	struct smf s;
	char path[128];
	uint8_t *data;
	size_t len = smf_hex(T0 "L{ 00 903c64 60 803c40 00 ff2f00 }", buf, sizeof(buf)), n;
	int fd;

	(void)state;
	snprintf(path, sizeof(path), "%s/one.mid", tmpdir);
	write_file(path, buf, len);
	assert_int_equal(smf_read_file(path, &a, &data, &n, &err), 0);
	assert_int_equal(n, len);
	assert_memory_equal(data, buf, len);
	alloc_free(&a, data);
	assert_int_equal(smf_load_file(&s, path, &a, &err), 0);
	assert_int_equal(s.nevents, 2);
	smf_free(&s);
	assert_int_equal(ca.live, 0);

	snprintf(path, sizeof(path), "%s/missing.mid", tmpdir);
	assert_int_equal(smf_load_file(&s, path, &a, &err), -ENOENT);
	assert_string_equal(err.msg, "cannot open: No such file or directory");
	assert_int_equal(err.offset, SMF_NO_OFFSET);

	assert_int_equal(smf_load_file(&s, tmpdir, &a, &err), -EISDIR);
	assert_string_equal(err.msg, "not a regular file (expected a regular file)");

	/* 16 MiB is read; one byte more is refused before reading anything */
	snprintf(path, sizeof(path), "%s/big.mid", tmpdir);
	fd = open(path, O_WRONLY | O_CREAT | O_TRUNC, 0644);
	assert_true(fd >= 0);
	assert_int_equal(ftruncate(fd, SMF_FILE_MAX + 1), 0);
	assert_int_equal(close(fd), 0);
	ca = (struct count_alloc){ 0 };
	assert_int_equal(smf_load_file(&s, path, &a, &err), -EFBIG);
	assert_string_equal(err.msg, "file of 16777217 bytes is too large "
				     "(expected at most 16 MiB (16777216 bytes))");
	assert_int_equal(ca.calls, 0);
	assert_int_equal(truncate(path, SMF_FILE_MAX), 0);
	assert_int_equal(smf_load_file(&s, path, &a, &err), -EINVAL);
	assert_string_equal(err.msg, "offset 0x0: not a Standard MIDI File: it starts with "
				     "00 00 00 00 (expected \"MThd\")");
	assert_int_equal(ca.live, 0);

	/* the file's buffer is freed on a parse error too */
	snprintf(path, sizeof(path), "%s/bad.mid", tmpdir);
	write_file(path, (const uint8_t *)"MThd", 4);
	ca = (struct count_alloc){ 0 };
	assert_int_equal(smf_load_file(&s, path, &a, &err), -EINVAL);
	assert_int_equal(ca.calls, 1);
	assert_int_equal(ca.live, 0);

	/* read buffer allocation failure */
	ca = (struct count_alloc){ .fail_at = 1 };
	snprintf(path, sizeof(path), "%s/one.mid", tmpdir);
	assert_int_equal(smf_load_file(&s, path, &a, &err), -ENOMEM);
	assert_int_equal(ca.live, 0);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_ok_rows),
		cmocka_unit_test(test_err_rows),
		cmocka_unit_test(test_null_err_and_args),
		cmocka_unit_test(test_event_limit),
		cmocka_unit_test(test_file_size_limit),
		cmocka_unit_test(test_offsets_and_copies),
		cmocka_unit_test(test_generated),
		cmocka_unit_test(test_every_prefix),
		cmocka_unit_test(test_alloc_failure),
		cmocka_unit_test_setup_teardown(test_files, files_setup, files_teardown),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
