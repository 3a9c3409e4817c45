/* ids.c - see ids.h. Every derivation is a SHA-256 over a fixed label and
 * the inputs, so that ids for different purposes never collide. */
#include "ids.h"

#include <argon2.h>
#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <openssl/rand.h>

static const char *const type_names[] = {"direct", "group", "room"};

int ids_conv_type(const uint8_t conv_id[IDS_CONV_LEN])
{
    int t = conv_id[0] >> 6;
    return t <= IDS_CONV_ROOM ? t : -1;
}

const char *ids_conv_type_name(enum ids_conv_type t)
{
    return (size_t)t < ARRAY_SIZE(type_names) ? type_names[t] : "?";
}

int ids_conv_type_parse(const char *name, enum ids_conv_type *out)
{
    for (size_t i = 0; i < ARRAY_SIZE(type_names); i++) {
        if (strcmp(name, type_names[i]) == 0) {
            *out = (enum ids_conv_type)i;
            return 0;
        }
    }
    return PARLEY_EINVAL;
}

/* SHA-256 of the concatenation of `n` (pointer, length) pairs. */
static int sha256(uint8_t out[32], size_t n, const void *const *p, const size_t *len)
{
    EVP_MD_CTX *ctx = EVP_MD_CTX_new();
    int ok = ctx && EVP_DigestInit_ex(ctx, EVP_sha256(), NULL);
    for (size_t i = 0; ok && i < n; i++)
        ok = EVP_DigestUpdate(ctx, p[i], len[i]);
    ok = ok && EVP_DigestFinal_ex(ctx, out, NULL);
    EVP_MD_CTX_free(ctx);
    return ok ? 0 : PARLEY_ECRYPTO;
}

int ids_conv_direct(const char *network_id, const uint8_t a[KEYS_ID_LEN],
                    const uint8_t b[KEYS_ID_LEN], uint8_t out[IDS_CONV_LEN])
{
    static const char label[] = "parley dm v1";
    static const uint8_t zero = 0;
    bool a_first = memcmp(a, b, KEYS_ID_LEN) <= 0;
    const void *p[] = {label, network_id, &zero, a_first ? a : b, a_first ? b : a};
    const size_t len[] = {sizeof(label) - 1, strlen(network_id), 1, KEYS_ID_LEN, KEYS_ID_LEN};
    uint8_t h[32];
    int rc = sha256(h, ARRAY_SIZE(p), p, len);
    if (rc < 0)
        return rc;
    memcpy(out, h, IDS_CONV_LEN);
    out[0] &= 0x3f; /* type 0: direct */
    return 0;
}

int ids_conv_new(enum ids_conv_type t, uint8_t out[IDS_CONV_LEN])
{
    if (t != IDS_CONV_GROUP && t != IDS_CONV_ROOM)
        return PARLEY_EINVAL;
    if (RAND_bytes(out, IDS_CONV_LEN) != 1)
        return PARLEY_ECRYPTO;
    out[0] = (uint8_t)((out[0] & 0x3f) | (unsigned)t << 6);
    return 0;
}

int ids_vgroupid(const uint8_t conv_id[IDS_CONV_LEN], char out[IDS_VGROUPID_LEN + 1])
{
    static const char label[] = "parley vgroupid v1", digits[] = "0123456789abcdef";
    const void *p[] = {label, conv_id};
    const size_t len[] = {sizeof(label) - 1, IDS_CONV_LEN};
    int type = ids_conv_type(conv_id);
    uint8_t h[32];
    int rc;

    if (type < 0)
        return PARLEY_EINVAL;
    rc = sha256(h, 2, p, len);
    if (rc < 0)
        return rc;
    for (size_t i = 0; i < 32; i++) {
        out[2 * i] = digits[h[i] >> 4];
        out[2 * i + 1] = digits[h[i] & 15];
    }
    out[IDS_VGROUPID_LEN] = 0;
    /* Groups and rooms replace the first hex digit by their letter. */
    if (type == IDS_CONV_GROUP)
        out[0] = 'G';
    else if (type == IDS_CONV_ROOM)
        out[0] = 'S';
    return 0;
}

int ids_login_secret(const char *network_id, const char *username, const char *password,
                     char out[IDS_LOGIN_SECRET_B64])
{
    static const char label[] = "parley login v1";
    static const uint8_t zero = 0;
    const void *p[] = {label, network_id, &zero, username};
    const size_t len[] = {sizeof(label) - 1, strlen(network_id), 1, strlen(username)};
    uint8_t h[32], secret[IDS_LOGIN_SECRET_LEN];
    int rc = sha256(h, ARRAY_SIZE(p), p, len);

    if (rc < 0)
        return rc;
    if (!*password || strlen(password) > 1024)
        return PARLEY_EINVAL;
    /* The same cost as the server's password hashes (RFC 9106 §4). */
    if (argon2id_hash_raw(3, 64 * 1024, 1, password, strlen(password), h, 16, secret,
                          sizeof(secret)) != ARGON2_OK) {
        rc = PARLEY_ECRYPTO;
        goto out;
    }
    EVP_EncodeBlock((unsigned char *)out, secret, sizeof(secret));
out:
    OPENSSL_cleanse(secret, sizeof(secret));
    return rc;
}

int ids_backup_salt(const uint8_t user_id[KEYS_ID_LEN], uint8_t out[16])
{
    static const char label[] = "parley backup v1";
    const void *p[] = {label, user_id};
    const size_t len[] = {sizeof(label) - 1, KEYS_ID_LEN};
    uint8_t h[32];
    int rc = sha256(h, 2, p, len);
    if (rc == 0)
        memcpy(out, h, 16);
    return rc;
}
