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

/*
 * sdnotify_watchdog - the watchdog decision, separate so it can be tested:
 * what to do at `now_ns` when WATCHDOG=1 was last sent at *last_ns and the
 * engine loop had made *last_iter iterations at the previous check, with
 * `iter` now.  Returns 0 (not yet half the interval, or no watchdog), 1
 * (send WATCHDOG=1: the engine iterated; *last_ns = now_ns) or -1 (the
 * engine made no progress: do not send, so systemd restarts us).  Updates
 * *last_iter at each check.  Context: control thread.
 */
int sdnotify_watchdog(const struct sdnotify *n, int64_t now_ns, int64_t *last_ns,
		      uint64_t iter, uint64_t *last_iter);

/* sdnotify_close.  Context: control thread. */
void sdnotify_close(struct sdnotify *n);

#endif
