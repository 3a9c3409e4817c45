/* transport.c - libwebsockets glue: the context, the HTTP callback that
 * feeds http.c, signals and graceful shutdown. Everything in this file runs
 * on the loop thread (lws is not thread-safe; other threads may only call
 * lws_cancel_service()). */
#include "transport.h"
#include "common/log.h"
#include "http.h"
#include "lwsmem.h"
#include "workq.h"
#include "ws.h"

#include <netdb.h>
#include <pthread.h>
#include <unistd.h>
#include <signal.h>

/* Per-connection HTTP state; lws allocates and zeroes it. */
struct http_conn {
    struct http_req req;
    bool active;
};

static void http_fail(struct http_conn *hc, int status)
{
    static const struct {
        int status;
        const char *code, *message;
    } errors[] = {
        {400, "bad_request", "malformed request line"},
        {404, "not_found", "no such endpoint"},
        {405, "method_not_allowed", "this endpoint does not take that method"},
        {414, "uri_too_long", "request path is too long"},
    };
    for (size_t i = 0; i < ARRAY_SIZE(errors); i++) {
        if (errors[i].status == status) {
            http_reply_error(&hc->req, status, errors[i].code, "%s: %s %s", errors[i].message,
                             http_method_name(hc->req.method), hc->req.path);
            return;
        }
    }
    BUG("unexpected status %d", status);
}

/* Request bodies come with a Content-Length (chunked uploads are refused by
 * lws before we see them). */
static bool has_body(struct lws *wsi)
{
    char v[32];
    return lws_hdr_copy(wsi, v, sizeof(v), WSI_TOKEN_HTTP_CONTENT_LENGTH) > 0 &&
           strcmp(v, "0") != 0;
}

static void finish_request(struct http_conn *hc)
{
    if (hc->active) {
        http_req_release(&hc->req);
        hc->active = false;
    }
}

static int on_http(struct lws *wsi, enum lws_callback_reasons reason, void *user, void *in,
                   size_t len)
{
    struct http_conn *hc = user;
    struct server *srv = lws_context_user(lws_get_context(wsi));
    int rc;

    switch (reason) {
    case LWS_CALLBACK_HTTP:
        finish_request(hc); /* keep-alive: a previous request may linger */
        hc->active = true;
        rc = http_begin(&hc->req, srv, wsi);
        if (rc > 0) {
            http_fail(hc, rc);
        } else if (hc->req.route->flags & HTTP_ROUTE_STREAM) {
            bool body = has_body(wsi);
            if (http_dispatch_stream(&hc->req)) {
                if (body)
                    return 0; /* pieces come in LWS_CALLBACK_HTTP_BODY */
                http_stream_end(&hc->req);
            } else if (body) {
                /* Refused before any of the body was read: rather than
                 * receive what will be dropped, close after the reply. */
                hc->req.close_after = true;
            }
        } else if ((hc->req.route->flags & HTTP_ROUTE_BODY) && has_body(wsi))
            return 0; /* wait for LWS_CALLBACK_HTTP_BODY_COMPLETION */
        else
            http_dispatch(&hc->req);
        lws_callback_on_writable(wsi);
        return 0;
    case LWS_CALLBACK_HTTP_BODY:
        if (hc->active && (hc->req.route->flags & HTTP_ROUTE_STREAM))
            http_stream_body(&hc->req, in, len);
        else if (hc->active)
            http_body(&hc->req, in, len);
        return 0;
    case LWS_CALLBACK_HTTP_BODY_COMPLETION:
        if (!hc->active)
            return -1;
        /* A route that reads no body has already run when a body, even an
         * empty one, was sent along: ignore the body. */
        if (hc->req.route->flags & HTTP_ROUTE_STREAM)
            http_stream_end(&hc->req);
        else if (!hc->req.dispatched)
            http_dispatch(&hc->req);
        else
            return 0;
        lws_callback_on_writable(wsi);
        return 0;
    case LWS_CALLBACK_HTTP_WRITEABLE:
        if (!hc->active || !hc->req.replied)
            return 0;
        rc = http_write(&hc->req);
        if (rc < 0)
            return -1;
        if (rc > 0) {
            lws_callback_on_writable(wsi);
            return 0;
        }
        rc = hc->req.close_after;
        finish_request(hc);
        /* Ends the transaction; closes the connection on HTTP/1.0 or shutdown. */
        if (rc || srv->shutting_down || lws_http_transaction_completed(wsi))
            return -1;
        return 0;
    case LWS_CALLBACK_CLOSED_HTTP:
    case LWS_CALLBACK_HTTP_DROP_PROTOCOL:
        /* No per-connection data: after DROP_PROTOCOL lws has freed our
         * state, and a connection that closes before its first request
         * (a browser's spare TLS connection, say) never had any. */
        if (hc)
            finish_request(hc);
        return 0;
    default:
        return lws_callback_http_dummy(wsi, reason, user, in, len);
    }
}

/* lws allocates this receive buffer for every WebSocket connection. It
 * must hold a whole TLS record (16 KiB): with less, the rest of a record
 * stays inside OpenSSL, lws services the connection again without polling,
 * and while ws.c has paused its input (lws_rx_flow_control) lws keeps
 * moving that data into its buffer list without end. lwsmem.c maps it on
 * pages of its own, so an idle connection keeps only what was written. */
#define WS_RX_BUFFER 16384

static const struct lws_protocols protocols[] = {
    {"http", on_http, sizeof(struct http_conn), 0, 0, NULL, 0},
    {WS_PROTOCOL_NAME, ws_callback, sizeof(struct ws_session), WS_RX_BUFFER, 0, NULL, 0},
    {NULL, NULL, 0, 0, 0, NULL, 0}, /* LWS_PROTOCOL_LIST_TERM is 4.2+ */
};

/* lws logs through us, at warn and error only: its notices are chatty. */
static void on_lws_log(int level, const char *line)
{
    size_t n = strlen(line);
    while (n && (line[n - 1] == '\n' || line[n - 1] == '\r'))
        n--;
    if (level & LLL_ERR)
        log_error("lws: %.*s", (int)n, line);
    else
        log_warnx("lws: %.*s", (int)n, line);
}

/* The event loop is ours ("foreign" to lws): lws runs its sockets and timers
 * on it, and we add the signal watchers and the shutdown timer. The loop is
 * process-wide, like the signals it watches. */
static uv_loop_t loop;
static uv_signal_t sig_term, sig_int;
static uv_timer_t shutdown_timer;

/* Whatever hangs, the process ends `shutdown_timeout` seconds after the
 * signal: a stuck database or peer must not keep a node from restarting. */
static void *watchdog(void *arg)
{
    int seconds = (int)(intptr_t)arg;
    sleep((unsigned)seconds);
    log_error("shutdown took longer than %d s (shutdown_timeout): exiting now", seconds);
    _exit(1);
    return NULL;
}

/* The timeout goes by value: the configuration may be freed before a
 * thread started late on a loaded machine reads it. */
static void start_watchdog(int seconds)
{
    pthread_t t;
    pthread_attr_t a;
    pthread_attr_init(&a);
    pthread_attr_setdetachstate(&a, PTHREAD_CREATE_DETACHED);
    if (pthread_create(&t, &a, watchdog, (void *)(intptr_t)seconds) != 0)
        log_warnx("cannot start the shutdown watchdog");
    pthread_attr_destroy(&a);
}

/* Polls every 50 ms until the WebSocket sessions have closed and the
 * requests waiting for a worker (workq.h) have been answered, or their share
 * of the timeout ran out; then closes everything, which empties the loop.
 * A worker still running then finishes into a closed connection. */
static void on_shutdown_tick(uv_timer_t *t)
{
    struct server *srv = t->data;

    if ((srv->ws_sessions > 0 || workq_pending() > 0) &&
        lws_now_usecs() < srv->shutdown_deadline_us)
        return;
    if (srv->ws_sessions > 0)
        log_warnx("shutdown: closing %d WebSocket sessions that did not close in time",
                  srv->ws_sessions);
    uv_close((uv_handle_t *)t, NULL);
    uv_close((uv_handle_t *)&sig_term, NULL);
    uv_close((uv_handle_t *)&sig_int, NULL);
    lws_context_destroy(srv->ctx);
}

static void on_signal(uv_signal_t *handle, int signum)
{
    struct server *srv = handle->data;

    if (srv->shutting_down)
        return;
    log_info("shutting down on %s: closing %d WebSocket sessions",
             signum == SIGINT ? "SIGINT" : "SIGTERM", srv->ws_sessions);
    srv->shutting_down = true;
    start_watchdog(srv->cfg->shutdown_timeout);
    /* Stop accepting; then give sessions and replies in flight up to half the
     * timeout (the rest is for the store to drain). */
    lws_context_deprecate(srv->ctx, NULL);
    ws_close_all(srv);
    srv->shutdown_deadline_us =
        lws_now_usecs() + (lws_usec_t)srv->cfg->shutdown_timeout * LWS_US_PER_SEC / 2;
    uv_timer_init(&loop, &shutdown_timer);
    shutdown_timer.data = srv;
    uv_timer_start(&shutdown_timer, on_shutdown_tick, 10, 50);
}

static void watch_signal(uv_signal_t *h, int signum, struct server *srv)
{
    uv_signal_init(&loop, h);
    h->data = srv;
    uv_signal_start(h, on_signal, signum);
}

/* Resolve the listen host to a numeric address lws can bind. */
static int numeric_host(const char *host, char *out, size_t outlen)
{
    struct addrinfo hints = {.ai_flags = AI_PASSIVE, .ai_socktype = SOCK_STREAM}, *res = NULL;
    int rc = getaddrinfo(host, NULL, &hints, &res);
    if (rc != 0 || !res) {
        log_error("cannot resolve listen address '%s': %s", host, gai_strerror(rc));
        return PARLEY_EIO;
    }
    rc =
        getnameinfo(res->ai_addr, res->ai_addrlen, out, (socklen_t)outlen, NULL, 0, NI_NUMERICHOST);
    freeaddrinfo(res);
    return rc == 0 ? 0 : PARLEY_EIO;
}

/* Destroy the context and run the loop until lws has closed its handles. */
static void destroy_now(struct server *srv)
{
    lws_context_destroy(srv->ctx);
    uv_run(&loop, UV_RUN_DEFAULT);
    uv_loop_close(&loop);
    srv->ctx = NULL;
    srv->vhost = NULL;
}

int transport_start(struct server *srv)
{
    static void *foreign_loops[1];
    const struct config *cfg = srv->cfg;
    struct lws_context_creation_info info;
    char host[NI_MAXHOST];
    bool any = strcmp(cfg->listen_host, "0.0.0.0") == 0 || strcmp(cfg->listen_host, "::") == 0;

    if (!any && numeric_host(cfg->listen_host, host, sizeof(host)) < 0)
        return PARLEY_EIO;
    lws_set_log_level(LLL_ERR | LLL_WARN, on_lws_log);
    lwsmem_install();

    memset(&info, 0, sizeof(info));
    info.options = LWS_SERVER_OPTION_DO_SSL_GLOBAL_INIT | LWS_SERVER_OPTION_LIBUV |
                   LWS_SERVER_OPTION_UV_NO_SIGSEGV_SIGFPE_SPIN | LWS_SERVER_OPTION_VALIDATE_UTF8 |
                   LWS_SERVER_OPTION_EXPLICIT_VHOSTS;
    if (strchr(any ? cfg->listen_host : host, ':') == NULL)
        info.options |= LWS_SERVER_OPTION_DISABLE_IPV6;
    if (uv_loop_init(&loop) != 0) {
        log_error("cannot create the event loop");
        return PARLEY_EIO;
    }
    foreign_loops[0] = &loop;
    info.foreign_loops = foreign_loops;
    info.user = srv;
    info.pcontext = &srv->ctx;
    info.uid = -1; /* main.c drops privileges itself, and checks */
    info.gid = -1;
    info.fd_limit_per_thread = (unsigned)cfg->max_connections + 64;
    info.max_http_header_data = 8192;
    /* lws reads each connection through this buffer: at the default 4 KiB
     * a file upload costs a callback per 4 KiB. */
    info.pt_serv_buf_size = 256 * 1024;
    info.timeout_secs = 30;
    srv->ctx = lws_create_context(&info);
    if (!srv->ctx) {
        log_error("cannot create the libwebsockets context (is libwebsockets-evlib-uv installed?)");
        return PARLEY_EIO;
    }

    info.port = cfg->listen_port;
    info.iface = any ? NULL : host;
    info.protocols = protocols;
    info.vhost_name = "parleyd";
    info.server_string = "parleyd";
    info.alpn = "http/1.1";
    info.ssl_cert_filepath = cfg->tls_cert;
    info.ssl_private_key_filepath = cfg->tls_key;
    info.ssl_options_set = SSL_OP_NO_TLSv1 | SSL_OP_NO_TLSv1_1 | SSL_OP_NO_COMPRESSION;
    srv->vhost = lws_create_vhost(srv->ctx, &info);
    if (!srv->vhost) {
        log_error("cannot listen on %s (address in use, or a bad certificate or key in '%s')",
                  cfg->listen, cfg->tls_cert);
        destroy_now(srv);
        return PARLEY_EIO;
    }
    srv->port = lws_get_vhost_listen_port(srv->vhost);
    workq_open(&loop);
    watch_signal(&sig_term, SIGTERM, srv);
    watch_signal(&sig_int, SIGINT, srv);
    return 0;
}

void transport_run(struct server *srv)
{
    /* Returns once on_shutdown_tick has closed our handles and lws its own. */
    uv_run(&loop, UV_RUN_DEFAULT);
    srv->ctx = NULL; /* lws cleared it through info.pcontext; be sure */
    srv->vhost = NULL;
    if (uv_loop_close(&loop) != 0)
        log_warnx("event loop closed with handles still open");
}

void transport_free(struct server *srv)
{
    if (!srv->ctx)
        return;
    uv_close((uv_handle_t *)&sig_term, NULL);
    uv_close((uv_handle_t *)&sig_int, NULL);
    destroy_now(srv);
}
