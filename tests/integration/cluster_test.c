/* cluster_test.c - two parleyd nodes on one PostgreSQL, linked by a
 * private nats-server: a client connected to one node receives at once
 * what is sent through the other (messages, typing, presence, read
 * receipts), and a device removed through one node is disconnected from
 * the other. Real clients (libparley) throughout. PostgreSQL only: SQLite
 * belongs to one process. */
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
#include <unistd.h>

#include <jansson.h>
#include <parley/parley.h>

#include "client/client.h"
#include "client_harness.h"
#include "harness.h"
#include "natsd.h"
#include "provision.h"
#include "testdb.h"

#define NET "net-cluster"
#define PW  "initial pw"

struct world {
    struct natsd nats;
    struct parleyd n1, n2;
    struct parley_config *cfg1, *cfg2; /* one per node */
    char dirs[3][128];
};

/* A configuration file that sends the client to node `p`. */
static struct parley_config *config_for(const struct parleyd *p)
{
    char file[400];
    snprintf(file, sizeof(file), "%s/client.parley", p->dir);
    struct parley_config *cfg = harness_client_config(p, NET, file, "config pass");
    assert_non_null(cfg);
    return cfg;
}

static int setup(void **state)
{
    struct world *w = calloc(1, sizeof(*w));
    char extra[200];
    uint8_t id[16];

    if (natsd_start(&w->nats) < 0)
        return -1;
    snprintf(extra, sizeof(extra), "cluster_nats = %s", w->nats.url);
    if (harness_init(&w->n1, extra) < 0 || harness_init(&w->n2, extra) < 0)
        return -1;
    /* Both nodes on the first node's database. */
    testdb_destroy(w->n2.store_uri);
    free(w->n2.store_uri);
    w->n2.store_uri = strdup(w->n1.store_uri);
    if (harness_provision_user(&w->n1, NET, "alice", PW, id) < 0 ||
        harness_provision_user(&w->n1, NET, "bob", PW, id) < 0)
        return -1;
    if (harness_start(&w->n1) < 0 || harness_start(&w->n2) < 0)
        return -1;
    w->cfg1 = config_for(&w->n1);
    w->cfg2 = config_for(&w->n2);
    for (int i = 0; i < 3; i++) {
        snprintf(w->dirs[i], sizeof(w->dirs[i]), "/tmp/parley-cluster-XXXXXX");
        if (!mkdtemp(w->dirs[i]))
            return -1;
    }
    *state = w;
    return 0;
}

static int teardown(void **state)
{
    struct world *w = *state;
    int rc = 0;
    if (!w)
        return 0;
    parley_config_free(w->cfg1);
    parley_config_free(w->cfg2);
    /* Both nodes stop cleanly (under ASan, leak-free). */
    if (harness_stop(&w->n2, SIGTERM, 30, NULL) != 0 ||
        harness_stop(&w->n1, SIGTERM, 30, NULL) != 0)
        rc = -1;
    free(w->n2.store_uri); /* the first node's database: dropped once, below */
    w->n2.store_uri = NULL;
    harness_cleanup(&w->n2);
    harness_cleanup(&w->n1);
    natsd_stop(&w->nats);
    for (int i = 0; i < 3; i++) {
        char cmd[300];
        snprintf(cmd, sizeof(cmd), "rm -rf '%s'", w->dirs[i]);
        if (system(cmd) != 0)
            fprintf(stderr, "# cannot remove %s\n", w->dirs[i]);
    }
    free(w);
    return rc;
}

static void online(struct parley_client *c)
{
    assert_int_equal(parley_client_connect(c), 0);
    assert_int_equal(parley_client_wait_online(c, 15000), 0);
}

/* The next event of `type` within `ms` milliseconds, or NULL. */
static struct parley_event *wait_event(struct parley_client *c, enum parley_event_type type, int ms)
{
    struct timespec t0, t;
    clock_gettime(CLOCK_MONOTONIC, &t0);
    for (;;) {
        struct parley_event *ev;
        clock_gettime(CLOCK_MONOTONIC, &t);
        int left = ms - (int)((t.tv_sec - t0.tv_sec) * 1000 + (t.tv_nsec - t0.tv_nsec) / 1000000);
        if (left <= 0)
            return NULL;
        if (parley_client_next_event(c, left, &ev) < 0)
            continue;
        if (ev->type == type)
            return ev;
        parley_event_free(ev);
    }
}

static void expect_text(struct parley_client *c, const char *text)
{
    /* Live delivery takes milliseconds; 5 s only absorbs a loaded
     * machine. Without the NATS hint the client would not get it at all
     * before it reconnected. */
    struct parley_event *ev = wait_event(c, PARLEY_EVENT_MESSAGE, 5000);
    assert_non_null(ev);
    assert_non_null(strstr(ev->body, text));
    parley_event_free(ev);
}

static void test_cluster__clients_on_two_nodes_talk_live(void **state)
{
    struct world *w = *state;
    struct parley_client *a = NULL, *b = NULL, *b2 = NULL;
    char id[PARLEY_ID_HEX];

    /* Alice on node 1, bob on node 2. */
    assert_int_equal(parley_client_register(w->dirs[0], w->cfg1, "alice", PW, NULL, NULL, &a), 0);
    assert_int_equal(parley_client_register(w->dirs[1], w->cfg2, "bob", PW, NULL, NULL, &b), 0);
    online(a);
    online(b);

    /* Messages both ways, many in a row, in order. */
    for (int i = 0; i < 10; i++) {
        char text[32];
        snprintf(text, sizeof(text), "to bob %d", i);
        assert_int_equal(parley_client_send_text(a, "bob", text, NULL), 0);
        expect_text(b, text);
    }
    assert_int_equal(parley_client_send_text(b, "alice", "to alice", id), 0);
    expect_text(a, "to alice");

    /* Typing, presence and read receipts cross nodes too. */
    assert_int_equal(parley_client_typing(a, "bob", 1), 0);
    struct parley_event *ev = wait_event(b, PARLEY_EVENT_TYPING, 5000);
    assert_non_null(ev);
    assert_string_equal(ev->sender, parley_client_user_id(a));
    parley_event_free(ev);
    assert_int_equal(parley_client_presence(b, "busy", 3), 0);
    ev = wait_event(a, PARLEY_EVENT_PRESENCE, 5000);
    assert_non_null(ev);
    assert_string_equal(ev->body, "busy");
    parley_event_free(ev);
    assert_int_equal(parley_client_mark_read(a, id), 0);
    ev = wait_event(b, PARLEY_EVENT_READ, 5000);
    assert_non_null(ev);
    assert_string_equal(ev->msg_id, id);
    parley_event_free(ev);

    /* Bob's second device, on node 1, gets copies of what he sends from
     * node 2... */
    assert_int_equal(parley_client_login(w->dirs[2], w->cfg1, "bob", PW, NULL, &b2), 0);
    online(b2);
    assert_int_equal(parley_client_send_text(b, "alice", "from bob's first", NULL), 0);
    expect_text(a, "from bob's first");
    expect_text(b2, "from bob's first");

    /* ...until bob removes it through node 2: node 1 closes its session. */
    char path[200], auth[400];
    snprintf(path, sizeof(path), "/api/v1/client/devices/%s", parley_client_device_id(b2));
    snprintf(auth, sizeof(auth), "Authorization: Bearer %s", b->device_token);
    const char *hdrs[] = {auth, NULL};
    struct http_resp r;
    assert_int_equal(harness_http_h(&w->n2, "DELETE", path, NULL, hdrs, &r), 0);
    assert_int_equal(r.status, 200);
    http_resp_free(&r);
    ev = wait_event(b2, PARLEY_EVENT_ERROR, 5000);
    assert_non_null(ev);
    assert_int_equal(ev->err, PARLEY_EAUTH);
    parley_event_free(ev);

    parley_client_free(a);
    parley_client_free(b);
    parley_client_free(b2);
}

/* Nodes share a PostgreSQL store; a node on SQLite refuses to join. */
static void test_cluster__sqlite_node_refuses_nats(void **state)
{
    char dir[] = "/tmp/parley-cluster-XXXXXX", *out = NULL, *err = NULL, cmd[200];
    (void)state;
    assert_non_null(mkdtemp(dir));
    char *args[] = {
        (char *)getenv("PARLEYD"),         "--data-dir", dir, "--listen", "127.0.0.1:0", "--set",
        "cluster_nats=nats://127.0.0.1:1", NULL};
    assert_int_not_equal(harness_run(args, &out, &err), 0);
    assert_non_null(strstr(err, "cluster_nats needs a PostgreSQL store"));
    free(out);
    free(err);
    snprintf(cmd, sizeof(cmd), "rm -rf '%s'", dir);
    assert_int_equal(system(cmd), 0);
}

int main(void)
{
    if (strcmp(testdb_backend(), "pg") != 0) {
        fprintf(stderr, "cluster tests need PARLEY_TEST_STORE=pg\n");
        return 1;
    }
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_cluster__clients_on_two_nodes_talk_live, setup,
                                        teardown),
        cmocka_unit_test(test_cluster__sqlite_node_refuses_nats),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
