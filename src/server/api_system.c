/* api_system.c - health and version endpoints. */
#include "api_system.h"
#include "store.h"

#define PROTOCOL_VERSION 1

static bool store_answers(struct store *st)
{
    struct store_conn *c;
    struct store_rows *rows = NULL;
    bool ok = false;

    if (store_conn_get(st, &c) < 0)
        return false;
    if (store_query(c, "SELECT 1", NULL, 0, &rows) == 0 && store_rows_next(rows) == 1)
        ok = store_rows_int(rows, 0) == 1;
    store_rows_free(rows);
    store_conn_put(st, c);
    return ok;
}

void api_healthz(struct http_req *req)
{
    struct server *srv = req->srv;
    bool ok = !srv->shutting_down && store_answers(srv->store);

    http_reply_json(req, ok ? 200 : 503,
                    json_pack("{s:s,s:s,s:s,s:I}", "status", ok ? "ok" : "unavailable", "version",
                              PARLEY_VERSION, "store", store_backend(srv->store), "uptime_s",
                              (json_int_t)(time(NULL) - srv->started)));
}

void api_version(struct http_req *req)
{
    http_reply_json(
        req, 200, json_pack("{s:s,s:i}", "version", PARLEY_VERSION, "protocol", PROTOCOL_VERSION));
}
