/* admin_auth.c - administrator authentication; see admin_auth.h. */
#include "admin_auth.h"
#include "common/buf.h"
#include "common/log.h"
#include "common/str.h"
#include "common/xmalloc.h"
#include "config.h"
#include "store.h"

#include <fcntl.h>
#include <unistd.h>

#include <liboath/oath.h>
#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <openssl/rand.h>
#include <qrencode.h>

int admin_secret_new(char out[ADMIN_SECRET_LEN + 1])
{
    unsigned char raw[32], b64[48];

    if (RAND_bytes(raw, sizeof(raw)) != 1)
        return PARLEY_ECRYPTO;
    EVP_EncodeBlock(b64, raw, sizeof(raw));
    for (int i = 0; i < ADMIN_SECRET_LEN; i++)
        out[i] = b64[i] == '+' ? '-' : b64[i] == '/' ? '_' : (char)b64[i];
    out[ADMIN_SECRET_LEN] = 0;
    OPENSSL_cleanse(raw, sizeof(raw));
    OPENSSL_cleanse(b64, sizeof(b64));
    return 0;
}

void admin_hash(const char *s, char out[ADMIN_HASH_LEN + 1])
{
    unsigned char md[32];
    EVP_Digest(s, strlen(s), md, NULL, EVP_sha256(), NULL);
    hex_encode(md, sizeof(md), out);
}

bool admin_auth_cookie(const char *hdr, const char *name, char *out, size_t len)
{
    size_t nl = strlen(name);
    const char *p = hdr;

    while (p && *p) {
        while (*p == ' ' || *p == ';')
            p++;
        if (strncmp(p, name, nl) == 0 && p[nl] == '=') {
            size_t vl = strcspn(p + nl + 1, ";");
            if (vl == 0 || vl >= len)
                return false;
            memcpy(out, p + nl + 1, vl);
            out[vl] = 0;
            return true;
        }
        p = strchr(p, ';');
    }
    return false;
}

/* The permissions a role row grants: built-in roles take theirs from rbac.c
 * so the code and the database cannot disagree. */
static rbac_set role_perms(const char *name, bool builtin, const char *stored)
{
    if (builtin && strcmp(name, RBAC_ROLE_SUPER) == 0)
        return rbac_all();
    if (builtin && strcmp(name, RBAC_ROLE_NETWORK) == 0)
        return rbac_network_admin_set();
    if (builtin && strcmp(name, RBAC_ROLE_READONLY) == 0)
        return rbac_read_only_set();
    return rbac_set_from_text(stored);
}

int admin_auth_load_admin(struct store_conn *c, int64_t admin_id, struct admin_identity *id)
{
    struct store_val p[] = {STORE_INT(admin_id)};
    struct store_rows *r = NULL;
    int rc;

    rc = store_query(c,
                     "SELECT a.username, a.is_super, a.must_change_password, r.name, "
                     "r.is_builtin, r.permissions FROM admins a LEFT JOIN roles r ON "
                     "r.id = a.role_id WHERE a.id = $1",
                     p, 1, &r);
    if (rc == 0 && (rc = store_rows_next(r)) == 0)
        rc = PARLEY_EAUTH;
    if (rc == 1) {
        id->kind = ADMIN_ACTOR_ADMIN;
        id->id = admin_id;
        strlcpy_p(id->name, store_rows_text(r, 0), sizeof(id->name));
        id->is_super = store_rows_int(r, 1) != 0;
        id->must_change_password = store_rows_int(r, 2) != 0;
        if (store_rows_is_null(r, 3))
            id->perms = id->is_super ? rbac_all() : rbac_network_admin_set();
        else
            id->perms =
                role_perms(store_rows_text(r, 3), store_rows_int(r, 4) != 0, store_rows_text(r, 5));
        rc = 0;
    }
    store_rows_free(r);
    return rc;
}

int admin_auth_session(struct store_conn *c, const struct config *cfg, const char *cookie,
                       const char *csrf, bool need_csrf, struct admin_identity *id)
{
    char h[ADMIN_HASH_LEN + 1], ch[ADMIN_HASH_LEN + 1];
    struct store_val p[1];
    struct store_rows *r = NULL;
    int64_t now = (int64_t)time(NULL), admin_id = 0;
    int rc;

    admin_hash(cookie, h);
    p[0] = STORE_TEXT(h);
    rc = store_query(c,
                     "SELECT admin_id, csrf_hash, last_seen, expires_at FROM admin_sessions "
                     "WHERE token_hash = $1",
                     p, 1, &r);
    if (rc == 0 && (rc = store_rows_next(r)) == 0)
        rc = PARLEY_EAUTH;
    if (rc == 1) {
        rc = 0;
        admin_id = store_rows_int(r, 0);
        if (now >= store_rows_int(r, 3) ||
            now - store_rows_int(r, 2) > (int64_t)cfg->admin_session_idle_minutes * 60)
            rc = PARLEY_EAUTH;
        else if (need_csrf) {
            if (!csrf || !*csrf)
                rc = PARLEY_EPERM;
            else {
                admin_hash(csrf, ch);
                if (ct_memcmp(ch, store_rows_text(r, 1), ADMIN_HASH_LEN) != 0)
                    rc = PARLEY_EPERM;
            }
        }
    }
    store_rows_free(r);
    if (rc < 0)
        return rc;
    {
        struct store_val u[] = {STORE_INT(now), STORE_TEXT(h)};
        rc = store_exec(c, "UPDATE admin_sessions SET last_seen = $1 WHERE token_hash = $2", u, 2,
                        NULL);
    }
    if (rc == 0)
        rc = admin_auth_load_admin(c, admin_id, id);
    if (rc == 0) {
        id->via_cookie = true;
        memcpy(id->session_hash, h, sizeof(h));
    }
    return rc;
}

int admin_auth_token(struct store_conn *c, const char *token, struct admin_identity *id)
{
    char h[ADMIN_HASH_LEN + 1];
    struct store_val p[1];
    struct store_rows *r = NULL;
    int rc;

    admin_hash(token, h);
    p[0] = STORE_TEXT(h);
    rc = store_query(c,
                     "SELECT id, label, scope, network_id, permissions FROM api_tokens WHERE "
                     "token_hash = $1 AND revoked_at IS NULL",
                     p, 1, &r);
    if (rc == 0 && (rc = store_rows_next(r)) == 0)
        rc = PARLEY_EAUTH;
    if (rc == 1) {
        id->kind = ADMIN_ACTOR_TOKEN;
        id->id = store_rows_int(r, 0);
        strlcpy_p(id->name, store_rows_text(r, 1), sizeof(id->name));
        id->is_super = strcmp(store_rows_text(r, 2), "deployment") == 0;
        id->token_network = id->is_super ? 0 : store_rows_int(r, 3);
        id->perms = rbac_set_from_text(store_rows_text(r, 4));
        rc = 0;
    }
    store_rows_free(r);
    if (rc == 0) {
        struct store_val u[] = {STORE_INT((int64_t)time(NULL)), STORE_INT(id->id)};
        rc = store_exec(c, "UPDATE api_tokens SET last_used = $1 WHERE id = $2", u, 2, NULL);
    }
    return rc;
}

int admin_auth_session_new(struct store_conn *c, const struct config *cfg, int64_t admin_id,
                           const char *ip, char cookie[ADMIN_SECRET_LEN + 1],
                           char csrf[ADMIN_SECRET_LEN + 1])
{
    char h[ADMIN_HASH_LEN + 1], ch[ADMIN_HASH_LEN + 1];
    int64_t now = (int64_t)time(NULL);
    int rc;

    if ((rc = admin_secret_new(cookie)) < 0 || (rc = admin_secret_new(csrf)) < 0)
        return rc;
    admin_hash(cookie, h);
    admin_hash(csrf, ch);
    rc = store_begin(c);
    if (rc < 0)
        return rc;
    {
        /* One active session per administrator: a new sign-in ends the old. */
        struct store_val d[] = {STORE_INT(admin_id)};
        struct store_val p[] = {
            STORE_TEXT(h),  STORE_INT(admin_id),
            STORE_TEXT(ch), STORE_INT(now),
            STORE_INT(now), STORE_INT(now + (int64_t)cfg->admin_session_max_hours * 3600),
            STORE_TEXT(ip)};
        rc = store_exec(c, "DELETE FROM admin_sessions WHERE admin_id = $1", d, 1, NULL);
        if (rc == 0)
            rc = store_exec(c,
                            "INSERT INTO admin_sessions (token_hash, admin_id, csrf_hash, "
                            "created_at, last_seen, expires_at, ip) VALUES ($1, $2, $3, $4, $5, "
                            "$6, $7)",
                            p, ARRAY_SIZE(p), NULL);
    }
    if (rc == 0)
        return store_commit(c);
    store_rollback(c);
    return rc;
}

/* Sign-in attempts per IP in the current minute. A fixed table: when full,
 * the oldest window is reused, which can only forget an attacker's count
 * after a minute of more than RATE_SLOTS other addresses. */
#define RATE_SLOTS 1024
static struct rate_slot {
    char ip[64];
    time_t window;
    int count;
} rate_slots[RATE_SLOTS];

bool admin_auth_rate_ok(const struct config *cfg, const char *ip, time_t now)
{
    time_t window = now / 60;
    struct rate_slot *s = NULL, *oldest = &rate_slots[0];

    for (size_t i = 0; i < RATE_SLOTS && !s; i++) {
        if (strcmp(rate_slots[i].ip, ip) == 0)
            s = &rate_slots[i];
        else if (rate_slots[i].window < oldest->window)
            oldest = &rate_slots[i];
    }
    if (!s) {
        s = oldest;
        strlcpy_p(s->ip, ip, sizeof(s->ip));
        s->window = window;
        s->count = 0;
    }
    if (s->window != window) {
        s->window = window;
        s->count = 0;
    }
    return ++s->count <= cfg->admin_login_rate;
}

static void totp_init(void)
{
    static bool done;
    if (!done) {
        oath_init();
        done = true;
    }
}

int admin_totp_secret_new(char **base32)
{
    char raw[20], *out = NULL;
    size_t outlen = 0;

    totp_init();
    if (RAND_bytes((unsigned char *)raw, sizeof(raw)) != 1)
        return PARLEY_ECRYPTO;
    if (oath_base32_encode(raw, sizeof(raw), &out, &outlen) != OATH_OK) {
        OPENSSL_cleanse(raw, sizeof(raw));
        return PARLEY_ENOMEM;
    }
    OPENSSL_cleanse(raw, sizeof(raw));
    *base32 = out;
    return 0;
}

int admin_totp_check(const char *base32, const char *code, int64_t last_step, time_t now,
                     int64_t *step)
{
    char *raw = NULL;
    size_t rawlen = 0;
    int pos = 0, rc;
    uint64_t counter = 0;

    totp_init();
    if (!code || strlen(code) != ADMIN_TOTP_DIGITS ||
        strspn(code, "0123456789") != ADMIN_TOTP_DIGITS)
        return PARLEY_EINVAL;
    if (oath_base32_decode(base32, strlen(base32), &raw, &rawlen) != OATH_OK)
        return PARLEY_EINVAL;
    /* Flags 0 is HMAC-SHA1: liboath has no named constant for it. */
    rc = oath_totp_validate3(raw, rawlen, now, ADMIN_TOTP_STEP, 0, 1, &pos, &counter, code);
    OPENSSL_cleanse(raw, rawlen);
    free(raw);
    if (rc < 0 || (int64_t)counter <= last_step)
        return PARLEY_EAUTH;
    *step = (int64_t)counter;
    return 0;
}

/* The sealing key, read (or made) once. Loop thread only. */
static uint8_t seal_key[32];
static bool seal_key_loaded;

static int load_seal_key(const struct config *cfg)
{
    char path[4096];
    ssize_t n = -1;
    int fd, rc = 0;

    if (seal_key_loaded)
        return 0;
    snprintf(path, sizeof(path), "%s/admin.key", cfg->data_dir);
    fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0 && errno == ENOENT) {
        uint8_t k[32];
        fd = open(path, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0600);
        if (fd >= 0) {
            if (RAND_bytes(k, sizeof(k)) != 1 || write(fd, k, sizeof(k)) != (ssize_t)sizeof(k) ||
                fsync(fd) < 0)
                rc = PARLEY_ECONFIG;
            close(fd);
            OPENSSL_cleanse(k, sizeof(k));
            if (rc == 0)
                log_info("created the key that seals administrators' TOTP secrets: %s", path);
        }
        /* Made now, or by a racing request: read it back either way. */
        fd = rc == 0 ? open(path, O_RDONLY | O_CLOEXEC) : -1;
    }
    if (fd >= 0) {
        n = read(fd, seal_key, sizeof(seal_key));
        close(fd);
    }
    if (n != (ssize_t)sizeof(seal_key)) {
        log_error("cannot use '%s' (the key sealing TOTP secrets): it must hold 32 bytes", path);
        OPENSSL_cleanse(seal_key, sizeof(seal_key));
        return PARLEY_ECONFIG;
    }
    seal_key_loaded = true;
    return 0;
}

/* AES-256-GCM over `in` (len bytes) with the admin id as associated data;
 * `enc` selects the direction. `tag` is written (enc) or checked. */
static int gcm(bool enc, const char *aad, const uint8_t nonce[12], const uint8_t *in, size_t len,
               uint8_t *out, uint8_t tag[16])
{
    EVP_CIPHER_CTX *c = EVP_CIPHER_CTX_new();
    int n = 0, rc = PARLEY_ECRYPTO;

    if (!c || EVP_CipherInit_ex(c, EVP_aes_256_gcm(), NULL, seal_key, nonce, enc ? 1 : 0) != 1 ||
        EVP_CipherUpdate(c, NULL, &n, (const uint8_t *)aad, (int)strlen(aad)) != 1 ||
        EVP_CipherUpdate(c, out, &n, in, (int)len) != 1)
        goto out;
    if (!enc && EVP_CIPHER_CTX_ctrl(c, EVP_CTRL_GCM_SET_TAG, 16, tag) != 1)
        goto out;
    if (EVP_CipherFinal_ex(c, out + n, &n) != 1) {
        rc = enc ? PARLEY_ECRYPTO : PARLEY_EAUTH;
        goto out;
    }
    if (enc && EVP_CIPHER_CTX_ctrl(c, EVP_CTRL_GCM_GET_TAG, 16, tag) != 1)
        goto out;
    rc = 0;
out:
    EVP_CIPHER_CTX_free(c);
    return rc;
}

int admin_seal(const struct config *cfg, const char *aad, const char *plain, char *out,
               size_t outlen)
{
    uint8_t buf[12 + ADMIN_SEAL_PLAIN_MAX + 16];
    size_t len = strlen(plain);
    int rc;

    if (len > ADMIN_SEAL_PLAIN_MAX || outlen < 4 + 2 * (12 + len + 16))
        return PARLEY_ETOOBIG;
    if ((rc = load_seal_key(cfg)) < 0)
        return rc;
    if (RAND_bytes(buf, 12) != 1)
        return PARLEY_ECRYPTO;
    rc = gcm(true, aad, buf, (const uint8_t *)plain, len, buf + 12, buf + 12 + len);
    if (rc == 0) {
        memcpy(out, "v1:", 3);
        hex_encode(buf, 12 + len + 16, out + 3);
    }
    OPENSSL_cleanse(buf, sizeof(buf));
    return rc;
}

int admin_unseal(const struct config *cfg, const char *aad, const char *stored, char *out,
                 size_t outlen)
{
    uint8_t buf[12 + ADMIN_SEAL_PLAIN_MAX + 16];
    size_t hexlen, len;
    int rc;

    if (strncmp(stored, "v1:", 3) != 0)
        return PARLEY_EAUTH;
    hexlen = strlen(stored + 3);
    if (hexlen % 2 || hexlen / 2 < 12 + 16 || hexlen / 2 > sizeof(buf))
        return PARLEY_EAUTH;
    len = hexlen / 2 - 12 - 16;
    if (len >= outlen)
        return PARLEY_ETOOBIG;
    if (hex_decode(stored + 3, hexlen, buf, hexlen / 2) < 0)
        return PARLEY_EAUTH;
    if ((rc = load_seal_key(cfg)) < 0)
        return rc;
    rc = gcm(false, aad, buf, buf + 12, len, (uint8_t *)out, buf + 12 + len);
    out[rc == 0 ? len : 0] = 0;
    OPENSSL_cleanse(buf, sizeof(buf));
    return rc;
}

int admin_secret_seal(const struct config *cfg, int64_t admin_id, const char *plain, char *out,
                      size_t outlen)
{
    char aad[40];

    if (strlen(plain) > 64)
        return PARLEY_ETOOBIG;
    snprintf(aad, sizeof(aad), "parley-totp:%lld", (long long)admin_id);
    return admin_seal(cfg, aad, plain, out, outlen);
}

int admin_secret_open(const struct config *cfg, int64_t admin_id, const char *stored, char *out,
                      size_t outlen)
{
    char aad[40];

    if (strncmp(stored, "v1:", 3) != 0) {
        if (strlen(stored) >= outlen)
            return PARLEY_ETOOBIG;
        strlcpy_p(out, stored, outlen);
        return 0;
    }
    snprintf(aad, sizeof(aad), "parley-totp:%lld", (long long)admin_id);
    return admin_unseal(cfg, aad, stored, out, outlen);
}

/* RFC 3986 unreserved characters pass; everything else is %-encoded. */
static void uri_escape(struct buf *b, const char *s)
{
    for (; *s; s++) {
        unsigned char c = (unsigned char)*s;
        if ((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
            strchr("-._~", c))
            buf_append_byte(b, c);
        else
            buf_printf(b, "%%%02X", c);
    }
}

char *admin_totp_uri(const char *username, const char *base32)
{
    struct buf b;
    char *s;

    buf_init(&b, 4096);
    buf_append_str(&b, "otpauth://totp/Parley:");
    uri_escape(&b, username);
    buf_append_str(&b, "?secret=");
    buf_append_str(&b, base32);
    buf_append_str(&b, "&issuer=Parley&algorithm=SHA1&digits=6&period=30");
    buf_append_byte(&b, 0);
    s = xstrdup((const char *)b.data);
    buf_release_secure(&b);
    return s;
}

char *admin_qr_svg(const char *text)
{
    QRcode *q = QRcode_encodeString(text, 0, QR_ECLEVEL_M, QR_MODE_8, 1);
    const int quiet = 4;
    struct buf b;
    char *s;

    if (!q)
        return NULL;
    buf_init(&b, 1 << 20);
    buf_printf(&b,
               "<svg xmlns=\"http://www.w3.org/2000/svg\" viewBox=\"0 0 %d %d\" "
               "shape-rendering=\"crispEdges\"><rect width=\"100%%\" height=\"100%%\" "
               "fill=\"#fff\"/><path fill=\"#000\" d=\"",
               q->width + 2 * quiet, q->width + 2 * quiet);
    /* Bit 0 of each module byte is "dark" (qrencode.h). */
    for (int y = 0; y < q->width; y++)
        for (int x = 0; x < q->width; x++)
            if (q->data[y * q->width + x] & 1)
                buf_printf(&b, "M%d %dh1v1h-1z", x + quiet, y + quiet);
    buf_append_str(&b, "\"/></svg>");
    buf_append_byte(&b, 0);
    s = xstrdup((const char *)b.data);
    buf_release_secure(&b);
    QRcode_free(q);
    return s;
}
