/* ws.c - the client WebSocket channel: reassembly, a bounded send queue,
 * authentication, the registry of live sessions, envelope submission and
 * acknowledgement, delivery (backlog from the database, then live fan-out),
 * control messages and the expirer's timer. See ws.h and
 * docs/internals/messaging.md. Loop thread only. */
#include "ws.h"
#include "api_conv.h"
#include "auth_token.h"
#include "common/log.h"
#include "common/str.h"
#include "cluster.h"
#include "evlog.h"
#include "common/xmalloc.h"
#include "loopq.h"
#include "msgstore.h"
#include "proto/ids.h"
#include "api_files.h"
#include "sgroup_settings.h"
#include "store.h"

#include <stdatomic.h>

#include <openssl/ssl.h>

/* A slow reader may have this much queued before it is disconnected. */
#define WS_MAX_QUEUED (4u << 20)
/* Deliveries are queued only while less than this is waiting to be sent;
 * past it the session falls back to reading its queue from the database
 * as the socket drains, so a slow reader costs disk reads, not memory. */
#define WS_FILL_BYTES (256u << 10)
/* Queue entries read from the database at a time. */
#define WS_FILL_BATCH 32
/* Envelopes of one session awaiting their commit: past this, stop reading
 * from the socket until acks come back. */
#define WS_MAX_INFLIGHT (8u << 20)
/* The expirer's period. */
#define WS_EXPIRER_US (2 * LWS_US_PER_SEC)

struct ws_frame {
    struct ws_frame *next;
    size_t len;
    bool is_binary;
    unsigned char data[]; /* LWS_PRE bytes of headroom, then the payload */
};

#define FRAME_HEAD (offsetof(struct ws_frame, data) + LWS_PRE)

/* ---- send queue --------------------------------------------------------- */

static void queue_owned(struct ws_session *s, struct ws_frame *f)
{
    bool was_empty = !s->tx_head;
    f->next = NULL;
    *s->tx_tail = f;
    s->tx_tail = &f->next;
    s->tx_queued += f->len;
    /* A non-empty queue already has a writeable callback coming. */
    if (was_empty)
        lws_callback_on_writable(s->wsi);
}

static int queue_frame(struct ws_session *s, const void *p, size_t len, bool is_binary)
{
    struct ws_frame *f;

    if (s->tx_queued + len > WS_MAX_QUEUED)
        return PARLEY_EBUSY;
    f = xmalloc(FRAME_HEAD + len);
    f->len = len;
    f->is_binary = is_binary;
    memcpy(f->data + LWS_PRE, p, len);
    queue_owned(s, f);
    return 0;
}

static void drop_queue(struct ws_session *s)
{
    struct ws_frame *f, *next;
    for (f = s->tx_head; f; f = next) {
        next = f->next;
        free(f);
    }
    s->tx_head = NULL;
    s->tx_tail = &s->tx_head;
    s->tx_queued = 0;
}

/* Close with `code` once what is queued has been sent (flush) or at once. */
static void close_session(struct ws_session *s, unsigned code, bool flush)
{
    if (!flush)
        drop_queue(s);
    if (!s->close_code)
        s->close_code = code;
    lws_callback_on_writable(s->wsi);
}

int ws_send_text(struct ws_session *s, const char *text, size_t len)
{
    return queue_frame(s, text, len, false);
}

static void send_json(struct ws_session *s, json_t *obj)
{
    char *text = json_dumps(obj, JSON_COMPACT);
    json_decref(obj);
    if (!text)
        BUG("json_dumps failed");
    if (!s->close_code && ws_send_text(s, text, strlen(text)) < 0) {
        log_warnx("ws: peer is not reading its messages, closing");
        close_session(s, LWS_CLOSE_STATUS_POLICY_VIOLATION, false);
    }
    free(text);
}

static void send_error(struct ws_session *s, const char *code, const char *message)
{
    send_json(s, json_pack("{s:s,s:s,s:s}", "type", "error", "code", code, "message", message));
}

static json_t *json_id(const uint8_t id[KEYS_ID_LEN])
{
    char hex[2 * KEYS_ID_LEN + 1];
    hex_encode(id, KEYS_ID_LEN, hex);
    return json_string(hex);
}

static void fill(struct ws_session *s);

/* ---- the registry of live, authenticated sessions ----------------------- */

#define REG_BUCKETS 4096

static struct ws_session *by_device[REG_BUCKETS], *by_user[REG_BUCKETS];
static uint64_t next_gen;

static size_t dev_bucket(const uint8_t id[KEYS_ID_LEN])
{
    /* Device ids are random: their first bytes are a fine hash. */
    return ((size_t)id[0] << 8 | id[1]) % REG_BUCKETS;
}

static size_t user_bucket(int64_t row)
{
    return (size_t)(((uint64_t)row * 0x9E3779B97F4A7C15ull) >> 52) % REG_BUCKETS;
}

static struct ws_session *find_device(const uint8_t id[KEYS_ID_LEN])
{
    struct ws_session *s = by_device[dev_bucket(id)];
    while (s && memcmp(s->device_id, id, KEYS_ID_LEN) != 0)
        s = s->dev_next;
    return s;
}

static void reg_add(struct ws_session *s)
{
    size_t d = dev_bucket(s->device_id), u = user_bucket(s->user_row);
    s->dev_next = by_device[d];
    by_device[d] = s;
    s->user_next = by_user[u];
    by_user[u] = s;
}

static void reg_remove(struct ws_session *s)
{
    struct ws_session **pp;

    if (!s->is_authed)
        return;
    for (pp = &by_device[dev_bucket(s->device_id)]; *pp; pp = &(*pp)->dev_next)
        if (*pp == s) {
            *pp = s->dev_next;
            break;
        }
    for (pp = &by_user[user_bucket(s->user_row)]; *pp; pp = &(*pp)->user_next)
        if (*pp == s) {
            *pp = s->user_next;
            break;
        }
    s->is_authed = false;
}

int ws_disconnect_user(struct server *srv, const uint8_t user_id[KEYS_ID_LEN])
{
    cluster_kick_user(user_id);
    return ws_cluster_kick_user(srv, user_id);
}

int ws_cluster_kick_user(struct server *srv, const uint8_t user_id[KEYS_ID_LEN])
{
    int n = 0;
    (void)srv;
    for (size_t b = 0; b < REG_BUCKETS; b++) {
        struct ws_session *s = by_device[b], *next;
        for (; s; s = next) {
            next = s->dev_next;
            if (memcmp(s->user_id, user_id, KEYS_ID_LEN) != 0)
                continue;
            send_error(s, "unauthorized", "account suspended");
            reg_remove(s);
            close_session(s, LWS_CLOSE_STATUS_POLICY_VIOLATION, true);
            n++;
        }
    }
    return n;
}

void ws_disconnect_device(struct server *srv, const uint8_t device_id[KEYS_ID_LEN])
{
    cluster_kick_device(device_id, LWS_CLOSE_STATUS_POLICY_VIOLATION);
    ws_cluster_kick_device(srv, device_id, LWS_CLOSE_STATUS_POLICY_VIOLATION);
}

void ws_cluster_kick_device(struct server *srv, const uint8_t device_id[KEYS_ID_LEN], unsigned code)
{
    struct ws_session *s = find_device(device_id);
    (void)srv;
    if (!s)
        return;
    reg_remove(s);
    if (code == WS_CLOSE_REPLACED) {
        close_session(s, WS_CLOSE_REPLACED, false);
        return;
    }
    send_error(s, "unauthorized", "this device was removed or logged out");
    close_session(s, LWS_CLOSE_STATUS_POLICY_VIOLATION, true);
}

void ws_cluster_wake(struct server *srv, const uint8_t device_id[KEYS_ID_LEN])
{
    struct ws_session *s = find_device(device_id);
    (void)srv;
    if (!s || s->close_code)
        return;
    /* Another node stored something for this device: read the queue. */
    s->is_caught_up = false;
    if (!s->tx_head)
        fill(s);
}

void ws_cluster_relay(struct server *srv, const int64_t *users, size_t n, json_t *msg)
{
    (void)srv;
    for (size_t i = 0; i < n; i++)
        for (struct ws_session *t = by_user[user_bucket(users[i])]; t; t = t->user_next)
            if (t->user_row == users[i] && t->is_authed && !t->close_code)
                send_json(t, json_incref(msg));
}

void ws_notify_prekeys_low(struct server *srv, const uint8_t device_id[KEYS_ID_LEN],
                           int64_t remaining)
{
    struct ws_session *s = find_device(device_id);
    (void)srv;
    if (s)
        send_json(
            s, json_pack("{s:s,s:I}", "type", "prekeys_low", "remaining", (json_int_t)remaining));
}

/* ---- delivery ----------------------------------------------------------- */

/* 0x02 || seq || ts || the device's delivery, built in place in a frame. */
static struct ws_frame *delivery_frame(int64_t seq, int64_t ts_ms,
                                       const struct envelope_splitter *sp, const uint8_t *env,
                                       size_t len, const uint8_t device_id[KEYS_ID_LEN])
{
    static const uint8_t zeros[FRAME_HEAD];
    struct buf b = BUF_INIT(SIZE_MAX);
    struct ws_frame *f;
    size_t total;
    int rc;

    /* One allocation when the splitter is at hand: header, certificate and
     * content, this device's wrap, its audit path and the signature. */
    if (sp)
        buf_reserve(&b, FRAME_HEAD + 17 + (size_t)(sp->route.wraps - sp->env) + 2 +
                            sp->route.wrap_len + sp->n_levels * sp->hash_len + SUITE_MAX_SIG);
    buf_append(&b, zeros, FRAME_HEAD);
    buf_append_byte(&b, 0x02);
    buf_append_u64(&b, (uint64_t)seq);
    buf_append_u64(&b, (uint64_t)ts_ms);
    rc = sp ? envelope_splitter_for(sp, device_id, &b) : envelope_split(env, len, device_id, &b);
    if (rc < 0) {
        buf_release(&b);
        return NULL;
    }
    f = (struct ws_frame *)buf_detach(&b, &total);
    f->len = total - FRAME_HEAD;
    f->is_binary = true;
    return f;
}

/* Queue entries from the database until the send queue is full enough or
 * the device's queue is exhausted (then live delivery takes over). */
static void fill(struct ws_session *s)
{
    struct msg_queued batch[WS_FILL_BATCH];

    while (s->is_authed && !s->is_caught_up && !s->close_code && s->tx_queued < WS_FILL_BYTES) {
        int n =
            msgstore_read_queue(s->srv->store, s->device_row, s->last_seq, batch, WS_FILL_BATCH);
        if (n < 0) {
            log_warnx("ws: cannot read a device's queue: %s", parley_strerror(n));
            return; /* retried on the next writeable callback */
        }
        for (int i = 0; i < n; i++) {
            struct ws_frame *f = delivery_frame(batch[i].seq, batch[i].ts_ms, NULL, batch[i].body,
                                                batch[i].len, s->device_id);
            if (f)
                queue_owned(s, f);
            else
                log_warnx("ws: queued envelope seq=%lld does not split for its device",
                          (long long)batch[i].seq);
            s->last_seq = batch[i].seq;
            free(batch[i].body);
        }
        if (n < WS_FILL_BATCH)
            s->is_caught_up = true;
    }
}

static void deliver_live(struct ws_session *t, const struct msg_recipient *r,
                         struct envelope_splitter *sp, int64_t ts_ms)
{
    struct ws_frame *f;

    if (!t->is_caught_up || r->seq <= t->last_seq)
        return; /* the database read will bring it */
    if (r->seq != t->last_seq + 1 || t->tx_queued >= WS_FILL_BYTES) {
        /* A gap, or a slow reader: go back to reading the queue. */
        t->is_caught_up = false;
        if (!t->tx_head)
            fill(t);
        return;
    }
    f = delivery_frame(r->seq, ts_ms, sp, NULL, 0, r->device_id);
    if (!f)
        return;
    queue_owned(t, f);
    t->last_seq = r->seq;
}

/* Send an envelope to the recipients connected here. Runs when the rows
 * are written (early: before the commit, see on_early) and again once they
 * are durable: a session served early has last_seq at the seq and is
 * skipped; one that was reading its queue then is served now. Only the
 * second pass wakes other nodes, which read the database. */
static void fan_out(const uint8_t *frame, size_t frame_len, int64_t ts_ms,
                    const struct msg_recipient *rcpt, size_t n_rcpt, bool is_durable)
{
    struct envelope_splitter sp;
    bool has_sp = false;

    for (size_t i = 0; i < n_rcpt; i++) {
        struct ws_session *t = find_device(rcpt[i].device_id);
        if (!t) {
            if (is_durable)
                cluster_wake_device(rcpt[i].device_id); /* maybe on another node */
            continue;
        }
        if (t->close_code || rcpt[i].seq <= t->last_seq)
            continue;
        if (!has_sp) {
            if (envelope_splitter_init(&sp, frame + 1, frame_len - 1) < 0)
                return;
            has_sp = true;
        }
        deliver_live(t, &rcpt[i], &sp, ts_ms);
    }
    if (has_sp)
        envelope_splitter_release(&sp);
}

/* What an early delivery needs: the recipients as numbered (the job's
 * copy may be cleared if the commit fails) and the frame, which stays
 * with the submission until on_submitted, queued behind this. */
struct early {
    struct early *next;
    const uint8_t *frame;
    size_t frame_len;
    int64_t ts_ms;
    size_t n_rcpt;
    struct msg_recipient rcpt[];
};

static void on_early(struct server *srv, void *arg)
{
    struct early *e = arg, *next;
    for (; e; e = next) {
        next = e->next;
        if (srv)
            fan_out(e->frame, e->frame_len, e->ts_ms, e->rcpt, e->n_rcpt, false);
        free(e);
    }
}

/* The open batch's early deliveries, in job order (committer thread). They
 * go to the loop together, just before the COMMIT: one wake-up of the loop
 * and one pass over the sessions per batch, so a session's deliveries of
 * one batch share a write, as they do after the commit. */
static struct early *early_head, **early_tail = &early_head;

/* Committer thread, before the commit: recipients need not wait for the
 * sender's durability (docs/internals/messaging.md, "Early delivery"). */
static void submit_early(struct msg_submit *m)
{
    struct early *e = malloc(sizeof(*e) + m->n_rcpt * sizeof(*m->rcpt));
    if (!e)
        return; /* delivered after the commit instead */
    e->next = NULL;
    e->frame = m->frame;
    e->frame_len = m->frame_len;
    e->ts_ms = m->ts_ms;
    e->n_rcpt = m->n_rcpt;
    memcpy(e->rcpt, m->rcpt, m->n_rcpt * sizeof(*m->rcpt));
    *early_tail = e;
    early_tail = &e->next;
}

/* Committer thread: the batch's jobs have run. A broken batch delivers
 * nothing early: its envelopes are refused after the rollback. */
static void before_commit(void *arg, bool committing)
{
    struct early *list = early_head;
    (void)arg;
    early_head = NULL;
    early_tail = &early_head;
    if (list && (!committing || loopq_post(on_early, list) < 0))
        on_early(NULL, list);
}

/* ---- submission --------------------------------------------------------- */

static json_t *id_list(uint8_t (*ids)[KEYS_ID_LEN], size_t n)
{
    json_t *a = json_array();
    for (size_t i = 0; i < n; i++)
        json_array_append_new(a, json_id(ids[i]));
    return a;
}

static json_t *frame_msg_id(const struct msg_submit *m)
{
    /* msg_id sits at bytes 8..24 of the envelope header. */
    if (m->frame_len >= 1 + 8 + KEYS_ID_LEN)
        return json_id(m->frame + 1 + 8);
    return json_null();
}

static void send_verdict(struct ws_session *s, const struct msg_submit *m)
{
    json_t *o;

    if (m->verdict == MSG_OK && m->frame_len >= 1 + 8 + KEYS_ID_LEN) {
        /* The hot path: formatted directly, as json_dumps would. */
        char text[96], hex[2 * KEYS_ID_LEN + 1];
        int n;
        hex_encode(m->frame + 1 + 8, KEYS_ID_LEN, hex);
        n = snprintf(text, sizeof(text), "{\"type\":\"ack\",\"msg_id\":\"%s\",\"ts\":%lld}", hex,
                     (long long)m->ts_ms);
        if (!s->close_code && ws_send_text(s, text, (size_t)n) < 0) {
            log_warnx("ws: peer is not reading its messages, closing");
            close_session(s, LWS_CLOSE_STATUS_POLICY_VIOLATION, false);
        }
        return;
    }
    if (m->verdict == MSG_OK) {
        send_json(s, json_pack("{s:s,s:o,s:I}", "type", "ack", "msg_id", frame_msg_id(m), "ts",
                               (json_int_t)m->ts_ms));
        return;
    }
    o = json_pack("{s:s,s:o,s:s,s:s}", "type", "nack", "msg_id", frame_msg_id(m), "code",
                  msg_verdict_code(m->verdict), "message", m->message);
    if (m->verdict == MSG_DEVICES_CHANGED) {
        json_object_set_new(o, "missing", id_list(m->missing, m->n_missing));
        json_object_set_new(o, "extra", id_list(m->extra, m->n_extra));
    }
    send_json(s, o);
}

/* Envelopes awaiting their commit hold memory: past WS_MAX_INFLIGHT bytes,
 * stop reading the socket until acks come back. */
static void inflight_add(struct ws_session *s, size_t bytes)
{
    s->inflight += bytes;
    if (!s->is_rx_paused && s->inflight > WS_MAX_INFLIGHT) {
        s->is_rx_paused = true;
        lws_rx_flow_control(s->wsi, 0);
    }
}

static void inflight_done(struct ws_session *s, size_t bytes)
{
    s->inflight -= bytes < s->inflight ? bytes : s->inflight;
    if (s->is_rx_paused && s->inflight < WS_MAX_INFLIGHT / 2) {
        s->is_rx_paused = false;
        lws_rx_flow_control(s->wsi, 1);
    }
}

/* Loop thread: a submission's durable result. */
/* One line of the network's event log, as verbose as its setting asks. */
static void log_event(struct server *srv, const struct ws_session *s, int64_t network_row,
                      const char *event, const char *conv, size_t n_recipients)
{
    struct evlog_event e = {.event = event, .conv = conv, .n_recipients = n_recipients};
    char network_id[64], device[2 * KEYS_ID_LEN + 1], user[2 * KEYS_ID_LEN + 1];
    enum evlog_level level;
    struct buf line = BUF_INIT(1024);

    if (evlog_network(srv->store, network_row, &level, network_id) < 0)
        level = EVLOG_ACTIVITY;
    e.network_id = network_id;
    if (s) {
        hex_encode(s->device_id, KEYS_ID_LEN, device);
        hex_encode(s->user_id, KEYS_ID_LEN, user);
        e.ip = s->ip[0] ? s->ip : NULL;
        e.device_id = device;
        e.platform = s->platform;
        e.user_id = user;
    }
    if (evlog_format(level, &e, &line) == 0)
        log_info("%s", (const char *)line.data);
    buf_release(&line);
}

static void on_submitted(struct server *srv, void *arg)
{
    struct msg_submit *m = arg;
    struct ws_session *s;

    if (!srv) {
        msgstore_submit_free(m);
        return;
    }
    s = find_device(m->session_device);
    if (s && s->gen == m->session_gen) {
        send_verdict(s, m);
        inflight_done(s, m->frame_len);
    }
    if (m->verdict == MSG_OK && !m->duplicate) {
        int t = ids_conv_type(m->route.hdr.conversation);
        log_event(srv, s && s->gen == m->session_gen ? s : NULL, m->network_row, "message",
                  t >= 0 ? ids_conv_type_name((enum ids_conv_type)t) : NULL, m->n_rcpt);
        fan_out(m->frame, m->frame_len, m->ts_ms, m->rcpt, m->n_rcpt, true);
    }
    msgstore_submit_free(m);
}

/* Committer thread. */
static void submit_done(struct msg_submit *m)
{
    if (loopq_post(on_submitted, m) < 0)
        msgstore_submit_free(m);
}

static int64_t now_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

static void on_envelope(struct ws_session *s)
{
    struct msg_submit *m = xcalloc(1, sizeof(*m));

    m->frame = buf_detach(&s->rx, &m->frame_len);
    memcpy(m->session_device, s->device_id, KEYS_ID_LEN);
    m->session_gen = s->gen;
    m->sender_device_row = s->device_row;
    m->sender_user_row = s->user_row;
    m->network_row = s->network_row;
    m->ts_ms = now_ms();
    m->done = submit_done;
    /* Across nodes another committer numbers the same devices' queues. */
    if (!cluster_enabled())
        m->early = submit_early;
    if (msgstore_precheck(m, (size_t)s->srv->cfg->ws_max_message) != MSG_OK) {
        send_verdict(s, m);
        msgstore_submit_free(m);
        return;
    }
    inflight_add(s, m->frame_len);
    msgstore_submit(s->srv->store, m);
}

/* ---- control messages --------------------------------------------------- */

static void on_ping(struct ws_session *s, json_t *msg)
{
    json_t *id = json_object_get(msg, "id");
    json_t *reply = json_pack("{s:s}", "type", "pong");
    if (id)
        json_object_set(reply, "id", id);
    send_json(s, reply);
}

static void refuse_auth(struct ws_session *s, const char *message)
{
    send_error(s, "unauthorized", message);
    close_session(s, LWS_CLOSE_STATUS_POLICY_VIOLATION, true);
}

static void on_auth(struct ws_session *s, json_t *msg)
{
    const char *token = json_string_value(json_object_get(msg, "token"));
    struct client_auth a;
    struct ws_session *old;
    int64_t left;
    int rc;

    if (s->is_authed) {
        send_error(s, "bad_message", "already authenticated");
        return;
    }
    if (!token) {
        refuse_auth(s, "field 'token' (a device token) is required");
        return;
    }
    rc = auth_token_lookup(s->srv->store, token, strlen(token), &a);
    if (rc == PARLEY_EPERM) {
        refuse_auth(s, "account suspended");
        return;
    }
    if (rc < 0 || a.device_row == 0) {
        refuse_auth(s, rc == 0 ? "field 'token' is a login token: use a device token"
                               : "field 'token' is unknown, expired or revoked");
        return;
    }
    old = find_device(a.device_id);
    if (old) {
        reg_remove(old);
        close_session(old, WS_CLOSE_REPLACED, false);
    }
    cluster_kick_device(a.device_id, WS_CLOSE_REPLACED); /* one live session per device */
    s->user_row = a.user_row;
    s->device_row = a.device_row;
    s->network_row = a.network_row;
    memcpy(s->user_id, a.user_id, KEYS_ID_LEN);
    memcpy(s->device_id, a.device_id, KEYS_ID_LEN);
    s->gen = ++next_gen;
    s->is_authed = true;
    s->last_seq = 0;
    s->is_caught_up = false;
    reg_add(s);
    lws_get_peer_simple(s->wsi, s->ip, sizeof(s->ip));
    strlcpy_p(s->platform, a.platform, sizeof(s->platform));
    log_event(s->srv, s, s->network_row, "session_start", NULL, 0);
    send_json(s, json_pack("{s:s,s:o,s:o}", "type", "auth_ok", "user_id", json_id(a.user_id),
                           "device_id", json_id(a.device_id)));
    msgstore_touch_device(s->srv->store, s->device_row);
    left = msgstore_prekeys_left(s->srv->store, s->device_row);
    if (left >= 0 && left < 20)
        send_json(s, json_pack("{s:s,s:I}", "type", "prekeys_low", "remaining", (json_int_t)left));
    fill(s);
}

int ws_parse_ack(json_t *msg, int64_t *seqs, char *err, size_t errlen)
{
    json_t *a = json_object_get(msg, "seq");
    size_t n = json_array_size(a);

    if (!json_is_array(a) || n > WS_MAX_ACK) {
        snprintf(err, errlen, "field 'seq' must be an array of at most %d queue numbers",
                 WS_MAX_ACK);
        return PARLEY_EPROTO;
    }
    for (size_t i = 0; i < n; i++) {
        json_t *v = json_array_get(a, i);
        if (!json_is_integer(v) || json_integer_value(v) <= 0) {
            snprintf(err, errlen, "field 'seq' item %zu must be a positive integer", i);
            return PARLEY_EPROTO;
        }
        seqs[i] = json_integer_value(v);
    }
    return (int)n;
}

static void on_ack(struct ws_session *s, json_t *msg)
{
    int64_t *seqs = xmalloc(WS_MAX_ACK * sizeof(*seqs));
    char err[128];
    int n = ws_parse_ack(msg, seqs, err, sizeof(err));

    if (n < 0)
        send_error(s, "bad_message", err);
    else if (n > 0)
        msgstore_ack(s->srv->store, s->device_row, seqs, (size_t)n);
    free(seqs);
}

static void on_typing(struct ws_session *s, json_t *msg)
{
    const char *hex = json_string_value(json_object_get(msg, "conv_id"));
    json_t *active = json_object_get(msg, "active");
    uint8_t conv[KEYS_ID_LEN];
    struct store_conn *c;
    int64_t *users = NULL;
    size_t n = 0;
    int rc;

    if (!hex || strlen(hex) != 2 * KEYS_ID_LEN ||
        hex_decode(hex, 2 * KEYS_ID_LEN, conv, KEYS_ID_LEN) < 0) {
        send_error(s, "bad_message", "field 'conv_id' must be 32 hex characters");
        return;
    }
    if (!json_is_boolean(active)) {
        send_error(s, "bad_message", "field 'active' must be true or false");
        return;
    }
    /* NEEDSWORK: a read on the loop thread; a member cache would avoid it. */
    rc = store_conn_get(s->srv->store, &c);
    if (rc == 0) {
        rc = api_conv_member_rows(c, conv, s->network_row, s->user_row, &users, &n);
        store_conn_put(s->srv->store, c);
    }
    if (rc == PARLEY_ENOTFOUND) {
        send_error(s, "not_member", "no such conversation, or you are not a member");
        return;
    }
    if (rc < 0) {
        send_error(s, "internal_error", "cannot relay now; try again");
        return;
    }
    json_t *out = json_pack("{s:s,s:s,s:o,s:O}", "type", "typing", "conv_id", hex, "user_id",
                            json_id(s->user_id), "active", active);
    for (size_t i = 0; i < n; i++) {
        struct ws_session *t = by_user[user_bucket(users[i])];
        for (; t; t = t->user_next) {
            if (t->user_row != users[i] || t == s || t->close_code)
                continue;
            send_json(t, json_incref(out));
        }
    }
    cluster_relay(users, n, out);
    json_decref(out);
    free(users);
}

static bool availability_allowed(struct store_conn *c, int64_t user_row)
{
    struct store_val p[] = {STORE_INT(user_row)};
    int64_t group = 0;
    json_t *settings = NULL;
    bool allowed = true;

    if (store_query_int(c,
                        "SELECT COALESCE(u.security_group_id, (SELECT id FROM security_groups "
                        "WHERE network_id = u.network_id AND is_default = 1 ORDER BY id "
                        "LIMIT 1), 0) FROM users u WHERE u.id = $1",
                        p, 1, &group) == 0 &&
        group && sgroup_settings_get(c, group, &settings) == 0)
        allowed = !json_is_false(json_object_get(settings, "user_availability"));
    json_decref(settings);
    return allowed;
}

/* Presence goes to the sender's contacts: everyone sharing a conversation
 * with them, when their security group allows availability. */
static void on_presence(struct ws_session *s, json_t *msg)
{
    static const char *const statuses[] = {"available", "away", "busy"};
    const char *status = json_string_value(json_object_get(msg, "status"));
    json_t *idle = json_object_get(msg, "idle_s"), *out;
    struct store_conn *c;
    struct store_rows *r = NULL;
    bool known = false, allowed;
    int rc;

    for (size_t i = 0; status && i < ARRAY_SIZE(statuses); i++)
        known |= strcmp(status, statuses[i]) == 0;
    if (!known) {
        send_error(s, "bad_message", "field 'status' must be \"available\", \"away\" or \"busy\"");
        return;
    }
    if (idle && (!json_is_integer(idle) || json_integer_value(idle) < 0)) {
        send_error(s, "bad_message", "field 'idle_s' must be a non-negative integer");
        return;
    }
    /* NEEDSWORK: reads on the loop thread; a contact cache would avoid them. */
    if (store_conn_get(s->srv->store, &c) < 0) {
        send_error(s, "internal_error", "cannot relay now; try again");
        return;
    }
    allowed = availability_allowed(c, s->user_row);
    if (!allowed) {
        store_conn_put(s->srv->store, c);
        send_error(s, "forbidden", "your security group does not share availability");
        return;
    }
    out = json_pack("{s:s,s:o,s:s,s:I}", "type", "presence", "user_id", json_id(s->user_id),
                    "status", status, "idle_s", (json_int_t)(idle ? json_integer_value(idle) : 0));
    struct store_val p[] = {STORE_INT(s->user_row)};
    rc = store_query(c,
                     "SELECT DISTINCT m2.user_id FROM members m1 "
                     "JOIN conversations cv ON cv.id = m1.conv_id AND cv.deleted = 0 "
                     "JOIN members m2 ON m2.conv_id = m1.conv_id "
                     "WHERE m1.user_id = $1 AND m2.user_id <> $1",
                     p, 1, &r);
    int64_t *contacts = NULL;
    size_t n = 0, cap = 0;
    while ((rc == 0 || rc == 1) && (rc = store_rows_next(r)) == 1) {
        int64_t u = store_rows_int(r, 0);
        for (struct ws_session *t = by_user[user_bucket(u)]; t; t = t->user_next)
            if (t->user_row == u && !t->close_code)
                send_json(t, json_incref(out));
        if (n == cap)
            contacts = xrealloc(contacts, (cap = cap ? 2 * cap : 16) * sizeof(*contacts));
        contacts[n++] = u;
    }
    store_rows_free(r);
    store_conn_put(s->srv->store, c);
    cluster_relay(contacts, n, out);
    free(contacts);
    json_decref(out);
}

/* The network profile's read-receipts switch (sgroup_settings.c; on by
 * default). */
static bool read_receipts_allowed(struct store_conn *c, int64_t network_row)
{
    struct store_val p[] = {STORE_INT(network_row)};
    struct store_rows *r = NULL;
    bool allowed = true;

    if (store_query(c, "SELECT settings FROM networks WHERE id = $1", p, 1, &r) == 0 &&
        store_rows_next(r) == 1) {
        json_t *settings = json_loads(store_rows_text(r, 0), 0, NULL);
        allowed = !json_is_false(json_object_get(settings, "read_receipts"));
        json_decref(settings);
    }
    store_rows_free(r);
    return allowed;
}

/* A read receipt: the reader tells the other member of a one-to-one
 * conversation (and the reader's own other devices) which messages it read.
 * It carries message ids only, which the server knows anyway; where the
 * network turned read receipts off, it is refused and relayed to nobody. */
static void on_read(struct ws_session *s, json_t *msg)
{
    const char *hex = json_string_value(json_object_get(msg, "conv_id"));
    json_t *ids = json_object_get(msg, "msg_ids"), *v, *out;
    uint8_t conv[KEYS_ID_LEN], id[KEYS_ID_LEN];
    struct store_conn *c;
    int64_t *users = NULL;
    size_t n = 0, i;
    bool allowed = false;
    int rc;

    if (!hex || strlen(hex) != 2 * KEYS_ID_LEN ||
        hex_decode(hex, 2 * KEYS_ID_LEN, conv, KEYS_ID_LEN) < 0) {
        send_error(s, "bad_message", "field 'conv_id' must be 32 hex characters");
        return;
    }
    if (ids_conv_type(conv) != IDS_CONV_DIRECT) {
        send_error(s, "bad_message", "read receipts are for one-to-one conversations only");
        return;
    }
    if (!json_is_array(ids) || json_array_size(ids) == 0 || json_array_size(ids) > WS_MAX_READ) {
        send_error(s, "bad_message", "field 'msg_ids' must be an array of 1 to 100 message ids");
        return;
    }
    json_array_foreach(ids, i, v)
    {
        const char *t = json_string_value(v);
        if (!t || strlen(t) != 2 * KEYS_ID_LEN ||
            hex_decode(t, 2 * KEYS_ID_LEN, id, KEYS_ID_LEN) < 0) {
            send_error(s, "bad_message", "field 'msg_ids' must hold 32-hex message ids");
            return;
        }
    }
    /* NEEDSWORK: reads on the loop thread; a member cache would avoid them. */
    rc = store_conn_get(s->srv->store, &c);
    if (rc == 0) {
        rc = api_conv_member_rows(c, conv, s->network_row, s->user_row, &users, &n);
        allowed = rc == 0 && read_receipts_allowed(c, s->network_row);
        store_conn_put(s->srv->store, c);
    }
    if (rc == PARLEY_ENOTFOUND) {
        send_error(s, "not_member", "no such conversation, or you are not a member");
        return;
    }
    if (rc < 0) {
        send_error(s, "internal_error", "cannot relay now; try again");
        return;
    }
    if (!allowed) {
        free(users);
        send_error(s, "forbidden", "read receipts are turned off in this network");
        return;
    }
    out = json_pack("{s:s,s:s,s:o,s:O}", "type", "read", "conv_id", hex, "user_id",
                    json_id(s->user_id), "msg_ids", ids);
    for (i = 0; i < n; i++)
        for (struct ws_session *t = by_user[user_bucket(users[i])]; t; t = t->user_next)
            if (t->user_row == users[i] && t != s && !t->close_code)
                send_json(t, json_incref(out));
    cluster_relay(users, n, out);
    json_decref(out);
    free(users);
}

/* Message types a client may send, one row each; only auth and ping are
 * accepted before auth_ok. */
static const struct {
    const char *type;
    void (*fn)(struct ws_session *s, json_t *msg);
    bool needs_auth;
} handlers[] = {
    {"auth", on_auth, false},    {"ping", on_ping, false},        {"ack", on_ack, true},
    {"typing", on_typing, true}, {"presence", on_presence, true}, {"read", on_read, true},
};

int ws_parse(const void *data, size_t len, json_t **msg, const char **type, char *err,
             size_t errlen)
{
    json_error_t jerr;
    json_t *m = json_loadb(data, len, JSON_REJECT_DUPLICATES, &jerr);

    *msg = NULL;
    if (!m || !json_is_object(m)) {
        snprintf(err, errlen, "message is not a JSON object: %s", m ? "wrong type" : jerr.text);
        json_decref(m);
        return PARLEY_EPROTO;
    }
    *type = json_string_value(json_object_get(m, "type"));
    if (!*type) {
        snprintf(err, errlen, "message has no string field 'type'");
        json_decref(m);
        return PARLEY_EPROTO;
    }
    *msg = m;
    return 0;
}

static void on_text(struct ws_session *s)
{
    const char *type;
    char text[256];
    json_t *msg;

    if (ws_parse(s->rx.data, s->rx.len, &msg, &type, text, sizeof(text)) < 0) {
        send_error(s, "bad_message", text);
        return;
    }
    for (size_t i = 0; i < ARRAY_SIZE(handlers); i++) {
        if (strcmp(type, handlers[i].type) == 0) {
            if (!s->is_authed && handlers[i].needs_auth)
                send_error(s, "unauthorized",
                           "authenticate first: {\"type\":\"auth\",\"token\":...}");
            else
                handlers[i].fn(s, msg);
            json_decref(msg);
            return;
        }
    }
    snprintf(text, sizeof(text), "unknown message type '%.64s'", type);
    send_error(s, "unknown_type", text);
    json_decref(msg);
}

static void on_message(struct ws_session *s, bool is_binary)
{
    if (s->close_code)
        return;
    if (!is_binary) {
        on_text(s);
        return;
    }
    if (!s->is_authed) {
        refuse_auth(s, "the first message must be {\"type\":\"auth\",\"token\":...}");
        return;
    }
    on_envelope(s);
}

/* ---- the expirer -------------------------------------------------------- */

static lws_sorted_usec_list_t expirer_sul;
static struct server *expirer_srv;
static atomic_bool purge_running;

static void on_purged(void *arg, int rc)
{
    (void)arg;
    (void)rc;
    atomic_store(&purge_running, false);
}

static void on_expirer(lws_sorted_usec_list_t *sul)
{
    struct server *srv = expirer_srv;

    if (!srv || srv->shutting_down)
        return;
    if (!atomic_exchange(&purge_running, true))
        msgstore_purge(srv->store, on_purged, NULL);
    files_sweep(srv);
    lws_sul_schedule(srv->ctx, 0, sul, on_expirer, WS_EXPIRER_US);
}

/* ---- the libwebsockets callback ----------------------------------------- */

static void session_init(struct ws_session *s, struct server *srv, struct lws *wsi)
{
    memset(s, 0, sizeof(*s));
    s->srv = srv;
    s->wsi = wsi;
    buf_init(&s->rx, (size_t)srv->cfg->ws_max_message);
    s->tx_tail = &s->tx_head;
}

static void session_release(struct ws_session *s)
{
    reg_remove(s);
    drop_queue(s);
    buf_release(&s->rx);
}

/* Send a close frame with `code` and end the connection. The frame is
 * written raw (RFC 6455 §5.5.1: FIN + opcode 8, unmasked from a server, the
 * status code as the body) because lws 4.1 sends none when a writeable
 * callback returns -1 after lws_close_reason(). Always returns -1. */
static int send_close(struct ws_session *s, unsigned code)
{
    unsigned char frame[LWS_PRE + 4];
    frame[LWS_PRE] = 0x88;
    frame[LWS_PRE + 1] = 2;
    frame[LWS_PRE + 2] = (unsigned char)(code >> 8);
    frame[LWS_PRE + 3] = (unsigned char)code;
    lws_write(s->wsi, frame + LWS_PRE, 4, LWS_WRITE_RAW);
    return -1;
}

/* Bytes of WebSocket frames coalesced into one write. */
#define WS_COALESCE (32u << 10)

/* Put a server frame's header (FIN, opcode, unmasked length) before its
 * payload at `o`; returns the header's length. */
static size_t frame_header(unsigned char *o, const struct ws_frame *f)
{
    o[0] = f->is_binary ? 0x82 : 0x81;
    if (f->len < 126) {
        o[1] = (unsigned char)f->len;
        return 2;
    }
    if (f->len <= 0xffff) {
        o[1] = 126;
        o[2] = (unsigned char)(f->len >> 8);
        o[3] = (unsigned char)f->len;
        return 4;
    }
    o[1] = 127;
    for (int i = 0; i < 8; i++)
        o[2 + i] = (unsigned char)((uint64_t)f->len >> (56 - 8 * i));
    return 10;
}

/* One lws_write per writeable callback (lws requirement). Several queued
 * messages go out in that one write: their frames are built here (a
 * server's frames are unmasked and we use no extension) and written raw,
 * which saves a TLS record, a send() and a writeable round trip for each
 * small message. A message too large to share a write goes alone, framed
 * by lws. */
static int on_writeable(struct ws_session *s)
{
    static unsigned char out[LWS_PRE + WS_COALESCE];
    struct ws_frame *f = s->tx_head;
    size_t n = 0;

    if (!f && s->close_code)
        return send_close(s, s->close_code);
    if (!f && s->srv->shutting_down)
        return send_close(s, LWS_CLOSE_STATUS_GOINGAWAY);
    if (!f)
        return 0;
    if (f->len + 10 > WS_COALESCE) {
        if (lws_write(s->wsi, f->data + LWS_PRE, f->len,
                      f->is_binary ? LWS_WRITE_BINARY : LWS_WRITE_TEXT) < (int)f->len)
            return -1;
        s->tx_head = f->next;
        s->tx_queued -= f->len;
        free(f);
    } else {
        while ((f = s->tx_head) && n + f->len + 10 <= WS_COALESCE) {
            n += frame_header(out + LWS_PRE + n, f);
            memcpy(out + LWS_PRE + n, f->data + LWS_PRE, f->len);
            n += f->len;
            s->tx_head = f->next;
            s->tx_queued -= f->len;
            free(f);
        }
        if (lws_write(s->wsi, out + LWS_PRE, n, LWS_WRITE_RAW) < (int)n)
            return -1;
    }
    if (!s->tx_head)
        s->tx_tail = &s->tx_head;
    if (!s->is_caught_up && s->tx_queued < WS_FILL_BYTES / 2)
        fill(s);
    if (s->tx_head || s->srv->shutting_down || s->close_code)
        lws_callback_on_writable(s->wsi);
    return 0;
}

static bool path_is(struct lws *wsi, const char *want)
{
    char uri[128];
    int n = lws_hdr_copy(wsi, uri, sizeof(uri), WSI_TOKEN_GET_URI);
    return n > 0 && strcmp(uri, want) == 0;
}

int ws_callback(struct lws *wsi, enum lws_callback_reasons reason, void *user, void *in, size_t len)
{
    struct ws_session *s = user;
    struct server *srv = lws_context_user(lws_get_context(wsi));

    switch (reason) {
    case LWS_CALLBACK_PROTOCOL_INIT:
        loopq_open(lws_get_context(wsi));
        store_set_before_commit(srv->store, before_commit, NULL);
        expirer_srv = srv;
        lws_sul_schedule(lws_get_context(wsi), 0, &expirer_sul, on_expirer, WS_EXPIRER_US);
        return 0;
    case LWS_CALLBACK_PROTOCOL_DESTROY:
        store_set_before_commit(srv->store, NULL, NULL);
        lws_sul_cancel(&expirer_sul);
        expirer_srv = NULL;
        loopq_close();
        return 0;
    case LWS_CALLBACK_EVENT_WAIT_CANCELLED:
        loopq_drain(srv);
        return 0;
    case LWS_CALLBACK_FILTER_PROTOCOL_CONNECTION:
        /* Refuse upgrades elsewhere than the channel's path, and during shutdown. */
        if (srv->shutting_down || !path_is(wsi, WS_PATH))
            return 1;
        return 0;
    case LWS_CALLBACK_ESTABLISHED:
        /* An idle connection should not hold TLS record buffers (about
         * 34 KiB): OpenSSL allocates them while a record is in flight. */
        if (lws_get_ssl(wsi))
            SSL_set_mode(lws_get_ssl(wsi), SSL_MODE_RELEASE_BUFFERS);
        session_init(s, srv, wsi);
        srv->ws_sessions++;
        send_json(s, json_pack("{s:s,s:s,s:s,s:i}", "type", "hello", "server", "parleyd", "version",
                               PARLEY_VERSION, "protocol", 1));
        return 0;
    case LWS_CALLBACK_RECEIVE:
        if (buf_append(&s->rx, in, len) < 0) {
            log_warnx("ws: message over %lld bytes (ws_max_message), closing",
                      (long long)srv->cfg->ws_max_message);
            lws_close_reason(wsi, LWS_CLOSE_STATUS_MESSAGE_TOO_LARGE, NULL, 0);
            return -1;
        }
        if (lws_is_final_fragment(wsi) && !lws_remaining_packet_payload(wsi)) {
            on_message(s, lws_frame_is_binary(wsi));
            /* on_envelope may have taken the buffer: re-arm it with its cap. */
            if (!s->rx.data)
                buf_init(&s->rx, (size_t)srv->cfg->ws_max_message);
            else
                buf_reset(&s->rx);
        }
        return 0;
    case LWS_CALLBACK_SERVER_WRITEABLE:
        return on_writeable(s);
    case LWS_CALLBACK_CLOSED:
        srv->ws_sessions--;
        session_release(s);
        return 0;
    default:
        return 0;
    }
}

void ws_close_all(struct server *srv)
{
    const struct lws_protocols *proto = lws_vhost_name_to_protocol(srv->vhost, WS_PROTOCOL_NAME);
    if (proto)
        lws_callback_on_writable_all_protocol(srv->ctx, proto);
}
