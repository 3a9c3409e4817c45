/* compliance.c - the compliance integration (compliance.h).
 *
 * One thread: take the client's events in order, format each message
 * (names and conversation details come from small caches filled from the
 * directory), queue the line; when the queue is empty or a batch is full,
 * sync the log and only then mark the batch's messages done in the
 * client's journal. A crash anywhere leaves each message either in the
 * journal (it is replayed) or in the log (it is recognised by id), and the
 * log is cut back to whole lines on open. */
#include "compliance.h"

#include <errno.h>
#include <fcntl.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "common/log.h"
#include "common/str.h"
#include "common/xmalloc.h"
#include "proto/ids.h"
#include "rformat.h"
#include "rlog.h"

#define CACHE_MAX 4096

/* A download that fails for the network is tried again after 5 s, then
 * 10, 20... up to 5 minutes apart. */
#define ATTACH_RETRY_MS     5000
#define ATTACH_RETRY_MAX_MS 300000
/* handle(): the bot is stopping before the message could be logged. */
#define DEFERRED 2

/* A small cache of names by user id and of conversation details. */
struct entry {
    char key[PARLEY_ID_HEX];
    char *value; /* username, or a direct conversation's members "a\nb" */
};

struct cache {
    struct entry e[CACHE_MAX];
    size_t n, next;
};

struct state {
    const struct integ_run *r;
    struct rlog *log;
    struct cache names, convs;
    char attach_dir[4096];
    bool attachments;
    const char *done[RLOG_BATCH_LINES + 1];
    char done_ids[RLOG_BATCH_LINES + 1][PARLEY_ID_HEX];
    size_t n_done;
};

static const char *cache_get(const struct cache *c, const char *key)
{
    for (size_t i = 0; i < c->n; i++)
        if (strcmp(c->e[i].key, key) == 0)
            return c->e[i].value;
    return NULL;
}

static void cache_put(struct cache *c, const char *key, char *value)
{
    struct entry *e;
    if (c->n < CACHE_MAX) {
        e = &c->e[c->n++];
    } else {
        e = &c->e[c->next];
        c->next = (c->next + 1) % CACHE_MAX;
        free(e->value);
    }
    strlcpy_p(e->key, key, sizeof(e->key));
    e->value = value;
}

static void cache_drop(struct cache *c, const char *key)
{
    for (size_t i = 0; i < c->n; i++)
        if (strcmp(c->e[i].key, key) == 0) {
            free(c->e[i].value);
            c->e[i] = c->e[--c->n];
            c->next = 0;
            return;
        }
}

static void cache_release(struct cache *c)
{
    for (size_t i = 0; i < c->n; i++)
        free(c->e[i].value);
    c->n = 0;
}

/* A user's name; the directory is asked a few times before the id itself
 * is used, so that a short outage does not stop retention. */
static const char *name_of(struct state *s, const char *user_id)
{
    const char *v = cache_get(&s->names, user_id);
    char *n = NULL;
    int rc = PARLEY_EIO;

    if (v)
        return v;
    for (int i = 0; i < 3 && rc == PARLEY_EIO; i++) {
        if (i)
            sleep(1);
        rc = parley_client_user_name(s->r->client, user_id, &n);
    }
    if (rc < 0) {
        log_warnx("no name for user %s (%s): the log shows the id", user_id, parley_strerror(rc));
        n = xstrdup(user_id);
    }
    cache_put(&s->names, user_id, n);
    return n;
}

static int on_name(void *arg, const char *user_id, char **out)
{
    *out = xstrdup(name_of(arg, user_id));
    return 0;
}

/* The receiver of a direct message: the member who is not the sender. */
static const char *receiver_of(struct state *s, const char *conv_id, const char *sender)
{
    const char *v = cache_get(&s->convs, conv_id);
    char *json = NULL;

    if (!v) {
        json_t *arr = NULL, *m;
        size_t i;
        char *ids = NULL;
        if (parley_conv_members(s->r->client, conv_id, &json) == 0)
            arr = json_loads(json, 0, NULL);
        free(json);
        json_array_foreach(arr, i, m)
        {
            const char *id = json_string_value(json_object_get(m, "user_id"));
            char *more = xasprintf("%s%s%s", ids ? ids : "", ids ? "\n" : "", id ? id : "");
            free(ids);
            ids = more;
        }
        json_decref(arr);
        if (!ids) {
            log_warnx("no members for direct conversation %s: no receiver", conv_id);
            return NULL;
        }
        cache_put(&s->convs, conv_id, ids);
        v = ids;
    }
    /* "a\nb": the other one; a note to self names the sender. */
    const char *nl = strchr(v, '\n');
    char other[PARLEY_ID_HEX];
    if (nl && strncmp(v, sender, (size_t)(nl - v)) == 0)
        strlcpy_p(other, nl + 1, sizeof(other));
    else
        snprintf(other, sizeof(other), "%.*s", (int)(nl ? nl - v : (ptrdiff_t)strlen(v)), v);
    return name_of(s, other);
}

/* Cancel a download when the bot is asked to stop: the message stays in
 * the journal and the download resumes on the next start. */
static int on_progress(void *arg, uint64_t done, uint64_t total)
{
    (void)done;
    (void)total;
    return *(volatile sig_atomic_t *)arg != 0;
}

/* `<stem>-<n><ext>`: the name with a number before its extension. */
static void numbered(const char *name, unsigned n, char *out, size_t outlen)
{
    const char *dot = strrchr(name, '.');
    const char *under = strrchr(name, '_');
    if (!dot || (under && dot < under))
        dot = name + strlen(name);
    snprintf(out, outlen, "%.*s-%u%s", (int)(dot - name), name, n, dot);
}

int compliance_attachment_save(struct parley_client *c, const char *msg_id, const char *dir,
                               const char *name, volatile sig_atomic_t *stop, char **path)
{
    struct parley_file_opts o = {.progress = on_progress, .progress_arg = (void *)stop};
    char err[256] = "", incoming[4200], tmp[4300], final[4400], alt[300];
    int rc, dfd;

    *path = NULL;
    o.error = err;
    o.error_len = sizeof(err);
    /* Downloaded under the message id, a name no sender chooses, so that a
     * download cut short resumes where it stopped (`<id>.part`). */
    snprintf(incoming, sizeof(incoming), "%s/.incoming", dir);
    if (mkdir(incoming, 0700) < 0 && errno != EEXIST) {
        log_warn("cannot create '%s'", incoming);
        return PARLEY_EIO;
    }
    snprintf(tmp, sizeof(tmp), "%s/%s", incoming, msg_id);
    rc = parley_file_get(c, msg_id, tmp, &o);
    if (rc < 0) {
        if (rc != PARLEY_ECANCELED)
            log_warnx("message %s: attachment not downloaded (%s)%s%s", msg_id, parley_strerror(rc),
                      err[0] ? ": " : "", err);
        return rc;
    }
    /* A name already taken (another attachment of the same millisecond
     * and name) gets a number. */
    for (unsigned n = 1; n < 10000; n++) {
        if (n == 1)
            snprintf(final, sizeof(final), "%s/%s", dir, name);
        else {
            numbered(name, n, alt, sizeof(alt));
            snprintf(final, sizeof(final), "%s/%s", dir, alt);
        }
        /* Atomic and never replacing; link(2) where the file system has
         * no RENAME_NOREPLACE. */
        int moved = renameat2(AT_FDCWD, tmp, AT_FDCWD, final, RENAME_NOREPLACE);
        if (moved < 0 && errno == EINVAL && (moved = link(tmp, final)) == 0)
            unlink(tmp);
        if (moved == 0) {
            dfd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
            if (dfd >= 0) {
                if (fsync(dfd) < 0)
                    log_warn("cannot sync '%s'", dir);
                close(dfd);
            }
            *path = xstrdup(final);
            return 0;
        }
        if (errno != EEXIST)
            break;
    }
    log_warn("message %s: cannot name the attachment '%s' in '%s'", msg_id, name, dir);
    return PARLEY_EIO;
}

static int64_t now_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

/* Sync the queued lines, then mark their messages done. */
static int commit(struct state *s)
{
    int rc = rlog_commit(s->log);
    if (rc < 0)
        return rc;
    if (s->n_done) {
        rc = parley_client_event_done(s->r->client, s->done, s->n_done);
        if (rc < 0)
            log_warnx("cannot mark %zu messages done (%s): they will be recognised on restart",
                      s->n_done, parley_strerror(rc));
        s->n_done = 0;
    }
    return 0;
}

/* Wait up to `ms`, or until the bot is asked to stop or restart (true). */
static bool pause_or_stop(struct state *s, int ms)
{
    for (int t = 0; t < ms; t += 250) {
        if (*s->r->stop || (s->r->restart_at_ms && now_ms() >= s->r->restart_at_ms))
            return true;
        usleep(250 * 1000);
    }
    return *s->r->stop != 0;
}

/* The attachment of file message `ev`, saved before its line is written,
 * so that a line's "localfilename" always names a whole, decrypted file.
 * Returns 0 with *local set (or NULL: the file cannot be had, and the line
 * is written without it); DEFERRED when the bot stops or restarts while
 * the server cannot be reached: the message stays in the journal, its
 * line is written after the next start; PARLEY_EIO when the log itself
 * cannot be synced. */
static int attachment(struct state *s, const struct parley_event *ev, char **local)
{
    json_t *p = json_loads(ev->body, 0, NULL);
    struct buf name = BUF_INIT(512);
    const char *display =
        json_string_value(json_object_get(json_object_get(p, "file"), "filename"));
    int rc = rformat_attachment_name(ev->ts_ms, display ? display : "", &name);
    int wait_ms = ATTACH_RETRY_MS;

    json_decref(p);
    *local = NULL;
    if (rc < 0) {
        buf_release(&name);
        return 0;
    }
    for (;;) {
        rc = compliance_attachment_save(s->r->client, ev->msg_id, s->attach_dir,
                                        (const char *)name.data, s->r->stop, local);
        if (rc != PARLEY_EIO && rc != PARLEY_ECANCELED)
            break;
        /* The server or the disk failed: the lines before this one are
         * synced and marked done, and the download is tried again (it
         * resumes) until it works, the file is gone for good, or the bot
         * stops. Lines stay in the order the messages arrived. */
        if (rc == PARLEY_EIO) {
            log_warnx("message %s: the attachment will be fetched again in %d s", ev->msg_id,
                      wait_ms / 1000);
            if (commit(s) < 0) {
                buf_release(&name);
                return PARLEY_EIO; /* the log cannot be written: stop */
            }
            if (pause_or_stop(s, wait_ms)) {
                rc = DEFERRED;
                break;
            }
            if (wait_ms < ATTACH_RETRY_MAX_MS)
                wait_ms *= 2;
            continue;
        }
        rc = DEFERRED;
        break;
    }
    if (rc < 0)
        log_warnx("message %s: attachment '%s' cannot be saved (%s): the line has no "
                  "localfilename",
                  ev->msg_id, (const char *)name.data, parley_strerror(rc));
    buf_release(&name);
    return rc > 0 ? rc : 0;
}

static int handle(struct state *s, const struct parley_event *ev)
{
    struct rformat_msg m = {0};
    struct buf line = BUF_INIT(RFORMAT_MAX_LINE);
    uint8_t conv[IDS_CONV_LEN];
    char vg[IDS_VGROUPID_LEN + 1];
    char *local = NULL;
    int rc = 0, type;

    if (rlog_seen(s->log, ev->msg_id))
        goto done; /* written before a crash, not yet marked done */
    if (hex_decode(ev->conv_id, strlen(ev->conv_id), conv, sizeof(conv)) < 0 ||
        ids_vgroupid(conv, vg) < 0) {
        log_warnx("message %s: bad conversation id", ev->msg_id);
        goto done;
    }
    type = ids_conv_type(conv);
    m.msg_id = ev->msg_id;
    m.vgroupid = vg;
    m.sender = ev->sender_name ? ev->sender_name : name_of(s, ev->sender);
    m.receiver = type == IDS_CONV_DIRECT ? receiver_of(s, ev->conv_id, ev->sender) : NULL;
    m.ts_ms = ev->ts_ms;
    m.expires_at = ev->expires_at;
    m.burn_on_read = ev->burn_on_read != 0;
    m.bor_s = ev->conv_burn_on_read;
    m.payload = ev->body;
    if (ev->msgtype == 6000 && s->attachments) {
        rc = attachment(s, ev, &local);
        if (rc != 0)
            return rc; /* stopping: the message stays in the journal */
        m.localfilename = local;
    }
    rc = rformat_line(&m, on_name, s, &line);
    if (rc == 0)
        rc = rlog_append(s->log, (const char *)line.data, line.len);
    else
        log_warnx("message %s (msgtype %d) cannot be logged: %s", ev->msg_id, ev->msgtype,
                  parley_strerror(rc));
    buf_release(&line);
    free(local);
    if (rc == PARLEY_EIO)
        return rc;
    /* Control messages change a conversation: look it up again. */
    if (ev->msgtype >= 4001 && ev->msgtype <= 4005)
        cache_drop(&s->convs, ev->conv_id);
done:
    strlcpy_p(s->done_ids[s->n_done], ev->msg_id, PARLEY_ID_HEX);
    s->done[s->n_done] = s->done_ids[s->n_done];
    s->n_done++;
    return 0;
}

static int configure(struct state *s, struct rlog_config *cfg, char *dir, size_t dirlen)
{
    const json_t *c = s->r->config;
    bool streaming =
        strcmp(json_string_value(json_object_get(c, "new_file_save")) ?: "no", "yes") == 0;

    /* The previous save process: one receivedMessages.log in the
     * integration directory, never rotated. */
    strlcpy_p(dir,
              streaming ? json_string_value(json_object_get(c, "message_dir")) ?: "" : s->r->dir,
              dirlen);
    cfg->dir = dir;
    cfg->prefix =
        streaming ? json_string_value(json_object_get(c, "file_prefix")) : "receivedMessages";
    cfg->max_bytes = streaming ? (uint64_t)integ_int(c, "max_file_bytes") : UINT64_MAX;
    if (streaming)
        strlcpy_p(s->attach_dir, json_string_value(json_object_get(c, "attachment_dir")) ?: "",
                  sizeof(s->attach_dir));
    else
        snprintf(s->attach_dir, sizeof(s->attach_dir), "%s/attachments", s->r->dir);
    if (s->attach_dir[0] == '/' && (mkdir(s->attach_dir, 0750) == 0 || errno == EEXIST))
        s->attachments = true;
    else
        log_warn("cannot create the attachment directory '%s'", s->attach_dir);
    return cfg->prefix ? 0 : PARLEY_EINVAL;
}

int compliance_run(const struct integ_run *r)
{
    struct state *s = xcalloc(1, sizeof(*s));
    struct rlog_config cfg = {0};
    char dir[4096];
    int rc;

    s->r = r;
    if ((rc = configure(s, &cfg, dir, sizeof(dir))) < 0 || (rc = rlog_open(&cfg, &s->log)) < 0) {
        log_warnx("cannot open the retention log in '%s': %s", dir, parley_strerror(rc));
        goto out;
    }
    log_info("retention log '%s', max %llu bytes per file", rlog_path(s->log),
             (unsigned long long)cfg.max_bytes);
    /* Replays what earlier runs left undone, before anything new. */
    if ((rc = parley_client_journal(r->client)) < 0 ||
        (rc = parley_client_connect(r->client)) < 0) {
        log_warnx("cannot start the bot's client: %s", parley_strerror(rc));
        goto out;
    }
    while (!*r->stop) {
        struct parley_event *ev = NULL;
        if (r->restart_at_ms && now_ms() >= r->restart_at_ms) {
            rc = 1;
            break;
        }
        if (parley_client_next_event(r->client, s->n_done ? 0 : 500, &ev) < 0) {
            if ((rc = commit(s)) < 0)
                break;
            continue;
        }
        if (ev->type == PARLEY_EVENT_MESSAGE)
            rc = handle(s, ev);
        else if (ev->type == PARLEY_EVENT_ERROR)
            log_warnx("a delivery was refused: %s", parley_strerror(ev->err));
        else if (ev->type == PARLEY_EVENT_ONLINE)
            log_info("online");
        parley_event_free(ev);
        if (rc == DEFERRED) {
            rc = *r->stop ? 0 : 1; /* stopping, or restarting */
            break;
        }
        if (rc < 0)
            break;
        if ((rlog_batch_full(s->log) || s->n_done == RLOG_BATCH_LINES) && (rc = commit(s)) < 0)
            break;
    }
    if (rc >= 0) {
        int c = commit(s);
        if (c < 0)
            rc = c;
    }
out:
    if (rlog_close(s->log) < 0 && rc >= 0)
        rc = PARLEY_EIO;
    cache_release(&s->names);
    cache_release(&s->convs);
    free(s);
    return rc;
}
