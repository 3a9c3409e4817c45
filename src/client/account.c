/* account.c - register, sign in (existing local state or a new device) and
 * the account's local files (docs/client-protocol.md, "Accounts and
 * sessions").
 *
 * The password stays in this process: the server gets the login secret
 * (ids_login_secret), and the identity backup is a password-based container
 * the server cannot open. */
#include "client.h"

#include <dirent.h>
#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <openssl/crypto.h>

#include "common/str.h"
#include "proto/ids.h"
#include "proto/pbe.h"
#include "proto/prim.h"
#include "proto/suite.h"

int client_alloc(struct parley_client **out)
{
    struct parley_client *c = calloc(1, sizeof(*c));
    *out = NULL;
    if (!c)
        return PARLEY_ENOMEM;
    int rc = keys_cert_cache_init(&c->certs, KEYS_CERT_CACHE_DEFAULT);
    if (rc < 0) {
        free(c);
        return rc;
    }
    if (pipe2(c->ev_pipe, O_CLOEXEC | O_NONBLOCK) < 0) {
        keys_cert_cache_release(&c->certs);
        free(c);
        return PARLEY_EIO;
    }
    pthread_mutex_init(&c->mu, NULL);
    pthread_mutex_init(&c->ev_mu, NULL);
    pthread_cond_init(&c->ev_cv, NULL);
    pthread_cond_init(&c->ack_cv, NULL);
    *out = c;
    return 0;
}

void parley_client_free(struct parley_client *c)
{
    if (!c)
        return;
    conn_stop(c->conn);
    for (struct client_event *e = c->ev_head, *n; e; e = n) {
        n = e->next;
        parley_event_free(&e->ev);
    }
    for (struct client_pending *p = c->pending, *n; p; p = n) {
        n = p->next;
        free(p);
    }
    if (c->has_dev)
        keys_device_release(&c->dev);
    keys_cert_cache_release(&c->certs);
    if (c->rx_id_ok)
        sig_key_release(&c->rx_id);
    if (c->device_token) {
        OPENSSL_cleanse(c->device_token, strlen(c->device_token));
        free(c->device_token);
    }
    free(c->bots);
    api_release(&c->api);
    lstore_close(c->st);
    parley_config_free(c->cfg);
    close(c->ev_pipe[0]);
    close(c->ev_pipe[1]);
    pthread_mutex_destroy(&c->mu);
    pthread_mutex_destroy(&c->ev_mu);
    pthread_cond_destroy(&c->ev_cv);
    pthread_cond_destroy(&c->ack_cv);
    free(c);
}

const char *parley_client_user_id(const struct parley_client *c)
{
    return c->user_hex;
}

const char *parley_client_device_id(const struct parley_client *c)
{
    return c->device_hex;
}

const char *parley_client_username(const struct parley_client *c)
{
    return c->username;
}

const struct parley_config *parley_client_config(const struct parley_client *c)
{
    return c->cfg;
}

int client_save_keys(struct parley_client *c)
{
    struct buf b = BUF_INIT(KEYS_MAX_STORE);
    int rc = keys_device_save(&c->dev, &b);
    if (rc == 0)
        rc = lstore_secret_put(c->st, "keystore", b.data, b.len);
    buf_release_secure(&b);
    return rc;
}

/* data_dir/<hex of H(network || 0 || username)>.db: usernames may hold any
 * character, file names may not. */
static int account_path(const char *data_dir, const char *network_id, const char *username,
                        char *out, size_t size)
{
    uint8_t h[32];
    char hex[33];
    struct prim_iov iov[] = {
        {network_id, strlen(network_id)}, {"", 1}, {username, strlen(username)}};
    int rc = prim_hash(PRIM_SHA256, iov, 3, h);
    if (rc < 0)
        return rc;
    hex_encode(h, 16, hex);
    if (snprintf(out, size, "%s/%s.db", data_dir, hex) >= (int)size)
        return PARLEY_EINVAL;
    return 0;
}

/* Find the account file of `username` when no configuration names the
 * network: the only file in data_dir whose account has that username. */
static int find_account(const char *data_dir, const char *username, char *out, size_t size)
{
    DIR *d = opendir(data_dir);
    struct dirent *e;
    int found = 0;

    if (!d)
        return PARLEY_ENOTFOUND;
    while ((e = readdir(d))) {
        size_t n = strlen(e->d_name);
        char path[4096], *net = NULL, *user = NULL;
        if (n != 35 || strcmp(e->d_name + 32, ".db") != 0)
            continue;
        if (snprintf(path, sizeof(path), "%s/%s", data_dir, e->d_name) >= (int)sizeof(path))
            continue;
        if (lstore_peek(path, &net, &user) == 0 && strcmp(user, username) == 0) {
            if (found++ == 0)
                strlcpy_p(out, path, size);
        }
        free(net);
        free(user);
    }
    closedir(d);
    if (found > 1)
        return PARLEY_ECONFLICT; /* the same username on two networks: name the config */
    return found ? 0 : PARLEY_ENOTFOUND;
}

/* Copy the configuration into the client and write the pin file. */
int client_set_config(struct parley_client *c, const char *data_dir,
                      const struct parley_config *cfg)
{
    char err[256];
    int rc = config_parse(cfg->json, strlen(cfg->json), &c->cfg, err, sizeof(err));
    if (rc < 0)
        return rc;
    c->suite = suite_get(c->cfg->suite_id);
    if (snprintf(c->ca_file, sizeof(c->ca_file), "%s/%s.pins.pem", data_dir, c->cfg->network_id) >=
        (int)sizeof(c->ca_file))
        return PARLEY_EINVAL;
    /* The network id is a file name here: refuse path separators. */
    if (strchr(c->cfg->network_id, '/') || c->cfg->network_id[0] == '.')
        return PARLEY_ECONFIG;
    if (c->cfg->pinning) {
        rc = config_write_pins(c->cfg, c->ca_file);
    } else {
        /* No pinning: the system trust store decides (api.c, conn.c). */
        unlink(c->ca_file);
        c->ca_file[0] = 0;
    }
    if (rc == 0)
        rc = api_init(&c->api, c->cfg->host, c->cfg->port, c->ca_file);
    return rc;
}

int client_make_data_dir(const char *data_dir)
{
    if (mkdir(data_dir, 0700) < 0 && errno != EEXIST)
        return PARLEY_EIO;
    return 0;
}

/* POST /client/login. `new_secret` may be NULL. */
static int do_login(struct parley_client *c, const char *password, const char *new_password,
                    struct api_login *out)
{
    char secret[IDS_LOGIN_SECRET_B64], new_secret[IDS_LOGIN_SECRET_B64];
    json_t *body = NULL, *resp = NULL;
    long status;
    int rc;

    rc = ids_login_secret(c->cfg->network_id, c->username, password, secret);
    if (rc == 0 && new_password)
        rc = ids_login_secret(c->cfg->network_id, c->username, new_password, new_secret);
    if (rc < 0)
        goto out;
    body = json_pack("{ssssss}", "network_id", c->cfg->network_id, "username", c->username,
                     "login_secret", secret);
    if (body && new_password &&
        json_object_set_new(body, "new_login_secret", json_string(new_secret)) < 0) {
        rc = PARLEY_ENOMEM;
        goto out;
    }
    if (!body) {
        rc = PARLEY_ENOMEM;
        goto out;
    }
    rc = api_request(&c->api, "POST", "/api/v1/client/login", NULL, body, &status, &resp);
    if (rc == 0)
        rc = api_status_error(status, resp);
    if (rc == 0)
        rc = api_login_parse(resp, out);
out:
    OPENSSL_cleanse(secret, sizeof(secret));
    OPENSSL_cleanse(new_secret, sizeof(new_secret));
    json_decref(body);
    json_decref(resp);
    return rc;
}

/* Make this device's keys, certify them with the identity, upload, and
 * keep the device token. */
static int add_device(struct parley_client *c, const struct keys_identity *id,
                      const char *login_token, const struct parley_device_info *info)
{
    struct buf bundle = BUF_INIT(KEYS_MAX_STORE);
    json_t *body = NULL, *resp = NULL;
    char *cert64 = NULL, *bundle64 = NULL;
    uint64_t now = (uint64_t)time(NULL);
    uint8_t got[KEYS_ID_LEN];
    long status;
    int rc;

    rc = keys_device_generate(&c->dev, c->suite, c->user_id);
    if (rc < 0)
        return rc;
    c->has_dev = true;
    if ((rc = keys_device_add_prekeys(&c->dev, CLIENT_INITIAL_PREKEYS, now)) < 0 ||
        (rc = keys_device_rotate_fallback(&c->dev, now)) < 0 ||
        (rc = keys_identity_certify(id, &c->dev, now)) < 0 ||
        (rc = keys_device_bundle(&c->dev, 0, &bundle)) < 0)
        goto out;
    cert64 = api_b64_encode(c->dev.cert, c->dev.cert_len);
    bundle64 = api_b64_encode(bundle.data, bundle.len);
    body = cert64 && bundle64
               ? json_pack("{ssssssssss}", "cert", cert64, "bundle", bundle64, "name",
                           info && info->name ? info->name : "parley", "platform",
                           info && info->platform ? info->platform : "linux", "client_version",
                           PARLEY_VERSION)
               : NULL;
    if (!body) {
        rc = PARLEY_ENOMEM;
        goto out;
    }
    rc = api_request(&c->api, "POST", "/api/v1/client/devices", login_token, body, &status, &resp);
    if (rc == 0)
        rc = api_status_error(status, resp);
    if (rc < 0)
        goto out;
    const char *tok = json_string_value(json_object_get(resp, "device_token"));
    if (!tok || strlen(tok) >= API_MAX_TOKEN || api_get_id(resp, "device_id", got) < 0 ||
        memcmp(got, c->dev.device_id, KEYS_ID_LEN) != 0) {
        rc = PARLEY_EPROTO;
        goto out;
    }
    if (!(c->device_token = strdup(tok))) {
        rc = PARLEY_ENOMEM;
        goto out;
    }
    memcpy(c->device_id, c->dev.device_id, KEYS_ID_LEN);
    hex_encode(c->device_id, KEYS_ID_LEN, c->device_hex);
out:
    free(cert64);
    free(bundle64);
    json_decref(body);
    json_decref(resp);
    buf_release(&bundle);
    return rc;
}

/* Write everything the account needs to start again without the server. */
static int save_account(struct parley_client *c, const struct keys_identity *id)
{
    struct buf idb = BUF_INIT(4096);
    char next[16];
    int rc;

    if ((rc = lstore_begin(c->st)) < 0)
        return rc;
    rc = keys_identity_save(id, &idb);
    if (rc == 0)
        rc = lstore_secret_put(c->st, "identity", idb.data, idb.len);
    if (rc == 0)
        rc = client_save_keys(c);
    if (rc == 0)
        rc = lstore_secret_put(c->st, "device_token", (const uint8_t *)c->device_token,
                               strlen(c->device_token));
    if (rc == 0)
        rc =
            lstore_secret_put(c->st, "config", (const uint8_t *)c->cfg->json, strlen(c->cfg->json));
    if (rc == 0)
        rc = lstore_set(c->st, "user_id", c->user_hex);
    if (rc == 0)
        rc = lstore_set(c->st, "device_id", c->device_hex);
    snprintf(next, sizeof(next), "%u", c->dev.next_prekey_id);
    if (rc == 0)
        rc = lstore_set(c->st, "prekeys_uploaded_to", next);
    if (rc == 0)
        rc = lstore_pin_put(c->st, c->user_hex, c->username, id->key.pk, id->key.pk_len, 1);
    if (rc == 0)
        rc = lstore_commit(c->st);
    else
        lstore_rollback(c->st);
    buf_release_secure(&idb);
    return rc;
}

/* PUT /client/identity with the public key and the password-encrypted
 * backup of the secret half. */
static int put_identity(struct parley_client *c, const struct keys_identity *id,
                        const char *password, const char *token)
{
    struct buf secret = BUF_INIT(4096), backup = BUF_INIT(8192);
    json_t *body = NULL, *resp = NULL;
    char *k64 = NULL, *b64 = NULL;
    long status;
    int rc;

    rc = keys_identity_save(id, &secret);
    if (rc == 0)
        rc = pbe_seal((const uint8_t *)password, strlen(password), NULL, secret.data, secret.len,
                      &backup);
    if (rc < 0)
        goto out;
    k64 = api_b64_encode(id->key.pk, id->key.pk_len);
    b64 = api_b64_encode(backup.data, backup.len);
    body = k64 && b64 ? json_pack("{ssss}", "identity_key", k64, "identity_backup", b64) : NULL;
    if (!body) {
        rc = PARLEY_ENOMEM;
        goto out;
    }
    rc = api_request(&c->api, "PUT", "/api/v1/client/identity", token, body, &status, &resp);
    if (rc == 0)
        rc = api_status_error(status, resp);
out:
    free(k64);
    free(b64);
    json_decref(body);
    json_decref(resp);
    buf_release_secure(&secret);
    buf_release(&backup);
    return rc;
}

static int start_account(const char *data_dir, const struct parley_config *cfg,
                         const char *username, const char *password, struct parley_client **cp,
                         char *path, size_t path_size)
{
    struct parley_client *c;
    int rc;

    if (!data_dir || !cfg || !username || !password || !*username ||
        strlen(username) >= sizeof(c->username))
        return PARLEY_EINVAL;
    if ((rc = client_make_data_dir(data_dir)) < 0 || (rc = client_alloc(&c)) < 0)
        return rc;
    strlcpy_p(c->username, username, sizeof(c->username));
    rc = client_set_config(c, data_dir, cfg);
    if (rc == 0)
        rc = account_path(data_dir, cfg->network_id, username, path, path_size);
    if (rc == 0)
        rc = lstore_create(path, password, cfg->network_id, username, &c->st);
    if (rc < 0) {
        parley_client_free(c);
        return rc;
    }
    *cp = c;
    return 0;
}

/* An account that failed half-way leaves no file behind. */
static void abandon(struct parley_client *c, const char *path)
{
    char p[4200];
    parley_client_free(c);
    unlink(path);
    snprintf(p, sizeof(p), "%s-wal", path);
    unlink(p);
    snprintf(p, sizeof(p), "%s-shm", path);
    unlink(p);
}

/* After the login: create the user's identity, its backup under `pw`,
 * and this device. */
static int register_tail(struct parley_client *c, const struct api_login *login, const char *pw,
                         const struct parley_device_info *dev)
{
    struct keys_identity id = {0};
    int rc;

    if (login->identity_key)
        return PARLEY_ECONFLICT;
    memcpy(c->user_id, login->user_id, KEYS_ID_LEN);
    hex_encode(c->user_id, KEYS_ID_LEN, c->user_hex);
    if ((rc = keys_identity_generate(&id, c->suite, c->user_id)) < 0)
        return rc;
    if ((rc = put_identity(c, &id, pw, login->token)) == 0 &&
        (rc = add_device(c, &id, login->token, dev)) == 0)
        rc = save_account(c, &id);
    keys_identity_release(&id);
    return rc;
}

/* After the login of a user with an identity: open its backup with `pw`
 * and certify this device. */
static int newdev_tail(struct parley_client *c, const struct api_login *login, const char *pw,
                       const struct parley_device_info *dev)
{
    struct keys_identity id = {0};
    struct buf secret = BUF_INIT(4096);
    bool has_id = false;
    int rc;

    if (!login->identity_key)
        return PARLEY_ENOTFOUND; /* not registered yet: use parley_client_register */
    memcpy(c->user_id, login->user_id, KEYS_ID_LEN);
    hex_encode(c->user_id, KEYS_ID_LEN, c->user_hex);
    rc = pbe_open((const uint8_t *)pw, strlen(pw), login->identity_backup,
                  login->identity_backup_len, NULL, &secret);
    if (rc == 0)
        rc = keys_identity_load(&id, secret.data, secret.len);
    if (rc < 0)
        goto out;
    has_id = true;
    /* The backup must hold the key the server announces, for this user. */
    if (id.key.pk_len != login->identity_key_len ||
        memcmp(id.key.pk, login->identity_key, id.key.pk_len) != 0 ||
        memcmp(id.user_id, c->user_id, KEYS_ID_LEN) != 0 || id.suite != c->suite) {
        rc = PARLEY_EAUTH;
        goto out;
    }
    if ((rc = add_device(c, &id, login->token, dev)) == 0)
        rc = save_account(c, &id);
out:
    if (has_id)
        keys_identity_release(&id);
    buf_release_secure(&secret);
    return rc;
}

int parley_client_register(const char *data_dir, const struct parley_config *cfg,
                           const char *username, const char *password, const char *new_password,
                           const struct parley_device_info *dev, struct parley_client **out)
{
    struct parley_client *c = NULL;
    struct api_login login = {0};
    const char *pw = new_password ? new_password : password;
    char path[4096];
    int rc;

    if (!out)
        return PARLEY_EINVAL;
    *out = NULL;
    if (new_password && cfg && (rc = parley_config_password_check(cfg, new_password, NULL, 0)) < 0)
        return rc;
    rc = start_account(data_dir, cfg, username, pw, &c, path, sizeof(path));
    if (rc < 0)
        return rc;
    rc = do_login(c, password, new_password, &login);
    if (rc == 0)
        rc = register_tail(c, &login, pw, dev);
    api_login_release(&login);
    if (rc < 0) {
        abandon(c, path);
        return rc;
    }
    *out = c;
    return 0;
}

/* A new device of an existing user: open the identity backup with the
 * password and certify this device. */
static int login_new_device(const char *data_dir, const struct parley_config *cfg,
                            const char *username, const char *password,
                            const struct parley_device_info *dev, struct parley_client **out)
{
    struct parley_client *c = NULL;
    struct api_login login = {0};
    char path[4096];
    int rc;

    rc = start_account(data_dir, cfg, username, password, &c, path, sizeof(path));
    if (rc < 0)
        return rc;
    rc = do_login(c, password, NULL, &login);
    if (rc == 0)
        rc = newdev_tail(c, &login, password, dev);
    api_login_release(&login);
    if (rc < 0) {
        abandon(c, path);
        return rc;
    }
    *out = c;
    return 0;
}

/* Unlock existing local state. */
static int login_local(const char *data_dir, const char *path, const char *username,
                       const char *password, struct parley_client **out)
{
    struct parley_client *c = NULL;
    struct buf b = BUF_INIT(LSTORE_MAX_SECRET);
    struct parley_config *cfg = NULL;
    char *uid = NULL, *did = NULL, err[256];
    int rc;

    if ((rc = client_alloc(&c)) < 0)
        return rc;
    strlcpy_p(c->username, username, sizeof(c->username));
    if ((rc = lstore_open(path, password, &c->st)) < 0)
        goto out;
    rc = lstore_secret_get(c->st, "config", &b);
    if (rc == 0)
        rc = config_parse((const char *)b.data, b.len, &cfg, err, sizeof(err));
    if (rc == 0)
        rc = client_set_config(c, data_dir, cfg);
    buf_reset(&b);
    if (rc == 0)
        rc = lstore_secret_get(c->st, "keystore", &b);
    if (rc == 0)
        rc = keys_device_load(&c->dev, b.data, b.len);
    if (rc < 0)
        goto out;
    c->has_dev = true;
    buf_release_secure(&b);
    if ((rc = lstore_secret_get(c->st, "device_token", &b)) < 0)
        goto out;
    if (!(c->device_token = strndup((const char *)b.data, b.len))) {
        rc = PARLEY_ENOMEM;
        goto out;
    }
    if ((rc = lstore_get(c->st, "user_id", &uid)) < 0 ||
        (rc = lstore_get(c->st, "device_id", &did)) < 0)
        goto out;
    if (hex_decode(uid, strlen(uid), c->user_id, KEYS_ID_LEN) < 0 ||
        hex_decode(did, strlen(did), c->device_id, KEYS_ID_LEN) < 0 ||
        memcmp(c->device_id, c->dev.device_id, KEYS_ID_LEN) != 0) {
        rc = PARLEY_EPROTO;
        goto out;
    }
    hex_encode(c->user_id, KEYS_ID_LEN, c->user_hex);
    hex_encode(c->device_id, KEYS_ID_LEN, c->device_hex);
    /* Expired messages leave the device even if it was off when they did. */
    (void)lstore_msg_purge_expired(c->st, (uint64_t)time(NULL));
out:
    free(uid);
    free(did);
    parley_config_free(cfg);
    buf_release_secure(&b);
    if (rc < 0) {
        parley_client_free(c);
        return rc;
    }
    *out = c;
    return 0;
}

int parley_client_login(const char *data_dir, const struct parley_config *cfg, const char *username,
                        const char *password, const struct parley_device_info *dev,
                        struct parley_client **out)
{
    char path[4096];
    struct stat sb;
    int rc;

    if (!data_dir || !username || !password || !out)
        return PARLEY_EINVAL;
    *out = NULL;
    if (cfg)
        rc = account_path(data_dir, cfg->network_id, username, path, sizeof(path));
    else
        rc = find_account(data_dir, username, path, sizeof(path));
    if (rc == 0 && (cfg == NULL || stat(path, &sb) == 0))
        return login_local(data_dir, path, username, password, out);
    if (!cfg)
        return rc;
    if (rc < 0)
        return rc;
    if ((rc = client_make_data_dir(data_dir)) < 0)
        return rc;
    return login_new_device(data_dir, cfg, username, password, dev, out);
}

int parley_client_signing_key(const struct parley_client *c, char *out, size_t len)
{
    if (!c || !out || !c->has_dev || len < 2 * c->dev.sign.pk_len + 1)
        return PARLEY_EINVAL;
    hex_encode(c->dev.sign.pk, c->dev.sign.pk_len, out);
    return 0;
}

/* Single sign-on (sso.c): the server vouched for `username` and gave a
 * login token. With local state for the account, unlock it with
 * `passphrase`; otherwise register (no identity yet) or add this device,
 * with the identity backup and the local keys under `passphrase`. */
int client_sso_account(const char *data_dir, const struct parley_config *cfg, const char *username,
                       const struct api_login *login, const char *passphrase,
                       const struct parley_device_info *dev, struct parley_client **out)
{
    struct parley_client *c = NULL;
    char path[4096];
    struct stat sb;
    int rc;

    *out = NULL;
    if ((rc = client_make_data_dir(data_dir)) < 0 ||
        (rc = account_path(data_dir, cfg->network_id, username, path, sizeof(path))) < 0)
        return rc;
    if (stat(path, &sb) == 0) {
        rc = login_local(data_dir, path, username, passphrase, out);
        if (rc == 0 && memcmp((*out)->user_id, login->user_id, KEYS_ID_LEN) != 0) {
            parley_client_free(*out);
            *out = NULL;
            rc = PARLEY_ECONFLICT;
        }
        return rc;
    }
    rc = start_account(data_dir, cfg, username, passphrase, &c, path, sizeof(path));
    if (rc < 0)
        return rc;
    rc = login->identity_key ? newdev_tail(c, login, passphrase, dev)
                             : register_tail(c, login, passphrase, dev);
    if (rc < 0) {
        abandon(c, path);
        return rc;
    }
    *out = c;
    return 0;
}
