/* conn.h - the client's WebSocket connection to parleyd, run by
 * libwebsockets on one thread the connection owns.
 *
 * lws is not thread-safe: every lws call happens on the connection thread,
 * and other threads only queue frames and call lws_cancel_service() to wake
 * it (stack-notes §1). The connection authenticates with the device token
 * first; frames queued by conn_send wait until the server answered auth_ok,
 * and survive a reconnect. After a lost connection it retries with
 * exponential backoff (1 s doubling up to 60 s). */
#ifndef PARLEY_CLIENT_CONN_H
#define PARLEY_CLIENT_CONN_H

#include "common/compat.h"

struct conn_msg {
    const uint8_t *p;
    size_t n;
};

/* Called on the connection thread, never concurrently. Binary frames come
 * in batches: those a read brought in together (at most 256 frames or
 * 4 MiB), in order, and always before a later text frame. */
struct conn_ops {
    void (*on_online)(void *arg);  /* auth_ok received */
    void (*on_offline)(void *arg); /* an authenticated connection was lost */
    void (*on_text)(void *arg, const char *p, size_t n);
    void (*on_binary)(void *arg, const struct conn_msg *m, size_t n);
};

struct conn;

/* Start the thread and the first connection attempt to wss://host:port/v1/ws
 * with `ca_file` as the only trust anchor ("": the system trust store).
 * Copies its arguments. Returns 0,
 * PARLEY_ENOMEM, PARLEY_EIO (no thread or no lws context). */
int conn_start(const char *host, int port, const char *ca_file, const char *token,
               const struct conn_ops *ops, void *arg, struct conn **out);
/* Queue one frame (text or binary); any thread. Returns 0, PARLEY_ENOMEM,
 * PARLEY_ETOOBIG, PARLEY_ECLOSED after conn_stop started. */
int conn_send(struct conn *c, bool binary, const uint8_t *p, size_t n);
/* Close, stop and join the thread, free. Not from a conn_ops callback.
 * NULL is a no-op. */
void conn_stop(struct conn *c);

#endif
