/* testutil.h - small helpers shared by the proto tests (header only). */
#ifndef PARLEY_TEST_PROTO_UTIL_H
#define PARLEY_TEST_PROTO_UTIL_H

#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <jansson.h>

#include "common/compat.h"
#include "proto/suite.h"

static inline size_t unhex(const char *s, uint8_t *out, size_t cap)
{
    size_t n = strlen(s) / 2;
    assert_true(n <= cap);
    for (size_t i = 0; i < n; i++) {
        unsigned v;
        assert_int_equal(sscanf(s + 2 * i, "%2x", &v), 1);
        out[i] = (uint8_t)v;
    }
    return n;
}

static inline void hex(const uint8_t *p, size_t n, char *out)
{
    static const char d[] = "0123456789abcdef";
    for (size_t i = 0; i < n; i++) {
        out[2 * i] = d[p[i] >> 4];
        out[2 * i + 1] = d[p[i] & 15];
    }
    out[2 * n] = 0;
}

static inline json_t *load_json(const char *rel)
{
    char path[1024];
    const char *root = getenv("PARLEY_SOURCE_ROOT");
    json_error_t err;
    json_t *j;

    snprintf(path, sizeof(path), "%s/%s", root ? root : ".", rel);
    j = json_load_file(path, 0, &err);
    if (!j)
        fail_msg("cannot load '%s': %s", path, err.text);
    return j;
}

/* A deterministic randomness source for tests: SHA-256 in counter mode
 * over a seed string ("DRBG" in docs/protocol.md). */
struct test_drbg {
    uint8_t seed[32];
    uint64_t counter;
};

#include <openssl/evp.h>

static inline int test_drbg_fill(void *arg, uint8_t *buf, size_t n)
{
    struct test_drbg *d = arg;
    while (n) {
        uint8_t in[40], out[32];
        unsigned ol;
        size_t take = n < 32 ? n : 32;
        memcpy(in, d->seed, 32);
        for (int i = 0; i < 8; i++)
            in[32 + i] = (uint8_t)(d->counter >> (56 - 8 * i));
        d->counter++;
        if (!EVP_Digest(in, sizeof(in), out, &ol, EVP_sha256(), NULL))
            return -1;
        memcpy(buf, out, take);
        buf += take;
        n -= take;
    }
    return 0;
}

static inline void test_drbg_seed(struct test_drbg *d, const char *seed)
{
    unsigned ol;
    d->counter = 0;
    EVP_Digest(seed, strlen(seed), d->seed, &ol, EVP_sha256(), NULL);
}

#endif
