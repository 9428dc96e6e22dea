/*
 * sdnotify.h - the systemd notification protocol (sd_notify(3)), spoken
 * directly: one datagram of "KEY=value" lines to the AF_UNIX socket named by
 * $NOTIFY_SOCKET.  Without that variable (not started by systemd, or not
 * Type=notify) every call is a no-op.  Written here rather than linking
 * libsystemd: it is twenty lines, and Raspberry Pi OS images without
 * libsystemd-dev can still build.
 */
#ifndef PS_CONTROL_SDNOTIFY_H
#define PS_CONTROL_SDNOTIFY_H

#include <stdint.h>

struct sdnotify {
	int fd;                /* datagram socket, -1 when not under systemd */
	char path[108];        /* socket path ('@' for the abstract namespace) */
	int64_t watchdog_ns;   /* WATCHDOG_USEC in ns, 0 = no watchdog */
};

/* sdnotify_open - read $NOTIFY_SOCKET and $WATCHDOG_USEC (and $WATCHDOG_PID,
 * which must be ours).  Returns 0 (also when not under systemd) or -errno.
 * Context: control thread. */
int sdnotify_open(struct sdnotify *n);

/* sdnotify_send - send one state string, e.g. "READY=1\nSTATUS=playing".
 * Returns 0, or -errno.  Context: control thread. */
int sdnotify_send(struct sdnotify *n, const char *state);

/* sdnotify_close.  Context: control thread. */
void sdnotify_close(struct sdnotify *n);

#endif
