/* transport.h - TLS, HTTP and WebSocket on one port, on libwebsockets'
 * libuv event loop (epoll). */
#ifndef PARLEY_SERVER_TRANSPORT_H
#define PARLEY_SERVER_TRANSPORT_H

#include "server.h"

/* Create the context and bind the listening socket; sets srv->ctx,
 * srv->vhost and srv->port. Call before dropping privileges. Returns 0 or
 * PARLEY_EIO (logged). */
int transport_start(struct server *srv);

/* Run the event loop until SIGINT or SIGTERM has stopped it: stop
 * accepting, close WebSocket sessions with 1001, let replies in flight
 * finish, for at most shutdown_timeout seconds. Then free the context. */
void transport_run(struct server *srv);

/* Free the context if transport_run did not (start-up failed after
 * transport_start). NULL context: no-op. */
void transport_free(struct server *srv);

#endif
