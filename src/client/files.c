/* files.c - sending and receiving encrypted files (parley_file_*).
 *
 * Sending: the file is sealed record by record (src/proto/filecrypt.h)
 * under a fresh key, PART_RECORDS records to a part, and each part is one
 * PUT with a Content-Range; only the last part names the total, which
 * deflated records make unknown until then. The key and the upload's id
 * are kept in the local state (encrypted) under a name derived from the
 * file's path, size, modification time and conversation, so sending the
 * same file again after a crash asks the server how far it got and goes on
 * from there: sealing is deterministic, so the bytes are the same again.
 * When the upload is complete, the file message (msgtype 6000) carries the
 * key to the conversation inside an ordinary envelope.
 *
 * Receiving: one GET with a Range from where the last attempt stopped; the
 * ciphertext is opened record by record as it arrives and written to
 * OUT.part, which is renamed to OUT once the final record checked out.
 *
 * Memory: two parts (2 x PART_RECORDS MiB: one sent while the next is
 * sealed, on a thread of its own) when sending; when receiving, two 1 MiB
 * buffers between curl and the thread that opens the records, and one
 * record; whatever the file's size. */
#include "client.h"
#include "common/str.h"
#include "msgtypes.h"
#include "proto/filecrypt.h"

#include <fcntl.h>
#include <libgen.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <unistd.h>

#include <openssl/crypto.h>
#include <openssl/rand.h>
#include <openssl/sha.h>

#define PART_RECORDS   16
#define RETRY_MAX      6
#define SAVE_EVERY     64 /* records between saves of a download's progress */
#define ERR_BODY_MAX   (64 * 1024)
#define KEY_HEX        (2 * FILECRYPT_KEY_LEN + 1)
#define STATE_NAME_MAX 80

static void say(const struct parley_file_opts *o, const char *fmt, ...) PARLEY_PRINTF(2, 3);
static void say(const struct parley_file_opts *o, const char *fmt, ...)
{
    va_list ap;
    if (!o || !o->error || !o->error_len)
        return;
    va_start(ap, fmt);
    vsnprintf(o->error, o->error_len, fmt, ap);
    va_end(ap);
}

/* The server's explanation of a refusal, for the user. */
static void say_resp(const struct parley_file_opts *o, json_t *resp, int rc)
{
    const char *m = json_string_value(json_object_get(json_object_get(resp, "error"), "message"));
    if (m)
        say(o, "%s", m);
    else
        say(o, "%s", parley_strerror(rc));
}

static int progress(const struct parley_file_opts *o, uint64_t done, uint64_t total)
{
    if (o && o->progress && o->progress(o->progress_arg, done, total) != 0)
        return PARLEY_ECANCELED;
    return 0;
}

/* One API call keeping the answer whatever the status. */
static int request(struct parley_client *c, const char *method, const char *path, json_t *body,
                   json_t **resp)
{
    long status;
    int rc = api_request(&c->api, method, path, c->device_token, body, &status, resp);
    return rc < 0 ? rc : api_status_error(status, *resp);
}

/* ---- a curl handle kept across parts (one TLS connection) --------------- */

struct xfer {
    CURL *cu;
    struct curl_slist *hdrs;
    char auth[API_MAX_TOKEN + 32];
    struct buf err; /* an error answer's body */
    long status;
};

/* Large socket buffers for a file's connection. Linux grows a buffer with
 * the bytes taken per round trip, which on loopback and fast LANs (round
 * trips of microseconds) leaves it near its 128 KiB start and the sender
 * waiting for window; a fixed size is capped by net.core.rmem_max and
 * wmem_max, and is kernel memory used only while data is queued. */
#define XFER_SOCKET_BUFFER (4 * 1024 * 1024)

static int on_socket(void *arg, curl_socket_t fd, curlsocktype purpose)
{
    int size = XFER_SOCKET_BUFFER;
    (void)arg;
    if (purpose == CURLSOCKTYPE_IPCXN) {
        (void)setsockopt(fd, SOL_SOCKET, SO_RCVBUF, &size, sizeof(size));
        (void)setsockopt(fd, SOL_SOCKET, SO_SNDBUF, &size, sizeof(size));
    }
    return CURL_SOCKOPT_OK;
}

static int xfer_init(struct parley_client *c, struct xfer *x)
{
    memset(x, 0, sizeof(*x));
    buf_init(&x->err, ERR_BODY_MAX);
    x->cu = curl_easy_init();
    if (!x->cu)
        return PARLEY_ENOMEM;
    snprintf(x->auth, sizeof(x->auth), "Authorization: Bearer %s", c->device_token);
    api_curl_pin(&c->api, x->cu);
    /* Large transfers: fewer, larger reads and writes (curl's defaults
     * are 16 KiB down and 64 KiB up). */
    curl_easy_setopt(x->cu, CURLOPT_BUFFERSIZE, 512L * 1024);
    curl_easy_setopt(x->cu, CURLOPT_UPLOAD_BUFFERSIZE, 2L * 1024 * 1024);
    curl_easy_setopt(x->cu, CURLOPT_SOCKOPTFUNCTION, on_socket);
    /* A stalled transfer (no byte for 30 s) is a lost connection. */
    curl_easy_setopt(x->cu, CURLOPT_LOW_SPEED_LIMIT, 1L);
    curl_easy_setopt(x->cu, CURLOPT_LOW_SPEED_TIME, 30L);
    return 0;
}

static void xfer_release(struct xfer *x)
{
    curl_slist_free_all(x->hdrs);
    if (x->cu)
        curl_easy_cleanup(x->cu);
    OPENSSL_cleanse(x->auth, sizeof(x->auth));
    buf_release(&x->err);
}

/* Request headers: the token and `extra` (may be NULL). */
static int xfer_headers(struct xfer *x, const char *extra, const char *extra2)
{
    const char *lines[] = {x->auth, "Expect:", extra, extra2};
    curl_slist_free_all(x->hdrs);
    x->hdrs = NULL;
    for (size_t i = 0; i < ARRAY_SIZE(lines); i++) {
        struct curl_slist *h;
        if (!lines[i])
            continue;
        if (!(h = curl_slist_append(x->hdrs, lines[i])))
            return PARLEY_ENOMEM;
        x->hdrs = h;
    }
    curl_easy_setopt(x->cu, CURLOPT_HTTPHEADER, x->hdrs);
    return 0;
}

static size_t on_err_body(char *p, size_t size, size_t n, void *arg)
{
    struct buf *b = arg;
    if (buf_append(b, p, size * n) < 0)
        return 0;
    return size * n;
}

/* The error answer of the last transfer, parsed (NULL if not JSON). */
static json_t *xfer_err_json(struct xfer *x)
{
    json_t *j = NULL;
    if (x->err.len)
        api_parse((const char *)x->err.data, x->err.len, &j);
    return j;
}

/* ---- sending ------------------------------------------------------------- */

struct upload {
    struct parley_client *c;
    const struct parley_file_opts *o;
    int fd;
    uint64_t size;
    char file_id[PARLEY_ID_HEX];
    uint8_t key[FILECRYPT_KEY_LEN];
    bool compress;
    bool vault; /* straight into the conversation's Files view */
    /* The state of one part. */
    uint64_t part_plain_start, part_plain_len;
    size_t part_len;
};

/* The local-state name of an upload of this file to this conversation. */
static void state_name(const char *abspath, const char *conv, const struct stat *st,
                       char out[STATE_NAME_MAX])
{
    uint8_t d[SHA256_DIGEST_LENGTH];
    char hex[2 * SHA256_DIGEST_LENGTH + 1];
    struct buf b = BUF_INIT(PATH_MAX + 256);

    if (buf_printf(&b, "parley upload v1\n%s\n%s\n%lld\n%lld.%09ld", abspath, conv,
                   (long long)st->st_size, (long long)st->st_mtim.tv_sec, st->st_mtim.tv_nsec) < 0)
        buf_reset(&b);
    SHA256(b.data, b.len, d);
    hex_encode(d, 16, hex);
    snprintf(out, STATE_NAME_MAX, "upload:%s", hex);
    buf_release(&b);
}

static int state_save(struct parley_client *c, const char *name, const struct upload *u)
{
    char key[KEY_HEX];
    json_t *j;
    char *s;
    int rc;

    hex_encode(u->key, FILECRYPT_KEY_LEN, key);
    j = json_pack("{s:s,s:s,s:b}", "file_id", u->file_id, "key", key, "compress", u->compress);
    s = j ? json_dumps(j, JSON_COMPACT) : NULL;
    OPENSSL_cleanse(key, sizeof(key));
    json_decref(j);
    if (!s)
        return PARLEY_ENOMEM;
    pthread_mutex_lock(&c->mu);
    rc = lstore_secret_put(c->st, name, (const uint8_t *)s, strlen(s));
    pthread_mutex_unlock(&c->mu);
    OPENSSL_cleanse(s, strlen(s));
    free(s);
    return rc;
}

/* 0 and the upload's id and key, or PARLEY_ENOTFOUND. */
static int state_load(struct parley_client *c, const char *name, struct upload *u)
{
    struct buf b = BUF_INIT(4096);
    json_t *j = NULL;
    const char *id, *key;
    int rc;

    pthread_mutex_lock(&c->mu);
    rc = lstore_secret_get(c->st, name, &b);
    pthread_mutex_unlock(&c->mu);
    if (rc == 0) {
        j = json_loadb((const char *)b.data, b.len, 0, NULL);
        id = json_string_value(json_object_get(j, "file_id"));
        key = json_string_value(json_object_get(j, "key"));
        if (!id || strlen(id) != 2 * KEYS_ID_LEN || !key ||
            hex_decode(key, strlen(key), u->key, FILECRYPT_KEY_LEN) < 0)
            rc = PARLEY_ENOTFOUND; /* unreadable: start again */
        else {
            memcpy(u->file_id, id, PARLEY_ID_HEX);
            u->compress = json_is_true(json_object_get(j, "compress"));
        }
    }
    json_decref(j);
    buf_release_secure(&b);
    return rc;
}

static void state_forget(struct parley_client *c, const char *name)
{
    pthread_mutex_lock(&c->mu);
    lstore_secret_delete(c->st, name);
    pthread_mutex_unlock(&c->mu);
}

/* Read exactly `len` plaintext bytes at `off`. */
static int read_at(int fd, uint8_t *p, size_t len, uint64_t off)
{
    while (len > 0) {
        ssize_t n = pread(fd, p, len, (off_t)off);
        if (n < 0 && errno == EINTR)
            continue;
        if (n <= 0)
            return PARLEY_EIO; /* an error, or the file shrank */
        p += n;
        len -= (size_t)n;
        off += (uint64_t)n;
    }
    return 0;
}

/* Seal record `index` of the file into out. */
static int seal_record(struct upload *u, struct filecrypt *fc, uint8_t *chunk, uint64_t index,
                       uint8_t *out, size_t *out_len)
{
    uint64_t n = filecrypt_records(u->size), off = index * FILECRYPT_CHUNK;
    size_t len = index + 1 < n ? FILECRYPT_CHUNK : (size_t)(u->size - off);
    int rc = read_at(u->fd, chunk, len, off);
    if (rc == 0)
        rc = filecrypt_seal(fc, index, index + 1 == n, u->compress, chunk, len, out, out_len);
    return rc;
}

/* Where the ciphertext byte `received` lies: its record and the offset in
 * it. Without deflate every record but the last has the same length; with
 * it, the records before are sealed again (and sent nowhere) to learn
 * their lengths. */
static int locate(struct upload *u, struct filecrypt *fc, uint8_t *chunk, uint8_t *rec,
                  uint64_t received, uint64_t *index, size_t *skip)
{
    uint64_t off = 0, n = filecrypt_records(u->size);

    if (!u->compress) {
        *index = received / FILECRYPT_RECORD_MAX;
        *skip = (size_t)(received % FILECRYPT_RECORD_MAX);
        return *index < n ? 0 : PARLEY_EPROTO;
    }
    for (uint64_t i = 0; i < n; i++) {
        size_t len;
        int rc = seal_record(u, fc, chunk, i, rec, &len);
        if (rc < 0)
            return rc;
        if (off + len > received) {
            *index = i;
            *skip = (size_t)(received - off);
            return 0;
        }
        off += len;
    }
    return PARLEY_EPROTO; /* the server holds more than the file makes */
}

static int on_up_progress(void *arg, curl_off_t dltotal, curl_off_t dlnow, curl_off_t ultotal,
                          curl_off_t ulnow)
{
    struct upload *u = arg;
    uint64_t done = u->part_plain_start;
    (void)dltotal;
    (void)dlnow;
    if (ultotal > 0 && u->part_len)
        done += u->part_plain_len * (uint64_t)ulnow / u->part_len;
    return progress(u->o, done, u->size) < 0;
}

/* ---- sealing one part ahead --------------------------------------------
 * A thread seals the next part while curl sends this one, so that the
 * cipher and the network (TLS, the kernel) run on two cores at once. Two
 * part buffers: the one being sent, the one being sealed. */

struct sealer {
    struct upload *u;
    struct filecrypt fc;
    uint8_t *chunk;
    pthread_t thread;
    bool started;
    pthread_mutex_t mu;
    pthread_cond_t cv;
    bool busy, quit; /* a job posted and not finished; the thread should end */
    /* The job: seal from record `index` (its first `skip` bytes dropped:
     * the server has them) into `part`, PART_RECORDS records at most. */
    uint8_t *part;
    uint64_t index;
    size_t skip;
    /* Its result. */
    uint64_t next; /* the record after the part */
    size_t len;
    int rc;
};

static int seal_part(struct sealer *s)
{
    uint64_t n = filecrypt_records(s->u->size), index = s->index;
    size_t len = 0, rl;
    int rc = 0;

    for (int r = 0; rc == 0 && r < PART_RECORDS && index < n; r++, index++) {
        rc = seal_record(s->u, &s->fc, s->chunk, index, s->part + len, &rl);
        if (rc == 0 && r == 0 && s->skip) { /* the server has the start of this record */
            memmove(s->part, s->part + s->skip, rl - s->skip);
            rl -= s->skip;
        }
        len += rl;
    }
    s->next = index;
    s->len = len;
    return rc;
}

static void *sealer_main(void *arg)
{
    struct sealer *s = arg;

    pthread_mutex_lock(&s->mu);
    for (;;) {
        while (!s->busy && !s->quit)
            pthread_cond_wait(&s->cv, &s->mu);
        if (!s->busy)
            break;
        pthread_mutex_unlock(&s->mu);
        int rc = seal_part(s);
        pthread_mutex_lock(&s->mu);
        s->rc = rc;
        s->busy = false;
        pthread_cond_broadcast(&s->cv);
    }
    pthread_mutex_unlock(&s->mu);
    return NULL;
}

static void sealer_post(struct sealer *s, uint8_t *part, uint64_t index, size_t skip)
{
    pthread_mutex_lock(&s->mu);
    s->part = part;
    s->index = index;
    s->skip = skip;
    s->busy = true;
    pthread_cond_broadcast(&s->cv);
    pthread_mutex_unlock(&s->mu);
}

/* Wait for the posted job; its result. */
static int sealer_wait(struct sealer *s)
{
    int rc;
    pthread_mutex_lock(&s->mu);
    while (s->busy)
        pthread_cond_wait(&s->cv, &s->mu);
    rc = s->rc;
    pthread_mutex_unlock(&s->mu);
    return rc;
}

static int sealer_start(struct sealer *s, struct upload *u)
{
    int rc;

    memset(s, 0, sizeof(*s));
    s->u = u;
    pthread_mutex_init(&s->mu, NULL);
    pthread_cond_init(&s->cv, NULL);
    if (!(s->chunk = malloc(FILECRYPT_CHUNK)))
        return PARLEY_ENOMEM;
    if ((rc = filecrypt_init(&s->fc, u->key)) < 0)
        return rc;
    if (pthread_create(&s->thread, NULL, sealer_main, s) != 0)
        return PARLEY_ENOMEM;
    s->started = true;
    return 0;
}

/* Finish the job in hand, if any, end the thread and wipe. */
static void sealer_stop(struct sealer *s)
{
    if (s->started) {
        pthread_mutex_lock(&s->mu);
        s->quit = true;
        pthread_cond_broadcast(&s->cv);
        pthread_mutex_unlock(&s->mu);
        pthread_join(s->thread, NULL);
    }
    filecrypt_release(&s->fc);
    if (s->chunk)
        OPENSSL_cleanse(s->chunk, FILECRYPT_CHUNK);
    free(s->chunk);
    pthread_cond_destroy(&s->cv);
    pthread_mutex_destroy(&s->mu);
}

/* Send the file from ciphertext byte *received to the end. On return
 * *received is where the server is. Returns 0 (complete), PARLEY_EBUSY
 * (the server is elsewhere: call again), PARLEY_EIO (network: retry),
 * another error (give up). */
static int upload_from(struct upload *u, struct xfer *x, uint64_t *received)
{
    struct sealer s;
    uint64_t n = filecrypt_records(u->size), index = 0;
    uint8_t *parts[2] = {malloc(PART_RECORDS * (size_t)FILECRYPT_RECORD_MAX),
                         malloc(PART_RECORDS * (size_t)FILECRYPT_RECORD_MAX)};
    char url[700], range[128];
    size_t skip = 0;
    int rc, cur = 0;

    rc = sealer_start(&s, u);
    if (rc == 0 && (!parts[0] || !parts[1]))
        rc = PARLEY_ENOMEM;
    if (rc == 0)
        rc = locate(u, &s.fc, s.chunk, parts[0], *received, &index, &skip);
    if (rc == 0 && index < n)
        sealer_post(&s, parts[0], index, skip);
    snprintf(url, sizeof(url), "%s/api/v1/client/files/%s", u->c->api.base, u->file_id);
    while (rc == 0 && index < n) {
        json_t *resp = NULL;
        uint8_t *part = parts[cur];
        size_t len;

        if ((rc = sealer_wait(&s)) < 0)
            break;
        len = s.len;
        u->part_plain_start = index * FILECRYPT_CHUNK;
        index = s.next;
        if (index < n) /* the next part, sealed while this one goes */
            sealer_post(&s, parts[1 - cur], index, 0);
        u->part_plain_len = (index < n ? index * FILECRYPT_CHUNK : u->size) - u->part_plain_start;
        u->part_len = len;
        if (index == n)
            snprintf(range, sizeof(range), "Content-Range: bytes %llu-%llu/%llu",
                     (unsigned long long)*received, (unsigned long long)(*received + len - 1),
                     (unsigned long long)(*received + len));
        else
            snprintf(range, sizeof(range), "Content-Range: bytes %llu-%llu/*",
                     (unsigned long long)*received, (unsigned long long)(*received + len - 1));
        if ((rc = xfer_headers(x, range, "Content-Type: application/octet-stream")) < 0)
            break;
        buf_reset(&x->err);
        curl_easy_setopt(x->cu, CURLOPT_URL, url);
        curl_easy_setopt(x->cu, CURLOPT_CUSTOMREQUEST, "PUT");
        curl_easy_setopt(x->cu, CURLOPT_POSTFIELDS, part);
        curl_easy_setopt(x->cu, CURLOPT_POSTFIELDSIZE_LARGE, (curl_off_t)len);
        curl_easy_setopt(x->cu, CURLOPT_WRITEFUNCTION, on_err_body);
        curl_easy_setopt(x->cu, CURLOPT_WRITEDATA, &x->err);
        curl_easy_setopt(x->cu, CURLOPT_NOPROGRESS, 0L);
        curl_easy_setopt(x->cu, CURLOPT_XFERINFOFUNCTION, on_up_progress);
        curl_easy_setopt(x->cu, CURLOPT_XFERINFODATA, u);
        CURLcode cc = curl_easy_perform(x->cu);
        if (cc == CURLE_ABORTED_BY_CALLBACK) {
            rc = PARLEY_ECANCELED;
            break;
        }
        if (cc != CURLE_OK) {
            rc = PARLEY_EIO;
            break;
        }
        curl_easy_getinfo(x->cu, CURLINFO_RESPONSE_CODE, &x->status);
        resp = xfer_err_json(x);
        if (x->status == 200) {
            json_t *got = json_object_get(resp, "received");
            if (!json_is_integer(got) || (uint64_t)json_integer_value(got) != *received + len)
                rc = PARLEY_EPROTO;
            else
                *received += len;
        } else if (x->status == 409 && json_is_integer(json_object_get(resp, "received"))) {
            *received = (uint64_t)json_integer_value(json_object_get(resp, "received"));
            rc = PARLEY_EBUSY;
        } else {
            rc = api_status_error(x->status, resp);
            if (rc == 0 || x->status >= 500)
                rc = PARLEY_EIO;
            say_resp(u->o, resp, rc);
        }
        json_decref(resp);
        if (rc == 0 &&
            (rc = progress(u->o, index < n ? index * FILECRYPT_CHUNK : u->size, u->size)) < 0)
            break;
        cur = 1 - cur;
    }
    sealer_stop(&s);
    free(parts[0]);
    free(parts[1]);
    return rc;
}

/* Ask the server how far an upload got. Returns 0, PARLEY_ENOTFOUND (gone),
 * or an error. */
static int upload_state(struct upload *u, uint64_t *received, bool *complete)
{
    char path[128];
    json_t *resp = NULL;
    int rc;

    snprintf(path, sizeof(path), "/api/v1/client/files/%s", u->file_id);
    rc = request(u->c, "GET", path, NULL, &resp);
    if (rc == 0) {
        json_t *r = json_object_get(resp, "received"), *s = json_object_get(resp, "size");
        if (!json_is_integer(r) || !json_is_integer(s) ||
            (uint64_t)json_integer_value(s) != u->size)
            rc = PARLEY_ENOTFOUND; /* not this file's upload: start again */
        else {
            *received = (uint64_t)json_integer_value(r);
            *complete = json_is_true(json_object_get(resp, "complete"));
        }
    }
    json_decref(resp);
    return rc;
}

/* A new upload for conversation `lc`. In a conversation with burn-on-read
 * on, the file burns too: the server removes it once every other member
 * has downloaded it. */
static int upload_create(struct upload *u, const struct lstore_conv *lc)
{
    json_t *body, *resp = NULL;
    const char *id;
    int rc;

    if (RAND_bytes(u->key, FILECRYPT_KEY_LEN) != 1)
        return PARLEY_ECRYPTO;
    body = json_pack("{s:s,s:I,s:b,s:b}", "conv_id", lc->conv_id, "size", (json_int_t)u->size,
                     "vault", u->vault, "burn_on_read", !u->vault && lc->burn_on_read > 0);
    if (!body)
        return PARLEY_ENOMEM;
    rc = request(u->c, "POST", "/api/v1/client/files", body, &resp);
    json_decref(body);
    if (rc < 0) {
        say_resp(u->o, resp, rc);
    } else {
        id = json_string_value(json_object_get(resp, "file_id"));
        if (!id || strlen(id) != 2 * KEYS_ID_LEN)
            rc = PARLEY_EPROTO;
        else {
            memcpy(u->file_id, id, PARLEY_ID_HEX);
            u->compress = json_is_true(json_object_get(resp, "compression"));
        }
    }
    json_decref(resp);
    return rc;
}

static json_t *file_payload(struct upload *u, const char *name, const struct parley_file_opts *o)
{
    char key[KEY_HEX], when[32];
    time_t now = time(NULL);
    struct tm tm;
    json_t *p;

    gmtime_r(&now, &tm);
    strftime(when, sizeof(when), "%Y-%m-%dT%H:%M:%SZ", &tm);
    hex_encode(u->key, FILECRYPT_KEY_LEN, key);
    p = json_pack("{s:i,s:{s:s,s:s,s:I,s:b,s:b,s:i,s:s,s:s,s:s,s:b}}", "msgtype", MSGTYPE_FILE,
                  "file", "filename", name, "guid", u->file_id, "size", (json_int_t)u->size,
                  "isscreenshot", o && o->is_screenshot, "isvoicememo", o && o->is_voice_memo,
                  "voicememoduration", o ? (int)o->voice_memo_duration_s : 0, "uploadedbyuser",
                  u->c->username, "uploadedtimestamp", when, "key", key, "compressed", u->compress);
    OPENSSL_cleanse(key, sizeof(key));
    return p;
}

/* Once the upload is complete: tell the conversation (a file message, or
 * a change of its Files view). */
typedef int (*announce_fn)(struct upload *u, const char *shown, void *arg);

/* Upload (or resume uploading) the file at `path` to conversation `to`,
 * then announce it. The local record of the upload goes once the
 * announcement is sent, so a failed announcement is retried by sending
 * again, without uploading again. */
static int send_file(struct parley_client *c, const char *to, const char *path,
                     const struct parley_file_opts *o, bool vault, announce_fn announce, void *arg)
{
    struct upload u = {.c = c, .o = o, .fd = -1, .vault = vault};
    struct lstore_conv lc = {0};
    struct xfer x = {0};
    struct stat st;
    uint8_t conv[KEYS_ID_LEN];
    char abspath[PATH_MAX], name[STATE_NAME_MAX], *base = NULL;
    const char *shown;
    uint64_t received = 0;
    bool complete = false;
    int rc;

    if (!c || !to || !path)
        return PARLEY_EINVAL;
    if (o && o->error && o->error_len)
        o->error[0] = 0;
    if (!realpath(path, abspath) || (u.fd = open(abspath, O_RDONLY | O_CLOEXEC)) < 0 ||
        fstat(u.fd, &st) < 0 || !S_ISREG(st.st_mode)) {
        say(o, "cannot read '%s': %s", path, errno ? strerror(errno) : "not a regular file");
        rc = PARLEY_EIO;
        goto out;
    }
    u.size = (uint64_t)st.st_size;
    if (u.size > FILECRYPT_MAX_SIZE) {
        say(o, "'%s' is %llu bytes; files may be at most %llu bytes", path,
            (unsigned long long)u.size, (unsigned long long)FILECRYPT_MAX_SIZE);
        rc = PARLEY_ETOOBIG;
        goto out;
    }
    if ((rc = client_resolve(c, to, conv, &lc)) < 0) {
        say(o, "no conversation '%s': %s", to, parley_strerror(rc));
        goto out;
    }
    base = strdup(abspath);
    if (!base) {
        rc = PARLEY_ENOMEM;
        goto out;
    }
    shown = o && o->name ? o->name : basename(base);
    state_name(abspath, lc.conv_id, &st, name);

    /* Resume what a previous attempt started, if the server still has it. */
    if (state_load(c, name, &u) == 0) {
        rc = upload_state(&u, &received, &complete);
        if (rc == PARLEY_ENOTFOUND) {
            state_forget(c, name);
            received = 0;
        } else if (rc < 0) {
            goto out;
        }
    } else {
        rc = PARLEY_ENOTFOUND;
    }
    if (rc == PARLEY_ENOTFOUND) {
        if ((rc = upload_create(&u, &lc)) < 0 || (rc = state_save(c, name, &u)) < 0)
            goto out;
    }
    if ((rc = xfer_init(c, &x)) < 0)
        goto out;
    for (int attempt = 0; !complete;) {
        rc = upload_from(&u, &x, &received);
        if (rc == 0)
            break;
        if (rc == PARLEY_EBUSY)
            continue; /* resynchronised with the server */
        if (rc != PARLEY_EIO || ++attempt > RETRY_MAX)
            break;
        /* Connection lost: wait (1, 2, 4 ... 32 s), then ask where to go on. */
        sleep(1u << (attempt - 1));
        int sr = upload_state(&u, &received, &complete);
        if (sr < 0 && sr != PARLEY_EIO) {
            rc = sr;
            break;
        }
    }
    if (rc == PARLEY_EIO && o && o->error && !o->error[0])
        say(o, "the connection to the server failed; send the file again to resume");
    if (rc < 0)
        goto out;
    rc = announce(&u, shown, arg);
    if (rc == 0)
        state_forget(c, name);
out:
    xfer_release(&x);
    OPENSSL_cleanse(u.key, sizeof(u.key));
    if (u.fd >= 0)
        close(u.fd);
    free(base);
    free(lc.title);
    return rc;
}

/* Drop the key from a payload that held it, and free it. */
static void payload_free(json_t *payload, const char *object)
{
    if (payload)
        json_object_del(json_object_get(payload, object), "key");
    json_decref(payload);
}

struct to_message {
    const char *to;
    char *msg_id;
};

static int announce_message(struct upload *u, const char *shown, void *arg)
{
    struct to_message *m = arg;
    json_t *payload = file_payload(u, shown, u->o);
    int rc;

    if (!payload) {
        say(u->o, "the file name must be UTF-8");
        return PARLEY_EINVAL;
    }
    rc = client_send_payload(u->c, m->to, payload, m->msg_id);
    if (rc < 0)
        say(u->o, "the file is uploaded but its message was not sent (%s); send it again",
            parley_strerror(rc));
    payload_free(payload, "file");
    return rc;
}

int parley_file_send(struct parley_client *c, const char *to, const char *path,
                     const struct parley_file_opts *o, char msg_id[PARLEY_ID_HEX])
{
    struct to_message m = {to, msg_id};
    return send_file(c, to, path, o, false, announce_message, &m);
}

/* ---- receiving ----------------------------------------------------------- */

struct file_msg {
    char guid[PARLEY_ID_HEX];
    uint8_t key[FILECRYPT_KEY_LEN];
    uint64_t size;
    bool compressed;
    char filename[256];
};

/* The file object of stored message `msg_id`. */
static int file_msg(struct parley_client *c, const char *msg_id, struct file_msg *f,
                    const struct parley_file_opts *o)
{
    struct buf b = BUF_INIT(LSTORE_MAX_BODY + 1);
    json_t *j = NULL, *file;
    const char *guid, *key;
    int mt = 0, rc;

    pthread_mutex_lock(&c->mu);
    rc = lstore_msg_body(c->st, msg_id, &mt, &b);
    pthread_mutex_unlock(&c->mu);
    if (rc == PARLEY_ENOTFOUND)
        say(o, "no message '%s' in the local history", msg_id);
    if (rc < 0)
        goto out;
    j = json_loads((const char *)b.data, 0, NULL);
    file = json_object_get(j, "file");
    guid = json_string_value(json_object_get(file, "guid"));
    key = json_string_value(json_object_get(file, "key"));
    if (mt != MSGTYPE_FILE || !guid || strlen(guid) != 2 * KEYS_ID_LEN || !key ||
        strlen(key) != 2 * FILECRYPT_KEY_LEN ||
        hex_decode(key, strlen(key), f->key, FILECRYPT_KEY_LEN) < 0 ||
        !json_is_integer(json_object_get(file, "size"))) {
        say(o, "message '%s' is not a file message", msg_id);
        rc = PARLEY_EINVAL;
        goto out;
    }
    memcpy(f->guid, guid, PARLEY_ID_HEX);
    strlcpy_p(f->filename, json_string_value(json_object_get(file, "filename")),
              sizeof(f->filename));
    f->size = (uint64_t)json_integer_value(json_object_get(file, "size"));
    f->compressed = json_is_true(json_object_get(file, "compressed"));
out:
    json_decref(j);
    buf_release_secure(&b);
    return rc;
}

/* Received ciphertext goes to an opener thread through two buffers: curl
 * (TLS) fills one while the opener checks, opens and writes the other, so
 * the two ciphers run on two cores. */
#define PIPE_BUF_LEN FILECRYPT_CHUNK

struct pipe {
    pthread_t thread;
    pthread_mutex_t mu;
    pthread_cond_t cv;
    uint8_t *buf[2];
    size_t len[2];
    bool full[2];
    int fill;  /* the buffer curl fills (its length is len[fill]) */
    bool eof;  /* nothing more comes: open what is left and stop */
    bool stop; /* stop now */
    int err;   /* the opener's error (or 0) */
};

struct download {
    struct parley_client *c;
    const struct parley_file_opts *o;
    struct filecrypt_reader r;
    struct xfer *x;
    struct pipe pipe;
    int fd;
    uint64_t size, from, shown; /* shown: the progress last reported */
    /* Whole records opened and written, and the ciphertext they took:
     * written by the opener, read under pipe.mu by the caller. */
    uint64_t index, cipher_off;
    char setting[64];
    int err; /* from the transfer (curl's thread), reported after curl returns */
};

static void save_progress(struct download *d)
{
    char v[64];
    snprintf(v, sizeof(v), "%llu %llu", (unsigned long long)d->index,
             (unsigned long long)d->cipher_off);
    pthread_mutex_lock(&d->c->mu);
    lstore_set(d->c->st, d->setting, v);
    pthread_mutex_unlock(&d->c->mu);
}

static int on_plain(void *arg, uint64_t index, const uint8_t *pt, size_t len)
{
    struct download *d = arg;
    uint64_t off = index * FILECRYPT_CHUNK;

    while (len > 0) {
        ssize_t n = pwrite(d->fd, pt, len, (off_t)off);
        if (n < 0 && errno == EINTR)
            continue;
        if (n <= 0) {
            say(d->o, "cannot write the file: %s", strerror(errno));
            return PARLEY_EIO;
        }
        pt += n;
        len -= (size_t)n;
        off += (uint64_t)n;
    }
    pthread_mutex_lock(&d->pipe.mu);
    d->index = index + 1;
    d->cipher_off += d->r.have; /* the record just opened */
    pthread_mutex_unlock(&d->pipe.mu);
    if (d->index % SAVE_EVERY == 0)
        save_progress(d);
    return 0;
}

/* The opener thread: feeds the filled buffers, in turn, to the reader. */
static void *opener_main(void *arg)
{
    struct download *d = arg;
    struct pipe *pp = &d->pipe;
    int take = 0;

    pthread_mutex_lock(&pp->mu);
    for (;;) {
        while (!pp->full[take] && !pp->eof && !pp->stop)
            pthread_cond_wait(&pp->cv, &pp->mu);
        if (pp->stop || !pp->full[take])
            break;
        const uint8_t *buf = pp->buf[take];
        size_t len = pp->len[take];
        bool failed = pp->err != 0;
        pthread_mutex_unlock(&pp->mu);
        int rc = failed ? 0 : filecrypt_reader_feed(&d->r, buf, len, on_plain, d);
        pthread_mutex_lock(&pp->mu);
        if (rc < 0 && !pp->err)
            pp->err = rc;
        pp->full[take] = false;
        take = 1 - take;
        pthread_cond_broadcast(&pp->cv);
    }
    pthread_mutex_unlock(&pp->mu);
    return NULL;
}

static int pipe_start(struct download *d)
{
    struct pipe *pp = &d->pipe;

    pp->fill = 0;
    pp->len[0] = pp->len[1] = 0;
    pp->full[0] = pp->full[1] = false;
    pp->eof = pp->stop = false;
    pp->err = 0;
    if (pthread_create(&pp->thread, NULL, opener_main, d) != 0)
        return PARLEY_ENOMEM;
    return 0;
}

/* Hand the buffer being filled to the opener; the opener's error, or 0. */
static int pipe_pass(struct pipe *pp)
{
    int rc;

    pthread_mutex_lock(&pp->mu);
    pp->full[pp->fill] = true;
    pp->fill = 1 - pp->fill;
    pthread_cond_broadcast(&pp->cv);
    while (pp->full[pp->fill] && !pp->err) /* the opener is still on the other */
        pthread_cond_wait(&pp->cv, &pp->mu);
    rc = pp->err;
    if (rc == 0) /* else the opener may still hold it, and it is not used */
        pp->len[pp->fill] = 0;
    pthread_mutex_unlock(&pp->mu);
    return rc;
}

/* Copy received bytes in; 0, or the opener's error. */
static int pipe_put(struct pipe *pp, const uint8_t *p, size_t len)
{
    while (len > 0) {
        size_t take = PIPE_BUF_LEN - pp->len[pp->fill];
        if (take > len)
            take = len;
        memcpy(pp->buf[pp->fill] + pp->len[pp->fill], p, take);
        pp->len[pp->fill] += take;
        p += take;
        len -= take;
        if (pp->len[pp->fill] == PIPE_BUF_LEN) {
            int rc = pipe_pass(pp);
            if (rc < 0)
                return rc;
        }
    }
    return 0;
}

/* End the opener: with `drain`, after it opened everything received (the
 * transfer ended); else as soon as it finishes the buffer in hand. Returns
 * the opener's error, or 0. */
static int pipe_stop(struct pipe *pp, bool drain)
{
    int rc;

    if (drain && pp->len[pp->fill] > 0)
        (void)pipe_pass(pp); /* an error is read below */
    pthread_mutex_lock(&pp->mu);
    pp->eof = true;
    pp->stop = !drain;
    pthread_cond_broadcast(&pp->cv);
    pthread_mutex_unlock(&pp->mu);
    pthread_join(pp->thread, NULL);
    rc = pp->err;
    return rc;
}

/* Bytes of plaintext written so far. */
static uint64_t opened(struct download *d)
{
    uint64_t i;
    pthread_mutex_lock(&d->pipe.mu);
    i = d->index;
    pthread_mutex_unlock(&d->pipe.mu);
    return i * FILECRYPT_CHUNK < d->size ? i * FILECRYPT_CHUNK : d->size;
}

static size_t on_cipher(char *p, size_t size, size_t n, void *arg)
{
    struct download *d = arg;
    size_t len = size * n;

    curl_easy_getinfo(d->x->cu, CURLINFO_RESPONSE_CODE, &d->x->status);
    if (d->x->status != 200 && d->x->status != 206)
        return on_err_body(p, size, n, &d->x->err);
    if (d->x->status == 200 && d->from) {
        /* The whole file to a range request: not what parleyd does. */
        d->err = PARLEY_EPROTO;
        return 0;
    }
    if ((d->err = pipe_put(&d->pipe, (const uint8_t *)p, len)) < 0)
        return 0;
    d->shown = opened(d);
    if ((d->err = progress(d->o, d->shown, d->size)) < 0)
        return 0;
    return size * n;
}

/* One GET from d->cipher_off. Returns 0 (the final record was read),
 * PARLEY_EIO (network: retry), or another error. */
static int download_from(struct download *d, const char *guid)
{
    char url[700], range[64];
    CURLcode cc;
    int rc;

    filecrypt_reader_restart(&d->r, d->index);
    snprintf(url, sizeof(url), "%s/api/v1/client/files/%s/data", d->c->api.base, guid);
    snprintf(range, sizeof(range), "Range: bytes=%llu-", (unsigned long long)d->cipher_off);
    if ((rc = xfer_headers(d->x, d->cipher_off ? range : NULL, NULL)) < 0)
        return rc;
    buf_reset(&d->x->err);
    d->err = 0;
    d->from = d->cipher_off;
    d->x->status = 0;
    curl_easy_setopt(d->x->cu, CURLOPT_URL, url);
    curl_easy_setopt(d->x->cu, CURLOPT_HTTPGET, 1L);
    curl_easy_setopt(d->x->cu, CURLOPT_WRITEFUNCTION, on_cipher);
    curl_easy_setopt(d->x->cu, CURLOPT_WRITEDATA, d);
    curl_easy_setopt(d->x->cu, CURLOPT_HEADERFUNCTION, NULL);
    if ((rc = pipe_start(d)) < 0)
        return rc;
    cc = curl_easy_perform(d->x->cu);
    curl_easy_getinfo(d->x->cu, CURLINFO_RESPONSE_CODE, &d->x->status);
    /* A complete transfer is opened to its end; after a failure, what the
     * opener finished counts and the rest is fetched again. */
    rc = pipe_stop(&d->pipe, cc == CURLE_OK && d->err == 0);
    if (d->err == 0 && rc < 0)
        d->err = rc;
    if (d->err < 0)
        return d->err;
    if (d->x->status && d->x->status != 200 && d->x->status != 206) {
        json_t *resp = xfer_err_json(d->x);
        rc = api_status_error(d->x->status, resp);
        if (rc == 0 || d->x->status >= 500)
            rc = PARLEY_EIO;
        say_resp(d->o, resp, rc);
        json_decref(resp);
        return rc;
    }
    if (cc != CURLE_OK)
        return PARLEY_EIO;
    rc = filecrypt_reader_finish(&d->r);
    if (rc < 0)
        say(d->o, "the file ended before its final chunk: it was truncated");
    else if (d->shown < d->size) /* the last record was opened after curl's last call */
        rc = progress(d->o, d->size, d->size);
    return rc;
}

/* Download file `f` into out_path; its progress is saved under
 * "download:<id>" for a later resume. */
static int download_file(struct parley_client *c, const struct file_msg *f, const char *id,
                         const char *out_path, const struct parley_file_opts *o)
{
    struct download d = {.c = c, .o = o, .fd = -1};
    struct xfer x = {0};
    char part[PATH_MAX], *saved = NULL;
    struct stat st;
    int rc;

    if ((size_t)snprintf(part, sizeof(part), "%s.part", out_path) >= sizeof(part))
        return PARLEY_EINVAL;
    d.size = f->size;
    d.x = &x;
    snprintf(d.setting, sizeof(d.setting), "download:%s", id);
    pthread_mutex_init(&d.pipe.mu, NULL);
    pthread_cond_init(&d.pipe.cv, NULL);
    d.pipe.buf[0] = malloc(PIPE_BUF_LEN);
    d.pipe.buf[1] = malloc(PIPE_BUF_LEN);
    if (!d.pipe.buf[0] || !d.pipe.buf[1]) {
        rc = PARLEY_ENOMEM;
        goto out;
    }
    if ((rc = filecrypt_reader_init(&d.r, f->key, 0)) < 0)
        goto out;
    d.fd = open(part, O_RDWR | O_CREAT | O_CLOEXEC, 0600);
    if (d.fd < 0 || fstat(d.fd, &st) < 0) {
        say(o, "cannot write '%s': %s", part, strerror(errno));
        rc = PARLEY_EIO;
        goto out;
    }
    /* Resume: whole records already written, from the saved progress or,
     * without deflate, from the file's length alone. */
    pthread_mutex_lock(&c->mu);
    if (lstore_get(c->st, d.setting, &saved) < 0)
        saved = NULL;
    pthread_mutex_unlock(&c->mu);
    if (saved) {
        unsigned long long i, off;
        if (sscanf(saved, "%llu %llu", &i, &off) == 2 &&
            i * FILECRYPT_CHUNK <= (unsigned long long)st.st_size) {
            d.index = i;
            d.cipher_off = off;
        }
    }
    if (!f->compressed && (uint64_t)st.st_size / FILECRYPT_CHUNK > d.index) {
        d.index = (uint64_t)st.st_size / FILECRYPT_CHUNK;
        d.cipher_off = d.index * FILECRYPT_RECORD_MAX;
    }
    if (d.index >= filecrypt_records(f->size)) { /* only whole non-final records count */
        d.index = 0;
        d.cipher_off = 0;
    }
    if (ftruncate(d.fd, (off_t)(d.index * FILECRYPT_CHUNK)) < 0) {
        rc = PARLEY_EIO;
        goto out;
    }
    if ((rc = xfer_init(c, &x)) < 0)
        goto out;
    curl_easy_setopt(x.cu, CURLOPT_NOPROGRESS, 1L);
    for (int attempt = 0;;) {
        rc = download_from(&d, f->guid);
        if (rc != PARLEY_EIO || ++attempt > RETRY_MAX)
            break;
        sleep(1u << (attempt - 1));
    }
    if (rc < 0) {
        save_progress(&d);
        if (rc == PARLEY_EAUTH)
            say(o, "the file failed its integrity check: it was changed, reordered or mixed "
                   "with another");
        goto out;
    }
    if (fsync(d.fd) < 0 || rename(part, out_path) < 0) {
        say(o, "cannot write '%s': %s", out_path, strerror(errno));
        rc = PARLEY_EIO;
        goto out;
    }
    pthread_mutex_lock(&c->mu);
    lstore_set(c->st, d.setting, "done");
    pthread_mutex_unlock(&c->mu);
out:
    free(saved);
    if (d.fd >= 0)
        close(d.fd);
    filecrypt_reader_release(&d.r);
    free(d.pipe.buf[0]);
    free(d.pipe.buf[1]);
    pthread_cond_destroy(&d.pipe.cv);
    pthread_mutex_destroy(&d.pipe.mu);
    xfer_release(&x);
    return rc;
}

int parley_file_get(struct parley_client *c, const char *msg_id, const char *out_path,
                    const struct parley_file_opts *o)
{
    struct file_msg f;
    int rc;

    if (!c || !msg_id || !out_path)
        return PARLEY_EINVAL;
    if (o && o->error && o->error_len)
        o->error[0] = 0;
    if ((rc = file_msg(c, msg_id, &f, o)) < 0)
        return rc;
    rc = download_file(c, &f, msg_id, out_path, o);
    OPENSSL_cleanse(&f, sizeof(f));
    return rc;
}

int parley_file_delete(struct parley_client *c, const char *msg_id)
{
    struct file_msg f;
    char path[128];
    json_t *resp = NULL;
    int rc;

    if (!c || !msg_id)
        return PARLEY_EINVAL;
    if ((rc = file_msg(c, msg_id, &f, NULL)) < 0)
        return rc;
    snprintf(path, sizeof(path), "/api/v1/client/files/%s", f.guid);
    OPENSSL_cleanse(&f, sizeof(f));
    rc = client_call(c, "DELETE", path, NULL, &resp);
    json_decref(resp);
    return rc;
}

/* ---- the Files view of rooms and groups ---------------------------------- *
 * A conversation's Files view is built by every member's client from room
 * control messages (4004 with changemask 64 and a "filevaultinfo" object),
 * so names, folders and keys stay end to end encrypted and the retention
 * log sees every change. The server only keeps saved files from expiring
 * (PUT/DELETE files/:id/vault) and checks who may change the view. Members
 * who join later see the changes made from then on. */

#define VAULT_FOLDER_MAX 512
#define VAULT_CHANGEMASK 64

/* "/", or "/a/b": no empty, "." or ".." segment, no trailing slash. */
static bool folder_ok(const char *f)
{
    size_t n = f ? strlen(f) : 0;
    if (n == 0 || n > VAULT_FOLDER_MAX || f[0] != '/')
        return false;
    if (n == 1)
        return true;
    for (const char *p = f; *p;) {
        const char *q = strchr(p + 1, '/');
        size_t seg = q ? (size_t)(q - p - 1) : strlen(p + 1);
        if (seg == 0 || (seg == 1 && p[1] == '.') || (seg == 2 && p[1] == '.' && p[2] == '.'))
            return false;
        p = q ? q : p + 1 + seg;
    }
    for (const char *p = f; *p; p++)
        if ((unsigned char)*p < 0x20)
            return false;
    return true;
}

static bool hex_id_ok(const char *s)
{
    uint8_t id[KEYS_ID_LEN];
    return s && strlen(s) == 2 * KEYS_ID_LEN && hex_decode(s, strlen(s), id, KEYS_ID_LEN) == 0;
}

struct vault_find {
    const char *item;
    json_t *found;
};

static int on_find(void *arg, const char *item, const char *json)
{
    struct vault_find *v = arg;
    if (strcmp(item, v->item) == 0)
        v->found = json_loads(json, 0, NULL);
    return 0;
}

void client_vault_apply(struct parley_client *c, const char *conv, json_t *fvi)
{
    const char *action = json_string_value(json_object_get(fvi, "action"));
    const char *guid = json_string_value(json_object_get(fvi, "guid"));
    const char *folder = json_string_value(json_object_get(fvi, "folder"));
    char item[VAULT_FOLDER_MAX + 8];
    char *s;

    if (!action)
        return;
    if (strcmp(action, "add") == 0) {
        const char *key = json_string_value(json_object_get(fvi, "key"));
        if (!hex_id_ok(guid) || !key || strlen(key) != 2 * FILECRYPT_KEY_LEN ||
            !json_is_string(json_object_get(fvi, "filename")) ||
            !json_is_integer(json_object_get(fvi, "size")) || (folder && !folder_ok(folder)))
            return;
        json_t *it = json_deep_copy(fvi);
        json_object_del(it, "action");
        if (!folder)
            json_object_set_new(it, "folder", json_string("/"));
        if ((s = json_dumps(it, JSON_COMPACT | JSON_SORT_KEYS))) {
            (void)lstore_vault_put(c->st, conv, guid, s);
            OPENSSL_cleanse(s, strlen(s));
            free(s);
        }
        json_decref(it);
    } else if (strcmp(action, "delete") == 0 && hex_id_ok(guid)) {
        (void)lstore_vault_delete(c->st, conv, guid);
    } else if (strcmp(action, "move") == 0 && hex_id_ok(guid) && folder_ok(folder)) {
        struct vault_find v = {guid, NULL};
        (void)lstore_vault_each(c->st, conv, on_find, &v);
        if (v.found) {
            json_object_set_new(v.found, "folder", json_string(folder));
            if ((s = json_dumps(v.found, JSON_COMPACT | JSON_SORT_KEYS))) {
                (void)lstore_vault_put(c->st, conv, guid, s);
                OPENSSL_cleanse(s, strlen(s));
                free(s);
            }
            json_decref(v.found);
        }
    } else if (strcmp(action, "mkdir") == 0 && folder_ok(folder) && strcmp(folder, "/") != 0) {
        json_t *it = json_pack("{s:s}", "folder", folder);
        snprintf(item, sizeof(item), "dir:%s", folder);
        if ((s = json_dumps(it, JSON_COMPACT))) {
            (void)lstore_vault_put(c->st, conv, item, s);
            free(s);
        }
        json_decref(it);
    } else if (strcmp(action, "rmdir") == 0 && folder_ok(folder)) {
        snprintf(item, sizeof(item), "dir:%s", folder);
        (void)lstore_vault_delete(c->st, conv, item);
    }
}

/* Whether the caller may change `conv`'s Files view: a room's moderator,
 * any member of a group; never a direct conversation. */
static int require_organiser(struct parley_client *c, const char *conv)
{
    struct api_conv ac = {0};
    char path[128];
    json_t *resp = NULL;
    int rc;

    if (!hex_id_ok(conv))
        return PARLEY_EINVAL;
    snprintf(path, sizeof(path), "/api/v1/client/conversations/%s", conv);
    rc = client_call(c, "GET", path, NULL, &resp);
    if (rc == 0)
        rc = api_conv_parse(resp, &ac);
    json_decref(resp);
    if (rc < 0)
        return rc;
    if (strcmp(ac.type, "direct") == 0)
        rc = PARLEY_EINVAL;
    for (size_t i = 0; rc == 0 && strcmp(ac.type, "room") == 0 && i < ac.n_members; i++)
        if (memcmp(ac.members[i].user_id, c->user_id, KEYS_ID_LEN) == 0 &&
            !ac.members[i].is_moderator)
            rc = PARLEY_EPERM;
    api_conv_release(&ac);
    return rc;
}

/* Send one change of the Files view and apply it here too. Takes `fvi`. */
static int vault_change(struct parley_client *c, const char *conv, json_t *fvi)
{
    json_t *payload = json_pack("{s:i,s:{s:i,s:o}}", "msgtype", MSGTYPE_ROOM_PARAMS, "control",
                                "changemask", VAULT_CHANGEMASK, "filevaultinfo", fvi);
    int rc;

    if (!payload)
        return PARLEY_EINVAL;
    rc = client_send_payload(c, conv, payload, NULL);
    if (rc == 0) {
        pthread_mutex_lock(&c->mu);
        client_vault_apply(c, conv, fvi);
        pthread_mutex_unlock(&c->mu);
    }
    payload_free(payload, "filevaultinfo");
    return rc;
}

static int vault_pin(struct parley_client *c, const char *guid, const char *method)
{
    char path[128];
    json_t *resp = NULL;
    int rc;

    snprintf(path, sizeof(path), "/api/v1/client/files/%s/vault", guid);
    rc = client_call(c, method, path, NULL, &resp);
    json_decref(resp);
    return rc;
}

static json_t *vault_add_info(const char *guid, const uint8_t key[FILECRYPT_KEY_LEN],
                              const char *filename, uint64_t size, bool compressed,
                              const char *folder)
{
    char hex[KEY_HEX];
    json_t *j;
    hex_encode(key, FILECRYPT_KEY_LEN, hex);
    j = json_pack("{s:s,s:s,s:s,s:s,s:I,s:b,s:s}", "action", "add", "guid", guid, "key", hex,
                  "filename", filename, "size", (json_int_t)size, "compressed", compressed,
                  "folder", folder);
    OPENSSL_cleanse(hex, sizeof(hex));
    return j;
}

struct to_vault {
    const char *conv, *folder;
    char *guid;
};

static int announce_vault(struct upload *u, const char *shown, void *arg)
{
    struct to_vault *v = arg;
    json_t *fvi;
    int rc;

    /* Created with "vault": true, it is in the view on the server already. */
    fvi = vault_add_info(u->file_id, u->key, shown, u->size, u->compress, v->folder);
    if (!fvi)
        return PARLEY_EINVAL;
    rc = vault_change(u->c, v->conv, fvi);
    if (rc == 0 && v->guid)
        memcpy(v->guid, u->file_id, PARLEY_ID_HEX);
    return rc;
}

int parley_vault_upload(struct parley_client *c, const char *conv, const char *path,
                        const char *folder, const struct parley_file_opts *o,
                        char guid[PARLEY_ID_HEX])
{
    struct to_vault v = {conv, folder ? folder : "/", guid};

    if (!c || !conv || !path || !folder_ok(v.folder))
        return PARLEY_EINVAL;
    /* parleyd checks the rights (and file management) when the upload is
     * created, before any byte is sent. */
    return send_file(c, conv, path, o, true, announce_vault, &v);
}

int parley_vault_save(struct parley_client *c, const char *conv, const char *msg_id,
                      const char *folder)
{
    struct file_msg f;
    char msg_conv[33];
    int bor, rc;

    if (!c || !conv || !msg_id || !folder_ok(folder ? folder : "/"))
        return PARLEY_EINVAL;
    if ((rc = file_msg(c, msg_id, &f, NULL)) < 0)
        return rc;
    pthread_mutex_lock(&c->mu);
    rc = lstore_msg_meta(c->st, msg_id, msg_conv, &bor);
    pthread_mutex_unlock(&c->mu);
    if (rc == 0 && strcmp(msg_conv, conv) != 0)
        rc = PARLEY_EINVAL; /* a file is saved in the conversation it was sent to */
    if (rc == 0)
        rc = vault_pin(c, f.guid, "PUT");
    if (rc == 0) {
        json_t *fvi =
            vault_add_info(f.guid, f.key, f.filename, f.size, f.compressed, folder ? folder : "/");
        rc = fvi ? vault_change(c, conv, fvi) : PARLEY_EINVAL;
    }
    OPENSSL_cleanse(&f, sizeof(f));
    return rc;
}

int parley_vault_mkdir(struct parley_client *c, const char *conv, const char *folder)
{
    int rc;
    if (!c || !conv || !folder_ok(folder) || strcmp(folder, "/") == 0)
        return PARLEY_EINVAL;
    if ((rc = require_organiser(c, conv)) < 0)
        return rc;
    return vault_change(c, conv, json_pack("{s:s,s:s}", "action", "mkdir", "folder", folder));
}

int parley_vault_move(struct parley_client *c, const char *conv, const char *guid,
                      const char *folder)
{
    int rc;
    if (!c || !conv || !hex_id_ok(guid) || !folder_ok(folder))
        return PARLEY_EINVAL;
    if ((rc = require_organiser(c, conv)) < 0)
        return rc;
    return vault_change(
        c, conv, json_pack("{s:s,s:s,s:s}", "action", "move", "guid", guid, "folder", folder));
}

int parley_vault_delete(struct parley_client *c, const char *conv, const char *guid)
{
    char path[128];
    json_t *resp = NULL;
    int rc;

    if (!c || !conv || !hex_id_ok(guid))
        return PARLEY_EINVAL;
    if ((rc = require_organiser(c, conv)) < 0)
        return rc;
    /* The blob goes (uploader or room moderator); a group member who did
     * not upload it takes it out of the view, and it expires as usual. */
    snprintf(path, sizeof(path), "/api/v1/client/files/%s", guid);
    rc = client_call(c, "DELETE", path, NULL, &resp);
    json_decref(resp);
    if (rc == PARLEY_EPERM)
        rc = vault_pin(c, guid, "DELETE");
    if (rc < 0 && rc != PARLEY_ENOTFOUND)
        return rc;
    return vault_change(c, conv, json_pack("{s:s,s:s}", "action", "delete", "guid", guid));
}

struct vault_list {
    json_t *folders, *files;
    const char *want; /* parley_vault_get: this guid's item */
    json_t *found;
};

static int on_list(void *arg, const char *item, const char *json)
{
    struct vault_list *l = arg;
    json_t *j = json_loads(json, 0, NULL);
    if (!j)
        return 0;
    if (strncmp(item, "dir:", 4) == 0) {
        json_array_append(l->folders, json_object_get(j, "folder"));
    } else if (l->want) {
        if (strcmp(item, l->want) == 0) {
            l->found = j;
            return 0;
        }
    } else {
        json_object_del(j, "key");
        json_array_append(l->files, j);
    }
    json_decref(j);
    return 0;
}

int parley_vault_list(struct parley_client *c, const char *conv, char **json_out)
{
    struct vault_list l = {json_array(), json_array(), NULL, NULL};
    json_t *out;
    int rc;

    if (!c || !conv || !json_out)
        return PARLEY_EINVAL;
    json_array_append_new(l.folders, json_string("/"));
    pthread_mutex_lock(&c->mu);
    rc = lstore_vault_each(c->st, conv, on_list, &l);
    pthread_mutex_unlock(&c->mu);
    out = json_pack("{s:o,s:o}", "folders", l.folders, "files", l.files);
    *json_out = rc == 0 && out ? json_dumps(out, JSON_COMPACT) : NULL;
    json_decref(out);
    if (rc == 0 && !*json_out)
        rc = PARLEY_ENOMEM;
    return rc;
}

int parley_vault_get(struct parley_client *c, const char *conv, const char *guid,
                     const char *out_path, const struct parley_file_opts *o)
{
    struct vault_list l = {json_array(), json_array(), guid, NULL};
    struct file_msg f = {0};
    const char *key;
    int rc;

    if (!c || !conv || !hex_id_ok(guid) || !out_path)
        return PARLEY_EINVAL;
    pthread_mutex_lock(&c->mu);
    rc = lstore_vault_each(c->st, conv, on_list, &l);
    pthread_mutex_unlock(&c->mu);
    json_decref(l.folders);
    json_decref(l.files);
    if (rc == 0 && !l.found) {
        say(o, "no file %s in this conversation's Files view", guid);
        rc = PARLEY_ENOTFOUND;
    }
    if (rc == 0) {
        key = json_string_value(json_object_get(l.found, "key"));
        memcpy(f.guid, guid, PARLEY_ID_HEX);
        f.size = (uint64_t)json_integer_value(json_object_get(l.found, "size"));
        f.compressed = json_is_true(json_object_get(l.found, "compressed"));
        if (!key || hex_decode(key, strlen(key), f.key, FILECRYPT_KEY_LEN) < 0)
            rc = PARLEY_EPROTO;
    }
    if (rc == 0)
        rc = download_file(c, &f, guid, out_path, o);
    json_decref(l.found);
    OPENSSL_cleanse(&f, sizeof(f));
    return rc;
}
