/* federation_test.c - local federation between two networks of one
 * deployment against a real parleyd: the directory, pre-key claims,
 * conversations and envelopes follow both security groups' Federation
 * settings (disabled, enabled, restricted with permitted networks), and a
 * setting changed later stops envelopes in a conversation that already
 * exists. Runs once per store backend. */
#include "msgutil.h"

#include <setjmp.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <cmocka.h>

#include "proto/ids.h"
#include "testdb.h"

#define NET_A "net-a"
#define NET_B "net-b"

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
    int rc = 0;
    if (p->pid > 0 && harness_stop(p, SIGTERM, 15, NULL) != 0) {
        char *log = harness_read(p, "parleyd.log");
        fprintf(stderr, "parleyd did not stop cleanly:\n%s\n", log ? log : "");
        free(log);
        rc = -1;
    }
    harness_cleanup(p);
    free(p);
    return rc;
}

/* alice and carol in network A, bob in network B. */
struct fworld {
    struct tc_user a, b, c;
    struct tc_device da, db, dc;
};

static void set_federation(struct parleyd *p, const char *network, const char *settings_json)
{
    char sql[512];
    snprintf(sql, sizeof(sql),
             "UPDATE security_groups SET settings = '%s' WHERE network_id = (SELECT id FROM "
             "networks WHERE network_id = '%s')",
             settings_json, network);
    assert_int_equal(harness_provision_sql(p, sql), 0);
}

static void fworld_up(struct parleyd *p, struct fworld *w, const char *fed_a, const char *fed_b)
{
    memset(w, 0, sizeof(*w));
    tc_user_provision_in(p, &w->a, "alice", NET_A);
    tc_user_provision_in(p, &w->c, "carol", NET_A);
    tc_user_provision_in(p, &w->b, "bob", NET_B);
    if (fed_a)
        set_federation(p, NET_A, fed_a);
    if (fed_b)
        set_federation(p, NET_B, fed_b);
    assert_int_equal(harness_start(p), 0);
    tc_user_ready(p, &w->a, &w->da);
    tc_user_ready(p, &w->b, &w->db);
    tc_user_ready(p, &w->c, &w->dc);
}

static void fworld_down(struct fworld *w)
{
    tc_device_release(&w->da);
    tc_device_release(&w->db);
    tc_device_release(&w->dc);
    tc_user_release(&w->a);
    tc_user_release(&w->b);
    tc_user_release(&w->c);
}

/* Stop parleyd, change network `network`'s default group, start again and
 * reopen the channels of the devices given. */
static void restart_with(struct parleyd *p, const char *network, const char *settings_json,
                         struct tc_device **reopen, size_t n)
{
    assert_int_equal(harness_stop(p, SIGTERM, 15, NULL), 0);
    for (size_t i = 0; i < n; i++) {
        ws_close(&reopen[i]->ws);
        reopen[i]->is_open = false;
    }
    set_federation(p, network, settings_json);
    assert_int_equal(harness_start(p), 0);
    for (size_t i = 0; i < n; i++)
        tc_ws_auth(p, reopen[i]);
}

static const char *error_message(json_t *j)
{
    const char *m = json_string_value(json_object_get(json_object_get(j, "error"), "message"));
    return m ? m : "";
}

/* Every way alice could reach bob answers 403 with `needle` in the
 * message; alice still reaches carol of her own network. */
static void expect_unreachable(const struct parleyd *p, struct fworld *w, const char *needle)
{
    char path[200], body[200];
    json_t *r = NULL;

    assert_int_equal(tc_http(p, "GET", "/api/v1/client/users?username=bob&network=" NET_B,
                             w->da.token, NULL, &r),
                     403);
    assert_non_null(strstr(error_message(r), needle));
    json_decref(r);
    r = NULL;
    snprintf(path, sizeof(path), "/api/v1/client/users/%s", tc_hex(w->b.user_id));
    assert_int_equal(tc_http(p, "GET", path, w->da.token, NULL, &r), 403);
    assert_non_null(strstr(error_message(r), needle));
    json_decref(r);
    r = NULL;
    snprintf(body, sizeof(body), "{\"devices\":[\"%s\"]}", tc_hex(w->db.dev.device_id));
    assert_int_equal(tc_http(p, "POST", "/api/v1/client/prekeys/claim", w->da.token, body, &r),
                     403);
    assert_non_null(strstr(error_message(r), "field 'devices'"));
    assert_non_null(strstr(error_message(r), needle));
    json_decref(r);
    r = NULL;
    snprintf(body, sizeof(body), "{\"type\":\"direct\",\"peer\":\"%s\"}", tc_hex(w->b.user_id));
    assert_int_equal(tc_http(p, "POST", "/api/v1/client/conversations", w->da.token, body, &r),
                     403);
    assert_non_null(strstr(error_message(r), "field 'peer'"));
    assert_non_null(strstr(error_message(r), needle));
    json_decref(r);
    r = NULL;
    /* From bob's side too. */
    snprintf(body, sizeof(body), "{\"type\":\"direct\",\"peer\":\"%s\"}", tc_hex(w->a.user_id));
    assert_int_equal(tc_http(p, "POST", "/api/v1/client/conversations", w->db.token, body, &r),
                     403);
    json_decref(r);
    r = NULL;
    /* A group with bob in it is not created at all. */
    {
        uint8_t conv[KEYS_ID_LEN];
        assert_int_equal(ids_conv_new(IDS_CONV_GROUP, conv), 0);
        snprintf(body, sizeof(body), "{\"type\":\"group\",\"conv_id\":\"%s\",\"members\":[\"%s\"]}",
                 tc_hex(conv), tc_hex(w->b.user_id));
        assert_int_equal(tc_http(p, "POST", "/api/v1/client/conversations", w->da.token, body, &r),
                         403);
        assert_non_null(strstr(error_message(r), "field 'members'"));
        json_decref(r);
        r = NULL;
        snprintf(path, sizeof(path), "/api/v1/client/conversations/%s", tc_hex(conv));
        assert_int_equal(tc_http(p, "GET", path, w->da.token, NULL, NULL), 404);
    }
    /* Carol, in alice's network, is always reachable. */
    assert_int_equal(
        tc_http(p, "GET", "/api/v1/client/users?username=carol", w->da.token, NULL, NULL), 200);
    snprintf(body, sizeof(body), "{\"type\":\"direct\",\"peer\":\"%s\"}", tc_hex(w->c.user_id));
    assert_int_equal(tc_http(p, "POST", "/api/v1/client/conversations", w->da.token, body, NULL),
                     200);
}

/* The direct conversation of alice (A) and bob (B), created from `from`'s
 * side; named with the smaller network id whichever side creates it. */
static void direct_ab(const struct parleyd *p, struct fworld *w, struct tc_device *from,
                      uint8_t conv[KEYS_ID_LEN])
{
    const struct tc_user *peer = from == &w->da ? &w->b : &w->a;
    char body[200];
    json_t *r = NULL;

    assert_int_equal(ids_conv_direct(NET_A, w->a.user_id, w->b.user_id, conv), 0);
    snprintf(body, sizeof(body), "{\"type\":\"direct\",\"peer\":\"%s\"}", tc_hex(peer->user_id));
    assert_int_equal(tc_http(p, "POST", "/api/v1/client/conversations", from->token, body, &r),
                     200);
    assert_string_equal(json_string_value(json_object_get(r, "conv_id")), tc_hex(conv));
    assert_int_equal(json_array_size(json_object_get(r, "members")), 2);
    json_decref(r);
}

static void send_and_receive(const struct parleyd *p, struct tc_device *from, struct tc_device *to,
                             struct tc_user **users, const uint8_t conv[KEYS_ID_LEN],
                             const char *text)
{
    struct buf env = BUF_INIT(SIZE_MAX);
    struct tc_device *rcpt[1] = {to};
    struct tc_delivery x;
    char got[256];
    uint8_t msg_id[KEYS_ID_LEN];
    json_t *j;

    tc_seal(p, from, rcpt, 1, conv, text, 0, &env);
    tc_send_envelope(from, &env);
    j = tc_wait_json(from, "ack", 10000);
    assert_non_null(j);
    json_decref(j);
    assert_int_equal(tc_wait_delivery(to, 10000, &x), 0);
    assert_int_equal(tc_open(to, &x, users, 2, got, sizeof(got), msg_id), 0);
    assert_string_equal(got, text);
    tc_ack(to, x.seq);
    tc_delivery_release(&x);
    buf_release(&env);
}

#define ENABLED "{\"local_federation\":\"enabled\"}"

/* Networks are closed by default: B opening up is not enough while A
 * keeps the default, and A opening up is not enough while B disables. */
static void test_federation__disabled_on_one_side_refuses_everything(void **state)
{
    struct parleyd *p = *state;
    struct fworld w;

    fworld_up(p, &w, NULL, ENABLED);
    expect_unreachable(p, &w, "local federation is disabled for users of network " NET_A);
    /* A closed network cannot probe another's usernames: no such user
     * answers the same 403. */
    {
        json_t *r = NULL;
        assert_int_equal(tc_http(p, "GET", "/api/v1/client/users?username=nobody&network=" NET_B,
                                 w.da.token, NULL, &r),
                         403);
        assert_non_null(strstr(error_message(r), "disabled for users of network " NET_A));
        json_decref(r);
        /* Nor can an open network probe a closed one's. */
        assert_int_equal(tc_http(p, "GET", "/api/v1/client/users?username=nobody&network=" NET_A,
                                 w.db.token, NULL, &r),
                         403);
        assert_non_null(strstr(error_message(r), "disabled for users of network " NET_A));
        json_decref(r);
    }
    {
        struct tc_device *none[1];
        restart_with(p, NET_A, ENABLED, none, 0);
        restart_with(p, NET_B, "{\"local_federation\":\"disabled\"}", none, 0);
    }
    expect_unreachable(p, &w, "local federation is disabled for users of network " NET_B);
    fworld_down(&w);
}

static void test_federation__enabled_on_both_sides_works_until_a_side_disables(void **state)
{
    struct parleyd *p = *state;
    struct fworld w;
    struct tc_user *users[2];
    uint8_t conv[KEYS_ID_LEN], again[KEYS_ID_LEN], group[KEYS_ID_LEN];
    char path[200], body[300];
    json_t *r = NULL;

    fworld_up(p, &w, ENABLED, ENABLED);
    assert_int_equal(harness_stop(p, SIGTERM, 15, NULL), 0);
    assert_int_equal(
        harness_provision_sql(p, "INSERT INTO security_tags (network_id, name, color, "
                                 "security_groups, created_at) SELECT n.id, 'Restricted', "
                                 "'#aa0000', '[' || g.id || ']', 1 FROM networks n JOIN "
                                 "security_groups g ON g.network_id = n.id WHERE n.network_id = "
                                 "'" NET_B "'"),
        0);
    assert_int_equal(harness_start(p), 0);
    users[0] = &w.a;
    users[1] = &w.b;

    /* The directory finds bob in network B, with his network and tag. */
    assert_int_equal(
        tc_http(p, "GET", "/api/v1/client/users?username=bob&network=" NET_B, w.da.token, NULL, &r),
        200);
    assert_string_equal(json_string_value(json_object_get(r, "user_id")), tc_hex(w.b.user_id));
    assert_string_equal(json_string_value(json_object_get(r, "network_id")), NET_B);
    assert_int_equal(json_array_size(json_object_get(r, "devices")), 1);
    assert_string_equal(json_string_value(json_object_get(
                            json_array_get(json_object_get(r, "security_tags"), 0), "name")),
                        "Restricted");
    json_decref(r);
    r = NULL;
    /* Without network= a name is looked up in the caller's own network. */
    assert_int_equal(tc_http(p, "GET", "/api/v1/client/users?username=bob", w.da.token, NULL, NULL),
                     404);
    assert_int_equal(
        tc_http(p, "GET", "/api/v1/client/users?username=bob&network=", w.da.token, NULL, NULL),
        400);

    /* One direct conversation, whichever side creates it. */
    direct_ab(p, &w, &w.da, conv);
    direct_ab(p, &w, &w.db, again);
    assert_memory_equal(conv, again, KEYS_ID_LEN);
    snprintf(path, sizeof(path), "/api/v1/client/conversations/%s", tc_hex(conv));
    assert_int_equal(tc_http(p, "GET", path, w.db.token, NULL, NULL), 200);

    tc_ws_auth(p, &w.da);
    tc_ws_auth(p, &w.db);
    send_and_receive(p, &w.da, &w.db, users, conv, "hello from network A");
    send_and_receive(p, &w.db, &w.da, users, conv, "hello from network B");

    /* A group across the networks: bob adds carol (of alice's network). */
    assert_int_equal(ids_conv_new(IDS_CONV_GROUP, group), 0);
    snprintf(body, sizeof(body), "{\"type\":\"group\",\"conv_id\":\"%s\",\"members\":[\"%s\"]}",
             tc_hex(group), tc_hex(w.b.user_id));
    assert_int_equal(tc_http(p, "POST", "/api/v1/client/conversations", w.da.token, body, NULL),
                     201);
    snprintf(path, sizeof(path), "/api/v1/client/conversations/%s/members", tc_hex(group));
    snprintf(body, sizeof(body), "{\"add\":[\"%s\"]}", tc_hex(w.c.user_id));
    assert_int_equal(tc_http(p, "POST", path, w.db.token, body, &r), 200);
    assert_int_equal(json_array_size(json_object_get(r, "members")), 3);
    json_decref(r);
    r = NULL;

    /* Network B turns federation off: the conversation stays, but no new
     * envelope goes either way (sealed while it was on), with a message
     * saying why. */
    {
        struct tc_device *to_b[] = {&w.db}, *to_a[] = {&w.da}, *open[] = {&w.da, &w.db};
        struct buf env_a = BUF_INIT(SIZE_MAX), env_b = BUF_INIT(SIZE_MAX);
        json_t *j;
        tc_seal(p, &w.da, to_b, 1, conv, "too late from A", 0, &env_a);
        tc_seal(p, &w.db, to_a, 1, conv, "too late from B", 0, &env_b);
        restart_with(p, NET_B, "{\"local_federation\":\"disabled\"}", open, 2);
        tc_send_envelope(&w.da, &env_a);
        j = tc_wait_json(&w.da, "nack", 10000);
        assert_non_null(j);
        assert_string_equal(json_string_value(json_object_get(j, "code")), "forbidden");
        assert_non_null(strstr(json_string_value(json_object_get(j, "message")),
                               "local federation is disabled for users of network " NET_B));
        json_decref(j);
        tc_send_envelope(&w.db, &env_b);
        j = tc_wait_json(&w.db, "nack", 10000);
        assert_non_null(j);
        assert_string_equal(json_string_value(json_object_get(j, "code")), "forbidden");
        json_decref(j);
        buf_release(&env_a);
        buf_release(&env_b);
    }
    /* Nothing reached either side; nothing else reaches across. */
    {
        struct tc_delivery x;
        assert_int_equal(tc_wait_delivery(&w.db, 500, &x), -1);
        assert_int_equal(tc_wait_delivery(&w.da, 500, &x), -1);
    }
    expect_unreachable(p, &w, "local federation is disabled for users of network " NET_B);

    /* Enabled again: the same conversation carries messages again. */
    {
        struct tc_device *open[] = {&w.da, &w.db};
        restart_with(p, NET_B, ENABLED, open, 2);
    }
    send_and_receive(p, &w.da, &w.db, users, conv, "back again");
    fworld_down(&w);
}

static void test_federation__restricted_needs_both_permitted_lists(void **state)
{
    struct parleyd *p = *state;
    struct fworld w;
    struct tc_user *users[2];
    uint8_t conv[KEYS_ID_LEN];

    /* A permits B (with a label), B is restricted and permits nobody. */
    fworld_up(p, &w,
              "{\"local_federation\":\"restricted\",\"permitted_networks\":[\"Partners=" NET_B
              "\"]}",
              "{\"local_federation\":\"restricted\",\"permitted_networks\":[\"net-c\"]}");
    expect_unreachable(p, &w,
                       "local federation is restricted for users of network " NET_B
                       " and network " NET_A " is not among its permitted networks");
    /* B permits A too: both lists name each other, so they talk. */
    assert_int_equal(harness_stop(p, SIGTERM, 15, NULL), 0);
    set_federation(p, NET_B,
                   "{\"local_federation\":\"restricted\",\"permitted_networks\":[\"" NET_A "\"]}");
    assert_int_equal(harness_start(p), 0);
    users[0] = &w.a;
    users[1] = &w.b;
    direct_ab(p, &w, &w.db, conv);
    tc_ws_auth(p, &w.da);
    tc_ws_auth(p, &w.db);
    send_and_receive(p, &w.db, &w.da, users, conv, "restricted but permitted");
    send_and_receive(p, &w.da, &w.db, users, conv, "and back");
    /* A one-sided list again (A drops B): refused. */
    {
        struct tc_device *open[] = {&w.da, &w.db};
        restart_with(p, NET_A, "{\"local_federation\":\"restricted\",\"permitted_networks\":[]}",
                     open, 2);
    }
    expect_unreachable(p, &w,
                       "local federation is restricted for users of network " NET_A
                       " and network " NET_B " is not among its permitted networks");
    fworld_down(&w);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_federation__disabled_on_one_side_refuses_everything,
                                        setup, teardown),
        cmocka_unit_test_setup_teardown(
            test_federation__enabled_on_both_sides_works_until_a_side_disables, setup, teardown),
        cmocka_unit_test_setup_teardown(test_federation__restricted_needs_both_permitted_lists,
                                        setup, teardown),
    };
    if (!testdb_backend_available())
        return testdb_skip("PARLEY_TEST_PG is not set");
    return cmocka_run_group_tests(tests, NULL, NULL);
}
