/* rformat_test.c - retention lines against the specification's examples
 * (Appendix B): the same messages, sent through our payloads, come out
 * with the fields and value formats shown there, and every line passes
 * the independent checker (tests/helpers/retention_check.c). */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <jansson.h>

#include "bot/rformat.h"
#include "retention_check.h"

#define ID  "a526085032fa11ee9a74053bb1017859"
#define VGD "7ad65d17b945d7672190ecab6902fdd06eff162b91adfcda23df3b2ff95875e8"
#define VGS "S19a8782d9a0441d5e13f15b6789f00bc2f9b8231aa364a2eb3a8269dce2ac21"
#define U1  "00000000000000000000000000000001"
#define U2  "00000000000000000000000000000002"

static int names(void *arg, const char *id, char **out)
{
    (void)arg;
    if (strcmp(id, U1) == 0)
        *out = strdup("user001");
    else if (strcmp(id, U2) == 0)
        *out = strdup("user002");
    else
        return PARLEY_ENOTFOUND;
    return 0;
}

/* Format and check; returns the parsed line (json_decref). */
static json_t *fmt(const struct rformat_msg *m)
{
    struct buf b = BUF_INIT(RFORMAT_MAX_LINE);
    char err[256];
    assert_int_equal(rformat_line(m, names, NULL, &b), 0);
    assert_true(b.len > 2 && b.data[b.len - 1] == '\n');
    b.data[b.len - 1] = '\0';
    if (retention_check_line((const char *)b.data, err, sizeof(err)) != 0)
        fail_msg("%s: %s", err, (const char *)b.data);
    json_t *o = json_loads((const char *)b.data, 0, NULL);
    assert_non_null(o);
    buf_release(&b);
    return o;
}

static const char *s(json_t *o, const char *k)
{
    return json_string_value(json_object_get(o, k));
}

/* Appendix B, "Text message" in a DM: every field and value. */
static void test_rformat__text_dm_matches_appendix(void **state)
{
    struct rformat_msg m = {
        .msg_id = ID,
        .vgroupid = VGD,
        .sender = "dr002@ent-beta.secmv.net",
        .receiver = "dr001@ent-beta.secmv.net",
        .ts_ms = 1691176258901,
        .expires_at = 1691176258 + 30 * 86400,
        .payload = "{\"msgtype\":1000,\"message\":\"test message\"}",
    };
    struct buf b = BUF_INIT(RFORMAT_MAX_LINE);
    (void)state;
    assert_int_equal(rformat_line(&m, names, NULL, &b), 0);
    assert_string_equal((const char *)b.data,
                        "{\"id\":\"" ID "\",\"message\":\"test message\",\"message_id\":\"" ID
                        "\",\"msg_ts\":\"1691176258.901000\",\"msgtype\":1000,"
                        "\"receiver\":\"dr001@ent-beta.secmv.net\","
                        "\"sender\":\"dr002@ent-beta.secmv.net\",\"sender_type\":\"normal\","
                        "\"time\":\"8/4/23 7:10 PM\",\"time_iso\":\"2023-08-04 19:10:58.901\","
                        "\"ttl\":\"9/3/23 7:10 PM\",\"vgroupid\":\"" VGD "\"}\n");
    buf_release(&b);
}

/* Appendix B, a room message with burn-on-read: no receiver, bor a date. */
static void test_rformat__room_with_bor(void **state)
{
    struct rformat_msg m = {
        .msg_id = ID,
        .vgroupid = VGS,
        .sender = "dr002",
        .ts_ms = 1691176791781,
        .expires_at = 1691176791 + 30 * 86400,
        .burn_on_read = true,
        .bor_s = 6 * 86400,
        .payload = "{\"msgtype\":1000,\"message\":\"test message in a secure room\"}",
    };
    (void)state;
    json_t *o = fmt(&m);
    assert_string_equal(s(o, "bor"), "8/10/23 7:19 PM");
    assert_string_equal(s(o, "time"), "8/4/23 7:19 PM");
    assert_string_equal(s(o, "ttl"), "9/3/23 7:19 PM");
    assert_null(json_object_get(o, "receiver"));
    json_decref(o);
}

static void test_rformat__links_become_objects(void **state)
{
    struct rformat_msg m = {
        .msg_id = ID,
        .vgroupid = VGD,
        .sender = "a",
        .receiver = "b",
        .ts_ms = 1691176397971,
        .payload = "{\"msgtype\":1000,\"message\":\"see https://x.example/\","
                   "\"links\":[\"https://x.example/\",{\"url\":\"https://y.example/\"}]}",
    };
    (void)state;
    json_t *o = fmt(&m);
    json_t *l = json_object_get(o, "links");
    assert_int_equal(json_array_size(l), 2);
    assert_string_equal(s(json_array_get(l, 0), "url"), "https://x.example/");
    assert_string_equal(s(json_array_get(l, 1), "url"), "https://y.example/");
    assert_null(json_object_get(o, "ttl")); /* no expiry, no ttl */
    json_decref(o);
}

/* A sender cannot forge the envelope's fields through the payload. */
static void test_rformat__payload_cannot_forge_fields(void **state)
{
    struct rformat_msg m = {
        .msg_id = ID,
        .vgroupid = VGD,
        .sender = "real",
        .receiver = "b",
        .ts_ms = 1000,
        .payload = "{\"msgtype\":1000,\"message\":\"hi\",\"sender\":\"forged\",\"time\":\"x\","
                   "\"vgroupid\":\"S00\",\"control\":{\"pinned\":true},\"extra\":1}",
    };
    (void)state;
    json_t *o = fmt(&m);
    assert_string_equal(s(o, "sender"), "real");
    assert_string_equal(s(o, "vgroupid"), VGD);
    assert_null(json_object_get(o, "control"));
    assert_null(json_object_get(o, "extra"));
    json_decref(o);
}

static void test_rformat__control_messages(void **state)
{
    static const char *payloads[] = {
        "{\"msgtype\":4001,\"control\":{\"bor\":0,\"changemask\":47,\"description\":\"\","
        "\"masters\":[\"" U1 "\",\"" U2 "\"],\"members\":[\"" U1 "\",\"" U2 "\"],"
        "\"title\":\"Creating a room\",\"ttl\":2592000}}",
        "{\"msgtype\":4002,\"control\":{\"addedusers\":[],\"deletedusers\":[\"" U2 "\"]}}",
        "{\"msgtype\":4003}",
        "{\"msgtype\":4004,\"control\":{\"changemask\":64,\"filevaultinfo\":{\"guid\":\"g\","
        "\"filehash\":\"h\",\"key\":\"k\"}}}",
        "{\"msgtype\":4005}",
        "{\"msgtype\":4011,\"control\":{\"isrecall\":true,\"msgid\":\"" ID "\"}}",
        "{\"msgtype\":4012,\"control\":{\"attributes\":[{\"isstarred\":true,\"msgid\":\"" ID
        "\"}]}}",
        "{\"msgtype\":4014,\"control\":{\"pinned\":false}}",
    };
    (void)state;
    for (size_t i = 0; i < sizeof(payloads) / sizeof(payloads[0]); i++) {
        struct rformat_msg m = {
            .msg_id = ID,
            .vgroupid = VGS,
            .sender = "user002",
            .ts_ms = 1544019125753,
            .payload = payloads[i],
        };
        json_t *o = fmt(&m);
        json_t *c = json_object_get(o, "control");
        if (i == 0) {
            assert_string_equal(json_string_value(json_array_get(json_object_get(c, "members"), 0)),
                                "user001");
            assert_string_equal(json_string_value(json_array_get(json_object_get(c, "masters"), 1)),
                                "user002");
            assert_int_equal(json_integer_value(json_object_get(c, "changemask")), 47);
            assert_int_equal(json_integer_value(json_object_get(c, "msgtype")), 4001);
            assert_string_equal(s(o, "msg_ts"), "1544019125.753000");
        }
        if (i == 1)
            assert_string_equal(
                json_string_value(json_array_get(json_object_get(c, "deletedusers"), 0)),
                "user002");
        if (i == 4)
            assert_null(c); /* Appendix B: delete room carries no control */
        json_decref(o);
    }
}

static void test_rformat__file_verify_call_location_edit(void **state)
{
    static const char *payloads[] = {
        "{\"msgtype\":6000,\"file\":{\"filename\":\"claymation.gif\",\"guid\":\"b3078e72\","
        "\"localfilename\":\"/etc/passwd\"}}",
        "{\"msgtype\":3000,\"keyverify\":{\"msgtype\":3,\"verifiedkey\":\"0004\"}}",
        "{\"msgtype\":7000,\"call\":{\"status\":1,\"duration\":38,\"startmsgid\":\"" ID "\"}}",
        "{\"msgtype\":8000,\"location\":{\"latitude\":40.75017899435506,"
        "\"longitude\":-74.99449803034105}}",
        "{\"msgtype\":9000,\"edit\":{\"type\":\"location\",\"latitude\":1.5,\"longitude\":2}}",
        "{\"msgtype\":9000,\"edit\":{\"type\":\"text\",\"originalmessageid\":\"" ID "\","
        "\"text\":\"https://howdoyoudo.com\"}}",
    };
    (void)state;
    for (size_t i = 0; i < sizeof(payloads) / sizeof(payloads[0]); i++) {
        struct rformat_msg m = {
            .msg_id = ID,
            .vgroupid = VGD,
            .sender = "dr002",
            .receiver = "dr001",
            .ts_ms = 1691176544790,
            .payload = payloads[i],
            .localfilename = i == 0 ? "/srv/att/attachment_20230804191544790_claymation.gif" : NULL,
        };
        json_t *o = fmt(&m);
        if (i == 0) {
            json_t *f = json_object_get(o, "file");
            /* The bot's own path, never the sender's. */
            assert_string_equal(s(f, "localfilename"),
                                "/srv/att/attachment_20230804191544790_claymation.gif");
            assert_string_equal(s(f, "uploadedbyuser"), "dr002");
            assert_string_equal(s(f, "uploadedtimestamp"), "8/4/23 7:15 PM");
        }
        if (i == 3)
            assert_true(json_real_value(json_object_get(json_object_get(o, "location"),
                                                        "latitude")) == 40.75017899435506);
        json_decref(o);
    }
}

/* The file object of a real libparley file message carries the file key
 * and transfer details: the line keeps Appendix A's fields only. */
static void test_rformat__file_key_never_logged(void **state)
{
    struct rformat_msg m = {
        .msg_id = ID,
        .vgroupid = VGD,
        .sender = "dr002",
        .receiver = "dr001",
        .ts_ms = 1691176544790,
        .payload = "{\"msgtype\":6000,\"file\":{\"filename\":\"a.bin\",\"guid\":\"" ID "\","
                   "\"size\":5,\"isscreenshot\":true,\"isvoicememo\":false,"
                   "\"voicememoduration\":0,\"uploadedbyuser\":\"forged\","
                   "\"uploadedtimestamp\":\"2023-08-04T19:15:44Z\",\"key\":\"00112233445566778899"
                   "aabbccddeeff00112233445566778899aabbccddeeff\",\"compressed\":false}}",
        .localfilename = "/srv/att/attachment_20230804191544790_a.bin",
    };
    struct buf b = BUF_INIT(RFORMAT_MAX_LINE);
    char err[256];
    (void)state;
    assert_int_equal(rformat_line(&m, names, NULL, &b), 0);
    assert_null(strstr((const char *)b.data, "00112233445566778899"));
    b.data[b.len - 1] = 0;
    if (retention_check_line((const char *)b.data, err, sizeof(err)) != 0)
        fail_msg("%s: %s", err, (const char *)b.data);
    json_t *o = json_loads((const char *)b.data, 0, NULL);
    json_t *f = json_object_get(o, "file");
    assert_int_equal(json_object_size(f), 6);
    assert_string_equal(s(f, "filename"), "a.bin");
    assert_string_equal(s(f, "guid"), ID);
    assert_true(json_is_true(json_object_get(f, "isscreenshot")));
    assert_string_equal(s(f, "uploadedbyuser"), "dr002");
    assert_string_equal(s(f, "uploadedtimestamp"), "8/4/23 7:15 PM");
    assert_string_equal(s(f, "localfilename"), "/srv/att/attachment_20230804191544790_a.bin");
    json_decref(o);
    buf_release(&b);
}

static void test_rformat__bad_payloads(void **state)
{
    static const char *bad[] = {"",
                                "[]",
                                "{}",
                                "{\"msgtype\":\"1000\"}",
                                "{\"msgtype\":5000}",
                                "{\"msgtype\":1000,\"msgtype\":1000}",
                                "nul\0l"};
    (void)state;
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        struct rformat_msg m = {.msg_id = ID, .vgroupid = VGD, .sender = "a", .payload = bad[i]};
        struct buf b = BUF_INIT(RFORMAT_MAX_LINE);
        assert_int_equal(rformat_line(&m, names, NULL, &b), PARLEY_EPROTO);
        assert_int_equal(b.len, 0);
        buf_release(&b);
    }
}

static void test_rformat__times(void **state)
{
    char t[RFORMAT_TIME_LEN];
    (void)state;
    rformat_time(1588365684583, t); /* Appendix B location: 5/1/20 8:41 PM */
    assert_string_equal(t, "5/1/20 8:41 PM");
    rformat_time(0, t);
    assert_string_equal(t, "1/1/70 12:00 AM");
    rformat_time(43200000, t);
    assert_string_equal(t, "1/1/70 12:00 PM");
    rformat_time_iso(1691176258901, t);
    assert_string_equal(t, "2023-08-04 19:10:58.901");
}

static void test_rformat__attachment_names_stay_inside(void **state)
{
    struct buf b = BUF_INIT(1024);
    (void)state;
    assert_int_equal(rformat_attachment_name(1691176544790, "claymation.gif", &b), 0);
    assert_string_equal((const char *)b.data, "attachment_20230804191544790_claymation.gif");
    buf_reset(&b);
    assert_int_equal(rformat_attachment_name(1691176544790, "../../etc/pass wd", &b), 0);
    assert_string_equal((const char *)b.data, "attachment_20230804191544790__._.._etc_pass_wd");
    buf_reset(&b);
    assert_int_equal(rformat_attachment_name(0, "", &b), 0);
    assert_string_equal((const char *)b.data, "attachment_19700101000000000_file");
    buf_release(&b);
}

/* Coordinates as Appendix B prints them, not as a full round trip would. */
static void test_rformat__numbers_read_naturally(void **state)
{
    struct rformat_msg m = {
        .msg_id = ID,
        .vgroupid = VGD,
        .sender = "a",
        .receiver = "b",
        .ts_ms = 1588365684583,
        .payload = "{\"msgtype\":8000,\"location\":{\"latitude\":40.75017899435506,"
                   "\"longitude\":-74.989999999999995}}",
    };
    struct buf b = BUF_INIT(RFORMAT_MAX_LINE);
    (void)state;
    assert_int_equal(rformat_line(&m, names, NULL, &b), 0);
    assert_non_null(strstr((const char *)b.data,
                           "\"location\":{\"latitude\":40.75017899435506,\"longitude\":-74.99}"));
    buf_release(&b);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_rformat__text_dm_matches_appendix),
        cmocka_unit_test(test_rformat__room_with_bor),
        cmocka_unit_test(test_rformat__links_become_objects),
        cmocka_unit_test(test_rformat__payload_cannot_forge_fields),
        cmocka_unit_test(test_rformat__control_messages),
        cmocka_unit_test(test_rformat__file_verify_call_location_edit),
        cmocka_unit_test(test_rformat__bad_payloads),
        cmocka_unit_test(test_rformat__times),
        cmocka_unit_test(test_rformat__numbers_read_naturally),
        cmocka_unit_test(test_rformat__attachment_names_stay_inside),
        cmocka_unit_test(test_rformat__file_key_never_logged),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
