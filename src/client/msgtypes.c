/* msgtypes.c - the table of message payload types and their checks.
 *
 * Type numbers and field names follow the compliance message description of
 * the functional specification (Appendix A/B), so that a retention log can
 * be written from a payload without translation. A new type is one row
 * here, one row in docs/client-protocol.md and one test case. */
#include "msgtypes.h"

#include <parley/parley.h>

/* clang-format off */
const struct msgtype msgtype_table[] = {
    {MSGTYPE_TEXT, "text", {
        {"message", MT_STRING, true},
        {"links", MT_ARRAY, false},
    }},
    {MSGTYPE_VERIFICATION, "verification", {
        {"keyverify", MT_OBJECT, true},
        {"keyverify.msgtype", MT_INT, true},     /* 1 request .. 5 "not now" */
        {"keyverify.verifiedkey", MT_STRING, false},
    }},
    {MSGTYPE_ROOM_CREATE, "create_room", {
        {"control", MT_OBJECT, true},
        {"control.members", MT_ARRAY, true},
        {"control.masters", MT_ARRAY, true},
        {"control.title", MT_STRING, false},
        {"control.description", MT_STRING, false},
        {"control.ttl", MT_INT, false},
        {"control.bor", MT_INT, false},
        {"control.changemask", MT_INT, false},
    }},
    {MSGTYPE_ROOM_MEMBERS, "modify_room_members", {
        {"control", MT_OBJECT, true},
        {"control.addedusers", MT_ARRAY, true},
        {"control.deletedusers", MT_ARRAY, true},
    }},
    {MSGTYPE_ROOM_LEAVE, "leave_room", {
        {"control", MT_OBJECT, false},
    }},
    {MSGTYPE_ROOM_PARAMS, "modify_room_parameters", {
        {"control", MT_OBJECT, true},
        {"control.changemask", MT_INT, true},
        {"control.title", MT_STRING, false},
        {"control.description", MT_STRING, false},
        {"control.masters", MT_ARRAY, false},
        {"control.ttl", MT_INT, false},
        {"control.bor", MT_INT, false},
        {"control.filevaultinfo", MT_OBJECT, false},
    }},
    {MSGTYPE_ROOM_DELETE, "delete_room", {{NULL, 0, false}}},
    {MSGTYPE_DELETE, "delete_message", {
        {"control", MT_OBJECT, true},
        {"control.msgid", MT_STRING, true},
        {"control.isrecall", MT_BOOL, true},
    }},
    {MSGTYPE_ATTRIBUTES, "message_attributes", {
        {"control", MT_OBJECT, true},
        {"control.attributes", MT_ARRAY, true},
    }},
    {MSGTYPE_ATTRIBUTES_SYNC, "attributes_sync", {{NULL, 0, false}}},
    {MSGTYPE_PRIVATE_PROPERTY, "private_property", {
        {"control", MT_OBJECT, true},
        {"control.pinned", MT_BOOL, true},
    }},
    /* A file: what Appendix B shows, plus what opening it needs (its
     * plaintext size, the key, whether records may be deflated). The
     * bytes travel separately (files.c). Call media is the job of a calls
     * subsystem that does not exist yet. */
    {MSGTYPE_FILE, "file", {
        {"file", MT_OBJECT, true},
        {"file.filename", MT_STRING, true},
        {"file.guid", MT_STRING, true},
        {"file.isscreenshot", MT_BOOL, false},
        {"file.size", MT_INT, false},
        {"file.key", MT_STRING, false},
        {"file.compressed", MT_BOOL, false},
        {"file.isvoicememo", MT_BOOL, false},
        {"file.voicememoduration", MT_INT, false},
        {"file.uploadedbyuser", MT_STRING, false},
        {"file.uploadedtimestamp", MT_STRING, false},
    }},
    {MSGTYPE_CALL, "call", {
        {"call", MT_OBJECT, true},
        {"call.status", MT_INT, true},           /* 0 start, 1 done, 2 missed, 3 cancelled */
        {"call.participants", MT_ARRAY, false},
        {"call.startmsgid", MT_STRING, false},
        {"call.duration", MT_INT, false},
    }},
    {MSGTYPE_LOCATION, "location", {
        {"location", MT_OBJECT, true},
        {"location.latitude", MT_NUMBER, true},
        {"location.longitude", MT_NUMBER, true},
    }},
    {MSGTYPE_EDIT, "edit", {
        {"edit", MT_OBJECT, true},
        {"edit.type", MT_STRING, true},          /* "text" or "location" */
        {"edit.originalmessageid", MT_STRING, false},
        {"edit.text", MT_STRING, false},
        {"edit.latitude", MT_NUMBER, false},
        {"edit.longitude", MT_NUMBER, false},
    }},
};
/* clang-format on */
const size_t msgtype_count = ARRAY_SIZE(msgtype_table);

const struct msgtype *msgtype_find(int type)
{
    for (size_t i = 0; i < msgtype_count; i++)
        if (msgtype_table[i].type == type)
            return &msgtype_table[i];
    return NULL;
}

const char *parley_msgtype_name(int msgtype)
{
    const struct msgtype *t = msgtype_find(msgtype);
    return t ? t->name : NULL;
}

static bool kind_ok(json_t *v, enum msgtype_kind k)
{
    switch (k) {
    case MT_STRING:
        return json_is_string(v) && json_string_length(v) <= MSGTYPE_MAX_TEXT &&
               strlen(json_string_value(v)) == json_string_length(v);
    case MT_INT:
        return json_is_integer(v);
    case MT_NUMBER:
        return json_is_number(v);
    case MT_BOOL:
        return json_is_boolean(v);
    case MT_OBJECT:
        return json_is_object(v);
    case MT_ARRAY:
        return json_is_array(v);
    }
    return false;
}

static const char *kind_name(enum msgtype_kind k)
{
    static const char *names[] = {"",          "a string",  "an integer", "a number",
                                  "a boolean", "an object", "an array"};
    return (size_t)k < ARRAY_SIZE(names) ? names[k] : "";
}

/* The value at "a" or "a.b", or NULL. */
static json_t *lookup(json_t *obj, const char *path)
{
    const char *dot = strchr(path, '.');
    if (!dot)
        return json_object_get(obj, path);
    json_t *parent = json_object_getn(obj, path, (size_t)(dot - path));
    return json_is_object(parent) ? json_object_get(parent, dot + 1) : NULL;
}

static int check_links(json_t *links, char *err, size_t errlen)
{
    size_t i;
    json_t *v;
    /* Appendix B shows objects {"url": ...}; accept plain strings too. */
    json_array_foreach(links, i, v)
    {
        json_t *url = json_is_object(v) ? json_object_get(v, "url") : v;
        if (!json_is_string(url)) {
            snprintf(err, errlen, "links[%zu] must be a string or {\"url\": string}", i);
            return PARLEY_EPROTO;
        }
    }
    return 0;
}

int msgtype_check(json_t *payload, char *err, size_t errlen)
{
    const struct msgtype *t;
    json_t *mt;

    if (errlen)
        err[0] = '\0';
    if (!json_is_object(payload)) {
        snprintf(err, errlen, "a payload must be a JSON object");
        return PARLEY_EPROTO;
    }
    mt = json_object_get(payload, "msgtype");
    if (!json_is_integer(mt)) {
        snprintf(err, errlen, "field 'msgtype' must be an integer");
        return PARLEY_EPROTO;
    }
    t = msgtype_find((int)json_integer_value(mt));
    if (!t || json_integer_value(mt) != t->type) {
        snprintf(err, errlen, "unknown msgtype %" JSON_INTEGER_FORMAT, json_integer_value(mt));
        return PARLEY_EPROTO;
    }
    for (size_t i = 0; i < MSGTYPE_MAX_FIELDS && t->fields[i].path; i++) {
        const struct msgtype_field *f = &t->fields[i];
        json_t *v = lookup(payload, f->path);
        if (!v) {
            /* A nested field is required only when its parent is present. */
            const char *dot = strchr(f->path, '.');
            bool parent_absent =
                dot && !json_object_getn(payload, f->path, (size_t)(dot - f->path));
            if (f->required && !parent_absent) {
                snprintf(err, errlen, "msgtype %d (%s) needs field '%s'", t->type, t->name,
                         f->path);
                return PARLEY_EPROTO;
            }
            continue;
        }
        if (!kind_ok(v, f->kind)) {
            snprintf(err, errlen, "field '%s' of msgtype %d must be %s", f->path, t->type,
                     kind_name(f->kind));
            return PARLEY_EPROTO;
        }
    }
    if (t->type == MSGTYPE_TEXT && json_object_get(payload, "links"))
        return check_links(json_object_get(payload, "links"), err, errlen);
    return 0;
}

int msgtype_decode(const uint8_t *p, size_t len, json_t **out, int *msgtype, char *err,
                   size_t errlen)
{
    json_error_t jerr;
    json_t *root;
    int rc;

    *out = NULL;
    if (len > MSGTYPE_MAX_PAYLOAD) {
        snprintf(err, errlen, "payload over %u bytes", MSGTYPE_MAX_PAYLOAD);
        return PARLEY_EPROTO;
    }
    root = json_loadb((const char *)p, len, JSON_REJECT_DUPLICATES, &jerr);
    if (!root) {
        snprintf(err, errlen, "payload is not JSON: %s", jerr.text);
        return PARLEY_EPROTO;
    }
    rc = msgtype_check(root, err, errlen);
    if (rc < 0) {
        json_decref(root);
        return rc;
    }
    *msgtype = (int)json_integer_value(json_object_get(root, "msgtype"));
    *out = root;
    return 0;
}

int msgtype_encode(json_t *payload, char **out, size_t *len)
{
    char err[256];
    int rc = msgtype_check(payload, err, sizeof(err));
    if (rc < 0)
        return rc;
    *out = json_dumps(payload, JSON_COMPACT | JSON_SORT_KEYS);
    if (!*out)
        return PARLEY_ENOMEM;
    *len = strlen(*out);
    if (*len > MSGTYPE_MAX_PAYLOAD) {
        free(*out);
        *out = NULL;
        return PARLEY_ETOOBIG;
    }
    return 0;
}

int parley_payload_check(const char *payload_json, char *err, size_t errlen)
{
    json_t *root;
    int mt, rc;
    char dummy[1];

    if (!payload_json)
        return PARLEY_EINVAL;
    if (!err) {
        err = dummy;
        errlen = sizeof(dummy);
    }
    rc = msgtype_decode((const uint8_t *)payload_json, strlen(payload_json), &root, &mt, err,
                        errlen);
    json_decref(root);
    return rc;
}
