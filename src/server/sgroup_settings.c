/* sgroup_settings.c - the security-group and network settings table; see
 * sgroup_settings.h. The sections follow the security-group page of the
 * specification; each help text says what the setting does. */
#include "sgroup_settings.h"
#include "store.h"

#include <ctype.h>

static const char *const federation_modes[] = {"disabled", "enabled", "restricted", NULL};
static const char *const event_levels[] = {"activity", "ip_address", "messaging", "username_id",
                                           NULL};

#define YEAR_S (365LL * 24 * 3600)

const struct sgroup_setting sgroup_settings[] = {
    /* General */
    {"open_access", "general", SGS_BOOL, "false", 0, 0, 0, NULL, SGS_CLIENT,
     "Connect through the global proxy servers for the best path."},
    {"force_open_access", "general", SGS_BOOL, "false", 0, 0, 0, NULL, SGS_CLIENT,
     "Turn open access on by default on users' devices."},
    {"preview_notification", "general", SGS_BOOL, "true", 0, 0, 0, NULL, SGS_CLIENT,
     "Show message content in notifications; otherwise only the sender or room name."},
    {"user_availability", "general", SGS_BOOL, "true", 0, 0, 0, NULL, SGS_CLIENT,
     "Let users show their presence status."},
    {"atak", "general", SGS_BOOL, "false", 0, 0, 0, NULL, SGS_CLIENT,
     "Allow messaging and file transfer inside the ATAK application."},
    {"desktop_updates", "general", SGS_BOOL, "true", 0, 0, 0, NULL, SGS_CLIENT,
     "Show a banner on desktop clients when an update is available."},
    /* Messaging */
    {"link_preview", "messaging", SGS_BOOL, "true", 0, 0, 0, NULL, SGS_CLIENT,
     "Send and receive previews of URLs (made by the sending device)."},
    {"location_sharing", "messaging", SGS_BOOL, "true", 0, 0, 0, NULL, SGS_CLIENT,
     "Allow sharing a link to one's GPS coordinates."},
    {"map_sharing", "messaging", SGS_BOOL, "true", 0, 0, 0, NULL, SGS_CLIENT,
     "With location sharing, allow sending a live map for a chosen time."},
    {"file_attachments", "messaging", SGS_BOOL, "true", 0, 0, 0, NULL, SGS_SERVER,
     "Allow sending and downloading attachments and voice memos."},
    {"secure_shredder", "messaging", SGS_BOOL, "true", 0, 0, 0, NULL, SGS_CLIENT,
     "Overwrite memory and disk used by files opened in the app."},
    {"bot_read_receipts", "messaging", SGS_BOOL, "false", 0, 0, 0, NULL, SGS_CLIENT,
     "Let bots read every message of a room without being mentioned."},
    {"file_compression", "messaging", SGS_BOOL, "false", 0, 0, 0, NULL, SGS_CLIENT,
     "Compress images and files before encrypting and uploading them."},
    {"max_expiration", "messaging", SGS_INT, "2592000", 60, YEAR_S, 0, NULL, SGS_SERVER,
     "Longest expiration timer of a message; users may choose any shorter one."},
    {"quick_responses", "messaging", SGS_STRING_LIST, "[]", 0, 10, 8000, NULL, SGS_CLIENT,
     "Pre-filled messages users can send with one click (at most ten, 8000 characters each)."},
    {"max_upload_bytes", "messaging", SGS_INT, "5368709120", 1024, 5368709120LL, 0, NULL,
     SGS_SERVER, "Largest file a user may upload, in bytes."},
    /* Calling */
    {"audio_calling", "calling", SGS_BOOL, "true", 0, 0, 0, NULL, SGS_SERVER,
     "Allow starting and joining calls."},
    {"video_calling", "calling", SGS_BOOL, "true", 0, 0, 0, NULL, SGS_SERVER,
     "Allow sharing a camera or the screen in calls."},
    {"force_tcp_calling", "calling", SGS_BOOL, "false", 0, 0, 0, NULL, SGS_CLIENT,
     "Connect to calls over TCP instead of trying UDP first."},
    {"hosted_federated_calls", "calling", SGS_BOOL, "false", 0, 0, 0, NULL, SGS_SERVER,
     "Join federated calls on the other deployment's infrastructure."},
    /* Security */
    {"always_reauthenticate", "security", SGS_BOOL, "false", 0, 0, 0, NULL, SGS_CLIENT,
     "Ask mobile users for their password or biometrics whenever the app comes to focus."},
    {"user_password_permission", "security", SGS_BOOL, "true", 0, 0, 0, NULL, SGS_SERVER,
     "Allow users to change their password at registration and later."},
    {"password_min_length", "security", SGS_INT, "8", 6, 128, 0, NULL, SGS_SERVER,
     "Shortest password a user may choose."},
    {"password_require_uppercase", "security", SGS_BOOL, "true", 0, 0, 0, NULL, SGS_SERVER,
     "Passwords need an uppercase letter."},
    {"password_require_lowercase", "security", SGS_BOOL, "true", 0, 0, 0, NULL, SGS_SERVER,
     "Passwords need a lowercase letter."},
    {"password_require_digit", "security", SGS_BOOL, "true", 0, 0, 0, NULL, SGS_SERVER,
     "Passwords need a digit."},
    {"password_require_symbol", "security", SGS_BOOL, "false", 0, 0, 0, NULL, SGS_SERVER,
     "Passwords need a character that is not a letter or a digit."},
    {"device_reset_attempts", "security", SGS_INT, "10", 0, 100, 0, NULL, SGS_CLIENT,
     "Wrong passwords on a device before it erases its data; 0 never."},
    {"user_account_suspension", "security", SGS_INT, "10", 0, 1000, 0, NULL, SGS_SERVER,
     "Wrong passwords after which the account is suspended; 0 never."},
    /* Push configuration */
    {"messaging_domains", "push", SGS_STRING_LIST, "[]", 0, 32, 253, NULL, SGS_CLIENT,
     "Host names or addresses accepting client connections (override config files)."},
    {"voice_video_domains", "push", SGS_STRING_LIST, "[]", 0, 32, 253, NULL, SGS_CLIENT,
     "Host names or addresses accepting calls."},
    {"certificate_pinning", "push", SGS_BOOL, "true", 0, 0, 0, NULL, SGS_CLIENT,
     "Accept only the pinned certificates below (keep on with a self-signed certificate)."},
    {"ssl_certificates", "push", SGS_STRING_LIST, "[]", 0, 8, 16384, NULL, SGS_CLIENT,
     "PEM certificates to pin (intermediates rather than leaves)."},
    /* Federation */
    {"local_federation", "federation", SGS_ENUM, "\"disabled\"", 0, 0, 0, federation_modes,
     SGS_SERVER,
     "Talk to other networks of this deployment: disabled (the default: a network is closed), "
     "enabled or restricted. Both networks' groups must allow it."},
    {"permitted_networks", "federation", SGS_STRING_LIST, "[]", 0, 1000, 64, NULL, SGS_SERVER,
     "With restricted federation, the networks users may talk to: network ids, each optionally "
     "preceded by a label and '=' (\"Ops=3f2a9c1d5e6b7a80\"). Both networks must list each other."},
    {"global_federation", "federation", SGS_BOOL, "false", 0, 0, 0, NULL, SGS_SERVER,
     "Talk to other deployments (when the super administrator has provisioned it)."},
    {"allow_guest_users", "federation", SGS_BOOL, "false", 0, 0, 0, NULL, SGS_SERVER,
     "With global federation, let users of this group talk to guest users."},
};
const size_t sgroup_settings_count = ARRAY_SIZE(sgroup_settings);

const struct sgroup_setting sgroup_network_settings[] = {
    {"read_receipts", "network", SGS_BOOL, "true", 0, 0, 0, NULL, SGS_SERVER,
     "Deliver read receipts in one-to-one conversations of this network."},
    {"event_logging", "network", SGS_ENUM, "\"activity\"", 0, 0, 0, event_levels, SGS_SERVER,
     "Verbosity of the network's event log: activity, ip_address, messaging or username_id. "
     "Message contents are never logged."},
};
const size_t sgroup_network_settings_count = ARRAY_SIZE(sgroup_network_settings);

static const struct sgroup_setting *find(const struct sgroup_setting *t, size_t n, const char *name)
{
    for (size_t i = 0; i < n; i++)
        if (strcmp(t[i].name, name) == 0)
            return &t[i];
    return NULL;
}

static const char *type_name(enum sgroup_setting_type t)
{
    static const char *const names[] = {"boolean", "integer", "enum", "string_list"};
    return names[t];
}

/* A permitted_networks entry: "ID" or "label=ID", where ID is a network id
 * (letters, digits, '-', '_', '.') and the label has no '='. */
static bool permitted_entry_ok(const char *e)
{
    const char *eq = strchr(e, '='), *id = eq ? eq + 1 : e;

    if (eq && (eq == e || strchr(id, '=')))
        return false;
    if (!*id)
        return false;
    for (; *id; id++)
        if (!isalnum((unsigned char)*id) && *id != '-' && *id != '_' && *id != '.')
            return false;
    return true;
}

static int check_one(const struct sgroup_setting *s, const json_t *v, char *err, size_t errlen)
{
    size_t i;
    json_t *item;

    switch (s->type) {
    case SGS_BOOL:
        if (json_is_boolean(v))
            return 0;
        snprintf(err, errlen, "setting '%s' must be true or false", s->name);
        return PARLEY_EINVAL;
    case SGS_INT:
        if (!json_is_integer(v)) {
            snprintf(err, errlen, "setting '%s' must be an integer from %lld to %lld", s->name,
                     (long long)s->min, (long long)s->max);
            return PARLEY_EINVAL;
        }
        if (json_integer_value(v) < s->min || json_integer_value(v) > s->max) {
            snprintf(err, errlen, "setting '%s' must be from %lld to %lld, got %lld", s->name,
                     (long long)s->min, (long long)s->max, (long long)json_integer_value(v));
            return PARLEY_EINVAL;
        }
        return 0;
    case SGS_ENUM:
        for (i = 0; json_is_string(v) && s->choices[i]; i++)
            if (strcmp(s->choices[i], json_string_value(v)) == 0)
                return 0;
        {
            char list[200] = "";
            size_t used = 0;
            for (i = 0; s->choices[i]; i++)
                used += (size_t)snprintf(list + used, used < sizeof(list) ? sizeof(list) - used : 0,
                                         "%s%s", i ? ", " : "", s->choices[i]);
            snprintf(err, errlen, "setting '%s' must be one of: %s", s->name, list);
        }
        return PARLEY_EINVAL;
    case SGS_STRING_LIST:
        if (!json_is_array(v) || (int64_t)json_array_size(v) > s->max) {
            snprintf(err, errlen, "setting '%s' must be an array of at most %lld strings%s",
                     s->name, (long long)s->max, json_is_array(v) ? ", got more" : "");
            return PARLEY_EINVAL;
        }
        json_array_foreach(v, i, item)
        {
            size_t len = json_string_length(item);
            if (!json_is_string(item) || len == 0 || (int64_t)len > s->item_max ||
                strlen(json_string_value(item)) != len) {
                snprintf(err, errlen,
                         "setting '%s' element %zu must be a string of 1 to %lld bytes", s->name, i,
                         (long long)s->item_max);
                return PARLEY_EINVAL;
            }
            if (strcmp(s->name, "permitted_networks") == 0 &&
                !permitted_entry_ok(json_string_value(item))) {
                snprintf(err, errlen,
                         "setting 'permitted_networks' element %zu must be a network id, "
                         "optionally preceded by a label and '=' (\"Ops=3f2a9c1d5e6b7a80\")",
                         i);
                return PARLEY_EINVAL;
            }
        }
        return 0;
    }
    return PARLEY_EINVAL;
}

int sgroup_settings_validate(const struct sgroup_setting *table, size_t n, const json_t *update,
                             char *err, size_t errlen)
{
    const char *key;
    json_t *v;

    if (!json_is_object(update)) {
        snprintf(err, errlen, "field 'settings' must be an object of setting name to value");
        return PARLEY_EINVAL;
    }
    json_object_foreach((json_t *)update, key, v)
    {
        const struct sgroup_setting *s = find(table, n, key);
        if (!s) {
            snprintf(err, errlen,
                     "setting '%.64s' is not known (GET /api/v1/admin/settings lists them)", key);
            return PARLEY_EINVAL;
        }
        if (check_one(s, v, err, errlen) < 0)
            return PARLEY_EINVAL;
    }
    return 0;
}

json_t *sgroup_settings_fill(const struct sgroup_setting *table, size_t n, const json_t *stored)
{
    json_t *out = json_object();
    char err[256];

    for (size_t i = 0; i < n; i++) {
        json_t *v = json_object_get(stored, table[i].name);
        /* A stored value that no longer fits (bounds changed) gives way to
         * the default rather than reaching enforcement. */
        if (v && check_one(&table[i], v, err, sizeof(err)) == 0)
            json_object_set(out, table[i].name, v);
        else
            json_object_set_new(out, table[i].name,
                                json_loads(table[i].def, JSON_DECODE_ANY, NULL));
    }
    return out;
}

int sgroup_settings_get(struct store_conn *c, int64_t security_group_id, json_t **out)
{
    struct store_val p[] = {STORE_INT(security_group_id)};
    struct store_rows *r = NULL;
    json_t *stored;
    int rc;

    rc = store_query(c, "SELECT settings FROM security_groups WHERE id = $1", p, 1, &r);
    if (rc == 0)
        rc = store_rows_next(r);
    if (rc == 0)
        rc = PARLEY_ENOTFOUND;
    if (rc == 1) {
        stored = json_loads(store_rows_text(r, 0), 0, NULL);
        *out = sgroup_settings_fill(sgroup_settings, sgroup_settings_count, stored);
        json_decref(stored);
        rc = 0;
    }
    store_rows_free(r);
    return rc;
}

json_t *sgroup_settings_describe(const struct sgroup_setting *table, size_t n)
{
    json_t *arr = json_array();

    for (size_t i = 0; i < n; i++) {
        const struct sgroup_setting *s = &table[i];
        json_t *e =
            json_pack("{s:s,s:s,s:s,s:o,s:s,s:s}", "name", s->name, "section", s->section, "type",
                      type_name(s->type), "default", json_loads(s->def, JSON_DECODE_ANY, NULL),
                      "enforced", s->enforced == SGS_SERVER ? "server" : "client", "help", s->help);
        if (s->type == SGS_INT) {
            json_object_set_new(e, "min", json_integer(s->min));
            json_object_set_new(e, "max", json_integer(s->max));
        } else if (s->type == SGS_STRING_LIST) {
            json_object_set_new(e, "max_items", json_integer(s->max));
            json_object_set_new(e, "max_item_length", json_integer(s->item_max));
        } else if (s->type == SGS_ENUM) {
            json_t *c = json_array();
            for (size_t k = 0; s->choices[k]; k++)
                json_array_append_new(c, json_string(s->choices[k]));
            json_object_set_new(e, "choices", c);
        }
        json_array_append_new(arr, e);
    }
    return arr;
}

void sgroup_password_policy(const json_t *filled, struct sgroup_password_policy *out)
{
    out->min_len = (int)json_integer_value(json_object_get(filled, "password_min_length"));
    out->upper = json_is_true(json_object_get(filled, "password_require_uppercase"));
    out->lower = json_is_true(json_object_get(filled, "password_require_lowercase"));
    out->digit = json_is_true(json_object_get(filled, "password_require_digit"));
    out->symbol = json_is_true(json_object_get(filled, "password_require_symbol"));
}
