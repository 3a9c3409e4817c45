/* lstore.c - the local state of one account in SQLite (see lstore.h for
 * what is encrypted and why). */
#include "lstore.h"

#include <pthread.h>
#include <sqlite3.h>
#include <sys/stat.h>
#include <unistd.h>

#include <openssl/crypto.h>

#include "proto/pbe.h"
#include "proto/prim.h"
#include "common/str.h"
#include "proto/suite.h"

#define SCHEMA_VERSION "1"

/* Statements are prepared once per store handle (SQLITE_PREPARE_PERSISTENT)
 * and reset after each use, keyed by their SQL text. A statement already
 * in use (a callback of an *_each walk using the same query, or another
 * thread) gets a one-off statement instead. */
#define STMT_CACHE 64

struct stmt_slot {
    const char *sql; /* sqlite3_sql(s) */
    size_t len;
    sqlite3_stmt *s;
    bool busy;
};

struct lstore {
    sqlite3 *db;
    uint8_t key[LSTORE_KEY_LEN];
    bool unlocked;
    struct prim prim;
    bool prim_ok;
    pthread_mutex_t stmt_mu;
    bool stmt_mu_ok;
    struct stmt_slot stmts[STMT_CACHE];
    size_t n_stmts;
};

static const char schema[] =
    "CREATE TABLE IF NOT EXISTS settings(name TEXT PRIMARY KEY, value TEXT NOT NULL);"
    "CREATE TABLE IF NOT EXISTS secrets(name TEXT PRIMARY KEY, blob BLOB NOT NULL);"
    "CREATE TABLE IF NOT EXISTS pins(user_id TEXT PRIMARY KEY, username TEXT,"
    " identity_key BLOB NOT NULL, verified INTEGER NOT NULL DEFAULT 0,"
    " pinned_at INTEGER NOT NULL);"
    "CREATE TABLE IF NOT EXISTS conversations(conv_id TEXT PRIMARY KEY, type TEXT NOT NULL,"
    " peer TEXT, title BLOB, expiration INTEGER NOT NULL DEFAULT 0,"
    " burn_on_read INTEGER NOT NULL DEFAULT 0);"
    "CREATE TABLE IF NOT EXISTS messages(msg_id TEXT PRIMARY KEY, conv_id TEXT NOT NULL,"
    " sender TEXT NOT NULL, sender_device TEXT NOT NULL, msgtype INTEGER NOT NULL,"
    " body BLOB NOT NULL, ts INTEGER NOT NULL, expires_at INTEGER NOT NULL,"
    " burn_on_read INTEGER NOT NULL, state INTEGER NOT NULL);"
    "CREATE INDEX IF NOT EXISTS messages_conv ON messages(conv_id, ts);"
    /* Seen ids outlive deleted messages, so a replay of a burnt or deleted
     * message is still refused (docs/protocol.md, "Replays"). */
    "CREATE TABLE IF NOT EXISTS seen(msg_id TEXT PRIMARY KEY, expires_at INTEGER NOT NULL);"
    "CREATE TABLE IF NOT EXISTS prekeys_used(prekey_id INTEGER PRIMARY KEY,"
    " used_at INTEGER NOT NULL);"
    /* Received messages the application has not yet marked handled, in
     * arrival order (parley_client_journal). */
    "CREATE TABLE IF NOT EXISTS journal(seq INTEGER PRIMARY KEY AUTOINCREMENT,"
    " msg_id TEXT NOT NULL UNIQUE);"
    /* The Files view of rooms and groups: one sealed JSON item per file or
     * folder, built from room control messages (4004, changemask 64). */
    "CREATE TABLE IF NOT EXISTS vault(conv_id TEXT NOT NULL, item TEXT NOT NULL,"
    " blob BLOB NOT NULL, PRIMARY KEY(conv_id, item));";

static int exec(struct lstore *st, const char *sql)
{
    return sqlite3_exec(st->db, sql, NULL, NULL, NULL) == SQLITE_OK ? 0 : PARLEY_ESTORE;
}

static int prepare(struct lstore *st, const char *sql, sqlite3_stmt **s)
{
    struct stmt_slot *free_slot = NULL;
    size_t len = strlen(sql);
    bool cached = false;

    *s = NULL;
    pthread_mutex_lock(&st->stmt_mu);
    for (size_t i = 0; i < st->n_stmts; i++) {
        struct stmt_slot *e = &st->stmts[i];
        if (e->len != len || memcmp(e->sql, sql, len) != 0)
            continue;
        cached = true;
        if (!e->busy) {
            e->busy = true;
            *s = e->s;
        }
        break;
    }
    if (!*s && !cached && st->n_stmts < STMT_CACHE &&
        sqlite3_prepare_v3(st->db, sql, -1, SQLITE_PREPARE_PERSISTENT, s, NULL) == SQLITE_OK) {
        free_slot = &st->stmts[st->n_stmts++];
        free_slot->sql = sqlite3_sql(*s); /* owned by the statement */
        free_slot->len = len;
        free_slot->s = *s;
        free_slot->busy = true;
    }
    pthread_mutex_unlock(&st->stmt_mu);
    if (*s)
        return 0;
    return sqlite3_prepare_v2(st->db, sql, -1, s, NULL) == SQLITE_OK ? 0 : PARLEY_ESTORE;
}

/* The end of a statement's use: reset a cached one, finalize a one-off. */
static void finish(struct lstore *st, sqlite3_stmt *s)
{
    if (!s)
        return;
    pthread_mutex_lock(&st->stmt_mu);
    for (size_t i = 0; i < st->n_stmts; i++) {
        if (st->stmts[i].s == s) {
            sqlite3_reset(s);
            sqlite3_clear_bindings(s);
            st->stmts[i].busy = false;
            pthread_mutex_unlock(&st->stmt_mu);
            return;
        }
    }
    pthread_mutex_unlock(&st->stmt_mu);
    sqlite3_finalize(s);
}

static int step_done(struct lstore *st, sqlite3_stmt *s)
{
    int r = sqlite3_step(s);
    finish(st, s);
    return r == SQLITE_DONE ? 0 : PARLEY_ESTORE;
}

/* One statement, through the cache (BEGIN, COMMIT, SAVEPOINT...). */
static int run(struct lstore *st, const char *sql)
{
    sqlite3_stmt *s;
    int rc = prepare(st, sql, &s);
    return rc < 0 ? rc : step_done(st, s);
}

/* Open the file with the connection settings every account file gets. */
static int db_open(const char *path, int flags, struct lstore **out)
{
    struct lstore *st = calloc(1, sizeof(*st));
    int rc;

    *out = NULL;
    if (!st)
        return PARLEY_ENOMEM;
    if (pthread_mutex_init(&st->stmt_mu, NULL) != 0) {
        free(st);
        return PARLEY_ENOMEM;
    }
    st->stmt_mu_ok = true;
    if (sqlite3_open_v2(path, &st->db, flags, NULL) != SQLITE_OK) {
        rc = PARLEY_ESTORE;
        goto fail;
    }
    sqlite3_busy_timeout(st->db, 5000);
    /* secure_delete: a consumed pre-key's old key store row is overwritten
     * on disk, not left in a free page. */
    rc = exec(st, "PRAGMA journal_mode=WAL; PRAGMA synchronous=FULL;"
                  " PRAGMA secure_delete=ON; PRAGMA foreign_keys=ON;");
    if (rc < 0)
        goto fail;
    rc = prim_init(&st->prim);
    if (rc < 0)
        goto fail;
    st->prim_ok = true;
    *out = st;
    return 0;
fail:
    lstore_close(st);
    return rc;
}

void lstore_close(struct lstore *st)
{
    if (!st)
        return;
    OPENSSL_cleanse(st->key, sizeof(st->key));
    if (st->prim_ok)
        prim_release(&st->prim);
    for (size_t i = 0; i < st->n_stmts; i++)
        sqlite3_finalize(st->stmts[i].s);
    sqlite3_close(st->db);
    if (st->stmt_mu_ok)
        pthread_mutex_destroy(&st->stmt_mu);
    free(st);
}

int lstore_create(const char *path, const char *password, const char *network_id,
                  const char *username, struct lstore **out)
{
    struct lstore *st = NULL;
    struct buf wrapped = BUF_INIT(4096);
    struct stat sb;
    int rc;

    *out = NULL;
    if (stat(path, &sb) == 0)
        return PARLEY_EEXIST;
    rc = db_open(path, SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE | SQLITE_OPEN_FULLMUTEX, &st);
    if (rc < 0)
        return rc;
    chmod(path, 0600);
    rc = proto_rand(st->key, sizeof(st->key));
    if (rc < 0)
        goto out;
    st->unlocked = true;
    rc = pbe_seal((const uint8_t *)password, strlen(password), NULL, st->key, sizeof(st->key),
                  &wrapped);
    if (rc < 0)
        goto out;
    if ((rc = lstore_begin(st)) < 0)
        goto out;
    rc = exec(st, schema);
    if (rc == 0)
        rc = lstore_set(st, "schema_version", SCHEMA_VERSION);
    if (rc == 0)
        rc = lstore_set(st, "network_id", network_id);
    if (rc == 0)
        rc = lstore_set(st, "username", username);
    if (rc == 0) {
        sqlite3_stmt *s;
        rc = prepare(st, "INSERT INTO secrets(name, blob) VALUES('storage_key', ?)", &s);
        if (rc == 0) {
            sqlite3_bind_blob(s, 1, wrapped.data, (int)wrapped.len, SQLITE_TRANSIENT);
            rc = step_done(st, s);
        }
    }
    if (rc == 0)
        rc = lstore_commit(st);
    else
        lstore_rollback(st);
out:
    buf_release(&wrapped);
    if (rc < 0) {
        lstore_close(st);
        unlink(path);
        return rc;
    }
    *out = st;
    return 0;
}

/* A row's raw blob into `out`. */
static int get_blob(struct lstore *st, const char *sql, const char *key, struct buf *out)
{
    sqlite3_stmt *s;
    int rc = prepare(st, sql, &s);
    if (rc < 0)
        return rc;
    sqlite3_bind_text(s, 1, key, -1, SQLITE_STATIC);
    int r = sqlite3_step(s);
    if (r == SQLITE_ROW) {
        const void *p = sqlite3_column_blob(s, 0);
        int n = sqlite3_column_bytes(s, 0);
        rc = n > 0 ? buf_append(out, p, (size_t)n) : 0;
    } else {
        rc = r == SQLITE_DONE ? PARLEY_ENOTFOUND : PARLEY_ESTORE;
    }
    finish(st, s);
    return rc;
}

int lstore_open(const char *path, const char *password, struct lstore **out)
{
    struct lstore *st = NULL;
    struct buf wrapped = BUF_INIT(4096), key = BUF_INIT(LSTORE_KEY_LEN);
    char *ver = NULL;
    struct stat sb;
    int rc;

    *out = NULL;
    if (stat(path, &sb) < 0)
        return PARLEY_ENOTFOUND;
    rc = db_open(path, SQLITE_OPEN_READWRITE | SQLITE_OPEN_FULLMUTEX, &st);
    if (rc < 0)
        return rc;
    rc = lstore_get(st, "schema_version", &ver);
    if (rc == 0 && strcmp(ver, SCHEMA_VERSION) != 0)
        rc = PARLEY_EPROTO;
    if (rc < 0)
        goto out;
    rc = get_blob(st, "SELECT blob FROM secrets WHERE name = ?", "storage_key", &wrapped);
    if (rc < 0)
        goto out;
    rc = pbe_open((const uint8_t *)password, strlen(password), wrapped.data, wrapped.len, NULL,
                  &key);
    if (rc < 0)
        goto out;
    if (key.len != LSTORE_KEY_LEN) {
        rc = PARLEY_EPROTO;
        goto out;
    }
    memcpy(st->key, key.data, LSTORE_KEY_LEN);
    st->unlocked = true;
out:
    free(ver);
    buf_release(&wrapped);
    buf_release_secure(&key);
    if (rc < 0) {
        lstore_close(st);
        return rc == PARLEY_ENOTFOUND ? PARLEY_EPROTO : rc;
    }
    *out = st;
    return 0;
}

int lstore_peek(const char *path, char **network_id, char **username)
{
    struct lstore *st;
    int rc;

    *network_id = *username = NULL;
    rc = db_open(path, SQLITE_OPEN_READONLY | SQLITE_OPEN_FULLMUTEX, &st);
    if (rc < 0)
        return rc;
    rc = lstore_get(st, "network_id", network_id);
    if (rc == 0)
        rc = lstore_get(st, "username", username);
    lstore_close(st);
    if (rc < 0) {
        free(*network_id);
        free(*username);
        *network_id = *username = NULL;
    }
    return rc;
}

int lstore_begin(struct lstore *st)
{
    return run(st, "BEGIN IMMEDIATE");
}

int lstore_commit(struct lstore *st)
{
    if (run(st, "COMMIT") == 0)
        return 0;
    lstore_rollback(st);
    return PARLEY_ESTORE;
}

void lstore_rollback(struct lstore *st)
{
    if (!sqlite3_get_autocommit(st->db))
        (void)run(st, "ROLLBACK");
}

int lstore_savepoint(struct lstore *st)
{
    return run(st, "SAVEPOINT step");
}

int lstore_release(struct lstore *st)
{
    return run(st, "RELEASE step");
}

void lstore_rollback_to(struct lstore *st)
{
    (void)exec(st, "ROLLBACK TO step; RELEASE step");
}

int lstore_set(struct lstore *st, const char *name, const char *value)
{
    sqlite3_stmt *s;
    int rc = prepare(st, "INSERT OR REPLACE INTO settings(name, value) VALUES(?, ?)", &s);
    if (rc < 0)
        return rc;
    sqlite3_bind_text(s, 1, name, -1, SQLITE_STATIC);
    sqlite3_bind_text(s, 2, value, -1, SQLITE_STATIC);
    return step_done(st, s);
}

int lstore_get(struct lstore *st, const char *name, char **out)
{
    sqlite3_stmt *s;
    int rc;

    *out = NULL;
    if ((rc = prepare(st, "SELECT value FROM settings WHERE name = ?", &s)) < 0)
        return rc;
    sqlite3_bind_text(s, 1, name, -1, SQLITE_STATIC);
    int r = sqlite3_step(s);
    if (r == SQLITE_ROW) {
        *out = strdup((const char *)sqlite3_column_text(s, 0));
        rc = *out ? 0 : PARLEY_ENOMEM;
    } else {
        rc = r == SQLITE_DONE ? PARLEY_ENOTFOUND : PARLEY_ESTORE;
    }
    finish(st, s);
    return rc;
}

/* nonce || AES-256-GCM(key, nonce, aad = label || 0 || name, pt) || tag */
static int seal(struct lstore *st, const char *label, const char *name, const uint8_t *pt, size_t n,
                struct buf *out)
{
    struct buf aad = BUF_INIT(1024);
    uint8_t nonce[PRIM_GCM_NONCE];
    int rc;

    if (!st->unlocked)
        return PARLEY_EPERM;
    rc = buf_printf(&aad, "parley lstore v1 %s", label);
    if (rc == 0)
        rc = buf_append(&aad, "", 1);
    if (rc == 0)
        rc = buf_append_str(&aad, name);
    if (rc == 0)
        rc = proto_rand(nonce, sizeof(nonce));
    if (rc == 0)
        rc = buf_reserve(out, sizeof(nonce) + n + PRIM_GCM_TAG);
    if (rc == 0) {
        memcpy(out->data + out->len, nonce, sizeof(nonce));
        rc = prim_aead_seal(&st->prim, st->key, sizeof(st->key), nonce, aad.data, aad.len, pt, n,
                            out->data + out->len + sizeof(nonce));
        if (rc == 0)
            out->len += sizeof(nonce) + n + PRIM_GCM_TAG;
    }
    buf_release(&aad);
    return rc;
}

static int unseal(struct lstore *st, const char *label, const char *name, const uint8_t *p,
                  size_t n, struct buf *out)
{
    struct buf aad = BUF_INIT(1024);
    int rc;

    if (!st->unlocked)
        return PARLEY_EPERM;
    if (n < PRIM_GCM_NONCE + PRIM_GCM_TAG)
        return PARLEY_EPROTO;
    size_t pt_len = n - PRIM_GCM_NONCE - PRIM_GCM_TAG;
    rc = buf_printf(&aad, "parley lstore v1 %s", label);
    if (rc == 0)
        rc = buf_append(&aad, "", 1);
    if (rc == 0)
        rc = buf_append_str(&aad, name);
    if (rc == 0)
        rc = buf_reserve(out, pt_len);
    if (rc == 0) {
        rc = prim_aead_open(&st->prim, st->key, sizeof(st->key), p, aad.data, aad.len,
                            p + PRIM_GCM_NONCE, n - PRIM_GCM_NONCE, out->data + out->len);
        if (rc == 0) {
            out->len += pt_len;
            out->data[out->len] = '\0';
        }
    }
    buf_release(&aad);
    return rc;
}

int lstore_secret_put(struct lstore *st, const char *name, const uint8_t *p, size_t n)
{
    struct buf ct = BUF_INIT(LSTORE_MAX_SECRET + 64);
    sqlite3_stmt *s;
    int rc;

    if (strcmp(name, "storage_key") == 0)
        return PARLEY_EINVAL;
    rc = seal(st, "secret", name, p, n, &ct);
    if (rc == 0)
        rc = prepare(st, "INSERT OR REPLACE INTO secrets(name, blob) VALUES(?, ?)", &s);
    if (rc == 0) {
        sqlite3_bind_text(s, 1, name, -1, SQLITE_STATIC);
        sqlite3_bind_blob(s, 2, ct.data, (int)ct.len, SQLITE_STATIC);
        rc = step_done(st, s);
    }
    buf_release(&ct);
    return rc;
}

int lstore_secret_get(struct lstore *st, const char *name, struct buf *out)
{
    struct buf ct = BUF_INIT(LSTORE_MAX_SECRET + 64);
    int rc;

    if (strcmp(name, "storage_key") == 0)
        return PARLEY_EINVAL;
    rc = get_blob(st, "SELECT blob FROM secrets WHERE name = ?", name, &ct);
    if (rc == 0)
        rc = unseal(st, "secret", name, ct.data, ct.len, out);
    buf_release(&ct);
    return rc;
}

int lstore_secret_delete(struct lstore *st, const char *name)
{
    sqlite3_stmt *s;
    int rc;

    if (strcmp(name, "storage_key") == 0)
        return PARLEY_EINVAL;
    rc = prepare(st, "DELETE FROM secrets WHERE name = ?", &s);
    if (rc == 0) {
        sqlite3_bind_text(s, 1, name, -1, SQLITE_STATIC);
        rc = step_done(st, s);
    }
    return rc;
}

int lstore_pin_get(struct lstore *st, const char *user_id, struct buf *key, int *verified)
{
    sqlite3_stmt *s;
    int rc = prepare(st, "SELECT identity_key, verified FROM pins WHERE user_id = ?", &s);
    if (rc < 0)
        return rc;
    sqlite3_bind_text(s, 1, user_id, -1, SQLITE_STATIC);
    int r = sqlite3_step(s);
    if (r == SQLITE_ROW) {
        rc = buf_append(key, sqlite3_column_blob(s, 0), (size_t)sqlite3_column_bytes(s, 0));
        if (verified)
            *verified = sqlite3_column_int(s, 1);
    } else {
        rc = r == SQLITE_DONE ? PARLEY_ENOTFOUND : PARLEY_ESTORE;
    }
    finish(st, s);
    return rc;
}

int lstore_pin_put(struct lstore *st, const char *user_id, const char *username, const uint8_t *key,
                   size_t n, int verified)
{
    sqlite3_stmt *s;
    int rc = prepare(st,
                     "INSERT OR REPLACE INTO pins(user_id, username, identity_key, verified,"
                     " pinned_at) VALUES(?, ?, ?, ?, ?)",
                     &s);
    if (rc < 0)
        return rc;
    sqlite3_bind_text(s, 1, user_id, -1, SQLITE_STATIC);
    sqlite3_bind_text(s, 2, username, -1, SQLITE_STATIC);
    sqlite3_bind_blob(s, 3, key, (int)n, SQLITE_STATIC);
    sqlite3_bind_int(s, 4, verified);
    sqlite3_bind_int64(s, 5, (sqlite3_int64)time(NULL));
    return step_done(st, s);
}

int lstore_pin_username(struct lstore *st, const char *user_id, char **out)
{
    sqlite3_stmt *s;
    int rc;

    *out = NULL;
    if ((rc = prepare(st, "SELECT username FROM pins WHERE user_id = ?", &s)) < 0)
        return rc;
    sqlite3_bind_text(s, 1, user_id, -1, SQLITE_STATIC);
    if (sqlite3_step(s) == SQLITE_ROW && sqlite3_column_text(s, 0)) {
        *out = strdup((const char *)sqlite3_column_text(s, 0));
        rc = *out ? 0 : PARLEY_ENOMEM;
    } else {
        rc = PARLEY_ENOTFOUND;
    }
    finish(st, s);
    return rc;
}

int lstore_conv_put(struct lstore *st, const struct lstore_conv *c)
{
    struct buf title = BUF_INIT(64 * 1024);
    sqlite3_stmt *s;
    int rc = 0;

    if (c->title)
        rc = seal(st, "title", c->conv_id, (const uint8_t *)c->title, strlen(c->title), &title);
    if (rc == 0)
        rc = prepare(st,
                     "INSERT OR REPLACE INTO conversations(conv_id, type, peer, title,"
                     " expiration, burn_on_read) VALUES(?, ?, ?, ?, ?, ?)",
                     &s);
    if (rc == 0) {
        sqlite3_bind_text(s, 1, c->conv_id, -1, SQLITE_STATIC);
        sqlite3_bind_text(s, 2, c->type, -1, SQLITE_STATIC);
        sqlite3_bind_text(s, 3, c->peer, -1, SQLITE_STATIC);
        if (c->title)
            sqlite3_bind_blob(s, 4, title.data, (int)title.len, SQLITE_STATIC);
        else
            sqlite3_bind_null(s, 4);
        sqlite3_bind_int64(s, 5, c->expiration);
        sqlite3_bind_int64(s, 6, c->burn_on_read);
        rc = step_done(st, s);
    }
    buf_release(&title);
    return rc;
}

int lstore_conv_get(struct lstore *st, const char *conv_id, struct lstore_conv *out)
{
    sqlite3_stmt *s;
    struct buf title = BUF_INIT(64 * 1024);
    int rc;

    memset(out, 0, sizeof(*out));
    rc = prepare(st,
                 "SELECT type, peer, title, expiration, burn_on_read FROM conversations"
                 " WHERE conv_id = ?",
                 &s);
    if (rc < 0)
        return rc;
    sqlite3_bind_text(s, 1, conv_id, -1, SQLITE_STATIC);
    int r = sqlite3_step(s);
    if (r != SQLITE_ROW) {
        rc = r == SQLITE_DONE ? PARLEY_ENOTFOUND : PARLEY_ESTORE;
        goto out;
    }
    strlcpy_p(out->conv_id, conv_id, sizeof(out->conv_id));
    strlcpy_p(out->type, (const char *)sqlite3_column_text(s, 0), sizeof(out->type));
    if (sqlite3_column_text(s, 1))
        strlcpy_p(out->peer, (const char *)sqlite3_column_text(s, 1), sizeof(out->peer));
    out->expiration = (uint32_t)sqlite3_column_int64(s, 3);
    out->burn_on_read = (uint32_t)sqlite3_column_int64(s, 4);
    if (sqlite3_column_type(s, 2) == SQLITE_BLOB) {
        rc = unseal(st, "title", conv_id, sqlite3_column_blob(s, 2),
                    (size_t)sqlite3_column_bytes(s, 2), &title);
        if (rc == 0)
            out->title = (char *)buf_detach(&title, &(size_t){0});
    }
out:
    finish(st, s);
    buf_release(&title);
    return rc;
}

int lstore_conv_each(struct lstore *st, int (*fn)(void *arg, const struct lstore_conv *c),
                     void *arg)
{
    sqlite3_stmt *s;
    int rc = prepare(st, "SELECT conv_id FROM conversations ORDER BY conv_id", &s);
    int r;

    if (rc < 0)
        return rc;
    while (rc == 0 && (r = sqlite3_step(s)) == SQLITE_ROW) {
        struct lstore_conv c;
        rc = lstore_conv_get(st, (const char *)sqlite3_column_text(s, 0), &c);
        if (rc == 0)
            rc = fn(arg, &c);
        free(c.title);
    }
    if (rc == 0 && r != SQLITE_DONE)
        rc = PARLEY_ESTORE;
    finish(st, s);
    return rc;
}

int lstore_pin_each(struct lstore *st,
                    int (*fn)(void *arg, const char *user_id, const char *username,
                              const uint8_t *key, size_t n, int verified),
                    void *arg)
{
    sqlite3_stmt *s;
    int rc = prepare(st, "SELECT user_id, username, identity_key, verified FROM pins", &s);
    int r;

    if (rc < 0)
        return rc;
    while (rc == 0 && (r = sqlite3_step(s)) == SQLITE_ROW)
        rc = fn(arg, (const char *)sqlite3_column_text(s, 0),
                (const char *)sqlite3_column_text(s, 1), sqlite3_column_blob(s, 2),
                (size_t)sqlite3_column_bytes(s, 2), sqlite3_column_int(s, 3));
    if (rc == 0 && r != SQLITE_DONE)
        rc = PARLEY_ESTORE;
    finish(st, s);
    return rc;
}

int lstore_conv_delete(struct lstore *st, const char *conv_id)
{
    sqlite3_stmt *s;
    int rc = prepare(st, "DELETE FROM conversations WHERE conv_id = ?", &s);
    if (rc < 0)
        return rc;
    sqlite3_bind_text(s, 1, conv_id, -1, SQLITE_STATIC);
    return step_done(st, s);
}

int lstore_msg_seen(struct lstore *st, const char *msg_id)
{
    sqlite3_stmt *s;
    int rc = prepare(st, "SELECT 1 FROM seen WHERE msg_id = ?", &s);
    if (rc < 0)
        return rc;
    sqlite3_bind_text(s, 1, msg_id, -1, SQLITE_STATIC);
    int r = sqlite3_step(s);
    finish(st, s);
    if (r == SQLITE_ROW)
        return PARLEY_EREPLAY;
    return r == SQLITE_DONE ? 0 : PARLEY_ESTORE;
}

int lstore_msg_put(struct lstore *st, const struct lstore_msg *m)
{
    struct buf body = BUF_INIT(LSTORE_MAX_BODY + 64);
    sqlite3_stmt *s = NULL;
    int rc;

    rc = lstore_msg_seen(st, m->msg_id);
    if (rc < 0)
        return rc;
    rc = seal(st, "body", m->msg_id, (const uint8_t *)m->body, strlen(m->body), &body);
    if (rc < 0)
        goto out;
    rc = prepare(st, "INSERT INTO seen(msg_id, expires_at) VALUES(?, ?)", &s);
    if (rc == 0) {
        sqlite3_bind_text(s, 1, m->msg_id, -1, SQLITE_STATIC);
        sqlite3_bind_int64(s, 2, (sqlite3_int64)m->expires_at);
        rc = step_done(st, s);
    }
    if (rc < 0)
        goto out;
    rc = prepare(st,
                 "INSERT INTO messages(msg_id, conv_id, sender, sender_device, msgtype, body, ts,"
                 " expires_at, burn_on_read, state) VALUES(?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
                 &s);
    if (rc == 0) {
        sqlite3_bind_text(s, 1, m->msg_id, -1, SQLITE_STATIC);
        sqlite3_bind_text(s, 2, m->conv_id, -1, SQLITE_STATIC);
        sqlite3_bind_text(s, 3, m->sender, -1, SQLITE_STATIC);
        sqlite3_bind_text(s, 4, m->sender_device, -1, SQLITE_STATIC);
        sqlite3_bind_int(s, 5, m->msgtype);
        sqlite3_bind_blob(s, 6, body.data, (int)body.len, SQLITE_STATIC);
        sqlite3_bind_int64(s, 7, m->ts_ms);
        sqlite3_bind_int64(s, 8, (sqlite3_int64)m->expires_at);
        sqlite3_bind_int(s, 9, m->burn_on_read);
        sqlite3_bind_int(s, 10, m->state);
        rc = step_done(st, s);
    }
out:
    buf_release(&body);
    return rc;
}

int lstore_msg_each(struct lstore *st, const char *conv_id, size_t limit,
                    int (*fn)(void *arg, const struct lstore_msg *m), void *arg)
{
    sqlite3_stmt *s;
    struct buf body = BUF_INIT(LSTORE_MAX_BODY);
    int rc;

    /* The newest `limit` messages, then oldest first. */
    rc = prepare(st,
                 "SELECT * FROM (SELECT msg_id, sender, sender_device, msgtype, body, ts,"
                 " expires_at, burn_on_read, state, conv_id FROM messages"
                 " WHERE (?1 IS NULL OR conv_id = ?1)"
                 " AND state != 4 ORDER BY ts DESC, rowid DESC LIMIT ?2) ORDER BY ts, msg_id",
                 &s);
    if (rc < 0)
        return rc;
    if (conv_id)
        sqlite3_bind_text(s, 1, conv_id, -1, SQLITE_STATIC);
    else
        sqlite3_bind_null(s, 1);
    sqlite3_bind_int64(s, 2, limit ? (sqlite3_int64)limit : -1);
    int r;
    while (rc == 0 && (r = sqlite3_step(s)) == SQLITE_ROW) {
        struct lstore_msg m = {0};
        strlcpy_p(m.msg_id, (const char *)sqlite3_column_text(s, 0), sizeof(m.msg_id));
        strlcpy_p(m.conv_id, (const char *)sqlite3_column_text(s, 9), sizeof(m.conv_id));
        strlcpy_p(m.sender, (const char *)sqlite3_column_text(s, 1), sizeof(m.sender));
        strlcpy_p(m.sender_device, (const char *)sqlite3_column_text(s, 2),
                  sizeof(m.sender_device));
        m.msgtype = sqlite3_column_int(s, 3);
        m.ts_ms = sqlite3_column_int64(s, 5);
        m.expires_at = (uint64_t)sqlite3_column_int64(s, 6);
        m.burn_on_read = sqlite3_column_int(s, 7);
        m.state = sqlite3_column_int(s, 8);
        buf_reset(&body);
        rc = unseal(st, "body", m.msg_id, sqlite3_column_blob(s, 4),
                    (size_t)sqlite3_column_bytes(s, 4), &body);
        if (rc == 0) {
            m.body = (const char *)body.data;
            rc = fn(arg, &m);
        }
    }
    if (rc == 0 && r != SQLITE_DONE)
        rc = PARLEY_ESTORE;
    finish(st, s);
    buf_release_secure(&body);
    return rc;
}

int lstore_msg_set_state(struct lstore *st, const char *msg_id, int state)
{
    sqlite3_stmt *s;
    int rc = prepare(st, "UPDATE messages SET state = ? WHERE msg_id = ?", &s);
    if (rc < 0)
        return rc;
    sqlite3_bind_int(s, 1, state);
    sqlite3_bind_text(s, 2, msg_id, -1, SQLITE_STATIC);
    rc = step_done(st, s);
    if (rc == 0 && sqlite3_changes(st->db) == 0)
        rc = PARLEY_ENOTFOUND;
    return rc;
}

int lstore_prekey_used(struct lstore *st, uint32_t id, uint64_t now)
{
    sqlite3_stmt *s;
    int rc =
        prepare(st, "INSERT OR REPLACE INTO prekeys_used(prekey_id, used_at) VALUES(?, ?)", &s);
    if (rc < 0)
        return rc;
    sqlite3_bind_int64(s, 1, id);
    sqlite3_bind_int64(s, 2, (sqlite3_int64)now);
    return step_done(st, s);
}

/* A vault item's AAD name: conversation and item, so an item cannot be
 * moved to another room's view. */
static void vault_name(const char *conv_id, const char *item, char *out, size_t n)
{
    snprintf(out, n, "%s/%s", conv_id, item);
}

int lstore_vault_put(struct lstore *st, const char *conv_id, const char *item, const char *json)
{
    struct buf ct = BUF_INIT(LSTORE_MAX_SECRET + 64);
    char name[256];
    sqlite3_stmt *s;
    int rc;

    vault_name(conv_id, item, name, sizeof(name));
    rc = seal(st, "vault", name, (const uint8_t *)json, strlen(json), &ct);
    if (rc == 0)
        rc = prepare(st, "INSERT OR REPLACE INTO vault(conv_id, item, blob) VALUES(?, ?, ?)", &s);
    if (rc == 0) {
        sqlite3_bind_text(s, 1, conv_id, -1, SQLITE_STATIC);
        sqlite3_bind_text(s, 2, item, -1, SQLITE_STATIC);
        sqlite3_bind_blob(s, 3, ct.data, (int)ct.len, SQLITE_STATIC);
        rc = step_done(st, s);
    }
    buf_release(&ct);
    return rc;
}

int lstore_vault_delete(struct lstore *st, const char *conv_id, const char *item)
{
    sqlite3_stmt *s;
    int rc = prepare(st, "DELETE FROM vault WHERE conv_id = ? AND item = ?", &s);
    if (rc == 0) {
        sqlite3_bind_text(s, 1, conv_id, -1, SQLITE_STATIC);
        sqlite3_bind_text(s, 2, item, -1, SQLITE_STATIC);
        rc = step_done(st, s);
    }
    return rc;
}

int lstore_vault_each(struct lstore *st, const char *conv_id,
                      int (*fn)(void *arg, const char *item, const char *json), void *arg)
{
    struct buf pt = BUF_INIT(LSTORE_MAX_SECRET);
    char name[256];
    sqlite3_stmt *s;
    int rc = prepare(st, "SELECT item, blob FROM vault WHERE conv_id = ? ORDER BY item", &s), r;

    if (rc < 0)
        return rc;
    sqlite3_bind_text(s, 1, conv_id, -1, SQLITE_STATIC);
    while (rc == 0 && (r = sqlite3_step(s)) == SQLITE_ROW) {
        const char *item = (const char *)sqlite3_column_text(s, 0);
        vault_name(conv_id, item, name, sizeof(name));
        buf_reset(&pt);
        rc = unseal(st, "vault", name, sqlite3_column_blob(s, 1),
                    (size_t)sqlite3_column_bytes(s, 1), &pt);
        if (rc == 0)
            rc = buf_append_byte(&pt, 0);
        if (rc == 0)
            rc = fn(arg, item, (const char *)pt.data);
    }
    if (rc == 0 && r != SQLITE_DONE)
        rc = PARLEY_ESTORE;
    finish(st, s);
    buf_release_secure(&pt);
    return rc;
}

int lstore_msg_body(struct lstore *st, const char *msg_id, int *msgtype, struct buf *out)
{
    sqlite3_stmt *s;
    int rc = prepare(st, "SELECT msgtype, body FROM messages WHERE msg_id = ? AND state != 4", &s);
    if (rc < 0)
        return rc;
    sqlite3_bind_text(s, 1, msg_id, -1, SQLITE_STATIC);
    int r = sqlite3_step(s);
    if (r == SQLITE_ROW) {
        *msgtype = sqlite3_column_int(s, 0);
        rc = unseal(st, "body", msg_id, sqlite3_column_blob(s, 1),
                    (size_t)sqlite3_column_bytes(s, 1), out);
        if (rc == 0)
            rc = buf_append_byte(out, 0);
    } else {
        rc = r == SQLITE_DONE ? PARLEY_ENOTFOUND : PARLEY_ESTORE;
    }
    finish(st, s);
    return rc;
}

int lstore_msg_sender(struct lstore *st, const char *msg_id, char out[33])
{
    sqlite3_stmt *s;
    int rc = prepare(st, "SELECT sender FROM messages WHERE msg_id = ?", &s);
    if (rc < 0)
        return rc;
    sqlite3_bind_text(s, 1, msg_id, -1, SQLITE_STATIC);
    int r = sqlite3_step(s);
    if (r == SQLITE_ROW)
        strlcpy_p(out, (const char *)sqlite3_column_text(s, 0), 33);
    else
        rc = r == SQLITE_DONE ? PARLEY_ENOTFOUND : PARLEY_ESTORE;
    finish(st, s);
    return rc;
}

int lstore_msg_set_expiry(struct lstore *st, const char *msg_id, uint64_t expires_at)
{
    sqlite3_stmt *s;
    int rc = prepare(st, "UPDATE messages SET expires_at = ? WHERE msg_id = ?", &s);
    if (rc < 0)
        return rc;
    sqlite3_bind_int64(s, 1, (sqlite3_int64)expires_at);
    sqlite3_bind_text(s, 2, msg_id, -1, SQLITE_STATIC);
    rc = step_done(st, s);
    if (rc == 0 && sqlite3_changes(st->db) == 0)
        rc = PARLEY_ENOTFOUND;
    return rc;
}

int lstore_msg_purge_expired(struct lstore *st, uint64_t now)
{
    sqlite3_stmt *s;
    /* A journaled message stays until the application has handled it: a
     * retention log must see it even when it expired while offline. */
    int rc = prepare(st,
                     "DELETE FROM messages WHERE expires_at != 0 AND expires_at <= ?"
                     " AND msg_id NOT IN (SELECT msg_id FROM journal)",
                     &s);
    if (rc < 0)
        return rc;
    sqlite3_bind_int64(s, 1, (sqlite3_int64)now);
    rc = step_done(st, s);
    return rc < 0 ? rc : sqlite3_changes(st->db);
}

int lstore_msg_meta(struct lstore *st, const char *msg_id, char conv_id[33], int *burn_on_read)
{
    sqlite3_stmt *s;
    int rc = prepare(st, "SELECT conv_id, burn_on_read FROM messages WHERE msg_id = ?", &s);
    if (rc < 0)
        return rc;
    sqlite3_bind_text(s, 1, msg_id, -1, SQLITE_STATIC);
    int r = sqlite3_step(s);
    if (r == SQLITE_ROW) {
        strlcpy_p(conv_id, (const char *)sqlite3_column_text(s, 0), 33);
        *burn_on_read = sqlite3_column_int(s, 1);
    } else {
        rc = r == SQLITE_DONE ? PARLEY_ENOTFOUND : PARLEY_ESTORE;
    }
    finish(st, s);
    return rc;
}

int lstore_journal_add(struct lstore *st, const char *msg_id)
{
    sqlite3_stmt *s;
    int rc = prepare(st, "INSERT INTO journal(msg_id) VALUES(?)", &s);
    if (rc < 0)
        return rc;
    sqlite3_bind_text(s, 1, msg_id, -1, SQLITE_STATIC);
    return step_done(st, s);
}

int lstore_journal_each(struct lstore *st, int (*fn)(void *arg, const struct lstore_msg *m),
                        void *arg)
{
    sqlite3_stmt *s;
    struct buf body = BUF_INIT(LSTORE_MAX_BODY);
    int rc, r;

    rc = prepare(st,
                 "SELECT m.msg_id, m.conv_id, m.sender, m.sender_device, m.msgtype, m.body, m.ts,"
                 " m.expires_at, m.burn_on_read, m.state FROM journal j JOIN messages m"
                 " ON m.msg_id = j.msg_id ORDER BY j.seq",
                 &s);
    if (rc < 0)
        return rc;
    while (rc == 0 && (r = sqlite3_step(s)) == SQLITE_ROW) {
        struct lstore_msg m = {0};
        strlcpy_p(m.msg_id, (const char *)sqlite3_column_text(s, 0), sizeof(m.msg_id));
        strlcpy_p(m.conv_id, (const char *)sqlite3_column_text(s, 1), sizeof(m.conv_id));
        strlcpy_p(m.sender, (const char *)sqlite3_column_text(s, 2), sizeof(m.sender));
        strlcpy_p(m.sender_device, (const char *)sqlite3_column_text(s, 3),
                  sizeof(m.sender_device));
        m.msgtype = sqlite3_column_int(s, 4);
        m.ts_ms = sqlite3_column_int64(s, 6);
        m.expires_at = (uint64_t)sqlite3_column_int64(s, 7);
        m.burn_on_read = sqlite3_column_int(s, 8);
        m.state = sqlite3_column_int(s, 9);
        buf_reset(&body);
        rc = unseal(st, "body", m.msg_id, sqlite3_column_blob(s, 5),
                    (size_t)sqlite3_column_bytes(s, 5), &body);
        if (rc == 0 && buf_append(&body, "", 1) == 0) {
            m.body = (const char *)body.data;
            rc = fn(arg, &m);
        }
    }
    if (rc == 0 && r != SQLITE_DONE)
        rc = PARLEY_ESTORE;
    finish(st, s);
    buf_release_secure(&body);
    return rc;
}

int lstore_journal_done(struct lstore *st, const char *msg_id)
{
    sqlite3_stmt *s;
    int rc = prepare(st, "DELETE FROM journal WHERE msg_id = ?", &s);
    if (rc < 0)
        return rc;
    sqlite3_bind_text(s, 1, msg_id, -1, SQLITE_STATIC);
    rc = step_done(st, s);
    if (rc < 0)
        return rc;
    /* The application keeps its own copy now; the id stays seen. */
    rc = prepare(st, "DELETE FROM messages WHERE msg_id = ?", &s);
    if (rc < 0)
        return rc;
    sqlite3_bind_text(s, 1, msg_id, -1, SQLITE_STATIC);
    return step_done(st, s);
}
