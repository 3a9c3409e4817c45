/* plan.h - who belongs in a default room: a pure function of the room's
 * definition and the network's users, as the admin API gives them. */
#ifndef PARLEY_ROOMBOT_PLAN_H
#define PARLEY_ROOMBOT_PLAN_H

#include "common/compat.h"

#include <jansson.h>

/* The usernames (a new JSON array of strings) of the users of `users`
 * (admin API user objects) who belong in default room `def`: active
 * users, all of them when "all_users" is true, else those whose
 * "security_group" id is listed in "security_groups". Users of other
 * types than "user" and malformed entries are left out. NULL only on
 * allocation failure. */
json_t *plan_members(const json_t *def, const json_t *users);

#endif
