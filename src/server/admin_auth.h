/* admin_auth.h - administrator authentication: secrets, sessions, bearer
 * tokens, TOTP, lockout and sign-in rate limiting.
 *
 * Secrets handed to clients (session cookies, CSRF tokens, API tokens) are
 * 32 random bytes in unpadded base64url; the database keeps only their
 * SHA-256 (hex), so a copy of the database signs no one in. Everything
 * here runs on the loop thread unless noted. See docs/internals/admin.md. */
#ifndef PARLEY_SERVER_ADMIN_AUTH_H
#define PARLEY_SERVER_ADMIN_AUTH_H

#include "common/compat.h"
#include "rbac.h"

struct store_conn;
struct config;

#define ADMIN_SECRET_LEN   43 /* base64url of 32 bytes, no padding */
#define ADMIN_HASH_LEN     64 /* hex SHA-256 */
#define ADMIN_COOKIE_NAME  "parley_admin"
#define ADMIN_TOKEN_PREFIX "pat_"
#define ADMIN_TOTP_DIGITS  6
#define ADMIN_TOTP_STEP    30

/* A fresh random secret (ADMIN_SECRET_LEN characters plus NUL). */
int admin_secret_new(char out[ADMIN_SECRET_LEN + 1]);
/* Lowercase hex SHA-256 of `s`. */
void admin_hash(const char *s, char out[ADMIN_HASH_LEN + 1]);

/* The value of cookie `name` in the Cookie header text `hdr` ("a=1; b=2"),
 * into out (NUL-terminated). False when absent, empty or not shorter than
 * `len`. Bytes from outside: fuzz/server/fuzz_admin_cookie.c. */
bool admin_auth_cookie(const char *hdr, const char *name, char *out, size_t len);

/* Who a request comes from, once authenticated. */
enum admin_actor_kind {
    ADMIN_ACTOR_NONE,
    ADMIN_ACTOR_ADMIN,
    ADMIN_ACTOR_TOKEN,
};

struct admin_identity {
    enum admin_actor_kind kind;
    int64_t id; /* admins.id or api_tokens.id */
    char name[128];
    bool is_super;         /* deployment scope */
    int64_t token_network; /* networks.id of a network-scoped token, else 0 */
    rbac_set perms;
    bool must_change_password;
    bool via_cookie;
    char session_hash[ADMIN_HASH_LEN + 1];
};

/* Find the session whose cookie value is `cookie` (not expired, not idle
 * past cfg's limit), refresh its last_seen and fill *id. When `csrf` is
 * non-NULL it must match the session's CSRF token. Returns 0,
 * PARLEY_EAUTH (no such session), PARLEY_EPERM (CSRF token missing or
 * wrong) or a store error. */
int admin_auth_session(struct store_conn *c, const struct config *cfg, const char *cookie,
                       const char *csrf, bool need_csrf, struct admin_identity *id);

/* Find the unrevoked API token `token` and fill *id; records last_used.
 * Returns 0, PARLEY_EAUTH or a store error. */
int admin_auth_token(struct store_conn *c, const char *token, struct admin_identity *id);

/* The permissions of admin `admin_id` (its role, or the built-in role that
 * matches is_super). */
int admin_auth_load_admin(struct store_conn *c, int64_t admin_id, struct admin_identity *id);

/* Start a session for `admin_id`, ending every other session of it (one
 * active session per administrator). Writes the cookie value and the CSRF
 * token. Returns 0 or a store error. */
int admin_auth_session_new(struct store_conn *c, const struct config *cfg, int64_t admin_id,
                           const char *ip, char cookie[ADMIN_SECRET_LEN + 1],
                           char csrf[ADMIN_SECRET_LEN + 1]);

/* Count a sign-in attempt from `ip`; false when it is over cfg's per-minute
 * limit. Loop thread only (the table is not locked). */
bool admin_auth_rate_ok(const struct config *cfg, const char *ip, time_t now);

/* TOTP (RFC 6238, SHA-1, 6 digits, 30 s). A new base32 secret of 20 random
 * bytes; free with free() after wiping. */
int admin_totp_secret_new(char **base32);
/* Check `code` against `base32` within one step either side, refusing a
 * step at or before `last_step` (a code is good once). Sets *step to the
 * matched step. Returns 0, PARLEY_EAUTH or PARLEY_EINVAL. */
int admin_totp_check(const char *base32, const char *code, int64_t last_step, time_t now,
                     int64_t *step);
/* TOTP secrets are sealed at rest with AES-256-GCM under a key kept in
 * DATA_DIR/admin.key (32 random bytes, mode 0600, made on first use; copy
 * it to every node of a cluster, like the TLS key), with the admin id as
 * associated data so a sealed secret cannot be moved to another account.
 * Sealed form: "v1:" + hex(nonce || ciphertext || tag).
 * admin_secret_seal writes it to out; admin_secret_open reverses it (a
 * value without the "v1:" prefix is taken as a legacy plain secret).
 * Return 0, PARLEY_ETOOBIG (out too small), PARLEY_EAUTH (tampered or
 * wrong account), PARLEY_ECONFIG (key file unusable) or PARLEY_ECRYPTO. */
#define ADMIN_SEALED_MAX 256
int admin_secret_seal(const struct config *cfg, int64_t admin_id, const char *plain, char *out,
                      size_t outlen);
int admin_secret_open(const struct config *cfg, int64_t admin_id, const char *stored, char *out,
                      size_t outlen);

/* The same sealing for other secrets kept at rest (an SSO client secret):
 * `aad` names what the secret belongs to, so that a sealed value cannot be
 * moved to another place, and plain text is at most ADMIN_SEAL_PLAIN_MAX
 * bytes. admin_unseal accepts only sealed values. Same returns. */
#define ADMIN_SEAL_PLAIN_MAX 512
#define ADMIN_SEAL_OUT_MAX   (4 + 2 * (12 + ADMIN_SEAL_PLAIN_MAX + 16))
int admin_seal(const struct config *cfg, const char *aad, const char *plain, char *out,
               size_t outlen);
int admin_unseal(const struct config *cfg, const char *aad, const char *stored, char *out,
                 size_t outlen);

/* "otpauth://totp/Parley:USER?secret=...&issuer=Parley&..." (malloc'd). */
char *admin_totp_uri(const char *username, const char *base32);
/* An SVG image of the QR code of `text` (malloc'd), or NULL. */
char *admin_qr_svg(const char *text);

#endif
