/* testdb.c - see testdb.h. */
#include "testdb.h"

#include <fcntl.h>
#include <strings.h>
#include <unistd.h>

#include <libpq-fe.h>

#include "common/compat.h"
#include "common/str.h"

#define TESTDB_PG_PREFIX  "parley_t_"
#define TESTDB_DIR_PREFIX "parley-test."

const char *testdb_backend(void)
{
    const char *b = getenv("PARLEY_TEST_STORE");
    return b && strcmp(b, "pg") == 0 ? "pg" : "sqlite";
}

static bool is_pg(void)
{
    return strcmp(testdb_backend(), "pg") == 0;
}

bool testdb_backend_available(void)
{
    const char *pg = getenv("PARLEY_TEST_PG");
    return !is_pg() || (pg && *pg);
}

int testdb_skip(const char *reason)
{
    const char *out = getenv("CMOCKA_MESSAGE_OUTPUT");
    printf("1..0 # SKIP %s\n", reason);
    fflush(stdout);
    return out && strcasecmp(out, "TAP") == 0 ? 0 : 77;
}

static int random_hex(char *out, size_t nbytes)
{
    uint8_t b[16];
    int fd = open("/dev/urandom", O_RDONLY | O_CLOEXEC);
    if (fd < 0 || nbytes > sizeof(b) || read(fd, b, nbytes) != (ssize_t)nbytes) {
        if (fd >= 0)
            close(fd);
        return PARLEY_EIO;
    }
    close(fd);
    hex_encode(b, nbytes, out);
    return 0;
}

/* The span of the database name in a postgresql:// URI: after the first '/'
 * that follows the authority, up to '?' or the end. Returns false if the
 * URI has no path. */
static bool uri_db_span(const char *uri, size_t *start, size_t *end)
{
    const char *auth = strstr(uri, "://");
    const char *slash;
    if (!auth)
        return false;
    auth += 3;
    slash = auth + strcspn(auth, "/?");
    if (*slash != '/') {
        *start = *end = (size_t)(slash - uri);
        return false;
    }
    *start = (size_t)(slash + 1 - uri);
    *end = *start + strcspn(slash + 1, "?");
    return true;
}

/* `uri` with its database name replaced by `db`. Free with free(). */
static char *uri_with_db(const char *uri, const char *db)
{
    size_t s, e, n;
    char *out;
    bool has_path = uri_db_span(uri, &s, &e);
    n = strlen(uri) + strlen(db) + 2;
    out = malloc(n);
    if (!out)
        return NULL;
    snprintf(out, n, "%.*s%s%s%s", (int)s, uri, has_path ? "" : "/", db, uri + e);
    return out;
}

static bool safe_db_name(const char *name, size_t len)
{
    if (len <= strlen(TESTDB_PG_PREFIX) ||
        strncmp(name, TESTDB_PG_PREFIX, strlen(TESTDB_PG_PREFIX)) != 0)
        return false;
    for (size_t i = 0; i < len; i++)
        if (!((name[i] >= 'a' && name[i] <= 'z') || (name[i] >= '0' && name[i] <= '9') ||
              name[i] == '_'))
            return false;
    return true;
}

/* Run one statement on the maintenance database. */
static int pg_admin(const char *sql)
{
    const char *maint = getenv("PARLEY_TEST_PG");
    PGconn *conn;
    PGresult *res;
    int rc = 0;

    if (!maint || !*maint) {
        fprintf(stderr, "testdb: PARLEY_TEST_PG is not set\n");
        return PARLEY_ENOTFOUND;
    }
    conn = PQconnectdb(maint);
    if (PQstatus(conn) != CONNECTION_OK) {
        fprintf(stderr, "testdb: cannot connect to PARLEY_TEST_PG: %s", PQerrorMessage(conn));
        PQfinish(conn);
        return PARLEY_ESTORE;
    }
    res = PQexec(conn, sql);
    if (PQresultStatus(res) != PGRES_COMMAND_OK) {
        fprintf(stderr, "testdb: %s: %s", sql, PQerrorMessage(conn));
        rc = PARLEY_ESTORE;
    }
    PQclear(res);
    PQfinish(conn);
    return rc;
}

static int create_pg(char **uri_out)
{
    char hex[2 * 6 + 1], name[64], sql[128];
    int rc = random_hex(hex, 6);
    if (rc < 0)
        return rc;
    snprintf(name, sizeof(name), TESTDB_PG_PREFIX "%ld_%s", (long)getpid(), hex);
    /* DDL takes no parameters; the name is ours and checked. */
    snprintf(sql, sizeof(sql), "CREATE DATABASE %s", name);
    rc = pg_admin(sql);
    if (rc < 0)
        return rc;
    *uri_out = uri_with_db(getenv("PARLEY_TEST_PG"), name);
    return *uri_out ? 0 : PARLEY_ENOMEM;
}

static int create_sqlite(char **uri_out)
{
    const char *tmp = getenv("TMPDIR");
    char dir[512];
    size_t n;

    snprintf(dir, sizeof(dir), "%s/" TESTDB_DIR_PREFIX "XXXXXX", tmp && *tmp ? tmp : "/tmp");
    if (!mkdtemp(dir)) {
        perror("testdb: mkdtemp");
        return PARLEY_EIO;
    }
    n = strlen(dir) + 32;
    *uri_out = malloc(n);
    if (!*uri_out)
        return PARLEY_ENOMEM;
    snprintf(*uri_out, n, "sqlite:%s/store.db", dir);
    return 0;
}

int testdb_create(char **uri_out)
{
    *uri_out = NULL;
    if (!testdb_backend_available()) {
        fprintf(stderr, "testdb: PARLEY_TEST_STORE=pg needs PARLEY_TEST_PG\n");
        return PARLEY_ENOTFOUND;
    }
    return is_pg() ? create_pg(uri_out) : create_sqlite(uri_out);
}

static void destroy_sqlite(const char *path)
{
    static const char *const suffixes[] = {"", "-wal", "-shm", "-journal"};
    char p[600];
    const char *slash = strrchr(path, '/');
    const char *base;

    for (size_t i = 0; i < ARRAY_SIZE(suffixes); i++) {
        snprintf(p, sizeof(p), "%s%s", path, suffixes[i]);
        unlink(p);
    }
    if (!slash)
        return;
    snprintf(p, sizeof(p), "%.*s", (int)(slash - path), path);
    base = strrchr(p, '/');
    /* Remove only a directory testdb_create made. */
    if (base && strncmp(base + 1, TESTDB_DIR_PREFIX, strlen(TESTDB_DIR_PREFIX)) == 0)
        rmdir(p);
}

void testdb_destroy(const char *uri)
{
    size_t s, e;
    char sql[160];

    if (!uri)
        return;
    if (strncmp(uri, "sqlite:", 7) == 0) {
        destroy_sqlite(uri + 7);
        return;
    }
    if (!uri_db_span(uri, &s, &e) || !safe_db_name(uri + s, e - s)) {
        fprintf(stderr, "testdb: refusing to drop a database testdb did not create\n");
        return;
    }
    snprintf(sql, sizeof(sql), "DROP DATABASE IF EXISTS %.*s WITH (FORCE)", (int)(e - s), uri + s);
    (void)pg_admin(sql);
}
