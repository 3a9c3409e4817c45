/* api_client_util_test.c - request bodies checked against the client API's
 * field tables: every kind of field, and messages that name the field. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <cmocka.h>

#include "server/api_client_util.h"

#define ID_A "00112233445566778899aabbccddeeff"
#define ID_B "ffeeddccbbaa99887766554433221100"

static int parse(enum api_body_kind k, const char *body, struct api_body *b, char *err)
{
    err[0] = 0;
    return api_body_parse(body, strlen(body), api_body_fields[k], api_body_nfields[k], b, err, 256);
}

static void test_api_client_util__valid_bodies_fill_values(void **state)
{
    struct api_body b;
    char err[256];
    (void)state;

    assert_int_equal(parse(API_BODY_LOGIN,
                           "{\"network_id\":\"n\",\"username\":\"alice\",\"login_secret\":\"s\"}",
                           &b, err),
                     0);
    assert_string_equal(b.v[1].s, "alice");
    assert_false(b.v[3].present);
    api_body_release(&b);

    assert_int_equal(parse(API_BODY_BUNDLE, "{\"bundle\":\"Zm9v\",\"extra\":1}", &b, err), 0);
    assert_int_equal(b.v[0].binlen, 3);
    assert_memory_equal(b.v[0].bin, "foo", 3);
    api_body_release(&b);

    assert_int_equal(parse(API_BODY_CLAIM, "{\"devices\":[\"" ID_A "\",\"" ID_B "\"]}", &b, err),
                     0);
    assert_int_equal(b.v[0].n_ids, 2);
    assert_int_equal(b.v[0].ids[1][0], 0xff);
    api_body_release(&b);

    assert_int_equal(parse(API_BODY_CONV_CREATE,
                           "{\"type\":\"room\",\"conv_id\":\"" ID_B "\",\"expiration\":60}", &b,
                           err),
                     0);
    assert_int_equal(b.v[5].i, 60);
    assert_int_equal(b.v[2].id[0], 0xff);
    api_body_release(&b);
}

static void test_api_client_util__refusals_name_the_field(void **state)
{
    static const struct {
        enum api_body_kind kind;
        const char *body, *field;
    } cases[] = {
        {API_BODY_LOGIN, "[1]", "JSON object"},
        {API_BODY_LOGIN, "{\"network_id\":\"n\"", "JSON object"},
        {API_BODY_LOGIN, "{\"network_id\":\"n\",\"username\":\"a\"}", "login_secret"},
        {API_BODY_LOGIN, "{\"network_id\":\"\",\"username\":\"a\",\"login_secret\":\"s\"}",
         "network_id"},
        {API_BODY_LOGIN, "{\"network_id\":5,\"username\":\"a\",\"login_secret\":\"s\"}",
         "network_id"},
        {API_BODY_BUNDLE, "{\"bundle\":\"Zm9\"}", "bundle"},
        {API_BODY_BUNDLE, "{\"bundle\":\"\"}", "bundle"},
        {API_BODY_CLAIM, "{\"devices\":\"" ID_A "\"}", "devices"},
        {API_BODY_CLAIM, "{\"devices\":[\"" ID_A "\",\"" ID_A "\"]}", "devices"},
        {API_BODY_CLAIM, "{\"devices\":[\"00112233445566778899AABBCCDDEEFF\"]}", "devices"},
        {API_BODY_CLAIM, "{\"devices\":[\"0011\"]}", "devices"},
        {API_BODY_CONV_CREATE, "{\"type\":\"room\",\"expiration\":-1}", "expiration"},
        {API_BODY_CONV_CREATE, "{\"type\":\"room\",\"burn_on_read\":1.5}", "burn_on_read"},
        {API_BODY_CONV_CREATE, "{\"type\":\"direct\",\"peer\":\"xyz\"}", "peer"},
        {API_BODY_DEVICE, "{\"cert\":\"Zm9v\",\"bundle\":\"Zm9v\",\"name\":[]}", "name"},
        {API_BODY_LOGIN, "{\"network_id\":\"a\\u0000b\",\"username\":\"a\",\"login_secret\":\"s\"}",
         "u0000"}, /* jansson refuses NUL in strings */
    };
    struct api_body b;
    char err[256];
    (void)state;

    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        assert_int_equal(parse(cases[i].kind, cases[i].body, &b, err), PARLEY_EINVAL);
        if (!strstr(err, cases[i].field))
            fail_msg("case %zu: '%s' does not name '%s'", i, err, cases[i].field);
        api_body_release(&b);
    }
}

static void test_api_client_util__list_caps(void **state)
{
    struct buf body = BUF_INIT(SIZE_MAX);
    struct api_body b;
    char err[256];
    (void)state;

    buf_append_str(&body, "{\"devices\":[");
    for (int i = 0; i < 1001; i++)
        buf_printf(&body, "%s\"%032x\"", i ? "," : "", i);
    buf_append_str(&body, "]}");
    assert_int_equal(api_body_parse(body.data, body.len, api_body_fields[API_BODY_CLAIM],
                                    api_body_nfields[API_BODY_CLAIM], &b, err, sizeof(err)),
                     PARLEY_EINVAL);
    assert_non_null(strstr(err, "at most 1000"));
    api_body_release(&b);
    buf_release(&body);
}

/* Every body kind has a table: a kind whose entry was left out of either
 * array would accept any body and fill nothing. */
static void test_api_client_util__every_kind_has_fields(void **state)
{
    (void)state;
    for (int k = 0; k < API_BODY_COUNT; k++) {
        assert_non_null(api_body_fields[k]);
        assert_true(api_body_nfields[k] > 0);
        assert_true(api_body_nfields[k] <= API_MAX_FIELDS);
        for (size_t i = 0; i < api_body_nfields[k]; i++)
            assert_non_null(api_body_fields[k][i].name);
    }
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_api_client_util__valid_bodies_fill_values),
        cmocka_unit_test(test_api_client_util__refusals_name_the_field),
        cmocka_unit_test(test_api_client_util__list_caps),
        cmocka_unit_test(test_api_client_util__every_kind_has_fields),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
