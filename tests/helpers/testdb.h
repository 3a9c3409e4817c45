/* testdb.h - a fresh, private database for each test process.
 *
 * Which backend is chosen by the environment, so the same test binary runs
 * on both (tests/meson.build registers it once per backend):
 *   PARLEY_TEST_STORE=sqlite (default)  a new file in a new temp directory
 *   PARLEY_TEST_STORE=pg                a new database, parley_t_<pid>_<random>,
 *                                       on the server PARLEY_TEST_PG points to
 *                                       (a postgresql:// URI of a maintenance
 *                                       database; tools/pgtest.sh sets it)
 * Names are unique per process and call, so tests may run in parallel. */
#ifndef PARLEY_TESTS_TESTDB_H
#define PARLEY_TESTS_TESTDB_H

#include <stdbool.h>

/* "sqlite" or "pg" (from PARLEY_TEST_STORE). */
const char *testdb_backend(void);

/* Whether testdb_create can work: false when the backend is pg and
 * PARLEY_TEST_PG is unset (the test should then report itself skipped). */
bool testdb_backend_available(void);

/* Report the whole test program as skipped because of `reason`: prints a
 * TAP plan "1..0 # SKIP reason" and returns the exit status main() should
 * return: 0 when CMOCKA_MESSAGE_OUTPUT=TAP (meson's tap protocol reads the
 * plan), else 77 (meson's exitcode protocol: skipped). */
int testdb_skip(const char *reason);

/* Create a fresh empty database and set *uri_out to its store URI
 * ("sqlite:/tmp/parley-test.XXXXXX/store.db" or "postgresql://.../parley_t_...").
 * Free *uri_out with free() after testdb_destroy(). Returns 0, or a negative
 * PARLEY_E* code (the reason is printed on stderr). */
int testdb_create(char **uri_out);

/* Remove the database named by `uri` (made by testdb_create): the SQLite
 * file, its -wal/-shm companions and the temp directory, or DROP DATABASE
 * ... WITH (FORCE) on PostgreSQL. NULL is a no-op. */
void testdb_destroy(const char *uri);

#endif
