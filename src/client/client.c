/* client.c - the connection's side of libparley: receive deliveries
 * (open, de-duplicate, store durably, then acknowledge), handle the
 * server's control messages, replenish pre-keys, and the event queue the
 * application reads. */
#include "client.h"

#include <poll.h>
#include <unistd.h>

#include <openssl/crypto.h>

#include "common/log.h"
#include "common/str.h"
#include "frame.h"
#include "msgtypes.h"
#include "proto/envelope.h"
#include "proto/ids.h"

/* ---- events ------------------------------------------------------------- */

struct client_event *client_event_new(enum parley_event_type type)
{
    struct client_event *e = calloc(1, sizeof(*e));
    if (e)
        e->ev.type = type;
    return e;
}

void client_push_event(struct parley_client *c, struct client_event *e)
{
    if (!e)
        return;
    pthread_mutex_lock(&c->ev_mu);
    if (c->ev_tail)
        c->ev_tail->next = e;
    else
        c->ev_head = e;
    c->ev_tail = e;
    pthread_cond_broadcast(&c->ev_cv);
    pthread_mutex_unlock(&c->ev_mu);
    (void)!write(c->ev_pipe[1], "e", 1); /* a full pipe is already readable */
}

static void push_error(struct parley_client *c, int err, const char *what)
{
    struct client_event *e = client_event_new(PARLEY_EVENT_ERROR);
    if (!e)
        return;
    e->ev.err = err;
    e->ev.body = strdup(what);
    client_push_event(c, e);
}

int parley_client_next_event(struct parley_client *c, int timeout_ms, struct parley_event **ev)
{
    struct timespec deadline;
    struct client_event *e;
    char drain[64];

    *ev = NULL;
    clock_gettime(CLOCK_REALTIME, &deadline);
    if (timeout_ms > 0) {
        deadline.tv_sec += timeout_ms / 1000;
        deadline.tv_nsec += (long)(timeout_ms % 1000) * 1000000L;
        if (deadline.tv_nsec >= 1000000000L) {
            deadline.tv_sec++;
            deadline.tv_nsec -= 1000000000L;
        }
    }
    pthread_mutex_lock(&c->ev_mu);
    while (!c->ev_head && timeout_ms != 0) {
        int r = timeout_ms < 0 ? pthread_cond_wait(&c->ev_cv, &c->ev_mu)
                               : pthread_cond_timedwait(&c->ev_cv, &c->ev_mu, &deadline);
        if (r == ETIMEDOUT)
            break;
    }
    e = c->ev_head;
    if (e) {
        c->ev_head = e->next;
        if (!c->ev_head)
            c->ev_tail = NULL;
    }
    if (!c->ev_head)
        while (read(c->ev_pipe[0], drain, sizeof(drain)) > 0)
            ;
    pthread_mutex_unlock(&c->ev_mu);
    if (!e)
        return PARLEY_EBUSY;
    /* The event is the first member's storage: hand out the embedded one. */
    *ev = &e->ev;
    return 0;
}

void parley_event_free(struct parley_event *ev)
{
    if (!ev)
        return;
    struct client_event *e =
        (struct client_event *)((char *)ev - offsetof(struct client_event, ev));
    if (ev->body) {
        OPENSSL_cleanse((void *)ev->body, strlen(ev->body));
        free((void *)ev->body);
    }
    free((void *)ev->sender_name);
    free(e);
}

int parley_client_event_fd(struct parley_client *c)
{
    return c->ev_pipe[0];
}

/* ---- pre-keys ------------------------------------------------------------ */

int client_upload_bundle(struct parley_client *c, uint32_t min_id)
{
    struct buf b = BUF_INIT(KEYS_MAX_STORE);
    json_t *body = NULL, *resp = NULL;
    char *b64 = NULL;
    long status;
    int rc;

    pthread_mutex_lock(&c->mu);
    rc = keys_device_bundle(&c->dev, min_id, &b);
    pthread_mutex_unlock(&c->mu);
    if (rc < 0)
        goto out;
    if (!(b64 = api_b64_encode(b.data, b.len)) || !(body = json_pack("{ss}", "bundle", b64))) {
        rc = PARLEY_ENOMEM;
        goto out;
    }
    rc = api_request(&c->api, "PUT", "/api/v1/client/devices/self/bundle", c->device_token, body,
                     &status, &resp);
    if (rc == 0)
        rc = api_status_error(status, resp);
out:
    free(b64);
    json_decref(body);
    json_decref(resp);
    buf_release(&b);
    return rc;
}

/* The server's pool of this device's one-time pre-keys runs low: make a
 * new batch and upload only that batch, so that a pre-key the server may
 * already have handed out is never offered twice. */
static void replenish(struct parley_client *c)
{
    char next[16];
    uint32_t min_id;
    int rc;

    pthread_mutex_lock(&c->mu);
    min_id = c->dev.next_prekey_id;
    rc = keys_device_add_prekeys(&c->dev, CLIENT_REPLENISH, (uint64_t)time(NULL));
    if (rc == 0)
        rc = client_save_keys(c);
    snprintf(next, sizeof(next), "%u", c->dev.next_prekey_id);
    if (rc == 0)
        rc = lstore_set(c->st, "prekeys_uploaded_to", next);
    pthread_mutex_unlock(&c->mu);
    if (rc == 0)
        rc = client_upload_bundle(c, min_id);
    if (rc < 0)
        log_warnx("cannot replenish pre-keys: %s", parley_strerror(rc));
}

/* ---- receiving ---------------------------------------------------------- */

struct open_ctx {
    struct parley_client *c;
    uint8_t unknown_user[KEYS_ID_LEN];
    bool unknown;
};

/* The pinned identity key of `user_id` (caller holds mu). The pin is read
 * for every message, so unpinning or re-pinning takes effect at once; the
 * parsed key object is reused while the pinned bytes stay the same. */
static int pinned_identity(struct parley_client *c, const uint8_t user_id[KEYS_ID_LEN],
                           const struct sig_key **out)
{
    struct buf k = BUF_INIT(SUITE_MAX_SIG_PK);
    char hex[PARLEY_ID_HEX];
    int rc;

    *out = NULL;
    hex_encode(user_id, KEYS_ID_LEN, hex);
    rc = lstore_pin_get(c->st, hex, &k, NULL);
    if (rc == 0 && !(c->rx_id_ok && c->rx_id.alg == c->suite->sig && c->rx_id.pk_len == k.len &&
                     memcmp(c->rx_id_user, user_id, KEYS_ID_LEN) == 0 &&
                     memcmp(c->rx_id.pk, k.data, k.len) == 0)) {
        if (c->rx_id_ok)
            sig_key_release(&c->rx_id);
        rc = sig_key_from_public(&c->rx_id, c->suite->sig, k.data, k.len);
        c->rx_id_ok = rc == 0;
        memcpy(c->rx_id_user, user_id, KEYS_ID_LEN);
    }
    if (rc == 0)
        *out = &c->rx_id;
    buf_release(&k);
    return rc;
}

static int on_identity(void *arg, const uint8_t user_id[KEYS_ID_LEN], const struct sig_key **out)
{
    struct open_ctx *o = arg;
    int rc = pinned_identity(o->c, user_id, out);
    if (rc == PARLEY_ENOTFOUND) {
        memcpy(o->unknown_user, user_id, KEYS_ID_LEN);
        o->unknown = true;
    }
    return rc;
}

static int on_check_replay(void *arg, const uint8_t msg_id[KEYS_ID_LEN])
{
    struct open_ctx *o = arg;
    char hex[PARLEY_ID_HEX];
    hex_encode(msg_id, KEYS_ID_LEN, hex);
    return lstore_msg_seen(o->c->st, hex);
}

/* Title, expiration and burn-on-read from a 4001 or 4004, and a change of
 * the Files view (changemask 64, "saved item"). Caller holds mu. */
static void apply_params(struct parley_client *c, const char *conv_hex, json_t *ctl)
{
    struct lstore_conv conv;
    const char *title = json_string_value(json_object_get(ctl, "title"));
    json_t *mask = json_object_get(ctl, "changemask");

    if (json_is_integer(mask) && (json_integer_value(mask) & 64) &&
        json_is_object(json_object_get(ctl, "filevaultinfo")))
        client_vault_apply(c, conv_hex, json_object_get(ctl, "filevaultinfo"));
    if (lstore_conv_get(c->st, conv_hex, &conv) < 0)
        return;
    json_t *ttl = json_object_get(ctl, "ttl"), *bor = json_object_get(ctl, "bor");
    if (json_is_integer(ttl) && json_integer_value(ttl) >= 0 &&
        json_integer_value(ttl) <= UINT32_MAX)
        conv.expiration = (uint32_t)json_integer_value(ttl);
    if (json_is_integer(bor) && json_integer_value(bor) >= 0 &&
        json_integer_value(bor) <= UINT32_MAX)
        conv.burn_on_read = (uint32_t)json_integer_value(bor);
    char *old_title = conv.title;
    if (title)
        conv.title = (char *)title;
    (void)lstore_conv_put(c->st, &conv);
    free(old_title);
}

static bool is_room(const char *conv_hex)
{
    uint8_t id[KEYS_ID_LEN];
    return hex_decode(conv_hex, 2 * KEYS_ID_LEN, id, KEYS_ID_LEN) == 0 &&
           ids_conv_type(id) == IDS_CONV_ROOM;
}

/* Room control messages change the local view of the conversation. */
static void apply_control(struct parley_client *c, const char *conv_hex, const char *sender,
                          json_t *payload, int msgtype)
{
    json_t *ctl = json_object_get(payload, "control");
    const char *target = json_string_value(json_object_get(ctl, "msgid"));
    char target_sender[33];

    /* Delete or recall (4011): only the author's own messages. */
    if (msgtype == MSGTYPE_DELETE) {
        if (target && lstore_msg_sender(c->st, target, target_sender) == 0 &&
            strcmp(target_sender, sender) == 0)
            (void)lstore_msg_set_state(c->st, target, LSTORE_MSG_DELETED);
        return;
    }

    if (msgtype == MSGTYPE_ROOM_DELETE) {
        (void)lstore_conv_delete(c->st, conv_hex);
        return;
    }
    /* A room's settings are the moderators' to change: room_params()
     * checks the sender's role with the server before applying them. */
    if ((msgtype == MSGTYPE_ROOM_CREATE || msgtype == MSGTYPE_ROOM_PARAMS) && !is_room(conv_hex))
        apply_params(c, conv_hex, ctl);
}

/* A room's 4001 or 4004, once stored and acknowledged: apply it if its
 * sender is a moderator (a network call, so outside `mu`). The message
 * stays in the history either way. True if the settings were applied. */
static bool room_params(struct parley_client *c, const struct parley_event *ev)
{
    uint8_t sender[KEYS_ID_LEN];
    json_t *payload;
    int rc;

    if ((ev->msgtype != MSGTYPE_ROOM_CREATE && ev->msgtype != MSGTYPE_ROOM_PARAMS) ||
        !is_room(ev->conv_id) || hex_decode(ev->sender, 2 * KEYS_ID_LEN, sender, KEYS_ID_LEN) < 0)
        return false;
    rc = client_is_moderator(c, ev->conv_id, sender);
    /* Gone (deleted, or we were removed) by the time we read it: there
     * is nothing left to protect, and the settings still describe the
     * messages already received, which a retention bot records. */
    if (rc == PARLEY_ENOTFOUND)
        rc = 0;
    if (rc < 0) {
        log_warnx("room settings not applied: sender is not a moderator (%s)", parley_strerror(rc));
        return false;
    }
    if (!(payload = json_loads(ev->body, 0, NULL)))
        return false;
    pthread_mutex_lock(&c->mu);
    apply_params(c, ev->conv_id, json_object_get(payload, "control"));
    pthread_mutex_unlock(&c->mu);
    json_decref(payload);
    return true;
}

int parley_client_mark_read(struct parley_client *c, const char *msg_id)
{
    struct lstore_conv conv;
    char conv_id[33];
    int bor = 0, rc;

    if (!c || !msg_id)
        return PARLEY_EINVAL;
    pthread_mutex_lock(&c->mu);
    rc = lstore_msg_meta(c->st, msg_id, conv_id, &bor);
    if (rc == 0)
        rc = lstore_msg_set_state(c->st, msg_id, LSTORE_MSG_READ);
    /* Burn on read: the message goes `burn_on_read` seconds after it was
     * first read (the conversation's setting; at once if unknown). */
    if (rc == 0 && bor) {
        uint32_t after = 0;
        if (lstore_conv_get(c->st, conv_id, &conv) == 0) {
            after = conv.burn_on_read;
            free(conv.title);
        }
        rc = lstore_msg_set_expiry(c->st, msg_id, (uint64_t)time(NULL) + after);
        if (rc == 0 && after == 0)
            rc = lstore_msg_purge_expired(c->st, (uint64_t)time(NULL)) < 0 ? PARLEY_ESTORE : 0;
    }
    /* A read receipt to the author, in a one-to-one conversation, for a
     * message someone else sent. Best effort: the network may turn
     * receipts off (the server then answers with an error event). */
    char sender[33];
    uint8_t conv_bin[KEYS_ID_LEN];
    bool receipt = rc == 0 && c->conn && lstore_msg_sender(c->st, msg_id, sender) == 0 &&
                   strcmp(sender, c->user_hex) != 0 &&
                   hex_decode(conv_id, 2 * KEYS_ID_LEN, conv_bin, KEYS_ID_LEN) == 0 &&
                   ids_conv_type(conv_bin) == IDS_CONV_DIRECT;
    pthread_mutex_unlock(&c->mu);
    if (receipt) {
        json_t *m = json_pack("{sssss[s]}", "type", "read", "conv_id", conv_id, "msg_ids", msg_id);
        char *txt = m ? json_dumps(m, JSON_COMPACT) : NULL;
        if (txt)
            (void)conn_send(c->conn, false, (const uint8_t *)txt, strlen(txt));
        free(txt);
        json_decref(m);
    }
    return rc;
}

/* The event for stored message `m`, without its body; NULL on ENOMEM.
 * Caller holds mu. */
static struct client_event *message_event(struct parley_client *c, const struct lstore_msg *m,
                                          uint32_t conv_bor)
{
    struct client_event *e = client_event_new(PARLEY_EVENT_MESSAGE);
    char *name = NULL;

    if (!e)
        return NULL;
    memcpy(e->ev.msg_id, m->msg_id, PARLEY_ID_HEX);
    memcpy(e->ev.conv_id, m->conv_id, PARLEY_ID_HEX);
    memcpy(e->ev.sender, m->sender, PARLEY_ID_HEX);
    memcpy(e->ev.sender_device, m->sender_device, PARLEY_ID_HEX);
    if (lstore_pin_username(c->st, m->sender, &name) == 0)
        e->ev.sender_name = name;
    e->ev.msgtype = m->msgtype;
    e->ev.ts_ms = m->ts_ms;
    e->ev.expires_at = m->expires_at;
    e->ev.burn_on_read = m->burn_on_read;
    e->ev.conv_burn_on_read = conv_bor;
    return e;
}

static int queue_journaled(void *arg, const struct lstore_msg *m)
{
    struct parley_client *c = arg;
    struct lstore_conv conv = {0};
    struct client_event *e;

    if (lstore_conv_get(c->st, m->conv_id, &conv) == 0)
        free(conv.title);
    e = message_event(c, m, conv.burn_on_read);

    if (!e || !(e->ev.body = strdup(m->body))) {
        if (e)
            parley_event_free(&e->ev);
        return PARLEY_ENOMEM;
    }
    client_push_event(c, e);
    return 0;
}

int parley_client_journal(struct parley_client *c)
{
    int rc;

    if (!c)
        return PARLEY_EINVAL;
    if (c->conn)
        return PARLEY_EBUSY;
    pthread_mutex_lock(&c->mu);
    c->journal = true;
    rc = lstore_journal_each(c->st, queue_journaled, c);
    pthread_mutex_unlock(&c->mu);
    return rc;
}

int parley_client_event_done(struct parley_client *c, const char *const *msg_ids, size_t n)
{
    int rc;

    if (!c || (n && !msg_ids))
        return PARLEY_EINVAL;
    pthread_mutex_lock(&c->mu);
    rc = lstore_begin(c->st);
    for (size_t i = 0; i < n && rc == 0; i++)
        rc = lstore_journal_done(c->st, msg_ids[i]);
    if (rc == 0)
        rc = lstore_commit(c->st);
    else
        lstore_rollback(c->st);
    pthread_mutex_unlock(&c->mu);
    return rc;
}

/* Store an opened message and forget its one-time pre-key in one step of
 * the batch's transaction (caller holds mu, the transaction is open);
 * returns the event to publish once committed. `keys`, when not NULL, is
 * taken for writing while the pre-key goes (envelopes are being opened on
 * another thread). */
static int store_opened(struct parley_client *c, const struct envelope_opened *o, uint64_t ts_ms,
                        pthread_rwlock_t *keys, struct client_event **evp)
{
    struct lstore_msg m = {0};
    struct lstore_conv conv = {0};
    json_t *payload = NULL;
    char err[256], *body = NULL;
    int msgtype = 0, rc;
    struct client_event *e = NULL;

    *evp = NULL;
    rc = msgtype_decode(o->pt, o->pt_len, &payload, &msgtype, err, sizeof(err));
    if (rc < 0)
        return rc;
    if (!(body = json_dumps(payload, JSON_COMPACT | JSON_SORT_KEYS))) {
        rc = PARLEY_ENOMEM;
        goto out;
    }
    hex_encode(o->hdr.msg_id, KEYS_ID_LEN, m.msg_id);
    hex_encode(o->hdr.conversation, KEYS_ID_LEN, m.conv_id);
    hex_encode(o->sender_user, KEYS_ID_LEN, m.sender);
    hex_encode(o->hdr.sender_device, KEYS_ID_LEN, m.sender_device);
    m.msgtype = msgtype;
    m.body = body;
    m.ts_ms = (int64_t)ts_ms;
    m.expires_at = o->hdr.expires_at;
    m.burn_on_read = (o->hdr.flags & ENVELOPE_BURN_ON_READ) != 0;
    m.state = LSTORE_MSG_RECEIVED;

    if ((rc = lstore_savepoint(c->st)) < 0)
        goto out;
    if (lstore_conv_get(c->st, m.conv_id, &conv) == 0) {
        free(conv.title);
    } else {
        struct lstore_conv nc = {0};
        int t = ids_conv_type(o->hdr.conversation);
        memcpy(nc.conv_id, m.conv_id, sizeof(nc.conv_id));
        strlcpy_p(nc.type, t >= 0 ? ids_conv_type_name((enum ids_conv_type)t) : "direct",
                  sizeof(nc.type));
        if (t == IDS_CONV_DIRECT && memcmp(o->sender_user, c->user_id, KEYS_ID_LEN) != 0)
            memcpy(nc.peer, m.sender, sizeof(nc.peer));
        rc = lstore_conv_put(c->st, &nc);
    }
    if (rc == 0)
        rc = lstore_msg_put(c->st, &m);
    if (rc == 0 && c->journal)
        rc = lstore_journal_add(c->st, m.msg_id);
    if (rc == 0)
        apply_control(c, m.conv_id, m.sender, payload, msgtype);
    /* What the message leaves the conversation's settings at, for the
     * event: only control messages change them. */
    if (rc == 0 && msgtype >= 4000 && msgtype < 5000 &&
        lstore_conv_get(c->st, m.conv_id, &conv) == 0)
        free(conv.title);
    /* Forward secrecy: the one-time pre-key's private half goes now, in
     * the same transaction as the message it opened. */
    if (rc == 0 && o->prekey_kind == KEYS_PREKEY_ONETIME) {
        if (keys)
            pthread_rwlock_wrlock(keys);
        rc = keys_device_consume_prekey(&c->dev, o->prekey_id);
        if (keys)
            pthread_rwlock_unlock(keys);
        if (rc == 0)
            rc = lstore_prekey_used(c->st, o->prekey_id, (uint64_t)time(NULL));
        if (rc == 0)
            rc = client_save_keys(c);
    }
    if (rc == 0)
        rc = lstore_release(c->st);
    else
        lstore_rollback_to(c->st);
    if (rc < 0)
        goto out;

    if ((e = message_event(c, &m, conv.burn_on_read))) {
        e->ev.body = body;
        body = NULL;
    }
    *evp = e;
out:
    if (body) {
        OPENSSL_cleanse(body, strlen(body));
        free(body);
    }
    json_decref(payload);
    return rc;
}

/* A batch of deliveries (those one read brought in) is stored in one
 * transaction, then acknowledged in one frame and published: one fsync for
 * the batch instead of one per message, and still durable before acked. */
struct rx_batch {
    bool tx;        /* a transaction is open on c->st */
    bool unlocked;  /* mu was released since the batch began */
    uint64_t *acks; /* seqs to acknowledge once committed */
    size_t n_acks;
    struct client_event **evs; /* to publish once committed */
    size_t n_evs;
};

/* A room's settings changed with event `from` of the batch, after its
 * messages were stored (room_params): give that event and the later ones
 * of the room the new burn-on-read time (caller does not hold mu). */
static void conv_settings_from(struct parley_client *c, struct rx_batch *b, size_t from)
{
    const char *conv_id = b->evs[from]->ev.conv_id;
    struct lstore_conv conv;
    int rc;

    pthread_mutex_lock(&c->mu);
    rc = lstore_conv_get(c->st, conv_id, &conv);
    pthread_mutex_unlock(&c->mu);
    if (rc < 0)
        return;
    free(conv.title);
    for (size_t j = from; j < b->n_evs; j++)
        if (b->evs[j]->ev.type == PARLEY_EVENT_MESSAGE &&
            strcmp(b->evs[j]->ev.conv_id, conv_id) == 0)
            b->evs[j]->ev.conv_burn_on_read = conv.burn_on_read;
}

/* Commit (caller holds mu), then release mu, acknowledge and publish, and
 * take mu again. A failed commit acknowledges and publishes nothing: the
 * server delivers those messages again. */
static void rx_flush(struct parley_client *c, struct rx_batch *b)
{
    int rc = 0;

    if (b->tx) {
        rc = lstore_commit(c->st);
        b->tx = false;
    }
    pthread_mutex_unlock(&c->mu);
    if (rc < 0) {
        log_warnx("cannot store %zu received messages: %s", b->n_evs, parley_strerror(rc));
        for (size_t i = 0; i < b->n_evs; i++)
            parley_event_free(&b->evs[i]->ev);
    } else {
        if (b->n_acks) {
            struct buf f = BUF_INIT(64 + 24 * b->n_acks);
            if (frame_ack(b->acks, b->n_acks, &f) == 0)
                (void)conn_send(c->conn, false, f.data, f.len);
            buf_release(&f);
        }
        for (size_t i = 0; i < b->n_evs; i++) {
            if (room_params(c, &b->evs[i]->ev))
                conv_settings_from(c, b, i);
            client_push_event(c, b->evs[i]);
        }
    }
    b->n_acks = 0;
    b->n_evs = 0;
    b->unlocked = true;
    pthread_mutex_lock(&c->mu);
}

/* Open one delivery into the batch (caller holds mu). An unknown sender's
 * identity is fetched and pinned once, outside the lock, after what the
 * batch holds so far is committed. */
static int open_delivery(struct parley_client *c, struct rx_batch *b,
                         const struct frame_delivery *d, struct client_event **evp)
{
    struct open_ctx ctx = {.c = c};
    struct envelope_open_cb cb = {
        .identity = on_identity,
        .check_replay = on_check_replay,
        .arg = &ctx,
        .replay_arg = &ctx,
        .now = (uint64_t)time(NULL),
        .certs = &c->certs,
    };
    char seen[PARLEY_ID_HEX];
    int rc;

    /* A delivery sent again after a lost ack: its one-time pre-key is gone,
     * so it would no longer open. Its (unsigned) header names the message;
     * a server lying here can only make us drop what it could withhold. */
    if (d->len >= ENVELOPE_HEADER_LEN && memcmp(d->delivery, "PD", 2) == 0) {
        hex_encode(d->delivery + 8, KEYS_ID_LEN, seen);
        rc = lstore_msg_seen(c->st, seen);
        if (rc < 0)
            return rc;
    }
    for (int attempt = 0; attempt < 2; attempt++) {
        struct envelope_opened o = {0};
        ctx.unknown = false;
        if (!b->tx) {
            if ((rc = lstore_begin(c->st)) < 0)
                break;
            b->tx = true;
        }
        rc = envelope_open(d->delivery, d->len, &c->dev, &cb, &o);
        if (rc == 0)
            rc = store_opened(c, &o, d->ts_ms, NULL, evp);
        envelope_opened_release(&o);
        if (rc != PARLEY_ENOTFOUND || !ctx.unknown || attempt > 0)
            break;
        /* Trust on first use: learn the sender's identity key, outside the
         * lock (network I/O), then try again. */
        char hex[PARLEY_ID_HEX];
        struct api_user u;
        struct sig_key k;
        rx_flush(c, b);
        pthread_mutex_unlock(&c->mu);
        hex_encode(ctx.unknown_user, KEYS_ID_LEN, hex);
        rc = client_get_user(c, hex, NULL, &u);
        if (rc == 0) {
            rc = client_identity(c, u.user_id, u.identity_key, u.identity_key_len, u.username, &k);
            api_user_release(&u);
            if (rc == 0)
                sig_key_release(&k);
        } else {
            rc = rc == PARLEY_ENOTFOUND ? PARLEY_EAUTH : PARLEY_EIO;
        }
        pthread_mutex_lock(&c->mu);
        if (rc < 0)
            break;
    }
    return rc;
}

/* Opening an envelope is pure computation over the frame in memory, so the
 * envelopes of a batch are opened ahead of storing them, while this thread
 * holds mu so that nothing else changes the device keys meanwhile. A
 * helper thread opens them in order; this thread stores each in turn (with
 * the checks that depend on what the batch stored before: replays, a
 * one-time pre-key already used) and, whenever the next one is not open
 * yet, opens the first one nobody has taken. So storing overlaps opening
 * and both cores stay busy. The only change to the keys a batch makes,
 * consuming a one-time pre-key, takes `keys` for writing; each open on the
 * helper holds it for reading. A delivery that did not open ahead for a
 * reason the sequential path handles itself (an unknown sender, a missing
 * pre-key) goes through open_delivery() after the helper has stopped,
 * since that path may release mu. */
#define RX_AHEAD_MIN     8 /* smaller batches are opened on this thread alone */
#define RX_AHEAD_SENDERS 16

struct rx_item {
    struct frame_delivery d;
    bool parsed;
    bool ahead;  /* to open ahead: once opened, rc and o hold the result */
    bool opened; /* under rx_ahead.mu while the helper runs */
    int rc;
    struct envelope_opened o;
};

struct rx_sender {
    uint8_t user[KEYS_ID_LEN];
    bool pinned;
    struct sig_key key; /* a reference of its own to the pinned key */
};

struct rx_ahead {
    struct parley_client *c;
    struct rx_item *items;
    size_t n;
    struct rx_sender senders[RX_AHEAD_SENDERS];
    size_t n_senders;
    uint64_t now;
    bool helper; /* the helper thread runs */
    pthread_t th;
    pthread_mutex_t mu; /* next, stop and the items' opened flags */
    pthread_cond_t cv;  /* an item was opened */
    size_t next;        /* the first item nobody has taken */
    bool stop;
    pthread_rwlock_t keys;
};

static int ahead_identity(void *arg, const uint8_t user_id[KEYS_ID_LEN], const struct sig_key **out)
{
    struct rx_ahead *a = arg;
    for (size_t i = 0; i < a->n_senders; i++) {
        if (a->senders[i].pinned && memcmp(a->senders[i].user, user_id, KEYS_ID_LEN) == 0) {
            *out = &a->senders[i].key;
            return 0;
        }
    }
    return PARLEY_ENOTFOUND;
}

static void open_one(struct rx_ahead *a, struct rx_item *it)
{
    struct envelope_open_cb cb = {
        .identity = ahead_identity,
        .arg = a,
        .now = a->now,
        .certs = &a->c->certs,
    };
    it->rc = envelope_open(it->d.delivery, it->d.len, &a->c->dev, &cb, &it->o);
}

/* Take the next item to open, marking those that need no opening as done
 * (caller holds a->mu); NULL when none is left. */
static struct rx_item *ahead_take(struct rx_ahead *a)
{
    while (!a->stop && a->next < a->n) {
        struct rx_item *it = &a->items[a->next++];
        if (it->ahead)
            return it;
        it->opened = true;
    }
    return NULL;
}

static void *ahead_thread(void *arg)
{
    struct rx_ahead *a = arg;
    struct rx_item *it;

    pthread_mutex_lock(&a->mu);
    while ((it = ahead_take(a))) {
        pthread_mutex_unlock(&a->mu);
        pthread_rwlock_rdlock(&a->keys);
        open_one(a, it);
        pthread_rwlock_unlock(&a->keys);
        pthread_mutex_lock(&a->mu);
        it->opened = true;
        pthread_cond_broadcast(&a->cv);
    }
    pthread_mutex_unlock(&a->mu);
    return NULL;
}

/* Pin the senders of the batch and start the helper (caller holds mu). */
static void ahead_start(struct parley_client *c, struct rx_ahead *a, struct rx_item *items,
                        size_t n)
{
    size_t todo = 0;

    /* The lock is writer-first: with glibc's default the helper, taking
     * the read lock again after every envelope, would keep a pre-key's
     * removal waiting until the whole batch is open. */
    *a = (struct rx_ahead){.c = c,
                           .items = items,
                           .n = n,
                           .now = (uint64_t)time(NULL),
                           .mu = PTHREAD_MUTEX_INITIALIZER,
                           .cv = PTHREAD_COND_INITIALIZER,
                           .keys = PTHREAD_RWLOCK_WRITER_NONRECURSIVE_INITIALIZER_NP};
    for (size_t i = 0; i < n; i++) {
        uint8_t user[KEYS_ID_LEN];
        const struct sig_key *k;
        size_t j;

        if (!items[i].parsed ||
            envelope_delivery_sender(items[i].d.delivery, items[i].d.len, user) < 0)
            continue;
        for (j = 0; j < a->n_senders && memcmp(a->senders[j].user, user, KEYS_ID_LEN); j++)
            ;
        if (j == a->n_senders) {
            if (j == RX_AHEAD_SENDERS)
                continue;
            memcpy(a->senders[j].user, user, KEYS_ID_LEN);
            a->senders[j].pinned = pinned_identity(c, user, &k) == 0;
            if (a->senders[j].pinned) {
                a->senders[j].key = *k;
                EVP_PKEY_up_ref(k->pkey);
            }
            a->n_senders++;
        }
        if (a->senders[j].pinned) {
            items[i].ahead = true;
            todo++;
        }
    }
    if (todo >= RX_AHEAD_MIN)
        a->helper = pthread_create(&a->th, NULL, ahead_thread, a) == 0;
}

/* Item `it` opened, if it is to be opened ahead (caller holds mu). This
 * thread never waits while there is an item left to open: it opens it
 * itself, without the read lock, since only this thread writes the keys. */
static void ahead_wait(struct rx_ahead *a, struct rx_item *it)
{
    struct rx_item *mine;

    if (!it->ahead)
        return;
    if (!a->helper) {
        if (!it->opened)
            open_one(a, it);
        it->opened = true;
        return;
    }
    pthread_mutex_lock(&a->mu);
    while (!it->opened) {
        if ((mine = ahead_take(a))) {
            pthread_mutex_unlock(&a->mu);
            open_one(a, mine);
            pthread_mutex_lock(&a->mu);
            mine->opened = true;
        } else {
            pthread_cond_wait(&a->cv, &a->mu);
        }
    }
    pthread_mutex_unlock(&a->mu);
}

/* Stop and join the helper; what it had not opened is opened in turn on
 * the sequential path. */
static void ahead_stop(struct rx_ahead *a)
{
    if (!a->helper)
        return;
    pthread_mutex_lock(&a->mu);
    a->stop = true;
    pthread_mutex_unlock(&a->mu);
    pthread_join(a->th, NULL);
    a->helper = false;
    for (size_t i = 0; i < a->n; i++)
        if (!a->items[i].opened)
            a->items[i].ahead = false;
}

static void ahead_finish(struct rx_ahead *a)
{
    ahead_stop(a);
    for (size_t j = 0; j < a->n_senders; j++)
        if (a->senders[j].pinned)
            sig_key_release(&a->senders[j].key);
}

/* Store one delivery of the batch in order (caller holds mu). */
static int accept_delivery(struct parley_client *c, struct rx_batch *b, struct rx_ahead *a,
                           struct rx_item *it, struct client_event **evp)
{
    char hex[PARLEY_ID_HEX];
    int rc;

    ahead_wait(a, it);
    if (!it->ahead || it->rc == PARLEY_ENOTFOUND) {
        ahead_stop(a);
        return open_delivery(c, b, &it->d, evp);
    }
    /* What open_delivery checks before opening, and envelope_open after
     * decrypting, now that the deliveries before this one are stored. */
    if (it->d.len >= ENVELOPE_HEADER_LEN && memcmp(it->d.delivery, "PD", 2) == 0) {
        hex_encode(it->d.delivery + 8, KEYS_ID_LEN, hex);
        if ((rc = lstore_msg_seen(c->st, hex)) < 0)
            return rc;
    }
    if (it->rc < 0)
        return it->rc;
    if (!keys_device_find_prekey(&c->dev, it->o.prekey_id)) {
        ahead_stop(a);
        return open_delivery(c, b, &it->d, evp); /* used by the batch: refused there */
    }
    if (!b->tx) {
        if ((rc = lstore_begin(c->st)) < 0)
            return rc;
        b->tx = true;
    }
    return store_opened(c, &it->o, it->d.ts_ms, a->helper ? &a->keys : NULL, evp);
}

static void on_binary(void *arg, const struct conn_msg *msgs, size_t n)
{
    struct parley_client *c = arg;
    struct rx_batch b = {0};
    struct rx_ahead a;
    struct rx_item *items;

    b.acks = calloc(n, sizeof(*b.acks));
    b.evs = calloc(n, sizeof(*b.evs));
    items = calloc(n, sizeof(*items));
    if (!b.acks || !b.evs || !items) {
        free(b.acks);
        free(b.evs);
        free(items);
        return; /* unacknowledged: the server sends them again */
    }
    for (size_t i = 0; i < n; i++) {
        items[i].parsed = frame_delivery_parse(msgs[i].p, msgs[i].n, &items[i].d) == 0;
        if (!items[i].parsed)
            log_warnx("malformed frame from the server len=%zu", msgs[i].n);
    }
    pthread_mutex_lock(&c->mu);
    ahead_start(c, &a, items, n);
    for (size_t i = 0; i < n; i++) {
        const struct frame_delivery *d = &items[i].d;
        struct client_event *e = NULL;
        int rc;

        if (!items[i].parsed)
            continue;
        /* Keys or pins may have changed while mu was released (learning
         * a new sender's identity): open the rest again as they come. */
        if (b.unlocked)
            items[i].ahead = false;
        rc = accept_delivery(c, &b, &a, &items[i], &e);
        envelope_opened_release(&items[i].o);
        switch (rc) {
        case 0:
            b.acks[b.n_acks++] = d->seq;
            if (e)
                b.evs[b.n_evs++] = e;
            break;
        case PARLEY_EREPLAY:
            b.acks[b.n_acks++] = d->seq; /* a second delivery of a stored message */
            break;
        case PARLEY_EIO:
        case PARLEY_ESTORE:
        case PARLEY_ENOMEM:
            /* Transient: leave it queued; the server sends it again. */
            log_warnx("cannot accept delivery seq=%llu: %s", (unsigned long long)d->seq,
                      parley_strerror(rc));
            break;
        default:
            /* Permanent (forged, not for us, expired, key gone, changed
             * identity): drop it from the queue and tell the application. */
            b.acks[b.n_acks++] = d->seq;
            if ((e = client_event_new(PARLEY_EVENT_ERROR))) {
                e->ev.err = rc;
                e->ev.body = strdup("a received message was rejected");
                b.evs[b.n_evs++] = e;
            }
            break;
        }
    }
    ahead_finish(&a);
    rx_flush(c, &b);
    pthread_mutex_unlock(&c->mu);
    free(b.acks);
    free(b.evs);
    free(items);
}

static void on_text(void *arg, const char *p, size_t n)
{
    struct parley_client *c = arg;
    struct frame_ctl ctl;

    if (frame_ctl_parse(p, n, &ctl) < 0) {
        log_warnx("malformed control message from the server len=%zu", n);
        return;
    }
    switch (ctl.type) {
    case FRAME_CTL_ACK:
        client_on_ack(c, ctl.msg_id, 0, "", ctl.ts_ms);
        break;
    case FRAME_CTL_NACK:
        client_on_ack(c, ctl.msg_id, PARLEY_EPERM, ctl.code, 0);
        break;
    case FRAME_CTL_PREKEYS_LOW:
        replenish(c);
        break;
    case FRAME_CTL_TYPING:
    case FRAME_CTL_PRESENCE: {
        struct client_event *e = client_event_new(
            ctl.type == FRAME_CTL_TYPING ? PARLEY_EVENT_TYPING : PARLEY_EVENT_PRESENCE);
        if (!e)
            break;
        hex_encode(ctl.user_id, KEYS_ID_LEN, e->ev.sender);
        if (ctl.type == FRAME_CTL_TYPING) {
            hex_encode(ctl.conv_id, KEYS_ID_LEN, e->ev.conv_id);
            e->ev.active = ctl.active;
        } else {
            e->ev.body = strdup(ctl.status);
            e->ev.idle_s = ctl.idle_s;
        }
        client_push_event(c, e);
        break;
    }
    case FRAME_CTL_READ:
        /* One event per message read. */
        for (size_t i = 0; i < ctl.n_read; i++) {
            struct client_event *e = client_event_new(PARLEY_EVENT_READ);
            if (!e)
                break;
            hex_encode(ctl.user_id, KEYS_ID_LEN, e->ev.sender);
            hex_encode(ctl.conv_id, KEYS_ID_LEN, e->ev.conv_id);
            hex_encode(ctl.read_ids[i], KEYS_ID_LEN, e->ev.msg_id);
            client_push_event(c, e);
        }
        break;
    case FRAME_CTL_ERROR:
        if (strcmp(ctl.code, "forbidden") == 0)
            push_error(c, PARLEY_EPERM, "the server refused a control message: forbidden");
        if (strcmp(ctl.code, "unauthorized") == 0)
            push_error(c, PARLEY_EAUTH, "the server refused the device token");
        break;
    default:
        break;
    }
}

/* Rotate the fallback pre-key once a week; keep the old ones a month for
 * envelopes still in flight. The upload carries a fresh batch of one-time
 * pre-keys with it, because the upload replaces the server's pool. */
static void rotate_fallback(struct parley_client *c)
{
    uint64_t now = (uint64_t)time(NULL);
    const struct keys_prekey *fb;
    uint32_t min_id;
    char next[16];
    int rc;

    pthread_mutex_lock(&c->mu);
    fb = keys_device_find_prekey(&c->dev, c->dev.fallback_id);
    if (fb && fb->created + CLIENT_FALLBACK_MAX_AGE > now) {
        pthread_mutex_unlock(&c->mu);
        return;
    }
    min_id = c->dev.next_prekey_id;
    rc = keys_device_rotate_fallback(&c->dev, now);
    if (rc == 0)
        rc = keys_device_add_prekeys(&c->dev, CLIENT_REPLENISH, now);
    if (rc == 0) {
        keys_device_drop_fallbacks(&c->dev, now - CLIENT_FALLBACK_KEEP);
        rc = client_save_keys(c);
    }
    snprintf(next, sizeof(next), "%u", c->dev.next_prekey_id);
    if (rc == 0)
        rc = lstore_set(c->st, "prekeys_uploaded_to", next);
    pthread_mutex_unlock(&c->mu);
    if (rc == 0)
        rc = client_upload_bundle(c, min_id);
    if (rc < 0)
        log_warnx("cannot rotate the fallback pre-key: %s", parley_strerror(rc));
}

static void on_online(void *arg)
{
    struct parley_client *c = arg;
    rotate_fallback(c);
    pthread_mutex_lock(&c->mu);
    c->online = true;
    c->online_gen++;
    pthread_cond_broadcast(&c->ack_cv);
    pthread_mutex_unlock(&c->mu);
    client_push_event(c, client_event_new(PARLEY_EVENT_ONLINE));
}

static void on_offline(void *arg)
{
    struct parley_client *c = arg;
    pthread_mutex_lock(&c->mu);
    c->online = false;
    pthread_mutex_unlock(&c->mu);
    client_push_event(c, client_event_new(PARLEY_EVENT_OFFLINE));
}

int parley_client_connect(struct parley_client *c)
{
    static const struct conn_ops ops = {on_online, on_offline, on_text, on_binary};
    if (c->conn)
        return PARLEY_EBUSY;
    return conn_start(c->cfg->host, c->cfg->port, c->ca_file, c->device_token, &ops, c, &c->conn);
}

int parley_client_wait_online(struct parley_client *c, int timeout_ms)
{
    struct timespec deadline;
    int rc = 0;

    clock_gettime(CLOCK_REALTIME, &deadline);
    deadline.tv_sec += timeout_ms / 1000;
    deadline.tv_nsec += (long)(timeout_ms % 1000) * 1000000L;
    if (deadline.tv_nsec >= 1000000000L) {
        deadline.tv_sec++;
        deadline.tv_nsec -= 1000000000L;
    }
    pthread_mutex_lock(&c->mu);
    while (!c->online && rc == 0)
        if (pthread_cond_timedwait(&c->ack_cv, &c->mu, &deadline) == ETIMEDOUT)
            rc = PARLEY_EBUSY;
    if (c->online)
        rc = 0;
    pthread_mutex_unlock(&c->mu);
    return rc;
}
