/* Config: defaults, valid files, and every kind of bad input rejected with
 * file:line, key, value and what is allowed - leaving the config untouched. */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <syslog.h>
#include <unistd.h>

#include <cmocka.h>

#include "audio/audio_engine.h"
#include "control/config.h"

static char path[64];

static const char *write_conf(const char *text)
{
	int fd;

	snprintf(path, sizeof(path), "/tmp/ps-test-config-XXXXXX");
	fd = mkstemp(path);
	assert_true(fd >= 0);
	assert_int_equal(write(fd, text, strlen(text)), (ssize_t)strlen(text));
	close(fd);
	return path;
}

static int teardown(void **state)
{
	(void)state;
	if (path[0])
		unlink(path);
	path[0] = '\0';
	return 0;
}

static void test_defaults(void **state)
{
	struct config c;

	(void)state;
	config_defaults(&c);
	assert_int_equal(c.rt.priority, 70);
	assert_int_equal(c.rt.cpu, -1);
	assert_true(c.rt.mlock);
	assert_int_equal(c.log.level, LOG_INFO);
}

static void test_valid_file(void **state)
{
	static struct config c;
	char err[CONFIG_ERR_MAX] = "";

	(void)state;
	config_defaults(&c);
	c.rt.cpu = 3; /* a file replaces everything: keys it omits return to defaults */
	write_conf("; comment\n# another\n[rt]\npriority = 85\nmlock = off\n\n[log]\nlevel = DEBUG\n");
	assert_int_equal(config_load_file(&c, path, err, sizeof(err)), 0);
	assert_int_equal(c.rt.priority, 85);
	assert_int_equal(c.rt.cpu, -1);
	assert_false(c.rt.mlock);
	assert_int_equal(c.log.level, LOG_DEBUG);
}

struct bad_case {
	const char *text;  /* file content */
	const char *want[3]; /* substrings the error must contain */
};

static void test_bad_files_rejected_state_unchanged(void **state)
{
	static const struct bad_case cases[] = {
		{ "[rt]\n\npriority = 150\n", { ":3: ", "rt.priority = '150'", "from 0 to 99" } },
		{ "[rt]\npriority = 7x\n", { ":2: ", "'7x'", "whole number" } },
		{ "[rt]\npriority =\n", { ":2: ", "''", "whole number" } },
		{ "[rt]\ncpu = -2\n", { "rt.cpu = '-2'", "from -1 to 1023", NULL } },
		{ "[rt]\nmlock = maybe\n", { "rt.mlock = 'maybe'", "true or false", NULL } },
		{ "[log]\nlevel = loud\n", { "log.level = 'loud'", "error, warning, notice, info, debug", NULL } },
		{ "[rt]\nprio = 1\n", { ":2: ", "unknown key 'prio' in [rt]", "priority, cpu, mlock" } },
		{ "[osc-typo]\nport = x\n", { "unknown section [osc-typo]", "rt, log, clock, midi, follow, audio, patterns, osc, output.NAME", NULL } },
		{ "[midi]\nport = x\n", { "unknown key 'port' in [midi]", "backend", NULL } },
		{ "[clock]\ntempo = 1000\n", { ":2: ", "clock.tempo = '1000'", "20 to 999 BPM" } },
		{ "[clock]\ntempo = 12O\n", { "clock.tempo = '12O'", NULL, NULL } },
		{ "[clock]\nlookahead_ms = 100.5\n", { "clock.lookahead_ms = '100.5'", "from 0 to 100 ms", NULL } },
		{ "[clock]\nlookahead_ms = 1.0001\n", { "up to 3 decimals", NULL, NULL } },
		{ "[clock]\nquantum = 0\n", { "clock.quantum = '0'", "from 1 to 64", NULL } },
		{ "[output.a]\nswing = 80\n", { "output.a.swing = '80'", "from 50 to 75", NULL } },
		{ "[output.a]\nswing_unit = 4\n", { "output.a.swing_unit = '4'", "16, 8", NULL } },
		{ "[output.a]\nppqn = 0\n", { "output.a.ppqn = '0'", "from 1 to 960", NULL } },
		{ "[output.a]\nbogus = 1\n", { "unknown key 'bogus' in [output.a]", "offset_us", NULL } },
		{ "[output.a b]\nppqn = 2\n", { "[output.a b]: output names", NULL, NULL } },
		{ "[output.x]\noffset_us = -11000\n", { ":2: ", "output.x.offset_us = -11000", "lookahead" } },
		{ "[output.x]\nport = p\n[output.y]\nport = p\n", { "both use port name 'p'", NULL, NULL } },
		{ "[midi]\nbackend = rawmidi\n", { "rawmidi_device", NULL, NULL } },
		{ "[patterns]\nchannel = 17\n", { "patterns.channel = '17'", "from -1 to 16", NULL } },
		{ "[patterns]\nchannel = 0\n", { "patterns.channel = 0", "1..16", NULL } },
		{ "[patterns]\nquantize = 2bars\n", { "patterns.quantize = '2bars'", "now, beat, bar", NULL } },
		{ "[patterns]\noutput = nope\n", { "patterns.output = nope", "no [output.nope]", NULL } },
		{ "[pattern.x]\nchannel = 0\n", { ":2: ", "pattern.x.channel = 0", "1..16" } },
		{ "[output.a]\n[pattern.my beat]\noutput = b\n", { ":3: ", "pattern.my beat.output = b", "no [output.b]" } },
		{ "[pattern.x]\ntempo = maybe\n", { "pattern.x.tempo = 'maybe'", "ignore, file", NULL } },
		{ "[patterns]\ngroup = a b\n", { "patterns.group = 'a b'", "group names are letters", NULL } },
		{ "[pattern.x]\nquantize = bar\n", { "unknown key 'quantize' in [pattern.x]", "output, channel, length_bars, tempo, group", NULL } },
		{ "[pattern. x]\nchannel = 2\n", { "[pattern. x]: pattern names are", NULL, NULL } },
		{ "[osc]\nport = 0\n", { "osc.port = '0'", "from 1 to 65535", NULL } },
		{ "[osc]\nbind = localhost\n", { "osc.bind = 'localhost'", "numeric", NULL } },
		{ "[osc]\nallow = 10.0.0.0/40\n", { "osc.allow", "'10.0.0.0/40' is not a network", NULL } },
		{ "[midi]\nclient_name = \n", { "midi.client_name = ''", "printable", NULL } },
		{ "[output.x]\nport =; a\n", { ":2: ", "output.x.port = '; a'", "must not contain ';' or '#'" } },
		{ "priority = 1\n", { ":1: ", "outside any [section]", NULL } },
		{ "[rt]\nthis line has no equals sign\n", { ":2: ", "not INI syntax", NULL } },
		{ "[rt\npriority = 1\n", { ":1: ", "not INI syntax", NULL } },
		{ "[rt]\npriority = 99999999999999999999\n", { "from 0 to 99", NULL, NULL } },
		{ "[rt]\npriority = 10\npriority = 500\ncpu = 1\n", { ":3: ", "'500'", NULL } },
		{ "[audio]\nenabled = true\nchannels = 1\n", { "audio.pulse_channel = 2", "from 0 (off) to 1 (audio.channels)", NULL } },
		{ "[audio]\nenabled = true\nchannels = 4\npulse2_channel = 2\n", { ":4: ", "audio.pulse_channel and audio.pulse2_channel both use channel 2", NULL } },
		{ "[audio]\nenabled = true\npulse3_ppqn = 0\n", { "audio.pulse3_ppqn = '0'", "from 1 to 96", NULL } },
	};

	(void)state;
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		static struct config c, before;
		char err[CONFIG_ERR_MAX] = "";

		config_defaults(&c);
		c.rt.priority = 42; /* a running value that must survive */
		before = c;
		write_conf(cases[i].text);
		assert_int_equal(config_load_file(&c, path, err, sizeof(err)), -EINVAL);
		assert_memory_equal(&c, &before, sizeof(c));
		assert_non_null(strstr(err, path));
		for (int j = 0; j < 3 && cases[i].want[j]; j++) {
			if (!strstr(err, cases[i].want[j]))
				fail_msg("case %zu: error \"%s\" lacks \"%s\"", i, err, cases[i].want[j]);
		}
		unlink(path);
	}
}

static void test_missing_file(void **state)
{
	struct config c;
	char err[CONFIG_ERR_MAX];

	(void)state;
	config_defaults(&c);
	assert_int_equal(config_load_file(&c, "/nonexistent/ps.conf", err, sizeof(err)), -ENOENT);
	assert_non_null(strstr(err, "/nonexistent/ps.conf: cannot read"));
}

static void test_set_assignments(void **state)
{
	static struct config c, before;
	char err[CONFIG_ERR_MAX];
	static const char *const bad[] = { "rt.priority", "priority=5", ".priority=5",
					   "rt.=5", "rt.priority=100", "rt.nope=1", "x.y=1",
					   "=", "" };

	(void)state;
	config_defaults(&c);
	assert_int_equal(config_set(&c, "rt.priority=12", err, sizeof(err)), 0);
	assert_int_equal(config_set(&c, "log.level=warning", err, sizeof(err)), 0);
	assert_int_equal(config_set(&c, "rt.mlock=no", err, sizeof(err)), 0);
	assert_int_equal(c.rt.priority, 12);
	assert_int_equal(c.log.level, LOG_WARNING);
	assert_false(c.rt.mlock);
	before = c;
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		err[0] = '\0';
		assert_int_equal(config_set(&c, bad[i], err, sizeof(err)), -EINVAL);
		assert_true(strlen(err) > 10);
		assert_memory_equal(&c, &before, sizeof(c));
	}
}

static void test_print_round_trips(void **state)
{
	static struct config c, back;
	char err[CONFIG_ERR_MAX];
	FILE *f;

	(void)state;
	config_defaults(&c);
	c.rt.priority = 33;
	c.rt.mlock = false;
	c.log.level = LOG_ERR;
	write_conf("");
	f = fopen(path, "w");
	config_print(&c, f);
	fclose(f);
	assert_int_equal(config_load_file(&back, path, err, sizeof(err)), 0);
	back.nout_explicit = c.nout_explicit; /* the printed file names its output */
	assert_memory_equal(&c, &back, sizeof(c));
}

/* Up to three sync pulse channels from the file (pulse_*, pulse2_*,
 * pulse3_*): e.g. 2 PPQN, 24 PPQN with a DIN-sync run line, and 4 PPQN at
 * once, each with its own settings; channel 0 switches one off. */
static void test_audio_pulse_channels(void **state)
{
	static struct config c;
	struct audio_cfg a;
	char err[CONFIG_ERR_MAX] = "";

	(void)state;
	config_defaults(&c);
	write_conf("[audio]\nenabled = true\nchannels = 5\nclick_channel = 1\npulse_channel = 2\n"
		   "pulse2_channel = 3\npulse2_ppqn = 24\npulse2_polarity = negative\n"
		   "pulse2_offset_us = -1500\npulse3_channel = 5\npulse3_ppqn = 4\n"
		   "pulse3_width_us = 2000\npulse3_swing = 60\nrun_channel = 4\n");
	assert_int_equal(config_load_file(&c, path, err, sizeof(err)), 0);
	config_audio(&c, &a);
	assert_int_equal(a.out.npulse, 3);
	assert_int_equal(a.out.pulse[0].channel, 1);
	assert_int_equal(a.out.pulse[0].ppqn, 2);
	assert_int_equal(a.out.pulse[1].channel, 2);
	assert_int_equal(a.out.pulse[1].ppqn, 24);
	assert_true(a.out.pulse[1].invert);
	assert_int_equal(a.out.pulse[1].offset_us, -1500);
	assert_int_equal(a.out.pulse[2].channel, 4);
	assert_int_equal(a.out.pulse[2].ppqn, 4);
	assert_int_equal(a.out.pulse[2].width_us, 2000);
	assert_int_equal(a.out.pulse[2].swing_permille, 600);
	assert_false(a.out.pulse[0].invert);
	assert_int_equal(a.out.run.channel, 3);
	assert_int_equal(audio_cfg_check(&a, err, sizeof(err)), 0);
	/* the middle one off: the others keep their settings */
	write_conf("[audio]\nenabled = true\nchannels = 5\npulse2_channel = 0\npulse3_channel = 5\n");
	assert_int_equal(config_load_file(&c, path, err, sizeof(err)), 0);
	config_audio(&c, &a);
	assert_int_equal(a.out.npulse, 2);
	assert_int_equal(a.out.pulse[1].channel, 4);
	assert_int_equal(a.out.pulse[1].ppqn, 4);
}

/* [pattern.NAME] sets a pattern's own output, channel, length, tempo and
 * group; whatever it does not set is [patterns]'s.  It prints back only
 * what it sets, and --set reaches it. */
static void test_pattern_sections(void **state)
{
	static struct config c, back;
	struct config_pattern_opts o;
	char err[CONFIG_ERR_MAX] = "", *text1, *text2;
	size_t len1, len2;
	FILE *f;

	(void)state;
	config_defaults(&c);
	config_pattern_opts(&c, "any", &o);
	assert_int_equal(o.channel, -1);
	assert_int_equal(o.tempo, 0);
	assert_string_equal(o.group, "");
	write_conf("[pattern.drums]\nchannel = 10\noutput = b\ntempo = file\n"
		   "[output.a]\n[output.b]\nppqn = 48\n"
		   "[patterns]\nchannel = 2\ngroup = main\nlength_bars = 2\n"
		   "[pattern.bass line]\ngroup =\nlength_bars = 0\n");
	assert_int_equal(config_load_file(&c, path, err, sizeof(err)), 0);
	assert_int_equal(c.npat, 2);
	config_pattern_opts(&c, "drums", &o);
	assert_int_equal(o.channel, 10);
	assert_string_equal(o.output, "b");
	assert_int_equal(o.tempo, 1);
	assert_string_equal(o.group, "main"); /* not set: [patterns]'s */
	assert_int_equal(o.length_bars, 2);
	config_pattern_opts(&c, "bass line", &o);
	assert_int_equal(o.channel, 2);
	assert_string_equal(o.output, "");
	assert_string_equal(o.group, ""); /* set to none */
	assert_int_equal(o.length_bars, 0);
	config_pattern_opts(&c, "other", &o);
	assert_int_equal(o.channel, 2);
	assert_string_equal(o.group, "main");
	/* prints back what it sets, and reads back the same */
	f = open_memstream(&text1, &len1);
	config_print(&c, f);
	fclose(f);
	assert_non_null(strstr(text1, "\n[pattern.drums]\noutput = b\nchannel = 10\ntempo = file\n\n"));
	assert_non_null(strstr(text1, "\n[pattern.bass line]\nlength_bars = 0\ngroup = \n"));
	write_conf(text1);
	assert_int_equal(config_load_file(&back, path, err, sizeof(err)), 0);
	f = open_memstream(&text2, &len2);
	config_print(&back, f);
	fclose(f);
	assert_string_equal(text1, text2);
	free(text1);
	free(text2);
	/* --set, also a new one, and a refused one that leaves none behind */
	assert_int_equal(config_set(&c, "pattern.bass line.channel=3", err, sizeof(err)), 0);
	config_pattern_opts(&c, "bass line", &o);
	assert_int_equal(o.channel, 3);
	assert_int_equal(config_set(&c, "pattern.hats.tempo=file", err, sizeof(err)), 0);
	assert_int_equal(c.npat, 3);
	assert_int_equal(config_set(&c, "pattern.new.channel=17", err, sizeof(err)), -EINVAL);
	assert_non_null(strstr(err, "pattern.new.channel = '17'"));
	assert_int_equal(c.npat, 3);
}

static void test_outputs_and_clock(void **state)
{
	static struct config c;
	char err[CONFIG_ERR_MAX] = "";

	(void)state;
	config_defaults(&c);
	assert_int_equal(c.nout, 1); /* zero-config: one output */
	assert_string_equal(c.out[0].name, "clock");
	assert_int_equal(c.out[0].clk.ppqn, 24);
	assert_int_equal(c.clock.bpm_micro, 120000000);
	assert_int_equal(c.clock.lookahead_us, 10000);
	write_conf("[clock]\ntempo = 174.5\nlookahead_ms = 2.5\nstart = yes\n"
		   "[output.volca]\nppqn = 2\nswing = 54.5\nswing_unit = 8\noffset_us = -2500\n"
		   "connect = volca\n[output.synth]\nport = DIN 1\nclock_while_stopped = on\n");
	assert_int_equal(config_load_file(&c, path, err, sizeof(err)), 0);
	assert_int_equal(c.clock.bpm_micro, 174500000);
	assert_int_equal(c.clock.lookahead_us, 2500);
	assert_true(c.clock.start);
	assert_int_equal(c.nout, 2); /* the built-in output is replaced */
	assert_string_equal(c.out[0].name, "volca");
	assert_int_equal(c.out[0].clk.ppqn, 2);
	assert_int_equal(c.out[0].clk.swing_permille, 545);
	assert_int_equal(c.out[0].clk.swing_unit, 8);
	assert_int_equal(c.out[0].clk.offset_us, -2500);
	assert_string_equal(c.out[0].connect, "volca");
	assert_string_equal(c.out[1].port, "DIN 1");
	assert_true(c.out[1].clk.clock_while_stopped);
	assert_int_equal(config_set(&c, "output.volca.offset_us=1500", err, sizeof(err)), 0);
	assert_int_equal(c.out[0].clk.offset_us, 1500);
	assert_int_equal(config_set(&c, "output.new.ppqn=48", err, sizeof(err)), 0);
	assert_int_equal(c.nout, 3);
	assert_int_equal(config_set(&c, "clock.tempo=99.125", err, sizeof(err)), 0);
	assert_int_equal(c.clock.bpm_micro, 99125000);
	assert_int_equal(config_set(&c, "output.x y.ppqn=48", err, sizeof(err)), -EINVAL);
	assert_int_equal(c.nout, 3);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_teardown(test_defaults, teardown),
		cmocka_unit_test_teardown(test_valid_file, teardown),
		cmocka_unit_test_teardown(test_bad_files_rejected_state_unchanged, teardown),
		cmocka_unit_test_teardown(test_missing_file, teardown),
		cmocka_unit_test_teardown(test_set_assignments, teardown),
		cmocka_unit_test_teardown(test_print_round_trips, teardown),
		cmocka_unit_test_teardown(test_outputs_and_clock, teardown),
		cmocka_unit_test_teardown(test_audio_pulse_channels, teardown),
		cmocka_unit_test_teardown(test_pattern_sections, teardown),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
