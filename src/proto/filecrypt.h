/* filecrypt.h - files encrypted in authenticated chunks (docs/protocol.md,
 * "Encrypted files").
 *
 * A file is sealed under a fresh 256-bit key as a sequence of records, one
 * per FILECRYPT_CHUNK bytes of plaintext (the last one shorter, possibly
 * empty). Each record is AES-256-GCM with the record's index as the nonce
 * and the index and the record header (final flag, compression flag,
 * length) in the additional data, so a reordered, dropped, duplicated or
 * truncated record, or one spliced in from another file, fails to open.
 * Every record but the last holds exactly FILECRYPT_CHUNK plaintext bytes,
 * so plaintext offsets are index * FILECRYPT_CHUNK and memory stays bounded
 * whatever the file's size. A record's plaintext may be deflated (zlib)
 * before sealing when that makes it smaller.
 *
 * Pure functions over bytes, no I/O; the reader is fuzzed
 * (fuzz/fuzz_filecrypt.c). */
#ifndef PARLEY_PROTO_FILECRYPT_H
#define PARLEY_PROTO_FILECRYPT_H

#include "prim.h"

#define FILECRYPT_KEY_LEN    32
#define FILECRYPT_CHUNK      (1u << 20) /* plaintext bytes per record */
#define FILECRYPT_HEADER     4          /* flags (1) || length (3, big-endian) */
#define FILECRYPT_OVERHEAD   (FILECRYPT_HEADER + PRIM_GCM_TAG)
#define FILECRYPT_RECORD_MAX (FILECRYPT_CHUNK + FILECRYPT_OVERHEAD)
/* The largest file the format is used for here (5 GiB). */
#define FILECRYPT_MAX_SIZE (5ull << 30)

enum filecrypt_flags {
    FILECRYPT_FINAL = 1 << 0,   /* the last record of the file */
    FILECRYPT_DEFLATE = 1 << 1, /* the plaintext was deflated (zlib) before sealing */
};

struct filecrypt {
    struct prim prim;
    uint8_t key[FILECRYPT_KEY_LEN];
    uint8_t *scratch; /* deflate/inflate buffer, FILECRYPT_CHUNK + slack */
    size_t scratch_len;
};

/* Set up with `key` (copied). Returns 0, PARLEY_ENOMEM or PARLEY_ECRYPTO. */
int filecrypt_init(struct filecrypt *fc, const uint8_t key[FILECRYPT_KEY_LEN]);
/* Wipe the key and free. */
void filecrypt_release(struct filecrypt *fc);

/* Records in a file of `size` plaintext bytes (at least one), and the
 * largest ciphertext such a file can take (no record deflated). */
uint64_t filecrypt_records(uint64_t size);
uint64_t filecrypt_max_cipher(uint64_t size);

/* Seal record `index` of `len` plaintext bytes (FILECRYPT_CHUNK unless
 * `final`) into out (FILECRYPT_RECORD_MAX bytes); with `deflate`, the
 * plaintext is deflated first when that makes it smaller. *out_len gets the
 * record's length. Returns 0, PARLEY_EINVAL, PARLEY_ECRYPTO. */
int filecrypt_seal(struct filecrypt *fc, uint64_t index, bool final, bool deflate,
                   const uint8_t *in, size_t len, uint8_t *out, size_t *out_len);

/* The whole length of a record from its first FILECRYPT_HEADER bytes.
 * Returns 0 or PARLEY_EPROTO (unknown flags, impossible length). */
int filecrypt_record_len(const uint8_t hdr[FILECRYPT_HEADER], size_t *len);

/* Open record `index` (rec, len: one whole record) into out
 * (FILECRYPT_CHUNK bytes). Sets *out_len and *final. Returns 0, PARLEY_EPROTO
 * (malformed: bad header, wrong plaintext length for its place) or
 * PARLEY_EAUTH (the record was changed, moved or belongs to another file). */
int filecrypt_open(struct filecrypt *fc, uint64_t index, const uint8_t *rec, size_t len,
                   uint8_t *out, size_t *out_len, bool *final);

/* A streaming reader: feed ciphertext in pieces of any size, get plaintext
 * record by record. Holds one record at a time. */
struct filecrypt_reader {
    struct filecrypt fc;
    uint8_t *rec; /* FILECRYPT_RECORD_MAX */
    uint8_t *pt;  /* FILECRYPT_CHUNK */
    size_t have, need;
    uint64_t index; /* of the record being read */
    bool done;      /* the final record was opened */
};

/* Start reading at record `index` (0 for the start of the file; records
 * before it were read earlier). Returns 0, PARLEY_ENOMEM, PARLEY_ECRYPTO. */
int filecrypt_reader_init(struct filecrypt_reader *r, const uint8_t key[FILECRYPT_KEY_LEN],
                          uint64_t index);
void filecrypt_reader_release(struct filecrypt_reader *r);
/* Drop any partial record and start again at record `index` (a retried
 * download), keeping the key and the buffers. */
void filecrypt_reader_restart(struct filecrypt_reader *r, uint64_t index);
/* Feed `n` bytes. For each record opened, `emit` gets its plaintext and
 * index; a non-zero return from it stops the reader and is returned.
 * Returns 0, PARLEY_EPROTO (malformed, or bytes after the final record) or
 * PARLEY_EAUTH (a changed, moved or foreign record). */
int filecrypt_reader_feed(struct filecrypt_reader *r, const uint8_t *p, size_t n,
                          int (*emit)(void *arg, uint64_t index, const uint8_t *pt, size_t len),
                          void *arg);
/* The input ended: 0 if the final record was read, else PARLEY_EPROTO
 * (the file was truncated). */
int filecrypt_reader_finish(const struct filecrypt_reader *r);

#endif
