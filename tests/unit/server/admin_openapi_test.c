/* admin_openapi_test.c - docs/api/openapi.json is what the route table
 * generates, and names every admin route with its permission and scope.
 * PARLEY_WRITE_OPENAPI=1 rewrites the file instead of comparing. */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include "server/admin_openapi.h"
#include "server/api_admin.h"

static char *doc_path(void)
{
    const char *root = getenv("PARLEY_SOURCE_ROOT");
    char *p = NULL;
    assert_non_null(root);
    assert_true(asprintf(&p, "%s/docs/api/openapi.json", root) > 0);
    return p;
}

static void test_admin_openapi__file_matches_route_table(void **state)
{
    json_t *doc = admin_openapi_build(), *file;
    char *path = doc_path();
    const char *w = getenv("PARLEY_WRITE_OPENAPI");

    if (w && strcmp(w, "1") == 0)
        assert_int_equal(json_dump_file(doc, path, JSON_INDENT(2) | JSON_SORT_KEYS), 0);
    file = json_load_file(path, 0, NULL);
    if (!file || !json_equal(file, doc))
        fail_msg("%s is out of date: rerun this test with PARLEY_WRITE_OPENAPI=1", path);
    json_decref(file);
    json_decref(doc);
    free(path);
}

static void test_admin_openapi__every_admin_route_is_described(void **state)
{
    json_t *doc = admin_openapi_build(), *paths = json_object_get(doc, "paths");
    int n = 0;

    for (size_t i = 0; i < http_routes_count; i++) {
        const struct http_route *r = &http_routes[i];
        char p[512], m[16];
        size_t k = 0;
        json_t *op;
        if (r->fn != api_admin_entry)
            continue;
        for (const char *s = r->path; *s && k < sizeof(p) - 2;) {
            if (s[0] == '/' && s[1] == ':') {
                size_t len = strcspn(s + 2, "/");
                k += (size_t)snprintf(p + k, sizeof(p) - k, "/{%.*s}", (int)len, s + 2);
                s += 2 + len;
            } else {
                p[k++] = *s++;
            }
        }
        p[k] = 0;
        snprintf(m, sizeof(m), "%s", http_method_name(r->method));
        for (char *c = m; *c; c++)
            *c = (char)(*c + 32);
        op = json_object_get(json_object_get(paths, p), m);
        if (!op)
            fail_msg("%s %s is missing from the OpenAPI document", m, p);
        assert_string_equal(json_string_value(json_object_get(op, "x-parley-scope")),
                            rbac_scope_name(r->scope));
        n++;
    }
    assert_true(n >= 40);
    json_decref(doc);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_admin_openapi__file_matches_route_table),
        cmocka_unit_test(test_admin_openapi__every_admin_route_is_described),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
