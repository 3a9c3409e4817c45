/* wire.c - see wire.h. */
#include "wire.h"

void wire_init(struct wire *w, const void *p, size_t len)
{
    w->p = p;
    w->len = p ? len : 0;
    w->off = 0;
    w->err = 0;
}

void wire_fail(struct wire *w, int err)
{
    if (!w->err)
        w->err = err;
}

size_t wire_left(const struct wire *w)
{
    return w->err ? 0 : w->len - w->off;
}

const uint8_t *wire_bytes(struct wire *w, size_t n)
{
    const uint8_t *r;

    if (w->err)
        return NULL;
    if (n > w->len - w->off) {
        wire_fail(w, PARLEY_EPROTO);
        return NULL;
    }
    r = w->p + w->off;
    w->off += n;
    return r;
}

void wire_copy(struct wire *w, void *out, size_t n)
{
    const uint8_t *p = wire_bytes(w, n);
    if (p)
        memcpy(out, p, n);
    else if (n)
        memset(out, 0, n);
}

uint8_t wire_u8(struct wire *w)
{
    const uint8_t *p = wire_bytes(w, 1);
    return p ? p[0] : 0;
}

uint16_t wire_u16(struct wire *w)
{
    const uint8_t *p = wire_bytes(w, 2);
    return p ? (uint16_t)((p[0] << 8) | p[1]) : 0;
}

uint32_t wire_u32(struct wire *w)
{
    const uint8_t *p = wire_bytes(w, 4);
    return p ? ((uint32_t)p[0] << 24) | ((uint32_t)p[1] << 16) | ((uint32_t)p[2] << 8) | p[3] : 0;
}

uint64_t wire_u64(struct wire *w)
{
    uint64_t hi = wire_u32(w);
    uint64_t lo = wire_u32(w);
    return (hi << 32) | lo;
}

int wire_end(const struct wire *w)
{
    if (w->err)
        return w->err;
    return w->off == w->len ? 0 : PARLEY_EPROTO;
}

void wire_put_u16(uint8_t *p, uint16_t v)
{
    p[0] = (uint8_t)(v >> 8);
    p[1] = (uint8_t)v;
}

void wire_put_u32(uint8_t *p, uint32_t v)
{
    p[0] = (uint8_t)(v >> 24);
    p[1] = (uint8_t)(v >> 16);
    p[2] = (uint8_t)(v >> 8);
    p[3] = (uint8_t)v;
}

void wire_put_u64(uint8_t *p, uint64_t v)
{
    wire_put_u32(p, (uint32_t)(v >> 32));
    wire_put_u32(p + 4, (uint32_t)v);
}
