/* admin_json.c - checked JSON request bodies; see admin_json.h. */
#include "admin_json.h"

#include <ctype.h>

static bool has_control(const char *s)
{
    for (; *s; s++)
        if ((unsigned char)*s < 0x20 || *s == 0x7f)
            return true;
    return false;
}

static bool is_name(const char *s)
{
    for (; *s; s++)
        if (!isalnum((unsigned char)*s) && !strchr("._-@+", *s))
            return false;
    return true;
}

static const char *type_word(enum admin_field_type t)
{
    static const char *const words[] = {"a string",  "a string", "an integer",
                                        "a boolean", "an array", "an object"};
    return words[t];
}

static const char *json_type_word(const json_t *v)
{
    switch (json_typeof(v)) {
    case JSON_OBJECT:
        return "an object";
    case JSON_ARRAY:
        return "an array";
    case JSON_STRING:
        return "a string";
    case JSON_INTEGER:
        return "an integer";
    case JSON_REAL:
        return "a number with a fraction";
    case JSON_TRUE:
    case JSON_FALSE:
        return "a boolean";
    case JSON_NULL:
        return "null";
    }
    return "something else";
}

static int check_choices(const struct admin_field *f, const char *s, char *err, size_t errlen)
{
    char list[256] = "";
    size_t used = 0;

    if (!f->choices)
        return 0;
    for (size_t i = 0; f->choices[i]; i++) {
        if (strcmp(f->choices[i], s) == 0)
            return 0;
        used += (size_t)snprintf(list + used, used < sizeof(list) ? sizeof(list) - used : 0,
                                 "%s'%s'", i ? ", " : "", f->choices[i]);
    }
    snprintf(err, errlen, "field '%s' must be one of %s", f->name, list);
    return PARLEY_EINVAL;
}

static int check_field(const struct admin_field *f, const json_t *v, char *err, size_t errlen)
{
    bool type_ok;

    switch (f->type) {
    case AF_STRING:
    case AF_NAME:
        type_ok = json_is_string(v);
        break;
    case AF_INT:
        type_ok = json_is_integer(v);
        break;
    case AF_BOOL:
        type_ok = json_is_boolean(v);
        break;
    case AF_ARRAY:
        type_ok = json_is_array(v);
        break;
    default:
        type_ok = json_is_object(v);
        break;
    }
    if (!type_ok) {
        snprintf(err, errlen, "field '%s' must be %s, not %s", f->name, type_word(f->type),
                 json_type_word(v));
        return PARLEY_EINVAL;
    }
    if (f->type == AF_STRING || f->type == AF_NAME) {
        const char *s = json_string_value(v);
        size_t len = json_string_length(v);
        if ((int64_t)len < f->min || (int64_t)len > f->max || strlen(s) != len) {
            snprintf(err, errlen, "field '%s' must be %lld to %lld bytes long (got %zu)", f->name,
                     (long long)f->min, (long long)f->max, len);
            return PARLEY_EINVAL;
        }
        if (has_control(s)) {
            snprintf(err, errlen, "field '%s' must not contain control characters", f->name);
            return PARLEY_EINVAL;
        }
        if (f->type == AF_NAME && !is_name(s)) {
            snprintf(err, errlen,
                     "field '%s' may contain only letters, digits and the characters . _ - @ +",
                     f->name);
            return PARLEY_EINVAL;
        }
        return check_choices(f, s, err, errlen);
    }
    if (f->type == AF_INT) {
        json_int_t x = json_integer_value(v);
        if (x < f->min || x > f->max) {
            snprintf(err, errlen, "field '%s' must be from %lld to %lld (got %lld)", f->name,
                     (long long)f->min, (long long)f->max, (long long)x);
            return PARLEY_EINVAL;
        }
    }
    if (f->type == AF_ARRAY && (int64_t)json_array_size(v) > f->max) {
        snprintf(err, errlen, "field '%s' may hold at most %lld elements (got %zu)", f->name,
                 (long long)f->max, json_array_size(v));
        return PARLEY_EINVAL;
    }
    return 0;
}

int admin_json_parse(const void *body, size_t len, const struct admin_field *fields, size_t n,
                     json_t **out, char *err, size_t errlen)
{
    json_error_t je;
    json_t *obj;
    const char *key;
    json_t *v;

    *out = NULL;
    if (len == 0) {
        obj = json_object();
    } else {
        obj = json_loadb(body, len, JSON_REJECT_DUPLICATES, &je);
        if (!obj) {
            snprintf(err, errlen,
                     "field 'body' is not valid JSON (line %d, column %d: %s); send one JSON "
                     "object",
                     je.line, je.column, je.text);
            return PARLEY_EINVAL;
        }
    }
    if (!json_is_object(obj)) {
        snprintf(err, errlen, "field 'body' must be a JSON object, not %s", json_type_word(obj));
        goto fail;
    }
    json_object_foreach(obj, key, v)
    {
        size_t i;
        for (i = 0; i < n && strcmp(fields[i].name, key) != 0; i++)
            ;
        if (i == n) {
            char known[384] = "";
            size_t used = 0;
            for (size_t k = 0; k < n; k++)
                used +=
                    (size_t)snprintf(known + used, used < sizeof(known) ? sizeof(known) - used : 0,
                                     "%s%s", k ? ", " : "", fields[k].name);
            snprintf(err, errlen, "field '%.64s' is not known here; known fields: %s", key,
                     n ? known : "none");
            goto fail;
        }
        if (check_field(&fields[i], v, err, errlen) < 0)
            goto fail;
    }
    for (size_t i = 0; i < n; i++) {
        if (fields[i].required && !json_object_get(obj, fields[i].name)) {
            snprintf(err, errlen, "field '%s' is required (%s)", fields[i].name,
                     type_word(fields[i].type));
            goto fail;
        }
    }
    *out = obj;
    return 0;
fail:
    json_decref(obj);
    return PARLEY_EINVAL;
}

const char *admin_json_str(const json_t *obj, const char *name, const char *def)
{
    const char *s = json_string_value(json_object_get(obj, name));
    return s ? s : def;
}

int admin_password_check(const char *pw, const char *what, int min_len, bool need_upper,
                         bool need_lower, bool need_digit, bool need_symbol, char *err,
                         size_t errlen)
{
    bool up = false, low = false, dig = false, sym = false;
    size_t len = strlen(pw);

    for (const char *p = pw; *p; p++) {
        unsigned char c = (unsigned char)*p;
        if (isupper(c))
            up = true;
        else if (islower(c))
            low = true;
        else if (isdigit(c))
            dig = true;
        else
            sym = true;
    }
    if ((int64_t)len < min_len || len > 1024 || (need_upper && !up) || (need_lower && !low) ||
        (need_digit && !dig) || (need_symbol && !sym)) {
        snprintf(err, errlen,
                 "field '%s' does not meet the password policy: at least %d characters%s%s%s%s",
                 what, min_len, need_upper ? ", an uppercase letter" : "",
                 need_lower ? ", a lowercase letter" : "", need_digit ? ", a digit" : "",
                 need_symbol ? ", a symbol (not a letter or digit)" : "");
        return PARLEY_EINVAL;
    }
    return 0;
}
