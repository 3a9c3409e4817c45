/* msgutil.c - see msgutil.h. */
#include "msgutil.h"

#include <setjmp.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <cmocka.h>
#include <curl/curl.h>
#include <openssl/evp.h>

#include "common/str.h"
#include "proto/ids.h"
#include "proto/suite.h"

long tc_http(const struct parleyd *p, const char *method, const char *path, const char *token,
             const char *body, json_t **out)
{
    char url[600], ca[300], auth[200];
    struct harness_sink b = {calloc(1, 1), 0};
    struct curl_slist *hdrs = NULL;
    CURL *c = curl_easy_init();
    long status = -1;

    snprintf(url, sizeof(url), "https://127.0.0.1:%d%s", p->port, path);
    snprintf(ca, sizeof(ca), "%s/tls/cert.pem", p->dir);
    curl_easy_setopt(c, CURLOPT_URL, url);
    curl_easy_setopt(c, CURLOPT_CAINFO, ca);
    curl_easy_setopt(c, CURLOPT_CUSTOMREQUEST, method);
    curl_easy_setopt(c, CURLOPT_NOSIGNAL, 1L);
    curl_easy_setopt(c, CURLOPT_TIMEOUT, 30L);
    curl_easy_setopt(c, CURLOPT_WRITEFUNCTION, harness_sink_write);
    curl_easy_setopt(c, CURLOPT_WRITEDATA, &b);
    if (token) {
        snprintf(auth, sizeof(auth), "Authorization: Bearer %s", token);
        hdrs = curl_slist_append(hdrs, auth);
    }
    if (body) {
        hdrs = curl_slist_append(hdrs, "Content-Type: application/json");
        curl_easy_setopt(c, CURLOPT_POSTFIELDS, body);
        curl_easy_setopt(c, CURLOPT_POSTFIELDSIZE, (long)strlen(body));
    }
    curl_easy_setopt(c, CURLOPT_HTTPHEADER, hdrs);
    if (curl_easy_perform(c) == CURLE_OK)
        curl_easy_getinfo(c, CURLINFO_RESPONSE_CODE, &status);
    curl_slist_free_all(hdrs);
    curl_easy_cleanup(c);
    if (out)
        *out = json_loads(b.data, 0, NULL);
    free(b.data);
    return status;
}

const char *tc_hex(const uint8_t id[KEYS_ID_LEN])
{
    static char bufs[4][2 * KEYS_ID_LEN + 1];
    static int next;
    char *s = bufs[next++ % 4];
    hex_encode(id, KEYS_ID_LEN, s);
    return s;
}

static char *b64(const uint8_t *p, size_t n)
{
    char *s = malloc(4 * ((n + 2) / 3) + 1);
    EVP_EncodeBlock((unsigned char *)s, p, (int)n);
    return s;
}

static uint8_t *unb64(const char *s, size_t *len)
{
    size_t n = strlen(s);
    uint8_t *out = malloc(n);
    int k = EVP_DecodeBlock(out, (const unsigned char *)s, (int)n);
    assert_true(k >= 0);
    if (n >= 1 && s[n - 1] == '=')
        k--;
    if (n >= 2 && s[n - 2] == '=')
        k--;
    *len = (size_t)k;
    return out;
}

void tc_user_provision_in(struct parleyd *p, struct tc_user *u, const char *name,
                          const char *network)
{
    memset(u, 0, sizeof(*u));
    snprintf(u->network, sizeof(u->network), "%s", network);
    snprintf(u->name, sizeof(u->name), "%s", name);
    snprintf(u->password, sizeof(u->password), "pw-%s-123", name);
    assert_int_equal(harness_provision_user(p, network, u->name, u->password, u->user_id), 0);
}

void tc_user_provision(struct parleyd *p, struct tc_user *u, const char *name)
{
    tc_user_provision_in(p, u, name, TC_NETWORK);
}

long tc_login(const struct parleyd *p, struct tc_user *u)
{
    char secret[IDS_LOGIN_SECRET_B64], body[512];
    json_t *r = NULL;
    long st;

    const char *net = u->network[0] ? u->network : TC_NETWORK;

    assert_int_equal(ids_login_secret(net, u->name, u->password, secret), 0);
    snprintf(body, sizeof(body),
             "{\"network_id\":\"%s\",\"username\":\"%s\",\"login_secret\":\"%s\"}", net, u->name,
             secret);
    st = tc_http(p, "POST", "/api/v1/client/login", NULL, body, &r);
    if (st == 200) {
        const char *tok = json_string_value(json_object_get(r, "token"));
        assert_non_null(tok);
        snprintf(u->login_token, sizeof(u->login_token), "%s", tok);
        assert_string_equal(json_string_value(json_object_get(r, "user_id")), tc_hex(u->user_id));
    }
    json_decref(r);
    return st;
}

long tc_identity(const struct parleyd *p, struct tc_user *u)
{
    const uint8_t backup[] = "an opaque password-encrypted backup";
    char *k, *b, *body;
    long st;

    if (!u->has_id) {
        assert_int_equal(keys_identity_generate(&u->id, suite_get(SUITE_DEFAULT), u->user_id), 0);
        u->has_id = true;
    }
    k = b64(u->id.key.pk, u->id.key.pk_len);
    b = b64(backup, sizeof(backup));
    size_t blen = strlen(k) + strlen(b) + 64;
    body = malloc(blen);
    snprintf(body, blen, "{\"identity_key\":\"%s\",\"identity_backup\":\"%s\"}", k, b);
    st = tc_http(p, "PUT", "/api/v1/client/identity", u->login_token, body, NULL);
    free(k);
    free(b);
    free(body);
    return st;
}

long tc_device_add(const struct parleyd *p, struct tc_user *u, struct tc_device *d,
                   size_t n_prekeys)
{
    struct buf bundle = BUF_INIT(KEYS_MAX_STORE);
    uint64_t now = (uint64_t)time(NULL);
    char *cert64, *bundle64, *body;
    json_t *r = NULL;
    long st;

    memset(d, 0, sizeof(*d));
    d->u = u;
    assert_int_equal(keys_device_generate(&d->dev, u->id.suite, u->user_id), 0);
    if (n_prekeys)
        assert_int_equal(keys_device_add_prekeys(&d->dev, n_prekeys, now), 0);
    assert_int_equal(keys_device_rotate_fallback(&d->dev, now), 0);
    assert_int_equal(keys_identity_certify(&u->id, &d->dev, now), 0);
    assert_int_equal(keys_device_bundle(&d->dev, 0, &bundle), 0);
    cert64 = b64(d->dev.cert, d->dev.cert_len);
    bundle64 = b64(bundle.data, bundle.len);
    size_t blen = strlen(cert64) + strlen(bundle64) + 200;
    body = malloc(blen);
    snprintf(body, blen,
             "{\"cert\":\"%s\",\"bundle\":\"%s\",\"name\":\"test\",\"platform\":\"linux\","
             "\"client_version\":\"0.1.0\"}",
             cert64, bundle64);
    st = tc_http(p, "POST", "/api/v1/client/devices", u->login_token, body, &r);
    if (st == 201) {
        snprintf(d->token, sizeof(d->token), "%s",
                 json_string_value(json_object_get(r, "device_token")));
        assert_string_equal(json_string_value(json_object_get(r, "device_id")),
                            tc_hex(d->dev.device_id));
    }
    json_decref(r);
    free(cert64);
    free(bundle64);
    free(body);
    buf_release(&bundle);
    return st;
}

void tc_user_ready(const struct parleyd *p, struct tc_user *u, struct tc_device *d)
{
    assert_int_equal(tc_login(p, u), 200);
    assert_int_equal(tc_identity(p, u), 200);
    assert_int_equal(tc_device_add(p, u, d, 30), 201);
}

void tc_device_release(struct tc_device *d)
{
    if (d->is_open)
        ws_close(&d->ws);
    for (size_t i = 0; i < d->n_texts; i++)
        json_decref(d->texts[i]);
    for (size_t i = 0; i < d->n_inbox; i++)
        free(d->inbox[i].data);
    keys_device_release(&d->dev);
    memset(d, 0, sizeof(*d));
}

void tc_user_release(struct tc_user *u)
{
    if (u->has_id)
        keys_identity_release(&u->id);
    memset(u, 0, sizeof(*u));
}

/* Read one frame into the inboxes. Returns 0, or -1 on timeout/close. */
static int read_one(struct tc_device *d, int timeout_ms)
{
    char *payload = NULL;
    size_t len = 0;
    int op = ws_recv(&d->ws, timeout_ms, &payload, &len);

    if (op == 1) {
        json_t *j = json_loadb(payload, len, 0, NULL);
        assert_non_null(j);
        assert_true(d->n_texts < TC_MAX_INBOX);
        d->texts[d->n_texts++] = j;
    } else if (op == 2) {
        struct tc_delivery *x = &d->inbox[d->n_inbox];
        const uint8_t *b = (const uint8_t *)payload;
        assert_true(d->n_inbox < TC_MAX_INBOX);
        assert_true(len > 17);
        assert_int_equal(b[0], 0x02);
        x->seq = x->ts = 0;
        for (int i = 0; i < 8; i++) {
            x->seq = x->seq << 8 | b[1 + i];
            x->ts = x->ts << 8 | b[9 + i];
        }
        x->len = len - 17;
        x->data = malloc(x->len);
        memcpy(x->data, b + 17, x->len);
        d->n_inbox++;
    } else if (op == 8) {
        d->close_code = len >= 2 ? ((unsigned char)payload[0] << 8 | (unsigned char)payload[1]) : 0;
        free(payload);
        return -1;
    }
    free(payload);
    return op < 0 ? -1 : 0;
}

static double now_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec * 1000 + (double)ts.tv_nsec / 1e6;
}

json_t *tc_wait_json(struct tc_device *d, const char *type, int timeout_ms)
{
    double end = now_ms() + timeout_ms;
    for (;;) {
        for (size_t i = 0; i < d->n_texts; i++) {
            const char *t = json_string_value(json_object_get(d->texts[i], "type"));
            if (t && strcmp(t, type) == 0) {
                json_t *j = d->texts[i];
                memmove(&d->texts[i], &d->texts[i + 1], (d->n_texts - i - 1) * sizeof(json_t *));
                d->n_texts--;
                return j;
            }
        }
        int left = (int)(end - now_ms());
        if (left <= 0 || read_one(d, left) < 0)
            return NULL;
    }
}

int tc_wait_delivery(struct tc_device *d, int timeout_ms, struct tc_delivery *out)
{
    double end = now_ms() + timeout_ms;
    while (d->n_inbox == 0) {
        int left = (int)(end - now_ms());
        if (left <= 0 || read_one(d, left) < 0)
            return -1;
    }
    *out = d->inbox[0];
    memmove(&d->inbox[0], &d->inbox[1], (d->n_inbox - 1) * sizeof(d->inbox[0]));
    d->n_inbox--;
    return 0;
}

void tc_delivery_release(struct tc_delivery *x)
{
    free(x->data);
    x->data = NULL;
}

void tc_ws_auth(const struct parleyd *p, struct tc_device *d)
{
    char msg[200];
    json_t *j;

    assert_int_equal(ws_open(p, "/v1/ws", "parley.v1", &d->ws), 101);
    d->is_open = true;
    j = tc_wait_json(d, "hello", 5000);
    assert_non_null(j);
    json_decref(j);
    snprintf(msg, sizeof(msg), "{\"type\":\"auth\",\"token\":\"%s\"}", d->token);
    assert_int_equal(ws_send(&d->ws, 1, msg, strlen(msg)), 0);
    j = tc_wait_json(d, "auth_ok", 5000);
    assert_non_null(j);
    assert_string_equal(json_string_value(json_object_get(j, "device_id")),
                        tc_hex(d->dev.device_id));
    json_decref(j);
}

void tc_ack(struct tc_device *d, int64_t seq)
{
    char msg[100];
    snprintf(msg, sizeof(msg), "{\"type\":\"ack\",\"seq\":[%lld]}", (long long)seq);
    assert_int_equal(ws_send(&d->ws, 1, msg, strlen(msg)), 0);
}

void tc_conv_direct(const struct parleyd *p, struct tc_device *d, const struct tc_user *peer,
                    uint8_t conv_id[KEYS_ID_LEN])
{
    char body[200];
    json_t *r = NULL;
    uint8_t want[KEYS_ID_LEN];

    snprintf(body, sizeof(body), "{\"type\":\"direct\",\"peer\":\"%s\"}", tc_hex(peer->user_id));
    assert_int_equal(tc_http(p, "POST", "/api/v1/client/conversations", d->token, body, &r), 200);
    assert_int_equal(ids_conv_direct(TC_NETWORK, d->u->user_id, peer->user_id, want), 0);
    assert_string_equal(json_string_value(json_object_get(r, "conv_id")), tc_hex(want));
    memcpy(conv_id, want, KEYS_ID_LEN);
    json_decref(r);
}

void tc_seal(const struct parleyd *p, struct tc_device *from, struct tc_device **to, size_t n,
             const uint8_t conv_id[KEYS_ID_LEN], const char *text, uint64_t expires_at,
             struct buf *env)
{
    struct envelope_recipient *r = calloc(n + 1, sizeof(*r));
    struct keys_bundle *kb = calloc(n + 1, sizeof(*kb));
    struct envelope_header h = {0};
    json_t *req = json_pack("{s:[]}", "devices"), *resp = NULL, *arr;
    char *body;

    for (size_t i = 0; i < n; i++)
        json_array_append_new(json_object_get(req, "devices"),
                              json_string(tc_hex(to[i]->dev.device_id)));
    body = json_dumps(req, JSON_COMPACT);
    assert_int_equal(tc_http(p, "POST", "/api/v1/client/prekeys/claim", from->token, body, &resp),
                     200);
    arr = json_object_get(resp, "bundles");
    assert_int_equal(json_array_size(arr), n);
    for (size_t i = 0; i < n; i++) {
        size_t bl;
        uint8_t *bb =
            unb64(json_string_value(json_object_get(json_array_get(arr, i), "bundle")), &bl);
        assert_int_equal(keys_bundle_verify(bb, bl, &to[i]->u->id.key, &kb[i]), 0);
        assert_int_equal(kb[i].n_prekeys, 1);
        r[i].device_id = to[i]->dev.device_id;
        r[i].prekey_id = kb[i].prekeys[0].id;
        r[i].prekey = &kb[i].prekeys[0].key;
        free(bb);
    }
    memcpy(h.conversation, conv_id, KEYS_ID_LEN);
    h.expires_at = expires_at;
    assert_int_equal(envelope_seal(&from->dev, &h, r, n, (const uint8_t *)text, strlen(text), env),
                     0);
    for (size_t i = 0; i < n; i++)
        keys_bundle_release(&kb[i]);
    free(kb);
    free(r);
    free(body);
    json_decref(req);
    json_decref(resp);
}

void tc_send_envelope(struct tc_device *d, const struct buf *env)
{
    uint8_t *m = malloc(env->len + 1);
    m[0] = 0x01;
    memcpy(m + 1, env->data, env->len);
    assert_int_equal(ws_send(&d->ws, 2, m, env->len + 1), 0);
    free(m);
}

struct dir {
    struct tc_user **users;
    size_t n;
};

static int lookup(void *arg, const uint8_t user[KEYS_ID_LEN], const struct sig_key **out)
{
    struct dir *dir = arg;
    for (size_t i = 0; i < dir->n; i++)
        if (memcmp(dir->users[i]->user_id, user, KEYS_ID_LEN) == 0) {
            *out = &dir->users[i]->id.key;
            return 0;
        }
    return PARLEY_ENOTFOUND;
}

int tc_open(struct tc_device *d, const struct tc_delivery *x, struct tc_user **users, size_t n,
            char *text, size_t textlen, uint8_t msg_id[KEYS_ID_LEN])
{
    struct dir dir = {users, n};
    struct envelope_open_cb cb = {lookup, NULL, &dir, NULL, 0, NULL};
    struct envelope_opened o;
    int rc = envelope_open(x->data, x->len, &d->dev, &cb, &o);

    if (rc == 0) {
        size_t k = o.pt_len < textlen - 1 ? o.pt_len : textlen - 1;
        memcpy(text, o.pt, k);
        text[k] = 0;
        memcpy(msg_id, o.hdr.msg_id, KEYS_ID_LEN);
        if (o.prekey_kind == KEYS_PREKEY_ONETIME)
            keys_device_consume_prekey(&d->dev, o.prekey_id);
        envelope_opened_release(&o);
    }
    return rc;
}
