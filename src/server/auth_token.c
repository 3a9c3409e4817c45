/* auth_token.c - see auth_token.h. */
#include "auth_token.h"
#include "b64.h"
#include "common/str.h"
#include "store.h"

#include <openssl/evp.h>
#include <openssl/rand.h>
#include <openssl/crypto.h>

void auth_token_hash(const char *token, size_t len, uint8_t hash[AUTH_HASH_LEN])
{
    unsigned int n = AUTH_HASH_LEN;
    if (EVP_Digest(token, len, hash, &n, EVP_sha256(), NULL) != 1)
        BUG("sha256 failed");
}

int auth_token_new(char token[AUTH_TOKEN_LEN + 1], uint8_t hash[AUTH_HASH_LEN])
{
    uint8_t raw[AUTH_TOKEN_RAW];

    if (RAND_bytes(raw, sizeof(raw)) != 1)
        return PARLEY_ECRYPTO;
    b64url_encode(raw, sizeof(raw), token);
    OPENSSL_cleanse(raw, sizeof(raw));
    auth_token_hash(token, AUTH_TOKEN_LEN, hash);
    return 0;
}

int auth_token_create(struct store_conn *c, int64_t user_row, int64_t device_row,
                      char token[AUTH_TOKEN_LEN + 1])
{
    uint8_t hash[AUTH_HASH_LEN];
    int64_t now = (int64_t)time(NULL);
    int rc = auth_token_new(token, hash);

    if (rc < 0)
        return rc;
    struct store_val p[] = {STORE_BLOB(hash, sizeof(hash)), STORE_INT(user_row),
                            device_row ? STORE_INT(device_row) : STORE_NULLV, STORE_INT(now),
                            STORE_INT(device_row ? 0 : now + AUTH_LOGIN_TTL)};
    return store_exec(c,
                      "INSERT INTO client_sessions (token_hash, user_id, device_id, created_at, "
                      "expires_at) VALUES ($1, $2, $3, $4, $5)",
                      p, ARRAY_SIZE(p), NULL);
}

static const char sql_lookup[] =
    "SELECT s.id, s.user_id, COALESCE(s.device_id, 0), s.expires_at, s.revoked, u.user_id, "
    "u.status, u.network_id, n.network_id, d.device_id, s.token_hash, d.platform "
    "FROM client_sessions s JOIN users u ON u.id = s.user_id "
    "JOIN networks n ON n.id = u.network_id "
    "LEFT JOIN devices d ON d.id = s.device_id WHERE s.token_hash = $1";

int auth_token_lookup(struct store *st, const char *token, size_t len, struct client_auth *out)
{
    uint8_t hash[AUTH_HASH_LEN];
    struct store_conn *c = NULL;
    struct store_rows *r = NULL;
    struct store_val p[1];
    const uint8_t *b;
    size_t bl;
    int rc;

    memset(out, 0, sizeof(*out));
    if (len != AUTH_TOKEN_LEN)
        return PARLEY_ENOTFOUND;
    auth_token_hash(token, len, hash);
    p[0] = STORE_BLOB(hash, sizeof(hash));
    rc = store_conn_get(st, &c);
    if (rc < 0)
        return rc;
    rc = store_query(c, sql_lookup, p, 1, &r);
    if (rc == 0)
        rc = store_rows_next(r);
    if (rc < 0)
        goto out;
    if (rc == 0) {
        rc = PARLEY_ENOTFOUND;
        goto out;
    }
    /* The index found the row by hash; compare again in constant time so a
     * backend's collation quirk can never match a different token. */
    b = store_rows_blob(r, 10, &bl);
    if (!b || bl != AUTH_HASH_LEN || CRYPTO_memcmp(b, hash, AUTH_HASH_LEN) != 0) {
        rc = PARLEY_ENOTFOUND;
        goto out;
    }
    int64_t expires = store_rows_int(r, 3);
    if (store_rows_int(r, 4) != 0 || (expires != 0 && expires < (int64_t)time(NULL))) {
        rc = PARLEY_ENOTFOUND;
        goto out;
    }
    out->session_row = store_rows_int(r, 0);
    out->user_row = store_rows_int(r, 1);
    out->device_row = store_rows_int(r, 2);
    b = store_rows_blob(r, 5, &bl);
    if (b && bl == KEYS_ID_LEN)
        memcpy(out->user_id, b, KEYS_ID_LEN);
    strlcpy_p(out->status, store_rows_text(r, 6) ? store_rows_text(r, 6) : "", sizeof(out->status));
    out->network_row = store_rows_int(r, 7);
    strlcpy_p(out->network_id, store_rows_text(r, 8) ? store_rows_text(r, 8) : "",
              sizeof(out->network_id));
    b = store_rows_blob(r, 9, &bl);
    if (b && bl == KEYS_ID_LEN)
        memcpy(out->device_id, b, KEYS_ID_LEN);
    strlcpy_p(out->platform, store_rows_text(r, 11) ? store_rows_text(r, 11) : "",
              sizeof(out->platform));
    rc = 0;
    if (strcmp(out->status, "suspended") == 0 || strcmp(out->status, "deleted") == 0)
        rc = PARLEY_EPERM;
out:
    store_rows_free(r);
    store_conn_put(st, c);
    return rc;
}
