/* filecrypt.c - files encrypted in authenticated chunks. See filecrypt.h
 * and docs/protocol.md ("Encrypted files") for the layout. */
#include "filecrypt.h"

#include <zlib.h>

#include <openssl/crypto.h>

static const char label[] = "parley file v1"; /* 14 bytes, no NUL */
#define LABEL_LEN (sizeof(label) - 1)
#define AAD_LEN   (LABEL_LEN + 8 + FILECRYPT_HEADER)

static void be64(uint8_t *p, uint64_t v)
{
    for (int i = 7; i >= 0; i--, v >>= 8)
        p[i] = (uint8_t)v;
}

/* nonce = 0x00000000 || BE64(index); AAD = label || BE64(index) || header. */
static void nonce_aad(uint64_t index, const uint8_t hdr[FILECRYPT_HEADER],
                      uint8_t nonce[PRIM_GCM_NONCE], uint8_t aad[AAD_LEN])
{
    memset(nonce, 0, 4);
    be64(nonce + 4, index);
    memcpy(aad, label, LABEL_LEN);
    be64(aad + LABEL_LEN, index);
    memcpy(aad + LABEL_LEN + 8, hdr, FILECRYPT_HEADER);
}

int filecrypt_init(struct filecrypt *fc, const uint8_t key[FILECRYPT_KEY_LEN])
{
    int rc;

    memset(fc, 0, sizeof(*fc));
    rc = prim_init(&fc->prim);
    if (rc < 0)
        return rc;
    memcpy(fc->key, key, FILECRYPT_KEY_LEN);
    fc->scratch_len = compressBound(FILECRYPT_CHUNK);
    fc->scratch = malloc(fc->scratch_len);
    if (!fc->scratch) {
        filecrypt_release(fc);
        return PARLEY_ENOMEM;
    }
    return 0;
}

void filecrypt_release(struct filecrypt *fc)
{
    OPENSSL_cleanse(fc->key, sizeof(fc->key));
    if (fc->scratch)
        OPENSSL_cleanse(fc->scratch, fc->scratch_len);
    free(fc->scratch);
    fc->scratch = NULL;
    prim_release(&fc->prim);
}

uint64_t filecrypt_records(uint64_t size)
{
    return size == 0 ? 1 : (size + FILECRYPT_CHUNK - 1) / FILECRYPT_CHUNK;
}

uint64_t filecrypt_max_cipher(uint64_t size)
{
    return size + filecrypt_records(size) * FILECRYPT_OVERHEAD;
}

int filecrypt_seal(struct filecrypt *fc, uint64_t index, bool final, bool deflate,
                   const uint8_t *in, size_t len, uint8_t *out, size_t *out_len)
{
    uint8_t nonce[PRIM_GCM_NONCE], aad[AAD_LEN];
    const uint8_t *pt = in;
    size_t pt_len = len, ct_len;
    unsigned flags = final ? FILECRYPT_FINAL : 0;
    int rc;

    if (len > FILECRYPT_CHUNK || (!final && len != FILECRYPT_CHUNK))
        return PARLEY_EINVAL;
    if (deflate && len > 0) {
        uLongf n = (uLongf)fc->scratch_len;
        /* Level 1: most of the gain of deflate at a fraction of its cost;
         * the output must not depend on anything but the input, so that a
         * resumed upload produces the same bytes again. */
        if (compress2(fc->scratch, &n, in, (uLong)len, 1) == Z_OK && n < len) {
            pt = fc->scratch;
            pt_len = n;
            flags |= FILECRYPT_DEFLATE;
        }
    }
    ct_len = pt_len + PRIM_GCM_TAG;
    out[0] = (uint8_t)flags;
    out[1] = (uint8_t)(ct_len >> 16);
    out[2] = (uint8_t)(ct_len >> 8);
    out[3] = (uint8_t)ct_len;
    nonce_aad(index, out, nonce, aad);
    rc = prim_aead_seal(&fc->prim, fc->key, FILECRYPT_KEY_LEN, nonce, aad, AAD_LEN, pt, pt_len,
                        out + FILECRYPT_HEADER);
    if (rc < 0)
        return rc;
    *out_len = FILECRYPT_HEADER + ct_len;
    return 0;
}

int filecrypt_record_len(const uint8_t hdr[FILECRYPT_HEADER], size_t *len)
{
    size_t ct_len = ((size_t)hdr[1] << 16) | ((size_t)hdr[2] << 8) | hdr[3];

    if (hdr[0] & ~(FILECRYPT_FINAL | FILECRYPT_DEFLATE))
        return PARLEY_EPROTO;
    if (ct_len < PRIM_GCM_TAG || ct_len > FILECRYPT_CHUNK + PRIM_GCM_TAG)
        return PARLEY_EPROTO;
    *len = FILECRYPT_HEADER + ct_len;
    return 0;
}

int filecrypt_open(struct filecrypt *fc, uint64_t index, const uint8_t *rec, size_t len,
                   uint8_t *out, size_t *out_len, bool *final)
{
    uint8_t nonce[PRIM_GCM_NONCE], aad[AAD_LEN];
    size_t want, pt_len;
    bool deflated;
    int rc;

    if (len < FILECRYPT_HEADER || filecrypt_record_len(rec, &want) < 0 || want != len)
        return PARLEY_EPROTO;
    deflated = rec[0] & FILECRYPT_DEFLATE;
    *final = rec[0] & FILECRYPT_FINAL;
    pt_len = len - FILECRYPT_OVERHEAD;
    nonce_aad(index, rec, nonce, aad);
    rc = prim_aead_open(&fc->prim, fc->key, FILECRYPT_KEY_LEN, nonce, aad, AAD_LEN,
                        rec + FILECRYPT_HEADER, len - FILECRYPT_HEADER,
                        deflated ? fc->scratch : out);
    if (rc < 0)
        return rc;
    if (deflated) {
        uLongf n = FILECRYPT_CHUNK;
        /* Authenticated, so written by the key's holder; still checked, as
         * a sender's bug must not become ours. */
        if (uncompress(out, &n, fc->scratch, (uLong)pt_len) != Z_OK)
            return PARLEY_EPROTO;
        pt_len = n;
    }
    if (!*final && pt_len != FILECRYPT_CHUNK)
        return PARLEY_EPROTO;
    *out_len = pt_len;
    return 0;
}

int filecrypt_reader_init(struct filecrypt_reader *r, const uint8_t key[FILECRYPT_KEY_LEN],
                          uint64_t index)
{
    int rc;

    memset(r, 0, sizeof(*r));
    rc = filecrypt_init(&r->fc, key);
    if (rc < 0)
        return rc;
    r->rec = malloc(FILECRYPT_RECORD_MAX);
    r->pt = malloc(FILECRYPT_CHUNK);
    if (!r->rec || !r->pt) {
        filecrypt_reader_release(r);
        return PARLEY_ENOMEM;
    }
    r->need = FILECRYPT_HEADER;
    r->index = index;
    return 0;
}

void filecrypt_reader_restart(struct filecrypt_reader *r, uint64_t index)
{
    r->have = 0;
    r->need = FILECRYPT_HEADER;
    r->index = index;
    r->done = false;
}

void filecrypt_reader_release(struct filecrypt_reader *r)
{
    filecrypt_release(&r->fc);
    if (r->pt)
        OPENSSL_cleanse(r->pt, FILECRYPT_CHUNK);
    free(r->rec);
    free(r->pt);
    r->rec = r->pt = NULL;
}

int filecrypt_reader_feed(struct filecrypt_reader *r, const uint8_t *p, size_t n,
                          int (*emit)(void *arg, uint64_t index, const uint8_t *pt, size_t len),
                          void *arg)
{
    while (n > 0) {
        size_t take, pt_len;
        bool final;
        int rc;

        if (r->done)
            return PARLEY_EPROTO; /* bytes after the final record */
        take = r->need - r->have;
        if (take > n)
            take = n;
        memcpy(r->rec + r->have, p, take);
        r->have += take;
        p += take;
        n -= take;
        if (r->have < r->need)
            break;
        if (r->need == FILECRYPT_HEADER) {
            rc = filecrypt_record_len(r->rec, &r->need);
            if (rc < 0)
                return rc;
            continue;
        }
        rc = filecrypt_open(&r->fc, r->index, r->rec, r->have, r->pt, &pt_len, &final);
        if (rc < 0)
            return rc;
        rc = emit(arg, r->index, r->pt, pt_len);
        if (rc != 0)
            return rc;
        r->index++;
        r->have = 0;
        r->need = FILECRYPT_HEADER;
        r->done = final;
    }
    return 0;
}

int filecrypt_reader_finish(const struct filecrypt_reader *r)
{
    return r->done ? 0 : PARLEY_EPROTO;
}
