/* http_test.c - the route table: exact paths, parameters, 404 and 405. */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include "server/http.h"

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

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_http__routes_by_method_and_path),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
