/* admin_test.c - the admin plane end to end: first sign-in, forced
 * password change, TOTP, lockout, one session per administrator, CSRF,
 * networks and their administrators, users and security groups, roles,
 * API tokens, the audit log, an authorization matrix generated from the
 * route table and a bad-input corpus for every endpoint with a body.
 * Runs once per store backend. */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>
#include <sys/socket.h>

#include <jansson.h>

#include "admin_util.h"
#include "msgutil.h"
#include "server/admin_openapi.h"
#include "server/api_admin.h"
#include "server/http.h"
#include "proto/ids.h"
#include "server/rbac.h"
#include "testdb.h"

/* Small lockout limit, and no sign-in rate limit to get in the way of the
 * many sign-ins below (the limiter has its own test). */
#define TEST_CONFIG "admin_lockout_attempts = 3\nadmin_login_rate = 100000\n"

/* Everything the shared-server tests set up once. */
struct world {
    struct parleyd p;
    struct adm super;
    char net_a[32], net_b[32];
    int64_t na_id, nb_id, viewer_id;
    struct adm na, nb, viewer, tok_dep, tok_net;
    int64_t group_a; /* a non-default security group of A */
    char user_a[40]; /* a user of A, hex id */
    int64_t role_id; /* the custom role "viewer" */
};

/* Does the JSON text of `j` contain `needle`? */
static const char *dump_has(const json_t *j, const char *needle)
{
    char *d = json_dumps(j, 0);
    const char *hit = d && strstr(d, needle) ? needle : NULL;
    free(d);
    return hit;
}

/* Stop parleyd with SIGTERM: it must exit 0 with nothing from the
 * sanitizers in its log (leaks are reported at exit). */
static void stop_clean(struct parleyd *p)
{
    int status = harness_stop(p, SIGTERM, 30, NULL);
    char *log = harness_read(p, "parleyd.log");
    assert_non_null(log);
    if (status != 0 || strstr(log, "Sanitizer") || strstr(log, "runtime error")) {
        fprintf(stderr, "%s\n", log);
        free(log);
        fail_msg("parleyd exited with %d (its log is above)", status);
    }
    free(log);
}

static json_t *must(long want, long got, json_t *j, const char *what)
{
    if (got != want) {
        char *s = j ? json_dumps(j, JSON_COMPACT) : NULL;
        fprintf(stderr, "%s: want %ld, got %ld: %s\n", what, want, got, s ? s : "(no body)");
        free(s);
    }
    assert_int_equal(got, want);
    return j;
}

/* POST/PATCH... expecting `want`; returns the JSON (caller frees). */
static json_t *call(struct world *w, const struct adm *s, long want, const char *method,
                    const char *path, const char *body)
{
    json_t *j = NULL;
    long st = adm_req(&w->p, s, method, path, body, &j);
    char what[600];
    snprintf(what, sizeof(what), "%s %s", method, path);
    return must(want, st, j, what);
}

static void create_admin(struct world *w, const char *user, const char *extra, int64_t *id)
{
    char *b = adm_fmt("{\"username\":\"%s\",\"password\":\"%s\",\"must_change_password\":false%s}",
                      user, ADM_PW, extra ? extra : "");
    json_t *j = call(w, &w->super, 201, "POST", "/api/v1/admin/admins", b);
    *id = json_integer_value(json_object_get(j, "id"));
    json_decref(j);
    free(b);
}

static void make_token(struct world *w, const char *body, struct adm *out)
{
    json_t *j = call(w, &w->super, 201, "POST", "/api/v1/admin/tokens", body);
    memset(out, 0, sizeof(*out));
    snprintf(out->bearer, sizeof(out->bearer), "%s",
             json_string_value(json_object_get(j, "token")));
    assert_true(strncmp(out->bearer, "pat_", 4) == 0);
    json_decref(j);
}

static int setup_world(void **state)
{
    struct world *w = calloc(1, sizeof(*w));
    json_t *j;
    char *b;

    if (harness_init(&w->p, TEST_CONFIG) < 0 || harness_start(&w->p) < 0 ||
        adm_bootstrap(&w->p, &w->super) < 0) {
        harness_cleanup(&w->p);
        free(w);
        return -1;
    }
    *state = w;
    j = call(w, &w->super, 201, "POST", "/api/v1/admin/networks",
             "{\"name\":\"Network A\",\"federation_domain\":\"a.example\"}");
    snprintf(w->net_a, sizeof(w->net_a), "%s", json_string_value(json_object_get(j, "network_id")));
    json_decref(j);
    j = call(w, &w->super, 201, "POST", "/api/v1/admin/networks", "{\"name\":\"Network B\"}");
    snprintf(w->net_b, sizeof(w->net_b), "%s", json_string_value(json_object_get(j, "network_id")));
    json_decref(j);

    b = adm_fmt(",\"networks\":[\"%s\"],\"first_name\":\"Nia\"", w->net_a);
    create_admin(w, "na", b, &w->na_id);
    free(b);
    b = adm_fmt(",\"networks\":[\"%s\"]", w->net_b);
    create_admin(w, "nb", b, &w->nb_id);
    free(b);
    j = call(w, &w->super, 201, "POST", "/api/v1/admin/roles",
             "{\"name\":\"viewer\",\"permissions\":[\"networks.read\",\"users.read\","
             "\"security_groups.read\"]}");
    w->role_id = json_integer_value(json_object_get(j, "id"));
    json_decref(j);
    b = adm_fmt(",\"networks\":[\"%s\"],\"role\":\"viewer\"", w->net_a);
    create_admin(w, "viewer", b, &w->viewer_id);
    free(b);
    assert_int_equal(adm_login(&w->p, "na", ADM_PW, NULL, &w->na, NULL), 200);
    assert_int_equal(adm_login(&w->p, "nb", ADM_PW, NULL, &w->nb, NULL), 200);
    assert_int_equal(adm_login(&w->p, "viewer", ADM_PW, NULL, &w->viewer, NULL), 200);

    make_token(w, "{\"label\":\"deploy script\",\"scope\":\"deployment\"}", &w->tok_dep);
    b = adm_fmt("{\"label\":\"net script\",\"scope\":\"network\",\"network_id\":\"%s\"}", w->net_a);
    make_token(w, b, &w->tok_net);
    free(b);

    b = adm_fmt("/api/v1/admin/networks/%s/security-groups", w->net_a);
    j = call(w, &w->na, 201, "POST", b, "{\"name\":\"Field team\"}");
    w->group_a = json_integer_value(json_object_get(j, "id"));
    json_decref(j);
    free(b);
    b = adm_fmt("/api/v1/admin/networks/%s/users", w->net_a);
    j = call(w, &w->na, 201, "POST", b,
             "{\"username\":\"alice\",\"password\":\"Alice-pass-1\",\"first_name\":\"Alice\"}");
    snprintf(w->user_a, sizeof(w->user_a), "%s", json_string_value(json_object_get(j, "user_id")));
    json_decref(j);
    free(b);
    return 0;
}

static int teardown_world(void **state)
{
    struct world *w = *state;
    harness_cleanup(&w->p);
    free(w);
    return 0;
}

/* ---- a fresh server: first sign-in, forced change, TOTP ---- */

static void test_admin__first_signin_forced_change_and_totp(void **state)
{
    struct parleyd p;
    struct adm s, s2;
    struct http_resp r;
    char pw[64], code[7], *b;
    json_t *j = NULL;
    const char *secret;
    struct timespec t0, t1;

    /* The default lockout limit (5): this test fails four times on purpose. */
    assert_int_equal(harness_init(&p, "admin_login_rate = 100000\n"), 0);
    assert_int_equal(harness_start(&p), 0);
    adm_first_password(&p, pw);
    assert_int_equal(strlen(pw), 20);

    /* Wrong password first: refused, and nothing says which part was wrong. */
    assert_int_equal(adm_login(&p, "admin", "not-it", NULL, NULL, NULL), 401);
    clock_gettime(CLOCK_MONOTONIC, &t0);
    assert_int_equal(adm_login(&p, "admin", pw, NULL, &s, &r), 200);
    clock_gettime(CLOCK_MONOTONIC, &t1);
    fprintf(stderr, "# sign-in took %.0f ms\n",
            (double)(t1.tv_sec - t0.tv_sec) * 1e3 + (double)(t1.tv_nsec - t0.tv_nsec) / 1e6);
    /* The session cookie's flags. */
    assert_non_null(strcasestr(r.headers, "set-cookie: parley_admin="));
    assert_non_null(strstr(r.headers, "HttpOnly"));
    assert_non_null(strstr(r.headers, "Secure"));
    assert_non_null(strstr(r.headers, "SameSite=Strict"));
    assert_non_null(strstr(r.headers, "Path=/"));
    assert_non_null(strstr(r.body, "\"must_change_password\":true"));
    http_resp_free(&r);

    /* Everything but the account endpoints waits for the new password. */
    assert_int_equal(adm_req(&p, &s, "GET", "/api/v1/admin/admins", NULL, &j), 403);
    assert_string_equal(adm_err_code(j), "password_change_required");
    json_decref(j);
    assert_int_equal(adm_req(&p, &s, "GET", "/api/v1/admin/me", NULL, NULL), 200);

    /* The policy is stated in the error. */
    b = adm_fmt("{\"current_password\":\"%s\",\"new_password\":\"short\"}", pw);
    assert_int_equal(adm_req(&p, &s, "POST", "/api/v1/admin/me/password", b, &j), 400);
    assert_non_null(strstr(adm_err_msg(j), "new_password"));
    assert_non_null(strstr(adm_err_msg(j), "at least 12 characters"));
    json_decref(j);
    free(b);
    b = adm_fmt("{\"current_password\":\"%s\",\"new_password\":\"%s\"}", pw, ADM_SUPER_PW);
    assert_int_equal(adm_req(&p, &s, "POST", "/api/v1/admin/me/password", b, NULL), 200);
    free(b);
    assert_int_equal(adm_req(&p, &s, "GET", "/api/v1/admin/admins", NULL, NULL), 200);
    /* The one-time password is gone. */
    assert_int_equal(adm_login(&p, "admin", pw, NULL, NULL, NULL), 401);

    /* TOTP enrolment. */
    assert_int_equal(adm_req(&p, &s, "POST", "/api/v1/admin/me/totp/begin", NULL, &j), 200);
    secret = json_string_value(json_object_get(j, "secret"));
    assert_non_null(secret);
    assert_true(
        strncmp(json_string_value(json_object_get(j, "otpauth_uri")), "otpauth://totp/", 15) == 0);
    assert_true(strncmp(json_string_value(json_object_get(j, "qr_svg")), "<svg", 4) == 0);
    b = strdup(secret);
    json_decref(j);
    assert_int_equal(
        adm_req(&p, &s, "POST", "/api/v1/admin/me/totp/confirm", "{\"code\":\"000000x\"}", NULL),
        400);
    adm_totp(b, time(NULL), code);
    {
        char *body = adm_fmt("{\"code\":\"%s\"}", code);
        assert_int_equal(adm_req(&p, &s, "POST", "/api/v1/admin/me/totp/confirm", body, NULL), 200);
        free(body);
    }
    /* The secret is never shown again. */
    assert_int_equal(adm_req(&p, &s, "GET", "/api/v1/admin/me", NULL, &j), 200);
    assert_true(json_is_true(json_object_get(j, "totp_enabled")));
    {
        char *dump = json_dumps(j, 0);
        assert_null(strstr(dump, b));
        free(dump);
    }
    json_decref(j);

    /* Sign-in now needs the code; a wrong one is refused; the enrolment
     * code cannot be replayed; the next step's code works. */
    assert_int_equal(adm_login(&p, "admin", ADM_SUPER_PW, NULL, NULL, NULL), 401);
    assert_int_equal(adm_login(&p, "admin", ADM_SUPER_PW, "123456", NULL, NULL) == 401 ||
                         strcmp(code, "123456") == 0,
                     1);
    assert_int_equal(adm_login(&p, "admin", ADM_SUPER_PW, code, NULL, NULL), 401);
    adm_totp(b, time(NULL) + 30, code);
    assert_int_equal(adm_login(&p, "admin", ADM_SUPER_PW, code, &s2, NULL), 200);
    assert_int_equal(adm_req(&p, &s2, "GET", "/api/v1/admin/me", NULL, NULL), 200);
    stop_clean(&p);
    /* At rest the secret is sealed (admin_auth.h), never in the clear. */
    {
        char *sql = adm_fmt("SELECT COUNT(*) FROM admins WHERE totp_secret LIKE 'v1:%%' AND "
                            "totp_secret NOT LIKE '%%%s%%'",
                            b);
        assert_int_equal(harness_provision_count(&p, sql), 1);
        free(sql);
    }
    free(b);
    harness_cleanup(&p);
}

/* ---- the shared server ---- */

static void test_admin__lockout_after_failures_and_unlock(void **state)
{
    struct world *w = *state;
    int64_t id;
    json_t *j;
    char *path;

    create_admin(w, "lockme", NULL, &id);
    for (int i = 0; i < 3; i++)
        assert_int_equal(adm_login(&w->p, "lockme", "Wrong-password-1!", NULL, NULL, NULL), 401);
    /* Locked: even the right password is refused. */
    assert_int_equal(adm_login(&w->p, "lockme", ADM_PW, NULL, NULL, NULL), 403);
    j = call(w, &w->super, 200, "GET", "/api/v1/admin/lockout", NULL);
    assert_true(json_integer_value(json_object_get(j, "locked_count")) >= 1);
    assert_true(json_integer_value(json_object_get(j, "failed_attempts_24h")) >= 3);
    assert_non_null(json_object_get(json_object_get(j, "users"), "suspended"));
    assert_non_null(dump_has(json_object_get(j, "locked"), "lockme"));
    json_decref(j);
    /* A network administrator cannot unlock. */
    path = adm_fmt("/api/v1/admin/admins/%lld/unlock", (long long)id);
    json_decref(call(w, &w->na, 403, "POST", path, NULL));
    json_decref(call(w, &w->super, 200, "POST", path, NULL));
    free(path);
    assert_int_equal(adm_login(&w->p, "lockme", ADM_PW, NULL, NULL, NULL), 200);
    j = call(w, &w->super, 200, "GET", "/api/v1/admin/audit?action=admin.locked", NULL);
    assert_true(json_array_size(json_object_get(j, "entries")) >= 1);
    json_decref(j);
}

static void test_admin__one_session_per_admin(void **state)
{
    struct world *w = *state;
    struct adm first, second;
    int64_t id;

    create_admin(w, "twice", NULL, &id);
    assert_int_equal(adm_login(&w->p, "twice", ADM_PW, NULL, &first, NULL), 200);
    assert_int_equal(adm_req(&w->p, &first, "GET", "/api/v1/admin/me", NULL, NULL), 200);
    assert_int_equal(adm_login(&w->p, "twice", ADM_PW, NULL, &second, NULL), 200);
    assert_int_equal(adm_req(&w->p, &first, "GET", "/api/v1/admin/me", NULL, NULL), 401);
    assert_int_equal(adm_req(&w->p, &second, "GET", "/api/v1/admin/me", NULL, NULL), 200);
    /* Logout ends the session. */
    assert_int_equal(adm_req(&w->p, &second, "POST", "/api/v1/admin/logout", NULL, NULL), 200);
    assert_int_equal(adm_req(&w->p, &second, "GET", "/api/v1/admin/me", NULL, NULL), 401);
}

static void test_admin__csrf_for_cookies_not_for_bearer_tokens(void **state)
{
    struct world *w = *state;
    struct adm s = w->super;
    json_t *j = NULL;

    s.no_csrf = true;
    assert_int_equal(adm_req(&w->p, &s, "POST", "/api/v1/admin/roles",
                             "{\"name\":\"csrf1\",\"permissions\":[]}", &j),
                     403);
    assert_string_equal(adm_err_code(j), "csrf");
    assert_non_null(strstr(adm_err_msg(j), "X-CSRF-Token"));
    json_decref(j);
    s.no_csrf = false;
    snprintf(s.csrf, sizeof(s.csrf), "%s", "not-the-token");
    assert_int_equal(adm_req(&w->p, &s, "POST", "/api/v1/admin/roles",
                             "{\"name\":\"csrf1\",\"permissions\":[]}", NULL),
                     403);
    /* Reads need no CSRF token. */
    s.no_csrf = true;
    assert_int_equal(adm_req(&w->p, &s, "GET", "/api/v1/admin/roles", NULL, &j), 200);
    assert_null(dump_has(j, "csrf1"));
    json_decref(j);
    /* Bearer tokens need none. */
    json_decref(call(w, &w->tok_dep, 201, "POST", "/api/v1/admin/roles",
                     "{\"name\":\"csrf2\",\"permissions\":[\"audit.read\"]}"));
    json_decref(call(w, &w->super, 201, "POST", "/api/v1/admin/roles",
                     "{\"name\":\"csrf1\",\"permissions\":[]}"));
}

static void test_admin__network_admin_runs_own_network_only(void **state)
{
    struct world *w = *state;
    char *path, *body;
    json_t *j, *e;
    size_t i;
    int64_t def = 0;

    /* The network list holds A only. */
    j = call(w, &w->na, 200, "GET", "/api/v1/admin/networks", NULL);
    assert_int_equal(json_array_size(json_object_get(j, "networks")), 1);
    assert_string_equal(json_string_value(json_object_get(
                            json_array_get(json_object_get(j, "networks"), 0), "network_id")),
                        w->net_a);
    json_decref(j);
    path = adm_fmt("/api/v1/admin/networks/%s", w->net_b);
    json_decref(call(w, &w->na, 404, "GET", path, NULL));
    free(path);
    path = adm_fmt("/api/v1/admin/networks/%s/users", w->net_b);
    json_decref(call(w, &w->na, 404, "POST", path,
                     "{\"username\":\"mallory\",\"password\":\"Mallory-pass-1\"}"));
    json_decref(call(w, &w->na, 404, "GET", path, NULL));
    free(path);
    /* Cannot create networks or administrators. */
    json_decref(call(w, &w->na, 403, "POST", "/api/v1/admin/networks", "{\"name\":\"X\"}"));
    json_decref(call(w, &w->na, 403, "GET", "/api/v1/admin/admins", NULL));

    /* Users: the group's password policy, then creation. */
    path = adm_fmt("/api/v1/admin/networks/%s/users", w->net_a);
    j = call(w, &w->na, 400, "POST", path, "{\"username\":\"bob\",\"password\":\"weakpass\"}");
    assert_non_null(strstr(adm_err_msg(j), "password"));
    assert_non_null(strstr(adm_err_msg(j), "uppercase"));
    json_decref(j);
    body = adm_fmt("{\"username\":\"bob\",\"password\":\"Bob-pass-123\",\"last_name\":\"B\","
                   "\"security_group_id\":%lld,\"user_type\":\"web_admin\"}",
                   (long long)w->group_a);
    j = call(w, &w->na, 201, "POST", path, body);
    free(body);
    assert_string_equal(json_string_value(json_object_get(j, "status")), "pending");
    assert_int_equal(strlen(json_string_value(json_object_get(j, "user_id"))), 32);
    json_decref(j);
    json_decref(
        call(w, &w->na, 409, "POST", path, "{\"username\":\"bob\",\"password\":\"Bob-pass-123\"}"));
    free(path);
    path = adm_fmt("/api/v1/admin/networks/%s/users?status=pending&limit=1", w->net_a);
    j = call(w, &w->na, 200, "GET", path, NULL);
    assert_int_equal(json_array_size(json_object_get(j, "users")), 1);
    assert_true(json_integer_value(json_object_get(j, "total")) >= 2);
    json_decref(j);
    free(path);

    /* Suspend and unsuspend. */
    path = adm_fmt("/api/v1/admin/networks/%s/users/%s/suspend", w->net_a, w->user_a);
    j = call(w, &w->na, 200, "POST", path, NULL);
    assert_string_equal(json_string_value(json_object_get(j, "status")), "suspended");
    json_decref(j);
    free(path);
    path = adm_fmt("/api/v1/admin/networks/%s/users/%s/unsuspend", w->net_a, w->user_a);
    j = call(w, &w->na, 200, "POST", path, NULL);
    assert_string_equal(json_string_value(json_object_get(j, "status")), "pending");
    json_decref(j);
    free(path);

    /* The directory as CSV. */
    {
        struct adm s = w->na;
        struct http_resp r;
        path = adm_fmt("/api/v1/admin/networks/%s/users.csv", w->net_a);
        assert_int_equal(adm_req_raw(&w->p, &s, "GET", path, NULL, &r), 200);
        assert_non_null(strstr(r.body, "username,first_name"));
        assert_non_null(strstr(r.body, "\"alice\""));
        assert_non_null(strcasestr(r.headers, "content-type: text/csv"));
        http_resp_free(&r);
        free(path);
    }

    /* Bots must be named ...bot. */
    path = adm_fmt("/api/v1/admin/networks/%s/bots", w->net_a);
    j = call(w, &w->na, 400, "POST", path,
             "{\"username\":\"helper\",\"password\":\"Bot-pass-12\"}");
    assert_non_null(strstr(adm_err_msg(j), "bot"));
    json_decref(j);
    json_decref(call(w, &w->na, 201, "POST", path,
                     "{\"username\":\"helperbot\",\"password\":\"Bot-pass-12\"}"));
    j = call(w, &w->na, 200, "GET", path, NULL);
    assert_int_equal(json_array_size(json_object_get(j, "bots")), 1);
    {
        char *bot = adm_fmt("/api/v1/admin/networks/%s/users/%s", w->net_a,
                            json_string_value(json_object_get(
                                json_array_get(json_object_get(j, "bots"), 0), "user_id")));
        json_t *err = call(w, &w->na, 400, "PATCH", bot, "{\"user_type\":\"user\"}");
        assert_non_null(strstr(adm_err_msg(err), "user_type"));
        json_decref(err);
        json_decref(call(w, &w->na, 200, "PATCH", bot, "{\"first_name\":\"Helper\"}"));
        free(bot);
    }
    json_decref(j);
    free(path);

    /* Security groups: counts, the default one stays, settings are checked. */
    path = adm_fmt("/api/v1/admin/networks/%s/security-groups", w->net_a);
    j = call(w, &w->na, 200, "GET", path, NULL);
    json_array_foreach(json_object_get(j, "security_groups"), i, e)
    {
        if (json_is_true(json_object_get(e, "is_default")))
            def = json_integer_value(json_object_get(e, "id"));
        else
            assert_int_equal(json_integer_value(json_object_get(e, "users")), 1);
    }
    json_decref(j);
    free(path);
    assert_true(def > 0);
    path = adm_fmt("/api/v1/admin/networks/%s/security-groups/%lld", w->net_a, (long long)def);
    j = call(w, &w->na, 409, "DELETE", path, NULL);
    assert_non_null(strstr(adm_err_msg(j), "default"));
    json_decref(j);
    j = call(w, &w->na, 400, "PATCH", path, "{\"settings\":{\"max_expiration\":5}}");
    assert_non_null(strstr(adm_err_msg(j), "max_expiration"));
    assert_non_null(strstr(adm_err_msg(j), "60"));
    json_decref(j);
    j = call(w, &w->na, 200, "PATCH", path,
             "{\"settings\":{\"max_expiration\":3600,\"local_federation\":"
             "\"restricted\",\"quick_responses\":[\"On my way\"]}}");
    assert_int_equal(
        json_integer_value(json_object_get(json_object_get(j, "settings"), "max_expiration")),
        3600);
    /* Defaults are filled in. */
    assert_true(json_is_true(json_object_get(json_object_get(j, "settings"), "audio_calling")));
    json_decref(j);
    free(path);

    /* The network profile: name and read receipts. */
    path = adm_fmt("/api/v1/admin/networks/%s", w->net_a);
    j = call(w, &w->na, 200, "PATCH", path,
             "{\"name\":\"Network A1\",\"settings\":{\"read_receipts\":false}}");
    assert_false(json_is_true(json_object_get(json_object_get(j, "settings"), "read_receipts")));
    json_decref(j);
    json_decref(call(w, &w->na, 403, "PATCH", path, "{\"federation_domain\":\"evil.example\"}"));
    json_decref(call(w, &w->na, 403, "DELETE", path, NULL));
    free(path);
}

static void test_admin__network_admins_invite_and_network_tokens(void **state)
{
    struct world *w = *state;
    char *path, *acc;
    struct adm t;
    json_t *j;
    int64_t id;

    /* na invites nb, who reaches A only after accepting. */
    path = adm_fmt("/api/v1/admin/networks/%s/admins", w->net_a);
    j = call(w, &w->na, 400, "POST", path, "{\"username\":\"ghost\"}");
    assert_non_null(strstr(adm_err_msg(j), "username"));
    json_decref(j);
    json_decref(call(w, &w->na, 400, "POST", path, "{\"username\":\"admin\"}"));
    json_decref(call(w, &w->na, 201, "POST", path, "{\"username\":\"nb\"}"));
    json_decref(call(w, &w->na, 409, "POST", path, "{\"username\":\"nb\"}"));
    free(path);
    path = adm_fmt("/api/v1/admin/networks/%s", w->net_a);
    json_decref(call(w, &w->nb, 404, "GET", path, NULL));
    j = call(w, &w->nb, 200, "GET", "/api/v1/admin/me/invitations", NULL);
    assert_int_equal(json_array_size(json_object_get(j, "invitations")), 1);
    json_decref(j);
    acc = adm_fmt("/api/v1/admin/me/invitations/%s/accept", w->net_a);
    json_decref(call(w, &w->nb, 200, "POST", acc, NULL));
    json_decref(call(w, &w->nb, 404, "POST", acc, NULL));
    free(acc);
    json_decref(call(w, &w->nb, 200, "GET", path, NULL));
    free(path);
    path = adm_fmt("/api/v1/admin/networks/%s/admins/%lld", w->net_a, (long long)w->nb_id);
    json_decref(call(w, &w->na, 204, "DELETE", path, NULL));
    free(path);
    path = adm_fmt("/api/v1/admin/networks/%s", w->net_a);
    json_decref(call(w, &w->nb, 404, "GET", path, NULL));
    free(path);

    /* na manages its network's API tokens, limited to network permissions. */
    path = adm_fmt("/api/v1/admin/networks/%s/tokens", w->net_a);
    json_decref(
        call(w, &w->na, 400, "POST", path, "{\"label\":\"x\",\"permissions\":[\"audit.read\"]}"));
    j = call(w, &w->na, 201, "POST", path, "{\"label\":\"directory sync\"}");
    memset(&t, 0, sizeof(t));
    snprintf(t.bearer, sizeof(t.bearer), "%s", json_string_value(json_object_get(j, "token")));
    id = json_integer_value(json_object_get(j, "id"));
    assert_string_equal(json_string_value(json_object_get(j, "scope")), "network");
    json_decref(j);
    j = call(w, &w->na, 200, "GET", path, NULL);
    assert_true(json_array_size(json_object_get(j, "tokens")) >= 1);
    json_decref(j);
    free(path);
    path = adm_fmt("/api/v1/admin/networks/%s/users", w->net_a);
    json_decref(call(w, &t, 200, "GET", path, NULL));
    free(path);
    /* nb cannot revoke A's token; na can. */
    path = adm_fmt("/api/v1/admin/networks/%s/tokens/%lld", w->net_b, (long long)id);
    json_decref(call(w, &w->nb, 404, "DELETE", path, NULL));
    free(path);
    path = adm_fmt("/api/v1/admin/networks/%s/tokens/%lld", w->net_a, (long long)id);
    json_decref(call(w, &w->na, 204, "DELETE", path, NULL));
    free(path);
    json_decref(call(w, &t, 401, "GET", "/api/v1/admin/networks", NULL));
}

static void test_admin__role_limited_admin(void **state)
{
    struct world *w = *state;
    char *path;

    path = adm_fmt("/api/v1/admin/networks/%s/users", w->net_a);
    json_decref(call(w, &w->viewer, 200, "GET", path, NULL));
    json_decref(call(w, &w->viewer, 403, "POST", path,
                     "{\"username\":\"carol\",\"password\":\"Carol-pass-1\"}"));
    free(path);
    /* A super administrator held to a read-only role. */
    {
        struct adm ro;
        int64_t id;
        create_admin(w, "auditor", ",\"is_super\":true,\"role\":\"read_only\"", &id);
        assert_int_equal(adm_login(&w->p, "auditor", ADM_PW, NULL, &ro, NULL), 200);
        json_decref(call(w, &ro, 200, "GET", "/api/v1/admin/admins", NULL));
        json_decref(call(w, &ro, 200, "GET", "/api/v1/admin/audit", NULL));
        json_decref(call(w, &ro, 403, "POST", "/api/v1/admin/networks", "{\"name\":\"Nope\"}"));
        path = adm_fmt("/api/v1/admin/admins/%lld", (long long)w->na_id);
        json_decref(call(w, &ro, 403, "DELETE", path, NULL));
        free(path);
    }
    /* A role in use cannot be deleted; built-in roles cannot be changed. */
    path = adm_fmt("/api/v1/admin/roles/%lld", (long long)w->role_id);
    json_decref(call(w, &w->super, 409, "DELETE", path, NULL));
    free(path);
    json_decref(call(w, &w->super, 409, "PATCH", "/api/v1/admin/roles/1", "{\"permissions\":[]}"));
}

static void test_admin__api_tokens_scopes_and_revocation(void **state)
{
    struct world *w = *state;
    struct adm t;
    char *path;
    json_t *j;
    int64_t id;

    json_decref(call(w, &w->tok_dep, 200, "GET", "/api/v1/admin/admins", NULL));
    path = adm_fmt("/api/v1/admin/networks/%s/users", w->net_b);
    json_decref(call(w, &w->tok_dep, 200, "GET", path, NULL));
    json_decref(call(w, &w->tok_net, 404, "GET", path, NULL));
    free(path);
    path = adm_fmt("/api/v1/admin/networks/%s/users", w->net_a);
    json_decref(call(w, &w->tok_net, 200, "GET", path, NULL));
    free(path);
    json_decref(call(w, &w->tok_net, 403, "GET", "/api/v1/admin/admins", NULL));
    j = call(w, &w->tok_net, 200, "GET", "/api/v1/admin/networks", NULL);
    assert_int_equal(json_array_size(json_object_get(j, "networks")), 1);
    json_decref(j);
    /* Tokens cannot use the account endpoints. */
    json_decref(call(w, &w->tok_dep, 403, "GET", "/api/v1/admin/me", NULL));

    /* Revoked tokens stop working; the list never shows secrets. */
    j = call(
        w, &w->super, 201, "POST", "/api/v1/admin/tokens",
        "{\"label\":\"short-lived\",\"scope\":\"deployment\",\"permissions\":[\"audit.read\"]}");
    id = json_integer_value(json_object_get(j, "id"));
    memset(&t, 0, sizeof(t));
    snprintf(t.bearer, sizeof(t.bearer), "%s", json_string_value(json_object_get(j, "token")));
    json_decref(j);
    json_decref(call(w, &t, 200, "GET", "/api/v1/admin/audit", NULL));
    json_decref(call(w, &t, 403, "GET", "/api/v1/admin/admins", NULL));
    j = call(w, &w->super, 200, "GET", "/api/v1/admin/tokens", NULL);
    assert_null(dump_has(j, t.bearer + 4));
    json_decref(j);
    path = adm_fmt("/api/v1/admin/tokens/%lld", (long long)id);
    json_decref(call(w, &w->super, 204, "DELETE", path, NULL));
    json_decref(call(w, &w->super, 404, "DELETE", path, NULL));
    free(path);
    json_decref(call(w, &t, 401, "GET", "/api/v1/admin/audit", NULL));
    /* Garbage bearer tokens are refused. */
    snprintf(t.bearer, sizeof(t.bearer), "%s", "pat_forged");
    json_decref(call(w, &t, 401, "GET", "/api/v1/admin/audit", NULL));
}

static void test_admin__audit_log_records_actions(void **state)
{
    struct world *w = *state;
    json_t *j, *e;
    char *path;

    j = call(w, &w->super, 200, "GET", "/api/v1/admin/audit?action=network.create", NULL);
    assert_int_equal(json_array_size(json_object_get(j, "entries")), 2);
    e = json_array_get(json_object_get(j, "entries"), 0);
    assert_string_equal(json_string_value(json_object_get(json_object_get(e, "actor"), "name")),
                        "admin");
    assert_string_equal(json_string_value(json_object_get(e, "ip")), "127.0.0.1");
    assert_string_equal(json_string_value(json_object_get(e, "target")), "Network B");
    assert_true(json_integer_value(json_object_get(e, "ts")) > 0);
    json_decref(j);
    path = adm_fmt("/api/v1/admin/audit?action=user.create&network_id=%s", w->net_a);
    j = call(w, &w->super, 200, "GET", path, NULL);
    free(path);
    assert_true(json_array_size(json_object_get(j, "entries")) >= 1);
    e = json_array_get(json_object_get(j, "entries"), 0);
    assert_string_equal(json_string_value(json_object_get(json_object_get(e, "actor"), "name")),
                        "na");
    json_decref(j);
    /* Paging, and bad paging is a 400 naming the parameter. */
    j = call(w, &w->super, 200, "GET", "/api/v1/admin/audit?limit=1&offset=1", NULL);
    assert_int_equal(json_array_size(json_object_get(j, "entries")), 1);
    json_decref(j);
    j = call(w, &w->super, 400, "GET", "/api/v1/admin/audit?limit=0", NULL);
    assert_non_null(strstr(adm_err_msg(j), "limit"));
    json_decref(j);
    /* Token use is attributed to the token. */
    json_decref(call(w, &w->tok_dep, 201, "POST", "/api/v1/admin/roles",
                     "{\"name\":\"by-token\",\"permissions\":[]}"));
    j = call(w, &w->super, 200, "GET", "/api/v1/admin/audit?actor=deploy%20script", NULL);
    e = json_array_get(json_object_get(j, "entries"), 0);
    assert_non_null(e);
    assert_string_equal(json_string_value(json_object_get(json_object_get(e, "actor"), "kind")),
                        "token");
    json_decref(j);
}

/* ---- the authorization matrix ---- */

struct principal {
    const char *name;
    struct adm *s;    /* NULL: anonymous */
    const char *user; /* to sign in again after logout; NULL for tokens */
    const char *pw;
    bool is_admin;   /* an administrator (not a token) */
    bool deployment; /* deployment scope */
    bool in_net_a;   /* reaches network A */
    rbac_set perms;
};

/* What the gate must answer: 0 when it lets the request through. */
static long expected(const struct http_route *r, const struct principal *pr, const char **code)
{
    if (r->scope == RBAC_SCOPE_PUBLIC)
        return 0;
    *code = "unauthenticated";
    if (!pr->s)
        return 401;
    *code = "forbidden";
    if (r->scope == RBAC_SCOPE_SELF && !pr->is_admin)
        return 403;
    if (r->perm != RBAC_NONE && !(pr->perms & RBAC_BIT(r->perm)))
        return 403;
    if (r->scope == RBAC_SCOPE_DEPLOYMENT && !pr->deployment)
        return 403;
    *code = "not_found";
    if (r->scope == RBAC_SCOPE_NETWORK && !pr->deployment && !pr->in_net_a)
        return 404;
    return 0;
}

/* The route's path with its parameters filled: network A for network
 * routes; ids that name nothing elsewhere, so that a request the gate lets
 * through changes nothing (and a body that no endpoint accepts). */
static char *concrete_path(const struct world *w, const struct http_route *r)
{
    char out[512] = "";
    const char *p = r->path;
    size_t n = 0;
    int seg = 0;

    while (*p && n < sizeof(out) - 64) {
        if (p[0] == '/' && p[1] == ':') {
            const char *name = p + 2;
            size_t len = strcspn(name, "/");
            const char *v = "999999";
            if (len == 10 && strncmp(name, "network_id", 10) == 0)
                v = r->scope == RBAC_SCOPE_NETWORK ? w->net_a : "ffffffffffffffff";
            else if (len == 7 && strncmp(name, "user_id", 7) == 0)
                v = "00000000000000000000000000000000";
            n += (size_t)snprintf(out + n, sizeof(out) - n, "/%s", v);
            p = name + len;
            seg++;
        } else {
            out[n++] = *p++;
        }
    }
    out[n] = 0;
    return strdup(out);
}

static bool gate_refused(long st, const json_t *j)
{
    const char *code = adm_err_code(j);
    return st == 401 ||
           (st == 403 && (strcmp(code, "forbidden") == 0 || strcmp(code, "csrf") == 0 ||
                          strcmp(code, "password_change_required") == 0)) ||
           (st == 404 && strstr(adm_err_msg(j), "that you administer"));
}

static void test_admin__authorization_matrix(void **state)
{
    struct world *w = *state;
    struct principal prs[] = {
        {"anonymous", NULL, NULL, NULL, false, false, false, 0},
        {"admin of network B", &w->nb, "nb", ADM_PW, true, false, false, rbac_network_admin_set()},
        {"admin of network A", &w->na, "na", ADM_PW, true, false, true, rbac_network_admin_set()},
        {"role-limited admin of A", &w->viewer, "viewer", ADM_PW, true, false, true,
         RBAC_BIT(RBAC_NETWORKS_READ) | RBAC_BIT(RBAC_USERS_READ) |
             RBAC_BIT(RBAC_SECURITY_GROUPS_READ)},
        {"super administrator", &w->super, "admin", ADM_SUPER_PW, true, true, true, rbac_all()},
        {"deployment token", &w->tok_dep, NULL, NULL, false, true, true, rbac_all()},
        {"network token of A", &w->tok_net, NULL, NULL, false, false, true,
         rbac_network_admin_set()},
    };
    int checked = 0, admin_routes = 0;

    for (size_t i = 0; i < http_routes_count; i++) {
        const struct http_route *r = &http_routes[i];
        char *path;
        if (strncmp(r->path, ADMIN_PATH "/", strlen(ADMIN_PATH) + 1) != 0)
            continue;
        /* Every admin route goes through the gate. */
        assert_ptr_equal(r->fn, api_admin_entry);
        assert_non_null(r->admin_fn);
        admin_routes++;
        path = concrete_path(w, r);
        for (size_t k = 0; k < ARRAY_SIZE(prs); k++) {
            const char *code = "";
            long want = expected(r, &prs[k], &code), st;
            json_t *j = NULL;
            st = adm_req(&w->p, prs[k].s, http_method_name(r->method), path,
                         (r->flags & HTTP_ROUTE_BODY) ? "{\"matrix_unknown_field\":1}" : NULL, &j);
            if (want ? st != want || strcmp(adm_err_code(j), code) != 0
                     : gate_refused(st, j) || st >= 500) {
                char *dump = j ? json_dumps(j, JSON_COMPACT) : strdup("");
                fail_msg("%s %s as %s: got %ld %s, want %s%ld", http_method_name(r->method), path,
                         prs[k].name, st, dump, want ? "" : "through the gate, not ", want);
            }
            json_decref(j);
            checked++;
            /* Logging out ends the session the matrix uses: sign in again. */
            if (r->admin_fn == api_admin_logout && st == 200 && prs[k].user)
                assert_int_equal(adm_login(&w->p, prs[k].user, prs[k].pw, NULL, prs[k].s, NULL),
                                 200);
        }
        free(path);
    }
    fprintf(stderr, "# authorization matrix: %d admin routes x %zu callers = %d checks\n",
            admin_routes, ARRAY_SIZE(prs), checked);
    assert_true(admin_routes >= 40);
}

/* ---- bad input ---- */

/* The state a bad request must not change. */
static char *snapshot(struct world *w)
{
    /* Network-relative paths are suffixes of /api/v1/admin/networks/A. */
    static const char *const paths[] = {"/api/v1/admin/admins", "/api/v1/admin/networks",
                                        "/api/v1/admin/roles", "/api/v1/admin/tokens",
                                        "/api/v1/admin/sso"};
    static const char *const in_net[] = {"/users", "/bots", "/security-groups", "/sso", ""};
    char *all = strdup("");
    for (size_t i = 0; i < ARRAY_SIZE(paths) + ARRAY_SIZE(in_net) + 1; i++) {
        char *path, *s, *next;
        json_t *j;
        if (i < ARRAY_SIZE(paths))
            path = strdup(paths[i]);
        else if (i < ARRAY_SIZE(paths) + ARRAY_SIZE(in_net))
            path = adm_fmt("/api/v1/admin/networks/%s%s", w->net_a, in_net[i - ARRAY_SIZE(paths)]);
        else
            path = adm_fmt("/api/v1/admin/networks/%s/security-groups/%lld", w->net_a,
                           (long long)w->group_a);
        j = call(w, &w->super, 200, "GET", path, NULL);
        s = json_dumps(j, JSON_SORT_KEYS);
        next = adm_fmt("%s\n%s", all, s);
        free(all);
        free(s);
        free(path);
        json_decref(j);
        all = next;
    }
    return all;
}

/* Fill the route's parameters with objects that exist, so that the body
 * is what gets judged. */
static char *real_path(const struct world *w, const struct http_route *r)
{
    char out[512] = "";
    const char *p = r->path;
    size_t n = 0;

    while (*p && n < sizeof(out) - 64) {
        if (p[0] == '/' && p[1] == ':') {
            const char *name = p + 2;
            size_t len = strcspn(name, "/");
            char v[64];
            if (strncmp(name, "network_id", 10) == 0)
                snprintf(v, sizeof(v), "%s", w->net_a);
            else if (strncmp(name, "user_id", 7) == 0)
                snprintf(v, sizeof(v), "%s", w->user_a);
            else if (strstr(r->path, "/roles/"))
                snprintf(v, sizeof(v), "%lld", (long long)w->role_id);
            else if (strstr(r->path, "/security-groups/"))
                snprintf(v, sizeof(v), "%lld", (long long)w->group_a);
            else
                snprintf(v, sizeof(v), "%lld", (long long)w->viewer_id);
            n += (size_t)snprintf(out + n, sizeof(out) - n, "/%s", v);
            p = name + len;
        } else {
            out[n++] = *p++;
        }
    }
    out[n] = 0;
    return strdup(out);
}

struct bad {
    const char *body;
    const char *names; /* what the message must mention */
};

/* For every body endpoint: malformed JSON, wrong top-level types, unknown
 * fields, and per-field wrong types and out-of-range values. */
static const struct bad generic_bad[] = {
    {"{", "body"},
    {"[1,2]", "body"},
    {"\"text\"", "body"},
    {"{\"a\":1,\"a\":2}", "body"},
    {"{\"zz_unknown\":true}", "zz_unknown"},
    {"null", "body"},
    {"{\"x\":1e999999}", "body"},
};

static const struct {
    const char *route_suffix; /* matched against the end of the route path */
    enum http_method method;
    struct bad bad[8];
} field_bad[] = {
    {"/sso",
     HTTP_PUT,
     {{"{\"enabled\":\"yes\"}", "enabled"},
      {"{\"enabled\":true,\"company_id\":\"\"}", "company_id"},
      {"{\"issuer_url\":\"ftp://idp.example/\"}", "issuer_url"},
      {"{\"issuer_url\":\"https://127.0.0.1/\"}", "issuer_url"},
      {"{\"token_grace_period_minutes\":15}", "token_grace_period_minutes"},
      {"{\"scopes\":\"\"}", "scopes"},
      {"{\"client_secret_set\":true}", "client_secret_set"},
      {"{\"security_group_sync\":[]}", "security_group_sync"}}},
    {"/login",
     HTTP_POST,
     {{"{\"username\":5,\"password\":\"x\"}", "username"},
      {"{\"username\":\"admin\"}", "password"},
      {"{\"username\":\"admin\",\"password\":\"\"}", "password"}}},
    {"/me",
     HTTP_PATCH,
     {{"{\"first_name\":[]}", "first_name"}, {"{\"last_name\":\"\\u0001\"}", "last_name"}}},
    {"/me/password",
     HTTP_POST,
     {{"{\"current_password\":1,\"new_password\":\"x\"}", "current_password"},
      {"{\"current_password\":\"" ADM_SUPER_PW "\",\"new_password\":\"aaaa\"}", "new_password"}}},
    {"/me/totp/confirm", HTTP_POST, {{"{\"code\":123456}", "code"}}},
    {"/me/totp/disable", HTTP_POST, {{"{\"code\":true}", "code"}}},
    {"v1/admin/admins",
     HTTP_POST,
     {{"{\"username\":\"ok1\",\"password\":\"weak\"}", "password"},
      {"{\"username\":\"bad name\",\"password\":\"" ADM_PW "\"}", "username"},
      {"{\"username\":\"ok2\",\"password\":\"" ADM_PW "\",\"is_super\":1}", "is_super"},
      {"{\"username\":\"ok3\",\"password\":\"" ADM_PW "\",\"role\":\"nope\"}", "role"},
      {"{\"username\":\"ok4\",\"password\":\"" ADM_PW "\",\"networks\":[\"nope\"]}", "networks"}}},
    {"v1/admin/admins/:id",
     HTTP_PATCH,
     {{"{\"password\":\"weak\"}", "password"},
      {"{\"role\":\"missing-role\"}", "role"},
      {"{\"first_name\":7}", "first_name"}}},
    {"/roles",
     HTTP_POST,
     {{"{\"name\":\"r1\",\"permissions\":[\"root\"]}", "permissions"},
      {"{\"name\":\"r1\",\"permissions\":\"all\"}", "permissions"},
      {"{\"name\":\"\",\"permissions\":[]}", "name"}}},
    {"/roles/:id",
     HTTP_PATCH,
     {{"{\"permissions\":[1]}", "permissions"}, {"{\"name\":3}", "name"}}},
    {"v1/admin/tokens",
     HTTP_POST,
     {{"{\"label\":\"t\",\"scope\":\"galaxy\"}", "scope"},
      {"{\"label\":\"t\",\"scope\":\"network\"}", "network_id"},
      {"{\"label\":\"t\",\"scope\":\"network\",\"network_id\":\"nope\"}", "network_id"},
      {"{\"label\":\"\",\"scope\":\"deployment\"}", "label"}}},
    {"/networks",
     HTTP_POST,
     {{"{\"name\":\"\"}", "name"},
      {"{\"name\":\"n\",\"admins\":[\"ghost\"]}", "admins"},
      {"{\"name\":\"n\",\"federation_domain\":false}", "federation_domain"}}},
    {"/networks/:network_id",
     HTTP_PATCH,
     {{"{\"settings\":{\"read_receipts\":\"yes\"}}", "read_receipts"},
      {"{\"settings\":{\"event_logging\":\"everything\"}}", "event_logging"},
      {"{\"settings\":{\"unknown_setting\":1}}", "unknown_setting"},
      {"{\"settings\":[]}", "settings"}}},
    {"/users",
     HTTP_POST,
     {{"{\"username\":\"u1\",\"password\":\"short\"}", "password"},
      {"{\"username\":\"u1\",\"password\":\"Good-pass-1\",\"user_type\":"
       "\"root\"}",
       "user_type"},
      {"{\"username\":\"u1\",\"password\":\"Good-pass-1\","
       "\"security_group_id\":0}",
       "security_group_id"},
      {"{\"username\":\"u1\",\"password\":\"Good-pass-1\","
       "\"security_group_id\":999999}",
       "security_group_id"},
      {"{\"username\":\"\",\"password\":\"Good-pass-1\"}", "username"}}},
    {"/users/:user_id",
     HTTP_PATCH,
     {{"{\"user_type\":\"bot\"}", "user_type"},
      {"{\"is_restricted\":\"no\"}", "is_restricted"},
      {"{\"security_group_id\":\"1\"}", "security_group_id"}}},
    {"/networks/:network_id/admins",
     HTTP_POST,
     {{"{\"username\":\"no body\"}", "username"}, {"{\"username\":\"ghost\"}", "username"}}},
    {"/networks/:network_id/tokens",
     HTTP_POST,
     {{"{\"label\":\"t\",\"permissions\":[\"admins.write\"]}", "permissions"},
      {"{\"label\":7}", "label"}}},
    {"/bots",
     HTTP_POST,
     {{"{\"username\":\"robot1\",\"password\":\"Good-pass-1\"}", "username"},
      {"{\"username\":\"helpbot\",\"password\":\"x\"}", "password"}}},
    {"/security-groups",
     HTTP_POST,
     {{"{\"name\":\"g\",\"settings\":{\"max_expiration\":999999999999}}", "max_expiration"},
      {"{\"name\":\"g\",\"settings\":{\"quick_responses\":[\"\"]}}", "quick_responses"},
      {"{\"name\":\"g\",\"settings\":{\"local_federation\":\"maybe\"}}", "local_federation"},
      {"{\"name\":\"g\",\"settings\":{\"password_min_length\":2}}", "password_min_length"},
      {"{\"settings\":{}}", "name"}}},
    {"/security-groups/:id",
     HTTP_PATCH,
     {{"{\"settings\":{\"max_upload_bytes\":-1}}", "max_upload_bytes"},
      {"{\"settings\":{\"audio_calling\":0}}", "audio_calling"},
      {"{\"settings\":{\"permitted_networks\":\"all\"}}", "permitted_networks"},
      {"{\"settings\":{\"permitted_networks\":[\"Ops=a=b\"]}}", "permitted_networks"},
      {"{\"settings\":{\"permitted_networks\":[\"no spaces\"]}}", "permitted_networks"},
      {"{\"name\":\"\"}", "name"}}},
};

static bool ends_with(const char *s, const char *suffix)
{
    size_t a = strlen(s), b = strlen(suffix);
    return a >= b && strcmp(s + a - b, suffix) == 0;
}

static void check_bad(struct world *w, const struct http_route *r, const char *path,
                      const struct bad *b)
{
    json_t *j = NULL;
    long st = adm_req(&w->p, &w->super, http_method_name(r->method), path, b->body, &j);
    if (st < 400 || st > 499 || st == 401 || st == 403 || !strstr(adm_err_msg(j), b->names)) {
        char *dump = j ? json_dumps(j, JSON_COMPACT) : strdup("");
        fail_msg("%s %s with %s: got %ld %s, want 4xx naming '%s'", http_method_name(r->method),
                 path, b->body, st, dump, b->names);
    }
    json_decref(j);
}

static void test_admin__bad_input_changes_nothing(void **state)
{
    struct world *w = *state;
    char *before = snapshot(w), *after;
    int routes = 0, cases = 0;

    for (size_t i = 0; i < http_routes_count; i++) {
        const struct http_route *r = &http_routes[i];
        char *path;
        if (r->fn != api_admin_entry || !(r->flags & HTTP_ROUTE_BODY))
            continue;
        routes++;
        path = real_path(w, r);
        for (size_t k = 0; k < ARRAY_SIZE(generic_bad); k++, cases++)
            check_bad(w, r, path, &generic_bad[k]);
        for (size_t k = 0; k < ARRAY_SIZE(field_bad); k++) {
            if (field_bad[k].method != r->method || !ends_with(r->path, field_bad[k].route_suffix))
                continue;
            for (size_t m = 0; m < ARRAY_SIZE(field_bad[k].bad) && field_bad[k].bad[m].body;
                 m++, cases++)
                check_bad(w, r, path, &field_bad[k].bad[m]);
        }
        free(path);
    }
    after = snapshot(w);
    assert_string_equal(before, after);
    fprintf(stderr, "# bad input: %d endpoints, %d requests, nothing changed\n", routes, cases);
    assert_true(routes >= 15);
    free(before);
    free(after);
}

/* POST /api/v1/client/login as `username` of network `net`. */
static long client_login(struct world *w, const char *net, const char *username, const char *pw,
                         char *token, size_t len)
{
    char secret[IDS_LOGIN_SECRET_B64], *body;
    json_t *j = NULL;
    long st;

    assert_int_equal(ids_login_secret(net, username, pw, secret), 0);
    body = adm_fmt("{\"network_id\":\"%s\",\"username\":\"%s\",\"login_secret\":\"%s\"}", net,
                   username, secret);
    st = adm_req(&w->p, NULL, "POST", "/api/v1/client/login", body, &j);
    if (token)
        snprintf(token, len, "%s", json_string_value(json_object_get(j, "token")) ?: "");
    json_decref(j);
    free(body);
    return st;
}

static void test_admin__admins_and_users_stay_apart(void **state)
{
    struct world *w = *state;
    struct adm user = {0};
    char token[128], *path;

    /* A user created by an administrator signs in to the client API with
     * the login secret of the password it was given... */
    assert_int_equal(client_login(w, w->net_a, "alice", "Alice-pass-1", token, sizeof(token)), 200);
    /* ...but not to the admin API, and its client token is no admin token. */
    assert_int_equal(adm_login(&w->p, "alice", "Alice-pass-1", NULL, NULL, NULL), 401);
    snprintf(user.bearer, sizeof(user.bearer), "%s", token);
    json_decref(call(w, &user, 401, "GET", "/api/v1/admin/me", NULL));
    json_decref(call(w, &user, 401, "GET", "/api/v1/admin/networks", NULL));
    /* An administrator is not a user of the network it runs, and admin
     * sessions and tokens do not open the client API. */
    assert_int_equal(client_login(w, w->net_a, "na", ADM_PW, NULL, 0), 401);
    json_decref(call(w, &w->na, 401, "GET", "/api/v1/client/conversations", NULL));
    json_decref(call(w, &w->tok_dep, 401, "GET", "/api/v1/client/conversations", NULL));

    /* Suspension takes effect at once; unsuspending restores access. */
    path = adm_fmt("/api/v1/admin/networks/%s/users/%s/suspend", w->net_a, w->user_a);
    json_decref(call(w, &w->na, 200, "POST", path, NULL));
    free(path);
    assert_int_equal(client_login(w, w->net_a, "alice", "Alice-pass-1", NULL, 0), 403);
    path = adm_fmt("/api/v1/admin/networks/%s/users/%s/unsuspend", w->net_a, w->user_a);
    json_decref(call(w, &w->na, 200, "POST", path, NULL));
    free(path);
    assert_int_equal(client_login(w, w->net_a, "alice", "Alice-pass-1", NULL, 0), 200);
}

/* A suspended user's live WebSocket session is closed at once (1008), and
 * so are the sessions of a deleted network's users. */
static void test_admin__suspend_closes_live_sessions(void **state)
{
    struct parleyd p;
    struct tc_user u, u2;
    struct tc_device d, d2;
    struct adm s;
    char *path;
    json_t *j;

    (void)state;
    assert_int_equal(harness_init(&p, TEST_CONFIG), 0);
    tc_user_provision(&p, &u, "walt");
    tc_user_provision(&p, &u2, "wendy");
    assert_int_equal(harness_start(&p), 0);
    assert_int_equal(adm_bootstrap(&p, &s), 0);
    tc_user_ready(&p, &u, &d);
    tc_ws_auth(&p, &d);
    tc_user_ready(&p, &u2, &d2);
    tc_ws_auth(&p, &d2);
    path = adm_fmt("/api/v1/admin/networks/%s/users/%s/suspend", TC_NETWORK, tc_hex(u.user_id));
    assert_int_equal(adm_req(&p, &s, "POST", path, NULL, NULL), 200);
    free(path);
    /* Nothing else arrives: the wait ends with the close frame. */
    j = tc_wait_json(&d, "no-such-message", 10000);
    assert_null(j);
    assert_int_equal(d.close_code, 1008);
    assert_int_equal(tc_login(&p, &u), 403);
    /* Deleting the network deletes its users: their sessions end too. */
    path = adm_fmt("/api/v1/admin/networks/%s", TC_NETWORK);
    assert_int_equal(adm_req(&p, &s, "DELETE", path, NULL, NULL), 204);
    free(path);
    assert_null(tc_wait_json(&d2, "no-such-message", 10000));
    assert_int_equal(d2.close_code, 1008);
    tc_device_release(&d);
    tc_user_release(&u);
    tc_device_release(&d2);
    tc_user_release(&u2);
    stop_clean(&p);
    harness_cleanup(&p);
}

/* ---- SSO configuration ---- */

#define SSO_SECRET "sso-client-Secret-4242"

static json_t *put_sso(struct world *w, const struct adm *s, long want, const char *path,
                       const char *body)
{
    return call(w, s, want, "PUT", path, body);
}

static void expect_400(struct world *w, const struct adm *s, const char *path, const char *body,
                       const char *names)
{
    json_t *j = put_sso(w, s, 400, path, body);
    if (!strstr(adm_err_msg(j), names))
        fail_msg("PUT %s %s: message '%s' does not name '%s'", path, body, adm_err_msg(j), names);
    json_decref(j);
}

static void private_ips(struct world *w, bool on)
{
    char *b = adm_fmt("{\"settings\":{\"allow_private_ips\":%s}}", on ? "true" : "false");
    json_decref(call(w, &w->super, 200, "PATCH", "/api/v1/admin/deployment/settings", b));
    free(b);
}

static void test_admin__sso_configuration(void **state)
{
    struct world *w = *state;
    char *pa = adm_fmt("/api/v1/admin/networks/%s/sso", w->net_a);
    char *pb = adm_fmt("/api/v1/admin/networks/%s/sso", w->net_b);
    char *users = adm_fmt("/api/v1/admin/networks/%s/users", w->net_a);
    char *bulk = adm_fmt("/api/v1/admin/networks/%s/bulk-users/suspend", w->net_a);
    char *bots = adm_fmt("/api/v1/admin/networks/%s/bots", w->net_a);
    char *sql, *log;
    json_t *j;

    /* Defaults, and the endpoint to register with the identity provider. */
    j = call(w, &w->na, 200, "GET", pa, NULL);
    assert_false(json_is_true(json_object_get(j, "enabled")));
    assert_false(json_is_true(json_object_get(j, "client_secret_set")));
    assert_string_equal(json_string_value(json_object_get(j, "scopes")), "openid email profile");
    assert_int_equal(json_integer_value(json_object_get(j, "token_grace_period_minutes")), 0);
    assert_non_null(strstr(json_string_value(json_object_get(j, "network_endpoint")), w->net_a));
    assert_false(
        json_is_true(json_object_get(json_object_get(j, "security_group_sync"), "enabled")));
    json_decref(j);
    j = call(w, &w->super, 200, "GET", "/api/v1/admin/sso", NULL);
    assert_non_null(strstr(json_string_value(json_object_get(j, "network_endpoint")), "https://"));
    json_decref(j);

    /* Enabling needs everything; each refusal names its field. */
    expect_400(w, &w->na, pa, "{\"enabled\":true}", "company_id");
    expect_400(w, &w->na, pa,
               "{\"enabled\":true,\"company_id\":\"acme\",\"issuer_url\":\"https://93.184.216.34/"
               "\",\"client_id\":\"parley\"}",
               "client_secret");
    expect_400(w, &w->na, pa, "{\"issuer_url\":\"http://93.184.216.34/\"}", "issuer_url");
    expect_400(w, &w->na, pa, "{\"issuer_url\":\"https://user:pw@idp.example/\"}", "issuer_url");
    expect_400(w, &w->na, pa, "{\"token_grace_period_minutes\":45}", "token_grace_period_minutes");
    expect_400(w, &w->na, pa, "{\"scopes\":\"email profile\"}", "scopes");
    expect_400(w, &w->na, pa, "{\"company_id\":\"a b\"}", "company_id");
    expect_400(w, &w->na, pa, "{\"network_endpoint\":\"https://x/\"}", "network_endpoint");
    expect_400(w, &w->na, pa, "{\"security_group_sync\":{\"enabled\":true}}", "ou");
    expect_400(w, &w->na, pa, "{\"security_group_sync\":{\"enabled\":1}}", "security_group_sync");

    /* Private, loopback and link-local issuers, literal or by name, are
     * refused until allow_private_ips is on. */
    static const char *const private_urls[] = {"https://127.0.0.1/realms/acme",
                                               "https://10.1.2.3:8443/",
                                               "https://192.168.0.9/",
                                               "https://172.20.0.1/",
                                               "https://169.254.169.254/",
                                               "https://[::1]/",
                                               "https://[fd00::1]/",
                                               "https://[::ffff:10.0.0.1]/",
                                               "https://localhost/",
                                               "https://100.64.0.1/"};
    for (size_t i = 0; i < ARRAY_SIZE(private_urls); i++) {
        char *b = adm_fmt("{\"issuer_url\":\"%s\"}", private_urls[i]);
        expect_400(w, &w->na, pa, b, "allow_private_ips");
        free(b);
    }
    private_ips(w, true);
    json_decref(put_sso(w, &w->na, 200, pa, "{\"issuer_url\":\"https://10.1.2.3:8443/\"}"));
    private_ips(w, false);
    /* The rule holds for what is stored, not only for what was sent. */
    expect_400(w, &w->na, pa, "{\"client_id\":\"parley\"}", "allow_private_ips");

    /* A complete configuration; the secret is write-only. */
    j = put_sso(w, &w->na, 200, pa,
                "{\"enabled\":true,\"company_id\":\"Acme-Corp\",\"issuer_url\":"
                "\"https://93.184.216.34/realms/acme\",\"client_id\":\"parley\",\"client_secret\":"
                "\"" SSO_SECRET "\",\"token_grace_period_minutes\":30,\"security_group_sync\":{"
                "\"enabled\":true,\"ou\":\"OU=Staff,DC=acme\"}}");
    assert_true(json_is_true(json_object_get(j, "client_secret_set")));
    assert_null(json_object_get(j, "client_secret"));
    assert_null(dump_has(j, SSO_SECRET));
    json_decref(j);
    j = call(w, &w->na, 200, "GET", pa, NULL);
    assert_true(json_is_true(json_object_get(j, "enabled")));
    assert_string_equal(json_string_value(json_object_get(j, "company_id")), "Acme-Corp");
    assert_int_equal(json_integer_value(json_object_get(j, "token_grace_period_minutes")), 30);
    assert_string_equal(
        json_string_value(json_object_get(json_object_get(j, "security_group_sync"), "ou")),
        "OU=Staff,DC=acme");
    assert_null(dump_has(j, SSO_SECRET));
    json_decref(j);
    /* Fields not sent keep their value, the secret included. */
    j = put_sso(w, &w->na, 200, pa, "{\"scopes\":\"openid email\"}");
    assert_true(json_is_true(json_object_get(j, "client_secret_set")));
    assert_true(json_is_true(json_object_get(j, "enabled")));
    json_decref(j);

    /* Company IDs are unique across networks, whatever their case. */
    expect_400(w, &w->nb, pb, "{\"company_id\":\"acme-corp\"}", "company_id");
    json_decref(put_sso(w, &w->nb, 200, pb, "{\"company_id\":\"beta\"}"));
    /* Network administrators reach their own network's SSO only, and the
     * deployment's not at all. */
    json_decref(call(w, &w->nb, 404, "GET", pa, NULL));
    json_decref(call(w, &w->na, 403, "GET", "/api/v1/admin/sso", NULL));

    /* While SSO is on, users come from the identity provider. */
    j = call(w, &w->na, 409, "POST", users, "{\"username\":\"sso1\",\"password\":\"Good-pass-1\"}");
    assert_string_equal(adm_err_code(j), "sso_enabled");
    json_decref(j);
    j = call(w, &w->na, 409, "POST", bulk, "{\"csv_base64\":\"dXNlcm5hbWUNCmFsaWNlDQo=\"}");
    assert_string_equal(adm_err_code(j), "sso_enabled");
    json_decref(j);
    json_decref(call(w, &w->na, 201, "POST", bots,
                     "{\"username\":\"ssohelpbot\",\"password\":\"Good-pass-1\"}"));
    json_decref(put_sso(w, &w->na, 200, pa, "{\"enabled\":false}"));
    json_decref(call(w, &w->na, 201, "POST", users,
                     "{\"username\":\"sso1\",\"password\":\"Good-pass-1\"}"));

    /* Administrator sign-in SSO, audited; the secret is nowhere in the
     * audit log, the server log or the database. */
    j = put_sso(
        w, &w->super, 200, "/api/v1/admin/sso",
        "{\"enabled\":true,\"company_id\":\"admins\",\"issuer_url\":"
        "\"https://93.184.216.34/\",\"client_id\":\"console\",\"client_secret\":\"" SSO_SECRET
        "\"}");
    assert_true(json_is_true(json_object_get(j, "client_secret_set")));
    json_decref(j);
    j = call(w, &w->super, 200, "GET", "/api/v1/admin/audit?action=sso.update", NULL);
    assert_true(json_array_size(json_object_get(j, "entries")) >= 4);
    assert_non_null(dump_has(j, "client_secret_changed"));
    assert_null(dump_has(j, SSO_SECRET));
    json_decref(j);
    log = harness_read(&w->p, "parleyd.log");
    assert_non_null(log);
    assert_null(strstr(log, SSO_SECRET));
    free(log);
    sql = adm_fmt("SELECT COUNT(*) FROM sso_configs WHERE client_secret LIKE 'v1:%%' AND scope IN "
                  "('deployment', '%s')",
                  w->net_a);
    assert_int_equal(harness_provision_count(&w->p, sql), 2);
    free(sql);
    /* Clearing the secret, and turning it off again. */
    j = put_sso(w, &w->super, 200, "/api/v1/admin/sso",
                "{\"enabled\":false,\"client_secret\":\"\"}");
    assert_false(json_is_true(json_object_get(j, "client_secret_set")));
    json_decref(j);

    free(pa);
    free(pb);
    free(users);
    free(bulk);
    free(bots);
}

/* ---- Argon2id off the event loop ---- */

/* Has a response begun to arrive on `c`? Never blocks. (poll() alone cannot
 * tell: TLS 1.3 session tickets make a socket readable before any reply.) */
static bool answered(struct ws_conn *c)
{
    char b;
    int fl = fcntl(c->fd, F_GETFL), n;

    fcntl(c->fd, F_SETFL, fl | O_NONBLOCK);
    n = SSL_peek(c->ssl, &b, 1);
    fcntl(c->fd, F_SETFL, fl);
    return n > 0;
}

/* Eight sign-ins keep every worker busy for at least two rounds of
 * Argon2id. A /healthz sent after them on another connection must still be
 * answered while some of them wait: the loop never waits for a hash. One
 * more sign-in is dropped by its client while it waits for a worker; the
 * server must forget it, log it, and go on (ASan runs this too). */
static void test_admin__sign_ins_hash_off_the_loop(void **state)
{
    enum { N = 8 };
    struct world *w = *state;
    struct ws_conn c[N], h, gone;
    char *body = adm_fmt("{\"username\":\"burst\",\"password\":\"%s\"}", ADM_PW), *rb, *log;
    int before = 0;
    int64_t id;

    create_admin(w, "burst", NULL, &id);
    for (int i = 0; i < N; i++)
        assert_int_equal(tls_open(&w->p, &c[i]), 0);
    assert_int_equal(tls_open(&w->p, &h), 0);
    assert_int_equal(tls_open(&w->p, &gone), 0);
    for (int i = 0; i < N; i++)
        assert_int_equal(tls_send_request(&w->p, &c[i], "POST", "/api/v1/admin/login", body), 0);
    assert_int_equal(tls_send_request(&w->p, &gone, "POST", "/api/v1/admin/login", body), 0);
    /* A FIN, not a reset: the request is read before the end is seen. */
    shutdown(gone.fd, SHUT_WR);
    usleep(50 * 1000); /* let the server take the sign-ins first */
    assert_int_equal(tls_send_request(&w->p, &h, "GET", "/healthz", NULL), 0);
    assert_int_equal(tls_read_response(&h, &rb), 200);
    assert_non_null(strstr(rb, "\"ok\""));
    free(rb);
    for (int i = 0; i < N; i++)
        before += answered(&c[i]);
    if (before == N)
        fail_msg("/healthz waited for all %d sign-ins", N);
    for (int i = 0; i < N; i++) {
        must(200, tls_read_response(&c[i], &rb), NULL, "concurrent sign-in");
        assert_non_null(strstr(rb, "csrf_token"));
        free(rb);
        ws_close(&c[i]);
    }
    ws_close(&h);
    ws_close(&gone);
    free(body);

    /* The abandoned sign-in was seen as such, and the server still serves. */
    log = NULL;
    for (int tries = 0; tries < 600 && !log; tries++) {
        log = harness_read(&w->p, "parleyd.log");
        if (log && !strstr(log, "abandoned by its client")) {
            free(log);
            log = NULL;
            usleep(50 * 1000);
        }
    }
    assert_non_null(log);
    free(log);
    assert_int_equal(adm_req(&w->p, &w->super, "GET", "/api/v1/admin/me", NULL, NULL), 200);
}

static void test_admin__sign_in_rate_limit(void **state)
{
    struct parleyd p;
    long st = 0;
    int i;

    (void)state;
    assert_int_equal(harness_init(&p, "admin_login_rate = 3\n"), 0);
    assert_int_equal(harness_start(&p), 0);
    for (i = 0; i < 10 && st != 429; i++)
        st = adm_login(&p, "nobody", "x", NULL, NULL, NULL);
    assert_int_equal(st, 429);
    assert_true(i >= 4);
    stop_clean(&p);
    harness_cleanup(&p);
}

static void test_admin__api_docs_served_offline(void **state)
{
    struct world *w = *state;
    struct http_resp r;
    json_t *j, *built;

    assert_int_equal(harness_http(&w->p, "GET", "/api/docs", NULL, &r), 0);
    assert_int_equal(r.status, 200);
    assert_non_null(strcasestr(r.headers, "content-type: text/html"));
    assert_non_null(strstr(r.body, "/api/docs/docs.js"));
    /* Nothing from outside the deployment. */
    assert_null(strstr(r.body, "http://"));
    assert_null(strstr(r.body, "https://"));
    http_resp_free(&r);
    assert_int_equal(harness_http(&w->p, "GET", "/api/docs/docs.js", NULL, &r), 0);
    assert_int_equal(r.status, 200);
    assert_non_null(strcasestr(r.headers, "content-type: text/javascript"));
    assert_null(strstr(r.body, "innerHTML"));
    assert_null(strstr(r.body, "http://"));
    http_resp_free(&r);
    assert_int_equal(harness_http(&w->p, "GET", "/api/docs/openapi.json", NULL, &r), 0);
    assert_int_equal(r.status, 200);
    j = json_loads(r.body, 0, NULL);
    built = admin_openapi_build();
    assert_true(json_equal(j, built));
    json_decref(j);
    json_decref(built);
    http_resp_free(&r);
}

static void test_admin__server_stops_cleanly(void **state)
{
    struct world *w = *state;
    stop_clean(&w->p);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_admin__first_signin_forced_change_and_totp),
        cmocka_unit_test(test_admin__sign_in_rate_limit),
        cmocka_unit_test(test_admin__suspend_closes_live_sessions),
        cmocka_unit_test(test_admin__lockout_after_failures_and_unlock),
        cmocka_unit_test(test_admin__one_session_per_admin),
        cmocka_unit_test(test_admin__csrf_for_cookies_not_for_bearer_tokens),
        cmocka_unit_test(test_admin__network_admin_runs_own_network_only),
        cmocka_unit_test(test_admin__network_admins_invite_and_network_tokens),
        cmocka_unit_test(test_admin__role_limited_admin),
        cmocka_unit_test(test_admin__api_tokens_scopes_and_revocation),
        cmocka_unit_test(test_admin__audit_log_records_actions),
        cmocka_unit_test(test_admin__admins_and_users_stay_apart),
        cmocka_unit_test(test_admin__sign_ins_hash_off_the_loop),
        cmocka_unit_test(test_admin__sso_configuration),
        cmocka_unit_test(test_admin__authorization_matrix),
        cmocka_unit_test(test_admin__bad_input_changes_nothing),
        cmocka_unit_test(test_admin__api_docs_served_offline),
        cmocka_unit_test(test_admin__server_stops_cleanly),
    };

    if (!testdb_backend_available())
        return testdb_skip("PARLEY_TEST_PG is not set");
    /* The first two start servers of their own; the rest share one. */
    return cmocka_run_group_tests_name("admin", tests, setup_world, teardown_world);
}
