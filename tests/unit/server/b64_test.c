/* b64_test.c - base64 for JSON values and tokens: RFC 4648 vectors,
 * strict decoding (no stray characters, canonical padding, caps). */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <cmocka.h>

#include "server/b64.h"

static const struct {
    const char *raw, *enc;
} vectors[] = {
    /* RFC 4648 §10 */
    {"", ""},
    {"f", "Zg=="},
    {"fo", "Zm8="},
    {"foo", "Zm9v"},
    {"foob", "Zm9vYg=="},
    {"fooba", "Zm9vYmE="},
    {"foobar", "Zm9vYmFy"},
};

static void test_b64__rfc4648_vectors_round_trip(void **state)
{
    (void)state;
    for (size_t i = 0; i < sizeof(vectors) / sizeof(vectors[0]); i++) {
        size_t n = strlen(vectors[i].raw), outlen;
        char *e = b64_encode((const uint8_t *)vectors[i].raw, n);
        uint8_t *d;
        assert_string_equal(e, vectors[i].enc);
        assert_int_equal(strlen(e), B64_LEN(n));
        assert_int_equal(b64_decode(e, strlen(e), 100, &d, &outlen), 0);
        assert_int_equal(outlen, n);
        assert_memory_equal(d, vectors[i].raw, n);
        free(d);
        free(e);
    }
}

static void test_b64__decode_refuses_malformed_input(void **state)
{
    static const char *const bad[] = {
        "Zg",     /* no padding */
        "Zg=",    /* short padding */
        "Z===",   /* too much padding */
        "Zh==",   /* non-canonical: low bits set */
        "Zm9=",   /* non-canonical: low bits set */
        "Zm 9v",  /* whitespace */
        "Zm9v\n", /* newline */
        "Zm-_",   /* base64url characters */
        "=Zm9",   /* padding first */
        "Zm=v",   /* padding inside */
    };
    uint8_t *d;
    size_t n;
    (void)state;
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        assert_int_equal(b64_decode(bad[i], strlen(bad[i]), 100, &d, &n), PARLEY_EINVAL);
        assert_null(d);
    }
    /* The cap is on decoded bytes. */
    assert_int_equal(b64_decode("Zm9vYmFy", 8, 5, &d, &n), PARLEY_ETOOBIG);
    assert_int_equal(b64_decode("Zm9vYmFy", 8, 6, &d, &n), 0);
    free(d);
}

static void test_b64__url_form_has_no_padding_or_plus_slash(void **state)
{
    const uint8_t raw[] = {0xfb, 0xff, 0xbf, 0xfe};
    char out[B64_LEN(sizeof(raw)) + 1];
    (void)state;
    b64url_encode(raw, sizeof(raw), out);
    assert_string_equal(out, "-_-__g");
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_b64__rfc4648_vectors_round_trip),
        cmocka_unit_test(test_b64__decode_refuses_malformed_input),
        cmocka_unit_test(test_b64__url_form_has_no_padding_or_plus_slash),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
