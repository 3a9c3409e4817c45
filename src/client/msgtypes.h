/* msgtypes.h - the message payloads carried inside envelopes: one table of
 * message types (number, name, required fields) and the checks every
 * payload passes before it is sealed and after it is opened
 * (docs/client-protocol.md, "Message payloads"). */
#ifndef PARLEY_CLIENT_MSGTYPES_H
#define PARLEY_CLIENT_MSGTYPES_H

#include "common/compat.h"

#include <jansson.h>
#include <parley/parley.h>

#define MSGTYPE_MAX_PAYLOAD (1u << 20) /* a payload's JSON bytes */
#define MSGTYPE_MAX_TEXT    (64 * 1024)

enum msgtype_kind {
    MT_STRING = 1,
    MT_INT,
    MT_NUMBER,
    MT_BOOL,
    MT_OBJECT,
    MT_ARRAY,
};

struct msgtype_field {
    const char *path; /* "message", or "control.msgid" (one level of nesting) */
    enum msgtype_kind kind;
    bool required;
};

#define MSGTYPE_MAX_FIELDS 12

struct msgtype {
    int type;
    const char *name;
    struct msgtype_field fields[MSGTYPE_MAX_FIELDS]; /* ends at path == NULL */
};

enum {
    MSGTYPE_TEXT = 1000,
    MSGTYPE_VERIFICATION = 3000,
    MSGTYPE_ROOM_CREATE = 4001,
    MSGTYPE_ROOM_MEMBERS = 4002,
    MSGTYPE_ROOM_LEAVE = 4003,
    MSGTYPE_ROOM_PARAMS = 4004,
    MSGTYPE_ROOM_DELETE = 4005,
    MSGTYPE_DELETE = 4011,
    MSGTYPE_ATTRIBUTES = 4012,
    MSGTYPE_ATTRIBUTES_SYNC = 4013,
    MSGTYPE_PRIVATE_PROPERTY = 4014,
    MSGTYPE_FILE = 6000,
    MSGTYPE_CALL = 7000,
    MSGTYPE_LOCATION = 8000,
    MSGTYPE_EDIT = 9000,
};

extern const struct msgtype msgtype_table[];
extern const size_t msgtype_count;

/* The table row of `type`, or NULL. */
const struct msgtype *msgtype_find(int type);

/* Check a parsed payload: an object whose integer "msgtype" names a known
 * type and whose fields have the types the table gives. Returns 0 or
 * PARLEY_EPROTO with a reason in err. */
int msgtype_check(json_t *payload, char *err, size_t errlen);

/* Parse payload bytes (from an opened envelope: outside bytes), check them
 * and return the object (json_decref it) and its msgtype. */
int msgtype_decode(const uint8_t *p, size_t len, json_t **out, int *msgtype, char *err,
                   size_t errlen);

/* Serialise a payload after checking it: compact, keys sorted. free() *out. */
int msgtype_encode(json_t *payload, char **out, size_t *len);

#endif
