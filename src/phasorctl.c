/*
 * phasorctl - command-line remote control and tools for PhasorSync.
 *
 * decode: raw MIDI bytes (a file, a rawmidi device, stdin) to JSON Lines,
 * one record per message in stream order (format: src/midi/midi_json.h),
 * or with --count one object of record counts per type.  The parser is the
 * daemon's own (src/midi/midi_parse.c): what decode shows is what the
 * engine would see.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "midi/midi_json.h"
#include "midi/midi_parse.h"
#include "rt/pool.h"

#define DECODE_READ_SIZE 65536 /* bytes per read() */
#define DECODE_OUT_MAX 64      /* messages per parser call */

static void usage(FILE *f)
{
	fprintf(f,
		"Usage: phasorctl [OPTION]... COMMAND [ARG]...\n"
		"Command-line tool for the phasorsyncd MIDI clock daemon.\n"
		"\n"
		"Commands:\n"
		"  decode [--count] [FILE|-]  print the raw MIDI bytes in FILE (stdin when\n"
		"                             absent or -) as JSON Lines, one message per\n"
		"                             line; --count: one object of counts per type\n"
		"\n"
		"  -h, --help      show this help and exit\n"
		"  -V, --version   show the version and exit\n");
}

struct decode {
	struct pool pool;                                /* SysEx chunks */
	struct midi_parse parse;                         /* parser state */
	int count_only;                                  /* --count */
	uint64_t counts[256];                            /* records per message type */
	struct midi_msg out[DECODE_OUT_MAX];             /* one parser call's messages */
	char line[MIDI_JSON_MAX + 1];                    /* one record and its newline */
};

/* Every chunk goes back right after its message is printed, so the parser
 * never holds more than one call's worth plus the one it is filling. */
static void *decode_pool_mem[POOL_STORAGE_SIZE(DECODE_OUT_MAX + 2, sizeof(struct midi_sysex_chunk)) /
			     sizeof(void *)];

static int decode_emit(struct decode *d, int n)
{
	for (int i = 0; i < n; i++) {
		const struct midi_msg *m = &d->out[i];
		int len;

		if (d->count_only) {
			d->counts[m->type]++;
		} else {
			len = midi_json_format(m, d->line, sizeof(d->line) - 1);
			if (len < 0) { /* the parser produced something invalid: a bug */
				fprintf(stderr, "phasorctl: decode: cannot format message type 0x%02x: %s\n",
					m->type, strerror(-len));
				return len;
			}
			d->line[len++] = '\n';
			fwrite(d->line, 1, (size_t)len, stdout);
		}
		pool_put(&d->pool, m->sysex);
	}
	return 0;
}

static void decode_print_counts(const struct decode *d)
{
	const char *sep = "{";

	for (unsigned t = 0x80; t <= 0xFF; t++) {
		const char *name = midi_json_type_name((uint8_t)t);

		if (name) {
			printf("%s\"%s\":%llu", sep, name, (unsigned long long)d->counts[t]);
			sep = ",";
		}
	}
	printf("}\n");
}

/* One stderr line when the input had anything the parser had to drop. */
static void decode_report_drops(const struct midi_parse_stats *s)
{
	if (!(s->stray_data || s->stray_eox || s->undefined || s->incomplete ||
	      s->sysex_unterminated || s->sysex_dropped))
		return;
	fprintf(stderr,
		"phasorctl: decode: dropped %llu stray data byte(s), %llu stray F7, "
		"%llu undefined status byte(s), %llu incomplete message(s); "
		"%llu SysEx without F7; %llu SysEx cut for want of memory\n",
		(unsigned long long)s->stray_data, (unsigned long long)s->stray_eox,
		(unsigned long long)s->undefined, (unsigned long long)s->incomplete,
		(unsigned long long)s->sysex_unterminated, (unsigned long long)s->sysex_dropped);
}

static int cmd_decode(int argc, char **argv)
{
	static struct decode d;
	static uint8_t buf[DECODE_READ_SIZE];
	const char *path = NULL;
	int fd = STDIN_FILENO, n;

	for (int i = 0; i < argc; i++) {
		if (!strcmp(argv[i], "--count")) {
			d.count_only = 1;
		} else if (argv[i][0] == '-' && argv[i][1] != '\0') {
			fprintf(stderr, "phasorctl: decode: unknown option '%s'\n", argv[i]);
			return 2;
		} else if (path) {
			fprintf(stderr, "phasorctl: decode: one FILE at most\n");
			return 2;
		} else {
			path = argv[i];
		}
	}
	if (path && strcmp(path, "-")) {
		fd = open(path, O_RDONLY | O_CLOEXEC);
		if (fd < 0) {
			fprintf(stderr, "phasorctl: decode: %s: %s\n", path, strerror(errno));
			return 1;
		}
	}
	if (pool_init(&d.pool, decode_pool_mem, sizeof(struct midi_sysex_chunk),
		      DECODE_OUT_MAX + 2) < 0 ||
	    midi_parse_init(&d.parse, &d.pool) < 0)
		return 1;
	for (;;) {
		ssize_t r = read(fd, buf, sizeof(buf));
		size_t off = 0, used;

		if (r < 0 && errno == EINTR)
			continue;
		if (r < 0) {
			fprintf(stderr, "phasorctl: decode: %s: %s\n", path ? path : "stdin",
				strerror(errno));
			return 1;
		}
		if (r == 0)
			break;
		while (off < (size_t)r) {
			n = midi_parse_feed(&d.parse, buf + off, (size_t)r - off, &used, d.out,
					    DECODE_OUT_MAX);
			if (n < 0 || decode_emit(&d, n) < 0)
				return 1;
			off += used;
		}
		fflush(stdout); /* live input (a rawmidi device, a pipe): show it now */
	}
	n = midi_parse_end(&d.parse, d.out, DECODE_OUT_MAX);
	if (n < 0 || decode_emit(&d, n) < 0)
		return 1;
	if (d.count_only)
		decode_print_counts(&d);
	if (fd != STDIN_FILENO)
		close(fd);
	if (fflush(stdout) != 0 || ferror(stdout)) {
		fprintf(stderr, "phasorctl: decode: writing output: %s\n", strerror(errno));
		return 1;
	}
	decode_report_drops(&d.parse.stats);
	return 0;
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
	if (!strcmp(argv[1], "decode"))
		return cmd_decode(argc - 2, argv + 2);
	fprintf(stderr, "phasorctl: unknown command '%s' (see --help)\n", argv[1]);
	return 2;
}
