/*
 * audio_pulsecheck - check a captured WAV for pulses at the right rate.
 *
 *   audio_pulsecheck FILE CHANNEL PPQN BPM [TOL_FRAMES [MIN_PULSES [RATE_PPM [GAPS]]]]
 *
 * Finds every onset on CHANNEL (|x| > 0.25 after >= 2 ms below it, so a
 * click's zero crossings count once) and compares the intervals with the
 * ideal 60 * rate / (BPM * PPQN) frames.  Prints the onset count, the
 * mean, min and max interval, the mean rate's error in ppm, and the
 * largest deviation from an ideal grid anchored at the first onset (the
 * slow wander of the output-time loop, shown for information).  Exits 0
 * when there are at least MIN_PULSES onsets (default 4); no interval is
 * shorter than half or longer than one and a half times the ideal (an
 * extra or a missing pulse), except up to 2 * GAPS such disturbances
 * (default 0: GAPS is the number of xruns the player reported - an xrun
 * is heard as a gap, and the loopback may split a pulse at its edge);
 * every other interval is within TOL_FRAMES of the ideal (default 2), and
 * their mean within RATE_PPM (default 100) of it.  Exit 1
 * otherwise, 2 on bad usage or an unreadable file.  PULSECHECK_DUMP=1 in
 * the environment prints every onset.
 */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>

#include "wavread.h"

#define MAXON 100000

static int64_t on[MAXON];

int main(int argc, char **argv)
{
	struct wavread w;
	char err[256];
	int ch, ppqn;
	double bpm, ideal, tol = 2.0, rate_ppm = 100.0, worst = 0.0, sum = 0.0, jit = 0.0, ppm = 0.0;
	int64_t n, min_pulses = 4, imin = INT64_MAX, imax = 0, worst_k = 0, gaps = 0, max_gaps = 0;
	int64_t used = 0;

	if (argc < 5 || argc > 9) {
		fprintf(stderr, "usage: audio_pulsecheck FILE CHANNEL PPQN BPM [TOL [MIN [PPM [GAPS]]]]\n");
		return 2;
	}
	ch = atoi(argv[2]);
	ppqn = atoi(argv[3]);
	bpm = atof(argv[4]);
	if (argc >= 6)
		tol = atof(argv[5]);
	if (argc >= 7)
		min_pulses = atoll(argv[6]);
	if (argc >= 8)
		rate_ppm = atof(argv[7]);
	if (argc >= 9)
		max_gaps = atoll(argv[8]);
	if (wavread_load(&w, argv[1], err, sizeof(err)) < 0) {
		fprintf(stderr, "audio_pulsecheck: %s\n", err);
		return 2;
	}
	if (ch < 0 || ch >= w.channels || ppqn < 1 || bpm <= 0) {
		fprintf(stderr, "audio_pulsecheck: bad channel, ppqn or bpm\n");
		return 2;
	}
	ideal = 60.0 * w.rate / (bpm * ppqn);
	n = wavread_onsets(&w, ch, 0.25f, w.rate / 500, on, MAXON);
	if (n > MAXON)
		n = MAXON;
	for (int64_t k = 1; k < n; k++) {
		int64_t d = on[k] - on[k - 1];
		double dev = (double)(on[k] - on[0]) - k * ideal;
		if (getenv("PULSECHECK_DUMP"))
			printf("  onset %lld frame %lld interval %lld deviation %+.1f\n", (long long)k,
			       (long long)on[k], (long long)d, dev);
		if ((double)d < ideal / 2 || (double)d > ideal * 1.5) {
			gaps++; /* an extra or missing pulse: counted, not measured */
			continue;
		}
		sum += (double)d;
		used++;
		if (d < imin)
			imin = d;
		if (d > imax)
			imax = d;
		if (gaps == 0 && fabs(dev) > fabs(worst)) {
			worst = dev;
			worst_k = k;
		}
		if (fabs((double)d - ideal) > fabs(jit))
			jit = (double)d - ideal;
	}
	if (used > 0)
		ppm = (sum / (double)used / ideal - 1.0) * 1e6;
	printf("audio_pulsecheck: %s ch %d: %lld onsets over %.3f s (%u Hz); ideal interval %.3f "
	       "frames (%d PPQN at %g BPM); mean %.3f (%+.1f ppm) min %lld max %lld, worst interval "
	       "error %+.1f frames; disturbances %lld; largest drift from the grid %+.1f frames (pulse %lld%s)\n",
	       argv[1], ch, (long long)n, (double)w.frames / w.rate, w.rate, ideal, ppqn, bpm,
	       used ? sum / (double)used : 0.0, ppm, (long long)(used ? imin : 0),
	       (long long)imax, jit, (long long)gaps, worst, (long long)worst_k,
	       gaps ? ", before the first disturbance" : "");
	wavread_free(&w);
	if (n < min_pulses) {
		printf("audio_pulsecheck: FAIL: %lld onsets, expected at least %lld\n", (long long)n,
		       (long long)min_pulses);
		return 1;
	}
	if (gaps > 2 * max_gaps || fabs(jit) > tol || fabs(ppm) > rate_ppm) {
		printf("audio_pulsecheck: FAIL: %s\n",
		       gaps > 2 * max_gaps ? "pulses missing or extra (more than the xruns explain)"
		       : fabs(jit) > tol ? "an interval is off by more than the tolerance"
					 : "the mean rate is off");
		return 1;
	}
	printf("audio_pulsecheck: OK (intervals within %.1f frames, rate within %.0f ppm)\n", tol,
	       rate_ppm);
	return 0;
}
