/* audit.c - the admin audit log; see audit.h. */
#include "audit.h"
#include "common/log.h"
#include "store.h"

int audit_write(struct store_conn *c, const struct audit_actor *a, const char *action,
                const char *target, const char *network_id, json_t *details)
{
    char *d = details ? json_dumps(details, JSON_COMPACT | JSON_SORT_KEYS) : NULL;
    struct store_val p[] = {STORE_INT((int64_t)time(NULL)),
                            STORE_TEXT(a->kind),
                            a->id ? STORE_INT(a->id) : STORE_NULLV,
                            STORE_TEXT(a->name ? a->name : ""),
                            STORE_TEXT(action),
                            STORE_TEXT(target ? target : ""),
                            STORE_TEXT(network_id),
                            STORE_TEXT(a->ip ? a->ip : ""),
                            STORE_TEXT(d ? d : "{}")};
    int rc = store_exec(c,
                        "INSERT INTO audit_log (ts, actor_kind, actor_id, actor_name, action, "
                        "target, network_id, ip, details) VALUES ($1, $2, $3, $4, $5, $6, $7, "
                        "$8, $9)",
                        p, ARRAY_SIZE(p), NULL);
    log_info("audit action=%s actor=%s:%s target=%s network=%s ip=%s%s", action, a->kind,
             a->name ? a->name : "", target ? target : "", network_id ? network_id : "-",
             a->ip ? a->ip : "", rc < 0 ? " write=failed" : "");
    if (rc < 0)
        log_error("cannot write the audit log: %s", store_conn_errmsg(c));
    free(d);
    return rc;
}

int audit_list(struct store_conn *c, const char *action, const char *actor, const char *network_id,
               int64_t since, int64_t until, int64_t offset, int64_t limit, json_t **out)
{
    struct store_val p[] = {STORE_TEXT(action), STORE_TEXT(actor), STORE_TEXT(network_id),
                            STORE_INT(since),   STORE_INT(until),  STORE_INT(limit),
                            STORE_INT(offset)};
    struct store_rows *r = NULL;
    json_t *arr = json_array();
    int rc;

    /* Absent filters are bound as NULL and match everything. */
    rc = store_query(c,
                     "SELECT id, ts, actor_kind, actor_id, actor_name, action, target, "
                     "network_id, ip, details FROM audit_log WHERE "
                     "(CAST($1 AS TEXT) IS NULL OR action = $1) AND (CAST($2 AS TEXT) IS NULL OR "
                     "actor_name = $2) AND "
                     "(CAST($3 AS TEXT) IS NULL OR network_id = $3) AND ($4 = 0 OR ts >= $4) AND "
                     "($5 = 0 OR ts <= $5) ORDER BY id DESC LIMIT $6 OFFSET $7",
                     p, ARRAY_SIZE(p), &r);
    while (rc == 0 && (rc = store_rows_next(r)) == 1) {
        json_t *details = json_loads(store_rows_text(r, 9), 0, NULL);
        json_t *e = json_pack("{s:I,s:I,s:{s:s,s:I,s:s},s:s,s:s,s:s?,s:s,s:o}", "id",
                              (json_int_t)store_rows_int(r, 0), "ts",
                              (json_int_t)store_rows_int(r, 1), "actor", "kind",
                              store_rows_text(r, 2), "id", (json_int_t)store_rows_int(r, 3), "name",
                              store_rows_text(r, 4), "action", store_rows_text(r, 5), "target",
                              store_rows_text(r, 6), "network_id", store_rows_text(r, 7), "ip",
                              store_rows_text(r, 8), "details", details ? details : json_object());
        json_array_append_new(arr, e);
        rc = 0;
    }
    store_rows_free(r);
    if (rc < 0) {
        json_decref(arr);
        return rc;
    }
    *out = arr;
    return 0;
}
