/* stream.h - file streaming of received messages (set_streaming with
 * type "file", as compliance bots ask): the engine itself appends each
 * message's JSON and a newline to `<destination>/<base_name>.log`, and
 * when the next line would take the file past `max_file_size` bytes it
 * syncs and closes it and renames it to
 * `<base_name>.<YYYYMMDDTHHMMSSZ>[-N].log` (UTC, the time of rotation;
 * -N when that name exists), then starts a new one. Lines are written
 * whole with one write(2) each and synced after every batch. */
#ifndef PARLEY_BOT_STREAM_H
#define PARLEY_BOT_STREAM_H

#include "common/compat.h"

/* The bounds the packages' configuration wizard gives max_file_size. */
#define STREAM_MIN_SIZE 10000LL
#define STREAM_MAX_SIZE 10000000000LL

struct stream {
    int fd; /* -1: off */
    char dir[2048];
    char base[256];
    int64_t max_size, size;
};

void stream_init(struct stream *s);
/* Start streaming to dir/base (the directory is created, mode 0700).
 * Returns 0, or PARLEY_EINVAL with a reason for the bot in err (a
 * relative or unusable directory, a base name with '/', a size out of
 * bounds), or PARLEY_EIO. */
int stream_start(struct stream *s, const char *dir, const char *base, int64_t max_size, char *err,
                 size_t errlen);
/* Append one line (text without its newline). Returns 0 or PARLEY_EIO. */
int stream_write(struct stream *s, const char *text);
/* Make what was written durable. */
int stream_sync(struct stream *s);
/* Sync and close; streaming is off. */
void stream_stop(struct stream *s);

#endif
