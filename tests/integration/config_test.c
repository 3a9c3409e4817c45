/* config_test.c - what an operator sees when the configuration is wrong,
 * and that the settings table, --print-config and parleyd(8) agree. */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <sys/stat.h>

#include "harness.h"

static char tmpdir[64];

static int setup(void **state)
{
    snprintf(tmpdir, sizeof(tmpdir), "/tmp/parley-cfg.XXXXXX");
    return mkdtemp(tmpdir) ? 0 : -1;
}

static int teardown(void **state)
{
    char cmd[128];
    snprintf(cmd, sizeof(cmd), "rm -rf '%s'", tmpdir);
    return system(cmd) == 0 ? 0 : -1;
}

static bool exists(const char *path)
{
    struct stat st;
    return stat(path, &st) == 0;
}

static void test_config__bad_listen_names_setting_value_and_range(void **state)
{
    char data[128], *out, *err;
    snprintf(data, sizeof(data), "%s/data", tmpdir);
    char *args[] = {"parleyd", "--data-dir", data, "--listen", "127.0.0.1:70000", NULL};
    int rc = harness_run(args, &out, &err);
    assert_int_not_equal(rc, 0);
    assert_non_null(strstr(err, "listen"));
    assert_non_null(strstr(err, "'127.0.0.1:70000'"));
    assert_non_null(strstr(err, "0 to 65535"));
    assert_false(exists(data)); /* nothing created */
    free(out);
    free(err);
}

static void test_config__bad_value_in_file_names_file_line_and_range(void **state)
{
    char data[128], conf[128], *out, *err;
    FILE *f;
    snprintf(data, sizeof(data), "%s/data", tmpdir);
    snprintf(conf, sizeof(conf), "%s/parleyd.conf", tmpdir);
    f = fopen(conf, "w");
    fprintf(f, "# comment\nlog_level = info\nmax_connections = 0\n");
    fclose(f);
    char *args[] = {"parleyd", "--config", conf, "--data-dir", data, NULL};
    int rc = harness_run(args, &out, &err);
    assert_int_not_equal(rc, 0);
    assert_non_null(strstr(err, "parleyd.conf:3"));
    assert_non_null(strstr(err, "max_connections"));
    assert_non_null(strstr(err, "'0'"));
    assert_non_null(strstr(err, "from 1 to 1000000"));
    assert_false(exists(data));
    free(out);
    free(err);
}

static void test_config__unknown_setting_and_bad_enum_are_refused(void **state)
{
    char *out, *err;
    char *args1[] = {"parleyd", "-n", "--set", "colour=blue", NULL};
    assert_int_not_equal(harness_run(args1, &out, &err), 0);
    assert_non_null(strstr(err, "unknown setting 'colour'"));
    free(out);
    free(err);
    char *args2[] = {"parleyd", "-n", "--set", "log_level=loud", NULL};
    assert_int_not_equal(harness_run(args2, &out, &err), 0);
    assert_non_null(strstr(err, "log_level"));
    assert_non_null(strstr(err, "debug info warn error"));
    free(out);
    free(err);
    char *args3[] = {"parleyd", "-n", "--set", "store=mysql://x", NULL};
    assert_int_not_equal(harness_run(args3, &out, &err), 0);
    assert_non_null(strstr(err, "store"));
    free(out);
    free(err);
}

static void test_config__check_and_print_config_round_trip(void **state)
{
    char conf[128], *out, *err, *out2, *err2;
    FILE *f;
    snprintf(conf, sizeof(conf), "%s/printed.conf", tmpdir);
    char *args[] = {"parleyd", "--print-config",
                    "--set",   "store=postgresql://parley:s3cret@db.example:5432/parley",
                    "--set",   "http_max_body=2M",
                    NULL};
    assert_int_equal(harness_run(args, &out, &err), 0);
    assert_null(strstr(out, "s3cret")); /* the password is redacted */
    assert_non_null(strstr(out, "http_max_body = 2097152"));
    assert_non_null(strstr(out, "listen = 0.0.0.0:8443"));
    f = fopen(conf, "w");
    fputs(out, f);
    fclose(f);
    char *check[] = {"parleyd", "--config", conf, "-n", NULL};
    assert_int_equal(harness_run(check, &out2, &err2), 0);
    assert_non_null(strstr(out2, "configuration is valid"));
    free(out);
    free(err);
    free(out2);
    free(err2);
}

/* parleyd(8)'s SETTINGS section is generated from the settings table
 * (tools/gen-man); this fails when someone edits one without the other. */
static void test_config__man_page_settings_match_the_table(void **state)
{
    const char *root = getenv("PARLEY_SOURCE_ROOT");
    char path[512], *man, *begin, *end, *out, *err;
    FILE *f;
    long n;

    assert_non_null(root);
    snprintf(path, sizeof(path), "%s/docs/man/parleyd.8", root);
    f = fopen(path, "r");
    assert_non_null(f);
    fseek(f, 0, SEEK_END);
    n = ftell(f);
    fseek(f, 0, SEEK_SET);
    man = calloc(1, (size_t)n + 1);
    assert_int_equal(fread(man, 1, (size_t)n, f), (size_t)n);
    fclose(f);
    begin = strstr(man, "\n.\\\" settings-begin\n");
    assert_non_null(begin);
    begin += strlen("\n.\\\" settings-begin\n");
    end = strstr(begin, ".\\\" settings-end\n");
    assert_non_null(end);
    *end = 0;
    char *args[] = {"parleyd", "--print-man-settings", NULL};
    assert_int_equal(harness_run(args, &out, &err), 0);
    assert_string_equal(begin, out);
    free(man);
    free(out);
    free(err);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_config__bad_listen_names_setting_value_and_range,
                                        setup, teardown),
        cmocka_unit_test_setup_teardown(test_config__bad_value_in_file_names_file_line_and_range,
                                        setup, teardown),
        cmocka_unit_test_setup_teardown(test_config__unknown_setting_and_bad_enum_are_refused,
                                        setup, teardown),
        cmocka_unit_test_setup_teardown(test_config__check_and_print_config_round_trip, setup,
                                        teardown),
        cmocka_unit_test_setup_teardown(test_config__man_page_settings_match_the_table, setup,
                                        teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
