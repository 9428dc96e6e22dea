/* The dump backend: exact records (port, due_ns, t_ns, decode schema),
 * refusals, the queue limit, SysEx copied at send(), notifications. */
#include <errno.h>
#include <inttypes.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <cmocka.h>

#include "midi/midi_dump.h"

static struct midi_dump d; /* large (its queue): not on the stack */

static int64_t mono_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (int64_t)ts.tv_sec * 1000000000 + ts.tv_nsec;
}

static char *tmp_path(void)
{
	static char path[64];
	int fd;

	snprintf(path, sizeof(path), "/tmp/ps-test-dump.XXXXXX");
	fd = mkstemp(path);
	assert_true(fd >= 0);
	close(fd);
	return path;
}

static int add(const char *name, int dir)
{
	struct midi_port_cfg pc = { .dir = dir };

	snprintf(pc.name, sizeof(pc.name), "%s", name);
	return d.base.ops->port_add(&d.base, &pc);
}

/* Reads the file's lines into `lines` (at most max); returns the count. */
static int read_lines(const char *path, char lines[][512], int max)
{
	FILE *f = fopen(path, "r");
	int n = 0;

	assert_non_null(f);
	while (n < max && fgets(lines[n], 512, f))
		lines[n][strcspn(lines[n], "\n")] = 0, n++;
	fclose(f);
	return n;
}

/* Checks one record: exact text with the t_ns value cut out, t_ns in range. */
static void assert_record(const char *line, const char *head, const char *tail, int64_t t_lo,
			  int64_t t_hi)
{
	size_t hl = strlen(head);
	long long t;
	char *end;

	assert_memory_equal(line, head, hl);
	t = strtoll(line + hl, &end, 10);
	assert_string_equal(end, tail);
	assert_true(t >= t_lo && t <= t_hi);
}

static void test_records(void **state)
{
	struct midi_dump_cfg cfg = { .path = tmp_path() };
	struct midi_sysex_chunk sx = { .len = 3, .data = { 0x7E, 0x7F, 0x06 } };
	struct midi_msg on = { .type = MIDI_NOTE_ON, .channel = 9, .data = { 36, 100 } };
	struct midi_msg sysex = { .type = MIDI_SYSEX, .flags = MIDI_F_SYSEX_START | MIDI_F_SYSEX_CONT,
				  .sysex = &sx };
	struct midi_msg clk = { .type = MIDI_CLOCK };
	struct midi_notify n[4];
	char lines[8][512];
	int64_t t0, t1;

	(void)state;
	assert_int_equal(midi_dump_open(&d, &cfg), 0);
	assert_string_equal(d.base.ops->name, "dump");
	assert_int_equal(add("clock-out", MIDI_PORT_OUT), 0);
	assert_int_equal(add("in", MIDI_PORT_IN), 1);
	assert_int_equal(add("notes", MIDI_PORT_OUT), 2);
	assert_int_equal(d.base.ops->service(&d.base, n, 4), 2); /* outputs are "connected" */
	assert_int_equal(n[0].type, MIDI_NOTIFY_CONNECTED);
	assert_int_equal(n[0].port, 0);
	assert_int_equal(n[1].port, 2);
	assert_string_equal(n[1].peer, cfg.path);
	assert_int_equal(d.base.ops->service(&d.base, n, 4), 0);

	t0 = mono_ns();
	assert_int_equal(d.base.ops->send(&d.base, 2, &on, 1000), 0);
	assert_int_equal(d.base.ops->send(&d.base, 2, &sysex, 2000), 0);
	sx.data[0] = 0x01; /* the caller keeps its chunk: the record was copied */
	assert_int_equal(d.base.ops->send(&d.base, 0, &clk, -5), 0);
	t1 = mono_ns();
	assert_int_equal(d.base.ops->flush(&d.base), 0);
	assert_int_equal(read_lines(cfg.path, lines, 8), 0); /* nothing written by the engine side */
	assert_int_equal(d.base.ops->service(&d.base, n, 4), 0);
	assert_int_equal(read_lines(cfg.path, lines, 8), 3);
	assert_record(lines[0], "{\"port\":2,\"due_ns\":1000,\"t_ns\":",
		      ",\"type\":\"note-on\",\"channel\":10,\"note\":36,\"velocity\":100}", t0, t1);
	assert_record(lines[1], "{\"port\":2,\"due_ns\":2000,\"t_ns\":",
		      ",\"type\":\"sysex\",\"data\":\"7e7f06\",\"continued\":true}", t0, t1);
	assert_record(lines[2], "{\"port\":0,\"due_ns\":-5,\"t_ns\":", ",\"type\":\"clock\"}", t0, t1);
	assert_int_equal(d.stats.tx_events, 3);
	assert_int_equal(d.stats.written, 3);
	d.base.ops->close(&d.base);
	unlink(cfg.path);
}

static void test_refusals(void **state)
{
	struct midi_dump_cfg cfg = { .path = tmp_path() };
	struct midi_msg ok = { .type = MIDI_CONTROL_CHANGE, .channel = 0, .data = { 7, 100 } };
	struct midi_msg bad[] = {
		{ .type = 0xF4 },                                          /* undefined */
		{ .type = MIDI_NOTE_ON, .channel = 16, .data = { 60, 1 } }, /* channel */
		{ .type = MIDI_NOTE_ON, .channel = 0, .data = { 128, 1 } }, /* data byte */
		{ .type = MIDI_SYSEX },                                    /* no chunk */
		{ .type = MIDI_CLOCK, .channel = 3 },                      /* system with channel */
	};
	struct midi_event_in ev;
	char lines[4][512];

	(void)state;
	assert_int_equal(midi_dump_open(&d, &cfg), 0);
	assert_int_equal(add("out", MIDI_PORT_OUT), 0);
	assert_int_equal(add("in", MIDI_PORT_IN), 1);
	assert_int_equal(d.base.ops->send(&d.base, 1, &ok, 0), -EINVAL);  /* input port */
	assert_int_equal(d.base.ops->send(&d.base, 2, &ok, 0), -EINVAL);  /* no such port */
	assert_int_equal(d.base.ops->send(&d.base, -1, &ok, 0), -EINVAL);
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++)
		assert_int_equal(d.base.ops->send(&d.base, 0, &bad[i], 0), -EINVAL);
	assert_int_equal(d.stats.tx_errors, 5);
	assert_int_equal(d.base.ops->recv(&d.base, &ev), -EAGAIN);
	assert_int_equal(d.base.ops->drop_pending(&d.base, -1), 0);
	assert_int_equal(d.base.ops->drop_pending(&d.base, 2), -EINVAL);
	assert_int_equal(midi_dump_drain(&d), 0);
	assert_int_equal(read_lines(cfg.path, lines, 4), 0);
	d.base.ops->close(&d.base);
	unlink(cfg.path);
}

static void test_queue_full_drops_and_counts(void **state)
{
	struct midi_dump_cfg cfg = { .path = tmp_path() };
	struct midi_msg clk = { .type = MIDI_CLOCK };
	FILE *f;
	int lines = 0, c;

	(void)state;
	assert_int_equal(midi_dump_open(&d, &cfg), 0);
	assert_int_equal(add("out", MIDI_PORT_OUT), 0);
	for (int i = 0; i < MIDI_DUMP_QUEUE; i++)
		assert_int_equal(d.base.ops->send(&d.base, 0, &clk, i), 0);
	assert_int_equal(d.base.ops->send(&d.base, 0, &clk, 0), -ENOSPC);
	assert_int_equal(d.stats.tx_full, 1);
	assert_int_equal(midi_dump_drain(&d), MIDI_DUMP_QUEUE);
	assert_int_equal(d.base.ops->send(&d.base, 0, &clk, 0), 0); /* room again */
	d.base.ops->close(&d.base);                                 /* writes the last one */
	f = fopen(cfg.path, "r");
	assert_non_null(f);
	while ((c = fgetc(f)) != EOF)
		lines += c == '\n';
	fclose(f);
	assert_int_equal(lines, MIDI_DUMP_QUEUE + 1);
	unlink(cfg.path);
}

static void test_open_failure(void **state)
{
	struct midi_dump_cfg cfg = { .path = "/nonexistent-dir/x.jsonl" };

	(void)state;
	assert_int_equal(midi_dump_open(&d, &cfg), -ENOENT);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_records),
		cmocka_unit_test(test_refusals),
		cmocka_unit_test(test_queue_full_drops_and_counts),
		cmocka_unit_test(test_open_failure),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
