/* envelope.h - the end-to-end message envelope: seal for many devices,
 * split per device on the server (no keys), open on the receiving device.
 *
 * One fresh 256-bit message key per message seals the content once with
 * AES-256-GCM; the key is HPKE-sealed ("wrapped") to one pre-key of every
 * recipient device. The sender device signs the header, the hash of its
 * certificate, the hash of the content and the Merkle root (RFC 6962
 * §2.1 tree hash) of the wraps, so a device that receives only its own
 * wrap plus a log2(n) audit path can check the signature. Byte layouts and
 * the reasoning are in docs/protocol.md ("Envelope"). */
#ifndef PARLEY_PROTO_ENVELOPE_H
#define PARLEY_PROTO_ENVELOPE_H

#include "common/buf.h"
#include "keys.h"

#define ENVELOPE_VERSION     1
#define ENVELOPE_HEADER_LEN  72 /* including the 2-byte magic */
#define ENVELOPE_MAX_WRAPS   4096
#define ENVELOPE_MAX_CONTENT (1u << 22) /* ciphertext bytes, tag included */
#define ENVELOPE_MSG_KEY_LEN 32

enum envelope_flags {
    ENVELOPE_BURN_ON_READ = 1 << 0,
};

/* The routing header: everything the server may know. */
struct envelope_header {
    uint8_t version;
    uint8_t suite;
    uint8_t flags; /* enum envelope_flags */
    uint8_t msg_id[KEYS_ID_LEN];
    uint8_t sender_device[KEYS_ID_LEN];
    uint8_t conversation[KEYS_ID_LEN];
    uint64_t expires_at; /* Unix seconds, 0 = never */
};

struct envelope_recipient {
    const uint8_t *device_id; /* KEYS_ID_LEN bytes */
    uint32_t prekey_id;
    const struct hpke_key *prekey; /* the verified pre-key (keys_bundle_verify) */
};

/* Seal `pt` for `n` devices. `hdr` supplies flags, conversation and expiry;
 * seal fills in version, suite, sender_device and a fresh random msg_id.
 * The sender device must hold a certificate. Appends the full envelope to
 * `out`. Returns 0, PARLEY_EINVAL (no certificate, duplicate device, wrong
 * suite), PARLEY_ETOOBIG, PARLEY_ENOMEM, PARLEY_ECRYPTO. */
int envelope_seal(const struct keys_device *sender, struct envelope_header *hdr,
                  const struct envelope_recipient *rcpt, size_t n, const uint8_t *pt, size_t pt_len,
                  struct buf *out);

/* Server side: the routing view of a full envelope (pointers into it). */
struct envelope_route {
    struct envelope_header hdr;
    uint32_t content_len;
    size_t n_wraps;
    const uint8_t *wraps; /* n_wraps entries of wrap_len bytes */
    size_t wrap_len;
};
int envelope_route_parse(const uint8_t *env, size_t len, struct envelope_route *r);
/* The device id (KEYS_ID_LEN bytes) and pre-key id of wrap i. */
const uint8_t *envelope_route_device(const struct envelope_route *r, size_t i, uint32_t *prekey_id);

/* Server side: cut a full envelope into per-device deliveries (header,
 * certificate, content, that device's wrap, its audit path, signature).
 * The splitter hashes the wraps once, so fanning out to n devices costs
 * O(n) hashes in all. Never needs a key. */
struct envelope_splitter {
    const uint8_t *env;
    size_t len;
    struct envelope_route route;
    size_t hash_len;
    uint8_t *nodes; /* every level of the Merkle tree */
    size_t level_off[16], level_size[16], n_levels;
};
int envelope_splitter_init(struct envelope_splitter *sp, const uint8_t *env, size_t len);
/* Returns 0, or PARLEY_ENOTFOUND if the device is not a recipient. */
int envelope_splitter_for(const struct envelope_splitter *sp, const uint8_t device_id[KEYS_ID_LEN],
                          struct buf *out);
void envelope_splitter_release(struct envelope_splitter *sp);
/* One-shot form of the above. */
int envelope_split(const uint8_t *env, size_t len, const uint8_t device_id[KEYS_ID_LEN],
                   struct buf *out);

/* Receiver side. */
struct envelope_open_cb {
    /* The pinned identity public key of `user_id` (0), or PARLEY_ENOTFOUND. */
    int (*identity)(void *arg, const uint8_t user_id[KEYS_ID_LEN], const struct sig_key **out);
    /* Called last, once everything has verified: return 0 and remember
     * msg_id, or PARLEY_EREPLAY if it was seen before. May be NULL. */
    int (*check_replay)(void *replay_arg, const uint8_t msg_id[KEYS_ID_LEN]);
    void *arg;        /* for identity */
    void *replay_arg; /* for check_replay */
    uint64_t now;     /* Unix seconds to check expiry against; 0 skips the check */
    /* Certificates already verified against the same pinned identity key
     * (keys_cert_verify_cached); NULL verifies every one. */
    struct keys_cert_cache *certs;
};

struct envelope_opened {
    struct envelope_header hdr;
    uint8_t sender_user[KEYS_ID_LEN];
    uint32_t prekey_id;
    uint8_t prekey_kind; /* enum keys_prekey_kind: consume one-time pre-keys */
    uint8_t *pt;         /* wiped and freed by envelope_opened_release */
    size_t pt_len;
};

/* Check identity -> device certificate -> envelope signature, then unwrap
 * the message key with the named pre-key and decrypt. Nothing is decrypted
 * before the chain and the signature have verified. Returns 0,
 * PARLEY_EPROTO (malformed), PARLEY_EAUTH (chain, signature or AEAD
 * failure), PARLEY_EPERM (not for this device, or expired),
 * PARLEY_ENOTFOUND (unknown sender, or the pre-key is gone),
 * PARLEY_EREPLAY, PARLEY_ENOMEM. */
int envelope_open(const uint8_t *d, size_t len, const struct keys_device *me,
                  const struct envelope_open_cb *cb, struct envelope_opened *out);
/* The user id the sender's certificate in a delivery names (unverified: for
 * looking up that user's pinned identity key before envelope_open).
 * Returns 0 or PARLEY_EPROTO. */
int envelope_delivery_sender(const uint8_t *d, size_t len, uint8_t user_id[KEYS_ID_LEN]);
void envelope_opened_release(struct envelope_opened *o);

/* A small in-memory set of seen message ids (tests, bots); clients persist
 * the ids they have accepted instead (docs/protocol.md, "Replays"). */
struct replay_cache {
    uint8_t (*ids)[KEYS_ID_LEN];
    uint8_t *used;
    size_t cap, n;
};
int replay_cache_init(struct replay_cache *rc, size_t cap);
void replay_cache_release(struct replay_cache *rc);
/* 0 if new (now remembered), PARLEY_EREPLAY if seen, PARLEY_ETOOBIG if full. */
int replay_cache_check(struct replay_cache *rc, const uint8_t msg_id[KEYS_ID_LEN]);
/* Adapter for envelope_open_cb.check_replay (replay_arg = the cache). */
int replay_cache_cb(void *arg, const uint8_t msg_id[KEYS_ID_LEN]);

#endif
