/* link.c - device linking: code, keys, offer, header, chunks. See link.h. */
#include "link.h"

#include <argon2.h>
#include <openssl/crypto.h>

#include "common/str.h"
#include "prim.h"
#include "wire.h"

#define VERSION     1
#define OFFER_MAGIC "PLO"
#define HDR_MAGIC   "PLT"
#define SALT_LABEL  "parley link v1"
#define OFFER_LABEL "parley-link-offer-v1"
#define HDR_LABEL   "parley-link-transfer-v1"
#define KEY_INFO    "parley-link-v1 key"
#define CHUNK_LABEL "parley-link-v1 chunk"
#define WRAPPED_LEN (LINK_TK_LEN + HPKE_TAG)

/* Crockford's alphabet: no I, L, O or U, so that what is read aloud or
 * typed from a screen is hard to get wrong. */
static const char alphabet[] = "0123456789ABCDEFGHJKMNPQRSTVWXYZ";

int link_code_new(uint8_t code[LINK_CODE_BYTES])
{
    return proto_rand(code, LINK_CODE_BYTES);
}

void link_code_format(const uint8_t code[LINK_CODE_BYTES], char out[LINK_CODE_TEXT])
{
    uint64_t acc = 0;
    int bits = 0;
    size_t o = 0, n = 0;

    for (size_t i = 0; i < LINK_CODE_BYTES; i++) {
        acc = (acc << 8) | code[i];
        bits += 8;
        while (bits >= 5) {
            if (n && n % 4 == 0)
                out[o++] = '-';
            out[o++] = alphabet[(acc >> (bits - 5)) & 31];
            bits -= 5;
            n++;
        }
    }
    out[o] = '\0';
}

static int symbol(char ch)
{
    if (ch >= 'a' && ch <= 'z')
        ch = (char)(ch - 'a' + 'A');
    if (ch == 'O')
        ch = '0';
    if (ch == 'I' || ch == 'L')
        ch = '1';
    for (int i = 0; i < 32; i++)
        if (alphabet[i] == ch)
            return i;
    return -1;
}

int link_code_parse(const char *text, uint8_t code[LINK_CODE_BYTES])
{
    uint64_t acc = 0;
    int bits = 0;
    size_t n = 0, o = 0;

    for (const char *p = text; *p; p++) {
        if (*p == '-' || *p == ' ')
            continue;
        int v = symbol(*p);
        if (v < 0 || ++n > LINK_CODE_CHARS)
            goto bad;
        acc = (acc << 5) | (uint64_t)v;
        bits += 5;
        if (bits >= 8) {
            code[o++] = (uint8_t)(acc >> (bits - 8));
            bits -= 8;
        }
    }
    if (n == LINK_CODE_CHARS)
        return 0;
bad:
    OPENSSL_cleanse(code, LINK_CODE_BYTES);
    return PARLEY_EINVAL;
}

int link_keys_derive(const uint8_t code[LINK_CODE_BYTES], const uint8_t user_id[KEYS_ID_LEN],
                     struct link_keys *out)
{
    uint8_t salt[32], k[LINK_ID_LEN + LINK_MAC_LEN];
    struct prim_iov iov[] = {{SALT_LABEL, strlen(SALT_LABEL)}, {user_id, KEYS_ID_LEN}};
    int rc = prim_hash(PRIM_SHA256, iov, 2, salt);

    if (rc < 0)
        return rc;
    /* The salt names the user, so no table of codes serves two accounts;
     * the costs are the login secret's (docs/protocol.md, "Device linking"). */
    if (argon2id_hash_raw(3, 64 * 1024, 1, code, LINK_CODE_BYTES, salt, 16, k, sizeof(k)) !=
        ARGON2_OK)
        rc = PARLEY_ENOMEM;
    if (rc == 0) {
        memcpy(out->link_id, k, LINK_ID_LEN);
        memcpy(out->mac_key, k + LINK_ID_LEN, LINK_MAC_LEN);
    }
    OPENSSL_cleanse(k, sizeof(k));
    return rc;
}

void link_keys_wipe(struct link_keys *k)
{
    OPENSSL_cleanse(k, sizeof(*k));
}

static int mac(const struct link_keys *k, const char *label, const uint8_t *extra, size_t extra_len,
               const uint8_t *p, size_t n, uint8_t out[LINK_MAC_LEN])
{
    struct prim pr;
    struct prim_iov iov[] = {
        {label, strlen(label)}, {k->link_id, LINK_ID_LEN}, {extra, extra_len}, {p, n}};
    int rc = prim_init(&pr);
    if (rc < 0)
        return rc;
    rc = prim_hmac(&pr, PRIM_SHA256, k->mac_key, LINK_MAC_LEN, iov, ARRAY_SIZE(iov), out);
    prim_release(&pr);
    return rc;
}

static size_t offer_len(const struct suite *s)
{
    return 3 + 1 + 1 + KEYS_ID_LEN + s->kem_pk_len + LINK_MAC_LEN;
}

int link_offer_make(const struct suite *s, const struct link_keys *k,
                    const uint8_t device_id[KEYS_ID_LEN], const struct hpke_key *pk,
                    struct buf *out)
{
    uint8_t m[LINK_MAC_LEN];
    size_t start = out->len;
    int rc;

    if (pk->kem != s->kem_id || pk->pk_len != s->kem_pk_len)
        return PARLEY_EINVAL;
    if ((rc = buf_append(out, OFFER_MAGIC, 3)) < 0 || (rc = buf_append_byte(out, VERSION)) < 0 ||
        (rc = buf_append_byte(out, s->id)) < 0 ||
        (rc = buf_append(out, device_id, KEYS_ID_LEN)) < 0 ||
        (rc = buf_append(out, pk->pk, pk->pk_len)) < 0)
        return rc;
    rc = mac(k, OFFER_LABEL, NULL, 0, out->data + start, out->len - start, m);
    if (rc == 0)
        rc = buf_append(out, m, sizeof(m));
    return rc;
}

/* The fields of an offer; pk points into the input. */
static int offer_read(const struct suite *s, const uint8_t *p, size_t n,
                      uint8_t device_id[KEYS_ID_LEN], const uint8_t **pk, const uint8_t **m)
{
    struct wire w;
    const uint8_t *magic;

    if (n != offer_len(s))
        return PARLEY_EPROTO;
    wire_init(&w, p, n);
    magic = wire_bytes(&w, 3);
    if (!magic || memcmp(magic, OFFER_MAGIC, 3) != 0 || wire_u8(&w) != VERSION ||
        wire_u8(&w) != s->id)
        return PARLEY_EPROTO;
    if (device_id)
        wire_copy(&w, device_id, KEYS_ID_LEN);
    else
        wire_bytes(&w, KEYS_ID_LEN);
    *pk = wire_bytes(&w, s->kem_pk_len);
    *m = wire_bytes(&w, LINK_MAC_LEN);
    return wire_end(&w) == 0 ? 0 : PARLEY_EPROTO;
}

int link_offer_parse(const struct suite *s, const uint8_t *p, size_t n,
                     uint8_t device_id[KEYS_ID_LEN])
{
    const uint8_t *pk, *m;
    return offer_read(s, p, n, device_id, &pk, &m);
}

int link_offer_open(const struct suite *s, const struct link_keys *k, const uint8_t *p, size_t n,
                    uint8_t device_id[KEYS_ID_LEN], struct hpke_key *pk)
{
    const uint8_t *pkb, *m;
    uint8_t want[LINK_MAC_LEN];
    int rc = offer_read(s, p, n, device_id, &pkb, &m);

    if (rc == 0)
        rc = mac(k, OFFER_LABEL, NULL, 0, p, n - LINK_MAC_LEN, want);
    if (rc == 0 && ct_memcmp(want, m, LINK_MAC_LEN) != 0)
        rc = PARLEY_EAUTH;
    /* Only an authentic key is imported. */
    if (rc == 0)
        rc = hpke_key_from_public(pk, s->kem_id, pkb, s->kem_pk_len);
    return rc;
}

static size_t header_len(const struct suite *s)
{
    return 3 + 1 + 1 + 2 * KEYS_ID_LEN + 4 + 8 + s->kem_pk_len + WRAPPED_LEN + LINK_MAC_LEN;
}

static int hpke_for(const struct suite *s, struct hpke *h)
{
    struct hpke_params prm = {s->kem_id, s->kdf_id, s->aead_id};
    return hpke_init(h, &prm, (const uint8_t *)KEY_INFO, strlen(KEY_INFO));
}

static void wrap_aad(const struct link_keys *k, const struct link_transfer *t,
                     uint8_t aad[LINK_ID_LEN + 2 * KEYS_ID_LEN])
{
    memcpy(aad, k->link_id, LINK_ID_LEN);
    memcpy(aad + LINK_ID_LEN, t->from, KEYS_ID_LEN);
    memcpy(aad + LINK_ID_LEN + KEYS_ID_LEN, t->to, KEYS_ID_LEN);
}

int link_header_make(const struct suite *s, const struct link_keys *k, const uint8_t *offer,
                     size_t offer_len_, const struct hpke_key *pk, struct link_transfer *t,
                     struct buf *out)
{
    uint8_t aad[LINK_ID_LEN + 2 * KEYS_ID_LEN], enc[SUITE_MAX_KEM_PK], wrapped[WRAPPED_LEN];
    uint8_t oh[32], m[LINK_MAC_LEN];
    struct prim_iov iov = {offer, offer_len_};
    struct hpke h;
    size_t start = out->len;
    int rc;

    if (t->n_chunks == 0 || t->n_chunks > LINK_MAX_CHUNKS ||
        t->total > (uint64_t)t->n_chunks * LINK_CHUNK_MAX || pk->kem != s->kem_id)
        return PARLEY_EINVAL;
    if ((rc = proto_rand(t->tk, LINK_TK_LEN)) < 0 || (rc = hpke_for(s, &h)) < 0)
        return rc;
    wrap_aad(k, t, aad);
    rc = hpke_seal(&h, pk, aad, sizeof(aad), t->tk, LINK_TK_LEN, enc, wrapped);
    hpke_release(&h);
    if (rc == 0)
        rc = prim_hash(PRIM_SHA256, &iov, 1, oh);
    if (rc < 0)
        return rc;
    if ((rc = buf_append(out, HDR_MAGIC, 3)) < 0 || (rc = buf_append_byte(out, VERSION)) < 0 ||
        (rc = buf_append_byte(out, s->id)) < 0 ||
        (rc = buf_append(out, t->from, KEYS_ID_LEN)) < 0 ||
        (rc = buf_append(out, t->to, KEYS_ID_LEN)) < 0 ||
        (rc = buf_append_u32(out, t->n_chunks)) < 0 || (rc = buf_append_u64(out, t->total)) < 0 ||
        (rc = buf_append(out, enc, s->kem_pk_len)) < 0 ||
        (rc = buf_append(out, wrapped, sizeof(wrapped))) < 0)
        return rc;
    rc = mac(k, HDR_LABEL, oh, sizeof(oh), out->data + start, out->len - start, m);
    if (rc == 0)
        rc = buf_append(out, m, sizeof(m));
    return rc;
}

int link_header_open(const struct suite *s, const struct link_keys *k, const uint8_t *offer,
                     size_t offer_len_, const struct hpke_key *sk, const uint8_t *p, size_t n,
                     struct link_transfer *t)
{
    uint8_t aad[LINK_ID_LEN + 2 * KEYS_ID_LEN], oh[32], want[LINK_MAC_LEN];
    const uint8_t *magic, *enc, *wrapped, *m;
    struct prim_iov iov = {offer, offer_len_};
    struct hpke h;
    struct wire w;
    int rc;

    memset(t, 0, sizeof(*t));
    if (n != header_len(s))
        return PARLEY_EPROTO;
    wire_init(&w, p, n);
    magic = wire_bytes(&w, 3);
    if (!magic || memcmp(magic, HDR_MAGIC, 3) != 0 || wire_u8(&w) != VERSION ||
        wire_u8(&w) != s->id)
        return PARLEY_EPROTO;
    wire_copy(&w, t->from, KEYS_ID_LEN);
    wire_copy(&w, t->to, KEYS_ID_LEN);
    t->n_chunks = wire_u32(&w);
    t->total = wire_u64(&w);
    enc = wire_bytes(&w, s->kem_pk_len);
    wrapped = wire_bytes(&w, WRAPPED_LEN);
    m = wire_bytes(&w, LINK_MAC_LEN);
    if (wire_end(&w) != 0 || t->n_chunks == 0 || t->n_chunks > LINK_MAX_CHUNKS ||
        t->total > (uint64_t)t->n_chunks * LINK_CHUNK_MAX)
        return PARLEY_EPROTO;
    if ((rc = prim_hash(PRIM_SHA256, &iov, 1, oh)) < 0 ||
        (rc = mac(k, HDR_LABEL, oh, sizeof(oh), p, n - LINK_MAC_LEN, want)) < 0)
        return rc;
    if (ct_memcmp(want, m, LINK_MAC_LEN) != 0)
        return PARLEY_EAUTH;
    if ((rc = hpke_for(s, &h)) < 0)
        return rc;
    wrap_aad(k, t, aad);
    rc = hpke_open(&h, sk, enc, s->kem_pk_len, aad, sizeof(aad), wrapped, WRAPPED_LEN, t->tk);
    hpke_release(&h);
    if (rc < 0)
        OPENSSL_cleanse(t->tk, sizeof(t->tk));
    return rc;
}

static void chunk_params(const uint8_t link_id[LINK_ID_LEN], uint32_t i, uint32_t n,
                         uint8_t nonce[PRIM_GCM_NONCE], uint8_t *aad, size_t *aad_len)
{
    size_t l = strlen(CHUNK_LABEL);
    memset(nonce, 0, 4);
    wire_put_u64(nonce + 4, i);
    memcpy(aad, CHUNK_LABEL, l);
    memcpy(aad + l, link_id, LINK_ID_LEN);
    wire_put_u32(aad + l + LINK_ID_LEN, i);
    wire_put_u32(aad + l + LINK_ID_LEN + 4, n);
    *aad_len = l + LINK_ID_LEN + 8;
}

int link_chunk_seal(const struct link_transfer *t, const uint8_t link_id[LINK_ID_LEN], uint32_t i,
                    const uint8_t *pt, size_t len, struct buf *out)
{
    uint8_t nonce[PRIM_GCM_NONCE], aad[64];
    size_t aad_len;
    struct prim pr;
    int rc;

    if (i >= t->n_chunks || len > LINK_CHUNK_MAX)
        return PARLEY_EINVAL;
    chunk_params(link_id, i, t->n_chunks, nonce, aad, &aad_len);
    if ((rc = buf_reserve(out, len + PRIM_GCM_TAG)) < 0 || (rc = prim_init(&pr)) < 0)
        return rc;
    rc =
        prim_aead_seal(&pr, t->tk, LINK_TK_LEN, nonce, aad, aad_len, pt, len, out->data + out->len);
    prim_release(&pr);
    if (rc == 0)
        out->len += len + PRIM_GCM_TAG;
    return rc;
}

int link_chunk_open(const struct link_transfer *t, const uint8_t link_id[LINK_ID_LEN], uint32_t i,
                    const uint8_t *ct, size_t len, struct buf *out)
{
    uint8_t nonce[PRIM_GCM_NONCE], aad[64];
    size_t aad_len;
    struct prim pr;
    int rc;

    if (i >= t->n_chunks || len < PRIM_GCM_TAG || len - PRIM_GCM_TAG > LINK_CHUNK_MAX)
        return PARLEY_EPROTO;
    chunk_params(link_id, i, t->n_chunks, nonce, aad, &aad_len);
    if ((rc = buf_reserve(out, len - PRIM_GCM_TAG)) < 0 || (rc = prim_init(&pr)) < 0)
        return rc;
    rc =
        prim_aead_open(&pr, t->tk, LINK_TK_LEN, nonce, aad, aad_len, ct, len, out->data + out->len);
    prim_release(&pr);
    if (rc == 0)
        out->len += len - PRIM_GCM_TAG;
    return rc;
}
