/* sso_test.c - users sign in through an OpenID Connect identity provider:
 * a real parleyd, a real provider (oidc_idp.py: discovery, JWKS, an
 * authorize endpoint that approves at once, a token endpoint issuing
 * signed ID tokens), a "browser" made of libcurl that follows the
 * redirects, and the real client library on the other end. Runs once per
 * store backend (PARLEY_TEST_STORE). */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <curl/curl.h>
#include <jansson.h>
#include <parley/parley.h>

#include "admin_util.h"

#define CONF_PW       "sso-config-pass 1"
#define CLIENT_ID     "parley-test"
#define CLIENT_SECRET "idp-client-secret-Zq81"
#define COMPANY       "acme-corp"
#define PASSPHRASE    "correct horse battery staple 7"

struct world {
    struct parleyd p;
    struct adm super;
    char net[32];
    char idp_dir[256];
    pid_t idp_pid;
    int idp_port;
    char issuer[64];
    char bundle[320]; /* the browser trusts both the provider and parleyd */
    uint8_t *cfg_file;
    size_t cfg_len;
};

static json_t *call(struct world *w, long want, const char *method, const char *path,
                    const char *body)
{
    json_t *j = NULL;
    long st = adm_req(&w->p, &w->super, method, path, body, &j);
    if (st != want) {
        char *d = j ? json_dumps(j, JSON_COMPACT) : NULL;
        fprintf(stderr, "%s %s: want %ld, got %ld: %s\n", method, path, want, st, d ? d : "");
        free(d);
    }
    assert_int_equal(st, want);
    return j;
}

/* One request without following redirects. Returns the status; *body and
 * *location (if a redirect) are malloc'd. */
static long fetch(const char *ca, const char *url, const char *method, const char *body, char **out,
                  char **location)
{
    struct harness_sink s = {NULL, 0};
    CURL *c = curl_easy_init();
    long status = -1;
    char *loc = NULL;

    curl_easy_setopt(c, CURLOPT_URL, url);
    if (ca)
        curl_easy_setopt(c, CURLOPT_CAINFO, ca);
    curl_easy_setopt(c, CURLOPT_NOSIGNAL, 1L);
    curl_easy_setopt(c, CURLOPT_TIMEOUT, 30L);
    curl_easy_setopt(c, CURLOPT_WRITEFUNCTION, harness_sink_write);
    curl_easy_setopt(c, CURLOPT_WRITEDATA, &s);
    if (body) {
        curl_easy_setopt(c, CURLOPT_CUSTOMREQUEST, method);
        curl_easy_setopt(c, CURLOPT_POSTFIELDS, body);
    }
    if (curl_easy_perform(c) == CURLE_OK) {
        curl_easy_getinfo(c, CURLINFO_RESPONSE_CODE, &status);
        curl_easy_getinfo(c, CURLINFO_REDIRECT_URL, &loc);
    }
    if (location)
        *location = loc ? strdup(loc) : NULL;
    curl_easy_cleanup(c);
    if (out)
        *out = s.data ? s.data : strdup("");
    else
        free(s.data);
    return status;
}

/* The browser: follow redirects from `url` until a page, or a redirect to
 * a loopback http:// address, which it fetches too when `loopback`.
 * Returns the last status; *page is the last body, *last the last URL. */
static long browse(struct world *w, const char *url, bool loopback, char **page, char **last)
{
    char *cur = strdup(url), *loc = NULL, *body = NULL;
    long st = -1;

    for (int hop = 0; hop < 6; hop++) {
        bool plain = strncmp(cur, "http://", 7) == 0;
        free(body);
        body = NULL;
        st = fetch(plain ? NULL : w->bundle, cur, "GET", NULL, &body, &loc);
        if (st != 302 || !loc)
            break;
        free(cur);
        cur = loc;
        loc = NULL;
        if (strncmp(cur, "http://127.0.0.1:", 17) == 0 && !loopback) {
            st = 302;
            break;
        }
    }
    free(loc);
    *page = body;
    if (last)
        *last = cur;
    else
        free(cur);
    return st;
}

static void idp_control(struct world *w, const char *json)
{
    char url[128], *body = NULL;
    snprintf(url, sizeof(url), "%s/control", w->issuer);
    char ca[300];
    snprintf(ca, sizeof(ca), "%s/ca.pem", w->idp_dir);
    assert_int_equal(fetch(ca, url, "POST", json, &body, NULL), 200);
    free(body);
}

static int idp_start(struct world *w)
{
    const char *root = getenv("PARLEY_SOURCE_ROOT");
    char script[512], line[64] = "";
    int pfd[2];
    FILE *f;

    snprintf(w->idp_dir, sizeof(w->idp_dir), "/tmp/parley-idp-XXXXXX");
    /* parleyd, started as root, runs as nobody: it must read ca.pem. */
    if (!mkdtemp(w->idp_dir) || chmod(w->idp_dir, 0755) < 0 || pipe(pfd) < 0)
        return -1;
    snprintf(script, sizeof(script), "%s/tests/integration/oidc_idp.py", root ? root : ".");
    w->idp_pid = fork();
    if (w->idp_pid == 0) {
        dup2(pfd[1], 1);
        close(pfd[0]);
        close(pfd[1]);
        execlp("python3", "python3", script, w->idp_dir, CLIENT_ID, CLIENT_SECRET, (char *)NULL);
        _exit(127);
    }
    close(pfd[1]);
    f = fdopen(pfd[0], "r");
    if (!f || !fgets(line, sizeof(line), f) || sscanf(line, "port %d", &w->idp_port) != 1) {
        if (f)
            fclose(f);
        return -1;
    }
    fclose(f);
    snprintf(w->issuer, sizeof(w->issuer), "https://127.0.0.1:%d", w->idp_port);
    return 0;
}

static void idp_stop(struct world *w)
{
    char cmd[300];
    if (w->idp_pid > 0) {
        kill(w->idp_pid, SIGTERM);
        waitpid(w->idp_pid, NULL, 0);
        w->idp_pid = 0;
    }
    if (w->idp_dir[0]) {
        snprintf(cmd, sizeof(cmd), "rm -rf '%s'", w->idp_dir);
        if (system(cmd) != 0)
            fprintf(stderr, "# cannot remove %s\n", w->idp_dir);
    }
}

static void private_ips(struct world *w, bool on)
{
    char *b = adm_fmt("{\"settings\":{\"allow_private_ips\":%s}}", on ? "true" : "false");
    json_decref(call(w, 200, "PATCH", "/api/v1/admin/deployment/settings", b));
    free(b);
}

static void sso_conf(struct world *w, const char *extra)
{
    char *path = adm_fmt("/api/v1/admin/networks/%s/sso", w->net);
    char *b =
        adm_fmt("{\"enabled\":true,\"company_id\":\"" COMPANY "\",\"issuer_url\":\"%s\","
                "\"client_id\":\"" CLIENT_ID "\",\"client_secret\":\"" CLIENT_SECRET "\"%s%s}",
                w->issuer, extra ? "," : "", extra ? extra : "");
    json_decref(call(w, 200, "PUT", path, b));
    free(b);
    free(path);
}

static int setup(void **state)
{
    struct world *w = calloc(1, sizeof(*w));
    char conf[600], *path, *b, *body = NULL, ca[300];
    json_t *j;

    if (idp_start(w) < 0) {
        idp_stop(w);
        free(w);
        return -1;
    }
    snprintf(conf, sizeof(conf),
             "admin_login_rate = 100000\nhostname = 127.0.0.1\nsso_ca_file = %s/ca.pem\n",
             w->idp_dir);
    if (harness_init(&w->p, conf) < 0 || harness_start(&w->p) < 0 ||
        adm_bootstrap(&w->p, &w->super) < 0) {
        harness_cleanup(&w->p);
        idp_stop(w);
        free(w);
        return -1;
    }
    *state = w;
    /* The browser's trust anchors: the provider's and parleyd's. */
    snprintf(w->bundle, sizeof(w->bundle), "%s/browser.pem", w->idp_dir);
    snprintf(ca, sizeof(ca), "%s/ca.pem", w->idp_dir);
    b = adm_fmt("cat '%s' '%s/tls/cert.pem' > '%s'", ca, w->p.dir, w->bundle);
    assert_int_equal(system(b), 0);
    free(b);

    j = call(w, 201, "POST", "/api/v1/admin/networks", "{\"name\":\"Acme\"}");
    snprintf(w->net, sizeof(w->net), "%s", json_string_value(json_object_get(j, "network_id")));
    json_decref(j);
    private_ips(w, true);
    sso_conf(w, NULL);

    /* The configuration file users get, through the API. */
    path = adm_fmt("/api/v1/admin/networks/%s/client-configs", w->net);
    j = call(w, 201, "POST", path,
             "{\"name\":\"Staff\",\"password\":\"" CONF_PW "\",\"service_host\":\"127.0.0.1\"}");
    b = adm_fmt("%s/%lld/file", path, (long long)json_integer_value(json_object_get(j, "id")));
    json_decref(j);
    {
        /* The harness keeps text only: fetch the file's bytes. */
        char cookie[200], url[600];
        struct harness_sink f = {NULL, 0};
        struct curl_slist *hl;
        CURL *c = curl_easy_init();

        snprintf(cookie, sizeof(cookie), "Cookie: parley_admin=%s", w->super.cookie);
        hl = curl_slist_append(NULL, cookie);
        snprintf(url, sizeof(url), "https://127.0.0.1:%d%s", w->p.port, b);
        snprintf(ca, sizeof(ca), "%s/tls/cert.pem", w->p.dir);
        curl_easy_setopt(c, CURLOPT_URL, url);
        curl_easy_setopt(c, CURLOPT_CAINFO, ca);
        curl_easy_setopt(c, CURLOPT_HTTPHEADER, hl);
        curl_easy_setopt(c, CURLOPT_WRITEFUNCTION, harness_sink_write);
        curl_easy_setopt(c, CURLOPT_WRITEDATA, &f);
        assert_int_equal(curl_easy_perform(c), CURLE_OK);
        curl_easy_cleanup(c);
        curl_slist_free_all(hl);
        w->cfg_file = (uint8_t *)f.data;
        w->cfg_len = f.len;
    }
    free(body);
    free(b);
    free(path);
    return 0;
}

static int teardown(void **state)
{
    struct world *w = *state;
    if (!w)
        return 0;
    int status = harness_stop(&w->p, SIGTERM, 30, NULL);
    char *log = harness_read(&w->p, "parleyd.log");
    bool clean = status == 0 && log && !strstr(log, "Sanitizer") && !strstr(log, "runtime error");
    if (!clean)
        fprintf(stderr, "%s\n", log ? log : "(no log)");
    /* Neither the client secret nor any ID token (a JWS header starts
     * "eyJ") ever reaches the log. */
    if (log && (strstr(log, CLIENT_SECRET) || strstr(log, "eyJ"))) {
        fprintf(stderr, "the log holds a secret or a token\n");
        clean = false;
    }
    free(log);
    harness_cleanup(&w->p);
    idp_stop(w);
    free(w->cfg_file);
    free(w);
    return clean ? 0 : -1;
}

/* parley_sso_begin that must succeed; says why when it does not. */
static struct parley_sso *begin(const char *dir, struct parley_config *cfg, const char *hint,
                                int flags)
{
    struct parley_sso *s = NULL;
    int rc = parley_sso_begin(dir, cfg, COMPANY, hint, flags, &s);
    if (rc != 0)
        fail_msg("parley_sso_begin: %s: %s", parley_strerror(rc), parley_sso_error(s));
    return s;
}

static struct parley_config *open_cfg(struct world *w)
{
    struct parley_config *cfg = NULL;
    assert_int_equal(parley_config_open_mem(w->cfg_file, w->cfg_len, CONF_PW, &cfg), 0);
    return cfg;
}

static void client_dir(struct world *w, const char *name, char *out, size_t n)
{
    char cmd[400];
    snprintf(out, n, "%s/client-%s", w->p.dir, name);
    snprintf(cmd, sizeof(cmd), "rm -rf '%s'", out);
    assert_int_equal(system(cmd), 0);
}

/* The code from the server's page ("" when the page shows none). */
static void page_code(const char *page, char *out, size_t n)
{
    const char *p = page ? strstr(page, "<pre id=\"code\">") : NULL;
    size_t l;
    out[0] = 0;
    if (!p)
        return;
    p += strlen("<pre id=\"code\">");
    l = strcspn(p, "<");
    if (l < n) {
        memcpy(out, p, l);
        out[l] = 0;
    }
}

struct browser {
    struct world *w;
    const char *url;
    long status;
    char *page;
};

static void *browser_main(void *arg)
{
    struct browser *b = arg;
    b->status = browse(b->w, b->url, true, &b->page, NULL);
    return NULL;
}

static long user_count(struct world *w, const char *username)
{
    char *path = adm_fmt("/api/v1/admin/networks/%s/users", w->net);
    json_t *j = call(w, 200, "GET", path, NULL), *u;
    long n = 0;
    size_t i;
    json_array_foreach(json_object_get(j, "users"), i, u)
    {
        if (strcmp(json_string_value(json_object_get(u, "username")), username) == 0)
            n++;
    }
    json_decref(j);
    free(path);
    return n;
}

/* ---- the happy path ------------------------------------------------------ */

/* First sign-in: the user is provisioned, registers with a passphrase, and
 * the device connects. Through the loopback redirect. */
static void test_sso__first_sign_in_registers_through_loopback(void **state)
{
    struct world *w = *state;
    struct parley_config *cfg = open_cfg(w);
    struct parley_sso *s = NULL;
    struct parley_client *c = NULL;
    struct browser b = {w, NULL, 0, NULL};
    pthread_t th;
    char dir[300];

    idp_control(w, "{\"email\":\"Alice@Example.com\",\"fault\":\"\",\"alg\":\"RS256\"}");
    client_dir(w, "alice1", dir, sizeof(dir));
    assert_int_equal(user_count(w, "alice@example.com"), 0);
    s = begin(dir, cfg, "alice@example.com", PARLEY_SSO_LOOPBACK);
    assert_true(strncmp(parley_sso_url(s), w->issuer, strlen(w->issuer)) == 0);
    assert_non_null(strstr(parley_sso_url(s), "code_challenge_method=S256"));
    assert_non_null(strstr(parley_sso_url(s), "login_hint=alice%40example.com"));
    assert_true(strncmp(parley_sso_redirect_uri(s), "http://127.0.0.1:", 17) == 0);
    b.url = parley_sso_url(s);
    assert_int_equal(pthread_create(&th, NULL, browser_main, &b), 0);
    int rc = parley_sso_wait(s, 30000);
    pthread_join(th, NULL);
    if (rc != 0)
        fprintf(stderr, "wait: %s; page: %s\n", parley_sso_error(s), b.page ? b.page : "");
    assert_int_equal(rc, 0);
    assert_int_equal(b.status, 200);
    assert_non_null(strstr(b.page, "Signed in"));
    free(b.page);
    assert_int_equal(parley_sso_finish(s, dir, PASSPHRASE, NULL, &c), 0);
    parley_sso_free(s);
    /* The email claim, lowercased, is the username. */
    assert_string_equal(parley_client_username(c), "alice@example.com");
    assert_int_equal(user_count(w, "alice@example.com"), 1);
    /* The provisioning is in the audit log, without any token. */
    {
        json_t *j = call(w, 200, "GET", "/api/v1/admin/audit?action=user.provision", NULL);
        json_t *e = json_array_get(json_object_get(j, "entries"), 0);
        assert_non_null(e);
        assert_string_equal(json_string_value(json_object_get(e, "target")), "alice@example.com");
        assert_string_equal(json_string_value(json_object_get(e, "network_id")), w->net);
        json_decref(j);
    }
    /* The device token works: the connection authenticates. */
    assert_int_equal(parley_client_connect(c), 0);
    assert_int_equal(parley_client_wait_online(c, 20000), 0);
    parley_client_free(c);

    /* The local state opens with the passphrase, and only with it. */
    assert_int_equal(parley_client_login(dir, NULL, "alice@example.com", "wrong", NULL, &c),
                     PARLEY_EAUTH);
    assert_int_equal(parley_client_login(dir, NULL, "alice@example.com", PASSPHRASE, NULL, &c), 0);
    parley_client_free(c);
    parley_config_free(cfg);
}

/* A second device of the same user, by pasting the page's code: it opens
 * the identity backup with the passphrase. */
static void test_sso__second_device_by_pasted_code(void **state)
{
    struct world *w = *state;
    struct parley_config *cfg = open_cfg(w);
    struct parley_sso *s = NULL;
    struct parley_client *c = NULL, *c0 = NULL;
    char dir[300], dir0[300], code[128], *page = NULL;

    /* Make sure the user exists with an identity (this test alone). */
    idp_control(w, "{\"email\":\"bob@example.com\",\"fault\":\"\",\"alg\":\"ES256\"}");
    client_dir(w, "bob0", dir0, sizeof(dir0));
    s = begin(dir0, cfg, NULL, 0);
    assert_string_equal(parley_sso_redirect_uri(s), "");
    assert_int_equal(browse(w, parley_sso_url(s), false, &page, NULL), 200);
    page_code(page, code, sizeof(code));
    free(page);
    assert_true(strlen(code) >= 43);
    assert_int_equal(parley_sso_set_code(s, code), 0);
    assert_int_equal(parley_sso_finish(s, dir0, PASSPHRASE, NULL, &c0), 0);
    parley_sso_free(s);

    /* The second device. A wrong passphrase does not open the backup. */
    client_dir(w, "bob1", dir, sizeof(dir));
    s = begin(dir, cfg, NULL, 0);
    assert_int_equal(browse(w, parley_sso_url(s), false, &page, NULL), 200);
    page_code(page, code, sizeof(code));
    free(page);
    assert_int_equal(parley_sso_set_code(s, code), 0);
    assert_int_equal(parley_sso_finish(s, dir, "not the passphrase", NULL, &c), PARLEY_EAUTH);
    parley_sso_free(s);
    s = begin(dir, cfg, NULL, 0);
    assert_int_equal(browse(w, parley_sso_url(s), false, &page, NULL), 200);
    page_code(page, code, sizeof(code));
    free(page);
    assert_int_equal(parley_sso_set_code(s, code), 0);
    assert_int_equal(parley_sso_finish(s, dir, PASSPHRASE, NULL, &c), 0);
    parley_sso_free(s);
    assert_string_equal(parley_client_user_id(c), parley_client_user_id(c0));
    assert_string_not_equal(parley_client_device_id(c), parley_client_device_id(c0));

    /* Both devices talk: the first sends to the user, the second gets it. */
    assert_int_equal(parley_client_connect(c), 0);
    assert_int_equal(parley_client_wait_online(c, 20000), 0);
    assert_int_equal(parley_client_connect(c0), 0);
    assert_int_equal(parley_client_wait_online(c0, 20000), 0);
    parley_client_free(c);
    parley_client_free(c0);

    /* The provisioned user has no password: the password sign-in says so. */
    {
        char *b = adm_fmt("{\"network_id\":\"%s\",\"username\":\"bob@example.com\","
                          "\"login_secret\":\"AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA=\"}",
                          w->net);
        struct http_resp r;
        assert_int_equal(harness_http(&w->p, "POST", "/api/v1/client/login", b, &r), 0);
        assert_int_equal(r.status, 401);
        assert_non_null(strstr(r.body, "SSO"));
        http_resp_free(&r);
        free(b);
    }
    parley_config_free(cfg);
}

/* ---- refusals -------------------------------------------------------------- */

/* Begin (paste mode), let the provider misbehave as told, and check the
 * browser's page: status, a message naming the problem, and no code. */
static void refused(struct world *w, const char *control, long want_status, const char *want_msg)
{
    struct parley_config *cfg = open_cfg(w);
    struct parley_sso *s = NULL;
    char dir[300], code[128], *page = NULL;

    idp_control(w, control);
    client_dir(w, "refused", dir, sizeof(dir));
    s = begin(dir, cfg, NULL, 0);
    long st = browse(w, parley_sso_url(s), false, &page, NULL);
    if (st != want_status || !strstr(page, want_msg))
        fail_msg("%s: want %ld with '%s', got %ld: %s", control, want_status, want_msg, st, page);
    page_code(page, code, sizeof(code));
    assert_string_equal(code, "");
    free(page);
    parley_sso_free(s);
    parley_config_free(cfg);
}

static void test_sso__bad_tokens_are_refused(void **state)
{
    struct world *w = *state;

    refused(w, "{\"email\":\"carol@example.com\",\"fault\":\"bad_sig\",\"alg\":\"RS256\"}", 401,
            "signature is not valid");
    refused(w, "{\"fault\":\"wrong_aud\"}", 401, "audience (aud)");
    refused(w, "{\"fault\":\"expired\"}", 401, "expired (exp)");
    refused(w, "{\"fault\":\"bad_nonce\"}", 401, "nonce does not match");
    refused(w, "{\"fault\":\"wrong_iss\"}", 401, "issuer (iss)");
    refused(w, "{\"fault\":\"alg_none\"}", 401, "algorithm &#39;none&#39; is not accepted");
    refused(w, "{\"fault\":\"wrong_state\"}", 400, "unknown, already used or expired (state)");
    refused(w, "{\"fault\":\"deny\"}", 401, "access_denied: the user said no");
    refused(w, "{\"fault\":\"\",\"email_verified\":false}", 403, "not verified the email");
    /* None of these created the user. */
    assert_int_equal(user_count(w, "carol@example.com"), 0);
    idp_control(w, "{\"fault\":\"\",\"email_verified\":true}");
}

static void refused_begin(struct world *w, int want)
{
    struct parley_config *cfg = open_cfg(w);
    struct parley_sso *s = NULL;
    char dir[300];
    client_dir(w, "off", dir, sizeof(dir));
    assert_int_equal(parley_sso_begin(dir, cfg, COMPANY, NULL, 0, &s), want);
    parley_sso_free(s);
    parley_config_free(cfg);
}

/* With auto_provision off, an identity without a user is refused; the
 * provider's preferred_username can name users instead of the email. */
static void test_sso__unknown_user_is_refused(void **state)
{
    struct world *w = *state;
    struct parley_config *cfg;
    struct parley_sso *s = NULL;
    struct parley_client *c = NULL;
    char dir[300], code[128], *page = NULL;

    sso_conf(w, "\"auto_provision\":false");
    refused(w, "{\"email\":\"dave@example.com\",\"fault\":\"\",\"alg\":\"RS256\"}", 403,
            "There is no user &#39;dave@example.com&#39; in this network");
    assert_int_equal(user_count(w, "dave@example.com"), 0);

    /* A user the provider names by preferred_username, created before SSO
     * was enabled, signs in. */
    {
        char *path = adm_fmt("/api/v1/admin/networks/%s/sso", w->net);
        json_decref(call(w, 200, "PUT", path, "{\"enabled\":false}"));
        free(path);
        /* While SSO is off, nobody signs in through it. */
        refused_begin(w, PARLEY_ENOTFOUND);
        path = adm_fmt("/api/v1/admin/networks/%s/users", w->net);
        json_decref(
            call(w, 201, "POST", path, "{\"username\":\"erin\",\"password\":\"Erin-pass-1\"}"));
        free(path);
    }
    sso_conf(w, "\"auto_provision\":false,\"username_claim\":\"preferred_username\"");
    idp_control(w, "{\"email\":\"erin@example.com\",\"preferred_username\":\"erin\"}");
    cfg = open_cfg(w);
    client_dir(w, "erin", dir, sizeof(dir));
    s = begin(dir, cfg, NULL, 0);
    assert_int_equal(browse(w, parley_sso_url(s), false, &page, NULL), 200);
    page_code(page, code, sizeof(code));
    free(page);
    assert_int_equal(parley_sso_set_code(s, code), 0);
    assert_int_equal(parley_sso_finish(s, dir, PASSPHRASE, NULL, &c), 0);
    assert_string_equal(parley_client_username(c), "erin");
    parley_client_free(c);
    parley_sso_free(s);
    parley_config_free(cfg);
    sso_conf(w, "\"auto_provision\":true,\"username_claim\":\"email\"");
}

/* The sign-in code is bound to the client's verifier and single-use. */
static void test_sso__code_needs_its_verifier_once(void **state)
{
    struct world *w = *state;
    struct parley_config *cfg = open_cfg(w);
    struct parley_sso *s = NULL, *thief = NULL;
    struct parley_client *c = NULL;
    char dir[300], code[128], *page = NULL, *last = NULL;

    idp_control(w, "{\"email\":\"frank@example.com\",\"fault\":\"\",\"alg\":\"RS256\"}");
    client_dir(w, "frank", dir, sizeof(dir));
    s = begin(dir, cfg, NULL, 0);
    assert_int_equal(browse(w, parley_sso_url(s), false, &page, &last), 200);
    page_code(page, code, sizeof(code));
    free(page);

    /* The state is spent: the same callback again is refused. */
    assert_int_equal(browse(w, last, false, &page, NULL), 400);
    assert_non_null(strstr(page, "already used"));
    free(page);
    free(last);

    /* Someone else's verifier: refused, and the code is spent. */
    thief = begin(dir, cfg, NULL, 0);
    assert_int_equal(parley_sso_set_code(thief, code), 0);
    assert_int_equal(parley_sso_finish(thief, dir, PASSPHRASE, NULL, &c), PARLEY_EAUTH);
    assert_non_null(strstr(parley_sso_error(thief), "code_verifier"));
    parley_sso_free(thief);
    assert_int_equal(parley_sso_set_code(s, code), 0);
    assert_int_equal(parley_sso_finish(s, dir, PASSPHRASE, NULL, &c), PARLEY_EAUTH);
    assert_non_null(strstr(parley_sso_error(s), "already used"));
    assert_null(c);
    parley_sso_free(s);

    /* Bad input at the API names the field. */
    {
        struct http_resp r;
        assert_int_equal(harness_http(&w->p, "POST", "/api/v1/client/sso/finish",
                                      "{\"code\":\"abc\",\"code_verifier\":\"short\"}", &r),
                         0);
        assert_int_equal(r.status, 400);
        assert_non_null(strstr(r.body, "code_verifier"));
        http_resp_free(&r);
        assert_int_equal(harness_http(&w->p, "POST", "/api/v1/client/sso/start",
                                      "{\"company_id\":\"" COMPANY "\",\"code_challenge\":"
                                      "\"E9Melhoa2OwvFrEMTJguCHaoeK1t8URWbuGJSstw-cM\","
                                      "\"redirect_uri\":\"https://evil.example/cb\"}",
                                      &r),
                         0);
        assert_int_equal(r.status, 400);
        assert_non_null(strstr(r.body, "redirect_uri"));
        http_resp_free(&r);
    }
    parley_config_free(cfg);
}

/* Unknown company IDs, and a provider on a private address while
 * allow_private_ips is off. */
static void test_sso__company_and_private_address(void **state)
{
    struct world *w = *state;
    struct parley_config *cfg = open_cfg(w);
    struct parley_sso *s = NULL;
    char dir[300];

    client_dir(w, "misc", dir, sizeof(dir));
    assert_int_equal(parley_sso_begin(dir, cfg, "no-such-company", NULL, 0, &s), PARLEY_ENOTFOUND);
    assert_non_null(strstr(parley_sso_error(s), "company_id"));
    parley_sso_free(s);

    /* Users type the company ID: its case does not matter. */
    assert_int_equal(parley_sso_begin(dir, cfg, "ACME-Corp", NULL, 0, &s), 0);
    parley_sso_free(s);

    private_ips(w, false);
    assert_int_equal(parley_sso_begin(dir, cfg, COMPANY, NULL, 0, &s), PARLEY_EIO);
    assert_non_null(strstr(parley_sso_error(s), "allow_private_ips"));
    parley_sso_free(s);
    private_ips(w, true);
    s = begin(dir, cfg, NULL, 0);
    parley_sso_free(s);
    parley_config_free(cfg);
}

/* A suspended user is refused, and so is a client secret the provider
 * does not accept: each with a message, none with a code. */
static void test_sso__suspended_user_and_wrong_secret(void **state)
{
    struct world *w = *state;
    char *path = adm_fmt("/api/v1/admin/networks/%s/users", w->net), *p2;
    const char *uid = NULL;
    json_t *j, *u;
    size_t i;

    /* alice was provisioned by the first test. */
    j = call(w, 200, "GET", path, NULL);
    json_array_foreach(json_object_get(j, "users"), i, u)
    {
        if (strcmp(json_string_value(json_object_get(u, "username")), "alice@example.com") == 0)
            uid = json_string_value(json_object_get(u, "user_id"));
    }
    assert_non_null(uid);
    p2 = adm_fmt("%s/%s/suspend", path, uid);
    json_decref(call(w, 200, "POST", p2, NULL));
    free(p2);
    refused(w, "{\"email\":\"alice@example.com\",\"fault\":\"\",\"alg\":\"RS256\"}", 403,
            "suspended");
    p2 = adm_fmt("%s/%s/unsuspend", path, uid);
    json_decref(call(w, 200, "POST", p2, NULL));
    free(p2);
    json_decref(j);
    free(path);

    path = adm_fmt("/api/v1/admin/networks/%s/sso", w->net);
    json_decref(call(w, 200, "PUT", path, "{\"client_secret\":\"not-the-secret\"}"));
    refused(w, "{\"fault\":\"\"}", 401, "invalid_client");
    sso_conf(w, NULL);
    free(path);
}

/* Run `parley` with `args` (NULL-terminated) and `env` (NULL-terminated
 * "NAME=value"); returns its pid, *out gets its stdout. */
static pid_t run_cli(char *const args[], char *const env[], FILE **out)
{
    int pfd[2];
    pid_t pid;

    assert_int_equal(pipe(pfd), 0);
    pid = fork();
    if (pid == 0) {
        dup2(pfd[1], 1);
        close(pfd[0]);
        close(pfd[1]);
        for (size_t i = 0; env[i]; i++)
            putenv(env[i]);
        execv(getenv("PARLEY_CLI"), args);
        _exit(127);
    }
    close(pfd[1]);
    *out = fdopen(pfd[0], "r");
    return pid;
}

/* The command line: `parley sso-login` prints the address, the browser
 * signs in and comes back to its loopback listener, and the account then
 * opens with `parley login` and the passphrase. */
static void test_sso__parley_sso_login(void **state)
{
    struct world *w = *state;
    char dir[300], cfgpath[320], url[4096] = "", line[512], all[4096] = "", *page = NULL;
    char cli[300];
    FILE *f, *out;
    int status;
    pid_t pid;

    snprintf(cli, sizeof(cli), "%s", getenv("PARLEY_CLI") ? getenv("PARLEY_CLI") : "");
    if (!cli[0])
        skip();
    idp_control(w, "{\"email\":\"grace@example.com\",\"fault\":\"\",\"alg\":\"RS256\"}");
    client_dir(w, "cli", dir, sizeof(dir));
    snprintf(cfgpath, sizeof(cfgpath), "%s/acme.parley", w->p.dir);
    f = fopen(cfgpath, "wb");
    assert_non_null(f);
    assert_int_equal(fwrite(w->cfg_file, 1, w->cfg_len, f), w->cfg_len);
    fclose(f);
    {
        char *args[] = {"parley",       "--data-dir", dir,         "--config", cfgpath, "sso-login",
                        "--company-id", COMPANY,      "--timeout", "60",       NULL};
        char *env[] = {"PARLEY_PASSPHRASE=" PASSPHRASE, "PARLEY_CONFIG_PASSWORD=" CONF_PW, NULL};
        pid = run_cli(args, env, &out);
    }
    assert_non_null(fgets(url, sizeof(url), out));
    url[strcspn(url, "\n")] = 0;
    assert_true(strncmp(url, w->issuer, strlen(w->issuer)) == 0);
    /* The listener is up before the address is printed. */
    assert_int_equal(browse(w, url, true, &page, NULL), 200);
    assert_non_null(strstr(page, "Signed in"));
    free(page);
    while (fgets(line, sizeof(line), out))
        strncat(all, line, sizeof(all) - strlen(all) - 1);
    fclose(out);
    assert_int_equal(waitpid(pid, &status, 0), pid);
    assert_true(WIFEXITED(status));
    assert_int_equal(WEXITSTATUS(status), 0);
    assert_non_null(strstr(all, "signed in as grace@example.com on Acme"));

    {
        char *args[] = {"parley", "--data-dir", dir, "--username", "grace@example.com",
                        "login",  NULL};
        char *env[] = {"PARLEY_PASSWORD=" PASSPHRASE, NULL};
        all[0] = 0;
        pid = run_cli(args, env, &out);
        while (fgets(line, sizeof(line), out))
            strncat(all, line, sizeof(all) - strlen(all) - 1);
        fclose(out);
        assert_int_equal(waitpid(pid, &status, 0), pid);
        assert_int_equal(WEXITSTATUS(status), 0);
        assert_non_null(strstr(all, "signed in as grace@example.com"));
    }
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_sso__first_sign_in_registers_through_loopback),
        cmocka_unit_test(test_sso__second_device_by_pasted_code),
        cmocka_unit_test(test_sso__bad_tokens_are_refused),
        cmocka_unit_test(test_sso__unknown_user_is_refused),
        cmocka_unit_test(test_sso__code_needs_its_verifier_once),
        cmocka_unit_test(test_sso__company_and_private_address),
        cmocka_unit_test(test_sso__suspended_user_and_wrong_secret),
        cmocka_unit_test(test_sso__parley_sso_login),
    };
    curl_global_init(CURL_GLOBAL_DEFAULT);
    return cmocka_run_group_tests(tests, setup, teardown);
}
