/* b64.h - base64 (RFC 4648 §4, with padding) for binary values in JSON,
 * and base64url without padding for tokens (docs/client-protocol.md,
 * "Conventions"). Decoding is strict: no whitespace, canonical padding. */
#ifndef PARLEY_SERVER_B64_H
#define PARLEY_SERVER_B64_H

#include "common/compat.h"

/* Characters b64_encode writes for `n` bytes, without the NUL. */
#define B64_LEN(n) ((((n) + 2) / 3) * 4)

/* Encode `n` bytes into a malloc'd NUL-terminated string (xmalloc: aborts on
 * OOM). Free with free(). */
char *b64_encode(const uint8_t *p, size_t n);

/* base64url without padding into `out` (room for B64_LEN(n) + 1). */
void b64url_encode(const uint8_t *p, size_t n, char *out);

/* Decode standard base64 `s` (length `len`) into a malloc'd buffer of at most
 * `max` bytes. Returns 0 and sets *out and *outlen, PARLEY_EINVAL for bad
 * characters or padding, PARLEY_ETOOBIG when longer than `max`. */
int b64_decode(const char *s, size_t len, size_t max, uint8_t **out, size_t *outlen);
/* Decode base64url without padding (RFC 7515 §2; JWTs) the same way: a
 * malloc'd, NUL-terminated buffer of at most `max` bytes; leftover bits
 * must be zero. Returns 0, PARLEY_EINVAL or PARLEY_ETOOBIG. */
int b64url_decode(const char *s, size_t len, size_t max, uint8_t **out, size_t *outlen);

#endif
