/* ids.h - conversation identifiers, vgroupids and the login secret
 * (docs/client-protocol.md, "Identifiers" and "Login secret"). Shared by
 * the client, which derives them, and the server, which checks and shows
 * them. */
#ifndef PARLEY_PROTO_IDS_H
#define PARLEY_PROTO_IDS_H

#include "common/compat.h"
#include "keys.h"

#define IDS_CONV_LEN         KEYS_ID_LEN
#define IDS_VGROUPID_LEN     64
#define IDS_LOGIN_SECRET_LEN 32
/* base64 of 32 bytes with padding, plus NUL */
#define IDS_LOGIN_SECRET_B64 45

enum ids_conv_type {
    IDS_CONV_DIRECT = 0,
    IDS_CONV_GROUP = 1,
    IDS_CONV_ROOM = 2,
};

/* The type in a conversation id's top two bits; -1 for the unused value 3. */
int ids_conv_type(const uint8_t conv_id[IDS_CONV_LEN]);
const char *ids_conv_type_name(enum ids_conv_type t); /* "direct", "group", "room" */
/* Parse "direct", "group" or "room"; PARLEY_EINVAL otherwise. */
int ids_conv_type_parse(const char *name, enum ids_conv_type *out);

/* The direct conversation of users `a` and `b` of network `network_id`:
 * the same whichever order they are given in. */
int ids_conv_direct(const char *network_id, const uint8_t a[KEYS_ID_LEN],
                    const uint8_t b[KEYS_ID_LEN], uint8_t out[IDS_CONV_LEN]);
/* A new random group or room id. */
int ids_conv_new(enum ids_conv_type t, uint8_t out[IDS_CONV_LEN]);

/* The 64-character vgroupid of a conversation (plus NUL). */
int ids_vgroupid(const uint8_t conv_id[IDS_CONV_LEN], char out[IDS_VGROUPID_LEN + 1]);

/* The login secret sent instead of the password: Argon2id(password, salt
 * from network id and username), base64. About 170 ms and 64 MiB. */
int ids_login_secret(const char *network_id, const char *username, const char *password,
                     char out[IDS_LOGIN_SECRET_B64]);

/* The 16-byte salt for the password-encrypted identity backup of `user_id`. */
int ids_backup_salt(const uint8_t user_id[KEYS_ID_LEN], uint8_t out[16]);

#endif
