/* rlog.h - the retention log files: append, rotate, survive crashes.
 *
 * The current file is <dir>/<prefix>.log. When a line would take it past
 * max_bytes (and it is not empty) it is flushed and synced, then renamed
 * to <dir>/<prefix>.<n>.log, n = 1, 2, ... (six digits at least, so names
 * sort), and a new current file is created; the directory is synced after
 * each rename and creation. A line never spans two files.
 *
 * Crash safety: lines are written whole, and a batch of them is synced
 * (fdatasync) before rlog_commit returns. A crash can leave at most a torn
 * last line, which rlog_open cuts off, so the current file is always
 * complete JSON lines. Exactly once: the caller marks messages done only
 * after rlog_commit, and commits at least every RLOG_BATCH_LINES lines or
 * RLOG_BATCH_BYTES bytes; rlog_open remembers the message ids of the last
 * lines written (across rotated files), so that messages replayed after a
 * crash between commit and done are recognised (rlog_seen) and not written
 * twice. docs/retention.md states the policy. */
#ifndef PARLEY_BOT_RLOG_H
#define PARLEY_BOT_RLOG_H

#include "common/buf.h"

#define RLOG_BATCH_LINES 256
#define RLOG_BATCH_BYTES (4u << 20)
/* How far back rlog_open looks for ids: more than one batch. */
#define RLOG_TAIL_BYTES (16u << 20)
#define RLOG_MIN_BYTES  10000
#define RLOG_MAX_PREFIX 128

struct rlog_config {
    const char *dir;    /* the message data directory (created if missing) */
    const char *prefix; /* file prefix: [A-Za-z0-9._-], 1..RLOG_MAX_PREFIX, no leading '.' */
    uint64_t max_bytes; /* at least RLOG_MIN_BYTES */
    bool no_sync;       /* benchmarks only: skip fdatasync */
};

struct rlog;

/* Open (or create) the current file, cut a torn last line, and read the
 * ids of the last lines written. Returns 0, PARLEY_EINVAL (bad config),
 * PARLEY_EIO, PARLEY_ENOMEM. */
int rlog_open(const struct rlog_config *cfg, struct rlog **out);
/* Whether `msg_id` is among the last lines found by rlog_open. */
bool rlog_seen(const struct rlog *r, const char *msg_id);
/* Queue one line (it must end with '\n' and hold no other newline). May
 * write, sync and rotate. Returns 0, PARLEY_EINVAL, PARLEY_EIO. */
int rlog_append(struct rlog *r, const char *line, size_t len);
/* Whether enough is queued that the caller should commit now. */
bool rlog_batch_full(const struct rlog *r);
/* Write what is queued and sync it. Returns 0 or PARLEY_EIO (the queued
 * lines stay queued; a later commit tries again). */
int rlog_commit(struct rlog *r);
/* The current file's size and path (for tests and the console). */
uint64_t rlog_size(const struct rlog *r);
const char *rlog_path(const struct rlog *r);
/* Commit and close. NULL is a no-op. */
int rlog_close(struct rlog *r);

/* Parse a window of a log file. `at_start`: the window begins at the
 * file's start (else its first, partial line is skipped). Calls fn with
 * the message id of each complete line, in order; lines that are not JSON
 * objects with a 32-hex "message_id" (or "id") are skipped. *complete gets
 * the length of the window up to and including its last newline. Returns
 * the number of lines seen. Exposed for the fuzz target. */
size_t rlog_scan(const uint8_t *p, size_t n, bool at_start, size_t *complete,
                 void (*fn)(void *arg, const char *msg_id), void *arg);

/* Whether `prefix` is a valid file prefix. */
bool rlog_prefix_ok(const char *prefix);

#endif
