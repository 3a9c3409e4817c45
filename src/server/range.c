/* range.c - Range and Content-Range header values. See range.h. */
#include "range.h"

#define RANGE_MAX_OFFSET (1ull << 62)

/* Decimal digits at *p into *v; advances *p. False when there are none or
 * the number is too large. */
static bool digits(const char **p, uint64_t *v)
{
    const char *s = *p;
    uint64_t n = 0;

    if (*s < '0' || *s > '9')
        return false;
    for (; *s >= '0' && *s <= '9'; s++) {
        n = n * 10 + (uint64_t)(*s - '0');
        if (n >= RANGE_MAX_OFFSET)
            return false;
    }
    *v = n;
    *p = s;
    return true;
}

enum range_result range_parse(const char *value, uint64_t size, struct range *out)
{
    const char *p = value;
    uint64_t a, b;

    if (strncmp(p, "bytes=", 6) != 0)
        return RANGE_IGNORE;
    p += 6;
    if (*p == '-') { /* the last b bytes */
        p++;
        if (!digits(&p, &b) || *p || b == 0)
            return RANGE_IGNORE;
        if (size == 0)
            return RANGE_UNSATISFIABLE;
        out->first = b >= size ? 0 : size - b;
        out->last = size - 1;
        return RANGE_OK;
    }
    if (!digits(&p, &a) || *p++ != '-')
        return RANGE_IGNORE;
    if (*p == 0) {
        b = size ? size - 1 : 0;
    } else if (!digits(&p, &b) || *p || b < a) {
        return RANGE_IGNORE;
    }
    if (a >= size)
        return RANGE_UNSATISFIABLE;
    out->first = a;
    out->last = b >= size ? size - 1 : b;
    return RANGE_OK;
}

int content_range_parse(const char *value, struct content_range *out, char *err, size_t errlen)
{
    const char *p = value;

    memset(out, 0, sizeof(*out));
    if (strncmp(p, "bytes ", 6) != 0)
        goto bad;
    p += 6;
    if (!digits(&p, &out->first) || *p++ != '-' || !digits(&p, &out->last) || *p++ != '/')
        goto bad;
    if (p[0] == '*' && p[1] == 0) {
        out->has_total = false;
    } else {
        if (!digits(&p, &out->total) || *p)
            goto bad;
        out->has_total = true;
    }
    if (out->last < out->first) {
        snprintf(err, errlen, "Content-Range: the last byte comes before the first");
        return PARLEY_EINVAL;
    }
    if (out->has_total && out->last >= out->total) {
        snprintf(err, errlen, "Content-Range: the part ends beyond the total length");
        return PARLEY_EINVAL;
    }
    return 0;
bad:
    snprintf(err, errlen,
             "Content-Range must be \"bytes FIRST-LAST/TOTAL\" or \"bytes FIRST-LAST/*\" "
             "(decimal byte offsets, LAST inclusive)");
    return PARLEY_EINVAL;
}
