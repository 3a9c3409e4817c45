/* rbac_test.c - permission names, sets, and the route table's admin rows:
 * every admin route goes through the gate with a declared scope. */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include "server/api_admin.h"
#include "server/rbac.h"

static void test_rbac__names_round_trip(void **state)
{
    for (int p = 1; p < RBAC_PERM_COUNT; p++)
        assert_int_equal(rbac_perm_parse(rbac_perm_name(p)), p);
    assert_int_equal(rbac_perm_parse("admins.delete"), -1);
    assert_int_equal(rbac_perm_parse(""), -1);
}

static void test_rbac__sets_parse_and_refuse_unknown_names(void **state)
{
    char err[256];
    rbac_set s = 0;
    json_t *a = json_pack("[s,s]", "users.read", "audit.read"), *back;

    assert_int_equal(rbac_set_from_json(a, &s, err, sizeof(err)), 0);
    assert_int_equal(s, RBAC_BIT(RBAC_USERS_READ) | RBAC_BIT(RBAC_AUDIT_READ));
    back = rbac_set_to_json(s);
    assert_true(json_equal(a, back));
    json_decref(back);
    json_array_append_new(a, json_string("root"));
    assert_int_equal(rbac_set_from_json(a, &s, err, sizeof(err)), PARLEY_EINVAL);
    assert_non_null(strstr(err, "permissions"));
    assert_non_null(strstr(err, "element 2"));
    json_decref(a);
    assert_int_equal(rbac_set_from_text("[\"users.read\",\"gone.perm\",7]"),
                     RBAC_BIT(RBAC_USERS_READ));
    assert_int_equal(rbac_set_from_text("not json"), 0);
}

static void test_rbac__builtin_sets(void **state)
{
    rbac_set ro = rbac_read_only_set(), na = rbac_network_admin_set();
    assert_true(ro & RBAC_BIT(RBAC_AUDIT_READ));
    assert_false(ro & RBAC_BIT(RBAC_ADMINS_WRITE));
    assert_false(na & RBAC_BIT(RBAC_ADMINS_READ));
    assert_true(na & RBAC_BIT(RBAC_TOKENS_WRITE)); /* the network's own tokens */
    assert_false(na & RBAC_BIT(RBAC_ROLES_WRITE));
    assert_true((na & rbac_all()) == na);
}

static void test_rbac__every_admin_route_is_gated(void **state)
{
    int n = 0;
    for (size_t i = 0; i < http_routes_count; i++) {
        const struct http_route *r = &http_routes[i];
        bool admin_path = strncmp(r->path, ADMIN_PATH "/", strlen(ADMIN_PATH) + 1) == 0;
        if (!admin_path) {
            assert_ptr_not_equal(r->fn, api_admin_entry);
            continue;
        }
        n++;
        if (r->fn != api_admin_entry || !r->admin_fn)
            fail_msg("%s %s does not go through api_admin_entry", http_method_name(r->method),
                     r->path);
        /* Network-scoped routes name the network first. */
        if (r->scope == RBAC_SCOPE_NETWORK)
            assert_non_null(strstr(r->path, "/networks/:network_id"));
        /* Only sign-in is public; writes need a write permission unless
         * they act on the caller's own account. */
        if (r->scope == RBAC_SCOPE_PUBLIC)
            assert_string_equal(r->path, ADMIN_PATH "/login");
        if (r->method != HTTP_GET && r->scope != RBAC_SCOPE_SELF && r->scope != RBAC_SCOPE_PUBLIC)
            assert_non_null(strstr(rbac_perm_name(r->perm), ".write"));
    }
    assert_true(n >= 40);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_rbac__names_round_trip),
        cmocka_unit_test(test_rbac__sets_parse_and_refuse_unknown_names),
        cmocka_unit_test(test_rbac__builtin_sets),
        cmocka_unit_test(test_rbac__every_admin_route_is_gated),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
