/*
 * phasorctl - command-line remote control and tools for PhasorSync.
 */
#include <stdio.h>
#include <string.h>

static void usage(FILE *f)
{
	fprintf(f,
		"Usage: phasorctl [OPTION]... COMMAND [ARG]...\n"
		"Command-line tool for the phasorsyncd MIDI clock daemon.\n"
		"\n"
		"  -h, --help      show this help and exit\n"
		"  -V, --version   show the version and exit\n");
}

int main(int argc, char **argv)
{
	if (argc < 2) {
		usage(stderr);
		return 2;
	}
	if (!strcmp(argv[1], "-h") || !strcmp(argv[1], "--help")) {
		usage(stdout);
		return 0;
	}
	if (!strcmp(argv[1], "-V") || !strcmp(argv[1], "--version")) {
		printf("phasorctl %s\n", PS_VERSION);
		return 0;
	}
	fprintf(stderr, "phasorctl: unknown command '%s' (see --help)\n", argv[1]);
	return 2;
}
