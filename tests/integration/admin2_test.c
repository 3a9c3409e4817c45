/* admin2_test.c - the network administrator's tools against a real
 * parleyd: client configuration files (a libparley client registers with a
 * file made through the API), the deeplink landing page and its download,
 * expiry, and bad input. Runs once per store backend (PARLEY_TEST_STORE). */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <curl/curl.h>
#include <jansson.h>
#include <parley/parley.h>

#include "admin_util.h"
#include "msgutil.h"
#include "proto/ids.h"
#include "server/store.h"
#include "server/tlsgen.h"

#define TEST_CONFIG "admin_login_rate = 100000\n"
#define CONF_PW     "config-file-pass 9"

struct world {
    struct parleyd p;
    struct adm super, na;
    char net_a[32], net_b[32];
    int64_t group_b; /* the default group of network B */
};

static json_t *call(struct world *w, const struct adm *s, long want, const char *method,
                    const char *path, const char *body)
{
    json_t *j = NULL;
    long st = adm_req(&w->p, s, method, path, body, &j);
    if (st != want) {
        char *d = j ? json_dumps(j, JSON_COMPACT) : NULL;
        fprintf(stderr, "%s %s: want %ld, got %ld: %s\n", method, path, want, st, d ? d : "");
        free(d);
    }
    assert_int_equal(st, want);
    return j;
}

/* A 4xx reply whose message names `field`. */
static void refused(struct world *w, const char *method, const char *path, const char *body,
                    long want, const char *field)
{
    json_t *j = call(w, &w->super, want, method, path, body);
    if (!strstr(adm_err_msg(j), field))
        fail_msg("%s %s with %s: message '%s' does not name '%s'", method, path, body,
                 adm_err_msg(j), field);
    json_decref(j);
}

struct sink {
    uint8_t *data;
    size_t len;
};

static size_t on_data(char *ptr, size_t size, size_t nmemb, void *arg)
{
    struct sink *s = arg;
    size_t n = size * nmemb;
    s->data = realloc(s->data, s->len + n + 1);
    memcpy(s->data + s->len, ptr, n);
    s->len += n;
    s->data[s->len] = 0;
    return n;
}

/* GET `path` with its raw bytes (the harness keeps only text). `s` may be
 * NULL. Returns the status; *out and *headers are malloc'd. */
static long get_bytes(const struct world *w, const struct adm *s, const char *path,
                      struct sink *out, char **headers)
{
    char url[600], ca[300], cookie[200];
    struct sink h = {NULL, 0};
    struct curl_slist *hdrs = NULL;
    CURL *c = curl_easy_init();
    long status = -1;

    memset(out, 0, sizeof(*out));
    snprintf(url, sizeof(url), "https://127.0.0.1:%d%s", w->p.port, path);
    snprintf(ca, sizeof(ca), "%s/tls/cert.pem", w->p.dir);
    curl_easy_setopt(c, CURLOPT_URL, url);
    curl_easy_setopt(c, CURLOPT_CAINFO, ca);
    curl_easy_setopt(c, CURLOPT_NOSIGNAL, 1L);
    curl_easy_setopt(c, CURLOPT_TIMEOUT, 20L);
    curl_easy_setopt(c, CURLOPT_WRITEFUNCTION, on_data);
    curl_easy_setopt(c, CURLOPT_WRITEDATA, out);
    curl_easy_setopt(c, CURLOPT_HEADERFUNCTION, on_data);
    curl_easy_setopt(c, CURLOPT_HEADERDATA, &h);
    if (s) {
        snprintf(cookie, sizeof(cookie), "Cookie: parley_admin=%s", s->cookie);
        hdrs = curl_slist_append(hdrs, cookie);
        curl_easy_setopt(c, CURLOPT_HTTPHEADER, hdrs);
    }
    if (curl_easy_perform(c) == CURLE_OK)
        curl_easy_getinfo(c, CURLINFO_RESPONSE_CODE, &status);
    curl_slist_free_all(hdrs);
    curl_easy_cleanup(c);
    if (headers)
        *headers = (char *)h.data;
    else
        free(h.data);
    return status;
}

static int setup(void **state)
{
    struct world *w = calloc(1, sizeof(*w));
    json_t *j, *g;
    char *b;

    if (harness_init(&w->p, TEST_CONFIG) < 0 || harness_start(&w->p) < 0 ||
        adm_bootstrap(&w->p, &w->super) < 0) {
        harness_cleanup(&w->p);
        free(w);
        return -1;
    }
    *state = w;
    j = call(w, &w->super, 201, "POST", "/api/v1/admin/networks", "{\"name\":\"Network A\"}");
    snprintf(w->net_a, sizeof(w->net_a), "%s", json_string_value(json_object_get(j, "network_id")));
    json_decref(j);
    j = call(w, &w->super, 201, "POST", "/api/v1/admin/networks", "{\"name\":\"Network B\"}");
    snprintf(w->net_b, sizeof(w->net_b), "%s", json_string_value(json_object_get(j, "network_id")));
    json_decref(j);
    b = adm_fmt("/api/v1/admin/networks/%s/security-groups", w->net_b);
    j = call(w, &w->super, 200, "GET", b, NULL);
    g = json_array_get(json_object_get(j, "security_groups"), 0);
    w->group_b = json_integer_value(json_object_get(g, "id"));
    assert_true(w->group_b > 0);
    json_decref(j);
    free(b);
    b = adm_fmt("{\"username\":\"na\",\"password\":\"%s\",\"must_change_password\":false,"
                "\"networks\":[\"%s\"]}",
                ADM_PW, w->net_a);
    json_decref(call(w, &w->super, 201, "POST", "/api/v1/admin/admins", b));
    free(b);
    assert_int_equal(adm_login(&w->p, "na", ADM_PW, NULL, &w->na, NULL), 200);
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
    /* No configuration password ever reaches the log. */
    if (log && strstr(log, CONF_PW))
        clean = false;
    free(log);
    harness_cleanup(&w->p);
    free(w);
    return clean ? 0 : -1;
}

static void rm_tree(const char *dir)
{
    char cmd[300];
    snprintf(cmd, sizeof(cmd), "rm -rf '%s'", dir);
    if (system(cmd) != 0)
        fprintf(stderr, "# cannot remove %s\n", dir);
}

/* ---- client configuration files ---- */

static void test_cconf__libparley_registers_with_api_file(void **state)
{
    struct world *w = *state;
    char *base = adm_fmt("/api/v1/admin/networks/%s/client-configs", w->net_a), *b, *path;
    char token[64] = "", landing[128], dl[160], dir[300], *hdrs = NULL;
    struct parley_config *cfg = NULL;
    struct parley_client *c = NULL;
    struct sink admin_file, pub_file, page;
    const char *deeplink;
    json_t *j, *list;
    int64_t id;

    b = adm_fmt("/api/v1/admin/networks/%s/users", w->net_a);
    json_decref(
        call(w, &w->na, 201, "POST", b, "{\"username\":\"carol\",\"password\":\"Carol-pass-1\"}"));
    free(b);

    /* Created by a network administrator; the server pins its own
     * certificate when the body names none. */
    j = call(w, &w->na, 201, "POST", base,
             "{\"name\":\"Field laptops\",\"password\":\"" CONF_PW "\",\"expires_in_days\":7,"
             "\"service_host\":\"127.0.0.1\"}");
    id = json_integer_value(json_object_get(j, "id"));
    assert_string_equal(json_string_value(json_object_get(j, "status")), "active");
    assert_null(json_object_get(j, "password"));
    deeplink = json_string_value(json_object_get(j, "deeplink"));
    assert_non_null(deeplink);
    assert_true(strncmp(deeplink, "parley://config?url=https%3A%2F%2F127.0.0.1%3A", 46) == 0);
    {
        const char *dlu = json_string_value(json_object_get(j, "download_url"));
        const char *t = strstr(dlu, "/config/");
        assert_non_null(t);
        snprintf(token, sizeof(token), "%.43s", t + 8);
        assert_int_equal(strlen(token), 43);
        assert_non_null(strstr(json_string_value(json_object_get(j, "landing_url")), token));
    }
    json_decref(j);

    /* The administrator's copy and the public download are the same bytes. */
    path = adm_fmt("%s/%lld/file", base, (long long)id);
    assert_int_equal(get_bytes(w, &w->na, path, &admin_file, &hdrs), 200);
    assert_non_null(strstr(hdrs, "attachment; filename=\"Field_laptops.parley\""));
    free(hdrs);
    snprintf(dl, sizeof(dl), "/config/%s/file", token);
    assert_int_equal(get_bytes(w, NULL, dl, &pub_file, NULL), 200);
    assert_int_equal(admin_file.len, pub_file.len);
    assert_memory_equal(admin_file.data, pub_file.data, pub_file.len);
    assert_true(admin_file.len > 48 && memcmp(admin_file.data, "PPBE", 4) == 0);

    /* The landing page links to the download and the deeplink. */
    snprintf(landing, sizeof(landing), "/config/%s", token);
    assert_int_equal(get_bytes(w, NULL, landing, &page, &hdrs), 200);
    assert_non_null(strstr((char *)page.data, dl));
    assert_non_null(strstr((char *)page.data, "parley://config?url="));
    assert_non_null(strstr((char *)page.data, "Network A"));
    assert_non_null(strstr(hdrs, "no-referrer"));
    free(hdrs);
    free(page.data);

    /* libparley opens it: wrong password, then the right one. */
    assert_int_equal(parley_config_open_mem(pub_file.data, pub_file.len, "wrong pass", &cfg),
                     PARLEY_EAUTH);
    assert_int_equal(parley_config_open_mem(pub_file.data, pub_file.len, CONF_PW, &cfg), 0);
    assert_string_equal(parley_config_network_id(cfg), w->net_a);
    assert_string_equal(parley_config_network_name(cfg), "Network A");
    assert_string_equal(parley_config_service_host(cfg), "127.0.0.1");
    assert_int_equal(parley_config_service_port(cfg), w->p.port);
    assert_int_equal(parley_config_pinned_count(cfg), 1);
    assert_non_null(strstr(parley_config_policy(cfg), "max_expiration"));

    /* ... and a real client registers with it, once the password it
     * chooses meets the security group's rules the file carries. */
    snprintf(dir, sizeof(dir), "%s/client-carol", w->p.dir);
    rm_tree(dir);
    char why[256];
    assert_int_equal(parley_config_password_check(cfg, "weakpass", why, sizeof(why)),
                     PARLEY_EINVAL);
    assert_non_null(strstr(why, "an uppercase letter"));
    assert_int_equal(
        parley_client_register(dir, cfg, "carol", "Carol-pass-1", "weakpass", NULL, &c),
        PARLEY_EINVAL);
    assert_null(c);
    assert_int_equal(parley_client_register(dir, cfg, "carol", "Carol-pass-1", NULL, NULL, &c), 0);
    parley_client_free(c);
    parley_config_free(cfg);
    rm_tree(dir);

    /* Listed as active; the audit log has the creation, without secrets. */
    b = adm_fmt("%s?status=active", base);
    list = call(w, &w->na, 200, "GET", b, NULL);
    assert_int_equal(json_array_size(json_object_get(list, "client_configs")), 1);
    json_decref(list);
    free(b);
    j = call(w, &w->super, 200, "GET", "/api/v1/admin/audit?action=client_config.create", NULL);
    {
        char *d = json_dumps(j, 0);
        assert_non_null(strstr(d, "Field laptops"));
        assert_null(strstr(d, CONF_PW));
        assert_null(strstr(d, token));
        free(d);
    }
    json_decref(j);

    /* Expire it: the public links stop working, the administrator's copy
     * does not. */
    free(path);
    path = adm_fmt("%s/%lld/expire", base, (long long)id);
    j = call(w, &w->na, 200, "POST", path, NULL);
    assert_string_equal(json_string_value(json_object_get(j, "status")), "expired");
    json_decref(j);
    free(pub_file.data);
    assert_int_equal(get_bytes(w, NULL, dl, &pub_file, NULL), 404);
    free(pub_file.data);
    assert_int_equal(get_bytes(w, NULL, landing, &page, NULL), 404);
    free(page.data);
    free(admin_file.data);
    free(path);
    path = adm_fmt("%s/%lld/file", base, (long long)id);
    assert_int_equal(get_bytes(w, &w->na, path, &admin_file, NULL), 200);
    free(admin_file.data);
    b = adm_fmt("%s?status=active", base);
    list = call(w, &w->na, 200, "GET", b, NULL);
    assert_int_equal(json_array_size(json_object_get(list, "client_configs")), 0);
    json_decref(list);
    free(b);
    b = adm_fmt("%s?status=expired", base);
    list = call(w, &w->na, 200, "GET", b, NULL);
    assert_int_equal(json_array_size(json_object_get(list, "client_configs")), 1);
    json_decref(list);
    free(b);
    j = call(w, &w->super, 200, "GET", "/api/v1/admin/audit?action=client_config.expire", NULL);
    assert_int_equal(json_array_size(json_object_get(j, "entries")), 1);
    json_decref(j);
    free(path);
    free(base);
}

/* Make a configuration file through the API and open it. */
static struct parley_config *api_config(struct world *w, const char *body)
{
    char *base = adm_fmt("/api/v1/admin/networks/%s/client-configs", w->net_b), *path;
    struct parley_config *cfg = NULL;
    struct sink file;
    json_t *j = call(w, &w->super, 201, "POST", base, body);

    path = adm_fmt("%s/%lld/file", base, (long long)json_integer_value(json_object_get(j, "id")));
    json_decref(j);
    assert_int_equal(get_bytes(w, &w->super, path, &file, NULL), 200);
    assert_int_equal(parley_config_open_mem(file.data, file.len, CONF_PW, &cfg), 0);
    free(file.data);
    free(path);
    free(base);
    return cfg;
}

/* Register `user` with `cfg` in a fresh directory; returns the result. */
static int try_register(struct world *w, struct parley_config *cfg, const char *user,
                        struct parley_client **c)
{
    char dir[300];
    snprintf(dir, sizeof(dir), "%s/client-%s", w->p.dir, user);
    rm_tree(dir);
    *c = NULL;
    return parley_client_register(dir, cfg, user, "Dave-pass-11", NULL, NULL, c);
}

/* Certificate pinning off: the file holds no certificate and the client
 * trusts the system store (here SSL_CERT_FILE) for HTTPS and WebSocket
 * alike. Pinning on: only the pinned certificates, whatever the system
 * store holds. */
static void test_cconf__pinning_off_uses_the_system_store(void **state)
{
    struct world *w = *state;
    char *users = adm_fmt("/api/v1/admin/networks/%s/users", w->net_b), *other, *own;
    char *old = getenv("SSL_CERT_FILE") ? strdup(getenv("SSL_CERT_FILE")) : NULL;
    struct parley_config *cfg;
    struct parley_client *c;

    json_decref(call(w, &w->super, 201, "POST", users,
                     "{\"username\":\"dave\",\"password\":\"Dave-pass-11\"}"));
    json_decref(call(w, &w->super, 201, "POST", users,
                     "{\"username\":\"fay\",\"password\":\"Dave-pass-11\"}"));
    cfg = api_config(w, "{\"name\":\"Unpinned\",\"password\":\"" CONF_PW "\","
                        "\"service_host\":\"127.0.0.1\",\"certificate_pinning\":false}");
    assert_int_equal(parley_config_pinned_count(cfg), 0);

    /* The system store does not know this self-signed server: refused. */
    own = adm_fmt("%s/tls/cert.pem", w->p.dir);
    other = adm_fmt("%s/other-cert.pem", w->p.dir);
    {
        char *key = adm_fmt("%s/other-key.pem", w->p.dir);
        assert_int_equal(tlsgen_self_signed(other, key, "127.0.0.1", "127.0.0.1"), 0);
        free(key);
    }
    setenv("SSL_CERT_FILE", other, 1);
    assert_int_not_equal(try_register(w, cfg, "dave", &c), 0);
    assert_null(c);
    /* Once the system store holds it, both channels verify it. */
    setenv("SSL_CERT_FILE", own, 1);
    assert_int_equal(try_register(w, cfg, "dave", &c), 0);
    assert_int_equal(parley_client_connect(c), 0);
    assert_int_equal(parley_client_wait_online(c, 30000), 0);
    parley_client_free(c);
    parley_config_free(cfg);

    /* A file pinning another certificate is refused even though the
     * system store would vouch for this server. */
    {
        FILE *f = fopen(other, "r");
        char pem[8192], *body, *q = pem;
        size_t n;
        json_t *arr;
        assert_non_null(f);
        n = fread(pem, 1, sizeof(pem) - 1, f);
        fclose(f);
        pem[n] = 0;
        arr = json_pack("[s]", q);
        char *pins = json_dumps(arr, JSON_COMPACT);
        body = adm_fmt("{\"name\":\"Pinned elsewhere\",\"password\":\"" CONF_PW
                       "\",\"service_host\":\"127.0.0.1\",\"pinned_certs\":%s}",
                       pins);
        free(pins);
        json_decref(arr);
        cfg = api_config(w, body);
        free(body);
    }
    assert_int_equal(parley_config_pinned_count(cfg), 1);
    assert_int_not_equal(try_register(w, cfg, "fay", &c), 0);
    parley_config_free(cfg);

    if (old)
        setenv("SSL_CERT_FILE", old, 1);
    else
        unsetenv("SSL_CERT_FILE");
    free(old);
    free(own);
    free(other);
    free(users);
}

/* A file made without a password is sealed under the empty one: the client
 * opens it with "" and registers with it. */
static void test_cconf__without_a_password(void **state)
{
    struct world *w = *state;
    char *base = adm_fmt("/api/v1/admin/networks/%s/client-configs", w->net_b), *path;
    char *users = adm_fmt("/api/v1/admin/networks/%s/users", w->net_b);
    struct parley_config *cfg = NULL;
    struct parley_client *c;
    struct sink file;
    json_t *j;

    json_decref(call(w, &w->super, 201, "POST", users,
                     "{\"username\":\"gus\",\"password\":\"Dave-pass-11\"}"));
    j = call(w, &w->super, 201, "POST", base,
             "{\"name\":\"Open kiosk\",\"service_host\":\"127.0.0.1\"}");
    assert_false(json_is_true(json_object_get(j, "password_protected")));
    path = adm_fmt("%s/%lld/file", base, (long long)json_integer_value(json_object_get(j, "id")));
    json_decref(j);
    assert_int_equal(get_bytes(w, &w->super, path, &file, NULL), 200);
    assert_true(file.len > 48 && memcmp(file.data, "PPBE", 4) == 0);
    assert_null(memmem(file.data, file.len, "127.0.0.1", 9));
    assert_int_equal(parley_config_open_mem(file.data, file.len, "guess", &cfg), PARLEY_EAUTH);
    assert_int_equal(parley_config_open_mem(file.data, file.len, "", &cfg), 0);
    assert_int_equal(try_register(w, cfg, "gus", &c), 0);
    parley_client_free(c);
    parley_config_free(cfg);
    free(file.data);
    free(path);
    free(users);
    free(base);
}

static void test_cconf__bad_input_changes_nothing(void **state)
{
    struct world *w = *state;
    char *base = adm_fmt("/api/v1/admin/networks/%s/client-configs", w->net_a), *b;
    json_t *before, *after;
    char *s1, *s2;
    struct sink junk;

    before = call(w, &w->super, 200, "GET", base, NULL);
    refused(w, "POST", base, "{\"name\":\"x\",\"password\":\"short\"}", 400, "password");
    refused(w, "POST", base, "{\"password\":\"" CONF_PW "\"}", 400, "name");
    refused(w, "POST", base, "{\"name\":\"x\",\"password\":\"" CONF_PW "\",\"expires_in_days\":0}",
            400, "expires_in_days");
    refused(w, "POST", base, "{\"name\":\"x\",\"password\":\"" CONF_PW "\",\"service_port\":70000}",
            400, "service_port");
    refused(w, "POST", base,
            "{\"name\":\"x\",\"password\":\"" CONF_PW "\",\"service_host\":\"a b/c\"}", 400,
            "service_host");
    refused(w, "POST", base,
            "{\"name\":\"x\",\"password\":\"" CONF_PW "\",\"pinned_certs\":[\"junk\"]}", 400,
            "pinned_certs");
    refused(w, "POST", base,
            "{\"name\":\"x\",\"password\":\"" CONF_PW "\",\"pinned_certs\":[\"-----BEGIN "
            "CERTIFICATE-----\\nAAAA\\n-----END CERTIFICATE-----\\n\"]}",
            400, "pinned_certs");
    refused(w, "POST", base, "{\"name\":\"x\",\"password\":\"" CONF_PW "\",\"pinned_certs\":[]}",
            400, "pinned_certs");
    refused(
        w, "POST", base,
        "{\"name\":\"x\",\"password\":\"" CONF_PW "\",\"certificate_pinning\":false,"
        "\"pinned_certs\":[\"-----BEGIN CERTIFICATE-----\\nAAAA\\n-----END CERTIFICATE-----\\n\"]}",
        400, "pinned_certs");
    refused(w, "POST", base, "{\"name\":\"x\",\"password\":\"" CONF_PW "\",\"suite\":\"rsa\"}", 400,
            "suite");
    b = adm_fmt("{\"name\":\"x\",\"password\":\"" CONF_PW "\",\"security_group_id\":%lld}",
                (long long)w->group_b);
    refused(w, "POST", base, b, 400, "security_group_id");
    free(b);
    refused(w, "GET", "/api/v1/admin/networks/ffffffffffffffff/client-configs/1", NULL, 404,
            "network");
    b = adm_fmt("%s?status=maybe", base);
    refused(w, "GET", b, NULL, 400, "status");
    free(b);
    b = adm_fmt("%s/abc/file", base);
    refused(w, "GET", b, NULL, 404, "abc");
    free(b);
    b = adm_fmt("%s/999999/expire", base);
    refused(w, "POST", b, NULL, 404, "999999");
    free(b);
    after = call(w, &w->super, 200, "GET", base, NULL);
    s1 = json_dumps(before, JSON_SORT_KEYS);
    s2 = json_dumps(after, JSON_SORT_KEYS);
    assert_string_equal(s1, s2);
    free(s1);
    free(s2);
    json_decref(before);
    json_decref(after);

    /* Another network's administrator cannot see the files. */
    b = adm_fmt("/api/v1/admin/networks/%s/client-configs", w->net_b);
    json_decref(call(w, &w->na, 404, "GET", b, NULL));
    free(b);

    /* A name is unique in its network. */
    json_decref(call(w, &w->na, 201, "POST", base,
                     "{\"name\":\"dup\",\"password\":\"" CONF_PW
                     "\",\"service_host\":\"h.example\","
                     "\"service_port\":443}"));
    refused(w, "POST", base, "{\"name\":\"dup\",\"password\":\"" CONF_PW "\"}", 409, "name");

    /* Tokens that are malformed or unknown find nothing. */
    assert_int_equal(get_bytes(w, NULL, "/config/short", &junk, NULL), 404);
    free(junk.data);
    assert_int_equal(
        get_bytes(w, NULL, "/config/AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA/file", &junk, NULL),
        404);
    free(junk.data);
    assert_int_equal(get_bytes(w, NULL, "/config/%3Cscript%3E/file", &junk, NULL), 404);
    free(junk.data);
    free(base);
}

/* ---- bulk suspend and delete ---- */

static char *b64(const char *s)
{
    static const char tbl[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
    size_t n = strlen(s), o = 0;
    char *out = malloc(n / 3 * 4 + 8);
    for (size_t i = 0; i < n; i += 3) {
        uint32_t v = (uint32_t)(unsigned char)s[i] << 16;
        if (i + 1 < n)
            v |= (uint32_t)(unsigned char)s[i + 1] << 8;
        if (i + 2 < n)
            v |= (uint32_t)(unsigned char)s[i + 2];
        out[o++] = tbl[v >> 18 & 63];
        out[o++] = tbl[v >> 12 & 63];
        out[o++] = i + 1 < n ? tbl[v >> 6 & 63] : '=';
        out[o++] = i + 2 < n ? tbl[v & 63] : '=';
    }
    out[o] = 0;
    return out;
}

static char *csv_body(const char *csv, const char *extra)
{
    char *e = b64(csv), *b = adm_fmt("{\"csv_base64\":\"%s\"%s}", e, extra ? extra : "");
    free(e);
    return b;
}

static const char *user_status(struct parleyd *p, const struct adm *s, const char *net,
                               const char *username, char *out, size_t len)
{
    char *path = adm_fmt("/api/v1/admin/networks/%s/users?limit=1000", net);
    json_t *j = NULL, *u;
    size_t i;
    snprintf(out, len, "absent");
    assert_int_equal(adm_req(p, s, "GET", path, NULL, &j), 200);
    json_array_foreach(json_object_get(j, "users"), i, u)
    {
        if (strcmp(json_string_value(json_object_get(u, "username")), username) == 0)
            snprintf(out, len, "%s", json_string_value(json_object_get(u, "status")));
    }
    json_decref(j);
    free(path);
    return out;
}

/* Bulk suspend and delete close live sessions; bad rows are reported by
 * number while the others proceed. A server of its own, with users
 * provisioned straight into the database. */
static void test_bulk__suspend_delete_close_sessions(void **state)
{
    struct parleyd p;
    struct tc_user u, u2;
    struct tc_device d, d2;
    struct adm s;
    char *path, *b, st[32];
    json_t *j, *f;

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

    path = adm_fmt("/api/v1/admin/networks/%s/bulk-users/suspend", TC_NETWORK);
    b = csv_body("username,comment\r\nwalt,first\r\nghost,x\r\n\"bad name!\",y\r\nwalt,again\r\n"
                 ",empty\r\n",
                 NULL);
    assert_int_equal(adm_req(&p, &s, "POST", path, b, &j), 200);
    assert_int_equal(json_integer_value(json_object_get(j, "processed")), 5);
    assert_int_equal(json_integer_value(json_object_get(j, "succeeded")), 1);
    f = json_object_get(j, "failed");
    assert_int_equal(json_array_size(f), 4);
    assert_int_equal(json_integer_value(json_object_get(json_array_get(f, 0), "row")), 3);
    assert_string_equal(json_string_value(json_object_get(json_array_get(f, 0), "reason")),
                        "no such user in this network");
    assert_int_equal(json_integer_value(json_object_get(json_array_get(f, 1), "row")), 4);
    assert_int_equal(json_integer_value(json_object_get(json_array_get(f, 2), "row")), 5);
    assert_non_null(
        strstr(json_string_value(json_object_get(json_array_get(f, 2), "reason")), "row 2"));
    assert_int_equal(json_integer_value(json_object_get(json_array_get(f, 3), "row")), 6);
    json_decref(j);
    free(b);
    free(path);
    assert_null(tc_wait_json(&d, "no-such-message", 10000));
    assert_int_equal(d.close_code, 1008);
    assert_int_equal(tc_login(&p, &u), 403);
    assert_string_equal(user_status(&p, &s, TC_NETWORK, "walt", st, sizeof(st)), "suspended");
    assert_string_equal(user_status(&p, &s, TC_NETWORK, "wendy", st, sizeof(st)), "active");

    /* Deleting needs the acknowledgement; the directory export is a valid
     * input once the rows to keep are removed. */
    path = adm_fmt("/api/v1/admin/networks/%s/bulk-users/delete", TC_NETWORK);
    b = csv_body("\"user_id\",\"username\",\"first_name\"\r\n\"00\",\"wendy\",\"W\"\r\n", NULL);
    assert_int_equal(adm_req(&p, &s, "POST", path, b, &j), 400);
    assert_non_null(strstr(adm_err_msg(j), "acknowledge_deletion"));
    json_decref(j);
    free(b);
    b = csv_body("\"user_id\",\"username\",\"first_name\"\r\n\"00\",\"wendy\",\"W\"\r\n",
                 ",\"acknowledge_deletion\":false");
    assert_int_equal(adm_req(&p, &s, "POST", path, b, &j), 400);
    assert_non_null(strstr(adm_err_msg(j), "acknowledge_deletion"));
    json_decref(j);
    free(b);
    assert_string_equal(user_status(&p, &s, TC_NETWORK, "wendy", st, sizeof(st)), "active");
    b = csv_body("\"user_id\",\"username\",\"first_name\"\r\n\"00\",\"wendy\",\"W\"\r\n",
                 ",\"acknowledge_deletion\":true");
    assert_int_equal(adm_req(&p, &s, "POST", path, b, &j), 200);
    assert_int_equal(json_integer_value(json_object_get(j, "succeeded")), 1);
    assert_int_equal(json_array_size(json_object_get(j, "failed")), 0);
    json_decref(j);
    free(b);
    free(path);
    assert_null(tc_wait_json(&d2, "no-such-message", 10000));
    assert_int_equal(d2.close_code, 1008);
    assert_string_equal(user_status(&p, &s, TC_NETWORK, "wendy", st, sizeof(st)), "absent");

    /* Each change is audited, and so is the run. */
    assert_int_equal(
        adm_req(&p, &s, "GET", "/api/v1/admin/audit?action=user.bulk_suspend", NULL, &j), 200);
    assert_int_equal(json_array_size(json_object_get(j, "entries")), 1);
    json_decref(j);
    assert_int_equal(adm_req(&p, &s, "GET", "/api/v1/admin/audit?action=user.delete", NULL, &j),
                     200);
    assert_int_equal(json_array_size(json_object_get(j, "entries")), 1);
    json_decref(j);

    tc_device_release(&d);
    tc_user_release(&u);
    tc_device_release(&d2);
    tc_user_release(&u2);
    assert_int_equal(harness_stop(&p, SIGTERM, 30, NULL), 0);
    harness_cleanup(&p);
}

static void test_bulk__template_and_bad_files_change_nothing(void **state)
{
    struct world *w = *state;
    char *users = adm_fmt("/api/v1/admin/networks/%s/users", w->net_a), *path, *b, *s1, *s2;
    json_t *before, *after;
    struct sink t;
    static const struct {
        const char *csv;
        const char *names;
    } bad[] = {
        {"name\r\nalice\r\n", "username"},
        {"username\r\n\"alice\r\n", "row 2"},
        {"username\r\nal\"ice\r\n", "row 2"},
        {"", "csv_base64"},
    };

    path = adm_fmt("/api/v1/admin/networks/%s/bulk-users/template.csv", w->net_a);
    assert_int_equal(get_bytes(w, &w->na, path, &t, NULL), 200);
    assert_string_equal((char *)t.data, "username\r\n");
    free(t.data);
    free(path);

    json_decref(call(w, &w->na, 201, "POST", users,
                     "{\"username\":\"dora\",\"password\":\"Dora-pass-12\"}"));
    before = call(w, &w->super, 200, "GET", users, NULL);
    path = adm_fmt("/api/v1/admin/networks/%s/bulk-users/suspend", w->net_a);
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        b = csv_body(bad[i].csv, NULL);
        refused(w, "POST", path, b, 400, bad[i].names);
        free(b);
    }
    refused(w, "POST", path, "{\"csv_base64\":\"not base64!\"}", 400, "csv_base64");
    refused(w, "POST", path, "{}", 400, "csv_base64");
    free(path);
    path = adm_fmt("/api/v1/admin/networks/%s/bulk-users/delete", w->net_a);
    b = csv_body("username\ndora\n", ",\"acknowledge_deletion\":\"yes\"");
    refused(w, "POST", path, b, 400, "acknowledge_deletion");
    free(b);
    free(path);
    /* Another network's users are not this network's. */
    path = adm_fmt("/api/v1/admin/networks/%s/bulk-users/suspend", w->net_b);
    b = csv_body("username\ndora\n", NULL);
    json_decref(call(w, &w->super, 200, "POST", path, b));
    json_decref(call(w, &w->na, 404, "POST", path, b));
    free(b);
    free(path);
    after = call(w, &w->super, 200, "GET", users, NULL);
    s1 = json_dumps(before, JSON_SORT_KEYS);
    s2 = json_dumps(after, JSON_SORT_KEYS);
    assert_string_equal(s1, s2);
    free(s1);
    free(s2);
    json_decref(before);
    json_decref(after);
    free(users);
}

/* ---- deployment settings, appearance, crash report ---- */

#define PNG_1X1                                                                                    \
    "iVBORw0KGgoAAAANSUhEUgAAAAEAAAABCAYAAAAfFcSJAAAADUlEQVR42mNkYPhfDwAChwGA60e6kgAAAABJRU5ErkJg" \
    "gg"                                                                                           \
    "=="
#define PNG_HUGE "iVBORw0KGgoAAAANSUhEUgABhqAAAAABCAIAAADSHIGC"
#define SVG_B64                                                                                    \
    "PHN2ZyB4bWxucz0iaHR0cDovL3d3dy53My5vcmcvMjAwMC9zdmciPjxzY3JpcHQ+YWxlcnQoMSk8L3NjcmlwdD48L3N2" \
    "Zz4="

static void test_deploy__settings_validated_and_stored(void **state)
{
    struct world *w = *state;
    const char *path = "/api/v1/admin/deployment/settings";
    json_t *j, *st;
    char *s1, *s2;

    j = call(w, &w->super, 200, "GET", path, NULL);
    st = json_object_get(j, "settings");
    assert_true(json_is_false(json_object_get(st, "room_bot_enabled")));
    assert_true(json_is_true(json_object_get(st, "show_domains_to_admins")));
    assert_true(json_array_size(json_object_get(j, "table")) >= 6);
    json_decref(j);
    json_decref(call(w, &w->na, 403, "GET", path, NULL));

    j = call(w, &w->super, 200, "PATCH", path,
             "{\"settings\":{\"room_bot_enabled\":true,\"local_domains\":[\"example.com\","
             "\"testing.example\"],\"show_domains_to_admins\":false}}");
    json_decref(j);
    j = call(w, &w->super, 200, "GET", path, NULL);
    st = json_object_get(j, "settings");
    assert_true(json_is_true(json_object_get(st, "room_bot_enabled")));
    assert_true(json_is_false(json_object_get(st, "show_domains_to_admins")));
    assert_int_equal(json_array_size(json_object_get(st, "local_domains")), 2);
    s1 = json_dumps(st, JSON_SORT_KEYS);
    json_decref(j);

    refused(w, "PATCH", path, "{\"settings\":{\"local_domains\":[\"bad domain\"]}}", 400,
            "local_domains");
    refused(w, "PATCH", path, "{\"settings\":{\"federated_domains\":[\"-x.example\"]}}", 400,
            "federated_domains");
    refused(w, "PATCH", path, "{\"settings\":{\"room_bot_enabled\":\"yes\"}}", 400,
            "room_bot_enabled");
    refused(w, "PATCH", path, "{\"settings\":{\"no_such_setting\":1}}", 400, "no_such_setting");
    refused(w, "PATCH", path, "{\"settings\":[]}", 400, "settings");
    j = call(w, &w->super, 200, "GET", path, NULL);
    s2 = json_dumps(json_object_get(j, "settings"), JSON_SORT_KEYS);
    assert_string_equal(s1, s2);
    free(s1);
    free(s2);
    json_decref(j);
    j = call(w, &w->super, 200, "GET", "/api/v1/admin/audit?action=deployment.settings_update",
             NULL);
    assert_int_equal(json_array_size(json_object_get(j, "entries")), 1);
    json_decref(j);

    /* While local domains are listed, new users are named user@domain with
     * one of them; bots keep their own rule. */
    char *users = adm_fmt("/api/v1/admin/networks/%s/users", w->net_a);
    char *bots = adm_fmt("/api/v1/admin/networks/%s/bots", w->net_a);
    refused(w, "POST", users, "{\"username\":\"nodomain\",\"password\":\"Carol-pass-1\"}", 400,
            "testing.example");
    refused(w, "POST", users, "{\"username\":\"x@other.example\",\"password\":\"Carol-pass-1\"}",
            400, "local domains");
    refused(w, "POST", users, "{\"username\":\"@example.com\",\"password\":\"Carol-pass-1\"}", 400,
            "username");
    json_decref(call(w, &w->na, 201, "POST", users,
                     "{\"username\":\"dora@Example.COM\",\"password\":\"Carol-pass-1\"}"));
    json_decref(call(w, &w->na, 201, "POST", bots,
                     "{\"username\":\"domainlessbot\",\"password\":\"Carol-pass-1\"}"));
    json_decref(call(w, &w->super, 200, "PATCH", path, "{\"settings\":{\"local_domains\":[]}}"));
    json_decref(call(w, &w->na, 201, "POST", users,
                     "{\"username\":\"nodomain\",\"password\":\"Carol-pass-1\"}"));
    free(users);
    free(bots);
}

static void test_deploy__appearance_and_public_logo(void **state)
{
    struct world *w = *state;
    const char *path = "/api/v1/admin/deployment/appearance";
    struct sink logo;
    char *hdrs = NULL;
    json_t *j, *before;
    char *s1, *s2;

    j = call(w, &w->super, 200, "PUT", path,
             "{\"login_text\":\"Authorised use only\",\"logo_base64\":\"" PNG_1X1 "\"}");
    assert_string_equal(json_string_value(json_object_get(j, "login_text")), "Authorised use only");
    json_decref(j);
    /* The sign-in page reads it without signing in. */
    j = call(w, NULL, 200, "GET", "/api/v1/appearance", NULL);
    assert_string_equal(json_string_value(json_object_get(j, "login_text")), "Authorised use only");
    assert_string_equal(json_string_value(json_object_get(json_object_get(j, "logo"), "type")),
                        "image/png");
    assert_int_equal(json_integer_value(json_object_get(json_object_get(j, "logo"), "width")), 1);
    assert_null(json_object_get(json_object_get(j, "logo"), "data"));
    json_decref(j);
    assert_int_equal(get_bytes(w, NULL, "/api/v1/appearance/logo", &logo, &hdrs), 200);
    assert_true(logo.len == 70 && memcmp(logo.data, "\x89PNG", 4) == 0);
    assert_non_null(strstr(hdrs, "image/png"));
    assert_non_null(strstr(hdrs, "nosniff"));
    free(hdrs);
    free(logo.data);

    before = call(w, &w->super, 200, "GET", path, NULL);
    refused(w, "PUT", path, "{\"logo_base64\":\"" SVG_B64 "\"}", 400, "logo_base64");
    refused(w, "PUT", path, "{\"logo_base64\":\"" PNG_HUGE "\"}", 400, "logo_base64");
    refused(w, "PUT", path, "{\"logo_base64\":\"!!!!\"}", 400, "logo_base64");
    refused(w, "PUT", path, "{\"logo_base64\":\"" PNG_1X1 "\",\"remove_logo\":true}", 400,
            "remove_logo");
    refused(w, "PUT", path, "{\"login_text\":\"a\\u0001b\"}", 400, "login_text");
    j = call(w, &w->super, 200, "GET", path, NULL);
    s1 = json_dumps(before, JSON_SORT_KEYS);
    s2 = json_dumps(j, JSON_SORT_KEYS);
    assert_string_equal(s1, s2);
    free(s1);
    free(s2);
    json_decref(j);
    json_decref(before);
    json_decref(call(w, &w->na, 403, "PUT", path, "{\"login_text\":\"x\"}"));

    j = call(w, &w->super, 200, "PUT", path, "{\"remove_logo\":true}");
    assert_true(json_is_null(json_object_get(j, "logo")));
    assert_string_equal(json_string_value(json_object_get(j, "login_text")), "Authorised use only");
    json_decref(j);
    assert_int_equal(get_bytes(w, NULL, "/api/v1/appearance/logo", &logo, NULL), 404);
    free(logo.data);
}

static void test_deploy__crash_report(void **state)
{
    struct world *w = *state;
    struct sink r;
    char *hdrs = NULL;
    json_t *j;

    assert_int_equal(get_bytes(w, &w->super, "/api/v1/admin/deployment/crash-report", &r, &hdrs),
                     200);
    assert_non_null(strstr(hdrs, "attachment; filename=\"parleyd-crash-report-"));
    free(hdrs);
    j = r.data ? json_loads((char *)r.data, 0, NULL) : NULL;
    if (!j) {
        char *log = harness_read(&w->p, "parleyd.log");
        fprintf(stderr, "crash report: %s\nlog:\n%s\n", r.data ? (char *)r.data : "(none)",
                log ? log : "");
        free(log);
    }
    assert_non_null(j);
    assert_non_null(json_string_value(json_object_get(json_object_get(j, "versions"), "parleyd")));
    assert_non_null(strstr(json_string_value(json_object_get(j, "configuration")), "listen"));
    assert_null(strstr((char *)r.data, ADM_SUPER_PW));
    assert_null(strstr((char *)r.data, CONF_PW));
    /* A PostgreSQL URI's password never appears. */
    {
        const char *uri = w->p.store_uri ? w->p.store_uri : "";
        const char *at = strstr(uri, "@"), *colon = strstr(uri, "://");
        if (at && colon) {
            const char *pw = strchr(colon + 3, ':');
            if (pw && pw < at) {
                char secret[128];
                snprintf(secret, sizeof(secret), "%.*s", (int)(at - pw - 1), pw + 1);
                if (secret[0])
                    assert_null(strstr((char *)r.data, secret));
            }
        }
    }
    json_decref(j);
    free(r.data);
    assert_int_equal(get_bytes(w, &w->na, "/api/v1/admin/deployment/crash-report", &r, NULL), 403);
    free(r.data);
}

/* ---- network pages: options, security tags, default rooms, guests ---- */

static void test_net__options_tags_rooms(void **state)
{
    struct world *w = *state;
    char *opts = adm_fmt("/api/v1/admin/networks/%s/options", w->net_a);
    char *tags = adm_fmt("/api/v1/admin/networks/%s/security-tags", w->net_a);
    char *rooms = adm_fmt("/api/v1/admin/networks/%s/default-rooms", w->net_a);
    char *b, *s1, *s2;
    int64_t group_a, tag_id;
    json_t *j, *before;

    j = call(w, &w->na, 200, "GET", opts, NULL);
    assert_int_equal(
        json_integer_value(json_object_get(json_object_get(j, "settings"), "tcp_calling_port")),
        443);
    json_decref(j);
    json_decref(call(w, &w->na, 200, "PATCH", opts,
                     "{\"settings\":{\"tcp_calling_port\":8443,\"file_management\":true}}"));
    refused(w, "PATCH", opts, "{\"settings\":{\"tcp_calling_port\":0}}", 400, "tcp_calling_port");
    refused(w, "PATCH", opts, "{\"settings\":{\"tcp_calling_port\":65536}}", 400,
            "tcp_calling_port");
    refused(w, "PATCH", opts, "{\"settings\":{\"file_management\":1}}", 400, "file_management");
    j = call(w, &w->na, 200, "GET", opts, NULL);
    assert_int_equal(
        json_integer_value(json_object_get(json_object_get(j, "settings"), "tcp_calling_port")),
        8443);
    assert_true(json_is_true(json_object_get(json_object_get(j, "settings"), "file_management")));
    json_decref(j);

    b = adm_fmt("/api/v1/admin/networks/%s/security-groups", w->net_a);
    j = call(w, &w->na, 201, "POST", b, "{\"name\":\"Cleared\"}");
    group_a = json_integer_value(json_object_get(j, "id"));
    json_decref(j);
    free(b);

    /* Security tags. */
    b = adm_fmt("{\"name\":\"Secret\",\"color\":\"#aa0011\",\"security_groups\":[%lld]}",
                (long long)group_a);
    j = call(w, &w->na, 201, "POST", tags, b);
    tag_id = json_integer_value(json_object_get(j, "id"));
    free(b);
    json_decref(j);
    before = call(w, &w->na, 200, "GET", tags, NULL);
    refused(w, "POST", tags, "{\"name\":\"Secret\",\"color\":\"#aa0011\"}", 409, "name");
    refused(w, "POST", tags, "{\"name\":\"T2\",\"color\":\"red\"}", 400, "color");
    refused(w, "POST", tags, "{\"name\":\"T2\",\"color\":\"#zz0011\"}", 400, "color");
    b = adm_fmt("{\"name\":\"T2\",\"color\":\"#000000\",\"security_groups\":[%lld]}",
                (long long)w->group_b);
    refused(w, "POST", tags, b, 400, "security_groups");
    free(b);
    b = adm_fmt("{\"name\":\"T2\",\"color\":\"#000000\",\"security_groups\":[%lld,%lld]}",
                (long long)group_a, (long long)group_a);
    refused(w, "POST", tags, b, 400, "security_groups");
    free(b);
    refused(w, "POST", tags, "{\"name\":\"T2\",\"color\":\"#000000\",\"security_groups\":[\"1\"]}",
            400, "security_groups");
    j = call(w, &w->na, 200, "GET", tags, NULL);
    s1 = json_dumps(before, JSON_SORT_KEYS);
    s2 = json_dumps(j, JSON_SORT_KEYS);
    assert_string_equal(s1, s2);
    assert_int_equal(json_array_size(json_object_get(j, "security_tags")), 1);
    free(s1);
    free(s2);
    json_decref(j);
    json_decref(before);
    b = adm_fmt("%s/%lld", tags, (long long)tag_id);
    json_decref(call(w, &w->na, 204, "DELETE", b, NULL));
    json_decref(call(w, &w->na, 404, "DELETE", b, NULL));
    free(b);

    /* Default rooms need the room bot; the deployment test above turned it
     * on, so turn it off first to see the refusal. */
    json_decref(call(w, &w->super, 200, "PATCH", "/api/v1/admin/deployment/settings",
                     "{\"settings\":{\"room_bot_enabled\":false}}"));
    refused(w, "POST", rooms, "{\"name\":\"All hands\",\"all_users\":true}", 409,
            "room_bot_enabled");
    json_decref(call(w, &w->super, 200, "PATCH", "/api/v1/admin/deployment/settings",
                     "{\"settings\":{\"room_bot_enabled\":true}}"));
    j = call(w, &w->na, 201, "POST", rooms,
             "{\"name\":\"All hands\",\"description\":\"Everyone\",\"all_users\":true}");
    json_decref(j);
    refused(w, "POST", rooms, "{\"name\":\"Team\"}", 400, "security_groups");
    b = adm_fmt("{\"name\":\"Team\",\"security_groups\":[%lld]}", (long long)w->group_b);
    refused(w, "POST", rooms, b, 400, "security_groups");
    free(b);
    refused(w, "POST", rooms, "{\"name\":\"All hands\",\"all_users\":true}", 409, "name");
    b = adm_fmt("{\"name\":\"Team\",\"security_groups\":[%lld]}", (long long)group_a);
    json_decref(call(w, &w->na, 201, "POST", rooms, b));
    free(b);
    j = call(w, &w->na, 200, "GET", rooms, NULL);
    assert_int_equal(json_array_size(json_object_get(j, "default_rooms")), 2);
    assert_true(json_is_true(json_object_get(j, "room_bot_enabled")));
    json_decref(j);
    j = call(w, &w->super, 200, "GET", "/api/v1/admin/audit?action=default_room.create", NULL);
    assert_int_equal(json_array_size(json_object_get(j, "entries")), 2);
    json_decref(j);
    free(opts);
    free(tags);
    free(rooms);
}

/* Insert a guest account straight into the database: the admin API
 * creates users and bots only; guests arrive through federation. */
static void add_guest(struct world *w, const char *username)
{
    struct store *st = NULL;
    struct store_conn *c = NULL;
    char uri[400];
    uint8_t uid[16];

    if (w->p.store_uri)
        snprintf(uri, sizeof(uri), "%s", w->p.store_uri);
    else
        snprintf(uri, sizeof(uri), "sqlite:%s/parley.db", w->p.dir);
    for (int i = 0; i < 16; i++)
        uid[i] = (uint8_t)(0xA0 + i);
    assert_int_equal(store_open(uri, NULL, &st), 0);
    assert_int_equal(store_conn_get(st, &c), 0);
    struct store_val p[] = {STORE_TEXT(w->net_a), STORE_BLOB(uid, 16), STORE_TEXT(username)};
    assert_int_equal(store_exec(c,
                                "INSERT INTO users (network_id, user_id, username, password_hash, "
                                "status, user_type, created_at, activated_at, updated_at) VALUES "
                                "((SELECT id FROM networks WHERE network_id = $1), $2, $3, 'x', "
                                "'active', 'guest', 1, 1, 1)",
                                p, 3, NULL),
                     0);
    store_conn_put(st, c);
    store_close(st);
}

/* The last line of `log` that contains `what` (a copy), or NULL. */
static char *last_line_with(const char *log, const char *what)
{
    const char *hit = NULL;
    for (const char *p = log; (p = strstr(p, what)); p++)
        hit = p;
    if (!hit)
        return NULL;
    const char *start = hit, *end = strchr(hit, '\n');
    while (start > log && start[-1] != '\n')
        start--;
    return strndup(start, end ? (size_t)(end - start) : strlen(start));
}

/* Event logging: the network's verbosity decides what parleyd's log says
 * about sessions and messages; message contents never appear. */
static void test_net__event_logging_levels(void **state)
{
    struct world *w = *state;
    char *users = adm_fmt("/api/v1/admin/networks/%s/users", w->net_b);
    char *net = adm_fmt("/api/v1/admin/networks/%s", w->net_b);
    char *msg_event = adm_fmt("event=message network=%s conversation=direct", w->net_b);
    char *start_event = adm_fmt("event=session_start network=%s", w->net_b);
    struct parley_client *a = NULL, *b = NULL;
    struct parley_config *cfg;
    char *log, *line, want[128];

    json_decref(call(w, &w->super, 201, "POST", users,
                     "{\"username\":\"evone\",\"password\":\"Dave-pass-11\"}"));
    json_decref(call(w, &w->super, 201, "POST", users,
                     "{\"username\":\"evtwo\",\"password\":\"Dave-pass-11\"}"));
    cfg = api_config(w, "{\"name\":\"Events\",\"password\":\"" CONF_PW "\"}");
    assert_int_equal(try_register(w, cfg, "evtwo", &b), 0);
    assert_int_equal(try_register(w, cfg, "evone", &a), 0);

    json_decref(
        call(w, &w->super, 200, "PATCH", net, "{\"settings\":{\"event_logging\":\"activity\"}}"));
    assert_int_equal(parley_client_connect(a), 0);
    assert_int_equal(parley_client_wait_online(a, 15000), 0);
    assert_int_equal(parley_client_send_text(a, "evtwo", "first words of the event test", NULL), 0);
    log = harness_read(&w->p, "parleyd.log");
    assert_non_null(line = last_line_with(log, start_event));
    free(line);
    assert_non_null(line = last_line_with(log, msg_event));
    assert_null(strstr(line, " ip="));
    assert_null(strstr(line, " device="));
    assert_null(strstr(line, " user="));
    free(line);
    free(log);

    json_decref(call(w, &w->super, 200, "PATCH", net,
                     "{\"settings\":{\"event_logging\":\"username_id\"}}"));
    assert_int_equal(parley_client_send_text(a, "evtwo", "second words of the event test", NULL),
                     0);
    log = harness_read(&w->p, "parleyd.log");
    assert_non_null(line = last_line_with(log, msg_event));
    assert_non_null(strstr(line, " ip=127.0.0.1"));
    assert_non_null(strstr(line, " device="));
    assert_non_null(strstr(line, " platform=linux"));
    assert_non_null(strstr(line, " recipient_devices="));
    snprintf(want, sizeof(want), " user=%s", parley_client_user_id(a));
    assert_non_null(strstr(line, want));
    free(line);
    /* Clients read the policy as it is now, not as the file had it. */
    char *policy = NULL;
    assert_int_equal(parley_client_policy(a, &policy), 0);
    json_t *pj = json_loads(policy, 0, NULL);
    assert_string_equal(
        json_string_value(json_object_get(json_object_get(pj, "network"), "event_logging")),
        "username_id");
    assert_true(
        json_is_integer(json_object_get(json_object_get(pj, "settings"), "max_expiration")));
    assert_null(strstr(parley_config_policy(cfg), "username_id"));
    json_decref(pj);
    free(policy);
    assert_null(strstr(log, "words of the event test"));
    free(log);

    parley_client_free(a);
    parley_client_free(b);
    parley_config_free(cfg);
    free(users);
    free(net);
    free(msg_event);
    free(start_event);
}

/* Security tags classify users: a user's client sees, with everyone it
 * looks up, the tags of that user's security group. */
static void test_net__security_tags_reach_clients(void **state)
{
    struct world *w = *state;
    char *users = adm_fmt("/api/v1/admin/networks/%s/users", w->net_b);
    char *tags = adm_fmt("/api/v1/admin/networks/%s/security-tags", w->net_b);
    char *groups = adm_fmt("/api/v1/admin/networks/%s/security-groups", w->net_b);
    char secret[IDS_LOGIN_SECRET_B64], token[128], *b;
    int64_t open_group;
    json_t *j, *t;

    j = call(w, &w->super, 201, "POST", groups, "{\"name\":\"Unclassified\"}");
    open_group = json_integer_value(json_object_get(j, "id"));
    json_decref(j);
    json_decref(call(w, &w->super, 201, "POST", users,
                     "{\"username\":\"tagged\",\"password\":\"Dave-pass-11\"}"));
    b = adm_fmt("{\"username\":\"plain\",\"password\":\"Dave-pass-11\",\"security_group_id\":%lld}",
                (long long)open_group);
    json_decref(call(w, &w->super, 201, "POST", users, b));
    free(b);
    b = adm_fmt("{\"name\":\"Secret\",\"color\":\"#aa0000\",\"security_groups\":[%lld]}",
                (long long)w->group_b);
    json_decref(call(w, &w->super, 201, "POST", tags, b));
    free(b);
    json_decref(call(w, &w->super, 201, "POST", tags,
                     "{\"name\":\"Unused\",\"color\":\"#00aa00\",\"security_groups\":[]}"));

    assert_int_equal(ids_login_secret(w->net_b, "plain", "Dave-pass-11", secret), 0);
    b = adm_fmt("{\"network_id\":\"%s\",\"username\":\"plain\",\"login_secret\":\"%s\"}", w->net_b,
                secret);
    assert_int_equal(tc_http(&w->p, "POST", "/api/v1/client/login", NULL, b, &j), 200);
    snprintf(token, sizeof(token), "%s", json_string_value(json_object_get(j, "token")));
    json_decref(j);
    free(b);

    assert_int_equal(tc_http(&w->p, "GET", "/api/v1/client/users?username=tagged", token, NULL, &j),
                     200);
    t = json_object_get(j, "security_tags");
    assert_int_equal(json_array_size(t), 1);
    assert_string_equal(json_string_value(json_object_get(json_array_get(t, 0), "name")), "Secret");
    assert_string_equal(json_string_value(json_object_get(json_array_get(t, 0), "color")),
                        "#aa0000");
    json_decref(j);
    assert_int_equal(tc_http(&w->p, "GET", "/api/v1/client/users?username=plain", token, NULL, &j),
                     200);
    assert_int_equal(json_array_size(json_object_get(j, "security_tags")), 0);
    json_decref(j);
    free(users);
    free(tags);
    free(groups);
}

static void test_net__guest_block_unblock(void **state)
{
    struct world *w = *state;
    char *base = adm_fmt("/api/v1/admin/networks/%s/guests", w->net_a), *b;
    json_t *j;

    add_guest(w, "gina@partner.example");
    j = call(w, &w->na, 200, "GET", base, NULL);
    assert_int_equal(json_array_size(json_object_get(j, "guests")), 1);
    assert_int_equal(json_array_size(json_object_get(j, "blocked")), 0);
    json_decref(j);

    b = adm_fmt("%s/blocked", base);
    json_decref(call(w, &w->na, 201, "POST", b, "{\"username\":\"gina@partner.example\"}"));
    refused(w, "POST", b, "{\"username\":\"gina@partner.example\"}", 409, "username");
    refused(w, "POST", b, "{\"username\":\"not a name\"}", 400, "username");
    json_decref(call(w, &w->na, 201, "POST", b, "{\"username\":\"gus@elsewhere.example\"}"));
    free(b);
    j = call(w, &w->na, 200, "GET", base, NULL);
    assert_int_equal(json_array_size(json_object_get(j, "blocked")), 2);
    assert_string_equal(json_string_value(json_object_get(
                            json_array_get(json_object_get(j, "guests"), 0), "status")),
                        "suspended");
    json_decref(j);

    b = adm_fmt("%s/blocked/gina@partner.example", base);
    json_decref(call(w, &w->na, 204, "DELETE", b, NULL));
    refused(w, "DELETE", b, NULL, 404, "gina");
    free(b);
    j = call(w, &w->na, 200, "GET", base, NULL);
    assert_int_equal(json_array_size(json_object_get(j, "blocked")), 1);
    assert_string_equal(json_string_value(json_object_get(
                            json_array_get(json_object_get(j, "guests"), 0), "status")),
                        "active");
    json_decref(j);
    j = call(w, &w->super, 200, "GET", "/api/v1/admin/audit?action=guest.block", NULL);
    assert_int_equal(json_array_size(json_object_get(j, "entries")), 2);
    json_decref(j);
    free(base);
}

/* ---- analytics ---- */

static void test_analytics__figures_from_the_tables(void **state)
{
    struct world *w = *state;
    char *p, *b, *uid;
    long long now = (long long)time(NULL);
    struct sink csv;
    json_t *j, *s, *v;
    const char *k;
    long long sum = 0;

    /* carol registered with a configuration file above: one registered
     * user with one device; dora is pending. Delete a user to count it. */
    b = adm_fmt("/api/v1/admin/networks/%s/users", w->net_a);
    j = call(w, &w->na, 201, "POST", b, "{\"username\":\"erin\",\"password\":\"Erin-pass-123\"}");
    uid = strdup(json_string_value(json_object_get(j, "user_id")));
    json_decref(j);
    free(b);
    b = adm_fmt("/api/v1/admin/networks/%s/users/%s", w->net_a, uid);
    json_decref(call(w, &w->na, 204, "DELETE", b, NULL));
    free(b);
    free(uid);

    p = adm_fmt("/api/v1/admin/networks/%s/analytics/overview?from=%lld&to=%lld", w->net_a,
                now - 7 * 86400, now + 60);
    j = call(w, &w->na, 200, "GET", p, NULL);
    assert_int_equal(json_integer_value(json_object_get(j, "registered")), 1);
    assert_true(json_integer_value(json_object_get(j, "pending")) >= 1);
    assert_int_equal(json_integer_value(json_object_get(j, "devices")), 1);
    s = json_object_get(j, "registrations");
    assert_true(json_object_size(s) >= 7 && json_object_size(s) <= 9);
    json_object_foreach(s, k, v) sum += json_integer_value(v);
    assert_int_equal(sum, 1);
    assert_int_equal(json_object_size(json_object_get(j, "client_versions")), 1);
    json_decref(j);
    free(p);

    p = adm_fmt("/api/v1/admin/networks/%s/analytics/members?from=%lld&to=%lld&interval=week",
                w->net_a, now - 30 * 86400, now + 60);
    j = call(w, &w->na, 200, "GET", p, NULL);
    assert_int_equal(json_integer_value(json_object_get(j, "active_users_total")), 1);
    sum = 0;
    json_object_foreach(json_object_get(j, "active_users"), k, v) sum += json_integer_value(v);
    assert_int_equal(sum, 1);
    assert_int_equal(
        json_integer_value(json_object_get(json_object_get(j, "by_security_group"), "Default")), 1);
    assert_int_equal(json_integer_value(json_object_get(j, "deleted")), 1);
    json_decref(j);
    free(p);

    p = adm_fmt("/api/v1/admin/networks/%s/analytics/messages?interval=month", w->net_a);
    j = call(w, &w->na, 200, "GET", p, NULL);
    assert_int_equal(json_integer_value(json_object_get(j, "messages_total")), 0);
    assert_int_equal(json_integer_value(json_object_get(j, "calls_total")), 0);
    assert_non_null(json_object_get(json_object_get(j, "unavailable"), "calls_total"));
    assert_int_equal(json_object_size(json_object_get(j, "devices_by_os")), 1);
    json_decref(j);
    free(p);

    /* CSV export. */
    p = adm_fmt("/api/v1/admin/networks/%s/analytics/overview?format=csv", w->net_a);
    assert_int_equal(get_bytes(w, &w->na, p, &csv, NULL), 200);
    assert_true(strncmp((char *)csv.data, "figure,key,value\r\n", 18) == 0);
    assert_non_null(strstr((char *)csv.data, "\"registered\",,1\r\n"));
    assert_non_null(strstr((char *)csv.data, "\"registrations\",\""));
    free(csv.data);
    free(p);

    /* Bad ranges name the parameter; other networks stay hidden. */
    p = adm_fmt("/api/v1/admin/networks/%s/analytics/members?interval=hour", w->net_a);
    refused(w, "GET", p, NULL, 400, "interval");
    free(p);
    p = adm_fmt("/api/v1/admin/networks/%s/analytics/members?from=%lld&to=%lld", w->net_a, now,
                now - 86400);
    refused(w, "GET", p, NULL, 400, "from");
    free(p);
    p = adm_fmt("/api/v1/admin/networks/%s/analytics/members?from=0&to=%lld", w->net_a, now);
    refused(w, "GET", p, NULL, 400, "400 days");
    free(p);
    p = adm_fmt("/api/v1/admin/networks/%s/analytics/messages?from=abc", w->net_a);
    refused(w, "GET", p, NULL, 400, "from");
    free(p);
    p = adm_fmt("/api/v1/admin/networks/%s/analytics/messages?format=xml", w->net_a);
    refused(w, "GET", p, NULL, 400, "format");
    free(p);
    p = adm_fmt("/api/v1/admin/networks/%s/analytics/overview", w->net_b);
    json_decref(call(w, &w->na, 404, "GET", p, NULL));
    free(p);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_cconf__libparley_registers_with_api_file),
        cmocka_unit_test(test_cconf__pinning_off_uses_the_system_store),
        cmocka_unit_test(test_cconf__without_a_password),
        cmocka_unit_test(test_cconf__bad_input_changes_nothing),
        cmocka_unit_test(test_bulk__template_and_bad_files_change_nothing),
        cmocka_unit_test(test_bulk__suspend_delete_close_sessions),
        cmocka_unit_test(test_deploy__settings_validated_and_stored),
        cmocka_unit_test(test_deploy__appearance_and_public_logo),
        cmocka_unit_test(test_deploy__crash_report),
        cmocka_unit_test(test_net__options_tags_rooms),
        cmocka_unit_test(test_net__security_tags_reach_clients),
        cmocka_unit_test(test_net__event_logging_levels),
        cmocka_unit_test(test_net__guest_block_unblock),
        cmocka_unit_test(test_analytics__figures_from_the_tables),
    };
    curl_global_init(CURL_GLOBAL_DEFAULT);
    int rc = cmocka_run_group_tests(tests, setup, teardown);
    curl_global_cleanup();
    return rc;
}
