/* store.h - the server's storage layer: one interface, two backends.
 *
 * A store is a database named by a URI: "sqlite:PATH" (the default, one
 * file in WAL mode) or "postgresql://..." / "postgres://..." (libpq). Opening
 * it applies the pending schema migrations (store_schema.c) and starts one
 * committer thread. Everything else goes through connections:
 *
 *  - Reads (and rare ad-hoc writes) borrow a pooled connection with
 *    store_conn_get(), run parameterised statements on it and return it with
 *    store_conn_put(). A connection is used by one thread at a time.
 *  - Writes that must be durable before an acknowledgement go through the
 *    committer: store_submit() queues a job; the committer runs many queued
 *    jobs inside one transaction, each in its own SAVEPOINT, commits once
 *    (one fsync for the whole batch) and then reports each job's result.
 *
 * SQL is written once with PostgreSQL-style placeholders $1..$N; the SQLite
 * backend rewrites them to ?N. Values are only ever bound, never spliced into
 * SQL text. Where the dialects differ, branch on store_is_pg().
 *
 * Error codes: 0 on success, otherwise a negative PARLEY_E* code:
 * PARLEY_EEXIST for a unique or primary-key violation, PARLEY_EBUSY when the
 * database stayed locked past the busy timeout, PARLEY_ECONFLICT for a
 * serialization failure or deadlock (retry the transaction), PARLEY_EINVAL
 * for misuse, PARLEY_ESTORE for any other database failure. The database's
 * own message is available from store_conn_errmsg(). See
 * docs/internals/store.md. */
#ifndef PARLEY_SERVER_STORE_H
#define PARLEY_SERVER_STORE_H

#include "common/compat.h"

struct store;      /* the database: config, connection pool, committer thread */
struct store_conn; /* one connection; used by one thread at a time */
struct store_rows; /* a result set */

enum store_type {
    STORE_T_NULL,
    STORE_T_INT,
    STORE_T_TEXT,
    STORE_T_BLOB,
};

/* A bound parameter. `p`/`len` hold text (not necessarily NUL-terminated)
 * or blob bytes; the store copies nothing until the statement runs, so the
 * memory must stay valid for the duration of the call. */
struct store_val {
    enum store_type type;
    int64_t i;
    const void *p;
    size_t len;
};

static inline struct store_val store_val_int(int64_t v)
{
    struct store_val x = {STORE_T_INT, v, NULL, 0};
    return x;
}

/* A NULL `s` binds SQL NULL. */
static inline struct store_val store_val_text(const char *s)
{
    struct store_val x = {s ? STORE_T_TEXT : STORE_T_NULL, 0, s, s ? strlen(s) : 0};
    return x;
}

static inline struct store_val store_val_textn(const char *s, size_t n)
{
    struct store_val x = {STORE_T_TEXT, 0, s, n};
    return x;
}

/* A zero-length blob (p may be NULL when n is 0) is an empty blob, not NULL. */
static inline struct store_val store_val_blob(const void *p, size_t n)
{
    struct store_val x = {STORE_T_BLOB, 0, p ? p : "", n};
    return x;
}

static inline struct store_val store_val_null(void)
{
    struct store_val x = {STORE_T_NULL, 0, NULL, 0};
    return x;
}

/* Usage: struct store_val p[] = {STORE_INT(id), STORE_TEXT(name)}; */
#define STORE_INT(v)      store_val_int(v)
#define STORE_TEXT(s)     store_val_text(s)
#define STORE_TEXTN(s, n) store_val_textn((s), (n))
#define STORE_BLOB(p, n)  store_val_blob((p), (n))
#define STORE_NULLV       store_val_null()

struct store_options {
    /* SQLite only. true (default): PRAGMA synchronous=FULL, every commit is
     * durable across power loss; group commit makes this cost one fsync per
     * batch. false: synchronous=NORMAL, commits survive a crash of parleyd
     * but the last ones may be lost on power loss. */
    bool sqlite_sync_full;
    int pool_size;       /* pooled connections for store_conn_get (default 4) */
    int busy_timeout_ms; /* SQLite lock wait (default 5000) */
    int max_batch;       /* most jobs in one group commit (default 256) */
};

/* Counters since store_open, for tests, benchmarks and metrics. */
struct store_stats {
    uint64_t commits;     /* group commits (durable COMMITs by the committer) */
    uint64_t jobs;        /* jobs run by the committer */
    uint64_t jobs_failed; /* jobs whose done() got an error */
    uint64_t batch_max;   /* largest number of jobs in one commit */
};

void store_options_default(struct store_options *o);

/* Open the database named by `uri` ("sqlite:PATH" creates the file with mode
 * 0600 if missing; "postgresql://..." or "postgres://..." is handed to libpq),
 * apply pending migrations, each in its own transaction (serialised between
 * concurrent starters), and start the committer thread. `opt` may be NULL for
 * the defaults. Refuses (PARLEY_ESTORE) a database whose schema version is
 * newer than this code knows. Errors are logged with the URI's password
 * redacted. Returns 0 and sets *out, or PARLEY_EINVAL (bad URI or options),
 * PARLEY_ESTORE. Free with store_close(). */
int store_open(const char *uri, const struct store_options *opt, struct store **out);

/* Stop accepting jobs, run every job already submitted (their done()
 * callbacks run), join the committer and close all connections. Every
 * borrowed connection must have been returned. NULL is a no-op. */
void store_close(struct store *st);

/* "sqlite" or "postgresql". */
const char *store_backend(const struct store *st);
bool store_is_pg(const struct store *st);

/* The highest applied migration version, or a negative PARLEY_E* code. */
int store_schema_version(struct store *st);
/* The highest migration version this code knows. */
int store_schema_latest(void);

void store_stats(struct store *st, struct store_stats *out);

/* A copy of `uri` with any password (user:PASS@ or password=PASS) replaced by
 * "***", for logs and error messages. Free with free(). */
char *store_uri_redact(const char *uri);

/* Borrow a pooled connection; blocks until one is free. Returns 0 or
 * PARLEY_ECLOSED after store_close began. Give it back with store_conn_put(),
 * outside any transaction (an open transaction is rolled back). */
int store_conn_get(struct store *st, struct store_conn **out);
void store_conn_put(struct store *st, struct store_conn *c);

/* The database's message for the last error on `c` ("" if none). Valid until
 * the next call on `c`. Never contains a password. */
const char *store_conn_errmsg(const struct store_conn *c);

/* Run one statement with `n` bound parameters ($1..$N in `sql`). Sets
 * *changes (if not NULL) to the number of rows inserted, updated or deleted. */
int store_exec(struct store_conn *c, const char *sql, const struct store_val *params, size_t n,
               int64_t *changes);

/* Run a query; on success *out holds a result set positioned before the first
 * row. Free it with store_rows_free() before running anything else on `c`'s
 * transaction state (begin/commit/rollback) or returning `c`. */
int store_query(struct store_conn *c, const char *sql, const struct store_val *params, size_t n,
                struct store_rows **out);

/* Convenience: the first column of the first row as an integer. Returns 0,
 * PARLEY_ENOTFOUND if there is no row (or the value is NULL), or an error. */
int store_query_int(struct store_conn *c, const char *sql, const struct store_val *params, size_t n,
                    int64_t *out);

/* Advance: 1 = a row is ready, 0 = no more rows, <0 = error. */
int store_rows_next(struct store_rows *r);
/* The number of columns; reliable once store_rows_next has returned 1 (a
 * cached SQLite statement learns about a changed table when it steps). */
int store_rows_ncols(struct store_rows *r);
bool store_rows_is_null(struct store_rows *r, int col);
/* 0 for NULL. */
int64_t store_rows_int(struct store_rows *r, int col);
/* NUL-terminated; NULL for SQL NULL. Valid until the next store_rows_next
 * or store_rows_free. */
const char *store_rows_text(struct store_rows *r, int col);
/* The raw bytes; NULL (and *len 0) for SQL NULL, a non-NULL pointer for an
 * empty blob. Valid until the next store_rows_next or store_rows_free. */
const uint8_t *store_rows_blob(struct store_rows *r, int col, size_t *len);
/* NULL is a no-op. */
void store_rows_free(struct store_rows *r);

/* Transactions on a pooled connection. On SQLite store_begin takes the write
 * lock at once (BEGIN IMMEDIATE), waiting up to the busy timeout, so two
 * writers never deadlock on a lock upgrade. Not allowed inside a group-commit
 * job (PARLEY_EINVAL): the committer owns that transaction. store_commit
 * ends the transaction even when it fails; it fails (PARLEY_ESTORE) when the
 * database had already aborted the transaction because a statement in it
 * failed, so 0 always means committed. */
int store_begin(struct store_conn *c);
/* A read-only transaction: every query in it sees one snapshot, and it does
 * not block the committer (SQLite: a deferred BEGIN that only reads;
 * PostgreSQL: REPEATABLE READ READ ONLY). Do not write in it. End it with
 * store_commit or store_rollback. */
int store_begin_read(struct store_conn *c);
int store_commit(struct store_conn *c);
int store_rollback(struct store_conn *c);

/* Group commit.
 * `fn` runs on the committer thread, with the committer's connection, inside
 * a transaction shared with other jobs; each job runs in its own SAVEPOINT,
 * so a job returning <0 rolls back only its own changes. After the one
 * durable COMMIT, `done(arg, rc)` runs on the committer thread with fn's
 * result, or with the commit's error if the commit failed. done may be NULL.
 * Neither fn nor done may block on the store (store_write_sync, or
 * store_conn_get when the pool may be exhausted) and both should be short:
 * they hold up every other writer.
 * Returns 0 (done will run exactly once), or PARLEY_ECLOSED after
 * store_close began (done never runs). */
typedef int (*store_write_fn)(struct store_conn *c, void *arg);
typedef void (*store_done_fn)(void *arg, int rc);
int store_submit(struct store *st, store_write_fn fn, store_done_fn done, void *arg);

/* Call fn(arg, committing) on the committer thread once a batch's jobs
 * have run, just before its COMMIT (committing true) or its ROLLBACK
 * (false, the batch broke). What the jobs wrote is not durable yet. One
 * hook per store; NULL removes it. Any thread. */
typedef void (*store_batch_fn)(void *arg, bool committing);
void store_set_before_commit(struct store *st, store_batch_fn fn, void *arg);

/* Submit `fn` and wait for its durable result: fn's return value, the
 * commit's error, or PARLEY_ECLOSED. Must not be called on the committer
 * thread (PARLEY_EINVAL). */
int store_write_sync(struct store *st, store_write_fn fn, void *arg);

#endif
