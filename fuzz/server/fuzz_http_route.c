/* fuzz_http_route.c - request paths against the route table, including
 * ":name" parameter capture. The first byte picks the method. */
#include "server/http.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    struct http_req req;

    if (size < 1 || size - 1 >= sizeof(req.path))
        return 0;
    memset(&req, 0, sizeof(req));
    req.method = (enum http_method)(data[0] % (HTTP_OTHER + 1));
    memcpy(req.path, data + 1, size - 1);
    req.path[size - 1] = 0;
    if (http_route(&req) == 0) {
        for (int i = 0; i < HTTP_MAX_PARAMS && req.params[i]; i++)
            if (strlen(req.params[i]) >= sizeof(req.path))
                __builtin_trap();
    }
    return 0;
}
