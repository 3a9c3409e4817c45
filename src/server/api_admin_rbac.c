/* api_admin_rbac.c - the admin API's deployment endpoints for access
 * control: permissions, roles, API tokens, the audit log and the settings
 * tables. Access is checked by api_admin_entry (api_admin.c) before any
 * handler here runs. */
#include "admin_json.h"
#include "api_admin.h"
#include "common/log.h"
#include "common/str.h"
#include "sgroup_settings.h"
#include "store.h"

#include <openssl/crypto.h>

/* ---- roles ---- */

void api_admin_permissions(struct http_req *req, struct admin_ctx *ctx)
{
    http_reply_json(req, 200, json_pack("{s:o}", "permissions", rbac_set_to_json(rbac_all())));
}

void api_admin_roles_list(struct http_req *req, struct admin_ctx *ctx)
{
    struct store_rows *r = NULL;
    json_t *arr = json_array();
    int rc = store_query(ctx->c,
                         "SELECT r.id, r.name, r.is_builtin, r.permissions, (SELECT COUNT(*) FROM "
                         "admins a WHERE a.role_id = r.id) FROM roles r ORDER BY r.id",
                         NULL, 0, &r);

    while (rc == 0 && (rc = store_rows_next(r)) == 1) {
        const char *name = store_rows_text(r, 1);
        bool builtin = store_rows_int(r, 2) != 0;
        rbac_set s;
        /* Built-in roles: the code's set, as in admin_auth.c. */
        s = builtin ? (strcmp(name, RBAC_ROLE_SUPER) == 0     ? rbac_all()
                       : strcmp(name, RBAC_ROLE_NETWORK) == 0 ? rbac_network_admin_set()
                                                              : rbac_read_only_set())
                    : rbac_set_from_text(store_rows_text(r, 3));
        json_array_append_new(arr, json_pack("{s:I,s:s,s:b,s:o,s:I}", "id",
                                             (json_int_t)store_rows_int(r, 0), "name", name,
                                             "builtin", builtin, "permissions", rbac_set_to_json(s),
                                             "admins", (json_int_t)store_rows_int(r, 4)));
        rc = 0;
    }
    store_rows_free(r);
    if (rc < 0) {
        json_decref(arr);
        api_admin_store_error(req, ctx, rc);
        return;
    }
    http_reply_json(req, 200, json_pack("{s:o}", "roles", arr));
}

static const struct admin_field role_fields[] = {
    {"name", AF_NAME, true, 1, 64, NULL},
    {"permissions", AF_ARRAY, true, 0, RBAC_PERM_COUNT, NULL},
};
static const struct admin_field role_update_fields[] = {
    {"name", AF_NAME, false, 1, 64, NULL},
    {"permissions", AF_ARRAY, false, 0, RBAC_PERM_COUNT, NULL},
};

/* Parse body.permissions into text; replies 400 on a bad element. */
static bool perms_text(struct http_req *req, const json_t *body, char **text, rbac_set *set)
{
    char err[256];
    json_t *a = json_object_get(body, "permissions");

    *text = NULL;
    if (!a)
        return true;
    if (rbac_set_from_json(a, set, err, sizeof(err)) < 0) {
        http_reply_error(req, 400, "bad_request", "%s", err);
        return false;
    }
    a = rbac_set_to_json(*set);
    *text = json_dumps(a, JSON_COMPACT);
    json_decref(a);
    return true;
}

void api_admin_roles_create(struct http_req *req, struct admin_ctx *ctx)
{
    json_t *body = api_admin_body(req, role_fields, ARRAY_SIZE(role_fields));
    char *text = NULL;
    rbac_set set = 0;
    int rc;

    if (!body)
        return;
    if (!perms_text(req, body, &text, &set))
        goto out;
    {
        struct store_val p[] = {STORE_TEXT(admin_json_str(body, "name", "")), STORE_TEXT(text),
                                STORE_INT((int64_t)time(NULL))};
        rc = store_exec(ctx->c,
                        "INSERT INTO roles (name, permissions, is_builtin, created_at) VALUES "
                        "($1, $2, 0, $3)",
                        p, 3, NULL);
    }
    if (rc == PARLEY_EEXIST) {
        http_reply_error(req, 409, "conflict", "field 'name': a role '%s' exists",
                         admin_json_str(body, "name", ""));
        goto out;
    }
    if (rc < 0) {
        api_admin_store_error(req, ctx, rc);
        goto out;
    }
    api_admin_audit(ctx, "role.create", admin_json_str(body, "name", ""),
                    json_pack("{s:o}", "permissions", rbac_set_to_json(set)));
    {
        struct store_val p[] = {STORE_TEXT(admin_json_str(body, "name", ""))};
        int64_t id = 0;
        store_query_int(ctx->c, "SELECT id FROM roles WHERE name = $1", p, 1, &id);
        http_reply_json(req, 201,
                        json_pack("{s:I,s:s,s:b,s:o}", "id", (json_int_t)id, "name",
                                  admin_json_str(body, "name", ""), "builtin", 0, "permissions",
                                  rbac_set_to_json(set)));
    }
out:
    free(text);
    json_decref(body);
}

/* Role `id` if it exists and is not built in; replies otherwise. */
static bool role_editable(struct http_req *req, struct admin_ctx *ctx, int64_t id, char *name,
                          size_t len)
{
    struct store_val p[] = {STORE_INT(id)};
    struct store_rows *r = NULL;
    int rc = store_query(ctx->c, "SELECT name, is_builtin FROM roles WHERE id = $1", p, 1, &r);
    bool builtin = false;

    if (rc == 0 && (rc = store_rows_next(r)) == 1) {
        strlcpy_p(name, store_rows_text(r, 0), len);
        builtin = store_rows_int(r, 1) != 0;
        rc = 0;
    } else if (rc == 0) {
        rc = PARLEY_ENOTFOUND;
    }
    store_rows_free(r);
    if (rc < 0) {
        api_admin_store_error(req, ctx, rc);
        return false;
    }
    if (builtin) {
        http_reply_error(req, 409, "conflict", "role '%s' is built in and cannot be changed", name);
        return false;
    }
    return true;
}

void api_admin_roles_update(struct http_req *req, struct admin_ctx *ctx)
{
    json_t *body = NULL;
    char *text = NULL, name[128];
    rbac_set set = 0;
    int64_t id;
    int rc = 0;

    if (!api_admin_param_id(req, 0, &id) || !role_editable(req, ctx, id, name, sizeof(name)))
        return;
    if (!(body = api_admin_body(req, role_update_fields, ARRAY_SIZE(role_update_fields))))
        return;
    if (!perms_text(req, body, &text, &set))
        goto out;
    if (text) {
        struct store_val p[] = {STORE_TEXT(text), STORE_INT(id)};
        rc = store_exec(ctx->c, "UPDATE roles SET permissions = $1 WHERE id = $2", p, 2, NULL);
    }
    if (rc == 0 && json_object_get(body, "name")) {
        struct store_val p[] = {STORE_TEXT(admin_json_str(body, "name", "")), STORE_INT(id)};
        rc = store_exec(ctx->c, "UPDATE roles SET name = $1 WHERE id = $2", p, 2, NULL);
    }
    if (rc == PARLEY_EEXIST) {
        http_reply_error(req, 409, "conflict", "field 'name': a role '%s' exists",
                         admin_json_str(body, "name", ""));
        goto out;
    }
    if (rc < 0) {
        api_admin_store_error(req, ctx, rc);
        goto out;
    }
    api_admin_audit(ctx, "role.update", name, json_incref(body));
    http_reply_json(req, 200, json_pack("{s:I}", "id", (json_int_t)id));
out:
    free(text);
    json_decref(body);
}

void api_admin_roles_delete(struct http_req *req, struct admin_ctx *ctx)
{
    char name[128];
    int64_t id, users = 0;
    int rc;

    if (!api_admin_param_id(req, 0, &id) || !role_editable(req, ctx, id, name, sizeof(name)))
        return;
    {
        struct store_val p[] = {STORE_INT(id)};
        rc =
            store_query_int(ctx->c, "SELECT COUNT(*) FROM admins WHERE role_id = $1", p, 1, &users);
        if (rc == 0 && users > 0) {
            http_reply_error(req, 409, "conflict",
                             "role '%s' is held by %lld administrators; assign them another "
                             "role first",
                             name, (long long)users);
            return;
        }
        if (rc == 0)
            rc = store_exec(ctx->c, "DELETE FROM roles WHERE id = $1", p, 1, NULL);
    }
    if (rc < 0) {
        api_admin_store_error(req, ctx, rc);
        return;
    }
    api_admin_audit(ctx, "role.delete", name, NULL);
    http_reply(req, 204, "application/json", NULL, 0);
}

/* ---- API tokens ---- */

/* The tokens of network row `net`, or every token when `net` is 0. */
static void tokens_list(struct http_req *req, struct admin_ctx *ctx, int64_t net)
{
    struct store_val p[] = {STORE_INT(net)};
    struct store_rows *r = NULL;
    json_t *arr = json_array();
    int rc = store_query(ctx->c,
                         "SELECT t.id, t.label, t.scope, n.network_id, t.permissions, "
                         "a.username, t.created_at, t.last_used, t.revoked_at FROM api_tokens t "
                         "LEFT JOIN networks n ON n.id = t.network_id LEFT JOIN admins a ON a.id "
                         "= t.created_by WHERE $1 = 0 OR t.network_id = $1 ORDER BY t.id",
                         p, 1, &r);

    while (rc == 0 && (rc = store_rows_next(r)) == 1) {
        json_t *perms = json_loads(store_rows_text(r, 4), 0, NULL);
        json_t *e = json_pack(
            "{s:I,s:s,s:s,s:s?,s:o,s:s?,s:I}", "id", (json_int_t)store_rows_int(r, 0), "label",
            store_rows_text(r, 1), "scope", store_rows_text(r, 2), "network_id",
            store_rows_text(r, 3), "permissions", perms ? perms : json_array(), "created_by",
            store_rows_text(r, 5), "created_at", (json_int_t)store_rows_int(r, 6));
        json_object_set_new(e, "last_used",
                            store_rows_is_null(r, 7) ? json_null()
                                                     : json_integer(store_rows_int(r, 7)));
        json_object_set_new(e, "revoked_at",
                            store_rows_is_null(r, 8) ? json_null()
                                                     : json_integer(store_rows_int(r, 8)));
        json_array_append_new(arr, e);
        rc = 0;
    }
    store_rows_free(r);
    if (rc < 0) {
        json_decref(arr);
        api_admin_store_error(req, ctx, rc);
        return;
    }
    http_reply_json(req, 200, json_pack("{s:o}", "tokens", arr));
}

void api_admin_tokens_list(struct http_req *req, struct admin_ctx *ctx)
{
    tokens_list(req, ctx, 0);
}

void api_admin_net_tokens_list(struct http_req *req, struct admin_ctx *ctx)
{
    tokens_list(req, ctx, ctx->net);
}

/* Create a token from `body` (label, optional permissions): of deployment
 * scope when `net` is 0, else of network row `net` (public id `nid`). Its
 * permissions never exceed the caller's; a network token holds network
 * permissions only. Replies. */
static void tokens_create(struct http_req *req, struct admin_ctx *ctx, const json_t *body,
                          int64_t net, const char *nid)
{
    char secret[ADMIN_SECRET_LEN + 1], token[ADMIN_SECRET_LEN + 8], h[ADMIN_HASH_LEN + 1];
    const char *label = admin_json_str(body, "label", ""), *scope = net ? "network" : "deployment";
    char *text = NULL;
    rbac_set set = net ? rbac_network_admin_set() & ctx->who.perms : ctx->who.perms;
    int64_t id = 0;
    int rc;

    memset(secret, 0, sizeof(secret));
    memset(token, 0, sizeof(token));
    if (json_object_get(body, "permissions") && !perms_text(req, body, &text, &set))
        goto out;
    if (set & ~ctx->who.perms) {
        http_reply_error(req, 400, "bad_request",
                         "field 'permissions' grants permissions you do not hold");
        goto out;
    }
    if (net && (set & ~rbac_network_admin_set())) {
        http_reply_error(req, 400, "bad_request",
                         "field 'permissions' of a network token may hold network permissions "
                         "only (networks, users, security_groups, tokens)");
        goto out;
    }
    free(text);
    {
        json_t *a = rbac_set_to_json(set);
        text = json_dumps(a, JSON_COMPACT);
        json_decref(a);
    }
    if ((rc = admin_secret_new(secret)) < 0) {
        api_admin_store_error(req, ctx, rc);
        goto out;
    }
    snprintf(token, sizeof(token), ADMIN_TOKEN_PREFIX "%s", secret);
    admin_hash(token, h);
    {
        struct store_val p[] = {STORE_TEXT(h),
                                STORE_TEXT(label),
                                STORE_TEXT(scope),
                                net ? STORE_INT(net) : STORE_NULLV,
                                STORE_TEXT(text),
                                ctx->who.kind == ADMIN_ACTOR_ADMIN ? STORE_INT(ctx->who.id)
                                                                   : STORE_NULLV,
                                STORE_INT((int64_t)time(NULL))};
        struct store_val q[] = {STORE_TEXT(h)};
        rc = store_exec(ctx->c,
                        "INSERT INTO api_tokens (token_hash, label, scope, network_id, "
                        "permissions, created_by, created_at) VALUES ($1, $2, $3, $4, $5, $6, $7)",
                        p, ARRAY_SIZE(p), NULL);
        if (rc == 0)
            rc = store_query_int(ctx->c, "SELECT id FROM api_tokens WHERE token_hash = $1", q, 1,
                                 &id);
    }
    if (rc < 0) {
        api_admin_store_error(req, ctx, rc);
        goto out;
    }
    ctx->network_id = nid;
    api_admin_audit(ctx, "token.create", label,
                    json_pack("{s:s,s:I}", "scope", scope, "id", (json_int_t)id));
    /* The only time the token is shown. */
    http_reply_json(req, 201,
                    json_pack("{s:I,s:s,s:s,s:s,s:s?,s:o}", "id", (json_int_t)id, "token", token,
                              "label", label, "scope", scope, "network_id", nid, "permissions",
                              rbac_set_to_json(set)));
out:
    OPENSSL_cleanse(secret, sizeof(secret));
    OPENSSL_cleanse(token, sizeof(token));
    free(text);
}

static const char *const token_scopes[] = {"deployment", "network", NULL};
static const struct admin_field token_fields[] = {
    {"label", AF_STRING, true, 1, 128, NULL},
    {"scope", AF_STRING, true, 1, 16, token_scopes},
    {"network_id", AF_STRING, false, 1, 64, NULL},
    {"permissions", AF_ARRAY, false, 0, RBAC_PERM_COUNT, NULL},
};

void api_admin_tokens_create(struct http_req *req, struct admin_ctx *ctx)
{
    json_t *body = api_admin_body(req, token_fields, ARRAY_SIZE(token_fields));
    bool network;
    const char *nid;
    int64_t net = 0;
    int rc;

    if (!body)
        return;
    network = strcmp(admin_json_str(body, "scope", ""), "network") == 0;
    nid = admin_json_str(body, "network_id", NULL);
    if (network != (nid != NULL)) {
        http_reply_error(req, 400, "bad_request",
                         network ? "field 'network_id' is required when scope is 'network'"
                                 : "field 'network_id' is only allowed when scope is 'network'");
        goto out;
    }
    if (network) {
        struct store_val p[] = {STORE_TEXT(nid)};
        rc = store_query_int(ctx->c, "SELECT id FROM networks WHERE network_id = $1", p, 1, &net);
        if (rc == PARLEY_ENOTFOUND) {
            http_reply_error(req, 400, "bad_request", "field 'network_id' names no network");
            goto out;
        }
        if (rc < 0) {
            api_admin_store_error(req, ctx, rc);
            goto out;
        }
    }
    tokens_create(req, ctx, body, net, nid);
out:
    json_decref(body);
}

static const struct admin_field net_token_fields[] = {
    {"label", AF_STRING, true, 1, 128, NULL},
    {"permissions", AF_ARRAY, false, 0, RBAC_PERM_COUNT, NULL},
};

void api_admin_net_tokens_create(struct http_req *req, struct admin_ctx *ctx)
{
    json_t *body = api_admin_body(req, net_token_fields, ARRAY_SIZE(net_token_fields));

    if (!body)
        return;
    tokens_create(req, ctx, body, ctx->net, ctx->network_id);
    json_decref(body);
}

/* Revoke token params[i], which must belong to network row `net` unless
 * `net` is 0. */
static void tokens_revoke(struct http_req *req, struct admin_ctx *ctx, int i, int64_t net)
{
    int64_t id, changes = 0;
    int rc;

    if (!api_admin_param_id(req, i, &id))
        return;
    {
        struct store_val p[] = {STORE_INT((int64_t)time(NULL)), STORE_INT(id), STORE_INT(net)};
        rc = store_exec(ctx->c,
                        "UPDATE api_tokens SET revoked_at = $1 WHERE id = $2 AND revoked_at IS "
                        "NULL AND ($3 = 0 OR network_id = $3)",
                        p, 3, &changes);
    }
    if (rc == 0 && changes == 0)
        rc = PARLEY_ENOTFOUND;
    if (rc < 0) {
        api_admin_store_error(req, ctx, rc);
        return;
    }
    api_admin_audit(ctx, "token.revoke", req->params[i], NULL);
    http_reply(req, 204, "application/json", NULL, 0);
}

void api_admin_tokens_revoke(struct http_req *req, struct admin_ctx *ctx)
{
    tokens_revoke(req, ctx, 0, 0);
}

void api_admin_net_tokens_revoke(struct http_req *req, struct admin_ctx *ctx)
{
    tokens_revoke(req, ctx, 1, ctx->net);
}

/* ---- audit log and settings ---- */

void api_admin_audit_list(struct http_req *req, struct admin_ctx *ctx)
{
    char action[128], actor[128], nid[64];
    bool has_action = api_admin_query(req, "action", action, sizeof(action));
    bool has_actor = api_admin_query(req, "actor", actor, sizeof(actor));
    bool has_nid = api_admin_query(req, "network_id", nid, sizeof(nid));
    int64_t limit, offset, since = 0, until = 0;
    json_t *arr = NULL;
    int rc;

    if (!api_admin_paging(req, &limit, &offset) ||
        !api_admin_query_int(req, "since", 0, INT64_MAX / 2, &since) ||
        !api_admin_query_int(req, "until", 0, INT64_MAX / 2, &until))
        return;
    rc = audit_list(ctx->c, has_action ? action : NULL, has_actor ? actor : NULL,
                    has_nid ? nid : NULL, since, until, offset, limit, &arr);
    if (rc < 0) {
        api_admin_store_error(req, ctx, rc);
        return;
    }
    http_reply_json(req, 200,
                    json_pack("{s:o,s:I,s:I}", "entries", arr, "limit", (json_int_t)limit, "offset",
                              (json_int_t)offset));
}

void api_admin_settings_describe(struct http_req *req, struct admin_ctx *ctx)
{
    http_reply_json(req, 200,
                    json_pack("{s:o,s:o}", "security_group",
                              sgroup_settings_describe(sgroup_settings, sgroup_settings_count),
                              "network",
                              sgroup_settings_describe(sgroup_network_settings,
                                                       sgroup_network_settings_count)));
}
