/* envelope.c - seal, split and open end-to-end envelopes. See envelope.h
 * and docs/protocol.md ("Envelope") for the layouts:
 *
 *   full     = "PE" header cert content wrap[n] signature
 *   delivery = "PD" header cert content u16:index wrap path[L] signature
 *   header   = version suite flags 0 0 0 msg_id sender_device conversation
 *              u64:expires_at u32:content_len u16:n_wraps u16:cert_len
 *   wrap     = device_id u32:prekey_id enc ct(32 + 16)
 *   signed   = "parley-envelope-v1" header[2..72) H(cert) H(content) root
 */
#include "envelope.h"

#include <openssl/crypto.h>

#include "wire.h"

#define SIG_CTX      "parley-envelope-v1"
#define WRAP_INFO    "parley-envelope-v1 wrap"
#define CONTENT_INFO "parley-envelope-v1 content"
#define HDR          ENVELOPE_HEADER_LEN
#define WRAP_CT      (ENVELOPE_MSG_KEY_LEN + HPKE_TAG)
#define MAX_LEVELS   16 /* 2^13 > ENVELOPE_MAX_WRAPS */

static size_t wrap_len_for(const struct suite *s)
{
    return KEYS_ID_LEN + 4 + s->kem_pk_len + WRAP_CT;
}

static size_t cert_len_for(const struct suite *s)
{
    return 2 + 2 * KEYS_ID_LEN + 2 * s->sig_pk_len + 8 + s->sig_len;
}

static struct hpke_params hpke_params_for(const struct suite *s)
{
    return (struct hpke_params){s->kem_id, s->kdf_id, s->aead_id};
}

static void put_header(uint8_t *b, const char *magic, const struct envelope_header *h,
                       uint32_t content_len, uint16_t n_wraps, uint16_t cert_len)
{
    memcpy(b, magic, 2);
    b[2] = h->version;
    b[3] = h->suite;
    b[4] = h->flags;
    b[5] = b[6] = b[7] = 0;
    memcpy(b + 8, h->msg_id, KEYS_ID_LEN);
    memcpy(b + 24, h->sender_device, KEYS_ID_LEN);
    memcpy(b + 40, h->conversation, KEYS_ID_LEN);
    wire_put_u64(b + 56, h->expires_at);
    wire_put_u32(b + 64, content_len);
    wire_put_u16(b + 68, n_wraps);
    wire_put_u16(b + 70, cert_len);
}

/* Parse the 72-byte header; checks what can be checked without keys. */
static int get_header(struct wire *w, const char *magic, struct envelope_header *h,
                      uint32_t *content_len, uint16_t *n_wraps, uint16_t *cert_len,
                      const struct suite **s)
{
    const uint8_t *m = wire_bytes(w, 2);
    uint8_t res[3];

    h->version = wire_u8(w);
    h->suite = wire_u8(w);
    h->flags = wire_u8(w);
    wire_copy(w, res, 3);
    wire_copy(w, h->msg_id, KEYS_ID_LEN);
    wire_copy(w, h->sender_device, KEYS_ID_LEN);
    wire_copy(w, h->conversation, KEYS_ID_LEN);
    h->expires_at = wire_u64(w);
    *content_len = wire_u32(w);
    *n_wraps = wire_u16(w);
    *cert_len = wire_u16(w);
    if (w->err || memcmp(m, magic, 2) || h->version != ENVELOPE_VERSION)
        return PARLEY_EPROTO;
    *s = suite_get(h->suite);
    if (!*s || res[0] || res[1] || res[2] || (h->flags & ~ENVELOPE_BURN_ON_READ))
        return PARLEY_EPROTO;
    if (*content_len < HPKE_TAG || *content_len > ENVELOPE_MAX_CONTENT)
        return PARLEY_ETOOBIG;
    if (*n_wraps == 0 || *n_wraps > ENVELOPE_MAX_WRAPS || *cert_len != cert_len_for(*s))
        return PARLEY_EPROTO;
    return 0;
}

/* content key || nonce = HKDF(salt = msg_id, ikm = message key,
 * info = "parley-envelope-v1 content", 44) with the suite hash. */
static int content_key(struct prim *p, const struct suite *s, const uint8_t *msg_id,
                       const uint8_t *mk, uint8_t *kn)
{
    uint8_t prk[SUITE_MAX_HASH];
    struct prim_iov ikm = {mk, ENVELOPE_MSG_KEY_LEN};
    struct prim_iov info = {CONTENT_INFO, strlen(CONTENT_INFO)};
    int rc = prim_hkdf_extract(p, s->hash, msg_id, KEYS_ID_LEN, &ikm, 1, prk);
    if (rc == 0)
        rc = prim_hkdf_expand(p, s->hash, prk, s->hash_len, &info, 1, kn, 32 + PRIM_GCM_NONCE);
    OPENSSL_cleanse(prk, sizeof(prk));
    return rc;
}

/* Wrap AAD: msg_id || sender_device || recipient device || prekey_id. */
static void wrap_aad(uint8_t *aad, const uint8_t *msg_id, const uint8_t *sender,
                     const uint8_t *device, uint32_t prekey_id)
{
    memcpy(aad, msg_id, KEYS_ID_LEN);
    memcpy(aad + 16, sender, KEYS_ID_LEN);
    memcpy(aad + 32, device, KEYS_ID_LEN);
    wire_put_u32(aad + 48, prekey_id);
}

#define WRAP_AAD_LEN 52

static int leaf_hash(struct prim *p, const struct suite *s, const uint8_t *wrap, size_t len,
                     uint8_t *out)
{
    static const uint8_t zero = 0x00;
    struct prim_iov m[] = {{&zero, 1}, {wrap, len}};
    return prim_digest(p, s->hash, m, 2, out);
}

static int node_hash(struct prim *p, const struct suite *s, const uint8_t *l, const uint8_t *r,
                     uint8_t *out)
{
    static const uint8_t one = 0x01;
    struct prim_iov m[] = {{&one, 1}, {l, s->hash_len}, {r, s->hash_len}};
    return prim_digest(p, s->hash, m, 3, out);
}

/* RFC 6962 §2.1 Merkle tree hash, bottom-up: pairs are hashed and an
 * unpaired last node moves up unchanged, which gives the same tree as the
 * RFC's split at the largest power of two below n. `h` (n hashes) is
 * overwritten. */
static int merkle_root(struct prim *p, const struct suite *s, uint8_t *h, size_t n, uint8_t *root)
{
    size_t hl = s->hash_len;
    int rc = 0;

    while (n > 1 && rc == 0) {
        size_t m = 0;
        for (size_t i = 0; i + 1 < n && rc == 0; i += 2, m++)
            rc = node_hash(p, s, h + i * hl, h + (i + 1) * hl, h + m * hl);
        if (n & 1) {
            memmove(h + m * hl, h + (n - 1) * hl, hl);
            m++;
        }
        n = m;
    }
    memcpy(root, h, hl);
    return rc;
}

static size_t path_len(size_t index, size_t n)
{
    size_t l = 0;
    while (n > 1) {
        if ((index ^ 1) < n)
            l++;
        index >>= 1;
        n = (n + 1) / 2;
    }
    return l;
}

/* The root from a leaf hash, its index, the leaf count and the audit path
 * (siblings bottom-up), RFC 9162 §2.1.3.2 in bottom-up form. */
static int root_from_path(struct prim *p, const struct suite *s, const uint8_t *leaf, size_t index,
                          size_t n, const uint8_t *path, uint8_t *root)
{
    size_t hl = s->hash_len, k = 0;
    uint8_t node[SUITE_MAX_HASH];
    int rc = 0;

    memcpy(node, leaf, hl);
    while (n > 1 && rc == 0) {
        if (index & 1)
            rc = node_hash(p, s, path + hl * k++, node, node);
        else if (index + 1 < n)
            rc = node_hash(p, s, node, path + hl * k++, node);
        index >>= 1;
        n = (n + 1) / 2;
    }
    memcpy(root, node, hl);
    return rc;
}

static int sign_input_verify_or_sign(const struct suite *s, struct prim *p, const uint8_t *hdr,
                                     const uint8_t *cert, size_t cert_len, const uint8_t *content,
                                     size_t content_len, const uint8_t *root,
                                     const struct sig_key *key, uint8_t *sig_out,
                                     const uint8_t *sig_in)
{
    uint8_t hc[SUITE_MAX_HASH], hk[SUITE_MAX_HASH];
    struct prim_iov c = {cert, cert_len}, k = {content, content_len};
    int rc = prim_digest(p, s->hash, &c, 1, hc);
    if (rc == 0)
        rc = prim_digest(p, s->hash, &k, 1, hk);
    if (rc < 0)
        return rc;
    {
        struct prim_iov m[] = {{SIG_CTX, strlen(SIG_CTX)},
                               {hdr + 2, HDR - 2},
                               {hc, s->hash_len},
                               {hk, s->hash_len},
                               {root, s->hash_len}};
        if (sig_out)
            return sig_sign(key, m, ARRAY_SIZE(m), sig_out);
        return sig_verify(key, m, ARRAY_SIZE(m), sig_in, s->sig_len);
    }
}

static int cmp_ids(const void *a, const void *b)
{
    return memcmp(*(const uint8_t *const *)a, *(const uint8_t *const *)b, KEYS_ID_LEN);
}

static int check_recipients(const struct suite *s, const struct envelope_recipient *r, size_t n)
{
    const uint8_t **ids = malloc(n * sizeof(*ids));
    int rc = 0;

    if (!ids)
        return PARLEY_ENOMEM;
    for (size_t i = 0; i < n; i++) {
        if (!r[i].device_id || !r[i].prekey || r[i].prekey->kem != s->kem_id)
            rc = PARLEY_EINVAL;
        ids[i] = r[i].device_id;
    }
    if (rc == 0) {
        qsort(ids, n, sizeof(*ids), cmp_ids);
        for (size_t i = 1; i < n; i++)
            if (!memcmp(ids[i - 1], ids[i], KEYS_ID_LEN))
                rc = PARLEY_EINVAL;
    }
    free(ids);
    return rc;
}

int envelope_seal(const struct keys_device *sender, struct envelope_header *hdr,
                  const struct envelope_recipient *rcpt, size_t n, const uint8_t *pt, size_t pt_len,
                  struct buf *out)
{
    const struct suite *s = sender->suite;
    struct hpke_params prm;
    struct hpke h;
    uint8_t mk[ENVELOPE_MSG_KEY_LEN], kn[32 + PRIM_GCM_NONCE], root[SUITE_MAX_HASH];
    uint8_t *b, *leaves = NULL, *wraps;
    size_t wl, total, start = out->len;
    bool h_ok = false;
    int rc;

    if (!sender->cert || !s || n == 0)
        return PARLEY_EINVAL;
    if (n > ENVELOPE_MAX_WRAPS || pt_len > ENVELOPE_MAX_CONTENT - HPKE_TAG)
        return PARLEY_ETOOBIG;
    rc = check_recipients(s, rcpt, n);
    if (rc < 0)
        return rc;
    wl = wrap_len_for(s);
    total = HDR + sender->cert_len + pt_len + HPKE_TAG + n * wl + s->sig_len;
    rc = buf_reserve(out, total);
    if (rc < 0)
        return rc;
    leaves = malloc(n * s->hash_len);
    if (!leaves)
        return PARLEY_ENOMEM;
    prm = hpke_params_for(s);
    rc = hpke_init(&h, &prm, (const uint8_t *)WRAP_INFO, strlen(WRAP_INFO));
    if (rc < 0)
        goto out;
    h_ok = true;

    hdr->version = ENVELOPE_VERSION;
    hdr->suite = s->id;
    hdr->flags &= ENVELOPE_BURN_ON_READ;
    memcpy(hdr->sender_device, sender->device_id, KEYS_ID_LEN);
    rc = proto_rand(hdr->msg_id, KEYS_ID_LEN);
    if (rc == 0)
        rc = proto_rand(mk, sizeof(mk));
    if (rc < 0)
        goto out;

    b = out->data + start;
    put_header(b, "PE", hdr, (uint32_t)(pt_len + HPKE_TAG), (uint16_t)n,
               (uint16_t)sender->cert_len);
    memcpy(b + HDR, sender->cert, sender->cert_len);
    rc = content_key(&h.prim, s, hdr->msg_id, mk, kn);
    if (rc == 0)
        rc = prim_aead_seal(&h.prim, kn, 32, kn + 32, b + 2, HDR - 2, pt, pt_len,
                            b + HDR + sender->cert_len);
    if (rc < 0)
        goto out;

    wraps = b + HDR + sender->cert_len + pt_len + HPKE_TAG;
    for (size_t i = 0; i < n && rc == 0; i++) {
        uint8_t *w = wraps + i * wl, aad[WRAP_AAD_LEN];
        memcpy(w, rcpt[i].device_id, KEYS_ID_LEN);
        wire_put_u32(w + KEYS_ID_LEN, rcpt[i].prekey_id);
        wrap_aad(aad, hdr->msg_id, sender->device_id, rcpt[i].device_id, rcpt[i].prekey_id);
        rc = hpke_seal(&h, rcpt[i].prekey, aad, sizeof(aad), mk, sizeof(mk), w + 20,
                       w + 20 + s->kem_pk_len);
        if (rc == 0)
            rc = leaf_hash(&h.prim, s, w, wl, leaves + i * s->hash_len);
    }
    if (rc == 0)
        rc = merkle_root(&h.prim, s, leaves, n, root);
    if (rc == 0)
        rc = sign_input_verify_or_sign(s, &h.prim, b, sender->cert, sender->cert_len,
                                       b + HDR + sender->cert_len, pt_len + HPKE_TAG, root,
                                       &sender->sign, wraps + n * wl, NULL);
    if (rc == 0) {
        out->len = start + total;
        out->data[out->len] = 0;
    }
out:
    OPENSSL_cleanse(mk, sizeof(mk));
    OPENSSL_cleanse(kn, sizeof(kn));
    if (h_ok)
        hpke_release(&h);
    free(leaves);
    return rc;
}

/* ---- server side ------------------------------------------------------------ */

int envelope_route_parse(const uint8_t *env, size_t len, struct envelope_route *r)
{
    const struct suite *s;
    uint16_t n, cert_len;
    struct wire w;
    int rc;

    memset(r, 0, sizeof(*r));
    wire_init(&w, env, len);
    rc = get_header(&w, "PE", &r->hdr, &r->content_len, &n, &cert_len, &s);
    if (rc < 0)
        return rc;
    r->n_wraps = n;
    r->wrap_len = wrap_len_for(s);
    (void)wire_bytes(&w, cert_len);
    (void)wire_bytes(&w, r->content_len);
    r->wraps = wire_bytes(&w, r->n_wraps * r->wrap_len);
    (void)wire_bytes(&w, s->sig_len);
    return wire_end(&w);
}

const uint8_t *envelope_route_device(const struct envelope_route *r, size_t i, uint32_t *prekey_id)
{
    const uint8_t *w;

    if (i >= r->n_wraps)
        return NULL;
    w = r->wraps + i * r->wrap_len;
    if (prekey_id)
        *prekey_id = (uint32_t)w[16] << 24 | (uint32_t)w[17] << 16 | (uint32_t)w[18] << 8 | w[19];
    return w;
}

void envelope_splitter_release(struct envelope_splitter *sp)
{
    free(sp->nodes);
    memset(sp, 0, sizeof(*sp));
}

int envelope_splitter_init(struct envelope_splitter *sp, const uint8_t *env, size_t len)
{
    const struct suite *s;
    struct prim p;
    size_t n, hl, total = 0, off = 0;
    int rc;

    memset(sp, 0, sizeof(*sp));
    rc = envelope_route_parse(env, len, &sp->route);
    if (rc < 0)
        return rc;
    s = suite_get(sp->route.hdr.suite);
    sp->env = env;
    sp->len = len;
    hl = sp->hash_len = s->hash_len;
    for (n = sp->route.n_wraps;; n = (n + 1) / 2) {
        sp->level_off[sp->n_levels] = total;
        sp->level_size[sp->n_levels++] = n;
        total += n;
        if (n == 1 || sp->n_levels == MAX_LEVELS)
            break;
    }
    sp->nodes = malloc(total * hl);
    if (!sp->nodes)
        return PARLEY_ENOMEM;
    rc = prim_init(&p);
    for (size_t i = 0; rc == 0 && i < sp->route.n_wraps; i++)
        rc = leaf_hash(&p, s, sp->route.wraps + i * sp->route.wrap_len, sp->route.wrap_len,
                       sp->nodes + i * hl);
    for (size_t l = 1; rc == 0 && l < sp->n_levels; l++) {
        uint8_t *below = sp->nodes + sp->level_off[l - 1] * hl;
        uint8_t *here = sp->nodes + sp->level_off[l] * hl;
        size_t bn = sp->level_size[l - 1];
        for (size_t i = 0; rc == 0 && i < sp->level_size[l]; i++) {
            if (2 * i + 1 < bn)
                rc = node_hash(&p, s, below + 2 * i * hl, below + (2 * i + 1) * hl, here + i * hl);
            else
                memcpy(here + i * hl, below + 2 * i * hl, hl);
        }
    }
    (void)off;
    prim_release(&p);
    if (rc < 0)
        envelope_splitter_release(sp);
    return rc;
}

int envelope_splitter_for(const struct envelope_splitter *sp, const uint8_t device_id[KEYS_ID_LEN],
                          struct buf *out)
{
    const struct envelope_route *r = &sp->route;
    const struct suite *s = suite_get(r->hdr.suite);
    size_t idx = SIZE_MAX, head, hl = sp->hash_len, need;
    const uint8_t *sig;
    int rc;

    /* NEEDSWORK: a linear scan per device; a server fanning out to
     * thousands of devices could index the wraps by device id once. */
    for (size_t i = 0; i < r->n_wraps; i++)
        if (!memcmp(r->wraps + i * r->wrap_len, device_id, KEYS_ID_LEN)) {
            idx = i;
            break;
        }
    if (idx == SIZE_MAX)
        return PARLEY_ENOTFOUND;
    head = (size_t)(r->wraps - sp->env); /* header, certificate, content */
    sig = r->wraps + r->n_wraps * r->wrap_len;
    need = head + 2 + r->wrap_len + path_len(idx, r->n_wraps) * hl + s->sig_len;
    rc = buf_reserve(out, need);
    if (rc < 0)
        return rc;
    buf_append(out, "PD", 2);
    buf_append(out, sp->env + 2, head - 2);
    buf_append_u16(out, (uint16_t)idx);
    buf_append(out, r->wraps + idx * r->wrap_len, r->wrap_len);
    for (size_t l = 0, m = idx; l + 1 < sp->n_levels; l++, m >>= 1)
        if ((m ^ 1) < sp->level_size[l])
            buf_append(out, sp->nodes + (sp->level_off[l] + (m ^ 1)) * hl, hl);
    return buf_append(out, sig, s->sig_len);
}

int envelope_split(const uint8_t *env, size_t len, const uint8_t device_id[KEYS_ID_LEN],
                   struct buf *out)
{
    struct envelope_splitter sp;
    int rc = envelope_splitter_init(&sp, env, len);
    if (rc < 0)
        return rc;
    rc = envelope_splitter_for(&sp, device_id, out);
    envelope_splitter_release(&sp);
    return rc;
}

/* ---- receiver side ---------------------------------------------------------- */

void envelope_opened_release(struct envelope_opened *o)
{
    if (o->pt) {
        OPENSSL_cleanse(o->pt, o->pt_len);
        free(o->pt);
    }
    memset(o, 0, sizeof(*o));
}

struct delivery {
    const struct suite *suite;
    const uint8_t *hdr, *cert, *content, *wrap, *path, *sig;
    uint32_t content_len;
    uint16_t n_wraps, cert_len, index;
};

static int delivery_parse(const uint8_t *d, size_t len, struct envelope_header *h,
                          struct delivery *v)
{
    struct wire w;
    int rc;

    wire_init(&w, d, len);
    v->hdr = d;
    rc = get_header(&w, "PD", h, &v->content_len, &v->n_wraps, &v->cert_len, &v->suite);
    if (rc < 0)
        return rc;
    v->cert = wire_bytes(&w, v->cert_len);
    v->content = wire_bytes(&w, v->content_len);
    v->index = wire_u16(&w);
    if (v->index >= v->n_wraps)
        return PARLEY_EPROTO;
    v->wrap = wire_bytes(&w, wrap_len_for(v->suite));
    v->path = wire_bytes(&w, path_len(v->index, v->n_wraps) * v->suite->hash_len);
    v->sig = wire_bytes(&w, v->suite->sig_len);
    return wire_end(&w);
}

int envelope_delivery_sender(const uint8_t *d, size_t len, uint8_t user_id[KEYS_ID_LEN])
{
    struct envelope_header h;
    struct delivery v;
    int rc = delivery_parse(d, len, &h, &v);
    if (rc < 0)
        return rc;
    memcpy(user_id, v.cert + 2, KEYS_ID_LEN);
    return 0;
}

int envelope_open(const uint8_t *d, size_t len, const struct keys_device *me,
                  const struct envelope_open_cb *cb, struct envelope_opened *out)
{
    const struct suite *s;
    const struct sig_key *pinned = NULL;
    const struct keys_prekey *pk;
    struct delivery v;
    struct keys_cert cert;
    struct hpke_params prm;
    struct hpke h;
    bool h_ok = false, cert_ok = false;
    uint8_t leaf[SUITE_MAX_HASH], root[SUITE_MAX_HASH], aad[WRAP_AAD_LEN];
    uint8_t mk[ENVELOPE_MSG_KEY_LEN], kn[32 + PRIM_GCM_NONCE];
    uint32_t prekey_id;
    int rc;

    memset(out, 0, sizeof(*out));
    rc = delivery_parse(d, len, &out->hdr, &v);
    if (rc < 0)
        return rc;
    s = v.suite;
    if (s != me->suite)
        return PARLEY_EPROTO;
    rc = prim_init(&h.prim); /* scratch until hpke_init below */
    if (rc < 0)
        return rc;

    /* 1. The chain: pinned identity of the user the certificate names ->
     *    device certificate -> this device id. */
    memcpy(out->sender_user, v.cert + 2, KEYS_ID_LEN);
    rc = cb && cb->identity ? cb->identity(cb->arg, out->sender_user, &pinned) : PARLEY_ENOTFOUND;
    if (rc < 0 || !pinned) {
        rc = rc < 0 ? rc : PARLEY_ENOTFOUND;
        goto out;
    }
    rc = keys_cert_verify_cached(cb ? cb->certs : NULL, v.cert, v.cert_len, pinned,
                                 out->sender_user, &cert);
    if (rc < 0)
        goto out;
    cert_ok = true;
    rc = PARLEY_EAUTH;
    if (cert.suite != s || memcmp(cert.device_id, out->hdr.sender_device, KEYS_ID_LEN))
        goto out;

    /* 2. The envelope signature, over the Merkle root rebuilt from our wrap
     *    and its audit path. */
    rc = leaf_hash(&h.prim, s, v.wrap, wrap_len_for(s), leaf);
    if (rc == 0)
        rc = root_from_path(&h.prim, s, leaf, v.index, v.n_wraps, v.path, root);
    if (rc == 0)
        rc = sign_input_verify_or_sign(s, &h.prim, v.hdr, v.cert, v.cert_len, v.content,
                                       v.content_len, root, &cert.device, NULL, v.sig);
    if (rc < 0) {
        rc = rc == PARLEY_ENOMEM ? rc : PARLEY_EAUTH;
        goto out;
    }

    /* 3. Policy: ours, not expired, and a pre-key we still hold. */
    rc = PARLEY_EPERM;
    if (memcmp(v.wrap, me->device_id, KEYS_ID_LEN))
        goto out;
    if (cb && cb->now && out->hdr.expires_at && cb->now >= out->hdr.expires_at)
        goto out;
    prekey_id = (uint32_t)v.wrap[16] << 24 | (uint32_t)v.wrap[17] << 16 |
                (uint32_t)v.wrap[18] << 8 | v.wrap[19];
    pk = keys_device_find_prekey(me, prekey_id);
    if (!pk) {
        rc = PARLEY_ENOTFOUND;
        goto out;
    }

    /* 4. Unwrap the message key, then the content. */
    prim_release(&h.prim);
    prm = hpke_params_for(s);
    rc = hpke_init(&h, &prm, (const uint8_t *)WRAP_INFO, strlen(WRAP_INFO));
    if (rc < 0)
        goto out_noprim;
    h_ok = true;
    wrap_aad(aad, out->hdr.msg_id, out->hdr.sender_device, me->device_id, prekey_id);
    rc = hpke_open(&h, &pk->key, v.wrap + 20, s->kem_pk_len, aad, sizeof(aad),
                   v.wrap + 20 + s->kem_pk_len, WRAP_CT, mk);
    if (rc < 0) {
        rc = rc == PARLEY_ENOMEM ? rc : PARLEY_EAUTH;
        goto out;
    }
    rc = content_key(&h.prim, s, out->hdr.msg_id, mk, kn);
    if (rc < 0)
        goto out;
    out->pt_len = v.content_len - HPKE_TAG;
    out->pt = malloc(out->pt_len ? out->pt_len : 1);
    if (!out->pt) {
        rc = PARLEY_ENOMEM;
        goto out;
    }
    rc = prim_aead_open(&h.prim, kn, 32, kn + 32, v.hdr + 2, HDR - 2, v.content, v.content_len,
                        out->pt);
    if (rc < 0)
        goto out;

    /* 5. Replays last, so that only authentic messages are remembered. */
    if (cb && cb->check_replay) {
        rc = cb->check_replay(cb->replay_arg, out->hdr.msg_id);
        if (rc < 0)
            goto out;
    }
    out->prekey_id = prekey_id;
    out->prekey_kind = pk->kind;
    rc = 0;
out:
    if (h_ok)
        hpke_release(&h);
    else
        prim_release(&h.prim);
out_noprim:
    if (cert_ok)
        keys_cert_release(&cert);
    OPENSSL_cleanse(mk, sizeof(mk));
    OPENSSL_cleanse(kn, sizeof(kn));
    if (rc < 0) {
        struct envelope_header keep = out->hdr;
        envelope_opened_release(out);
        out->hdr = keep; /* callers may log the message id of a refusal */
    }
    return rc;
}

/* ---- replay cache --------------------------------------------------------- */

int replay_cache_init(struct replay_cache *rc, size_t cap)
{
    size_t n = 16;

    memset(rc, 0, sizeof(*rc));
    while (n < 2 * cap && n < ((size_t)1 << 24))
        n *= 2;
    rc->ids = calloc(n, KEYS_ID_LEN);
    rc->used = calloc(n, 1);
    if (!rc->ids || !rc->used) {
        replay_cache_release(rc);
        return PARLEY_ENOMEM;
    }
    rc->cap = n;
    return 0;
}

void replay_cache_release(struct replay_cache *rc)
{
    free(rc->ids);
    free(rc->used);
    memset(rc, 0, sizeof(*rc));
}

int replay_cache_check(struct replay_cache *rc, const uint8_t msg_id[KEYS_ID_LEN])
{
    size_t mask = rc->cap - 1, i;
    uint64_t h = 0;

    if (!rc->cap)
        return PARLEY_EINVAL;
    /* Message ids are random, so their first bytes are a fine hash. */
    for (int k = 0; k < 8; k++)
        h = h << 8 | msg_id[k];
    for (i = h & mask; rc->used[i]; i = (i + 1) & mask)
        if (!memcmp(rc->ids[i], msg_id, KEYS_ID_LEN))
            return PARLEY_EREPLAY;
    if (rc->n + 1 > rc->cap / 2)
        return PARLEY_ETOOBIG;
    memcpy(rc->ids[i], msg_id, KEYS_ID_LEN);
    rc->used[i] = 1;
    rc->n++;
    return 0;
}

int replay_cache_cb(void *arg, const uint8_t msg_id[KEYS_ID_LEN])
{
    return replay_cache_check(arg, msg_id);
}
