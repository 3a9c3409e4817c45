/* wire.h - bounds-checked big-endian reader for every parser of outside bytes.
 *
 * The reader is sticky: the first read past the end (or a failed check)
 * sets `err` and every later read returns zeros / NULL, so a parser can
 * read a whole structure and test `wire_end()` once. Never allocates. */
#ifndef PARLEY_PROTO_WIRE_H
#define PARLEY_PROTO_WIRE_H

#include "common/compat.h"

struct wire {
    const uint8_t *p;
    size_t len;
    size_t off;
    int err; /* 0 or the first PARLEY_E* met */
};

void wire_init(struct wire *w, const void *p, size_t len);
uint8_t wire_u8(struct wire *w);
uint16_t wire_u16(struct wire *w);
uint32_t wire_u32(struct wire *w);
uint64_t wire_u64(struct wire *w);
/* A pointer to the next `n` bytes inside the input (not a copy), or NULL. */
const uint8_t *wire_bytes(struct wire *w, size_t n);
/* Copy the next `n` bytes into `out`; on error `out` is zeroed. */
void wire_copy(struct wire *w, void *out, size_t n);
/* Bytes left to read. */
size_t wire_left(const struct wire *w);
/* Record a semantic error (first one wins). */
void wire_fail(struct wire *w, int err);
/* 0 if no error happened and every byte was consumed, else PARLEY_EPROTO
 * (or the recorded error). */
int wire_end(const struct wire *w);

/* Big-endian stores into a caller buffer of known size. */
void wire_put_u16(uint8_t *p, uint16_t v);
void wire_put_u32(uint8_t *p, uint32_t v);
void wire_put_u64(uint8_t *p, uint64_t v);

#endif
