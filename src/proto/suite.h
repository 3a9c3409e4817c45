/* suite.h - the two Parley cipher suites, prefetched algorithm handles,
 * the randomness source and the algorithm-use counters.
 *
 * A suite fixes every algorithm of the end-to-end layer:
 *   1 (default): DHKEM(X25519, HKDF-SHA256), HKDF-SHA256, AES-256-GCM, Ed25519
 *   2 (fips):    DHKEM(P-384, HKDF-SHA384), HKDF-SHA384, AES-256-GCM,
 *                ECDSA P-384 with SHA-384
 * (ids from RFC 9180 §7.1-7.3). The only mutable globals here are the lazily
 * fetched algorithm handles (pthread_once), the use counters (atomics) and
 * the test-only randomness hook. */
#ifndef PARLEY_PROTO_SUITE_H
#define PARLEY_PROTO_SUITE_H

#include "common/compat.h"

#include <openssl/evp.h>

enum suite_id {
    SUITE_DEFAULT = 1,
    SUITE_FIPS = 2,
};

/* RFC 9180 §7.1, §7.2, §7.3 identifiers. */
enum hpke_kem_id {
    HPKE_KEM_P256 = 0x0010,
    HPKE_KEM_P384 = 0x0011,
    HPKE_KEM_P521 = 0x0012,
    HPKE_KEM_X25519 = 0x0020,
};
enum hpke_kdf_id {
    HPKE_KDF_SHA256 = 0x0001,
    HPKE_KDF_SHA384 = 0x0002,
    HPKE_KDF_SHA512 = 0x0003,
};
enum hpke_aead_id {
    HPKE_AEAD_AES128GCM = 0x0001,
    HPKE_AEAD_AES256GCM = 0x0002,
};

enum sig_alg {
    SIG_ED25519 = 1,
    SIG_ECDSA_P384 = 2,
};

enum prim_hash {
    PRIM_SHA256 = 0,
    PRIM_SHA384 = 1,
    PRIM_SHA512 = 2,
};

#define SUITE_MAX_HASH   64  /* SHA-512 */
#define SUITE_MAX_KEM_PK 133 /* P-521 uncompressed point */
#define SUITE_MAX_KEM_SK 66
#define SUITE_MAX_SIG_PK 97
#define SUITE_MAX_SIG_SK 48
#define SUITE_MAX_SIG    96

struct suite {
    uint8_t id;
    const char *name;
    uint16_t kem_id, kdf_id, aead_id;
    enum sig_alg sig;
    enum prim_hash hash; /* the suite hash: Merkle tree, fingerprints, content KDF */
    size_t hash_len;
    size_t kem_pk_len; /* Npk = Nenc */
    size_t kem_sk_len; /* Nsk */
    size_t sig_pk_len;
    size_t sig_sk_len;
    size_t sig_len; /* Ed25519 R||S, or ECDSA r||s fixed width */
};

/* The suite with this id, or NULL. */
const struct suite *suite_get(unsigned id);

/* Algorithms whose use is counted (see proto_alg_count). */
enum proto_alg {
    PROTO_ALG_X25519,
    PROTO_ALG_ED25519,
    PROTO_ALG_P256,
    PROTO_ALG_P384,
    PROTO_ALG_P521,
    PROTO_ALG_ECDSA,
    PROTO_ALG_HMAC,
    PROTO_ALG_AESGCM,
    PROTO_ALG_ARGON2ID,
    PROTO_ALG_COUNT
};

/* Record that code of this module is about to use algorithm `a` (every
 * fetch or key object of a named algorithm goes through here). */
void proto_alg_note(enum proto_alg a);
unsigned long proto_alg_count(enum proto_alg a);
void proto_alg_reset_for_testing(void);

/* Prefetched handles, fetched once per process. Returns NULL if OpenSSL
 * lacks one of them. The handles are never freed (process lifetime). */
struct suite_algs {
    EVP_MAC *hmac;
    EVP_MD *md[3]; /* by enum prim_hash */
    EVP_CIPHER *aes128gcm;
    EVP_CIPHER *aes256gcm;
};
const struct suite_algs *suite_algs(void);

/* Fill `buf` with `n` bytes from the CSPRNG (or the test hook).
 * Returns 0 or PARLEY_ECRYPTO. */
int proto_rand(void *buf, size_t n);

/* Tests only: replace the randomness source (NULL restores RAND_bytes).
 * Not thread-safe; never call it in a program. */
void proto_rand_set_for_testing(int (*fn)(void *arg, uint8_t *buf, size_t n), void *arg);

#endif
