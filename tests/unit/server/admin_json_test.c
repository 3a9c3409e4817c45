/* admin_json_test.c - checked admin request bodies and the password
 * policy: every refusal names the field. */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include "server/admin_json.h"

static const char *const colours[] = {"red", "green", NULL};
static const struct admin_field fields[] = {
    {"name", AF_NAME, true, 1, 8, NULL},   {"count", AF_INT, false, 1, 10, NULL},
    {"on", AF_BOOL, false, 0, 0, NULL},    {"colour", AF_STRING, false, 1, 16, colours},
    {"list", AF_ARRAY, false, 0, 2, NULL},
};

static int parse(const char *body, char *err)
{
    json_t *out = NULL;
    int rc = admin_json_parse(body, strlen(body), fields, ARRAY_SIZE(fields), &out, err, 256);
    json_decref(out);
    return rc;
}

static void test_admin_json__accepts_good_bodies(void **state)
{
    char err[256];
    assert_int_equal(parse("{\"name\":\"a.b-c\"}", err), 0);
    assert_int_equal(parse("{\"name\":\"x\",\"count\":10,\"on\":false,\"colour\":\"red\","
                           "\"list\":[1,2]}",
                           err),
                     0);
}

static void test_admin_json__refusals_name_the_field(void **state)
{
    static const struct {
        const char *body, *field;
    } bad[] = {
        {"", "name"},
        {"{", "body"},
        {"[]", "body"},
        {"{\"name\":\"x\",\"name\":\"y\"}", "body"},
        {"{\"count\":1}", "name"},
        {"{\"name\":\"\"}", "name"},
        {"{\"name\":\"too-long-name\"}", "name"},
        {"{\"name\":\"sp ace\"}", "name"},
        {"{\"name\":\"x\",\"count\":11}", "count"},
        {"{\"name\":\"x\",\"count\":1.5}", "count"},
        {"{\"name\":\"x\",\"on\":1}", "on"},
        {"{\"name\":\"x\",\"colour\":\"blue\"}", "colour"},
        {"{\"name\":\"x\",\"list\":[1,2,3]}", "list"},
        {"{\"name\":\"x\",\"extra\":null}", "extra"},
        {"{\"name\":\"a\\u0000b\"}", "body"},
    };
    char err[256];
    for (size_t i = 0; i < ARRAY_SIZE(bad); i++) {
        err[0] = 0;
        assert_int_equal(parse(bad[i].body, err), PARLEY_EINVAL);
        if (!strstr(err, bad[i].field))
            fail_msg("%s: '%s' does not name '%s'", bad[i].body, err, bad[i].field);
    }
}

static void test_admin_json__password_policy_is_stated(void **state)
{
    char err[256];
    assert_int_equal(
        admin_password_check("Abcdefgh1!", "pw", 8, true, true, true, true, err, sizeof(err)), 0);
    assert_int_equal(
        admin_password_check("abcdefgh1!", "pw", 8, true, true, true, true, err, sizeof(err)),
        PARLEY_EINVAL);
    assert_non_null(strstr(err, "'pw'"));
    assert_non_null(strstr(err, "uppercase"));
    assert_non_null(strstr(err, "at least 8"));
    assert_int_equal(
        admin_password_check("Ab1!", "pw", 8, false, false, false, false, err, sizeof(err)),
        PARLEY_EINVAL);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_admin_json__accepts_good_bodies),
        cmocka_unit_test(test_admin_json__refusals_name_the_field),
        cmocka_unit_test(test_admin_json__password_policy_is_stated),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
