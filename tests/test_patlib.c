/*
 * The pattern library (src/control/patlib.c) on real files in a temporary
 * directory: settings per pattern from [patterns] and [pattern.NAME];
 * slots stable by name across reloads; an unchanged file keeps its object
 * (shared, so the engine sees no change), a changed one gets a new object;
 * a removed file frees its slot and a new one takes the lowest free slot;
 * releasing frees exactly the objects the new library does not share; more
 * files than slots are skipped, not fatal.
 */
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

#include "control/config.h"
#include "control/patlib.h"

static char dir[64];

/* One bar of 4/4 at 96 PPQN: `key` on channel 1 for a quarter note, and
 * with `tempo_us` a Set Tempo at 0. */
static void write_mid(const char *name, int key, int tempo_us)
{
	uint8_t trk[64], buf[128];
	size_t n = 0, len = 0;
	char path[128];
	FILE *f;

	if (tempo_us) {
		const uint8_t t[] = { 0x00, 0xff, 0x51, 0x03, (uint8_t)(tempo_us >> 16),
				      (uint8_t)(tempo_us >> 8), (uint8_t)tempo_us };
		memcpy(trk + n, t, sizeof(t));
		n += sizeof(t);
	}
	const uint8_t notes[] = { 0x00, 0x90, (uint8_t)key, 100, 0x60, 0x80, (uint8_t)key, 64,
				  0x82, 0x20, 0xff, 0x2f, 0x00 };
	memcpy(trk + n, notes, sizeof(notes));
	n += sizeof(notes);
	memcpy(buf, "MThd\0\0\0\6\0\0\0\1\0\x60MTrk", 18);
	len = 18;
	buf[len++] = 0;
	buf[len++] = 0;
	buf[len++] = 0;
	buf[len++] = (uint8_t)n;
	memcpy(buf + len, trk, n);
	len += n;
	snprintf(path, sizeof(path), "%s/%s", dir, name);
	f = fopen(path, "wb");
	assert_non_null(f);
	assert_int_equal(fwrite(buf, 1, len, f), len);
	fclose(f);
}

static void remove_mid(const char *name)
{
	char path[128];

	snprintf(path, sizeof(path), "%s/%s", dir, name);
	assert_int_equal(unlink(path), 0);
}

static int setup(void **state)
{
	(void)state;
	snprintf(dir, sizeof(dir), "/tmp/ps-test-patlib-XXXXXX");
	assert_non_null(mkdtemp(dir));
	return 0;
}

static int teardown(void **state)
{
	char cmd[128];

	(void)state;
	snprintf(cmd, sizeof(cmd), "rm -rf %s", dir);
	return system(cmd) == 0 ? 0 : -1;
}

static void config_for(struct config *c, const char *const *sets)
{
	char err[CONFIG_ERR_MAX], kv[256];

	config_defaults(c);
	snprintf(kv, sizeof(kv), "patterns.dir=%s", dir);
	assert_int_equal(config_set(c, kv, err, sizeof(err)), 0);
	for (; sets && *sets; sets++)
		if (config_set(c, *sets, err, sizeof(err)) < 0)
			fail_msg("%s: %s", *sets, err);
}

static void test_settings_and_slots(void **state)
{
	static const char *const sets[] = {
		"output.a.ppqn=24", "output.b.ppqn=24", "patterns.group=main",
		"pattern.drums.output=b", "pattern.drums.channel=10", "pattern.drums.tempo=file",
		"pattern.solo.group=", NULL,
	};
	static struct config c;
	static struct patlib lib;
	int sorted[ENGINE_MAX_PATTERNS];

	(void)state;
	write_mid("drums.mid", 36, 500000);
	write_mid("bass.mid", 40, 0);
	write_mid("solo.mid", 72, 0);
	config_for(&c, sets);
	assert_int_equal(patlib_load(&lib, NULL, &c), 3);
	assert_int_equal(lib.table.n, 3);
	/* a first load: slots in name order */
	assert_int_equal(patlib_slot(&lib, "bass"), 0);
	assert_int_equal(patlib_slot(&lib, "drums"), 1);
	assert_int_equal(patlib_slot(&lib, "solo"), 2);
	assert_int_equal(patlib_slot(&lib, "nope"), -1);
	/* drums: its own output, channel and tempo map; the group from [patterns] */
	assert_int_equal(lib.table.slot[1].out, 1);
	assert_true(lib.table.slot[1].tempo);
	assert_int_equal(lib.pat[1]->ntempo, 1);
	assert_int_equal(lib.pat[1]->events[0].msg.channel, 9);
	assert_int_equal(lib.table.slot[0].out, 0);
	assert_false(lib.table.slot[0].tempo);
	assert_int_equal(lib.pat[0]->ntempo, 0);
	assert_true(lib.table.slot[0].group > 0);
	assert_int_equal(lib.table.slot[0].group, lib.table.slot[1].group);
	assert_int_equal(lib.table.slot[2].group, 0); /* solo: no group */
	assert_int_equal(patlib_sorted(&lib, sorted), 3);
	assert_int_equal(sorted[0], 0);
	assert_int_equal(sorted[2], 2);
	patlib_release(&lib, NULL);
	assert_int_equal(lib.table.n, 0);
}

static void test_reload_keeps_slots_and_objects(void **state)
{
	static struct config c;
	static struct patlib cur, next, again;
	struct pattern *kept, *changed;
	int sorted[ENGINE_MAX_PATTERNS];

	(void)state;
	write_mid("b.mid", 40, 0);
	write_mid("c.mid", 41, 0);
	write_mid("d.mid", 42, 0);
	config_for(&c, NULL);
	assert_int_equal(patlib_load(&cur, NULL, &c), 3);
	assert_int_equal(cur.gen, 0);
	kept = cur.pat[1];    /* c */
	changed = cur.pat[2]; /* d */
	/* a is new (sorts first), b goes, c stays, d changes */
	write_mid("a.mid", 39, 0);
	remove_mid("b.mid");
	write_mid("d.mid", 50, 0);
	assert_int_equal(patlib_load(&next, &cur, &c), 3);
	assert_int_equal(next.gen, 1);
	assert_int_equal(patlib_slot(&next, "c"), 1);
	assert_int_equal(patlib_slot(&next, "d"), 2);
	assert_int_equal(patlib_slot(&next, "a"), 0); /* b's slot, now free */
	assert_int_equal(patlib_slot(&next, "b"), -1);
	assert_ptr_equal(next.pat[1], kept);          /* unchanged: the same object */
	assert_ptr_not_equal(next.pat[2], changed);   /* changed: a new one */
	assert_int_equal(next.pat[2]->events[0].msg.data[0], 50);
	assert_false(patlib_same_table(&cur.table, &next.table));
	assert_int_equal(patlib_sorted(&next, sorted), 3);
	assert_int_equal(sorted[0], 0); /* a */
	assert_int_equal(sorted[1], 1); /* c */
	/* the hand-over done: b and the old d are freed, c lives on in next
	 * (the leak-checking allocator of the sanitizer builds would tell) */
	patlib_release(&cur, &next);
	assert_int_equal(next.pat[1]->events[0].msg.data[0], 41);
	/* a reload with nothing changed: the same table, the same objects */
	assert_int_equal(patlib_load(&again, &next, &c), 3);
	assert_true(patlib_same_table(&next.table, &again.table));
	patlib_release(&next, &again);
	patlib_release(&again, NULL);
}

/* More files than slots: the first ENGINE_MAX_PATTERNS by name play, the
 * rest are skipped; a missing directory gives an empty library. */
static void test_limits(void **state)
{
	static struct config c;
	static struct patlib lib;
	char name[32], err[CONFIG_ERR_MAX];

	(void)state;
	for (int i = 0; i < ENGINE_MAX_PATTERNS + 3; i++) {
		snprintf(name, sizeof(name), "p%02d.mid", i);
		write_mid(name, 40 + i % 40, 0);
	}
	config_for(&c, NULL);
	assert_int_equal(patlib_load(&lib, NULL, &c), ENGINE_MAX_PATTERNS);
	assert_int_equal(lib.table.n, ENGINE_MAX_PATTERNS);
	assert_int_equal(patlib_slot(&lib, "p31"), 31);
	assert_int_equal(patlib_slot(&lib, "p32"), -1);
	patlib_release(&lib, NULL);
	assert_int_equal(config_set(&c, "patterns.dir=/nonexistent/patterns", err, sizeof(err)), 0);
	assert_int_equal(patlib_load(&lib, NULL, &c), 0);
	assert_int_equal(lib.table.n, 0);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(test_settings_and_slots, setup, teardown),
		cmocka_unit_test_setup_teardown(test_reload_keeps_slots_and_objects, setup, teardown),
		cmocka_unit_test_setup_teardown(test_limits, setup, teardown),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
