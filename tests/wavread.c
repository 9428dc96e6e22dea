/*
 * wavread.c - minimal RIFF/WAVE reader for tests (see wavread.h).
 */
#include "wavread.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static uint32_t rd_le(const uint8_t *p, int n)
{
	uint32_t v = 0;

	for (int i = n - 1; i >= 0; i--)
		v = v << 8 | p[i];
	return v;
}

int wavread_load(struct wavread *w, const char *path, char *err, size_t errlen)
{
	FILE *f = fopen(path, "rb");
	uint8_t *d = NULL;
	long len;
	size_t pos = 12;
	const uint8_t *data = NULL;

	memset(w, 0, sizeof(*w));
	if (!f) {
		snprintf(err, errlen, "%s: cannot open", path);
		return -1;
	}
	fseek(f, 0, SEEK_END);
	len = ftell(f);
	fseek(f, 0, SEEK_SET);
	d = malloc((size_t)len + 1);
	if (!d || fread(d, 1, (size_t)len, f) != (size_t)len) {
		snprintf(err, errlen, "%s: cannot read", path);
		goto fail;
	}
	fclose(f);
	f = NULL;
	if (len < 12 || memcmp(d, "RIFF", 4) || memcmp(d + 8, "WAVE", 4)) {
		snprintf(err, errlen, "%s: not RIFF/WAVE", path);
		goto fail;
	}
	if (rd_le(d + 4, 4) != (uint32_t)len - 8) {
		snprintf(err, errlen, "%s: RIFF size %u, file has %ld bytes", path, rd_le(d + 4, 4),
			 len);
		goto fail;
	}
	while (pos + 8 <= (size_t)len) {
		uint32_t clen = rd_le(d + pos + 4, 4);
		const uint8_t *c = d + pos + 8;

		if (pos + 8 + clen > (size_t)len) {
			snprintf(err, errlen, "%s: chunk runs past the end", path);
			goto fail;
		}
		if (!memcmp(d + pos, "fmt ", 4)) {
			w->format = (uint16_t)rd_le(c, 2);
			w->channels = (uint16_t)rd_le(c + 2, 2);
			w->rate = rd_le(c + 4, 4);
			w->bits = (uint16_t)rd_le(c + 14, 2);
			if (w->format == 0xFFFE && clen >= 40) {
				w->extensible = 1;
				w->format = (uint16_t)rd_le(c + 24, 2);
			}
			if (rd_le(c + 8, 4) != w->rate * w->channels * (w->bits / 8u) ||
			    rd_le(c + 12, 2) != w->channels * (w->bits / 8u)) {
				snprintf(err, errlen, "%s: inconsistent byte rate / block align", path);
				goto fail;
			}
		} else if (!memcmp(d + pos, "fact", 4)) {
			w->fact_frames = rd_le(c, 4);
		} else if (!memcmp(d + pos, "data", 4)) {
			data = c;
			w->data_bytes = clen;
		}
		pos += 8 + clen + (clen & 1);
	}
	if (!data || !w->channels || !(w->bits == 16 || w->bits == 32) ||
	    !(w->format == 1 || (w->format == 3 && w->bits == 32))) {
		snprintf(err, errlen, "%s: unsupported or missing fmt/data (format %u, %u bits)", path,
			 w->format, w->bits);
		goto fail;
	}
	w->frames = w->data_bytes / (w->channels * (w->bits / 8u));
	w->samples = malloc(sizeof(float) * (size_t)(w->frames * w->channels + 1));
	for (int64_t i = 0; i < w->frames * w->channels; i++) {
		const uint8_t *p = data + i * (w->bits / 8);
		if (w->format == 3) {
			uint32_t u = rd_le(p, 4);
			float x;
			memcpy(&x, &u, 4);
			w->samples[i] = x;
		} else if (w->bits == 16) {
			w->samples[i] = (int16_t)rd_le(p, 2) / 32767.0f;
		} else {
			w->samples[i] = (float)((int32_t)rd_le(p, 4) / 2147483647.0);
		}
	}
	free(d);
	return 0;
fail:
	if (f)
		fclose(f);
	free(d);
	return -1;
}

void wavread_free(struct wavread *w)
{
	free(w->samples);
	w->samples = NULL;
}

float wavread_at(const struct wavread *w, int64_t g, int ch)
{
	return w->samples[g * w->channels + ch];
}

int64_t wavread_onsets(const struct wavread *w, int ch, float thresh, int64_t min_gap,
		       int64_t *out, int64_t max)
{
	int64_t n = 0, quiet = min_gap; /* frames at or below thresh before g */

	for (int64_t g = 0; g < w->frames; g++) {
		float x = wavread_at(w, g, ch);
		if ((x < 0 ? -x : x) > thresh) {
			if (quiet >= min_gap) {
				if (n < max)
					out[n] = g;
				n++;
			}
			quiet = 0;
		} else {
			quiet++;
		}
	}
	return n;
}
