/* fuzz_http_route.c - request paths against the route table, including
 * ":name" parameter capture and the console's file paths. The first byte
 * picks the method. */
#include "server/http.h"
#include "server/console.h"

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
        /* A console path that passes never climbs out of console_dir. */
        if (req.route->fn == console_file && strncmp(req.path, "/admin/", 7) == 0 &&
            console_path_type(req.path + 7) &&
            (strstr(req.path, "/.") || strstr(req.path + 6, "//")))
            __builtin_trap();
    }
    return 0;
}
