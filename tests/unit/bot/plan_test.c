/* plan_test.c - who belongs in a default room (src/bot/roombot/plan.c). */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include "bot/roombot/plan.h"

static const char users_json[] =
    "[{\"username\":\"alice\",\"status\":\"active\",\"user_type\":\"user\","
    "\"security_group\":{\"id\":1,\"name\":\"Default\"}},"
    "{\"username\":\"bob\",\"status\":\"active\",\"user_type\":\"user\","
    "\"security_group\":{\"id\":2,\"name\":\"Ops\"}},"
    "{\"username\":\"carol\",\"status\":\"pending\",\"user_type\":\"user\","
    "\"security_group\":{\"id\":2,\"name\":\"Ops\"}},"
    "{\"username\":\"dave\",\"status\":\"suspended\",\"user_type\":\"user\","
    "\"security_group\":{\"id\":1,\"name\":\"Default\"}},"
    "{\"username\":\"erin\",\"status\":\"active\",\"user_type\":\"web_admin\","
    "\"security_group\":{\"id\":2,\"name\":\"Ops\"}},"
    "{\"username\":\"frank\",\"status\":\"active\",\"user_type\":\"user\","
    "\"security_group\":null},"
    "{\"status\":\"active\"}, 7, {\"username\":5,\"status\":\"active\"}]";

static char *plan(const char *def)
{
    json_t *d = json_loads(def, 0, NULL), *u = json_loads(users_json, 0, NULL);
    assert_non_null(d);
    assert_non_null(u);
    json_t *m = plan_members(d, u);
    assert_non_null(m);
    char *s = json_dumps(m, JSON_COMPACT);
    json_decref(m);
    json_decref(d);
    json_decref(u);
    return s;
}

static void test_plan__all_users_and_groups(void **state)
{
    char *s = plan("{\"all_users\":true,\"security_groups\":[]}");
    assert_string_equal(s, "[\"alice\",\"bob\",\"frank\"]");
    free(s);
    s = plan("{\"all_users\":false,\"security_groups\":[2]}");
    assert_string_equal(s, "[\"bob\"]");
    free(s);
    s = plan("{\"security_groups\":[1,2]}");
    assert_string_equal(s, "[\"alice\",\"bob\"]");
    free(s);
    s = plan("{\"security_groups\":[9,\"2\"]}");
    assert_string_equal(s, "[]");
    free(s);
    s = plan("{}");
    assert_string_equal(s, "[]");
    free(s);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_plan__all_users_and_groups),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
