/* api_admin_deploy.c - the super administrator's deployment pages:
 * Settings, Manage Room Bot, Global Federation (with Multitenant Domain
 * Visibility), Appearance and the crash report; plus the public
 * appearance endpoints the console's sign-in page reads.
 *
 * Settings are declared once in deploy_settings[] (the same table format
 * and validator as the security-group settings) and stored as one JSON
 * object of the values set explicitly under the kv key
 * "deployment.settings". Appearance is stored under "deployment.appearance"
 * ({"login_text", "logo": {"type", "data" (base64), "sha256"}}). */
#include "admin_json.h"
#include "api_admin.h"
#include "api_admin_tools.h"
#include "b64.h"
#include "common/log.h"
#include "common/str.h"
#include "config.h"
#include "logo.h"
#include "sgroup_settings.h"
#include "store.h"

#include <jansson.h>
#include <libwebsockets.h>
#include <openssl/crypto.h>
#include <openssl/sha.h>
#include <sqlite3.h>

#define KV_SETTINGS    "deployment.settings"
#define KV_APPEARANCE  "deployment.appearance"
#define LOGIN_TEXT_MAX 1000
#define CRASH_LOG_MAX  (256 * 1024)

static const struct sgroup_setting deploy_settings[] = {
    /* Settings */
    {"allow_private_ips", "settings", SGS_BOOL, "false", 0, 0, 0, NULL, SGS_SERVER,
     "Allow private IP addresses for identity-provider endpoints (SSO configuration)."},
    /* Manage Room Bot */
    {"room_bot_enabled", "room_bot", SGS_BOOL, "false", 0, 0, 0, NULL, SGS_SERVER,
     "Let network administrators define default rooms managed by the room bot. Turning it off "
     "leaves existing rooms as they are, unmanaged."},
    /* Global Federation */
    {"global_federation", "federation", SGS_BOOL, "false", 0, 0, 0, NULL, SGS_SERVER,
     "Communicate with other deployments that have agreed to federate with this one."},
    {"federated_domains", "federation", SGS_STRING_LIST, "[]", 0, 100, 253, NULL, SGS_SERVER,
     "External domains allowed to communicate with this deployment."},
    {"local_domains", "federation", SGS_STRING_LIST, "[]", 0, 100, 253, NULL, SGS_SERVER,
     "Internal domains for usernames in this deployment (user@domain)."},
    /* Multitenant Domain Visibility */
    {"show_domains_to_admins", "federation", SGS_BOOL, "true", 0, 0, 0, NULL, SGS_SERVER,
     "Show the local domains to network administrators; off hides other networks' domains."},
};

/* A DNS name: labels of letters, digits and '-', not starting or ending
 * with '-', joined by dots (RFC 1123 §2.1). */
static bool domain_ok(const char *s)
{
    size_t label = 0;
    char prev = '.';

    if (!*s || strlen(s) > 253)
        return false;
    for (; *s; prev = *s++) {
        char c = *s;
        if (c == '.') {
            if (label == 0 || prev == '-')
                return false;
            label = 0;
        } else if ((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
                   (c == '-' && label > 0)) {
            if (++label > 63)
                return false;
        } else {
            return false;
        }
    }
    return label > 0 && prev != '-';
}

static int kv_get(struct store_conn *c, const char *key, json_t **out)
{
    struct store_val p[] = {STORE_TEXT(key)};
    struct store_rows *r = NULL;
    int rc = store_query(c, "SELECT value FROM kv WHERE key = $1", p, 1, &r);

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

static int kv_put(struct store_conn *c, const char *key, const json_t *value)
{
    char *text = json_dumps(value, JSON_COMPACT | JSON_SORT_KEYS);
    struct store_val p[] = {STORE_TEXT(key), STORE_TEXT(text), STORE_INT((int64_t)time(NULL))};
    int rc = store_exec(c,
                        "INSERT INTO kv (key, value, updated_at) VALUES ($1, $2, $3) ON CONFLICT "
                        "(key) DO UPDATE SET value = excluded.value, updated_at = "
                        "excluded.updated_at",
                        p, 3, NULL);
    free(text);
    return rc;
}

static void reply_settings(struct http_req *req, struct admin_ctx *ctx, const json_t *stored)
{
    json_t *filled = sgroup_settings_fill(deploy_settings, ARRAY_SIZE(deploy_settings), stored);
    (void)ctx;
    http_reply_json(
        req, 200,
        json_pack("{s:o,s:o}", "settings", filled, "table",
                  sgroup_settings_describe(deploy_settings, ARRAY_SIZE(deploy_settings))));
}

void api_admin_deploy_settings_get(struct http_req *req, struct admin_ctx *ctx)
{
    json_t *stored = NULL;
    int rc = kv_get(ctx->c, KV_SETTINGS, &stored);
    if (rc < 0)
        api_admin_store_error(req, ctx, rc);
    else
        reply_settings(req, ctx, stored);
    json_decref(stored);
}

static const struct admin_field settings_fields[] = {
    {"settings", AF_OBJECT, true, 0, 0, NULL},
};

void api_admin_deploy_settings_update(struct http_req *req, struct admin_ctx *ctx)
{
    json_t *body = api_admin_body(req, settings_fields, ARRAY_SIZE(settings_fields));
    json_t *update, *stored = NULL;
    static const char *const lists[] = {"federated_domains", "local_domains"};
    char err[512];
    int rc;

    if (!body)
        return;
    update = json_object_get(body, "settings");
    if (sgroup_settings_validate(deploy_settings, ARRAY_SIZE(deploy_settings), update, err,
                                 sizeof(err)) < 0) {
        http_reply_error(req, 400, "bad_request", "%s", err);
        goto out;
    }
    for (size_t k = 0; k < ARRAY_SIZE(lists); k++) {
        json_t *v, *arr = json_object_get(update, lists[k]);
        size_t i;
        json_array_foreach(arr, i, v)
        {
            if (!domain_ok(json_string_value(v))) {
                http_reply_error(req, 400, "bad_request",
                                 "setting '%s': item %zu is not a domain name (letters, digits "
                                 "and '-' in dot-separated labels)",
                                 lists[k], i);
                goto out;
            }
        }
    }
    rc = kv_get(ctx->c, KV_SETTINGS, &stored);
    if (rc == 0) {
        json_object_update(stored, update);
        rc = kv_put(ctx->c, KV_SETTINGS, stored);
    }
    if (rc < 0) {
        api_admin_store_error(req, ctx, rc);
        goto out;
    }
    api_admin_audit(ctx, "deployment.settings_update", "deployment", json_incref(update));
    reply_settings(req, ctx, stored);
out:
    json_decref(stored);
    json_decref(body);
}

/* ---- appearance ---- */

static json_t *appearance_public(const json_t *stored)
{
    const json_t *logo = json_object_get(stored, "logo");
    const char *text = json_string_value(json_object_get(stored, "login_text"));
    return json_pack(
        "{s:s,s:o}", "login_text", text ? text : "", "logo",
        logo
            ? json_pack("{s:O,s:O,s:O,s:O,s:s}", "type", json_object_get(logo, "type"), "sha256",
                        json_object_get(logo, "sha256"), "width", json_object_get(logo, "width"),
                        "height", json_object_get(logo, "height"), "url", "/api/v1/appearance/logo")
            : json_null());
}

void api_admin_deploy_appearance_get(struct http_req *req, struct admin_ctx *ctx)
{
    json_t *stored = NULL;
    int rc = kv_get(ctx->c, KV_APPEARANCE, &stored);
    if (rc < 0)
        api_admin_store_error(req, ctx, rc);
    else
        http_reply_json(req, 200, appearance_public(stored));
    json_decref(stored);
}

static const struct admin_field appearance_fields[] = {
    {"login_text", AF_STRING, false, 0, LOGIN_TEXT_MAX, NULL},
    {"logo_base64", AF_STRING, false, 4, B64_LEN(LOGO_MAX_BYTES), NULL},
    {"remove_logo", AF_BOOL, false, 0, 0, NULL},
};

void api_admin_deploy_appearance_update(struct http_req *req, struct admin_ctx *ctx)
{
    json_t *body = api_admin_body(req, appearance_fields, ARRAY_SIZE(appearance_fields));
    json_t *stored = NULL, *details = NULL;
    const char *b64s;
    uint8_t *img = NULL;
    size_t n = 0;
    int rc;

    if (!body)
        return;
    b64s = admin_json_str(body, "logo_base64", NULL);
    if (b64s && json_is_true(json_object_get(body, "remove_logo"))) {
        http_reply_error(req, 400, "bad_request",
                         "field 'remove_logo' cannot be true together with 'logo_base64'");
        goto out;
    }
    details = json_object();
    if (b64s) {
        const char *type;
        unsigned w, h;
        char err[256], hex[SHA256_DIGEST_LENGTH * 2 + 1];
        uint8_t md[SHA256_DIGEST_LENGTH];
        rc = b64_decode(b64s, strlen(b64s), LOGO_MAX_BYTES + 1, &img, &n);
        if (rc < 0) {
            http_reply_error(req, 400, "bad_request",
                             "field 'logo_base64' must be the image in base64 (RFC 4648 "
                             "section 4)");
            goto out;
        }
        if (logo_check(img, n, &type, &w, &h, err, sizeof(err)) < 0) {
            http_reply_error(req, 400, "bad_request", "field 'logo_base64': %s", err);
            goto out;
        }
        SHA256(img, n, md);
        hex_encode(md, sizeof(md), hex);
        json_object_set_new(details, "logo",
                            json_pack("{s:s,s:s,s:i,s:i,s:I}", "type", type, "sha256", hex, "width",
                                      (int)w, "height", (int)h, "size", (json_int_t)n));
    }
    rc = kv_get(ctx->c, KV_APPEARANCE, &stored);
    if (rc == 0) {
        json_t *logo = json_object_get(details, "logo");
        if (json_object_get(body, "login_text"))
            json_object_set(stored, "login_text", json_object_get(body, "login_text"));
        if (logo) {
            json_t *l = json_deep_copy(logo);
            json_object_set_new(l, "data", json_string(b64s));
            json_object_set_new(stored, "logo", l);
        } else if (json_is_true(json_object_get(body, "remove_logo"))) {
            json_object_del(stored, "logo");
            json_object_set_new(details, "logo_removed", json_true());
        }
        rc = kv_put(ctx->c, KV_APPEARANCE, stored);
    }
    if (rc < 0) {
        api_admin_store_error(req, ctx, rc);
        goto out;
    }
    if (json_object_get(body, "login_text"))
        json_object_set(details, "login_text", json_object_get(body, "login_text"));
    api_admin_audit(ctx, "deployment.appearance_update", "deployment", json_incref(details));
    http_reply_json(req, 200, appearance_public(stored));
out:
    free(img);
    json_decref(details);
    json_decref(stored);
    json_decref(body);
}

/* Public: what the console's sign-in page shows. */
void api_appearance(struct http_req *req)
{
    struct store_conn *c = NULL;
    json_t *stored = NULL;
    int rc = store_conn_get(req->srv->store, &c);
    if (rc == 0)
        rc = kv_get(c, KV_APPEARANCE, &stored);
    if (c)
        store_conn_put(req->srv->store, c);
    if (rc < 0)
        http_reply_error(req, 503, "busy", "the database is busy; try again");
    else
        http_reply_json(req, 200, appearance_public(stored));
    json_decref(stored);
}

void api_appearance_logo(struct http_req *req)
{
    struct store_conn *c = NULL;
    json_t *stored = NULL, *logo;
    uint8_t *img = NULL;
    size_t n = 0;
    const char *data, *type;
    int rc = store_conn_get(req->srv->store, &c);

    if (rc == 0)
        rc = kv_get(c, KV_APPEARANCE, &stored);
    if (c)
        store_conn_put(req->srv->store, c);
    logo = json_object_get(stored, "logo");
    data = json_string_value(json_object_get(logo, "data"));
    type = json_string_value(json_object_get(logo, "type"));
    if (rc < 0) {
        http_reply_error(req, 503, "busy", "the database is busy; try again");
    } else if (!data || !type || b64_decode(data, strlen(data), LOGO_MAX_BYTES, &img, &n) < 0) {
        http_reply_error(req, 404, "not_found", "no custom logo is set");
    } else {
        http_add_header(req, "x-content-type-options", "nosniff");
        http_add_header(req, "content-security-policy", "default-src 'none'");
        http_add_header(req, "cache-control", "no-cache");
        /* The reply keeps the pointer: hand it a literal, not JSON text. */
        http_reply(req, 200, strcmp(type, "image/png") == 0 ? "image/png" : "image/jpeg", img, n);
    }
    free(img);
    json_decref(stored);
}

/* ---- crash report ---- */

static char *config_text(const struct config *cfg)
{
    char *text = NULL;
    size_t len = 0;
    FILE *f = open_memstream(&text, &len);
    if (!f)
        return NULL;
    config_print(cfg, f); /* redacts the store password */
    fclose(f);
    return text;
}

/* The last `max` bytes of DATA_DIR/parleyd.log, starting at a line. */
static json_t *recent_log(const struct config *cfg, size_t max)
{
    char path[4096], *buf;
    FILE *f;
    long size;
    size_t n;
    json_t *j;

    snprintf(path, sizeof(path), "%s/parleyd.log", cfg->data_dir);
    f = fopen(path, "rb");
    if (!f)
        return json_null();
    if (fseek(f, 0, SEEK_END) < 0 || (size = ftell(f)) < 0 ||
        fseek(f, size > (long)max ? size - (long)max : 0, SEEK_SET) < 0) {
        fclose(f);
        return json_null();
    }
    buf = malloc(max + 1);
    n = buf ? fread(buf, 1, max, f) : 0;
    fclose(f);
    if (!buf)
        return json_null();
    buf[n] = 0;
    {
        const char *start = buf;
        if (size > (long)max && strchr(buf, '\n'))
            start = strchr(buf, '\n') + 1;
        /* jansson refuses text that is not UTF-8. */
        j = json_stringn(start, strlen(start));
        if (!j)
            j = json_string("(the log holds bytes that are not UTF-8; read it on the server)");
    }
    free(buf);
    return j;
}

void api_admin_deploy_crash_report(struct http_req *req, struct admin_ctx *ctx)
{
    char *cfgtext = config_text(req->srv->cfg), stamp[32], disp[96];
    time_t now = time(NULL);
    struct tm tm;
    json_t *report;
    char *text;
    int schema = store_schema_version(req->srv->store);
    json_error_t jerr;

    gmtime_r(&now, &tm);
    strftime(stamp, sizeof(stamp), "%Y%m%dT%H%M%SZ", &tm);
    report = json_pack_ex(
        &jerr, 0, "{s:s,s:I,s:{s:s,s:s,s:s,s:s,s:s},s:{s:s,s:i,s:i},s:s,s:o,s:s}", "generated_at",
        stamp, "uptime_seconds", (json_int_t)(now - req->srv->started), "versions", "parleyd",
        PARLEY_VERSION, "openssl", OpenSSL_version(OPENSSL_VERSION), "libwebsockets",
        lws_get_library_version(), "sqlite", sqlite3_libversion(), "jansson", JANSSON_VERSION,
        "store", "backend", store_backend(req->srv->store), "schema_version", schema,
        "schema_latest", store_schema_latest(), "configuration", cfgtext ? cfgtext : "",
        "recent_log", recent_log(req->srv->cfg, CRASH_LOG_MAX), "recent_log_note",
        "the last 256 KiB of DATA_DIR/parleyd.log when parleyd writes one; otherwise null "
        "(logs on standard error are with the service manager)");
    free(cfgtext);
    if (!report) {
        log_warnx("crash report: %s", jerr.text);
        http_reply_error(req, 500, "internal", "the crash report could not be built");
        return;
    }
    text = json_dumps(report, JSON_INDENT(2) | JSON_SORT_KEYS);
    json_decref(report);
    snprintf(disp, sizeof(disp), "attachment; filename=\"parleyd-crash-report-%s.json\"", stamp);
    http_add_header(req, "content-disposition", disp);
    api_admin_audit(ctx, "deployment.crash_report", "deployment", NULL);
    http_reply(req, 200, "application/json", text, text ? strlen(text) : 0);
    free(text);
}

int api_admin_deploy_setting(struct store_conn *c, const char *name, json_t **out)
{
    json_t *stored = NULL, *filled;
    int rc = kv_get(c, KV_SETTINGS, &stored);

    *out = NULL;
    if (rc < 0)
        return rc;
    filled = sgroup_settings_fill(deploy_settings, ARRAY_SIZE(deploy_settings), stored);
    *out = json_incref(json_object_get(filled, name));
    json_decref(filled);
    json_decref(stored);
    return *out ? 0 : PARLEY_ENOTFOUND;
}

int api_admin_local_domain_check(struct store_conn *c, const char *username, char *err,
                                 size_t errlen)
{
    json_t *list = NULL, *d;
    const char *at = strrchr(username, '@');
    struct buf names = BUF_INIT(8192);
    size_t i;
    int rc = api_admin_deploy_setting(c, "local_domains", &list);

    if (rc < 0 || json_array_size(list) == 0)
        goto out;
    json_array_foreach(list, i, d)
    {
        if (at && at != username && strcasecmp(at + 1, json_string_value(d)) == 0)
            goto out;
        (void)buf_printf(&names, "%s%s", i ? ", " : "", json_string_value(d));
    }
    snprintf(err, errlen,
             "field 'username' must be name@domain with one of this deployment's local domains "
             "(%s)",
             names.data ? (const char *)names.data : "");
    rc = PARLEY_EINVAL;
out:
    buf_release(&names);
    json_decref(list);
    return rc;
}
