/* api_admin_netpages.c - network administrator pages beyond the profile:
 * network options (file management, the custom TCP calling port), security
 * tags, default room definitions and blocked guest users.
 *
 * Everything here is stored and validated; the pieces that act on it (the
 * room bot that creates and keeps default rooms, the calling service that
 * listens on the port, federation that admits guests) are later work, so
 * the definitions are ready when they arrive. Blocking a guest who already
 * has a local account suspends it and closes its sessions at once. */
#include "admin_json.h"
#include "api_admin.h"
#include "api_admin_tools.h"
#include "common/log.h"
#include "common/str.h"
#include "sgroup_settings.h"
#include "store.h"
#include "ws.h"

/* Options declared in the security-group table format, so the shared
 * validator, filler and describer apply. */
static const struct sgroup_setting netopts[] = {
    {"file_management", "network", SGS_BOOL, "false", 0, 0, 0, NULL, SGS_CLIENT,
     "Show the Files tab in rooms and groups (file management, beta)."},
    {"tcp_calling_port", "network", SGS_INT, "443", 1, 65535, 0, NULL, SGS_SERVER,
     "TCP port of the calling service when it cannot share 443 with messaging; changing it "
     "needs a restart of the calling service."},
};

static const struct admin_field netopts_fields[] = {
    {"settings", AF_OBJECT, true, 0, 0, NULL},
};

static int netopts_load(struct admin_ctx *ctx, json_t **out)
{
    struct store_val p[] = {STORE_INT(ctx->net)};
    struct store_rows *r = NULL;
    int rc =
        store_query(ctx->c, "SELECT settings FROM network_options WHERE network_id = $1", p, 1, &r);
    *out = NULL;
    if (rc == 0 && (rc = store_rows_next(r)) == 1) {
        *out = json_loads(store_rows_text(r, 0), 0, NULL);
        rc = 0;
    }
    store_rows_free(r);
    if (rc == 0 && !json_is_object(*out)) {
        json_decref(*out);
        *out = json_object();
    }
    return rc;
}

static void reply_netopts(struct http_req *req, const json_t *stored)
{
    http_reply_json(req, 200,
                    json_pack("{s:o,s:o}", "settings",
                              sgroup_settings_fill(netopts, ARRAY_SIZE(netopts), stored), "table",
                              sgroup_settings_describe(netopts, ARRAY_SIZE(netopts))));
}

void api_admin_netopts_get(struct http_req *req, struct admin_ctx *ctx)
{
    json_t *stored = NULL;
    int rc = netopts_load(ctx, &stored);
    if (rc < 0)
        api_admin_store_error(req, ctx, rc);
    else
        reply_netopts(req, stored);
    json_decref(stored);
}

void api_admin_netopts_update(struct http_req *req, struct admin_ctx *ctx)
{
    json_t *body = api_admin_body(req, netopts_fields, ARRAY_SIZE(netopts_fields));
    json_t *update, *stored = NULL;
    char err[512], *text = NULL;
    int rc;

    if (!body)
        return;
    update = json_object_get(body, "settings");
    if (sgroup_settings_validate(netopts, ARRAY_SIZE(netopts), update, err, sizeof(err)) < 0) {
        http_reply_error(req, 400, "bad_request", "%s", err);
        goto out;
    }
    rc = netopts_load(ctx, &stored);
    if (rc == 0) {
        json_object_update(stored, update);
        text = json_dumps(stored, JSON_COMPACT | JSON_SORT_KEYS);
        struct store_val p[] = {STORE_INT(ctx->net), STORE_TEXT(text),
                                STORE_INT((int64_t)time(NULL))};
        rc = store_exec(ctx->c,
                        "INSERT INTO network_options (network_id, settings, updated_at) VALUES "
                        "($1, $2, $3) ON CONFLICT (network_id) DO UPDATE SET settings = "
                        "excluded.settings, updated_at = excluded.updated_at",
                        p, 3, NULL);
    }
    if (rc < 0) {
        api_admin_store_error(req, ctx, rc);
        goto out;
    }
    api_admin_audit(ctx, "network.options_update", ctx->network_id, json_incref(update));
    reply_netopts(req, stored);
out:
    free(text);
    json_decref(stored);
    json_decref(body);
}

/* ---- security groups named in a body ---- */

/* `arr` (may be NULL) must list distinct security groups of ctx->net.
 * Sets *out to the compact JSON text of the sorted ids. Replies 400
 * naming `field` if not. */
static bool groups_ok(struct http_req *req, struct admin_ctx *ctx, const char *field,
                      const json_t *arr, char **out)
{
    json_t *ids = json_array(), *v;
    size_t i;
    int rc = 0;

    json_array_foreach(arr, i, v)
    {
        int64_t found = 0;
        if (!json_is_integer(v) || json_integer_value(v) < 1) {
            http_reply_error(req, 400, "bad_request",
                             "field '%s': item %zu must be a security group id", field, i);
            goto fail;
        }
        for (size_t k = 0; k < i; k++)
            if (json_integer_value(json_array_get(arr, k)) == json_integer_value(v)) {
                http_reply_error(req, 400, "bad_request", "field '%s': item %zu repeats a group",
                                 field, i);
                goto fail;
            }
        struct store_val p[] = {STORE_INT(ctx->net), STORE_INT(json_integer_value(v))};
        rc = store_query_int(ctx->c,
                             "SELECT id FROM security_groups WHERE network_id = $1 AND id = $2", p,
                             2, &found);
        if (rc == PARLEY_ENOTFOUND) {
            http_reply_error(req, 400, "bad_request",
                             "field '%s': no security group %lld in this network", field,
                             (long long)json_integer_value(v));
            goto fail;
        }
        if (rc < 0) {
            api_admin_store_error(req, ctx, rc);
            goto fail;
        }
        json_array_append(ids, v);
    }
    *out = json_dumps(ids, JSON_COMPACT);
    json_decref(ids);
    return true;
fail:
    json_decref(ids);
    return false;
}

/* Create a row, then reply with it; a name conflict is a 409 that names
 * the field. */
static void insert_named(struct http_req *req, struct admin_ctx *ctx, const char *sql,
                         struct store_val *p, size_t n, const char *table, const char *what,
                         const char *action, const char *name, json_t *details)
{
    int64_t id = 0;
    char q[160];
    int rc = store_exec(ctx->c, sql, p, n, NULL);

    snprintf(q, sizeof(q), "SELECT id FROM %s WHERE network_id = $1 AND name = $2", table);
    if (rc == 0)
        rc = store_query_int(ctx->c, q, p, 2, &id);
    if (rc == PARLEY_EEXIST) {
        http_reply_error(req, 409, "conflict", "field 'name': a %s '%s' exists in this network",
                         what, name);
        json_decref(details);
        return;
    }
    if (rc < 0) {
        api_admin_store_error(req, ctx, rc);
        json_decref(details);
        return;
    }
    json_object_set_new(details, "id", json_integer((json_int_t)id));
    api_admin_audit(ctx, action, name, json_incref(details));
    http_reply_json(req, 201, details);
}

/* Delete row params[1] of `table` in ctx->net; 404 if there is none. */
static void delete_row(struct http_req *req, struct admin_ctx *ctx, const char *table,
                       const char *what, const char *action)
{
    int64_t id = 0, changes = 0;
    char sql[160];
    int rc = 0;

    if (str_to_i64(req->params[1], 1, INT64_MAX, &id) == 0) {
        struct store_val p[] = {STORE_INT(ctx->net), STORE_INT(id)};
        snprintf(sql, sizeof(sql), "DELETE FROM %s WHERE network_id = $1 AND id = $2", table);
        rc = store_exec(ctx->c, sql, p, 2, &changes);
    }
    if (rc < 0) {
        api_admin_store_error(req, ctx, rc);
        return;
    }
    if (!changes) {
        http_reply_error(req, 404, "not_found", "no %s '%.24s' in this network", what,
                         req->params[1]);
        return;
    }
    api_admin_audit(ctx, action, req->params[1], json_pack("{s:I}", "id", (json_int_t)id));
    http_reply(req, 204, "application/json", NULL, 0);
}

/* ---- security tags ---- */

static const struct admin_field tag_fields[] = {
    {"name", AF_STRING, true, 1, 64, NULL},
    {"color", AF_STRING, true, 7, 7, NULL},
    {"security_groups", AF_ARRAY, false, 0, SGROUP_MAX_PER_NETWORK, NULL},
};

static bool color_ok(const char *s)
{
    if (s[0] != '#' || strlen(s) != 7)
        return false;
    for (int i = 1; i < 7; i++)
        if (!strchr("0123456789abcdefABCDEF", s[i]))
            return false;
    return true;
}

static void list_rows(struct http_req *req, struct admin_ctx *ctx, const char *sql, const char *key,
                      bool rooms)
{
    struct store_val p[] = {STORE_INT(ctx->net)};
    struct store_rows *r = NULL;
    json_t *arr = json_array();
    int rc = store_query(ctx->c, sql, p, 1, &r);

    while (rc == 0 && (rc = store_rows_next(r)) == 1) {
        json_t *groups = json_loads(store_rows_text(r, 3), 0, NULL);
        if (!json_is_array(groups)) {
            json_decref(groups);
            groups = json_array();
        }
        if (rooms)
            json_array_append_new(
                arr, json_pack("{s:I,s:s,s:s,s:o,s:b,s:I}", "id", (json_int_t)store_rows_int(r, 0),
                               "name", store_rows_text(r, 1), "description", store_rows_text(r, 2),
                               "security_groups", groups, "all_users", store_rows_int(r, 4) != 0,
                               "created_at", (json_int_t)store_rows_int(r, 5)));
        else
            json_array_append_new(arr, json_pack("{s:I,s:s,s:s,s:o,s:I}", "id",
                                                 (json_int_t)store_rows_int(r, 0), "name",
                                                 store_rows_text(r, 1), "color",
                                                 store_rows_text(r, 2), "security_groups", groups,
                                                 "created_at", (json_int_t)store_rows_int(r, 4)));
        rc = 0;
    }
    store_rows_free(r);
    if (rc < 0) {
        json_decref(arr);
        api_admin_store_error(req, ctx, rc);
        return;
    }
    json_t *reply = json_pack("{s:o}", key, arr);
    /* The room bot reads its definitions here and needs to know whether
     * it may manage them (a deployment setting it could not read). */
    if (rooms) {
        json_t *enabled = NULL;
        rc = api_admin_deploy_setting(ctx->c, "room_bot_enabled", &enabled);
        if (rc < 0) {
            json_decref(reply);
            api_admin_store_error(req, ctx, rc);
            return;
        }
        json_object_set_new(reply, "room_bot_enabled", json_boolean(json_is_true(enabled)));
        json_decref(enabled);
    }
    http_reply_json(req, 200, reply);
}

void api_admin_tags_list(struct http_req *req, struct admin_ctx *ctx)
{
    list_rows(req, ctx,
              "SELECT id, name, color, security_groups, created_at FROM security_tags WHERE "
              "network_id = $1 ORDER BY name",
              "security_tags", false);
}

void api_admin_tags_create(struct http_req *req, struct admin_ctx *ctx)
{
    json_t *body = api_admin_body(req, tag_fields, ARRAY_SIZE(tag_fields));
    const char *name, *color;
    char *groups = NULL;

    if (!body)
        return;
    name = admin_json_str(body, "name", "");
    color = admin_json_str(body, "color", "");
    if (!color_ok(color)) {
        http_reply_error(req, 400, "bad_request", "field 'color' must be #RRGGBB, got '%s'", color);
        goto out;
    }
    if (!groups_ok(req, ctx, "security_groups", json_object_get(body, "security_groups"), &groups))
        goto out;
    {
        int64_t now = (int64_t)time(NULL);
        struct store_val p[] = {STORE_INT(ctx->net), STORE_TEXT(name), STORE_TEXT(color),
                                STORE_TEXT(groups), STORE_INT(now)};
        insert_named(req, ctx,
                     "INSERT INTO security_tags (network_id, name, color, security_groups, "
                     "created_at) VALUES ($1, $2, $3, $4, $5)",
                     p, 5, "security_tags", "security tag", "security_tag.create", name,
                     json_pack("{s:s,s:s,s:o,s:I}", "name", name, "color", color, "security_groups",
                               json_loads(groups, 0, NULL), "created_at", (json_int_t)now));
    }
out:
    free(groups);
    json_decref(body);
}

void api_admin_tags_delete(struct http_req *req, struct admin_ctx *ctx)
{
    delete_row(req, ctx, "security_tags", "security tag", "security_tag.delete");
}

/* ---- default rooms ---- */

static const struct admin_field room_fields[] = {
    {"name", AF_STRING, true, 1, 64, NULL},
    {"description", AF_STRING, false, 0, 512, NULL},
    {"all_users", AF_BOOL, false, 0, 0, NULL},
    {"security_groups", AF_ARRAY, false, 0, SGROUP_MAX_PER_NETWORK, NULL},
};

void api_admin_rooms_list(struct http_req *req, struct admin_ctx *ctx)
{
    list_rows(req, ctx,
              "SELECT id, name, description, security_groups, all_users, created_at FROM "
              "default_rooms WHERE network_id = $1 ORDER BY name",
              "default_rooms", true);
}

void api_admin_rooms_create(struct http_req *req, struct admin_ctx *ctx)
{
    json_t *body = api_admin_body(req, room_fields, ARRAY_SIZE(room_fields));
    json_t *enabled = NULL, *sg;
    const char *name;
    char *groups = NULL;
    bool all;
    int rc;

    if (!body)
        return;
    name = admin_json_str(body, "name", "");
    all = json_is_true(json_object_get(body, "all_users"));
    sg = json_object_get(body, "security_groups");
    if (!all && json_array_size(sg) == 0) {
        http_reply_error(req, 400, "bad_request",
                         "field 'security_groups' must name at least one group unless "
                         "'all_users' is true");
        goto out;
    }
    if (!groups_ok(req, ctx, "security_groups", sg, &groups))
        goto out;
    /* Default rooms exist only while the super administrator allows the
     * room bot (deployment setting room_bot_enabled). */
    rc = api_admin_deploy_setting(ctx->c, "room_bot_enabled", &enabled);
    if (rc < 0) {
        api_admin_store_error(req, ctx, rc);
        goto out;
    }
    if (!json_is_true(enabled)) {
        http_reply_error(req, 409, "conflict",
                         "default rooms need the room bot, which a super administrator has not "
                         "enabled (deployment setting 'room_bot_enabled')");
        goto out;
    }
    {
        int64_t now = (int64_t)time(NULL);
        const char *desc = admin_json_str(body, "description", "");
        struct store_val p[] = {STORE_INT(ctx->net),    STORE_TEXT(name),   STORE_TEXT(desc),
                                STORE_INT(all ? 1 : 0), STORE_TEXT(groups), STORE_INT(now)};
        insert_named(req, ctx,
                     "INSERT INTO default_rooms (network_id, name, description, all_users, "
                     "security_groups, created_at) VALUES ($1, $2, $3, $4, $5, $6)",
                     p, 6, "default_rooms", "default room", "default_room.create", name,
                     json_pack("{s:s,s:s,s:b,s:o,s:I}", "name", name, "description", desc,
                               "all_users", all, "security_groups", json_loads(groups, 0, NULL),
                               "created_at", (json_int_t)now));
    }
out:
    json_decref(enabled);
    free(groups);
    json_decref(body);
}

void api_admin_rooms_delete(struct http_req *req, struct admin_ctx *ctx)
{
    delete_row(req, ctx, "default_rooms", "default room", "default_room.delete");
}

/* ---- guest users ---- */

void api_admin_guests_list(struct http_req *req, struct admin_ctx *ctx)
{
    struct store_val p[] = {STORE_INT(ctx->net)};
    struct store_rows *r = NULL;
    json_t *guests = json_array(), *blocked = json_array();
    int rc = store_query(ctx->c,
                         "SELECT username, status, created_at FROM users WHERE network_id = $1 "
                         "AND user_type = 'guest' ORDER BY username",
                         p, 1, &r);

    while (rc == 0 && (rc = store_rows_next(r)) == 1) {
        json_array_append_new(guests, json_pack("{s:s,s:s,s:I}", "username", store_rows_text(r, 0),
                                                "status", store_rows_text(r, 1), "created_at",
                                                (json_int_t)store_rows_int(r, 2)));
        rc = 0;
    }
    store_rows_free(r);
    r = NULL;
    if (rc == 0)
        rc = store_query(ctx->c,
                         "SELECT username, created_at FROM guest_blocks WHERE network_id = $1 "
                         "ORDER BY username",
                         p, 1, &r);
    while (rc == 0 && (rc = store_rows_next(r)) == 1) {
        json_array_append_new(blocked, json_pack("{s:s,s:I}", "username", store_rows_text(r, 0),
                                                 "blocked_at", (json_int_t)store_rows_int(r, 1)));
        rc = 0;
    }
    store_rows_free(r);
    if (rc < 0) {
        json_decref(guests);
        json_decref(blocked);
        api_admin_store_error(req, ctx, rc);
        return;
    }
    http_reply_json(req, 200, json_pack("{s:o,s:o}", "guests", guests, "blocked", blocked));
}

static const struct admin_field guest_fields[] = {
    {"username", AF_NAME, true, 1, 254, NULL},
};

/* A local guest account of that name: suspend it (or restore it) and, when
 * suspending, close its sessions. */
static int guest_account(struct http_req *req, struct admin_ctx *ctx, const char *username,
                         bool block)
{
    struct store_val p[] = {STORE_INT(ctx->net), STORE_TEXT(username),
                            STORE_INT((int64_t)time(NULL))};
    struct store_rows *r = NULL;
    uint8_t uid[16];
    size_t n = 0;
    int rc = store_query(ctx->c,
                         "SELECT user_id FROM users WHERE network_id = $1 AND username = $2 AND "
                         "user_type = 'guest'",
                         p, 2, &r);
    bool found = false;

    if (rc == 0 && (rc = store_rows_next(r)) == 1) {
        const uint8_t *b = store_rows_blob(r, 0, &n);
        found = n == sizeof(uid);
        if (found)
            memcpy(uid, b, n);
        rc = 0;
    }
    store_rows_free(r);
    if (rc < 0 || !found)
        return rc;
    rc = store_exec(ctx->c,
                    block ? "UPDATE users SET status = 'suspended', updated_at = $3 WHERE "
                            "network_id = $1 AND username = $2 AND user_type = 'guest'"
                          : "UPDATE users SET status = CASE WHEN activated_at IS NULL THEN "
                            "'pending' ELSE 'active' END, updated_at = $3 WHERE network_id = $1 "
                            "AND username = $2 AND user_type = 'guest' AND status = 'suspended'",
                    p, 3, NULL);
    if (rc == 0 && block)
        ws_disconnect_user(req->srv, uid);
    return rc;
}

void api_admin_guests_block(struct http_req *req, struct admin_ctx *ctx)
{
    json_t *body = api_admin_body(req, guest_fields, ARRAY_SIZE(guest_fields));
    const char *username;
    int rc;

    if (!body)
        return;
    username = admin_json_str(body, "username", "");
    {
        struct store_val p[] = {STORE_INT(ctx->net), STORE_TEXT(username),
                                STORE_INT((int64_t)time(NULL))};
        rc = store_exec(ctx->c,
                        "INSERT INTO guest_blocks (network_id, username, created_at) VALUES ($1, "
                        "$2, $3)",
                        p, 3, NULL);
    }
    if (rc == PARLEY_EEXIST) {
        http_reply_error(req, 409, "conflict", "field 'username': guest '%s' is already blocked",
                         username);
        goto out;
    }
    if (rc == 0)
        rc = guest_account(req, ctx, username, true);
    if (rc < 0) {
        api_admin_store_error(req, ctx, rc);
        goto out;
    }
    api_admin_audit(ctx, "guest.block", username, NULL);
    http_reply_json(req, 201, json_pack("{s:s,s:b}", "username", username, "blocked", 1));
out:
    json_decref(body);
}

void api_admin_guests_unblock(struct http_req *req, struct admin_ctx *ctx)
{
    const char *username = req->params[1];
    int64_t changes = 0;
    int rc;

    {
        struct store_val p[] = {STORE_INT(ctx->net), STORE_TEXT(username)};
        rc = store_exec(ctx->c, "DELETE FROM guest_blocks WHERE network_id = $1 AND username = $2",
                        p, 2, &changes);
    }
    if (rc == 0 && changes)
        rc = guest_account(req, ctx, username, false);
    if (rc < 0) {
        api_admin_store_error(req, ctx, rc);
        return;
    }
    if (!changes) {
        http_reply_error(req, 404, "not_found", "guest '%.64s' is not blocked in this network",
                         username);
        return;
    }
    api_admin_audit(ctx, "guest.unblock", username, NULL);
    http_reply(req, 204, "application/json", NULL, 0);
}
