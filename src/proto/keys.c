/* keys.c - identity, device certificates, pre-keys, bundles, key store,
 * fingerprints. Byte layouts are in docs/protocol.md ("Keys"). */
#include "keys.h"

#include <openssl/crypto.h>

#include "wire.h"

#define CERT_CTX    "parley-device-cert-v1"
#define PREKEY_CTX  "parley-prekey-v1"
#define FP_CTX      "parley-fingerprint-v1"
#define STORE_MAGIC "PDKS"
#define IDENT_MAGIC "PIDK"

static size_t cert_len_for(const struct suite *s)
{
    return 2 + 2 * KEYS_ID_LEN + 2 * s->sig_pk_len + 8 + s->sig_len;
}

static size_t prekey_len_for(const struct suite *s)
{
    return 4 + KEYS_ID_LEN + 4 + 8 + s->kem_pk_len + s->sig_len;
}

/* ---- identity ---------------------------------------------------------- */

int keys_identity_generate(struct keys_identity *id, const struct suite *s,
                           const uint8_t user_id[KEYS_ID_LEN])
{
    memset(id, 0, sizeof(*id));
    if (!s)
        return PARLEY_EINVAL;
    id->suite = s;
    memcpy(id->user_id, user_id, KEYS_ID_LEN);
    return sig_key_generate(&id->key, s->sig);
}

void keys_identity_release(struct keys_identity *id)
{
    sig_key_release(&id->key);
    memset(id, 0, sizeof(*id));
}

int keys_identity_save(const struct keys_identity *id, struct buf *out)
{
    int rc = buf_reserve(out, 6 + KEYS_ID_LEN + id->key.sk_len);
    if (rc < 0)
        return rc;
    if (!id->key.sk_len)
        return PARLEY_EINVAL;
    buf_append(out, IDENT_MAGIC, 4);
    buf_append_byte(out, KEYS_VERSION);
    buf_append_byte(out, id->suite->id);
    buf_append(out, id->user_id, KEYS_ID_LEN);
    return buf_append(out, id->key.sk, id->key.sk_len);
}

int keys_identity_load(struct keys_identity *id, const uint8_t *p, size_t len)
{
    struct wire w;
    const uint8_t *magic, *sk;
    uint8_t version;
    int rc;

    memset(id, 0, sizeof(*id));
    wire_init(&w, p, len);
    magic = wire_bytes(&w, 4);
    version = wire_u8(&w);
    id->suite = suite_get(wire_u8(&w));
    wire_copy(&w, id->user_id, KEYS_ID_LEN);
    if (!magic || memcmp(magic, IDENT_MAGIC, 4) || version != KEYS_VERSION || !id->suite)
        return PARLEY_EPROTO;
    sk = wire_bytes(&w, id->suite->sig_sk_len);
    rc = wire_end(&w);
    if (rc == 0)
        rc = sig_key_from_private(&id->key, id->suite->sig, sk, id->suite->sig_sk_len);
    if (rc < 0)
        keys_identity_release(id);
    return rc;
}

int keys_identity_certify(const struct keys_identity *id, struct keys_device *dev, uint64_t created)
{
    const struct suite *s = id->suite;
    size_t n = cert_len_for(s), body = n - s->sig_len;
    uint8_t *c;
    int rc;

    if (dev->suite != s || memcmp(dev->user_id, id->user_id, KEYS_ID_LEN))
        return PARLEY_EINVAL;
    c = malloc(n);
    if (!c)
        return PARLEY_ENOMEM;
    c[0] = KEYS_VERSION;
    c[1] = s->id;
    memcpy(c + 2, id->user_id, KEYS_ID_LEN);
    memcpy(c + 2 + KEYS_ID_LEN, dev->device_id, KEYS_ID_LEN);
    memcpy(c + 2 + 2 * KEYS_ID_LEN, id->key.pk, s->sig_pk_len);
    memcpy(c + 2 + 2 * KEYS_ID_LEN + s->sig_pk_len, dev->sign.pk, s->sig_pk_len);
    wire_put_u64(c + 2 + 2 * KEYS_ID_LEN + 2 * s->sig_pk_len, created);
    {
        struct prim_iov m[] = {{CERT_CTX, strlen(CERT_CTX)}, {c, body}};
        rc = sig_sign(&id->key, m, 2, c + body);
    }
    if (rc < 0) {
        free(c);
        return rc;
    }
    free(dev->cert);
    dev->cert = c;
    dev->cert_len = n;
    return 0;
}

/* ---- certificates -------------------------------------------------------- */

void keys_cert_release(struct keys_cert *c)
{
    sig_key_release(&c->identity);
    sig_key_release(&c->device);
    memset(c, 0, sizeof(*c));
}

/* ---- verified certificate cache ---------------------------------------- */

int keys_cert_cache_init(struct keys_cert_cache *cc, size_t cap)
{
    memset(cc, 0, sizeof(*cc));
    if (cap == 0 || cap > 4096)
        return PARLEY_EINVAL;
    cc->e = calloc(cap, sizeof(*cc->e));
    if (!cc->e)
        return PARLEY_ENOMEM;
    if (pthread_mutex_init(&cc->mu, NULL) != 0) {
        free(cc->e);
        cc->e = NULL;
        return PARLEY_ENOMEM;
    }
    cc->cap = cap;
    return 0;
}

static void cert_entry_wipe(struct keys_cert_cache_entry *e)
{
    if (e->used)
        keys_cert_release(&e->cert);
    OPENSSL_cleanse(e, sizeof(*e));
}

void keys_cert_cache_release(struct keys_cert_cache *cc)
{
    if (!cc->e)
        return;
    for (size_t i = 0; i < cc->cap; i++)
        cert_entry_wipe(&cc->e[i]);
    free(cc->e);
    pthread_mutex_destroy(&cc->mu);
    memset(cc, 0, sizeof(*cc));
}

/* A second reference to the same public key object: no parsing. */
static void sig_key_share(struct sig_key *dst, const struct sig_key *src)
{
    *dst = *src;
    if (dst->pkey)
        EVP_PKEY_up_ref(dst->pkey);
}

static void cert_share(struct keys_cert *dst, const struct keys_cert *src)
{
    *dst = *src;
    sig_key_share(&dst->identity, &src->identity);
    sig_key_share(&dst->device, &src->device);
}

/* The entry verified for exactly these certificate bytes, identity key
 * and user, or NULL. */
static struct keys_cert_cache_entry *cert_cache_find(struct keys_cert_cache *cc, const uint8_t *p,
                                                     size_t len, const struct sig_key *identity,
                                                     const uint8_t user_id[KEYS_ID_LEN])
{
    for (size_t i = 0; i < cc->cap; i++) {
        struct keys_cert_cache_entry *e = &cc->e[i];
        if (e->used && e->cert_len == len && memcmp(e->cert_bytes, p, len) == 0 &&
            e->id_alg == identity->alg && e->id_pk_len == identity->pk_len &&
            memcmp(e->id_pk, identity->pk, identity->pk_len) == 0 &&
            memcmp(e->user_id, user_id, KEYS_ID_LEN) == 0)
            return e;
    }
    return NULL;
}

int keys_cert_verify_cached(struct keys_cert_cache *cc, const uint8_t *p, size_t len,
                            const struct sig_key *identity, const uint8_t user_id[KEYS_ID_LEN],
                            struct keys_cert *out)
{
    struct keys_cert_cache_entry *e, *victim;
    int rc;

    if (!cc)
        return keys_cert_verify(p, len, identity, user_id, out);
    memset(out, 0, sizeof(*out));
    if (!identity || !user_id || !cc->e)
        return PARLEY_EINVAL;
    if (len > KEYS_CERT_MAX_LEN || identity->pk_len > sizeof(e->id_pk))
        return keys_cert_verify(p, len, identity, user_id, out); /* refuses it */

    pthread_mutex_lock(&cc->mu);
    e = cert_cache_find(cc, p, len, identity, user_id);
    if (e) {
        e->used = ++cc->tick;
        cc->hits++;
        cert_share(out, &e->cert);
    }
    pthread_mutex_unlock(&cc->mu);
    if (e)
        return 0;

    /* Verify outside the lock; another thread may do the same meanwhile. */
    rc = keys_cert_verify(p, len, identity, user_id, out);
    pthread_mutex_lock(&cc->mu);
    cc->misses++;
    if (rc == 0 && !cert_cache_find(cc, p, len, identity, user_id)) {
        victim = &cc->e[0];
        for (size_t i = 1; i < cc->cap && victim->used; i++)
            if (cc->e[i].used < victim->used)
                victim = &cc->e[i];
        cert_entry_wipe(victim);
        memcpy(victim->user_id, user_id, KEYS_ID_LEN);
        memcpy(victim->id_pk, identity->pk, identity->pk_len);
        victim->id_pk_len = identity->pk_len;
        victim->id_alg = identity->alg;
        memcpy(victim->cert_bytes, p, len);
        victim->cert_len = len;
        cert_share(&victim->cert, out);
        victim->used = ++cc->tick;
    }
    pthread_mutex_unlock(&cc->mu);
    return rc;
}

int keys_cert_verify(const uint8_t *p, size_t len, const struct sig_key *identity,
                     const uint8_t user_id[KEYS_ID_LEN], struct keys_cert *out)
{
    const struct suite *s;
    const uint8_t *ipk, *dpk, *sig;
    struct wire w;
    int rc;

    memset(out, 0, sizeof(*out));
    wire_init(&w, p, len);
    if (wire_u8(&w) != KEYS_VERSION)
        return PARLEY_EPROTO;
    s = suite_get(wire_u8(&w));
    if (!s)
        return PARLEY_EPROTO;
    out->suite = s;
    wire_copy(&w, out->user_id, KEYS_ID_LEN);
    wire_copy(&w, out->device_id, KEYS_ID_LEN);
    ipk = wire_bytes(&w, s->sig_pk_len);
    dpk = wire_bytes(&w, s->sig_pk_len);
    out->created = wire_u64(&w);
    sig = wire_bytes(&w, s->sig_len);
    rc = wire_end(&w);
    if (rc < 0)
        goto fail;
    rc = PARLEY_EAUTH;
    /* The chain starts at the pinned identity key: the certificate must name
     * exactly that key (and that user), in the same suite. */
    if (identity && (identity->alg != s->sig || identity->pk_len != s->sig_pk_len ||
                     CRYPTO_memcmp(identity->pk, ipk, s->sig_pk_len)))
        goto fail;
    if (user_id && memcmp(user_id, out->user_id, KEYS_ID_LEN))
        goto fail;
    rc = sig_key_from_public(&out->identity, s->sig, ipk, s->sig_pk_len);
    if (rc < 0)
        goto fail;
    {
        struct prim_iov m[] = {{CERT_CTX, strlen(CERT_CTX)}, {p, len - s->sig_len}};
        rc = sig_verify(&out->identity, m, 2, sig, s->sig_len);
    }
    if (rc < 0)
        goto fail;
    rc = sig_key_from_public(&out->device, s->sig, dpk, s->sig_pk_len);
    if (rc < 0)
        goto fail;
    return 0;
fail:
    keys_cert_release(out);
    return rc == PARLEY_EPROTO || rc == PARLEY_ENOMEM ? rc : PARLEY_EAUTH;
}

/* ---- device --------------------------------------------------------------- */

int keys_device_generate(struct keys_device *dev, const struct suite *s,
                         const uint8_t user_id[KEYS_ID_LEN])
{
    int rc;

    memset(dev, 0, sizeof(*dev));
    if (!s)
        return PARLEY_EINVAL;
    dev->suite = s;
    dev->next_prekey_id = 1;
    memcpy(dev->user_id, user_id, KEYS_ID_LEN);
    rc = proto_rand(dev->device_id, KEYS_ID_LEN);
    if (rc == 0)
        rc = sig_key_generate(&dev->sign, s->sig);
    if (rc < 0)
        keys_device_release(dev);
    return rc;
}

void keys_device_release(struct keys_device *dev)
{
    sig_key_release(&dev->sign);
    for (size_t i = 0; i < dev->n_prekeys; i++)
        hpke_key_release(&dev->prekeys[i].key);
    free(dev->prekeys);
    free(dev->cert);
    memset(dev, 0, sizeof(*dev));
}

static int prekey_slot(struct keys_device *dev, struct keys_prekey **slot)
{
    if (dev->n_prekeys == dev->cap_prekeys) {
        size_t n = dev->cap_prekeys ? dev->cap_prekeys * 2 : 16;
        struct keys_prekey *p;
        if (n > 4 * KEYS_MAX_PREKEYS)
            return PARLEY_ETOOBIG;
        /* realloc moves only EVP_PKEY pointers and secret bytes of live
         * keys; the old block is freed by realloc, so copy by hand to wipe
         * it. */
        p = calloc(n, sizeof(*p));
        if (!p)
            return PARLEY_ENOMEM;
        if (dev->n_prekeys)
            memcpy(p, dev->prekeys, dev->n_prekeys * sizeof(*p));
        if (dev->prekeys)
            OPENSSL_cleanse(dev->prekeys, dev->cap_prekeys * sizeof(*p));
        free(dev->prekeys);
        dev->prekeys = p;
        dev->cap_prekeys = n;
    }
    *slot = &dev->prekeys[dev->n_prekeys];
    return 0;
}

static int new_prekey(struct keys_device *dev, uint8_t kind, uint64_t now, struct prim *p)
{
    struct keys_prekey *k;
    int rc = prekey_slot(dev, &k);

    if (rc < 0)
        return rc;
    if (dev->next_prekey_id == 0 || dev->next_prekey_id == UINT32_MAX)
        return PARLEY_ETOOBIG;
    rc = hpke_key_generate(&k->key, p, dev->suite->kem_id);
    if (rc < 0)
        return rc;
    k->id = dev->next_prekey_id++;
    k->kind = kind;
    k->created = now;
    dev->n_prekeys++;
    if (kind == KEYS_PREKEY_FALLBACK)
        dev->fallback_id = k->id;
    return 0;
}

int keys_device_add_prekeys(struct keys_device *dev, size_t n, uint64_t now)
{
    struct prim p;
    int rc;

    if (n > KEYS_MAX_PREKEYS || keys_device_count_onetime(dev) + n > KEYS_MAX_PREKEYS)
        return PARLEY_ETOOBIG;
    rc = prim_init(&p);
    for (size_t i = 0; rc == 0 && i < n; i++)
        rc = new_prekey(dev, KEYS_PREKEY_ONETIME, now, &p);
    prim_release(&p);
    return rc;
}

int keys_device_rotate_fallback(struct keys_device *dev, uint64_t now)
{
    struct prim p;
    int rc = prim_init(&p);
    if (rc == 0)
        rc = new_prekey(dev, KEYS_PREKEY_FALLBACK, now, &p);
    prim_release(&p);
    return rc;
}

static void remove_at(struct keys_device *dev, size_t i)
{
    hpke_key_release(&dev->prekeys[i].key);
    memmove(&dev->prekeys[i], &dev->prekeys[i + 1],
            (dev->n_prekeys - i - 1) * sizeof(dev->prekeys[0]));
    dev->n_prekeys--;
    OPENSSL_cleanse(&dev->prekeys[dev->n_prekeys], sizeof(dev->prekeys[0]));
}

size_t keys_device_drop_fallbacks(struct keys_device *dev, uint64_t older_than)
{
    size_t dropped = 0;
    for (size_t i = 0; i < dev->n_prekeys;) {
        struct keys_prekey *k = &dev->prekeys[i];
        if (k->kind == KEYS_PREKEY_FALLBACK && k->id != dev->fallback_id &&
            k->created < older_than) {
            remove_at(dev, i);
            dropped++;
        } else {
            i++;
        }
    }
    return dropped;
}

const struct keys_prekey *keys_device_find_prekey(const struct keys_device *dev, uint32_t id)
{
    for (size_t i = 0; i < dev->n_prekeys; i++)
        if (dev->prekeys[i].id == id)
            return &dev->prekeys[i];
    return NULL;
}

int keys_device_consume_prekey(struct keys_device *dev, uint32_t id)
{
    for (size_t i = 0; i < dev->n_prekeys; i++) {
        if (dev->prekeys[i].id != id)
            continue;
        if (dev->prekeys[i].kind != KEYS_PREKEY_ONETIME)
            return PARLEY_EPERM;
        remove_at(dev, i);
        return 0;
    }
    return PARLEY_ENOTFOUND;
}

size_t keys_device_count_onetime(const struct keys_device *dev)
{
    size_t n = 0;
    for (size_t i = 0; i < dev->n_prekeys; i++)
        n += dev->prekeys[i].kind == KEYS_PREKEY_ONETIME;
    return n;
}

static int append_signed_prekey(const struct keys_device *dev, const struct keys_prekey *k,
                                struct buf *out)
{
    const struct suite *s = dev->suite;
    uint8_t b[4 + KEYS_ID_LEN + 4 + 8 + SUITE_MAX_KEM_PK + SUITE_MAX_SIG];
    size_t body = prekey_len_for(s) - s->sig_len;
    int rc;

    b[0] = KEYS_VERSION;
    b[1] = s->id;
    b[2] = k->kind;
    b[3] = 0;
    memcpy(b + 4, dev->device_id, KEYS_ID_LEN);
    wire_put_u32(b + 4 + KEYS_ID_LEN, k->id);
    wire_put_u64(b + 8 + KEYS_ID_LEN, k->created);
    memcpy(b + 16 + KEYS_ID_LEN, k->key.pk, s->kem_pk_len);
    {
        struct prim_iov m[] = {{PREKEY_CTX, strlen(PREKEY_CTX)}, {b, body}};
        rc = sig_sign(&dev->sign, m, 2, b + body);
    }
    if (rc < 0)
        return rc;
    return buf_append(out, b, body + s->sig_len);
}

int keys_device_bundle(const struct keys_device *dev, uint32_t min_id, struct buf *out)
{
    const struct keys_prekey *fb = keys_device_find_prekey(dev, dev->fallback_id);
    size_t count = fb ? 1 : 0;
    uint8_t hdr[4];
    int rc;

    if (!dev->cert)
        return PARLEY_EINVAL;
    for (size_t i = 0; i < dev->n_prekeys; i++)
        count += dev->prekeys[i].kind == KEYS_PREKEY_ONETIME && dev->prekeys[i].id >= min_id;
    if (count > KEYS_MAX_PREKEYS)
        return PARLEY_ETOOBIG;
    hdr[0] = KEYS_VERSION;
    hdr[1] = dev->suite->id;
    wire_put_u16(hdr + 2, (uint16_t)dev->cert_len);
    rc = buf_append(out, hdr, 4);
    if (rc == 0)
        rc = buf_append(out, dev->cert, dev->cert_len);
    if (rc == 0)
        rc = buf_append_u16(out, (uint16_t)count);
    for (size_t i = 0; rc == 0 && i < dev->n_prekeys; i++)
        if (dev->prekeys[i].kind == KEYS_PREKEY_ONETIME && dev->prekeys[i].id >= min_id)
            rc = append_signed_prekey(dev, &dev->prekeys[i], out);
    if (rc == 0 && fb)
        rc = append_signed_prekey(dev, fb, out);
    return rc;
}

int keys_device_save(const struct keys_device *dev, struct buf *out)
{
    const struct suite *s = dev->suite;
    size_t need = 6 + 2 * KEYS_ID_LEN + s->sig_sk_len + 2 + dev->cert_len + 12 +
                  dev->n_prekeys * (4 + 1 + 8 + s->kem_sk_len);
    int rc;

    /* Reserve once so that no realloc leaves secret copies behind. */
    rc = buf_reserve(out, need);
    if (rc < 0)
        return rc;
    buf_append(out, STORE_MAGIC, 4);
    buf_append_byte(out, KEYS_VERSION);
    buf_append_byte(out, s->id);
    buf_append(out, dev->user_id, KEYS_ID_LEN);
    buf_append(out, dev->device_id, KEYS_ID_LEN);
    buf_append(out, dev->sign.sk, s->sig_sk_len);
    buf_append_u16(out, (uint16_t)dev->cert_len);
    if (dev->cert_len)
        buf_append(out, dev->cert, dev->cert_len);
    buf_append_u32(out, dev->next_prekey_id);
    buf_append_u32(out, dev->fallback_id);
    buf_append_u32(out, (uint32_t)dev->n_prekeys);
    for (size_t i = 0; i < dev->n_prekeys; i++) {
        const struct keys_prekey *k = &dev->prekeys[i];
        buf_append_u32(out, k->id);
        buf_append_byte(out, k->kind);
        buf_append_u64(out, k->created);
        rc = buf_append(out, k->key.sk, s->kem_sk_len);
    }
    return rc;
}

int keys_device_load(struct keys_device *dev, const uint8_t *p, size_t len)
{
    const struct suite *s;
    const uint8_t *magic, *sk, *cert;
    struct wire w;
    uint32_t n;
    uint16_t cert_len;
    int rc = PARLEY_EPROTO;

    memset(dev, 0, sizeof(*dev));
    if (len > KEYS_MAX_STORE)
        return PARLEY_ETOOBIG;
    wire_init(&w, p, len);
    magic = wire_bytes(&w, 4);
    if (!magic || memcmp(magic, STORE_MAGIC, 4) || wire_u8(&w) != KEYS_VERSION)
        return PARLEY_EPROTO;
    s = suite_get(wire_u8(&w));
    if (!s)
        return PARLEY_EPROTO;
    dev->suite = s;
    wire_copy(&w, dev->user_id, KEYS_ID_LEN);
    wire_copy(&w, dev->device_id, KEYS_ID_LEN);
    sk = wire_bytes(&w, s->sig_sk_len);
    cert_len = wire_u16(&w);
    cert = wire_bytes(&w, cert_len);
    dev->next_prekey_id = wire_u32(&w);
    dev->fallback_id = wire_u32(&w);
    n = wire_u32(&w);
    if (w.err || n > 4 * KEYS_MAX_PREKEYS || (cert_len && cert_len != cert_len_for(s)))
        goto fail;
    rc = sig_key_from_private(&dev->sign, s->sig, sk, s->sig_sk_len);
    if (rc < 0)
        goto fail;
    if (cert_len) {
        rc = PARLEY_ENOMEM;
        dev->cert = malloc(cert_len);
        if (!dev->cert)
            goto fail;
        memcpy(dev->cert, cert, cert_len);
        dev->cert_len = cert_len;
    }
    for (uint32_t i = 0; i < n; i++) {
        struct keys_prekey *k;
        uint32_t id = wire_u32(&w);
        uint8_t kind = wire_u8(&w);
        uint64_t created = wire_u64(&w);
        const uint8_t *ksk = wire_bytes(&w, s->kem_sk_len);
        rc = PARLEY_EPROTO;
        if (!ksk || (kind != KEYS_PREKEY_ONETIME && kind != KEYS_PREKEY_FALLBACK))
            goto fail;
        rc = prekey_slot(dev, &k);
        if (rc < 0)
            goto fail;
        rc = hpke_key_from_private(&k->key, s->kem_id, ksk, s->kem_sk_len);
        if (rc < 0)
            goto fail;
        k->id = id;
        k->kind = kind;
        k->created = created;
        dev->n_prekeys++;
    }
    rc = wire_end(&w);
    if (rc == 0)
        return 0;
fail:
    keys_device_release(dev);
    return rc;
}

/* ---- bundles -------------------------------------------------------------- */

void keys_bundle_release(struct keys_bundle *b)
{
    keys_cert_release(&b->cert);
    for (size_t i = 0; i < b->n_prekeys; i++)
        hpke_key_release(&b->prekeys[i].key);
    free(b->prekeys);
    memset(b, 0, sizeof(*b));
}

/* The structure of a bundle, without any key: shared by verify and take. */
struct bundle_view {
    const struct suite *suite;
    const uint8_t *cert;
    size_t cert_len;
    const uint8_t *prekeys; /* count entries of prekey_len bytes */
    size_t count, prekey_len;
};

static int bundle_parse(const uint8_t *p, size_t len, struct bundle_view *v)
{
    struct wire w;
    int fallbacks = 0;

    wire_init(&w, p, len);
    if (wire_u8(&w) != KEYS_VERSION)
        return PARLEY_EPROTO;
    v->suite = suite_get(wire_u8(&w));
    if (!v->suite)
        return PARLEY_EPROTO;
    v->cert_len = wire_u16(&w);
    if (v->cert_len != cert_len_for(v->suite))
        return PARLEY_EPROTO;
    v->cert = wire_bytes(&w, v->cert_len);
    v->count = wire_u16(&w);
    v->prekey_len = prekey_len_for(v->suite);
    if (v->count > KEYS_MAX_PREKEYS)
        return PARLEY_ETOOBIG;
    v->prekeys = wire_bytes(&w, v->count * v->prekey_len);
    if (wire_end(&w) < 0)
        return PARLEY_EPROTO;
    for (size_t i = 0; i < v->count; i++) {
        const uint8_t *k = v->prekeys + i * v->prekey_len;
        if (k[0] != KEYS_VERSION || k[1] != v->suite->id || k[3] != 0 ||
            (k[2] != KEYS_PREKEY_ONETIME && k[2] != KEYS_PREKEY_FALLBACK))
            return PARLEY_EPROTO;
        fallbacks += k[2] == KEYS_PREKEY_FALLBACK;
    }
    return fallbacks <= 1 ? 0 : PARLEY_EPROTO;
}

int keys_bundle_verify(const uint8_t *p, size_t len, const struct sig_key *identity,
                       struct keys_bundle *out)
{
    struct bundle_view v;
    int rc;

    memset(out, 0, sizeof(*out));
    rc = bundle_parse(p, len, &v);
    if (rc < 0)
        return rc;
    rc = keys_cert_verify(v.cert, v.cert_len, identity, NULL, &out->cert);
    if (rc < 0)
        return rc;
    if (v.count) {
        out->prekeys = calloc(v.count, sizeof(*out->prekeys));
        if (!out->prekeys) {
            rc = PARLEY_ENOMEM;
            goto fail;
        }
    }
    for (size_t i = 0; i < v.count; i++) {
        const struct suite *s = v.suite;
        const uint8_t *k = v.prekeys + i * v.prekey_len;
        size_t body = v.prekey_len - s->sig_len;
        struct keys_prekey_pub *o = &out->prekeys[i];
        struct prim_iov m[] = {{PREKEY_CTX, strlen(PREKEY_CTX)}, {k, body}};

        /* Signed by this device, for this device. */
        rc = PARLEY_EAUTH;
        if (memcmp(k + 4, out->cert.device_id, KEYS_ID_LEN))
            goto fail;
        rc = sig_verify(&out->cert.device, m, 2, k + body, s->sig_len);
        if (rc < 0)
            goto fail;
        o->kind = k[2];
        memcpy(o->device_id, k + 4, KEYS_ID_LEN);
        o->id = (uint32_t)k[20] << 24 | (uint32_t)k[21] << 16 | (uint32_t)k[22] << 8 | k[23];
        o->created = 0;
        for (int j = 0; j < 8; j++)
            o->created = o->created << 8 | k[24 + j];
        rc = hpke_key_from_public(&o->key, s->kem_id, k + 32, s->kem_pk_len);
        if (rc < 0)
            goto fail;
        out->n_prekeys++;
    }
    return 0;
fail:
    keys_bundle_release(out);
    return rc;
}

int keys_bundle_take(const uint8_t *p, size_t len, struct buf *for_sender, struct buf *rest)
{
    struct bundle_view v;
    size_t pick = SIZE_MAX, fb = SIZE_MAX, head;
    int rc;

    rc = bundle_parse(p, len, &v);
    if (rc < 0)
        return rc;
    for (size_t i = 0; i < v.count; i++) {
        uint8_t kind = v.prekeys[i * v.prekey_len + 2];
        if (kind == KEYS_PREKEY_ONETIME && pick == SIZE_MAX)
            pick = i;
        if (kind == KEYS_PREKEY_FALLBACK)
            fb = i;
    }
    /* The fallback pre-key only when the one-time pool is empty. */
    if (pick == SIZE_MAX)
        pick = fb;
    if (pick == SIZE_MAX)
        return PARLEY_ENOTFOUND;
    head = 4 + v.cert_len;
    rc = buf_append(for_sender, p, head);
    if (rc == 0)
        rc = buf_append_u16(for_sender, 1);
    if (rc == 0)
        rc = buf_append(for_sender, v.prekeys + pick * v.prekey_len, v.prekey_len);
    if (rc < 0 || !rest)
        return rc;
    rc = buf_append(rest, p, head);
    if (rc == 0)
        rc = buf_append_u16(rest, (uint16_t)(pick == fb ? v.count : v.count - 1));
    for (size_t i = 0; rc == 0 && i < v.count; i++)
        if (i != pick || pick == fb)
            rc = buf_append(rest, v.prekeys + i * v.prekey_len, v.prekey_len);
    return rc;
}

/* ---- fingerprints ------------------------------------------------------ */

/* F(user, key) = H("parley-fingerprint-v1" || suite || user_id || public key) */
static int fp(const struct suite *s, const uint8_t *user, const struct sig_key *k, uint8_t *out)
{
    uint8_t sid = s->id;
    struct prim_iov m[] = {
        {FP_CTX, strlen(FP_CTX)}, {&sid, 1}, {user, KEYS_ID_LEN}, {k->pk, k->pk_len}};
    if (k->alg != s->sig || k->pk_len != s->sig_pk_len)
        return PARLEY_EINVAL;
    return prim_hash(s->hash, m, ARRAY_SIZE(m), out);
}

/* 30 digits: six 40-bit big-endian chunks, each mod 100000. */
static void digits30(const uint8_t *f, char *out)
{
    for (int c = 0; c < 6; c++) {
        uint64_t v = 0;
        for (int i = 0; i < 5; i++)
            v = v << 8 | f[5 * c + i];
        snprintf(out + 5 * c, 6, "%05u", (unsigned)(v % 100000));
    }
}

static int party_cmp(const uint8_t *ua, const struct sig_key *a, const uint8_t *ub,
                     const struct sig_key *b)
{
    int c = memcmp(ua, ub, KEYS_ID_LEN);
    return c ? c : memcmp(a->pk, b->pk, a->pk_len);
}

int keys_safety_number(const struct suite *s, const uint8_t user_a[KEYS_ID_LEN],
                       const struct sig_key *id_a, const uint8_t user_b[KEYS_ID_LEN],
                       const struct sig_key *id_b, char out[KEYS_SAFETY_NUMBER_LEN + 1])
{
    uint8_t fa[SUITE_MAX_HASH], fb[SUITE_MAX_HASH];
    char d[61];
    int rc;

    rc = fp(s, user_a, id_a, fa);
    if (rc == 0)
        rc = fp(s, user_b, id_b, fb);
    if (rc < 0)
        return rc;
    /* Both sides list the lower party first, so they read the same digits. */
    if (party_cmp(user_a, id_a, user_b, id_b) <= 0) {
        digits30(fa, d);
        digits30(fb, d + 30);
    } else {
        digits30(fb, d);
        digits30(fa, d + 30);
    }
    for (int g = 0, o = 0; g < 12; g++) {
        memcpy(out + o, d + 5 * g, 5);
        o += 5;
        out[o++] = g == 11 ? '\0' : ' ';
    }
    return 0;
}

static const char b32[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZ234567";

static void base32(const uint8_t *in, size_t n, char *out)
{
    uint32_t acc = 0;
    int bits = 0;
    size_t o = 0;
    for (size_t i = 0; i < n; i++) {
        acc = (acc << 8) | in[i];
        bits += 8;
        while (bits >= 5) {
            out[o++] = b32[(acc >> (bits - 5)) & 31];
            bits -= 5;
        }
    }
    if (bits)
        out[o++] = b32[(acc << (5 - bits)) & 31];
    out[o] = 0;
}

#define QR_BYTES 66 /* version, suite, 32 + 32 */

static int qr_bytes(const struct suite *s, const uint8_t *ua, const struct sig_key *a,
                    const uint8_t *ub, const struct sig_key *b, uint8_t *out)
{
    uint8_t fa[SUITE_MAX_HASH], fb[SUITE_MAX_HASH];
    int rc = fp(s, ua, a, fa);
    if (rc == 0)
        rc = fp(s, ub, b, fb);
    if (rc < 0)
        return rc;
    out[0] = 1;
    out[1] = s->id;
    memcpy(out + 2, fa, 32);
    memcpy(out + 34, fb, 32);
    return 0;
}

int keys_fingerprint_qr(const struct suite *s, const uint8_t my_user[KEYS_ID_LEN],
                        const struct sig_key *mine, const uint8_t their_user[KEYS_ID_LEN],
                        const struct sig_key *theirs, char out[KEYS_QR_LEN + 1])
{
    uint8_t b[QR_BYTES];
    int rc = qr_bytes(s, my_user, mine, their_user, theirs, b);
    if (rc == 0)
        base32(b, sizeof(b), out);
    return rc;
}

int keys_fingerprint_qr_check(const struct suite *s, const char *code,
                              const uint8_t my_user[KEYS_ID_LEN], const struct sig_key *mine,
                              const uint8_t their_user[KEYS_ID_LEN], const struct sig_key *theirs)
{
    char want[KEYS_QR_LEN + 1];
    uint8_t b[QR_BYTES];
    int rc;

    if (!code || strnlen(code, KEYS_QR_LEN + 1) != KEYS_QR_LEN)
        return PARLEY_EPROTO;
    for (size_t i = 0; i < KEYS_QR_LEN; i++)
        if (!strchr(b32, code[i]) || !code[i])
            return PARLEY_EPROTO;
    /* The code was made by them: F(them) first, then F(me). */
    rc = qr_bytes(s, their_user, theirs, my_user, mine, b);
    if (rc < 0)
        return rc;
    base32(b, sizeof(b), want);
    return CRYPTO_memcmp(want, code, KEYS_QR_LEN) == 0 ? 0 : PARLEY_EAUTH;
}
