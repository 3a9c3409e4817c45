/* admin_openapi.h - the OpenAPI 3 description of the admin API, generated
 * from the route table so that it cannot drift from the code. The copy in
 * docs/api/openapi.json is checked against it by
 * tests/unit/server/admin_openapi_test.c (which rewrites it when
 * PARLEY_WRITE_OPENAPI=1). */
#ifndef PARLEY_SERVER_ADMIN_OPENAPI_H
#define PARLEY_SERVER_ADMIN_OPENAPI_H

#include <jansson.h>

/* A new JSON object: the whole OpenAPI document. */
json_t *admin_openapi_build(void);

#endif
