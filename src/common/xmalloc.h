/* xmalloc.h - allocation that logs and aborts on failure.
 * For parleyd, parley and parley-bot only: libparley never aborts and
 * returns PARLEY_ENOMEM instead. */
#ifndef PARLEY_XMALLOC_H
#define PARLEY_XMALLOC_H

#include "compat.h"

void *xmalloc(size_t n);
void *xcalloc(size_t count, size_t size);
void *xrealloc(void *p, size_t n);
char *xstrdup(const char *s);
/* Allocating printf; free the result with free(). */
char *xasprintf(const char *fmt, ...) PARLEY_PRINTF(1, 2);

#endif
