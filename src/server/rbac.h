/* rbac.h - administrator permissions, roles and scopes.
 *
 * A permission is one bit of a 64-bit set; a role is a named set stored in
 * the roles table as a JSON array of permission names. Every admin route
 * declares in routes.c the one permission it needs and the scope it acts in,
 * and api_admin_entry() checks both before the handler runs, so the route
 * table alone says who may do what (the authorization-matrix test is
 * generated from it). */
#ifndef PARLEY_SERVER_RBAC_H
#define PARLEY_SERVER_RBAC_H

#include "common/compat.h"

#include <jansson.h>

enum rbac_perm {
    RBAC_NONE = 0, /* any signed-in administrator or token */
    RBAC_ADMINS_READ,
    RBAC_ADMINS_WRITE,
    RBAC_NETWORKS_READ,
    RBAC_NETWORKS_WRITE,
    RBAC_USERS_READ,
    RBAC_USERS_WRITE,
    RBAC_SECURITY_GROUPS_READ,
    RBAC_SECURITY_GROUPS_WRITE,
    RBAC_ROLES_READ,
    RBAC_ROLES_WRITE,
    RBAC_TOKENS_READ,
    RBAC_TOKENS_WRITE,
    RBAC_AUDIT_READ,
    RBAC_SETTINGS_READ,
    RBAC_SETTINGS_WRITE,
    RBAC_PERM_COUNT,
};

/* Where a route acts. */
enum rbac_scope {
    RBAC_SCOPE_PUBLIC = 0, /* no authentication (sign-in) */
    RBAC_SCOPE_SELF,       /* the caller's own account; allowed while a
                              password change is pending */
    RBAC_SCOPE_ANY,        /* any authenticated caller; results are filtered
                              to what the caller may see */
    RBAC_SCOPE_DEPLOYMENT, /* super administrators and deployment tokens */
    RBAC_SCOPE_NETWORK,    /* params[0] is a network_id the caller administers
                              (deployment callers reach every network) */
};

typedef uint64_t rbac_set; /* bit (1 << perm) per permission */

#define RBAC_BIT(p) ((rbac_set)1 << (p))

/* "admins.read" ... for RBAC_ADMINS_READ ...; "" for RBAC_NONE. */
const char *rbac_perm_name(enum rbac_perm p);
/* Returns the permission named `name`, or -1. */
int rbac_perm_parse(const char *name);
const char *rbac_scope_name(enum rbac_scope s);

/* Every permission; the set a built-in role holds. */
rbac_set rbac_all(void);
rbac_set rbac_network_admin_set(void); /* what a network administrator may do */
rbac_set rbac_read_only_set(void);     /* every *.read permission */

/* Parse a JSON array of permission names into *out. On error returns
 * PARLEY_EINVAL and writes a message naming the bad element to err. */
int rbac_set_from_json(const json_t *arr, rbac_set *out, char *err, size_t errlen);
/* A new JSON array of the names in `s`, in table order. */
json_t *rbac_set_to_json(rbac_set s);
/* Parse the stored text form (a JSON array); unknown names are ignored
 * (a permission dropped by a later version grants nothing). */
rbac_set rbac_set_from_text(const char *text);

/* The built-in roles, created by migration 3. */
#define RBAC_ROLE_SUPER    "super_administrator"
#define RBAC_ROLE_NETWORK  "network_administrator"
#define RBAC_ROLE_READONLY "read_only"

#endif
