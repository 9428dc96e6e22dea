/*
 * remote.c - phasorctl's OSC client (see remote.h).
 *
 * Every command validates its arguments locally first (a typo never reaches
 * the daemon), sends one message from an ephemeral UDP server so that the
 * reply comes back to it, and waits up to the timeout for the answer:
 * "/phasorsync/ok" or the query's own address (exit 0), or
 * "/phasorsync/error" (reason on stderr, exit 1).  No answer at all is
 * exit 3 with a hint, since UDP gives no other sign of a dead daemon.
 */
#include "control/remote.h"
#include "control/osc.h"

#include <errno.h>
#include <lo/lo.h>
#include <math.h>
#include <signal.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#define REMOTE_WATCH_RENEW_S 10 /* watch re-subscribes this often (daemon restarts) */

struct remote {
	lo_server srv;          /* our ephemeral UDP server (replies come here) */
	lo_address to;          /* the daemon */
	const char *host;       /* for messages */
	const char *port;       /* for messages */
	int json;               /* --json */
	int timeout_ms;         /* answer timeout */
	const char *want;       /* reply address expected besides ok/error */
	bool done;              /* a final reply arrived */
	int status;             /* REMOTE_EXIT_* of that reply */
	lo_message reply;       /* copy of the wanted reply (query answers) */
	bool watching;          /* watch mode: print pushes */
};

static volatile sig_atomic_t remote_interrupted; /* SIGINT during watch */

void remote_usage(FILE *f)
{
	fprintf(f,
		"Remote commands (to a running phasorsyncd over OSC/UDP):\n"
		"  status                      transport, tempo, position, sync, RT state, counters\n"
		"  watch [state|bar|beat]      print pushed events until Ctrl-C (default: beat)\n"
		"  tempo [BPM [now|beat|bar]]  show or set the tempo (20..999, decimals allowed)\n"
		"  start [now|beat|bar]        start (default now; bar = on the next bar)\n"
		"  stop | continue             stop, or resume with Song Position Pointer\n"
		"  locate BEATS                song position in beats (16th-note steps)\n"
		"  quantum [BEATS]             show or set beats per bar\n"
		"  tap                         tap tempo (send once per beat)\n"
		"  follow [on|off]             follow the external clock input, or the internal clock;\n"
		"                              no argument: show which\n"
		"  output NAME SETTING [VALUE] show or set an output setting: enable, offset (ms),\n"
		"                              swing (%%), swing_unit, ppqn, clock_while_stopped,\n"
		"                              transport, spp\n"
		"  pattern list | status       pattern names; per pattern state, mute, solo, loops,\n"
		"                              output, channel, tempo, group (--json: a line each)\n"
		"  pattern NAME launch|stop [now|beat|bar]\n"
		"                              launch (or restart) / stop a pattern, quantized\n"
		"                              (default patterns.quantize)\n"
		"  pattern NAME mute|solo 0|1  mute or solo a pattern\n"
		"  reload | panic              re-read the configuration; all notes off\n");
}

static void remote_err_handler(int num, const char *msg, const char *where)
{
	fprintf(stderr, "phasorctl: OSC: %s (%d)%s%s\n", msg, num, where ? " at " : "",
		where ? where : "");
}

static void remote_print_push(struct remote *r, const char *path, const char *types,
			      lo_arg **argv, int argc)
{
	char ts[32];
	struct timespec now;
	struct tm tm;

	clock_gettime(CLOCK_REALTIME, &now);
	localtime_r(&now.tv_sec, &tm);
	snprintf(ts, sizeof(ts), "%02d:%02d:%02d.%03ld", tm.tm_hour, tm.tm_min, tm.tm_sec,
		 now.tv_nsec / 1000000);
	if (!strcmp(path, "/phasorsync/transport") && argc == 2 && types[0] == 's')
		printf(r->json ? "{\"time\":\"%s\",\"event\":\"transport\",\"state\":\"%s\",\"beat\":%.3f}\n"
			       : "%s  transport %s at beat %.2f\n", ts, osc_str(argv[0]), osc_f32(argv[1]));
	else if (!strcmp(path, "/phasorsync/tempo") && argc == 1 && types[0] == 'f')
		printf(r->json ? "{\"time\":\"%s\",\"event\":\"tempo\",\"bpm\":%.3f}\n"
			       : "%s  tempo %.3f BPM\n", ts, osc_f32(argv[0]));
	else if (!strcmp(path, "/phasorsync/beat") && argc == 2)
		printf(r->json ? "{\"time\":\"%s\",\"event\":\"beat\",\"bar\":%d,\"beat\":%d}\n"
			       : "%s  beat %d.%d\n", ts, osc_i32(argv[0]), osc_i32(argv[1]));
	else if (!strcmp(path, "/phasorsync/bar") && argc == 1)
		printf(r->json ? "{\"time\":\"%s\",\"event\":\"bar\",\"bar\":%d}\n"
			       : "%s  bar %d\n", ts, osc_i32(argv[0]));
	else if (!strcmp(path, "/phasorsync/locate") && argc == 1 && types[0] == 'f')
		printf(r->json ? "{\"time\":\"%s\",\"event\":\"locate\",\"beat\":%.3f}\n"
			       : "%s  locate beat %.2f\n", ts, osc_f32(argv[0]));
	fflush(stdout);
}

static int remote_handler(const char *path, const char *types, lo_arg **argv, int argc,
			  lo_message msg, void *user)
{
	struct remote *r = user;

	if (!strcmp(path, "/phasorsync/error")) {
		fprintf(stderr, "phasorctl: %s: %s\n", argc > 0 && types[0] == 's' ? osc_str(argv[0]) : "?",
			argc > 1 && types[1] == 's' ? osc_str(argv[1]) : "error");
		r->done = true;
		r->status = REMOTE_EXIT_REFUSED;
	} else if (!strcmp(path, "/phasorsync/ok") && !r->watching) {
		r->done = true;
		r->status = REMOTE_EXIT_OK;
	} else if (r->want && !strcmp(path, r->want)) {
		lo_message_incref(msg);
		if (r->reply)
			lo_message_free(r->reply);
		r->reply = msg;
		r->done = true;
		r->status = REMOTE_EXIT_OK;
	} else if (r->watching) {
		remote_print_push(r, path, types, argv, argc);
	}
	return 0;
}

static int remote_open(struct remote *r)
{
	r->srv = lo_server_new_with_proto(NULL, LO_UDP, remote_err_handler);
	r->to = lo_address_new(r->host, r->port);
	if (!r->srv || !r->to) {
		fprintf(stderr, "phasorctl: cannot set up OSC to %s:%s\n", r->host, r->port);
		return -1;
	}
	lo_server_add_method(r->srv, NULL, NULL, remote_handler, r);
	return 0;
}

static void remote_close(struct remote *r)
{
	if (r->reply)
		lo_message_free(r->reply);
	if (r->to)
		lo_address_free(r->to);
	if (r->srv)
		lo_server_free(r->srv);
}

/* Send and wait for the answer; `want` is the query's reply address. */
static int remote_call(struct remote *r, const char *path, lo_message m, const char *want)
{
	struct timespec t0, t;
	int left = r->timeout_ms;

	r->want = want;
	r->done = false;
	if (lo_send_message_from(r->to, r->srv, path, m) < 0) {
		fprintf(stderr, "phasorctl: cannot send to %s:%s: %s\n", r->host, r->port,
			lo_address_errstr(r->to));
		lo_message_free(m);
		return REMOTE_EXIT_NO_ANSWER;
	}
	lo_message_free(m);
	clock_gettime(CLOCK_MONOTONIC, &t0);
	while (!r->done && left > 0) {
		lo_server_recv_noblock(r->srv, left);
		clock_gettime(CLOCK_MONOTONIC, &t);
		left = r->timeout_ms - (int)((t.tv_sec - t0.tv_sec) * 1000 +
					     (t.tv_nsec - t0.tv_nsec) / 1000000);
	}
	if (!r->done) {
		fprintf(stderr, "phasorctl: no answer from %s:%s within %d ms (is phasorsyncd running? "
				"is osc.port %s? is this host in osc.allow?)\n",
			r->host, r->port, r->timeout_ms, r->port);
		return REMOTE_EXIT_NO_ANSWER;
	}
	if (r->status == REMOTE_EXIT_OK && !want && r->json)
		printf("{\"ok\":true}\n");
	return r->status;
}

/* Strict number parsing: the whole string, finite. */
static int remote_number(const char *s, const char *what, double min, double max, double *out)
{
	char *end;
	double v;

	errno = 0;
	v = strtod(s, &end);
	if (errno || end == s || *end || isnan(v) || isinf(v) || v < min || v > max) {
		fprintf(stderr, "phasorctl: %s '%s': must be a number from %g to %g\n", what, s, min,
			max);
		return -1;
	}
	*out = v;
	return 0;
}

static int remote_when(const char *s)
{
	if (!strcmp(s, "now") || !strcmp(s, "beat") || !strcmp(s, "bar"))
		return 0;
	fprintf(stderr, "phasorctl: '%s': expected now, beat or bar\n", s);
	return -1;
}

/* The reply's key/value pairs: one JSON object per line, or aligned lines.
 * With `split`, a pair with that key starts a new record (one per pattern:
 * a JSON object each, a blank line between them in text). */
static void remote_print_pairs(struct remote *r, const char *split)
{
	lo_message m = r->reply;
	int argc = lo_message_get_argc(m);
	const char *types = lo_message_get_types(m);
	lo_arg **argv = lo_message_get_argv(m);

	if (r->json) {
		if (argc < 2)
			return;
		printf("{");
		for (int i = 0; i + 1 < argc; i += 2) {
			bool next = i && split && !strcmp(osc_str(argv[i]), split);
			printf("%s\"%s\":", next ? "}\n{" : i ? "," : "", osc_str(argv[i]));
			switch (types[i + 1]) {
			case 's': printf("\"%s\"", osc_str(argv[i + 1])); break;
			case 'f': printf("%.6g", osc_f32(argv[i + 1])); break;
			case 'i': printf("%d", osc_i32(argv[i + 1])); break;
			case 'h': printf("%lld", (long long)osc_i64(argv[i + 1])); break;
			default: printf("null"); break;
			}
		}
		printf("}\n");
		return;
	}
	for (int i = 0; i + 1 < argc; i += 2) {
		if (i && split && !strcmp(osc_str(argv[i]), split))
			printf("\n");
		printf("%-18s ", osc_str(argv[i]));
		switch (types[i + 1]) {
		case 's': printf("%s\n", osc_str(argv[i + 1])); break;
		case 'f': printf("%.3f\n", osc_f32(argv[i + 1])); break;
		case 'i': printf("%d\n", osc_i32(argv[i + 1])); break;
		case 'h': printf("%lld\n", (long long)osc_i64(argv[i + 1])); break;
		default: printf("?\n"); break;
		}
	}
}

static void remote_on_sigint(int sig)
{
	(void)sig;
	remote_interrupted = 1;
}

static int remote_watch(struct remote *r, const char *events)
{
	struct sigaction sa = { .sa_handler = remote_on_sigint };
	time_t renew = 0;
	int st;

	sigaction(SIGINT, &sa, NULL);
	sigaction(SIGTERM, &sa, NULL);
	while (!remote_interrupted) {
		if (time(NULL) >= renew) {
			lo_message m = lo_message_new();
			lo_message_add_string(m, events);
			int json = r->json;
			r->watching = false;
			r->json = 0; /* the stream holds events only, not {"ok":true} lines */
			st = remote_call(r, "/phasorsync/subscribe", m, NULL);
			r->json = json;
			if (st != REMOTE_EXIT_OK && renew == 0)
				return st;
			r->watching = true;
			renew = time(NULL) + REMOTE_WATCH_RENEW_S;
		}
		lo_server_recv_noblock(r->srv, 200);
	}
	r->watching = false;
	r->json = 0;
	remote_call(r, "/phasorsync/unsubscribe", lo_message_new(), NULL);
	return REMOTE_EXIT_OK;
}

static int remote_simple(struct remote *r, const char *path, int argc, char **argv)
{
	if (argc != 1) {
		fprintf(stderr, "phasorctl: %s takes no arguments\n", argv[0]);
		return REMOTE_EXIT_USAGE;
	}
	return remote_call(r, path, lo_message_new(), NULL);
}

static int remote_dispatch(struct remote *r, int argc, char **argv)
{
	const char *cmd = argv[0];
	lo_message m;
	double v;
	char path[160];
	int st;

	if (!strcmp(cmd, "status")) {
		if (argc != 1) {
			fprintf(stderr, "phasorctl: status takes no arguments\n");
			return REMOTE_EXIT_USAGE;
		}
		st = remote_call(r, "/phasorsync/status", lo_message_new(), "/phasorsync/status");
		if (st == REMOTE_EXIT_OK)
			remote_print_pairs(r, NULL);
		return st;
	}
	if (!strcmp(cmd, "tempo") || !strcmp(cmd, "quantum")) {
		bool tempo = !strcmp(cmd, "tempo");
		const char *qpath = tempo ? "/phasorsync/tempo" : "/phasorsync/quantum";
		if (argc == 1) {
			st = remote_call(r, qpath, lo_message_new(), qpath);
			if (st == REMOTE_EXIT_OK) {
				lo_arg **a = lo_message_get_argv(r->reply);
				const char *t = lo_message_get_types(r->reply);
				if (tempo && t[0] == 'f')
					printf(r->json ? "{\"tempo\":%.3f}\n" : "%.3f BPM\n", osc_f32(a[0]));
				else if (!tempo && t[0] == 'i')
					printf(r->json ? "{\"quantum\":%d}\n" : "%d\n", osc_i32(a[0]));
			}
			return st;
		}
		if (argc > (tempo ? 3 : 2) ||
		    remote_number(argv[1], cmd, tempo ? 20 : 1, tempo ? 999 : 64, &v) < 0 ||
		    (argc == 3 && remote_when(argv[2]) < 0)) {
			if (argc > (tempo ? 3 : 2))
				fprintf(stderr, "phasorctl: usage: %s\n",
					tempo ? "tempo [BPM [now|beat|bar]]" : "quantum [BEATS]");
			return REMOTE_EXIT_USAGE;
		}
		m = lo_message_new();
		if (tempo)
			lo_message_add_float(m, (float)v);
		else
			lo_message_add_int32(m, (int32_t)v);
		if (argc == 3)
			lo_message_add_string(m, argv[2]);
		return remote_call(r, qpath, m, NULL);
	}
	if (!strcmp(cmd, "start")) {
		const char *when = argc > 1 ? argv[1] : "now";
		if (argc > 1 && !strcmp(when, "--bar"))
			when = "bar";
		if (argc > 2 || remote_when(when) < 0)
			return REMOTE_EXIT_USAGE;
		m = lo_message_new();
		lo_message_add_string(m, when);
		return remote_call(r, "/phasorsync/start", m, NULL);
	}
	if (!strcmp(cmd, "stop"))
		return remote_simple(r, "/phasorsync/stop", argc, argv);
	if (!strcmp(cmd, "continue"))
		return remote_simple(r, "/phasorsync/continue", argc, argv);
	if (!strcmp(cmd, "reload"))
		return remote_simple(r, "/phasorsync/reload", argc, argv);
	if (!strcmp(cmd, "panic"))
		return remote_simple(r, "/phasorsync/panic", argc, argv);
	if (!strcmp(cmd, "tap"))
		return remote_simple(r, "/phasorsync/tap", argc, argv);
	if (!strcmp(cmd, "locate")) {
		if (argc != 2 || remote_number(argv[1], "beats", 0, 4095.75, &v) < 0) {
			if (argc != 2)
				fprintf(stderr, "phasorctl: usage: locate BEATS\n");
			return REMOTE_EXIT_USAGE;
		}
		m = lo_message_new();
		lo_message_add_float(m, (float)v);
		return remote_call(r, "/phasorsync/locate", m, NULL);
	}
	if (!strcmp(cmd, "output")) {
		if (argc < 3 || argc > 4) {
			fprintf(stderr, "phasorctl: usage: output NAME SETTING [VALUE]\n");
			return REMOTE_EXIT_USAGE;
		}
		snprintf(path, sizeof(path), "/phasorsync/output/%s/%s", argv[1], argv[2]);
		if (argc == 3) {
			st = remote_call(r, path, lo_message_new(), path);
			if (st == REMOTE_EXIT_OK) {
				lo_arg **a = lo_message_get_argv(r->reply);
				const char *t = lo_message_get_types(r->reply);
				if (t[0] == 'f')
					printf(r->json ? "{\"%s\":%.3f}\n" : "%s %.3f\n", argv[2], osc_f32(a[0]));
				else if (t[0] == 'i')
					printf(r->json ? "{\"%s\":%d}\n" : "%s %d\n", argv[2], osc_i32(a[0]));
			}
			return st;
		}
		if (remote_number(argv[3], argv[2], -1e6, 1e6, &v) < 0)
			return REMOTE_EXIT_USAGE;
		m = lo_message_new();
		lo_message_add_float(m, (float)v); /* range checks are the daemon's: one source of truth */
		return remote_call(r, path, m, NULL);
	}
	if (!strcmp(cmd, "pattern")) {
		if (argc == 2 && (!strcmp(argv[1], "list") || !strcmp(argv[1], "status"))) {
			snprintf(path, sizeof(path), "/phasorsync/pattern/%s", argv[1]);
			st = remote_call(r, path, lo_message_new(), path);
			if (st != REMOTE_EXIT_OK)
				return st;
			if (argv[1][0] == 's') {
				remote_print_pairs(r, "name"); /* name, state, ... per pattern */
			} else {
				lo_arg **a = lo_message_get_argv(r->reply);
				int n = lo_message_get_argc(r->reply);
				for (int i = 0; i < n; i++)
					printf(r->json ? "%s\"%s\"%s" : "%s%s\n",
					       r->json ? (i ? "," : "[") : "", osc_str(a[i]),
					       r->json && i == n - 1 ? "]\n" : "");
				if (r->json && n == 0)
					printf("[]\n");
			}
			return st;
		}
		if (argc >= 3 && (!strcmp(argv[2], "launch") || !strcmp(argv[2], "stop")) && argc <= 4) {
			if (argc == 4 && remote_when(argv[3]) < 0)
				return REMOTE_EXIT_USAGE;
			snprintf(path, sizeof(path), "/phasorsync/pattern/%s/%s", argv[1], argv[2]);
			m = lo_message_new();
			if (argc == 4)
				lo_message_add_string(m, argv[3]);
			return remote_call(r, path, m, NULL);
		}
		if (argc == 4 && (!strcmp(argv[2], "mute") || !strcmp(argv[2], "solo"))) {
			if (strcmp(argv[3], "0") && strcmp(argv[3], "1")) {
				fprintf(stderr, "phasorctl: %s '%s': expected 0 or 1\n", argv[2], argv[3]);
				return REMOTE_EXIT_USAGE;
			}
			snprintf(path, sizeof(path), "/phasorsync/pattern/%s/%s", argv[1], argv[2]);
			m = lo_message_new();
			lo_message_add_int32(m, argv[3][0] == '1');
			return remote_call(r, path, m, NULL);
		}
		fprintf(stderr, "phasorctl: usage: pattern list|status, pattern NAME launch|stop "
				"[now|beat|bar], pattern NAME mute|solo 0|1\n");
		return REMOTE_EXIT_USAGE;
	}
	if (!strcmp(cmd, "follow")) {
		bool on = argc == 2 && (!strcmp(argv[1], "on") || !strcmp(argv[1], "1"));
		if (argc > 2 || (argc == 2 && !on && strcmp(argv[1], "off") && strcmp(argv[1], "0"))) {
			fprintf(stderr, "phasorctl: usage: follow [on|off]\n");
			return REMOTE_EXIT_USAGE;
		}
		if (argc == 1) {
			st = remote_call(r, "/phasorsync/follow", lo_message_new(), "/phasorsync/follow");
			if (st == REMOTE_EXIT_OK) {
				lo_arg **a = lo_message_get_argv(r->reply);
				int f = lo_message_get_types(r->reply)[0] == 'i' && osc_i32(a[0]);
				printf(r->json ? "{\"follow\":%s}\n" : "%s\n",
				       r->json ? (f ? "true" : "false") : (f ? "on" : "off"));
			}
			return st;
		}
		m = lo_message_new();
		lo_message_add_int32(m, on);
		return remote_call(r, "/phasorsync/follow", m, NULL);
	}
	if (!strcmp(cmd, "watch")) {
		const char *ev = argc > 1 ? argv[1] : "beat";
		if (argc > 2 || (strcmp(ev, "state") && strcmp(ev, "bar") && strcmp(ev, "beat"))) {
			fprintf(stderr, "phasorctl: usage: watch [state|bar|beat]\n");
			return REMOTE_EXIT_USAGE;
		}
		return remote_watch(r, ev);
	}
	fprintf(stderr, "phasorctl: unknown command '%s' (see --help)\n", cmd);
	return REMOTE_EXIT_USAGE;
}

int remote_main(int argc, char **argv, const char *host, const char *port, int json,
		int timeout_ms)
{
	struct remote r = { .host = host, .port = port, .json = json, .timeout_ms = timeout_ms };
	int st;

	if (remote_open(&r) < 0) {
		remote_close(&r);
		return REMOTE_EXIT_NO_ANSWER;
	}
	st = remote_dispatch(&r, argc, argv);
	remote_close(&r);
	return st;
}
