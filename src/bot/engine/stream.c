/* stream.c - received messages streamed to rotating files (stream.h). */
#include "stream.h"

#include <fcntl.h>
#include <sys/stat.h>
#include <sys/uio.h>
#include <unistd.h>

#include "common/log.h"
#include "common/str.h"

void stream_init(struct stream *s)
{
    memset(s, 0, sizeof(*s));
    s->fd = -1;
}

static int open_current(struct stream *s)
{
    char path[2400];
    struct stat st;

    snprintf(path, sizeof(path), "%s/%s.log", s->dir, s->base);
    s->fd = open(path, O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0600);
    if (s->fd < 0 || fstat(s->fd, &st) < 0) {
        log_warn("cannot open %s", path);
        if (s->fd >= 0)
            close(s->fd);
        s->fd = -1;
        return PARLEY_EIO;
    }
    s->size = st.st_size;
    return 0;
}

static int mkdirs(const char *path)
{
    char buf[2048];
    if (strlcpy_p(buf, path, sizeof(buf)) >= sizeof(buf))
        return -1;
    for (char *p = buf + 1; *p; p++) {
        if (*p != '/')
            continue;
        *p = '\0';
        if (mkdir(buf, 0700) < 0 && errno != EEXIST)
            return -1;
        *p = '/';
    }
    return mkdir(buf, 0700) < 0 && errno != EEXIST ? -1 : 0;
}

int stream_start(struct stream *s, const char *dir, const char *base, int64_t max_size, char *err,
                 size_t errlen)
{
    struct stat st;

    if (dir[0] != '/' || strlen(dir) >= sizeof(s->dir) - 64) {
        snprintf(err, errlen, "set_streaming: \"destination\" must be an absolute path");
        return PARLEY_EINVAL;
    }
    if (!*base || strchr(base, '/') || strlen(base) >= sizeof(s->base) || base[0] == '.') {
        snprintf(err, errlen, "set_streaming: \"base_name\" must be a file name");
        return PARLEY_EINVAL;
    }
    if (max_size < STREAM_MIN_SIZE || max_size > STREAM_MAX_SIZE) {
        snprintf(err, errlen, "set_streaming: \"max_file_size\" must be %lld to %lld bytes",
                 STREAM_MIN_SIZE, STREAM_MAX_SIZE);
        return PARLEY_EINVAL;
    }
    if (mkdirs(dir) < 0 || stat(dir, &st) < 0 || !S_ISDIR(st.st_mode)) {
        snprintf(err, errlen, "set_streaming: cannot create the directory \"destination\"");
        return PARLEY_EINVAL;
    }
    stream_stop(s);
    strlcpy_p(s->dir, dir, sizeof(s->dir));
    strlcpy_p(s->base, base, sizeof(s->base));
    s->max_size = max_size;
    if (open_current(s) < 0) {
        snprintf(err, errlen, "set_streaming: cannot write in \"destination\"");
        return PARLEY_EIO;
    }
    return 0;
}

static int rotate(struct stream *s)
{
    char from[2400], to[2500], stamp[32];
    time_t now = time(NULL);
    struct tm tm;

    if (fsync(s->fd) < 0 || close(s->fd) < 0) {
        s->fd = -1;
        return PARLEY_EIO;
    }
    s->fd = -1;
    gmtime_r(&now, &tm);
    strftime(stamp, sizeof(stamp), "%Y%m%dT%H%M%SZ", &tm);
    snprintf(from, sizeof(from), "%s/%s.log", s->dir, s->base);
    snprintf(to, sizeof(to), "%s/%s.%s.log", s->dir, s->base, stamp);
    for (int n = 1; access(to, F_OK) == 0 && n < 1000; n++)
        snprintf(to, sizeof(to), "%s/%s.%s-%d.log", s->dir, s->base, stamp, n);
    if (rename(from, to) < 0) {
        log_warn("cannot rotate %s", from);
        return PARLEY_EIO;
    }
    return open_current(s);
}

int stream_write(struct stream *s, const char *text)
{
    size_t n = strlen(text);
    struct iovec iov[2] = {{(void *)text, n}, {"\n", 1}};

    if (s->fd < 0 && open_current(s) < 0)
        return PARLEY_EIO;
    /* A line longer than the limit gets a file of its own. */
    if (s->size > 0 && s->size + (int64_t)n + 1 > s->max_size && rotate(s) < 0)
        return PARLEY_EIO;
    ssize_t w = writev(s->fd, iov, 2);
    if (w != (ssize_t)n + 1) {
        log_warn("cannot write to %s/%s.log", s->dir, s->base);
        return PARLEY_EIO;
    }
    s->size += w;
    return 0;
}

int stream_sync(struct stream *s)
{
    return s->fd < 0 || fsync(s->fd) == 0 ? 0 : PARLEY_EIO;
}

void stream_stop(struct stream *s)
{
    if (s->fd >= 0) {
        fsync(s->fd);
        close(s->fd);
    }
    s->fd = -1;
}
