/* JSON records of MIDI messages: the exact `phasorctl decode` schema. */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <cmocka.h>

#include "midi/midi_json.h"

struct json_case {
	struct midi_msg m;  /* input (sysex filled separately) */
	const char *sysex;  /* payload for MIDI_SYSEX rows, as raw bytes */
	uint16_t sysex_len; /* payload length */
	const char *want;   /* exact record */
};

#define CH(t, c, d0, d1) { .type = (t), .channel = (c), .data = { (d0), (d1) } }
#define SYS(t, d0, d1) { .type = (t), .data = { (d0), (d1) } }

static const struct json_case json_cases[] = {
	{ CH(MIDI_NOTE_OFF, 0, 60, 0), NULL, 0,
	  "{\"type\":\"note-off\",\"channel\":1,\"note\":60,\"velocity\":0}" },
	{ CH(MIDI_NOTE_ON, 0, 60, 100), NULL, 0,
	  "{\"type\":\"note-on\",\"channel\":1,\"note\":60,\"velocity\":100}" },
	{ CH(MIDI_NOTE_ON, 15, 127, 0), NULL, 0, /* velocity 0 stays note-on; channel 16 */
	  "{\"type\":\"note-on\",\"channel\":16,\"note\":127,\"velocity\":0}" },
	{ CH(MIDI_POLY_PRESSURE, 0, 60, 30), NULL, 0,
	  "{\"type\":\"poly-pressure\",\"channel\":1,\"note\":60,\"pressure\":30}" },
	{ CH(MIDI_CONTROL_CHANGE, 0, 7, 100), NULL, 0,
	  "{\"type\":\"control-change\",\"channel\":1,\"controller\":7,\"value\":100}" },
	{ CH(MIDI_PROGRAM_CHANGE, 0, 5, 0), NULL, 0,
	  "{\"type\":\"program-change\",\"channel\":1,\"program\":5}" },
	{ CH(MIDI_CHANNEL_PRESSURE, 9, 30, 0), NULL, 0,
	  "{\"type\":\"channel-pressure\",\"channel\":10,\"pressure\":30}" },
	{ CH(MIDI_PITCH_BEND, 0, 0, 0), NULL, 0,
	  "{\"type\":\"pitch-bend\",\"channel\":1,\"value\":-8192}" },
	{ CH(MIDI_PITCH_BEND, 0, 0, 0x40), NULL, 0,
	  "{\"type\":\"pitch-bend\",\"channel\":1,\"value\":0}" },
	{ CH(MIDI_PITCH_BEND, 0, 0x7F, 0x7F), NULL, 0,
	  "{\"type\":\"pitch-bend\",\"channel\":1,\"value\":8191}" },
	{ CH(MIDI_PITCH_BEND, 2, 0x01, 0x3F), NULL, 0, /* LSB first: 0x3F<<7|1 - 8192 = -127 */
	  "{\"type\":\"pitch-bend\",\"channel\":3,\"value\":-127}" },
	{ { .type = MIDI_SYSEX, .flags = MIDI_F_SYSEX_START }, "\x7e\x7f\x06\x01", 4,
	  "{\"type\":\"sysex\",\"data\":\"7e7f0601\"}" },
	{ { .type = MIDI_SYSEX, .flags = MIDI_F_SYSEX_START | MIDI_F_SYSEX_CONT }, "\x00\x0a", 2,
	  "{\"type\":\"sysex\",\"data\":\"000a\",\"continued\":true}" },
	{ { .type = MIDI_SYSEX, .flags = MIDI_F_SYSEX_CONT }, "\x7f", 1,
	  "{\"type\":\"sysex\",\"data\":\"7f\",\"continued\":true}" },
	{ { .type = MIDI_SYSEX, .flags = 0 }, "", 0,
	  "{\"type\":\"sysex\",\"data\":\"\"}" },
	{ { .type = MIDI_SYSEX, .flags = MIDI_F_SYSEX_TRUNC }, "\x10", 1,
	  "{\"type\":\"sysex\",\"data\":\"10\",\"truncated\":true}" },
	{ SYS(MIDI_MTC_QUARTER_FRAME, 37, 0), NULL, 0,
	  "{\"type\":\"mtc-quarter-frame\",\"value\":37}" },
	{ SYS(MIDI_SONG_POSITION, 0x10, 0x02), NULL, 0,
	  "{\"type\":\"song-position\",\"position\":272}" },
	{ SYS(MIDI_SONG_POSITION, 0x7F, 0x7F), NULL, 0,
	  "{\"type\":\"song-position\",\"position\":16383}" },
	{ SYS(MIDI_SONG_SELECT, 5, 0), NULL, 0, "{\"type\":\"song-select\",\"song\":5}" },
	{ SYS(MIDI_TUNE_REQUEST, 0, 0), NULL, 0, "{\"type\":\"tune-request\"}" },
	{ SYS(MIDI_CLOCK, 0, 0), NULL, 0, "{\"type\":\"clock\"}" },
	{ SYS(MIDI_START, 0, 0), NULL, 0, "{\"type\":\"start\"}" },
	{ SYS(MIDI_CONTINUE, 0, 0), NULL, 0, "{\"type\":\"continue\"}" },
	{ SYS(MIDI_STOP, 0, 0), NULL, 0, "{\"type\":\"stop\"}" },
	{ SYS(MIDI_ACTIVE_SENSING, 0, 0), NULL, 0, "{\"type\":\"active-sensing\"}" },
	{ SYS(MIDI_RESET, 0, 0), NULL, 0, "{\"type\":\"reset\"}" },
};

static void fill(struct midi_msg *m, struct midi_sysex_chunk *ch, const struct json_case *c)
{
	*m = c->m;
	if (m->type == MIDI_SYSEX) {
		ch->len = c->sysex_len;
		memcpy(ch->data, c->sysex, c->sysex_len);
		m->sysex = ch;
	}
}

static void test_every_record(void **state)
{
	char buf[MIDI_JSON_MAX];

	(void)state;
	for (size_t i = 0; i < sizeof(json_cases) / sizeof(json_cases[0]); i++) {
		struct midi_sysex_chunk ch;
		struct midi_msg m;

		fill(&m, &ch, &json_cases[i]);
		int r = midi_json_format(&m, buf, sizeof(buf));
		assert_int_equal(r, (int)strlen(json_cases[i].want));
		assert_string_equal(buf, json_cases[i].want);
	}
}

static void test_extra_members(void **state)
{
	struct midi_msg m = CH(MIDI_NOTE_ON, 0, 60, 100);
	struct midi_msg clk = SYS(MIDI_CLOCK, 0, 0);
	char buf[MIDI_JSON_MAX + 64];

	(void)state;
	assert_true(midi_json_format_ex(&m, "\"port\":2", "\"due_ns\":5,\"t_ns\":7", buf,
					 sizeof(buf)) > 0);
	assert_string_equal(buf, "{\"port\":2,\"type\":\"note-on\",\"channel\":1,\"note\":60,"
				 "\"velocity\":100,\"due_ns\":5,\"t_ns\":7}");
	assert_true(midi_json_format_ex(&clk, "", "\"t_ns\":-1", buf, sizeof(buf)) > 0);
	assert_string_equal(buf, "{\"type\":\"clock\",\"t_ns\":-1}");
	assert_true(midi_json_format_ex(&clk, "\"port\":0", NULL, buf, sizeof(buf)) > 0);
	assert_string_equal(buf, "{\"port\":0,\"type\":\"clock\"}");
}

/* Every buffer size short of the record's length + 1 is refused, and
 * leaves "" behind; exactly enough works. */
static void test_short_buffers(void **state)
{
	char buf[MIDI_JSON_MAX];

	(void)state;
	for (size_t i = 0; i < sizeof(json_cases) / sizeof(json_cases[0]); i++) {
		struct midi_sysex_chunk ch;
		struct midi_msg m;
		size_t len = strlen(json_cases[i].want);

		fill(&m, &ch, &json_cases[i]);
		for (size_t n = 1; n <= len; n++) {
			memset(buf, 'X', sizeof(buf));
			assert_int_equal(midi_json_format(&m, buf, n), -ENOSPC);
			assert_string_equal(buf, "");
		}
		assert_int_equal(midi_json_format(&m, buf, 0), -ENOSPC);
		assert_int_equal(midi_json_format(&m, buf, len + 1), (int)len);
		assert_string_equal(buf, json_cases[i].want);
	}
}

static void test_max_fits_worst_case(void **state)
{
	struct midi_sysex_chunk ch;
	struct midi_msg m = { .type = MIDI_SYSEX, .flags = MIDI_F_SYSEX_START | MIDI_F_SYSEX_CONT,
			      .sysex = &ch };
	char buf[MIDI_JSON_MAX];
	int r;

	(void)state;
	ch.len = MIDI_SYSEX_CHUNK_MAX;
	memset(ch.data, 0x7f, sizeof(ch.data));
	r = midi_json_format(&m, buf, sizeof(buf));
	assert_true(r > 2 * MIDI_SYSEX_CHUNK_MAX);
	assert_true(r < MIDI_JSON_MAX);
	m.flags = MIDI_F_SYSEX_TRUNC;
	r = midi_json_format(&m, buf, sizeof(buf));
	assert_true(r > 2 * MIDI_SYSEX_CHUNK_MAX && r < MIDI_JSON_MAX);
}

static void test_invalid_messages(void **state)
{
	struct midi_sysex_chunk ch = { .len = 2, .data = { 0x01, 0x80 } };
	struct midi_msg bad[] = {
		CH(MIDI_NOTE_ON, 16, 60, 100),  /* channel out of range */
		CH(MIDI_NOTE_ON, 0, 128, 100),  /* data byte with bit 7 */
		CH(MIDI_CONTROL_CHANGE, 0, 7, 200),
		CH(0x91, 0, 60, 100),           /* channel nibble not cleared */
		SYS(0xF4, 0, 0),                /* undefined status */
		SYS(0xFD, 0, 0),
		SYS(0x40, 0, 0),                /* not a status at all */
		{ .type = MIDI_SYSEX },         /* no chunk */
		{ .type = MIDI_SYSEX, .sysex = &ch }, /* payload byte with bit 7 */
	};
	char buf[MIDI_JSON_MAX];

	(void)state;
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		strcpy(buf, "junk");
		assert_int_equal(midi_json_format(&bad[i], buf, sizeof(buf)), -EINVAL);
		assert_string_equal(buf, "");
	}
	ch.len = MIDI_SYSEX_CHUNK_MAX + 1;
	ch.data[1] = 0;
	assert_int_equal(midi_json_format(&bad[8], buf, sizeof(buf)), -EINVAL);
	assert_int_equal(midi_json_format(NULL, buf, sizeof(buf)), -EINVAL);
}

static void test_type_names(void **state)
{
	(void)state;
	assert_string_equal(midi_json_type_name(MIDI_PITCH_BEND), "pitch-bend");
	assert_string_equal(midi_json_type_name(MIDI_RESET), "reset");
	assert_null(midi_json_type_name(0x91));
	assert_null(midi_json_type_name(0xF5));
	assert_null(midi_json_type_name(0xF7)); /* EOX is part of SysEx, never a record */
	assert_null(midi_json_type_name(0xF9));
	assert_null(midi_json_type_name(0x00));
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_every_record),
		cmocka_unit_test(test_extra_members),
		cmocka_unit_test(test_short_buffers),
		cmocka_unit_test(test_max_fits_worst_case),
		cmocka_unit_test(test_invalid_messages),
		cmocka_unit_test(test_type_names),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
