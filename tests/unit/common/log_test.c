/* log_test.c - log lines are logfmt, escaped, and filtered by level. */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>
#include <unistd.h>

#include "common/log.h"

static void read_all(int fd, char *out, size_t cap)
{
    ssize_t n = read(fd, out, cap - 1);
    out[n > 0 ? n : 0] = 0;
}

static void test_log__format_and_levels(void **state)
{
    int p[2];
    char line[4096];
    assert_int_equal(pipe(p), 0);
    log_set_fd(p[1]);
    log_set_level(LOG_LEVEL_INFO);
    log_debug("hidden");
    log_info("listening addr=%s", "127.0.0.1:1");
    read_all(p[0], line, sizeof(line));
    assert_non_null(strstr(line, "level=info msg=\"listening addr=127.0.0.1:1\"\n"));
    assert_null(strstr(line, "hidden"));
    assert_true(strncmp(line, "ts=", 3) == 0);

    log_warnx("quote \" and\nnewline");
    read_all(p[0], line, sizeof(line));
    assert_non_null(strstr(line, "msg=\"quote \\\" and\\nnewline\""));
    log_set_fd(2);
    close(p[0]);
    close(p[1]);
}

static void test_log__level_parse(void **state)
{
    enum log_level l;
    assert_int_equal(log_level_parse("warn", &l), 0);
    assert_int_equal(l, LOG_LEVEL_WARN);
    assert_int_equal(log_level_parse("loud", &l), PARLEY_EINVAL);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_log__format_and_levels),
        cmocka_unit_test(test_log__level_parse),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
