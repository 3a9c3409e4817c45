/* send.c - the directory (users and their pinned identity keys), sending
 * end-to-end encrypted messages (docs/client-protocol.md, "Sending"),
 * conversations, history and fingerprints. */
#include "client.h"

#include <openssl/crypto.h>

#include "common/str.h"
#include "msgtypes.h"
#include "proto/envelope.h"
#include "proto/ids.h"

/* ---- directory ---------------------------------------------------------- */

static bool is_hex_id(const char *s)
{
    uint8_t tmp[KEYS_ID_LEN];
    return strlen(s) == 2 * KEYS_ID_LEN && hex_decode(s, 2 * KEYS_ID_LEN, tmp, KEYS_ID_LEN) == 0;
}

/* Percent-encode a username for a query string (RFC 3986 §2.3 unreserved
 * characters pass). */
static int url_escape(const char *s, struct buf *out)
{
    int rc = 0;
    for (; *s && rc == 0; s++) {
        unsigned char ch = (unsigned char)*s;
        if ((ch >= 'a' && ch <= 'z') || (ch >= 'A' && ch <= 'Z') || (ch >= '0' && ch <= '9') ||
            ch == '-' || ch == '.' || ch == '_' || ch == '~')
            rc = buf_append_byte(out, ch);
        else
            rc = buf_printf(out, "%%%02X", ch);
    }
    return rc;
}

int client_call(struct parley_client *c, const char *method, const char *path, json_t *body,
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

int client_get_user(struct parley_client *c, const char *id_hex, const char *name,
                    struct api_user *out)
{
    struct buf path = BUF_INIT(2048);
    json_t *resp = NULL;
    int rc;

    const char *slash = name ? strchr(name, '/') : NULL;

    if (id_hex) {
        rc = buf_printf(&path, "/api/v1/client/users/%s", id_hex);
    } else if ((rc = buf_append_str(&path, "/api/v1/client/users?username=")) == 0) {
        /* "NETWORK_ID/username": a user of another network of the
         * deployment (local federation); usernames never hold a '/'. */
        rc = url_escape(slash ? slash + 1 : name, &path);
        if (rc == 0 && slash) {
            char *net = strndup(name, (size_t)(slash - name));
            rc = net ? buf_append_str(&path, "&network=") : PARLEY_ENOMEM;
            if (rc == 0)
                rc = url_escape(net, &path);
            free(net);
        }
    }
    if (rc == 0)
        rc = client_call(c, "GET", (const char *)path.data, NULL, &resp);
    if (rc == 0)
        rc = api_user_parse(resp, out);
    json_decref(resp);
    buf_release(&path);
    return rc;
}

int client_identity(struct parley_client *c, const uint8_t user_id[KEYS_ID_LEN], const uint8_t *key,
                    size_t key_len, const char *username, struct sig_key *out)
{
    struct buf pinned = BUF_INIT(SUITE_MAX_SIG_PK);
    char hex[PARLEY_ID_HEX];
    int rc;

    if (!key)
        return PARLEY_ENOTFOUND; /* no identity yet: not registered */
    hex_encode(user_id, KEYS_ID_LEN, hex);
    pthread_mutex_lock(&c->mu);
    rc = lstore_pin_get(c->st, hex, &pinned, NULL);
    if (rc == PARLEY_ENOTFOUND) {
        rc = lstore_pin_put(c->st, hex, username, key, key_len, 0);
    } else if (rc == 0 && (pinned.len != key_len || ct_memcmp(pinned.data, key, key_len) != 0)) {
        /* The server announces another key than the one pinned: refuse
         * until the user compared safety numbers (parley_client_trust). */
        rc = PARLEY_EAUTH;
    }
    pthread_mutex_unlock(&c->mu);
    if (rc == 0)
        rc = sig_key_from_public(out, c->suite->sig, key, key_len);
    buf_release(&pinned);
    return rc;
}

/* ---- conversations ------------------------------------------------------ */

/* The conversation `to` names; creates the direct one on first use. */
int client_resolve(struct parley_client *c, const char *to, uint8_t conv[KEYS_ID_LEN],
                   struct lstore_conv *lc)
{
    struct api_user peer;
    json_t *body = NULL, *resp = NULL;
    int rc;

    memset(lc, 0, sizeof(*lc));
    if (is_hex_id(to)) {
        hex_decode(to, 2 * KEYS_ID_LEN, conv, KEYS_ID_LEN);
        pthread_mutex_lock(&c->mu);
        rc = lstore_conv_get(c->st, to, lc);
        pthread_mutex_unlock(&c->mu);
        if (rc == PARLEY_ENOTFOUND) {
            int t = ids_conv_type(conv);
            memcpy(lc->conv_id, to, sizeof(lc->conv_id));
            strlcpy_p(lc->type, t >= 0 ? ids_conv_type_name((enum ids_conv_type)t) : "", 8);
            rc = 0;
        }
        return rc;
    }
    rc = client_get_user(c, NULL, to, &peer);
    if (rc < 0)
        return rc;
    /* Across networks the smaller network id names the conversation, so
     * both sides find the same one. */
    rc = ids_conv_direct(peer.network_id[0] && strcmp(peer.network_id, c->cfg->network_id) < 0
                             ? peer.network_id
                             : c->cfg->network_id,
                         c->user_id, peer.user_id, conv);
    if (rc < 0)
        goto out;
    hex_encode(conv, KEYS_ID_LEN, lc->conv_id);
    strlcpy_p(lc->type, "direct", sizeof(lc->type));
    hex_encode(peer.user_id, KEYS_ID_LEN, lc->peer);
    pthread_mutex_lock(&c->mu);
    struct lstore_conv known;
    rc = lstore_conv_get(c->st, lc->conv_id, &known);
    pthread_mutex_unlock(&c->mu);
    if (rc == 0) {
        free(known.title);
        goto out;
    }
    /* Idempotent on the server; remembered locally once it answered. */
    body = json_pack("{ssss}", "type", "direct", "peer", lc->peer);
    rc = body ? client_call(c, "POST", "/api/v1/client/conversations", body, &resp) : PARLEY_ENOMEM;
    if (rc == 0) {
        pthread_mutex_lock(&c->mu);
        rc = lstore_conv_put(c->st, lc);
        pthread_mutex_unlock(&c->mu);
    }
out:
    json_decref(body);
    json_decref(resp);
    api_user_release(&peer);
    return rc;
}

/* The member user ids of a conversation. For a room, the server's record
 * also gives the room's current expiration and burn-on-read, which a
 * member who has not yet read the room's control messages (one added a
 * moment ago) would otherwise miss: lc takes them. Group members keep
 * their own settings. */
static int members_of(struct parley_client *c, struct lstore_conv *lc, uint8_t (**ids)[KEYS_ID_LEN],
                      size_t *n)
{
    struct api_conv conv;
    char path[128];
    json_t *resp = NULL;
    int rc;

    *ids = NULL;
    *n = 0;
    if (strcmp(lc->type, "direct") == 0 && lc->peer[0]) {
        if (!(*ids = calloc(2, KEYS_ID_LEN)))
            return PARLEY_ENOMEM;
        memcpy((*ids)[0], c->user_id, KEYS_ID_LEN);
        hex_decode(lc->peer, 2 * KEYS_ID_LEN, (*ids)[1], KEYS_ID_LEN);
        *n = memcmp((*ids)[0], (*ids)[1], KEYS_ID_LEN) == 0 ? 1 : 2;
        return 0;
    }
    snprintf(path, sizeof(path), "/api/v1/client/conversations/%s", lc->conv_id);
    rc = client_call(c, "GET", path, NULL, &resp);
    if (rc == 0)
        rc = api_conv_parse(resp, &conv);
    json_decref(resp);
    if (rc < 0)
        return rc;
    if (conv.n_members && !(*ids = calloc(conv.n_members, KEYS_ID_LEN)))
        rc = PARLEY_ENOMEM;
    for (size_t i = 0; rc == 0 && i < conv.n_members; i++)
        memcpy((*ids)[i], conv.members[i].user_id, KEYS_ID_LEN);
    if (rc == 0) {
        *n = conv.n_members;
        if (strcmp(conv.type, "room") == 0) {
            lc->expiration = conv.expiration;
            lc->burn_on_read = conv.burn_on_read;
        }
    }
    api_conv_release(&conv);
    return rc;
}

/* Fetch the compliance bots into c->bots: the network's, or with `conv`
 * (hex) those of every network with a member in that conversation. */
static int fetch_bots(struct parley_client *c, const char *conv)
{
    json_t *resp = NULL, *arr, *v;
    uint8_t(*bots)[KEYS_ID_LEN] = NULL;
    size_t i, n = 0;
    char path[128];
    int rc;

    snprintf(path, sizeof(path), "/api/v1/client/retention%s%s", conv ? "?conv_id=" : "",
             conv ? conv : "");
    rc = client_call(c, "GET", path, NULL, &resp);

    arr = json_object_get(resp, "compliance_bots");
    if (rc == 0 && !json_is_array(arr))
        rc = PARLEY_EPROTO;
    if (rc == 0 && json_array_size(arr) && !(bots = calloc(json_array_size(arr), KEYS_ID_LEN)))
        rc = PARLEY_ENOMEM;
    json_array_foreach(arr, i, v)
    {
        const char *hex = json_string_value(v);
        if (rc < 0)
            break;
        if (!hex || strlen(hex) != 2 * KEYS_ID_LEN ||
            hex_decode(hex, 2 * KEYS_ID_LEN, bots[n++], KEYS_ID_LEN) < 0)
            rc = PARLEY_EPROTO;
    }
    json_decref(resp);
    if (rc < 0) {
        free(bots);
        return rc;
    }
    pthread_mutex_lock(&c->mu);
    free(c->bots);
    c->bots = bots;
    c->n_bots = n;
    c->bots_known = true;
    pthread_mutex_unlock(&c->mu);
    return 0;
}

/* Add the compliance bots to the recipients: the server refuses an
 * envelope whose key is not wrapped for their devices too. The network's
 * list is fetched on the first send; when `refresh` (after the server
 * refused an envelope with devices_changed) the list of conversation
 * `conv` is, which also holds the bots of the other networks of its
 * members (local federation). Not on every send. */
static int add_retention(struct parley_client *c, const char *conv, uint8_t (**ids)[KEYS_ID_LEN],
                         size_t *n, bool refresh)
{
    bool known;
    int rc = 0;

    pthread_mutex_lock(&c->mu);
    known = c->bots_known;
    pthread_mutex_unlock(&c->mu);
    if ((refresh || !known) && (rc = fetch_bots(c, refresh ? conv : NULL)) < 0)
        return rc;
    pthread_mutex_lock(&c->mu);
    for (size_t i = 0; i < c->n_bots && rc == 0; i++) {
        bool present = false;
        for (size_t k = 0; k < *n && !present; k++)
            present = memcmp((*ids)[k], c->bots[i], KEYS_ID_LEN) == 0;
        if (present)
            continue;
        uint8_t(*grown)[KEYS_ID_LEN] = realloc(*ids, (*n + 1) * KEYS_ID_LEN);
        if (!grown) {
            rc = PARLEY_ENOMEM;
            break;
        }
        *ids = grown;
        memcpy((*ids)[(*n)++], c->bots[i], KEYS_ID_LEN);
    }
    pthread_mutex_unlock(&c->mu);
    return rc;
}

/* ---- sealing ------------------------------------------------------------ */

/* Everything one seal needs: each recipient device's verified pre-key. */
struct targets {
    struct keys_bundle *bundles;
    struct envelope_recipient *rcpt;
    size_t n;
};

static void targets_release(struct targets *t)
{
    for (size_t i = 0; i < t->n; i++)
        keys_bundle_release(&t->bundles[i]);
    free(t->bundles);
    free(t->rcpt);
    memset(t, 0, sizeof(*t));
}

/* Resolve every device of every member (and this user's other devices),
 * claim one pre-key each and verify it against the pinned identity. */
static int gather(struct parley_client *c, uint8_t (*members)[KEYS_ID_LEN], size_t n_members,
                  struct targets *t)
{
    struct api_user *users = calloc(n_members + 1, sizeof(*users));
    struct sig_key *keys = calloc(n_members + 1, sizeof(*keys));
    struct api_bundle *bundles = NULL;
    size_t n_users = 0, n_bundles = 0, n_devs = 0;
    json_t *devs = json_array(), *body = NULL, *resp = NULL;
    bool self_listed = false;
    int rc = 0;

    memset(t, 0, sizeof(*t));
    if (!users || !keys || !devs) {
        rc = PARLEY_ENOMEM;
        goto out;
    }
    for (size_t i = 0; i < n_members; i++)
        if (memcmp(members[i], c->user_id, KEYS_ID_LEN) == 0)
            self_listed = true;
    for (size_t i = 0; i < n_members + !self_listed && rc == 0; i++) {
        char hex[PARLEY_ID_HEX];
        hex_encode(i < n_members ? members[i] : c->user_id, KEYS_ID_LEN, hex);
        rc = client_get_user(c, hex, NULL, &users[i]);
        if (rc < 0)
            break;
        n_users = i + 1;
        rc = client_identity(c, users[i].user_id, users[i].identity_key, users[i].identity_key_len,
                             users[i].username, &keys[i]);
        if (rc == PARLEY_ENOTFOUND) {
            rc = 0; /* a member without identity has no devices yet */
            continue;
        }
        for (size_t d = 0; rc == 0 && d < users[i].n_devices; d++) {
            char dh[PARLEY_ID_HEX];
            if (memcmp(users[i].devices[d].device_id, c->device_id, KEYS_ID_LEN) == 0)
                continue;
            hex_encode(users[i].devices[d].device_id, KEYS_ID_LEN, dh);
            if (json_array_append_new(devs, json_string(dh)) < 0)
                rc = PARLEY_ENOMEM;
            n_devs++;
        }
    }
    if (rc < 0)
        goto out;
    if (n_devs == 0 || n_devs > API_MAX_CLAIM) {
        rc = n_devs ? PARLEY_ETOOBIG : PARLEY_ENOTFOUND;
        goto out;
    }
    body = json_pack("{sO}", "devices", devs);
    rc = body ? client_call(c, "POST", "/api/v1/client/prekeys/claim", body, &resp) : PARLEY_ENOMEM;
    if (rc == 0)
        rc = api_claim_parse(resp, &bundles, &n_bundles);
    if (rc < 0)
        goto out;
    t->bundles = calloc(n_bundles ? n_bundles : 1, sizeof(*t->bundles));
    t->rcpt = calloc(n_bundles ? n_bundles : 1, sizeof(*t->rcpt));
    if (!t->bundles || !t->rcpt) {
        rc = PARLEY_ENOMEM;
        goto out;
    }
    for (size_t b = 0; b < n_bundles && rc == 0; b++) {
        /* Find the owner among the resolved users by the device id. */
        ssize_t owner = -1;
        for (size_t i = 0; i < n_users && owner < 0; i++)
            for (size_t d = 0; d < users[i].n_devices; d++)
                if (memcmp(users[i].devices[d].device_id, bundles[b].device_id, KEYS_ID_LEN) == 0)
                    owner = (ssize_t)i;
        if (owner < 0 || !keys[owner].pkey) {
            rc = PARLEY_EPROTO;
            break;
        }
        struct keys_bundle *kb = &t->bundles[t->n];
        rc = keys_bundle_verify(bundles[b].bundle, bundles[b].len, &keys[owner], kb);
        if (rc < 0)
            break;
        if (memcmp(kb->cert.user_id, users[owner].user_id, KEYS_ID_LEN) != 0 ||
            memcmp(kb->cert.device_id, bundles[b].device_id, KEYS_ID_LEN) != 0 ||
            kb->n_prekeys != 1) {
            keys_bundle_release(kb);
            rc = PARLEY_EAUTH;
            break;
        }
        t->rcpt[t->n].device_id = kb->cert.device_id;
        t->rcpt[t->n].prekey_id = kb->prekeys[0].id;
        t->rcpt[t->n].prekey = &kb->prekeys[0].key;
        t->n++;
    }
out:
    for (size_t i = 0; i < n_users; i++) {
        api_user_release(&users[i]);
        if (keys[i].pkey)
            sig_key_release(&keys[i]);
    }
    free(users);
    free(keys);
    api_bundles_free(bundles, n_bundles);
    json_decref(devs);
    json_decref(body);
    json_decref(resp);
    if (rc < 0)
        targets_release(t);
    return rc;
}

void client_on_ack(struct parley_client *c, const uint8_t msg_id[KEYS_ID_LEN], int result,
                   const char *code, int64_t ts_ms)
{
    pthread_mutex_lock(&c->mu);
    for (struct client_pending *p = c->pending; p; p = p->next) {
        if (memcmp(p->msg_id, msg_id, KEYS_ID_LEN) != 0)
            continue;
        p->done = true;
        p->result = result;
        p->ts_ms = ts_ms;
        strlcpy_p(p->code, code, sizeof(p->code));
        pthread_cond_broadcast(&c->ack_cv);
    }
    pthread_mutex_unlock(&c->mu);
}

static int nack_error(const char *code)
{
    static const struct {
        const char *code;
        int err;
    } map[] = {
        {"bad_envelope", PARLEY_EPROTO}, {"not_member", PARLEY_EPERM},
        {"forbidden", PARLEY_EPERM},     {"expired", PARLEY_EPERM},
        {"too_large", PARLEY_ETOOBIG},   {"devices_changed", PARLEY_ECONFLICT},
    };
    for (size_t i = 0; i < ARRAY_SIZE(map); i++)
        if (strcmp(code, map[i].code) == 0)
            return map[i].err;
    return PARLEY_EPERM;
}

/* Send a sealed envelope and wait for its ack or nack. The same envelope
 * goes again when the connection comes back before its answer (the
 * envelope or its ack may have been lost with the old connection), and
 * after an internal_error nack: the server acknowledges an envelope it
 * already has without storing or delivering it twice, and recipients that
 * got it before a failed commit drop the second copy by its msg_id
 * (docs/client-protocol.md). */
static int send_and_wait(struct parley_client *c, const uint8_t msg_id[KEYS_ID_LEN],
                         const struct buf *env, int64_t *ts_ms)
{
    struct client_pending *p = calloc(1, sizeof(*p)), **pp;
    struct buf frame = BUF_INIT(env->len + 1);
    struct timespec deadline;
    uint64_t gen;
    int rc;

    if (!p)
        return PARLEY_ENOMEM;
    memcpy(p->msg_id, msg_id, KEYS_ID_LEN);
    rc = buf_append_byte(&frame, 0x01);
    if (rc == 0)
        rc = buf_append(&frame, env->data, env->len);
    if (rc < 0) {
        free(p);
        buf_release(&frame);
        return rc;
    }
    pthread_mutex_lock(&c->mu);
    p->next = c->pending;
    c->pending = p;
    gen = c->online_gen;
    pthread_mutex_unlock(&c->mu);

    rc = conn_send(c->conn, true, frame.data, frame.len);
    clock_gettime(CLOCK_REALTIME, &deadline);
    deadline.tv_sec += CLIENT_SEND_TIMEOUT_MS / 1000;
    pthread_mutex_lock(&c->mu);
    while (rc == 0) {
        bool again = false;
        if (p->done && p->result != 0 && strcmp(p->code, "internal_error") == 0) {
            /* Not stored: wait a moment (or for a new connection), then
             * the same envelope again. */
            struct timespec soon;
            clock_gettime(CLOCK_REALTIME, &soon);
            soon.tv_sec += CLIENT_SEND_RETRY_MS / 1000;
            p->done = false;
            while (rc == 0 && !p->done && c->online_gen == gen)
                if (pthread_cond_timedwait(&c->ack_cv, &c->mu, &soon) == ETIMEDOUT)
                    break;
            again = !p->done;
        } else if (p->done) {
            break;
        } else if (c->online_gen != gen) {
            again = true;
        } else if (pthread_cond_timedwait(&c->ack_cv, &c->mu, &deadline) == ETIMEDOUT) {
            rc = PARLEY_EBUSY;
        }
        if (rc == 0 && again) {
            struct timespec now;
            clock_gettime(CLOCK_REALTIME, &now);
            if (now.tv_sec >= deadline.tv_sec) {
                rc = PARLEY_EBUSY;
                break;
            }
            gen = c->online_gen;
            pthread_mutex_unlock(&c->mu);
            rc = conn_send(c->conn, true, frame.data, frame.len);
            pthread_mutex_lock(&c->mu);
        }
    }
    if (rc == 0 && p->done)
        rc = p->result == 0 ? 0 : nack_error(p->code);
    *ts_ms = p->ts_ms;
    for (pp = &c->pending; *pp; pp = &(*pp)->next)
        if (*pp == p) {
            *pp = p->next;
            break;
        }
    pthread_mutex_unlock(&c->mu);
    free(p);
    buf_release(&frame);
    return rc;
}

int client_send_payload(struct parley_client *c, const char *to, json_t *payload,
                        char msg_id[PARLEY_ID_HEX])
{
    uint8_t conv[KEYS_ID_LEN], (*members)[KEYS_ID_LEN] = NULL;
    struct lstore_conv lc = {0};
    struct buf env = BUF_INIT(ENVELOPE_MAX_CONTENT + (1u << 20));
    char *pt = NULL;
    size_t pt_len = 0, n_members = 0;
    int rc;

    if (!c->conn)
        return PARLEY_ECLOSED;
    if ((rc = msgtype_encode(payload, &pt, &pt_len)) < 0)
        return rc;
    if ((rc = client_resolve(c, to, conv, &lc)) < 0)
        goto out;
    for (int attempt = 0; attempt < CLIENT_SEND_ATTEMPTS; attempt++) {
        struct targets t;
        struct envelope_header hdr = {0};
        int64_t ts = 0;

        free(members);
        if ((rc = members_of(c, &lc, &members, &n_members)) < 0 ||
            (rc = add_retention(c, lc.conv_id, &members, &n_members, attempt > 0)) < 0 ||
            (rc = gather(c, members, n_members, &t)) < 0)
            break;
        memcpy(hdr.conversation, conv, KEYS_ID_LEN);
        if (lc.expiration)
            hdr.expires_at = (uint64_t)time(NULL) + lc.expiration;
        if (lc.burn_on_read)
            hdr.flags |= ENVELOPE_BURN_ON_READ;
        buf_reset(&env);
        pthread_mutex_lock(&c->mu);
        rc = envelope_seal(&c->dev, &hdr, t.rcpt, t.n, (const uint8_t *)pt, pt_len, &env);
        pthread_mutex_unlock(&c->mu);
        targets_release(&t);
        if (rc < 0)
            break;
        rc = send_and_wait(c, hdr.msg_id, &env, &ts);
        if (rc == PARLEY_ECONFLICT)
            continue; /* devices_changed: fetch the devices again and reseal */
        if (rc == 0) {
            struct lstore_msg m = {0};
            hex_encode(hdr.msg_id, KEYS_ID_LEN, m.msg_id);
            memcpy(m.conv_id, lc.conv_id, sizeof(m.conv_id));
            memcpy(m.sender, c->user_hex, sizeof(m.sender));
            memcpy(m.sender_device, c->device_hex, sizeof(m.sender_device));
            m.msgtype = (int)json_integer_value(json_object_get(payload, "msgtype"));
            m.body = pt;
            m.ts_ms = ts;
            m.expires_at = hdr.expires_at;
            m.burn_on_read = (hdr.flags & ENVELOPE_BURN_ON_READ) != 0;
            m.state = LSTORE_MSG_SENT;
            pthread_mutex_lock(&c->mu);
            rc = lstore_msg_put(c->st, &m);
            pthread_mutex_unlock(&c->mu);
            if (msg_id)
                memcpy(msg_id, m.msg_id, PARLEY_ID_HEX);
        }
        break;
    }
out:
    free(members);
    free(lc.title);
    if (pt) {
        OPENSSL_cleanse(pt, pt_len);
        free(pt);
    }
    buf_release(&env);
    return rc;
}

int parley_client_send(struct parley_client *c, const char *to, const char *payload_json,
                       char msg_id[PARLEY_ID_HEX])
{
    json_t *payload;
    char err[256];
    int mt, rc;

    if (!c || !to || !payload_json)
        return PARLEY_EINVAL;
    rc = msgtype_decode((const uint8_t *)payload_json, strlen(payload_json), &payload, &mt, err,
                        sizeof(err));
    if (rc < 0)
        return rc;
    rc = client_send_payload(c, to, payload, msg_id);
    json_decref(payload);
    return rc;
}

int parley_client_send_text(struct parley_client *c, const char *to, const char *text,
                            char msg_id[PARLEY_ID_HEX])
{
    json_t *payload;
    int rc;

    if (!c || !to || !text)
        return PARLEY_EINVAL;
    payload = json_pack("{siss}", "msgtype", MSGTYPE_TEXT, "message", text);
    if (!payload)
        return PARLEY_EINVAL; /* not UTF-8, or no memory */
    rc = client_send_payload(c, to, payload, msg_id);
    json_decref(payload);
    return rc;
}

/* ---- history -------------------------------------------------------------- */

static int add_msg(void *arg, const struct lstore_msg *m)
{
    json_t *arr = arg, *body = json_loads(m->body, 0, NULL);
    json_t *o =
        json_pack("{sssssssisosIsIss}", "msg_id", m->msg_id, "conv_id", m->conv_id, "sender",
                  m->sender, "msgtype", m->msgtype, "body", body ? body : json_null(), "ts",
                  (json_int_t)m->ts_ms, "expires_at", (json_int_t)m->expires_at, "state",
                  m->state == LSTORE_MSG_SENT ? "sent" : "received");
    return o && json_array_append_new(arr, o) == 0 ? 0 : PARLEY_ENOMEM;
}

int parley_client_history(struct parley_client *c, const char *to, size_t limit, char **json_out)
{
    uint8_t conv[KEYS_ID_LEN];
    struct lstore_conv lc;
    json_t *arr = json_array();
    int rc;

    *json_out = NULL;
    if (!arr)
        return PARLEY_ENOMEM;
    rc = client_resolve(c, to, conv, &lc);
    free(lc.title);
    if (rc == 0) {
        pthread_mutex_lock(&c->mu);
        (void)lstore_msg_purge_expired(c->st, (uint64_t)time(NULL));
        rc = lstore_msg_each(c->st, lc.conv_id, limit, add_msg, arr);
        pthread_mutex_unlock(&c->mu);
    }
    if (rc == 0 && !(*json_out = json_dumps(arr, JSON_COMPACT)))
        rc = PARLEY_ENOMEM;
    json_decref(arr);
    return rc;
}

/* ---- groups and rooms ------------------------------------------------------ */

/* Usernames to a JSON array of user ids. */
static int user_ids(struct parley_client *c, const char *const *names, size_t n, json_t **out)
{
    json_t *arr = json_array();
    int rc = arr ? 0 : PARLEY_ENOMEM;
    for (size_t i = 0; rc == 0 && i < n; i++) {
        struct api_user u;
        char hex[PARLEY_ID_HEX];
        if (is_hex_id(names[i])) {
            strlcpy_p(hex, names[i], sizeof(hex));
        } else {
            if ((rc = client_get_user(c, NULL, names[i], &u)) < 0)
                break;
            hex_encode(u.user_id, KEYS_ID_LEN, hex);
            api_user_release(&u);
        }
        if (json_array_append_new(arr, json_string(hex)) < 0)
            rc = PARLEY_ENOMEM;
    }
    if (rc < 0) {
        json_decref(arr);
        arr = NULL;
    }
    *out = arr;
    return rc;
}

int parley_conv_create(struct parley_client *c, const char *type, const char *title,
                       const char *const *members, size_t n_members, const char *const *moderators,
                       size_t n_moderators, uint32_t expiration, uint32_t burn_on_read,
                       char conv_id[PARLEY_ID_HEX])
{
    enum ids_conv_type t;
    uint8_t id[KEYS_ID_LEN];
    json_t *mem = NULL, *mods = NULL, *body = NULL, *resp = NULL, *payload = NULL;
    struct lstore_conv lc = {0};
    int rc;

    if (ids_conv_type_parse(type, &t) < 0 || t == IDS_CONV_DIRECT)
        return PARLEY_EINVAL;
    if ((rc = ids_conv_new(t, id)) < 0)
        return rc;
    hex_encode(id, KEYS_ID_LEN, lc.conv_id);
    if ((rc = user_ids(c, members, n_members, &mem)) < 0 ||
        (rc = user_ids(c, moderators, n_moderators, &mods)) < 0)
        goto out;
    body = json_pack("{sssssOsOsIsI}", "type", type, "conv_id", lc.conv_id, "members", mem,
                     "moderators", mods, "expiration", (json_int_t)expiration, "burn_on_read",
                     (json_int_t)burn_on_read);
    if (!body) {
        rc = PARLEY_ENOMEM;
        goto out;
    }
    if ((rc = client_call(c, "POST", "/api/v1/client/conversations", body, &resp)) < 0)
        goto out;
    strlcpy_p(lc.type, type, sizeof(lc.type));
    lc.title = (char *)title;
    lc.expiration = expiration;
    lc.burn_on_read = burn_on_read;
    pthread_mutex_lock(&c->mu);
    rc = lstore_conv_put(c->st, &lc);
    pthread_mutex_unlock(&c->mu);
    if (rc < 0)
        goto out;
    if (conv_id)
        memcpy(conv_id, lc.conv_id, PARLEY_ID_HEX);
    /* Announce the room's encrypted settings (title) to its members. The
     * member list in the control message carries user ids. */
    if (json_array_append_new(mods, json_string(c->user_hex)) < 0) {
        rc = PARLEY_ENOMEM;
        goto out;
    }
    /* The creator is a member too: the retention log rebuilds member
     * lists from these messages. */
    {
        bool listed = false;
        size_t i;
        json_t *v;
        json_array_foreach(mem, i, v) listed |= strcmp(json_string_value(v), c->user_hex) == 0;
        if (!listed && json_array_append_new(mem, json_string(c->user_hex)) < 0) {
            rc = PARLEY_ENOMEM;
            goto out;
        }
    }
    payload = json_pack("{si s{sOsOsssisisi}}", "msgtype", MSGTYPE_ROOM_CREATE, "control",
                        "members", mem, "masters", mods, "title", title ? title : "", "ttl",
                        (int)expiration, "bor", (int)burn_on_read, "changemask", 1 | 2 | 4 | 32);
    rc = payload ? client_send_payload(c, lc.conv_id, payload, NULL) : PARLEY_ENOMEM;
    if (rc == PARLEY_ENOTFOUND)
        rc = 0; /* nobody else has a device yet */
out:
    json_decref(mem);
    json_decref(mods);
    json_decref(body);
    json_decref(resp);
    json_decref(payload);
    return rc;
}

int parley_client_policy(struct parley_client *c, char **json_out)
{
    json_t *resp = NULL;
    int rc;

    *json_out = NULL;
    if ((rc = client_call(c, "GET", "/api/v1/client/policy", NULL, &resp)) < 0)
        return rc;
    if (!json_is_object(json_object_get(resp, "settings")) ||
        !json_is_object(json_object_get(resp, "network"))) {
        json_decref(resp);
        return PARLEY_EPROTO;
    }
    *json_out = json_dumps(resp, JSON_COMPACT | JSON_SORT_KEYS);
    json_decref(resp);
    return *json_out ? 0 : PARLEY_ENOMEM;
}

int parley_conv_list(struct parley_client *c, char **json_out)
{
    json_t *resp = NULL, *arr, *v;
    size_t i;
    int rc;

    *json_out = NULL;
    if ((rc = client_call(c, "GET", "/api/v1/client/conversations", NULL, &resp)) < 0)
        return rc;
    arr = json_is_array(resp) ? resp : json_object_get(resp, "conversations");
    if (!json_is_array(arr)) {
        json_decref(resp);
        return PARLEY_EPROTO;
    }
    json_array_foreach(arr, i, v)
    {
        const char *id = json_string_value(json_object_get(v, "conv_id"));
        struct lstore_conv lc;
        if (!id)
            continue;
        pthread_mutex_lock(&c->mu);
        rc = lstore_conv_get(c->st, id, &lc);
        pthread_mutex_unlock(&c->mu);
        if (rc == 0 && lc.title)
            json_object_set_new(v, "title", json_string(lc.title));
        if (rc == 0)
            free(lc.title);
    }
    *json_out = json_dumps(arr, JSON_COMPACT);
    json_decref(resp);
    return *json_out ? 0 : PARLEY_ENOMEM;
}

int parley_conv_members(struct parley_client *c, const char *conv, char **json_out)
{
    struct api_conv ac;
    char path[128];
    json_t *resp = NULL, *arr = json_array();
    int rc;

    *json_out = NULL;
    if (!is_hex_id(conv) || !arr) {
        json_decref(arr);
        return arr ? PARLEY_EINVAL : PARLEY_ENOMEM;
    }
    snprintf(path, sizeof(path), "/api/v1/client/conversations/%s", conv);
    rc = client_call(c, "GET", path, NULL, &resp);
    if (rc == 0)
        rc = api_conv_parse(resp, &ac);
    json_decref(resp);
    if (rc < 0) {
        json_decref(arr);
        return rc;
    }
    for (size_t i = 0; rc == 0 && i < ac.n_members; i++) {
        char hex[PARLEY_ID_HEX], *name = NULL;
        hex_encode(ac.members[i].user_id, KEYS_ID_LEN, hex);
        pthread_mutex_lock(&c->mu);
        (void)lstore_pin_username(c->st, hex, &name);
        pthread_mutex_unlock(&c->mu);
        if (!name) {
            struct api_user u;
            if (client_get_user(c, hex, NULL, &u) == 0) {
                name = strdup(u.username);
                api_user_release(&u);
            }
        }
        json_t *o = json_pack("{ssss?ss}", "user_id", hex, "username", name, "role",
                              ac.members[i].is_moderator ? "moderator" : "member");
        free(name);
        if (!o || json_array_append_new(arr, o) < 0)
            rc = PARLEY_ENOMEM;
    }
    api_conv_release(&ac);
    if (rc == 0 && !(*json_out = json_dumps(arr, JSON_COMPACT)))
        rc = PARLEY_ENOMEM;
    json_decref(arr);
    return rc;
}

int parley_conv_modify(struct parley_client *c, const char *conv, const char *const *add,
                       size_t n_add, const char *const *remove, size_t n_remove,
                       const char *const *moderators, size_t n_moderators)
{
    json_t *a = NULL, *r = NULL, *m = NULL, *body = NULL, *resp = NULL, *payload = NULL;
    char path[128];
    int rc;

    if (!is_hex_id(conv))
        return PARLEY_EINVAL;
    if ((rc = user_ids(c, add, n_add, &a)) < 0 || (rc = user_ids(c, remove, n_remove, &r)) < 0 ||
        (rc = user_ids(c, moderators, n_moderators, &m)) < 0)
        goto out;
    body = json_pack("{sOsOsO}", "add", a, "remove", r, "moderators", m);
    snprintf(path, sizeof(path), "/api/v1/client/conversations/%s/members", conv);
    rc = body ? client_call(c, "POST", path, body, &resp) : PARLEY_ENOMEM;
    if (rc < 0)
        goto out;
    /* Tell the (new) members in an encrypted control message (4002). */
    payload = json_pack("{sis{sOsO}}", "msgtype", MSGTYPE_ROOM_MEMBERS, "control", "addedusers", a,
                        "deletedusers", r);
    rc = payload ? client_send_payload(c, conv, payload, NULL) : PARLEY_ENOMEM;
    if (rc == PARLEY_ENOTFOUND)
        rc = 0;
out:
    json_decref(a);
    json_decref(r);
    json_decref(m);
    json_decref(body);
    json_decref(resp);
    json_decref(payload);
    return rc;
}

/* Whether `user` is a moderator of room `conv` according to the server. */
int client_is_moderator(struct parley_client *c, const char *conv, const uint8_t user[KEYS_ID_LEN])
{
    char path[128];
    json_t *resp = NULL;
    struct api_conv ac;
    int rc;

    snprintf(path, sizeof(path), "/api/v1/client/conversations/%s", conv);
    if ((rc = client_call(c, "GET", path, NULL, &resp)) < 0)
        return rc;
    rc = api_conv_parse(resp, &ac);
    json_decref(resp);
    if (rc < 0)
        return rc;
    rc = PARLEY_EPERM;
    for (size_t i = 0; i < ac.n_members; i++)
        if (memcmp(ac.members[i].user_id, user, KEYS_ID_LEN) == 0 && ac.members[i].is_moderator)
            rc = 0;
    api_conv_release(&ac);
    return rc;
}

int parley_conv_set(struct parley_client *c, const char *conv, const struct parley_conv_change *ch)
{
    json_t *body = NULL, *resp = NULL, *mods = NULL, *payload = NULL, *ctl;
    struct lstore_conv lc;
    uint8_t id[KEYS_ID_LEN];
    char path[160];
    int mask = 0, rc;

    if (!c || !conv || !ch || !is_hex_id(conv))
        return PARLEY_EINVAL;
    hex_decode(conv, 2 * KEYS_ID_LEN, id, KEYS_ID_LEN);
    if (ids_conv_type(id) == IDS_CONV_DIRECT)
        return PARLEY_EINVAL;
    if (ch->expiration > UINT32_MAX || ch->burn_on_read > UINT32_MAX)
        return PARLEY_EINVAL;
    if (!(payload = json_pack("{sis{}}", "msgtype", MSGTYPE_ROOM_PARAMS, "control")))
        return PARLEY_ENOMEM;
    ctl = json_object_get(payload, "control");
    /* Rights first: in a room only moderators change anything. The server
     * enforces it for what it stores; for the encrypted parts (title,
     * description) the members' clients check it on receipt. */
    if (ids_conv_type(id) == IDS_CONV_ROOM && (rc = client_is_moderator(c, conv, c->user_id)) < 0)
        goto out;
    if (ch->expiration >= 0 || ch->burn_on_read >= 0) {
        body = json_object();
        if (body && ch->expiration >= 0)
            json_object_set_new(body, "expiration", json_integer(ch->expiration));
        if (body && ch->burn_on_read >= 0)
            json_object_set_new(body, "burn_on_read", json_integer(ch->burn_on_read));
        snprintf(path, sizeof(path), "/api/v1/client/conversations/%s/settings", conv);
        rc = body ? client_call(c, "PUT", path, body, &resp) : PARLEY_ENOMEM;
        if (rc < 0)
            goto out;
        /* The server may cap the expiration: announce what it stored. */
        json_t *e = json_object_get(resp, "expiration"), *b = json_object_get(resp, "burn_on_read");
        if (ch->expiration >= 0) {
            json_object_set_new(ctl, "ttl", json_integer(json_integer_value(e)));
            mask |= 2;
        }
        if (ch->burn_on_read >= 0) {
            json_object_set_new(ctl, "bor", json_integer(json_integer_value(b)));
            mask |= 32;
        }
    }
    if (ch->n_moderators) {
        if ((rc = user_ids(c, ch->moderators, ch->n_moderators, &mods)) < 0)
            goto out;
        json_decref(body);
        json_decref(resp);
        resp = NULL;
        body = json_pack("{sO}", "moderators", mods);
        snprintf(path, sizeof(path), "/api/v1/client/conversations/%s/members", conv);
        rc = body ? client_call(c, "POST", path, body, &resp) : PARLEY_ENOMEM;
        if (rc < 0)
            goto out;
        json_object_set(ctl, "masters", mods);
        mask |= 1;
    }
    if (ch->title) {
        json_object_set_new(ctl, "title", json_string(ch->title));
        mask |= 4;
    }
    if (ch->description) {
        json_object_set_new(ctl, "description", json_string(ch->description));
        mask |= 8;
    }
    if (!mask) {
        rc = PARLEY_EINVAL; /* nothing to change */
        goto out;
    }
    json_object_set_new(ctl, "changemask", json_integer(mask));
    /* This device's own view first; the others learn it from 4004. */
    pthread_mutex_lock(&c->mu);
    rc = lstore_conv_get(c->st, conv, &lc);
    if (rc == PARLEY_ENOTFOUND) {
        memset(&lc, 0, sizeof(lc));
        strlcpy_p(lc.conv_id, conv, sizeof(lc.conv_id));
        strlcpy_p(lc.type, ids_conv_type_name((enum ids_conv_type)ids_conv_type(id)),
                  sizeof(lc.type));
        rc = 0;
    }
    if (rc == 0) {
        char *old = lc.title;
        if (mask & 2)
            lc.expiration = (uint32_t)json_integer_value(json_object_get(ctl, "ttl"));
        if (mask & 32)
            lc.burn_on_read = (uint32_t)json_integer_value(json_object_get(ctl, "bor"));
        if (ch->title)
            lc.title = (char *)ch->title;
        rc = lstore_conv_put(c->st, &lc);
        free(old);
    }
    pthread_mutex_unlock(&c->mu);
    if (rc == 0)
        rc = client_send_payload(c, conv, payload, NULL);
    if (rc == PARLEY_ENOTFOUND)
        rc = 0; /* nobody else has a device yet */
out:
    json_decref(body);
    json_decref(resp);
    json_decref(mods);
    json_decref(payload);
    return rc;
}

static int conv_action(struct parley_client *c, const char *conv, const char *method,
                       const char *suffix, int msgtype)
{
    json_t *resp = NULL, *payload = NULL;
    char path[160];
    int rc;

    if (!is_hex_id(conv))
        return PARLEY_EINVAL;
    /* The control message goes first: after leaving, we may not send. */
    payload = json_pack("{si}", "msgtype", msgtype);
    rc = payload ? client_send_payload(c, conv, payload, NULL) : PARLEY_ENOMEM;
    json_decref(payload);
    if (rc < 0 && rc != PARLEY_ENOTFOUND && rc != PARLEY_ECLOSED)
        return rc;
    snprintf(path, sizeof(path), "/api/v1/client/conversations/%s%s", conv, suffix);
    rc = client_call(c, method, path, NULL, &resp);
    json_decref(resp);
    if (rc == 0) {
        pthread_mutex_lock(&c->mu);
        rc = lstore_conv_delete(c->st, conv);
        pthread_mutex_unlock(&c->mu);
    }
    return rc;
}

int parley_conv_leave(struct parley_client *c, const char *conv)
{
    return conv_action(c, conv, "POST", "/leave", MSGTYPE_ROOM_LEAVE);
}

int parley_conv_delete(struct parley_client *c, const char *conv)
{
    return conv_action(c, conv, "DELETE", "", MSGTYPE_ROOM_DELETE);
}

/* ---- verification -------------------------------------------------------- */

int parley_client_fingerprint(struct parley_client *c, const char *username,
                              char number[PARLEY_SAFETY_NUMBER_LEN], char qr[PARLEY_QR_CODE_LEN])
{
    struct api_user u;
    struct sig_key theirs, mine;
    struct buf pk = BUF_INIT(SUITE_MAX_SIG_PK);
    int rc;

    if ((rc = client_get_user(c, NULL, username, &u)) < 0)
        return rc;
    rc = client_identity(c, u.user_id, u.identity_key, u.identity_key_len, u.username, &theirs);
    if (rc < 0)
        goto out;
    pthread_mutex_lock(&c->mu);
    rc = lstore_pin_get(c->st, c->user_hex, &pk, NULL);
    pthread_mutex_unlock(&c->mu);
    if (rc == 0)
        rc = sig_key_from_public(&mine, c->suite->sig, pk.data, pk.len);
    if (rc == 0) {
        rc = keys_safety_number(c->suite, c->user_id, &mine, u.user_id, &theirs, number);
        if (rc == 0 && qr)
            rc = keys_fingerprint_qr(c->suite, c->user_id, &mine, u.user_id, &theirs, qr);
        sig_key_release(&mine);
    }
    sig_key_release(&theirs);
out:
    buf_release(&pk);
    api_user_release(&u);
    return rc;
}

int parley_client_trust(struct parley_client *c, const char *username)
{
    struct api_user u;
    char hex[PARLEY_ID_HEX];
    int rc;

    if ((rc = client_get_user(c, NULL, username, &u)) < 0)
        return rc;
    if (!u.identity_key) {
        api_user_release(&u);
        return PARLEY_ENOTFOUND;
    }
    hex_encode(u.user_id, KEYS_ID_LEN, hex);
    pthread_mutex_lock(&c->mu);
    rc = lstore_pin_put(c->st, hex, u.username, u.identity_key, u.identity_key_len, 1);
    pthread_mutex_unlock(&c->mu);
    api_user_release(&u);
    return rc;
}

/* ---- typing and presence ------------------------------------------------- */

static int send_control(struct parley_client *c, json_t *msg)
{
    char *s = msg ? json_dumps(msg, JSON_COMPACT) : NULL;
    int rc = s ? conn_send(c->conn, false, (const uint8_t *)s, strlen(s)) : PARLEY_ENOMEM;
    free(s);
    json_decref(msg);
    return rc;
}

int parley_client_typing(struct parley_client *c, const char *to, int active)
{
    uint8_t conv[KEYS_ID_LEN];
    struct lstore_conv lc;
    int rc;

    if (!c || !to)
        return PARLEY_EINVAL;
    if (!c->conn)
        return PARLEY_ECLOSED;
    rc = client_resolve(c, to, conv, &lc);
    free(lc.title);
    if (rc < 0)
        return rc;
    return send_control(
        c, json_pack("{sssssb}", "type", "typing", "conv_id", lc.conv_id, "active", active != 0));
}

int parley_client_presence(struct parley_client *c, const char *status, uint32_t idle_s)
{
    if (!c || !status ||
        (strcmp(status, "available") && strcmp(status, "away") && strcmp(status, "busy")))
        return PARLEY_EINVAL;
    if (!c->conn)
        return PARLEY_ECLOSED;
    return send_control(c, json_pack("{sssssI}", "type", "presence", "status", status, "idle_s",
                                     (json_int_t)idle_s));
}

int parley_client_user_name(struct parley_client *c, const char *user_id, char **out)
{
    struct api_user u;
    int rc;

    if (!c || !user_id || !out)
        return PARLEY_EINVAL;
    *out = NULL;
    pthread_mutex_lock(&c->mu);
    rc = lstore_pin_username(c->st, user_id, out);
    pthread_mutex_unlock(&c->mu);
    if (rc == 0 && *out)
        return 0;
    free(*out);
    *out = NULL;
    rc = client_get_user(c, user_id, NULL, &u);
    if (rc < 0)
        return rc;
    *out = strdup(u.username);
    api_user_release(&u);
    return *out ? 0 : PARLEY_ENOMEM;
}

int parley_client_user_info(struct parley_client *c, const char *user, struct parley_user_info *out)
{
    struct api_user u;
    bool by_id;
    int rc;

    if (!c || !user || !out)
        return PARLEY_EINVAL;
    memset(out, 0, sizeof(*out));
    by_id = strlen(user) == 2 * KEYS_ID_LEN && strspn(user, "0123456789abcdef") == 2 * KEYS_ID_LEN;
    rc = client_get_user(c, by_id ? user : NULL, by_id ? NULL : user, &u);
    if (rc < 0)
        return rc;
    hex_encode(u.user_id, KEYS_ID_LEN, out->user_id);
    strlcpy_p(out->username, u.username, sizeof(out->username));
    strlcpy_p(out->network_id, u.network_id, sizeof(out->network_id));
    strlcpy_p(out->status, u.status, sizeof(out->status));
    strlcpy_p(out->tags, u.tags, sizeof(out->tags));
    api_user_release(&u);
    return 0;
}

int parley_client_conv_settings(struct parley_client *c, const char *conv_id, uint32_t *expiration,
                                uint32_t *burn_on_read)
{
    struct lstore_conv conv;
    int rc;

    if (!c || !conv_id)
        return PARLEY_EINVAL;
    pthread_mutex_lock(&c->mu);
    rc = lstore_conv_get(c->st, conv_id, &conv);
    pthread_mutex_unlock(&c->mu);
    if (rc < 0)
        return rc;
    if (expiration)
        *expiration = conv.expiration;
    if (burn_on_read)
        *burn_on_read = conv.burn_on_read;
    free(conv.title);
    return 0;
}
