/* client.h - the inside of `struct parley_client`, shared by the files of
 * libparley that implement its public functions: account.c (register and
 * sign in), client.c (connection, receiving, events), send.c (directory,
 * sending, conversations).
 *
 * Locking: `mu` guards the local store, the device key store and the
 * pending-send table; it is never held across network I/O. `ev_mu` guards
 * the event queue. The connection thread takes `mu` to store a delivery. */
#ifndef PARLEY_CLIENT_CLIENT_H
#define PARLEY_CLIENT_CLIENT_H

#include <pthread.h>

#include <parley/parley.h>

#include "api.h"
#include "config.h"
#include "conn.h"
#include "lstore.h"
#include "proto/keys.h"

#define CLIENT_INITIAL_PREKEYS  100
#define CLIENT_REPLENISH        100
#define CLIENT_SEND_TIMEOUT_MS  30000
#define CLIENT_SEND_ATTEMPTS    3
#define CLIENT_SEND_RETRY_MS    1000 /* before the same envelope again after internal_error */
#define CLIENT_FALLBACK_MAX_AGE (7 * 86400)  /* rotate the fallback pre-key weekly */
#define CLIENT_FALLBACK_KEEP    (30 * 86400) /* keep old ones for envelopes in flight */

struct client_event {
    struct client_event *next;
    struct parley_event ev;
};

/* A sent envelope waiting for the server's ack or nack. */
struct client_pending {
    struct client_pending *next;
    uint8_t msg_id[KEYS_ID_LEN];
    bool done;
    int result;    /* 0 (ack) or a PARLEY_E* code (nack) */
    char code[32]; /* nack code */
    int64_t ts_ms;
};

struct parley_client {
    pthread_mutex_t mu;
    struct lstore *st;
    struct parley_config *cfg;
    const struct suite *suite;
    struct api api;
    char ca_file[4096];
    char username[256];
    uint8_t user_id[KEYS_ID_LEN];
    uint8_t device_id[KEYS_ID_LEN];
    char user_hex[PARLEY_ID_HEX];
    char device_hex[PARLEY_ID_HEX];
    char *device_token;
    struct keys_device dev;
    bool has_dev;
    struct client_pending *pending;
    pthread_cond_t ack_cv;
    bool online;
    uint64_t online_gen; /* bumped at every auth_ok (send.c resends on it) */
    bool journal;        /* parley_client_journal: keep message events until done */
    /* The network's compliance bots (send.c), fetched once and again after
     * a devices_changed refusal; guarded by mu. */
    uint8_t (*bots)[KEYS_ID_LEN];
    size_t n_bots;
    bool bots_known;

    /* The receive path (client.c): sender device certificates already
     * verified (locks itself), and the last pinned identity key parsed
     * (guarded by mu). */
    struct keys_cert_cache certs;
    struct sig_key rx_id;
    uint8_t rx_id_user[KEYS_ID_LEN];
    bool rx_id_ok;

    struct conn *conn;

    pthread_mutex_t ev_mu;
    pthread_cond_t ev_cv;
    struct client_event *ev_head, *ev_tail;
    int ev_pipe[2];
};

/* account.c */
/* Allocate and initialise locks and the event pipe. */
int client_alloc(struct parley_client **out);
/* account.c: copy the configuration, write the pin file in data_dir and
 * set up c->api; create data_dir (0700). */
int client_set_config(struct parley_client *c, const char *data_dir,
                      const struct parley_config *cfg);
int client_make_data_dir(const char *data_dir);
struct api_login;
/* Single sign-on, after the server vouched for `username` (sso.c). */
int client_sso_account(const char *data_dir, const struct parley_config *cfg, const char *username,
                       const struct api_login *login, const char *passphrase,
                       const struct parley_device_info *dev, struct parley_client **out);
/* Persist the device key store (caller holds mu). */
int client_save_keys(struct parley_client *c);

/* client.c */
void client_push_event(struct parley_client *c, struct client_event *e);
/* A new event of `type`; NULL on ENOMEM. */
struct client_event *client_event_new(enum parley_event_type type);
/* Upload a bundle of the one-time pre-keys from `min_id` on and the
 * current fallback (PUT devices/self/bundle). */
int client_upload_bundle(struct parley_client *c, uint32_t min_id);

/* send.c */
/* The identity public key of `user_id`: the pinned one; on first use the
 * one the server gives, pinned now. PARLEY_EAUTH if the server's key
 * differs from the pinned one. `username` may be NULL. */
int client_identity(struct parley_client *c, const uint8_t user_id[KEYS_ID_LEN], const uint8_t *key,
                    size_t key_len, const char *username, struct sig_key *out);
/* Fetch a user by id (hex) or name. */
int client_get_user(struct parley_client *c, const char *id_hex, const char *name,
                    struct api_user *out);
/* 0 if `user` is a moderator of room `conv` (hex) per the server,
 * PARLEY_EPERM if not, or the error of the lookup. Network I/O: never
 * call with `mu` held. */
int client_is_moderator(struct parley_client *c, const char *conv, const uint8_t user[KEYS_ID_LEN]);
/* The conversation `to` (a username or a conversation id) names; creates
 * the direct conversation on first use. Free lc->title. */
int client_resolve(struct parley_client *c, const char *to, uint8_t conv[KEYS_ID_LEN],
                   struct lstore_conv *lc);
/* Seal `payload` for the conversation's devices, send it, wait for the ack
 * and store it as sent. */
int client_send_payload(struct parley_client *c, const char *to, json_t *payload,
                        char msg_id[PARLEY_ID_HEX]);
/* One API call with the device token; a non-2xx answer becomes its
 * PARLEY_E* code (and *resp NULL). */
int client_call(struct parley_client *c, const char *method, const char *path, json_t *body,
                json_t **resp);
/* files.c: apply one change of a conversation's Files view (the
 * filevaultinfo of a 4004 control message). Caller holds mu. */
void client_vault_apply(struct parley_client *c, const char *conv, json_t *filevaultinfo);
/* The ack/nack of a sent message (connection thread). */
void client_on_ack(struct parley_client *c, const uint8_t msg_id[KEYS_ID_LEN], int result,
                   const char *code, int64_t ts_ms);

#endif
