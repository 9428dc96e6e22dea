/* Backend choice: names, auto -> dump with one warning when there is no
 * sequencer, alsa fails clearly, auto never hides a broken sequencer behind
 * the dump, rawmidi reports a missing device. */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <cmocka.h>

#include "midi/midi_auto.h"

static struct midi_auto m; /* large: not on the stack */

static void test_kind_names(void **state)
{
	(void)state;
	assert_int_equal(midi_auto_kind_parse("auto"), MIDI_AUTO_AUTO);
	assert_int_equal(midi_auto_kind_parse("alsa"), MIDI_AUTO_ALSA);
	assert_int_equal(midi_auto_kind_parse("rawmidi"), MIDI_AUTO_RAWMIDI);
	assert_int_equal(midi_auto_kind_parse("dump"), MIDI_AUTO_DUMP);
	assert_int_equal(midi_auto_kind_parse("ALSA"), -EINVAL);
	assert_int_equal(midi_auto_kind_parse(""), -EINVAL);
	assert_int_equal(midi_auto_kind_parse(NULL), -EINVAL);
	assert_string_equal(midi_auto_kind_name(MIDI_AUTO_RAWMIDI), "rawmidi");
	assert_string_equal(midi_auto_kind_name(9), "?");
}

static void test_auto_without_sequencer_dumps_with_one_warning(void **state)
{
	struct midi_auto_cfg cfg = { .kind = MIDI_AUTO_AUTO, .seq_device = "/nonexistent/seq",
				     .dump = { .path = "/dev/null" } };
	char msg[MIDI_AUTO_MSG_MAX];

	(void)state;
	assert_int_equal(midi_auto_open(&m, &cfg, msg, sizeof(msg)), 0);
	assert_int_equal(m.kind, MIDI_AUTO_DUMP);
	assert_string_equal(midi_auto_backend(&m)->ops->name, "dump");
	assert_string_equal(msg, "no ALSA sequencer (/nonexistent/seq: No such file or directory): "
				 "MIDI goes to the dump backend (/dev/null)");
	assert_null(strchr(msg, '\n'));
	midi_auto_backend(&m)->ops->close(midi_auto_backend(&m));
}

static void test_alsa_forced_fails_clearly(void **state)
{
	struct midi_auto_cfg cfg = { .kind = MIDI_AUTO_ALSA, .seq_device = "/nonexistent/seq" };
	char msg[MIDI_AUTO_MSG_MAX];

	(void)state;
	assert_int_equal(midi_auto_open(&m, &cfg, msg, sizeof(msg)), -ENOENT);
	assert_string_equal(msg, "midi.backend = alsa: no ALSA sequencer "
				 "(/nonexistent/seq: No such file or directory)");
}

static void test_auto_never_hides_a_broken_sequencer(void **state)
{
	char seq[] = "/tmp/ps-test-seq.XXXXXX";
	struct midi_auto_cfg cfg = { .kind = MIDI_AUTO_AUTO, .seq_device = seq };
	char msg[MIDI_AUTO_MSG_MAX];
	int fd = mkstemp(seq), r;

	(void)state;
	assert_true(fd >= 0);
	close(fd);
	/* The device "exists": auto must pick ALSA.  Where the real sequencer
	 * opens that is success; where it does not (this machine has no
	 * /dev/snd/seq), the error must come back, not a dump. */
	r = midi_auto_open(&m, &cfg, msg, sizeof(msg));
	assert_int_equal(m.kind, MIDI_AUTO_ALSA);
	if (r == 0) {
		assert_string_equal(midi_auto_backend(&m)->ops->name, "alsa");
		midi_auto_backend(&m)->ops->close(midi_auto_backend(&m));
	} else {
		assert_non_null(strstr(msg, "cannot open the ALSA sequencer"));
	}
	unlink(seq);
}

static void test_rawmidi_missing_device(void **state)
{
	struct midi_auto_cfg cfg = { .kind = MIDI_AUTO_RAWMIDI };
	struct midi_port_cfg pc = { .name = "out", .dir = MIDI_PORT_OUT, .connect = "hw:99,0,0" };
	struct midi_backend *b;
	char msg[MIDI_AUTO_MSG_MAX];
	int fds[2];

	(void)state;
	assert_int_equal(midi_auto_open(&m, &cfg, msg, sizeof(msg)), 0);
	assert_string_equal(msg, "");
	b = midi_auto_backend(&m);
	assert_string_equal(b->ops->name, "rawmidi");
	assert_true(b->ops->port_add(b, &pc) < 0);
	assert_int_equal(b->ops->input_fds(b, fds, 2), 1);   /* the epoll set, even when empty */
	assert_int_equal(b->ops->service_fds(b, fds, 2), 1); /* the retry timer */
	b->ops->close(b);
}

static void test_dump_bad_path(void **state)
{
	struct midi_auto_cfg cfg = { .kind = MIDI_AUTO_DUMP, .dump = { .path = "/nonexistent/x" } };
	char msg[MIDI_AUTO_MSG_MAX];

	(void)state;
	assert_int_equal(midi_auto_open(&m, &cfg, msg, sizeof(msg)), -ENOENT);
	assert_string_equal(msg, "cannot open the MIDI dump file /nonexistent/x: No such file or directory");
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_kind_names),
		cmocka_unit_test(test_auto_without_sequencer_dumps_with_one_warning),
		cmocka_unit_test(test_alsa_forced_fails_clearly),
		cmocka_unit_test(test_auto_never_hides_a_broken_sequencer),
		cmocka_unit_test(test_rawmidi_missing_device),
		cmocka_unit_test(test_dump_bad_path),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
