/*
 * remote.h - phasorctl's remote commands: an OSC client of the
 * /phasorsync API (docs/osc.md) over UDP, with readable or JSON output and
 * meaningful exit statuses.
 */
#ifndef PS_CONTROL_REMOTE_H
#define PS_CONTROL_REMOTE_H

#include <stdio.h>

/* Exit statuses of phasorctl's remote commands. */
#define REMOTE_EXIT_OK 0        /* done */
#define REMOTE_EXIT_REFUSED 1   /* the daemon answered with an error */
#define REMOTE_EXIT_USAGE 2     /* bad command line (nothing was sent) */
#define REMOTE_EXIT_NO_ANSWER 3 /* no answer within the timeout */

/*
 * remote_main - run one remote command.  argv[0] is the command name
 * (tempo, start, ...); host, port, json and timeout come from phasorctl's
 * global options.  Returns a REMOTE_EXIT_* status.
 * Context: phasorctl's main thread.
 */
int remote_main(int argc, char **argv, const char *host, const char *port, int json,
		int timeout_ms);

/* remote_usage - the commands' help text.  Context: any. */
void remote_usage(FILE *f);

#endif
