/* link.c - linking a new device and handing it the history
 * (docs/client-protocol.md, "Linking a device"; the formats and their
 * security are in docs/protocol.md, "Device linking").
 *
 * The signed-in device (parley_link_start/serve) shows a code and waits
 * for the new device (parley_link_accept) to answer through the server;
 * then it sends its pinned keys, conversations and messages, encrypted to
 * the new device's ephemeral key. The new device stores them as if it had
 * received them, skipping what it already has. */
#include "client.h"

#include <openssl/crypto.h>

#include "common/str.h"
#include "proto/link.h"

#define LINK_POLL_MS 250
#define HISTORY_MAX  ((size_t)LINK_MAX_CHUNKS * LINK_CHUNK_MAX)
#define HISTORY_VER  1

struct parley_link {
    struct parley_client *c;
    struct link_keys k;
    char id_hex[2 * LINK_ID_LEN + 1];
    bool done;
};

static int call(struct parley_client *c, const char *method, const char *path, json_t *body,
                json_t **resp)
{
    long status;
    int rc = api_request(&c->api, method, path, c->device_token, body, &status, resp);
    if (rc == 0)
        rc = api_status_error(status, *resp);
    if (rc < 0) {
        json_decref(*resp);
        *resp = NULL;
    }
    return rc;
}

static int64_t now_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

static void sleep_ms(int ms)
{
    struct timespec ts = {ms / 1000, (long)(ms % 1000) * 1000000};
    nanosleep(&ts, NULL);
}

/* A base64 field of an answer, at most `max` bytes; NULL (0) when absent
 * or null. */
static int get_b64(json_t *resp, const char *key, size_t max, uint8_t **out, size_t *len)
{
    json_t *v = json_object_get(resp, key);
    *out = NULL;
    *len = 0;
    if (!v || json_is_null(v))
        return 0;
    if (!json_is_string(v))
        return PARLEY_EPROTO;
    return api_b64_decode(json_string_value(v), max, out, len);
}

/* GET /links/:id until `key` is present or the deadline passes. */
static int poll_for(struct parley_client *c, const char *path, const char *key, size_t max,
                    int timeout_ms, uint8_t **out, size_t *len, json_t **resp_out)
{
    int64_t deadline = now_ms() + timeout_ms;
    for (;;) {
        json_t *resp = NULL;
        int rc = call(c, "GET", path, NULL, &resp);
        if (rc == 0)
            rc = get_b64(resp, key, max, out, len);
        if (rc < 0 || *out) {
            if (rc == 0 && resp_out)
                *resp_out = resp;
            else
                json_decref(resp);
            return rc;
        }
        json_decref(resp);
        if (now_ms() >= deadline)
            return PARLEY_EBUSY;
        sleep_ms(LINK_POLL_MS);
    }
}

/* ---- the signed-in device --------------------------------------------------- */

int parley_link_start(struct parley_client *c, char code[PARLEY_LINK_CODE_LEN],
                      struct parley_link **out)
{
    uint8_t raw[LINK_CODE_BYTES];
    struct parley_link *l;
    json_t *body = NULL, *resp = NULL;
    int rc;

    if (!c || !code || !out)
        return PARLEY_EINVAL;
    *out = NULL;
    if (!(l = calloc(1, sizeof(*l))))
        return PARLEY_ENOMEM;
    l->c = c;
    rc = link_code_new(raw);
    if (rc == 0)
        rc = link_keys_derive(raw, c->user_id, &l->k);
    if (rc < 0)
        goto out;
    hex_encode(l->k.link_id, LINK_ID_LEN, l->id_hex);
    if (!(body = json_pack("{ss}", "link_id", l->id_hex))) {
        rc = PARLEY_ENOMEM;
        goto out;
    }
    rc = call(c, "POST", "/api/v1/client/links", body, &resp);
    if (rc == 0)
        link_code_format(raw, code);
out:
    OPENSSL_cleanse(raw, sizeof(raw));
    json_decref(body);
    json_decref(resp);
    if (rc < 0) {
        link_keys_wipe(&l->k);
        free(l);
        return rc;
    }
    *out = l;
    return 0;
}

/* The offering device must be one of this user's own, certified by the
 * identity key this device holds pinned for itself. */
static int check_own_device(struct parley_client *c, const uint8_t dev[KEYS_ID_LEN])
{
    struct api_user u;
    struct sig_key idk;
    int rc;

    if (memcmp(dev, c->device_id, KEYS_ID_LEN) == 0)
        return PARLEY_EAUTH;
    memset(&u, 0, sizeof(u));
    sig_key_init(&idk);
    rc = client_get_user(c, c->user_hex, NULL, &u);
    if (rc == 0)
        rc = client_identity(c, c->user_id, u.identity_key, u.identity_key_len, c->username, &idk);
    if (rc == 0) {
        rc = PARLEY_EAUTH;
        for (size_t i = 0; i < u.n_devices; i++) {
            struct keys_cert cert;
            if (memcmp(u.devices[i].device_id, dev, KEYS_ID_LEN) != 0)
                continue;
            if (keys_cert_verify(u.devices[i].cert, u.devices[i].cert_len, &idk, c->user_id,
                                 &cert) == 0) {
                rc = memcmp(cert.device_id, dev, KEYS_ID_LEN) == 0 ? 0 : PARLEY_EAUTH;
                keys_cert_release(&cert);
            }
            break;
        }
    }
    sig_key_release(&idk);
    api_user_release(&u);
    return rc;
}

static int add_pin(void *arg, const char *user_id, const char *username, const uint8_t *key,
                   size_t n, int verified)
{
    json_t *pins = arg;
    char *k64 = api_b64_encode(key, n);
    json_t *o = k64 ? json_pack("{sssosssb}", "user_id", user_id, "username",
                                username ? json_string(username) : json_null(), "identity_key", k64,
                                "verified", verified)
                    : NULL;
    free(k64);
    return o && json_array_append_new(pins, o) == 0 ? 0 : PARLEY_ENOMEM;
}

static int add_conv(void *arg, const struct lstore_conv *lc)
{
    json_t *convs = arg;
    json_t *o =
        json_pack("{sssssssosIsI}", "conv_id", lc->conv_id, "type", lc->type, "peer", lc->peer,
                  "title", lc->title ? json_string(lc->title) : json_null(), "expiration",
                  (json_int_t)lc->expiration, "burn_on_read", (json_int_t)lc->burn_on_read);
    return o && json_array_append_new(convs, o) == 0 ? 0 : PARLEY_ENOMEM;
}

static int add_msg(void *arg, const struct lstore_msg *m)
{
    json_t *msgs = arg;
    json_t *o =
        json_pack("{sssssssssisssIsIsisi}", "msg_id", m->msg_id, "conv_id", m->conv_id, "sender",
                  m->sender, "sender_device", m->sender_device, "msgtype", m->msgtype, "body",
                  m->body, "ts", (json_int_t)m->ts_ms, "expires_at", (json_int_t)m->expires_at,
                  "burn_on_read", m->burn_on_read, "state", m->state);
    return o && json_array_append_new(msgs, o) == 0 ? 0 : PARLEY_ENOMEM;
}

/* Everything the new device should have, as one JSON document. */
static int export_history(struct parley_client *c, char **out, size_t *n_msgs)
{
    json_t *pins = json_array(), *convs = json_array(), *msgs = json_array(), *doc = NULL;
    int rc = pins && convs && msgs ? 0 : PARLEY_ENOMEM;

    pthread_mutex_lock(&c->mu);
    (void)lstore_msg_purge_expired(c->st, (uint64_t)time(NULL));
    if (rc == 0)
        rc = lstore_pin_each(c->st, add_pin, pins);
    if (rc == 0)
        rc = lstore_conv_each(c->st, add_conv, convs);
    if (rc == 0)
        rc = lstore_msg_each(c->st, NULL, 0, add_msg, msgs);
    pthread_mutex_unlock(&c->mu);
    if (rc == 0) {
        *n_msgs = json_array_size(msgs);
        doc = json_pack("{sisOsOsO}", "version", HISTORY_VER, "pins", pins, "conversations", convs,
                        "messages", msgs);
        if (!doc || !(*out = json_dumps(doc, JSON_COMPACT)))
            rc = PARLEY_ENOMEM;
    }
    json_decref(doc);
    json_decref(pins);
    json_decref(convs);
    json_decref(msgs);
    return rc;
}

static int send_history(struct parley_link *l, const struct suite *s, const uint8_t *offer,
                        size_t offer_len, const uint8_t dev[KEYS_ID_LEN], const struct hpke_key *pk,
                        size_t *n_msgs)
{
    struct parley_client *c = l->c;
    struct link_transfer t = {0};
    struct buf hdr = BUF_INIT(LINK_HEADER_MAX), chunk = BUF_INIT(LINK_CHUNK_MAX + PRIM_GCM_TAG);
    struct buf path = BUF_INIT(256);
    char *doc = NULL, *b64 = NULL;
    json_t *body = NULL, *resp = NULL;
    size_t len;
    int rc;

    if ((rc = export_history(c, &doc, n_msgs)) < 0)
        return rc;
    len = strlen(doc);
    if (len > HISTORY_MAX) {
        rc = PARLEY_ETOOBIG;
        goto out;
    }
    memcpy(t.from, c->device_id, KEYS_ID_LEN);
    memcpy(t.to, dev, KEYS_ID_LEN);
    t.n_chunks = (uint32_t)(len / LINK_CHUNK_MAX + 1);
    t.total = len;
    if ((rc = link_header_make(s, &l->k, offer, offer_len, pk, &t, &hdr)) < 0)
        goto out;
    for (uint32_t i = 0; i < t.n_chunks && rc == 0; i++) {
        size_t off = (size_t)i * LINK_CHUNK_MAX;
        size_t n = len - off < LINK_CHUNK_MAX ? len - off : LINK_CHUNK_MAX;
        buf_reset(&chunk);
        buf_reset(&path);
        rc = link_chunk_seal(&t, l->k.link_id, i, (const uint8_t *)doc + off, n, &chunk);
        if (rc == 0)
            rc = buf_printf(&path, "/api/v1/client/links/%s/chunks/%u", l->id_hex, i);
        if (rc < 0)
            break;
        b64 = api_b64_encode(chunk.data, chunk.len);
        body = b64 ? json_pack("{ss}", "data", b64) : NULL;
        rc = body ? call(c, "PUT", (const char *)path.data, body, &resp) : PARLEY_ENOMEM;
        free(b64);
        b64 = NULL;
        json_decref(body);
        json_decref(resp);
        body = resp = NULL;
    }
    if (rc < 0)
        goto out;
    buf_reset(&path);
    b64 = api_b64_encode(hdr.data, hdr.len);
    body = b64 ? json_pack("{sssI}", "header", b64, "chunks", (json_int_t)t.n_chunks) : NULL;
    if ((rc = buf_printf(&path, "/api/v1/client/links/%s/transfer", l->id_hex)) == 0)
        rc = body ? call(c, "PUT", (const char *)path.data, body, &resp) : PARLEY_ENOMEM;
out:
    OPENSSL_cleanse(&t, sizeof(t));
    if (doc) {
        OPENSSL_cleanse(doc, strlen(doc));
        free(doc);
    }
    free(b64);
    json_decref(body);
    json_decref(resp);
    buf_release(&hdr);
    buf_release(&chunk);
    buf_release(&path);
    return rc;
}

static void link_delete(struct parley_client *c, const char *id_hex)
{
    char path[128];
    json_t *resp = NULL;
    snprintf(path, sizeof(path), "/api/v1/client/links/%s", id_hex);
    (void)call(c, "DELETE", path, NULL, &resp);
    json_decref(resp);
}

int parley_link_serve(struct parley_link *l, int timeout_ms, size_t *n_messages)
{
    struct parley_client *c;
    const struct suite *s;
    uint8_t *offer = NULL, dev[KEYS_ID_LEN];
    size_t offer_len = 0, n = 0;
    struct hpke_key pk;
    char path[128];
    int rc;

    if (!l || l->done)
        return PARLEY_EINVAL;
    c = l->c;
    s = c->suite;
    hpke_key_init(&pk);
    snprintf(path, sizeof(path), "/api/v1/client/links/%s", l->id_hex);
    rc = poll_for(c, path, "offer", LINK_OFFER_MAX, timeout_ms, &offer, &offer_len, NULL);
    if (rc == PARLEY_EBUSY)
        return rc; /* nobody answered yet: the caller may wait again */
    if (rc == 0)
        rc = link_offer_open(s, &l->k, offer, offer_len, dev, &pk);
    if (rc == 0)
        rc = check_own_device(c, dev);
    if (rc == 0)
        rc = send_history(l, s, offer, offer_len, dev, &pk, &n);
    /* An offer made without the code ends the session: one guess only. */
    if (rc < 0)
        link_delete(c, l->id_hex);
    l->done = true;
    hpke_key_release(&pk);
    free(offer);
    if (rc == 0 && n_messages)
        *n_messages = n;
    return rc;
}

void parley_link_free(struct parley_link *l)
{
    if (!l)
        return;
    if (!l->done)
        link_delete(l->c, l->id_hex);
    link_keys_wipe(&l->k);
    free(l);
}

/* ---- the new device -------------------------------------------------------- */

static bool is_id(json_t *v)
{
    uint8_t tmp[KEYS_ID_LEN];
    const char *s = json_string_value(v);
    return s && strlen(s) == 2 * KEYS_ID_LEN &&
           hex_decode(s, 2 * KEYS_ID_LEN, tmp, KEYS_ID_LEN) == 0;
}

/* Store what another device of this user sent, keeping what this device
 * already has: its pins, its conversations, and messages it has seen. */
static int import_history(struct parley_client *c, const char *doc, size_t len, size_t *n_msgs)
{
    json_error_t jerr;
    json_t *root = json_loadb(doc, len, JSON_REJECT_DUPLICATES, &jerr), *v;
    uint64_t now = (uint64_t)time(NULL);
    size_t i, n = 0;
    int rc = 0;

    if (!root || json_integer_value(json_object_get(root, "version")) != HISTORY_VER) {
        json_decref(root);
        return PARLEY_EPROTO;
    }
    pthread_mutex_lock(&c->mu);
    if ((rc = lstore_begin(c->st)) < 0)
        goto unlock;
    json_array_foreach(json_object_get(root, "pins"), i, v)
    {
        struct buf have = BUF_INIT(SUITE_MAX_SIG_PK);
        uint8_t *key = NULL;
        size_t klen = 0;
        json_t *uid = json_object_get(v, "user_id");
        const char *name = json_string_value(json_object_get(v, "username"));
        if (!is_id(uid) || get_b64(v, "identity_key", SUITE_MAX_SIG_PK, &key, &klen) < 0 || !key) {
            rc = PARLEY_EPROTO;
            break;
        }
        int got = lstore_pin_get(c->st, json_string_value(uid), &have, NULL);
        if (got == PARLEY_ENOTFOUND)
            rc = lstore_pin_put(c->st, json_string_value(uid), name, key, klen,
                                json_is_true(json_object_get(v, "verified")));
        else if (got == 0 && have.len == klen && memcmp(have.data, key, klen) == 0 &&
                 json_is_true(json_object_get(v, "verified")))
            rc = lstore_pin_put(c->st, json_string_value(uid), name, key, klen, 1);
        /* A different key pinned here stays: the user decides (trust). */
        free(key);
        buf_release(&have);
        if (rc < 0)
            break;
    }
    json_array_foreach(json_object_get(root, "conversations"), i, v)
    {
        struct lstore_conv lc = {0}, known;
        const char *type = json_string_value(json_object_get(v, "type"));
        const char *peer = json_string_value(json_object_get(v, "peer"));
        json_t *title = json_object_get(v, "title");
        if (rc < 0)
            break;
        if (!is_id(json_object_get(v, "conv_id")) || !type || strlen(type) >= sizeof(lc.type) ||
            (peer && strlen(peer) >= sizeof(lc.peer)) ||
            (title && !json_is_null(title) && !json_is_string(title))) {
            rc = PARLEY_EPROTO;
            break;
        }
        strlcpy_p(lc.conv_id, json_string_value(json_object_get(v, "conv_id")), sizeof(lc.conv_id));
        if (lstore_conv_get(c->st, lc.conv_id, &known) == 0) {
            free(known.title);
            continue;
        }
        strlcpy_p(lc.type, type, sizeof(lc.type));
        strlcpy_p(lc.peer, peer ? peer : "", sizeof(lc.peer));
        lc.title = (char *)json_string_value(title);
        lc.expiration = (uint32_t)json_integer_value(json_object_get(v, "expiration"));
        lc.burn_on_read = (uint32_t)json_integer_value(json_object_get(v, "burn_on_read"));
        rc = lstore_conv_put(c->st, &lc);
    }
    json_array_foreach(json_object_get(root, "messages"), i, v)
    {
        struct lstore_msg m = {0};
        json_t *mid = json_object_get(v, "msg_id"), *cid = json_object_get(v, "conv_id");
        json_t *snd = json_object_get(v, "sender"), *sdev = json_object_get(v, "sender_device");
        if (rc < 0)
            break;
        m.body = json_string_value(json_object_get(v, "body"));
        if (!is_id(mid) || !is_id(cid) || !is_id(snd) || !is_id(sdev) || !m.body ||
            strlen(m.body) > LSTORE_MAX_BODY) {
            rc = PARLEY_EPROTO;
            break;
        }
        strlcpy_p(m.msg_id, json_string_value(mid), sizeof(m.msg_id));
        strlcpy_p(m.conv_id, json_string_value(cid), sizeof(m.conv_id));
        strlcpy_p(m.sender, json_string_value(snd), sizeof(m.sender));
        strlcpy_p(m.sender_device, json_string_value(sdev), sizeof(m.sender_device));
        m.msgtype = (int)json_integer_value(json_object_get(v, "msgtype"));
        m.ts_ms = (int64_t)json_integer_value(json_object_get(v, "ts"));
        m.expires_at = (uint64_t)json_integer_value(json_object_get(v, "expires_at"));
        m.burn_on_read = (int)json_integer_value(json_object_get(v, "burn_on_read"));
        m.state = (int)json_integer_value(json_object_get(v, "state"));
        if (m.state < LSTORE_MSG_SENT || m.state > LSTORE_MSG_READ) {
            rc = PARLEY_EPROTO;
            break;
        }
        if (m.expires_at && m.expires_at <= now)
            continue;
        rc = lstore_msg_put(c->st, &m);
        if (rc == PARLEY_EREPLAY)
            rc = 0; /* this device has it already */
        else if (rc == 0)
            n++;
    }
    if (rc == 0)
        rc = lstore_commit(c->st);
    else
        lstore_rollback(c->st);
unlock:
    pthread_mutex_unlock(&c->mu);
    json_decref(root);
    if (rc == 0)
        *n_msgs = n;
    return rc;
}

int parley_link_accept(struct parley_client *c, const char *code, int timeout_ms,
                       size_t *n_messages)
{
    uint8_t raw[LINK_CODE_BYTES], *hdr = NULL, *data = NULL;
    size_t hdr_len = 0, data_len = 0, n = 0;
    struct link_keys k;
    struct link_transfer t;
    struct hpke_key eph;
    struct prim pr;
    struct buf offer = BUF_INIT(LINK_OFFER_MAX), doc = BUF_INIT(HISTORY_MAX);
    char id_hex[2 * LINK_ID_LEN + 1], path[160];
    json_t *body = NULL, *resp = NULL;
    char *b64 = NULL;
    int rc;

    if (!c || !code)
        return PARLEY_EINVAL;
    memset(&t, 0, sizeof(t));
    memset(&k, 0, sizeof(k));
    hpke_key_init(&eph);
    if ((rc = link_code_parse(code, raw)) < 0)
        return rc;
    rc = link_keys_derive(raw, c->user_id, &k);
    OPENSSL_cleanse(raw, sizeof(raw));
    if (rc < 0)
        goto out;
    hex_encode(k.link_id, LINK_ID_LEN, id_hex);
    if ((rc = prim_init(&pr)) < 0)
        goto out;
    rc = hpke_key_generate(&eph, &pr, c->suite->kem_id);
    prim_release(&pr);
    if (rc == 0)
        rc = link_offer_make(c->suite, &k, c->device_id, &eph, &offer);
    if (rc < 0)
        goto out;
    b64 = api_b64_encode(offer.data, offer.len);
    body = b64 ? json_pack("{ss}", "offer", b64) : NULL;
    snprintf(path, sizeof(path), "/api/v1/client/links/%s/offer", id_hex);
    rc = body ? call(c, "PUT", path, body, &resp) : PARLEY_ENOMEM;
    json_decref(resp);
    resp = NULL;
    if (rc < 0)
        goto out;
    snprintf(path, sizeof(path), "/api/v1/client/links/%s", id_hex);
    rc = poll_for(c, path, "header", LINK_HEADER_MAX, timeout_ms, &hdr, &hdr_len, NULL);
    if (rc == 0)
        rc = link_header_open(c->suite, &k, offer.data, offer.len, &eph, hdr, hdr_len, &t);
    if (rc == 0 && memcmp(t.to, c->device_id, KEYS_ID_LEN) != 0)
        rc = PARLEY_EAUTH;
    for (uint32_t i = 0; rc == 0 && i < t.n_chunks; i++) {
        snprintf(path, sizeof(path), "/api/v1/client/links/%s/chunks/%u", id_hex, i);
        rc = call(c, "GET", path, NULL, &resp);
        if (rc == 0)
            rc = get_b64(resp, "data", LINK_CHUNK_MAX + PRIM_GCM_TAG, &data, &data_len);
        if (rc == 0 && !data)
            rc = PARLEY_EPROTO;
        if (rc == 0)
            rc = link_chunk_open(&t, k.link_id, i, data, data_len, &doc);
        free(data);
        data = NULL;
        json_decref(resp);
        resp = NULL;
    }
    if (rc == 0 && doc.len != t.total)
        rc = PARLEY_EPROTO;
    if (rc == 0)
        rc = import_history(c, (const char *)doc.data, doc.len, &n);
    /* Done or failed, the relay keeps nothing more. */
    link_delete(c, id_hex);
out:
    OPENSSL_cleanse(&t, sizeof(t));
    link_keys_wipe(&k);
    hpke_key_release(&eph);
    free(b64);
    free(hdr);
    json_decref(body);
    buf_release(&offer);
    buf_release_secure(&doc);
    if (rc == 0 && n_messages)
        *n_messages = n;
    return rc;
}
