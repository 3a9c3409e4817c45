/* link_test.c - linking a new device end to end against a real parleyd:
 * the new device receives and decrypts the history of a signed-in one
 * while the server never holds it in the clear; a relay that answers
 * without the code is caught; the relay endpoints refuse bad input and
 * the wrong devices. Runs once per store backend (PARLEY_TEST_STORE). */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <pthread.h>
#include <signal.h>
#include <unistd.h>

#include <jansson.h>
#include <parley/parley.h>

#include "client/client.h"
#include "common/str.h"
#include "client_harness.h"
#include "harness.h"
#include "leakscan.h"
#include "proto/link.h"
#include "provision.h"

#define NET "net-link"
#define PW  "initial pw"

struct world {
    struct parleyd p;
    struct parley_config *cfg;
    char dirs[4][128];
};

static struct parley_config *make_config(const struct parleyd *p)
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
    uint8_t id[16];
    if (harness_init(&w->p, NULL) < 0)
        return -1;
    if (harness_provision_user(&w->p, NET, "alice", PW, id) < 0 ||
        harness_provision_user(&w->p, NET, "bob", PW, id) < 0)
        return -1;
    if (harness_start(&w->p) < 0)
        return -1;
    w->cfg = make_config(&w->p);
    for (int i = 0; i < 4; i++) {
        snprintf(w->dirs[i], sizeof(w->dirs[i]), "/tmp/parley-link-XXXXXX");
        if (!mkdtemp(w->dirs[i]))
            return -1;
    }
    *state = w;
    return 0;
}

static int teardown(void **state)
{
    struct world *w = *state;
    if (!w)
        return 0;
    parley_config_free(w->cfg);
    harness_cleanup(&w->p);
    for (int i = 0; i < 4; i++) {
        char cmd[300];
        snprintf(cmd, sizeof(cmd), "rm -rf '%s'", w->dirs[i]);
        if (system(cmd) != 0)
            fprintf(stderr, "# cannot remove %s\n", w->dirs[i]);
    }
    free(w);
    return 0;
}

static struct parley_client *reg(struct world *w, int dir, const char *user)
{
    struct parley_client *c = NULL;
    assert_int_equal(parley_client_register(w->dirs[dir], w->cfg, user, PW, NULL, NULL, &c), 0);
    return c;
}

static struct parley_client *new_device(struct world *w, int dir, const char *user)
{
    struct parley_client *c = NULL;
    assert_int_equal(parley_client_login(w->dirs[dir], w->cfg, user, PW, NULL, &c), 0);
    return c;
}

static void online(struct parley_client *c)
{
    assert_int_equal(parley_client_connect(c), 0);
    assert_int_equal(parley_client_wait_online(c, 15000), 0);
}

/* Wait for `n` message events. */
static void drain_messages(struct parley_client *c, int n)
{
    for (int i = 0; i < 150 && n > 0; i++) {
        struct parley_event *ev;
        if (parley_client_next_event(c, 200, &ev) < 0)
            continue;
        if (ev->type == PARLEY_EVENT_MESSAGE)
            n--;
        parley_event_free(ev);
    }
    assert_int_equal(n, 0);
}

static size_t history_len(struct parley_client *c, const char *to)
{
    char *h = NULL;
    assert_int_equal(parley_client_history(c, to, 0, &h), 0);
    json_t *arr = json_loads(h, 0, NULL);
    size_t n = json_array_size(arr);
    json_decref(arr);
    free(h);
    return n;
}

/* The text of the i-th message of a conversation's history. */
static char *history_text(struct parley_client *c, const char *to, size_t i)
{
    char *h = NULL;
    assert_int_equal(parley_client_history(c, to, 0, &h), 0);
    json_t *arr = json_loads(h, 0, NULL);
    json_t *body = json_object_get(json_array_get(arr, i), "body");
    const char *t = json_string_value(json_object_get(body, "message"));
    char *out = strdup(t ? t : "(none)");
    json_decref(arr);
    free(h);
    return out;
}

struct server_arg {
    struct parley_link *l;
    int rc;
    size_t n;
};

static void *serve(void *p)
{
    struct server_arg *a = p;
    a->rc = parley_link_serve(a->l, 30000, &a->n);
    return NULL;
}

static void test_link__new_device_gets_history_server_sees_no_plaintext(void **state)
{
    struct world *w = *state;
    struct parley_client *a = reg(w, 0, "alice"), *b = reg(w, 1, "bob");
    char canary[64], text[128], room[PARLEY_ID_HEX], code[PARLEY_LINK_CODE_LEN];
    uint8_t rnd[12];
    const char *members[] = {"bob"};

    /* A string found nowhere else: the server must never hold it. */
    assert_int_equal(proto_rand(rnd, sizeof(rnd)), 0);
    snprintf(canary, sizeof(canary), "linkcanary");
    for (size_t i = 0; i < sizeof(rnd); i++)
        snprintf(canary + 10 + 2 * i, 3, "%02x", rnd[i]);

    online(a);
    online(b);
    snprintf(text, sizeof(text), "first %s", canary);
    assert_int_equal(parley_client_send_text(a, "bob", text, NULL), 0);
    snprintf(text, sizeof(text), "reply %s", canary);
    assert_int_equal(parley_client_send_text(b, "alice", text, NULL), 0);
    assert_int_equal(parley_conv_create(a, "room", canary, members, 1, NULL, 0, 0, 0, room), 0);
    snprintf(text, sizeof(text), "in the room %s", canary);
    assert_int_equal(parley_client_send_text(a, room, text, NULL), 0);
    drain_messages(a, 1);
    drain_messages(b, 3);

    /* Alice's new device signs in with the password: it starts empty. */
    struct parley_client *a2 = new_device(w, 2, "alice");
    assert_int_equal(history_len(a2, "bob"), 0);

    /* A wrong code finds no link, and does not spend the real one. */
    struct parley_link *l = NULL;
    assert_int_equal(parley_link_start(a, code, &l), 0);
    assert_int_equal(strlen(code), 19);
    assert_int_equal(parley_link_accept(a2, "0000-0000-0000-0000", 2000, NULL), PARLEY_ENOTFOUND);
    assert_int_equal(parley_link_accept(a2, "not a code", 2000, NULL), PARLEY_EINVAL);
    /* Nobody answered yet. */
    size_t n = 99;
    assert_int_equal(parley_link_serve(l, 300, &n), PARLEY_EBUSY);

    struct server_arg sa = {l, -1, 0};
    pthread_t t;
    size_t got = 0;
    assert_int_equal(pthread_create(&t, NULL, serve, &sa), 0);
    assert_int_equal(parley_link_accept(a2, code, 30000, &got), 0);
    pthread_join(t, NULL);
    assert_int_equal(sa.rc, 0);
    /* Four messages: the two direct ones, the room's creation (4001) and
     * the room's text. */
    assert_int_equal(sa.n, 4);
    assert_int_equal(got, 4);
    parley_link_free(l);

    /* The new device has the history, decrypted, in order. */
    assert_int_equal(history_len(a2, "bob"), 2);
    char *s = history_text(a2, "bob", 0);
    snprintf(text, sizeof(text), "first %s", canary);
    assert_string_equal(s, text);
    free(s);
    s = history_text(a2, "bob", 1);
    snprintf(text, sizeof(text), "reply %s", canary);
    assert_string_equal(s, text);
    free(s);
    assert_int_equal(history_len(a2, room), 2); /* creation and text */
    char *convs = NULL;
    assert_int_equal(parley_conv_list(a2, &convs), 0);
    assert_non_null(strstr(convs, canary)); /* the room's title, from local state */
    free(convs);

    /* The code was good once: the link is gone. */
    assert_int_equal(parley_link_accept(a2, code, 2000, NULL), PARLEY_ENOTFOUND);

    /* And from now on the new device receives like any other. */
    online(a2);
    assert_int_equal(parley_client_send_text(b, "alice", "after linking", NULL), 0);
    drain_messages(a2, 1);
    assert_int_equal(history_len(a2, "bob"), 3);

    parley_client_free(a);
    parley_client_free(a2);
    parley_client_free(b);

    /* Nothing the server wrote holds the canary: files, logs, database. */
    assert_int_equal(harness_stop(&w->p, SIGTERM, 30, NULL), 0);
    assert_int_equal(leakscan(&w->p, canary), 0);
    assert_true(leakscan_places_seen() >= 3);
    /* The scan does find what is there (it is not blind). */
    char marker[400];
    snprintf(marker, sizeof(marker), "%s/marker.txt", w->p.dir);
    FILE *f = fopen(marker, "w");
    assert_non_null(f);
    fprintf(f, "x%sx", canary);
    fclose(f);
    assert_int_equal(leakscan(&w->p, canary), 1);
    /* On PostgreSQL, the table scan finds what is stored in the clear:
     * the network's name, in the networks table. */
    if (w->p.store_uri)
        assert_true(leakscan_pg(&w->p, NET) >= 1);
}

/* A relay (or anyone with a device token) answering without the code:
 * the signed-in device refuses the offer and closes the link. */
static void test_link__offer_without_code_is_refused(void **state)
{
    struct world *w = *state;
    struct parley_client *a = reg(w, 0, "alice");
    struct parley_client *a2 = new_device(w, 1, "alice");
    char code[PARLEY_LINK_CODE_LEN], path[200], auth[400];
    struct parley_link *l = NULL;
    uint8_t raw[LINK_CODE_BYTES];
    struct link_keys k;
    struct hpke_key eph;
    struct prim pr;
    struct buf offer = BUF_INIT(LINK_OFFER_MAX);

    assert_int_equal(parley_link_start(a, code, &l), 0);
    /* The relay knows the link id (it is in every URL) but not the MAC
     * key: it forges an offer under a key of its own. */
    assert_int_equal(link_code_parse(code, raw), 0);
    assert_int_equal(link_keys_derive(raw, a->user_id, &k), 0);
    memset(k.mac_key, 0x55, sizeof(k.mac_key));
    assert_int_equal(prim_init(&pr), 0);
    assert_int_equal(hpke_key_generate(&eph, &pr, a2->suite->kem_id), 0);
    prim_release(&pr);
    assert_int_equal(link_offer_make(a2->suite, &k, a2->device_id, &eph, &offer), 0);
    char *b64 = api_b64_encode(offer.data, offer.len);
    char body[600];
    snprintf(body, sizeof(body), "{\"offer\":\"%s\"}", b64);
    char id_hex[33];
    hex_encode(k.link_id, 16, id_hex);
    snprintf(path, sizeof(path), "/api/v1/client/links/%s/offer", id_hex);
    snprintf(auth, sizeof(auth), "Authorization: Bearer %s", a2->device_token);
    const char *hdrs[] = {auth, NULL};
    struct http_resp r;
    assert_int_equal(harness_http_h(&w->p, "PUT", path, body, hdrs, &r), 0);
    assert_int_equal(r.status, 200);
    http_resp_free(&r);

    assert_int_equal(parley_link_serve(l, 10000, NULL), PARLEY_EAUTH);
    parley_link_free(l);
    /* The link is gone: the real device cannot use the code any more. */
    assert_int_equal(parley_link_accept(a2, code, 2000, NULL), PARLEY_ENOTFOUND);

    free(b64);
    buf_release(&offer);
    hpke_key_release(&eph);
    link_keys_wipe(&k);
    parley_client_free(a);
    parley_client_free(a2);
}

static long req(struct world *w, const char *token, const char *method, const char *path,
                const char *body, char **resp)
{
    char auth[400];
    snprintf(auth, sizeof(auth), "Authorization: Bearer %s", token);
    const char *hdrs[] = {auth, NULL};
    struct http_resp r;
    assert_int_equal(harness_http_h(&w->p, method, path, body, hdrs, &r), 0);
    long st = r.status;
    if (resp)
        *resp = strdup(r.body ? r.body : "");
    http_resp_free(&r);
    return st;
}

/* Who may do what on the relay, and bad input. */
static void test_link__relay_rules_and_bad_input(void **state)
{
    struct world *w = *state;
    struct parley_client *a = reg(w, 0, "alice"), *bob = reg(w, 1, "bob");
    struct parley_client *a2 = new_device(w, 2, "alice"), *a3 = new_device(w, 3, "alice");
    const char *ta = a->device_token, *t2 = a2->device_token, *t3 = a3->device_token;
    char path[200], body[800], *resp = NULL;
    const char *id = "0123456789abcdef0123456789abcdef";
    struct hpke_key eph;
    struct prim pr;
    struct link_keys k = {{0}, {1}};
    struct buf offer = BUF_INIT(LINK_OFFER_MAX);

    /* Creation: a device token, a well-formed id, no duplicates. */
    assert_int_equal(req(w, ta, "POST", "/api/v1/client/links", "{}", &resp), 400);
    assert_non_null(strstr(resp, "link_id"));
    free(resp);
    assert_int_equal(req(w, ta, "POST", "/api/v1/client/links", "{\"link_id\":\"xyz\"}", NULL),
                     400);
    assert_int_equal(req(w, "nonsense", "POST", "/api/v1/client/links",
                         "{\"link_id\":\"0123456789abcdef0123456789abcdef\"}", NULL),
                     401);
    snprintf(body, sizeof(body), "{\"link_id\":\"%s\"}", id);
    assert_int_equal(req(w, ta, "POST", "/api/v1/client/links", body, NULL), 201);
    assert_int_equal(req(w, ta, "POST", "/api/v1/client/links", body, NULL), 409);
    assert_int_equal(req(w, ta, "GET", "/api/v1/client/links/nothex", NULL, NULL), 400);

    /* Before any offer: nothing to send, other devices see nothing. */
    snprintf(path, sizeof(path), "/api/v1/client/links/%s/chunks/0", id);
    assert_int_equal(req(w, ta, "PUT", path, "{\"data\":\"AAAAAAAAAAAAAAAAAAAAAA==\"}", NULL), 409);
    snprintf(path, sizeof(path), "/api/v1/client/links/%s", id);
    assert_int_equal(req(w, ta, "GET", path, NULL, NULL), 200);
    assert_int_equal(req(w, t2, "GET", path, NULL, NULL), 404);
    assert_int_equal(req(w, bob->device_token, "GET", path, NULL, NULL), 404);

    /* Offers: well formed, naming the caller, from another device of the
     * same user, and only one. */
    memcpy(k.link_id, "\x01\x23\x45\x67\x89\xab\xcd\xef\x01\x23\x45\x67\x89\xab\xcd\xef", 16);
    assert_int_equal(prim_init(&pr), 0);
    assert_int_equal(hpke_key_generate(&eph, &pr, a2->suite->kem_id), 0);
    prim_release(&pr);
    assert_int_equal(link_offer_make(a2->suite, &k, a2->device_id, &eph, &offer), 0);
    char *b64 = api_b64_encode(offer.data, offer.len);
    snprintf(path, sizeof(path), "/api/v1/client/links/%s/offer", id);
    assert_int_equal(req(w, t2, "PUT", path, "{\"offer\":\"AAAA\"}", &resp), 400);
    assert_non_null(strstr(resp, "offer"));
    free(resp);
    snprintf(body, sizeof(body), "{\"offer\":\"%s\"}", b64);
    assert_int_equal(req(w, t3, "PUT", path, body, &resp), 400); /* names a2, not a3 */
    assert_non_null(strstr(resp, "another device"));
    free(resp);
    assert_int_equal(req(w, bob->device_token, "PUT", path, body, NULL), 400);
    /* The device that shows the code cannot answer it. */
    struct buf own = BUF_INIT(LINK_OFFER_MAX);
    assert_int_equal(link_offer_make(a->suite, &k, a->device_id, &eph, &own), 0);
    char *own64 = api_b64_encode(own.data, own.len), obody[600];
    snprintf(obody, sizeof(obody), "{\"offer\":\"%s\"}", own64);
    assert_int_equal(req(w, ta, "PUT", path, obody, &resp), 409);
    assert_non_null(strstr(resp, "shows the code"));
    free(resp);
    free(own64);
    buf_release(&own);
    assert_int_equal(req(w, t2, "PUT", path, body, NULL), 200);
    assert_int_equal(req(w, t2, "PUT", path, body, NULL), 409);

    /* Chunks: only the creator writes, only the offering device reads,
     * and only after the transfer is closed with every chunk present. */
    snprintf(path, sizeof(path), "/api/v1/client/links/%s/chunks/0", id);
    const char *chunk = "{\"data\":\"AAAAAAAAAAAAAAAAAAAAAAAA\"}";
    assert_int_equal(req(w, t2, "PUT", path, chunk, NULL), 404);
    assert_int_equal(req(w, ta, "PUT", path, "{\"data\":\"AAAA\"}", NULL), 400);
    assert_int_equal(req(w, ta, "PUT", path, chunk, NULL), 200);
    snprintf(path, sizeof(path), "/api/v1/client/links/%s/chunks/5000", id);
    assert_int_equal(req(w, ta, "PUT", path, chunk, NULL), 400);
    snprintf(path, sizeof(path), "/api/v1/client/links/%s/chunks/0", id);
    assert_int_equal(req(w, t2, "GET", path, NULL, NULL), 404); /* not closed yet */
    snprintf(path, sizeof(path), "/api/v1/client/links/%s/transfer", id);
    assert_int_equal(req(w, ta, "PUT", path, "{\"header\":\"AAAA\",\"chunks\":2}", &resp), 400);
    assert_non_null(strstr(resp, "chunks"));
    free(resp);
    assert_int_equal(req(w, t2, "PUT", path, "{\"header\":\"AAAA\",\"chunks\":1}", NULL), 404);
    assert_int_equal(req(w, ta, "PUT", path, "{\"header\":\"AAAA\",\"chunks\":1}", NULL), 200);
    assert_int_equal(req(w, ta, "PUT", path, "{\"header\":\"AAAA\",\"chunks\":1}", NULL), 409);
    snprintf(path, sizeof(path), "/api/v1/client/links/%s/chunks/0", id);
    assert_int_equal(req(w, ta, "GET", path, NULL, NULL), 404);
    assert_int_equal(req(w, t3, "GET", path, NULL, NULL), 404);
    assert_int_equal(req(w, t2, "GET", path, NULL, &resp), 200);
    assert_non_null(strstr(resp, "AAAAAAAAAAAAAAAAAAAAAAAA"));
    free(resp);
    snprintf(path, sizeof(path), "/api/v1/client/links/%s/chunks/1", id);
    assert_int_equal(req(w, t2, "GET", path, NULL, NULL), 404);
    /* The header reaches the offering device only. */
    snprintf(path, sizeof(path), "/api/v1/client/links/%s", id);
    assert_int_equal(req(w, t2, "GET", path, NULL, &resp), 200);
    assert_non_null(strstr(resp, "\"header\":\"AAAA\""));
    free(resp);
    assert_int_equal(req(w, ta, "GET", path, NULL, &resp), 200);
    assert_non_null(strstr(resp, "\"header\":null"));
    free(resp);

    /* Deleting: the two devices of the session only. */
    assert_int_equal(req(w, t3, "DELETE", path, NULL, NULL), 404);
    assert_int_equal(req(w, t2, "DELETE", path, NULL, NULL), 200);
    assert_int_equal(req(w, ta, "GET", path, NULL, NULL), 404);

    /* At most four open links per user. */
    for (int i = 0; i < 5; i++) {
        snprintf(body, sizeof(body), "{\"link_id\":\"%031x%d\"}", 0, i);
        assert_int_equal(req(w, ta, "POST", "/api/v1/client/links", body, NULL), i < 4 ? 201 : 429);
    }

    free(b64);
    buf_release(&offer);
    hpke_key_release(&eph);
    parley_client_free(a);
    parley_client_free(a2);
    parley_client_free(a3);
    parley_client_free(bob);
}

/* The command line: `parley link show` on one device, `parley link
 * accept` on the other, through the real binary. */
static void test_link__cli_show_and_accept(void **state)
{
    struct world *w = *state;
    struct parley_client *a = reg(w, 0, "alice"), *b = reg(w, 1, "bob");
    online(a);
    online(b);
    assert_int_equal(parley_client_send_text(a, "bob", "before the cli link", NULL), 0);
    drain_messages(b, 1);
    parley_client_free(a);
    parley_client_free(b);
    parley_client_free(new_device(w, 2, "alice"));

    const char *cli = getenv("PARLEY_CLI");
    assert_non_null(cli);
    char cmd[1200], line[256], code[PARLEY_LINK_CODE_LEN] = "";
    snprintf(cmd, sizeof(cmd),
             "PARLEY_PASSWORD='" PW "' %s --data-dir %s --username alice link show "
             "--timeout 60",
             cli, w->dirs[0]);
    FILE *show = popen(cmd, "r");
    assert_non_null(show);
    while (fgets(line, sizeof(line), show)) {
        const char *p = strstr(line, "parley link accept ");
        if (p) {
            snprintf(code, sizeof(code), "%.19s", p + strlen("parley link accept "));
            break;
        }
    }
    assert_int_equal(strlen(code), 19);
    snprintf(cmd, sizeof(cmd),
             "PARLEY_PASSWORD='" PW "' %s --data-dir %s --username alice link accept %s", cli,
             w->dirs[2], code);
    FILE *acc = popen(cmd, "r");
    assert_non_null(acc);
    char out[4096] = "";
    size_t n = fread(out, 1, sizeof(out) - 1, acc);
    out[n] = '\0';
    assert_int_equal(pclose(acc), 0);
    assert_non_null(strstr(out, "linked: received 1 messages"));
    /* The QR code and the result on the showing side. */
    char rest[65536] = "";
    n = fread(rest, 1, sizeof(rest) - 1, show);
    rest[n] = '\0';
    assert_int_equal(pclose(show), 0);
    assert_non_null(strstr(rest, "linked: sent 1 messages"));

    struct parley_client *a2 = NULL;
    assert_int_equal(parley_client_login(w->dirs[2], NULL, "alice", PW, NULL, &a2), 0);
    char *s = history_text(a2, "bob", 0);
    assert_string_equal(s, "before the cli link");
    free(s);
    parley_client_free(a2);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_link__new_device_gets_history_server_sees_no_plaintext,
                                        setup, teardown),
        cmocka_unit_test_setup_teardown(test_link__offer_without_code_is_refused, setup, teardown),
        cmocka_unit_test_setup_teardown(test_link__relay_rules_and_bad_input, setup, teardown),
        cmocka_unit_test_setup_teardown(test_link__cli_show_and_accept, setup, teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
