/* store_int.h - what the generic store (store.c) and its backends
 * (store_sqlite.c, store_pg.c) share. Nothing outside src/server/store*.c
 * includes this; the rest of parleyd uses store.h. */
#ifndef PARLEY_SERVER_STORE_INT_H
#define PARLEY_SERVER_STORE_INT_H

#include "store.h"

#include <pthread.h>

#define STORE_ERRMSG_MAX 512

struct store_ops;

struct store_conn {
    struct store *st;
    void *impl; /* the backend's connection state */
    bool in_tx;
    bool in_group;                /* owned by the committer: no begin/commit */
    bool deferred_failed;         /* an exec_deferred statement failed */
    struct store_conn *next_free; /* pool free list */
    char errmsg[STORE_ERRMSG_MAX];
};

/* Every backend's result set starts with this. */
struct store_rows {
    const struct store_ops *ops;
    struct store_conn *c;
};

/* One schema step. `sql_pg` is NULL when the SQLite text is valid for both.
 * Scripts may hold several statements; they run without parameters. */
struct store_migration {
    int version;
    const char *name;
    const char *sql_sqlite;
    const char *sql_pg;
};

extern const struct store_migration store_migrations[];
extern const size_t store_migrations_count;

/* A backend. Connection functions set c->errmsg on failure. */
struct store_ops {
    const char *name;
    /* Called once before any connection; may check or create the target. */
    int (*prepare)(struct store *st);
    /* Open c->impl. `is_writer` marks the committer's connection. */
    int (*conn_open)(struct store *st, struct store_conn *c, bool is_writer);
    void (*conn_close)(struct store_conn *c);
    int (*exec)(struct store_conn *c, const char *sql, const struct store_val *params, size_t n,
                int64_t *changes);
    int (*query)(struct store_conn *c, const char *sql, const struct store_val *params, size_t n,
                 struct store_rows **out);
    /* Several statements, no parameters (migrations). */
    int (*exec_script)(struct store_conn *c, const char *sql);
    /* One statement without parameters or rows whose result may be read
     * later, at the latest with the next statement on `c`. A late failure
     * sets c->deferred_failed (and c->errmsg). */
    int (*exec_deferred)(struct store_conn *c, const char *sql);
    int (*rows_next)(struct store_rows *r);
    int (*rows_ncols)(struct store_rows *r);
    bool (*rows_is_null)(struct store_rows *r, int col);
    int64_t (*rows_int)(struct store_rows *r, int col);
    const char *(*rows_text)(struct store_rows *r, int col);
    const uint8_t *(*rows_blob)(struct store_rows *r, int col, size_t *len);
    void (*rows_free)(struct store_rows *r);
    /* The statement that opens a write transaction. */
    const char *sql_begin;
    /* The statement that opens a read-only snapshot transaction. */
    const char *sql_begin_read;
    /* Serialise migration runs between processes (may be NULL). */
    int (*migrate_lock)(struct store_conn *c);
    int (*migrate_unlock)(struct store_conn *c);
};

extern const struct store_ops store_sqlite_ops;
extern const struct store_ops store_pg_ops;

struct store_job {
    store_write_fn fn;
    store_done_fn done;
    void *arg;
    int rc;
    struct store_job *next;
};

struct store {
    const struct store_ops *ops;
    struct store_options opt;
    char *target;   /* SQLite path or libpq conninfo */
    char *redacted; /* the URI for messages */

    pthread_mutex_t lock;
    pthread_cond_t conn_free; /* a pooled connection was returned */
    struct store_conn *pool;  /* opt.pool_size connections */
    struct store_conn *free_list;
    int borrowed;

    struct store_conn writer; /* the committer's own connection */
    pthread_t committer;
    bool has_committer;
    pthread_cond_t job_ready;
    struct store_job *head, *tail;
    store_batch_fn before_commit; /* under lock */
    void *before_commit_arg;
    bool closing;
    struct store_stats stats;
};

/* Set c->errmsg (printf-style); keeps the first STORE_ERRMSG_MAX bytes. */
void store__set_err(struct store_conn *c, const char *fmt, ...) PARLEY_PRINTF(2, 3);

/* Rewrite $N placeholders to ?N outside quotes and comments (SQLite).
 * Returns a new string; free with free(). */
char *store__sql_qmarks(const char *sql);

#endif
