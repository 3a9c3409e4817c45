/* rformat.c - retention log lines (docs/retention.md).
 *
 * Appendix B of the functional specification shows the fields sorted by
 * name, so lines are dumped with sorted keys; times are UTC; "msg_ts" is
 * seconds and microseconds as a string; "ttl" and "bor" at the top level
 * are dates, inside "control" they are seconds. Message ids appear both as
 * "message_id" (the current examples) and as "id" (Appendix A's table and
 * the older control-message examples), so tools written for either find
 * them. */
#include "rformat.h"

#include <jansson.h>
#include <openssl/crypto.h>
#include <openssl/rand.h>

#include "common/str.h"

/* The content fields each message type carries from the payload into the
 * line (Appendix B); everything else in a payload is the sender's to
 * invent and is not copied. */
static const struct {
    int lo, hi;
    const char *keys[3];
} content[] = {
    {1000, 1000, {"message", "links", NULL}}, {3000, 3000, {"keyverify", NULL, NULL}},
    {4001, 4014, {"control", NULL, NULL}},    {6000, 6000, {"file", NULL, NULL}},
    {7000, 7000, {"call", NULL, NULL}},       {8000, 8000, {"location", NULL, NULL}},
    {9000, 9000, {"edit", NULL, NULL}},
};

/* Control fields that hold user ids; the log shows usernames. */
static const char *const user_lists[] = {"members", "masters", "addedusers", "deletedusers"};

static void tm_of(int64_t ts_ms, struct tm *tm)
{
    time_t t = (time_t)(ts_ms / 1000);
    if (!gmtime_r(&t, tm))
        memset(tm, 0, sizeof(*tm));
}

void rformat_time(int64_t ts_ms, char out[RFORMAT_TIME_LEN])
{
    struct tm tm;
    int h;

    tm_of(ts_ms, &tm);
    h = tm.tm_hour % 12;
    snprintf(out, RFORMAT_TIME_LEN, "%d/%d/%02d %d:%02d %s", tm.tm_mon + 1, tm.tm_mday,
             tm.tm_year % 100, h ? h : 12, tm.tm_min, tm.tm_hour < 12 ? "AM" : "PM");
}

void rformat_time_iso(int64_t ts_ms, char out[RFORMAT_TIME_LEN])
{
    struct tm tm;

    tm_of(ts_ms, &tm);
    snprintf(out, RFORMAT_TIME_LEN, "%04d-%02d-%02d %02d:%02d:%02d.%03d", tm.tm_year + 1900,
             tm.tm_mon + 1, tm.tm_mday, tm.tm_hour, tm.tm_min, tm.tm_sec, (int)(ts_ms % 1000));
}

int rformat_attachment_name(int64_t ts_ms, const char *display, struct buf *out)
{
    struct tm tm;
    size_t start;
    int rc;

    tm_of(ts_ms, &tm);
    rc = buf_printf(out, "attachment_%04d%02d%02d%02d%02d%02d%03d_", tm.tm_year + 1900,
                    tm.tm_mon + 1, tm.tm_mday, tm.tm_hour, tm.tm_min, tm.tm_sec,
                    (int)(ts_ms % 1000));
    start = out->len;
    for (const char *p = display; rc == 0 && *p && out->len - start < 200; p++) {
        char ch = *p;
        bool ok = (ch >= 'a' && ch <= 'z') || (ch >= 'A' && ch <= 'Z') ||
                  (ch >= '0' && ch <= '9') || ch == '-' || ch == '_' || (ch == '.' && p != display);
        rc = buf_append_byte(out, ok ? (uint8_t)ch : '_');
    }
    if (rc == 0 && out->len == start)
        rc = buf_append_str(out, "file");
    return rc;
}

static bool is_id(const char *s)
{
    if (!s || strlen(s) != 32)
        return false;
    for (; *s; s++)
        if (!((*s >= '0' && *s <= '9') || (*s >= 'a' && *s <= 'f')))
            return false;
    return true;
}

/* Replace user ids in control.members (...) with names. */
static int name_users(json_t *ctl, rformat_name_fn name, void *arg)
{
    for (size_t i = 0; i < ARRAY_SIZE(user_lists); i++) {
        json_t *arr = json_object_get(ctl, user_lists[i]), *v;
        size_t j;
        if (!json_is_array(arr) || !name)
            continue;
        json_array_foreach(arr, j, v)
        {
            char *n = NULL;
            if (!is_id(json_string_value(v)) || name(arg, json_string_value(v), &n) < 0 || !n) {
                free(n);
                continue;
            }
            if (json_array_set_new(arr, j, json_string(n)) < 0) {
                free(n);
                return PARLEY_ENOMEM;
            }
            free(n);
        }
    }
    return 0;
}

/* Appendix B shows links as objects; a payload may carry plain strings. */
static int normalise_links(json_t *links)
{
    json_t *v;
    size_t i;

    json_array_foreach(links, i, v)
    {
        if (json_is_string(v) && json_array_set_new(links, i, json_pack("{s:O}", "url", v)) < 0)
            return PARLEY_ENOMEM;
    }
    return 0;
}

static int set_str(json_t *o, const char *k, const char *v)
{
    return json_object_set_new(o, k, json_string(v)) < 0 ? PARLEY_ENOMEM : 0;
}

/* Copy the content fields of `type` from the payload into the line. */
static int copy_content(json_t *line, json_t *payload, int type, const struct rformat_msg *m,
                        rformat_name_fn name, void *arg)
{
    char when[RFORMAT_TIME_LEN];
    size_t i;
    int rc = 0;

    for (i = 0; i < ARRAY_SIZE(content); i++)
        if (type >= content[i].lo && type <= content[i].hi)
            break;
    if (i == ARRAY_SIZE(content))
        return PARLEY_EPROTO;
    for (size_t k = 0; k < ARRAY_SIZE(content[i].keys) && content[i].keys[k]; k++) {
        json_t *v = json_object_get(payload, content[i].keys[k]);
        if (v && json_object_set(line, content[i].keys[k], v) < 0)
            return PARLEY_ENOMEM;
    }
    json_t *ctl = json_object_get(line, "control");
    json_t *links = json_object_get(line, "links");
    json_t *file = json_object_get(line, "file");
    if (json_is_object(file)) {
        /* Appendix A's file fields only: the payload also carries the
         * file's key, which has no place in a log. */
        json_t *kept = json_object();
        static const char *const file_keys[] = {"filename", "guid", "isscreenshot"};
        if (!kept)
            return PARLEY_ENOMEM;
        for (size_t k = 0; k < ARRAY_SIZE(file_keys); k++) {
            json_t *v = json_object_get(file, file_keys[k]);
            if ((k < 2 ? json_is_string(v) : json_is_boolean(v)) &&
                json_object_set(kept, file_keys[k], v) < 0) {
                json_decref(kept);
                return PARLEY_ENOMEM;
            }
        }
        if (json_object_set_new(line, "file", kept) < 0)
            return PARLEY_ENOMEM;
        file = kept;
    }
    if (json_is_object(ctl)) {
        /* Appendix B repeats the type inside every control object. */
        if (json_object_set_new(ctl, "msgtype", json_integer(type)) < 0)
            return PARLEY_ENOMEM;
        rc = name_users(ctl, name, arg);
    }
    if (rc == 0 && json_is_array(links))
        rc = normalise_links(links);
    if (rc == 0 && json_is_object(file)) {
        rformat_time(m->ts_ms, when);
        if (m->localfilename)
            rc = set_str(file, "localfilename", m->localfilename);
        if (rc == 0)
            rc = set_str(file, "uploadedbyuser", m->sender);
        if (rc == 0)
            rc = set_str(file, "uploadedtimestamp", when);
    }
    return rc;
}

/* Reals are written with the fewest digits that read back as the same
 * double (40.75017899435506 needs 16, -74.99 only 4, where a fixed
 * precision prints -74.98999999999999). jansson has one precision per
 * dump, so each real is first replaced by a marker string holding a
 * per-line random nonce that no payload can guess, and the markers are
 * then replaced by the numbers' text. */
struct reals {
    char nonce[17];
    char (*text)[40];
    size_t n, cap;
};

static void shortest(double d, char out[40])
{
    for (int prec = 1; prec <= 17; prec++) {
        snprintf(out, 40, "%.*g", prec, d);
        if (strtod(out, NULL) == d)
            break;
    }
    /* A JSON number that reads as a real keeps its point or exponent. */
    if (!strpbrk(out, ".eEn"))
        strlcpy_p(out + strlen(out), ".0", 40 - strlen(out));
}

/* The marker for real `x` (recording its text), or NULL on ENOMEM. */
static json_t *mark(json_t *x, struct reals *r)
{
    char m[64];

    if (r->n == r->cap) {
        size_t cap = r->cap ? 2 * r->cap : 8;
        void *g = realloc(r->text, cap * sizeof(*r->text));
        if (!g)
            return NULL;
        r->text = g;
        r->cap = cap;
    }
    shortest(json_real_value(x), r->text[r->n]);
    snprintf(m, sizeof(m), "@%s:%zu@", r->nonce, r->n++);
    return json_string(m);
}

static int mark_reals(json_t *v, struct reals *r)
{
    const char *k;
    json_t *x;
    size_t i;
    void *tmp;
    int rc = 0;

    if (json_is_object(v)) {
        json_object_foreach_safe(v, tmp, k, x)
        {
            if (json_is_real(x))
                rc = json_object_set_new(v, k, mark(x, r)) < 0 ? PARLEY_ENOMEM : 0;
            else
                rc = mark_reals(x, r);
            if (rc < 0)
                return rc;
        }
    } else if (json_is_array(v)) {
        json_array_foreach(v, i, x)
        {
            if (json_is_real(x))
                rc = json_array_set_new(v, i, mark(x, r)) < 0 ? PARLEY_ENOMEM : 0;
            else
                rc = mark_reals(x, r);
            if (rc < 0)
                return rc;
        }
    }
    return 0;
}

/* Append `text` to out with every "\"@nonce:i@\"" replaced by real i. */
static int unmark_reals(const char *text, const struct reals *r, struct buf *out)
{
    char prefix[24];
    const char *p = text, *q;
    int rc = 0;

    snprintf(prefix, sizeof(prefix), "\"@%s:", r->nonce);
    while (rc == 0 && r->n && (q = strstr(p, prefix))) {
        char *end;
        unsigned long i = strtoul(q + strlen(prefix), &end, 10);
        if (end[0] != '@' || end[1] != '"' || i >= r->n) {
            rc = buf_append(out, p, (size_t)(q - p) + 1);
            p = q + 1;
            continue;
        }
        rc = buf_append(out, p, (size_t)(q - p));
        if (rc == 0)
            rc = buf_append_str(out, r->text[i]);
        p = end + 2;
    }
    return rc == 0 ? buf_append_str(out, p) : rc;
}

int rformat_line(const struct rformat_msg *m, rformat_name_fn name, void *arg, struct buf *out)
{
    char when[RFORMAT_TIME_LEN], iso[RFORMAT_TIME_LEN], ts[48];
    json_t *payload, *line = NULL, *mt;
    struct reals reals = {0};
    char *text = NULL;
    size_t start = out->len;
    int type, rc;

    payload = json_loads(m->payload, JSON_REJECT_DUPLICATES, NULL);
    mt = json_object_get(payload, "msgtype");
    if (!json_is_object(payload) || !json_is_integer(mt) || json_integer_value(mt) < 1 ||
        json_integer_value(mt) > 99999) {
        rc = PARLEY_EPROTO;
        goto out;
    }
    type = (int)json_integer_value(mt);
    if (!(line = json_object())) {
        rc = PARLEY_ENOMEM;
        goto out;
    }
    rc = copy_content(line, payload, type, m, name, arg);
    if (rc < 0)
        goto out;

    rformat_time(m->ts_ms, when);
    rformat_time_iso(m->ts_ms, iso);
    snprintf(ts, sizeof(ts), "%lld.%06lld", (long long)(m->ts_ms / 1000),
             (long long)(m->ts_ms % 1000) * 1000);
    rc = set_str(line, "id", m->msg_id);
    if (rc == 0)
        rc = set_str(line, "message_id", m->msg_id);
    if (rc == 0)
        rc = set_str(line, "msg_ts", ts);
    if (rc == 0 && json_object_set_new(line, "msgtype", json_integer(type)) < 0)
        rc = PARLEY_ENOMEM;
    if (rc == 0)
        rc = set_str(line, "sender", m->sender);
    if (rc == 0)
        rc = set_str(line, "sender_type", m->sender_is_guest ? "guest" : "normal");
    if (rc == 0 && m->receiver)
        rc = set_str(line, "receiver", m->receiver);
    if (rc == 0)
        rc = set_str(line, "time", when);
    if (rc == 0)
        rc = set_str(line, "time_iso", iso);
    if (rc == 0 && m->expires_at) {
        char ttl[RFORMAT_TIME_LEN];
        rformat_time((int64_t)m->expires_at * 1000, ttl);
        rc = set_str(line, "ttl", ttl);
    }
    if (rc == 0 && m->burn_on_read) {
        char bor[RFORMAT_TIME_LEN];
        rformat_time(m->ts_ms + (int64_t)m->bor_s * 1000, bor);
        rc = set_str(line, "bor", bor);
    }
    if (rc == 0)
        rc = set_str(line, "vgroupid", m->vgroupid);
    if (rc < 0)
        goto out;
    /* JSON_COMPACT leaves no newline inside: one object per line. */
    {
        uint8_t rnd[8];
        if (RAND_bytes(rnd, sizeof(rnd)) != 1) {
            rc = PARLEY_ECRYPTO;
            goto out;
        }
        hex_encode(rnd, sizeof(rnd), reals.nonce);
    }
    if ((rc = mark_reals(line, &reals)) < 0)
        goto out;
    text = json_dumps(line, JSON_COMPACT | JSON_SORT_KEYS);
    if (!text) {
        rc = PARLEY_ENOMEM;
        goto out;
    }
    start = out->len;
    rc = unmark_reals(text, &reals, out);
    if (rc == 0 && out->len - start + 1 > RFORMAT_MAX_LINE)
        rc = PARLEY_ETOOBIG;
    if (rc == 0)
        rc = buf_append_byte(out, '\n');
    if (rc < 0 && out->data) {
        out->len = start;
        out->data[start] = '\0';
    }
out:
    if (text) {
        OPENSSL_cleanse(text, strlen(text));
        free(text);
    }
    free(reals.text);
    json_decref(line);
    json_decref(payload);
    return rc;
}
