/* botreq_test.c - the bot API request parser (src/bot/engine/botreq.c):
 * the requests the npm packages build parse, and every malformed one is
 * refused with a reason. */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include "bot/engine/botreq.h"

static int parse(const char *s, struct botreq *r, char *err)
{
    return botreq_parse(s, strlen(s), r, err, 256);
}

static void refused(const char *s, const char *why)
{
    struct botreq r;
    char err[256];
    assert_int_equal(parse(s, &r, err), BOTREQ_BAD_REQUEST);
    if (!strstr(err, why))
        fail_msg("refusal of %s says \"%s\", not \"%s\"", s, err, why);
    assert_null(r.doc);
}

static void test_botreq__package_requests_parse(void **state)
{
    struct botreq r;
    char err[256];
    size_t n;

    assert_int_equal(parse("{ \"action\" : \"ping\" }", &r, err), 0);
    assert_int_equal(r.action->id, BA_PING);
    botreq_release(&r);

    assert_int_equal(parse("{\"action\":\"send_message\",\"users\":[{\"name\":\"alice\"},"
                           "{\"name\":\"bob\"}],\"message\":\"hi\",\"ttl\":\"60\",\"bor\":5}",
                           &r, err),
                     0);
    assert_int_equal(r.action->id, BA_SEND_MESSAGE);
    assert_string_equal(botreq_str(&r, "message", NULL), "hi");
    assert_int_equal(botreq_int(&r, "ttl", 0), 60);
    assert_int_equal(botreq_int(&r, "bor", 0), 5);
    assert_int_equal(botreq_int(&r, "absent", -1), -1);
    const char **u = botreq_users(&r, "users", &n);
    assert_int_equal(n, 2);
    assert_string_equal(u[0], "alice");
    assert_string_equal(u[1], "bob");
    assert_null(u[2]);
    free(u);
    u = botreq_users(&r, "masters", &n);
    assert_int_equal(n, 0);
    free(u);
    botreq_release(&r);

    /* Nested fields of add_room, and ttl as a string of seconds. */
    assert_int_equal(parse("{\"action\":\"add_room\",\"room\":{\"members\":[{\"name\":\"a\"}],"
                           "\"masters\":[],\"title\":\"T\",\"ttl\":\"7776000\"}}",
                           &r, err),
                     0);
    assert_string_equal(botreq_str(&r, "room.title", ""), "T");
    assert_int_equal(botreq_int(&r, "room.ttl", 0), 7776000);
    botreq_release(&r);

    /* The hand-built set_streaming request, a bare number included. */
    assert_int_equal(parse("{ \"action\" : \"set_streaming\", \"type\" : \"file\", "
                           "\"destination\" : \"/d\",  \"base_name\" : \"b\", "
                           "\"max_file_size\" : 1000000, \"attachments\" : \"/a\" }",
                           &r, err),
                     0);
    assert_int_equal(botreq_int(&r, "max_file_size", 0), 1000000);
    botreq_release(&r);

    assert_int_equal(parse("{\"action\":\"delete_message\",\"vgroupid\":\"S1\",\"message_id\":"
                           "\"m\",\"do_recall\":\"true\"}",
                           &r, err),
                     0);
    assert_true(botreq_bool(&r, "do_recall", false));
    botreq_release(&r);

    /* The misspelt action is matched as the packages spell it. */
    assert_int_equal(parse("{\"action\":\"get_verfication_list\",\"mode\":\"all\"}", &r, err), 0);
    assert_int_equal(r.action->id, BA_VERIFICATION);
    botreq_release(&r);
}

static void test_botreq__bad_requests_refused(void **state)
{
    struct botreq r;
    char err[256];

    refused("", "not valid JSON");
    refused("{\"action\":\"ping\"", "not valid JSON");
    refused("[\"ping\"]", "not a JSON object");
    refused("{}", "no \"action\"");
    refused("{\"action\":7}", "no \"action\"");
    refused("{\"action\":\"launch\"}", "unknown action \"launch\"");
    refused("{\"action\":\"\\u0001x\"}", "(unprintable)");
    refused("{\"action\":\"ping\",\"action\":\"ping\"}", "not valid JSON");
    refused("{\"action\":\"get_room\"}", "field \"vgroupid\" is required");
    refused("{\"action\":\"get_room\",\"vgroupid\":5}", "\"vgroupid\" must be a string");
    refused("{\"action\":\"send_message\",\"users\":\"alice\",\"message\":\"m\"}",
            "list of {\"name\": string}");
    refused("{\"action\":\"send_message\",\"users\":[{\"name\":\"\"}],\"message\":\"m\"}",
            "list of {\"name\": string}");
    /* NUL inside strings never gets past the JSON parser. */
    refused("{\"action\":\"send_message\",\"users\":[{\"name\":\"a\\u0000b\"}],\"message\":\"m\"}",
            "not valid JSON");
    refused("{\"action\":\"send_message\",\"users\":[{\"name\":\"a\"}],\"ttl\":\"soon\"}",
            "\"ttl\" must be an integer");
    refused("{\"action\":\"add_room\",\"room\":{}}", "\"room.members\" is required");
    refused("{\"action\":\"add_room\",\"room\":[]}", "\"room\" must be an object");
    refused("{\"action\":\"delete_message\",\"vgroupid\":\"S\",\"message_id\":\"m\","
            "\"do_recall\":\"yes\"}",
            "\"do_recall\" must be a boolean");
    /* A hand-built request with an unescaped quote in a value. */
    refused("{ \"action\" : \"set_control\", \"k\" : \"a\"b\" }", "not valid JSON");

    /* Over the size limit, refused before parsing. */
    size_t big = BOTREQ_MAX_FRAME + 1;
    char *s = malloc(big);
    memset(s, ' ', big);
    assert_int_equal(botreq_parse(s, big, &r, err, sizeof(err)), BOTREQ_BAD_REQUEST);
    assert_non_null(strstr(err, "over the limit"));
    free(s);
}

static void test_botreq__table_and_reply(void **state)
{
    /* Every action name is unique and every row has a handler id. */
    for (size_t i = 0; i < botreq_action_count; i++) {
        assert_true(botreq_actions[i].id > 0);
        for (size_t j = i + 1; j < botreq_action_count; j++)
            assert_string_not_equal(botreq_actions[i].name, botreq_actions[j].name);
    }
    char *s = botreq_reply(BOTREQ_OK, "{\"a\":1}");
    assert_string_equal(s, "0:{\"a\":1}");
    free(s);
    s = botreq_reply(BOTREQ_UNSUPPORTED, NULL);
    assert_string_equal(s, "501:");
    free(s);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_botreq__package_requests_parse),
        cmocka_unit_test(test_botreq__bad_requests_refused),
        cmocka_unit_test(test_botreq__table_and_reply),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
