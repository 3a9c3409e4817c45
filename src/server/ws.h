/* ws.h - the client WebSocket channel (subprotocol "parley.v1" on /v1/ws).
 *
 * Messages are reassembled up to ws_max_message; each is one JSON object
 * with a "type". The server greets with "hello" and answers "ping" with
 * "pong"; docs/protocol.md describes the messages. Loop thread only. */
#ifndef PARLEY_SERVER_WS_H
#define PARLEY_SERVER_WS_H

#include "common/buf.h"
#include "server.h"

#include <jansson.h>

#define WS_PROTOCOL_NAME "parley.v1"
#define WS_PATH          "/v1/ws"

struct ws_frame;

struct ws_session {
    struct server *srv;
    struct lws *wsi;
    struct buf rx;            /* the message being reassembled */
    struct ws_frame *tx_head; /* queued outgoing messages */
    struct ws_frame **tx_tail;
    size_t tx_queued;
    bool closing;
};

/* Parse one client message: a JSON object (duplicate keys refused) with a
 * string "type". On success *msg holds it (json_decref it) and *type points
 * into it. Returns 0, or PARLEY_EPROTO with a message for the client in err. */
int ws_parse(const void *data, size_t len, json_t **msg, const char **type, char *err,
             size_t errlen);

/* The libwebsockets protocol callback for WS_PROTOCOL_NAME. */
int ws_callback(struct lws *wsi, enum lws_callback_reasons reason, void *user, void *in,
                size_t len);

/* Queue a text message (copied). Returns 0, PARLEY_ENOMEM or PARLEY_EBUSY
 * when the peer is not reading and its queue is full. */
int ws_send_text(struct ws_session *s, const char *text, size_t len);

/* Ask every session to close with 1001 (going away), for shutdown. */
void ws_close_all(struct server *srv);

#endif
