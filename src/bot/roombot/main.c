/* main.c - parley-roombot, the room bot: keeps the default rooms that
 * network administrators define (admin API, default-rooms), as a Parley
 * client of its own bot account. It creates each room with itself as the
 * only moderator, adds every active user the definition names (the whole
 * network and/or security groups) and re-adds users who leave. When the
 * super administrator turns the room bot off (room_bot_enabled), the
 * rooms stay as they are and are no longer managed. See
 * docs/man/parley-roombot.1 and docs/bots.md. */
#include <getopt.h>
#include <poll.h>
#include <signal.h>
#include <sys/stat.h>
#include <unistd.h>

#include <curl/curl.h>
#include <jansson.h>
#include <openssl/crypto.h>
#include <parley/parley.h>

#include "adminapi.h"
#include "common/buf.h"
#include "common/file.h"
#include "common/log.h"
#include "common/secret.h"
#include "bot/signin.h"
#include "common/str.h"
#include "common/xmalloc.h"
#include "plan.h"

/* Rooms hold at most 500 members, the bot included. */
#define ROOM_MAX_MEMBERS 500
/* After a member change in a managed room, reconcile this soon. */
#define REACT_MS 200

struct roombot {
    struct parley_client *c;
    struct adminapi api;
    const char *network_id;
    char state_path[4096];
    json_t *state; /* definition id (string) -> {"conv_id", "name"} */
    bool enabled_known, enabled;
};

static volatile sig_atomic_t stop;

static void on_signal(int sig)
{
    (void)sig;
    stop = 1;
}

static int64_t now_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

static int state_save(struct roombot *b)
{
    char *text = json_dumps(b->state, JSON_INDENT(2) | JSON_SORT_KEYS);
    int rc = text ? file_write_atomic(b->state_path, text, strlen(text)) : PARLEY_ENOMEM;
    if (rc < 0)
        log_warn("cannot write %s", b->state_path);
    free(text);
    return rc;
}

static int state_load(struct roombot *b)
{
    json_error_t err;
    if (access(b->state_path, F_OK) < 0) {
        b->state = json_object();
        return b->state ? 0 : PARLEY_ENOMEM;
    }
    b->state = json_load_file(b->state_path, 0, &err);
    if (!json_is_object(b->state)) {
        log_error("%s: not a room bot state file: %s", b->state_path, err.text);
        return PARLEY_EPROTO;
    }
    return 0;
}

/* Every user of the network (pages of 1000). */
static int fetch_users(struct roombot *b, json_t **out)
{
    json_t *all = json_array();
    int rc = 0;

    for (int64_t offset = 0; all; offset += 1000) {
        char path[256];
        json_t *page = NULL;
        snprintf(path, sizeof(path), "/api/v1/admin/networks/%s/users?limit=1000&offset=%lld",
                 b->network_id, (long long)offset);
        if ((rc = adminapi_get(&b->api, path, &page)) < 0)
            break;
        json_t *users = json_object_get(page, "users");
        size_t n = json_array_size(users);
        json_array_extend(all, users);
        json_int_t total = json_integer_value(json_object_get(page, "total"));
        json_decref(page);
        if (n == 0 || offset + (int64_t)n >= total)
            break;
    }
    if (!all)
        return PARLEY_ENOMEM;
    if (rc < 0) {
        json_decref(all);
        return rc;
    }
    *out = all;
    return 0;
}

static const char **names_of(json_t *arr, size_t max, size_t *n)
{
    size_t i;
    json_t *v;
    const char **out = xcalloc(json_array_size(arr) + 1, sizeof(*out));
    *n = 0;
    json_array_foreach(arr, i, v)
    {
        if (*n >= max)
            break;
        out[(*n)++] = json_string_value(v);
    }
    return out;
}

/* Create the room of definition `def`, or add the users it lacks. */
static void keep_room(struct roombot *b, json_t *def, json_t *users)
{
    char key[32], conv[PARLEY_ID_HEX];
    const char *name = json_string_value(json_object_get(def, "name"));
    json_t *want = plan_members(def, users), *entry, *have = NULL;
    const char **list = NULL;
    size_t n;
    int rc;

    snprintf(key, sizeof(key), "%lld", (long long)json_integer_value(json_object_get(def, "id")));
    if (!want || !name)
        goto out;
    /* The bot takes one of the room's places. */
    if (json_array_size(want) > ROOM_MAX_MEMBERS - 1)
        log_warnx("default room '%s' names %zu users; rooms hold %d, the first are added", name,
                  json_array_size(want), ROOM_MAX_MEMBERS - 1);
    entry = json_object_get(b->state, key);
    const char *known = json_string_value(json_object_get(entry, "conv_id"));
    if (known) {
        char *mj = NULL;
        strlcpy_p(conv, known, sizeof(conv));
        rc = parley_conv_members(b->c, conv, &mj);
        if (rc == PARLEY_ENOTFOUND || rc == PARLEY_EPERM) {
            /* Deleted by the server, or the bot was removed: start over. */
            log_warnx("default room '%s' is gone; creating it again", name);
            json_object_del(b->state, key);
            known = NULL;
        } else if (rc < 0) {
            log_warnx("default room '%s': cannot read members: %s", name, parley_strerror(rc));
            goto out;
        } else {
            have = json_loads(mj, 0, NULL);
            free(mj);
        }
    }
    if (!known) {
        list = names_of(want, ROOM_MAX_MEMBERS - 1, &n);
        rc = parley_conv_create(b->c, "room", name, list, n, NULL, 0, 0, 0, conv);
        if (rc < 0) {
            log_warnx("cannot create default room '%s': %s", name, parley_strerror(rc));
            goto out;
        }
        json_object_set_new(b->state, key, json_pack("{ssss}", "conv_id", conv, "name", name));
        state_save(b);
        log_info("created default room '%s' conv_id=%s members=%zu", name, conv, n);
        goto out;
    }
    /* Add whoever belongs and is missing: new users, and users who left. */
    json_t *add = json_array(), *m;
    size_t i, room = 0;
    json_array_foreach(have, i, m) room++;
    json_array_foreach(want, i, m)
    {
        const char *u = json_string_value(m);
        bool there = false;
        size_t j;
        json_t *h;
        json_array_foreach(have, j, h)
        {
            const char *hn = json_string_value(json_object_get(h, "username"));
            there |= hn && strcmp(hn, u) == 0;
        }
        if (!there && room + json_array_size(add) < ROOM_MAX_MEMBERS)
            json_array_append(add, m);
    }
    if (json_array_size(add) > 0) {
        list = names_of(add, ROOM_MAX_MEMBERS, &n);
        rc = parley_conv_modify(b->c, conv, list, n, NULL, 0, NULL, 0);
        if (rc < 0)
            log_warnx("default room '%s': cannot add %zu members: %s", name, n,
                      parley_strerror(rc));
        else
            log_info("default room '%s': added %zu members", name, n);
    }
    json_decref(add);
out:
    free(list);
    json_decref(have);
    json_decref(want);
}

/* One pass over the definitions. Returns 0 or a PARLEY_E* code. */
static int reconcile(struct roombot *b)
{
    char path[256];
    json_t *doc = NULL, *users = NULL, *def;
    size_t i;
    int rc;

    snprintf(path, sizeof(path), "/api/v1/admin/networks/%s/default-rooms", b->network_id);
    if ((rc = adminapi_get(&b->api, path, &doc)) < 0)
        return rc;
    bool enabled = json_is_true(json_object_get(doc, "room_bot_enabled"));
    if (!b->enabled_known || enabled != b->enabled)
        log_info(enabled ? "room bot enabled: managing default rooms"
                         : "room bot disabled: default rooms keep their members, unmanaged");
    b->enabled_known = true;
    b->enabled = enabled;
    if (!enabled)
        goto out;
    if ((rc = fetch_users(b, &users)) < 0)
        goto out;
    json_t *defs = json_object_get(doc, "default_rooms");
    json_array_foreach(defs, i, def) keep_room(b, def, users);
    /* Definitions an administrator deleted: their rooms stay, unmanaged. */
    const char *key;
    json_t *v, *tmp;
    json_object_foreach_safe(b->state, tmp, key, v)
    {
        bool found = false;
        json_array_foreach(defs, i, def)
        {
            char k[32];
            snprintf(k, sizeof(k), "%lld",
                     (long long)json_integer_value(json_object_get(def, "id")));
            found |= strcmp(k, key) == 0;
        }
        if (!found) {
            log_info("default room '%s' no longer defined: left unmanaged",
                     json_string_value(json_object_get(v, "name")));
            json_object_del(b->state, key);
            state_save(b);
        }
    }
out:
    json_decref(users);
    json_decref(doc);
    return rc;
}

/* A member change (4002) or a leave (4003) in a managed room. */
static bool member_change(struct roombot *b, const struct parley_event *ev)
{
    const char *key;
    json_t *v;
    if (ev->type != PARLEY_EVENT_MESSAGE || (ev->msgtype != 4002 && ev->msgtype != 4003))
        return false;
    json_object_foreach(b->state, key, v)
    {
        const char *conv = json_string_value(json_object_get(v, "conv_id"));
        if (conv && strcmp(conv, ev->conv_id) == 0)
            return true;
    }
    return false;
}

static void usage(FILE *f)
{
    fprintf(f, "usage: parley-roombot --data-dir DIR --username NAME [--config FILE]\n"
               "                      --token-file FILE [--password-file FILE|-]\n"
               "                      [--admin-url URL] [--interval SECONDS] [--once]\n"
               "                      [--log-level LEVEL]\n");
}

int main(int argc, char **argv)
{
    static const struct option opts[] = {
        {"data-dir", required_argument, NULL, 'd'},
        {"username", required_argument, NULL, 'u'},
        {"config", required_argument, NULL, 'c'},
        {"password-file", required_argument, NULL, 'p'},
        {"token-file", required_argument, NULL, 't'},
        {"admin-url", required_argument, NULL, 'a'},
        {"interval", required_argument, NULL, 'i'},
        {"once", no_argument, NULL, 'o'},
        {"log-level", required_argument, NULL, 'l'},
        {"help", no_argument, NULL, 'h'},
        {NULL, 0, NULL, 0},
    };
    const char *data_dir = NULL, *username = NULL, *config = NULL, *pwfile = NULL;
    const char *tokfile = NULL, *admin_url = NULL;
    int64_t interval = 60;
    bool once = false;
    struct roombot b;
    struct parley_config *cfg = NULL;
    struct parley_device_info dev = {"room bot", "linux"};
    enum log_level level;
    int ch, rc, status = 1;

    memset(&b, 0, sizeof(b));
    while ((ch = getopt_long(argc, argv, "d:u:c:p:t:a:i:ol:h", opts, NULL)) != -1) {
        switch (ch) {
        case 'd':
            data_dir = optarg;
            break;
        case 'u':
            username = optarg;
            break;
        case 'c':
            config = optarg;
            break;
        case 'p':
            pwfile = optarg;
            break;
        case 't':
            tokfile = optarg;
            break;
        case 'a':
            admin_url = optarg;
            break;
        case 'i':
            if (str_to_i64(optarg, 1, 86400, &interval) < 0) {
                fprintf(stderr, "parley-roombot: --interval takes 1 to 86400 seconds\n");
                return 2;
            }
            break;
        case 'o':
            once = true;
            break;
        case 'l':
            if (log_level_parse(optarg, &level) < 0) {
                fprintf(stderr, "parley-roombot: unknown log level '%s'\n", optarg);
                return 2;
            }
            log_set_level(level);
            break;
        case 'h':
            usage(stdout);
            return 0;
        default:
            usage(stderr);
            return 2;
        }
    }
    if (!data_dir || !username || !tokfile || optind != argc) {
        usage(stderr);
        return 2;
    }
    if (curl_global_init(CURL_GLOBAL_DEFAULT) != CURLE_OK)
        fatalx("cannot initialise libcurl");

    rc = bot_sign_in(data_dir, username, config, pwfile, &dev, &cfg, &b.c, NULL);
    if (rc < 0)
        goto out;
    const struct parley_config *net = parley_client_config(b.c);
    b.network_id = parley_config_network_id(net);

    /* The admin API: the token, and the configuration's pinned certificates. */
    char *token = secret_line(tokfile, 0, NULL);
    if (!token || !*token)
        fatalx("%s: no API token on the first line", tokfile);
    struct buf pem = BUF_INIT(1024 * 1024);
    for (size_t i = 0; i < parley_config_pinned_count(net); i++)
        buf_printf(&pem, "%s\n", parley_config_pinned_cert(net, i));
    char *base = admin_url && *admin_url
                     ? xstrdup(admin_url)
                     : xasprintf("https://%s:%d", parley_config_service_host(net),
                                 parley_config_service_port(net));
    rc = adminapi_init(&b.api, base, pem.data ? (char *)pem.data : "", token);
    secret_free(token);
    free(base);
    buf_release(&pem);
    if (rc < 0)
        fatalx("out of memory");
    snprintf(b.state_path, sizeof(b.state_path), "%s/roombot-rooms.json", data_dir);
    if (state_load(&b) < 0)
        goto out;

    if (once) {
        rc = reconcile(&b);
        if (rc < 0)
            log_error("default rooms not kept: %s", parley_strerror(rc));
        status = rc < 0 ? 1 : 0;
        goto out;
    }

    struct sigaction sa;
    memset(&sa, 0, sizeof(sa));
    sa.sa_handler = on_signal;
    sigaction(SIGINT, &sa, NULL);
    sigaction(SIGTERM, &sa, NULL);
    signal(SIGPIPE, SIG_IGN);
    if ((rc = parley_client_connect(b.c)) < 0) {
        log_error("cannot connect: %s", parley_strerror(rc));
        goto out;
    }
    int64_t next = now_ms();
    while (!stop) {
        int64_t wait = next - now_ms();
        struct pollfd pfd = {parley_client_event_fd(b.c), POLLIN, 0};
        if (wait > 0 && poll(&pfd, 1, wait > 1000 ? 1000 : (int)wait) < 0 && errno != EINTR) {
            log_warn("poll");
            break;
        }
        struct parley_event *ev;
        while (parley_client_next_event(b.c, 0, &ev) == 0) {
            if (member_change(&b, ev) && b.enabled && next > now_ms() + REACT_MS)
                next = now_ms() + REACT_MS;
            parley_event_free(ev);
        }
        if (now_ms() >= next) {
            if ((rc = reconcile(&b)) < 0)
                log_warnx("default rooms not kept this time: %s", parley_strerror(rc));
            next = now_ms() + interval * 1000;
        }
    }
    status = 0;
    log_info("stopping");
out:
    adminapi_release(&b.api);
    json_decref(b.state);
    parley_client_free(b.c);
    parley_config_free(cfg);
    curl_global_cleanup();
    return status;
}
