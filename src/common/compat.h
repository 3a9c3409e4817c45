/* compat.h - the libc headers every Parley source needs, then banned.h.
 * Include it (directly or through another common header) before using
 * string or stdio functions, so the banned list applies. */
#ifndef PARLEY_COMPAT_H
#define PARLEY_COMPAT_H

#include <errno.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <parley/error.h>

#define ARRAY_SIZE(a) (sizeof(a) / sizeof((a)[0]))

#if defined(__GNUC__)
#define PARLEY_PRINTF(f, a) __attribute__((format(printf, f, a)))
#define PARLEY_NORETURN     __attribute__((noreturn))
#define PARLEY_UNUSED       __attribute__((unused))
#define PARLEY_WARN_UNUSED  __attribute__((warn_unused_result))
#else
#define PARLEY_PRINTF(f, a)
#define PARLEY_NORETURN
#define PARLEY_UNUSED
#define PARLEY_WARN_UNUSED
#endif

/* Our own broken invariants (never untrusted input): log and abort. */
#define BUG(...) parley__bug(__FILE__, __LINE__, __VA_ARGS__)
PARLEY_NORETURN PARLEY_PRINTF(3, 4) void parley__bug(const char *file, int line, const char *fmt,
                                                     ...);

#include "banned.h"

#endif
