/* fuzz_logo.c - the login-screen logo check on arbitrary bytes: whatever
 * it accepts has a known type and sides within bounds. */
#include "server/logo.h"

#include <stdlib.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    const char *type = NULL;
    unsigned w = 0, h = 0;
    char err[128];

    if (logo_check(data, size, &type, &w, &h, err, sizeof(err)) == 0 &&
        (!type || w < 1 || h < 1 || w > LOGO_MAX_SIDE || h > LOGO_MAX_SIDE))
        abort();
    return 0;
}
