/* plan.c - the members a default room should have (plan.h). */
#include "plan.h"

static bool group_listed(const json_t *groups, json_int_t id)
{
    size_t i;
    json_t *g;
    json_array_foreach(groups, i,
                       g) if (json_is_integer(g) && json_integer_value(g) == id) return true;
    return false;
}

json_t *plan_members(const json_t *def, const json_t *users)
{
    json_t *out = json_array(), *u;
    const json_t *groups = json_object_get(def, "security_groups");
    bool all = json_is_true(json_object_get(def, "all_users"));
    size_t i;

    if (!out)
        return NULL;
    json_array_foreach(users, i, u)
    {
        const char *name = json_string_value(json_object_get(u, "username"));
        const char *status = json_string_value(json_object_get(u, "status"));
        const char *type = json_string_value(json_object_get(u, "user_type"));
        json_t *sg = json_object_get(json_object_get(u, "security_group"), "id");
        if (!name || !*name || !status || strcmp(status, "active") != 0)
            continue;
        /* Web administrators have no messaging client. */
        if (type && strcmp(type, "user") != 0)
            continue;
        if (!all && !(json_is_integer(sg) && group_listed(groups, json_integer_value(sg))))
            continue;
        if (json_array_append_new(out, json_string(name)) < 0) {
            json_decref(out);
            return NULL;
        }
    }
    return out;
}
