/* admin_util.c - see admin_util.h. */
#include "admin_util.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <liboath/oath.h>

char *adm_fmt(const char *fmt, ...)
{
    va_list ap;
    char *s = NULL;
    va_start(ap, fmt);
    if (vasprintf(&s, fmt, ap) < 0)
        s = NULL;
    va_end(ap);
    return s;
}

long adm_req_raw(const struct parleyd *p, const struct adm *s, const char *method, const char *path,
                 const char *body, struct http_resp *r)
{
    char h1[256], h2[256];
    const char *hdrs[3] = {NULL, NULL, NULL};
    int n = 0;

    if (s && s->bearer[0]) {
        snprintf(h1, sizeof(h1), "Authorization: Bearer %s", s->bearer);
        hdrs[n++] = h1;
    } else if (s && s->cookie[0]) {
        snprintf(h1, sizeof(h1), "Cookie: parley_admin=%s", s->cookie);
        hdrs[n++] = h1;
        if (!s->no_csrf) {
            snprintf(h2, sizeof(h2), "X-CSRF-Token: %s", s->csrf);
            hdrs[n++] = h2;
        }
    }
    if (harness_http_h(p, method, path, body, hdrs, r) < 0)
        return -1;
    return r->status;
}

long adm_req(const struct parleyd *p, const struct adm *s, const char *method, const char *path,
             const char *body, json_t **out)
{
    struct http_resp r;
    long st = adm_req_raw(p, s, method, path, body, &r);
    if (out)
        *out = r.body && r.body[0] ? json_loads(r.body, 0, NULL) : NULL;
    http_resp_free(&r);
    return st;
}

long adm_login(const struct parleyd *p, const char *user, const char *pw, const char *totp,
               struct adm *s, struct http_resp *resp)
{
    struct http_resp r;
    json_t *body = json_pack("{s:s,s:s}", "username", user, "password", pw), *j;
    char *text;
    long st;

    if (totp)
        json_object_set_new(body, "totp", json_string(totp));
    text = json_dumps(body, JSON_COMPACT);
    json_decref(body);
    st = adm_req_raw(p, NULL, "POST", "/api/v1/admin/login", text, &r);
    free(text);
    if (st == 200 && s) {
        const char *c = strcasestr(r.headers, "set-cookie: parley_admin=");
        memset(s, 0, sizeof(*s));
        if (c) {
            c += strlen("set-cookie: parley_admin=");
            snprintf(s->cookie, sizeof(s->cookie), "%.*s", (int)strcspn(c, ";\r\n"), c);
        }
        j = json_loads(r.body, 0, NULL);
        snprintf(s->csrf, sizeof(s->csrf), "%s",
                 json_string_value(json_object_get(j, "csrf_token")) ?: "");
        json_decref(j);
    }
    if (resp)
        *resp = r;
    else
        http_resp_free(&r);
    return st;
}

const char *adm_err_code(const json_t *j)
{
    const char *s = json_string_value(json_object_get(json_object_get(j, "error"), "code"));
    return s ? s : "";
}

const char *adm_err_msg(const json_t *j)
{
    const char *s = json_string_value(json_object_get(json_object_get(j, "error"), "message"));
    return s ? s : "";
}

void adm_first_password(const struct parleyd *p, char out[64])
{
    char *o = harness_read(p, "stdout.txt");
    const char *pw = o ? strstr(o, "password:") : NULL;
    out[0] = 0;
    if (pw) {
        pw += strlen("password:");
        while (*pw == ' ')
            pw++;
        snprintf(out, 64, "%.*s", (int)strcspn(pw, " \n"), pw);
    }
    free(o);
}

int adm_bootstrap(const struct parleyd *p, struct adm *s)
{
    char pw[64], *body;
    long st;

    adm_first_password(p, pw);
    if (adm_login(p, "admin", pw, NULL, s, NULL) != 200)
        return -1;
    body = adm_fmt("{\"current_password\":\"%s\",\"new_password\":\"%s\"}", pw, ADM_SUPER_PW);
    st = adm_req(p, s, "POST", "/api/v1/admin/me/password", body, NULL);
    free(body);
    return st == 200 ? 0 : -1;
}

void adm_totp(const char *secret, time_t t, char out[7])
{
    char *raw = NULL;
    size_t len = 0;

    oath_init();
    oath_base32_decode(secret, strlen(secret), &raw, &len);
    /* Flags 0: HMAC-SHA1. */
    oath_totp_generate(raw, len, t, 30, 0, 6, out);
    free(raw);
    oath_done();
}
