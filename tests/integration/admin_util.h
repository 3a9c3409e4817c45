/* admin_util.h - admin API helpers for integration tests: sign-in,
 * requests as a session or an API token, TOTP codes. */
#ifndef PARLEY_TESTS_ADMIN_UTIL_H
#define PARLEY_TESTS_ADMIN_UTIL_H

#include "harness.h"

#include <stdbool.h>
#include <time.h>

#include <jansson.h>

/* A caller of the admin API: a cookie session (cookie + csrf) or a bearer
 * token. All empty: anonymous. */
struct adm {
    char cookie[128];
    char csrf[128];
    char bearer[128];
    bool no_csrf; /* leave X-CSRF-Token out (to test it is required) */
};

#define ADM_SUPER_PW "Super-Secret-Pass-42!"
#define ADM_PW       "Network-Admin-Pass-7?"

/* Sign in; on 200 fills *s (cookie from Set-Cookie, csrf from the body).
 * `totp` may be NULL. Returns the status; *resp (if not NULL) gets the
 * response, to free with http_resp_free. */
long adm_login(const struct parleyd *p, const char *user, const char *pw, const char *totp,
               struct adm *s, struct http_resp *resp);

/* One request as `s` (NULL: anonymous). Returns the status, or -1. *out
 * (if not NULL) gets the parsed JSON body or NULL. */
long adm_req(const struct parleyd *p, const struct adm *s, const char *method, const char *path,
             const char *body, json_t **out);
/* The same with the raw response. */
long adm_req_raw(const struct parleyd *p, const struct adm *s, const char *method, const char *path,
                 const char *body, struct http_resp *r);

/* printf-style JSON request body or path helper: a malloc'd string. */
char *adm_fmt(const char *fmt, ...) __attribute__((format(printf, 1, 2)));

/* The error code / message of an error reply ("" if none). */
const char *adm_err_code(const json_t *j);
const char *adm_err_msg(const json_t *j);

/* The one-time password the first start printed. */
void adm_first_password(const struct parleyd *p, char out[64]);

/* Sign in as the bootstrap super administrator with the printed password,
 * change it to ADM_SUPER_PW, and leave *s signed in. Returns 0. */
int adm_bootstrap(const struct parleyd *p, struct adm *s);

/* The 6-digit TOTP code of base32 `secret` at time `t`. */
void adm_totp(const char *secret, time_t t, char out[7]);

#endif
