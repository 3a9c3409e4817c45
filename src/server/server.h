/* server.h - the state of one parleyd process, shared by its parts.
 * Everything here is touched on the event-loop thread only, unless a field
 * says otherwise. */
#ifndef PARLEY_SERVER_SERVER_H
#define PARLEY_SERVER_SERVER_H

#include "common/compat.h"
#include "config.h"

#include <uv.h> /* before libwebsockets.h, for its libuv API */
#include <libwebsockets.h>

struct store;

struct server {
    const struct config *cfg;
    struct store *store; /* thread-safe; see store.h */
    struct lws_context *ctx;
    struct lws_vhost *vhost;
    int port; /* the bound port (differs from cfg when it asked for 0) */
    time_t started;
    bool shutting_down;
    int ws_sessions; /* open WebSocket sessions */
    int64_t shutdown_deadline_us;
};

#endif
