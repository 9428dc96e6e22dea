/*
 * bench_clock - the engine's wake-up lateness against the machine's floor.
 *
 * Runs the real engine on its RT thread (SCHED_FIFO, memory locked when
 * permitted) in direct mode (lookahead 0), with one clock output at 480
 * PPQN and 125 BPM - a pulse every 1.000 ms - into the dump backend writing
 * to /dev/null, for SECONDS.  Every wake-up at a deadline records how late
 * it was.  Then runs cyclictest (Debian rt-tests) at the same interval and
 * priority for the same number of loops, as the floor any RT thread gets on
 * this machine, and prints both distributions and the p99 ratio.
 * Figures only: it never fails on timing.  Usage: bench_clock [SECONDS]
 */
#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "clock/timesrc_posix.h"
#include "engine/engine.h"
#include "midi/midi_dump.h"
#include "rt/ring.h"
#include "rt/rtthread.h"

#define BENCH_PRIO 80
#define BENCH_RING (1u << 16)

static struct engine eng;
static struct timesrc_posix ts;
static struct midi_dump dump;
static struct ring lat_ring;
static int64_t lat_buf[BENCH_RING];

static int cmp_i64(const void *a, const void *b)
{
	int64_t x = *(const int64_t *)a, y = *(const int64_t *)b;

	return x < y ? -1 : x > y;
}

static int64_t pct(const int64_t *v, size_t n, double p)
{
	size_t i = (size_t)(p / 100.0 * (double)(n - 1) + 0.5);

	return n ? v[i < n ? i : n - 1] : 0;
}

/* cyclictest -h prints "NNNNNN CCCCCC" per microsecond bucket; expand into
 * samples (in ns, at the bucket's value) for the same percentile code. */
static int64_t *run_cyclictest(long loops, size_t *n_out)
{
	char cmd[256], line[256];
	int64_t *v = malloc(sizeof(int64_t) * (size_t)(loops + 16));
	size_t n = 0;
	FILE *p;

	*n_out = 0;
	if (!v)
		return NULL;
	snprintf(cmd, sizeof(cmd),
		 "cyclictest -m -q -t1 -p%d -i1000 -l%ld -h4000 --policy=fifo 2>/dev/null",
		 BENCH_PRIO, loops);
	p = popen(cmd, "r");
	if (!p) {
		free(v);
		return NULL;
	}
	while (fgets(line, sizeof(line), p)) {
		long us, count;
		if (line[0] == '#' || sscanf(line, "%ld %ld", &us, &count) != 2)
			continue;
		for (long k = 0; k < count && n < (size_t)loops + 16; k++)
			v[n++] = us * 1000;
	}
	if (pclose(p) != 0 || n == 0) {
		free(v);
		return NULL;
	}
	*n_out = n;
	return v;
}

static void print_dist(const char *who, int64_t *v, size_t n)
{
	qsort(v, n, sizeof(*v), cmp_i64);
	printf("%-22s n=%-7zu p50 %7.1f us   p99 %7.1f us   p99.9 %7.1f us   max %8.1f us\n", who, n,
	       pct(v, n, 50) / 1e3, pct(v, n, 99) / 1e3, pct(v, n, 99.9) / 1e3, v[n - 1] / 1e3);
}

int main(int argc, char **argv)
{
	double secs = argc > 1 ? strtod(argv[1], NULL) : 10.0;
	struct engine_cfg cfg;
	struct midi_dump_cfg dcfg = { .path = "/dev/null" };
	struct rt_thread th;
	struct rt_thread_cfg tcfg = { .name = "bench-engine", .priority = BENCH_PRIO, .cpu = -1 };
	struct rt_status st = { 0 };
	struct engine_cmd start = { .type = ENGINE_CMD_START, .u32 = ENGINE_WHEN_NOW };
	struct engine_cmd quit = { .type = ENGINE_CMD_QUIT };
	struct midi_port_cfg pc = { .name = "bench", .dir = MIDI_PORT_OUT };
	struct midi_notify notes[8];
	size_t n = 0, cap = (size_t)(secs * 1000) + 1000, cn = 0;
	int64_t *v = malloc(sizeof(int64_t) * cap), *cv, t_end, x;

	if (!v || secs <= 0 || secs > 600)
		return 2;
	rt_memory_lock(&st);
	if (timesrc_posix_open(&ts) < 0 || midi_dump_open(&dump, &dcfg) < 0 ||
	    ring_init(&lat_ring, lat_buf, BENCH_RING, sizeof(int64_t)) < 0)
		return 1;
	if (dump.base.ops->port_add(&dump.base, &pc) < 0)
		return 1;
	engine_cfg_defaults(&cfg);
	cfg.lookahead_ns = 0; /* direct: the engine wakes at each due time */
	cfg.bpm_micro = 125000000;
	cfg.nout = 1;
	clk_output_cfg_defaults(&cfg.out[0]);
	cfg.out[0].ppqn = 480; /* 125 BPM * 480 PPQN = 1000 pulses/s */
	cfg.out_port[0] = 0;
	if (engine_init(&eng, &ts.base, &dump.base, &cfg) < 0)
		return 1;
	eng.lat_samples = &lat_ring;
	engine_post(&eng, &start);
	if (rt_thread_start(&th, &tcfg, engine_run, &eng) < 0)
		return 1;
	printf("engine thread: %s, memory locked: %s; %.0f s at 1.000 ms pulses, direct mode, "
	       "dump backend to /dev/null\n",
	       th.status.rt ? "SCHED_FIFO 80" : "NOT real-time (no privilege)",
	       st.mlocked ? "yes" : "no", secs);
	t_end = timesrc_mono_now_ns() + (int64_t)(secs * 1e9);
	while (timesrc_mono_now_ns() < t_end) {
		usleep(20000);
		dump.base.ops->service(&dump.base, notes, 8); /* write what the engine sent */
		while (ring_pop(&lat_ring, &x) == 0)
			if (n < cap)
				v[n++] = x;
	}
	engine_post(&eng, &quit);
	rt_thread_join(&th, NULL);
	while (ring_pop(&lat_ring, &x) == 0)
		if (n < cap)
			v[n++] = x;
	dump.base.ops->close(&dump.base);
	if (n == 0) {
		printf("no samples\n");
		return 1;
	}
	printf("engine sent %" PRIu64 " events, %" PRIu64 " late, lateness samples dropped %" PRIu64 "\n",
	       (uint64_t)atomic_load(&eng.stats.sent), (uint64_t)atomic_load(&eng.stats.late),
	       ring_drops(&lat_ring));
	print_dist("engine wake-up", v, n);
	cv = run_cyclictest((long)n, &cn);
	if (!cv) {
		printf("cyclictest: not available (Debian rt-tests) or failed: no floor to compare\n");
		free(v);
		return 0;
	}
	print_dist("cyclictest (floor)", cv, cn);
	printf("ratio p99 engine / cyclictest: %.2f (target <= 1.5; cyclictest resolution 1 us)\n",
	       (double)pct(v, n, 99) / (double)(pct(cv, cn, 99) > 0 ? pct(cv, cn, 99) : 1000));
	free(v);
	free(cv);
	return 0;
}
