/* client_test.c - libparley end to end against a real parleyd: register
 * from a configuration file, direct messages both ways, offline delivery,
 * copies to a second device of the same user, and a room. Runs once per
 * store backend (PARLEY_TEST_STORE). */
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
#include <sys/wait.h>
#include <unistd.h>

#include <jansson.h>
#include <openssl/rand.h>
#include <parley/parley.h>

#include "client/client.h"
#include "client_harness.h"
#include "harness.h"
#include "leakscan.h"
#include "provision.h"

#define NET          "net-client"
#define ARRAY_LEN(a) (sizeof(a) / sizeof((a)[0]))

struct world {
    struct parleyd p;
    struct parley_config *cfg;
    char dirs[4][128]; /* client data directories */
};

static void rm_tree(const char *dir)
{
    char cmd[300];
    snprintf(cmd, sizeof(cmd), "rm -rf '%s'", dir);
    if (system(cmd) != 0)
        fprintf(stderr, "# cannot remove %s\n", dir);
}

static char *read_file(const char *path)
{
    FILE *f = fopen(path, "rb");
    if (!f)
        return NULL;
    char *s = calloc(1, 64 * 1024);
    size_t n = fread(s, 1, 64 * 1024 - 1, f);
    s[n] = '\0';
    fclose(f);
    return s;
}

/* The configuration file an administrator would hand out for this server. */
static struct parley_config *make_config_for(const struct parleyd *p, const char *net)
{
    char file[400];
    if (strcmp(net, NET) == 0)
        snprintf(file, sizeof(file), "%s/client.parley", p->dir);
    else
        snprintf(file, sizeof(file), "%s/client-%s.parley", p->dir, net);
    struct parley_config *cfg = harness_client_config(p, net, file, "config pass");
    assert_non_null(cfg);
    return cfg;
}

static struct parley_config *make_config(const struct parleyd *p)
{
    return make_config_for(p, NET);
}

static int setup(void **state)
{
    struct world *w = calloc(1, sizeof(*w));
    uint8_t id[16];
    if (harness_init(&w->p, NULL) < 0)
        return -1;
    static const char *users[] = {"alice", "bob", "carol"};
    for (size_t i = 0; i < 3; i++)
        if (harness_provision_user(&w->p, NET, users[i], "initial pw", id) < 0)
            return -1;
    if (harness_start(&w->p) < 0)
        return -1;
    w->cfg = make_config(&w->p);
    for (int i = 0; i < 4; i++) {
        snprintf(w->dirs[i], sizeof(w->dirs[i]), "/tmp/parley-client-XXXXXX");
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
    if (getenv("PARLEY_TEST_SHOW_LOG")) {
        char *log = harness_read(&w->p, "parleyd.log");
        fprintf(stderr, "%s", log ? log : "(no log)\n");
        free(log);
    }
    harness_cleanup(&w->p);
    for (int i = 0; i < 4; i++)
        rm_tree(w->dirs[i]);
    free(w);
    return 0;
}

static struct parley_client *reg(struct world *w, int dir, const char *user)
{
    struct parley_client *c = NULL;
    assert_int_equal(
        parley_client_register(w->dirs[dir], w->cfg, user, "initial pw", NULL, NULL, &c), 0);
    return c;
}

static void online(struct parley_client *c)
{
    assert_int_equal(parley_client_connect(c), 0);
    assert_int_equal(parley_client_wait_online(c, 15000), 0);
}

/* The next message event within 20 s, skipping connection events. */
static struct parley_event *next_message(struct parley_client *c)
{
    for (int i = 0; i < 100; i++) {
        struct parley_event *ev;
        if (parley_client_next_event(c, 200, &ev) < 0)
            continue;
        if (ev->type == PARLEY_EVENT_MESSAGE)
            return ev;
        if (ev->type == PARLEY_EVENT_ERROR)
            fprintf(stderr, "# error event: %s\n", parley_strerror(ev->err));
        parley_event_free(ev);
    }
    fail_msg("no message arrived");
    return NULL;
}

/* The next event of `type` within 20 s. */
__attribute__((noinline)) static struct parley_event *next_of(struct parley_client *c,
                                                              enum parley_event_type type)
{
    for (int i = 0; i < 100; i++) {
        struct parley_event *ev;
        if (parley_client_next_event(c, 200, &ev) < 0)
            continue;
        if (ev->type == type)
            return ev;
        parley_event_free(ev);
    }
    fail_msg("no event of type %d arrived", (int)type);
    return NULL;
}

static void expect_text(struct parley_client *c, const char *from_user_id, const char *text)
{
    struct parley_event *ev = next_message(c);
    json_t *body = json_loads(ev->body, 0, NULL);
    assert_non_null(body);
    assert_int_equal(ev->msgtype, 1000);
    assert_string_equal(json_string_value(json_object_get(body, "message")), text);
    assert_string_equal(ev->sender, from_user_id);
    assert_true(ev->ts_ms > 0);
    json_decref(body);
    parley_event_free(ev);
}

static void test_client__direct_messages_both_ways(void **state)
{
    struct world *w = *state;
    struct parley_client *a = reg(w, 0, "alice"), *b = reg(w, 1, "bob");
    char id[PARLEY_ID_HEX];

    online(a);
    online(b);
    assert_int_equal(parley_client_send_text(a, "bob", "hello bob", id), 0);
    assert_int_equal(strlen(id), 32);
    expect_text(b, parley_client_user_id(a), "hello bob");
    char id_b[PARLEY_ID_HEX];
    assert_int_equal(parley_client_send_text(b, "alice", "hi alice", id_b), 0);
    expect_text(a, parley_client_user_id(b), "hi alice");

    /* Reading it sends bob a read receipt; reading one's own message
     * does not. */
    assert_int_equal(parley_client_mark_read(a, id_b), 0);
    struct parley_event *rev = next_of(b, PARLEY_EVENT_READ);
    assert_string_equal(rev->msg_id, id_b);
    assert_string_equal(rev->sender, parley_client_user_id(a));
    assert_int_equal(strlen(rev->conv_id), 32);
    parley_event_free(rev);

    /* Typing indicators reach the other member's live session. */
    assert_int_equal(parley_client_typing(a, "bob", 1), 0);
    struct parley_event *tev = next_of(b, PARLEY_EVENT_TYPING);
    assert_string_equal(tev->sender, parley_client_user_id(a));
    assert_int_equal(strlen(tev->conv_id), 32);
    assert_int_equal(tev->active, 1);
    parley_event_free(tev);

    /* Both sides keep the conversation, in order, in their local state. */
    char *hist = NULL;
    assert_int_equal(parley_client_history(b, "alice", 0, &hist), 0);
    json_t *arr = json_loads(hist, 0, NULL);
    assert_int_equal(json_array_size(arr), 2);
    assert_string_equal(json_string_value(json_object_get(
                            json_object_get(json_array_get(arr, 0), "body"), "message")),
                        "hello bob");
    json_decref(arr);
    free(hist);

    /* Both see the same safety number. */
    char na[PARLEY_SAFETY_NUMBER_LEN], nb[PARLEY_SAFETY_NUMBER_LEN];
    char qa[PARLEY_QR_CODE_LEN], qb[PARLEY_QR_CODE_LEN];
    assert_int_equal(parley_client_fingerprint(a, "bob", na, qa), 0);
    assert_int_equal(parley_client_fingerprint(b, "alice", nb, qb), 0);
    assert_string_equal(na, nb);
    assert_string_not_equal(qa, qb);

    /* A recall (4011) by its author removes the message on the other side;
     * one by somebody else does not. */
    char payload[200];
    snprintf(payload, sizeof(payload),
             "{\"msgtype\":4011,\"control\":{\"msgid\":\"%s\",\"isrecall\":true}}", id);
    assert_int_equal(parley_client_send(b, "alice", payload, NULL), 0);
    struct parley_event *ev = next_message(a);
    assert_int_equal(ev->msgtype, 4011);
    parley_event_free(ev);
    assert_int_equal(parley_client_history(a, "bob", 0, &hist), 0);
    assert_non_null(strstr(hist, "hello bob"));
    free(hist);
    assert_int_equal(parley_client_send(a, "bob", payload, NULL), 0);
    ev = next_message(b);
    assert_int_equal(ev->msgtype, 4011);
    parley_event_free(ev);
    assert_int_equal(parley_client_history(b, "alice", 0, &hist), 0);
    assert_null(strstr(hist, "hello bob"));
    assert_non_null(strstr(hist, "hi alice"));
    free(hist);
    assert_int_equal(parley_client_send(a, "bob", "{\"msgtype\":1000}", NULL), PARLEY_EPROTO);
    parley_client_free(a);
    parley_client_free(b);
}

struct stalled_send {
    struct parley_client *c;
    char id[PARLEY_ID_HEX];
    int rc;
};

static void *stalled_send_run(void *arg)
{
    struct stalled_send *s = arg;
    s->rc = parley_client_send_text(s->c, "bob", "sent while the store failed", s->id);
    return NULL;
}

/* The server cannot store envelopes for a while (here: their table is
 * renamed away under it) and answers internal_error: libparley sends the
 * same envelope again until it is stored, and the recipient gets it once. */
static void test_client__send_retried_after_internal_error(void **state)
{
    struct world *w = *state;
    struct parley_client *a = reg(w, 0, "alice"), *b = reg(w, 1, "bob");
    struct stalled_send s = {.c = a, .rc = 1};
    struct parley_event *ev;
    pthread_t th;

    online(a);
    online(b);
    assert_int_equal(parley_client_send_text(a, "bob", "before", NULL), 0);
    expect_text(b, parley_client_user_id(a), "before");

    assert_int_equal(harness_provision_sql(&w->p, "ALTER TABLE envelopes RENAME TO envelopes_away"),
                     0);
    assert_int_equal(pthread_create(&th, NULL, stalled_send_run, &s), 0);
    sleep(3); /* at least one internal_error and one retry */
    assert_int_equal(harness_provision_sql(&w->p, "ALTER TABLE envelopes_away RENAME TO envelopes"),
                     0);
    assert_int_equal(pthread_join(th, NULL), 0);
    assert_int_equal(s.rc, 0);
    expect_text(b, parley_client_user_id(a), "sent while the store failed");
    /* Only once: nothing else arrives. */
    for (int i = 0; i < 10; i++) {
        if (parley_client_next_event(b, 200, &ev) < 0)
            continue;
        assert_int_not_equal(ev->type, PARLEY_EVENT_MESSAGE);
        parley_event_free(ev);
    }
    char *log = harness_read(&w->p, "parleyd.log");
    assert_non_null(log);
    assert_non_null(strstr(log, "envelope not stored")); /* it did fail meanwhile */
    free(log);
    parley_client_free(a);
    parley_client_free(b);
}

static void test_client__offline_delivery_and_local_sign_in(void **state)
{
    struct world *w = *state;
    struct parley_client *a = reg(w, 0, "alice"), *b = reg(w, 1, "bob");

    /* Bob is registered but offline: the server queues for his device. */
    parley_client_free(b);
    online(a);
    assert_int_equal(parley_client_send_text(a, "bob", "while you were away", NULL), 0);
    assert_int_equal(parley_client_send_text(a, "bob", "second", NULL), 0);

    /* A wrong password does not open the local state. */
    assert_int_equal(parley_client_login(w->dirs[1], NULL, "bob", "wrong", NULL, &b), PARLEY_EAUTH);
    assert_int_equal(parley_client_login(w->dirs[1], NULL, "bob", "initial pw", NULL, &b), 0);
    online(b);
    expect_text(b, parley_client_user_id(a), "while you were away");
    expect_text(b, parley_client_user_id(a), "second");
    parley_client_free(b);

    /* Acknowledged deliveries are not delivered again. */
    assert_int_equal(parley_client_login(w->dirs[1], NULL, "bob", "initial pw", NULL, &b), 0);
    online(b);
    assert_int_equal(parley_client_send_text(a, "bob", "third", NULL), 0);
    expect_text(b, parley_client_user_id(a), "third");
    parley_client_free(b);
    parley_client_free(a);
}

struct sender {
    struct parley_client *c;
    int base, rc;
};

static void *send_five(void *arg)
{
    struct sender *s = arg;
    char text[32];
    for (int i = 0; i < 5 && s->rc == 0; i++) {
        snprintf(text, sizeof(text), "n%d", s->base + i);
        s->rc = parley_client_send_text(s->c, "bob", text, NULL);
    }
    return NULL;
}

static void test_client__second_device_gets_copies(void **state)
{
    struct world *w = *state;
    struct parley_client *a1 = reg(w, 0, "alice"), *b = reg(w, 1, "bob"), *a2 = NULL;

    /* A new device of alice, from the identity backup. */
    assert_int_equal(parley_client_login(w->dirs[2], w->cfg, "alice", "initial pw", NULL, &a2), 0);
    assert_string_equal(parley_client_user_id(a1), parley_client_user_id(a2));
    assert_string_not_equal(parley_client_device_id(a1), parley_client_device_id(a2));
    online(a1);
    online(a2);
    online(b);
    assert_int_equal(parley_client_send_text(a1, "bob", "from laptop", NULL), 0);
    expect_text(b, parley_client_user_id(a1), "from laptop");
    expect_text(a2, parley_client_user_id(a1), "from laptop");
    /* Bob's answer reaches both of alice's devices. */
    assert_int_equal(parley_client_send_text(b, "alice", "to both", NULL), 0);
    expect_text(a1, parley_client_user_id(b), "to both");
    expect_text(a2, parley_client_user_id(b), "to both");

    /* One client used from two threads at once. */
    struct sender s1 = {a1, 0, 0}, s2 = {a1, 5, 0};
    pthread_t t1, t2;
    assert_int_equal(pthread_create(&t1, NULL, send_five, &s1), 0);
    assert_int_equal(pthread_create(&t2, NULL, send_five, &s2), 0);
    pthread_join(t1, NULL);
    pthread_join(t2, NULL);
    assert_int_equal(s1.rc, 0);
    assert_int_equal(s2.rc, 0);
    unsigned seen = 0;
    for (int i = 0; i < 10; i++) {
        struct parley_event *ev = next_message(b);
        json_t *body = json_loads(ev->body, 0, NULL);
        const char *t = json_string_value(json_object_get(body, "message"));
        assert_non_null(t);
        seen |= 1u << strtol(t + 1, NULL, 10);
        json_decref(body);
        parley_event_free(ev);
    }
    assert_int_equal(seen, 0x3ff);
    parley_client_free(a1);
    parley_client_free(a2);
    parley_client_free(b);
}

static void test_client__room_messages(void **state)
{
    struct world *w = *state;
    struct parley_client *a = reg(w, 0, "alice"), *b = reg(w, 1, "bob"), *c = reg(w, 3, "carol");
    const char *members[] = {"bob", "carol"};
    char room[PARLEY_ID_HEX];

    online(a);
    online(b);
    online(c);
    assert_int_equal(parley_conv_create(a, "room", "Ops", members, 2, NULL, 0, 0, 0, room), 0);
    /* The create-room control message (4001) comes first. */
    struct parley_event *ev = next_message(b);
    assert_int_equal(ev->msgtype, 4001);
    assert_string_equal(ev->conv_id, room);
    parley_event_free(ev);
    ev = next_message(c);
    assert_int_equal(ev->msgtype, 4001);
    parley_event_free(ev);

    assert_int_equal(parley_client_send_text(b, room, "hello room", NULL), 0);
    expect_text(a, parley_client_user_id(b), "hello room");
    expect_text(c, parley_client_user_id(b), "hello room");

    char *members_json = NULL;
    assert_int_equal(parley_conv_members(c, room, &members_json), 0);
    json_t *arr = json_loads(members_json, 0, NULL);
    assert_int_equal(json_array_size(arr), 3);
    json_decref(arr);
    free(members_json);

    /* The moderator removes carol: bob hears of it (4002), the server's
     * member list shrinks, and the room goes on without her. */
    const char *gone[] = {"carol"};
    assert_int_equal(parley_conv_modify(a, room, NULL, 0, gone, 1, NULL, 0), 0);
    ev = next_message(b);
    assert_int_equal(ev->msgtype, 4002);
    assert_non_null(strstr(ev->body, parley_client_user_id(c)));
    parley_event_free(ev);
    assert_int_equal(parley_conv_members(b, room, &members_json), 0);
    arr = json_loads(members_json, 0, NULL);
    assert_int_equal(json_array_size(arr), 2);
    json_decref(arr);
    free(members_json);
    /* To a non-member the room no longer exists. */
    assert_int_equal(parley_client_send_text(c, room, "still here?", NULL), PARLEY_ENOTFOUND);
    assert_int_equal(parley_client_send_text(b, room, "after carol", NULL), 0);
    expect_text(a, parley_client_user_id(b), "after carol");

    /* A burn-on-read room: a message read by bob leaves his device once
     * the room's burn-on-read time (1 s) has passed. */
    char burn[PARLEY_ID_HEX], *hist = NULL;
    assert_int_equal(parley_conv_create(a, "room", "Burn", members, 1, NULL, 0, 0, 1, burn), 0);
    ev = next_message(b);
    assert_int_equal(ev->msgtype, 4001);
    assert_true(ev->burn_on_read);
    parley_event_free(ev);
    assert_int_equal(parley_client_send_text(a, burn, "burn me", NULL), 0);
    ev = next_message(b);
    assert_true(ev->burn_on_read);
    assert_int_equal(parley_client_history(b, burn, 0, &hist), 0);
    assert_non_null(strstr(hist, "burn me"));
    free(hist);
    assert_int_equal(parley_client_mark_read(b, ev->msg_id), 0);
    parley_event_free(ev);
    sleep(2);
    assert_int_equal(parley_client_history(b, burn, 0, &hist), 0);
    assert_null(strstr(hist, "burn me"));
    free(hist);
    parley_client_free(a);
    parley_client_free(b);
    parley_client_free(c);
}

/* Run the parley command line (path in $PARLEY_CLI) with `args`, stdout
 * into *out (malloc'd). Returns its exit status. */
static int run_cli(char *const args[], char **out)
{
    char tout[] = "/tmp/parley-cli.XXXXXX";
    int fo = mkstemp(tout), status;
    pid_t pid = fork();

    if (pid == 0) {
        dup2(fo, 1);
        execv(getenv("PARLEY_CLI"), args);
        _exit(127);
    }
    waitpid(pid, &status, 0);
    *out = read_file(tout);
    close(fo);
    unlink(tout);
    return WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
}

static void test_client__cli_register_send_listen(void **state)
{
    struct world *w = *state;
    char cfg[400], pwa[200], pwb[200], *out = NULL;
    const char *cli = getenv("PARLEY_CLI");

    if (!cli)
        skip();
    snprintf(cfg, sizeof(cfg), "%s/client.parley", w->p.dir);
    /* Lines: account password, new password, configuration password. */
    snprintf(pwa, sizeof(pwa), "%s/pw", w->dirs[0]);
    snprintf(pwb, sizeof(pwb), "%s/pw", w->dirs[1]);
    FILE *f = fopen(pwa, "w");
    fprintf(f, "initial pw\nalice new pw\nconfig pass\n");
    fclose(f);
    f = fopen(pwb, "w");
    fprintf(f, "initial pw\n\nconfig pass\n");
    fclose(f);

    char *reg_a[] = {"parley", "--data-dir", w->dirs[0],       "--config",
                     cfg,      "--username", "alice",          "--password-file",
                     pwa,      "register",   "--new-password", NULL};
    assert_int_equal(run_cli(reg_a, &out), 0);
    assert_non_null(strstr(out, "registered alice"));
    free(out);
    char *reg_b[] = {"parley", "--data-dir",      w->dirs[1], "--config", cfg, "--username",
                     "bob",    "--password-file", pwb,        "register", NULL};
    assert_int_equal(run_cli(reg_b, &out), 0);
    free(out);

    /* Alice's password is now the new one: line 2 becomes line 1. */
    f = fopen(pwa, "w");
    fprintf(f, "alice new pw\n");
    fclose(f);
    char *send[] = {"parley",   "--data-dir",
                    w->dirs[0], "--username",
                    "alice",    "--password-file",
                    pwa,        "send",
                    "bob",      "hello from the command line",
                    NULL};
    assert_int_equal(run_cli(send, &out), 0);
    assert_int_equal(strlen(out), 33); /* the message id and a newline */
    free(out);

    char *listen[] = {"parley", "--data-dir", w->dirs[1], "--username", "bob", "--password-file",
                      pwb,      "listen",     "--json",   "--count",    "1",   "--timeout",
                      "60",     NULL};
    assert_int_equal(run_cli(listen, &out), 0);
    json_t *m = json_loads(out, 0, NULL);
    assert_non_null(m);
    assert_string_equal(json_string_value(json_object_get(m, "sender_name")), "alice");
    assert_int_equal(json_integer_value(json_object_get(m, "msgtype")), 1000);
    assert_string_equal(
        json_string_value(json_object_get(json_object_get(m, "payload"), "message")),
        "hello from the command line");
    json_decref(m);
    free(out);

    char *hist[] = {"parley", "--data-dir", w->dirs[1], "--username", "bob", "--password-file",
                    pwb,      "history",    "--json",   "alice",      NULL};
    assert_int_equal(run_cli(hist, &out), 0);
    assert_non_null(strstr(out, "hello from the command line"));
    free(out);

    char *fp[] = {"parley",          "--data-dir", w->dirs[1],    "--username", "bob",
                  "--password-file", pwb,          "fingerprint", "alice",      NULL};
    assert_int_equal(run_cli(fp, &out), 0);
    assert_non_null(strstr(out, "safety number with alice"));
    free(out);
}

/* A field of one conversation in the caller's list (title from local
 * state, the rest from the server), as JSON text; "" if absent. */
static char *conv_field(struct parley_client *c, const char *conv, const char *key)
{
    char *list = NULL, *out;
    size_t i;
    json_t *v, *arr;
    assert_int_equal(parley_conv_list(c, &list), 0);
    arr = json_loads(list, 0, NULL);
    json_array_foreach(arr, i, v)
    {
        if (strcmp(json_string_value(json_object_get(v, "conv_id")), conv) != 0)
            continue;
        json_t *f = json_object_get(v, key);
        out = f ? json_dumps(f, JSON_ENCODE_ANY) : strdup("");
        json_decref(arr);
        free(list);
        return out;
    }
    fail_msg("conversation %s not listed", conv);
    return NULL;
}

static void expect_field(struct parley_client *c, const char *conv, const char *key,
                         const char *want)
{
    char *got = conv_field(c, conv, key);
    assert_string_equal(got, want);
    free(got);
}

/* Room settings (4004): moderators change title, description, expiration
 * and burn-on-read; everyone else is refused by the server, and a forged
 * 4004 from a member is ignored by the other members' clients. */
static void test_client__room_settings_by_moderators_only(void **state)
{
    struct world *w = *state;
    struct parley_client *a = reg(w, 0, "alice"), *b = reg(w, 1, "bob"), *c = reg(w, 2, "carol");
    const char *members[] = {"bob", "carol"}, *promote[] = {"bob"};
    char room[PARLEY_ID_HEX];
    struct parley_event *ev;

    online(a);
    online(b);
    online(c);
    assert_int_equal(parley_conv_create(a, "room", "Ops", members, 2, NULL, 0, 0, 0, room), 0);
    parley_event_free(next_message(b));
    parley_event_free(next_message(c));
    expect_field(b, room, "title", "\"Ops\"");

    /* The moderator changes everything at once. */
    struct parley_conv_change chg = {
        .title = "Ops 2", .description = "on call", .expiration = 3600, .burn_on_read = 30};
    assert_int_equal(parley_conv_set(a, room, &chg), 0);
    ev = next_message(b);
    assert_int_equal(ev->msgtype, 4004);
    json_t *body = json_loads(ev->body, 0, NULL), *ctl = json_object_get(body, "control");
    assert_int_equal(json_integer_value(json_object_get(ctl, "changemask")), 2 | 4 | 8 | 32);
    assert_string_equal(json_string_value(json_object_get(ctl, "description")), "on call");
    json_decref(body);
    parley_event_free(ev);
    parley_event_free(next_message(c));
    expect_field(b, room, "title", "\"Ops 2\"");
    expect_field(c, room, "title", "\"Ops 2\"");
    expect_field(a, room, "title", "\"Ops 2\"");
    expect_field(b, room, "expiration", "3600");
    expect_field(b, room, "burn_on_read", "30");

    /* A member who is not a moderator is refused, by libparley and by the
     * server itself. */
    struct parley_conv_change hijack = {.title = "Mine", .expiration = -1, .burn_on_read = -1};
    assert_int_equal(parley_conv_set(b, room, &hijack), PARLEY_EPERM);
    struct parley_client *bi = b;
    char path[200], auth[400];
    snprintf(path, sizeof(path), "/api/v1/client/conversations/%s/settings", room);
    snprintf(auth, sizeof(auth), "Authorization: Bearer %s", bi->device_token);
    const char *hdrs[] = {auth, NULL};
    struct http_resp r;
    assert_int_equal(harness_http_h(&w->p, "PUT", path, "{\"expiration\":5}", hdrs, &r), 0);
    assert_int_equal(r.status, 403);
    assert_non_null(strstr(r.body, "moderators"));
    http_resp_free(&r);
    assert_int_equal(harness_http_h(&w->p, "PUT", path, "{\"expiration\":\"x\"}", hdrs, &r), 0);
    assert_int_equal(r.status, 400);
    assert_non_null(strstr(r.body, "expiration"));
    http_resp_free(&r);
    expect_field(a, room, "expiration", "3600");

    /* A 4004 forged by that member reaches the others but changes nothing. */
    assert_int_equal(
        parley_client_send(
            b, room, "{\"msgtype\":4004,\"control\":{\"changemask\":4,\"title\":\"Pwned\"}}", NULL),
        0);
    ev = next_message(c);
    assert_int_equal(ev->msgtype, 4004);
    parley_event_free(ev);
    parley_event_free(next_message(a));
    expect_field(c, room, "title", "\"Ops 2\"");
    expect_field(a, room, "title", "\"Ops 2\"");

    /* Promoted, the same member may. */
    struct parley_conv_change mods = {
        .expiration = -1, .burn_on_read = -1, .moderators = promote, .n_moderators = 1};
    assert_int_equal(parley_conv_set(a, room, &mods), 0);
    parley_event_free(next_message(b));
    parley_event_free(next_message(c));
    struct parley_conv_change by_bob = {
        .title = "Bob's room", .expiration = -1, .burn_on_read = -1};
    assert_int_equal(parley_conv_set(b, room, &by_bob), 0);
    parley_event_free(next_message(c));
    expect_field(c, room, "title", "\"Bob's room\"");
    /* Nothing to change, or a direct conversation, is a usage error. */
    struct parley_conv_change none = {.expiration = -1, .burn_on_read = -1};
    assert_int_equal(parley_conv_set(a, room, &none), PARLEY_EINVAL);
    parley_client_free(a);
    parley_client_free(b);
    parley_client_free(c);

    /* The command line: carol (a member) is refused, alice is not. */
    char pw[200], *out = NULL;
    snprintf(pw, sizeof(pw), "%s/pw", w->dirs[2]);
    FILE *f = fopen(pw, "w");
    fprintf(f, "initial pw\n");
    fclose(f);
    char *carol_mod[] = {"parley",          "--data-dir", w->dirs[2], "--username", "carol",
                         "--password-file", pw,           "room",     "modify",     room,
                         "--expiration",    "60",         NULL};
    assert_int_equal(run_cli(carol_mod, &out), 1);
    free(out);
    char *alice_mod[] = {"parley",          "--data-dir", w->dirs[0], "--username",     "alice",
                         "--password-file", pw,           "rooms",    "modify",         room,
                         "--expiration",    "60",         "--title",  "From the shell", NULL};
    assert_int_equal(run_cli(alice_mod, &out), 0);
    free(out);
    struct parley_client *a2 = NULL;
    assert_int_equal(parley_client_login(w->dirs[0], NULL, "alice", "initial pw", NULL, &a2), 0);
    expect_field(a2, room, "expiration", "60");
    expect_field(a2, room, "title", "\"From the shell\"");
    parley_client_free(a2);
}

/* One payload of every message type, each carrying the canary (CANARY is
 * replaced) in its own text fields and in an extra field every type passes
 * through. */
static const struct {
    int msgtype;
    const char *json;
} canary_payloads[] = {
    {1000, "{\"msgtype\":1000,\"message\":\"text CANARY\",\"links\":[\"https://CANARY\"]}"},
    {3000, "{\"msgtype\":3000,\"keyverify\":{\"msgtype\":1,\"verifiedkey\":\"CANARY\"}}"},
    {4001, "{\"msgtype\":4001,\"control\":{\"members\":[],\"masters\":[],\"title\":\"CANARY\","
           "\"description\":\"CANARY\"}}"},
    {4002, "{\"msgtype\":4002,\"control\":{\"addedusers\":[],\"deletedusers\":[],"
           "\"note\":\"CANARY\"}}"},
    {4003, "{\"msgtype\":4003,\"control\":{\"note\":\"CANARY\"}}"},
    {4004, "{\"msgtype\":4004,\"control\":{\"changemask\":12,\"title\":\"CANARY\","
           "\"description\":\"CANARY\"}}"},
    {4011, "{\"msgtype\":4011,\"control\":{\"msgid\":\"CANARY\",\"isrecall\":false}}"},
    {4012, "{\"msgtype\":4012,\"control\":{\"attributes\":[{\"msgid\":\"CANARY\","
           "\"isstarred\":true}]}}"},
    {4013, "{\"msgtype\":4013,\"note\":\"CANARY\"}"},
    {4014, "{\"msgtype\":4014,\"control\":{\"pinned\":true,\"note\":\"CANARY\"}}"},
    {6000, "{\"msgtype\":6000,\"file\":{\"filename\":\"CANARY.pdf\",\"guid\":\"CANARY\"}}"},
    {7000, "{\"msgtype\":7000,\"call\":{\"status\":0,\"startmsgid\":\"CANARY\"}}"},
    {8000, "{\"msgtype\":8000,\"location\":{\"latitude\":1.5,\"longitude\":2.5,"
           "\"name\":\"CANARY\"}}"},
    {9000, "{\"msgtype\":9000,\"edit\":{\"type\":\"text\",\"text\":\"CANARY\"}}"},
    {4005, "{\"msgtype\":4005,\"note\":\"CANARY\"}"}, /* last: it ends the room */
};

/* The payload with every "CANARY" replaced by `canary`. */
static char *with_canary(const char *tmpl, const char *canary)
{
    size_t n = strlen(tmpl) + 1;
    for (const char *p = strstr(tmpl, "CANARY"); p; p = strstr(p + 1, "CANARY"))
        n += strlen(canary);
    char *out = calloc(1, n), *o = out;
    for (const char *p = tmpl; *p;) {
        if (strncmp(p, "CANARY", 6) == 0) {
            o += snprintf(o, n - (size_t)(o - out), "%s", canary);
            p += 6;
        } else {
            *o++ = *p++;
        }
    }
    return out;
}

/* A string sent in every message type, in a direct conversation, a group
 * and a room, and as a room's title and description, reaches the other
 * members yet never appears in the server's data directory, logs or
 * database (SQLite files, or every PostgreSQL table). */
static void test_client__canary_never_reaches_the_server(void **state)
{
    struct world *w = *state;
    struct parley_client *a = reg(w, 0, "alice"), *b = reg(w, 1, "bob");
    const char *members[] = {"bob"};
    char canary[64], room[PARLEY_ID_HEX], group[PARLEY_ID_HEX];
    uint8_t rnd[12];
    size_t sent = 0;

    snprintf(canary, sizeof(canary), "canary");
    assert_int_equal(RAND_bytes(rnd, sizeof(rnd)), 1);
    for (size_t i = 0; i < sizeof(rnd); i++)
        snprintf(canary + 6 + 2 * i, 3, "%02x", rnd[i]);

    /* Every type the payload table knows has a payload here. */
    for (int t = 1; t < 65536; t++) {
        if (!parley_msgtype_name(t))
            continue;
        bool covered = false;
        for (size_t i = 0; i < ARRAY_LEN(canary_payloads); i++)
            covered |= canary_payloads[i].msgtype == t;
        if (!covered)
            fail_msg("message type %d has no canary payload", t);
    }

    online(a);
    online(b);
    assert_int_equal(parley_conv_create(a, "room", canary, members, 1, NULL, 0, 0, 0, room), 0);
    assert_int_equal(parley_conv_create(a, "group", canary, members, 1, NULL, 0, 0, 0, group), 0);
    struct parley_conv_change chg = {
        .title = canary, .description = canary, .expiration = -1, .burn_on_read = 120};
    assert_int_equal(parley_conv_set(a, room, &chg), 0);
    sent += 3;
    const char *convs[] = {"bob", group, room};
    for (size_t k = 0; k < 3; k++) {
        for (size_t i = 0; i < ARRAY_LEN(canary_payloads); i++) {
            char *payload = with_canary(canary_payloads[i].json, canary);
            assert_int_equal(parley_client_send(a, convs[k], payload, NULL), 0);
            free(payload);
            sent++;
        }
    }
    /* Bob got all of them, decrypted, each with the canary. */
    for (size_t i = 0; i < sent; i++) {
        struct parley_event *ev = next_message(b);
        assert_non_null(strstr(ev->body, canary));
        parley_event_free(ev);
    }
    parley_client_typing(a, "bob", 1);
    parley_client_free(a);
    parley_client_free(b);

    assert_int_equal(harness_stop(&w->p, SIGTERM, 30, NULL), 0);
    assert_int_equal(leakscan(&w->p, canary), 0);
    assert_true(leakscan_places_seen() >= 3);
    /* The scan is not blind: a file holding the canary is found. */
    char marker[400];
    snprintf(marker, sizeof(marker), "%s/marker.txt", w->p.dir);
    FILE *f = fopen(marker, "w");
    assert_non_null(f);
    fprintf(f, "[%s]", canary);
    fclose(f);
    assert_int_equal(leakscan(&w->p, canary), 1);
    if (w->p.store_uri)
        assert_true(leakscan_pg(&w->p, NET) >= 1);
}

static void test_client__changed_identity_key_blocks_until_trusted(void **state)
{
    struct world *w = *state;
    struct parley_client *a = reg(w, 0, "alice"), *b = reg(w, 1, "bob");
    char cmd[600], num[PARLEY_SAFETY_NUMBER_LEN], qr[PARLEY_QR_CODE_LEN];

    online(a);
    online(b);
    assert_int_equal(parley_client_send_text(b, "alice", "first", NULL), 0);
    expect_text(a, parley_client_user_id(b), "first");
    parley_client_free(b);

    /* As if the server now announced another key for alice. */
    snprintf(cmd, sizeof(cmd),
             "for f in '%s'/*.db; do sqlite3 \"$f\" \"UPDATE pins SET identity_key ="
             " zeroblob(32) WHERE username = 'alice'\" || exit 1; done",
             w->dirs[1]);
    if (system(cmd) != 0)
        skip(); /* no sqlite3 command */
    assert_int_equal(parley_client_login(w->dirs[1], NULL, "bob", "initial pw", NULL, &b), 0);
    online(b);
    assert_int_equal(parley_client_send_text(b, "alice", "second", NULL), PARLEY_EAUTH);
    assert_int_equal(parley_client_fingerprint(b, "alice", num, qr), PARLEY_EAUTH);
    /* Alice's messages from her (real) key are refused too, not shown. */
    assert_int_equal(parley_client_send_text(a, "bob", "unseen", NULL), 0);
    struct parley_event *ev = NULL;
    for (int i = 0; i < 100; i++) {
        if (parley_client_next_event(b, 200, &ev) == 0 && ev->type == PARLEY_EVENT_ERROR)
            break;
        assert_true(ev == NULL || ev->type != PARLEY_EVENT_MESSAGE);
        parley_event_free(ev);
        ev = NULL;
    }
    assert_non_null(ev);
    assert_int_equal(ev->err, PARLEY_EAUTH);
    parley_event_free(ev);

    /* After comparing safety numbers the user accepts the key. */
    assert_int_equal(parley_client_trust(b, "alice"), 0);
    assert_int_equal(parley_client_send_text(b, "alice", "third", NULL), 0);
    expect_text(a, parley_client_user_id(b), "third");
    parley_client_free(a);
    parley_client_free(b);
}

/* Local federation through libparley and the CLI: dave is in another
 * network whose security group carries a tag. alice finds him as
 * "NETWORK/dave", sees his tag (`parley whois`), and they talk both ways
 * in one direct conversation. */
#define NET2 "net-client-2"

static int setup_federated(void **state)
{
    uint8_t id[16];
    if (setup(state) < 0)
        return -1;
    struct world *w = *state;
    if (harness_stop(&w->p, SIGTERM, 15, NULL) != 0 ||
        harness_provision_user(&w->p, NET2, "dave", "initial pw", id) < 0 ||
        harness_provision_sql(&w->p, "UPDATE security_groups SET settings = "
                                     "'{\"local_federation\":\"enabled\"}'") < 0 ||
        harness_provision_sql(&w->p, "INSERT INTO security_tags (network_id, name, color, "
                                     "security_groups, created_at) SELECT n.id, 'Restricted', "
                                     "'#aa0000', '[' || g.id || ']', 1 FROM networks n JOIN "
                                     "security_groups g ON g.network_id = n.id WHERE "
                                     "n.network_id = '" NET2 "'") < 0 ||
        harness_start(&w->p) < 0)
        return -1;
    /* A new port after the restart: a new configuration file. */
    parley_config_free(w->cfg);
    w->cfg = make_config(&w->p);
    return 0;
}

static void test_client__federated_user_found_tagged_and_reached(void **state)
{
    struct world *w = *state;
    struct parley_config *cfg2 = make_config_for(&w->p, NET2);
    struct parley_client *a = reg(w, 0, "alice"), *d = NULL;
    struct parley_user_info u;
    char id[PARLEY_ID_HEX], pw[200], *out = NULL;

    assert_int_equal(parley_client_register(w->dirs[1], cfg2, "dave", "initial pw", NULL, NULL, &d),
                     0);
    online(a);
    online(d);
    assert_int_equal(parley_client_user_info(a, NET2 "/dave", &u), 0);
    assert_string_equal(u.username, "dave");
    assert_string_equal(u.network_id, NET2);
    assert_string_equal(u.user_id, parley_client_user_id(d));
    assert_string_equal(u.tags, "Restricted (#aa0000)");
    /* Her own network has no dave. */
    assert_int_equal(parley_client_user_info(a, "dave", &u), PARLEY_ENOTFOUND);

    assert_int_equal(parley_client_send_text(a, NET2 "/dave", "hello other network", id), 0);
    expect_text(d, parley_client_user_id(a), "hello other network");
    assert_int_equal(parley_client_send_text(d, NET "/alice", "hello back", id), 0);
    expect_text(a, parley_client_user_id(d), "hello back");

    /* The command line shows the tag under the name. */
    snprintf(pw, sizeof(pw), "%s/pw", w->dirs[0]);
    FILE *f = fopen(pw, "w");
    fprintf(f, "initial pw\n");
    fclose(f);
    char *whois[] = {"parley",          "--data-dir", w->dirs[0], "--username", "alice",
                     "--password-file", pw,           "whois",    NET2 "/dave", NULL};
    assert_int_equal(run_cli(whois, &out), 0);
    assert_non_null(strstr(out, "username: dave\n"));
    assert_non_null(strstr(out, "network:  " NET2 "\n"));
    assert_non_null(strstr(out, "tags:     Restricted (#aa0000)\n"));
    free(out);
    parley_client_free(a);
    parley_client_free(d);
    parley_config_free(cfg2);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_client__direct_messages_both_ways, setup, teardown),
        cmocka_unit_test_setup_teardown(test_client__send_retried_after_internal_error, setup,
                                        teardown),
        cmocka_unit_test_setup_teardown(test_client__offline_delivery_and_local_sign_in, setup,
                                        teardown),
        cmocka_unit_test_setup_teardown(test_client__second_device_gets_copies, setup, teardown),
        cmocka_unit_test_setup_teardown(test_client__room_messages, setup, teardown),
        cmocka_unit_test_setup_teardown(test_client__cli_register_send_listen, setup, teardown),
        cmocka_unit_test_setup_teardown(test_client__room_settings_by_moderators_only, setup,
                                        teardown),
        cmocka_unit_test_setup_teardown(test_client__canary_never_reaches_the_server, setup,
                                        teardown),
        cmocka_unit_test_setup_teardown(test_client__changed_identity_key_blocks_until_trusted,
                                        setup, teardown),
        cmocka_unit_test_setup_teardown(test_client__federated_user_found_tagged_and_reached,
                                        setup_federated, teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
