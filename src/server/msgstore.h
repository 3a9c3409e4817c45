/* msgstore.h - the durable side of messaging: accepting an envelope (every
 * check and the writes in one group-commit job), reading a device's queue,
 * deleting acknowledged entries, purging expired envelopes.
 *
 * Jobs run on the store's committer thread (store_submit); results come
 * back through the caller's done callback, also on the committer thread.
 * Nothing here touches a socket: ws.c posts the results to the loop.
 * See docs/internals/messaging.md. */
#ifndef PARLEY_SERVER_MSGSTORE_H
#define PARLEY_SERVER_MSGSTORE_H

#include "common/buf.h"
#include "proto/envelope.h"

struct store;
struct store_conn;

/* Why an envelope was refused (the "code" of a nack). */
enum msg_verdict {
    MSG_OK = 0,
    MSG_BAD_ENVELOPE,
    MSG_NOT_MEMBER,
    MSG_FORBIDDEN,
    MSG_EXPIRED,
    MSG_TOO_LARGE,
    MSG_DEVICES_CHANGED,
    MSG_INTERNAL, /* a store failure: the client may retry */
};
const char *msg_verdict_code(enum msg_verdict v);

struct msg_recipient {
    int64_t device_row;
    uint8_t device_id[KEYS_ID_LEN];
    int64_t seq;
};

/* One envelope submission, from the WebSocket frame to the ack. */
struct msg_submit {
    /* In: set by ws.c before msgstore_submit. */
    uint8_t *frame; /* the whole binary message, 0x01 || envelope (owned) */
    size_t frame_len;
    struct envelope_route route; /* points into frame */
    uint8_t session_device[KEYS_ID_LEN];
    uint64_t session_gen;
    int64_t sender_device_row, sender_user_row, network_row;
    int64_t ts_ms;      /* the server's receive time */
    int64_t keep_until; /* set by the job: when the server's copy expires (0 never) */
    bool is_pg;         /* set by msgstore_submit: which SQL dialect */
    /* Out: filled by the job. */
    enum msg_verdict verdict;
    char message[384];
    bool duplicate; /* accepted before: ack again, deliver nothing new */
    uint8_t (*missing)[KEYS_ID_LEN], (*extra)[KEYS_ID_LEN];
    size_t n_missing, n_extra;
    struct msg_recipient *rcpt;
    size_t n_rcpt;
    void (*done)(struct msg_submit *m); /* committer thread */
    /* Optional, committer thread: the envelope and its numbered queue rows
     * are written in the open group commit, not yet durable. Called only
     * when a crash or a failed commit cannot make a queue number seen here
     * name another envelope later (msgstore.c: the seq floor), so the
     * recipients may have it before the sender's ack. */
    void (*early)(struct msg_submit *m);
    bool raised_floor; /* private to msgstore.c */
};

/* The checks that need no database: frame kind, envelope syntax, sender is
 * the session's device, no device wrapped twice, wrap count. Fills
 * m->route. Returns MSG_OK or a verdict with m->message set. Pure: fuzzed
 * by fuzz/server/fuzz_ws_binary.c. */
enum msg_verdict msgstore_precheck(struct msg_submit *m, size_t max_len);

/* Queue the durable part: membership, device completeness, expiry, then
 * the envelope and one queue row per recipient device, in one job. m->done
 * runs exactly once (also when the store is closed). */
void msgstore_submit(struct store *st, struct msg_submit *m);
void msgstore_submit_free(struct msg_submit *m);

/* Delete queue entries `seqs` of `device_row` (and envelopes nobody still
 * needs). Fire and forget. */
void msgstore_ack(struct store *st, int64_t device_row, const int64_t *seqs, size_t n);

/* Delete envelopes whose expires_at has passed (their queue rows go with
 * them). `done` (may be NULL) runs on the committer with the count. */
void msgstore_purge(struct store *st, void (*done)(void *arg, int rc), void *arg);

/* Record that a device connected (fire and forget). */
void msgstore_touch_device(struct store *st, int64_t device_row);

/* One queued entry of a device, read back for delivery. */
struct msg_queued {
    int64_t seq, ts_ms;
    uint8_t *body; /* the full envelope (malloc'd) */
    size_t len;
};

/* Up to `max` entries of `device_row` with seq > after, in seq order, that
 * have not expired. Any thread but the committer (uses a pooled
 * connection). Returns the count (>= 0) or a PARLEY_E* code. */
int msgstore_read_queue(struct store *st, int64_t device_row, int64_t after, struct msg_queued *out,
                        int max);

/* The device's one-time pre-keys left, or a negative PARLEY_E* code. */
int64_t msgstore_prekeys_left(struct store *st, int64_t device_row);

#endif
