/* http_test.c - the route table: exact paths, parameters, 404 and 405. */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include "server/http.h"
#include "server/console.h"

static int route(struct http_req *req, enum http_method m, const char *path)
{
    memset(req, 0, sizeof(*req));
    req->method = m;
    snprintf(req->path, sizeof(req->path), "%s", path);
    return http_route(req);
}

static void test_http__routes_by_method_and_path(void **state)
{
    struct http_req req;
    assert_int_equal(route(&req, HTTP_GET, "/healthz"), 0);
    assert_string_equal(req.route->path, "/healthz");
    assert_int_equal(route(&req, HTTP_HEAD, "/healthz"), 0); /* HEAD uses GET's route */
    assert_int_equal(route(&req, HTTP_POST, "/healthz"), 405);
    assert_int_equal(route(&req, HTTP_GET, "/healthz/"), 404);
    assert_int_equal(route(&req, HTTP_GET, "/health"), 404);
    assert_int_equal(route(&req, HTTP_GET, "/healthzz"), 404);
    assert_int_equal(route(&req, HTTP_GET, ""), 404);
    assert_int_equal(route(&req, HTTP_GET, "/api/v1/version"), 0);
    assert_int_equal(route(&req, HTTP_GET, "/api//v1/version"), 404);
}

static void test_http__console_prefix_route(void **state)
{
    struct http_req req;
    assert_int_equal(route(&req, HTTP_GET, "/"), 0);
    assert_ptr_equal(req.route->fn, console_redirect);
    assert_int_equal(route(&req, HTTP_GET, "/admin"), 0);
    assert_ptr_equal(req.route->fn, console_file);
    assert_int_equal(route(&req, HTTP_GET, "/admin/"), 0);
    assert_ptr_equal(req.route->fn, console_file);
    assert_int_equal(route(&req, HTTP_GET, "/admin/js/pages/users.js"), 0);
    assert_ptr_equal(req.route->fn, console_file);
    assert_int_equal(route(&req, HTTP_POST, "/admin/index.html"), 405);
    assert_int_equal(route(&req, HTTP_GET, "/administrator"), 404);
    /* The admin API is not swallowed by the prefix. */
    assert_int_equal(route(&req, HTTP_GET, "/api/v1/admin/me"), 0);
    assert_string_equal(req.route->path, "/api/v1/admin/me");
}

static void test_http__console_paths_stay_inside(void **state)
{
    assert_string_equal(console_path_type("index.html"), "text/html; charset=utf-8");
    assert_string_equal(console_path_type("js/pages/users.js"), "text/javascript; charset=utf-8");
    assert_string_equal(console_path_type("css/console.css"), "text/css; charset=utf-8");
    assert_string_equal(console_path_type("img/logo.svg"), "image/svg+xml");
    assert_null(console_path_type(""));
    assert_null(console_path_type("../parley.db"));
    assert_null(console_path_type("js/../../x.js"));
    assert_null(console_path_type("js/./x.js"));
    assert_null(console_path_type(".hidden.js"));
    assert_null(console_path_type("js//x.js"));
    assert_null(console_path_type("/etc/x.html"));
    assert_null(console_path_type("js/"));
    assert_null(console_path_type("a%2e%2e/x.js"));
    assert_null(console_path_type("a\\x.js"));
    assert_null(console_path_type("README"));
    assert_null(console_path_type("x.exe"));
    assert_null(console_path_type("x.js.map/y"));
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_http__routes_by_method_and_path),
        cmocka_unit_test(test_http__console_prefix_route),
        cmocka_unit_test(test_http__console_paths_stay_inside),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
