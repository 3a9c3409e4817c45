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

/* A message waiting for the bot: its JSON for the bot and its message id
 * (NULL for one from a queue file of an older version). */
struct msgq_item {
    char *text;
    char *id;
};

/* Messages waiting for the bot, oldest first (a ring). */
struct msgq {
    struct msgq_item *items;
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
    char queue_path[4096];   /* an older version's queue file */
    struct botkey key;
    json_t *kv;      /* key -> value strings */
    json_t *vgroups; /* vgroupid -> conv_id of conversations seen */
    void *zctx, *cmd, *push;
    bool online;       /* authenticated at least once */
    bool async_on;     /* the bot asked for pushed messages */
    bool push_waiting; /* the queue's head was pushed, no answer yet */
    int64_t push_sent_ms;
    char *taken_id; /* handed over in the reply being sent: done once sent */
    struct msgq queue;
    struct stream stream; /* on: messages go to files, not to the bot */
    struct engine_stats stats;
};

/* Bind the sockets under ipc_dir/name/tmp (created, mode 0700). Returns 0
 * or -1 with a logged reason. */
int engine_bind(struct engine *e, const char *ipc_dir, const char *name);
/* Serve until *stop is set. Returns 0, or -1 on a socket failure. */
int engine_run(struct engine *e, volatile sig_atomic_t *stop);
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

/* Every message received stays in the client's journal until the bot has
 * it: pushed and answered, handed over by get_received_messages, or
 * streamed to a file and synced. So a message the bot did not take comes
 * again on the next start, however the engine stopped.
 *
 * Versions before the journal sealed the messages not taken to
 * queue_path on a clean stop; engine_queue_load puts those in front of
 * the queue and removes the file. */
int engine_queue_load(struct engine *e);
/* The bot has the message: forget it (msg_id NULL: nothing to do). */
void engine_done(struct engine *e, const char *msg_id);

#endif
