/* b64.c - see b64.h. */
#include "b64.h"
#include "common/xmalloc.h"

static const char std_alpha[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
static const char url_alpha[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";

static size_t encode(const uint8_t *p, size_t n, char *out, const char *alpha, bool pad)
{
    size_t o = 0, i = 0;

    for (; i + 2 < n; i += 3) {
        uint32_t v = (uint32_t)p[i] << 16 | (uint32_t)p[i + 1] << 8 | p[i + 2];
        out[o++] = alpha[v >> 18];
        out[o++] = alpha[(v >> 12) & 63];
        out[o++] = alpha[(v >> 6) & 63];
        out[o++] = alpha[v & 63];
    }
    if (i < n) {
        uint32_t v = (uint32_t)p[i] << 16 | (i + 1 < n ? (uint32_t)p[i + 1] << 8 : 0);
        out[o++] = alpha[v >> 18];
        out[o++] = alpha[(v >> 12) & 63];
        if (i + 1 < n)
            out[o++] = alpha[(v >> 6) & 63];
        else if (pad)
            out[o++] = '=';
        if (pad)
            out[o++] = '=';
    }
    out[o] = 0;
    return o;
}

char *b64_encode(const uint8_t *p, size_t n)
{
    char *s = xmalloc(B64_LEN(n) + 1);
    encode(p, n, s, std_alpha, true);
    return s;
}

void b64url_encode(const uint8_t *p, size_t n, char *out)
{
    encode(p, n, out, url_alpha, false);
}

/* A character's 6 bits in the standard or the URL alphabet; -1 if none. */
static int value(char c, bool url)
{
    if (c >= 'A' && c <= 'Z')
        return c - 'A';
    if (c >= 'a' && c <= 'z')
        return c - 'a' + 26;
    if (c >= '0' && c <= '9')
        return c - '0' + 52;
    if (c == (url ? '-' : '+'))
        return 62;
    if (c == (url ? '_' : '/'))
        return 63;
    return -1;
}

int b64_decode(const char *s, size_t len, size_t max, uint8_t **out, size_t *outlen)
{
    size_t pad = 0, n, o = 0;
    uint8_t *d;

    *out = NULL;
    *outlen = 0;
    if (len % 4 != 0)
        return PARLEY_EINVAL;
    if (len && s[len - 1] == '=')
        pad = (len >= 2 && s[len - 2] == '=') ? 2 : 1;
    n = len / 4 * 3 - pad;
    if (n > max)
        return PARLEY_ETOOBIG;
    d = xmalloc(n + 1);
    for (size_t i = 0; i < len; i += 4) {
        int v[4];
        bool last = i + 4 == len;
        for (int k = 0; k < 4; k++) {
            v[k] = value(s[i + k], false);
            if (v[k] < 0 && !(last && k >= 4 - (int)pad))
                goto bad;
        }
        uint32_t w = (uint32_t)v[0] << 18 | (uint32_t)v[1] << 12;
        if (!(last && pad == 2))
            w |= (uint32_t)v[2] << 6;
        if (!(last && pad))
            w |= (uint32_t)v[3];
        /* Canonical: the bits below the last character's data must be 0. */
        if (last && pad == 2 && (v[1] & 15))
            goto bad;
        if (last && pad == 1 && (v[2] & 3))
            goto bad;
        d[o++] = (uint8_t)(w >> 16);
        if (!(last && pad == 2))
            d[o++] = (uint8_t)(w >> 8);
        if (!(last && pad))
            d[o++] = (uint8_t)w;
    }
    *out = d;
    *outlen = o;
    return 0;
bad:
    free(d);
    return PARLEY_EINVAL;
}

int b64url_decode(const char *s, size_t len, size_t max, uint8_t **out, size_t *outlen)
{
    size_t n = len / 4 * 3 + (len % 4 ? len % 4 - 1 : 0), o = 0;
    uint32_t acc = 0;
    int bits = 0;
    uint8_t *p;

    *out = NULL;
    *outlen = 0;
    if (len % 4 == 1)
        return PARLEY_EINVAL;
    if (n > max)
        return PARLEY_ETOOBIG;
    p = xmalloc(n + 1);
    for (size_t i = 0; i < len; i++) {
        int v = value(s[i], true);
        if (v < 0) {
            free(p);
            return PARLEY_EINVAL;
        }
        acc = (acc << 6) | (uint32_t)v;
        bits += 6;
        if (bits >= 8) {
            bits -= 8;
            p[o++] = (uint8_t)(acc >> bits);
        }
    }
    /* Leftover bits must be zero (canonical encoding). */
    if (bits && (acc & ((1u << bits) - 1))) {
        free(p);
        return PARLEY_EINVAL;
    }
    p[o] = 0;
    *out = p;
    *outlen = o;
    return 0;
}
