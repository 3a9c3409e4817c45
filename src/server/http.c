/* http.c - request routing and replies over libwebsockets' HTTP server.
 * See http.h for the life of a request. */
#include "http.h"
#include "common/log.h"
#include "common/xmalloc.h"

static const char *const method_names[] = {"GET",    "POST", "PUT",     "PATCH",
                                           "DELETE", "HEAD", "OPTIONS", "?"};

const char *http_method_name(enum http_method m)
{
    return method_names[m];
}

static enum http_method map_method(int lws_method)
{
    switch (lws_method) {
    case LWSHUMETH_GET:
        return HTTP_GET;
    case LWSHUMETH_POST:
        return HTTP_POST;
    case LWSHUMETH_PUT:
        return HTTP_PUT;
    case LWSHUMETH_PATCH:
        return HTTP_PATCH;
    case LWSHUMETH_DELETE:
        return HTTP_DELETE;
    case LWSHUMETH_HEAD:
        return HTTP_HEAD;
    case LWSHUMETH_OPTIONS:
        return HTTP_OPTIONS;
    }
    return HTTP_OTHER;
}

/* Match `path` against a route pattern; on success copy ":name" segments
 * into req->params. Returns true on a match. */
static bool match_path(struct http_req *req, const char *pattern, const char *path)
{
    size_t used = 0;
    int np = 0;

    while (*pattern && *path) {
        if (strcmp(pattern, "/*") == 0)
            return true;
        const char *pe = strchr(pattern + 1, '/'), *se = strchr(path + 1, '/');
        size_t pl = pe ? (size_t)(pe - pattern) : strlen(pattern);
        size_t sl = se ? (size_t)(se - path) : strlen(path);

        if (pattern[0] != '/' || path[0] != '/')
            return false;
        if (pattern[1] == ':') {
            if (sl < 2 || np == HTTP_MAX_PARAMS || used + sl > sizeof(req->param_store))
                return false;
            memcpy(req->param_store + used, path + 1, sl - 1);
            req->param_store[used + sl - 1] = 0;
            req->params[np++] = req->param_store + used;
            used += sl;
        } else if (pl != sl || memcmp(pattern, path, pl) != 0) {
            return false;
        }
        pattern += pl;
        path += sl;
    }
    return *pattern == 0 && *path == 0;
}

int http_begin(struct http_req *req, struct server *srv, struct lws *wsi)
{
    char *uri = NULL;
    int urilen = 0, m;

    memset(req, 0, sizeof(*req));
    req->srv = srv;
    req->wsi = wsi;
    buf_init(&req->body, (size_t)srv->cfg->http_max_body);
    buf_init(&req->reply, SIZE_MAX);
    buf_init(&req->headers, 8192);
    m = lws_http_get_uri_and_method(wsi, &uri, &urilen);
    req->method = map_method(m);
    if (m < 0 || !uri || urilen <= 0)
        return 400;
    if ((size_t)urilen >= sizeof(req->path))
        return 414;
    memcpy(req->path, uri, (size_t)urilen);
    req->path[urilen] = 0;
    /* lws hands the path without the query string; be sure anyway. */
    req->path[strcspn(req->path, "?")] = 0;

    return http_route(req);
}

int http_route(struct http_req *req)
{
    bool path_known = false;

    for (size_t i = 0; i < http_routes_count; i++) {
        const struct http_route *r = &http_routes[i];
        if (!match_path(req, r->path, req->path))
            continue;
        path_known = true;
        if (r->method == req->method || (req->method == HTTP_HEAD && r->method == HTTP_GET)) {
            req->route = r;
            return 0;
        }
    }
    return path_known ? 405 : 404;
}

void http_body(struct http_req *req, const void *data, size_t len)
{
    if (req->body_too_big)
        return;
    if (buf_append(&req->body, data, len) < 0) {
        req->body_too_big = true;
        buf_release(&req->body);
    }
}

void http_dispatch(struct http_req *req)
{
    req->dispatched = true;
    if (req->body_too_big) {
        http_reply_error(req, 413, "body_too_large",
                         "request body is larger than %lld bytes (setting http_max_body)",
                         (long long)req->srv->cfg->http_max_body);
        return;
    }
    req->route->fn(req);
    if (!req->replied && !req->pending)
        BUG("handler for %s %s did not reply", http_method_name(req->method), req->route->path);
}

bool http_dispatch_stream(struct http_req *req)
{
    req->route->fn(req);
    if (req->replied)
        return false;
    if (!req->on_body || !req->on_body_end)
        BUG("streaming handler for %s did not reply or take the body", req->route->path);
    return true;
}

void http_stream_body(struct http_req *req, const void *data, size_t len)
{
    /* After an error reply the rest of the body is read and dropped. */
    if (!req->replied && req->on_body)
        req->on_body(req, data, len);
}

void http_stream_end(struct http_req *req)
{
    if (!req->replied && req->on_body_end)
        req->on_body_end(req);
    if (!req->replied && !req->pending)
        BUG("streaming handler for %s did not reply", req->route->path);
}

void http_add_header(struct http_req *req, const char *name, const char *value)
{
    if (buf_printf(&req->headers, "%s: %s\r\n", name, value) < 0)
        log_warnx("dropped response header '%s': too many headers", name);
}

void http_reply(struct http_req *req, int status, const char *content_type, const void *body,
                size_t len)
{
    if (req->replied)
        BUG("second reply to %s", req->path);
    req->replied = true;
    req->status = status;
    req->content_type = content_type;
    buf_reset(&req->reply);
    if (len && buf_append(&req->reply, body, len) < 0)
        BUG("reply buffer");
    /* The handler returned long ago: nothing else asks lws to write. */
    if (req->resumed && req->wsi)
        lws_callback_on_writable(req->wsi);
}

void http_reply_stream(struct http_req *req, int status, const char *content_type, uint64_t len)
{
    if (req->replied)
        BUG("second reply to %s", req->path);
    if (!req->produce)
        BUG("streamed reply to %s without a producer", req->path);
    req->replied = true;
    req->status = status;
    req->content_type = content_type;
    req->stream_len = len;
    req->stream_sent = 0;
    buf_reset(&req->reply);
}

void http_reply_json(struct http_req *req, int status, json_t *obj)
{
    char *s = json_dumps(obj, JSON_COMPACT);
    if (!s)
        BUG("json_dumps failed");
    http_reply(req, status, "application/json", s, strlen(s));
    free(s);
    json_decref(obj);
}

void http_reply_error(struct http_req *req, int status, const char *code, const char *fmt, ...)
{
    char msg[512];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof(msg), fmt, ap);
    va_end(ap);
    http_reply_json(req, status, json_pack("{s:{s:s,s:s}}", "error", "code", code, "message", msg));
}

/* Headers every reply carries: the console and the API are same-origin
 * only, never framed, never cached, never sniffed. A handler may set
 * req->cache_control and req->csp to replace the last two. */
static const char *const security_headers[][2] = {
    {"strict-transport-security:", "max-age=31536000"},
    {"x-content-type-options:", "nosniff"},
    {"x-frame-options:", "DENY"},
    {"referrer-policy:", "no-referrer"},
};

static int add_header(struct lws *wsi, const char *name, const char *value, unsigned char **p,
                      unsigned char *end)
{
    return lws_add_http_header_by_name(wsi, (const unsigned char *)name,
                                       (const unsigned char *)value, (int)strlen(value), p, end);
}

static int write_headers(struct http_req *req)
{
    unsigned char hdr[LWS_PRE + 10240], *start = hdr + LWS_PRE, *p = start,
                                        *end = hdr + sizeof(hdr) - 1;
    struct lws *wsi = req->wsi;
    size_t off = 0;

    if (lws_add_http_common_headers(
            wsi, (unsigned)req->status, req->content_type,
            (lws_filepos_t)(req->produce ? req->stream_len : req->reply.len), &p, end))
        return -1;
    for (size_t i = 0; i < ARRAY_SIZE(security_headers); i++)
        if (add_header(wsi, security_headers[i][0], security_headers[i][1], &p, end))
            return -1;
    if (add_header(wsi, "content-security-policy:",
                   req->csp ? req->csp : "default-src 'self'; frame-ancestors 'none'", &p, end) ||
        add_header(wsi, "cache-control:", req->cache_control ? req->cache_control : "no-store", &p,
                   end))
        return -1;
    /* Extra headers were stored as "name: value\r\n" lines. */
    while (off < req->headers.len) {
        char *line = (char *)req->headers.data + off, *colon = strchr(line, ':');
        char *eol = strstr(line, "\r\n");
        char name[128];
        size_t nl;
        if (!colon || !eol || (nl = (size_t)(colon - line) + 1) >= sizeof(name))
            return -1;
        memcpy(name, line, nl);
        name[nl] = 0;
        if (lws_add_http_header_by_name(wsi, (unsigned char *)name, (unsigned char *)colon + 2,
                                        (int)(eol - colon - 2), &p, end))
            return -1;
        off = (size_t)(eol + 2 - (char *)req->headers.data);
    }
    if (lws_finalize_write_http_header(wsi, start, &p, end))
        return -1;
    return 0;
}

#define HTTP_CHUNK 16384
/* Streamed bodies go out in larger writes: fewer calls into TLS, and lws
 * keeps what the socket did not take for the next writable callback. */
#define HTTP_STREAM_CHUNK (256 * 1024)

static int write_stream(struct http_req *req)
{
    /* The loop thread is the only writer, so one buffer serves every
     * connection. */
    static unsigned char chunk[LWS_PRE + HTTP_STREAM_CHUNK];
    uint64_t left = req->stream_len - req->stream_sent;
    size_t cap = left < HTTP_STREAM_CHUNK ? (size_t)left : HTTP_STREAM_CHUNK;
    ssize_t n = req->produce(req, chunk + LWS_PRE, cap);

    if (n <= 0 || (size_t)n > cap)
        return -1;
    req->stream_sent += (uint64_t)n;
    if (lws_write(req->wsi, chunk + LWS_PRE, (size_t)n,
                  req->stream_sent == req->stream_len ? LWS_WRITE_HTTP_FINAL : LWS_WRITE_HTTP) !=
        (int)n)
        return -1;
    return req->stream_sent < req->stream_len ? 1 : 0;
}

int http_write(struct http_req *req)
{
    unsigned char chunk[LWS_PRE + HTTP_CHUNK];
    size_t n;
    enum lws_write_protocol wp = LWS_WRITE_HTTP;

    if (req->sent == 0 && req->status) {
        size_t body = req->produce ? (size_t)req->stream_len : req->reply.len;
        if (write_headers(req) < 0)
            return -1;
        req->status = 0; /* headers are out */
        if (req->method == HTTP_HEAD || body == 0)
            return 0;
        return 1;
    }
    if (req->produce)
        return write_stream(req);
    n = req->reply.len - req->sent;
    if (n > HTTP_CHUNK)
        n = HTTP_CHUNK;
    else
        wp = LWS_WRITE_HTTP_FINAL;
    memcpy(chunk + LWS_PRE, req->reply.data + req->sent, n);
    if (lws_write(req->wsi, chunk + LWS_PRE, n, wp) != (int)n)
        return -1;
    req->sent += n;
    return req->sent < req->reply.len ? 1 : 0;
}

struct http_pending {
    struct http_req *req; /* NULL once the request is gone */
};

struct http_pending *http_defer(struct http_req *req)
{
    struct http_pending *p;

    if (req->replied || req->pending)
        BUG("deferring %s twice or after its reply", req->path);
    p = xcalloc(1, sizeof(*p));
    p->req = req;
    req->pending = p;
    return p;
}

struct http_req *http_resume(struct http_pending *p)
{
    struct http_req *req = p->req;

    free(p);
    if (!req)
        return NULL;
    req->pending = NULL;
    req->resumed = true;
    return req;
}

void http_req_release(struct http_req *req)
{
    if (req->pending) {
        req->pending->req = NULL;
        req->pending = NULL;
    }
    req->resumed = false;
    if (req->on_release)
        req->on_release(req);
    req->on_release = NULL;
    req->stream = NULL;
    req->produce = NULL;
    req->on_body = NULL;
    req->on_body_end = NULL;
    buf_release(&req->body);
    buf_release(&req->reply);
    buf_release(&req->headers);
    req->route = NULL;
    req->replied = false;
}
