/* api_admin_bulk.c - bulk suspend and bulk delete of users from a CSV file.
 *
 * The file has a `username` column: the template (one header line) or the
 * directory export (users.csv) with the rows to keep removed. The whole
 * file is read and checked first, so a malformed file changes nothing;
 * then each row is applied on its own: a bad row (unknown user, a name
 * that cannot be a username, a repeat) is reported with its row number
 * and reason while the others proceed. The work is synchronous and the
 * reply is the summary {processed, succeeded, failed: [...]}. Suspending
 * or deleting closes the user's live sessions at once. */
#include "admin_csv.h"
#include "admin_json.h"
#include "api_admin.h"
#include "api_admin_tools.h"
#include "b64.h"
#include "common/log.h"
#include "common/str.h"
#include "store.h"
#include "ws.h"

#include <ctype.h>

/* Reported failures beyond this are only counted. */
#define BULK_MAX_REPORTED 1000
#define BULK_MAX_CSV      (8 << 20)

static const struct admin_field suspend_fields[] = {
    {"csv_base64", AF_STRING, true, 4, B64_LEN(BULK_MAX_CSV), NULL},
};

static const struct admin_field delete_fields[] = {
    {"csv_base64", AF_STRING, true, 4, B64_LEN(BULK_MAX_CSV), NULL},
    {"acknowledge_deletion", AF_BOOL, true, 0, 0, NULL},
};

/* The rows read from the file: row number and username. */
struct rows {
    int col; /* the username column, -1 until the header is read */
    json_t *list;
};

enum { CSV_NO_USERNAME = 1 };

static bool username_ok(const char *s)
{
    size_t n = strlen(s);
    if (n == 0 || n > 64)
        return false;
    for (; *s; s++)
        if (!isalnum((unsigned char)*s) && !strchr("._-@+", *s))
            return false;
    return true;
}

static int on_row(void *arg, size_t row, char **fields, size_t n)
{
    struct rows *rs = arg;

    if (rs->col < 0) {
        for (size_t i = 0; i < n; i++) {
            const char *h = admin_csv_unguard(fields[i]);
            if (strcasecmp(h, "username") == 0) {
                rs->col = (int)i;
                return 0;
            }
        }
        return CSV_NO_USERNAME;
    }
    {
        /* Only valid usernames go into JSON (jansson wants UTF-8); any
         * other text is reported by row number alone. */
        const char *name = (size_t)rs->col < n ? admin_csv_unguard(fields[rs->col]) : "";
        bool ok = username_ok(name);
        json_array_append_new(rs->list,
                              json_pack("{s:I,s:s,s:b,s:b}", "row", (json_int_t)row, "username",
                                        ok ? name : "", "valid", ok, "empty", name[0] == 0));
    }
    return 0;
}

/* Decode and read the file; replies 400 naming the field on failure. */
static json_t *read_rows(struct http_req *req, const json_t *body)
{
    const char *s = admin_json_str(body, "csv_base64", "");
    struct rows rs = {-1, json_array()};
    uint8_t *csv = NULL;
    size_t len = 0;
    char err[256];
    int rc;

    if (b64_decode(s, strlen(s), BULK_MAX_CSV, &csv, &len) < 0) {
        http_reply_error(req, 400, "bad_request",
                         "field 'csv_base64' must be the CSV file in base64 (RFC 4648 section 4)");
        goto fail;
    }
    rc = admin_csv_parse((const char *)csv, len, on_row, &rs, err, sizeof(err));
    if (rc == CSV_NO_USERNAME || (rc == 0 && rs.col < 0)) {
        http_reply_error(req, 400, "bad_request",
                         "field 'csv_base64': the first row must name a 'username' column (see "
                         "the template)");
        goto fail;
    }
    if (rc < 0) {
        http_reply_error(req, 400, "bad_request", "field 'csv_base64': %s", err);
        goto fail;
    }
    free(csv);
    return rs.list;
fail:
    free(csv);
    json_decref(rs.list);
    return NULL;
}

/* Apply the action to one user. Returns 0, PARLEY_ENOTFOUND or a store
 * error. */
static int apply(struct http_req *req, struct admin_ctx *ctx, const char *username, bool del)
{
    struct store_val p[] = {STORE_INT(ctx->net), STORE_TEXT(username),
                            STORE_INT((int64_t)time(NULL))};
    struct store_rows *r = NULL;
    uint8_t uid[16];
    size_t n = 0;
    int rc;

    rc = store_query(ctx->c, "SELECT user_id FROM users WHERE network_id = $1 AND username = $2", p,
                     2, &r);
    if (rc == 0 && (rc = store_rows_next(r)) == 1) {
        const uint8_t *b = store_rows_blob(r, 0, &n);
        if (n == sizeof(uid))
            memcpy(uid, b, n);
        rc = n == sizeof(uid) ? 0 : PARLEY_ESTORE;
    } else if (rc == 0) {
        rc = PARLEY_ENOTFOUND;
    }
    store_rows_free(r);
    if (rc < 0)
        return rc;
    if (del)
        rc = store_exec(ctx->c, "DELETE FROM users WHERE network_id = $1 AND username = $2", p, 2,
                        NULL);
    else
        rc = store_exec(ctx->c,
                        "UPDATE users SET status = 'suspended', failed_logins = 0, updated_at = "
                        "$3 WHERE network_id = $1 AND username = $2",
                        p, 3, NULL);
    if (rc < 0)
        return rc;
    if (ws_disconnect_user(req->srv, uid) > 0)
        log_info("closed the live sessions of a %s user", del ? "deleted" : "suspended");
    api_admin_audit(ctx, del ? "user.delete" : "user.suspend", username,
                    json_pack("{s:b}", "bulk", 1));
    return 0;
}

static void fail_row(json_t *failed, size_t *nfailed, json_int_t row, const char *username,
                     const char *reason)
{
    if ((*nfailed)++ < BULK_MAX_REPORTED)
        json_array_append_new(
            failed, json_pack("{s:I,s:s,s:s}", "row", row, "username", username, "reason", reason));
}

static void run(struct http_req *req, struct admin_ctx *ctx, bool del)
{
    json_t *body = del ? api_admin_body(req, delete_fields, ARRAY_SIZE(delete_fields))
                       : api_admin_body(req, suspend_fields, ARRAY_SIZE(suspend_fields));
    json_t *rows = NULL, *failed = NULL, *seen = NULL, *v;
    size_t i, nfailed = 0, ok = 0;

    if (!body)
        return;
    if (del && !json_is_true(json_object_get(body, "acknowledge_deletion"))) {
        http_reply_error(req, 400, "bad_request",
                         "field 'acknowledge_deletion' must be true: deleting users cannot be "
                         "undone");
        goto out;
    }
    if (!(rows = read_rows(req, body)))
        goto out;
    if (api_admin_sso_blocks(req, ctx, del ? "bulk delete" : "bulk suspend"))
        goto out;
    failed = json_array();
    seen = json_object();
    json_array_foreach(rows, i, v)
    {
        json_int_t row = json_integer_value(json_object_get(v, "row"));
        const char *name = json_string_value(json_object_get(v, "username"));
        json_t *first = json_object_get(seen, name);
        int rc;

        if (!json_is_true(json_object_get(v, "valid"))) {
            fail_row(failed, &nfailed, row, "",
                     json_is_true(json_object_get(v, "empty"))
                         ? "the username is empty"
                         : "not a username (letters, digits and . _ - @ + only, at most 64)");
            continue;
        }
        if (first) {
            char why[64];
            snprintf(why, sizeof(why), "listed again (first in row %lld)",
                     (long long)json_integer_value(first));
            fail_row(failed, &nfailed, row, name, why);
            continue;
        }
        json_object_set_new(seen, name, json_integer(row));
        rc = apply(req, ctx, name, del);
        if (rc == 0)
            ok++;
        else if (rc == PARLEY_ENOTFOUND)
            fail_row(failed, &nfailed, row, name, "no such user in this network");
        else
            fail_row(failed, &nfailed, row, name, "the database is busy; try this row again");
    }
    api_admin_audit(ctx, del ? "user.bulk_delete" : "user.bulk_suspend", ctx->network_id,
                    json_pack("{s:I,s:I,s:I}", "processed", (json_int_t)json_array_size(rows),
                              "succeeded", (json_int_t)ok, "failed", (json_int_t)nfailed));
    http_reply_json(req, 200,
                    json_pack("{s:I,s:I,s:I,s:O}", "processed", (json_int_t)json_array_size(rows),
                              "succeeded", (json_int_t)ok, "failed_count", (json_int_t)nfailed,
                              "failed", failed));
out:
    json_decref(seen);
    json_decref(failed);
    json_decref(rows);
    json_decref(body);
}

void api_admin_bulk_suspend(struct http_req *req, struct admin_ctx *ctx)
{
    run(req, ctx, false);
}

void api_admin_bulk_delete(struct http_req *req, struct admin_ctx *ctx)
{
    run(req, ctx, true);
}

void api_admin_bulk_template(struct http_req *req, struct admin_ctx *ctx)
{
    static const char tmpl[] = "username\r\n";
    (void)ctx;
    http_add_header(req, "content-disposition", "attachment; filename=\"bulk-users.csv\"");
    http_reply(req, 200, "text/csv", tmpl, sizeof(tmpl) - 1);
}
