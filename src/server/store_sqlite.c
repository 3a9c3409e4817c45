/* store_sqlite.c - the SQLite backend of the store (the default).
 *
 * One database file in WAL mode: readers never block the writer and the
 * writer never blocks readers. Every connection is opened NOMUTEX (SQLite's
 * multi-thread mode) because the pool hands it to one thread at a time, and
 * gets busy_timeout, foreign_keys=ON and the chosen `synchronous` level.
 *
 * Durability: synchronous=FULL by default. In WAL mode that fsyncs the WAL
 * at every COMMIT, so a commit that returned survives a power loss. NORMAL
 * would skip that fsync (syncing only at checkpoints): still safe against a
 * crash of the process, but the last commits can vanish on power loss, and
 * parleyd acknowledges a message only once it is durable. Group commit makes
 * FULL affordable: the committer pays one fsync per batch, not per message.
 * Operators who accept the weaker guarantee can set sqlite_sync_full=false.
 *
 * Statements are prepared once per connection and kept in a small cache
 * keyed by their SQL text; $N placeholders are rewritten to ?N on prepare. */
#include "store_int.h"

#include <fcntl.h>
#include <pthread.h>
#include <unistd.h>

#include <sqlite3.h>

#include "common/log.h"
#include "common/xmalloc.h"

#define SQ_CACHE_SIZE 64

struct sq_stmt {
    uint64_t hash;
    char *sql;            /* the caller's text, the cache key */
    const char *last_sql; /* where the caller's text was last seen */
    sqlite3_stmt *stmt;
    bool is_busy; /* held by an open result set */
    uint64_t last_used;
};

/* The writer's checkpoints run on a thread of their own, with its own
 * connection: SQLite's automatic checkpoint would run inside the COMMIT
 * that crossed the threshold, so that batch's senders would wait for
 * thousands of pages to be copied and the database file synced. Every
 * SQ_CKPT_PAGES (16 MiB of WAL) rather than SQLite's 1000: a page that many
 * commits rewrite reaches the database file once per checkpoint. */
#define SQ_CKPT_PAGES 4000

struct sq_ckpt {
    pthread_t thread;
    pthread_mutex_t lock;
    pthread_cond_t cond;
    bool is_pending, is_stopping;
    sqlite3 *db;
    int woken_at; /* WAL length at the last wake-up (writer thread only) */
};

struct sq_conn {
    sqlite3 *db;
    uint64_t tick;
    struct sq_ckpt *ckpt; /* the writer's checkpointer */
    struct sq_stmt cache[SQ_CACHE_SIZE];
};

struct sq_rows {
    struct store_rows base;
    sqlite3_stmt *stmt;
    struct sq_stmt *cached; /* NULL: finalize on free */
    bool is_done;
};

static const struct store_ops *const self_ops = &store_sqlite_ops;

static sqlite3 *db_of(struct store_conn *c)
{
    return ((struct sq_conn *)c->impl)->db;
}

/* Record the error and map the SQLite result code to a PARLEY_E* code. */
static int map_err(struct store_conn *c, int rc)
{
    sqlite3 *db = db_of(c);
    store__set_err(c, "%s", sqlite3_errmsg(db));
    switch (rc & 0xff) {
    case SQLITE_CONSTRAINT:
        if (rc == SQLITE_CONSTRAINT_UNIQUE || rc == SQLITE_CONSTRAINT_PRIMARYKEY)
            return PARLEY_EEXIST;
        return PARLEY_ESTORE;
    case SQLITE_BUSY:
    case SQLITE_LOCKED:
        return PARLEY_EBUSY;
    default:
        return PARLEY_ESTORE;
    }
}

static uint64_t fnv1a(const char *s)
{
    uint64_t h = 0xcbf29ce484222325ull;
    for (; *s; s++) {
        h ^= (unsigned char)*s;
        h *= 0x100000001b3ull;
    }
    return h;
}

static bool only_space(const char *s)
{
    for (; *s; s++)
        if (*s != ' ' && *s != '\t' && *s != '\n' && *s != '\r' && *s != ';')
            return false;
    return true;
}

static int prepare_one(struct store_conn *c, const char *sql, sqlite3_stmt **out)
{
    char *q = store__sql_qmarks(sql);
    const char *tail = NULL;
    int rc = sqlite3_prepare_v3(db_of(c), q, -1, SQLITE_PREPARE_PERSISTENT, out, &tail);
    if (rc != SQLITE_OK) {
        rc = map_err(c, rc);
        goto out;
    }
    if (!*out || (tail && !only_space(tail))) {
        store__set_err(c, "expected exactly one SQL statement");
        sqlite3_finalize(*out);
        *out = NULL;
        rc = PARLEY_EINVAL;
        goto out;
    }
    rc = 0;
out:
    free(q);
    return rc;
}

/* Find or prepare the statement for `sql`. *slot is the cache entry now
 * marked busy, or NULL for an uncached statement the caller finalizes. */
static int stmt_get(struct store_conn *c, const char *sql, sqlite3_stmt **out,
                    struct sq_stmt **slot)
{
    struct sq_conn *sc = c->impl;
    uint64_t h;
    struct sq_stmt *victim = NULL;
    int rc;

    *slot = NULL;
    /* Callers pass string literals: the same text is usually at the same
     * address, which finds it without hashing (strcmp still decides). */
    for (int i = 0; i < SQ_CACHE_SIZE; i++) {
        struct sq_stmt *e = &sc->cache[i];
        if (e->last_sql == sql && e->stmt && !e->is_busy && strcmp(e->sql, sql) == 0) {
            e->is_busy = true;
            e->last_used = ++sc->tick;
            *out = e->stmt;
            *slot = e;
            return 0;
        }
    }
    h = fnv1a(sql);
    for (int i = 0; i < SQ_CACHE_SIZE; i++) {
        struct sq_stmt *e = &sc->cache[i];
        if (e->stmt && !e->is_busy && e->hash == h && strcmp(e->sql, sql) == 0) {
            e->last_sql = sql;
            e->is_busy = true;
            e->last_used = ++sc->tick;
            *out = e->stmt;
            *slot = e;
            return 0;
        }
        if (!e->is_busy &&
            (!victim || !e->stmt || (victim->stmt && e->last_used < victim->last_used)))
            victim = e;
    }
    rc = prepare_one(c, sql, out);
    if (rc < 0 || !victim)
        return rc;
    if (victim->stmt) {
        sqlite3_finalize(victim->stmt);
        free(victim->sql);
    }
    victim->hash = h;
    victim->sql = xstrdup(sql);
    victim->last_sql = sql;
    victim->stmt = *out;
    victim->is_busy = true;
    victim->last_used = ++sc->tick;
    *slot = victim;
    return 0;
}

static void stmt_put(sqlite3_stmt *stmt, struct sq_stmt *slot)
{
    if (!slot) {
        sqlite3_finalize(stmt);
        return;
    }
    sqlite3_reset(stmt);
    sqlite3_clear_bindings(stmt);
    slot->is_busy = false;
}

static int bind_all(struct store_conn *c, sqlite3_stmt *stmt, const struct store_val *params,
                    size_t n)
{
    int want = sqlite3_bind_parameter_count(stmt);
    if ((size_t)want != n) {
        store__set_err(c, "statement has %d parameters, %zu given", want, n);
        return PARLEY_EINVAL;
    }
    for (size_t i = 0; i < n; i++) {
        const struct store_val *v = &params[i];
        int idx = (int)i + 1, rc;
        switch (v->type) {
        case STORE_T_NULL:
            rc = sqlite3_bind_null(stmt, idx);
            break;
        case STORE_T_INT:
            rc = sqlite3_bind_int64(stmt, idx, v->i);
            break;
        case STORE_T_TEXT:
            rc = sqlite3_bind_text64(stmt, idx, v->p ? v->p : "", v->len, SQLITE_STATIC,
                                     SQLITE_UTF8);
            break;
        case STORE_T_BLOB:
            /* A NULL pointer would bind SQL NULL; an empty blob is not NULL. */
            rc = sqlite3_bind_blob64(stmt, idx, v->p ? v->p : "", v->len, SQLITE_STATIC);
            break;
        default:
            store__set_err(c, "parameter $%d has an unknown type", idx);
            return PARLEY_EINVAL;
        }
        if (rc != SQLITE_OK)
            return map_err(c, rc);
    }
    return 0;
}

static int sq_exec(struct store_conn *c, const char *sql, const struct store_val *params, size_t n,
                   int64_t *changes)
{
    sqlite3_stmt *stmt;
    struct sq_stmt *slot;
    int rc = stmt_get(c, sql, &stmt, &slot);
    if (rc < 0)
        return rc;
    rc = bind_all(c, stmt, params, n);
    if (rc < 0)
        goto out;
    do
        rc = sqlite3_step(stmt);
    while (rc == SQLITE_ROW);
    if (rc != SQLITE_DONE) {
        rc = map_err(c, rc);
        goto out;
    }
    rc = 0;
    if (changes)
        *changes = sqlite3_stmt_readonly(stmt) ? 0 : sqlite3_changes64(db_of(c));
out:
    stmt_put(stmt, slot);
    return rc;
}

static int sq_query(struct store_conn *c, const char *sql, const struct store_val *params, size_t n,
                    struct store_rows **out)
{
    sqlite3_stmt *stmt;
    struct sq_stmt *slot;
    struct sq_rows *r;
    int rc = stmt_get(c, sql, &stmt, &slot);
    if (rc < 0)
        return rc;
    rc = bind_all(c, stmt, params, n);
    if (rc < 0) {
        stmt_put(stmt, slot);
        return rc;
    }
    r = xcalloc(1, sizeof(*r));
    r->base.ops = self_ops;
    r->base.c = c;
    r->stmt = stmt;
    r->cached = slot;
    *out = &r->base;
    return 0;
}

static int sq_rows_next(struct store_rows *base)
{
    struct sq_rows *r = (struct sq_rows *)base;
    int rc;
    if (r->is_done)
        return 0; /* stepping again would silently restart the query */
    rc = sqlite3_step(r->stmt);
    if (rc == SQLITE_ROW)
        return 1;
    r->is_done = true;
    if (rc == SQLITE_DONE)
        return 0;
    return map_err(base->c, rc);
}

static int sq_rows_ncols(struct store_rows *base)
{
    return sqlite3_column_count(((struct sq_rows *)base)->stmt);
}

static bool sq_rows_is_null(struct store_rows *base, int col)
{
    return sqlite3_column_type(((struct sq_rows *)base)->stmt, col) == SQLITE_NULL;
}

static int64_t sq_rows_int(struct store_rows *base, int col)
{
    return sqlite3_column_int64(((struct sq_rows *)base)->stmt, col);
}

static const char *sq_rows_text(struct store_rows *base, int col)
{
    return (const char *)sqlite3_column_text(((struct sq_rows *)base)->stmt, col);
}

static const uint8_t *sq_rows_blob(struct store_rows *base, int col, size_t *len)
{
    sqlite3_stmt *stmt = ((struct sq_rows *)base)->stmt;
    const uint8_t *p;
    *len = 0;
    if (sqlite3_column_type(stmt, col) == SQLITE_NULL)
        return NULL;
    p = sqlite3_column_blob(stmt, col);
    *len = (size_t)sqlite3_column_bytes(stmt, col);
    return p ? p : (const uint8_t *)"";
}

static void sq_rows_free(struct store_rows *base)
{
    struct sq_rows *r = (struct sq_rows *)base;
    stmt_put(r->stmt, r->cached);
    free(r);
}

static int sq_exec_script(struct store_conn *c, const char *sql)
{
    int rc = sqlite3_exec(db_of(c), sql, NULL, NULL, NULL);
    return rc == SQLITE_OK ? 0 : map_err(c, rc);
}

/* In process there is no round trip to save: run it now. */
static int sq_exec_deferred(struct store_conn *c, const char *sql)
{
    return sq_exec(c, sql, NULL, 0, NULL);
}

/* Create the file with mode 0600 before SQLite does, so the database (and
 * the -wal/-shm files, which SQLite creates with the database's mode) is
 * never readable by others. */
static int sq_prepare(struct store *st)
{
    int fd = open(st->target, O_RDWR | O_CREAT | O_CLOEXEC, 0600);
    if (fd < 0) {
        log_warn("cannot open store '%s'", st->redacted);
        return PARLEY_ESTORE;
    }
    close(fd);
    return 0;
}

/* Switch the file to WAL mode. That needs an exclusive lock, and SQLite
 * does not wait for it through the busy handler, so parleyd processes
 * starting together on a new file can collide: retry until the busy
 * timeout. */
static int set_wal(struct store *st, struct store_conn *c)
{
    int waited_ms = 0;
    for (;;) {
        struct store_rows *r = NULL;
        int rc = sq_query(c, "PRAGMA journal_mode=WAL", NULL, 0, &r);
        if (rc == 0)
            rc = sq_rows_next(r);
        if (rc == 1) {
            rc = 0;
            if (strcmp(sq_rows_text(r, 0), "wal") != 0) {
                store__set_err(c, "cannot switch to WAL mode (got %s)", sq_rows_text(r, 0));
                rc = PARLEY_ESTORE;
            }
        }
        if (r)
            sq_rows_free(r);
        if (rc != PARLEY_EBUSY || waited_ms >= st->opt.busy_timeout_ms)
            return rc;
        usleep(10 * 1000);
        waited_ms += 10;
    }
}

/* Writer, after each commit: wake the checkpointer once the WAL is long. */
static int on_wal_commit(void *arg, sqlite3 *db, const char *name, int pages)
{
    struct sq_ckpt *k = arg;
    (void)db;
    (void)name;
    /* Once per SQ_CKPT_PAGES of growth: while readers keep the writer from
     * restarting the WAL, its length stays past the mark, and waking at
     * every commit made checkpoints run back to back, each syncing the WAL
     * and the database under the commits' own syncs. A restarted (shorter)
     * WAL counts from its start again. */
    if (pages < k->woken_at)
        k->woken_at = 0;
    if (pages >= k->woken_at + SQ_CKPT_PAGES) {
        k->woken_at = pages;
        pthread_mutex_lock(&k->lock);
        k->is_pending = true;
        pthread_cond_signal(&k->cond);
        pthread_mutex_unlock(&k->lock);
    }
    return SQLITE_OK;
}

static void *ckpt_main(void *arg)
{
    struct sq_ckpt *k = arg;

    pthread_mutex_lock(&k->lock);
    for (;;) {
        while (!k->is_pending && !k->is_stopping)
            pthread_cond_wait(&k->cond, &k->lock);
        if (k->is_stopping)
            break;
        k->is_pending = false;
        pthread_mutex_unlock(&k->lock);
        /* PASSIVE: copies what no reader still needs, never blocks the
         * writer; the writer restarts the WAL from its start once it has
         * all been copied. */
        int rc = sqlite3_wal_checkpoint_v2(k->db, NULL, SQLITE_CHECKPOINT_PASSIVE, NULL, NULL);
        if (rc != SQLITE_OK && rc != SQLITE_BUSY)
            log_warnx("store sqlite checkpoint: %s", sqlite3_errmsg(k->db));
        pthread_mutex_lock(&k->lock);
    }
    pthread_mutex_unlock(&k->lock);
    return NULL;
}

static void ckpt_stop(struct sq_ckpt *k)
{
    pthread_mutex_lock(&k->lock);
    k->is_stopping = true;
    pthread_cond_signal(&k->cond);
    pthread_mutex_unlock(&k->lock);
    pthread_join(k->thread, NULL);
    sqlite3_close_v2(k->db);
    pthread_cond_destroy(&k->cond);
    pthread_mutex_destroy(&k->lock);
    free(k);
}

static int ckpt_start(struct store *st, struct store_conn *c)
{
    struct sq_conn *sc = c->impl;
    struct sq_ckpt *k = xcalloc(1, sizeof(*k));
    char pragmas[64];

    if (sqlite3_open_v2(st->target, &k->db, SQLITE_OPEN_READWRITE | SQLITE_OPEN_NOMUTEX, NULL) !=
        SQLITE_OK) {
        store__set_err(c, "checkpointer: %s", k->db ? sqlite3_errmsg(k->db) : "cannot open");
        sqlite3_close_v2(k->db);
        free(k);
        return PARLEY_ESTORE;
    }
    sqlite3_busy_timeout(k->db, st->opt.busy_timeout_ms);
    /* A checkpoint syncs the WAL, then the database, at this level. */
    snprintf(pragmas, sizeof(pragmas), "PRAGMA synchronous=%s;",
             st->opt.sqlite_sync_full ? "FULL" : "NORMAL");
    sqlite3_exec(k->db, pragmas, NULL, NULL, NULL);
    pthread_mutex_init(&k->lock, NULL);
    pthread_cond_init(&k->cond, NULL);
    if (pthread_create(&k->thread, NULL, ckpt_main, k) != 0) {
        store__set_err(c, "cannot start the checkpointer thread");
        sqlite3_close_v2(k->db);
        pthread_cond_destroy(&k->cond);
        pthread_mutex_destroy(&k->lock);
        free(k);
        return PARLEY_ESTORE;
    }
    sc->ckpt = k;
    /* Replaces SQLite's automatic checkpoint on this connection. */
    sqlite3_wal_hook(sc->db, on_wal_commit, k);
    return 0;
}

static int sq_conn_open(struct store *st, struct store_conn *c, bool is_writer)
{
    struct sq_conn *sc = xcalloc(1, sizeof(*sc));
    char pragmas[320];
    int rc;

    c->impl = sc;
    rc = sqlite3_open_v2(st->target, &sc->db,
                         SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE | SQLITE_OPEN_NOMUTEX, NULL);
    if (rc != SQLITE_OK) {
        store__set_err(c, "%s", sc->db ? sqlite3_errmsg(sc->db) : sqlite3_errstr(rc));
        rc = PARLEY_ESTORE;
        goto fail;
    }
    sqlite3_extended_result_codes(sc->db, 1);
    sqlite3_busy_timeout(sc->db, st->opt.busy_timeout_ms);
    /* See the top of this file for why FULL is the default. */
    /* cache_size: the hot pages (queue tails, devices, indexes) stay in
     * memory; mmap_size: reads copy no pages through read(). The WAL file
     * is truncated back to 64 MiB after a checkpoint (see ckpt_start).
     * temp_store=MEMORY: the committer runs each job in a savepoint, and
     * SQLite saves a page's old content to the sub-journal at the first
     * change in each savepoint; in a file (past 64 KiB, SQLite's spill
     * size) that was a 4 KiB pwrite per page touched per job, a fifth of
     * the committer's time. Temporary b-trees (UNION, IN lists) stay in
     * memory too. */
    snprintf(pragmas, sizeof(pragmas),
             "PRAGMA foreign_keys=ON; PRAGMA synchronous=%s; PRAGMA cache_size=-%d; "
             "PRAGMA mmap_size=268435456; PRAGMA temp_store=MEMORY; %s",
             st->opt.sqlite_sync_full ? "FULL" : "NORMAL", is_writer ? 32768 : 8192,
             is_writer ? "PRAGMA journal_size_limit=67108864;" : "");
    rc = sq_exec_script(c, pragmas);
    if (rc < 0)
        goto fail;
    if (is_writer) {
        /* WAL is a property of the file: set once, by the first connection. */
        rc = set_wal(st, c);
        if (rc == 0)
            rc = ckpt_start(st, c);
        if (rc < 0)
            goto fail;
    }
    return 0;
fail:
    if (sc->db)
        sqlite3_close_v2(sc->db);
    free(sc);
    c->impl = NULL;
    return rc;
}

static void sq_conn_close(struct store_conn *c)
{
    struct sq_conn *sc = c->impl;
    if (sc->ckpt)
        ckpt_stop(sc->ckpt);
    for (int i = 0; i < SQ_CACHE_SIZE; i++) {
        if (sc->cache[i].stmt) {
            sqlite3_finalize(sc->cache[i].stmt);
            free(sc->cache[i].sql);
        }
    }
    if (sqlite3_close(sc->db) != SQLITE_OK) {
        log_warnx("store sqlite close: %s", sqlite3_errmsg(sc->db));
        sqlite3_close_v2(sc->db);
    }
    free(sc);
    c->impl = NULL;
}

const struct store_ops store_sqlite_ops = {
    .name = "sqlite",
    .prepare = sq_prepare,
    .conn_open = sq_conn_open,
    .conn_close = sq_conn_close,
    .exec = sq_exec,
    .query = sq_query,
    .exec_script = sq_exec_script,
    .exec_deferred = sq_exec_deferred,
    .rows_next = sq_rows_next,
    .rows_ncols = sq_rows_ncols,
    .rows_is_null = sq_rows_is_null,
    .rows_int = sq_rows_int,
    .rows_text = sq_rows_text,
    .rows_blob = sq_rows_blob,
    .rows_free = sq_rows_free,
    /* Take the write lock at once: a deferred transaction that later tries
     * to write can fail with SQLITE_BUSY without waiting (lock upgrade). */
    .sql_begin = "BEGIN IMMEDIATE",
    /* In WAL mode a deferred transaction's first read fixes its snapshot. */
    .sql_begin_read = "BEGIN",
    .migrate_lock = NULL, /* BEGIN IMMEDIATE already serialises migrations */
    .migrate_unlock = NULL,
};
