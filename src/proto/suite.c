/* suite.c - suite table, algorithm handles, randomness, use counters. */
#include "suite.h"

#include <limits.h>
#include <pthread.h>
#include <stdatomic.h>

#include <openssl/rand.h>

static const struct suite suites[] = {
    {
        .id = SUITE_DEFAULT,
        .name = "x25519-sha256-aes256gcm-ed25519",
        .kem_id = HPKE_KEM_X25519,
        .kdf_id = HPKE_KDF_SHA256,
        .aead_id = HPKE_AEAD_AES256GCM,
        .sig = SIG_ED25519,
        .hash = PRIM_SHA256,
        .hash_len = 32,
        .kem_pk_len = 32,
        .kem_sk_len = 32,
        .sig_pk_len = 32,
        .sig_sk_len = 32,
        .sig_len = 64,
    },
    {
        .id = SUITE_FIPS,
        .name = "p384-sha384-aes256gcm-ecdsa",
        .kem_id = HPKE_KEM_P384,
        .kdf_id = HPKE_KDF_SHA384,
        .aead_id = HPKE_AEAD_AES256GCM,
        .sig = SIG_ECDSA_P384,
        .hash = PRIM_SHA384,
        .hash_len = 48,
        .kem_pk_len = 97,
        .kem_sk_len = 48,
        .sig_pk_len = 97,
        .sig_sk_len = 48,
        .sig_len = 96,
    },
};

const struct suite *suite_get(unsigned id)
{
    for (size_t i = 0; i < ARRAY_SIZE(suites); i++)
        if (suites[i].id == id)
            return &suites[i];
    return NULL;
}

static atomic_ulong alg_counts[PROTO_ALG_COUNT];

void proto_alg_note(enum proto_alg a)
{
    if ((unsigned)a < PROTO_ALG_COUNT)
        atomic_fetch_add_explicit(&alg_counts[a], 1, memory_order_relaxed);
}

unsigned long proto_alg_count(enum proto_alg a)
{
    if ((unsigned)a >= PROTO_ALG_COUNT)
        return 0;
    return atomic_load_explicit(&alg_counts[a], memory_order_relaxed);
}

void proto_alg_reset_for_testing(void)
{
    for (size_t i = 0; i < PROTO_ALG_COUNT; i++)
        atomic_store(&alg_counts[i], 0);
}

static struct suite_algs algs;
static bool algs_ok;
static pthread_once_t algs_once = PTHREAD_ONCE_INIT;

static void fetch_algs(void)
{
    static const char *const mds[] = {"SHA256", "SHA384", "SHA512"};

    algs.hmac = EVP_MAC_fetch(NULL, "HMAC", NULL);
    for (size_t i = 0; i < ARRAY_SIZE(mds); i++)
        algs.md[i] = EVP_MD_fetch(NULL, mds[i], NULL);
    algs.aes128gcm = EVP_CIPHER_fetch(NULL, "AES-128-GCM", NULL);
    algs.aes256gcm = EVP_CIPHER_fetch(NULL, "AES-256-GCM", NULL);
    algs_ok =
        algs.hmac && algs.md[0] && algs.md[1] && algs.md[2] && algs.aes128gcm && algs.aes256gcm;
}

const struct suite_algs *suite_algs(void)
{
    if (pthread_once(&algs_once, fetch_algs) != 0)
        return NULL;
    return algs_ok ? &algs : NULL;
}

static int (*rand_hook)(void *arg, uint8_t *buf, size_t n);
static void *rand_hook_arg;

int proto_rand(void *buf, size_t n)
{
    if (n == 0)
        return 0;
    if (rand_hook)
        return rand_hook(rand_hook_arg, buf, n) == 0 ? 0 : PARLEY_ECRYPTO;
    if (n > INT_MAX || RAND_bytes(buf, (int)n) != 1)
        return PARLEY_ECRYPTO;
    return 0;
}

void proto_rand_set_for_testing(int (*fn)(void *arg, uint8_t *buf, size_t n), void *arg)
{
    rand_hook = fn;
    rand_hook_arg = arg;
}
