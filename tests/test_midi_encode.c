/* MIDI encoder: bytes per message type, optional running status, SysEx
 * chunk sequences, refusals that leave buffer and state untouched, and the
 * round trip through the parser. */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "midi/midi_encode.h"
#include "midi/midi_parse.h"

#define CH(t, c, d0, d1) { .type = (t), .channel = (c), .data = { (d0), (d1) } }
#define SYS(t, d0, d1) { .type = (t), .data = { (d0), (d1) } }

static struct midi_sysex_chunk ch_a = { .len = 4, .data = { 0x7e, 0x7f, 0x06, 0x01 } };
static struct midi_sysex_chunk ch_b = { .len = 2, .data = { 0x10, 0x20 } };
static struct midi_sysex_chunk ch_empty = { .len = 0 };

/* Encodes msgs[] in order into buf; returns total bytes, asserting success. */
static size_t enc_all(struct midi_encode *e, const struct midi_msg *msgs, size_t n,
		      uint8_t *buf, size_t cap)
{
	size_t len = 0;

	for (size_t i = 0; i < n; i++) {
		int r = midi_encode_msg(e, &msgs[i], buf + len, cap - len);

		assert_true(r >= 0);
		len += (size_t)r;
	}
	return len;
}

static void expect_bytes(const struct midi_msg *msgs, size_t n, bool running,
			 const uint8_t *want, size_t wlen)
{
	struct midi_encode e;
	uint8_t buf[1024];
	size_t len;

	assert_int_equal(midi_encode_init(&e, running), 0);
	len = enc_all(&e, msgs, n, buf, sizeof(buf));
	assert_int_equal(len, wlen);
	assert_memory_equal(buf, want, wlen);
}

static void test_every_type(void **state)
{
	const struct midi_msg m[] = {
		CH(MIDI_NOTE_OFF, 0, 60, 64), CH(MIDI_NOTE_ON, 15, 60, 0),
		CH(MIDI_POLY_PRESSURE, 1, 60, 30), CH(MIDI_CONTROL_CHANGE, 2, 7, 100),
		CH(MIDI_PROGRAM_CHANGE, 3, 5, 0), CH(MIDI_CHANNEL_PRESSURE, 4, 30, 0),
		CH(MIDI_PITCH_BEND, 5, 0x00, 0x40),
		{ .type = MIDI_SYSEX, .flags = MIDI_F_SYSEX_START, .sysex = &ch_a },
		SYS(MIDI_MTC_QUARTER_FRAME, 37, 0), SYS(MIDI_SONG_POSITION, 0x10, 0x02),
		SYS(MIDI_SONG_SELECT, 5, 0), SYS(MIDI_TUNE_REQUEST, 0, 0),
		SYS(MIDI_CLOCK, 0, 0), SYS(MIDI_START, 0, 0), SYS(MIDI_CONTINUE, 0, 0),
		SYS(MIDI_STOP, 0, 0), SYS(MIDI_ACTIVE_SENSING, 0, 0), SYS(MIDI_RESET, 0, 0),
	};
	const uint8_t want[] = {
		0x80, 60, 64, 0x9f, 60, 0, 0xa1, 60, 30, 0xb2, 7, 100, 0xc3, 5, 0xd4, 30,
		0xe5, 0x00, 0x40, 0xf0, 0x7e, 0x7f, 0x06, 0x01, 0xf7, 0xf1, 37, 0xf2, 0x10, 0x02,
		0xf3, 5, 0xf6, 0xf8, 0xfa, 0xfb, 0xfc, 0xfe, 0xff,
	};

	(void)state;
	expect_bytes(m, sizeof(m) / sizeof(m[0]), false, want, sizeof(want));
	/* all statuses differ: running status changes nothing here */
	expect_bytes(m, sizeof(m) / sizeof(m[0]), true, want, sizeof(want));
}

static void test_running_status(void **state)
{
	const struct midi_msg m[] = {
		CH(MIDI_NOTE_ON, 0, 60, 100), CH(MIDI_NOTE_ON, 0, 62, 100),
		SYS(MIDI_CLOCK, 0, 0),                 /* real-time: keeps it */
		CH(MIDI_NOTE_ON, 0, 64, 0),
		CH(MIDI_NOTE_ON, 1, 64, 0),            /* other channel: new status */
		SYS(MIDI_MTC_QUARTER_FRAME, 1, 0),     /* system common: cancels */
		CH(MIDI_NOTE_ON, 1, 65, 1),
		{ .type = MIDI_SYSEX, .flags = MIDI_F_SYSEX_START, .sysex = &ch_b }, /* cancels */
		CH(MIDI_NOTE_ON, 1, 66, 2), CH(MIDI_NOTE_ON, 1, 67, 3),
		CH(MIDI_PROGRAM_CHANGE, 1, 5, 0), CH(MIDI_PROGRAM_CHANGE, 1, 6, 0),
	};
	const uint8_t with[] = {
		0x90, 60, 100, 62, 100, 0xf8, 64, 0, 0x91, 64, 0, 0xf1, 1, 0x91, 65, 1,
		0xf0, 0x10, 0x20, 0xf7, 0x91, 66, 2, 67, 3, 0xc1, 5, 6,
	};
	const uint8_t without[] = {
		0x90, 60, 100, 0x90, 62, 100, 0xf8, 0x90, 64, 0, 0x91, 64, 0, 0xf1, 1, 0x91, 65, 1,
		0xf0, 0x10, 0x20, 0xf7, 0x91, 66, 2, 0x91, 67, 3, 0xc1, 5, 0xc1, 6,
	};

	(void)state;
	expect_bytes(m, sizeof(m) / sizeof(m[0]), true, with, sizeof(with));
	expect_bytes(m, sizeof(m) / sizeof(m[0]), false, without, sizeof(without));
}

static void test_sysex_chunks(void **state)
{
	const struct midi_msg m[] = {
		{ .type = MIDI_SYSEX, .flags = MIDI_F_SYSEX_START | MIDI_F_SYSEX_CONT, .sysex = &ch_a },
		SYS(MIDI_CLOCK, 0, 0), /* real-time between chunks is legal */
		{ .type = MIDI_SYSEX, .flags = MIDI_F_SYSEX_CONT, .sysex = &ch_empty },
		{ .type = MIDI_SYSEX, .flags = 0, .sysex = &ch_b },
		{ .type = MIDI_SYSEX, .flags = MIDI_F_SYSEX_START, .sysex = &ch_empty },
		{ .type = MIDI_SYSEX, .flags = MIDI_F_SYSEX_START | MIDI_F_SYSEX_TRUNC, .sysex = &ch_b },
	};
	const uint8_t want[] = { 0xf0, 0x7e, 0x7f, 0x06, 0x01, 0xf8, 0x10, 0x20, 0xf7, 0xf0, 0xf7,
				 0xf0, 0x10, 0x20, 0xf7 };

	(void)state;
	expect_bytes(m, sizeof(m) / sizeof(m[0]), true, want, sizeof(want));
}

static void test_refusals_leave_state(void **state)
{
	const struct midi_msg open = { .type = MIDI_SYSEX,
				       .flags = MIDI_F_SYSEX_START | MIDI_F_SYSEX_CONT,
				       .sysex = &ch_a };
	const struct midi_msg close = { .type = MIDI_SYSEX, .sysex = &ch_b };
	const struct midi_msg on = CH(MIDI_NOTE_ON, 0, 60, 100);
	const struct midi_msg common = SYS(MIDI_SONG_SELECT, 1, 0);
	struct midi_encode e;
	uint8_t buf[16];

	(void)state;
	assert_int_equal(midi_encode_init(&e, true), 0);
	/* continuing a SysEx that is not open */
	assert_int_equal(midi_encode_msg(&e, &close, buf, sizeof(buf)), -EINVAL);
	assert_int_equal(midi_encode_msg(&e, &on, buf, sizeof(buf)), 3);
	assert_int_equal(midi_encode_msg(&e, &open, buf, sizeof(buf)), 5);
	/* inside an open SysEx only real-time and its next chunk */
	memset(buf, 0xAA, sizeof(buf));
	assert_int_equal(midi_encode_msg(&e, &on, buf, sizeof(buf)), -EBUSY);
	assert_int_equal(midi_encode_msg(&e, &common, buf, sizeof(buf)), -EBUSY);
	assert_int_equal(midi_encode_msg(&e, &open, buf, sizeof(buf)), -EBUSY);
	assert_int_equal(buf[0], 0xAA);
	/* no room: nothing written, SysEx still open */
	assert_int_equal(midi_encode_msg(&e, &close, buf, 2), -ENOSPC);
	assert_int_equal(buf[0], 0xAA);
	assert_int_equal(midi_encode_msg(&e, &close, buf, 3), 3);
	assert_memory_equal(buf, ((const uint8_t[]){ 0x10, 0x20, 0xf7 }), 3);
	/* running status was cancelled by the SysEx, and a refused message
	 * does not set it */
	assert_int_equal(midi_encode_msg(&e, &on, buf, 2), -ENOSPC);
	assert_int_equal(midi_encode_msg(&e, &on, buf, 3), 3);
	assert_int_equal(buf[0], 0x90);
	assert_int_equal(midi_encode_msg(&e, &on, buf, 1), -ENOSPC);
	assert_int_equal(midi_encode_msg(&e, &on, buf, 2), 2);
	assert_int_equal(midi_encode_msg(&e, &common, buf, 1), -ENOSPC);
	assert_int_equal(midi_encode_msg(&e, &on, buf, 3), 2); /* still running: common refused */
	assert_int_equal(midi_encode_init(NULL, true), -EINVAL);
	assert_int_equal(midi_encode_msg(&e, &(struct midi_msg)SYS(MIDI_CLOCK, 0, 0), buf, 0),
			 -ENOSPC);
}

static void test_invalid(void **state)
{
	struct midi_sysex_chunk bad_payload = { .len = 2, .data = { 0x01, 0x80 } };
	struct midi_sysex_chunk too_long = { .len = MIDI_SYSEX_CHUNK_MAX + 1 };
	const struct midi_msg bad[] = {
		CH(MIDI_NOTE_ON, 16, 60, 100), CH(MIDI_NOTE_ON, 0, 128, 100),
		CH(MIDI_PITCH_BEND, 0, 0, 0x80), CH(0x91, 0, 60, 100),
		SYS(0xF4, 0, 0), SYS(0xF5, 0, 0), SYS(0xF7, 0, 0), SYS(0xF9, 0, 0), SYS(0xFD, 0, 0),
		SYS(0x40, 0, 0), SYS(0x00, 0, 0),
		{ .type = MIDI_SYSEX, .flags = MIDI_F_SYSEX_START },
		{ .type = MIDI_SYSEX, .flags = MIDI_F_SYSEX_START, .sysex = &bad_payload },
		{ .type = MIDI_SYSEX, .flags = MIDI_F_SYSEX_START, .sysex = &too_long },
	};
	struct midi_encode e;
	uint8_t buf[MIDI_ENCODE_MAX];

	(void)state;
	assert_int_equal(midi_encode_init(&e, false), 0);
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++)
		assert_int_equal(midi_encode_msg(&e, &bad[i], buf, sizeof(buf)), -EINVAL);
}

static void test_max_size(void **state)
{
	struct midi_sysex_chunk full = { .len = MIDI_SYSEX_CHUNK_MAX };
	struct midi_msg m = { .type = MIDI_SYSEX, .flags = MIDI_F_SYSEX_START, .sysex = &full };
	struct midi_encode e;
	uint8_t buf[MIDI_ENCODE_MAX];

	(void)state;
	assert_int_equal(midi_encode_init(&e, false), 0);
	assert_int_equal(midi_encode_msg(&e, &m, buf, sizeof(buf)), MIDI_ENCODE_MAX);
}

/* Parse a stream, encode what came out (both modes), parse again: the same
 * messages, and encoding those gives the same bytes again. */
static size_t parse_all(const uint8_t *in, size_t len, struct pool *pool,
			struct midi_msg *out, size_t cap)
{
	struct midi_parse p;
	size_t n = 0, used, off = 0;
	int r;

	assert_int_equal(midi_parse_init(&p, pool), 0);
	while (off < len) {
		r = midi_parse_feed(&p, in + off, len - off, &used, out + n, cap - n);
		assert_true(r >= 0);
		n += (size_t)r;
		off += used;
	}
	r = midi_parse_end(&p, out + n, cap - n);
	assert_true(r >= 0);
	return n + (size_t)r;
}

static void same_msgs(const struct midi_msg *a, const struct midi_msg *b, size_t n)
{
	for (size_t i = 0; i < n; i++) {
		assert_int_equal(a[i].type, b[i].type);
		assert_int_equal(a[i].channel, b[i].channel);
		assert_int_equal(a[i].data[0], b[i].data[0]);
		assert_int_equal(a[i].data[1], b[i].data[1]);
		assert_int_equal(a[i].flags, b[i].flags);
		if (a[i].type == MIDI_SYSEX) {
			assert_int_equal(a[i].sysex->len, b[i].sysex->len);
			assert_memory_equal(a[i].sysex->data, b[i].sysex->data, a[i].sysex->len);
		}
	}
}

static void test_round_trip(void **state)
{
	enum { CAP = 64, POOLN = 64 };
	static uint8_t in[2048];
	static void *mem[POOL_STORAGE_SIZE(POOLN, sizeof(struct midi_sysex_chunk)) /
			 sizeof(void *)];
	const uint8_t head[] = {
		0x3c, 0x90, 0x3c, 0x64, 0x3e, 0xf8, 0x64, 0xf0, 0x7e, 0x7f, 0xf8, 0x06, 0x01, 0xf7,
		0xb0, 0x07, 0x64, 0x08, 0x65, 0xf1, 0x25, 0xf4, 0x22, 0xf2, 0x10, 0x02, 0xfd, 0xc0,
		0x05, 0x06, 0x90, 0x3c, 0xe3, 0x00, 0x40, 0xf6, 0xff, 0xf0,
	};
	struct midi_msg m1[CAP], m2[CAP];
	struct pool pool;
	size_t len = sizeof(head), n1, n2;

	(void)state;
	memcpy(in, head, sizeof(head));
	for (int i = 0; i < 600; i++) /* a SysEx over three chunks, a clock inside */
		in[len++] = i == 300 ? 0xf8 : (uint8_t)(i & 0x7f);
	in[len++] = 0x90;
	in[len++] = 0x3c;
	in[len++] = 0x00;
	assert_int_equal(pool_init(&pool, mem, sizeof(struct midi_sysex_chunk), POOLN), 0);
	n1 = parse_all(in, len, &pool, m1, CAP);
	assert_true(n1 > 15);
	for (int running = 0; running < 2; running++) {
		struct midi_encode e;
		uint8_t b2[4096], b3[4096];
		size_t l2, l3;

		assert_int_equal(midi_encode_init(&e, running), 0);
		l2 = enc_all(&e, m1, n1, b2, sizeof(b2));
		n2 = parse_all(b2, l2, &pool, m2, CAP);
		assert_int_equal(n2, n1);
		same_msgs(m1, m2, n1);
		assert_int_equal(midi_encode_init(&e, running), 0);
		l3 = enc_all(&e, m2, n2, b3, sizeof(b3));
		assert_int_equal(l3, l2);
		assert_memory_equal(b2, b3, l2);
		if (running)
			assert_true(l2 < len);
		for (size_t i = 0; i < n2; i++)
			pool_put(&pool, m2[i].sysex);
	}
	for (size_t i = 0; i < n1; i++)
		pool_put(&pool, m1[i].sysex);
	assert_int_equal(pool.in_use, 0);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_every_type),
		cmocka_unit_test(test_running_status),
		cmocka_unit_test(test_sysex_chunks),
		cmocka_unit_test(test_refusals_leave_state),
		cmocka_unit_test(test_invalid),
		cmocka_unit_test(test_max_size),
		cmocka_unit_test(test_round_trip),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
