/* secret.h - small helpers for passwords and other secrets read by the
 * command-line programs. */
#ifndef PARLEY_SECRET_H
#define PARLEY_SECRET_H

#include "compat.h"

/* One line of `f` without its line ending, malloc'd; NULL at end of file or
 * on error. Free a secret line with secret_free. */
char *secret_read_line(FILE *f);

/* Wipe the NUL-terminated string `s` and free it. NULL is a no-op. */
void secret_free(char *s);

#endif
