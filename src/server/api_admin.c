/* api_admin.c - the admin API's gate (api_admin_entry) and its deployment
 * endpoints: sign-in, the caller's account, administrators, lockout, roles,
 * API tokens and the audit log. Network endpoints are in api_admin_net.c.
 *
 * Argon2id (about 170 ms) never runs on the loop thread: sign-in, password
 * changes and user creation hash on a worker (api_admin_defer, workq.h). */
#include "api_admin.h"
#include "admin_json.h"
#include "common/log.h"
#include "common/str.h"
#include "common/xmalloc.h"
#include "password.h"
#include "sgroup_settings.h"
#include "store.h"
#include "workq.h"

#include <openssl/crypto.h>

/* Locked "until a super administrator unlocks it": far in the future, but
 * still an ordinary integer for both backends. */
#define LOCKED_FOREVER 253402300799LL

/* The administrator password policy (fixed; users follow their security
 * group's). */
#define ADMIN_PW_MIN 12

/* ---- helpers ---- */

void api_admin_store_error(struct http_req *req, struct admin_ctx *ctx, int rc)
{
    if (rc == PARLEY_EEXIST)
        http_reply_error(req, 409, "conflict", "an object with that name already exists");
    else if (rc == PARLEY_ENOTFOUND)
        http_reply_error(req, 404, "not_found", "no such object: %s", req->path);
    else if (rc == PARLEY_EBUSY || rc == PARLEY_ECONFLICT || rc == PARLEY_ECLOSED)
        http_reply_error(req, 503, "busy", "the database is busy; try again");
    else {
        log_error("admin %s %s: %s (%s)", http_method_name(req->method), req->route->path,
                  parley_strerror(rc), ctx && ctx->c ? store_conn_errmsg(ctx->c) : "");
        http_reply_error(req, 500, "internal", "the server could not complete the request");
    }
}

json_t *api_admin_body(struct http_req *req, const struct admin_field *fields, size_t n)
{
    char err[512];
    json_t *obj = NULL;

    if (admin_json_parse(req->body.data, req->body.len, fields, n, &obj, err, sizeof(err)) < 0) {
        http_reply_error(req, 400, "bad_request", "%s", err);
        return NULL;
    }
    return obj;
}

bool api_admin_query(struct http_req *req, const char *name, char *out, size_t len)
{
    char key[64], tmp[512];
    const char *v;

    snprintf(key, sizeof(key), "%s=", name);
    v = lws_get_urlarg_by_name(req->wsi, key, tmp, (int)sizeof(tmp));
    if (!v)
        return false;
    strlcpy_p(out, v, len);
    return true;
}

bool api_admin_query_int(struct http_req *req, const char *name, int64_t min, int64_t max,
                         int64_t *out)
{
    char v[32];
    if (!api_admin_query(req, name, v, sizeof(v)))
        return true;
    if (str_to_i64(v, min, max, out) < 0) {
        http_reply_error(req, 400, "bad_request",
                         "query parameter '%s' must be an integer from %lld to %lld", name,
                         (long long)min, (long long)max);
        return false;
    }
    return true;
}

bool api_admin_paging(struct http_req *req, int64_t *limit, int64_t *offset)
{
    *limit = 100;
    *offset = 0;
    return api_admin_query_int(req, "limit", 1, 1000, limit) &&
           api_admin_query_int(req, "offset", 0, INT64_MAX / 2, offset);
}

void api_admin_audit(struct admin_ctx *ctx, const char *action, const char *target, json_t *details)
{
    audit_write(ctx->c, &ctx->actor, action, target, ctx->network_id, details);
    json_decref(details);
}

/* A path parameter that is a row id; replies 404 when it is not one. */
bool api_admin_param_id(struct http_req *req, int i, int64_t *id)
{
    if (str_to_i64(req->params[i], 1, INT64_MAX, id) == 0)
        return true;
    http_reply_error(req, 404, "not_found", "no such object: %s", req->path);
    return false;
}

/* ---- the gate ---- */

static bool header(struct http_req *req, enum lws_token_indexes t, char *out, int len)
{
    return lws_hdr_copy(req->wsi, out, len, t) > 0;
}

static bool authenticate(struct http_req *req, struct admin_ctx *ctx)
{
    char authz[256], cookies[2048], sess[128], csrf[128];
    bool need_csrf = req->method != HTTP_GET && req->method != HTTP_HEAD;
    int rc = PARLEY_EAUTH;

    if (header(req, WSI_TOKEN_HTTP_AUTHORIZATION, authz, sizeof(authz))) {
        if (strncmp(authz, "Bearer " ADMIN_TOKEN_PREFIX, 7 + strlen(ADMIN_TOKEN_PREFIX)) == 0)
            rc = admin_auth_token(ctx->c, authz + 7, &ctx->who);
        OPENSSL_cleanse(authz, sizeof(authz));
    } else if (header(req, WSI_TOKEN_HTTP_COOKIE, cookies, sizeof(cookies)) &&
               admin_auth_cookie(cookies, ADMIN_COOKIE_NAME, sess, sizeof(sess))) {
        if (lws_hdr_custom_copy(req->wsi, csrf, sizeof(csrf), "x-csrf-token:", 13) <= 0)
            csrf[0] = 0;
        rc = admin_auth_session(ctx->c, req->srv->cfg, sess, csrf, need_csrf, &ctx->who);
        OPENSSL_cleanse(sess, sizeof(sess));
        OPENSSL_cleanse(csrf, sizeof(csrf));
        OPENSSL_cleanse(cookies, sizeof(cookies));
    }
    if (rc == PARLEY_EPERM) {
        http_reply_error(req, 403, "csrf",
                         "header 'X-CSRF-Token' is missing or wrong: send the csrf_token of the "
                         "sign-in response with every state-changing request");
        return false;
    }
    if (rc == PARLEY_EAUTH) {
        http_reply_error(req, 401, "unauthenticated",
                         "sign in first: send the session cookie from POST " ADMIN_PATH
                         "/login, or 'Authorization: Bearer <API token>'");
        return false;
    }
    if (rc < 0) {
        api_admin_store_error(req, ctx, rc);
        return false;
    }
    ctx->actor.kind = ctx->who.kind == ADMIN_ACTOR_TOKEN ? "token" : "admin";
    ctx->actor.id = ctx->who.id;
    ctx->actor.name = ctx->who.name;
    return true;
}

/* NETWORK routes: params[0] names a network the caller may reach. Callers
 * outside it learn nothing, not even that it exists. */
static bool resolve_network(struct http_req *req, struct admin_ctx *ctx)
{
    struct store_val p[] = {STORE_TEXT(req->params[0])};
    int64_t net = 0, one = 0;
    int rc = store_query_int(ctx->c, "SELECT id FROM networks WHERE network_id = $1", p, 1, &net);

    if (rc == 0 && !ctx->who.is_super) {
        if (ctx->who.kind == ADMIN_ACTOR_TOKEN) {
            rc = ctx->who.token_network == net ? 0 : PARLEY_ENOTFOUND;
        } else {
            struct store_val q[] = {STORE_INT(net), STORE_INT(ctx->who.id)};
            rc = store_query_int(ctx->c,
                                 "SELECT 1 FROM network_admins WHERE network_id = $1 AND "
                                 "admin_id = $2 AND status = 'accepted'",
                                 q, 2, &one);
        }
    }
    if (rc == PARLEY_ENOTFOUND) {
        http_reply_error(req, 404, "not_found", "no network '%.64s' that you administer",
                         req->params[0]);
        return false;
    }
    if (rc < 0) {
        api_admin_store_error(req, ctx, rc);
        return false;
    }
    ctx->net = net;
    ctx->network_id = req->params[0];
    return true;
}

static bool authorize(struct http_req *req, struct admin_ctx *ctx)
{
    const struct http_route *r = req->route;

    if (r->scope == RBAC_SCOPE_SELF && ctx->who.kind != ADMIN_ACTOR_ADMIN) {
        http_reply_error(req, 403, "forbidden",
                         "API tokens cannot use the account endpoints; sign in as an "
                         "administrator");
        return false;
    }
    if (ctx->who.must_change_password && r->scope != RBAC_SCOPE_SELF) {
        http_reply_error(req, 403, "password_change_required",
                         "password change required: POST " ADMIN_PATH
                         "/me/password with current_password and new_password first");
        return false;
    }
    if (r->perm != RBAC_NONE && !(ctx->who.perms & RBAC_BIT(r->perm))) {
        http_reply_error(req, 403, "forbidden", "this needs the permission '%s'",
                         rbac_perm_name(r->perm));
        return false;
    }
    if (r->scope == RBAC_SCOPE_DEPLOYMENT && !ctx->who.is_super) {
        http_reply_error(req, 403, "forbidden",
                         "this needs deployment scope: a super administrator or a deployment "
                         "API token");
        return false;
    }
    if (r->scope == RBAC_SCOPE_NETWORK)
        return resolve_network(req, ctx);
    return true;
}

void api_admin_entry(struct http_req *req)
{
    struct admin_ctx ctx;
    int rc;

    memset(&ctx, 0, sizeof(ctx));
    if (lws_get_peer_simple(req->wsi, ctx.ip, sizeof(ctx.ip)) == NULL)
        strlcpy_p(ctx.ip, "?", sizeof(ctx.ip));
    ctx.actor.kind = "anonymous";
    ctx.actor.name = "";
    ctx.actor.ip = ctx.ip;
    rc = store_conn_get(req->srv->store, &ctx.c);
    if (rc < 0) {
        ctx.c = NULL;
        api_admin_store_error(req, NULL, rc);
        return;
    }
    if (req->route->scope == RBAC_SCOPE_PUBLIC || (authenticate(req, &ctx) && authorize(req, &ctx)))
        req->route->admin_fn(req, &ctx);
    store_conn_put(req->srv->store, ctx.c);
    OPENSSL_cleanse(&ctx.who, sizeof(ctx.who));
}

/* ---- work off the loop ---- */

static void on_job_work(void *arg)
{
    struct admin_job *job = arg;
    job->work(job);
}

static void on_job_done(void *arg)
{
    struct admin_job *job = arg;
    struct http_req *req = http_resume(job->pending);
    struct admin_ctx ctx;
    int rc;

    if (!req) {
        log_info("admin request abandoned by its client before its work ended");
        goto out;
    }
    ctx = job->saved;
    ctx.actor.ip = ctx.ip;
    ctx.actor.name = job->actor_is_who ? ctx.who.name : "";
    rc = store_conn_get(job->srv->store, &ctx.c);
    if (rc < 0) {
        api_admin_store_error(req, NULL, rc);
        goto out;
    }
    job->done(req, &ctx, job);
    if (!req->replied)
        BUG("deferred admin handler for %s did not reply", req->path);
    store_conn_put(job->srv->store, ctx.c);
    OPENSSL_cleanse(&ctx.who, sizeof(ctx.who));
out:
    OPENSSL_cleanse(&job->saved.who, sizeof(job->saved.who));
    job->release(job);
}

void api_admin_defer(struct http_req *req, struct admin_ctx *ctx, struct admin_job *job)
{
    int rc;

    job->srv = req->srv;
    job->saved = *ctx;
    job->saved.c = NULL;
    job->actor_is_who = ctx->actor.name == ctx->who.name;
    job->pending = http_defer(req);
    rc = workq_submit(on_job_work, on_job_done, job);
    if (rc == 0)
        return;
    http_resume(job->pending);
    OPENSSL_cleanse(&job->saved.who, sizeof(job->saved.who));
    job->release(job);
    http_add_header(req, "retry-after", "1");
    http_reply_error(req, 503, "busy", "the server is busy hashing passwords; try again");
}

/* ---- sign-in ---- */

static const struct admin_field login_fields[] = {
    {"username", AF_STRING, true, 1, 128, NULL},
    {"password", AF_STRING, true, 1, 1024, NULL},
    {"totp", AF_STRING, false, 0, 16, NULL},
};

struct login_row {
    int64_t id, totp_last_step, failed, locked_until;
    bool totp_enabled;
    char hash[PASSWORD_ENCODED_MAX];
    char totp[ADMIN_SEALED_MAX];
};

static int load_login(struct store_conn *c, const char *username, struct login_row *lr)
{
    struct store_val p[] = {STORE_TEXT(username)};
    struct store_rows *r = NULL;
    int rc = store_query(c,
                         "SELECT id, password_hash, totp_enabled, totp_secret, totp_last_step, "
                         "failed_logins, locked_until FROM admins WHERE username = $1",
                         p, 1, &r);
    if (rc == 0 && (rc = store_rows_next(r)) == 0)
        rc = PARLEY_ENOTFOUND;
    if (rc == 1) {
        lr->id = store_rows_int(r, 0);
        strlcpy_p(lr->hash, store_rows_text(r, 1), sizeof(lr->hash));
        lr->totp_enabled = store_rows_int(r, 2) != 0;
        strlcpy_p(lr->totp, store_rows_text(r, 3) ? store_rows_text(r, 3) : "", sizeof(lr->totp));
        lr->totp_last_step = store_rows_int(r, 4);
        lr->failed = store_rows_int(r, 5);
        lr->locked_until = store_rows_int(r, 6);
        rc = 0;
    }
    store_rows_free(r);
    return rc;
}

/* A failed sign-in: count it, and lock the account at the limit. The count
 * is increased in the database, not from the value read before the hash was
 * checked, so that sign-ins checked side by side each count. */
static void login_failed(struct http_req *req, struct admin_ctx *ctx, struct login_row *lr,
                         const char *username, const char *why)
{
    const struct config *cfg = req->srv->cfg;
    int64_t now = (int64_t)time(NULL), failed = lr->failed + 1, until;
    struct store_val p[] = {STORE_INT(lr->id)};

    store_exec(ctx->c, "UPDATE admins SET failed_logins = failed_logins + 1 WHERE id = $1", p, 1,
               NULL);
    store_query_int(ctx->c, "SELECT failed_logins FROM admins WHERE id = $1", p, 1, &failed);
    ctx->actor.name = username;
    api_admin_audit(ctx, "admin.login_failed", username,
                    json_pack("{s:s,s:I}", "reason", why, "failed_logins", (json_int_t)failed));
    if (failed < cfg->admin_lockout_attempts || lr->locked_until > now)
        return;
    until = cfg->admin_lockout_minutes ? now + (int64_t)cfg->admin_lockout_minutes * 60
                                       : LOCKED_FOREVER;
    {
        struct store_val q[] = {STORE_INT(until), STORE_INT(lr->id)};
        store_exec(ctx->c, "UPDATE admins SET locked_until = $1 WHERE id = $2", q, 2, NULL);
    }
    api_admin_audit(ctx, "admin.locked", username, NULL);
}

/* A sign-in while its password is checked on a worker. */
struct login_job {
    struct admin_job job;
    bool known;    /* the username exists */
    bool verified; /* set by the worker */
    bool has_totp;
    char username[129];
    char pw[1025];
    char totp[17];
    char hash[PASSWORD_ENCODED_MAX]; /* the hash checked */
};

static void login_work(struct admin_job *job)
{
    struct login_job *lj = (struct login_job *)job;

    if (lj->known)
        lj->verified = password_verify(lj->hash, lj->pw) == 0;
    else
        password_verify_dummy(lj->pw);
    OPENSSL_cleanse(lj->pw, sizeof(lj->pw));
}

static void login_release(struct admin_job *job)
{
    OPENSSL_cleanse(job, sizeof(struct login_job));
    free(job);
}

static void login_done(struct http_req *req, struct admin_ctx *ctx, struct admin_job *job)
{
    struct login_job *lj = (struct login_job *)job;
    struct login_row lr;
    char cookie[ADMIN_SECRET_LEN + 1], csrf[ADMIN_SECRET_LEN + 1], set[256];
    const char *username = lj->username;
    int64_t now = (int64_t)time(NULL), step = 0;
    int rc = PARLEY_ENOTFOUND;

    memset(&lr, 0, sizeof(lr));
    /* Read the account again: it may have been locked, deleted or given a
     * new password while the hash was checked. */
    if (lj->known)
        rc = load_login(ctx->c, username, &lr);
    if (rc == PARLEY_ENOTFOUND) {
        ctx->actor.name = username;
        api_admin_audit(ctx, "admin.login_failed", username,
                        json_pack("{s:s}", "reason", "unknown username"));
        http_reply_error(req, 401, "invalid_credentials", "username or password is wrong");
        goto out;
    }
    if (rc < 0) {
        api_admin_store_error(req, ctx, rc);
        goto out;
    }
    if (lr.locked_until > now) {
        http_reply_error(req, 403, "account_locked",
                         "account '%s' is locked after too many failed sign-ins; a super "
                         "administrator can unlock it",
                         username);
        goto out;
    }
    if (!lj->verified || strcmp(lr.hash, lj->hash) != 0) {
        login_failed(req, ctx, &lr, username, "wrong password");
        http_reply_error(req, 401, "invalid_credentials", "username or password is wrong");
        goto out;
    }
    if (lr.totp_enabled) {
        if (!lj->has_totp) {
            http_reply_error(req, 401, "totp_required",
                             "field 'totp' is required: this account uses two-factor "
                             "authentication; send the current 6-digit code");
            goto out;
        }
        char plain[128];
        rc = admin_secret_open(req->srv->cfg, lr.id, lr.totp, plain, sizeof(plain));
        if (rc < 0) {
            log_error("cannot open the TOTP secret of '%s': %s", username, parley_strerror(rc));
            api_admin_store_error(req, ctx, rc);
            goto out;
        }
        rc = admin_totp_check(plain, lj->totp, lr.totp_last_step, (time_t)now, &step);
        OPENSSL_cleanse(plain, sizeof(plain));
        if (rc != 0) {
            login_failed(req, ctx, &lr, username, "wrong totp code");
            http_reply_error(req, 401, "invalid_totp",
                             "field 'totp' is wrong or was already used; send the current "
                             "6-digit code");
            goto out;
        }
    }
    {
        struct store_val p[] = {STORE_INT(step ? step : lr.totp_last_step), STORE_INT(lr.id)};
        rc = store_exec(ctx->c,
                        "UPDATE admins SET failed_logins = 0, locked_until = 0, totp_last_step "
                        "= $1 WHERE id = $2",
                        p, 2, NULL);
    }
    if (rc == 0)
        rc = admin_auth_session_new(ctx->c, req->srv->cfg, lr.id, ctx->ip, cookie, csrf);
    if (rc == 0)
        rc = admin_auth_load_admin(ctx->c, lr.id, &ctx->who);
    if (rc < 0) {
        api_admin_store_error(req, ctx, rc);
        goto out;
    }
    ctx->actor.kind = "admin";
    ctx->actor.id = lr.id;
    ctx->actor.name = ctx->who.name;
    api_admin_audit(ctx, "admin.login", username, NULL);
    snprintf(set, sizeof(set),
             ADMIN_COOKIE_NAME "=%s; HttpOnly; Secure; SameSite=Strict; Path=/; Max-Age=%d", cookie,
             req->srv->cfg->admin_session_max_hours * 3600);
    http_add_header(req, "set-cookie", set);
    http_reply_json(req, 200,
                    json_pack("{s:s,s:b,s:{s:I,s:s,s:b,s:o}}", "csrf_token", csrf,
                              "must_change_password", ctx->who.must_change_password, "admin", "id",
                              (json_int_t)lr.id, "username", ctx->who.name, "is_super",
                              ctx->who.is_super, "permissions", rbac_set_to_json(ctx->who.perms)));
out:
    OPENSSL_cleanse(cookie, sizeof(cookie));
    OPENSSL_cleanse(csrf, sizeof(csrf));
    OPENSSL_cleanse(set, sizeof(set));
    OPENSSL_cleanse(&lr, sizeof(lr));
}

/* Wipe the password member of a parsed body, and the raw body, then drop
 * the object. */
void api_admin_body_wipe(struct http_req *req, json_t *body, const char *field)
{
    json_t *p = json_object_get(body, field);
    if (json_is_string(p))
        OPENSSL_cleanse((char *)json_string_value(p), json_string_length(p));
    json_decref(body);
    OPENSSL_cleanse(req->body.data, req->body.len);
}

void api_admin_login(struct http_req *req, struct admin_ctx *ctx)
{
    struct login_row lr;
    struct login_job *lj;
    const char *code;
    json_t *body;
    int rc;

    memset(&lr, 0, sizeof(lr));
    if (!admin_auth_rate_ok(req->srv->cfg, ctx->ip, time(NULL))) {
        http_reply_error(req, 429, "rate_limited",
                         "too many sign-in attempts from this address; wait a minute "
                         "(setting admin_login_rate)");
        return;
    }
    if (!(body = api_admin_body(req, login_fields, ARRAY_SIZE(login_fields))))
        return;
    lj = xcalloc(1, sizeof(*lj));
    strlcpy_p(lj->username, admin_json_str(body, "username", ""), sizeof(lj->username));
    strlcpy_p(lj->pw, admin_json_str(body, "password", ""), sizeof(lj->pw));
    code = admin_json_str(body, "totp", NULL);
    lj->has_totp = code && *code;
    strlcpy_p(lj->totp, code ? code : "", sizeof(lj->totp));
    api_admin_body_wipe(req, body, "password");
    rc = load_login(ctx->c, lj->username, &lr);
    if (rc < 0 && rc != PARLEY_ENOTFOUND) {
        api_admin_store_error(req, ctx, rc);
        login_release(&lj->job);
        goto out;
    }
    if (rc == 0 && lr.locked_until > (int64_t)time(NULL)) {
        http_reply_error(req, 403, "account_locked",
                         "account '%s' is locked after too many failed sign-ins; a super "
                         "administrator can unlock it",
                         lj->username);
        login_release(&lj->job);
        goto out;
    }
    /* An unknown username costs the same Argon2id as a known one. */
    lj->known = rc == 0;
    strlcpy_p(lj->hash, lr.hash, sizeof(lj->hash));
    lj->job.work = login_work;
    lj->job.done = login_done;
    lj->job.release = login_release;
    api_admin_defer(req, ctx, &lj->job);
out:
    OPENSSL_cleanse(&lr, sizeof(lr));
}

void api_admin_logout(struct http_req *req, struct admin_ctx *ctx)
{
    if (ctx->who.via_cookie) {
        struct store_val p[] = {STORE_TEXT(ctx->who.session_hash)};
        store_exec(ctx->c, "DELETE FROM admin_sessions WHERE token_hash = $1", p, 1, NULL);
    }
    api_admin_audit(ctx, "admin.logout", ctx->who.name, NULL);
    http_add_header(req, "set-cookie",
                    ADMIN_COOKIE_NAME "=; HttpOnly; Secure; SameSite=Strict; Path=/; Max-Age=0");
    http_reply_json(req, 200, json_pack("{s:b}", "signed_out", 1));
}

/* ---- administrators ---- */

static const char admin_select[] =
    "SELECT a.id, a.username, a.first_name, a.last_name, a.is_super, a.must_change_password, "
    "a.totp_enabled, a.failed_logins, a.locked_until, a.created_at, r.name FROM admins a LEFT "
    "JOIN roles r ON r.id = a.role_id";

static json_t *admin_networks(struct store_conn *c, int64_t admin_id)
{
    struct store_val p[] = {STORE_INT(admin_id)};
    struct store_rows *r = NULL;
    json_t *arr = json_array();

    if (store_query(c,
                    "SELECT n.network_id, na.status FROM network_admins na JOIN networks n ON "
                    "n.id = na.network_id WHERE na.admin_id = $1 ORDER BY n.network_id",
                    p, 1, &r) == 0)
        while (store_rows_next(r) == 1)
            json_array_append_new(arr, json_pack("{s:s,s:s}", "network_id", store_rows_text(r, 0),
                                                 "status", store_rows_text(r, 1)));
    store_rows_free(r);
    return arr;
}

static json_t *admin_row_json(struct store_rows *r)
{
    int64_t now = (int64_t)time(NULL);
    return json_pack(
        "{s:I,s:s,s:s,s:s,s:b,s:b,s:b,s:I,s:b,s:I,s:s?}", "id", (json_int_t)store_rows_int(r, 0),
        "username", store_rows_text(r, 1), "first_name", store_rows_text(r, 2), "last_name",
        store_rows_text(r, 3), "is_super", store_rows_int(r, 4) != 0, "must_change_password",
        store_rows_int(r, 5) != 0, "totp_enabled", store_rows_int(r, 6) != 0, "failed_logins",
        (json_int_t)store_rows_int(r, 7), "locked", store_rows_int(r, 8) > now, "created_at",
        (json_int_t)store_rows_int(r, 9), "role", store_rows_text(r, 10));
}

/* Admin `id` as JSON in *out; PARLEY_ENOTFOUND if none. */
static int admin_get_json(struct store_conn *c, int64_t id, json_t **out)
{
    char sql[512];
    struct store_val p[] = {STORE_INT(id)};
    struct store_rows *r = NULL;
    int rc;

    snprintf(sql, sizeof(sql), "%s WHERE a.id = $1", admin_select);
    rc = store_query(c, sql, p, 1, &r);
    if (rc == 0 && (rc = store_rows_next(r)) == 0)
        rc = PARLEY_ENOTFOUND;
    if (rc == 1) {
        *out = admin_row_json(r);
        rc = 0;
    }
    store_rows_free(r);
    if (rc == 0)
        json_object_set_new(*out, "networks", admin_networks(c, id));
    return rc;
}

void api_admin_me(struct http_req *req, struct admin_ctx *ctx)
{
    json_t *me = NULL;
    int rc = admin_get_json(ctx->c, ctx->who.id, &me);

    if (rc < 0) {
        api_admin_store_error(req, ctx, rc);
        return;
    }
    json_object_set_new(me, "permissions", rbac_set_to_json(ctx->who.perms));
    http_reply_json(req, 200, me);
}

static const struct admin_field me_update_fields[] = {
    {"first_name", AF_STRING, false, 0, 64, NULL},
    {"last_name", AF_STRING, false, 0, 64, NULL},
};

/* Set first_name/last_name of admin `id` from `body` when present. */
static int update_names(struct store_conn *c, int64_t id, const json_t *body)
{
    static const char *const cols[] = {"first_name", "last_name"};
    int rc = 0;

    for (size_t i = 0; i < ARRAY_SIZE(cols) && rc == 0; i++) {
        const char *v = admin_json_str(body, cols[i], NULL);
        char sql[128];
        struct store_val p[] = {STORE_TEXT(v), STORE_INT(id)};
        if (!v)
            continue;
        snprintf(sql, sizeof(sql), "UPDATE admins SET %s = $1 WHERE id = $2", cols[i]);
        rc = store_exec(c, sql, p, 2, NULL);
    }
    return rc;
}

void api_admin_me_update(struct http_req *req, struct admin_ctx *ctx)
{
    json_t *body = api_admin_body(req, me_update_fields, ARRAY_SIZE(me_update_fields));
    int rc;

    if (!body)
        return;
    rc = update_names(ctx->c, ctx->who.id, body);
    if (rc == 0)
        api_admin_audit(ctx, "admin.update_self", ctx->who.name, json_incref(body));
    json_decref(body);
    if (rc < 0)
        api_admin_store_error(req, ctx, rc);
    else
        api_admin_me(req, ctx);
}

static bool admin_password_ok(struct http_req *req, const char *field, const char *pw)
{
    char err[256];
    if (admin_password_check(pw, field, ADMIN_PW_MIN, true, true, true, true, err, sizeof(err)) ==
        0)
        return true;
    http_reply_error(req, 400, "bad_request", "%s", err);
    return false;
}

static void wipe_body(struct http_req *req, json_t *body)
{
    const char *key;
    json_t *v;
    json_object_foreach(body, key, v)
    {
        if (strstr(key, "password") && json_is_string(v))
            OPENSSL_cleanse((char *)json_string_value(v), json_string_length(v));
    }
    json_decref(body);
    OPENSSL_cleanse(req->body.data, req->body.len);
}

/* An administrator's password to hash, and maybe one to check first, on a
 * worker; then `then` continues the request on the loop thread. */
struct pw_job {
    struct admin_job job;
    void (*then)(struct http_req *req, struct admin_ctx *ctx, struct pw_job *pj);
    json_t *body; /* the request, its passwords wiped; loop thread only */
    int64_t id, role, *nets;
    size_t nn;
    char name[128];
    bool check, check_ok;
    int hash_rc;
    char check_hash[PASSWORD_ENCODED_MAX];
    char check_pw[1025];
    char new_pw[1025];
    char new_hash[PASSWORD_ENCODED_MAX];
};

static void pw_work(struct admin_job *job)
{
    struct pw_job *pj = (struct pw_job *)job;

    if (pj->check)
        pj->check_ok = password_verify(pj->check_hash, pj->check_pw) == 0;
    if (!pj->check || pj->check_ok)
        pj->hash_rc = password_hash(pj->new_pw, pj->new_hash);
    OPENSSL_cleanse(pj->check_pw, sizeof(pj->check_pw));
    OPENSSL_cleanse(pj->new_pw, sizeof(pj->new_pw));
}

static void pw_done(struct http_req *req, struct admin_ctx *ctx, struct admin_job *job)
{
    struct pw_job *pj = (struct pw_job *)job;

    if (pj->hash_rc < 0 && (!pj->check || pj->check_ok)) {
        log_error("cannot hash a password: %s", parley_strerror(pj->hash_rc));
        http_reply_error(req, 500, "internal", "the password could not be hashed");
        return;
    }
    pj->then(req, ctx, pj);
}

static void pw_release(struct admin_job *job)
{
    struct pw_job *pj = (struct pw_job *)job;

    json_decref(pj->body);
    free(pj->nets);
    OPENSSL_cleanse(pj, sizeof(*pj));
    free(pj);
}

/* Copy password `field` of `body` into the job, then wipe every password
 * member of the body and the raw request; the job keeps `body` (a new
 * reference). Copy any other password out before calling. */
static struct pw_job *pw_job_new(struct http_req *req, json_t *body, const char *field,
                                 void (*then)(struct http_req *, struct admin_ctx *,
                                              struct pw_job *))
{
    struct pw_job *pj = xcalloc(1, sizeof(*pj));
    json_t *v = json_object_get(body, field);
    const char *key;

    strlcpy_p(pj->new_pw, json_is_string(v) ? json_string_value(v) : "", sizeof(pj->new_pw));
    pj->body = json_incref(body);
    pj->then = then;
    pj->job.work = pw_work;
    pj->job.done = pw_done;
    pj->job.release = pw_release;
    json_object_foreach(body, key, v)
    {
        if (strstr(key, "password") && json_is_string(v))
            OPENSSL_cleanse((char *)json_string_value(v), json_string_length(v));
    }
    OPENSSL_cleanse(req->body.data, req->body.len);
    return pj;
}

static const struct admin_field password_fields[] = {
    {"current_password", AF_STRING, true, 1, 1024, NULL},
    {"new_password", AF_STRING, true, 1, 1024, NULL},
};

static void me_password_then(struct http_req *req, struct admin_ctx *ctx, struct pw_job *pj)
{
    /* Only if the hash checked is still the stored one: two changes side by
     * side must not both succeed from the same current password. */
    struct store_val u[] = {STORE_TEXT(pj->new_hash), STORE_INT((int64_t)time(NULL)),
                            STORE_INT(ctx->who.id), STORE_TEXT(pj->check_hash)};
    int64_t changed = 0;
    int rc;

    if (!pj->check_ok) {
        http_reply_error(req, 400, "bad_request",
                         "field 'current_password' is wrong: send your present password");
        return;
    }
    rc = store_exec(ctx->c,
                    "UPDATE admins SET password_hash = $1, must_change_password = 0, "
                    "password_changed_at = $2 WHERE id = $3 AND password_hash = $4",
                    u, 4, &changed);
    if (rc == 0 && changed == 0) {
        http_reply_error(req, 409, "conflict",
                         "the password was changed meanwhile; sign in again with the new one");
        return;
    }
    if (rc < 0) {
        api_admin_store_error(req, ctx, rc);
        return;
    }
    api_admin_audit(ctx, "admin.password_change", ctx->who.name, NULL);
    http_reply_json(req, 200, json_pack("{s:b}", "must_change_password", 0));
}

void api_admin_me_password(struct http_req *req, struct admin_ctx *ctx)
{
    json_t *body = api_admin_body(req, password_fields, ARRAY_SIZE(password_fields));
    struct store_val p[] = {STORE_INT(ctx->who.id)};
    char stored[PASSWORD_ENCODED_MAX] = "", check_pw[1025];
    struct store_rows *r = NULL;
    struct pw_job *pj;
    const char *cur, *pw;
    int rc;

    if (!body)
        return;
    cur = admin_json_str(body, "current_password", "");
    pw = admin_json_str(body, "new_password", "");
    rc = store_query(ctx->c, "SELECT password_hash FROM admins WHERE id = $1", p, 1, &r);
    if (rc == 0 && store_rows_next(r) == 1)
        strlcpy_p(stored, store_rows_text(r, 0), sizeof(stored));
    store_rows_free(r);
    if (rc < 0) {
        api_admin_store_error(req, ctx, rc);
        goto out;
    }
    if (!admin_password_ok(req, "new_password", pw))
        goto out;
    if (strcmp(cur, pw) == 0) {
        http_reply_error(req, 400, "bad_request",
                         "field 'new_password' must differ from the current password");
        goto out;
    }
    strlcpy_p(check_pw, cur, sizeof(check_pw));
    pj = pw_job_new(req, body, "new_password", me_password_then);
    pj->check = true;
    memcpy(pj->check_pw, check_pw, sizeof(check_pw));
    strlcpy_p(pj->check_hash, stored, sizeof(pj->check_hash));
    api_admin_defer(req, ctx, &pj->job);
out:
    OPENSSL_cleanse(stored, sizeof(stored));
    OPENSSL_cleanse(check_pw, sizeof(check_pw));
    wipe_body(req, body);
}

void api_admin_me_totp_begin(struct http_req *req, struct admin_ctx *ctx)
{
    struct store_val p[] = {STORE_INT(ctx->who.id)};
    char *secret = NULL, *uri = NULL, *svg = NULL, sealed[ADMIN_SEALED_MAX] = "";
    int64_t enabled = 0;
    int rc =
        store_query_int(ctx->c, "SELECT totp_enabled FROM admins WHERE id = $1", p, 1, &enabled);

    if (rc == 0 && enabled) {
        http_reply_error(
            req, 409, "conflict",
            "two-factor authentication is already on; turn it off first (POST " ADMIN_PATH
            "/me/totp/disable)");
        return;
    }
    if (rc == 0)
        rc = admin_totp_secret_new(&secret);
    if (rc == 0)
        rc = admin_secret_seal(req->srv->cfg, ctx->who.id, secret, sealed, sizeof(sealed));
    if (rc == 0) {
        struct store_val u[] = {STORE_TEXT(sealed), STORE_INT(ctx->who.id)};
        rc = store_exec(ctx->c, "UPDATE admins SET totp_pending = $1 WHERE id = $2", u, 2, NULL);
    }
    if (rc < 0) {
        api_admin_store_error(req, ctx, rc);
        goto out;
    }
    uri = admin_totp_uri(ctx->who.name, secret);
    svg = admin_qr_svg(uri);
    /* The secret is shown here once, for enrolment, and never again. */
    http_reply_json(req, 200,
                    json_pack("{s:s,s:s,s:s?,s:i,s:i}", "secret", secret, "otpauth_uri", uri,
                              "qr_svg", svg, "digits", ADMIN_TOTP_DIGITS, "period",
                              ADMIN_TOTP_STEP));
out:
    if (secret)
        OPENSSL_cleanse(secret, strlen(secret));
    if (uri)
        OPENSSL_cleanse(uri, strlen(uri));
    free(secret);
    free(uri);
    free(svg);
}

static const struct admin_field code_fields[] = {
    {"code", AF_STRING, true, 1, 16, NULL},
};

/* The stored TOTP secret (`col`) and last step of the caller. */
static int load_totp(struct http_req *req, struct admin_ctx *ctx, const char *col, char *secret,
                     size_t len, int64_t *last)
{
    char sql[128], stored[ADMIN_SEALED_MAX];
    struct store_val p[] = {STORE_INT(ctx->who.id)};
    struct store_rows *r = NULL;
    int rc;

    snprintf(sql, sizeof(sql), "SELECT %s, totp_last_step FROM admins WHERE id = $1", col);
    rc = store_query(ctx->c, sql, p, 1, &r);
    if (rc == 0 && (rc = store_rows_next(r)) == 1) {
        rc = store_rows_is_null(r, 0) ? PARLEY_ENOTFOUND : 0;
        if (rc == 0)
            strlcpy_p(stored, store_rows_text(r, 0), sizeof(stored));
        *last = store_rows_int(r, 1);
    } else if (rc == 0) {
        rc = PARLEY_ENOTFOUND;
    }
    store_rows_free(r);
    if (rc == 0)
        rc = admin_secret_open(req->srv->cfg, ctx->who.id, stored, secret, len);
    OPENSSL_cleanse(stored, sizeof(stored));
    return rc;
}

void api_admin_me_totp_confirm(struct http_req *req, struct admin_ctx *ctx)
{
    json_t *body = api_admin_body(req, code_fields, ARRAY_SIZE(code_fields));
    char secret[128];
    int64_t last = 0, step = 0;
    int rc;

    if (!body)
        return;
    rc = load_totp(req, ctx, "totp_pending", secret, sizeof(secret), &last);
    if (rc == PARLEY_ENOTFOUND) {
        http_reply_error(req, 409, "conflict",
                         "no enrolment in progress: POST " ADMIN_PATH "/me/totp/begin first");
        goto out;
    }
    if (rc == 0 &&
        admin_totp_check(secret, admin_json_str(body, "code", ""), last, time(NULL), &step) != 0) {
        http_reply_error(req, 400, "bad_request",
                         "field 'code' does not match: send the current 6-digit code of the "
                         "authenticator you enrolled");
        goto out;
    }
    if (rc == 0) {
        struct store_val u[] = {STORE_INT(step), STORE_INT(ctx->who.id)};
        rc = store_exec(ctx->c,
                        "UPDATE admins SET totp_secret = totp_pending, totp_pending = NULL, "
                        "totp_enabled = 1, totp_last_step = $1 WHERE id = $2",
                        u, 2, NULL);
    }
    if (rc < 0) {
        api_admin_store_error(req, ctx, rc);
        goto out;
    }
    api_admin_audit(ctx, "admin.totp_enable", ctx->who.name, NULL);
    http_reply_json(req, 200, json_pack("{s:b}", "totp_enabled", 1));
out:
    OPENSSL_cleanse(secret, sizeof(secret));
    json_decref(body);
}

void api_admin_me_totp_disable(struct http_req *req, struct admin_ctx *ctx)
{
    json_t *body = api_admin_body(req, code_fields, ARRAY_SIZE(code_fields));
    char secret[128];
    int64_t last = 0, step = 0;
    int rc;

    if (!body)
        return;
    rc = load_totp(req, ctx, "totp_secret", secret, sizeof(secret), &last);
    if (rc == PARLEY_ENOTFOUND) {
        http_reply_error(req, 409, "conflict", "two-factor authentication is not on");
        goto out;
    }
    if (rc == 0 &&
        admin_totp_check(secret, admin_json_str(body, "code", ""), last, time(NULL), &step) != 0) {
        http_reply_error(req, 400, "bad_request",
                         "field 'code' does not match: send the current 6-digit code");
        goto out;
    }
    if (rc == 0) {
        struct store_val u[] = {STORE_INT(ctx->who.id)};
        rc = store_exec(ctx->c,
                        "UPDATE admins SET totp_secret = NULL, totp_pending = NULL, "
                        "totp_enabled = 0 WHERE id = $1",
                        u, 1, NULL);
    }
    if (rc < 0) {
        api_admin_store_error(req, ctx, rc);
        goto out;
    }
    api_admin_audit(ctx, "admin.totp_disable", ctx->who.name, NULL);
    http_reply_json(req, 200, json_pack("{s:b}", "totp_enabled", 0));
out:
    OPENSSL_cleanse(secret, sizeof(secret));
    json_decref(body);
}

void api_admin_admins_list(struct http_req *req, struct admin_ctx *ctx)
{
    char sql[512];
    struct store_rows *r = NULL;
    json_t *arr = json_array();
    int64_t limit, offset;
    int rc;

    if (!api_admin_paging(req, &limit, &offset)) {
        json_decref(arr);
        return;
    }
    {
        struct store_val p[] = {STORE_INT(limit), STORE_INT(offset)};
        snprintf(sql, sizeof(sql), "%s ORDER BY a.id LIMIT $1 OFFSET $2", admin_select);
        rc = store_query(ctx->c, sql, p, 2, &r);
        while (rc == 0 && (rc = store_rows_next(r)) == 1) {
            json_array_append_new(arr, admin_row_json(r));
            rc = 0;
        }
        store_rows_free(r);
    }
    if (rc < 0) {
        json_decref(arr);
        api_admin_store_error(req, ctx, rc);
        return;
    }
    {
        size_t i;
        json_t *a;
        json_array_foreach(arr, i, a)
        {
            json_object_set_new(
                a, "networks",
                admin_networks(ctx->c, json_integer_value(json_object_get(a, "id"))));
        }
    }
    http_reply_json(req, 200, json_pack("{s:o}", "admins", arr));
}

/* The roles.id of role `name`; replies 400 naming `field` when none. */
static bool role_id(struct http_req *req, struct admin_ctx *ctx, const char *field,
                    const char *name, int64_t *id)
{
    struct store_val p[] = {STORE_TEXT(name)};
    int rc = store_query_int(ctx->c, "SELECT id FROM roles WHERE name = $1", p, 1, id);
    if (rc == 0)
        return true;
    if (rc == PARLEY_ENOTFOUND)
        http_reply_error(req, 400, "bad_request",
                         "field '%s' names no role ('%.64s'); GET " ADMIN_PATH "/roles lists them",
                         field, name);
    else
        api_admin_store_error(req, ctx, rc);
    return false;
}

static const struct admin_field admin_create_fields[] = {
    {"username", AF_NAME, true, 1, 64, NULL},
    {"password", AF_STRING, true, 1, 1024, NULL},
    {"first_name", AF_STRING, false, 0, 64, NULL},
    {"last_name", AF_STRING, false, 0, 64, NULL},
    {"is_super", AF_BOOL, false, 0, 0, NULL},
    {"role", AF_STRING, false, 1, 64, NULL},
    {"networks", AF_ARRAY, false, 0, 1000, NULL},
    {"must_change_password", AF_BOOL, false, 0, 0, NULL},
};

/* The networks.id of every public id in `arr`; replies 400 on a bad one. */
static bool network_ids(struct http_req *req, struct admin_ctx *ctx, const json_t *arr,
                        int64_t **out, size_t *n)
{
    size_t i;
    json_t *v;

    *n = json_array_size(arr);
    *out = xcalloc(*n + 1, sizeof(**out));
    json_array_foreach(arr, i, v)
    {
        struct store_val p[] = {STORE_TEXT(json_string_value(v))};
        int rc = json_is_string(v)
                     ? store_query_int(ctx->c, "SELECT id FROM networks WHERE network_id = $1", p,
                                       1, &(*out)[i])
                     : PARLEY_ENOTFOUND;
        if (rc == PARLEY_ENOTFOUND) {
            http_reply_error(req, 400, "bad_request",
                             "field 'networks' element %zu is not the network_id of a network", i);
            goto fail;
        }
        if (rc < 0) {
            api_admin_store_error(req, ctx, rc);
            goto fail;
        }
    }
    return true;
fail:
    free(*out);
    *out = NULL;
    return false;
}

static int insert_admin(struct store_conn *c, const json_t *body, const char *hash, int64_t role,
                        const int64_t *nets, size_t nn, int64_t *id)
{
    int64_t now = (int64_t)time(NULL);
    json_t *mc = json_object_get(body, "must_change_password");
    struct store_val p[] = {
        STORE_TEXT(admin_json_str(body, "username", "")),
        STORE_TEXT(hash),
        STORE_INT(mc && !json_is_true(mc) ? 0 : 1),
        STORE_INT(json_is_true(json_object_get(body, "is_super"))),
        STORE_INT(now),
        STORE_TEXT(admin_json_str(body, "first_name", "")),
        STORE_TEXT(admin_json_str(body, "last_name", "")),
        role ? STORE_INT(role) : STORE_NULLV,
    };
    struct store_val q[] = {STORE_TEXT(admin_json_str(body, "username", ""))};
    int rc = store_begin(c);

    if (rc < 0)
        return rc;
    rc = store_exec(c,
                    "INSERT INTO admins (username, password_hash, must_change_password, is_super, "
                    "created_at, first_name, last_name, role_id, password_changed_at) VALUES ($1, "
                    "$2, $3, $4, $5, $6, $7, $8, $5)",
                    p, ARRAY_SIZE(p), NULL);
    if (rc == 0)
        rc = store_query_int(c, "SELECT id FROM admins WHERE username = $1", q, 1, id);
    for (size_t i = 0; i < nn && rc == 0; i++) {
        struct store_val m[] = {STORE_INT(nets[i]), STORE_INT(*id), STORE_INT(now)};
        rc = store_exec(c,
                        "INSERT INTO network_admins (network_id, admin_id, status, created_at) "
                        "VALUES ($1, $2, 'accepted', $3)",
                        m, 3, NULL);
    }
    if (rc == 0)
        return store_commit(c);
    store_rollback(c);
    return rc;
}

static void admins_create_then(struct http_req *req, struct admin_ctx *ctx, struct pw_job *pj)
{
    json_t *out = NULL, *body = pj->body;
    int64_t id = 0;
    int rc = insert_admin(ctx->c, body, pj->new_hash, pj->role, pj->nets, pj->nn, &id);

    if (rc == PARLEY_EEXIST) {
        http_reply_error(req, 409, "conflict", "field 'username': an administrator '%s' exists",
                         admin_json_str(body, "username", ""));
        return;
    }
    if (rc == 0)
        rc = admin_get_json(ctx->c, id, &out);
    if (rc < 0) {
        api_admin_store_error(req, ctx, rc);
        return;
    }
    api_admin_audit(ctx, "admin.create", admin_json_str(body, "username", ""),
                    json_pack("{s:b,s:O}", "is_super",
                              json_is_true(json_object_get(body, "is_super")), "networks",
                              json_object_get(out, "networks")));
    http_reply_json(req, 201, out);
}

void api_admin_admins_create(struct http_req *req, struct admin_ctx *ctx)
{
    json_t *body = api_admin_body(req, admin_create_fields, ARRAY_SIZE(admin_create_fields));
    int64_t role = 0, *nets = NULL;
    struct pw_job *pj;
    size_t nn = 0;

    if (!body)
        return;
    if (!admin_password_ok(req, "password", admin_json_str(body, "password", "")))
        goto out;
    if (json_object_get(body, "role") &&
        !role_id(req, ctx, "role", admin_json_str(body, "role", ""), &role))
        goto out;
    if (!network_ids(req, ctx, json_object_get(body, "networks"), &nets, &nn))
        goto out;
    pj = pw_job_new(req, body, "password", admins_create_then);
    pj->role = role;
    pj->nets = nets;
    pj->nn = nn;
    nets = NULL;
    api_admin_defer(req, ctx, &pj->job);
out:
    free(nets);
    wipe_body(req, body);
}

void api_admin_admins_get(struct http_req *req, struct admin_ctx *ctx)
{
    int64_t id;
    json_t *out = NULL;
    int rc;

    if (!api_admin_param_id(req, 0, &id))
        return;
    rc = admin_get_json(ctx->c, id, &out);
    if (rc < 0)
        api_admin_store_error(req, ctx, rc);
    else
        http_reply_json(req, 200, out);
}

static const struct admin_field admin_update_fields[] = {
    {"first_name", AF_STRING, false, 0, 64, NULL},
    {"last_name", AF_STRING, false, 0, 64, NULL},
    {"password", AF_STRING, false, 1, 1024, NULL},
    {"role", AF_STRING, false, 0, 64, NULL},
};

/* Does admin `id` exist? Replies 404 if not. */
static bool admin_exists(struct http_req *req, struct admin_ctx *ctx, int64_t id, char *name,
                         size_t len)
{
    struct store_val p[] = {STORE_INT(id)};
    struct store_rows *r = NULL;
    int rc = store_query(ctx->c, "SELECT username FROM admins WHERE id = $1", p, 1, &r);

    if (rc == 0 && (rc = store_rows_next(r)) == 1) {
        strlcpy_p(name, store_rows_text(r, 0), len);
        rc = 0;
    } else if (rc == 0) {
        rc = PARLEY_ENOTFOUND;
    }
    store_rows_free(r);
    if (rc < 0)
        api_admin_store_error(req, ctx, rc);
    return rc == 0;
}

static void admins_update_apply(struct http_req *req, struct admin_ctx *ctx, int64_t id,
                                const char *name, json_t *body, int64_t role, const char *hash)
{
    const char *role_name = admin_json_str(body, "role", NULL);
    json_t *out = NULL;
    int rc = store_begin(ctx->c);

    if (rc == 0)
        rc = update_names(ctx->c, id, body);
    if (rc == 0 && hash) {
        /* A password set by someone else is changed at the next sign-in, and
         * ends the sessions opened with the old one. */
        struct store_val p[] = {STORE_TEXT(hash), STORE_INT((int64_t)time(NULL)), STORE_INT(id)};
        rc = store_exec(ctx->c,
                        "UPDATE admins SET password_hash = $1, must_change_password = 1, "
                        "password_changed_at = $2 WHERE id = $3",
                        p, 3, NULL);
        if (rc == 0)
            rc = store_exec(ctx->c, "DELETE FROM admin_sessions WHERE admin_id = $1", p + 2, 1,
                            NULL);
    }
    if (rc == 0 && role_name) {
        struct store_val p[] = {role ? STORE_INT(role) : STORE_NULLV, STORE_INT(id)};
        rc = store_exec(ctx->c, "UPDATE admins SET role_id = $1 WHERE id = $2", p, 2, NULL);
    }
    if (rc == 0)
        rc = store_commit(ctx->c);
    else
        store_rollback(ctx->c);
    if (rc == 0)
        rc = admin_get_json(ctx->c, id, &out);
    if (rc < 0) {
        api_admin_store_error(req, ctx, rc);
        return;
    }
    api_admin_audit(ctx, "admin.update", name,
                    json_pack("{s:b,s:s?,s:s?,s:s?}", "password_reset", hash != NULL, "role",
                              role_name, "first_name", admin_json_str(body, "first_name", NULL),
                              "last_name", admin_json_str(body, "last_name", NULL)));
    http_reply_json(req, 200, out);
}

static void admins_update_then(struct http_req *req, struct admin_ctx *ctx, struct pw_job *pj)
{
    admins_update_apply(req, ctx, pj->id, pj->name, pj->body, pj->role, pj->new_hash);
}

void api_admin_admins_update(struct http_req *req, struct admin_ctx *ctx)
{
    json_t *body = NULL;
    char name[128];
    const char *pw, *role_name;
    struct pw_job *pj;
    int64_t id, role = 0;

    if (!api_admin_param_id(req, 0, &id) || !admin_exists(req, ctx, id, name, sizeof(name)))
        return;
    if (!(body = api_admin_body(req, admin_update_fields, ARRAY_SIZE(admin_update_fields))))
        return;
    pw = admin_json_str(body, "password", NULL);
    role_name = admin_json_str(body, "role", NULL);
    if (pw && !admin_password_ok(req, "password", pw))
        goto out;
    if (role_name && *role_name && !role_id(req, ctx, "role", role_name, &role))
        goto out;
    if (!pw) {
        admins_update_apply(req, ctx, id, name, body, role, NULL);
        goto out;
    }
    pj = pw_job_new(req, body, "password", admins_update_then);
    pj->id = id;
    pj->role = role;
    strlcpy_p(pj->name, name, sizeof(pj->name));
    api_admin_defer(req, ctx, &pj->job);
out:
    wipe_body(req, body);
}

void api_admin_admins_delete(struct http_req *req, struct admin_ctx *ctx)
{
    char name[128];
    int64_t id, supers = 0, is_super = 0;
    struct store_val p[1];
    int rc;

    if (!api_admin_param_id(req, 0, &id) || !admin_exists(req, ctx, id, name, sizeof(name)))
        return;
    if (ctx->who.kind == ADMIN_ACTOR_ADMIN && id == ctx->who.id) {
        http_reply_error(req, 409, "conflict", "administrators cannot delete themselves");
        return;
    }
    p[0] = STORE_INT(id);
    rc = store_query_int(ctx->c, "SELECT is_super FROM admins WHERE id = $1", p, 1, &is_super);
    if (rc == 0)
        rc = store_query_int(ctx->c, "SELECT COUNT(*) FROM admins WHERE is_super = 1", NULL, 0,
                             &supers);
    if (rc == 0 && is_super && supers <= 1) {
        http_reply_error(req, 409, "conflict", "the last super administrator cannot be deleted");
        return;
    }
    if (rc == 0)
        rc = store_exec(ctx->c, "DELETE FROM admins WHERE id = $1", p, 1, NULL);
    if (rc < 0) {
        api_admin_store_error(req, ctx, rc);
        return;
    }
    api_admin_audit(ctx, "admin.delete", name, NULL);
    http_reply(req, 204, "application/json", NULL, 0);
}

void api_admin_admins_unlock(struct http_req *req, struct admin_ctx *ctx)
{
    char name[128];
    int64_t id;
    int rc;

    if (!api_admin_param_id(req, 0, &id) || !admin_exists(req, ctx, id, name, sizeof(name)))
        return;
    {
        struct store_val p[] = {STORE_INT(id)};
        rc = store_exec(ctx->c,
                        "UPDATE admins SET failed_logins = 0, locked_until = 0 WHERE id = $1", p, 1,
                        NULL);
    }
    if (rc < 0) {
        api_admin_store_error(req, ctx, rc);
        return;
    }
    api_admin_audit(ctx, "admin.unlock", name, NULL);
    http_reply_json(req, 200, json_pack("{s:s,s:b}", "username", name, "locked", 0));
}

/* PUT/DELETE /admins/:id/networks/:network_id */
static void membership(struct http_req *req, struct admin_ctx *ctx, bool add)
{
    char name[128];
    int64_t id, net = 0;
    int rc;

    if (!api_admin_param_id(req, 0, &id) || !admin_exists(req, ctx, id, name, sizeof(name)))
        return;
    {
        struct store_val p[] = {STORE_TEXT(req->params[1])};
        rc = store_query_int(ctx->c, "SELECT id FROM networks WHERE network_id = $1", p, 1, &net);
    }
    if (rc == 0) {
        struct store_val p[] = {STORE_INT(net), STORE_INT(id), STORE_INT((int64_t)time(NULL))};
        if (add)
            rc = store_exec(ctx->c,
                            "INSERT INTO network_admins (network_id, admin_id, status, "
                            "created_at) VALUES ($1, $2, 'accepted', $3)",
                            p, 3, NULL);
        else {
            int64_t changes = 0;
            rc = store_exec(ctx->c,
                            "DELETE FROM network_admins WHERE network_id = $1 AND admin_id = $2", p,
                            2, &changes);
            if (rc == 0 && changes == 0)
                rc = PARLEY_ENOTFOUND;
        }
    }
    if (rc == PARLEY_EEXIST) {
        http_reply_error(req, 409, "conflict", "'%s' already administers network '%s'", name,
                         req->params[1]);
        return;
    }
    if (rc < 0) {
        api_admin_store_error(req, ctx, rc);
        return;
    }
    ctx->network_id = req->params[1];
    api_admin_audit(ctx, add ? "admin.network_add" : "admin.network_remove", name, NULL);
    {
        json_t *out = NULL;
        if (admin_get_json(ctx->c, id, &out) == 0)
            http_reply_json(req, 200, out);
        else
            http_reply_json(req, 200, json_object());
    }
}

void api_admin_admins_network_add(struct http_req *req, struct admin_ctx *ctx)
{
    membership(req, ctx, true);
}

void api_admin_admins_network_remove(struct http_req *req, struct admin_ctx *ctx)
{
    membership(req, ctx, false);
}

void api_admin_lockout(struct http_req *req, struct admin_ctx *ctx)
{
    int64_t now = (int64_t)time(NULL), failed_total = 0, recent = 0, users_suspended = 0,
            users_failed = 0;
    struct store_val p[] = {STORE_INT(now)};
    struct store_val q[] = {STORE_INT(now - 24 * 3600)};
    struct store_rows *r = NULL;
    json_t *locked = json_array();
    int rc;

    rc = store_query(ctx->c,
                     "SELECT id, username, failed_logins, locked_until FROM admins WHERE "
                     "locked_until > $1 ORDER BY username",
                     p, 1, &r);
    while (rc == 0 && (rc = store_rows_next(r)) == 1) {
        json_array_append_new(locked,
                              json_pack("{s:I,s:s,s:I,s:I}", "id", (json_int_t)store_rows_int(r, 0),
                                        "username", store_rows_text(r, 1), "failed_logins",
                                        (json_int_t)store_rows_int(r, 2), "locked_until",
                                        (json_int_t)store_rows_int(r, 3)));
        rc = 0;
    }
    store_rows_free(r);
    if (rc == 0)
        rc = store_query_int(ctx->c, "SELECT COALESCE(SUM(failed_logins), 0) FROM admins", NULL, 0,
                             &failed_total);
    if (rc == 0)
        rc = store_query_int(ctx->c,
                             "SELECT COUNT(*) FROM audit_log WHERE action = 'admin.login_failed' "
                             "AND ts >= $1",
                             q, 1, &recent);
    /* The users' side: accounts suspended (by an administrator or after
     * too many wrong passwords) and wrong passwords not yet cleared. */
    if (rc == 0)
        rc = store_query_int(ctx->c, "SELECT COUNT(*) FROM users WHERE status = 'suspended'", NULL,
                             0, &users_suspended);
    if (rc == 0)
        rc = store_query_int(ctx->c, "SELECT COALESCE(SUM(failed_logins), 0) FROM users", NULL, 0,
                             &users_failed);
    if (rc < 0) {
        json_decref(locked);
        api_admin_store_error(req, ctx, rc);
        return;
    }
    http_reply_json(req, 200,
                    json_pack("{s:I,s:o,s:I,s:I,s:i,s:i,s:{s:I,s:I}}", "locked_count",
                              (json_int_t)json_array_size(locked), "locked", locked,
                              "failed_attempts_pending", (json_int_t)failed_total,
                              "failed_attempts_24h", (json_int_t)recent, "lockout_attempts",
                              req->srv->cfg->admin_lockout_attempts, "lockout_minutes",
                              req->srv->cfg->admin_lockout_minutes, "users", "suspended",
                              (json_int_t)users_suspended, "failed_attempts_pending",
                              (json_int_t)users_failed));
}
