/* api_cconf.c - client configuration files: the admin endpoints under
 * /networks/:network_id/client-configs and the public deeplink landing page
 * and download under /config/:token.
 *
 * parleyd seals the file once, at creation, and keeps the sealed bytes, so
 * the password is never stored; an administrator can download the same
 * file again. Each file carries a random download token; the database keeps
 * only its SHA-256, so the deeplink is shown once, at creation. Expiry
 * (the period chosen at creation, or an administrator's early expiry) stops
 * the public download; the administrator's re-download keeps working. See
 * docs/internals/admin.md, "Client configuration files". */
#include "admin_json.h"
#include "api_admin.h"
#include "api_admin_tools.h"
#include "client_config.h"
#include "common/buf.h"
#include "common/log.h"
#include "common/str.h"
#include "common/xmalloc.h"
#include "sgroup_settings.h"
#include "store.h"

#include <openssl/crypto.h>

#define CCONF_MAX_DAYS 3650

static const char *const suites[] = {"x25519", "p384", NULL};

static const struct admin_field cconf_fields[] = {
    {"name", AF_STRING, true, 1, 100, NULL},
    {"password", AF_STRING, false, 8, 1024, NULL},
    {"security_group_id", AF_INT, false, 1, INT64_MAX, NULL},
    {"expires_in_days", AF_INT, false, 1, CCONF_MAX_DAYS, NULL},
    {"service_host", AF_STRING, false, 1, CCONF_MAX_HOST, NULL},
    {"service_port", AF_INT, false, 1, 65535, NULL},
    {"certificate_pinning", AF_BOOL, false, 0, 0, NULL},
    {"pinned_certs", AF_ARRAY, false, 0, CCONF_MAX_PINS, NULL},
    {"suite", AF_STRING, false, 1, 16, suites},
};

/* The columns every reply shows, in this order (see cconf_json). */
#define CCONF_COLS                                                                                 \
    "id, name, security_group_id, service_host, service_port, created_by, created_at, "            \
    "expires_at, expired_at, downloads, LENGTH(file)"

static json_t *cconf_json(struct store_rows *r, int64_t now)
{
    bool expired = !store_rows_is_null(r, 8) || store_rows_int(r, 7) <= now;
    return json_pack(
        "{s:I,s:s,s:o,s:s,s:i,s:s,s:I,s:I,s:o,s:I,s:I,s:s}", "id", (json_int_t)store_rows_int(r, 0),
        "name", store_rows_text(r, 1), "security_group_id",
        store_rows_is_null(r, 2) ? json_null() : json_integer((json_int_t)store_rows_int(r, 2)),
        "service_host", store_rows_text(r, 3), "service_port", (int)store_rows_int(r, 4),
        "created_by", store_rows_text(r, 5), "created_at", (json_int_t)store_rows_int(r, 6),
        "expires_at", (json_int_t)store_rows_int(r, 7), "expired_at",
        store_rows_is_null(r, 8) ? json_null() : json_integer((json_int_t)store_rows_int(r, 8)),
        "downloads", (json_int_t)store_rows_int(r, 9), "size", (json_int_t)store_rows_int(r, 10),
        "status", expired ? "expired" : "active");
}

/* The base URL clients reach: https://host[:port]. */
static void base_url(const char *host, int port, char *out, size_t len)
{
    if (port == 443)
        snprintf(out, len, "https://%s", host);
    else
        snprintf(out, len, "https://%s:%d", host, port);
}

/* RFC 3986 §2.3: everything but the unreserved characters is escaped. */
static void url_escape(struct buf *b, const char *s)
{
    static const char hex[] = "0123456789ABCDEF";
    for (; *s; s++) {
        unsigned char c = (unsigned char)*s;
        if ((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
            c == '-' || c == '.' || c == '_' || c == '~') {
            buf_append_byte(b, (uint8_t)c);
        } else {
            buf_append_byte(b, '%');
            buf_append_byte(b, (uint8_t)hex[c >> 4]);
            buf_append_byte(b, (uint8_t)hex[c & 15]);
        }
    }
}

/* The three links of a file: download URL, deeplink and landing page. */
static json_t *cconf_links(const char *host, int port, const char *token)
{
    char base[300], download[400], landing[400];
    struct buf deeplink = BUF_INIT(2048);
    json_t *j;

    base_url(host, port, base, sizeof(base));
    snprintf(download, sizeof(download), "%s/config/%s/file", base, token);
    snprintf(landing, sizeof(landing), "%s/config/%s", base, token);
    buf_append_str(&deeplink, "parley://config?url=");
    url_escape(&deeplink, download);
    buf_append_byte(&deeplink, 0);
    j = json_pack("{s:s,s:s,s:s}", "download_url", download, "landing_url", landing, "deeplink",
                  (const char *)deeplink.data);
    buf_release(&deeplink);
    return j;
}

/* The security group the file is for: the body's, which must be in this
 * network, or the network's default group. Replies on failure. */
static bool pick_group(struct http_req *req, struct admin_ctx *ctx, const json_t *body, int64_t *id)
{
    const json_t *v = json_object_get(body, "security_group_id");
    int rc;

    if (v) {
        struct store_val p[] = {STORE_INT(ctx->net), STORE_INT(json_integer_value(v))};
        rc = store_query_int(
            ctx->c, "SELECT id FROM security_groups WHERE network_id = $1 AND id = $2", p, 2, id);
        if (rc == PARLEY_ENOTFOUND) {
            http_reply_error(req, 400, "bad_request",
                             "field 'security_group_id': no security group %lld in this network",
                             (long long)json_integer_value(v));
            return false;
        }
    } else {
        struct store_val p[] = {STORE_INT(ctx->net)};
        rc = store_query_int(ctx->c,
                             "SELECT id FROM security_groups WHERE network_id = $1 AND "
                             "is_default = 1 ORDER BY id LIMIT 1",
                             p, 1, id);
    }
    if (rc < 0)
        api_admin_store_error(req, ctx, rc);
    return rc == 0;
}

/* The certificates to pin: the body's, or else the server's own TLS
 * certificate; none (an empty array) with certificate_pinning false.
 * Returns a new reference, or NULL after replying. */
static json_t *pick_pins(struct http_req *req, const json_t *body)
{
    const json_t *v = json_object_get(body, "pinned_certs");
    const json_t *pin = json_object_get(body, "certificate_pinning");
    char pem[CCONF_MAX_PEM + 2];
    size_t n = 0;
    FILE *f;

    if (pin && !json_is_true(pin)) {
        /* Clients then verify the server against their system trust
         * store, so the server's certificate must chain to a public CA. */
        if (v) {
            http_reply_error(req, 400, "bad_request",
                             "field 'pinned_certs' must be left out when 'certificate_pinning' "
                             "is false");
            return NULL;
        }
        return json_array();
    }
    if (v)
        return json_incref((json_t *)v);
    f = fopen(req->srv->cfg->tls_cert, "rb");
    if (f) {
        n = fread(pem, 1, sizeof(pem) - 1, f);
        fclose(f);
    }
    pem[n] = 0;
    if (n == 0 || n > CCONF_MAX_PEM || !cconf_pem_ok(pem, n)) {
        http_reply_error(req, 400, "bad_request",
                         "field 'pinned_certs' is required: this server's certificate file "
                         "cannot be pinned (missing, or over %d bytes)",
                         CCONF_MAX_PEM);
        return NULL;
    }
    return json_pack("[s]", pem);
}

static int network_name(struct admin_ctx *ctx, char *out, size_t len)
{
    struct store_val p[] = {STORE_INT(ctx->net)};
    struct store_rows *r = NULL;
    int rc = store_query(ctx->c, "SELECT name FROM networks WHERE id = $1", p, 1, &r);
    if (rc == 0 && (rc = store_rows_next(r)) == 1) {
        strlcpy_p(out, store_rows_text(r, 0), len);
        rc = 0;
    } else if (rc == 0) {
        rc = PARLEY_ENOTFOUND;
    }
    store_rows_free(r);
    return rc;
}

static void wipe(struct http_req *req, json_t *body)
{
    json_t *pw = json_object_get(body, "password");
    if (json_is_string(pw))
        OPENSSL_cleanse((char *)json_string_value(pw), json_string_length(pw));
    json_decref(body);
    OPENSSL_cleanse(req->body.data, req->body.len);
}

static void reply_one(struct http_req *req, struct admin_ctx *ctx, int status, int64_t id,
                      json_t *extra)
{
    struct store_val p[] = {STORE_INT(ctx->net), STORE_INT(id)};
    struct store_rows *r = NULL;
    int rc = store_query(ctx->c,
                         "SELECT " CCONF_COLS " FROM client_configs WHERE network_id = $1 AND "
                         "id = $2",
                         p, 2, &r);
    if (rc == 0 && (rc = store_rows_next(r)) == 1) {
        json_t *j = cconf_json(r, (int64_t)time(NULL));
        if (extra)
            json_object_update(j, extra);
        http_reply_json(req, status, j);
        rc = 0;
    } else if (rc == 0) {
        rc = PARLEY_ENOTFOUND;
    }
    store_rows_free(r);
    if (rc < 0)
        api_admin_store_error(req, ctx, rc);
}

/* A configuration file being sealed (Argon2id, then AES-GCM) on a worker. */
struct cconf_job {
    struct admin_job job;
    char *doc; /* the normalised document */
    char pw[1025];
    struct buf file;
    int rc;
    char name[101];
    char host[256];
    int port;
    int64_t group, expires, pins;
    bool protected; /* sealed under a password the administrator chose */
};

static void cconf_work(struct admin_job *job)
{
    struct cconf_job *cj = (struct cconf_job *)job;

    cj->rc = cconf_seal(cj->doc, cj->pw, &cj->file);
    OPENSSL_cleanse(cj->pw, sizeof(cj->pw));
}

static void cconf_release(struct admin_job *job)
{
    struct cconf_job *cj = (struct cconf_job *)job;

    free(cj->doc);
    buf_release(&cj->file);
    OPENSSL_cleanse(cj, sizeof(*cj));
    free(cj);
}

static void cconf_done(struct http_req *req, struct admin_ctx *ctx, struct admin_job *job)
{
    struct cconf_job *cj = (struct cconf_job *)job;
    char token[ADMIN_SECRET_LEN + 1], hash[ADMIN_HASH_LEN + 1];
    int64_t id = 0, now = (int64_t)time(NULL);
    json_t *links;
    int rc = cj->rc;

    if (rc == 0)
        rc = admin_secret_new(token);
    if (rc < 0) {
        log_error("client configuration '%s': cannot seal: %s", cj->name, parley_strerror(rc));
        http_reply_error(req, 500, "internal", "the configuration file could not be sealed");
        return;
    }
    admin_hash(token, hash);
    {
        struct store_val p[] = {STORE_INT(ctx->net),
                                STORE_TEXT(cj->name),
                                STORE_INT(cj->group),
                                STORE_TEXT(cj->host),
                                STORE_INT(cj->port),
                                STORE_TEXT(hash),
                                STORE_BLOB(cj->file.data, cj->file.len),
                                STORE_TEXT(ctx->actor.name),
                                STORE_INT(now),
                                STORE_INT(cj->expires)};
        rc = store_exec(ctx->c,
                        "INSERT INTO client_configs (network_id, name, security_group_id, "
                        "service_host, service_port, token_hash, file, created_by, created_at, "
                        "expires_at) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10)",
                        p, 10, NULL);
        if (rc == 0)
            rc = store_query_int(ctx->c,
                                 "SELECT id FROM client_configs WHERE network_id = $1 AND "
                                 "name = $2",
                                 p, 2, &id);
    }
    if (rc == PARLEY_EEXIST) {
        http_reply_error(req, 409, "conflict",
                         "field 'name': a client configuration '%s' exists in this network",
                         cj->name);
        goto out;
    }
    if (rc < 0) {
        api_admin_store_error(req, ctx, rc);
        goto out;
    }
    api_admin_audit(ctx, "client_config.create", cj->name,
                    json_pack("{s:I,s:I,s:s,s:i,s:I,s:I,s:b}", "id", (json_int_t)id,
                              "security_group_id", (json_int_t)cj->group, "service_host", cj->host,
                              "service_port", cj->port, "expires_at", (json_int_t)cj->expires,
                              "pinned_certs", (json_int_t)cj->pins, "password_protected",
                              cj->protected));
    links = cconf_links(cj->host, cj->port, token);
    json_object_set_new(links, "password_protected", json_boolean(cj->protected));
    reply_one(req, ctx, 201, id, links);
    json_decref(links);
out:
    OPENSSL_cleanse(token, sizeof(token));
}

void api_admin_cconf_create(struct http_req *req, struct admin_ctx *ctx)
{
    json_t *body = api_admin_body(req, cconf_fields, ARRAY_SIZE(cconf_fields));
    json_t *pins = NULL, *policy = NULL;
    char err[256], netname[300];
    struct cconf_job *cj;
    char *doc = NULL;
    const char *name, *host;
    int64_t group = 0, now = (int64_t)time(NULL), expires;
    int port, rc;

    if (!body)
        return;
    name = admin_json_str(body, "name", "");
    host = admin_json_str(body, "service_host", req->srv->cfg->hostname);
    port = (int)json_integer_value(json_object_get(body, "service_port"));
    if (!port)
        port = req->srv->port;
    expires =
        now + 86400 * (json_object_get(body, "expires_in_days")
                           ? (int64_t)json_integer_value(json_object_get(body, "expires_in_days"))
                           : 30);
    if (!pick_group(req, ctx, body, &group) || !(pins = pick_pins(req, body)))
        goto out;
    rc = network_name(ctx, netname, sizeof(netname));
    if (rc == 0)
        rc = sgroup_settings_get(ctx->c, group, &policy);
    if (rc < 0) {
        api_admin_store_error(req, ctx, rc);
        goto out;
    }
    {
        struct cconf_doc d = {host,
                              port,
                              ctx->network_id,
                              netname,
                              admin_json_str(body, "suite", "x25519"),
                              pins,
                              policy,
                              json_is_false(json_object_get(body, "certificate_pinning"))};
        if (cconf_document(&d, &doc, err, sizeof(err)) < 0) {
            http_reply_error(req, 400, "bad_request", "%s", err);
            goto out;
        }
    }
    cj = xcalloc(1, sizeof(*cj));
    cj->job.work = cconf_work;
    cj->job.done = cconf_done;
    cj->job.release = cconf_release;
    cj->doc = doc;
    doc = NULL;
    buf_init(&cj->file, CCONF_MAX_JSON + 1024);
    /* Without a password the file is still a sealed container, under the
     * empty password: its format and checks stay the same, though anyone
     * holding the file or its link can open it. */
    strlcpy_p(cj->pw, admin_json_str(body, "password", ""), sizeof(cj->pw));
    cj->protected = cj->pw[0] != 0;
    strlcpy_p(cj->name, name, sizeof(cj->name));
    strlcpy_p(cj->host, host, sizeof(cj->host));
    cj->port = port;
    cj->group = group;
    cj->expires = expires;
    cj->pins = (int64_t)json_array_size(pins);
    api_admin_defer(req, ctx, &cj->job);
out:
    json_decref(pins);
    json_decref(policy);
    free(doc);
    wipe(req, body);
}

void api_admin_cconf_list(struct http_req *req, struct admin_ctx *ctx)
{
    char status[16] = "all";
    const char *filter = " AND (expires_at > $2 OR expires_at <= $2)";
    int64_t now = (int64_t)time(NULL), limit, offset;
    struct store_rows *r = NULL;
    json_t *arr;
    char sql[512];
    int rc;

    api_admin_query(req, "status", status, sizeof(status));
    if (strcmp(status, "active") == 0)
        filter = " AND expired_at IS NULL AND expires_at > $2";
    else if (strcmp(status, "expired") == 0)
        filter = " AND (expired_at IS NOT NULL OR expires_at <= $2)";
    else if (strcmp(status, "all") != 0) {
        http_reply_error(req, 400, "bad_request",
                         "query parameter 'status' must be active, expired or all");
        return;
    }
    if (!api_admin_paging(req, &limit, &offset))
        return;
    snprintf(sql, sizeof(sql),
             "SELECT " CCONF_COLS " FROM client_configs WHERE network_id = $1%s "
             "ORDER BY id LIMIT $3 OFFSET $4",
             filter);
    {
        struct store_val p[] = {STORE_INT(ctx->net), STORE_INT(now), STORE_INT(limit),
                                STORE_INT(offset)};
        rc = store_query(ctx->c, sql, p, 4, &r);
    }
    arr = json_array();
    while (rc == 0 && (rc = store_rows_next(r)) == 1) {
        json_array_append_new(arr, cconf_json(r, now));
        rc = 0;
    }
    store_rows_free(r);
    if (rc < 0) {
        json_decref(arr);
        api_admin_store_error(req, ctx, rc);
        return;
    }
    http_reply_json(req, 200, json_pack("{s:o}", "client_configs", arr));
}

/* params[1]: a client configuration of ctx->net. Replies 404 if not. */
static bool param_cconf(struct http_req *req, struct admin_ctx *ctx, int64_t *id)
{
    int64_t found = 0;
    int rc = PARLEY_ENOTFOUND;

    if (str_to_i64(req->params[1], 1, INT64_MAX, id) == 0) {
        struct store_val p[] = {STORE_INT(ctx->net), STORE_INT(*id)};
        rc = store_query_int(ctx->c,
                             "SELECT id FROM client_configs WHERE network_id = $1 AND id = $2", p,
                             2, &found);
    }
    if (rc == PARLEY_ENOTFOUND)
        http_reply_error(req, 404, "not_found", "no client configuration '%.24s' in this network",
                         req->params[1]);
    else if (rc < 0)
        api_admin_store_error(req, ctx, rc);
    return rc == 0;
}

void api_admin_cconf_get(struct http_req *req, struct admin_ctx *ctx)
{
    int64_t id;
    if (param_cconf(req, ctx, &id))
        reply_one(req, ctx, 200, id, NULL);
}

static void reply_file(struct http_req *req, const char *name, const uint8_t *p, size_t n)
{
    char disp[200], safe[101];
    size_t k = 0;

    /* The name is an administrator's text: keep it to safe characters in
     * the header (RFC 6266 §4.1 quoted-string). */
    for (const char *s = name; *s && k < sizeof(safe) - 1; s++)
        safe[k++] = ((*s >= 'a' && *s <= 'z') || (*s >= 'A' && *s <= 'Z') ||
                     (*s >= '0' && *s <= '9') || *s == '-' || *s == '_' || *s == '.')
                        ? *s
                        : '_';
    safe[k] = 0;
    snprintf(disp, sizeof(disp), "attachment; filename=\"%s.parley\"", safe);
    http_add_header(req, "content-disposition", disp);
    http_add_header(req, "cache-control", "no-store");
    http_add_header(req, "x-content-type-options", "nosniff");
    http_reply(req, 200, "application/octet-stream", p, n);
}

void api_admin_cconf_file(struct http_req *req, struct admin_ctx *ctx)
{
    struct store_rows *r = NULL;
    int64_t id;
    int rc;

    if (!param_cconf(req, ctx, &id))
        return;
    {
        struct store_val p[] = {STORE_INT(ctx->net), STORE_INT(id)};
        rc = store_query(ctx->c,
                         "SELECT name, file FROM client_configs WHERE network_id = $1 AND id = $2",
                         p, 2, &r);
    }
    if (rc == 0 && (rc = store_rows_next(r)) == 1) {
        size_t n = 0;
        const uint8_t *file = store_rows_blob(r, 1, &n);
        api_admin_audit(ctx, "client_config.download", store_rows_text(r, 0),
                        json_pack("{s:I}", "id", (json_int_t)id));
        reply_file(req, store_rows_text(r, 0), file, n);
        rc = 0;
    } else if (rc == 0) {
        rc = PARLEY_ENOTFOUND;
    }
    store_rows_free(r);
    if (rc < 0)
        api_admin_store_error(req, ctx, rc);
}

void api_admin_cconf_expire(struct http_req *req, struct admin_ctx *ctx)
{
    int64_t id, now = (int64_t)time(NULL), changed = 0;
    int rc;

    if (!param_cconf(req, ctx, &id))
        return;
    {
        struct store_val p[] = {STORE_INT(ctx->net), STORE_INT(id), STORE_INT(now)};
        rc = store_exec(ctx->c,
                        "UPDATE client_configs SET expired_at = $3 WHERE network_id = $1 AND "
                        "id = $2 AND expired_at IS NULL AND expires_at > $3",
                        p, 3, &changed);
    }
    if (rc < 0) {
        api_admin_store_error(req, ctx, rc);
        return;
    }
    if (changed)
        api_admin_audit(ctx, "client_config.expire", req->params[1],
                        json_pack("{s:I}", "id", (json_int_t)id));
    reply_one(req, ctx, 200, id, NULL);
}

/* ---- public: the landing page and the download ---- */

/* A token as admin_secret_new makes them: 43 base64url characters. */
static bool token_ok(const char *t)
{
    size_t n = strlen(t);
    if (n != ADMIN_SECRET_LEN)
        return false;
    for (; *t; t++)
        if (!((*t >= 'a' && *t <= 'z') || (*t >= 'A' && *t <= 'Z') || (*t >= '0' && *t <= '9') ||
              *t == '-' || *t == '_'))
            return false;
    return true;
}

static void html_escape(struct buf *b, const char *s)
{
    for (; *s; s++) {
        switch (*s) {
        case '<':
            buf_append_str(b, "&lt;");
            break;
        case '>':
            buf_append_str(b, "&gt;");
            break;
        case '&':
            buf_append_str(b, "&amp;");
            break;
        case '"':
            buf_append_str(b, "&quot;");
            break;
        case '\'':
            buf_append_str(b, "&#39;");
            break;
        default:
            buf_append_byte(b, (uint8_t)*s);
        }
    }
}

static void public_headers(struct http_req *req)
{
    /* The token is in the URL: keep it out of Referer headers and caches. */
    http_add_header(req, "referrer-policy", "no-referrer");
    http_add_header(req, "cache-control", "no-store");
    http_add_header(req, "x-content-type-options", "nosniff");
}

/* Look up an active file by its token. With `want_file`, *r is positioned
 * on (name, file, network name, expires_at, host, port); without, the file
 * column is empty. Returns 0, PARLEY_ENOTFOUND or a store error. */
static int find_active(struct store_conn *c, const char *token, bool want_file,
                       struct store_rows **r)
{
    char hash[ADMIN_HASH_LEN + 1];
    int64_t now = (int64_t)time(NULL);
    int rc;

    admin_hash(token, hash);
    struct store_val p[] = {STORE_TEXT(hash), STORE_INT(now)};
    rc = store_query(c,
                     want_file
                         ? "SELECT cc.name, cc.file, n.name, cc.expires_at, cc.service_host, "
                           "cc.service_port, cc.id FROM client_configs cc JOIN networks n ON "
                           "n.id = cc.network_id WHERE cc.token_hash = $1 AND cc.expired_at IS "
                           "NULL AND cc.expires_at > $2"
                         : "SELECT cc.name, '', n.name, cc.expires_at, cc.service_host, "
                           "cc.service_port, cc.id FROM client_configs cc JOIN networks n ON "
                           "n.id = cc.network_id WHERE cc.token_hash = $1 AND cc.expired_at IS "
                           "NULL AND cc.expires_at > $2",
                     p, 2, r);
    if (rc == 0 && (rc = store_rows_next(*r)) == 1)
        return 0;
    store_rows_free(*r);
    *r = NULL;
    return rc == 0 ? PARLEY_ENOTFOUND : rc;
}

static void gone(struct http_req *req, int rc)
{
    public_headers(req);
    if (rc == PARLEY_ENOTFOUND)
        http_reply_error(req, 404, "not_found",
                         "this configuration link does not exist or has expired; ask your "
                         "administrator for a new one");
    else
        http_reply_error(req, 503, "busy", "the database is busy; try again");
}

void api_cconf_landing(struct http_req *req)
{
    struct store_conn *c = NULL;
    struct store_rows *r = NULL;
    struct buf b = BUF_INIT(16 * 1024);
    const char *token = req->params[0];
    char date[32] = "", base[300], download[400];
    json_t *links = NULL;
    int rc = PARLEY_ENOTFOUND;

    if (token_ok(token) && (rc = store_conn_get(req->srv->store, &c)) == 0)
        rc = find_active(c, token, false, &r);
    if (rc < 0) {
        gone(req, rc);
        goto out;
    }
    {
        time_t t = (time_t)store_rows_int(r, 3);
        struct tm tm;
        if (gmtime_r(&t, &tm))
            strftime(date, sizeof(date), "%Y-%m-%d %H:%M UTC", &tm);
    }
    base_url(store_rows_text(r, 4), (int)store_rows_int(r, 5), base, sizeof(base));
    snprintf(download, sizeof(download), "/config/%s/file", token);
    links = cconf_links(store_rows_text(r, 4), (int)store_rows_int(r, 5), token);
    buf_append_str(&b, "<!doctype html>\n<html lang=\"en\"><head><meta charset=\"utf-8\">"
                       "<meta name=\"viewport\" content=\"width=device-width, initial-scale=1\">"
                       "<title>Set up your messaging client</title>"
                       "<style>body{font-family:sans-serif;max-width:40em;margin:2em auto;"
                       "padding:0 1em;line-height:1.5}a.b{display:inline-block;padding:.5em 1em;"
                       "border:1px solid #246;border-radius:4px;text-decoration:none}</style>"
                       "</head><body>\n<h1>Set up your messaging client</h1>\n<p>Network: <b>");
    html_escape(&b, store_rows_text(r, 2));
    buf_append_str(&b, "</b></p>\n<ol>\n<li>Install the client on this device.</li>\n"
                       "<li>On a desktop, <a class=\"b\" href=\"");
    html_escape(&b, json_string_value(json_object_get(links, "deeplink")));
    buf_append_str(&b, "\">open the configuration in the app</a>. Elsewhere, or if nothing "
                       "happens, <a class=\"b\" download href=\"");
    html_escape(&b, download);
    buf_append_str(&b, "\">download the configuration file</a> and open it with the app.</li>\n"
                       "<li>Enter the configuration password your administrator gave you, if "
                       "any, then your username and password.</li>\n</ol>\n<p>This link works "
                       "until ");
    html_escape(&b, date);
    buf_append_str(&b, ".</p>\n</body></html>\n");
    public_headers(req);
    http_add_header(req, "content-security-policy",
                    "default-src 'none'; style-src 'unsafe-inline'; frame-ancestors 'none'");
    http_reply(req, 200, "text/html; charset=utf-8", b.data, b.len);
out:
    json_decref(links);
    store_rows_free(r);
    if (c)
        store_conn_put(req->srv->store, c);
    buf_release(&b);
}

void api_cconf_download(struct http_req *req)
{
    struct store_conn *c = NULL;
    struct store_rows *r = NULL;
    const char *token = req->params[0];
    int rc = PARLEY_ENOTFOUND;

    if (token_ok(token) && (rc = store_conn_get(req->srv->store, &c)) == 0)
        rc = find_active(c, token, true, &r);
    if (rc < 0) {
        gone(req, rc);
        goto out;
    }
    {
        size_t n = 0;
        const uint8_t *file = store_rows_blob(r, 1, &n);
        int64_t id = store_rows_int(r, 6);
        http_add_header(req, "referrer-policy", "no-referrer");
        reply_file(req, store_rows_text(r, 0), file, n);
        store_rows_free(r);
        r = NULL;
        struct store_val p[] = {STORE_INT(id)};
        if (store_exec(c, "UPDATE client_configs SET downloads = downloads + 1 WHERE id = $1", p, 1,
                       NULL) < 0)
            log_warnx("client configuration %lld: cannot count the download", (long long)id);
    }
out:
    store_rows_free(r);
    if (c)
        store_conn_put(req->srv->store, c);
}
