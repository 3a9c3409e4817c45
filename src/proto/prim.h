/* prim.h - hashes, HMAC, HKDF (RFC 5869) and AES-GCM on prefetched OpenSSL
 * handles, with reusable contexts.
 *
 * A `struct prim` holds the scratch contexts of one thread: create one per
 * operation batch (a whole multi-recipient seal reuses it) so that no
 * algorithm is fetched and few objects are allocated per call. Not
 * thread-safe: one `struct prim` per thread at a time. */
#ifndef PARLEY_PROTO_PRIM_H
#define PARLEY_PROTO_PRIM_H

#include "suite.h"

#define PRIM_GCM_NONCE 12
#define PRIM_GCM_TAG   16

struct prim_iov {
    const void *p;
    size_t len;
};

struct prim {
    EVP_MAC_CTX *hmac[3]; /* by enum prim_hash, digest already set */
    EVP_CIPHER_CTX *aead;
    EVP_MD_CTX *md;
    EVP_PKEY_CTX *x25519_fromdata; /* made on first use by hpke.c */
    EVP_PKEY *x25519_base;         /* the base point u = 9, idem */
    const EVP_CIPHER *aead_cipher; /* what `aead` was last initialised with */
    int aead_enc;
};

/* Returns 0, PARLEY_ENOMEM or PARLEY_ECRYPTO. */
int prim_init(struct prim *p);
void prim_release(struct prim *p);

size_t prim_hash_len(enum prim_hash h);
/* out gets prim_hash_len(h) bytes: H(iov[0] || ... || iov[n-1]). */
int prim_hash(enum prim_hash h, const struct prim_iov *iov, size_t n, uint8_t *out);
/* The same on the reusable context of `p` (no allocation). */
int prim_digest(struct prim *p, enum prim_hash h, const struct prim_iov *iov, size_t n,
                uint8_t *out);
int prim_hmac(struct prim *p, enum prim_hash h, const uint8_t *key, size_t klen,
              const struct prim_iov *iov, size_t n, uint8_t *out);
/* RFC 5869 §2.2; an empty salt means HashLen zero bytes. */
int prim_hkdf_extract(struct prim *p, enum prim_hash h, const uint8_t *salt, size_t salt_len,
                      const struct prim_iov *ikm, size_t n, uint8_t *prk);
/* RFC 5869 §2.3; out_len <= 255 * HashLen. */
int prim_hkdf_expand(struct prim *p, enum prim_hash h, const uint8_t *prk, size_t prk_len,
                     const struct prim_iov *info, size_t n, uint8_t *out, size_t out_len);

/* AES-GCM with a 12-byte nonce and a 16-byte tag appended to the output.
 * key_len is 16 or 32. seal writes pt_len + 16 bytes; open reads ct_len >= 16
 * bytes and writes ct_len - 16, returning PARLEY_EAUTH on a bad tag (the
 * output is then wiped). */
int prim_aead_seal(struct prim *p, const uint8_t *key, size_t key_len, const uint8_t *nonce,
                   const uint8_t *aad, size_t aad_len, const uint8_t *pt, size_t pt_len,
                   uint8_t *out);
int prim_aead_open(struct prim *p, const uint8_t *key, size_t key_len, const uint8_t *nonce,
                   const uint8_t *aad, size_t aad_len, const uint8_t *ct, size_t ct_len,
                   uint8_t *out);

#endif
