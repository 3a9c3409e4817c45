/* rformat.h - one retention log line from one received message.
 *
 * The line format is a contract with customers' archiving tools: the
 * functional specification's compliance message description (Appendix A)
 * and its examples (Appendix B). docs/retention.md lists every field; this
 * file is the only place that writes them. */
#ifndef PARLEY_BOT_RFORMAT_H
#define PARLEY_BOT_RFORMAT_H

#include "common/buf.h"

/* Longest line: a payload is at most 1 MiB of JSON; names and envelope
 * fields add little. */
#define RFORMAT_MAX_LINE (2u << 20)

struct rformat_msg {
    const char *msg_id;   /* 32 hex */
    const char *vgroupid; /* 64 characters: docs/client-protocol.md */
    const char *sender;   /* the sender's username */
    const char *receiver; /* direct conversations: the other user's name; else NULL */
    bool sender_is_guest; /* a user from another network */
    int64_t ts_ms;        /* the server's receive time */
    uint64_t expires_at;  /* Unix seconds, 0 = no expiry */
    bool burn_on_read;    /* the envelope's flag */
    uint32_t bor_s;       /* the conversation's burn-on-read seconds (0 unknown) */
    const char *payload;  /* the decrypted payload JSON */
    /* File messages (6000): the decrypted attachment's full path, or NULL
     * when it could not be saved. */
    const char *localfilename;
};

/* Turn a user id (32 hex) found inside a control message into a username.
 * Returns 0 and a malloc'd *out, or a negative code (the id is kept). */
typedef int (*rformat_name_fn)(void *arg, const char *user_id, char **out);

/* Append the message's line, newline included, to `out`. Fields from the
 * envelope (ids, sender, times) always win over anything a sender put in
 * the payload: only the content fields of the payload's type are copied.
 * Returns 0, PARLEY_EPROTO (the payload is not a JSON object with a known
 * msgtype), PARLEY_ETOOBIG, PARLEY_ENOMEM. */
int rformat_line(const struct rformat_msg *m, rformat_name_fn name, void *arg, struct buf *out);

/* "8/4/23 7:10 PM" and "2023-08-04 19:10:58.901", UTC. */
#define RFORMAT_TIME_LEN 64
void rformat_time(int64_t ts_ms, char out[RFORMAT_TIME_LEN]);
void rformat_time_iso(int64_t ts_ms, char out[RFORMAT_TIME_LEN]);

/* The attachment's file name under the attachment directory:
 * "attachment_<YYYYMMDDhhmmssmmm>_<display name>" with every character
 * outside [A-Za-z0-9._-] of the display name replaced by '_', and a
 * leading '.' too, so that no name can leave the directory. */
int rformat_attachment_name(int64_t ts_ms, const char *display, struct buf *out);

#endif
