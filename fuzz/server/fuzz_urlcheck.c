/* fuzz_urlcheck.c - the administrator URL splitter on arbitrary bytes:
 * whatever it accepts has a non-empty host of allowed characters and a
 * port in range. */
#include "server/urlcheck.h"

#include <stdlib.h>
#include <string.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    char *url = malloc(size + 1), host[URLCHECK_HOSTMAX + 1], err[256];
    int port = 0;

    if (!url)
        return 0;
    memcpy(url, data, size);
    url[size] = 0;
    if (urlcheck_parse(url, host, sizeof(host), &port, err, sizeof(err)) == 0 &&
        (!host[0] || strlen(host) >= URLCHECK_HOSTMAX || port < 1 || port > 65535 ||
         strpbrk(host, "/@?# ")))
        abort();
    free(url);
    return 0;
}
