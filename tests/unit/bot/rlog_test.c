/* rlog_test.c - retention log files: whole lines, rotation at the size
 * limit with the documented names, a torn last line cut on open, and the
 * ids of the last lines remembered across rotation (exactly once). */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include "bot/rlog.h"

struct fixture {
    char dir[64];
};

static int setup(void **state)
{
    struct fixture *f = calloc(1, sizeof(*f));
    snprintf(f->dir, sizeof(f->dir), "/tmp/parley-rlog-XXXXXX");
    if (!mkdtemp(f->dir))
        return -1;
    *state = f;
    return 0;
}

static int teardown(void **state)
{
    struct fixture *f = *state;
    char cmd[128];
    snprintf(cmd, sizeof(cmd), "rm -rf '%s'", f->dir);
    if (system(cmd) != 0)
        return -1;
    free(f);
    return 0;
}

static char *slurp(const char *dir, const char *name, size_t *len)
{
    char path[256];
    snprintf(path, sizeof(path), "%s/%s", dir, name);
    FILE *fp = fopen(path, "rb");
    if (!fp)
        return NULL;
    char *s = calloc(1, 1 << 20);
    *len = fread(s, 1, (1 << 20) - 1, fp);
    fclose(fp);
    return s;
}

/* A line of about `size` bytes for message number i. */
static int line(char *out, size_t outlen, int i, size_t size)
{
    char pad[2048];
    size_t n = size > 80 ? size - 80 : 1;
    memset(pad, 'x', n);
    pad[n] = '\0';
    return snprintf(out, outlen, "{\"message\":\"%s\",\"message_id\":\"%032x\",\"msgtype\":1000}\n",
                    pad, i);
}

static void id_of(char out[33], int i)
{
    snprintf(out, 33, "%032x", i);
}

static void test_rlog__appends_whole_lines(void **state)
{
    struct fixture *f = *state;
    struct rlog_config cfg = {f->dir, "receivedMessages", 1073741824, false};
    struct rlog *r;
    char l[4096], *s;
    size_t len;

    assert_int_equal(rlog_open(&cfg, &r), 0);
    for (int i = 0; i < 3; i++) {
        int n = line(l, sizeof(l), i, 100);
        assert_int_equal(rlog_append(r, l, (size_t)n), 0);
    }
    assert_false(rlog_batch_full(r));
    assert_int_equal(rlog_commit(r), 0);
    assert_int_equal(rlog_append(r, "no newline", 10), PARLEY_EINVAL);
    assert_int_equal(rlog_append(r, "two\nlines\n", 10), PARLEY_EINVAL);
    assert_int_equal(rlog_close(r), 0);
    s = slurp(f->dir, "receivedMessages.log", &len);
    assert_non_null(s);
    int lines = 0;
    for (size_t i = 0; i < len; i++)
        lines += s[i] == '\n';
    assert_int_equal(lines, 3);
    assert_int_equal(s[len - 1], '\n');
    free(s);
}

static void test_rlog__rotates_at_the_limit(void **state)
{
    struct fixture *f = *state;
    struct rlog_config cfg = {f->dir, "msgs", 10000, false};
    struct rlog *r;
    char l[4096], name[64], *s;
    size_t len, total = 0;
    int next = 0;

    assert_int_equal(rlog_open(&cfg, &r), 0);
    for (int i = 0; i < 45; i++) {
        int n = line(l, sizeof(l), i, 1000);
        assert_int_equal(rlog_append(r, l, (size_t)n), 0);
        if (i % 7 == 0)
            assert_int_equal(rlog_commit(r), 0);
    }
    assert_int_equal(rlog_close(r), 0);
    /* msgs.000001.log ... then msgs.log: every file within the limit, the
     * lines in order and each exactly once. */
    int files = 0;
    for (int k = 1;; k++) {
        snprintf(name, sizeof(name), "msgs.%06d.log", k);
        s = slurp(f->dir, name, &len);
        if (!s) {
            snprintf(name, sizeof(name), "msgs.log");
            s = slurp(f->dir, name, &len);
            assert_non_null(s);
            k = -1000;
        }
        files++;
        assert_true(len <= 10000);
        assert_true(len > 0);
        for (char *p = s; *p; p = strchr(p, '\n') + 1) {
            char want[64];
            snprintf(want, sizeof(want), "\"message_id\":\"%032x\"", next++);
            assert_non_null(strstr(p, want));
            assert_true(strstr(p, want) < strchr(p, '\n'));
        }
        total += len;
        free(s);
        if (k < 0)
            break;
    }
    assert_true(files >= 5);
    assert_int_equal(next, 45);
    assert_true(total > 45 * 900);
}

/* A crash in the middle of a write: the torn line goes, the whole ones
 * stay and are remembered, and appending continues on a line boundary. */
static void test_rlog__cuts_a_torn_line(void **state)
{
    struct fixture *f = *state;
    struct rlog_config cfg = {f->dir, "receivedMessages", 1 << 20, false};
    char path[128], l[4096], id[33], *s;
    struct rlog *r;
    size_t len;
    int fd, n;

    snprintf(path, sizeof(path), "%s/receivedMessages.log", f->dir);
    fd = open(path, O_WRONLY | O_CREAT | O_TRUNC, 0600);
    assert_true(fd >= 0);
    for (int i = 0; i < 5; i++) {
        n = line(l, sizeof(l), i, 200);
        assert_int_equal(write(fd, l, (size_t)n), n);
    }
    n = line(l, sizeof(l), 5, 200);
    assert_int_equal(write(fd, l, (size_t)n / 2), n / 2);
    close(fd);

    assert_int_equal(rlog_open(&cfg, &r), 0);
    for (int i = 0; i < 5; i++) {
        id_of(id, i);
        assert_true(rlog_seen(r, id));
    }
    id_of(id, 5);
    assert_false(rlog_seen(r, id));
    n = line(l, sizeof(l), 5, 200);
    assert_int_equal(rlog_append(r, l, (size_t)n), 0);
    assert_int_equal(rlog_close(r), 0);
    s = slurp(f->dir, "receivedMessages.log", &len);
    n = 0;
    for (char *p = s; *p; p = strchr(p, '\n') + 1) {
        char want[64];
        snprintf(want, sizeof(want), "\"message_id\":\"%032x\"", n++);
        assert_non_null(strstr(p, want));
        assert_int_equal(p[0], '{');
    }
    assert_int_equal(n, 6);
    free(s);
}

/* Ids written just before a rotation are remembered from the rotated
 * file when the new current file holds fewer lines than a batch. */
static void test_rlog__remembers_ids_across_rotation(void **state)
{
    struct fixture *f = *state;
    struct rlog_config cfg = {f->dir, "r", 20000, false};
    struct rlog *r;
    char l[4096], id[33];

    assert_int_equal(rlog_open(&cfg, &r), 0);
    for (int i = 0; i < 30; i++) {
        int n = line(l, sizeof(l), i, 1000);
        assert_int_equal(rlog_append(r, l, (size_t)n), 0);
    }
    assert_int_equal(rlog_close(r), 0);
    assert_int_equal(rlog_open(&cfg, &r), 0);
    for (int i = 0; i < 30; i++) {
        id_of(id, i);
        assert_true(rlog_seen(r, id));
    }
    id_of(id, 31);
    assert_false(rlog_seen(r, id));
    assert_false(rlog_seen(r, "not an id"));
    /* Numbering continues after the highest rotated file. */
    for (int i = 30; i < 65; i++) {
        int n = line(l, sizeof(l), i, 1000);
        assert_int_equal(rlog_append(r, l, (size_t)n), 0);
    }
    assert_int_equal(rlog_close(r), 0);
    char p[128];
    struct stat sb;
    snprintf(p, sizeof(p), "%s/r.000002.log", f->dir);
    assert_int_equal(stat(p, &sb), 0);
    snprintf(p, sizeof(p), "%s/r.000003.log", f->dir);
    assert_int_equal(stat(p, &sb), 0);
}

static void test_rlog__bad_config(void **state)
{
    struct fixture *f = *state;
    struct rlog *r;
    static const char *bad_prefixes[] = {"", ".hidden", "a/b", "a b", "..", NULL};
    (void)f;
    for (int i = 0; bad_prefixes[i]; i++) {
        struct rlog_config cfg = {f->dir, bad_prefixes[i], 1 << 20, false};
        assert_int_equal(rlog_open(&cfg, &r), PARLEY_EINVAL);
    }
    struct rlog_config small = {f->dir, "x", 9999, false};
    assert_int_equal(rlog_open(&small, &r), PARLEY_EINVAL);
    struct rlog_config nodir = {"/proc/nonexistent/dir", "x", 1 << 20, false};
    assert_int_equal(rlog_open(&nodir, &r), PARLEY_EIO);
}

static void count_id(void *arg, const char *id)
{
    (void)id;
    (*(int *)arg)++;
}

static void test_rlog__scan_skips_junk(void **state)
{
    static const char w[] = "partial\"}\n{\"id\":\"0123456789abcdef0123456789abcdef\"}\n"
                            "not json\n{\"message_id\":\"XYZ\"}\n{\"message_id\":"
                            "\"0123456789abcdef0123456789abcdee\"}\ntorn";
    size_t complete;
    int ids = 0;
    (void)state;
    assert_int_equal(rlog_scan((const uint8_t *)w, sizeof(w) - 1, false, &complete, count_id, &ids),
                     4);
    assert_int_equal(ids, 2);
    assert_int_equal(complete, sizeof(w) - 1 - 4);
    ids = 0;
    assert_int_equal(rlog_scan((const uint8_t *)w, sizeof(w) - 1, true, &complete, count_id, &ids),
                     5);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_rlog__appends_whole_lines, setup, teardown),
        cmocka_unit_test_setup_teardown(test_rlog__rotates_at_the_limit, setup, teardown),
        cmocka_unit_test_setup_teardown(test_rlog__cuts_a_torn_line, setup, teardown),
        cmocka_unit_test_setup_teardown(test_rlog__remembers_ids_across_rotation, setup, teardown),
        cmocka_unit_test_setup_teardown(test_rlog__bad_config, setup, teardown),
        cmocka_unit_test_setup_teardown(test_rlog__scan_skips_junk, setup, teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
