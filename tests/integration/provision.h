/* provision.h - give a test's parleyd networks and users before it starts.
 *
 * The administrator API is not what these tests are about, so they write
 * the directory rows straight into the test's database through the store
 * API (which also applies the migrations). Call these between harness_init
 * and harness_start, or while parleyd is stopped (harness_stop): on SQLite
 * the database file must not be shared with a running parleyd. */
#ifndef PARLEY_TESTS_PROVISION_H
#define PARLEY_TESTS_PROVISION_H

#include "harness.h"

#include <stdint.h>

/* Create (if missing) the network `network_id` with its default security
 * group, and a pending user `username` whose login secret is derived from
 * `password` as a client would (ids_login_secret), hashed with Argon2id.
 * Fills user_id (16 bytes). Returns 0 or -1. */
int harness_provision_user(struct parleyd *p, const char *network_id, const char *username,
                           const char *password, uint8_t user_id[16]);

/* Run one SQL statement (no parameters) on the test's database, e.g. to
 * suspend a user or change a security group's settings. Returns 0 or -1. */
int harness_provision_sql(struct parleyd *p, const char *sql);

/* The number in the first column of the first row of `sql`, or -1. */
long long harness_provision_count(struct parleyd *p, const char *sql);

#endif
