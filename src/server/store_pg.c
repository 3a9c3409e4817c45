/* store_pg.c - the PostgreSQL backend of the store, over libpq.
 *
 * One libpq connection per pool slot plus the committer's. Statements are
 * prepared on first use and kept per connection (parsing and planning cost
 * the server about as much as a short INSERT itself); they run through the
 * extended protocol, so a statement is always one statement and values are
 * always bound: integers as int8 text, text as untyped text (the server
 * infers its type from the context), blobs as bytea in binary format.
 * Results come back in text format; bytea columns (hex text) are decoded on
 * demand so store_rows_blob() returns the raw bytes.
 *
 * libpq messages never contain the password; the URI is only ever shown
 * redacted (store_uri_redact). */
#include "store_int.h"

#include <libpq-fe.h>

#include "common/log.h"
#include "common/xmalloc.h"

/* Type OIDs from pg_type.h (server headers are not installed with libpq). */
#define PG_OID_BOOL  16
#define PG_OID_BYTEA 17
#define PG_OID_INT8  20

/* pg_advisory_lock key that serialises migrations across parleyd nodes:
 * "parley" in ASCII. */
#define PG_MIGRATE_LOCK_KEY 0x7061726c6579LL

struct pg_rows {
    struct store_rows base;
    PGresult *res;
    int nrows, ncols, row;
    unsigned char **blobs; /* decoded bytea of the current row, per column */
    size_t *blob_lens;
};

/* A statement prepared on the server, named "parley_<n>". The same SQL
 * bound with different value types (NULL, int, text, blob) is prepared once
 * per type signature, since preparing fixes the parameter types. */
#define PG_CACHE_SIZE   64
#define PG_CACHE_PARAMS 32 /* statements with more parameters are not cached */

struct pg_stmt {
    uint64_t hash;
    char *sql;
    char sig[PG_CACHE_PARAMS + 1];
    char name[24];
    uint64_t last_used;
};

struct pg_conn {
    PGconn *conn;
    int pending;        /* deferred statements sent in pipeline mode, results unread */
    char pipe_state[6]; /* SQLSTATE of the last pipeline's first error */
    uint64_t tick, next_name;
    struct pg_stmt cache[PG_CACHE_SIZE];
};

static const struct store_ops *const self_ops = &store_pg_ops;

static PGconn *conn_of(struct store_conn *c)
{
    return ((struct pg_conn *)c->impl)->conn;
}

/* Copy a libpq message without its trailing newline. */
static void set_pg_err(struct store_conn *c, const char *msg)
{
    size_t n = strlen(msg);
    while (n > 0 && (msg[n - 1] == '\n' || msg[n - 1] == ' '))
        n--;
    store__set_err(c, "%.*s", (int)n, msg);
}

/* Record the error of `res` (may be NULL) and map its SQLSTATE. */
static int map_err(struct store_conn *c, const PGresult *res)
{
    const char *state = res ? PQresultErrorField(res, PG_DIAG_SQLSTATE) : NULL;
    set_pg_err(c, res ? PQresultErrorMessage(res) : PQerrorMessage(conn_of(c)));
    if (!c->errmsg[0])
        set_pg_err(c, PQerrorMessage(conn_of(c)));
    if (!state)
        return PARLEY_ESTORE;
    if (strcmp(state, "23505") == 0) /* unique_violation */
        return PARLEY_EEXIST;
    if (strcmp(state, "40001") == 0 || strcmp(state, "40P01") == 0)
        return PARLEY_ECONFLICT;     /* serialization_failure, deadlock_detected */
    if (strcmp(state, "55P03") == 0) /* lock_not_available */
        return PARLEY_EBUSY;
    return PARLEY_ESTORE;
}

/* Parameter arrays for PQexecParams; `text` holds NUL-terminated copies. */
struct pg_params {
    Oid *types;
    const char **values;
    int *lengths;
    int *formats;
    char **owned;
};

static void params_release(struct pg_params *pp, size_t n)
{
    for (size_t i = 0; i < n && pp->owned; i++)
        free(pp->owned[i]);
    free(pp->types);
    free(pp->values);
    free(pp->lengths);
    free(pp->formats);
    free(pp->owned);
}

static int params_build(struct store_conn *c, const struct store_val *params, size_t n,
                        struct pg_params *pp)
{
    memset(pp, 0, sizeof(*pp));
    if (n == 0)
        return 0;
    if (n > 65535) {
        store__set_err(c, "too many parameters (%zu)", n);
        return PARLEY_EINVAL;
    }
    pp->types = xcalloc(n, sizeof(*pp->types));
    pp->values = xcalloc(n, sizeof(*pp->values));
    pp->lengths = xcalloc(n, sizeof(*pp->lengths));
    pp->formats = xcalloc(n, sizeof(*pp->formats));
    pp->owned = xcalloc(n, sizeof(*pp->owned));
    for (size_t i = 0; i < n; i++) {
        const struct store_val *v = &params[i];
        switch (v->type) {
        case STORE_T_NULL:
            break;
        case STORE_T_INT:
            pp->types[i] = PG_OID_INT8;
            pp->owned[i] = xasprintf("%lld", (long long)v->i);
            pp->values[i] = pp->owned[i];
            break;
        case STORE_T_TEXT:
            if (v->len > 0 && memchr(v->p, '\0', v->len)) {
                store__set_err(c, "parameter $%zu: text contains a NUL byte", i + 1);
                return PARLEY_EINVAL;
            }
            pp->owned[i] = xmalloc(v->len + 1);
            if (v->len > 0)
                memcpy(pp->owned[i], v->p, v->len);
            pp->owned[i][v->len] = '\0';
            pp->values[i] = pp->owned[i];
            break;
        case STORE_T_BLOB:
            if (v->len > INT32_MAX) {
                store__set_err(c, "parameter $%zu: blob too large", i + 1);
                return PARLEY_ETOOBIG;
            }
            pp->types[i] = PG_OID_BYTEA;
            pp->values[i] = v->p ? v->p : "";
            pp->lengths[i] = (int)v->len;
            pp->formats[i] = 1; /* binary: the raw bytes */
            break;
        default:
            store__set_err(c, "parameter $%zu has an unknown type", i + 1);
            return PARLEY_EINVAL;
        }
    }
    return 0;
}

/* Forget every prepared statement (the server already has: reconnect). */
static void cache_clear(struct pg_conn *pc)
{
    for (int i = 0; i < PG_CACHE_SIZE; i++) {
        free(pc->cache[i].sql);
        pc->cache[i].sql = NULL;
    }
}

/* The type signature of `params` ("nitb"), or false if not cacheable. */
static bool param_sig(const struct store_val *params, size_t n, char *sig)
{
    static const char letters[] = {
        [STORE_T_NULL] = 'n', [STORE_T_INT] = 'i', [STORE_T_TEXT] = 't', [STORE_T_BLOB] = 'b'};
    if (n > PG_CACHE_PARAMS)
        return false;
    for (size_t i = 0; i < n; i++)
        sig[i] = letters[params[i].type];
    sig[n] = '\0';
    return true;
}

static uint64_t stmt_hash(const char *sql, const char *sig)
{
    uint64_t h = 0xcbf29ce484222325ull;
    for (const char *p = sql; *p; p++)
        h = (h ^ (unsigned char)*p) * 0x100000001b3ull;
    for (const char *p = sig; *p; p++)
        h = (h ^ (unsigned char)*p) * 0x100000001b3ull;
    return h;
}

static struct pg_stmt *cache_find(struct pg_conn *pc, const char *sql, const char *sig, uint64_t h)
{
    for (int i = 0; i < PG_CACHE_SIZE; i++) {
        struct pg_stmt *e = &pc->cache[i];
        if (e->sql && e->hash == h && strcmp(e->sig, sig) == 0 && strcmp(e->sql, sql) == 0) {
            e->last_used = ++pc->tick;
            return e;
        }
    }
    return NULL;
}

/* A free slot, or NULL when every slot is taken and nothing can be
 * deallocated now (a pipeline is open). Evicting the least recently used
 * statement deallocates it on the server, so a connection never holds more
 * than PG_CACHE_SIZE prepared statements there. */
static struct pg_stmt *cache_slot(struct pg_conn *pc)
{
    struct pg_stmt *victim = &pc->cache[0];
    for (int i = 0; i < PG_CACHE_SIZE; i++) {
        if (!pc->cache[i].sql)
            return &pc->cache[i];
        if (pc->cache[i].last_used < victim->last_used)
            victim = &pc->cache[i];
    }
    if (pc->pending)
        return NULL;
    char sql[48];
    snprintf(sql, sizeof(sql), "DEALLOCATE %s", victim->name);
    PQclear(PQexec(pc->conn, sql)); /* on failure it lives on until disconnect */
    free(victim->sql);
    victim->sql = NULL;
    return victim;
}

/* Fill `e` for `sql`; the statement is prepared under e->name. */
static void cache_fill(struct pg_conn *pc, struct pg_stmt *e, const char *sql, const char *sig,
                       uint64_t h)
{
    e->hash = h;
    e->sql = xstrdup(sql);
    snprintf(e->sig, sizeof(e->sig), "%s", sig);
    snprintf(e->name, sizeof(e->name), "parley_%llu", (unsigned long long)++pc->next_name);
    e->last_used = ++pc->tick;
}

/* If the server went away between transactions, reconnect once. */
static void maybe_reset(struct store_conn *c)
{
    struct pg_conn *pc = c->impl;
    if (PQstatus(pc->conn) == CONNECTION_BAD && !c->in_tx && !c->in_group) {
        log_warnx("store postgresql connection lost; reconnecting");
        PQreset(pc->conn);
        cache_clear(pc);
    }
}

/* Read the results of everything sent since pipeline mode was entered: the
 * `pending` deferred statements, `extra` steps of the caller's statement
 * (its PREPARE), then (if `out`) the statement whose result goes to *out,
 * then the sync point. Returns the first error. A
 * failed deferred statement sets c->deferred_failed; the server then skips
 * the rest of the pipeline, so the last statement has not run. */
static int collect(struct store_conn *c, PGresult **out, int extra)
{
    struct pg_conn *pc = c->impl;
    int ncmds = pc->pending + extra + (out ? 1 : 0), cmd = 0, first_err = 0;

    pc->pipe_state[0] = '\0';

    for (;;) {
        PGresult *res = PQgetResult(pc->conn);
        if (!res) {
            /* End of one statement's results. */
            if (cmd >= ncmds || PQstatus(pc->conn) == CONNECTION_BAD) {
                if (!first_err)
                    first_err = map_err(c, NULL);
                if (cmd < pc->pending || first_err)
                    c->deferred_failed = true;
                break;
            }
            cmd++;
            continue;
        }
        ExecStatusType status = PQresultStatus(res);
        if (status == PGRES_PIPELINE_SYNC) {
            PQclear(res);
            break;
        }
        if (status == PGRES_COMMAND_OK || status == PGRES_TUPLES_OK) {
            if (out && cmd == pc->pending + extra && !first_err) {
                *out = res;
                res = NULL;
            }
        } else if (!first_err) {
            const char *state = PQresultErrorField(res, PG_DIAG_SQLSTATE);
            snprintf(pc->pipe_state, sizeof(pc->pipe_state), "%s", state ? state : "");
            first_err = map_err(c, res);
            if (cmd < pc->pending)
                c->deferred_failed = true;
        }
        PQclear(res);
    }
    pc->pending = 0;
    if (first_err && out && *out) {
        PQclear(*out);
        *out = NULL;
    }
    if (!PQexitPipelineMode(pc->conn) && !first_err) {
        set_pg_err(c, PQerrorMessage(pc->conn));
        first_err = PARLEY_ESTORE;
    }
    return first_err;
}

/* Send the deferred statements on their own and read their results. */
static int flush_deferred(struct store_conn *c)
{
    if (((struct pg_conn *)c->impl)->pending == 0)
        return 0;
    if (!PQpipelineSync(conn_of(c))) {
        c->deferred_failed = true;
        set_pg_err(c, PQerrorMessage(conn_of(c)));
        (void)collect(c, NULL, 0);
        return PARLEY_ESTORE;
    }
    return collect(c, NULL, 0);
}

static bool result_ok(const PGresult *res)
{
    return res &&
           (PQresultStatus(res) == PGRES_COMMAND_OK || PQresultStatus(res) == PGRES_TUPLES_OK);
}

/* React to errors that concern the statement cache itself. */
static void cache_on_error(struct pg_conn *pc, struct pg_stmt *e, const PGresult *res)
{
    const char *state = res ? PQresultErrorField(res, PG_DIAG_SQLSTATE) : NULL;
    if (!state)
        return;
    if (strcmp(state, "26000") == 0) { /* invalid_sql_statement_name: DISCARD ALL? */
        cache_clear(pc);
    } else if (e && strcmp(state, "0A000") == 0) {
        /* "cached plan must not change result type" after DDL: prepare
         * afresh next time. The old one lives on until disconnect. */
        free(e->sql);
        e->sql = NULL;
    }
}

/* Without a pipeline: prepare on first use (one extra round trip, once),
 * then execute the prepared statement. */
static PGresult *run_direct(struct pg_conn *pc, const char *sql, size_t n,
                            const struct pg_params *pp, const char *sig, bool is_cacheable,
                            struct pg_stmt **used)
{
    uint64_t h = is_cacheable ? stmt_hash(sql, sig) : 0;
    struct pg_stmt *e = is_cacheable ? cache_find(pc, sql, sig, h) : NULL;

    *used = NULL;
    if (!e && is_cacheable && (e = cache_slot(pc))) {
        cache_fill(pc, e, sql, sig, h);
        PGresult *res = PQprepare(pc->conn, e->name, sql, (int)n, pp->types);
        if (!result_ok(res)) {
            free(e->sql);
            e->sql = NULL;
            return res; /* the statement's own error (syntax, unknown table) */
        }
        PQclear(res);
    }
    if (!e)
        return PQexecParams(pc->conn, sql, (int)n, pp->types, pp->values, pp->lengths, pp->formats,
                            0);
    *used = e;
    return PQexecPrepared(pc->conn, e->name, (int)n, pp->values, pp->lengths, pp->formats, 0);
}

/* Behind deferred statements: everything goes in one pipeline, the
 * statement's PREPARE included on first use. */
static int run_pipelined(struct store_conn *c, const char *sql, size_t n,
                         const struct pg_params *pp, const char *sig, bool is_cacheable,
                         PGresult **res)
{
    struct pg_conn *pc = c->impl;
    uint64_t h = is_cacheable ? stmt_hash(sql, sig) : 0;
    struct pg_stmt *e = is_cacheable ? cache_find(pc, sql, sig, h) : NULL;
    struct pg_stmt *fresh = NULL;
    int extra = 0, ok, rc;

    if (!e && is_cacheable && (fresh = cache_slot(pc))) {
        cache_fill(pc, fresh, sql, sig, h);
        e = fresh;
        extra = 1;
    }
    if (!e)
        ok = PQsendQueryParams(pc->conn, sql, (int)n, pp->types, pp->values, pp->lengths,
                               pp->formats, 0);
    else
        ok =
            (!fresh || PQsendPrepare(pc->conn, e->name, sql, (int)n, pp->types)) &&
            PQsendQueryPrepared(pc->conn, e->name, (int)n, pp->values, pp->lengths, pp->formats, 0);
    if (!ok || !PQpipelineSync(pc->conn)) {
        set_pg_err(c, PQerrorMessage(pc->conn));
        c->deferred_failed = true;
        (void)collect(c, NULL, 0);
        rc = PARLEY_ESTORE;
    } else {
        rc = collect(c, res, extra);
    }
    if (rc < 0 && fresh) {
        /* Prepared or not, do not trust it: prepare afresh under a new name. */
        free(fresh->sql);
        fresh->sql = NULL;
    } else if (rc < 0 && e && !c->deferred_failed) {
        if (strcmp(pc->pipe_state, "26000") == 0)
            cache_clear(pc);
        else if (strcmp(pc->pipe_state, "0A000") == 0) {
            free(e->sql);
            e->sql = NULL;
        }
    }
    return rc;
}

static int run(struct store_conn *c, const char *sql, const struct store_val *params, size_t n,
               PGresult **out)
{
    struct pg_conn *pc = c->impl;
    struct pg_params pp;
    PGresult *res = NULL;
    char sig[PG_CACHE_PARAMS + 1];
    int rc;

    *out = NULL;
    rc = params_build(c, params, n, &pp);
    if (rc < 0)
        goto out;
    bool is_cacheable = param_sig(params, n, sig);
    /* ROLLBACK must run even when a deferred statement failed, and the
     * server skips the rest of a pipeline after an error. */
    if (pc->pending && strcmp(sql, "ROLLBACK") == 0)
        (void)flush_deferred(c);
    if (pc->pending) {
        /* One round trip for the deferred statements and this one. */
        rc = run_pipelined(c, sql, n, &pp, sig, is_cacheable, &res);
        if (rc < 0)
            goto out;
    } else {
        struct pg_stmt *used;
        maybe_reset(c);
        res = run_direct(pc, sql, n, &pp, sig, is_cacheable, &used);
        if (!result_ok(res)) {
            rc = map_err(c, res);
            cache_on_error(pc, used, res);
            PQclear(res);
            goto out;
        }
    }
    /* COMMIT of a transaction in which a statement failed "succeeds" with
     * the tag ROLLBACK: report what happened. */
    if (strcmp(sql, "COMMIT") == 0 && strcmp(PQcmdStatus(res), "ROLLBACK") == 0) {
        store__set_err(c, "transaction was aborted by an earlier error; rolled back");
        PQclear(res);
        rc = PARLEY_ESTORE;
        goto out;
    }
    *out = res;
    rc = 0;
out:
    params_release(&pp, n);
    return rc;
}

/* Queue `sql` in pipeline mode without waiting: it travels with the next
 * statement, so the committer's savepoint steps cost no round trip. */
static int pg_exec_deferred(struct store_conn *c, const char *sql)
{
    struct pg_conn *pc = c->impl;
    if (pc->pending == 0) {
        maybe_reset(c);
        if (!PQenterPipelineMode(pc->conn)) {
            set_pg_err(c, PQerrorMessage(pc->conn));
            return PARLEY_ESTORE;
        }
    }
    if (!PQsendQueryParams(pc->conn, sql, 0, NULL, NULL, NULL, NULL, 0)) {
        set_pg_err(c, PQerrorMessage(pc->conn));
        c->deferred_failed = true;
        if (pc->pending == 0) {
            (void)PQexitPipelineMode(pc->conn);
            return PARLEY_ESTORE;
        }
        (void)flush_deferred(c);
        return PARLEY_ESTORE;
    }
    pc->pending++;
    return 0;
}

static int pg_exec(struct store_conn *c, const char *sql, const struct store_val *params, size_t n,
                   int64_t *changes)
{
    PGresult *res;
    int rc = run(c, sql, params, n, &res);
    if (rc < 0)
        return rc;
    if (changes) {
        const char *t = PQcmdTuples(res);
        *changes = *t ? strtoll(t, NULL, 10) : 0;
    }
    PQclear(res);
    return 0;
}

/* NEEDSWORK: the whole result is held in memory. Large scans (exports)
 * should use single-row mode or a cursor. */
static int pg_query(struct store_conn *c, const char *sql, const struct store_val *params, size_t n,
                    struct store_rows **out)
{
    PGresult *res;
    struct pg_rows *r;
    int rc = run(c, sql, params, n, &res);
    if (rc < 0)
        return rc;
    r = xcalloc(1, sizeof(*r));
    r->base.ops = self_ops;
    r->base.c = c;
    r->res = res;
    r->nrows = PQntuples(res);
    r->ncols = PQnfields(res);
    r->row = -1;
    if (r->ncols > 0) {
        r->blobs = xcalloc((size_t)r->ncols, sizeof(*r->blobs));
        r->blob_lens = xcalloc((size_t)r->ncols, sizeof(*r->blob_lens));
    }
    *out = &r->base;
    return 0;
}

static void clear_blobs(struct pg_rows *r)
{
    for (int i = 0; i < r->ncols; i++) {
        if (r->blobs[i]) {
            PQfreemem(r->blobs[i]);
            r->blobs[i] = NULL;
        }
    }
}

static int pg_rows_next(struct store_rows *base)
{
    struct pg_rows *r = (struct pg_rows *)base;
    clear_blobs(r);
    if (r->row < r->nrows)
        r->row++;
    return r->row < r->nrows ? 1 : 0;
}

static int pg_rows_ncols(struct store_rows *base)
{
    return ((struct pg_rows *)base)->ncols;
}

static bool valid_cell(struct pg_rows *r, int col)
{
    return r->row >= 0 && r->row < r->nrows && col >= 0 && col < r->ncols;
}

static bool pg_rows_is_null(struct store_rows *base, int col)
{
    struct pg_rows *r = (struct pg_rows *)base;
    return !valid_cell(r, col) || PQgetisnull(r->res, r->row, col);
}

static int64_t pg_rows_int(struct store_rows *base, int col)
{
    struct pg_rows *r = (struct pg_rows *)base;
    const char *v;
    if (pg_rows_is_null(base, col))
        return 0;
    v = PQgetvalue(r->res, r->row, col);
    if (PQftype(r->res, col) == PG_OID_BOOL)
        return v[0] == 't';
    return strtoll(v, NULL, 10);
}

static const char *pg_rows_text(struct store_rows *base, int col)
{
    struct pg_rows *r = (struct pg_rows *)base;
    if (pg_rows_is_null(base, col))
        return NULL;
    return PQgetvalue(r->res, r->row, col);
}

static const uint8_t *pg_rows_blob(struct store_rows *base, int col, size_t *len)
{
    struct pg_rows *r = (struct pg_rows *)base;
    const char *v;
    *len = 0;
    if (pg_rows_is_null(base, col))
        return NULL;
    v = PQgetvalue(r->res, r->row, col);
    if (PQftype(r->res, col) != PG_OID_BYTEA) {
        /* Text of another type: its bytes, like SQLite's blob of text. */
        *len = (size_t)PQgetlength(r->res, r->row, col);
        return (const uint8_t *)v;
    }
    if (!r->blobs[col]) {
        r->blobs[col] = PQunescapeBytea((const unsigned char *)v, &r->blob_lens[col]);
        if (!r->blobs[col])
            fatalx("out of memory decoding a bytea value");
    }
    *len = r->blob_lens[col];
    return r->blobs[col];
}

static void pg_rows_free(struct store_rows *base)
{
    struct pg_rows *r = (struct pg_rows *)base;
    if (r->blobs)
        clear_blobs(r);
    free(r->blobs);
    free(r->blob_lens);
    PQclear(r->res);
    free(r);
}

static int pg_exec_script(struct store_conn *c, const char *sql)
{
    PGresult *res;
    int rc = flush_deferred(c);
    if (rc < 0)
        return rc;
    maybe_reset(c);
    /* PQexec (simple protocol) runs several statements; nothing is bound. */
    res = PQexec(conn_of(c), sql);
    if (!res || PQresultStatus(res) != PGRES_COMMAND_OK)
        rc = map_err(c, res);
    PQclear(res);
    return rc;
}

static int pg_prepare(struct store *st)
{
    return 0;
}

/* Notices ("relation already exists, skipping") are not errors. */
static void on_notice(void *arg, const char *message)
{
}

static int pg_conn_open(struct store *st, struct store_conn *c, bool is_writer)
{
    /* expand_dbname: "dbname" carries the whole URI; later keywords only
     * fill in what it leaves unset. */
    const char *keys[] = {"dbname", "fallback_application_name", NULL};
    const char *vals[] = {st->target, "parleyd", NULL};
    PGconn *conn = PQconnectdbParams(keys, vals, 1);
    struct pg_conn *pc;

    if (!conn)
        fatalx("out of memory connecting to postgresql");
    if (PQstatus(conn) != CONNECTION_OK) {
        set_pg_err(c, PQerrorMessage(conn));
        PQfinish(conn);
        return PARLEY_ESTORE;
    }
    pc = xcalloc(1, sizeof(*pc));
    pc->conn = conn;
    c->impl = pc;
    PQsetNoticeProcessor(conn, on_notice, NULL);
    return 0;
}

static void pg_conn_close(struct store_conn *c)
{
    cache_clear(c->impl);
    PQfinish(conn_of(c));
    free(c->impl);
    c->impl = NULL;
}

static int pg_migrate_lock(struct store_conn *c)
{
    struct store_val key = STORE_INT(PG_MIGRATE_LOCK_KEY);
    return pg_exec(c, "SELECT pg_advisory_lock($1)", &key, 1, NULL);
}

static int pg_migrate_unlock(struct store_conn *c)
{
    struct store_val key = STORE_INT(PG_MIGRATE_LOCK_KEY);
    return pg_exec(c, "SELECT pg_advisory_unlock($1)", &key, 1, NULL);
}

const struct store_ops store_pg_ops = {
    .name = "postgresql",
    .prepare = pg_prepare,
    .conn_open = pg_conn_open,
    .conn_close = pg_conn_close,
    .exec = pg_exec,
    .query = pg_query,
    .exec_script = pg_exec_script,
    .exec_deferred = pg_exec_deferred,
    .rows_next = pg_rows_next,
    .rows_ncols = pg_rows_ncols,
    .rows_is_null = pg_rows_is_null,
    .rows_int = pg_rows_int,
    .rows_text = pg_rows_text,
    .rows_blob = pg_rows_blob,
    .rows_free = pg_rows_free,
    .sql_begin = "BEGIN",
    .sql_begin_read = "BEGIN ISOLATION LEVEL REPEATABLE READ READ ONLY",
    .migrate_lock = pg_migrate_lock,
    .migrate_unlock = pg_migrate_unlock,
};
