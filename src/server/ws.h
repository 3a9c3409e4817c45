/* ws.h - the client WebSocket channel (subprotocol "parley.v1" on /v1/ws),
 * as docs/client-protocol.md ("The WebSocket channel") specifies it.
 *
 * Text messages are JSON control messages with a "type"; binary messages
 * carry envelopes (0x01 from the client, 0x02 to it). A session must
 * authenticate with a device token first; a device has at most one live
 * session. Accepted envelopes are acknowledged once durable (msgstore.c,
 * group commit) and fanned out to the recipients' live sessions; each
 * device's queue is streamed from the database on connect and whenever the
 * session fell behind. Everything here runs on the loop thread; results of
 * store jobs come back through loopq.c. See docs/internals/messaging.md. */
#ifndef PARLEY_SERVER_WS_H
#define PARLEY_SERVER_WS_H

#include "common/buf.h"
#include "proto/keys.h"
#include "server.h"

#include <jansson.h>

#define WS_PROTOCOL_NAME "parley.v1"
#define WS_PATH          "/v1/ws"

/* Close codes beyond RFC 6455's. */
#define WS_CLOSE_REPLACED 4000 /* another session of the same device took over */

struct ws_frame;

struct ws_session {
    struct server *srv;
    struct lws *wsi;
    struct buf rx;            /* the message being reassembled */
    struct ws_frame *tx_head; /* queued outgoing messages */
    struct ws_frame **tx_tail;
    size_t tx_queued;
    unsigned close_code; /* nonzero: close with it once the queue is sent */
    /* Set by a successful "auth". */
    bool is_authed;
    uint64_t gen; /* unique per session: store results find it by device + gen */
    int64_t user_row, device_row, network_row;
    uint8_t user_id[KEYS_ID_LEN];
    uint8_t device_id[KEYS_ID_LEN];
    struct ws_session *dev_next, *user_next; /* registry chains */
    /* Delivery: every queue entry up to last_seq has been queued here; while
     * is_caught_up, new entries are sent as they commit, otherwise they are
     * read back from the database when the send queue has room. */
    int64_t last_seq;
    bool is_caught_up;
    size_t inflight; /* bytes of envelopes submitted, not yet acknowledged */
    bool is_rx_paused;
    /* For the event log (evlog.h), set at auth. */
    char ip[64];
    char platform[32];
};

/* Parse one client message: a JSON object (duplicate keys refused) with a
 * string "type". On success *msg holds it (json_decref it) and *type points
 * into it. Returns 0, or PARLEY_EPROTO with a message for the client in err. */
int ws_parse(const void *data, size_t len, json_t **msg, const char **type, char *err,
             size_t errlen);

/* Check an "ack" message's "seq" array (at most WS_MAX_ACK non-negative
 * integers). Returns the count and fills seqs, or PARLEY_EPROTO with err. */
#define WS_MAX_ACK 1024
/* The most message ids in one read receipt. */
#define WS_MAX_READ 100
int ws_parse_ack(json_t *msg, int64_t *seqs, char *err, size_t errlen);

/* The libwebsockets protocol callback for WS_PROTOCOL_NAME. */
int ws_callback(struct lws *wsi, enum lws_callback_reasons reason, void *user, void *in,
                size_t len);

/* Queue a text message (copied). Returns 0, PARLEY_ENOMEM or PARLEY_EBUSY
 * when the peer is not reading and its queue is full. */
int ws_send_text(struct ws_session *s, const char *text, size_t len);

/* Ask every session to close with 1001 (going away), for shutdown. */
void ws_close_all(struct server *srv);

/* Close every live session of the user (1008, policy violation): for an
 * administrator suspending or deleting `user_id`. Its queued entries stay
 * in the database. Loop thread. Returns how many sessions were closed. */
int ws_disconnect_user(struct server *srv, const uint8_t user_id[KEYS_ID_LEN]);

/* Close the live session of one device (1008): the device was deleted or
 * its token revoked. Loop thread. */
void ws_disconnect_device(struct server *srv, const uint8_t device_id[KEYS_ID_LEN]);

/* Tell the device, if connected, that it has `remaining` one-time pre-keys
 * left ({"type":"prekeys_low"}). Loop thread. */
void ws_notify_prekeys_low(struct server *srv, const uint8_t device_id[KEYS_ID_LEN],
                           int64_t remaining);

/* The local half of what another node asked for over NATS (cluster.c):
 * close a device's session (code WS_CLOSE_REPLACED, or a policy close),
 * close a user's sessions, read a device's queue again, relay a control
 * message to the live sessions of these user rows. Loop thread. */
void ws_cluster_kick_device(struct server *srv, const uint8_t device_id[KEYS_ID_LEN],
                            unsigned code);
int ws_cluster_kick_user(struct server *srv, const uint8_t user_id[KEYS_ID_LEN]);
void ws_cluster_wake(struct server *srv, const uint8_t device_id[KEYS_ID_LEN]);
void ws_cluster_relay(struct server *srv, const int64_t *users, size_t n, json_t *msg);

#endif
