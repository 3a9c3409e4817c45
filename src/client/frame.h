/* frame.h - the WebSocket messages of the client protocol
 * (docs/client-protocol.md, "The WebSocket channel"): binary frames (0x01
 * send, 0x02 delivery) and the JSON control messages the server sends.
 * Pure parsing and building, no I/O (fuzz/client/fuzz_client_frame.c). */
#ifndef PARLEY_CLIENT_FRAME_H
#define PARLEY_CLIENT_FRAME_H

#include "common/buf.h"
#include "proto/keys.h"

#define FRAME_SEND     0x01
#define FRAME_DELIVERY 0x02
#define FRAME_MAX      (8u << 20) /* the largest frame the client accepts */
#define FRAME_MAX_TEXT (256 * 1024)
#define FRAME_MAX_DEVS 4096

/* A delivery: 0x02 || seq u64be || ts u64be (ms) || delivery bytes. */
struct frame_delivery {
    uint64_t seq;
    uint64_t ts_ms;
    const uint8_t *delivery; /* into the frame */
    size_t len;
};
int frame_delivery_parse(const uint8_t *p, size_t n, struct frame_delivery *out);

enum frame_ctl_type {
    FRAME_CTL_UNKNOWN = 0, /* ignored, for forward compatibility */
    FRAME_CTL_HELLO,
    FRAME_CTL_AUTH_OK,
    FRAME_CTL_ACK,
    FRAME_CTL_NACK,
    FRAME_CTL_PREKEYS_LOW,
    FRAME_CTL_ERROR,
    FRAME_CTL_PONG,
    FRAME_CTL_TYPING,
    FRAME_CTL_PRESENCE,
    FRAME_CTL_READ,
};

#define FRAME_MAX_READ 100 /* message ids in one read receipt */

/* A parsed server control message. */
struct frame_ctl {
    enum frame_ctl_type type;
    uint8_t msg_id[KEYS_ID_LEN];  /* ack, nack */
    uint8_t user_id[KEYS_ID_LEN]; /* auth_ok, typing, presence, read (the reader) */
    uint8_t device_id[KEYS_ID_LEN];
    int64_t ts_ms;                                 /* ack */
    int64_t remaining;                             /* prekeys_low */
    char code[32];                                 /* nack, error: the code ("" if none) */
    size_t n_missing, n_extra;                     /* nack devices_changed */
    uint8_t conv_id[KEYS_ID_LEN];                  /* typing, read */
    bool active;                                   /* typing */
    char status[16];                               /* presence: "available", "away", "busy" */
    int64_t idle_s;                                /* presence */
    uint8_t read_ids[FRAME_MAX_READ][KEYS_ID_LEN]; /* read: the messages read */
    size_t n_read;
};
/* Returns 0 (type FRAME_CTL_UNKNOWN for a type this client does not know),
 * or PARLEY_EPROTO for a message that is not a JSON object with a string
 * "type", or whose known type lacks a field. */
int frame_ctl_parse(const char *p, size_t n, struct frame_ctl *out);

/* {"type":"auth","token":...} and {"type":"ack","seq":[n]} */
int frame_auth(const char *token, struct buf *out);
int frame_ack(const uint64_t *seq, size_t n, struct buf *out);

#endif
