/* msgtypes_test.c - the payload table: every message type encodes and
 * decodes, and a payload missing a required field or with a mistyped one
 * is refused. */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include "client/msgtypes.h"

/* A valid example of every type in the table. */
static const struct {
    int type;
    const char *json;
} examples[] = {
    {1000, "{\"msgtype\":1000,\"message\":\"hello\"}"},
    {1000, "{\"msgtype\":1000,\"message\":\"see https://a.example\","
           "\"links\":[{\"url\":\"https://a.example\"}]}"},
    {3000, "{\"msgtype\":3000,\"keyverify\":{\"msgtype\":3,\"verifiedkey\":\"00ab\"}}"},
    {4001, "{\"msgtype\":4001,\"control\":{\"members\":[\"a\",\"b\"],\"masters\":[\"a\"],"
           "\"title\":\"Ops\",\"description\":\"\",\"ttl\":2592000,\"bor\":0,"
           "\"changemask\":47}}"},
    {4002, "{\"msgtype\":4002,\"control\":{\"addedusers\":[],\"deletedusers\":[\"c\"]}}"},
    {4003, "{\"msgtype\":4003}"},
    {4004, "{\"msgtype\":4004,\"control\":{\"changemask\":4,\"title\":\"New\"}}"},
    {4005, "{\"msgtype\":4005}"},
    {4011, "{\"msgtype\":4011,\"control\":{\"msgid\":\"4ab537d0f85d11e88c2225680208f9ff\","
           "\"isrecall\":true}}"},
    {4012, "{\"msgtype\":4012,\"control\":{\"attributes\":[{\"isstarred\":true,"
           "\"msgid\":\"93cf\"}]}}"},
    {4013, "{\"msgtype\":4013}"},
    {4014, "{\"msgtype\":4014,\"control\":{\"pinned\":true}}"},
    {6000, "{\"msgtype\":6000,\"file\":{\"filename\":\"a.gif\",\"guid\":\"b307\"}}"},
    {7000, "{\"msgtype\":7000,\"call\":{\"status\":1,\"duration\":38}}"},
    {8000, "{\"msgtype\":8000,\"location\":{\"latitude\":40.75,\"longitude\":-74.99}}"},
    {9000, "{\"msgtype\":9000,\"edit\":{\"type\":\"text\",\"originalmessageid\":\"1145\","
           "\"text\":\"fixed\"}}"},
};

static void test_msgtypes__every_type_round_trips(void **state)
{
    bool covered[64] = {false};
    for (size_t i = 0; i < sizeof(examples) / sizeof(examples[0]); i++) {
        json_t *obj;
        int mt;
        char err[256], *enc;
        size_t len;
        assert_int_equal(msgtype_decode((const uint8_t *)examples[i].json, strlen(examples[i].json),
                                        &obj, &mt, err, sizeof(err)),
                         0);
        assert_int_equal(mt, examples[i].type);
        assert_int_equal(msgtype_encode(obj, &enc, &len), 0);
        json_t *again;
        assert_int_equal(msgtype_decode((const uint8_t *)enc, len, &again, &mt, err, sizeof(err)),
                         0);
        assert_true(json_equal(obj, again));
        assert_int_equal(parley_payload_check(enc, NULL, 0), 0);
        free(enc);
        json_decref(obj);
        json_decref(again);
        for (size_t t = 0; t < msgtype_count; t++)
            if (msgtype_table[t].type == examples[i].type)
                covered[t] = true;
    }
    for (size_t t = 0; t < msgtype_count; t++) {
        if (!covered[t])
            fail_msg("msgtype %d has no example", msgtype_table[t].type);
        assert_non_null(parley_msgtype_name(msgtype_table[t].type));
    }
}

static void test_msgtypes__refuses_bad_payloads(void **state)
{
    static const char *bad[] = {
        "[]",
        "{}",
        "{\"msgtype\":\"1000\",\"message\":\"x\"}",
        "{\"msgtype\":1000}",
        "{\"msgtype\":1000,\"message\":5}",
        "{\"msgtype\":1000,\"message\":\"x\",\"links\":[5]}",
        "{\"msgtype\":1000,\"message\":\"x\",\"message\":\"y\"}",
        "{\"msgtype\":1234}",
        "{\"msgtype\":4011,\"control\":{\"msgid\":\"x\"}}",
        "{\"msgtype\":4011,\"control\":{\"msgid\":\"x\",\"isrecall\":1}}",
        "{\"msgtype\":8000,\"location\":{\"latitude\":\"north\",\"longitude\":1}}",
        "{\"msgtype\":9000,\"edit\":[]}",
        "{\"msgtype\":6000}",
        "{\"msgtype\":4294968296,\"message\":\"x\"}",
        "not json",
    };
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        char err[256] = "";
        assert_int_equal(parley_payload_check(bad[i], err, sizeof(err)), PARLEY_EPROTO);
        assert_true(err[0] != '\0');
    }
    assert_null(parley_msgtype_name(1));
    assert_string_equal(parley_msgtype_name(1000), "text");
    assert_string_equal(parley_msgtype_name(4011), "delete_message");
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_msgtypes__every_type_round_trips),
        cmocka_unit_test(test_msgtypes__refuses_bad_payloads),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
