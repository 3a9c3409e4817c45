/* logo.h - check an uploaded login-screen logo (Appearance).
 *
 * Only PNG and JPEG are accepted: both are raster formats a browser shows
 * without running anything (SVG may carry script). The check reads the
 * header and the image size from the bytes themselves, so the declared
 * type cannot disagree with the content (fuzz/server/fuzz_logo.c). */
#ifndef PARLEY_SERVER_LOGO_H
#define PARLEY_SERVER_LOGO_H

#include "common/compat.h"

#define LOGO_MAX_BYTES (256 * 1024)
#define LOGO_MAX_SIDE  2048

/* Check `len` bytes: a PNG (IHDR first, RFC 2083 §4.1.1) or a baseline or
 * progressive JPEG (a SOF marker before the scan, ITU T.81 §B.2.2) of at
 * most LOGO_MAX_BYTES with sides of 1 to LOGO_MAX_SIDE pixels. Sets *type
 * to "image/png" or "image/jpeg" and the size. Returns 0 or PARLEY_EINVAL
 * with the reason in err. */
int logo_check(const uint8_t *p, size_t len, const char **type, unsigned *width, unsigned *height,
               char *err, size_t errlen);

#endif
