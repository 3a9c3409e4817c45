/* ws.h - the client WebSocket channel (subprotocol "parley.v1" on /v1/ws).
 *
 * Messages are reassembled up to ws_max_message; each is one JSON object
 * with a "type". The server greets with "hello" and answers "ping" with
 * "pong"; docs/protocol.md describes the messages. Loop thread only. */
#ifndef PARLEY_SERVER_WS_H
#define PARLEY_SERVER_WS_H

#include "common/buf.h"
#include "server.h"

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

/* The libwebsockets protocol callback for WS_PROTOCOL_NAME. */
int ws_callback(struct lws *wsi, enum lws_callback_reasons reason, void *user, void *in,
                size_t len);

/* Queue a text message (copied). Returns 0, PARLEY_ENOMEM or PARLEY_EBUSY
 * when the peer is not reading and its queue is full. */
int ws_send_text(struct ws_session *s, const char *text, size_t len);

/* Ask every session to close with 1001 (going away), for shutdown. */
void ws_close_all(struct server *srv);

#endif
