/* federation.c - local federation between the networks of a deployment;
 * see federation.h. */
#include "federation.h"
#include "common/str.h"
#include "common/xmalloc.h"
#include "sgroup_settings.h"
#include "store.h"

bool fed_entry_names(const char *entry, const char *network_id)
{
    const char *eq = strrchr(entry, '=');
    const char *id = eq ? eq + 1 : entry;

    while (*id == ' ')
        id++;
    return *network_id && strcmp(id, network_id) == 0;
}

bool fed_side_permits(const struct fed_side *s, const struct fed_side *other, char *why,
                      size_t whylen)
{
    const char *mode = json_string_value(json_object_get(s->settings, "local_federation"));
    json_t *list, *e;
    size_t i;

    if (!mode || strcmp(mode, "disabled") == 0) {
        snprintf(why, whylen,
                 "local federation is disabled for users of network %s: they cannot reach users "
                 "of network %s",
                 s->network_id, other->network_id);
        return false;
    }
    if (strcmp(mode, "restricted") != 0)
        return true;
    list = json_object_get(s->settings, "permitted_networks");
    json_array_foreach(list, i, e)
    {
        if (json_is_string(e) && fed_entry_names(json_string_value(e), other->network_id))
            return true;
    }
    snprintf(why, whylen,
             "local federation is restricted for users of network %s and network %s is not "
             "among its permitted networks",
             s->network_id, other->network_id);
    return false;
}

bool fed_allows(const struct fed_side *a, const struct fed_side *b, char *why, size_t whylen)
{
    if (strcmp(a->network_id, b->network_id) == 0)
        return true;
    return fed_side_permits(a, b, why, whylen) && fed_side_permits(b, a, why, whylen);
}

/* The effective security group of a user: their own, or the network's
 * default group. */
#define EFFECTIVE_GROUP                                                                            \
    "COALESCE(u.security_group_id, (SELECT id FROM security_groups g WHERE g.network_id = "        \
    "u.network_id AND g.is_default = 1 ORDER BY g.id LIMIT 1), 0)"

static int group_settings(struct store_conn *c, int64_t group, json_t **out)
{
    int rc = group ? sgroup_settings_get(c, group, out) : PARLEY_ENOTFOUND;
    if (rc == PARLEY_ENOTFOUND) {
        *out = sgroup_settings_fill(sgroup_settings, sgroup_settings_count, NULL);
        rc = 0;
    }
    return rc;
}

int fed_user_load(struct store_conn *c, int64_t user_row, struct fed_user *out)
{
    struct store_val p[] = {STORE_INT(user_row)};
    struct store_rows *r = NULL;
    int64_t group = 0;
    int rc;

    memset(out, 0, sizeof(*out));
    out->user_row = user_row;
    rc = store_query(c,
                     "SELECT u.network_id, n.network_id, " EFFECTIVE_GROUP
                     " FROM users u JOIN networks n ON n.id = u.network_id WHERE u.id = $1",
                     p, 1, &r);
    if (rc == 0 && (rc = store_rows_next(r)) == 1) {
        out->network_row = store_rows_int(r, 0);
        strlcpy_p(out->network_id, store_rows_text(r, 1), sizeof(out->network_id));
        group = store_rows_int(r, 2);
        rc = 0;
    } else if (rc == 0) {
        rc = PARLEY_ENOTFOUND;
    }
    store_rows_free(r);
    if (rc == 0)
        rc = group_settings(c, group, &out->settings);
    return rc;
}

void fed_user_release(struct fed_user *u)
{
    json_decref(u->settings);
    u->settings = NULL;
}

bool fed_users_allowed(const struct fed_user *a, const struct fed_user *b, char *why, size_t whylen)
{
    struct fed_side sa = {a->network_id, a->settings}, sb = {b->network_id, b->settings};
    if (a->network_row == b->network_row)
        return true;
    return fed_allows(&sa, &sb, why, whylen);
}

int fed_network_admits(struct store_conn *c, const struct fed_user *me, const char *network_id,
                       char *why, size_t whylen)
{
    struct store_val p[] = {STORE_TEXT(network_id)};
    struct store_rows *r = NULL;
    int64_t *groups = NULL;
    size_t n = 0, cap = 0;
    int rc = store_query(c,
                         "SELECT g.id FROM security_groups g JOIN networks n ON n.id = "
                         "g.network_id WHERE n.network_id = $1 ORDER BY g.is_default DESC, g.id",
                         p, 1, &r),
        verdict = 0;

    snprintf(why, whylen, "no network %.128s in this deployment", network_id);
    while (rc == 0 && (rc = store_rows_next(r)) == 1) {
        if (n == cap)
            groups = xrealloc(groups, (cap = cap ? cap * 2 : 8) * sizeof(*groups));
        groups[n++] = store_rows_int(r, 0);
        rc = 0;
    }
    store_rows_free(r);
    for (size_t i = 0; rc == 0 && verdict == 0 && i < n; i++) {
        json_t *settings = NULL;
        char one[300];
        rc = group_settings(c, groups[i], &settings);
        struct fed_side theirs = {network_id, settings}, mine = {me->network_id, NULL};
        if (rc == 0 && fed_side_permits(&theirs, &mine, one, sizeof(one)))
            verdict = 1;
        else if (rc == 0 && i == 0)
            snprintf(why, whylen, "%s", one); /* the default group's reason */
        json_decref(settings);
    }
    free(groups);
    return rc < 0 ? rc : verdict;
}

int fed_check(struct store_conn *c, int64_t user_row, int64_t other_row, char *why, size_t whylen)
{
    struct fed_user a, b;
    int rc = fed_user_load(c, user_row, &a);

    if (rc == 0) {
        rc = fed_user_load(c, other_row, &b);
        if (rc == 0)
            rc = fed_users_allowed(&a, &b, why, whylen) ? 1 : 0;
        fed_user_release(&b);
    }
    fed_user_release(&a);
    return rc;
}

int fed_check_conv(struct store_conn *c, int64_t conv_row, int64_t user_row, char *why,
                   size_t whylen)
{
    struct fed_user me;
    struct store_rows *r = NULL;
    struct {
        char network_id[129];
        int64_t group;
    } *others = NULL;
    size_t n = 0, cap = 0;
    int rc = fed_user_load(c, user_row, &me), verdict = 1;

    if (rc < 0) {
        fed_user_release(&me);
        return rc;
    }
    /* One row per security group of the members in other networks: few,
     * whatever the number of members. Read them all before looking the
     * settings up (one statement at a time on a connection). */
    struct store_val p[] = {STORE_INT(conv_row), STORE_INT(me.network_row)};
    rc = store_query(c,
                     "SELECT DISTINCT n.network_id, " EFFECTIVE_GROUP
                     " FROM members m JOIN users u ON u.id = m.user_id "
                     "JOIN networks n ON n.id = u.network_id "
                     "WHERE m.conv_id = $1 AND u.network_id <> $2",
                     p, 2, &r);
    while (rc == 0 && (rc = store_rows_next(r)) == 1) {
        if (n == cap)
            others = xrealloc(others, (cap = cap ? cap * 2 : 4) * sizeof(*others));
        strlcpy_p(others[n].network_id, store_rows_text(r, 0), sizeof(others[n].network_id));
        others[n].group = store_rows_int(r, 1);
        n++;
        rc = 0;
    }
    store_rows_free(r);
    for (size_t i = 0; rc == 0 && verdict == 1 && i < n; i++) {
        struct fed_side mine = {me.network_id, me.settings};
        json_t *settings = NULL;
        rc = group_settings(c, others[i].group, &settings);
        struct fed_side other = {others[i].network_id, settings};
        if (rc == 0 && !fed_allows(&mine, &other, why, whylen))
            verdict = 0;
        json_decref(settings);
    }
    free(others);
    fed_user_release(&me);
    return rc < 0 ? rc : verdict;
}
