/* api.h - the HTTPS half of the client protocol (docs/client-protocol.md):
 * one libcurl request per call with the server certificate pinned, and the
 * parsers of the server's JSON answers. Finished requests leave their
 * handle to the next one, which reuses its open TLS connection and its
 * loaded trust store instead of paying for both again.
 *
 * The answers are outside bytes: every parser checks types, lengths and
 * encodings and never trusts a count (fuzz/client/fuzz_client_response.c). */
#ifndef PARLEY_CLIENT_API_H
#define PARLEY_CLIENT_API_H

#include "common/buf.h"
#include "proto/keys.h"

#include <curl/curl.h>
#include <jansson.h>

#define API_MAX_RESPONSE (8u << 20)
#define API_MAX_TOKEN    256
#define API_MAX_CLAIM    1000 /* devices in one pre-key claim */

#define API_IDLE_HANDLES 4

struct api_idle; /* handles of finished requests, for the next ones */

struct api {
    char base[512];     /* "https://host:port" */
    char ca_file[4096]; /* the pinned certificates, PEM; "": the system store */
    struct api_idle *idle;
};

/* Copy the service address and the pin file path (`a` zeroed or released
 * before). Returns 0, PARLEY_EINVAL or PARLEY_ENOMEM. The process must
 * have called api_global_init(). */
int api_init(struct api *a, const char *host, int port, const char *ca_file);
/* Close the idle connections. */
void api_release(struct api *a);
/* curl_global_init, once per process (thread-safe). */
int api_global_init(void);

/* One request. `token` (may be NULL) goes in "Authorization: Bearer";
 * `body` (may be NULL) is sent as JSON. On return *status holds the HTTP
 * status and *resp the parsed JSON answer (NULL if the body was empty).
 * Returns 0 whatever the status, PARLEY_EIO when no answer came (or the
 * certificate did not match the pin), PARLEY_EPROTO when the answer is not
 * JSON, PARLEY_ENOMEM. */
int api_request(const struct api *a, const char *method, const char *path, const char *token,
                json_t *body, long *status, json_t **resp);

/* The transport options every request shares: HTTPS only, the pinned
 * certificates as the only trust anchors, host name checked, no signals. */
void api_curl_pin(const struct api *a, CURL *cu);

/* Map an HTTP status and error answer to a PARLEY_E* code (0 for 2xx). */
int api_status_error(long status, json_t *resp);

/* Parse a whole answer body: JSON, no duplicate keys, at most
 * API_MAX_RESPONSE bytes. */
int api_parse(const char *p, size_t n, json_t **out);

/* Strict standard base64 (RFC 4648 §4, padded). free() *out. */
int api_b64_decode(const char *s, size_t max, uint8_t **out, size_t *len);
/* free() the result; NULL on ENOMEM. */
char *api_b64_encode(const uint8_t *p, size_t n);
/* A 32-hex id field into 16 bytes. */
int api_get_id(json_t *obj, const char *key, uint8_t out[KEYS_ID_LEN]);

/* POST /client/login */
struct api_login {
    char token[API_MAX_TOKEN];
    uint8_t user_id[KEYS_ID_LEN];
    char status[16];
    uint8_t *identity_key; /* NULL if the user has no identity yet */
    size_t identity_key_len;
    uint8_t *identity_backup;
    size_t identity_backup_len;
};
int api_login_parse(json_t *j, struct api_login *out);
void api_login_release(struct api_login *l);

/* GET /client/users... */
struct api_device {
    uint8_t device_id[KEYS_ID_LEN];
    uint8_t *cert;
    size_t cert_len;
};
struct api_user {
    uint8_t user_id[KEYS_ID_LEN];
    char username[256];
    char status[16];
    char network_id[129]; /* "" from a server that does not say */
    /* The user's security tags as "name (color)", comma-separated; "" for
     * none. Shown beside the username (docs/client-protocol.md). */
    char tags[512];
    uint8_t *identity_key; /* NULL when the user has none */
    size_t identity_key_len;
    struct api_device *devices;
    size_t n_devices;
};
#define API_MAX_DEVICES 64
int api_user_parse(json_t *j, struct api_user *out);
void api_user_release(struct api_user *u);

/* POST /client/prekeys/claim */
struct api_bundle {
    uint8_t device_id[KEYS_ID_LEN];
    uint8_t *bundle;
    size_t len;
};
int api_claim_parse(json_t *j, struct api_bundle **out, size_t *n);
void api_bundles_free(struct api_bundle *b, size_t n);

/* GET /client/conversations/:id */
struct api_member {
    uint8_t user_id[KEYS_ID_LEN];
    bool is_moderator;
};
#define API_MAX_MEMBERS 500
struct api_conv {
    uint8_t conv_id[KEYS_ID_LEN];
    char type[8];
    struct api_member *members;
    size_t n_members;
    uint32_t expiration, burn_on_read;
};
int api_conv_parse(json_t *j, struct api_conv *out);
void api_conv_release(struct api_conv *c);

#endif
