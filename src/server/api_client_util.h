/* api_client_util.h - what the client API handlers share: request bodies
 * checked against a field table, bearer authentication, id formatting.
 *
 * A request body is validated by a table of fields (name, kind, required,
 * limit) before a handler touches it, so every endpoint's input checks are
 * declared in one place, give messages that name the field, and can be
 * fuzzed without a server (fuzz/server/fuzz_client_body.c). */
#ifndef PARLEY_SERVER_API_CLIENT_UTIL_H
#define PARLEY_SERVER_API_CLIENT_UTIL_H

#include "auth_token.h"
#include "http.h"

enum api_kind {
    API_STR,  /* a JSON string of 1..max bytes (UTF-8 checked by jansson) */
    API_OSTR, /* a JSON string of 0..max bytes */
    API_B64,  /* standard base64 of 1..max bytes */
    API_ID,   /* 32 lowercase hex characters: a 16-byte id */
    API_IDS,  /* an array of at most max ids, no duplicates */
    API_INT,  /* an integer in 0..max */
    API_BOOL, /* true or false */
};

struct api_field {
    const char *name;
    enum api_kind kind;
    bool required;
    size_t max;
};

#define API_MAX_FIELDS 8

struct api_value {
    bool present;
    const char *s; /* API_STR/API_OSTR: points into the parsed JSON */
    size_t slen;
    uint8_t *bin; /* API_B64 (malloc'd) */
    size_t binlen;
    uint8_t id[KEYS_ID_LEN];     /* API_ID */
    uint8_t (*ids)[KEYS_ID_LEN]; /* API_IDS (malloc'd) */
    size_t n_ids;
    int64_t i;
    bool b;
};

struct api_body {
    json_t *root;
    struct api_value v[API_MAX_FIELDS];
    size_t n;
};

/* Parse `len` bytes as a JSON object and check it against `fields` (at most
 * API_MAX_FIELDS); unknown members are ignored. Returns 0, or PARLEY_EINVAL
 * with a message naming the field in `err`. Release `out` either way. */
int api_body_parse(const void *data, size_t len, const struct api_field *fields, size_t n,
                   struct api_body *out, char *err, size_t errlen);
void api_body_release(struct api_body *b);

/* The field tables of the client API, for the handlers and the fuzzer. */
enum api_body_kind {
    API_BODY_LOGIN,
    API_BODY_IDENTITY,
    API_BODY_DEVICE,
    API_BODY_BUNDLE,
    API_BODY_CLAIM,
    API_BODY_CONV_CREATE,
    API_BODY_MEMBERS,
    API_BODY_LINK_CREATE,
    API_BODY_LINK_OFFER,
    API_BODY_LINK_CHUNK,
    API_BODY_LINK_DONE,
    API_BODY_CONV_SETTINGS,
    API_BODY_FILE_CREATE,
    API_BODY_SSO_START,
    API_BODY_SSO_FINISH,
    API_BODY_COUNT
};
extern const struct api_field *const api_body_fields[API_BODY_COUNT];
extern const size_t api_body_nfields[API_BODY_COUNT];

/* Parse the request body with table `kind`; on failure reply 400 naming the
 * field, release `out` and return -1. */
int api_body_get(struct http_req *req, enum api_body_kind kind, struct api_body *out);

enum api_auth_need {
    API_AUTH_ANY,    /* a login token or a device token */
    API_AUTH_DEVICE, /* a device token */
};

/* Check "Authorization: Bearer <token>". Returns 0 and fills *a, or replies
 * 401/403 and returns -1. */
int api_auth(struct http_req *req, enum api_auth_need need, struct client_auth *a);

/* Lowercase hex of a 16-byte id, as a new JSON string. */
json_t *api_json_id(const uint8_t id[KEYS_ID_LEN]);
/* Standard base64 as a new JSON string. */
json_t *api_json_b64(const uint8_t *p, size_t n);

/* Reply 500 for a store failure (logged, never shown in detail). */
void api_reply_store_error(struct http_req *req, int rc);

#endif
