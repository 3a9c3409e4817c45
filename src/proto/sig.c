/* sig.c - Ed25519 and ECDSA P-384 signatures. See sig.h. */
#include "sig.h"

#include <pthread.h>

#include <openssl/bn.h>
#include <openssl/crypto.h>
#include <openssl/ec.h>
#include <sodium.h>

#include "hpke.h"

#define MAX_SIGNED (1u << 26) /* what we ever sign: headers and hashes */

size_t sig_pk_len(enum sig_alg alg)
{
    return alg == SIG_ED25519 ? 32 : alg == SIG_ECDSA_P384 ? 97 : 0;
}

size_t sig_sk_len(enum sig_alg alg)
{
    return alg == SIG_ED25519 ? 32 : alg == SIG_ECDSA_P384 ? 48 : 0;
}

size_t sig_len(enum sig_alg alg)
{
    return alg == SIG_ED25519 ? 64 : alg == SIG_ECDSA_P384 ? 96 : 0;
}

void sig_key_init(struct sig_key *k)
{
    memset(k, 0, sizeof(*k));
}

void sig_key_release(struct sig_key *k)
{
    EVP_PKEY_free(k->pkey);
    OPENSSL_cleanse(k->sk, sizeof(k->sk));
    sig_key_init(k);
}

/* A P-384 point or scalar goes through the HPKE key code, which already
 * validates and converts NIST-curve keys; the EC key object is the same. */
static int p384_take(struct sig_key *k, struct hpke_key *hk)
{
    k->pkey = hk->pkey;
    hk->pkey = NULL;
    memcpy(k->pk, hk->pk, hk->pk_len);
    k->pk_len = hk->pk_len;
    memcpy(k->sk, hk->sk, hk->sk_len);
    k->sk_len = hk->sk_len;
    hpke_key_release(hk);
    return 0;
}

int sig_key_from_public(struct sig_key *k, enum sig_alg alg, const uint8_t *pk, size_t len)
{
    struct hpke_key hk;
    int rc;

    sig_key_init(k);
    k->alg = alg;
    if (!sig_pk_len(alg))
        return PARLEY_EINVAL;
    if (len != sig_pk_len(alg))
        return PARLEY_EPROTO;
    if (alg == SIG_ED25519) {
        proto_alg_note(PROTO_ALG_ED25519);
        k->pkey = EVP_PKEY_new_raw_public_key_ex(NULL, "ED25519", NULL, pk, len);
        if (!k->pkey)
            return PARLEY_EPROTO;
        memcpy(k->pk, pk, len);
        k->pk_len = len;
        return 0;
    }
    proto_alg_note(PROTO_ALG_ECDSA);
    rc = hpke_key_from_public(&hk, HPKE_KEM_P384, pk, len);
    if (rc < 0)
        return rc;
    return p384_take(k, &hk);
}

int sig_key_from_private(struct sig_key *k, enum sig_alg alg, const uint8_t *sk, size_t len)
{
    struct hpke_key hk;
    size_t pl = sizeof(k->pk);
    int rc;

    sig_key_init(k);
    k->alg = alg;
    if (!sig_sk_len(alg))
        return PARLEY_EINVAL;
    if (len != sig_sk_len(alg))
        return PARLEY_EPROTO;
    if (alg == SIG_ED25519) {
        proto_alg_note(PROTO_ALG_ED25519);
        k->pkey = EVP_PKEY_new_raw_private_key_ex(NULL, "ED25519", NULL, sk, len);
        if (!k->pkey)
            return PARLEY_ENOMEM;
        if (!EVP_PKEY_get_raw_public_key(k->pkey, k->pk, &pl) || pl != 32) {
            sig_key_release(k);
            return PARLEY_ECRYPTO;
        }
        k->pk_len = pl;
        memcpy(k->sk, sk, len);
        k->sk_len = len;
        return 0;
    }
    proto_alg_note(PROTO_ALG_ECDSA);
    rc = hpke_key_from_private(&hk, HPKE_KEM_P384, sk, len);
    if (rc < 0)
        return rc;
    return p384_take(k, &hk);
}

int sig_key_generate(struct sig_key *k, enum sig_alg alg)
{
    uint8_t sk[SUITE_MAX_SIG_SK];
    size_t n = sig_sk_len(alg);
    int rc = PARLEY_ECRYPTO;

    sig_key_init(k);
    if (!n)
        return PARLEY_EINVAL;
    /* For P-384, a scalar >= n (probability ~2^-190) is simply redrawn. */
    for (int tries = 0; tries < 16; tries++) {
        rc = proto_rand(sk, n);
        if (rc < 0)
            break;
        rc = sig_key_from_private(k, alg, sk, n);
        if (rc != PARLEY_EPROTO)
            break;
    }
    OPENSSL_cleanse(sk, sizeof(sk));
    return rc;
}

int sig_key_dup_public(struct sig_key *dst, const struct sig_key *src)
{
    return sig_key_from_public(dst, src->alg, src->pk, src->pk_len);
}

/* Ed25519 has no streaming interface in OpenSSL 3.0: join the parts. */
static uint8_t *join(const struct prim_iov *msg, size_t n, size_t *len)
{
    size_t total = 0, off = 0;
    uint8_t *p;

    for (size_t i = 0; i < n; i++) {
        if (msg[i].len > MAX_SIGNED - total)
            return NULL;
        total += msg[i].len;
    }
    p = malloc(total ? total : 1);
    if (!p)
        return NULL;
    for (size_t i = 0; i < n; i++) {
        if (msg[i].len)
            memcpy(p + off, msg[i].p, msg[i].len);
        off += msg[i].len;
    }
    *len = total;
    return p;
}

/* The P-384 group order n and n / 2 (FIPS 186-4 D.1.2.4), big-endian. */
static const uint8_t p384_n[48] = {
    0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff,
    0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xc7, 0x63, 0x4d, 0x81, 0xf4, 0x37, 0x2d, 0xdf,
    0x58, 0x1a, 0x0d, 0xb2, 0x48, 0xb0, 0xa7, 0x7a, 0xec, 0xec, 0x19, 0x6a, 0xcc, 0xc5, 0x29, 0x73};
static const uint8_t p384_half_n[48] = {
    0x7f, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff,
    0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xe3, 0xb1, 0xa6, 0xc0, 0xfa, 0x1b, 0x96, 0xef,
    0xac, 0x0d, 0x06, 0xd9, 0x24, 0x58, 0x53, 0xbd, 0x76, 0x76, 0x0c, 0xb5, 0x66, 0x62, 0x94, 0xb9};

/* DER ECDSA-Sig-Value -> fixed r || s (48 bytes each), with s replaced by
 * n - s when s > n/2: (r, s) and (r, n - s) both verify, so keeping only
 * the low one gives every signature a single encoding. */
static int der_to_raw(const uint8_t *der, size_t der_len, uint8_t *raw)
{
    const unsigned char *q = der;
    ECDSA_SIG *s = d2i_ECDSA_SIG(NULL, &q, (long)der_len);
    const BIGNUM *r, *ss;
    BIGNUM *n = NULL, *low = NULL;
    int rc = PARLEY_ECRYPTO;

    if (!s)
        return PARLEY_ECRYPTO;
    ECDSA_SIG_get0(s, &r, &ss);
    if (BN_bn2binpad(r, raw, 48) != 48 || BN_bn2binpad(ss, raw + 48, 48) != 48)
        goto out;
    if (memcmp(raw + 48, p384_half_n, 48) > 0) {
        n = BN_bin2bn(p384_n, 48, NULL);
        low = BN_new();
        if (!n || !low || !BN_sub(low, n, ss) || BN_bn2binpad(low, raw + 48, 48) != 48)
            goto out;
    }
    rc = 0;
out:
    BN_free(n);
    BN_free(low);
    ECDSA_SIG_free(s);
    return rc;
}

static int raw_to_der(const uint8_t *raw, uint8_t **der, size_t *der_len)
{
    ECDSA_SIG *s = ECDSA_SIG_new();
    BIGNUM *r = BN_bin2bn(raw, 48, NULL), *ss = BN_bin2bn(raw + 48, 48, NULL);
    unsigned char *out = NULL;
    int n, rc = PARLEY_ENOMEM;

    if (!s || !r || !ss)
        goto out;
    if (!ECDSA_SIG_set0(s, r, ss))
        goto out;
    r = ss = NULL; /* owned by s now */
    n = i2d_ECDSA_SIG(s, &out);
    if (n <= 0)
        goto out;
    *der = out;
    *der_len = (size_t)n;
    rc = 0;
out:
    BN_free(r);
    BN_free(ss);
    ECDSA_SIG_free(s);
    return rc;
}

/* Ed25519 verification goes through libsodium: on this kind of machine it
 * is about twice as fast as OpenSSL 3.0's (48 against 103 us), and it is
 * the largest cost of receiving a message. It is also stricter: besides
 * what OpenSSL checks (S < L, a public key on the curve), it refuses
 * non-canonical and small-order public keys and small-order R, which no
 * honestly generated key or signature has. Signing stays on OpenSSL. */
static pthread_once_t sodium_once = PTHREAD_ONCE_INIT;
static int sodium_ready = -1;

static void sodium_start(void)
{
    sodium_ready = sodium_init() < 0 ? -1 : 0;
}

static int ed25519_verify(const struct sig_key *k, const uint8_t *m, size_t mlen,
                          const uint8_t *sig)
{
    if (pthread_once(&sodium_once, sodium_start) != 0 || sodium_ready < 0)
        return PARLEY_ECRYPTO;
    return crypto_sign_verify_detached(sig, m, mlen, k->pk) == 0 ? 0 : PARLEY_EAUTH;
}

int sig_sign(const struct sig_key *k, const struct prim_iov *msg, size_t n, uint8_t *sig)
{
    EVP_MD_CTX *mc = NULL;
    uint8_t *m = NULL, der[160];
    size_t mlen = 0, slen;
    int rc = PARLEY_ENOMEM;

    if (!k->pkey || !k->sk_len)
        return PARLEY_EINVAL;
    proto_alg_note(k->alg == SIG_ED25519 ? PROTO_ALG_ED25519 : PROTO_ALG_ECDSA);
    m = join(msg, n, &mlen);
    mc = EVP_MD_CTX_new();
    if (!m || !mc)
        goto out;
    rc = PARLEY_ECRYPTO;
    if (k->alg == SIG_ED25519) {
        slen = 64;
        if (EVP_DigestSignInit_ex(mc, NULL, NULL, NULL, NULL, k->pkey, NULL) <= 0 ||
            EVP_DigestSign(mc, sig, &slen, m, mlen) <= 0 || slen != 64)
            goto out;
    } else {
        slen = sizeof(der);
        if (EVP_DigestSignInit_ex(mc, NULL, "SHA384", NULL, NULL, k->pkey, NULL) <= 0 ||
            EVP_DigestSign(mc, der, &slen, m, mlen) <= 0)
            goto out;
        if (der_to_raw(der, slen, sig) < 0)
            goto out;
    }
    rc = 0;
out:
    EVP_MD_CTX_free(mc);
    free(m);
    return rc;
}

int sig_verify(const struct sig_key *k, const struct prim_iov *msg, size_t n, const uint8_t *sig,
               size_t len)
{
    EVP_MD_CTX *mc = NULL;
    uint8_t *m = NULL, *der = NULL;
    size_t mlen = 0, dlen = 0;
    int rc = PARLEY_ENOMEM;

    if (!k->pkey)
        return PARLEY_EINVAL;
    if (len != sig_len(k->alg))
        return PARLEY_EAUTH;
    proto_alg_note(k->alg == SIG_ED25519 ? PROTO_ALG_ED25519 : PROTO_ALG_ECDSA);
    m = join(msg, n, &mlen);
    if (!m)
        goto out;
    if (k->alg == SIG_ED25519) {
        rc = ed25519_verify(k, m, mlen, sig);
        goto out;
    }
    rc = PARLEY_EAUTH;
    if (memcmp(sig + 48, p384_half_n, 48) > 0) /* high s: not our encoding */
        goto out;
    rc = raw_to_der(sig, &der, &dlen);
    if (rc < 0)
        goto out;
    rc = PARLEY_ENOMEM;
    if (!(mc = EVP_MD_CTX_new()))
        goto out;
    rc = PARLEY_EAUTH;
    if (EVP_DigestVerifyInit_ex(mc, NULL, "SHA384", NULL, NULL, k->pkey, NULL) <= 0 ||
        EVP_DigestVerify(mc, der, dlen, m, mlen) != 1)
        goto out;
    rc = 0;
out:
    OPENSSL_free(der);
    EVP_MD_CTX_free(mc);
    free(m);
    return rc;
}
