/* api_conv.h - conversations for clients (docs/client-protocol.md,
 * "Conversations"): create, list, get, change members, leave, delete.
 * Rights: direct conversations are immutable; in a group any member adds
 * and members remove only themselves; in a room moderators decide. Groups
 * and rooms hold at most CONV_MAX_MEMBERS. Each change is one group-commit
 * job, so rights are checked against the state the change applies to. */
#ifndef PARLEY_SERVER_API_CONV_H
#define PARLEY_SERVER_API_CONV_H

#include "http.h"
#include "proto/keys.h"

#define CONV_MAX_MEMBERS 500

struct store_conn;

void api_conv_create(struct http_req *req);
void api_conv_list(struct http_req *req);
void api_conv_get(struct http_req *req);
void api_conv_members(struct http_req *req);
void api_conv_leave(struct http_req *req);
void api_conv_delete(struct http_req *req);
/* PUT /conversations/:conv_id/settings: expiration and burn-on-read. */
void api_conv_settings(struct http_req *req);

/* The user rows of the members of conversation `conv_id` of network
 * `network_row`, when `user_row` is one of them (malloc'd into *users).
 * Returns 0, PARLEY_ENOTFOUND (no such conversation, or not a member), or a
 * store error. */
int api_conv_member_rows(struct store_conn *c, const uint8_t conv_id[KEYS_ID_LEN],
                         int64_t network_row, int64_t user_row, int64_t **users, size_t *n);

#endif
