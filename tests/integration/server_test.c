/* server_test.c - parleyd as an operator and a client meet it: first start,
 * restart, health, errors, the WebSocket channel, configuration checks and
 * shutdown. Runs once per store backend. */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <pwd.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>
#include <sys/stat.h>

#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/socket.h>

#include <curl/curl.h>
#include <openssl/ssl.h>
#include <jansson.h>

#define ARRAY_LEN(a) (sizeof(a) / sizeof((a)[0]))

#include "harness.h"
#include "server/store.h"
#include "testdb.h"

static int setup(void **state)
{
    struct parleyd *p = calloc(1, sizeof(*p));
    if (harness_init(p, NULL) < 0 || harness_start(p) < 0) {
        harness_cleanup(p);
        free(p);
        return -1;
    }
    *state = p;
    return 0;
}

static int teardown(void **state)
{
    struct parleyd *p = *state;
    harness_cleanup(p);
    free(p);
    return 0;
}

static json_t *body_json(const struct http_resp *r)
{
    json_t *j = json_loads(r->body, 0, NULL);
    assert_non_null(j);
    return j;
}

static void test_server__healthz_answers_over_verified_tls(void **state)
{
    struct parleyd *p = *state;
    struct http_resp r;
    json_t *j;

    assert_int_equal(harness_http(p, "GET", "/healthz", NULL, &r), 0);
    assert_int_equal(r.status, 200);
    j = body_json(&r);
    assert_string_equal(json_string_value(json_object_get(j, "status")), "ok");
    assert_string_equal(json_string_value(json_object_get(j, "store")),
                        strcmp(testdb_backend(), "pg") == 0 ? "postgresql" : "sqlite");
    /* Security headers on every reply. */
    assert_non_null(strcasestr(r.headers, "x-content-type-options: nosniff"));
    assert_non_null(strcasestr(r.headers, "strict-transport-security:"));
    assert_non_null(strcasestr(r.headers, "content-type: application/json"));
    json_decref(j);
    http_resp_free(&r);
}

/* Complete a TLS handshake offering `alpn`, then close without a request. */
static void tls_connect_and_close(const struct parleyd *p, const char *alpn, size_t alpn_len)
{
    struct sockaddr_in a = {.sin_family = AF_INET, .sin_port = htons((uint16_t)p->port)};
    int fd = socket(AF_INET, SOCK_STREAM, 0);
    SSL_CTX *ctx = SSL_CTX_new(TLS_client_method());
    SSL *ssl;

    inet_pton(AF_INET, "127.0.0.1", &a.sin_addr);
    assert_int_equal(connect(fd, (struct sockaddr *)&a, sizeof(a)), 0);
    ssl = SSL_new(ctx);
    SSL_set_alpn_protos(ssl, (const unsigned char *)alpn, (unsigned)alpn_len);
    SSL_set_fd(ssl, fd);
    assert_int_equal(SSL_connect(ssl), 1);
    SSL_shutdown(ssl);
    SSL_free(ssl);
    SSL_CTX_free(ctx);
    close(fd);
}

/* Browsers open spare connections and close them unused; parleyd once
 * crashed on their close. */
static void test_server__connections_closed_before_a_request_are_harmless(void **state)
{
    struct parleyd *p = *state;
    struct http_resp r;

    for (int i = 0; i < 3; i++) {
        tls_connect_and_close(p, "\x02h2", 3);
        tls_connect_and_close(p, "\x08http/1.1", 9);
    }
    usleep(200 * 1000);
    assert_int_equal(harness_http(p, "GET", "/healthz", NULL, &r), 0);
    assert_int_equal(r.status, 200);
    http_resp_free(&r);
}

/* A body sent to a route that reads none is ignored: the route runs once.
 * parleyd once ran it again at the end of the body, and aborted. */
static void test_server__body_on_a_route_without_one_is_ignored(void **state)
{
    struct parleyd *p = *state;
    struct http_resp r;

    assert_int_equal(harness_http(p, "POST", "/api/v1/admin/logout", "", &r), 0);
    assert_int_equal(r.status, 401);
    http_resp_free(&r);
    assert_int_equal(harness_http(p, "POST", "/api/v1/admin/logout", "{\"x\":1}", &r), 0);
    assert_int_equal(r.status, 401);
    http_resp_free(&r);
    assert_int_equal(harness_http(p, "GET", "/healthz", NULL, &r), 0);
    assert_int_equal(r.status, 200);
    http_resp_free(&r);
}

static void test_server__unknown_route_and_method_get_json_errors(void **state)
{
    struct parleyd *p = *state;
    struct http_resp r;
    json_t *j;

    assert_int_equal(harness_http(p, "GET", "/no/such/thing", NULL, &r), 0);
    assert_int_equal(r.status, 404);
    j = body_json(&r);
    assert_string_equal(json_string_value(json_object_get(json_object_get(j, "error"), "code")),
                        "not_found");
    json_decref(j);
    http_resp_free(&r);

    assert_int_equal(harness_http(p, "DELETE", "/healthz", NULL, &r), 0);
    assert_int_equal(r.status, 405);
    j = body_json(&r);
    assert_non_null(strstr(
        json_string_value(json_object_get(json_object_get(j, "error"), "message")), "/healthz"));
    json_decref(j);
    http_resp_free(&r);

    /* The server is still fine. */
    assert_int_equal(harness_http(p, "GET", "/api/v1/version", NULL, &r), 0);
    assert_int_equal(r.status, 200);
    http_resp_free(&r);
}

static void test_server__first_start_prints_password_once_and_restart_keeps_state(void **state)
{
    struct parleyd *p = *state;
    char *out = harness_read(p, "stdout.txt"), *log = harness_read(p, "parleyd.log");
    char *cert1 = harness_read(p, "tls/cert.pem"), *key1 = harness_read(p, "tls/key.pem");
    char *pw, *out2, *log2, *cert2, *key2;
    char path[512];
    struct stat st;
    struct http_resp r;

    assert_non_null(out);
    pw = strstr(out, "password:");
    assert_non_null(pw);
    assert_non_null(strstr(out, "/admin"));
    /* The one-time password never reaches the log. */
    pw += strlen("password:");
    while (*pw == ' ')
        pw++;
    pw[20] = 0;
    assert_int_equal(strlen(pw), 20);
    assert_null(strstr(log, pw));
    snprintf(path, sizeof(path), "%s/tls/key.pem", p->dir);
    assert_int_equal(stat(path, &st), 0);
    assert_int_equal(st.st_mode & 0077, 0);

    assert_int_equal(harness_stop(p, SIGTERM, 10, NULL), 0);
    assert_int_equal(harness_start(p), 0);
    out2 = harness_read(p, "stdout.txt");
    log2 = harness_read(p, "parleyd.log");
    cert2 = harness_read(p, "tls/cert.pem");
    key2 = harness_read(p, "tls/key.pem");
    assert_null(strstr(out2, "password:"));
    assert_null(strstr(log2, "created a self-signed certificate"));
    assert_string_equal(cert1, cert2);
    assert_string_equal(key1, key2);
    assert_int_equal(harness_http(p, "GET", "/healthz", NULL, &r), 0);
    assert_int_equal(r.status, 200);
    http_resp_free(&r);

    /* The database kept the first start's administrator: one, still to
     * change the one-time password, created before the restart. */
    assert_int_equal(harness_stop(p, SIGTERM, 10, NULL), 0);
    {
        char uri[600];
        struct store *db;
        struct store_conn *c;
        struct store_rows *rows;
        if (p->store_uri)
            snprintf(uri, sizeof(uri), "%s", p->store_uri);
        else
            snprintf(uri, sizeof(uri), "sqlite:%s/parley.db", p->dir);
        assert_int_equal(store_open(uri, NULL, &db), 0);
        assert_int_equal(store_conn_get(db, &c), 0);
        assert_int_equal(store_query(c,
                                     "SELECT username, must_change_password, created_at FROM "
                                     "admins WHERE is_super = 1",
                                     NULL, 0, &rows),
                         0);
        assert_int_equal(store_rows_next(rows), 1);
        assert_string_equal(store_rows_text(rows, 0), "admin");
        assert_int_equal(store_rows_int(rows, 1), 1);
        assert_true(store_rows_int(rows, 2) <= (int64_t)time(NULL));
        assert_int_equal(store_rows_next(rows), 0);
        store_rows_free(rows);
        store_conn_put(db, c);
        store_close(db);
    }
    free(out);
    free(log);
    free(cert1);
    free(key1);
    free(out2);
    free(log2);
    free(cert2);
    free(key2);
}

static json_t *ws_recv_json(struct ws_conn *w)
{
    char *payload;
    size_t len;
    json_t *j;
    assert_int_equal(ws_recv(w, 5000, &payload, &len), 1);
    j = json_loadb(payload, len, 0, NULL);
    free(payload);
    assert_non_null(j);
    return j;
}

static const char *jstr(json_t *j, const char *key)
{
    return json_string_value(json_object_get(j, key));
}

static void test_server__websocket_hello_ping_and_errors(void **state)
{
    struct parleyd *p = *state;
    struct ws_conn w;
    json_t *j;
    const char *bad = "{not json";
    const char *ping = "{\"type\":\"ping\",\"id\":42}";
    const char *odd = "{\"type\":\"dance\"}";

    assert_int_equal(ws_open(p, "/v1/ws", "parley.v1", &w), 101);
    j = ws_recv_json(&w);
    assert_string_equal(jstr(j, "type"), "hello");
    assert_int_equal(json_integer_value(json_object_get(j, "protocol")), 1);
    json_decref(j);

    assert_int_equal(ws_send(&w, 1, ping, strlen(ping)), 0);
    j = ws_recv_json(&w);
    assert_string_equal(jstr(j, "type"), "pong");
    assert_int_equal(json_integer_value(json_object_get(j, "id")), 42);
    json_decref(j);

    assert_int_equal(ws_send(&w, 1, bad, strlen(bad)), 0);
    j = ws_recv_json(&w);
    assert_string_equal(jstr(j, "type"), "error");
    assert_string_equal(jstr(j, "code"), "bad_message");
    json_decref(j);

    assert_int_equal(ws_send(&w, 1, odd, strlen(odd)), 0);
    j = ws_recv_json(&w);
    assert_string_equal(jstr(j, "code"), "unknown_type");
    assert_non_null(strstr(jstr(j, "message"), "dance"));
    json_decref(j);

    /* Still usable after errors. */
    assert_int_equal(ws_send(&w, 1, ping, strlen(ping)), 0);
    j = ws_recv_json(&w);
    assert_string_equal(jstr(j, "type"), "pong");
    json_decref(j);
    ws_close(&w);
}

static void test_server__websocket_refuses_wrong_path_or_protocol(void **state)
{
    struct parleyd *p = *state;
    struct ws_conn w;
    struct http_resp r;

    assert_true(ws_open(p, "/elsewhere", "parley.v1", &w) != 101);
    ws_close(&w);
    assert_true(ws_open(p, "/v1/ws", "chat.v9", &w) != 101);
    ws_close(&w);
    assert_int_equal(harness_http(p, "GET", "/healthz", NULL, &r), 0);
    assert_int_equal(r.status, 200);
    http_resp_free(&r);
}

static void test_server__websocket_oversized_message_is_closed_1009(void **state)
{
    struct parleyd *p = *state;
    struct ws_conn w;
    size_t big = 300 * 1024; /* over the 256K default of ws_max_message */
    char *data = malloc(big), *payload;
    size_t len;
    int op;
    json_t *j;

    memset(data, 'a', big);
    assert_int_equal(ws_open(p, "/v1/ws", "parley.v1", &w), 101);
    j = ws_recv_json(&w);
    json_decref(j);
    assert_int_equal(ws_send(&w, 1, data, big), 0);
    op = ws_recv(&w, 5000, &payload, &len);
    assert_int_equal(op, 8);
    assert_true(len >= 2);
    assert_int_equal(((unsigned char)payload[0] << 8) | (unsigned char)payload[1], 1009);
    free(payload);
    free(data);
    ws_close(&w);
}

/* Started as root (as in CI), parleyd must run as the `user` setting
 * (default nobody) and own its data directory. */
static void test_server__drops_root_after_binding(void **state)
{
    struct parleyd *p = *state;
    struct passwd *nobody = getpwnam("nobody");
    char path[64], line[256];
    struct stat st;
    unsigned ruid = 0, euid = 0, suid = 0;
    FILE *f;

    assert_non_null(nobody);
    snprintf(path, sizeof(path), "/proc/%d/status", (int)p->pid);
    f = fopen(path, "r");
    assert_non_null(f);
    while (fgets(line, sizeof(line), f))
        if (sscanf(line, "Uid: %u %u %u", &ruid, &euid, &suid) == 3)
            break;
    fclose(f);
    assert_int_equal(ruid, nobody->pw_uid);
    assert_int_equal(euid, nobody->pw_uid);
    assert_int_equal(suid, nobody->pw_uid);
    assert_int_equal(stat(p->dir, &st), 0);
    assert_int_equal(st.st_uid, nobody->pw_uid);
}

static void test_server__sigterm_closes_sessions_and_exits_within_5s(void **state)
{
    struct parleyd *p = *state;
    struct ws_conn w;
    char *payload, *log;
    size_t len;
    double elapsed = 99;
    json_t *j;

    assert_int_equal(ws_open(p, "/v1/ws", "parley.v1", &w), 101);
    j = ws_recv_json(&w);
    json_decref(j);
    kill(p->pid, SIGTERM);
    /* The session is told the server is going away (1001). */
    assert_int_equal(ws_recv(&w, 5000, &payload, &len), 8);
    assert_int_equal(((unsigned char)payload[0] << 8) | (unsigned char)payload[1], 1001);
    free(payload);
    ws_close(&w);
    assert_int_equal(harness_stop(p, SIGTERM, 6, &elapsed), 0);
    assert_true(elapsed < 5.0);
    log = harness_read(p, "parleyd.log");
    assert_non_null(strstr(log, "msg=\"stopped\""));
    free(log);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_server__healthz_answers_over_verified_tls, setup,
                                        teardown),
        cmocka_unit_test_setup_teardown(
            test_server__connections_closed_before_a_request_are_harmless, setup, teardown),
        cmocka_unit_test_setup_teardown(test_server__body_on_a_route_without_one_is_ignored, setup,
                                        teardown),
        cmocka_unit_test_setup_teardown(test_server__unknown_route_and_method_get_json_errors,
                                        setup, teardown),
        cmocka_unit_test_setup_teardown(
            test_server__first_start_prints_password_once_and_restart_keeps_state, setup, teardown),
        cmocka_unit_test_setup_teardown(test_server__websocket_hello_ping_and_errors, setup,
                                        teardown),
        cmocka_unit_test_setup_teardown(test_server__websocket_refuses_wrong_path_or_protocol,
                                        setup, teardown),
        cmocka_unit_test_setup_teardown(test_server__websocket_oversized_message_is_closed_1009,
                                        setup, teardown),
        cmocka_unit_test_setup_teardown(test_server__sigterm_closes_sessions_and_exits_within_5s,
                                        setup, teardown),
        /* Last, and only when run as root: watching parleyd give root up. */
        cmocka_unit_test_setup_teardown(test_server__drops_root_after_binding, setup, teardown),
    };
    size_t n = ARRAY_LEN(tests) - (geteuid() == 0 ? 0 : 1);
    if (!testdb_backend_available())
        return testdb_skip("PARLEY_TEST_PG is not set");
    curl_global_init(CURL_GLOBAL_DEFAULT);
    int rc = _cmocka_run_group_tests("server", tests, n, NULL, NULL);
    curl_global_cleanup();
    return rc;
}
