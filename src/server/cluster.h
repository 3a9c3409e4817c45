/* cluster.h - fan-out between the nodes of one deployment over NATS
 * (cnats; docs/internals/messaging.md, "Several nodes").
 *
 * Nodes share one PostgreSQL, which holds every device's queue: a message
 * is durable, and will be delivered, whichever node accepted it. NATS only
 * carries hints, so that a device connected to another node learns at once
 * that its queue grew, and the relays that are not stored (typing,
 * presence, read receipts) and the closing of sessions (a removed device,
 * a suspended user, a session replaced on another node) reach every node.
 * Nothing sent over NATS is content: a wake names a device, a relay
 * carries what the WebSocket would show the recipients anyway.
 *
 * Without the `cluster_nats` setting every function here is a no-op.
 * Publishing is for the loop thread; what arrives is handed to the loop
 * (loopq) and dispatched to ws.c there. */
#ifndef PARLEY_SERVER_CLUSTER_H
#define PARLEY_SERVER_CLUSTER_H

#include "server.h"

#include <jansson.h>

#include "proto/keys.h"

/* Connect to `url` (nats://HOST:PORT[,...]) and subscribe. Returns 0, or
 * PARLEY_EIO with the reason logged. Reconnects on its own afterwards. */
int cluster_open(const char *url);
/* Unsubscribe, flush and disconnect. Safe when never opened. */
void cluster_close(void);
bool cluster_enabled(void);

/* Tell the other nodes that `device`'s queue grew. */
void cluster_wake_device(const uint8_t device[KEYS_ID_LEN]);
/* Relay `msg` to the live sessions of these user rows on the other nodes. */
void cluster_relay(const int64_t *users, size_t n, json_t *msg);
/* Close `device`'s session on the other nodes with this WebSocket code. */
void cluster_kick_device(const uint8_t device[KEYS_ID_LEN], unsigned code);
/* Close every session of `user` on the other nodes (suspended, deleted). */
void cluster_kick_user(const uint8_t user[KEYS_ID_LEN]);

#endif
