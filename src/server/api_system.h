/* api_system.h - endpoints about the server itself (health, version). */
#ifndef PARLEY_SERVER_API_SYSTEM_H
#define PARLEY_SERVER_API_SYSTEM_H

#include "http.h"

/* GET /healthz: 200 {"status":"ok",...} when the database answers, else
 * 503 {"status":"unavailable"}. Anonymous; says nothing secret. */
void api_healthz(struct http_req *req);
/* GET /api/v1/version: the server and protocol versions. */
void api_version(struct http_req *req);

#endif
