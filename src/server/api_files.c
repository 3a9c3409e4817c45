/* api_files.c - encrypted files for clients. See api_files.h and
 * docs/client-protocol.md ("Files"). */
#include "api_files.h"
#include "api_client_util.h"
#include "common/log.h"
#include "common/str.h"
#include "common/xmalloc.h"
#include "proto/filecrypt.h"
#include "range.h"
#include "sgroup_settings.h"
#include "store.h"
#include "workq.h"

#include <fcntl.h>
#include <stdatomic.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/statvfs.h>
#include <unistd.h>

#include <openssl/rand.h>

#define ID_HEX (2 * KEYS_ID_LEN + 1)

/* What a check refused; the handler replies with it. */
struct file_err {
    int status;
    const char *code;
    char msg[256];
    int64_t received; /* 409 on an upload part: where to resume (-1: not sent) */
};

static int refuse(struct file_err *e, int status, const char *code, const char *fmt, ...)
    PARLEY_PRINTF(4, 5);
static int refuse(struct file_err *e, int status, const char *code, const char *fmt, ...)
{
    va_list ap;
    e->status = status;
    e->code = code;
    va_start(ap, fmt);
    vsnprintf(e->msg, sizeof(e->msg), fmt, ap);
    va_end(ap);
    return PARLEY_EINVAL; /* rolls a job back */
}

static void reply_err(struct http_req *req, const struct file_err *e)
{
    json_t *o = json_pack("{s:{s:s,s:s}}", "error", "code", e->code, "message", e->msg);
    if (e->received >= 0)
        json_object_set_new(o, "received", json_integer(e->received));
    http_reply_json(req, e->status, o);
}

/* ---- blobs on disk ------------------------------------------------------- */

static void files_dir(const struct server *srv, char *out, size_t n)
{
    snprintf(out, n, "%s/files", srv->cfg->data_dir);
}

static void blob_path(const struct server *srv, const uint8_t id[KEYS_ID_LEN], char *out, size_t n)
{
    char hex[ID_HEX];
    hex_encode(id, KEYS_ID_LEN, hex);
    snprintf(out, n, "%s/files/%s", srv->cfg->data_dir, hex);
}

/* Bytes of the blob on disk so far: an upload's progress. */
static int64_t blob_len(const struct server *srv, const uint8_t id[KEYS_ID_LEN])
{
    char path[PATH_MAX];
    struct stat st;
    blob_path(srv, id, path, sizeof(path));
    return stat(path, &st) == 0 ? (int64_t)st.st_size : 0;
}

/* A large socket buffer (`which`: SO_RCVBUF for an upload's connection).
 * Linux sizes receive buffers by the bytes an application takes per round
 * trip; on loopback and fast LANs the round trip is microseconds, the
 * buffer stays at its 128 KiB start, and the sender spends most of its
 * time waiting for window. A fixed size (capped by net.core.rmem_max) is
 * kernel memory, used only while data is queued. */
#define FILE_SOCKET_BUFFER (4 * 1024 * 1024)

static void socket_buffer(struct http_req *req, int which)
{
    int fd = lws_get_socket_fd(req->wsi), size = FILE_SOCKET_BUFFER;
    if (fd >= 0 && setsockopt(fd, SOL_SOCKET, which, &size, sizeof(size)) < 0)
        log_warn("cannot enlarge a file transfer's socket buffer");
}

/* ---- rows and rights ----------------------------------------------------- */

struct file_row {
    int64_t row, conv_row, uploader_row, size, max_bytes, stored, expires_at;
    int conv_type;
    bool complete, burn_on_read, in_vault;
    bool compliance; /* read by the network's compliance bot, not a member */
    uint8_t file_id[KEYS_ID_LEN], conv_id[KEYS_ID_LEN];
    char role[16]; /* the caller's role in the conversation ("" for the bot) */
};

/* The compliance bots that keep file `f`: the active bot of the
 * uploader's network and of every network with a member of the
 * conversation (users alias `u`). */
#define KEEPER_SQL                                                                                 \
    "u.is_compliance = 1 AND u.status = 'active' AND (u.network_id = f.network_id OR EXISTS "      \
    "(SELECT 1 FROM members hm JOIN users hu ON hu.id = hm.user_id WHERE hm.conv_id = "            \
    "f.conv_id AND hu.network_id = u.network_id))"

/* The time after which a file created is held for its compliance bots
 * once recalled, expired, burnt or deleted with its room, until each bot
 * has downloaded it (docs/retention.md, "Files held for the bot");
 * INT64_MAX when nothing is held. */
static int64_t hold_since(const struct server *srv, int64_t now)
{
    int days = srv->cfg->compliance_file_hold_days;
    return days > 0 ? now - (int64_t)days * 86400 : INT64_MAX;
}

/* A live file in a conversation the caller is a member of (whatever
 * network the uploader is in: local federation mixes them). When
 * `bot_since` is not 0, also for an active compliance bot: any live file
 * of a conversation with a member of its network, as it keeps a copy of
 * every attachment without being a member (docs/retention.md), and a
 * complete file created after `bot_since` that is no longer live, while
 * it is held for the bot (hold_since).
 * PARLEY_ENOTFOUND otherwise: whether a file exists is not told to those
 * who may not read it. */
static int load_file(struct store_conn *c, const uint8_t id[KEYS_ID_LEN],
                     const struct client_auth *a, int64_t bot_since, struct file_row *f)
{
    struct store_val p[] = {STORE_BLOB(id, KEYS_ID_LEN), STORE_INT(a->user_row),
                            STORE_INT((int64_t)time(NULL)), STORE_INT(bot_since != 0),
                            STORE_INT(bot_since)};
    struct store_rows *r = NULL;
    int rc = store_query(c,
                         "SELECT f.id, f.conv_id, f.uploader_id, f.size, f.max_bytes, f.stored, "
                         "f.expires_at, f.complete, f.burn_on_read, c.type, c.conv_id, "
                         "COALESCE(m.role, ''), f.in_vault, "
                         "CASE WHEN m.user_id IS NULL THEN 1 ELSE 0 END "
                         "FROM files f JOIN conversations c ON c.id = f.conv_id "
                         "LEFT JOIN members m ON m.conv_id = c.id AND m.user_id = $2 "
                         "WHERE f.file_id = $1 AND ((f.removed = 0 "
                         "AND c.deleted = 0 AND (f.expires_at = 0 OR f.expires_at > $3 "
                         "OR f.in_vault = 1) AND (m.user_id IS NOT NULL OR ($4 = 1 AND "
                         "EXISTS (SELECT 1 FROM users u JOIN members bm ON bm.conv_id = c.id "
                         "JOIN users mu ON mu.id = bm.user_id WHERE u.id = $2 "
                         "AND u.is_compliance = 1 AND u.status = 'active' "
                         "AND mu.network_id = u.network_id)))) "
                         "OR ($4 = 1 AND f.complete = 1 AND f.created_at > $5 AND EXISTS "
                         "(SELECT 1 FROM users u WHERE u.id = $2 AND " KEEPER_SQL ")))",
                         p, 5, &r);
    if (rc == 0 && (rc = store_rows_next(r)) == 1) {
        size_t bl;
        const uint8_t *cid = store_rows_blob(r, 10, &bl);
        f->row = store_rows_int(r, 0);
        f->conv_row = store_rows_int(r, 1);
        f->uploader_row = store_rows_int(r, 2);
        f->size = store_rows_int(r, 3);
        f->max_bytes = store_rows_int(r, 4);
        f->stored = store_rows_int(r, 5);
        f->expires_at = store_rows_int(r, 6);
        f->complete = store_rows_int(r, 7) != 0;
        f->burn_on_read = store_rows_int(r, 8) != 0;
        f->conv_type = (int)store_rows_int(r, 9);
        memcpy(f->file_id, id, KEYS_ID_LEN);
        memcpy(f->conv_id, cid, bl == KEYS_ID_LEN ? KEYS_ID_LEN : 0);
        strlcpy_p(f->role, store_rows_text(r, 11), sizeof(f->role));
        f->in_vault = store_rows_int(r, 12) != 0;
        f->compliance = store_rows_int(r, 13) != 0;
        rc = 0;
    } else if (rc == 0) {
        rc = PARLEY_ENOTFOUND;
    }
    store_rows_free(r);
    return rc;
}

/* The security-group settings of `user_row`, defaults filled in. */
static int user_settings(struct store_conn *c, int64_t user_row, json_t **out)
{
    struct store_val p[] = {STORE_INT(user_row)};
    int64_t group = 0;
    int rc = store_query_int(c,
                             "SELECT COALESCE(u.security_group_id, (SELECT id FROM security_groups "
                             "WHERE network_id = u.network_id AND is_default = 1 ORDER BY id "
                             "LIMIT 1), 0) FROM users u WHERE u.id = $1",
                             p, 1, &group);
    *out = NULL;
    if (rc == 0 && group)
        rc = sgroup_settings_get(c, group, out);
    if (rc == 0 && !*out)
        *out = sgroup_settings_fill(sgroup_settings, sgroup_settings_count, NULL);
    return rc;
}

static bool setting_bool(const json_t *s, const char *name)
{
    return json_is_true(json_object_get(s, name));
}

static int64_t setting_int(const json_t *s, const char *name)
{
    return json_integer_value(json_object_get(s, name));
}

/* The security group's limits for an upload of `size` bytes (size < 0:
 * a download, where only the toggle applies). */
static int check_policy(struct store_conn *c, int64_t user_row, int64_t size, json_t **settings,
                        struct file_err *e)
{
    json_t *s = NULL;
    int rc = user_settings(c, user_row, &s);
    if (rc < 0)
        return rc;
    if (!setting_bool(s, "file_attachments"))
        rc = refuse(e, 403, "forbidden",
                    "file attachments and voice memos are turned off for your security group "
                    "(setting file_attachments)");
    else if (size > setting_int(s, "max_upload_bytes"))
        rc = refuse(e, 413, "too_large",
                    "file is %" PRId64 " bytes; your security group allows at most %" PRId64
                    " bytes (setting max_upload_bytes)",
                    size, (int64_t)setting_int(s, "max_upload_bytes"));
    if (rc == 0 && settings)
        *settings = s;
    else
        json_decref(s);
    return rc;
}

static int path_file_id(struct http_req *req, uint8_t id[KEYS_ID_LEN])
{
    if (strlen(req->params[0]) != 2 * KEYS_ID_LEN ||
        hex_decode(req->params[0], 2 * KEYS_ID_LEN, id, KEYS_ID_LEN) < 0) {
        http_reply_error(req, 400, "bad_request",
                         "path segment 'file_id' must be 32 hex characters");
        return -1;
    }
    return 0;
}

static json_t *file_json(const struct server *srv, const struct file_row *f)
{
    int64_t received = f->complete ? f->stored : blob_len(srv, f->file_id);
    return json_pack("{s:o,s:o,s:I,s:I,s:I,s:b,s:I,s:b,s:b}", "file_id", api_json_id(f->file_id),
                     "conv_id", api_json_id(f->conv_id), "size", (json_int_t)f->size, "max_bytes",
                     (json_int_t)f->max_bytes, "received", (json_int_t)received, "complete",
                     f->complete, "expires_at", (json_int_t)f->expires_at, "burn_on_read",
                     f->burn_on_read, "in_vault", f->in_vault);
}

/* ---- create -------------------------------------------------------------- */

/* Whether the network has file management (the Files view) turned on. */
static int file_management_on(struct store_conn *c, int64_t network_row, bool *on)
{
    struct store_val p[] = {STORE_INT(network_row)};
    struct store_rows *r = NULL;
    int rc = store_query(c, "SELECT settings FROM network_options WHERE network_id = $1", p, 1, &r);
    *on = false;
    if (rc == 0 && (rc = store_rows_next(r)) == 1) {
        json_t *j = json_loads(store_rows_text(r, 0), 0, NULL);
        *on = json_is_true(json_object_get(j, "file_management"));
        json_decref(j);
        rc = 0;
    }
    store_rows_free(r);
    return rc;
}

/* Who may change a conversation's Files view: the network has file
 * management on; rooms and groups only; in a room its moderators (groups
 * have none: every member). */
static int check_vault_rights(struct store_conn *c, int64_t network_row, int conv_type,
                              const char *role, struct file_err *e)
{
    bool on;
    int rc = file_management_on(c, network_row, &on);
    if (rc < 0)
        return rc;
    if (!on)
        return refuse(e, 403, "forbidden",
                      "file management (the Files view) is turned off for this network "
                      "(network option file_management)");
    if (conv_type == 0)
        return refuse(e, 400, "bad_request",
                      "only rooms and groups have a Files view, not direct conversations");
    if (conv_type == 2 && strcmp(role, "moderator") != 0)
        return refuse(e, 403, "forbidden", "only the room's moderators change its Files view");
    return 0;
}

struct create_job {
    const struct client_auth *a;
    const struct api_body *b;
    struct server *srv;
    struct file_err err;
    struct file_row f;
    bool compression;
};

/* How long the blob is kept: what the client asked, else the
 * conversation's expiration, never beyond the uploader's security group's
 * max_expiration (messages live no longer). */
static int64_t keep_for(int64_t asked, int64_t conv_expiration, int64_t max_expiration)
{
    int64_t keep = asked > 0 ? asked : conv_expiration;
    if (keep <= 0 || (max_expiration > 0 && keep > max_expiration))
        keep = max_expiration;
    return keep;
}

static int create_write(struct store_conn *c, void *arg)
{
    struct create_job *j = arg;
    const struct api_body *b = j->b;
    int64_t size = b->v[1].i, now = (int64_t)time(NULL), conv_row = 0, conv_exp = 0, keep;
    struct store_rows *r = NULL;
    json_t *s = NULL;
    char dir[PATH_MAX];
    struct statvfs vfs;
    int rc;

    {
        struct store_val p[] = {STORE_BLOB(b->v[0].id, KEYS_ID_LEN), STORE_INT(j->a->user_row)};
        rc = store_query(c,
                         "SELECT c.id, c.expiration, c.type, m.role FROM conversations c "
                         "JOIN members m ON m.conv_id = c.id AND m.user_id = $2 "
                         "WHERE c.conv_id = $1 AND c.deleted = 0",
                         p, 2, &r);
        if (rc == 0 && (rc = store_rows_next(r)) == 1) {
            conv_row = store_rows_int(r, 0);
            conv_exp = store_rows_int(r, 1);
            j->f.conv_type = (int)store_rows_int(r, 2);
            strlcpy_p(j->f.role, store_rows_text(r, 3), sizeof(j->f.role));
            rc = 0;
        } else if (rc == 0) {
            rc = refuse(&j->err, 404, "not_found",
                        "field 'conv_id': no such conversation among yours");
        }
        store_rows_free(r);
        if (rc < 0)
            return rc;
    }
    j->f.in_vault = b->v[4].present && b->v[4].b;
    if (j->f.in_vault &&
        (rc = check_vault_rights(c, j->a->network_row, j->f.conv_type, j->f.role, &j->err)) < 0)
        return rc;
    rc = check_policy(c, j->a->user_row, size, &s, &j->err);
    if (rc < 0)
        return rc;
    j->compression = setting_bool(s, "file_compression");
    keep = keep_for(b->v[2].present ? b->v[2].i : 0, conv_exp, setting_int(s, "max_expiration"));
    json_decref(s);

    j->f.size = size;
    j->f.max_bytes = (int64_t)filecrypt_max_cipher((uint64_t)size);
    files_dir(j->srv, dir, sizeof(dir));
    if (mkdir(dir, 0700) < 0 && errno != EEXIST) {
        log_warn("cannot create '%s'", dir);
        return PARLEY_EIO;
    }
    if (statvfs(dir, &vfs) == 0 && (uint64_t)vfs.f_bavail * vfs.f_frsize < (uint64_t)j->f.max_bytes)
        return refuse(&j->err, 507, "insufficient_storage",
                      "the server has less than %" PRId64 " bytes of free space for this file; "
                      "ask an administrator",
                      j->f.max_bytes);

    if (RAND_bytes(j->f.file_id, KEYS_ID_LEN) != 1)
        return PARLEY_ECRYPTO;
    memcpy(j->f.conv_id, b->v[0].id, KEYS_ID_LEN);
    j->f.conv_row = conv_row;
    j->f.uploader_row = j->a->user_row;
    j->f.burn_on_read = b->v[3].present && b->v[3].b;
    j->f.expires_at = keep > 0 ? now + keep : 0;
    struct store_val p[] = {STORE_BLOB(j->f.file_id, KEYS_ID_LEN),
                            STORE_INT(j->a->network_row),
                            STORE_INT(conv_row),
                            STORE_INT(j->a->user_row),
                            STORE_INT(size),
                            STORE_INT(j->f.max_bytes),
                            STORE_INT(j->f.burn_on_read),
                            STORE_INT(now),
                            STORE_INT(j->f.expires_at),
                            STORE_INT(j->f.in_vault)};
    return store_exec(c,
                      "INSERT INTO files (file_id, network_id, conv_id, uploader_id, size, "
                      "max_bytes, burn_on_read, created_at, expires_at, in_vault) "
                      "VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10)",
                      p, ARRAY_SIZE(p), NULL);
}

void api_files_create(struct http_req *req)
{
    struct client_auth a;
    struct api_body b;
    struct create_job j = {.err.received = -1};
    int rc;

    if (api_auth(req, API_AUTH_DEVICE, &a) < 0)
        return;
    if (api_body_get(req, API_BODY_FILE_CREATE, &b) < 0)
        return;
    j.a = &a;
    j.b = &b;
    j.srv = req->srv;
    rc = store_write_sync(req->srv->store, create_write, &j);
    if (j.err.status) {
        reply_err(req, &j.err);
    } else if (rc < 0) {
        api_reply_store_error(req, rc);
    } else {
        json_t *o = file_json(req->srv, &j.f);
        json_object_set_new(o, "compression", json_boolean(j.compression));
        json_object_set_new(o, "chunk", json_integer(FILECRYPT_CHUNK));
        http_reply_json(req, 201, o);
    }
    api_body_release(&b);
}

/* ---- state ------------------------------------------------------------- */

/* Load the file of the request path for the caller, with a read
 * transaction; replies and returns -1 when it cannot. */
static int request_file(struct http_req *req, struct client_auth *a, struct file_row *f)
{
    struct store_conn *c = NULL;
    uint8_t id[KEYS_ID_LEN];
    int rc;

    if (api_auth(req, API_AUTH_DEVICE, a) < 0 || path_file_id(req, id) < 0)
        return -1;
    rc = store_conn_get(req->srv->store, &c);
    if (rc == 0)
        rc = store_begin_read(c);
    if (rc == 0) {
        rc = load_file(c, id, a, hold_since(req->srv, time(NULL)), f);
        store_commit(c);
    }
    if (c)
        store_conn_put(req->srv->store, c);
    if (rc == PARLEY_ENOTFOUND) {
        http_reply_error(req, 404, "not_found",
                         "no such file in your conversations (it may have expired or been "
                         "deleted)");
        return -1;
    }
    if (rc < 0) {
        api_reply_store_error(req, rc);
        return -1;
    }
    return 0;
}

void api_files_get(struct http_req *req)
{
    struct client_auth a;
    struct file_row f;

    if (request_file(req, &a, &f) < 0)
        return;
    http_reply_json(req, 200, file_json(req->srv, &f));
}

/* ---- upload parts -------------------------------------------------------- */

/* One PUT in progress. A newer PUT of the same file supersedes an older one
 * (a client that reconnected while the server still holds its old
 * connection), so that two writers never interleave. */
struct upload {
    struct upload *next;
    struct server *srv;
    uint8_t file_id[KEYS_ID_LEN];
    int64_t file_row, user_row;
    int fd;
    uint64_t off, end, total; /* off: bytes received, buffered or written */
    bool has_total, superseded, failed;
    struct file_err err;
    /* The body arrives a TLS record (16 KiB) at a time; it goes to the blob
     * in UPLOAD_BUF writes, a sixteenth of the system calls. */
    uint8_t *buf;
    size_t buf_len;
};

#define UPLOAD_BUF (256 * 1024)

static struct upload *uploads; /* loop thread only */

/* Write the buffered bytes, which end at u->off. */
static void upload_flush(struct upload *u)
{
    const uint8_t *p = u->buf;
    uint64_t at = u->off - u->buf_len;

    while (u->buf_len > 0) {
        ssize_t n = pwrite(u->fd, p, u->buf_len, (off_t)at);
        if (n < 0 && errno == EINTR)
            continue;
        if (n <= 0) {
            log_warn("cannot write an upload's blob");
            u->failed = true;
            refuse(&u->err, errno == ENOSPC ? 507 : 500,
                   errno == ENOSPC ? "insufficient_storage" : "internal_error",
                   "the server could not store the part (%s); resume later",
                   errno == ENOSPC ? "disk full" : "write error");
            u->buf_len = 0;
            return;
        }
        p += n;
        u->buf_len -= (size_t)n;
        at += (uint64_t)n;
    }
}

static void upload_unlist(struct upload *u)
{
    for (struct upload **pp = &uploads; *pp; pp = &(*pp)->next)
        if (*pp == u) {
            *pp = u->next;
            return;
        }
}

static void on_upload_release(struct http_req *req)
{
    struct upload *u = req->stream;
    if (!u)
        return;
    upload_unlist(u);
    /* A part cut short keeps what arrived: the client resumes after it. */
    if (u->fd >= 0 && !u->superseded && !u->failed)
        upload_flush(u);
    if (u->fd >= 0)
        close(u->fd);
    free(u->buf);
    free(u);
}

static void on_upload_body(struct http_req *req, const void *data, size_t len)
{
    struct upload *u = req->stream;
    const uint8_t *p = data;

    if (u->superseded || u->failed)
        return;
    if (len > u->end - u->off) {
        u->failed = true;
        refuse(&u->err, 400, "bad_request", "the body is longer than its Content-Range");
        return;
    }
    while (len > 0 && !u->failed) {
        size_t take = UPLOAD_BUF - u->buf_len < len ? UPLOAD_BUF - u->buf_len : len;
        memcpy(u->buf + u->buf_len, p, take);
        u->buf_len += take;
        u->off += take;
        p += take;
        len -= take;
        if (u->buf_len == UPLOAD_BUF)
            upload_flush(u);
    }
}

/* The end of the last part: the blob goes to disk (fdatasync) and the row
 * is marked complete, on a worker thread (workq.h), as a sync of a large
 * blob takes as long as the disk needs to write it and would stall every
 * other connection of the loop. The job owns the descriptor: the request
 * may be gone when it finishes. */
struct complete_job {
    struct http_pending *pending;
    struct server *srv;
    int fd;
    int64_t file_row;
    uint64_t total;
    int rc; /* 0, PARLEY_EIO (sync), or the store's error */
};

static int complete_write(struct store_conn *c, void *arg)
{
    struct complete_job *j = arg;
    struct store_val p[] = {STORE_INT(j->file_row), STORE_INT((int64_t)j->total)};
    return store_exec(c, "UPDATE files SET complete = 1, stored = $2 WHERE id = $1", p, 2, NULL);
}

/* The blob must be on disk before the file is announced complete (the
 * client then sends the message). */
static void complete_work(void *arg)
{
    struct complete_job *j = arg;
    if (fdatasync(j->fd) < 0) {
        log_warn("cannot sync an upload's blob");
        j->rc = PARLEY_EIO;
        return;
    }
    j->rc = store_write_sync(j->srv->store, complete_write, j);
}

static void complete_reply(struct http_req *req, const struct complete_job *j)
{
    if (j->rc == PARLEY_EIO)
        http_reply_error(req, 500, "internal_error", "the server could not store the file");
    else if (j->rc < 0)
        api_reply_store_error(req, j->rc);
    else
        http_reply_json(req, 200,
                        json_pack("{s:I,s:b}", "received", (json_int_t)j->total, "complete", 1));
}

static void complete_done(void *arg)
{
    struct complete_job *j = arg;
    struct http_req *req = http_resume(j->pending);

    close(j->fd);
    if (req) /* else the client left; it asks for the state when it is back */
        complete_reply(req, j);
    free(j);
}

static void on_upload_end(struct http_req *req)
{
    struct upload *u = req->stream;
    struct complete_job *j;

    if (u->superseded) {
        refuse(&u->err, 409, "conflict", "a newer upload of this file took over");
        u->err.received = blob_len(u->srv, u->file_id);
        reply_err(req, &u->err);
        return;
    }
    if (!u->failed)
        upload_flush(u);
    if (u->failed) {
        reply_err(req, &u->err);
        return;
    }
    if (u->off != u->end) {
        refuse(&u->err, 400, "bad_request", "the body is shorter than its Content-Range");
        u->err.received = (int64_t)u->off;
        reply_err(req, &u->err);
        return;
    }
    if (!u->has_total || u->end != u->total) {
        http_reply_json(req, 200,
                        json_pack("{s:I,s:b}", "received", (json_int_t)u->off, "complete", 0));
        return;
    }
    j = xcalloc(1, sizeof(*j));
    j->srv = u->srv;
    j->fd = u->fd;
    j->file_row = u->file_row;
    j->total = u->total;
    u->fd = -1; /* the job's now */
    j->pending = http_defer(req);
    if (workq_submit(complete_work, complete_done, j) == 0)
        return;
    /* Every worker is taken and the queue is full: sync here rather than
     * fail an upload that has all its bytes. */
    http_resume(j->pending);
    complete_work(j);
    complete_reply(req, j);
    close(j->fd);
    free(j);
}

/* The checks of a part, before any of its bytes are read. */
static int check_part(struct http_req *req, const struct client_auth *a, struct file_row *f,
                      const struct content_range *cr, struct file_err *e)
{
    struct store_conn *c = NULL;
    int64_t received;
    int rc = store_conn_get(req->srv->store, &c);

    if (rc == 0)
        rc = store_begin_read(c);
    if (rc == 0) {
        uint8_t id[KEYS_ID_LEN];
        memcpy(id, f->file_id, KEYS_ID_LEN);
        rc = load_file(c, id, a, 0, f);
        if (rc == PARLEY_ENOTFOUND)
            rc = refuse(e, 404, "not_found",
                        "no such file in your conversations (it may have expired or been "
                        "deleted)");
        else if (rc == 0 && f->uploader_row != a->user_row)
            rc = refuse(e, 403, "forbidden", "only the user who created an upload sends its parts");
        else if (rc == 0 && f->complete)
            rc = refuse(e, 409, "conflict", "the upload is already complete");
        else if (rc == 0)
            rc = check_policy(c, a->user_row, f->size, NULL, e);
        store_commit(c);
    }
    if (c)
        store_conn_put(req->srv->store, c);
    if (rc < 0)
        return rc;
    if (cr->last >= (uint64_t)f->max_bytes || (cr->has_total && cr->total > (uint64_t)f->max_bytes))
        return refuse(e, 413, "too_large",
                      "Content-Range goes beyond %" PRId64 " bytes, the most a file of %" PRId64
                      " bytes takes encrypted",
                      f->max_bytes, f->size);
    received = blob_len(req->srv, f->file_id);
    if ((int64_t)cr->first != received) {
        rc = refuse(e, 409, "conflict",
                    "the upload is at byte %" PRId64 "; send the part that starts there", received);
        e->received = received;
        return rc;
    }
    return 0;
}

void api_files_put(struct http_req *req)
{
    struct client_auth a;
    struct file_row f;
    struct content_range cr;
    struct file_err e = {.received = -1};
    char hdr[128], path[PATH_MAX], err[160];
    int64_t clen;
    struct upload *u;
    int fd;

    if (api_auth(req, API_AUTH_DEVICE, &a) < 0 || path_file_id(req, f.file_id) < 0)
        return;
    if (lws_hdr_copy(req->wsi, hdr, sizeof(hdr), WSI_TOKEN_HTTP_CONTENT_RANGE) <= 0) {
        http_reply_error(req, 400, "bad_request",
                         "header 'Content-Range: bytes FIRST-LAST/TOTAL' is required (TOTAL may "
                         "be '*' until the last part)");
        return;
    }
    if (content_range_parse(hdr, &cr, err, sizeof(err)) < 0) {
        http_reply_error(req, 400, "bad_request", "%s", err);
        return;
    }
    if (lws_hdr_copy(req->wsi, hdr, sizeof(hdr), WSI_TOKEN_HTTP_CONTENT_LENGTH) <= 0 ||
        str_to_i64(hdr, 0, INT64_MAX, &clen) < 0 || (uint64_t)clen != cr.last - cr.first + 1) {
        http_reply_error(req, 400, "bad_request",
                         "header 'Content-Length' must be the part's length, LAST - FIRST + 1 "
                         "of its Content-Range");
        return;
    }
    if (check_part(req, &a, &f, &cr, &e) < 0) {
        if (e.status)
            reply_err(req, &e);
        else
            api_reply_store_error(req, PARLEY_ESTORE);
        return;
    }
    socket_buffer(req, SO_RCVBUF);
    blob_path(req->srv, f.file_id, path, sizeof(path));
    fd = open(path, O_WRONLY | O_CREAT | O_CLOEXEC, 0600);
    if (fd < 0) {
        log_warn("cannot open '%s'", path);
        http_reply_error(req, 500, "internal_error", "the server could not store the file");
        return;
    }
    for (struct upload *o = uploads; o; o = o->next)
        if (memcmp(o->file_id, f.file_id, KEYS_ID_LEN) == 0)
            o->superseded = true;
    u = xcalloc(1, sizeof(*u));
    u->srv = req->srv;
    memcpy(u->file_id, f.file_id, KEYS_ID_LEN);
    u->file_row = f.row;
    u->user_row = a.user_row;
    u->fd = fd;
    u->buf = xmalloc(UPLOAD_BUF);
    u->off = cr.first;
    u->end = cr.last + 1;
    u->total = cr.total;
    u->has_total = cr.has_total;
    u->err.received = -1;
    u->next = uploads;
    uploads = u;
    req->stream = u;
    req->on_release = on_upload_release;
    req->on_body = on_upload_body;
    req->on_body_end = on_upload_end;
}

/* ---- download ------------------------------------------------------------ */

struct download {
    struct server *srv;
    int fd;
    uint64_t pos, end; /* next byte to send; one past the last */
    bool to_the_end;   /* the range reaches the file's last byte */
    int64_t file_row, user_row;
};

static ssize_t produce_download(struct http_req *req, uint8_t *buf, size_t cap)
{
    struct download *d = req->stream;
    size_t want = cap;
    ssize_t n;

    if (want > d->end - d->pos)
        want = (size_t)(d->end - d->pos);
    do
        n = pread(d->fd, buf, want, (off_t)d->pos);
    while (n < 0 && errno == EINTR);
    if (n <= 0) {
        log_warn("cannot read a file's blob at %" PRIu64, d->pos);
        return -1;
    }
    d->pos += (uint64_t)n;
    return n;
}

struct downloaded_job {
    int64_t file_row, user_row;
};

/* Burn-on-read: a file goes once every member but its uploader, and the
 * network's active compliance bot, has downloaded it to the end. */
static int downloaded_write(struct store_conn *c, void *arg)
{
    struct downloaded_job *j = arg;
    struct store_val p[] = {STORE_INT(j->file_row), STORE_INT(j->user_row)};
    int rc = store_exec(c,
                        "INSERT INTO file_downloads (file_id, user_id) VALUES ($1, $2) "
                        "ON CONFLICT (file_id, user_id) DO NOTHING",
                        p, 2, NULL);
    if (rc < 0)
        return rc;
    return store_exec(c,
                      "UPDATE files SET removed = 1 WHERE id = $1 AND burn_on_read = 1 AND "
                      "NOT EXISTS (SELECT 1 FROM members m WHERE m.conv_id = files.conv_id "
                      "AND m.user_id <> files.uploader_id AND NOT EXISTS (SELECT 1 FROM "
                      "file_downloads d WHERE d.file_id = files.id AND d.user_id = m.user_id)) "
                      "AND NOT EXISTS (SELECT 1 FROM users u WHERE u.network_id = "
                      "files.network_id AND u.is_compliance = 1 AND u.status = 'active' AND "
                      "NOT EXISTS (SELECT 1 FROM file_downloads d WHERE d.file_id = files.id "
                      "AND d.user_id = u.id))",
                      p, 1, NULL);
}

static void free_job(void *arg, int rc)
{
    if (rc < 0)
        log_warnx("cannot record a download: %s", parley_strerror(rc));
    free(arg);
}

static void on_download_release(struct http_req *req)
{
    struct download *d = req->stream;
    if (!d)
        return;
    if (d->to_the_end && d->pos == d->end && req->method == HTTP_GET) {
        struct downloaded_job *j = xmalloc(sizeof(*j));
        j->file_row = d->file_row;
        j->user_row = d->user_row;
        if (store_submit(d->srv->store, downloaded_write, free_job, j) < 0)
            free(j);
    }
    close(d->fd);
    free(d);
}

void api_files_data(struct http_req *req)
{
    struct client_auth a;
    struct file_row f;
    struct file_err e = {.received = -1};
    struct store_conn *c = NULL;
    struct range rg = {0, 0};
    struct download *d;
    char hdr[128], path[PATH_MAX], cr[96];
    enum range_result rr = RANGE_IGNORE;
    uint64_t size;
    int fd, rc;

    if (request_file(req, &a, &f) < 0)
        return;
    /* The security group's toggle is for people; the compliance bot keeps
     * every attachment sent in its network. */
    rc = f.compliance ? 0 : store_conn_get(req->srv->store, &c);
    if (rc == 0 && !f.compliance) {
        rc = check_policy(c, a.user_row, -1, NULL, &e);
        store_conn_put(req->srv->store, c);
    }
    if (e.status) {
        reply_err(req, &e);
        return;
    }
    if (rc < 0) {
        api_reply_store_error(req, rc);
        return;
    }
    if (!f.complete) {
        http_reply_error(req, 409, "conflict",
                         "the upload of this file has not finished; try again later");
        return;
    }
    size = (uint64_t)f.stored;
    if (lws_hdr_copy(req->wsi, hdr, sizeof(hdr), WSI_TOKEN_HTTP_RANGE) > 0)
        rr = range_parse(hdr, size, &rg);
    if (rr == RANGE_UNSATISFIABLE) {
        snprintf(cr, sizeof(cr), "bytes */%" PRIu64, size);
        http_add_header(req, "content-range", cr);
        http_reply_error(req, 416, "range_not_satisfiable",
                         "the range starts at or after the end of the file (%" PRIu64 " bytes)",
                         size);
        return;
    }
    if (rr == RANGE_IGNORE) {
        rg.first = 0;
        rg.last = size - 1;
    }
    blob_path(req->srv, f.file_id, path, sizeof(path));
    fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0) {
        log_warn("cannot open '%s'", path);
        http_reply_error(req, 404, "not_found", "the file is gone");
        return;
    }
    d = xcalloc(1, sizeof(*d));
    d->srv = req->srv;
    d->fd = fd;
    d->pos = rg.first;
    d->end = rg.last + 1;
    d->to_the_end = rg.last + 1 == size;
    d->file_row = f.row;
    d->user_row = a.user_row;
    req->stream = d;
    req->on_release = on_download_release;
    req->produce = produce_download;
    http_add_header(req, "accept-ranges", "bytes");
    if (rr == RANGE_OK) {
        snprintf(cr, sizeof(cr), "bytes %" PRIu64 "-%" PRIu64 "/%" PRIu64, rg.first, rg.last, size);
        http_add_header(req, "content-range", cr);
    }
    http_reply_stream(req, rr == RANGE_OK ? 206 : 200, "application/octet-stream", d->end - d->pos);
}

/* ---- delete -------------------------------------------------------------- */

struct delete_job {
    const struct client_auth *a;
    uint8_t file_id[KEYS_ID_LEN];
    struct file_err err;
};

static int delete_write(struct store_conn *c, void *arg)
{
    struct delete_job *j = arg;
    struct file_row f;
    int rc = load_file(c, j->file_id, j->a, 0, &f);

    if (rc == PARLEY_ENOTFOUND)
        return refuse(&j->err, 404, "not_found",
                      "no such file in your conversations (it may have expired or been "
                      "deleted)");
    if (rc < 0)
        return rc;
    if (f.uploader_row != j->a->user_row && strcmp(f.role, "moderator") != 0)
        return refuse(&j->err, 403, "forbidden",
                      "only the file's uploader or a moderator of its room may delete it");
    struct store_val p[] = {STORE_INT(f.row)};
    return store_exec(c, "UPDATE files SET removed = 1 WHERE id = $1", p, 1, NULL);
}

void api_files_delete(struct http_req *req)
{
    struct client_auth a;
    struct delete_job j = {.err.received = -1};
    int rc;

    if (api_auth(req, API_AUTH_DEVICE, &a) < 0 || path_file_id(req, j.file_id) < 0)
        return;
    j.a = &a;
    rc = store_write_sync(req->srv->store, delete_write, &j);
    if (j.err.status)
        reply_err(req, &j.err);
    else if (rc < 0)
        api_reply_store_error(req, rc);
    else {
        http_reply_json(req, 200, json_object());
        files_sweep(req->srv); /* the blob goes now, not at the next tick */
    }
}

/* ---- the Files view ------------------------------------------------------ */

struct vault_job {
    const struct client_auth *a;
    uint8_t file_id[KEYS_ID_LEN];
    bool save;
    struct file_err err;
};

static int vault_write(struct store_conn *c, void *arg)
{
    struct vault_job *j = arg;
    struct file_row f;
    int rc = load_file(c, j->file_id, j->a, 0, &f);

    if (rc == PARLEY_ENOTFOUND)
        return refuse(&j->err, 404, "not_found",
                      "no such file in your conversations (it may have expired or been "
                      "deleted)");
    if (rc < 0 || (rc = check_vault_rights(c, j->a->network_row, f.conv_type, f.role, &j->err)) < 0)
        return rc;
    if (!f.complete)
        return refuse(&j->err, 409, "conflict", "the upload of this file has not finished");
    struct store_val p[] = {STORE_INT(f.row), STORE_INT(j->save)};
    return store_exec(c, "UPDATE files SET in_vault = $2 WHERE id = $1", p, 2, NULL);
}

static void vault_set(struct http_req *req, bool save)
{
    struct client_auth a;
    struct vault_job j = {.err.received = -1, .save = save};
    int rc;

    if (api_auth(req, API_AUTH_DEVICE, &a) < 0 || path_file_id(req, j.file_id) < 0)
        return;
    j.a = &a;
    rc = store_write_sync(req->srv->store, vault_write, &j);
    if (j.err.status)
        reply_err(req, &j.err);
    else if (rc < 0)
        api_reply_store_error(req, rc);
    else
        http_reply_json(req, 200, json_pack("{s:b}", "in_vault", save));
}

void api_files_vault_save(struct http_req *req)
{
    vault_set(req, true);
}

void api_files_vault_remove(struct http_req *req)
{
    vault_set(req, false);
}

/* ---- the sweep ----------------------------------------------------------- */

#define SWEEP_BATCH 256

struct sweep_job {
    char dir[PATH_MAX];
    int64_t hold_since; /* hold_since() */
};

static atomic_bool sweep_running;

static int sweep_write(struct store_conn *c, void *arg)
{
    struct sweep_job *j = arg;
    int64_t now = (int64_t)time(NULL), rows[SWEEP_BATCH];
    uint8_t ids[SWEEP_BATCH][KEYS_ID_LEN];
    struct store_val p[] = {STORE_INT(now), STORE_INT(now - FILES_ABANDONED_S),
                            STORE_INT(SWEEP_BATCH), STORE_INT(j->hold_since)};
    struct store_rows *r = NULL;
    size_t n = 0;
    /* Files no longer live, unless held for a compliance bot that has not
     * downloaded them yet, and uploads abandoned half way. */
    int rc = store_query(c,
                         "SELECT f.id, f.file_id FROM files f "
                         "LEFT JOIN conversations c ON c.id = f.conv_id "
                         "WHERE ((f.removed = 1 "
                         "OR (f.in_vault = 0 AND f.expires_at > 0 AND f.expires_at <= $1) "
                         "OR c.id IS NULL OR c.deleted = 1) AND NOT (f.complete = 1 "
                         "AND f.created_at > $4 AND EXISTS (SELECT 1 FROM users u WHERE " KEEPER_SQL
                         " AND NOT EXISTS (SELECT 1 FROM file_downloads d WHERE d.file_id = f.id "
                         "AND d.user_id = u.id)))) "
                         "OR (f.complete = 0 AND f.created_at <= $2) LIMIT $3",
                         p, 4, &r);
    while (rc == 0 && n < SWEEP_BATCH && (rc = store_rows_next(r)) == 1) {
        size_t bl;
        const uint8_t *id = store_rows_blob(r, 1, &bl);
        rc = 0;
        if (bl != KEYS_ID_LEN)
            continue;
        rows[n] = store_rows_int(r, 0);
        memcpy(ids[n++], id, KEYS_ID_LEN);
    }
    store_rows_free(r);
    if (rc < 0)
        return rc;
    for (size_t i = 0; i < n && rc == 0; i++) {
        char hex[ID_HEX], path[PATH_MAX + ID_HEX + 2];
        struct store_val q[] = {STORE_INT(rows[i])};
        hex_encode(ids[i], KEYS_ID_LEN, hex);
        snprintf(path, sizeof(path), "%s/%s", j->dir, hex);
        /* The blob first: a crash before the row goes leaves the row, and
         * the next pass finds it again. */
        if (unlink(path) < 0 && errno != ENOENT) {
            log_warn("cannot remove '%s'", path);
            continue;
        }
        rc = store_exec(c, "DELETE FROM file_downloads WHERE file_id = $1", q, 1, NULL);
        if (rc == 0)
            rc = store_exec(c, "DELETE FROM files WHERE id = $1", q, 1, NULL);
    }
    if (n)
        log_info("removed %zu file(s) that expired or were deleted", n);
    return rc;
}

static void sweep_done(void *arg, int rc)
{
    if (rc < 0)
        log_warnx("file sweep failed: %s", parley_strerror(rc));
    free(arg);
    atomic_store(&sweep_running, false);
}

void files_sweep(struct server *srv)
{
    struct sweep_job *j;

    if (atomic_exchange(&sweep_running, true))
        return;
    j = xcalloc(1, sizeof(*j));
    files_dir(srv, j->dir, sizeof(j->dir));
    j->hold_since = hold_since(srv, (int64_t)time(NULL));
    if (store_submit(srv->store, sweep_write, sweep_done, j) < 0)
        sweep_done(j, 0);
}
