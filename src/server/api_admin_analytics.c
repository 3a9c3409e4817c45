/* api_admin_analytics.c - the network analytics dashboard: Overview,
 * Members and Messages for a UTC time range, as JSON or CSV.
 *
 * Every figure is computed from the tables as they are: users (status,
 * activated_at), devices (platform, client_version, last_seen),
 * client_sessions (sign-ins), envelopes (messages) and, for deletions,
 * the audit log (users are deleted outright, so the audit entries are the
 * record). SQL groups rows by UTC day index from the start of the range,
 * the same expression in both dialects; days are then folded into the
 * requested interval (day, ISO week from Monday, calendar month) here.
 * Calls and files are not stored yet: their figures are 0 and the reply
 * says so in `unavailable`. */
#include "api_admin.h"
#include "api_admin_tools.h"
#include "common/buf.h"
#include "common/str.h"
#include "store.h"

#define DAY            86400
#define MAX_RANGE_DAYS 400

enum interval { IV_DAY, IV_WEEK, IV_MONTH };

struct range {
    int64_t from, to; /* from: UTC midnight; to: exclusive */
    enum interval iv;
    bool csv;
};

/* The start of the bucket holding `t`. */
static int64_t bucket_of(int64_t t, enum interval iv)
{
    time_t tt = (time_t)t;
    struct tm tm;
    gmtime_r(&tt, &tm);
    tm.tm_hour = tm.tm_min = tm.tm_sec = 0;
    if (iv == IV_WEEK)
        tm.tm_mday -= (tm.tm_wday + 6) % 7; /* back to Monday */
    else if (iv == IV_MONTH)
        tm.tm_mday = 1;
    return (int64_t)timegm(&tm);
}

static void label(int64_t t, char out[16])
{
    time_t tt = (time_t)t;
    struct tm tm;
    gmtime_r(&tt, &tm);
    strftime(out, 16, "%Y-%m-%d", &tm);
}

/* Parse from/to/interval/format; replies 400 and returns false on bad
 * values. Defaults: the last 30 days, daily, JSON. */
static bool parse_range(struct http_req *req, struct range *r)
{
    int64_t now = (int64_t)time(NULL), from = -1, to = now;
    char iv[16] = "day", fmt[16] = "json";

    if (!api_admin_query_int(req, "to", 0, 253402300799LL, &to) ||
        !api_admin_query_int(req, "from", 0, 253402300799LL, &from))
        return false;
    if (from < 0)
        from = to - 30 * DAY;
    api_admin_query(req, "interval", iv, sizeof(iv));
    api_admin_query(req, "format", fmt, sizeof(fmt));
    if (strcmp(iv, "day") == 0)
        r->iv = IV_DAY;
    else if (strcmp(iv, "week") == 0)
        r->iv = IV_WEEK;
    else if (strcmp(iv, "month") == 0)
        r->iv = IV_MONTH;
    else {
        http_reply_error(req, 400, "bad_request",
                         "query parameter 'interval' must be day, week or month");
        return false;
    }
    if (strcmp(fmt, "json") != 0 && strcmp(fmt, "csv") != 0) {
        http_reply_error(req, 400, "bad_request", "query parameter 'format' must be json or csv");
        return false;
    }
    r->csv = strcmp(fmt, "csv") == 0;
    r->from = from - from % DAY;
    r->to = to;
    if (r->to <= r->from || (r->to - r->from) / DAY > MAX_RANGE_DAYS) {
        http_reply_error(req, 400, "bad_request",
                         "query parameters 'from' and 'to' must be unix times with from before "
                         "to, at most %d days apart",
                         MAX_RANGE_DAYS);
        return false;
    }
    return true;
}

/* An empty series: every bucket of the range, in order, at 0. */
static json_t *series_new(const struct range *r)
{
    json_t *s = json_object();
    char l[16];
    for (int64_t b = bucket_of(r->from, r->iv); b < r->to;) {
        label(b, l);
        json_object_set_new(s, l, json_integer(0));
        b = r->iv == IV_MONTH ? bucket_of(b + 32 * DAY, IV_MONTH)
                              : b + (r->iv == IV_WEEK ? 7 : 1) * DAY;
    }
    return s;
}

static void series_add(json_t *s, const struct range *r, int64_t day, int64_t n)
{
    char l[16];
    json_t *v;
    label(bucket_of(r->from + day * DAY, r->iv), l);
    v = json_object_get(s, l);
    if (v)
        json_integer_set(v, json_integer_value(v) + n);
}

/* `sql` selects (day index, count) with $1 = network, $2 = from, $3 = to. */
static int series_sum(struct admin_ctx *ctx, const struct range *r, const char *sql, json_t **out)
{
    struct store_val p[] = {STORE_INT(ctx->net), STORE_INT(r->from), STORE_INT(r->to)};
    struct store_rows *rows = NULL;
    int rc = store_query(ctx->c, sql, p, 3, &rows);

    *out = series_new(r);
    while (rc == 0 && (rc = store_rows_next(rows)) == 1) {
        series_add(*out, r, store_rows_int(rows, 0), store_rows_int(rows, 1));
        rc = 0;
    }
    store_rows_free(rows);
    return rc;
}

/* `sql` selects distinct (user id, day index): count distinct users per
 * bucket (a user active on two days of a week counts once that week). */
static int series_distinct(struct admin_ctx *ctx, const struct range *r, const char *sql,
                           json_t **out)
{
    struct store_val p[] = {STORE_INT(ctx->net), STORE_INT(r->from), STORE_INT(r->to)};
    struct store_rows *rows = NULL;
    json_t *seen = json_object();
    int rc = store_query(ctx->c, sql, p, 3, &rows);

    *out = series_new(r);
    while (rc == 0 && (rc = store_rows_next(rows)) == 1) {
        char key[48], l[16];
        label(bucket_of(r->from + store_rows_int(rows, 1) * DAY, r->iv), l);
        snprintf(key, sizeof(key), "%s/%lld", l, (long long)store_rows_int(rows, 0));
        if (!json_object_get(seen, key)) {
            json_object_set_new(seen, key, json_true());
            series_add(*out, r, store_rows_int(rows, 1), 1);
        }
        rc = 0;
    }
    store_rows_free(rows);
    json_decref(seen);
    return rc;
}

/* `sql` selects (name, count) with $1 = network and, if it uses them, $2
 * = from and $3 = to. */
static int breakdown(struct admin_ctx *ctx, const struct range *r, const char *sql, json_t **out)
{
    struct store_val p[] = {STORE_INT(ctx->net), STORE_INT(r->from), STORE_INT(r->to)};
    struct store_rows *rows = NULL;
    int rc = store_query(ctx->c, sql, p, strstr(sql, "$3") ? 3 : 1, &rows);

    *out = json_object();
    while (rc == 0 && (rc = store_rows_next(rows)) == 1) {
        const char *k = store_rows_text(rows, 0);
        json_object_set_new(*out, k && *k ? k : "unknown",
                            json_integer((json_int_t)store_rows_int(rows, 1)));
        rc = 0;
    }
    store_rows_free(rows);
    return rc;
}

static int scalar(struct admin_ctx *ctx, const struct range *r, const char *sql, json_t *obj,
                  const char *key)
{
    struct store_val p[] = {STORE_INT(ctx->net), STORE_INT(r->from), STORE_INT(r->to),
                            STORE_TEXT(ctx->network_id)};
    int64_t n = 0;
    int rc = store_query_int(ctx->c, sql, p, strstr(sql, "$4") ? 4 : strstr(sql, "$3") ? 3 : 1, &n);
    if (rc == PARLEY_ENOTFOUND)
        rc = 0, n = 0;
    json_object_set_new(obj, key, json_integer((json_int_t)n));
    return rc;
}

/* The users of this network who sign in: people, not bots. */
#define NET_USERS  "u.network_id = $1 AND u.user_type IN ('user', 'web_admin')"
#define DAY_OF(ts) "((" ts ") - $2) / 86400"

static void csv_cell(struct buf *b, const char *s)
{
    buf_append_byte(b, '"');
    if (s[0] && strchr("=+-@\t\r", s[0]))
        buf_append_byte(b, '\'');
    for (; *s; s++) {
        if (*s == '"')
            buf_append_byte(b, '"');
        buf_append_byte(b, (uint8_t)*s);
    }
    buf_append_byte(b, '"');
}

/* CSV (RFC 4180): figure,key,value; a scalar has an empty key, a series
 * has the bucket's first day, a breakdown the name. */
static void reply(struct http_req *req, struct admin_ctx *ctx, const struct range *r,
                  const char *page, json_t *doc)
{
    struct buf b;
    const char *fig;
    json_t *v;
    char disp[128];

    if (!r->csv) {
        http_reply_json(req, 200, doc);
        return;
    }
    buf_init(&b, 64 << 20);
    buf_append_str(&b, "figure,key,value\r\n");
    json_object_foreach(doc, fig, v)
    {
        const char *k;
        json_t *x;
        if (json_is_integer(v)) {
            char n[24];
            snprintf(n, sizeof(n), "%lld", (long long)json_integer_value(v));
            csv_cell(&b, fig);
            buf_append_str(&b, ",,");
            buf_append_str(&b, n);
            buf_append_str(&b, "\r\n");
            continue;
        }
        json_object_foreach(v, k, x)
        {
            char n[24];
            if (!json_is_integer(x))
                continue;
            snprintf(n, sizeof(n), "%lld", (long long)json_integer_value(x));
            csv_cell(&b, fig);
            buf_append_byte(&b, ',');
            csv_cell(&b, k);
            buf_append_byte(&b, ',');
            buf_append_str(&b, n);
            buf_append_str(&b, "\r\n");
        }
    }
    snprintf(disp, sizeof(disp), "attachment; filename=\"analytics-%s-%s.csv\"", page,
             ctx->network_id);
    http_add_header(req, "content-disposition", disp);
    http_reply(req, 200, "text/csv", b.data, b.len);
    buf_release(&b);
    json_decref(doc);
}

static json_t *doc_new(const struct range *r)
{
    const char *iv = r->iv == IV_DAY ? "day" : r->iv == IV_WEEK ? "week" : "month";
    return json_pack("{s:{s:I,s:I,s:s}}", "range", "from", (json_int_t)r->from, "to",
                     (json_int_t)r->to, "interval", iv);
}

static void finish(struct http_req *req, struct admin_ctx *ctx, const struct range *r,
                   const char *page, json_t *doc, int rc)
{
    if (rc < 0) {
        json_decref(doc);
        api_admin_store_error(req, ctx, rc);
        return;
    }
    reply(req, ctx, r, page, doc);
}

void api_admin_analytics_overview(struct http_req *req, struct admin_ctx *ctx)
{
    struct range r;
    json_t *doc, *x = NULL;
    int rc;

    if (!parse_range(req, &r))
        return;
    doc = doc_new(&r);
    rc = scalar(ctx, &r,
                "SELECT COUNT(*) FROM users u WHERE " NET_USERS " AND u.activated_at IS NOT NULL",
                doc, "registered");
    if (rc == 0)
        rc = scalar(ctx, &r,
                    "SELECT COUNT(*) FROM users u WHERE " NET_USERS " AND u.status = "
                    "'pending'",
                    doc, "pending");
    if (rc == 0)
        rc = scalar(ctx, &r,
                    "SELECT COUNT(*) FROM devices d JOIN users u ON u.id = d.user_id "
                    "WHERE " NET_USERS,
                    doc, "devices");
    if (rc == 0 &&
        (rc = series_sum(ctx, &r,
                         "SELECT " DAY_OF("u.activated_at") ", COUNT(*) FROM users u "
                                                            "WHERE " NET_USERS
                                                            " AND u.activated_at >= $2 AND "
                                                            "u.activated_at < $3 GROUP BY 1",
                         &x)) == 0)
        json_object_set_new(doc, "registrations", x);
    if (rc == 0 && (rc = breakdown(ctx, &r,
                                   "SELECT d.client_version, COUNT(*) FROM devices d JOIN users u "
                                   "ON u.id = d.user_id WHERE " NET_USERS " GROUP BY 1",
                                   &x)) == 0)
        json_object_set_new(doc, "client_versions", x);
    finish(req, ctx, &r, "overview", doc, rc);
}

/* A user is active on a day it signed in (a client session began) or one
 * of its devices was last seen. Only the latest sighting of a device is
 * kept, so sessions carry the history. */
#define ACTIVE_SQL                                                                                 \
    "SELECT DISTINCT u.id, " DAY_OF(                                                               \
        "s.created_at") " FROM client_sessions s JOIN users u ON "                                 \
                        "u.id = s.user_id WHERE " NET_USERS                                        \
                        " AND s.created_at >= $2 AND s.created_at < $3 UNION "                     \
                        "SELECT DISTINCT u.id, " DAY_OF(                                           \
                            "d.last_seen") " FROM devices d JOIN users u ON u.id = "               \
                                           "d.user_id WHERE " NET_USERS                            \
                                           " AND d.last_seen >= $2 AND d.last_seen < $3"

#define ACTIVE_USERS                                                                               \
    "(SELECT s.user_id AS id FROM client_sessions s WHERE s.created_at >= $2 AND s.created_at < "  \
    "$3 UNION SELECT d.user_id FROM devices d WHERE d.last_seen >= $2 AND d.last_seen < $3)"

void api_admin_analytics_members(struct http_req *req, struct admin_ctx *ctx)
{
    struct range r;
    json_t *doc, *x = NULL;
    int rc;

    if (!parse_range(req, &r))
        return;
    doc = doc_new(&r);
    rc = series_distinct(ctx, &r, ACTIVE_SQL, &x);
    if (rc == 0) {
        json_object_set_new(doc, "active_users", x);
        rc = scalar(ctx, &r,
                    "SELECT COUNT(*) FROM users u WHERE " NET_USERS " AND u.id IN " ACTIVE_USERS,
                    doc, "active_users_total");
    }
    if (rc == 0 && (rc = breakdown(ctx, &r,
                                   "SELECT d.platform, COUNT(DISTINCT u.id) FROM devices d JOIN "
                                   "users u ON u.id = d.user_id WHERE " NET_USERS
                                   " AND u.id IN " ACTIVE_USERS " GROUP BY 1",
                                   &x)) == 0)
        json_object_set_new(doc, "by_platform", x);
    if (rc == 0 && (rc = breakdown(ctx, &r,
                                   "SELECT d.client_version, COUNT(DISTINCT u.id) FROM devices d "
                                   "JOIN users u ON u.id = d.user_id WHERE " NET_USERS " AND u.id "
                                   "IN " ACTIVE_USERS " GROUP BY 1",
                                   &x)) == 0)
        json_object_set_new(doc, "by_client_version", x);
    if (rc == 0 &&
        (rc = breakdown(ctx, &r,
                        "SELECT g.name, COUNT(*) FROM users u LEFT JOIN "
                        "security_groups g ON g.id = u.security_group_id WHERE " NET_USERS
                        " AND u.id IN " ACTIVE_USERS " GROUP BY 1",
                        &x)) == 0)
        json_object_set_new(doc, "by_security_group", x);
    /* Deleted users leave no row: the audit log keeps the count. */
    if (rc == 0)
        rc = scalar(ctx, &r,
                    "SELECT COUNT(*) FROM audit_log WHERE action = 'user.delete' AND network_id "
                    "= $4 AND ts >= $2 AND ts < $3 AND $1 = $1",
                    doc, "deleted");
    finish(req, ctx, &r, "members", doc, rc);
}

void api_admin_analytics_messages(struct http_req *req, struct admin_ctx *ctx)
{
    struct range r;
    json_t *doc, *x = NULL;
    int rc;

    if (!parse_range(req, &r))
        return;
    doc = doc_new(&r);
    rc = series_sum(
        ctx, &r,
        "SELECT " DAY_OF("e.ts_ms / 1000") ", COUNT(*) FROM envelopes e JOIN "
                                           "conversations c ON c.id = e.conv_id WHERE c.network_id "
                                           "= $1 AND e.ts_ms >= "
                                           "$2 * 1000 AND e.ts_ms < $3 * 1000 GROUP BY 1",
        &x);
    if (rc == 0) {
        json_t *total = json_integer(0), *v;
        const char *k;
        json_object_foreach(x, k, v)
            json_integer_set(total, json_integer_value(total) + json_integer_value(v));
        json_object_set_new(doc, "messages", x);
        json_object_set_new(doc, "messages_total", total);
        json_object_set_new(doc, "calls_total", json_integer(0));
        json_object_set_new(doc, "files_total", json_integer(0));
    }
    if (rc == 0 && (rc = breakdown(ctx, &r,
                                   "SELECT d.platform, COUNT(*) FROM devices d JOIN users u ON "
                                   "u.id = d.user_id WHERE " NET_USERS " GROUP BY 1",
                                   &x)) == 0)
        json_object_set_new(doc, "devices_by_os", x);
    if (rc == 0 && (rc = breakdown(ctx, &r,
                                   "SELECT d.client_version, COUNT(*) FROM devices d JOIN users u "
                                   "ON u.id = d.user_id WHERE " NET_USERS " GROUP BY 1",
                                   &x)) == 0)
        json_object_set_new(doc, "client_versions", x);
    if (rc == 0)
        json_object_set_new(doc, "unavailable",
                            json_pack("{s:s,s:s}", "calls_total",
                                      "calls are not stored by this server yet", "files_total",
                                      "file transfers are not stored by this server yet"));
    finish(req, ctx, &r, "messages", doc, rc);
}
