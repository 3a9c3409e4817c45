/* store.c - the backend-independent half of the store: URI parsing, the
 * connection pool, the migration runner and the group committer.
 *
 * Threading: st->lock guards the pool free list, the job queue, the closing
 * flag and the counters. Connections themselves are unlocked: the pool hands
 * each to one thread at a time, and the writer connection belongs to the
 * committer thread (and to store_open before the thread starts). */
#include "store_int.h"

#include "common/log.h"
#include "common/xmalloc.h"

static const char sql_latest_version[] = "SELECT COALESCE(MAX(version), 0) FROM schema_migrations";

void store_options_default(struct store_options *o)
{
    o->sqlite_sync_full = true;
    o->pool_size = 4;
    o->busy_timeout_ms = 5000;
    o->max_batch = 256;
}

void store__set_err(struct store_conn *c, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(c->errmsg, sizeof(c->errmsg), fmt, ap);
    va_end(ap);
}

const char *store_conn_errmsg(const struct store_conn *c)
{
    return c->errmsg;
}

/* Copy [p, p+n) to b at *o, replacing it by "***" when `hide`. */
static void put_span(char *b, size_t *o, const char *p, size_t n, bool hide)
{
    if (hide) {
        memcpy(b + *o, "***", 3);
        *o += 3;
    } else {
        memcpy(b + *o, p, n);
        *o += n;
    }
}

char *store_uri_redact(const char *uri)
{
    size_t len = strlen(uri), o = 0;
    /* Each hidden span shrinks to 3 bytes or grows from at most 0 to 3. */
    char *b = xmalloc(len * 4 + 4);
    const char *p = uri, *end = uri + len;
    const char *scheme = strstr(uri, "://");

    if (scheme) {
        const char *auth = scheme + 3;
        const char *auth_end = auth + strcspn(auth, "/?#");
        const char *at = NULL;
        for (const char *q = auth; q < auth_end; q++)
            if (*q == '@')
                at = q;
        if (at) {
            const char *colon = memchr(auth, ':', (size_t)(at - auth));
            if (colon) {
                put_span(b, &o, uri, (size_t)(colon + 1 - uri), false);
                put_span(b, &o, NULL, 0, true);
                p = at;
            }
        }
    }
    /* "password=..." as a URI query parameter or a conninfo keyword. */
    while (p < end) {
        const char *kw = strstr(p, "password=");
        if (!kw) {
            put_span(b, &o, p, (size_t)(end - p), false);
            break;
        }
        kw += strlen("password=");
        put_span(b, &o, p, (size_t)(kw - p), false);
        p = kw + strcspn(kw, "& ");
        put_span(b, &o, NULL, 0, true);
    }
    b[o] = '\0';
    return b;
}

/* Pick the backend for `uri` and set st->ops and st->target. */
static int parse_uri(struct store *st, const char *uri)
{
    if (strncmp(uri, "sqlite:", 7) == 0) {
        const char *path = uri + 7;
        if (strncmp(path, "//", 2) == 0)
            path += 2; /* sqlite:///abs/path */
        if (!*path || strcmp(path, ":memory:") == 0 || strncmp(path, "file:", 5) == 0)
            return PARLEY_EINVAL;
        st->ops = &store_sqlite_ops;
        st->target = xstrdup(path);
        return 0;
    }
    if (strncmp(uri, "postgresql://", 13) == 0 || strncmp(uri, "postgres://", 11) == 0) {
        st->ops = &store_pg_ops;
        st->target = xstrdup(uri);
        return 0;
    }
    return PARLEY_EINVAL;
}

static bool options_valid(const struct store_options *o)
{
    return o->pool_size >= 1 && o->pool_size <= 256 && o->busy_timeout_ms >= 0 && o->max_batch >= 1;
}

int store_exec(struct store_conn *c, const char *sql, const struct store_val *params, size_t n,
               int64_t *changes)
{
    c->errmsg[0] = '\0';
    if (changes)
        *changes = 0;
    return c->st->ops->exec(c, sql, params, n, changes);
}

int store_query(struct store_conn *c, const char *sql, const struct store_val *params, size_t n,
                struct store_rows **out)
{
    c->errmsg[0] = '\0';
    *out = NULL;
    return c->st->ops->query(c, sql, params, n, out);
}

int store_query_int(struct store_conn *c, const char *sql, const struct store_val *params, size_t n,
                    int64_t *out)
{
    struct store_rows *r = NULL;
    int rc = store_query(c, sql, params, n, &r);
    if (rc < 0)
        goto out;
    rc = store_rows_next(r);
    if (rc < 0)
        goto out;
    if (rc == 0 || store_rows_is_null(r, 0)) {
        rc = PARLEY_ENOTFOUND;
        goto out;
    }
    *out = store_rows_int(r, 0);
    rc = 0;
out:
    store_rows_free(r);
    return rc;
}

int store_rows_next(struct store_rows *r)
{
    return r->ops->rows_next(r);
}

int store_rows_ncols(struct store_rows *r)
{
    return r->ops->rows_ncols(r);
}

bool store_rows_is_null(struct store_rows *r, int col)
{
    return r->ops->rows_is_null(r, col);
}

int64_t store_rows_int(struct store_rows *r, int col)
{
    return r->ops->rows_int(r, col);
}

const char *store_rows_text(struct store_rows *r, int col)
{
    return r->ops->rows_text(r, col);
}

const uint8_t *store_rows_blob(struct store_rows *r, int col, size_t *len)
{
    return r->ops->rows_blob(r, col, len);
}

void store_rows_free(struct store_rows *r)
{
    if (r)
        r->ops->rows_free(r);
}

static int begin_with(struct store_conn *c, const char *sql)
{
    int rc;
    if (c->in_group || c->in_tx) {
        store__set_err(c, "transaction already open");
        return PARLEY_EINVAL;
    }
    rc = store_exec(c, sql, NULL, 0, NULL);
    if (rc == 0)
        c->in_tx = true;
    return rc;
}

int store_begin(struct store_conn *c)
{
    return begin_with(c, c->st->ops->sql_begin);
}

int store_begin_read(struct store_conn *c)
{
    return begin_with(c, c->st->ops->sql_begin_read);
}

/* Whatever happens, the transaction is over when this returns. */
int store_commit(struct store_conn *c)
{
    int rc;
    if (c->in_group || !c->in_tx) {
        store__set_err(c, "no transaction open");
        return PARLEY_EINVAL;
    }
    rc = store_exec(c, "COMMIT", NULL, 0, NULL);
    if (rc < 0) {
        /* SQLite keeps the transaction open after a failed COMMIT (e.g.
         * SQLITE_BUSY); PostgreSQL has ended it. End it on both, keeping
         * the first message. */
        char msg[STORE_ERRMSG_MAX];
        memcpy(msg, c->errmsg, sizeof(msg));
        (void)store_exec(c, "ROLLBACK", NULL, 0, NULL);
        memcpy(c->errmsg, msg, sizeof(msg));
    }
    c->in_tx = false;
    return rc;
}

int store_rollback(struct store_conn *c)
{
    int rc;
    if (c->in_group || !c->in_tx) {
        store__set_err(c, "no transaction open");
        return PARLEY_EINVAL;
    }
    rc = store_exec(c, "ROLLBACK", NULL, 0, NULL);
    c->in_tx = false;
    return rc;
}

/* ---- migrations ---- */

int store_schema_latest(void)
{
    return store_migrations[store_migrations_count - 1].version;
}

/* Apply the first migration the database has not recorded, in its own
 * transaction. Sets *applied to whether one ran. Every version is checked,
 * not only those above the highest recorded: a database that ran a later
 * migration first (versions are allotted in ranges, so work can land out of
 * order) still gets the earlier ones. The record is read inside the write
 * transaction, so a concurrent starter cannot apply the same step twice. */
static int migrate_step(struct store *st, bool *applied)
{
    struct store_conn *c = &st->writer;
    const struct store_migration *m = NULL;
    int64_t cur = 0;
    int rc;

    *applied = false;
    rc = store_begin(c);
    if (rc < 0)
        return rc;
    rc = store_query_int(c, sql_latest_version, NULL, 0, &cur);
    if (rc < 0)
        goto out;
    if (cur > store_schema_latest()) {
        store__set_err(c, "database schema version %lld is newer than this parleyd knows (%d)",
                       (long long)cur, store_schema_latest());
        rc = PARLEY_ESTORE;
        goto out;
    }
    for (size_t i = 0; i < store_migrations_count && !m; i++) {
        struct store_val v[] = {STORE_INT(store_migrations[i].version)};
        int64_t n = 0;
        rc = store_query_int(c, "SELECT COUNT(*) FROM schema_migrations WHERE version = $1", v,
                             ARRAY_SIZE(v), &n);
        if (rc < 0)
            goto out;
        if (n == 0)
            m = &store_migrations[i];
    }
    if (!m)
        return store_commit(c);

    const char *sql = st->ops == &store_pg_ops && m->sql_pg ? m->sql_pg : m->sql_sqlite;
    rc = st->ops->exec_script(c, sql);
    if (rc < 0) {
        char msg[STORE_ERRMSG_MAX];
        memcpy(msg, c->errmsg, sizeof(msg));
        store__set_err(c, "migration %d (%s) failed: %s", m->version, m->name, msg);
        goto out;
    }
    struct store_val p[] = {STORE_INT(m->version), STORE_TEXT(m->name),
                            STORE_INT((int64_t)time(NULL))};
    rc = store_exec(c,
                    "INSERT INTO schema_migrations (version, name, applied_at) VALUES ($1, $2, $3)",
                    p, ARRAY_SIZE(p), NULL);
    if (rc < 0)
        goto out;
    rc = store_commit(c);
    if (rc == 0) {
        *applied = true;
        log_info("store migrated version=%d name=%s", m->version, m->name);
    }
    return rc;
out:
    if (c->in_tx) {
        char msg[STORE_ERRMSG_MAX];
        memcpy(msg, c->errmsg, sizeof(msg));
        (void)store_rollback(c);
        memcpy(c->errmsg, msg, sizeof(msg));
    }
    return rc;
}

static int migrate(struct store *st)
{
    struct store_conn *c = &st->writer;
    bool applied = true;
    int rc = 0;

    for (size_t i = 1; i < store_migrations_count; i++)
        if (store_migrations[i].version <= store_migrations[i - 1].version)
            BUG("store migrations out of order at version %d", store_migrations[i].version);
    if (st->ops->migrate_lock) {
        rc = st->ops->migrate_lock(c);
        if (rc < 0)
            return rc;
    }
    rc = st->ops->exec_script(c, "CREATE TABLE IF NOT EXISTS schema_migrations ("
                                 "version INTEGER PRIMARY KEY, name TEXT NOT NULL, "
                                 "applied_at BIGINT NOT NULL)");
    while (rc == 0 && applied)
        rc = migrate_step(st, &applied);
    if (st->ops->migrate_unlock) {
        char msg[STORE_ERRMSG_MAX];
        memcpy(msg, c->errmsg, sizeof(msg));
        int urc = st->ops->migrate_unlock(c);
        if (rc == 0)
            rc = urc;
        else
            memcpy(c->errmsg, msg, sizeof(msg));
    }
    return rc;
}

int store_schema_version(struct store *st)
{
    struct store_conn *c;
    int64_t v = 0;
    int rc = store_conn_get(st, &c);
    if (rc < 0)
        return rc;
    rc = store_query_int(c, sql_latest_version, NULL, 0, &v);
    store_conn_put(st, c);
    return rc < 0 ? rc : (int)v;
}

/* ---- the pool ---- */

int store_conn_get(struct store *st, struct store_conn **out)
{
    int rc = 0;
    pthread_mutex_lock(&st->lock);
    while (!st->free_list && !st->closing)
        pthread_cond_wait(&st->conn_free, &st->lock);
    if (st->closing) {
        rc = PARLEY_ECLOSED;
    } else {
        *out = st->free_list;
        st->free_list = (*out)->next_free;
        st->borrowed++;
    }
    pthread_mutex_unlock(&st->lock);
    if (rc == 0)
        (*out)->errmsg[0] = '\0';
    return rc;
}

void store_conn_put(struct store *st, struct store_conn *c)
{
    if (c->in_tx) {
        log_warnx("store connection returned inside a transaction; rolling back");
        (void)store_rollback(c);
    }
    pthread_mutex_lock(&st->lock);
    c->next_free = st->free_list;
    st->free_list = c;
    st->borrowed--;
    pthread_cond_signal(&st->conn_free);
    pthread_mutex_unlock(&st->lock);
}

/* ---- the group committer ---- */

/* Open the batch's transaction and the first job's savepoint. */
static int batch_begin(struct store *st, struct store_conn *c)
{
    int rc = st->ops->exec_deferred(c, st->ops->sql_begin);
    if (rc == 0)
        rc = st->ops->exec_deferred(c, "SAVEPOINT job");
    return rc;
}

/* After a job: undo it if it failed, then open the next job's savepoint. */
static int batch_step(struct store *st, struct store_conn *c, bool job_failed, bool has_next)
{
    int rc = 0;
    if (c->deferred_failed)
        return PARLEY_ESTORE;
    if (job_failed)
        rc = st->ops->exec_deferred(c, "ROLLBACK TO SAVEPOINT job");
    if (rc == 0 && has_next)
        rc = st->ops->exec_deferred(c, "RELEASE SAVEPOINT job");
    if (rc == 0 && has_next)
        rc = st->ops->exec_deferred(c, "SAVEPOINT job");
    return rc;
}

/* Run `batch` in one transaction and set each job's rc. Each job runs in
 * the SAVEPOINT "job". The transaction and savepoint statements are
 * deferred: on PostgreSQL they travel in one pipeline with the next job's
 * first statement, so a job costs no more round trips than its own
 * statements. A deferred statement that fails breaks the batch (checked
 * after every job), so no job is reported committed when it was not. */
static void run_batch(struct store *st, struct store_job *batch, store_batch_fn before_commit,
                      void *before_commit_arg)
{
    struct store_conn *c = &st->writer;
    bool broken = false;
    struct store_job *j;
    int rc;

    c->errmsg[0] = '\0';
    c->deferred_failed = false;
    rc = batch_begin(st, c);
    if (rc < 0)
        log_error("store group commit cannot begin: %s", c->errmsg);
    c->in_tx = true;
    c->in_group = true;
    for (j = batch; j; j = j->next) {
        j->rc = PARLEY_ESTORE;
        if (broken || rc < 0) {
            broken = true;
            continue; /* never ran: reported as a store failure */
        }
        j->rc = j->fn(c, j->arg);
        rc = batch_step(st, c, j->rc < 0, j->next != NULL);
        if (rc < 0) {
            /* The transaction itself is gone or unusable (e.g. SQLite rolled
             * it back after an I/O error): nothing in this batch commits. */
            log_error("store group commit failed: %s", c->errmsg);
            if (j->rc >= 0)
                j->rc = rc;
            broken = true;
        }
    }
    c->in_group = false;
    if (before_commit)
        before_commit(before_commit_arg, !broken);
    if (broken) {
        (void)store_rollback(c);
        for (j = batch; j; j = j->next)
            if (j->rc >= 0)
                j->rc = PARLEY_ESTORE;
        return;
    }
    rc = store_commit(c);
    if (rc == 0 && c->deferred_failed)
        rc = PARLEY_ESTORE;
    if (rc < 0) {
        log_error("store group commit failed: %s", c->errmsg);
        for (j = batch; j; j = j->next)
            if (j->rc >= 0)
                j->rc = rc;
    }
}

static void *committer_main(void *arg)
{
    struct store *st = arg;

    pthread_mutex_lock(&st->lock);
    for (;;) {
        while (!st->head && !st->closing)
            pthread_cond_wait(&st->job_ready, &st->lock);
        if (!st->head)
            break; /* closing and drained */

        /* Take up to max_batch jobs; the rest wait for the next commit. */
        struct store_job *batch = st->head, *last = batch;
        uint64_t n = 1;
        while (last->next && n < (uint64_t)st->opt.max_batch) {
            last = last->next;
            n++;
        }
        st->head = last->next;
        if (!st->head)
            st->tail = NULL;
        last->next = NULL;
        store_batch_fn before_commit = st->before_commit;
        void *before_commit_arg = st->before_commit_arg;
        pthread_mutex_unlock(&st->lock);

        run_batch(st, batch, before_commit, before_commit_arg);

        uint64_t failed = 0;
        for (struct store_job *j = batch; j; j = j->next)
            failed += j->rc < 0;
        pthread_mutex_lock(&st->lock);
        st->stats.commits++;
        st->stats.jobs += n;
        st->stats.jobs_failed += failed;
        if (n > st->stats.batch_max)
            st->stats.batch_max = n;
        pthread_mutex_unlock(&st->lock);

        while (batch) {
            struct store_job *next = batch->next;
            if (batch->done)
                batch->done(batch->arg, batch->rc);
            free(batch);
            batch = next;
        }
        pthread_mutex_lock(&st->lock);
    }
    pthread_mutex_unlock(&st->lock);
    return NULL;
}

void store_set_before_commit(struct store *st, store_batch_fn fn, void *arg)
{
    pthread_mutex_lock(&st->lock);
    st->before_commit = fn;
    st->before_commit_arg = arg;
    pthread_mutex_unlock(&st->lock);
}

int store_submit(struct store *st, store_write_fn fn, store_done_fn done, void *arg)
{
    struct store_job *j = xcalloc(1, sizeof(*j));
    j->fn = fn;
    j->done = done;
    j->arg = arg;

    pthread_mutex_lock(&st->lock);
    if (st->closing) {
        pthread_mutex_unlock(&st->lock);
        free(j);
        return PARLEY_ECLOSED;
    }
    if (st->tail)
        st->tail->next = j;
    else
        st->head = j;
    st->tail = j;
    pthread_cond_signal(&st->job_ready);
    pthread_mutex_unlock(&st->lock);
    return 0;
}

struct sync_wait {
    pthread_mutex_t lock;
    pthread_cond_t cond;
    bool finished;
    int rc;
};

static void on_sync_done(void *arg, int rc)
{
    struct sync_wait *w = arg;
    pthread_mutex_lock(&w->lock);
    w->rc = rc;
    w->finished = true;
    pthread_cond_signal(&w->cond);
    pthread_mutex_unlock(&w->lock);
}

struct sync_job {
    store_write_fn fn;
    void *arg;
    struct sync_wait *w;
};

static int sync_fn(struct store_conn *c, void *arg)
{
    struct sync_job *sj = arg;
    return sj->fn(c, sj->arg);
}

static void sync_done(void *arg, int rc)
{
    struct sync_job *sj = arg;
    on_sync_done(sj->w, rc);
}

int store_write_sync(struct store *st, store_write_fn fn, void *arg)
{
    struct sync_wait w = {.finished = false, .rc = 0};
    struct sync_job sj = {fn, arg, &w};
    int rc;

    if (st->has_committer && pthread_equal(pthread_self(), st->committer))
        return PARLEY_EINVAL;
    pthread_mutex_init(&w.lock, NULL);
    pthread_cond_init(&w.cond, NULL);
    rc = store_submit(st, sync_fn, sync_done, &sj);
    if (rc == 0) {
        pthread_mutex_lock(&w.lock);
        while (!w.finished)
            pthread_cond_wait(&w.cond, &w.lock);
        rc = w.rc;
        pthread_mutex_unlock(&w.lock);
    }
    pthread_cond_destroy(&w.cond);
    pthread_mutex_destroy(&w.lock);
    return rc;
}

void store_stats(struct store *st, struct store_stats *out)
{
    pthread_mutex_lock(&st->lock);
    *out = st->stats;
    pthread_mutex_unlock(&st->lock);
}

/* ---- open and close ---- */

const char *store_backend(const struct store *st)
{
    return st->ops->name;
}

bool store_is_pg(const struct store *st)
{
    return st->ops == &store_pg_ops;
}

static void conn_init(struct store *st, struct store_conn *c)
{
    memset(c, 0, sizeof(*c));
    c->st = st;
}

static void close_conns(struct store *st)
{
    if (st->pool) {
        for (int i = 0; i < st->opt.pool_size; i++)
            if (st->pool[i].impl)
                st->ops->conn_close(&st->pool[i]);
        free(st->pool);
    }
    if (st->writer.impl)
        st->ops->conn_close(&st->writer);
}

static void store_free(struct store *st)
{
    close_conns(st);
    pthread_cond_destroy(&st->job_ready);
    pthread_cond_destroy(&st->conn_free);
    pthread_mutex_destroy(&st->lock);
    free(st->target);
    free(st->redacted);
    free(st);
}

int store_open(const char *uri, const struct store_options *opt, struct store **out)
{
    struct store *st = xcalloc(1, sizeof(*st));
    int rc;

    *out = NULL;
    pthread_mutex_init(&st->lock, NULL);
    pthread_cond_init(&st->conn_free, NULL);
    pthread_cond_init(&st->job_ready, NULL);
    st->redacted = store_uri_redact(uri ? uri : "");
    if (opt)
        st->opt = *opt;
    else
        store_options_default(&st->opt);
    conn_init(st, &st->writer);

    if (!uri || parse_uri(st, uri) < 0) {
        log_error("cannot open store '%s': expected sqlite:PATH or postgresql://...", st->redacted);
        rc = PARLEY_EINVAL;
        goto fail;
    }
    if (!options_valid(&st->opt)) {
        log_error("cannot open store '%s': invalid options", st->redacted);
        rc = PARLEY_EINVAL;
        goto fail;
    }
    rc = st->ops->prepare(st);
    if (rc < 0)
        goto fail;
    rc = st->ops->conn_open(st, &st->writer, true);
    if (rc < 0)
        goto fail_msg;
    rc = migrate(st);
    if (rc < 0)
        goto fail_msg;

    st->pool = xcalloc((size_t)st->opt.pool_size, sizeof(*st->pool));
    for (int i = 0; i < st->opt.pool_size; i++) {
        struct store_conn *c = &st->pool[i];
        conn_init(st, c);
        rc = st->ops->conn_open(st, c, false);
        if (rc < 0) {
            log_error("cannot open store '%s': %s", st->redacted, c->errmsg);
            goto fail;
        }
        c->next_free = st->free_list;
        st->free_list = c;
    }

    if (pthread_create(&st->committer, NULL, committer_main, st) != 0) {
        log_error("cannot open store '%s': cannot start the committer thread", st->redacted);
        rc = PARLEY_ESTORE;
        goto fail;
    }
    st->has_committer = true;
    *out = st;
    return 0;

fail_msg:
    log_error("cannot open store '%s': %s", st->redacted, st->writer.errmsg);
fail:
    store_free(st);
    return rc;
}

void store_close(struct store *st)
{
    if (!st)
        return;
    pthread_mutex_lock(&st->lock);
    st->closing = true;
    pthread_cond_broadcast(&st->job_ready);
    pthread_cond_broadcast(&st->conn_free);
    pthread_mutex_unlock(&st->lock);
    if (st->has_committer)
        pthread_join(st->committer, NULL);
    pthread_mutex_lock(&st->lock);
    if (st->stats.commits)
        log_info("store closed commits=%llu jobs=%llu failed=%llu batch_max=%llu",
                 (unsigned long long)st->stats.commits, (unsigned long long)st->stats.jobs,
                 (unsigned long long)st->stats.jobs_failed,
                 (unsigned long long)st->stats.batch_max);
    int borrowed = st->borrowed;
    pthread_mutex_unlock(&st->lock);
    if (borrowed != 0)
        BUG("store closed with %d connections still borrowed", borrowed);
    store_free(st);
}

/* ---- SQL text helpers ---- */

char *store__sql_qmarks(const char *sql)
{
    size_t n = strlen(sql);
    char *out = xmalloc(n + 1), *o = out;
    const char *p = sql;

    while (*p) {
        char ch = *p;
        if (ch == '\'' || ch == '"') {
            /* A quoted literal or identifier; a doubled quote escapes. */
            *o++ = *p++;
            while (*p && *p != ch)
                *o++ = *p++;
            if (*p)
                *o++ = *p++;
        } else if (ch == '-' && p[1] == '-') {
            while (*p && *p != '\n')
                *o++ = *p++;
        } else if (ch == '/' && p[1] == '*') {
            *o++ = *p++;
            *o++ = *p++;
            while (*p && !(p[0] == '*' && p[1] == '/'))
                *o++ = *p++;
            if (*p) {
                *o++ = *p++;
                *o++ = *p++;
            }
        } else if (ch == '$' && p[1] >= '0' && p[1] <= '9') {
            *o++ = '?';
            p++;
        } else {
            *o++ = *p++;
        }
    }
    *o = '\0';
    return out;
}
