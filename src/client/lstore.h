/* lstore.h - the local state of one account: one SQLite file.
 *
 * Secrets at rest: a random 256-bit storage key encrypts every secret row
 * (the device key store, the identity secret, tokens, the configuration)
 * and every message body with AES-256-GCM, the row's name or message id as
 * AAD. The storage key itself is kept only in a password-based container
 * (src/proto/pbe.h) under the user's password, so the file never holds a
 * key or a message in the clear, a wrong password fails with PARLEY_EAUTH,
 * and saving the key store after each consumed pre-key costs one AES-GCM,
 * not one Argon2id. Routing data (ids, times, states) stays in the clear so
 * that the client can de-duplicate and list without the storage key.
 *
 * Not thread-safe: the client serialises calls with its own mutex. */
#ifndef PARLEY_CLIENT_LSTORE_H
#define PARLEY_CLIENT_LSTORE_H

#include "common/buf.h"

#define LSTORE_KEY_LEN    32
#define LSTORE_MAX_SECRET (2u << 20)
#define LSTORE_MAX_BODY   (4u << 20)

struct lstore;

/* Create a new account file (PARLEY_EEXIST if `path` exists) with a fresh
 * storage key sealed under `password`. */
int lstore_create(const char *path, const char *password, const char *network_id,
                  const char *username, struct lstore **out);
/* Open an account file and unlock it. Returns 0, PARLEY_ENOTFOUND,
 * PARLEY_EAUTH (wrong password), PARLEY_ESTORE, PARLEY_EPROTO. */
int lstore_open(const char *path, const char *password, struct lstore **out);
/* The network id and username of an account file without unlocking it.
 * free() both. */
int lstore_peek(const char *path, char **network_id, char **username);
/* Wipe the storage key and close. NULL is a no-op. */
void lstore_close(struct lstore *st);

/* Transactions (not nested). */
int lstore_begin(struct lstore *st);
int lstore_commit(struct lstore *st);
void lstore_rollback(struct lstore *st);
/* One named step inside a transaction: undo it alone on failure
 * (rollback_to), or keep it (release). */
int lstore_savepoint(struct lstore *st);
int lstore_release(struct lstore *st);
void lstore_rollback_to(struct lstore *st);

/* Plain settings (ids, counters): NULL-free strings. get returns
 * PARLEY_ENOTFOUND when unset; free() *out. */
int lstore_set(struct lstore *st, const char *name, const char *value);
int lstore_get(struct lstore *st, const char *name, char **out);

/* Secrets, encrypted under the storage key with `name` as AAD. get appends
 * the plaintext to `out` (release it with buf_release_secure). */
int lstore_secret_put(struct lstore *st, const char *name, const uint8_t *p, size_t n);
int lstore_secret_get(struct lstore *st, const char *name, struct buf *out);
/* Forget a secret; 0 also when there was none. */
int lstore_secret_delete(struct lstore *st, const char *name);

/* Pinned identity keys (trust on first use). get: PARLEY_ENOTFOUND if the
 * user has none; *verified tells whether the user compared the safety
 * number. put replaces. */
int lstore_pin_get(struct lstore *st, const char *user_id, struct buf *key, int *verified);
int lstore_pin_put(struct lstore *st, const char *user_id, const char *username, const uint8_t *key,
                   size_t n, int verified);
/* The username recorded with a pin, or PARLEY_ENOTFOUND. free() *out. */
int lstore_pin_username(struct lstore *st, const char *user_id, char **out);

/* Conversations. */
struct lstore_conv {
    char conv_id[33];
    char type[8];  /* "direct", "group", "room" */
    char peer[33]; /* direct: the other user's id */
    char *title;   /* may be NULL */
    uint32_t expiration, burn_on_read;
};
int lstore_conv_put(struct lstore *st, const struct lstore_conv *c);
/* PARLEY_ENOTFOUND if unknown; free out->title. */
int lstore_conv_get(struct lstore *st, const char *conv_id, struct lstore_conv *out);
int lstore_conv_delete(struct lstore *st, const char *conv_id);
/* Call fn for every conversation (the title is decrypted for the call). */
int lstore_conv_each(struct lstore *st, int (*fn)(void *arg, const struct lstore_conv *c),
                     void *arg);
/* Call fn for every pinned identity key; username may be NULL. */
int lstore_pin_each(struct lstore *st,
                    int (*fn)(void *arg, const char *user_id, const char *username,
                              const uint8_t *key, size_t n, int verified),
                    void *arg);

/* Messages. The body is stored encrypted. */
enum lstore_msg_state {
    LSTORE_MSG_SENT = 1,
    LSTORE_MSG_RECEIVED = 2,
    LSTORE_MSG_READ = 3,
    LSTORE_MSG_DELETED = 4,
};
struct lstore_msg {
    char msg_id[33];
    char conv_id[33];
    char sender[33];
    char sender_device[33];
    int msgtype;
    const char *body; /* payload JSON */
    int64_t ts_ms;
    uint64_t expires_at;
    int burn_on_read;
    int state;
};
/* Store a message and remember its id. Returns 0, or PARLEY_EREPLAY if the
 * id was seen before (nothing is changed then). */
int lstore_msg_put(struct lstore *st, const struct lstore_msg *m);
/* 0 if msg_id was never seen, PARLEY_EREPLAY if it was. */
int lstore_msg_seen(struct lstore *st, const char *msg_id);
/* Call fn for each message of a conversation (of every conversation when
 * conv_id is NULL), oldest first (the body is decrypted for the call
 * only). `limit` 0: all. */
int lstore_msg_each(struct lstore *st, const char *conv_id, size_t limit,
                    int (*fn)(void *arg, const struct lstore_msg *m), void *arg);
int lstore_msg_set_state(struct lstore *st, const char *msg_id, int state);

/* A stored (not deleted) message's type and payload JSON, NUL-terminated,
 * appended to `out` (release it with buf_release_secure). Returns 0 or
 * PARLEY_ENOTFOUND. */
int lstore_msg_body(struct lstore *st, const char *msg_id, int *msgtype, struct buf *out);
/* The sender (user id hex) of a stored message, or PARLEY_ENOTFOUND. */
int lstore_msg_sender(struct lstore *st, const char *msg_id, char out[33]);
/* A stored message's conversation and burn-on-read flag. */
int lstore_msg_meta(struct lstore *st, const char *msg_id, char conv_id[33], int *burn_on_read);
/* Set a message's expiry (Unix seconds; burn-on-read after reading). */
int lstore_msg_set_expiry(struct lstore *st, const char *msg_id, uint64_t expires_at);
/* Delete the messages whose expiry has passed (their ids stay seen).
 * Returns how many were deleted, or a PARLEY_E* code. */
int lstore_msg_purge_expired(struct lstore *st, uint64_t now);

/* The journal: received messages the application has yet to mark handled.
 * add records one (in the transaction that stores it); each calls fn for
 * every journaled message in arrival order, body decrypted; done forgets
 * the entry and the stored message (the id stays seen). */
int lstore_journal_add(struct lstore *st, const char *msg_id);
int lstore_journal_each(struct lstore *st, int (*fn)(void *arg, const struct lstore_msg *m),
                        void *arg);
int lstore_journal_done(struct lstore *st, const char *msg_id);
/* The Files view of a room or group: items (a file's guid, or "dir:" and
 * a folder's path) with a JSON description sealed under the storage key.
 * put replaces; each calls fn with every item of the conversation in item
 * order (a non-zero return stops and is returned). */
int lstore_vault_put(struct lstore *st, const char *conv_id, const char *item, const char *json);
int lstore_vault_delete(struct lstore *st, const char *conv_id, const char *item);
int lstore_vault_each(struct lstore *st, const char *conv_id,
                      int (*fn)(void *arg, const char *item, const char *json), void *arg);

/* Record that one-time pre-key `id` was consumed (audit of forward secrecy). */
int lstore_prekey_used(struct lstore *st, uint32_t id, uint64_t now);

#endif
