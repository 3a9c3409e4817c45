/* botreq.h - requests of the ZeroMQ bot API (docs/bots.md): parse one
 * command-channel frame into a checked request, and the replies' framing.
 *
 * A request is one JSON object with an "action" string; the table in
 * botreq.c names every action the npm packages send (wickrio_addon 7.1.x)
 * and the type of each field it may carry. botreq_parse() checks a frame
 * against that table, so the action handlers read fields they know are
 * present and well typed. It never trusts the frame: any byte string gives
 * either a request or an error text for the bot. */
#ifndef PARLEY_BOT_BOTREQ_H
#define PARLEY_BOT_BOTREQ_H

#include "common/compat.h"

#include <jansson.h>

/* Frames above this size are refused before parsing. Bots seal their
 * whole user list with one encrypt_string, so this is generous. */
#define BOTREQ_MAX_FRAME (16 * 1024 * 1024)

/* Reply codes before the first ':' of a reply; the packages treat "0" as
 * success and anything else as failure with the text as the reason. */
#define BOTREQ_OK          0
#define BOTREQ_BAD_REQUEST 400
#define BOTREQ_NOT_FOUND   404
#define BOTREQ_CONFLICT    409
#define BOTREQ_FAILED      500
#define BOTREQ_UNSUPPORTED 501
#define BOTREQ_UNAVAILABLE 503

enum botreq_kind {
    BR_STRING = 1, /* a JSON string */
    BR_INT,        /* an integer, or a string of decimal digits */
    BR_BOOL,       /* true/false, or the strings "true"/"false" */
    BR_OBJECT,
    BR_USERS,   /* [{"name": string}] */
    BR_STRINGS, /* [string] */
    BR_ANY,
};

struct botreq_field {
    const char *name;
    enum botreq_kind kind;
    bool required;
};

#define BOTREQ_MAX_FIELDS 12

struct botreq_action {
    const char *name;
    int id; /* the engine's handler index (enum botreq_id) */
    struct botreq_field fields[BOTREQ_MAX_FIELDS];
};

enum botreq_id {
    BA_PING = 1,
    BA_GET_STATE,
    BA_START_ASYNC,
    BA_SET_STREAMING,
    BA_POST_EVENT,
    BA_URLCALLBACK, /* set/get/delete, message and event callbacks */
    BA_GET_STATISTICS,
    BA_CLEAR_STATISTICS,
    BA_GET_ROOMS,
    BA_GET_ROOM,
    BA_ADD_ROOM,
    BA_MODIFY_ROOM,
    BA_LEAVE_ROOM,
    BA_DELETE_ROOM,
    BA_ADD_GROUPCONVO,
    BA_GET_GROUPCONVOS,
    BA_GET_GROUPCONVO,
    BA_DELETE_GROUPCONVO,
    BA_GET_RECEIVED,
    BA_SEND_MESSAGE,
    BA_SEND_NETWORK,
    BA_ENCRYPT_STRING,
    BA_DECRYPT_STRING,
    BA_ADD_KEYVALUE,
    BA_GET_KEYVALUE,
    BA_DELETE_KEYVALUE,
    BA_CLEARALL_KEYVALUES,
    BA_SET_CONTROL,
    BA_NETWORK_ROOMS,
    BA_GET_DIRECTORY,
    BA_GET_SECURITY_GROUPS,
    BA_MESSAGE_STATUS, /* the broadcast status database, every action */
    BA_DELETE_MESSAGE,
    BA_VERIFICATION,
    BA_GET_USER_INFO,
    BA_GET_SERVER_INFO,
    BA_SET_AVATAR,
    BA_GET_BOTS_LIST,
    BA_TRANSMIT_QUEUE,
};

/* A parsed request: the action's row and the whole document (owned). */
struct botreq {
    const struct botreq_action *action;
    json_t *doc;
};

/* The action table, for documentation checks and tests. */
extern const struct botreq_action botreq_actions[];
extern const size_t botreq_action_count;

/* Parse one frame. Returns 0 and fills *r (release with botreq_release),
 * or BOTREQ_BAD_REQUEST with a reason (for the bot) in err. */
int botreq_parse(const void *data, size_t len, struct botreq *r, char *err, size_t errlen);
void botreq_release(struct botreq *r);

/* Field accessors for a parsed request (absent fields give the default). */
const char *botreq_str(const struct botreq *r, const char *name, const char *dflt);
/* BR_INT fields: the value, or dflt when absent. */
int64_t botreq_int(const struct botreq *r, const char *name, int64_t dflt);
bool botreq_bool(const struct botreq *r, const char *name, bool dflt);
/* BR_USERS fields: the names in a NULL-terminated array (free() the array,
 * not the strings, which live as long as the request); *n gets the count.
 * An absent field gives an empty array. NULL only on allocation failure. */
const char **botreq_users(const struct botreq *r, const char *name, size_t *n);

/* The reply frame "<code>:<text>" as a malloc'd string. */
char *botreq_reply(int code, const char *text);

#endif
