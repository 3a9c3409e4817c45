/* retention_check.c - see retention_check.h. */
#include "retention_check.h"

#include <regex.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdio.h>
#include <string.h>

#include <jansson.h>

#define FAIL(...)                                                                                  \
    do {                                                                                           \
        snprintf(err, errlen, __VA_ARGS__);                                                        \
        goto out;                                                                                  \
    } while (0)

static bool matches(const char *s, const char *re)
{
    regex_t r;
    bool ok;
    if (!s || regcomp(&r, re, REG_EXTENDED | REG_NOSUB) != 0)
        return false;
    ok = regexec(&r, s, 0, NULL, 0) == 0;
    regfree(&r);
    return ok;
}

#define RE_TIME "^[0-9]{1,2}/[0-9]{1,2}/[0-9]{2} [0-9]{1,2}:[0-9]{2} (AM|PM)$"
#define RE_ISO  "^[0-9]{4}-[0-9]{2}-[0-9]{2} [0-9]{2}:[0-9]{2}:[0-9]{2}\\.[0-9]{3}$"
#define RE_TS   "^[0-9]+\\.[0-9]{1,6}$"
#define RE_ID   "^[0-9a-f]{32}$"
#define RE_VG   "^([SG][0-9a-f]{63}|[0-9a-f]{64})$"

static const char *const top_fields[] = {
    "bor",    "control",  "file",      "id",     "links",       "message", "message_id",
    "msg_ts", "msgtype",  "receiver",  "sender", "sender_type", "time",    "time_iso",
    "ttl",    "vgroupid", "keyverify", "call",   "location",    "edit",    NULL,
};

/* The content object (or fields) each type must have, and no other. */
static const struct {
    int type;
    const char *content[3];
} types[] = {
    {1000, {"message", "links", NULL}}, {3000, {"keyverify", NULL, NULL}},
    {4001, {"control", NULL, NULL}},    {4002, {"control", NULL, NULL}},
    {4003, {"control", NULL, NULL}},    {4004, {"control", NULL, NULL}},
    {4005, {"control", NULL, NULL}},    {4011, {"control", NULL, NULL}},
    {4012, {"control", NULL, NULL}},    {4013, {"control", NULL, NULL}},
    {4014, {"control", NULL, NULL}},    {6000, {"file", NULL, NULL}},
    {7000, {"call", NULL, NULL}},       {8000, {"location", NULL, NULL}},
    {9000, {"edit", NULL, NULL}},
};

static bool in(const char *k, const char *const *list, size_t n)
{
    for (size_t i = 0; i < n && list[i]; i++)
        if (strcmp(k, list[i]) == 0)
            return true;
    return false;
}

static bool str_array(json_t *a)
{
    size_t i;
    json_t *v;
    if (!json_is_array(a))
        return false;
    json_array_foreach(a, i, v) if (!json_is_string(v)) return false;
    return true;
}

static int check_control(json_t *c, int type, char *err, size_t errlen)
{
    int rc = -1;
    if (!json_is_object(c))
        FAIL("msgtype %d needs a control object", type);
    if (json_integer_value(json_object_get(c, "msgtype")) != type)
        FAIL("control.msgtype must repeat %d", type);
    switch (type) {
    case 4001:
    case 4004:
        if (type == 4001 && (!str_array(json_object_get(c, "members")) ||
                             !str_array(json_object_get(c, "masters"))))
            FAIL("4001 needs control.members and control.masters (arrays of names)");
        if (type == 4004 && !json_is_integer(json_object_get(c, "changemask")))
            FAIL("4004 needs control.changemask");
        if (json_object_get(c, "ttl") && !json_is_integer(json_object_get(c, "ttl")))
            FAIL("control.ttl is seconds");
        if (json_object_get(c, "bor") && !json_is_integer(json_object_get(c, "bor")))
            FAIL("control.bor is seconds");
        break;
    case 4002:
        if (!str_array(json_object_get(c, "addedusers")) ||
            !str_array(json_object_get(c, "deletedusers")))
            FAIL("4002 needs control.addedusers and control.deletedusers");
        break;
    case 4011:
        if (!matches(json_string_value(json_object_get(c, "msgid")), RE_ID) ||
            !json_is_boolean(json_object_get(c, "isrecall")))
            FAIL("4011 needs control.msgid and control.isrecall");
        break;
    case 4012: {
        json_t *a = json_object_get(c, "attributes"), *v;
        size_t i;
        if (!json_is_array(a))
            FAIL("4012 needs control.attributes");
        json_array_foreach(a, i, v)
        {
            if (!matches(json_string_value(json_object_get(v, "msgid")), RE_ID) ||
                !json_is_boolean(json_object_get(v, "isstarred")))
                FAIL("4012 attributes are {msgid, isstarred}");
        }
        break;
    }
    case 4014:
        if (!json_is_boolean(json_object_get(c, "pinned")))
            FAIL("4014 needs control.pinned");
        break;
    default:
        break;
    }
    rc = 0;
out:
    return rc;
}

int retention_check_line(const char *line, char *err, size_t errlen)
{
    json_error_t jerr;
    json_t *o = json_loads(line, JSON_REJECT_DUPLICATES, &jerr), *v;
    const char *k, *vg;
    size_t ti;
    int rc = -1, type;

    snprintf(err, errlen, "ok");
    if (strchr(line, '\n'))
        FAIL("a line holds a newline");
    if (!json_is_object(o))
        FAIL("not a JSON object: %s", jerr.text);
    json_object_foreach(o, k, v) if (!in(k, top_fields, 100)) FAIL("unknown field '%s'", k);
    type = (int)json_integer_value(json_object_get(o, "msgtype"));
    for (ti = 0; ti < sizeof(types) / sizeof(types[0]) && types[ti].type != type; ti++)
        ;
    if (ti == sizeof(types) / sizeof(types[0]))
        FAIL("msgtype %d is not in Appendix A", type);
    if (!matches(json_string_value(json_object_get(o, "message_id")), RE_ID) &&
        !matches(json_string_value(json_object_get(o, "id")), RE_ID))
        FAIL("no message id");
    if (!matches(json_string_value(json_object_get(o, "msg_ts")), RE_TS))
        FAIL("msg_ts is not seconds.micros");
    if (!json_is_string(json_object_get(o, "sender")) ||
        !*json_string_value(json_object_get(o, "sender")))
        FAIL("no sender");
    if (!matches(json_string_value(json_object_get(o, "time")), RE_TIME))
        FAIL("time is not M/D/YY h:MM AM");
    if (!matches(json_string_value(json_object_get(o, "time_iso")), RE_ISO))
        FAIL("time_iso is not YYYY-MM-DD hh:mm:ss.xxx");
    if (json_object_get(o, "ttl") &&
        !matches(json_string_value(json_object_get(o, "ttl")), RE_TIME))
        FAIL("ttl is not a date like time");
    if (json_object_get(o, "bor") &&
        !matches(json_string_value(json_object_get(o, "bor")), RE_TIME))
        FAIL("bor is not a date like time");
    k = json_string_value(json_object_get(o, "sender_type"));
    if (!k || (strcmp(k, "normal") != 0 && strcmp(k, "guest") != 0))
        FAIL("sender_type is normal or guest");
    vg = json_string_value(json_object_get(o, "vgroupid"));
    if (!matches(vg, RE_VG))
        FAIL("vgroupid is 64 characters, S or G for rooms and groups");
    if ((vg[0] == 'S' || vg[0] == 'G') != !json_object_get(o, "receiver"))
        FAIL("receiver is in direct messages only, and always there");
    /* Content fields: only the type's. */
    json_object_foreach(o, k, v)
    {
        static const char *const content_all[] = {"control",   "file", "links",    "message",
                                                  "keyverify", "call", "location", "edit"};
        if (in(k, content_all, 8) && !in(k, types[ti].content, 3))
            FAIL("field '%s' does not belong to msgtype %d", k, type);
    }
    switch (type) {
    case 1000: {
        json_t *links = json_object_get(o, "links"), *l;
        size_t i;
        if (!json_is_string(json_object_get(o, "message")))
            FAIL("1000 needs message");
        if (links && !json_is_array(links))
            FAIL("links is an array");
        json_array_foreach(links, i, l) if (!json_is_string(json_object_get(l, "url")))
            FAIL("links are {url}");
        break;
    }
    case 3000: {
        json_t *kv = json_object_get(o, "keyverify");
        json_int_t m = json_integer_value(json_object_get(kv, "msgtype"));
        if (!json_is_object(kv) || m < 1 || m > 5)
            FAIL("3000 needs keyverify.msgtype 1..5");
        break;
    }
    case 6000: {
        json_t *f = json_object_get(o, "file");
        if (!json_is_string(json_object_get(f, "filename")) ||
            !json_is_string(json_object_get(f, "guid")) ||
            !json_is_string(json_object_get(f, "uploadedbyuser")) ||
            !matches(json_string_value(json_object_get(f, "uploadedtimestamp")), RE_TIME))
            FAIL("6000 needs file.filename, guid, uploadedbyuser, uploadedtimestamp");
        if (json_object_get(f, "localfilename") &&
            (!json_is_string(json_object_get(f, "localfilename")) ||
             json_string_value(json_object_get(f, "localfilename"))[0] != '/'))
            FAIL("file.localfilename is a full path");
        if (json_object_get(f, "isscreenshot") &&
            !json_is_boolean(json_object_get(f, "isscreenshot")))
            FAIL("file.isscreenshot is a boolean");
        {
            /* Appendix A's file fields and no others (the file key above all). */
            static const char *const allowed[] = {"filename",       "guid",
                                                  "isscreenshot",   "localfilename",
                                                  "uploadedbyuser", "uploadedtimestamp"};
            const char *fk;
            json_t *fv;
            json_object_foreach(f, fk, fv)
            {
                size_t i = 0;
                while (i < sizeof(allowed) / sizeof(allowed[0]) && strcmp(allowed[i], fk) != 0)
                    i++;
                if (i == sizeof(allowed) / sizeof(allowed[0]))
                    FAIL("file has the field '%s', which Appendix A does not define", fk);
                (void)fv;
            }
        }
        break;
    }
    case 7000: {
        json_int_t s = json_integer_value(json_object_get(json_object_get(o, "call"), "status"));
        if (!json_is_integer(json_object_get(json_object_get(o, "call"), "status")) || s < 0 ||
            s > 3)
            FAIL("7000 needs call.status 0..3");
        break;
    }
    case 8000: {
        json_t *l = json_object_get(o, "location");
        if (!json_is_number(json_object_get(l, "latitude")) ||
            !json_is_number(json_object_get(l, "longitude")))
            FAIL("8000 needs location.latitude and longitude");
        break;
    }
    case 9000: {
        const char *t = json_string_value(json_object_get(json_object_get(o, "edit"), "type"));
        if (!t || (strcmp(t, "text") != 0 && strcmp(t, "location") != 0))
            FAIL("9000 needs edit.type text or location");
        break;
    }
    default:
        if (json_object_get(o, "control") &&
            check_control(json_object_get(o, "control"), type, err, errlen) < 0)
            goto out;
        if (!json_object_get(o, "control") && type != 4005 && type != 4003 && type != 4013)
            FAIL("msgtype %d needs a control object", type);
        break;
    }
    rc = 0;
out:
    json_decref(o);
    return rc;
}
