/* bench_store.c - what group commit buys: durable inserts of 200-byte rows,
 * one transaction per write versus many writes sharing one commit.
 *
 *   bench_store [-n ROWS] [-t THREADS] [-r REPS]
 *
 * Runs on SQLite (synchronous=FULL, the default, and NORMAL for reference)
 * and, when PARLEY_TEST_PG names a PostgreSQL maintenance database, on a
 * fresh database there. Modes, each with THREADS writer threads:
 *   tx-per-write  each thread borrows a pooled connection and runs
 *                 BEGIN; INSERT; COMMIT for every row
 *   group-sync    each thread calls store_write_sync() per row: it waits
 *                 for its row to be durable, as a sender waits for its ack
 *   group-async   one thread submits every row, then waits for all done()
 * Prints the median over REPS runs and the ratio to tx-per-write. */
#include <pthread.h>
#include <unistd.h>

#include "common/compat.h"
#include "common/str.h"
#include "server/store.h"
#include "testdb.h"

#define ROW_BYTES 200

static int n_rows = 2000, n_threads = 8, n_reps = 5;
static uint8_t row_body[ROW_BYTES];

static pthread_mutex_t id_lock = PTHREAD_MUTEX_INITIALIZER;
static int64_t next_id = 1;

static int64_t take_id(void)
{
    pthread_mutex_lock(&id_lock);
    int64_t id = next_id++;
    pthread_mutex_unlock(&id_lock);
    return id;
}

static double now_s(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static const char sql_insert[] = "INSERT INTO bench (id, body) VALUES ($1, $2)";

static int insert_fn(struct store_conn *c, void *arg)
{
    struct store_val p[] = {STORE_INT(take_id()), STORE_BLOB(row_body, ROW_BYTES)};
    return store_exec(c, sql_insert, p, 2, NULL);
}

struct worker {
    struct store *st;
    int mode;
    int rows;
    int rc;
};

enum { MODE_TX, MODE_GROUP_SYNC, MODE_GROUP_ASYNC };

static const char *const mode_names[] = {"tx-per-write", "group-sync", "group-async"};

static void *worker_main(void *arg)
{
    struct worker *w = arg;
    struct store_conn *c = NULL;

    if (w->mode == MODE_TX && (w->rc = store_conn_get(w->st, &c)) < 0)
        return NULL;
    for (int i = 0; i < w->rows && w->rc == 0; i++) {
        if (w->mode == MODE_GROUP_SYNC) {
            w->rc = store_write_sync(w->st, insert_fn, NULL);
            continue;
        }
        w->rc = store_begin(c);
        if (w->rc == 0)
            w->rc = insert_fn(c, NULL);
        if (w->rc == 0)
            w->rc = store_commit(c);
        else if (w->rc != PARLEY_EINVAL)
            (void)store_rollback(c);
    }
    if (c)
        store_conn_put(w->st, c);
    return NULL;
}

static pthread_mutex_t async_lock = PTHREAD_MUTEX_INITIALIZER;
static pthread_cond_t async_cond = PTHREAD_COND_INITIALIZER;
static int async_left, async_failed;

static void on_async_done(void *arg, int rc)
{
    pthread_mutex_lock(&async_lock);
    async_failed += rc < 0;
    if (--async_left == 0)
        pthread_cond_signal(&async_cond);
    pthread_mutex_unlock(&async_lock);
}

static int run_async(struct store *st)
{
    async_left = n_rows;
    async_failed = 0;
    for (int i = 0; i < n_rows; i++)
        if (store_submit(st, insert_fn, on_async_done, NULL) < 0)
            return PARLEY_ESTORE;
    pthread_mutex_lock(&async_lock);
    while (async_left > 0)
        pthread_cond_wait(&async_cond, &async_lock);
    pthread_mutex_unlock(&async_lock);
    return async_failed ? PARLEY_ESTORE : 0;
}

/* One timed run; returns seconds, or <0 on failure. Adds the commits the
 * committer made to *commits. */
static double run_once(struct store *st, int mode, uint64_t *commits)
{
    struct worker w[64];
    pthread_t th[64];
    struct store_stats s0, s1;
    int rc = 0;

    store_stats(st, &s0);
    double t0 = now_s();
    if (mode == MODE_GROUP_ASYNC) {
        rc = run_async(st);
    } else {
        for (int i = 0; i < n_threads; i++) {
            w[i] = (struct worker){st, mode, n_rows / n_threads + (i < n_rows % n_threads), 0};
            pthread_create(&th[i], NULL, worker_main, &w[i]);
        }
        for (int i = 0; i < n_threads; i++) {
            pthread_join(th[i], NULL);
            if (w[i].rc < 0)
                rc = w[i].rc;
        }
    }
    double t = now_s() - t0;
    store_stats(st, &s1);
    *commits += mode == MODE_TX ? (uint64_t)n_rows : s1.commits - s0.commits;
    if (rc < 0) {
        fprintf(stderr, "bench_store: %s failed: %s\n", mode_names[mode], parley_strerror(rc));
        return -1;
    }
    return t;
}

static int cmp_double(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;
    return (x > y) - (x < y);
}

static int bench_backend(const char *label, const char *uri, bool sync_full)
{
    struct store_options o;
    struct store *st;
    struct store_conn *c;
    double base = 0;
    int rc;

    store_options_default(&o);
    o.sqlite_sync_full = sync_full;
    o.pool_size = n_threads;
    rc = store_open(uri, &o, &st);
    if (rc < 0)
        return rc;
    rc = store_conn_get(st, &c);
    if (rc == 0) {
        rc = store_exec(c,
                        store_is_pg(st) ? "CREATE TABLE bench (id BIGINT PRIMARY KEY, body BYTEA)"
                                        : "CREATE TABLE bench (id INTEGER PRIMARY KEY, body BLOB)",
                        NULL, 0, NULL);
        store_conn_put(st, c);
    }
    for (int mode = MODE_TX; rc == 0 && mode <= MODE_GROUP_ASYNC; mode++) {
        double t[64];
        uint64_t commits = 0;
        for (int r = 0; r < n_reps; r++) {
            t[r] = run_once(st, mode, &commits);
            if (t[r] < 0) {
                rc = PARLEY_ESTORE;
                break;
            }
        }
        if (rc < 0)
            break;
        qsort(t, (size_t)n_reps, sizeof(t[0]), cmp_double);
        double med = t[n_reps / 2];
        if (mode == MODE_TX)
            base = med;
        printf("| %-17s | %-12s | %7d | %5d | %8.3f | %9.0f | %11.1f | %6.2fx |\n", label,
               mode_names[mode], mode == MODE_GROUP_ASYNC ? 1 : n_threads, n_rows, med,
               n_rows / med, (double)n_rows * n_reps / (double)commits, base / med);
        fflush(stdout);
    }
    store_close(st);
    return rc;
}

static int parse_arg(const char *s, int max, int *out)
{
    int64_t v;
    if (str_to_i64(s, 1, max, &v) < 0)
        return PARLEY_EINVAL;
    *out = (int)v;
    return 0;
}

int main(int argc, char **argv)
{
    char *uri = NULL;
    int opt, rc = 0;

    while ((opt = getopt(argc, argv, "n:t:r:")) != -1) {
        int *dst = opt == 'n' ? &n_rows : opt == 't' ? &n_threads : opt == 'r' ? &n_reps : NULL;
        int max = opt == 'n' ? 10000000 : 64;
        if (!dst || parse_arg(optarg, max, dst) < 0) {
            fprintf(stderr, "usage: bench_store [-n ROWS] [-t THREADS 1-64] [-r REPS 1-64]\n");
            return 2;
        }
    }
    for (size_t i = 0; i < sizeof(row_body); i++)
        row_body[i] = (uint8_t)(i * 131 + 7);

    printf("durable inserts of %d-byte rows: %d rows per run, median of %d runs\n\n", ROW_BYTES,
           n_rows, n_reps);
    printf("| backend           | mode         | threads |  rows | median s |    rows/s | "
           "rows/commit |  speedup |\n");
    printf("|-------------------|--------------|---------|-------|----------|-----------|-"
           "------------|----------|\n");

    static const struct {
        const char *label;
        bool sync_full;
    } sqlite_runs[] = {{"sqlite FULL", true}, {"sqlite NORMAL", false}};
    setenv("PARLEY_TEST_STORE", "sqlite", 1);
    for (size_t i = 0; i < ARRAY_SIZE(sqlite_runs) && rc == 0; i++) {
        rc = testdb_create(&uri);
        if (rc == 0)
            rc = bench_backend(sqlite_runs[i].label, uri, sqlite_runs[i].sync_full);
        testdb_destroy(uri);
        free(uri);
        uri = NULL;
    }
    if (rc == 0 && getenv("PARLEY_TEST_PG")) {
        setenv("PARLEY_TEST_STORE", "pg", 1);
        rc = testdb_create(&uri);
        if (rc == 0)
            rc = bench_backend("postgresql", uri, true);
        testdb_destroy(uri);
        free(uri);
    }
    printf("\nspeedup: rows/s relative to tx-per-write on the same backend.\n"
           "rows/commit: rows per durable COMMIT (tx-per-write: 1).\n");
    if (getenv("PARLEY_TEST_PG"))
        printf("postgresql: a test server started by tools/pgtest.sh runs with fsync=off,\n"
               "so its numbers measure round trips, not disk flushes.\n");
    if (rc < 0)
        fprintf(stderr, "bench_store: %s\n", parley_strerror(rc));
    return rc < 0 ? 1 : 0;
}
