/*
 * phasorsyncd - PhasorSync daemon: command line, then control/daemon.c.
 */
#include <getopt.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "control/config.h"
#include "control/daemon.h"
#include "control/log.h"

static void usage(FILE *f)
{
	fprintf(f,
		"Usage: phasorsyncd [OPTION]...\n"
		"MIDI clock and sequencer daemon: one musical timeline driving MIDI clock,\n"
		"patterns and audio sync pulses, remote-controlled over OSC.\n"
		"\n"
		"  -c, --config FILE       configuration file (default: %s if it exists,\n"
		"                          else built-in defaults)\n"
		"  -s, --set SECTION.KEY=VALUE\n"
		"                          override one setting (repeatable), e.g. --set rt.priority=80\n"
		"  -t, --tempo BPM         initial tempo (same as --set clock.tempo=BPM)\n"
		"      --start             start the transport at launch (clock.start=true)\n"
		"      --midi-backend NAME auto, alsa, dump or rawmidi (midi.backend=NAME)\n"
		"      --lookahead-ms MS   scheduling lookahead, 0 = direct (clock.lookahead_ms=MS)\n"
		"      --render SECONDS    run in virtual time as fast as possible and exit: MIDI goes\n"
		"                          to the dump backend (midi.dump_file, default stdout),\n"
		"                          exactly as real time would send it\n"
		"      --audio-device DEV  audio output (ALSA PCM, null, or FILE.wav; with --render:\n"
		"                          the click and pulses written to FILE.wav)\n"
		"      --check-config [FILE]\n"
		"                          validate the configuration (FILE or --config, and --set)\n"
		"                          and exit: 0 valid, 1 invalid (the error names file:line)\n"
		"      --print-config      print the effective configuration and exit\n"
		"  -v, --verbose           log at debug level\n"
		"  -h, --help              show this help and exit\n"
		"  -V, --version           show the version and exit\n"
		"\n"
		"Signals: SIGINT/SIGTERM stop, SIGHUP reloads the configuration.\n",
		CONFIG_DEFAULT_PATH);
}

/* Options that are shorthands for --set: kept in order with the --set ones,
 * so that the last word wins as the user typed them. */
__attribute__((format(printf, 3, 4)))
static int add_set(struct daemon_opts *o, const char *origin, const char *fmt, ...)
{
	va_list ap;
	int n;

	if (o->nsets == DAEMON_MAX_SETS) {
		logx(LOG_ERR, "too many setting options (at most %d)", DAEMON_MAX_SETS);
		return -1;
	}
	va_start(ap, fmt);
	n = vsnprintf(o->set_buf[o->nsets], sizeof(o->set_buf[0]), fmt, ap);
	va_end(ap);
	if (n < 0 || (size_t)n >= sizeof(o->set_buf[0])) {
		logx(LOG_ERR, "%s: value too long", origin);
		return -1;
	}
	o->sets[o->nsets] = o->set_buf[o->nsets];
	o->set_origin[o->nsets] = origin;
	o->nsets++;
	return 0;
}

int main(int argc, char **argv)
{
	enum { OPT_CHECK = 256, OPT_PRINT, OPT_START, OPT_BACKEND, OPT_LOOKAHEAD, OPT_RENDER, OPT_AUDIO };
	static const struct option opts[] = {
		{ "config", required_argument, NULL, 'c' },
		{ "set", required_argument, NULL, 's' },
		{ "tempo", required_argument, NULL, 't' },
		{ "start", no_argument, NULL, OPT_START },
		{ "midi-backend", required_argument, NULL, OPT_BACKEND },
		{ "lookahead-ms", required_argument, NULL, OPT_LOOKAHEAD },
		{ "render", required_argument, NULL, OPT_RENDER },
		{ "audio-device", required_argument, NULL, OPT_AUDIO },
		{ "check-config", no_argument, NULL, OPT_CHECK },
		{ "print-config", no_argument, NULL, OPT_PRINT },
		{ "verbose", no_argument, NULL, 'v' },
		{ "help", no_argument, NULL, 'h' },
		{ "version", no_argument, NULL, 'V' },
		{ NULL, 0, NULL, 0 },
	};
	static struct daemon_opts o = { .log_level = -1 };
	struct config cfg;
	int c, check = 0, print = 0;
	bool config_given = false;
	int64_t render_ns = -1;
	const char *audio_dev = NULL;
	char *end;
	double secs;

	log_init("phasorsyncd");
	while ((c = getopt_long(argc, argv, "c:s:t:vhV", opts, NULL)) != -1) {
		switch (c) {
		case 'c':
			o.config_path = optarg;
			config_given = true;
			break;
		case 's':
			if (add_set(&o, "--set", "%s", optarg) < 0)
				return 2;
			break;
		case 't':
			if (add_set(&o, "--tempo", "clock.tempo=%s", optarg) < 0)
				return 2;
			break;
		case OPT_START:
			if (add_set(&o, "--start", "clock.start=true%s", "") < 0)
				return 2;
			break;
		case OPT_BACKEND:
			if (add_set(&o, "--midi-backend", "midi.backend=%s", optarg) < 0)
				return 2;
			break;
		case OPT_LOOKAHEAD:
			if (add_set(&o, "--lookahead-ms", "clock.lookahead_ms=%s", optarg) < 0)
				return 2;
			break;
		case OPT_RENDER:
			secs = strtod(optarg, &end);
			if (*end || end == optarg || !(secs > 0 && secs <= 86400)) {
				logx(LOG_ERR, "--render '%s': seconds from 0 (exclusive) to 86400", optarg);
				return 2;
			}
			render_ns = (int64_t)(secs * 1e9 + 0.5);
			break;
		case OPT_AUDIO:
			audio_dev = optarg;
			break;
		case OPT_CHECK:
			check = 1;
			break;
		case OPT_PRINT:
			print = 1;
			break;
		case 'v':
			o.log_level = LOG_DEBUG;
			break;
		case 'h':
			usage(stdout);
			return 0;
		case 'V':
			printf("phasorsyncd %s\n", PS_VERSION);
			return 0;
		default:
			usage(stderr);
			return 2;
		}
	}
	/* --check-config FILE: the file to check may follow the option */
	if (check && optind == argc - 1 && !config_given) {
		o.config_path = argv[optind++];
	} else if (check && optind == argc - 1) {
		logx(LOG_ERR, "--check-config '%s' and --config '%s': name one file", argv[optind],
		     o.config_path);
		return 2;
	}
	if (optind < argc) {
		logx(LOG_ERR, "unexpected argument '%s' (see --help)", argv[optind]);
		return 2;
	}
	if (check || print) {
		if (daemon_load_config(&o, &cfg, true) < 0)
			return 1;
		if (print)
			config_print(&cfg, stdout);
		else
			printf("configuration OK\n");
		return 0;
	}
	if (audio_dev && render_ns < 0) {
		if (add_set(&o, "--audio-device", "audio.device=%s", audio_dev) < 0 ||
		    add_set(&o, "--audio-device", "audio.enabled=true%s", "") < 0)
			return 2;
	}
	if (render_ns > 0)
		return daemon_render(&o, render_ns, audio_dev);
	return daemon_run(&o);
}
