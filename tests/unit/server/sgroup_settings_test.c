/* sgroup_settings_test.c - the settings table: well-formed entries,
 * validation messages that name setting, bound and value, defaults. */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include "server/sgroup_settings.h"

static void check_table(const struct sgroup_setting *t, size_t n)
{
    static const char *const sections[] = {"general", "messaging",  "calling", "security",
                                           "push",    "federation", "network"};
    char err[256];

    for (size_t i = 0; i < n; i++) {
        json_t *def = json_loads(t[i].def, JSON_DECODE_ANY, NULL), *one = json_object();
        bool known = false;
        for (size_t k = 0; k < ARRAY_SIZE(sections); k++)
            known |= strcmp(sections[k], t[i].section) == 0;
        if (!known || !def || !t[i].help[0])
            fail_msg("setting %s: bad section, default or help", t[i].name);
        /* Each default passes its own validation. */
        json_object_set_new(one, t[i].name, def);
        if (sgroup_settings_validate(t, n, one, err, sizeof(err)) != 0)
            fail_msg("default of %s is refused: %s", t[i].name, err);
        json_decref(one);
        for (size_t k = 0; k < i; k++)
            assert_string_not_equal(t[k].name, t[i].name);
    }
}

static void test_sgroup__tables_are_consistent(void **state)
{
    check_table(sgroup_settings, sgroup_settings_count);
    check_table(sgroup_network_settings, sgroup_network_settings_count);
    assert_true(sgroup_settings_count >= 30);
}

static void test_sgroup__validation_names_setting_bound_and_value(void **state)
{
    static const struct {
        const char *json;
        const char *want[3];
    } bad[] = {
        {"{\"max_expiration\":5}", {"max_expiration", "60", "got 5"}},
        {"{\"audio_calling\":\"yes\"}", {"audio_calling", "true or false", NULL}},
        {"{\"local_federation\":\"open\"}", {"local_federation", "restricted", NULL}},
        {"{\"quick_responses\":[\"a\",\"b\",\"c\",\"d\",\"e\",\"f\",\"g\",\"h\",\"i\",\"j\","
         "\"k\"]}",
         {"quick_responses", "10", NULL}},
        {"{\"messaging_domains\":[7]}", {"messaging_domains", "element 0", NULL}},
        {"{\"permitted_networks\":[\"ok\",\"Ops=a=b\"]}",
         {"permitted_networks", "element 1", "label and '='"}},
        {"{\"permitted_networks\":[\"=3f2a\"]}", {"permitted_networks", "element 0", NULL}},
        {"{\"permitted_networks\":[\"Ops=\"]}", {"permitted_networks", "element 0", NULL}},
        {"{\"permitted_networks\":[\"net work\"]}", {"permitted_networks", "element 0", NULL}},
        {"{\"no_such\":1}", {"no_such", "not known", NULL}},
        {"[]", {"settings", NULL, NULL}},
    };
    char err[256];

    for (size_t i = 0; i < ARRAY_SIZE(bad); i++) {
        json_t *j = json_loads(bad[i].json, 0, NULL);
        assert_int_equal(
            sgroup_settings_validate(sgroup_settings, sgroup_settings_count, j, err, sizeof(err)),
            PARLEY_EINVAL);
        for (int k = 0; k < 3 && bad[i].want[k]; k++)
            if (!strstr(err, bad[i].want[k]))
                fail_msg("%s: '%s' lacks '%s'", bad[i].json, err, bad[i].want[k]);
        json_decref(j);
    }
}

static void test_sgroup__fill_uses_defaults_and_drops_stale_values(void **state)
{
    json_t *stored = json_loads("{\"max_expiration\":3600,\"gone\":1,"
                                "\"max_upload_bytes\":1}",
                                0, NULL);
    json_t *f = sgroup_settings_fill(sgroup_settings, sgroup_settings_count, stored);
    struct sgroup_password_policy pol;

    assert_int_equal(json_object_size(f), sgroup_settings_count);
    assert_int_equal(json_integer_value(json_object_get(f, "max_expiration")), 3600);
    assert_null(json_object_get(f, "gone"));
    /* Out of bounds now: the default applies. */
    assert_int_equal(json_integer_value(json_object_get(f, "max_upload_bytes")), 5368709120LL);
    /* Networks are closed to each other unless both open up. */
    assert_string_equal(json_string_value(json_object_get(f, "local_federation")), "disabled");
    sgroup_password_policy(f, &pol);
    assert_int_equal(pol.min_len, 8);
    assert_true(pol.upper && pol.lower && pol.digit && !pol.symbol);
    json_decref(f);
    json_decref(stored);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_sgroup__tables_are_consistent),
        cmocka_unit_test(test_sgroup__validation_names_setting_bound_and_value),
        cmocka_unit_test(test_sgroup__fill_uses_defaults_and_drops_stale_values),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
