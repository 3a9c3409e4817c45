/* filecrypt_test.c - files encrypted in authenticated chunks: the vectors
 * of docs/protocol.md, round trips at the record boundaries, deflate, and
 * every way a stored file can be cut, moved or mixed with another. */
#include "testutil.h"

#include <openssl/rand.h>
#include <openssl/sha.h>

#include "proto/filecrypt.h"

static uint8_t key[FILECRYPT_KEY_LEN];

static int setup(void **state)
{
    (void)state;
    for (int i = 0; i < FILECRYPT_KEY_LEN; i++)
        key[i] = (uint8_t)i;
    return 0;
}

/* The whole sealed form of `len` bytes of `pt`. */
static uint8_t *seal_all(const uint8_t k[FILECRYPT_KEY_LEN], const uint8_t *pt, size_t len,
                         bool deflate, size_t *out_len)
{
    struct filecrypt fc;
    uint64_t n = filecrypt_records(len);
    uint8_t *out = malloc(filecrypt_max_cipher(len));
    size_t off = 0;

    assert_int_equal(filecrypt_init(&fc, k), 0);
    for (uint64_t i = 0; i < n; i++) {
        size_t chunk = i + 1 < n ? FILECRYPT_CHUNK : len - (size_t)i * FILECRYPT_CHUNK, rl;
        assert_int_equal(filecrypt_seal(&fc, i, i + 1 == n, deflate, pt + i * FILECRYPT_CHUNK,
                                        chunk, out + off, &rl),
                         0);
        off += rl;
    }
    filecrypt_release(&fc);
    *out_len = off;
    return out;
}

struct sink {
    uint8_t *p;
    size_t len, cap;
    uint64_t next_index;
};

static int on_pt(void *arg, uint64_t index, const uint8_t *pt, size_t len)
{
    struct sink *s = arg;
    assert_int_equal(index, s->next_index);
    s->next_index++;
    assert_true(s->len + len <= s->cap);
    memcpy(s->p + s->len, pt, len);
    s->len += len;
    return 0;
}

/* Open `ct` in pieces of `step` bytes; returns the first error or the
 * result of finish. */
static int open_all(const uint8_t k[FILECRYPT_KEY_LEN], const uint8_t *ct, size_t len, size_t step,
                    struct sink *s)
{
    struct filecrypt_reader r;
    int rc = 0;

    assert_int_equal(filecrypt_reader_init(&r, k, 0), 0);
    for (size_t off = 0; rc == 0 && off < len; off += step)
        rc = filecrypt_reader_feed(&r, ct + off, len - off < step ? len - off : step, on_pt, s);
    if (rc == 0)
        rc = filecrypt_reader_finish(&r);
    filecrypt_reader_release(&r);
    return rc;
}

static uint8_t *pattern(size_t len)
{
    uint8_t *p = malloc(len ? len : 1);
    for (size_t i = 0; i < len; i++)
        p[i] = (uint8_t)(i * 7 + 3);
    return p;
}

static void test_filecrypt__vectors(void **state)
{
    static const char *hello = "0100001d66d9d9b2da00a3cd69dac5506132e87c5018247dbd53781509b21cef93";
    static const char *empty = "0100001098cb5e20ac6cee70a3ddec12f6ec99f8";
    static const char *two_sha = "f17ae5ec862bd4eb9b07d2aaee6a7ca523f428a56e969aeb31246641ba607d0e";
    char h[2 * 1100 + 1];
    uint8_t digest[32];
    size_t n;
    uint8_t *ct;
    (void)state;

    ct = seal_all(key, (const uint8_t *)"hello, parley", 13, false, &n);
    hex(ct, n, h);
    assert_string_equal(h, hello);
    free(ct);
    ct = seal_all(key, NULL, 0, false, &n);
    hex(ct, n, h);
    assert_string_equal(h, empty);
    free(ct);

    uint8_t *pt = pattern(FILECRYPT_CHUNK + 5);
    ct = seal_all(key, pt, FILECRYPT_CHUNK + 5, false, &n);
    assert_int_equal(n, FILECRYPT_CHUNK + 5 + 2 * FILECRYPT_OVERHEAD);
    assert_int_equal(n, filecrypt_max_cipher(FILECRYPT_CHUNK + 5));
    SHA256(ct, n, digest);
    hex(digest, 32, h);
    assert_string_equal(h, two_sha);
    free(ct);
    free(pt);
}

static void roundtrip(size_t len, bool deflate)
{
    uint8_t *pt = pattern(len), *ct;
    struct sink s = {malloc(len + 1), 0, len + 1, 0};
    size_t n;

    ct = seal_all(key, pt, len, deflate, &n);
    assert_true(n <= filecrypt_max_cipher(len));
    /* Any piece size: one byte, odd, a whole record at once. */
    static const size_t steps[] = {1, 4093, FILECRYPT_RECORD_MAX + 7};
    for (size_t i = 0; i < ARRAY_SIZE(steps); i++) {
        if (steps[i] == 1 && n > 100000)
            continue; /* byte by byte is only worth it on small files */
        s.len = 0;
        s.next_index = 0;
        assert_int_equal(open_all(key, ct, n, steps[i], &s), 0);
        assert_int_equal(s.len, len);
        assert_memory_equal(s.p, pt, len);
    }
    free(s.p);
    free(ct);
    free(pt);
}

static void test_filecrypt__roundtrip_at_boundaries(void **state)
{
    (void)state;
    static const size_t sizes[] = {0,
                                   1,
                                   100,
                                   FILECRYPT_CHUNK - 1,
                                   FILECRYPT_CHUNK,
                                   FILECRYPT_CHUNK + 1,
                                   3 * FILECRYPT_CHUNK - 5};
    for (size_t i = 0; i < ARRAY_SIZE(sizes); i++) {
        roundtrip(sizes[i], false);
        roundtrip(sizes[i], true);
    }
    assert_int_equal(filecrypt_records(0), 1);
    assert_int_equal(filecrypt_records(FILECRYPT_CHUNK), 1);
    assert_int_equal(filecrypt_records(FILECRYPT_CHUNK + 1), 2);
}

static void test_filecrypt__deflate_shrinks_and_skips_noise(void **state)
{
    struct filecrypt fc;
    uint8_t *zeros = calloc(1, FILECRYPT_CHUNK), *out = malloc(FILECRYPT_RECORD_MAX);
    uint8_t noise[4096];
    size_t n;
    (void)state;

    assert_int_equal(filecrypt_init(&fc, key), 0);
    assert_int_equal(filecrypt_seal(&fc, 0, false, true, zeros, FILECRYPT_CHUNK, out, &n), 0);
    assert_true(n < FILECRYPT_CHUNK / 100);
    assert_true(out[0] & FILECRYPT_DEFLATE);
    /* Random bytes do not deflate: the record is stored as it is. */
    assert_int_equal(RAND_bytes(noise, sizeof(noise)), 1);
    assert_int_equal(filecrypt_seal(&fc, 1, true, true, noise, sizeof(noise), out, &n), 0);
    assert_int_equal(n, sizeof(noise) + FILECRYPT_OVERHEAD);
    assert_false(out[0] & FILECRYPT_DEFLATE);
    /* A record that is not the last must be whole. */
    assert_int_equal(filecrypt_seal(&fc, 0, false, false, zeros, 10, out, &n), PARLEY_EINVAL);
    filecrypt_release(&fc);
    free(zeros);
    free(out);
}

/* Three records: 0 and 1 full, 2 final. */
static uint8_t *three(const uint8_t k[FILECRYPT_KEY_LEN], size_t *n, uint8_t **pt)
{
    *pt = pattern(2 * FILECRYPT_CHUNK + 10);
    return seal_all(k, *pt, 2 * FILECRYPT_CHUNK + 10, false, n);
}

#define REC FILECRYPT_RECORD_MAX /* a full record's length */

static void test_filecrypt__tamper_truncate_reorder_splice(void **state)
{
    struct sink s = {malloc(3 * FILECRYPT_CHUNK), 0, 3 * FILECRYPT_CHUNK, 0};
    uint8_t *pt, *pt2, *ct, *ct2, *x, other[FILECRYPT_KEY_LEN];
    size_t n, n2;
    (void)state;

    ct = three(key, &n, &pt);
    x = malloc(n);

    /* A flipped bit anywhere in a record: header, body or tag. */
    const size_t spots[] = {REC + 0, REC + 3, REC + 4, REC + 1000, 2 * REC - 1, n - 1};
    for (size_t i = 0; i < ARRAY_SIZE(spots); i++) {
        memcpy(x, ct, n);
        x[spots[i]] ^= 0x01;
        s.len = s.next_index = 0;
        int rc = open_all(key, x, n, 65536, &s);
        assert_true(rc == PARLEY_EAUTH || rc == PARLEY_EPROTO);
    }
    /* Truncation: the last record gone, or cut short. */
    s.len = s.next_index = 0;
    assert_int_equal(open_all(key, ct, 2 * REC, 65536, &s), PARLEY_EPROTO);
    s.len = s.next_index = 0;
    assert_int_equal(open_all(key, ct, n - 1, 65536, &s), PARLEY_EPROTO);
    /* Making record 1 look final (a truncation that rewrites the flag). */
    memcpy(x, ct, 2 * REC);
    x[REC] |= FILECRYPT_FINAL;
    s.len = s.next_index = 0;
    assert_int_equal(open_all(key, x, 2 * REC, 65536, &s), PARLEY_EAUTH);
    /* Reordering records 0 and 1. */
    memcpy(x, ct + REC, REC);
    memcpy(x + REC, ct, REC);
    memcpy(x + 2 * REC, ct + 2 * REC, n - 2 * REC);
    s.len = s.next_index = 0;
    assert_int_equal(open_all(key, x, n, 65536, &s), PARLEY_EAUTH);
    /* A duplicated record. */
    memcpy(x, ct, REC);
    memcpy(x + REC, ct, REC);
    s.len = s.next_index = 0;
    assert_int_equal(open_all(key, x, n, 65536, &s), PARLEY_EAUTH);
    /* A record spliced in from another file (another key). */
    memcpy(other, key, sizeof(other));
    other[0] ^= 0xff;
    ct2 = three(other, &n2, &pt2);
    memcpy(x, ct, n);
    memcpy(x + REC, ct2 + REC, REC);
    s.len = s.next_index = 0;
    assert_int_equal(open_all(key, x, n, 65536, &s), PARLEY_EAUTH);
    /* Bytes after the final record. */
    uint8_t *longer = malloc(n + 1);
    memcpy(longer, ct, n);
    longer[n] = 0;
    s.len = s.next_index = 0;
    assert_int_equal(open_all(key, longer, n + 1, 65536, &s), PARLEY_EPROTO);
    /* And the untouched file still opens. */
    s.len = s.next_index = 0;
    assert_int_equal(open_all(key, ct, n, 65536, &s), 0);
    assert_memory_equal(s.p, pt, s.len);

    free(longer);
    free(ct2);
    free(pt2);
    free(x);
    free(ct);
    free(pt);
    free(s.p);
}

static void test_filecrypt__resume_mid_file(void **state)
{
    struct sink s = {malloc(3 * FILECRYPT_CHUNK), 0, 3 * FILECRYPT_CHUNK, 1};
    struct filecrypt_reader r;
    uint8_t *pt, *ct;
    size_t n;
    (void)state;

    /* A download that stopped after record 0 goes on from record 1. */
    ct = three(key, &n, &pt);
    assert_int_equal(filecrypt_reader_init(&r, key, 1), 0);
    assert_int_equal(filecrypt_reader_feed(&r, ct + REC, n - REC, on_pt, &s), 0);
    assert_int_equal(filecrypt_reader_finish(&r), 0);
    filecrypt_reader_release(&r);
    assert_int_equal(s.len, FILECRYPT_CHUNK + 10);
    assert_memory_equal(s.p, pt + FILECRYPT_CHUNK, s.len);
    /* Starting at the wrong index fails. */
    s.len = 0;
    s.next_index = 0;
    assert_int_equal(filecrypt_reader_init(&r, key, 0), 0);
    assert_int_equal(filecrypt_reader_feed(&r, ct + REC, n - REC, on_pt, &s), PARLEY_EAUTH);
    filecrypt_reader_release(&r);
    free(ct);
    free(pt);
    free(s.p);
}

static void test_filecrypt__bad_headers(void **state)
{
    size_t len;
    (void)state;
    assert_int_equal(filecrypt_record_len((const uint8_t *)"\x04\x00\x00\x10", &len),
                     PARLEY_EPROTO); /* unknown flag */
    assert_int_equal(filecrypt_record_len((const uint8_t *)"\x00\x00\x00\x0f", &len),
                     PARLEY_EPROTO); /* shorter than a tag */
    assert_int_equal(filecrypt_record_len((const uint8_t *)"\x00\x10\x00\x11", &len),
                     PARLEY_EPROTO); /* longer than a chunk */
    assert_int_equal(filecrypt_record_len((const uint8_t *)"\x01\x10\x00\x10", &len), 0);
    assert_int_equal(len, FILECRYPT_RECORD_MAX);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_filecrypt__vectors),
        cmocka_unit_test(test_filecrypt__roundtrip_at_boundaries),
        cmocka_unit_test(test_filecrypt__deflate_shrinks_and_skips_noise),
        cmocka_unit_test(test_filecrypt__tamper_truncate_reorder_splice),
        cmocka_unit_test(test_filecrypt__resume_mid_file),
        cmocka_unit_test(test_filecrypt__bad_headers),
    };
    return cmocka_run_group_tests(tests, setup, NULL);
}
