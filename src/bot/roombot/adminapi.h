/* adminapi.h - the few admin API reads of the room bot: HTTPS to parleyd
 * with the certificates of the client configuration file as the only
 * trust anchors, authenticated by a network API token. */
#ifndef PARLEY_ROOMBOT_ADMINAPI_H
#define PARLEY_ROOMBOT_ADMINAPI_H

#include "common/compat.h"

#include <jansson.h>

struct adminapi {
    char *base;   /* "https://host:port" */
    char *ca_pem; /* the pinned certificates, concatenated */
    char *auth;   /* "Authorization: Bearer <token>"; wiped on release */
};

/* Keeps copies of its arguments. Returns 0 or PARLEY_ENOMEM. */
int adminapi_init(struct adminapi *a, const char *base, const char *ca_pem, const char *token);
void adminapi_release(struct adminapi *a);

/* GET `path` (starting with "/"). Returns 0 and the JSON body in *out,
 * PARLEY_EAUTH (401/403: a wrong or revoked token, or missing
 * permissions), PARLEY_ENOTFOUND (404), PARLEY_EIO (transport, other
 * statuses) or PARLEY_EPROTO (not JSON). */
int adminapi_get(struct adminapi *a, const char *path, json_t **out);

#endif
