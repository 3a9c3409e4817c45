/* msgutil.h - a minimal client for the messaging integration tests: HTTPS
 * with a bearer token, accounts and devices made with src/proto as a real
 * client would, envelopes sealed and opened with src/proto, and the
 * WebSocket channel spoken by hand (harness.h). Helpers assert with cmocka
 * on anything unexpected, so a test reads as the protocol's steps. */
#ifndef PARLEY_TESTS_MSGUTIL_H
#define PARLEY_TESTS_MSGUTIL_H

#include "harness.h"
#include "provision.h"

#include <jansson.h>

#include "common/buf.h"
#include "proto/envelope.h"
#include "proto/keys.h"

#define TC_NETWORK   "net-test"
#define TC_MAX_INBOX 256

struct tc_user {
    char network[32]; /* "" for TC_NETWORK */
    char name[32];
    char password[32];
    uint8_t user_id[KEYS_ID_LEN];
    char login_token[64];
    struct keys_identity id;
    bool has_id;
};

struct tc_delivery {
    int64_t seq, ts;
    uint8_t *data; /* the delivery (after the 17-byte frame head) */
    size_t len;
};

struct tc_device {
    struct tc_user *u;
    struct keys_device dev;
    char token[64];
    struct ws_conn ws;
    bool is_open;
    /* Messages read while waiting for something else. */
    json_t *texts[TC_MAX_INBOX];
    size_t n_texts;
    struct tc_delivery inbox[TC_MAX_INBOX];
    size_t n_inbox;
    int close_code; /* set when a close frame arrived */
};

/* One HTTPS request; token may be NULL. Returns the HTTP status; *out (if
 * not NULL) gets the parsed JSON body (or NULL). */
long tc_http(const struct parleyd *p, const char *method, const char *path, const char *token,
             const char *body, json_t **out);

/* Provision the user in TC_NETWORK (parleyd stopped). */
void tc_user_provision(struct parleyd *p, struct tc_user *u, const char *name);
/* The same in network `network` (created if missing). */
void tc_user_provision_in(struct parleyd *p, struct tc_user *u, const char *name,
                          const char *network);
/* Log in; returns the status and keeps the login token on 200. */
long tc_login(const struct parleyd *p, struct tc_user *u);
/* Generate and upload the identity (PUT identity). Returns the status. */
long tc_identity(const struct parleyd *p, struct tc_user *u);
/* Make a device with `n_prekeys` one-time pre-keys and a fallback and
 * register it. Returns the status; keeps the device token on success. */
long tc_device_add(const struct parleyd *p, struct tc_user *u, struct tc_device *d,
                   size_t n_prekeys);
/* login + identity + one device, asserting success. */
void tc_user_ready(const struct parleyd *p, struct tc_user *u, struct tc_device *d);
void tc_device_release(struct tc_device *d);
void tc_user_release(struct tc_user *u);

/* Open the channel and authenticate (asserts auth_ok). */
void tc_ws_auth(const struct parleyd *p, struct tc_device *d);
/* Read frames until a text message of `type` arrives (others are kept).
 * Returns it (json_decref), or NULL on timeout or close. */
json_t *tc_wait_json(struct tc_device *d, const char *type, int timeout_ms);
/* Pop the next delivery (reading if needed). Returns 0 or -1 on timeout. */
int tc_wait_delivery(struct tc_device *d, int timeout_ms, struct tc_delivery *out);
void tc_delivery_release(struct tc_delivery *x);
/* Send {"type":"ack","seq":[seq]}. */
void tc_ack(struct tc_device *d, int64_t seq);

/* Create the direct conversation with `peer`; fills conv_id. */
void tc_conv_direct(const struct parleyd *p, struct tc_device *d, const struct tc_user *peer,
                    uint8_t conv_id[KEYS_ID_LEN]);

/* Seal `text` from device `from` for the devices `to` (claiming one
 * pre-key each from the server) in `conv_id`. Appends to env. */
void tc_seal(const struct parleyd *p, struct tc_device *from, struct tc_device **to, size_t n,
             const uint8_t conv_id[KEYS_ID_LEN], const char *text, uint64_t expires_at,
             struct buf *env);
/* Send 0x01 || env over the channel. */
void tc_send_envelope(struct tc_device *d, const struct buf *env);
/* Open a delivery on device d; users lists everyone whose identity may
 * have sent it. Fills text (NUL-terminated) and msg_id. Returns
 * envelope_open's result. */
int tc_open(struct tc_device *d, const struct tc_delivery *x, struct tc_user **users, size_t n,
            char *text, size_t textlen, uint8_t msg_id[KEYS_ID_LEN]);

/* Lowercase hex of an id into a static buffer (one of four rotating). */
const char *tc_hex(const uint8_t id[KEYS_ID_LEN]);

#endif
