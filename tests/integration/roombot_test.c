/* roombot_test.c - the room bot end to end: parley-roombot, a bot account
 * made through the admin API, keeps a default room of a real parleyd for
 * real libparley clients. It creates the rooms with the users the
 * definitions name (everyone, or a security group) and itself as the
 * only moderator, re-adds a user who
 * leaves, and stops managing the room while the super administrator has
 * the room bot turned off. Once per store backend. */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include <jansson.h>
#include <parley/parley.h>

#include "admin_util.h"
#include "client_harness.h"
#include "harness.h"
#include "provision.h"

#define NET      "net-roombot"
#define BOT      "roomsbot"
#define BOT_PW   "Room-bot-pass-1"
#define INTERVAL "2"

struct world {
    struct parleyd p;
    struct adm super;
    struct parley_config *cfg;
    char tmp[128];
    pid_t bot;
    struct parley_client *alice, *bob;
    char bob_id[33];
};

static char *slurp(const char *path)
{
    FILE *f = fopen(path, "rb");
    if (!f)
        return NULL;
    char *s = calloc(1, 256 * 1024);
    size_t n = fread(s, 1, 256 * 1024 - 1, f);
    s[n] = '\0';
    fclose(f);
    return s;
}

static void write_text(const char *path, const char *text)
{
    FILE *f = fopen(path, "w");
    assert_non_null(f);
    assert_true(fputs(text, f) >= 0);
    assert_int_equal(fclose(f), 0);
}

static json_t *call(struct world *w, long want, const char *method, const char *path,
                    const char *body)
{
    json_t *j = NULL;
    long st = adm_req(&w->p, &w->super, method, path, body, &j);
    if (st != want) {
        char *d = j ? json_dumps(j, 0) : NULL;
        fail_msg("%s %s: %ld, expected %ld: %s", method, path, st, want, d ? d : "");
    }
    return j;
}

static void set_enabled(struct world *w, bool on)
{
    json_decref(call(w, 200, "PATCH", "/api/v1/admin/deployment/settings",
                     on ? "{\"settings\":{\"room_bot_enabled\":true}}"
                        : "{\"settings\":{\"room_bot_enabled\":false}}"));
}

static bool hex_id(const uint8_t id[16], char out[33])
{
    for (int i = 0; i < 16; i++)
        snprintf(out + 2 * i, 3, "%02x", id[i]);
    return true;
}

static int setup(void **state)
{
    struct world *w = calloc(1, sizeof(*w));
    uint8_t id[16];
    char file[400];

    snprintf(w->tmp, sizeof(w->tmp), "/tmp/parley-roombot-XXXXXX");
    if (!mkdtemp(w->tmp) || harness_init(&w->p, NULL) < 0 ||
        harness_provision_user(&w->p, NET, "alice", "initial pw", id) < 0 ||
        harness_provision_user(&w->p, NET, "bob", "initial pw", id) < 0 || !hex_id(id, w->bob_id) ||
        harness_start(&w->p) < 0 || adm_bootstrap(&w->p, &w->super) < 0)
        return -1;

    /* The configuration file every account of the network gets. */
    snprintf(file, sizeof(file), "%s/net.parley", w->tmp);
    if (!(w->cfg = harness_client_config(&w->p, NET, file, "config pass")))
        return -1;
    *state = w;
    return 0;
}

static int teardown(void **state)
{
    struct world *w = *state;
    char cmd[300];
    if (!w)
        return 0;
    if (w->bot > 0) {
        kill(w->bot, SIGTERM);
        waitpid(w->bot, NULL, 0);
    }
    if (getenv("PARLEY_TEST_SHOW_LOG")) {
        snprintf(cmd, sizeof(cmd), "%s/roombot.log", w->tmp);
        char *s = slurp(cmd);
        fprintf(stderr, "# ---- roombot.log ----\n%s\n", s ? s : "(none)");
        free(s);
    }
    parley_client_free(w->alice);
    parley_client_free(w->bob);
    parley_config_free(w->cfg);
    harness_cleanup(&w->p);
    snprintf(cmd, sizeof(cmd), "rm -rf '%s'", w->tmp);
    if (system(cmd) != 0)
        fprintf(stderr, "# cannot remove %s\n", w->tmp);
    free(w);
    return 0;
}

static struct parley_client *user(struct world *w, const char *name)
{
    char dir[300];
    struct parley_client *c = NULL;
    snprintf(dir, sizeof(dir), "%s/%s", w->tmp, name);
    assert_int_equal(parley_client_register(dir, w->cfg, name, "initial pw", NULL, NULL, &c), 0);
    assert_int_equal(parley_client_connect(c), 0);
    assert_int_equal(parley_client_wait_online(c, 15000), 0);
    return c;
}

static void start_bot(struct world *w, const char *token)
{
    char data[300], pw[300], tok[300], cfg[300], log[300];
    snprintf(data, sizeof(data), "%s/roombot", w->tmp);
    snprintf(pw, sizeof(pw), "%s/roombot.pw", w->tmp);
    snprintf(tok, sizeof(tok), "%s/roombot.token", w->tmp);
    snprintf(cfg, sizeof(cfg), "%s/net.parley", w->tmp);
    snprintf(log, sizeof(log), "%s/roombot.log", w->tmp);
    write_text(pw, BOT_PW "\n\nconfig pass\n");
    char *t = adm_fmt("%s\n", token);
    write_text(tok, t);
    free(t);
    char *argv[] = {getenv("PARLEY_ROOMBOT"),
                    "--data-dir",
                    data,
                    "--username",
                    BOT,
                    "--config",
                    cfg,
                    "--password-file",
                    pw,
                    "--token-file",
                    tok,
                    "--interval",
                    INTERVAL,
                    "--log-level",
                    "debug",
                    NULL};
    w->bot = fork();
    assert_true(w->bot >= 0);
    if (w->bot == 0) {
        int fd = open(log, O_WRONLY | O_CREAT | O_APPEND, 0600);
        if (fd < 0 || dup2(fd, 1) < 0 || dup2(fd, 2) < 0)
            _exit(127);
        execv(argv[0], argv);
        _exit(127);
    }
}

/* Whether `name` is a member of `room` as `c` sees it; *role (if not
 * NULL) gets the member's role. */
static bool has_member(struct parley_client *c, const char *room, const char *name,
                       const char **role)
{
    char *mj = NULL;
    bool found = false;
    static char r[32];
    if (parley_conv_members(c, room, &mj) < 0)
        return false;
    json_t *arr = json_loads(mj, 0, NULL), *m;
    size_t i;
    json_array_foreach(arr, i, m)
    {
        const char *n = json_string_value(json_object_get(m, "username"));
        if (n && strcmp(n, name) == 0) {
            found = true;
            snprintf(r, sizeof(r), "%s", json_string_value(json_object_get(m, "role")));
        }
    }
    json_decref(arr);
    free(mj);
    if (role)
        *role = r;
    return found;
}

static bool wait_member(struct parley_client *c, const char *room, const char *name, int secs)
{
    for (int i = 0; i < secs * 5; i++) {
        if (has_member(c, room, name, NULL))
            return true;
        usleep(200 * 1000);
    }
    return false;
}

static bool log_has(struct world *w, const char *text, int secs)
{
    char path[300];
    snprintf(path, sizeof(path), "%s/roombot.log", w->tmp);
    for (int i = 0; i < secs * 5; i++) {
        char *s = slurp(path);
        bool found = s && strstr(s, text);
        free(s);
        if (found)
            return true;
        usleep(200 * 1000);
    }
    return false;
}

static void test_roombot__keeps_default_room(void **state)
{
    struct world *w = *state;
    char room[PARLEY_ID_HEX] = "";
    const char *role;

    /* The administrators' side: the room bot allowed, a bot account, a
     * default room for everyone, and a network token to read them. */
    set_enabled(w, true);
    json_decref(call(w, 201, "POST", "/api/v1/admin/networks/" NET "/bots",
                     "{\"username\":\"" BOT "\",\"password\":\"" BOT_PW "\"}"));
    json_decref(call(w, 201, "POST", "/api/v1/admin/networks/" NET "/default-rooms",
                     "{\"name\":\"All hands\",\"all_users\":true}"));
    /* A second room for one security group, which only bob is in. */
    json_t *g = call(w, 201, "POST", "/api/v1/admin/networks/" NET "/security-groups",
                     "{\"name\":\"Ops\"}");
    long long ops = (long long)json_integer_value(json_object_get(g, "id"));
    json_decref(g);
    char *path = adm_fmt("/api/v1/admin/networks/" NET "/users/%s", w->bob_id);
    char *body = adm_fmt("{\"security_group_id\":%lld}", ops);
    json_decref(call(w, 200, "PATCH", path, body));
    free(path);
    free(body);
    body = adm_fmt("{\"name\":\"Ops room\",\"security_groups\":[%lld]}", ops);
    json_decref(call(w, 201, "POST", "/api/v1/admin/networks/" NET "/default-rooms", body));
    free(body);
    json_t *tok = call(w, 201, "POST", "/api/v1/admin/tokens",
                       "{\"label\":\"room bot\",\"scope\":\"network\",\"network_id\":\"" NET
                       "\",\"permissions\":[\"users.read\",\"networks.read\"]}");

    w->alice = user(w, "alice");
    w->bob = user(w, "bob");
    start_bot(w, json_string_value(json_object_get(tok, "token")));
    json_decref(tok);

    /* alice hears of the new room (4001) from the bot. */
    for (int i = 0; i < 300 && !room[0]; i++) {
        struct parley_event *ev;
        if (parley_client_next_event(w->alice, 200, &ev) < 0)
            continue;
        if (ev->type == PARLEY_EVENT_MESSAGE && ev->msgtype == 4001)
            memcpy(room, ev->conv_id, sizeof(room));
        parley_event_free(ev);
    }
    if (!room[0])
        fail_msg("the room bot created no room");
    assert_true(has_member(w->alice, room, "alice", &role));
    assert_string_equal(role, "member");
    assert_true(has_member(w->alice, room, "bob", &role));
    assert_string_equal(role, "member");
    assert_true(has_member(w->alice, room, BOT, &role));
    assert_string_equal(role, "moderator");
    /* The group's room: bob and the bot, not alice. */
    char ops_room[PARLEY_ID_HEX] = "";
    for (int i = 0; i < 150 && !ops_room[0]; i++) {
        char *lj = NULL;
        assert_int_equal(parley_conv_list(w->bob, &lj), 0);
        json_t *doc = json_loads(lj, 0, NULL), *c;
        json_t *list = json_is_array(doc) ? doc : json_object_get(doc, "conversations");
        size_t k;
        json_array_foreach(list, k, c)
        {
            const char *cid = json_string_value(json_object_get(c, "conv_id"));
            const char *type = json_string_value(json_object_get(c, "type"));
            if (cid && type && strcmp(type, "room") == 0 && strcmp(cid, room) != 0)
                snprintf(ops_room, sizeof(ops_room), "%s", cid);
        }
        json_decref(doc);
        free(lj);
        if (!ops_room[0])
            usleep(200 * 1000);
    }
    if (!ops_room[0])
        fail_msg("bob is in no second room");
    assert_true(has_member(w->bob, ops_room, BOT, &role));
    assert_string_equal(role, "moderator");
    assert_false(has_member(w->bob, ops_room, "alice", NULL));

    /* Only the bot moderates: a member cannot add or remove anyone. */
    const char *gone[] = {"bob"};
    assert_int_not_equal(parley_conv_modify(w->alice, room, NULL, 0, gone, 1, NULL, 0), 0);

    /* bob leaves; the bot puts him back. */
    assert_int_equal(parley_conv_leave(w->bob, room), 0);
    assert_false(has_member(w->alice, room, "bob", NULL));
    assert_true(wait_member(w->alice, room, "bob", 30));
    assert_int_equal(parley_client_send_text(w->bob, room, "back again", NULL), 0);

    /* Turned off: the room stays, bob may leave for good. */
    set_enabled(w, false);
    assert_true(log_has(w, "room bot disabled", 30));
    assert_int_equal(parley_conv_leave(w->bob, room), 0);
    sleep(3 * 2); /* three passes of --interval */
    assert_false(has_member(w->alice, room, "bob", NULL));
    assert_true(has_member(w->alice, room, "alice", NULL));

    /* Turned on again: the room is managed again, the same room. */
    set_enabled(w, true);
    assert_true(wait_member(w->alice, room, "bob", 30));

    /* A clean stop (under the sanitizers: no leak, no error). */
    int st;
    kill(w->bot, SIGTERM);
    assert_int_equal(waitpid(w->bot, &st, 0), w->bot);
    w->bot = 0;
    assert_true(WIFEXITED(st));
    assert_int_equal(WEXITSTATUS(st), 0);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_roombot__keeps_default_room, setup, teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
