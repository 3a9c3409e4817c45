/* buf.h - a growable byte buffer with a hard size cap.
 *
 * Every buffer that holds bytes from outside has a cap (`buf_init(&b, cap)`),
 * so a peer cannot make us allocate without bound. Never aborts: appends
 * return PARLEY_ENOMEM or PARLEY_ETOOBIG and leave the buffer unchanged.
 * The data is always followed by a NUL byte (not counted in len), so text
 * can be used as a C string. */
#ifndef PARLEY_BUF_H
#define PARLEY_BUF_H

#include "compat.h"

struct buf {
    uint8_t *data; /* NULL until the first append */
    size_t len;
    size_t alloc;
    size_t cap; /* the most len may ever be */
};

#define BUF_INIT(cap_)                                                                             \
    {                                                                                              \
        NULL, 0, 0, (cap_)                                                                         \
    }

void buf_init(struct buf *b, size_t cap);
/* Free the memory and re-initialise with the same cap. */
void buf_release(struct buf *b);
/* Like buf_release, but wipes the bytes first: for key material. */
void buf_release_secure(struct buf *b);
/* Keep the memory, set len to 0. */
void buf_reset(struct buf *b);
/* Make room for `extra` more bytes. */
int buf_reserve(struct buf *b, size_t extra);
int buf_append(struct buf *b, const void *p, size_t n);
int buf_append_str(struct buf *b, const char *s);
int buf_append_byte(struct buf *b, uint8_t c);
int buf_printf(struct buf *b, const char *fmt, ...) PARLEY_PRINTF(2, 3);
/* Big-endian integers. */
int buf_append_u16(struct buf *b, uint16_t v);
int buf_append_u32(struct buf *b, uint32_t v);
int buf_append_u64(struct buf *b, uint64_t v);
/* Hand the data to the caller (free() it) and re-initialise. Sets *len. */
uint8_t *buf_detach(struct buf *b, size_t *len);

#endif
