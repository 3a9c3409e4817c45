/* rlog.c - retention log files (rlog.h, docs/retention.md). */
#include "rlog.h"

#include <dirent.h>
#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <jansson.h>

#include "common/log.h"
#include "common/str.h"

#define TAIL_IDS (2 * RLOG_BATCH_LINES)

struct rlog {
    char dir[4096];
    char prefix[RLOG_MAX_PREFIX + 1];
    char path[4096 + RLOG_MAX_PREFIX + 8];
    uint64_t max_bytes;
    bool no_sync;
    int dirfd, fd;
    uint64_t size;        /* bytes in the current file, written */
    uint64_t next_n;      /* number of the next rotated file */
    struct buf pending;   /* lines queued, not yet written */
    size_t batch_lines;   /* lines since the last rlog_commit */
    uint64_t batch_bytes; /* and their bytes */
    char (*ids)[33];      /* sorted ids of the last lines before open */
    size_t n_ids;
};

bool rlog_prefix_ok(const char *prefix)
{
    size_t n = prefix ? strlen(prefix) : 0;
    if (n == 0 || n > RLOG_MAX_PREFIX || prefix[0] == '.')
        return false;
    for (size_t i = 0; i < n; i++) {
        char ch = prefix[i];
        if (!((ch >= 'a' && ch <= 'z') || (ch >= 'A' && ch <= 'Z') || (ch >= '0' && ch <= '9') ||
              ch == '.' || ch == '_' || ch == '-'))
            return false;
    }
    return true;
}

static bool is_id(const char *s)
{
    if (!s || strlen(s) != 32)
        return false;
    for (; *s; s++)
        if (!((*s >= '0' && *s <= '9') || (*s >= 'a' && *s <= 'f')))
            return false;
    return true;
}

size_t rlog_scan(const uint8_t *p, size_t n, bool at_start, size_t *complete,
                 void (*fn)(void *arg, const char *msg_id), void *arg)
{
    const uint8_t *end = p + n, *line = p, *nl;
    size_t lines = 0;

    *complete = 0;
    while (line < end && (nl = memchr(line, '\n', (size_t)(end - line)))) {
        *complete = (size_t)(nl - p) + 1;
        if (!at_start && line == p) {
            line = nl + 1; /* the window cut this line */
            continue;
        }
        json_t *o =
            json_loadb((const char *)line, (size_t)(nl - line), JSON_REJECT_DUPLICATES, NULL);
        const char *id = json_string_value(json_object_get(o, "message_id"));
        if (!id)
            id = json_string_value(json_object_get(o, "id"));
        if (is_id(id) && fn)
            fn(arg, id);
        json_decref(o);
        lines++;
        line = nl + 1;
    }
    return lines;
}

/* ---- ids of the last lines ---- */

struct idring {
    char (*ids)[33];
    size_t n;
};

static void on_id(void *arg, const char *id)
{
    struct idring *r = arg;
    /* Keep the last TAIL_IDS of this window: shift out the oldest. */
    if (r->n == TAIL_IDS) {
        memmove(r->ids[0], r->ids[1], (TAIL_IDS - 1) * sizeof(r->ids[0]));
        r->n--;
    }
    memcpy(r->ids[r->n++], id, 33);
}

static int cmp_id(const void *a, const void *b)
{
    return memcmp(a, b, 33);
}

/* Read the last `want` bytes (at most) of fd into b. */
static int read_tail(int fd, uint64_t size, uint64_t want, struct buf *b, uint64_t *off)
{
    uint64_t n = size < want ? size : want;

    *off = size - n;
    buf_reset(b);
    if (buf_reserve(b, (size_t)n) < 0)
        return PARLEY_ENOMEM;
    for (uint64_t got = 0; got < n;) {
        ssize_t r = pread(fd, b->data + got, (size_t)(n - got), (off_t)(*off + got));
        if (r < 0 && errno == EINTR)
            continue;
        if (r <= 0)
            return PARLEY_EIO;
        got += (uint64_t)r;
    }
    b->len = (size_t)n;
    b->data[b->len] = '\0';
    return 0;
}

/* Collect ids from the tail of one file, newest last, into all (append). */
static int collect(int fd, uint64_t size, uint64_t *budget, struct idring *all)
{
    struct buf b = BUF_INIT(RLOG_TAIL_BYTES + 1);
    char(*tmp)[33] = calloc(TAIL_IDS, 33);
    struct idring ring = {tmp, 0};
    uint64_t off;
    size_t complete;
    int rc;

    if (!tmp)
        return PARLEY_ENOMEM;
    rc = read_tail(fd, size, *budget, &b, &off);
    if (rc == 0) {
        rlog_scan(b.data, b.len, off == 0, &complete, on_id, &ring);
        *budget -= b.len;
        /* Older files' ids go before this file's: prepend. */
        size_t keep = ring.n < TAIL_IDS - all->n ? ring.n : TAIL_IDS - all->n;
        memmove(all->ids[keep], all->ids[0], all->n * 33);
        memcpy(all->ids[0], ring.ids[ring.n - keep], keep * 33);
        all->n += keep;
    }
    buf_release(&b);
    free(tmp);
    return rc;
}

static int sync_dir(struct rlog *r)
{
    if (r->no_sync)
        return 0;
    return fsync(r->dirfd) == 0 ? 0 : PARLEY_EIO;
}

/* Rotated file numbers present, newest first (at most `max`). */
static size_t rotated(struct rlog *r, uint64_t *nums, size_t max, uint64_t *highest)
{
    size_t plen = strlen(r->prefix), n = 0;
    int fd = dup(r->dirfd);
    DIR *d = fd >= 0 ? fdopendir(fd) : NULL;
    struct dirent *e;

    *highest = 0;
    if (!d) {
        if (fd >= 0)
            close(fd);
        return 0;
    }
    rewinddir(d);
    while ((e = readdir(d))) {
        const char *s = e->d_name, *dot;
        int64_t v;
        char digits[32];
        if (strncmp(s, r->prefix, plen) != 0 || s[plen] != '.')
            continue;
        s += plen + 1;
        dot = strchr(s, '.');
        if (!dot || strcmp(dot, ".log") != 0 || dot == s || (size_t)(dot - s) >= sizeof(digits))
            continue;
        memcpy(digits, s, (size_t)(dot - s));
        digits[dot - s] = '\0';
        if (digits[0] < '0' || digits[0] > '9' || str_to_i64(digits, 1, INT64_MAX, &v) < 0)
            continue;
        if ((uint64_t)v > *highest)
            *highest = (uint64_t)v;
        /* Insert, newest first, keeping `max`. */
        size_t i = n < max ? n++ : max;
        while (i > 0 && nums[i - 1] < (uint64_t)v) {
            if (i < max)
                nums[i] = nums[i - 1];
            i--;
        }
        if (i < max)
            nums[i] = (uint64_t)v;
    }
    closedir(d);
    return n;
}

static void rotated_name(const struct rlog *r, uint64_t n, char *out, size_t len)
{
    snprintf(out, len, "%s.%06llu.log", r->prefix, (unsigned long long)n);
}

/* Cut a torn last line of the current file. */
static int repair(struct rlog *r)
{
    struct buf b = BUF_INIT(RLOG_TAIL_BYTES + 1);
    uint64_t off;
    size_t complete;
    int rc;

    if (r->size == 0)
        return 0;
    rc = read_tail(r->fd, r->size, RLOG_TAIL_BYTES, &b, &off);
    if (rc == 0 && b.data[b.len - 1] != '\n') {
        const uint8_t *nl = NULL;
        for (size_t i = b.len; i > 0 && !nl; i--)
            if (b.data[i - 1] == '\n')
                nl = &b.data[i - 1];
        if (!nl && off > 0) {
            /* Lines are far shorter than the window: not our file. */
            log_warnx("retention log '%s' ends with %u bytes without a newline: refusing to cut",
                      r->path, RLOG_TAIL_BYTES);
            rc = PARLEY_EPROTO;
        } else {
            complete = nl ? (size_t)(nl - b.data) + 1 : 0;
            log_warnx("retention log '%s': cutting a torn last line of %llu bytes", r->path,
                      (unsigned long long)(r->size - off - complete));
            if (ftruncate(r->fd, (off_t)(off + complete)) < 0 || (!r->no_sync && fsync(r->fd) < 0))
                rc = PARLEY_EIO;
            else
                r->size = off + complete;
        }
    }
    buf_release(&b);
    return rc;
}

/* The ids of the last lines: the current file's tail, then older files'
 * while fewer than TAIL_IDS were found and the byte budget lasts. */
static int load_ids(struct rlog *r, const uint64_t *nums, size_t n_nums)
{
    struct idring all = {calloc(TAIL_IDS, 33), 0};
    uint64_t budget = RLOG_TAIL_BYTES;
    int rc;

    if (!all.ids)
        return PARLEY_ENOMEM;
    rc = collect(r->fd, r->size, &budget, &all);
    for (size_t i = 0; rc == 0 && i < n_nums && all.n < TAIL_IDS && budget > 0; i++) {
        char name[RLOG_MAX_PREFIX + 32];
        struct stat sb;
        int fd;
        rotated_name(r, nums[i], name, sizeof(name));
        fd = openat(r->dirfd, name, O_RDONLY | O_CLOEXEC);
        if (fd < 0)
            continue;
        if (fstat(fd, &sb) == 0)
            rc = collect(fd, (uint64_t)sb.st_size, &budget, &all);
        close(fd);
    }
    if (rc == 0) {
        qsort(all.ids, all.n, 33, cmp_id);
        r->ids = all.ids;
        r->n_ids = all.n;
    } else {
        free(all.ids);
    }
    return rc;
}

int rlog_open(const struct rlog_config *cfg, struct rlog **out)
{
    struct rlog *r;
    char name[RLOG_MAX_PREFIX + 8];
    uint64_t nums[64], highest;
    struct stat sb;
    size_t n_nums;
    int rc = PARLEY_EIO;

    *out = NULL;
    if (!cfg->dir || !*cfg->dir || strlen(cfg->dir) >= sizeof(r->dir) ||
        !rlog_prefix_ok(cfg->prefix) || cfg->max_bytes < RLOG_MIN_BYTES)
        return PARLEY_EINVAL;
    if (!(r = calloc(1, sizeof(*r))))
        return PARLEY_ENOMEM;
    r->fd = r->dirfd = -1;
    strlcpy_p(r->dir, cfg->dir, sizeof(r->dir));
    strlcpy_p(r->prefix, cfg->prefix, sizeof(r->prefix));
    r->max_bytes = cfg->max_bytes;
    r->no_sync = cfg->no_sync;
    buf_init(&r->pending, RLOG_BATCH_BYTES + (4u << 20));
    snprintf(name, sizeof(name), "%s.log", r->prefix);
    snprintf(r->path, sizeof(r->path), "%s/%s", r->dir, name);

    if (mkdir(r->dir, 0750) < 0 && errno != EEXIST) {
        log_warn("cannot create the message data directory '%s'", r->dir);
        goto fail;
    }
    r->dirfd = open(r->dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    if (r->dirfd < 0) {
        log_warn("cannot open the message data directory '%s'", r->dir);
        goto fail;
    }
    r->fd = openat(r->dirfd, name, O_RDWR | O_APPEND | O_CREAT | O_CLOEXEC, 0640);
    if (r->fd < 0 || fstat(r->fd, &sb) < 0) {
        log_warn("cannot open the retention log '%s'", r->path);
        goto fail;
    }
    r->size = (uint64_t)sb.st_size;
    if ((rc = sync_dir(r)) < 0 || (rc = repair(r)) < 0)
        goto fail;
    n_nums = rotated(r, nums, ARRAY_SIZE(nums), &highest);
    r->next_n = highest + 1;
    if ((rc = load_ids(r, nums, n_nums)) < 0)
        goto fail;
    *out = r;
    return 0;
fail:
    rlog_close(r);
    return rc;
}

bool rlog_seen(const struct rlog *r, const char *msg_id)
{
    char key[33] = {0};
    if (!r->n_ids || !is_id(msg_id))
        return false;
    memcpy(key, msg_id, 32);
    return bsearch(key, r->ids, r->n_ids, 33, cmp_id) != NULL;
}

/* Write everything queued, then sync. */
static int write_pending(struct rlog *r)
{
    size_t done = 0;

    while (done < r->pending.len) {
        ssize_t w = write(r->fd, r->pending.data + done, r->pending.len - done);
        if (w < 0 && errno == EINTR)
            continue;
        if (w <= 0) {
            log_warn("cannot write the retention log '%s'", r->path);
            /* A short write left a torn line: cut it so the file stays
             * whole lines, and keep everything queued. */
            if (done && ftruncate(r->fd, (off_t)r->size) < 0)
                log_warn("cannot cut '%s' back to %llu bytes", r->path,
                         (unsigned long long)r->size);
            return PARLEY_EIO;
        }
        done += (size_t)w;
    }
    if (!r->no_sync && fdatasync(r->fd) < 0) {
        log_warn("cannot sync the retention log '%s'", r->path);
        return PARLEY_EIO;
    }
    r->size += r->pending.len;
    buf_reset(&r->pending);
    return 0;
}

static int rotate(struct rlog *r)
{
    char cur[RLOG_MAX_PREFIX + 8], name[RLOG_MAX_PREFIX + 32];
    int fd, rc;

    snprintf(cur, sizeof(cur), "%s.log", r->prefix);
    rotated_name(r, r->next_n, name, sizeof(name));
    /* Never replace a rotated file: a name in use means someone else's
     * file, and we stop rather than lose it. */
    if (renameat2(r->dirfd, cur, r->dirfd, name, RENAME_NOREPLACE) < 0) {
        log_warn("cannot rotate '%s' to '%s'", r->path, name);
        return PARLEY_EIO;
    }
    r->next_n++;
    if ((rc = sync_dir(r)) < 0)
        return rc;
    fd = openat(r->dirfd, cur, O_RDWR | O_APPEND | O_CREAT | O_EXCL | O_CLOEXEC, 0640);
    if (fd < 0) {
        log_warn("cannot create the retention log '%s'", r->path);
        return PARLEY_EIO;
    }
    close(r->fd);
    r->fd = fd;
    r->size = 0;
    log_info("retention log rotated to '%s/%s'", r->dir, name);
    return sync_dir(r);
}

int rlog_append(struct rlog *r, const char *line, size_t len)
{
    int rc;

    if (len == 0 || line[len - 1] != '\n' || memchr(line, '\n', len - 1))
        return PARLEY_EINVAL;
    if (r->size + r->pending.len + len > r->max_bytes && r->size + r->pending.len > 0) {
        /* Everything before this line goes into the file being closed. */
        if ((rc = write_pending(r)) < 0 || (rc = rotate(r)) < 0)
            return rc;
    }
    rc = buf_append(&r->pending, line, len);
    if (rc == 0) {
        r->batch_lines++;
        r->batch_bytes += len;
    }
    return rc;
}

bool rlog_batch_full(const struct rlog *r)
{
    return r->batch_lines >= RLOG_BATCH_LINES || r->batch_bytes >= RLOG_BATCH_BYTES;
}

int rlog_commit(struct rlog *r)
{
    int rc = r->pending.len ? write_pending(r) : 0;
    if (rc == 0)
        r->batch_lines = r->batch_bytes = 0;
    return rc;
}

uint64_t rlog_size(const struct rlog *r)
{
    return r->size;
}

const char *rlog_path(const struct rlog *r)
{
    return r->path;
}

int rlog_close(struct rlog *r)
{
    int rc = 0;

    if (!r)
        return 0;
    if (r->fd >= 0) {
        rc = rlog_commit(r);
        close(r->fd);
    }
    if (r->dirfd >= 0)
        close(r->dirfd);
    buf_release(&r->pending);
    free(r->ids);
    free(r);
    return rc;
}
