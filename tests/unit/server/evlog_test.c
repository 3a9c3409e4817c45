/* evlog_test.c - the event log's lines at each verbosity of the
 * specification's "Event logging" setting. */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <stdio.h>
#include <string.h>

#include "server/evlog.h"

static const struct evlog_event msg = {
    .event = "message",
    .network_id = "0a0b",
    .conv = "room",
    .ip = "192.0.2.7",
    .device_id = "d1d1",
    .platform = "linux",
    .user_id = "u1u1",
    .n_recipients = 3,
};

static char *line(enum evlog_level level, const struct evlog_event *e)
{
    static char text[512];
    struct buf b = BUF_INIT(1024);
    assert_int_equal(evlog_format(level, e, &b), 0);
    snprintf(text, sizeof(text), "%.*s", (int)b.len, (const char *)b.data);
    buf_release(&b);
    return text;
}

static void test_evlog__each_level_adds_its_fields(void **state)
{
    (void)state;
    assert_string_equal(line(EVLOG_ACTIVITY, &msg), "event=message network=0a0b conversation=room");
    assert_string_equal(line(EVLOG_IP, &msg),
                        "event=message network=0a0b conversation=room ip=192.0.2.7");
    assert_string_equal(line(EVLOG_MESSAGING, &msg),
                        "event=message network=0a0b conversation=room ip=192.0.2.7 device=d1d1 "
                        "platform=linux recipient_devices=3");
    assert_string_equal(line(EVLOG_USER_ID, &msg),
                        "event=message network=0a0b conversation=room ip=192.0.2.7 device=d1d1 "
                        "platform=linux recipient_devices=3 user=u1u1");
}

static void test_evlog__unknown_fields_left_out(void **state)
{
    struct evlog_event start = {.event = "session_start", .network_id = "0a0b"};
    (void)state;
    assert_string_equal(line(EVLOG_USER_ID, &start), "event=session_start network=0a0b");
}

static void test_evlog__level_names(void **state)
{
    (void)state;
    assert_int_equal(evlog_level_parse("activity"), EVLOG_ACTIVITY);
    assert_int_equal(evlog_level_parse("ip_address"), EVLOG_IP);
    assert_int_equal(evlog_level_parse("messaging"), EVLOG_MESSAGING);
    assert_int_equal(evlog_level_parse("username_id"), EVLOG_USER_ID);
    assert_int_equal(evlog_level_parse(NULL), EVLOG_ACTIVITY);
    assert_int_equal(evlog_level_parse("everything"), EVLOG_ACTIVITY);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_evlog__each_level_adds_its_fields),
        cmocka_unit_test(test_evlog__unknown_fields_left_out),
        cmocka_unit_test(test_evlog__level_names),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
