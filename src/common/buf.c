/* buf.c - see buf.h. */
#include "buf.h"

#include <openssl/crypto.h>

void buf_init(struct buf *b, size_t cap)
{
    b->data = NULL;
    b->len = 0;
    b->alloc = 0;
    b->cap = cap;
}

void buf_release(struct buf *b)
{
    free(b->data);
    buf_init(b, b->cap);
}

void buf_release_secure(struct buf *b)
{
    if (b->data)
        OPENSSL_cleanse(b->data, b->alloc);
    buf_release(b);
}

void buf_reset(struct buf *b)
{
    b->len = 0;
    if (b->data)
        b->data[0] = 0;
}

int buf_reserve(struct buf *b, size_t extra)
{
    size_t want, n;
    uint8_t *p;

    if (extra > b->cap || b->len > b->cap - extra)
        return PARLEY_ETOOBIG;
    want = b->len + extra + 1; /* + NUL */
    if (want <= b->alloc)
        return 0;
    n = b->alloc ? b->alloc : 64;
    while (n < want)
        n = n > SIZE_MAX / 2 ? want : n * 2;
    p = realloc(b->data, n);
    if (!p)
        return PARLEY_ENOMEM;
    b->data = p;
    b->alloc = n;
    return 0;
}

int buf_append(struct buf *b, const void *p, size_t n)
{
    int rc = buf_reserve(b, n);
    if (rc < 0)
        return rc;
    if (n)
        memcpy(b->data + b->len, p, n);
    b->len += n;
    b->data[b->len] = 0;
    return 0;
}

int buf_append_str(struct buf *b, const char *s)
{
    return buf_append(b, s, strlen(s));
}

int buf_append_byte(struct buf *b, uint8_t c)
{
    return buf_append(b, &c, 1);
}

int buf_printf(struct buf *b, const char *fmt, ...)
{
    va_list ap;
    int n, rc;

    va_start(ap, fmt);
    n = vsnprintf(NULL, 0, fmt, ap);
    va_end(ap);
    if (n < 0)
        return PARLEY_EINVAL;
    rc = buf_reserve(b, (size_t)n);
    if (rc < 0)
        return rc;
    va_start(ap, fmt);
    vsnprintf((char *)b->data + b->len, (size_t)n + 1, fmt, ap);
    va_end(ap);
    b->len += (size_t)n;
    return 0;
}

int buf_append_u16(struct buf *b, uint16_t v)
{
    uint8_t x[2] = {(uint8_t)(v >> 8), (uint8_t)v};
    return buf_append(b, x, sizeof(x));
}

int buf_append_u32(struct buf *b, uint32_t v)
{
    uint8_t x[4] = {(uint8_t)(v >> 24), (uint8_t)(v >> 16), (uint8_t)(v >> 8), (uint8_t)v};
    return buf_append(b, x, sizeof(x));
}

int buf_append_u64(struct buf *b, uint64_t v)
{
    int rc = buf_append_u32(b, (uint32_t)(v >> 32));
    return rc < 0 ? rc : buf_append_u32(b, (uint32_t)v);
}

uint8_t *buf_detach(struct buf *b, size_t *len)
{
    uint8_t *p = b->data;
    if (len)
        *len = b->len;
    buf_init(b, b->cap);
    return p;
}
