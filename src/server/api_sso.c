/* api_sso.c - users of a network sign in through its OpenID Connect
 * identity provider (docs/protocol.md, "Single sign-on").
 *
 *   POST /api/v1/client/sso/start     company ID -> authorization URL
 *   GET  /sso/:network_id/callback    the browser returns from the provider
 *   POST /api/v1/client/sso/finish    one-time sign-in code -> login token
 *
 * parleyd is the relying party: authorization code flow with PKCE (S256),
 * state and nonce, each single-use and valid for SSO_AUTH_TTL seconds
 * (table sso_logins, keyed by the SHA-256 of the state or code, so every
 * node of a cluster can finish what another started). The callback
 * exchanges the code at the token endpoint (client secret by HTTP Basic),
 * verifies the ID token (oidc.c) against the provider's JWKS, maps the
 * identity to a user of the network (provisioning a new one when the
 * network allows it) and hands the browser a one-time sign-in code, bound
 * to the client's own PKCE challenge: the code alone, seen in a browser
 * history or a log, is useless. The client trades code and verifier for
 * the same login token the password sign-in gives.
 *
 * Network calls run on workers (workq.h); the loop thread does the store.
 * Nothing here logs a code, state, nonce, verifier, token or secret. */
#include "admin_auth.h"
#include "api_client.h"
#include "api_admin_tools.h"
#include "api_client_util.h"
#include "api_sso.h"
#include "audit.h"
#include "b64.h"
#include "common/log.h"
#include "common/str.h"
#include "common/xmalloc.h"
#include "oidc.h"
#include "server.h"
#include "store.h"
#include "workq.h"

#include <pthread.h>

#include <openssl/crypto.h>
#include <openssl/rand.h>
#include <openssl/sha.h>

#define SSO_AUTH_TTL      600 /* state/nonce: the user has 10 minutes at the provider */
#define SSO_CODE_TTL      120 /* the one-time sign-in code */
#define SSO_MAX_PENDING   10000
#define SSO_DISCOVERY_TTL 3600
#define SSO_JWKS_TTL      600
#define SSO_JWKS_REFETCH  10 /* at most one refetch per 10 s for an unknown kid */
#define SSO_RAND_B64      44 /* b64url of 32 bytes + NUL */
#define SSO_CACHE_SLOTS   16

/* ---- caches shared by the workers ---------------------------------------- */

/* Slots are keyed by URL and by allow_private_ips, so that turning the
 * setting off takes effect at once, whatever was cached. */
struct disc_slot {
    char issuer[URLCHECK_MAX + 1];
    bool allow_private;
    struct oidc_provider p;
    time_t at;
};

struct jwks_slot {
    char uri[URLCHECK_MAX + 1];
    bool allow_private;
    struct oidc_jwks *keys;
    time_t at;
};

static pthread_mutex_t cache_mu = PTHREAD_MUTEX_INITIALIZER;
static struct disc_slot disc_cache[SSO_CACHE_SLOTS];
static struct jwks_slot jwks_cache[SSO_CACHE_SLOTS];

/* What a worker needs to reach a provider. */
struct idp {
    char issuer[URLCHECK_MAX + 1];
    char callback[URLCHECK_MAX + 1]; /* our redirect URI at the provider */
    char client_id[257];
    bool allow_private;
    const char *ca_file; /* from the config: lives as long as the server */
};

/* Discovery, from the cache when fresh. Worker thread. */
static int provider_get(const struct idp *idp, struct oidc_provider *out, char *err, size_t errlen)
{
    char url[URLCHECK_MAX + 64], *body = NULL;
    size_t len, i, oldest = 0;
    time_t now = time(NULL);
    long status;
    int rc;

    pthread_mutex_lock(&cache_mu);
    for (i = 0; i < SSO_CACHE_SLOTS; i++) {
        if (strcmp(disc_cache[i].issuer, idp->issuer) == 0 &&
            disc_cache[i].allow_private == idp->allow_private &&
            now - disc_cache[i].at < SSO_DISCOVERY_TTL) {
            *out = disc_cache[i].p;
            pthread_mutex_unlock(&cache_mu);
            return 0;
        }
    }
    pthread_mutex_unlock(&cache_mu);
    /* OpenID Connect Discovery §4: issuer without a trailing slash. */
    snprintf(url, sizeof(url), "%.*s/.well-known/openid-configuration",
             (int)(strlen(idp->issuer) -
                   (idp->issuer[0] && idp->issuer[strlen(idp->issuer) - 1] == '/')),
             idp->issuer);
    rc = oidc_http(url, NULL, NULL, NULL, idp->ca_file, idp->allow_private, &status, &body, &len,
                   err, errlen);
    if (rc == 0 && status != 200) {
        snprintf(err, errlen, "discovery answered HTTP %ld", status);
        rc = PARLEY_EPROTO;
    }
    if (rc == 0)
        rc = oidc_discovery_parse(body, len, idp->issuer, out, err, errlen);
    free(body);
    if (rc < 0)
        return rc;
    pthread_mutex_lock(&cache_mu);
    for (i = 0; i < SSO_CACHE_SLOTS; i++) {
        if (strcmp(disc_cache[i].issuer, idp->issuer) == 0 &&
            disc_cache[i].allow_private == idp->allow_private) {
            oldest = i;
            break;
        }
        if (disc_cache[i].at < disc_cache[oldest].at)
            oldest = i;
    }
    strlcpy_p(disc_cache[oldest].issuer, idp->issuer, sizeof(disc_cache[oldest].issuer));
    disc_cache[oldest].allow_private = idp->allow_private;
    disc_cache[oldest].p = *out;
    disc_cache[oldest].at = now;
    pthread_mutex_unlock(&cache_mu);
    return 0;
}

static int jwks_fetch(const struct idp *idp, const char *uri, char *err, size_t errlen)
{
    struct oidc_jwks *keys = NULL;
    char *body = NULL;
    size_t len, i, slot = 0;
    long status;
    int rc = oidc_http(uri, NULL, NULL, NULL, idp->ca_file, idp->allow_private, &status, &body,
                       &len, err, errlen);

    if (rc == 0 && status != 200) {
        snprintf(err, errlen, "the JWKS URI answered HTTP %ld", status);
        rc = PARLEY_EPROTO;
    }
    if (rc == 0)
        rc = oidc_jwks_parse(body, len, &keys, err, errlen);
    free(body);
    if (rc < 0)
        return rc;
    pthread_mutex_lock(&cache_mu);
    for (i = 0; i < SSO_CACHE_SLOTS; i++) {
        if (strcmp(jwks_cache[i].uri, uri) == 0 &&
            jwks_cache[i].allow_private == idp->allow_private) {
            slot = i;
            break;
        }
        if (jwks_cache[i].at < jwks_cache[slot].at)
            slot = i;
    }
    oidc_jwks_free(jwks_cache[slot].keys);
    strlcpy_p(jwks_cache[slot].uri, uri, sizeof(jwks_cache[slot].uri));
    jwks_cache[slot].keys = keys;
    jwks_cache[slot].allow_private = idp->allow_private;
    jwks_cache[slot].at = time(NULL);
    pthread_mutex_unlock(&cache_mu);
    return 0;
}

/* Verify under the cache lock with the cached keys. PARLEY_EBUSY: no
 * fresh keys cached (fetch them); *age gets their age. */
static int verify_cached(const struct idp *idp, const char *uri, const char *jwt,
                         const struct oidc_expect *e, struct oidc_claims *cl, time_t *age,
                         char *err, size_t errlen)
{
    int rc = PARLEY_EBUSY;
    time_t now = time(NULL);

    pthread_mutex_lock(&cache_mu);
    for (size_t i = 0; i < SSO_CACHE_SLOTS; i++) {
        if (jwks_cache[i].keys && strcmp(jwks_cache[i].uri, uri) == 0 &&
            jwks_cache[i].allow_private == idp->allow_private &&
            now - jwks_cache[i].at < SSO_JWKS_TTL) {
            *age = now - jwks_cache[i].at;
            rc = oidc_id_token_verify(jwt, jwks_cache[i].keys, e, cl, err, errlen);
            break;
        }
    }
    pthread_mutex_unlock(&cache_mu);
    return rc;
}

static int verify_token(const struct idp *idp, const char *uri, const char *jwt,
                        const struct oidc_expect *e, struct oidc_claims *cl, char *err,
                        size_t errlen)
{
    time_t age = 0;
    int rc = verify_cached(idp, uri, jwt, e, cl, &age, err, errlen);

    /* Keys rotate: an unknown kid earns one refetch, not more often than
     * every SSO_JWKS_REFETCH seconds. */
    if (rc == PARLEY_EBUSY || (rc == PARLEY_ENOTFOUND && age >= SSO_JWKS_REFETCH)) {
        if ((rc = jwks_fetch(idp, uri, err, errlen)) < 0)
            return rc;
        rc = verify_cached(idp, uri, jwt, e, cl, &age, err, errlen);
    }
    if (rc == PARLEY_EBUSY) {
        snprintf(err, errlen, "the identity provider's keys could not be kept");
        rc = PARLEY_EIO;
    }
    return rc;
}

void api_sso_shutdown(void)
{
    pthread_mutex_lock(&cache_mu);
    for (size_t i = 0; i < SSO_CACHE_SLOTS; i++) {
        oidc_jwks_free(jwks_cache[i].keys);
        jwks_cache[i].keys = NULL;
    }
    pthread_mutex_unlock(&cache_mu);
}

/* ---- helpers ---------------------------------------------------------------- */

void api_sso_redirect_uri(const struct server *srv, const char *network_id, char *out, size_t n)
{
    char port[16] = "";

    if (srv->port != 443)
        snprintf(port, sizeof(port), ":%d", srv->port);
    snprintf(out, n, "https://%s%s/sso/%s/callback", srv->cfg->hostname, port, network_id);
}

static int rand_b64(char out[SSO_RAND_B64])
{
    uint8_t r[32];
    if (RAND_bytes(r, sizeof(r)) != 1)
        return PARLEY_ECRYPTO;
    b64url_encode(r, sizeof(r), out);
    OPENSSL_cleanse(r, sizeof(r));
    return 0;
}

static void hash_of(const char *s, uint8_t out[32])
{
    SHA256((const unsigned char *)s, strlen(s), out);
}

/* base64url(SHA-256(verifier)): the S256 code challenge (RFC 7636 §4.2). */
static void s256(const char *verifier, char out[SSO_RAND_B64])
{
    uint8_t h[32];
    hash_of(verifier, h);
    b64url_encode(h, sizeof(h), out);
}

static bool b64url_token_ok(const char *s, size_t min, size_t max)
{
    size_t n = strlen(s);
    if (n < min || n > max)
        return false;
    for (; *s; s++)
        if (!((*s >= 'a' && *s <= 'z') || (*s >= 'A' && *s <= 'Z') || (*s >= '0' && *s <= '9') ||
              *s == '-' || *s == '_'))
            return false;
    return true;
}

/* A loopback redirect (RFC 8252 §7.3): http://127.0.0.1:PORT/PATH or
 * http://[::1]:PORT/PATH, nothing else. */
static bool loopback_ok(const char *u)
{
    const char *p;
    char *end;
    long port;

    if (strncmp(u, "http://127.0.0.1:", 17) == 0)
        p = u + 17;
    else if (strncmp(u, "http://[::1]:", 13) == 0)
        p = u + 13;
    else
        return false;
    errno = 0;
    port = strtol(p, &end, 10);
    if (errno || end == p || port < 1 || port > 65535 || *end != '/')
        return false;
    for (p = end; *p; p++)
        if (!((*p >= 'a' && *p <= 'z') || (*p >= 'A' && *p <= 'Z') || (*p >= '0' && *p <= '9') ||
              *p == '/' || *p == '-' || *p == '_' || *p == '.'))
            return false;
    return true;
}

static void html_escape(struct buf *b, const char *s)
{
    for (; *s; s++) {
        switch (*s) {
        case '<':
            buf_append(b, "&lt;", 4);
            break;
        case '>':
            buf_append(b, "&gt;", 4);
            break;
        case '&':
            buf_append(b, "&amp;", 5);
            break;
        case '"':
            buf_append(b, "&quot;", 6);
            break;
        case '\'':
            buf_append(b, "&#39;", 5);
            break;
        default:
            buf_append(b, s, 1);
        }
    }
}

/* A small page for the browser: the outcome, and the code to paste when
 * the client has no loopback listener. */
static void reply_page(struct http_req *req, int status, const char *title, const char *msg,
                       const char *code)
{
    struct buf b = BUF_INIT(4096);

    buf_printf(&b, "<!doctype html><html><head><meta charset=\"utf-8\"><title>Parley: ");
    html_escape(&b, title);
    buf_printf(&b, "</title></head><body><h1>");
    html_escape(&b, title);
    buf_printf(&b, "</h1><p id=\"message\">");
    html_escape(&b, msg);
    buf_printf(&b, "</p>");
    if (code) {
        buf_printf(&b, "<p>Sign-in code (valid %d seconds, once):</p><pre id=\"code\">",
                   SSO_CODE_TTL);
        html_escape(&b, code);
        buf_printf(&b, "</pre>");
    }
    buf_printf(&b, "</body></html>\n");
    req->cache_control = "no-store";
    req->csp = "default-src 'none'; frame-ancestors 'none'";
    http_add_header(req, "referrer-policy", "no-referrer");
    http_reply(req, status, "text/html; charset=utf-8", b.data, b.len);
    buf_release_secure(&b);
}

/* Send the browser back to the client's loopback listener. */
static void reply_loopback(struct http_req *req, const char *redirect, const char *code,
                           const char *error, const char *desc)
{
    char *u;

    if (code) {
        u = xasprintf("%s?code=%s", redirect, code);
    } else {
        char *d = oidc_urlencode(desc);
        u = xasprintf("%s?error=%s&error_description=%s", redirect, error, d);
        free(d);
    }
    req->cache_control = "no-store";
    http_add_header(req, "location", u);
    http_add_header(req, "referrer-policy", "no-referrer");
    http_reply(req, 302, "text/plain", "", 0);
    OPENSSL_cleanse(u, strlen(u));
    free(u);
}

/* The query argument `name` ("code=") into out, "" when absent.
 * lws_get_urlarg_by_name copies "name=value" and points at the value. */
static bool query_arg(struct http_req *req, const char *name, char *out, size_t n)
{
    const char *v = lws_get_urlarg_by_name(req->wsi, name, out, (int)n);
    if (!v) {
        out[0] = 0;
        return false;
    }
    memmove(out, v, strlen(v) + 1);
    return true;
}

/* ---- the network's SSO configuration ---------------------------------------- */

struct sso_net {
    int64_t net_row;
    char network_id[129];
    bool enabled, auto_provision;
    char issuer[URLCHECK_MAX + 1];
    char client_id[257];
    char sealed[ADMIN_SEAL_OUT_MAX];
    char scopes[257];
    char username_claim[32];
};

static int net_load(struct store *st, const char *where, const char *key, struct sso_net *out)
{
    struct store_val p[] = {STORE_TEXT(key)};
    struct store_conn *c;
    struct store_rows *r = NULL;
    char sql[600];
    int rc = store_conn_get(st, &c);

    memset(out, 0, sizeof(*out));
    if (rc < 0)
        return rc;
    snprintf(sql, sizeof(sql),
             "SELECT n.id, n.network_id, s.enabled, s.issuer_url, s.client_id, s.client_secret, "
             "s.scopes, s.username_claim, s.auto_provision FROM sso_configs s JOIN networks n ON "
             "n.id = s.network_id WHERE %s = %s",
             where, strncmp(where, "lower(", 6) == 0 ? "lower($1)" : "$1");
    rc = store_query(c, sql, p, 1, &r);
    if (rc == 0 && (rc = store_rows_next(r)) == 1) {
        out->net_row = store_rows_int(r, 0);
        strlcpy_p(out->network_id, store_rows_text(r, 1), sizeof(out->network_id));
        out->enabled = store_rows_int(r, 2) != 0;
        strlcpy_p(out->issuer, store_rows_text(r, 3), sizeof(out->issuer));
        strlcpy_p(out->client_id, store_rows_text(r, 4), sizeof(out->client_id));
        strlcpy_p(out->sealed, store_rows_text(r, 5), sizeof(out->sealed));
        strlcpy_p(out->scopes, store_rows_text(r, 6), sizeof(out->scopes));
        strlcpy_p(out->username_claim, store_rows_text(r, 7), sizeof(out->username_claim));
        out->auto_provision = store_rows_int(r, 8) != 0;
        rc = 0;
    } else if (rc == 0) {
        rc = PARLEY_ENOTFOUND;
    }
    store_rows_free(r);
    store_conn_put(st, c);
    return rc;
}

static int allow_private_get(struct store *st, bool *out)
{
    struct store_conn *c;
    json_t *v = NULL;
    int rc = store_conn_get(st, &c);

    *out = false;
    if (rc < 0)
        return rc;
    rc = api_admin_deploy_setting(c, "allow_private_ips", &v);
    store_conn_put(st, c);
    *out = json_is_true(v);
    json_decref(v);
    return rc;
}

/* ---- POST /api/v1/client/sso/start ------------------------------------------ */

struct start_job {
    struct http_pending *pending;
    struct idp idp;
    struct sso_net net;
    char redirect_uri[129]; /* the client's loopback, or "" */
    char challenge[129];    /* the client's S256 challenge */
    char login_hint[257];
    char state[SSO_RAND_B64], nonce[SSO_RAND_B64], verifier[SSO_RAND_B64];
    /* Out of the worker. */
    int rc;
    char err[400];
    char *auth_url;
};

static void start_work(void *arg)
{
    struct start_job *j = arg;
    struct oidc_provider p;
    char chal[SSO_RAND_B64];
    char *e_client, *e_redirect, *e_scope, *e_hint = NULL;

    j->rc = provider_get(&j->idp, &p, j->err, sizeof(j->err));
    if (j->rc < 0)
        return;
    s256(j->verifier, chal);
    e_client = oidc_urlencode(j->net.client_id);
    e_redirect = oidc_urlencode(j->idp.callback);
    e_scope = oidc_urlencode(j->net.scopes);
    if (j->login_hint[0])
        e_hint = oidc_urlencode(j->login_hint);
    j->auth_url =
        xasprintf("%s%cresponse_type=code&client_id=%s&redirect_uri=%s&scope=%s&state=%s"
                  "&nonce=%s&code_challenge=%s&code_challenge_method=S256%s%s",
                  p.authorization_endpoint, strchr(p.authorization_endpoint, '?') ? '&' : '?',
                  e_client, e_redirect, e_scope, j->state, j->nonce, chal,
                  e_hint ? "&login_hint=" : "", e_hint ? e_hint : "");
    free(e_client);
    free(e_redirect);
    free(e_scope);
    free(e_hint);
}

static int start_write(struct store_conn *c, void *arg)
{
    struct start_job *j = arg;
    int64_t now = (int64_t)time(NULL), n = 0;
    uint8_t h[32];
    int rc;

    {
        struct store_val p[] = {STORE_INT(now)};
        rc = store_exec(c, "DELETE FROM sso_logins WHERE expires_at < $1", p, 1, NULL);
    }
    if (rc == 0)
        rc = store_query_int(c, "SELECT COUNT(*) FROM sso_logins", NULL, 0, &n);
    if (rc < 0)
        return rc;
    if (n >= SSO_MAX_PENDING)
        return PARLEY_EBUSY;
    hash_of(j->state, h);
    struct store_val p[] = {STORE_BLOB(h, sizeof(h)),     STORE_INT(j->net.net_row),
                            STORE_TEXT(j->nonce),         STORE_TEXT(j->verifier),
                            STORE_TEXT(j->challenge),     STORE_TEXT(j->redirect_uri),
                            STORE_INT(now + SSO_AUTH_TTL)};
    return store_exec(c,
                      "INSERT INTO sso_logins (id_hash, phase, network_id, nonce, code_verifier, "
                      "client_challenge, redirect_uri, expires_at) VALUES ($1, 'authorize', $2, "
                      "$3, $4, $5, $6, $7)",
                      p, ARRAY_SIZE(p), NULL);
}

static void start_free(struct start_job *j)
{
    free(j->auth_url);
    OPENSSL_cleanse(j, sizeof(*j));
    free(j);
}

static void start_done(void *arg)
{
    struct start_job *j = arg;
    struct http_req *req = http_resume(j->pending);
    int rc;

    if (!req)
        goto out;
    if (j->rc < 0) {
        log_warnx("sso start network=%s: %s", j->net.network_id, j->err);
        http_reply_error(req, 502, "idp_unavailable",
                         "the identity provider of company_id could not be used: %s", j->err);
        goto out;
    }
    rc = store_write_sync(req->srv->store, start_write, j);
    if (rc == PARLEY_EBUSY) {
        http_add_header(req, "retry-after", "60");
        http_reply_error(req, 429, "rate_limited", "too many SSO sign-ins in progress; try again");
        goto out;
    }
    if (rc < 0) {
        api_reply_store_error(req, rc);
        goto out;
    }
    http_reply_json(req, 200,
                    json_pack("{s:s,s:s,s:i}", "authorization_url", j->auth_url, "network_id",
                              j->net.network_id, "expires_in", SSO_AUTH_TTL));
out:
    start_free(j);
}

void api_sso_start(struct http_req *req)
{
    struct api_body b;
    struct start_job *j;
    const char *company, *redirect = "", *hint = "";
    int rc;

    if (api_body_get(req, API_BODY_SSO_START, &b) < 0)
        return;
    company = b.v[0].s;
    if (b.v[2].present)
        redirect = b.v[2].s;
    if (b.v[3].present)
        hint = b.v[3].s;
    if (!b64url_token_ok(b.v[1].s, 43, 128)) {
        http_reply_error(req, 400, "bad_request",
                         "field 'code_challenge' must be base64url(SHA-256(code_verifier)), 43 "
                         "characters (RFC 7636 S256)");
        goto out;
    }
    if (redirect[0] && !loopback_ok(redirect)) {
        http_reply_error(req, 400, "bad_request",
                         "field 'redirect_uri' must be a loopback address: "
                         "http://127.0.0.1:PORT/PATH or http://[::1]:PORT/PATH");
        goto out;
    }
    for (const char *p = hint; *p; p++) {
        if ((unsigned char)*p < 0x20) {
            http_reply_error(req, 400, "bad_request", "field 'login_hint' has control characters");
            goto out;
        }
    }
    j = xcalloc(1, sizeof(*j));
    /* Users type it: any case finds it (it is unique whatever its case). */
    rc = net_load(req->srv->store, "lower(s.company_id)", company, &j->net);
    if (rc == 0 && !j->net.enabled)
        rc = PARLEY_ENOTFOUND;
    if (rc == 0)
        rc = allow_private_get(req->srv->store, &j->idp.allow_private);
    if (rc < 0) {
        if (rc == PARLEY_ENOTFOUND)
            http_reply_error(req, 404, "not_found",
                             "field 'company_id': no network signs in with SSO under that "
                             "company ID");
        else
            api_reply_store_error(req, rc);
        start_free(j);
        goto out;
    }
    strlcpy_p(j->idp.issuer, j->net.issuer, sizeof(j->idp.issuer));
    strlcpy_p(j->idp.client_id, j->net.client_id, sizeof(j->idp.client_id));
    j->idp.ca_file = req->srv->cfg->sso_ca_file;
    api_sso_redirect_uri(req->srv, j->net.network_id, j->idp.callback, sizeof(j->idp.callback));
    strlcpy_p(j->redirect_uri, redirect, sizeof(j->redirect_uri));
    strlcpy_p(j->challenge, b.v[1].s, sizeof(j->challenge));
    strlcpy_p(j->login_hint, hint, sizeof(j->login_hint));
    if (rand_b64(j->state) < 0 || rand_b64(j->nonce) < 0 || rand_b64(j->verifier) < 0) {
        http_reply_error(req, 500, "internal", "no randomness");
        start_free(j);
        goto out;
    }
    j->pending = http_defer(req);
    if (workq_submit(start_work, start_done, j) < 0) {
        http_resume(j->pending);
        http_add_header(req, "retry-after", "1");
        http_reply_error(req, 503, "busy", "the server is busy; try again");
        start_free(j);
    }
out:
    api_body_release(&b);
}

/* ---- GET /sso/:network_id/callback ------------------------------------------- */

struct cb_job {
    struct http_pending *pending;
    struct idp idp;
    struct sso_net net;
    /* From the sso_logins row. */
    char nonce[SSO_RAND_B64], verifier[SSO_RAND_B64];
    char challenge[129], redirect_uri[129];
    uint8_t state_hash[32];
    char code[1025]; /* the provider's authorization code */
    char secret[ADMIN_SEAL_PLAIN_MAX + 1];
    bool has_secret;
    /* Out of the worker. */
    int rc;
    char err[400];
    struct oidc_claims claims;
    /* Out of the store. */
    char username[257];
    char signin_code[SSO_RAND_B64];
    int64_t user_row;
};

static void cb_free(struct cb_job *j)
{
    OPENSSL_cleanse(j, sizeof(*j));
    free(j);
}

/* Take the authorize row of `state` (single use: it is deleted whether or
 * not what follows succeeds). */
static int take_state(struct store_conn *c, void *arg)
{
    struct cb_job *j = arg;
    struct store_rows *r = NULL;
    int64_t changes = 0, expires = 0, net = 0;
    struct store_val p[] = {STORE_BLOB(j->state_hash, 32)};
    int rc = store_query(c,
                         "SELECT network_id, nonce, code_verifier, client_challenge, redirect_uri, "
                         "expires_at FROM sso_logins WHERE id_hash = $1 AND phase = 'authorize'",
                         p, 1, &r);

    if (rc == 0 && (rc = store_rows_next(r)) == 1) {
        net = store_rows_int(r, 0);
        strlcpy_p(j->nonce, store_rows_text(r, 1), sizeof(j->nonce));
        strlcpy_p(j->verifier, store_rows_text(r, 2), sizeof(j->verifier));
        strlcpy_p(j->challenge, store_rows_text(r, 3), sizeof(j->challenge));
        strlcpy_p(j->redirect_uri, store_rows_text(r, 4), sizeof(j->redirect_uri));
        expires = store_rows_int(r, 5);
        rc = 0;
    } else if (rc == 0) {
        rc = PARLEY_ENOTFOUND;
    }
    store_rows_free(r);
    if (rc < 0)
        return rc;
    rc = store_exec(c, "DELETE FROM sso_logins WHERE id_hash = $1", p, 1, &changes);
    if (rc < 0)
        return rc;
    /* A concurrent callback with the same state lost the race. */
    if (changes != 1 || net != j->net.net_row || expires < (int64_t)time(NULL))
        return PARLEY_ENOTFOUND;
    return 0;
}

static void cb_work(void *arg)
{
    struct cb_job *j = arg;
    struct oidc_provider p;
    struct oidc_expect e;
    char *form = NULL, *body = NULL, *jwt = NULL;
    char *e_code, *e_cb, *e_ver, *e_client;
    size_t len;
    long status;

    j->rc = provider_get(&j->idp, &p, j->err, sizeof(j->err));
    if (j->rc < 0)
        return;
    e_code = oidc_urlencode(j->code);
    e_cb = oidc_urlencode(j->idp.callback);
    e_ver = oidc_urlencode(j->verifier);
    e_client = oidc_urlencode(j->net.client_id);
    form = xasprintf("grant_type=authorization_code&code=%s&redirect_uri=%s&code_verifier=%s"
                     "&client_id=%s",
                     e_code, e_cb, e_ver, e_client);
    /* RFC 6749 §2.3.1: Basic with form-encoded id and secret. */
    char *b_user = oidc_urlencode(j->net.client_id);
    char *b_pass = j->has_secret ? oidc_urlencode(j->secret) : NULL;
    j->rc = oidc_http(p.token_endpoint, form, b_pass ? b_user : NULL, b_pass, j->idp.ca_file,
                      j->idp.allow_private, &status, &body, &len, j->err, sizeof(j->err));
    if (j->rc == 0) {
        j->rc = oidc_token_response_parse(body, len, &jwt, j->err, sizeof(j->err));
        if (j->rc == 0 && status != 200) {
            snprintf(j->err, sizeof(j->err), "the token endpoint answered HTTP %ld", status);
            j->rc = PARLEY_EPROTO;
        }
    }
    if (j->rc == 0) {
        e.issuer = j->idp.issuer;
        e.client_id = j->net.client_id;
        e.nonce = j->nonce;
        e.now = (int64_t)time(NULL);
        j->rc = verify_token(&j->idp, p.jwks_uri, jwt, &e, &j->claims, j->err, sizeof(j->err));
        if (j->rc == PARLEY_ENOTFOUND)
            j->rc = PARLEY_EAUTH;
    }
    if (jwt)
        OPENSSL_cleanse(jwt, strlen(jwt));
    if (body)
        OPENSSL_cleanse(body, len);
    OPENSSL_cleanse(form, strlen(form));
    if (b_pass)
        OPENSSL_cleanse(b_pass, strlen(b_pass));
    OPENSSL_cleanse(e_code, strlen(e_code));
    OPENSSL_cleanse(e_ver, strlen(e_ver));
    free(jwt);
    free(body);
    free(form);
    free(b_user);
    free(b_pass);
    free(e_code);
    free(e_cb);
    free(e_ver);
    free(e_client);
}

/* The Parley username of the identity, per the network's username_claim:
 * "email" (lowercased; must be verified by the provider) or
 * "preferred_username". */
static int username_of(const struct cb_job *j, char *out, size_t n, char *err, size_t errlen)
{
    const char *v;

    if (strcmp(j->net.username_claim, "preferred_username") == 0) {
        v = j->claims.preferred_username;
    } else {
        v = j->claims.email;
        if (v[0] && !j->claims.email_verified) {
            snprintf(err, errlen,
                     "the identity provider has not verified the email address (email_verified)");
            return PARLEY_EPERM;
        }
    }
    if (!v[0]) {
        snprintf(err, errlen, "the ID token has no '%s' claim to name the user",
                 j->net.username_claim);
        return PARLEY_EPROTO;
    }
    if (strlen(v) >= n)
        return PARLEY_EPROTO;
    for (size_t i = 0; v[i]; i++) {
        unsigned char ch = (unsigned char)v[i];
        if (ch < 0x20 || ch == 0x7f) {
            snprintf(err, errlen, "the '%s' claim has control characters", j->net.username_claim);
            return PARLEY_EPROTO;
        }
        out[i] = (ch >= 'A' && ch <= 'Z' && v == j->claims.email) ? (char)(ch + 32) : (char)ch;
        out[i + 1] = 0;
    }
    return 0;
}

/* Map the identity to a user (provisioning one when allowed) and store a
 * one-time sign-in code for it. */
static int map_write(struct store_conn *c, void *arg)
{
    struct cb_job *j = arg;
    struct store_rows *r = NULL;
    int64_t now = (int64_t)time(NULL);
    char status[16] = "", type[16] = "";
    uint8_t h[32];
    int rc;

    {
        struct store_val p[] = {STORE_INT(j->net.net_row), STORE_TEXT(j->username)};
        rc = store_query(c,
                         "SELECT id, status, user_type FROM users WHERE network_id = $1 AND "
                         "username = $2",
                         p, 2, &r);
    }
    if (rc == 0 && (rc = store_rows_next(r)) == 1) {
        j->user_row = store_rows_int(r, 0);
        strlcpy_p(status, store_rows_text(r, 1), sizeof(status));
        strlcpy_p(type, store_rows_text(r, 2), sizeof(type));
        rc = 0;
    } else if (rc == 0) {
        rc = PARLEY_ENOTFOUND;
    }
    store_rows_free(r);
    if (rc == 0 && (strcmp(status, "suspended") == 0 || strcmp(status, "deleted") == 0))
        return PARLEY_EPERM;
    if (rc == 0 && strcmp(type, "user") != 0 && strcmp(type, "guest") != 0)
        return PARLEY_ENOTSUP;
    if (rc == PARLEY_ENOTFOUND && j->net.auto_provision) {
        uint8_t uid[16];
        if (RAND_bytes(uid, sizeof(uid)) != 1)
            return PARLEY_ECRYPTO;
        /* No password: an empty hash never verifies (password.c). */
        struct store_val p[] = {STORE_INT(j->net.net_row),         STORE_BLOB(uid, sizeof(uid)),
                                STORE_TEXT(j->username),           STORE_TEXT(j->claims.given_name),
                                STORE_TEXT(j->claims.family_name), STORE_INT(now)};
        rc = store_exec(c,
                        "INSERT INTO users (network_id, user_id, username, first_name, last_name, "
                        "password_hash, status, user_type, security_group_id, created_at, "
                        "updated_at) SELECT $1, $2, $3, $4, $5, '', 'pending', 'user', "
                        "(SELECT id FROM security_groups WHERE network_id = $1 AND is_default = 1 "
                        "ORDER BY id LIMIT 1), $6, $6",
                        p, ARRAY_SIZE(p), NULL);
        if (rc == 0) {
            struct store_val q[] = {STORE_BLOB(uid, sizeof(uid))};
            rc = store_query_int(c, "SELECT id FROM users WHERE user_id = $1", q, 1, &j->user_row);
        }
        /* Administrators see who the provider brought in. */
        if (rc == 0) {
            struct audit_actor a = {"anonymous", 0, "sso", NULL};
            json_t *d = json_pack("{s:s,s:s}", "source", "sso", "issuer", j->net.issuer);
            rc = audit_write(c, &a, "user.provision", j->username, j->net.network_id, d);
            json_decref(d);
        }
    }
    if (rc < 0)
        return rc;
    if ((rc = rand_b64(j->signin_code)) < 0)
        return rc;
    hash_of(j->signin_code, h);
    struct store_val p[] = {STORE_BLOB(h, sizeof(h)), STORE_INT(j->net.net_row),
                            STORE_TEXT(j->challenge), STORE_INT(j->user_row),
                            STORE_INT(now + SSO_CODE_TTL)};
    return store_exec(c,
                      "INSERT INTO sso_logins (id_hash, phase, network_id, client_challenge, "
                      "user_row, expires_at) VALUES ($1, 'code', $2, $3, $4, $5)",
                      p, ARRAY_SIZE(p), NULL);
}

/* Tell the browser (and through a loopback redirect, the client). */
static void cb_fail(struct http_req *req, const struct cb_job *j, int status, const char *error,
                    const char *msg)
{
    if (j && j->redirect_uri[0])
        reply_loopback(req, j->redirect_uri, NULL, error, msg);
    else
        reply_page(req, status, "Sign-in refused", msg, NULL);
}

static void cb_done(void *arg)
{
    struct cb_job *j = arg;
    struct http_req *req = http_resume(j->pending);
    char msg[600];
    int rc;

    if (!req)
        goto out;
    if (j->rc < 0) {
        log_warnx("sso callback network=%s: %s", j->net.network_id, j->err);
        snprintf(msg, sizeof(msg), "The identity provider's answer was refused: %s", j->err);
        cb_fail(req, j, j->rc == PARLEY_EIO || j->rc == PARLEY_EPERM ? 502 : 401, "access_denied",
                msg);
        goto out;
    }
    rc = username_of(j, j->username, sizeof(j->username), j->err, sizeof(j->err));
    if (rc < 0) {
        snprintf(msg, sizeof(msg), "This identity cannot sign in: %s", j->err);
        cb_fail(req, j, 403, "access_denied", msg);
        goto out;
    }
    rc = store_write_sync(req->srv->store, map_write, j);
    if (rc == PARLEY_ENOTFOUND) {
        snprintf(msg, sizeof(msg),
                 "There is no user '%.256s' in this network, and it does not create users at "
                 "sign-in: ask a network administrator.",
                 j->username);
        cb_fail(req, j, 403, "access_denied", msg);
    } else if (rc == PARLEY_EPERM) {
        cb_fail(req, j, 403, "access_denied", "This account is suspended.");
    } else if (rc == PARLEY_ENOTSUP) {
        cb_fail(req, j, 403, "access_denied",
                "This account is not a user account (bots and web administrators do not sign "
                "in with SSO).");
    } else if (rc < 0) {
        log_error("sso callback: store: %s", parley_strerror(rc));
        cb_fail(req, j, 500, "server_error", "The server could not record the sign-in.");
    } else {
        log_info("sso sign-in user_row=%lld network=%s", (long long)j->user_row, j->net.network_id);
        if (j->redirect_uri[0])
            reply_loopback(req, j->redirect_uri, j->signin_code, NULL, NULL);
        else
            reply_page(req, 200, "Signed in",
                       "Return to Parley and enter this code to finish signing in.",
                       j->signin_code);
    }
out:
    cb_free(j);
}

void api_sso_callback(struct http_req *req)
{
    const char *netid = req->params[0];
    char state[256], err[64], desc[300], msg[600];
    struct cb_job *j = xcalloc(1, sizeof(*j));
    int rc;

    if (!query_arg(req, "state=", state, sizeof(state)) || !state[0]) {
        reply_page(req, 400, "Sign-in refused",
                   "The identity provider's answer has no state: start signing in again from "
                   "Parley.",
                   NULL);
        goto fail;
    }
    rc = net_load(req->srv->store, "n.network_id", netid, &j->net);
    if (rc < 0 || !j->net.enabled) {
        if (rc < 0 && rc != PARLEY_ENOTFOUND)
            log_error("sso callback: store: %s", parley_strerror(rc));
        reply_page(req, 404, "Sign-in refused", "This network does not sign in with SSO.", NULL);
        goto fail;
    }
    hash_of(state, j->state_hash);
    rc = store_write_sync(req->srv->store, take_state, j);
    OPENSSL_cleanse(state, sizeof(state));
    if (rc < 0) {
        if (rc != PARLEY_ENOTFOUND)
            log_error("sso callback: store: %s", parley_strerror(rc));
        reply_page(req, 400, "Sign-in refused",
                   "This sign-in is unknown, already used or expired (state): start signing in "
                   "again from Parley.",
                   NULL);
        goto fail;
    }
    /* The provider refused (OAuth 2.0 §4.1.2.1). */
    if (query_arg(req, "error=", err, sizeof(err))) {
        query_arg(req, "error_description=", desc, sizeof(desc));
        for (char *p = err; *p; p++)
            if ((unsigned char)*p < 0x20 || (unsigned char)*p > 0x7e)
                *p = '?';
        for (char *p = desc; *p; p++)
            if ((unsigned char)*p < 0x20)
                *p = '?';
        snprintf(msg, sizeof(msg), "The identity provider refused the sign-in: %s%s%s", err,
                 desc[0] ? ": " : "", desc);
        cb_fail(req, j, 401, "access_denied", msg);
        goto fail;
    }
    if (!query_arg(req, "code=", j->code, sizeof(j->code)) || !j->code[0]) {
        cb_fail(req, j, 400, "invalid_request", "The identity provider's answer has no code.");
        goto fail;
    }
    if (allow_private_get(req->srv->store, &j->idp.allow_private) < 0) {
        cb_fail(req, j, 500, "server_error", "The server could not read its settings.");
        goto fail;
    }
    if (j->net.sealed[0]) {
        char aad[200];
        snprintf(aad, sizeof(aad), "parley-sso:%s", j->net.network_id);
        rc = admin_unseal(req->srv->cfg, aad, j->net.sealed, j->secret, sizeof(j->secret));
        if (rc < 0) {
            log_error("sso callback network=%s: cannot open the client secret: %s",
                      j->net.network_id, parley_strerror(rc));
            cb_fail(req, j, 500, "server_error", "The server could not use its client secret.");
            goto fail;
        }
        j->has_secret = true;
    }
    strlcpy_p(j->idp.issuer, j->net.issuer, sizeof(j->idp.issuer));
    strlcpy_p(j->idp.client_id, j->net.client_id, sizeof(j->idp.client_id));
    j->idp.ca_file = req->srv->cfg->sso_ca_file;
    api_sso_redirect_uri(req->srv, j->net.network_id, j->idp.callback, sizeof(j->idp.callback));
    j->pending = http_defer(req);
    if (workq_submit(cb_work, cb_done, j) < 0) {
        http_resume(j->pending);
        cb_fail(req, j, 503, "temporarily_unavailable", "The server is busy: try again.");
        goto fail;
    }
    return;
fail:
    cb_free(j);
}

/* ---- POST /api/v1/client/sso/finish ------------------------------------------ */

struct finish_job {
    uint8_t code_hash[32];
    char challenge[SSO_RAND_B64]; /* S256 of the verifier sent */
    int64_t user_row;
    char token[AUTH_TOKEN_LEN + 1];
    char status[16];
    char username[257];
    uint8_t user_id[KEYS_ID_LEN];
};

static int finish_write(struct store_conn *c, void *arg)
{
    struct finish_job *j = arg;
    struct store_rows *r = NULL;
    struct store_val p[] = {STORE_BLOB(j->code_hash, 32)};
    char want[129] = "";
    int64_t expires = 0, changes = 0;
    const uint8_t *b;
    size_t bl;
    int rc = store_query(c,
                         "SELECT client_challenge, user_row, expires_at FROM sso_logins WHERE "
                         "id_hash = $1 AND phase = 'code'",
                         p, 1, &r);

    if (rc == 0 && (rc = store_rows_next(r)) == 1) {
        strlcpy_p(want, store_rows_text(r, 0), sizeof(want));
        j->user_row = store_rows_int(r, 1);
        expires = store_rows_int(r, 2);
        rc = 0;
    } else if (rc == 0) {
        rc = PARLEY_ENOTFOUND;
    }
    store_rows_free(r);
    if (rc < 0)
        return rc;
    /* Single use, right or wrong. The job's own changes stay: return 0
     * with the verdict in j->status. */
    rc = store_exec(c, "DELETE FROM sso_logins WHERE id_hash = $1", p, 1, &changes);
    if (rc < 0)
        return rc;
    if (changes != 1 || expires < (int64_t)time(NULL)) {
        strlcpy_p(j->status, "!expired", sizeof(j->status));
        return 0;
    }
    if (strlen(want) != strlen(j->challenge) ||
        CRYPTO_memcmp(want, j->challenge, strlen(want)) != 0) {
        strlcpy_p(j->status, "!verifier", sizeof(j->status));
        return 0;
    }
    struct store_val q[] = {STORE_INT(j->user_row)};
    rc = store_query(c, "SELECT status, username, user_id FROM users WHERE id = $1", q, 1, &r);
    if (rc == 0 && (rc = store_rows_next(r)) == 1) {
        strlcpy_p(j->status, store_rows_text(r, 0), sizeof(j->status));
        strlcpy_p(j->username, store_rows_text(r, 1), sizeof(j->username));
        b = store_rows_blob(r, 2, &bl);
        if (b && bl == KEYS_ID_LEN)
            memcpy(j->user_id, b, KEYS_ID_LEN);
        rc = 0;
    } else if (rc == 0) {
        rc = PARLEY_ENOTFOUND;
    }
    store_rows_free(r);
    if (rc < 0)
        return rc;
    if (strcmp(j->status, "suspended") == 0 || strcmp(j->status, "deleted") == 0)
        return 0;
    {
        struct store_val u[] = {STORE_INT(j->user_row)};
        rc =
            store_exec(c, "UPDATE users SET failed_logins = 0 WHERE id = $1 AND failed_logins <> 0",
                       u, 1, NULL);
    }
    if (rc == 0)
        rc = auth_token_create(c, j->user_row, 0, j->token);
    return rc;
}

void api_sso_finish(struct http_req *req)
{
    struct api_body b;
    struct finish_job j = {0};
    json_t *key = NULL, *backup = NULL;
    int rc;

    if (api_body_get(req, API_BODY_SSO_FINISH, &b) < 0)
        return;
    if (!b64url_token_ok(b.v[1].s, 43, 128)) {
        http_reply_error(req, 400, "bad_request",
                         "field 'code_verifier' must be 43 to 128 base64url characters (RFC "
                         "7636)");
        goto out;
    }
    hash_of(b.v[0].s, j.code_hash);
    s256(b.v[1].s, j.challenge);
    rc = store_write_sync(req->srv->store, finish_write, &j);
    if (rc == PARLEY_ENOTFOUND || (rc == 0 && strcmp(j.status, "!expired") == 0)) {
        http_reply_error(req, 401, "unauthorized",
                         "field 'code': unknown, already used or expired; sign in again");
        goto out;
    }
    if (rc == 0 && strcmp(j.status, "!verifier") == 0) {
        http_reply_error(req, 401, "unauthorized",
                         "field 'code_verifier' does not match the code_challenge of this "
                         "sign-in; the code is now spent");
        goto out;
    }
    if (rc < 0) {
        api_reply_store_error(req, rc);
        goto out;
    }
    if (!j.token[0]) {
        http_reply_error(req, 403, "forbidden", "account suspended");
        goto out;
    }
    rc = api_client_load_identity(req->srv->store, j.user_row, &key, &backup);
    if (rc < 0) {
        api_reply_store_error(req, rc);
        goto out;
    }
    log_info("client sso login user_row=%lld", (long long)j.user_row);
    http_reply_json(req, 200,
                    json_pack("{s:s,s:o,s:s,s:s,s:o,s:o}", "token", j.token, "user_id",
                              api_json_id(j.user_id), "username", j.username, "status", j.status,
                              "identity_key", key, "identity_backup", backup));
    key = backup = NULL;
out:
    json_decref(key);
    json_decref(backup);
    OPENSSL_cleanse(&j, sizeof(j));
    api_body_release(&b);
}
