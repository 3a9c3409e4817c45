/* workq.h - run CPU-heavy jobs (Argon2id) on worker threads, not the loop.
 *
 * A sign-in verifies an Argon2id hash: about 170 ms of one core and 64 MiB.
 * Run on the event loop, a burst of sign-ins would stall every other socket,
 * so such work goes to libuv's thread pool (uv_queue_work on parleyd's own
 * loop) and its result comes back to the loop thread, where lws may be
 * called again. libuv runs at most UV_THREADPOOL_SIZE jobs at once (4 by
 * default), which bounds the memory Argon2id holds; the queue behind them is
 * bounded by WORKQ_MAX_PENDING, so a flood of requests is refused quickly
 * instead of queueing without end. */
#ifndef PARLEY_SERVER_WORKQ_H
#define PARLEY_SERVER_WORKQ_H

#include "common/compat.h"

#include <uv.h>

/* Jobs submitted but not yet completed, beyond which workq_submit refuses. */
#define WORKQ_MAX_PENDING 64

/* Runs on a worker thread: no lws, no store, no loop-thread state. */
typedef void (*workq_fn)(void *arg);
/* Runs on the loop thread once `work` has returned. */
typedef void (*workq_done_fn)(void *arg);

/* Use `loop` for the jobs to come (loop thread, before the first submit). */
void workq_open(uv_loop_t *loop);

/* Loop thread. Returns 0: work(arg) will run on a worker, then done(arg) on
 * the loop, exactly once each. Returns PARLEY_EBUSY (WORKQ_MAX_PENDING jobs
 * are waiting) or PARLEY_ECLOSED (no loop): then neither runs and the
 * caller keeps `arg`. */
int workq_submit(workq_fn work, workq_done_fn done, void *arg);

/* Jobs submitted and not yet done (loop thread). */
int workq_pending(void);

#endif
