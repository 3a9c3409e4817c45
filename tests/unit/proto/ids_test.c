/* ids_test.c - conversation ids, vgroupids and the login secret. */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include "proto/ids.h"

static void test_ids__direct_is_symmetric_and_typed(void **state)
{
    uint8_t a[16], b[16], ab[16], ba[16], other[16];
    memset(a, 1, 16);
    memset(b, 2, 16);
    assert_int_equal(ids_conv_direct("net1", a, b, ab), 0);
    assert_int_equal(ids_conv_direct("net1", b, a, ba), 0);
    assert_memory_equal(ab, ba, 16);
    assert_int_equal(ids_conv_type(ab), IDS_CONV_DIRECT);
    assert_int_equal(ids_conv_direct("net2", a, b, other), 0);
    assert_memory_not_equal(ab, other, 16);
}

static void test_ids__vgroupid_forms(void **state)
{
    uint8_t dm[16], g[16], r[16];
    char v[IDS_VGROUPID_LEN + 1];
    memset(dm, 0x11, 16);
    dm[0] = 0x11; /* type bits 00 */
    assert_int_equal(ids_vgroupid(dm, v), 0);
    assert_int_equal(strlen(v), 64);
    for (int i = 0; i < 64; i++)
        assert_non_null(strchr("0123456789abcdef", v[i]));
    assert_int_equal(ids_conv_new(IDS_CONV_GROUP, g), 0);
    assert_int_equal(ids_conv_type(g), IDS_CONV_GROUP);
    assert_int_equal(ids_vgroupid(g, v), 0);
    assert_int_equal(v[0], 'G');
    assert_int_equal(strlen(v), 64);
    assert_int_equal(ids_conv_new(IDS_CONV_ROOM, r), 0);
    assert_int_equal(ids_vgroupid(r, v), 0);
    assert_int_equal(v[0], 'S');
    assert_int_equal(ids_conv_new(IDS_CONV_DIRECT, r), PARLEY_EINVAL);
    r[0] |= 0xc0;
    assert_int_equal(ids_vgroupid(r, v), PARLEY_EINVAL);
}

static void test_ids__login_secret_is_deterministic_and_salted(void **state)
{
    char s1[IDS_LOGIN_SECRET_B64], s2[IDS_LOGIN_SECRET_B64], s3[IDS_LOGIN_SECRET_B64];
    assert_int_equal(ids_login_secret("net1", "alice", "pw", s1), 0);
    assert_int_equal(ids_login_secret("net1", "alice", "pw", s2), 0);
    assert_string_equal(s1, s2);
    assert_int_equal(strlen(s1), 44);
    assert_int_equal(ids_login_secret("net1", "bob", "pw", s3), 0);
    assert_string_not_equal(s1, s3);
    assert_int_equal(ids_login_secret("net1", "alice", "", s3), PARLEY_EINVAL);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_ids__direct_is_symmetric_and_typed),
        cmocka_unit_test(test_ids__vgroupid_forms),
        cmocka_unit_test(test_ids__login_secret_is_deterministic_and_salted),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
