/* logo.c - PNG and JPEG header checks for the login-screen logo; see
 * logo.h. */
#include "logo.h"

static uint32_t be32(const uint8_t *p)
{
    return (uint32_t)p[0] << 24 | (uint32_t)p[1] << 16 | (uint32_t)p[2] << 8 | p[3];
}

static int png_size(const uint8_t *p, size_t len, unsigned *w, unsigned *h)
{
    /* Signature, then the IHDR chunk: length 13, type, width, height. */
    static const uint8_t sig[8] = {0x89, 'P', 'N', 'G', '\r', '\n', 0x1a, '\n'};
    if (len < 8 + 8 + 13 + 4 || memcmp(p, sig, 8) != 0 || be32(p + 8) != 13 ||
        memcmp(p + 12, "IHDR", 4) != 0)
        return -1;
    *w = be32(p + 16) > UINT32_MAX / 2 ? 0 : be32(p + 16);
    *h = be32(p + 20) > UINT32_MAX / 2 ? 0 : be32(p + 20);
    return 0;
}

/* ITU T.81 §B.1.1.3: walk the marker segments up to a start-of-frame. */
static int jpeg_size(const uint8_t *p, size_t len, unsigned *w, unsigned *h)
{
    size_t i = 2;

    if (len < 4 || p[0] != 0xFF || p[1] != 0xD8)
        return -1;
    while (i + 4 <= len) {
        uint8_t m;
        size_t seg;
        if (p[i] != 0xFF)
            return -1;
        m = p[i + 1];
        if (m == 0xFF) { /* fill byte */
            i++;
            continue;
        }
        if (m == 0xD8 || m == 0x01 || (m >= 0xD0 && m <= 0xD7)) {
            i += 2; /* markers without a length */
            continue;
        }
        if (m == 0xD9 || m == 0xDA) /* end of image, or the scan before a frame */
            return -1;
        seg = (size_t)p[i + 2] << 8 | p[i + 3];
        if (seg < 2 || i + 2 + seg > len)
            return -1;
        if (m >= 0xC0 && m <= 0xCF && m != 0xC4 && m != 0xC8 && m != 0xCC) {
            if (seg < 7)
                return -1;
            *h = (unsigned)p[i + 5] << 8 | p[i + 6];
            *w = (unsigned)p[i + 7] << 8 | p[i + 8];
            return 0;
        }
        i += 2 + seg;
    }
    return -1;
}

int logo_check(const uint8_t *p, size_t len, const char **type, unsigned *width, unsigned *height,
               char *err, size_t errlen)
{
    unsigned w = 0, h = 0;

    if (len == 0 || len > LOGO_MAX_BYTES) {
        snprintf(err, errlen, "the logo must be 1 to %d bytes, got %zu", LOGO_MAX_BYTES, len);
        return PARLEY_EINVAL;
    }
    if (png_size(p, len, &w, &h) == 0) {
        *type = "image/png";
    } else if (jpeg_size(p, len, &w, &h) == 0) {
        *type = "image/jpeg";
    } else {
        snprintf(err, errlen, "the logo must be a PNG or JPEG image");
        return PARLEY_EINVAL;
    }
    if (w < 1 || h < 1 || w > LOGO_MAX_SIDE || h > LOGO_MAX_SIDE) {
        snprintf(err, errlen, "the logo must be 1 to %d pixels on each side, got %ux%u",
                 LOGO_MAX_SIDE, w, h);
        return PARLEY_EINVAL;
    }
    *width = w;
    *height = h;
    return 0;
}
