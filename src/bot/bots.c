/* bots.c - the bots' directories and records (bots.h). */
#include "bots.h"

#include <dirent.h>
#include <fcntl.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <unistd.h>

#include "common/file.h"
#include "common/log.h"
#include "common/str.h"
#include "common/xmalloc.h"

char *bot_path(const struct bot *b, const char *name)
{
    return xasprintf("%s/%s", b->dir, name);
}

char *bot_integration_dir(const struct bot *b)
{
    return xasprintf("%s/integration/%s", b->dir, bot_str(b, "integration"));
}

const char *bot_str(const struct bot *b, const char *key)
{
    const char *s = json_string_value(json_object_get(b->rec, key));
    return s ? s : "";
}

bool bot_bool(const struct bot *b, const char *key)
{
    return json_is_true(json_object_get(b->rec, key));
}

static int load(const char *home, const char *name, struct bot *out)
{
    char *path;
    json_error_t je;

    memset(out, 0, sizeof(*out));
    if (strlen(name) >= sizeof(out->name) || strchr(name, '/') || name[0] == '.')
        return PARLEY_ENOTFOUND;
    strlcpy_p(out->name, name, sizeof(out->name));
    snprintf(out->dir, sizeof(out->dir), "%s/clients/%s", home, name);
    path = bot_path(out, "bot.json");
    out->rec = json_load_file(path, JSON_REJECT_DUPLICATES, &je);
    free(path);
    if (!json_is_object(out->rec)) {
        json_decref(out->rec);
        out->rec = NULL;
        return PARLEY_ENOTFOUND;
    }
    return 0;
}

static int cmp_bot(const void *a, const void *b)
{
    return strcmp(((const struct bot *)a)->name, ((const struct bot *)b)->name);
}

int bots_list(const char *home, struct bot **out, size_t *n)
{
    char *dir = xasprintf("%s/clients", home);
    DIR *d = opendir(dir);
    struct dirent *e;
    size_t cap = 0;

    *out = NULL;
    *n = 0;
    free(dir);
    if (!d)
        return 0;
    while ((e = readdir(d))) {
        struct bot b;
        if (e->d_name[0] == '.' || load(home, e->d_name, &b) < 0)
            continue;
        if (*n == cap) {
            cap = cap ? 2 * cap : 8;
            *out = xrealloc(*out, cap * sizeof(**out));
        }
        (*out)[(*n)++] = b;
    }
    closedir(d);
    if (*n)
        qsort(*out, *n, sizeof(**out), cmp_bot);
    return 0;
}

void bots_free(struct bot *b, size_t n)
{
    for (size_t i = 0; i < n; i++)
        bot_release(&b[i]);
    free(b);
}

void bot_release(struct bot *b)
{
    json_decref(b->rec);
    b->rec = NULL;
}

int bot_find(const char *home, const char *which, struct bot *out)
{
    struct bot *all;
    size_t n;
    int64_t i;

    if (load(home, which, out) == 0)
        return 0;
    if (str_to_i64(which, 0, INT32_MAX, &i) < 0)
        return PARLEY_ENOTFOUND;
    bots_list(home, &all, &n);
    if ((size_t)i >= n) {
        bots_free(all, n);
        return PARLEY_ENOTFOUND;
    }
    *out = all[i];
    all[i].rec = NULL;
    bots_free(all, n);
    return 0;
}

int bot_save(const struct bot *b)
{
    char *path = bot_path(b, "bot.json");
    char *text = json_dumps(b->rec, JSON_INDENT(2) | JSON_SORT_KEYS);
    char *line = text ? xasprintf("%s\n", text) : NULL;
    int rc = line ? file_write_atomic(path, line, strlen(line)) : PARLEY_ENOMEM;

    if (rc < 0)
        log_warn("cannot write '%s'", path);
    free(line);
    free(text);
    free(path);
    return rc;
}

pid_t bot_running(const struct bot *b)
{
    char *path = bot_path(b, "run.lock"), buf[32] = "";
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    pid_t pid = 0;
    int64_t v;

    free(path);
    if (fd < 0)
        return 0;
    /* The running bot holds an exclusive lock for its whole life and
     * writes its pid just after taking it: give it a moment. */
    if (flock(fd, LOCK_SH | LOCK_NB) < 0 && errno == EWOULDBLOCK) {
        pid = -1;
        for (int i = 0; i < 100 && pid < 0; i++) {
            ssize_t n = pread(fd, buf, sizeof(buf) - 1, 0);
            buf[n > 0 ? n : 0] = '\0';
            buf[strcspn(buf, "\n")] = '\0';
            if (str_to_i64(buf, 1, INT32_MAX, &v) == 0)
                pid = (pid_t)v;
            else
                usleep(10 * 1000);
        }
    }
    close(fd);
    return pid;
}
