/* http.h - HTTP requests: routing by a table, bodies with a cap, replies.
 *
 * transport.c feeds libwebsockets' HTTP callbacks in here. A handler runs
 * once the whole request (and body) has arrived, and must call exactly one
 * http_reply_* before it returns, or hand the request to http_defer() and
 * reply after http_resume(). Everything runs on the loop thread. */
#ifndef PARLEY_SERVER_HTTP_H
#define PARLEY_SERVER_HTTP_H

#include "common/buf.h"
#include "server.h"

#include <jansson.h>

enum http_method {
    HTTP_GET,
    HTTP_POST,
    HTTP_PUT,
    HTTP_PATCH,
    HTTP_DELETE,
    HTTP_HEAD,
    HTTP_OPTIONS,
    HTTP_OTHER,
};

#define HTTP_MAX_PARAMS 4
#define HTTP_PATH_MAX   512

struct http_req {
    struct server *srv;
    struct lws *wsi;
    enum http_method method;
    char path[HTTP_PATH_MAX];
    const char *params[HTTP_MAX_PARAMS]; /* ":name" path segments, in order */
    char param_store[HTTP_PATH_MAX];
    const struct http_route *route;
    struct buf body;
    bool body_too_big;
    /* The reply. */
    int status;
    const char *content_type;
    struct buf reply;
    struct buf headers; /* extra "name: value\r\n" lines */
    /* Replace the default Cache-Control and Content-Security-Policy of
     * every reply when set (static strings). */
    const char *cache_control;
    const char *csp;
    size_t sent;
    bool dispatched; /* the handler has run (http_dispatch) */
    bool replied;
    struct http_pending *pending; /* set between http_defer and http_resume */
    bool resumed;                 /* replied after http_resume: wake the writer */
    /* Streamed request bodies (HTTP_ROUTE_STREAM): the handler runs as soon
     * as the headers are in. Unless it replied at once (and the body is then
     * never read: the connection closes after the reply), it sets on_body,
     * called with each piece of the body as it arrives, and on_body_end,
     * called once it is complete, which must reply if nothing did (or defer:
     * http_defer). */
    void (*on_body)(struct http_req *req, const void *data, size_t len);
    void (*on_body_end)(struct http_req *req);
    /* Streamed replies (http_reply_stream): produce fills buf with up to
     * cap bytes of the body's next part and returns how many, or -1 to
     * close the connection (the body cannot be finished). */
    ssize_t (*produce)(struct http_req *req, uint8_t *buf, size_t cap);
    uint64_t stream_len, stream_sent;
    /* The handler's state for the above; on_release frees it when the
     * request ends, whichever way. */
    void *stream;
    void (*on_release)(struct http_req *req);
    bool close_after; /* close the connection once the reply is out */
};

typedef void (*http_handler_fn)(struct http_req *req);
struct admin_ctx;

enum http_route_flags {
    HTTP_ROUTE_BODY = 1 << 0,   /* reads a request body */
    HTTP_ROUTE_STREAM = 1 << 1, /* takes its body piece by piece (see on_body) */
};

/* One row per endpoint. Paths are matched segment by segment; a segment
 * ":name" matches any one non-empty segment and is passed in params[]. A
 * final segment "*" matches whatever follows (the handler reads req->path). */
struct http_route {
    enum http_method method;
    const char *path;
    http_handler_fn fn;
    unsigned flags;
    /* Admin API rows only (fn is api_admin_entry, see api_admin.h): the
     * handler it runs once the caller holds `perm` (enum rbac_perm) in
     * `scope` (enum rbac_scope). Zero elsewhere. */
    void (*admin_fn)(struct http_req *req, struct admin_ctx *ctx);
    int perm;
    int scope;
};

/* Start a request; fills req from the connection. Returns 0, or an HTTP
 * status (404, 405, 414) for requests that cannot be routed, after which the
 * caller replies with http_reply_error through http_fail. */
int http_begin(struct http_req *req, struct server *srv, struct lws *wsi);
/* Find the route for req->method and req->path; fills req->route and
 * req->params. Returns 0, 404 (no such path) or 405 (path known, method
 * not). */
int http_route(struct http_req *req);
/* Append request body bytes; past cfg->http_max_body marks the request 413. */
void http_body(struct http_req *req, const void *data, size_t len);
/* The body is complete (or there is none): run the handler. */
void http_dispatch(struct http_req *req);
/* HTTP_ROUTE_STREAM: the headers are in; run the handler. Returns true if
 * it wants the body (it set on_body and did not reply). */
bool http_dispatch_stream(struct http_req *req);
/* HTTP_ROUTE_STREAM: a piece of the body, then its end. */
void http_stream_body(struct http_req *req, const void *data, size_t len);
void http_stream_end(struct http_req *req);
/* Write as much of the reply as the connection takes. Returns 1 while more
 * remains, 0 when done, -1 to close the connection. */
int http_write(struct http_req *req);
/* The connection closed or the next request began: forget the request.
 * A deferred request is detached, so its http_resume() returns NULL. */
void http_req_release(struct http_req *req);

/* Answer later. A handler that starts work off the loop (workq.h) calls
 * http_defer() and returns without replying; the connection is held open.
 * When the work is done, on the loop thread, http_resume() frees the handle
 * and returns the request to reply to, or NULL if the client went away (or
 * the server closed the connection) meanwhile: then nothing is sent and the
 * caller only frees its own state. Every handle is resumed exactly once. */
struct http_pending *http_defer(struct http_req *req);
struct http_req *http_resume(struct http_pending *p);

/* Replies. Each sets the status and body; the transport sends them. */
void http_reply(struct http_req *req, int status, const char *content_type, const void *body,
                size_t len);
/* Takes a reference-owned `obj` (steals it). */
void http_reply_json(struct http_req *req, int status, json_t *obj);
/* {"error": {"code": code, "message": ...}} with a message that says what
 * to fix. */
void http_reply_error(struct http_req *req, int status, const char *code, const char *fmt, ...)
    PARLEY_PRINTF(4, 5);
void http_add_header(struct http_req *req, const char *name, const char *value);
/* A reply of `len` bytes that req->produce writes as the connection takes
 * them, so that no body is held in memory whole. Set req->produce (and
 * req->stream) first. */
void http_reply_stream(struct http_req *req, int status, const char *content_type, uint64_t len);

const char *http_method_name(enum http_method m);

/* The route table, defined in routes.c. */
extern const struct http_route http_routes[];
extern const size_t http_routes_count;

#endif
