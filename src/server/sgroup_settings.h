/* sgroup_settings.h - every security-group and network setting, in one table.
 *
 * sgroup_settings.c declares each setting once: its name, the section of
 * the security-group page it belongs to (General, Messaging, Calling,
 * Security, Push configuration, Federation), its type, default and bounds,
 * whether the server enforces it or delivers it to clients to enforce, and
 * a help text. The admin API validates updates against the table, lists it
 * for the console (GET /api/v1/admin/settings/security-group) and fills
 * defaults in when the messaging server reads a group's settings.
 *
 * Stored form: security_groups.settings and networks.settings hold a JSON
 * object of the values set explicitly; absent keys take the default. */
#ifndef PARLEY_SERVER_SGROUP_SETTINGS_H
#define PARLEY_SERVER_SGROUP_SETTINGS_H

#include "common/compat.h"

#include <jansson.h>

struct store_conn;

enum sgroup_setting_type {
    SGS_BOOL,
    SGS_INT,         /* integer in [min, max] */
    SGS_ENUM,        /* one of choices[] */
    SGS_STRING_LIST, /* array of at most max strings, each 1..item_max bytes */
};

enum sgroup_enforcement {
    SGS_SERVER, /* parleyd enforces it */
    SGS_CLIENT, /* delivered to clients, which enforce it */
};

struct sgroup_setting {
    const char *name;
    const char *section;
    enum sgroup_setting_type type;
    const char *def; /* JSON text of the default */
    int64_t min, max;
    int64_t item_max; /* SGS_STRING_LIST: longest item */
    const char *const *choices;
    enum sgroup_enforcement enforced;
    const char *help;
};

/* The tables: security-group settings, and network-wide settings (network
 * profile: read receipts, event logging). */
extern const struct sgroup_setting sgroup_settings[];
extern const size_t sgroup_settings_count;
extern const struct sgroup_setting sgroup_network_settings[];
extern const size_t sgroup_network_settings_count;

#define SGROUP_MAX_PER_NETWORK 100
#define SGROUP_DEFAULT_NAME    "Default"

/* Check `update` (a JSON object of setting name -> value) against a table
 * without changing anything. Returns 0, or PARLEY_EINVAL with a message
 * naming the setting, its bound and the value given. */
int sgroup_settings_validate(const struct sgroup_setting *table, size_t n, const json_t *update,
                             char *err, size_t errlen);

/* `stored` (may be NULL) with every setting of the table present: absent
 * ones get their default, unknown stored keys are dropped. Returns a new
 * object. */
json_t *sgroup_settings_fill(const struct sgroup_setting *table, size_t n, const json_t *stored);

/* The settings of security group `security_group_id` with defaults filled
 * in, for the messaging server to enforce (max_expiration,
 * max_upload_bytes, file_attachments, audio_calling, ...). Sets *out to a
 * new object (json_decref it). Returns 0, PARLEY_ENOTFOUND if there is no
 * such group, or a store error. Safe on any thread with its own
 * connection. */
int sgroup_settings_get(struct store_conn *c, int64_t security_group_id, json_t **out);

/* The table as JSON, for the console and the API documentation. */
json_t *sgroup_settings_describe(const struct sgroup_setting *table, size_t n);

/* The password policy of a filled settings object. */
struct sgroup_password_policy {
    int min_len;
    bool upper, lower, digit, symbol;
};
void sgroup_password_policy(const json_t *filled, struct sgroup_password_policy *out);

#endif
