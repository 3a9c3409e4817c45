/* keys.h - identity keys, device keys and certificates, signed pre-keys,
 * key bundles, the device key store and fingerprints.
 *
 * Trust chain (docs/protocol.md, "Keys"): a user's identity key signs a
 * device certificate naming the device's signing key; the device signing key
 * signs every pre-key (HPKE public keys, one-time or fallback) and every
 * envelope. A verifier checks identity -> device -> pre-key before using a
 * pre-key, and identity -> device -> envelope before decrypting anything.
 *
 * All parsers take outside bytes with explicit caps and never abort. */
#ifndef PARLEY_PROTO_KEYS_H
#define PARLEY_PROTO_KEYS_H

#include <pthread.h>

#include "common/buf.h"
#include "hpke.h"
#include "sig.h"

#define KEYS_ID_LEN      16 /* user, device and conversation ids */
#define KEYS_VERSION     1
#define KEYS_MAX_PREKEYS 1000      /* pre-keys in one bundle */
#define KEYS_MAX_STORE   (1 << 20) /* a serialised device key store */

enum keys_prekey_kind {
    KEYS_PREKEY_ONETIME = 1,
    KEYS_PREKEY_FALLBACK = 2,
};

/* A user's root identity key. */
struct keys_identity {
    const struct suite *suite;
    uint8_t user_id[KEYS_ID_LEN];
    struct sig_key key;
};

/* A pre-key pair held by its device. */
struct keys_prekey {
    uint32_t id;
    uint8_t kind;
    uint64_t created;
    struct hpke_key key;
};

/* Everything secret a device holds (its key store). */
struct keys_device {
    const struct suite *suite;
    uint8_t user_id[KEYS_ID_LEN];
    uint8_t device_id[KEYS_ID_LEN];
    struct sig_key sign;
    uint8_t *cert; /* device certificate from the identity key, or NULL */
    size_t cert_len;
    uint32_t next_prekey_id;
    uint32_t fallback_id; /* the current fallback pre-key (0: none) */
    struct keys_prekey *prekeys;
    size_t n_prekeys, cap_prekeys;
};

/* A parsed and verified device certificate. */
struct keys_cert {
    const struct suite *suite;
    uint8_t user_id[KEYS_ID_LEN];
    uint8_t device_id[KEYS_ID_LEN];
    struct sig_key identity; /* public */
    struct sig_key device;   /* public */
    uint64_t created;
};

/* A verified public pre-key from a bundle. */
struct keys_prekey_pub {
    uint8_t device_id[KEYS_ID_LEN];
    uint32_t id;
    uint8_t kind;
    uint64_t created;
    struct hpke_key key;
};

/* A verified bundle: a device certificate and its signed pre-keys. */
struct keys_bundle {
    struct keys_cert cert;
    struct keys_prekey_pub *prekeys;
    size_t n_prekeys;
};

/* Identity: generate, certify a device, save/load (secret bytes: encrypt
 * them with pbe.h before they touch a disk). */
int keys_identity_generate(struct keys_identity *id, const struct suite *s,
                           const uint8_t user_id[KEYS_ID_LEN]);
void keys_identity_release(struct keys_identity *id);
int keys_identity_save(const struct keys_identity *id, struct buf *out);
int keys_identity_load(struct keys_identity *id, const uint8_t *p, size_t len);
/* Sign a certificate for `dev` (its signing key and ids) and store it in
 * dev->cert. `created` is a Unix time in seconds. */
int keys_identity_certify(const struct keys_identity *id, struct keys_device *dev,
                          uint64_t created);

/* Device: a new device id and signing key, no pre-keys yet. */
int keys_device_generate(struct keys_device *dev, const struct suite *s,
                         const uint8_t user_id[KEYS_ID_LEN]);
void keys_device_release(struct keys_device *dev);
/* Generate `n` one-time pre-keys (pool replenishment). */
int keys_device_add_prekeys(struct keys_device *dev, size_t n, uint64_t now);
/* Generate a new fallback pre-key; the previous one is kept (it may still
 * be named by envelopes in flight) until keys_device_drop_fallbacks. */
int keys_device_rotate_fallback(struct keys_device *dev, uint64_t now);
/* Delete every fallback pre-key except the current one created before
 * `older_than`. Returns how many were deleted. */
size_t keys_device_drop_fallbacks(struct keys_device *dev, uint64_t older_than);
/* The pre-key with this id, or NULL. */
const struct keys_prekey *keys_device_find_prekey(const struct keys_device *dev, uint32_t id);
/* Delete (wipe) a one-time pre-key once a message sealed to it has been
 * opened: forward secrecy. Fallback pre-keys are not deleted here.
 * Returns 0, PARLEY_ENOTFOUND, or PARLEY_EPERM for a fallback pre-key. */
int keys_device_consume_prekey(struct keys_device *dev, uint32_t id);
size_t keys_device_count_onetime(const struct keys_device *dev);
/* The bundle to upload: certificate, every one-time pre-key with id >=
 * min_id, and the current fallback pre-key. */
int keys_device_bundle(const struct keys_device *dev, uint32_t min_id, struct buf *out);
/* The versioned key store (secret). */
int keys_device_save(const struct keys_device *dev, struct buf *out);
int keys_device_load(struct keys_device *dev, const uint8_t *p, size_t len);

/* Parse a device certificate and check it against `identity` (the pinned
 * identity public key of its user; its user id must match). Returns 0,
 * PARLEY_EPROTO, PARLEY_EAUTH. Release `out` with keys_cert_release. */
int keys_cert_verify(const uint8_t *p, size_t len, const struct sig_key *identity,
                     const uint8_t user_id[KEYS_ID_LEN], struct keys_cert *out);
void keys_cert_release(struct keys_cert *c);

/* A bounded cache of verified device certificates, so that a receiver
 * checks a sender device's certificate once rather than once per message
 * (docs/protocol.md, "Opening"). An entry is found only by comparing, byte
 * for byte, the user id, the identity public key (algorithm and bytes) the
 * certificate was verified against and the full certificate: a certificate
 * changed in any
 * byte, or presented under another user or another pinned identity key,
 * misses and is verified from scratch. The caller still looks up the
 * pinned identity key for every message, so unpinning or re-pinning a user
 * takes effect at once. Least recently used entries are evicted; entries
 * are wiped when evicted and on release. Thread-safe (one mutex); pure
 * otherwise (no I/O). */
#define KEYS_CERT_CACHE_DEFAULT 64
#define KEYS_CERT_MAX_LEN       (2 + 2 * KEYS_ID_LEN + 2 * SUITE_MAX_SIG_PK + 8 + SUITE_MAX_SIG)

struct keys_cert_cache_entry {
    uint8_t user_id[KEYS_ID_LEN];
    uint8_t id_pk[SUITE_MAX_SIG_PK];
    size_t id_pk_len;
    enum sig_alg id_alg;
    uint8_t cert_bytes[KEYS_CERT_MAX_LEN];
    size_t cert_len;
    struct keys_cert cert; /* its keys are shared with each copy handed out */
    uint64_t used;         /* for LRU eviction; 0 = empty slot */
};

struct keys_cert_cache {
    pthread_mutex_t mu;
    struct keys_cert_cache_entry *e;
    size_t cap;
    uint64_t tick;
    uint64_t hits, misses; /* counters, for tests and statistics */
};

/* cap: the number of certificates kept (1..4096). Returns 0, PARLEY_EINVAL,
 * PARLEY_ENOMEM. */
int keys_cert_cache_init(struct keys_cert_cache *cc, size_t cap);
/* Wipes and frees every entry. */
void keys_cert_cache_release(struct keys_cert_cache *cc);
/* keys_cert_verify(), answered from `cc` when exactly these certificate
 * bytes verified before against exactly this identity key and user id;
 * otherwise verified in full and, if valid, remembered. `identity` and
 * `user_id` are required here (PARLEY_EINVAL). `cc` may be NULL: then this
 * is keys_cert_verify(). `out` is the caller's own copy: release it with
 * keys_cert_release. */
int keys_cert_verify_cached(struct keys_cert_cache *cc, const uint8_t *p, size_t len,
                            const struct sig_key *identity, const uint8_t user_id[KEYS_ID_LEN],
                            struct keys_cert *out);

/* Parse a bundle and verify identity -> certificate -> every pre-key.
 * `identity` may be NULL only to learn the identity key on first use: then
 * the certificate is checked against the key it names, and the caller must
 * pin out->cert.identity itself. */
int keys_bundle_verify(const uint8_t *p, size_t len, const struct sig_key *identity,
                       struct keys_bundle *out);
void keys_bundle_release(struct keys_bundle *b);
/* Server side, no keys needed: from a stored bundle, make the bundle handed
 * to one sender (the certificate and a single pre-key: the first one-time
 * pre-key, or the fallback pre-key only when no one-time pre-key is left)
 * and the stored bundle that remains. Returns 0, PARLEY_ENOTFOUND if the
 * bundle holds no pre-key at all, PARLEY_EPROTO. */
int keys_bundle_take(const uint8_t *p, size_t len, struct buf *for_sender, struct buf *rest);

/* Fingerprints (docs/protocol.md, "Fingerprints"). The safety number of two
 * users is 60 digits in 12 groups of 5, the same on both sides. */
#define KEYS_SAFETY_NUMBER_LEN 71
int keys_safety_number(const struct suite *s, const uint8_t user_a[KEYS_ID_LEN],
                       const struct sig_key *id_a, const uint8_t user_b[KEYS_ID_LEN],
                       const struct sig_key *id_b, char out[KEYS_SAFETY_NUMBER_LEN + 1]);
/* The QR form shown by `mine` for `theirs` to scan: base32 (RFC 4648, no
 * padding) of version, suite, F(mine), F(theirs). */
#define KEYS_QR_LEN 106
int keys_fingerprint_qr(const struct suite *s, const uint8_t my_user[KEYS_ID_LEN],
                        const struct sig_key *mine, const uint8_t their_user[KEYS_ID_LEN],
                        const struct sig_key *theirs, char out[KEYS_QR_LEN + 1]);
/* Check a scanned code: 0 if it was made by `theirs` for `mine`, else
 * PARLEY_EAUTH (or PARLEY_EPROTO for a malformed code). */
int keys_fingerprint_qr_check(const struct suite *s, const char *code,
                              const uint8_t my_user[KEYS_ID_LEN], const struct sig_key *mine,
                              const uint8_t their_user[KEYS_ID_LEN], const struct sig_key *theirs);

#endif
