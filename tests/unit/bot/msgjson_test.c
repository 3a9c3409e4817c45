/* msgjson_test.c - the message JSON pushed to bots
 * (src/bot/engine/msgjson.c): the fields the npm packages read. */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <jansson.h>

#include "bot/engine/msgjson.h"

static void event(struct parley_event *ev, const char *body)
{
    memset(ev, 0, sizeof(*ev));
    ev->type = PARLEY_EVENT_MESSAGE;
    memcpy(ev->msg_id, "0123456789abcdef0123456789abcdef", PARLEY_ID_HEX);
    memcpy(ev->conv_id, "4123456789abcdef0123456789abcdef", PARLEY_ID_HEX);
    memcpy(ev->sender, "00112233445566778899aabbccddeeff", PARLEY_ID_HEX);
    ev->sender_name = "alice";
    ev->msgtype = 1000;
    ev->ts_ms = 1700000000123;
    ev->body = body;
}

static json_t *build(const struct parley_event *ev, const char *vg, const char *receiver)
{
    char *s = msgjson_build(ev, vg, receiver);
    assert_non_null(s);
    json_t *j = json_loads(s, 0, NULL);
    assert_non_null(j);
    free(s);
    return j;
}

static const char *str(json_t *j, const char *k)
{
    json_t *v = json_object_get(j, k);
    assert_true(json_is_string(v));
    return json_string_value(v);
}

static void test_msgjson__text_in_a_direct_conversation(void **state)
{
    struct parley_event ev;
    event(&ev, "{\"msgtype\":1000,\"message\":\"/echo hi\"}");
    json_t *j = build(&ev, "abcd", "hellobot");
    assert_string_equal(str(j, "message"), "/echo hi");
    assert_string_equal(str(j, "message_id"), ev.msg_id);
    assert_string_equal(str(j, "msg_ts"), "1700000000.123000");
    assert_string_equal(str(j, "time_iso"), "2023-11-14 22:13:20.123");
    assert_int_equal(json_integer_value(json_object_get(j, "msgtype")), 1000);
    assert_string_equal(str(j, "sender"), "alice");
    assert_string_equal(str(j, "sender_type"), "normal");
    assert_string_equal(str(j, "receiver"), "hellobot");
    assert_string_equal(str(j, "vgroupid"), "abcd");
    assert_non_null(strstr(str(j, "time"), "2023"));
    assert_null(json_object_get(j, "ttl"));
    assert_null(json_object_get(j, "bor"));
    json_decref(j);
}

static void test_msgjson__room_control_and_expiry(void **state)
{
    struct parley_event ev;
    event(&ev, "{\"msgtype\":4002,\"control\":{\"addedusers\":[\"bob\"],\"deletedusers\":[]},"
               "\"vgroupid\":\"forged\",\"sender\":\"forged\"}");
    ev.msgtype = 4002;
    ev.sender_name = NULL;
    ev.expires_at = 1700086400;
    json_t *j = build(&ev, "Sroom", NULL);
    /* The envelope's fields win over a payload's claims. */
    assert_string_equal(str(j, "vgroupid"), "Sroom");
    assert_string_equal(str(j, "sender"), ev.sender);
    assert_null(json_object_get(j, "receiver"));
    assert_true(json_is_object(json_object_get(j, "control")));
    assert_non_null(strstr(str(j, "ttl"), "2023"));
    json_decref(j);

    ev.burn_on_read = 1;
    j = build(&ev, "Sroom", NULL);
    assert_null(json_object_get(j, "ttl"));
    assert_non_null(json_object_get(j, "bor"));
    json_decref(j);
}

static void test_msgjson__not_an_object(void **state)
{
    struct parley_event ev;
    static const char *bad[] = {"[1]", "\"text\"", "{", "", NULL};
    for (size_t i = 0; i < 5; i++) {
        event(&ev, bad[i]);
        assert_null(msgjson_build(&ev, "v", NULL));
    }
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_msgjson__text_in_a_direct_conversation),
        cmocka_unit_test(test_msgjson__room_control_and_expiry),
        cmocka_unit_test(test_msgjson__not_an_object),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
