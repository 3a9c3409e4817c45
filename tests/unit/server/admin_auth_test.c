/* admin_auth_test.c - secrets, cookies, TOTP (RFC 6238 vectors, replay),
 * the otpauth URI, the QR image and the sign-in rate limiter. */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include "server/admin_auth.h"
#include "server/config.h"

#include <unistd.h>

/* RFC 6238 Appendix B: the SHA-1 key "12345678901234567890" in base32. */
#define RFC_SECRET "GEZDGNBVGY3TQOJQGEZDGNBVGY3TQOJQ"

static void test_admin_auth__secrets_are_random_and_hashed(void **state)
{
    char a[ADMIN_SECRET_LEN + 1], b[ADMIN_SECRET_LEN + 1], h[ADMIN_HASH_LEN + 1];

    assert_int_equal(admin_secret_new(a), 0);
    assert_int_equal(admin_secret_new(b), 0);
    assert_int_equal(strlen(a), ADMIN_SECRET_LEN);
    assert_string_not_equal(a, b);
    assert_int_equal(strspn(a, "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_"),
                     ADMIN_SECRET_LEN);
    admin_hash("abc", h);
    assert_string_equal(h, "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad");
}

static void test_admin_auth__cookie_header(void **state)
{
    char v[16];

    assert_true(admin_auth_cookie("parley_admin=abc", "parley_admin", v, sizeof(v)));
    assert_string_equal(v, "abc");
    assert_true(admin_auth_cookie("x=1; parley_admin=def; y=2", "parley_admin", v, sizeof(v)));
    assert_string_equal(v, "def");
    assert_false(admin_auth_cookie("xparley_admin=abc", "parley_admin", v, sizeof(v)));
    assert_false(admin_auth_cookie("parley_admin=", "parley_admin", v, sizeof(v)));
    assert_false(
        admin_auth_cookie("parley_admin=0123456789abcdefXYZ", "parley_admin", v, sizeof(v)));
    assert_false(admin_auth_cookie("", "parley_admin", v, sizeof(v)));
}

static void test_admin_auth__totp_rfc6238_and_replay(void **state)
{
    int64_t step = 0;

    /* T = 59 s: 94287082 in 8 digits, so 287082 in 6. */
    assert_int_equal(admin_totp_check(RFC_SECRET, "287082", 0, 59, &step), 0);
    assert_int_equal(step, 1);
    /* Used once: the same step is refused. */
    assert_int_equal(admin_totp_check(RFC_SECRET, "287082", 1, 59, &step), PARLEY_EAUTH);
    /* T = 1111111109: 07081804. */
    assert_int_equal(admin_totp_check(RFC_SECRET, "081804", 0, 1111111109, &step), 0);
    /* One step of drift either way, not two. */
    assert_int_equal(admin_totp_check(RFC_SECRET, "081804", 0, 1111111109 + 30, &step), 0);
    assert_int_equal(admin_totp_check(RFC_SECRET, "081804", 0, 1111111109 + 90, &step),
                     PARLEY_EAUTH);
    assert_int_equal(admin_totp_check(RFC_SECRET, "12345", 0, 59, &step), PARLEY_EINVAL);
    assert_int_equal(admin_totp_check(RFC_SECRET, "12a456", 0, 59, &step), PARLEY_EINVAL);
    assert_int_equal(admin_totp_check("!!!", "287082", 0, 59, &step), PARLEY_EINVAL);
}

static void test_admin_auth__enrolment_material(void **state)
{
    char *secret = NULL, *uri, *svg;

    assert_int_equal(admin_totp_secret_new(&secret), 0);
    assert_int_equal(strlen(secret), 32); /* 20 bytes */
    uri = admin_totp_uri("a b@x", secret);
    assert_non_null(strstr(uri, "otpauth://totp/Parley:a%20b%40x?secret="));
    assert_non_null(strstr(uri, secret));
    svg = admin_qr_svg(uri);
    assert_non_null(svg);
    assert_true(strncmp(svg, "<svg", 4) == 0);
    assert_non_null(strstr(svg, "</svg>"));
    free(secret);
    free(uri);
    free(svg);
}

static void test_admin_auth__totp_secrets_sealed_at_rest(void **state)
{
    char dir[] = "/tmp/parley-seal.XXXXXX", sealed[ADMIN_SEALED_MAX], back[64], path[300];
    struct config c;

    assert_non_null(mkdtemp(dir));
    config_init(&c);
    free(c.data_dir);
    c.data_dir = strdup(dir);
    assert_int_equal(admin_secret_seal(&c, 7, RFC_SECRET, sealed, sizeof(sealed)), 0);
    assert_true(strncmp(sealed, "v1:", 3) == 0);
    assert_null(strstr(sealed, RFC_SECRET));
    assert_int_equal(admin_secret_open(&c, 7, sealed, back, sizeof(back)), 0);
    assert_string_equal(back, RFC_SECRET);
    /* Bound to its account, and tamper-evident. */
    assert_int_equal(admin_secret_open(&c, 8, sealed, back, sizeof(back)), PARLEY_EAUTH);
    sealed[10] = sealed[10] == '0' ? '1' : '0';
    assert_int_equal(admin_secret_open(&c, 7, sealed, back, sizeof(back)), PARLEY_EAUTH);
    assert_int_equal(admin_secret_open(&c, 7, "v1:zz", back, sizeof(back)), PARLEY_EAUTH);
    /* A legacy plain value passes through. */
    assert_int_equal(admin_secret_open(&c, 7, RFC_SECRET, back, sizeof(back)), 0);
    assert_string_equal(back, RFC_SECRET);
    snprintf(path, sizeof(path), "%s/admin.key", dir);
    assert_int_equal(unlink(path), 0);
    assert_int_equal(rmdir(dir), 0);
    config_release(&c);
}

static void test_admin_auth__rate_limit_per_address_and_minute(void **state)
{
    struct config c;

    config_init(&c);
    c.admin_login_rate = 2;
    assert_true(admin_auth_rate_ok(&c, "192.0.2.1", 600));
    assert_true(admin_auth_rate_ok(&c, "192.0.2.1", 601));
    assert_false(admin_auth_rate_ok(&c, "192.0.2.1", 602));
    /* Another address has its own count; the next minute starts afresh. */
    assert_true(admin_auth_rate_ok(&c, "192.0.2.2", 602));
    assert_true(admin_auth_rate_ok(&c, "192.0.2.1", 660));
    config_release(&c);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_admin_auth__secrets_are_random_and_hashed),
        cmocka_unit_test(test_admin_auth__cookie_header),
        cmocka_unit_test(test_admin_auth__totp_rfc6238_and_replay),
        cmocka_unit_test(test_admin_auth__enrolment_material),
        cmocka_unit_test(test_admin_auth__totp_secrets_sealed_at_rest),
        cmocka_unit_test(test_admin_auth__rate_limit_per_address_and_minute),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
