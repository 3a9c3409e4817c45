/* bench_msg.c - messaging load generator: real clients over TLS WebSocket
 * against a real parleyd on loopback.
 *
 * Measures, in one run against one server:
 *   (d) server memory per idle authenticated connection (2000 clients);
 *   (a) a 1:1 burst: 200 clients in 100 pairs, each sending 1000 messages
 *       of 200-byte bodies to its partner; deliveries per second;
 *   (b) delivery latency at a steady 2000 messages/s: p50 and p99;
 *   (c) deliveries per second into a room of 500 members;
 * and the server's CPU time per delivered message. Acknowledgements to
 * senders are durable (the server's group commit) in every phase.
 *
 * Set-up is not measured and does not go through the API: users, identity
 * keys, devices and tokens are written into the database before parleyd
 * starts, as tests/integration/provision.c does, because registering 2000
 * users through the API costs two Argon2id runs each (minutes on 2 cores).
 * The keys are real and every envelope is sealed with src/proto before the
 * timed phases start; the generator does not open deliveries (its CPU goes
 * to the sockets), but checks each one's frame and message id.
 *
 *   bench_msg [-u PAIRS_USERS] [-m MSGS] [-r ROOM] [-R ROOM_MSGS] [-i IDLE]
 *             [-s RATE] [-d SECONDS] [-p PHASES]
 * -p names the timed phases to run, e.g. "a" or "ac" (default "abc"); the
 * idle connections of (d) are always opened. A phase left out prints zeros.
 * PARLEYD names the server binary (the build's parleyd by default).
 * Prints a table and, last, one line:
 *   delivered_per_s=<n> p99_ms=<n> fanout_per_s=<n> idle_kib_per_conn=<n> */
#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <poll.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>
#include <arpa/inet.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <sys/epoll.h>
#include <sys/resource.h>
#include <sys/socket.h>

#include <openssl/err.h>
#include <openssl/evp.h>
#include <openssl/rand.h>
#include <openssl/ssl.h>

#include "harness.h"
#include "proto/envelope.h"
#include "proto/ids.h"
#include "proto/keys.h"
#include "proto/suite.h"
#include "server/store.h"

#define NETWORK  "net-bench"
#define BODY_LEN 200
#define WINDOW   256 /* unacknowledged envelopes per sender */
#define RX_CAP   (8u << 20)

struct user {
    int64_t row, dev_row;
    uint8_t user_id[KEYS_ID_LEN];
    struct keys_identity id;
    struct keys_device dev;
    struct keys_bundle bundle; /* verified, for sealing to this device */
    char token[48];
};

struct env {
    uint8_t *frame; /* masked WS frame carrying 0x01 || envelope */
    size_t len;
    uint8_t msg_id[KEYS_ID_LEN];
};

struct conn {
    int fd;
    SSL *ssl;
    struct user *u;
    /* receive */
    uint8_t *rx;
    size_t rx_len;
    /* send: frames from `queue` (not owned), then acks built in `tx` */
    struct env *queue;
    size_t n_queue, next, acked, inflight;
    uint8_t *tx;
    size_t tx_len, tx_off, tx_cap;
    char ackbuf[4096];
    size_t ack_len, ack_n;
    uint64_t delivered, nacks;
};

static struct user *users;
static size_t n_users;
static uint8_t conv_pairs[100000][KEYS_ID_LEN]; /* pair i: users 2i, 2i+1 */
static uint8_t room_id[KEYS_ID_LEN];
static SSL_CTX *ssl_ctx;
static struct parleyd srv;

static double now_s(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static void die(const char *what)
{
    fprintf(stderr, "bench_msg: %s\n", what);
    harness_cleanup(&srv);
    exit(1);
}

/* --- set-up: keys and rows --- */

static void make_user(struct user *u, size_t i)
{
    struct buf bundle = BUF_INIT(1 << 20);
    uint64_t now = (uint64_t)time(NULL);

    RAND_bytes(u->user_id, KEYS_ID_LEN);
    if (keys_identity_generate(&u->id, suite_get(SUITE_DEFAULT), u->user_id) < 0 ||
        keys_device_generate(&u->dev, suite_get(SUITE_DEFAULT), u->user_id) < 0 ||
        keys_identity_certify(&u->id, &u->dev, now) < 0 ||
        keys_device_rotate_fallback(&u->dev, now) < 0 ||
        keys_device_bundle(&u->dev, 0, &bundle) < 0 ||
        keys_bundle_verify(bundle.data, bundle.len, &u->id.key, &u->bundle) < 0)
        die("cannot make keys");
    buf_release(&bundle);
    (void)i;
}

static void token_for(struct user *u, uint8_t hash[32])
{
    uint8_t raw[32];
    RAND_bytes(raw, sizeof(raw));
    /* base64url without padding, as the server makes them */
    EVP_EncodeBlock((unsigned char *)u->token, raw, sizeof(raw));
    for (char *p = u->token; *p; p++) {
        if (*p == '+')
            *p = '-';
        else if (*p == '/')
            *p = '_';
        else if (*p == '=')
            *p = 0;
    }
    EVP_Digest(u->token, strlen(u->token), hash, NULL, EVP_sha256(), NULL);
}

static int64_t insert_id(struct store_conn *c, const char *sql, const struct store_val *p, size_t n)
{
    struct store_rows *r = NULL;
    int64_t id = -1;
    if (store_query(c, sql, p, n, &r) == 0 && store_rows_next(r) == 1)
        id = store_rows_int(r, 0);
    store_rows_free(r);
    if (id < 0)
        die(store_conn_errmsg(c));
    return id;
}

static void exec_or_die(struct store_conn *c, const char *sql, const struct store_val *p, size_t n)
{
    if (store_exec(c, sql, p, n, NULL) < 0)
        die(store_conn_errmsg(c));
}

static int64_t add_conv(struct store_conn *c, int64_t net, const uint8_t conv[KEYS_ID_LEN],
                        int type, int64_t now)
{
    struct store_val p[] = {STORE_BLOB(conv, KEYS_ID_LEN), STORE_INT(type), STORE_INT(net),
                            STORE_INT(now)};
    return insert_id(c,
                     "INSERT INTO conversations (conv_id, type, network_id, created_at) VALUES "
                     "($1, $2, $3, $4) RETURNING id",
                     p, 4);
}

static void add_member(struct store_conn *c, int64_t conv, int64_t user, const char *role,
                       int64_t now)
{
    struct store_val p[] = {STORE_INT(conv), STORE_INT(user), STORE_TEXT(role), STORE_INT(now)};
    exec_or_die(c, "INSERT INTO members (conv_id, user_id, role, added_at) VALUES ($1,$2,$3,$4)", p,
                4);
}

static void provision(const char *uri, size_t n_pairs_users, size_t room)
{
    struct store *st;
    struct store_conn *c;
    int64_t now = (int64_t)time(NULL), net, group;

    if (store_open(uri, NULL, &st) < 0 || store_conn_get(st, &c) < 0)
        die("cannot open the database");
    if (store_begin(c) < 0)
        die("begin");
    {
        struct store_val p[] = {STORE_TEXT(NETWORK), STORE_TEXT("Bench"), STORE_INT(now)};
        net = insert_id(c,
                        "INSERT INTO networks (network_id, name, created_at, updated_at) VALUES "
                        "($1, $2, $3, $3) RETURNING id",
                        p, 3);
    }
    {
        struct store_val p[] = {STORE_INT(net), STORE_INT(now)};
        group = insert_id(c,
                          "INSERT INTO security_groups (network_id, name, is_default, created_at, "
                          "updated_at) VALUES ($1, 'Default', 1, $2, $2) RETURNING id",
                          p, 2);
    }
    for (size_t i = 0; i < n_users; i++) {
        struct user *u = &users[i];
        char name[32];
        uint8_t hash[32];
        const uint8_t *pk;
        size_t pklen = 0;
        struct buf bundle = BUF_INIT(1 << 20);

        snprintf(name, sizeof(name), "user%05zu", i);
        {
            struct store_val p[] = {STORE_INT(net),   STORE_BLOB(u->user_id, KEYS_ID_LEN),
                                    STORE_TEXT(name), STORE_TEXT("$argon2id$unused"),
                                    STORE_INT(group), STORE_INT(now)};
            u->row = insert_id(c,
                               "INSERT INTO users (network_id, user_id, username, password_hash, "
                               "status, security_group_id, created_at, activated_at, updated_at) "
                               "VALUES ($1, $2, $3, $4, 'active', $5, $6, $6, $6) RETURNING id",
                               p, 6);
        }
        pk = u->id.key.pk;
        pklen = u->id.key.pk_len;
        {
            struct store_val p[] = {STORE_INT(u->row), STORE_BLOB(pk, pklen),
                                    STORE_BLOB("backup", 6), STORE_INT(now)};
            exec_or_die(c,
                        "INSERT INTO identities (user_id, identity_key, identity_backup, "
                        "created_at) VALUES ($1, $2, $3, $4)",
                        p, 4);
        }
        if (keys_device_bundle(&u->dev, 0, &bundle) < 0)
            die("bundle");
        {
            struct store_val p[] = {STORE_BLOB(u->dev.device_id, KEYS_ID_LEN), STORE_INT(u->row),
                                    STORE_BLOB(u->dev.cert, u->dev.cert_len),
                                    STORE_BLOB(bundle.data, bundle.len), STORE_INT(now)};
            u->dev_row = insert_id(c,
                                   "INSERT INTO devices (device_id, user_id, cert, bundle, "
                                   "prekeys_left, name, platform, created_at, last_seen) VALUES "
                                   "($1, $2, $3, $4, 0, 'bench', 'linux', $5, $5) RETURNING id",
                                   p, 5);
        }
        buf_release(&bundle);
        token_for(u, hash);
        {
            struct store_val p[] = {STORE_BLOB(hash, 32), STORE_INT(u->row), STORE_INT(u->dev_row),
                                    STORE_INT(now)};
            exec_or_die(c,
                        "INSERT INTO client_sessions (token_hash, user_id, device_id, "
                        "created_at) VALUES ($1, $2, $3, $4)",
                        p, 4);
        }
    }
    for (size_t i = 0; i + 1 < n_pairs_users; i += 2) {
        uint8_t *conv = conv_pairs[i / 2];
        int64_t row;
        ids_conv_direct(NETWORK, users[i].user_id, users[i + 1].user_id, conv);
        row = add_conv(c, net, conv, IDS_CONV_DIRECT, now);
        add_member(c, row, users[i].row, "member", now);
        add_member(c, row, users[i + 1].row, "member", now);
    }
    {
        int64_t row;
        ids_conv_new(IDS_CONV_ROOM, room_id);
        row = add_conv(c, net, room_id, IDS_CONV_ROOM, now);
        for (size_t i = 0; i < room; i++)
            add_member(c, row, users[i].row, i == 0 ? "moderator" : "member", now);
    }
    if (store_commit(c) < 0)
        die("commit");
    store_conn_put(st, c);
    store_close(st);
}

/* --- envelopes --- */

static void frame_envelope(struct env *e, const struct buf *envelope)
{
    size_t n = envelope->len + 1, h = 0;
    uint8_t *f = malloc(n + 14);

    f[h++] = 0x82; /* FIN, binary */
    if (n < 126) {
        f[h++] = (uint8_t)(0x80 | n);
    } else if (n < 65536) {
        f[h++] = 0x80 | 126;
        f[h++] = (uint8_t)(n >> 8);
        f[h++] = (uint8_t)n;
    } else {
        f[h++] = 0x80 | 127;
        for (int i = 7; i >= 0; i--)
            f[h++] = (uint8_t)((uint64_t)n >> (8 * i));
    }
    /* RFC 6455 §5.3 asks for an unpredictable mask against proxy cache
     * poisoning; a zero key is valid framing and spares the generator the
     * XOR, which matters at these rates and over loopback. */
    memset(f + h, 0, 4);
    h += 4;
    f[h++] = 0x01;
    memcpy(f + h, envelope->data, envelope->len);
    e->frame = f;
    e->len = h + envelope->len;
    memcpy(e->msg_id, envelope->data + 8, KEYS_ID_LEN);
}

static void seal_one(struct env *e, struct user *from, struct user **to, size_t n,
                     const uint8_t conv[KEYS_ID_LEN])
{
    struct envelope_recipient *r = calloc(n, sizeof(*r));
    struct envelope_header hdr;
    struct buf out = BUF_INIT(64u << 20);
    uint8_t body[BODY_LEN];

    memset(body, 'x', sizeof(body));
    memset(&hdr, 0, sizeof(hdr));
    memcpy(hdr.conversation, conv, KEYS_ID_LEN);
    for (size_t i = 0; i < n; i++) {
        r[i].device_id = to[i]->dev.device_id;
        r[i].prekey_id = to[i]->bundle.prekeys[0].id;
        r[i].prekey = &to[i]->bundle.prekeys[0].key;
    }
    if (envelope_seal(&from->dev, &hdr, r, n, body, sizeof(body), &out) < 0)
        die("seal failed");
    frame_envelope(e, &out);
    buf_release(&out);
    free(r);
}

struct seal_job {
    struct env **queues;     /* per sender */
    size_t first, last, per; /* senders [first, last) */
    int kind;                /* 0: pairs, 1: room from sender 0 */
    size_t room;
};

static void *seal_worker(void *arg)
{
    struct seal_job *j = arg;
    for (size_t s = j->first; s < j->last; s++) {
        for (size_t m = 0; m < j->per; m++) {
            if (j->kind == 0) {
                struct user *to = &users[s ^ 1];
                seal_one(&j->queues[s][m], &users[s], &to, 1, conv_pairs[s / 2]);
            } else {
                struct user **to = malloc(j->room * sizeof(*to));
                for (size_t i = 1; i < j->room; i++)
                    to[i - 1] = &users[i];
                seal_one(&j->queues[0][m], &users[0], to, j->room - 1, room_id);
                free(to);
            }
        }
    }
    return NULL;
}

/* Seal `per` envelopes for each sender in [first, last) on two threads. */
static struct env **seal_pairs(size_t first, size_t last, size_t per)
{
    struct env **q = calloc(last, sizeof(*q));
    struct seal_job jobs[2];
    pthread_t t[2];
    size_t mid = first + (last - first) / 2;

    for (size_t s = first; s < last; s++)
        q[s] = calloc(per, sizeof(**q));
    jobs[0] = (struct seal_job){q, first, mid, per, 0, 0};
    jobs[1] = (struct seal_job){q, mid, last, per, 0, 0};
    pthread_create(&t[0], NULL, seal_worker, &jobs[0]);
    pthread_create(&t[1], NULL, seal_worker, &jobs[1]);
    pthread_join(t[0], NULL);
    pthread_join(t[1], NULL);
    return q;
}

/* --- connections --- */

static int ssl_write_all(SSL *ssl, const void *p, size_t n)
{
    return SSL_write(ssl, p, (int)n) == (int)n ? 0 : -1;
}

/* One whole frame, blocking (set-up only). Returns the opcode. */
static int read_frame_blocking(struct conn *c, uint8_t **payload, size_t *len)
{
    uint8_t h[10];
    uint64_t n;
    if (SSL_read(c->ssl, h, 2) != 2)
        return -1;
    n = h[1] & 0x7f;
    if (n == 126) {
        if (SSL_read(c->ssl, h + 2, 2) != 2)
            return -1;
        n = (uint64_t)h[2] << 8 | h[3];
    } else if (n == 127) {
        if (SSL_read(c->ssl, h + 2, 8) != 8)
            return -1;
        n = 0;
        for (int i = 0; i < 8; i++)
            n = n << 8 | h[2 + i];
    }
    *payload = malloc(n + 1);
    for (size_t got = 0; got < n;) {
        int k = SSL_read(c->ssl, *payload + got, (int)(n - got));
        if (k <= 0)
            return -1;
        got += (size_t)k;
    }
    (*payload)[n] = 0;
    *len = n;
    return h[0] & 0x0f;
}

static int send_text_blocking(struct conn *c, const char *s)
{
    size_t n = strlen(s), h = 0;
    uint8_t f[512];
    f[h++] = 0x81;
    f[h++] = (uint8_t)(0x80 | n); /* callers keep s under 126 bytes */
    memset(f + h, 0, 4);
    h += 4;
    memcpy(f + h, s, n);
    return ssl_write_all(c->ssl, f, h + n);
}

static int conn_open(struct conn *c, struct user *u)
{
    struct sockaddr_in a = {.sin_family = AF_INET, .sin_port = htons((uint16_t)srv.port)};
    char req[512], resp[2048], msg[128];
    size_t n = 0;
    uint8_t *payload;
    size_t len;
    int one = 1, op;

    memset(c, 0, sizeof(*c));
    c->u = u;
    inet_pton(AF_INET, "127.0.0.1", &a.sin_addr);
    c->fd = socket(AF_INET, SOCK_STREAM, 0);
    setsockopt(c->fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
    if (connect(c->fd, (struct sockaddr *)&a, sizeof(a)) < 0)
        return -1;
    c->ssl = SSL_new(ssl_ctx);
    SSL_set1_host(c->ssl, "127.0.0.1");
    SSL_set_fd(c->ssl, c->fd);
    if (SSL_connect(c->ssl) != 1)
        return -1;
    snprintf(req, sizeof(req),
             "GET /v1/ws HTTP/1.1\r\nHost: 127.0.0.1\r\nUpgrade: websocket\r\n"
             "Connection: Upgrade\r\nSec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\n"
             "Sec-WebSocket-Version: 13\r\nSec-WebSocket-Protocol: parley.v1\r\n\r\n");
    if (ssl_write_all(c->ssl, req, strlen(req)) < 0)
        return -1;
    while (n < sizeof(resp) - 1 && SSL_read(c->ssl, resp + n, 1) == 1) {
        n++;
        if (n >= 4 && memcmp(resp + n - 4, "\r\n\r\n", 4) == 0)
            break;
    }
    resp[n] = 0;
    if (strncmp(resp, "HTTP/1.1 101", 12) != 0)
        return -1;
    op = read_frame_blocking(c, &payload, &len); /* hello */
    free(payload);
    if (op != 1)
        return -1;
    snprintf(msg, sizeof(msg), "{\"type\":\"auth\",\"token\":\"%s\"}", u->token);
    if (send_text_blocking(c, msg) < 0)
        return -1;
    op = read_frame_blocking(c, &payload, &len);
    if (op != 1 || !strstr((char *)payload, "auth_ok")) {
        fprintf(stderr, "auth failed: %s\n", op == 1 ? (char *)payload : "?");
        free(payload);
        return -1;
    }
    free(payload);
    c->rx = malloc(RX_CAP);
    c->tx_cap = 1 << 16;
    c->tx = malloc(c->tx_cap);
    fcntl(c->fd, F_SETFL, fcntl(c->fd, F_GETFL) | O_NONBLOCK);
    return 0;
}

/* --- the event loop of a timed phase --- */

struct phase {
    struct conn *conns;
    size_t n;
    uint64_t want;      /* deliveries to wait for */
    uint64_t delivered; /* so far */
    uint64_t acks, nacks;
    /* latency: send time by msg_id hash slot */
    bool track_latency;
    double *lat;
    size_t n_lat;
    /* steady rate */
    double rate, t0;
    uint64_t released; /* envelopes released by the rate limiter */
};

#define LAT_SLOTS (1u << 20)
static double *sent_at; /* by the low 20 bits of msg_id */

static uint32_t slot_of(const uint8_t *msg_id)
{
    return ((uint32_t)msg_id[0] << 16 | (uint32_t)msg_id[1] << 8 | msg_id[2]) & (LAT_SLOTS - 1);
}

static void add_ack_seq(struct conn *c, uint64_t seq)
{
    if (c->ack_len == 0)
        c->ack_len = (size_t)snprintf(c->ackbuf, sizeof(c->ackbuf), "{\"type\":\"ack\",\"seq\":[");
    c->ack_len += (size_t)snprintf(c->ackbuf + c->ack_len, sizeof(c->ackbuf) - c->ack_len, "%s%llu",
                                   c->ack_n ? "," : "", (unsigned long long)seq);
    c->ack_n++;
}

static void tx_append(struct conn *c, const void *p, size_t n)
{
    if (c->tx_len + n > c->tx_cap) {
        while (c->tx_len + n > c->tx_cap)
            c->tx_cap *= 2;
        c->tx = realloc(c->tx, c->tx_cap);
    }
    memcpy(c->tx + c->tx_len, p, n);
    c->tx_len += n;
}

static void flush_acks(struct conn *c)
{
    uint8_t h[8];
    size_t hl = 0, n;
    if (!c->ack_n)
        return;
    c->ack_len += (size_t)snprintf(c->ackbuf + c->ack_len, sizeof(c->ackbuf) - c->ack_len, "]}");
    n = c->ack_len;
    h[hl++] = 0x81;
    if (n < 126) {
        h[hl++] = (uint8_t)(0x80 | n);
    } else {
        h[hl++] = 0x80 | 126;
        h[hl++] = (uint8_t)(n >> 8);
        h[hl++] = (uint8_t)n;
    }
    memset(h + hl, 0, 4);
    hl += 4;
    tx_append(c, h, hl);
    tx_append(c, c->ackbuf, n);
    c->ack_len = 0;
    c->ack_n = 0;
}

static void on_frame(struct phase *ph, struct conn *c, int op, const uint8_t *p, size_t n)
{
    if (op == 2 && n > 17 + 24 && p[0] == 0x02) {
        uint64_t seq = 0;
        for (int i = 0; i < 8; i++)
            seq = seq << 8 | p[1 + i];
        if (ph->track_latency) {
            double t = sent_at[slot_of(p + 17 + 8)];
            if (t > 0 && ph->n_lat < LAT_SLOTS)
                ph->lat[ph->n_lat++] = (now_s() - t) * 1000.0;
        }
        c->delivered++;
        ph->delivered++;
        add_ack_seq(c, seq);
        if (c->ack_n >= 200)
            flush_acks(c);
    } else if (op == 1) {
        if (n > 12 && memcmp(p, "{\"type\":\"ack\"", 13) == 0) {
            ph->acks++;
            c->acked++;
            c->inflight--;
        } else if (strstr((const char *)p, "\"nack\"")) {
            ph->nacks++;
            c->inflight--;
            if (ph->nacks < 5)
                fprintf(stderr, "nack: %.*s\n", (int)(n < 300 ? n : 300), p);
        }
    }
}

/* Parse whole frames out of c->rx. */
static void parse_rx(struct phase *ph, struct conn *c)
{
    size_t off = 0;
    while (c->rx_len - off >= 2) {
        const uint8_t *h = c->rx + off;
        uint64_t n = h[1] & 0x7f;
        size_t hl = 2;
        if (n == 126) {
            if (c->rx_len - off < 4)
                break;
            n = (uint64_t)h[2] << 8 | h[3];
            hl = 4;
        } else if (n == 127) {
            if (c->rx_len - off < 10)
                break;
            n = 0;
            for (int i = 0; i < 8; i++)
                n = n << 8 | h[2 + i];
            hl = 10;
        }
        if (c->rx_len - off - hl < n)
            break;
        on_frame(ph, c, h[0] & 0x0f, h + hl, n);
        off += hl + n;
    }
    memmove(c->rx, c->rx + off, c->rx_len - off);
    c->rx_len -= off;
}

/* Move queued envelopes (within the window and the rate) into tx. */
static void fill_tx(struct phase *ph, struct conn *c)
{
    while (c->next < c->n_queue && c->inflight < WINDOW && c->tx_len < (1u << 20)) {
        if (ph->rate > 0) {
            double due = ph->t0 + (double)ph->released / ph->rate;
            if (now_s() < due)
                break;
            ph->released++;
        }
        struct env *e = &c->queue[c->next++];
        if (ph->track_latency)
            sent_at[slot_of(e->msg_id)] = now_s();
        tx_append(c, e->frame, e->len);
        c->inflight++;
    }
}

static int drive(struct phase *ph, struct conn *c)
{
    /* read */
    for (;;) {
        if (c->rx_len >= RX_CAP)
            return -1;
        int k = SSL_read(c->ssl, c->rx + c->rx_len, (int)(RX_CAP - c->rx_len));
        if (k > 0) {
            c->rx_len += (size_t)k;
            continue;
        }
        int e = SSL_get_error(c->ssl, k);
        if (e == SSL_ERROR_WANT_READ || e == SSL_ERROR_WANT_WRITE)
            break;
        return -1;
    }
    parse_rx(ph, c);
    flush_acks(c);
    fill_tx(ph, c);
    /* write */
    while (c->tx_off < c->tx_len) {
        int k = SSL_write(c->ssl, c->tx + c->tx_off, (int)(c->tx_len - c->tx_off));
        if (k > 0) {
            c->tx_off += (size_t)k;
            continue;
        }
        int e = SSL_get_error(c->ssl, k);
        if (e == SSL_ERROR_WANT_READ || e == SSL_ERROR_WANT_WRITE)
            break;
        return -1;
    }
    if (c->tx_off == c->tx_len)
        c->tx_off = c->tx_len = 0;
    return 0;
}

/* Run until `want` deliveries (and every ack) arrived or `limit_s` passed.
 * Returns the elapsed seconds. */
static double run_phase(struct phase *ph, double limit_s)
{
    int ep = epoll_create1(0);
    struct epoll_event ev, evs[256];
    double t0 = now_s();
    uint64_t to_send = 0;

    ph->t0 = t0;
    for (size_t i = 0; i < ph->n; i++) {
        ev.events = EPOLLIN | EPOLLOUT | EPOLLET;
        ev.data.ptr = &ph->conns[i];
        epoll_ctl(ep, EPOLL_CTL_ADD, ph->conns[i].fd, &ev);
        to_send += ph->conns[i].n_queue;
        drive(ph, &ph->conns[i]);
    }
    while (now_s() - t0 < limit_s) {
        if (ph->delivered >= ph->want && ph->acks + ph->nacks >= to_send)
            break;
        int n = epoll_wait(ep, evs, 256, ph->rate > 0 ? 1 : 50);
        for (int i = 0; i < n; i++)
            if (drive(ph, evs[i].data.ptr) < 0)
                die("connection failed during a phase");
        /* Rate-limited senders and idle ack flushes need a nudge. */
        if (n == 0 || ph->rate > 0)
            for (size_t i = 0; i < ph->n; i++)
                if (ph->conns[i].next < ph->conns[i].n_queue || ph->conns[i].tx_len)
                    drive(ph, &ph->conns[i]);
    }
    double el = now_s() - t0;
    for (size_t i = 0; i < ph->n; i++)
        epoll_ctl(ep, EPOLL_CTL_DEL, ph->conns[i].fd, NULL);
    close(ep);
    return el;
}

/* --- server figures --- */

static long rss_kib(pid_t pid)
{
    char path[64], line[256];
    long kib = -1;
    FILE *f;
    snprintf(path, sizeof(path), "/proc/%d/status", (int)pid);
    f = fopen(path, "r");
    if (!f)
        return -1;
    while (fgets(line, sizeof(line), f))
        if (sscanf(line, "VmRSS: %ld", &kib) == 1)
            break;
    fclose(f);
    return kib;
}

static double cpu_s(pid_t pid)
{
    char path[64], buf[1024], *p;
    unsigned long ut = 0, st = 0;
    FILE *f;
    snprintf(path, sizeof(path), "/proc/%d/stat", (int)pid);
    f = fopen(path, "r");
    if (!f || !fgets(buf, sizeof(buf), f)) {
        if (f)
            fclose(f);
        return 0;
    }
    fclose(f);
    p = strrchr(buf, ')');
    /* fields after the name: state(3) ... utime(14) stime(15) */
    if (p && sscanf(p + 2, "%*c %*d %*d %*d %*d %*d %*u %*u %*u %*u %*u %lu %lu", &ut, &st) == 2)
        return (double)(ut + st) / (double)sysconf(_SC_CLK_TCK);
    return 0;
}

/* Wait until the server is idle (under 5% of a core over 100 ms, at most
 * 10 s): a phase ends when the clients have what they wait for, but the
 * server may still be committing the recipients' acks. Its CPU time then
 * counts for the phase that caused it, and the next phase does not
 * measure the tail of the previous one. */
static void settle(pid_t pid)
{
    struct timespec d = {0, 100 * 1000 * 1000};
    for (int i = 0; i < 100; i++) {
        double c0 = cpu_s(pid);
        nanosleep(&d, NULL);
        if (cpu_s(pid) - c0 < 0.005)
            return;
    }
}

/* Run a phase between two idle points of the server: its seconds, and the
 * server's CPU seconds in *cpu (acks committed after it included). */
static double run_timed(struct phase *ph, pid_t pid, double *cpu)
{
    double c0, t;
    settle(pid);
    c0 = cpu_s(pid);
    t = run_phase(ph, 600);
    settle(pid);
    *cpu = cpu_s(pid) - c0;
    return t;
}

static int cmp_double(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;
    return x < y ? -1 : x > y;
}

int main(int argc, char **argv)
{
    size_t pair_users = 200, msgs = 1000, room = 500, room_msgs = 200, idle = 2000;
    double rate = 2000, lat_secs = 5;
    const char *phases = "abc";
    struct conn *conns;
    struct env **pq, **lq, *rq;
    struct rlimit rl;
    char uri[600];
    int ch;

    while ((ch = getopt(argc, argv, "u:m:r:R:i:s:d:p:")) != -1) {
        switch (ch) {
        case 'u':
            pair_users = strtoul(optarg, NULL, 10) & ~1ul;
            break;
        case 'm':
            msgs = strtoul(optarg, NULL, 10);
            break;
        case 'r':
            room = strtoul(optarg, NULL, 10);
            break;
        case 'R':
            room_msgs = strtoul(optarg, NULL, 10);
            break;
        case 'i':
            idle = strtoul(optarg, NULL, 10);
            break;
        case 's':
            rate = strtod(optarg, NULL);
            break;
        case 'd':
            lat_secs = strtod(optarg, NULL);
            break;
        case 'p':
            phases = optarg;
            break;
        default:
            fprintf(stderr, "usage: bench_msg [-u USERS] [-m MSGS] [-r ROOM] [-R ROOM_MSGS] "
                            "[-i IDLE] [-s RATE] [-d SECONDS] [-p PHASES]\n");
            return 2;
        }
    }
    /* Latency pairs come after the burst pairs; everyone counts as idle. */
    size_t lat_users = 20, lat_first = pair_users;
    n_users = idle;
    if (n_users < pair_users + lat_users)
        n_users = pair_users + lat_users;
    if (n_users < room)
        n_users = room;
    signal(SIGPIPE, SIG_IGN);
    getrlimit(RLIMIT_NOFILE, &rl);
    rl.rlim_cur = rl.rlim_max;
    setrlimit(RLIMIT_NOFILE, &rl);

    fprintf(stderr, "setting up %zu users and sealing envelopes...\n", n_users);
    users = calloc(n_users, sizeof(*users));
    for (size_t i = 0; i < n_users; i++)
        make_user(&users[i], i);
    if (harness_init(&srv, "max_connections = 20000") < 0)
        die("cannot prepare a data directory");
    if (srv.store_uri)
        snprintf(uri, sizeof(uri), "%s", srv.store_uri);
    else
        snprintf(uri, sizeof(uri), "sqlite:%s/parley.db", srv.dir);
    provision(uri, pair_users + lat_users, room);

    bool run_a = strchr(phases, 'a'), run_b = strchr(phases, 'b'), run_c = strchr(phases, 'c');
    size_t lat_per = (size_t)(rate * lat_secs / (double)lat_users) + 1;
    pq = run_a ? seal_pairs(0, pair_users, msgs) : NULL;
    lq = run_b ? seal_pairs(lat_first, lat_first + lat_users, lat_per) : NULL;
    rq = calloc(room_msgs, sizeof(*rq));
    if (run_c) {
        struct env *tmp[1] = {rq};
        struct seal_job j = {tmp, 0, 1, room_msgs, 1, room};
        seal_worker(&j);
    }
    sent_at = calloc(LAT_SLOTS, sizeof(*sent_at));

    if (harness_start(&srv) < 0)
        die("parleyd did not start");
    ssl_ctx = SSL_CTX_new(TLS_client_method());
    {
        char ca[600];
        snprintf(ca, sizeof(ca), "%s/tls/cert.pem", srv.dir);
        SSL_CTX_load_verify_locations(ssl_ctx, ca, NULL);
        SSL_CTX_set_verify(ssl_ctx, SSL_VERIFY_PEER, NULL);
        SSL_CTX_set_mode(ssl_ctx,
                         SSL_MODE_ENABLE_PARTIAL_WRITE | SSL_MODE_ACCEPT_MOVING_WRITE_BUFFER);
    }

    /* (d) idle connections */
    usleep(300000);
    long rss0 = rss_kib(srv.pid);
    conns = calloc(n_users, sizeof(*conns));
    for (size_t i = 0; i < n_users; i++)
        if (conn_open(&conns[i], &users[i]) < 0)
            die("cannot connect a client");
    usleep(500000);
    long rss1 = rss_kib(srv.pid);
    double idle_kib = (double)(rss1 - rss0) / (double)n_users;

    /* (a) 1:1 burst */
    struct phase a = {0};
    double ta = 0, cpu_a = 0, delivered_per_s = 0;
    if (run_a) {
        a.conns = conns;
        a.n = pair_users;
        for (size_t i = 0; i < pair_users; i++) {
            conns[i].queue = pq[i];
            conns[i].n_queue = msgs;
        }
        a.want = (uint64_t)pair_users * msgs;
        ta = run_timed(&a, srv.pid, &cpu_a);
        delivered_per_s = (double)a.delivered / ta;
    }

    /* (b) latency at a steady rate */
    struct phase b = {0};
    double tb = 0;
    if (run_b) {
        b.conns = conns + lat_first;
        b.n = lat_users;
        for (size_t i = 0; i < lat_users; i++) {
            b.conns[i].queue = lq[lat_first + i];
            b.conns[i].n_queue = lat_per;
            b.conns[i].next = b.conns[i].inflight = 0;
        }
        b.want = (uint64_t)lat_users * lat_per;
        b.rate = rate;
        b.track_latency = true;
        b.lat = calloc(LAT_SLOTS, sizeof(double));
        tb = run_phase(&b, lat_secs * 4 + 30);
        qsort(b.lat, b.n_lat, sizeof(double), cmp_double);
    }
    double p50 = b.n_lat ? b.lat[b.n_lat / 2] : -1;
    double p99 = b.n_lat ? b.lat[(size_t)((double)b.n_lat * 0.99)] : -1;

    /* (c) room fan-out */
    struct phase c = {0};
    double tc = 0, cpu_c = 0, fanout_per_s = 0;
    if (run_c) {
        c.conns = conns;
        c.n = room;
        for (size_t i = 0; i < room; i++) {
            conns[i].queue = NULL;
            conns[i].n_queue = conns[i].next = conns[i].inflight = 0;
        }
        conns[0].queue = rq;
        conns[0].n_queue = room_msgs;
        c.want = (uint64_t)room_msgs * (room - 1);
        tc = run_timed(&c, srv.pid, &cpu_c);
        fanout_per_s = (double)c.delivered / tc;
    }

    printf("%-34s %14s %12s %12s\n", "phase", "deliveries", "seconds", "per second");
    printf("%-34s %14llu %12.2f %12.0f\n", "(a) 1:1 burst", (unsigned long long)a.delivered, ta,
           delivered_per_s);
    printf("%-34s %14llu %12.2f %12.0f\n", "(b) steady rate", (unsigned long long)b.delivered, tb,
           (double)b.delivered / tb);
    printf("%-34s %14llu %12.2f %12.0f\n", "(c) room fan-out", (unsigned long long)c.delivered, tc,
           fanout_per_s);
    printf("\n(a) %zu clients x %zu messages of %d bytes; acks %llu, nacks %llu\n", pair_users,
           msgs, BODY_LEN, (unsigned long long)a.acks, (unsigned long long)a.nacks);
    printf("(a) server CPU %.2f s = %.1f us per delivered message\n", cpu_a,
           a.delivered ? cpu_a * 1e6 / (double)a.delivered : 0);
    printf("(b) %.0f msg/s from %zu senders for %.0f s: latency p50 %.3f ms, p99 %.3f ms (%zu "
           "samples)\n",
           rate, lat_users, lat_secs, p50, p99, b.n_lat);
    printf("(c) room of %zu, %zu messages; server CPU %.2f s = %.1f us per delivery\n", room,
           room_msgs, cpu_c, c.delivered ? cpu_c * 1e6 / (double)c.delivered : 0);
    printf("(d) %zu idle authenticated connections: server RSS %ld -> %ld KiB\n", n_users, rss0,
           rss1);
    printf("delivered_per_s=%.0f p99_ms=%.3f fanout_per_s=%.0f idle_kib_per_conn=%.1f\n",
           delivered_per_s, p99, fanout_per_s, idle_kib);

    for (size_t i = 0; i < n_users; i++) {
        SSL_free(conns[i].ssl);
        close(conns[i].fd);
    }
    harness_stop(&srv, SIGTERM, 10, NULL);
    harness_cleanup(&srv);
    return 0;
}
