/*
 * log.h - logging for non-RT threads (RT threads use rt/rtlog.h, drained
 * into this).
 *
 * Levels are syslog's numbers, so that under systemd each line can carry the
 * "<N>" prefix journald turns into the entry's priority:
 *   LOG_ERR (3)     something failed; the daemon may go on without it
 *   LOG_WARNING (4) degraded but running (e.g. no RT privileges)
 *   LOG_NOTICE (5)  normal but significant (started, stopped, reloaded)
 *   LOG_INFO (6)    informational (default threshold)
 *   LOG_DEBUG (7)   for developers
 * Output goes to stderr, one line per call.  When stderr is the stream
 * systemd set up (JOURNAL_STREAM names its device:inode), lines are
 * "<N>text"; otherwise "phasorsyncd: level: text".
 */
#ifndef PS_CONTROL_LOG_H
#define PS_CONTROL_LOG_H

#include <stdarg.h>
#include <stdbool.h>
#include <syslog.h>

/* log_init - program name for the prefix; detects journald.  Context: main, once. */
void log_init(const char *prog);

/* log_set_level - lines above `level` are dropped.  Context: any non-RT thread. */
void log_set_level(int level);

/* log_get_level - current threshold.  Context: any non-RT thread. */
int log_get_level(void);

/* log_journal - whether "<N>" prefixes are in use.  Context: any. */
bool log_journal(void);

/* log_level_name - "error", "warning", ...  Context: any. */
const char *log_level_name(int level);

/*
 * logx - log one line at `level` (no trailing newline needed).
 * Context: non-RT, may block on stderr.
 */
void logx(int level, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
void vlogx(int level, const char *fmt, va_list ap) __attribute__((format(printf, 2, 0)));

#endif
