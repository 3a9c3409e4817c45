/* conn.c - the WebSocket connection thread (libwebsockets 4.1 client). */
#include "conn.h"

#include <poll.h>
#include <pthread.h>

#include <libwebsockets.h>
#include <openssl/crypto.h>
#include <openssl/ssl.h>

#include "common/buf.h"
#include "common/log.h"
#include "frame.h"

/* libwebsockets 4.1 (Debian 12) never frees the client TLS context it
 * makes in lws_create_context, nor what hangs off it. Under AddressSanitizer
 * that context is allocated with LeakSanitizer paused, which makes it a
 * root: its OpenSSL objects are not reported, and every other leak still is.
 * (Suppressions would need whole stacks, i.e. slow unwinding on every
 * malloc, which costs the sanitizer build several times its speed.) */
#if defined(__SANITIZE_ADDRESS__)
#define PARLEY_LSAN 1
#elif defined(__has_feature)
#if __has_feature(address_sanitizer)
#define PARLEY_LSAN 1
#endif
#endif
#ifdef PARLEY_LSAN
#include <sanitizer/lsan_interface.h>
#define LSAN_PAUSE()  __lsan_disable()
#define LSAN_RESUME() __lsan_enable()
#else
#define LSAN_PAUSE()  ((void)0)
#define LSAN_RESUME() ((void)0)
#endif

#define BACKOFF_MIN_US (1000 * 1000)
#define BACKOFF_MAX_US (60 * 1000 * 1000)
/* Deliveries handed over together: one store transaction and one ack frame
 * per batch on the client's side. Bounded in count and in bytes. */
#define RX_BATCH_MAX   256
#define RX_BATCH_BYTES (4u << 20)

struct qframe {
    struct qframe *next;
    bool binary;
    size_t len;
    uint8_t data[]; /* LWS_PRE bytes of headroom, then the payload */
};

struct conn {
    char *host, *ca_file, *token;
    int port;
    struct conn_ops ops;
    void *arg;

    pthread_t thread;
    bool thread_ok;
    pthread_mutex_t mu; /* guards the fields below it, and stop */
    pthread_cond_t cv;
    struct qframe *head, *tail;
    bool stop;
    int start_rc; /* from the thread: 0 once the context exists */
    bool started;
    struct lws_context *ctx;

    /* Connection thread only. */
    struct lws *wsi;
    bool auth_due, online, closing;
    lws_sorted_usec_list_t sul;
    lws_usec_t backoff;
    struct buf rx;
    bool rx_binary;
    struct conn_msg batch[RX_BATCH_MAX]; /* binary frames not yet handed over */
    size_t n_batch, batch_bytes;
    size_t drain_at;      /* n_batch when the drain timer last waited for more */
    unsigned drain_turns; /* timer turns since the batch last grew */
    lws_sorted_usec_list_t drain_sul;
};

static void connect_now(lws_sorted_usec_list_t *sul);

static void schedule_connect(struct conn *c)
{
    lws_sul_schedule(c->ctx, 0, &c->sul, connect_now, c->backoff);
    c->backoff = c->backoff * 2 > BACKOFF_MAX_US ? BACKOFF_MAX_US : c->backoff * 2;
}

static void connect_now(lws_sorted_usec_list_t *sul)
{
    struct conn *c = lws_container_of(sul, struct conn, sul);
    struct lws_client_connect_info i;

    memset(&i, 0, sizeof(i));
    i.context = c->ctx;
    i.address = c->host;
    i.port = c->port;
    i.ssl_connection = LCCSCF_USE_SSL;
    i.path = "/v1/ws";
    i.host = c->host; /* Host header, SNI and the certificate name check */
    i.origin = c->host;
    i.protocol = "parley.v1";
    i.pwsi = &c->wsi;
    if (!lws_client_connect_via_info(&i)) {
        c->wsi = NULL;
        schedule_connect(c);
    }
}

static struct qframe *pop(struct conn *c)
{
    pthread_mutex_lock(&c->mu);
    struct qframe *f = c->head;
    if (f) {
        c->head = f->next;
        if (!c->head)
            c->tail = NULL;
    }
    pthread_mutex_unlock(&c->mu);
    return f;
}

static bool has_queued(struct conn *c)
{
    pthread_mutex_lock(&c->mu);
    bool r = c->head != NULL;
    pthread_mutex_unlock(&c->mu);
    return r;
}

/* Put a frame back at the head (a write that failed). */
static void push_front(struct conn *c, struct qframe *f)
{
    pthread_mutex_lock(&c->mu);
    f->next = c->head;
    c->head = f;
    if (!c->tail)
        c->tail = f;
    pthread_mutex_unlock(&c->mu);
}

static int write_auth(struct conn *c, struct lws *wsi)
{
    struct buf b = BUF_INIT(LWS_PRE + 1024);
    int rc = buf_reserve(&b, LWS_PRE);
    if (rc == 0) {
        b.len = LWS_PRE;
        rc = frame_auth(c->token, &b);
    }
    if (rc == 0 &&
        lws_write(wsi, b.data + LWS_PRE, b.len - LWS_PRE, LWS_WRITE_TEXT) < (int)(b.len - LWS_PRE))
        rc = PARLEY_EIO;
    buf_release_secure(&b);
    return rc;
}

static void drop_batch(struct conn *c)
{
    for (size_t i = 0; i < c->n_batch; i++)
        free((void *)c->batch[i].p);
    c->n_batch = 0;
    c->batch_bytes = 0;
    c->drain_at = 0;
    c->drain_turns = 0;
}

/* Hand the binary frames received so far to the client, in order. */
static void dispatch(struct conn *c)
{
    if (c->n_batch == 0)
        return;
    lws_sul_schedule(c->ctx, 0, &c->drain_sul, NULL, LWS_SET_TIMER_USEC_CANCEL);
    c->ops.on_binary(c->arg, c->batch, c->n_batch);
    drop_batch(c);
}

/* More bytes are already waiting to be read: decrypted in the TLS layer,
 * or on the socket. */
static bool more_waiting(struct conn *c)
{
    SSL *ssl = c->wsi ? lws_get_ssl(c->wsi) : NULL;
    struct pollfd p = {.fd = c->wsi ? lws_get_socket_fd(c->wsi) : -1, .events = POLLIN};

    if (ssl && SSL_pending(ssl) > 0)
        return true;
    return p.fd >= 0 && poll(&p, 1, 0) == 1 && (p.revents & POLLIN);
}

/* While a backlog streams in faster than it is stored, let lws read what
 * is already waiting into the same batch before handing it over: a batch
 * is one transaction (one fsync) and one ack frame, so larger batches
 * catch up faster. lws does not always read what is waiting on the next
 * turn of its loop, so the batch is given a few turns, RX_DRAIN_WAIT_US
 * apart, to grow while bytes are waiting. It goes when nothing more is
 * waiting, when it stopped growing for those turns, or when full: a live
 * message, with nothing behind it, is not delayed. */
#define RX_DRAIN_TURNS   8
#define RX_DRAIN_WAIT_US 20

static void on_drain(lws_sorted_usec_list_t *sul)
{
    struct conn *c = lws_container_of(sul, struct conn, drain_sul);

    if (c->n_batch && c->n_batch < RX_BATCH_MAX && c->batch_bytes < RX_BATCH_BYTES &&
        more_waiting(c)) {
        if (c->n_batch > c->drain_at)
            c->drain_turns = 0;
        c->drain_at = c->n_batch;
        if (c->drain_turns++ < RX_DRAIN_TURNS) {
            lws_sul_schedule(c->ctx, 0, &c->drain_sul, on_drain,
                             c->drain_turns == 1 ? 1 : RX_DRAIN_WAIT_US);
            return;
        }
    }
    dispatch(c);
}

/* A binary frame waits for the rest of what one read brought in: lws runs
 * timers before it polls again, so the zero-delay timer fires once the
 * frames already read are parsed. */
static void on_message(struct conn *c)
{
    if (c->rx_binary) {
        uint8_t *copy = malloc(c->rx.len ? c->rx.len : 1);
        if (!copy) {
            log_warnx("out of memory for a received frame; the server sends it again");
            return;
        }
        memcpy(copy, c->rx.data, c->rx.len);
        c->batch[c->n_batch++] = (struct conn_msg){copy, c->rx.len};
        c->batch_bytes += c->rx.len;
        if (c->n_batch == RX_BATCH_MAX || c->batch_bytes >= RX_BATCH_BYTES)
            dispatch(c);
        else if (c->n_batch == 1)
            lws_sul_schedule(c->ctx, 0, &c->drain_sul, on_drain, 1);
        return;
    }
    dispatch(c); /* keep deliveries and control messages in order */
    struct frame_ctl ctl;
    if (!c->online && frame_ctl_parse((const char *)c->rx.data, c->rx.len, &ctl) == 0 &&
        ctl.type == FRAME_CTL_AUTH_OK) {
        c->online = true;
        c->backoff = BACKOFF_MIN_US;
        c->ops.on_online(c->arg);
        if (has_queued(c))
            lws_callback_on_writable(c->wsi);
    }
    c->ops.on_text(c->arg, (const char *)c->rx.data, c->rx.len);
}

static int on_lws(struct lws *wsi, enum lws_callback_reasons reason, void *user, void *in,
                  size_t len)
{
    struct lws_context *ctx = lws_get_context(wsi);
    struct conn *c = ctx ? lws_context_user(ctx) : NULL;
    struct qframe *f;

    if (!c)
        return 0;
    switch (reason) {
    case LWS_CALLBACK_CLIENT_ESTABLISHED:
        c->auth_due = true;
        buf_reset(&c->rx);
        lws_callback_on_writable(wsi);
        break;
    case LWS_CALLBACK_CLIENT_RECEIVE:
        if (lws_is_first_fragment(wsi)) {
            buf_reset(&c->rx);
            c->rx_binary = lws_frame_is_binary(wsi);
        }
        if (buf_append(&c->rx, in, len) < 0) {
            log_warnx("server frame over %u bytes, reconnecting", FRAME_MAX);
            return -1;
        }
        if (lws_is_final_fragment(wsi) && !lws_remaining_packet_payload(wsi))
            on_message(c);
        break;
    case LWS_CALLBACK_CLIENT_WRITEABLE:
        /* One lws_write per writeable callback (stack-notes §1.6). */
        if (c->auth_due) {
            c->auth_due = false;
            if (write_auth(c, wsi) < 0)
                return -1;
            break;
        }
        if (!c->online || !(f = pop(c))) {
            if (c->closing) {
                lws_close_reason(wsi, LWS_CLOSE_STATUS_NORMAL, NULL, 0);
                return -1;
            }
            break;
        }
        if (lws_write(wsi, f->data + LWS_PRE, f->len,
                      f->binary ? LWS_WRITE_BINARY : LWS_WRITE_TEXT) < (int)f->len) {
            push_front(c, f);
            return -1;
        }
        free(f);
        if (has_queued(c) || c->closing)
            lws_callback_on_writable(wsi);
        break;
    case LWS_CALLBACK_CLIENT_CONNECTION_ERROR:
    case LWS_CALLBACK_CLIENT_CLOSED:
        if (wsi != c->wsi && c->wsi)
            break;
        c->wsi = NULL;
        dispatch(c); /* their acks wait in the send queue for the next connection */
        if (c->online) {
            c->online = false;
            c->ops.on_offline(c->arg);
        }
        pthread_mutex_lock(&c->mu);
        bool stopping = c->stop;
        pthread_mutex_unlock(&c->mu);
        if (!stopping)
            schedule_connect(c);
        break;
    case LWS_CALLBACK_EVENT_WAIT_CANCELLED:
        if (c->wsi && (c->closing || (c->online && has_queued(c))))
            lws_callback_on_writable(c->wsi);
        break;
    default:
        break;
    }
    return 0;
}

static const struct lws_protocols protocols[] = {
    {"parley.v1", on_lws, 0, 65536, 0, NULL, 0},
    {NULL, NULL, 0, 0, 0, NULL, 0}, /* LWS_PROTOCOL_LIST_TERM is 4.2+ */
};

static void *run(void *arg)
{
    struct conn *c = arg;
    struct lws_context_creation_info info;

    memset(&info, 0, sizeof(info));
    info.port = CONTEXT_PORT_NO_LISTEN;
    info.protocols = protocols;
    /* Pinned certificates are the only trust anchors: without
     * DISABLE_OS_CA_CERTS, Debian's lws also trusts the system store. With
     * no pins ("" here) the system store is what vouches for the server. */
    info.options = LWS_SERVER_OPTION_DO_SSL_GLOBAL_INIT;
    if (c->ca_file[0]) {
        info.options |= LWS_SERVER_OPTION_DISABLE_OS_CA_CERTS;
        info.client_ssl_ca_filepath = c->ca_file;
    }
    info.gid = -1;
    info.uid = -1;
    info.user = c;
    info.connect_timeout_secs = 15;
    lws_set_log_level(LLL_ERR, NULL);

    LSAN_PAUSE();
    struct lws_context *ctx = lws_create_context(&info);
    LSAN_RESUME();
    pthread_mutex_lock(&c->mu);
    c->ctx = ctx;
    c->start_rc = ctx ? 0 : PARLEY_EIO;
    c->started = true;
    pthread_cond_broadcast(&c->cv);
    pthread_mutex_unlock(&c->mu);
    if (!ctx)
        return NULL;

    c->backoff = BACKOFF_MIN_US;
    lws_sul_schedule(ctx, 0, &c->sul, connect_now, 1);
    for (;;) {
        pthread_mutex_lock(&c->mu);
        bool stop = c->stop;
        pthread_mutex_unlock(&c->mu);
        if (stop)
            break;
        lws_service(ctx, 0);
    }
    /* Flush what is queued (acks above all, so the server does not send
     * those messages again) and close cleanly: destroying a context with a
     * live client connection leaks its TLS context in lws 4.1. */
    lws_sul_schedule(ctx, 0, &c->sul, NULL, LWS_SET_TIMER_USEC_CANCEL);
    /* Frames not handed over yet are dropped: unacknowledged, the server
     * delivers them again. */
    lws_sul_schedule(ctx, 0, &c->drain_sul, NULL, LWS_SET_TIMER_USEC_CANCEL);
    drop_batch(c);
    c->closing = true;
    if (c->wsi) {
        lws_callback_on_writable(c->wsi);
        lws_set_timeout(c->wsi, PENDING_TIMEOUT_CLOSE_ACK, 2); /* a bound on the flush */
    }
    time_t until = time(NULL) + 3;
    while (c->wsi && time(NULL) < until)
        lws_service(ctx, 0);
    lws_context_destroy(ctx);
    return NULL;
}

int conn_start(const char *host, int port, const char *ca_file, const char *token,
               const struct conn_ops *ops, void *arg, struct conn **out)
{
    struct conn *c = calloc(1, sizeof(*c));
    int rc = PARLEY_ENOMEM;

    *out = NULL;
    if (!c)
        return PARLEY_ENOMEM;
    pthread_mutex_init(&c->mu, NULL);
    pthread_cond_init(&c->cv, NULL);
    buf_init(&c->rx, FRAME_MAX);
    c->host = strdup(host);
    c->ca_file = strdup(ca_file);
    c->token = strdup(token);
    c->port = port;
    c->ops = *ops;
    c->arg = arg;
    if (!c->host || !c->ca_file || !c->token)
        goto fail;
    if (pthread_create(&c->thread, NULL, run, c) != 0) {
        rc = PARLEY_EIO;
        goto fail;
    }
    c->thread_ok = true;
    pthread_mutex_lock(&c->mu);
    while (!c->started)
        pthread_cond_wait(&c->cv, &c->mu);
    rc = c->start_rc;
    pthread_mutex_unlock(&c->mu);
    if (rc < 0)
        goto fail;
    *out = c;
    return 0;
fail:
    conn_stop(c);
    return rc;
}

int conn_send(struct conn *c, bool binary, const uint8_t *p, size_t n)
{
    struct qframe *f;

    if (n > FRAME_MAX)
        return PARLEY_ETOOBIG;
    f = malloc(sizeof(*f) + LWS_PRE + n);
    if (!f)
        return PARLEY_ENOMEM;
    f->next = NULL;
    f->binary = binary;
    f->len = n;
    memcpy(f->data + LWS_PRE, p, n);
    pthread_mutex_lock(&c->mu);
    if (c->stop) {
        pthread_mutex_unlock(&c->mu);
        free(f);
        return PARLEY_ECLOSED;
    }
    if (c->tail)
        c->tail->next = f;
    else
        c->head = f;
    c->tail = f;
    pthread_mutex_unlock(&c->mu);
    lws_cancel_service(c->ctx);
    return 0;
}

void conn_stop(struct conn *c)
{
    struct qframe *f;

    if (!c)
        return;
    pthread_mutex_lock(&c->mu);
    c->stop = true;
    pthread_mutex_unlock(&c->mu);
    if (c->thread_ok) {
        if (c->ctx)
            lws_cancel_service(c->ctx);
        pthread_join(c->thread, NULL);
    }
    while ((f = c->head)) {
        c->head = f->next;
        OPENSSL_cleanse(f->data, LWS_PRE + f->len);
        free(f);
    }
    drop_batch(c);
    buf_release(&c->rx);
    if (c->token) {
        OPENSSL_cleanse(c->token, strlen(c->token));
        free(c->token);
    }
    free(c->host);
    free(c->ca_file);
    pthread_mutex_destroy(&c->mu);
    pthread_cond_destroy(&c->cv);
    free(c);
}
