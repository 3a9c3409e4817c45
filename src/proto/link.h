/* link.h - linking a new device to an account: the short code, the keys
 * derived from it, and the byte formats of the offer, the transfer header
 * and the transfer chunks (docs/protocol.md, "Device linking").
 *
 * The server relays every message and must learn nothing it could use to
 * read what is transferred. The signed-in device shows an 80-bit code; both
 * devices stretch it with Argon2id into a relay id and a MAC key. The new
 * device sends an ephemeral HPKE public key MACed under that key; the old
 * device wraps a fresh transfer key to it (HPKE), MACs the header, and
 * encrypts the history in AES-256-GCM chunks under the transfer key. A
 * relay that swaps the public key or the header fails the MAC; one that
 * keeps them learns nothing without the ephemeral private key.
 *
 * Pure: no I/O. Every parser bounds its input and has a fuzz target. */
#ifndef PARLEY_PROTO_LINK_H
#define PARLEY_PROTO_LINK_H

#include "common/buf.h"
#include "hpke.h"
#include "keys.h"

#define LINK_CODE_BYTES     10 /* 80 bits */
#define LINK_CODE_CHARS     16 /* Crockford base32, 5 bits each */
#define LINK_CODE_TEXT      20 /* "XXXX-XXXX-XXXX-XXXX" and a NUL */
#define LINK_ID_LEN         16
#define LINK_MAC_LEN        32
#define LINK_TK_LEN         32
#define LINK_CHUNK_MAX      (256u * 1024) /* plaintext bytes per chunk */
#define LINK_MAX_CHUNKS     2048          /* so at most 512 MiB of history */
#define LINK_CHUNK_OVERHEAD PRIM_GCM_TAG
#define LINK_OFFER_MAX      256
#define LINK_HEADER_MAX     512

/* What the code yields; wipe with link_keys_wipe(). */
struct link_keys {
    uint8_t link_id[LINK_ID_LEN];  /* the relay's name for the session (public) */
    uint8_t mac_key[LINK_MAC_LEN]; /* authenticates offer and header */
};

/* A fresh random code. */
int link_code_new(uint8_t code[LINK_CODE_BYTES]);
/* "ABCD-EFGH-JKMN-PQRS": 16 Crockford base32 characters in groups of 4. */
void link_code_format(const uint8_t code[LINK_CODE_BYTES], char out[LINK_CODE_TEXT]);
/* Read a typed code: case-insensitive, O read as 0, I and L as 1, dashes
 * and spaces ignored. Returns 0 or PARLEY_EINVAL (wrong length or a
 * character outside the alphabet). */
int link_code_parse(const char *text, uint8_t code[LINK_CODE_BYTES]);

/* Argon2id(code, salt = SHA-256("parley link v1" || user_id)[0..16], t = 3,
 * m = 64 MiB, p = 1) -> 48 bytes: link_id || mac_key. */
int link_keys_derive(const uint8_t code[LINK_CODE_BYTES], const uint8_t user_id[KEYS_ID_LEN],
                     struct link_keys *out);
void link_keys_wipe(struct link_keys *k);

/* The offer, from the new device:
 *   "PLO" u8:version=1 u8:suite u8[16]:device_id u8[Npk]:ephemeral public key
 *   u8[32]:HMAC-SHA256(mac_key, "parley-link-offer-v1" || link_id || all the above) */
int link_offer_make(const struct suite *s, const struct link_keys *k,
                    const uint8_t device_id[KEYS_ID_LEN], const struct hpke_key *pk,
                    struct buf *out);
/* Parse an offer without its MAC (what the relay can check). Returns 0 or
 * PARLEY_EPROTO; device_id may be NULL. */
int link_offer_parse(const struct suite *s, const uint8_t *p, size_t n,
                     uint8_t device_id[KEYS_ID_LEN]);
/* Parse and authenticate an offer. Returns 0, PARLEY_EPROTO (malformed) or
 * PARLEY_EAUTH (made without the code). Fills device_id and *pk. */
int link_offer_open(const struct suite *s, const struct link_keys *k, const uint8_t *p, size_t n,
                    uint8_t device_id[KEYS_ID_LEN], struct hpke_key *pk);

/* The transfer header, from the signed-in device:
 *   "PLT" u8:version=1 u8:suite u8[16]:from device u8[16]:to device
 *   u32:n_chunks u64:total plaintext length u8[Nenc]:enc u8[48]:wrapped key
 *   u8[32]:HMAC-SHA256(mac_key, "parley-link-transfer-v1" || link_id ||
 *          SHA-256(offer) || all the above)
 * wrapped key = SealBase(pkR = the offer's key, info = "parley-link-v1 key",
 *   aad = link_id || from || to, pt = the 32-byte transfer key). */
struct link_transfer {
    uint8_t from[KEYS_ID_LEN], to[KEYS_ID_LEN];
    uint32_t n_chunks;
    uint64_t total;
    uint8_t tk[LINK_TK_LEN]; /* the transfer key; wipe after use */
};
/* Draws the transfer key into t->tk and writes the header. t->from, t->to,
 * t->n_chunks and t->total must be set. */
int link_header_make(const struct suite *s, const struct link_keys *k, const uint8_t *offer,
                     size_t offer_len, const struct hpke_key *pk, struct link_transfer *t,
                     struct buf *out);
/* Parse, authenticate and unwrap a header with the ephemeral key pair.
 * Returns 0, PARLEY_EPROTO, PARLEY_EAUTH. */
int link_header_open(const struct suite *s, const struct link_keys *k, const uint8_t *offer,
                     size_t offer_len, const struct hpke_key *sk, const uint8_t *p, size_t n,
                     struct link_transfer *t);

/* Chunk i of n: AES-256-GCM(key = tk, nonce = 0x00000000 || u64 i,
 * aad = "parley-link-v1 chunk" || link_id || u32 i || u32 n, pt). seal
 * appends len + 16 bytes; open appends the plaintext (PARLEY_EAUTH if it was
 * changed, moved or belongs to another transfer). */
int link_chunk_seal(const struct link_transfer *t, const uint8_t link_id[LINK_ID_LEN], uint32_t i,
                    const uint8_t *pt, size_t len, struct buf *out);
int link_chunk_open(const struct link_transfer *t, const uint8_t link_id[LINK_ID_LEN], uint32_t i,
                    const uint8_t *ct, size_t len, struct buf *out);

#endif
