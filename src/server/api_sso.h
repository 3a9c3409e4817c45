/* api_sso.h - single sign-on of a network's users through its OpenID
 * Connect identity provider (api_sso.c, docs/protocol.md "Single
 * sign-on"). */
#ifndef PARLEY_SERVER_API_SSO_H
#define PARLEY_SERVER_API_SSO_H

#include "http.h"

struct server;

/* POST /api/v1/client/sso/start (no token). */
void api_sso_start(struct http_req *req);
/* GET /sso/:network_id/callback: the browser, back from the provider. */
void api_sso_callback(struct http_req *req);
/* POST /api/v1/client/sso/finish (no token). */
void api_sso_finish(struct http_req *req);

/* The redirect URI to register at the provider for `network_id`:
 * https://HOSTNAME[:PORT]/sso/NETWORK_ID/callback. */
void api_sso_redirect_uri(const struct server *srv, const char *network_id, char *out, size_t n);

/* Free the cached provider keys (at exit). */
void api_sso_shutdown(void);

#endif
