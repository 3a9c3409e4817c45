/* api_client.c - accounts, devices and the key directory for clients
 * (docs/client-protocol.md). See api_client.h.
 *
 * Login verifies an Argon2id hash (about 170 ms) on a worker (workq.h) and
 * answers once it is done (http_defer). */
#include "api_client.h"
#include "api_client_util.h"
#include "b64.h"
#include "common/log.h"
#include "common/str.h"
#include "common/xmalloc.h"
#include "federation.h"
#include "password.h"
#include "proto/keys.h"
#include "sgroup_settings.h"
#include "store.h"
#include "workq.h"
#include "ws.h"

#include <openssl/crypto.h>

int64_t api_setting_int(const char *settings_json, const char *key, int64_t def)
{
    json_t *root, *v;
    int64_t out = def;

    if (!settings_json || strcmp(settings_json, "{}") == 0)
        return def;
    root = json_loads(settings_json, 0, NULL);
    v = json_object_get(root, key);
    if (json_is_integer(v))
        out = json_integer_value(v);
    else if (json_is_boolean(v))
        out = json_is_true(v) ? 1 : 0;
    json_decref(root);
    return out;
}

/* ---- login ------------------------------------------------------------- */

struct login_row {
    int64_t user_row;
    uint8_t user_id[KEYS_ID_LEN];
    char hash[PASSWORD_ENCODED_MAX];
    char status[16];
    int64_t suspend_after; /* failed logins before suspension; 0 = never */
    bool may_change_secret;
};

static const char sql_login_user[] =
    "SELECT u.id, u.user_id, u.password_hash, u.status, "
    "COALESCE(u.security_group_id, (SELECT id FROM security_groups WHERE network_id = n.id "
    "AND is_default = 1 ORDER BY id LIMIT 1), 0) "
    "FROM users u JOIN networks n ON n.id = u.network_id "
    "WHERE n.network_id = $1 AND u.username = $2";

static int load_login_row(struct store *st, const char *network_id, const char *username,
                          struct login_row *out)
{
    struct store_val p[] = {STORE_TEXT(network_id), STORE_TEXT(username)};
    struct store_conn *c;
    struct store_rows *r = NULL;
    const uint8_t *b;
    size_t bl;
    int64_t group = 0;
    json_t *settings = NULL;
    int rc = store_conn_get(st, &c);

    if (rc < 0)
        return rc;
    rc = store_query(c, sql_login_user, p, ARRAY_SIZE(p), &r);
    if (rc == 0)
        rc = store_rows_next(r);
    if (rc == 1) {
        out->user_row = store_rows_int(r, 0);
        b = store_rows_blob(r, 1, &bl);
        if (b && bl == KEYS_ID_LEN)
            memcpy(out->user_id, b, KEYS_ID_LEN);
        strlcpy_p(out->hash, store_rows_text(r, 2), sizeof(out->hash));
        strlcpy_p(out->status, store_rows_text(r, 3), sizeof(out->status));
        group = store_rows_int(r, 4);
        rc = 0;
    } else if (rc == 0) {
        rc = PARLEY_ENOTFOUND;
    }
    store_rows_free(r);
    /* The security group's policy, defaults filled in (sgroup_settings.c). */
    out->suspend_after = 10;
    out->may_change_secret = true;
    if (rc == 0 && group && sgroup_settings_get(c, group, &settings) == 0) {
        out->suspend_after =
            json_integer_value(json_object_get(settings, "user_account_suspension"));
        out->may_change_secret =
            json_is_true(json_object_get(settings, "user_password_permission"));
    }
    json_decref(settings);
    store_conn_put(st, c);
    return rc;
}

struct login_job {
    int64_t user_row;
    bool verified;
    int64_t suspend_after; /* failed logins before suspension; 0 = never */
    const char *new_hash;  /* replace the login secret's hash, or NULL */
    char token[AUTH_TOKEN_LEN + 1];
    char status[16];
};

static int login_write(struct store_conn *c, void *arg)
{
    struct login_job *j = arg;
    int64_t now = (int64_t)time(NULL);
    struct store_rows *r = NULL;
    int rc;

    if (!j->verified) {
        struct store_val p[] = {STORE_INT(j->user_row), STORE_INT(now)};
        rc = store_exec(c,
                        "UPDATE users SET failed_logins = failed_logins + 1, updated_at = $2 "
                        "WHERE id = $1",
                        p, 2, NULL);
        if (rc == 0 && j->suspend_after > 0) {
            struct store_val q[] = {STORE_INT(j->user_row), STORE_INT(j->suspend_after)};
            rc = store_exec(c,
                            "UPDATE users SET status = 'suspended' WHERE id = $1 AND "
                            "failed_logins >= $2 AND status IN ('pending', 'active')",
                            q, 2, NULL);
        }
        return rc;
    }
    if (j->new_hash) {
        struct store_val p[] = {STORE_INT(j->user_row), STORE_INT(now), STORE_TEXT(j->new_hash)};
        rc = store_exec(c,
                        "UPDATE users SET failed_logins = 0, password_hash = $3, updated_at = $2 "
                        "WHERE id = $1",
                        p, 3, NULL);
    } else {
        struct store_val p[] = {STORE_INT(j->user_row)};
        rc =
            store_exec(c, "UPDATE users SET failed_logins = 0 WHERE id = $1 AND failed_logins <> 0",
                       p, 1, NULL);
    }
    if (rc == 0)
        rc = auth_token_create(c, j->user_row, 0, j->token);
    if (rc == 0) {
        struct store_val p[] = {STORE_INT(j->user_row)};
        rc = store_query(c, "SELECT status FROM users WHERE id = $1", p, 1, &r);
        if (rc == 0 && (rc = store_rows_next(r)) == 1) {
            strlcpy_p(j->status, store_rows_text(r, 0), sizeof(j->status));
            rc = 0;
        } else if (rc == 0) {
            rc = PARLEY_ENOTFOUND;
        }
        store_rows_free(r);
    }
    return rc;
}

/* The identity of `user_row`, if any, as JSON values (json_null otherwise). */
int api_client_load_identity(struct store *st, int64_t user_row, json_t **key, json_t **backup)
{
    struct store_val p[] = {STORE_INT(user_row)};
    struct store_conn *c;
    struct store_rows *r = NULL;
    const uint8_t *b;
    size_t bl;
    int rc = store_conn_get(st, &c);

    *key = json_null();
    *backup = json_null();
    if (rc < 0)
        return rc;
    rc = store_query(c, "SELECT identity_key, identity_backup FROM identities WHERE user_id = $1",
                     p, 1, &r);
    if (rc == 0 && (rc = store_rows_next(r)) == 1) {
        b = store_rows_blob(r, 0, &bl);
        *key = api_json_b64(b, bl);
        b = store_rows_blob(r, 1, &bl);
        if (backup)
            *backup = api_json_b64(b, bl);
        rc = 0;
    }
    store_rows_free(r);
    store_conn_put(st, c);
    return rc;
}

/* A login while its secret is checked on a worker. */
struct login_wait {
    struct http_pending *pending;
    struct login_row u;
    bool known;    /* the user exists */
    bool verified; /* set by the worker */
    bool change;   /* new_login_secret was sent */
    int hash_rc;   /* of the new secret's hash */
    char secret[1025];
    char new_secret[1025];
    char new_hash[PASSWORD_ENCODED_MAX];
};

static void login_work(void *arg)
{
    struct login_wait *w = arg;

    /* An unknown user costs the same time as a known one, so the answer
     * time does not tell which usernames exist. */
    if (!w->known || !w->u.hash[0])
        password_verify_dummy(w->secret);
    else
        w->verified = password_verify(w->u.hash, w->secret) == 0;
    if (w->verified && w->change && w->u.may_change_secret)
        w->hash_rc = password_hash(w->new_secret, w->new_hash);
    OPENSSL_cleanse(w->secret, sizeof(w->secret));
    OPENSSL_cleanse(w->new_secret, sizeof(w->new_secret));
}

static void login_finish(struct http_req *req, struct login_wait *w)
{
    struct login_row *u = &w->u;
    struct login_job j = {0};
    json_t *key = NULL, *backup = NULL;
    int rc;

    j.user_row = u->user_row;
    j.verified = w->known && w->verified;
    if (!w->known) {
        http_reply_error(req, 401, "unauthorized", "wrong network_id, username or login_secret");
        return;
    }
    /* Provisioned by single sign-on (api_sso.c): no password to guess, so
     * failures count nothing and cannot suspend the account. */
    if (!u->hash[0]) {
        http_reply_error(req, 401, "unauthorized",
                         "this user signs in through the network's identity provider (SSO)");
        return;
    }
    if (!j.verified) {
        j.suspend_after = u->suspend_after;
        rc = store_write_sync(req->srv->store, login_write, &j);
        if (rc < 0)
            log_warnx("login: cannot count a failed login: %s", parley_strerror(rc));
        http_reply_error(req, 401, "unauthorized", "wrong network_id, username or login_secret");
        return;
    }
    if (strcmp(u->status, "suspended") == 0 || strcmp(u->status, "deleted") == 0) {
        http_reply_error(req, 403, "forbidden", "account suspended");
        return;
    }
    if (w->change) {
        if (!u->may_change_secret) {
            http_reply_error(req, 403, "forbidden",
                             "field 'new_login_secret': this network does not let users change "
                             "their password");
            return;
        }
        if (w->hash_rc < 0) {
            http_reply_error(req, 400, "bad_request", "field 'new_login_secret' is not usable");
            return;
        }
        j.new_hash = w->new_hash;
    }
    rc = store_write_sync(req->srv->store, login_write, &j);
    if (rc == 0)
        rc = api_client_load_identity(req->srv->store, u->user_row, &key, &backup);
    if (rc < 0) {
        api_reply_store_error(req, rc);
        goto out;
    }
    log_info("client login user_row=%lld", (long long)u->user_row);
    http_reply_json(req, 200,
                    json_pack("{s:s,s:o,s:s,s:o,s:o}", "token", j.token, "user_id",
                              api_json_id(u->user_id), "status", j.status, "identity_key", key,
                              "identity_backup", backup));
    key = backup = NULL;
out:
    json_decref(key);
    json_decref(backup);
    OPENSSL_cleanse(j.token, sizeof(j.token));
}

static void login_done(void *arg)
{
    struct login_wait *w = arg;
    struct http_req *req = http_resume(w->pending);

    /* A client that left learns nothing, so its attempt changes nothing. */
    if (req)
        login_finish(req, w);
    OPENSSL_cleanse(w, sizeof(*w));
    free(w);
}

void api_client_login(struct http_req *req)
{
    struct api_body b;
    struct login_wait *w;
    int rc;

    if (api_body_get(req, API_BODY_LOGIN, &b) < 0)
        return;
    w = xcalloc(1, sizeof(*w));
    rc = load_login_row(req->srv->store, b.v[0].s, b.v[1].s, &w->u);
    if (rc < 0 && rc != PARLEY_ENOTFOUND) {
        api_reply_store_error(req, rc);
        goto fail;
    }
    w->known = rc == 0;
    strlcpy_p(w->secret, b.v[2].s, sizeof(w->secret));
    w->change = b.v[3].present;
    if (w->change)
        strlcpy_p(w->new_secret, b.v[3].s, sizeof(w->new_secret));
    w->pending = http_defer(req);
    rc = workq_submit(login_work, login_done, w);
    if (rc == 0)
        goto out;
    http_resume(w->pending);
    http_add_header(req, "retry-after", "1");
    http_reply_error(req, 503, "busy", "the server is busy checking passwords; try again");
fail:
    OPENSSL_cleanse(w, sizeof(*w));
    free(w);
out:
    api_body_release(&b);
}

/* ---- identity ---------------------------------------------------------- */

static enum sig_alg alg_for_key_len(size_t n)
{
    if (n == 32)
        return SIG_ED25519;
    if (n == 97)
        return SIG_ECDSA_P384;
    return 0;
}

struct identity_job {
    int64_t user_row;
    const struct api_body *b;
};

static int identity_write(struct store_conn *c, void *arg)
{
    struct identity_job *j = arg;
    int64_t now = (int64_t)time(NULL);
    struct store_val p[] = {STORE_INT(j->user_row), STORE_BLOB(j->b->v[0].bin, j->b->v[0].binlen),
                            STORE_BLOB(j->b->v[1].bin, j->b->v[1].binlen), STORE_INT(now)};
    int rc = store_exec(c,
                        "INSERT INTO identities (user_id, identity_key, identity_backup, "
                        "created_at) VALUES ($1, $2, $3, $4)",
                        p, 4, NULL);
    if (rc == 0) {
        struct store_val q[] = {STORE_INT(j->user_row), STORE_INT(now)};
        rc = store_exec(c,
                        "UPDATE users SET status = 'active', activated_at = $2, updated_at = $2 "
                        "WHERE id = $1 AND status = 'pending'",
                        q, 2, NULL);
    }
    return rc;
}

void api_client_identity(struct http_req *req)
{
    struct client_auth a;
    struct api_body b;
    struct sig_key k;
    struct identity_job j;
    enum sig_alg alg;
    int rc;

    if (api_auth(req, API_AUTH_ANY, &a) < 0)
        return;
    if (api_body_get(req, API_BODY_IDENTITY, &b) < 0)
        return;
    sig_key_init(&k);
    alg = alg_for_key_len(b.v[0].binlen);
    if (!alg || sig_key_from_public(&k, alg, b.v[0].bin, b.v[0].binlen) < 0) {
        http_reply_error(req, 400, "bad_request",
                         "field 'identity_key' is not a public signature key (32-byte Ed25519 or "
                         "97-byte P-384 point)");
        goto out;
    }
    j.user_row = a.user_row;
    j.b = &b;
    rc = store_write_sync(req->srv->store, identity_write, &j);
    if (rc == PARLEY_EEXIST) {
        http_reply_error(req, 409, "conflict", "this user already has an identity key");
        goto out;
    }
    if (rc < 0) {
        api_reply_store_error(req, rc);
        goto out;
    }
    http_reply_json(req, 200, json_pack("{s:s}", "status", "active"));
out:
    sig_key_release(&k);
    api_body_release(&b);
}

/* ---- devices ----------------------------------------------------------- */

/* The stored identity key of `user_row` as a public key. ENOTFOUND if none. */
static int identity_key(struct store *st, int64_t user_row, struct sig_key *k)
{
    struct store_val p[] = {STORE_INT(user_row)};
    struct store_conn *c;
    struct store_rows *r = NULL;
    const uint8_t *b;
    size_t bl = 0;
    int rc = store_conn_get(st, &c);

    if (rc < 0)
        return rc;
    rc = store_query(c, "SELECT identity_key FROM identities WHERE user_id = $1", p, 1, &r);
    if (rc == 0 && (rc = store_rows_next(r)) == 1) {
        b = store_rows_blob(r, 0, &bl);
        rc = sig_key_from_public(k, alg_for_key_len(bl), b, bl);
        if (rc < 0)
            rc = PARLEY_ESTORE;
    } else if (rc == 0) {
        rc = PARLEY_ENOTFOUND;
    }
    store_rows_free(r);
    store_conn_put(st, c);
    return rc;
}

static size_t count_onetime(const struct keys_bundle *kb)
{
    size_t n = 0;
    for (size_t i = 0; i < kb->n_prekeys; i++)
        n += kb->prekeys[i].kind == KEYS_PREKEY_ONETIME;
    return n;
}

/* Check `bundle` against the user's identity key and, when `cert` is not
 * NULL, the certificate too. On failure replies and returns -1. */
static int check_keys(struct http_req *req, const struct client_auth *a,
                      const struct api_value *cert, const struct api_value *bundle,
                      struct keys_bundle *kb)
{
    struct sig_key id;
    struct keys_cert kc;
    int rc, ret = -1;

    sig_key_init(&id);
    memset(&kc, 0, sizeof(kc));
    rc = identity_key(req->srv->store, a->user_row, &id);
    if (rc == PARLEY_ENOTFOUND) {
        http_reply_error(req, 409, "conflict",
                         "this user has no identity key yet: PUT /api/v1/client/identity first");
        goto out;
    }
    if (rc < 0) {
        api_reply_store_error(req, rc);
        goto out;
    }
    if (cert && keys_cert_verify(cert->bin, cert->binlen, &id, a->user_id, &kc) < 0) {
        http_reply_error(req, 400, "bad_request",
                         "field 'cert' is not a device certificate signed by this user's identity "
                         "key");
        goto out;
    }
    if (keys_bundle_verify(bundle->bin, bundle->binlen, &id, kb) < 0) {
        http_reply_error(req, 400, "bad_request",
                         "field 'bundle' does not verify against this user's identity key");
        goto out;
    }
    if (memcmp(kb->cert.user_id, a->user_id, KEYS_ID_LEN) != 0 ||
        (cert && memcmp(kb->cert.device_id, kc.device_id, KEYS_ID_LEN) != 0) ||
        (!cert && memcmp(kb->cert.device_id, a->device_id, KEYS_ID_LEN) != 0)) {
        http_reply_error(req, 400, "bad_request",
                         "field 'bundle' is certified for another device than %s",
                         cert ? "field 'cert'" : "the token's device");
        goto out;
    }
    ret = 0;
out:
    if (cert)
        keys_cert_release(&kc);
    sig_key_release(&id);
    return ret;
}

struct device_job {
    const struct client_auth *a;
    const struct api_body *b;
    const uint8_t *device_id;
    int64_t prekeys;
    char token[AUTH_TOKEN_LEN + 1];
};

static int device_write(struct store_conn *c, void *arg)
{
    struct device_job *j = arg;
    const struct api_body *b = j->b;
    int64_t now = (int64_t)time(NULL), row = 0;
    struct store_val p[] = {STORE_BLOB(j->device_id, KEYS_ID_LEN),
                            STORE_INT(j->a->user_row),
                            STORE_BLOB(b->v[0].bin, b->v[0].binlen),
                            STORE_BLOB(b->v[1].bin, b->v[1].binlen),
                            STORE_INT(j->prekeys),
                            STORE_TEXT(b->v[2].present ? b->v[2].s : ""),
                            STORE_TEXT(b->v[3].present ? b->v[3].s : ""),
                            STORE_TEXT(b->v[4].present ? b->v[4].s : ""),
                            STORE_INT(now)};
    int rc = store_query_int(c,
                             "INSERT INTO devices (device_id, user_id, cert, bundle, prekeys_left, "
                             "name, platform, client_version, created_at, last_seen) VALUES ($1, "
                             "$2, $3, $4, $5, $6, $7, $8, $9, $9) RETURNING id",
                             p, ARRAY_SIZE(p), &row);
    if (rc == 0)
        rc = auth_token_create(c, j->a->user_row, row, j->token);
    return rc;
}

void api_client_device_add(struct http_req *req)
{
    struct client_auth a;
    struct api_body b;
    struct keys_bundle kb;
    struct device_job j = {0};
    int rc;

    memset(&kb, 0, sizeof(kb));
    if (api_auth(req, API_AUTH_ANY, &a) < 0)
        return;
    if (api_body_get(req, API_BODY_DEVICE, &b) < 0)
        return;
    if (check_keys(req, &a, &b.v[0], &b.v[1], &kb) < 0)
        goto out;
    j.a = &a;
    j.b = &b;
    j.device_id = kb.cert.device_id;
    j.prekeys = (int64_t)count_onetime(&kb);
    rc = store_write_sync(req->srv->store, device_write, &j);
    if (rc == PARLEY_EEXIST) {
        http_reply_error(req, 409, "conflict",
                         "field 'cert': this device_id is already registered");
        goto out;
    }
    if (rc < 0) {
        api_reply_store_error(req, rc);
        goto out;
    }
    http_reply_json(req, 201,
                    json_pack("{s:o,s:s}", "device_id", api_json_id(kb.cert.device_id),
                              "device_token", j.token));
out:
    OPENSSL_cleanse(j.token, sizeof(j.token));
    keys_bundle_release(&kb);
    api_body_release(&b);
}

struct bundle_job {
    int64_t device_row;
    const struct api_value *bundle;
    int64_t prekeys;
};

static int bundle_write(struct store_conn *c, void *arg)
{
    struct bundle_job *j = arg;
    int64_t changes = 0;
    struct store_val p[] = {STORE_INT(j->device_row), STORE_BLOB(j->bundle->bin, j->bundle->binlen),
                            STORE_INT(j->prekeys)};
    int rc = store_exec(c, "UPDATE devices SET bundle = $2, prekeys_left = $3 WHERE id = $1", p, 3,
                        &changes);
    return rc == 0 && changes == 0 ? PARLEY_ENOTFOUND : rc;
}

void api_client_bundle_put(struct http_req *req)
{
    struct client_auth a;
    struct api_body b;
    struct keys_bundle kb;
    struct bundle_job j;
    int rc;

    memset(&kb, 0, sizeof(kb));
    if (api_auth(req, API_AUTH_DEVICE, &a) < 0)
        return;
    if (api_body_get(req, API_BODY_BUNDLE, &b) < 0)
        return;
    if (check_keys(req, &a, NULL, &b.v[0], &kb) < 0)
        goto out;
    j.device_row = a.device_row;
    j.bundle = &b.v[0];
    j.prekeys = (int64_t)count_onetime(&kb);
    rc = store_write_sync(req->srv->store, bundle_write, &j);
    if (rc < 0) {
        api_reply_store_error(req, rc);
        goto out;
    }
    http_reply_json(req, 200, json_pack("{s:I}", "prekeys", (json_int_t)j.prekeys));
out:
    keys_bundle_release(&kb);
    api_body_release(&b);
}

struct device_delete_job {
    int64_t user_row;
    uint8_t device_id[KEYS_ID_LEN];
};

static int device_delete_write(struct store_conn *c, void *arg)
{
    struct device_delete_job *j = arg;
    int64_t changes = 0;
    struct store_val p[] = {STORE_BLOB(j->device_id, KEYS_ID_LEN), STORE_INT(j->user_row)};
    /* Envelopes queued only for this device would be orphaned: drop them
     * first. Its queue rows and tokens go with it (ON DELETE CASCADE). */
    int rc = store_exec(c,
                        "DELETE FROM envelopes WHERE id IN (SELECT q.envelope_id FROM queue q "
                        "JOIN devices d ON d.id = q.device_id WHERE d.device_id = $1 AND "
                        "d.user_id = $2) AND NOT EXISTS (SELECT 1 FROM queue o JOIN devices od "
                        "ON od.id = o.device_id WHERE o.envelope_id = envelopes.id AND "
                        "od.device_id <> $1)",
                        p, 2, NULL);
    if (rc == 0)
        rc = store_exec(c, "DELETE FROM devices WHERE device_id = $1 AND user_id = $2", p, 2,
                        &changes);
    return rc == 0 && changes == 0 ? PARLEY_ENOTFOUND : rc;
}

void api_client_device_delete(struct http_req *req)
{
    struct client_auth a;
    struct device_delete_job j;
    int rc;

    if (api_auth(req, API_AUTH_DEVICE, &a) < 0)
        return;
    if (strlen(req->params[0]) != 2 * KEYS_ID_LEN ||
        hex_decode(req->params[0], 2 * KEYS_ID_LEN, j.device_id, KEYS_ID_LEN) < 0) {
        http_reply_error(req, 400, "bad_request",
                         "path segment 'device_id' must be 32 hex characters");
        return;
    }
    j.user_row = a.user_row;
    rc = store_write_sync(req->srv->store, device_delete_write, &j);
    if (rc == PARLEY_ENOTFOUND) {
        http_reply_error(req, 404, "not_found", "device_id is not one of your devices");
        return;
    }
    if (rc < 0) {
        api_reply_store_error(req, rc);
        return;
    }
    ws_disconnect_device(req->srv, j.device_id);
    http_reply_json(req, 200, json_object());
}

static int logout_write(struct store_conn *c, void *arg)
{
    const struct client_auth *a = arg;
    struct store_val p[] = {STORE_INT(a->session_row)};
    return store_exec(c, "UPDATE client_sessions SET revoked = 1 WHERE id = $1", p, 1, NULL);
}

void api_client_logout(struct http_req *req)
{
    struct client_auth a;
    int rc;

    if (api_auth(req, API_AUTH_ANY, &a) < 0)
        return;
    rc = store_write_sync(req->srv->store, logout_write, &a);
    if (rc < 0) {
        api_reply_store_error(req, rc);
        return;
    }
    if (a.device_row)
        ws_disconnect_device(req->srv, a.device_id);
    http_reply_json(req, 200, json_object());
}

/* ---- directory --------------------------------------------------------- */

/* Users are looked up across the deployment: by id (ids are unique in the
 * deployment) or by network id and username. One of another network is
 * shown only when local federation lets the two reach each other
 * (federation.h). */
static const char sql_user_by_name[] =
    "SELECT u.id, u.user_id, u.username, u.first_name, u.last_name, u.status, i.identity_key, "
    "u.network_id, n.network_id FROM users u JOIN networks n ON n.id = u.network_id "
    "LEFT JOIN identities i ON i.user_id = u.id "
    "WHERE n.network_id = $1 AND u.username = $2";
static const char sql_user_by_id[] =
    "SELECT u.id, u.user_id, u.username, u.first_name, u.last_name, u.status, i.identity_key, "
    "u.network_id, n.network_id FROM users u JOIN networks n ON n.id = u.network_id "
    "LEFT JOIN identities i ON i.user_id = u.id "
    "WHERE u.user_id = $1";

/* The security tags of user `user_row`: those of the network that apply to
 * the user's security group (the default group when none is set), as
 * [{"name", "color"}] by name. Clients show them beside the username, so
 * everyone sees how a correspondent is classified (docs/client-protocol.md). */
static int user_tags(struct store_conn *c, int64_t network_row, int64_t user_row, json_t **out)
{
    struct store_val p[] = {STORE_INT(network_row), STORE_INT(user_row)};
    struct store_rows *r = NULL;
    int64_t group = 0;
    int rc = store_query_int(c,
                             "SELECT COALESCE(u.security_group_id, (SELECT id FROM "
                             "security_groups WHERE network_id = $1 AND is_default = 1 ORDER BY "
                             "id LIMIT 1), 0) FROM users u WHERE u.id = $2",
                             p, 2, &group);

    *out = json_array();
    if (rc < 0 && rc != PARLEY_ENOTFOUND)
        return rc;
    rc = store_query(c,
                     "SELECT name, color, security_groups FROM security_tags WHERE network_id = "
                     "$1 ORDER BY name",
                     p, 1, &r);
    while (rc == 0 && (rc = store_rows_next(r)) == 1) {
        json_t *groups = json_loads(store_rows_text(r, 2), 0, NULL), *g;
        size_t i;
        rc = 0;
        json_array_foreach(groups, i, g)
        {
            if (json_integer_value(g) == group) {
                json_array_append_new(*out, json_pack("{s:s,s:s}", "name", store_rows_text(r, 0),
                                                      "color", store_rows_text(r, 1)));
                break;
            }
        }
        json_decref(groups);
    }
    store_rows_free(r);
    return rc < 0 ? rc : 0;
}

static void reply_user(struct http_req *req, const struct client_auth *a, const char *sql,
                       const struct store_val *p, size_t np, const char *network)
{
    struct store_conn *c = NULL;
    struct store_rows *r = NULL;
    json_t *u = NULL, *devs, *tags;
    const uint8_t *b;
    size_t bl;
    int64_t user_row = 0, net_row = 0;
    char why[300];
    bool active;
    int rc;

    rc = store_conn_get(req->srv->store, &c);
    if (rc < 0)
        goto fail;
    /* A name in another network: first whether the caller's own group
     * lets them reach that network at all, which tells nothing about who
     * is in it (no probing of usernames from a closed network). */
    if (network && strcmp(network, a->network_id) != 0) {
        struct fed_user me;
        rc = fed_user_load(c, a->user_row, &me);
        if (rc == 0) {
            struct fed_side mine = {me.network_id, me.settings}, other = {network, NULL};
            rc = fed_side_permits(&mine, &other, why, sizeof(why))
                     ? fed_network_admits(c, &me, network, why, sizeof(why))
                     : 0;
        }
        fed_user_release(&me);
        if (rc < 0)
            goto fail;
        if (rc == 0) {
            http_reply_error(req, 403, "forbidden", "%s", why);
            goto out;
        }
    }
    rc = store_query(c, sql, p, np, &r);
    if (rc == 0)
        rc = store_rows_next(r);
    if (rc < 0)
        goto fail;
    if (rc == 0) {
        if (network && strcmp(network, a->network_id) != 0)
            http_reply_error(req, 404, "not_found", "no such user in network %.128s", network);
        else
            http_reply_error(req, 404, "not_found", "no such user in your network");
        goto out;
    }
    user_row = store_rows_int(r, 0);
    net_row = store_rows_int(r, 7);
    b = store_rows_blob(r, 1, &bl);
    active = strcmp(store_rows_text(r, 5), "active") == 0;
    u = json_pack("{s:o,s:s,s:s,s:s,s:s,s:s}", "user_id", api_json_id(b), "username",
                  store_rows_text(r, 2), "first_name", store_rows_text(r, 3), "last_name",
                  store_rows_text(r, 4), "status", store_rows_text(r, 5), "network_id",
                  store_rows_text(r, 8));
    b = store_rows_blob(r, 6, &bl);
    json_object_set_new(u, "identity_key", b ? api_json_b64(b, bl) : json_null());
    store_rows_free(r);
    r = NULL;
    if (net_row != a->network_row) {
        rc = fed_check(c, a->user_row, user_row, why, sizeof(why));
        if (rc < 0)
            goto fail;
        if (rc == 0) {
            http_reply_error(req, 403, "forbidden", "%s", why);
            goto out;
        }
    }
    rc = user_tags(c, net_row, user_row, &tags);
    if (rc < 0)
        goto fail;
    json_object_set_new(u, "security_tags", tags);
    devs = json_array();
    json_object_set_new(u, "devices", devs);
    if (active) {
        struct store_val q[] = {STORE_INT(user_row)};
        rc = store_query(c, "SELECT device_id, cert FROM devices WHERE user_id = $1 ORDER BY id", q,
                         1, &r);
        while ((rc == 0 || rc == 1) && (rc = store_rows_next(r)) == 1) {
            const uint8_t *cert;
            size_t cl;
            b = store_rows_blob(r, 0, &bl);
            cert = store_rows_blob(r, 1, &cl);
            json_array_append_new(devs, json_pack("{s:o,s:o}", "device_id", api_json_id(b), "cert",
                                                  api_json_b64(cert, cl)));
        }
        if (rc < 0)
            goto fail;
    }
    http_reply_json(req, 200, u);
    u = NULL;
    goto out;
fail:
    api_reply_store_error(req, rc);
out:
    json_decref(u);
    store_rows_free(r);
    if (c)
        store_conn_put(req->srv->store, c);
}

void api_client_user_by_name(struct http_req *req)
{
    struct client_auth a;
    char arg[300], narg[200];
    const char *name = lws_get_urlarg_by_name(req->wsi, "username=", arg, sizeof(arg));
    const char *network = lws_get_urlarg_by_name(req->wsi, "network=", narg, sizeof(narg));

    if (!name || !*name || strlen(name) > 256) {
        http_reply_error(req, 400, "bad_request",
                         "query parameter 'username' is required (GET /api/v1/client/users?"
                         "username=NAME[&network=NETWORK_ID])");
        return;
    }
    if (network && (!*network || strlen(network) > 128)) {
        http_reply_error(req, 400, "bad_request",
                         "query parameter 'network' must be a network id of 1 to 128 characters");
        return;
    }
    if (api_auth(req, API_AUTH_ANY, &a) < 0)
        return;
    struct store_val p[] = {STORE_TEXT(network ? network : a.network_id), STORE_TEXT(name)};
    reply_user(req, &a, sql_user_by_name, p, 2, network);
}

void api_client_user_by_id(struct http_req *req)
{
    struct client_auth a;
    uint8_t id[KEYS_ID_LEN];

    if (strlen(req->params[0]) != 2 * KEYS_ID_LEN ||
        hex_decode(req->params[0], 2 * KEYS_ID_LEN, id, KEYS_ID_LEN) < 0) {
        http_reply_error(req, 400, "bad_request",
                         "path segment 'user_id' must be 32 hex characters");
        return;
    }
    if (api_auth(req, API_AUTH_ANY, &a) < 0)
        return;
    struct store_val p[] = {STORE_BLOB(id, KEYS_ID_LEN)};
    reply_user(req, &a, sql_user_by_id, p, 1, NULL);
}

/* GET /api/v1/client/retention: the user ids of the network's active
 * compliance bots. A sender wraps every message key for their devices too,
 * or msgstore refuses the envelope (docs/client-protocol.md). With
 * ?conv_id=HEX (the caller a member): those of every network with a member
 * in that conversation, which local federation may mix. */
void api_client_retention(struct http_req *req)
{
    struct client_auth a;
    struct store_conn *c = NULL;
    struct store_rows *r = NULL;
    json_t *arr = json_array();
    char arg[80];
    const char *conv = lws_get_urlarg_by_name(req->wsi, "conv_id=", arg, sizeof(arg));
    uint8_t conv_id[KEYS_ID_LEN];
    int rc;

    if (conv && (strlen(conv) != 2 * KEYS_ID_LEN ||
                 hex_decode(conv, 2 * KEYS_ID_LEN, conv_id, KEYS_ID_LEN) < 0)) {
        json_decref(arr);
        http_reply_error(req, 400, "bad_request",
                         "query parameter 'conv_id' must be 32 hex characters");
        return;
    }
    if (api_auth(req, API_AUTH_ANY, &a) < 0) {
        json_decref(arr);
        return;
    }
    rc = store_conn_get(req->srv->store, &c);
    if (rc == 0 && conv) {
        struct store_val p[] = {STORE_BLOB(conv_id, KEYS_ID_LEN), STORE_INT(a.user_row)};
        int64_t yes = 0;
        rc = store_query_int(c,
                             "SELECT COUNT(*) FROM conversations c JOIN members m ON m.conv_id = "
                             "c.id WHERE c.conv_id = $1 AND c.deleted = 0 AND m.user_id = $2",
                             p, 2, &yes);
        if (rc == 0 && yes == 0) {
            store_conn_put(req->srv->store, c);
            json_decref(arr);
            http_reply_error(req, 404, "not_found",
                             "query parameter 'conv_id': no such conversation among yours");
            return;
        }
        if (rc == 0)
            rc = store_query(c,
                             "SELECT u.user_id FROM users u WHERE u.is_compliance = 1 AND "
                             "u.status = 'active' AND u.network_id IN (SELECT mu.network_id FROM "
                             "conversations c JOIN members m ON m.conv_id = c.id JOIN users mu ON "
                             "mu.id = m.user_id WHERE c.conv_id = $1) ORDER BY u.user_id",
                             p, 1, &r);
    } else if (rc == 0) {
        struct store_val p[] = {STORE_INT(a.network_row)};
        rc = store_query(c,
                         "SELECT user_id FROM users WHERE network_id = $1 AND is_compliance = 1 "
                         "AND status = 'active' ORDER BY user_id",
                         p, 1, &r);
    }
    while (rc == 0 && (rc = store_rows_next(r)) == 1) {
        size_t len = 0;
        const uint8_t *id = store_rows_blob(r, 0, &len);
        char hex[2 * KEYS_ID_LEN + 1];
        rc = 0;
        if (id && len == KEYS_ID_LEN) {
            hex_encode(id, KEYS_ID_LEN, hex);
            json_array_append_new(arr, json_string(hex));
        }
    }
    store_rows_free(r);
    if (c)
        store_conn_put(req->srv->store, c);
    if (rc < 0) {
        json_decref(arr);
        api_reply_store_error(req, rc);
        return;
    }
    http_reply_json(req, 200, json_pack("{s:o}", "compliance_bots", arr));
}

/* GET /client/policy: the caller's security group settings and network
 * settings as they are now, defaults filled in. The configuration file
 * carries a copy taken when it was made; clients read this one to follow
 * later changes. */
void api_client_policy(struct http_req *req)
{
    struct client_auth a;
    struct store_conn *c = NULL;
    struct store_rows *r = NULL;
    json_t *group = NULL, *network = NULL, *stored = NULL;
    int64_t group_id = 0;
    int rc;

    if (api_auth(req, API_AUTH_ANY, &a) < 0)
        return;
    rc = store_conn_get(req->srv->store, &c);
    if (rc == 0) {
        struct store_val p[] = {STORE_INT(a.user_row)};
        rc = store_query(c,
                         "SELECT u.security_group_id, n.settings FROM users u JOIN networks n ON "
                         "n.id = u.network_id WHERE u.id = $1",
                         p, 1, &r);
        if (rc == 0 && (rc = store_rows_next(r)) == 1) {
            group_id = store_rows_int(r, 0);
            stored = json_loads(store_rows_text(r, 1) ?: "{}", 0, NULL);
            rc = 0;
        } else if (rc == 0) {
            rc = PARLEY_ENOTFOUND;
        }
        store_rows_free(r);
    }
    if (rc == 0)
        rc = sgroup_settings_get(c, group_id, &group);
    if (c)
        store_conn_put(req->srv->store, c);
    if (rc < 0) {
        json_decref(stored);
        json_decref(group);
        api_reply_store_error(req, rc);
        return;
    }
    network = sgroup_settings_fill(sgroup_network_settings, sgroup_network_settings_count, stored);
    json_decref(stored);
    http_reply_json(req, 200,
                    json_pack("{s:I,s:o,s:o}", "security_group_id", (json_int_t)group_id,
                              "settings", group, "network", network));
}

/* ---- pre-key claims ---------------------------------------------------- */

struct claim_job {
    bool is_pg;
    int64_t network_row, user_row;
    char why[300]; /* a refusal by local federation */
    const struct api_value *devices;
    struct buf *out; /* one bundle per device */
    int64_t *left;   /* one-time pre-keys left per device */
    size_t missing;  /* index of a device that is not there */
};

static int claim_write(struct store_conn *c, void *arg)
{
    struct claim_job *j = arg;
    /* Row locks keep two nodes from handing out the same pre-key; on
     * SQLite the committer is the only writer, which does the same. */
    const char *sql = j->is_pg ? "SELECT d.id, d.bundle, d.prekeys_left, u.id, u.network_id FROM "
                                 "devices d JOIN users u ON u.id = d.user_id WHERE d.device_id = "
                                 "$1 AND u.status = 'active' FOR UPDATE OF d"
                               : "SELECT d.id, d.bundle, d.prekeys_left, u.id, u.network_id FROM "
                                 "devices d JOIN users u ON u.id = d.user_id WHERE d.device_id = "
                                 "$1 AND u.status = 'active'";
    int rc = 0;

    for (size_t i = 0; rc == 0 && i < j->devices->n_ids; i++) {
        struct store_val p[] = {STORE_BLOB(j->devices->ids[i], KEYS_ID_LEN)};
        struct store_rows *r = NULL;
        struct buf rest = BUF_INIT(SIZE_MAX);
        int64_t row = 0, left = 0;
        const uint8_t *bundle;
        size_t bl = 0, before;

        rc = store_query(c, sql, p, 1, &r);
        if (rc == 0 && (rc = store_rows_next(r)) == 0) {
            j->missing = i;
            rc = PARLEY_ENOTFOUND;
        }
        /* A device of another network: only when local federation lets
         * the two users reach each other (federation.h). */
        if (rc == 1 && store_rows_int(r, 4) != j->network_row) {
            int64_t owner = store_rows_int(r, 3);
            int ok;
            store_rows_free(r);
            r = NULL;
            ok = fed_check(c, j->user_row, owner, j->why, sizeof(j->why));
            if (ok == 0) {
                j->missing = i;
                rc = PARLEY_EPERM;
            } else if (ok < 0) {
                rc = ok;
            } else {
                rc = store_query(c, sql, p, 1, &r);
                if (rc == 0)
                    rc = store_rows_next(r) == 1 ? 1 : PARLEY_ENOTFOUND;
            }
        }
        if (rc == 1) {
            row = store_rows_int(r, 0);
            bundle = store_rows_blob(r, 1, &bl);
            left = store_rows_int(r, 2);
            before = bl;
            rc = keys_bundle_take(bundle, bl, &j->out[i], &rest);
            if (rc == 0 && rest.len < before) { /* a one-time pre-key was taken */
                struct store_val q[] = {STORE_INT(row), STORE_BLOB(rest.data, rest.len)};
                left = left > 0 ? left - 1 : 0;
                rc = store_exec(c,
                                "UPDATE devices SET bundle = $2, prekeys_left = "
                                "CASE WHEN prekeys_left > 0 THEN prekeys_left - 1 ELSE 0 END "
                                "WHERE id = $1",
                                q, 2, NULL);
            }
            if (rc == PARLEY_ENOTFOUND) { /* no pre-key at all: the bundle is empty */
                j->missing = i;
            }
            j->left[i] = left;
        }
        buf_release(&rest);
        store_rows_free(r);
    }
    return rc;
}

void api_client_prekeys_claim(struct http_req *req)
{
    struct client_auth a;
    struct api_body b;
    struct claim_job j = {0};
    json_t *arr;
    int rc;

    if (api_auth(req, API_AUTH_DEVICE, &a) < 0)
        return;
    if (api_body_get(req, API_BODY_CLAIM, &b) < 0)
        return;
    j.is_pg = store_is_pg(req->srv->store);
    j.network_row = a.network_row;
    j.user_row = a.user_row;
    j.devices = &b.v[0];
    j.out = xcalloc(j.devices->n_ids + 1, sizeof(*j.out));
    j.left = xcalloc(j.devices->n_ids + 1, sizeof(*j.left));
    for (size_t i = 0; i < j.devices->n_ids; i++)
        buf_init(&j.out[i], SIZE_MAX);
    rc = store_write_sync(req->srv->store, claim_write, &j);
    if (rc == PARLEY_ENOTFOUND) {
        char hex[2 * KEYS_ID_LEN + 1];
        hex_encode(j.devices->ids[j.missing], KEYS_ID_LEN, hex);
        http_reply_error(req, 404, "not_found",
                         "field 'devices': %s is not a current device of an active user", hex);
        goto out;
    }
    if (rc == PARLEY_EPERM) {
        char hex[2 * KEYS_ID_LEN + 1];
        hex_encode(j.devices->ids[j.missing], KEYS_ID_LEN, hex);
        http_reply_error(req, 403, "forbidden", "field 'devices': %s: %s", hex, j.why);
        goto out;
    }
    if (rc < 0) {
        api_reply_store_error(req, rc);
        goto out;
    }
    arr = json_array();
    for (size_t i = 0; i < j.devices->n_ids; i++) {
        json_array_append_new(arr,
                              json_pack("{s:o,s:o}", "device_id", api_json_id(j.devices->ids[i]),
                                        "bundle", api_json_b64(j.out[i].data, j.out[i].len)));
        if (j.left[i] < API_PREKEYS_LOW)
            ws_notify_prekeys_low(req->srv, j.devices->ids[i], j.left[i]);
    }
    http_reply_json(req, 200, json_pack("{s:o}", "bundles", arr));
out:
    for (size_t i = 0; i < j.devices->n_ids; i++)
        buf_release(&j.out[i]);
    free(j.out);
    free(j.left);
    api_body_release(&b);
}
