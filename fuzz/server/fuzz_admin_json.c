/* fuzz_admin_json.c - admin request bodies: the checked-body parser and
 * the security-group settings validator, on the same bytes, and the local
 * federation rule over the settings that pass (permitted_networks
 * entries are outside strings). */
#include "server/admin_json.h"
#include "server/federation.h"
#include "server/sgroup_settings.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static const char *const scopes[] = {"deployment", "network", NULL};
static const struct admin_field fields[] = {
    {"username", AF_NAME, false, 1, 64, NULL},  {"password", AF_STRING, false, 1, 1024, NULL},
    {"scope", AF_STRING, false, 1, 16, scopes}, {"count", AF_INT, false, 0, 100, NULL},
    {"on", AF_BOOL, false, 0, 0, NULL},         {"list", AF_ARRAY, false, 0, 10, NULL},
    {"settings", AF_OBJECT, false, 0, 0, NULL},
};

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    char err[512];
    json_t *obj = NULL;

    if (admin_json_parse(data, size, fields, ARRAY_SIZE(fields), &obj, err, sizeof(err)) == 0) {
        json_t *s = json_object_get(obj, "settings");
        const char *pw = admin_json_str(obj, "password", NULL);
        if (s && sgroup_settings_validate(sgroup_settings, sgroup_settings_count, s, err,
                                          sizeof(err)) == 0) {
            json_t *f = sgroup_settings_fill(sgroup_settings, sgroup_settings_count, s);
            struct fed_side a = {"net-a", f}, b = {"net-b", f};
            /* The rule is symmetric whatever the settings. */
            char why1[300], why2[300];
            if (fed_allows(&a, &b, why1, sizeof(why1)) != fed_allows(&b, &a, why2, sizeof(why2)))
                __builtin_trap();
            json_decref(f);
        }
        if (pw)
            admin_password_check(pw, "password", 8, true, true, true, true, err, sizeof(err));
        json_decref(obj);
    }
    return 0;
}
