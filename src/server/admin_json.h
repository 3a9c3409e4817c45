/* admin_json.h - checked JSON request bodies for the admin API.
 *
 * Each admin endpoint with a body declares its fields in a table; the body
 * must be one JSON object (duplicate keys refused) with no member outside
 * the table, each of the declared type and within its bounds. Errors name
 * the field and say what to send instead, so the API can answer 400 with a
 * message an operator can act on. Bytes from outside: see
 * fuzz/server/fuzz_admin_json.c. */
#ifndef PARLEY_SERVER_ADMIN_JSON_H
#define PARLEY_SERVER_ADMIN_JSON_H

#include "common/compat.h"

#include <jansson.h>

enum admin_field_type {
    AF_STRING, /* length in bytes within [min, max]; no control characters */
    AF_NAME,   /* AF_STRING of letters, digits and . _ - @ + only */
    AF_INT,    /* integer within [min, max] */
    AF_BOOL,
    AF_ARRAY,  /* array of at most max elements (checked by the caller) */
    AF_OBJECT, /* object (checked by the caller) */
};

struct admin_field {
    const char *name;
    enum admin_field_type type;
    bool required;
    int64_t min, max;
    const char *const *choices; /* AF_STRING: the allowed values, NULL-terminated */
};

#define ADMIN_BODY_MAX_DEPTH 8

/* Parse `len` bytes at `body` and check them against fields[0..n). On
 * success returns 0 and sets *out (json_decref it). Otherwise returns
 * PARLEY_EINVAL and writes a message naming the field into err. An empty
 * body is an empty object (every field then must be optional). */
int admin_json_parse(const void *body, size_t len, const struct admin_field *fields, size_t n,
                     json_t **out, char *err, size_t errlen);

/* The string member `name` of `obj`, or `def` if absent. */
const char *admin_json_str(const json_t *obj, const char *name, const char *def);

/* Check a password against a policy: at least min_len bytes (at most 1024)
 * and, when asked, an uppercase letter, a lowercase letter, a digit and a
 * character that is none of these. On failure returns PARLEY_EINVAL with a
 * message that states the whole policy. `what` names the field. */
int admin_password_check(const char *pw, const char *what, int min_len, bool need_upper,
                         bool need_lower, bool need_digit, bool need_symbol, char *err,
                         size_t errlen);

#endif
