/* rbac.c - permission names and sets; see rbac.h. */
#include "rbac.h"

static const char *const perm_names[RBAC_PERM_COUNT] = {
    [RBAC_NONE] = "",
    [RBAC_ADMINS_READ] = "admins.read",
    [RBAC_ADMINS_WRITE] = "admins.write",
    [RBAC_NETWORKS_READ] = "networks.read",
    [RBAC_NETWORKS_WRITE] = "networks.write",
    [RBAC_USERS_READ] = "users.read",
    [RBAC_USERS_WRITE] = "users.write",
    [RBAC_SECURITY_GROUPS_READ] = "security_groups.read",
    [RBAC_SECURITY_GROUPS_WRITE] = "security_groups.write",
    [RBAC_ROLES_READ] = "roles.read",
    [RBAC_ROLES_WRITE] = "roles.write",
    [RBAC_TOKENS_READ] = "tokens.read",
    [RBAC_TOKENS_WRITE] = "tokens.write",
    [RBAC_AUDIT_READ] = "audit.read",
    [RBAC_SETTINGS_READ] = "settings.read",
    [RBAC_SETTINGS_WRITE] = "settings.write",
};

static const char *const scope_names[] = {"public", "self", "any", "deployment", "network"};

const char *rbac_perm_name(enum rbac_perm p)
{
    return (unsigned)p < RBAC_PERM_COUNT ? perm_names[p] : "";
}

int rbac_perm_parse(const char *name)
{
    for (int i = 1; i < RBAC_PERM_COUNT; i++)
        if (strcmp(perm_names[i], name) == 0)
            return i;
    return -1;
}

const char *rbac_scope_name(enum rbac_scope s)
{
    return (unsigned)s < ARRAY_SIZE(scope_names) ? scope_names[s] : "?";
}

rbac_set rbac_all(void)
{
    rbac_set s = 0;
    for (int i = 1; i < RBAC_PERM_COUNT; i++)
        s |= RBAC_BIT(i);
    return s;
}

rbac_set rbac_network_admin_set(void)
{
    return RBAC_BIT(RBAC_NETWORKS_READ) | RBAC_BIT(RBAC_NETWORKS_WRITE) |
           RBAC_BIT(RBAC_USERS_READ) | RBAC_BIT(RBAC_USERS_WRITE) |
           RBAC_BIT(RBAC_SECURITY_GROUPS_READ) | RBAC_BIT(RBAC_SECURITY_GROUPS_WRITE) |
           RBAC_BIT(RBAC_TOKENS_READ) | RBAC_BIT(RBAC_TOKENS_WRITE);
}

rbac_set rbac_read_only_set(void)
{
    rbac_set s = 0;
    for (int i = 1; i < RBAC_PERM_COUNT; i++) {
        const char *dot = strrchr(perm_names[i], '.');
        if (dot && strcmp(dot, ".read") == 0)
            s |= RBAC_BIT(i);
    }
    return s;
}

int rbac_set_from_json(const json_t *arr, rbac_set *out, char *err, size_t errlen)
{
    size_t i;
    json_t *v;
    rbac_set s = 0;

    if (!json_is_array(arr)) {
        snprintf(err, errlen, "field 'permissions' must be an array of permission names");
        return PARLEY_EINVAL;
    }
    json_array_foreach(arr, i, v)
    {
        int p = json_is_string(v) ? rbac_perm_parse(json_string_value(v)) : -1;
        if (p < 0) {
            snprintf(err, errlen,
                     "field 'permissions' element %zu is not a known permission (see GET "
                     "/api/v1/admin/permissions)",
                     i);
            return PARLEY_EINVAL;
        }
        s |= RBAC_BIT(p);
    }
    *out = s;
    return 0;
}

json_t *rbac_set_to_json(rbac_set s)
{
    json_t *a = json_array();
    for (int i = 1; i < RBAC_PERM_COUNT; i++)
        if (s & RBAC_BIT(i))
            json_array_append_new(a, json_string(perm_names[i]));
    return a;
}

rbac_set rbac_set_from_text(const char *text)
{
    json_t *a = text ? json_loads(text, 0, NULL) : NULL;
    size_t i;
    json_t *v;
    rbac_set s = 0;

    json_array_foreach(a, i, v)
    {
        int p = json_is_string(v) ? rbac_perm_parse(json_string_value(v)) : -1;
        if (p > 0)
            s |= RBAC_BIT(p);
    }
    json_decref(a);
    return s;
}
