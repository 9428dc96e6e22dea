/*
 * fuzz_config.c - the configuration file parser under fuzzing (see fuzz.h).
 *
 * The input is the file's text.  Invariants, for any input:
 * - config_load_file() returns 0 or a negative errno, never crashes;
 * - refused: the running configuration is untouched (byte for byte) and
 *   the error starts with the file's path and says something;
 * - accepted: the result passes config_check(), and printing it, loading
 *   that text and printing again gives the same text (nothing the parser
 *   accepts is lost or changed on the way back out);
 * - every input line given as a --set assignment ("section.key=value")
 *   either applies or leaves the configuration untouched with an error;
 *   the cross-key check after them all (as the daemon runs it) gives a
 *   verdict, with a reason when it refuses.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

#include "control/config.h"
#include "fuzz.h"

#define FZ_CHECK(cond) FUZZ_CHECK("fuzz_config", cond)

/* A file holding exactly `data`, named by a path fopen() can open. */
static int fz_file(const uint8_t *data, size_t size, char *path, size_t n)
{
	int fd = memfd_create("fuzz_config", MFD_CLOEXEC);

	if (fd < 0)
		return -1;
	if (size && write(fd, data, size) != (ssize_t)size) {
		close(fd);
		return -1;
	}
	snprintf(path, n, "/proc/self/fd/%d", fd);
	return fd;
}

/* config_print() of c, malloc'd (*len bytes). */
static char *fz_print(const struct config *c, size_t *len)
{
	char *text = NULL;
	FILE *f = open_memstream(&text, len);

	FZ_CHECK(f);
	config_print(c, f);
	fclose(f);
	return text;
}

static void fz_round_trip(const struct config *c)
{
	static struct config again;
	char path[64], err[CONFIG_ERR_MAX] = "";
	size_t len = 0, len2 = 0;
	char *text = fz_print(c, &len), *text2;
	int fd = fz_file((const uint8_t *)text, len, path, sizeof(path));

	FZ_CHECK(fd >= 0);
	config_defaults(&again);
	if (config_load_file(&again, path, err, sizeof(err)) != 0) {
		fprintf(stderr, "fuzz_config: printed configuration refused: %s\n%s\n", err, text);
		abort();
	}
	close(fd);
	/* the same configuration: it prints the same (byte images can differ
	 * in string tails and padding) */
	text2 = fz_print(&again, &len2);
	if (len2 != len || memcmp(text, text2, len)) {
		fprintf(stderr, "fuzz_config: print -> load -> print differs:\n%s\n---\n%s\n", text, text2);
		abort();
	}
	free(text);
	free(text2);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static struct config c, before;
	char path[64], err[CONFIG_ERR_MAX] = "";
	int fd, r;

	if (size > 64 * 1024)
		return 0;
	fd = fz_file(data, size, path, sizeof(path));
	if (fd < 0)
		return 0;
	config_defaults(&c);
	c.rt.priority = 42; /* a running value a refused file must not touch */
	before = c;
	r = config_load_file(&c, path, err, sizeof(err));
	close(fd);
	FZ_CHECK(r <= 0);
	if (r < 0) {
		FZ_CHECK(memcmp(&c, &before, sizeof(c)) == 0);
		FZ_CHECK(strncmp(err, path, strlen(path)) == 0 && strlen(err) > strlen(path) + 2);
	} else {
		FZ_CHECK(config_check(&c, err, sizeof(err)) == 0);
		fz_round_trip(&c);
	}
	/* each line as a --set assignment */
	for (size_t i = 0; i < size;) {
		char line[512];
		size_t j = i, n = 0;

		while (j < size && data[j] != '\n')
			j++;
		n = j - i < sizeof(line) - 1 ? j - i : sizeof(line) - 1;
		memcpy(line, data + i, n);
		line[n] = '\0';
		i = j + 1;
		if (strlen(line) != n)
			continue; /* an embedded NUL: not a C string */
		before = c;
		err[0] = '\0';
		r = config_set(&c, line, err, sizeof(err));
		FZ_CHECK(r <= 0);
		if (r < 0)
			FZ_CHECK(memcmp(&c, &before, sizeof(c)) == 0 && err[0]);
	}
	/* cross-key rules are checked once, after every --set (as the daemon
	 * does): either verdict, with a reason when refused */
	err[0] = '\0';
	if (config_check(&c, err, sizeof(err)) < 0)
		FZ_CHECK(err[0]);
	return 0;
}

size_t fuzz_seed(uint32_t i, uint8_t *buf, size_t cap)
{
	static const char *const seeds[] = {
		"[rt]\npriority = 80\ncpu = -1\nmlock = true\n[log]\nlevel = info\n",
		"[clock]\ntempo = 121.5\nquantum = 3\nlookahead_ms = 10\nstart = false\n",
		"[output.clock]\nport = clock\nppqn = 24\noffset_us = -2000\nswing = 60\n"
		"swing_unit = 8\nclock_while_stopped = true\ntransport = false\nspp = false\n",
		"[output.a]\nport = p\n[output.b]\nport = p\n",
		"[audio]\nenabled = true\nchannels = 4\nclick_channel = 1\npulse_channel = 2\n"
		"pulse2_channel = 3\npulse2_ppqn = 24\nrun_channel = 4\n",
		"[osc]\nport = 9000\nbind = 0.0.0.0\nallow = 127.0.0.0/8, 192.168.0.0/16\n",
		"[patterns]\ndir = /tmp\nautostart = a,b\nchannel = 10\nquantize = beat\n"
		"length_bars = 2\n",
		"[follow]\nenabled = true\n[midi]\nbackend = dump\n",
		"clock.tempo=90\nrt.priority=10\noutput.clock.swing=55\n",
		"[rt\npriority = \n; comment\n# other\n[bogus]\nx = y\n",
		"[output.x]\nport =; o0= p\n", /* found by the fuzzer: ';' in a value did not print back */
	};
	size_t n;

	if (i >= sizeof(seeds) / sizeof(seeds[0]))
		return 0;
	n = strlen(seeds[i]);
	if (n > cap)
		n = cap;
	memcpy(buf, seeds[i], n);
	return n;
}
