/* admin_csv.c - a bounded RFC 4180 reader; see admin_csv.h. */
#include "admin_csv.h"

struct reader {
    char *fields[ADMIN_CSV_MAX_FIELDS];
    char *store; /* one buffer for the current record's fields */
    size_t used, cap;
    size_t n;
};

static int push_byte(struct reader *rd, char c, size_t field_len, size_t row, char *err,
                     size_t errlen)
{
    if (field_len >= ADMIN_CSV_MAX_FIELD) {
        snprintf(err, errlen, "row %zu: a field is over %d bytes", row, ADMIN_CSV_MAX_FIELD);
        return PARLEY_EINVAL;
    }
    rd->store[rd->used++] = c;
    return 0;
}

static int end_field(struct reader *rd, size_t start, size_t row, char *err, size_t errlen)
{
    if (rd->n >= ADMIN_CSV_MAX_FIELDS) {
        snprintf(err, errlen, "row %zu: more than %d fields", row, ADMIN_CSV_MAX_FIELDS);
        return PARLEY_EINVAL;
    }
    rd->store[rd->used++] = 0;
    rd->fields[rd->n++] = rd->store + start;
    return 0;
}

int admin_csv_parse(const char *data, size_t len, admin_csv_row_fn fn, void *arg, char *err,
                    size_t errlen)
{
    struct reader rd = {.n = 0};
    size_t i = 0, row = 1, start = 0;
    bool quoted = false, in_quotes = false, after_quote = false, blank = true;
    int rc = 0;

    if (errlen)
        err[0] = 0;
    if (len >= 3 && memcmp(data, "\xEF\xBB\xBF", 3) == 0)
        i = 3;
    /* Every field byte and one NUL per field fit in len + fields + 1. */
    rd.cap = len + ADMIN_CSV_MAX_FIELDS + 2;
    rd.store = malloc(rd.cap);
    if (!rd.store)
        return PARLEY_ENOMEM;
    for (; i <= len && rc == 0; i++) {
        char c = i < len ? data[i] : '\n';
        bool at_end = i == len;
        if (c == 0) {
            snprintf(err, errlen, "row %zu: a NUL byte", row);
            rc = PARLEY_EINVAL;
            break;
        }
        if (in_quotes) {
            if (at_end) {
                snprintf(err, errlen, "row %zu: a quoted field is not closed", row);
                rc = PARLEY_EINVAL;
            } else if (c == '"' && i + 1 < len && data[i + 1] == '"') {
                rc = push_byte(&rd, '"', rd.used - start, row, err, errlen);
                i++;
            } else if (c == '"') {
                in_quotes = false;
                after_quote = true;
            } else {
                rc = push_byte(&rd, c, rd.used - start, row, err, errlen);
            }
            continue;
        }
        if (c == ',' || c == '\n' || (c == '\r' && i + 1 < len && data[i + 1] == '\n') ||
            (c == '\r' && i + 1 == len)) {
            if (c == '\r')
                i++; /* CRLF is one record end (RFC 4180 §2.1) */
            if (c == ',')
                blank = false;
            rc = end_field(&rd, start, row, err, errlen);
            start = rd.used;
            quoted = after_quote = false;
            if (rc == 0 && c != ',') {
                if (!blank) {
                    if (row > ADMIN_CSV_MAX_ROWS) {
                        snprintf(err, errlen, "more than %d rows", ADMIN_CSV_MAX_ROWS);
                        rc = PARLEY_EINVAL;
                    } else {
                        rc = fn(arg, row, rd.fields, rd.n);
                    }
                    row++;
                }
                rd.n = 0;
                rd.used = start = 0;
                blank = true;
            }
            continue;
        }
        blank = false;
        if (c == '"' && rd.used == start && !quoted) {
            quoted = in_quotes = true;
            continue;
        }
        if (c == '"' || after_quote) {
            snprintf(err, errlen,
                     "row %zu: a quote inside a field (quote the field and double "
                     "the quote)",
                     row);
            rc = PARLEY_EINVAL;
            break;
        }
        rc = push_byte(&rd, c, rd.used - start, row, err, errlen);
    }
    free(rd.store);
    return rc;
}

char *admin_csv_unguard(char *s)
{
    size_t n;
    while (*s == ' ' || *s == '\t')
        memmove(s, s + 1, strlen(s));
    n = strlen(s);
    while (n && (s[n - 1] == ' ' || s[n - 1] == '\t'))
        s[--n] = 0;
    if (s[0] == '\'' && s[1] && strchr("=+-@\t\r", s[1]))
        memmove(s, s + 1, n);
    return s;
}
