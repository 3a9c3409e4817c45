/* messaging_test.c - accounts, directory, pre-keys, conversations and the
 * envelope channel against a real parleyd, with identities, devices and
 * envelopes made by src/proto as a client would (msgutil.h). Runs once per
 * store backend. */
#include "msgutil.h"

#include <setjmp.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>
#include <pthread.h>

#include <cmocka.h>

#include "proto/ids.h"
#include "proto/suite.h"
#include "testdb.h"

#include <openssl/evp.h>

static int setup(void **state)
{
    struct parleyd *p = calloc(1, sizeof(*p));
    if (harness_init(p, NULL) < 0)
        return -1;
    *state = p;
    return 0;
}

static int teardown(void **state)
{
    struct parleyd *p = *state;
    /* A clean stop: sessions close, the store drains, and under ASan any
     * leak makes the exit status non-zero. */
    if (p->pid > 0) {
        int st = harness_stop(p, SIGTERM, 15, NULL);
        if (st != 0) {
            char *log = harness_read(p, "parleyd.log");
            fprintf(stderr, "parleyd exit status %d:\n%s\n", st, log ? log : "");
            free(log);
            harness_cleanup(p);
            free(p);
            return -1;
        }
    }
    harness_cleanup(*state);
    free(*state);
    return 0;
}

static void start(struct parleyd *p)
{
    assert_int_equal(harness_start(p), 0);
}

static const char *code_of(json_t *j)
{
    return json_string_value(json_object_get(json_object_get(j, "error"), "code"));
}

/* ---- accounts and directory ---------------------------------------------- */

static void test_messaging__login_identity_device_and_errors(void **state)
{
    struct parleyd *p = *state;
    struct tc_user a, b;
    struct tc_device d;
    json_t *r = NULL;
    char body[512], path[200];

    tc_user_provision(p, &a, "alice");
    tc_user_provision(p, &b, "bob");
    start(p);

    /* Wrong secret, unknown user, malformed body. */
    snprintf(a.password, sizeof(a.password), "wrong");
    assert_int_equal(tc_login(p, &a), 401);
    snprintf(a.password, sizeof(a.password), "pw-alice-123");
    assert_int_equal(tc_http(p, "POST", "/api/v1/client/login", NULL,
                             "{\"network_id\":\"net-test\",\"username\":\"nobody\","
                             "\"login_secret\":\"x\"}",
                             NULL),
                     401);
    assert_int_equal(tc_http(p, "POST", "/api/v1/client/login", NULL, "{\"username\":1}", &r), 400);
    assert_string_equal(code_of(r), "bad_request");
    assert_non_null(strstr(
        json_string_value(json_object_get(json_object_get(r, "error"), "message")), "network_id"));
    json_decref(r);

    /* A pending user: no identity yet, so no device. */
    assert_int_equal(tc_login(p, &a), 200);
    assert_int_equal(
        tc_http(p, "GET", "/api/v1/client/users?username=alice", a.login_token, NULL, &r), 200);
    assert_string_equal(json_string_value(json_object_get(r, "status")), "pending");
    assert_true(json_is_null(json_object_get(r, "identity_key")));
    json_decref(r);
    assert_int_equal(keys_identity_generate(&a.id, suite_get(SUITE_DEFAULT), a.user_id), 0);
    a.has_id = true;
    assert_int_equal(tc_device_add(p, &a, &d, 5), 409);
    tc_device_release(&d);

    /* Identity once, then devices. */
    assert_int_equal(tc_identity(p, &a), 200);
    assert_int_equal(tc_identity(p, &a), 409);
    assert_int_equal(tc_device_add(p, &a, &d, 5), 201);

    /* A certificate from another identity is refused. */
    {
        struct tc_device bad;
        struct keys_identity other = a.id;
        assert_int_equal(keys_identity_generate(&a.id, suite_get(SUITE_DEFAULT), a.user_id), 0);
        assert_int_equal(tc_device_add(p, &a, &bad, 2), 400);
        tc_device_release(&bad);
        keys_identity_release(&a.id);
        a.id = other;
    }

    /* Login again: active, identity and backup are there. */
    assert_int_equal(tc_login(p, &a), 200);
    snprintf(body, sizeof(body), "/api/v1/client/users/%s", tc_hex(a.user_id));
    assert_int_equal(tc_http(p, "GET", body, d.token, NULL, &r), 200);
    assert_string_equal(json_string_value(json_object_get(r, "status")), "active");
    assert_string_equal(json_string_value(json_object_get(r, "username")), "alice");
    assert_int_equal(json_array_size(json_object_get(r, "devices")), 1);
    assert_string_equal(json_string_value(json_object_get(
                            json_array_get(json_object_get(r, "devices"), 0), "device_id")),
                        tc_hex(d.dev.device_id));
    json_decref(r);

    /* Directory errors and authentication. */
    assert_int_equal(tc_http(p, "GET", "/api/v1/client/users?username=zed", d.token, NULL, NULL),
                     404);
    assert_int_equal(tc_http(p, "GET", "/api/v1/client/users/xyz", d.token, NULL, NULL), 400);
    assert_int_equal(tc_http(p, "GET", "/api/v1/client/users?username=alice", NULL, NULL, NULL),
                     401);
    assert_int_equal(
        tc_http(p, "GET", "/api/v1/client/users?username=alice", "not-a-token", NULL, NULL), 401);
    /* A login token is not a device token. */
    assert_int_equal(
        tc_http(p, "POST", "/api/v1/client/prekeys/claim", a.login_token, "{\"devices\":[]}", NULL),
        401);

    /* Delete a device of someone else: 404; logout revokes. */
    snprintf(path, sizeof(path), "/api/v1/client/devices/%s", tc_hex(b.user_id));
    assert_int_equal(tc_http(p, "DELETE", path, d.token, NULL, NULL), 404);
    assert_int_equal(tc_http(p, "POST", "/api/v1/client/logout", a.login_token, NULL, NULL), 200);
    assert_int_equal(
        tc_http(p, "GET", "/api/v1/client/users?username=alice", a.login_token, NULL, NULL), 401);

    /* A second device deletes the first: its live session closes, its
     * token stops working, it leaves the directory, and what was queued
     * only for it goes too. */
    {
        struct tc_device d2, db;
        struct tc_device *to[2] = {&d, NULL};
        struct buf env = BUF_INIT(SIZE_MAX);
        uint8_t conv[KEYS_ID_LEN];
        json_t *err;
        assert_int_equal(tc_login(p, &a), 200);
        assert_int_equal(tc_login(p, &b), 200);
        assert_int_equal(tc_identity(p, &b), 200);
        assert_int_equal(tc_device_add(p, &b, &db, 3), 201);
        tc_conv_direct(p, &db, &a, conv);
        tc_ws_auth(p, &db);
        tc_seal(p, &db, to, 1, conv, "for the first device only", 0, &env);
        tc_send_envelope(&db, &env);
        json_decref(tc_wait_json(&db, "ack", 10000));
        buf_reset(&env);
        assert_int_equal(tc_device_add(p, &a, &d2, 3), 201);
        to[1] = &d2;
        tc_seal(p, &db, to, 2, conv, "for both", 0, &env);
        tc_send_envelope(&db, &env);
        json_decref(tc_wait_json(&db, "ack", 10000));
        buf_release(&env);
        tc_device_release(&db);
        tc_ws_auth(p, &d);
        snprintf(path, sizeof(path), "/api/v1/client/devices/%s", tc_hex(d.dev.device_id));
        assert_int_equal(tc_http(p, "DELETE", path, d2.token, NULL, NULL), 200);
        err = tc_wait_json(&d, "error", 5000);
        assert_non_null(err);
        json_decref(err);
        assert_null(tc_wait_json(&d, "never", 3000));
        assert_int_equal(d.close_code, 1008);
        assert_int_equal(tc_http(p, "GET", "/api/v1/client/conversations", d.token, NULL, NULL),
                         401);
        snprintf(body, sizeof(body), "/api/v1/client/users/%s", tc_hex(a.user_id));
        assert_int_equal(tc_http(p, "GET", body, d2.token, NULL, &r), 200);
        assert_int_equal(json_array_size(json_object_get(r, "devices")), 1);
        json_decref(r);
        tc_device_release(&d2);
        /* The second envelope still waits for d2; the first is gone. */
        assert_int_equal(harness_stop(p, SIGTERM, 10, NULL), 0);
        assert_int_equal(harness_provision_count(p, "SELECT COUNT(*) FROM queue"), 1);
        assert_int_equal(harness_provision_count(p, "SELECT COUNT(*) FROM envelopes"), 1);
        start(p);
    }
    tc_device_release(&d);
    tc_user_release(&a);
    tc_user_release(&b);
}

static void test_messaging__new_login_secret_and_password_permission(void **state)
{
    struct parleyd *p = *state;
    struct tc_user a, b;
    char secret[IDS_LOGIN_SECRET_B64], fresh[IDS_LOGIN_SECRET_B64], body[512];
    json_t *r = NULL;

    tc_user_provision(p, &a, "alice");
    assert_int_equal(harness_provision_user(p, "net-other", "bob", "pw-bob-123", b.user_id), 0);
    start(p);
    /* Alice replaces her initial password at registration. */
    assert_int_equal(ids_login_secret(TC_NETWORK, "alice", a.password, secret), 0);
    assert_int_equal(ids_login_secret(TC_NETWORK, "alice", "a-new-password", fresh), 0);
    snprintf(body, sizeof(body),
             "{\"network_id\":\"%s\",\"username\":\"alice\",\"login_secret\":\"%s\","
             "\"new_login_secret\":\"%s\"}",
             TC_NETWORK, secret, fresh);
    assert_int_equal(tc_http(p, "POST", "/api/v1/client/login", NULL, body, NULL), 200);
    assert_int_equal(tc_login(p, &a), 401);
    snprintf(a.password, sizeof(a.password), "a-new-password");
    assert_int_equal(tc_login(p, &a), 200);
    /* Users of another network are not in alice's directory. */
    assert_int_equal(
        tc_http(p, "GET", "/api/v1/client/users?username=bob", a.login_token, NULL, NULL), 404);
    /* With the permission off, a new secret is refused and the old one stays. */
    assert_int_equal(harness_stop(p, SIGTERM, 10, NULL), 0);
    assert_int_equal(harness_provision_sql(p, "UPDATE security_groups SET settings = "
                                              "'{\"user_password_permission\": false}'"),
                     0);
    start(p);
    assert_int_equal(ids_login_secret(TC_NETWORK, "alice", a.password, secret), 0);
    snprintf(body, sizeof(body),
             "{\"network_id\":\"%s\",\"username\":\"alice\",\"login_secret\":\"%s\","
             "\"new_login_secret\":\"%s\"}",
             TC_NETWORK, secret, secret);
    assert_int_equal(tc_http(p, "POST", "/api/v1/client/login", NULL, body, &r), 403);
    assert_non_null(
        strstr(json_string_value(json_object_get(json_object_get(r, "error"), "message")),
               "new_login_secret"));
    json_decref(r);
    assert_int_equal(tc_login(p, &a), 200);
    tc_user_release(&a);
}

static void test_messaging__failed_logins_suspend_and_suspended_users_are_refused(void **state)
{
    struct parleyd *p = *state;
    struct tc_user a, b;
    struct tc_device da, db;
    json_t *j;
    char pw[32];

    tc_user_provision(p, &a, "alice");
    tc_user_provision(p, &b, "bob");
    assert_int_equal(harness_provision_sql(p, "UPDATE security_groups SET settings = "
                                              "'{\"user_account_suspension\": 2}'"),
                     0);
    start(p);
    tc_user_ready(p, &a, &da);
    tc_user_ready(p, &b, &db);

    /* Two wrong secrets suspend bob; the right one is then refused. */
    snprintf(pw, sizeof(pw), "%s", b.password);
    snprintf(b.password, sizeof(b.password), "wrong");
    assert_int_equal(tc_login(p, &b), 401);
    assert_int_equal(tc_login(p, &b), 401);
    snprintf(b.password, sizeof(b.password), "%s", pw);
    assert_int_equal(tc_login(p, &b), 403);
    /* His device token no longer works, over HTTPS or WebSocket. */
    assert_int_equal(tc_http(p, "GET", "/api/v1/client/conversations", db.token, NULL, NULL), 403);
    assert_int_equal(ws_open(p, "/v1/ws", "parley.v1", &db.ws), 101);
    db.is_open = true;
    j = tc_wait_json(&db, "hello", 5000);
    json_decref(j);
    {
        char msg[200];
        snprintf(msg, sizeof(msg), "{\"type\":\"auth\",\"token\":\"%s\"}", db.token);
        assert_int_equal(ws_send(&db.ws, 1, msg, strlen(msg)), 0);
    }
    j = tc_wait_json(&db, "error", 5000);
    assert_non_null(j);
    assert_string_equal(json_string_value(json_object_get(j, "code")), "unauthorized");
    json_decref(j);
    assert_null(tc_wait_json(&db, "auth_ok", 3000));
    assert_int_equal(db.close_code, 1008);

    /* Alice is unaffected, and an administrator's suspension (a row
     * change, here while parleyd is stopped) is honoured too. */
    assert_int_equal(tc_login(p, &a), 200);
    assert_int_equal(harness_stop(p, SIGTERM, 10, NULL), 0);
    assert_int_equal(
        harness_provision_sql(p, "UPDATE users SET status = 'deleted' WHERE username = 'alice'"),
        0);
    start(p);
    assert_int_equal(tc_login(p, &a), 403);
    tc_device_release(&da);
    tc_device_release(&db);
    tc_user_release(&a);
    tc_user_release(&b);
}

/* ---- pre-keys ------------------------------------------------------------- */

static void test_messaging__prekey_claims_consume_onetime_then_fall_back(void **state)
{
    struct parleyd *p = *state;
    struct tc_user a, b;
    struct tc_device da, db;
    uint32_t seen[4];
    json_t *r, *low;
    char body[200];

    tc_user_provision(p, &a, "alice");
    tc_user_provision(p, &b, "bob");
    start(p);
    tc_user_ready(p, &a, &da);
    assert_int_equal(tc_login(p, &b), 200);
    assert_int_equal(tc_identity(p, &b), 200);
    assert_int_equal(tc_device_add(p, &b, &db, 2), 201);
    tc_ws_auth(p, &db);
    /* Two one-time pre-keys: below 20 from the start. */
    low = tc_wait_json(&db, "prekeys_low", 5000);
    assert_non_null(low);
    assert_int_equal(json_integer_value(json_object_get(low, "remaining")), 2);
    json_decref(low);

    snprintf(body, sizeof(body), "{\"devices\":[\"%s\"]}", tc_hex(db.dev.device_id));
    for (int i = 0; i < 4; i++) {
        struct keys_bundle kb;
        size_t bl;
        uint8_t *bb;
        const char *s;
        assert_int_equal(tc_http(p, "POST", "/api/v1/client/prekeys/claim", da.token, body, &r),
                         200);
        s = json_string_value(
            json_object_get(json_array_get(json_object_get(r, "bundles"), 0), "bundle"));
        assert_non_null(s);
        bb = malloc(strlen(s));
        {
            int k = EVP_DecodeBlock(bb, (const unsigned char *)s, (int)strlen(s));
            bl = (size_t)k - (s[strlen(s) - 1] == '=') - (s[strlen(s) - 2] == '=');
        }
        assert_int_equal(keys_bundle_verify(bb, bl, &b.id.key, &kb), 0);
        assert_int_equal(kb.n_prekeys, 1);
        seen[i] = kb.prekeys[0].id;
        assert_int_equal(kb.prekeys[0].kind, i < 2 ? KEYS_PREKEY_ONETIME : KEYS_PREKEY_FALLBACK);
        keys_bundle_release(&kb);
        free(bb);
        json_decref(r);
        low = tc_wait_json(&db, "prekeys_low", 5000);
        assert_non_null(low);
        assert_int_equal(json_integer_value(json_object_get(low, "remaining")), i < 2 ? 1 - i : 0);
        json_decref(low);
    }
    assert_true(seen[0] != seen[1]);
    assert_int_equal(seen[2], seen[3]); /* the fallback, again and again */

    /* Replenish: the new bundle verifies and is served. */
    {
        struct buf bundle = BUF_INIT(KEYS_MAX_STORE);
        char *b64s, *req;
        assert_int_equal(keys_device_add_prekeys(&db.dev, 25, (uint64_t)time(NULL)), 0);
        assert_int_equal(keys_device_bundle(&db.dev, 0, &bundle), 0);
        b64s = malloc(4 * ((bundle.len + 2) / 3) + 1);
        EVP_EncodeBlock((unsigned char *)b64s, bundle.data, (int)bundle.len);
        req = malloc(strlen(b64s) + 32);
        snprintf(req, strlen(b64s) + 32, "{\"bundle\":\"%s\"}", b64s);
        assert_int_equal(
            tc_http(p, "PUT", "/api/v1/client/devices/self/bundle", db.token, req, NULL), 200);
        /* Someone else's bundle is refused. */
        assert_int_equal(tc_http(p, "PUT", "/api/v1/client/devices/self/bundle", da.token, req, &r),
                         400);
        json_decref(r);
        free(req);
        free(b64s);
        buf_release(&bundle);
    }
    /* Unknown device: 404 naming it. */
    assert_int_equal(tc_http(p, "POST", "/api/v1/client/prekeys/claim", da.token,
                             "{\"devices\":[\"00000000000000000000000000000000\"]}", NULL),
                     404);
    tc_device_release(&da);
    tc_device_release(&db);
    tc_user_release(&a);
    tc_user_release(&b);
}

/* ---- messages ------------------------------------------------------------- */

struct world {
    struct tc_user a, b, c;
    struct tc_device da, db, dc;
    uint8_t conv[KEYS_ID_LEN];
};

/* alice and bob (and carol) ready, with alice and bob's direct
 * conversation; `settings` (JSON, may be NULL) becomes every security
 * group's settings before the server starts. */
static void world_up_with(struct parleyd *p, struct world *w, bool with_c, const char *settings)
{
    char sql[512];

    memset(w, 0, sizeof(*w));
    tc_user_provision(p, &w->a, "alice");
    tc_user_provision(p, &w->b, "bob");
    if (with_c)
        tc_user_provision(p, &w->c, "carol");
    if (settings) {
        snprintf(sql, sizeof(sql), "UPDATE security_groups SET settings = '%s'", settings);
        assert_int_equal(harness_provision_sql(p, sql), 0);
    }
    start(p);
    tc_user_ready(p, &w->a, &w->da);
    tc_user_ready(p, &w->b, &w->db);
    if (with_c)
        tc_user_ready(p, &w->c, &w->dc);
    tc_conv_direct(p, &w->da, &w->b, w->conv);
}

static void world_up(struct parleyd *p, struct world *w, bool with_c)
{
    world_up_with(p, w, with_c, NULL);
}

static void world_down(struct world *w)
{
    tc_device_release(&w->da);
    tc_device_release(&w->db);
    tc_device_release(&w->dc);
    tc_user_release(&w->a);
    tc_user_release(&w->b);
    tc_user_release(&w->c);
}

static int64_t expect_ack(struct tc_device *d, const uint8_t *env)
{
    json_t *j = tc_wait_json(d, "ack", 10000);
    int64_t ts;
    assert_non_null(j);
    /* msg_id is at bytes 8..24 of the header */
    assert_string_equal(json_string_value(json_object_get(j, "msg_id")), tc_hex(env + 8));
    ts = json_integer_value(json_object_get(j, "ts"));
    assert_true(ts > 0);
    json_decref(j);
    return ts;
}

static json_t *expect_nack(struct tc_device *d, const char *code)
{
    json_t *j = tc_wait_json(d, "nack", 10000);
    assert_non_null(j);
    assert_string_equal(json_string_value(json_object_get(j, "code")), code);
    return j;
}

static void expect_text(struct tc_device *d, struct tc_user **users, size_t n, const char *want,
                        int64_t *seq)
{
    struct tc_delivery x;
    char text[256];
    uint8_t msg_id[KEYS_ID_LEN];

    assert_int_equal(tc_wait_delivery(d, 10000, &x), 0);
    assert_int_equal(tc_open(d, &x, users, n, text, sizeof(text), msg_id), 0);
    assert_string_equal(text, want);
    if (seq)
        *seq = x.seq;
    tc_delivery_release(&x);
}

struct claimer {
    const struct parleyd *p;
    const char *token, *body;
    long status[4];
    json_t *resp[4];
};

static void *claim_thread(void *arg)
{
    struct claimer *c = arg;
    for (int i = 0; i < 4; i++)
        c->status[i] =
            tc_http(c->p, "POST", "/api/v1/client/prekeys/claim", c->token, c->body, &c->resp[i]);
    return NULL;
}

static void test_messaging__concurrent_claims_never_share_a_onetime_prekey(void **state)
{
    struct parleyd *p = *state;
    struct tc_user a, b;
    struct tc_device da, db;
    struct claimer cl[6];
    pthread_t th[6];
    uint32_t ids[24];
    size_t n_onetime = 0;
    char body[200];

    tc_user_provision(p, &a, "alice");
    tc_user_provision(p, &b, "bob");
    start(p);
    tc_user_ready(p, &a, &da);
    assert_int_equal(tc_login(p, &b), 200);
    assert_int_equal(tc_identity(p, &b), 200);
    assert_int_equal(tc_device_add(p, &b, &db, 10), 201);
    snprintf(body, sizeof(body), "{\"devices\":[\"%s\"]}", tc_hex(db.dev.device_id));
    for (int t = 0; t < 6; t++) {
        cl[t] = (struct claimer){.p = p, .token = da.token, .body = body};
        assert_int_equal(pthread_create(&th[t], NULL, claim_thread, &cl[t]), 0);
    }
    for (int t = 0; t < 6; t++)
        pthread_join(th[t], NULL);
    /* 24 claims of a pool of 10: ten distinct one-time pre-keys, then the
     * fallback for everyone else. */
    for (int t = 0; t < 6; t++) {
        for (int i = 0; i < 4; i++) {
            const char *s;
            struct keys_bundle kb;
            size_t bl;
            uint8_t *bb;
            assert_int_equal(cl[t].status[i], 200);
            s = json_string_value(json_object_get(
                json_array_get(json_object_get(cl[t].resp[i], "bundles"), 0), "bundle"));
            assert_non_null(s);
            bb = malloc(strlen(s));
            bl = (size_t)EVP_DecodeBlock(bb, (const unsigned char *)s, (int)strlen(s)) -
                 (s[strlen(s) - 1] == '=') - (s[strlen(s) - 2] == '=');
            assert_int_equal(keys_bundle_verify(bb, bl, &b.id.key, &kb), 0);
            if (kb.prekeys[0].kind == KEYS_PREKEY_ONETIME) {
                for (size_t k = 0; k < n_onetime; k++)
                    assert_true(ids[k] != kb.prekeys[0].id);
                ids[n_onetime++] = kb.prekeys[0].id;
            }
            keys_bundle_release(&kb);
            free(bb);
            json_decref(cl[t].resp[i]);
        }
    }
    assert_int_equal(n_onetime, 10);
    tc_device_release(&da);
    tc_device_release(&db);
    tc_user_release(&a);
    tc_user_release(&b);
}

static void test_messaging__large_backlog_streams_in_order_to_a_slow_reader(void **state)
{
    struct parleyd *p = *state;
    struct tc_device *to[1];
    struct tc_user *users[2];
    struct world_small {
        struct tc_user a, b;
        struct tc_device da, db;
        uint8_t conv[KEYS_ID_LEN];
    } w;
    enum { N = 60, SIZE = 16000 };
    char *text = malloc(SIZE + 1);

    memset(&w, 0, sizeof(w));
    tc_user_provision(p, &w.a, "alice");
    tc_user_provision(p, &w.b, "bob");
    start(p);
    tc_user_ready(p, &w.a, &w.da);
    tc_user_ready(p, &w.b, &w.db);
    tc_conv_direct(p, &w.da, &w.b, w.conv);
    users[0] = &w.a;
    users[1] = &w.b;
    to[0] = &w.db;
    tc_ws_auth(p, &w.da);
    for (int i = 0; i < N; i++) {
        struct buf env = BUF_INIT(SIZE_MAX);
        memset(text, 'a' + i % 26, SIZE);
        snprintf(text, 16, "%04d", i);
        text[4] = '-';
        text[SIZE] = 0;
        tc_seal(p, &w.da, to, 1, w.conv, text, 0, &env);
        tc_send_envelope(&w.da, &env);
        expect_ack(&w.da, env.data);
        buf_release(&env);
    }
    /* About 1 MB waits for bob; he connects and does not read for a while,
     * then reads everything, in order, across several database reads. */
    tc_ws_auth(p, &w.db);
    sleep(2);
    for (int i = 0; i < N; i++) {
        struct tc_delivery x;
        char got[SIZE + 1];
        uint8_t msg_id[KEYS_ID_LEN];
        assert_int_equal(tc_wait_delivery(&w.db, 10000, &x), 0);
        assert_int_equal(x.seq, i + 1);
        assert_int_equal(tc_open(&w.db, &x, users, 2, got, sizeof(got), msg_id), 0);
        assert_int_equal(strtol(got, NULL, 10), i);
        assert_int_equal(strlen(got), SIZE);
        tc_delivery_release(&x);
    }
    free(text);
    tc_device_release(&w.da);
    tc_device_release(&w.db);
    tc_user_release(&w.a);
    tc_user_release(&w.b);
}

static void test_messaging__direct_message_is_acked_and_opened(void **state)
{
    struct parleyd *p = *state;
    struct world w;
    struct buf env = BUF_INIT(SIZE_MAX);
    struct tc_device *to[1];
    struct tc_user *users[2];
    int64_t seq = 0;
    json_t *r = NULL;
    char path[200];

    world_up(p, &w, false);
    users[0] = &w.a;
    users[1] = &w.b;
    to[0] = &w.db;
    /* Direct is idempotent, from either side. */
    {
        uint8_t again[KEYS_ID_LEN];
        tc_conv_direct(p, &w.db, &w.a, again);
        assert_memory_equal(again, w.conv, KEYS_ID_LEN);
    }
    snprintf(path, sizeof(path), "/api/v1/client/conversations/%s", tc_hex(w.conv));
    assert_int_equal(tc_http(p, "GET", path, w.db.token, NULL, &r), 200);
    assert_string_equal(json_string_value(json_object_get(r, "type")), "direct");
    assert_int_equal(json_array_size(json_object_get(r, "members")), 2);
    json_decref(r);

    tc_ws_auth(p, &w.da);
    tc_ws_auth(p, &w.db);
    tc_seal(p, &w.da, to, 1, w.conv, "hello bob", 0, &env);
    tc_send_envelope(&w.da, &env);
    int64_t ts = expect_ack(&w.da, env.data);
    expect_text(&w.db, users, 2, "hello bob", &seq);
    assert_int_equal(seq, 1);
    /* The same envelope again (a retry after a lost ack): acked with the
     * original time, not delivered twice. */
    tc_send_envelope(&w.da, &env);
    assert_int_equal(expect_ack(&w.da, env.data), ts);
    {
        struct tc_delivery x;
        assert_int_equal(tc_wait_delivery(&w.db, 1000, &x), -1);
    }
    buf_release(&env);
    world_down(&w);
}

static void test_messaging__offline_delivery_in_order_and_acked_not_redelivered(void **state)
{
    struct parleyd *p = *state;
    struct world w;
    struct tc_device *to[1];
    struct tc_user *users[2];
    char text[32];
    int64_t seq = 0;

    world_up(p, &w, false);
    users[0] = &w.a;
    users[1] = &w.b;
    to[0] = &w.db;
    tc_ws_auth(p, &w.da);
    for (int i = 0; i < 5; i++) {
        struct buf env = BUF_INIT(SIZE_MAX);
        snprintf(text, sizeof(text), "message %d", i);
        tc_seal(p, &w.da, to, 1, w.conv, text, 0, &env);
        tc_send_envelope(&w.da, &env);
        expect_ack(&w.da, env.data);
        buf_release(&env);
    }
    /* Bob connects later: everything, in order. He acks the first two. */
    tc_ws_auth(p, &w.db);
    for (int i = 0; i < 5; i++) {
        snprintf(text, sizeof(text), "message %d", i);
        expect_text(&w.db, users, 2, text, &seq);
        assert_int_equal(seq, i + 1);
        if (i < 2)
            tc_ack(&w.db, seq);
    }
    /* A ping round trip makes sure the acks were read before we leave. */
    assert_int_equal(ws_send(&w.db.ws, 1, "{\"type\":\"ping\",\"id\":7}", 22), 0);
    json_decref(tc_wait_json(&w.db, "pong", 5000));
    usleep(300000);
    ws_close(&w.db.ws);
    w.db.is_open = false;
    /* Unacknowledged ones come again, acknowledged ones do not; the
     * one-time pre-keys were consumed, so re-open with a fresh copy of
     * the keys is not possible: check seqs only. */
    tc_ws_auth(p, &w.db);
    for (int i = 2; i < 5; i++) {
        struct tc_delivery x;
        assert_int_equal(tc_wait_delivery(&w.db, 10000, &x), 0);
        assert_int_equal(x.seq, i + 1);
        tc_delivery_release(&x);
    }
    {
        struct tc_delivery x;
        assert_int_equal(tc_wait_delivery(&w.db, 1000, &x), -1);
    }
    world_down(&w);
}

static void test_messaging__multi_device_copies_and_devices_changed(void **state)
{
    struct parleyd *p = *state;
    struct world w;
    struct tc_device a2, b2;
    struct tc_device *to[3];
    struct tc_user *users[2];
    struct buf env = BUF_INIT(SIZE_MAX);
    json_t *nack, *missing;

    world_up(p, &w, false);
    users[0] = &w.a;
    users[1] = &w.b;
    assert_int_equal(tc_device_add(p, &w.a, &a2, 10), 201);
    assert_int_equal(tc_device_add(p, &w.b, &b2, 10), 201);
    tc_ws_auth(p, &w.da);
    tc_ws_auth(p, &a2);
    tc_ws_auth(p, &w.db);
    tc_ws_auth(p, &b2);

    /* Sealed for bob's first device only: refused, naming the others. */
    to[0] = &w.db;
    tc_seal(p, &w.da, to, 1, w.conv, "partial", 0, &env);
    tc_send_envelope(&w.da, &env);
    nack = expect_nack(&w.da, "devices_changed");
    missing = json_object_get(nack, "missing");
    assert_int_equal(json_array_size(missing), 2);
    assert_int_equal(json_array_size(json_object_get(nack, "extra")), 0);
    for (size_t i = 0; i < 2; i++) {
        const char *m = json_string_value(json_array_get(missing, i));
        assert_true(strcmp(m, tc_hex(a2.dev.device_id)) == 0 ||
                    strcmp(m, tc_hex(b2.dev.device_id)) == 0);
    }
    json_decref(nack);
    buf_reset(&env);

    /* Sealed for everyone: each device, the sender's own other one too. */
    to[0] = &w.db;
    to[1] = &b2;
    to[2] = &a2;
    tc_seal(p, &w.da, to, 3, w.conv, "to all", 0, &env);
    tc_send_envelope(&w.da, &env);
    expect_ack(&w.da, env.data);
    expect_text(&w.db, users, 2, "to all", NULL);
    expect_text(&b2, users, 2, "to all", NULL);
    expect_text(&a2, users, 2, "to all", NULL);

    /* A second session of a device replaces the first (4000). */
    {
        struct tc_device again = b2;
        memset(&again.ws, 0, sizeof(again.ws));
        again.n_texts = again.n_inbox = 0;
        again.is_open = false;
        tc_ws_auth(p, &again);
        assert_null(tc_wait_json(&b2, "never", 3000));
        assert_int_equal(b2.close_code, 4000);
        ws_close(&again.ws);
        for (size_t i = 0; i < again.n_texts; i++)
            json_decref(again.texts[i]);
    }
    buf_release(&env);
    tc_device_release(&a2);
    tc_device_release(&b2);
    world_down(&w);
}

/* The server keeps a conversation's recipient devices between envelopes;
 * a device added, or a recipient suspended, after an envelope was accepted
 * changes whom the next one must be sealed for, at once. */
static void test_messaging__recipients_follow_device_and_account_changes(void **state)
{
    struct parleyd *p = *state;
    struct world w;
    struct tc_device b2;
    struct tc_device *to[2];
    struct tc_user *users[2];
    struct buf env = BUF_INIT(SIZE_MAX);
    json_t *nack;
    char pw[32];

    world_up_with(p, &w, false, "{\"user_account_suspension\": 2}");
    users[0] = &w.a;
    users[1] = &w.b;
    tc_ws_auth(p, &w.da);
    tc_ws_auth(p, &w.db);
    to[0] = &w.db;
    tc_seal(p, &w.da, to, 1, w.conv, "one", 0, &env);
    tc_send_envelope(&w.da, &env);
    expect_ack(&w.da, env.data);
    expect_text(&w.db, users, 2, "one", NULL);
    buf_reset(&env);

    /* Bob adds a device: the same sealing is now incomplete. */
    assert_int_equal(tc_device_add(p, &w.b, &b2, 10), 201);
    tc_seal(p, &w.da, to, 1, w.conv, "two", 0, &env);
    tc_send_envelope(&w.da, &env);
    nack = expect_nack(&w.da, "devices_changed");
    assert_int_equal(json_array_size(json_object_get(nack, "missing")), 1);
    assert_string_equal(json_string_value(json_array_get(json_object_get(nack, "missing"), 0)),
                        tc_hex(b2.dev.device_id));
    json_decref(nack);
    buf_reset(&env);
    to[1] = &b2;
    tc_seal(p, &w.da, to, 2, w.conv, "three", 0, &env);
    tc_send_envelope(&w.da, &env);
    expect_ack(&w.da, env.data);
    expect_text(&w.db, users, 2, "three", NULL);
    buf_reset(&env);

    /* Two wrong secrets suspend bob: his devices are no longer recipients
     * (sealed before, while his pre-keys could still be claimed). */
    tc_seal(p, &w.da, to, 2, w.conv, "four", 0, &env);
    snprintf(pw, sizeof(pw), "%s", w.b.password);
    snprintf(w.b.password, sizeof(w.b.password), "wrong");
    assert_int_equal(tc_login(p, &w.b), 401);
    assert_int_equal(tc_login(p, &w.b), 401);
    snprintf(w.b.password, sizeof(w.b.password), "%s", pw);
    tc_send_envelope(&w.da, &env);
    nack = expect_nack(&w.da, "devices_changed");
    assert_int_equal(json_array_size(json_object_get(nack, "extra")), 2);
    assert_int_equal(json_array_size(json_object_get(nack, "missing")), 0);
    json_decref(nack);
    buf_release(&env);
    tc_device_release(&b2);
    world_down(&w);
}

static void test_messaging__compliance_bot_devices_must_be_wrapped(void **state)
{
    struct parleyd *p = *state;
    struct world w;
    struct tc_device *to[2];
    struct tc_user *users[3];
    struct buf env = BUF_INIT(SIZE_MAX);
    json_t *nack;

    /* carol is the network's compliance bot; she is in no conversation. */
    world_up(p, &w, true);
    assert_int_equal(harness_stop(p, SIGTERM, 10, NULL), 0);
    assert_int_equal(
        harness_provision_sql(p, "UPDATE users SET is_compliance = 1 WHERE username = 'carol'"), 0);
    start(p);
    users[0] = &w.a;
    users[1] = &w.b;
    users[2] = &w.c;
    tc_ws_auth(p, &w.da);
    tc_ws_auth(p, &w.db);
    tc_ws_auth(p, &w.dc);
    to[0] = &w.db;
    tc_seal(p, &w.da, to, 1, w.conv, "no bot", 0, &env);
    tc_send_envelope(&w.da, &env);
    nack = expect_nack(&w.da, "devices_changed");
    assert_string_equal(json_string_value(json_array_get(json_object_get(nack, "missing"), 0)),
                        tc_hex(w.dc.dev.device_id));
    json_decref(nack);
    buf_reset(&env);
    to[1] = &w.dc;
    tc_seal(p, &w.da, to, 2, w.conv, "with bot", 0, &env);
    tc_send_envelope(&w.da, &env);
    expect_ack(&w.da, env.data);
    expect_text(&w.db, users, 3, "with bot", NULL);
    expect_text(&w.dc, users, 3, "with bot", NULL);
    buf_release(&env);
    world_down(&w);
}

static void test_messaging__removed_room_member_stops_receiving(void **state)
{
    struct parleyd *p = *state;
    struct world w;
    uint8_t room[KEYS_ID_LEN];
    struct tc_device *to[2];
    struct tc_user *users[3];
    struct buf env = BUF_INIT(SIZE_MAX);
    char body[400], path[200];
    json_t *r = NULL, *nack;

    world_up(p, &w, true);
    users[0] = &w.a;
    users[1] = &w.b;
    users[2] = &w.c;
    assert_int_equal(ids_conv_new(IDS_CONV_ROOM, room), 0);
    snprintf(body, sizeof(body),
             "{\"type\":\"room\",\"conv_id\":\"%s\",\"members\":[\"%s\",\"%s\"],"
             "\"moderators\":[],\"expiration\":0,\"burn_on_read\":0}",
             tc_hex(room), tc_hex(w.b.user_id), tc_hex(w.c.user_id));
    assert_int_equal(tc_http(p, "POST", "/api/v1/client/conversations", w.da.token, body, &r), 201);
    assert_int_equal(json_array_size(json_object_get(r, "members")), 3);
    assert_int_equal(json_string_value(json_object_get(r, "vgroupid"))[0], 'S');
    json_decref(r);
    /* Again: 409. A member who is not a moderator cannot change members. */
    assert_int_equal(tc_http(p, "POST", "/api/v1/client/conversations", w.da.token, body, NULL),
                     409);
    snprintf(path, sizeof(path), "/api/v1/client/conversations/%s/members", tc_hex(room));
    snprintf(body, sizeof(body), "{\"remove\":[\"%s\"]}", tc_hex(w.c.user_id));
    assert_int_equal(tc_http(p, "POST", path, w.db.token, body, NULL), 403);

    tc_ws_auth(p, &w.da);
    tc_ws_auth(p, &w.db);
    tc_ws_auth(p, &w.dc);
    to[0] = &w.db;
    to[1] = &w.dc;
    tc_seal(p, &w.da, to, 2, room, "all three", 0, &env);
    tc_send_envelope(&w.da, &env);
    int64_t first_ts = expect_ack(&w.da, env.data);
    expect_text(&w.db, users, 3, "all three", NULL);
    expect_text(&w.dc, users, 3, "all three", NULL);
    struct buf first = BUF_INIT(SIZE_MAX);
    buf_append(&first, env.data, env.len);
    buf_reset(&env);

    /* The moderator removes carol: her device is now an extra wrap. */
    assert_int_equal(tc_http(p, "POST", path, w.da.token, body, &r), 200);
    assert_int_equal(json_array_size(json_object_get(r, "members")), 2);
    json_decref(r);
    tc_seal(p, &w.da, to, 2, room, "without carol", 0, &env);
    tc_send_envelope(&w.da, &env);
    nack = expect_nack(&w.da, "devices_changed");
    assert_string_equal(json_string_value(json_array_get(json_object_get(nack, "extra"), 0)),
                        tc_hex(w.dc.dev.device_id));
    json_decref(nack);
    buf_reset(&env);
    tc_seal(p, &w.da, to, 1, room, "without carol", 0, &env);
    tc_send_envelope(&w.da, &env);
    expect_ack(&w.da, env.data);
    expect_text(&w.db, users, 3, "without carol", NULL);
    /* A retry of the envelope accepted before the change gets its original
     * ack, not a devices_changed refusal, and is not delivered again. */
    tc_send_envelope(&w.da, &first);
    assert_int_equal(expect_ack(&w.da, first.data), first_ts);
    buf_release(&first);
    {
        struct tc_delivery x;
        assert_int_equal(tc_wait_delivery(&w.dc, 1000, &x), -1);
    }
    /* And carol can no longer post there. */
    buf_reset(&env);
    to[0] = &w.db;
    tc_seal(p, &w.dc, to, 1, room, "let me in", 0, &env);
    tc_send_envelope(&w.dc, &env);
    json_decref(expect_nack(&w.dc, "not_member"));
    /* Her listing no longer shows the room; bob's does. */
    assert_int_equal(tc_http(p, "GET", "/api/v1/client/conversations", w.dc.token, NULL, &r), 200);
    assert_int_equal(json_array_size(json_object_get(r, "conversations")), 0);
    json_decref(r);
    assert_int_equal(tc_http(p, "GET", "/api/v1/client/conversations", w.db.token, NULL, &r), 200);
    assert_int_equal(json_array_size(json_object_get(r, "conversations")), 2);
    json_decref(r);
    buf_release(&env);
    world_down(&w);
}

static void test_messaging__group_rights_cap_leave_and_delete(void **state)
{
    struct parleyd *p = *state;
    struct world w;
    uint8_t group[KEYS_ID_LEN], room[KEYS_ID_LEN];
    char body[400], path[200];
    json_t *big, *r = NULL;
    char *s;

    world_up(p, &w, true);
    assert_int_equal(ids_conv_new(IDS_CONV_GROUP, group), 0);
    /* Wrong type bits, moderators in a group. */
    snprintf(body, sizeof(body), "{\"type\":\"room\",\"conv_id\":\"%s\"}", tc_hex(group));
    assert_int_equal(tc_http(p, "POST", "/api/v1/client/conversations", w.da.token, body, NULL),
                     400);
    snprintf(body, sizeof(body), "{\"type\":\"group\",\"conv_id\":\"%s\",\"moderators\":[\"%s\"]}",
             tc_hex(group), tc_hex(w.b.user_id));
    assert_int_equal(tc_http(p, "POST", "/api/v1/client/conversations", w.da.token, body, NULL),
                     400);
    snprintf(body, sizeof(body), "{\"type\":\"group\",\"conv_id\":\"%s\",\"members\":[\"%s\"]}",
             tc_hex(group), tc_hex(w.b.user_id));
    assert_int_equal(tc_http(p, "POST", "/api/v1/client/conversations", w.da.token, body, NULL),
                     201);
    /* Any member adds; members remove only themselves. */
    snprintf(path, sizeof(path), "/api/v1/client/conversations/%s/members", tc_hex(group));
    snprintf(body, sizeof(body), "{\"add\":[\"%s\"]}", tc_hex(w.c.user_id));
    assert_int_equal(tc_http(p, "POST", path, w.db.token, body, NULL), 200);
    snprintf(body, sizeof(body), "{\"remove\":[\"%s\"]}", tc_hex(w.a.user_id));
    assert_int_equal(tc_http(p, "POST", path, w.db.token, body, NULL), 403);
    /* Over 500 members: 413. */
    big = json_pack("{s:s,s:[]}", "type", "group", "members");
    for (int i = 0; i < 501; i++) {
        uint8_t id[KEYS_ID_LEN];
        assert_int_equal(proto_rand(id, sizeof(id)), 0);
        json_array_append_new(json_object_get(big, "members"), json_string(tc_hex(id)));
    }
    assert_int_equal(ids_conv_new(IDS_CONV_GROUP, room), 0);
    json_object_set_new(big, "conv_id", json_string(tc_hex(room)));
    s = json_dumps(big, JSON_COMPACT);
    assert_int_equal(tc_http(p, "POST", "/api/v1/client/conversations", w.da.token, s, &r), 413);
    assert_string_equal(code_of(r), "too_large");
    json_decref(r);
    free(s);
    json_decref(big);
    /* Leave, then the group is gone for the leaver only. */
    snprintf(path, sizeof(path), "/api/v1/client/conversations/%s/leave", tc_hex(group));
    assert_int_equal(tc_http(p, "POST", path, w.dc.token, NULL, NULL), 200);
    snprintf(path, sizeof(path), "/api/v1/client/conversations/%s", tc_hex(group));
    assert_int_equal(tc_http(p, "GET", path, w.dc.token, NULL, NULL), 404);
    assert_int_equal(tc_http(p, "GET", path, w.db.token, NULL, &r), 200);
    assert_int_equal(json_array_size(json_object_get(r, "members")), 2);
    json_decref(r);
    /* Direct conversations are immutable. */
    snprintf(path, sizeof(path), "/api/v1/client/conversations/%s/leave", tc_hex(w.conv));
    assert_int_equal(tc_http(p, "POST", path, w.da.token, NULL, NULL), 403);
    /* A room: only moderators delete it, and then it is gone for all. */
    assert_int_equal(ids_conv_new(IDS_CONV_ROOM, room), 0);
    snprintf(body, sizeof(body), "{\"type\":\"room\",\"conv_id\":\"%s\",\"members\":[\"%s\"]}",
             tc_hex(room), tc_hex(w.b.user_id));
    assert_int_equal(tc_http(p, "POST", "/api/v1/client/conversations", w.da.token, body, NULL),
                     201);
    snprintf(path, sizeof(path), "/api/v1/client/conversations/%s", tc_hex(room));
    assert_int_equal(tc_http(p, "DELETE", path, w.db.token, NULL, NULL), 403);
    assert_int_equal(tc_http(p, "DELETE", path, w.da.token, NULL, NULL), 200);
    assert_int_equal(tc_http(p, "GET", path, w.db.token, NULL, NULL), 404);
    world_down(&w);
}

/* The security group's max_expiration bounds a conversation's timers and
 * every envelope's expiry: 0 takes the maximum, longer is refused with a
 * message naming the field and the bound. */
static void test_messaging__timers_are_bounded_by_the_group_maximum(void **state)
{
    struct parleyd *p = *state;
    struct world w;
    struct tc_device *to[1];
    struct buf env = BUF_INIT(SIZE_MAX);
    uint8_t group[KEYS_ID_LEN];
    char body[300], path[200];
    json_t *r = NULL, *j;

    world_up_with(p, &w, false, "{\"max_expiration\": 3600}");
    assert_int_equal(ids_conv_new(IDS_CONV_GROUP, group), 0);
    snprintf(body, sizeof(body),
             "{\"type\":\"group\",\"conv_id\":\"%s\",\"members\":[\"%s\"],\"expiration\":7200}",
             tc_hex(group), tc_hex(w.b.user_id));
    assert_int_equal(tc_http(p, "POST", "/api/v1/client/conversations", w.da.token, body, &r), 400);
    assert_non_null(
        strstr(json_string_value(json_object_get(json_object_get(r, "error"), "message")),
               "field 'expiration' must be at most 3600 s"));
    json_decref(r);
    snprintf(body, sizeof(body),
             "{\"type\":\"group\",\"conv_id\":\"%s\",\"members\":[\"%s\"],\"burn_on_read\":3601}",
             tc_hex(group), tc_hex(w.b.user_id));
    assert_int_equal(tc_http(p, "POST", "/api/v1/client/conversations", w.da.token, body, &r), 400);
    assert_non_null(
        strstr(json_string_value(json_object_get(json_object_get(r, "error"), "message")),
               "field 'burn_on_read' must be at most 3600 s"));
    json_decref(r);
    /* None asked for: the maximum. */
    snprintf(body, sizeof(body), "{\"type\":\"group\",\"conv_id\":\"%s\",\"members\":[\"%s\"]}",
             tc_hex(group), tc_hex(w.b.user_id));
    assert_int_equal(tc_http(p, "POST", "/api/v1/client/conversations", w.da.token, body, &r), 201);
    assert_int_equal(json_integer_value(json_object_get(r, "expiration")), 3600);
    json_decref(r);
    snprintf(path, sizeof(path), "/api/v1/client/conversations/%s/settings", tc_hex(group));
    assert_int_equal(tc_http(p, "PUT", path, w.db.token, "{\"expiration\":3601}", &r), 400);
    assert_non_null(
        strstr(json_string_value(json_object_get(json_object_get(r, "error"), "message")),
               "field 'expiration'"));
    json_decref(r);
    assert_int_equal(
        tc_http(p, "PUT", path, w.db.token, "{\"expiration\":1800,\"burn_on_read\":600}", &r), 200);
    assert_int_equal(json_integer_value(json_object_get(r, "expiration")), 1800);
    assert_int_equal(json_integer_value(json_object_get(r, "burn_on_read")), 600);
    json_decref(r);
    /* An envelope asking to live longer than the maximum is refused. */
    to[0] = &w.db;
    tc_ws_auth(p, &w.da);
    tc_seal(p, &w.da, to, 1, w.conv, "too long", (uint64_t)time(NULL) + 7200, &env);
    tc_send_envelope(&w.da, &env);
    j = expect_nack(&w.da, "forbidden");
    assert_non_null(strstr(json_string_value(json_object_get(j, "message")), "3600 s"));
    json_decref(j);
    buf_reset(&env);
    tc_seal(p, &w.da, to, 1, w.conv, "short enough", (uint64_t)time(NULL) + 1800, &env);
    tc_send_envelope(&w.da, &env);
    expect_ack(&w.da, env.data);
    buf_release(&env);
    world_down(&w);
}

static void test_messaging__expired_envelopes_are_purged(void **state)
{
    struct parleyd *p = *state;
    struct world w;
    struct tc_device *to[1];
    struct buf env = BUF_INIT(SIZE_MAX);

    world_up(p, &w, false);
    to[0] = &w.db;
    tc_ws_auth(p, &w.da);
    /* Already expired: refused. */
    tc_seal(p, &w.da, to, 1, w.conv, "too late", (uint64_t)time(NULL) - 10, &env);
    tc_send_envelope(&w.da, &env);
    json_decref(expect_nack(&w.da, "expired"));
    buf_reset(&env);
    /* Beyond the security group's max_expiration (30 days by default). */
    tc_seal(p, &w.da, to, 1, w.conv, "too long", (uint64_t)time(NULL) + 40 * 86400, &env);
    tc_send_envelope(&w.da, &env);
    json_decref(expect_nack(&w.da, "forbidden"));
    buf_reset(&env);
    /* Expires in 2 s, bob offline: gone by the time he connects. */
    tc_seal(p, &w.da, to, 1, w.conv, "short-lived", (uint64_t)time(NULL) + 2, &env);
    tc_send_envelope(&w.da, &env);
    expect_ack(&w.da, env.data);
    sleep(6);
    tc_ws_auth(p, &w.db);
    {
        struct tc_delivery x;
        assert_int_equal(tc_wait_delivery(&w.db, 1000, &x), -1);
    }
    /* The expirer deleted the rows, not just hid them. */
    assert_int_equal(harness_stop(p, SIGTERM, 10, NULL), 0);
    assert_int_equal(harness_provision_count(p, "SELECT COUNT(*) FROM envelopes"), 0);
    assert_int_equal(harness_provision_count(p, "SELECT COUNT(*) FROM queue"), 0);
    buf_release(&env);
    world_down(&w);
}

static void test_messaging__malformed_frames_get_errors_not_crashes(void **state)
{
    struct parleyd *p = *state;
    struct world w;
    struct tc_device *to[1];
    struct buf env = BUF_INIT(SIZE_MAX);
    json_t *j;
    const uint8_t junk[] = {0x01, 'P', 'E', 1, 2, 3};
    const uint8_t kind[] = {0x07, 0, 0};

    world_up(p, &w, false);
    /* Before auth: only auth. */
    assert_int_equal(ws_open(p, "/v1/ws", "parley.v1", &w.db.ws), 101);
    w.db.is_open = true;
    json_decref(tc_wait_json(&w.db, "hello", 5000));
    assert_int_equal(ws_send(&w.db.ws, 2, junk, sizeof(junk)), 0);
    j = tc_wait_json(&w.db, "error", 5000);
    assert_non_null(j);
    assert_string_equal(json_string_value(json_object_get(j, "code")), "unauthorized");
    json_decref(j);
    assert_null(tc_wait_json(&w.db, "never", 3000));
    assert_int_equal(w.db.close_code, 1008);
    ws_close(&w.db.ws);
    w.db.is_open = false;

    tc_ws_auth(p, &w.da);
    assert_int_equal(ws_send(&w.da.ws, 2, junk, sizeof(junk)), 0);
    json_decref(expect_nack(&w.da, "bad_envelope"));
    assert_int_equal(ws_send(&w.da.ws, 2, kind, sizeof(kind)), 0);
    json_decref(expect_nack(&w.da, "bad_envelope"));
    assert_int_equal(ws_send(&w.da.ws, 1, "{nope", 5), 0);
    j = tc_wait_json(&w.da, "error", 5000);
    assert_string_equal(json_string_value(json_object_get(j, "code")), "bad_message");
    json_decref(j);
    assert_int_equal(ws_send(&w.da.ws, 1, "{\"type\":\"ack\",\"seq\":[\"x\"]}", 26), 0);
    j = tc_wait_json(&w.da, "error", 5000);
    assert_non_null(strstr(json_string_value(json_object_get(j, "message")), "seq"));
    json_decref(j);
    assert_int_equal(
        ws_send(&w.da.ws, 1, "{\"type\":\"typing\",\"conv_id\":\"zz\",\"active\":1}", 43), 0);
    j = tc_wait_json(&w.da, "error", 5000);
    assert_non_null(strstr(json_string_value(json_object_get(j, "message")), "conv_id"));
    json_decref(j);

    /* An envelope claiming another sender device is forbidden. */
    tc_ws_auth(p, &w.db);
    to[0] = &w.da;
    tc_seal(p, &w.db, to, 1, w.conv, "spoof", 0, &env);
    tc_send_envelope(&w.da, &env);
    json_decref(expect_nack(&w.da, "forbidden"));
    /* A conversation that does not exist. */
    buf_reset(&env);
    {
        uint8_t nowhere[KEYS_ID_LEN];
        assert_int_equal(ids_conv_new(IDS_CONV_GROUP, nowhere), 0);
        to[0] = &w.db;
        tc_seal(p, &w.da, to, 1, nowhere, "hello?", 0, &env);
        tc_send_envelope(&w.da, &env);
        json_decref(expect_nack(&w.da, "not_member"));
    }
    /* Typing is relayed to the other member's live session. */
    {
        char msg[200];
        snprintf(msg, sizeof(msg), "{\"type\":\"typing\",\"conv_id\":\"%s\",\"active\":true}",
                 tc_hex(w.conv));
        assert_int_equal(ws_send(&w.da.ws, 1, msg, strlen(msg)), 0);
        j = tc_wait_json(&w.db, "typing", 5000);
        assert_non_null(j);
        assert_string_equal(json_string_value(json_object_get(j, "user_id")), tc_hex(w.a.user_id));
        assert_true(json_is_true(json_object_get(j, "active")));
        json_decref(j);
    }
    /* Presence goes to contacts (bob shares a conversation with alice). */
    assert_int_equal(
        ws_send(&w.da.ws, 1, "{\"type\":\"presence\",\"status\":\"away\",\"idle_s\":60}", 47), 0);
    j = tc_wait_json(&w.db, "presence", 5000);
    assert_non_null(j);
    assert_string_equal(json_string_value(json_object_get(j, "status")), "away");
    assert_string_equal(json_string_value(json_object_get(j, "user_id")), tc_hex(w.a.user_id));
    json_decref(j);
    assert_int_equal(ws_send(&w.da.ws, 1, "{\"type\":\"presence\",\"status\":\"gone\"}", 35), 0);
    j = tc_wait_json(&w.da, "error", 5000);
    assert_non_null(strstr(json_string_value(json_object_get(j, "message")), "status"));
    json_decref(j);
    /* Still alive. */
    assert_int_equal(ws_send(&w.da.ws, 1, "{\"type\":\"ping\",\"id\":1}", 22), 0);
    j = tc_wait_json(&w.da, "pong", 5000);
    assert_non_null(j);
    json_decref(j);
    buf_release(&env);
    world_down(&w);
}

/* Send a control message as text. */
static void send_text(struct tc_device *d, const char *fmt, ...) PARLEY_PRINTF(2, 3);
static void send_text(struct tc_device *d, const char *fmt, ...)
{
    char msg[1024];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof(msg), fmt, ap);
    va_end(ap);
    assert_int_equal(ws_send(&d->ws, 1, msg, strlen(msg)), 0);
}

/* The next error `d` gets must carry `code` and mention `needle`. */
static void expect_error(struct tc_device *d, const char *code, const char *needle)
{
    json_t *j = tc_wait_json(d, "error", 5000);
    assert_non_null(j);
    assert_string_equal(json_string_value(json_object_get(j, "code")), code);
    assert_non_null(strstr(json_string_value(json_object_get(j, "message")), needle));
    json_decref(j);
}

/* `d` gets a typing event from `from`, and before it nothing of `type`:
 * the server relays one session's messages in order, so what was refused
 * before the typing message would have arrived first. */
static void expect_typing_only(struct tc_device *d, const struct tc_user *from, const char *type)
{
    json_t *j = tc_wait_json(d, "typing", 5000);
    assert_non_null(j);
    assert_string_equal(json_string_value(json_object_get(j, "user_id")), tc_hex(from->user_id));
    json_decref(j);
    assert_null(tc_wait_json(d, type, 1));
}

/* Read receipts follow the network profile's switch; presence follows each
 * user's security group ("User Availability"); typing is relayed to
 * members only. */
static void test_messaging__read_receipts_presence_and_typing_policies(void **state)
{
    struct parleyd *p = *state;
    struct world w;
    uint8_t conv_ac[KEYS_ID_LEN], room[KEYS_ID_LEN], mid[KEYS_ID_LEN];
    char conv[33], cac[33], m[33];
    json_t *j;

    memset(&w, 0, sizeof(w));
    tc_user_provision(p, &w.a, "alice");
    tc_user_provision(p, &w.b, "bob");
    tc_user_provision(p, &w.c, "carol");
    /* Carol's security group does not share availability; the others stay
     * in the default group, which does. */
    assert_int_equal(harness_provision_sql(
                         p, "INSERT INTO security_groups (network_id, name, is_default, settings, "
                            "created_at, updated_at) SELECT network_id, 'Quiet', 0, "
                            "'{\"user_availability\": false}', 0, 0 FROM users WHERE "
                            "username = 'carol'"),
                     0);
    assert_int_equal(harness_provision_sql(p, "UPDATE users SET security_group_id = (SELECT id "
                                              "FROM security_groups WHERE name = 'Quiet') WHERE "
                                              "username = 'carol'"),
                     0);
    start(p);
    tc_user_ready(p, &w.a, &w.da);
    tc_user_ready(p, &w.b, &w.db);
    tc_user_ready(p, &w.c, &w.dc);
    tc_conv_direct(p, &w.da, &w.b, w.conv);
    tc_conv_direct(p, &w.da, &w.c, conv_ac);
    snprintf(conv, sizeof(conv), "%s", tc_hex(w.conv));
    snprintf(cac, sizeof(cac), "%s", tc_hex(conv_ac));
    assert_int_equal(ids_conv_new(IDS_CONV_ROOM, room), 0);
    assert_int_equal(proto_rand(mid, sizeof(mid)), 0);
    snprintf(m, sizeof(m), "%s", tc_hex(mid));
    tc_ws_auth(p, &w.da);
    tc_ws_auth(p, &w.db);
    tc_ws_auth(p, &w.dc);

    /* Read receipts on (the default): bob's reaches alice, with the ids. */
    send_text(&w.db, "{\"type\":\"read\",\"conv_id\":\"%s\",\"msg_ids\":[\"%s\"]}", conv, m);
    j = tc_wait_json(&w.da, "read", 5000);
    assert_non_null(j);
    assert_string_equal(json_string_value(json_object_get(j, "user_id")), tc_hex(w.b.user_id));
    assert_string_equal(json_string_value(json_object_get(j, "conv_id")), conv);
    assert_string_equal(json_string_value(json_array_get(json_object_get(j, "msg_ids"), 0)), m);
    json_decref(j);
    /* Bad input names the field; strangers and rooms are refused. */
    send_text(&w.db, "{\"type\":\"read\",\"conv_id\":\"%s\",\"msg_ids\":[]}", conv);
    expect_error(&w.db, "bad_message", "msg_ids");
    send_text(&w.db, "{\"type\":\"read\",\"conv_id\":\"%s\",\"msg_ids\":[\"zz\"]}", conv);
    expect_error(&w.db, "bad_message", "msg_ids");
    send_text(&w.db, "{\"type\":\"read\",\"conv_id\":\"x\",\"msg_ids\":[\"%s\"]}", m);
    expect_error(&w.db, "bad_message", "conv_id");
    send_text(&w.db, "{\"type\":\"read\",\"conv_id\":\"%s\",\"msg_ids\":[\"%s\"]}", tc_hex(room),
              m);
    expect_error(&w.db, "bad_message", "one-to-one");
    send_text(&w.dc, "{\"type\":\"read\",\"conv_id\":\"%s\",\"msg_ids\":[\"%s\"]}", conv, m);
    expect_error(&w.dc, "not_member", "member");
    {
        char big[8192];
        size_t o = (size_t)snprintf(big, sizeof(big),
                                    "{\"type\":\"read\",\"conv_id\":\"%s\",\"msg_ids\":[", conv);
        for (int i = 0; i < 101; i++)
            o += (size_t)snprintf(big + o, sizeof(big) - o, "%s\"%s\"", i ? "," : "", m);
        snprintf(big + o, sizeof(big) - o, "]}");
        assert_int_equal(ws_send(&w.db.ws, 1, big, strlen(big)), 0);
        expect_error(&w.db, "bad_message", "100");
    }

    /* Typing reaches members only: carol is not in alice and bob's
     * conversation. */
    send_text(&w.dc, "{\"type\":\"typing\",\"conv_id\":\"%s\",\"active\":true}", conv);
    expect_error(&w.dc, "not_member", "member");
    send_text(&w.db, "{\"type\":\"typing\",\"conv_id\":\"%s\",\"active\":false}", conv);
    j = tc_wait_json(&w.da, "typing", 5000);
    assert_non_null(j);
    assert_true(json_is_false(json_object_get(j, "active")));
    json_decref(j);
    assert_null(tc_wait_json(&w.dc, "typing", 500));

    /* Presence: carol's group forbids it, so alice, her contact, never
     * sees carol's status; alice's own status reaches carol and bob. */
    send_text(&w.dc, "{\"type\":\"presence\",\"status\":\"busy\",\"idle_s\":5}");
    expect_error(&w.dc, "forbidden", "availability");
    send_text(&w.dc, "{\"type\":\"typing\",\"conv_id\":\"%s\",\"active\":true}", cac);
    expect_typing_only(&w.da, &w.c, "presence");
    send_text(&w.da, "{\"type\":\"presence\",\"status\":\"away\",\"idle_s\":7}");
    j = tc_wait_json(&w.dc, "presence", 5000);
    assert_non_null(j);
    assert_string_equal(json_string_value(json_object_get(j, "user_id")), tc_hex(w.a.user_id));
    json_decref(j);
    j = tc_wait_json(&w.db, "presence", 5000);
    assert_non_null(j);
    json_decref(j);

    /* The network turns read receipts off: refused, relayed to nobody. */
    struct tc_device *devs[] = {&w.da, &w.db, &w.dc};
    for (size_t i = 0; i < 3; i++) {
        ws_close(&devs[i]->ws);
        devs[i]->is_open = false;
    }
    assert_int_equal(harness_stop(p, SIGTERM, 10, NULL), 0);
    assert_int_equal(harness_provision_sql(p, "UPDATE networks SET settings = "
                                              "'{\"read_receipts\": false}'"),
                     0);
    start(p);
    tc_ws_auth(p, &w.da);
    tc_ws_auth(p, &w.db);
    send_text(&w.db, "{\"type\":\"read\",\"conv_id\":\"%s\",\"msg_ids\":[\"%s\"]}", conv, m);
    expect_error(&w.db, "forbidden", "read receipts");
    send_text(&w.db, "{\"type\":\"typing\",\"conv_id\":\"%s\",\"active\":true}", conv);
    expect_typing_only(&w.da, &w.b, "read");
    world_down(&w);
}

static void test_messaging__kill_9_loses_no_acked_message(void **state)
{
    struct parleyd *p = *state;
    struct world w;
    struct tc_device *to[1];
    struct tc_user *users[2];
    enum { N = 40 };
    struct buf env[N];
    bool acked[N] = {false}, got[N] = {false};
    int n_acked = 0;

    world_up(p, &w, false);
    users[0] = &w.a;
    users[1] = &w.b;
    to[0] = &w.db;
    tc_ws_auth(p, &w.da);
    for (int i = 0; i < N; i++) {
        char text[32];
        buf_init(&env[i], SIZE_MAX);
        snprintf(text, sizeof(text), "burst %d", i);
        tc_seal(p, &w.da, to, 1, w.conv, text, 0, &env[i]);
    }
    /* Send everything, read whatever acks arrive quickly, then kill. */
    for (int i = 0; i < N; i++)
        tc_send_envelope(&w.da, &env[i]);
    for (;;) {
        json_t *j = tc_wait_json(&w.da, "ack", N == n_acked ? 0 : 300);
        if (!j)
            break;
        for (int i = 0; i < N; i++)
            if (strcmp(json_string_value(json_object_get(j, "msg_id")), tc_hex(env[i].data + 8)) ==
                0) {
                acked[i] = true;
                n_acked++;
            }
        json_decref(j);
        if (n_acked == N / 2)
            break;
    }
    assert_int_equal(harness_stop(p, SIGKILL, 10, NULL), 128 + SIGKILL);
    ws_close(&w.da.ws);
    w.da.is_open = false;
    start(p);
    /* Every acked message is delivered, exactly once after de-duplication. */
    tc_ws_auth(p, &w.db);
    for (;;) {
        struct tc_delivery x;
        char text[64];
        uint8_t msg_id[KEYS_ID_LEN];
        if (tc_wait_delivery(&w.db, 2000, &x) < 0)
            break;
        assert_int_equal(tc_open(&w.db, &x, users, 2, text, sizeof(text), msg_id), 0);
        for (int i = 0; i < N; i++)
            if (memcmp(env[i].data + 8, msg_id, KEYS_ID_LEN) == 0) {
                assert_false(got[i]);
                got[i] = true;
            }
        tc_delivery_release(&x);
    }
    for (int i = 0; i < N; i++) {
        if (acked[i])
            assert_true(got[i]);
        buf_release(&env[i]);
    }
    world_down(&w);
}

/* The index of the envelope whose msg_id a delivery carries, or -1. */
static int env_index(const struct buf *env, int n, const struct tc_delivery *x)
{
    for (int i = 0; i < n; i++)
        if (x->len >= 8 + KEYS_ID_LEN && memcmp(env[i].data + 8, x->data + 8, KEYS_ID_LEN) == 0)
            return i;
    return -1;
}

/* SIGKILL while the recipient is online, so some of what he got was sent
 * before its commit. After the restart he sends the acks his client had
 * queued (libparley sends them on its next connection): they must delete
 * nothing they did not name. Every envelope acked to the sender, before
 * the crash or after, reaches him, and a queue number never names two
 * envelopes. */
static void test_messaging__kill_9_with_the_recipient_online_reuses_no_seq(void **state)
{
    struct parleyd *p = *state;
    struct world w;
    struct tc_device *to[1];
    enum { N = 300, M = 20 };
    struct buf env[N + M];
    bool acked[N + M] = {false}, got[N + M] = {false};
    int64_t pre_seq[N];
    int pre_idx[N], n_pre = 0;

    world_up(p, &w, false);
    to[0] = &w.db;
    for (int i = 0; i < N + M; i++) {
        char text[32];
        buf_init(&env[i], SIZE_MAX);
        snprintf(text, sizeof(text), "online %d", i);
        tc_seal(p, &w.da, to, 1, w.conv, text, 0, &env[i]);
    }
    tc_ws_auth(p, &w.da);
    tc_ws_auth(p, &w.db);
    for (int i = 0; i < N; i++)
        tc_send_envelope(&w.da, &env[i]);
    /* Bob reads while the burst is being stored; alice's acks are read as
     * they come. Kill once bob has half of it. */
    while (n_pre < N / 2) {
        struct tc_delivery x;
        json_t *j;
        while ((j = tc_wait_json(&w.da, "ack", 1))) {
            for (int i = 0; i < N; i++)
                if (strcmp(json_string_value(json_object_get(j, "msg_id")),
                           tc_hex(env[i].data + 8)) == 0)
                    acked[i] = true;
            json_decref(j);
        }
        assert_int_equal(tc_wait_delivery(&w.db, 10000, &x), 0);
        int i = env_index(env, N, &x);
        assert_true(i >= 0);
        got[i] = true;
        pre_seq[n_pre] = x.seq;
        pre_idx[n_pre++] = i;
        tc_delivery_release(&x);
    }
    assert_int_equal(harness_stop(p, SIGKILL, 10, NULL), 128 + SIGKILL);
    ws_close(&w.da.ws);
    w.da.is_open = false;
    ws_close(&w.db.ws);
    w.db.is_open = false;
    start(p);

    tc_ws_auth(p, &w.db);
    for (int k = 0; k < n_pre; k++)
        tc_ack(&w.db, pre_seq[k]);
    tc_ws_auth(p, &w.da);
    for (int i = N; i < N + M; i++) {
        tc_send_envelope(&w.da, &env[i]);
        expect_ack(&w.da, env[i].data);
        acked[i] = true;
    }
    for (;;) {
        struct tc_delivery x;
        if (tc_wait_delivery(&w.db, 2000, &x) < 0)
            break;
        int i = env_index(env, N + M, &x);
        assert_true(i >= 0);
        for (int k = 0; k < n_pre; k++)
            if (pre_seq[k] == x.seq)
                assert_int_equal(pre_idx[k], i);
        got[i] = true;
        tc_delivery_release(&x);
    }
    for (int i = 0; i < N + M; i++) {
        if (acked[i])
            assert_true(got[i]);
        buf_release(&env[i]);
    }
    world_down(&w);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_messaging__login_identity_device_and_errors, setup,
                                        teardown),
        cmocka_unit_test_setup_teardown(
            test_messaging__failed_logins_suspend_and_suspended_users_are_refused, setup, teardown),
        cmocka_unit_test_setup_teardown(test_messaging__new_login_secret_and_password_permission,
                                        setup, teardown),
        cmocka_unit_test_setup_teardown(
            test_messaging__prekey_claims_consume_onetime_then_fall_back, setup, teardown),
        cmocka_unit_test_setup_teardown(test_messaging__direct_message_is_acked_and_opened, setup,
                                        teardown),
        cmocka_unit_test_setup_teardown(
            test_messaging__offline_delivery_in_order_and_acked_not_redelivered, setup, teardown),
        cmocka_unit_test_setup_teardown(test_messaging__multi_device_copies_and_devices_changed,
                                        setup, teardown),
        cmocka_unit_test_setup_teardown(test_messaging__removed_room_member_stops_receiving, setup,
                                        teardown),
        cmocka_unit_test_setup_teardown(
            test_messaging__recipients_follow_device_and_account_changes, setup, teardown),
        cmocka_unit_test_setup_teardown(test_messaging__compliance_bot_devices_must_be_wrapped,
                                        setup, teardown),
        cmocka_unit_test_setup_teardown(test_messaging__group_rights_cap_leave_and_delete, setup,
                                        teardown),
        cmocka_unit_test_setup_teardown(test_messaging__expired_envelopes_are_purged, setup,
                                        teardown),
        cmocka_unit_test_setup_teardown(test_messaging__timers_are_bounded_by_the_group_maximum,
                                        setup, teardown),
        cmocka_unit_test_setup_teardown(test_messaging__malformed_frames_get_errors_not_crashes,
                                        setup, teardown),
        cmocka_unit_test_setup_teardown(test_messaging__read_receipts_presence_and_typing_policies,
                                        setup, teardown),
        cmocka_unit_test_setup_teardown(test_messaging__kill_9_loses_no_acked_message, setup,
                                        teardown),
        cmocka_unit_test_setup_teardown(
            test_messaging__kill_9_with_the_recipient_online_reuses_no_seq, setup, teardown),
        cmocka_unit_test_setup_teardown(
            test_messaging__concurrent_claims_never_share_a_onetime_prekey, setup, teardown),
        cmocka_unit_test_setup_teardown(
            test_messaging__large_backlog_streams_in_order_to_a_slow_reader, setup, teardown),
    };
    if (!testdb_backend_available())
        return testdb_skip("PARLEY_TEST_PG is not set");
    return cmocka_run_group_tests(tests, NULL, NULL);
}
