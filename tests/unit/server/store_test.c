/* store_test.c - the storage layer, on the backend PARLEY_TEST_STORE names
 * (tests/unit/server/meson.build runs this binary once per backend). Each
 * case gets a fresh database from testdb. cmocka asserts only on the main
 * thread; worker threads and committer callbacks record what they saw. */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <pthread.h>
#include <sys/stat.h>
#include <unistd.h>

#include "common/log.h"
#include "server/store.h"
#include "server/store_int.h" /* store__sql_qmarks */
#include "testdb.h"

struct fx {
    char *uri;
    struct store *st;
};

static int setup(void **state)
{
    struct fx *fx = calloc(1, sizeof(*fx));
    assert_non_null(fx);
    assert_int_equal(testdb_create(&fx->uri), 0);
    assert_int_equal(store_open(fx->uri, NULL, &fx->st), 0);
    *state = fx;
    return 0;
}

static int teardown(void **state)
{
    struct fx *fx = *state;
    store_close(fx->st);
    testdb_destroy(fx->uri);
    free(fx->uri);
    free(fx);
    return 0;
}

/* ---- helpers ---- */

static void exec_ok(struct store *st, const char *sql, const struct store_val *p, size_t n)
{
    struct store_conn *c;
    assert_int_equal(store_conn_get(st, &c), 0);
    int rc = store_exec(c, sql, p, n, NULL);
    if (rc != 0)
        fail_msg("%s: %s (%s)", sql, parley_strerror(rc), store_conn_errmsg(c));
    store_conn_put(st, c);
}

static int64_t query_int(struct store *st, const char *sql, const struct store_val *p, size_t n)
{
    struct store_conn *c;
    int64_t v = -1;
    assert_int_equal(store_conn_get(st, &c), 0);
    int rc = store_query_int(c, sql, p, n, &v);
    if (rc != 0)
        fail_msg("%s: %s (%s)", sql, parley_strerror(rc), store_conn_errmsg(c));
    store_conn_put(st, c);
    return v;
}

static void create_t(struct store *st)
{
    exec_ok(st,
            store_is_pg(st)
                ? "CREATE TABLE t (id BIGINT PRIMARY KEY, i BIGINT, s TEXT, b BYTEA, n TEXT)"
                : "CREATE TABLE t (id INTEGER PRIMARY KEY, i BIGINT, s TEXT, b BLOB, n TEXT)",
            NULL, 0);
}

static int64_t count_t(struct store *st)
{
    return query_int(st, "SELECT COUNT(*) FROM t", NULL, 0);
}

static bool has_id(struct store *st, int64_t id)
{
    struct store_val p[] = {STORE_INT(id)};
    return query_int(st, "SELECT COUNT(*) FROM t WHERE id = $1", p, 1) == 1;
}

/* A job that inserts row `id` into t. */
struct job {
    int64_t id;
    int fail_with; /* if <0: insert, then return this */
    int rc;
    bool is_done;
};

static pthread_mutex_t done_lock = PTHREAD_MUTEX_INITIALIZER;
static pthread_cond_t done_cond = PTHREAD_COND_INITIALIZER;
static int done_count;

static int insert_fn(struct store_conn *c, void *arg)
{
    struct job *j = arg;
    struct store_val p[] = {STORE_INT(j->id), STORE_INT(j->id * 10)};
    int rc = store_exec(c, "INSERT INTO t (id, i) VALUES ($1, $2)", p, 2, NULL);
    if (rc < 0)
        return rc;
    return j->fail_with;
}

static void on_job_done(void *arg, int rc)
{
    struct job *j = arg;
    pthread_mutex_lock(&done_lock);
    j->rc = rc;
    j->is_done = true;
    done_count++;
    pthread_cond_broadcast(&done_cond);
    pthread_mutex_unlock(&done_lock);
}

static void reset_done(void)
{
    pthread_mutex_lock(&done_lock);
    done_count = 0;
    pthread_mutex_unlock(&done_lock);
}

static void wait_done(int n)
{
    pthread_mutex_lock(&done_lock);
    while (done_count < n)
        pthread_cond_wait(&done_cond, &done_lock);
    pthread_mutex_unlock(&done_lock);
}

/* A job that holds the committer until the gate opens, so the jobs queued
 * behind it are known to share the next commit. */
struct gate {
    pthread_mutex_t lock;
    pthread_cond_t cond;
    bool is_entered, is_open;
};

static struct gate gate = {PTHREAD_MUTEX_INITIALIZER, PTHREAD_COND_INITIALIZER, false, false};

static int gate_fn(struct store_conn *c, void *arg)
{
    pthread_mutex_lock(&gate.lock);
    gate.is_entered = true;
    pthread_cond_broadcast(&gate.cond);
    while (!gate.is_open)
        pthread_cond_wait(&gate.cond, &gate.lock);
    pthread_mutex_unlock(&gate.lock);
    return 0;
}

static void gate_close_and_submit(struct store *st)
{
    pthread_mutex_lock(&gate.lock);
    gate.is_entered = false;
    gate.is_open = false;
    pthread_mutex_unlock(&gate.lock);
    assert_int_equal(store_submit(st, gate_fn, NULL, NULL), 0);
    pthread_mutex_lock(&gate.lock);
    while (!gate.is_entered)
        pthread_cond_wait(&gate.cond, &gate.lock);
    pthread_mutex_unlock(&gate.lock);
}

static void gate_open(void)
{
    pthread_mutex_lock(&gate.lock);
    gate.is_open = true;
    pthread_cond_broadcast(&gate.cond);
    pthread_mutex_unlock(&gate.lock);
}

/* ---- cases ---- */

static int put_kv_fn(struct store_conn *c, void *arg)
{
    struct store_val p[] = {STORE_TEXT("greeting"), STORE_TEXT(arg), STORE_INT(1)};
    return store_exec(c,
                      "INSERT INTO kv (key, value, updated_at) VALUES ($1, $2, $3) "
                      "ON CONFLICT (key) DO UPDATE SET value = excluded.value",
                      p, 3, NULL);
}

static void test_store__open_migrate_reopen(void **state)
{
    struct fx *fx = *state;
    struct store_options o;
    struct store_conn *c;
    struct store_rows *r;

    assert_true(store_schema_latest() >= 1);
    assert_int_equal(store_schema_version(fx->st), store_schema_latest());
    assert_string_equal(store_backend(fx->st),
                        strcmp(testdb_backend(), "pg") == 0 ? "postgresql" : "sqlite");
    assert_int_equal(store_write_sync(fx->st, put_kv_fn, "hello"), 0);
    assert_int_equal(store_write_sync(fx->st, put_kv_fn, "hello again"), 0);
    store_close(fx->st);
    fx->st = NULL;

    store_options_default(&o);
    o.sqlite_sync_full = false;
    o.pool_size = 1;
    assert_int_equal(store_open(fx->uri, &o, &fx->st), 0);
    assert_int_equal(store_schema_version(fx->st), store_schema_latest());
    /* Each migration recorded once: reopening applied nothing again.
     * (Versions leave gaps: ranges are set aside for work in progress.) */
    assert_int_equal(query_int(fx->st, "SELECT COUNT(*) FROM schema_migrations", NULL, 0),
                     (int64_t)store_migrations_count);
    assert_int_equal(store_conn_get(fx->st, &c), 0);
    assert_int_equal(store_query(c, "SELECT value FROM kv WHERE key = 'greeting'", NULL, 0, &r), 0);
    assert_int_equal(store_rows_next(r), 1);
    assert_string_equal(store_rows_text(r, 0), "hello again");
    assert_int_equal(store_rows_next(r), 0);
    assert_int_equal(store_rows_next(r), 0);
    store_rows_free(r);
    store_conn_put(fx->st, c);
}

static void test_store__refuse_newer_schema(void **state)
{
    struct fx *fx = *state;
    struct store_val p[] = {STORE_INT(store_schema_latest() + 1), STORE_TEXT("from the future")};
    exec_ok(fx->st, "INSERT INTO schema_migrations (version, name, applied_at) VALUES ($1, $2, 0)",
            p, 2);
    store_close(fx->st);
    fx->st = NULL;
    assert_int_equal(store_open(fx->uri, NULL, &fx->st), PARLEY_ESTORE);
    assert_null(fx->st);
}

/* A database that recorded a later migration but not an earlier one (work
 * landed out of version order) gets the earlier one on the next start. */
static void test_store__applies_a_gap_below_the_highest(void **state)
{
    struct fx *fx = *state;
    struct store_val v[] = {STORE_INT(21)};
    int found = 0;
    for (size_t i = 0; i < store_migrations_count; i++)
        found |= store_migrations[i].version == 21 &&
                 strcmp(store_migrations[i].name, "file_vault") == 0;
    assert_true(found);
    assert_true(store_schema_latest() > 21);
    exec_ok(fx->st, "DELETE FROM schema_migrations WHERE version = $1", v, 1);
    exec_ok(fx->st, "ALTER TABLE files DROP COLUMN in_vault", NULL, 0);
    store_close(fx->st);
    fx->st = NULL;
    assert_int_equal(store_open(fx->uri, NULL, &fx->st), 0);
    assert_int_equal(
        query_int(fx->st, "SELECT COUNT(*) FROM schema_migrations WHERE version = $1", v, 1), 1);
    assert_int_equal(query_int(fx->st, "SELECT COUNT(*) FROM files WHERE in_vault = 0", NULL, 0),
                     0);
    assert_int_equal(query_int(fx->st, "SELECT COUNT(*) FROM schema_migrations", NULL, 0),
                     (int64_t)store_migrations_count);
}

static void test_store__types_roundtrip(void **state)
{
    struct fx *fx = *state;
    static const uint8_t blob[] = {0, 1, 0, 0xff, 0, 0x7f};
    const char *uni =
        "h\xc3\xa9llo w\xc3\xb6rld \xe2\x9c\x93 \xf0\x9f\x98\x80 \xe4\xbd\xa0\xe5\xa5\xbd";
    struct store_conn *c;
    struct store_rows *r;
    size_t len;
    int64_t changes;

    create_t(fx->st);
    struct store_val r1[] = {STORE_INT(1), STORE_INT(INT64_MAX), STORE_TEXT(uni),
                             STORE_BLOB(blob, sizeof(blob)), STORE_NULLV};
    struct store_val r2[] = {STORE_INT(2), STORE_INT(INT64_MIN), STORE_TEXT(""),
                             STORE_BLOB(NULL, 0), STORE_TEXTN("abcdef", 3)};
    struct store_val r3[] = {STORE_INT(3), STORE_NULLV, STORE_TEXT(NULL), STORE_NULLV, STORE_NULLV};
    const char *ins = "INSERT INTO t (id, i, s, b, n) VALUES ($1, $2, $3, $4, $5)";
    exec_ok(fx->st, ins, r1, 5);
    exec_ok(fx->st, ins, r2, 5);
    exec_ok(fx->st, ins, r3, 5);

    assert_int_equal(store_conn_get(fx->st, &c), 0);
    assert_int_equal(store_query(c, "SELECT id, i, s, b, n FROM t ORDER BY id", NULL, 0, &r), 0);
    assert_int_equal(store_rows_ncols(r), 5);

    assert_int_equal(store_rows_next(r), 1);
    assert_int_equal(store_rows_int(r, 0), 1);
    assert_true(store_rows_int(r, 1) == INT64_MAX);
    assert_string_equal(store_rows_text(r, 2), uni);
    const uint8_t *b = store_rows_blob(r, 3, &len);
    assert_int_equal(len, sizeof(blob));
    assert_memory_equal(b, blob, sizeof(blob));
    assert_true(store_rows_is_null(r, 4));
    assert_false(store_rows_is_null(r, 3));

    assert_int_equal(store_rows_next(r), 1);
    assert_true(store_rows_int(r, 1) == INT64_MIN);
    assert_false(store_rows_is_null(r, 2));
    assert_string_equal(store_rows_text(r, 2), "");
    assert_false(store_rows_is_null(r, 3));
    assert_non_null(store_rows_blob(r, 3, &len));
    assert_int_equal(len, 0);
    assert_string_equal(store_rows_text(r, 4), "abc");

    assert_int_equal(store_rows_next(r), 1);
    for (int col = 1; col < 5; col++)
        assert_true(store_rows_is_null(r, col));
    assert_int_equal(store_rows_int(r, 1), 0);
    assert_null(store_rows_text(r, 2));
    assert_null(store_rows_blob(r, 3, &len));
    assert_int_equal(len, 0);
    assert_int_equal(store_rows_next(r), 0);
    store_rows_free(r);

    /* $N are positions, not names: $2 before $1 binds correctly, and a '$1'
     * inside a string literal is text. */
    struct store_val two[] = {STORE_INT(10), STORE_INT(3)};
    assert_int_equal(store_query(c, "SELECT $2 - $1, '$1', '--' || $1 /* $2 */", two, 2, &r), 0);
    assert_int_equal(store_rows_next(r), 1);
    assert_int_equal(store_rows_int(r, 0), -7);
    assert_string_equal(store_rows_text(r, 1), "$1");
    assert_string_equal(store_rows_text(r, 2), "--10");
    store_rows_free(r);

    assert_int_equal(store_exec(c, "UPDATE t SET n = 'x' WHERE id IN (1, 2)", NULL, 0, &changes),
                     0);
    assert_int_equal(changes, 2);
    /* Wrong parameter count is an error, not a silent NULL. */
    assert_int_not_equal(store_exec(c, "UPDATE t SET n = $1 WHERE id = $2", two, 1, NULL), 0);
    assert_int_not_equal(store_exec(c, "SELEKT nonsense", NULL, 0, NULL), 0);
    assert_true(strlen(store_conn_errmsg(c)) > 0);
    store_conn_put(fx->st, c);
}

/* One SQL text bound with different value types, many distinct texts (more
 * than a connection caches), and a table whose columns change under a
 * cached statement: all must keep working. */
static void test_store__statement_cache(void **state)
{
    struct fx *fx = *state;
    struct store_conn *c;
    struct store_rows *r;
    size_t len;

    assert_int_equal(store_conn_get(fx->st, &c), 0);
    for (int round = 0; round < 2; round++) {
        struct store_val vals[] = {STORE_INT(42), STORE_TEXT("x"), STORE_NULLV,
                                   STORE_BLOB("\0\1", 2)};
        for (size_t i = 0; i < ARRAY_SIZE(vals); i++) {
            assert_int_equal(store_query(c, "SELECT $1", &vals[i], 1, &r), 0);
            assert_int_equal(store_rows_next(r), 1);
            switch (vals[i].type) {
            case STORE_T_INT:
                assert_int_equal(store_rows_int(r, 0), 42);
                break;
            case STORE_T_TEXT:
                assert_string_equal(store_rows_text(r, 0), "x");
                break;
            case STORE_T_NULL:
                assert_true(store_rows_is_null(r, 0));
                break;
            case STORE_T_BLOB:
                assert_memory_equal(store_rows_blob(r, 0, &len), "\0\1", 2);
                assert_int_equal(len, 2);
                break;
            }
            store_rows_free(r);
        }
    }
    for (int k = 0; k < 150; k++) {
        char sql[64];
        int64_t v = 0;
        struct store_val p[] = {STORE_INT(k)};
        snprintf(sql, sizeof(sql), "SELECT $1 + %d", k);
        assert_int_equal(store_query_int(c, sql, p, 1, &v), 0);
        assert_int_equal(v, 2 * k);
    }
    if (store_is_pg(fx->st)) {
        int64_t n = 0;
        assert_int_equal(
            store_query_int(c, "SELECT COUNT(*) FROM pg_prepared_statements", NULL, 0, &n), 0);
        assert_true(n <= 64);
    }
    assert_int_equal(store_exec(c, "CREATE TABLE u (a BIGINT)", NULL, 0, NULL), 0);
    assert_int_equal(store_exec(c, "INSERT INTO u (a) VALUES (1)", NULL, 0, NULL), 0);
    assert_int_equal(store_query(c, "SELECT * FROM u", NULL, 0, &r), 0);
    assert_int_equal(store_rows_next(r), 1);
    assert_int_equal(store_rows_ncols(r), 1);
    store_rows_free(r);
    assert_int_equal(store_exec(c, "ALTER TABLE u ADD COLUMN b TEXT", NULL, 0, NULL), 0);
    if (store_query(c, "SELECT * FROM u", NULL, 0, &r) != 0) /* at most once */
        assert_int_equal(store_query(c, "SELECT * FROM u", NULL, 0, &r), 0);
    assert_int_equal(store_rows_next(r), 1);
    assert_int_equal(store_rows_ncols(r), 2);
    store_rows_free(r);
    store_conn_put(fx->st, c);
}

static void test_store__binding_is_not_injection(void **state)
{
    struct fx *fx = *state;
    const char *evil = "x'); DROP TABLE t; --";
    struct store_val p[] = {STORE_INT(1), STORE_TEXT(evil)};

    create_t(fx->st);
    exec_ok(fx->st, "INSERT INTO t (id, s) VALUES ($1, $2)", p, 2);
    assert_int_equal(count_t(fx->st), 1);
    struct store_val q[] = {STORE_TEXT(evil)};
    assert_int_equal(query_int(fx->st, "SELECT COUNT(*) FROM t WHERE s = $1", q, 1), 1);
    struct store_val tautology[] = {STORE_TEXT("' OR '1'='1")};
    assert_int_equal(query_int(fx->st, "SELECT COUNT(*) FROM t WHERE s = $1", tautology, 1), 0);
}

static void test_store__transactions(void **state)
{
    struct fx *fx = *state;
    struct store_conn *a;
    struct store_val p10[] = {STORE_INT(10), STORE_INT(0)};
    struct store_val p11[] = {STORE_INT(11), STORE_INT(0)};
    const char *ins = "INSERT INTO t (id, i) VALUES ($1, $2)";

    create_t(fx->st);
    assert_int_equal(store_conn_get(fx->st, &a), 0);
    assert_int_equal(store_commit(a), PARLEY_EINVAL);
    assert_int_equal(store_begin(a), 0);
    assert_int_equal(store_begin(a), PARLEY_EINVAL);
    assert_int_equal(store_exec(a, ins, p10, 2, NULL), 0);
    assert_int_equal(store_commit(a), 0);
    assert_true(has_id(fx->st, 10));

    assert_int_equal(store_begin(a), 0);
    assert_int_equal(store_exec(a, ins, p11, 2, NULL), 0);
    assert_int_equal(store_rollback(a), 0);
    assert_false(has_id(fx->st, 11));

    /* Constraint violations map to PARLEY_EEXIST. */
    assert_int_equal(store_exec(a, ins, p10, 2, NULL), PARLEY_EEXIST);
    struct store_val adm[] = {STORE_TEXT("root"), STORE_TEXT("$argon2id$x"), STORE_INT(5)};
    const char *ins_admin =
        "INSERT INTO admins (username, password_hash, created_at) VALUES ($1, $2, $3)";
    assert_int_equal(store_exec(a, ins_admin, adm, 3, NULL), 0);
    assert_int_equal(store_exec(a, ins_admin, adm, 3, NULL), PARLEY_EEXIST);
    int64_t id = 0, must = 0;
    assert_int_equal(
        store_query_int(a, "SELECT id FROM admins WHERE username = 'root'", NULL, 0, &id), 0);
    assert_true(id >= 1);
    assert_int_equal(store_query_int(a, "SELECT must_change_password FROM admins", NULL, 0, &must),
                     0);
    assert_int_equal(must, 1);
    assert_int_equal(
        store_query_int(a, "SELECT id FROM admins WHERE username = 'nobody'", NULL, 0, &id),
        PARLEY_ENOTFOUND);
    /* A COMMIT after a failed statement: on PostgreSQL the server rolls the
     * whole transaction back, and store_commit says so; on SQLite only the
     * statement failed. Either way, success means the row is there. */
    struct store_val p12[] = {STORE_INT(12), STORE_INT(0)};
    assert_int_equal(store_begin(a), 0);
    assert_int_equal(store_exec(a, ins, p12, 2, NULL), 0);
    assert_int_equal(store_exec(a, ins, p10, 2, NULL), PARLEY_EEXIST);
    int crc = store_commit(a);
    assert_int_equal(crc == 0, has_id(fx->st, 12));
    assert_int_equal(crc == 0, !store_is_pg(fx->st));

    /* Returning a connection inside a transaction rolls it back. */
    assert_int_equal(store_begin(a), 0);
    assert_int_equal(store_exec(a, ins, p11, 2, NULL), 0);
    store_conn_put(fx->st, a);
    assert_false(has_id(fx->st, 11));
}

/* A read transaction keeps its snapshot while the committer writes. */
static void test_store__read_transaction_sees_one_snapshot(void **state)
{
    struct fx *fx = *state;
    struct store_conn *c;
    struct job j1 = {.id = 1}, j2 = {.id = 2};
    int64_t n = -1;

    create_t(fx->st);
    assert_int_equal(store_write_sync(fx->st, insert_fn, &j1), 0);
    assert_int_equal(store_conn_get(fx->st, &c), 0);
    assert_int_equal(store_begin_read(c), 0);
    assert_int_equal(store_query_int(c, "SELECT COUNT(*) FROM t", NULL, 0, &n), 0);
    assert_int_equal(n, 1);
    /* Not blocked by the reader (SQLite WAL; PostgreSQL MVCC). */
    assert_int_equal(store_write_sync(fx->st, insert_fn, &j2), 0);
    assert_int_equal(store_query_int(c, "SELECT COUNT(*) FROM t", NULL, 0, &n), 0);
    assert_int_equal(n, 1);
    assert_int_equal(store_commit(c), 0);
    assert_int_equal(store_query_int(c, "SELECT COUNT(*) FROM t", NULL, 0, &n), 0);
    assert_int_equal(n, 2);
    store_conn_put(fx->st, c);
}

#define GC_THREADS    4
#define GC_PER_THREAD 100

struct submitter {
    struct store *st;
    struct job *jobs;
    int rc;
};

static void *submit_main(void *arg)
{
    struct submitter *s = arg;
    for (int i = 0; i < GC_PER_THREAD && s->rc == 0; i++)
        s->rc = store_submit(s->st, insert_fn, on_job_done, &s->jobs[i]);
    return NULL;
}

static void test_store__group_commit_concurrent(void **state)
{
    struct fx *fx = *state;
    static struct job jobs[GC_THREADS * GC_PER_THREAD];
    struct submitter subs[GC_THREADS];
    pthread_t th[GC_THREADS];
    struct store_stats before, after;

    create_t(fx->st);
    memset(jobs, 0, sizeof(jobs));
    for (int i = 0; i < GC_THREADS * GC_PER_THREAD; i++)
        jobs[i].id = i + 1;
    reset_done();
    store_stats(fx->st, &before);
    gate_close_and_submit(fx->st);
    for (int t = 0; t < GC_THREADS; t++) {
        subs[t] = (struct submitter){fx->st, &jobs[t * GC_PER_THREAD], 0};
        assert_int_equal(pthread_create(&th[t], NULL, submit_main, &subs[t]), 0);
    }
    for (int t = 0; t < GC_THREADS; t++) {
        pthread_join(th[t], NULL);
        assert_int_equal(subs[t].rc, 0);
    }
    gate_open();
    wait_done(GC_THREADS * GC_PER_THREAD);
    for (int i = 0; i < GC_THREADS * GC_PER_THREAD; i++) {
        assert_true(jobs[i].is_done);
        assert_int_equal(jobs[i].rc, 0);
    }
    assert_int_equal(count_t(fx->st), GC_THREADS * GC_PER_THREAD);
    store_stats(fx->st, &after);
    uint64_t jobs_run = after.jobs - before.jobs, commits = after.commits - before.commits;
    assert_int_equal(jobs_run, GC_THREADS * GC_PER_THREAD + 1);
    /* 400 jobs behind the gate: at most ceil(400 / max_batch) + 1 commits. */
    assert_true(commits < jobs_run);
    assert_true(commits <= 3);
    assert_true(after.batch_max > 1);
}

static void test_store__group_commit_failing_job_alone(void **state)
{
    struct fx *fx = *state;
    struct job jobs[] = {
        {.id = 1},
        {.id = 2, .fail_with = PARLEY_EPERM}, /* inserts, then fails */
        {.id = 1},                            /* duplicate key */
        {.id = 3},
    };
    struct store_stats before, after;

    create_t(fx->st);
    reset_done();
    store_stats(fx->st, &before);
    gate_close_and_submit(fx->st);
    for (size_t i = 0; i < ARRAY_SIZE(jobs); i++)
        assert_int_equal(store_submit(fx->st, insert_fn, on_job_done, &jobs[i]), 0);
    gate_open();
    wait_done((int)ARRAY_SIZE(jobs));
    store_stats(fx->st, &after);
    assert_int_equal(after.commits - before.commits, 2); /* the gate's, then one for all four */
    assert_int_equal(after.jobs_failed - before.jobs_failed, 2);
    assert_int_equal(jobs[0].rc, 0);
    assert_int_equal(jobs[1].rc, PARLEY_EPERM);
    assert_int_equal(jobs[2].rc, PARLEY_EEXIST);
    assert_int_equal(jobs[3].rc, 0);
    assert_true(has_id(fx->st, 1));
    assert_false(has_id(fx->st, 2));
    assert_true(has_id(fx->st, 3));
    assert_int_equal(count_t(fx->st), 2);
}

/* Inserts its row, then a duplicate of row 1 whose error it ignores. */
static int sloppy_fn(struct store_conn *c, void *arg)
{
    struct job *j = arg;
    struct store_val p[] = {STORE_INT(1), STORE_INT(0)};
    int rc = insert_fn(c, j);
    (void)store_exec(c, "INSERT INTO t (id, i) VALUES ($1, $2)", p, 2, NULL);
    return rc;
}

/* A job that ignores a failed statement must not make the batch report
 * rows as committed that are not (on PostgreSQL such an error aborts the
 * whole transaction; on SQLite only the statement). Whatever the backend
 * does, done(0) must mean the job's row is there. */
static void test_store__ignored_error_never_reports_false_success(void **state)
{
    struct fx *fx = *state;
    create_t(fx->st);
    for (int last = 0; last < 2; last++) {
        struct job jobs[] = {{.id = 1}, {.id = 2}, {.id = 3}};
        size_t n = last ? 2 : 3; /* the sloppy job in the middle, then last */
        exec_ok(fx->st, "DELETE FROM t", NULL, 0);
        reset_done();
        gate_close_and_submit(fx->st);
        for (size_t i = 0; i < n; i++)
            assert_int_equal(
                store_submit(fx->st, i == 1 ? sloppy_fn : insert_fn, on_job_done, &jobs[i]), 0);
        gate_open();
        wait_done((int)n);
        for (size_t i = 0; i < n; i++) {
            if (jobs[i].rc == 0)
                assert_true(has_id(fx->st, jobs[i].id));
            else
                assert_false(has_id(fx->st, jobs[i].id));
        }
        if (!store_is_pg(fx->st))
            assert_int_equal(jobs[1].rc, 0); /* SQLite undoes the statement only */
    }
    /* The committer recovered: a later job commits. */
    struct job after = {.id = 9};
    assert_int_equal(store_write_sync(fx->st, insert_fn, &after), 0);
    assert_true(has_id(fx->st, 9));
}

static int return_arg_fn(struct store_conn *c, void *arg)
{
    return *(int *)arg;
}

static void test_store__write_sync_returns_result(void **state)
{
    struct fx *fx = *state;
    int v = 7;
    assert_int_equal(store_write_sync(fx->st, return_arg_fn, &v), 7);
    v = PARLEY_ENOTFOUND;
    assert_int_equal(store_write_sync(fx->st, return_arg_fn, &v), PARLEY_ENOTFOUND);
    struct job j = {.id = 5, .fail_with = PARLEY_EPERM};
    create_t(fx->st);
    assert_int_equal(store_write_sync(fx->st, insert_fn, &j), PARLEY_EPERM);
    assert_false(has_id(fx->st, 5));
}

static void *close_main(void *arg)
{
    store_close(arg);
    return NULL;
}

static void test_store__close_drains_pending(void **state)
{
    struct fx *fx = *state;
    static struct job jobs[100];
    struct job extra[64];
    pthread_t th;
    int n_extra = 0, rc = 0;

    create_t(fx->st);
    memset(jobs, 0, sizeof(jobs));
    memset(extra, 0, sizeof(extra));
    reset_done();
    gate_close_and_submit(fx->st);
    for (int i = 0; i < 100; i++) {
        jobs[i].id = i + 1;
        assert_int_equal(store_submit(fx->st, insert_fn, on_job_done, &jobs[i]), 0);
    }
    assert_int_equal(pthread_create(&th, NULL, close_main, fx->st), 0);
    /* The gate holds the committer, so the store stays alive until we open
     * it; submits succeed until store_close has begun, then fail. */
    while (n_extra < (int)ARRAY_SIZE(extra)) {
        extra[n_extra].id = 1000 + n_extra;
        rc = store_submit(fx->st, insert_fn, on_job_done, &extra[n_extra]);
        if (rc != 0)
            break;
        n_extra++;
        usleep(2000);
    }
    assert_int_equal(rc, PARLEY_ECLOSED);
    gate_open();
    pthread_join(th, NULL);
    fx->st = NULL;
    wait_done(100 + n_extra);
    for (int i = 0; i < 100; i++)
        assert_int_equal(jobs[i].rc, 0);

    assert_int_equal(store_open(fx->uri, NULL, &fx->st), 0);
    assert_int_equal(count_t(fx->st), 100 + n_extra);
}

struct durable_check {
    struct store *st;
    struct job job;
    int64_t seen; /* rows with the job's id visible from a pooled connection */
};

static void on_durable_done(void *arg, int rc)
{
    struct durable_check *d = arg;
    struct store_conn *c;
    struct store_val p[] = {STORE_INT(d->job.id)};
    d->seen = -1;
    if (rc == 0 && store_conn_get(d->st, &c) == 0) {
        if (store_query_int(c, "SELECT COUNT(*) FROM t WHERE id = $1", p, 1, &d->seen) < 0)
            d->seen = -2;
        store_conn_put(d->st, c);
    }
    on_job_done(&d->job, rc);
}

static int durable_fn(struct store_conn *c, void *arg)
{
    struct durable_check *d = arg;
    return insert_fn(c, &d->job);
}

static void test_store__durable_when_done(void **state)
{
    struct fx *fx = *state;
    struct durable_check d = {.st = fx->st, .job = {.id = 42}};

    create_t(fx->st);
    reset_done();
    assert_int_equal(store_submit(fx->st, durable_fn, on_durable_done, &d), 0);
    wait_done(1);
    assert_int_equal(d.job.rc, 0);
    assert_int_equal(d.seen, 1); /* committed before done() ran */
    store_close(fx->st);
    fx->st = NULL;
    assert_int_equal(store_open(fx->uri, NULL, &fx->st), 0);
    assert_true(has_id(fx->st, 42));
}

struct opener {
    const char *uri;
    struct store *st;
    int rc;
};

static void *open_main(void *arg)
{
    struct opener *o = arg;
    o->rc = store_open(o->uri, NULL, &o->st);
    return NULL;
}

static void test_store__concurrent_open_migrates_once(void **state)
{
    char *uri = NULL;
    struct opener op[3];
    pthread_t th[3];

    assert_int_equal(testdb_create(&uri), 0);
    for (int i = 0; i < 3; i++) {
        op[i] = (struct opener){uri, NULL, -1};
        assert_int_equal(pthread_create(&th[i], NULL, open_main, &op[i]), 0);
    }
    for (int i = 0; i < 3; i++)
        pthread_join(th[i], NULL);
    for (int i = 0; i < 3; i++)
        assert_int_equal(op[i].rc, 0);
    assert_int_equal(query_int(op[0].st, "SELECT COUNT(*) FROM schema_migrations", NULL, 0),
                     (int64_t)store_migrations_count);
    for (int i = 0; i < 3; i++)
        store_close(op[i].st);
    testdb_destroy(uri);
    free(uri);
}

static void test_store__bad_uri_is_an_error(void **state)
{
    struct store *st = (struct store *)&st;
    assert_int_equal(store_open(NULL, NULL, &st), PARLEY_EINVAL);
    assert_null(st);
    assert_int_equal(store_open("mysql://localhost/x", NULL, &st), PARLEY_EINVAL);
    assert_int_equal(store_open("sqlite:", NULL, &st), PARLEY_EINVAL);
    assert_int_equal(store_open("sqlite::memory:", NULL, &st), PARLEY_EINVAL);
    assert_int_equal(store_open("", NULL, &st), PARLEY_EINVAL);
    assert_int_equal(store_open("sqlite:/nonexistent-dir/x/y.db", NULL, &st), PARLEY_ESTORE);
    assert_int_equal(store_open("postgresql://u:sekrit@127.0.0.1:1/x?connect_timeout=2", NULL, &st),
                     PARLEY_ESTORE);
    assert_null(st);
    struct store_options o;
    store_options_default(&o);
    o.pool_size = 0;
    assert_int_equal(store_open("sqlite:/tmp/never-created.db", &o, &st), PARLEY_EINVAL);
    assert_int_equal(access("/tmp/never-created.db", F_OK), -1);

    char *r = store_uri_redact("postgresql://u:sekrit@db.example:5432/p?sslmode=require");
    assert_string_equal(r, "postgresql://u:***@db.example:5432/p?sslmode=require");
    free(r);
    r = store_uri_redact("postgres://h/p?user=u&password=sekrit&sslmode=disable");
    assert_string_equal(r, "postgres://h/p?user=u&password=***&sslmode=disable");
    free(r);
    r = store_uri_redact("sqlite:/var/lib/parley/store.db");
    assert_string_equal(r, "sqlite:/var/lib/parley/store.db");
    free(r);
}

static void test_store__sqlite_file_is_private(void **state)
{
    struct fx *fx = *state;
    struct stat sb;
    assert_int_equal(stat(fx->uri + strlen("sqlite:"), &sb), 0);
    assert_int_equal(sb.st_mode & 0777, 0600);
}

static void test_store__placeholders_rewritten_outside_quotes(void **state)
{
    static const struct {
        const char *in, *out;
    } cases[] = {
        {"SELECT $1, $2", "SELECT ?1, ?2"},
        {"SELECT $10 + $2", "SELECT ?10 + ?2"},
        {"SELECT 'it''s $1', $2", "SELECT 'it''s $1', ?2"},
        {"SELECT \"col$1\" FROM t WHERE a = $1", "SELECT \"col$1\" FROM t WHERE a = ?1"},
        {"SELECT 1 -- $1\n, $2", "SELECT 1 -- $1\n, ?2"},
        {"SELECT /* $1 */ $3", "SELECT /* $1 */ ?3"},
        {"SELECT $x, $", "SELECT $x, $"},
        {"SELECT 'unterminated $1", "SELECT 'unterminated $1"},
    };
    for (size_t i = 0; i < ARRAY_SIZE(cases); i++) {
        char *got = store__sql_qmarks(cases[i].in);
        assert_string_equal(got, cases[i].out);
        free(got);
    }
}

static int create_t_fn(struct store_conn *c, void *arg)
{
    return store_exec(c,
                      store_is_pg(arg) ? "CREATE TABLE t (id BIGINT PRIMARY KEY, i BIGINT)"
                                       : "CREATE TABLE t (id INTEGER PRIMARY KEY, i BIGINT)",
                      NULL, 0, NULL);
}

struct borrower {
    struct store *st;
    bool got;
};

static void *borrow_main(void *arg)
{
    struct borrower *b = arg;
    struct store_conn *c;
    if (store_conn_get(b->st, &c) == 0) {
        __atomic_store_n(&b->got, true, __ATOMIC_SEQ_CST);
        store_conn_put(b->st, c);
    }
    return NULL;
}

static void test_store__pool_blocks_until_a_connection_returns(void **state)
{
    struct fx *fx = *state;
    struct store_conn *held[4];
    struct store_options o;
    struct borrower b;
    pthread_t th;

    store_close(fx->st);
    store_options_default(&o);
    o.pool_size = 4;
    assert_int_equal(store_open(fx->uri, &o, &fx->st), 0);
    for (int i = 0; i < 4; i++)
        assert_int_equal(store_conn_get(fx->st, &held[i]), 0);
    b = (struct borrower){fx->st, false};
    assert_int_equal(pthread_create(&th, NULL, borrow_main, &b), 0);
    usleep(50 * 1000);
    assert_false(__atomic_load_n(&b.got, __ATOMIC_SEQ_CST));
    /* The committer has its own connection: writes go on meanwhile. */
    assert_int_equal(store_write_sync(fx->st, create_t_fn, fx->st), 0);
    store_conn_put(fx->st, held[0]);
    pthread_join(th, NULL);
    assert_true(b.got);
    for (int i = 1; i < 4; i++)
        store_conn_put(fx->st, held[i]);
}

/* The server dropped every connection (restart, failover): the statement
 * that finds out fails, later ones reconnect. */
static void test_store__pg_reconnects_after_losing_connections(void **state)
{
    struct fx *fx = *state;
    struct store_conn *c;
    int64_t v = 0;

    assert_int_equal(store_conn_get(fx->st, &c), 0);
    assert_int_equal(store_query_int(c,
                                     "SELECT COUNT(pg_terminate_backend(pid)) FROM "
                                     "pg_stat_activity WHERE datname = current_database() "
                                     "AND pid <> pg_backend_pid()",
                                     NULL, 0, &v),
                     0);
    assert_true(v >= 1); /* the committer's connection and the other pooled ones */
    store_conn_put(fx->st, c);

    /* Every pooled connection, and the committer, works again after at
     * most one failure each. */
    struct store_conn *all[4];
    for (int i = 0; i < 4; i++) {
        assert_int_equal(store_conn_get(fx->st, &all[i]), 0);
        if (store_query_int(all[i], "SELECT 1", NULL, 0, &v) != 0)
            assert_int_equal(store_query_int(all[i], "SELECT 1", NULL, 0, &v), 0);
        assert_int_equal(v, 1);
    }
    for (int i = 0; i < 4; i++)
        store_conn_put(fx->st, all[i]);
    struct job j = {.id = 1};
    create_t(fx->st);
    if (store_write_sync(fx->st, insert_fn, &j) != 0)
        assert_int_equal(store_write_sync(fx->st, insert_fn, &j), 0);
    assert_int_equal(count_t(fx->st), 1);
}

int main(void)
{
    if (!testdb_backend_available())
        return testdb_skip("PARLEY_TEST_STORE=pg but PARLEY_TEST_PG is not set");
    log_set_level(LOG_LEVEL_WARN);
#define T(name) cmocka_unit_test_setup_teardown(test_store__##name, setup, teardown)
    static const struct CMUnitTest common[] = {
        T(open_migrate_reopen),
        T(refuse_newer_schema),
        T(applies_a_gap_below_the_highest),
        T(types_roundtrip),
        cmocka_unit_test(test_store__placeholders_rewritten_outside_quotes),
        T(statement_cache),
        T(binding_is_not_injection),
        T(transactions),
        T(read_transaction_sees_one_snapshot),
        T(pool_blocks_until_a_connection_returns),
        T(group_commit_concurrent),
        T(group_commit_failing_job_alone),
        T(ignored_error_never_reports_false_success),
        T(write_sync_returns_result),
        T(close_drains_pending),
        T(durable_when_done),
        cmocka_unit_test(test_store__concurrent_open_migrates_once),
        cmocka_unit_test(test_store__bad_uri_is_an_error),
    };
    static const struct CMUnitTest sqlite_only[] = {
        T(sqlite_file_is_private),
    };
    static const struct CMUnitTest pg_only[] = {
        T(pg_reconnects_after_losing_connections),
    };
#undef T
    /* Backend-specific cases are left out on the other backend rather than
     * skip()ped: cmocka reports a skip as "not ok # SKIP", which meson's TAP
     * parser counts as a failure. */
    bool is_pg = strcmp(testdb_backend(), "pg") == 0;
    const struct CMUnitTest *extra = is_pg ? pg_only : sqlite_only;
    size_t n_extra = is_pg ? ARRAY_SIZE(pg_only) : ARRAY_SIZE(sqlite_only);
    struct CMUnitTest tests[ARRAY_SIZE(common) + 4];
    memcpy(tests, common, sizeof(common));
    memcpy(tests + ARRAY_SIZE(common), extra, n_extra * sizeof(*extra));
    return _cmocka_run_group_tests("store", tests, ARRAY_SIZE(common) + n_extra, NULL, NULL);
}
