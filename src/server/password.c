/* password.c - Argon2id through libargon2 (the reference implementation). */
#include "password.h"

#include <argon2.h>
#include <openssl/crypto.h>
#include <openssl/rand.h>
#include <pthread.h>

#define PASSWORD_MAX_LEN 1024
#define SALT_LEN         16
#define HASH_LEN         32

int password_hash(const char *pw, char out[PASSWORD_ENCODED_MAX])
{
    uint8_t salt[SALT_LEN];
    size_t n = strlen(pw);
    int rc;

    if (n == 0 || n > PASSWORD_MAX_LEN)
        return PARLEY_EINVAL;
    if (RAND_bytes(salt, sizeof(salt)) != 1)
        return PARLEY_ECRYPTO;
    rc = argon2id_hash_encoded(PASSWORD_T_COST, PASSWORD_M_COST_KIB, PASSWORD_PARALLELISM, pw, n,
                               salt, sizeof(salt), HASH_LEN, out, PASSWORD_ENCODED_MAX);
    return rc == ARGON2_OK ? 0 : PARLEY_ECRYPTO;
}

int password_verify(const char *encoded, const char *pw)
{
    size_t n = strlen(pw);
    int rc;

    if (strncmp(encoded, "$argon2id$", 10) != 0)
        return PARLEY_EINVAL;
    if (n > PASSWORD_MAX_LEN)
        return PARLEY_EAUTH;
    rc = argon2id_verify(encoded, pw, n);
    if (rc == ARGON2_OK)
        return 0;
    if (rc == ARGON2_VERIFY_MISMATCH)
        return PARLEY_EAUTH;
    return PARLEY_EINVAL;
}

static char dummy_hash[PASSWORD_ENCODED_MAX];
static pthread_once_t dummy_once = PTHREAD_ONCE_INIT;

static void make_dummy(void)
{
    if (password_hash("not the password of anyone", dummy_hash) < 0)
        dummy_hash[0] = 0;
}

void password_verify_dummy(const char *pw)
{
    pthread_once(&dummy_once, make_dummy);
    if (dummy_hash[0])
        (void)password_verify(dummy_hash, pw);
}

int password_generate(char *out, size_t outlen, size_t len)
{
    static const char alphabet[] = "abcdefghijkmnpqrstuvwxyzABCDEFGHJKLMNPQRSTUVWXYZ23456789";
    const unsigned n = sizeof(alphabet) - 1; /* 56 */
    size_t i = 0;

    if (len + 1 > outlen)
        return PARLEY_EINVAL;
    while (i < len) {
        unsigned char r[32];
        if (RAND_bytes(r, sizeof(r)) != 1)
            return PARLEY_ECRYPTO;
        /* Rejection sampling keeps every character equally likely. */
        for (size_t k = 0; k < sizeof(r) && i < len; k++)
            if (r[k] < 256 - 256 % n)
                out[i++] = alphabet[r[k] % n];
        OPENSSL_cleanse(r, sizeof(r));
    }
    out[len] = 0;
    return 0;
}
