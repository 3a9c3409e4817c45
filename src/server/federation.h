/* federation.h - local federation: who may reach users of another network
 * of this deployment.
 *
 * Every security group has a Federation section (sgroup_settings.c):
 * local_federation is "disabled", "enabled" or "restricted", and with
 * "restricted", permitted_networks lists the network ids (each optionally
 * preceded by a label and '=') its users may reach. Two users of different
 * networks may reach each other only when both their security groups allow
 * it: neither is "disabled", and a "restricted" side lists the other side's
 * network id. Users of the same network always may.
 *
 * The server applies the rule wherever a user reaches another network's
 * user: directory lookups, pre-key claims, creating a conversation or
 * adding members, and every envelope (settings change; an existing
 * conversation whose members may no longer reach each other refuses new
 * envelopes until the settings allow it again).
 *
 * Global federation (between deployments) is not built; its settings are
 * stored only. */
#ifndef PARLEY_SERVER_FEDERATION_H
#define PARLEY_SERVER_FEDERATION_H

#include "common/compat.h"

#include <jansson.h>

struct store_conn;

/* One side: a user's network id and the filled settings of the user's
 * security group (sgroup_settings_fill). */
struct fed_side {
    const char *network_id;
    const json_t *settings;
};

/* Whether `a` and `b` may reach each other. Returns true, or false with a
 * sentence for the user in `why` naming the side that refuses. Pure. */
bool fed_allows(const struct fed_side *a, const struct fed_side *b, char *why, size_t whylen);

/* Whether side `s`'s own settings let its users reach network
 * other->network_id (other->settings is not read): half of fed_allows,
 * which needs nothing of the other network. Pure. */
bool fed_side_permits(const struct fed_side *s, const struct fed_side *other, char *why,
                      size_t whylen);

/* Whether permitted_networks entry `entry` names `network_id` ("ID" or
 * "label=ID"). Pure. */
bool fed_entry_names(const char *entry, const char *network_id);

/* A user's side, looked up by users.id: network row, network id and the
 * filled settings of the user's security group (default group when none).
 * Call fed_user_release after. */
struct fed_user {
    int64_t user_row, network_row;
    char network_id[129];
    json_t *settings;
};
int fed_user_load(struct store_conn *c, int64_t user_row, struct fed_user *out);
void fed_user_release(struct fed_user *u);

/* Whether some security group of network `network_id` (public id) lets
 * its users reach user `me`'s network: 1, 0 with `why` (also when there
 * is no such network), or a negative store error. Asks nothing about any
 * user of that network. */
int fed_network_admits(struct store_conn *c, const struct fed_user *me, const char *network_id,
                       char *why, size_t whylen);

/* Whether users `a` and `b` (loaded) may reach each other; same network
 * always may. */
bool fed_users_allowed(const struct fed_user *a, const struct fed_user *b, char *why,
                       size_t whylen);

/* Whether user `user_row` may reach user `other_row`. Returns 1 (yes), 0
 * (no: `why` says why) or a negative store error. */
int fed_check(struct store_conn *c, int64_t user_row, int64_t other_row, char *why, size_t whylen);

/* Whether user `user_row` may reach every member of conversation
 * `conv_row` who is in another network (a member being added is checked
 * against the members already there). Returns 1, 0 with `why`, or a
 * negative store error. */
int fed_check_conv(struct store_conn *c, int64_t conv_row, int64_t user_row, char *why,
                   size_t whylen);

#endif
