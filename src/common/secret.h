/* secret.h - small helpers for passwords and other secrets read by the
 * command-line programs. */
#ifndef PARLEY_SECRET_H
#define PARLEY_SECRET_H

#include "compat.h"

/* One line of `f` without its line ending, malloc'd; NULL at end of file or
 * on error. Free a secret line with secret_free. */
char *secret_read_line(FILE *f);

/* Line `which` (0-based, up to 2) of `file`; "-" reads standard input once
 * (so a parent can hand secrets over on a pipe) and hands each line out
 * once. Without a file, a copy of $env. NULL if there is none; exits when
 * `file` cannot be opened. Free with secret_free. */
char *secret_line(const char *file, int which, const char *env);

/* Wipe the NUL-terminated string `s` and free it. NULL is a no-op. */
void secret_free(char *s);

#endif
