/* admin_csv_test.c - the CSV reader of bulk user operations (RFC 4180
 * quoting, line ends, caps, errors naming the row) and the logo check. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <cmocka.h>

#include "server/admin_csv.h"
#include "server/logo.h"

struct got {
    char text[1024];
    size_t rows;
};

static int collect(void *arg, size_t row, char **fields, size_t n)
{
    struct got *g = arg;
    size_t len = strlen(g->text);
    snprintf(g->text + len, sizeof(g->text) - len, "%zu:", row);
    for (size_t i = 0; i < n; i++) {
        len = strlen(g->text);
        snprintf(g->text + len, sizeof(g->text) - len, "[%s]", fields[i]);
    }
    len = strlen(g->text);
    snprintf(g->text + len, sizeof(g->text) - len, ";");
    g->rows++;
    return 0;
}

static int parse(const char *csv, struct got *g, char *err, size_t errlen)
{
    memset(g, 0, sizeof(*g));
    return admin_csv_parse(csv, strlen(csv), collect, g, err, errlen);
}

static void test_admin_csv__rfc4180_records(void **state)
{
    struct got g;
    char err[128];
    (void)state;
    assert_int_equal(parse("username\r\nalice\r\nbob", &g, err, sizeof(err)), 0);
    assert_string_equal(g.text, "1:[username];2:[alice];3:[bob];");
    assert_int_equal(parse("\xEF\xBB\xBF"
                           "a,b\n\n\"x,y\",\"say \"\"hi\"\"\"\n\"multi\nline\",\n",
                           &g, err, sizeof(err)),
                     0);
    assert_string_equal(g.text, "1:[a][b];2:[x,y][say \"hi\"];3:[multi\nline][];");
    assert_int_equal(parse("a\rb\r\n", &g, err, sizeof(err)), 0);
    assert_string_equal(g.text, "1:[a\rb];");
    assert_int_equal(parse("", &g, err, sizeof(err)), 0);
    assert_int_equal(g.rows, 0);
}

static void test_admin_csv__errors_name_the_row(void **state)
{
    struct got g;
    char err[128], big[ADMIN_CSV_MAX_FIELD + 16], many[ADMIN_CSV_MAX_FIELDS * 2 + 8];
    (void)state;
    assert_int_equal(parse("u\n\"open", &g, err, sizeof(err)), PARLEY_EINVAL);
    assert_non_null(strstr(err, "row 2"));
    assert_int_equal(parse("u\nab\"c\n", &g, err, sizeof(err)), PARLEY_EINVAL);
    assert_non_null(strstr(err, "row 2"));
    assert_int_equal(parse("u\n\"ab\"c\n", &g, err, sizeof(err)), PARLEY_EINVAL);
    assert_int_equal(admin_csv_parse("u\na\0b\n", 7, collect, &g, err, sizeof(err)), PARLEY_EINVAL);
    assert_non_null(strstr(err, "NUL"));
    memset(big, 'x', sizeof(big) - 1);
    big[sizeof(big) - 1] = 0;
    assert_int_equal(parse(big, &g, err, sizeof(err)), PARLEY_EINVAL);
    assert_non_null(strstr(err, "over"));
    memset(many, ',', sizeof(many) - 1);
    many[sizeof(many) - 1] = 0;
    assert_int_equal(parse(many, &g, err, sizeof(err)), PARLEY_EINVAL);
    assert_non_null(strstr(err, "fields"));
}

static void test_admin_csv__unguard(void **state)
{
    char a[] = "'-dash", b[] = "  alice\t", c[] = "'plain", d[] = "'";
    (void)state;
    assert_string_equal(admin_csv_unguard(a), "-dash");
    assert_string_equal(admin_csv_unguard(b), "alice");
    assert_string_equal(admin_csv_unguard(c), "'plain");
    assert_string_equal(admin_csv_unguard(d), "'");
}

static void test_logo__png_jpeg_and_refusals(void **state)
{
    static const uint8_t png[] = {0x89, 'P', 'N', 'G', '\r', '\n', 0x1a, '\n', 0,  0, 0,
                                  13,   'I', 'H', 'D', 'R',  0,    0,    0,    16, 0, 0,
                                  0,    9,   8,   2,   0,    0,    0,    0,    0,  0, 0};
    static const uint8_t jpg[] = {0xFF, 0xD8, 0xFF, 0xE0, 0x00, 0x04, 0x00, 0x00,
                                  0xFF, 0xC2, 0x00, 0x0B, 0x08, 0x00, 0x03, 0x00,
                                  0x02, 0x01, 0x01, 0x11, 0x00, 0xFF, 0xD9};
    static const uint8_t scan_first[] = {0xFF, 0xD8, 0xFF, 0xDA, 0x00, 0x02, 0xFF, 0xD9};
    uint8_t wide[sizeof(png)];
    const char *type;
    unsigned w, h;
    char err[128];
    (void)state;
    assert_int_equal(logo_check(png, sizeof(png), &type, &w, &h, err, sizeof(err)), 0);
    assert_string_equal(type, "image/png");
    assert_true(w == 16 && h == 9);
    assert_int_equal(logo_check(jpg, sizeof(jpg), &type, &w, &h, err, sizeof(err)), 0);
    assert_string_equal(type, "image/jpeg");
    assert_true(w == 2 && h == 3);
    memcpy(wide, png, sizeof(png));
    wide[18] = 0x10; /* width 1 MiB */
    assert_int_equal(logo_check(wide, sizeof(wide), &type, &w, &h, err, sizeof(err)),
                     PARLEY_EINVAL);
    assert_non_null(strstr(err, "pixels"));
    assert_int_equal(logo_check(scan_first, sizeof(scan_first), &type, &w, &h, err, sizeof(err)),
                     PARLEY_EINVAL);
    assert_int_equal(logo_check((const uint8_t *)"<svg/>", 6, &type, &w, &h, err, sizeof(err)),
                     PARLEY_EINVAL);
    assert_non_null(strstr(err, "PNG or JPEG"));
    assert_int_equal(logo_check(png, 0, &type, &w, &h, err, sizeof(err)), PARLEY_EINVAL);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_admin_csv__rfc4180_records),
        cmocka_unit_test(test_admin_csv__errors_name_the_row),
        cmocka_unit_test(test_admin_csv__unguard),
        cmocka_unit_test(test_logo__png_jpeg_and_refusals),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
