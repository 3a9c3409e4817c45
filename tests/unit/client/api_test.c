/* api_test.c - the parsers of the server's JSON answers: good answers
 * parse, and every malformed field is refused rather than trusted. */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include "client/api.h"

#define UID "00112233445566778899aabbccddeeff"
#define DID "ffeeddccbbaa99887766554433221100"

static json_t *parse(const char *s)
{
    json_t *j = NULL;
    assert_int_equal(api_parse(s, strlen(s), &j), 0);
    return j;
}

static void test_api__base64_is_strict(void **state)
{
    uint8_t *p;
    size_t n;
    assert_int_equal(api_b64_decode("aGVsbG8=", 100, &p, &n), 0);
    assert_int_equal(n, 5);
    assert_memory_equal(p, "hello", 5);
    free(p);
    assert_int_equal(api_b64_decode("", 100, &p, &n), 0);
    assert_int_equal(n, 0);
    free(p);
    assert_int_equal(api_b64_decode("aGVsbG8", 100, &p, &n), PARLEY_EPROTO);
    assert_int_equal(api_b64_decode("aGV sbG8", 100, &p, &n), PARLEY_EPROTO);
    assert_int_equal(api_b64_decode("aGVs\nbG8=", 100, &p, &n), PARLEY_EPROTO);
    assert_int_equal(api_b64_decode("aGVsbG8=", 4, &p, &n), PARLEY_EPROTO);
    assert_int_equal(api_b64_decode("a=Vs", 100, &p, &n), PARLEY_EPROTO);
    char *e = api_b64_encode((const uint8_t *)"hello", 5);
    assert_string_equal(e, "aGVsbG8=");
    free(e);
}

static void test_api__login(void **state)
{
    struct api_login l;
    json_t *j = parse("{\"token\":\"tok\",\"user_id\":\"" UID "\",\"status\":\"pending\","
                      "\"identity_key\":null,\"identity_backup\":null}");
    assert_int_equal(api_login_parse(j, &l), 0);
    assert_string_equal(l.token, "tok");
    assert_int_equal(l.user_id[1], 0x11);
    assert_null(l.identity_key);
    api_login_release(&l);
    json_decref(j);

    j = parse("{\"token\":\"t\",\"user_id\":\"" UID "\",\"status\":\"active\","
              "\"identity_key\":\"AAEC\",\"identity_backup\":\"AwQF\"}");
    assert_int_equal(api_login_parse(j, &l), 0);
    assert_int_equal(l.identity_key_len, 3);
    assert_int_equal(l.identity_backup[2], 5);
    api_login_release(&l);
    json_decref(j);

    static const char *bad[] = {
        "{\"user_id\":\"" UID "\",\"status\":\"a\"}",
        "{\"token\":\"t\",\"user_id\":\"0011\",\"status\":\"a\"}",
        "{\"token\":\"t\",\"user_id\":\"zz112233445566778899aabbccddeeff\",\"status\":\"a\"}",
        "{\"token\":5,\"user_id\":\"" UID "\",\"status\":\"a\"}",
        /* a key without its backup */
        "{\"token\":\"t\",\"user_id\":\"" UID "\",\"status\":\"a\",\"identity_key\":\"AAEC\"}",
        "[]",
    };
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        j = parse(bad[i]);
        assert_int_equal(api_login_parse(j, &l), PARLEY_EPROTO);
        json_decref(j);
    }
}

static void test_api__user_and_claim(void **state)
{
    struct api_user u;
    json_t *j = parse("{\"user_id\":\"" UID "\",\"username\":\"bob\",\"status\":\"active\","
                      "\"identity_key\":\"AAEC\",\"devices\":[{\"device_id\":\"" DID "\","
                      "\"cert\":\"AwQF\"}]}");
    assert_int_equal(api_user_parse(j, &u), 0);
    assert_string_equal(u.username, "bob");
    assert_int_equal(u.n_devices, 1);
    assert_int_equal(u.devices[0].device_id[0], 0xff);
    assert_int_equal(u.devices[0].cert_len, 3);
    api_user_release(&u);
    json_decref(j);

    j = parse("{\"user_id\":\"" UID "\",\"username\":\"bob\",\"status\":\"active\","
              "\"devices\":[{\"device_id\":\"" DID "\"}]}");
    assert_int_equal(api_user_parse(j, &u), PARLEY_EPROTO);
    json_decref(j);

    struct api_bundle *b;
    size_t n;
    j = parse("{\"bundles\":[{\"device_id\":\"" DID "\",\"bundle\":\"AAEC\"}]}");
    assert_int_equal(api_claim_parse(j, &b, &n), 0);
    assert_int_equal(n, 1);
    assert_int_equal(b[0].len, 3);
    api_bundles_free(b, n);
    json_decref(j);
    j = parse("{\"bundles\":[{\"device_id\":\"" DID "\",\"bundle\":7}]}");
    assert_int_equal(api_claim_parse(j, &b, &n), PARLEY_EPROTO);
    json_decref(j);
    j = parse("{\"bundles\":{}}");
    assert_int_equal(api_claim_parse(j, &b, &n), PARLEY_EPROTO);
    json_decref(j);
}

static void test_api__conversation(void **state)
{
    struct api_conv c;
    json_t *j = parse("{\"conv_id\":\"" UID "\",\"vgroupid\":\"S\",\"type\":\"room\","
                      "\"members\":[{\"user_id\":\"" DID "\",\"role\":\"moderator\"},"
                      "{\"user_id\":\"" UID "\",\"role\":\"member\"}],"
                      "\"expiration\":86400,\"burn_on_read\":0,\"created_at\":1}");
    assert_int_equal(api_conv_parse(j, &c), 0);
    assert_string_equal(c.type, "room");
    assert_int_equal(c.n_members, 2);
    assert_true(c.members[0].is_moderator);
    assert_false(c.members[1].is_moderator);
    assert_int_equal(c.expiration, 86400);
    api_conv_release(&c);
    json_decref(j);
    j = parse("{\"conv_id\":\"" UID "\",\"type\":\"room\",\"members\":[],\"expiration\":-1}");
    assert_int_equal(api_conv_parse(j, &c), PARLEY_EPROTO);
    json_decref(j);
    assert_int_equal(api_status_error(200, NULL), 0);
    assert_int_equal(api_status_error(401, NULL), PARLEY_EAUTH);
    assert_int_equal(api_status_error(409, NULL), PARLEY_ECONFLICT);
    assert_int_equal(api_status_error(500, NULL), PARLEY_EIO);
    json_t *dup = NULL;
    assert_int_equal(api_parse("{\"a\":1,\"a\":2}", 13, &dup), PARLEY_EPROTO);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_api__base64_is_strict),
        cmocka_unit_test(test_api__login),
        cmocka_unit_test(test_api__user_and_claim),
        cmocka_unit_test(test_api__conversation),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
