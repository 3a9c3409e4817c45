/* pbe.h - password-based encryption of small files: client configuration
 * files, onboarding deeplinks and key stores at rest.
 *
 * Key = Argon2id (RFC 9106) of the password with the salt and costs from
 * the header; content = AES-256-GCM with the whole header as AAD, so a
 * changed parameter fails authentication. Layout (docs/protocol.md,
 * "Password-based container"):
 *   "PPBE" u8:version=1 u8:kdf=1 (Argon2id v1.3) u8:aead=2 (AES-256-GCM)
 *   u8:salt_len=16 u32:t_cost u32:m_cost_kib u32:parallelism
 *   salt[16] nonce[12] | ciphertext || tag[16]
 * The parser refuses costs beyond the caller's limits before any Argon2
 * work, so a hostile file cannot make us allocate gigabytes. */
#ifndef PARLEY_PROTO_PBE_H
#define PARLEY_PROTO_PBE_H

#include "common/buf.h"
#include "suite.h"

#define PBE_HEADER_LEN 48
#define PBE_SALT_LEN   16

struct pbe_params {
    uint32_t t_cost;     /* passes */
    uint32_t m_cost_kib; /* memory in KiB */
    uint32_t parallelism;
};

/* RFC 9106 §4, second recommended option: t=3, 64 MiB, p=4. */
extern const struct pbe_params pbe_params_default;

struct pbe_limits {
    uint32_t max_t_cost;
    uint32_t max_m_cost_kib;
    uint32_t max_parallelism;
    size_t max_plaintext;
};

/* t <= 16, m <= 1 GiB, p <= 8, plaintext <= 64 MiB. */
extern const struct pbe_limits pbe_limits_default;

struct pbe_header {
    struct pbe_params params;
    const uint8_t *salt;  /* into the input */
    const uint8_t *nonce; /* into the input */
    size_t ct_len;        /* ciphertext with tag */
};

/* Parse and bound-check a container without deriving anything. Returns 0,
 * PARLEY_EPROTO, or PARLEY_ETOOBIG when a cost or the size is over `lim`
 * (NULL: pbe_limits_default). */
int pbe_parse(const uint8_t *in, size_t len, const struct pbe_limits *lim, struct pbe_header *h);

/* Encrypt `pt` under `password` (params NULL: the default). Appends the
 * container to `out`. Returns 0, PARLEY_EINVAL (costs below Argon2's
 * minimums), PARLEY_ETOOBIG, PARLEY_ENOMEM, PARLEY_ECRYPTO. */
int pbe_seal(const uint8_t *password, size_t pw_len, const struct pbe_params *params,
             const uint8_t *pt, size_t pt_len, struct buf *out);

/* Decrypt a container. Appends the plaintext to `out` (reserve-once, so no
 * stray copies; release it with buf_release_secure). Returns 0,
 * PARLEY_EAUTH for a wrong password or a changed file, PARLEY_EPROTO,
 * PARLEY_ETOOBIG, PARLEY_ENOMEM. */
int pbe_open(const uint8_t *password, size_t pw_len, const uint8_t *in, size_t len,
             const struct pbe_limits *lim, struct buf *out);

#endif
