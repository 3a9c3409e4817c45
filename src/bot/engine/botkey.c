/* botkey.c - the per-bot secret and the strings sealed under it
 * (botkey.h). */
#include "botkey.h"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <openssl/crypto.h>
#include <openssl/rand.h>

#include "common/buf.h"
#include "common/file.h"
#include "common/str.h"
#include "proto/pbe.h"
#include "proto/prim.h"

#define PREFIX    "pbs1."
#define NONCE_LEN 12
#define TAG_LEN   16
/* Sealed strings and files above this size are refused. */
#define MAX_SEALED (64u * 1024 * 1024)

static const uint8_t aad[] = "parley bot string v1";

static int read_all(const char *path, struct buf *b)
{
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0)
        return errno == ENOENT ? PARLEY_ENOTFOUND : PARLEY_EIO;
    int rc = 0;
    for (;;) {
        uint8_t chunk[8192];
        ssize_t n = read(fd, chunk, sizeof(chunk));
        if (n < 0 && errno == EINTR)
            continue;
        if (n < 0) {
            rc = PARLEY_EIO;
            break;
        }
        if (n == 0)
            break;
        if ((rc = buf_append(b, chunk, (size_t)n)) < 0)
            break;
    }
    close(fd);
    return rc;
}

int botkey_open(struct botkey *k, const char *path, const char *password)
{
    struct buf file = BUF_INIT(4096), pt = BUF_INIT(BOTKEY_LEN);
    int rc;

    memset(k, 0, sizeof(*k));
    rc = read_all(path, &file);
    if (rc == PARLEY_ENOTFOUND) {
        if (RAND_bytes(k->key, BOTKEY_LEN) != 1) {
            rc = PARLEY_ECRYPTO;
            goto out;
        }
        buf_reset(&file);
        rc = pbe_seal((const uint8_t *)password, strlen(password), NULL, k->key, BOTKEY_LEN, &file);
        if (rc == 0)
            rc = file_write_atomic(path, file.data, file.len);
        goto out;
    }
    if (rc < 0)
        goto out;
    rc = pbe_open((const uint8_t *)password, strlen(password), file.data, file.len, NULL, &pt);
    if (rc == 0 && pt.len != BOTKEY_LEN)
        rc = PARLEY_EPROTO;
    if (rc == 0)
        memcpy(k->key, pt.data, BOTKEY_LEN);
out:
    buf_release(&file);
    buf_release_secure(&pt);
    if (rc == 0)
        k->loaded = true;
    else
        OPENSSL_cleanse(k->key, sizeof(k->key));
    return rc;
}

void botkey_release(struct botkey *k)
{
    OPENSSL_cleanse(k->key, sizeof(k->key));
    k->loaded = false;
}

/* nonce || AES-256-GCM(pt) || tag into *out (malloc'd), *out_len. */
static int seal_raw(struct botkey *k, const void *pt, size_t len, uint8_t **out, size_t *out_len)
{
    struct prim prim;
    uint8_t *b;
    int rc;

    if (len > MAX_SEALED)
        return PARLEY_ETOOBIG;
    if (!(b = malloc(NONCE_LEN + len + TAG_LEN)))
        return PARLEY_ENOMEM;
    if ((rc = prim_init(&prim)) < 0) {
        free(b);
        return rc;
    }
    if (RAND_bytes(b, NONCE_LEN) != 1)
        rc = PARLEY_ECRYPTO;
    else
        rc = prim_aead_seal(&prim, k->key, BOTKEY_LEN, b, aad, sizeof(aad) - 1, pt, len,
                            b + NONCE_LEN);
    prim_release(&prim);
    if (rc < 0) {
        free(b);
        return rc;
    }
    *out = b;
    *out_len = NONCE_LEN + len + TAG_LEN;
    return 0;
}

static int open_raw(struct botkey *k, const uint8_t *in, size_t len, char **out, size_t *out_len)
{
    struct prim prim;
    char *pt;
    int rc;

    if (len < NONCE_LEN + TAG_LEN)
        return PARLEY_EPROTO;
    if (!(pt = malloc(len - NONCE_LEN - TAG_LEN + 1)))
        return PARLEY_ENOMEM;
    if ((rc = prim_init(&prim)) < 0) {
        free(pt);
        return rc;
    }
    rc = prim_aead_open(&prim, k->key, BOTKEY_LEN, in, aad, sizeof(aad) - 1, in + NONCE_LEN,
                        len - NONCE_LEN, (uint8_t *)pt);
    prim_release(&prim);
    if (rc < 0) {
        free(pt);
        return rc;
    }
    *out_len = len - NONCE_LEN - TAG_LEN;
    pt[*out_len] = '\0';
    *out = pt;
    return 0;
}

int botkey_seal(struct botkey *k, const void *pt, size_t len, char **out)
{
    uint8_t *raw;
    size_t n;
    int rc = seal_raw(k, pt, len, &raw, &n);

    if (rc < 0)
        return rc;
    char *s = malloc(sizeof(PREFIX) + 2 * n);
    if (!s) {
        free(raw);
        return PARLEY_ENOMEM;
    }
    memcpy(s, PREFIX, sizeof(PREFIX) - 1);
    hex_encode(raw, n, s + sizeof(PREFIX) - 1);
    s[sizeof(PREFIX) - 1 + 2 * n] = '\0';
    free(raw);
    *out = s;
    return 0;
}

int botkey_open_string(struct botkey *k, const char *s, char **out, size_t *out_len)
{
    size_t hexlen;
    uint8_t *raw;
    int rc;

    if (strncmp(s, PREFIX, sizeof(PREFIX) - 1) != 0)
        return PARLEY_EPROTO;
    s += sizeof(PREFIX) - 1;
    hexlen = strlen(s);
    if (hexlen % 2 != 0 || hexlen / 2 > MAX_SEALED + NONCE_LEN + TAG_LEN)
        return PARLEY_EPROTO;
    if (!(raw = malloc(hexlen / 2 + 1)))
        return PARLEY_ENOMEM;
    if (hex_decode(s, hexlen, raw, hexlen / 2) < 0)
        rc = PARLEY_EPROTO;
    else
        rc = open_raw(k, raw, hexlen / 2, out, out_len);
    free(raw);
    return rc;
}

int botkey_write_file(struct botkey *k, const char *path, const void *p, size_t len)
{
    uint8_t *raw;
    size_t n;
    int rc = seal_raw(k, p, len, &raw, &n);
    if (rc < 0)
        return rc;
    rc = file_write_atomic(path, raw, n);
    free(raw);
    return rc;
}

int botkey_read_file(struct botkey *k, const char *path, char **out, size_t *out_len)
{
    struct buf b = BUF_INIT(MAX_SEALED + NONCE_LEN + TAG_LEN);
    int rc = read_all(path, &b);
    if (rc == 0)
        rc = open_raw(k, b.data, b.len, out, out_len);
    buf_release(&b);
    return rc;
}
