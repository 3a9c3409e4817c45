/* stream_test.c - streaming received messages to rotating files
 * (src/bot/engine/stream.c). */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <dirent.h>
#include <sys/stat.h>
#include <unistd.h>

#include "bot/engine/stream.h"

static char dir[64];

static int setup(void **state)
{
    snprintf(dir, sizeof(dir), "/tmp/parley-stream-XXXXXX");
    return mkdtemp(dir) ? 0 : -1;
}

static int teardown(void **state)
{
    char cmd[128];
    snprintf(cmd, sizeof(cmd), "rm -rf '%s'", dir);
    return system(cmd) == 0 ? 0 : -1;
}

/* Files in dir/sub, and the total of their sizes. */
static int count_files(const char *sub, long *bytes)
{
    char path[128];
    struct dirent *de;
    int n = 0;
    snprintf(path, sizeof(path), "%s/%s", dir, sub);
    DIR *d = opendir(path);
    assert_non_null(d);
    *bytes = 0;
    while ((de = readdir(d))) {
        char f[400];
        struct stat st;
        if (de->d_name[0] == '.')
            continue;
        snprintf(f, sizeof(f), "%s/%s", path, de->d_name);
        assert_int_equal(stat(f, &st), 0);
        *bytes += st.st_size;
        n++;
    }
    closedir(d);
    return n;
}

static void test_stream__rotates_at_the_limit(void **state)
{
    struct stream s;
    char err[256], path[128], line[6001];
    long bytes;

    stream_init(&s);
    snprintf(path, sizeof(path), "%s/a/b", dir);
    assert_int_equal(stream_start(&s, path, "msgs", STREAM_MIN_SIZE, err, sizeof(err)), 0);
    memset(line, 'x', 4000);
    line[4000] = '\0';
    assert_int_equal(stream_write(&s, line), 0);
    assert_int_equal(stream_write(&s, line), 0);
    assert_int_equal(count_files("a/b", &bytes), 1);
    assert_int_equal(bytes, 8002);
    /* The third line would pass 10 000 bytes: a new file. */
    assert_int_equal(stream_write(&s, line), 0);
    assert_int_equal(stream_sync(&s), 0);
    assert_int_equal(count_files("a/b", &bytes), 2);
    assert_int_equal(bytes, 12003);
    /* A line over the limit gets a file of its own. */
    memset(line, 'y', 6000);
    line[6000] = '\0';
    assert_int_equal(stream_write(&s, line), 0);
    assert_int_equal(stream_write(&s, line), 0);
    assert_int_equal(count_files("a/b", &bytes), 4);
    assert_int_equal(bytes, 24005);
    stream_stop(&s);
    assert_int_equal(s.fd, -1);
    stream_stop(&s);

    /* Started again, it appends to the current file. */
    assert_int_equal(stream_start(&s, path, "msgs", STREAM_MAX_SIZE, err, sizeof(err)), 0);
    assert_int_equal(stream_write(&s, "{}"), 0);
    assert_int_equal(count_files("a/b", &bytes), 4);
    assert_int_equal(bytes, 24008);
    stream_stop(&s);
}

static void test_stream__bad_settings_refused(void **state)
{
    struct stream s;
    char err[256], path[128];

    stream_init(&s);
    snprintf(path, sizeof(path), "%s/x", dir);
    assert_int_equal(stream_start(&s, "relative/dir", "m", 20000, err, sizeof(err)), PARLEY_EINVAL);
    assert_non_null(strstr(err, "absolute"));
    assert_int_equal(stream_start(&s, path, "../m", 20000, err, sizeof(err)), PARLEY_EINVAL);
    assert_non_null(strstr(err, "base_name"));
    assert_int_equal(stream_start(&s, path, "", 20000, err, sizeof(err)), PARLEY_EINVAL);
    assert_int_equal(stream_start(&s, path, ".hidden", 20000, err, sizeof(err)), PARLEY_EINVAL);
    assert_int_equal(stream_start(&s, path, "m", 9999, err, sizeof(err)), PARLEY_EINVAL);
    assert_non_null(strstr(err, "max_file_size"));
    assert_int_equal(stream_start(&s, path, "m", STREAM_MAX_SIZE + 1, err, sizeof(err)),
                     PARLEY_EINVAL);
    assert_int_equal(stream_start(&s, "/proc/parley-no", "m", 20000, err, sizeof(err)),
                     PARLEY_EINVAL);
    assert_int_equal(s.fd, -1);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_stream__rotates_at_the_limit, setup, teardown),
        cmocka_unit_test_setup_teardown(test_stream__bad_settings_refused, setup, teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
