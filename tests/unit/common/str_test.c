/* str_test.c - number parsing and hex helpers. */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include "common/str.h"

static void test_str__to_i64_bounds(void **state)
{
    int64_t v;
    assert_int_equal(str_to_i64("42", 0, 100, &v), 0);
    assert_int_equal(v, 42);
    assert_int_equal(str_to_i64("-5", -10, 10, &v), 0);
    assert_int_equal(v, -5);
    assert_int_equal(str_to_i64("101", 0, 100, &v), PARLEY_EINVAL);
    assert_int_equal(str_to_i64("12x", 0, 100, &v), PARLEY_EINVAL);
    assert_int_equal(str_to_i64("", 0, 100, &v), PARLEY_EINVAL);
    assert_int_equal(str_to_i64("99999999999999999999999", 0, INT64_MAX, &v), PARLEY_EINVAL);
}

static void test_str__hex_roundtrip(void **state)
{
    const uint8_t in[] = {0x00, 0x01, 0xab, 0xff};
    char hex[9];
    uint8_t out[4];
    hex_encode(in, sizeof(in), hex);
    assert_string_equal(hex, "0001abff");
    assert_int_equal(hex_decode("0001ABff", 8, out, 4), 0);
    assert_memory_equal(in, out, 4);
    assert_int_equal(hex_decode("0001abf", 7, out, 4), PARLEY_EINVAL);
    assert_int_equal(hex_decode("0001abfg", 8, out, 4), PARLEY_EINVAL);
}

static void test_str__ct_memcmp(void **state)
{
    assert_int_equal(ct_memcmp("abc", "abc", 3), 0);
    assert_int_not_equal(ct_memcmp("abc", "abd", 3), 0);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_str__to_i64_bounds),
        cmocka_unit_test(test_str__hex_roundtrip),
        cmocka_unit_test(test_str__ct_memcmp),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
