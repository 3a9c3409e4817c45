/* log.c - see log.h. */
#include "log.h"

#include <unistd.h>
#include <sys/time.h>

static enum log_level min_level = LOG_LEVEL_INFO;
static int log_fd = 2;

static const char *const level_names[] = {"debug", "info", "warn", "error"};

void log_set_level(enum log_level level)
{
    min_level = level;
}

enum log_level log_get_level(void)
{
    return min_level;
}

void log_set_fd(int fd)
{
    log_fd = fd;
}

int log_level_parse(const char *name, enum log_level *out)
{
    for (size_t i = 0; i < ARRAY_SIZE(level_names); i++) {
        if (strcmp(name, level_names[i]) == 0) {
            *out = (enum log_level)i;
            return 0;
        }
    }
    return PARLEY_EINVAL;
}

const char *log_level_name(enum log_level level)
{
    if ((size_t)level < ARRAY_SIZE(level_names))
        return level_names[level];
    return "?";
}

/* Append `s` to line[*n..cap) quoted as a logfmt value; truncates silently. */
static void put_quoted(char *line, size_t cap, size_t *n, const char *s)
{
    size_t i = *n;
    if (i + 1 < cap)
        line[i++] = '"';
    for (; *s && i + 4 < cap; s++) {
        unsigned char c = (unsigned char)*s;
        if (c == '"' || c == '\\') {
            line[i++] = '\\';
            line[i++] = (char)c;
        } else if (c == '\n') {
            line[i++] = '\\';
            line[i++] = 'n';
        } else if (c < 0x20 || c == 0x7f) {
            line[i++] = '?';
        } else {
            line[i++] = (char)c;
        }
    }
    if (i + 1 < cap)
        line[i++] = '"';
    *n = i;
}

PARLEY_PRINTF(3, 0) static void vlog(enum log_level level, int errnum, const char *fmt, va_list ap)
{
    char text[1024], line[2304];
    struct timeval tv;
    struct tm tm;
    size_t n;
    int k;

    if (level < min_level)
        return;
    vsnprintf(text, sizeof(text), fmt, ap);
    if (errnum) {
        size_t tl = strlen(text);
        snprintf(text + tl, sizeof(text) - tl, ": %s", strerror(errnum));
    }
    gettimeofday(&tv, NULL);
    gmtime_r(&tv.tv_sec, &tm);
    k = snprintf(line, sizeof(line),
                 "ts=%04d-%02d-%02dT%02d:%02d:%02d.%03dZ level=%s msg=", tm.tm_year + 1900,
                 tm.tm_mon + 1, tm.tm_mday, tm.tm_hour, tm.tm_min, tm.tm_sec,
                 (int)(tv.tv_usec / 1000), level_names[level]);
    n = (size_t)k;
    put_quoted(line, sizeof(line) - 1, &n, text);
    line[n++] = '\n';
    /* One write per line keeps lines whole when several threads log. */
    if (write(log_fd, line, n) < 0) {
        /* Nowhere left to report it. */
    }
}

#define DEFINE_LOG(name, level, with_errno)                                                        \
    void name(const char *fmt, ...)                                                                \
    {                                                                                              \
        int e = errno;                                                                             \
        va_list ap;                                                                                \
        va_start(ap, fmt);                                                                         \
        vlog(level, with_errno ? e : 0, fmt, ap);                                                  \
        va_end(ap);                                                                                \
        errno = e;                                                                                 \
    }

DEFINE_LOG(log_debug, LOG_LEVEL_DEBUG, 0)
DEFINE_LOG(log_info, LOG_LEVEL_INFO, 0)
DEFINE_LOG(log_warn, LOG_LEVEL_WARN, 1)
DEFINE_LOG(log_warnx, LOG_LEVEL_WARN, 0)
DEFINE_LOG(log_error, LOG_LEVEL_ERROR, 0)

void fatal(const char *fmt, ...)
{
    int e = errno;
    va_list ap;
    va_start(ap, fmt);
    vlog(LOG_LEVEL_ERROR, e, fmt, ap);
    va_end(ap);
    exit(1);
}

void fatalx(const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    vlog(LOG_LEVEL_ERROR, 0, fmt, ap);
    va_end(ap);
    exit(1);
}

void parley__bug(const char *file, int line, const char *fmt, ...)
{
    char text[512];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(text, sizeof(text), fmt, ap);
    va_end(ap);
    log_error("BUG at %s:%d: %s", file, line, text);
    abort();
}
