/* bot_test.c - parley-bot and the compliance integration end to end: a
 * network created with its compliance bot through the admin API, the real
 * parley-bot binary (add, start, list, pause, run) and real libparley
 * clients sending every message type through a real parleyd. Every line
 * of the retention log is held against Appendix A/B (retention_check.c);
 * the log rotates; an offline bot catches up on 1,000 messages; a bot
 * killed with SIGKILL mid-stream loses and repeats nothing. Runs once per
 * store backend. */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <dirent.h>
#include <fcntl.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <jansson.h>
#include <parley/parley.h>
#include <zmq.h>

#include "admin_util.h"
#include "client_harness.h"
#include "harness.h"
#include "retention_check.h"

#define USER_PW  "User-Initial-Pw-1!"
#define BOT_PW   "Bot-Initial-Pw-1!"
#define CFG_PW   "config pass"
#define MAX_FILE 20000

struct world {
    struct parleyd p;
    char tmp[128];
    char home[256], msgdir[300], cfgfile[300];
    char network_id[64];
    struct parley_config *cfg;
    struct parley_client *u[3];
    struct adm a;
};

static const char *names[3] = {"alice", "bob", "carol"};

/* ---- running parley-bot ---- */

static int bot(struct world *w, char **out, const char *arg, ...)
{
    char *args[32], tout[] = "/tmp/parley-bot-out.XXXXXX";
    int fo = mkstemp(tout), n = 0, status;
    va_list ap;

    args[n++] = getenv("PARLEY_BOT");
    args[n++] = "--home";
    args[n++] = w->home;
    va_start(ap, arg);
    for (const char *a = arg; a && n < 31; a = va_arg(ap, const char *))
        args[n++] = (char *)a;
    va_end(ap);
    args[n] = NULL;
    pid_t pid = fork();
    if (pid == 0) {
        dup2(fo, 1);
        dup2(fo, 2);
        execv(args[0], args);
        _exit(127);
    }
    waitpid(pid, &status, 0);
    if (out) {
        struct stat sb;
        fstat(fo, &sb);
        *out = calloc(1, (size_t)sb.st_size + 1);
        if (pread(fo, *out, (size_t)sb.st_size, 0) < 0)
            (*out)[0] = '\0';
    }
    close(fo);
    unlink(tout);
    return WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
}

static void write_file(const char *path, const char *text)
{
    FILE *f = fopen(path, "w");
    assert_non_null(f);
    fputs(text, f);
    fclose(f);
}

/* ---- the retention log as a whole ---- */

struct line {
    char id[33];
    int msgtype;
    json_t *o;
};

struct logview {
    struct line *l;
    size_t n, cap;
    size_t files, rotated;
    size_t max_file;
};

static void logview_free(struct logview *v)
{
    for (size_t i = 0; i < v->n; i++)
        json_decref(v->l[i].o);
    free(v->l);
    memset(v, 0, sizeof(*v));
}

static int cmp_name(const void *a, const void *b)
{
    return strcmp(*(char *const *)a, *(char *const *)b);
}

/* Read every file, rotated ones first in number order, then the current
 * one; check every line. */
static void read_log(struct world *w, struct logview *v)
{
    DIR *d = opendir(w->msgdir);
    struct dirent *e;
    char *files[512];
    size_t nf = 0;

    memset(v, 0, sizeof(*v));
    assert_non_null(d);
    while ((e = readdir(d)) && nf < 511)
        if (strncmp(e->d_name, "msgs.", 5) == 0 && strcmp(e->d_name, "msgs.log") != 0)
            files[nf++] = strdup(e->d_name);
    closedir(d);
    qsort(files, nf, sizeof(files[0]), cmp_name);
    v->rotated = nf;
    files[nf++] = strdup("msgs.log");
    for (size_t f = 0; f < nf; f++) {
        char path[600], err[256];
        snprintf(path, sizeof(path), "%s/%s", w->msgdir, files[f]);
        char *s = harness_read_log(path);
        free(files[f]);
        if (!s)
            continue;
        v->files++;
        if (strlen(s) > v->max_file)
            v->max_file = strlen(s);
        if (*s)
            assert_int_equal(s[strlen(s) - 1], '\n'); /* whole lines only */
        for (char *p = s, *nl; *p; p = nl + 1) {
            nl = strchr(p, '\n');
            assert_non_null(nl);
            *nl = '\0';
            if (retention_check_line(p, err, sizeof(err)) != 0)
                fail_msg("%s: %s", err, p);
            if (v->n == v->cap) {
                v->cap = v->cap ? 2 * v->cap : 256;
                v->l = realloc(v->l, v->cap * sizeof(*v->l));
            }
            struct line *l = &v->l[v->n++];
            l->o = json_loads(p, 0, NULL);
            snprintf(l->id, sizeof(l->id), "%s",
                     json_string_value(json_object_get(l->o, "message_id")));
            l->msgtype = (int)json_integer_value(json_object_get(l->o, "msgtype"));
        }
        free(s);
    }
}

static json_t *find_line(struct logview *v, const char *id)
{
    for (size_t i = 0; i < v->n; i++)
        if (strcmp(v->l[i].id, id) == 0)
            return v->l[i].o;
    return NULL;
}

static size_t count_id(struct logview *v, const char *id)
{
    size_t n = 0;
    for (size_t i = 0; i < v->n; i++)
        n += strcmp(v->l[i].id, id) == 0;
    return n;
}

static int cmp_str(const void *a, const void *b)
{
    return strcmp((const char *)a, (const char *)b);
}

/* No message id appears twice in the whole log. */
static void assert_no_duplicates(struct logview *v)
{
    char(*ids)[33] = calloc(v->n + 1, 33);
    for (size_t i = 0; i < v->n; i++)
        memcpy(ids[i], v->l[i].id, 33);
    qsort(ids, v->n, 33, cmp_str);
    for (size_t i = 1; i < v->n; i++)
        if (strcmp(ids[i - 1], ids[i]) == 0)
            fail_msg("message %s is in the log twice", ids[i]);
    free(ids);
}

/* Wait until every id in `ids` is in the log (up to `timeout_s`). */
static void wait_for(struct world *w, char (*ids)[PARLEY_ID_HEX], size_t n, int timeout_s,
                     struct logview *v)
{
    for (int t = 0; t < timeout_s * 4; t++) {
        size_t found = 0;
        read_log(w, v);
        for (size_t i = 0; i < n; i++)
            found += find_line(v, ids[i]) != NULL;
        if (found == n)
            return;
        logview_free(v);
        usleep(250 * 1000);
    }
    read_log(w, v);
    for (size_t i = 0; i < n; i++)
        if (!find_line(v, ids[i]))
            fail_msg("message %s never reached the retention log", ids[i]);
}

/* ---- set-up ---- */

static struct parley_config *make_config(struct world *w)
{
    snprintf(w->cfgfile, sizeof(w->cfgfile), "%s/bot.parley", w->tmp);
    struct parley_config *cfg = harness_client_config(&w->p, w->network_id, w->cfgfile, CFG_PW);
    assert_non_null(cfg);
    return cfg;
}

static int setup(void **state)
{
    struct world *w = calloc(1, sizeof(*w));
    struct adm *ap = &w->a, a;
    json_t *out = NULL;
    char *body, *stdout_text = NULL, path[400];

    snprintf(w->tmp, sizeof(w->tmp), "/tmp/parley-bot-test-XXXXXX");
    if (!mkdtemp(w->tmp) || harness_init(&w->p, NULL) < 0 || harness_start(&w->p) < 0 ||
        adm_bootstrap(&w->p, ap) < 0)
        return -1;
    a = *ap;
    /* The network and its compliance bot, before any user. */
    if (adm_req(&w->p, &a, "POST", "/api/v1/admin/networks",
                "{\"name\":\"Retention\",\"compliance_bot\":{\"username\":\"compliancebot\","
                "\"password\":\"" BOT_PW "\"}}",
                &out) != 201)
        return -1;
    snprintf(w->network_id, sizeof(w->network_id), "%s",
             json_string_value(json_object_get(out, "network_id")));
    json_decref(out);
    for (int i = 0; i < 3; i++) {
        char *p = adm_fmt("/api/v1/admin/networks/%s/users", w->network_id);
        body = adm_fmt("{\"username\":\"%s\",\"password\":\"" USER_PW "\"}", names[i]);
        long st = adm_req(&w->p, &a, "POST", p, body, NULL);
        free(p);
        free(body);
        if (st != 201)
            return -1;
    }
    w->cfg = make_config(w);
    snprintf(w->home, sizeof(w->home), "%s/home", w->tmp);
    snprintf(w->msgdir, sizeof(w->msgdir), "%s/msgs", w->tmp);
    snprintf(path, sizeof(path), "%s/botpw", w->tmp);
    write_file(path, BOT_PW "\n");
    char cpath[400], mset[400], aset[400];
    snprintf(cpath, sizeof(cpath), "%s/cfgpw", w->tmp);
    write_file(cpath, CFG_PW "\n");
    snprintf(mset, sizeof(mset), "message_dir=%s", w->msgdir);
    snprintf(aset, sizeof(aset), "attachment_dir=%s/att", w->tmp);
    int rc = bot(w, &stdout_text, "add", "--username", "compliancebot", "--config", w->cfgfile,
                 "--password-file", path, "--config-password-file", cpath, "--integration",
                 "compliance", "--autologin", "yes", "--set", "new_file_save=yes", "--set", mset,
                 "--set", "file_prefix=msgs", "--set", "max_file_bytes=20000", "--set", aset,
                 "--set", "restart_minutes=0", NULL);
    if (rc != 0 || !strstr(stdout_text, "GENERATED PASSWORD") ||
        !strstr(stdout_text, "USER SIGNING KEY")) {
        fprintf(stderr, "# parley-bot add: %d\n%s", rc, stdout_text ? stdout_text : "");
        return -1;
    }
    free(stdout_text);
    if (bot(w, NULL, "start", "compliancebot", "--yes", NULL) != 0)
        return -1;
    for (int i = 0; i < 3; i++) {
        char dir[300];
        snprintf(dir, sizeof(dir), "%s/%s", w->tmp, names[i]);
        if (parley_client_register(dir, w->cfg, names[i], USER_PW, NULL, NULL, &w->u[i]) < 0 ||
            parley_client_connect(w->u[i]) < 0 || parley_client_wait_online(w->u[i], 20000) < 0)
            return -1;
    }
    *state = w;
    return 0;
}

static int teardown(void **state)
{
    struct world *w = *state;
    char cmd[300];
    if (!w)
        return 0;
    bot(w, NULL, "pause", "compliancebot", NULL);
    if (getenv("PARLEY_TEST_SHOW_LOG")) {
        char path[400];
        snprintf(path, sizeof(path), "%s/clients/compliancebot/bot.log", w->home);
        char *s = harness_read_file(path);
        fprintf(stderr, "%s", s ? s : "(no bot log)\n");
        free(s);
        snprintf(path, sizeof(path), "%s/msgs.000001.log", w->msgdir);
        s = harness_read_file(path);
        fprintf(stderr, "%s", s ? s : "(no retention log)\n");
        free(s);
    }
    for (int i = 0; i < 3; i++)
        parley_client_free(w->u[i]);
    parley_config_free(w->cfg);
    harness_cleanup(&w->p);
    snprintf(cmd, sizeof(cmd), "rm -rf '%s'", w->tmp);
    if (system(cmd) != 0)
        fprintf(stderr, "# cannot remove %s\n", w->tmp);
    free(w);
    return 0;
}

/* ---- sending ---- */

static void send_ok(struct parley_client *c, const char *to, const char *payload,
                    char id[PARLEY_ID_HEX])
{
    int rc = parley_client_send(c, to, payload, id);
    if (rc < 0)
        fail_msg("send %s to %s: %s", payload, to, parley_strerror(rc));
}

/* The payload of the k-th message of a cycle through every type that a
 * direct conversation carries (control messages need a room: see below). */
static char *payload_of(int k, const char *ref_id)
{
    switch (k % 10) {
    case 0:
        return adm_fmt("{\"msgtype\":1000,\"message\":\"message %d\"}", k);
    case 1:
        return adm_fmt("{\"msgtype\":1000,\"message\":\"see https://x.example/%d\","
                       "\"links\":[{\"url\":\"https://x.example/%d\"}]}",
                       k, k);
    case 2:
        return adm_fmt("{\"msgtype\":3000,\"keyverify\":{\"msgtype\":%d,\"verifiedkey\":\"00ab\"}}",
                       1 + k % 5);
    case 3:
        return adm_fmt("{\"msgtype\":6000,\"file\":{\"filename\":\"f%d.gif\",\"guid\":\"g-%d\","
                       "\"isscreenshot\":false}}",
                       k, k);
    case 4:
        return adm_fmt("{\"msgtype\":7000,\"call\":{\"status\":%d,\"participants\":[]}}", k % 4);
    case 5:
        return adm_fmt("{\"msgtype\":8000,\"location\":{\"latitude\":40.75,\"longitude\":-74.99}}");
    case 6:
        return adm_fmt("{\"msgtype\":9000,\"edit\":{\"type\":\"location\",\"latitude\":1.5,"
                       "\"longitude\":2.5,\"shareexpiration\":\"\"}}");
    case 7:
        return adm_fmt("{\"msgtype\":9000,\"edit\":{\"type\":\"text\",\"originalmessageid\":\"%s\","
                       "\"text\":\"https://howdoyoudo.example\"}}",
                       ref_id);
    case 8:
        return adm_fmt("{\"msgtype\":4012,\"control\":{\"attributes\":[{\"isstarred\":true,"
                       "\"msgid\":\"%s\"}]}}",
                       ref_id);
    default:
        return adm_fmt("{\"msgtype\":4011,\"control\":{\"isrecall\":%s,\"msgid\":\"%s\"}}",
                       k % 2 ? "true" : "false", ref_id);
    }
}

/* ---- tests ---- */

static void test_bot__lists_the_running_bot(void **state)
{
    struct world *w = *state;
    char *out = NULL;
    assert_int_equal(bot(w, &out, "list", NULL), 0);
    assert_non_null(strstr(out, "compliancebot"));
    assert_non_null(strstr(out, "Running"));
    assert_non_null(strstr(out, "compliance"));
    free(out);
    assert_int_equal(bot(w, &out, "list", "--json", NULL), 0);
    json_t *arr = json_loads(out, 0, NULL);
    assert_string_equal(json_string_value(json_object_get(json_array_get(arr, 0), "status")),
                        "Running");
    json_decref(arr);
    free(out);
    /* Bad input gets a clear error, not a crash. */
    assert_int_equal(bot(w, &out, "start", "nobody", "--yes", NULL), 1);
    assert_non_null(strstr(out, "no such bot"));
    free(out);
    assert_int_equal(bot(w, &out, "frobnicate", NULL), 2);
    free(out);
}

/* Line `l` of a message in a room that burns messages `secs` after
 * reading: "bor" is the message's time plus `secs`, in the "time" format
 * (UTC). */
static void assert_bor(json_t *l, int secs)
{
    const char *mts = json_string_value(json_object_get(l, "msg_ts"));
    time_t at;
    struct tm tm;
    char want[64];

    assert_non_null(mts);
    at = (time_t)strtoll(mts, NULL, 10) + secs;
    gmtime_r(&at, &tm);
    snprintf(want, sizeof(want), "%d/%d/%02d %d:%02d %s", tm.tm_mon + 1, tm.tm_mday,
             tm.tm_year % 100, tm.tm_hour % 12 ? tm.tm_hour % 12 : 12, tm.tm_min,
             tm.tm_hour < 12 ? "AM" : "PM");
    assert_string_equal(json_string_value(json_object_get(l, "bor")), want);
}

/* Every message type, through real clients, in a direct conversation, a
 * group and a room; every line checked against Appendix A/B. */
static void test_bot__every_message_type(void **state)
{
    struct world *w = *state;
    char ids[64][PARLEY_ID_HEX], room[PARLEY_ID_HEX], group[PARLEY_ID_HEX];
    size_t n = 0;
    struct logview v;

    for (int k = 0; k < 10; k++) {
        char *p = payload_of(k, n ? ids[0] : "0123456789abcdef0123456789abcdef");
        send_ok(w->u[0], "bob", p, ids[n++]);
        free(p);
    }
    send_ok(w->u[1], "alice", "{\"msgtype\":4014,\"control\":{\"pinned\":true}}", ids[n++]);
    const char *members[] = {"bob", "carol"}, *mods[] = {"bob"};
    assert_int_equal(parley_conv_create(w->u[0], "room", "Creating a room", members, 2, mods, 1,
                                        2592000, 60, room),
                     0);
    send_ok(w->u[1], room, "{\"msgtype\":1000,\"message\":\"in a secure room\"}", ids[n++]);
    send_ok(w->u[0], room,
            "{\"msgtype\":4004,\"control\":{\"changemask\":12,\"title\":\"t\","
            "\"description\":\"d\"}}",
            ids[n++]);
    const char *rm[] = {"carol"};
    assert_int_equal(parley_conv_modify(w->u[0], room, NULL, 0, rm, 1, NULL, 0), 0);
    assert_int_equal(parley_conv_leave(w->u[1], room), 0);
    assert_int_equal(parley_conv_delete(w->u[0], room), 0);
    assert_int_equal(parley_conv_create(w->u[2], "group", NULL, members, 1, NULL, 0, 0, 0, group),
                     0);
    send_ok(w->u[2], group, "{\"msgtype\":1000,\"message\":\"in a group\"}", ids[n++]);

    wait_for(w, ids, n, 60, &v);
    /* The control messages without a returned id are there too. */
    bool seen[10000] = {0};
    for (size_t i = 0; i < v.n; i++)
        seen[v.l[i].msgtype] = true;
    static const int types[] = {1000, 3000, 4001, 4002, 4003, 4004, 4005,
                                4011, 4012, 4014, 6000, 7000, 8000, 9000};
    for (size_t i = 0; i < sizeof(types) / sizeof(types[0]); i++)
        if (!seen[types[i]])
            fail_msg("no line of msgtype %d", types[i]);

    json_t *dm = find_line(&v, ids[0]);
    assert_string_equal(json_string_value(json_object_get(dm, "sender")), "alice");
    assert_string_equal(json_string_value(json_object_get(dm, "receiver")), "bob");
    assert_string_equal(json_string_value(json_object_get(dm, "sender_type")), "normal");
    assert_int_equal(strlen(json_string_value(json_object_get(dm, "vgroupid"))), 64);
    json_t *pin = find_line(&v, ids[10]);
    assert_string_equal(json_string_value(json_object_get(pin, "receiver")), "alice");
    json_t *rl = find_line(&v, ids[11]);
    assert_int_equal(json_string_value(json_object_get(rl, "vgroupid"))[0], 'S');
    assert_null(json_object_get(rl, "receiver"));
    assert_bor(rl, 60);
    assert_non_null(json_object_get(rl, "ttl"));
    json_t *gl = find_line(&v, ids[13]);
    assert_int_equal(json_string_value(json_object_get(gl, "vgroupid"))[0], 'G');
    for (size_t i = 0; i < v.n; i++) {
        if (v.l[i].msgtype != 4001)
            continue;
        json_t *c = json_object_get(v.l[i].o, "control");
        char *m = json_dumps(json_object_get(c, "members"), JSON_COMPACT);
        assert_non_null(strstr(m, "\"bob\""));
        free(m);
        assert_int_equal(json_integer_value(json_object_get(c, "msgtype")), 4001);
    }
    assert_no_duplicates(&v);
    logview_free(&v);
}

/* Enough text to pass the 20,000-byte limit several times. */
static void test_bot__rotates(void **state)
{
    struct world *w = *state;
    char ids[60][PARLEY_ID_HEX], big[900];
    struct logview v;

    memset(big, 'r', sizeof(big) - 1);
    big[sizeof(big) - 1] = '\0';
    for (int i = 0; i < 60; i++) {
        char *p = adm_fmt("{\"msgtype\":1000,\"message\":\"%d %s\"}", i, big);
        send_ok(w->u[i % 3], names[(i + 1) % 3], p, ids[i]);
        free(p);
    }
    wait_for(w, ids, 60, 60, &v);
    assert_true(v.rotated >= 2);
    assert_true(v.max_file <= MAX_FILE);
    assert_no_duplicates(&v);
    logview_free(&v);
}

struct sender {
    struct world *w;
    int who, count, first;
    char (*ids)[PARLEY_ID_HEX];
    const char *room;
};

static void *send_many(void *arg)
{
    struct sender *s = arg;
    for (int k = 0; k < s->count; k++) {
        int i = s->first + k;
        char *p;
        const char *to;
        if (k % 7 == 6) {
            /* Room control messages, by the room's moderator. */
            p = adm_fmt("{\"msgtype\":4004,\"control\":{\"changemask\":4,\"title\":\"t%d\"}}", i);
            to = s->room;
        } else {
            p = payload_of(i, s->ids[s->first]);
            to = names[(s->who + 1) % 3];
        }
        int rc = parley_client_send(s->w->u[s->who], to, p, s->ids[i]);
        free(p);
        if (rc < 0) {
            fprintf(stderr, "# send %d: %s\n", i, parley_strerror(rc));
            return (void *)1;
        }
    }
    return NULL;
}

/* Send `total` messages of every type from the three users at once. */
static void send_burst(struct world *w, char (*ids)[PARLEY_ID_HEX], int total)
{
    char room[PARLEY_ID_HEX];
    const char *members[] = {"bob", "carol"}, *mods[] = {"bob", "carol"};
    pthread_t th[3];
    struct sender s[3];
    int per = total / 3;

    assert_int_equal(parley_conv_create(w->u[0], "room", "burst", members, 2, mods, 2, 0, 0, room),
                     0);
    for (int i = 0; i < 3; i++) {
        s[i] = (struct sender){w, i, i == 2 ? total - 2 * per : per, i * per, ids, room};
        pthread_create(&th[i], NULL, send_many, &s[i]);
    }
    for (int i = 0; i < 3; i++) {
        void *r;
        pthread_join(th[i], &r);
        assert_null(r);
    }
}

static void test_bot__offline_catch_up(void **state)
{
    struct world *w = *state;
    char(*ids)[PARLEY_ID_HEX] = calloc(1000, PARLEY_ID_HEX), *out = NULL;
    struct logview v;

    assert_int_equal(bot(w, &out, "pause", "compliancebot", NULL), 0);
    free(out);
    assert_int_equal(bot(w, &out, "list", NULL), 0);
    assert_non_null(strstr(out, "Paused"));
    free(out);
    send_burst(w, ids, 1000);
    /* Nothing reaches the log while the bot is away. */
    read_log(w, &v);
    for (int i = 0; i < 1000; i++)
        assert_null(find_line(&v, ids[i]));
    logview_free(&v);
    struct timespec t0, t1;
    clock_gettime(CLOCK_MONOTONIC, &t0);
    assert_int_equal(bot(w, NULL, "start", "compliancebot", "--yes", NULL), 0);
    wait_for(w, ids, 1000, 300, &v);
    clock_gettime(CLOCK_MONOTONIC, &t1);
    /* For information (not a benchmark): start, sign-in and catch-up. */
    fprintf(stderr, "# caught up on 1000 messages in %.1f s\n",
            (double)(t1.tv_sec - t0.tv_sec) + (t1.tv_nsec - t0.tv_nsec) / 1e9);
    for (int i = 0; i < 1000; i++)
        assert_int_equal(count_id(&v, ids[i]), 1);
    assert_no_duplicates(&v);
    logview_free(&v);
    free(ids);
}

static pid_t running_pid(struct world *w)
{
    char *out = NULL;
    pid_t pid = 0;
    if (bot(w, &out, "list", "--json", NULL) == 0) {
        json_t *arr = json_loads(out, 0, NULL);
        pid = (pid_t)json_integer_value(json_object_get(json_array_get(arr, 0), "pid"));
        json_decref(arr);
    }
    free(out);
    return pid;
}

/* SIGKILL while the bot writes: after a restart nothing is missing and
 * nothing is there twice, and the files are still whole lines. */
static void test_bot__kill9_mid_stream(void **state)
{
    struct world *w = *state;
    char(*ids)[PARLEY_ID_HEX] = calloc(600, PARLEY_ID_HEX), *out = NULL;
    struct logview v;
    size_t before = 0, at_kill = 0;

    assert_int_equal(bot(w, &out, "pause", "compliancebot", NULL), 0);
    free(out);
    read_log(w, &v);
    before = v.n;
    logview_free(&v);
    send_burst(w, ids, 600);
    assert_int_equal(bot(w, NULL, "start", "compliancebot", "--yes", NULL), 0);
    pid_t pid = running_pid(w);
    assert_true(pid > 0);
    /* Kill as soon as the first new lines are there. */
    for (int t = 0; t < 20000 && at_kill == 0; t++) {
        struct stat sb;
        char path[400];
        snprintf(path, sizeof(path), "%s/msgs.log", w->msgdir);
        if (stat(path, &sb) == 0 && sb.st_size > 0) {
            read_log(w, &v);
            if (v.n > before)
                at_kill = v.n - before;
            logview_free(&v);
        }
        if (!at_kill)
            usleep(2000);
    }
    assert_int_equal(kill(pid, SIGKILL), 0);
    for (int t = 0; t < 100 && running_pid(w) != 0; t++)
        usleep(100 * 1000);
    fprintf(stderr, "# killed after %zu of 600 lines\n", at_kill);
    assert_true(at_kill > 0);
    assert_int_equal(bot(w, NULL, "start", "compliancebot", "--yes", NULL), 0);
    wait_for(w, ids, 600, 300, &v);
    for (int i = 0; i < 600; i++)
        assert_int_equal(count_id(&v, ids[i]), 1);
    assert_no_duplicates(&v);
    logview_free(&v);
    free(ids);
}

/* ---- attachments ---- */

/* `n` bytes: text when `text`, else every byte value, from a seeded
 * generator (binary files with NULs, 0xff, CR and LF). */
static void make_file(const char *path, size_t n, bool text, unsigned seed)
{
    FILE *f = fopen(path, "wb");
    assert_non_null(f);
    for (size_t i = 0; i < n; i++) {
        seed = seed * 1103515245u + 12345u;
        int ch = text ? "retention copy\n"[i % 15] : (int)((seed >> 16) & 0xff);
        fputc(ch, f);
    }
    assert_int_equal(fclose(f), 0);
}

static bool same_bytes(const char *a, const char *b)
{
    FILE *fa = fopen(a, "rb"), *fb = fopen(b, "rb");
    bool same = fa && fb;
    while (same) {
        int ca = fgetc(fa), cb = fgetc(fb);
        same = ca == cb;
        if (ca == EOF)
            break;
    }
    if (fa)
        fclose(fa);
    if (fb)
        fclose(fb);
    return same;
}

static void send_file(struct world *w, int from, const char *to, const char *path,
                      const char *shown, char id[PARLEY_ID_HEX])
{
    char why[256] = "";
    struct parley_file_opts o = {.name = shown, .error = why, .error_len = sizeof(why)};
    int rc = parley_file_send(w->u[from], to, path, &o, id);
    if (rc < 0)
        fail_msg("send file %s: %s (%s)", path, parley_strerror(rc), why);
}

/* A room created, and a message sent in it, while the bot is paused: both
 * reach the bot in one batch, before the room's settings are applied (they
 * wait for the moderator check), and the message's line still carries the
 * room's burn-on-read time. */
static void test_bot__room_settings_in_one_batch(void **state)
{
    struct world *w = *state;
    char ids[1][PARLEY_ID_HEX], room[PARLEY_ID_HEX], *out = NULL;
    const char *members[] = {"bob"};
    struct logview v;

    assert_int_equal(bot(w, &out, "pause", "compliancebot", NULL), 0);
    free(out);
    assert_int_equal(
        parley_conv_create(w->u[0], "room", "Burning", members, 1, NULL, 0, 0, 90, room), 0);
    send_ok(w->u[0], room, "{\"msgtype\":1000,\"message\":\"burns 90 s after reading\"}", ids[0]);
    assert_int_equal(bot(w, NULL, "start", "compliancebot", "--yes", NULL), 0);
    wait_for(w, ids, 1, 120, &v);
    assert_bor(find_line(&v, ids[0]), 90);
    assert_no_duplicates(&v);
    logview_free(&v);
}

/* Real files through real clients: the line carries Appendix A's file
 * fields, its localfilename is a byte-identical copy inside the
 * attachment directory, whatever name the sender chose. */
static void test_bot__attachments(void **state)
{
    struct world *w = *state;
    char ids[5][PARLEY_ID_HEX], src[5][400], attdir[300], room[PARLEY_ID_HEX];
    struct logview v;
    static const char *shown[] = {"notes.txt", "photo.bin", "../../../../tmp/escape.txt",
                                  "notes.txt", "room plan.pdf"};
    const char *members[] = {"bob", "carol"}, *mods[] = {"bob"};

    snprintf(attdir, sizeof(attdir), "%s/att", w->tmp);
    for (int i = 0; i < 5; i++)
        snprintf(src[i], sizeof(src[i]), "%s/src%d", w->tmp, i);
    make_file(src[0], 3000, true, 1);
    make_file(src[1], 2621440 + 17, false, 2); /* three 1 MiB records */
    make_file(src[2], 100, true, 3);
    make_file(src[3], 0, true, 4); /* same shown name as the first, empty */
    make_file(src[4], 70000, false, 5);
    unlink("/tmp/escape.txt");
    send_file(w, 0, "bob", src[0], shown[0], ids[0]);
    send_file(w, 1, "alice", src[1], shown[1], ids[1]);
    send_file(w, 0, "carol", src[2], shown[2], ids[2]);
    send_file(w, 0, "bob", src[3], shown[3], ids[3]);
    assert_int_equal(parley_conv_create(w->u[0], "room", "Files", members, 2, mods, 1, 0, 0, room),
                     0);
    send_file(w, 2, room, src[4], shown[4], ids[4]);

    wait_for(w, ids, 5, 120, &v);
    for (int i = 0; i < 5; i++) {
        json_t *l = find_line(&v, ids[i]), *f = json_object_get(l, "file");
        const char *local = json_string_value(json_object_get(f, "localfilename"));
        assert_int_equal(json_integer_value(json_object_get(l, "msgtype")), 6000);
        assert_string_equal(json_string_value(json_object_get(f, "filename")), shown[i]);
        assert_int_equal(strlen(json_string_value(json_object_get(f, "guid"))), 32);
        assert_string_equal(json_string_value(json_object_get(f, "uploadedbyuser")),
                            names[i == 1   ? 1
                                  : i == 4 ? 2
                                           : 0]);
        assert_string_equal(json_string_value(json_object_get(f, "uploadedtimestamp")),
                            json_string_value(json_object_get(l, "time")));
        assert_false(json_is_true(json_object_get(f, "isscreenshot")));
        assert_null(json_object_get(f, "key")); /* the file key stays out of the log */
        if (!local)
            fail_msg("no localfilename for %s", shown[i]);
        /* attachment_<YYYYMMDDhhmmssmmm>_<name>, directly in the directory. */
        assert_int_equal(strncmp(local, attdir, strlen(attdir)), 0);
        assert_int_equal(local[strlen(attdir)], '/');
        assert_null(strchr(local + strlen(attdir) + 1, '/'));
        assert_int_equal(strncmp(local + strlen(attdir) + 1, "attachment_", 11), 0);
        assert_int_equal(local[strlen(attdir) + 1 + 11 + 17], '_');
        char *real = realpath(local, NULL);
        assert_non_null(real);
        assert_int_equal(strncmp(real, attdir, strlen(attdir)), 0);
        free(real);
        if (!same_bytes(src[i], local))
            fail_msg("%s is not a byte-identical copy of %s", local, shown[i]);
    }
    json_t *esc = json_object_get(find_line(&v, ids[2]), "file");
    assert_non_null(
        strstr(json_string_value(json_object_get(esc, "localfilename")), "_escape.txt"));
    assert_int_equal(access("/tmp/escape.txt", F_OK), -1);
    /* Two attachments never share a copy. */
    assert_string_not_equal(json_string_value(json_object_get(
                                json_object_get(find_line(&v, ids[0]), "file"), "localfilename")),
                            json_string_value(json_object_get(
                                json_object_get(find_line(&v, ids[3]), "file"), "localfilename")));
    assert_no_duplicates(&v);
    logview_free(&v);
}

/* The server's blob of file `guid`. */
static void blob_of(const struct world *w, const char *guid, char *out, size_t n)
{
    snprintf(out, n, "%s/files/%s", w->p.dir, guid);
}

/* The server's most recently written blob. */
static void newest_blob(const struct world *w, char *out, size_t n)
{
    char dir[300], path[600];
    struct timespec best = {0, 0};
    struct dirent *e;
    struct stat st;
    DIR *d;

    snprintf(dir, sizeof(dir), "%s/files", w->p.dir);
    assert_non_null(d = opendir(dir));
    out[0] = 0;
    while ((e = readdir(d))) {
        snprintf(path, sizeof(path), "%s/%s", dir, e->d_name);
        if (e->d_name[0] == '.' || stat(path, &st) < 0 || !S_ISREG(st.st_mode))
            continue;
        if (st.st_mtim.tv_sec > best.tv_sec ||
            (st.st_mtim.tv_sec == best.tv_sec && st.st_mtim.tv_nsec > best.tv_nsec)) {
            best = st.st_mtim;
            snprintf(out, n, "%s", path);
        }
    }
    closedir(d);
    assert_true(out[0] != 0);
}

/* A file recalled by its uploader before the bot could fetch it: nobody
 * else can read it any more, but the server holds its blob for the
 * compliance bot, which still keeps a byte-identical copy; once the bot
 * has it, the blob goes. */
static void test_bot__attachment_recalled(void **state)
{
    struct world *w = *state;
    char ids[2][PARLEY_ID_HEX], src[400], dst[400], blob[600], why[256] = "", *out = NULL;
    struct parley_file_opts o = {.error = why, .error_len = sizeof(why)};
    struct logview v;
    struct stat st;

    snprintf(src, sizeof(src), "%s/recalled", w->tmp);
    snprintf(dst, sizeof(dst), "%s/recalled.out", w->tmp);
    make_file(src, 5000, false, 9);
    assert_int_equal(bot(w, &out, "pause", "compliancebot", NULL), 0);
    free(out);
    send_file(w, 0, "bob", src, "recalled.bin", ids[0]);
    assert_int_equal(parley_file_delete(w->u[0], ids[0]), 0);
    /* Gone for the members, the uploader included. */
    assert_int_equal(parley_file_get(w->u[0], ids[0], dst, &o), PARLEY_ENOTFOUND);
    send_ok(w->u[0], "bob", "{\"msgtype\":1000,\"message\":\"after the file\"}", ids[1]);
    assert_int_equal(bot(w, NULL, "start", "compliancebot", "--yes", NULL), 0);
    wait_for(w, ids, 2, 120, &v);
    json_t *f = json_object_get(find_line(&v, ids[0]), "file");
    assert_string_equal(json_string_value(json_object_get(f, "filename")), "recalled.bin");
    const char *local = json_string_value(json_object_get(f, "localfilename"));
    if (!local)
        fail_msg("the recalled file has no copy in the attachment directory");
    assert_true(same_bytes(src, local));
    blob_of(w, json_string_value(json_object_get(f, "guid")), blob, sizeof(blob));
    for (int i = 0; i < 200 && stat(blob, &st) == 0; i++)
        usleep(50 * 1000);
    assert_int_not_equal(stat(blob, &st), 0);
    assert_no_duplicates(&v);
    logview_free(&v);
}

/* Pause the bot, then send bob a 5000-byte file named `name` (contents
 * from `seed`); its message id in `id`, the path of its blob in `blob`. */
static void send_while_paused(struct world *w, const char *name, int seed, char *id, char *blob,
                              size_t blob_len)
{
    char src[400], *out = NULL;

    snprintf(src, sizeof(src), "%s/%s", w->tmp, name);
    make_file(src, 5000, false, seed);
    assert_int_equal(bot(w, &out, "pause", "compliancebot", NULL), 0);
    free(out);
    send_file(w, 0, "bob", src, name, id);
    newest_blob(w, blob, blob_len);
}

/* The paused bot started after file message ids[0]: a text message
 * (ids[1]) follows it, both get their line, the file's without
 * localfilename, and each once. */
static void bot_logs_without_copy(struct world *w, char (*ids)[PARLEY_ID_HEX], const char *name)
{
    struct logview v;

    send_ok(w->u[0], "bob", "{\"msgtype\":1000,\"message\":\"after the file\"}", ids[1]);
    assert_int_equal(bot(w, NULL, "start", "compliancebot", "--yes", NULL), 0);
    wait_for(w, ids, 2, 120, &v);
    json_t *f = json_object_get(find_line(&v, ids[0]), "file");
    assert_string_equal(json_string_value(json_object_get(f, "filename")), name);
    assert_null(json_object_get(f, "localfilename"));
    assert_no_duplicates(&v);
    logview_free(&v);
}

/* parleyd again on the same port and data, with `extra` as its extra
 * configuration; the clients reconnect by themselves. */
static void restart_server(struct world *w, const char *extra)
{
    free(w->p.extra_config);
    w->p.extra_config = extra ? strdup(extra) : NULL;
    w->p.keep_port = true;
    assert_int_equal(harness_stop(&w->p, SIGTERM, 20, NULL), 0);
    assert_int_equal(harness_start(&w->p), 0);
    for (int i = 0; i < 3; i++)
        assert_int_equal(parley_client_wait_online(w->u[i], 30000), 0);
}

/* With compliance_file_hold_days = 0 nothing is held: a recalled file's
 * blob goes at the next sweep although the bot has not fetched it, and the
 * bot, late, still logs the message, without localfilename, and goes on. */
static void test_bot__attachment_not_held_when_hold_is_off(void **state)
{
    struct world *w = *state;
    char ids[2][PARLEY_ID_HEX], blob[600];
    struct stat st;

    restart_server(w, "compliance_file_hold_days = 0");
    send_while_paused(w, "unheld.bin", 11, ids[0], blob, sizeof(blob));
    assert_int_equal(stat(blob, &st), 0);
    assert_int_equal(parley_file_delete(w->u[0], ids[0]), 0);
    for (int i = 0; i < 200 && stat(blob, &st) == 0; i++)
        usleep(50 * 1000);
    if (stat(blob, &st) == 0)
        fail_msg("the recalled file's blob is still there with holding off");
    bot_logs_without_copy(w, ids, "unheld.bin");
    restart_server(w, NULL);
}

/* A blob changed on the server's disk: the bot refuses the copy, the
 * message still gets its line, without localfilename, and the bot goes
 * on. */
static void test_bot__attachment_tampered(void **state)
{
    struct world *w = *state;
    char ids[2][PARLEY_ID_HEX], blob[600];
    uint8_t byte;

    send_while_paused(w, "tampered.bin", 10, ids[0], blob, sizeof(blob));
    int fd = open(blob, O_RDWR);
    assert_true(fd >= 0);
    assert_int_equal(pread(fd, &byte, 1, 100), 1);
    byte ^= 0x10;
    assert_int_equal(pwrite(fd, &byte, 1, 100), 1);
    close(fd);
    bot_logs_without_copy(w, ids, "tampered.bin");
}

/* A download that fails (here: the bot cannot write its download) holds
 * its line back, and the lines after it, until it works: then the line
 * comes with its copy, in the order the messages arrived. */
static void test_bot__attachment_retried(void **state)
{
    struct world *w = *state;
    char ids[2][PARLEY_ID_HEX], src[400], incoming[400], cmd[500];
    struct logview v;

    snprintf(src, sizeof(src), "%s/later.bin", w->tmp);
    make_file(src, 150000, false, 11);
    snprintf(incoming, sizeof(incoming), "%s/att/.incoming", w->tmp);
    snprintf(cmd, sizeof(cmd), "rm -rf '%s'", incoming);
    assert_int_equal(system(cmd), 0);
    write_file(incoming, "not a directory\n");
    send_file(w, 1, "carol", src, "later.bin", ids[0]);
    send_ok(w->u[1], "carol", "{\"msgtype\":1000,\"message\":\"after the held file\"}", ids[1]);
    sleep(4);
    read_log(w, &v);
    assert_null(find_line(&v, ids[0]));
    assert_null(find_line(&v, ids[1]));
    logview_free(&v);
    assert_int_equal(unlink(incoming), 0);
    wait_for(w, ids, 2, 90, &v);
    json_t *f = json_object_get(find_line(&v, ids[0]), "file");
    const char *local = json_string_value(json_object_get(f, "localfilename"));
    assert_non_null(local);
    assert_true(same_bytes(src, local));
    size_t at_file = 0, at_text = 0;
    for (size_t i = 0; i < v.n; i++) {
        if (strcmp(v.l[i].id, ids[0]) == 0)
            at_file = i;
        if (strcmp(v.l[i].id, ids[1]) == 0)
            at_text = i;
    }
    assert_true(at_file < at_text);
    assert_no_duplicates(&v);
    logview_free(&v);
}

/* ---- other integrations ---- */

/* `parley-bot add` with the bot engine integration, then `start`: the
 * runtime launches parley-botengine with the bot's account, and its
 * ZeroMQ command channel answers; `pause` stops it. */
static void test_bot__engine_integration(void **state)
{
    struct world *w = *state;
    char *p = adm_fmt("/api/v1/admin/networks/%s/bots", w->network_id), *out = NULL;
    char pwpath[400], cpath[400], ipc[300], iset[400], ep[400], buf[256];

    assert_int_equal(adm_req(&w->p, &w->a, "POST", p,
                             "{\"username\":\"enginebot\",\"password\":\"" BOT_PW "\"}", NULL),
                     201);
    free(p);
    snprintf(pwpath, sizeof(pwpath), "%s/botpw", w->tmp);
    snprintf(cpath, sizeof(cpath), "%s/cfgpw", w->tmp);
    snprintf(ipc, sizeof(ipc), "%s/ipc", w->tmp);
    snprintf(iset, sizeof(iset), "ipc_dir=%s", ipc);
    int rc = bot(w, &out, "add", "--username", "enginebot", "--config", w->cfgfile,
                 "--password-file", pwpath, "--config-password-file", cpath, "--integration",
                 "botengine", "--autologin", "yes", "--set", iset, NULL);
    if (rc != 0)
        fail_msg("add enginebot: %s", out);
    free(out);
    assert_int_equal(bot(w, &out, "start", "enginebot", "--yes", NULL), 0);
    free(out);
    assert_int_equal(bot(w, &out, "list", NULL), 0);
    assert_non_null(strstr(out, "botengine"));
    free(out);

    void *ctx = zmq_ctx_new(), *sock = zmq_socket(ctx, ZMQ_REQ);
    int timeout = 60000, zero = 0, n;
    zmq_setsockopt(sock, ZMQ_RCVTIMEO, &timeout, sizeof(timeout));
    zmq_setsockopt(sock, ZMQ_LINGER, &zero, sizeof(zero));
    snprintf(ep, sizeof(ep), "ipc://%s/enginebot/tmp/0", ipc);
    assert_int_equal(zmq_connect(sock, ep), 0);
    assert_int_equal(zmq_send(sock, "{\"action\":\"ping\"}", 17, 0), 17);
    n = zmq_recv(sock, buf, sizeof(buf) - 1, 0);
    if (n < 0) {
        char path[400];
        snprintf(path, sizeof(path), "%s/clients/enginebot/bot.log", w->home);
        char *log = harness_read_file(path);
        fail_msg("the engine does not answer: %s\n%s", zmq_strerror(zmq_errno()),
                 log ? log : "(no log)");
    }
    buf[n] = '\0';
    assert_string_equal(buf, "0:pong");
    /* The engine is signed in as the bot: it reports its own name. */
    assert_int_equal(zmq_send(sock, "{\"action\":\"get_state\"}", 22, 0), 22);
    n = zmq_recv(sock, buf, sizeof(buf) - 1, 0);
    assert_true(n > 0);
    zmq_close(sock);

    assert_int_equal(bot(w, &out, "pause", "enginebot", NULL), 0);
    free(out);
    assert_int_equal(bot(w, &out, "list", NULL), 0);
    char *row = strstr(out, "enginebot");
    assert_non_null(row);
    assert_non_null(strstr(row, "Paused"));
    free(out);
    /* Stopped with the bot: nobody answers any more. */
    sock = zmq_socket(ctx, ZMQ_REQ);
    timeout = 2000;
    zmq_setsockopt(sock, ZMQ_RCVTIMEO, &timeout, sizeof(timeout));
    zmq_setsockopt(sock, ZMQ_LINGER, &zero, sizeof(zero));
    assert_int_equal(zmq_connect(sock, ep), 0);
    zmq_send(sock, "{\"action\":\"ping\"}", 17, ZMQ_DONTWAIT);
    assert_true(zmq_recv(sock, buf, sizeof(buf) - 1, 0) < 0);
    zmq_close(sock);
    zmq_ctx_term(ctx);
    assert_int_equal(bot(w, &out, "delete", "enginebot", "--yes", NULL), 0);
    free(out);
}

/* A room alice is in where `bot` is a moderator, or "" (out). */
static void room_moderated_by(struct parley_client *c, const char *bot_name,
                              char out[PARLEY_ID_HEX])
{
    char *lj = NULL;
    out[0] = '\0';
    if (parley_conv_list(c, &lj) < 0)
        return;
    json_t *doc = json_loads(lj, 0, NULL), *conv;
    json_t *list = json_is_array(doc) ? doc : json_object_get(doc, "conversations");
    size_t k;
    json_array_foreach(list, k, conv)
    {
        const char *cid = json_string_value(json_object_get(conv, "conv_id"));
        const char *type = json_string_value(json_object_get(conv, "type"));
        char *mj = NULL;
        if (!cid || !type || strcmp(type, "room") != 0 || parley_conv_members(c, cid, &mj) < 0)
            continue;
        json_t *arr = json_loads(mj, 0, NULL), *m;
        size_t i;
        json_array_foreach(arr, i, m)
        {
            const char *n = json_string_value(json_object_get(m, "username"));
            const char *r = json_string_value(json_object_get(m, "role"));
            if (n && r && strcmp(n, bot_name) == 0 && strcmp(r, "moderator") == 0)
                snprintf(out, PARLEY_ID_HEX, "%s", cid);
        }
        json_decref(arr);
        free(mj);
    }
    json_decref(doc);
    free(lj);
}

/* `parley-bot add` with the room bot integration, then `start`: the
 * runtime launches parley-roombot with the bot's account and the admin
 * API token the answers name, and it creates the network's default room
 * with alice in it. A bad answer is refused, naming the question. */
static void test_bot__roombot_integration(void **state)
{
    struct world *w = *state;
    char *out = NULL, pwpath[400], cpath[400], tokpath[400], tset[450], room[PARLEY_ID_HEX];
    json_t *tok = NULL;
    char *p;

    snprintf(pwpath, sizeof(pwpath), "%s/botpw", w->tmp);
    snprintf(cpath, sizeof(cpath), "%s/cfgpw", w->tmp);
    snprintf(tokpath, sizeof(tokpath), "%s/roombot.token", w->tmp);
    snprintf(tset, sizeof(tset), "token_file=%s", tokpath);
    assert_int_equal(adm_req(&w->p, &w->a, "PATCH", "/api/v1/admin/deployment/settings",
                             "{\"settings\":{\"room_bot_enabled\":true}}", NULL),
                     200);
    p = adm_fmt("/api/v1/admin/networks/%s/bots", w->network_id);
    assert_int_equal(adm_req(&w->p, &w->a, "POST", p,
                             "{\"username\":\"roomsbot\",\"password\":\"" BOT_PW "\"}", NULL),
                     201);
    assert_int_equal(adm_req(&w->p, &w->a, "POST", p,
                             "{\"username\":\"badbot\",\"password\":\"" BOT_PW "\"}", NULL),
                     201);
    free(p);
    p = adm_fmt("/api/v1/admin/networks/%s/default-rooms", w->network_id);
    assert_int_equal(
        adm_req(&w->p, &w->a, "POST", p, "{\"name\":\"All hands\",\"all_users\":true}", NULL), 201);
    free(p);
    char *body = adm_fmt("{\"label\":\"room bot\",\"scope\":\"network\",\"network_id\":\"%s\","
                         "\"permissions\":[\"users.read\",\"networks.read\"]}",
                         w->network_id);
    assert_int_equal(adm_req(&w->p, &w->a, "POST", "/api/v1/admin/tokens", body, &tok), 201);
    free(body);
    char *t = adm_fmt("%s\n", json_string_value(json_object_get(tok, "token")));
    write_file(tokpath, t);
    free(t);
    json_decref(tok);

    assert_int_equal(bot(w, &out, "add", "--username", "badbot", "--config", w->cfgfile,
                         "--password-file", pwpath, "--config-password-file", cpath,
                         "--integration", "roombot", "--autologin", "yes", "--set", tset, "--set",
                         "admin_url=http://plain.example", NULL),
                     1);
    assert_non_null(strstr(out, "admin_url"));
    free(out);
    int rc = bot(w, &out, "add", "--username", "roomsbot", "--config", w->cfgfile,
                 "--password-file", pwpath, "--config-password-file", cpath, "--integration",
                 "roombot", "--autologin", "yes", "--set", tset, "--set", "interval=2", NULL);
    if (rc != 0)
        fail_msg("add roomsbot: %s", out);
    free(out);
    assert_int_equal(bot(w, &out, "start", "roomsbot", "--yes", NULL), 0);
    free(out);
    for (int i = 0; i < 300; i++) {
        room_moderated_by(w->u[0], "roomsbot", room);
        if (room[0])
            break;
        usleep(200 * 1000);
    }
    if (!room[0]) {
        char path[400];
        snprintf(path, sizeof(path), "%s/clients/roomsbot/bot.log", w->home);
        char *log = harness_read_file(path);
        fail_msg("the room bot made no room for alice\n%s", log ? log : "(no log)");
    }
    assert_int_equal(bot(w, &out, "pause", "roomsbot", NULL), 0);
    free(out);
    assert_int_equal(bot(w, &out, "delete", "roomsbot", "--yes", NULL), 0);
    free(out);
}

/* The console as the specification's session shows it: a second bot added
 * by answering the questions on standard input, then restart, upgrade and
 * delete on it. */
static void test_bot__console_session(void **state)
{
    struct world *w = *state;
    char *p = adm_fmt("/api/v1/admin/networks/%s/bots", w->network_id), *out = NULL;
    assert_int_equal(adm_req(&w->p, &w->a, "POST", p,
                             "{\"username\":\"helperbot\",\"password\":\"" BOT_PW "\"}", NULL),
                     201);
    free(p);
    char script[2048], path[400];
    snprintf(script, sizeof(script),
             "add\nhelperbot\n" BOT_PW "\n%s\n" CFG_PW "\nno\nnot-an-integration\ncompliance\n"
             "yes\n%s/helper\n.bad\nhelper\n99\n20000\n%s/helper-att\n0\nlist\nquit\n",
             w->cfgfile, w->tmp, w->tmp);
    snprintf(path, sizeof(path), "%s/script", w->tmp);
    write_file(path, script);
    char cmd[1200];
    snprintf(cmd, sizeof(cmd), "'%s' --home '%s' < '%s' 2>&1", getenv("PARLEY_BOT"), w->home, path);
    FILE *f = popen(cmd, "r");
    assert_non_null(f);
    char *text = calloc(1, 1 << 16);
    size_t n = fread(text, 1, (1 << 16) - 1, f);
    text[n] = '\0';
    assert_int_equal(pclose(f), 0);
    static const char *expect[] = {
        "Enter command:",
        "Enter the user name",
        "Enter config file",
        "GENERATED PASSWORD",
        "USER SIGNING KEY",
        "Do you want to use autologin?",
        "These integrations are local:",
        "That is not one of the integrations above.",
        "Use new file save process [yes/no]",
        "Please add a prefix for message data files: (receivedMessages)",
        "'file_prefix': use 1 to",
        "'max_file_bytes': give a whole number",
        "[24hrs = 1440]: (1440)",
        "Successfully added record to the database!",
        "helperbot",
    };
    for (size_t i = 0; i < sizeof(expect) / sizeof(expect[0]); i++)
        if (!strstr(text, expect[i]))
            fail_msg("console output lacks '%s':\n%s", expect[i], text);
    /* The generated password starts the bot (no autologin chosen). */
    char *g = strstr(text, "**** \""), pw[64] = "";
    assert_non_null(g);
    snprintf(pw, sizeof(pw), "%.24s\n", g + 6);
    free(text);
    snprintf(path, sizeof(path), "%s/helperpw", w->tmp);
    write_file(path, pw);
    if (bot(w, &out, "start", "helperbot", "--password-file", path, NULL) != 0)
        fail_msg("start helperbot: %s", out);
    free(out);
    if (bot(w, &out, "restart", "helperbot", "--password-file", path, NULL) != 0 ||
        !strstr(out, "started")) {
        char logp[400];
        snprintf(logp, sizeof(logp), "%s/clients/helperbot/bot.log", w->home);
        char *log = harness_read_file(logp);
        fail_msg("restart helperbot: %s\nbot.log:\n%s", out, log ? log : "");
    }
    free(out);
    assert_int_equal(bot(w, &out, "upgrade", "helperbot", "--yes", "--password-file", path, "--set",
                         "restart_minutes=5", NULL),
                     0);
    free(out);
    snprintf(path, sizeof(path), "%s/clients/helperbot/bot.json", w->home);
    json_t *rec = json_load_file(path, 0, NULL);
    assert_string_equal(
        json_string_value(json_object_get(json_object_get(rec, "config"), "restart_minutes")), "5");
    assert_string_equal(
        json_string_value(json_object_get(json_object_get(rec, "config"), "file_prefix")),
        "helper");
    json_decref(rec);
    assert_int_equal(bot(w, &out, "delete", "helperbot", NULL), 1); /* needs --yes */
    free(out);
    if (bot(w, &out, "delete", "helperbot", "--yes", NULL) != 0)
        fail_msg("delete helperbot: %s", out);
    free(out);
    assert_int_equal(bot(w, &out, "list", NULL), 0);
    assert_null(strstr(out, "helperbot"));
    assert_non_null(strstr(out, "compliancebot"));
    free(out);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_bot__lists_the_running_bot),
        cmocka_unit_test(test_bot__every_message_type),
        cmocka_unit_test(test_bot__room_settings_in_one_batch),
        cmocka_unit_test(test_bot__attachments),
        cmocka_unit_test(test_bot__attachment_recalled),
        cmocka_unit_test(test_bot__attachment_tampered),
        cmocka_unit_test(test_bot__attachment_not_held_when_hold_is_off),
        cmocka_unit_test(test_bot__attachment_retried),
        cmocka_unit_test(test_bot__rotates),
        cmocka_unit_test(test_bot__offline_catch_up),
        cmocka_unit_test(test_bot__kill9_mid_stream),
        cmocka_unit_test(test_bot__console_session),
        cmocka_unit_test(test_bot__engine_integration),
        cmocka_unit_test(test_bot__roombot_integration),
    };
    return cmocka_run_group_tests(tests, setup, teardown);
}
