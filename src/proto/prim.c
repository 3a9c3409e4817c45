/* prim.c - see prim.h. */
#include "prim.h"

#include <limits.h>

#include <openssl/core_names.h>
#include <openssl/crypto.h>

static const char *const hash_names[] = {"SHA256", "SHA384", "SHA512"};
static const size_t hash_lens[] = {32, 48, 64};

size_t prim_hash_len(enum prim_hash h)
{
    return (unsigned)h < ARRAY_SIZE(hash_lens) ? hash_lens[h] : 0;
}

int prim_init(struct prim *p)
{
    const struct suite_algs *a = suite_algs();

    memset(p, 0, sizeof(*p));
    if (!a)
        return PARLEY_ECRYPTO;
    for (size_t i = 0; i < ARRAY_SIZE(p->hmac); i++) {
        OSSL_PARAM params[2];
        p->hmac[i] = EVP_MAC_CTX_new(a->hmac);
        if (!p->hmac[i])
            goto nomem;
        params[0] =
            OSSL_PARAM_construct_utf8_string(OSSL_MAC_PARAM_DIGEST, (char *)hash_names[i], 0);
        params[1] = OSSL_PARAM_construct_end();
        if (!EVP_MAC_CTX_set_params(p->hmac[i], params)) {
            prim_release(p);
            return PARLEY_ECRYPTO;
        }
    }
    p->aead = EVP_CIPHER_CTX_new();
    p->md = EVP_MD_CTX_new();
    if (!p->aead || !p->md)
        goto nomem;
    return 0;
nomem:
    prim_release(p);
    return PARLEY_ENOMEM;
}

void prim_release(struct prim *p)
{
    for (size_t i = 0; i < ARRAY_SIZE(p->hmac); i++)
        EVP_MAC_CTX_free(p->hmac[i]);
    EVP_CIPHER_CTX_free(p->aead);
    EVP_MD_CTX_free(p->md);
    EVP_PKEY_CTX_free(p->x25519_fromdata);
    EVP_PKEY_free(p->x25519_base);
    memset(p, 0, sizeof(*p));
}

int prim_hash(enum prim_hash h, const struct prim_iov *iov, size_t n, uint8_t *out)
{
    const struct suite_algs *a = suite_algs();
    EVP_MD_CTX *mc;
    int rc = PARLEY_ECRYPTO;

    if (!a || (unsigned)h >= ARRAY_SIZE(hash_lens))
        return PARLEY_ECRYPTO;
    mc = EVP_MD_CTX_new();
    if (!mc)
        return PARLEY_ENOMEM;
    if (!EVP_DigestInit_ex2(mc, a->md[h], NULL))
        goto out;
    for (size_t i = 0; i < n; i++)
        if (iov[i].len && !EVP_DigestUpdate(mc, iov[i].p, iov[i].len))
            goto out;
    if (!EVP_DigestFinal_ex(mc, out, NULL))
        goto out;
    rc = 0;
out:
    EVP_MD_CTX_free(mc);
    return rc;
}

int prim_digest(struct prim *p, enum prim_hash h, const struct prim_iov *iov, size_t n,
                uint8_t *out)
{
    const struct suite_algs *a = suite_algs();

    if (!a || (unsigned)h >= ARRAY_SIZE(hash_lens))
        return PARLEY_ECRYPTO;
    if (!EVP_DigestInit_ex2(p->md, a->md[h], NULL))
        return PARLEY_ECRYPTO;
    for (size_t i = 0; i < n; i++)
        if (iov[i].len && !EVP_DigestUpdate(p->md, iov[i].p, iov[i].len))
            return PARLEY_ECRYPTO;
    if (!EVP_DigestFinal_ex(p->md, out, NULL))
        return PARLEY_ECRYPTO;
    return 0;
}

int prim_hmac(struct prim *p, enum prim_hash h, const uint8_t *key, size_t klen,
              const struct prim_iov *iov, size_t n, uint8_t *out)
{
    static const uint8_t zero[SUITE_MAX_HASH];
    EVP_MAC_CTX *mc;
    size_t outl;

    if ((unsigned)h >= ARRAY_SIZE(hash_lens))
        return PARLEY_ECRYPTO;
    mc = p->hmac[h];
    proto_alg_note(PROTO_ALG_HMAC);
    if (klen == 0) {
        /* RFC 5869 §2.2: no salt means HashLen zeros (the same HMAC key). */
        key = zero;
        klen = hash_lens[h];
    }
    if (!EVP_MAC_init(mc, key, klen, NULL))
        return PARLEY_ECRYPTO;
    for (size_t i = 0; i < n; i++)
        if (iov[i].len && !EVP_MAC_update(mc, iov[i].p, iov[i].len))
            return PARLEY_ECRYPTO;
    if (!EVP_MAC_final(mc, out, &outl, hash_lens[h]) || outl != hash_lens[h])
        return PARLEY_ECRYPTO;
    return 0;
}

int prim_hkdf_extract(struct prim *p, enum prim_hash h, const uint8_t *salt, size_t salt_len,
                      const struct prim_iov *ikm, size_t n, uint8_t *prk)
{
    return prim_hmac(p, h, salt, salt_len, ikm, n, prk);
}

#define MAX_INFO_IOV 8

int prim_hkdf_expand(struct prim *p, enum prim_hash h, const uint8_t *prk, size_t prk_len,
                     const struct prim_iov *info, size_t n, uint8_t *out, size_t out_len)
{
    size_t hl = prim_hash_len(h), done = 0;
    uint8_t t[SUITE_MAX_HASH];
    struct prim_iov iov[MAX_INFO_IOV + 2];
    uint8_t counter = 0;
    int rc = 0;

    if (!hl || n > MAX_INFO_IOV || out_len > 255 * hl)
        return PARLEY_EINVAL;
    /* T(i) = HMAC(PRK, T(i-1) || info || i) */
    while (done < out_len) {
        size_t k = 0, take;
        counter++;
        iov[k++] = (struct prim_iov){t, counter > 1 ? hl : 0};
        for (size_t i = 0; i < n; i++)
            iov[k++] = info[i];
        iov[k++] = (struct prim_iov){&counter, 1};
        rc = prim_hmac(p, h, prk, prk_len, iov, k, t);
        if (rc < 0)
            break;
        take = out_len - done < hl ? out_len - done : hl;
        memcpy(out + done, t, take);
        done += take;
    }
    OPENSSL_cleanse(t, sizeof(t));
    return rc;
}

static const EVP_CIPHER *gcm_for(size_t key_len)
{
    const struct suite_algs *a = suite_algs();
    if (!a)
        return NULL;
    if (key_len == 16)
        return a->aes128gcm;
    if (key_len == 32)
        return a->aes256gcm;
    return NULL;
}

static int aead_start(struct prim *p, const uint8_t *key, size_t key_len, const uint8_t *nonce,
                      int enc)
{
    const EVP_CIPHER *c = gcm_for(key_len);

    if (!c)
        return PARLEY_EINVAL;
    proto_alg_note(PROTO_ALG_AESGCM);
    /* Re-initialising with the same cipher keeps the provider context. */
    if (!EVP_CipherInit_ex2(p->aead, p->aead_cipher == c && p->aead_enc == enc ? NULL : c, key,
                            nonce, enc, NULL)) {
        p->aead_cipher = NULL;
        return PARLEY_ECRYPTO;
    }
    p->aead_cipher = c;
    p->aead_enc = enc;
    return 0;
}

int prim_aead_seal(struct prim *p, const uint8_t *key, size_t key_len, const uint8_t *nonce,
                   const uint8_t *aad, size_t aad_len, const uint8_t *pt, size_t pt_len,
                   uint8_t *out)
{
    int l, rc;

    if (pt_len > INT_MAX - 64 || aad_len > INT_MAX)
        return PARLEY_ETOOBIG;
    rc = aead_start(p, key, key_len, nonce, 1);
    if (rc < 0)
        return rc;
    if (aad_len && !EVP_CipherUpdate(p->aead, NULL, &l, aad, (int)aad_len))
        return PARLEY_ECRYPTO;
    if (pt_len && !EVP_CipherUpdate(p->aead, out, &l, pt, (int)pt_len))
        return PARLEY_ECRYPTO;
    if (!EVP_CipherFinal_ex(p->aead, out + pt_len, &l))
        return PARLEY_ECRYPTO;
    if (!EVP_CIPHER_CTX_ctrl(p->aead, EVP_CTRL_GCM_GET_TAG, PRIM_GCM_TAG, out + pt_len))
        return PARLEY_ECRYPTO;
    return 0;
}

int prim_aead_open(struct prim *p, const uint8_t *key, size_t key_len, const uint8_t *nonce,
                   const uint8_t *aad, size_t aad_len, const uint8_t *ct, size_t ct_len,
                   uint8_t *out)
{
    uint8_t tag[PRIM_GCM_TAG];
    size_t n;
    int l, rc;

    if (ct_len < PRIM_GCM_TAG)
        return PARLEY_EAUTH;
    if (ct_len > INT_MAX - 64 || aad_len > INT_MAX)
        return PARLEY_ETOOBIG;
    n = ct_len - PRIM_GCM_TAG;
    rc = aead_start(p, key, key_len, nonce, 0);
    if (rc < 0)
        return rc;
    memcpy(tag, ct + n, PRIM_GCM_TAG);
    if (aad_len && !EVP_CipherUpdate(p->aead, NULL, &l, aad, (int)aad_len))
        return PARLEY_ECRYPTO;
    if (n && !EVP_CipherUpdate(p->aead, out, &l, ct, (int)n))
        return PARLEY_ECRYPTO;
    if (!EVP_CIPHER_CTX_ctrl(p->aead, EVP_CTRL_GCM_SET_TAG, PRIM_GCM_TAG, tag))
        return PARLEY_ECRYPTO;
    if (EVP_CipherFinal_ex(p->aead, out + n, &l) <= 0) {
        if (n)
            OPENSSL_cleanse(out, n);
        return PARLEY_EAUTH;
    }
    return 0;
}
