/* api_docs.h - the admin API's reference, served offline by parleyd:
 * GET /api/docs (a page), /api/docs/docs.js (its renderer) and
 * /api/docs/openapi.json (generated from the route table on each request,
 * so it is always the running server's). No outside resources: the page
 * works on an isolated network and under the default-src 'self' policy. */
#ifndef PARLEY_SERVER_API_DOCS_H
#define PARLEY_SERVER_API_DOCS_H

#include "http.h"

void api_docs_page(struct http_req *req);
void api_docs_script(struct http_req *req);
void api_docs_openapi(struct http_req *req);

#endif
