/* auth_token.h - client bearer tokens: creation and lookup.
 *
 * A token is 32 random bytes, shown to the client once as base64url
 * without padding; the database keeps only its SHA-256
 * (client_sessions.token_hash). A login token is bound to a user, a device
 * token to one device of that user (docs/client-protocol.md, "Accounts and
 * sessions"). */
#ifndef PARLEY_SERVER_AUTH_TOKEN_H
#define PARLEY_SERVER_AUTH_TOKEN_H

#include "common/compat.h"
#include "proto/keys.h"

#define AUTH_TOKEN_RAW 32
#define AUTH_TOKEN_LEN 43 /* base64url characters, no padding */
#define AUTH_HASH_LEN  32
/* Login tokens expire after a day; device tokens when revoked. */
#define AUTH_LOGIN_TTL (24 * 3600)

struct store;
struct store_conn;

/* Who a valid token speaks for. Row ids are the database's integer keys. */
struct client_auth {
    int64_t session_row;
    int64_t user_row;
    int64_t device_row; /* 0 for a login token */
    int64_t network_row;
    uint8_t user_id[KEYS_ID_LEN];
    uint8_t device_id[KEYS_ID_LEN]; /* zero for a login token */
    char network_id[129];
    char status[16];   /* the user's status */
    char platform[32]; /* the device's, as it registered ("" for a login token) */
};

/* A fresh token (NUL-terminated, AUTH_TOKEN_LEN characters) and its hash. */
int auth_token_new(char token[AUTH_TOKEN_LEN + 1], uint8_t hash[AUTH_HASH_LEN]);
void auth_token_hash(const char *token, size_t len, uint8_t hash[AUTH_HASH_LEN]);

/* Insert a session row for a new token of `user_row` (device_row 0: a login
 * token) on `c` (inside a group-commit job or a transaction). Fills token. */
int auth_token_create(struct store_conn *c, int64_t user_row, int64_t device_row,
                      char token[AUTH_TOKEN_LEN + 1]);

/* Look a token up. Returns 0 and fills *out; PARLEY_ENOTFOUND for an
 * unknown, revoked or expired token (or a malformed one); PARLEY_EPERM when
 * its user is suspended or deleted; another PARLEY_E* on store failure. */
int auth_token_lookup(struct store *st, const char *token, size_t len, struct client_auth *out);

#endif
