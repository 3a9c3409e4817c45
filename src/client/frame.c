/* frame.c - parse and build the client protocol's WebSocket messages. */
#include "frame.h"

#include <jansson.h>
#include <openssl/crypto.h>

#include "api.h"

static uint64_t get_u64(const uint8_t *p)
{
    uint64_t v = 0;
    for (int i = 0; i < 8; i++)
        v = v << 8 | p[i];
    return v;
}

int frame_delivery_parse(const uint8_t *p, size_t n, struct frame_delivery *out)
{
    memset(out, 0, sizeof(*out));
    if (n < 17 || n > FRAME_MAX || p[0] != FRAME_DELIVERY)
        return PARLEY_EPROTO;
    out->seq = get_u64(p + 1);
    out->ts_ms = get_u64(p + 9);
    out->delivery = p + 17;
    out->len = n - 17;
    return out->len ? 0 : PARLEY_EPROTO;
}

static const struct {
    const char *name;
    enum frame_ctl_type type;
} ctl_names[] = {
    {"hello", FRAME_CTL_HELLO},
    {"auth_ok", FRAME_CTL_AUTH_OK},
    {"ack", FRAME_CTL_ACK},
    {"nack", FRAME_CTL_NACK},
    {"prekeys_low", FRAME_CTL_PREKEYS_LOW},
    {"error", FRAME_CTL_ERROR},
    {"pong", FRAME_CTL_PONG},
    {"typing", FRAME_CTL_TYPING},
    {"presence", FRAME_CTL_PRESENCE},
    {"read", FRAME_CTL_READ},
};

static int ids_array(json_t *v, size_t *n)
{
    size_t i;
    json_t *e;
    uint8_t id[KEYS_ID_LEN];
    *n = 0;
    if (!v)
        return 0;
    if (!json_is_array(v) || json_array_size(v) > FRAME_MAX_DEVS)
        return PARLEY_EPROTO;
    json_array_foreach(v, i, e)
    {
        json_t *wrap = json_pack("{so}", "id", json_incref(e));
        int rc = wrap ? api_get_id(wrap, "id", id) : PARLEY_ENOMEM;
        json_decref(wrap);
        if (rc < 0)
            return rc;
    }
    *n = json_array_size(v);
    return 0;
}

static int parse_fields(json_t *root, struct frame_ctl *out)
{
    json_t *v;
    const char *code = json_string_value(json_object_get(root, "code"));

    if (code && strlen(code) < sizeof(out->code))
        memcpy(out->code, code, strlen(code) + 1);
    switch (out->type) {
    case FRAME_CTL_AUTH_OK:
        if (api_get_id(root, "user_id", out->user_id) < 0 ||
            api_get_id(root, "device_id", out->device_id) < 0)
            return PARLEY_EPROTO;
        return 0;
    case FRAME_CTL_ACK:
        v = json_object_get(root, "ts");
        if (api_get_id(root, "msg_id", out->msg_id) < 0 || !json_is_integer(v))
            return PARLEY_EPROTO;
        out->ts_ms = json_integer_value(v);
        return 0;
    case FRAME_CTL_NACK:
        if (api_get_id(root, "msg_id", out->msg_id) < 0 || !code)
            return PARLEY_EPROTO;
        if (ids_array(json_object_get(root, "missing"), &out->n_missing) < 0 ||
            ids_array(json_object_get(root, "extra"), &out->n_extra) < 0)
            return PARLEY_EPROTO;
        return 0;
    case FRAME_CTL_PREKEYS_LOW:
        v = json_object_get(root, "remaining");
        if (!json_is_integer(v))
            return PARLEY_EPROTO;
        out->remaining = json_integer_value(v);
        return 0;
    case FRAME_CTL_ERROR:
        return code ? 0 : PARLEY_EPROTO;
    case FRAME_CTL_TYPING:
        v = json_object_get(root, "active");
        if (api_get_id(root, "user_id", out->user_id) < 0 ||
            api_get_id(root, "conv_id", out->conv_id) < 0 || !json_is_boolean(v))
            return PARLEY_EPROTO;
        out->active = json_is_true(v);
        return 0;
    case FRAME_CTL_READ: {
        size_t i;
        json_t *e;
        v = json_object_get(root, "msg_ids");
        if (api_get_id(root, "user_id", out->user_id) < 0 ||
            api_get_id(root, "conv_id", out->conv_id) < 0 || !json_is_array(v) ||
            json_array_size(v) == 0 || json_array_size(v) > FRAME_MAX_READ)
            return PARLEY_EPROTO;
        json_array_foreach(v, i, e)
        {
            json_t *wrap = json_pack("{sO}", "id", e);
            int rc = wrap ? api_get_id(wrap, "id", out->read_ids[i]) : PARLEY_ENOMEM;
            json_decref(wrap);
            if (rc < 0)
                return PARLEY_EPROTO;
        }
        out->n_read = json_array_size(v);
        return 0;
    }
    case FRAME_CTL_PRESENCE: {
        const char *st = json_string_value(json_object_get(root, "status"));
        v = json_object_get(root, "idle_s");
        if (api_get_id(root, "user_id", out->user_id) < 0 || !st ||
            strlen(st) >= sizeof(out->status) || (v && !json_is_integer(v)))
            return PARLEY_EPROTO;
        memcpy(out->status, st, strlen(st) + 1);
        out->idle_s = v ? json_integer_value(v) : 0;
        return 0;
    }
    default:
        return 0;
    }
}

int frame_ctl_parse(const char *p, size_t n, struct frame_ctl *out)
{
    json_error_t jerr;
    json_t *root;
    const char *type;
    int rc = PARLEY_EPROTO;

    memset(out, 0, sizeof(*out));
    if (n > FRAME_MAX_TEXT)
        return PARLEY_EPROTO;
    root = json_loadb(p, n, JSON_REJECT_DUPLICATES, &jerr);
    if (!json_is_object(root))
        goto out;
    type = json_string_value(json_object_get(root, "type"));
    if (!type)
        goto out;
    for (size_t i = 0; i < ARRAY_SIZE(ctl_names); i++)
        if (strcmp(type, ctl_names[i].name) == 0)
            out->type = ctl_names[i].type;
    rc = parse_fields(root, out);
out:
    json_decref(root);
    return rc;
}

int frame_auth(const char *token, struct buf *out)
{
    json_t *j = json_pack("{ssss}", "type", "auth", "token", token);
    char *s = j ? json_dumps(j, JSON_COMPACT) : NULL;
    int rc = s ? buf_append_str(out, s) : PARLEY_ENOMEM;
    if (s) {
        OPENSSL_cleanse(s, strlen(s));
        free(s);
    }
    json_decref(j);
    return rc;
}

int frame_ack(const uint64_t *seq, size_t n, struct buf *out)
{
    int rc = buf_append_str(out, "{\"type\":\"ack\",\"seq\":[");
    for (size_t i = 0; rc == 0 && i < n; i++)
        rc = buf_printf(out, "%s%llu", i ? "," : "", (unsigned long long)seq[i]);
    if (rc == 0)
        rc = buf_append_str(out, "]}");
    return rc;
}
