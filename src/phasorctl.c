/*
 * phasorctl - command-line remote control and tools for PhasorSync.
 */
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "control/remote.h"

static void usage(FILE *f)
{
	fprintf(f,
		"Usage: phasorctl [OPTION]... COMMAND [ARG]...\n"
		"Command-line tool for the phasorsyncd MIDI clock daemon.\n"
		"\n");
	remote_usage(f);
	fprintf(f,
		"\n"
		"Options:\n"
		"  -H, --host HOST     daemon host (default localhost)\n"
		"  -p, --port PORT     daemon OSC port (default 9000)\n"
		"  -j, --json          machine-readable output\n"
		"  -t, --timeout MS    wait this long for an answer (default 1000)\n"
		"  -h, --help          show this help and exit\n"
		"  -V, --version       show the version and exit\n"
		"\n"
		"Exit status: 0 done, 1 refused by the daemon (reason on stderr), 2 bad usage,\n"
		"3 no answer.\n");
}

int main(int argc, char **argv)
{
	static const struct option opts[] = {
		{ "host", required_argument, NULL, 'H' },
		{ "port", required_argument, NULL, 'p' },
		{ "json", no_argument, NULL, 'j' },
		{ "timeout", required_argument, NULL, 't' },
		{ "help", no_argument, NULL, 'h' },
		{ "version", no_argument, NULL, 'V' },
		{ NULL, 0, NULL, 0 },
	};
	const char *host = "localhost", *port = "9000";
	int json = 0, timeout = 1000, c;
	char *end;

	/* '+': stop at the command, so its own arguments (e.g. negative
	 * offsets) are not taken for options */
	while ((c = getopt_long(argc, argv, "+H:p:jt:hV", opts, NULL)) != -1) {
		switch (c) {
		case 'H':
			host = optarg;
			break;
		case 'p':
			port = optarg;
			break;
		case 'j':
			json = 1;
			break;
		case 't':
			timeout = (int)strtol(optarg, &end, 10);
			if (*end || timeout < 1 || timeout > 60000) {
				fprintf(stderr, "phasorctl: --timeout '%s': milliseconds from 1 to 60000\n",
					optarg);
				return 2;
			}
			break;
		case 'h':
			usage(stdout);
			return 0;
		case 'V':
			printf("phasorctl %s\n", PS_VERSION);
			return 0;
		default:
			usage(stderr);
			return 2;
		}
	}
	if (optind >= argc) {
		usage(stderr);
		return 2;
	}
	return remote_main(argc - optind, argv + optind, host, port, json, timeout);
}
