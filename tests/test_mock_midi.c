/* The MIDI mock behaves as its header says: expectations on sends and
 * drops, record mode, scripted input and notifications. */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include "mock_midi.h"

static struct mock_midi m;

static void test_expected_sends_and_drops(void **state)
{
	struct midi_port_cfg pc = { .name = "out", .dir = MIDI_PORT_OUT };
	struct midi_msg on = { .type = MIDI_NOTE_ON, .channel = 3, .data = { 60, 99 } };
	struct midi_msg clk = { .type = MIDI_CLOCK };
	struct midi_backend *b = &m.base;

	(void)state;
	mock_midi_init(&m);
	assert_string_equal(b->ops->name, "mock");
	assert_int_equal(b->ops->port_add(b, &pc), 0);
	assert_int_equal(b->ops->port_add(b, &pc), 1);
	expect_midi_send(1, MIDI_NOTE_ON, 3, 60, 99, 5000, 0);
	expect_midi_send(0, MIDI_CLOCK, 0, 0, 0, 6000, -ENOTCONN);
	assert_int_equal(b->ops->send(b, 1, &on, 5000), 0);
	assert_int_equal(b->ops->send(b, 0, &clk, 6000), -ENOTCONN);
	expect_midi_drop(-1, 0);
	assert_int_equal(b->ops->drop_pending(b, -1), 0);
	assert_int_equal(b->ops->flush(b), 0);
	assert_int_equal(m.flushes, 1);
	b->ops->close(b);
	assert_int_equal(m.closes, 1);
}

static void test_record_mode(void **state)
{
	struct midi_msg clk = { .type = MIDI_CLOCK };
	struct midi_backend *b = &m.base;

	(void)state;
	mock_midi_init(&m);
	m.record = true;
	for (int i = 0; i < MOCK_MIDI_RECORD; i++)
		assert_int_equal(b->ops->send(b, 0, &clk, i * 1000), 0);
	assert_int_equal(b->ops->send(b, 0, &clk, 0), -ENOSPC);
	assert_int_equal(m.nsent, MOCK_MIDI_RECORD);
	assert_int_equal(m.sent[7].due_ns, 7000);
	assert_int_equal(m.sent[7].msg.type, MIDI_CLOCK);
}

static void test_scripted_input_and_notifications(void **state)
{
	struct midi_event_in ev = { .t_ns = 42, .port = 1,
				    .msg = { .type = MIDI_START } }, got;
	struct midi_notify n = { .type = MIDI_NOTIFY_DISCONNECTED, .port = 2, .peer = "x:y" }, out[4];
	struct midi_backend *b = &m.base;
	int fds[2];

	(void)state;
	mock_midi_init(&m);
	assert_int_equal(b->ops->recv(b, &got), -EAGAIN);
	assert_int_equal(mock_midi_input(&m, &ev), 0);
	ev.t_ns = 43;
	assert_int_equal(mock_midi_input(&m, &ev), 0);
	assert_int_equal(b->ops->recv(b, &got), 0);
	assert_int_equal(got.t_ns, 42);
	assert_int_equal(got.port, 1);
	assert_int_equal(got.msg.type, MIDI_START);
	assert_int_equal(b->ops->recv(b, &got), 0);
	assert_int_equal(got.t_ns, 43);
	assert_int_equal(b->ops->recv(b, &got), -EAGAIN);
	assert_int_equal(mock_midi_notify(&m, &n), 0);
	assert_int_equal(b->ops->service(b, out, 4), 1);
	assert_string_equal(out[0].peer, "x:y");
	assert_int_equal(b->ops->service(b, out, 4), 0);
	assert_int_equal(b->ops->input_fds(b, fds, 2), 0);
	assert_int_equal(b->ops->service_fds(b, fds, 2), 0);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_expected_sends_and_drops),
		cmocka_unit_test(test_record_mode),
		cmocka_unit_test(test_scripted_input_and_notifications),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
