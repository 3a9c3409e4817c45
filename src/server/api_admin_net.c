/* api_admin_net.c - the admin API's network endpoints: networks and their
 * profile, the team directory (users and bots) and security groups. Access
 * is checked by api_admin_entry before any handler here runs: for routes
 * of scope RBAC_SCOPE_NETWORK, ctx->net is the network the caller may
 * reach, and every query here is bounded by it. */
#include "admin_json.h"
#include "api_admin.h"
#include "api_admin_tools.h"
#include "common/buf.h"
#include "common/log.h"
#include "common/str.h"
#include "evlog.h"
#include "common/xmalloc.h"
#include "password.h"
#include "proto/ids.h"
#include "sgroup_settings.h"
#include "store.h"
#include "ws.h"

#include <openssl/crypto.h>
#include <openssl/rand.h>

/* Suspension and deletion take effect at once: the user's live sessions
 * are closed, not left to run until they next sign in. */
static void disconnect_user(struct http_req *req, const uint8_t user_id[16])
{
    int n = ws_disconnect_user(req->srv, user_id);
    if (n > 0)
        log_info("closed %d live sessions of a suspended or deleted user", n);
}

/* ---- networks ---- */

static json_t *network_json(struct store_conn *c, int64_t net)
{
    struct store_val p[] = {STORE_INT(net)};
    struct store_rows *r = NULL;
    json_t *out = NULL;

    if (store_query(c,
                    "SELECT network_id, name, federation_domain, settings, created_at, "
                    "updated_at, (SELECT COUNT(*) FROM users u WHERE u.network_id = n.id AND "
                    "u.user_type IN ('user', 'web_admin')), (SELECT COUNT(*) FROM "
                    "security_groups g WHERE g.network_id = n.id) FROM networks n WHERE id = $1",
                    p, 1, &r) == 0 &&
        store_rows_next(r) == 1) {
        json_t *stored = json_loads(store_rows_text(r, 3), 0, NULL);
        out = json_pack(
            "{s:s,s:s,s:s?,s:o,s:I,s:I,s:I,s:I}", "network_id", store_rows_text(r, 0), "name",
            store_rows_text(r, 1), "federation_domain", store_rows_text(r, 2), "settings",
            sgroup_settings_fill(sgroup_network_settings, sgroup_network_settings_count, stored),
            "created_at", (json_int_t)store_rows_int(r, 4), "updated_at",
            (json_int_t)store_rows_int(r, 5), "users", (json_int_t)store_rows_int(r, 6),
            "security_groups", (json_int_t)store_rows_int(r, 7));
        json_decref(stored);
    }
    store_rows_free(r);
    if (out) {
        json_t *admins = json_array();
        r = NULL;
        if (store_query(c,
                        "SELECT a.id, a.username FROM network_admins na JOIN admins a ON a.id = "
                        "na.admin_id WHERE na.network_id = $1 ORDER BY a.username",
                        p, 1, &r) == 0)
            while (store_rows_next(r) == 1)
                json_array_append_new(admins,
                                      json_pack("{s:I,s:s}", "id", (json_int_t)store_rows_int(r, 0),
                                                "username", store_rows_text(r, 1)));
        store_rows_free(r);
        json_object_set_new(out, "admins", admins);
    }
    return out;
}

void api_admin_networks_list(struct http_req *req, struct admin_ctx *ctx)
{
    struct store_val p[] = {STORE_INT(ctx->who.is_super ? 1 : 0),
                            STORE_INT(ctx->who.kind == ADMIN_ACTOR_TOKEN ? 1 : 0),
                            STORE_INT(ctx->who.id), STORE_INT(ctx->who.token_network)};
    struct store_rows *r = NULL;
    json_t *arr = json_array();
    int64_t ids[1024];
    size_t n = 0;
    int rc;

    /* Deployment callers see every network; a network token its own; an
     * administrator the networks it belongs to. */
    rc = store_query(ctx->c,
                     "SELECT id FROM networks n WHERE $1 = 1 OR ($2 = 1 AND n.id = $4) OR ($2 = "
                     "0 AND EXISTS (SELECT 1 FROM network_admins na WHERE na.network_id = n.id "
                     "AND na.admin_id = $3 AND na.status = 'accepted')) ORDER BY n.name, n.id",
                     p, ARRAY_SIZE(p), &r);
    while (rc == 0 && (rc = store_rows_next(r)) == 1) {
        if (n < ARRAY_SIZE(ids))
            ids[n++] = store_rows_int(r, 0);
        rc = 0;
    }
    store_rows_free(r);
    if (rc < 0) {
        json_decref(arr);
        api_admin_store_error(req, ctx, rc);
        return;
    }
    for (size_t i = 0; i < n; i++) {
        json_t *e = network_json(ctx->c, ids[i]);
        if (e)
            json_array_append_new(arr, e);
    }
    http_reply_json(req, 200, json_pack("{s:o}", "networks", arr));
}

static const struct admin_field network_create_fields[] = {
    {"name", AF_STRING, true, 1, 128, NULL},
    {"federation_domain", AF_STRING, false, 0, 253, NULL},
    {"admins", AF_ARRAY, false, 0, 100, NULL},
    {"compliance_bot", AF_OBJECT, false, 0, 0, NULL},
};
static const struct admin_field compliance_bot_fields[] = {
    {"username", AF_NAME, true, 4, 64, NULL},
    {"password", AF_STRING, true, 1, 1024, NULL},
};

/* The network's compliance bot, a pending bot user of the default
 * security group created with the network and so before any user: every
 * envelope of the network is then wrapped for its devices (msgstore.c). */
static int insert_compliance_bot(struct store_conn *c, int64_t net, const char *network_id,
                                 const json_t *bot, int64_t now)
{
    const char *username = admin_json_str(bot, "username", "");
    char secret[IDS_LOGIN_SECRET_B64], hash[PASSWORD_ENCODED_MAX];
    uint8_t uid[16];
    int rc;

    if (RAND_bytes(uid, sizeof(uid)) != 1)
        return PARLEY_ECRYPTO;
    rc = ids_login_secret(network_id, username, admin_json_str(bot, "password", ""), secret);
    if (rc == 0)
        rc = password_hash(secret, hash);
    if (rc == 0) {
        struct store_val p[] = {STORE_INT(net), STORE_BLOB(uid, sizeof(uid)), STORE_TEXT(username),
                                STORE_TEXT(hash), STORE_INT(now)};
        rc = store_exec(c,
                        "INSERT INTO users (network_id, user_id, username, first_name, last_name, "
                        "password_hash, status, user_type, is_compliance, security_group_id, "
                        "created_at, updated_at) SELECT $1, $2, $3, 'Compliance', 'Bot', $4, "
                        "'pending', 'bot', 1, g.id, $5, $5 FROM security_groups g WHERE "
                        "g.network_id = $1 AND g.is_default = 1",
                        p, ARRAY_SIZE(p), NULL);
    }
    OPENSSL_cleanse(secret, sizeof(secret));
    OPENSSL_cleanse(hash, sizeof(hash));
    return rc;
}

/* Create the network, its default security group, its compliance bot and
 * its memberships. */
static int insert_network(struct store_conn *c, const json_t *body, const int64_t *admins,
                          size_t na, char network_id[17], int64_t *net)
{
    int64_t now = (int64_t)time(NULL);
    const char *fd = admin_json_str(body, "federation_domain", NULL);
    json_t *bot = json_object_get(body, "compliance_bot");
    uint8_t rnd[8];
    int rc;

    if (RAND_bytes(rnd, sizeof(rnd)) != 1)
        return PARLEY_ECRYPTO;
    hex_encode(rnd, sizeof(rnd), network_id);
    rc = store_begin(c);
    if (rc < 0)
        return rc;
    {
        struct store_val p[] = {STORE_TEXT(network_id),
                                STORE_TEXT(admin_json_str(body, "name", "")),
                                STORE_TEXT(fd && *fd ? fd : NULL), STORE_INT(now)};
        struct store_val q[] = {STORE_TEXT(network_id)};
        rc = store_exec(c,
                        "INSERT INTO networks (network_id, name, federation_domain, created_at, "
                        "updated_at) VALUES ($1, $2, $3, $4, $4)",
                        p, 4, NULL);
        if (rc == 0)
            rc = store_query_int(c, "SELECT id FROM networks WHERE network_id = $1", q, 1, net);
    }
    if (rc == 0) {
        struct store_val p[] = {STORE_INT(*net), STORE_TEXT(SGROUP_DEFAULT_NAME), STORE_INT(now)};
        rc = store_exec(c,
                        "INSERT INTO security_groups (network_id, name, is_default, created_at, "
                        "updated_at) VALUES ($1, $2, 1, $3, $3)",
                        p, 3, NULL);
    }
    if (rc == 0 && bot)
        rc = insert_compliance_bot(c, *net, network_id, bot, now);
    for (size_t i = 0; i < na && rc == 0; i++) {
        struct store_val p[] = {STORE_INT(*net), STORE_INT(admins[i]), STORE_INT(now)};
        rc = store_exec(c,
                        "INSERT INTO network_admins (network_id, admin_id, status, created_at) "
                        "VALUES ($1, $2, 'accepted', $3)",
                        p, 3, NULL);
    }
    if (rc == 0)
        return store_commit(c);
    store_rollback(c);
    return rc;
}

void api_admin_networks_create(struct http_req *req, struct admin_ctx *ctx)
{
    json_t *body = api_admin_body(req, network_create_fields, ARRAY_SIZE(network_create_fields));
    json_t *admins, *v;
    int64_t ids[100], net = 0;
    char network_id[17];
    size_t i, na = 0;
    int rc = 0;

    if (!body)
        return;
    if ((v = json_object_get(body, "compliance_bot"))) {
        char err[512], *text = json_dumps(v, JSON_COMPACT);
        json_t *checked = NULL;
        rc = text ? admin_json_parse(text, strlen(text), compliance_bot_fields,
                                     ARRAY_SIZE(compliance_bot_fields), &checked, err, sizeof(err))
                  : PARLEY_ENOMEM;
        if (text) {
            OPENSSL_cleanse(text, strlen(text));
            free(text);
        }
        json_decref(checked);
        if (rc < 0) {
            http_reply_error(req, 400, "bad_request", "field 'compliance_bot': %s", err);
            goto out;
        }
        const char *u = json_string_value(json_object_get(v, "username"));
        if (strlen(u) < 3 || strcmp(u + strlen(u) - 3, "bot") != 0) {
            http_reply_error(req, 400, "bad_request",
                             "field 'compliance_bot.username' must end with \"bot\"");
            goto out;
        }
    }
    admins = json_object_get(body, "admins");
    json_array_foreach(admins, i, v)
    {
        struct store_val p[] = {STORE_TEXT(json_string_value(v))};
        rc = json_is_string(v)
                 ? store_query_int(ctx->c, "SELECT id FROM admins WHERE username = $1", p, 1,
                                   &ids[na])
                 : PARLEY_ENOTFOUND;
        if (rc == PARLEY_ENOTFOUND) {
            http_reply_error(req, 400, "bad_request",
                             "field 'admins' element %zu is not the username of an administrator",
                             i);
            goto out;
        }
        if (rc < 0)
            goto fail;
        na++;
    }
    /* 64 random bits: a collision is retried, not expected. */
    for (int tries = 0; tries < 3; tries++)
        if ((rc = insert_network(ctx->c, body, ids, na, network_id, &net)) != PARLEY_EEXIST)
            break;
    if (rc < 0)
        goto fail;
    ctx->network_id = network_id;
    api_admin_audit(ctx, "network.create", admin_json_str(body, "name", ""),
                    json_pack("{s:O?}", "admins", admins));
    http_reply_json(req, 201, network_json(ctx->c, net));
    goto out;
fail:
    api_admin_store_error(req, ctx, rc);
out:
    json_decref(body);
    OPENSSL_cleanse(req->body.data, req->body.len); /* the bot's password */
}

void api_admin_networks_get(struct http_req *req, struct admin_ctx *ctx)
{
    json_t *out = network_json(ctx->c, ctx->net);
    if (!out)
        api_admin_store_error(req, ctx, PARLEY_ENOTFOUND);
    else
        http_reply_json(req, 200, out);
}

static const struct admin_field network_update_fields[] = {
    {"name", AF_STRING, false, 1, 128, NULL},
    {"federation_domain", AF_STRING, false, 0, 253, NULL},
    {"settings", AF_OBJECT, false, 0, 0, NULL},
};

/* Merge `update` into the stored settings text of `table` row `id` (table
 * "networks" or "security_groups"). */
static int merge_settings(struct store_conn *c, const char *table, int64_t id, const json_t *update)
{
    char sql[160];
    struct store_val p[] = {STORE_INT(id)};
    struct store_rows *r = NULL;
    json_t *stored = NULL;
    char *text;
    int rc;

    snprintf(sql, sizeof(sql), "SELECT settings FROM %s WHERE id = $1", table);
    rc = store_query(c, sql, p, 1, &r);
    if (rc == 0 && store_rows_next(r) == 1)
        stored = json_loads(store_rows_text(r, 0), 0, NULL);
    store_rows_free(r);
    if (rc < 0)
        return rc;
    if (!json_is_object(stored)) {
        json_decref(stored);
        stored = json_object();
    }
    json_object_update(stored, (json_t *)update);
    text = json_dumps(stored, JSON_COMPACT | JSON_SORT_KEYS);
    json_decref(stored);
    {
        struct store_val u[] = {STORE_TEXT(text), STORE_INT((int64_t)time(NULL)), STORE_INT(id)};
        snprintf(sql, sizeof(sql), "UPDATE %s SET settings = $1, updated_at = $2 WHERE id = $3",
                 table);
        rc = store_exec(c, sql, u, 3, NULL);
    }
    free(text);
    return rc;
}

static bool settings_ok(struct http_req *req, const struct sgroup_setting *t, size_t n,
                        const json_t *s)
{
    char err[512];
    if (!s || sgroup_settings_validate(t, n, s, err, sizeof(err)) == 0)
        return true;
    http_reply_error(req, 400, "bad_request", "%s", err);
    return false;
}

void api_admin_networks_update(struct http_req *req, struct admin_ctx *ctx)
{
    json_t *body = api_admin_body(req, network_update_fields, ARRAY_SIZE(network_update_fields));
    json_t *settings;
    int rc = 0;

    if (!body)
        return;
    settings = json_object_get(body, "settings");
    if (!settings_ok(req, sgroup_network_settings, sgroup_network_settings_count, settings))
        goto out;
    if (json_object_get(body, "federation_domain") && !ctx->who.is_super) {
        http_reply_error(req, 403, "forbidden",
                         "field 'federation_domain' can only be changed by a super administrator");
        goto out;
    }
    rc = store_begin(ctx->c);
    if (rc == 0 && json_object_get(body, "name")) {
        struct store_val p[] = {STORE_TEXT(admin_json_str(body, "name", "")),
                                STORE_INT((int64_t)time(NULL)), STORE_INT(ctx->net)};
        rc = store_exec(ctx->c, "UPDATE networks SET name = $1, updated_at = $2 WHERE id = $3", p,
                        3, NULL);
    }
    if (rc == 0 && json_object_get(body, "federation_domain")) {
        const char *fd = admin_json_str(body, "federation_domain", "");
        struct store_val p[] = {STORE_TEXT(*fd ? fd : NULL), STORE_INT(ctx->net)};
        rc = store_exec(ctx->c, "UPDATE networks SET federation_domain = $1 WHERE id = $2", p, 2,
                        NULL);
    }
    if (rc == 0 && settings)
        rc = merge_settings(ctx->c, "networks", ctx->net, settings);
    if (rc == 0)
        rc = store_commit(ctx->c);
    else
        store_rollback(ctx->c);
    if (rc < 0) {
        api_admin_store_error(req, ctx, rc);
        goto out;
    }
    evlog_forget(ctx->net);
    api_admin_audit(ctx, "network.update", ctx->network_id, json_incref(body));
    http_reply_json(req, 200, network_json(ctx->c, ctx->net));
out:
    json_decref(body);
}

/* The user ids of network `network_id` (public id), for closing their
 * sessions once the network is gone. Returns a malloc'd array. */
static uint8_t (*network_user_ids(struct admin_ctx *ctx, const char *network_id, size_t *n))[16]
{
    struct store_val p[] = {STORE_TEXT(network_id)};
    struct store_rows *r = NULL;
    uint8_t(*ids)[16] = NULL;
    size_t cap = 0;

    *n = 0;
    if (store_query(ctx->c,
                    "SELECT u.user_id FROM users u JOIN networks n ON n.id = u.network_id WHERE "
                    "n.network_id = $1",
                    p, 1, &r) == 0) {
        while (store_rows_next(r) == 1) {
            size_t len = 0;
            const uint8_t *id = store_rows_blob(r, 0, &len);
            if (!id || len != 16)
                continue;
            if (*n == cap)
                ids = xrealloc(ids, (cap = cap ? 2 * cap : 64) * sizeof(*ids));
            memcpy(ids[(*n)++], id, 16);
        }
    }
    store_rows_free(r);
    return ids;
}

void api_admin_networks_delete(struct http_req *req, struct admin_ctx *ctx)
{
    struct store_val p[] = {STORE_TEXT(req->params[0])};
    int64_t changes = 0;
    size_t n = 0;
    uint8_t(*users)[16] = network_user_ids(ctx, req->params[0], &n);
    int rc = store_exec(ctx->c, "DELETE FROM networks WHERE network_id = $1", p, 1, &changes);

    /* Its users are deleted with it: their live sessions end now too. */
    for (size_t i = 0; rc == 0 && i < n; i++)
        disconnect_user(req, users[i]);
    free(users);

    if (rc == 0 && changes == 0)
        rc = PARLEY_ENOTFOUND;
    if (rc < 0) {
        api_admin_store_error(req, ctx, rc);
        return;
    }
    ctx->network_id = req->params[0];
    api_admin_audit(ctx, "network.delete", req->params[0], NULL);
    http_reply(req, 204, "application/json", NULL, 0);
}

/* ---- users and bots ---- */

static const char user_select[] =
    "SELECT u.user_id, u.username, u.first_name, u.last_name, u.status, u.user_type, "
    "u.security_group_id, g.name, u.is_restricted, u.created_at, u.activated_at, u.id FROM users "
    "u LEFT JOIN security_groups g ON g.id = u.security_group_id";

static json_t *user_json(struct store_rows *r)
{
    size_t len = 0;
    const uint8_t *uid = store_rows_blob(r, 0, &len);
    char hex[33] = "";
    json_t *u;

    if (uid && len == 16)
        hex_encode(uid, 16, hex);
    u = json_pack("{s:s,s:s,s:s,s:s,s:s,s:s,s:b,s:I}", "user_id", hex, "username",
                  store_rows_text(r, 1), "first_name", store_rows_text(r, 2), "last_name",
                  store_rows_text(r, 3), "status", store_rows_text(r, 4), "user_type",
                  store_rows_text(r, 5), "is_restricted", store_rows_int(r, 8) != 0, "created_at",
                  (json_int_t)store_rows_int(r, 9));
    json_object_set_new(u, "security_group",
                        store_rows_is_null(r, 6)
                            ? json_null()
                            : json_pack("{s:I,s:s}", "id", (json_int_t)store_rows_int(r, 6), "name",
                                        store_rows_text(r, 7)));
    json_object_set_new(u, "activated_at",
                        store_rows_is_null(r, 10) ? json_null()
                                                  : json_integer(store_rows_int(r, 10)));
    return u;
}

static const char *const user_statuses[] = {"pending", "active", "suspended", NULL};

/* List users of ctx->net whose type is `bots` ? bot : user/web_admin. */
static void list_users(struct http_req *req, struct admin_ctx *ctx, bool bots)
{
    char status[32], sql[1024];
    bool has_status = api_admin_query(req, "status", status, sizeof(status));
    int64_t limit, offset, total = 0;
    struct store_rows *r = NULL;
    json_t *arr;
    int rc;

    if (!api_admin_paging(req, &limit, &offset))
        return;
    if (has_status) {
        size_t i;
        for (i = 0; user_statuses[i] && strcmp(user_statuses[i], status) != 0; i++)
            ;
        if (!user_statuses[i]) {
            http_reply_error(req, 400, "bad_request",
                             "query parameter 'status' must be pending, active or suspended");
            return;
        }
    }
    arr = json_array();
    {
        struct store_val p[] = {STORE_INT(ctx->net), STORE_TEXT(has_status ? status : NULL),
                                STORE_INT(bots ? 1 : 0), STORE_INT(limit), STORE_INT(offset)};
        const char *where =
            " WHERE u.network_id = $1 AND (CAST($2 AS TEXT) IS NULL OR u.status = $2) AND "
            "(($3 = 1 AND u.user_type = 'bot') OR ($3 = 0 AND u.user_type IN "
            "('user', 'web_admin')))";
        snprintf(sql, sizeof(sql), "%s%s ORDER BY u.username LIMIT $4 OFFSET $5", user_select,
                 where);
        rc = store_query(ctx->c, sql, p, ARRAY_SIZE(p), &r);
        while (rc == 0 && (rc = store_rows_next(r)) == 1) {
            json_array_append_new(arr, user_json(r));
            rc = 0;
        }
        store_rows_free(r);
        snprintf(sql, sizeof(sql), "SELECT COUNT(*) FROM users u%s", where);
        if (rc == 0)
            rc = store_query_int(ctx->c, sql, p, 3, &total);
    }
    if (rc < 0) {
        json_decref(arr);
        api_admin_store_error(req, ctx, rc);
        return;
    }
    http_reply_json(req, 200,
                    json_pack("{s:o,s:I,s:I,s:I}", bots ? "bots" : "users", arr, "total",
                              (json_int_t)total, "limit", (json_int_t)limit, "offset",
                              (json_int_t)offset));
}

void api_admin_users_list(struct http_req *req, struct admin_ctx *ctx)
{
    list_users(req, ctx, false);
}

void api_admin_bots_list(struct http_req *req, struct admin_ctx *ctx)
{
    list_users(req, ctx, true);
}

/* Security group `id` of ctx->net (0: the default one); replies 400 naming
 * `field` if there is none. */
static bool group_of_network(struct http_req *req, struct admin_ctx *ctx, const char *field,
                             int64_t id, int64_t *out)
{
    struct store_val p[] = {STORE_INT(ctx->net), STORE_INT(id)};
    int rc = store_query_int(ctx->c,
                             "SELECT id FROM security_groups WHERE network_id = $1 AND ((($2) = 0 "
                             "AND is_default = 1) OR id = $2)",
                             p, 2, out);
    if (rc == 0)
        return true;
    if (rc == PARLEY_ENOTFOUND)
        http_reply_error(req, 400, "bad_request",
                         "field '%s' is not the id of a security group of this network", field);
    else
        api_admin_store_error(req, ctx, rc);
    return false;
}

static const char *const user_types[] = {"user", "web_admin", NULL};
static const struct admin_field user_create_fields[] = {
    {"username", AF_NAME, true, 1, 64, NULL},
    {"password", AF_STRING, true, 1, 1024, NULL},
    {"first_name", AF_STRING, false, 0, 64, NULL},
    {"last_name", AF_STRING, false, 0, 64, NULL},
    {"security_group_id", AF_INT, false, 1, INT64_MAX, NULL},
    {"user_type", AF_STRING, false, 1, 16, user_types},
};
static const struct admin_field bot_create_fields[] = {
    {"username", AF_NAME, true, 4, 64, NULL},
    {"password", AF_STRING, true, 1, 1024, NULL},
    {"first_name", AF_STRING, false, 0, 64, NULL},
    {"last_name", AF_STRING, false, 0, 64, NULL},
    {"security_group_id", AF_INT, false, 1, INT64_MAX, NULL},
};

/* Reply with user `uid` of ctx->net. */
static void reply_user(struct http_req *req, struct admin_ctx *ctx, int status,
                       const uint8_t uid[16])
{
    char sql[600];
    struct store_val p[] = {STORE_INT(ctx->net), STORE_BLOB(uid, 16)};
    struct store_rows *r = NULL;
    int rc;

    snprintf(sql, sizeof(sql), "%s WHERE u.network_id = $1 AND u.user_id = $2", user_select);
    rc = store_query(ctx->c, sql, p, 2, &r);
    if (rc == 0 && (rc = store_rows_next(r)) == 0)
        rc = PARLEY_ENOTFOUND;
    if (rc == 1)
        http_reply_json(req, status, user_json(r));
    store_rows_free(r);
    if (rc < 0)
        api_admin_store_error(req, ctx, rc);
}

/* A user or bot to create once its login secret is derived and hashed:
 * two Argon2id runs, on a worker. */
struct user_job {
    struct admin_job job;
    json_t *body; /* the request, its password wiped; loop thread only */
    bool bot;
    int64_t group;
    int rc;
    char network_id[64];
    char username[65];
    char pw[1025];
    char hash[PASSWORD_ENCODED_MAX];
};

static void user_work(struct admin_job *job)
{
    struct user_job *uj = (struct user_job *)job;
    char secret[IDS_LOGIN_SECRET_B64];

    /* docs/client-protocol.md, "Login secret": clients send the secret,
     * never the password, so that is what the hash is of. */
    uj->rc = ids_login_secret(uj->network_id, uj->username, uj->pw, secret);
    if (uj->rc == 0)
        uj->rc = password_hash(secret, uj->hash);
    OPENSSL_cleanse(secret, sizeof(secret));
    OPENSSL_cleanse(uj->pw, sizeof(uj->pw));
}

static void user_release(struct admin_job *job)
{
    struct user_job *uj = (struct user_job *)job;

    json_decref(uj->body);
    OPENSSL_cleanse(uj, sizeof(*uj));
    free(uj);
}

static void user_done(struct http_req *req, struct admin_ctx *ctx, struct admin_job *job)
{
    struct user_job *uj = (struct user_job *)job;
    const char *type = uj->bot ? "bot" : admin_json_str(uj->body, "user_type", "user");
    int64_t now = (int64_t)time(NULL);
    uint8_t uid[16];
    int rc = uj->rc;

    if (rc == 0 && RAND_bytes(uid, sizeof(uid)) != 1)
        rc = PARLEY_ECRYPTO;
    if (rc == 0) {
        struct store_val p[] = {STORE_INT(ctx->net),
                                STORE_BLOB(uid, sizeof(uid)),
                                STORE_TEXT(uj->username),
                                STORE_TEXT(admin_json_str(uj->body, "first_name", "")),
                                STORE_TEXT(admin_json_str(uj->body, "last_name", "")),
                                STORE_TEXT(uj->hash),
                                STORE_TEXT(type),
                                STORE_INT(uj->group),
                                STORE_INT(now)};
        rc = store_exec(ctx->c,
                        "INSERT INTO users (network_id, user_id, username, first_name, "
                        "last_name, password_hash, status, user_type, security_group_id, "
                        "created_at, updated_at) VALUES ($1, $2, $3, $4, $5, $6, 'pending', $7, "
                        "$8, $9, $9)",
                        p, ARRAY_SIZE(p), NULL);
    }
    if (rc == PARLEY_EEXIST) {
        http_reply_error(req, 409, "conflict",
                         "field 'username': a user '%s' exists in this network", uj->username);
        return;
    }
    if (rc < 0) {
        api_admin_store_error(req, ctx, rc);
        return;
    }
    api_admin_audit(
        ctx, uj->bot ? "bot.create" : "user.create", uj->username,
        json_pack("{s:s,s:I}", "user_type", type, "security_group_id", (json_int_t)uj->group));
    reply_user(req, ctx, 201, uid);
}

static void create_user(struct http_req *req, struct admin_ctx *ctx, bool bot)
{
    json_t *body = bot ? api_admin_body(req, bot_create_fields, ARRAY_SIZE(bot_create_fields))
                       : api_admin_body(req, user_create_fields, ARRAY_SIZE(user_create_fields));
    char err[512];
    struct sgroup_password_policy pol;
    struct user_job *uj;
    const char *username, *pw;
    json_t *settings = NULL, *sg;
    int64_t group = 0;
    size_t ul;
    int rc;

    if (!body)
        return;
    if (!bot && api_admin_sso_blocks(req, ctx, "individual user creation"))
        goto out;
    username = admin_json_str(body, "username", "");
    pw = admin_json_str(body, "password", "");
    ul = strlen(username);
    if (bot && (ul < 3 || strcmp(username + ul - 3, "bot") != 0)) {
        http_reply_error(req, 400, "bad_request",
                         "field 'username' of a bot must end with \"bot\"");
        goto out;
    }
    if (!bot && (rc = api_admin_local_domain_check(ctx->c, username, err, sizeof(err))) < 0) {
        if (rc == PARLEY_EINVAL)
            http_reply_error(req, 400, "bad_request", "%s", err);
        else
            api_admin_store_error(req, ctx, rc);
        goto out;
    }
    sg = json_object_get(body, "security_group_id");
    if (!group_of_network(req, ctx, "security_group_id", sg ? json_integer_value(sg) : 0, &group))
        goto out;
    rc = sgroup_settings_get(ctx->c, group, &settings);
    if (rc < 0) {
        api_admin_store_error(req, ctx, rc);
        goto out;
    }
    sgroup_password_policy(settings, &pol);
    if (admin_password_check(pw, "password", pol.min_len, pol.upper, pol.lower, pol.digit,
                             pol.symbol, err, sizeof(err)) < 0) {
        http_reply_error(req, 400, "bad_request", "%s (security group policy)", err);
        goto out;
    }
    uj = xcalloc(1, sizeof(*uj));
    uj->job.work = user_work;
    uj->job.done = user_done;
    uj->job.release = user_release;
    uj->body = json_incref(body);
    uj->bot = bot;
    uj->group = group;
    strlcpy_p(uj->network_id, ctx->network_id, sizeof(uj->network_id));
    strlcpy_p(uj->username, username, sizeof(uj->username));
    strlcpy_p(uj->pw, pw, sizeof(uj->pw));
    api_admin_defer(req, ctx, &uj->job);
out:
    json_decref(settings);
    api_admin_body_wipe(req, body, "password");
}

void api_admin_users_create(struct http_req *req, struct admin_ctx *ctx)
{
    create_user(req, ctx, false);
}

void api_admin_bots_create(struct http_req *req, struct admin_ctx *ctx)
{
    create_user(req, ctx, true);
}

/* params[1]: a user of ctx->net, as 32 hex digits. Replies 404 if not. */
static bool param_user(struct http_req *req, struct admin_ctx *ctx, uint8_t uid[16], char *username,
                       size_t len, char *status, size_t slen)
{
    struct store_val p[] = {STORE_INT(ctx->net), STORE_BLOB(uid, 16)};
    struct store_rows *r = NULL;
    int rc = PARLEY_ENOTFOUND;

    if (hex_decode(req->params[1], strlen(req->params[1]), uid, 16) == 0) {
        rc = store_query(ctx->c,
                         "SELECT username, status FROM users WHERE network_id = $1 AND user_id "
                         "= $2",
                         p, 2, &r);
        if (rc == 0 && (rc = store_rows_next(r)) == 1) {
            strlcpy_p(username, store_rows_text(r, 0), len);
            strlcpy_p(status, store_rows_text(r, 1), slen);
            rc = 0;
        } else if (rc == 0) {
            rc = PARLEY_ENOTFOUND;
        }
        store_rows_free(r);
    }
    if (rc == PARLEY_ENOTFOUND)
        http_reply_error(req, 404, "not_found", "no user '%.40s' in this network", req->params[1]);
    else if (rc < 0)
        api_admin_store_error(req, ctx, rc);
    return rc == 0;
}

void api_admin_users_get(struct http_req *req, struct admin_ctx *ctx)
{
    uint8_t uid[16];
    char name[128], status[32];

    if (param_user(req, ctx, uid, name, sizeof(name), status, sizeof(status)))
        reply_user(req, ctx, 200, uid);
}

static const struct admin_field user_update_fields[] = {
    {"first_name", AF_STRING, false, 0, 64, NULL},
    {"last_name", AF_STRING, false, 0, 64, NULL},
    {"security_group_id", AF_INT, false, 1, INT64_MAX, NULL},
    {"user_type", AF_STRING, false, 1, 16, user_types},
    {"is_restricted", AF_BOOL, false, 0, 0, NULL},
};

void api_admin_users_update(struct http_req *req, struct admin_ctx *ctx)
{
    static const char *const text_cols[] = {"first_name", "last_name", "user_type"};
    uint8_t uid[16];
    char name[128], status[32], sql[160];
    json_t *body, *v;
    int64_t group = 0;
    int rc;

    if (!param_user(req, ctx, uid, name, sizeof(name), status, sizeof(status)))
        return;
    if (!(body = api_admin_body(req, user_update_fields, ARRAY_SIZE(user_update_fields))))
        return;
    if ((v = json_object_get(body, "security_group_id")) &&
        !group_of_network(req, ctx, "security_group_id", json_integer_value(v), &group))
        goto out;
    if (json_object_get(body, "user_type")) {
        struct store_val p[] = {STORE_INT(ctx->net), STORE_BLOB(uid, 16)};
        int64_t is_bot = 0;
        rc = store_query_int(ctx->c,
                             "SELECT CASE WHEN user_type = 'bot' THEN 1 ELSE 0 END FROM users "
                             "WHERE network_id = $1 AND user_id = $2",
                             p, 2, &is_bot);
        if (rc == 0 && is_bot) {
            http_reply_error(req, 400, "bad_request",
                             "field 'user_type' cannot be changed for a bot");
            goto out;
        }
    }
    rc = store_begin(ctx->c);
    for (size_t i = 0; i < ARRAY_SIZE(text_cols) && rc == 0; i++) {
        const char *s = admin_json_str(body, text_cols[i], NULL);
        struct store_val p[] = {STORE_TEXT(s), STORE_INT((int64_t)time(NULL)), STORE_INT(ctx->net),
                                STORE_BLOB(uid, 16)};
        if (!s)
            continue;
        snprintf(sql, sizeof(sql),
                 "UPDATE users SET %s = $1, updated_at = $2 WHERE network_id = $3 AND user_id = $4",
                 text_cols[i]);
        rc = store_exec(ctx->c, sql, p, 4, NULL);
    }
    if (rc == 0 && (group || json_object_get(body, "is_restricted"))) {
        json_t *ir = json_object_get(body, "is_restricted");
        struct store_val p[] = {STORE_INT(group), STORE_INT(ir ? json_is_true(ir) : -1),
                                STORE_INT(ctx->net), STORE_BLOB(uid, 16)};
        rc = store_exec(ctx->c,
                        "UPDATE users SET security_group_id = CASE WHEN $1 = 0 THEN "
                        "security_group_id ELSE $1 END, is_restricted = CASE WHEN $2 < 0 THEN "
                        "is_restricted ELSE $2 END WHERE network_id = $3 AND user_id = $4",
                        p, 4, NULL);
    }
    if (rc == 0)
        rc = store_commit(ctx->c);
    else
        store_rollback(ctx->c);
    if (rc < 0) {
        api_admin_store_error(req, ctx, rc);
        goto out;
    }
    api_admin_audit(ctx, "user.update", name, json_incref(body));
    reply_user(req, ctx, 200, uid);
out:
    json_decref(body);
}

static void set_status(struct http_req *req, struct admin_ctx *ctx, bool suspend)
{
    uint8_t uid[16];
    char name[128], status[32];
    int rc;

    if (!param_user(req, ctx, uid, name, sizeof(name), status, sizeof(status)))
        return;
    {
        /* Unsuspending returns the user to where it was: active once it
         * registered, pending before. */
        struct store_val p[] = {STORE_INT(suspend ? 1 : 0), STORE_INT((int64_t)time(NULL)),
                                STORE_INT(ctx->net), STORE_BLOB(uid, 16)};
        rc = store_exec(ctx->c,
                        "UPDATE users SET status = CASE WHEN $1 = 1 THEN 'suspended' WHEN "
                        "activated_at IS NULL THEN 'pending' ELSE 'active' END, failed_logins = "
                        "0, updated_at = $2 WHERE network_id = $3 AND user_id = $4",
                        p, 4, NULL);
    }
    if (rc < 0) {
        api_admin_store_error(req, ctx, rc);
        return;
    }
    if (suspend)
        disconnect_user(req, uid);
    api_admin_audit(ctx, suspend ? "user.suspend" : "user.unsuspend", name, NULL);
    reply_user(req, ctx, 200, uid);
}

void api_admin_users_suspend(struct http_req *req, struct admin_ctx *ctx)
{
    set_status(req, ctx, true);
}

void api_admin_users_unsuspend(struct http_req *req, struct admin_ctx *ctx)
{
    set_status(req, ctx, false);
}

void api_admin_users_delete(struct http_req *req, struct admin_ctx *ctx)
{
    uint8_t uid[16];
    char name[128], status[32];
    int rc;

    if (!param_user(req, ctx, uid, name, sizeof(name), status, sizeof(status)))
        return;
    {
        struct store_val p[] = {STORE_INT(ctx->net), STORE_BLOB(uid, 16)};
        rc = store_exec(ctx->c, "DELETE FROM users WHERE network_id = $1 AND user_id = $2", p, 2,
                        NULL);
    }
    if (rc < 0) {
        api_admin_store_error(req, ctx, rc);
        return;
    }
    disconnect_user(req, uid);
    api_admin_audit(ctx, "user.delete", name, NULL);
    http_reply(req, 204, "application/json", NULL, 0);
}

/* RFC 4180 field; a leading = + - @ gets a quote so that spreadsheets do
 * not run it as a formula. */
static void csv_field(struct buf *b, const char *s, bool last)
{
    buf_append_byte(b, '"');
    if (s && strchr("=+-@\t\r", s[0]) && s[0])
        buf_append_byte(b, '\'');
    for (; s && *s; s++) {
        if (*s == '"')
            buf_append_byte(b, '"');
        buf_append_byte(b, (uint8_t)*s);
    }
    buf_append_str(b, last ? "\"\r\n" : "\",");
}

void api_admin_users_export(struct http_req *req, struct admin_ctx *ctx)
{
    char sql[600];
    struct store_val p[] = {STORE_INT(ctx->net)};
    struct store_rows *r = NULL;
    struct buf b;
    int rc;

    buf_init(&b, 256 << 20);
    buf_append_str(&b, "user_id,username,first_name,last_name,status,user_type,security_group,"
                       "created_at\r\n");
    snprintf(sql, sizeof(sql),
             "%s WHERE u.network_id = $1 AND u.user_type IN ('user', 'web_admin') ORDER BY "
             "u.username",
             user_select);
    rc = store_query(ctx->c, sql, p, 1, &r);
    while (rc == 0 && (rc = store_rows_next(r)) == 1) {
        size_t len = 0;
        const uint8_t *uid = store_rows_blob(r, 0, &len);
        char hex[33] = "", ts[24];
        if (uid && len == 16)
            hex_encode(uid, 16, hex);
        snprintf(ts, sizeof(ts), "%lld", (long long)store_rows_int(r, 9));
        csv_field(&b, hex, false);
        for (int col = 1; col <= 5; col++)
            csv_field(&b, store_rows_text(r, col), false);
        csv_field(&b, store_rows_text(r, 7), false);
        csv_field(&b, ts, true);
        rc = 0;
    }
    store_rows_free(r);
    if (rc < 0)
        api_admin_store_error(req, ctx, rc);
    else {
        char disp[128];
        snprintf(disp, sizeof(disp), "attachment; filename=\"directory-%s.csv\"", ctx->network_id);
        http_add_header(req, "content-disposition", disp);
        api_admin_audit(ctx, "user.export", ctx->network_id, NULL);
        http_reply(req, 200, "text/csv", b.data, b.len);
    }
    buf_release(&b);
}

/* ---- security groups ---- */

void api_admin_sgroups_list(struct http_req *req, struct admin_ctx *ctx)
{
    struct store_val p[] = {STORE_INT(ctx->net)};
    struct store_rows *r = NULL;
    json_t *arr = json_array();
    int rc = store_query(ctx->c,
                         "SELECT g.id, g.name, g.is_default, (SELECT COUNT(*) FROM users u WHERE "
                         "u.security_group_id = g.id), g.created_at, g.updated_at FROM "
                         "security_groups g WHERE g.network_id = $1 ORDER BY g.is_default DESC, "
                         "g.name",
                         p, 1, &r);

    while (rc == 0 && (rc = store_rows_next(r)) == 1) {
        json_array_append_new(
            arr, json_pack("{s:I,s:s,s:b,s:I,s:I,s:I}", "id", (json_int_t)store_rows_int(r, 0),
                           "name", store_rows_text(r, 1), "is_default", store_rows_int(r, 2) != 0,
                           "users", (json_int_t)store_rows_int(r, 3), "created_at",
                           (json_int_t)store_rows_int(r, 4), "updated_at",
                           (json_int_t)store_rows_int(r, 5)));
        rc = 0;
    }
    store_rows_free(r);
    if (rc < 0) {
        json_decref(arr);
        api_admin_store_error(req, ctx, rc);
        return;
    }
    http_reply_json(req, 200, json_pack("{s:o}", "security_groups", arr));
}

static void reply_sgroup(struct http_req *req, struct admin_ctx *ctx, int status, int64_t id)
{
    struct store_val p[] = {STORE_INT(ctx->net), STORE_INT(id)};
    struct store_rows *r = NULL;
    int rc = store_query(ctx->c,
                         "SELECT g.name, g.is_default, g.settings, (SELECT COUNT(*) FROM users u "
                         "WHERE u.security_group_id = g.id) FROM security_groups g WHERE "
                         "g.network_id = $1 AND g.id = $2",
                         p, 2, &r);

    if (rc == 0 && (rc = store_rows_next(r)) == 0)
        rc = PARLEY_ENOTFOUND;
    if (rc == 1) {
        json_t *stored = json_loads(store_rows_text(r, 2), 0, NULL);
        http_reply_json(
            req, status,
            json_pack("{s:I,s:s,s:b,s:I,s:o,s:o}", "id", (json_int_t)id, "name",
                      store_rows_text(r, 0), "is_default", store_rows_int(r, 1) != 0, "users",
                      (json_int_t)store_rows_int(r, 3), "settings",
                      sgroup_settings_fill(sgroup_settings, sgroup_settings_count, stored),
                      "overrides", stored ? stored : json_object()));
        rc = 0;
    }
    store_rows_free(r);
    if (rc < 0)
        api_admin_store_error(req, ctx, rc);
}

static const struct admin_field sgroup_fields[] = {
    {"name", AF_STRING, true, 1, 64, NULL},
    {"settings", AF_OBJECT, false, 0, 0, NULL},
};
static const struct admin_field sgroup_update_fields[] = {
    {"name", AF_STRING, false, 1, 64, NULL},
    {"settings", AF_OBJECT, false, 0, 0, NULL},
};

void api_admin_sgroups_create(struct http_req *req, struct admin_ctx *ctx)
{
    json_t *body = api_admin_body(req, sgroup_fields, ARRAY_SIZE(sgroup_fields));
    json_t *settings;
    char *text = NULL;
    int64_t count = 0, id = 0, now = (int64_t)time(NULL);
    int rc;

    if (!body)
        return;
    settings = json_object_get(body, "settings");
    if (!settings_ok(req, sgroup_settings, sgroup_settings_count, settings))
        goto out;
    text = settings ? json_dumps(settings, JSON_COMPACT | JSON_SORT_KEYS) : strdup("{}");
    {
        struct store_val p[] = {STORE_INT(ctx->net)};
        rc = store_query_int(ctx->c, "SELECT COUNT(*) FROM security_groups WHERE network_id = $1",
                             p, 1, &count);
    }
    if (rc == 0 && count >= SGROUP_MAX_PER_NETWORK) {
        http_reply_error(req, 409, "conflict",
                         "this network has %d security groups, the most allowed; delete one first",
                         SGROUP_MAX_PER_NETWORK);
        goto out;
    }
    if (rc == 0) {
        struct store_val p[] = {STORE_INT(ctx->net), STORE_TEXT(admin_json_str(body, "name", "")),
                                STORE_TEXT(text), STORE_INT(now)};
        rc = store_exec(ctx->c,
                        "INSERT INTO security_groups (network_id, name, is_default, settings, "
                        "created_at, updated_at) VALUES ($1, $2, 0, $3, $4, $4)",
                        p, 4, NULL);
        if (rc == 0)
            rc = store_query_int(ctx->c,
                                 "SELECT id FROM security_groups WHERE network_id = $1 AND name "
                                 "= $2",
                                 p, 2, &id);
    }
    if (rc == PARLEY_EEXIST) {
        http_reply_error(req, 409, "conflict",
                         "field 'name': a security group '%s' exists in this network",
                         admin_json_str(body, "name", ""));
        goto out;
    }
    if (rc < 0) {
        api_admin_store_error(req, ctx, rc);
        goto out;
    }
    api_admin_audit(ctx, "security_group.create", admin_json_str(body, "name", ""),
                    json_pack("{s:I,s:O?}", "id", (json_int_t)id, "settings", settings));
    reply_sgroup(req, ctx, 201, id);
out:
    free(text);
    json_decref(body);
}

/* params[1]: a security group of ctx->net. Replies 404 if not. */
static bool param_sgroup(struct http_req *req, struct admin_ctx *ctx, int64_t *id, char *name,
                         size_t len, bool *is_default)
{
    struct store_val p[2];
    struct store_rows *r = NULL;
    int rc = PARLEY_ENOTFOUND;

    if (str_to_i64(req->params[1], 1, INT64_MAX, id) == 0) {
        p[0] = STORE_INT(ctx->net);
        p[1] = STORE_INT(*id);
        rc = store_query(ctx->c,
                         "SELECT name, is_default FROM security_groups WHERE network_id = $1 AND "
                         "id = $2",
                         p, 2, &r);
        if (rc == 0 && (rc = store_rows_next(r)) == 1) {
            strlcpy_p(name, store_rows_text(r, 0), len);
            *is_default = store_rows_int(r, 1) != 0;
            rc = 0;
        } else if (rc == 0) {
            rc = PARLEY_ENOTFOUND;
        }
        store_rows_free(r);
    }
    if (rc == PARLEY_ENOTFOUND)
        http_reply_error(req, 404, "not_found", "no security group '%.24s' in this network",
                         req->params[1]);
    else if (rc < 0)
        api_admin_store_error(req, ctx, rc);
    return rc == 0;
}

void api_admin_sgroups_get(struct http_req *req, struct admin_ctx *ctx)
{
    int64_t id;
    char name[128];
    bool def;

    if (param_sgroup(req, ctx, &id, name, sizeof(name), &def))
        reply_sgroup(req, ctx, 200, id);
}

void api_admin_sgroups_update(struct http_req *req, struct admin_ctx *ctx)
{
    json_t *body, *settings;
    int64_t id;
    char name[128];
    bool def;
    int rc;

    if (!param_sgroup(req, ctx, &id, name, sizeof(name), &def))
        return;
    if (!(body = api_admin_body(req, sgroup_update_fields, ARRAY_SIZE(sgroup_update_fields))))
        return;
    settings = json_object_get(body, "settings");
    if (!settings_ok(req, sgroup_settings, sgroup_settings_count, settings))
        goto out;
    rc = store_begin(ctx->c);
    if (rc == 0 && json_object_get(body, "name")) {
        struct store_val p[] = {STORE_TEXT(admin_json_str(body, "name", "")), STORE_INT(id)};
        rc = store_exec(ctx->c, "UPDATE security_groups SET name = $1 WHERE id = $2", p, 2, NULL);
    }
    if (rc == 0 && settings)
        rc = merge_settings(ctx->c, "security_groups", id, settings);
    if (rc == 0)
        rc = store_commit(ctx->c);
    else
        store_rollback(ctx->c);
    if (rc == PARLEY_EEXIST) {
        http_reply_error(req, 409, "conflict",
                         "field 'name': a security group '%s' exists in this network",
                         admin_json_str(body, "name", ""));
        goto out;
    }
    if (rc < 0) {
        api_admin_store_error(req, ctx, rc);
        goto out;
    }
    api_admin_audit(ctx, "security_group.update", name, json_incref(body));
    reply_sgroup(req, ctx, 200, id);
out:
    json_decref(body);
}

void api_admin_sgroups_delete(struct http_req *req, struct admin_ctx *ctx)
{
    int64_t id, def_id = 0;
    char name[128];
    bool def;
    int rc;

    if (!param_sgroup(req, ctx, &id, name, sizeof(name), &def))
        return;
    if (def) {
        http_reply_error(req, 409, "conflict",
                         "the default security group always exists and cannot be deleted");
        return;
    }
    /* Its users move to the default group rather than lose their policy. */
    rc = store_begin(ctx->c);
    if (rc == 0) {
        struct store_val p[] = {STORE_INT(ctx->net)};
        rc = store_query_int(ctx->c,
                             "SELECT id FROM security_groups WHERE network_id = $1 AND "
                             "is_default = 1",
                             p, 1, &def_id);
    }
    if (rc == 0) {
        struct store_val p[] = {STORE_INT(def_id), STORE_INT(id)};
        rc = store_exec(ctx->c,
                        "UPDATE users SET security_group_id = $1 WHERE security_group_id = $2", p,
                        2, NULL);
        if (rc == 0)
            rc = store_exec(ctx->c, "DELETE FROM security_groups WHERE id = $1", p + 1, 1, NULL);
    }
    if (rc == 0)
        rc = store_commit(ctx->c);
    else
        store_rollback(ctx->c);
    if (rc < 0) {
        api_admin_store_error(req, ctx, rc);
        return;
    }
    api_admin_audit(ctx, "security_group.delete", name, NULL);
    http_reply(req, 204, "application/json", NULL, 0);
}

/* ---- the network's administrators: invitations ---- */

void api_admin_net_admins_list(struct http_req *req, struct admin_ctx *ctx)
{
    struct store_val p[] = {STORE_INT(ctx->net)};
    struct store_rows *r = NULL;
    json_t *arr = json_array();
    int rc = store_query(ctx->c,
                         "SELECT a.id, a.username, a.first_name, a.last_name, na.status, "
                         "na.created_at FROM network_admins na JOIN admins a ON a.id = "
                         "na.admin_id WHERE na.network_id = $1 ORDER BY a.username",
                         p, 1, &r);

    while (rc == 0 && (rc = store_rows_next(r)) == 1) {
        json_array_append_new(
            arr, json_pack("{s:I,s:s,s:s,s:s,s:s,s:I}", "id", (json_int_t)store_rows_int(r, 0),
                           "username", store_rows_text(r, 1), "first_name", store_rows_text(r, 2),
                           "last_name", store_rows_text(r, 3), "status", store_rows_text(r, 4),
                           "since", (json_int_t)store_rows_int(r, 5)));
        rc = 0;
    }
    store_rows_free(r);
    if (rc < 0) {
        json_decref(arr);
        api_admin_store_error(req, ctx, rc);
        return;
    }
    http_reply_json(req, 200, json_pack("{s:o}", "admins", arr));
}

static const struct admin_field invite_fields[] = {
    {"username", AF_NAME, true, 1, 64, NULL},
};

/* A network administrator adds an existing administrator to the network
 * (it cannot create one): the invitation waits for the invitee's
 * acceptance, until which it grants nothing. */
void api_admin_net_admins_invite(struct http_req *req, struct admin_ctx *ctx)
{
    json_t *body = api_admin_body(req, invite_fields, ARRAY_SIZE(invite_fields));
    const char *username;
    struct store_rows *r = NULL;
    int64_t id = 0, is_super = 0;
    int rc;

    if (!body)
        return;
    username = admin_json_str(body, "username", "");
    {
        struct store_val p[] = {STORE_TEXT(username)};
        rc = store_query(ctx->c, "SELECT id, is_super FROM admins WHERE username = $1", p, 1, &r);
        if (rc == 0 && (rc = store_rows_next(r)) == 1) {
            id = store_rows_int(r, 0);
            is_super = store_rows_int(r, 1);
            rc = 0;
        } else if (rc == 0) {
            rc = PARLEY_ENOTFOUND;
        }
        store_rows_free(r);
    }
    if (rc == PARLEY_ENOTFOUND) {
        http_reply_error(req, 400, "bad_request",
                         "field 'username' names no administrator; only a super administrator "
                         "can create administrators");
        goto out;
    }
    if (rc == 0 && is_super) {
        http_reply_error(req, 400, "bad_request",
                         "field 'username' is a super administrator, who reaches every network "
                         "already");
        goto out;
    }
    if (rc == 0) {
        struct store_val p[] = {STORE_INT(ctx->net), STORE_INT(id), STORE_INT((int64_t)time(NULL))};
        rc = store_exec(ctx->c,
                        "INSERT INTO network_admins (network_id, admin_id, status, created_at) "
                        "VALUES ($1, $2, 'invited', $3)",
                        p, 3, NULL);
    }
    if (rc == PARLEY_EEXIST) {
        http_reply_error(req, 409, "conflict",
                         "'%s' already administers this network or is invited to it", username);
        goto out;
    }
    if (rc < 0) {
        api_admin_store_error(req, ctx, rc);
        goto out;
    }
    api_admin_audit(ctx, "network.admin_invite", username, NULL);
    http_reply_json(req, 201,
                    json_pack("{s:I,s:s,s:s}", "id", (json_int_t)id, "username", username, "status",
                              "invited"));
out:
    json_decref(body);
}

void api_admin_net_admins_remove(struct http_req *req, struct admin_ctx *ctx)
{
    int64_t id, changes = 0;
    int rc;

    if (!api_admin_param_id(req, 1, &id))
        return;
    {
        struct store_val p[] = {STORE_INT(ctx->net), STORE_INT(id)};
        rc =
            store_exec(ctx->c, "DELETE FROM network_admins WHERE network_id = $1 AND admin_id = $2",
                       p, 2, &changes);
    }
    if (rc == 0 && changes == 0)
        rc = PARLEY_ENOTFOUND;
    if (rc < 0) {
        api_admin_store_error(req, ctx, rc);
        return;
    }
    api_admin_audit(ctx, "network.admin_remove", req->params[1], NULL);
    http_reply(req, 204, "application/json", NULL, 0);
}

void api_admin_me_invitations(struct http_req *req, struct admin_ctx *ctx)
{
    struct store_val p[] = {STORE_INT(ctx->who.id)};
    struct store_rows *r = NULL;
    json_t *arr = json_array();
    int rc = store_query(ctx->c,
                         "SELECT n.network_id, n.name, na.created_at FROM network_admins na JOIN "
                         "networks n ON n.id = na.network_id WHERE na.admin_id = $1 AND "
                         "na.status = 'invited' ORDER BY n.name",
                         p, 1, &r);

    while (rc == 0 && (rc = store_rows_next(r)) == 1) {
        json_array_append_new(arr, json_pack("{s:s,s:s,s:I}", "network_id", store_rows_text(r, 0),
                                             "name", store_rows_text(r, 1), "invited_at",
                                             (json_int_t)store_rows_int(r, 2)));
        rc = 0;
    }
    store_rows_free(r);
    if (rc < 0) {
        json_decref(arr);
        api_admin_store_error(req, ctx, rc);
        return;
    }
    http_reply_json(req, 200, json_pack("{s:o}", "invitations", arr));
}

/* Accept (or decline) the caller's invitation to network params[0]. */
static void answer_invitation(struct http_req *req, struct admin_ctx *ctx, bool accept)
{
    struct store_val p[] = {STORE_INT(ctx->who.id), STORE_TEXT(req->params[0])};
    int64_t changes = 0;
    int rc = store_exec(ctx->c,
                        accept ? "UPDATE network_admins SET status = 'accepted' WHERE admin_id = "
                                 "$1 AND status = 'invited' AND network_id = (SELECT id FROM "
                                 "networks WHERE network_id = $2)"
                               : "DELETE FROM network_admins WHERE admin_id = $1 AND status = "
                                 "'invited' AND network_id = (SELECT id FROM networks WHERE "
                                 "network_id = $2)",
                        p, 2, &changes);

    if (rc == 0 && changes == 0) {
        http_reply_error(req, 404, "not_found", "no invitation to network '%.64s'", req->params[0]);
        return;
    }
    if (rc < 0) {
        api_admin_store_error(req, ctx, rc);
        return;
    }
    ctx->network_id = req->params[0];
    api_admin_audit(ctx, accept ? "network.admin_accept" : "network.admin_decline", ctx->who.name,
                    NULL);
    if (accept)
        http_reply_json(req, 200,
                        json_pack("{s:s,s:s}", "network_id", req->params[0], "status", "accepted"));
    else
        http_reply(req, 204, "application/json", NULL, 0);
}

void api_admin_me_invitation_accept(struct http_req *req, struct admin_ctx *ctx)
{
    answer_invitation(req, ctx, true);
}

void api_admin_me_invitation_decline(struct http_req *req, struct admin_ctx *ctx)
{
    answer_invitation(req, ctx, false);
}
