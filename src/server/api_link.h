/* api_link.h - the relay for linking a new device to an account
 * (docs/client-protocol.md, "Linking a device"): a session named by a
 * code-derived id, the new device's offer, the encrypted history in chunks
 * and the header that closes the transfer. Every call needs a device
 * token of the session's user. */
#ifndef PARLEY_SERVER_API_LINK_H
#define PARLEY_SERVER_API_LINK_H

#include "http.h"

void api_link_create(struct http_req *req);    /* POST   /links */
void api_link_get(struct http_req *req);       /* GET    /links/:link_id */
void api_link_offer(struct http_req *req);     /* PUT    /links/:link_id/offer */
void api_link_chunk_put(struct http_req *req); /* PUT    /links/:link_id/chunks/:index */
void api_link_chunk_get(struct http_req *req); /* GET    /links/:link_id/chunks/:index */
void api_link_done(struct http_req *req);      /* PUT    /links/:link_id/transfer */
void api_link_delete(struct http_req *req);    /* DELETE /links/:link_id */

#endif
