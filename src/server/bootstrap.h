/* bootstrap.h - first-start set-up that needs the database. */
#ifndef PARLEY_SERVER_BOOTSTRAP_H
#define PARLEY_SERVER_BOOTSTRAP_H

#include "common/compat.h"

struct store;

#define BOOTSTRAP_ADMIN "admin"

/* Make sure a super administrator exists. On the first start creates
 * BOOTSTRAP_ADMIN with a random one-time password (changed at first
 * sign-in), writes that password and `console_url` to `out` once, and
 * never logs it. Later starts change nothing. Returns 0, or a PARLEY_E*
 * code (logged). */
int bootstrap_super_admin(struct store *st, const char *console_url, FILE *out);

#endif
