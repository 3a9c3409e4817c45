/* loopq.h - hand work from other threads (the store's committer) to the
 * event loop.
 *
 * libwebsockets is not thread-safe: the only call another thread may make
 * is lws_cancel_service(). loopq_post() appends an item to a mutex-protected
 * list and calls it; the loop wakes with LWS_CALLBACK_EVENT_WAIT_CANCELLED,
 * where ws.c calls loopq_drain(), which runs every item on the loop thread
 * in the order they were posted. One queue per process. */
#ifndef PARLEY_SERVER_LOOPQ_H
#define PARLEY_SERVER_LOOPQ_H

#include "server.h"

/* Runs on the loop thread with the server; `srv` is NULL when the queue is
 * being closed and the item must only free what it owns. */
typedef void (*loopq_fn)(struct server *srv, void *arg);

/* Open the queue for `ctx` (loop thread, once the context exists). */
void loopq_open(struct lws_context *ctx);
/* Stop accepting items and discard those still queued (each fn runs with
 * srv NULL). Loop thread, before the context is destroyed. */
void loopq_close(void);

/* Any thread. Returns 0 (fn will run exactly once), or PARLEY_ECLOSED when
 * the queue is closed: then fn never runs and the caller keeps `arg`. */
int loopq_post(loopq_fn fn, void *arg);

/* Loop thread: run every queued item. */
void loopq_drain(struct server *srv);

#endif
