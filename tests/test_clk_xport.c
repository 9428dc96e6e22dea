/*
 * Transport of a followed MIDI input: tables of (message, expected action,
 * expected position) run through clk_xport_msg().
 */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include "clock/clk_xport.h"

#define NONE_POS INT64_C(-999) /* "position untouched" */

struct step {
	uint8_t type;   /* message type */
	uint8_t d0, d1; /* SPP data bytes */
	int action;     /* expected return */
	int64_t pos;    /* expected *pos_ticks, or NONE_POS when untouched */
	int state;      /* expected state afterwards */
};

static void run(const struct step *s, size_t n)
{
	struct clk_xport x;

	clk_xport_init(&x);
	for (size_t i = 0; i < n; i++) {
		struct midi_msg m = { .type = s[i].type, .data = { s[i].d0, s[i].d1 } };
		int64_t pos = NONE_POS;

		assert_int_equal(clk_xport_msg(&x, &m, &pos), s[i].action);
		assert_int_equal(pos, s[i].pos);
		assert_int_equal(x.state, s[i].state);
	}
}

#define S CLK_XPORT_STOPPED
#define A CLK_XPORT_ARMED
#define P CLK_XPORT_PLAYING

/* Start arms; the first clock after it is played at 0; Stop keeps the
 * position reached; clocks while stopped do not move it; Continue resumes
 * there at the next clock. */
static void test_start_stop_continue(void **state)
{
	static const struct step s[] = {
		{ MIDI_CLOCK, 0, 0, CLK_XPORT_NONE, NONE_POS, S },
		{ MIDI_START, 0, 0, CLK_XPORT_ARM, 0, A },
		{ MIDI_CLOCK, 0, 0, CLK_XPORT_PLAY, 0, P },
		{ MIDI_CLOCK, 0, 0, CLK_XPORT_TICK, 1, P },
		{ MIDI_CLOCK, 0, 0, CLK_XPORT_TICK, 2, P },
		{ MIDI_STOP, 0, 0, CLK_XPORT_STOP, 3, S },
		{ MIDI_CLOCK, 0, 0, CLK_XPORT_NONE, NONE_POS, S },
		{ MIDI_STOP, 0, 0, CLK_XPORT_NONE, NONE_POS, S },
		{ MIDI_CONTINUE, 0, 0, CLK_XPORT_ARM, 3, A },
		{ MIDI_CONTINUE, 0, 0, CLK_XPORT_NONE, NONE_POS, A },
		{ MIDI_CLOCK, 0, 0, CLK_XPORT_PLAY, 3, P },
		{ MIDI_CONTINUE, 0, 0, CLK_XPORT_NONE, NONE_POS, P },
		{ MIDI_CLOCK, 0, 0, CLK_XPORT_TICK, 4, P },
		{ MIDI_START, 0, 0, CLK_XPORT_ARM, 0, A }, /* restart while playing */
		{ MIDI_CLOCK, 0, 0, CLK_XPORT_PLAY, 0, P },
	};

	(void)state;
	run(s, sizeof(s) / sizeof(s[0]));
}

/* SPP counts 16th notes (6 clocks), 14 bits LSB first; it sets the
 * position of the next played clock, stopped or playing; a Stop while armed
 * disarms. */
static void test_song_position(void **state)
{
	static const struct step s[] = {
		{ MIDI_SONG_POSITION, 4, 0, CLK_XPORT_LOCATE, 24, S },
		{ MIDI_CLOCK, 0, 0, CLK_XPORT_NONE, NONE_POS, S },
		{ MIDI_CONTINUE, 0, 0, CLK_XPORT_ARM, 24, A },
		{ MIDI_STOP, 0, 0, CLK_XPORT_STOP, 24, S },
		{ MIDI_SONG_POSITION, 0x7F, 0x7F, CLK_XPORT_LOCATE, 16383 * 6, S },
		{ MIDI_SONG_POSITION, 0x00, 0x01, CLK_XPORT_LOCATE, 128 * 6, S },
		{ MIDI_CONTINUE, 0, 0, CLK_XPORT_ARM, 768, A },
		{ MIDI_CLOCK, 0, 0, CLK_XPORT_PLAY, 768, P },
		{ MIDI_SONG_POSITION, 8, 0, CLK_XPORT_LOCATE, 48, P }, /* a jump */
		{ MIDI_CLOCK, 0, 0, CLK_XPORT_TICK, 48, P },
		{ MIDI_START, 0, 0, CLK_XPORT_ARM, 0, A },
	};

	(void)state;
	run(s, sizeof(s) / sizeof(s[0]));
}

static void test_other_messages_ignored(void **state)
{
	struct clk_xport x;
	struct midi_msg m = { .type = MIDI_NOTE_ON, .data = { 60, 100 } };
	int64_t pos = NONE_POS;

	(void)state;
	clk_xport_init(&x);
	assert_int_equal(clk_xport_msg(&x, &m, &pos), -EINVAL);
	m.type = MIDI_ACTIVE_SENSING;
	assert_int_equal(clk_xport_msg(&x, &m, &pos), -EINVAL);
	assert_int_equal(x.ignored, 2);
	assert_int_equal(pos, NONE_POS);
	assert_int_equal(x.state, CLK_XPORT_STOPPED);
	m.type = MIDI_START;
	assert_int_equal(clk_xport_msg(&x, &m, NULL), CLK_XPORT_ARM); /* NULL is fine */
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_start_stop_continue),
		cmocka_unit_test(test_song_position),
		cmocka_unit_test(test_other_messages_ignored),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
