/* api_admin_sso.c - SSO (OpenID Connect) configuration: one for the
 * administrators' sign-in (GET/PUT /sso, deployment scope) and one per
 * network for its users (GET/PUT /networks/:network_id/sso).
 *
 * The configuration is stored and validated here; users sign in through
 * the identity provider in api_sso.c. The client secret is write-only: it is
 * sealed under admin.key at once (admin_seal, with the scope as associated
 * data), never returned, never logged or audited; replies say only
 * client_secret_set. The issuer URL is checked by urlcheck.c on a worker
 * (resolving a name may block), against the deployment setting
 * allow_private_ips. While a network's SSO is enabled, its users come from
 * the identity provider: individual creation and bulk suspend/delete are
 * refused (api_admin_sso_blocks). See docs/internals/admin.md. */
#include "admin_json.h"
#include "api_admin.h"
#include "api_admin_tools.h"
#include "api_sso.h"
#include "common/log.h"
#include "common/str.h"
#include "common/xmalloc.h"
#include "store.h"
#include "urlcheck.h"

#include <openssl/crypto.h>

#define SSO_DEFAULT_SCOPES "openid email profile"
#define SSO_SCOPE_MAX      64 /* "deployment" or a network's public id */

struct sso_conf {
    bool enabled, group_sync, secret_set, auto_provision;
    int grace;
    char company_id[65];
    char issuer_url[URLCHECK_MAX + 1];
    char client_id[257];
    char scopes[257];
    char username_claim[32];
    char group_sync_ou[513];
    char sealed[ADMIN_SEAL_OUT_MAX]; /* the stored client secret, sealed */
};

static void conf_defaults(struct sso_conf *sc)
{
    memset(sc, 0, sizeof(*sc));
    strlcpy_p(sc->scopes, SSO_DEFAULT_SCOPES, sizeof(sc->scopes));
    strlcpy_p(sc->username_claim, "email", sizeof(sc->username_claim));
    sc->auto_provision = true;
}

/* "deployment" or the network's public id. */
static const char *scope_of(const struct admin_ctx *ctx)
{
    return ctx->net ? ctx->network_id : "deployment";
}

static const char *text(struct store_rows *r, int col)
{
    const char *s = store_rows_text(r, col);
    return s ? s : "";
}

static int conf_load(struct store_conn *c, const char *scope, struct sso_conf *sc)
{
    struct store_val p[] = {STORE_TEXT(scope)};
    struct store_rows *r = NULL;
    int rc = store_query(c,
                         "SELECT enabled, company_id, issuer_url, client_id, client_secret, "
                         "scopes, token_grace_minutes, group_sync, group_sync_ou, username_claim, "
                         "auto_provision FROM sso_configs "
                         "WHERE scope = $1",
                         p, 1, &r);

    conf_defaults(sc);
    if (rc == 0 && (rc = store_rows_next(r)) == 1) {
        sc->enabled = store_rows_int(r, 0) != 0;
        strlcpy_p(sc->company_id, text(r, 1), sizeof(sc->company_id));
        strlcpy_p(sc->issuer_url, text(r, 2), sizeof(sc->issuer_url));
        strlcpy_p(sc->client_id, text(r, 3), sizeof(sc->client_id));
        strlcpy_p(sc->sealed, text(r, 4), sizeof(sc->sealed));
        sc->secret_set = sc->sealed[0] != 0;
        strlcpy_p(sc->scopes, text(r, 5), sizeof(sc->scopes));
        sc->grace = (int)store_rows_int(r, 6);
        sc->group_sync = store_rows_int(r, 7) != 0;
        strlcpy_p(sc->group_sync_ou, text(r, 8), sizeof(sc->group_sync_ou));
        strlcpy_p(sc->username_claim, text(r, 9), sizeof(sc->username_claim));
        sc->auto_provision = store_rows_int(r, 10) != 0;
    }
    store_rows_free(r);
    return rc < 0 ? rc : 0;
}

/* The address to register with the identity provider as the redirect URI:
 * this server's public host name and port. */
static json_t *network_endpoint(const struct http_req *req, const struct admin_ctx *ctx)
{
    const char *host = req->srv->cfg->hostname;
    char port[16] = "", url[600];

    if (req->srv->port != 443)
        snprintf(port, sizeof(port), ":%d", req->srv->port);
    if (ctx->net)
        api_sso_redirect_uri(req->srv, ctx->network_id, url, sizeof(url));
    else
        snprintf(url, sizeof(url), "https://%s%s/sso/admin/callback", host, port);
    return json_string(url);
}

static json_t *conf_json(const struct http_req *req, const struct admin_ctx *ctx,
                         const struct sso_conf *sc)
{
    return json_pack("{s:b,s:s,s:s,s:s,s:b,s:s,s:s,s:b,s:i,s:{s:b,s:s},s:o}", "enabled",
                     sc->enabled, "company_id", sc->company_id, "issuer_url", sc->issuer_url,
                     "client_id", sc->client_id, "client_secret_set", sc->secret_set, "scopes",
                     sc->scopes, "username_claim", sc->username_claim, "auto_provision",
                     sc->auto_provision, "token_grace_period_minutes", sc->grace,
                     "security_group_sync", "enabled", sc->group_sync, "ou", sc->group_sync_ou,
                     "network_endpoint", network_endpoint(req, ctx));
}

static void sso_get(struct http_req *req, struct admin_ctx *ctx)
{
    struct sso_conf sc;
    int rc = conf_load(ctx->c, scope_of(ctx), &sc);

    if (rc < 0)
        api_admin_store_error(req, ctx, rc);
    else
        http_reply_json(req, 200, conf_json(req, ctx, &sc));
    OPENSSL_cleanse(&sc, sizeof(sc));
}

void api_admin_sso_get(struct http_req *req, struct admin_ctx *ctx)
{
    sso_get(req, ctx);
}

void api_admin_net_sso_get(struct http_req *req, struct admin_ctx *ctx)
{
    sso_get(req, ctx);
}

static const struct admin_field sso_fields[] = {
    {"enabled", AF_BOOL, false, 0, 0, NULL},
    {"company_id", AF_STRING, false, 0, 64, NULL},
    {"issuer_url", AF_STRING, false, 0, URLCHECK_MAX, NULL},
    {"client_id", AF_STRING, false, 0, 256, NULL},
    {"client_secret", AF_STRING, false, 0, ADMIN_SEAL_PLAIN_MAX, NULL},
    {"scopes", AF_STRING, false, 1, 256, NULL},
    {"token_grace_period_minutes", AF_INT, false, 0, 60, NULL},
    {"username_claim", AF_STRING, false, 1, 31, NULL},
    {"auto_provision", AF_BOOL, false, 0, 0, NULL},
    {"security_group_sync", AF_OBJECT, false, 0, 0, NULL},
    /* Read-only members of the reply, refused with a message that says so. */
    {"client_secret_set", AF_BOOL, false, 0, 0, NULL},
    {"network_endpoint", AF_STRING, false, 0, 4096, NULL},
};

/* Letters, digits and . _ -: the company ID is typed by users. */
static bool company_id_ok(const char *s)
{
    for (; *s; s++)
        if (!((*s >= 'a' && *s <= 'z') || (*s >= 'A' && *s <= 'Z') || (*s >= '0' && *s <= '9') ||
              *s == '.' || *s == '_' || *s == '-'))
            return false;
    return true;
}

/* Space-separated OAuth scope tokens (RFC 6749 §3.3), "openid" among them
 * (OpenID Connect Core §3.1.2.1). */
static bool scopes_ok(const char *s)
{
    bool openid = false;
    const char *t = s;

    while (*t) {
        size_t n = strcspn(t, " ");
        if (n == 0)
            return false;
        for (size_t i = 0; i < n; i++)
            if (t[i] == '"' || t[i] == '\\' || (unsigned char)t[i] < 0x21 ||
                (unsigned char)t[i] > 0x7e)
                return false;
        if (n == 6 && memcmp(t, "openid", 6) == 0)
            openid = true;
        t += n;
        if (*t == ' ' && *++t == 0)
            return false;
    }
    return openid;
}

/* Apply the members of `body` to *sc, checking each. Replies 400 and
 * returns false on the first bad one. *secret gets a new client secret
 * (NULL: unchanged; "" clears it). */
static bool merge(struct http_req *req, const json_t *body, struct sso_conf *sc,
                  const char **secret)
{
    const json_t *v, *sync;
    const char *key;
    int64_t g;

    for (size_t i = 0; i < 2; i++) {
        const char *ro = i ? "network_endpoint" : "client_secret_set";
        if (json_object_get(body, ro)) {
            http_reply_error(req, 400, "bad_request",
                             "field '%s' is read-only: leave it out (it is computed by the "
                             "server)",
                             ro);
            return false;
        }
    }
    if ((v = json_object_get(body, "enabled")))
        sc->enabled = json_is_true(v);
    if ((v = json_object_get(body, "company_id"))) {
        if (!company_id_ok(json_string_value(v))) {
            http_reply_error(req, 400, "bad_request",
                             "field 'company_id' may hold letters, digits, '.', '_' and '-' only");
            return false;
        }
        strlcpy_p(sc->company_id, json_string_value(v), sizeof(sc->company_id));
    }
    if ((v = json_object_get(body, "issuer_url")))
        strlcpy_p(sc->issuer_url, json_string_value(v), sizeof(sc->issuer_url));
    if ((v = json_object_get(body, "client_id")))
        strlcpy_p(sc->client_id, json_string_value(v), sizeof(sc->client_id));
    if ((v = json_object_get(body, "client_secret")))
        *secret = json_string_value(v);
    if ((v = json_object_get(body, "scopes"))) {
        if (!scopes_ok(json_string_value(v))) {
            http_reply_error(req, 400, "bad_request",
                             "field 'scopes' must be scope names separated by single spaces, "
                             "including \"openid\" (default \"" SSO_DEFAULT_SCOPES "\")");
            return false;
        }
        strlcpy_p(sc->scopes, json_string_value(v), sizeof(sc->scopes));
    }
    if ((v = json_object_get(body, "username_claim"))) {
        if (strcmp(json_string_value(v), "email") != 0 &&
            strcmp(json_string_value(v), "preferred_username") != 0) {
            http_reply_error(req, 400, "bad_request",
                             "field 'username_claim' must be \"email\" or \"preferred_username\"");
            return false;
        }
        strlcpy_p(sc->username_claim, json_string_value(v), sizeof(sc->username_claim));
    }
    if ((v = json_object_get(body, "auto_provision")))
        sc->auto_provision = json_is_true(v);
    if ((v = json_object_get(body, "token_grace_period_minutes"))) {
        g = json_integer_value(v);
        if (g != 0 && g != 30 && g != 60) {
            http_reply_error(req, 400, "bad_request",
                             "field 'token_grace_period_minutes' must be 0, 30 or 60, got %lld",
                             (long long)g);
            return false;
        }
        sc->grace = (int)g;
    }
    if ((sync = json_object_get(body, "security_group_sync"))) {
        json_object_foreach((json_t *)sync, key, v)
        {
            if (strcmp(key, "enabled") == 0 && json_is_boolean(v)) {
                sc->group_sync = json_is_true(v);
            } else if (strcmp(key, "ou") == 0 && json_is_string(v) &&
                       json_string_length(v) < sizeof(sc->group_sync_ou) &&
                       strcspn(json_string_value(v), "\r\n\t") == json_string_length(v)) {
                strlcpy_p(sc->group_sync_ou, json_string_value(v), sizeof(sc->group_sync_ou));
            } else {
                http_reply_error(req, 400, "bad_request",
                                 "field 'security_group_sync' takes {\"enabled\": true|false, "
                                 "\"ou\": \"...\" (at most 512 characters)}; '%s' is not that",
                                 key);
                return false;
            }
        }
        if (sc->group_sync && !sc->group_sync_ou[0]) {
            http_reply_error(req, 400, "bad_request",
                             "field 'security_group_sync': 'ou' is required when it is enabled");
            return false;
        }
    }
    return true;
}

/* Everything enabling needs. Replies 400 naming the first missing field. */
static bool complete(struct http_req *req, const struct sso_conf *sc, bool secret_set)
{
    const char *missing = !sc->company_id[0]   ? "company_id"
                          : !sc->issuer_url[0] ? "issuer_url"
                          : !sc->client_id[0]  ? "client_id"
                          : !secret_set        ? "client_secret"
                                               : NULL;
    if (!missing)
        return true;
    http_reply_error(req, 400, "bad_request", "field '%s' is required to enable SSO", missing);
    return false;
}

/* An update waiting for its issuer URL's host to be checked. */
struct sso_job {
    struct admin_job job;
    struct sso_conf sc;
    bool allow_private, new_secret;
    int check_rc;
    char host[URLCHECK_HOSTMAX + 1];
    char secret[ADMIN_SEAL_PLAIN_MAX + 1];
    char err[400];
    json_t *fields; /* names of the members sent, for the audit log */
};

static void sso_work(struct admin_job *job)
{
    struct sso_job *sj = (struct sso_job *)job;

    if (sj->host[0])
        sj->check_rc = urlcheck_host(sj->host, sj->allow_private, sj->err, sizeof(sj->err));
}

static void sso_release(struct admin_job *job)
{
    struct sso_job *sj = (struct sso_job *)job;

    json_decref(sj->fields);
    OPENSSL_cleanse(sj, sizeof(*sj));
    free(sj);
}

static void sso_done(struct http_req *req, struct admin_ctx *ctx, struct admin_job *job)
{
    struct sso_job *sj = (struct sso_job *)job;
    struct sso_conf *sc = &sj->sc;
    const char *scope = scope_of(ctx);
    char aad[16 + SSO_SCOPE_MAX];
    int64_t clash = 0;
    int rc;

    if (sj->check_rc < 0) {
        http_reply_error(req, 400, "bad_request", "field 'issuer_url' %s", sj->err);
        return;
    }
    if (sc->company_id[0]) {
        struct store_val p[] = {STORE_TEXT(sc->company_id), STORE_TEXT(scope)};
        rc = store_query_int(ctx->c,
                             "SELECT COUNT(*) FROM sso_configs WHERE LOWER(company_id) = "
                             "LOWER($1) AND scope <> $2",
                             p, 2, &clash);
        if (rc < 0) {
            api_admin_store_error(req, ctx, rc);
            return;
        }
    }
    if (clash) {
        http_reply_error(req, 400, "bad_request",
                         "field 'company_id': '%s' is already used by another network; each "
                         "network needs its own",
                         sc->company_id);
        return;
    }
    if (sj->new_secret) {
        sc->sealed[0] = 0;
        snprintf(aad, sizeof(aad), "parley-sso:%s", scope);
        if (sj->secret[0]) {
            rc = admin_seal(req->srv->cfg, aad, sj->secret, sc->sealed, sizeof(sc->sealed));
            OPENSSL_cleanse(sj->secret, sizeof(sj->secret));
            if (rc < 0) {
                log_error("sso %s: cannot seal the client secret: %s", scope, parley_strerror(rc));
                http_reply_error(req, 500, "internal", "the client secret could not be stored");
                return;
            }
        }
        sc->secret_set = sc->sealed[0] != 0;
    }
    {
        struct store_val p[] = {STORE_TEXT(scope),
                                ctx->net ? STORE_INT(ctx->net) : STORE_NULLV,
                                STORE_INT(sc->enabled),
                                sc->company_id[0] ? STORE_TEXT(sc->company_id) : STORE_NULLV,
                                STORE_TEXT(sc->issuer_url),
                                STORE_TEXT(sc->client_id),
                                STORE_TEXT(sc->sealed),
                                STORE_TEXT(sc->scopes),
                                STORE_INT(sc->grace),
                                STORE_INT(sc->group_sync),
                                STORE_TEXT(sc->group_sync_ou),
                                STORE_INT((int64_t)time(NULL)),
                                STORE_TEXT(sc->username_claim),
                                STORE_INT(sc->auto_provision)};
        rc = store_exec(ctx->c,
                        "INSERT INTO sso_configs (scope, network_id, enabled, company_id, "
                        "issuer_url, client_id, client_secret, scopes, token_grace_minutes, "
                        "group_sync, group_sync_ou, updated_at, username_claim, auto_provision) "
                        "VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14) "
                        "ON CONFLICT (scope) DO UPDATE SET enabled = $3, company_id = $4, "
                        "issuer_url = $5, client_id = $6, client_secret = $7, scopes = $8, "
                        "token_grace_minutes = $9, group_sync = $10, group_sync_ou = $11, "
                        "updated_at = $12, username_claim = $13, auto_provision = $14",
                        p, ARRAY_SIZE(p), NULL);
    }
    if (rc == PARLEY_EEXIST) {
        http_reply_error(req, 400, "bad_request",
                         "field 'company_id': '%s' is already used by another network; each "
                         "network needs its own",
                         sc->company_id);
        return;
    }
    if (rc < 0) {
        api_admin_store_error(req, ctx, rc);
        return;
    }
    /* Never the secret: only whether it changed. */
    api_admin_audit(ctx, "sso.update", scope,
                    json_pack("{s:b,s:s,s:s,s:b,s:O}", "enabled", sc->enabled, "company_id",
                              sc->company_id, "issuer_url", sc->issuer_url, "client_secret_changed",
                              sj->new_secret, "fields", sj->fields));
    http_reply_json(req, 200, conf_json(req, ctx, sc));
}

static void sso_put(struct http_req *req, struct admin_ctx *ctx)
{
    json_t *body = api_admin_body(req, sso_fields, ARRAY_SIZE(sso_fields)), *allow = NULL, *v;
    const char *secret = NULL, *key;
    struct sso_job *sj;
    int port, rc;

    if (!body)
        return;
    sj = xcalloc(1, sizeof(*sj));
    sj->job.work = sso_work;
    sj->job.done = sso_done;
    sj->job.release = sso_release;
    sj->fields = json_array();
    json_object_foreach(body, key, v)
    {
        json_array_append_new(sj->fields, json_string(key));
    }
    rc = conf_load(ctx->c, scope_of(ctx), &sj->sc);
    if (rc == 0)
        rc = api_admin_deploy_setting(ctx->c, "allow_private_ips", &allow);
    if (rc < 0) {
        api_admin_store_error(req, ctx, rc);
        goto fail;
    }
    sj->allow_private = json_is_true(allow);
    if (!merge(req, body, &sj->sc, &secret))
        goto fail;
    if (secret) {
        sj->new_secret = true;
        strlcpy_p(sj->secret, secret, sizeof(sj->secret));
    }
    if (sj->sc.enabled &&
        !complete(req, &sj->sc, sj->new_secret ? sj->secret[0] != 0 : sj->sc.secret_set))
        goto fail;
    if (sj->sc.issuer_url[0]) {
        char err[300];
        if (urlcheck_parse(sj->sc.issuer_url, sj->host, sizeof(sj->host), &port, err, sizeof(err)) <
            0) {
            http_reply_error(req, 400, "bad_request", "field 'issuer_url' %s", err);
            goto fail;
        }
    }
    api_admin_defer(req, ctx, &sj->job);
    goto out;
fail:
    sso_release(&sj->job);
out:
    json_decref(allow);
    api_admin_body_wipe(req, body, "client_secret");
}

void api_admin_sso_update(struct http_req *req, struct admin_ctx *ctx)
{
    sso_put(req, ctx);
}

void api_admin_net_sso_update(struct http_req *req, struct admin_ctx *ctx)
{
    sso_put(req, ctx);
}

bool api_admin_sso_blocks(struct http_req *req, struct admin_ctx *ctx, const char *what)
{
    struct store_val p[] = {STORE_TEXT(ctx->network_id)};
    int64_t on = 0;
    int rc = store_query_int(ctx->c, "SELECT enabled FROM sso_configs WHERE scope = $1", p, 1, &on);

    if (rc == PARLEY_ENOTFOUND)
        return false;
    if (rc < 0) {
        api_admin_store_error(req, ctx, rc);
        return true;
    }
    if (!on)
        return false;
    http_reply_error(req, 409, "sso_enabled",
                     "%s is not offered while SSO is enabled on this network: its users are "
                     "provisioned in the identity provider",
                     what);
    return true;
}
