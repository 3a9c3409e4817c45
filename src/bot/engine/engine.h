/* engine.h - parley-botengine: one bot account as a libparley client that
 * serves the ZeroMQ bot API (docs/bots.md) to one bot process.
 *
 * Two sockets under `<ipc-dir>/<name>/tmp/`, as the npm packages expect:
 * the engine binds REP on `0` (the bot's commands, strictly lock-step) and
 * REQ on `2` (the engine pushes each received message and waits for the
 * bot's "success" before the next). One thread runs everything: a poll
 * over both sockets and libparley's event descriptor. */
#ifndef PARLEY_BOT_ENGINE_H
#define PARLEY_BOT_ENGINE_H

#include "common/compat.h"

#include <signal.h>

#include <jansson.h>
#include <parley/parley.h>

#include "botkey.h"
#include "botreq.h"
#include "stream.h"

/* Messages waiting for the bot, oldest first. */
struct msgq {
    char **items;
    size_t head, n, cap;
};

struct engine_stats {
    uint64_t sent, received, sent_errors, recv_errors;
};

struct engine {
    struct parley_client *c;
    const char *username;
    const char *server_host; /* from the configuration file, or NULL */
    char kv_path[4096];      /* the bot's key-value store, sealed */
    char queue_path[4096];   /* messages not yet taken, across a stop */
    struct botkey key;
    json_t *kv;      /* key -> value strings */
    json_t *vgroups; /* vgroupid -> conv_id of conversations seen */
    void *zctx, *cmd, *push;
    bool online;       /* authenticated at least once */
    bool async_on;     /* the bot asked for pushed messages */
    bool push_waiting; /* the queue's head was pushed, no answer yet */
    bool stopping;     /* disconnected for good: engine_stop_receiving() */
    int64_t push_sent_ms;
    struct msgq queue;
    struct stream stream; /* on: messages go to files, not to the bot */
    struct engine_stats stats;
};

/* Bind the sockets under ipc_dir/name/tmp (created, mode 0700). Returns 0
 * or -1 with a logged reason. */
int engine_bind(struct engine *e, const char *ipc_dir, const char *name);
/* Serve until *stop is set. Returns 0, or -1 on a socket failure. */
int engine_run(struct engine *e, volatile sig_atomic_t *stop);
/* Before engine_close() on a clean stop: disconnect, so that nothing more
 * is received and acknowledged, and queue (or stream) what the account
 * received meanwhile, so that engine_close() keeps it for the next start. */
void engine_stop_receiving(struct engine *e);
void engine_close(struct engine *e);

/* Answer one command frame: the reply frame (free() it). */
char *engine_handle(struct engine *e, const void *frame, size_t len);

/* The conversation id for a bot's vgroupid (a vgroupid the engine has
 * seen or the server lists, or a bare 32-hex conversation id). Returns 0
 * or PARLEY_ENOTFOUND. */
int engine_conv_of(struct engine *e, const char *vgroupid, char conv[PARLEY_ID_HEX]);
/* Remember a conversation; writes its vgroupid (65 bytes). */
int engine_vgroup_of(struct engine *e, const char *conv, char vgroupid[65]);

/* Load and save the key-value store (engine.c keeps it sealed on disk). */
int engine_kv_load(struct engine *e);
int engine_kv_save(struct engine *e);

/* Messages the bot had not taken when the engine last stopped cleanly:
 * engine_queue_save (from engine_close) seals them to queue_path,
 * engine_queue_load puts them back in front and removes the file. */
int engine_queue_load(struct engine *e);
int engine_queue_save(struct engine *e);

#endif
