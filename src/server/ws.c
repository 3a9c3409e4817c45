/* ws.c - the client WebSocket channel: reassembly, a bounded send queue
 * and the message dispatcher. */
#include "ws.h"
#include "common/log.h"
#include "common/xmalloc.h"

#include <jansson.h>

/* A slow reader may have this much queued before it is disconnected. */
#define WS_MAX_QUEUED (4u << 20)

struct ws_frame {
    struct ws_frame *next;
    size_t len;
    bool is_binary;
    unsigned char data[]; /* LWS_PRE bytes of headroom, then the payload */
};

static int queue_frame(struct ws_session *s, const void *p, size_t len, bool is_binary)
{
    struct ws_frame *f;

    if (s->tx_queued + len > WS_MAX_QUEUED)
        return PARLEY_EBUSY;
    f = malloc(sizeof(*f) + LWS_PRE + len);
    if (!f)
        return PARLEY_ENOMEM;
    f->next = NULL;
    f->len = len;
    f->is_binary = is_binary;
    memcpy(f->data + LWS_PRE, p, len);
    *s->tx_tail = f;
    s->tx_tail = &f->next;
    s->tx_queued += len;
    lws_callback_on_writable(s->wsi);
    return 0;
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
    if (ws_send_text(s, text, strlen(text)) < 0) {
        log_warnx("ws: peer is not reading its messages, closing");
        s->closing = true;
        lws_callback_on_writable(s->wsi);
    }
    free(text);
}

static void send_error(struct ws_session *s, const char *code, const char *message)
{
    send_json(s, json_pack("{s:s,s:s,s:s}", "type", "error", "code", code, "message", message));
}

static void on_ping(struct ws_session *s, json_t *msg)
{
    json_t *id = json_object_get(msg, "id");
    json_t *reply = json_pack("{s:s}", "type", "pong");
    if (id)
        json_object_set(reply, "id", id);
    send_json(s, reply);
}

/* Message types a client may send, one row each. */
static const struct {
    const char *type;
    void (*fn)(struct ws_session *s, json_t *msg);
} handlers[] = {
    {"ping", on_ping},
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

static void on_message(struct ws_session *s)
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
            handlers[i].fn(s, msg);
            json_decref(msg);
            return;
        }
    }
    snprintf(text, sizeof(text), "unknown message type '%.64s'", type);
    send_error(s, "unknown_type", text);
    json_decref(msg);
}

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
    struct ws_frame *f, *next;
    for (f = s->tx_head; f; f = next) {
        next = f->next;
        free(f);
    }
    s->tx_head = NULL;
    s->tx_tail = &s->tx_head;
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

/* One lws_write per writeable callback (lws requirement). */
static int on_writeable(struct ws_session *s)
{
    struct ws_frame *f = s->tx_head;

    if (s->closing || (s->srv->shutting_down && !f))
        return send_close(s, s->closing ? LWS_CLOSE_STATUS_POLICY_VIOLATION
                                        : LWS_CLOSE_STATUS_GOINGAWAY);
    if (!f)
        return 0;
    if (lws_write(s->wsi, f->data + LWS_PRE, f->len,
                  f->is_binary ? LWS_WRITE_BINARY : LWS_WRITE_TEXT) < (int)f->len)
        return -1;
    s->tx_head = f->next;
    if (!s->tx_head)
        s->tx_tail = &s->tx_head;
    s->tx_queued -= f->len;
    free(f);
    if (s->tx_head || s->srv->shutting_down)
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
    case LWS_CALLBACK_FILTER_PROTOCOL_CONNECTION:
        /* Refuse upgrades elsewhere than the channel's path, and during shutdown. */
        if (srv->shutting_down || !path_is(wsi, WS_PATH))
            return 1;
        return 0;
    case LWS_CALLBACK_ESTABLISHED:
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
            on_message(s);
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
