/* file.c - see file.h. */
#include "file.h"

#include <errno.h>
#include <fcntl.h>
#include <libgen.h>
#include <unistd.h>

int file_write_atomic(const char *path, const void *data, size_t n)
{
    char tmp[4096], dir[4096];
    const uint8_t *p = data;
    int fd, rc = PARLEY_EIO;

    if (snprintf(tmp, sizeof(tmp), "%s.tmp", path) >= (int)sizeof(tmp))
        return PARLEY_EINVAL;
    fd = open(tmp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
    if (fd < 0)
        return PARLEY_EIO;
    while (n > 0) {
        ssize_t w = write(fd, p, n);
        if (w < 0 && errno == EINTR)
            continue;
        if (w <= 0)
            goto out;
        p += w;
        n -= (size_t)w;
    }
    if (fsync(fd) < 0)
        goto out;
    rc = 0;
out:
    if (close(fd) < 0)
        rc = PARLEY_EIO;
    if (rc == 0 && rename(tmp, path) < 0)
        rc = PARLEY_EIO;
    if (rc < 0) {
        unlink(tmp);
        return rc;
    }
    /* The rename itself is durable once the directory is. */
    snprintf(dir, sizeof(dir), "%s", path);
    int dfd = open(dirname(dir), O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    if (dfd >= 0) {
        (void)fsync(dfd);
        close(dfd);
    }
    return 0;
}
