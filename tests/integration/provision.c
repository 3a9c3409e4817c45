/* provision.c - see provision.h. */
#include "provision.h"
#include "testdb.h"

#include "proto/ids.h"
#include "proto/suite.h"
#include "server/password.h"
#include "server/store.h"

#include <stdio.h>
#include <string.h>
#include <time.h>

static int open_store(struct parleyd *p, struct store **st)
{
    char uri[400];
    if (p->store_uri)
        snprintf(uri, sizeof(uri), "%s", p->store_uri);
    else
        snprintf(uri, sizeof(uri), "sqlite:%s/parley.db", p->dir);
    return store_open(uri, NULL, st) < 0 ? -1 : 0;
}

struct user_job {
    const char *network_id, *username, *hash;
    uint8_t *user_id;
};

static int add_user(struct store_conn *c, void *arg)
{
    struct user_job *j = arg;
    int64_t now = (int64_t)time(NULL), net = 0, group = 0;
    struct store_val pn[] = {STORE_TEXT(j->network_id)};
    int rc = store_query_int(c, "SELECT id FROM networks WHERE network_id = $1", pn, 1, &net);

    if (rc == PARLEY_ENOTFOUND) {
        struct store_val p[] = {STORE_TEXT(j->network_id), STORE_INT(now)};
        rc = store_query_int(c,
                             "INSERT INTO networks (network_id, name, created_at, updated_at) "
                             "VALUES ($1, $1, $2, $2) RETURNING id",
                             p, 2, &net);
        if (rc == 0) {
            struct store_val q[] = {STORE_INT(net), STORE_INT(now)};
            rc = store_query_int(c,
                                 "INSERT INTO security_groups (network_id, name, is_default, "
                                 "created_at, updated_at) VALUES ($1, 'Default', 1, $2, $2) "
                                 "RETURNING id",
                                 q, 2, &group);
        }
    }
    if (rc < 0)
        return rc;
    struct store_val pg[] = {STORE_INT(net)};
    rc = store_query_int(c,
                         "SELECT id FROM security_groups WHERE network_id = $1 AND is_default = 1",
                         pg, 1, &group);
    if (rc < 0)
        return rc;
    if (proto_rand(j->user_id, 16) < 0)
        return PARLEY_ECRYPTO;
    struct store_val pu[] = {STORE_INT(net),          STORE_BLOB(j->user_id, 16),
                             STORE_TEXT(j->username), STORE_TEXT(j->hash),
                             STORE_INT(group),        STORE_INT(now)};
    return store_exec(c,
                      "INSERT INTO users (network_id, user_id, username, first_name, "
                      "password_hash, security_group_id, created_at, updated_at) VALUES "
                      "($1, $2, $3, $3, $4, $5, $6, $6)",
                      pu, 6, NULL);
}

int harness_provision_user(struct parleyd *p, const char *network_id, const char *username,
                           const char *password, uint8_t user_id[16])
{
    char secret[IDS_LOGIN_SECRET_B64], hash[PASSWORD_ENCODED_MAX];
    struct user_job j = {network_id, username, hash, user_id};
    struct store *st;
    int rc;

    if (ids_login_secret(network_id, username, password, secret) < 0 ||
        password_hash(secret, hash) < 0 || open_store(p, &st) < 0)
        return -1;
    rc = store_write_sync(st, add_user, &j);
    store_close(st);
    return rc < 0 ? -1 : 0;
}

static int run_sql(struct store_conn *c, void *arg)
{
    return store_exec(c, arg, NULL, 0, NULL);
}

int harness_provision_sql(struct parleyd *p, const char *sql)
{
    struct store *st;
    int rc;

    if (open_store(p, &st) < 0)
        return -1;
    rc = store_write_sync(st, run_sql, (void *)sql);
    store_close(st);
    return rc < 0 ? -1 : 0;
}

long long harness_provision_count(struct parleyd *p, const char *sql)
{
    struct store *st;
    struct store_conn *c;
    int64_t v = -1;

    if (open_store(p, &st) < 0)
        return -1;
    if (store_conn_get(st, &c) == 0) {
        if (store_query_int(c, sql, NULL, 0, &v) < 0)
            v = -1;
        store_conn_put(st, c);
    }
    store_close(st);
    return (long long)v;
}
