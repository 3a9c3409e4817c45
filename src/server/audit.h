/* audit.h - the admin audit log: who did what to which target, when, from
 * where. Every admin action that changes something (and every sign-in,
 * failed or not) writes one row of audit_log and one key=value log line.
 * Secrets never reach either: callers pass details without them. */
#ifndef PARLEY_SERVER_AUDIT_H
#define PARLEY_SERVER_AUDIT_H

#include "common/compat.h"

#include <jansson.h>

struct store_conn;

struct audit_actor {
    const char *kind; /* "admin", "token" or "anonymous" */
    int64_t id;       /* admins.id or api_tokens.id; 0 when none */
    const char *name; /* username or token label */
    const char *ip;
};

/* Append one entry. `network_id` (the public id) and `details` may be NULL;
 * `details` is borrowed. Returns 0 or a PARLEY_E* store code (also
 * logged: a failed audit write never goes unnoticed). */
int audit_write(struct store_conn *c, const struct audit_actor *a, const char *action,
                const char *target, const char *network_id, json_t *details);

/* Entries newest first as a JSON array, filtered by the optional `action`,
 * `actor` (name), `network_id` and `since`/`until` (unix seconds; 0 means
 * no bound), skipping `offset` and returning at most `limit`. Sets *out.
 * Returns 0 or a PARLEY_E* code. */
int audit_list(struct store_conn *c, const char *action, const char *actor, const char *network_id,
               int64_t since, int64_t until, int64_t offset, int64_t limit, json_t **out);

#endif
