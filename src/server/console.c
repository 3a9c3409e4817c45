/* console.c - serves the web console's static files; see console.h.
 *
 * The files are small and read whole on the loop thread: the browser asks
 * for each one again only with If-None-Match, which costs one stat(). */
#include "console.h"
#include "config.h"
#include "common/xmalloc.h"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#define CONSOLE_PREFIX "/admin"

static const struct {
    const char *ext;
    const char *type;
} types[] = {
    {".html", "text/html; charset=utf-8"},
    {".js", "text/javascript; charset=utf-8"},
    {".css", "text/css; charset=utf-8"},
    {".svg", "image/svg+xml"},
    {".png", "image/png"},
    {".ico", "image/x-icon"},
    {".json", "application/json"},
    {".woff2", "font/woff2"},
};

const char *console_path_type(const char *rel)
{
    const char *seg = rel, *dot;
    size_t n = strlen(rel);

    if (n == 0 || n > 255)
        return NULL;
    for (const char *p = rel; *p; p++) {
        bool ok = (*p >= 'a' && *p <= 'z') || (*p >= 'A' && *p <= 'Z') ||
                  (*p >= '0' && *p <= '9') || *p == '.' || *p == '_' || *p == '-' || *p == '/';
        if (!ok)
            return NULL;
    }
    /* Every segment is non-empty and starts with neither '.' nor '/':
     * this rules out "..", hidden files and "//". */
    for (;;) {
        if (*seg == '.' || *seg == '/' || *seg == 0)
            return NULL;
        seg = strchr(seg, '/');
        if (!seg)
            break;
        seg++;
    }
    dot = strrchr(rel, '.');
    if (!dot || strchr(dot, '/'))
        return NULL;
    for (size_t i = 0; i < ARRAY_SIZE(types); i++)
        if (strcmp(dot, types[i].ext) == 0)
            return types[i].type;
    return NULL;
}

void console_redirect(struct http_req *req)
{
    http_add_header(req, "location", CONSOLE_PREFIX "/");
    http_reply(req, 302, "text/plain; charset=utf-8", "see /admin/\n", 12);
}

static bool etag_matches(struct http_req *req, const char *etag)
{
    char v[128];
    int n = lws_hdr_copy(req->wsi, v, sizeof(v), WSI_TOKEN_HTTP_IF_NONE_MATCH);
    return n > 0 && strcmp(v, etag) == 0;
}

/* Read the regular file `fd` of `size` bytes and reply with it. */
static void reply_file(struct http_req *req, int fd, size_t size, const char *type)
{
    char *data = xmalloc(size ? size : 1);
    size_t got = 0;

    while (got < size) {
        ssize_t r = read(fd, data + got, size - got);
        if (r < 0 && errno == EINTR)
            continue;
        if (r <= 0)
            break;
        got += (size_t)r;
    }
    if (got == size) {
        http_reply(req, 200, type, data, size);
    } else {
        log_warn("cannot read a console file for %s", req->path);
        http_reply_error(req, 500, "internal", "the file could not be read");
    }
    free(data);
}

void console_file(struct http_req *req)
{
    const char *rel = req->path + strlen(CONSOLE_PREFIX), *type;
    char *path = NULL, etag[64];
    struct stat st;
    int fd = -1;

    req->csp = CONSOLE_CSP;
    if (rel[0] == '/')
        rel++;
    if (rel[0] == 0)
        rel = "index.html";
    type = console_path_type(rel);
    if (!type)
        goto not_found;
    path = xasprintf("%s/%s", req->srv->cfg->console_dir, rel);
    fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0 || fstat(fd, &st) < 0 || !S_ISREG(st.st_mode) || st.st_size > CONSOLE_MAX_FILE)
        goto not_found;
    /* Revalidate every time: a new release must show at once, and a 304
     * costs no more than this stat(). */
    req->cache_control = "no-cache";
    snprintf(etag, sizeof(etag), "\"%llx-%llx-%lx\"", (unsigned long long)st.st_size,
             (unsigned long long)st.st_mtim.tv_sec, (unsigned long)st.st_mtim.tv_nsec);
    http_add_header(req, "etag", etag);
    if (etag_matches(req, etag))
        http_reply(req, 304, type, NULL, 0);
    else
        reply_file(req, fd, (size_t)st.st_size, type);
    goto out;

not_found:
    http_reply(req, 404, "text/plain; charset=utf-8", "not found\n", 10);
out:
    if (fd >= 0)
        close(fd);
    free(path);
}
