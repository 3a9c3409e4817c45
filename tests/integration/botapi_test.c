/* botapi_test.c - the ZeroMQ bot API end to end: a bot written against the
 * npm package wickrio-bot-api 7.1.x (tests/botapi/hello, installed from
 * npm at test time) runs unmodified against parley-botengine, which is a
 * real libparley client of a real parleyd; a real client talks to it.
 *
 * The npm package connects to ipc sockets under /opt/WickrIO/clients (the
 * path is fixed in the package), so the test needs that directory to be
 * writable (CI runs as root); each run uses its own bot name below it and
 * removes it afterwards. Once per store backend. */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <fcntl.h>
#include <pthread.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <jansson.h>
#include <parley/parley.h>
#include <zmq.h>

#include "admin_util.h"
#include "client_harness.h"
#include "harness.h"
#include "provision.h"

#define NET     "net-botapi"
#define IPC_DIR "/opt/WickrIO/clients"
#define BOT     "hellobot"
#define BOT_PW  "Hello-bot-pass-1"

struct world {
    struct parleyd p;
    struct parley_config *cfg;
    char tmp[128]; /* everything of this test: client dirs, bot dir */
    char name[64]; /* the bot's ipc name */
    char botdir[256];
    pid_t engine, node;
    /* Held here so that a failed test leaves nothing behind: teardown
     * frees them. */
    struct parley_client *alice;
    void *zctx;
    void *socks[4];
};

static void rm_tree(const char *dir)
{
    char cmd[600];
    snprintf(cmd, sizeof(cmd), "rm -rf '%s'", dir);
    if (system(cmd) != 0)
        fprintf(stderr, "# cannot remove %s\n", dir);
}

static void write_text(const char *path, const char *text)
{
    FILE *f = fopen(path, "w");
    assert_non_null(f);
    assert_true(fputs(text, f) >= 0);
    assert_int_equal(fclose(f), 0);
}

static void copy_file(const char *from, const char *to)
{
    char *s = harness_read_file(from);
    assert_non_null(s);
    write_text(to, s);
    free(s);
}

static struct parley_config *make_config(struct world *w)
{
    char file[400];
    snprintf(file, sizeof(file), "%s/bot.parley", w->tmp);
    struct parley_config *cfg = harness_client_config(&w->p, NET, file, "config pass");
    assert_non_null(cfg);
    return cfg;
}

/* Start `argv` in `dir` with output to `log` (appended). */
static pid_t spawn(char *const argv[], const char *dir, const char *log)
{
    pid_t pid = fork();
    assert_true(pid >= 0);
    if (pid == 0) {
        int fd = open(log, O_WRONLY | O_CREAT | O_APPEND, 0600);
        if (fd < 0 || dup2(fd, 1) < 0 || dup2(fd, 2) < 0 || (dir && chdir(dir) < 0))
            _exit(127);
        execvp(argv[0], argv);
        _exit(127);
    }
    return pid;
}

/* SIGTERM, then SIGKILL after 30 s. Returns the exit status. */
static int stop_child(pid_t *pid)
{
    int status = -1;
    if (*pid <= 0)
        return 0;
    kill(*pid, SIGTERM);
    for (int i = 0; i < 300; i++) {
        if (waitpid(*pid, &status, WNOHANG) == *pid) {
            *pid = 0;
            return status;
        }
        usleep(100 * 1000);
    }
    kill(*pid, SIGKILL);
    waitpid(*pid, &status, 0);
    *pid = 0;
    return status;
}

static void start_engine(struct world *w)
{
    char data[300], pwfile[300], cfgfile[300], log[300];
    snprintf(data, sizeof(data), "%s/engine", w->tmp);
    snprintf(pwfile, sizeof(pwfile), "%s/engine.pw", w->tmp);
    snprintf(cfgfile, sizeof(cfgfile), "%s/bot.parley", w->tmp);
    snprintf(log, sizeof(log), "%s/engine.log", w->tmp);
    char *argv[] = {getenv("PARLEY_BOTENGINE"),
                    "--data-dir",
                    data,
                    "--username",
                    BOT,
                    "--config",
                    cfgfile,
                    "--password-file",
                    pwfile,
                    "--name",
                    w->name,
                    "--log-level",
                    "debug",
                    NULL};
    w->engine = spawn(argv, NULL, log);
}

static void start_bot(struct world *w)
{
    char log[300];
    snprintf(log, sizeof(log), "%s/bot.log", w->tmp);
    char *argv[] = {"node", "bot.js", NULL};
    w->node = spawn(argv, w->botdir, log);
}

static int teardown(void **state);

/* Setup failed at `what`: say so, undo what was done. */
static int setup_failed(struct world *w, const char *what)
{
    fprintf(stderr, "# setup: %s\n", what);
    teardown((void **)&w);
    return -1;
}

static int setup(void **state)
{
    struct world *w = calloc(1, sizeof(*w));
    uint8_t id[16];
    char cmd[1200], path[400], src[400];
    const char *root = getenv("PARLEY_SOURCE_ROOT"), *cache = getenv("PARLEY_NPM_CACHE");

    if (!w)
        return -1;
    if (!root || !cache || !getenv("PARLEY_BOTENGINE"))
        return setup_failed(w, "PARLEY_SOURCE_ROOT, PARLEY_NPM_CACHE or PARLEY_BOTENGINE unset");
    snprintf(w->tmp, sizeof(w->tmp), "/tmp/parley-botapi-XXXXXX");
    if (!mkdtemp(w->tmp)) {
        w->tmp[0] = '\0';
        return setup_failed(w, "mkdtemp");
    }
    /* The npm packages of the bot, from the registry on the first run and
     * from the build directory's cache after. */
    snprintf(cmd, sizeof(cmd), "'%s/tests/botapi/npm-install.sh' '%s/tests/botapi/hello' '%s'",
             root, root, cache);
    if (system(cmd) != 0)
        return setup_failed(w, "npm install of the test bot failed");
    /* The bot's integration directory, as the runtime lays it out. */
    snprintf(w->botdir, sizeof(w->botdir), "%s/bot", w->tmp);
    if (mkdir(w->botdir, 0700) < 0)
        return setup_failed(w, "mkdir of the bot directory");
    static const char *files[] = {"bot.js", "package.json"};
    for (size_t i = 0; i < 2; i++) {
        snprintf(src, sizeof(src), "%s/tests/botapi/hello/%s", root, files[i]);
        snprintf(path, sizeof(path), "%s/%s", w->botdir, files[i]);
        copy_file(src, path);
    }
    snprintf(src, sizeof(src), "%s/node_modules", cache);
    snprintf(path, sizeof(path), "%s/node_modules", w->botdir);
    if (symlink(src, path) < 0)
        return setup_failed(w, "symlink to node_modules");
    snprintf(w->name, sizeof(w->name), "parley-test-%ld", (long)getpid());
    json_t *proc = json_pack("{s[{sss{s{s{sssb}}}}]}", "apps", "name", "hello", "env", "tokens",
                             "WICKRIO_BOT_NAME", "value", w->name, "encrypted", 0);
    char *pj = json_dumps(proc, JSON_INDENT(2));
    snprintf(path, sizeof(path), "%s/processes.json", w->botdir);
    write_text(path, pj);
    free(pj);
    json_decref(proc);
    /* Line 1: the bot's password; line 3: the configuration file's. */
    snprintf(path, sizeof(path), "%s/engine.pw", w->tmp);
    write_text(path, BOT_PW "\n\nconfig pass\n");

    if (mkdir("/opt/WickrIO", 0755) < 0 && errno != EEXIST)
        return setup_failed(w, "cannot create /opt/WickrIO (the npm package's fixed path): run "
                               "as root");
    if (harness_init(&w->p, NULL) < 0 ||
        harness_provision_user(&w->p, NET, "alice", "initial pw", id) < 0 ||
        harness_start(&w->p) < 0)
        return setup_failed(w, "parleyd did not start");
    /* The bot account, made as a network administrator makes it. */
    struct adm super;
    json_t *made = NULL;
    if (adm_bootstrap(&w->p, &super) < 0 ||
        adm_req(&w->p, &super, "POST", "/api/v1/admin/networks/" NET "/bots",
                "{\"username\":\"" BOT "\",\"password\":\"" BOT_PW "\"}", &made) != 201) {
        json_decref(made);
        return setup_failed(w, "the bot account was not made");
    }
    json_decref(made);
    w->cfg = make_config(w);
    *state = w;
    return 0;
}

static void show(struct world *w, const char *file)
{
    char path[400];
    snprintf(path, sizeof(path), "%s/%s", w->tmp, file);
    char *s = harness_read_file(path);
    fprintf(stderr, "# ---- %s ----\n%s\n", file, s ? s : "(none)");
    free(s);
}

static int teardown(void **state)
{
    struct world *w = *state;
    char dir[300];
    if (!w)
        return 0;
    stop_child(&w->node);
    stop_child(&w->engine);
    if (getenv("PARLEY_TEST_SHOW_LOG") && w->tmp[0]) {
        show(w, "engine.log");
        show(w, "bot.log");
    }
    for (size_t i = 0; i < sizeof(w->socks) / sizeof(w->socks[0]); i++)
        if (w->socks[i])
            zmq_close(w->socks[i]);
    if (w->zctx)
        zmq_ctx_term(w->zctx);
    parley_client_free(w->alice);
    parley_config_free(w->cfg);
    if (w->p.dir[0])
        harness_cleanup(&w->p);
    if (w->name[0]) {
        snprintf(dir, sizeof(dir), "%s/%s", IPC_DIR, w->name);
        rm_tree(dir);
    }
    if (w->tmp[0])
        rm_tree(w->tmp);
    free(w);
    return 0;
}

/* alice, registered and online; teardown frees her client. */
static struct parley_client *alice_online(struct world *w)
{
    char dir[300];
    snprintf(dir, sizeof(dir), "%s/alice", w->tmp);
    assert_int_equal(
        parley_client_register(dir, w->cfg, "alice", "initial pw", NULL, NULL, &w->alice), 0);
    assert_int_equal(parley_client_connect(w->alice), 0);
    assert_int_equal(parley_client_wait_online(w->alice, 15000), 0);
    return w->alice;
}

/* The engine's command channel endpoint. */
static void endpoint(const struct world *w, char *ep, size_t len)
{
    snprintf(ep, len, "ipc://%s/%s/tmp/0", IPC_DIR, w->name);
}

/* A REQ socket on the command channel; teardown closes what is left. */
static void *open_req(struct world *w, int timeout_ms)
{
    char ep[300];
    int zero = 0;
    size_t i;

    if (!w->zctx)
        assert_non_null(w->zctx = zmq_ctx_new());
    for (i = 0; i < sizeof(w->socks) / sizeof(w->socks[0]) && w->socks[i]; i++)
        ;
    assert_true(i < sizeof(w->socks) / sizeof(w->socks[0]));
    void *sock = zmq_socket(w->zctx, ZMQ_REQ);
    assert_non_null(sock);
    w->socks[i] = sock;
    zmq_setsockopt(sock, ZMQ_RCVTIMEO, &timeout_ms, sizeof(timeout_ms));
    zmq_setsockopt(sock, ZMQ_LINGER, &zero, sizeof(zero));
    endpoint(w, ep, sizeof(ep));
    assert_int_equal(zmq_connect(sock, ep), 0);
    return sock;
}

static void close_req(struct world *w, void *sock)
{
    for (size_t i = 0; i < sizeof(w->socks) / sizeof(w->socks[0]); i++)
        if (w->socks[i] == sock)
            w->socks[i] = NULL;
    zmq_close(sock);
}

/* The next text message in `conv` (NULL: any) within `secs`; its text. */
static char *next_text(struct world *w, struct parley_client *c, const char *from_user,
                       char conv_out[PARLEY_ID_HEX], int secs)
{
    for (int i = 0; i < secs * 5; i++) {
        struct parley_event *ev;
        if (parley_client_next_event(c, 200, &ev) < 0)
            continue;
        if (ev->type == PARLEY_EVENT_MESSAGE && ev->msgtype == 1000 &&
            strcmp(ev->sender, from_user) == 0) {
            json_t *body = json_loads(ev->body, 0, NULL);
            char *text = strdup(json_string_value(json_object_get(body, "message")));
            if (conv_out)
                memcpy(conv_out, ev->conv_id, PARLEY_ID_HEX);
            json_decref(body);
            parley_event_free(ev);
            return text;
        }
        parley_event_free(ev);
    }
    show(w, "engine.log");
    show(w, "bot.log");
    fail_msg("no answer from the bot in %d s", secs);
    return NULL;
}

static void expect_answer(struct world *w, struct parley_client *a, const char *bot_id,
                          const char *to, const char *say, const char *want, int secs)
{
    char conv[PARLEY_ID_HEX];
    assert_int_equal(parley_client_send_text(a, to, say, NULL), 0);
    char *got = next_text(w, a, bot_id, conv, secs), said[512];
    snprintf(said, sizeof(said), "%s", got);
    free(got);
    if (strcmp(said, want) != 0)
        fail_msg("bot answered \"%s\", expected \"%s\"", said, want);
    if (strlen(to) == 32)
        assert_string_equal(conv, to);
}

/* The engine's user id: the bot's account signs in as BOT. */
static void bot_user_id(struct world *w, struct parley_client *a, char out[PARLEY_ID_HEX])
{
    char number[PARLEY_SAFETY_NUMBER_LEN], qr[PARLEY_QR_CODE_LEN], *mj = NULL;
    const char *members[] = {BOT};
    char room[PARLEY_ID_HEX];
    (void)number;
    (void)qr;
    /* A throwaway group tells alice the bot's user id. */
    assert_int_equal(parley_conv_create(a, "group", "id", members, 1, NULL, 0, 0, 0, room), 0);
    assert_int_equal(parley_conv_members(a, room, &mj), 0);
    json_t *arr = json_loads(mj, 0, NULL), *m;
    size_t i;
    out[0] = '\0';
    json_array_foreach(arr, i, m)
    {
        if (strcmp(json_string_value(json_object_get(m, "username")), BOT) == 0)
            snprintf(out, PARLEY_ID_HEX, "%s", json_string_value(json_object_get(m, "user_id")));
    }
    json_decref(arr);
    free(mj);
    assert_int_equal(strlen(out), 32);
    assert_int_equal(parley_conv_leave(a, room), 0);
}

static void test_botapi__npm_bot_answers(void **state)
{
    struct world *w = *state;
    char path[400], bot[PARLEY_ID_HEX], room[PARLEY_ID_HEX];

    start_engine(w);
    start_bot(w);
    struct parley_client *a = alice_online(w);

    /* The engine registers the bot account on its first start. */
    for (int i = 0; i < 600; i++) {
        snprintf(path, sizeof(path), "%s/engine/botapi.key", w->tmp);
        if (access(path, F_OK) == 0)
            break;
        usleep(100 * 1000);
    }
    bot_user_id(w, a, bot);

    /* A direct message: the bot parses the command and answers with
     * cmdSend1to1Message. The first start of node, the bot and the engine
     * may take a while on a loaded machine. */
    expect_answer(w, a, bot, BOT, "/echo hi there", "Hello alice, you said: hi there", 90);
    expect_answer(w, a, bot, BOT, "/secret s3cr3t words", "secret ok: true", 30);
    expect_answer(w, a, bot, BOT, "/unsupported", "unsupported: Failure", 30);

    /* A room: the bot sees a room vgroupid ("S...") and answers in the room
     * with cmdSendRoomMessage. */
    const char *members[] = {BOT};
    assert_int_equal(parley_conv_create(a, "room", "Bots", members, 1, NULL, 0, 0, 0, room), 0);
    expect_answer(w, a, bot, room, "hello room", "Welcome back alice (room)", 30);
    expect_answer(w, a, bot, BOT, "/rooms", "rooms: 1", 30);

    /* The bot keeps its user list sealed by the engine (encrypt_string). */
    snprintf(path, sizeof(path), "%s/users.txt", w->botdir);
    char *users = harness_read_file(path);
    assert_non_null(users);
    assert_int_equal(strncmp(users, "pbs1.", 5), 0);
    assert_null(strstr(users, "alice"));
    free(users);

    /* Both restart: the per-bot secret survives, so the bot decrypts its
     * user list and knows alice. */
    assert_int_equal(stop_child(&w->node) >= 0, 1);
    int st = stop_child(&w->engine);
    if (!WIFEXITED(st) || WEXITSTATUS(st) != 0) {
        show(w, "engine.log");
        fail_msg("the engine stopped with status %#x", st);
    }
    start_engine(w);
    start_bot(w);
    expect_answer(w, a, bot, BOT, "/echo again", "Welcome back alice, you said: again", 90);
}

/* A room message request for vgroupid `vg` (free() it). */
static char *room_send_req(const char *vg)
{
    char *s = malloc(256);
    snprintf(s, 256, "{\"action\":\"send_message\",\"vgroupid\":\"%s\",\"message\":\"hi\"}", vg);
    return s;
}

/* One request on the command channel; the reply (free() it). */
static char *ask(void *sock, const char *req)
{
    char buf[65536];
    assert_int_equal(zmq_send(sock, req, strlen(req), 0), (int)strlen(req));
    int n = zmq_recv(sock, buf, sizeof(buf) - 1, 0);
    if (n < 0)
        fail_msg("no answer to %s: %s", req, zmq_strerror(zmq_errno()));
    assert_true(n < (int)sizeof(buf));
    buf[n] = '\0';
    return strdup(buf);
}

static void expect(void *sock, const char *req, const char *prefix)
{
    char *got = ask(sock, req), said[512];
    snprintf(said, sizeof(said), "%s", got);
    free(got);
    if (strncmp(said, prefix, strlen(prefix)) != 0)
        fail_msg("%s answered \"%s\", expected \"%s...\"", req, said, prefix);
}

/* "0:RUNNING" from the engine on `sock` within 30 s. */
static void wait_running(void *sock)
{
    for (int i = 0; i < 300; i++) {
        char *got = ask(sock, "{\"action\":\"get_state\"}");
        bool running = strcmp(got, "0:RUNNING") == 0;
        free(got);
        if (running)
            return;
        usleep(100 * 1000);
    }
    fail_msg("the engine is not running after 30 s");
}

/* The command channel spoken directly: every kind of answer, and bad
 * frames answered with a reason rather than a crash. */
static void test_botapi__command_channel(void **state)
{
    struct world *w = *state;
    char *got;

    start_engine(w);
    struct parley_client *a = alice_online(w);
    void *sock = open_req(w, 60000);

    expect(sock, "{\"action\":\"ping\"}", "0:pong");
    wait_running(sock);

    /* Bad frames. */
    expect(sock, "", "400:request is not valid JSON");
    expect(sock, "\xff\xfe{", "400:request is not valid JSON");
    expect(sock, "{\"action\":\"launch\"}", "400:unknown action \"launch\"");
    expect(sock, "{\"action\":\"get_room\"}", "400:get_room: field \"vgroupid\" is required");
    expect(sock, "{\"action\":\"send_message\",\"vgroupid\":\"Sfeed\"}",
           "400:send_message: field \"message\" is required");
    expect(sock, "{\"action\":\"send_message\",\"message\":\"m\"}", "400:send_message: give");
    expect(sock, "{\"action\":\"send_message\",\"vgroupid\":\"Sfeed\",\"message\":\"m\"}",
           "404:send_message: no such conversation");
    expect(sock,
           "{\"action\":\"send_message\",\"users\":[{\"name\":\"nobody\"}],"
           "\"message\":\"m\"}",
           "404:send_message: 1 of 1 not sent (nobody:");
    expect(sock, "{\"action\":\"decrypt_string\",\"string\":\"plain\"}", "400:decrypt_string");

    /* What Parley has no counterpart for fails clearly. */
    expect(sock, "{\"action\":\"get_security_groups\"}", "501:security groups");
    expect(sock, "{\"action\":\"set_urlcallback\",\"callback\":\"http://x\"}", "501:URL");
    expect(sock,
           "{ \"action\" : \"set_streaming\", \"type\" : \"file\", \"destination\" : "
           "\"relative\", \"base_name\" : \"b\", \"max_file_size\" : 10000, \"attachments\" : "
           "\"/a\" }",
           "400:set_streaming: \"destination\" must be an absolute path");
    expect(sock,
           "{ \"action\" : \"set_streaming\", \"type\" : \"file\", \"destination\" : "
           "\"/tmp\", \"base_name\" : \"b\", \"max_file_size\" : 5, \"attachments\" : "
           "\"/a\" }",
           "400:set_streaming: \"max_file_size\" must be");
    expect(sock, "{ \"action\" : \"set_streaming\", \"type\" : \"off\" }", "0:Success");

    /* Streaming to files, as compliance bots ask: three messages of 4 KB
     * fill a 10 000-byte file, so the third starts a new one. */
    char req[1024], path[400];
    snprintf(req, sizeof(req),
             "{ \"action\" : \"set_streaming\", \"type\" : \"file\", \"destination\" : "
             "\"%s/stream/messages\",  \"base_name\" : \"receivedMessages\", \"max_file_size\" "
             ": 10000, \"attachments\" : \"%s/stream/attachments\" }",
             w->tmp, w->tmp);
    expect(sock, req, "0:Success");
    char *big = malloc(4001);
    for (int k = 0; k < 3; k++) {
        memset(big, 'a' + k, 4000);
        big[4000] = '\0';
        assert_int_equal(parley_client_send_text(a, BOT, big, NULL), 0);
    }
    free(big);
    snprintf(path, sizeof(path), "%s/stream/messages/receivedMessages.log", w->tmp);
    char *current = NULL;
    for (int i = 0; i < 300; i++) {
        free(current);
        current = harness_read_log(path);
        if (current && strstr(current, "cccc"))
            break;
        usleep(100 * 1000);
    }
    assert_non_null(current);
    assert_non_null(strstr(current, "cccc"));
    assert_null(strstr(current, "aaaa"));
    json_t *line = json_loads(current, JSON_DISABLE_EOF_CHECK, NULL);
    assert_non_null(line);
    assert_string_equal(json_string_value(json_object_get(line, "sender")), "alice");
    assert_string_equal(json_string_value(json_object_get(line, "receiver")), BOT);
    json_decref(line);
    free(current);
    char cmd[600];
    snprintf(cmd, sizeof(cmd),
             "test $(ls '%s/stream/messages' | grep -c '^receivedMessages\\.2[0-9T]*Z\\.log$') = 1 "
             "&& grep -c aaaa '%s/stream/messages/'receivedMessages.2*.log | grep -qx 1",
             w->tmp, w->tmp);
    assert_int_equal(system(cmd), 0);
    expect(sock, "{ \"action\" : \"set_streaming\", \"type\" : \"off\" }", "0:Success");
    expect(sock, "{ \"action\" : \"set_control\", \"contactbackup\" : \"false\" }", "0:Success");
    expect(sock, "{ \"action\" : \"set_control\", \"complianceruntime\" : \"true\" }",
           "501:set_control");
    expect(sock,
           "{\"action\":\"send_message\",\"users\":[{\"name\":\"alice\"}],"
           "\"attachment\":{\"filename\":\"/etc/passwd\"}}",
           "501:send_message: attachments");

    /* Key-values persist under the bot's key. */
    expect(sock, "{\"action\":\"add_keyvalue\",\"key\":\"k\",\"value\":\"v1\"}", "0:Success");
    expect(sock, "{\"action\":\"get_keyvalue\",\"key\":\"k\"}", "0:v1");
    expect(sock, "{\"action\":\"delete_keyvalue\",\"key\":\"k\"}", "0:Success");
    expect(sock, "{\"action\":\"get_keyvalue\",\"key\":\"k\"}", "404:");

    /* Rooms: create with alice, see her in it, send, leave. */
    got = ask(sock, "{\"action\":\"add_room\",\"room\":{\"members\":[{\"name\":\"alice\"}],"
                    "\"masters\":[],\"title\":\"Bots\",\"description\":\"\",\"ttl\":\"\","
                    "\"bor\":\"\"}}");
    assert_int_equal(strncmp(got, "0:{", 3), 0);
    json_t *room = json_loads(got + 2, 0, NULL);
    const char *vg = json_string_value(json_object_get(room, "vgroupid"));
    assert_non_null(vg);
    assert_int_equal(strlen(vg), 64);
    assert_int_equal(vg[0], 'S');
    free(got);
    got = ask(sock, "{\"action\":\"get_rooms\"}");
    assert_non_null(strstr(got, vg));
    assert_non_null(strstr(got, "\"masters\":[{\"name\":\"" BOT "\"}]"));
    assert_non_null(strstr(got, "{\"name\":\"alice\"}"));
    free(got);
    /* modify_room with the room's own title changes nothing; another
     * title is not supported. */
    snprintf(req, sizeof(req),
             "{\"action\":\"modify_room\",\"vgroupid\":\"%s\",\"members\":[{\"name\":"
             "\"alice\"}],\"masters\":[],\"title\":\"Bots\"}",
             vg);
    expect(sock, req, "0:Success");
    snprintf(req, sizeof(req),
             "{\"action\":\"modify_room\",\"vgroupid\":\"%s\",\"members\":[],\"masters\":[],"
             "\"title\":\"Renamed\"}",
             vg);
    expect(sock, req, "501:modify_room: changing a room's title");
    char *sreq = room_send_req(vg);
    expect(sock, sreq, "0:Success");
    free(sreq);
    /* alice has the room (4001) and the bot's message in it. */
    char room_id[PARLEY_ID_HEX] = "";
    bool heard = false;
    for (int i = 0; i < 150 && !heard; i++) {
        struct parley_event *ev;
        if (parley_client_next_event(a, 200, &ev) < 0)
            continue;
        if (ev->type == PARLEY_EVENT_MESSAGE && ev->msgtype == 4001)
            memcpy(room_id, ev->conv_id, sizeof(room_id));
        if (ev->type == PARLEY_EVENT_MESSAGE && ev->msgtype == 1000 &&
            strcmp(ev->conv_id, room_id) == 0 && strstr(ev->body, "\"hi\""))
            heard = true;
        parley_event_free(ev);
    }
    assert_true(heard);
    got = ask(sock, "{\"action\":\"get_statistics\"}");
    assert_non_null(strstr(got, "\"sent\":1"));
    free(got);
    json_decref(room);

    /* A message the bot has not taken survives the engine being killed,
     * and is nowhere in the engine's files in the clear. */
    assert_int_equal(parley_client_send_text(a, BOT, "kept for later", NULL), 0);
    for (int i = 0; i < 150; i++) {
        got = ask(sock, "{\"action\":\"get_statistics\"}");
        bool queued = strstr(got, "\"pending_messages\":1") != NULL;
        free(got);
        if (queued)
            break;
        usleep(200 * 1000);
    }
    close_req(w, sock);
    kill(w->engine, SIGKILL);
    waitpid(w->engine, NULL, 0);
    w->engine = 0;
    snprintf(cmd, sizeof(cmd), "grep -rqF 'kept for later' '%s/engine'", w->tmp);
    assert_int_not_equal(system(cmd), 0);

    start_engine(w);
    sock = open_req(w, 60000);
    wait_running(sock);
    got = ask(sock, "{\"action\":\"get_received_messages\"}");
    assert_non_null(strstr(got, "\"message\":\"kept for later\""));
    free(got);
    expect(sock, "{\"action\":\"get_received_messages\"}", "0:{ }");

    /* Taken, it is gone for good: not queued again after a restart. */
    close_req(w, sock);
    int st = stop_child(&w->engine);
    if (!WIFEXITED(st) || WEXITSTATUS(st) != 0) {
        show(w, "engine.log");
        fail_msg("the engine stopped with status %#x", st);
    }
    start_engine(w);
    sock = open_req(w, 60000);
    wait_running(sock);
    expect(sock, "{\"action\":\"get_received_messages\"}", "0:{ }");

    close_req(w, sock);
    st = stop_child(&w->engine);
    if (!WIFEXITED(st) || WEXITSTATUS(st) != 0) {
        show(w, "engine.log");
        fail_msg("the engine stopped with status %#x", st);
    }
}

struct pinger {
    void *ctx;
    const char *ep;
    int answered;
};

/* Pings on a socket of its own until the engine stops answering. */
static void *pinger_run(void *arg)
{
    struct pinger *p = arg;
    char buf[64];
    void *sock = zmq_socket(p->ctx, ZMQ_REQ);
    int timeout = 3000, zero = 0;
    zmq_setsockopt(sock, ZMQ_RCVTIMEO, &timeout, sizeof(timeout));
    zmq_setsockopt(sock, ZMQ_LINGER, &zero, sizeof(zero));
    if (zmq_connect(sock, p->ep) == 0) {
        for (;;) {
            if (zmq_send(sock, "{\"action\":\"ping\"}", 17, 0) != 17 ||
                zmq_recv(sock, buf, sizeof(buf), 0) < 0)
                break;
            p->answered++;
        }
    }
    zmq_close(sock);
    return NULL;
}

/* SIGTERM while the engine is busy answering requests and taking in
 * messages: it stops cleanly every time, and every message it took in
 * reaches the bot after a restart. */
static void test_botapi__stops_cleanly_when_busy(void **state)
{
    enum { ROUNDS = 3, PER_ROUND = 4 };
    struct world *w = *state;
    char ep[300], text[64];
    bool seen[ROUNDS * PER_ROUND] = {false};
    int n_seen = 0;

    start_engine(w);
    struct parley_client *a = alice_online(w);
    endpoint(w, ep, sizeof(ep));

    for (int r = 0; r < ROUNDS; r++) {
        void *sock = open_req(w, 60000);
        wait_running(sock);
        close_req(w, sock);
        struct pinger p = {w->zctx, ep, 0};
        pthread_t th;
        assert_int_equal(pthread_create(&th, NULL, pinger_run, &p), 0);
        for (int k = 0; k < PER_ROUND; k++) {
            snprintf(text, sizeof(text), "busy %d", r * PER_ROUND + k);
            assert_int_equal(parley_client_send_text(a, BOT, text, NULL), 0);
        }
        usleep((useconds_t)(r * 40 * 1000));
        int st = stop_child(&w->engine);
        pthread_join(th, NULL);
        if (!WIFEXITED(st) || WEXITSTATUS(st) != 0) {
            show(w, "engine.log");
            fail_msg("round %d: the engine stopped with status %#x after %d answers", r, st,
                     p.answered);
        }
        start_engine(w);
    }

    /* Everything sent is there, once, sealed in the queue or delivered
     * again by the server. */
    void *sock = open_req(w, 60000);
    wait_running(sock);
    for (int i = 0; i < 300 && n_seen < ROUNDS * PER_ROUND; i++) {
        char *got = ask(sock, "{\"action\":\"get_received_messages\"}");
        /* One message per answer; "0:{ }" when none is waiting. */
        json_t *m = strncmp(got, "0:", 2) == 0 ? json_loads(got + 2, 0, NULL) : NULL;
        const char *t = json_string_value(json_object_get(m, "message"));
        int k;
        if (t && sscanf(t, "busy %d", &k) == 1 && k >= 0 && k < ROUNDS * PER_ROUND) {
            if (seen[k])
                fail_msg("message \"%s\" reached the bot twice", t);
            seen[k] = true;
            n_seen++;
        }
        if (!t)
            usleep(200 * 1000);
        json_decref(m);
        free(got);
    }
    for (int k = 0; k < ROUNDS * PER_ROUND; k++)
        if (!seen[k]) {
            show(w, "engine.log");
            fail_msg("message \"busy %d\" never reached the bot", k);
        }
    close_req(w, sock);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_botapi__npm_bot_answers, setup, teardown),
        cmocka_unit_test_setup_teardown(test_botapi__command_channel, setup, teardown),
        cmocka_unit_test_setup_teardown(test_botapi__stops_cleanly_when_busy, setup, teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
