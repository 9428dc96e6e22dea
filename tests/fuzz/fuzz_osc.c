/*
 * fuzz_osc.c - fuzz target: bytes as an OSC packet from an allowed sender,
 * through the real dispatcher and every /phasorsync handler, into a real
 * engine (virtual time, capture backend).
 *
 * Two patterns are loaded ("beat" and "fill", one group), so the pattern
 * handlers reach the engine too.  Beyond "no crash, no sanitizer report, no
 * leak, no hang", every input must satisfy (abort() otherwise):
 * - the engine never refuses a command the OSC layer posted (the layer
 *   validates with the engine's own limits: anything else is a validation
 *   gap) - but for stopping a pattern that is not launched, which only the
 *   engine can know (a launch may still be in the command ring);
 * - a single message answered with /phasorsync/error posted nothing;
 * - the engine's state stays within its invariants (tempo 20..999 BPM,
 *   quantum 1..64).
 */
#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <lo/lo.h>

#include "capture_midi.h"
#include "clock/timesrc_virtual.h"
#include "control/config.h"
#include "control/ctl.h"
#include "engine/engine.h"
#include "engine/pattern.h"
#include "fuzz.h"

#define FZ_CHECK(cond) FUZZ_CHECK("fuzz_osc", cond)

static struct engine fz_eng;
static struct capture_midi fz_cap;
static struct timesrc_virtual fz_vt;
static struct config fz_cfg;
static struct ctl fz_ctl;
static struct patlib fz_lib;
static bool fz_ready;

/* One bar of 4/4 at 96 PPQN: `key` for a quarter note, channel 1. */
static struct pattern *fz_pattern(const char *name, uint8_t key)
{
	const uint8_t mid[] = { 'M', 'T', 'h', 'd', 0, 0, 0, 6, 0, 0, 0, 1, 0, 96,
				'M', 'T', 'r', 'k', 0, 0, 0, 13, 0x00, 0x90, key, 100, 0x60,
				0x80, key, 64, 0x82, 0x20, 0xff, 0x2f, 0x00 };
	struct smf_error err;
	struct pattern *p = NULL;
	struct smf smf;

	FZ_CHECK(smf_parse(&smf, mid, sizeof(mid), NULL, &err) == 0);
	FZ_CHECK(pattern_new(&smf, name, NULL, NULL, &p, &err) == 0);
	smf_free(&smf);
	return p;
}

static void fz_setup(void)
{
	struct engine_cfg ecfg;
	struct osc_server_cfg scfg = { .bind = "127.0.0.1", .port = 0, .udp = true, .tcp = false };
	char err[256];

	config_defaults(&fz_cfg);
	engine_cfg_defaults(&ecfg);
	ecfg.nout = 1;
	ecfg.out[0] = fz_cfg.out[0].clk;
	ecfg.follow_port = 1;
	for (int i = 0; i < 2; i++) {
		fz_lib.pat[i] = fz_pattern(i ? "fill" : "beat", (uint8_t)(60 + i));
		snprintf(fz_lib.name[i], sizeof(fz_lib.name[i]), "%s", fz_lib.pat[i]->name);
		config_pattern_opts(&fz_cfg, fz_lib.name[i], &fz_lib.opts[i]);
		fz_lib.table.slot[i] = (struct engine_pat_slot){ .pat = fz_lib.pat[i], .group = 1 };
	}
	fz_lib.table.n = 2;
	fz_lib.count = 2;
	ecfg.pats = fz_lib.table;
	timesrc_virtual_init(&fz_vt, 1000000000);
	capture_midi_init(&fz_cap);
	FZ_CHECK(engine_init(&fz_eng, &fz_vt.base, &fz_cap.base, &ecfg) == 0);
	FZ_CHECK(osc_parse_allow(&scfg, "127.0.0.0/8", err, sizeof(err)) == 0);
	FZ_CHECK(ctl_open(&fz_ctl, &fz_eng, &fz_vt.base, &fz_cfg, &scfg, err, sizeof(err)) == 0);
	fz_ctl.lib = &fz_lib;
	fz_ready = true;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static uint8_t buf[OSC_MAX_PACKET];
	struct osc_peer from = { .len = sizeof(struct sockaddr_in), .tcp = -1 };
	struct sockaddr_in *in = (struct sockaddr_in *)&from.addr;
	struct clk_snapshot s;
	uint64_t err0, rej0;
	uint32_t posted;

	if (!fz_ready)
		fz_setup();
	if (size > sizeof(buf))
		return 0;
	memcpy(buf, data, size);
	in->sin_family = AF_INET;
	in->sin_port = htons(9); /* discard: replies go nowhere */
	in->sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	err0 = fz_ctl.osc.stats.errors;
	rej0 = atomic_load(&fz_eng.stats.rejected);
	FZ_CHECK(ring_count(&fz_eng.cmd) == 0);
	osc_server_dispatch(&fz_ctl.osc, &from, buf, size);
	posted = ring_count(&fz_eng.cmd);
	if (size < 8 || memcmp(data, "#bundle", 8) != 0) /* one message: error xor command */
		FZ_CHECK(fz_ctl.osc.stats.errors == err0 || posted == 0);
	/* let the engine run the commands, 1 ms of virtual time */
	fz_eng.emit_limit = INT64_MAX;
	FZ_CHECK(engine_run_until(&fz_eng, fz_vt.now_ns + 1000000) == 0);
	FZ_CHECK(ring_count(&fz_eng.cmd) == 0);
	{
		struct engine_note n;
		uint64_t expected = 0; /* a pattern stop of one not launched */
		while (engine_poll_note(&fz_eng, &n) == 0) {
			if (n.type != ENGINE_NOTE_REJECTED)
				continue; /* notifications are the control loop's; dropped here */
			if (n.u32 == ENGINE_CMD_PATTERN_STOP && n.a == -EALREADY) {
				expected++;
				continue;
			}
			fprintf(stderr, "fuzz_osc: engine refused command %u (%lld) after %.*s\n",
				n.u32, (long long)n.a, (int)strnlen((const char *)data, size), data);
		}
		FZ_CHECK(atomic_load(&fz_eng.stats.rejected) == rej0 + expected);
	}
	FZ_CHECK(engine_snapshot(&fz_eng, &s));
	FZ_CHECK(tl_bpm_valid(s.tl.bpm_micro) && s.quantum >= 1 && s.quantum <= TL_QUANTUM_MAX);
	fz_cap.n = 0; /* the capture buffer is a window, not a log */
	return 0;
}

/* Seeds: one valid message per address, a few with every argument type. */
size_t fuzz_seed(uint32_t i, uint8_t *buf, size_t cap)
{
	static const struct {
		const char *path, *types;
	} seeds[] = {
		{ "/phasorsync/tempo", "f" },      { "/phasorsync/tempo", "" },
		{ "/phasorsync/tempo", "fs" },     { "/phasorsync/start", "s" },
		{ "/phasorsync/start/bar", "i" },  { "/phasorsync/stop", "" },
		{ "/phasorsync/continue", "f" },   { "/phasorsync/locate", "f" },
		{ "/phasorsync/quantum", "i" },    { "/phasorsync/output/clock/offset", "f" },
		{ "/phasorsync/output/clock/swing", "d" }, { "/phasorsync/output/clock/enable", "T" },
		{ "/phasorsync/output/clock/ppqn", "h" },  { "/phasorsync/status", "" },
		{ "/phasorsync/subscribe", "si" }, { "/phasorsync/unsubscribe", "" },
		{ "/phasorsync/tap", "" },         { "/phasorsync/follow", "i" },
		{ "/phasorsync/panic", "" },       { "/phasorsync/help", "" },
		{ "/phasorsync/pattern/list", "" }, { "/phasorsync/pattern/status", "" },
		{ "/phasorsync/pattern/beat/launch", "s" }, { "/phasorsync/pattern/fill/launch", "" },
		{ "/phasorsync/pattern/beat/stop", "s" },   { "/phasorsync/pattern/fill/mute", "i" },
		{ "/phasorsync/pattern/beat/solo", "T" },
	};
	lo_message m;
	size_t n = cap;

	if (i >= sizeof(seeds) / sizeof(seeds[0]))
		return 0;
	m = lo_message_new();
	for (const char *t = seeds[i].types; *t; t++) {
		switch (*t) {
		case 'f': lo_message_add_float(m, 121.5f); break;
		case 'd': lo_message_add_double(m, 55.0); break;
		case 'i': lo_message_add_int32(m, 1); break;
		case 'h': lo_message_add_int64(m, 48); break;
		case 's': lo_message_add_string(m, i == 14 ? "beat" : "bar"); break;
		case 'T': lo_message_add_true(m); break;
		default: break;
		}
	}
	if (!lo_message_serialise(m, seeds[i].path, buf, &n))
		n = 0;
	lo_message_free(m);
	return n;
}
