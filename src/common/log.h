/* log.h - leveled, structured (logfmt) logging to stderr or a file.
 *
 * Each line is `ts=<RFC 3339 UTC> level=<level> msg="<text>"`; the text is
 * quoted and escaped as a whole, so callers may write key=value pairs in it
 * (`log_info("listening addr=%s", a)`). Never pass tokens, keys, passwords
 * or message bodies.
 * Thread-safe: one line is one write(2). */
#ifndef PARLEY_LOG_H
#define PARLEY_LOG_H

#include "compat.h"

enum log_level {
    LOG_LEVEL_DEBUG = 0,
    LOG_LEVEL_INFO = 1,
    LOG_LEVEL_WARN = 2,
    LOG_LEVEL_ERROR = 3,
};

/* Set the lowest level written. Default: LOG_LEVEL_INFO. */
void log_set_level(enum log_level level);
enum log_level log_get_level(void);

/* Parse "debug", "info", "warn" or "error". Returns 0 or PARLEY_EINVAL. */
int log_level_parse(const char *name, enum log_level *out);
const char *log_level_name(enum log_level level);

/* Write to file descriptor `fd` from now on (default 2). The caller owns fd. */
void log_set_fd(int fd);

void log_debug(const char *fmt, ...) PARLEY_PRINTF(1, 2);
void log_info(const char *fmt, ...) PARLEY_PRINTF(1, 2);
/* log_warn appends strerror(errno); log_warnx does not. */
void log_warn(const char *fmt, ...) PARLEY_PRINTF(1, 2);
void log_warnx(const char *fmt, ...) PARLEY_PRINTF(1, 2);
void log_error(const char *fmt, ...) PARLEY_PRINTF(1, 2);
/* Log at error level and exit(1); fatal appends strerror(errno). */
PARLEY_NORETURN void fatal(const char *fmt, ...) PARLEY_PRINTF(1, 2);
PARLEY_NORETURN void fatalx(const char *fmt, ...) PARLEY_PRINTF(1, 2);

#endif
