/* engine.c - the sockets, the message queue and the one loop of
 * parley-botengine (engine.h). */
#include "engine.h"

#include <poll.h>
#include <sys/stat.h>
#include <unistd.h>
#include <zmq.h>

#include <openssl/crypto.h>

#include "common/log.h"
#include "common/str.h"
#include "common/xmalloc.h"
#include "msgjson.h"
#include "proto/ids.h"

/* A pushed message with no answer for this long goes out again: the bot
 * that took it has gone (the packages answer on receipt). */
#define PUSH_RESEND_MS 60000
/* Messages kept for a bot that does not take them; the ones after stay in
 * the journal and come again on the next start. */
#define QUEUE_MAX 100000

static int64_t now_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

static bool is_conv_hex(const char *s)
{
    size_t i;
    for (i = 0; s[i]; i++)
        if (!((s[i] >= '0' && s[i] <= '9') || (s[i] >= 'a' && s[i] <= 'f')))
            return false;
    return i == 32;
}

int engine_vgroup_of(struct engine *e, const char *conv, char vgroupid[65])
{
    uint8_t id[IDS_CONV_LEN];
    int rc;

    if (!is_conv_hex(conv) || hex_decode(conv, 32, id, sizeof(id)) < 0)
        return PARLEY_EINVAL;
    if ((rc = ids_vgroupid(id, vgroupid)) < 0)
        return rc;
    if (!json_object_get(e->vgroups, vgroupid) &&
        json_object_set_new(e->vgroups, vgroupid, json_string(conv)) < 0)
        return PARLEY_ENOMEM;
    return 0;
}

/* Learn the vgroupids of every conversation the server lists. */
static void vgroups_refresh(struct engine *e)
{
    char *lj = NULL, vg[65];
    json_t *doc, *c;
    size_t i;

    if (parley_conv_list(e->c, &lj) < 0)
        return;
    doc = json_loads(lj, 0, NULL);
    free(lj);
    json_t *list = json_is_array(doc) ? doc : json_object_get(doc, "conversations");
    json_array_foreach(list, i, c)
    {
        const char *id = json_string_value(json_object_get(c, "conv_id"));
        if (id)
            (void)engine_vgroup_of(e, id, vg);
    }
    json_decref(doc);
}

int engine_conv_of(struct engine *e, const char *vgroupid, char conv[PARLEY_ID_HEX])
{
    if (is_conv_hex(vgroupid)) {
        memcpy(conv, vgroupid, PARLEY_ID_HEX);
        return 0;
    }
    for (int pass = 0; pass < 2; pass++) {
        const char *c = json_string_value(json_object_get(e->vgroups, vgroupid));
        if (c) {
            strlcpy_p(conv, c, PARLEY_ID_HEX);
            return 0;
        }
        if (pass == 0)
            vgroups_refresh(e);
    }
    return PARLEY_ENOTFOUND;
}

/* ---- key-value store ---- */

int engine_kv_load(struct engine *e)
{
    char *text = NULL;
    size_t n;
    int rc = botkey_read_file(&e->key, e->kv_path, &text, &n);

    if (rc == PARLEY_ENOTFOUND) {
        e->kv = json_object();
        return e->kv ? 0 : PARLEY_ENOMEM;
    }
    if (rc < 0)
        return rc;
    e->kv = json_loadb(text, n, 0, NULL);
    OPENSSL_cleanse(text, n);
    free(text);
    if (!json_is_object(e->kv)) {
        json_decref(e->kv);
        e->kv = NULL;
        return PARLEY_EPROTO;
    }
    return 0;
}

int engine_kv_save(struct engine *e)
{
    char *text = json_dumps(e->kv, JSON_COMPACT);
    if (!text)
        return PARLEY_ENOMEM;
    size_t n = strlen(text);
    int rc = botkey_write_file(&e->key, e->kv_path, text, n);
    OPENSSL_cleanse(text, n);
    free(text);
    return rc;
}

/* ---- queue ---- */

/* Queue `item` with its message id (copied; may be NULL). */
static int queue_push(struct msgq *q, char *item, const char *id)
{
    char *id_copy = NULL;

    if (id && !(id_copy = strdup(id)))
        return PARLEY_ENOMEM;
    if (q->n == q->cap) {
        size_t cap = q->cap ? 2 * q->cap : 64;
        struct msgq_item *items = calloc(cap, sizeof(*items));
        if (!items) {
            free(id_copy);
            return PARLEY_ENOMEM;
        }
        for (size_t i = 0; i < q->n; i++)
            items[i] = q->items[(q->head + i) % q->cap];
        free(q->items);
        q->items = items;
        q->cap = cap;
        q->head = 0;
    }
    q->items[(q->head + q->n) % q->cap] = (struct msgq_item){item, id_copy};
    q->n++;
    return 0;
}

static void queue_drop_head(struct msgq *q)
{
    if (q->n == 0)
        return;
    free(q->items[q->head].text);
    free(q->items[q->head].id);
    q->head = (q->head + 1) % q->cap;
    q->n--;
}

void engine_done(struct engine *e, const char *msg_id)
{
    int rc;

    if (msg_id && (rc = parley_client_event_done(e->c, &msg_id, 1)) < 0)
        log_warnx("cannot mark a message handled msg_id=%s: %s (it may come again)", msg_id,
                  parley_strerror(rc));
}

int engine_queue_load(struct engine *e)
{
    char *text = NULL;
    size_t n, i;
    json_t *arr, *m;
    int rc = botkey_read_file(&e->key, e->queue_path, &text, &n);

    if (rc == PARLEY_ENOTFOUND)
        return 0;
    if (rc < 0)
        return rc;
    arr = json_loadb(text, n, 0, NULL);
    OPENSSL_cleanse(text, n);
    free(text);
    if (!json_is_array(arr)) {
        json_decref(arr);
        return PARLEY_EPROTO;
    }
    json_array_foreach(arr, i, m)
    {
        const char *s = json_string_value(m);
        char *copy = s ? strdup(s) : NULL;
        if (!copy || queue_push(&e->queue, copy, NULL) < 0) {
            free(copy);
            rc = PARLEY_ENOMEM;
            break;
        }
    }
    json_decref(arr);
    if (rc == 0 && unlink(e->queue_path) < 0)
        rc = PARLEY_EIO;
    if (rc == 0 && e->queue.n)
        log_info("messages from before the last stop queued for the bot count=%zu", e->queue.n);
    return rc;
}

/* ---- sockets ---- */

static int mkdir_p(const char *path, mode_t last_mode)
{
    char buf[4096];
    if (strlcpy_p(buf, path, sizeof(buf)) >= sizeof(buf))
        return -1;
    for (char *p = buf + 1; *p; p++) {
        if (*p != '/')
            continue;
        *p = '\0';
        if (mkdir(buf, 0755) < 0 && errno != EEXIST)
            return -1;
        *p = '/';
    }
    if (mkdir(buf, last_mode) < 0 && errno != EEXIST)
        return -1;
    return 0;
}

int engine_bind(struct engine *e, const char *ipc_dir, const char *name)
{
    char dir[4096], ep[4200];
    int zero = 0, one = 1;

    if (!*name || strchr(name, '/') || strcmp(name, "..") == 0 || strcmp(name, ".") == 0) {
        log_error("bot name '%s' cannot name a directory", name);
        return -1;
    }
    snprintf(dir, sizeof(dir), "%s/%s", ipc_dir, name);
    if (mkdir_p(dir, 0700) < 0) {
        log_warn("cannot create %s", dir);
        return -1;
    }
    snprintf(dir, sizeof(dir), "%s/%s/tmp", ipc_dir, name);
    if (mkdir_p(dir, 0700) < 0 || chmod(dir, 0700) < 0) {
        log_warn("cannot create %s", dir);
        return -1;
    }
    /* sun_path holds 107 characters. */
    if (strlen(dir) + 2 > 107) {
        log_error("socket directory %s is too long for a Unix socket path", dir);
        return -1;
    }
    if (!(e->zctx = zmq_ctx_new()))
        return -1;
    e->cmd = zmq_socket(e->zctx, ZMQ_REP);
    e->push = zmq_socket(e->zctx, ZMQ_REQ);
    if (!e->cmd || !e->push)
        goto fail;
    zmq_setsockopt(e->cmd, ZMQ_LINGER, &zero, sizeof(zero));
    zmq_setsockopt(e->push, ZMQ_LINGER, &zero, sizeof(zero));
    /* Far over the parser's limit, so a bot gets a 400 with the reason;
     * only a runaway peer is cut off by the transport. */
    int64_t max = 4LL * BOTREQ_MAX_FRAME;
    zmq_setsockopt(e->cmd, ZMQ_MAXMSGSIZE, &max, sizeof(max));
    /* Resending to a restarted bot needs a relaxed REQ; correlation drops
     * a late answer to the earlier copy. */
    zmq_setsockopt(e->push, ZMQ_REQ_RELAXED, &one, sizeof(one));
    zmq_setsockopt(e->push, ZMQ_REQ_CORRELATE, &one, sizeof(one));
    snprintf(ep, sizeof(ep), "ipc://%s/0", dir);
    if (zmq_bind(e->cmd, ep) < 0) {
        log_error("cannot bind %s: %s", ep, zmq_strerror(zmq_errno()));
        goto fail;
    }
    snprintf(ep, sizeof(ep), "ipc://%s/2", dir);
    if (zmq_bind(e->push, ep) < 0) {
        log_error("cannot bind %s: %s", ep, zmq_strerror(zmq_errno()));
        goto fail;
    }
    log_info("bot api listening dir=%s", dir);
    return 0;
fail:
    engine_close(e);
    return -1;
}

void engine_close(struct engine *e)
{
    if (e->cmd)
        zmq_close(e->cmd);
    if (e->push)
        zmq_close(e->push);
    if (e->zctx)
        zmq_ctx_term(e->zctx);
    e->cmd = e->push = e->zctx = NULL;
    stream_stop(&e->stream);
    if (e->queue.n)
        log_info("messages not taken by the bot come again on the next start count=%zu",
                 e->queue.n);
    while (e->queue.n)
        queue_drop_head(&e->queue);
    free(e->queue.items);
    memset(&e->queue, 0, sizeof(e->queue));
    free(e->taken_id);
    e->taken_id = NULL;
}

/* ---- the loop ---- */

/* What became of a received message, for the journal. */
enum fate {
    FATE_KEEP,     /* queued for the bot, or not passed on yet: it stays */
    FATE_DONE,     /* nothing for the bot: forget it */
    FATE_STREAMED, /* written to the stream: forget it once synced */
};

static enum fate on_message(struct engine *e, const struct parley_event *ev)
{
    char vg[65];
    uint8_t id[IDS_CONV_LEN];

    /* Copies of what the bot itself sent from another device are not
     * news to it. */
    if (strcmp(ev->sender, parley_client_user_id(e->c)) == 0)
        return FATE_DONE;
    if (engine_vgroup_of(e, ev->conv_id, vg) < 0 ||
        hex_decode(ev->conv_id, 32, id, sizeof(id)) < 0) {
        e->stats.recv_errors++;
        return FATE_KEEP;
    }
    bool direct = ids_conv_type(id) == IDS_CONV_DIRECT;
    char *text = msgjson_build(ev, vg, direct ? e->username : NULL);
    if (!text) {
        log_warnx("message not passed to the bot: its payload is not a JSON object msg_id=%s",
                  ev->msg_id);
        e->stats.recv_errors++;
        return FATE_DONE;
    }
    if (e->stream.fd >= 0) {
        int rc = stream_write(&e->stream, text);
        free(text);
        if (rc < 0) {
            log_warnx("message not streamed, it comes again on the next start msg_id=%s",
                      ev->msg_id);
            e->stats.recv_errors++;
            return FATE_KEEP;
        }
        e->stats.received++;
        return FATE_STREAMED;
    }
    if (e->queue.n >= QUEUE_MAX) {
        log_warnx("bot is not taking messages: queue full, the message comes again on the next "
                  "start msg_id=%s",
                  ev->msg_id);
        free(text);
        e->stats.recv_errors++;
        return FATE_KEEP;
    }
    if (queue_push(&e->queue, text, ev->msg_id) < 0) {
        free(text);
        e->stats.recv_errors++;
        return FATE_KEEP;
    }
    e->stats.received++;
    return FATE_KEEP;
}

/* Take the client's events; what was streamed is forgotten once synced. */
static void drain_events(struct engine *e)
{
    struct parley_event *ev;
    char **streamed = NULL;
    size_t n_streamed = 0, cap = 0;

    while (parley_client_next_event(e->c, 0, &ev) == 0) {
        switch (ev->type) {
        case PARLEY_EVENT_MESSAGE:
            switch (on_message(e, ev)) {
            case FATE_DONE:
                engine_done(e, ev->msg_id);
                break;
            case FATE_STREAMED:
                if (n_streamed == cap) {
                    cap = cap ? 2 * cap : 64;
                    streamed = xrealloc(streamed, cap * sizeof(*streamed));
                }
                streamed[n_streamed++] = xstrdup(ev->msg_id);
                break;
            case FATE_KEEP:
                break;
            }
            break;
        case PARLEY_EVENT_ONLINE:
            if (!e->online)
                log_info("online user=%s", e->username);
            e->online = true;
            break;
        case PARLEY_EVENT_OFFLINE:
            log_info("connection lost; reconnecting");
            break;
        case PARLEY_EVENT_ERROR:
            log_warnx("delivery not accepted: %s", parley_strerror(ev->err));
            e->stats.recv_errors++;
            break;
        default:
            break;
        }
        parley_event_free(ev);
    }
    if (e->stream.fd >= 0 && stream_sync(&e->stream) < 0) {
        log_warnx("cannot sync the streamed messages; they come again on the next start");
    } else if (n_streamed) {
        int rc = parley_client_event_done(e->c, (const char *const *)streamed, n_streamed);
        if (rc < 0)
            log_warnx("cannot mark %zu streamed messages: %s (they may come again)", n_streamed,
                      parley_strerror(rc));
    }
    for (size_t i = 0; i < n_streamed; i++)
        free(streamed[i]);
    free(streamed);
}

static void maybe_push(struct engine *e)
{
    if (!e->async_on || e->queue.n == 0)
        return;
    if (e->push_waiting && now_ms() - e->push_sent_ms < PUSH_RESEND_MS)
        return;
    const char *m = e->queue.items[e->queue.head].text;
    if (zmq_send(e->push, m, strlen(m), ZMQ_DONTWAIT) < 0) {
        if (zmq_errno() != EAGAIN) /* EAGAIN: no bot connected yet */
            log_warnx("cannot push a message: %s", zmq_strerror(zmq_errno()));
        return;
    }
    e->push_waiting = true;
    e->push_sent_ms = now_ms();
}

static int on_ack(struct engine *e)
{
    zmq_msg_t m;
    zmq_msg_init(&m);
    if (zmq_msg_recv(&m, e->push, ZMQ_DONTWAIT) < 0) {
        zmq_msg_close(&m);
        return zmq_errno() == EAGAIN || zmq_errno() == EINTR ? 0 : -1;
    }
    if (e->push_waiting) {
        if (zmq_msg_size(&m) != 7 || memcmp(zmq_msg_data(&m), "success", 7) != 0)
            log_warnx("bot answered a pushed message with something else than success");
        if (e->queue.n)
            engine_done(e, e->queue.items[e->queue.head].id);
        queue_drop_head(&e->queue);
        e->push_waiting = false;
    }
    zmq_msg_close(&m);
    return 0;
}

static int on_command(struct engine *e)
{
    zmq_msg_t m;
    zmq_msg_init(&m);
    if (zmq_msg_recv(&m, e->cmd, ZMQ_DONTWAIT) < 0) {
        zmq_msg_close(&m);
        return zmq_errno() == EAGAIN || zmq_errno() == EINTR ? 0 : -1;
    }
    char *reply = engine_handle(e, zmq_msg_data(&m), zmq_msg_size(&m));
    size_t n = zmq_msg_size(&m);
    OPENSSL_cleanse(zmq_msg_data(&m), n); /* may hold strings to encrypt */
    zmq_msg_close(&m);
    /* A signal (the SIGTERM that stops the engine) may interrupt the
     * send; the request is answered all the same, or the socket would be
     * left waiting for a reply it never gets. */
    int rc = 0, sent;
    while ((sent = zmq_send(e->cmd, reply, strlen(reply), 0)) < 0 && zmq_errno() == EINTR)
        ;
    if (sent < 0) {
        log_warnx("cannot answer the bot: %s", zmq_strerror(zmq_errno()));
        rc = -1;
    } else if (e->taken_id) {
        engine_done(e, e->taken_id);
    }
    free(e->taken_id);
    e->taken_id = NULL;
    OPENSSL_cleanse(reply, strlen(reply));
    free(reply);
    return rc;
}

int engine_run(struct engine *e, volatile sig_atomic_t *stop)
{
    zmq_pollitem_t items[3] = {
        {e->cmd, 0, ZMQ_POLLIN, 0},
        {e->push, 0, ZMQ_POLLIN, 0},
        {NULL, parley_client_event_fd(e->c), ZMQ_POLLIN, 0},
    };

    while (!*stop) {
        drain_events(e);
        maybe_push(e);
        /* A short wait bounds how late a push waits for a bot that connects
         * after its message came in. */
        int n = zmq_poll(items, 3, 250);
        if (n < 0) {
            if (zmq_errno() == EINTR)
                continue;
            log_error("poll: %s", zmq_strerror(zmq_errno()));
            return -1;
        }
        if ((items[0].revents & ZMQ_POLLIN) && on_command(e) < 0)
            return -1;
        if ((items[1].revents & ZMQ_POLLIN) && on_ack(e) < 0)
            return -1;
    }
    return 0;
}
