/* api_client.h - the client account and directory endpoints
 * (docs/client-protocol.md, "Accounts and sessions" and "Directory"):
 * login, identity, devices, bundles, logout, user lookup, pre-key claims.
 * Handlers run on the loop thread; writes go through the store's group
 * committer (store_write_sync), so each request's writes are one atomic
 * job. */
#ifndef PARLEY_SERVER_API_CLIENT_H
#define PARLEY_SERVER_API_CLIENT_H

#include "http.h"

/* Below this many one-time pre-keys a device is told to upload more. */
#define API_PREKEYS_LOW 20

void api_client_login(struct http_req *req);
void api_client_identity(struct http_req *req);
void api_client_device_add(struct http_req *req);
void api_client_bundle_put(struct http_req *req);
void api_client_device_delete(struct http_req *req);
void api_client_logout(struct http_req *req);
void api_client_user_by_name(struct http_req *req);
void api_client_user_by_id(struct http_req *req);
void api_client_retention(struct http_req *req);
void api_client_policy(struct http_req *req);
void api_client_prekeys_claim(struct http_req *req);

/* Policy values from a network's or security group's settings JSON text:
 * `key`'s integer (or boolean as 0/1), or `def` when absent or malformed. */
int64_t api_setting_int(const char *settings_json, const char *key, int64_t def);

struct store;
/* The identity of `user_row` as JSON values (base64 of the public key and
 * of the backup container), json_null() when it has none. */
int api_client_load_identity(struct store *st, int64_t user_row, json_t **key, json_t **backup);

#endif
