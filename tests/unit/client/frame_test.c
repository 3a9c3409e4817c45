/* frame_test.c - the WebSocket messages: deliveries, control messages,
 * auth and ack. */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include "client/frame.h"

#define MID "00112233445566778899aabbccddeeff"

static void test_frame__delivery(void **state)
{
    uint8_t f[20] = {0x02, 0, 0, 0, 0, 0, 0, 1, 2, 0, 0, 0, 0, 0, 0, 0, 9, 'a', 'b', 'c'};
    struct frame_delivery d;
    assert_int_equal(frame_delivery_parse(f, sizeof(f), &d), 0);
    assert_int_equal(d.seq, 0x102);
    assert_int_equal(d.ts_ms, 9);
    assert_int_equal(d.len, 3);
    assert_memory_equal(d.delivery, "abc", 3);
    assert_int_equal(frame_delivery_parse(f, 17, &d), PARLEY_EPROTO);
    f[0] = 0x01;
    assert_int_equal(frame_delivery_parse(f, sizeof(f), &d), PARLEY_EPROTO);
}

static void test_frame__control_messages(void **state)
{
    struct frame_ctl c;
    const char *ack = "{\"type\":\"ack\",\"msg_id\":\"" MID "\",\"ts\":1700000000123}";
    assert_int_equal(frame_ctl_parse(ack, strlen(ack), &c), 0);
    assert_int_equal(c.type, FRAME_CTL_ACK);
    assert_int_equal(c.ts_ms, 1700000000123LL);
    assert_int_equal(c.msg_id[15], 0xff);

    const char *nack = "{\"type\":\"nack\",\"msg_id\":\"" MID "\",\"code\":\"devices_changed\","
                       "\"message\":\"m\",\"missing\":[\"" MID "\"],\"extra\":[]}";
    assert_int_equal(frame_ctl_parse(nack, strlen(nack), &c), 0);
    assert_int_equal(c.type, FRAME_CTL_NACK);
    assert_string_equal(c.code, "devices_changed");
    assert_int_equal(c.n_missing, 1);
    assert_int_equal(c.n_extra, 0);

    const char *low = "{\"type\":\"prekeys_low\",\"remaining\":3}";
    assert_int_equal(frame_ctl_parse(low, strlen(low), &c), 0);
    assert_int_equal(c.type, FRAME_CTL_PREKEYS_LOW);
    assert_int_equal(c.remaining, 3);

    const char *typ =
        "{\"type\":\"typing\",\"conv_id\":\"" MID "\",\"user_id\":\"" MID "\",\"active\":true}";
    assert_int_equal(frame_ctl_parse(typ, strlen(typ), &c), 0);
    assert_int_equal(c.type, FRAME_CTL_TYPING);
    assert_true(c.active);
    const char *pres =
        "{\"type\":\"presence\",\"user_id\":\"" MID "\",\"status\":\"away\",\"idle_s\":30}";
    assert_int_equal(frame_ctl_parse(pres, strlen(pres), &c), 0);
    assert_string_equal(c.status, "away");
    assert_int_equal(c.idle_s, 30);
    const char *bad_typ = "{\"type\":\"typing\",\"user_id\":\"" MID "\",\"active\":1}";
    assert_int_equal(frame_ctl_parse(bad_typ, strlen(bad_typ), &c), PARLEY_EPROTO);

    const char *fut = "{\"type\":\"something_new\",\"x\":1}";
    assert_int_equal(frame_ctl_parse(fut, strlen(fut), &c), 0);
    assert_int_equal(c.type, FRAME_CTL_UNKNOWN);

    static const char *bad[] = {
        "[]",
        "{}",
        "{\"type\":1}",
        "{\"type\":\"ack\",\"msg_id\":\"00\",\"ts\":1}",
        "{\"type\":\"ack\",\"msg_id\":\"" MID "\"}",
        "{\"type\":\"nack\",\"msg_id\":\"" MID "\"}",
        "{\"type\":\"nack\",\"msg_id\":\"" MID "\",\"code\":\"x\",\"missing\":[1]}",
        "{\"type\":\"auth_ok\",\"user_id\":\"" MID "\"}",
        "{\"type\":\"ack\",\"type\":\"ack\"}",
    };
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++)
        assert_int_equal(frame_ctl_parse(bad[i], strlen(bad[i]), &c), PARLEY_EPROTO);
}

static void test_frame__auth_and_ack(void **state)
{
    struct buf b = BUF_INIT(256);
    uint64_t seq[] = {1, 18446744073709551615ULL};
    assert_int_equal(frame_auth("tok\"en", &b), 0);
    assert_string_equal((char *)b.data, "{\"type\":\"auth\",\"token\":\"tok\\\"en\"}");
    buf_reset(&b);
    assert_int_equal(frame_ack(seq, 2, &b), 0);
    assert_string_equal((char *)b.data, "{\"type\":\"ack\",\"seq\":[1,18446744073709551615]}");
    buf_release(&b);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_frame__delivery),
        cmocka_unit_test(test_frame__control_messages),
        cmocka_unit_test(test_frame__auth_and_ack),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
