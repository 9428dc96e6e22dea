/*
 * fuzz_seed_main.c - write a fuzz target's seeds as files into a corpus
 * directory: fuzz_X_seed DIR.  Existing files are overwritten.
 */
#include <stdio.h>

#include "fuzz.h"

static uint8_t buf[1 << 16];

int main(int argc, char **argv)
{
	uint32_t i;
	size_t n;

	if (argc != 2) {
		fprintf(stderr, "usage: %s CORPUS_DIR\n", argv[0]);
		return 2;
	}
	for (i = 0; (n = fuzz_seed(i, buf, sizeof(buf))) > 0; i++) {
		char path[4096];
		FILE *f;

		snprintf(path, sizeof(path), "%s/seed-%04u", argv[1], i);
		f = fopen(path, "wb");
		if (!f || fwrite(buf, 1, n, f) != n || fclose(f) != 0) {
			perror(path);
			return 1;
		}
	}
	printf("%u seeds written to %s\n", i, argv[1]);
	return 0;
}
