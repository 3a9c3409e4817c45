/* sig.h - signature keys of the two suites: Ed25519 (RFC 8032) and ECDSA
 * P-384 with SHA-384 (FIPS 186-4), on OpenSSL 3.0 EVP.
 *
 * Encodings: Ed25519 public keys are 32 raw bytes and signatures 64 bytes;
 * P-384 public keys are 97-byte uncompressed points and signatures are the
 * fixed-width r || s (96 bytes) with s <= n/2, not DER, so a signature has
 * exactly one encoding (no DER variants, no (r, n - s) twin).
 * Private keys are kept as raw bytes beside the EVP_PKEY and wiped on release. */
#ifndef PARLEY_PROTO_SIG_H
#define PARLEY_PROTO_SIG_H

#include "prim.h"

struct sig_key {
    enum sig_alg alg;
    EVP_PKEY *pkey;
    uint8_t pk[SUITE_MAX_SIG_PK];
    size_t pk_len;
    uint8_t sk[SUITE_MAX_SIG_SK];
    size_t sk_len; /* 0 for a public key alone */
};

size_t sig_pk_len(enum sig_alg alg);
size_t sig_sk_len(enum sig_alg alg);
size_t sig_len(enum sig_alg alg);

void sig_key_init(struct sig_key *k);
void sig_key_release(struct sig_key *k);
/* A new key pair from proto_rand(). */
int sig_key_generate(struct sig_key *k, enum sig_alg alg);
/* Returns 0, PARLEY_EPROTO for a bad encoding, PARLEY_ENOMEM, PARLEY_ECRYPTO. */
int sig_key_from_public(struct sig_key *k, enum sig_alg alg, const uint8_t *pk, size_t len);
int sig_key_from_private(struct sig_key *k, enum sig_alg alg, const uint8_t *sk, size_t len);
/* Copy the public half of `src` into `dst` (a new object). */
int sig_key_dup_public(struct sig_key *dst, const struct sig_key *src);

/* Sign the concatenation of `msg[0..n)`; writes sig_len(alg) bytes. */
int sig_sign(const struct sig_key *k, const struct prim_iov *msg, size_t n, uint8_t *sig);
/* Returns 0 if valid, PARLEY_EAUTH if not. */
int sig_verify(const struct sig_key *k, const struct prim_iov *msg, size_t n, const uint8_t *sig,
               size_t len);

#endif
