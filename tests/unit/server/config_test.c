/* config_test.c - the settings table: parsing, bounds, messages, output. */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include "server/config.h"

static void test_config__defaults(void **state)
{
    struct config c;
    char err[256];
    config_init(&c);
    assert_string_equal(c.listen, "0.0.0.0:8443");
    assert_string_equal(c.listen_host, "0.0.0.0");
    assert_int_equal(c.listen_port, 8443);
    assert_true(c.sqlite_sync_full);
    assert_int_equal(c.http_max_body, 1 << 20);
    assert_int_equal(c.shutdown_timeout, 5);
    assert_int_equal(config_set(&c, "data_dir", "/srv/p", err, sizeof(err)), 0);
    assert_int_equal(config_finish(&c, err, sizeof(err)), 0);
    assert_string_equal(c.store, "sqlite:/srv/p/parley.db");
    assert_string_equal(c.tls_cert, "/srv/p/tls/cert.pem");
    assert_string_equal(c.tls_key, "/srv/p/tls/key.pem");
    assert_non_null(c.hostname);
    config_release(&c);
}

static void test_config__values_and_errors(void **state)
{
    struct config c;
    char err[256];
    config_init(&c);
    assert_int_equal(config_set(&c, "listen", "[::1]:443", err, sizeof(err)), 0);
    assert_string_equal(c.listen_host, "::1");
    assert_int_equal(c.listen_port, 443);
    assert_int_equal(config_set(&c, "ws_max_message", "64K", err, sizeof(err)), 0);
    assert_int_equal(c.ws_max_message, 65536);
    assert_int_equal(config_set(&c, "sqlite_synchronous", "normal", err, sizeof(err)), 0);
    assert_false(c.sqlite_sync_full);

    assert_int_equal(config_set(&c, "listen", "host", err, sizeof(err)), PARLEY_ECONFIG);
    assert_non_null(strstr(err, "listen"));
    assert_int_equal(config_set(&c, "listen", "a b:80", err, sizeof(err)), PARLEY_ECONFIG);
    assert_int_equal(config_set(&c, "ws_max_message", "1G", err, sizeof(err)), PARLEY_ECONFIG);
    assert_non_null(strstr(err, "'1G'"));
    assert_non_null(strstr(err, "from 1024 to 16777216"));
    assert_int_equal(config_set(&c, "store_pool_size", "9x", err, sizeof(err)), PARLEY_ECONFIG);
    assert_int_equal(config_set(&c, "user", "bad\x01name", err, sizeof(err)), PARLEY_ECONFIG);
    /* A failed set changes nothing. */
    assert_int_equal(c.listen_port, 443);
    assert_int_equal(c.ws_max_message, 65536);
    config_release(&c);
}

static void test_config__buffer_reports_line_numbers(void **state)
{
    struct config c;
    char err[256];
    const char *good = "# a comment\n\n  log_level =  warn  \nmax_connections=50";
    const char *bad = "log_level = info\nno equals sign here\n";
    config_init(&c);
    assert_int_equal(config_load_buffer(&c, "x.conf", good, strlen(good), err, sizeof(err)), 0);
    assert_int_equal(c.log_level, LOG_LEVEL_WARN);
    assert_int_equal(c.max_connections, 50);
    assert_int_equal(config_load_buffer(&c, "x.conf", bad, strlen(bad), err, sizeof(err)),
                     PARLEY_ECONFIG);
    assert_string_equal(err, "x.conf:2: expected 'name = value'");
    assert_int_equal(config_load_buffer(&c, "x.conf", "a\0b", 3, err, sizeof(err)), PARLEY_ECONFIG);
    config_release(&c);
}

static void test_config__tls_paths_go_together(void **state)
{
    struct config c;
    char err[256];
    config_init(&c);
    assert_int_equal(config_set(&c, "tls_cert", "/etc/c.pem", err, sizeof(err)), 0);
    assert_int_equal(config_finish(&c, err, sizeof(err)), PARLEY_ECONFIG);
    assert_non_null(strstr(err, "tls_key"));
    config_release(&c);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_config__defaults),
        cmocka_unit_test(test_config__values_and_errors),
        cmocka_unit_test(test_config__buffer_reports_line_numbers),
        cmocka_unit_test(test_config__tls_paths_go_together),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
