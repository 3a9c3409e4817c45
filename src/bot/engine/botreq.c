/* botreq.c - the action table of the ZeroMQ bot API and the parser that
 * checks a command-channel frame against it (botreq.h). Field lists follow
 * the requests wickrio_addon 7.1.x builds (docs/bots.md). */
#include "botreq.h"

#include "common/str.h"
#include "common/xmalloc.h"

#define F(n, k)                                                                                    \
    {                                                                                              \
        n, k, false                                                                                \
    }
#define FR(n, k)                                                                                   \
    {                                                                                              \
        n, k, true                                                                                 \
    }

/* clang-format off */
const struct botreq_action botreq_actions[] = {
    {"ping", BA_PING, {{NULL, 0, false}}},
    {"get_state", BA_GET_STATE, {{NULL, 0, false}}},
    {"start_async_messages", BA_START_ASYNC, {{NULL, 0, false}}},
    {"set_streaming", BA_SET_STREAMING, {FR("type", BR_STRING), F("destination", BR_STRING),
        F("base_name", BR_STRING), F("max_file_size", BR_INT), F("attachments", BR_STRING)}},
    {"post_event", BA_POST_EVENT, {F("event", BR_STRING)}},
    {"set_urlcallback", BA_URLCALLBACK, {F("callback", BR_STRING)}},
    {"get_urlcallback", BA_URLCALLBACK, {{NULL, 0, false}}},
    {"delete_urlcallback", BA_URLCALLBACK, {{NULL, 0, false}}},
    {"set_eventurlcallback", BA_URLCALLBACK, {F("callback", BR_STRING)}},
    {"get_eventurlcallback", BA_URLCALLBACK, {{NULL, 0, false}}},
    {"delete_eventurlcallback", BA_URLCALLBACK, {{NULL, 0, false}}},
    {"get_statistics", BA_GET_STATISTICS, {{NULL, 0, false}}},
    {"clear_statistics", BA_CLEAR_STATISTICS, {{NULL, 0, false}}},
    {"get_rooms", BA_GET_ROOMS, {{NULL, 0, false}}},
    {"get_room", BA_GET_ROOM, {FR("vgroupid", BR_STRING)}},
    {"add_room", BA_ADD_ROOM, {FR("room", BR_OBJECT), FR("room.members", BR_USERS),
        F("room.masters", BR_USERS), F("room.title", BR_STRING),
        F("room.description", BR_STRING), F("room.ttl", BR_INT), F("room.bor", BR_INT)}},
    {"modify_room", BA_MODIFY_ROOM, {FR("vgroupid", BR_STRING), F("members", BR_USERS),
        F("masters", BR_USERS), F("title", BR_STRING), F("description", BR_STRING),
        F("ttl", BR_INT), F("bor", BR_INT)}},
    {"leave_room", BA_LEAVE_ROOM, {FR("vgroupid", BR_STRING)}},
    {"delete_room", BA_DELETE_ROOM, {FR("vgroupid", BR_STRING)}},
    {"add_groupconvo", BA_ADD_GROUPCONVO, {FR("groupconvo", BR_OBJECT),
        FR("groupconvo.members", BR_USERS), F("groupconvo.ttl", BR_INT),
        F("groupconvo.bor", BR_INT)}},
    {"get_groupconvos", BA_GET_GROUPCONVOS, {{NULL, 0, false}}},
    {"get_groupconvo", BA_GET_GROUPCONVO, {FR("vgroupid", BR_STRING)}},
    {"delete_groupconvo", BA_DELETE_GROUPCONVO, {FR("vgroupid", BR_STRING)}},
    {"get_received_messages", BA_GET_RECEIVED, {{NULL, 0, false}}},
    {"send_message", BA_SEND_MESSAGE, {F("users", BR_USERS), F("vgroupid", BR_STRING),
        F("message", BR_STRING), F("message_id", BR_STRING), F("flags", BR_ANY),
        F("messagemeta", BR_ANY), F("ttl", BR_INT), F("bor", BR_INT),
        F("attachment", BR_OBJECT), F("username_filename", BR_STRING),
        F("userid_filename", BR_STRING), F("isvoicememo", BR_BOOL)}},
    {"send_message_network", BA_SEND_NETWORK, {F("message", BR_STRING),
        F("security_groups", BR_ANY), F("attachment", BR_OBJECT)}},
    {"encrypt_string", BA_ENCRYPT_STRING, {FR("string", BR_STRING)}},
    {"decrypt_string", BA_DECRYPT_STRING, {FR("string", BR_STRING)}},
    {"add_keyvalue", BA_ADD_KEYVALUE, {FR("key", BR_STRING), FR("value", BR_STRING)}},
    {"get_keyvalue", BA_GET_KEYVALUE, {FR("key", BR_STRING)}},
    {"delete_keyvalue", BA_DELETE_KEYVALUE, {FR("key", BR_STRING)}},
    {"clearall_keyvalues", BA_CLEARALL_KEYVALUES, {{NULL, 0, false}}},
    {"set_control", BA_SET_CONTROL, {{NULL, 0, false}}},
    {"get_network_rooms", BA_NETWORK_ROOMS, {F("network", BR_ANY)}},
    {"add_network_room", BA_NETWORK_ROOMS, {F("room", BR_ANY)}},
    {"get_directory", BA_GET_DIRECTORY, {F("page", BR_INT), F("size", BR_INT),
        F("security_group", BR_ANY)}},
    {"get_security_groups", BA_GET_SECURITY_GROUPS, {F("page", BR_INT), F("size", BR_INT)}},
    {"get_message_status", BA_MESSAGE_STATUS, {{NULL, 0, false}}},
    {"set_message_status", BA_MESSAGE_STATUS, {{NULL, 0, false}}},
    {"add_message_id", BA_MESSAGE_STATUS, {{NULL, 0, false}}},
    {"delete_message_id", BA_MESSAGE_STATUS, {{NULL, 0, false}}},
    {"get_message_id_entry", BA_MESSAGE_STATUS, {{NULL, 0, false}}},
    {"cancel_message_id", BA_MESSAGE_STATUS, {{NULL, 0, false}}},
    {"get_message_id_table", BA_MESSAGE_STATUS, {{NULL, 0, false}}},
    {"delete_message", BA_DELETE_MESSAGE, {FR("vgroupid", BR_STRING),
        FR("message_id", BR_STRING), F("do_recall", BR_BOOL)}},
    {"get_verfication_list", BA_VERIFICATION, {{NULL, 0, false}}},
    {"verify_user", BA_VERIFICATION, {{NULL, 0, false}}},
    {"verify_all", BA_VERIFICATION, {{NULL, 0, false}}},
    {"set_verification_mode", BA_VERIFICATION, {{NULL, 0, false}}},
    {"get_user_info", BA_GET_USER_INFO, {FR("users", BR_ANY)}},
    {"get_server_info", BA_GET_SERVER_INFO, {{NULL, 0, false}}},
    {"set_avatar", BA_SET_AVATAR, {{NULL, 0, false}}},
    {"get_bots_list", BA_GET_BOTS_LIST, {{NULL, 0, false}}},
    {"get_transmit_queue_info", BA_TRANSMIT_QUEUE, {{NULL, 0, false}}},
};
/* clang-format on */
const size_t botreq_action_count = ARRAY_SIZE(botreq_actions);

/* A field by name; "a.b" looks one level down into object "a". */
static json_t *field(json_t *doc, const char *name)
{
    const char *dot = strchr(name, '.');
    if (!dot)
        return json_object_get(doc, name);
    char head[32];
    size_t n = (size_t)(dot - name);
    if (n >= sizeof(head))
        return NULL;
    memcpy(head, name, n);
    head[n] = '\0';
    json_t *parent = json_object_get(doc, head);
    return json_is_object(parent) ? json_object_get(parent, dot + 1) : NULL;
}

static bool int_string(const char *s)
{
    int64_t v;
    return *s == '\0' || str_to_i64(s, INT64_MIN, INT64_MAX, &v) == 0;
}

static bool kind_ok(json_t *v, enum botreq_kind k)
{
    size_t i;
    json_t *e;

    switch (k) {
    case BR_STRING:
        return json_is_string(v);
    case BR_INT:
        return json_is_integer(v) || (json_is_string(v) && int_string(json_string_value(v)));
    case BR_BOOL:
        return json_is_boolean(v) ||
               (json_is_string(v) && (strcmp(json_string_value(v), "true") == 0 ||
                                      strcmp(json_string_value(v), "false") == 0));
    case BR_OBJECT:
        return json_is_object(v);
    case BR_USERS:
        if (!json_is_array(v))
            return false;
        json_array_foreach(v, i, e)
        {
            json_t *name = json_object_get(e, "name");
            if (!json_is_string(name) || json_string_length(name) == 0 ||
                strlen(json_string_value(name)) != json_string_length(name))
                return false;
        }
        return true;
    case BR_STRINGS:
        if (!json_is_array(v))
            return false;
        json_array_foreach(v, i, e) if (!json_is_string(e)) return false;
        return true;
    case BR_ANY:
        return true;
    }
    return false;
}

static const char *kind_name(enum botreq_kind k)
{
    switch (k) {
    case BR_STRING:
        return "a string";
    case BR_INT:
        return "an integer";
    case BR_BOOL:
        return "a boolean";
    case BR_OBJECT:
        return "an object";
    case BR_USERS:
        return "a list of {\"name\": string} objects";
    case BR_STRINGS:
        return "a list of strings";
    case BR_ANY:
        break;
    }
    return "a value";
}

int botreq_parse(const void *data, size_t len, struct botreq *r, char *err, size_t errlen)
{
    json_error_t jerr;
    const struct botreq_action *a = NULL;

    memset(r, 0, sizeof(*r));
    if (len > BOTREQ_MAX_FRAME) {
        snprintf(err, errlen, "request of %zu bytes is over the limit of %d", len,
                 BOTREQ_MAX_FRAME);
        return BOTREQ_BAD_REQUEST;
    }
    json_t *doc = json_loadb(data, len, JSON_REJECT_DUPLICATES, &jerr);
    if (!doc) {
        snprintf(err, errlen, "request is not valid JSON: %s (column %d)", jerr.text, jerr.column);
        return BOTREQ_BAD_REQUEST;
    }
    if (!json_is_object(doc)) {
        snprintf(err, errlen, "request is not a JSON object");
        goto bad;
    }
    json_t *act = json_object_get(doc, "action");
    if (!json_is_string(act)) {
        snprintf(err, errlen, "request has no \"action\" string");
        goto bad;
    }
    for (size_t i = 0; i < botreq_action_count; i++)
        if (strcmp(botreq_actions[i].name, json_string_value(act)) == 0)
            a = &botreq_actions[i];
    if (!a) {
        /* The name is echoed only when it is short printable ASCII. */
        const char *s = json_string_value(act);
        bool printable = json_string_length(act) <= 40;
        for (const char *p = s; printable && *p; p++)
            printable = *p >= 0x20 && *p < 0x7f && *p != '"';
        snprintf(err, errlen, "unknown action \"%s\"", printable ? s : "(unprintable)");
        goto bad;
    }
    for (size_t i = 0; i < BOTREQ_MAX_FIELDS && a->fields[i].name; i++) {
        const struct botreq_field *f = &a->fields[i];
        json_t *v = field(doc, f->name);
        if (!v || json_is_null(v)) {
            if (f->required) {
                snprintf(err, errlen, "%s: field \"%s\" is required", a->name, f->name);
                goto bad;
            }
            continue;
        }
        if (!kind_ok(v, f->kind)) {
            snprintf(err, errlen, "%s: field \"%s\" must be %s", a->name, f->name,
                     kind_name(f->kind));
            goto bad;
        }
    }
    r->action = a;
    r->doc = doc;
    return 0;
bad:
    json_decref(doc);
    return BOTREQ_BAD_REQUEST;
}

void botreq_release(struct botreq *r)
{
    json_decref(r->doc);
    r->doc = NULL;
    r->action = NULL;
}

const char *botreq_str(const struct botreq *r, const char *name, const char *dflt)
{
    json_t *v = field(r->doc, name);
    return json_is_string(v) ? json_string_value(v) : dflt;
}

int64_t botreq_int(const struct botreq *r, const char *name, int64_t dflt)
{
    json_t *v = field(r->doc, name);
    int64_t n;
    if (json_is_integer(v))
        return (int64_t)json_integer_value(v);
    if (json_is_string(v) && str_to_i64(json_string_value(v), INT64_MIN, INT64_MAX, &n) == 0)
        return n;
    return dflt;
}

bool botreq_bool(const struct botreq *r, const char *name, bool dflt)
{
    json_t *v = field(r->doc, name);
    if (json_is_boolean(v))
        return json_is_true(v);
    if (json_is_string(v))
        return strcmp(json_string_value(v), "true") == 0;
    return dflt;
}

const char **botreq_users(const struct botreq *r, const char *name, size_t *n)
{
    size_t i;
    json_t *e, *users = field(r->doc, name);
    const char **out = calloc(json_array_size(users) + 1, sizeof(*out));

    *n = 0;
    if (!out)
        return NULL;
    json_array_foreach(users, i, e)
    {
        const char *s = json_string_value(json_object_get(e, "name"));
        if (s)
            out[(*n)++] = s;
    }
    return out;
}

char *botreq_reply(int code, const char *text)
{
    return xasprintf("%d:%s", code, text ? text : "");
}
