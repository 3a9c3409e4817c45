/* password_test.c - Argon2id hashing and one-time passwords. */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include "server/password.h"

static void test_password__hash_and_verify(void **state)
{
    char h1[PASSWORD_ENCODED_MAX], h2[PASSWORD_ENCODED_MAX];
    assert_int_equal(password_hash("correct horse", h1), 0);
    assert_int_equal(password_hash("correct horse", h2), 0);
    assert_true(strncmp(h1, "$argon2id$v=19$m=65536,t=3,p=1$", 31) == 0);
    assert_string_not_equal(h1, h2); /* fresh salt each time */
    assert_int_equal(password_verify(h1, "correct horse"), 0);
    assert_int_equal(password_verify(h1, "correct horsE"), PARLEY_EAUTH);
    assert_int_equal(password_verify(h1, ""), PARLEY_EAUTH);
    assert_int_equal(password_verify("$2b$10$notargon", "x"), PARLEY_EINVAL);
    assert_int_equal(password_hash("", h1), PARLEY_EINVAL);
}

static void test_password__generate(void **state)
{
    char a[21], b[21];
    assert_int_equal(password_generate(a, sizeof(a), 20), 0);
    assert_int_equal(password_generate(b, sizeof(b), 20), 0);
    assert_int_equal(strlen(a), 20);
    assert_string_not_equal(a, b);
    for (int i = 0; i < 20; i++)
        assert_null(strchr("0O1lI", a[i])); /* no look-alikes */
    assert_int_equal(password_generate(a, 5, 20), PARLEY_EINVAL);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_password__hash_and_verify),
        cmocka_unit_test(test_password__generate),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
