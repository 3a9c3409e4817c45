/* str.h - small string and number helpers with explicit error checks. */
#ifndef PARLEY_STR_H
#define PARLEY_STR_H

#include "compat.h"

/* Parse a whole decimal integer in [min, max]. Returns 0, or PARLEY_EINVAL
 * if `s` is empty, has trailing characters or is out of range. */
int str_to_i64(const char *s, int64_t min, int64_t max, int64_t *out);

/* Lowercase hex of `n` bytes into `out` (2n + 1 bytes, NUL-terminated). */
void hex_encode(const uint8_t *in, size_t n, char *out);
/* Decode exactly `n` bytes from 2n hex digits (either case). Returns 0 or
 * PARLEY_EINVAL. */
int hex_decode(const char *in, size_t inlen, uint8_t *out, size_t n);
/* The value of one hex digit (either case), or -1. */
int hex_value(char c);

/* Constant-time comparison; 0 when equal. */
int ct_memcmp(const void *a, const void *b, size_t n);

/* Copy with truncation, always NUL-terminated; returns strlen(src). */
size_t strlcpy_p(char *dst, const char *src, size_t size);

#endif
