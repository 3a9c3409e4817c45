/* routes.c - every HTTP endpoint of parleyd, one row each.
 * Adding an endpoint: one row here, one handler, one test. */
#include "http.h"
#include "api_system.h"

const struct http_route http_routes[] = {
    {HTTP_GET, "/healthz", api_healthz, 0},
    {HTTP_GET, "/api/v1/version", api_version, 0},
};

const size_t http_routes_count = ARRAY_SIZE(http_routes);
