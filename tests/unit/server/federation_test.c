/* federation_test.c - the local federation rule: both sides must allow,
 * restricted sides must list each other, the same network always may. */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include "server/federation.h"
#include "server/sgroup_settings.h"

static json_t *settings(const char *json)
{
    json_t *stored = json_loads(json, 0, NULL);
    json_t *filled = sgroup_settings_fill(sgroup_settings, sgroup_settings_count, stored);
    json_decref(stored);
    return filled;
}

static bool allows(const char *na, const char *a, const char *nb, const char *b, char *why,
                   size_t whylen)
{
    json_t *sa = settings(a), *sb = settings(b);
    struct fed_side x = {na, sa}, y = {nb, sb};
    bool ok = fed_allows(&x, &y, why, whylen);
    /* The rule is symmetric. */
    char why2[300];
    assert_int_equal(ok, fed_allows(&y, &x, why2, sizeof(why2)));
    json_decref(sa);
    json_decref(sb);
    return ok;
}

static void test_federation__both_sides_decide(void **state)
{
    static const char en[] = "{\"local_federation\":\"enabled\"}",
                      off[] = "{\"local_federation\":\"disabled\"}";
    char why[300];

    (void)state;
    assert_true(allows("a", en, "b", en, why, sizeof(why)));
    /* The default is disabled: nothing set, nothing reached. */
    assert_false(allows("a", "{}", "b", en, why, sizeof(why)));
    assert_non_null(strstr(why, "disabled for users of network a"));
    assert_false(allows("a", en, "b", off, why, sizeof(why)));
    assert_non_null(strstr(why, "disabled for users of network b"));
    assert_false(allows("a", off, "b", en, why, sizeof(why)));
    /* The same network always may, whatever the settings say. */
    assert_true(allows("a", off, "a", off, why, sizeof(why)));
}

static void test_federation__restricted_sides_list_each_other(void **state)
{
    char why[300];

    (void)state;
    static const char a_lists_b[] =
        "{\"local_federation\":\"restricted\",\"permitted_networks\":[\"Partner=b\"]}";
    static const char b_lists_a[] =
        "{\"local_federation\":\"restricted\",\"permitted_networks\":[\"a\"]}";
    static const char b_lists_c[] =
        "{\"local_federation\":\"restricted\",\"permitted_networks\":[\"c\",\"Other=ab\"]}";
    assert_true(allows("a", a_lists_b, "b", b_lists_a, why, sizeof(why)));
    assert_false(allows("a", a_lists_b, "b", b_lists_c, why, sizeof(why)));
    assert_non_null(strstr(why, "restricted for users of network b and network a is not"));
    /* Restricted on one side, enabled on the other: the list decides. */
    static const char en[] = "{\"local_federation\":\"enabled\"}";
    assert_true(allows("a", a_lists_b, "b", en, why, sizeof(why)));
    assert_false(allows("a", a_lists_b, "c", en, why, sizeof(why)));
    /* A restricted list is not a disabled side's permission. */
    assert_false(
        allows("a", a_lists_b, "b", "{\"local_federation\":\"disabled\"}", why, sizeof(why)));
}

static void test_federation__entries_name_ids_exactly(void **state)
{
    (void)state;
    assert_true(fed_entry_names("3f2a", "3f2a"));
    assert_true(fed_entry_names("Ops=3f2a", "3f2a"));
    assert_false(fed_entry_names("Ops=3f2a", "3f2"));
    assert_false(fed_entry_names("3f2a", "Ops"));
    assert_false(fed_entry_names("", ""));
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_federation__both_sides_decide),
        cmocka_unit_test(test_federation__restricted_sides_list_each_other),
        cmocka_unit_test(test_federation__entries_name_ids_exactly),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
