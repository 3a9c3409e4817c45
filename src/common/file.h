/* file.h - writing a whole file so that a crash leaves the old or the new
 * version, never a part. */
#ifndef PARLEY_FILE_H
#define PARLEY_FILE_H

#include "compat.h"

/* Write `n` bytes to `path` (mode 0600): into path.tmp, fsync, rename over
 * `path`, fsync the directory. Returns 0, PARLEY_EINVAL (path too long) or
 * PARLEY_EIO; path.tmp does not outlive a failure. */
int file_write_atomic(const char *path, const void *data, size_t n);

#endif
