/* hpke.h - Hybrid Public Key Encryption (RFC 9180), base mode, single-shot,
 * on OpenSSL 3.0 primitives (3.0 has no HPKE of its own).
 *
 * KEMs: DHKEM(X25519, HKDF-SHA256), DHKEM(P-256, HKDF-SHA256),
 * DHKEM(P-384, HKDF-SHA384), DHKEM(P-521, HKDF-SHA512) (§7.1); KDFs:
 * HKDF-SHA256/384/512 (§7.2); AEADs: AES-128-GCM, AES-256-GCM (§7.3).
 * Parley uses two combinations (see suite.h); the others exist so that the
 * RFC's own Appendix A vectors exercise the same code.
 *
 * Single-shot means sequence number 0 only (§6.1): one message per context,
 * so the nonce is base_nonce and no sequence state is kept. Pure: no I/O.
 * Secret key bytes are kept beside the EVP_PKEY and wiped on release. */
#ifndef PARLEY_PROTO_HPKE_H
#define PARLEY_PROTO_HPKE_H

#include "prim.h"

struct hpke_params {
    uint16_t kem, kdf, aead;
};

/* A KEM key pair, or a public key alone (sk_len == 0). */
struct hpke_key {
    uint16_t kem;
    EVP_PKEY *pkey;
    uint8_t pk[SUITE_MAX_KEM_PK];
    size_t pk_len;
    uint8_t sk[SUITE_MAX_KEM_SK];
    size_t sk_len;
};

void hpke_key_init(struct hpke_key *k);
/* Wipes the secret bytes and frees the EVP_PKEY; the key is then empty. */
void hpke_key_release(struct hpke_key *k);
/* SerializePublicKey/DeserializePublicKey (§7.1.1): 32 raw bytes for X25519,
 * an uncompressed point for the NIST curves (checked to be on the curve).
 * Returns 0, PARLEY_EPROTO for a bad encoding, PARLEY_ENOMEM, PARLEY_ECRYPTO. */
int hpke_key_from_public(struct hpke_key *k, uint16_t kem, const uint8_t *pk, size_t len);
/* DeserializePrivateKey (§7.1.2); computes the public key. For the NIST
 * curves the scalar must be in [1, n-1]. */
int hpke_key_from_private(struct hpke_key *k, uint16_t kem, const uint8_t *sk, size_t len);
/* DeriveKeyPair(ikm) (§7.1.3). ikm_len must be at least Nsk. */
int hpke_key_derive(struct hpke_key *k, struct prim *p, uint16_t kem, const uint8_t *ikm,
                    size_t ikm_len);
/* GenerateKeyPair(): X25519 takes Nsk random bytes; the NIST curves run
 * DeriveKeyPair on Nsk random bytes (rejection sampling, §7.1.3). */
int hpke_key_generate(struct hpke_key *k, struct prim *p, uint16_t kem);

/* Lengths for a KEM id (0 if unknown). */
size_t hpke_kem_pk_len(uint16_t kem);
size_t hpke_kem_sk_len(uint16_t kem);
/* Overhead of a seal: the ciphertext is pt_len + HPKE_TAG bytes. */
#define HPKE_TAG 16

/* A sealing/opening context for one (suite, info): it caches the key
 * schedule context (§5.1) and the scratch contexts, so that sealing to many
 * recipients costs no repeated fetches. Use from one thread at a time. */
struct hpke {
    struct hpke_params params;
    const void *kem_info, *kdf_info, *aead_info; /* internal tables */
    uint8_t suite_id[10];                        /* "HPKE" || kem || kdf || aead */
    uint8_t kem_suite_id[5];                     /* "KEM" || kem */
    uint8_t ksc[1 + 2 * SUITE_MAX_HASH];         /* key_schedule_context */
    size_t ksc_len;
    struct prim prim;
};

/* Returns 0, PARLEY_EINVAL for unsupported ids, PARLEY_ENOMEM, PARLEY_ECRYPTO. */
int hpke_init(struct hpke *h, const struct hpke_params *params, const uint8_t *info,
              size_t info_len);
void hpke_release(struct hpke *h);

/* SealBase (§6.1): a fresh ephemeral key; writes Nenc bytes to `enc` and
 * pt_len + HPKE_TAG bytes to `ct`. */
int hpke_seal(struct hpke *h, const struct hpke_key *pkR, const uint8_t *aad, size_t aad_len,
              const uint8_t *pt, size_t pt_len, uint8_t *enc, uint8_t *ct);
/* The same with a caller-chosen ephemeral key pair (test vectors only). */
int hpke_seal_with_ephemeral(struct hpke *h, const struct hpke_key *pkR, const struct hpke_key *skE,
                             const uint8_t *aad, size_t aad_len, const uint8_t *pt, size_t pt_len,
                             uint8_t *enc, uint8_t *ct);
/* OpenBase (§6.1): writes ct_len - HPKE_TAG bytes to `pt`. Returns 0,
 * PARLEY_EPROTO for a malformed enc, PARLEY_EAUTH when the ciphertext does not
 * authenticate (wrong key, tampering). */
int hpke_open(struct hpke *h, const struct hpke_key *skR, const uint8_t *enc, size_t enc_len,
              const uint8_t *aad, size_t aad_len, const uint8_t *ct, size_t ct_len, uint8_t *pt);

/* Exposed for the RFC's intermediate values: Encap with a given ephemeral
 * key (§4.1) and the base-mode key schedule (§5.1). */
int hpke_encap_with(struct hpke *h, const struct hpke_key *pkR, const struct hpke_key *skE,
                    uint8_t *shared_secret, uint8_t *enc);
int hpke_key_schedule(struct hpke *h, const uint8_t *shared_secret, uint8_t *key,
                      uint8_t *base_nonce);

#endif
