/* buf_test.c - the capped byte buffer. */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include "common/buf.h"

static void test_buf__append_and_nul(void **state)
{
    struct buf b = BUF_INIT(64);
    assert_int_equal(buf_append_str(&b, "hello"), 0);
    assert_int_equal(buf_printf(&b, " %d", 42), 0);
    assert_int_equal(b.len, 8);
    assert_string_equal((char *)b.data, "hello 42");
    buf_release(&b);
    assert_null(b.data);
    assert_int_equal(b.cap, 64);
}

static void test_buf__cap_is_enforced(void **state)
{
    struct buf b = BUF_INIT(4);
    assert_int_equal(buf_append(&b, "abcd", 4), 0);
    assert_int_equal(buf_append_byte(&b, 'e'), PARLEY_ETOOBIG);
    assert_int_equal(b.len, 4);
    assert_int_equal(buf_printf(&b, "%s", "x"), PARLEY_ETOOBIG);
    assert_memory_equal(b.data, "abcd", 4);
    buf_release(&b);
}

static void test_buf__integers_big_endian(void **state)
{
    struct buf b = BUF_INIT(32);
    static const uint8_t want[] = {0x12, 0x34, 0xde, 0xad, 0xbe, 0xef, 0, 0, 0, 0, 0, 0, 0, 7};
    assert_int_equal(buf_append_u16(&b, 0x1234), 0);
    assert_int_equal(buf_append_u32(&b, 0xdeadbeef), 0);
    assert_int_equal(buf_append_u64(&b, 7), 0);
    assert_int_equal(b.len, sizeof(want));
    assert_memory_equal(b.data, want, sizeof(want));
    buf_release_secure(&b);
}

static void test_buf__detach_hands_over(void **state)
{
    struct buf b = BUF_INIT(1 << 20);
    size_t n;
    for (int i = 0; i < 1000; i++)
        assert_int_equal(buf_append(&b, "0123456789", 10), 0);
    uint8_t *p = buf_detach(&b, &n);
    assert_int_equal(n, 10000);
    assert_null(b.data);
    assert_int_equal(b.len, 0);
    assert_memory_equal(p + 9990, "0123456789", 10);
    free(p);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_buf__append_and_nul),
        cmocka_unit_test(test_buf__cap_is_enforced),
        cmocka_unit_test(test_buf__integers_big_endian),
        cmocka_unit_test(test_buf__detach_hands_over),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
