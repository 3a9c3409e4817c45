/* wire_test.c - the bounds-checked reader. */
#include "testutil.h"

#include "proto/wire.h"

static void test_wire__reads_big_endian(void **state)
{
    static const uint8_t in[] = {1, 0x12, 0x34, 0xde, 0xad, 0xbe, 0xef, 0, 0, 0, 0, 0, 0, 0, 9};
    struct wire w;
    wire_init(&w, in, sizeof(in));
    assert_int_equal(wire_u8(&w), 1);
    assert_int_equal(wire_u16(&w), 0x1234);
    assert_int_equal(wire_u32(&w), 0xdeadbeef);
    assert_int_equal(wire_u64(&w), 9);
    assert_int_equal(wire_end(&w), 0);
}

static void test_wire__overrun_is_sticky(void **state)
{
    static const uint8_t in[] = {1, 2, 3};
    uint8_t out[4] = {9, 9, 9, 9};
    struct wire w;
    wire_init(&w, in, sizeof(in));
    assert_int_equal(wire_u16(&w), 0x0102);
    assert_int_equal(wire_u32(&w), 0);
    assert_int_equal(wire_u8(&w), 0); /* sticky: even though one byte is left */
    assert_null(wire_bytes(&w, 0));
    wire_copy(&w, out, 4);
    assert_int_equal(out[0], 0);
    assert_int_equal(wire_left(&w), 0);
    assert_int_equal(wire_end(&w), PARLEY_EPROTO);
}

static void test_wire__trailing_bytes_fail(void **state)
{
    static const uint8_t in[] = {1, 2};
    struct wire w;
    wire_init(&w, in, sizeof(in));
    (void)wire_u8(&w);
    assert_int_equal(wire_end(&w), PARLEY_EPROTO);
    wire_fail(&w, PARLEY_ETOOBIG);
    assert_int_equal(wire_end(&w), PARLEY_ETOOBIG);
    wire_init(&w, NULL, 5);
    assert_int_equal(wire_left(&w), 0);
}

static void test_wire__puts(void **state)
{
    uint8_t b[8];
    wire_put_u16(b, 0xabcd);
    assert_int_equal(b[0], 0xab);
    wire_put_u32(b, 0x01020304);
    assert_int_equal(b[3], 4);
    wire_put_u64(b, 0x0102030405060708ull);
    assert_int_equal(b[0], 1);
    assert_int_equal(b[7], 8);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_wire__reads_big_endian),
        cmocka_unit_test(test_wire__overrun_is_sticky),
        cmocka_unit_test(test_wire__trailing_bytes_fail),
        cmocka_unit_test(test_wire__puts),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
