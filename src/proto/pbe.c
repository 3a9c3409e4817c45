/* pbe.c - Argon2id + AES-256-GCM containers. See pbe.h. */
#include "pbe.h"

#include <argon2.h>
#include <openssl/crypto.h>

#include "prim.h"
#include "wire.h"

#define MAGIC          "PPBE"
#define VERSION        1
#define KDF_ARGON2ID   1
#define AEAD_AES256GCM 2

const struct pbe_params pbe_params_default = {3, 65536, 4};
const struct pbe_limits pbe_limits_default = {16, 1u << 20, 8, 64u << 20};

static int params_ok(const struct pbe_params *p)
{
    /* Argon2's own minimums (RFC 9106 §3.1): m >= 8 * p KiB. */
    return p->t_cost >= 1 && p->parallelism >= 1 && p->m_cost_kib >= 8 * p->parallelism;
}

int pbe_parse(const uint8_t *in, size_t len, const struct pbe_limits *lim, struct pbe_header *h)
{
    const uint8_t *magic;
    struct wire w;

    if (!lim)
        lim = &pbe_limits_default;
    memset(h, 0, sizeof(*h));
    wire_init(&w, in, len);
    magic = wire_bytes(&w, 4);
    if (!magic || memcmp(magic, MAGIC, 4) || wire_u8(&w) != VERSION ||
        wire_u8(&w) != KDF_ARGON2ID || wire_u8(&w) != AEAD_AES256GCM || wire_u8(&w) != PBE_SALT_LEN)
        return PARLEY_EPROTO;
    h->params.t_cost = wire_u32(&w);
    h->params.m_cost_kib = wire_u32(&w);
    h->params.parallelism = wire_u32(&w);
    h->salt = wire_bytes(&w, PBE_SALT_LEN);
    h->nonce = wire_bytes(&w, PRIM_GCM_NONCE);
    if (w.err || !params_ok(&h->params))
        return PARLEY_EPROTO;
    if (h->params.t_cost > lim->max_t_cost || h->params.m_cost_kib > lim->max_m_cost_kib ||
        h->params.parallelism > lim->max_parallelism)
        return PARLEY_ETOOBIG;
    h->ct_len = wire_left(&w);
    if (h->ct_len < PRIM_GCM_TAG)
        return PARLEY_EPROTO;
    if (h->ct_len - PRIM_GCM_TAG > lim->max_plaintext)
        return PARLEY_ETOOBIG;
    return 0;
}

static int derive(const uint8_t *pw, size_t pw_len, const struct pbe_params *p, const uint8_t *salt,
                  uint8_t *key)
{
    int r;

    if (pw_len > UINT32_MAX)
        return PARLEY_ETOOBIG;
    proto_alg_note(PROTO_ALG_ARGON2ID);
    r = argon2id_hash_raw(p->t_cost, p->m_cost_kib, p->parallelism, pw, pw_len, salt, PBE_SALT_LEN,
                          key, 32);
    if (r == ARGON2_MEMORY_ALLOCATION_ERROR)
        return PARLEY_ENOMEM;
    return r == ARGON2_OK ? 0 : PARLEY_ECRYPTO;
}

int pbe_seal(const uint8_t *password, size_t pw_len, const struct pbe_params *params,
             const uint8_t *pt, size_t pt_len, struct buf *out)
{
    uint8_t hdr[PBE_HEADER_LEN], key[32];
    struct prim p;
    bool p_ok = false;
    int rc;

    if (!params)
        params = &pbe_params_default;
    if (!params_ok(params))
        return PARLEY_EINVAL;
    if (pt_len > pbe_limits_default.max_plaintext)
        return PARLEY_ETOOBIG;
    memcpy(hdr, MAGIC, 4);
    hdr[4] = VERSION;
    hdr[5] = KDF_ARGON2ID;
    hdr[6] = AEAD_AES256GCM;
    hdr[7] = PBE_SALT_LEN;
    wire_put_u32(hdr + 8, params->t_cost);
    wire_put_u32(hdr + 12, params->m_cost_kib);
    wire_put_u32(hdr + 16, params->parallelism);
    rc = proto_rand(hdr + 20, PBE_SALT_LEN + PRIM_GCM_NONCE);
    if (rc < 0)
        return rc;
    rc = buf_reserve(out, sizeof(hdr) + pt_len + PRIM_GCM_TAG);
    if (rc < 0)
        return rc;
    rc = derive(password, pw_len, params, hdr + 20, key);
    if (rc < 0)
        goto out;
    rc = prim_init(&p);
    if (rc < 0)
        goto out;
    p_ok = true;
    memcpy(out->data + out->len, hdr, sizeof(hdr));
    rc = prim_aead_seal(&p, key, 32, hdr + 36, hdr, sizeof(hdr), pt, pt_len,
                        out->data + out->len + sizeof(hdr));
    if (rc == 0) {
        out->len += sizeof(hdr) + pt_len + PRIM_GCM_TAG;
        out->data[out->len] = 0;
    }
out:
    if (p_ok)
        prim_release(&p);
    OPENSSL_cleanse(key, sizeof(key));
    return rc;
}

int pbe_open(const uint8_t *password, size_t pw_len, const uint8_t *in, size_t len,
             const struct pbe_limits *lim, struct buf *out)
{
    struct pbe_header h;
    uint8_t key[32];
    struct prim p;
    bool p_ok = false;
    size_t n;
    int rc;

    rc = pbe_parse(in, len, lim, &h);
    if (rc < 0)
        return rc;
    n = h.ct_len - PRIM_GCM_TAG;
    rc = buf_reserve(out, n);
    if (rc < 0)
        return rc;
    rc = derive(password, pw_len, &h.params, h.salt, key);
    if (rc < 0)
        goto out;
    rc = prim_init(&p);
    if (rc < 0)
        goto out;
    p_ok = true;
    rc = prim_aead_open(&p, key, 32, h.nonce, in, PBE_HEADER_LEN, in + PBE_HEADER_LEN, h.ct_len,
                        out->data + out->len);
    if (rc == 0) {
        out->len += n;
        out->data[out->len] = 0;
    }
out:
    if (p_ok)
        prim_release(&p);
    OPENSSL_cleanse(key, sizeof(key));
    return rc;
}
